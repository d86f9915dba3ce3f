"""``digits``: scikit-learn's 8x8 handwritten digits, shipped with scikit-learn (no download).

1797 grey images of the digits 0-9, 8x8 pixels with values 0..16, scaled to [0, 1] (or to
[-1, 1] around the per-image mean when ``normalize: zero_mean``, the seed 003 preprocessing).
The train/test split is stratified and fixed by ``split_seed`` (default 0), independent of the
run's ``seed``, so every run of every variant sees the same test images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .bundle import DataBundle
from .encoders import make_encoder

__all__ = ["digits", "digits_arrays"]


def digits_arrays(test_fraction: float = 0.25, split_seed: int = 0):
    """``(x_train, y_train, x_test, y_test)`` as float32 ``[N, 1, 8, 8]`` in [0, 1] and int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"dataset.test_fraction={test_fraction} must lie in (0, 1)")
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    labels = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=float(test_fraction), random_state=int(split_seed), stratify=labels
    )
    return x_train, y_train, x_test, y_test


def _normalize(images: np.ndarray, mode: str) -> np.ndarray:
    if mode == "unit":
        return images
    if mode == "zero_mean":  # seed 003: zero mean per image, scaled to [-1, 1]
        centred = images - images.mean(axis=(1, 2, 3), keepdims=True)
        scale = np.abs(centred).max(axis=(1, 2, 3), keepdims=True)
        return centred / np.maximum(scale, 1e-8)
    raise ValueError(f"dataset.normalize={mode!r} is not one of ['unit', 'zero_mean']")


def digits(cfg: Any, data_root: Path) -> DataBundle:
    x_train, y_train, x_test, y_test = digits_arrays(cfg.get("test_fraction", 0.25), cfg.get("split_seed", 0))
    mode = str(cfg.get("normalize", "unit"))
    x_train, x_test = _normalize(x_train, mode), _normalize(x_test, mode)
    encoder = make_encoder(str(cfg.get("encoder", "poisson")), int(cfg.steps),
                           signed=bool(cfg.get("signed", False)), gain=float(cfg.get("gain", 1.0)))
    return DataBundle(
        name="digits",
        kind="static",
        train=TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
        test=TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
        encoder=encoder,
        input_shape=(1, 8, 8),
        n_classes=10,
        steps=int(cfg.steps),
    )
