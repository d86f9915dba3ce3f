"""Which runs may be drawn together: grids, settings and the keys that tell them apart.

A *grid* is the runs of one dataset and one model (``dataset.name``, ``model.name``); accuracies of
different data or networks never share an axis, so a grid figure draws one grid, and a runs folder
holding several asks which (:class:`AmbiguousGrid`; ``python -m ablations.figures grid=DATASET/MODEL``).

Within a grid, a *setting* is everything a run's identity holds (:func:`ablations.results.identity`:
what changes what is trained) except the seed and the variant's own physics
(:data:`ablations.neurons.PHYSICS_KEYS`). Runs of two settings are never pooled as if they were
seeds: a figure draws each setting apart and names the keys that differ (``train.lr=0.01``).

The keys come from each run's ``config.yaml``, read once by :func:`attach_configs` (called by
:func:`ablations.figures.load`; a table loaded otherwise has them read on use); a run without a
record on disk falls back to the identity columns of the table itself (dataset, model, tau, lam,
threshold, steps).

A key a run has no value for (``neuron.tau`` of ``no_leak``: an IF neuron has no time constant)
does not apply to it: such a run belongs to every setting that agrees on the keys it does have,
and figures say so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .missing import MissingResults

__all__ = ["AmbiguousGrid", "Grid", "RunConfigs", "attach_configs", "assign_settings", "choose_grid",
           "filter_grid", "grids", "setting_keys"]

#: Config keys that never tell settings apart: the seed, study bookkeeping, paths, evaluation (see
#: ablations.results.IDENTITY_EXCLUDE), the variant's name and the physics it defines.
_NOT_SETTINGS = ("neuron.variant",)

#: Identity columns of the results table, used when a table carries no run configs.
FALLBACK_COLUMNS = {"dataset": "dataset.name", "model": "model.name", "tau": "neuron.tau", "lam": "neuron.lam",
                    "threshold": "neuron.threshold", "steps": "dataset.steps"}


class RunConfigs(Mapping):
    """``{run_dir: {dotted key: value}}`` of the identity keys of each run's config; kept in
    ``DataFrame.attrs`` (pandas copies attrs deeply on every operation: this object is shared)."""

    def __init__(self, configs: dict[str, dict[str, Any]]):
        self._configs = configs

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._configs[key]

    def __iter__(self):
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def __deepcopy__(self, memo) -> RunConfigs:
        return self

    def __repr__(self) -> str:
        return f"RunConfigs({len(self)} runs)"


def _excluded(key: str) -> bool:
    from .. import neurons
    from ..results import IDENTITY_EXCLUDE

    if key in _NOT_SETTINGS or any(key == f"neuron.{k}" for k in neurons.PHYSICS_KEYS):
        return True
    return any(key == prefix or key.startswith(prefix + ".") for prefix in IDENTITY_EXCLUDE)


def read_config(run_dir: str) -> dict[str, Any] | None:
    """The identity keys of a run's ``config.yaml`` (flat, dotted), or None when it cannot be read."""
    import yaml

    from ..results import CONFIG_FILE, flatten

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        config = yaml.load((Path(str(run_dir)) / CONFIG_FILE).read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # load_results already reported an unreadable record
    flat: dict[str, Any] = {}
    flatten("", config if isinstance(config, dict) else {}, flat)
    return {k: v for k, v in flat.items() if not _excluded(k)}


def attach_configs(frame: pd.DataFrame) -> pd.DataFrame:
    """Read the ``config.yaml`` of every run in ``frame`` into ``frame.attrs["run_configs"]``."""
    configs: dict[str, dict[str, Any]] = {}
    if "run_dir" in frame.columns and "kind" in frame.columns:
        for run_dir in frame.loc[frame["kind"] == "run", "run_dir"].dropna().unique():
            config = read_config(str(run_dir))
            if config is not None:
                configs[str(run_dir)] = config
    frame.attrs["run_configs"] = RunConfigs(configs)
    return frame


def _value(value: Any) -> Any:
    """A hashable, comparable form; None for "no value" (null, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return float(value)
    return value


def _configs(runs: pd.DataFrame, results: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    stored = (results.attrs if results is not None else runs.attrs).get("run_configs") or {}
    out = {}
    for _, row in runs.drop_duplicates("run_dir").iterrows():
        run_dir = str(row["run_dir"])
        config = stored.get(run_dir) if run_dir in stored else (read_config(run_dir) if not stored else None)
        if config is not None:  # a table loaded without figures.load: the record on disk, if there is one
            out[run_dir] = {k: _value(v) for k, v in config.items() if not _excluded(k)}
        else:
            out[run_dir] = {key: _value(row.get(column)) for column, key in FALLBACK_COLUMNS.items()
                            if column in runs.columns}
    return out


def setting_keys(configs: dict[str, dict[str, Any]]) -> list[str]:
    """Keys with two or more values among the runs that have one (in config order)."""
    keys = list(dict.fromkeys(k for config in configs.values() for k in config))
    varying = []
    for key in keys:
        values = {config.get(key) for config in configs.values()} - {None}
        if len(values) > 1:
            varying.append(key)
    return varying


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _override(key: str, value: Any) -> str:
    """``train.lr=0.01``; ``dataset=digits`` / ``model=vgg9`` for the names."""
    name = {"dataset.name": "dataset", "model.name": "model"}.get(key, key)
    return f"{name}={_short(value)}"


def _describing(keys: list[str], configs: dict[str, dict[str, Any]]) -> list[str]:
    """The keys that describe settings: a ``dataset.*`` / ``model.*`` key is left out when the
    dataset / model name alone tells its values apart."""
    out = []
    for key in keys:
        parent = "dataset.name" if key.startswith("dataset.") else "model.name" if key.startswith("model.") else None
        if parent and parent != key and parent in keys:
            by_parent: dict[Any, set] = {}
            for config in configs.values():
                by_parent.setdefault(config.get(parent), set()).add(config.get(key))
            if all(len(v - {None}) <= 1 for v in by_parent.values()):
                continue
        out.append(key)
    return out


@dataclass
class Settings:
    """Runs assigned to settings: ``rows`` has one row per (run, setting) with ``setting`` (its label);
    a run whose config lacks a key is in every setting that agrees on the others."""

    rows: pd.DataFrame
    keys: list[str]                      # the keys that differ (described in the labels)
    labels: list[str]                    # one per setting, in order
    shared: dict[str, list[str]] = field(default_factory=dict)  # variant -> keys it has no value for
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> {key: value}

    def numeric_values(self) -> dict[str, float] | None:
        """``{label: value}`` when the settings differ in one numeric key only, else None."""
        if len(self.keys) != 1:
            return None
        out = {}
        for label, values in self.values.items():
            value = values.get(self.keys[0])
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            out[label] = float(value)
        return out

    @property
    def several(self) -> bool:
        return len(self.labels) > 1

    def note(self) -> str | None:
        """What a reader must know: which keys differ, and which runs appear in several settings."""
        if not self.several:
            return None
        text = f"{len(self.labels)} settings, drawn apart (never pooled as seeds): " + "; ".join(self.labels)
        if self.shared:
            text += ". " + "; ".join(f"{variant} has no {', '.join(keys)}: its runs appear in every setting"
                                     for variant, keys in sorted(self.shared.items()))
        return text


def assign_settings(runs: pd.DataFrame, results: pd.DataFrame | None = None, ignore: Iterable[str] = ()) -> Settings:
    """Give every run (one row per ``run_dir`` is enough) its setting; see :class:`Settings`. Keys in
    ``ignore`` are what a figure compares (``neuron.tau`` of a figure over tau), not settings."""
    configs = _configs(runs, results)
    ignore = set(ignore)
    keys = [k for k in setting_keys(configs) if k not in ignore]
    described = _describing(keys, configs) or keys
    full: dict[tuple, str] = {}
    for run_dir in runs["run_dir"].drop_duplicates():
        values = tuple(configs[str(run_dir)].get(k) for k in keys)
        if None not in values:
            full.setdefault(values, "")
    if not full:  # every run lacks a key: each distinct tuple is a setting of its own
        for config in configs.values():
            full.setdefault(tuple(config.get(k) for k in keys), "")
    order = sorted(full, key=lambda values: tuple((v is None, _sortable(v)) for v in values))
    labels = {}
    for values in order:
        parts = [_override(k, v) for k, v in zip(keys, values) if k in described and v is not None]
        labels[values] = ", ".join(parts) or "default"
    rows, shared = [], {}
    variant_of = runs.drop_duplicates("run_dir").set_index("run_dir")["variant"].astype(str).to_dict() \
        if "variant" in runs.columns else {}
    for run_dir in runs["run_dir"].drop_duplicates():
        mine = tuple(configs[str(run_dir)].get(k) for k in keys)
        matches = [values for values in order
                   if all(m is None or m == v for m, v in zip(mine, values))] or [mine]
        if len(matches) > 1:
            absent = [k for k, m in zip(keys, mine) if m is None]
            shared.setdefault(variant_of.get(run_dir, str(run_dir)), absent)
        for values in matches:
            rows.append({"run_dir": run_dir, "setting": labels.get(values, "default")})
    assignment = pd.DataFrame(rows, columns=["run_dir", "setting"])
    merged = runs.merge(assignment, on="run_dir", how="inner")
    merged.attrs.update(runs.attrs)
    return Settings(merged, [k for k in keys if k in described], [labels[v] for v in order if v in labels],
                    shared, {labels[v]: {k: x for k, x in zip(keys, v) if k in described} for v in order})


def _sortable(value: Any) -> tuple:
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


# --------------------------------------------------------------------------- grids
@dataclass(frozen=True)
class Grid:
    dataset: str
    model: str
    runs: int
    differs: tuple[str, ...]   # keys that differ inside it (its settings)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.model}"

    def describe(self) -> str:
        inside = f"; settings differ in {', '.join(self.differs)}" if self.differs else ""
        return f"grid={self.name}: {self.runs} run(s) (dataset {self.dataset}, model {self.model}{inside})"


def grids(runs: pd.DataFrame, results: pd.DataFrame | None = None) -> list[Grid]:
    """The grids among ``runs`` (finished, non-study ``run`` rows), most runs first."""
    if runs.empty:
        return []
    out = []
    for (dataset, model), group in runs.groupby(["dataset", "model"], dropna=False, sort=True):
        keys = [k for k in setting_keys(_configs(group, results)) if k not in ("dataset.name", "model.name")]
        out.append(Grid(str(dataset), str(model), int(group["run_dir"].nunique()), tuple(keys)))
    return sorted(out, key=lambda g: (-g.runs, g.name))


class AmbiguousGrid(MissingResults):
    """A runs folder holds several grids and the figure was not told which to draw."""


def choose_grid(runs: pd.DataFrame, results: pd.DataFrame, figure: str) -> pd.DataFrame:
    """The runs of the one grid in ``runs``; several grids raise :class:`AmbiguousGrid` listing
    them, with the command that draws each."""
    found = grids(runs, results)
    if len(found) <= 1:
        return runs
    from .select import runs_root

    root = runs_root(results)
    listing = "\n".join(f"    {g.describe()}" for g in found)
    raise AmbiguousGrid(f"{len(found)} grids under {root}; a grid figure draws one, choose it with grid=DATASET/MODEL:\n"
                        f"{listing}",
                        [f"python -m ablations.figures runs={root} grid={g.name} figure={figure}" for g in found])


def filter_grid(frame: pd.DataFrame, choice: str) -> pd.DataFrame:
    """Rows of ``frame`` in grid ``choice`` (``DATASET/MODEL``, or ``DATASET`` when it has one model);
    an unknown choice is a UserError listing the grids."""
    from ..errors import UserError
    from .select import run_rows

    found = grids(run_rows(frame), frame)
    dataset, _, model = choice.partition("/")
    chosen = [g for g in found if g.dataset == dataset and (not model or g.model == model)]
    if len(chosen) != 1:
        listing = "; ".join(g.describe() for g in found) or "no finished runs"
        why = "names several grids" if len(chosen) > 1 else "is not a grid of these runs"
        raise UserError(f"grid={choice} {why}; the grids are: {listing}")
    keep = (frame["dataset"].astype(str) == chosen[0].dataset) & (frame["model"].astype(str) == chosen[0].model)
    kept = frame[keep]
    kept.attrs.update(frame.attrs)
    kept.attrs["grid_choice"] = chosen[0].name
    return kept


def variants_in(rows: pd.DataFrame) -> Iterable[str]:
    return rows["variant"].astype(str).unique() if "variant" in rows.columns else []
