"""Generic ablation figures for any grid of runs, drawn from the records alone.

A grid is the finished runs of one dataset and one model; a runs folder holding several is drawn
one grid at a time (``python -m ablations.figures grid=DATASET/MODEL``: a figure refuses to pick one
and lists them). Within a grid, runs whose configs differ in more than the variant and the seed are
different *settings* (:mod:`ablations.figures.settings`): each is drawn apart and named by the keys
that differ, never pooled as if its runs were seeds.

* ``variant_comparison``: every recorded metric (the run's final test and train metrics, and one
  value per run of each evaluation metric: the ``network`` row of a per-layer metric, each
  condition of a metric with at most :data:`MAX_PANELS_PER_METRIC` conditions, else the mean over
  them) per variant and setting, one point per seed and the mean with its 95 % percentile-bootstrap
  interval over seeds (:mod:`ablations.figures.intervals`: inside the metric's bounds, none below
  3 seeds); the test accuracy minus vanilla's of the same seed and setting, with the probability
  of improvement P(variant > vanilla) (rliable's practice); when the settings differ in one numeric
  key over three or more values (``neuron.tau``), that key is the x axis and each variant a line.
* ``variant_heatmap``: mean final test accuracy per variant and setting, with its number of seeds.
* ``variant_learning_curves``: test accuracy, test loss and train loss after every epoch per
  variant, one row per setting, mean with its bootstrap band over seeds, one thin line per seed.

Accuracies are counts over a test set of n samples: the figures state the step 1/n (n read from
the recorded accuracies, :func:`ablations.figures.intervals.test_set_size`) and warn when a
difference they show is smaller than one test sample. Every figure states the number of seeds
behind each point and lists on itself what it left out (runs that did not finish, study trials,
metrics with no value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import intervals, layout, missing, select, settings, style

__all__ = ["variant_comparison", "variant_heatmap", "variant_learning_curves", "run_metrics", "MAX_PANELS_PER_METRIC"]
#: A metric with more conditions than this is drawn as their mean per run (one panel).
MAX_PANELS_PER_METRIC = 4
RUN_METRICS = {"accuracy": "test accuracy", "test_loss": "test loss", "train_accuracy": "train accuracy",
               "train_loss": "train loss", "train_time_s": "training time (s)"}
CONDITIONS = ("layer", "split", "noise", "scenario", "severity", "attack", "epsilon", "budget", "steps_attack",
              "condition", "trace", "time_window_ms", "space", "source")
PER_ITEM = ("neuron", "time_step", "sample", "frequency", "x", "y", "omega", "epoch", "label")


def _interval(values: np.ndarray, panel: str = "") -> intervals.Interval:
    """Mean over seeds and its 95 % percentile-bootstrap interval (none below 3 seeds), inside the
    metric's bounds."""
    return intervals.mean_interval(values, intervals.bounds_of(panel))


def _grid_runs(results: pd.DataFrame, what: str, figure: str) -> tuple[pd.DataFrame, list[str]]:
    """Finished non-study runs of the one grid (dataset, model) in ``results``, and what was left out;
    several grids raise :class:`settings.AmbiguousGrid` naming them."""
    left: list[str] = []
    everything = results[results["kind"] == "run"] if "kind" in results.columns else results.iloc[0:0]
    runs = select.run_rows(results)
    if runs.empty:
        raise missing.MissingResults(f"no finished runs for {what}",
                                     [missing.run_command(results, variants=["vanilla", "no_leak", "complete_leak",
                                                                             "no_reset", "recurrent"],
                                                          extra=["seed=0,1,2"])])
    unfinished = everything[everything.get("status") != "finished"] if "status" in everything.columns else everything.iloc[0:0]
    if len(unfinished):
        states = unfinished["status"].fillna("unknown").value_counts()
        left.append("left out: " + ", ".join(f"{n} {state} run(s)" for state, n in states.items()))
    trials = everything[(everything.get("status") == "finished") & everything["study"].notna()] \
        if "study" in everything.columns else everything.iloc[0:0]
    if len(trials):
        left.append(f"left out: {len(trials)} study trial(s) (the study figures draw them)")
    chosen = settings.choose_grid(runs, results, figure).copy()
    dataset, model = str(chosen["dataset"].iloc[0]), str(chosen["model"].iloc[0])
    chosen.attrs["grid"] = f"{dataset}, model {model}"
    return chosen, left


def _variant_order(runs: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(runs["variant"].astype(str)))
    known = [v for v in style.VARIANT_COLORS if v in present]
    return known + sorted(v for v in present if v not in known)


