r"""``neurobench`` suite: NeuroBench's own ``Benchmark`` and metrics on a trained run.

Runs ``neurobench.benchmarks.Benchmark`` (NeuroBench 2.x, the optional extra ``neurobench``) on
the same fixed, seeded test subset and the same encoded inputs as the ``activity`` suite, so the
two can be compared number for number. Rows (``metric``, ``neurobench_metric`` = NeuroBench's own
name, and ``layer`` where it is per layer):

=========================  ======================================  ===========================
metric                     NeuroBench metric / key                 unit
=========================  ======================================  ===========================
``footprint_bytes``        ``Footprint``                           bytes (parameters + buffers)
``connection_sparsity``    ``ConnectionSparsity``                  share of zero weights
``accuracy``               ``ClassificationAccuracy``              share of the subset
``activation_sparsity``    ``ActivationSparsity`` (``network``),   share of zero spike outputs
                           ``ActivationSparsityByLayer`` (layers)
``effective_macs``         ``SynapticOperations/Effective_MACs``   per sample
``effective_acs``          ``SynapticOperations/Effective_ACs``    per sample
``dense_synaptic_ops``     ``SynapticOperations/Dense``            per sample
``membrane_updates``       ``MembraneUpdates``                     per sample
``effective_neuron_ops``   ``NeuronOperations/Effective Neuron     per sample
                           Ops`` (only where it applies, below)
``dense_neuron_ops``       ``NeuronOperations/Neuron Dense Ops``   per sample
=========================  ======================================  ===========================

How the time-major network meets NeuroBench
-------------------------------------------
NeuroBench feeds a model batch-major ``[B, T, ...]`` and registers its hooks on the modules the
model wrapper names: connection hooks on every ``Linear`` / ``Conv`` (including a recurrent
layer's ``V`` and the readout), activation hooks on every spiking neuron. :class:`TimeMajorModel`
is that wrapper: it transposes to ``[T, B, ...]``, runs the network and returns the predicted
class; its activation layers are the snnTorch cells of every spiking layer, named as in the
other suites (``layer1``.., ``readout`` when the readout spikes). The neurons are scanned with the
``snntorch`` backend during the benchmark (the ``fused`` backend never calls the neuron modules,
so NeuroBench's hooks would see nothing); the backend is restored afterwards. Inputs are encoded
by a preprocessor with the activity suite's seeded generators (:func:`common.batch_generator`).

``NeuronOperations`` knows only snnTorch's classes and the resets ``zero`` / ``subtract`` by class
name; it is run only when every neuron is a plain ``Leaky`` with one of those resets (not for
linear leak, whose class NeuroBench does not know, nor for reset ``none``, which has no entry in
its table). NeuroBench swallows an exception inside a workload metric and reports 0.0; this suite
turns that message into an error instead.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..data.bundle import DataBundle
from ..errors import UserError
from ..neurons import Leaky, RecurrentNeuron, set_backend
from .common import batch_generator, device_of, params, spiking_neurons, test_loader, tidy

__all__ = ["neurobench", "TimeMajorModel", "spiking_cells", "require_neurobench"]


def require_neurobench():
    """Import NeuroBench or raise a UserError that says how to install it."""
    try:
        import neurobench  # noqa: F401
        from neurobench.benchmarks import Benchmark  # noqa: F401
    except ImportError as error:
        raise UserError(f"the neurobench suite needs the NeuroBench package ({error}); "
                        "install it with `pip install -e \".[neurobench]\"`") from None
    return neurobench


def spiking_cells(model: nn.Module) -> dict[str, Leaky]:
    """The snnTorch cell of every spiking layer, by layer name (``readout`` for a spiking readout)."""
    # an ablated snnTorch neuron (ablations.ablate) is its own activation layer: it is called once per step
    return {name: neuron.cell if isinstance(neuron, RecurrentNeuron) else neuron
            for name, neuron in spiking_neurons(model).items()}


def _model_class():
    from neurobench.models import NeuroBenchModel

    class TimeMajorModel(NeuroBenchModel):
        """A :class:`ablations.network.SpikingNetwork` as a NeuroBench model.

        ``model(x [B, T, ...]) -> predicted class [B]``; hooks on every spiking cell, by layer name.
        """

        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net
            self.net.eval()

        def __call__(self, batch: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return self.net(batch.transpose(0, 1)).argmax(1)

        def __net__(self) -> nn.Module:
            return self.net

        def activation_layers(self) -> list[dict]:
            return [{"layer_name": name, "layer": cell} for name, cell in spiking_cells(self.net).items()]

    return TimeMajorModel


def TimeMajorModel(net: nn.Module):  # noqa: N802 - a factory that reads as the class it returns
    """Wrap ``net`` for NeuroBench (the class is defined on first use: NeuroBench is optional)."""
    require_neurobench()
    return _model_class()(net)


class _Encode:
    """NeuroBench preprocessor: raw batch -> encoded batch-major ``[B, T, ...]`` on the model's device,
    with the same seeded generator per batch index as the ``activity`` suite."""

    def __init__(self, data: DataBundle, seed: int, device: torch.device):
        self.data, self.seed, self.device, self.index = data, seed, device, 0

    def __call__(self, batch):
        x, y = batch
        x = x.to(self.device)
        inputs = self.data.encoder(x, generator=batch_generator(self.seed, self.index, self.device))
        self.index += 1
        return inputs.transpose(0, 1), y.to(self.device)


def _neuron_ops_apply(cells: dict[str, Leaky]) -> bool:
    """NeuroBench's NeuronOperations looks neurons up by class name and reset: ``Leaky`` with
    ``zero`` or ``subtract`` only (our ``LinearLeaky`` and reset ``none`` have no entry)."""
    return all(type(cell).__name__ == "Leaky" and cell.spec.reset in ("zero", "subtract") for cell in cells.values())


def _metric_classes(neuron_ops: bool):
    from neurobench.metrics.abstract.workload_metric import WorkloadMetric
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import (ActivationSparsity, ActivationSparsityByLayer, ClassificationAccuracy,
                                             MembraneUpdates, NeuronOperations, SynapticOperations)

    class ActivationSparsityPerLayer(ActivationSparsityByLayer):
        """NeuroBench 2.3's ActivationSparsityByLayer never calls WorkloadMetric.__init__, so its
        ``requires_hooks`` property fails; the same metric with the flag set."""

        def __init__(self):
            super().__init__()
            WorkloadMetric.__init__(self, requires_hooks=True)

    ActivationSparsityPerLayer.__name__ = "ActivationSparsityByLayer"  # NeuroBench keys results by class name
    workload = [ClassificationAccuracy, ActivationSparsity, ActivationSparsityPerLayer, SynapticOperations,
                MembraneUpdates]
    if neuron_ops:
        workload.append(NeuronOperations)
    return [[Footprint, ConnectionSparsity], workload]


_NAMES = {  # NeuroBench key -> our metric name
    "Footprint": "footprint_bytes",
    "ConnectionSparsity": "connection_sparsity",
    "ClassificationAccuracy": "accuracy",
    "ActivationSparsity": "activation_sparsity",
    "MembraneUpdates": "membrane_updates",
    "SynapticOperations/Effective_MACs": "effective_macs",
    "SynapticOperations/Effective_ACs": "effective_acs",
    "SynapticOperations/Dense": "dense_synaptic_ops",
    "NeuronOperations/Effective Neuron Ops": "effective_neuron_ops",
    "NeuronOperations/Neuron Dense Ops": "dense_neuron_ops",
}


def benchmark_results(model: nn.Module, data: DataBundle, n_samples: int | None, seed: int,
                      batch_size: int, progress: bool = False) -> dict[str, Any]:
    """NeuroBench's result dictionary for ``model`` on the seeded test subset (NeuroBench's keys)."""
    require_neurobench()
    from neurobench.benchmarks import Benchmark

    device = device_of(model)
    cells = spiking_cells(model)
    backends = {name: cell.backend for name, cell in cells.items()}
    set_backend(model, "snntorch")
    wrapped = TimeMajorModel(model)
    loader = test_loader(data, n_samples, seed, batch_size)
    metrics = _metric_classes(_neuron_ops_apply(cells))
    benchmark = Benchmark(wrapped, loader, [_Encode(data, seed, device)], [], metrics)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            results = benchmark.run(quiet=not progress)
    finally:
        benchmark.workload_metric_manager.cleanup_hooks(wrapped)
        for name, cell in cells.items():
            cell.backend = backends[name]
    if "Error running workload metric" in captured.getvalue():
        lines = [line for line in captured.getvalue().splitlines() if "Error running" in line]
        raise RuntimeError("NeuroBench failed inside a metric (it would have reported 0.0): " + "; ".join(lines))
    return results


@torch.no_grad()
def neurobench(model: nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "neurobench")
    results = benchmark_results(model, data, p.n_samples, int(p.seed), int(p.batch_size),
                                progress=bool(cfg.get("progress", False)) if cfg is not None else False)
    rows: list[dict] = []
    for key, value in results.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                if key == "ActivationSparsityByLayer":
                    rows.append({"metric": "activation_sparsity", "value": float(sub_value), "layer": str(sub),
                                 "neurobench_metric": key})
                else:
                    name = f"{key}/{sub}"
                    rows.append({"metric": _NAMES.get(name, name), "value": float(sub_value), "layer": "network",
                                 "neurobench_metric": name})
        else:
            rows.append({"metric": _NAMES.get(key, key), "value": float(value), "layer": "network",
                         "neurobench_metric": key})
    return tidy(rows, "neurobench")
