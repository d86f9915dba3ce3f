"""Each variant's discrete update against sequences computed by hand (see ablations/neurons/components.py)."""

import math
import pickle

import pytest
import snntorch as snn
import torch

from ablations import neurons
from ablations.neurons import NeuronSpec
from ablations.neurons import torch_scan as scan


def drive(neuron, values):
    current = torch.tensor(values, dtype=torch.float32).view(-1, 1, 1)
    spikes, membrane = neurons.simulate(neuron, current)
    return spikes.flatten().tolist(), [round(v, 6) for v in membrane.flatten().tolist()]


# Input 0.6, 0.6, 0.6, 0, 1.5 with threshold 1 and beta 0.5.
# zero:     U = .6, .3+.6=.9, .45+.6=1.05 (spike), .5*(1-1)*1.05+0 = 0, 1.5 (spike)
# subtract: U = .6, .9, 1.05 (spike), .525+0-1 = -.475, -.2375+1.5 = 1.2625 (spike)
# none:     U = .6, .9, 1.05 (spike), .525, 1.7625 (spike)
@pytest.mark.parametrize("reset, expected_mem, expected_spk", [
    ("zero", [0.6, 0.9, 1.05, 0.0, 1.5], [0, 0, 1, 0, 1]),
    ("subtract", [0.6, 0.9, 1.05, -0.475, 1.2625], [0, 0, 1, 0, 1]),
    ("none", [0.6, 0.9, 1.05, 0.525, 1.7625], [0, 0, 1, 0, 1]),
])
def test_exponential_leak_resets(reset, expected_mem, expected_spk):
    spk, mem = drive(neurons.build("vanilla", beta=0.5, reset=reset), [0.6, 0.6, 0.6, 0.0, 1.5])
    assert mem == pytest.approx(expected_mem)
    assert spk == expected_spk


def test_vanilla_beta_from_tau():
    lif = neurons.build("vanilla", tau=4.0)
    beta = math.exp(-1 / 4)
    spk, mem = drive(lif, [0.5, 0.5, 0.0])
    assert mem == pytest.approx([0.5, 0.5 * beta + 0.5, (0.5 * beta + 0.5) * beta], abs=1e-6)
    assert spk == [0, 0, 0]


def test_no_leak_integrates_and_resets_to_zero():
    # IF: U = .4, .8, 1.2 (spike), 0 + .4 = .4 (reset wiped 1.2), .8
    spk, mem = drive(neurons.build("no_leak"), [0.4] * 5)
    assert mem == pytest.approx([0.4, 0.8, 1.2, 0.4, 0.8])
    assert spk == [0, 0, 1, 0, 0]


def test_tau_inf_is_integrate_and_fire():
    assert neurons.spec_for("vanilla", tau=math.inf).beta_value == 1.0
    a = drive(neurons.build("vanilla", tau=math.inf), [0.4, 0.3, 0.5, 0.9])
    b = drive(neurons.build("no_leak"), [0.4, 0.3, 0.5, 0.9])
    assert a == b


def test_complete_leak_holds_one_step():
    spk, mem = drive(neurons.build("complete_leak"), [0.7, 0.7, 1.2, 0.3])
    assert mem == pytest.approx([0.7, 0.7, 1.2, 0.3])
    assert spk == [0, 0, 1, 0]


def test_no_reset_keeps_membrane_above_threshold():
    # beta .5: U = 1.2 (spike), .6+1.2 = 1.8 (spike), .9 + 0 = .9, .45
    spk, mem = drive(neurons.build("no_reset", beta=0.5), [1.2, 1.2, 0.0, 0.0])
    assert mem == pytest.approx([1.2, 1.8, 0.9, 0.45])
    assert spk == [1, 1, 0, 0]


@pytest.mark.parametrize("reset, expected_mem, expected_spk", [
    # L(u) = sign(u) max(|u| - .1, 0); input .6, .9, .6, 0, 1.5
    # zero:     .6, L(.6)+.9 = 1.4 (spike), L(0)+.6 = .6, L(.6) = .5, L(.5)+1.5 = 1.9 (spike)
    ("zero", [0.6, 1.4, 0.6, 0.5, 1.9], [0, 1, 0, 0, 1]),
    # subtract: .6, 1.4 (spike), L(1.4)+.6-1 = .9, L(.9) = .8, L(.8)+1.5 = 2.2 (spike)
    ("subtract", [0.6, 1.4, 0.9, 0.8, 2.2], [0, 1, 0, 0, 1]),
    # none:     .6, 1.4 (spike), L(1.4)+.6 = 1.9, L(1.9) = 1.8, L(1.8)+1.5 = 3.2 (all spike)
    ("none", [0.6, 1.4, 1.9, 1.8, 3.2], [0, 1, 1, 1, 1]),
])
def test_linear_leak(reset, expected_mem, expected_spk):
    neuron = neurons.build("linear_leak", lam=0.1, reset=reset)
    assert isinstance(neuron, neurons.LinearLeaky)
    spk, mem = drive(neuron, [0.6, 0.9, 0.6, 0.0, 1.5])
    assert mem == pytest.approx(expected_mem)
    assert spk == expected_spk