def run_metrics(results: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One value per (run, metric panel): columns ``run_dir``, ``panel``, ``value``; and notes on what
    was averaged or left out."""
    frames, notes = [], []
    for column, label in RUN_METRICS.items():
        if column in runs.columns and runs[column].notna().any():
            frames.append(pd.DataFrame({"run_dir": runs["run_dir"], "panel": label,
                                        "value": pd.to_numeric(runs[column], errors="coerce")}))
    evals = results[(results["kind"] == "eval") & results["run_dir"].isin(set(runs["run_dir"]))] \
        if {"kind", "suite", "metric"} <= set(results.columns) else pd.DataFrame(columns=["suite", "metric", "value"])
    for (suite, metric), rows in evals.groupby(["suite", "metric"], sort=False):
        rows = rows.dropna(subset=["value"])
        per_item = [c for c in PER_ITEM if c in rows.columns and rows[c].notna().any()]
        if "neuron" in per_item:
            rows = rows[rows["neuron"].isna()]  # per-neuron rows: the per-layer row carries their mean
        if "layer" in rows.columns and (rows["layer"] == "network").any():
            rows = rows[rows["layer"] == "network"]
        conditions = [c for c in CONDITIONS if c in rows.columns and rows[c].notna().any() and rows[c].nunique() > 0]
        conditions = [c for c in conditions if not (c == "layer" and set(rows[c].dropna()) == {"network"})]
        combos = rows[conditions].drop_duplicates() if conditions else pd.DataFrame([{}])
        name = f"{suite}: {metric}"
        if len(combos) > MAX_PANELS_PER_METRIC:
            notes.append(f"{name}: mean over {len(combos)} conditions ({', '.join(conditions)}) per run")
            combos, conditions = pd.DataFrame([{}]), []
        for _, combo in combos.iterrows():
            mask = pd.Series(True, index=rows.index)
            for key in conditions:  # a missing value (e.g. no budget for the clean row) matches missing values
                mask &= rows[key].isna() if pd.isna(combo[key]) else rows[key].map(str) == str(combo[key])
            label = name + "".join(f"\n{key}={_short(combo[key])}" for key in conditions
                                   if pd.notna(combo[key]) and not (key == "layer" and combo[key] == "network"))
            per_run = rows[mask].groupby("run_dir")["value"].mean()
            frames.append(pd.DataFrame({"run_dir": per_run.index, "panel": label, "value": per_run.values}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_dir", "panel", "value"])
    empty = [p for p, v in table.groupby("panel")["value"] if v.isna().all()]
    if empty:
        notes.append(f"left out (no value in any run): {', '.join(empty)}")
        table = table[~table["panel"].isin(empty)]
    return table, notes


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


SETTING_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _setting_colors(labels: list[str]) -> dict[str, str]:
    import matplotlib.colors as mcolors
    import seaborn as sns

    palette = sns.color_palette("dark", max(len(labels), 1))
    return {label: mcolors.to_hex(palette[i % len(palette)]) for i, label in enumerate(labels)}


def _accuracy_step(results: pd.DataFrame, runs: pd.DataFrame) -> int | None:
    """The test-set size n of the grid's accuracies (every final and per-epoch test accuracy is k / n),
    or None when it cannot be told."""
    values = list(pd.to_numeric(runs.get("accuracy", pd.Series(dtype=float)), errors="coerce").dropna())
    epochs = select.epoch_rows(results)
    if not epochs.empty and "test_accuracy" in epochs.columns:
        mine = epochs[epochs["run_dir"].isin(set(runs["run_dir"]))]
        values += list(pd.to_numeric(mine["test_accuracy"], errors="coerce").dropna())
    return intervals.test_set_size(values)


def _step_text(n_test: int | None) -> str:
    return f" (n = {n_test} test samples: step {100.0 / n_test:.3g} pp)" if n_test else ""


def _small_differences(rows: pd.DataFrame, n_test: int | None, order: list[str]) -> str | None:
    """A warning naming the mean test-accuracy differences (variant against vanilla, or against the
    first variant, in each setting) smaller than one test sample (1 / n)."""
    if not n_test:
        return None
    step = 1.0 / n_test
    base = "vanilla" if "vanilla" in set(rows["variant"]) else (order[0] if order else None)
    below = []
    for setting, group in rows.groupby("setting", sort=False):
        means = group.groupby("variant")["value"].mean()
        if base not in means.index:
            continue
        for variant, mean in means.items():
            if variant != base and abs(mean - means[base]) < step:
                where = f" ({setting})" if rows["setting"].nunique() > 1 else ""
                below.append(f"{variant} - {base}{where} = {100 * (mean - means[base]):+.2g} pp")
    text = f"test set of {n_test} samples: an accuracy moves in steps of 1/{n_test} = {100 * step:.3g} pp"
    if below:
        return "warning: " + text + "; differences below one step (one test sample): " + "; ".join(below)
    return text if step >= 0.01 else None


def _categorical_panel(ax, rows: pd.DataFrame, panel: str, order: list[str], labels: list[str],
                       colors: dict[str, str], several: bool, missing_interval: list[int]) -> None:
    """x = variant; one column of points per setting (dodged), the mean, and its interval (n >= 3)."""
    width = 0.7
    step = width / max(len(labels), 1)
    for i, variant in enumerate(order):
        for j, label in enumerate(labels):
            group = rows[(rows["variant"] == variant) & (rows["setting"] == label)]
            values = group["value"].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if not len(values):
                continue
            centre = i - width / 2 + step * (j + 0.5) if several else i
            color = colors[label] if several else style.variant_color(variant)
            marker = SETTING_MARKERS[j % len(SETTING_MARKERS)] if several else "o"
            spread = min(0.08, step / 4)
            jitter = np.linspace(-spread, spread, len(values)) if len(values) > 1 else np.zeros(1)
            ax.scatter(centre - spread + jitter - 0.02, values, s=8, color=color, alpha=0.5, linewidths=0, zorder=2,
                       marker=marker)
            stats = _interval(values, panel)
            x = centre + spread + 0.02
            if stats.has_interval:
                ax.errorbar(x, stats.mean, yerr=[[stats.mean - stats.low], [stats.high - stats.mean]], fmt=marker,
                            color=color, markersize=3.5, capsize=2, lw=1, zorder=3)
            else:
                ax.plot(x, stats.mean, marker=marker, markerfacecolor="white", markeredgecolor=color,
                        markersize=3.5, linestyle="none", zorder=3)
                missing_interval.append(stats.n)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([style.variant_label(v) for v in order], rotation=35, ha="right", fontsize=6)
    ax.set_xlim(-0.6, len(order) - 0.4)


def _numeric_panel(ax, rows: pd.DataFrame, panel: str, key: str, values_of: dict[str, float], order: list[str],
                   shared: set[str], missing_interval: list[int]) -> None:
    """x = the one swept numeric key; a line per variant; a variant without the key: its mean, dashed."""
    for variant in order:
        group = rows[rows["variant"] == variant]
        if group.empty:
            continue
        color = style.variant_color(variant)
        if variant in shared:  # the same runs in every setting: one value, a dashed line
            once = group.drop_duplicates("run_dir")
            stats = _interval(once["value"].to_numpy(dtype=float), panel)
            ax.axhline(stats.mean, color=color, lw=1, ls="--", label=f"{style.variant_label(variant)} (no {key})")
            continue
        xs, means, lows, highs = [], [], [], []
        for label, at in group.groupby("setting", sort=False):
            stats = _interval(at["value"].to_numpy(dtype=float), panel)
            xs.append(values_of[label])
            means.append(stats.mean)
            lows.append(stats.low)
            highs.append(stats.high)
            if not stats.has_interval:
                missing_interval.append(stats.n)
            ax.scatter(np.full(len(at), values_of[label]), at["value"], s=7, color=color, alpha=0.45, linewidths=0)
        orderx = np.argsort(xs)
        xs, means, lows, highs = (np.asarray(a, dtype=float)[orderx] for a in (xs, means, lows, highs))
        ax.plot(xs, means, color=color, marker=style.variant_marker(variant), markersize=3, lw=1,
                label=style.variant_label(variant))
        ok = np.isfinite(lows)
        if ok.any():
            ax.errorbar(xs[ok], means[ok], yerr=[means[ok] - lows[ok], highs[ok] - means[ok]], color=color, fmt="none",
                        capsize=2, lw=1)
    ax.set_xlabel(key, fontsize=7)


def _paired_panel(ax, rows: pd.DataFrame, order: list[str], labels: list[str], colors: dict[str, str],
                  several: bool, n_test: int | None, missing_interval: list[int]) -> bool:
    """Test accuracy minus vanilla's of the same seed and setting, per variant: the differences, their
    mean with its interval (n >= 3), and P(variant > vanilla) over all run pairs (rliable's
    probability of improvement). False when no run pairs with a vanilla run."""
    drawn = False
    others = [v for v in order if v != "vanilla"]
    width = 0.7
    step = width / max(len(labels), 1)
    for i, variant in enumerate(others):
        for j, label in enumerate(labels):
            mine = rows[(rows["variant"] == variant) & (rows["setting"] == label)]
            base = rows[(rows["variant"] == "vanilla") & (rows["setting"] == label)]
            if mine.empty or base.empty:
                continue
            seeds, diffs = intervals.paired_differences(mine.groupby("seed")["value"].mean().to_dict(),
                                                        base.groupby("seed")["value"].mean().to_dict())
            if not len(diffs):
                continue
            drawn = True
            centre = i - width / 2 + step * (j + 0.5) if several else i
            color = colors[label] if several else style.variant_color(variant)
            marker = SETTING_MARKERS[j % len(SETTING_MARKERS)] if several else "o"
            ax.scatter(np.full(len(diffs), centre - 0.05), 100 * diffs, s=8, color=color, alpha=0.5, linewidths=0,
                       marker=marker)
            stats = intervals.mean_interval(diffs, (-1.0, 1.0))
            if stats.has_interval:
                ax.errorbar(centre + 0.05, 100 * stats.mean, yerr=[[100 * (stats.mean - stats.low)],
                                                                   [100 * (stats.high - stats.mean)]],
                            fmt=marker, color=color, markersize=3.5, capsize=2, lw=1)
            else:
                ax.plot(centre + 0.05, 100 * stats.mean, marker=marker, markerfacecolor="white", markeredgecolor=color,
                        markersize=3.5, linestyle="none")
                missing_interval.append(stats.n)
            improvement = intervals.probability_of_improvement(mine["value"], base["value"])
            ax.annotate(f"P={improvement:.2f}, n={len(diffs)}", (i, 1.0 - 0.07 * j), xycoords=("data", "axes fraction"),
                        ha="center", va="top", fontsize=4.5, color=color)
    if not drawn:
        return False
    ax.axhline(0.0, color="black", lw=0.6)
    if n_test:
        ax.axhspan(-100.0 / n_test, 100.0 / n_test, color="#bbbbbb", alpha=0.3, lw=0,
                   label=f"within one test sample (1/{n_test})")
    ax.set_xticks(range(len(others)))
    ax.set_xticklabels([style.variant_label(v) for v in others], rotation=35, ha="right", fontsize=6)
    ax.set_xlim(-0.6, len(others) - 0.4)
    ax.set_ylabel("pp", fontsize=6)
    return True


def variant_comparison(results: pd.DataFrame):
    """Any grid: every recorded metric per variant and setting: one point per seed, the mean with its
    95 % percentile-bootstrap interval over seeds (none below 3 seeds), and the test accuracy paired by
    seed against vanilla with the probability of improvement. Settings (runs whose configs differ in
    more than the variant and the seed) are drawn apart, never pooled; one numeric key swept over
    three or more values is the x axis."""
    runs, left = _grid_runs(results, "the variant comparison", "variant_comparison")
    assigned = settings.assign_settings(runs, results)
    table, notes = run_metrics(results, runs)
    merged = table.merge(assigned.rows[["run_dir", "variant", "seed", "setting"]], on="run_dir")
    labels = assigned.labels
    several = assigned.several
    order = _variant_order(runs)
    values_of = assigned.numeric_values()
    numeric = values_of is not None and len(labels) >= 3
    key = assigned.keys[0] if numeric else None
    shared = set(assigned.shared)
    colors = _setting_colors(labels)
    n_test = _accuracy_step(results, runs)
    panels = list(dict.fromkeys(merged["panel"]))
    accuracy_rows = merged[merged["panel"] == RUN_METRICS["accuracy"]]
    paired = "vanilla" in set(accuracy_rows["variant"]) and accuracy_rows["variant"].nunique() > 1
    slots = panels[:1] + (["paired"] if paired else []) + panels[1:]
    ncols = min(4, len(slots))
    nrows = int(np.ceil(len(slots) / ncols))
    figure, axes = layout.grid(nrows, ncols, full_width=True, aspect=0.85)
    missing_interval: list[int] = []
    used = 0
    for panel in slots:
        ax = axes.flat[used]
        if panel == "paired":
            if _paired_panel(ax, accuracy_rows, order, labels, colors, several, n_test, missing_interval):
                ax.set_title("test accuracy - vanilla's (pp),\nsame seed; P = P(> vanilla)", fontsize=6.5, loc="left")
                ax.margins(y=0.35)
                ax.tick_params(labelsize=6)
                used += 1
            continue
        rows = merged[merged["panel"] == panel]
        if numeric:
            _numeric_panel(ax, rows, panel, str(key), values_of, order, shared, missing_interval)
        else:
            _categorical_panel(ax, rows, panel, order, labels, colors, several, missing_interval)
        title = panel + (_step_text(n_test).replace(" (", "\n(") if panel == RUN_METRICS["accuracy"] else "")
        ax.set_title(title, fontsize=6.5, loc="left")
        ax.tick_params(labelsize=6)
        used += 1
    layout.hide_unused(axes, used)
    if several and not numeric:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker=SETTING_MARKERS[j % len(SETTING_MARKERS)], color=colors[label],
                          linestyle="none", markersize=4, label=label) for j, label in enumerate(labels)]
        figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                      ncol=min(len(labels), 3), frameon=False, fontsize=6,
                      title=f"settings (differ in {', '.join(assigned.keys)})", title_fontsize=6)
    elif numeric:
        style.legend_outside(figure, axes, ncol=min(len(order), 4))
    counts = merged.groupby(["variant", "setting", "panel"])["run_dir"].nunique()
    low, high = (int(counts.min()), int(counts.max())) if len(counts) else (0, 0)
    seeds = f"n = {low} seed(s) per point" if low == high else f"n = {low}..{high} seeds per point"
    figure.suptitle(f"{runs.attrs.get('grid', '')}: small points = seeds; bars = mean with 95 % percentile-bootstrap "
                    f"interval over seeds (n >= 3)\n{seeds}" + ("; hollow = mean of n < 3 seeds: no interval"
                                                               if missing_interval else ""), fontsize=7)
    if missing_interval:
        notes.append(f"n={min(missing_interval)}: no interval (hollow markers: mean of fewer than "
                     f"{intervals.MIN_SEEDS} seeds, points drawn)")
    setting_note = assigned.note()
    if setting_note:
        notes.insert(0, setting_note)
    step_note = _small_differences(accuracy_rows, n_test, order)
    if step_note:
        notes.append(step_note)
    for text in notes + left:
        layout.note(figure, text)
    return figure


def variant_heatmap(results: pd.DataFrame):
    """Any grid sweeping two keys: mean final test accuracy per variant (rows) and setting (columns: the
    keys that differ between runs besides the variant, e.g. tau), with the number of seeds of each
    cell; settings are never averaged together."""
    runs, left = _grid_runs(results, "the heat map", "variant_heatmap")
    assigned = settings.assign_settings(runs, results)
    if not assigned.several:
        raise missing.MissingResults(
            "the heat map needs a second swept key besides the variant; this grid's runs differ only in "
            + ("the variant" if runs["variant"].nunique() > 1 else "the seed"),
            [missing.run_command(results, extra=["train.lr=0.001,0.005,0.02"])])
    rows = assigned.rows
    grouped = rows.groupby(["variant", "setting"])["accuracy"]
    means = grouped.mean().unstack("setting")
    counts = grouped.count().unstack("setting")
    means = means.reindex([v for v in _variant_order(runs) if v in means.index])
    columns = [label for label in assigned.labels if label in means.columns]
    means, counts = means[columns], counts.reindex(means.index)[columns]
    n_test = _accuracy_step(results, runs)
    figure, axes = layout.grid(1, 1, full_width=len(columns) > 4, aspect=max(0.6, 0.18 * len(means.index)))
    ax = axes[0, 0]
    image = ax.imshow(100.0 * means.to_numpy(dtype=float), cmap="viridis", aspect="auto")
    ax.grid(False)
    low, high = np.nanmin(means.to_numpy(dtype=float)), np.nanmax(means.to_numpy(dtype=float))
    for i in range(means.shape[0]):
        for j in range(means.shape[1]):
            value = means.iat[i, j]
            if pd.notna(value):
                dark = high == low or (value - low) / (high - low) < 0.6  # viridis is dark below ~60 %
                ax.text(j, i, f"{100 * value:.1f}\nn={int(counts.iat[i, j])}", ha="center", va="center", fontsize=5.5,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, fontsize=5.5, rotation=20, ha="right")
    ax.set_yticks(range(len(means.index)))
    ax.set_yticklabels([style.variant_label(v) for v in means.index], fontsize=6)
    ax.set_xlabel(f"setting ({', '.join(assigned.keys)})", fontsize=7)
    figure.colorbar(image, ax=ax, label="test accuracy (%)")
    ax.set_title(f"{runs.attrs.get('grid', '')}: mean test accuracy (%), n = seeds per cell\n"
                 f"{_step_text(n_test).strip(' ()')}", fontsize=7, loc="left")
    if assigned.shared:
        left.insert(0, "; ".join(f"{v} has no {', '.join(k)}: the same runs in every column"
                                 for v, k in sorted(assigned.shared.items())))
    step_note = _small_differences(rows.assign(value=rows["accuracy"]), n_test, list(means.index))
    if step_note:
        left.append(step_note)
    for text in left:
        layout.note(figure, text)
    return figure


def variant_learning_curves(results: pd.DataFrame):
    """Any grid: test accuracy, test loss and train loss after every epoch per variant, one row of
    panels per setting: the mean with its 95 % percentile-bootstrap band over seeds (n >= 3), one thin
    line per seed."""
    runs, left = _grid_runs(results, "the learning curves", "variant_learning_curves")
    epochs = select.epoch_rows(results)
    epochs = epochs[epochs["run_dir"].isin(set(runs["run_dir"]))] if not epochs.empty else epochs
    if epochs.empty or "test_accuracy" not in epochs.columns:
        raise missing.MissingResults("no per-epoch metrics (metrics.csv) in the finished runs",
                                     [missing.run_command(results)])
    assigned = settings.assign_settings(runs, results)
    epochs = epochs.merge(assigned.rows[["run_dir", "setting"]], on="run_dir")
    columns = [(c, label) for c, label in (("test_accuracy", "test accuracy"), ("test_loss", "test loss"),
                                           ("train_loss", "train loss")) if c in epochs.columns]
    labels = assigned.labels
    figure, axes = layout.grid(len(labels), len(columns), full_width=True, aspect=0.7, sharex=True, sharey="col")
    order = _variant_order(runs)
    counts, no_band = [], []
    for i, label in enumerate(labels):
        for j, (column, name) in enumerate(columns):
            ax = axes[i, j]
            rows = epochs[(epochs["setting"] == label)].dropna(subset=[column])
            for variant in order:
                group = rows[rows["variant"] == variant]
                if group.empty:
                    continue
                color = style.variant_color(variant)
                for _, seed_rows in group.groupby("run_dir"):
                    seed_rows = seed_rows.sort_values("epoch")
                    ax.plot(seed_rows["epoch"], seed_rows[column], color=color, lw=0.5, alpha=0.35)
                stats = [(_interval(np.asarray(v, dtype=float), name), e)
                         for e, v in group.groupby("epoch")[column].agg(list).items()]
                xs = np.array([e for _, e in stats], dtype=float)
                means = np.array([s.mean for s, _ in stats])
                lows = np.array([s.low for s, _ in stats])
                highs = np.array([s.high for s, _ in stats])
                ax.plot(xs, means, color=color, lw=1.3, marker=style.variant_marker(variant), markersize=3,
                        label=style.variant_label(variant))
                if np.isfinite(lows).any():
                    ax.fill_between(xs, lows, highs, color=color, alpha=0.15, linewidth=0)
                else:
                    no_band.append(int(group.groupby("epoch")["run_dir"].nunique().max()))
                counts += [s.n for s, _ in stats]
            title = name if len(labels) == 1 else f"{label}\n{name}"
            ax.set_title(title, fontsize=6.5, loc="left")
            ax.set_xlabel("epoch" if i == len(labels) - 1 else "", fontsize=7)
            ax.tick_params(labelsize=6)
            if len(set(rows["epoch"])) <= 12 and len(rows):
                ax.set_xticks(sorted(set(rows["epoch"])))
    style.legend_outside(figure, axes, ncol=min(len(order), 5))
    low, high = (min(counts), max(counts)) if counts else (0, 0)
    seeds = f"n = {low} seed(s) per point" if low == high else f"n = {low}..{high} seeds per point"
    figure.suptitle(f"{runs.attrs.get('grid', '')}: thin lines = seeds, thick = mean, band = 95 % percentile-bootstrap "
                    f"interval (n >= 3); {seeds}", fontsize=7)
    if no_band:
        left.insert(0, f"n={min(no_band)}: no interval (no band where fewer than {intervals.MIN_SEEDS} seeds)")
    setting_note = assigned.note()
    if setting_note:
        left.insert(0, setting_note + " (one row of panels per setting)")
    for text in left:
        layout.note(figure, text)
    return figure
