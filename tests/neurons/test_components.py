"""Neuron components: ALIF and the synaptic current against their equations and snnTorch's
``Synaptic``; the fused path (input scaling, a learned per-neuron sigmoid leak, the synaptic filter)
against the components' own step; DH-SNN's multi-Gaussian surrogate against its formula; a plugin
slot run through the per-step path; one source of truth for variants."""

from __future__ import annotations

import copy
import logging
import math

import pytest
import snntorch as snn
import torch
from torch import nn

from ablations import neurons
from ablations.config import compose, neuron_spec
from ablations.errors import UserError
from ablations.neurons import components

TOLERANCE = dict(rtol=1e-5, atol=1e-6)
SUM_TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def test_alif_follows_bellec_2020_by_hand():
    """A[t] = rho A[t-1] + S[t-1], S[t] = H(U[t] - theta - b A[t]), U[t] = beta U[t-1] + I[t] - theta S[t-1]."""
    neuron = neurons.build_neuron("alif", beta=0.5, adapt_tau=2.0, adapt_scale=0.5)
    current = torch.tensor([1.5, 1.5, 1.5, 1.5, 0.0, 1.5]).reshape(6, 1, 1)
    spikes, membrane = neuron(current)
    rho, mem, fired, trace = math.exp(-0.5), 0.0, 0.0, 0.0
    expected_spikes, expected_mem = [], []
    for value in current.flatten().tolist():
        mem = 0.5 * mem + value - 1.0 * fired
        trace = rho * trace + fired
        fired = float(mem > 1.0 + 0.5 * trace)
        expected_spikes.append(fired)
        expected_mem.append(mem)
    assert spikes.flatten().tolist() == expected_spikes
    torch.testing.assert_close(membrane.flatten(), torch.tensor(expected_mem))
    # the adaptation suppresses the spike a plain neuron would fire at the second step
    plain, _ = neurons.build_neuron("vanilla", beta=0.5, reset="subtract")(current)
    assert spikes.sum() < plain.sum()


def test_alif_gradient_flows_through_the_trace():
    neuron = neurons.build_neuron("alif", tau=5.0, adapt_tau=3.0, adapt_scale=0.4)
    x = (torch.rand(10, 4, 3) * 2).requires_grad_(True)
    spikes, _ = neuron(x)
    spikes.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_synaptic_equals_snntorch_synaptic(reset):
    """Spikes, synaptic current and membrane of snnTorch's Synaptic, step for step."""
    alpha, beta = 0.8, 0.7
    ours = neurons.build_neuron("synaptic", beta=beta, syn_alpha=alpha, reset=reset)
    theirs = snn.Synaptic(alpha=alpha, beta=beta, threshold=1.0, reset_mechanism=reset, reset_delay=True,
                          spike_grad=neurons.ATan())
    torch.manual_seed(0)
    current = torch.rand(12, 3, 4) * 0.8
    syn, mem = torch.zeros(3, 4), torch.zeros(3, 4)
    expected_spikes, expected_mem = [], []
    for t in range(current.shape[0]):
        spk, syn, mem = theirs(current[t], syn, mem)
        expected_spikes.append(spk)
        expected_mem.append(mem)
    for backend in ("step", "fused"):
        spikes, membrane = neurons.set_backend(ours, backend)(current)
        assert torch.equal(spikes, torch.stack(expected_spikes)), backend
        torch.testing.assert_close(membrane, torch.stack(expected_mem), **TOLERANCE)
    assert spikes.sum() > 0
    neurons.release_instances()


def test_synaptic_zero_reset_keeps_the_steps_input():
    """U[t] = beta (1 - S[t-1]) U[t-1] + Y[t], Y[t] = a Y[t-1] + I[t] (snnTorch's Synaptic also drops Y[t])."""
    neuron = neurons.build_neuron("synaptic", beta=0.5, syn_alpha=0.5)
    current = torch.tensor([0.8, 0.8, 0.0, 0.0]).reshape(4, 1, 1)
    spikes, membrane = neuron(current)
    syn, mem, fired, expected = 0.0, 0.0, 0.0, []
    for value in current.flatten().tolist():
        syn = 0.5 * syn + value
        mem = 0.5 * (1 - fired) * mem + syn
        fired = float(mem > 1.0)
        expected.append(mem)
    torch.testing.assert_close(membrane.flatten(), torch.tensor(expected))