def test_linear_leak_stops_at_rest_from_both_sides():
    # -0.25 decays to -0.15, -0.05, 0, 0 (never crosses rest)
    spk, mem = drive(neurons.build("linear_leak", lam=0.1), [-0.25, 0.0, 0.0, 0.0])
    assert mem == pytest.approx([-0.25, -0.15, -0.05, 0.0])


def test_recurrent_matches_seed001_eq4():
    """U[t] = beta (1 - S[t-1]) U[t-1] + W x[t] + V S[t-1] with V bias-free and all-to-all."""
    rec = neurons.build("recurrent", n_neurons=2, beta=0.5)
    assert rec.recurrent.bias is None
    with torch.no_grad():
        rec.recurrent.weight.copy_(torch.tensor([[0.0, 0.3], [0.2, -0.4]]))
    current = torch.tensor([[1.5, 0.0], [0.0, 1.2], [0.0, 0.0], [0.5, 0.5]]).view(4, 1, 2)
    spikes, mem = neurons.simulate(rec, current)
    # t1: U = (1.5, 0) -> S = (1, 0)
    # t2: U0 = .5*(1-1)*1.5 + 0 + (0*1 + .3*0) = 0 ; U1 = .5*0 + 1.2 + (.2*1 - .4*0) = 1.4 -> S = (0, 1)
    # t3: U0 = .5*0 + 0 + .3*1 = .3 ; U1 = .5*(1-1)*1.4 + 0 + (-.4) = -.4 -> S = (0, 0)
    # t4: U0 = .15 + .5 + 0 = .65 ; U1 = -.2 + .5 + 0 = .3
    expected = [[1.5, 0.0], [0.0, 1.4], [0.3, -0.4], [0.65, 0.3]]
    assert mem.flatten().tolist() == pytest.approx(sum(expected, []), abs=1e-6)
    assert spikes.view(4, 2).tolist() == [[1, 0], [0, 1], [0, 0], [0, 0]]


def test_recurrent_combinations():
    a = neurons.build("no_leak_recurrent", n_neurons=3)
    b = neurons.build("no_leak_no_reset_recurrent", n_neurons=3)
    assert a.spec.beta_value == 1.0 and a.spec.reset == "zero" and a.spec.recurrent
    assert b.spec.beta_value == 1.0 and b.spec.reset == "none" and b.spec.recurrent
    with pytest.raises(ValueError, match="layer width"):
        neurons.build("recurrent")


def test_state_starts_fresh_every_sequence():
    lif = neurons.build("no_leak")
    first = drive(lif, [0.6, 0.3])
    second = drive(lif, [0.6, 0.3])
    assert first == second


@pytest.mark.parametrize("kwargs, message", [
    ({"tau": -1.0}, "must be > 0"),
    ({"tau": 0.0}, "must be > 0"),
    ({"beta": 1.5}, r"\[0, 1\]"),
    ({"tau": 10.0, "beta": 0.5}, "both given"),
    ({"reset": "soft"}, "not one of"),
    ({"threshold": 0.0}, "threshold"),
    ({"surrogate": "tanh"}, "unknown surrogate"),
    ({"surrogate": "rectangular", "surrogate_params": {"width": -1}}, "width=-1.0 must be > 0"),
])
def test_invalid_specs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        neurons.spec_for("vanilla", **kwargs)


def test_tau_on_a_leak_free_variant_is_rejected():
    with pytest.raises(ValueError, match="only apply to leak='exponential'"):
        neurons.spec_for("no_leak", tau=30.0)
    with pytest.raises(ValueError, match="unknown variant"):
        neurons.build("does_not_exist")


