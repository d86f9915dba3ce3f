"""Experiment presets and dataset configs: they compose, carry the papers' values with their
sources, and each preset's network trains one step at T = 2."""

from __future__ import annotations

import re

import pytest
import torch

from ablations.config import CONF_DIR, build_model, compose, group_options, neuron_spec

INPUT_SHAPES = {"cifar10": (3, 32, 32), "svhn": (3, 32, 32), "mnist": (1, 28, 28), "nmnist": (2, 34, 34),
                "dvs_gesture": (2, 32, 32), "shd": (700,), "delayed_xor": (16,), "digits": (1, 8, 8),
                "digits_events": (2, 12, 12), "delayed_xor_dhsnn": (20,), "ssc": (700,)}

EXPERIMENTS = ["leak_cifar10", "leak_svhn", "roles_cifar10", "roles_delayed_xor", "roles_delayed_xor_hardreset", "roles_delayed_xor_table5",
               "roles_dvs_gesture", "roles_mnist", "roles_nmnist", "roles_shd", "roles_shd_table5", "roles_ssc",
               "roles_ssc_table5"]


def test_every_experiment_and_dataset_is_covered():
    assert sorted(group_options("experiment")) == EXPERIMENTS
    assert sorted(group_options("dataset")) == sorted(INPUT_SHAPES)


@pytest.mark.parametrize("name", sorted(INPUT_SHAPES))
def test_dataset_config_contract(name):
    text = (CONF_DIR / "dataset" / f"{name}.yaml").read_text()
    assert text.startswith("# @package dataset")
    node = compose([f"dataset={name}"]).dataset
    assert node.name == name and node.kind in ("static", "event", "temporal")
    assert "steps" in node and node.layers
    if node.kind == "event":
        frame = node.frame
        assert (frame.time_window_ms is None) != (frame.n_bins is None)
        assert node.steps is None  # derived from the frame node


def _value_lines(text: str) -> list[str]:
    """Lines that set a value (not comments, blank lines, parent keys or the defaults list)."""
    lines = []
    for line in text.split("\n"):
        code = line.split("#", 1)[0].strip()
        if not code or code.endswith(":") or code.startswith("- override"):
            continue
        lines.append(line)
    return lines


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_value_names_its_source(name):
    text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
    assert text.startswith("# @package _global_") and "defaults:" in text
    for line in _value_lines(text):
        comment = line.split("#", 1)[1] if "#" in line else ""
        assert re.search(r"seed 00[13]|Lee et al|DH-SNN .*line|assumption|silent|states none|neither source|as the other",
                         comment), \
            f"{name}: no source or reason for {line.strip()!r}"


def test_leak_presets_follow_seed003():
    for name, dataset, model, layers in [("leak_cifar10", "cifar10", "vgg9", 9), ("leak_svhn", "svhn", "vgg6", 6)]:
        cfg = compose([f"experiment={name}"])
        assert (cfg.dataset.name, cfg.model.name) == (dataset, model)
        assert (cfg.train.epochs, cfg.train.batch_size, list(cfg.train.milestones)) == (150, 64, [70, 100])
        assert cfg.train.schedule == "multistep" and cfg.train.loss == "mse_onehot"
        assert cfg.model.readout == "mem_last" and cfg.model.pool == "spiking"  # ref [21] pooling neurons
        assert (cfg.dataset.steps, cfg.dataset.signed, cfg.dataset.normalize) == (100, True, "zero_mean")
        assert neuron_spec(cfg).leak == "exponential" and float(cfg.neuron.tau) in (30.0, 100.0)
        assert cfg.model.dropout == 0.2
    swept = compose(["experiment=leak_cifar10", "neuron.tau=inf"])
    assert str(swept.neuron.tau) == "inf"


@pytest.mark.parametrize("name, column", [
    ("roles_shd_table5", "temporal"), ("roles_ssc_table5", "temporal"), ("roles_delayed_xor_table5", "temporal"),
    ("roles_nmnist", "spatio-temporal"),
    ("roles_dvs_gesture", "spatio-temporal"), ("roles_mnist", "spatial"), ("roles_cifar10", "spatial")])
def test_roles_presets_follow_seed001_table5(name, column):
    expected = {  # seed 001 Table 5: batch, lr, StepLR(step, gamma), threshold, surrogate width
        "temporal": (512, 1e-2, 20, 0.5, 0.5, 0.5),
        "spatio-temporal": (1024, 1e-4, 25, 0.1, 0.3, 0.25),
        "spatial": (512, 1e-4, 25, 0.1, 0.3, 0.25),
    }[column]
    cfg = compose([f"experiment={name}"])
    train, neuron = cfg.train, cfg.neuron
    got = (train.batch_size, train.lr, train.step_size, train.gamma, neuron.threshold, neuron.surrogate.width)
    assert got == pytest.approx(expected)
    assert (train.epochs, train.optimizer, train.schedule, neuron.surrogate.name) == (100, "adam", "step",
                                                                                       "rectangular")
    if name == "roles_nmnist":
        assert cfg.dataset.frame.time_window_ms == 3  # seed 001: N-MNIST trained on 3 ms frames


def test_command_line_overrides_win_over_a_preset():
    cfg = compose(["experiment=roles_nmnist", "variant=no_leak", "dataset.frame.time_window_ms=10"])
    assert cfg.neuron.variant == "no_leak" and cfg.neuron.threshold == 0.3 and cfg.dataset.frame.time_window_ms == 10


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_network_trains_one_step(name):
    cfg = compose([f"experiment={name}"])
    shape = INPUT_SHAPES[str(cfg.dataset.name)]
    model = build_model(cfg, shape)
    torch.manual_seed(0)
    x = (torch.rand(2, 1, *shape) < 0.5).float()
    out = model(x)
    assert out.shape == (1, model.n_classes)
    (out - 1).pow(2).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
