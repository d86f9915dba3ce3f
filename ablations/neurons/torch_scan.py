r"""A fused scan of one neuron layer over all time steps: one autograd node per layer.

:class:`NeuronScan` runs the update of :mod:`ablations.neurons` (module docstring there) for
every ``t = 1..T`` in one call, without building a per-step graph, and differentiates it with a
hand-written backward pass through time (BPTT). What it runs is declared here, in :data:`COVERED`
(the component classes it implements), and :func:`uncovered` computes from that declaration
whether a neuron runs on it: leak exponential / none / complete (a ``beta``, learnable or not, per
neuron or ``sigmoid(p)``) and linear (``lam``), every reset given as a
:class:`~ablations.neurons.components.ResetForm` ``(r, q)`` (zero, subtract, none, a plugin's),
recurrence ``V S[t-1]`` (matrix product inside the scan), the adaptive threshold of the ``alif``
component (``theta + b A[t]``, ``A[t] = rho A[t-1] + S[t-1]``, its gradient through ``A``
included: ``_adaptive_backward``) and every surrogate (its derivative is taken from the surrogate
object itself, so a new surrogate needs no code here).

Forward, from ``U[0] = 0``, ``S[0] = 0`` (or a given state, e.g. DH-SNN's random start):

    P[t] = U[t-1] (1 - r S[t-1])                               the state the leak acts on
    U[t] = leak(P[t]) + I[t] + V S[t-1] - q theta S[t-1]
    S[t] = H(U[t] - theta)

with ``leak(p) = beta p`` (``beta`` clamped to [0, 1] as snnTorch does) or
``leak(p) = p - clamp(p, -lam, lam)``. Like snnTorch the reset is detached by default: ``S[t-1]``
in ``P`` and in ``q theta S[t-1]`` carries no gradient (``neuron.reset_grad=true``: it does); in
``V S[t-1]`` it always does.

Backward. With ``g[t] = dS/dU`` (the surrogate at ``U[t] - theta``), the upstream gradients
``gS[t]``, ``gU[t]`` and ``a[t] = dL/dU[t]`` (total), for ``t = T..1``:

    a[t] = gU[t] + g[t] (gS[t] + a[t+1] V + a[t+1] f[t+1]) + d[t+1] a[t+1],    a[T+1] = 0
    d[t+1] = dU[t+1]/dU[t] = leak'(P[t+1]) (1 - r S[t])
    f[t+1] = dU[t+1]/dS[t] = -r leak'(P[t+1]) U[t] - q theta   (reset_grad only; else 0)

and then ``dL/dI[t] = a[t]``, ``dL/dbeta = sum_t a[t] P[t]`` (through the clamp) and
``dL/dV = sum_t a[t]^T S[t-1]``. Only the membrane ``U`` is saved (in the compute dtype): the
spikes are ``U > theta`` again, so they cost nothing to keep.

Two implementations of the same node: :class:`NeuronScan` (torch operations, any device) and
:class:`ablations.neurons.numba_scan.KernelScan` (a compiled one-pass loop for CPU tensors, numba;
it declares its own ``COVERED``). :func:`fused_scan` picks one from the cell's ``backend``
(:func:`implementation`): ``fused`` the torch scan, ``kernel`` the compiled loop, ``auto`` the
compiled loop on a CPU where numba is installed and the kernel declares the neuron (measured faster
on every shape of ``benchmarks/bench_scan.py``), else the torch scan. Both are pinned against the
definition, :meth:`ablations.neurons.Leaky.generic_step` (``tests/test_scan.py``).
``ABLATIONS_KERNEL=0`` in the environment keeps ``auto`` on the torch scan.

Precision: the scan always runs in at least float32, also under ``torch.autocast`` (state is
accumulated in float32; the spikes it returns are exact in any dtype the next layer casts to).
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import torch
from torch import nn

from .components import (SLOTS, AdaptiveThreshold, AllToAll, CompleteLeak, CurrentSynapse, ExponentialLeak,
                         FormReset, LinearLeak, NoAdaptation, NoInputScale, NoLeak, NoRecurrence, NoSynapse,
                         OneMinusBeta, is_identity)

__all__ = ["NeuronScan", "SCAN_BACKENDS", "COVERED", "autograd_derivative", "fused_scan", "implementation",
           "reset_argument", "supports", "surrogate_derivative", "uncovered"]

log = logging.getLogger(__name__)

# the neuron backends that run one of the two scan implementations (the others: auto, snntorch)
SCAN_BACKENDS = ("fused", "kernel")
_told_missing = False


def surrogate_derivative(surrogate: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                         overwrite: bool = False) -> torch.Tensor:
    """``dS/dU`` of a surrogate at ``z = U - theta`` (``overwrite``: ``z`` may be used for the result).

    A surrogate object gives its derivative directly (``derivative(z)`` / ``derivative_(z)``:
    every :class:`~ablations.neurons.Surrogate` has them, closed form for the built-in ones); for
    any other callable one vectorised autograd call over all time steps asks its backward for it.
    """
    method = getattr(surrogate, "derivative_" if overwrite else "derivative", None)
    if callable(method):
        return method(z)
    return autograd_derivative(surrogate, z)


def autograd_derivative(surrogate: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """``dS/dz`` asked of the surrogate's own backward, in one vectorised autograd call."""
    with torch.enable_grad():
        probe = z.detach().requires_grad_(True)
        spikes = surrogate(probe)
        (gradient,) = torch.autograd.grad(spikes, probe, torch.ones_like(spikes))
    return gradient


