"""What a figure lacks, and the commands that make it.

When a figure cannot be drawn it raises :class:`MissingResults` carrying the exact commands that
would produce the rows: a run grid with ``eval.suites=[...]`` (``python -m ablations.run`` trains
the runs that do not exist yet and only evaluates the finished ones) or ``python -m
ablations.evaluate`` for runs that exist. Commands are built from the run records in the results
table: the variants, seeds and the overrides each run recorded.
"""

from __future__ import annotations

import functools
import math
import shlex
from collections.abc import Sequence
from typing import Any

import pandas as pd

from . import style
from .select import DEFAULT_SEEDS, ROLES_VARIANTS, datasets_of, paper_rows, run_rows, runs_root

__all__ = ["MissingResults", "base_overrides", "choose_dataset", "evaluate_command", "missing_commands", "require",
           "run_command", "shared_overrides"]


class MissingResults(Exception):
    """A figure cannot be drawn from the given results: what is missing, and how to make it."""

    def __init__(self, reason: str, commands: Sequence[str] = ()):
        super().__init__(reason)
        self.reason = reason
        self.commands = [c for c in commands if c]

    def __str__(self) -> str:
        lines = [self.reason] + [f"  {c}" for c in self.commands]
        return "\n".join(lines)


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
    """Shipped defaults of a dataset and model, only for records written before runs kept their
    overrides (status.json ``overrides``): the shared overrides of such runs are their differences."""
    from omegaconf import OmegaConf

    from ..config import compose
    from ..results import flatten

    overrides = [f"dataset={dataset}"] + ([f"model={model}"] if model and model != "default" else [])
    try:
        cfg = compose(overrides)
    except Exception:  # noqa: BLE001 - a dataset that no longer composes just gets no shared overrides
        return {}
    flat: dict[str, Any] = {}
    flatten("", OmegaConf.to_container(cfg, resolve=True), flat)
    return flat


