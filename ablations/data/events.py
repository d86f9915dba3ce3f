"""Event datasets through tonic: ``nmnist``, ``dvs_gesture``, ``shd``, ``ssc``.

The files live in ``<paths.data>/<name>/`` in the layout the tonic class reads
(``nmnist/NMNIST/{Train,Test}/<digit>/*.bin``, ``dvs_gesture/DVSGesture/ibmGesture{Train,Test}/
userNN_<lighting>/<label>.npy``, ``shd/SHD/shd_{train,test}.h5``, ``ssc/SSC/ssc_{train,test}.h5``). The loaders use the tonic
classes with two methods replaced: ``_check_exists`` (tonic's test also wants the downloaded
archive next to the extracted files and at least 10000 / 100 files; we check the extracted files
ourselves in :func:`ablations.data.files.require` and let the archive be deleted) and
``download`` (a run never downloads; ``python -m ablations.data download dataset=NAME`` does,
through the unmodified tonic class). Reading and parsing are tonic's own.

Events become frames in :mod:`ablations.data.frames` (``tonic.transforms.ToFrame``, disk cache,
fixed T). Per dataset:

* ``nmnist``: sensor 34x34, 2 polarities -> frames ``[T, 2, 34, 34]`` (2312 inputs per step).
* ``dvs_gesture``: sensor 128x128x2, downsampled by ``downsample: 4`` with
  ``tonic.transforms.Downsample(spatial_factor=1/4)``: every event keeps its time and polarity
  and moves to pixel ``(floor(x/4), floor(y/4))``, so a 32x32 frame pixel counts the events of a
  4x4 block of sensor pixels (sum pooling of event counts; no event is dropped) ->
  ``[T, 2, 32, 32]`` (2048 inputs, seed 001 Table 4: 32768 -> 2048).
* ``shd``: 700 input channels (cochlea model units), one polarity -> ``[T, 700]``; 20 classes.
* ``ssc`` (Spiking Speech Commands, ``tonic.datasets.SSC``): the same 700-channel cochlea model and
  HDF5 layout as SHD -> ``[T, 700]``; 35 classes (seed 001 Table 4 net 700-200-35). The ``train``
  and ``test`` splits are read; SSC's ``valid`` split is not used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tonic

from .bundle import DataBundle
from .files import require
from .frames import event_bundle, fingerprint_names
from ..errors import UserError

__all__ = ["NMNIST", "DVSGesture", "SHD", "SSC", "nmnist", "dvs_gesture", "shd", "ssc", "fetch_nmnist",
           "fetch_dvs_gesture", "fetch_shd", "fetch_ssc"]


class _FilesOnDisk:
    """Mixin for a tonic dataset class: read what is on disk, never download."""

    def _check_exists(self) -> bool:
        return True  # the extracted files were checked by ablations.data.files.require

    def download(self) -> None:
        raise UserError(f"{type(self).__name__}: files missing under {self.location_on_system}; "
                        "fetch them with `python -m ablations.data download dataset=NAME`")


# The subclasses keep tonic's class names: tonic stores files under <save_to>/<class name>/.

class NMNIST(_FilesOnDisk, tonic.datasets.NMNIST):
    """tonic's N-MNIST reader (binary ``.bin`` event files, 5 bytes per event)."""


class DVSGesture(_FilesOnDisk, tonic.datasets.DVSGesture):
    """tonic's DVS128 Gesture reader (preprocessed ``.npy`` files: x, y, p, t in ms), samples sorted by path."""

    def __init__(self, save_to: str, train: bool = True):
        super().__init__(save_to, train=train)
        order = sorted(range(len(self.data)), key=lambda i: self.data[i])  # os.walk order is not fixed
        self.data = [self.data[i] for i in order]
        self.targets = [self.targets[i] for i in order]
        self.users = [self.users[i] for i in order]
        self.lighting = [self.lighting[i] for i in order]


class SHD(_FilesOnDisk, tonic.datasets.SHD):
    """tonic's Spiking Heidelberg Digits reader (HDF5: spikes/times in s, spikes/units, labels)."""


class SSC(_FilesOnDisk, tonic.datasets.SSC):
    """tonic's Spiking Speech Commands reader (HDF5 as SHD: spikes/times in s, spikes/units, labels)."""


def _file_fingerprint(path: Path, n_samples: int) -> str:
    stat = path.stat()
    return f"{n_samples}:{path.name}:{stat.st_size}"


def nmnist(cfg: Any, data_root: Path) -> DataBundle:
    root = require("nmnist", data_root)
    train, test = NMNIST(str(root), train=True), NMNIST(str(root), train=False)
    fingerprint = f"{fingerprint_names(train.data, root)}/{fingerprint_names(test.data, root)}"
    return event_bundle("nmnist", cfg, data_root, train, test, NMNIST.sensor_size, 10, fingerprint,
                        nominal_duration_ms=300.0)


def dvs_gesture(cfg: Any, data_root: Path) -> DataBundle:
    root = require("dvs_gesture", data_root)
    factor = int(cfg.get("downsample", 4))
    width, height, polarities = DVSGesture.sensor_size
    if factor < 1 or width % factor or height % factor:
        raise UserError(f"dataset.downsample={factor} must be a positive divisor of the sensor size {width}x{height}")
    train, test = DVSGesture(str(root), train=True), DVSGesture(str(root), train=False)
    fingerprint = f"{fingerprint_names(train.data, root)}/{fingerprint_names(test.data, root)}"
    return event_bundle("dvs_gesture", cfg, data_root, train, test, (width // factor, height // factor, polarities),
                        11, fingerprint, spatial_factor=1.0 / factor, nominal_duration_ms=6000.0,
                        meta={"downsample": factor})


def shd(cfg: Any, data_root: Path) -> DataBundle:
    root = require("shd", data_root)
    train, test = SHD(str(root), train=True), SHD(str(root), train=False)
    location = Path(train.location_on_system)
    fingerprint = (f"{_file_fingerprint(location / train.data_filename, len(train))}/"
                   f"{_file_fingerprint(location / test.data_filename, len(test))}")
    return event_bundle("shd", cfg, data_root, train, test, SHD.sensor_size, 20, fingerprint,
                        nominal_duration_ms=1000.0)


def ssc(cfg: Any, data_root: Path) -> DataBundle:
    root = require("ssc", data_root)
    train, test = SSC(str(root), split="train"), SSC(str(root), split="test")
    location = Path(train.location_on_system)
    fingerprint = (f"{_file_fingerprint(location / train.data_filename, len(train))}/"
                   f"{_file_fingerprint(location / test.data_filename, len(test))}")
    return event_bundle("ssc", cfg, data_root, train, test, SSC.sensor_size, 35, fingerprint,
                        nominal_duration_ms=1000.0)


# Downloads: the unmodified tonic classes (download, md5 check, extraction), both splits.

def fetch_nmnist(target: Path) -> None:
    for train in (True, False):
        tonic.datasets.NMNIST(str(target), train=train)


def fetch_dvs_gesture(target: Path) -> None:
    for train in (True, False):
        tonic.datasets.DVSGesture(str(target), train=train)


def fetch_shd(target: Path) -> None:
    for train in (True, False):
        tonic.datasets.SHD(str(target), train=train)


def fetch_ssc(target: Path) -> None:
    for split in ("train", "test"):
        tonic.datasets.SSC(str(target), split=split)