def _grads(neuron, current):
    x = current.clone().requires_grad_(True)
    spikes, membrane = neurons.simulate(neuron, x)
    (spikes * torch.linspace(0.5, 1.5, current.shape[-1])).sum().add(membrane.pow(2).mean()).backward()
    cell = neuron.cell if hasattr(neuron, "cell") else neuron
    out = {"spikes": spikes.detach(), "membrane": membrane.detach(), "input": x.grad}
    for name, parameter in cell.named_parameters():
        out[name] = parameter.grad
    if hasattr(neuron, "recurrent"):
        out["recurrent"] = neuron.recurrent.weight.grad
    return out


FUSED_CASES = [
    ("vanilla", dict(input_scale="one_minus_beta", threshold=0.3)),
    ("recurrent", dict(input_scale="one_minus_beta", threshold=0.3)),
    ("no_leak", dict(input_scale="one_minus_beta")),
    ("complete_leak", dict(input_scale="one_minus_beta")),
    ("vanilla", dict(leak_shape="per_neuron", leak_init="uniform(0,4)", learn_beta=True,
                     input_scale="one_minus_beta", threshold=0.3, surrogate="multi_gaussian")),
    ("recurrent", dict(leak_shape="per_neuron", leak_init="uniform(0,4)", learn_beta=True,
                       input_scale="one_minus_beta", reset="subtract", threshold=0.3)),
    ("no_reset", dict(leak_shape="per_neuron", leak_init="normal(1,1)", learn_beta=True, reset="none")),
    ("vanilla", dict(leak_shape="per_neuron", learn_beta=True, tau=4.0)),
    ("synaptic", dict(syn_alpha=0.6)),
    ("synaptic", dict(syn_alpha=0.6, input_scale="one_minus_beta", reset="subtract", threshold=0.4)),
    ("alif", dict(adapt_tau=4.0, adapt_scale=0.3, threshold=0.5)),
    ("alif", dict(adapt_tau=4.0, adapt_scale=0.3, threshold=0.5, reset="zero", recurrent=True)),
    ("alif", dict(adapt_tau=4.0, adapt_scale=0.3, threshold=0.5, reset="none", leak_shape="per_neuron",
                  leak_init="uniform(0,4)", learn_beta=True, input_scale="one_minus_beta", recurrent=True)),
    ("alif", dict(adapt_tau=3.0, adapt_scale=0.2, threshold=0.5, leak="linear", lam=0.05)),
]


@pytest.mark.parametrize("variant,options", FUSED_CASES)
def test_fused_path_matches_the_component_step(variant, options):
    """Spikes exactly; membranes, input gradients and the gradients of p (beta = sigmoid(p)), beta and
    V within float32 rounding of the per-step definition with autograd."""
    torch.manual_seed(0)
    reference = neurons.set_backend(neurons.build_neuron(variant, n_neurons=5, **options), "step")
    fused = neurons.set_backend(copy.deepcopy(reference), "fused")
    torch.manual_seed(1)
    current = torch.randn(15, 3, 5) * 0.9 + 0.4
    expected, got = _grads(reference, current), _grads(fused, current)
    assert expected["spikes"].sum() > 0 and (expected["spikes"] == 0).any()
    assert torch.equal(expected["spikes"], got["spikes"])
    assert set(expected) == set(got)
    for key in expected:
        if key == "spikes":
            continue
        tolerance = TOLERANCE if key in ("membrane", "input") else SUM_TOLERANCE
        torch.testing.assert_close(got[key], expected[key], **tolerance, msg=lambda m: f"{key}: {m}")
    if options.get("leak_init"):
        assert expected["leak_logit"].abs().sum() > 0  # the learned leak gets a gradient


def test_input_scaling_is_a_form_knob_that_keeps_the_variant_name():
    for name in ("vanilla", "no_leak", "no_reset", "recurrent"):
        assert neurons.spec_for(name, input_scale="one_minus_beta").variant == name
    assert neurons.spec_for("vanilla", adaptation="alif", reset="subtract").variant == "alif"


