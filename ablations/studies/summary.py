"""A study's results: the best trial or Pareto front as a table, and Optuna's plots as PNG files."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from .. import results
from .definition import StudyDefinition
from .storage import quiet_warnings, trial_states
from .values import format_value


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

    TrialState = trial_states()
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

    TrialState = trial_states()
    out_dir = Path(out_dir)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    written: list[Path] = []
    if not complete:
        return written
    names = [o.name for o in definition.objectives]
    with quiet_warnings():
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