def _sum_to(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return tensor.sum() .reshape(shape) if len(shape) == 0 or shape.numel() == 1 else tensor.sum_to_size(shape)


class NeuronScan(torch.autograd.Function):
    """``(current [T, B, ...], membrane0, spikes0, beta, weight, lam, threshold, reset, surrogate)
    -> (spikes, membrane)``.

    ``membrane0``, ``spikes0`` (``[B, ...]``) are the state before the first step, or None for
    rest (``U[0] = 0``, ``S[0] = 0``); ``spikes0`` may be continuous (DH-SNN's random initial
    "spike"): the first step's reset and recurrence use it as it is.
    ``beta`` is a tensor (scalar or per neuron) for beta leaks and None for a linear leak, which
    takes ``lam`` (float) instead. ``weight`` is the recurrent matrix ``V [N, N]`` or None
    (then ``current`` may have any trailing shape). ``threshold`` is a float, ``reset`` the triple
    ``(scale, subtract, with_gradient)`` of :func:`reset_argument`, ``surrogate`` a callable on ``z``.
    ``adaptation`` is None or ``(rho, b)``: the adaptive threshold ``theta + b A[t]``,
    ``A[t] = rho A[t-1] + S[t-1]`` (component ``alif``; from rest only).
    """

    @staticmethod
    def forward(ctx, current, membrane0, spikes0, beta, weight, lam, threshold, reset, surrogate, adaptation=None):
        scale, subtract, _ = reset
        with torch.autocast(current.device.type, enabled=False):
            # every buffer allocated once (a fresh tensor per step costs more than the step's
            # arithmetic), spikes as 0/1 numbers (on a CPU a comparison into bool is many times slower)
            membrane = torch.empty_like(current)
            spikes = torch.empty_like(current)
            reset_state = torch.empty_like(current[0]) if scale != 0 else None
            beta_value = None if beta is None else beta.detach().clamp(0, 1).to(current.dtype)
            scalar_beta = None if beta_value is None or beta_value.numel() != 1 else float(beta_value)
            if membrane0 is not None:
                previous_membrane = membrane0.detach().to(current.dtype)
                previous_spikes = spikes0.detach().to(current.dtype)
            # alif: the trace A, and U - b A, the membrane the base threshold is compared with
            trace = firing = None
            if adaptation is not None:
                if membrane0 is not None:
                    raise ValueError("the adaptive threshold is scanned from rest only")
                trace, firing = torch.zeros_like(current), torch.empty_like(current)
            for t in range(current.shape[0]):
                if t == 0 and membrane0 is None:
                    membrane[0].copy_(current[0])  # from U[0] = 0, S[0] = 0
                else:
                    previous = previous_membrane
                    if scale != 0:  # U - r U S: for reset zero exactly U, or exactly 0 after a spike
                        previous = torch.addcmul(previous, previous, previous_spikes, value=-scale, out=reset_state)
                    if beta_value is None:
                        leaked = previous - previous.clamp(-lam, lam)
                        torch.add(current[t], leaked, out=membrane[t])
                    elif scalar_beta is not None:
                        torch.add(current[t], previous, alpha=scalar_beta, out=membrane[t])
                    else:
                        torch.addcmul(current[t], previous, beta_value, out=membrane[t])
                    if subtract != 0:
                        membrane[t].sub_(previous_spikes, alpha=threshold * subtract)
                    if weight is not None:
                        membrane[t].addmm_(previous_spikes, weight.t())
                if trace is None:
                    torch.gt(membrane[t], threshold, out=spikes[t])
                else:
                    if t > 0:
                        torch.add(previous_spikes, trace[t - 1], alpha=adaptation[0], out=trace[t])
                    torch.add(membrane[t], trace[t], alpha=-adaptation[1], out=firing[t])
                    torch.gt(firing[t], threshold, out=spikes[t])
                previous_membrane, previous_spikes = membrane[t], spikes[t]
        ctx.save_for_backward(membrane, membrane0, spikes0, beta, weight, firing)
        ctx.set_materialize_grads(False)  # an output the loss does not use (often the membrane) stays None
        ctx.lam, ctx.threshold, ctx.reset, ctx.surrogate = lam, threshold, reset, surrogate
        ctx.adaptation = adaptation
        return spikes, membrane

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_spikes, grad_membrane):
        membrane, membrane0, spikes0, beta, weight, firing = ctx.saved_tensors
        lam, threshold = ctx.lam, ctx.threshold
        scale, subtract, through_reset = ctx.reset
        steps = membrane.shape[0]
        if firing is None:
            firing = membrane  # without adaptation the spike compares U itself with theta
        with torch.autocast(membrane.device.type, enabled=False):
            dtype = membrane.dtype
            # masks as 0/1 numbers, not bool: on a CPU bool tensors and masked_fill are many times
            # slower than the float arithmetic they stand for (measured)
            # S[t], needed for the reset's mask and the recurrent weight's gradient only
            adaptation = ctx.adaptation
            fired = None if scale == 0 and weight is None else \
                torch.gt(firing, threshold, out=torch.empty_like(membrane))
            slope = surrogate_derivative(ctx.surrogate, firing - threshold, overwrite=True).to(dtype)
            # a[t+1] reaches a[t] through S[t] too: by the recurrence and (reset_grad) by the reset
            through_spikes = weight is not None or through_reset
            # c[t]: the part of a[t] known without the recursion (recurrent: a[t+1] V added per step;
            # adaptation: the whole dL/dS[t] term, added per step)
            if grad_spikes is None or adaptation is not None:
                local = torch.zeros_like(membrane)
            elif not through_spikes:
                local = slope.mul_(grad_spikes.to(dtype))  # the slope is not needed again
            else:
                local = grad_spikes.to(dtype) * slope
            if grad_membrane is not None:
                local.add_(grad_membrane.to(dtype))
            # the previous state of each step that has one: steps 2..T, and step 1 when a state
            # was given (a time block after the first, a random start); `first` is the first such step
            previous_fired = None
            if membrane0 is None:
                first, previous = 1, membrane[:-1]
                if fired is not None:
                    previous_fired = fired[:-1]
            else:
                first = 0
                previous = torch.cat([membrane0.detach().to(dtype)[None], membrane[:-1]])
                if fired is not None:
                    previous_fired = torch.cat([spikes0.detach().to(dtype)[None], fired[:-1]])
            before_reset = previous  # U[t-1]
            keep = None
            if scale != 0:  # 1 - r S[t-1], in the spikes' own storage when nothing else reads them
                keep = previous_fired * -scale if weight is not None else previous_fired.mul_(-scale)
                keep.add_(1.0)
            wants_beta = beta is not None and ctx.needs_input_grad[3]
            if keep is not None and (beta is None or wants_beta):
                previous = previous * keep  # P[t], what the leak acts on (zero after a spike)
            beta_value = None if beta is None else beta.detach().clamp(0, 1).to(dtype)
            # (reset_grad) dU[t]/dS[t-1] = -r leak'(P[t]) U[t-1] - q theta
            feedback = None
            if through_reset:
                if scale == 0:
                    feedback = -subtract * threshold
                else:
                    leak_slope = torch.gt(previous.abs(), lam).to(dtype) if beta is None else beta_value
                    feedback = before_reset * leak_slope * -scale
                    if subtract != 0:
                        feedback.sub_(subtract * threshold)
            scalar_beta = None
            if beta is None:
                carry = torch.gt(previous.abs(), lam, out=torch.empty_like(previous))
                if keep is not None:
                    carry.mul_(keep)
            else:
                if keep is None and beta_value.numel() == 1:
                    carry, scalar_beta = None, float(beta_value)
                elif keep is None:
                    carry = beta_value.expand_as(previous)
                else:
                    carry = keep.mul_(beta_value)  # keep is not needed after this

            def feedback_at(t):  # dU[t]/dS[t-1] for step t (0-based, t >= first)
                return feedback if isinstance(feedback, float) else feedback[t - first]

            total = torch.empty_like(membrane)  # a[t] = dL/dU[t] = dL/dI[t]
            if adaptation is not None:
                _adaptive_backward(total, local, slope, grad_spikes, weight, adaptation,
                                   lambda t: scalar_beta if carry is None else carry[t + 1 - first],
                                   None if feedback is None else lambda t: feedback_at(t + 1))
            else:
                total[-1].copy_(local[-1])
                spike_back = torch.empty_like(membrane[0]) if through_spikes else None
                for t in range(steps - 2, -1, -1):
                    later = total[t + 1]
                    if through_spikes:
                        # (gS[t] + a[t+1] V + a[t+1] dU[t+1]/dS[t]) g[t]: gS[t] g[t] is in c[t] already
                        if weight is not None:
                            torch.mm(later, weight, out=spike_back)
                        if feedback is not None:
                            step_feedback = feedback_at(t + 1)
                            if weight is None:
                                torch.mul(later, step_feedback, out=spike_back)
                            elif isinstance(step_feedback, float):
                                spike_back.add_(later, alpha=step_feedback)
                            else:
                                spike_back.addcmul_(later, step_feedback)
                        torch.addcmul(local[t], spike_back, slope[t], out=total[t])
                        base = total[t]
                    else:
                        base = local[t]
                    if scalar_beta is not None:
                        torch.add(base, later, alpha=scalar_beta, out=total[t])
                    else:
                        torch.addcmul(base, carry[t + 1 - first], later, out=total[t])
            grad_membrane0 = grad_spikes0 = grad_beta = grad_weight = None
            if membrane0 is not None and ctx.needs_input_grad[1]:
                grad_membrane0 = (total[0] * (scalar_beta if carry is None else carry[0])).to(membrane0.dtype)
            if spikes0 is not None and ctx.needs_input_grad[2] and through_spikes:
                grad_spikes0 = torch.zeros_like(total[0])
                if weight is not None:
                    grad_spikes0 += total[0] @ weight
                if feedback is not None:
                    grad_spikes0 += total[0] * feedback_at(0)
                grad_spikes0 = grad_spikes0.to(spikes0.dtype)
            if wants_beta:
                inside = ((beta > 0) & (beta < 1)).to(dtype)  # torch's clamp: no gradient at the bounds
                grad_beta = (_sum_to(total[first:] * previous, beta.shape) * inside).to(beta.dtype)
            if weight is not None and ctx.needs_input_grad[4]:
                width = weight.shape[1]
                previous_spikes = previous_fired.reshape(-1, width)
                grad_weight = total[first:].reshape(-1, weight.shape[0]).t() @ previous_spikes
                grad_weight = grad_weight.to(weight.dtype)
        return total, grad_membrane0, grad_spikes0, grad_beta, grad_weight, None, None, None, None, None


