"""``delayed_xor``: seed 001's delayed spiking XOR, generated (no download).

Each sample is a spike train ``[T, channels]`` with ``T = 2 * pattern_steps + delay_steps``:

1. steps ``[0, pattern_steps)``: pattern A, every channel fires with probability ``low_rate`` or
   ``high_rate`` per step (A is "low" or "high", each with probability 1/2);
2. ``delay_steps`` of background noise, every channel firing with probability ``noise_rate``;
3. the last ``pattern_steps``: pattern B, drawn like A, independently.

The label is ``A XOR B`` (1 when exactly one of the two patterns is "high"); the classes are
balanced, so chance is 50 %. Solving it needs a memory of pattern A across the delay: a neuron
with complete leak (beta = 0) has none and stays at chance.

Defaults (``conf/dataset/delayed_xor.yaml``): 16 channels, 10-step patterns, a 10-step delay
(one default membrane time constant; raise ``delay_steps`` for a harder memory task),
rates 0.05 / 0.6, noise 0.05, 2000 training and 500 test samples from a fixed ``data_seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from . import DataBundle
from .encoders import SequenceEncoder

__all__ = ["delayed_xor", "make_delayed_xor"]


def make_delayed_xor(n_samples: int, channels: int = 16, pattern_steps: int = 10, delay_steps: int = 10,
                     low_rate: float = 0.05, high_rate: float = 0.6, noise_rate: float = 0.05,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike trains ``[n, T, channels]`` (float 0/1) and XOR labels ``[n]`` (int64)."""
    for key, value in {"low_rate": low_rate, "high_rate": high_rate, "noise_rate": noise_rate}.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"dataset.{key}={value} is a per-step spike probability and must lie in [0, 1]")
    if not high_rate > low_rate:
        raise ValueError(f"dataset.high_rate={high_rate} must exceed dataset.low_rate={low_rate}")
    for key, value in {"n_samples": n_samples, "channels": channels, "pattern_steps": pattern_steps}.items():
        if int(value) < 1:
            raise ValueError(f"dataset.{key}={value} must be >= 1")
    if int(delay_steps) < 0:
        raise ValueError(f"dataset.delay_steps={delay_steps} must be >= 0")
    generator = torch.Generator().manual_seed(int(seed))
    first = torch.randint(0, 2, (n_samples,), generator=generator)
    second = torch.randint(0, 2, (n_samples,), generator=generator)
    rate_of = torch.tensor([float(low_rate), float(high_rate)])
    steps = 2 * pattern_steps + delay_steps
    rates = torch.full((n_samples, steps, channels), float(noise_rate))
    rates[:, :pattern_steps] = rate_of[first].view(-1, 1, 1)
    rates[:, pattern_steps + delay_steps:] = rate_of[second].view(-1, 1, 1)
    spikes = (torch.rand(rates.shape, generator=generator) < rates).float()
    return spikes, (first ^ second).long()


def delayed_xor(cfg: Any, data_root: Path) -> DataBundle:
    params = dict(
        channels=int(cfg.channels), pattern_steps=int(cfg.pattern_steps), delay_steps=int(cfg.delay_steps),
        low_rate=float(cfg.low_rate), high_rate=float(cfg.high_rate), noise_rate=float(cfg.noise_rate),
    )
    seed = int(cfg.get("data_seed", 0))
    x_train, y_train = make_delayed_xor(int(cfg.n_train), seed=seed, **params)
    x_test, y_test = make_delayed_xor(int(cfg.n_test), seed=seed + 1, **params)
    steps = x_train.shape[1]
    return DataBundle(
        name="delayed_xor",
        kind="temporal",
        train=TensorDataset(x_train, y_train),
        test=TensorDataset(x_test, y_test),
        encoder=SequenceEncoder(steps),
        input_shape=(params["channels"],),
        n_classes=2,
        steps=steps,
        meta={"chance": 0.5},
    )
