"""Picking the rows a figure draws from the tidy results table.

Every figure reads :func:`ablations.results.load_results` rows only. The helpers here keep the
rows of finished runs that are not study trials (trials are drawn by the study figures) and add
derived columns (the effective membrane time constant from :func:`ablations.neurons.effective_tau`,
a legend label per series). What a figure lacks, and the command that makes it, is
:mod:`ablations.figures.missing`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import neurons
from . import style

__all__ = [
    "add_series",
    "add_tau",
    "datasets_of",
    "effective_tau",
    "epoch_rows",
    "eval_rows",
    "paper_rows",
    "per_run_mean",
    "run_rows",
    "runs_root",
    "series_dashes",
    "series_palette",
]

LEAK_VARIANTS = ("vanilla", "no_leak", "complete_leak")
ROLES_VARIANTS = ("vanilla", "no_leak", "complete_leak", "no_reset", "recurrent")
LINEAR_VARIANTS = ("linear_leak", "vanilla", "no_leak")
DEFAULT_SEEDS = (0, 1)


# --------------------------------------------------------------------------- selections
def runs_root(frame: pd.DataFrame) -> str:
    """The results root the table was loaded from (set by the command line), default ``runs``."""
    return str(frame.attrs.get("runs_root", "runs"))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series([None] * len(frame), index=frame.index)


def paper_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished runs that are not study trials."""
    if frame.empty or "kind" not in frame.columns:
        return frame.iloc[0:0]
    keep = (_column(frame, "status") == "finished") & _column(frame, "study").isna()
    return frame[keep]


def run_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = paper_rows(frame)
    return rows[rows["kind"] == "run"]


def epoch_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = paper_rows(frame)
    return rows[rows["kind"] == "epoch"]


_SUITE_POSITIONS: dict[int, tuple[Any, dict[str, np.ndarray]]] = {}


def _suite_positions(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row positions of each suite's eval rows, computed once per table (figures ask many times;
    filtering the whole table each time would copy every column of every row)."""
    import weakref

    cached = _SUITE_POSITIONS.get(id(frame))
    if cached is not None and cached[0]() is frame:
        return cached[1]
    suites = frame["suite"].where(frame["kind"] == "eval") if "suite" in frame.columns else pd.Series(dtype=object)
    positions = {str(k): v for k, v in pd.Series(np.arange(len(frame))).groupby(suites.to_numpy()).indices.items()} \
        if len(suites) else {}
    key = id(frame)
    _SUITE_POSITIONS[key] = (weakref.ref(frame, lambda _ref: _SUITE_POSITIONS.pop(key, None)), positions)
    return positions


def eval_rows(frame: pd.DataFrame, suite: str, metrics: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Evaluation rows of ``suite`` (and ``metric`` in ``metrics``) of finished non-study runs."""
    if frame.empty or "suite" not in frame.columns or "kind" not in frame.columns:
        return frame.iloc[0:0]
    rows = paper_rows(frame.iloc[_suite_positions(frame).get(suite, np.arange(0))])
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        rows = rows[rows["metric"].isin(metrics)]
    rows = rows.dropna(axis=1, how="all").copy()
    if "value" in rows.columns:
        rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    return rows


def datasets_of(rows: pd.DataFrame) -> list[str]:
    return sorted(str(d) for d in rows["dataset"].dropna().unique()) if "dataset" in rows.columns else []


