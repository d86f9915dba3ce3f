r"""Ablate a user's own snnTorch model: :func:`ablate` swaps every ``snn.Leaky`` / ``snn.RLeaky`` for
the package's neuron of a variant and leaves everything else (and the user's ``forward``) as it was.

What a variant replaces and what it keeps
-----------------------------------------
The variant (``vanilla``, ``no_leak``, ``complete_leak``, ``no_reset``, ``recurrent``, ``linear_leak``,
... and ``**neuron_options`` of :class:`ablations.neurons.NeuronSpec`) sets the three axes of the update
(:mod:`ablations.neurons`, seed 001 Eq. 3-4, seed 003 Eq. 2):

    U[t] = leak(reset(U[t-1], S[t-1])) + I[t] (+ V S[t-1] when recurrent),   S[t] = H(U[t] - theta)

* **replaced by the variant**: the leak kind, whether the neuron resets (``no_reset`` removes the
  reset; a variant that resets keeps the user's kind of reset, ``subtract``, snnTorch's default, or
  ``zero``; ``reset=...`` sets it), and the recurrence (a recurrent variant adds ``V S[t-1]``; a
  non-recurrent one removes an ``RLeaky``'s).
* **kept from the user's neuron** unless an option sets it: ``beta`` for the variants with an
  exponential leak (a per-neuron tensor stays per-neuron; ``no_leak`` / ``complete_leak`` /
  ``linear_leak`` set their own leak), ``threshold`` (per-neuron too), ``learn_beta`` (exponential
  leaks only: a learnt beta would undo ``no_leak``), ``learn_threshold``, the surrogate gradient
  (snnTorch's ``atan`` and ``fast_sigmoid`` with their parameter, ``surrogate_params={"slope": 10}``
  changes it; snnTorch's ``triangular``, ``sigmoid``, ``straight_through_estimator``, ... have no
  equal among the package's surrogates and need ``surrogate=...``), ``init_hidden``, ``output`` and so the call signature: ``spk, mem = lif(cur,
  mem)``, ``spk = lif(cur)`` with ``init_hidden=True`` (reset by ``snntorch.utils.reset(net)`` or
  ``lif.reset_mem()``), ``spk, mem = rlif(cur, spk, mem)``, ``init_leaky()`` / ``init_rleaky()``.
  An ``RLeaky``'s all-to-all recurrent weights (and their bias) carry over to a recurrent variant.
* ``snn.Synaptic`` keeps its synaptic current (the package's ``synapse=current`` component with the
  user's ``alpha``) in every variant, and its call ``spk, syn, mem = lif(cur, syn, mem)``.
* **refused** with the module path and the reason: neurons the package does not define
  (``RSynaptic``, ``Alpha``, ``Lapicque``, ``SLSTM``, ...), a variant with a part whose state the
  snnTorch call cannot carry (``alif`` on any neuron, ``synaptic`` on a ``Leaky``), ``reset_delay=False``,
  ``inhibition``, ``state_quant``, graded spikes, an unknown surrogate without ``surrogate=``, and a
  recurrent variant where the package has no recurrence (after a convolution, or an ``RLeaky``
  with one-to-one or convolutional recurrence).

A recurrent variant on a plain ``Leaky`` draws new all-to-all weights ``V`` (bias-free, PyTorch's
``nn.Linear`` initialisation); their width is the ``out_features`` of the ``nn.Linear`` that comes
before the neuron in the model's module order (``n_neurons={"path": N}`` where there is none).

Each replaced neuron is an :class:`AblatedNeuron` (still an ``snn.Leaky`` / ``snn.RLeaky`` for
``isinstance`` and ``snntorch.utils.reset``) that holds the package's neuron as ``.neuron`` (built by
:func:`ablations.neurons.build_neuron`) and runs one step of it per call: the spikes and membranes are those
of the package's own network with the same weights (``tests/network/test_ablate.py``). Its ``trace`` (off by
default) records each step's current, spikes and membrane for the evaluation suites.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

import snntorch as snn
import torch
from torch import nn

from . import neurons
from .neurons import NeuronSpec, RecurrentNeuron

__all__ = ["ablate", "AblatedNeuron", "AblatedLeaky", "AblatedRLeaky", "AblatedSynaptic", "Origin", "AblationError", "surrogate_of",
           "ablated_neurons", "REFUSED_REASONS"]


class AblationError(ValueError):
    """A neuron of the user's model that :func:`ablate` cannot map (its message names the module path)."""


