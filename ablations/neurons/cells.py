"""Neuron modules and the one sequence runner.

Every built neuron is an ``nn.Module`` whose ``forward(current[T, B, ...])`` returns
``(spikes, membrane)`` from a fresh state. :class:`Leaky` (an ``snn.Leaky``) carries the spec and
its components' parameters; :class:`RecurrentNeuron` adds the recurrent matrix. :func:`run_sequence`
picks the path:

- ``fused`` / ``kernel`` (:mod:`ablations.neurons.torch_scan`, :mod:`ablations.neurons.numba_scan`): one
  autograd node over all T, for every neuron whose components the path declares (``COVERED``;
  input transforms such as ``one_minus_beta`` and the synaptic filter are applied to the current
  before it);
- ``snntorch``: snnTorch's ``Leaky`` called at every step (the reference for the neurons it has:
  leak, reset, recurrence);
- ``step``: :meth:`Leaky.generic_step`, the component definition of
  :mod:`ablations.neurons.components`, with autograd at every step: the reference, and what
  ``auto`` runs for the neurons the other two do not cover (ALIF, plugin components).
"""

from __future__ import annotations

import logging

import snntorch as snn
import torch
from torch import nn

from . import leak_gradient, torch_scan as scan
from .components import SLOTS, NoReset, SubtractReset, ZeroReset, linear_leak
from .spec import NeuronSpec, spec_for

__all__ = ["Leaky", "LinearLeaky", "RecurrentNeuron", "BACKENDS", "build_neuron", "run_sequence", "simulate",
           "set_backend", "release_instances", "step", "exponential_leak", "linear_leak", "SynapticFilter",
           "fused_sequence"]

BACKENDS = ("auto", *scan.SCAN_BACKENDS, "snntorch", "step")
_SNNTORCH_RESETS = ("zero", "subtract", "none")
log = logging.getLogger("ablations.neurons")
_SAID: set[str] = set()


