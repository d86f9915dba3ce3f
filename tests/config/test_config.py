"""Configs are strict: every option of a group takes the same keys, a key the chosen option does not
use is an error naming the valid ones, and each name has one source of truth."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ablations import neurons
from ablations.config import compose, group_options, validate
from ablations.errors import UserError
from ablations.figures import style


@pytest.mark.parametrize("overrides, message", [
    (["neuron.surrogate.name=rectangular", "neuron.surrogate.alpha=9"],
     "neuron.surrogate.alpha=9 is not a parameter of surrogate 'rectangular'.*takes: width"),
    (["model=resnet18", "model.layers=64-10"],
     r"model.layers=64-10: not used by model 'resnet18' \(builder 'resnet'\).*its keys are: name, builder"),
    (["model=vgg9", "+model.blocks=[1,1]"], r"model.blocks=\[1, 1\]: not used by model 'vgg9'"),
])
def test_a_key_the_chosen_option_does_not_use_is_an_error(overrides, message):
    with pytest.raises(UserError, match=message):
        validate(compose(overrides))


def test_the_chosen_surrogate_takes_its_own_parameters():
    spec = validate(compose(["neuron.surrogate.name=rectangular", "neuron.surrogate.width=0.5"]))
    assert spec.make_surrogate() == neurons.Rectangular(width=0.5)
    # another surrogate's parameter at its default value changes nothing and is accepted
    validate(compose(["neuron.surrogate.name=rectangular", "neuron.surrogate.alpha=2.0"]))


def test_every_layered_model_option_takes_the_same_keys():
    from ablations import models

    keys = set(models.MODELS["layered"].all_keys) - {"builder"}
    for model in group_options("model"):
        cfg = compose([f"model={model}"])
        if models.builder_of(cfg.model) == "layered":
            assert keys <= set(cfg.model), (model, keys - set(cfg.model))
    validate(compose(["model.dropout=0.2"]))


def test_variant_names_have_one_source_of_truth():
    """The YAML presets and the registered variants agree name for name and axis for axis; the
    figures' style knows every one of them."""
    assert set(group_options("variant")) == set(neurons.VARIANTS)
    for name, preset in neurons.VARIANTS.items():
        spec = validate(compose([f"variant={name}"]))
        assert (spec.leak, spec.reset, spec.recurrent, spec.variant) == \
            (preset.leak, preset.reset, preset.recurrent, name), name
    for table in (style.VARIANT_COLORS, style.VARIANT_MARKERS, style.VARIANT_LABELS):
        assert set(table) >= set(neurons.VARIANTS)


def test_the_label_follows_the_physics_through_the_config():
    assert validate(compose(["variant=vanilla", "neuron.reset=none"])).variant == "no_reset"


@pytest.mark.slow
def test_silent_overrides_exit_2_at_the_command_line(tmp_path):
    for overrides, words in ((["neuron.surrogate.name=rectangular", "neuron.surrogate.alpha=9"], "takes: width"),
                             (["model=resnet18", "model.layers=64-10"], "its keys are")):
        done = subprocess.run([sys.executable, "-m", "ablations.run", *overrides, f"paths.runs={tmp_path}"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())


def test_one_prepare_runs_each_check_once(monkeypatch, tmp_path):
    """The one check pass: composing, the override rules, the neuron spec, the model keys, the train keys
    read and the suites each run once for one run, whatever the entry point."""
    import collections
    import functools
    import importlib

    from ablations import evaluation, models, neurons, pipeline, training

    checks = importlib.import_module("ablations.config.checks")
    compose_module = importlib.import_module("ablations.config.compose")
    keys = importlib.import_module("ablations.config.keys")
    calls = collections.Counter()
    for module, name in [(compose_module, "_hydra_compose"), (keys, "check_known"), (keys, "check_read"),
                         (checks, "neuron_spec"), (neurons, "spec_from_config"), (models, "check_keys"),
                         (training, "keys_read"), (evaluation, "check"), (evaluation, "resolve")]:
        original = getattr(module, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, functools.wraps(original)(counted))
    pipeline.prepare(["eval.suites=[noise]", "+train.grad_clip=1.0", "neuron.tau=30", f"paths.runs={tmp_path}"])
    assert dict(calls) == {name: 1 for name in ("_hydra_compose", "check_known", "check_read", "neuron_spec",
                                                "spec_from_config", "check_keys", "keys_read", "check", "resolve")}
