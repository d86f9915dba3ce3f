"""The neuron spec and the variant registry: one frozen, validated :class:`NeuronSpec` per neuron;
a variant is a named spec, registered once (:func:`register_variant`), and is the one source of its
physics (a variant YAML only names it)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..registry import Registry
from . import leak_gradient
from .components import COMPONENTS, LEAK_SHAPES, SLOTS, component_keys, components_of, slot_choices, slot_value
from .surrogates import SURROGATE_PARAMETERS, SURROGATES, Surrogate, make_surrogate

__all__ = ["DEFAULT_TAU", "DEFAULT_LAM", "LEAKS", "INIT_STATES", "NeuronSpec", "VARIANTS", "register_variant",
           "variant_label", "effective_tau", "spec_for", "spec_from_config", "physics", "PHYSICS_KEYS",
           "variant_file_conflicts"]

DEFAULT_TAU = 10.0  # time steps; used when an exponential leak is given neither tau nor beta
DEFAULT_LAM = 0.05  # membrane units per step; used when a linear leak is given no lam
LEAKS = ("exponential", "none", "complete", "linear")
# the state a sequence starts from: rest, or DH-SNN's U(0, 1) draw per batch of the membrane and of a
# continuous "spike" S[0] (eva1801/DH-SNN delayed_xor/SNN_layers/spike_dense.py, set_neuron_state)
INIT_STATES = ("zero", "uniform")


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
    """Everything that defines a neuron. Validated on construction.

    One component per slot (:mod:`ablations.neurons.components`): ``leak`` (``exponential`` with
    ``tau`` in steps or ``beta``; ``none``; ``complete``; ``linear`` with ``lam``), ``reset``
    (``zero``, ``subtract``, ``none``, or a plugin's), ``recurrent`` (all-to-all ``V S[t-1]``), ``input_scale``
    (``none``, ``one_minus_beta``), ``synapse`` (``none``, ``current``), ``adaptation`` (``none``,
    ``alif``), and ``extra`` for slots a plugin registers. ``reset_grad`` keeps the gradient through
    the reset's ``S[t-1]`` (DH-SNN does; snnTorch and the default detach it); ``init_state`` is
    ``zero`` (rest) or ``uniform`` (U(0, 1) per sequence: membrane and a continuous ``S[0]``). ``options`` holds the parameters of
    components that have no field here (``syn_alpha``, ``adapt_tau``, ``adapt_scale``, a plugin's).
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
    gradient: str = "exact"  # exact | leak_corrected (ref [21], seed 003 Eq. 5): ablations/neurons/leak_gradient.py
    input_scale: str = "none"
    leak_shape: str = "scalar"
    leak_init: str | None = None
    synapse: str = "none"
    adaptation: str = "none"
    extra: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, float] = field(default_factory=dict)
    reset_grad: bool = False
    init_state: str = "zero"

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", dict(self.extra or {}))
        object.__setattr__(self, "options", dict(self.options or {}))
        object.__setattr__(self, "surrogate_params", dict(self.surrogate_params or {}))
        if self.leak not in LEAKS and f"leak-{self.leak}" not in COMPONENTS:
            raise ValueError(f"neuron.leak={self.leak!r} is not one of {list(LEAKS)}")
        if f"reset-{self.reset}" not in COMPONENTS:
            raise ValueError(f"neuron.reset={self.reset!r} is not one of {slot_choices('reset')} (a plugin adds one: "
                             "register_component(MyReset()))")
        if self.init_state not in INIT_STATES:
            raise ValueError(f"neuron.init_state={self.init_state!r} is not one of {list(INIT_STATES)}")
        if self.reset_grad and self.reset == "none":
            raise ValueError("neuron.reset_grad=true would change nothing with neuron.reset=none (there is no reset "
                             "to back-propagate through); leave reset_grad false")
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
        if self.leak_shape not in LEAK_SHAPES:
            raise ValueError(f"neuron.leak_shape={self.leak_shape!r} is not one of {list(LEAK_SHAPES)}")
        for slot in self.extra:
            if slot not in SLOTS or slot in _BUILT_IN_SLOTS:
                raise ValueError(f"unknown neuron slot {slot!r} in extra; plugin slots: "
                                 f"{[s for s in SLOTS if s not in _BUILT_IN_SLOTS] or 'none registered'}")
        parts = components_of(self)  # every choice names a registered component
        self._check_read(parts)
        for component in parts.values():
            component.check(self)
        make_surrogate(self.surrogate, **self._surrogate_kwargs())  # validates name and params
        leak_gradient.check(self)

    def _check_read(self, parts: dict) -> None:
        """Every parameter set away from its default is read by a chosen component."""
        read = {key for component in parts.values() for key in component.keys}
        given = {key for key in ("learn_beta", "leak_shape", "leak_init")
                 if getattr(self, key) != _FIELD_DEFAULTS[key]}
        given |= set(self.options)
        readers = component_keys()
        for key in sorted(given - read):
            if key not in readers:
                raise ValueError(f"neuron.{key} is not a parameter of any neuron component; parameters: "
                                 f"{', '.join(sorted(readers))}")
            raise ValueError(
                f"neuron.{key}={self.option(key, getattr(self, key, None))!r} would change nothing: it is read by "
                f"{' or '.join(readers[key])}, and this neuron has "
                + ", ".join(f"{SLOTS[slot].key}={slot_value(self, slot)}" for slot in SLOTS
                            if any(r.startswith(SLOTS[slot].key + "=") for r in readers[key])))

    # ------------------------------------------------------------------ derived values
    def option(self, key: str, default: Any = None) -> Any:
        """A component parameter from ``options`` (``default`` when not given)."""
        value = self.options.get(key)
        return default if value is None else value

    def components(self) -> dict:
        """Slot -> component, in step order."""
        return components_of(self)

    @property
    def beta_value(self) -> float | None:
        """The decay factor beta of the update, or None for a linear leak (the initial value's
        mean for ``leak_init``: ``E[sigmoid(p)]`` is not needed anywhere, so None there too)."""
        if self.leak == "none":
            return 1.0
        if self.leak == "complete":
            return 0.0
        if self.leak != "exponential":
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
        if self.leak == "exponential" and self.tau is None and self.beta is None and self.leak_init is None:
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
        parts = self.components()
        text = [parts["leak"].describe(self) if hasattr(parts["leak"], "describe") else self.leak,
                f"reset {self.reset}"]
        if self.recurrent:
            text.append("recurrent")
        for slot, component in parts.items():
            if slot not in ("leak", "reset", "recurrence") and component.name != SLOTS[slot].default:
                text.append(component.describe(self))
        if self.reset_grad:
            text.append("gradient through the reset")
        if self.init_state != "zero":
            text.append(f"initial state {self.init_state}")
        return ", ".join(text) + f", threshold {self.threshold:g}, surrogate {self.make_surrogate()!r}"


_FIELD_DEFAULTS = {item.name: item.default for item in dataclasses.fields(NeuronSpec)
                   if item.default is not dataclasses.MISSING}
_BUILT_IN_SLOTS = ("recurrence", "synapse", "input", "leak", "reset", "adaptation")


# slots whose choice is a knob of the neuron's form, not an ablation axis: like tau, the input
# scaling of DH-SNN's normalised update is applied to every variant of a preset and keeps its name
FORM_SLOTS = ("input",)


def physics(spec: NeuronSpec) -> tuple:
    """What makes a variant: the component of every slot but the form knobs (``input_scale``, and
    parameters such as tau), with the reset read as present or absent: which reset a resetting
    neuron uses (to zero, or by subtraction as DH-SNN's code does) is a knob of the form too, so
    ``vanilla`` with ``neuron.reset=subtract`` is still ``vanilla`` (the record keeps ``reset``)."""
    return tuple((slot, ("resets" if value != "none" else "none") if slot == "reset" else value)
                 for slot, value in ((slot, slot_value(spec, slot)) for slot in SLOTS if slot not in FORM_SLOTS))


# the config keys of the slots' choices: a variant sets them, an override changes them
PHYSICS_KEYS = ("leak", "reset", "recurrent", "input_scale", "synapse", "adaptation")

VARIANTS: Registry[NeuronSpec] = Registry("variant")


def register_variant(name: str, spec: NeuronSpec, replace: bool = False) -> NeuronSpec:
    """Register a variant (its ``variant`` label set to ``name``): the one place its physics are
    defined. A variant YAML (``conf/variant/<name>.yaml`` or a plugin's own config folder) only
    names it (``variant: <name>``); a YAML that also sets a physics key that disagrees is refused."""
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
    # threshold adaptation (Bellec et al. 2020), subtractive reset as there
    "alif": NeuronSpec(leak="exponential", reset="subtract", adaptation="alif"),
    # snnTorch's Synaptic: a synaptic current filter before the membrane
    "synaptic": NeuronSpec(leak="exponential", reset="zero", synapse="current"),
}.items():
    register_variant(_name, _spec)


