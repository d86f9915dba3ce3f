r"""A one-pass CPU kernel of the neuron scan (numba): the whole time recursion in compiled loops.

:class:`KernelScan` computes exactly the update and the backward pass through time of
:class:`ablations.scan.NeuronScan` (equations in that module's docstring), with the same inputs and
outputs, but each time step reads the input current and writes the membrane once per neuron, where
the torch scan makes a few full-tensor passes per step. It is a fast path, pinned against the torch
scan (and through it snnTorch) by ``tests/test_kernel.py`` to float32 rounding:
spikes bit for bit on the tested sequences, states and gradients within ``rtol=1e-5``
(sums over T x B terms: ``rtol=1e-4``).

What stays in torch, vectorised: the surrogate slope ``g[t]`` (``surrogate.derivative_``, so every
surrogate is covered, a plugin's too), the recurrent weight's gradient ``sum_t a[t]^T S[t-1]`` (one
matrix product) and the dtype handling. What is compiled: the forward recursion (the recurrent
current ``V S[t-1]`` as a sum over the neurons that fired, which are few), and the backward
recursion (``a[t+1] V`` as a BLAS matrix product per step).

Parallel over the batch (numba's threads; as many as torch uses). Needs ``numba`` (``pip install
numba``, which ships its own LLVM: no compiler needed); where it is missing :func:`available` says
so and :mod:`ablations.scan` runs the torch scan instead, with one log line. The first call in a
process compiles the loops (a few seconds; cached on disk next to this file where it is writable).
"""

from __future__ import annotations

import logging
import math

import torch

__all__ = ["KernelScan", "available", "missing_reason"]

log = logging.getLogger(__name__)

LEAK_BETA, LEAK_LINEAR = 0, 1
RESETS = {"zero": 0, "subtract": 1, "none": 2}

try:  # numba is optional: without it the torch scan runs (ablations.scan)
    import numba
    import numpy as np
except ImportError as error:  # pragma: no cover - depends on the environment
    numba = None
    _MISSING = f"numba is not installed ({error}); pip install numba"
else:
    _MISSING = ""


def available() -> bool:
    """Whether the compiled kernel can run here (numba importable)."""
    return numba is not None


def missing_reason() -> str:
    """Why the kernel cannot run here ("" when it can)."""
    return _MISSING


if numba is not None:
    # scalars arrive as `constants` = [threshold, lam, beta, 0, 1] in the tensors' dtype, so that float32
    # runs in float32 arithmetic like the torch scan (a float64 literal would promote it)

    @numba.njit(parallel=True, cache=True)
    def _forward(current, membrane, spikes, membrane0, spikes0, has_state, beta, scalar_beta, leak, reset,
                 weight_t, recurrent, constants):  # pragma: no cover - compiled
        threshold, lam, beta_value, zero, one = constants[0], constants[1], constants[2], constants[3], constants[4]
        steps, batch, width = current.shape
        for b in numba.prange(batch):
            incoming = np.zeros(width, dtype=current.dtype)
            for t in range(steps):
                if t == 0 and not has_state:
                    for n in range(width):
                        value = current[0, b, n]
                        membrane[0, b, n] = value
                        spikes[0, b, n] = one if value > threshold else zero
                    continue
                if t == 0:
                    before, fired_before = membrane0[b], spikes0[b]
                else:
                    before, fired_before = membrane[t - 1, b], spikes[t - 1, b]
                if recurrent:  # V S[t-1]: the columns of the neurons that fired
                    incoming[:] = zero
                    for j in range(width):
                        if fired_before[j] != zero:
                            for n in range(width):
                                incoming[n] += weight_t[j, n]
                for n in range(width):
                    previous = before[n]
                    fired = fired_before[n] != zero
                    if reset == 0 and fired:
                        previous = zero
                    if leak == 1:
                        value = current[t, b, n] + (previous - min(max(previous, -lam), lam))
                    elif scalar_beta:
                        value = current[t, b, n] + beta_value * previous
                    else:
                        value = current[t, b, n] + previous * beta[b, n]
                    if reset == 1 and fired:
                        value = value - threshold
                    if recurrent:
                        value = value + incoming[n]
                    membrane[t, b, n] = value
                    spikes[t, b, n] = one if value > threshold else zero

    @numba.njit(cache=True)
    def _carry(before, fired, b, n, beta, scalar_beta, leak, reset, constants):  # pragma: no cover - compiled
        """``(d, P)``: dU[t]/dU[t-1] and the state the leak acts on, from U[t-1] and S[t-1]."""
        lam, beta_value, zero, one = constants[1], constants[2], constants[3], constants[4]
        keep = zero if (reset == 0 and fired) else one
        kept = before * keep
        if leak == 1:
            return (keep if abs(kept) > lam else zero), kept
        return keep * (beta_value if scalar_beta else beta[b, n]), kept

    @numba.njit(cache=True)
    def _recursion_row(total, membrane, t, b, beta, scalar_beta, leak, reset, want_beta, grad_beta,
                       constants):  # pragma: no cover - compiled
        """``a[t] = c[t] + d[t+1] a[t+1]`` along row ``b`` (``c[t]`` already in ``total[t]``), and dL/dbeta."""
        threshold = constants[0]
        for n in range(membrane.shape[2]):
            before = membrane[t, b, n]
            carry, kept = _carry(before, before > threshold, b, n, beta, scalar_beta, leak, reset, constants)
            later = total[t + 1, b, n]
            if want_beta:
                grad_beta[b, n] += later * kept
            total[t, b, n] = total[t, b, n] + carry * later

    @numba.njit(parallel=True, cache=True)
    def _backward(membrane, membrane0, spikes0, has_state, slope, grad_spikes, has_grad_spikes, grad_membrane,
                  has_grad_membrane, beta, scalar_beta, leak, reset, weight, recurrent, want_beta, total, grad_beta,
                  grad_membrane0, constants):  # pragma: no cover - compiled
        zero = constants[3]
        steps, batch, width = membrane.shape
        through_weight = np.empty((batch, width), dtype=membrane.dtype)
        for b in numba.prange(batch):  # c[t] = gU[t] + g[t] gS[t], into total
            for t in range(steps):
                for n in range(width):
                    value = zero
                    if has_grad_spikes:
                        value = slope[t, b, n] * grad_spikes[t, b, n]
                    if has_grad_membrane:
                        value = value + grad_membrane[t, b, n]
                    total[t, b, n] = value
        if not recurrent:
            for b in numba.prange(batch):
                for t in range(steps - 2, -1, -1):
                    _recursion_row(total, membrane, t, b, beta, scalar_beta, leak, reset, want_beta, grad_beta,
                                   constants)
        else:
            for t in range(steps - 2, -1, -1):
                np.dot(total[t + 1], weight, through_weight)  # a[t+1] V (BLAS)
                for b in numba.prange(batch):
                    for n in range(width):
                        total[t, b, n] = total[t, b, n] + slope[t, b, n] * through_weight[b, n]
                    _recursion_row(total, membrane, t, b, beta, scalar_beta, leak, reset, want_beta, grad_beta,
                                   constants)
        if has_state:  # step 1 continued a given state: its P and d come from (membrane0, spikes0)
            for b in numba.prange(batch):
                for n in range(width):
                    carry, kept = _carry(membrane0[b, n], spikes0[b, n] != zero, b, n, beta, scalar_beta, leak,
                                         reset, constants)
                    if want_beta:
                        grad_beta[b, n] += total[0, b, n] * kept
                    grad_membrane0[b, n] = total[0, b, n] * carry


