"""``python -m ablations.study study=NAME [key=value ...]``: create or resume an Optuna study.

Every trial is an ordinary run (``ablations.run.run_cfg``): its record lands in ``runs/`` with
``trial.study`` and ``trial.number`` set, and the trial's objective values are read back from that
record. The same command creates the study or resumes it where it stopped (Ctrl-C, ``kill -9``,
reboot), and any number of copies of it, on any number of machines, work on one study when they
share a storage URL.

Command line (Hydra-style ``key=value``)::

    python -m ablations.study study=leak_tau                      # create or resume
    python -m ablations.study study=leak_tau study.n_trials=20 train.epochs=5
    python -m ablations.study study=leak_tau n_jobs=2             # two local worker processes
    python -m ablations.study study=leak_tau storage=postgresql://user:pw@host/db
    python -m ablations.study study=leak_tau summary=true         # table and figures only

``study=NAME``     a study file: ``<paths.studies>/NAME.yaml`` (user) or ``ablations/conf/study/NAME.yaml``
                   (shipped); a user file of the same name takes precedence.
``storage=URL``    any SQLAlchemy/Optuna URL; default ``sqlite:///<paths.studies>/NAME.db``.
``n_jobs=N``       N worker processes on this machine (each an independent Optuna worker).
``summary=true``   print the best trial / Pareto front and write the figures; run no trial.
``study.KEY=V``    change a key of the study file (``study.n_trials=20``, ``study.sampler.seed=1``).
anything else      a run override applied to every trial (``train.epochs=5``, ``paths.runs=...``).

Study file (YAML)::

    name: leak_tau              # optional; default: the file name. Also the default storage file name.
    extends: null               # optional: name of another study file whose keys this one changes
    description: ...
    overrides:                  # run overrides of every trial (list of key=value, or a mapping)
      - train.epochs=10
    space:                      # config key (or config group) -> distribution
      variant: {type: categorical, choices: [vanilla, no_leak]}   # `choices: all` = every option of a group
      neuron.tau: {type: float, low: 1.0, high: 1000.0, log: true, when: {variant: vanilla}}
      dataset.steps: {type: int, low: 4, high: 32, step: 4}
    objectives:                 # one or more; see "Objectives" below
      - {metric: accuracy, direction: maximize}
    sampler: {name: tpe}        # tpe | random | grid | nsgaii (+ their keyword arguments, e.g. seed)
    pruner: {name: median}      # none | median | percentile | hyperband (+ keyword arguments)
    prune_metric: null          # per-epoch metric reported for pruning; default from the objective
    n_trials: 20                # budget: trials finished (complete or pruned) over all workers and resumes
    timeout: null               # seconds after which this command starts no new trial
    heartbeat_interval: 10      # seconds between a running trial's heartbeats
    grace_period: 30            # seconds without a heartbeat after which a running trial counts as dead
    max_retry: 3                # times a dead worker's trial is re-run
    reclaim_local: true         # also re-run at once trials whose worker process on this machine is gone

A parameter with ``when`` is sampled only when the parameters it names (earlier in ``space``)
have the given values; otherwise the run keeps the configured value. The grid sampler needs every
parameter categorical (or given a ``grid: [values]`` list) and no ``when``; its budget is the grid.

Objectives
----------
``{metric: M, direction: maximize|minimize}`` reads the run record: ``status.json`` ``final`` (the
last epoch's ``accuracy``, ``test_loss``, ``test_sse``, ``train_loss``, ``train_sse``, ...), then its
top-level numbers (``wall_time_s``, ``n_parameters``). With a ``suite`` it reads the evaluation table
``<run_dir>/eval/<suite>.parquet`` (long form: ``suite``, ``metric``, ``value`` + condition columns)::

    {suite: noise, metric: accuracy, where: {noise: gaussian, scenario: 1, severity: 5},
     reduce: mean, direction: maximize, name: noise_accuracy}

``where`` keeps the rows whose condition columns equal the given values (a list means any of
them), ``reduce`` (``mean`` | ``sum`` | ``min`` | ``max`` | ``median``, default ``mean``) turns
the kept ``value`` s into one number; ``name`` labels the objective (default: ``suite.metric``).
The suites an objective needs are added to each trial's ``eval.suites``. A single-objective study
prunes on the per-epoch ``prune_metric`` (default: ``test_<metric>`` for ``accuracy``/``loss``/``sse``
objectives), in the study's direction.

Crash safety
------------
Storage is Optuna's ``RDBStorage`` with a heartbeat: a trial whose worker stops beating for
``grace_period`` seconds is marked failed and re-queued with the same parameters
(``RetryHeartbeatStaleTrialCallback``), and its run resumes from the run's last checkpoint (the
study bookkeeping is not part of the run identity). Ctrl-C and SIGTERM re-queue the current trial
at once. A diverged run ends its trial as pruned (``user_attrs.run_status = diverged``). Workers
stop when the finished (complete + pruned) trials reach the budget; one that finds the rest of the
budget taken by running trials waits for them (or for them to be declared dead, then re-runs them).
When two workers ask for the last slot at the same moment, the trial with the higher number runs
nothing and is recorded as failed with ``user_attrs.surplus``, so the budget is never exceeded.
``n_jobs`` workers are processes, not threads: Hydra's compose and snnTorch keep process-wide state,
and a process per worker is what a kill, a reboot or another machine looks like anyway.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from . import results
from .config import CONF_DIR, UserError, compose, group_options, validate

__all__ = [
    "Param", "Objective", "StudyDefinition", "Invocation",
    "RUN_METRICS", "EPOCH_METRICS", "REDUCERS",
    "available_studies", "load_definition", "parse_definition", "parse_args",
    "format_value", "merge_overrides", "trial_overrides", "suggest", "objective_value",
    "check_definition", "check_rows", "default_storage_url", "open_storage", "open_study", "state_counts",
    "summary_table", "write_figures", "run_study", "main",
]

SHIPPED_DIR = CONF_DIR / "study"
STUDY_KEYS = ("name", "extends", "description", "overrides", "space", "objectives", "sampler", "pruner",
              "prune_metric", "n_trials", "timeout", "heartbeat_interval", "grace_period", "max_retry",
              "reclaim_local")
PARAM_TYPES = ("float", "int", "categorical")
SAMPLERS = ("tpe", "random", "grid", "nsgaii")
PRUNERS = ("none", "median", "percentile", "hyperband")
REDUCERS = ("mean", "sum", "min", "max", "median")
# Numbers a finished run records in status.json "final" (training.fit) and at its top level.
EPOCH_METRICS = ("epoch", "lr", "train_loss", "train_accuracy", "train_sse", "epoch_time_s", "data_time_s",
                 "test_loss", "test_accuracy", "test_sse")
RUN_METRICS = EPOCH_METRICS + ("accuracy", "train_time_s", "wall_time_s", "n_parameters", "beta_value",
                               "epochs_done")
_PRUNE_DEFAULTS = {"accuracy": "test_accuracy", "test_accuracy": "test_accuracy", "test_loss": "test_loss",
                   "test_sse": "test_sse", "train_loss": "train_loss", "train_sse": "train_sse",
                   "train_accuracy": "train_accuracy"}
DEFAULT_RUN_OVERRIDES = ("progress=false",)  # no progress bars from workers; a run override can change it


# --------------------------------------------------------------------------- definitions
@dataclass(frozen=True)
class Param:
    """One search-space dimension over a config key (``neuron.tau``) or config group (``variant``)."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    grid: tuple = ()
    when: tuple[tuple[str, Any], ...] = ()

    def check_values(self) -> list:
        """Values that exercise the configured range (checked by composing a run config)."""
        if self.type == "categorical":
            return list(self.choices)
        values = [self.low, self.high] if self.low != self.high else [self.low]
        return [int(v) for v in values] if self.type == "int" else values

    def grid_values(self) -> list:
        return list(self.grid) if self.grid else list(self.choices)