def variant_label(spec: NeuronSpec) -> str:
    """The name a spec is filed and drawn under: its own ``variant`` while its physics (one
    component per slot) are that preset's; otherwise the preset with the same physics; otherwise
    a name built from the choices (e.g. ``exponential_subtract``)."""
    own = physics(spec)
    if spec.variant in VARIANTS and physics(VARIANTS[spec.variant]) == own:
        return str(spec.variant)
    for name, preset in VARIANTS.items():
        if physics(preset) == own:
            return name
    extra = [f"{slot}_{value}" for slot, value in own
             if slot not in ("leak", "reset", "recurrence") and value != SLOTS[slot].default]
    return "_".join([spec.leak, spec.reset] + (["recurrent"] if spec.recurrent else []) + extra)


def spec_for(variant_or_spec: str | NeuronSpec, **overrides: Any) -> NeuronSpec:
    """A validated spec from a variant name or a spec, with fields overridden; component parameters
    without a field (``adapt_tau=...``) go to ``options``."""
    if isinstance(variant_or_spec, NeuronSpec):
        base = variant_or_spec
    elif isinstance(variant_or_spec, str) and variant_or_spec in VARIANTS:
        base = VARIANTS[variant_or_spec]
    else:
        raise ValueError(
            f"unknown variant {variant_or_spec!r}; valid variants: {', '.join(VARIANTS)}"
        )
    names = {f.name for f in dataclasses.fields(NeuronSpec)}
    readers = component_keys()
    options = dict(base.options)
    for key in [k for k in overrides if k not in names]:
        if key not in readers:
            raise ValueError(f"unknown neuron field(s) [{key!r}]; valid fields: {sorted(names | set(readers))}")
        options[key] = overrides.pop(key)
    if "surrogate_params" in overrides and overrides["surrogate_params"] is not None:
        overrides["surrogate_params"] = dict(overrides["surrogate_params"])
    spec = dataclasses.replace(base, options=options, **overrides)
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


