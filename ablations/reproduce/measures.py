"""Per-run measures over the results table (:func:`ablations.results.load_results`).

Each function takes the rows of one dataset and returns a ``pandas.Series`` indexed by run
folder: one number per trained network, which :mod:`ablations.reproduce.stats` compares across
seeds. Runs are picked by :func:`runs_of` (finished, not study trials, of a variant and optional
neuron parameters). A measure whose rows are absent returns an empty Series; the claim then says
"not measured" and names the suite that would measure it.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "accuracy",
    "activity",
    "attack",
    "critical_frequency",
    "epochs_of",
    "enwsi",
    "eval_rows",
    "finished_runs",
    "input_high_share",
    "landscape_sharpness",
    "last_epochs",
    "noise_accuracy",
    "noise_drop",
    "optimizer_steps",
    "rng_of",
    "runs_of",
    "seed_values",
    "tau_of",
    "values",
    "window_accuracy",
]


def finished_runs(results: pd.DataFrame) -> pd.DataFrame:
    if results.empty or "kind" not in results.columns:
        return pd.DataFrame(columns=["run_dir", "variant", "seed"])
    runs = results[(results["kind"] == "run") & (results["status"] == "finished")]
    if "study" in runs.columns:
        runs = runs[runs["study"].isna()]
    return runs


def tau_of(row: Any) -> float:
    """Effective membrane time constant in steps: inf for no leak, 0 for complete leak, NaN for linear."""
    leak = str(row.get("leak"))
    if leak == "none":
        return math.inf
    if leak == "complete":
        return 0.0
    if leak != "exponential":
        return math.nan
    tau = row.get("tau")
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        tau = math.nan
    if math.isnan(tau):
        beta = row.get("beta_value")
        try:
            beta = float(beta)
        except (TypeError, ValueError):
            return math.nan
        return math.inf if beta >= 1 else (0.0 if beta <= 0 else -1.0 / math.log(beta))
    return tau


def runs_of(results: pd.DataFrame, variant: str | None = None, **where: Any) -> pd.DataFrame:
    """Finished runs of ``variant`` whose identity columns match ``where`` (``tau=math.inf``,
    ``lam=0.05``; ``tau`` compares the effective time constant, so IF runs of ``no_leak`` and of
    ``vanilla`` with ``tau=inf`` both match ``tau=inf``)."""
    runs = finished_runs(results)
    if variant is not None:
        runs = runs[runs["variant"] == variant]
    for column, value in where.items():
        if runs.empty:
            break
        if column == "tau":
            taus = np.array([tau_of(r) for _, r in runs.iterrows()], dtype=float)
            runs = runs[np.isclose(taus, float(value), equal_nan=False) | ((taus == value) & np.isinf(taus))]
        elif column not in runs.columns:
            return runs.iloc[0:0]
        elif isinstance(value, float):
            runs = runs[np.isclose(pd.to_numeric(runs[column], errors="coerce"), value)]
        else:
            runs = runs[runs[column] == value]
    return runs


def values(series: pd.Series, runs: pd.DataFrame) -> list[float]:
    """The measure's values of ``runs`` (one per run that has it)."""
    return [float(series[r]) for r in runs["run_dir"] if r in series.index and pd.notna(series[r])]


@functools.lru_cache(maxsize=4096)
def rng_of(run_dir: str) -> str:
    """``train.rng`` of a run (its ``config.yaml``); ``global`` for runs recorded before the key."""
    try:
        config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "global"
    return str((config.get("train") or {}).get("rng", "global"))


def seed_values(series: pd.Series, runs: pd.DataFrame) -> pd.Series:
    """The measure's values of ``runs`` indexed by seed, marked ``attrs["paired"]`` when every run
    was trained with ``train.rng=paired`` and no seed repeats (:mod:`ablations.reproduce.stats`
    then compares paired differences)."""
    from .stats import by_seed

    pairs = [(int(seed), float(series[r])) for r, seed in zip(runs["run_dir"], runs["seed"])
             if r in series.index and pd.notna(series[r])]
    seeds = [s for s, _ in pairs]
    if "train.rng" in runs.columns and runs["train.rng"].notna().all():  # recorded with the run rows
        rngs = [str(v) for v in runs["train.rng"]]
    else:
        rngs = [rng_of(str(r)) for r in runs["run_dir"]]
    paired = bool(pairs) and len(set(seeds)) == len(seeds) and all(r == "paired" for r in rngs)
    if len(set(seeds)) != len(seeds):  # several runs per seed: index by position, never paired
        pairs = list(enumerate(v for _, v in pairs))
    return by_seed(pairs, paired)


