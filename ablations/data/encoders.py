"""Encoders: a batch from the data loader -> time-major network input ``[T, B, ...]``.

* :class:`PoissonEncoder` (rate coding, seed 003 Algorithm 1 without noise): for an image
  ``x`` with values in [0, 1] (or [-1, 1] when ``signed``), at every step
  ``O[t] = sign(x) * H(gain * |x| - X[t])`` with ``X[t] ~ U(0, 1)`` drawn fresh per step and pixel.
* :class:`DirectEncoder` (analog / direct coding): the image repeated at every step.
* :class:`SequenceEncoder`: data that is already a sequence ``[B, T, ...]`` (event frames,
  generated spike trains) is only moved to time-major ``[T, B, ...]``.

Encoders are small picklable objects with their parameters in ``repr``. Each accepts an
optional ``torch.Generator`` so that evaluations can be made reproducible.

Keyed draws
-----------
Inside ``with keyed_draws(seed):`` the uniform numbers ``X`` of a sample are drawn from a
generator seeded by ``seed`` and the sample's own values (its bytes), whatever generator was
passed: a test sample gets the same spikes in every batch it falls in, in every suite that encodes
it and in every network evaluated under the same seed (``train.rng=paired``,
:mod:`ablations.streams`). Outside, draws come from the given generator as before.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence

import torch

__all__ = ["Encoder", "PoissonEncoder", "DirectEncoder", "SequenceEncoder", "make_encoder", "ENCODERS", "keyed_draws",
           "uniform_draws"]

_KEY: list[int] = []  # the seed of the innermost keyed_draws block (empty: draws come from the generator)


@contextlib.contextmanager
def keyed_draws(seed: int) -> Iterator[None]:
    """Within the block, :func:`uniform_draws` draws each sample's numbers from ``(seed, sample)``."""
    _KEY.append(int(seed))
    try:
        yield
    finally:
        _KEY.pop()


def _sample_seed(seed: int, sample) -> int:
    """A 63-bit seed from ``seed`` and a sample's float32 bytes (a NumPy array on the host)."""
    digest = hashlib.blake2b(sample.tobytes(), digest_size=8, key=int(seed).to_bytes(8, "little"))
    return int.from_bytes(digest.digest(), "little") & (2**63 - 1)


def uniform_draws(steps: int, x: torch.Tensor, generator: torch.Generator | None = None,
                  shape: Sequence[int] | None = None) -> torch.Tensor:
    """``U(0, 1)`` numbers of shape ``[steps, *shape]`` (default ``x.shape``) for the batch ``x``
    (samples along dim 0): from ``generator``, or per sample inside :func:`keyed_draws`."""
    shape = tuple(x.shape if shape is None else shape)
    if not _KEY:
        return torch.rand((steps, *shape), generator=generator, device=x.device, dtype=x.dtype)
    out = torch.empty((steps, *shape), device=x.device, dtype=x.dtype)
    host = x.detach().to("cpu", torch.float32).contiguous().numpy()  # one transfer per batch
    for i in range(shape[0]):
        local = torch.Generator(device=x.device)
        local.manual_seed(_sample_seed(_KEY[-1], host[i]))
        out[:, i] = torch.rand((steps, *shape[1:]), generator=local, device=x.device, dtype=x.dtype)
    return out


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
               generator: torch.Generator | None = None, x: torch.Tensor | None = None) -> torch.Tensor:
        """Spikes ``H(rates - X)``; ``x`` (the samples the rates came from) keys the draws inside
        :func:`keyed_draws` (the rates themselves when not given)."""
        draws = uniform_draws(self.steps, rates if x is None else x, generator, shape=rates.shape)
        spikes = (rates.unsqueeze(0) > draws).to(rates.dtype)
        return spikes * sign.unsqueeze(0) if sign is not None else spikes

    def __call__(self, x, generator=None):
        sign = torch.sign(x) if self.signed else None
        return self.sample(self.rates(x), sign, generator, x=x)


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