def test_surrogate_gradients():
    z = torch.tensor([-0.3, -0.1, 0.1, 0.3], requires_grad=True)
    neurons.make_surrogate("rectangular", width=0.5)(z).sum().backward()
    assert z.grad.tolist() == pytest.approx([0.0, 2.0, 2.0, 0.0])
    z.grad = None
    neurons.make_surrogate("straight_through", epsilon=0.25, threshold=1.0)(z).sum().backward()
    assert z.grad.tolist() == pytest.approx([0.0, 0.0, 0.8, 0.8])
    z.grad = None
    spikes = neurons.make_surrogate("fast_sigmoid", slope=10.0)(z)
    spikes.sum().backward()
    assert spikes.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert z.grad.tolist() == pytest.approx([1 / (1 + 3) ** 2, 1 / 4, 1 / 4, 1 / 16])


def test_gradient_flows_through_time():
    lif = neurons.build("vanilla", beta=0.9, surrogate="atan")
    current = torch.full((6, 2, 3), 0.4, requires_grad=True)
    spikes, _ = neurons.simulate(lif, current)
    spikes.sum().backward()
    assert current.grad.abs().sum() > 0
    assert current.grad[0].abs().sum() > 0  # the first step influences later spikes


def test_neurons_pickle_and_do_not_leak_instances():
    before = len(snn.SpikingNeuron.instances)
    built = [neurons.build(name, n_neurons=4) for name in neurons.VARIANTS]
    assert len(snn.SpikingNeuron.instances) == before
    for neuron in built:
        clone = pickle.loads(pickle.dumps(neuron))
        cell, clone_cell = (neuron.cell, clone.cell) if hasattr(neuron, "cell") else (neuron, clone)
        assert clone.spec == neuron.spec and clone_cell.spike_grad == cell.spike_grad
        assert clone.spec.make_surrogate() == neuron.spec.make_surrogate()
        assert clone.spec.make_surrogate() != neurons.make_surrogate("rectangular", width=0.25)
        assert isinstance(clone.cell if hasattr(clone, "cell") else clone, snn.Leaky)


def test_spec_resolution_fills_defaults():
    assert neurons.spec_for("vanilla").resolved().tau == neurons.DEFAULT_TAU
    assert neurons.spec_for("linear_leak").resolved().lam == neurons.DEFAULT_LAM
    assert neurons.spec_for("vanilla", beta=0.3).resolved().tau is None
    assert NeuronSpec(leak="complete").beta_value == 0.0


@pytest.mark.parametrize("variant", [name for name, spec in neurons.VARIANTS.items() if not scan.uncovered(spec)])
@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("reference_backend", ["snntorch", "step"])
def test_fused_backend_matches_the_definition(variant, reset, reference_backend):
    """Same spikes, membranes and gradients (w.r.t. input and recurrent weights) as snnTorch's step
    (where snnTorch has the neuron) and as the components' own step."""
    torch.manual_seed(0)
    reference = neurons.build(variant, n_neurons=6, reset=reset, surrogate="fast_sigmoid")
    if reference_backend == "snntorch" and not (reference.cell if hasattr(reference, "cell") else reference).plain:
        pytest.skip("snnTorch's Leaky has no such component")
    neurons.set_backend(reference, reference_backend)
    fused = neurons.set_backend(pickle.loads(pickle.dumps(reference)), "fused")
    current = torch.randn(12, 3, 6) * 0.8
    outputs = []
    for neuron in (reference, fused):
        x = current.clone().requires_grad_(True)
        spikes, membrane = neurons.simulate(neuron, x)
        (spikes * torch.linspace(0.5, 1.5, 6)).sum().add(membrane.pow(2).mean()).backward()
        weight_grad = neuron.recurrent.weight.grad.clone() if hasattr(neuron, "recurrent") else torch.zeros(1)
        outputs.append((spikes.detach(), membrane.detach(), x.grad, weight_grad))
    for expected, got in zip(*outputs):
        assert torch.allclose(expected, got, atol=1e-5)
    assert outputs[0][0].sum() > 0  # the comparison covers spiking


def test_backend_is_validated_and_shown():
    lif = neurons.set_backend(neurons.build("vanilla"), "fused")
    assert "backend fused" in repr(lif)
    with pytest.raises(ValueError, match="neuron.backend"):
        neurons.set_backend(lif, "cuda_kernel")


@pytest.mark.parametrize("variant", list(neurons.VARIANTS))
def test_every_built_neuron_is_called_on_a_sequence_from_fresh_state(variant):
    """neuron(current[T, B, N]) -> (spikes, membrane), the same as simulate, and the same twice:
    nothing is carried over from the previous call."""
    torch.manual_seed(1)
    neuron = neurons.build(variant, n_neurons=5, beta=0.6) if neurons.VARIANTS[variant].leak == "exponential" \
        else neurons.build(variant, n_neurons=5)
    current = torch.rand(7, 2, 5) * 1.5
    spikes, membrane = neuron(current)
    again_spikes, again_membrane = neuron(current)
    ref_spikes, ref_membrane = neurons.simulate(neuron, current)
    assert spikes.shape == membrane.shape == (7, 2, 5)
    assert torch.equal(spikes, again_spikes) and torch.equal(membrane, again_membrane)
    assert torch.equal(spikes, ref_spikes) and torch.equal(membrane, ref_membrane)
    assert spikes.sum() > 0


