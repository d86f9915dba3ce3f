r"""A one-pass CPU kernel of the neuron scan (numba): the whole time recursion in compiled loops.

:class:`KernelScan` computes exactly the update and the backward pass through time of
:class:`ablations.neurons.torch_scan.NeuronScan` (equations in that module's docstring: any
ResetForm, the reset gradient, a given or random start), with the same inputs and outputs, but each
time step reads the input current and writes the membrane once per neuron, where the torch scan
makes a few full-tensor passes per step. It is a fast path that declares what it runs
(:data:`COVERED`), pinned against the definition (``tests/neurons/test_scan.py``) and the torch scan
(``tests/neurons/test_kernel.py``) to float32 rounding: spikes bit for bit on the tested sequences, states
and gradients within ``rtol=1e-5`` (sums over T x B terms: ``rtol=1e-4``).

The surrogate slope ``g[t]`` is compiled for the surrogates :data:`SLOPES` declares (the
multi-Gaussian and the box-shaped ones, where that was measured faster; the multi-Gaussian's three exponentials over ``[T, B, N]`` were a third of a delayed-XOR step
in torch: one pass in chunks that stay in the cache, with an exponential the compiler vectorises),
each pinned to ``surrogate.derivative`` by ``tests/neurons/test_kernel.py``; any other surrogate's comes from its
``derivative_`` in torch (so every surrogate is covered, a plugin's too). What stays in torch,
vectorised: the recurrent weight's gradient ``sum_t a[t]^T S[t-1]`` (one
matrix product) and the dtype handling. What is compiled: the forward recursion (the recurrent
current ``V S[t-1]`` as a sum over the neurons that fired, which are few), and the backward
recursion (``a[t+1] V`` as a BLAS matrix product per step).

Serial, or parallel over the batch with numba's threads (as many as torch uses, within the
process's cores) on wide layers only (:func:`_threads`). Needs ``numba`` (``pip install
numba``, which ships its own LLVM: no compiler needed); where it is missing :func:`available` says
so and :mod:`ablations.neurons.torch_scan` runs the torch scan instead, with one log line. The first call in a
process compiles the loops (a few seconds; cached on disk next to this file where it is writable).
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import torch

from .components import (AllToAll, CompleteLeak, CurrentSynapse, ExponentialLeak, LinearLeak, NoAdaptation,
                         NoInputScale, NoLeak, NoRecurrence, NoSynapse, OneMinusBeta)

__all__ = ["KernelScan", "COVERED", "SLOPES", "available", "missing_reason", "slope"]

log = logging.getLogger(__name__)

LEAK_BETA, LEAK_LINEAR = 0, 1
# What the kernel implements (slot, component class), as ablations.neurons.torch_scan.COVERED declares
# for the torch scan (resets given by a ResetForm and components that change nothing are run too):
# everything the torch scan runs but the adaptive threshold, which runs in the torch scan.
COVERED = frozenset({
    ("leak", ExponentialLeak), ("leak", NoLeak), ("leak", CompleteLeak), ("leak", LinearLeak),
    ("recurrence", NoRecurrence), ("recurrence", AllToAll), ("synapse", NoSynapse), ("synapse", CurrentSynapse),
    ("input", NoInputScale), ("input", OneMinusBeta), ("adaptation", NoAdaptation),
})

try:  # numba is optional: without it the torch scan runs (ablations.neurons.torch_scan)
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


# Threads. A thread pool pays off on wide layers only, and on a shared machine it spins against the
# other processes (measured: a delayed XOR step 3x slower under load with numba's pool of 2 than with
# one thread). So the loops run serially (no pool at all) unless the process may use more than one
# core (torch's threads, capped by its affinity mask) and a step has at least PARALLEL_MIN_NEURONS
# neurons (B x N; an assumption: the delayed XOR's 500 x 16 = 8 000 runs serially).
PARALLEL_MIN_NEURONS = 1 << 16
_mode = {"parallel": False}


def _parallel_and_serial(function):
    """``function`` compiled twice, with numba's thread pool (``prange`` split over threads) and
    without (``prange`` a plain loop); calls run the one :func:`_threads` chose."""
    parallel, serial = numba.njit(parallel=True, cache=True)(function), numba.njit(cache=True)(function)

    def run(*arguments):
        return (parallel if _mode["parallel"] else serial)(*arguments)

    run.parallel, run.serial, run.__doc__ = parallel, serial, function.__doc__
    return run


if numba is not None:
    # Arrays are [T, M] (M = B x neurons, a time step contiguous); each thread scans one contiguous
    # slice of M through all T. `beta` and `grad_beta` are [M] arrays (zeros for a linear leak).
    # Scalars arrive as `constants` = [threshold, lam, 0, 1, r, q] in the tensors' dtype, so that float32
    # runs in float32 arithmetic like the torch scan (a float64 literal would promote it); (r, q) is the
    # reset's ResetForm (scale, subtract). The loops are branch-free (selects and 0/1 factors that leave
    # each term exactly as the torch scan has it), so that they vectorise: `factors` = (r, q, linear
    # leak, beta leak). `reset` is 1 where the gradient passes through the reset (neuron.reset_grad).

    @numba.njit(cache=True, inline="always")
    def _factors(leak, reset, constants):  # pragma: no cover - compiled
        zero, one = constants[2], constants[3]
        linear = one if leak == LEAK_LINEAR else zero
        return constants[4], constants[5], linear, one - linear

    @numba.njit(cache=True, inline="always")
    def _update(before, fired, current, beta, factors, constants):  # pragma: no cover - compiled
        """U[t] without the recurrent current, from U[t-1], S[t-1], I[t] and beta."""
        threshold, lam, one = constants[0], constants[1], constants[3]
        reset_zero, reset_subtract, linear, exponential = factors
        previous = before * (one - fired * reset_zero)
        leaked = linear * (previous - min(max(previous, -lam), lam)) + exponential * (beta * previous)
        return (current + leaked) - threshold * (fired * reset_subtract)

    @numba.njit(cache=True, inline="always")
    def _carry(before, fired, beta, factors, constants):  # pragma: no cover - compiled
        """``(d, P)``: dU[t]/dU[t-1] and the state the leak acts on, from U[t-1] and S[t-1]."""
        lam, zero, one = constants[1], constants[2], constants[3]
        reset_zero, _, linear, exponential = factors
        keep = one - fired * reset_zero
        kept = before * keep
        return keep * (linear * (one if abs(kept) > lam else zero) + exponential * beta), kept

    @_parallel_and_serial
    def _forward(current, membrane, spikes, membrane0, spikes0, has_state, beta, leak, reset, constants,
                 slices):  # pragma: no cover - compiled
        """The forward recursion of a layer without recurrence, [T, M]."""
        threshold, zero, one = constants[0], constants[2], constants[3]
        factors = _factors(leak, reset, constants)
        steps, size = current.shape
        chunk = (size + slices - 1) // slices
        for part in numba.prange(slices):
            low, high = part * chunk, min(size, (part + 1) * chunk)
            betas = beta[low:high]
            for t in range(steps):
                now, out, fired = current[t, low:high], membrane[t, low:high], spikes[t, low:high]
                if t == 0 and not has_state:
                    for i in range(high - low):
                        out[i] = now[i]
                        fired[i] = one if now[i] > threshold else zero
                    continue
                if t == 0:
                    before, fired_before = membrane0[low:high], spikes0[low:high]
                else:
                    before, fired_before = membrane[t - 1, low:high], spikes[t - 1, low:high]
                for i in range(high - low):
                    value = _update(before[i], fired_before[i], now[i], betas[i], factors, constants)
                    out[i] = value
                    fired[i] = one if value > threshold else zero

    @_parallel_and_serial
    def _forward_recurrent(current, membrane, spikes, membrane0, spikes0, has_state, beta, leak, reset, weight_t,
                           constants):  # pragma: no cover - compiled
        """The forward recursion with recurrence, [T, B, N]: ``V S[t-1]`` as the sum of the columns of
        the neurons that fired (few), added after the leak and the reset as the torch scan does."""
        threshold, zero, one = constants[0], constants[2], constants[3]
        factors = _factors(leak, reset, constants)
        steps, batch, width = current.shape
        for b in numba.prange(batch):
            incoming = np.empty(width, dtype=current.dtype)
            betas = beta[b * width:(b + 1) * width]
            for t in range(steps):
                now, out, fired = current[t, b], membrane[t, b], spikes[t, b]
                if t == 0 and not has_state:
                    for n in range(width):
                        out[n] = now[n]
                        fired[n] = one if now[n] > threshold else zero
                    continue
                before = membrane0[b * width:(b + 1) * width] if t == 0 else membrane[t - 1, b]
                fired_before = spikes0[b * width:(b + 1) * width] if t == 0 else spikes[t - 1, b]
                incoming[:] = zero
                for j in range(width):
                    if fired_before[j] != zero:  # 0/1, or DH-SNN's continuous S[0]
                        column, weight_of = weight_t[j], fired_before[j]
                        if weight_of == one:
                            for n in range(width):
                                incoming[n] += column[n]
                        else:
                            for n in range(width):
                                incoming[n] += column[n] * weight_of
                for n in range(width):
                    value = _update(before[n], fired_before[n], now[n], betas[n], factors, constants) + incoming[n]
                    out[n] = value
                    fired[n] = one if value > threshold else zero

    @numba.njit(cache=True, inline="always")
    def _local_into(out, slope, grad_spikes, has_grad_spikes, grad_membrane, has_grad_membrane, t, low, high,
                    zero):  # pragma: no cover - compiled
        """c[t] = g[t] gS[t] + gU[t] (the part of a[t] known without the recursion) into ``out``."""
        if has_grad_spikes:
            gradient, gradient_slope = grad_spikes[t, low:high], slope[t, low:high]
            for i in range(high - low):
                out[i] = gradient_slope[i] * gradient[i]
        else:
            out[:] = zero
        if has_grad_membrane:
            gradient = grad_membrane[t, low:high]
            for i in range(high - low):
                out[i] = out[i] + gradient[i]

    @numba.njit(cache=True, inline="always")
    def _recursion(out, later, before, betas, grad_betas, factors, constants, slope, through_reset
                   ):  # pragma: no cover - compiled
        """a[t] = out + d[t+1] a[t+1] (``out`` holds what a[t] has without the recursion), dL/dbeta;
        with ``through_reset``: + g[t] f[t+1] a[t+1], f[t+1] = dU[t+1]/dS[t] = -r leak'(P) U[t] - q theta."""
        threshold, lam, zero, one = constants[0], constants[1], constants[2], constants[3]
        scale, subtract, linear, exponential = factors
        for i in range(out.shape[0]):
            fired = one if before[i] > threshold else zero
            carry, kept = _carry(before[i], fired, betas[i], factors, constants)
            grad_betas[i] += later[i] * kept
            out[i] = out[i] + carry * later[i]
            if through_reset:
                leak_slope = linear * (one if abs(kept) > lam else zero) + exponential * betas[i]
                feedback = -(leak_slope * scale * before[i]) - subtract * threshold
                out[i] = out[i] + slope[i] * (feedback * later[i])

    @_parallel_and_serial
    def _backward(membrane, slope, grad_spikes, has_grad_spikes, grad_membrane, has_grad_membrane, beta, leak,
                  reset, total, grad_beta, constants, slices):  # pragma: no cover - compiled
        """``a[t] = c[t] + d[t+1] a[t+1]`` from t = T down to 1 without recurrence, [T, M]; dL/dbeta."""
        factors = _factors(leak, reset, constants)
        steps, size = membrane.shape
        chunk = (size + slices - 1) // slices
        for part in numba.prange(slices):
            low, high = part * chunk, min(size, (part + 1) * chunk)
            betas, grad_betas = beta[low:high], grad_beta[low:high]
            for t in range(steps - 1, -1, -1):
                out = total[t, low:high]
                _local_into(out, slope, grad_spikes, has_grad_spikes, grad_membrane, has_grad_membrane, t, low, high,
                            constants[2])
                if t < steps - 1:
                    _recursion(out, total[t + 1, low:high], membrane[t, low:high], betas, grad_betas, factors,
                               constants, slope[t, low:high] if reset == 1 else slope[0, 0:0], reset == 1)

    @_parallel_and_serial
    def _backward_step(t, through_weight, membrane, slope, grad_spikes, has_grad_spikes, grad_membrane,
                       has_grad_membrane, beta, leak, reset, total, grad_beta, constants,
                       slices):  # pragma: no cover - compiled
        """One step of the recursion with recurrence, ``through_weight`` = a[t+1] V (unused at t = T)."""
        factors = _factors(leak, reset, constants)
        steps, size = membrane.shape
        chunk = (size + slices - 1) // slices
        for part in numba.prange(slices):
            low, high = part * chunk, min(size, (part + 1) * chunk)
            out = total[t, low:high]
            _local_into(out, slope, grad_spikes, has_grad_spikes, grad_membrane, has_grad_membrane, t, low, high,
                        constants[2])
            if t < steps - 1:
                gradient_slope, through = slope[t, low:high], through_weight[low:high]
                for i in range(high - low):
                    out[i] = out[i] + through[i] * gradient_slope[i]
                _recursion(out, total[t + 1, low:high], membrane[t, low:high], beta[low:high],
                           grad_beta[low:high], factors, constants, slope[t, low:high], reset == 1)

    @_parallel_and_serial
    def _backward_into_state(total, membrane0, spikes0, beta, leak, reset, grad_beta, grad_membrane0, constants,
                             slices):  # pragma: no cover - compiled
        """Step 1 continued a given state: its P and d come from (membrane0, spikes0)."""
        factors = _factors(leak, reset, constants)
        size = membrane0.shape[0]
        chunk = (size + slices - 1) // slices
        for part in numba.prange(slices):
            for i in range(part * chunk, min(size, (part + 1) * chunk)):
                carry, kept = _carry(membrane0[i], spikes0[i], beta[i], factors, constants)
                grad_beta[i] += total[0, i] * kept
                grad_membrane0[i] = total[0, i] * carry


