"""Picking the rows a figure draws from the tidy results table, and saying what is missing.

Every figure reads :func:`ablations.results.load_results` rows only. The helpers here keep the
rows of finished runs that are not study trials (trials are drawn by the study figures), add
derived columns (the effective membrane time constant, a legend label per series) and, when a
figure lacks the rows it needs, raise :class:`MissingResults` carrying the exact command that
would produce them: a run grid with ``eval.suites=[...]`` (``python -m ablations.run`` trains
the runs that do not exist yet and only evaluates the finished ones) or
``python -m ablations.evaluate`` for runs that exist.
"""

from __future__ import annotations

import functools
import math
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import style

__all__ = [
    "MissingResults",
    "add_series",
    "add_tau",
    "datasets_of",
    "effective_tau",
    "epoch_rows",
    "eval_rows",
    "evaluate_command",
    "missing_commands",
    "paper_rows",
    "per_run_mean",
    "require",
    "run_command",
    "run_rows",
    "runs_root",
    "series_dashes",
    "series_palette",
]

LEAK_VARIANTS = ("vanilla", "no_leak", "complete_leak")
ROLES_VARIANTS = ("vanilla", "no_leak", "complete_leak", "no_reset", "recurrent")
LINEAR_VARIANTS = ("linear_leak", "vanilla", "no_leak")
DEFAULT_SEEDS = (0, 1)


class MissingResults(Exception):
    """A figure cannot be drawn from the given results: what is missing, and how to make it."""

    def __init__(self, reason: str, commands: Sequence[str] = ()):
        super().__init__(reason)
        self.reason = reason
        self.commands = [c for c in commands if c]

    def __str__(self) -> str:
        lines = [self.reason] + [f"  {c}" for c in self.commands]
        return "\n".join(lines)


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
def _tau_of(leak: Any, tau: Any, beta_value: Any) -> float:
    leak = str(leak)
    if leak == "none":
        return math.inf
    if leak == "complete":
        return 0.0
    if leak != "exponential":
        return math.nan
    try:
        value = float(tau)
        if not math.isnan(value):
            return value
    except (TypeError, ValueError):
        pass
    try:
        beta = float(beta_value)
    except (TypeError, ValueError):
        return math.nan
    if beta >= 1.0:
        return math.inf
    if beta <= 0.0:
        return 0.0
    return -1.0 / math.log(beta)


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
    return rows[mask], text


def add_series(rows: pd.DataFrame, variants: Sequence[str] | None = None) -> pd.DataFrame:
    """Add ``series``: the variant's legend name, plus the parameters that tell apart several
    configurations of one variant on one dataset (``vanilla LIF (tau=30)``)."""
    rows = rows.copy()
    if variants is not None:
        rows = rows[rows["variant"].isin(variants)]
    labels: dict[tuple[str, str], str] = {}
    for variant, group in rows.groupby("variant", sort=False):
        hashes_per_dataset = group.groupby("dataset")["config_hash"].nunique() if "config_hash" in group else []
        several = len(hashes_per_dataset) and int(np.max(hashes_per_dataset)) > 1
        varying = [p for p in _SERIES_PARAMS if p in group.columns and several
                   and group.groupby("dataset")[p].agg(lambda v: v.astype(str).nunique()).max() > 1]
        for config_hash, config_rows in group.groupby("config_hash", sort=False) if "config_hash" in group \
                else [(None, group)]:
            name = style.variant_label(variant)
            if several:
                first = config_rows.iloc[0]
                suffix = ", ".join(f"{p}={_short(first[p])}" for p in varying) or f"config {str(config_hash)[:6]}"
                name = f"{name} ({suffix})"
            labels[(str(variant), str(config_hash))] = name
    rows["series"] = [labels.get((str(v), str(h)), style.variant_label(v)) for v, h in  # no hash: an old record
                      zip(rows["variant"], _column(rows, "config_hash"))]
    return rows


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


# --------------------------------------------------------------------------- commands
def _quote(text: str) -> str:
    return text if all(c.isalnum() or c in "=._,-/:+" for c in text) else shlex.quote(text)


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    return str(value)


