"""Objective values read back from a finished run (its record or an evaluation table), the
evaluation suites an objective may name, and the per-epoch metric a study prunes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .. import results
from ..errors import UserError
from .definition import Objective, StudyDefinition
from .values import same_value


# Numbers a finished run records in status.json "final" (training.fit) and at its top level.
EPOCH_METRICS = ("epoch", "lr", "train_loss", "train_accuracy", "train_sse", "epoch_time_s", "data_time_s",
                 "test_loss", "test_accuracy", "test_sse")
RUN_METRICS = EPOCH_METRICS + ("accuracy", "train_time_s", "wall_time_s", "n_parameters", "beta_value",
                               "epochs_done")
_PRUNE_DEFAULTS = {"accuracy": "test_accuracy", "test_accuracy": "test_accuracy", "test_loss": "test_loss",
                   "test_sse": "test_sse", "train_loss": "train_loss", "train_sse": "train_sse",
                   "train_accuracy": "train_accuracy"}


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
    kept = rows[[same_value(m, objective.metric) for m in rows["metric"]]]
    if kept.empty:
        raise UserError(f"objective {objective.name!r}: {path} has no metric {objective.metric!r}; "
                        f"it has {', '.join(sorted(map(str, rows['metric'].unique())))}")
    for column, expected in objective.where:
        if column not in kept.columns:
            conditions = [c for c in kept.columns if c not in ("suite", "metric", "value")]
            raise UserError(f"objective {objective.name!r}: {path} has no condition column {column!r}; "
                            f"it has {', '.join(conditions) or 'none'}")
        options = expected if isinstance(expected, tuple) else (expected,)
        mask = [any(same_value(v, o) for o in options) for v in kept[column]]
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
        from .. import evaluation
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


def prune_metric_of(definition: StudyDefinition) -> str | None:
    if definition.multi_objective or definition.pruner_name == "none":
        return None
    if definition.prune_metric:
        return str(definition.prune_metric)
    objective = definition.objectives[0]
    return None if objective.suite else _PRUNE_DEFAULTS.get(objective.metric)