def _adaptive_backward(total, local, slope, grad_spikes, weight, adaptation, carry_at, feedback_at=None) -> None:
    """BPTT with the adaptive threshold, into ``total`` (``a[t] = dL/dU[t]``), for t = T..1:

        e[t] = gS[t] + a[t+1] V + a[t+1] f[t+1] + c[t+1]   dL/dS[t]: its own loss, the recurrence, the
                                                            reset (reset_grad: f = dU[t+1]/dS[t]), A[t+1]
        a[t] = gU[t] + g[t] e[t] + d[t+1] a[t+1]
        c[t] = rho c[t+1] - b g[t] e[t]           dL/dA[t]; c[T+1] = a[T+1] = 0
    """
    rho, scale = adaptation
    steps = total.shape[0]
    trace_gradient = torch.zeros_like(total[0])
    spike_gradient = torch.empty_like(total[0])
    for t in range(steps - 1, -1, -1):
        spike_gradient.copy_(trace_gradient)
        if grad_spikes is not None:
            spike_gradient.add_(grad_spikes[t].to(total.dtype))
        if weight is not None and t < steps - 1:
            spike_gradient.addmm_(total[t + 1], weight)
        if feedback_at is not None and t < steps - 1:
            step_feedback = feedback_at(t)
            if isinstance(step_feedback, float):
                spike_gradient.add_(total[t + 1], alpha=step_feedback)
            else:
                spike_gradient.addcmul_(total[t + 1], step_feedback)
        torch.addcmul(local[t], slope[t], spike_gradient, out=total[t])
        if t < steps - 1:
            carry = carry_at(t)
            if isinstance(carry, float):
                total[t].add_(total[t + 1], alpha=carry)
            else:
                total[t].addcmul_(carry, total[t + 1])
        trace_gradient.mul_(rho).addcmul_(slope[t], spike_gradient, value=-scale)