def test_one_minus_beta_normalises_the_input():
    """U = beta U + (1 - beta) I: a constant input I settles at I, whatever the leak; IF keeps I."""
    for tau in (2.0, 20.0):
        neuron = neurons.build_neuron("no_reset", tau=tau, input_scale="one_minus_beta", threshold=10.0)
        _, membrane = neuron(torch.full((400, 1, 1), 0.7))
        assert membrane[-1].item() == pytest.approx(0.7, rel=1e-4)
    _, membrane = neurons.build_neuron("no_leak", input_scale="one_minus_beta", threshold=10.0)(torch.full((3, 1, 1), 0.7))
    torch.testing.assert_close(membrane.flatten(), torch.tensor([0.7, 1.4, 2.1]))


def test_learned_leak_initial_distribution_and_shape():
    torch.manual_seed(0)
    neuron = neurons.build_neuron("vanilla", n_neurons=2000, leak_shape="per_neuron", leak_init="uniform(0,4)",
                                  learn_beta=True)
    assert isinstance(neuron.leak_logit, nn.Parameter) and neuron.leak_logit.shape == (2000,)
    assert 0.0 <= neuron.leak_logit.min() and neuron.leak_logit.max() <= 4.0
    assert neuron.leak_logit.mean().item() == pytest.approx(2.0, abs=0.1)
    beta = neuron.decay()
    assert torch.all((beta > 0.5) & (beta < 0.99))
    with pytest.raises(ValueError, match="needs the layer width"):
        neurons.build_neuron("vanilla", leak_shape="per_neuron")
    with pytest.raises(ValueError, match="leak_init"):
        neurons.spec_for("vanilla", leak_init="gamma(1,2)")


def test_multi_gaussian_is_dhsnn_formula():
    """DH-SNN spike_neuron.py, ActFun_adp 'MG': gamma [(1+h) G(0, lens) - h G(lens, s lens) - h G(-lens, s lens)]."""
    def gaussian(x, mu, sigma):
        return torch.exp(-((x - mu) ** 2) / (2 * sigma ** 2)) / torch.sqrt(2 * torch.tensor(math.pi)) / sigma

    z = torch.linspace(-4, 4, 801, dtype=torch.float64)
    lens, scale, hight, gamma = 0.5, 6.0, 0.15, 0.5
    expected = (gaussian(z, 0.0, lens) * (1 + hight) - gaussian(z, lens, scale * lens) * hight
                - gaussian(z, -lens, scale * lens) * hight) * gamma
    surrogate = neurons.make_surrogate("multi_gaussian")
    torch.testing.assert_close(surrogate.derivative(z), expected)
    probe = z.clone().requires_grad_(True)
    spikes = surrogate(probe)
    assert torch.equal(spikes, (z > 0).to(z.dtype))
    spikes.sum().backward()
    torch.testing.assert_close(probe.grad, expected)


@pytest.mark.parametrize("options,message", [
    (dict(variant="vanilla", adapt_tau=50.0), "would change nothing: it is read by adaptation=alif"),
    (dict(variant="vanilla", syn_alpha=0.5), "would change nothing: it is read by synapse=current"),
    (dict(variant="no_leak", leak_init="uniform(0,4)"), "would change nothing"),
    (dict(variant="linear_leak", input_scale="one_minus_beta"), "linear leak does not have"),
    (dict(variant="vanilla", adaptation="sfa"), "is not one of"),
    (dict(variant="synaptic", syn_alpha=1.5), "syn_alpha=1.5 must lie in"),
    (dict(variant="vanilla", leak_init="uniform(0,4)", tau=30.0), "tau=30.0 would change nothing"),
])
def test_component_options_are_used_or_refused(options, message):
    node = {"variant": options.pop("variant"), **options}
    with pytest.raises(ValueError, match=message):
        neurons.spec_from_config(node)


def test_every_variant_is_one_registration_and_its_yaml_only_names_it(tmp_path):
    for name, preset in neurons.VARIANTS.items():
        spec = neuron_spec(compose([f"variant={name}"]))
        assert neurons.physics(spec) == neurons.physics(preset) and spec.variant == name
    conf = tmp_path / "conf" / "variant"
    conf.mkdir(parents=True)
    (conf / "no_reset.yaml").write_text("# @package neuron\nvariant: no_reset\nreset: subtract\n")
    with pytest.raises(UserError, match="sets reset: subtract .registered: none."):
        neuron_spec(compose(["variant=no_reset"]), search_path=[tmp_path / "conf"])