if numba is not None:
    # exp(x) for float32 x <= 0 (Cody & Waite's reduction x = k ln2 + r, |r| <= ln2 / 2, and the degree-6
    # Taylor polynomial of exp(r), relative error below 2e-7 on that range), 2^k built from its bits so
    # that the loop vectorises (numba calls libm's scalar exp otherwise); below -87 it returns exp(-87),
    # about 1.6e-38, where the surrogates' densities are 0 to float32 rounding.
    _LOG2E, _LN2_HI, _LN2_LO = np.float32(1.4426950408889634), np.float32(0.693359375), np.float32(-2.12194440e-4)

    @numba.njit(cache=True, inline="always")
    def _exp_into(x, out, bits, n):  # pragma: no cover - compiled
        low, half, one = np.float32(-87.0), np.float32(0.5), np.float32(1.0)
        for i in range(n):
            value = max(x[i], low)
            k = np.floor(value * _LOG2E + half)
            r = (value - k * _LN2_HI) - k * _LN2_LO
            out[i] = one + r * (one + r * (half + r * (np.float32(1 / 6) + r * (np.float32(1 / 24) + r * (
                np.float32(1 / 120) + r * np.float32(1 / 720))))))
            bits[i] = (np.int32(k) + np.int32(127)) << np.int32(23)
        scale = bits.view(np.float32)
        for i in range(n):
            out[i] = out[i] * scale[i]

    @numba.njit(cache=True)
    def _multi_gaussian_slope(membrane, threshold, out, centre, centre_exponent, side, side_exponent, offset
                              ):  # pragma: no cover - compiled
        """``out = centre exp(a z^2) - side [exp(b (z + s)^2) + exp(b (z - s)^2)]``, ``z = U - theta``,
        in chunks of 1 024 that stay in the cache (float32)."""
        size, chunk = membrane.shape[0], 1024
        argument = np.empty(chunk, np.float32)
        first, second = np.empty(chunk, np.float32), np.empty(chunk, np.float32)
        bits = np.empty(chunk, np.int32)
        for start in range(0, size, chunk):
            n = min(size, start + chunk) - start
            values, result = membrane[start:start + n], out[start:start + n]
            for i in range(n):
                z = values[i] - threshold
                argument[i] = centre_exponent * z * z
            _exp_into(argument, first, bits, n)
            for i in range(n):
                z = values[i] - threshold + offset
                argument[i] = side_exponent * z * z
            _exp_into(argument, second, bits, n)
            for i in range(n):
                z = values[i] - threshold - offset
                argument[i] = side_exponent * z * z
            _exp_into(argument, result, bits, n)
            for i in range(n):
                result[i] = centre * first[i] - side * (second[i] + result[i])


    _RECTANGULAR, _STRAIGHT_THROUGH = 0, 1

    @numba.njit(cache=True)
    def _step_slope(kind, membrane, threshold, out, height, half_width):  # pragma: no cover - compiled
        """The slope of the box surrogates, one pass: rectangular ``height if |z| < half_width``,
        straight-through ``height if z > 0`` (else 0)."""
        zero = np.float32(0.0)
        if kind == _RECTANGULAR:  # one loop per form, no branch inside, so that each vectorises
            for i in range(membrane.shape[0]):
                out[i] = height if abs(membrane[i] - threshold) < half_width else zero
        else:
            for i in range(membrane.shape[0]):
                out[i] = height if membrane[i] - threshold > zero else zero