# What this scan implements, declared here and nowhere else: (slot, component class). A neuron runs
# on it when each of its components is listed here, is a reset given by its ResetForm (the scan runs
# any (scale, subtract) pair), or overrides no hook at all (it changes nothing): :func:`uncovered`.
# A subclass is not its parent: a plugin that changes a hook of a listed component is not covered.
COVERED = frozenset({
    ("leak", ExponentialLeak), ("leak", NoLeak), ("leak", CompleteLeak), ("leak", LinearLeak),
    ("recurrence", NoRecurrence), ("recurrence", AllToAll), ("synapse", NoSynapse), ("synapse", CurrentSynapse),
    ("input", NoInputScale), ("input", OneMinusBeta), ("adaptation", NoAdaptation), ("adaptation", AdaptiveThreshold),
})


def uncovered(spec, covered=COVERED) -> list[str]:
    """What of ``spec`` (a NeuronSpec) a scan declaring ``covered`` does not run, as ``key=value``
    (empty: the scan runs this neuron exactly as its definition, :meth:`Leaky.generic_step`)."""
    missing = []
    for slot, component in spec.components().items():
        if (slot, type(component)) in covered or is_identity(component):
            continue
        if slot == "reset" and isinstance(component, FormReset) and type(component).reset is FormReset.reset:
            continue
        missing.append(f"{SLOTS[slot].key}={component.name}")
    if spec.synapse == "current" and spec.recurrent:  # the synaptic filter is applied before the scan
        missing.append("synapse=current with recurrent=true")
    if spec.adaptation == "alif" and spec.init_state != "zero":  # the trace is scanned from rest only
        missing.append(f"adaptation=alif with init_state={spec.init_state}")
    return missing


