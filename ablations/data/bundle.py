"""What a dataset source returns: :class:`DataBundle`, the splits and how the network sees them.

Its own module (not ``data/__init__.py``), so the sources, imported lazily by name, and the
evaluation suites import it without importing the dataset registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch.utils.data import Dataset

from .encoders import Encoder

__all__ = ["DataBundle"]


@dataclass
class DataBundle:
    """The train and test splits (torch ``Dataset`` objects yielding ``(x, y)``), the encoder that
    turns a loaded batch into the time-major network input ``[T, B, ...]``, the per-step input
    shape, the number of classes and of time steps."""

    name: str
    kind: str  # static | event | temporal
    train: Dataset
    test: Dataset
    encoder: Encoder
    input_shape: tuple[int, ...]  # one time step of one sample, as the network sees it
    n_classes: int
    steps: int
    meta: dict[str, Any] | None = None