def _box(kind: int, height: Callable, half_width: Callable = lambda surrogate: 0.0):
    def compute(surrogate, membrane: np.ndarray, threshold: float, out: np.ndarray) -> None:
        _step_slope(kind, membrane, np.float32(threshold), out, np.float32(height(surrogate)),
                    np.float32(half_width(surrogate)))
    return compute


def _multi_gaussian(surrogate, membrane: np.ndarray, threshold: float, out: np.ndarray) -> None:
    sigma, side = surrogate.sigma, surrogate.scale * surrogate.sigma
    root = math.sqrt(2 * math.pi)
    constants = [(1.0 + surrogate.height) * surrogate.gamma / (root * sigma), -0.5 / sigma**2,
                 surrogate.height * surrogate.gamma / (root * side), -0.5 / side**2, sigma]
    _multi_gaussian_slope(membrane, np.float32(threshold), out, *(np.float32(value) for value in constants))


#: The surrogates whose slope the kernel computes itself (float32 membranes), by the class's module and
#: name (this module sits below the surrogates, ablations/neurons/__init__.py): the class itself, not a
#: subclass (a plugin deriving from one may change its derivative). Every other surrogate's slope is
#: its own ``derivative_`` in torch.
SLOPES = {  # against the torch form on 1.6 M values, one thread: multi-Gaussian 2.3 vs 6.6 ms (idle); in the
    # same runs at load 2.4 the boxes 0.2-0.75 vs 0.3-1.0 ms, while atan and fast sigmoid were slower compiled
    # (1.4-3.7 vs 0.7-1.2 ms) and stay in torch
    "ablations.neurons.surrogates.MultiGaussian": _multi_gaussian,
    "ablations.neurons.surrogates.Rectangular": _box(_RECTANGULAR, lambda s: 1.0 / s.width, lambda s: s.width / 2),
    "ablations.neurons.surrogates.StraightThrough": _box(_STRAIGHT_THROUGH, lambda s: 1.0 / (s.threshold + s.epsilon)),
} if numba is not None else {}


