"""Spiking networks from the papers' layer strings, executed time-folded.

Layer-string grammar (tokens joined by ``-``, read left to right):

=============  ===========================================================================
token          meaning
=============  ===========================================================================
``64C3``       convolution, 64 output channels, 3x3 kernel, stride 1, "same" padding
``2P``         pooling 2x2, stride 2 (``model.pool``: ``avg`` as in seed 003, ``max``, or
               ``spiking``: average pooling into a layer of pooling neurons, ref [21])
``512FC``      fully connected layer of 512 neurons
``0.2D``       dropout with p = 0.2; one mask per sample, shared by all time steps
``2312``       a bare number first: the input size (checked against the data); in the
               middle: a fully connected layer (seed 001 writes ``784-512-10``); last: the
               number of output classes (the readout layer)
=============  ===========================================================================

Every hidden conv/FC layer is a stateless op (conv or linear, optional batch norm) followed by
a neuron of the chosen variant; pooling and dropout act on the spikes of the layer before.
Tensors are time-major ``[T, B, ...]``. A stateless op runs once on the folded ``[T*B, ...]``
tensor; the neuron is scanned over T by :func:`ablations.neurons.run_sequence`.

Model options that follow ref [21] (Lee et al. 2020, whose code seed 003 section 4.1 follows:
chan8972/Enabling_Spikebased_Backpropagation, ``src/cifar10_VGG9.py``, lines given below):

* ``bias=False``: bias-free convolutions and linear layers (lines 429-443).
* ``init="he_normal"``: weights ``N(0, 2 / fan_in)`` for every conv and linear layer, fan-in
  ``k*k*C_in`` or the input width (lines 445-459); ``init="default"`` keeps PyTorch's
  (Kaiming-uniform with ``a = sqrt(5)``, a standard deviation ``1/sqrt(3 fan_in)``, about 2.4x
  smaller).
* ``pool="spiking"``: each ``2P`` is a layer of its own (``poolK``): 2x2 average pooling of the
  spikes into integrate-and-fire *pooling neurons* with threshold ``pool_threshold`` (0.75 in
  ref [21], lines 416-423, used at 549-550), hard reset to zero, no leak whatever the variant,
  spike gradient 1 where the neuron fired (``SpikingNN``, lines 383-392: no ``1/theta``).
  Dropout placed before the pooling (ref [21], lines 540-549) acts on the spikes entering it.

Readouts (``readout=``), on the output layer's current ``I_L[t] = W_L s[t] + b_L``:

* ``mem_last`` (seed 003): non-spiking leaky integrator ``U_L[t] = beta_L U_L[t-1] + I_L[t]``,
  prediction ``U_L[T] / T``. ``beta_L`` is the hidden neurons' beta (seed 003: the output neurons
  "decay over time"), so the readout adds no memory the variant lacks: with complete leak it
  sees only the last step. A linear leak has no beta; its readout integrates (``beta_L = 1``).
  ``readout_beta=`` sets it explicitly. The integrator and the prediction are computed in float32
  even under CUDA autocast (100 steps of float16 accumulation would lose the small currents);
  with ``neuron.gradient=leak_corrected`` its gradient passes the leak unscaled, as ref [21]'s
  readout does (line 596).
* ``mem_mean`` / ``mem_max`` (seed 001, membrane decoding): mean / max over t of ``U_L[t]``.
* ``spike_count`` (seed 001, rate decoding): a spiking output layer of the same variant (without
  recurrence); prediction = spike count / T.

* ``integrator_softmax`` (DH-SNN, the code base of seed 001's group: repository eva1801/DH-SNN):
  a non-spiking leaky integrator ``U_L[t] = alpha U_L[t-1] + (1 - alpha) I_L[t]`` with
  ``alpha = sigmoid(p)``, ``p`` one learned value per output neuron drawn from U(0, 4)
  (``SNN_layers/spike_neuron.py`` ``output_Neuron_pra``, lines 108-118; ``spike_dense.py``
  ``readout_integrator_test``, lines 11-44), read through a softmax at every step of the window:
  ``y_hat_c = sum_t log softmax(softmax(U_L[t]))_c``. Up to a per-sample constant (the same for
  every class) this is ``sum_t softmax(U_L[t])_c``, DH-SNN's SHD output (``SHD/main_dense_origin.py``
  lines 86-87), so ``train.loss=ce_mem`` on it is that script's cross-entropy on the summed softmax
  (line 146) and the prediction is its argmax; ``train.loss=nll_steps`` is ``-y_hat_y``, the sum over
  the window of the per-step cross-entropies on the softmax, DH-SNN's delayed XOR loss
  (``delayed_xor/delayed_xor_snn.py`` lines 109-113). The per-step predictions of the window are
  kept in ``window_predictions`` (``[W, B]``, detached) for the training accuracy over the window
  (that script's printed accuracy, lines 114-119). ``readout_beta`` is not used: the leak is learned.
  assumption: the integrator starts at 0 (DH-SNN draws U(0, 1) at the start of every batch,
  ``spike_dense.py`` line 37); a sequence starts from fresh state here as everywhere.

``readout_window=K`` takes ``mem_mean`` / ``mem_max`` / ``spike_count`` / ``integrator_softmax``
over the last K steps only (the integrator still runs over all T): the delayed XOR answer is read
during pattern B alone.

Probes (``net.probes = True``, off by default and free when off) keep, per spiking layer, its
input, its current ``I[t]``, its spikes and membrane, and the readout membrane, in ``net.records``.

Time checkpointing (:func:`set_time_checkpointing`, ``train.checkpoint_time_steps=K``): in
training, each hidden layer runs in blocks of K time steps, each block checkpointed
(``torch.utils.checkpoint``): only the block's input and the neuron state at its start are kept
for the backward pass, which recomputes the block. Gradients are the same; memory for the
neuron state drops from T to T/K steps per layer.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from . import neurons, sparse
from .neurons import leak_gradient, torch_scan as scan
from .neurons import NeuronSpec

__all__ = ["READOUTS", "POOLS", "INITS", "SpikingNetwork", "build", "parse_layers", "LayerToken", "he_normal_", "joint_recurrent_",
           "set_time_checkpointing"]

READOUTS = ("mem_last", "mem_mean", "mem_max", "spike_count", "integrator_softmax")
POOLS = ("avg", "max", "spiking")
INITS = ("default", "he_normal", "joint_recurrent")

_TOKEN_PATTERNS = [
    ("conv", re.compile(r"^(\d+)C(\d+)$")),
    ("pool", re.compile(r"^(\d+)P$")),
    ("fc", re.compile(r"^(\d+)FC$")),
    ("dropout", re.compile(r"^(0?\.\d+|0|1)D$")),
    ("number", re.compile(r"^(\d+)$")),
]


@dataclass(frozen=True)
class LayerToken:
    kind: str  # conv | pool | fc | dropout | input | output
    size: float
    kernel: int = 0
    text: str = ""


def parse_layers(layers: str) -> list[LayerToken]:
    """Parse a layer string into tokens; raise ValueError naming the bad token."""
    if not isinstance(layers, str) or not layers.strip():
        raise ValueError("model.layers must be a non-empty layer string such as '64C3-2P-128FC-10'")
    raw = [t.strip() for t in layers.replace(">", "").split("-") if t.strip()]
    tokens: list[LayerToken] = []
    for position, text in enumerate(raw):
        for kind, pattern in _TOKEN_PATTERNS:
            match = pattern.match(text)
            if not match:
                continue
            if kind == "conv":
                tokens.append(LayerToken("conv", int(match[1]), int(match[2]), text))
            elif kind == "dropout":
                tokens.append(LayerToken("dropout", float(match[1]), 0, text))
            elif kind == "number":
                if position == len(raw) - 1:
                    kind = "output"
                elif position == 0:
                    kind = "input"
                else:
                    kind = "fc"
                tokens.append(LayerToken(kind, int(match[1]), 0, text))
            else:
                tokens.append(LayerToken(kind, int(match[1]), 0, text))
            break
        else:
            raise ValueError(
                f"layer token {text!r} in {layers!r} is not understood; tokens are e.g. "
                "'64C3' (conv), '2P' (pool), '512FC' (fully connected), '0.2D' (dropout), "
                "and a bare number of output classes at the end"
            )
    if not tokens or tokens[-1].kind != "output":
        raise ValueError(f"layer string {layers!r} must end with the number of classes, e.g. '...-10'")
    for token in tokens:
        if token.kind in ("conv", "fc", "pool", "output") and token.size < 1:
            raise ValueError(f"layer token {token.text!r} must have a positive size")
    return tokens


class TimeDropout(nn.Module):
    """Dropout with one mask per sample shared across all time steps (input ``[T, B, ...]``)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p={p} must lie in [0, 1)")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.empty_like(x[0]).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _SpikeLinear(torch.autograd.Function):
    """``linear(spikes, W, b)`` that keeps its 0/1 input for backward as bool (1 byte, not 4).

    The weight gradient ``g^T S`` needs the input; the spikes are exactly 0 or 1, so a bool copy
    gives the same gradient bit for bit in a quarter of the memory."""

    @staticmethod
    def forward(ctx, spikes, weight, bias):
        ctx.save_for_backward(spikes.bool(), weight)
        ctx.dtype, ctx.has_bias = spikes.dtype, bias is not None
        return nn.functional.linear(spikes, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        packed, weight = ctx.saved_tensors
        grad_spikes = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_spikes = grad_output @ weight
        if ctx.needs_input_grad[1]:
            flat = grad_output.reshape(-1, grad_output.shape[-1])
            grad_weight = flat.t() @ packed.reshape(-1, packed.shape[-1]).to(ctx.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_output.reshape(-1, grad_output.shape[-1]).sum(0)
        return grad_spikes, grad_weight, grad_bias


# The bool copy of the spikes saves memory where they are big; it costs two passes over them (pack and
# unpack), which on a small network (the delayed XOR's [100 000 x 16]) is a measurable part of the step:
# below this many elements the float spikes the scan returned are kept as they are (no copy).
PACK_SPIKES_MIN = 1 << 23

# ops that keep a 0/1 tensor 0/1 (the spikes of the layer before stay binary through them)
_KEEP_BINARY = (nn.Flatten, nn.Identity, nn.MaxPool1d, nn.MaxPool2d)


class _ScaledLinear(nn.Module):
    """``linear`` with its output rows scaled by ``factor`` ``[N]``: the next neuron's ``one_minus_beta``
    folded into the weights (:func:`ablations.neurons.input_scale_folds`), so that no pass over the
    ``[T, B, N]`` current scales it, forward or back."""

    def __init__(self, linear: nn.Linear, factor: torch.Tensor):
        super().__init__()
        factor = factor.reshape(-1)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight * factor[:, None]
        self.bias = None if linear.bias is None else linear.bias * factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


#: fold a neuron's one_minus_beta factor into the fully connected op before it (tests switch it off
#: to compare the two)
FOLD_INPUT_SCALE = True


def _folds_into(ops: nn.ModuleList, neuron: nn.Module) -> bool:
    """Whether the last of ``ops`` takes the neuron's input factor into its weights."""
    return (FOLD_INPUT_SCALE and len(ops) > 0 and type(ops[-1]) is nn.Linear and not sparse.has_hooks(ops[-1])
            and neurons.input_scale_folds(neuron))


def _apply_ops(ops: nn.ModuleList, x: torch.Tensor, binary: bool = False,
               last_scale: torch.Tensor | None = None) -> torch.Tensor:
    """Run stateless ops on a time-major tensor: folded ``[T*B, ...]`` except time dropout.

    A fully connected op on input that needs no gradient (event data entering the first layer)
    uses the sparse product of :mod:`ablations.sparse` where the input is sparse enough.
    ``binary``: ``x`` is the 0/1 spikes of a spiking layer; a fully connected op they reach
    unchanged keeps them for its backward pass as bool (:class:`_SpikeLinear`; float32 only, an
    autocast product keeps its own low-precision copy). ``last_scale``: the last op (an
    ``nn.Linear``) runs with its rows scaled by it (:class:`_ScaledLinear`).
    """
    steps, batch = x.shape[:2]
    folded = x.reshape(steps * batch, *x.shape[2:])
    for index, op in enumerate(ops):
        if last_scale is not None and index == len(ops) - 1:
            op = _ScaledLinear(op, last_scale)
        if isinstance(op, (nn.Linear, _ScaledLinear)) and not folded.requires_grad:
            folded = sparse.event_linear(folded, op)
        elif (isinstance(op, (nn.Linear, _ScaledLinear)) and binary and folded.dtype == torch.float32 and folded.numel() >= PACK_SPIKES_MIN
              and not torch.is_autocast_enabled(folded.device.type) and not sparse.has_hooks(op)):
            folded = _SpikeLinear.apply(folded, op.weight, op.bias)
        elif isinstance(op, TimeDropout):
            folded = op(folded.reshape(steps, batch, *folded.shape[1:])).flatten(0, 1)
        else:
            folded = op(folded)
        binary = binary and isinstance(op, _KEEP_BINARY)
    return folded.reshape(steps, batch, *folded.shape[1:])


class SpikingLayer(nn.Module):
    """Stateless ops (run folded) followed by a neuron scanned over time."""

    def __init__(self, name: str, ops: Sequence[nn.Module], neuron: nn.Module):
        super().__init__()
        self.name = name
        self.ops = nn.ModuleList(ops)
        self.neuron = neuron
        self.checkpoint_time_steps: int | None = None
        self.binary_input = False  # the input is a spiking layer's 0/1 spikes (set by SpikingNetwork)

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        block = self.checkpoint_time_steps
        if block and block < x.shape[0] and record is None and self.training and torch.is_grad_enabled():
            return self._forward_in_time_blocks(x, block)
        fold = record is None and _folds_into(self.ops, self.neuron)  # a record keeps the unscaled current
        cell = getattr(self.neuron, "cell", self.neuron)
        current = _apply_ops(self.ops, x, self.binary_input, cell.input_factor() if fold else None)
        spikes, membrane = neurons.run_sequence(self.neuron, current, record_membrane=record is not None,
                                                input_scaled=fold)
        if record is not None:
            record[self.name] = {
                "input": x.detach(),
                "current": current.detach(),
                "spikes": spikes.detach(),
                "membrane": membrane.detach(),
            }
        return spikes


    def _forward_in_time_blocks(self, x: torch.Tensor, block: int) -> torch.Tensor:
        recurrent = getattr(self.neuron, "recurrent", None)
        cell = self.neuron.cell if recurrent is not None else self.neuron
        if cell.backend in ("snntorch", "step") or not scan.supports(cell) or scan.uncovered(cell.spec):
            raise ValueError(f"train.checkpoint_time_steps needs the fused neuron scan, but layer {self.name} "
                             f"runs neuron.backend={cell.backend}; use neuron.backend=auto")
        if cell.spec.synapse != "none" or cell.spec.adaptation != "none":
            raise ValueError(f"train.checkpoint_time_steps continues the membrane between time blocks, not the state of "
                             f"neuron.synapse / neuron.adaptation (layer {self.name}); leave checkpoint_time_steps null")
        state = None
        outputs = []
        for start in range(0, x.shape[0], block):
            spikes, membrane_last = checkpoint(self._block, x[start:start + block], state, cell, recurrent,
                                               use_reentrant=False)
            state = (membrane_last, spikes[-1])
            outputs.append(spikes)
        return torch.cat(outputs)

    def _block(self, x, state, cell, recurrent):
        spikes, membrane = neurons.fused_sequence(cell, recurrent, _apply_ops(self.ops, x, self.binary_input), state)
        return spikes, membrane[-1].clone()  # a view would keep the block's whole membrane alive


def set_time_checkpointing(model: nn.Module, steps: int | None) -> nn.Module:
    """Run every hidden layer of ``model`` in checkpointed blocks of ``steps`` time steps (None: off)."""
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or int(steps) < 1):
        raise ValueError(f"train.checkpoint_time_steps={steps!r} must be a whole number >= 1 (or null = off)")
    layers = [m for m in model.modules() if isinstance(m, SpikingLayer)]
    if steps is not None:
        for layer in layers:
            for op in layer.ops:
                if isinstance(op, (nn.BatchNorm1d, nn.BatchNorm2d)) or (isinstance(op, TimeDropout) and op.p > 0):
                    raise ValueError(
                        f"train.checkpoint_time_steps needs layers whose ops act on each time step alone; "
                        f"layer {layer.name} has {type(op).__name__} (statistics or masks over all steps). "
                        "Leave checkpoint_time_steps null for this model")
    for layer in layers:
        layer.checkpoint_time_steps = None if steps is None else int(steps)
    return model


def _argmax_first_dim(values: torch.Tensor) -> torch.Tensor:
    """``values.argmax(0)`` (the first index of the largest, as argmax), by comparisons over the few
    classes: torch's argmax over a short leading dimension took 0.6 ms on the delayed XOR's
    ``[2, 9, 500]`` window, the comparisons 7 us (measured, one CPU thread)."""
    best, index = values[0], torch.zeros(values.shape[1:], dtype=torch.long, device=values.device)
    for c in range(1, values.shape[0]):
        better = values[c] > best
        index = torch.where(better, c, index)
        best = torch.where(better, values[c], best)
    return index


class Readout(nn.Module):
    """Output layer: stateless ops, then a decoding of ``I_L[t]`` into ``[B, classes]``."""

    LEAK_INIT = (0.0, 4.0)  # DH-SNN readout_integrator_test defaults low_m = 0, high_m = 4 (spike_dense.py line 13)
    CLOSED_FORM_MAX = 1 << 16  # integrator_softmax: window x T up to which the membrane is one product (delayed XOR: 9 x 200)

    def __init__(self, ops: Sequence[nn.Module], kind: str, beta: float, spiking: nn.Module | None,
                 unscaled_leak_gradient: bool = False, window: int | None = None, init_state: str = "zero"):
        super().__init__()
        if kind not in READOUTS:
            raise ValueError(f"readout {kind!r} is not one of {list(READOUTS)}")
        if window is not None and (int(window) < 1 or kind == "mem_last"):
            raise ValueError(f"model.readout_window={window} must be >= 1 and needs readout mem_mean, mem_max, "
                             "spike_count or integrator_softmax (or null for all steps)")
        self.ops = nn.ModuleList(ops)
        self.kind = kind
        self.beta = float(beta)
        self.spiking = spiking
        self.unscaled_leak_gradient = bool(unscaled_leak_gradient)
        self.window = None if window is None else int(window)
        self.init_state = init_state  # integrator_softmax: its membrane starts at 0 or U(0, 1) per batch (DH-SNN)
        self.binary_input = False  # the input is a spiking layer's 0/1 spikes (set by SpikingNetwork)
        self.leak_parameter: nn.Parameter | None = None  # p of alpha = sigmoid(p), integrator_softmax only
        self.window_predictions: torch.Tensor | None = None  # integrator_softmax: [W, B] of the last forward
        if kind == "integrator_softmax":
            n_out = ops[-1].out_features
            # DH-SNN spike_dense.py lines 13, 28-31: tau_m per readout neuron, nn.init.uniform_(tau_m, 0, 4)
            self.leak_parameter = nn.Parameter(torch.empty(n_out).uniform_(*self.LEAK_INIT))

    @property
    def alpha(self) -> torch.Tensor | None:
        """The learned leak ``sigmoid(p)`` per output neuron (``integrator_softmax``), else None."""
        return None if self.leak_parameter is None else torch.sigmoid(self.leak_parameter)

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        if (self.kind == "integrator_softmax" and record is None and x.dim() == 3 and len(self.ops) == 1
                and isinstance(self.ops[0], nn.Linear) and not sparse.has_hooks(self.ops[0])
                and not torch.is_autocast_enabled(x.device.type)):
            # class-major [C, T, B] (W S^T: a wide product where [T B, N] x [N, C] is a skinny one),
            # the layout the window's closed form and the softmax over classes read without copies
            linear, (steps, batch) = self.ops[0], x.shape[:2]
            current = torch.mm(linear.weight, x.reshape(steps * batch, -1).t())
            if linear.bias is not None:
                current = current + linear.bias[:, None]
            current = current.view(-1, steps, batch).permute(1, 2, 0)  # [T, B, C], a view
        else:
            current = _apply_ops(self.ops, x, self.binary_input).float()  # the integrator runs in float32 under autocast
        steps = current.shape[0]
        first = 0 if self.window is None else max(steps - self.window, 0)
        if self.kind == "integrator_softmax":
            start = None if self.init_state != "uniform" else \
                torch.rand(current.shape[1:], dtype=current.dtype, device=current.device)  # in [B, C] order, any layout
            if record is None and (steps - first) * steps <= self.CLOSED_FORM_MAX and current.dim() == 3:
                return self._window_loss_terms(current, first, start)
            if record is None and (steps - first) * steps <= self.CLOSED_FORM_MAX:
                membrane = self._leaky_window(current, first, start)  # rows first..T-1 only
                first = 0
            else:
                membrane = self._leaky_integrate(current, start)
            probabilities = torch.softmax(membrane[first:], dim=-1)
            self.window_predictions = probabilities.detach().argmax(-1)
            out = torch.log_softmax(probabilities, dim=-1).sum(0)
        elif self.kind == "spike_count":
            spikes, membrane = neurons.run_sequence(self.spiking, current, record_membrane=True)
            out = spikes[first:].sum(0) / steps
        elif self.kind == "mem_last" and record is None and not self.unscaled_leak_gradient:
            # U_L[T] = sum_t beta_L^(T-t) I_L[t] in one product: no per-step graph for the integrator
            powers = torch.arange(steps - 1, -1, -1, device=current.device, dtype=current.dtype)
            weights = torch.pow(self.beta, powers).reshape(-1, *([1] * (current.dim() - 1)))
            return (weights * current).sum(0) / steps  # elementwise: float32 under autocast too
        else:
            membrane = self._integrate(current)
            if self.kind == "mem_last":
                out = membrane[-1] / steps
            elif self.kind == "mem_mean":
                out = membrane[first:].mean(0)
            else:
                out = membrane[first:].max(0).values
        if record is not None:
            record["readout"] = {"input": x.detach(), "current": current.detach(), "membrane": membrane.detach()}
        return out

    def _leaky_integrate(self, current: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
        """``integrator_softmax``'s membrane, step by step (the definition):
        ``U[t] = alpha U[t-1] + (1 - alpha) I[t]``, ``U[-1] = 0`` or ``start``; ``[T, B, C]``."""
        alpha = torch.sigmoid(self.leak_parameter)
        mem = torch.zeros_like(current[0]) if start is None else start
        trace = []
        for t in range(current.shape[0]):
            mem = alpha * mem + (1 - alpha) * current[t]
            trace.append(mem)
        return torch.stack(trace)

    def _window_weights(self, first: int, steps: int, device) -> torch.Tensor:
        """``K[w, s, c] = (1 - alpha_c) alpha_c^(first + w - s)`` for ``s <= first + w``, else 0: ``[W, T, C]``."""
        alpha = torch.sigmoid(self.leak_parameter)
        lag = (torch.arange(first, steps, device=device)[:, None]
               - torch.arange(steps, device=device)[None, :])  # [W, T]
        powers = torch.pow(alpha, lag.clamp(min=0).unsqueeze(-1).to(alpha.dtype))  # [W, T, C]
        return torch.where((lag >= 0).unsqueeze(-1), powers * (1 - alpha), torch.zeros_like(powers))

    def _window_loss_terms(self, current: torch.Tensor, first: int, start: torch.Tensor | None) -> torch.Tensor:
        """``integrator_softmax`` over the window in one pass of class-major products: the membrane of the
        window rows (:meth:`_leaky_window`'s closed form, as ``[C, W, T] x [C, T, B]``), its softmax over the
        classes and the summed log-softmax the per-step loss reads; ``[B, C]``. Pinned to the step-by-step
        definition by a test."""
        steps = current.shape[0]
        kernel = self._window_weights(first, steps, current.device).permute(2, 0, 1)  # [C, W, T]
        membrane = torch.bmm(kernel, current.permute(2, 0, 1))  # [C, W, B]
        if start is not None:
            alpha = torch.sigmoid(self.leak_parameter)
            decay = torch.pow(alpha[:, None], torch.arange(first + 1, steps + 1, device=current.device,
                                                          dtype=alpha.dtype)[None, :])  # [C, W]
            membrane = membrane + decay[:, :, None] * start.t()[:, None, :]
        probabilities = torch.softmax(membrane, dim=0)
        self.window_predictions = _argmax_first_dim(probabilities.detach())  # [W, B]
        return torch.log_softmax(probabilities, dim=0).sum(1).t()

    def _leaky_window(self, current: torch.Tensor, first: int, start: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``first..T-1`` of :meth:`_leaky_integrate` in one product (a fast path, pinned to it by
        a test): ``U[t] = alpha^(t+1) U[-1] + sum_{s <= t} (1 - alpha) alpha^(t - s) I[s]``. Costs
        ``(T - first) x T`` per class and sample, so it is used for short windows only (:data:`CLOSED_FORM_MAX`)."""
        alpha = torch.sigmoid(self.leak_parameter)
        steps = current.shape[0]
        weights = self._window_weights(first, steps, current.device)
        membrane = torch.einsum("wsc,sbc->wbc", weights, current.reshape(steps, -1, current.shape[-1])).reshape(
            steps - first, *current.shape[1:])
        if start is not None:
            decay = torch.pow(alpha, torch.arange(first + 1, steps + 1, device=current.device, dtype=alpha.dtype)[:, None])
            membrane = membrane + decay.reshape(steps - first, *([1] * (current.dim() - 2)), -1) * start
        return membrane

    def _integrate(self, current: torch.Tensor) -> torch.Tensor:
        mem = torch.zeros_like(current[0])
        trace = []
        for t in range(current.shape[0]):
            if self.unscaled_leak_gradient:
                mem = leak_gradient.unscaled_leak(self.beta, mem) + current[t]
            else:
                mem = self.beta * mem + current[t]
            trace.append(mem)
        return torch.stack(trace)

    def extra_repr(self) -> str:
        window = "" if self.window is None else f", window={self.window}"
        if self.kind == "integrator_softmax":
            return f"kind={self.kind}, alpha=sigmoid(p), p~U{self.LEAK_INIT} learned{window}"
        return f"kind={self.kind}, beta={self.beta:.4g}{window}"


class SpikingNetwork(nn.Module):
    """Hidden spiking layers and a readout. ``forward(x [T, B, ...]) -> [B, classes]``."""

    def __init__(self, layers: list[SpikingLayer], readout: Readout, spec: NeuronSpec,
                 layer_string: str, input_shape: tuple[int, ...]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.readout = readout
        for index, layer in enumerate(layers):
            layer.binary_input = index > 0  # every layer after the first gets the spikes of the one before
        readout.binary_input = bool(layers)
        self.spec = spec
        self.layer_string = layer_string
        self.input_shape = tuple(input_shape)
        self.probes = False
        self.records: dict[str, dict[str, torch.Tensor]] = {}

    @property
    def n_classes(self) -> int:
        return self.readout.ops[-1].out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"network input must be time-major [T, B, ...], got shape {tuple(x.shape)}")
        if tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(
                f"network built for inputs of shape [T, B, {', '.join(map(str, self.input_shape))}] "
                f"got {list(x.shape)}"
            )
        record = {} if self.probes else None
        for layer in self.layers:
            x = layer(x, record)
        out = self.readout(x, record)
        if record is not None:
            self.records = record
        return out


def _flat(shape: tuple[int, ...]) -> int:
    size = 1
    for dim in shape:
        size *= dim
    return size


def build_network(
    layers: str,
    variant: str | NeuronSpec = "vanilla",
    input_shape: Sequence[int] | None = None,
    readout: str = "mem_last",
    readout_beta: float | None = None,
    pool: str = "avg",
    batch_norm: bool = False,
    bias: bool = True,
    neuron: dict[str, Any] | None = None,
    init: str = "default",
    pool_threshold: float = 0.75,
    readout_window: int | None = None,
) -> SpikingNetwork:
    """Build a :class:`SpikingNetwork` from a layer string.

    ``input_shape`` is the per-time-step shape of one sample (``(C, H, W)`` or ``(N,)``); it may
    be omitted for FC-only strings that start with the input size, e.g. ``"2312-512FC-10"``.
    ``neuron`` holds :class:`NeuronSpec` overrides (``{"tau": 100.0}``).
    """
    tokens = parse_layers(layers)
    spec = neurons.spec_for(variant, **(neuron or {}))
    if pool not in POOLS:
        raise ValueError(f"model.pool={pool!r} is not one of {list(POOLS)}")
    if init not in INITS:
        raise ValueError(f"model.init={init!r} is not one of {list(INITS)}")
    if pool == "spiking" and not float(pool_threshold) > 0:
        raise ValueError(f"model.pool_threshold={pool_threshold} must be > 0")
    if tokens[0].kind == "input":
        declared = (int(tokens[0].size),)
        if input_shape is None:
            input_shape = declared
        elif _flat(tuple(input_shape)) != declared[0]:
            raise ValueError(
                f"layer string {layers!r} declares {declared[0]} inputs but the data has "
                f"shape {tuple(input_shape)} ({_flat(tuple(input_shape))} values per time step)"
            )
        tokens = tokens[1:]
    if input_shape is None:
        raise ValueError(f"input_shape is needed for layer string {layers!r}")
    shape = tuple(int(s) for s in input_shape)
    hidden: list[SpikingLayer] = []
    pending: list[nn.Module] = []  # pooling / dropout waiting for the next weighted layer

    def flatten_if_needed() -> None:
        nonlocal shape
        if len(shape) > 1:
            pending.append(nn.Flatten())
            shape = (_flat(shape),)

    for index, token in enumerate(tokens[:-1]):
        if token.kind == "conv":
            if len(shape) != 3:
                raise ValueError(f"conv layer {token.text!r} needs image inputs [C, H, W], got {shape}")
            out_channels = int(token.size)
            ops = pending + [nn.Conv2d(shape[0], out_channels, token.kernel, padding=token.kernel // 2, bias=bias)]
            if batch_norm:
                ops.append(nn.BatchNorm2d(out_channels))
            shape = (out_channels, shape[1] + 2 * (token.kernel // 2) - token.kernel + 1,
                     shape[2] + 2 * (token.kernel // 2) - token.kernel + 1)
            if spec.recurrent:
                raise ValueError(
                    f"variant {spec.variant!r} is recurrent, which this package defines for fully "
                    f"connected layers only (seed 001 Eq. 4); layer {token.text!r} is a convolution. "
                    "Use an FC model, or a non-recurrent variant"
                )
            hidden.append(SpikingLayer(_layer_name(hidden), ops, neurons.build_neuron(spec)))
            pending = []
        elif token.kind == "pool":
            if len(shape) != 3:
                raise ValueError(f"pool layer {token.text!r} needs feature maps [C, H, W], got {shape}")
            size = int(token.size)
            pending.append(nn.MaxPool2d(size) if pool == "max" else nn.AvgPool2d(size))
            shape = (shape[0], shape[1] // size, shape[2] // size)
            if pool == "spiking":
                n_pools = sum(layer.name.startswith("pool") for layer in hidden)
                hidden.append(SpikingLayer(f"pool{n_pools + 1}", pending, neurons.build_neuron(_pooling_spec(pool_threshold))))
                pending = []
            if min(shape[1:]) < 1:
                raise ValueError(f"pool layer {token.text!r} shrinks the feature map below 1x1")
        elif token.kind == "dropout":
            pending.append(TimeDropout(float(token.size)))
        elif token.kind in ("fc", "input"):
            flatten_if_needed()
            width = int(token.size)
            ops = pending + [nn.Linear(shape[0], width, bias=bias)]
            if batch_norm:
                ops.append(nn.BatchNorm1d(width))
            hidden.append(SpikingLayer(_layer_name(hidden), ops, neurons.build_neuron(spec, n_neurons=width)))
            shape = (width,)
            pending = []
        else:  # pragma: no cover - parse_layers guarantees the kinds
            raise ValueError(f"unexpected token {token.text!r} at position {index}")
    flatten_if_needed()
    n_classes = int(tokens[-1].size)
    out_ops = pending + [nn.Linear(shape[0], n_classes, bias=bias)]
    if readout_beta is None:
        readout_beta = spec.beta_value if spec.beta_value is not None else 1.0
    spiking = None
    if readout == "spike_count":
        spiking = neurons.build_neuron(dataclasses.replace(spec, recurrent=False), n_neurons=n_classes)
    head = Readout(out_ops, readout, readout_beta, spiking,
                   unscaled_leak_gradient=spec.gradient == "leak_corrected", window=readout_window,
                   init_state=spec.init_state)
    net = SpikingNetwork(hidden, head, spec, layers, tuple(int(s) for s in input_shape))
    if init == "he_normal":
        he_normal_(net)
    elif init == "joint_recurrent":
        joint_recurrent_(net)
    return net


build = build_network  # the name the README's first examples use


def _layer_name(hidden: list[SpikingLayer]) -> str:
    """``layerK``: K counts the weighted hidden layers (spiking pooling layers are ``poolK``)."""
    return f"layer{sum(not layer.name.startswith('pool') for layer in hidden) + 1}"


def _pooling_spec(threshold: float) -> NeuronSpec:
    """Ref [21]'s pooling neuron: IF, hard reset, threshold 0.75, spike gradient 1 where it fired."""
    return NeuronSpec(leak="none", reset="zero", threshold=float(threshold), surrogate="straight_through",
                      surrogate_params={"threshold": 1.0}, variant="pooling")


def joint_recurrent_(module: nn.Module) -> nn.Module:
    """Recurrent layers initialised as one ``nn.Linear(n_in + N, N)`` with bias over ``[x, S[t-1]]``
    (PyTorch's default: weights and bias ~ U(+-1/sqrt(n_in + N))), the layout of DH-SNN's recurrent
    layer (eva1801/DH-SNN, delayed_xor/SNN_layers/spike_rnn.py lines 30, 46-48).

    The package keeps the input ``nn.Linear(n_in, N)`` and the bias-free recurrent ``nn.Linear(N, N)``
    apart; ``W [x, s] + b = W_x x + W_s s + b``, so drawing both (and the input bias) from
    U(+-1/sqrt(n_in + N)) is that layer exactly. PyTorch's default draws U(+-1/sqrt(fan_in)), so
    the draw is rescaled by ``sqrt(fan_in / (n_in + N))``. Layers without recurrence keep theirs."""
    for layer in module.modules():
        recurrent = getattr(getattr(layer, "neuron", None), "recurrent", None)
        linears = [op for op in getattr(layer, "ops", ()) if isinstance(op, nn.Linear)]
        if not isinstance(recurrent, nn.Linear) or len(linears) != 1:
            continue
        joint = linears[0].in_features + recurrent.in_features
        with torch.no_grad():
            for part in (linears[0], recurrent):
                scale = (part.in_features / joint) ** 0.5
                part.weight.mul_(scale)
                if part.bias is not None:
                    part.bias.mul_(scale)
    return module


def he_normal_(module: nn.Module) -> nn.Module:
    """Ref [21]'s initialisation (lines 445-459): every conv/linear weight ~ N(0, 2 / fan_in).

    Recurrent weights of recurrent neurons keep their own initialisation (ref [21] has none)."""
    for name, child in module.named_modules():
        if isinstance(child, (nn.Conv2d, nn.Linear)) and not name.endswith(".recurrent"):
            nn.init.kaiming_normal_(child.weight, mode="fan_in", nonlinearity="relu")
    return module
