r"""The leak-corrected gradient of ref [21], a second way to differentiate the same neuron.

Seed 003 (section 2.3, Eq. 5) trains with "the LIF neuronal surrogate gradient function that
accounts for the leaky behavior as proposed in [21]": ``dO/dU = 1 / (V_th + epsilon)`` where
``epsilon`` "compensates the leaky effect". Seed 003 gives no formula for epsilon; ref [21]'s
public code (chan8972/Enabling_Spikebased_Backpropagation, ``src/cifar10_VGG9.py``, the code
seed 003 section 4.1 says it follows) implements it as follows. Line numbers refer to that file.

Forward pass: unchanged, the update of :mod:`ablations.neurons` (hard reset, exponential leak
``beta``; ref [21] lines 395-405 give the same ``U[t] = beta (1 - S[t-1]) U[t-1] + I[t]``).

Backward pass, two differences from differentiating that update as written (``exact``):

1. The membrane gradient passes through the leak *unscaled* (line 402:
   ``l * u.detach() + u - u.detach()``)::

       dU[t] / dU[t-1] = (1 - S[t-1])          instead of  beta (1 - S[t-1])

2. Each neuron's spike gradient, at every step, is multiplied by one factor per neuron and
   sequence, computed after the forward pass (``grad_cal``, lines 172-175, applied as hooks on
   every step's spikes, lines 209-227)::

       g = 1[LF > 1e-3] + ln(beta) * LF / Total
       LF    = sum_t beta^(T-t) S[t]     leak-filtered spike count (LF_Unit, line 409)
       Total = sum_t S[t]                plain spike count (line 410; a count < 1e-3 is
                                         replaced by count + 1, line 173, to avoid 0/0)

   so ``dL/dU[t] = g * dL/dS[t] * dS/dU[t] + ...``. For IF (``beta = 1``) ``ln(beta) = 0`` and
   both differences vanish: the gradient equals ``exact``. With leak, ``g`` lies in
   ``[1 + ln(beta), 1]`` for a neuron that fired (``1 + ln(beta) LF/Total``) and is 0 for one
   that did not (whose straight-through gradient is 0 anyway).

``dS/dU`` is the neuron's surrogate; ref [21] uses straight-through ``1/theta`` where the neuron
fired (lines 383-392 and 403), our ``straight_through`` surrogate with ``epsilon = 0``.

Ref [21]'s readout integrator passes its gradient through the leak unscaled too (line 596);
:class:`ablations.network.Readout` does the same when the hidden neurons use this gradient.

Choose it with ``neuron.gradient=leak_corrected`` (``exact`` is the default). It is defined for
non-recurrent neurons with an exponential leak ``0 < beta <= 1`` (``tau`` finite or inf) and
any reset; the dropout of ref [21] (a mask per neuron, shared by all steps) leaves ``LF/Total``
unchanged, so computing the factor before dropout gives the same gradient.
"""

from __future__ import annotations

import torch

__all__ = ["GRADIENTS", "check", "scan", "spike_gradient_factor", "unscaled_leak"]

GRADIENTS = ("exact", "leak_corrected")
_TINY = 1e-3  # ref [21] line 173-174: counts below it are "no spike"


def check(spec) -> None:
    """Raise ValueError unless ``spec`` (a NeuronSpec) can use its gradient option."""
    if spec.gradient not in GRADIENTS:
        raise ValueError(f"neuron.gradient={spec.gradient!r} is not one of {list(GRADIENTS)}")
    if spec.gradient == "exact":
        return
    if spec.leak not in ("exponential", "none"):
        raise ValueError(
            f"neuron.gradient=leak_corrected (ref [21]) needs an exponential leak with 0 < beta <= 1 "
            f"or no leak, not leak={spec.leak!r}; use neuron.gradient=exact for this variant")
    if spec.beta_value is not None and not spec.beta_value > 0:
        raise ValueError("neuron.gradient=leak_corrected needs beta > 0 (ln(beta) enters the gradient); "
                         "use neuron.gradient=exact for beta = 0")
    if spec.recurrent:
        raise ValueError("neuron.gradient=leak_corrected is defined for non-recurrent neurons only "
                         "(ref [21] has no recurrence); use neuron.gradient=exact")
    others = {"input_scale": "none", "synapse": "none", "adaptation": "none", "leak_shape": "scalar", "leak_init": None,
              "reset_grad": False, "init_state": "zero"}
    changed = [f"{key}={getattr(spec, key)}" for key, default in others.items() if getattr(spec, key, default) != default]
    if changed or getattr(spec, "extra", None):
        raise ValueError(f"neuron.gradient=leak_corrected is ref [21]'s gradient for its plain LIF neuron; this one "
                         f"also has {', '.join(changed) or 'plugin components'}: use neuron.gradient=exact")


def unscaled_leak(beta: torch.Tensor | float, membrane: torch.Tensor) -> torch.Tensor:
    """``beta * membrane`` in the forward pass, gradient 1 to ``membrane`` (ref [21] line 402)."""
    return beta * membrane.detach() + membrane - membrane.detach()


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``factor`` (broadcast over time)."""

    @staticmethod
    def forward(ctx, spikes, factor):
        ctx.save_for_backward(factor)
        return spikes.view_as(spikes)

    @staticmethod
    def backward(ctx, grad_output):
        (factor,) = ctx.saved_tensors
        return grad_output * factor, None


@torch.no_grad()
def spike_gradient_factor(spikes: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """``g = 1[LF > 1e-3] + ln(beta) LF / Total`` per neuron from ``spikes [T, ...]`` (``grad_cal``)."""
    beta = torch.as_tensor(beta, dtype=spikes.dtype, device=spikes.device)
    filtered = torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        filtered = beta * filtered + spikes[t]
    total = spikes.sum(0)
    total = total + (total < _TINY).to(total.dtype)
    return (filtered > _TINY).to(spikes.dtype) + torch.log(beta) * filtered / total


def scan(cell, current: torch.Tensor, record_membrane: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``cell`` (an :class:`ablations.neurons.Leaky`) over ``current [T, B, ...]`` with this gradient."""
    beta = cell.beta.clamp(0, 1)
    threshold = cell.threshold
    surrogate = cell.spike_grad
    mem = torch.zeros_like(current[0])
    fired = torch.zeros_like(current[0])
    spikes, membranes = [], []
    for t in range(current.shape[0]):
        kept, subtracted = cell.reset_term(mem, fired, threshold)  # the reset component's own hook
        mem = unscaled_leak(beta, kept) + current[t]
        if subtracted is not None:
            mem = mem - subtracted
        spk = surrogate(mem - threshold)
        fired = spk.detach()
        spikes.append(spk)
        if record_membrane:
            membranes.append(mem)
    stacked = torch.stack(spikes)
    if torch.is_grad_enabled() and stacked.requires_grad:
        stacked = _ScaleGradient.apply(stacked, spike_gradient_factor(stacked.detach(), beta.detach()))
    return stacked, (torch.stack(membranes) if record_membrane else None)