#: snnTorch neurons the package does not define, and why (checked before the generic refusal).
REFUSED_REASONS = {
    "RSynaptic": "its recurrent current enters the synaptic current, which the package's synapse component does "
                 "not define; snn.Synaptic (feed-forward) is supported",
    "Alpha": "its alpha-kernel synapse has no counterpart among the package's neurons",
    "Lapicque": "it is parameterised by R, C and time_step; rewrite it as snn.Leaky(beta=...)",
    "SLSTM": "it is a spiking LSTM cell, not a leaky integrate-and-fire neuron",
    "SConv2dLSTM": "it is a spiking convolutional LSTM cell, not a leaky integrate-and-fire neuron",
}


@dataclass(frozen=True)
class Origin:
    """The user's neuron an :class:`AblatedNeuron` stands in for: what :func:`ablate` kept from it."""

    path: str
    kind: str  # Leaky | RLeaky | Synaptic
    init_hidden: bool
    output: bool
    beta: torch.Tensor
    threshold: torch.Tensor
    learn_beta: bool
    learn_threshold: bool
    surrogate: neurons.Surrogate | None
    reset: str
    alpha: float | None = None  # snn.Synaptic's synaptic decay

    def describe(self) -> str:
        beta = f"{float(self.beta):g}" if self.beta.numel() == 1 else f"[{self.beta.numel()} values]"
        return f"snn.{self.kind}(beta={beta}, reset={self.reset}, init_hidden={self.init_hidden})"


def surrogate_of(spike_grad: Any) -> neurons.Surrogate | None:
    """The package's surrogate equal to an snnTorch ``spike_grad``, or None when there is none.

    snnTorch's surrogates are closures (``snntorch.surrogate.atan(alpha)`` returns ``inner``); their
    parameter is read from the closure. A package surrogate passes through."""
    if isinstance(spike_grad, neurons.Surrogate):
        return spike_grad
    code = getattr(spike_grad, "__code__", None)
    if code is None or getattr(spike_grad, "__module__", "") != "snntorch.surrogate":
        return None
    free = dict(zip(code.co_freevars, (cell.cell_contents for cell in spike_grad.__closure__ or ())))
    factory = spike_grad.__qualname__.split(".")[0]
    if factory == "atan" and "alpha" in free:
        return neurons.make_surrogate("atan", alpha=float(free["alpha"]))
    if factory == "fast_sigmoid" and "slope" in free:
        return neurons.make_surrogate("fast_sigmoid", slope=float(free["slope"]))
    return None


def _origin(path: str, module: nn.Module) -> Origin:
    """What to keep from a user's ``snn.Leaky`` / ``snn.RLeaky``; refuses what the package cannot do."""
    kind = "RLeaky" if isinstance(module, snn.RLeaky) else "Synaptic" if isinstance(module, snn.Synaptic) else "Leaky"
    problems = []
    if not getattr(module, "reset_delay", True):
        problems.append("reset_delay=False (the package's neurons reset on the step after the spike, as "
                        "snnTorch's default reset_delay=True does)")
    if getattr(module, "inhibition", False):
        problems.append("inhibition=True (winner-take-all is not part of the package's neurons)")
    if getattr(module, "state_quant", False):
        problems.append("state_quant (quantised membranes are not part of the package's neurons)")
    graded = getattr(module, "graded_spikes_factor", torch.tensor(1.0))
    if isinstance(graded, nn.Parameter) or not torch.all(torch.as_tensor(graded) == 1.0):
        problems.append("graded spikes (graded_spikes_factor != 1 or learnt; the package's spikes are 0 or 1)")
    if problems:
        raise AblationError(f"{path} (snn.{kind}) cannot be ablated: {'; '.join(problems)}. Change it in your model "
                            "or leave this module out of the ablation")
    return Origin(
        path=path, kind=kind, init_hidden=bool(module.init_hidden), output=bool(getattr(module, "output", False)),
        beta=module.beta.detach().clone().clamp(0, 1).cpu(), threshold=module.threshold.detach().clone().cpu(),
        learn_beta=isinstance(module.beta, nn.Parameter), learn_threshold=isinstance(module.threshold, nn.Parameter),
        surrogate=surrogate_of(module.spike_grad), reset=str(module.reset_mechanism),
        alpha=float(module.alpha.detach().clamp(0, 1).mean()) if kind == "Synaptic" else None,
    )


