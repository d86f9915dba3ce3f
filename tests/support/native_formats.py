"""Tiny dataset files in the native on-disk formats the torchvision / tonic classes read.

Each writer puts its files where ``<data_root>/<name>/`` holds them after
``python -m ablations.data download dataset=NAME``, and returns what it wrote (arrays, labels) so
tests can compare what the loaders give back.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


# --- torchvision ---------------------------------------------------------------------------------

def write_mnist(data_root: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    """MNIST idx files (big-endian header, uint8 payload), uncompressed as torchvision keeps them."""
    rng = np.random.default_rng(seed)
    raw = Path(data_root) / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x0803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, n) + labels.tobytes())
        out[prefix] = (images, labels)
    return out


def write_cifar10(data_root: Path, per_batch: int = 2, n_test: int = 3, seed: int = 0) -> dict:
    """CIFAR-10 python pickles: five training batches, a test batch and ``batches.meta``."""
    rng = np.random.default_rng(seed)
    folder = Path(data_root) / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    out = {"train": [], "test": None}

    def batch(name: str, n: int, offset: int):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)  # rows: R plane, G plane, B plane
        labels = [int((offset + i) % 10) for i in range(n)]
        entry = {"batch_label": name.encode(), "labels": labels, "data": data,
                 "filenames": [f"img_{offset + i}.png".encode() for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
        return data, labels

    for index in range(1, 6):
        out["train"].append(batch(f"data_batch_{index}", per_batch, per_batch * (index - 1)))
    out["test"] = batch("test_batch", n_test, 7)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return out


def write_svhn(data_root: Path, n_train: int = 5, n_test: int = 3, seed: int = 0) -> dict:
    """SVHN MATLAB files: ``X`` uint8 [32, 32, 3, N], ``y`` [N, 1] with the digit 0 stored as 10."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder = Path(data_root) / "svhn"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        labels = np.array([[10 if i % 10 == 0 else i % 10] for i in range(n)], dtype=np.uint8)
        savemat(str(folder / f"{split}_32x32.mat"), {"X": images, "y": labels})
        out[split] = (images, labels[:, 0])
    return out


# --- tonic ---------------------------------------------------------------------------------------

def nmnist_bytes(events: list[tuple[int, int, int, int]]) -> bytes:
    """N-MNIST binary: 5 bytes per event (x, y, p << 7 | t[22:16], t[15:8], t[7:0]); t in us."""
    out = bytearray()
    for x, y, t, p in events:
        out += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


def write_nmnist(data_root: Path, samples: dict[str, list[tuple[int, list]]]) -> None:
    """``samples[split] = [(digit, [(x, y, t_us, p), ...]), ...]`` as ``NMNIST/<Train|Test>/<digit>/<n>.bin``."""
    for split, items in samples.items():
        for number, (digit, events) in enumerate(items):
            folder = Path(data_root) / "nmnist" / "NMNIST" / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{number:05d}.bin").write_bytes(nmnist_bytes(events))


def write_dvs_gesture(data_root: Path, samples: dict[str, list[tuple[str, int, np.ndarray]]]) -> None:
    """``samples[split] = [(user_lighting, label, events [N, 4] int64 columns x, y, p, t_ms), ...]``
    as tonic's preprocessed release: ``DVSGesture/ibmGesture<Train|Test>/<user_lighting>/<label>.npy``."""
    for split, items in samples.items():
        for folder_name, label, events in items:
            folder = Path(data_root) / "dvs_gesture" / "DVSGesture" / f"ibmGesture{split}" / folder_name
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{label}.npy", np.asarray(events, dtype=np.int64))


def _write_spike_hdf5(folder: Path, prefix: str, samples: dict, keys: list[str]) -> None:
    """SHD's and SSC's HDF5 layout: variable-length ``spikes/times`` and ``spikes/units``,
    ``labels``, ``extra/keys``, ``extra/speaker``; one ``<prefix>_<split>.h5`` per split."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    for split, items in samples.items():
        with h5py.File(folder / f"{prefix}_{split}.h5", "w") as file:
            times = file.create_dataset("spikes/times", (len(items),), dtype=h5py.vlen_dtype(np.float32))
            units = file.create_dataset("spikes/units", (len(items),), dtype=h5py.vlen_dtype(np.uint16))
            for index, (_, t, u) in enumerate(items):
                times[index] = np.asarray(t, dtype=np.float32)
                units[index] = np.asarray(u, dtype=np.uint16)
            file.create_dataset("labels", data=np.array([label for label, _, _ in items], dtype=np.uint16))
            file.create_dataset("extra/keys", data=np.array([key.encode() for key in keys]))
            file.create_dataset("extra/speaker", data=np.zeros(len(items), dtype=np.uint16))


def write_shd(data_root: Path, samples: dict[str, list[tuple[int, np.ndarray, np.ndarray]]]) -> None:
    """``samples[split] = [(label, times_s, units), ...]`` as the SHD HDF5 layout."""
    _write_spike_hdf5(Path(data_root) / "shd" / "SHD", "shd", samples, [f"digit-{i}" for i in range(20)])


def write_ssc(data_root: Path, samples: dict[str, list[tuple[int, list, list]]]) -> None:
    """``samples[split] = [(label, times_s, units), ...]`` in SSC's HDF5 layout (SHD's, 35 words)."""
    _write_spike_hdf5(Path(data_root) / "ssc" / "SSC", "ssc", samples, [f"word-{i}" for i in range(35)])
