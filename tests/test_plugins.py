"""Extending the package from outside: a plugin file registers a neuron component (a new part of
the dynamics), a variant that uses it, a dataset, an evaluation suite and a figure, with its YAML in
its own folder; the commands run them. No package file is touched."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""A plugin of its own: a refractory period as a new neuron slot, a subtractive-reset LIF with it, a
tiny parity dataset, a weight-norm suite and its figure."""
import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from ablations import data, evaluation, figures, neurons
from ablations.data.encoders import make_encoder
from ablations.evaluation.common import tidy

class Refractory(neurons.Component):
    """For `refractory_steps` steps after a spike the neuron ignores its input current."""

    slot, name, keys = "refractory", "steps", ("refractory_steps",)
    fused = True  # a claim about itself: no path reads it (the fast paths declare what they run)

    def build(self, cell, spec, n_neurons):
        cell.register_buffer("refractory_steps", torch.as_tensor(float(spec.option("refractory_steps", 2))))

    def init_state(self, cell, like):
        return {"refractory": torch.zeros_like(like)}

    def current(self, cell, current, state, fired, recurrent):
        state["refractory"] = torch.where(fired > 0, cell.refractory_steps, (state["refractory"] - 1).clamp(min=0))
        return current * (state["refractory"] == 0)


class NoRefractory(neurons.Component):
    slot, name = "refractory", "none"  # overrides no hook: changes nothing, so every path runs it


neurons.register_slot("refractory", key="refractory", default="none")
neurons.register_component(NoRefractory())
neurons.register_component(Refractory())
neurons.register_variant("leaky_refractory", neurons.NeuronSpec(leak="exponential", reset="subtract",
                                                                 extra={"refractory": "steps"}))


def tiny_parity(cfg, data_root):
    generator = torch.Generator().manual_seed(int(cfg.split_seed))
    images = torch.rand(96, 1, 4, 4, generator=generator)
    labels = (images.flatten(1) > 0.5).sum(1) % 2
    train, test = TensorDataset(images[:64], labels[:64]), TensorDataset(images[64:], labels[64:])
    return data.DataBundle(name=str(cfg.name), kind="static", train=train, test=test,
                           encoder=make_encoder(str(cfg.encoder), int(cfg.steps)), input_shape=(1, 4, 4), n_classes=2, steps=int(cfg.steps))


data.register("tiny_parity", tiny_parity)


def weight_norm(model, bundle, cfg):
    power = float(cfg.eval.weight_norm.power) if "weight_norm" in cfg.eval else 2.0
    rows = [{"layer": name, "metric": "weight_norm", "value": float(p.detach().norm(power))}
            for name, p in model.named_parameters() if p.dim() > 1]
    return tidy(pd.DataFrame(rows), "weight_norm")


evaluation.register(evaluation.Suite("weight_norm", weight_norm, kinds=("static",),
                                     description="norm of every weight matrix", defaults={"power": 2.0}))


def weight_norms(results):
    """Plugin figure (not a seed figure): weight norms per layer."""
    rows = results[(results["kind"] == "eval") & (results.get("suite") == "weight_norm")]
    figure, ax = plt.subplots()
    ax.bar(rows["layer"].astype(str), rows["value"])
    return figure


