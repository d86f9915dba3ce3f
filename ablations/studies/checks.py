"""Checks of a study against the run configs before any trial: every search-space value composes
and validates, every objective names a metric or suite the runs produce, pruning has a metric."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from omegaconf import DictConfig

from ..errors import UserError
from ..config import compose, load
from .definition import Param, StudyDefinition
from .objectives import EPOCH_METRICS, RUN_METRICS, prune_metric_of, known_suites
from .trials import DEFAULT_RUN_OVERRIDES, when_holds, merge_overrides, override_key, trial_overrides
from .values import same_value


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
    suites = trial_suites(definition, run_overrides)
    base_overrides = trial_overrides(definition, run_overrides, {}, number=0, suites=suites)
    try:
        base = compose(base_overrides)
    except UserError as error:
        raise UserError(f"{where}: the study's run overrides (with the command line's) do not compose:\n{error}") \
            from None
    _validate_run(base, f"{where}: base run config", base_overrides)
    if suites:
        _check_suites(base, where)
    for row in check_rows(definition.space):
        try:
            overrides = trial_overrides(definition, run_overrides, row, 0, suites)
            _validate_run(compose(overrides), "", overrides)
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
    prune = prune_metric_of(definition)
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
            if when_holds(param, row):
                row[param.key] = values[min(index, len(values) - 1)]
        rows.append(row)
    for param in space:
        for value in param.check_values():
            if not any(param.key in row and same_value(row[param.key], value) and type(row[param.key]) is type(value)
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
        _validate_run(cfg, f"{where}: search-space value {key}={value!r}", overrides)


def _check_suites(cfg: DictConfig, where: str) -> None:
    """The evaluation package's own check of ``eval.suites`` (names, parameters, data kind), if it has one."""
    try:
        from ..evaluation import check
    except ImportError:
        return
    try:
        check(cfg)
    except UserError as error:
        raise UserError(f"{where}: the evaluation suites the objectives need do not fit the runs: {error}") from None


def _validate_run(cfg: DictConfig, what: str, overrides: Sequence[str] = ()) -> None:
    """The checks of a run (:func:`ablations.config.load`: values, and overrides that would change nothing)."""
    try:
        load(overrides, cfg)
    except UserError as error:
        raise UserError(f"{what}: {error}" if what else str(error)) from None


def trial_suites(definition: StudyDefinition, run_overrides: Sequence[str]) -> list[str]:
    """``eval.suites`` of the trials: those the base config asks for plus those the objectives need."""
    if not definition.suites:
        return []
    base = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, definition.overrides, run_overrides))
    configured = [str(s) for s in (base.eval.get("suites") or [])]
    return configured + [s for s in definition.suites if s not in configured]
