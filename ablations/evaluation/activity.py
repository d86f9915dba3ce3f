r"""``activity`` suite: spike rates, synaptic operations, dense MACs, ENWSI, activation sparsity.

Measured on clean test samples with the probes of :class:`ablations.network.SpikingNetwork`
(spikes, currents) and forward hooks on every ``Linear`` / ``Conv2d`` (synaptic operations).
Layers carry the network's names (``layer1..layerN`` for layer strings, ``stem``,
``stage1.block1.conv1``, ... for the ResNet); ``readout`` is the output layer,
``<layer>.recurrent`` the recurrent weights of a recurrent layer, ``<layer>.shortcut`` a residual
block's projection shortcut, ``network`` a whole-network total. Rows (``metric``, conditions):

* ``spike_rate`` per ``layer`` (every spiking layer: the hidden layers, and ``readout`` when the
  readout spikes (``spike_count``), and ``network``): spikes per neuron per time step,
  averaged over neurons, steps and samples (seed 003 Table 1 "Spikes (%)" is 100 times the
  ``network`` value; its readout does not spike); and per ``layer`` and ``neuron`` (flat index of
  the unit in the layer's output, ``[C, H, W]`` flattened for conv layers; at most
  ``max_neurons`` per layer, a seeded subset beyond that) for the spike-rate histograms of
  seed 001 Fig. 4.
* ``input_rate``: share of non-zero network input entries per step (``layer`` = ``input``).
* ``activation_sparsity`` per spiking ``layer`` (as ``spike_rate``) and ``network``: share of
  zero spike outputs over neurons, steps and samples (NeuroBench's ``ActivationSparsity``).
* ``synaptic_ops`` per ``layer`` (incl. ``readout``, ``layerK.recurrent``, ``network``): accumulates
  actually triggered by non-zero inputs, per sample (summed over time steps, averaged over
  samples); ``synaptic_acs`` and ``synaptic_macs`` split it as NeuroBench does: a call of a
  weighted op whose whole input lies in {-1, 0, 1} counts accumulates (ACs), any other call
  (graded input: direct coding, event frames holding counts, spikes after average pooling)
  multiply-accumulates (MACs). ``synaptic_ops = synaptic_acs + synaptic_macs``.
* ``dense_macs`` per ``layer`` and ``network``: the multiply-accumulates a dense implementation
  performs for the same layers, per sample (all inputs and weights counted).
* ``enwsi`` per hidden ``layer`` and ``time_step`` (1..T): Euclidean norm of the layer's
  weighted input ``I[t] = W x[t] + b`` (after batch norm, before the neuron; the recurrent
  current ``V S[t-1]`` is not included), averaged over samples (seed 003 Fig. 6).

Synaptic operations
-------------------
A forward hook on every weighted op (``Linear`` or ``Conv2d``) sees the op's actual input
``x[t]``: the encoded input for the first layer (so the input spikes count, as seed 003 counts
the whole network), the previous layer's spikes otherwise, after any pooling or flattening in
front of the op. Every non-zero entry of ``x[t]`` triggers one accumulate per outgoing synapse
with a non-zero weight::

    Linear:  ops[t] = sum_i [x_i[t] != 0] * #{j : W_ji != 0}
    Conv2d:  ops[t] = sum over outputs of conv2d([x[t] != 0], [W != 0])   (same stride, padding)

The conv form counts the real fan-out of each input position, borders included (a corner
pixel of a 3x3 "same" conv reaches 4 output positions per output channel, an interior one 9).
A recurrent layer adds ``sum_i [S_i[t-1] != 0] * #{j : V_ji != 0}`` (its recurrent ``Linear`` is
called once per step on the previous step's spikes). Dense MACs are the same sums with every
input and weight counted as non-zero.

Agreement with NeuroBench (``neurobench`` suite, NeuroBench 2.3; pinned by
``tests/evaluation/test_neurobench.py`` on the same run, subset and encoded inputs):

* ``synaptic_acs`` / ``synaptic_macs`` (``network``) equal NeuroBench's ``Effective_ACs`` /
  ``Effective_MACs``: the same count (non-zero inputs times non-zero fan-out, bias excluded),
  classified per call of the weighted op as NeuroBench classifies it. We also report it per
  layer (recurrent and shortcut weights separately).
* ``dense_macs`` (``network``) equals NeuroBench's ``Dense`` (every input and weight counted).
* ``activation_sparsity`` (``network`` and per layer) equals NeuroBench's ``ActivationSparsity``
  and ``ActivationSparsityByLayer``: every spiking layer, a spiking readout included (a
  membrane readout emits no spikes and is in neither).
* A frame bin holding several events is one non-zero input in both, but a graded one: its
  layer's operations are MACs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.bundle import DataBundle
from ..network import SpikingLayer, TimeDropout
from ..neurons import RecurrentNeuron
from .common import (batch_generator, device_of, forward_records, hidden_layers, params, spiking_neurons, test_loader,
                     tidy)

__all__ = ["activity", "synaptic_ops", "is_binary", "dense_macs", "layer_ops", "op_names", "OpCounter"]

_WEIGHTED = (nn.Linear, nn.Conv2d)


def _split_ops(ops: nn.ModuleList) -> tuple[list[nn.Module], nn.Module]:
    for index, op in enumerate(ops):
        if isinstance(op, _WEIGHTED):
            return list(ops[:index]), op
    raise ValueError(f"no Linear or Conv2d op in {ops}")


def _pre(ops: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Apply pooling / flattening / (eval-mode) dropout to a time-major ``[T, B, ...]`` input."""
    steps, batch = x.shape[:2]
    folded = x.reshape(steps * batch, *x.shape[2:])
    for op in ops:
        if isinstance(op, TimeDropout) or isinstance(op, nn.Dropout):
            continue  # identity at evaluation
        folded = op(folded)
    return folded.reshape(steps, batch, *folded.shape[1:])


