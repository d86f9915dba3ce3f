"""The real data subsets of ``../shared/realdata`` (relative to the project root) through the
package's own loaders: N-MNIST ``.bin`` recordings, MNIST idx files, CIFAR-10 python batches.

Counts, label sets, one sample's shape and value range, event frames against a direct count of the
events in the ``.bin`` file, a read-only data root, ``data info``; and (slow) a short CPU training of
seed 001's N-MNIST and MNIST networks that must beat chance by a clear margin. The numbers below
are the subsets' own (``shared/realdata/README.md``). Skipped, with a message, where the folder is
absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ablations import data
from ablations.config import compose
from ablations.data.__main__ import info_rows
from ablations.errors import UserError
from ablations.run import run

from test_data_readonly import make_read_only, make_writable, snapshot

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"

pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"no real data subsets at {REALDATA} "
                                "(../shared/realdata from the project root); the real-data tests need them")

# per digit 0..9 (shared/realdata/README.md)
NMNIST_TRAIN = [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]
NMNIST_TEST = [8, 14, 8, 11, 14, 7, 10, 15, 2, 11]
MNIST_TRAIN = [773, 905, 834, 803, 788, 723, 756, 813, 787, 818]
MNIST_TEST = [207, 230, 198, 207, 194, 169, 202, 215, 187, 191]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def link_root(root: Path) -> Path:
    """A data root whose dataset folders are links into the shared, read-only real data."""
    (root / "nmnist").mkdir(parents=True)
    os.symlink(REALDATA / "nmnist" / "NMNIST", root / "nmnist" / "NMNIST")
    os.symlink(REALDATA / "mnist", root / "mnist")
    os.symlink(REALDATA / "cifar10", root / "cifar10")
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return link_root(tmp_path_factory.mktemp("realdata"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def build(name: str, root: Path, *overrides: str):
    cfg = compose([f"dataset={name}", f"paths.data={root}", *overrides])
    return data.build_dataset(cfg.dataset, cfg.paths.data)


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Events ``[n, 4]`` (x, y, p, t in us) of an N-MNIST file, read by the format's definition
    (Orchard et al. 2015): 5 bytes per event, x, y, polarity bit + 23-bit timestamp; y = 240 marks
    a timestamp overflow (add 2^13 us to every later event)."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
    x, y, p = raw[:, 0], raw[:, 1], raw[:, 2] >> 7
    t = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    t = t + (2 ** 13) * np.cumsum(y == 240)
    keep = y != 240
    return np.stack([x[keep], y[keep], p[keep], t[keep]], axis=1)


def test_nmnist_counts_labels_and_one_sample(data_root, cache):
    bundle = build("nmnist", data_root, f"paths.cache={cache}")
    assert (len(bundle.train), len(bundle.test)) == (1000, 100)
    assert np.bincount(bundle.train.events.targets, minlength=10).tolist() == NMNIST_TRAIN
    assert np.bincount(bundle.test.events.targets, minlength=10).tolist() == NMNIST_TEST
    frames, label = bundle.test[0]
    assert frames.shape == (100, 2, 34, 34) and bundle.steps == 100  # 3 ms frames over 300 ms
    assert frames.min() == 0 and frames.sum() > 1000 and bool((frames == frames.round()).all())  # event counts
    assert 0 <= label <= 9


def test_nmnist_frames_hold_exactly_the_events_of_the_first_300_ms(data_root, cache):
    bundle = build("nmnist", data_root, f"paths.cache={cache}")
    files = bundle.test.events.data
    picks = [0, 57, 99] + [i for i, f in enumerate(files) if f.endswith(os.path.join("0", "00004.bin"))]
    for index in picks:
        events = read_nmnist_bin(files[index])
        if files[index].endswith("00004.bin"):
            assert len(events) == 5293  # Test/0/00004.bin (README)
        x, y, p, t = events.T
        k = (t - t.min()) // 3000  # 3 ms windows from the first event
        expected = np.zeros((100, 2, 34, 34))
        inside = k < 100
        np.add.at(expected, (k[inside], p[inside], y[inside], x[inside]), 1)
        frames, label = bundle.test[index]
        assert label == int(Path(files[index]).parent.name)
        np.testing.assert_array_equal(frames.numpy(), expected)  # [t, polarity, y, x]
        assert frames.sum() == inside.sum() and inside.sum() > 0.9 * len(events)


def test_mnist_counts_labels_and_one_sample(data_root):
    bundle = build("mnist", data_root)
    assert (len(bundle.train), len(bundle.test)) == (8000, 2000)
    assert np.bincount(bundle.train.targets.numpy(), minlength=10).tolist() == MNIST_TRAIN
    assert np.bincount(bundle.test.targets.numpy(), minlength=10).tolist() == MNIST_TEST
    image, label = bundle.train[0]
    assert image.shape == (1, 28, 28) and 0 <= label <= 9
    assert image.min() == 0.0 and image.max() == 1.0  # unit-normalised grey levels, a white stroke present


def test_cifar10_subset_needs_verify_false_and_then_reads(data_root):
    with pytest.raises(UserError, match="dataset.verify=false"):
        build("cifar10", data_root)
    with pytest.warns(UserWarning, match="without checksum test"):
        bundle = build("cifar10", data_root, "dataset.verify=false")
    assert (len(bundle.train), len(bundle.test)) == (5000, 2000)
    assert bundle.train.classes == CIFAR10_CLASSES
    assert np.bincount(bundle.train.targets, minlength=10).tolist() == [500] * 10
    assert np.bincount(bundle.test.targets, minlength=10).tolist() == [200] * 10
    image, label = bundle.test[0]
    assert label == CIFAR10_CLASSES.index("frog")  # test image 0 (README)
    assert image.shape == (3, 32, 32)
    assert abs(float(image.mean())) < 1e-5 and float(image.abs().max()) == pytest.approx(1.0)  # seed 003: [-1, 1]


def test_info_reports_the_real_subsets(data_root):
    rows = {row["dataset"]: row for row in info_rows(data_root)}
    assert rows["nmnist"]["status"] == "present (train 1000, test 100)"
    assert rows["mnist"]["status"] == "present (train 8000, test 2000)"
    assert rows["cifar10"]["status"] == "present, unverified (train 5000, test 2000)"
    assert all(rows[name]["size"].endswith("MB") for name in ("nmnist", "mnist", "cifar10"))


def test_read_only_data_root_of_links_stays_untouched(tmp_path, monkeypatch):
    root = link_root(tmp_path / "data")
    make_read_only(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    try:
        before = snapshot(root)  # follows the links: the real files too
        bundle = build("nmnist", root)
        for index in range(0, 100, 25):
            bundle.test[index]
        assert snapshot(root) == before
        assert len(list((tmp_path / "user-cache").rglob("*.i32"))) == 4
    finally:
        make_writable(root)


def train(tmp_path: Path, data_root: Path, *overrides: str) -> float:
    run_dir = run([*overrides, "device=cpu", "train.epochs=1", "progress=false", "eval.suites=[]",
                   f"paths.data={data_root}", f"paths.runs={tmp_path / 'runs'}", f"paths.cache={tmp_path / 'cache'}"])
    return float(json.loads((run_dir / "status.json").read_text())["final"]["accuracy"])


@pytest.mark.slow
def test_seed001_nmnist_net_learns_on_real_recordings(tmp_path, data_root):
    # seed 001's network 2312-512-10 (Table 4; the dataset's default layers) with the default readout
    # U_L[T]/T, on 10 ms frames (T = 30), 512 of the 1000 training samples: about 30 s on 2 CPU cores
    accuracy = train(tmp_path, data_root, "dataset=nmnist", "dataset.frame.time_window_ms=10", "train.max_batches=8")
    print(f"N-MNIST real subset, 1 short epoch: test accuracy {accuracy:.3f} (100 samples, chance 0.1)")
    assert accuracy >= 0.3


@pytest.mark.slow
def test_seed001_mnist_net_learns_on_real_images(tmp_path, data_root):
    # seed 001's network 784-512-10 (Table 4) with the default readout, T = 10, 1920 of the 8000
    # training images, tested on all 2000: about 35 s on 2 CPU cores
    accuracy = train(tmp_path, data_root, "dataset=mnist", "dataset.steps=10", "train.max_batches=30")
    print(f"MNIST real subset, 1 short epoch: test accuracy {accuracy:.3f} (2000 samples, chance 0.1)")
    assert accuracy >= 0.6
