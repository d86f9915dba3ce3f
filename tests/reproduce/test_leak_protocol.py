"""Seed 003's network internals from ref [21]: model options, readout precision, tau figure selection."""

import math

import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from ablations import network
from ablations.config import build_model, compose
from ablations.figures import leak as leak_figures


def _vgg(overrides=()):
    cfg = compose(["experiment=leak_cifar10", "model.layers=16C3-16C3-2P-32FC-10", *overrides])
    return build_model(cfg, (3, 8, 8))


def test_vgg_preset_is_bias_free_he_normal_with_spiking_pooling_and_dropout_before_it():
    torch.manual_seed(0)
    net = _vgg()
    weighted = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert weighted and all(m.bias is None for m in weighted)
    conv2 = net.layers[1].ops[-1]
    fan_in = 16 * 3 * 3
    assert float(conv2.weight.detach().std()) == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.1)  # ref [21] lines 445-459
    names = [layer.name for layer in net.layers]
    assert names == ["layer1", "layer2", "pool1", "layer3"]
    pool = net.layers[2]
    assert [type(op).__name__ for op in pool.ops] == ["TimeDropout", "AvgPool2d"]  # mask, then pool (ref [21])
    assert pool.neuron.spec.threshold == 0.75 and pool.neuron.spec.leak == "none"


def test_pooling_neuron_fires_at_075_resets_and_passes_gradient_one():
    neuron = network.build("4-4FC-2", pool="spiking")  # the spec helper is shared by every spiking pool
    spec = network._pooling_spec(0.75)
    from ablations import neurons
    cell = neurons.build(spec)
    current = torch.tensor([0.5, 0.3, 0.2, 0.8]).view(4, 1, 1).requires_grad_(True)
    spikes, membrane = neurons.simulate(cell, current)
    # U: 0.5, 0.8 (fires, > 0.75), 0.2 (reset to 0 first), 1.0 (fires)
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    spikes.sum().backward()
    assert current.grad.flatten().tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert neuron.readout.kind == "mem_last"


def test_readout_integrates_in_float32_under_autocast():
    net = network.build("6-8FC-3", variant="vanilla", neuron={"tau": 30.0})
    x = (torch.rand(20, 2, 6) < 0.5).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.float32


def test_default_options_keep_the_old_network():
    net = network.build("6-8FC-3")
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Linear))
    with pytest.raises(ValueError, match="model.init"):
        network.build("6-8FC-3", init="xavier")
    with pytest.raises(ValueError, match="model.pool"):
        network.build("6-8FC-3", pool="min")


def _fake_run(root, name, tau, lr, seed):
    run = root / name
    run.mkdir()
    config = {"neuron": {"tau": tau, "variant": "vanilla", "leak": "exponential"}, "train": {"lr": lr}, "seed": seed}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return {"run_dir": str(run), "dataset": "digits", "leak": "exponential", "tau": tau, "beta": None,
            "beta_value": math.exp(-1 / tau) if math.isfinite(tau) else 1.0, "reset": "zero", "recurrent": False,
            "config_hash": f"{tau}-{lr}", "value": 1.0}


def test_tau_figures_keep_the_setting_shared_by_most_taus(tmp_path):
    rows = pd.DataFrame([
        _fake_run(tmp_path, "a", 30.0, 0.1, 0), _fake_run(tmp_path, "b", 100.0, 0.1, 0),
        _fake_run(tmp_path, "c", math.inf, 0.1, 0), _fake_run(tmp_path, "d", 30.0, 0.1, 1),
        _fake_run(tmp_path, "e", 30.0, 0.5, 0), _fake_run(tmp_path, "f", 30.0, 0.5, 1),
        _fake_run(tmp_path, "g", 30.0, 0.5, 2),
    ])
    kept, note = leak_figures.same_setting(rows)
    assert sorted(kept["run_dir"].map(lambda p: p[-1])) == ["a", "b", "c", "d"]
    assert note and "3 run(s)" in note
