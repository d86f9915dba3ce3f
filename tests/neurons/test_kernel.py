"""The compiled one-pass kernel (ablations/neurons/numba_scan.py): its own cases beside the shared
table (tests/neurons/test_scan.py pins it on every leak x reset x recurrence x surrogate against the
definition): per-neuron learnable beta, a given state, conv shapes, float64, a wide layer, how it is
chosen; spikes exactly, states and gradients within float32 rounding of the torch scan."""

from __future__ import annotations

import copy
import logging

import pytest
import torch

from ablations import network, neurons
from ablations.neurons import numba_scan as kernel, torch_scan as scan

from neuron_cases import LEAKS, SUM_TOLERANCE, SURROGATES, TOLERANCE, assert_same

pytestmark = pytest.mark.skipif(not kernel.available(), reason=kernel.missing_reason())


def _cell(leak, reset, recurrent, surrogate, width=5, per_neuron_beta=False):
    spec = neurons.NeuronSpec(leak=leak, reset=reset, recurrent=recurrent, surrogate=surrogate,
                              surrogate_params=SURROGATES[surrogate], learn_beta=leak != "linear",
                              **LEAKS[leak])
    torch.manual_seed(0)
    neuron = neurons.build(spec, n_neurons=width)
    cell = neuron.cell if recurrent else neuron
    if per_neuron_beta and leak != "linear":
        cell.beta = torch.nn.Parameter(torch.rand(width) * 0.8 + 0.1)
    return neuron, cell


def _run(neuron, cell, current, backend, state=None):
    neuron = copy.deepcopy(neuron)
    cell = neuron.cell if hasattr(neuron, "cell") else neuron
    recurrent = getattr(neuron, "recurrent", None)
    x = current.clone().requires_grad_(True)
    given = None
    if state is not None:
        given = tuple(s.clone().requires_grad_(s.is_floating_point() and i == 0) for i, s in enumerate(state))
    spikes, membrane = scan.fused_scan(cell, recurrent, x, given, backend=backend)
    weights = torch.linspace(0.5, 1.5, current.shape[-1], dtype=current.dtype)
    (spikes * weights).sum().add(membrane.pow(2).mean()).backward()
    return {
        "spikes": spikes.detach(),
        "membrane": membrane.detach(),
        "input grad": x.grad,
        "state grad": None if given is None else given[0].grad,
        "beta grad": cell.beta.grad if isinstance(cell.beta, torch.nn.Parameter) else None,
        "recurrent grad": None if recurrent is None else recurrent.weight.grad,
    }


def _compare(expected, got, scale=1.0):
    assert_same(expected, got, scale)


@pytest.mark.parametrize("leak,reset,recurrent", [("exponential", "zero", True), ("linear", "subtract", False),
                                                  ("none", "none", True), ("exponential", "subtract", False),
                                                  ("complete", "zero", False)])
@pytest.mark.parametrize("per_neuron_beta", [False, True])
def test_kernel_from_a_given_state_and_per_neuron_beta(leak, reset, recurrent, per_neuron_beta):
    """A continued sequence (gradient into the given membrane) and a learnable beta per neuron."""
    neuron, cell = _cell(leak, reset, recurrent, "atan", per_neuron_beta=per_neuron_beta)
    torch.manual_seed(2)
    current = torch.randn(7, 4, 5) * 0.9 + 0.3
    state = (torch.randn(4, 5) + 0.5, (torch.rand(4, 5) < 0.4).float())
    _compare(_run(neuron, cell, current, "fused", state), _run(neuron, cell, current, "kernel", state))


def test_kernel_per_neuron_beta_with_conv_shapes_and_float64():
    spec = neurons.NeuronSpec(leak="exponential", tau=3.0, reset="zero", learn_beta=True)
    cell = neurons.build(spec)
    cell.beta = torch.nn.Parameter(torch.rand(2, 3, 3, dtype=torch.float64))
    current = torch.randn(6, 2, 2, 3, 3, dtype=torch.float64) + 0.5
    expected, got = _run(cell, cell, current, "fused"), _run(cell, cell, current, "kernel")
    _compare(expected, got, scale=1e-6)  # float64: agreement to float64 rounding
    assert got["membrane"].dtype == torch.float64


def test_kernel_on_a_wide_layer_within_float32_tolerance():
    """T = 25, B = 16, N = 64 recurrent: the recurrent sum and the BLAS product in another order."""
    neuron, cell = _cell("exponential", "zero", True, "fast_sigmoid", width=64, per_neuron_beta=True)
    torch.manual_seed(3)
    current = torch.randn(25, 16, 64) * 0.5 + 0.2
    expected, got = _run(neuron, cell, current, "fused"), _run(neuron, cell, current, "kernel")
    assert torch.equal(expected["spikes"], got["spikes"])
    for key in ("membrane", "input grad", "beta grad", "recurrent grad"):
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)


def test_auto_picks_the_kernel_on_cpu_and_the_environment_can_turn_it_off(monkeypatch):
    cell = neurons.build("vanilla")
    current = torch.randn(3, 2, 4)
    assert scan.implementation("auto", current, cell.spike_grad) is kernel.KernelScan
    assert scan.implementation("fused", current, cell.spike_grad) is scan.NeuronScan
    monkeypatch.setenv("ABLATIONS_KERNEL", "0")
    assert scan.implementation("auto", current, cell.spike_grad) is scan.NeuronScan
    assert scan.implementation("kernel", current, cell.spike_grad) is kernel.KernelScan