def epochs_of(runs: pd.DataFrame) -> float:
    """The fewest epochs any of ``runs`` trained (``epochs_done``), NaN when unknown."""
    if runs.empty or "epochs_done" not in runs.columns:
        return math.nan
    return float(pd.to_numeric(runs["epochs_done"], errors="coerce").min())


def optimizer_steps(runs: pd.DataFrame) -> pd.Series:
    """Optimizer steps each run took, by run folder: ``optimizer_steps`` where recorded, else
    ``epochs_done`` x batches an epoch (``ceil(dataset.n_train / train.batch_size)``, at most
    ``train.max_batches``; the config columns :func:`ablations.reproduce.load_runs` adds). NaN
    where the epoch's size is unknown (a dataset whose size is not in its config)."""
    if runs.empty:
        return pd.Series(dtype=float)
    index = runs["run_dir"].to_numpy()
    if "optimizer_steps" in runs.columns:
        return pd.Series(pd.to_numeric(runs["optimizer_steps"], errors="coerce").to_numpy(), index=index)
    epochs = _numeric(runs, "epochs_done").to_numpy()
    size, batch = _numeric(runs, "dataset.n_train").to_numpy(), _numeric(runs, "train.batch_size").to_numpy()
    per_epoch = np.ceil(size / batch)
    cap = _numeric(runs, "train.max_batches").to_numpy()
    per_epoch = np.where(np.isfinite(cap), np.minimum(per_epoch, cap), per_epoch)  # unknown size stays unknown
    return pd.Series(epochs * per_epoch, index=index)


def accuracy(results: pd.DataFrame) -> pd.Series:
    """Final test accuracy in % per run."""
    runs = finished_runs(results)
    return pd.Series(100.0 * pd.to_numeric(runs["accuracy"], errors="coerce").to_numpy(), index=runs["run_dir"]) \
        if "accuracy" in runs.columns else pd.Series(dtype=float)


def eval_rows(results: pd.DataFrame, suite: str, metric: str | None = None) -> pd.DataFrame:
    if results.empty or "suite" not in results.columns:
        return pd.DataFrame(columns=["run_dir", "value"])
    rows = results[(results["kind"] == "eval") & (results["suite"] == suite)]
    if metric is not None:
        rows = rows[rows["metric"] == metric]
    return rows