@dataclass(frozen=True)
class Objective:
    """A number read from a finished run: its record (no ``suite``) or an evaluation table."""

    name: str
    metric: str
    direction: str
    suite: str | None = None
    where: tuple[tuple[str, Any], ...] = ()
    reduce: str = "mean"

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.where)
        source = f"{self.suite}.{self.metric}" if self.suite else self.metric
        return f"{self.direction} {source}" + (f" [{where}]" if where else "") + \
            (f" ({self.reduce})" if self.suite else "")


@dataclass(frozen=True)
class StudyDefinition:
    name: str
    objectives: tuple[Objective, ...]
    space: tuple[Param, ...]
    overrides: tuple[str, ...] = ()
    description: str = ""
    sampler: Mapping[str, Any] = field(default_factory=dict)
    pruner: Mapping[str, Any] = field(default_factory=dict)
    prune_metric: str | None = None
    n_trials: int | None = None
    timeout: float | None = None
    heartbeat_interval: int = 10
    grace_period: int = 30
    max_retry: int = 3
    reclaim_local: bool = True
    source: str = ""

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def sampler_name(self) -> str:
        return str(self.sampler.get("name") or ("nsgaii" if self.multi_objective else "tpe"))

    @property
    def pruner_name(self) -> str:
        return str(self.pruner.get("name") or "none")

    @property
    def suites(self) -> list[str]:
        return sorted({o.suite for o in self.objectives if o.suite})

    def grid(self) -> dict[str, list]:
        return {p.key: p.grid_values() for p in self.space}

    @property
    def budget(self) -> int:
        if self.sampler_name == "grid":
            size = math.prod(len(v) for v in self.grid().values())
            return size if self.n_trials is None else min(int(self.n_trials), size)
        return int(self.n_trials)  # checked by parse_definition


def _study_dirs(studies_dir: str | Path | None) -> list[Path]:
    dirs = [SHIPPED_DIR]
    if studies_dir is not None:
        dirs.append(Path(studies_dir))
    return dirs


def available_studies(studies_dir: str | Path | None = None) -> dict[str, Path]:
    """Study name -> file; user files in ``studies_dir`` take precedence over shipped ones."""
    found: dict[str, Path] = {}
    for folder in _study_dirs(studies_dir):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
    return found


def _load_node(name: str, studies_dir: str | Path | None, seen: tuple[str, ...] = ()) -> DictConfig:
    files = available_studies(studies_dir)
    if name not in files:
        folders = " and ".join(str(d) for d in _study_dirs(studies_dir))
        raise UserError(f"unknown study {name!r}; studies: {', '.join(sorted(files)) or '(none)'} "
                        f"(files NAME.yaml in {folders}); see studies/README.md to write one")
    try:
        node = OmegaConf.load(files[name])
    except Exception as error:  # YAML syntax
        raise UserError(f"study file {files[name]} cannot be read: {error}") from None
    if not isinstance(node, DictConfig):
        raise UserError(f"study file {files[name]} must hold a mapping of study keys ({', '.join(STUDY_KEYS)})")
    parent = node.get("extends")
    if parent:
        if parent in seen or parent == name:
            raise UserError(f"study {name!r} extends {parent!r}, which extends it back")
        base = _load_node(str(parent), studies_dir, seen + (name,))
        base.pop("name", None)
        node = OmegaConf.merge(base, node)
    return node


def load_definition(name: str, studies_dir: str | Path | None = None,
                    changes: Iterable[str] = ()) -> StudyDefinition:
    """The study ``name`` (user file or shipped), with ``changes`` (``["n_trials=5"]``) applied."""
    node = _load_node(name, studies_dir)
    changes = list(changes)
    if changes:
        try:
            node = OmegaConf.merge(node, OmegaConf.from_dotlist(changes))
        except Exception as error:
            raise UserError(f"cannot apply study.{changes}: {error}") from None
    source = str(available_studies(studies_dir)[name])
    return parse_definition(OmegaConf.to_container(node, resolve=True), default_name=name, source=source)


def _pairs(value: Any, what: str) -> tuple[tuple[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise UserError(f"{what} must be a mapping of key: value, got {value!r}")
    return tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in value.items())


def _parse_param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, Mapping):
        raise UserError(f"{where}: space entry {key!r} must be a mapping such as "
                        "{type: float, low: 0.001, high: 0.1, log: true} or {type: categorical, choices: [a, b]}")
    unknown = set(spec) - {"type", "low", "high", "log", "step", "choices", "grid", "when"}
    if unknown:
        raise UserError(f"{where}: space entry {key!r} has unknown keys {sorted(unknown)}; "
                        "allowed: type, low, high, log, step, choices, grid, when")
    kind = str(spec.get("type") or ("categorical" if "choices" in spec else "float"))
    if kind not in PARAM_TYPES:
        raise UserError(f"{where}: space entry {key!r} has type {kind!r}; allowed: {', '.join(PARAM_TYPES)}")
    when = _pairs(spec.get("when"), f"{where}: {key}.when")
    grid = tuple(spec.get("grid") or ())
    if kind == "categorical":
        choices = spec.get("choices")
        if choices == "all":
            group = key
            choices = group_options(group) if (CONF_DIR / group).is_dir() else None
            if not choices:
                raise UserError(f"{where}: {key}: `choices: all` needs a config group ({key!r} is not one)")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise UserError(f"{where}: categorical space entry {key!r} needs a non-empty `choices` list")
        for value in choices:
            if not (value is None or isinstance(value, (str, int, float, bool))):
                raise UserError(f"{where}: {key}: choice {value!r} is not a scalar (str, int, float, bool, null)")
        return Param(key, kind, choices=tuple(choices), grid=grid, when=when)
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{where}: {kind} space entry {key!r} needs numeric `low` and `high`") from None
    log = bool(spec.get("log", False))
    step = spec.get("step")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise UserError(f"{where}: {key}: need finite low <= high, got low={low}, high={high}")
    if log and low <= 0:
        raise UserError(f"{where}: {key}: a log scale needs low > 0, got {low}")
    if log and step is not None:
        raise UserError(f"{where}: {key}: give `log` or `step`, not both")
    if kind == "int":
        if low != int(low) or high != int(high):
            raise UserError(f"{where}: {key}: an int range needs integer bounds, got {low}, {high}")
        step = int(step) if step is not None else None
    return Param(key, kind, low=low, high=high, log=log, step=float(step) if step is not None and kind == "float"
                 else step, grid=grid, when=when)


