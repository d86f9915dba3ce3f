"""Study definitions: the study file's search space (Param), objectives (Objective) and settings
(StudyDefinition), read from user or shipped YAML files (with ``extends``) and checked for structure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from omegaconf import DictConfig, OmegaConf

from ..errors import UserError
from ..config import CONF_DIR, group_options
from .values import format_value


SHIPPED_DIR = CONF_DIR / "study"
STUDY_KEYS = ("name", "extends", "description", "overrides", "space", "objectives", "sampler", "pruner",
              "prune_metric", "n_trials", "timeout", "heartbeat_interval", "grace_period", "max_retry",
              "reclaim_local")
PARAM_TYPES = ("float", "int", "categorical")
SAMPLERS = ("tpe", "random", "grid", "nsgaii")
PRUNERS = ("none", "median", "percentile", "hyperband")
REDUCERS = ("mean", "sum", "min", "max", "median")


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


def _strategy(value: Any, key: str, where: str) -> dict:
    """A ``sampler`` / ``pruner`` entry: a name, or a mapping with ``name`` and its options."""
    if not value:
        return {}
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise UserError(f"{where}: `{key}` must be a name or a mapping such as {{name: ..., ...}}, not {value!r}")


def parse_objective(spec: Any, where: str) -> Objective:
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
    objectives = tuple(parse_objective(o, where) for o in objectives_node)
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise UserError(f"{where}: objective names must differ, got {names}; give each a `name`")
    sampler, pruner = (_strategy(node.get(key), key, where) for key in ("sampler", "pruner"))
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