def _as_list(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        try:
            import json

            return json.loads(value)
        except ValueError:
            return value
    return value


def _recorded(overrides: Any, sections: Sequence[str]) -> dict[str, str] | None:
    """The ``key=value`` overrides a run recorded (status.json), within ``sections``."""
    if not isinstance(overrides, (list, tuple)):
        return None
    mine = {}
    for override in overrides:
        key, sep, value = str(override).lstrip("+~").partition("=")
        if sep and key.startswith(tuple(sections)) and key not in _NOT_OVERRIDES:
            mine[key] = value
    return mine


def base_overrides(runs: pd.DataFrame, sections: Sequence[str] = _OVERRIDE_SECTIONS) -> list[str]:
    """The overrides (``dataset.steps=4 train.epochs=3``) that every given run shares: the ones its
    record kept (``overrides`` of status.json); for older records, its config's differences from the
    shipped defaults of its dataset (keys whose default is null are derived)."""
    common: dict[str, str] | None = None
    columns = [c for c in ("run_dir", "dataset", "model", "config", "overrides") if c in runs.columns]
    for row in runs[columns].drop_duplicates("run_dir").itertuples(index=False):
        row = row._asdict()
        mine = _recorded(row.get("overrides"), sections)
        if mine is not None:
            common = mine if common is None else {k: v for k, v in common.items() if mine.get(k) == v}
            continue
        defaults = _default_flat(str(row["dataset"]), str(row["model"]))
        if not defaults:
            continue
        mine = {}
        flat = row.get("config") if isinstance(row.get("config"), dict) else {}
        for key, value in flat.items():
            if not key.startswith(tuple(sections)) or key in _NOT_OVERRIDES or key not in defaults:
                continue
            default = _as_list(defaults[key])
            value = _as_list(value)
            if default is None or _format_value(default) == _format_value(value):
                continue
            mine[key] = _format_value(value)
        common = mine if common is None else {k: v for k, v in common.items() if mine.get(k) == v}
    return [f"{k}={v}" for k, v in sorted((common or {}).items())]


#: Recorded overrides a proposed command sets itself (or that do not belong in it).
_COMMAND_OWN = ("variant", "neuron.variant", "seed", "dataset", "paths.runs", "progress", "train.progress", "jobs",
                "debug", "device", "eval", "hydra.verbose")
#: ... and with everything below them (``eval.noise.n_samples``: the command names its suites).
_COMMAND_OWN_TREES = ("trial.", "eval.", "hydra.run.", "hydra.sweep.", "hydra.job.")
#: When a command proposes another dataset than the runs', only these of their overrides go with it
#: (the model and the data keys belong to the runs' own data).
_PORTABLE = ("train.", "paths.data", "plugins", "hydra.searchpath")


def _own(key: str) -> bool:
    return key in _COMMAND_OWN or key.startswith(_COMMAND_OWN_TREES)


def shared_overrides(runs: pd.DataFrame, portable_only: bool = False) -> list[str] | None:
    """The overrides every given run was made with (status.json ``overrides``, as typed: groups such as
    ``model=import`` and ``experiment=...``, ``plugins``, ``paths.data``, ``neuron.*``, ...), less the
    ones a proposed command sets itself; None when a run did not record its overrides."""
    common: dict[str, str] | None = None
    if "overrides" not in runs.columns:
        return None
    for overrides in runs.drop_duplicates("run_dir")["overrides"]:
        if not isinstance(overrides, (list, tuple)):
            return None
        mine = {}
        for override in overrides:
            key, sep, value = str(override).lstrip("+~").partition("=")
            if not sep or _own(key) or (portable_only and not key.startswith(_PORTABLE)):
                continue
            mine[str(override).partition("=")[0]] = value
        common = mine if common is None else {k: v for k, v in common.items() if mine.get(k) == v}
    return [f"{k}={v}" for k, v in (common or {}).items()]


def run_command(frame: pd.DataFrame, suites: Sequence[str] = (), variants: Sequence[str] | None = None,
                dataset: str | None = None, extra: Sequence[str] = (), kinds: Sequence[str] | None = None) -> str:
    """``python -m ablations.run -m ...`` for the grid that yields the missing rows.

    Variants, seeds and shared overrides follow the finished runs of ``dataset`` in ``frame``
    (so finished runs are only evaluated, not retrained); ``dataset`` defaults to the one most
    runs use.
    """
    runs = run_rows(frame)
    if dataset is None:
        dataset = choose_dataset(runs, suites, kinds)
    mine = runs[runs["dataset"] == dataset] if dataset is not None and not runs.empty else runs.iloc[0:0]
    if variants is None:
        variants = [v for v in style.VARIANTS if v in set(mine["variant"])] or list(ROLES_VARIANTS)
    seeds = sorted({int(s) for s in mine["seed"].dropna()}) if not mine.empty else []
    seeds = seeds or (sorted({int(s) for s in runs["seed"].dropna()}) if not runs.empty else []) or list(DEFAULT_SEEDS)
    if not mine.empty:
        shared = shared_overrides(mine)
        shared = base_overrides(mine) if shared is None else shared
    elif not runs.empty:  # other datasets: carry the training budget (and where data and plugins live) only
        shared = shared_overrides(runs, portable_only=True)
        shared = base_overrides(runs, sections=("train.",)) if shared is None else shared
    else:
        shared = []
    parts = ["python -m ablations.run -m"]
    if dataset and not any(o.startswith("experiment=") for o in shared):  # a preset names its own dataset
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


def _allowed_kinds(suites: Sequence[str], kinds: Sequence[str] | None) -> set[str]:
    """The data kinds every one of ``suites`` applies to (e.g. ``noise``: static), within ``kinds``."""
    from ..evaluation import SUITES

    allowed = set(kinds) if kinds is not None else {"static", "event", "temporal"}
    for suite in suites:
        if suite in SUITES:
            allowed &= set(SUITES[suite].kinds)
    return allowed


def _applies(runs: pd.DataFrame, suites: Sequence[str], kinds: Sequence[str] | None = None) -> pd.Series:
    """Which runs' data every one of ``suites`` (and the figure's ``kinds``) applies to."""
    data_kinds = runs["data_kind"] if "data_kind" in runs.columns else pd.Series(None, index=runs.index)
    return data_kinds.isna() | data_kinds.isin(_allowed_kinds(suites, kinds))


#: The dataset a command proposes per data kind when no run has data the figure can use.
DEFAULT_DATASET = {"static": "digits", "event": "digits_events", "temporal": "delayed_xor"}


def choose_dataset(runs: pd.DataFrame, suites: Sequence[str] = (), kinds: Sequence[str] | None = None) -> str | None:
    """The runs' dataset with the most runs among those the suites and kinds apply to; else a small
    shipped dataset of an allowed kind (``digits`` for image data)."""
    if not runs.empty:
        candidates = runs[_applies(runs, suites, kinds)]
        if not candidates.empty:
            return _most_runs(candidates)
    allowed = _allowed_kinds(suites, kinds)
    for kind in ("static", "event", "temporal"):
        if kind in allowed:
            return DEFAULT_DATASET[kind]
    return None


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
                     dataset: str | None = None, extra: Sequence[str] = (), kinds: Sequence[str] | None = None
                     ) -> list[str]:
    """The commands that produce what a figure lacks: ``ablations.evaluate`` for the finished runs
    of the wanted variants, ``ablations.run`` for the variants that have no run yet. Only data the
    suites (and the figure's ``kinds``) apply to is proposed: a noise suite never on event data."""
    runs = run_rows(frame)
    if dataset is None:
        dataset = choose_dataset(runs, suites, kinds)
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
        commands.append(run_command(frame, suites, absent or wanted, dataset, extra, kinds))
    return commands


def require(rows: pd.DataFrame, frame: pd.DataFrame, what: str, suites: Sequence[str] = (),
            variants: Sequence[str] | None = None, dataset: str | None = None, extra: Sequence[str] = (),
            min_series: int = 1, series: str | None = None, kinds: Sequence[str] | None = None) -> None:
    """Raise :class:`MissingResults` when ``rows`` is empty (or has fewer than ``min_series``
    distinct values of ``series``), naming the commands that would produce them (on data of
    ``kinds`` only, when the figure needs one kind: image data for FGSM / PGD)."""
    enough = not rows.empty
    if enough and series is not None:
        enough = rows[series].nunique() >= min_series
    if enough:
        return
    have = run_rows(frame)
    found = (f"{len(have)} finished run(s) of {', '.join(v for v in style.VARIANTS if v in set(have['variant']))}"
             f" on {', '.join(datasets_of(have))}" if not have.empty else "no finished runs")
    commands = missing_commands(frame, suites, variants, dataset, extra, kinds)
    chosen = dataset or choose_dataset(have, suites, kinds)
    elsewhere = ""
    if not have.empty and chosen not in set(have["dataset"].astype(str)):
        allowed = sorted(_allowed_kinds(suites, kinds))
        elsewhere = (f"; it needs {' or '.join(allowed)} data, which none of these runs has: the command trains "
                     f"a small grid on {chosen}")
    raise MissingResults(f"needs {what}; found {found} in {runs_root(frame)}{elsewhere}", commands)
