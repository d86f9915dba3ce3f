"""The leak-corrected gradient (ref [21], seed 003 Eq. 5) against a gradient computed by hand."""

import math

import pytest
import torch

from ablations import neurons
from ablations.config import compose, neuron_spec


def _grad(gradient: str, beta: float, currents, weights):
    neuron = neurons.build("vanilla", beta=beta, threshold=1.0, surrogate="straight_through", gradient=gradient)
    current = torch.tensor(currents, dtype=torch.float64).view(-1, 1, len(currents[0])).requires_grad_(True)
    spikes, membrane = neurons.simulate(neuron, current)
    loss = (spikes.squeeze(1) * torch.tensor(weights, dtype=torch.float64)).sum()
    loss.backward()
    return spikes.squeeze(1).detach(), current.grad.squeeze(1)


def test_leak_corrected_gradient_matches_hand_computation():
    # One neuron, beta 0.5, threshold 1, loss = 1*S1 + 2*S2 + 3*S3; a second neuron never fires.
    # Forward: U1 = 0.6 (no spike); U2 = 0.5*0.6 + 0.9 = 1.2 (spike); U3 = 0 + 1.5 (spike, reset wiped U2).
    currents = [[0.6, 0.1], [0.9, 0.1], [1.5, 0.1]]
    weights = [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
    spikes, grad = _grad("leak_corrected", 0.5, currents, weights)
    assert spikes[:, 0].tolist() == [0.0, 1.0, 1.0] and spikes[:, 1].tolist() == [0.0, 0.0, 0.0]
    # LF = 0.5 * 1 + 1 = 1.5, Total = 2, g = 1 + ln(0.5) * 1.5 / 2
    g = 1.0 + math.log(0.5) * 0.75
    # dL/dI3 = 3 g; dL/dI2 = 2 g (U3 does not depend on U2: reset); dL/dI1 = dL/dU2 * 1 (unscaled leak)
    assert grad[:, 0].tolist() == pytest.approx([2 * g, 2 * g, 3 * g], abs=1e-12)
    assert grad[:, 1].tolist() == [0.0, 0.0, 0.0]
    # the exact gradient of the same forward: the leak scales the membrane path, no factor g
    spikes_exact, grad_exact = _grad("exact", 0.5, currents, weights)
    assert torch.equal(spikes, spikes_exact)
    assert grad_exact[:, 0].tolist() == pytest.approx([2 * 0.5, 2.0, 3.0], abs=1e-12)


def test_leak_corrected_equals_exact_without_leak():
    torch.manual_seed(0)
    currents = (torch.rand(12, 5) * 1.5).tolist()
    weights = torch.randn(12, 5).tolist()
    _, corrected = _grad("leak_corrected", 1.0, currents, weights)
    _, exact = _grad("exact", 1.0, currents, weights)
    assert torch.allclose(corrected, exact)


def test_gradient_option_is_validated_and_reachable_from_config():
    with pytest.raises(ValueError, match="leak_corrected"):
        neurons.build("complete_leak", gradient="leak_corrected")
    with pytest.raises(ValueError, match="not one of"):
        neurons.build("vanilla", gradient="magic")
    spec = neuron_spec(compose(["experiment=leak_cifar10"]))
    assert spec.gradient == "leak_corrected" and spec.surrogate == "straight_through"