_OVERRIDE_SECTIONS = ("dataset.", "model.", "train.")
_NOT_OVERRIDES = ("dataset.name", "model.name", "train.progress", "train.num_workers", "train.eval_every",
                  "dataset.layers", "dataset.kind")


@functools.lru_cache(maxsize=32)
def _default_flat(dataset: str, model: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from ..config import compose
    from ..results import _flatten

    overrides = [f"dataset={dataset}"] + ([f"model={model}"] if model and model != "default" else [])
    try:
        cfg = compose(overrides)
    except Exception:  # noqa: BLE001 - a dataset that no longer composes just gets no shared overrides
        return {}
    flat: dict[str, Any] = {}
    _flatten("", OmegaConf.to_container(cfg, resolve=True), flat)
    return flat


@functools.lru_cache(maxsize=512)
def _run_flat(run_dir: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from ..results import CONFIG_FILE, _flatten

    path = Path(run_dir) / CONFIG_FILE
    flat: dict[str, Any] = {}
    if path.exists():
        _flatten("", OmegaConf.to_container(OmegaConf.load(path), resolve=False), flat)
    return flat


def _as_list(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        try:
            import json

            return json.loads(value)
        except ValueError:
            return value
    return value


def base_overrides(runs: pd.DataFrame, sections: Sequence[str] = _OVERRIDE_SECTIONS) -> list[str]:
    """The overrides (``dataset.steps=4 train.epochs=3``) that every given run shares and that
    differ from the shipped defaults of its dataset; keys whose default is null are derived."""
    common: dict[str, str] | None = None
    for run_dir, dataset, model in runs[["run_dir", "dataset", "model"]].drop_duplicates().itertuples(index=False):
        defaults = _default_flat(str(dataset), str(model))
        if not defaults:
            continue
        mine: dict[str, str] = {}
        for key, value in _run_flat(str(run_dir)).items():
            if not key.startswith(tuple(sections)) or key in _NOT_OVERRIDES or key not in defaults:
                continue
            default = _as_list(defaults[key])
            value = _as_list(value)
            if default is None or _format_value(default) == _format_value(value):
                continue
            mine[key] = _format_value(value)
        common = mine if common is None else {k: v for k, v in common.items() if mine.get(k) == v}
    return [f"{k}={v}" for k, v in sorted((common or {}).items())]


def run_command(frame: pd.DataFrame, suites: Sequence[str] = (), variants: Sequence[str] | None = None,
                dataset: str | None = None, extra: Sequence[str] = ()) -> str:
    """``python -m ablations.run -m ...`` for the grid that yields the missing rows.

    Variants, seeds and shared overrides follow the finished runs of ``dataset`` in ``frame``
    (so finished runs are only evaluated, not retrained); ``dataset`` defaults to the one most
    runs use.
    """
    runs = run_rows(frame)
    if dataset is None and not runs.empty:
        candidates = runs[_applies(runs, suites)]
        dataset = _most_runs(candidates if not candidates.empty else runs)
    mine = runs[runs["dataset"] == dataset] if dataset is not None and not runs.empty else runs.iloc[0:0]
    if variants is None:
        variants = [v for v in style.VARIANTS if v in set(mine["variant"])] or list(ROLES_VARIANTS)
    seeds = sorted({int(s) for s in mine["seed"].dropna()}) if not mine.empty else []
    seeds = seeds or (sorted({int(s) for s in runs["seed"].dropna()}) if not runs.empty else []) or list(DEFAULT_SEEDS)
    if not mine.empty:
        shared = base_overrides(mine)
    elif not runs.empty:  # other datasets: carry the training budget only
        shared = base_overrides(runs, sections=("train.",))
    else:
        shared = []
    parts = ["python -m ablations.run -m"]
    if dataset and dataset != "digits":
        parts.append(f"dataset={dataset}")
    parts += [f"variant={','.join(variants)}", f"seed={','.join(str(s) for s in seeds)}"]
    parts += [o for o in shared if o.split("=")[0] not in {e.split("=")[0] for e in extra}]
    parts += list(extra)
    if suites:
        parts.append(f"eval.suites=[{','.join(suites)}]")
    root = runs_root(frame)
    if root != "runs":
        parts.append(f"paths.runs={root}")
    return " ".join(_quote(p) if i else p for i, p in enumerate(parts))


def evaluate_command(frame: pd.DataFrame, suites: Sequence[str], dataset: str) -> str:
    """``python -m ablations.evaluate run=<root>/<dataset> suite=...``: evaluate every finished run
    of ``dataset`` (suites a run already has are skipped)."""
    root = runs_root(frame).rstrip("/")
    return f"python -m ablations.evaluate run={_quote(f'{root}/{dataset}')} suite={','.join(suites)}"


def _applies(runs: pd.DataFrame, suites: Sequence[str]) -> pd.Series:
    """Which runs' data every one of ``suites`` applies to (e.g. ``noise`` needs images)."""
    from ..evaluation import SUITES

    kinds = runs["data_kind"] if "data_kind" in runs.columns else pd.Series(None, index=runs.index)
    applies = pd.Series(True, index=runs.index)
    for suite in suites:
        if suite in SUITES:
            applies &= kinds.isna() | kinds.isin(SUITES[suite].kinds)
    return applies


def _most_runs(runs: pd.DataFrame) -> str:
    """The dataset with the most runs; on a tie, image data (the papers' main case) first."""
    static = runs["data_kind"].eq("static") if "data_kind" in runs.columns else pd.Series(False, index=runs.index)
    score = runs.assign(_static=static).groupby("dataset")["_static"].agg(["size", "any"])
    return str(score.sort_values(["size", "any"], ascending=False).index[0])


def _evaluated_runs(frame: pd.DataFrame) -> dict[str, set]:
    """``{suite: run folders with rows of it}`` among finished non-study runs (empty when no run
    has been evaluated yet: the table then has no ``suite`` column at all)."""
    done = paper_rows(frame)
    if done.empty or "suite" not in done.columns or "run_dir" not in done.columns:
        return {}
    done = done[done["kind"] == "eval"]
    return {str(suite): set(group["run_dir"]) for suite, group in done.groupby("suite", sort=False)}


def missing_commands(frame: pd.DataFrame, suites: Sequence[str] = (), variants: Sequence[str] | None = None,
                     dataset: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The commands that produce what a figure lacks: ``ablations.evaluate`` for the finished runs
    of the wanted variants, ``ablations.run`` for the variants that have no run yet."""
    runs = run_rows(frame)
    if dataset is None and not runs.empty:
        candidates = runs[_applies(runs, suites)]
        dataset = _most_runs(candidates if not candidates.empty else runs)
    wanted = list(variants) if variants is not None else list(ROLES_VARIANTS)
    present = set(runs.loc[runs["dataset"] == dataset, "variant"]) if not runs.empty else set()
    commands = []
    if suites and present & set(wanted) and not extra:
        mine = runs[(runs["dataset"] == dataset) & runs["variant"].isin(wanted)]["run_dir"]
        evaluated = _evaluated_runs(frame)
        lacking = [s for s in suites if any(r not in evaluated.get(s, set()) for r in mine)]
        if lacking:
            commands.append(evaluate_command(frame, lacking, str(dataset)))
    absent = [v for v in wanted if v not in present]
    if absent or extra or not commands:
        commands.append(run_command(frame, suites, absent or wanted, dataset, extra))
    return commands


def require(rows: pd.DataFrame, frame: pd.DataFrame, what: str, suites: Sequence[str] = (),
            variants: Sequence[str] | None = None, dataset: str | None = None, extra: Sequence[str] = (),
            min_series: int = 1, series: str | None = None) -> None:
    """Raise :class:`MissingResults` when ``rows`` is empty (or has fewer than ``min_series``
    distinct values of ``series``), naming the commands that would produce them."""
    enough = not rows.empty
    if enough and series is not None:
        enough = rows[series].nunique() >= min_series
    if enough:
        return
    have = run_rows(frame)
    found = (f"{len(have)} finished run(s) of {', '.join(v for v in style.VARIANTS if v in set(have['variant']))}"
             f" on {', '.join(datasets_of(have))}" if not have.empty else "no finished runs")
    raise MissingResults(f"needs {what}; found {found} in {runs_root(frame)}",
                         missing_commands(frame, suites, variants, dataset, extra))