def slope(surrogate, membrane: torch.Tensor, threshold: float) -> torch.Tensor:
    """``dS/dU`` at ``membrane - threshold`` (a new tensor): compiled where :data:`SLOPES` declares the
    surrogate and the membrane is float32, else ``surrogate.derivative_`` in torch."""
    kind = f"{type(surrogate).__module__}.{type(surrogate).__qualname__}"
    compiled = SLOPES.get(kind) if numba is not None and membrane.dtype == torch.float32 else None
    if compiled is None:
        return surrogate.derivative_(membrane - threshold)
    flat = membrane.contiguous().reshape(-1)
    out = torch.empty_like(flat)
    compiled(surrogate, flat.numpy(), threshold, out.numpy())
    return out.reshape(membrane.shape)


def _sum_to(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return tensor.sum().reshape(shape) if len(shape) == 0 or shape.numel() == 1 else tensor.sum_to_size(shape)


def _threads(size: int) -> None:
    """Serial loops, or numba's threads as many as torch's (``torch.set_num_threads``: one per
    process under ``jobs=N``) within the cores the process may use, for a step of ``size`` neurons."""
    from ..parallel import cores

    wanted = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS, cores()))
    _mode["parallel"] = wanted > 1 and size >= PARALLEL_MIN_NEURONS
    if _mode["parallel"] and numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def _numpy_dtype(dtype: torch.dtype):
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the kernel scan runs in float32 or float64, not {dtype}")
    return np.float64 if dtype == torch.float64 else np.float32