def synaptic_ops(op: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Accumulates triggered in ``op`` (Linear or Conv2d) by the non-zero entries of ``x [T, B, ...]``.

    Returns the count per sample ``[B]`` (summed over time steps).
    """
    active = (x != 0).to(torch.float64)
    steps, batch = x.shape[:2]
    weight = (op.weight != 0).to(torch.float64)
    if isinstance(op, nn.Linear):
        fan_out = weight.sum(0)  # [in]
        return (active.sum(0).reshape(batch, -1) @ fan_out)
    if isinstance(op, nn.Conv2d):
        out = F.conv2d(active.reshape(steps * batch, *x.shape[2:]), weight, None, op.stride, op.padding,
                       op.dilation, op.groups)
        return out.reshape(steps, batch, -1).sum((0, 2))
    raise TypeError(f"synaptic operations are defined for Linear and Conv2d ops, not {type(op).__name__}")


def is_binary(x: torch.Tensor) -> bool:
    """True when every entry of ``x`` is -1, 0 or 1 (NeuroBench's test for accumulate-only inputs)."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def dense_macs(op: nn.Module, x: torch.Tensor) -> float:
    """Multiply-accumulates of ``op`` on every entry of ``x [T, B, ...]``, per sample."""
    steps = x.shape[0]
    if isinstance(op, nn.Linear):
        return float(steps * op.in_features * op.out_features)
    ones = torch.ones((1, *x.shape[2:]), dtype=torch.float64, device=x.device)
    out = F.conv2d(ones, torch.ones_like(op.weight, dtype=torch.float64), None, op.stride, op.padding,
                   op.dilation, op.groups)
    return float(steps * out.sum())


def layer_ops(ops: nn.ModuleList, layer_input: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Synaptic ops per sample ``[B]`` and dense MACs per sample of a layer's stateless ops."""
    pre, weighted = _split_ops(ops)
    x = _pre(pre, layer_input)
    return synaptic_ops(weighted, x), dense_macs(weighted, x)


def op_names(model: nn.Module) -> dict[nn.Module, str]:
    """The layer name under which each Linear / Conv2d of ``model`` is counted."""
    names: dict[nn.Module, str] = {}
    for module in model.modules():
        if isinstance(module, SpikingLayer):
            for op in module.ops:
                if isinstance(op, _WEIGHTED):
                    names[op] = module.name
            for op in getattr(module, "shortcut", []):
                if isinstance(op, _WEIGHTED):
                    names[op] = f"{module.name}.shortcut"
            if isinstance(module.neuron, RecurrentNeuron):
                names[module.neuron.recurrent] = f"{module.name}.recurrent"
    for name, neuron in spiking_neurons(model).items():
        recurrent = getattr(neuron, "recurrent", None)
        if isinstance(recurrent, _WEIGHTED) and recurrent not in names:
            names[recurrent] = f"{name}.recurrent"
    readout = getattr(model, "readout", None)
    if isinstance(readout, nn.Module) and hasattr(readout, "ops"):
        for op in readout.ops:
            if isinstance(op, _WEIGHTED):
                names[op] = "readout"
    prefix = "user." if isinstance(getattr(model, "user", None), nn.Module) else ""  # a wrapped user model
    for path, module in model.named_modules():
        if isinstance(module, _WEIGHTED) and module not in names:
            names[module] = path[len(prefix):] if prefix and path.startswith(prefix) else path
    return names


class OpCounter:
    """Forward hooks on every Linear / Conv2d of a model (as NeuroBench's connection hooks):
    accumulates triggered by non-zero inputs, and dense MACs, summed over all calls."""

    def __init__(self, model: nn.Module):
        self.names = op_names(model)
        self.synaptic_ops: dict[str, float] = {}
        self.synaptic_acs: dict[str, float] = {}  # calls whose input is binary ({-1, 0, 1}): accumulates
        self.synaptic_macs: dict[str, float] = {}  # calls with graded input: multiply-accumulates
        self.dense_macs: dict[str, float] = {}
        self._handles = []

    def __enter__(self) -> "OpCounter":
        for module, name in self.names.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name: str):
        def count(module, inputs, output):
            x = inputs[0].detach().unsqueeze(0)  # one "time step" holding all rows of the call
            ops = float(synaptic_ops(module, x).sum())
            split = self.synaptic_acs if is_binary(x) else self.synaptic_macs
            split[name] = split.get(name, 0.0) + ops
            self.synaptic_ops[name] = self.synaptic_ops.get(name, 0.0) + ops
            self.dense_macs[name] = self.dense_macs.get(name, 0.0) + dense_macs(module, x) * x.shape[1]
        return count


def spiking_layers(model: nn.Module, records: dict) -> list[str]:
    """The recorded layers that emit spikes: every hidden layer, and ``readout`` when it spikes."""
    names = hidden_layers(records)
    if "readout" in records and getattr(getattr(model, "readout", None), "spiking", None) is not None:
        names.append("readout")
    return names


def readout_spikes(model: nn.Module, record: dict) -> torch.Tensor:
    """Spikes of a spiking (``spike_count``) readout from its recorded membrane: ``S[t] = H(U[t] - theta)``
    (``U[t]`` is the membrane before the reset its spike causes, ablations.neurons)."""
    return (record["membrane"] > model.readout.spiking.threshold).to(record["membrane"].dtype)


@torch.inference_mode()
def activity(model: nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "activity")
    device = device_of(model)
    loader = test_loader(data, p.n_samples, int(p.seed), int(p.batch_size))
    n = 0
    spikes_sum: dict[str, float] = {}
    units: dict[str, int] = {}
    neuron_sum: dict[str, torch.Tensor] = {}
    enwsi_sum: dict[str, torch.Tensor] = {}
    input_nonzero, input_entries = 0.0, 0
    with OpCounter(model) as counter:
        for index, (x, y) in enumerate(loader):
            x = x.to(device)
            inputs = data.encoder(x, generator=batch_generator(int(p.seed), index, device))
            _, records = forward_records(model, inputs)
            batch = inputs.shape[1]
            n += batch
            input_nonzero += float((inputs != 0).sum())
            input_entries += inputs.numel()
            for name in spiking_layers(model, records):
                record = records[name]
                spikes = record["spikes"] if name != "readout" else readout_spikes(model, record)
                steps = spikes.shape[0]
                per_neuron = spikes.reshape(steps, batch, -1).sum((0, 1)).double().cpu()
                neuron_sum[name] = neuron_sum.get(name, 0) + per_neuron
                spikes_sum[name] = spikes_sum.get(name, 0.0) + float(per_neuron.sum())
                units[name] = per_neuron.numel() * steps  # neuron-steps per sample
                if name != "readout":
                    norms = record["current"].reshape(steps, batch, -1).double().norm(dim=2).sum(1).cpu()
                    enwsi_sum[name] = enwsi_sum.get(name, 0) + norms
    ops_sum, dense_sum = counter.synaptic_ops, counter.dense_macs
    dense = {name: value / n for name, value in dense_sum.items()}
    rows: list[dict] = []
    total_spikes = sum(spikes_sum.values())
    total_units = sum(units.values()) * n
    for name in spikes_sum:
        rate = spikes_sum[name] / (units[name] * n)
        rows.append({"metric": "spike_rate", "value": rate, "layer": name})
        rows.append({"metric": "activation_sparsity", "value": 1.0 - rate, "layer": name})
    rows.append({"metric": "spike_rate", "value": total_spikes / total_units, "layer": "network"})
    rows.append({"metric": "activation_sparsity", "value": 1.0 - total_spikes / total_units, "layer": "network"})
    rows.append({"metric": "input_rate", "value": input_nonzero / max(input_entries, 1), "layer": "input"})
    for name, count in ops_sum.items():
        rows.append({"metric": "synaptic_ops", "value": count / n, "layer": name})
        rows.append({"metric": "synaptic_acs", "value": counter.synaptic_acs.get(name, 0.0) / n, "layer": name})
        rows.append({"metric": "synaptic_macs", "value": counter.synaptic_macs.get(name, 0.0) / n, "layer": name})
        rows.append({"metric": "dense_macs", "value": dense[name], "layer": name})
    rows.append({"metric": "synaptic_ops", "value": sum(ops_sum.values()) / n, "layer": "network"})
    rows.append({"metric": "synaptic_acs", "value": sum(counter.synaptic_acs.values()) / n, "layer": "network"})
    rows.append({"metric": "synaptic_macs", "value": sum(counter.synaptic_macs.values()) / n, "layer": "network"})
    rows.append({"metric": "dense_macs", "value": sum(dense.values()), "layer": "network"})
    for name, norms in enwsi_sum.items():
        for step, value in enumerate((norms / n).tolist()):
            rows.append({"metric": "enwsi", "value": value, "layer": name, "time_step": step + 1})
    rng = np.random.default_rng(int(p.seed))
    for name, counts in neuron_sum.items():
        steps = units[name] // counts.numel()
        rates = (counts / (steps * n)).numpy()
        keep = np.arange(rates.size)
        if rates.size > int(p.max_neurons):
            keep = np.sort(rng.choice(rates.size, int(p.max_neurons), replace=False))
        rows += [{"metric": "spike_rate", "value": float(rates[i]), "layer": name, "neuron": int(i)} for i in keep]
    frame = tidy(rows, "activity")
    for column in ("time_step", "neuron"):
        frame[column] = frame[column].astype("Int64")
    return frame
