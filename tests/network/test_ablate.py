"""ablations.ablate on snnTorch models written as snnTorch's tutorials write them (examples/snntorch_models.py).

Each tutorial model is ablated into every registered variant and its user's forward (untouched) is run;
its layers' spikes must equal, and its membranes match to 1e-5 (float32), those of the same layers
run by the package itself: the same stateless ops followed by ``neurons.build_neuron(spec)`` scanned by
``ablations.network.SpikingLayer`` (the fused scan where it applies)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import snntorch as snn
import torch
from torch import nn

from ablations import ablate, neurons
from ablations.ablate import AblatedLeaky, AblatedRLeaky, AblationError, ablated_neurons
from ablations.network import SpikingLayer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import snntorch_models as tutorial  # noqa: E402

T, B = 12, 4
MEMBRANE_TOLERANCE = 1e-5


def _events(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, 2, 12, 12, generator=generator) < 0.3).float()


def _stronger(model: nn.Module, seed: int = 1) -> nn.Module:
    """Weights drawn so that every layer spikes some, not all, of the time."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 2.5 / fan_in ** 0.5)
                module.bias.zero_()
    return model


def _reference(ablated: nn.Module, groups: list[tuple[list[nn.Module], str]], x: torch.Tensor) -> dict:
    """The same layers run by the package: ops folded over time, then the package's neuron scanned by its
    per-step definition (the user's loop is per step too; the fast paths are pinned to that definition by
    tests/neurons/test_components.py and tests/neurons/test_kernel.py, to float32 rounding, which may flip a spike)."""
    record: dict = {}
    adapters = ablated_neurons(ablated)
    for ops, path in groups:
        adapter = adapters[path]
        width = adapter.recurrent.in_features if adapter.recurrent is not None else None
        neuron = neurons.set_backend(neurons.build_neuron(adapter.spec, n_neurons=width), "step")
        if width is not None:
            neuron.recurrent = copy.deepcopy(adapter.recurrent)
        layer = SpikingLayer(path, ops, neuron)
        x = layer(x, record)
    return record


def _traced(ablated: nn.Module, run) -> dict:
    adapters = ablated_neurons(ablated)
    for adapter in adapters.values():
        adapter.trace = []
    with torch.no_grad():
        run()
    out = {path: {"spikes": torch.stack([s for _, s, _ in a.trace]), "membrane": torch.stack([m for _, _, m in a.trace])}
           for path, a in adapters.items()}
    for adapter in adapters.values():
        adapter.trace = None
    return out


def _compare(traced: dict, reference: dict) -> None:
    assert traced.keys() == reference.keys()
    for path in traced:
        spikes, membrane = traced[path]["spikes"], traced[path]["membrane"]
        expected_spikes = reference[path]["spikes"].reshape(spikes.shape)
        expected_membrane = reference[path]["membrane"].reshape(membrane.shape)
        assert torch.equal(spikes, expected_spikes), path
        assert torch.allclose(membrane, expected_membrane, atol=MEMBRANE_TOLERANCE, rtol=0), (
            path, float((membrane - expected_membrane).abs().max()))


def _fires_somewhat(traced: dict) -> None:
    rates = [float(record["spikes"].mean()) for record in traced.values()]
    assert any(0.0 < rate < 1.0 for rate in rates), rates


def _plain(name: str) -> bool:
    built = neurons.build_neuron(name, n_neurons=4)
    return getattr(getattr(built, "cell", built), "plain", True)


# the leak / reset / recurrence variants; those with further parts (alif, synaptic, ...) are refused for now
VARIANTS = [name for name in neurons.VARIANTS if _plain(name)]
COMPONENT_VARIANTS = [name for name in neurons.VARIANTS if not _plain(name)]
RECURRENT = [name for name in VARIANTS if neurons.VARIANTS[name].recurrent]