def _spec(origin: Origin, variant: str | NeuronSpec, options: Mapping[str, Any]) -> NeuronSpec:
    """The variant's spec with what the user's neuron keeps (see the module docstring); a full
    :class:`NeuronSpec` given as the variant is taken as it is (every field given)."""
    if isinstance(variant, NeuronSpec):
        return neurons.spec_for(variant, **options)
    base = neurons.spec_for(variant, **{k: v for k, v in options.items() if k in ("leak", "lam", "tau", "beta")})
    fields = dict(options)
    keeps_beta = base.leak == "exponential" and base.tau is None and base.beta is None
    if keeps_beta:
        fields["beta"] = float(origin.beta.mean())
    fields.setdefault("threshold", float(origin.threshold.mean()))
    if origin.kind == "Synaptic":  # the user's synaptic current is part of their network: every variant keeps it
        fields.setdefault("synapse", "current")
        fields.setdefault("syn_alpha", origin.alpha)
    if base.leak == "exponential":
        fields.setdefault("learn_beta", origin.learn_beta)
    if "reset" not in options and base.reset != "none" and origin.reset in ("zero", "subtract"):
        fields["reset"] = origin.reset  # the variant says whether the neuron resets; the user's model says how
    if "surrogate" not in fields:
        if origin.surrogate is None:
            raise AblationError(f"{origin.path} (snn.{origin.kind}): its spike_grad is not one of snnTorch's atan or "
                                "fast_sigmoid, so the package cannot run it; pass surrogate=NAME (one of "
                                f"{', '.join(neurons.SURROGATES)}) and surrogate_params={{...}} to ablate() "
                                "(neuron.surrogate.name=NAME with model=import)")
        own = origin.surrogate.params()  # surrogate_params alone change the parameters this surrogate has
        fields["surrogate"] = origin.surrogate.name
        fields["surrogate_params"] = {**own, **{k: v for k, v in dict(fields.get("surrogate_params") or {}).items()
                                                if k in own}}
    return neurons.spec_for(variant, **fields)


def _preceding_widths(model: nn.Module) -> dict[str, nn.Module | None]:
    """For each module path: the last ``nn.Linear`` / ``nn.Conv*`` registered before it (module order)."""
    last: nn.Module | None = None
    out: dict[str, nn.Module | None] = {}
    for path, module in model.named_modules():
        out[path] = last
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) and not path.endswith(".recurrent"):
            last = module
    return out


