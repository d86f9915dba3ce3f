"""Fully connected products on sparse event input: sum the weights of the active inputs only.

Event frames are mostly zero (real N-MNIST frames at 3 ms: about 1.6 % non-zero). For an input
``X [M, K]`` with ``nnz`` non-zero entries, ``X W^T`` needs ``nnz * N`` multiply-adds instead of
``M * K * N``: :func:`event_linear` gathers the columns of ``W`` of the active inputs
(``torch.nn.functional.embedding_bag`` in ``sum`` mode, weighted by the input values unless they
are all 1) and autograd's backward of that gather is the weight gradient ``G^T X``, a scatter-add
over the same entries. Same numbers as the dense product (up to float rounding of the sum order).

The sparse path runs only where it is faster: below a density crossover measured once per layer
shape and device (:func:`crossover_density`), in training (grad mode) on inputs that need no
gradient (the data entering the first layer; hidden spikes carry surrogate gradients, which a
gather does not give), outside autocast, and on layers without forward hooks (which would not
see the call).
"""

from __future__ import annotations

import contextlib
import functools

import torch
import torch.nn.functional as F
from torch import nn

from .parallel import best_seconds

__all__ = ["event_linear", "has_hooks", "sparse_linear", "sample_density", "crossover_density", "dense_only", "sparse_only", "PROBE_DENSITY", "probe_rows"]

PROBE_DENSITY = 0.05  # density at which the sparse product is timed (assumption: well inside the sparse regime)
_forced: str | None = None  # "dense" or "sparse" inside dense_only() / sparse_only()


@contextlib.contextmanager
def _force(path: str):
    global _forced
    before, _forced = _forced, path
    try:
        yield
    finally:
        _forced = before


def dense_only():
    """Within this block every product is dense (benchmarks and tests compare both paths)."""
    return _force("dense")


def sparse_only():
    """Within this block the first layer's product is sparse at any density (where it applies)."""
    return _force("sparse")


def sparse_linear(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear(x)`` for a 2-D ``x [M, K]`` by a gather of the active inputs (any density)."""
    rows, columns = x.nonzero(as_tuple=True)
    counts = torch.bincount(rows, minlength=x.shape[0])
    offsets = torch.cumsum(counts, 0) - counts
    values = x[rows, columns]
    weights = None if bool((values == 1).all()) else values
    out = F.embedding_bag(columns, linear.weight.t(), offsets, mode="sum", per_sample_weights=weights)
    return out if linear.bias is None else out + linear.bias


PROBE_ROWS = 1024  # the fewest rows (time steps x samples) of the timed products
MAX_PROBE_ROWS = 1 << 17  # the most: a [200 x 500] delayed XOR batch is timed on its own 100 000 rows (131 072)


def probe_rows(rows: int) -> int:
    """The rows the crossover of a batch of ``rows`` rows is measured on: its own count rounded up to
    a power of two (between :data:`PROBE_ROWS` and :data:`MAX_PROBE_ROWS`), so that a run measures
    once, on its own shape. (Measured on 1 024 rows, the sparse gather won on the delayed XOR's
    [100 000 x 20] x [20 x 16] product, where the dense product is faster.)"""
    return max(PROBE_ROWS, min(MAX_PROBE_ROWS, 1 << max(0, int(rows) - 1).bit_length()))


@functools.cache
def crossover_density(in_features: int, out_features: int, device: str, rows: int = PROBE_ROWS) -> float:
    """The input density below which :func:`sparse_linear` (forward + weight gradient) beats the
    dense product on this machine, for this layer shape; measured once per process (both costs
    grow with the number of rows, but not alike (the dense product gains from long
    panels), so it is timed on ``rows`` rows: :func:`probe_rows` of the batch).

    Both are timed at :data:`PROBE_DENSITY`; the dense cost does not depend on the density and
    the sparse one grows about linearly with it, so the crossover is
    ``PROBE_DENSITY * dense / sparse`` (capped at 0.5).
    """
    def run(product, x, linear, gradient):
        def step():
            linear.zero_grad(set_to_none=True)
            product(x, linear).backward(gradient)
            if x.device.type == "cuda":
                torch.cuda.synchronize(x.device)
        return step

    # own saved-tensor hooks: a first call inside a checkpointed block must not add to its record;
    # own RNG state: the measurement must not shift the run's random stream (Poisson draws, resume)
    forked = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=forked), \
            torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        generator = torch.Generator().manual_seed(0)
        x = (torch.rand(rows, in_features, generator=generator) < PROBE_DENSITY).float().to(device)
        linear = nn.Linear(in_features, out_features).to(device)
        gradient = torch.randn(rows, out_features, device=device)
        dense = best_seconds(run(lambda inputs, layer: layer(inputs), x, linear, gradient))
        sparse = best_seconds(run(sparse_linear, x, linear, gradient))
    return min(0.5, PROBE_DENSITY * dense / sparse)


def has_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` does more than its forward (hooks count ops, e.g. the activity suite)."""
    from torch.nn.modules import module as torch_module

    return bool(module._forward_hooks or module._forward_pre_hooks
                or torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks)


SAMPLE_ROWS = 64  # rows of the input counted to estimate its density (both paths give the same numbers)


def sample_density(x: torch.Tensor) -> float:
    """Share of non-zero entries of ``x [M, K]``, estimated from at most :data:`SAMPLE_ROWS`
    evenly spaced whole rows: counting every entry of a [1600, 2312] batch took 6 ms of a 96 ms
    training step (measured), the sample 0.2 ms. The estimate only picks the faster path."""
    rows = x if x.shape[0] <= SAMPLE_ROWS else x[:: x.shape[0] // SAMPLE_ROWS]
    return float(torch.count_nonzero(rows)) / max(1, rows.numel())


def event_linear(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear(x)`` for ``x [M, K]``, sparse where that is faster and exact (module docstring)."""
    if (_forced == "dense" or x.requires_grad or x.dim() != 2 or x.is_sparse or not torch.is_grad_enabled()
            or torch.is_autocast_enabled(x.device.type) or has_hooks(linear)):
        return linear(x)
    if _forced == "sparse":
        return sparse_linear(x, linear)
    density = sample_density(x)
    if density >= crossover_density(linear.in_features, linear.out_features, str(x.device), probe_rows(x.shape[0])):
        return linear(x)
    return sparse_linear(x, linear)
