r"""A trained :class:`ablations.network.SpikingNetwork` as a NIR graph, and a reference simulator.

NIR (the Neuromorphic Intermediate Representation, package ``nir``, optional extra ``nir``)
describes neurons in continuous time with a time step ``dt`` chosen by the simulator. With the
forward-Euler step of length ``dt`` our discrete update is reproduced exactly by:

=====================  ========================================================================
ours                   NIR node (``dt`` = one time step, written to the graph's metadata)
=====================  ========================================================================
exponential leak beta  ``LIF(tau = dt / (1 - beta), r = tau / dt, v_leak = 0, v_threshold,
                       v_reset = 0)``: ``v += dt/tau (v_leak - v + r I) = beta v + I``
complete leak (beta 0) the same LIF with ``tau = dt``, ``r = 1``: ``v = I``
no leak (IF)           ``IF(r = 1 / dt, v_threshold, v_reset = 0)``: ``v += dt r I = v + I``
recurrence ``V S``     ``Linear(V)`` from the neuron's output back to its input (a cycle; NIR
                       sums the inputs of a node; the cycle delays by one step: ``V S[t-1]``)
``W x + b``            ``Affine`` (FC) or ``Conv2d``; pooling ``AvgPool2d``; ``Flatten``
readout mem_*          a neuron that never fires, ``LIF(tau, r, v_leak = 0, v_threshold = +inf)``
                       with the readout beta (``IF(r = 1 / dt, v_threshold = +inf)`` when it does
                       not leak): NIR's ``LI`` with the membrane as its state. The prediction
                       reads that membrane (metadata ``readout_state``: decoding ``U_L[T]/T``,
                       mean or max stays outside the graph); the graph's output carries its
                       (zero) spikes. snnTorch's importer has no ``LI`` node, so this is the
                       form it loads: a ``snn.Leaky(threshold=inf)`` whose ``mem`` is ``U_L``
readout spike_count    ``LIF`` / ``IF`` as the hidden neurons (spike counting stays outside)
=====================  ========================================================================

Time unit: ``dt = 1e-4`` (one network step = 0.1 ms of graph time), the step snnTorch's importer
(``snntorch.import_nir``, which hard-codes it) assumes, so that a graph written here loads there
with the same ``beta``: :func:`to_snntorch` (tested by a round trip through snnTorch). What snnTorch
1.0's importer cannot load right: ``IF`` nodes (no leak: it requires ``r = 1`` and builds a
``Leaky`` with ``beta = 0.9``), so the no-leak variants load only in NIR simulators that follow
NIR's ``IF``; :func:`to_snntorch` refuses them with that reason.

Why not snnTorch's exporter (``snntorch.export_nir``): it traces ``snn.Leaky`` modules called
one step at a time, while our network scans time inside its layers; and it exports
``reset_mechanism="none"`` silently as a reset to zero and ``beta = 1`` (IF) as a LIF with
``tau = dt / 0``. Here every mapping is explicit.

What NIR cannot express, refused with a :class:`UserError` that says why:

* reset ``subtract`` and reset ``none``: NIR's ``LIF`` / ``IF`` always set ``v`` to ``v_reset``
  after a spike (no subtractive reset, no "no reset").
* linear leak: NIR's leaks are exponential (``LIF``) or absent (``IF``); no constant leak current.
* max pooling, batch normalisation and dropout at training time are not part of this exporter
  (dropout is the identity at evaluation and is left out).

Our reset is "delayed" (``U[t] = beta (1 - S[t-1]) U[t-1] + I[t]``): the membrane that crossed
threshold is cleared before the next step's leak and input, which is the same sequence of spikes
as NIR's immediate reset to ``v_reset = 0`` followed by the next Euler step.

:func:`simulate` runs a NIR graph with forward Euler in discrete time (the reference simulator of
the round-trip tests): ``simulate(graph, x [T, B, ...]) -> {node name: output [T, B, ...]}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..network import SpikingNetwork, TimeDropout
from ..neurons import NeuronSpec, RecurrentNeuron

__all__ = ["DT", "check_exportable", "to_nir", "write", "export_run", "simulate", "require_nir", "to_snntorch"]

DT = 1e-4  # one network time step in graph time: snnTorch's importer assumes this dt (NIR leaves dt to the simulator)


def require_nir():
    try:
        import nir
    except ImportError as error:
        raise UserError(f"NIR export needs the nir package ({error}); install it with `pip install -e \".[nir]\"`") \
            from None
    return nir


def check_exportable(spec: NeuronSpec) -> None:
    """Raise a UserError when NIR cannot express the neuron of ``spec``; say why and what NIR lacks."""
    name = spec.variant or "this variant"
    if spec.leak == "linear":
        raise UserError(
            f"variant {name!r} has a linear leak (U moves toward rest by lam per step), which NIR cannot express: "
            "NIR's neurons leak exponentially (LIF) or not at all (IF) and have no constant leak current. "
            "Exportable variants: vanilla, no_leak, complete_leak, recurrent, no_leak_recurrent")
    if spec.reset != "zero":
        raise UserError(
            f"variant {name!r} uses reset {spec.reset!r}, which NIR cannot express: NIR's LIF and IF always set "
            "the membrane to v_reset after a spike (no subtractive reset, no 'no reset'). Exportable variants: "
            "vanilla, no_leak, complete_leak, recurrent, no_leak_recurrent (all with reset zero)")


def _neuron_node(nir, spec: NeuronSpec | None, beta: float, shape: tuple[int, ...]):
    """LIF / IF of ``beta``; ``spec=None``: a neuron that never fires (threshold +inf), the readout."""
    ones = np.ones(shape, dtype=np.float32)
    threshold = (float(spec.threshold) if spec is not None else np.inf) * ones
    if beta >= 1.0:
        return nir.IF(r=ones / DT, v_threshold=threshold, v_reset=0 * ones)
    tau = DT / (1.0 - beta)
    return nir.LIF(tau=tau * ones, r=(tau / DT) * ones, v_leak=0 * ones, v_threshold=threshold, v_reset=0 * ones)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)


def _beta(neuron: nn.Module) -> float:
    cell = neuron.cell if isinstance(neuron, RecurrentNeuron) else neuron
    return float(cell.beta.detach().clamp(0, 1))


def to_nir(model: SpikingNetwork):
    """The NIR graph of ``model`` (eval mode). Raises UserError for what NIR cannot express."""
    nir = require_nir()
    if type(model) is not SpikingNetwork:  # a subclass (SpikingResNet) has residual paths
        raise UserError(f"NIR export covers networks built from layer strings (ablations.network); "
                        f"{type(model).__name__} (e.g. the residual model=resnet18) is not exported")
    check_exportable(model.spec)
    nodes: dict = {"input": nir.Input(input_type={"input": np.array(model.input_shape)})}
    edges: list[tuple[str, str]] = []
    previous = "input"
    shape = tuple(model.input_shape)

    def add_ops(prefix: str, ops) -> str:
        nonlocal previous, shape
        for index, op in enumerate(ops):
            name = f"{prefix}.op{index}"
            if isinstance(op, (TimeDropout, nn.Dropout)):
                continue
            if isinstance(op, nn.Linear):
                bias = _array(op.bias) if op.bias is not None else np.zeros(op.out_features, np.float32)
                nodes[name] = nir.Affine(weight=_array(op.weight), bias=bias)
                shape = (op.out_features,)
            elif isinstance(op, nn.Conv2d):
                bias = _array(op.bias) if op.bias is not None else np.zeros(op.out_channels, np.float32)
                nodes[name] = nir.Conv2d(input_shape=shape[1:], weight=_array(op.weight), stride=op.stride,
                                         padding=op.padding, dilation=op.dilation, groups=op.groups, bias=bias)
                with torch.no_grad():
                    shape = tuple(op(torch.zeros(1, *shape)).shape[1:])
            elif isinstance(op, nn.AvgPool2d):
                size = np.array([op.kernel_size] * 2 if isinstance(op.kernel_size, int) else op.kernel_size)
                stride = np.array([op.stride] * 2 if isinstance(op.stride, int) else op.stride)
                padding = np.array([op.padding] * 2 if isinstance(op.padding, int) else op.padding)
                nodes[name] = nir.AvgPool2d(kernel_size=size, stride=stride, padding=padding)
                shape = (shape[0], shape[1] // int(size[0]), shape[2] // int(size[1]))
            elif isinstance(op, nn.Flatten):
                nodes[name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
                shape = (int(np.prod(shape)),)
            else:
                raise UserError(f"layer op {type(op).__name__} ({prefix}) has no NIR export here; exportable "
                                "ops: Linear, Conv2d, average pooling, flatten, dropout (left out at evaluation). "
                                "Max pooling and batch norm are not exported")
            edges.append((previous, name))
            previous = name
        return previous

    for layer in model.layers:
        add_ops(layer.name, layer.ops)
        neuron_name = f"{layer.name}.neuron"
        nodes[neuron_name] = _neuron_node(nir, model.spec, _beta(layer.neuron), shape)
        edges.append((previous, neuron_name))
        if isinstance(layer.neuron, RecurrentNeuron):
            recurrent = f"{layer.name}.recurrent"
            nodes[recurrent] = nir.Linear(weight=_array(layer.neuron.recurrent.weight))
            edges += [(neuron_name, recurrent), (recurrent, neuron_name)]
        previous = neuron_name
    readout = model.readout
    add_ops("readout", readout.ops)
    if readout.kind == "spike_count":
        nodes["readout.neuron"] = _neuron_node(nir, model.spec, _beta(readout.spiking), shape)
    else:  # a leaky integrator: LIF / IF that never fires (snnTorch's importer has no LI / I node)
        nodes["readout.neuron"] = _neuron_node(nir, None, float(readout.beta), shape)
    edges.append((previous, "readout.neuron"))
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    edges.append(("readout.neuron", "output"))
    metadata = {"dt": DT, "readout": readout.kind, "layers": model.layer_string,
                "readout_state": "spikes of readout.neuron" if readout.kind == "spike_count" else
                "membrane of readout.neuron (v_threshold = inf: it never fires)",
                "variant": str(model.spec.variant), "time_major": True}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write(model: SpikingNetwork, path: str | Path) -> Path:
    """Export ``model`` and write the graph to ``path`` (NIR's HDF5 file)."""
    nir = require_nir()
    graph = to_nir(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    nir.write(temporary, graph)
    temporary.replace(path)  # atomic: a reader never sees half a graph
    return path


# --------------------------------------------------------------------------- reference simulator
def _apply(node, x: torch.Tensor) -> torch.Tensor:
    """A stateless NIR node on a batch ``[B, ...]``."""
    import nir

    if isinstance(node, nir.Affine):
        return x @ torch.as_tensor(node.weight).T + torch.as_tensor(node.bias)
    if isinstance(node, nir.Linear):
        return x @ torch.as_tensor(node.weight).T
    if isinstance(node, nir.Conv2d):
        padding = node.padding if isinstance(node.padding, str) else tuple(int(p) for p in np.atleast_1d(node.padding))
        return F.conv2d(x, torch.as_tensor(node.weight), torch.as_tensor(node.bias),
                        tuple(int(s) for s in np.atleast_1d(node.stride)), padding,
                        tuple(int(d) for d in np.atleast_1d(node.dilation)), int(node.groups))
    if isinstance(node, nir.AvgPool2d):
        return F.avg_pool2d(x, tuple(int(k) for k in node.kernel_size), tuple(int(s) for s in node.stride),
                            tuple(int(p) for p in node.padding))
    if isinstance(node, nir.Flatten):
        return x.flatten(int(node.start_dim) + 1, int(node.end_dim) if node.end_dim < 0 else int(node.end_dim) + 1)
    raise TypeError(f"the reference simulator has no rule for NIR node {type(node).__name__}")


def simulate(graph, x: torch.Tensor, dt: float | None = None) -> dict[str, torch.Tensor]:
    """Forward-Euler simulation of ``graph`` on ``x [T, B, ...]``: every node's output ``[T, B, ...]``.

    Every edge carries the source's output of the same step, except edges that close a cycle,
    which carry the previous step's (zero at t = 1). Neurons: ``LIF``/``IF`` update, fire when
    ``v > v_threshold`` and reset to ``v_reset``; ``LI`` integrates; their output is the spike
    (LIF, IF) or the membrane (LI). Every neuron's membrane ``v`` (before its reset) is returned
    too, under ``"<node>:v"`` (the readout's prediction reads it).
    """
    import nir

    dt = float(graph.metadata.get("dt", DT)) if dt is None else float(dt)
    order: list[str] = []
    seen: set[str] = set()
    incoming: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for source, target in graph.edges:
        incoming[target].append(source)

    def visit(name: str, stack: set[str]) -> None:  # depth-first topological order, cycles broken
        if name in seen or name in stack:
            return
        stack.add(name)
        for source in incoming[name]:
            visit(source, stack)
        stack.discard(name)
        seen.add(name)
        order.append(name)

    for name in graph.nodes:
        visit(name, set())
    position = {name: index for index, name in enumerate(order)}
    state: dict[str, torch.Tensor] = {}
    last: dict[str, torch.Tensor] = {}
    traces: dict[str, list[torch.Tensor]] = {name: [] for name in graph.nodes}
    x = x.to(torch.float32)
    for t in range(x.shape[0]):
        now: dict[str, torch.Tensor] = {}
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, nir.Input):
                out = x[t]
            else:
                total = None
                for source in incoming[name]:
                    value = now[source] if position[source] < position[name] else last.get(source)
                    if value is None:
                        continue  # a cycle at the first step: the previous output is zero
                    total = value if total is None else total + value
                if isinstance(node, nir.Output):
                    out = total
                elif isinstance(node, (nir.LIF, nir.IF, nir.LI, nir.I)):
                    v = state.get(name, torch.zeros_like(total))
                    r = torch.as_tensor(node.r)
                    if isinstance(node, (nir.IF, nir.I)):
                        v = v + dt * r * total
                    else:
                        tau, v_leak = torch.as_tensor(node.tau), torch.as_tensor(node.v_leak)
                        v = v + dt / tau * (v_leak - v + r * total)
                    traces.setdefault(f"{name}:v", []).append(v)
                    if isinstance(node, (nir.LI, nir.I)):
                        out = v
                    else:
                        out = (v > torch.as_tensor(node.v_threshold)).to(v.dtype)
                        reset = torch.as_tensor(node.v_reset) if node.v_reset is not None else torch.zeros(())
                        v = torch.where(out > 0, reset.expand_as(v), v)
                    state[name] = v
                elif total is None:
                    out = None  # only fed through a cycle, at the first step: nothing to pass on yet
                else:
                    out = _apply(node, total)
            now[name] = out
            if out is not None:
                traces[name].append(out)
        last = now
    return {name: torch.stack(values) for name, values in traces.items() if len(values) == x.shape[0]}


def to_snntorch(graph):
    """The graph as an snnTorch network (``snntorch.import_nir``): ``snn.Leaky(init_hidden=True,
    reset_delay=False, reset zero)`` per LIF node; call it once per step after
    ``snntorch.utils.reset``. The membrane readout is the never-firing ``Leaky`` of node
    ``readout.neuron`` (its ``mem``). Refuses what snnTorch's importer loads wrongly (IF nodes), and
    corrects its ``Flatten`` (NIR's ``start_dim = 0`` is the first non-batch dimension)."""
    import nir

    from_if = [name for name, node in graph.nodes.items() if isinstance(node, nir.IF)]
    if from_if:
        raise UserError(f"nodes {from_if} are NIR IF neurons (no leak), which snnTorch 1.0's import_nir loads as "
                        "Leaky(beta=0.9) and only with r = 1; load this graph with another NIR simulator, or "
                        "export a variant with a leak")
    try:
        from snntorch.import_nir import import_from_nir
    except ImportError as error:
        raise UserError(f"loading a NIR graph in snnTorch needs nirtorch ({error}); install the nir extra") from None
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the importer prints its progress
        network = import_from_nir(graph)
    for module in network.modules():  # NIR's Flatten dims leave out the batch; the importer keeps them as given
        if isinstance(module, nn.Flatten) and module.start_dim == 0:
            module.start_dim = 1
    return network



def export_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Export a finished run's trained network to ``out`` (default ``<run>/export/model.nir``)."""
    from .. import results

    require_nir()
    run_dir = Path(run_dir)
    model, _ = results.load_model(run_dir)
    out = Path(out) if out is not None else run_dir / "export" / "model.nir"
    return write(model, out)