def test_a_spec_is_labelled_by_its_physics():
    assert neurons.spec_for("vanilla", reset="none").variant == "no_reset"
    assert neurons.spec_for("no_reset", reset="zero").variant == "vanilla"
    assert neurons.spec_for("vanilla", tau=30.0).variant == "vanilla"  # tau is a knob, not a variant
    assert neurons.spec_for("vanilla", reset="subtract").variant == "vanilla"  # the kind of reset is a knob
    assert neurons.spec_for("alif", reset="zero").variant == "alif"
    assert neurons.spec_for("alif", reset="none").variant == "exponential_none_adaptation_alif"
    assert neurons.spec_for("no_leak", recurrent=True).variant == "no_leak_recurrent"


def test_surrogates_are_frozen_values():
    import dataclasses

    surrogate = neurons.make_surrogate("atan", alpha=3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        surrogate.alpha = 1.0
    assert surrogate == neurons.ATan(alpha=3.0) and hash(surrogate) == hash(neurons.ATan(alpha=3.0))
    assert surrogate != neurons.ATan(alpha=2.0)
    assert repr(surrogate) == "atan(alpha=3.0)"


def test_uniform_initial_state_is_drawn_per_sequence_from_the_seeded_generator():
    """``init_state=uniform``: U[0] and a continuous S[0] ~ U(0, 1) (DH-SNN's set_neuron_state): the
    first step is ``beta U[0] + I[1] - theta S[0]`` for a subtractive reset; the same seed draws the
    same state, another sequence another one."""
    neuron = neurons.set_backend(neurons.build_neuron("vanilla", reset="subtract", init_state="uniform"), "step")
    current = torch.zeros(3, 4, 2)
    torch.manual_seed(5)
    first = neurons.simulate(neuron, current)[1]
    torch.manual_seed(5)
    start_membrane, start_spikes = torch.rand(4, 2), torch.rand(4, 2)
    beta = neuron.spec.beta_value
    torch.testing.assert_close(first[0], beta * start_membrane - start_spikes)
    torch.manual_seed(5)
    assert torch.equal(neurons.simulate(neuron, current)[1], first)
    assert not torch.equal(neurons.simulate(neuron, current)[1], first)  # the next batch: a new draw
    with pytest.raises(ValueError, match="init_state='gaussian' is not one of"):
        neurons.build_neuron("vanilla", init_state="gaussian")
    with pytest.raises(ValueError, match="reset_grad=true would change nothing with neuron.reset=none"):
        neurons.build_neuron("no_reset", reset_grad=True)


def test_integrator_readout_starts_uniform_in_its_closed_form_and_its_definition():
    from ablations import network

    torch.manual_seed(0)
    model = network.build("6-8FC-3", variant="vanilla", readout="integrator_softmax", readout_window=4,
                          neuron={"init_state": "uniform"})
    head = model.readout
    current = torch.randn(12, 5, 3)
    start = torch.rand(5, 3)
    torch.testing.assert_close(head._leaky_window(current, 8, start), head._leaky_integrate(current, start)[8:])
    assert not torch.allclose(head._leaky_integrate(current, start), head._leaky_integrate(current))


def test_reset_gradient_is_dhsnn_soft_reset_gradient():
    """``reset_grad=true``: the gradient of U[2] = beta U[1] + I[2] - theta S[1] reaches I[1] through
    S[1] too (-theta dS/dU), which the detached reset drops."""
    current = torch.tensor([[[1.5]], [[0.0]]], requires_grad=True)
    gradients = {}
    for keep in (False, True):
        neuron = neurons.set_backend(neurons.build_neuron("vanilla", reset="subtract", reset_grad=keep), "step")
        current.grad = None
        neurons.simulate(neuron, current)[1][1].sum().backward()
        gradients[keep] = float(current.grad[0])
    beta = neurons.spec_for("vanilla").beta_value
    slope = neurons.make_surrogate("atan").derivative(torch.tensor(0.5))
    assert gradients[False] == pytest.approx(beta)
    assert gradients[True] == pytest.approx(beta - float(slope))