def _numeric(rows: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(rows[column], errors="coerce") if column in rows.columns else pd.Series(np.nan, rows.index)


def noise_accuracy(results: pd.DataFrame, noise: str, scenario: int) -> pd.DataFrame:
    """Accuracy (%) per run and severity under ``noise``, ``scenario`` (noise suite)."""
    rows = eval_rows(results, "noise", "accuracy")
    if rows.empty:
        return pd.DataFrame(columns=["run_dir", "severity", "value"])
    rows = rows[(rows["noise"] == noise) & (_numeric(rows, "scenario") == scenario)]
    out = rows.assign(severity=_numeric(rows, "severity"), value=100.0 * rows["value"].astype(float))
    return out.groupby(["run_dir", "severity"], as_index=False)["value"].mean()


def noise_drop(results: pd.DataFrame, noise: str, scenario: int, levels: tuple[int, ...] | None = None) -> pd.Series:
    """Per run: clean accuracy minus the mean accuracy over the severities ``levels`` (default every
    level 1-8: the area between a curve of seed 003 Fig. 3 and its clean level), in percentage points."""
    rows = noise_accuracy(results, noise, scenario)
    out = {}
    for run_dir, group in rows.groupby("run_dir"):
        clean = group[group["severity"] == 0]["value"]
        noisy = group[group["severity"] > 0] if levels is None else group[group["severity"].isin(levels)]
        noisy = noisy["value"]
        if len(clean) and len(noisy):
            out[run_dir] = float(clean.mean() - noisy.mean())
    return pd.Series(out, dtype=float)


def event_noise_accuracy(results: pd.DataFrame, noise: str, severity: float) -> pd.Series:
    """Accuracy (%) per run under the event noise ``noise`` at ``severity`` (the ``event_noise`` suite;
    severity 0 is the clean test set the suite evaluates once)."""
    rows = eval_rows(results, "event_noise", "accuracy")
    if rows.empty or "severity" not in rows.columns:
        return pd.Series(dtype=float)
    at = np.isclose(_numeric(rows, "severity"), severity)
    if severity > 0:
        at &= (rows["noise"] == noise).to_numpy() if "noise" in rows.columns else False
    return rows[at].groupby("run_dir")["value"].mean() * 100.0


def event_noise_drop(results: pd.DataFrame, noise: str, severity: float) -> pd.Series:
    """Per run: clean accuracy minus accuracy under ``noise`` at ``severity``, in percentage points."""
    clean, noisy = event_noise_accuracy(results, noise, 0.0), event_noise_accuracy(results, noise, severity)
    return (clean - noisy).dropna()


def activity(results: pd.DataFrame, metric: str, layer: str = "network") -> pd.Series:
    """An activity-suite metric of one layer per run (``spike_rate`` as a fraction, ``synaptic_ops``)."""
    rows = eval_rows(results, "activity", metric)
    if rows.empty or "layer" not in rows.columns:
        return pd.Series(dtype=float)
    rows = rows[rows["layer"] == layer]
    if "neuron" in rows.columns:
        rows = rows[rows["neuron"].isna()]
    return rows.groupby("run_dir")["value"].mean()


def enwsi(results: pd.DataFrame) -> pd.Series:
    """Mean ENWSI over hidden layers and time steps per run (seed 003 Fig. 6)."""
    rows = eval_rows(results, "activity", "enwsi")
    if rows.empty:
        return pd.Series(dtype=float)
    if "layer" in rows.columns:
        rows = rows[rows["layer"] != "network"]
    return rows.groupby("run_dir")["value"].mean()


def critical_frequency(results: pd.DataFrame, condition: str = "clean", noise: str = "gaussian",
                       scenario: int = 1, severity: int | None = None) -> pd.Series:
    """Mean normalised critical frequency of the target output neuron per run (spectral suite),
    trace ``current``; ``condition`` ``clean`` or ``noisy`` (noise, scenario, severity)."""
    rows = eval_rows(results, "spectral", "critical_frequency")
    if rows.empty:
        return pd.Series(dtype=float)
    if "trace" in rows.columns and "current" in set(rows["trace"].dropna()):
        rows = rows[rows["trace"] == "current"]
    if condition == "clean":
        rows = rows[rows["condition"] == "clean"]
    else:
        rows = rows[(rows["condition"] != "clean") & (rows["noise"] == noise) & (_numeric(rows, "scenario") == scenario)]
        if severity is not None:
            rows = rows[_numeric(rows, "severity") == severity]
    return rows.groupby("run_dir")["value"].mean()


def input_high_share(results: pd.DataFrame, condition: str = "clean", scenario: int = 1) -> pd.Series:
    """Per run: share of the input spike-train power above half the Nyquist frequency (spectral
    suite ``input_power``; seed 003 Fig. 4)."""
    rows = eval_rows(results, "spectral", "input_power")
    if rows.empty:
        return pd.Series(dtype=float)
    if condition == "clean":
        rows = rows[rows["condition"] == "clean"]
    else:
        rows = rows[(rows["condition"] != "clean") & (_numeric(rows, "scenario") == scenario)]
    out = {}
    for run_dir, group in rows.groupby("run_dir"):
        frequency = _numeric(group, "frequency")
        power = group["value"].astype(float)
        total = power.sum()
        if total > 0 and frequency.notna().any():
            out[run_dir] = float(power[frequency > 0.5 * frequency.max()].sum() / total)
    return pd.Series(out, dtype=float)


def last_epochs(results: pd.DataFrame, column: str) -> pd.Series:
    """Per run: mean of an epoch column over the last 14 % of epochs (seed 003: 130-150 of 150)."""
    if results.empty or "kind" not in results.columns:
        return pd.Series(dtype=float)
    epochs = results[(results["kind"] == "epoch")]
    if column not in epochs.columns:
        return pd.Series(dtype=float)
    out = {}
    for run_dir, rows in epochs.dropna(subset=[column]).groupby("run_dir"):
        rows = rows.sort_values("epoch")
        keep = max(1, math.ceil(len(rows) * 21 / 150))
        out[run_dir] = float(rows[column].iloc[-keep:].mean())
    return pd.Series(out, dtype=float)


def window_accuracy(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy (%) per run and tested frame window (generalization suite, event data), with the
    trained window in ``trained``."""
    rows = eval_rows(results, "generalization", "accuracy")
    if rows.empty or "time_window_ms" not in rows.columns:
        return pd.DataFrame(columns=["run_dir", "window", "trained", "value"])
    rows = rows[rows["time_window_ms"].notna()]
    trained = _numeric(rows, "trained_time_window_ms")
    return pd.DataFrame({"run_dir": rows["run_dir"], "window": _numeric(rows, "time_window_ms"),
                         "trained": trained, "value": 100.0 * rows["value"].astype(float)})


def window_drop(results: pd.DataFrame) -> pd.Series:
    """Per run: accuracy at the trained window minus the mean accuracy at the other windows (pp)."""
    rows = window_accuracy(results)
    out = {}
    for run_dir, group in rows.groupby("run_dir"):
        trained = group["trained"].dropna()
        if trained.empty:
            continue
        at = group[np.isclose(group["window"], trained.iloc[0])]["value"]
        off = group[~np.isclose(group["window"], trained.iloc[0])]["value"]
        if len(at) and len(off):
            out[run_dir] = float(at.mean() - off.mean())
    return pd.Series(out, dtype=float)


def attack(results: pd.DataFrame, metric: str) -> pd.Series:
    """Spike-attack ``mean_l2_perturbation`` or ``attack_success_rate`` (%) per run (event and
    generated spike data; adversarial suite)."""
    rows = eval_rows(results, "adversarial", metric)
    if rows.empty:
        return pd.Series(dtype=float)
    scale = 100.0 if metric == "attack_success_rate" else 1.0
    return rows.groupby("run_dir")["value"].mean() * scale


def pgd_accuracy(results: pd.DataFrame, epsilon: float = 0.05, attack_name: str = "pgd") -> pd.Series:
    """Accuracy (%) under the image attack ``attack_name`` at ``epsilon`` per run."""
    rows = eval_rows(results, "adversarial", "accuracy")
    if rows.empty or "attack" not in rows.columns:
        return pd.Series(dtype=float)
    rows = rows[(rows["attack"] == attack_name) & np.isclose(_numeric(rows, "epsilon"), epsilon)]
    return rows.groupby("run_dir")["value"].mean() * 100.0


def landscape_sharpness(results: pd.DataFrame) -> pd.Series:
    """Per run: mean loss over the landscape grid minus the loss at its centre (seed 001 Fig. 5):
    how fast the loss rises away from the trained weights."""
    rows = eval_rows(results, "landscape", "loss")
    if rows.empty:
        return pd.Series(dtype=float)
    out = {}
    for run_dir, group in rows.groupby("run_dir"):
        x, y = _numeric(group, "x"), _numeric(group, "y")
        centre = group[np.isclose(x, 0) & np.isclose(y, 0)]["value"]
        if len(centre):
            out[run_dir] = float(group["value"].astype(float).mean() - centre.mean())
    return pd.Series(out, dtype=float)


def silhouette(results: pd.DataFrame, space: str = "spike_counts") -> pd.Series:
    rows = eval_rows(results, "embedding", "silhouette")
    if rows.empty or "space" not in rows.columns:
        return pd.Series(dtype=float)
    return rows[rows["space"] == space].groupby("run_dir")["value"].mean()