# keys of the `neuron` config node that are not NeuronSpec fields or component parameters
_NODE_ONLY = ("backend",)


def spec_from_config(node: Mapping[str, Any]) -> NeuronSpec:
    """The validated spec of a ``neuron`` config node (``conf/config.yaml``), labelled by its physics.

    ``variant`` names the registered variant, which supplies every slot's component; a slot key
    (``leak``, ``reset``, ``recurrent``, ``input_scale``, ``synapse``, ``adaptation``, a plugin
    slot's key) that is not null overrides it. The surrogate block holds every surrogate's
    parameter; only the chosen one's are read, and one of the others set away from its default is
    an error (it would silently change nothing).
    """
    node = dict(node)
    name = node.get("variant")
    if name is None:
        name = "vanilla"
    if str(name) in VARIANTS:
        base = VARIANTS[str(name)]
    elif node.get("leak") is not None and node.get("reset") is not None:
        base = NeuronSpec()  # a record's label built from its choices (e.g. exponential_subtract), all of them given
    else:
        raise ValueError(f"unknown variant {name!r}; valid variants: {', '.join(VARIANTS)}")
    surrogate = dict(node.get("surrogate") or {"name": "atan"})
    surrogate_name = str(surrogate.pop("name", "atan"))
    if surrogate_name not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate_name!r}; choose one of {sorted(SURROGATES)} "
                         "(set neuron.surrogate.name=...)")
    own = set(SURROGATE_PARAMETERS[surrogate_name]) - {"threshold"}  # straight_through's threshold is the neuron's
    defaults = {item.name: item.default for cls in SURROGATES.values() for item in dataclasses.fields(cls)}
    for key, value in surrogate.items():
        if key not in own and value is not None and key in defaults and _number(value, key) != defaults[key]:
            raise ValueError(f"neuron.surrogate.{key}={value} is not a parameter of surrogate {surrogate_name!r}, "
                             f"so it would change nothing; {surrogate_name} takes: {', '.join(sorted(own)) or 'no parameters'}")
    params = {k: _number(v, f"neuron.surrogate.{k}") for k, v in surrogate.items() if k in own and v is not None}
    fields: dict[str, Any] = {
        "tau": _number(node.get("tau"), "neuron.tau"),
        "beta": _number(node.get("beta"), "neuron.beta"),
        "lam": _number(node.get("lam"), "neuron.lam"),
        "threshold": float(_number(node.get("threshold", 1.0), "neuron.threshold")),
        "surrogate": surrogate_name,
        "surrogate_params": params,
        "learn_beta": bool(node.get("learn_beta", False)),
        "gradient": str(node.get("gradient", "exact")),
        "leak_shape": str(node.get("leak_shape") or "scalar"),
        "leak_init": None if node.get("leak_init") is None else str(node.get("leak_init")),
        "reset_grad": bool(node.get("reset_grad", False)),
        "init_state": str(node.get("init_state") or "zero"),
    }
    for key in ("leak", "reset", "input_scale", "synapse", "adaptation"):
        if node.get(key) is not None:
            fields[key] = str(node[key])
    if node.get("recurrent") is not None:
        fields["recurrent"] = bool(node["recurrent"])
    extra = dict(base.extra)
    for slot in SLOTS:
        if slot not in _BUILT_IN_SLOTS and node.get(SLOTS[slot].key) is not None:
            extra[slot] = str(node[SLOTS[slot].key])
    fields["extra"] = extra
    readers = component_keys()
    options = dict(base.options)
    for key in readers:
        if key in fields or key in ("tau", "beta", "lam", "learn_beta", "leak_shape", "leak_init"):
            continue
        if node.get(key) is not None:
            options[key] = _number(node[key], f"neuron.{key}")
    fields["options"] = options
    spec = dataclasses.replace(base, **fields)
    return dataclasses.replace(spec, variant=variant_label(spec))


def variant_file_conflicts(name: str, node: Mapping[str, Any]) -> list[str]:
    """The physics keys a variant YAML sets that disagree with the registered variant ``name``
    (an empty list when they agree or the YAML only names the variant)."""
    if name not in VARIANTS:
        return []
    registered = VARIANTS[name]
    conflicts = []
    for key in PHYSICS_KEYS:
        if node.get(key) is None:
            continue
        value = bool(node[key]) if key == "recurrent" else str(node[key])
        if value != getattr(registered, key):
            conflicts.append(f"{key}: {node[key]} (registered: {getattr(registered, key)})")
    return conflicts