@pytest.mark.parametrize("variant", VARIANTS)
def test_fc_sequential_with_init_hidden(variant):
    model = _stronger(tutorial.fc_sequential())
    ablated = ablate(model, variant)
    assert isinstance(ablated[2], AblatedLeaky) and isinstance(model[2], snn.Leaky)
    assert not isinstance(model[2], AblatedLeaky)  # the user's model is left as it was
    x = _events()
    traced = _traced(ablated, lambda: tutorial.forward_pass(ablated, x))
    groups = [([ablated[0], ablated[1]], "2"), ([ablated[3]], "4")]
    _compare(traced, _reference(ablated, groups, x))
    _fires_somewhat(traced)
    spk, mem = tutorial.forward_pass(ablated, x)  # the tutorial's loop runs unchanged, twice: reset works
    assert torch.equal(spk, traced["4"]["spikes"]) and torch.equal(mem, traced["4"]["membrane"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_custom_module_with_explicit_membrane(variant):
    model = _stronger(tutorial.Net())
    ablated = ablate(model, variant)
    x = _events(3)
    traced = _traced(ablated, lambda: ablated(x))
    groups = [([nn.Flatten(), ablated.fc1], "lif1"), ([ablated.fc2], "lif2")]
    _compare(traced, _reference(ablated, groups, x))
    _fires_somewhat(traced)
    spk, mem = ablated(x)
    assert torch.equal(spk, traced["lif2"]["spikes"]) and torch.equal(mem, traced["lif2"]["membrane"])


@pytest.mark.parametrize("variant", [name for name in VARIANTS if name not in RECURRENT])
def test_conv_sequential(variant):
    model = _stronger(tutorial.conv_sequential())
    ablated = ablate(model, variant)
    x = _events(5)
    traced = _traced(ablated, lambda: tutorial.forward_pass(ablated, x))
    groups = [([ablated[0], ablated[1]], "2"), ([ablated[3], ablated[4]], "5"), ([ablated[6], ablated[7]], "8")]
    _compare(traced, _reference(ablated, groups, x))
    _fires_somewhat(traced)


@pytest.mark.parametrize("variant", RECURRENT)
def test_conv_sequential_refuses_recurrent_variants_by_path(variant):
    with pytest.raises(AblationError, match=r"^2 \(Leaky\) sits after a convolution \(Conv2d\).*fully connected layers only"):
        ablate(tutorial.conv_sequential(), variant)


def test_kept_settings_and_options():
    model = nn.Sequential(nn.Linear(3, 5), snn.Leaky(beta=torch.linspace(0.2, 0.8, 5), threshold=0.7, learn_beta=True,
                                                      learn_threshold=True, spike_grad=snn.surrogate.fast_sigmoid(10)))
    ablated = ablate(model, "vanilla")
    neuron = ablated[1]
    assert torch.allclose(neuron.beta, torch.linspace(0.2, 0.8, 5))
    assert isinstance(neuron.beta, nn.Parameter) and isinstance(neuron.threshold, nn.Parameter)
    assert float(neuron.threshold.detach()) == pytest.approx(0.7)
    assert neuron.spec.surrogate == "fast_sigmoid" and neuron.spec.surrogate_params["slope"] == 10
    assert neuron.spec.reset == "subtract"  # the user's kind of reset (snnTorch's default) where the variant resets
    assert ablate(model, "no_reset")[1].spec.reset == "none"
    assert ablate(model, "vanilla", reset="zero")[1].spec.reset == "zero"
    no_leak = ablate(model, "no_leak")[1]
    assert float(no_leak.beta) == 1.0 and not isinstance(no_leak.beta, nn.Parameter)  # a learnt beta would undo it
    options = ablate(model, "vanilla", tau=20.0, reset="subtract", threshold=1.5)[1]
    assert options.spec.tau == 20.0 and options.spec.reset == "subtract" and float(options.threshold) == 1.5
    again = ablate(ablate(model, "no_leak"), "vanilla")[1]  # re-ablation starts from the user's neuron
    assert torch.allclose(again.beta, torch.linspace(0.2, 0.8, 5))


def test_surrogate_parameters_alone_change_the_surrogates_that_have_them():
    model = nn.Sequential(nn.Linear(3, 5), snn.Leaky(beta=0.9, spike_grad=snn.surrogate.fast_sigmoid(slope=25)),
                          nn.Linear(5, 2), snn.Leaky(beta=0.8))
    ablated = ablate(model, "vanilla", surrogate_params={"slope": 5.0})
    assert repr(ablated[1].spike_grad) == "fast_sigmoid(slope=5.0)" and repr(ablated[3].spike_grad) == "atan(alpha=2.0)"
    assert ablated[1].provenance()["surrogate"]["from"] == "model, parameters overridden"
    assert ablated[3].provenance()["surrogate"]["from"] == "model"
    with pytest.raises(AblationError, match=r"surrogate_params \['width'\]: no neuron of the model has"):
        ablate(model, "vanilla", surrogate_params={"width": 1.0})


def test_rleaky_keeps_its_call_and_weights():
    rlif = snn.RLeaky(beta=0.8, linear_features=6)
    model = nn.ModuleDict({"fc": nn.Linear(4, 6), "rlif": rlif})
    ablated = ablate(model, "recurrent")
    neuron = ablated["rlif"]
    assert isinstance(neuron, AblatedRLeaky) and isinstance(neuron, snn.RLeaky)
    assert torch.equal(neuron.recurrent.weight, rlif.recurrent.weight)
    spk, mem = neuron.init_rleaky()
    x = torch.randn(7, 2, 4) * 3
    outs = []
    for step in range(7):
        spk, mem = neuron(ablated["fc"](x[step]), spk, mem)
        outs.append(spk)
    # by hand, with the user's (snnTorch's default) subtractive reset:
    # U[t] = beta U[t-1] + I[t] + V S[t-1] + b_V - theta S[t-1], S = H(U - 1)
    assert neuron.spec.reset == "subtract"
    u, s = torch.zeros(2, 6), torch.zeros(2, 6)
    with torch.no_grad():
        for step in range(7):
            u = 0.8 * u + ablated["fc"](x[step]) + rlif.recurrent(s) - 1.0 * s
            s = (u > 1.0).float()
            assert torch.equal(outs[step], s)
    plain = ablate(model, "vanilla")["rlif"]
    assert plain.recurrent is None  # the recurrence is what this variant ablates


@pytest.mark.parametrize("neuron, message", [
    (snn.RSynaptic(alpha=0.9, beta=0.8, linear_features=5), r"^1 \(snn.RSynaptic\) cannot be ablated"),
    (snn.Leaky(beta=0.9, reset_delay=False), r"^1 \(snn.Leaky\) cannot be ablated: reset_delay=False"),
    (snn.Leaky(beta=0.9, spike_grad=snn.surrogate.sigmoid()), r"^1 \(snn.Leaky\): its spike_grad .* surrogate=NAME"),
])
def test_refusals_name_the_module(neuron, message):
    with pytest.raises(AblationError, match=message):
        ablate(nn.Sequential(nn.Linear(5, 5), neuron), "vanilla")


def test_unknown_surrogate_accepted_with_option():
    model = nn.Sequential(nn.Linear(5, 5), snn.Leaky(beta=0.9, spike_grad=snn.surrogate.sigmoid()))
    assert ablate(model, "vanilla", surrogate="rectangular")[1].spec.surrogate == "rectangular"


def test_bad_calls():
    with pytest.raises(ValueError, match="unknown variant 'leaky'"):
        ablate(tutorial.Net(), "leaky")
    with pytest.raises(AblationError, match="has no snn.Leaky or snn.RLeaky"):
        ablate(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="mem` should not be passed"):
        ablate(tutorial.fc_sequential())[2](torch.zeros(1, 64), torch.zeros(1, 64))


def test_gradients_flow_through_the_users_forward():
    ablated = ablate(_stronger(tutorial.Net()), "recurrent")
    spk, mem = ablated(_events())
    mem.sum().backward()
    assert ablated.fc1.weight.grad is not None and ablated.lif1.recurrent.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("variant", COMPONENT_VARIANTS)
def test_variants_with_state_beyond_the_membrane_are_refused_by_path(variant):
    with pytest.raises(AblationError, match=r"^lif1 \(snn.Leaky\): variant .* whose state snnTorch.s Leaky call does not carry"):
        ablate(tutorial.Net(), variant)


class _SynapticNet(nn.Module):
    """snnTorch tutorial 5's neuron in an explicit loop: ``spk, syn, mem = lif(cur, syn, mem)``."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 8)
        self.lif1 = snn.Synaptic(alpha=0.8, beta=0.7, spike_grad=snn.surrogate.atan(), reset_mechanism="subtract")

    def forward(self, x):
        syn, mem = self.lif1.init_synaptic()
        spikes = []
        for t in range(x.shape[0]):
            spk, syn, mem = self.lif1(self.fc1(x[t]), syn, mem)
            spikes.append(spk)
        return torch.stack(spikes)


@pytest.mark.parametrize("variant", ["vanilla", "no_leak", "complete_leak", "no_reset", "recurrent"])
def test_synaptic_neurons_keep_their_synaptic_current(variant):
    model = _stronger(_SynapticNet())
    x = (torch.rand(T, B, 20, generator=torch.Generator().manual_seed(5)) < 0.3).float()
    ablated = ablate(model, variant)
    assert ablated.lif1.spec.synapse == "current" and float(ablated.lif1.alpha) == pytest.approx(0.8)
    traced = _traced(ablated, lambda: ablated(x))
    _compare(traced, _reference(ablated, [([ablated.fc1], "lif1")], x))
    _fires_somewhat(traced)


def test_synaptic_vanilla_with_its_own_reset_is_the_users_model():
    """The package's synaptic current equals snnTorch's Synaptic (reset subtract): the ablated vanilla
    model with the user's reset gives the user's own spikes."""
    model = _stronger(_SynapticNet())
    x = (torch.rand(T, B, 20, generator=torch.Generator().manual_seed(6)) < 0.3).float()
    with torch.no_grad():
        assert torch.equal(ablate(model, "vanilla", reset="subtract")(x), model(x))
    with pytest.raises(AblationError, match="adaptation=alif"):
        ablate(model, "alif")
