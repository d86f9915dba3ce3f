"""The one table of neuron cases every path through time is pinned on (tests/test_scan.py runs
each fast path against the definition on it; tests/test_kernel.py reads it for its own checks).

A case is a NeuronSpec: every leak x reset x recurrence, each with the plain options, with the
gradient through the reset (``reset_grad``) and with DH-SNN's random initial state
(``init_state=uniform``); the five surrogates take turns so every one meets every leak."""

from __future__ import annotations

import itertools

import torch

from ablations import neurons

LEAKS = {"exponential": {"tau": 4.0}, "none": {}, "complete": {}, "linear": {"lam": 0.1}}
RESETS = ("zero", "subtract", "none")
SURROGATES = {
    "atan": {"alpha": 2.0},
    "fast_sigmoid": {"slope": 5.0},
    "rectangular": {"width": 1.0},
    "straight_through": {"epsilon": 0.5},
    "multi_gaussian": {"sigma": 0.5},
}
OPTIONS = {"plain": {}, "reset_grad": {"reset_grad": True}, "uniform_start": {"init_state": "uniform"}}
# float32: the paths add the same terms in another order, so states and gradients agree to float32
# rounding; spikes are compared exactly. Gradients of beta and V sum over T x B (x N) terms.
TOLERANCE = dict(rtol=1e-5, atol=1e-6)
SUM_TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def _cases():
    cases = []
    for index, (leak, reset, recurrent, option) in enumerate(itertools.product(LEAKS, RESETS, (False, True), OPTIONS)):
        if option == "reset_grad" and reset == "none":
            continue  # refused: nothing to back-propagate through
        surrogate = list(SURROGATES)[index % len(SURROGATES)]
        spec = neurons.NeuronSpec(leak=leak, reset=reset, recurrent=recurrent, surrogate=surrogate,
                                  surrogate_params=SURROGATES[surrogate], learn_beta=leak != "linear",
                                  **LEAKS[leak], **OPTIONS[option])
        cases.append((f"{leak}-{reset}-{'recurrent' if recurrent else 'feedforward'}-{option}-{surrogate}", spec))
    return cases


CASES = dict(_cases())


def build(spec: neurons.NeuronSpec, width: int = 5) -> torch.nn.Module:
    torch.manual_seed(0)
    return neurons.build(spec, n_neurons=width)


def run(neuron: torch.nn.Module, current: torch.Tensor, draw_seed: int = 7) -> dict:
    """Spikes, membrane and every gradient of a fixed loss of both outputs (the state draw, if
    any, from ``draw_seed``)."""
    x = current.clone().requires_grad_(True)
    torch.manual_seed(draw_seed)
    spikes, membrane = neurons.simulate(neuron, x)
    weights = torch.linspace(0.5, 1.5, current.shape[-1], dtype=current.dtype)
    (spikes * weights).sum().add(membrane.pow(2).mean()).backward()
    cell = neuron.cell if hasattr(neuron, "cell") else neuron
    return {
        "spikes": spikes.detach(),
        "membrane": membrane.detach(),
        "input grad": x.grad,
        "beta grad": cell.beta.grad if isinstance(cell.beta, torch.nn.Parameter) else None,
        "recurrent grad": neuron.recurrent.weight.grad if hasattr(neuron, "recurrent") else None,
    }


def assert_same(expected: dict, got: dict, scale: float = 1.0) -> None:
    """Spikes bit for bit, states and gradients within float32 rounding (x ``scale``)."""
    assert torch.equal(expected["spikes"], got["spikes"])
    for key, value in expected.items():
        if key == "spikes":
            continue
        if value is None:
            assert got[key] is None, key
            continue
        tolerance = TOLERANCE if key in ("membrane", "input grad", "state grad") else SUM_TOLERANCE
        tolerance = {name: bound * scale for name, bound in tolerance.items()}
        torch.testing.assert_close(got[key], value, **tolerance, msg=lambda m: f"{key}: {m}")
