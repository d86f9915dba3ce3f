r"""Spiking neuron variants built from snnTorch neurons.

Every variant is one frozen :class:`NeuronSpec`: three independent axes (leak, reset,
recurrence) plus threshold, surrogate gradient and ``learn_beta``. :func:`build` turns a spec
(or a variant name) into a configured ``snn.Leaky`` subclass; :func:`simulate` runs it over a
time-major current ``[T, B, N]`` from a fresh state.

Discrete equations
------------------
Time steps ``t = 1..T``; every sequence starts from ``U[0] = 0`` and ``S[0] = 0``; ``I[t]`` is
the input current of the step (for a layer: ``W x[t]`` plus bias), ``theta`` the threshold and

    S[t] = H(U[t] - theta)            (H(z) = 1 if z > 0 else 0, seed 003 Eq. 2)

``U[t]`` is the membrane *before* the reset its own spike causes: the reset acts on the next
step, through ``S[t-1]``. This is snnTorch's ``Leaky`` with ``reset_delay=True``.

Exponential leak, ``beta = exp(-1/tau)`` (``tau`` in time steps) or ``beta`` given directly:

    reset zero      U[t] = beta (1 - S[t-1]) U[t-1] + I[t]          seed 001 Eq. 3, seed 003 Alg. 2
    reset subtract  U[t] = beta U[t-1] + I[t] - theta S[t-1]
    reset none      U[t] = beta U[t-1] + I[t]

``no_leak`` (IF) is ``beta = 1`` (``tau = inf``), ``complete_leak`` is ``beta = 0`` (the membrane
holds only the current step's input: ``U[t] = I[t]`` with reset zero or none).

Linear (subtractive) leak with rate ``lam >= 0`` per step (seed 002). The leak moves the
membrane toward rest (0) by ``lam`` per step and stops at rest:

    L(u) = sign(u) * max(|u| - lam, 0)
    reset zero      U[t] = L((1 - S[t-1]) U[t-1]) + I[t]
    reset subtract  U[t] = L(U[t-1]) + I[t] - theta S[t-1]
    reset none      U[t] = L(U[t-1]) + I[t]

Seed 002 states no discrete equation. We chose the soft-threshold form because it is the exact
Euler step of ``dU/dt = -lam * sign(U)`` (a constant leak current, as on TrueNorth or Loihi's
linear-leak mode) that never drives the membrane past rest: a plain ``U - lam`` would keep
draining a silent neuron to ``-inf`` and turn the leak into an ever-growing inhibitory bias.
``lam = 0`` is IF.

Recurrence (seed 001 Eq. 4) adds an all-to-all, bias-free recurrent current from the layer's
own spikes of the previous step to the same update:

    I[t] = W x[t] + V S[t-1],   e.g. U[t] = beta (1 - S[t-1]) U[t-1] + W x[t] + V S[t-1]

snnTorch's ``RLeaky`` with reset ``zero`` also wipes the input and recurrent current of the
step and gives ``V`` a bias, so recurrent variants pair our ``Leaky`` with a bias-free
``nn.Linear(N, N)``.

Backends. :func:`run_sequence` is the one place where a neuron is scanned over time. Backend
``snntorch`` calls the snnTorch module at every step (the reference). Backend ``fused`` runs the
same update over all T as one autograd node with a hand-written backward
(:class:`ablations.scan.NeuronScan`) on the module's own parameters (beta, lam, threshold,
surrogate, recurrent weight); it gives the same spikes, membranes and gradients (pinned by
``tests/test_scan.py``) in less time and memory (``benchmarks/train_step.py``). ``auto`` (the
default) is ``fused`` for every neuron the scan covers and ``snntorch`` otherwise. Choose per
network with :func:`set_backend` or ``neuron.backend=...``.

Surrogate gradients replace ``dS/dU`` in the backward pass (the forward pass is always H):

    atan(alpha)               dS/dU = (alpha / 2) / (1 + (pi alpha z / 2)^2)   (snnTorch ATan)
    fast_sigmoid(slope)       dS/dU = 1 / (slope |z| + 1)^2                   (snnTorch FastSigmoid)
    rectangular(width)        dS/dU = 1/width if |z| < width/2 else 0          (seed 001, "width")
    straight_through(epsilon) dS/dU = 1/(theta + epsilon) if z > 0 else 0      (seed 003 Eq. 5)

with ``z = U - theta``. Surrogates are small picklable objects, unlike snnTorch's closures.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import snntorch as snn
import snntorch.surrogate as snn_surrogate
import torch
from torch import nn

from .registry import Registry
from . import leak_gradient
from . import scan

__all__ = [
    "DEFAULT_TAU",
    "DEFAULT_LAM",
    "LEAKS",
    "RESETS",
    "SURROGATES",
    "SURROGATE_PARAMETERS",
    "VARIANTS",
    "register_variant",
    "variant_label",
    "effective_tau",
    "spec_from_config",
    "step",
    "exponential_leak",
    "linear_leak",
    "NeuronSpec",
    "Leaky",
    "LinearLeaky",
    "RecurrentNeuron",
    "build",
    "spec_for",
    "make_surrogate",
    "run_sequence",
    "simulate",
    "release_instances",
    "BACKENDS",
    "set_backend",
]

DEFAULT_TAU = 10.0  # time steps; used when an exponential leak is given neither tau nor beta
DEFAULT_LAM = 0.05  # membrane units per step; used when a linear leak is given no lam
LEAKS = ("exponential", "none", "complete", "linear")
BACKENDS = ("auto", "fused", "snntorch")
RESETS = ("zero", "subtract", "none")


# --------------------------------------------------------------------------- surrogates
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
        from .scan import autograd_derivative

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


SURROGATES: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (ATan, FastSigmoid, Rectangular, StraightThrough)
}
# the parameters each surrogate takes, read off its fields (config validation uses them)
SURROGATE_PARAMETERS: dict[str, tuple[str, ...]] = {
    name: tuple(item.name for item in dataclasses.fields(cls)) for name, cls in SURROGATES.items()
}


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


# --------------------------------------------------------------------------- spec
def effective_tau(leak: str, tau: float | None = None, beta: float | None = None) -> float | None:
    """Membrane time constant in steps of a leak: ``tau`` when given, else from ``beta = exp(-1/tau)``
    (inf for IF, 0 for complete leak); None for a linear leak, which has no time constant."""
    if leak == "none":
        return math.inf
    if leak == "complete":
        return 0.0
    if leak != "exponential":
        return None
    if tau is not None and not math.isnan(float(tau)):
        return float(tau)
    if beta is None or math.isnan(float(beta)):
        return None
    beta = float(beta)
    return math.inf if beta >= 1.0 else 0.0 if beta <= 0.0 else -1.0 / math.log(beta)


@dataclass(frozen=True)
class NeuronSpec:
    """Everything that defines a neuron variant. Validated on construction.

    ``leak``: ``exponential`` (``tau`` in time steps, inf = IF, or ``beta`` in [0, 1]; not both),
    ``none`` (IF, beta 1), ``complete`` (beta 0) or ``linear`` (``lam`` per step).
    ``reset``: ``zero``, ``subtract`` or ``none``. ``recurrent``: add ``V S[t-1]``.
    """

    leak: str = "exponential"
    tau: float | None = None
    beta: float | None = None
    lam: float | None = None
    reset: str = "zero"
    recurrent: bool = False
    threshold: float = 1.0
    surrogate: str = "atan"
    surrogate_params: Mapping[str, float] = field(default_factory=dict)
    learn_beta: bool = False
    variant: str | None = None
    gradient: str = "exact"  # exact | leak_corrected (ref [21], seed 003 Eq. 5): ablations/leak_gradient.py

    def __post_init__(self) -> None:
        if self.leak not in LEAKS:
            raise ValueError(f"neuron.leak={self.leak!r} is not one of {list(LEAKS)}")
        if self.reset not in RESETS:
            raise ValueError(f"neuron.reset={self.reset!r} is not one of {list(RESETS)}")
        if self.tau is not None and self.beta is not None:
            raise ValueError(
                f"neuron.tau={self.tau} and neuron.beta={self.beta} were both given; they set the "
                "same leak (beta = exp(-1/tau)): give one of them and leave the other null"
            )
        if self.tau is not None and not (float(self.tau) > 0):
            raise ValueError(
                f"neuron.tau={self.tau} is not allowed: tau is the membrane time constant in time "
                "steps and must be > 0 (use tau=inf for no leak)"
            )
        if self.beta is not None and not (0.0 <= float(self.beta) <= 1.0):
            raise ValueError(f"neuron.beta={self.beta} is not allowed: beta must lie in [0, 1]")
        if self.lam is not None and not (float(self.lam) >= 0):
            raise ValueError(f"neuron.lam={self.lam} is not allowed: lam must be >= 0")
        if self.leak != "exponential" and (self.tau is not None or self.beta is not None):
            raise ValueError(
                f"neuron.tau/beta only apply to leak='exponential', but leak={self.leak!r}; "
                "use variant=vanilla with neuron.tau=... to sweep the leak, or leave tau/beta null"
            )
        if self.leak != "linear" and self.lam is not None:
            raise ValueError(
                f"neuron.lam only applies to leak='linear' (variant=linear_leak), but leak={self.leak!r}"
            )
        if not (float(self.threshold) > 0):
            raise ValueError(f"neuron.threshold={self.threshold} must be > 0")
        if self.learn_beta and self.leak == "linear":
            raise ValueError("learn_beta applies to beta leaks only, not leak='linear'")
        make_surrogate(self.surrogate, **self._surrogate_kwargs())  # validates name and params
        leak_gradient.check(self)

    # ------------------------------------------------------------------ derived values
    @property
    def beta_value(self) -> float | None:
        """The decay factor beta of the update, or None for a linear leak."""
        if self.leak == "none":
            return 1.0
        if self.leak == "complete":
            return 0.0
        if self.leak == "linear":
            return None
        if self.beta is not None:
            return float(self.beta)
        tau = DEFAULT_TAU if self.tau is None else float(self.tau)
        return math.exp(-1.0 / tau) if math.isfinite(tau) else 1.0

    @property
    def tau_value(self) -> float | None:
        """The membrane time constant in steps: inf for no leak, 0 for complete leak, None for linear."""
        return effective_tau(self.leak, self.tau, self.beta_value)

    @property
    def lam_value(self) -> float | None:
        if self.leak != "linear":
            return None
        return DEFAULT_LAM if self.lam is None else float(self.lam)

    def resolved(self) -> "NeuronSpec":
        """The same neuron with defaults made explicit (tau or lam filled in)."""
        if self.leak == "exponential" and self.tau is None and self.beta is None:
            return dataclasses.replace(self, tau=DEFAULT_TAU)
        if self.leak == "linear" and self.lam is None:
            return dataclasses.replace(self, lam=DEFAULT_LAM)
        return self

    def _surrogate_kwargs(self) -> dict[str, float]:
        kwargs = dict(self.surrogate_params)
        if self.surrogate == "straight_through":
            kwargs.setdefault("threshold", float(self.threshold))
        return kwargs

    def make_surrogate(self) -> Surrogate:
        return make_surrogate(self.surrogate, **self._surrogate_kwargs())

    def describe(self) -> str:
        if self.leak == "exponential":
            leak = f"exponential leak (beta={self.beta_value:.4g})"
        elif self.leak == "linear":
            leak = f"linear leak (lam={self.lam_value:g})"
        else:
            leak = {"none": "no leak (IF)", "complete": "complete leak (beta=0)"}[self.leak]
        rec = ", recurrent" if self.recurrent else ""
        return f"{leak}, reset {self.reset}{rec}, threshold {self.threshold:g}, surrogate {self.make_surrogate()!r}"


VARIANTS: Registry[NeuronSpec] = Registry("variant")


def register_variant(name: str, spec: NeuronSpec, replace: bool = False) -> NeuronSpec:
    """Register a variant preset (its ``variant`` label set to ``name``); plugins call this
    next to a ``conf/variant/<name>.yaml`` (or ``variant.yaml`` in their own config folder)."""
    return VARIANTS.add(name, dataclasses.replace(spec, variant=name), replace=replace)


for _name, _spec in {
    "vanilla": NeuronSpec(leak="exponential", reset="zero"),
    "no_leak": NeuronSpec(leak="none", reset="zero"),
    "complete_leak": NeuronSpec(leak="complete", reset="zero"),
    "no_reset": NeuronSpec(leak="exponential", reset="none"),
    "recurrent": NeuronSpec(leak="exponential", reset="zero", recurrent=True),
    "linear_leak": NeuronSpec(leak="linear", reset="zero"),
    "no_leak_recurrent": NeuronSpec(leak="none", reset="zero", recurrent=True),
    "no_leak_no_reset_recurrent": NeuronSpec(leak="none", reset="none", recurrent=True),
}.items():
    register_variant(_name, _spec)


def variant_label(spec: NeuronSpec) -> str:
    """The name a spec is filed and drawn under: its own ``variant`` while its physics (leak kind,
    reset, recurrence) are that preset's; otherwise the preset with the same physics; otherwise
    a name built from the axes (e.g. ``exponential_subtract``)."""
    def physics(other: NeuronSpec) -> tuple:
        return (other.leak, other.reset, bool(other.recurrent))

    if spec.variant in VARIANTS and physics(VARIANTS[spec.variant]) == physics(spec):
        return str(spec.variant)
    for name, preset in VARIANTS.items():
        if physics(preset) == physics(spec):
            return name
    return "_".join([spec.leak, spec.reset] + (["recurrent"] if spec.recurrent else []))


def spec_for(variant_or_spec: str | NeuronSpec, **overrides: Any) -> NeuronSpec:
    """A validated spec from a variant name or a spec, with fields overridden."""
    if isinstance(variant_or_spec, NeuronSpec):
        base = variant_or_spec
    elif isinstance(variant_or_spec, str) and variant_or_spec in VARIANTS:
        base = VARIANTS[variant_or_spec]
    else:
        raise ValueError(
            f"unknown variant {variant_or_spec!r}; valid variants: {', '.join(VARIANTS)}"
        )
    names = {f.name for f in dataclasses.fields(NeuronSpec)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown neuron field(s) {unknown}; valid fields: {sorted(names)}")
    if "surrogate_params" in overrides and overrides["surrogate_params"] is not None:
        overrides["surrogate_params"] = dict(overrides["surrogate_params"])
    spec = dataclasses.replace(base, **overrides)
    return dataclasses.replace(spec, variant=variant_label(spec))


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not a number") from None


def spec_from_config(node: Mapping[str, Any]) -> NeuronSpec:
    """The validated spec of a ``neuron`` config node (``conf/config.yaml``), labelled by its physics.

    The surrogate block holds every surrogate's parameter; only the chosen one's are read, and one
    of the others set away from its default is an error (it would silently change nothing).
    """
    surrogate = dict(node.get("surrogate") or {"name": "atan"})
    name = str(surrogate.pop("name", "atan"))
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; choose one of {sorted(SURROGATES)} (set neuron.surrogate.name=...)")
    own = set(SURROGATE_PARAMETERS[name]) - {"threshold"}  # straight_through's threshold is the neuron's
    defaults = {item.name: item.default for cls in SURROGATES.values() for item in dataclasses.fields(cls)}
    for key, value in surrogate.items():
        if key not in own and value is not None and key in defaults and _number(value, key) != defaults[key]:
            raise ValueError(f"neuron.surrogate.{key}={value} is not a parameter of surrogate {name!r}, so it would "
                             f"change nothing; {name} takes: {', '.join(sorted(own)) or 'no parameters'}")
    params = {k: _number(v, f"neuron.surrogate.{k}") for k, v in surrogate.items() if k in own and v is not None}
    spec = NeuronSpec(
        leak=str(node.get("leak", "exponential")),
        tau=_number(node.get("tau"), "neuron.tau"),
        beta=_number(node.get("beta"), "neuron.beta"),
        lam=_number(node.get("lam"), "neuron.lam"),
        reset=str(node.get("reset", "zero")),
        recurrent=bool(node.get("recurrent", False)),
        threshold=float(_number(node.get("threshold", 1.0), "neuron.threshold")),
        surrogate=name,
        surrogate_params=params,
        learn_beta=bool(node.get("learn_beta", False)),
        variant=str(node.get("variant")) if node.get("variant") is not None else None,
        gradient=str(node.get("gradient", "exact")),
    )
    return dataclasses.replace(spec, variant=variant_label(spec))


# --------------------------------------------------------------------------- the update, as pure functions
def exponential_leak(mem: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """``beta U`` (beta clamped to [0, 1]: a learnable beta stays a decay factor)."""
    if isinstance(beta, torch.Tensor):
        beta = beta.clamp(0, 1)
    return beta * mem


def linear_leak(mem: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """``L(u) = sign(u) max(|u| - lam, 0)``: toward rest by ``lam``, never past it."""
    # u - clamp(u, -lam, lam) == sign(u) * max(|u| - lam, 0), in two element-wise ops
    return mem - torch.clamp(mem, -lam, lam)


def step(mem: torch.Tensor, fired: torch.Tensor, current: torch.Tensor, leak: Callable[[torch.Tensor], torch.Tensor],
         reset: str, threshold: torch.Tensor | float) -> torch.Tensor:
    """One update of the module docstring: ``U[t]`` from ``U[t-1]``, ``S[t-1]`` (``fired``, without
    gradient, as snnTorch detaches the reset) and the step's current ``I[t]``."""
    if reset == "zero":
        return leak((1 - fired) * mem) + current
    if reset == "subtract":
        return leak(mem) + current - fired * threshold
    return leak(mem) + current