def _parse_objective(spec: Any, where: str) -> Objective:
    if isinstance(spec, str):
        raise UserError(f"{where}: objective {spec!r} must be a mapping, e.g. {{metric: {spec}, direction: maximize}}")
    if not isinstance(spec, Mapping):
        raise UserError(f"{where}: each objective must be a mapping such as {{metric: accuracy, direction: maximize}}")
    unknown = set(spec) - {"name", "metric", "direction", "suite", "where", "reduce"}
    if unknown:
        raise UserError(f"{where}: objective has unknown keys {sorted(unknown)}; "
                        "allowed: name, metric, direction, suite, where, reduce")
    metric = spec.get("metric")
    if not metric:
        raise UserError(f"{where}: objective {dict(spec)} needs a `metric`")
    direction = str(spec.get("direction") or "")
    if direction not in ("maximize", "minimize"):
        raise UserError(f"{where}: objective {metric!r} needs `direction: maximize` or `direction: minimize`"
                        f" (got {spec.get('direction')!r})")
    suite = spec.get("suite")
    reduce = str(spec.get("reduce") or "mean")
    if reduce not in REDUCERS:
        raise UserError(f"{where}: objective {metric!r}: reduce={reduce!r} is not one of {', '.join(REDUCERS)}")
    if spec.get("where") and not suite:
        raise UserError(f"{where}: objective {metric!r}: `where` selects rows of an evaluation suite; give `suite`")
    name = str(spec.get("name") or (f"{suite}.{metric}" if suite else metric))
    return Objective(name=name, metric=str(metric), direction=direction, suite=str(suite) if suite else None,
                     where=_pairs(spec.get("where"), f"{where}: objective {name}.where"), reduce=reduce)