# --------------------------------------------------------------------------- the update, as pure functions
def exponential_leak(mem: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """``beta U`` (beta clamped to [0, 1]: a learnable beta stays a decay factor)."""
    if isinstance(beta, torch.Tensor):
        beta = beta.clamp(0, 1)
    return beta * mem


def step(mem: torch.Tensor, fired: torch.Tensor, current: torch.Tensor, leak, reset,
         threshold: torch.Tensor | float) -> torch.Tensor:
    """One update: ``U[t] = leak(P) + I[t] - subtracted`` with ``(P, subtracted) = reset(U[t-1],
    S[t-1], theta)`` (the reset component's hook; ``fired`` = ``S[t-1]``, detached unless the
    neuron keeps the reset's gradient)."""
    kept, subtracted = reset(mem, fired, threshold)
    mem = leak(kept) + current
    return mem if subtracted is None else mem - subtracted


class SynapticFilter(torch.autograd.Function):
    """``Y[t] = a Y[t-1] + I[t]`` over all T in one node (the synapse component before the scan);
    backward ``dL/dI[t] = dL/dY[t] + a dL/dI[t+1]``. ``a`` is a constant (the buffer ``syn_alpha``)."""

    @staticmethod
    def forward(ctx, current, alpha):
        out = torch.empty_like(current)
        out[0].copy_(current[0])
        for t in range(1, current.shape[0]):
            torch.add(current[t], out[t - 1], alpha=alpha, out=out[t])
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        total = torch.empty_like(grad)
        total[-1].copy_(grad[-1])
        for t in range(grad.shape[0] - 2, -1, -1):
            torch.add(grad[t], total[t + 1], alpha=ctx.alpha, out=total[t])
        return total, None


# --------------------------------------------------------------------------- modules
class Leaky(snn.Leaky):
    """``snn.Leaky`` with explicit state only: it never joins snnTorch's global instance list
    (which would keep every neuron ever built alive), carries its :class:`NeuronSpec`, and holds
    the parameters of its components (:meth:`Component.build`).

    ``neuron(current)`` scans a time-major current ``[T, B, ...]`` from a fresh state and returns
    ``(spikes, membrane)``; :meth:`step` is one snnTorch step with the membrane passed in;
    :meth:`generic_step` one step of the component definition.
    """

    def __init__(self, spec: NeuronSpec, n_neurons: int | None = None):
        beta = spec.beta_value
        super().__init__(
            beta=1.0 if beta is None else beta,
            threshold=float(spec.threshold),
            spike_grad=spec.make_surrogate(),
            init_hidden=False,
            learn_beta=bool(spec.learn_beta) and spec.leak_init is None,
            reset_mechanism=spec.reset if spec.reset in _SNNTORCH_RESETS else "none",  # a plugin's: not snnTorch's
            reset_delay=True,
        )
        _forget_instance(self)
        self.spec = spec
        self.backend = "auto"
        self.parts = spec.components()
        for component in self.parts.values():
            component.build(self, spec, n_neurons)

    def extra_repr(self) -> str:
        return self.spec.describe() + ("" if self.backend == "auto" else f", backend {self.backend}")

    @property
    def random_state(self) -> bool:
        """Whether building drew random values (a ``leak_init`` leak): paired training redraws them."""
        return getattr(self, "leak_logit", None) is not None

    def reset_parameters(self) -> None:
        """Redraw what building drew at random (``leak_logit`` from ``leak_init``) from the global
        generator; the neuron's constants stay."""
        if self.random_state:
            self.parts["leak"].build(self, self.spec, int(self.leak_logit.numel()) if self.leak_logit.dim() else None)

    @property
    def plain(self) -> bool:
        """Whether :meth:`step` (snnTorch's ``Leaky``; the linear leak's own step) computes this
        neuron: leak, reset and recurrence only, with a leak of the package's own."""
        spec = self.spec
        defaults = all(component.name == SLOTS[slot].default for slot, component in self.parts.items()
                       if slot not in ("leak", "reset", "recurrence"))
        return (defaults and spec.leak in ("exponential", "none", "complete", "linear") and spec.leak_init is None
                and type(self.parts["reset"]) in (ZeroReset, SubtractReset, NoReset) and not spec.reset_grad
                and spec.init_state == "zero")

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

    def decay(self) -> torch.Tensor:
        """beta of the update (scalar or per neuron), in [0, 1]: ``sigmoid(leak_logit)`` for a
        ``leak_init`` leak, else snnTorch's ``beta`` clamped."""
        logit = getattr(self, "leak_logit", None)
        if logit is not None:
            return torch.sigmoid(logit)
        return self.beta.clamp(0, 1)

    def input_factor(self) -> torch.Tensor | float:
        """The factor ``one_minus_beta`` puts on the input: ``1 - beta``, and 1 where beta = 1 (no
        leak: the IF neuron keeps its input; :class:`~ablations.neurons.components.OneMinusBeta`)."""
        if self.spec.leak == "none":
            return 1.0
        beta = self.decay()
        return torch.where(beta >= 1.0, torch.ones_like(beta), 1.0 - beta)

    def leak(self, mem: torch.Tensor) -> torch.Tensor:
        """The leak term of the update applied to the previous membrane."""
        return self.parts["leak"].apply(self, mem)

    def reset_term(self, mem: torch.Tensor, fired: torch.Tensor, threshold) -> tuple[torch.Tensor, object]:
        """``(P, subtracted)`` of the reset component (:meth:`Component.reset`)."""
        return self.parts["reset"].reset(self, mem, fired, threshold)

    def draw_start(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The state before step 1, ``(U[0], S[0])``: None for rest (``init_state=zero``); for
        ``uniform`` both drawn U(0, 1) per sequence from the global generator, which the run seeds
        (DH-SNN's ``set_neuron_state``: a continuous ``S[0]``, subtracted by the first reset and fed
        through the recurrence)."""
        if self.spec.init_state == "zero":
            return None
        draw = dict(dtype=like.dtype, device=like.device)  # in index order whatever the layout of `like`
        return torch.rand(like.shape, **draw), torch.rand(like.shape, **draw)

    def initial_state(self, like: torch.Tensor, start: tuple[torch.Tensor, torch.Tensor] | None = None
                      ) -> dict[str, torch.Tensor]:
        if start is None:
            state = {"mem": torch.zeros_like(like), "spikes": torch.zeros_like(like)}
        else:
            state = {"mem": start[0], "spikes": start[1]}
        for component in self.parts.values():
            state.update(component.init_state(self, like))
        return state

    def generic_step(self, current: torch.Tensor, state: dict, recurrent: nn.Module | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the component definition (module docstring of
        :mod:`ablations.neurons.components`); ``state`` (``mem``, ``spikes`` and the components'
        own) is updated in place."""
        fired = state["spikes"].detach()
        for slot, component in self.parts.items():
            if SLOTS[slot].stage == "current":
                current = component.current(self, current, state, fired, recurrent)
        reset_fired = state["spikes"] if self.spec.reset_grad else fired
        mem = step(state["mem"], reset_fired, current, self.leak, self.reset_term, self.threshold)
        threshold = self.threshold
        for slot, component in self.parts.items():
            if SLOTS[slot].stage == "threshold":
                threshold = component.threshold(self, threshold, state, fired)
        spikes = self.spike_grad(mem - threshold)
        state["mem"], state["spikes"] = mem, spikes
        return spikes, mem


class LinearLeaky(Leaky):
    """Linear (subtractive) leak toward rest: ``L(u) = sign(u) max(|u| - lam, 0)``. snnTorch has
    no linear leak, so its step is :func:`step` with :func:`linear_leak` (the fired spikes of the
    previous step are ``H(U[t-1] - theta)``, as in snnTorch's delayed reset)."""

    def step(self, current: torch.Tensor, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fired = (mem > self.threshold).to(mem.dtype)
        mem = step(mem, fired, current, self.leak, self.reset_term, self.threshold)
        return self.spike_grad(mem - self.threshold), mem


class RecurrentNeuron(nn.Module):
    """A :class:`Leaky` cell with an all-to-all, bias-free recurrent current ``V S[t-1]``;
    ``neuron(current)`` scans ``[T, B, N]`` from a fresh state like every neuron."""

    def __init__(self, spec: NeuronSpec, n_neurons: int):
        super().__init__()
        self.cell = _cell(spec, n_neurons)
        self.recurrent = nn.Linear(n_neurons, n_neurons, bias=False)
        self.spec = spec

    @property
    def n_neurons(self) -> int:
        return self.recurrent.in_features

    def forward(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, membrane = run_sequence(self, current, record_membrane=True)
        return spikes, membrane  # type: ignore[return-value]


def _cell(spec: NeuronSpec, n_neurons: int | None = None) -> Leaky:
    return LinearLeaky(spec, n_neurons) if spec.leak == "linear" else Leaky(spec, n_neurons)


def _forget_instance(neuron: nn.Module) -> None:
    instances = snn.SpikingNeuron.instances
    for i in range(len(instances) - 1, -1, -1):
        if instances[i] is neuron:
            del instances[i]


def set_backend(module: nn.Module, backend: str) -> nn.Module:
    """Set the sequence backend of every neuron inside ``module``: ``auto``, ``fused`` (the torch
    scan), ``kernel`` (the compiled CPU scan, :mod:`ablations.neurons.numba_scan`), ``snntorch``
    (snnTorch's step, plain neurons only) or ``step`` (the components' own per-step definition,
    :meth:`Leaky.generic_step`, autograd at every step: the reference every fast path is pinned to)."""
    if backend not in BACKENDS:
        raise ValueError(f"neuron.backend={backend!r} is not one of {list(BACKENDS)}")
    for child in module.modules():
        if isinstance(child, Leaky):
            if backend == "snntorch" and not child.plain:
                raise ValueError(f"neuron.backend=snntorch runs snnTorch's Leaky, which has no "
                                 f"{_non_plain(child)}; use neuron.backend=auto")
            missing = scan.uncovered(child.spec)
            if backend in scan.SCAN_BACKENDS and missing:
                raise ValueError(f"neuron.backend={backend} does not cover {', '.join(missing)}; use neuron.backend=auto, "
                                 "which runs it through the per-step path")
            child.backend = backend
    return module


def _non_plain(cell: Leaky) -> str:
    spec = cell.spec
    parts = [f"{SLOTS[slot].key}={component.name}" for slot, component in cell.parts.items()
             if slot not in ("leak", "reset", "recurrence") and component.name != SLOTS[slot].default]
    if spec.leak_init is not None:
        parts.append(f"leak_init={spec.leak_init}")
    if type(cell.parts["reset"]) not in (ZeroReset, SubtractReset, NoReset):
        parts.append(f"reset={spec.reset}")
    if spec.reset_grad:
        parts.append("reset_grad=true")
    if spec.init_state != "zero":
        parts.append(f"init_state={spec.init_state}")
    return ", ".join(parts) or "this neuron"


def release_instances() -> None:
    """Empty snnTorch's class-level neuron list (neurons built elsewhere with snnTorch)."""
    snn.SpikingNeuron.instances.clear()


def build_neuron(variant_or_spec: str | NeuronSpec, n_neurons: int | None = None, **overrides) -> nn.Module:
    """A configured neuron module: ``build_neuron("no_reset", tau=100.0)``; ``neuron(current)`` gives
    ``(spikes, membrane)``. Recurrent variants and per-neuron leaks need the layer width:
    ``build_neuron("recurrent", n_neurons=512)``.
    """
    spec = spec_for(variant_or_spec, **overrides)
    if spec.recurrent:
        if not n_neurons or n_neurons < 1:
            raise ValueError(
                f"variant {spec.variant or 'recurrent'!r} is recurrent and needs the layer width: "
                "build_neuron(..., n_neurons=N)"
            )
        return RecurrentNeuron(spec, int(n_neurons))
    return _cell(spec, n_neurons)


# --------------------------------------------------------------------------- sequence runner
def run_sequence(
    neuron: nn.Module, current: torch.Tensor, record_membrane: bool = True, input_scaled: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scan a neuron over time from a fresh state.

    ``current`` is ``[T, B, ...]``; returns spikes ``[T, B, ...]`` and, when asked for, the
    membrane ``U[t]`` of the equations (before the reset its spike causes), same shape.
    For a :class:`RecurrentNeuron` the trailing dimensions are flattened to its width.
    ``input_scaled``: ``current`` already carries the ``one_minus_beta`` factor (the layer folded it
    into its weights, :func:`input_scale_folds`); only where that is true.
    """
    if current.dim() < 2:
        raise ValueError(f"current must be time-major [T, B, ...], got shape {tuple(current.shape)}")
    recurrent = neuron.recurrent if isinstance(neuron, RecurrentNeuron) else None
    cell = neuron.cell if isinstance(neuron, RecurrentNeuron) else neuron
    if recurrent is not None and current[0, 0].numel() != recurrent.in_features:
        raise ValueError(
            f"recurrent neuron of width {recurrent.in_features} got current of shape "
            f"{tuple(current.shape)}"
        )
    if input_scaled and not _scales_foldably(cell.spec):
        raise ValueError("input_scaled: this neuron does not scale its input by one_minus_beta on the fused scan")
    if cell.spec.gradient != "exact":
        return leak_gradient.scan(cell, current, record_membrane)
    fused, missing = _fused_path(cell, recurrent)
    if input_scaled and not fused:
        raise ValueError("input_scaled: this neuron does not run the fused scan with neuron.input_scale=one_minus_beta")
    like = current[0] if recurrent is None else current[0].reshape(current.shape[1], -1)
    start = cell.draw_start(like)
    if fused:
        spikes, membrane = fused_sequence(cell, recurrent, current, start=start, input_scaled=input_scaled)
        return spikes, (membrane if record_membrane else None)
    if cell.backend == "snntorch" or (cell.backend == "auto" and cell.plain):
        return _per_step_snntorch(cell, recurrent, current, record_membrane)
    if cell.backend == "auto":
        _say_once(missing or [_non_plain(cell)])
    return _per_step_generic(cell, recurrent, current, record_membrane, start)


def _fused_path(cell: Leaky, recurrent: nn.Linear | None) -> tuple[bool, list[str]]:
    """Whether :func:`run_sequence` scans ``cell`` with the fused scan, and what the scan does not
    cover of it; a scan backend asked for by name that does not cover it is refused here."""
    missing = scan.uncovered(cell.spec)  # what the scan declares it runs, against this neuron's components
    covered = not missing and scan.supports(cell, recurrent)
    if cell.backend in scan.SCAN_BACKENDS and not covered:
        raise ValueError(
            f"neuron.backend={cell.backend} does not cover this neuron ({', '.join(missing) or 'forward hooks on it'}); "
            "use neuron.backend=auto, which falls back to the per-step path for it"
        )
    return cell.backend in scan.SCAN_BACKENDS or (cell.backend == "auto" and covered), missing


def _scales_foldably(spec) -> bool:
    """The spec's part of :func:`input_scale_folds`: ``one_minus_beta`` with a leak, no synaptic filter,
    the exact gradient (the scan decides the rest)."""
    return (spec.input_scale == "one_minus_beta" and spec.leak != "none" and spec.synapse == "none"
            and spec.gradient == "exact")


def input_scale_folds(neuron: nn.Module) -> bool:
    """Whether the layer before ``neuron`` may fold its ``one_minus_beta`` factor into its own weights
    (``(1 - beta) (W x + b) = ((1 - beta) W) x + (1 - beta) b``, exact up to rounding): the neuron
    scales its input (with a leak; no synaptic filter) and runs the fused scan, which then skips
    the scaling pass over ``[T, B, N]`` and its two passes back (``run_sequence(input_scaled=True)``)."""
    recurrent = neuron.recurrent if isinstance(neuron, RecurrentNeuron) else None
    cell = neuron.cell if isinstance(neuron, RecurrentNeuron) else neuron
    spec = getattr(cell, "spec", None)
    if spec is None or not _scales_foldably(spec):
        return False
    try:
        return _fused_path(cell, recurrent)[0]
    except ValueError:
        return False


def _say_once(missing: list[str]) -> None:
    key = ", ".join(missing)
    if key not in _SAID:
        _SAID.add(key)
        log.warning("note: neurons with %s run through the per-step path with autograd (no fast path declares "
                    "it): correct, slower", key)


def _per_step_snntorch(cell: Leaky, recurrent: nn.Linear | None, current: torch.Tensor, record_membrane: bool):
    mem = torch.zeros_like(current[0])
    spk = torch.zeros_like(current[0])
    spikes, membranes = [], []
    for t in range(current.shape[0]):
        step_current = current[t]
        if recurrent is not None:
            step_current = step_current + recurrent(spk)
        spk, mem = cell(step_current, mem)  # a module call: forward hooks see each step
        spikes.append(spk)
        if record_membrane:
            membranes.append(mem)
    cell.mem = torch.zeros(0, device=current.device)  # drop the reference to the last graph node
    return torch.stack(spikes), (torch.stack(membranes) if record_membrane else None)


def _per_step_generic(cell: Leaky, recurrent: nn.Linear | None, current: torch.Tensor, record_membrane: bool,
                      start: tuple[torch.Tensor, torch.Tensor] | None = None):
    if recurrent is not None:
        current = current.reshape(current.shape[0], current.shape[1], -1)
    state = cell.initial_state(current[0], start)
    spikes, membranes = [], []
    for t in range(current.shape[0]):
        spk, mem = cell.generic_step(current[t], state, recurrent)
        spikes.append(spk)
        if record_membrane:
            membranes.append(mem)
    return torch.stack(spikes), (torch.stack(membranes) if record_membrane else None)


def fused_sequence(cell: Leaky, recurrent: nn.Linear | None, current: torch.Tensor,
                   state: tuple[torch.Tensor, torch.Tensor] | None = None,
                   start: tuple[torch.Tensor, torch.Tensor] | None = None,
                   input_scaled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The fused scan with the components' input transforms applied first: the synaptic filter
    (no recurrence) and ``one_minus_beta`` on the current (unless ``input_scaled``: the layer folded
    it into its weights) and on the recurrent matrix's rows.
    ``state`` continues a sequence (time blocks); a synaptic filter has state of its own and
    cannot be continued this way. ``start`` is a drawn initial ``(U[0], S[0])`` (:meth:`Leaky.draw_start`)."""
    if state is not None and cell.spec.init_state != "zero":
        raise ValueError("train.checkpoint_time_steps does not cover neuron.init_state=uniform; leave "
                         "checkpoint_time_steps null")
    spec = cell.spec
    weight = None if recurrent is None else recurrent.weight
    beta = cell.decay() if getattr(cell, "leak_logit", None) is not None else None  # None: the scan reads cell.beta
    if spec.synapse == "current":
        if state is not None:
            raise ValueError("train.checkpoint_time_steps does not cover neuron.synapse=current (its current "
                             "carries over between time blocks); leave checkpoint_time_steps null")
        current = SynapticFilter.apply(current, float(cell.syn_alpha))
    adaptation = None
    if spec.adaptation == "alif":
        if state is not None:
            raise ValueError("train.checkpoint_time_steps does not cover neuron.adaptation=alif (its threshold "
                             "trace carries over between time blocks); leave checkpoint_time_steps null")
        adaptation = (float(cell.adapt_decay), float(cell.adapt_scale))
    if spec.input_scale == "one_minus_beta":
        factor = cell.input_factor()
        if not input_scaled:
            current = current * factor
        if weight is not None:
            weight = weight * (factor.reshape(-1, 1) if isinstance(factor, torch.Tensor) else factor)
    return scan.fused_scan(cell, recurrent, current, state if start is None else start, beta=beta, weight=weight,
                           adaptation=adaptation)


def simulate(neuron: nn.Module, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``[T, B, N]`` of a neuron driven by ``current [T, B, N]``."""
    spikes, membrane = run_sequence(neuron, current, record_membrane=True)
    return spikes, membrane  # type: ignore[return-value]