def reset_argument(cell: nn.Module) -> tuple[float, float, bool]:
    """``(scale, subtract, with_gradient)`` of the cell's reset (its :class:`ResetForm`, and
    ``neuron.reset_grad``): the reset argument of :class:`NeuronScan` and the kernel."""
    form = cell.parts["reset"].form
    return float(form.scale), float(form.subtract), bool(cell.spec.reset_grad)


def supports(cell: nn.Module, recurrent: nn.Linear | None = None) -> bool:
    """Whether :class:`NeuronScan` computes exactly what this snnTorch-based cell (and its
    recurrent matrix) computes. A recurrent ``nn.Linear`` with forward hooks (e.g. the activity
    suite's op counter) is left to the per-step backend, which calls it."""
    import snntorch as snn
    from torch.nn.modules import module as torch_module

    if not isinstance(cell, snn.Leaky) or not hasattr(cell, "spec"):  # the package's Leaky (ablations.neurons)
        return False
    if recurrent is not None and (recurrent._forward_hooks or recurrent._forward_pre_hooks
                                  or torch_module._global_forward_hooks):
        return False
    plain = (
        not getattr(cell, "inhibition", False)
        and not getattr(cell, "state_quant", False)
        and getattr(cell, "reset_delay", True)
        and not isinstance(getattr(cell, "threshold", None), nn.Parameter)
        and not isinstance(getattr(cell, "graded_spikes_factor", None), nn.Parameter)
        and float(getattr(cell, "graded_spikes_factor", 1.0)) == 1.0
    )
    return plain