def _positive_int(value: Any, key: str, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or (isinstance(value, float) and value != number):
        raise UserError(f"{where}: {key}={value!r} must be a positive integer")
    return number


def parse_definition(node: Mapping[str, Any], default_name: str = "study", source: str = "") -> StudyDefinition:
    """Check the structure of a study mapping and return its definition (no config composing here)."""
    where = source or default_name
    unknown = set(node) - set(STUDY_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown study keys {sorted(unknown)}; allowed: {', '.join(STUDY_KEYS)}")
    name = str(node.get("name") or default_name)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise UserError(f"{where}: study name {name!r} may hold only letters, digits, '_', '-', '.'")
    overrides = node.get("overrides") or []
    if isinstance(overrides, Mapping):
        overrides = [f"{k}={format_value(v)}" for k, v in overrides.items()]
    if not isinstance(overrides, (list, tuple)) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise UserError(f"{where}: `overrides` must be a list of key=value strings (or a mapping)")
    space_node = node.get("space") or {}
    if not isinstance(space_node, Mapping):
        raise UserError(f"{where}: `space` must map config keys to distributions")
    space = tuple(_parse_param(str(k), v, where) for k, v in space_node.items())
    keys = [p.key for p in space]
    for index, param in enumerate(space):
        for other, _ in param.when:
            if other not in keys[:index]:
                raise UserError(f"{where}: {param.key}.when names {other!r}, which must be a parameter "
                                f"listed before it in `space` (earlier: {keys[:index] or 'none'})")
    objectives_node = node.get("objectives")
    if isinstance(objectives_node, Mapping):
        objectives_node = [objectives_node]
    if not objectives_node:
        raise UserError(f"{where}: a study needs `objectives`, e.g. [{{metric: accuracy, direction: maximize}}]")
    objectives = tuple(_parse_objective(o, where) for o in objectives_node)
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise UserError(f"{where}: objective names must differ, got {names}; give each a `name`")
    sampler = dict(node.get("sampler") or {})
    pruner = dict(node.get("pruner") or {})
    if isinstance(node.get("sampler"), str):
        sampler = {"name": node["sampler"]}
    if isinstance(node.get("pruner"), str):
        pruner = {"name": node["pruner"]}
    definition = StudyDefinition(
        name=name, objectives=objectives, space=space, overrides=tuple(overrides),
        description=str(node.get("description") or "").strip(), sampler=sampler, pruner=pruner,
        prune_metric=node.get("prune_metric"),
        n_trials=None if node.get("n_trials") is None else _positive_int(node["n_trials"], "n_trials", where),
        timeout=None if node.get("timeout") is None else float(node["timeout"]),
        heartbeat_interval=_positive_int(node.get("heartbeat_interval", 10), "heartbeat_interval", where),
        grace_period=_positive_int(node.get("grace_period", 30), "grace_period", where),
        max_retry=int(node.get("max_retry", 3)),
        reclaim_local=bool(node.get("reclaim_local", True)),
        source=source,
    )
    if definition.sampler_name not in SAMPLERS:
        raise UserError(f"{where}: sampler {definition.sampler_name!r} is not one of {', '.join(SAMPLERS)}")
    if definition.pruner_name not in PRUNERS:
        raise UserError(f"{where}: pruner {definition.pruner_name!r} is not one of {', '.join(PRUNERS)}")
    if definition.multi_objective and definition.pruner_name != "none":
        raise UserError(f"{where}: pruning needs a single objective; this study has {len(objectives)} "
                        f"({', '.join(names)}); set `pruner: {{name: none}}`")
    if definition.sampler_name == "grid":
        for param in space:
            if param.when:
                raise UserError(f"{where}: the grid sampler cannot use conditional parameters ({param.key}.when)")
            if not param.grid_values():
                raise UserError(f"{where}: the grid sampler needs `choices` or `grid: [values]` for {param.key!r}")
    elif definition.n_trials is None:
        raise UserError(f"{where}: set the budget `n_trials` (or study.n_trials=N on the command line)")
    if definition.timeout is not None and definition.timeout <= 0:
        raise UserError(f"{where}: timeout={definition.timeout} must be > 0 seconds (or null)")
    if definition.grace_period <= definition.heartbeat_interval:
        raise UserError(f"{where}: grace_period={definition.grace_period} must exceed "
                        f"heartbeat_interval={definition.heartbeat_interval} (seconds)")
    if definition.max_retry < 0:
        raise UserError(f"{where}: max_retry={definition.max_retry} must be >= 0")
    return definition


# --------------------------------------------------------------------------- command line
@dataclass
class Invocation:
    """The parsed command line of ``python -m ablations.study``."""

    study: str | None = None
    storage: str | None = None
    n_jobs: int = 1
    summary: bool = False
    debug: bool = False
    help: bool = False
    worker_index: int = 0
    study_changes: list[str] = field(default_factory=list)
    run_overrides: list[str] = field(default_factory=list)

    def argv(self, **changes: Any) -> list[str]:
        """Arguments that reproduce this invocation (used to start local worker processes)."""
        state = dataclasses.replace(self, **changes)
        args = [f"study={state.study}", f"n_jobs={state.n_jobs}", f"worker_index={state.worker_index}"]
        if state.storage:
            args.append(f"storage={state.storage}")
        args += [f"study.{c}" for c in state.study_changes] + list(state.run_overrides)
        return args


def _bool(value: str, key: str) -> bool:
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise UserError(f"{key}={value!r} must be true or false")


def parse_args(argv: Sequence[str]) -> Invocation:
    inv = Invocation()
    for arg in argv:
        if arg in ("-h", "--help"):
            inv.help = True
            continue
        if arg.startswith("-"):
            raise UserError(f"unknown option {arg!r}; arguments are key=value (see --help)")
        if "=" not in arg:
            raise UserError(f"argument {arg!r} is not key=value; e.g. study=leak_tau (see --help)")
        key, value = arg.split("=", 1)
        if key == "study":
            inv.study = value
        elif key == "storage":
            inv.storage = value
        elif key == "n_jobs":
            if not value.isdigit() or int(value) < 1:
                raise UserError(f"n_jobs={value!r} must be a positive integer")
            inv.n_jobs = int(value)
        elif key == "worker_index":
            inv.worker_index = int(value)
        elif key == "summary":
            inv.summary = _bool(value, key)
        elif key.startswith("study."):
            inv.study_changes.append(arg[len("study."):])
        else:
            if key == "debug":
                inv.debug = _bool(value, key)
            inv.run_overrides.append(arg)
    return inv


# --------------------------------------------------------------------------- overrides
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")


def format_value(value: Any) -> str:
    """A Python value as a Hydra override value (``inf``, ``1e-05``, ``true``, ``'a b'``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in ("true", "false", "null", "inf", "nan"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(*groups: Iterable[str]) -> list[str]:
    """Concatenate override lists; a later override of the same key replaces an earlier one."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            key = override_key(override)
            merged.pop(key, None)
            merged[key] = override
    return list(merged.values())


def trial_overrides(definition: StudyDefinition, run_overrides: Sequence[str], params: Mapping[str, Any],
                    number: int | None = None, suites: Sequence[str] = ()) -> list[str]:
    """The run overrides of one trial: defaults, the study's, the command line's, the sampled values."""
    extra = [f"{key}={format_value(value)}" for key, value in params.items()]
    if suites:
        extra.append(f"eval.suites={format_value(list(suites))}")
    bookkeeping = [f"trial.study={format_value(definition.name)}"]
    if number is not None:
        bookkeeping.append(f"trial.number={int(number)}")
    return merge_overrides(DEFAULT_RUN_OVERRIDES, definition.overrides, run_overrides, extra, bookkeeping)


def _when_holds(param: Param, params: Mapping[str, Any]) -> bool:
    for key, expected in param.when:
        value = params.get(key)
        options = expected if isinstance(expected, tuple) else (expected,)
        if not any(_same(value, option) for option in options):
            return False
    return True


def suggest(trial, space: Sequence[Param]) -> dict[str, Any]:
    """Sample the search space on an Optuna trial (define-by-run; ``when`` makes parameters conditional)."""
    params: dict[str, Any] = {}
    for param in space:
        if not _when_holds(param, params):
            continue
        if param.type == "categorical":
            params[param.key] = trial.suggest_categorical(param.key, list(param.choices))
        elif param.type == "int":
            params[param.key] = trial.suggest_int(param.key, int(param.low), int(param.high),
                                                  step=int(param.step or 1), log=param.log)
        else:
            params[param.key] = trial.suggest_float(param.key, param.low, param.high, step=param.step, log=param.log)
    return params


# --------------------------------------------------------------------------- objectives
def _same(a: Any, b: Any) -> bool:
    """Equality across the types YAML and parquet give (5 == 5.0 == '5'; 'gaussian' == 'gaussian')."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def objective_value(run_dir: str | Path, objective: Objective, status: Mapping[str, Any] | None = None) -> float:
    """The value of ``objective`` for the finished run in ``run_dir`` (raises UserError when absent)."""
    run_dir = Path(run_dir)
    if objective.suite is None:
        status = status if status is not None else (results.read_status(run_dir) or {})
        final = status.get("final") or {}
        value = final.get(objective.metric, status.get(objective.metric))
        if value is None:
            numbers = sorted([k for k, v in final.items() if isinstance(v, (int, float))]
                             + [k for k, v in status.items() if isinstance(v, (int, float))
                                and not isinstance(v, bool)])
            raise UserError(f"objective {objective.name!r}: run {run_dir} records no {objective.metric!r}; "
                            f"it records {', '.join(numbers)}")
        return float(value)
    import pandas as pd

    path = run_dir / results.EVAL_DIR / f"{objective.suite}.parquet"
    if not path.exists():
        raise UserError(f"objective {objective.name!r}: run {run_dir} has no evaluation table {path.name} "
                        f"(the trial runs with eval.suites including {objective.suite!r}; did that suite fail?)")
    rows = pd.read_parquet(path)
    if "metric" not in rows.columns or "value" not in rows.columns:
        raise UserError(f"objective {objective.name!r}: {path} lacks the columns 'metric' and 'value'")
    kept = rows[[_same(m, objective.metric) for m in rows["metric"]]]
    if kept.empty:
        raise UserError(f"objective {objective.name!r}: {path} has no metric {objective.metric!r}; "
                        f"it has {', '.join(sorted(map(str, rows['metric'].unique())))}")
    for column, expected in objective.where:
        if column not in kept.columns:
            conditions = [c for c in kept.columns if c not in ("suite", "metric", "value")]
            raise UserError(f"objective {objective.name!r}: {path} has no condition column {column!r}; "
                            f"it has {', '.join(conditions) or 'none'}")
        options = expected if isinstance(expected, tuple) else (expected,)
        mask = [any(_same(v, o) for o in options) for v in kept[column]]
        if not any(mask):
            raise UserError(f"objective {objective.name!r}: {path} has no rows with {column}={expected!r} for "
                            f"metric {objective.metric!r}; values there: "
                            f"{', '.join(sorted(map(str, kept[column].unique())))}")
        kept = kept[mask]
    values = pd.to_numeric(kept["value"], errors="coerce").dropna()
    if values.empty:
        raise UserError(f"objective {objective.name!r}: the selected rows of {path} hold no numbers")
    return float(getattr(values, objective.reduce)())


def known_suites() -> set[str] | None:
    """Names of the registered evaluation suites, or None when the registry cannot be read."""
    try:
        from . import evaluation
    except Exception:
        return None
    for attribute in ("available", "suites", "names"):
        function = getattr(evaluation, attribute, None)
        if callable(function):
            try:
                return {str(n) for n in function()}
            except Exception:
                pass
    for attribute in ("SUITES", "REGISTRY", "suite_registry"):
        registry = getattr(evaluation, attribute, None)
        if isinstance(registry, Mapping) and registry:
            return {str(n) for n in registry}
    return None


def _prune_metric(definition: StudyDefinition) -> str | None:
    if definition.multi_objective or definition.pruner_name == "none":
        return None
    if definition.prune_metric:
        return str(definition.prune_metric)
    objective = definition.objectives[0]
    return None if objective.suite else _PRUNE_DEFAULTS.get(objective.metric)


def check_definition(definition: StudyDefinition, run_overrides: Sequence[str] = ()) -> DictConfig:
    """Check a study against the run configs before any trial; return the base run config.

    Composes the base config, then each parameter at the ends of its range (or each choice), so a
    search-space key that does not exist, a value the run rejects (``neuron.tau=0``) or an objective
    the runs do not produce fails here with one message.
    """
    where = definition.source or definition.name
    searched = {p.key for p in definition.space}
    clash = sorted(searched & {override_key(o) for o in run_overrides})
    if clash:
        raise UserError(f"{', '.join(clash)} {'is' if len(clash) == 1 else 'are'} searched by study "
                        f"{definition.name!r}; remove {'it' if len(clash) == 1 else 'them'} from the command line")
    suites = _trial_suites(definition, run_overrides)
    try:
        base = compose(trial_overrides(definition, run_overrides, {}, number=0, suites=suites))
    except UserError as error:
        raise UserError(f"{where}: the study's run overrides (with the command line's) do not compose:\n{error}") \
            from None
    _validate_run(base, f"{where}: base run config")
    if suites:
        _check_suites(base, where)
    for row in check_rows(definition.space):
        try:
            cfg = compose(trial_overrides(definition, run_overrides, row, 0, suites))
            _validate_run(cfg, "")
        except UserError:
            _find_bad_value(definition, run_overrides, suites, row, where)
            raise
    metrics = set(RUN_METRICS)
    registered = known_suites()
    for objective in definition.objectives:
        if objective.suite is None and objective.metric not in metrics:
            raise UserError(f"{where}: objective {objective.name!r}: the runs do not produce metric "
                            f"{objective.metric!r}; run metrics: {', '.join(RUN_METRICS)}. For an evaluation "
                            f"metric name its suite: {{suite: noise, metric: accuracy, where: {{severity: 5}}}}")
        if objective.suite is not None and registered is not None and objective.suite not in registered:
            raise UserError(f"{where}: objective {objective.name!r}: no evaluation suite {objective.suite!r}; "
                            f"suites: {', '.join(sorted(registered))}")
    prune = _prune_metric(definition)
    if definition.pruner_name != "none" and not definition.multi_objective:
        if prune is None:
            raise UserError(f"{where}: objective {definition.objectives[0].name!r} has no per-epoch value to "
                            f"prune on; set `prune_metric` to one of {', '.join(EPOCH_METRICS)} (reported "
                            "each epoch, compared in the study's direction) or `pruner: {name: none}`")
        if prune not in EPOCH_METRICS:
            raise UserError(f"{where}: prune_metric={prune!r} is not a per-epoch metric; "
                            f"allowed: {', '.join(EPOCH_METRICS)}")
    return base


def check_rows(space: Sequence[Param]) -> list[dict[str, Any]]:
    """Few parameter assignments that together hold every check value of every parameter.

    Row i gives each parameter its i-th check value (its last when it has fewer), skipping those
    whose ``when`` does not hold; a value no row reaches gets a row of its own with its context.
    """
    rows: list[dict[str, Any]] = []
    width = max((len(p.check_values()) for p in space), default=0)
    for index in range(width):
        row: dict[str, Any] = {}
        for param in space:
            values = param.check_values()
            if _when_holds(param, row):
                row[param.key] = values[min(index, len(values) - 1)]
        rows.append(row)
    for param in space:
        for value in param.check_values():
            if not any(param.key in row and _same(row[param.key], value) and type(row[param.key]) is type(value)
                       for row in rows):
                context = {k: (v[0] if isinstance(v, tuple) else v) for k, v in param.when}
                rows.append({**context, param.key: value})
    return rows


def _find_bad_value(definition: StudyDefinition, run_overrides: Sequence[str], suites: Sequence[str],
                    row: Mapping[str, Any], where: str) -> None:
    """Raise a UserError naming the one search-space value of ``row`` that breaks the run config."""
    by_key = {p.key: p for p in definition.space}
    for key, value in row.items():
        context = {k: (v[0] if isinstance(v, tuple) else v) for k, v in by_key[key].when}
        overrides = trial_overrides(definition, run_overrides, {**context, key: value}, 0, suites)
        try:
            cfg = compose(overrides)
        except UserError as error:
            first = str(error).splitlines()[0]
            raise UserError(f"{where}: search-space key {key!r} (value {value!r}) does not work in the "
                            f"run config: {first}\nUse a key of the run config (`python -m ablations.run "
                            f"--cfg job` prints it) or a config group (variant, dataset, model, ...).") from None
        _validate_run(cfg, f"{where}: search-space value {key}={value!r}")


def _check_suites(cfg: DictConfig, where: str) -> None:
    """The evaluation package's own check of ``eval.suites`` (names, parameters, data kind), if it has one."""
    try:
        from .evaluation import check
    except ImportError:
        return
    try:
        check(cfg)
    except UserError as error:
        raise UserError(f"{where}: the evaluation suites the objectives need do not fit the runs: {error}") from None


def _validate_run(cfg: DictConfig, what: str) -> None:
    try:
        validate(cfg)
    except UserError as error:
        raise UserError(f"{what}: {error}" if what else str(error)) from None


def _trial_suites(definition: StudyDefinition, run_overrides: Sequence[str]) -> list[str]:
    """``eval.suites`` of the trials: those the base config asks for plus those the objectives need."""
    if not definition.suites:
        return []
    base = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, definition.overrides, run_overrides))
    configured = [str(s) for s in (base.eval.get("suites") or [])]
    return configured + [s for s in definition.suites if s not in configured]


