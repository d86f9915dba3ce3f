"""Encoders: a batch from the data loader -> time-major network input ``[T, B, ...]``.

* :class:`PoissonEncoder` (rate coding, seed 003 Algorithm 1 without noise): for an image
  ``x`` with values in [0, 1] (or [-1, 1] when ``signed``), at every step
  ``O[t] = sign(x) * H(gain * |x| - X[t])`` with ``X[t] ~ U(0, 1)`` drawn fresh per step and pixel.
* :class:`DirectEncoder` (analog / direct coding): the image repeated at every step.
* :class:`SequenceEncoder`: data that is already a sequence ``[B, T, ...]`` (event frames,
  generated spike trains) is only moved to time-major ``[T, B, ...]``.

Encoders are small picklable objects with their parameters in ``repr``. Each accepts an
optional ``torch.Generator`` so that evaluations can be made reproducible.
"""

from __future__ import annotations

import torch

__all__ = ["Encoder", "PoissonEncoder", "DirectEncoder", "SequenceEncoder", "make_encoder", "ENCODERS"]


class Encoder:
    name = "encoder"
    steps: int | None = None

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class PoissonEncoder(Encoder):
    name = "poisson"

    def __init__(self, steps: int, signed: bool = False, gain: float = 1.0):
        if int(steps) < 1:
            raise ValueError(f"dataset.steps={steps} must be >= 1")
        self.steps = int(steps)
        self.signed = bool(signed)
        self.gain = float(gain)

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step firing probability, clipped to [0, 1]."""
        return (self.gain * (x.abs() if self.signed else x)).clamp(0.0, 1.0)

    def sample(self, rates: torch.Tensor, sign: torch.Tensor | None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        draws = torch.rand((self.steps, *rates.shape), generator=generator, device=rates.device,
                           dtype=rates.dtype)
        spikes = (rates.unsqueeze(0) > draws).to(rates.dtype)
        return spikes * sign.unsqueeze(0) if sign is not None else spikes

    def __call__(self, x, generator=None):
        sign = torch.sign(x) if self.signed else None
        return self.sample(self.rates(x), sign, generator)


class DirectEncoder(Encoder):
    name = "direct"

    def __init__(self, steps: int, gain: float = 1.0):
        if int(steps) < 1:
            raise ValueError(f"dataset.steps={steps} must be >= 1")
        self.steps = int(steps)
        self.gain = float(gain)

    def __call__(self, x, generator=None):
        return (self.gain * x).unsqueeze(0).expand(self.steps, *x.shape).contiguous()


class SequenceEncoder(Encoder):
    name = "sequence"

    def __init__(self, steps: int | None = None):
        self.steps = steps

    def __call__(self, x, generator=None):
        return x.transpose(0, 1).contiguous()


ENCODERS = {"poisson": PoissonEncoder, "direct": DirectEncoder, "sequence": SequenceEncoder}


def make_encoder(name: str, steps: int, signed: bool = False, gain: float = 1.0) -> Encoder:
    if name == "poisson":
        return PoissonEncoder(steps, signed=signed, gain=gain)
    if name == "direct":
        return DirectEncoder(steps, gain=gain)
    if name == "sequence":
        return SequenceEncoder(steps)
    raise ValueError(f"dataset.encoder={name!r} is not one of {sorted(ENCODERS)}")