class AblatedNeuron(nn.Module):
    """The package's neuron (``.neuron``) behind snnTorch's call conventions (see :func:`ablate`).

    Holds the membrane (``mem``) and, for ``RLeaky``, the spikes (``spk``) between calls exactly as
    snnTorch does; with ``init_hidden=False`` the caller passes them and gets them back."""

    def __init__(self, origin: Origin, neuron: nn.Module):
        nn.Module.__init__(self)  # not snnTorch's __init__: the package's neuron holds beta and threshold
        self.origin = origin
        self.neuron = neuron
        self.init_hidden = origin.init_hidden
        self.output = origin.output
        self.trace: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
        self.given: frozenset[str] = frozenset()  # the ablate() options that set this neuron (provenance)
        self.register_buffer("mem", torch.zeros(0), persistent=False)
        if origin.init_hidden:  # snntorch.utils.reset(net) finds neurons in snnTorch's instance list
            snn.SpikingNeuron.instances.append(self)

    # the user's code and snnTorch's utilities read these off a neuron
    @property
    def spec(self) -> NeuronSpec:
        return self.cell.spec

    @property
    def cell(self) -> neurons.Leaky:
        return self.neuron.cell if isinstance(self.neuron, RecurrentNeuron) else self.neuron

    @property
    def recurrent(self) -> nn.Module | None:  # type: ignore[override]
        return self.neuron.recurrent if isinstance(self.neuron, RecurrentNeuron) else None

    @property
    def beta(self) -> torch.Tensor:  # type: ignore[override]
        return self.cell.beta

    @property
    def threshold(self) -> torch.Tensor:  # type: ignore[override]
        return self.cell.threshold

    @property
    def spike_grad(self):  # type: ignore[override]
        return self.cell.spike_grad

    @property
    def reset_mechanism(self) -> str:  # type: ignore[override]
        return self.spec.reset

    def extra_repr(self) -> str:
        return f"{self.spec.variant}: {self.spec.describe()}; was {self.origin.describe()} at {self.origin.path!r}"

    def provenance(self) -> dict[str, Any]:
        """What this neuron runs with and where each part comes from: ``model`` (the user's neuron as
        written), ``override`` (an option of :func:`ablate`, i.e. a ``neuron.*`` key given with
        ``model=import``) or ``variant`` (the variant's own leak or reset)."""
        spec, given, origin = self.spec, self.given, self.origin
        beta = self.beta.detach().float().cpu()
        beta_value: Any = round(float(beta), 6) if beta.numel() == 1 else (
            f"per neuron: {beta.numel()} values, mean {float(beta.mean()):.4g}")
        threshold = self.threshold.detach().float().cpu()
        threshold_value: Any = round(float(threshold), 6) if threshold.numel() == 1 else (
            f"per neuron: {threshold.numel()} values, mean {float(threshold.mean()):.4g}")
        exponential = spec.leak == "exponential"
        if "reset" in given:
            reset_from = "override"
        elif spec.reset == "none" or spec.reset != origin.reset:
            reset_from = "variant"
        else:
            reset_from = "model"
        kept = origin.surrogate.params() if origin.surrogate is not None else {}
        surrogate_from = ("override" if "surrogate" in given else
                          "model, parameters overridden" if dict(spec.surrogate_params) != kept else "model")
        return {
            "path": origin.path,
            "was": origin.describe(),
            "leak": {"value": spec.leak, "from": "variant"},
            "beta": {"value": beta_value, "from": "override" if exponential and given & {"tau", "beta"} else
                     "model" if exponential else "variant"},
            "learn_beta": {"value": isinstance(self.beta, nn.Parameter), "from": "override" if exponential and
                           "learn_beta" in given else "model" if exponential else "variant"},
            "threshold": {"value": threshold_value, "from": "override" if "threshold" in given else "model"},
            "learn_threshold": {"value": isinstance(self.threshold, nn.Parameter), "from": "model"},
            "surrogate": {"value": repr(self.cell.spike_grad), "from": surrogate_from},
            "reset": {"value": spec.reset, "from": reset_from},
            "recurrent": {"value": self.recurrent is not None, "from": "override" if "recurrent" in given else
                          "model" if origin.kind == "RLeaky" and self.recurrent is not None else "variant"},
        }

    def advance(self, current: torch.Tensor, mem: torch.Tensor, fired: torch.Tensor | None = None,
                synapse: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One step of the package's neuron (its components' own step): ``(S[t], U[t], Y[t])`` from
        ``I[t]``, ``U[t-1]``, ``S[t-1]`` (``H(U[t-1] - theta)`` with the surrogate when not passed) and,
        for a synaptic current, ``Y[t-1]``."""
        if mem.shape != current.shape:
            mem = torch.zeros_like(current)
        cell, recurrent = self.cell, self.recurrent
        if fired is None or fired.shape != current.shape:
            fired = cell.spike_grad(mem - cell.threshold)
        state = cell.initial_state(current)
        state["mem"], state["spikes"] = mem, fired
        if synapse is not None and synapse.shape == current.shape:
            state["synapse"] = synapse
        shape = current.shape
        if recurrent is not None:  # the all-to-all matrix acts on the flattened layer
            state = {key: value.flatten(1) for key, value in state.items()}
            current = current.flatten(1)
        spikes, mem = cell.generic_step(current, state, recurrent)
        synapse = state.get("synapse")
        spikes, mem = spikes.view(shape), mem.view(shape)
        synapse = None if synapse is None else synapse.view(shape)
        if self.trace is not None:
            self.trace.append((current.detach().view(shape), spikes.detach(), mem.detach()))
        return spikes, mem, synapse

    def reset_mem(self):
        self.mem = torch.zeros_like(self.mem)
        return self.mem

    def init_leaky(self):
        return self.reset_mem()

    @classmethod
    def reset_hidden(cls) -> None:  # snntorch.utils.reset: snn.Leaky.reset_hidden() walks the instance list
        for neuron in snn.SpikingNeuron.instances:
            if isinstance(neuron, AblatedNeuron):
                neuron.reset_mem()

    @classmethod
    def detach_hidden(cls) -> None:
        for neuron in snn.SpikingNeuron.instances:
            if isinstance(neuron, AblatedNeuron):
                neuron.mem = neuron.mem.detach()
                if isinstance(getattr(neuron, "spk", None), torch.Tensor):
                    neuron.spk = neuron.spk.detach()

    def _answer(self, spikes: torch.Tensor, mem: torch.Tensor):
        if self.init_hidden and not self.output:
            return spikes
        return spikes, mem


class AblatedLeaky(AblatedNeuron, snn.Leaky):
    """Stands in for ``snn.Leaky``: ``spk, mem = lif(cur, mem)``, or ``spk = lif(cur)`` with init_hidden."""

    def forward(self, input_: torch.Tensor, mem: torch.Tensor | None = None):  # type: ignore[override]
        if self.init_hidden and mem is not None:
            raise TypeError(f"{self.origin.path}: `mem` should not be passed as an argument while `init_hidden=True`")
        spikes, self.mem, _ = self.advance(input_, self.mem if mem is None else mem)
        return self._answer(spikes, self.mem)


class AblatedRLeaky(AblatedNeuron, snn.RLeaky):
    """Stands in for ``snn.RLeaky``: ``spk, mem = rlif(cur, spk, mem)``, or ``spk = rlif(cur)`` with
    init_hidden. A non-recurrent variant ignores the spikes passed in (its recurrence is ablated)."""

    def __init__(self, origin: Origin, neuron: nn.Module):
        super().__init__(origin, neuron)
        self.register_buffer("spk", torch.zeros(0), persistent=False)

    def forward(self, input_: torch.Tensor, spk: torch.Tensor | None = None,  # type: ignore[override]
                mem: torch.Tensor | None = None):
        if self.init_hidden and (spk is not None or mem is not None):
            raise TypeError(f"{self.origin.path}: when `init_hidden=True`, RLeaky expects 1 input argument")
        fired = self.spk if spk is None else spk
        spikes, self.mem, _ = self.advance(input_, self.mem if mem is None else mem, fired)
        self.spk = spikes
        return self._answer(spikes, self.mem)

    def reset_mem(self):
        self.spk = torch.zeros_like(self.spk)
        self.mem = torch.zeros_like(self.mem)
        return self.spk, self.mem

    def init_rleaky(self):
        return self.reset_mem()


class AblatedSynaptic(AblatedNeuron, snn.Synaptic):
    """Stands in for ``snn.Synaptic``: ``spk, syn, mem = lif(cur, syn, mem)``, or ``spk = lif(cur)``
    with init_hidden. The synaptic current is the package's ``synapse=current`` component with the
    user's alpha (``Y[t] = alpha Y[t-1] + I[t]``); the variant sets leak, reset and recurrence."""

    def __init__(self, origin: Origin, neuron: nn.Module):
        super().__init__(origin, neuron)
        self.register_buffer("syn", torch.zeros(0), persistent=False)

    @property
    def alpha(self) -> torch.Tensor:  # type: ignore[override]
        return self.cell.syn_alpha

    def forward(self, input_: torch.Tensor, syn: torch.Tensor | None = None,  # type: ignore[override]
                mem: torch.Tensor | None = None):
        if self.init_hidden and (syn is not None or mem is not None):
            raise TypeError(f"{self.origin.path}: `mem` or `syn` should not be passed as an argument while "
                            "`init_hidden=True`")
        spikes, self.mem, self.syn = self.advance(input_, self.mem if mem is None else mem, None,
                                                  self.syn if syn is None else syn)
        if self.init_hidden and not self.output:
            return spikes
        return spikes, self.syn, self.mem

    def reset_mem(self):
        self.syn = torch.zeros_like(self.syn)
        self.mem = torch.zeros_like(self.mem)
        return self.syn, self.mem

    def init_synaptic(self):
        return self.reset_mem()


