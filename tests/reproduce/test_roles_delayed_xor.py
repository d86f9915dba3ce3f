"""Seed 001's delayed XOR in its group's regime (DH-SNN generator), the window readout, the
stated leak assumption of every roles_* preset and the roles_tau study over it."""

from __future__ import annotations

import re

import pytest
import torch

from ablations import network
from ablations.errors import UserError
from ablations.config import CONF_DIR, build_model, compose, group_options, neuron_spec
from ablations.data import build_dataset as build_data
from ablations.data.generated import make_delayed_xor
from ablations.studies.checks import check_definition
from ablations.studies.definition import load_definition

ROLES = [name for name in group_options("experiment") if name.startswith("roles_")]


def test_dhsnn_regime_matches_the_public_generator():
    cfg = compose(["experiment=roles_delayed_xor_table5", "dataset.n_train=4000", "dataset.n_test=10"])
    d = cfg.dataset
    assert (d.channels, d.pattern_steps, 2 * d.pattern_steps + d.delay_steps) == (20, 10, 200)
    assert (d.low_rate, d.high_rate, d.noise_rate, d.noise_over_patterns) == (0.2, 0.6, 0.01, True)
    bundle = build_data(d, "unused")
    assert (bundle.steps, bundle.input_shape, bundle.n_classes) == (200, (20,), 2)
    x, y = bundle.train.tensors
    assert x.dtype == torch.uint8 and x.shape == (4000, 200, 20)
    assert abs(y.float().mean() - 0.5) < 0.03                                   # balanced XOR labels
    assert abs(x[:, 10:190].float().mean() - 0.01) < 0.002                      # background noise in the delay
    first_high = x[:, :10].float().mean((1, 2)) > 0.4
    # pattern spikes ORed into the noise: 1 - (1 - r)(1 - 0.01)
    assert abs(x[first_high, :10].float().mean() - (1 - 0.4 * 0.99)) < 0.01
    assert abs(x[~first_high, :10].float().mean() - (1 - 0.8 * 0.99)) < 0.01
    second_high = x[:, 190:].float().mean((1, 2)) > 0.4
    assert torch.equal((first_high ^ second_high).long(), y)                    # label = A XOR B
    encoded = bundle.encoder(x[:3])
    assert encoded.shape == (200, 3, 20) and encoded.dtype == torch.float32


def test_short_task_keeps_noise_out_of_the_patterns():
    x, _ = make_delayed_xor(2000, channels=4, pattern_steps=5, delay_steps=5, low_rate=0.0, high_rate=1.0,
                            noise_rate=0.5, noise_over_patterns=False)
    patterns = torch.cat([x[:, :5], x[:, 10:]], 1)
    assert set(patterns.mean((1, 2)).unique().tolist()) <= {0.0, 0.5, 1.0}     # each pattern all 0 or all 1
    assert abs(x[:, 5:10].mean() - 0.5) < 0.02


def test_window_readout_sees_only_the_last_steps():
    torch.manual_seed(0)
    net = network.build("4-8FC-2", variant="complete_leak", readout="mem_mean", readout_beta=0.0, readout_window=3,
                        neuron={"threshold": 0.1})
    x = (torch.rand(12, 5, 4) < 0.5).float()
    changed_early, changed_late = x.clone(), x.clone()
    changed_early[:9] = 1 - changed_early[:9]
    changed_late[-1] = 1 - changed_late[-1]
    assert torch.allclose(net(x), net(changed_early))      # no memory anywhere: steps before the window are unseen
    assert not torch.allclose(net(x), net(changed_late))
    with pytest.raises(ValueError, match="readout_window"):
        network.build("4-8FC-2", readout="mem_last", readout_window=3)


def test_roles_delayed_xor_net_is_dhsnn_size_and_same_readout_for_every_variant():
    for variant in ["vanilla", "no_leak", "complete_leak", "no_reset", "recurrent", "linear_leak"]:
        cfg = compose(["experiment=roles_delayed_xor", f"variant={variant}"])
        model = build_model(cfg, (20,))
        assert [layer.ops[-1].out_features for layer in model.layers] == [16] and model.n_classes == 2
        assert (model.readout.kind, model.readout.window) == ("integrator_softmax", 9)   # steps 191..199
        assert model.readout.leak_parameter.requires_grad
        old = build_model(compose(["experiment=roles_delayed_xor_table5", f"variant={variant}"]), (20,))
        assert (old.readout.kind, old.readout.window, old.readout.beta) == ("mem_mean", 10, 0.8808)


def test_roles_delayed_xor_is_dhsnn_script():
    cfg = compose(["experiment=roles_delayed_xor"])
    d, t = cfg.dataset, cfg.train
    assert (d.name, d.fresh, d.n_train) == ("delayed_xor_dhsnn", True, 50000)
    assert (t.batch_size, t.lr, t.epochs, t.schedule, t.step_size, t.gamma) == (500, 0.01, 150, "step", 50, 0.1)
    assert (t.loss, t.optimizer, cfg.neuron.threshold) == ("nll_steps", "adam", 1.0)
    assert t.epochs * d.n_train // t.batch_size == 15000          # DH-SNN: 150 epochs x 100 steps