figures.register(figures.FigureSpec("weight_norms", weight_norms, "plugin: weight norms per layer"))
'''

VARIANT_YAML = """# @package neuron
variant: leaky_refractory
reset: subtract            # agrees with the registration (a disagreeing key is refused)
refractory_steps: 1        # the plugin component's parameter, overridable as neuron.refractory_steps
"""

DATASET_YAML = """# @package dataset
name: tiny_parity
kind: static
steps: 3
encoder: poisson
signed: false
gain: 1.0
normalize: unit
test_fraction: 0.25
split_seed: 0
layers: 16-8FC-2
"""


def _write_plugin(folder: Path) -> tuple[Path, Path]:
    (folder / "conf" / "variant").mkdir(parents=True)
    (folder / "conf" / "dataset").mkdir(parents=True)
    (folder / "conf" / "variant" / "leaky_refractory.yaml").write_text(VARIANT_YAML)
    (folder / "conf" / "dataset" / "tiny_parity.yaml").write_text(DATASET_YAML)
    plugin = folder / "my_plugin.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    return plugin, folder / "conf"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_plugin_registers_a_variant_dataset_suite_and_figure_and_the_commands_run_them(tmp_path):
    plugin, conf = _write_plugin(tmp_path / "plugin")
    runs = tmp_path / "runs"
    common = [f"plugins=[{plugin}]", f"hydra.searchpath=[file://{conf}]", f"paths.runs={runs}"]
    done = _cli("ablations.run", *common, "variant=leaky_refractory", "dataset=tiny_parity", "train.epochs=1",
                "progress=false", "eval.suites=[weight_norm]", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = list(runs.glob("tiny_parity/default/leaky_refractory/*-seed0"))
    assert "reset subtract" in done.stdout and "refractory steps" in done.stdout
    assert done.stderr.count("run through the per-step path") == 1  # said once: the fused scan does not cover it
    assert (run_dir / "eval" / "weight_norm.parquet").exists()
    recorded = (run_dir / "config.yaml").read_text()
    assert "refractory_steps: 1\n" in recorded and "refractory: steps\n" in recorded  # the record names the part
    other = _cli("ablations.run", *common, "variant=leaky_refractory", "dataset=tiny_parity", "train.epochs=1",
                 "progress=false", "eval.suites=[weight_norm]", "neuron.refractory_steps=3", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert len(list(runs.glob("tiny_parity/default/leaky_refractory/*-seed0"))) == 2  # a parameter: a new run

    again = _cli("ablations.evaluate", f"run={runs}", "suite=weight_norm", "overwrite=true",
                 "eval.weight_norm.power=1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr

    drawn = _cli("ablations.figures", f"runs={runs}", f"out={tmp_path / 'figs'}", "figure=weight_norms",
                 f"plugins={plugin}", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "figs" / "weight_norms.png").exists()

    # without the plugin its dataset is unknown: a clear error naming the valid ones, not a traceback
    unknown = _cli("ablations.run", f"paths.runs={runs}", f"hydra.searchpath=[file://{conf}]",
                   "dataset=tiny_parity", "train.epochs=1", cwd=tmp_path)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "unknown dataset 'tiny_parity'; valid datasets: " in unknown.stderr


@pytest.mark.slow
def test_a_plugin_run_replays_from_another_folder_and_its_import_errors_are_shown(tmp_path):
    import json

    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    folder_b.mkdir(parents=True)
    plugin, _ = _write_plugin(folder_a)
    # relative paths, as typed in the plugin's own folder
    done = _cli("ablations.run", "plugins=[my_plugin.py]", "hydra.searchpath=[file://conf]", "paths.runs=runs",
                "variant=leaky_refractory", "dataset=tiny_parity", "train.epochs=1", "progress=false",
                "eval.suites=[weight_norm]", cwd=folder_a)
    assert done.returncode == 0, done.stderr
    (run_dir,) = list((folder_a / "runs").glob("tiny_parity/default/leaky_refractory/*-seed0"))
    status = json.loads((run_dir / "status.json").read_text())
    recorded = status["overrides"]
    assert f"plugins=[{plugin}]" in recorded and f"hydra.searchpath=[file://{folder_a / 'conf'}]" in recorded
    assert f"paths.runs={folder_a / 'runs'}" in recorded

    # the recorded command, from another folder, into another runs folder: the same run again
    again = _cli("ablations.run", *recorded, f"paths.runs={folder_b / 'runs'}", cwd=folder_b)
    assert again.returncode == 0, again.stderr
    (replayed,) = list((folder_b / "runs").glob("tiny_parity/default/leaky_refractory/*-seed0"))
    assert replayed.name == run_dir.name  # same config hash
    replayed_status = json.loads((replayed / "status.json").read_text())
    assert replayed_status["final"]["accuracy"] == status["final"]["accuracy"]

    evaluated = _cli("ablations.evaluate", f"run={run_dir}", "suite=weight_norm", "overwrite=true", cwd=folder_b)
    assert evaluated.returncode == 0, evaluated.stderr

    plugin.rename(plugin.with_name("moved.py"))  # the plugin's import error is shown, not "unknown suite"
    broken = _cli("ablations.evaluate", f"run={run_dir}", "suite=weight_norm", "overwrite=true", cwd=folder_b)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert f"plugin '{plugin}' could not be imported (FileNotFoundError" in broken.stderr, broken.stderr
    assert "unknown evaluation suite" not in broken.stderr


def _refractory_if_neuron(slot_name: str):
    """IF (no leak) with a refractory period of 2 steps, from a component that claims ``fused = True``."""
    import torch

    from ablations import neurons

    class ClaimsFused(neurons.Component):
        slot, name, fused = slot_name, "steps", True

        def init_state(self, cell, like):
            return {"refractory": torch.zeros_like(like)}

        def current(self, cell, current, state, fired, recurrent):
            state["refractory"] = torch.where(fired > 0, torch.full_like(fired, 2.0),
                                              (state["refractory"] - 1).clamp(min=0))
            return current * (state["refractory"] == 0)

    neurons.register_slot(slot_name, key=slot_name, default="none")
    neurons.register_component(ClaimsFused())
    return neurons.build_neuron(neurons.NeuronSpec(leak="none", reset="zero", extra={slot_name: "steps"}))


def test_a_component_that_claims_to_be_fused_gets_the_definitions_spikes(caplog):
    """A plugin component saying ``fused = True`` about itself is not run by a fast path that does not
    declare it: the default backend gives the definition's spikes (once said in the log), and asking
    for a fast path by name is refused with what it does not cover."""
    import copy
    import logging

    import torch

    from ablations import neurons

    slot = "refractory_probe"
    try:
        neuron = _refractory_if_neuron(slot)
        current = torch.full((8, 1, 1), 0.6)
        with caplog.at_level(logging.WARNING, logger="ablations.neurons"):
            spikes = neurons.simulate(neuron, current)[0].flatten().tolist()
        definition = neurons.simulate(neurons.set_backend(copy.deepcopy(neuron), "step"), current)[0]
        assert spikes == definition.flatten().tolist() == [0, 1, 0, 0, 0, 1, 0, 0]
        assert any(f"{slot}=steps run through the per-step path" in r.getMessage() for r in caplog.records)
        for backend in ("fused", "kernel"):
            with pytest.raises(ValueError, match=f"neuron.backend={backend} does not cover {slot}=steps"):
                neurons.set_backend(copy.deepcopy(neuron), backend)
    finally:
        neurons.COMPONENTS.remove(f"{slot}-steps")
        neurons.SLOTS.remove(slot)


HALF_RESET = """
from ablations import neurons


class HalfReset(neurons.FormReset):
    \"\"\"U -> U/2 after a spike: given by its ResetForm, so the fast paths run it too.\"\"\"

    name, form = "half", neurons.ResetForm(scale=0.5)


class ToThreshold(neurons.Component):
    \"\"\"U -> U - theta/2 after a spike, by its own hook: the per-step definition runs it.\"\"\"

    slot, name = "reset", "half_threshold"

    def reset(self, cell, previous, fired, threshold):
        return previous, fired * (0.5 * threshold)


neurons.register_component(HalfReset())
neurons.register_component(ToThreshold())
"""


def test_a_plugin_reset_runs_on_every_path_its_form_allows(tmp_path):
    """A reset registered by a plugin: ``half`` (a ResetForm) on the fast paths equals its definition;
    a reset with its own hook runs on the per-step path."""
    import copy

    import torch

    from ablations import neurons
    from ablations.registry import import_file

    plugin = tmp_path / "half_reset.py"
    plugin.write_text(HALF_RESET)
    import_file(plugin, "half_reset_plugin")
    try:
        torch.manual_seed(0)
        current = torch.rand(12, 3, 4) * 1.2
        for reset in ("half", "half_threshold"):
            neuron = neurons.build_neuron("vanilla", reset=reset, reset_grad=True)
            expected = neurons.simulate(neurons.set_backend(copy.deepcopy(neuron), "step"), current)[0]
            assert expected.sum() > 0
            assert torch.equal(neurons.simulate(neuron, current)[0], expected)
        assert not neurons.torch_scan.uncovered(neurons.spec_for("vanilla", reset="half"))
        assert neurons.torch_scan.uncovered(neurons.spec_for("vanilla", reset="half_threshold")) == \
            ["reset=half_threshold"]
    finally:
        neurons.COMPONENTS.remove("reset-half")
        neurons.COMPONENTS.remove("reset-half_threshold")


@pytest.mark.slow
def test_a_plugin_reset_trains_through_the_command_line(tmp_path):
    plugin = tmp_path / "half_reset.py"
    plugin.write_text(HALF_RESET)
    done = _cli("ablations.run", f"plugins=[{plugin}]", "neuron.reset=half", "dataset.steps=4", "train.epochs=1",
                "progress=false", f"paths.runs={tmp_path / 'runs'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "reset half" in done.stdout
    assert "per-step path" not in done.stderr  # its ResetForm runs on the fast path
    (run_dir,) = list((tmp_path / "runs").glob("*/*/*/*-seed0"))
    assert "reset: half\n" in (run_dir / "config.yaml").read_text()
    unknown = _cli("ablations.run", "neuron.reset=half", "dataset.steps=4", "train.epochs=1",
                   f"paths.runs={tmp_path / 'runs'}", cwd=tmp_path)
    assert unknown.returncode == 2 and "neuron.reset='half' is not one of" in unknown.stderr