class Refractory(components.Component):
    """A plugin part: for ``refractory_steps`` steps after a spike the neuron ignores its input."""

    slot, name = "refractory", "steps"
    keys = ("refractory_steps",)

    def build(self, cell, spec, n_neurons):
        cell.register_buffer("refractory_steps", torch.as_tensor(float(spec.option("refractory_steps", 2))))

    def init_state(self, cell, like):
        return {"refractory": torch.zeros_like(like)}

    def current(self, cell, current, state, fired, recurrent):
        state["refractory"] = torch.where(fired > 0, cell.refractory_steps, (state["refractory"] - 1).clamp(min=0))
        return current * (state["refractory"] == 0)


@pytest.fixture
def refractory_slot():
    neurons.register_slot("refractory", key="refractory", default="none")
    neurons.register_component(type("NoRefractory", (components.Component,), {"slot": "refractory", "name": "none",
                                                                              "fused": True})())
    neurons.register_component(Refractory())
    yield
    for key in ("refractory-none", "refractory-steps"):
        neurons.COMPONENTS.remove(key)
    neurons.SLOTS.remove("refractory")


def test_a_plugin_slot_runs_through_the_per_step_path(refractory_slot, caplog):
    spec = neurons.spec_from_config({"variant": "no_leak", "refractory": "steps", "refractory_steps": 2})
    assert spec.extra == {"refractory": "steps"} and spec.variant == "none_zero_refractory_steps"
    neuron = neurons.build_neuron(spec)
    with caplog.at_level(logging.INFO, logger="ablations.neurons"):
        spikes, _ = neuron(torch.full((8, 1, 1), 0.6))
        neuron(torch.full((8, 1, 1), 0.6))
    # IF with input 0.6: fires at step 2, deaf for 2 steps, integrates again from 0
    assert spikes.flatten().tolist() == [0, 1, 0, 0, 0, 1, 0, 0]
    assert sum("per-step path" in record.message for record in caplog.records) == 1
    plain, _ = neurons.build_neuron("no_leak")(torch.full((8, 1, 1), 0.6))
    assert plain.sum() > spikes.sum()


@pytest.mark.parametrize("variant,reset,input_scale", [
    ("vanilla", "subtract", "one_minus_beta"), ("no_reset", "none", "one_minus_beta"),
    ("no_leak", "subtract", "one_minus_beta"), ("linear_leak", "subtract", "none"),
])
def test_preset_resolvers_apply_a_form_to_the_variants_that_have_the_part(variant, reset, input_scale):
    """A preset states DH-SNN's soft reset and (1 - beta) input once; no_reset keeps no reset and a
    linear leak, which has no beta, keeps its input."""
    spec = neuron_spec(compose([f"variant={variant}", "neuron.reset=${resetting_only:subtract}",
                                "neuron.input_scale=${beta_leak_only:one_minus_beta}"]))
    assert (spec.reset, spec.input_scale) == (reset, input_scale)


def test_paired_seeds_draw_the_same_learned_leak_for_every_variant():
    """train.rng=paired redraws a leak_init leak from (seed, module name), like the weights."""
    from ablations import network, streams

    options = dict(leak_shape="per_neuron", leak_init="uniform(0,4)", learn_beta=True)
    nets = []
    for variant in ("vanilla", "no_reset"):
        torch.manual_seed(len(nets))  # the build itself draws differently
        net = network.build_network("64-32FC-10", variant=variant, neuron=options)
        nets.append(streams.pair_parameters(net, seed=3))
    first, second = (dict(net.named_parameters()) for net in nets)
    assert torch.equal(first["layers.0.neuron.leak_logit"], second["layers.0.neuron.leak_logit"])
    assert torch.equal(first["layers.0.ops.0.weight"], second["layers.0.ops.0.weight"])
    again = streams.pair_parameters(network.build_network("64-32FC-10", variant="vanilla", neuron=options), seed=4)
    assert not torch.equal(dict(again.named_parameters())["layers.0.neuron.leak_logit"], first["layers.0.neuron.leak_logit"])