def per_run_mean(rows: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One ``value`` per run and condition (mean over repeated rows, e.g. samples or neurons)."""
    keys = ["run_dir", *[b for b in by if b != "run_dir"]]
    return rows.groupby(keys, dropna=False, sort=False, observed=True)["value"].mean().reset_index()


# --------------------------------------------------------------------------- derived columns
def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _tau_of(leak: Any, tau: Any, beta_value: Any) -> float:
    value = neurons.effective_tau(str(leak), _number(tau), _number(beta_value))
    return math.nan if value is None else value


def effective_tau(rows: pd.DataFrame) -> pd.Series:
    """Membrane time constant in steps: inf for no leak (IF), 0 for complete leak, NaN for linear."""
    return pd.Series([_tau_of(leak, tau, beta) for leak, tau, beta in
                      zip(_column(rows, "leak"), _column(rows, "tau"), _column(rows, "beta_value"))],
                     index=rows.index, dtype=float)


def add_tau(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep the leak ablation (exponential / no / complete leak, hard reset, not recurrent) and
    add ``tau_eff`` and its legend label ``tau_label``."""
    keep = (_column(rows, "leak").isin(["exponential", "none", "complete"])
            & (_column(rows, "reset").astype(str) == "zero")
            & ~_column(rows, "recurrent").fillna(False).astype(bool))
    rows = rows[keep].copy()
    rows["tau_eff"] = effective_tau(rows).round(6)
    rows = rows[rows["tau_eff"].notna()]
    rows["tau_label"] = [style.tau_label(t) for t in rows["tau_eff"]]
    rows, _dropped = primary(rows, by="tau_eff")  # one configuration per tau (most runs, default knobs)
    return rows


def tau_order(rows: pd.DataFrame) -> list[str]:
    """Legend order: IF first, then decreasing tau (more leak), complete leak last."""
    taus = sorted(rows["tau_eff"].unique(), key=lambda t: -t)
    return [style.tau_label(t) for t in taus]


_SERIES_PARAMS = ("tau", "lam", "threshold", "steps", "model")


def _default_score(rows: pd.DataFrame) -> int:
    """How many of the neuron knobs of a configuration sit at the shipped defaults."""
    from ..neurons import DEFAULT_LAM, DEFAULT_TAU

    first = rows.iloc[0]
    score = 0
    for column, default in (("tau", DEFAULT_TAU), ("lam", DEFAULT_LAM), ("threshold", 1.0)):
        value = pd.to_numeric(pd.Series([first.get(column)]), errors="coerce").iloc[0]
        score += int(pd.isna(value) or math.isclose(float(value), default))
    return score


def primary(rows: pd.DataFrame, by: str = "variant") -> tuple[pd.DataFrame, str | None]:
    """One configuration per dataset and variant: the one with the most runs, then the one at the
    default neuron parameters (a lam or tau sweep of a variant then shows as its default).
    Returns the rows and a note naming the configurations left out (None when none were)."""
    if rows.empty or "config_hash" not in rows.columns:
        return rows, None
    rows, setting_note = one_setting(rows, ignore=("neuron.tau", "neuron.beta") if by == "tau_eff" else ())
    keep, dropped = [], []
    for (dataset, variant), group in rows.groupby(["dataset", by], sort=False):
        configs = []
        for config_hash, config_rows in group.groupby("config_hash", sort=True):
            configs.append((-config_rows["run_dir"].nunique(), -_default_score(config_rows), str(config_hash)))
        configs.sort()
        keep.append((dataset, variant, configs[0][2]))
        if len(configs) > 1:
            others = group[group["config_hash"].astype(str).isin([c[2] for c in configs[1:]])]
            varying = [p for p in _SERIES_PARAMS if p in group.columns and group[p].astype(str).nunique() > 1]
            described = sorted({", ".join(f"{p}={_short(r[p])}" for p in varying) or f"config {r['config_hash']}"
                                for _, r in others.drop_duplicates("config_hash").iterrows()})
            name = style.tau_label(variant) if by == "tau_eff" else variant
            dropped.append(f"{name} on {dataset}: {'; '.join(described)}")
    chosen = {(str(d), str(v), h) for d, v, h in keep}
    mask = [(str(d), str(v), str(h)) in chosen for d, v, h in zip(rows["dataset"], rows[by], rows["config_hash"])]
    text = ("One configuration per variant (most runs, then default neuron parameters); not drawn: "
            + " | ".join(dropped)) if dropped else None
    if setting_note:
        text = setting_note if text is None else f"{setting_note}. {text}"
    return rows[mask], text


def one_setting(rows: pd.DataFrame, ignore: Sequence[str] = ()) -> tuple[pd.DataFrame, str | None]:
    """Per dataset, the rows of one setting (:mod:`ablations.figures.settings`: the config keys that
    differ besides variant and seed), so that every variant a figure compares was trained alike: the
    setting with the most runs, then the one nearest the shipped neuron defaults. Returns the rows and
    a note naming the settings left out (None when there was one)."""
    from .settings import assign_settings

    if "run_dir" not in rows.columns or "dataset" not in rows.columns:
        return rows, None
    keep_runs: set = set()
    left: list[str] = []
    commands: list[str] = []
    for dataset, group in rows.groupby("dataset", sort=False):
        runs = group.drop_duplicates("run_dir")
        assigned = assign_settings(runs, rows, ignore=ignore)
        if not assigned.several:
            keep_runs |= set(runs["run_dir"])
            continue
        table = assigned.rows
        ranked = []
        for position, label in enumerate(assigned.labels):
            mine = table[table["setting"] == label]
            ranked.append((-mine["run_dir"].nunique(), -_default_score(mine), position, label))
        chosen = sorted(ranked)[0][3]
        kept = set(table.loc[table["setting"] == chosen, "run_dir"])
        keep_runs |= kept
        for label in assigned.labels:
            if label == chosen:
                continue
            others = table[(table["setting"] == label) & ~table["run_dir"].isin(kept)]
            if others.empty:
                continue
            variants = ", ".join(f"{v} {n}" for v, n in others.groupby("variant")["run_dir"].nunique().items())
            left.append(f"{dataset}: {label} ({variants} run(s))")
        models = sorted(str(m) for m in runs.get("model", pd.Series(dtype=object)).dropna().unique())
        commands.append(f"python -m ablations.figures runs={runs_root(rows)} grid={dataset}/{models[0]} "
                        "figure=variant_comparison" if len(models) == 1 else "")
    if not left:
        return rows[rows["run_dir"].isin(keep_runs)], None
    every = "; ".join(c for c in commands if c)
    return rows[rows["run_dir"].isin(keep_runs)], (
        "One setting per dataset, the same for every variant (most runs, then default neuron parameters); not "
        "drawn: " + " | ".join(left) + (f". Every setting: {every}" if every else ""))


def add_series(rows: pd.DataFrame, variants: Sequence[str] | None = None) -> pd.DataFrame:
    """Add ``series``: the variant's legend name, plus the parameters that tell apart several
    configurations of one variant on one dataset (``vanilla LIF (tau=30)``)."""
    rows = rows.copy()
    if variants is not None:
        rows = rows[rows["variant"].isin(variants)]
    labels: dict[tuple[str, str], str] = {}
    for variant, group in rows.groupby("variant", sort=False):
        hashes_per_dataset = group.groupby("dataset")["config_hash"].nunique() if "config_hash" in group else []
        hashes = group["config_hash"].astype(str).unique() if "config_hash" in group else []
        several = len(hashes_per_dataset) and int(np.max(hashes_per_dataset)) > 1
        varying = [p for p in _SERIES_PARAMS if p in group.columns and several
                   and group.groupby("dataset")[p].agg(lambda v: v.astype(str).nunique()).max() > 1]
        for config_hash, config_rows in group.groupby("config_hash", sort=False) if "config_hash" in group \
                else [(None, group)]:
            name = style.variant_label(variant)
            if several:
                first = config_rows.iloc[0]
                suffix = ", ".join(f"{p}={_short(first[p])}" for p in varying) or \
                    f"config {_unique_prefix(str(config_hash), hashes)}"
                name = f"{name} ({suffix})"
            labels[(str(variant), str(config_hash))] = name
    rows["series"] = [labels.get((str(v), str(h)), style.variant_label(v)) for v, h in  # no hash: an old record
                      zip(rows["variant"], _column(rows, "config_hash"))]
    return rows


def _unique_prefix(value: str, among: Sequence[str], least: int = 6) -> str:
    """The shortest prefix of ``value`` (at least ``least`` characters) that no other of ``among`` shares:
    two configurations never get one label."""
    for length in range(least, len(value)):
        if not any(other != value and other.startswith(value[:length]) for other in among):
            return value[:length]
    return value


def _short(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def series_order(rows: pd.DataFrame) -> list[str]:
    order = {v: i for i, v in enumerate(style.VARIANTS)}
    pairs = rows[["series", "variant"]].drop_duplicates()
    pairs = pairs.assign(rank=[order.get(v, 99) for v in pairs["variant"]]).sort_values(["rank", "series"])
    return list(pairs["series"])


def series_palette(rows: pd.DataFrame) -> dict[str, str]:
    return {s: style.variant_color(v) for s, v in rows[["series", "variant"]].drop_duplicates().itertuples(index=False)}


def series_dashes(rows: pd.DataFrame) -> dict[str, Any]:
    """Solid for the first configuration of a variant, dashed / dotted for further ones."""
    patterns = ["", (4, 1.5), (1, 1), (3, 1, 1, 1)]
    dashes: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for series in series_order(rows):
        variant = rows.loc[rows["series"] == series, "variant"].iloc[0]
        index = seen.get(variant, 0)
        seen[variant] = index + 1
        dashes[series] = patterns[index % len(patterns)]
    return dashes


# --------------------------------------------------------------------------- the papers' own presets
#: Per published table: dataset -> the experiment presets that train the paper's model on it with the
#: paper's budget (ablations/conf/experiment), and the override keys the paper's own grid sweeps.
#: Seed 001's delayed XOR is DH-SNN's task (dataset delayed_xor_dhsnn, experiment=roles_delayed_xor);
#: its vanilla is ambiguous about the reset, so the hard-reset preset is the paper's setting too.
PAPER_PRESETS: dict[str, tuple[dict[str, tuple[str, ...]], tuple[str, ...]]] = {
    "leak": ({"cifar10": ("leak_cifar10",), "svhn": ("leak_svhn",)}, ("neuron.tau",)),
    "roles": ({"delayed_xor_dhsnn": ("roles_delayed_xor", "roles_delayed_xor_hardreset"),
               **{d: (f"roles_{d}",) for d in ("shd", "ssc", "nmnist", "dvs_gesture", "mnist", "cifar10")}}, ()),
}

#: Per paper: a published table's column name -> the package's dataset that is that task (where they differ).
PAPER_COLUMNS: dict[str, dict[str, str]] = {"leak": {}, "roles": {"delayed_xor": "delayed_xor_dhsnn"}}

#: Overrides that choose which random numbers a run draws, not what it trains (like ``seed``).
_RANDOM_STREAM_KEYS = ("train.rng",)

#: What a published column is labelled with beside runs of another model, data or budget.
NOT_THE_PAPERS = "published: different model, data and budget"


def _changes_training(key: str) -> bool:
    from ..results import IDENTITY_EXCLUDE

    return not any(key == prefix or key.startswith(prefix + ".") for prefix in IDENTITY_EXCLUDE)


def of_paper_preset(runs: pd.DataFrame, paper: str) -> pd.Series:
    """Per row: whether the run is the paper's own preset for its dataset (``experiment=<preset>`` and no
    override that changes what is trained, besides the variant and the keys the paper sweeps), judged
    from the overrides its record kept; an older record without them is not."""
    presets, swept = PAPER_PRESETS[paper]
    out = []
    for dataset, overrides in zip(_column(runs, "dataset"), _column(runs, "overrides")):
        preset = presets.get(str(dataset))
        if preset is None or not isinstance(overrides, (list, tuple)):
            out.append(False)
            continue
        keys = _override_keys(overrides)
        ok = keys.get("experiment") in preset
        for key, value in keys.items():
            if key in ("experiment", "variant", "neuron.variant", *_RANDOM_STREAM_KEYS, *swept) or not _changes_training(key):
                continue
            if key == "dataset" and value == str(dataset):
                continue
            ok = False
        out.append(ok)
    return pd.Series(out, index=runs.index, dtype=bool)


def published_label(runs: pd.DataFrame, paper: str, dataset: str) -> str:
    """``published`` when every run of ``dataset`` is the paper's preset, else :data:`NOT_THE_PAPERS`."""
    mine = runs[_column(runs, "dataset").astype(str) == dataset] if not runs.empty else runs
    if not mine.empty and bool(of_paper_preset(mine, paper).all()):
        used = sorted({_override_keys(overrides)["experiment"] for overrides in _column(mine, "overrides")})
        return f"published (same preset: experiment={' / '.join(used)})"
    return NOT_THE_PAPERS


def _override_keys(overrides: Sequence[str]) -> dict[str, str]:
    """A recorded command line's overrides as key -> value (``+``/``~`` prefixes dropped)."""
    keys = {}
    for override in overrides:
        key, _, value = str(override).lstrip("+~").partition("=")
        keys[key] = value
    return keys
