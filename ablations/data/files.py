"""Where each dataset lives on disk, whether its files are there, and how to fetch them.

Every downloadable dataset ``NAME`` lives in ``<paths.data>/NAME/`` (``datasets/NAME/`` by
default) in exactly the layout its torchvision or tonic class reads; :data:`REMOTES` lists the
files (glob patterns, each must match at least one file) that a loader needs. A loader calls
:func:`require` before it does anything else, so a run on a dataset whose files are missing
stops at once with the folder, the expected files and the command that fetches them::

    python -m ablations.data download dataset=NAME

Generated and embedded datasets (:data:`GENERATED`) need no download; ``digits_events`` keeps
its generated events under ``<paths.data>/digits_events/``.

A data root may be shared and read-only: a run only reads below it. Whether a dataset folder may
be written (the frame cache of :mod:`ablations.data.frames` goes there only then) is
:func:`writable`: the operating system must allow it and, because root passes every permission
test, the folder's permission bits must grant write access too, so ``chmod -R a-w`` marks a
folder read-only for every user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..registry import resolve_target

__all__ = ["Remote", "REMOTES", "GENERATED", "folder", "missing", "require", "disk_size", "fetch",
           "download_command", "writable"]


@dataclass(frozen=True)
class Remote:
    """A dataset fetched from the internet by its torchvision or tonic class."""

    name: str
    files: tuple[str, ...]  # glob patterns relative to <data root>/<name>/; each must match
    fetch: str              # "module:function" taking the dataset folder; downloads into it
    origin: str             # where the files come from
    library: str            # the class that downloads and reads them


REMOTES: dict[str, Remote] = {
    "mnist": Remote(
        "mnist",
        ("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte",
         "MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"),
        "ablations.data.vision:fetch_mnist", "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "torchvision.datasets.MNIST"),
    "cifar10": Remote(
        "cifar10",
        tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))
        + ("cifar-10-batches-py/test_batch", "cifar-10-batches-py/batches.meta"),
        "ablations.data.vision:fetch_cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "torchvision.datasets.CIFAR10"),
    "svhn": Remote(
        "svhn", ("train_32x32.mat", "test_32x32.mat"),
        "ablations.data.vision:fetch_svhn", "http://ufldl.stanford.edu/housenumbers/",
        "torchvision.datasets.SVHN"),
    "nmnist": Remote(
        "nmnist", ("NMNIST/Train/*/*.bin", "NMNIST/Test/*/*.bin"),
        "ablations.data.events:fetch_nmnist", "https://data.mendeley.com/datasets/468j46mzdv",
        "tonic.datasets.NMNIST"),
    "dvs_gesture": Remote(
        "dvs_gesture", ("DVSGesture/ibmGestureTrain/*/*.npy", "DVSGesture/ibmGestureTest/*/*.npy"),
        "ablations.data.events:fetch_dvs_gesture", "https://figshare.com/ndownloader/files/38022171 (+38020584)",
        "tonic.datasets.DVSGesture"),
    "shd": Remote(
        "shd", ("SHD/shd_train.h5", "SHD/shd_test.h5"),
        "ablations.data.events:fetch_shd", "https://zenkelab.org/datasets/",
        "tonic.datasets.SHD"),
    "ssc": Remote(
        "ssc", ("SSC/ssc_train.h5", "SSC/ssc_test.h5"),
        "ablations.data.events:fetch_ssc", "https://zenkelab.org/datasets/",
        "tonic.datasets.SSC"),
}

GENERATED: dict[str, str] = {
    "digits": "embedded in scikit-learn, no download",
    "delayed_xor": "generated in memory, no download",
    "delayed_xor_dhsnn": "generated in memory, no download",
    "digits_events": "generated from `digits` by simulated saccades on first use, no download",
}


def folder(name: str, data_root: str | Path) -> Path:
    return Path(data_root) / name


def _matches(base: Path, pattern: str) -> bool:
    if not any(ch in pattern for ch in "*?["):
        return (base / pattern).is_file()
    return next(iter(base.glob(pattern)), None) is not None


def missing(name: str, data_root: str | Path) -> list[str]:
    """The patterns of ``REMOTES[name].files`` with no file under ``<data_root>/<name>/``."""
    base = folder(name, data_root)
    return [pattern for pattern in REMOTES[name].files if not _matches(base, pattern)]


def download_command(name: str, data_root: str | Path) -> str:
    command = f"python -m ablations.data download dataset={name}"
    if Path(data_root) != Path("datasets"):
        command += f" paths.data={data_root}"
    return command


def require(name: str, data_root: str | Path) -> Path:
    """The dataset folder, or :class:`UserError` naming the folder, the files and the fetch command."""
    absent = missing(name, data_root)
    base = folder(name, data_root)
    if absent:
        remote = REMOTES[name]
        expected = "\n".join(f"    {base / pattern}" for pattern in remote.files)
        lacking = "all of them" if len(absent) == len(remote.files) else ", ".join(absent)
        raise UserError(
            f"dataset {name!r}: files missing in {base}/ ({lacking}).\n"
            f"  expected (the layout {remote.library} reads):\n{expected}\n"
            f"  fetch them with:  {download_command(name, data_root)}\n"
            f"  or set paths.data=DIR to a folder that holds {name}/"
        )
    return base


def disk_size(path: str | Path) -> int:
    """Bytes under ``path`` (0 when it does not exist), following symbolic links: a dataset folder
    whose files are links into shared storage counts the files it links to, each file once."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path, followlinks=True):
        try:
            stat = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in seen_dirs:  # a link cycle, or the same folder linked twice
            dirs[:] = []
            continue
        seen_dirs.add((stat.st_dev, stat.st_ino))
        for file in files:
            try:
                stat = os.stat(os.path.join(root, file))
            except OSError:  # a dangling link
                continue
            if (stat.st_dev, stat.st_ino) not in seen_files:
                seen_files.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def writable(path: str | Path) -> bool:
    """Whether the existing folder ``path`` may be written: the operating system allows it (not
    a read-only mount, not another user's folder) and its permission bits grant write access
    (root passes every permission test, so for root the bits are what marks a folder read-only)."""
    path = Path(path)
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return False
    return bool(path.stat().st_mode & 0o222)


def fetch(name: str, data_root: str | Path) -> Path:
    """Download ``name`` into ``<data_root>/<name>/`` through its torchvision / tonic class."""
    if name not in REMOTES:
        raise UserError(f"dataset {name!r} has nothing to download ({GENERATED.get(name, 'unknown dataset')}); "
                        f"downloadable datasets: {', '.join(sorted(REMOTES))}")
    base = folder(name, data_root)
    base.mkdir(parents=True, exist_ok=True)
    resolve_target(REMOTES[name].fetch)(base)
    absent = missing(name, data_root)
    if absent:
        raise UserError(f"download of {name!r} finished but {base}/ still lacks {', '.join(absent)}; "
                        "delete the folder and run the command again")
    return base
