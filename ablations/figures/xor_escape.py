"""Delayed XOR: every run's held-out accuracy over training steps, one panel per variant, with the
step at which the run escaped chance marked.

On seed 001's delayed XOR (Table 6) a run sits on the 50 % plateau until it escapes, and whether
and when it escapes is a per-seed event: the success counts the claims use (runs above 90 %) are
counts of escapes. This figure shows them run by run. A run's **escape step** is the first
evaluated training step (``epoch x batches per epoch``) whose held-out test accuracy exceeds
:data:`ESCAPED` (0.7, the claims' "learned" line, ``ablations.reproduce.preregistered.XOR_LEARNED``); a
run is **solved** when its final accuracy exceeds :data:`SOLVED` (0.9, ``XOR_SUCCESS``).

:func:`xor_table6` is the table beside it: per variant, runs escaped and solved of the finished runs,
mean and s.d. of the final held-out and training-window accuracy, and seed 001 Table 6's number.

Input: the tidy results table (per-epoch ``test_accuracy`` rows of ``metrics.csv``) and each run's
``config.yaml`` for its batches per epoch (``dataset.n_train / train.batch_size``, capped by
``train.max_batches``); no checkpoint is opened. Runs still training are drawn dotted and counted
apart: their curve is what has been recorded so far.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout, missing, select, style

__all__ = ["ESCAPED", "SOLVED", "XOR_DATASETS", "escape_rows", "xor_escape", "xor_table6"]

#: Held-out accuracy above which a run has left the 50 % plateau (the claims' XOR_LEARNED / 100).
ESCAPED = 0.7
#: Final held-out accuracy above which a run solves the task (the claims' XOR_SUCCESS / 100).
SOLVED = 0.9
#: The delayed XOR datasets (seed 001's regime, the package's short task).
XOR_DATASETS = ("delayed_xor_dhsnn", "delayed_xor")


def _batches_per_epoch(run_dir: str) -> float:
    """``ceil(dataset.n_train / train.batch_size)``, capped by ``train.max_batches``; NaN if unreadable."""
    from omegaconf import OmegaConf

    path = Path(run_dir) / "config.yaml"
    try:
        cfg = OmegaConf.load(path)
        batches = math.ceil(int(cfg.dataset.n_train) / int(cfg.train.batch_size))
        cap = cfg.train.get("max_batches")
        return float(min(batches, int(cap)) if cap is not None else batches)
    except Exception:  # a record without those keys: the axis falls back to epochs
        return float("nan")


def _series(rows: pd.DataFrame) -> pd.Series:
    """The panel of a run: its variant, with the reset named where one variant ran with two."""
    variant = rows["variant"].astype(str)
    if rows.empty or "reset" not in rows.columns:
        return variant
    reset = rows["reset"].astype(str)
    several = variant.map(reset.groupby(variant).nunique()).fillna(0).astype(int) > 1
    labelled = [f"{v} (reset {r})" if s else v for v, r, s in zip(variant, reset, several)]
    return pd.Series(labelled, index=rows.index, dtype=object)


def escape_rows(results: pd.DataFrame) -> pd.DataFrame:
    """One row per delayed XOR run: ``run_dir``, ``series`` (the panel), ``variant``, ``seed``,
    ``status``, ``steps_done``, ``final_accuracy`` (last recorded test accuracy),
    ``final_window_accuracy`` (last training-window accuracy, DH-SNN's printed number, when recorded),
    ``escape_step`` (NaN if never above :data:`ESCAPED`), ``solved`` (final above :data:`SOLVED`)."""
    epochs = _epoch_rows(results)
    out = []
    for run_dir, run in epochs.groupby("run_dir", sort=False):
        run = run.sort_values("step")
        above = run[run["test_accuracy"] > ESCAPED]
        final = run.iloc[-1]
        window = run["train_window_accuracy"].dropna() if "train_window_accuracy" in run.columns else pd.Series()
        out.append({"run_dir": run_dir, "series": final["series"], "variant": final["variant"],
                    "seed": final.get("seed"), "status": final.get("status"), "steps_done": float(final["step"]),
                    "final_accuracy": float(final["test_accuracy"]),
                    "final_window_accuracy": float(window.iloc[-1]) if len(window) else float("nan"),
                    "escape_step": float(above["step"].iloc[0]) if len(above) else float("nan"),
                    "solved": bool(final["test_accuracy"] > SOLVED)})
    return pd.DataFrame(out, columns=["run_dir", "series", "variant", "seed", "status", "steps_done", "final_accuracy",
                                      "final_window_accuracy", "escape_step", "solved"])


def _epoch_rows(results: pd.DataFrame) -> pd.DataFrame:
    if results.empty or "kind" not in results.columns:
        return results.iloc[0:0].assign(step=[], series=[])
    rows = results[(results["kind"] == "epoch") & results["dataset"].isin(XOR_DATASETS)]
    if "study" in rows.columns:
        rows = rows[rows["study"].isna()]
    if "test_accuracy" not in rows.columns:
        return rows.iloc[0:0].assign(step=[], series=[])
    rows = rows.dropna(subset=["test_accuracy"]).copy()
    if rows.empty:  # no delayed-XOR epochs: nothing to put on a step axis
        return rows.assign(step=pd.Series(dtype=float), steps_known=pd.Series(dtype=bool),
                           series=pd.Series(dtype=object))
    per_epoch = {run_dir: _batches_per_epoch(run_dir) for run_dir in rows["run_dir"].astype(str).unique()}
    batches = pd.to_numeric(rows["run_dir"].astype(str).map(per_epoch), errors="coerce").astype(float)
    rows["step"] = np.where(batches.notna(), rows["epoch"].astype(float) * batches, rows["epoch"].astype(float))
    rows["steps_known"] = batches.notna()
    rows["series"] = _series(rows)
    return rows


def xor_escape(results: pd.DataFrame):
    """Delayed XOR (seed 001 Table 6): held-out accuracy of every run over training steps, one panel per
    variant; a dot marks the step the run escaped chance (accuracy > 0.7); each panel names its runs
    that escaped and that solved the task (> 0.9)."""
    rows = _epoch_rows(results)
    missing.require(rows, results, "per-epoch test accuracy of delayed XOR runs (metrics.csv)",
                    variants=list(select.ROLES_VARIANTS), dataset="delayed_xor_dhsnn")
    runs = escape_rows(results)
    order = [v for v in style.VARIANTS if v in set(runs["variant"])]
    order += sorted(set(runs["variant"]) - set(order))
    panels = sorted(set(runs["series"]), key=lambda s: (order.index(s.split(" (")[0]), s))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    figure, axes = layout.grid(nrows, ncols, full_width=ncols >= 2, aspect=0.8, sharex=True, sharey=True)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    steps_known = bool(rows["steps_known"].all())
    for axis, panel in zip(axes.ravel(), panels):
        mine = runs[runs["series"] == panel]
        color = style.variant_color(str(mine["variant"].iloc[0]))
        for run in mine.itertuples(index=False):
            curve = rows[rows["run_dir"] == run.run_dir].sort_values("step")
            finished = run.status == "finished"
            axis.plot(curve["step"], curve["test_accuracy"], color=color, alpha=0.75, linewidth=0.9,
                      linestyle="-" if finished else ":", marker="." if len(curve) < 30 else None, markersize=3)
            if not math.isnan(run.escape_step):
                at = curve[curve["step"] == run.escape_step]["test_accuracy"].iloc[0]
                axis.plot([run.escape_step], [at], marker="o", markersize=4, color=color, markeredgecolor="black",
                          markeredgewidth=0.5, linestyle="none")
        for level, style_ in ((0.5, ":"), (ESCAPED, "--"), (SOLVED, "-.")):
            axis.axhline(level, color="0.6", linewidth=0.6, linestyle=style_, zorder=0)
        done = mine[mine["status"] == "finished"]
        running = len(mine) - len(done)
        text = (f"{int(mine['escape_step'].notna().sum())}/{len(mine)} escaped, "
                f"{int(done['solved'].sum())}/{len(done)} finished solved" + (f", {running} still training" if running else ""))
        layout.panel_title(axis, f"{style.variant_label(panel.split(' (')[0])}{panel[len(panel.split(' (')[0]):]}",
                           next(letters))
        axis.text(0.02, 0.97, text, transform=axis.transAxes, va="top", fontsize="small")
        axis.set_ylim(0.35, 1.02)
    layout.hide_unused(axes, len(panels))
    for axis in axes[-1]:
        axis.set_xlabel("training step" if steps_known else "epoch")
    for axis in axes[:, 0]:
        axis.set_ylabel("held-out accuracy")
    layout.note(figure, f"dot: first evaluated step with held-out accuracy > {ESCAPED:g} (escape); dashed {ESCAPED:g}, "
                        f"dash-dot {SOLVED:g} (solved); dotted curves: runs still training")
    return figure


def xor_table6(results: pd.DataFrame) -> pd.DataFrame:
    """Seed 001 Table 6, delayed XOR column, as success counts: per variant (and reset, where one variant
    ran with two) the finished runs, how many escaped chance (> 0.7) and solved the task (> 0.9), the
    mean ± s.d. of the final held-out test accuracy and of the training-window accuracy (DH-SNN's printed
    number, the running accuracy over the readout window in the last epoch), beside the published value
    (a single run of DH-SNN's script). Runs still training are counted in ``training`` only."""
    from .tables import reference, reference_source

    runs = escape_rows(results)
    missing.require(runs, results, "delayed XOR runs (metrics.csv)", variants=list(select.ROLES_VARIANTS),
                    dataset="delayed_xor_dhsnn")
    published = reference("roles_table6").set_index("variant")["delayed_xor"]
    order = [v for v in style.VARIANTS if v in set(runs["variant"])] + sorted(set(runs["variant"]) - set(style.VARIANTS))
    out = []
    for series in sorted(set(runs["series"]), key=lambda s: (order.index(s.split(" (")[0]), s)):
        mine = runs[runs["series"] == series]
        done = mine[mine["status"] == "finished"]
        variant = str(mine["variant"].iloc[0])
        test, window = 100.0 * done["final_accuracy"], 100.0 * done["final_window_accuracy"]
        out.append({"variant": series, "finished": len(done), "training": len(mine) - len(done),
                    "escaped": int(done["escape_step"].notna().sum()), "solved": int(done["solved"].sum()),
                    "test": test.mean() if len(done) else float("nan"), "test_sd": test.std() if len(done) > 1 else float("nan"),
                    "train_window": window.mean() if len(done) else float("nan"),
                    "train_window_sd": window.std() if len(done) > 1 else float("nan"),
                    "steps": float(done["steps_done"].max()) if len(done) else float("nan"),
                    "published": float(published.get(variant, float("nan")))})
    table = pd.DataFrame(out)
    table["steps"] = table["steps"].round().astype("Int64")  # training steps of the longest finished run
    table.attrs.update(
        caption="Seed 001 Table 6, delayed XOR: runs that escaped chance (> 70 %) and solved it (> 90 %), accuracy (%)",
        pm={"test": "test_sd", "train_window": "train_window_sd"},
        notes=[f"published: {reference_source('roles_table6')} (a single run: DH-SNN's script seeds 42 once)",
               "escaped / solved: counts among the finished runs; test: final held-out accuracy (dataset.n_test samples); "
               "train_window: training accuracy over the readout window in the last epoch (DH-SNN's printed number); "
               "mean ± s.d. over finished runs"])
    return table