def test_kernel_without_numba_runs_the_torch_scan_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setattr(kernel, "numba", None)
    monkeypatch.setattr(kernel, "_MISSING", "numba is not installed; pip install numba")
    monkeypatch.setattr(scan, "_told_missing", False)
    cell = neurons.build("vanilla")
    current = torch.randn(3, 2, 4)
    with caplog.at_level(logging.WARNING, logger="ablations.neurons.torch_scan"):
        for _ in range(3):
            assert scan.implementation("kernel", current, cell.spike_grad) is scan.NeuronScan
        assert scan.implementation("auto", current, cell.spike_grad) is scan.NeuronScan
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["neuron.backend=kernel runs the torch scan instead: numba is not installed; pip install numba"]


@pytest.mark.parametrize("variant", ["vanilla", "recurrent"])
def test_kernel_with_a_sigmoid_per_neuron_leak_and_input_scaling(variant):
    """What the components pass to the scan: beta = sigmoid(p) per neuron (a tensor with a gradient),
    the current and the recurrent rows scaled by 1 - beta; every gradient reaches p and V."""
    torch.manual_seed(4)
    base = neurons.build_neuron(variant, n_neurons=6, leak_shape="per_neuron", leak_init="uniform(0,4)",
                                learn_beta=True, input_scale="one_minus_beta")
    current = torch.randn(12, 3, 6) * 2.0 + 1.5
    gradients, outputs = {}, {}
    for backend in ("fused", "auto"):  # auto: the kernel on a CPU
        neuron = neurons.set_backend(copy.deepcopy(base), backend)
        x = current.clone().requires_grad_(True)
        spikes, membrane = neurons.simulate(neuron, x)
        assert type(spikes.grad_fn).__name__ == ("NeuronScanBackward" if backend == "fused" else "KernelScanBackward")
        (spikes * torch.linspace(0.5, 1.5, 6)).sum().add(membrane.pow(2).mean()).backward()
        outputs[backend] = (spikes.detach(), membrane.detach())
        gradients[backend] = {"input": x.grad, **{name: p.grad for name, p in neuron.named_parameters()}}
    assert outputs["fused"][0].sum() > 0 and torch.equal(outputs["fused"][0], outputs["auto"][0])
    torch.testing.assert_close(outputs["auto"][1], outputs["fused"][1], **TOLERANCE)
    assert any("logit" in name for name in gradients["fused"])
    for name, expected in gradients["fused"].items():
        assert expected is not None and expected.abs().sum() > 0, name
        torch.testing.assert_close(gradients["auto"][name], expected, **SUM_TOLERANCE, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("recurrent", [False, True])
def test_kernel_with_numbas_threads_equals_its_serial_loops(monkeypatch, recurrent):
    """A small layer runs the serial loops (no thread pool to spin on a shared machine); where the
    process may use two cores and the layer is wide, the threaded loops: the same numbers."""
    from ablations import parallel

    if kernel.numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool was started with one thread (NUMBA_NUM_THREADS=1)")
    neuron, cell = _cell("exponential", "zero", recurrent, "atan", width=8, per_neuron_beta=True)
    torch.manual_seed(5)
    current = torch.randn(11, 6, 8) * 0.9 + 0.3
    serial = _run(neuron, cell, current, "kernel")
    assert kernel._mode["parallel"] is False
    threads = torch.get_num_threads()
    monkeypatch.setattr(kernel, "PARALLEL_MIN_NEURONS", 1)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    try:
        torch.set_num_threads(2)
        threaded = _run(neuron, cell, current, "kernel")
        assert kernel._mode["parallel"] is True
    finally:
        torch.set_num_threads(threads)
    _compare(serial, threaded)


@pytest.mark.parametrize("name,params", [
    ("multi_gaussian", {}), ("multi_gaussian", {"sigma": 0.3, "scale": 2.5, "height": 0.4, "gamma": 1.7}),
    ("rectangular", {"width": 0.7}), ("straight_through", {"epsilon": 0.2}),
])
def test_every_compiled_slope_is_the_surrogates_derivative(name, params):
    surrogate = neurons.make_surrogate(name, **params)
    assert f"{type(surrogate).__module__}.{type(surrogate).__qualname__}" in kernel.SLOPES
    membrane = torch.cat([torch.linspace(-60, 60, 24001), torch.randn(3001) * 2 + 1,
                          torch.tensor([1.0, 1.35, 0.65, 1e30, -1e30])])
    got, expected = kernel.slope(surrogate, membrane, 1.0), surrogate.derivative(membrane - 1.0)
    peak = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=2e-6, atol=4e-7 * peak)  # float32 rounding
    if name != "multi_gaussian":  # a box: exactly the torch form's values
        assert torch.equal(got, expected)
    double = membrane.double()  # float64: the surrogate's own derivative
    assert torch.equal(kernel.slope(surrogate, double, 1.0), surrogate.derivative(double - 1.0))


def test_a_surrogate_not_declared_gets_its_own_derivative():
    class Wider(type(neurons.make_surrogate("multi_gaussian"))):  # a subclass may change the derivative
        def derivative_(self, z):
            return super().derivative_(z).mul_(2.0)

    wider, membrane = Wider(), torch.linspace(-3, 3, 101)
    torch.testing.assert_close(kernel.slope(wider, membrane, 0.5), 2 * neurons.make_surrogate("multi_gaussian").derivative(membrane - 0.5))
