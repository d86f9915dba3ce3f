r"""Neuron components: each part of the dynamics is one registered object with its parameters,
its step and the ``neuron.*`` keys it reads.

A neuron is one choice per **slot**. The slots, in the order the step applies them:

    slot         key (neuron.*)   components                      reads
    recurrence   recurrent        none | all_to_all               -
    synapse      synapse          none | current                  syn_alpha
    input        input_scale      none | one_minus_beta           -
    leak         leak             exponential | none | complete | linear
                                                                  tau, beta, learn_beta, leak_shape, leak_init | lam
    reset        reset            zero | subtract | none          -
    adaptation   adaptation       none | alif                     adapt_tau, adapt_scale

One step ``t`` (the definition; :func:`ablations.neurons.cells.generic_step` runs it, the fused
scan is an optimisation pinned against it), from ``U[t-1]``, ``S[t-1]`` (no gradient through the
reset, as in snnTorch) and the layer's input current ``I[t]``:

    I <- I + V S[t-1]                       recurrence all_to_all (seed 001 Eq. 4)
    Y[t] = a Y[t-1] + I;  I <- Y[t]         synapse current (snnTorch ``Synaptic``'s current, a = syn_alpha)
    I <- (1 - beta) I                       input one_minus_beta (DH-SNN's normalised input; 1 where beta = 1)
    P = U[t-1] (1 - r S[t-1])               reset (r = 1 zero, 0 subtract / none)
    U[t] = leak(P) + I - q theta S[t-1]      (q = 1 subtract, 0 zero / none)
    A[t] = rho A[t-1] + S[t-1];  Th[t] = theta + b A[t]      adaptation alif (Bellec et al. 2020)
    S[t] = H(U[t] - Th[t])                  (Th = theta without adaptation)

A reset is the pair ``(r, q)`` of :class:`ResetForm` (a plugin's ``half`` reset is ``r = 1/2``), or
any ``reset(cell, previous, fired) -> (P, subtracted)`` hook. ``S[t-1]`` in the reset carries no
gradient unless ``neuron.reset_grad=true`` (DH-SNN back-propagates through ``-theta S[t-1]``).

A plugin adds a component to a slot (``COMPONENTS.add``) or a new slot with its components
(:func:`register_slot`). Which components a fast path runs is declared by the path
(``COVERED`` in :mod:`ablations.neurons.torch_scan` and :mod:`ablations.neurons.numba_scan`) and
computed by :func:`ablations.neurons.torch_scan.covers`: the built-in components, a reset given as a
:class:`ResetForm`, and a component that overrides none of the hooks (it changes nothing). Any
other component runs through the generic per-step path with autograd (correct, slower; said once
in the log).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from ..registry import Registry

__all__ = ["Slot", "SLOTS", "COMPONENTS", "Component", "register_slot", "component_for", "slot_choices",
           "component_keys", "linear_leak", "register_component", "ResetForm", "FormReset", "is_identity", "components_of", "slot_value", "parse_leak_init", "LEAK_SHAPES", "DEFAULT_SYN_ALPHA", "DEFAULT_ADAPT_TAU",
           "DEFAULT_ADAPT_SCALE"]

LEAK_SHAPES = ("scalar", "per_neuron")
DEFAULT_SYN_ALPHA = 0.9    # snnTorch tutorial 5's alpha for Synaptic (an assumption: no paper here sets it)
DEFAULT_ADAPT_TAU = 100.0  # steps; an assumption (Bellec et al. 2020 use 200-2000 ms at 1 ms steps)
DEFAULT_ADAPT_SCALE = 1.8  # Bellec et al. 2018/2020's beta = 1.8 (also DH-SNN spike_neuron.py line 15)


@dataclass(frozen=True)
class Slot:
    """One part of the dynamics: ``key`` is its ``neuron.*`` config key, ``default`` the component
    a neuron has when neither its variant nor an override chooses one; ``stage`` is where its
    component acts in the step: ``current`` (shapes the input current), ``leak``, ``reset`` or
    ``threshold``."""

    name: str
    key: str
    default: str
    stage: str


SLOTS: Registry[Slot] = Registry("neuron slot")
STAGES = ("current", "leak", "reset", "threshold")


def register_slot(name: str, key: str | None = None, default: str = "none", stage: str = "current") -> Slot:
    """A new part of the dynamics (plugins): a ``current`` slot shapes the input current after the
    built-in ones, a ``threshold`` slot moves the threshold after adaptation, in the order they were
    registered. (A new leak or reset is a component of the ``leak`` or ``reset`` slot instead.)"""
    if stage not in ("current", "threshold"):
        raise ValueError(f"a plugin slot acts on the current or the threshold, not {stage!r}; a new leak or "
                         "reset is a component of the leak or reset slot (register_component(MyLeak()))")
    return SLOTS.add(name, Slot(name, key or name, default, stage))


for _slot in (Slot("recurrence", "recurrent", "none", "current"), Slot("synapse", "synapse", "none", "current"),
              Slot("input", "input_scale", "none", "current"), Slot("leak", "leak", "exponential", "leak"),
              Slot("reset", "reset", "zero", "reset"), Slot("adaptation", "adaptation", "none", "threshold")):
    SLOTS.add(_slot.name, _slot)


class Component:
    """One choice for one slot. Subclasses set ``slot``, ``name``, ``keys`` (the ``neuron.*``
    parameters it reads besides its slot key) and override the hooks of their stage (whether a fast
    path runs it is that path's declaration, never the component's own claim). Components hold no tensors: :meth:`build` registers their
    parameters and buffers on the neuron module, and the step reads them from there."""

    slot: ClassVar[str] = ""
    name: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def check(self, spec: Any) -> None:
        """Raise ValueError when the spec's parameters are invalid for this component."""

    def build(self, cell: nn.Module, spec: Any, n_neurons: int | None) -> None:
        """Register this component's parameters / buffers on ``cell``."""

    def init_state(self, cell: nn.Module, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra state (beyond ``U`` and ``S``) this component keeps, at rest."""
        return {}

    # stage "current": I[t] -> I[t] (``state`` holds this component's state, ``fired`` = S[t-1])
    def current(self, cell: nn.Module, current: torch.Tensor, state: dict, fired: torch.Tensor,
                recurrent: nn.Module | None) -> torch.Tensor:
        return current

    # stage "leak": leak(P), the leaked previous membrane
    def apply(self, cell: nn.Module, previous: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"leak component {self.name!r} defines no apply(cell, previous)")

    # stage "reset": (P, subtracted) of U[t] = leak(P) + I[t] - subtracted (None: nothing), from U[t-1], S[t-1]
    def reset(self, cell: nn.Module, previous: torch.Tensor, fired: torch.Tensor,
              threshold: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError(f"reset component {self.name!r} defines no reset(cell, previous, fired, threshold)")

    # stage "threshold": the threshold of S[t] (may update this component's state from S[t-1])
    def threshold(self, cell: nn.Module, threshold: Any, state: dict, fired: torch.Tensor) -> Any:
        return threshold

    def describe(self, spec: Any) -> str:
        return f"{self.slot} {self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.slot}={self.name})"


COMPONENTS: Registry[Component] = Registry("neuron component")
_HOOKS = ("init_state", "current", "apply", "reset", "threshold", "build")


def is_identity(component: Component) -> bool:
    """Whether ``component`` overrides none of the hooks: it changes nothing in the step (a plugin
    slot's ``none``), so every path runs it by doing nothing."""
    return all(getattr(type(component), hook) is getattr(Component, hook) for hook in _HOOKS)


def register_component(component: Component, replace: bool = False) -> Component:
    """Add a component instance to its slot (plugins): ``register_component(MyPart())``."""
    if component.slot not in SLOTS:
        raise ValueError(f"component {component.name!r}: unknown slot {component.slot!r}; slots: {', '.join(SLOTS)} "
                         "(a new one: register_slot)")
    return COMPONENTS.add(f"{component.slot}-{component.name}", component, replace=replace)


def _component(cls: type[Component]) -> type[Component]:
    COMPONENTS.add(f"{cls.slot}-{cls.name}", cls())
    return cls


def component_for(slot: str, name: str) -> Component:
    """The component called ``name`` in ``slot``; a miss lists the slot's components."""
    if slot not in SLOTS:
        raise ValueError(f"unknown neuron slot {slot!r}; slots: {', '.join(SLOTS)}")
    if f"{slot}-{name}" not in COMPONENTS:
        raise ValueError(f"neuron.{SLOTS[slot].key}={name!r} is not one of {slot_choices(slot)}")
    return COMPONENTS[f"{slot}-{name}"]


def slot_choices(slot: str) -> list[str]:
    return [key.split("-", 1)[1] for key in COMPONENTS if key.split("-", 1)[0] == slot]


def component_keys() -> dict[str, list[str]]:
    """Every component parameter key -> the components (``slot=name``) that read it."""
    readers: dict[str, list[str]] = {}
    for key, component in COMPONENTS.items():
        for parameter in component.keys:
            readers.setdefault(parameter, []).append(f"{SLOTS[component.slot].key}={component.name}")
    return readers


# --------------------------------------------------------------------------- leak
def linear_leak(mem: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """``L(u) = sign(u) max(|u| - lam, 0)``: toward rest by ``lam``, never past it."""
    # u - clamp(u, -lam, lam) == sign(u) * max(|u| - lam, 0), in two element-wise ops
    return mem - torch.clamp(mem, -lam, lam)


def parse_leak_init(text: str | None) -> tuple[str, tuple[float, ...]] | None:
    """``uniform(a,b)`` | ``normal(mean,std)`` | ``constant(p)`` -> (kind, numbers); None stays None.
    The distribution is of ``p`` in ``beta = sigmoid(p)`` (DH-SNN draws ``tau_m ~ U(0, 4)`` and uses
    ``alpha = sigmoid(tau_m)``: delayed_xor/SNN_layers/spike_dense.py)."""
    if text is None:
        return None
    raw = str(text).replace(" ", "")
    forms = {"uniform": 2, "normal": 2, "constant": 1}
    for kind, count in forms.items():
        if raw.startswith(kind + "(") and raw.endswith(")"):
            try:
                numbers = tuple(float(v) for v in raw[len(kind) + 1:-1].split(","))
            except ValueError:
                break
            if len(numbers) != count:
                break
            if kind == "uniform" and not numbers[0] < numbers[1]:
                raise ValueError(f"neuron.leak_init={text!r}: uniform(a,b) needs a < b")
            if kind == "normal" and not numbers[1] > 0:
                raise ValueError(f"neuron.leak_init={text!r}: normal(mean,std) needs std > 0")
            return kind, numbers
    raise ValueError(f"neuron.leak_init={text!r} is not a distribution of p (beta = sigmoid(p)); use "
                     "uniform(a,b), normal(mean,std) or constant(p), e.g. neuron.leak_init='uniform(0,4)'")


class BetaLeak(Component):
    """``leak(P) = beta P`` with beta in [0, 1] (clamped, as snnTorch does). ``leak_shape=per_neuron``
    gives every neuron of the layer its own beta; ``leak_init`` draws ``p`` and learns
    ``beta = sigmoid(p)`` (the parameter is ``leak_logit``); otherwise beta is snnTorch's own
    ``beta`` buffer (a parameter with ``learn_beta``)."""

    slot = "leak"
    keys = ("learn_beta", "leak_shape", "leak_init")

    def check(self, spec: Any) -> None:
        if spec.leak_shape not in LEAK_SHAPES:
            raise ValueError(f"neuron.leak_shape={spec.leak_shape!r} is not one of {list(LEAK_SHAPES)}")
        parse_leak_init(spec.leak_init)
        if spec.leak_init is not None and (spec.tau is not None or spec.beta is not None):
            given = f"neuron.tau={spec.tau}" if spec.tau is not None else f"neuron.beta={spec.beta}"
            raise ValueError(f"{given} would change nothing: with neuron.leak_init={spec.leak_init} beta = sigmoid(p) "
                             "is drawn from leak_init; set neuron.leak_init=null to fix the leak by tau or beta")

    def build(self, cell: nn.Module, spec: Any, n_neurons: int | None) -> None:
        if spec.leak_shape == "per_neuron" and not n_neurons:
            raise ValueError("neuron.leak_shape=per_neuron needs the layer width, which this package knows for "
                             "fully connected layers only; use leak_shape=scalar for convolutional layers")
        shape = (int(n_neurons),) if spec.leak_shape == "per_neuron" else ()
        init = parse_leak_init(spec.leak_init)
        if init is None:
            beta = torch.full(shape, float(spec.beta_value))
            if isinstance(cell.beta, nn.Parameter):
                cell.beta = nn.Parameter(beta)
            else:
                cell.beta = beta
            return
        kind, numbers = init
        logit = torch.empty(shape)
        if kind == "uniform":
            nn.init.uniform_(logit, *numbers)
        elif kind == "normal":
            nn.init.normal_(logit, *numbers)
        else:
            logit.fill_(numbers[0])
        if spec.learn_beta:
            cell.leak_logit = nn.Parameter(logit)
        else:
            cell.register_buffer("leak_logit", logit)

    def apply(self, cell: nn.Module, previous: torch.Tensor) -> torch.Tensor:
        return previous * cell.decay()

    def describe(self, spec: Any) -> str:
        shape = "" if spec.leak_shape == "scalar" else ", per neuron"
        if spec.leak_init is not None:
            learned = "learned " if spec.learn_beta else ""
            return f"exponential leak ({learned}beta = sigmoid(p), p ~ {spec.leak_init}{shape})"
        return f"exponential leak (beta={spec.beta_value:.4g}{shape})"


@_component
class ExponentialLeak(BetaLeak):
    name = "exponential"
    keys = ("tau", "beta") + BetaLeak.keys


@_component
class NoLeak(BetaLeak):
    """Integrate-and-fire: beta = 1, fixed."""

    name = "none"
    keys = ("learn_beta",)

    def check(self, spec: Any) -> None:
        pass

    def describe(self, spec: Any) -> str:
        return "no leak (IF)"


@_component
class CompleteLeak(NoLeak):
    """beta = 0, fixed: the membrane holds the current step's input only."""

    name = "complete"

    def describe(self, spec: Any) -> str:
        return "complete leak (beta=0)"


@_component
class LinearLeak(Component):
    """``leak(P) = sign(P) max(|P| - lam, 0)``: toward rest by ``lam`` per step, never past it."""

    slot = "leak"
    name = "linear"
    keys = ("lam",)

    def build(self, cell: nn.Module, spec: Any, n_neurons: int | None) -> None:
        cell.register_buffer("lam", torch.as_tensor(float(spec.lam_value)))

    def apply(self, cell: nn.Module, previous: torch.Tensor) -> torch.Tensor:
        return linear_leak(previous, cell.lam)

    def describe(self, spec: Any) -> str:
        return f"linear leak (lam={spec.lam_value:g})"


# --------------------------------------------------------------------------- reset
@dataclass(frozen=True)
class ResetForm:
    """A reset the fast paths run: ``P = U[t-1] (1 - scale S[t-1])`` and ``subtract theta S[t-1]``
    taken off after the leak. ``zero`` is (1, 0), ``subtract`` (0, 1), ``none`` (0, 0)."""

    scale: float = 0.0
    subtract: float = 0.0


class FormReset(Component):
    """A reset given by its :class:`ResetForm` ``form``: the step below is its definition, and the
    fast paths run the same form (a plugin reset ``half`` is ``form = ResetForm(scale=0.5)``)."""

    slot = "reset"
    form: ClassVar[ResetForm] = ResetForm()

    def reset(self, cell, previous, fired, threshold):
        form = self.form
        kept = previous if form.scale == 0 else previous * (1 - form.scale * fired)
        return kept, (None if form.subtract == 0 else fired * (form.subtract * threshold))


@_component
class ZeroReset(FormReset):
    """``P = (1 - S[t-1]) U[t-1]``: to rest after a spike (snnTorch ``reset_mechanism="zero"``)."""

    name, form = "zero", ResetForm(scale=1.0)


@_component
class SubtractReset(FormReset):
    """``U[t] = leak(U[t-1]) + I[t] - theta S[t-1]``: the threshold taken off (snnTorch ``"subtract"``)."""

    name, form = "subtract", ResetForm(subtract=1.0)


@_component
class NoReset(FormReset):
    name, form = "none", ResetForm()


# --------------------------------------------------------------------------- current
@_component
class NoRecurrence(Component):
    slot, name = "recurrence", "none"


@_component
class AllToAll(Component):
    """``I <- I + V S[t-1]``: an all-to-all, bias-free recurrent matrix ``V`` (the neuron's
    ``recurrent`` ``nn.Linear``); ``S[t-1]`` carries its gradient here (seed 001 Eq. 4)."""

    slot, name = "recurrence", "all_to_all"

    def current(self, cell, current, state, fired, recurrent):
        return current + recurrent(state["spikes"])


@_component
class NoSynapse(Component):
    slot, name = "synapse", "none"


@_component
class CurrentSynapse(Component):
    """``Y[t] = a Y[t-1] + I[t]``, the membrane integrates ``Y``: snnTorch ``Synaptic``'s synaptic
    current with ``alpha = a = syn_alpha`` (a buffer ``syn_alpha`` on the neuron). Its reset
    ``subtract`` and ``none`` equal snnTorch's ``Synaptic`` exactly; with reset ``zero`` snnTorch
    also discards the step's synaptic current (as its ``RLeaky`` does), here the step keeps its
    input as every variant of this package does."""

    slot, name = "synapse", "current"
    keys = ("syn_alpha",)

    def check(self, spec: Any) -> None:
        alpha = spec.option("syn_alpha", DEFAULT_SYN_ALPHA)
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"neuron.syn_alpha={alpha} must lie in [0, 1]")

    def build(self, cell, spec, n_neurons):
        cell.register_buffer("syn_alpha", torch.as_tensor(float(spec.option("syn_alpha", DEFAULT_SYN_ALPHA))))

    def init_state(self, cell, like):
        return {"synapse": torch.zeros_like(like)}

    def current(self, cell, current, state, fired, recurrent):
        state["synapse"] = cell.syn_alpha * state["synapse"] + current
        return state["synapse"]

    def describe(self, spec):
        return f"synaptic current (alpha={float(spec.option('syn_alpha', DEFAULT_SYN_ALPHA)):g})"


@_component
class NoInputScale(Component):
    slot, name = "input", "none"


@_component
class OneMinusBeta(Component):
    """``I <- (1 - beta) I``: DH-SNN's normalised input, ``U = alpha U + (1 - alpha) I``
    (eva1801/DH-SNN, delayed_xor/SNN_layers/spike_neuron.py, lines 60-101). With ``beta = 1``
    (no_leak) the factor would be 0 and the neuron deaf, so the IF neuron keeps the unscaled input
    (factor 1, ``U = U + I``): the ablation removes the leak, not the input. complete_leak
    (beta = 0) gets factor 1 by the formula."""

    slot, name = "input", "one_minus_beta"

    def check(self, spec: Any) -> None:
        if spec.leak == "linear":
            raise ValueError("neuron.input_scale=one_minus_beta scales by (1 - beta), which a linear leak does not "
                             "have; use input_scale=none with leak=linear")

    def current(self, cell, current, state, fired, recurrent):
        return current * cell.input_factor()


# --------------------------------------------------------------------------- threshold
@_component
class NoAdaptation(Component):
    slot, name = "adaptation", "none"


@_component
class AdaptiveThreshold(Component):
    """ALIF (Bellec et al. 2020, e-prop, Methods: ``a[t+1] = rho a[t] + z[t]``, ``A[t] = v_th + beta a[t]``):
    the threshold of ``S[t]`` is ``theta + b A[t]`` with ``A[t] = rho A[t-1] + S[t-1]``,
    ``rho = exp(-1/adapt_tau)``, ``b = adapt_scale``. ``S[t-1]`` carries its gradient into
    ``A`` (as in Bellec's BPTT); the subtractive reset removes the base threshold ``theta``."""

    slot, name = "adaptation", "alif"
    keys = ("adapt_tau", "adapt_scale")

    def check(self, spec: Any) -> None:
        tau = float(spec.option("adapt_tau", DEFAULT_ADAPT_TAU))
        scale = float(spec.option("adapt_scale", DEFAULT_ADAPT_SCALE))
        if not tau > 0:
            raise ValueError(f"neuron.adapt_tau={tau} must be > 0 (steps; inf keeps every spike)")
        if not scale >= 0:
            raise ValueError(f"neuron.adapt_scale={scale} must be >= 0")

    def build(self, cell, spec, n_neurons):
        tau = float(spec.option("adapt_tau", DEFAULT_ADAPT_TAU))
        cell.register_buffer("adapt_decay", torch.as_tensor(math.exp(-1.0 / tau) if math.isfinite(tau) else 1.0))
        cell.register_buffer("adapt_scale", torch.as_tensor(float(spec.option("adapt_scale", DEFAULT_ADAPT_SCALE))))

    def init_state(self, cell, like):
        return {"adaptation": torch.zeros_like(like)}

    def threshold(self, cell, threshold, state, fired):
        state["adaptation"] = cell.adapt_decay * state["adaptation"] + state["spikes"]
        return threshold + cell.adapt_scale * state["adaptation"]

    def describe(self, spec):
        return (f"adaptive threshold (tau_a={float(spec.option('adapt_tau', DEFAULT_ADAPT_TAU)):g}, "
                f"b={float(spec.option('adapt_scale', DEFAULT_ADAPT_SCALE)):g})")


def slot_value(spec: Any, slot: str) -> str:
    """The component name a spec chooses for ``slot`` (built-in slots are spec fields)."""
    if slot == "recurrence":
        return "all_to_all" if spec.recurrent else "none"
    if slot == "input":
        return spec.input_scale
    if slot in ("leak", "reset", "synapse", "adaptation"):
        return getattr(spec, slot)
    return dict(spec.extra).get(slot, SLOTS[slot].default)


def components_of(spec: Any) -> dict[str, Component]:
    """Slot -> component of a spec, in step order."""
    return {slot: component_for(slot, slot_value(spec, slot)) for slot in SLOTS}


def slot_items(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in mapping.items()))
