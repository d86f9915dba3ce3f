"""Generic ablation figures for any grid of runs, drawn from the records alone.

* ``variant_comparison``: every recorded metric (the run's final test and train metrics, and one
  value per run of each evaluation metric: the ``network`` row of a per-layer metric, each
  condition of a metric with at most :data:`MAX_PANELS_PER_METRIC` conditions, else the mean over
  them) per variant, one point per seed and the mean with its 95 % t-interval over seeds; when a
  key such as ``tau``, ``lam`` or ``threshold`` is swept within a variant, the key is the x axis and
  each variant a line.
* ``variant_heatmap``: when two keys are swept (e.g. ``variant`` x ``tau``), the mean final test
  accuracy per cell, with its number of seeds.
* ``variant_learning_curves``: test accuracy, test loss and train loss after every epoch per
  variant, mean with its 95 % t-band over seeds, one thin line per seed.

The figures read the (dataset, model) with the most finished runs; every figure states the
number of seeds behind each point and lists on itself what it left out (other datasets or
models, runs that did not finish, study trials, metrics with no value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout, missing, select, style

__all__ = ["variant_comparison", "variant_heatmap", "variant_learning_curves", "swept_keys", "run_metrics",
           "MAX_PANELS_PER_METRIC", "SWEEP_KEYS"]

#: Keys a grid may sweep besides the variant (run-record columns).
SWEEP_KEYS = ("tau", "lam", "threshold", "steps")
#: A metric with more conditions than this is drawn as their mean per run (one panel).
MAX_PANELS_PER_METRIC = 4
RUN_METRICS = {"accuracy": "test accuracy", "test_loss": "test loss", "train_accuracy": "train accuracy",
               "train_loss": "train loss", "train_time_s": "training time (s)"}
CONDITIONS = ("layer", "split", "noise", "scenario", "severity", "attack", "epsilon", "budget", "steps_attack",
              "condition", "trace", "time_window_ms", "space", "source")
PER_ITEM = ("neuron", "time_step", "sample", "frequency", "x", "y", "omega", "epoch", "label")


def _interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t-interval (0 for one value)."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return (float(values.mean()) if len(values) else np.nan), 0.0
    from scipy import stats

    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _grid_runs(results: pd.DataFrame, what: str) -> tuple[pd.DataFrame, list[str]]:
    """Finished non-study runs of the (dataset, model) with the most runs, and what was left out."""
    left: list[str] = []
    everything = results[results["kind"] == "run"] if "kind" in results.columns else results.iloc[0:0]
    runs = select.run_rows(results)
    if runs.empty:
        raise missing.MissingResults(f"no finished runs for {what}",
                                     ["python -m ablations.run -m variant=vanilla,no_leak,complete_leak,no_reset,recurrent "
                                      "seed=0,1,2"])
    unfinished = everything[everything.get("status") != "finished"] if "status" in everything.columns else everything.iloc[0:0]
    if len(unfinished):
        states = unfinished["status"].fillna("unknown").value_counts()
        left.append("left out: " + ", ".join(f"{n} {state} run(s)" for state, n in states.items()))
    trials = everything[(everything.get("status") == "finished") & everything["study"].notna()] \
        if "study" in everything.columns else everything.iloc[0:0]
    if len(trials):
        left.append(f"left out: {len(trials)} study trial(s) (the study figures draw them)")
    groups = runs.groupby(["dataset", "model"], dropna=False).size().sort_values(ascending=False)
    (dataset, model), _ = next(iter(groups.items()))
    for (other_dataset, other_model), n in list(groups.items())[1:]:
        left.append(f"left out: {n} run(s) of dataset {other_dataset}, model {other_model} "
                    f"(figure=... on a runs root holding one grid draws each)")
    keep = (runs["dataset"] == dataset) & (runs["model"] == model)
    chosen = runs[keep].copy()
    chosen.attrs["grid"] = f"{dataset}, model {model}"
    return chosen, left


def swept_keys(runs: pd.DataFrame) -> list[str]:
    """``variant`` when several variants ran, then each of :data:`SWEEP_KEYS` with several values
    within one variant (a tau that differs only because no_leak has none is not a sweep)."""
    keys = ["variant"] if runs["variant"].nunique() > 1 else []
    for key in SWEEP_KEYS:
        if key in runs.columns and (runs.groupby("variant")[key].nunique() > 1).any():
            keys.append(key)
    return keys


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


def _seed_note(counts: pd.Series) -> str:
    values = sorted(set(int(v) for v in counts))
    if len(values) == 1:
        return f"n = {values[0]} seed(s) per point"
    return f"n = {values[0]}..{values[-1]} seeds per point (written under each point)"


def variant_comparison(results: pd.DataFrame):
    """Any grid: every recorded metric per variant (or per swept key, one line per variant): one point per
    seed, the mean with its 95 % t-interval over seeds."""
    runs, left = _grid_runs(results, "the variant comparison")
    table, notes = run_metrics(results, runs)
    keys = swept_keys(runs)
    x_key = next((k for k in keys if k != "variant"), "variant")
    merged = table.merge(runs[["run_dir", "variant", "seed"] + ([x_key] if x_key != "variant" else [])], on="run_dir")
    panels = list(dict.fromkeys(merged["panel"]))
    order = _variant_order(runs)
    ncols = min(4, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    figure, axes = layout.grid(nrows, ncols, full_width=True, aspect=0.8)
    counts_all = []
    for index, panel in enumerate(panels):
        ax = axes.flat[index]
        rows = merged[merged["panel"] == panel]
        if x_key == "variant":
            positions = {v: i for i, v in enumerate(order)}
            for variant, group in rows.groupby("variant"):
                i = positions[str(variant)]
                values = group["value"].to_numpy(dtype=float)
                jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
                color = style.variant_color(variant)
                ax.scatter(i + jitter, values, s=9, color=color, alpha=0.55, linewidths=0, zorder=2)
                mean, half = _interval(values)
                ax.errorbar(i + 0.28, mean, yerr=half, fmt="o", color=color, markersize=3.5, capsize=2, lw=1, zorder=3)
                counts_all.append(int(np.isfinite(values).sum()))
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels([style.variant_label(v) for v in order], rotation=35, ha="right", fontsize=6)
            ax.set_xlim(-0.6, len(order) - 0.3)
        else:
            for variant, group in rows.groupby("variant"):
                color = style.variant_color(variant)
                stats = group.groupby(x_key)["value"].agg(list)
                xs = np.array(stats.index, dtype=float)
                means, halves = zip(*(_interval(np.asarray(v, dtype=float)) for v in stats.values))
                ax.scatter(group[x_key].astype(float), group["value"], s=7, color=color, alpha=0.45, linewidths=0)
                ax.errorbar(xs, means, yerr=halves, color=color, marker="o", markersize=3, capsize=2, lw=1,
                            label=style.variant_label(variant))
                counts_all += [len(v) for v in stats.values]
            ax.set_xlabel(x_key, fontsize=7)
        ax.set_title(panel, fontsize=6.5, loc="left")
        ax.tick_params(labelsize=6)
    layout.hide_unused(axes, len(panels))
    if x_key != "variant":
        style.legend_outside(figure, axes, ncol=min(len(order), 4))
    figure.suptitle(f"{runs.attrs.get('grid', '')}: points = seeds, bars = mean with 95 % t-interval; "
                    f"{_seed_note(pd.Series(counts_all or [0]))}", fontsize=7)
    for text in notes + left:
        layout.note(figure, text)
    return figure


def variant_heatmap(results: pd.DataFrame):
    """Any grid sweeping two keys: mean final test accuracy per cell of a grid that sweeps two keys (e.g. variant x tau), with
    the number of seeds of each cell."""
    runs, left = _grid_runs(results, "the heat map")
    keys = swept_keys(runs)
    if len(keys) < 2:
        raise missing.MissingResults(
            f"the heat map needs two swept keys; this grid sweeps {keys or 'none'} (sweep e.g. "
            "variant=vanilla,no_reset neuron.tau=5,20,80)")
    first, second = keys[0], keys[1]
    if len(keys) > 2:
        left.append(f"left out: keys {keys[2:]} (averaged over in each cell)")
    runs = runs.assign(**{first: runs[first].astype(str), second: runs[second].astype(str)})
    grouped = runs.groupby([first, second])["accuracy"]
    means = grouped.mean().unstack(second)
    counts = grouped.count().unstack(second)
    if first == "variant":
        means = means.reindex([v for v in _variant_order(runs) if v in means.index])
        counts = counts.reindex(means.index)
    columns = sorted(means.columns, key=lambda v: (_as_float(v), v))
    means, counts = means[columns], counts[columns]
    figure, axes = layout.grid(1, 1, full_width=False, aspect=max(0.6, 0.18 * len(means.index)))
    ax = axes[0, 0]
    image = ax.imshow(100.0 * means.to_numpy(dtype=float), cmap="viridis", aspect="auto")
    for i in range(means.shape[0]):
        for j in range(means.shape[1]):
            value = means.iat[i, j]
            if pd.notna(value):
                ax.text(j, i, f"{100 * value:.1f}\nn={int(counts.iat[i, j])}", ha="center", va="center", fontsize=5.5,
                        color="white" if value < means.stack().mean() else "black")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, fontsize=6)
    ax.set_yticks(range(len(means.index)))
    ax.set_yticklabels(means.index, fontsize=6)
    ax.set_xlabel(second, fontsize=7)
    ax.set_ylabel(first, fontsize=7)
    figure.colorbar(image, ax=ax, label="test accuracy (%)")
    ax.set_title(f"{runs.attrs.get('grid', '')}: mean test accuracy, n = seeds per cell", fontsize=7, loc="left")
    for text in left:
        layout.note(figure, text)
    return figure


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.inf


def variant_learning_curves(results: pd.DataFrame):
    """Any grid: test accuracy, test loss and train loss after every epoch per variant: mean with its 95 %
    t-band over seeds, one thin line per seed."""
    runs, left = _grid_runs(results, "the learning curves")
    epochs = select.epoch_rows(results)
    epochs = epochs[epochs["run_dir"].isin(set(runs["run_dir"]))] if not epochs.empty else epochs
    if epochs.empty or "test_accuracy" not in epochs.columns:
        raise missing.MissingResults("no per-epoch metrics (metrics.csv) in the finished runs")
    columns = [(c, label) for c, label in (("test_accuracy", "test accuracy"), ("test_loss", "test loss"),
                                           ("train_loss", "train loss")) if c in epochs.columns]
    figure, axes = layout.grid(1, len(columns), full_width=True, aspect=0.8)
    order = _variant_order(runs)
    counts = []
    for j, (column, label) in enumerate(columns):
        ax = axes[0, j]
        rows = epochs.dropna(subset=[column])
        for variant in order:
            group = rows[rows["variant"] == variant]
            if group.empty:
                continue
            color = style.variant_color(variant)
            for _, seed_rows in group.groupby("run_dir"):
                seed_rows = seed_rows.sort_values("epoch")
                ax.plot(seed_rows["epoch"], seed_rows[column], color=color, lw=0.5, alpha=0.35)
            stats = group.groupby("epoch")[column].agg(list)
            means, halves = map(np.array, zip(*(_interval(np.asarray(v, dtype=float)) for v in stats.values)))
            xs = np.array(stats.index, dtype=float)
            ax.plot(xs, means, color=color, lw=1.3, marker=style.variant_marker(variant), markersize=3,
                    label=style.variant_label(variant))
            ax.fill_between(xs, means - halves, means + halves, color=color, alpha=0.15, linewidth=0)
            counts += [len(v) for v in stats.values]
        ax.set_title(label, fontsize=7, loc="left")
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=6)
        if len(set(rows["epoch"])) <= 12:
            ax.set_xticks(sorted(set(rows["epoch"])))
    style.legend_outside(figure, axes, ncol=min(len(order), 5))
    figure.suptitle(f"{runs.attrs.get('grid', '')}: thin lines = seeds, thick = mean with 95 % t-band; "
                    f"{_seed_note(pd.Series(counts or [0]))}", fontsize=7)
    for text in left:
        layout.note(figure, text)
    return figure
