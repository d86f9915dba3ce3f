"""What one trial runs: the parameters sampled from the study's space, and the run overrides built
from them, the study's and the command line's."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from .definition import Param, StudyDefinition
from .values import same_value, format_value


DEFAULT_RUN_OVERRIDES = ("progress=false",)  # no progress bars from workers; a run override can change it


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


def when_holds(param: Param, params: Mapping[str, Any]) -> bool:
    for key, expected in param.when:
        value = params.get(key)
        options = expected if isinstance(expected, tuple) else (expected,)
        if not any(same_value(value, option) for option in options):
            return False
    return True


def suggest(trial, space: Sequence[Param]) -> dict[str, Any]:
    """Sample the search space on an Optuna trial (define-by-run; ``when`` makes parameters conditional)."""
    params: dict[str, Any] = {}
    for param in space:
        if not when_holds(param, params):
            continue
        if param.type == "categorical":
            params[param.key] = trial.suggest_categorical(param.key, list(param.choices))
        elif param.type == "int":
            params[param.key] = trial.suggest_int(param.key, int(param.low), int(param.high),
                                                  step=int(param.step or 1), log=param.log)
        else:
            params[param.key] = trial.suggest_float(param.key, param.low, param.high, step=param.step, log=param.log)
    return params
