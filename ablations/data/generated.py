"""``delayed_xor``: seed 001's delayed spiking XOR, generated (no download).

Each sample is a spike train ``[T, channels]`` with ``T = 2 * pattern_steps + delay_steps``:

1. steps ``[0, pattern_steps)``: pattern A, every channel fires with probability ``low_rate`` or
   ``high_rate`` per step (A is "low" or "high", each with probability 1/2);
2. ``delay_steps`` of background noise, every channel firing with probability ``noise_rate``;
3. the last ``pattern_steps``: pattern B, drawn like A, independently.

The label is ``A XOR B`` (1 when exactly one of the two patterns is "high"); the classes are
balanced, so chance is 50 %. Solving it needs a memory of pattern A across the delay: a neuron
with complete leak (beta = 0) has none and stays at chance.

``noise_over_patterns=True`` lays the background noise over the whole sequence and ORs the
pattern spikes into it, as the public generator of seed 001's group does (repository
``eva1801/DH-SNN``, ``delayed_xor/delayed_xor_snn.py``, ``get_batch``, lines 41-63); ``False``
puts noise in the delay only.

Two dataset options (``conf/dataset/``):

* ``delayed_xor``: the short task, the CPU default: 16 channels, 10-step patterns, a 10-step
  delay (T = 30), rates 0.05 / 0.6, noise 0.05 in the delay only. Not seed 001's regime.
* ``delayed_xor_dhsnn``: seed 001's regime as DH-SNN's generator sets it (lines 28-34 of the
  file above): T = 200, 20 channels, pattern rates 0.2 / 0.6, background noise 0.01 over the whole
  sequence, 10-step patterns at the start and at the end (a 180-step delay).

Samples are stored as ``uint8`` (a 50 000-sample T = 200 set is 200 MB, not 800 MB) and turned
into float spikes by the encoder, on the training device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from .bundle import DataBundle
from .encoders import SequenceEncoder

__all__ = ["delayed_xor", "make_delayed_xor", "SpikeSequenceEncoder"]


class SpikeSequenceEncoder(SequenceEncoder):
    """``[B, T, N]`` stored spikes (any dtype) -> time-major float ``[T, B, N]``."""

    name = "sequence"

    def __call__(self, x, generator=None):
        return x.transpose(0, 1).float().contiguous()

    def __repr__(self) -> str:
        return f"SpikeSequenceEncoder(steps={self.steps})"


def make_delayed_xor(n_samples: int, channels: int = 16, pattern_steps: int = 10, delay_steps: int = 10,
                     low_rate: float = 0.05, high_rate: float = 0.6, noise_rate: float = 0.05,
                     noise_over_patterns: bool = False, seed: int = 0,
                     dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike trains ``[n, T, channels]`` (0/1 of ``dtype``) and XOR labels ``[n]`` (int64)."""
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
    rates = torch.zeros((n_samples, steps, channels)) if noise_over_patterns else \
        torch.full((n_samples, steps, channels), float(noise_rate))  # noise in the delay only
    rates[:, :pattern_steps] = rate_of[first].view(-1, 1, 1)
    rates[:, pattern_steps + delay_steps:] = rate_of[second].view(-1, 1, 1)
    spikes = torch.rand(rates.shape, generator=generator) < rates
    if noise_over_patterns:  # DH-SNN: background noise everywhere, the pattern spikes ORed in
        spikes |= torch.rand(rates.shape, generator=generator) < float(noise_rate)
    return spikes.to(dtype), (first ^ second).long()


def delayed_xor(cfg: Any, data_root: Path) -> DataBundle:
    params = dict(
        channels=int(cfg.channels), pattern_steps=int(cfg.pattern_steps), delay_steps=int(cfg.delay_steps),
        low_rate=float(cfg.low_rate), high_rate=float(cfg.high_rate), noise_rate=float(cfg.noise_rate),
        noise_over_patterns=bool(cfg.get("noise_over_patterns", False)),
    )
    seed = int(cfg.get("data_seed", 0))
    x_train, y_train = make_delayed_xor(int(cfg.n_train), seed=seed, dtype=torch.uint8, **params)
    x_test, y_test = make_delayed_xor(int(cfg.n_test), seed=seed + 1, dtype=torch.uint8, **params)
    steps = x_train.shape[1]
    return DataBundle(
        name=str(cfg.get("name", "delayed_xor")),
        kind="temporal",
        train=TensorDataset(x_train, y_train),
        test=TensorDataset(x_test, y_test),
        encoder=SpikeSequenceEncoder(steps),
        input_shape=(params["channels"],),
        n_classes=2,
        steps=steps,
        meta={"chance": 0.5, "pattern_steps": params["pattern_steps"]},
    )