@pytest.mark.parametrize("name", ["roles_shd", "roles_ssc"])
def test_temporal_presets_are_dhsnn_shd_script(name):
    cfg = compose([f"experiment={name}"])
    frame, t = cfg.dataset.frame, cfg.train
    assert (frame.time_window_ms, frame.duration_ms, frame.clip) == (1, 1000, 1)     # T = 1000 binary bins
    assert (cfg.model.readout, cfg.model.readout_window) == ("integrator_softmax", 989)  # softmax summed for t > 10
    assert (t.batch_size, t.lr, t.epochs, t.step_size, t.gamma, t.loss) == (100, 0.01, 100, 20, 0.5, "ce_mem")
    assert cfg.neuron.threshold == 1.0
    old = compose([f"experiment={name}_table5"])
    assert (old.dataset.frame.time_window_ms, old.model.readout, old.train.batch_size) == (10, "spike_count", 512)


DHSNN_PRESETS = ["roles_delayed_xor", "roles_shd", "roles_ssc"]


@pytest.mark.parametrize("name", [name for name in ROLES if name not in DHSNN_PRESETS])
def test_every_roles_preset_states_tau_and_surrogate_form(name):
    cfg = compose([f"experiment={name}"])
    assert float(cfg.neuron.tau) == 10.0 and cfg.neuron.surrogate.name == "rectangular"
    for variant in ["no_leak", "complete_leak", "linear_leak"]:  # their leak is fixed: no tau
        other = compose([f"experiment={name}", f"variant={variant}"])
        assert other.neuron.tau is None
        neuron_spec(other)
    assert float(compose([f"experiment={name}", "neuron.tau=30"]).neuron.tau) == 30.0


@pytest.mark.parametrize("name", DHSNN_PRESETS)
def test_dhsnn_presets_run_dhsnn_neuron_where_the_variant_has_its_leak(name):
    for variant, reset in [("vanilla", "subtract"), ("no_reset", "none"), ("recurrent", "subtract")]:
        spec = neuron_spec(compose([f"experiment={name}", f"variant={variant}"]))
        assert (spec.input_scale, spec.leak_shape, spec.leak_init, spec.learn_beta) == (
            "one_minus_beta", "per_neuron", "uniform(0,4)", True)
        assert spec.surrogate == "multi_gaussian" and spec.threshold == 1.0 and spec.tau is None
        assert spec.reset == reset                                  # DH-SNN's soft reset; no_reset keeps none
    for variant, leak, scale in [("no_leak", "none", "one_minus_beta"), ("complete_leak", "complete", "one_minus_beta"),
                                 ("linear_leak", "linear", "none")]:
        spec = neuron_spec(compose([f"experiment={name}", f"variant={variant}"]))   # fixed leaks stay fixed
        assert (spec.leak, spec.leak_init, spec.learn_beta, spec.input_scale) == (leak, None, False, scale)
        assert spec.surrogate == "multi_gaussian" and spec.reset == "subtract"
    old = neuron_spec(compose([f"experiment={name}", "neuron.input_scale=none", "neuron.leak_shape=scalar",
                               "neuron.leak_init=null", "neuron.learn_beta=false", "neuron.tau=10", "neuron.reset=zero"]))
    assert (old.input_scale, old.leak_init, old.reset) == ("none", None, "zero")
    assert old.beta_value == pytest.approx(0.9048, abs=1e-4)


@pytest.mark.parametrize("path", sorted((CONF_DIR / "experiment" / "roles_base").glob("*.yaml")), ids=lambda p: p.stem)
def test_roles_base_values_name_their_source(path):
    text = path.read_text()
    assert text.startswith("# @package _global_")
    for line in text.split("\n"):
        code = line.split("#", 1)[0].strip()
        if not code or code.endswith(":") or code.startswith("- override"):
            continue
        comment = line.split("#", 1)[1] if "#" in line else ""
        assert re.search(r"seed 00[13]|DH-SNN .*line|assumption|states none|silent", comment), \
            f"{path.name}: {line.strip()!r}"
    if path.stem == "common":
        assert "assumption" in text and "k_tau" in text and "rectangular" in text


def test_roles_tau_study_composes_every_cell():
    definition = load_definition("roles_tau")
    assert definition.sampler_name == "grid"
    base = check_definition(definition)                # composes every tau x variant cell, or raises
    assert base.dataset.name == "delayed_xor_dhsnn"
    for tau, beta in [("0.1", 0.0), ("inf", 1.0)]:
        spec = neuron_spec(compose(["experiment=roles_delayed_xor_table5", f"neuron.tau={tau}"]))
        assert spec.beta_value == pytest.approx(beta, abs=1e-4)


def test_tau_cannot_be_forced_on_a_variant_without_exponential_leak():
    with pytest.raises(UserError, match="tau"):
        neuron_spec(compose(["experiment=roles_delayed_xor", "variant=no_leak", "neuron.tau=5"]))