def implementation(backend: str, current: torch.Tensor, surrogate: Callable,
                   spec=None) -> type[torch.autograd.Function]:
    """The scan that runs ``backend`` on ``current``: :class:`~ablations.neurons.numba_scan.KernelScan` or
    :class:`NeuronScan` (module docstring). ``kernel`` where the compiled loop cannot run (numba
    missing, a CUDA tensor, a surrogate without ``derivative_``) runs the torch scan and logs why, once."""
    global _told_missing
    from . import numba_scan as kernel  # imported at the first scan, not by every command that imports the package (numba: ~0.4 s)

    fits = (current.device.type == "cpu" and current.dtype in (torch.float32, torch.float64)
            and callable(getattr(surrogate, "derivative_", None))
            and (spec is None or not uncovered(spec, kernel.COVERED)))
    if backend == "kernel" or (backend == "auto" and os.environ.get("ABLATIONS_KERNEL", "1") != "0"):
        if fits and kernel.available():
            return kernel.KernelScan
        if backend == "kernel" and not _told_missing:
            _told_missing = True
            reason = kernel.missing_reason() or "it runs CPU float32/float64 tensors with a surrogate object only"
            log.warning("neuron.backend=kernel runs the torch scan instead: %s", reason)
        elif backend == "auto" and fits and not kernel.available() and not _told_missing:
            _told_missing = True  # the default: said once, quietly
            log.info("the torch scan runs: %s for the compiled CPU kernel", kernel.missing_reason())
    return NeuronScan


def fused_scan(cell: nn.Module, recurrent: nn.Linear | None, current: torch.Tensor,
               state: tuple[torch.Tensor, torch.Tensor] | None = None, beta: torch.Tensor | None = None,
               weight: torch.Tensor | None = None, adaptation: tuple[float, float] | None = None,
               backend: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``[T, B, ...]`` of ``cell`` (plus ``recurrent``) over ``current``.

    ``state`` = ``(U, S)`` of the step before the first (``[B, ...]`` each) continues a sequence
    (a time block after the first); None starts from rest. ``beta`` and ``weight`` replace the
    cell's ``beta`` and the recurrent matrix when given (a sigmoid-parameterised leak, a matrix
    scaled by the input factor: ``ablations.neurons.fused_sequence``); ``adaptation`` = ``(rho, b)``
    scans the adaptive threshold (:class:`NeuronScan` only). ``backend`` (default: the cell's)
    chooses the implementation (:func:`implementation`).
    """
    spec = cell.spec
    if beta is None:
        beta = None if spec.leak == "linear" else cell.beta
    lam = float(cell.lam) if spec.leak == "linear" else None
    if weight is None:
        weight = None if recurrent is None else recurrent.weight
    shape = current.shape
    if recurrent is not None:
        current = current.reshape(shape[0], shape[1], -1)
    if current.dtype in (torch.float16, torch.bfloat16):
        current = current.float()  # the state is accumulated in float32 (module docstring)
    membrane0, spikes0 = (None, None) if state is None else (s.reshape(current.shape[1:]) for s in state)
    scan = NeuronScan if adaptation is not None else \
        implementation(backend or getattr(cell, "backend", "auto"), current, cell.spike_grad, spec)
    spikes, membrane = scan.apply(
        current, membrane0, spikes0, beta, weight, lam, float(cell.threshold), reset_argument(cell), cell.spike_grad,
        adaptation
    )
    if spikes.shape != shape:
        spikes, membrane = spikes.reshape(shape), membrane.reshape(shape)
    return spikes, membrane