def _recurrent_source(path: str, module: nn.Module, spec: NeuronSpec, before: nn.Module | None,
                      n_neurons: Mapping[str, int]) -> tuple[int | None, nn.Module | None]:
    """The width of a recurrent variant's layer and the user's recurrent weights to keep (or None)."""
    if not spec.recurrent:
        return None, None
    kind = type(module).__name__
    if isinstance(module, snn.RLeaky) and not isinstance(module, AblatedNeuron):
        recurrent = getattr(module, "recurrent", None)
        if not isinstance(recurrent, nn.Linear):
            raise AblationError(
                f"{path} (snn.RLeaky) has {'one-to-one' if not module.all_to_all else 'convolutional'} recurrence; "
                f"variant {spec.variant!r} adds all-to-all recurrence over fully connected layers only (seed 001 "
                "Eq. 4). Use a non-recurrent variant for this model, or all_to_all=True with linear_features")
        return recurrent.in_features, recurrent
    if isinstance(module, AblatedNeuron) and module.recurrent is not None:
        return module.recurrent.in_features, module.recurrent
    fully_connected = f"variant {spec.variant!r} adds all-to-all recurrence over fully connected layers only (seed 001 Eq. 4)"
    if before is not None and not isinstance(before, nn.Linear):
        raise AblationError(f"{path} ({kind}) sits after a convolution ({type(before).__name__}); {fully_connected}. "
                            "Use a non-recurrent variant for this model")
    if path in n_neurons:
        return int(n_neurons[path]), None
    if isinstance(before, nn.Linear):
        return before.out_features, None
    raise AblationError(f"{path} ({kind}) has no nn.Linear before it to give its width; {fully_connected}. Give the "
                        f"width, ablate(..., n_neurons={{{path!r}: N}}), or use a non-recurrent variant")


