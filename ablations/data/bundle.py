"""What a dataset source returns: :class:`DataBundle`, the splits and how the network sees them.

Its own module (not ``data/__init__.py``), so the sources, imported lazily by name, and the
evaluation suites import it without importing the dataset registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, default_collate

from .encoders import Encoder

__all__ = ["DataBundle", "StackedBatch", "collate"]


class StackedBatch(Sequence):
    """What a dataset's ``__getitems__`` may return when it draws a whole batch at once: the batch's
    tensors ``x [B, ...]`` and ``y [B]`` as drawn, read as the sequence of its ``(x[i], y[i])`` samples.
    :func:`collate` hands the two tensors on as they are, where splitting the batch into samples and
    stacking them again cost a delayed XOR step 1.5 ms (about as much as drawing the batch)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if len(x) != len(y):
            raise ValueError(f"a batch of {len(x)} inputs has {len(y)} labels")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [(self.x[i], self.y[i]) for i in range(len(self))[index]]
        return self.x[index], self.y[index]


def collate(batch):
    """The loaders' collate: a :class:`StackedBatch` as its two tensors (what ``default_collate`` makes
    of its samples, without the copies), anything else by ``default_collate``."""
    if isinstance(batch, StackedBatch):
        return [batch.x, batch.y]
    return default_collate(batch)


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