def _sum_to(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return tensor.sum().reshape(shape) if len(shape) == 0 or shape.numel() == 1 else tensor.sum_to_size(shape)


def _threads() -> None:
    """numba's threads follow torch's (``torch.set_num_threads``: one per process under ``jobs=N``)."""
    wanted = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def _numpy_dtype(dtype: torch.dtype):
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the kernel scan runs in float32 or float64, not {dtype}")
    return np.float64 if dtype == torch.float64 else np.float32


def _beta_arguments(beta: torch.Tensor | None, state_shape: torch.Size, rows: tuple[int, int], dtype: torch.dtype):
    """``(per-neuron beta [B, N] or a 1 x 1 placeholder, scalar?, scalar value)`` of the clamped beta."""
    if beta is None:
        return np.zeros((1, 1), dtype=_numpy_dtype(dtype)), True, 0.0
    value = beta.detach().clamp(0, 1).to(dtype)
    if value.numel() == 1:
        return np.zeros((1, 1), dtype=_numpy_dtype(dtype)), True, float(value)
    return value.expand(state_shape).reshape(rows).contiguous().numpy(), False, 0.0


def _state_arguments(membrane0, spikes0, rows: tuple[int, int], dtype: torch.dtype):
    """The given state ``(U[0], S[0])`` as ``[B, N]`` arrays (1 x 1 placeholders for rest)."""
    if membrane0 is None:
        placeholder = np.zeros((1, 1), dtype=_numpy_dtype(dtype))
        return placeholder, placeholder
    return (membrane0.detach().to(dtype).reshape(rows).contiguous().numpy(),
            (spikes0.detach() > 0.5).to(dtype).reshape(rows).contiguous().numpy())


def _constants(threshold: float, lam: float | None, beta_value: float, dtype: torch.dtype):
    return np.array([threshold, lam or 0.0, beta_value, 0.0, 1.0], dtype=_numpy_dtype(dtype))


class KernelScan(torch.autograd.Function):
    """:class:`ablations.scan.NeuronScan` computed by the compiled loops: the same arguments
    ``(current [T, B, ...], membrane0, spikes0, beta, weight, lam, threshold, reset, surrogate)``
    and the same ``(spikes, membrane)``; CPU tensors of float32 or float64. The surrogate must give
    its slope as ``derivative_(z)`` (every :class:`ablations.neurons.Surrogate` does)."""

    @staticmethod
    def forward(ctx, current, membrane0, spikes0, beta, weight, lam, threshold, reset, surrogate):
        _threads()
        shape, dtype = current.shape, current.dtype
        rows = (shape[0], shape[1], math.prod(shape[2:]))
        flat = current.detach().reshape(rows).contiguous()
        membrane, spikes = torch.empty_like(flat), torch.empty_like(flat)
        state, fired = _state_arguments(membrane0, spikes0, rows[1:], dtype)
        beta_array, scalar_beta, beta_value = _beta_arguments(beta, shape[1:], rows[1:], dtype)
        recurrent = weight is not None
        weight_t = (weight.detach().to(dtype).t().contiguous().numpy() if recurrent
                    else np.zeros((1, 1), dtype=_numpy_dtype(dtype)))
        _forward(flat.numpy(), membrane.numpy(), spikes.numpy(), state, fired, membrane0 is not None, beta_array,
                 scalar_beta, LEAK_LINEAR if beta is None else LEAK_BETA, RESETS[reset], weight_t, recurrent,
                 _constants(threshold, lam, beta_value, dtype))
        membrane, spikes = membrane.reshape(shape), spikes.reshape(shape)
        ctx.save_for_backward(membrane, membrane0, spikes0, beta, weight)
        ctx.set_materialize_grads(False)  # an output the loss does not use (often the membrane) stays None
        ctx.lam, ctx.threshold, ctx.reset, ctx.surrogate = lam, threshold, reset, surrogate
        return spikes, membrane

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_spikes, grad_membrane):
        _threads()
        membrane, membrane0, spikes0, beta, weight = ctx.saved_tensors
        lam, threshold, reset = ctx.lam, ctx.threshold, ctx.reset
        shape, dtype = membrane.shape, membrane.dtype
        rows = (shape[0], shape[1], math.prod(shape[2:]))
        batch, width = rows[1], rows[2]
        empty = np.zeros((1, 1, 1), dtype=_numpy_dtype(dtype))
        flat_membrane = membrane.reshape(rows)
        slope = (ctx.surrogate.derivative_(flat_membrane - threshold).to(dtype).contiguous().numpy()
                 if grad_spikes is not None else empty)

        def as_array(gradient):
            return empty if gradient is None else gradient.to(dtype).reshape(rows).contiguous().numpy()

        has_state = membrane0 is not None
        state, fired = _state_arguments(membrane0, spikes0, rows[1:], dtype)
        beta_array, scalar_beta, beta_value = _beta_arguments(beta, shape[1:], rows[1:], dtype)
        want_beta = beta is not None and ctx.needs_input_grad[3]
        recurrent = weight is not None
        weight_array = (weight.detach().to(dtype).contiguous().numpy() if recurrent
                        else np.zeros((1, 1), dtype=_numpy_dtype(dtype)))
        total = torch.empty(rows, dtype=dtype)
        grad_beta_rows = torch.zeros((batch, width) if want_beta else (1, 1), dtype=dtype)
        grad_membrane0 = torch.zeros((batch, width) if has_state else (1, 1), dtype=dtype)
        _backward(flat_membrane.numpy(), state, fired, has_state, slope, as_array(grad_spikes), grad_spikes is not None,
                  as_array(grad_membrane), grad_membrane is not None, beta_array, scalar_beta,
                  LEAK_LINEAR if beta is None else LEAK_BETA, RESETS[reset], weight_array, recurrent, want_beta,
                  total.numpy(), grad_beta_rows.numpy(), grad_membrane0.numpy(),
                  _constants(threshold, lam, beta_value, dtype))
        result_membrane0 = result_spikes0 = result_beta = result_weight = None
        if has_state and ctx.needs_input_grad[1]:
            result_membrane0 = grad_membrane0.reshape(membrane0.shape).to(membrane0.dtype)
        if has_state and recurrent and ctx.needs_input_grad[2]:
            result_spikes0 = (total[0] @ weight.detach().to(dtype)).reshape(spikes0.shape).to(spikes0.dtype)
        if want_beta:
            inside = ((beta > 0) & (beta < 1)).to(dtype)  # torch's clamp: no gradient at the bounds
            result_beta = (_sum_to(grad_beta_rows.reshape(shape[1:]), beta.shape) * inside).to(beta.dtype)
        if recurrent and ctx.needs_input_grad[4]:  # dL/dV = sum_t a[t]^T S[t-1]
            fired_all = torch.gt(flat_membrane, threshold).to(dtype)
            if has_state:
                previous, later = torch.cat([torch.from_numpy(fired)[None], fired_all[:-1]]), total
            else:
                previous, later = fired_all[:-1], total[1:]
            result_weight = (later.reshape(-1, width).t() @ previous.reshape(-1, width)).to(weight.dtype)
        return (total.reshape(shape), result_membrane0, result_spikes0, result_beta, result_weight,
                None, None, None, None)