def _replacement(path: str, module: nn.Module, variant: str | NeuronSpec, options: Mapping[str, Any],
                 before: nn.Module | None, n_neurons: Mapping[str, int]) -> AblatedNeuron:
    origin = module.origin if isinstance(module, AblatedNeuron) else _origin(path, module)
    try:
        spec = _spec(origin, variant, options)
    except ValueError as error:
        if isinstance(error, AblationError):
            raise
        raise AblationError(f"{path} (snn.{origin.kind}): {error}") from None
    width, user_recurrent = _recurrent_source(path, module, spec, before, n_neurons)
    neuron = neurons.build_neuron(spec, n_neurons=width)
    cell = neuron.cell if isinstance(neuron, RecurrentNeuron) else neuron
    carried = {"synapse"} if origin.kind == "Synaptic" else set()
    stateful = [f"{neurons.SLOTS[slot].key}={component.name}" for slot, component in cell.parts.items()
                if set(component.init_state(cell, torch.zeros(1))) - carried]
    if stateful:
        raise AblationError(
            f"{path} (snn.{origin.kind}): variant {spec.variant!r} has {', '.join(stateful)}, whose state snnTorch's "
            f"{origin.kind} call does not carry between steps (snn.Synaptic carries a synaptic current); choose a "
            "variant without it for this neuron")
    given = set(options) | ({"beta", "tau", "threshold"} if isinstance(variant, NeuronSpec) else set())
    with torch.no_grad():
        if spec.leak == "exponential" and not given & {"beta", "tau"} and origin.beta.numel() > 1:
            _set_tensor(cell, "beta", origin.beta, learn=spec.learn_beta)
        if "threshold" not in given and (origin.threshold.numel() > 1 or origin.learn_threshold):
            _set_tensor(cell, "threshold", origin.threshold, learn=origin.learn_threshold)
    if user_recurrent is not None:
        neuron.recurrent = copy.deepcopy(user_recurrent)  # the user's V (and bias, if it has one)
    kind = {"RLeaky": AblatedRLeaky, "Synaptic": AblatedSynaptic}.get(origin.kind, AblatedLeaky)
    ablated = kind(origin, neuron)
    ablated.given = frozenset(given)
    return ablated


def _set_tensor(module: nn.Module, name: str, value: torch.Tensor, learn: bool) -> None:
    value = value.detach().clone().to(getattr(module, name).device)
    delattr(module, name)
    if learn:
        setattr(module, name, nn.Parameter(value))
    else:
        module.register_buffer(name, value)


def _is_package_neuron(module: nn.Module) -> bool:
    return isinstance(module, (neurons.Leaky, RecurrentNeuron))


