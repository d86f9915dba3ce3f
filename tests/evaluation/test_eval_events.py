"""Event-data parts of the evaluation suites on a small trained `digits_events` run."""

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from ablations import data as datasets
from ablations import evaluate as evaluate_cli
from ablations import evaluation, results
from ablations.evaluation.adversarial import g2s, spike_attack
from ablations.run import run


@pytest.fixture(scope="module")
def event_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("event_runs")
    return run(["dataset=digits_events", "dataset.frame.clip=1", "train.epochs=2", f"paths.runs={root / 'runs'}",
                f"paths.data={root / 'data'}", "progress=false"])


def _load(run_dir, **eval_params):
    model, cfg = results.load_model(run_dir)
    cfg.eval = OmegaConf.create({name: dict(values) for name, values in eval_params.items()})
    return model, datasets.build_dataset(cfg.dataset, cfg.paths.data), cfg


def test_spike_attack_keeps_binary_spikes_and_fools_the_network(event_run):
    model, data, cfg = _load(event_run)
    x, y = next(iter(torch.utils.data.DataLoader(data.test, batch_size=40)))
    inputs = data.encoder(x)
    assert set(inputs.unique().tolist()) <= {0.0, 1.0}
    out = spike_attack(model, inputs, y, "mse_onehot", max_iterations=20, flip_rate=0.01,
                       generator=torch.Generator().manual_seed(0))
    adversarial = out["adversarial"]
    assert set(adversarial.unique().tolist()) <= {0.0, 1.0}
    attacked, success = out["attacked"], out["success"]
    assert int(attacked.sum()) > 20 and bool((success <= attacked).all())
    assert float(success.sum()) / float(attacked.sum()) > 0.5
    with torch.no_grad():
        assert bool((model(adversarial).argmax(1)[success] != y[success]).all())
    untouched = ~attacked
    assert torch.equal(adversarial[:, untouched], inputs[:, untouched])


def test_gradient_to_spike_is_ternary_and_follows_the_gradient_sign():
    grad = torch.tensor([[[0.0, -2.0, 1.0, 4.0]], [[-4.0, 0.5, 0.0, 0.0]]])  # [T=2, B=1, 4]
    delta = g2s(grad, torch.Generator().manual_seed(1))
    assert set(delta.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert bool((delta * grad >= 0).all()) and bool((delta[grad == 0] == 0).all())
    assert delta[0, 0, 3] == 1.0 and delta[1, 0, 0] == -1.0  # the largest |g| flips with probability 1


def test_adversarial_suite_reports_success_rate_and_perturbation(event_run):
    model, data, cfg = _load(event_run, adversarial={"n_samples": 60, "max_iterations": 10})
    frame = evaluation.run_suite("adversarial", model, data, cfg)
    values = frame.set_index(["attack", "metric"]).value
    assert 0.5 < values[("none", "accuracy")] <= 1.0
    assert values[("g2s", "accuracy")] < values[("none", "accuracy")]
    assert 0.5 < values[("g2s", "attack_success_rate")] <= 1.0
    assert 0 < values[("g2s", "mean_l2_perturbation")] < 1
    assert values[("g2s", "mean_flipped_spikes")] >= 1
    # binary flips: the root-mean-square perturbation is sqrt(flips / entries)
    entries = int(np.prod(data.input_shape)) * data.steps
    assert values[("g2s", "mean_l2_perturbation")] ** 2 <= values[("g2s", "mean_flipped_spikes")] / entries + 1e-9


def test_generalization_tests_other_frame_time_windows(event_run):
    params = {"n_samples": 80, "batch_size": 40, "seed": 2}
    model, data, cfg = _load(event_run, generalization=dict(params, time_windows_ms=[1, 3, 10]),
                             clean=params)
    frame = evaluation.run_suite("generalization", model, data, cfg, run_dir=event_run)
    windows = frame[frame.time_window_ms.notna()]
    assert sorted(set(windows.time_window_ms)) == [1.0, 3.0, 10.0]
    assert (windows.trained_time_window_ms == 3.0).all()
    steps = windows.drop_duplicates("time_window_ms").set_index("time_window_ms").window_steps
    assert steps[1.0] == 90 and steps[3.0] == 30 and steps[10.0] == 9
    clean = evaluation.run_suite("clean", model, data, cfg)
    trained = windows[(windows.time_window_ms == 3.0) & (windows.metric == "accuracy")].value.iloc[0]
    assert trained == clean[clean.metric == "accuracy"].value.iloc[0]
    assert set(frame.metric) >= {"train_sse", "test_sse", "accuracy", "loss", "sse"}


def test_spectral_on_events_has_only_the_clean_condition(event_run):
    model, data, cfg = _load(event_run, spectral={"n_samples": 20})
    frame = evaluation.run_suite("spectral", model, data, cfg)
    assert set(frame.condition) == {"clean"}
    assert len(frame[frame.metric == "critical_frequency"]) == 20 * 2


def test_noise_does_not_apply_to_event_data_and_nothing_is_written(event_run, capsys):
    before = sorted(p.name for p in (event_run / "eval").iterdir()) if (event_run / "eval").exists() else []
    assert evaluate_cli.main([f"run={event_run}", "suite=clean,noise"]) == 2
    err = capsys.readouterr().err
    assert "do not apply to event data" in err and "suites for event data: clean" in err
    after = sorted(p.name for p in (event_run / "eval").iterdir()) if (event_run / "eval").exists() else []
    assert after == before
    evaluate_cli.main([f"run={event_run}", "suite=activity", "eval.activity.n_samples=30"])
    activity = pd.read_parquet(event_run / "eval" / "activity.parquet")
    assert set(activity.layer) >= {"layer1", "readout", "network", "input"}
