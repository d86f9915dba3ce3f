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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from . import DataBundle
from .encoders import make_encoder
from .files import require
from ..errors import UserError

__all__ = ["ImageNormalize", "mnist", "cifar10", "svhn", "fetch_mnist", "fetch_cifar10", "fetch_svhn",
           "image_transform"]

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


def _open(name: str, make):
    """Build a torchvision dataset; its 'not found or corrupted' error becomes a UserError."""
    try:
        return make()
    except RuntimeError as error:
        if "corrupted" in str(error) or "not found" in str(error):
            raise UserError(f"dataset {name!r}: torchvision rejected the files ({error}). They are incomplete "
                            "or corrupted (checksum mismatch): delete the folder and run "
                            f"`python -m ablations.data download dataset={name}` again") from None
        raise


def _bundle(name: str, cfg: Any, train, test, input_shape: tuple[int, ...]) -> DataBundle:
    steps = int(cfg.steps)
    encoder = make_encoder(str(cfg.get("encoder", "poisson")), steps, signed=bool(cfg.get("signed", False)),
                           gain=float(cfg.get("gain", 1.0)))
    return DataBundle(name=name, kind="static", train=train, test=test, encoder=encoder,
                      input_shape=input_shape, n_classes=10, steps=steps,
                      meta={"chance": 0.1, "normalize": str(cfg.get("normalize", "unit")),
                            "augment": bool(cfg.get("augment", False))})


def mnist(cfg: Any, data_root: Path) -> DataBundle:
    root = require("mnist", data_root)
    from torchvision.datasets import MNIST

    train = _open("mnist", lambda: MNIST(str(root), train=True, download=False,
                                         transform=image_transform(cfg, True, 28, flip=False)))
    test = _open("mnist", lambda: MNIST(str(root), train=False, download=False,
                                        transform=image_transform(cfg, False, 28, flip=False)))
    return _bundle("mnist", cfg, train, test, (1, 28, 28))


def cifar10(cfg: Any, data_root: Path) -> DataBundle:
    root = require("cifar10", data_root)
    from torchvision.datasets import CIFAR10

    train = _open("cifar10", lambda: CIFAR10(str(root), train=True, download=False,
                                             transform=image_transform(cfg, True, 32, flip=True)))
    test = _open("cifar10", lambda: CIFAR10(str(root), train=False, download=False,
                                            transform=image_transform(cfg, False, 32, flip=True)))
    return _bundle("cifar10", cfg, train, test, (3, 32, 32))


def svhn(cfg: Any, data_root: Path) -> DataBundle:
    root = require("svhn", data_root)
    from torchvision.datasets import SVHN

    train = _open("svhn", lambda: SVHN(str(root), split="train", download=False,
                                       transform=image_transform(cfg, True, 32, flip=False)))
    test = _open("svhn", lambda: SVHN(str(root), split="test", download=False,
                                      transform=image_transform(cfg, False, 32, flip=False)))
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
