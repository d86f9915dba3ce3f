"""The fused scan (ablations/neurons/torch_scan.py) against the snnTorch reference: every leak x reset x
recurrence x surrogate, learnable beta, spikes, membranes and every gradient; then a whole
network trained for 5 steps with each backend."""

from __future__ import annotations

import copy

import pytest
import torch

from ablations import network, neurons
from ablations.neurons import torch_scan as scan

from neuron_cases import CASES, LEAKS, SUM_TOLERANCE, SURROGATES, TOLERANCE, assert_same, build, run


def _pair(spec, width=5):
    reference = neurons.set_backend(build(spec, width), "snntorch")
    return reference, neurons.set_backend(copy.deepcopy(reference), "fused")


def _run(neuron, current):
    return run(neuron, current)


def _spec(leak, reset, recurrent, surrogate="atan", **options):
    return neurons.NeuronSpec(leak=leak, reset=reset, recurrent=recurrent, surrogate=surrogate,
                              surrogate_params=SURROGATES[surrogate], learn_beta=leak != "linear", **LEAKS[leak],
                              **options)


@pytest.mark.parametrize("path", ["fused", "kernel", "snntorch"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_path_matches_the_definition(case, path):
    """Every path through time against the definition (backend ``step``: the components' own
    step, autograd at every step) on the shared table: spikes equal, membranes and every gradient
    (input, beta, recurrent matrix) within float32 rounding. snnTorch's own step runs the neurons
    it has (no reset gradient, a start from rest)."""
    spec = CASES[case]
    reference = neurons.set_backend(build(spec), "step")
    cell = reference.cell if hasattr(reference, "cell") else reference
    if path == "snntorch" and not cell.plain:
        with pytest.raises(ValueError, match="snnTorch"):
            neurons.set_backend(copy.deepcopy(reference), path)
        return
    other = neurons.set_backend(copy.deepcopy(reference), path)
    torch.manual_seed(1)
    current = torch.randn(9, 3, 5) * 0.9 + 0.3
    expected, got = run(reference, current), run(other, current)
    assert expected["spikes"].sum() > 0 and (expected["spikes"] == 0).any()  # both branches covered
    assert expected["input grad"].abs().sum() > 0
    assert_same(expected, got)


def test_scan_per_neuron_beta_and_conv_shapes():
    """A per-neuron learnable beta, and currents with trailing [C, H, W] dimensions."""
    spec = neurons.NeuronSpec(leak="exponential", tau=3.0, reset="subtract", learn_beta=True)
    reference = neurons.set_backend(neurons.build(spec), "snntorch")
    reference.beta = torch.nn.Parameter(torch.rand(2, 3, 3))
    fused = neurons.set_backend(copy.deepcopy(reference), "fused")
    current = torch.randn(6, 2, 2, 3, 3) + 0.5
    expected, got = _run(reference, current), _run(fused, current)
    assert torch.equal(expected["spikes"], got["spikes"])
    for key in ("membrane", "input grad", "beta grad"):
        torch.testing.assert_close(got[key], expected[key], **SUM_TOLERANCE)


def test_scan_float32_within_state_tolerance():
    reference, fused = _pair(_spec("exponential", "zero", True), width=16)
    current = torch.randn(20, 4, 16) * 0.8 + 0.2
    expected, got = _run(reference, current), _run(fused, current)
    assert torch.equal(expected["spikes"], got["spikes"])
    for key in ("membrane", "input grad", "beta grad", "recurrent grad"):
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)


def test_scan_saves_only_the_membrane():
    """Compact saved state: one [T, B, N] tensor (plus parameters), not one graph per step."""
    cell = neurons.set_backend(neurons.build("vanilla"), "fused")
    current = torch.randn(7, 2, 4, requires_grad=True)
    spikes, _ = neurons.simulate(cell, current)
    node = spikes.grad_fn
    assert type(node).__name__ == "NeuronScanBackward"
    saved = [t for t in node.saved_tensors if t is not None]
    assert [tuple(t.shape) for t in saved if t.dim() == 3] == [(7, 2, 4)]


def test_auto_backend_is_the_default_and_falls_back():
    cell = neurons.build("vanilla")
    assert cell.backend == "auto" and scan.supports(cell)
    odd = neurons.build("vanilla")
    odd.graded_spikes_factor = torch.nn.Parameter(torch.tensor(2.0))
    assert not scan.supports(odd)
    current = torch.randn(4, 2, 3)
    torch.testing.assert_close(neurons.simulate(odd, current)[0],
                               neurons.simulate(neurons.set_backend(odd, "snntorch"), current)[0])
    with pytest.raises(ValueError, match="neuron.backend=fused does not cover"):
        neurons.simulate(neurons.set_backend(odd, "fused"), current)


def test_scan_under_autocast_keeps_float32_state():
    cell = neurons.set_backend(neurons.build("vanilla"), "fused")
    current = torch.randn(5, 2, 3).bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        spikes, membrane = neurons.simulate(cell, current)
    assert membrane.dtype == torch.float32
    spikes.sum().backward()
    assert current.grad is not None and current.grad.dtype == torch.bfloat16


@pytest.mark.parametrize("variant", ["vanilla", "recurrent", "linear_leak"])
def test_network_loss_trajectory_equal_for_5_steps(variant):
    """A whole network trained for 5 Adam steps: the same losses on every path as on the definition."""
    torch.manual_seed(0)
    base = network.build("12-8FC-6FC-3", variant=variant, neuron={"learn_beta": variant != "linear_leak"})
    x = (torch.rand(10, 4, 12) < 0.4).float()
    y = torch.tensor([0, 1, 2, 1])
    losses = {}
    for backend in ("step", "snntorch", "fused", "kernel"):
        model = neurons.set_backend(copy.deepcopy(base), backend)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        trajectory = []
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(model(x) * 10, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            trajectory.append(float(loss.detach()))
        losses[backend] = trajectory
    assert len(set(losses["step"])) > 1  # the network learns something
    for backend in ("snntorch", "fused", "kernel"):
        assert losses[backend] == pytest.approx(losses["step"], rel=1e-5, abs=1e-6), backend


@pytest.mark.parametrize("leak,reset,recurrent", [("exponential", "zero", True), ("linear", "subtract", False),
                                                  ("none", "none", True), ("exponential", "subtract", False)])
def test_scan_continues_from_a_given_state(leak, reset, recurrent):
    """Two blocks with the state carried over equal one scan: values and every gradient."""
    _, fused = _pair(_spec(leak, reset, recurrent))
    current = torch.randn(9, 3, 5) * 0.9 + 0.3
    whole = _run(fused, current)
    fused.zero_grad()
    cell = fused.cell if recurrent else fused
    x = current.clone().requires_grad_(True)
    head_spikes, head_membrane = scan.fused_scan(cell, getattr(fused, "recurrent", None), x[:4])
    tail_spikes, tail_membrane = scan.fused_scan(cell, getattr(fused, "recurrent", None), x[4:],
                                                 (head_membrane[-1], head_spikes[-1]))
    spikes, membrane = torch.cat([head_spikes, tail_spikes]), torch.cat([head_membrane, tail_membrane])
    (spikes * torch.linspace(0.5, 1.5, 5)).sum().add(membrane.pow(2).mean()).backward()
    assert torch.equal(spikes, whole["spikes"])
    torch.testing.assert_close(membrane.detach(), whole["membrane"], **TOLERANCE)
    torch.testing.assert_close(x.grad, whole["input grad"], **TOLERANCE)
    if whole["beta grad"] is not None:
        torch.testing.assert_close(cell.beta.grad, whole["beta grad"], **SUM_TOLERANCE)
    if recurrent:
        torch.testing.assert_close(fused.recurrent.weight.grad, whole["recurrent grad"], **SUM_TOLERANCE)


def _saved_bytes(function):
    """Bytes of the distinct tensors autograd keeps for backward while ``function`` runs."""
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = function()
    return result, sum(storages.values())


@pytest.mark.parametrize("variant", ["vanilla", "recurrent", "linear_leak"])
def test_time_checkpointing_gives_equal_gradients_in_less_memory(variant):
    torch.manual_seed(0)
    base = network.build("16-32FC-24FC-4", variant=variant, neuron={"learn_beta": variant != "linear_leak"})
    x = (torch.rand(40, 3, 16) < 0.3).float()
    gradients, memory = {}, {}
    for steps in (None, 7):
        model = network.set_time_checkpointing(copy.deepcopy(base), steps)
        output, memory[steps] = _saved_bytes(lambda: model(x))
        output.pow(2).sum().backward()
        gradients[steps] = {name: p.grad for name, p in model.named_parameters()}
    for name, gradient in gradients[None].items():
        torch.testing.assert_close(gradients[7][name], gradient, **SUM_TOLERANCE, msg=lambda m: f"{name}: {m}")
    assert memory[7] < memory[None]
    with pytest.raises(ValueError, match="whole number >= 1"):
        network.set_time_checkpointing(base, 0)
    with pytest.raises(ValueError, match="needs the fused neuron scan"):
        model = network.set_time_checkpointing(neurons.set_backend(copy.deepcopy(base), "snntorch"), 7)
        model(x)


@pytest.mark.parametrize("name", sorted(neurons.SURROGATES))
def test_closed_form_surrogate_derivative_equals_its_backward(name):
    """The scan's backward takes dS/dz from ``derivative(z)``: equal to the surrogate's own autograd
    backward (snnTorch's for atan and fast_sigmoid) at random z, thresholds and window edges."""
    surrogate = neurons.make_surrogate(name, **SURROGATES[name])
    z = torch.cat([torch.randn(4000, dtype=torch.float64) * 2, torch.tensor([0.0, 0.25, -0.25, 0.5, -0.5],
                                                                            dtype=torch.float64)])
    probe = z.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(surrogate(probe), probe, torch.ones_like(z))
    assert torch.allclose(surrogate.derivative(z), expected, rtol=1e-12, atol=0)
    assert torch.equal(scan.surrogate_derivative(surrogate, z), surrogate.derivative(z))
    kept = z.clone()
    assert torch.equal(scan.surrogate_derivative(surrogate, kept, overwrite=True), surrogate.derivative(z))
    assert torch.equal(surrogate.derivative(z), surrogate.derivative(z))  # z itself left as it was