# --------------------------------------------------------------------------- storage
def default_storage_url(name: str, studies_dir: str | Path) -> str:
    return f"sqlite:///{(Path(studies_dir) / f'{name}.db').resolve()}"


def describe_url(url: str) -> str:
    """The URL with its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _retry_callback(max_retry: int):
    from optuna import storages

    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    return cls(max_retry=max_retry)


_CONNECTION_WORDS = ("could not connect", "connection refused", "could not translate host", "timeout expired",
                     "password authentication failed", "does not exist", "no route to host", "unable to open",
                     "name or service not known", "connection to server")


def with_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; the ``postgres`` extra installs
    psycopg2. An explicit ``postgresql+DRIVER://`` is left as it is.
    """
    import importlib.util

    if url.startswith("postgresql://") or url.startswith("postgres://"):
        rest = url.split("://", 1)[1]
        for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
            if importlib.util.find_spec(module) is not None:
                return f"postgresql+{driver}://{rest}"
    return url


def open_storage(url: str, definition: StudyDefinition, attempts: int = 5):
    """Optuna's RDBStorage with heartbeat and retry of dead workers' trials; UserError when unreachable."""
    import optuna
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = describe_url(url)
    url = with_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"storage {shown}: cannot create its folder ({error})") from None
    elif url.startswith("postgresql"):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    elif url.startswith("mysql"):
        engine_kwargs = {"pool_pre_ping": True}
    with _quiet():
        callback = _retry_callback(definition.max_retry)
    import inspect

    callback_key = ("heartbeat_stale_trial_callback"
                    if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
                    else "failed_trial_callback")
    for attempt in range(attempts):
        try:
            with _quiet():
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=definition.heartbeat_interval,
                    grace_period=definition.grace_period, **{callback_key: callback})
            return storage, callback
        except (ModuleNotFoundError, ImportError, NoSuchModuleError) as error:
            raise UserError(f"storage {shown}: its database driver is missing ({error}); for PostgreSQL "
                            "install it with `pip install -e \".[postgres]\"`") from None
        except ArgumentError as error:
            raise UserError(f"storage {shown} is not a valid database URL ({error}); e.g. "
                            "sqlite:///studies/NAME.db or postgresql://user:password@host:5432/db") from None
        except Exception as error:  # OperationalError and friends
            text = str(error).lower()
            if any(word in text for word in _CONNECTION_WORDS) or attempt == attempts - 1:
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise UserError(f"cannot reach study storage {shown}: {first}\nCheck the URL, that the "
                                "database server runs and accepts this user, or leave storage= out for the "
                                "local SQLite file.") from None
            time.sleep(0.2 + 0.3 * attempt)  # e.g. two workers creating the tables at the same moment
    raise AssertionError("unreachable")


