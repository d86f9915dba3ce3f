"""Static images through torchvision: ``mnist``, ``cifar10``, ``svhn``.

Files live in ``<paths.data>/<name>/`` in the layout the torchvision class reads (see
:mod:`ablations.data.files`); a loader never downloads (``python -m ablations.data download
dataset=NAME`` does, through the same class with ``download=True``).

Preprocessing (``conf/dataset/<name>.yaml``):

* ``normalize: zero_mean`` (seed 003 section 4.1, default for cifar10/svhn): every image is
  shifted to zero mean (over all its pixels and channels) and divided by its largest absolute
  value, so it lies in [-1, 1]; ``signed: true`` then gives signed Poisson spikes
  ``O[t] = sign(x) H(|x| - X[t])`` (:class:`~ablations.data.encoders.PoissonEncoder`).
  ``normalize: unit`` keeps pixels in [0, 1] (default for mnist).
* ``augment: true`` (training split only): random 32x32 crop of the image zero-padded by 4
  pixels on each side, plus a random horizontal flip for CIFAR-10 (not for the digits of SVHN
  and MNIST, where a flip changes the class). Augmentation runs before the normalisation.

Verification (``verify``, default true). torchvision's CIFAR-10 and SVHN readers compare the md5
of every file with the official release, so a deliberate subset (a lab's own split, a smaller
copy) is rejected. ``dataset.verify=false`` reads the files with the same torchvision classes,
their checksums removed (:mod:`ablations.data.unverified`: torchvision then
checks only that each file exists); the loader warns, and the run's ``config.yaml`` records
``verify: false``. torchvision's MNIST reader checks no checksum when reading, so ``verify`` does
not change it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from .bundle import DataBundle
from .encoders import make_encoder
from .files import require
from ..errors import UserError, parse_bool

__all__ = ["ImageNormalize", "mnist", "cifar10", "svhn", "fetch_mnist", "fetch_cifar10", "fetch_svhn",
           "image_transform", "open_split", "readers", "has_checksums", "verify_flag"]

NORMALIZE_MODES = ("unit", "zero_mean")


class ImageNormalize:
    """Per-image normalisation of a ``[C, H, W]`` tensor in [0, 1] (picklable, parameters in repr)."""

    def __init__(self, mode: str = "unit"):
        if mode not in NORMALIZE_MODES:
            raise ValueError(f"dataset.normalize={mode!r} is not one of {list(NORMALIZE_MODES)}")
        self.mode = mode

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if self.mode == "unit":
            return image
        centred = image - image.mean()
        return centred / centred.abs().max().clamp_min(1e-8)

    def __repr__(self) -> str:
        return f"ImageNormalize(mode={self.mode!r})"


def image_transform(cfg: Any, train: bool, size: int, flip: bool):
    """torchvision transform: optional crop/flip (train only), ``ToTensor``, per-image normalisation."""
    from torchvision import transforms

    steps = []
    if train and bool(cfg.get("augment", False)):
        steps.append(transforms.RandomCrop(size, padding=int(cfg.get("crop_padding", 4))))
        if flip:
            steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), ImageNormalize(str(cfg.get("normalize", "unit")))]
    return transforms.Compose(steps)


def readers(name: str) -> tuple[type, type]:
    """``(torchvision class that verifies, the same class without checksums)`` of ``name``
    (imported on first use: a run that stops at missing files never imports torchvision)."""
    from . import unverified

    return unverified.READERS[name]


def has_checksums(name: str) -> bool:
    """Whether torchvision's reader of ``name`` tests checksums (MNIST's does not)."""
    return name != "mnist"


def verify_flag(cfg: Any) -> bool:
    return parse_bool(cfg.get("verify", True), "dataset.verify")


def open_split(name: str, root: Path, train: bool, verify: bool = True, transform=None):
    """One split of ``name`` read by its torchvision class from ``root`` (the dataset folder).

    With ``verify`` torchvision's checksum test runs; its 'not found or corrupted' error becomes a
    UserError that offers ``dataset.verify=false`` (a subset) beside the download command.
    """
    reader = readers(name)[0 if verify else 1]
    split = {"split": "train" if train else "test"} if name == "svhn" else {"train": train}
    try:
        return reader(str(root), download=False, transform=transform, **split)
    except RuntimeError as error:
        if "corrupted" not in str(error) and "not found" not in str(error):
            raise
        if verify:
            raise UserError(
                f"dataset {name!r}: torchvision rejected the files in {root}/ ({error}): they do not match the "
                "checksums of the official release (a subset, or an incomplete or corrupted download).\n"
                "  a deliberate subset or a copy of your own: dataset.verify=false reads it without the checksum "
                "test (the run record notes it)\n"
                f"  a broken download: delete the folder and run `python -m ablations.data download dataset={name}` "
                "again") from None
        raise UserError(f"dataset {name!r}: torchvision cannot read the files in {root}/ even unverified ({error}); "
                        f"delete the folder and run `python -m ablations.data download dataset={name}` again") from None


def _splits(name: str, cfg: Any, data_root: Path, size: int, flip: bool):
    root = require(name, data_root)
    verify = verify_flag(cfg)
    train = open_split(name, root, True, verify, image_transform(cfg, True, size, flip=flip))
    test = open_split(name, root, False, verify, image_transform(cfg, False, size, flip=flip))
    if not verify and has_checksums(name):
        warnings.warn(f"dataset {name!r}: files in {root}/ read without checksum test (dataset.verify=false): "
                      f"{len(train)} train / {len(test)} test samples", stacklevel=3)
    return train, test


def _bundle(name: str, cfg: Any, train, test, input_shape: tuple[int, ...]) -> DataBundle:
    steps = int(cfg.steps)
    encoder = make_encoder(str(cfg.get("encoder", "poisson")), steps, signed=bool(cfg.get("signed", False)),
                           gain=float(cfg.get("gain", 1.0)))
    return DataBundle(name=name, kind="static", train=train, test=test, encoder=encoder,
                      input_shape=input_shape, n_classes=10, steps=steps,
                      meta={"chance": 0.1, "normalize": str(cfg.get("normalize", "unit")),
                            "augment": bool(cfg.get("augment", False)),
                            # None: the reader has no checksum test (MNIST)
                            "verified": verify_flag(cfg) if has_checksums(name) else None})


def mnist(cfg: Any, data_root: Path) -> DataBundle:
    train, test = _splits("mnist", cfg, data_root, 28, flip=False)
    return _bundle("mnist", cfg, train, test, (1, 28, 28))


def cifar10(cfg: Any, data_root: Path) -> DataBundle:
    train, test = _splits("cifar10", cfg, data_root, 32, flip=True)
    return _bundle("cifar10", cfg, train, test, (3, 32, 32))


def svhn(cfg: Any, data_root: Path) -> DataBundle:
    train, test = _splits("svhn", cfg, data_root, 32, flip=False)
    return _bundle("svhn", cfg, train, test, (3, 32, 32))


# Downloads: the torchvision classes' own download code (with checksums), both splits.

def fetch_mnist(folder: Path) -> None:
    from torchvision.datasets import MNIST

    for train in (True, False):
        MNIST(str(folder), train=train, download=True)


def fetch_cifar10(folder: Path) -> None:
    from torchvision.datasets import CIFAR10

    CIFAR10(str(folder), train=True, download=True)


def fetch_svhn(folder: Path) -> None:
    from torchvision.datasets import SVHN

    for split in ("train", "test"):
        SVHN(str(folder), split=split, download=True)