def ablate(model: nn.Module, variant: str | NeuronSpec = "vanilla", n_neurons: Mapping[str, int] | None = None,
           **neuron_options: Any) -> nn.Module:
    """A copy of ``model`` with every ``snn.Leaky`` / ``snn.RLeaky`` replaced by the package's neuron of
    ``variant`` (with ``neuron_options``, e.g. ``tau=20.0``, ``reset="subtract"``), keeping the user's
    weights, thresholds, learnable flags, ``init_hidden`` style and call signature (module docstring).

    The model itself is left unchanged. An already ablated model can be ablated again (from the
    user's original neurons). A neuron that cannot be mapped raises :class:`AblationError` naming
    its module path and the reason; a model without any snnTorch neuron raises one too.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"ablate() takes a torch.nn.Module, got {type(model).__name__}")
    neurons.spec_for(variant, **{k: v for k, v in neuron_options.items()  # an unknown variant or field fails
                                 if k != "surrogate_params" or "surrogate" in neuron_options})  # before any work
    n_neurons = dict(n_neurons or {})
    copied = copy.deepcopy(model)
    before = _preceding_widths(copied)
    targets: list[tuple[str, nn.Module]] = []
    skip: tuple[str, ...] = ()
    for path, module in copied.named_modules():
        if skip and any(path.startswith(prefix) for prefix in skip):
            continue
        if isinstance(module, AblatedNeuron) or (isinstance(module, (snn.Leaky, snn.RLeaky))
                                                 and not _is_package_neuron(module)) or type(module) is snn.Synaptic:
            targets.append((path, module))
            skip += (path + ".",)
        elif _is_package_neuron(module):
            skip += (path + ".",)  # the package's own neurons (a network it built): left as they are
        elif isinstance(module, snn.SpikingNeuron):
            name = type(module).__name__
            reason = REFUSED_REASONS.get(name, "the package defines leaky integrate-and-fire neurons (snn.Leaky, "
                                               "snn.RLeaky) only")
            raise AblationError(f"{path or '<model>'} (snn.{name}) cannot be ablated: {reason}. Replace it with "
                                "snn.Leaky / snn.RLeaky, or keep it out of the model you ablate")
    if not targets:
        raise AblationError(f"{type(model).__name__} has no snn.Leaky or snn.RLeaky to ablate; ablate() replaces "
                            "snnTorch neurons (a network the package built takes its variant from its own config)")
    unknown = sorted(set(n_neurons) - {path for path, _ in targets})
    if unknown:
        raise AblationError(f"n_neurons names {unknown}, which are not neurons of the model; its neurons: "
                            f"{', '.join(path for path, _ in targets)}")
    if "surrogate_params" in neuron_options and "surrogate" not in neuron_options and not isinstance(variant, NeuronSpec):
        kept = [surrogate_of(m.spike_grad) if not isinstance(m, AblatedNeuron) else m.origin.surrogate for _, m in targets]
        unread = sorted(set(neuron_options["surrogate_params"] or {}) - {k for s in kept if s for k in s.params()})
        if unread:
            raise AblationError(f"surrogate_params {unread}: no neuron of the model has a surrogate with "
                                f"{'this parameter' if len(unread) == 1 else 'these parameters'} (they have: "
                                f"{', '.join(sorted({repr(s) for s in kept if s}))}); give surrogate=NAME with them "
                                "(neuron.surrogate.name=NAME with model=import)")
    for path, module in targets:
        new = _replacement(path, module, variant, neuron_options, before.get(path), n_neurons)
        device = next((t.device for t in module.parameters()), None) or next(
            (t.device for t in module.buffers() if t.numel()), torch.device("cpu"))
        _swap(copied, path, new.to(device))
        if module in snn.SpikingNeuron.instances:
            snn.SpikingNeuron.instances.remove(module)
    return copied


def _swap(model: nn.Module, path: str, new: nn.Module) -> None:
    if not path:
        raise AblationError("the model is itself one neuron; ablate a model that contains it, or use "
                            "ablations.neurons.build_neuron(variant) directly")
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, new)


def ablated_neurons(model: nn.Module) -> dict[str, AblatedNeuron]:
    """Every :class:`AblatedNeuron` of a model by module path, in module order."""
    return {path: module for path, module in model.named_modules() if isinstance(module, AblatedNeuron)}