def _sampler(definition: StudyDefinition, worker_index: int = 0, n_existing: int = 0):
    """The study's sampler. A ``seed`` is offset by the local worker index and by the number of trials
    already stored, so a resumed study or a second local worker does not replay the same proposals
    (a fresh single-worker study is reproducible from its seed)."""
    import optuna

    options = {k: v for k, v in definition.sampler.items() if k != "name"}
    if options.get("seed") is not None:
        options["seed"] = int(options["seed"]) + 100_003 * worker_index + n_existing
    name = definition.sampler_name
    try:
        if name == "grid":
            return optuna.samplers.GridSampler(definition.grid(), **options)
        if name == "random":
            return optuna.samplers.RandomSampler(**options)
        if name == "nsgaii":
            return optuna.samplers.NSGAIISampler(**options)
        return optuna.samplers.TPESampler(**options)
    except TypeError as error:
        raise UserError(f"sampler {name!r}: {error}") from None


def _pruner(definition: StudyDefinition):
    import optuna

    options = {k: v for k, v in definition.pruner.items() if k != "name"}
    classes = {"median": optuna.pruners.MedianPruner, "percentile": optuna.pruners.PercentilePruner,
               "hyperband": optuna.pruners.HyperbandPruner, "none": optuna.pruners.NopPruner}
    try:
        return classes[definition.pruner_name](**options)
    except TypeError as error:
        raise UserError(f"pruner {definition.pruner_name!r}: {error}") from None


def open_study(storage, definition: StudyDefinition, create: bool = True, worker_index: int = 0):
    """Create the study in ``storage`` or load it; check that its objectives match the definition."""
    import optuna

    sampler, pruner = _sampler(definition, worker_index), _pruner(definition)
    try:
        if create:
            study = optuna.create_study(storage=storage, study_name=definition.name, sampler=sampler, pruner=pruner,
                                        directions=definition.directions, load_if_exists=True)
        else:
            study = optuna.load_study(storage=storage, study_name=definition.name, sampler=sampler, pruner=pruner)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise UserError(f"study {definition.name!r} does not exist in this storage yet (it holds: "
                        f"{', '.join(names) or 'no study'}); run it without summary=true first") from None
    n_existing = len(study.get_trials(deepcopy=False))
    if n_existing and definition.sampler.get("seed") is not None:
        study.sampler = _sampler(definition, worker_index, n_existing)
    stored = [d.name.lower() for d in study.directions]
    if stored != definition.directions:
        raise UserError(f"study {definition.name!r} in this storage optimizes {stored} but the definition says "
                        f"{definition.directions}; give the changed study a new name (study.name=...)")
    names = [o.name for o in definition.objectives]
    if getattr(study, "metric_names", None) != names:
        with _quiet():
            study.set_metric_names(names)
    return study


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- trial accounting
def _states():
    from optuna.trial import TrialState

    return TrialState


def state_counts(study) -> dict[str, int]:
    TrialState = _states()
    counts = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING,
                                          TrialState.WAITING, TrialState.FAIL)}
    counts["surplus"] = 0
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
        counts["surplus"] += bool(trial.state == TrialState.FAIL and trial.user_attrs.get("surplus"))
    counts["finished"] = counts["complete"] + counts["pruned"]
    return counts


def describe_state(counts: Mapping[str, int], budget: int) -> str:
    return (f"{counts['finished']}/{budget} finished ({counts['complete']} complete, {counts['pruned']} pruned), "
            f"{counts['running']} running, {counts['waiting']} waiting to be retried, {counts['fail']} failed"
            + (f" ({counts['surplus']} surplus: asked for after the budget was taken, ran nothing)"
               if counts.get("surplus") else ""))


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "noboot"


def worker_id() -> str:
    return f"{socket.gethostname()}/{_boot_id()}/{os.getpid()}"


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class _BudgetReached(Exception):
    """Raised inside a trial asked for after other workers had taken the whole budget."""


