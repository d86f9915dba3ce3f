r"""Surrogate gradients: Heaviside forward, a smooth ``dS/dU`` backward, at ``z = U - theta``.

    atan(alpha)               dS/dU = (alpha / 2) / (1 + (pi alpha z / 2)^2)   (snnTorch ATan)
    fast_sigmoid(slope)       dS/dU = 1 / (slope |z| + 1)^2                   (snnTorch FastSigmoid)
    rectangular(width)        dS/dU = 1/width if |z| < width/2 else 0          (seed 001, "width")
    straight_through(epsilon) dS/dU = 1/(theta + epsilon) if z > 0 else 0      (seed 003 Eq. 5)
    multi_gaussian(sigma, scale, height, gamma)
        dS/dU = gamma [(1 + h) G(z; 0, w) - h G(z; w, s w) - h G(z; -w, s w)]   (w = sigma, s = scale, h = height)
        with G(z; mu, sigma) the normal density: DH-SNN's ``ActFun_adp`` "MG" form
        (repository eva1801/DH-SNN, delayed_xor/SNN_layers/spike_neuron.py, lines 21-50:
        lens = 0.5, scale = 6.0, hight = 0.15, gamma = 0.5 are the defaults here)

Surrogates are frozen dataclasses (picklable, hashable, printed with their parameters), unlike
snnTorch's closures; :data:`SURROGATES` is their registry, so a plugin adds one with
``SURROGATES.add(name, cls)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import snntorch.surrogate as snn_surrogate
import torch

from ..registry import Registry

__all__ = ["Surrogate", "ATan", "FastSigmoid", "Rectangular", "StraightThrough", "MultiGaussian",
           "SURROGATES", "SURROGATE_PARAMETERS", "make_surrogate"]

class _Rectangular(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, width):
        ctx.save_for_backward(z)
        ctx.width = width
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        window = (z.abs() < ctx.width / 2).to(grad_output.dtype)
        return grad_output * window / ctx.width, None


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, scale):
        spikes = (z > 0).to(z.dtype)
        ctx.save_for_backward(spikes)
        ctx.scale = scale
        return spikes

    @staticmethod
    def backward(ctx, grad_output):
        (spikes,) = ctx.saved_tensors
        return grad_output * spikes * ctx.scale, None


@dataclass(frozen=True)
class Surrogate:
    """Heaviside forward, smooth backward; callable on ``z = U - theta``. A frozen dataclass:
    picklable, hashable, compared and printed by its parameters. Subclasses declare their
    parameters as fields and check them in :meth:`check`."""

    name: ClassVar[str] = "surrogate"

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            try:
                object.__setattr__(self, item.name, float(value))
            except (TypeError, ValueError):
                raise ValueError(f"surrogate {self.name!r}: {item.name}={value!r} is not a number") from None
        problem = self.check()
        if problem:
            raise ValueError(f"surrogate {self.name!r}: {problem}")

    def check(self) -> str | None:  # pragma: no cover - every surrogate overrides it
        return None

    def __call__(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """``dS/dz`` of the backward pass (the fused scan's backward uses it); ``z`` is left as it is."""
        return self.derivative_(z.clone())

    def derivative_(self, z: torch.Tensor) -> torch.Tensor:
        """:meth:`derivative` computed in the storage of ``z`` where the surrogate can (``z`` is
        overwritten). Each built-in surrogate gives its closed form, pinned against its autograd
        backward by a test; a plugin surrogate that does not falls back to one autograd call over
        all steps."""
        from .torch_scan import autograd_derivative

        return autograd_derivative(self, z)

    def params(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{self.name}({args})"


@dataclass(frozen=True, repr=False)
class ATan(Surrogate):
    name: ClassVar[str] = "atan"
    alpha: float = 2.0

    def check(self) -> str | None:
        return None if self.alpha > 0 else f"alpha={self.alpha} must be > 0"

    def __call__(self, z):
        return snn_surrogate.ATan.apply(z, self.alpha)

    def derivative_(self, z):  # snnTorch's ATan backward, alpha/2 / (1 + (pi/2 alpha z)^2)
        z.mul_(torch.pi / 2 * self.alpha)
        return z.mul_(z).add_(1.0).reciprocal_().mul_(self.alpha / 2)


@dataclass(frozen=True, repr=False)
class FastSigmoid(Surrogate):
    name: ClassVar[str] = "fast_sigmoid"
    slope: float = 25.0

    def check(self) -> str | None:
        return None if self.slope > 0 else f"slope={self.slope} must be > 0"

    def __call__(self, z):
        return snn_surrogate.FastSigmoid.apply(z, self.slope)

    def derivative_(self, z):  # snnTorch's FastSigmoid backward, 1 / (slope |z| + 1)^2
        z.abs_().mul_(self.slope).add_(1.0)
        return z.mul_(z).reciprocal_()


@dataclass(frozen=True, repr=False)
class Rectangular(Surrogate):
    name: ClassVar[str] = "rectangular"
    width: float = 1.0

    def check(self) -> str | None:
        return None if self.width > 0 else f"width={self.width} must be > 0"

    def __call__(self, z):
        return _Rectangular.apply(z, self.width)

    def derivative_(self, z):
        return torch.lt(z.abs_(), self.width / 2, out=z).mul_(1.0 / self.width)


@dataclass(frozen=True, repr=False)
class StraightThrough(Surrogate):
    name: ClassVar[str] = "straight_through"
    epsilon: float = 0.0
    threshold: float = 1.0

    def check(self) -> str | None:
        if self.epsilon < 0:
            return f"epsilon={self.epsilon} must be >= 0"
        return None if self.threshold > 0 else f"threshold={self.threshold} must be > 0"

    def __call__(self, z):
        return _StraightThrough.apply(z, 1.0 / (self.threshold + self.epsilon))

    def derivative_(self, z):
        return torch.gt(z, 0.0, out=z).mul_(1.0 / (self.threshold + self.epsilon))


class _MultiGaussian(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, surrogate):
        ctx.save_for_backward(z)
        ctx.surrogate = surrogate
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(z), None


def _gaussian_(z: torch.Tensor, mu: float, sigma: float, factor: float = 1.0) -> torch.Tensor:
    """``factor`` times the normal density ``G(z; mu, sigma)``, computed in the storage of ``z``."""
    if mu != 0.0:
        z = z.sub_(mu)
    return z.square_().mul_(-0.5 / sigma**2).exp_().mul_(factor / (math.sqrt(2 * math.pi) * sigma))


@dataclass(frozen=True, repr=False)
class MultiGaussian(Surrogate):
    name: ClassVar[str] = "multi_gaussian"
    sigma: float = 0.5    # DH-SNN `lens`: the central Gaussian's sigma and the side ones' offset
    scale: float = 6.0    # DH-SNN `scale`: the side Gaussians' sigma in units of width
    height: float = 0.15  # DH-SNN `hight`: the side Gaussians' weight
    gamma: float = 0.5    # DH-SNN `gamma`: overall factor

    def check(self) -> str | None:
        for key in ("sigma", "scale", "gamma"):
            if not getattr(self, key) > 0:
                return f"{key}={getattr(self, key)} must be > 0"
        return None if self.height >= 0 else f"height={self.height} must be >= 0"

    def __call__(self, z):
        return _MultiGaussian.apply(z, self)

    def derivative_(self, z):
        # gamma [(1 + h) G(z; 0, s) - h G(z; -s, S) - h G(z; s, S)], S = scale s: one buffer besides z
        # (the side Gaussians summed into it), each density's constant folded into one multiply
        side = self.scale * self.sigma
        sides = _gaussian_(z + self.sigma, 0.0, side, factor=-self.height * self.gamma)
        sides.add_(_gaussian_(z - self.sigma, 0.0, side, factor=-self.height * self.gamma))
        centre = _gaussian_(z, 0.0, self.sigma, factor=(1.0 + self.height) * self.gamma)
        return centre.add_(sides)


SURROGATES: Registry[type[Surrogate]] = Registry("surrogate")
for _cls in (ATan, FastSigmoid, Rectangular, StraightThrough, MultiGaussian):
    SURROGATES.add(_cls.name, _cls)


class _Parameters(dict):
    """The parameters each surrogate takes, read off its fields when asked (a plugin's too)."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return tuple(item.name for item in dataclasses.fields(SURROGATES[name]))

    def __contains__(self, name: object) -> bool:
        return name in SURROGATES

    def __iter__(self):
        return iter(SURROGATES)

    def keys(self):  # type: ignore[override]
        return list(SURROGATES)

    def items(self):  # type: ignore[override]
        return [(name, self[name]) for name in SURROGATES]

    def __len__(self) -> int:
        return len(SURROGATES)


# the parameters each surrogate takes (config validation uses them)
SURROGATE_PARAMETERS = _Parameters()


def make_surrogate(name: str, **params: float) -> Surrogate:
    """Surrogate by name, e.g. ``make_surrogate("rectangular", width=0.5)``."""
    if name not in SURROGATES:
        raise ValueError(
            f"unknown surrogate {name!r}; choose one of {sorted(SURROGATES)} "
            f"(set neuron.surrogate.name=...)"
        )
    allowed = SURROGATE_PARAMETERS[name]
    for key in params:
        if key not in allowed:
            raise ValueError(f"surrogate {name!r} takes parameters {list(allowed)}, not {key!r}")
    return SURROGATES[name](**params)
