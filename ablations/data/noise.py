r"""Input noise for robustness tests: seed 003 section 3, Algorithm 1.

Severities are relative to the data range ``[low, high]`` (width ``R = high - low``) of the
channel the noise enters (:func:`data_range`): scenario 1 the pixels, ``[0, 1]`` for unsigned
coding and ``[-1, 1]`` for signed coding (seed 003's zero-mean images scaled to [-1, 1]);
scenario 2 the spike channel, ``{0, 1}`` (range ``[0, 1]``) or ``{-1, 0, 1}`` (``[-1, 1]``). So a
level is the same *relative* strength on CIFAR-10/SVHN as on the digits it was calibrated on.

Two noise sources (after Hendrycks & Dietterich 2019, seed 003's ref [24]), each drawn fresh for
every time step, input entry (pixel or input channel) and sample:

* :class:`GaussianNoise` ``(sigma)``: ``xi ~ N(0, (sigma R)^2)``, added.
* :class:`ImpulseNoise` ``(probability, amplitude)``: with the given probability an entry is hit.
  Scenario 1 (pixels): a hit pixel is *replaced* by ``low`` or ``high`` (equally likely):
  salt-and-pepper noise, as Hendrycks & Dietterich's ``impulse_noise`` (skimage ``s&p``) on any
  range; ``amplitude`` is unused. Scenario 2 (spikes, Algorithm 1 adds ``xi`` to the channel):
  ``xi = +-amplitude R`` (equally likely) on a hit entry, added.

Two injection scenarios, both in the input layer only (Algorithm 1; ``X[t] ~ U(0, 1)`` is the
Poisson encoder's uniform draw, ``x`` the pixel, ``O_1[t]`` the network input at step ``t``):

* scenario 1, noise on the pixels before Poisson sampling; the spikes stay binary::

      x_c[t] = corrupt(x, t);   O_1[t] = H(r(x_c[t]) - X[t])

  with the encoder's rate ``r(x) = clip(gain * x, 0, 1)`` (signed coding: ``sign(x_c[t])``
  times ``H(clip(gain |x_c[t]|, 0, 1) - X[t])``). For direct (analog) coding ``O_1[t] = gain x_c[t]``.
* scenario 2, noise on the emitted spikes, fresh every step; the input is no longer binary::

      O_1[t] = H(r(x) - X[t]) + xi[t]

Severity table
--------------
Seed 003 gives no severity values, but it says what its levels do: at severity 5 (the level its
spectrum analysis reads, section 4.3) "the mean spectrum distribution with noisy spike-inputs
remains roughly the same compared to the clean case", spread "over a wider band"; and its IF
networks "suffer from severe accuracy degradation for high noise severity levels" (section 4.2),
while its leaky ones keep their baseline. Level 0 is the clean input; levels 1..8 are fractions of
the range ``R`` (sigma / R, hit probability, amplitude / R), calibrated so:

* **level 5** is the strongest noise of each family whose mean input spectrum (seed 003 Fig. 4:
  the single-sided power of the input spike trains, averaged over entries and test images) keeps
  its DC bin and its total power within 10 % of the clean spectrum while the non-DC bins rise (the
  wider band). Measured on ``digits`` with signed zero-mean Poisson coding, T = 20, all 450 test
  images (``eval.spectral`` draws), ratios noisy / clean of (DC, non-DC mean, total):
  gaussian s1 sigma/R 0.15: 0.90, 1.26, 1.03 (0.2: 0.85, 1.46, 1.08); gaussian s2 0.1: 1.01,
  1.21, 1.08 (0.2: 1.03, 1.85, 1.33); impulse s1 p 0.05: 0.91, 1.29, 1.05 (0.1: 0.83, 1.58,
  1.11); impulse s2 p 0.01, amplitude R: 1.01, 1.21, 1.08 (0.02: 1.01, 1.43, 1.17);
* **the other levels** step by a factor 1.5 (Hendrycks & Dietterich's ladder, seed 003's ref [24],
  grows by about 1.5x a level): level k = level 5 x 1.5^(k - 5), so level 8 is 3.4x level 5.

The earlier table (:data:`SATURATING_SEVERITIES`, calibrated so that level 8 brought an IF
network to chance) raised every non-zero spectral bin 3.7x and cut the DC bin 3x at level 5
(gaussian s1, sigma/R 0.75): far outside the paper's description, and its saturated levels, where
every model is at chance, diluted any difference in a mean over levels.

========  ============  ============  =====================  =====================
severity  gaussian s1   gaussian s2   impulse s1             impulse s2
          sigma / R     sigma / R     probability            probability, amplitude / R
========  ============  ============  =====================  =====================
1         0.03          0.02          0.01                   0.002, 1
2         0.044         0.03          0.015                  0.003, 1
3         0.067         0.044         0.022                  0.0044, 1
4         0.1           0.067         0.033                  0.0067, 1
5         0.15          0.1           0.05                   0.01, 1
6         0.225         0.15          0.075                  0.015, 1
7         0.34          0.225         0.11                   0.0225, 1
8         0.51          0.34          0.17                   0.034, 1
========  ============  ============  =====================  =====================

Shared random numbers
---------------------
:func:`noisy_batches` draws, once per batch, the encoder's uniform numbers ``X`` and two
noise fields ``z ~ N(0, 1)`` and ``v ~ U(0, 1)`` of shape ``[T, B, ...]``, and reuses them for
every severity of both noise types: Gaussian noise is ``sigma * z``; impulse noise hits where
``v < probability`` with sign ``sign(z)`` (so the entries hit at one level are also hit at every
higher level). The clean spikes ``H(r(x) - X)`` of scenario 2 are computed once. Severity 0
therefore gives exactly the clean input, the severities differ only in the noise scale (common
random numbers: the accuracy curve has no sampling jitter between levels), and the noise
costs one set of draws per batch instead of one per severity. Only the network runs once per
severity.

Noise objects are small picklable classes with their parameters in ``repr``;
:class:`NoisyEncoder` wraps any Poisson or direct encoder into a noisy one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from .encoders import DirectEncoder, Encoder, PoissonEncoder, uniform_draws

__all__ = [
    "Noise", "GaussianNoise", "ImpulseNoise", "NoiseDraws", "NoisyEncoder", "NOISES", "SCENARIOS",
    "SEVERITIES", "N_SEVERITIES", "make_noise", "severity_table", "apply_noise", "noisy_batches", "draw_batch",
    "data_range", "corrupt_pixels",
]

NOISES = ("gaussian", "impulse")
SCENARIOS = (1, 2)
N_SEVERITIES = 8

# (noise, scenario) -> parameters of severity levels 1..8 (level 0 is the clean input).
# gaussian: sigma; impulse: (probability, amplitude).
# Level 5 of each family from the spectrum calibration (module docstring); level k = level 5 x 1.5^(k - 5).
SEVERITIES: dict[tuple[str, int], tuple] = {
    ("gaussian", 1): (0.03, 0.044, 0.067, 0.1, 0.15, 0.225, 0.34, 0.51),
    ("gaussian", 2): (0.02, 0.03, 0.044, 0.067, 0.1, 0.15, 0.225, 0.34),
    ("impulse", 1): ((0.01, 1.0), (0.015, 1.0), (0.022, 1.0), (0.033, 1.0), (0.05, 1.0), (0.075, 1.0),
                     (0.11, 1.0), (0.17, 1.0)),
    ("impulse", 2): ((0.002, 1.0), (0.003, 1.0), (0.0044, 1.0), (0.0067, 1.0), (0.01, 1.0), (0.015, 1.0),
                     (0.0225, 1.0), (0.034, 1.0)),
}

#: The table before the spectrum calibration: level 8 brought an IF network on digits to chance.
SATURATING_SEVERITIES: dict[tuple[str, int], tuple] = {
    ("gaussian", 1): (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 3.0),
    ("gaussian", 2): (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
    ("impulse", 1): ((0.05, 1.0), (0.1, 1.0), (0.2, 1.0), (0.3, 1.0), (0.45, 1.0), (0.6, 1.0),
                     (0.8, 1.0), (0.95, 1.0)),
    ("impulse", 2): ((0.05, 1.0), (0.15, 1.0), (0.5, 1.0), (0.5, 2.0), (0.5, 4.0), (0.5, 8.0),
                     (0.5, 16.0), (0.5, 32.0)),
}


# --------------------------------------------------------------------------- noise sources
class Noise:
    """Additive input noise ``xi`` built from shared draws (:class:`NoiseDraws`)."""

    name = "noise"

    def from_draws(self, draws: "NoiseDraws") -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def scaled(self, low: float, high: float) -> "Noise":
        """The same level in absolute units of the range ``[low, high]`` (parameters x ``high - low``)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def corrupt(self, pixels: torch.Tensor, draws: "NoiseDraws", low: float, high: float) -> torch.Tensor:
        """Scenario 1: the pixels ``[T, B, ...]`` under this noise, relative to the range ``[low, high]``."""
        return pixels + self.scaled(low, high).from_draws(draws)

    def sample(self, shape: Sequence[int], generator: torch.Generator | None = None,
               device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A fresh noise field of ``shape``."""
        return self.from_draws(NoiseDraws.draw(shape, generator, device, dtype))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


class GaussianNoise(Noise):
    """``xi ~ N(0, sigma^2)``."""

    name = "gaussian"

    def __init__(self, sigma: float):
        if not float(sigma) >= 0:
            raise ValueError(f"gaussian noise sigma={sigma} must be >= 0")
        self.sigma = float(sigma)

    def from_draws(self, draws: "NoiseDraws") -> torch.Tensor:
        return self.sigma * draws.normal

    def scaled(self, low: float, high: float) -> "GaussianNoise":
        return GaussianNoise(self.sigma * (float(high) - float(low)))


class ImpulseNoise(Noise):
    """``xi = +-amplitude`` (equally likely) with ``probability``, else 0."""

    name = "impulse"

    def __init__(self, probability: float, amplitude: float = 1.0):
        if not 0.0 <= float(probability) <= 1.0:
            raise ValueError(f"impulse noise probability={probability} must lie in [0, 1]")
        if not float(amplitude) >= 0:
            raise ValueError(f"impulse noise amplitude={amplitude} must be >= 0")
        self.probability = float(probability)
        self.amplitude = float(amplitude)

    def from_draws(self, draws: "NoiseDraws") -> torch.Tensor:
        hit = (draws.uniform < self.probability).to(draws.normal.dtype)
        sign = torch.where(draws.normal >= 0, 1.0, -1.0).to(draws.normal.dtype)
        return self.amplitude * sign * hit

    def scaled(self, low: float, high: float) -> "ImpulseNoise":
        return ImpulseNoise(self.probability, self.amplitude * (float(high) - float(low)))

    def corrupt(self, pixels: torch.Tensor, draws: "NoiseDraws", low: float, high: float) -> torch.Tensor:
        """Salt and pepper: a hit pixel becomes ``high`` or ``low`` (the sign of the shared normal draw)."""
        hit = draws.uniform < self.probability
        extreme = torch.where(draws.normal >= 0, float(high), float(low)).to(pixels.dtype)
        return torch.where(hit, extreme, pixels.expand_as(extreme))


@dataclass
class NoiseDraws:
    """The random numbers one batch shares across noise types and severities."""

    normal: torch.Tensor   # z ~ N(0, 1), [T, B, ...]
    uniform: torch.Tensor  # v ~ U(0, 1), [T, B, ...]

    @classmethod
    def draw(cls, shape: Sequence[int], generator: torch.Generator | None = None,
             device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> "NoiseDraws":
        normal = torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
        uniform = torch.rand(tuple(shape), generator=generator, device=device, dtype=dtype)
        return cls(normal, uniform)


def make_noise(name: str, scenario: int, severity: int) -> Noise | None:
    """The noise of a severity level from the table; ``None`` for severity 0 (clean)."""
    if name not in NOISES:
        raise ValueError(f"noise {name!r} is not one of {list(NOISES)}")
    if int(scenario) not in SCENARIOS:
        raise ValueError(f"noise scenario {scenario!r} is not one of {list(SCENARIOS)}")
    severity = int(severity)
    if not 0 <= severity <= N_SEVERITIES:
        raise ValueError(f"noise severity {severity} must lie in 0..{N_SEVERITIES}")
    if severity == 0:
        return None
    value = SEVERITIES[(name, int(scenario))][severity - 1]
    return GaussianNoise(value) if name == "gaussian" else ImpulseNoise(*value)


def severity_table() -> list[dict]:
    """The severity table as rows ``{noise, scenario, severity, parameters...}``."""
    rows = []
    for (name, scenario), values in SEVERITIES.items():
        for severity in range(1, N_SEVERITIES + 1):
            noise = make_noise(name, scenario, severity)
            rows.append({"noise": name, "scenario": scenario, "severity": severity, **vars(noise)})
    return rows


# --------------------------------------------------------------------------- injection
def _check_encoder(encoder: Encoder, scenario: int) -> None:
    if int(scenario) not in SCENARIOS:
        raise ValueError(f"noise scenario {scenario!r} is not one of {list(SCENARIOS)}")
    if not isinstance(encoder, (PoissonEncoder, DirectEncoder)):
        raise ValueError(
            f"input noise (seed 003 Algorithm 1) needs a Poisson or direct encoder of pixel data; "
            f"got {encoder!r}"
        )


def data_range(encoder: Encoder, scenario: int) -> tuple[float, float]:
    """The range ``(low, high)`` severities refer to: pixels (scenario 1) or spikes (scenario 2).

    Signed coding (seed 003: zero-mean images scaled to [-1, 1], spikes in {-1, 0, 1}) gives
    ``(-1, 1)``, unsigned coding ``(0, 1)`` (a direct encoder is taken as unsigned)."""
    return (-1.0, 1.0) if bool(getattr(encoder, "signed", False)) else (0.0, 1.0)


def corrupt_pixels(encoder: Encoder, x: torch.Tensor, noise: Noise, draws: "NoiseDraws") -> torch.Tensor:
    """Scenario 1's noisy pixels ``x_c [T, B, ...]`` of the batch ``x [B, ...]``."""
    low, high = data_range(encoder, 1)
    return noise.corrupt(x.unsqueeze(0), draws, low, high)


def _scenario1(encoder: Encoder, x: torch.Tensor, noisy: torch.Tensor, uniform: torch.Tensor | None) -> torch.Tensor:
    """Encode the noisy pixels ``noisy [T, B, ...]`` (fresh pixel noise every step)."""
    if isinstance(encoder, DirectEncoder):
        return encoder.gain * noisy
    spikes = (encoder.rates(noisy) > uniform).to(x.dtype)
    return spikes * torch.sign(noisy) if encoder.signed else spikes


def _clean(encoder: Encoder, x: torch.Tensor, uniform: torch.Tensor | None) -> torch.Tensor:
    if isinstance(encoder, DirectEncoder):
        return encoder(x)
    spikes = (encoder.rates(x).unsqueeze(0) > uniform).to(x.dtype)
    return spikes * torch.sign(x).unsqueeze(0) if encoder.signed else spikes


def apply_noise(encoder: Encoder, x: torch.Tensor, noise: Noise | None, scenario: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode the batch ``x [B, ...]`` into ``[T, B, ...]`` with ``noise`` injected as ``scenario``."""
    _check_encoder(encoder, scenario)
    shape = (encoder.steps, *x.shape)
    uniform = None
    if isinstance(encoder, PoissonEncoder):
        uniform = uniform_draws(encoder.steps, x, generator)  # keyed per sample inside encoders.keyed_draws
    if noise is None:
        return _clean(encoder, x, uniform)
    draws = NoiseDraws.draw(shape, generator, x.device, x.dtype)
    if int(scenario) == 1:
        return _scenario1(encoder, x, corrupt_pixels(encoder, x, noise, draws), uniform)
    return _clean(encoder, x, uniform) + noise.scaled(*data_range(encoder, 2)).from_draws(draws)


def noisy_batches(encoder: Encoder, x: torch.Tensor, noises: Sequence[Noise | None], scenario: int,
                  generator: torch.Generator | None = None,
                  draws: tuple[torch.Tensor | None, NoiseDraws] | None = None) -> Iterator[torch.Tensor]:
    """Network inputs ``[T, B, ...]`` of one batch under each of ``noises`` (None = clean).

    The encoder's uniform numbers and the noise draws are drawn once (or taken from ``draws``,
    as returned by :func:`draw_batch`) and shared by every entry of ``noises``.
    """
    _check_encoder(encoder, scenario)
    uniform, shared = draws if draws is not None else draw_batch(encoder, x, generator)
    clean = None
    for noise in noises:
        if noise is None:
            yield _clean(encoder, x, uniform)
            continue
        if int(scenario) == 1:
            yield _scenario1(encoder, x, corrupt_pixels(encoder, x, noise, shared), uniform)
        else:
            if clean is None:
                clean = _clean(encoder, x, uniform)
            yield clean + noise.scaled(*data_range(encoder, 2)).from_draws(shared)


def draw_batch(encoder: Encoder, x: torch.Tensor,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor | None, NoiseDraws]:
    """The random numbers a batch shares: the encoder's ``X`` (Poisson only) and the noise draws."""
    shape = (encoder.steps, *x.shape)
    uniform = None
    if isinstance(encoder, PoissonEncoder):
        uniform = uniform_draws(encoder.steps, x, generator)  # keyed per sample inside encoders.keyed_draws
    return uniform, NoiseDraws.draw(shape, generator, x.device, x.dtype)


class NoisyEncoder(Encoder):
    """An encoder that injects ``noise`` as ``scenario`` (1 or 2) into a Poisson or direct encoder."""

    name = "noisy"

    def __init__(self, encoder: Encoder, noise: Noise | None, scenario: int):
        _check_encoder(encoder, scenario)
        self.encoder = encoder
        self.noise = noise
        self.scenario = int(scenario)
        self.steps = encoder.steps

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return apply_noise(self.encoder, x, self.noise, self.scenario, generator)

    def __repr__(self) -> str:
        return f"NoisyEncoder(encoder={self.encoder!r}, noise={self.noise!r}, scenario={self.scenario})"
