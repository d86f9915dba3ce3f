"""The papers' named models: every config composes and trains one step on random spikes (T = 2)."""

from __future__ import annotations

import pytest
import torch

from ablations.errors import UserError
from ablations.config import build_model, compose, group_options
from ablations.models.layered import with_dropout
from ablations.models.resnet import BasicBlock, resnet
from ablations.network import TimeDropout

# model -> (dataset whose input it takes, per-step input shape, classes, layer string or None)
MODELS = {
    "vgg9": ("cifar10", (3, 32, 32), 10, "64C3-64C3-2P-128C3-128C3-2P-256C3-256C3-256C3-2P-1024FC-10"),
    "vgg6": ("svhn", (3, 32, 32), 10, "64C3-64C3-2P-256C3-256C3-2P-1024FC-10"),
    "fc_nmnist": ("nmnist", (2, 34, 34), 10, "2312-512-10"),
    "fc_dvs_gesture": ("dvs_gesture", (2, 32, 32), 11, "2048-512-512-11"),
    "fc_mnist": ("mnist", (1, 28, 28), 10, "784-512-10"),
    "fc_shd": ("shd", (700,), 20, "700-64-20"),
    "fc_ssc": ("ssc", (700,), 35, "700-200-35"),
    "fc_delayed_xor": ("delayed_xor_dhsnn", (20,), 2, "20-16FC-2"),
    "lstm": ("digits", (1, 8, 8), 10, None),
    "gru": ("digits", (1, 8, 8), 10, None),
    "rnn": ("digits", (1, 8, 8), 10, None),
    "resnet18": ("cifar10", (3, 32, 32), 10, None),
    "default": ("digits", (1, 8, 8), 10, None),
}


def test_every_shipped_model_is_covered():
    # model=import wraps a user's module given by import path: tests/models/test_model_import.py
    assert sorted(set(group_options("model")) - {"import"}) == sorted(MODELS)


def smoke(model: torch.nn.Module, shape, classes: int, batch: int = 2, steps: int = 2) -> None:
    torch.manual_seed(0)
    x = (torch.rand(steps, batch, *shape) < 0.5).float()
    out = model(x)
    assert out.shape == (batch, classes) and torch.isfinite(out).all()
    (out.float() - 1.0).pow(2).sum().backward()  # non-zero gradient even where no output neuron spiked
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_config_composes_and_runs_forward_backward(name):
    dataset, shape, classes, layers = MODELS[name]
    # ref [21]'s spiking pooling neurons (vgg presets) need more than 2 steps of input to fire, so the
    # two-step smoke test runs them with plain average pooling; tests/reproduce/test_leak_protocol.py covers them
    extra = ["model.pool=avg"] if name in ("vgg9", "vgg6") else []
    cfg = compose([f"model={name}", f"dataset={dataset}", *extra])
    from ablations import models

    builder = models.MODELS[models.builder_of(cfg.model)]
    assert set(builder.all_keys) - {"builder"} <= set(cfg.model), f"model {name} lacks keys its builder reads"
    unused = {k for k in cfg.model if k not in builder.all_keys}
    assert all(cfg.model[k] is None for k in unused), f"model {name} sets keys its builder ignores: {unused}"
    if layers is not None and name != "default":
        assert cfg.model.layers == layers
    model = build_model(cfg, shape)
    assert model.n_classes == classes
    smoke(model, shape, classes, batch=1 if name in ("vgg9", "resnet18") else 2)


def test_dropout_switch_inserts_one_token_per_hidden_layer():
    cfg = compose(["model=vgg9", "dataset=cifar10", "model.dropout=0.2"])
    model = build_model(cfg, (3, 32, 32))
    assert sum(isinstance(m, TimeDropout) for m in model.modules()) == 8  # 7 conv + 1 FC hidden layers
    # the vgg presets place dropout before pooling, as ref [21] does (model.dropout_position)
    assert model.layer_string == ("64C3-0.2D-64C3-0.2D-2P-128C3-0.2D-128C3-0.2D-2P-256C3-0.2D-256C3-0.2D-"
                                  "256C3-0.2D-2P-1024FC-0.2D-10")
    assert with_dropout("64C3-2P-10", 0.2) == "64C3-2P-0.2D-10"  # after_pool, the default elsewhere
    assert with_dropout("2312-512-10", 0.5) == "2312-512-0.5D-10"
    assert with_dropout("2312-512-10", None) == "2312-512-10" == with_dropout("2312-512-10", 0)
    assert with_dropout("64C3-2P-0.1D-10", 0.3) == "64C3-2P-0.1D-10"  # an existing dropout is kept
    with pytest.raises(UserError, match="dropout"):
        build_model(compose(["model=fc_mnist", "dataset=mnist", "model.dropout=1.5"]), (1, 28, 28))


def test_dropout_masks_in_training_only():
    cfg = compose(["model=fc_mnist", "dataset=mnist", "model.dropout=0.5", "model.readout=mem_last"])
    model = build_model(cfg, (1, 28, 28))
    x = torch.ones(2, 3, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    first = model(x)
    assert not torch.equal(first, model(x))


def test_resnet18_structure_and_probes():
    cfg = compose(["model=resnet18", "dataset=cifar10"])
    net = build_model(cfg, (3, 32, 32))
    assert net.layer_string == "resnet18"
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 16 + 3                      # stem, 8 blocks x 2, 3 projection shortcuts
    assert convs[0].kernel_size == (3, 3) and convs[0].stride == (1, 1)  # CIFAR stem
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in net.modules())
    assert sum(isinstance(m, BasicBlock) for m in net.modules()) == 8
    small = resnet("vanilla", (3, 16, 16), n_classes=10, blocks=(1, 1), widths=(4, 8))
    small.probes = True
    x = (torch.rand(2, 2, 3, 16, 16) < 0.5).float()
    small(x)
    assert set(small.records) == {"stem", "stage1.block1.conv1", "stage1.block1.conv2", "stage2.block1.conv1",
                                  "stage2.block1.conv2", "readout"}
    record = small.records["stage2.block1.conv2"]
    assert set(record) == {"input", "current", "spikes", "membrane"}
    assert record["spikes"].shape == (2, 2, 8, 8, 8)    # [T, B, C, H, W] after the stride-2 stage
    assert set(record["spikes"].unique().tolist()) <= {0.0, 1.0}


def test_resnet_rejects_recurrent_variants_and_non_images():
    with pytest.raises(UserError, match="recurrent"):
        build_model(compose(["model=resnet18", "dataset=cifar10", "variant=recurrent"]), (3, 32, 32))
    with pytest.raises(ValueError, match="image inputs"):
        resnet("vanilla", (700,))


def test_vgg_rejects_recurrent_variants():
    with pytest.raises(UserError, match="recurrent"):
        build_model(compose(["model=vgg6", "dataset=svhn", "variant=recurrent"]), (3, 32, 32))
