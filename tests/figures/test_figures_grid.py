"""The generic grid figures (ablations/figures/grid.py) on a small results table of the shape
ablations.results.load_results returns: runs, epochs and evaluation rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ablations import figures
from ablations.figures import grid, layout
from ablations.figures.missing import MissingResults


def _table(taus=(10.0,), variants=("vanilla", "no_leak", "no_reset"), seeds=(0, 1, 2)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for variant in variants:
        for tau in taus:
            for seed in seeds:
                run_dir = f"runs/digits/default/{variant}/{tau}-seed{seed}"
                base = {"run_dir": run_dir, "status": "finished", "dataset": "digits", "model": "default",
                        "variant": variant, "tau": None if variant == "no_leak" else tau, "seed": seed,
                        "leak": "none" if variant == "no_leak" else "exponential"}
                accuracy = 0.8 + 0.05 * rng.standard_normal()
                rows.append({**base, "kind": "run", "accuracy": accuracy, "test_loss": 0.2, "train_loss": 0.25})
                for epoch in (1, 2):
                    rows.append({**base, "kind": "epoch", "epoch": epoch, "test_accuracy": accuracy - 0.1 / epoch,
                                 "test_loss": 0.3 / epoch, "train_loss": 0.35 / epoch})
                for layer, rate in (("layer1", 0.1), ("network", 0.1)):
                    rows.append({**base, "kind": "eval", "suite": "activity", "metric": "spike_rate", "value": rate,
                                 "layer": layer})
                rows.append({**base, "kind": "eval", "suite": "activity", "metric": "spike_rate", "value": 0.3,
                             "layer": "layer1", "neuron": 3})
                rows.append({**base, "kind": "eval", "suite": "adversarial", "metric": "accuracy", "value": 0.8,
                             "attack": "none"})
                rows.append({**base, "kind": "eval", "suite": "adversarial", "metric": "accuracy", "value": 0.1,
                             "attack": "g2s", "budget": 200.0})
                for severity in range(6):
                    rows.append({**base, "kind": "eval", "suite": "noise", "metric": "accuracy", "value": 0.5,
                                 "noise": "gaussian", "scenario": 1, "severity": severity})
    rows.append({"kind": "run", "run_dir": "runs/mnist/x", "status": "finished", "dataset": "mnist", "model": "default",
                 "variant": "vanilla", "seed": 0, "accuracy": 0.9})
    rows.append({"kind": "run", "run_dir": "runs/digits/y", "status": "failed", "dataset": "digits", "model": "default",
                 "variant": "vanilla", "seed": 5})
    return pd.DataFrame(rows)


def _titles(figure) -> list[str]:
    return [ax.get_title(loc="left") for ax in figure.axes if ax.get_visible()]


def test_variant_comparison_draws_every_metric_with_seeds_and_left_outs():
    figure = figures.build("variant_comparison", _table())
    titles = _titles(figure)
    assert titles[:3] == ["test accuracy", "test loss", "train loss"]
    assert "activity: spike_rate" in titles  # the network row; per-neuron rows left to the histograms
    assert "noise: accuracy" in titles  # 6 conditions > 4: their mean per run, and the figure says so
    # a condition missing in one row (the clean row has no budget) is a panel of its own
    assert {"adversarial: accuracy\nattack=none", "adversarial: accuracy\nattack=g2s\nbudget=200"} <= set(titles)
    notes = " ".join(layout.notes(figure))
    assert "noise: accuracy: mean over 6 conditions" in notes
    assert "1 failed run(s)" in notes and "1 run(s) of dataset mnist" in notes
    assert "n = 3 seed(s) per point" in figure._suptitle.get_text()
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["vanilla LIF", "no leak (IF)"]
    assert figures.figure_bytes(figure, "png")[:4] == b"\x89PNG"  # notes stamped under the panels
    assert any(text.get_text().startswith("- noise: accuracy") for text in figure.texts)


def test_a_swept_key_becomes_the_x_axis_and_two_keys_a_heat_map():
    table = _table(taus=(5.0, 20.0, 80.0), variants=("vanilla", "no_reset"))
    assert grid.swept_keys(grid.select.run_rows(table)) == ["variant", "tau"]
    comparison = figures.build("variant_comparison", table)
    assert comparison.axes[0].get_xlabel() == "tau"
    mixed = pd.concat([table, _table(variants=("no_leak",))])  # no_leak has no tau: a dashed line at its mean
    figure = figures.build("variant_comparison", mixed)
    assert "dashed lines: the mean of no_leak, which has no tau" in " ".join(layout.notes(figure))
    heat = figures.build("variant_heatmap", table)
    cells = [t.get_text() for t in heat.axes[0].texts]
    assert len(cells) == 6 and all(text.endswith("n=3") for text in cells)
    with pytest.raises(MissingResults, match="needs two swept keys; this grid sweeps \\['variant'\\]"):
        figures.build("variant_heatmap", _table())


def test_learning_curves_per_variant():
    figure = figures.build("variant_learning_curves", _table())
    assert _titles(figure) == ["test accuracy", "test loss", "train loss"]
    assert "n = 3 seed(s) per point" in figure._suptitle.get_text()
    with pytest.raises(MissingResults, match="no finished runs"):
        figures.build("variant_learning_curves", _table().iloc[0:0].assign(kind=[]))
