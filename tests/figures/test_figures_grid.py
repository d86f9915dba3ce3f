"""The generic grid figures (ablations/figures/grid.py) on a small results table of the shape
ablations.results.load_results returns: runs, epochs and evaluation rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ablations import figures
from ablations.errors import UserError
from ablations.figures import grid, intervals, layout, settings
from ablations.figures.missing import MissingResults


def _table(taus=(10.0,), variants=("vanilla", "no_leak", "no_reset"), seeds=(0, 1, 2), n_test=450) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for variant in variants:
        for tau in taus:
            for seed in seeds:
                run_dir = f"runs/digits/default/{variant}/{tau}-seed{seed}"
                base = {"run_dir": run_dir, "status": "finished", "dataset": "digits", "model": "default",
                        "variant": variant, "tau": None if variant == "no_leak" else tau, "seed": seed,
                        "leak": "none" if variant == "no_leak" else "exponential"}
                accuracy = round((0.8 + 0.05 * rng.standard_normal()) * n_test) / n_test  # k correct of n_test
                rows.append({**base, "kind": "run", "accuracy": accuracy, "test_loss": 0.2, "train_loss": 0.25})
                for epoch in (1, 2):
                    rows.append({**base, "kind": "epoch", "epoch": epoch, "test_accuracy": accuracy,
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
    rows.append({"kind": "run", "run_dir": "runs/digits/y", "status": "failed", "dataset": "digits", "model": "default",
                 "variant": "vanilla", "seed": 5})
    return pd.DataFrame(rows)


def _titles(figure) -> list[str]:
    return [ax.get_title(loc="left") for ax in figure.axes if ax.get_visible()]


def _accuracy_panel(figure):
    return next(ax for ax in figure.axes if ax.get_visible() and ax.get_title(loc="left").startswith("test accuracy\n"))


def test_variant_comparison_draws_every_metric_with_seeds_and_left_outs():
    figure = figures.build("variant_comparison", _table())
    titles = _titles(figure)
    assert titles[0].startswith("test accuracy\n(n = 450 test samples: step 0.222 pp)")
    assert titles[1].startswith("test accuracy - vanilla's (pp)")  # paired by seed against vanilla
    assert titles[2:4] == ["test loss", "train loss"]
    assert "activity: spike_rate" in titles  # the network row; per-neuron rows left to the histograms
    assert "noise: accuracy" in titles  # 6 conditions > 4: their mean per run, and the figure says so
    # a condition missing in one row (the clean row has no budget) is a panel of its own
    assert {"adversarial: accuracy\nattack=none", "adversarial: accuracy\nattack=g2s\nbudget=200"} <= set(titles)
    notes = " ".join(layout.notes(figure))
    assert "noise: accuracy: mean over 6 conditions" in notes
    assert "1 failed run(s)" in notes
    assert "n = 3 seed(s) per point" in figure._suptitle.get_text()
    assert "percentile-bootstrap" in figure._suptitle.get_text()
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["vanilla LIF", "no leak (IF)"]
    assert figures.figure_bytes(figure, "png")[:4] == b"\x89PNG"  # notes stamped under the panels
    assert any(text.get_text().startswith("- noise: accuracy") for text in figure.texts)


def _bars(ax) -> list[tuple[float, float]]:
    """(low, high) of every error bar drawn on ``ax``."""
    spans = []
    for collection in ax.collections:
        if type(collection).__name__ == "LineCollection":
            for segment in collection.get_segments():
                ys = [point[1] for point in segment]
                spans.append((min(ys), max(ys)))
    return spans


def test_intervals_stay_inside_the_bounds_and_need_three_seeds():
    # accuracies at the top of the range: a t-interval ran past 1; a percentile bootstrap cannot
    table = _table(seeds=(0, 1, 2, 3))
    runs = (table["kind"] == "run") & (table["variant"] == "no_reset")
    table.loc[runs, "accuracy"] = [1.0, 1.0, 1.0, 448 / 450]
    figure = figures.build("variant_comparison", table)
    bars = _bars(_accuracy_panel(figure))
    assert bars and all(0.0 <= low <= high <= 1.0 for low, high in bars)
    two = figures.build("variant_comparison", _table(seeds=(0, 1)))
    assert _bars(_accuracy_panel(two)) == []  # n = 2: no interval at all
    assert "n=2: no interval" in " ".join(layout.notes(two))
    assert intervals.mean_interval([0.9, 1.0]).has_interval is False
    low, high = intervals.wilson(3, 3)
    assert 0.0 <= low < high == 1.0


def test_two_settings_are_drawn_apart_never_pooled_as_seeds():
    # the same variants at two learning rates: six runs per variant that are not six seeds
    fast = _table(seeds=(0, 1, 2)).assign(config_hash="fast")
    slow = _table(seeds=(0, 1, 2)).assign(config_hash="slow")
    slow["run_dir"] = slow["run_dir"] + "-slow"
    slow.loc[slow["kind"] == "run", "accuracy"] -= 0.3
    table = pd.concat([fast, slow], ignore_index=True)
    configs = {}
    for frame, lr in ((fast, 0.01), (slow, 0.0001)):
        for _, row in frame[frame["kind"] == "run"].iterrows():
            configs[row["run_dir"]] = {"dataset.name": "digits", "model.name": "default", "train.lr": lr,
                                       "neuron.tau": row["tau"], "neuron.leak": row["leak"]}
    table.attrs["run_configs"] = settings.RunConfigs(configs)
    assigned = settings.assign_settings(grid.select.run_rows(table), table)
    assert assigned.keys == ["train.lr"] and assigned.labels == ["train.lr=0.0001", "train.lr=0.01"]
    figure = figures.build("variant_comparison", table)
    assert "n = 3 seed(s) per point" in figure._suptitle.get_text()  # not 6
    legend = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert legend == ["train.lr=0.0001", "train.lr=0.01"]
    assert "settings (differ in train.lr)" == figure.legends[0].get_title().get_text()
    assert "2 settings, drawn apart" in " ".join(layout.notes(figure))
    heat = figures.build("variant_heatmap", table)
    cells = [t.get_text() for t in heat.axes[0].texts]
    assert len(cells) == 6 and all(text.endswith("n=3") for text in cells)
    curves = figures.build("variant_learning_curves", table)
    assert len([ax for ax in curves.axes if ax.get_visible()]) == 6  # one row of panels per setting
    with pytest.raises(MissingResults, match="needs a second swept key besides the variant"):
        figures.build("variant_heatmap", _table())


def test_a_swept_numeric_key_becomes_the_x_axis():
    table = _table(taus=(5.0, 20.0, 80.0), variants=("vanilla", "no_reset"))
    table = table.assign(config_hash=[f"{v}-{t}" for v, t in zip(table["variant"], table["tau"])])
    comparison = figures.build("variant_comparison", table)
    assert comparison.axes[0].get_xlabel() == "neuron.tau"
    mixed = pd.concat([table, _table(variants=("no_leak",))])  # no_leak has no tau: a dashed line at its mean
    figure = figures.build("variant_comparison", mixed)
    assert "no_leak has no neuron.tau: its runs appear in every setting" in " ".join(layout.notes(figure))


def test_a_small_test_set_is_stated_and_differences_below_one_sample_warned():
    table = _table(n_test=3, seeds=(0, 1, 2))
    figure = figures.build("variant_comparison", table)
    assert "n = 3 test samples: step 33.3 pp" in _accuracy_panel(figure).get_title(loc="left")
    text = " ".join(layout.notes(figure))
    assert "test set of 3 samples: an accuracy moves in steps of 1/3 = 33.3 pp" in text
    assert intervals.test_set_size([1 / 3, 2 / 3]) == 3 and intervals.test_set_size([399 / 450, 400 / 450]) == 450


def test_several_grids_are_listed_and_one_is_chosen():
    other = _table(variants=("vanilla",)).assign(dataset="dvs_gesture")
    other["run_dir"] = other["run_dir"].str.replace("digits", "dvs_gesture")
    table = pd.concat([_table(), other], ignore_index=True)
    table.attrs["runs_root"] = "somewhere"
    with pytest.raises(settings.AmbiguousGrid) as caught:
        figures.build("variant_comparison", table)
    assert "grid=digits/default: 9 run(s)" in caught.value.reason and "grid=dvs_gesture/default" in caught.value.reason
    assert caught.value.commands == [
        "python -m ablations.figures runs=somewhere grid=digits/default figure=variant_comparison",
        "python -m ablations.figures runs=somewhere grid=dvs_gesture/default figure=variant_comparison"]
    chosen = settings.filter_grid(table, "dvs_gesture")
    figure = figures.build("variant_comparison", chosen)
    assert figure._suptitle.get_text().startswith("dvs_gesture, model default")
    with pytest.raises(UserError, match="is not a grid"):
        settings.filter_grid(table, "mnist/default")


def test_learning_curves_per_variant():
    figure = figures.build("variant_learning_curves", _table())
    assert _titles(figure) == ["test accuracy", "test loss", "train loss"]
    assert "n = 3 seed(s) per point" in figure._suptitle.get_text()
    with pytest.raises(MissingResults, match="no finished runs"):
        figures.build("variant_learning_curves", _table().iloc[0:0].assign(kind=[]))


def test_paper_figures_compare_every_variant_in_one_setting():
    # vanilla has more runs at one learning rate, no_reset at the other: picking the most runs per
    # variant would set vanilla at lr 0.01 against no_reset at lr 0.0001
    parts, configs = [], {}
    for variant, seeds_fast, seeds_slow in (("vanilla", (0, 1, 2), (0, 1)), ("no_reset", (0, 1), (0, 1, 2))):
        for lr, seeds in ((0.01, seeds_fast), (0.0001, seeds_slow)):
            part = _table(variants=(variant,), seeds=seeds).assign(config_hash=f"{variant}-{lr}")
            part["run_dir"] = part["run_dir"] + f"-lr{lr}"
            part = part[part["status"] == "finished"]
            parts.append(part)
            for run_dir in part.loc[part["kind"] == "run", "run_dir"]:
                configs[run_dir] = {"dataset.name": "digits", "model.name": "default", "train.lr": lr,
                                    "neuron.tau": 10.0}
    table = pd.concat(parts, ignore_index=True)
    table.attrs["run_configs"] = settings.RunConfigs(configs)
    rows, note = grid.select.primary(grid.select.epoch_rows(table))
    drawn = {run_dir.rsplit("-lr", 1)[1] for run_dir in rows["run_dir"]}
    assert len(drawn) == 1  # one learning rate for both variants
    assert "not drawn: digits: train.lr=" in note


def _nmnist_runs(overrides: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for variant in ("vanilla", "no_leak"):
        for seed in (0, 1, 2):
            run_dir = f"runs/nmnist/fc_nmnist/{variant}/{seed}"
            base = {"run_dir": run_dir, "status": "finished", "dataset": "nmnist", "model": "fc_nmnist",
                    "variant": variant, "seed": seed, "config_hash": variant, "data_kind": "event",
                    "overrides": (*overrides, f"variant={variant}", f"seed={seed}", "paths.runs=/tmp/r")}
            rows.append({**base, "kind": "run", "accuracy": 0.93})
            for metric, value in (("attack_success_rate", 1.0), ("mean_l2_perturbation", 0.02)):
                rows.append({**base, "kind": "eval", "suite": "adversarial", "metric": metric, "value": value,
                             "attack": "g2s", "budget": 200})
    return pd.DataFrame(rows)


def test_table6_puts_the_papers_delayed_xor_beside_the_runs_of_its_preset():
    """Seed 001's delayed XOR is DH-SNN's task (dataset delayed_xor_dhsnn): the published column sits beside
    the runs of experiment=roles_delayed_xor (soft or hard reset; train.rng only picks the random numbers)."""
    from ablations.figures import select, tables

    rows = []
    hashes = {("roles_delayed_xor", "vanilla"): "40a93b50f0", ("roles_delayed_xor", "no_reset"): "7fb4778d18",
              ("roles_delayed_xor_hardreset", "vanilla"): "40a93b77aa"}   # two vanilla configs share 6 characters
    for experiment, variant in (("roles_delayed_xor", "vanilla"), ("roles_delayed_xor", "no_reset"),
                                ("roles_delayed_xor_hardreset", "vanilla")):
        for seed in (0, 1):
            rows.append({"run_dir": f"runs/{experiment}/{variant}/{seed}", "status": "finished", "kind": "run",
                         "dataset": "delayed_xor_dhsnn", "model": "fc_delayed_xor", "variant": variant, "seed": seed,
                         "config_hash": hashes[experiment, variant], "data_kind": "temporal", "accuracy": 0.5 + 0.1 * seed,
                         "overrides": (f"experiment={experiment}", "train.rng=paired", f"variant={variant}",
                                       f"seed={seed}", "paths.runs=/tmp/r")})
    runs = pd.DataFrame(rows)
    table = tables.roles_table6(runs)
    published = table[table["source"] == "published"].set_index("variant")
    assert published.loc["vanilla", "delayed_xor_dhsnn"] == 77.5 and "delayed_xor" not in table.columns
    ours = table[table["source"] == "ours"]
    assert ours["delayed_xor_dhsnn"].tolist() == pytest.approx([55.0, 55.0, 55.0])   # no two settings merged
    assert sorted(ours["model"]) == ["no reset", "vanilla LIF (config 40a93b5)", "vanilla LIF (config 40a93b7)"]
    assert set(published["compared"]) == {
        "published (same preset on delayed_xor_dhsnn; other columns: different model, data and budget)"}
    assert select.published_label(runs, "roles", "delayed_xor_dhsnn") == (
        "published (same preset: experiment=roles_delayed_xor / roles_delayed_xor_hardreset)")
    longer = runs.assign(overrides=[(*o, "train.epochs=3") for o in runs["overrides"]])
    assert set(tables.roles_table6(longer).loc[lambda t: t["source"] == "published", "compared"]) == {
        select.NOT_THE_PAPERS}


def test_published_numbers_say_when_they_are_not_the_papers_setting():
    from ablations.figures import select, tables

    preset = _nmnist_runs(("experiment=roles_nmnist",))
    shortened = _nmnist_runs(("experiment=roles_nmnist", "train.epochs=2"))
    own = tables.roles_table6(preset)
    assert set(own.loc[own["source"] == "published", "compared"]) == {
        "published (same preset on nmnist; other columns: different model, data and budget)"}
    short = tables.roles_table6(shortened)
    assert set(short.loc[short["source"] == "published", "compared"]) == {select.NOT_THE_PAPERS}
    assert any("not these runs'" in note for note in short.attrs["notes"])
    # seed 003's presets (cifar10 / svhn) sweep tau: a tau override is still the paper's grid, a lr is not
    leak = pd.DataFrame({"dataset": ["cifar10", "cifar10"], "overrides": [
        ("experiment=leak_cifar10", "neuron.tau=30", "seed=1"), ("experiment=leak_cifar10", "train.lr=0.1")]})
    assert list(select.of_paper_preset(leak, "leak")) == [True, False]
    figure = figures.build("attack", shortened)
    legend = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert legend == ["published: different model, data and budget (seed 001, N-MNIST)"]
    figure = figures.build("attack", preset)
    assert [t.get_text() for legend in figure.legends for t in legend.get_texts()] == [
        "published (seed 001, N-MNIST, same preset)"]
