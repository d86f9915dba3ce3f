"""Sparse event input (ablations/sparse.py): same numbers as the dense product, on real N-MNIST frames."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from ablations import network, sparse

NMNIST = Path("/work/shared/realdata/nmnist")


@pytest.mark.parametrize("count", [1.0, 2.0])
def test_sparse_product_equals_dense_with_weight_gradient(count):
    torch.manual_seed(0)
    x = (torch.rand(30, 40) < 0.05).float() * count
    x[3] = 0  # an input row without any event
    linear = torch.nn.Linear(40, 7)
    gradient = torch.randn(30, 7)
    results = []
    for product in (lambda: linear(x), lambda: sparse.sparse_linear(x, linear)):
        linear.zero_grad()
        out = product()
        out.backward(gradient)
        results.append((out.detach(), linear.weight.grad.clone(), linear.bias.grad.clone()))
    for dense, gathered in zip(*results):
        torch.testing.assert_close(gathered, dense, rtol=1e-5, atol=1e-6)


def test_event_linear_picks_the_path_by_the_measured_crossover():
    linear = torch.nn.Linear(64, 16)
    crossover = sparse.crossover_density(64, 16, "cpu")
    assert 0.0 < crossover <= 0.5
    x = torch.zeros(32, 64)
    x[0, 0] = 1.0
    if float(x.mean()) < crossover:  # a crossover measured on a loaded machine can sit below 1/2048
        assert sparse.event_linear(x, linear).grad_fn.name() != "AddmmBackward0"  # gathered
    assert sparse.event_linear(torch.ones(32, 64), linear).grad_fn.name() == "AddmmBackward0"  # dense
    with sparse.dense_only():
        assert sparse.event_linear(x, linear).grad_fn.name() == "AddmmBackward0"
    with sparse.sparse_only():
        assert sparse.event_linear(torch.ones(32, 64), linear).grad_fn.name() != "AddmmBackward0"
    spikes = x.clone().requires_grad_(True)  # hidden spikes need the input gradient: dense
    assert sparse.event_linear(spikes, linear).grad_fn.name() == "AddmmBackward0"


def _real_frames(n_samples: int):
    from ablations.data.events import NMNIST as Reader
    from ablations.data.frames import FrameDataset, FrameSpec

    if not (NMNIST / "NMNIST" / "Train").is_dir():
        pytest.skip("real N-MNIST subset not present")
    spec = FrameSpec((34, 34, 2), steps=100, time_window_us=3000.0)  # seed 001: 3 ms frames, 300 ms
    frames = FrameDataset(Reader(str(NMNIST), train=True), spec, None)
    samples = [frames[i] for i in range(0, 10 * n_samples, 10)]
    x = torch.stack([torch.as_tensor(s[0]) for s in samples], 1).float()
    return x, torch.tensor([int(s[1]) for s in samples])


def test_real_nmnist_frames_train_the_same_with_sparse_input():
    x, labels = _real_frames(6)
    density = float((x != 0).float().mean())
    assert density < 0.05  # real 3 ms frames are sparse
    torch.manual_seed(0)
    base = network.build("2312-64-10", input_shape=(2, 34, 34))
    losses = {}
    for mode in ("sparse", "dense"):
        model = copy.deepcopy(base)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        trajectory = []
        for _ in range(3):
            # the measured crossover varies with the machine's load: force each path
            context = sparse.dense_only() if mode == "dense" else sparse.sparse_only()
            with context:
                loss = torch.nn.functional.cross_entropy(model(x) * 10, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            trajectory.append(float(loss.detach()))
        losses[mode] = trajectory
    assert losses["sparse"] == pytest.approx(losses["dense"], rel=1e-5)


def test_sparse_input_with_time_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    base = network.build("400-32-4")
    x = (torch.rand(25, 8, 400) < 0.01).float()  # blocks of 10, 10 and 5 steps
    gradients = []
    for steps in (None, 10):
        model = network.set_time_checkpointing(copy.deepcopy(base), steps)
        with sparse.sparse_only():
            model(x).pow(2).sum().backward()
        gradients.append([p.grad for p in model.parameters()])
    for dense, checkpointed in zip(*gradients):
        torch.testing.assert_close(checkpointed, dense, rtol=1e-5, atol=1e-6)


def test_measuring_the_crossover_leaves_the_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    sparse.crossover_density(33, 5, "cpu")
    assert torch.equal(torch.rand(4), expected)


def test_density_estimate_counts_whole_rows():
    torch.manual_seed(0)
    small = (torch.rand(40, 100) < 0.1).float()  # up to SAMPLE_ROWS rows: every entry counted
    assert sparse.sample_density(small) == float(torch.count_nonzero(small)) / small.numel()
    large = (torch.rand(1600, 2312) < 0.03).float()
    assert abs(sparse.sample_density(large) - 0.03) < 0.003
    large[:, :100] = 1.0  # dense columns are seen: every sampled row holds all columns
    assert abs(sparse.sample_density(large) - float(torch.count_nonzero(large)) / large.numel()) < 0.003