class Worker:
    """One Optuna worker: runs trials of one study until the budget is finished or time is up."""

    def __init__(self, study, storage, retry, definition: StudyDefinition, run_overrides: Sequence[str],
                 suites: Sequence[str], deadline: float | None = None, log=print):
        self.study, self.storage, self.retry = study, storage, retry
        self.definition = definition
        self.run_overrides = list(run_overrides)
        self.suites = list(suites)
        self.deadline = deadline
        self.budget = definition.budget
        self.prune_metric = _prune_metric(definition)
        self.log = log
        self.me = worker_id()
        self.interrupted_trial_id: int | None = None
        self.surplus: set[int] = set()

    # ---- dead workers
    def reclaim(self) -> None:
        """Fail (and re-queue) trials of dead workers: stale heartbeats, and gone local processes."""
        import optuna

        with _quiet():
            optuna.storages.fail_stale_trials(self.study)
        if not self.definition.reclaim_local:
            return
        host, boot, _ = self.me.split("/")
        TrialState = _states()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = str(trial.user_attrs.get("worker", ""))
            parts = owner.split("/")
            if len(parts) != 3 or parts[0] != host or parts[1] != boot or not parts[2].isdigit():
                continue
            if int(parts[2]) == os.getpid() or not _pid_gone(int(parts[2])):
                continue
            self._fail_and_retry(trial._trial_id, f"its worker process {parts[2]} on this machine is gone")

    def _fail_and_retry(self, trial_id: int, why: str) -> None:
        import optuna

        TrialState = _states()
        try:
            if self.storage.get_trial(trial_id).state == TrialState.RUNNING:
                if not self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                    return
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # another worker got there first
        frozen = copy.deepcopy(self.storage.get_trial(trial_id))
        self.log(f"trial {frozen.number} failed: {why}; re-queued with the same parameters", flush=True)
        with _quiet():
            self.retry(self.study, frozen)

    # ---- budget
    def room(self) -> bool:
        """Whether to start another trial; waits while running trials of others cover the budget."""
        announced = False
        poll = max(0.5, min(5.0, self.definition.heartbeat_interval / 2))
        while True:
            self.reclaim()
            counts = state_counts(self.study)
            if counts["finished"] >= self.budget:
                return False
            if counts["waiting"] or counts["finished"] + counts["running"] < self.budget:
                return True
            if self.deadline is not None and time.time() >= self.deadline:
                return False
            if not announced:
                self.log(f"the rest of the budget is taken by {counts['running']} running trial(s) of other "
                         "workers; waiting for them to finish (or be declared dead and re-run here)", flush=True)
                announced = True
            time.sleep(poll)

    def after_trial(self, study, trial) -> None:
        if not self.room():
            study.stop()

    def _check_budget(self, trial) -> None:
        TrialState = _states()
        ahead = 0
        for other in self.study.get_trials(deepcopy=False):
            if other.state in (TrialState.COMPLETE, TrialState.PRUNED):
                ahead += 1
            elif other.state in (TrialState.RUNNING, TrialState.WAITING) and other.number < trial.number:
                ahead += 1
        if ahead >= self.budget:
            trial.set_user_attr("surplus", True)
            self.surplus.add(trial.number)
            self.log(f"trial {trial.number}: other workers took the rest of the budget at the same moment; "
                     "it runs nothing (recorded as failed, user_attrs.surplus)", flush=True)
            raise _BudgetReached(f"trial {trial.number} started after other workers had taken the whole budget "
                                 f"of {self.budget}; it runs nothing")

    # ---- the objective
    def objective(self, trial):
        """Run the trial's run and return its objective value(s) (Optuna's objective function)."""
        try:
            return self._objective(trial)
        except KeyboardInterrupt:
            self.interrupted_trial_id = trial._trial_id
            raise

    def _objective(self, trial):
        import optuna

        from .run import run_cfg
        from .training import StopRun

        trial.set_user_attr("worker", self.me)
        self._check_budget(trial)
        params = suggest(trial, self.definition.space)
        cfg = compose(trial_overrides(self.definition, self.run_overrides, params, trial.number, self.suites))
        retried = self.storage.get_trial(trial._trial_id).system_attrs.get("failed_trial")
        shown = " ".join(f"{k}={format_value(v)}" for k, v in params.items()) or "(no parameters)"
        self.log(f"trial {trial.number}{f' (re-run of trial {retried})' if retried is not None else ''}: "
                 f"{shown}", flush=True)
        # Trials with the same parameters train the same run: one trains it, the others wait and reuse it.
        with _run_lock(_lock_path(cfg), self.log):
            try:
                run_dir = run_cfg(cfg, on_epoch=self._reporter(trial, cfg) if self.prune_metric else None)
            except StopRun as stop:
                trial.set_user_attr("run_dir", str(results.run_dir_for(cfg)))  # cfg is resolved by now
                trial.set_user_attr("run_status", stop.status)
                raise optuna.TrialPruned(str(stop)) from None
            trial.set_user_attr("run_dir", str(run_dir))
            status = results.read_status(run_dir) or {}
        trial.set_user_attr("run_status", status.get("status"))
        if status.get("status") == "diverged":
            raise optuna.TrialPruned(f"run diverged: {status.get('error')}")
        if status.get("status") != "finished":
            raise RuntimeError(f"run {run_dir} ended with status {status.get('status')!r}")
        values = [objective_value(run_dir, o, status) for o in self.definition.objectives]
        for objective, value in zip(self.definition.objectives, values, strict=True):
            if not math.isfinite(value):
                raise UserError(f"objective {objective.name!r} of run {run_dir} is {value}")
        return values[0] if len(values) == 1 else values

    def _reporter(self, trial, cfg: DictConfig):
        """``on_epoch`` for pruning: report the metric each epoch; end the run when the pruner says so.

        A resumed run (re-run of a dead worker's trial, or the same parameters as a pruned trial)
        first reports the epochs it already has, so the pruner sees the whole curve.
        """
        from .training import StopRun

        reported: set[int] = set()

        def report(epoch: int, value: Any) -> bool:
            if value is None or value != value or epoch in reported:
                return False
            trial.report(float(value), int(epoch))
            reported.add(int(epoch))
            return True

        def on_epoch(epoch: int, row: Mapping[str, Any]) -> None:
            if not reported and epoch > 1:
                history = results.read_metrics(results.run_dir_for(cfg))
                if self.prune_metric in history.columns:
                    for _, old in history.iterrows():
                        if int(old["epoch"]) < epoch:
                            report(int(old["epoch"]), old[self.prune_metric])
            value = row.get(self.prune_metric)
            if report(epoch, value) and trial.should_prune():
                raise StopRun("pruned", f"pruned by the study at epoch {epoch} "
                                        f"({self.prune_metric}={float(value):.4g})")

        return on_epoch

    # ---- the loop
    def work(self) -> None:
        """Run trials with ``study.optimize`` until the budget is finished (or the deadline passes)."""
        from optuna.study import MaxTrialsCallback

        TrialState = _states()
        if not self.room():
            return
        timeout = None if self.deadline is None else max(1e-3, self.deadline - time.time())
        quiet = _SurplusFilter(self.surplus)
        handlers = list(logging.getLogger("optuna").handlers)
        for handler in handlers:
            handler.addFilter(quiet)
        try:
            self.study.optimize(
                self.objective, timeout=timeout, catch=(_BudgetReached,),
                callbacks=[MaxTrialsCallback(self.budget, states=(TrialState.COMPLETE, TrialState.PRUNED)),
                           self.after_trial])
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: re-queue the trial that was running, at once
            if self.interrupted_trial_id is not None:
                trial = self.storage.get_trial(self.interrupted_trial_id)
                if trial.state == TrialState.FAIL:
                    self.log(f"trial {trial.number} interrupted; re-queued with the same parameters", flush=True)
                    with _quiet():
                        self.retry(self.study, copy.deepcopy(trial))
                elif trial.state == TrialState.RUNNING:
                    self._fail_and_retry(trial._trial_id, "interrupted")
            raise
        finally:
            for handler in handlers:
                handler.removeFilter(quiet)


class _SurplusFilter(logging.Filter):
    """Drops Optuna's failure warnings (with traceback) for surplus trials; the worker says why itself."""

    def __init__(self, numbers: set[int]):
        super().__init__()
        self.numbers = numbers

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(f"Trial {n} failed") for n in self.numbers)


def _lock_path(cfg: DictConfig) -> Path:
    """A lock file named after the run's identity as composed (before the run resolves its defaults)."""
    return Path(str(cfg.paths.runs)) / ".locks" / f"{results.config_hash(cfg)}-seed{int(cfg.seed)}.lock"