# --------------------------------------------------------------------------- modules
class Leaky(snn.Leaky):
    """``snn.Leaky`` with explicit state only: it never joins snnTorch's global instance list
    (which would keep every neuron ever built alive) and carries its :class:`NeuronSpec`.

    ``neuron(current)`` scans a time-major current ``[T, B, ...]`` from a fresh state and returns
    ``(spikes, membrane)``; :meth:`step` is one snnTorch step with the membrane passed in.
    """

    def __init__(self, spec: NeuronSpec):
        beta = spec.beta_value
        super().__init__(
            beta=1.0 if beta is None else beta,
            threshold=float(spec.threshold),
            spike_grad=spec.make_surrogate(),
            init_hidden=False,
            learn_beta=bool(spec.learn_beta),
            reset_mechanism=spec.reset,
            reset_delay=True,
        )
        _forget_instance(self)
        self.spec = spec
        self.backend = "auto"

    def extra_repr(self) -> str:
        return self.spec.describe() + ("" if self.backend == "auto" else f", backend {self.backend}")

    def forward(self, current: torch.Tensor, mem: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """``neuron(current[T, B, ...])``: the sequence from a fresh state. With ``mem`` (the runner's
        per-step call, so that forward hooks such as NeuroBench's see every step): one :meth:`step`."""
        if mem is not None:
            return self.step(current, mem)
        spikes, membrane = run_sequence(self, current, record_membrane=True)
        return spikes, membrane  # type: ignore[return-value]

    def step(self, current: torch.Tensor, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step through snnTorch's ``Leaky``: ``(S[t], U[t])`` from ``I[t]`` and ``U[t-1]``."""
        return snn.Leaky.forward(self, current, mem)

    def leak(self, mem: torch.Tensor) -> torch.Tensor:
        """The leak term of the update applied to the previous membrane."""
        return exponential_leak(mem, self.beta)


class LinearLeaky(Leaky):
    """Linear (subtractive) leak toward rest: ``L(u) = sign(u) max(|u| - lam, 0)``. snnTorch has
    no linear leak, so its step is :func:`step` with :func:`linear_leak` (the fired spikes of the
    previous step are ``H(U[t-1] - theta)``, as in snnTorch's delayed reset)."""

    def __init__(self, spec: NeuronSpec):
        super().__init__(spec)
        self.register_buffer("lam", torch.as_tensor(float(spec.lam_value)))

    def leak(self, mem: torch.Tensor) -> torch.Tensor:
        return linear_leak(mem, self.lam)

    def step(self, current: torch.Tensor, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fired = (mem > self.threshold).to(mem.dtype)
        mem = step(mem, fired, current, self.leak, self.spec.reset, self.threshold)
        return self.spike_grad(mem - self.threshold), mem


class RecurrentNeuron(nn.Module):
    """A :class:`Leaky` cell with an all-to-all, bias-free recurrent current ``V S[t-1]``;
    ``neuron(current)`` scans ``[T, B, N]`` from a fresh state like every neuron."""

    def __init__(self, spec: NeuronSpec, n_neurons: int):
        super().__init__()
        self.cell = _cell(spec)
        self.recurrent = nn.Linear(n_neurons, n_neurons, bias=False)
        self.spec = spec

    @property
    def n_neurons(self) -> int:
        return self.recurrent.in_features

    def forward(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, membrane = run_sequence(self, current, record_membrane=True)
        return spikes, membrane  # type: ignore[return-value]


def _cell(spec: NeuronSpec) -> Leaky:
    return LinearLeaky(spec) if spec.leak == "linear" else Leaky(spec)


def _forget_instance(neuron: nn.Module) -> None:
    instances = snn.SpikingNeuron.instances
    for i in range(len(instances) - 1, -1, -1):
        if instances[i] is neuron:
            del instances[i]


def set_backend(module: nn.Module, backend: str) -> nn.Module:
    """Set the sequence backend of every neuron inside ``module`` (``auto``, ``fused``, ``snntorch``)."""
    if backend not in BACKENDS:
        raise ValueError(f"neuron.backend={backend!r} is not one of {list(BACKENDS)}")
    for child in module.modules():
        if isinstance(child, Leaky):
            child.backend = backend
    return module


def release_instances() -> None:
    """Empty snnTorch's class-level neuron list (neurons built elsewhere with snnTorch)."""
    snn.SpikingNeuron.instances.clear()


def build(variant_or_spec: str | NeuronSpec, n_neurons: int | None = None, **overrides: Any) -> nn.Module:
    """A configured neuron module: ``build("no_reset", tau=100.0)``; ``neuron(current)`` gives
    ``(spikes, membrane)``. Recurrent variants need the layer width: ``build("recurrent", n_neurons=512)``.
    """
    spec = spec_for(variant_or_spec, **overrides)
    if spec.recurrent:
        if not n_neurons or n_neurons < 1:
            raise ValueError(
                f"variant {spec.variant or 'recurrent'!r} is recurrent and needs the layer width: "
                "build(..., n_neurons=N)"
            )
        return RecurrentNeuron(spec, int(n_neurons))
    return _cell(spec)


# --------------------------------------------------------------------------- sequence runner
def run_sequence(
    neuron: nn.Module, current: torch.Tensor, record_membrane: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scan a neuron over time from a fresh state.

    ``current`` is ``[T, B, ...]``; returns spikes ``[T, B, ...]`` and, when asked for, the
    membrane ``U[t]`` of the equations (before the reset its spike causes), same shape.
    For a :class:`RecurrentNeuron` the trailing dimensions are flattened to its width.
    """
    if current.dim() < 2:
        raise ValueError(f"current must be time-major [T, B, ...], got shape {tuple(current.shape)}")
    steps = current.shape[0]
    recurrent = neuron.recurrent if isinstance(neuron, RecurrentNeuron) else None
    cell = neuron.cell if isinstance(neuron, RecurrentNeuron) else neuron
    if recurrent is not None and current[0, 0].numel() != recurrent.in_features:
        raise ValueError(
            f"recurrent neuron of width {recurrent.in_features} got current of shape "
            f"{tuple(current.shape)}"
        )
    if cell.spec.gradient != "exact":
        return leak_gradient.scan(cell, current, record_membrane)
    if cell.backend == "fused" or (cell.backend == "auto" and scan.supports(cell, recurrent)):
        return _scan_fused(cell, recurrent, current, record_membrane)
    mem = torch.zeros_like(current[0])
    spk = torch.zeros_like(current[0])
    spikes, membranes = [], []
    for t in range(steps):
        step_current = current[t]
        if recurrent is not None:
            step_current = step_current + recurrent(spk)
        spk, mem = cell(step_current, mem)  # a module call: forward hooks see each step
        spikes.append(spk)
        if record_membrane:
            membranes.append(mem)
    cell.mem = torch.zeros(0, device=current.device)  # drop the reference to the last graph node
    return torch.stack(spikes), (torch.stack(membranes) if record_membrane else None)


def _scan_fused(cell: Leaky, recurrent: nn.Linear | None, current: torch.Tensor,
                record_membrane: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The update of the module docstring as one autograd node over all T (:mod:`ablations.scan`)."""
    if not scan.supports(cell):
        raise ValueError(
            f"neuron.backend=fused does not cover this neuron ({cell!r}); use neuron.backend=auto, "
            "which falls back to snntorch for it"
        )
    spikes, membrane = scan.fused_scan(cell, recurrent, current)
    return spikes, (membrane if record_membrane else None)


def simulate(neuron: nn.Module, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``[T, B, N]`` of a neuron driven by ``current [T, B, N]``."""
    spikes, membrane = run_sequence(neuron, current, record_membrane=True)
    return spikes, membrane  # type: ignore[return-value]
