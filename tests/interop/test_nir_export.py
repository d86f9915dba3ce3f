"""NIR export: round trip per exportable variant (export, write, read, simulate: same spikes), and
clear refusals for what NIR cannot express."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

nir = pytest.importorskip("nir")

from ablations import network  # noqa: E402
from ablations.interop import nir as nir_export  # noqa: E402
from ablations.errors import UserError  # noqa: E402
from ablations.run import run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXPORTABLE = ["vanilla", "no_leak", "complete_leak", "recurrent", "no_leak_recurrent"]


def _net(variant, layers="64-32FC-10", **kwargs):
    torch.manual_seed(0)
    net = network.build(layers, variant=variant, **kwargs).eval()
    with torch.no_grad():  # stronger weights: many spikes, resets and silent steps in 12 steps
        for parameter in net.parameters():
            parameter.mul_(3.0)
    return net


def _round_trip(net, tmp_path):
    path = nir_export.write(net, tmp_path / "net.nir")
    graph = nir.read(path)
    x = (torch.rand(12, 5, *net.input_shape, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    net.probes = True
    net(x)
    records = net.records
    simulated = nir_export.simulate(graph, x)
    return graph, records, simulated


@pytest.mark.parametrize("variant", EXPORTABLE)
def test_round_trip_gives_the_same_spikes(variant, tmp_path):
    net = _net(variant)
    graph, records, simulated = _round_trip(net, tmp_path)
    spikes = records["layer1"]["spikes"]
    assert 0 < spikes.mean() < 1  # the comparison covers both spikes and silence
    assert torch.equal(simulated["layer1.neuron"].reshape(spikes.shape), spikes)
    torch.testing.assert_close(simulated["readout.neuron:v"], records["readout"]["membrane"], rtol=1e-5, atol=1e-5)
    neuron = graph.nodes["layer1.neuron"]
    assert isinstance(neuron, nir.IF if variant.startswith("no_leak") else nir.LIF)
    assert ("layer1.recurrent" in graph.nodes) == variant.endswith("recurrent")


@pytest.mark.parametrize("variant", ["vanilla", "no_leak"])
def test_conv_network_with_a_spiking_readout_round_trips(variant, tmp_path):
    net = _net(variant, "4C3-2P-16FC-10", input_shape=(1, 8, 8), readout="spike_count")
    graph, records, simulated = _round_trip(net, tmp_path)
    for layer in ("layer1", "layer2"):
        spikes = records[layer]["spikes"]
        assert torch.equal(simulated[f"{layer}.neuron"].reshape(spikes.shape), spikes), layer
    readout = (records["readout"]["membrane"] > 1.0).float()
    assert torch.equal(simulated["readout.neuron"], readout)
    kinds = [type(graph.nodes[name]) for name in ("layer1.op0", "layer2.op0", "layer2.op1", "layer2.op2")]
    assert kinds == [nir.Conv2d, nir.AvgPool2d, nir.Flatten, nir.Affine]


@pytest.mark.parametrize("variant, lacks", [("no_reset", "no 'no reset'"), ("linear_leak", "no constant leak"),
                                             ("no_leak_no_reset_recurrent", "no 'no reset'")])
def test_variants_nir_cannot_express_are_refused_with_the_reason(variant, lacks):
    net = network.build("64-32FC-10", variant=variant)
    with pytest.raises(UserError, match=lacks):
        nir_export.to_nir(net)


def test_subtractive_reset_is_refused():
    net = network.build("64-32FC-10", variant="vanilla", neuron={"reset": "subtract"})
    with pytest.raises(UserError, match="no subtractive reset"):
        nir_export.to_nir(net)


@pytest.mark.slow
def test_cli_exports_a_trained_run_and_refuses_no_reset(tmp_path):
    runs = tmp_path / "runs"
    good = run(["train.epochs=1", f"paths.runs={runs}", "progress=false", "dataset.steps=4"])
    bad = run(["variant=no_reset", "train.epochs=1", f"paths.runs={runs}", "progress=false", "dataset.steps=4"])
    command = [sys.executable, "-m", "ablations.export", "format=nir"]
    ok = subprocess.run(command + [f"run={good}"], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert isinstance(nir.read(good / "export" / "model.nir"), nir.NIRGraph)
    refused = subprocess.run(command + [f"run={bad}"], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "NIR cannot express" in refused.stderr and "reset 'none'" in refused.stderr


def test_residual_and_batch_norm_networks_are_refused():
    with pytest.raises(UserError, match="batch norm"):
        nir_export.to_nir(network.build("64-32FC-10", variant="vanilla", batch_norm=True))
    from ablations.config import build_model, compose

    model = build_model(compose(["model=resnet18", "dataset=cifar10"]), input_shape=(3, 32, 32))
    with pytest.raises(UserError, match="not exported"):
        nir_export.to_nir(model)


@pytest.mark.parametrize("variant, layers, shape", [("vanilla", "64-32FC-10", None),
                                                    ("complete_leak", "64-32FC-10", None),
                                                    ("vanilla", "4C3-2P-16FC-10", (1, 8, 8))])
def test_round_trip_through_snntorchs_own_importer(variant, layers, shape, tmp_path):
    """The written file loads in ``snntorch.import_nir``; run step by step there, it gives our hidden
    spikes and, in the never-firing readout neuron's ``mem``, our readout membrane ``U_L[t]``."""
    from snntorch import utils

    net = _net(variant, layers, **({"input_shape": shape} if shape else {}))
    path = nir_export.write(net, tmp_path / "net.nir")
    loaded = nir_export.to_snntorch(nir.read(path))
    x = (torch.rand(12, 5, *net.input_shape, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    net.probes = True
    net(x)
    records = net.records
    spikes, readout = {name: [] for name in records if name != "readout"}, []
    hooks = [getattr(loaded, f"{name}_neuron").register_forward_hook(
        lambda module, inputs, output, name=name: spikes[name].append(output[0] if isinstance(output, tuple) else output))
        for name in spikes]
    utils.reset(loaded)
    with torch.no_grad():
        for t in range(x.shape[0]):
            loaded(x[t])
            readout.append(loaded.readout_neuron.mem.clone())
    for hook in hooks:
        hook.remove()
    for name, steps in spikes.items():
        assert torch.equal(torch.stack(steps).reshape(records[name]["spikes"].shape), records[name]["spikes"]), name
    torch.testing.assert_close(torch.stack(readout), records["readout"]["membrane"], rtol=1e-5, atol=1e-5)


def test_snntorch_loading_refuses_if_neurons_with_the_reason(tmp_path):
    graph = nir.read(nir_export.write(_net("no_leak"), tmp_path / "net.nir"))
    with pytest.raises(UserError, match="IF neurons .* Leaky\\(beta=0.9\\)"):
        nir_export.to_snntorch(graph)