@contextlib.contextmanager
def _run_lock(path: Path, log=print):
    """Hold an exclusive lock, so two trials with the same run never train it at the same time."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another trial that trains the same run", flush=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------- summary and figures
def _trial_table(trials, definition: StudyDefinition):
    import pandas as pd

    rows = []
    for trial in trials:
        row: dict[str, Any] = {"trial": trial.number}
        for objective, value in zip(definition.objectives, trial.values or [], strict=False):
            row[objective.name] = value
        row.update({p.key: trial.params.get(p.key, "-") for p in definition.space})
        row["run_dir"] = trial.user_attrs.get("run_dir", "")
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(study, definition: StudyDefinition, top: int = 10) -> str:
    """The best trial (single objective) or the Pareto front (several), as text."""
    import pandas as pd

    TrialState = _states()
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return "no complete trial yet"
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 80,
                           "display.float_format", "{:.4g}".format):
        if definition.multi_objective:
            front = sorted(study.best_trials, key=lambda t: t.number)
            table = _trial_table(front, definition)
            table = table.sort_values(definition.objectives[0].name,
                                      ascending=definition.objectives[0].direction == "minimize")
            goals = ", ".join(o.describe() for o in definition.objectives)
            return f"Pareto front ({len(front)} of {len(complete)} complete trials; {goals}):\n" + \
                table.to_string(index=False)
        objective = definition.objectives[0]
        best = study.best_trial
        ranked = sorted(complete, key=lambda t: t.value, reverse=objective.direction == "maximize")[:top]
        params = " ".join(f"{k}={format_value(v)}" for k, v in best.params.items())
        head = (f"best trial {best.number}: {objective.name} = {best.value:.4g} ({objective.describe()})\n"
                f"  params: {params or '(none)'}\n  run: {best.user_attrs.get('run_dir', '?')}\n")
        return head + f"top {len(ranked)} of {len(complete)} complete trials:\n" + \
            _trial_table(ranked, definition).to_string(index=False)


def _save(axes, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return results.atomic_write_bytes(path, buffer.getvalue())


def write_figures(study, definition: StudyDefinition, out_dir: str | Path, log=print) -> list[Path]:
    """Optimisation history, parameter importances and Pareto front as PNG files in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as plots

    TrialState = _states()
    out_dir = Path(out_dir)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    written: list[Path] = []
    if not complete:
        return written
    names = [o.name for o in definition.objectives]
    with _quiet():
        def attempt(what: str, make, path: Path) -> None:
            try:
                written.append(_save(make(), path))
            except Exception as error:  # a plot that needs more trials than there are
                log(f"  {what} skipped: {error}", flush=True)

        if definition.multi_objective:
            for index, name in enumerate(names):
                attempt(f"optimisation history of {name}",
                        lambda i=index, n=name: plots.plot_optimization_history(
                            study, target=lambda t: t.values[i], target_name=n),
                        out_dir / f"optimization_history_{_slug(name)}.png")
            if len(names) in (2, 3):
                attempt("Pareto front", lambda: plots.plot_pareto_front(study, target_names=names),
                        out_dir / "pareto_front.png")
        else:
            attempt("optimisation history", lambda: plots.plot_optimization_history(study, target_name=names[0]),
                    out_dir / "optimization_history.png")
        n_params = len({k for t in complete for k in t.params})
        if n_params > 1 and len(complete) >= 4:
            for index, name in enumerate(names):
                target = (lambda t, i=index: t.values[i]) if definition.multi_objective else None
                suffix = f"_{_slug(name)}" if definition.multi_objective else ""
                attempt(f"parameter importances of {name}",
                        lambda tg=target, n=name: plots.plot_param_importances(study, target=tg, target_name=n),
                        out_dir / f"param_importances{suffix}.png")
    return written


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# --------------------------------------------------------------------------- the command
def _spawn_workers(inv: Invocation) -> list[subprocess.Popen]:
    children = []
    for index in range(1, inv.n_jobs):
        args = [sys.executable, "-m", "ablations.study", *inv.argv(worker_index=index)]
        children.append(subprocess.Popen(args))
    return children


def _set_threads(n_jobs: int) -> None:
    if n_jobs > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))


def run_study(inv: Invocation, log=print):
    """Create or resume the study of ``inv`` and work on it; return the Optuna study."""
    import optuna

    started = time.time()
    if not inv.study:
        raise UserError("name the study: python -m ablations.study study=NAME (studies: "
                        f"{', '.join(sorted(available_studies(None)))}; user files in studies/)")
    try:
        plain = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, inv.run_overrides))
    except UserError as error:
        raise UserError(f"the run overrides on the command line do not compose:\n{error}") from None
    studies_dir = Path(str(plain.paths.studies))
    definition = load_definition(inv.study, studies_dir, inv.study_changes)
    lead = inv.worker_index == 0
    if not inv.summary:
        check_definition(definition, inv.run_overrides)
    url = inv.storage or default_storage_url(definition.name, studies_dir)
    storage, retry = open_storage(url, definition)
    if not lead:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(storage, definition, create=not inv.summary, worker_index=inv.worker_index)
    counts = state_counts(study)
    budget = definition.budget
    if lead:
        fresh = counts["finished"] + counts["running"] + counts["waiting"] + counts["fail"] == 0
        log(f"study {definition.name} ({definition.source})\n  storage {describe_url(url)}\n"
            f"  {'state' if inv.summary else 'created' if fresh else 'resuming'}: {describe_state(counts, budget)}\n"
            f"  objectives: {'; '.join(o.describe() for o in definition.objectives)}\n"
            f"  sampler {definition.sampler_name}, pruner {definition.pruner_name}, "
            f"heartbeat {definition.heartbeat_interval}s, grace {definition.grace_period}s", flush=True)
    if not inv.summary:
        suites = _trial_suites(definition, inv.run_overrides)
        deadline = None if definition.timeout is None else started + definition.timeout
        worker = Worker(study, storage, retry, definition, inv.run_overrides, suites, deadline, log=log)
        _set_threads(inv.n_jobs)
        children = _spawn_workers(inv) if lead and inv.n_jobs > 1 else []
        failed_children = []
        try:
            worker.work()
        finally:
            for index, child in enumerate(children, start=1):
                code = child.wait()
                if code != 0:
                    failed_children.append((index, code))
        if failed_children:
            raise UserError("worker process(es) stopped with an error: " +
                            ", ".join(f"worker {i} exit code {c}" for i, c in failed_children) +
                            "; their messages are above. Run the same command again to resume.")
        if not lead:
            return study
        counts = state_counts(study)
        log(f"study {definition.name}: {describe_state(counts, budget)}", flush=True)
    if lead:
        log(summary_table(study, definition), flush=True)
        figures = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, definition.overrides, inv.run_overrides)).paths.figures
        out_dir = Path(str(figures)) / "studies" / definition.name
        for path in write_figures(study, definition, out_dir, log=log):
            log(f"  wrote {path}", flush=True)
    return study


USAGE = __doc__.split("Study file (YAML)")[0]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = any(a in ("debug=true", "debug=True", "debug=1") for a in argv)
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum, frame):  # SLURM preemption, `kill`: end like Ctrl-C, re-queueing the trial
        raise KeyboardInterrupt

    if threading_main():
        signal.signal(signal.SIGTERM, terminate)
    try:
        inv = parse_args(argv)
        if inv.help:
            print(USAGE + "Studies: " + ", ".join(sorted(available_studies("studies"))))
            return 0
        run_study(inv)
        return 0
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume the study", file=sys.stderr, flush=True)
        return 130
    finally:
        if threading_main():
            signal.signal(signal.SIGTERM, previous)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
