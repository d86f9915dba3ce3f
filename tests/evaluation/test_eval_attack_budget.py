"""The event attack iterates to success within a stated budget and reports its L2 size in two
named normalisations beside the success rate; published Fig. 9 values only on N-MNIST panels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ablations import data as datasets
from ablations import evaluation, results
from ablations.evaluation.adversarial import spike_attack
from ablations.run import run


@pytest.fixture(scope="module")
def event_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack_runs")
    return run(["dataset=digits_events", "dataset.frame.clip=1", "train.epochs=1", f"paths.runs={root / 'runs'}",
                f"paths.data={root / 'data'}", "progress=false"])


def test_budgeted_attack_reaches_full_success_and_reports_both_l2(event_run):
    model, cfg = results.load_model(event_run)
    cfg.eval = OmegaConf.create({"adversarial": {"n_samples": 40, "max_iterations": 400}})
    data = datasets.build_dataset(cfg.dataset, cfg.paths.data)
    frame = evaluation.run_suite("adversarial", model, data, cfg)
    g2s = frame[frame["attack"] == "g2s"].set_index("metric")
    assert set(g2s["budget"]) == {400}
    assert g2s.loc["attack_success_rate", "value"] == 1.0               # iterated until every sample fell
    assert (g2s["success_rate"] == 1.0).all()                           # beside every row
    assert g2s.loc["mean_l2_perturbation", "l2_normalisation"] == "rms_per_entry"
    assert g2s.loc["mean_l2_norm", "l2_normalisation"] == "none"
    entries = int(np.prod(data.input_shape)) * data.steps
    assert g2s.loc["mean_l2_norm", "value"] / math.sqrt(entries) == pytest.approx(g2s.loc["mean_l2_perturbation", "value"])
    assert 1 <= g2s.loc["mean_iterations", "value"] <= 400


def test_a_small_budget_is_stated_and_can_leave_samples_unbroken(event_run):
    model, cfg = results.load_model(event_run)
    data = datasets.build_dataset(cfg.dataset, cfg.paths.data)
    x, y = next(iter(torch.utils.data.DataLoader(data.test, batch_size=40)))
    out = spike_attack(model, data.encoder(x), y, str(cfg.train.loss), max_iterations=1, flip_rate=0.0,
                       generator=torch.Generator().manual_seed(0))
    assert bool((out["iterations"][out["success"]] == 1).all()) and bool((out["iterations"][~out["success"]] == 0).all())
    with pytest.raises(Exception, match="max_iterations"):
        spike_attack(model, data.encoder(x), y, str(cfg.train.loss), max_iterations=0, flip_rate=0.0)


def test_published_attack_values_only_on_the_nmnist_panel():
    import pandas as pd
    from matplotlib.lines import Line2D

    from ablations.figures import roles

    rows = []
    for dataset in ("digits_events", "nmnist"):
        for variant in ("vanilla", "no_leak"):
            for metric, value in (("attack_success_rate", 1.0), ("mean_l2_perturbation", 0.02)):
                rows.append({"kind": "eval", "suite": "adversarial", "metric": metric, "value": value,
                             "attack": "g2s", "dataset": dataset, "variant": variant, "seed": 0, "budget": 200,
                             "run_dir": f"runs/{dataset}/{variant}", "config_hash": f"{dataset}{variant}",
                             "status": "finished", "model": "default"})
    figure = roles.attack(pd.DataFrame(rows))
    titles = {ax.get_title(): ax for ax in figure.axes if ax.get_title()}
    diamonds = {title: sum(1 for line in ax.lines if isinstance(line, Line2D) and line.get_marker() == "D")
                for title, ax in titles.items()}
    assert all(("budget 200" in title) for title in diamonds)
    assert all(count == 0 for title, count in diamonds.items() if "digits_events" in title)
    assert all(count == 2 for title, count in diamonds.items() if "nmnist" in title)
