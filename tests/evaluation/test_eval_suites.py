"""Evaluation suites on small trained `digits` runs: what they measure, the runner and the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from ablations import data as datasets
from ablations import evaluate as evaluate_cli
from ablations import evaluation, results
from ablations.errors import UserError
from ablations.run import run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("eval_runs")


@pytest.fixture(scope="module")
def vanilla(root):
    """Vanilla LIF, 2 epochs, with two suites run at the end of training."""
    return run(["train.epochs=2", f"paths.runs={root}", "progress=false", "eval.suites=[clean,generalization]"])


@pytest.fixture(scope="module")
def integrate_and_fire(root):
    return run(["variant=no_leak", "train.epochs=4", f"paths.runs={root}", "progress=false"])


def _load(run_dir, **eval_params):
    model, cfg = results.load_model(run_dir)
    cfg.eval = OmegaConf.create({name: dict(values) for name, values in eval_params.items()})
    return model, datasets.build_dataset(cfg.dataset, cfg.paths.data), cfg


def _suite(run_dir, name, **eval_params):
    model, data, cfg = _load(run_dir, **eval_params)
    return evaluation.run_suite(name, model, data, cfg, run_dir=run_dir)


def _value(frame, **conditions):
    mask = np.ones(len(frame), dtype=bool)
    for key, value in conditions.items():
        mask &= (frame[key] == value).to_numpy()
    assert mask.sum() == 1, (conditions, mask.sum())
    return float(frame[mask].value.iloc[0])


def test_suites_listed_at_training_time_are_written_as_tidy_rows(vanilla):
    for name in ("clean", "generalization"):
        frame = pd.read_parquet(vanilla / "eval" / f"{name}.parquet")
        assert {"suite", "metric", "value"} <= set(frame.columns) and (frame.suite == name).all()
    table = results.load_results(vanilla.parent.parent.parent.parent, kinds=["eval"])
    assert set(table.suite) == {"clean", "generalization"}
    assert (table.variant == "vanilla").all()


def test_generalization_rows_are_the_per_epoch_sse_of_training(vanilla):
    frame = pd.read_parquet(vanilla / "eval" / "generalization.parquet")
    metrics = results.read_metrics(vanilla)
    for metric in ("train_sse", "test_sse"):
        rows = frame[frame.metric == metric].sort_values("epoch")
        assert rows.epoch.tolist() == metrics.epoch.tolist()
        np.testing.assert_allclose(rows.value, metrics[metric])


def test_noise_severity_zero_equals_clean_and_same_command_same_numbers(vanilla):
    params = {"n_samples": 120, "batch_size": 50, "seed": 3}
    noise = _suite(vanilla, "noise", noise=dict(params, severities=[0, 4, 8]))
    clean = _suite(vanilla, "clean", clean=params)
    accuracy = _value(clean, metric="accuracy")
    zero = noise[(noise.metric == "accuracy") & (noise.severity == 0)]
    assert len(zero) == 4 and (zero.value == accuracy).all()
    sse = noise[(noise.metric == "sse") & (noise.severity == 0)]
    np.testing.assert_allclose(sse.value, _value(clean, metric="sse"))
    again = _suite(vanilla, "noise", noise=dict(params, severities=[0, 4, 8]))
    pd.testing.assert_frame_equal(noise, again)


def test_noise_levels_stacked_into_one_pass_give_the_numbers_of_one_pass_each(vanilla, monkeypatch):
    from ablations.evaluation import noise as noise_suite

    params = {"n_samples": 60, "batch_size": 30, "seed": 1, "severities": [0, 3, 6]}
    stacked = _suite(vanilla, "noise", noise=params)
    monkeypatch.setattr(noise_suite, "STACK_BYTES", 1)  # one level per forward pass
    single = _suite(vanilla, "noise", noise=params)
    # the same numbers up to float rounding: a larger product may sum in another order on another CPU and
    # flip a spike at the threshold, so at most one of the 60 samples may change its answer; samples of
    # one level read as another's would move the accuracy by tens of points
    assert stacked[["metric", "noise", "scenario", "severity"]].equals(single[["metric", "noise", "scenario", "severity"]])
    accuracy = stacked["metric"] == "accuracy"
    assert (stacked.loc[accuracy, "value"] - single.loc[accuracy, "value"]).abs().max() <= 1 / 60 + 1e-12
    assert ((stacked.loc[~accuracy, "value"] - single.loc[~accuracy, "value"]).abs()
            <= 0.05 * single.loc[~accuracy, "value"].abs() + 1e-6).all()


def test_noise_top_level_lowers_an_if_networks_accuracy_without_saturating(integrate_and_fire):
    """The calibrated levels (seed 003's spectrum, ablations/data/noise.py): level 8 costs accuracy
    but leaves the network far from chance (the earlier table brought it to chance)."""
    frame = _suite(integrate_and_fire, "noise", noise={"severities": [0, 8]})
    accuracy = frame[frame.metric == "accuracy"]
    assert (accuracy[accuracy.severity == 0].value > 0.85).all()
    top = accuracy[accuracy.severity == 8].set_index(["noise", "scenario"]).value
    clean = float(accuracy[accuracy.severity == 0].value.iloc[0])
    assert len(top) == 4 and (top > 0.5).all() and (top <= clean + 0.01).all(), top
    assert top[("gaussian", 1)] < clean, top


def test_fgsm_at_zero_is_clean_and_attacks_lower_accuracy_as_epsilon_grows(vanilla):
    params = {"n_samples": 100, "batch_size": 50, "seed": 1}
    frame = _suite(vanilla, "adversarial", adversarial=dict(
        params, epsilons=[0.0, 0.1, 0.3], eot_samples=2, pgd_steps=3))
    clean = _value(_suite(vanilla, "clean", clean=params), metric="accuracy")
    for attack in ("fgsm", "pgd", "random_control"):
        assert _value(frame, attack=attack, epsilon=0.0) == clean
    for attack in ("fgsm", "pgd"):
        curve = [_value(frame, attack=attack, epsilon=e) for e in (0.0, 0.1, 0.3)]
        assert curve[0] >= curve[1] >= curve[2] and curve[2] < curve[0] - 0.2, (attack, curve)
    assert _value(frame, attack="pgd", epsilon=0.3) <= _value(frame, attack="fgsm", epsilon=0.3) + 0.02
    assert _value(frame, attack="random_control", epsilon=0.3) > _value(frame, attack="pgd", epsilon=0.3) + 0.2


def test_activity_counts_input_spikes_times_fan_out(vanilla):
    frame = _suite(vanilla, "activity", activity={"n_samples": 100})
    layer = frame[frame.neuron.isna() & frame.time_step.isna()].set_index(["metric", "layer"]).value
    steps, inputs, hidden = 16, 64, 128
    # every trained weight is non-zero: each input spike triggers 128 accumulates
    assert layer[("synaptic_ops", "layer1")] == pytest.approx(layer[("input_rate", "input")] * steps * inputs * hidden)
    assert layer[("synaptic_ops", "network")] == pytest.approx(
        layer[("synaptic_ops", "layer1")] + layer[("synaptic_ops", "readout")])
    assert layer[("dense_macs", "layer1")] == steps * inputs * hidden
    assert 0 < layer[("spike_rate", "layer1")] < 1
    assert layer[("synaptic_ops", "readout")] == pytest.approx(layer[("spike_rate", "layer1")] * steps * hidden * 10)
    neurons = frame[(frame.metric == "spike_rate") & frame.neuron.notna()]
    assert len(neurons) == hidden and neurons.value.mean() == pytest.approx(layer[("spike_rate", "layer1")])
    enwsi = frame[frame.metric == "enwsi"]
    assert sorted(enwsi.time_step) == list(range(1, steps + 1)) and (enwsi.value > 0).all()


def test_spectral_noise_adds_high_frequencies_and_critical_frequency_per_sample(vanilla):
    frame = _suite(vanilla, "spectral", spectral={"n_samples": 60})
    power = frame[frame.metric == "input_power"]
    nyquist = power[power.frequency == 0.5]  # frequency as a fraction of the sampling rate (seed 003's unit)
    clean = float(nyquist[nyquist.condition == "clean"].value.iloc[0])
    noisy = float(nyquist[(nyquist.condition == "noisy") & (nyquist.scenario == 2)].value.iloc[0])
    assert noisy > 1.1 * clean  # level 5 widens the band (ablations/data/noise.py calibration) ...
    dc = power[power.frequency == 0.0]
    clean_dc = float(dc[dc.condition == "clean"].value.iloc[0])
    assert (abs(dc[dc.condition == "noisy"].value / clean_dc - 1) < 0.15).all()  # ... and keeps the mean spectrum
    critical = frame[frame.metric == "critical_frequency"]
    assert len(critical) == 60 * 3 * 2  # samples x (clean, noisy s1, noisy s2) x traces
    assert critical.value.between(0, 0.5).all()
    assert set(critical.trace) == {"current", "membrane"}
    per_image = frame[frame.metric == "input_critical_frequency"]
    assert len(per_image) == 60 * 3 and per_image.value.between(0, 0.5).all()


def test_landscape_restores_the_weights_and_its_centre_is_the_trained_loss(vanilla):
    model, data, cfg = _load(vanilla, landscape={"grid_size": 3, "n_samples": 64, "batch_size": 64},
                             clean={"n_samples": 64, "batch_size": 64})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frame = evaluation.run_suite("landscape", model, data, cfg)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    loss = frame[frame.metric == "loss"]
    assert len(loss) == 9 and sorted(set(loss.x)) == [-1.0, 0.0, 1.0]
    clean = evaluation.run_suite("clean", model, data, cfg)
    assert _value(loss, x=0.0, y=0.0) == pytest.approx(_value(clean, metric="loss"), rel=1e-6)
    assert _value(loss, x=0.0, y=0.0) < loss.value.max()


def test_embedding_has_two_coordinates_per_sample_and_separates_classes(vanilla):
    frame = _suite(vanilla, "embedding", embedding={"n_samples": 150})
    assert len(frame[frame.metric == "tsne_x"]) == 150 and len(frame[frame.metric == "tsne_y"]) == 150
    assert frame[frame.metric == "tsne_x"].label.between(0, 9).all()
    silhouette = frame[frame.metric == "silhouette"].set_index("space").value
    assert set(silhouette.index) == {"tsne", "spike_counts"}
    assert silhouette["spike_counts"] > 0.05


def test_coherence_suite_rows_are_tidy():
    cfg = OmegaConf.create({"eval": {"coherence": {"simulate": False, "n_omega": 12}}})
    frame = evaluation.run_suite("coherence", None, None, cfg)
    curves = frame[frame.metric == "coherence"]
    assert set(curves.neuron) == {"if", "lif_low_leak", "lif_high_leak"} and len(curves) == 36
    band = curves[curves.omega < 2.0].pivot_table(index="omega", columns="neuron", values="value")
    assert (band["if"] > band["lif_low_leak"]).all() and (band["lif_low_leak"] > band["lif_high_leak"]).all()
    assert len(frame[frame.metric == "firing_rate_hz"]) == 3


def test_run_suites_skips_what_is_there_and_overwrites_on_request(vanilla, capsys):
    _, cfg = results.load_model(vanilla)
    path = vanilla / "eval" / "clean.parquet"
    stamp = path.stat().st_mtime_ns
    assert evaluation.run_suites(vanilla, ["clean"], cfg) == {}
    assert path.stat().st_mtime_ns == stamp and "skipped" in capsys.readouterr().out
    written = evaluation.run_suites(vanilla, ["clean"], cfg, overwrite=True)
    assert written == {"clean": path} and path.stat().st_mtime_ns != stamp


def test_bad_suite_names_fail_before_anything_is_written(vanilla, tmp_path):
    _, cfg = results.load_model(vanilla)
    with pytest.raises(UserError, match="valid suites: clean, noise"):
        evaluation.run_suites(tmp_path, ["clean", "bogus"], cfg)
    with pytest.raises(UserError, match="do not apply to event data"):
        evaluation.resolve(["noise"], "event")
    assert evaluation.resolve("all", "event") == [n for n in evaluation.SUITES if n != "noise"]
    assert not (tmp_path / "eval").exists()


def _cli_fails(capsys, argv, message):
    assert evaluate_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    return err


def test_cli_bad_input_exits_2_with_one_message_and_writes_nothing(vanilla, tmp_path, capsys):
    before = sorted(p.name for p in (vanilla / "eval").iterdir())
    _cli_fails(capsys, [f"run={vanilla}", "suite=bogus"], "unknown evaluation suite")
    _cli_fails(capsys, [f"run={vanilla}", "suite=noise", "eval.noise.bogus=1"], "eval.noise has no parameter")
    _cli_fails(capsys, [f"run={tmp_path}", "suite=clean"], "no run record")
    _cli_fails(capsys, [f"run={vanilla}"], "suite= is required")
    _cli_fails(capsys, [f"run={vanilla}", "suite=clean", "colour=red"], "unknown key 'colour'; keys: debug")
    # what `run` refuses, `evaluate` refuses in the same words: a parameter of a suite this command does not
    # evaluate, and one the suite reads on other data only (digits is static data)
    _cli_fails(capsys, [f"run={vanilla}", "suite=noise", "eval.adversarial.n_samples=5"],
               "eval.adversarial.n_samples=5 changes nothing: suite adversarial is not evaluated by this command")
    _cli_fails(capsys, [f"run={vanilla}", "suite=adversarial", "eval.adversarial.flip_rate=0.1"],
               "eval.adversarial.flip_rate is read on event/temporal data only")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text((vanilla / "config.yaml").read_text())
    results.write_status(unfinished, {"status": "running"})
    _cli_fails(capsys, [f"run={unfinished}", "suite=clean"], "no finished run")
    assert sorted(p.name for p in (vanilla / "eval").iterdir()) == before
    assert not (unfinished / "eval").exists()


@pytest.mark.slow
def test_cli_evaluates_every_finished_run_below_a_folder(vanilla, integrate_and_fire, root):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "ablations.evaluate", f"run={root}", "suite=activity,clean",
                           "eval.activity.n_samples=50"], capture_output=True, text=True, env=env, cwd=root)
    assert done.returncode == 0, done.stderr
    for run_dir in (vanilla, integrate_and_fire):
        assert (run_dir / "eval" / "activity.parquet").exists() and (run_dir / "eval" / "clean.parquet").exists()
    assert "eval activity:" in done.stdout and " s -> " in done.stdout
    assert "clean: already in" in done.stdout  # the vanilla run had it from training