def _beta_argument(beta: torch.Tensor | None, state_shape: torch.Size, size: int, dtype: torch.dtype):
    """The clamped beta of every neuron of a step, ``[M]`` (zeros for a linear leak)."""
    if beta is None:
        return np.zeros(size, dtype=_numpy_dtype(dtype))
    return beta.detach().clamp(0, 1).to(dtype).expand(state_shape).reshape(size).contiguous().numpy()


def _state_arguments(membrane0, spikes0, size: int, dtype: torch.dtype):
    """The given state ``(U[0], S[0] as 0/1)`` as ``[M]`` arrays (placeholders for rest)."""
    if membrane0 is None:
        placeholder = np.zeros(1, dtype=_numpy_dtype(dtype))
        return placeholder, placeholder
    return (membrane0.detach().to(dtype).reshape(size).contiguous().numpy(),
            spikes0.detach().to(dtype).reshape(size).contiguous().numpy())


def _constants(threshold: float, lam: float | None, reset: tuple[float, float, bool], dtype: torch.dtype):
    return np.array([threshold, lam or 0.0, 0.0, 1.0, reset[0], reset[1]], dtype=_numpy_dtype(dtype))


def _slices(size: int) -> int:
    """Threads' slices of the M neurons of a step: one per thread, none under 1024 neurons."""
    if not _mode["parallel"]:
        return 1
    return max(1, min(numba.get_num_threads(), size // 1024))


class KernelScan(torch.autograd.Function):
    """:class:`ablations.neurons.torch_scan.NeuronScan` computed by the compiled loops: the same arguments
    ``(current [T, B, ...], membrane0, spikes0, beta, weight, lam, threshold, reset, surrogate, adaptation)``
    (``adaptation`` must be None: the adaptive threshold runs in the torch scan)
    and the same ``(spikes, membrane)``; CPU tensors of float32 or float64. The surrogate must give
    its slope as ``derivative_(z)`` (every :class:`ablations.neurons.Surrogate` does)."""

    @staticmethod
    def forward(ctx, current, membrane0, spikes0, beta, weight, lam, threshold, reset, surrogate, adaptation=None):
        if adaptation is not None:
            raise ValueError("the kernel scan does not cover the adaptive threshold; ablations.neurons.torch_scan runs NeuronScan")
        shape, dtype = current.shape, current.dtype
        steps, batch = shape[0], shape[1]
        size = batch * math.prod(shape[2:])
        _threads(size)
        flat = current.detach().reshape(steps, size).contiguous()
        membrane, spikes = torch.empty_like(flat), torch.empty_like(flat)
        state, fired = _state_arguments(membrane0, spikes0, size, dtype)
        beta_array = _beta_argument(beta, shape[1:], size, dtype)
        constants = _constants(threshold, lam, reset, dtype)
        leak = LEAK_LINEAR if beta is None else LEAK_BETA
        if weight is None:
            _forward(flat.numpy(), membrane.numpy(), spikes.numpy(), state, fired, membrane0 is not None, beta_array,
                     leak, int(reset[2]), constants, _slices(size))
        else:
            rows = (steps, batch, size // batch)
            _forward_recurrent(flat.numpy().reshape(rows), membrane.numpy().reshape(rows),
                               spikes.numpy().reshape(rows), state, fired, membrane0 is not None, beta_array, leak,
                               int(reset[2]), weight.detach().to(dtype).t().contiguous().numpy(), constants)
        membrane, spikes = membrane.reshape(shape), spikes.reshape(shape)
        ctx.save_for_backward(membrane, membrane0, spikes0, beta, weight)
        ctx.set_materialize_grads(False)  # an output the loss does not use (often the membrane) stays None
        ctx.lam, ctx.threshold, ctx.reset, ctx.surrogate = lam, threshold, reset, surrogate
        return spikes, membrane

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_spikes, grad_membrane):
        membrane, membrane0, spikes0, beta, weight = ctx.saved_tensors
        lam, threshold, reset = ctx.lam, ctx.threshold, ctx.reset
        shape, dtype = membrane.shape, membrane.dtype
        steps, batch = shape[0], shape[1]
        size = batch * math.prod(shape[2:])
        _threads(size)
        width = size // batch
        empty = np.zeros((1, 1), dtype=_numpy_dtype(dtype))
        flat_membrane = membrane.reshape(steps, size)
        slope_of = (slope(ctx.surrogate, flat_membrane, threshold).to(dtype).contiguous().numpy()
                    if grad_spikes is not None or weight is not None or reset[2] else empty)

        def as_array(gradient):
            return empty if gradient is None else gradient.to(dtype).reshape(steps, size).contiguous().numpy()

        has_state = membrane0 is not None
        state, fired = _state_arguments(membrane0, spikes0, size, dtype)
        beta_array = _beta_argument(beta, shape[1:], size, dtype)
        constants = _constants(threshold, lam, reset, dtype)
        leak = LEAK_LINEAR if beta is None else LEAK_BETA
        want_beta = beta is not None and ctx.needs_input_grad[3]
        total = torch.empty((steps, size), dtype=dtype)
        grad_beta_flat = torch.zeros(size, dtype=dtype)
        arguments = (flat_membrane.numpy(), slope_of, as_array(grad_spikes), grad_spikes is not None,
                     as_array(grad_membrane), grad_membrane is not None, beta_array, leak, int(reset[2]),
                     total.numpy(), grad_beta_flat.numpy(), constants, _slices(size))
        if weight is None:
            _backward(*arguments)
        else:  # a[t+1] V by torch's matrix product between the compiled steps
            weight_value = weight.detach().to(dtype)
            through_weight = torch.zeros(batch, width, dtype=dtype)
            through_flat = through_weight.numpy().reshape(size)
            for t in range(steps - 1, -1, -1):
                if t < steps - 1:
                    torch.mm(total[t + 1].view(batch, width), weight_value, out=through_weight)
                _backward_step(t, through_flat, *arguments)
        result_membrane0 = result_spikes0 = result_beta = result_weight = None
        if has_state:
            grad_membrane0 = torch.empty(size, dtype=dtype)
            _backward_into_state(total.numpy(), state, fired, beta_array, leak, int(reset[2]), grad_beta_flat.numpy(),
                                 grad_membrane0.numpy(), constants, _slices(size))
            if ctx.needs_input_grad[1]:
                result_membrane0 = grad_membrane0.reshape(membrane0.shape).to(membrane0.dtype)
            if (weight is not None or reset[2]) and ctx.needs_input_grad[2]:
                result_spikes0 = torch.zeros(size, dtype=dtype)
                if weight is not None:
                    result_spikes0 += (total[0].view(batch, width) @ weight.detach().to(dtype)).reshape(size)
                if reset[2]:  # dU[1]/dS[0] = -r leak'(P[1]) U[0] - q theta
                    before = torch.from_numpy(state)
                    kept = before * (1 - reset[0] * torch.from_numpy(fired))
                    leak_slope = (kept.abs() > lam).to(dtype) if beta is None else torch.from_numpy(beta_array)
                    result_spikes0 += total[0] * (-(leak_slope * reset[0] * before) - reset[1] * threshold)
                result_spikes0 = result_spikes0.reshape(spikes0.shape).to(spikes0.dtype)
        if want_beta:
            inside = ((beta > 0) & (beta < 1)).to(dtype)  # torch's clamp: no gradient at the bounds
            result_beta = (_sum_to(grad_beta_flat.reshape(shape[1:]), beta.shape) * inside).to(beta.dtype)
        if weight is not None and ctx.needs_input_grad[4]:  # dL/dV = sum_t a[t]^T S[t-1]
            fired_all = torch.gt(flat_membrane, threshold).to(dtype)
            if has_state:
                previous, later = torch.cat([torch.from_numpy(fired)[None], fired_all[:-1]]), total
            else:
                previous, later = fired_all[:-1], total[1:]
            result_weight = (later.reshape(-1, width).t() @ previous.reshape(-1, width)).to(weight.dtype)
        return (total.reshape(shape), result_membrane0, result_spikes0, result_beta, result_weight,
                None, None, None, None, None)
