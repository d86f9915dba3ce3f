"""Study figures from the run records of the trials: Pareto front and optimisation history.

A study's trials are ordinary runs whose records carry ``trial.study`` and ``trial.number``
(:mod:`ablations.study`). These figures read those rows of the results table, take the study's
objectives from its definition (:func:`ablations.studies.load_definition`, the user's file in
``studies/`` or the shipped one) and compute each objective from the same rows the study read
(the run's final metrics, or an evaluation suite's rows filtered by ``where`` and reduced), so
they need neither the Optuna storage nor a checkpoint. The command line writes them to
``<paths.figures>/studies/<name>/`` beside the plots ``python -m ablations.study summary=true``
draws from the storage.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns

from . import layout, missing, select, style

__all__ = ["no_study", "pareto_mask", "study_history", "study_pareto", "trial_table"]

FALLBACK_OBJECTIVE = {"name": "accuracy", "metric": "accuracy", "direction": "maximize", "suite": None,
                      "where": (), "reduce": "mean"}


def no_study(results: pd.DataFrame) -> missing.MissingResults:
    root = select.runs_root(results)
    extra = "" if root == "runs" else f" paths.runs={root}"
    return missing.MissingResults(f"needs runs of a study (records with trial.study set); none in {root}",
                                 [f"python -m ablations.study study=pareto study.n_trials=12 train.epochs=3{extra}"])


def _definition(name: str, results: pd.DataFrame):
    from ..studies.definition import load_definition

    try:
        return load_definition(name, results.attrs.get("studies_dir", "studies"))
    except Exception:  # noqa: BLE001 - a study file gone or changed: fall back to the accuracy objective
        return None


def _objectives(definition) -> list[dict[str, Any]]:
    if definition is None:
        return [dict(FALLBACK_OBJECTIVE)]
    return [{"name": o.name, "metric": o.metric, "direction": o.direction, "suite": o.suite, "where": o.where,
             "reduce": o.reduce} for o in definition.objectives]


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _objective_value(run: pd.Series, evals: pd.DataFrame, objective: dict[str, Any]) -> float:
    if not objective["suite"]:
        value = run.get(objective["metric"])
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan
    rows = evals[(evals["run_dir"] == run["run_dir"]) & (evals["suite"] == objective["suite"])
                 & (evals["metric"] == objective["metric"])]
    for column, expected in objective["where"]:
        if column not in rows.columns:
            return math.nan
        options = expected if isinstance(expected, tuple) else (expected,)
        rows = rows[[any(_same(v, o) for o in options) for v in rows[column]]]
    values = pd.to_numeric(rows["value"], errors="coerce").dropna()
    return float(getattr(values, objective["reduce"])()) if not values.empty else math.nan


def _param_value(run: pd.Series, key: str) -> Any:
    if key == "variant":
        return run.get("variant")
    if key in run.index and key not in ("study", "trial") and pd.notna(run.get(key)):
        return run.get(key)
    flat = run.get("config") if isinstance(run.get("config"), dict) else {}  # the run's flattened config
    for candidate in (key, f"{key}.name"):
        if candidate in flat:
            return flat[candidate]
    return None


def trial_table(results: pd.DataFrame, study: str) -> tuple[pd.DataFrame, list[dict[str, Any]], list[str]]:
    """One row per finished trial of ``study``: trial number, variant, objectives, parameters."""
    rows = results[(results["kind"] == "run") & (results["study"].astype(str) == study)
                   & (results["status"] == "finished")]
    definition = _definition(study, results)
    objectives = _objectives(definition)
    params = [p.key for p in definition.space] if definition is not None else []
    evals = results[(results["kind"] == "eval") & (results["study"].astype(str) == study)] \
        if "suite" in results.columns else results.iloc[0:0]
    table = []
    for _, run in rows.iterrows():
        entry = {"trial": int(run["trial"]) if pd.notna(run.get("trial")) else -1, "run_dir": run["run_dir"],
                 "variant": run.get("variant"), "seed": run.get("seed")}
        for objective in objectives:
            entry[objective["name"]] = _objective_value(run, evals, objective)
        for key in params:
            entry[key] = _param_value(run, key)
        table.append(entry)
    frame = pd.DataFrame(table)
    if not frame.empty:
        frame = frame.sort_values("trial").reset_index(drop=True)
    return frame, objectives, params


def pareto_mask(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """True for the rows no other row dominates (``directions``: maximize / minimize per column)."""
    signs = np.array([1.0 if d == "maximize" else -1.0 for d in directions])
    scores = values * signs
    mask = np.ones(len(scores), dtype=bool)
    for i in range(len(scores)):
        if np.isnan(scores[i]).any():
            mask[i] = False
            continue
        others = np.delete(scores, i, axis=0)
        others = others[~np.isnan(others).any(axis=1)]
        dominated = np.any(np.all(others >= scores[i], axis=1) & np.any(others > scores[i], axis=1))
        mask[i] = not dominated
    return mask


def _axis_label(objective: dict[str, Any]) -> str:
    arrow = "higher is better" if objective["direction"] == "maximize" else "lower is better"
    name = objective["name"]
    if objective["metric"] == "accuracy" and not objective["suite"]:
        name = "test accuracy"
    if objective["suite"]:
        where = ", ".join(f"{k}={v}" for k, v in objective["where"])
        name = f"{name} ({objective['suite']}{': ' + where if where else ''})"
    return f"{name}\n[{arrow}]"


def _studies(results: pd.DataFrame) -> list[str]:
    studies = sorted(str(s) for s in results.get("study", pd.Series(dtype=object)).dropna().unique())
    if not studies:
        raise no_study(results)
    return studies


def _variant_palette(frame: pd.DataFrame) -> dict[str, str]:
    return {style.variant_label(v): style.variant_color(v) for v in frame["variant"].dropna().unique()}


def _scale(ax, axis: str, values: pd.Series) -> None:
    """Log scale for positive values spanning more than a factor 20; plain large-number labels."""
    from matplotlib import ticker

    values = pd.to_numeric(values, errors="coerce").dropna()
    if len(values) and (values > 0).all() and values.max() / values.min() > 20:
        layout.plain_log(ax, axis)
    elif len(values) and values.abs().max() >= 1e4:
        getattr(ax, f"{axis}axis").set_major_formatter(ticker.FuncFormatter(lambda v, _: layout._human(v)))


def study_pareto(results: pd.DataFrame):
    """Studies: the trade-off between a study's objectives, one panel per study. Two or more
    objectives: every finished trial (colour: variant) in the plane of the first two objectives,
    the Pareto front ringed and joined; one objective: the objective against each numeric
    search parameter."""
    studies = _studies(results)
    tables = [(name, *trial_table(results, name)) for name in studies]
    tables = [t for t in tables if not t[1].empty]
    if not tables:
        raise no_study(results)
    figure, axes = layout.grid(len(tables), 1, full_width=False, aspect=0.75)
    for row, (name, frame, objectives, params) in enumerate(tables):
        ax = axes[row, 0]
        frame = frame.assign(variant_name=[style.variant_label(v) for v in frame["variant"]])
        palette = _variant_palette(frame)
        if len(objectives) >= 2:
            first, second = objectives[0], objectives[1]
            values = frame[[first["name"], second["name"]]].to_numpy(float)
            mask = pareto_mask(values, [first["direction"], second["direction"]])
            sns.scatterplot(data=frame, x=first["name"], y=second["name"], hue="variant_name", palette=palette, s=22,
                            ax=ax, alpha=0.85, linewidth=0)
            front = frame[mask].sort_values(first["name"])
            ax.plot(front[first["name"]], front[second["name"]], color="black", linewidth=0.8, zorder=1)
            ax.scatter(front[first["name"]], front[second["name"]], s=60, facecolors="none", edgecolors="black",
                       linewidths=0.9, label=f"Pareto front ({mask.sum()} of {len(frame)})")
            ax.set_xlabel(_axis_label(first))
            ax.set_ylabel(_axis_label(second))
            for objective, axis in ((first, "x"), (second, "y")):
                _scale(ax, axis, frame[objective["name"]])
        else:
            objective = objectives[0]
            numeric = [p for p in params if p not in ("variant", "seed")
                       and pd.to_numeric(frame[p], errors="coerce").notna().any()]
            x = numeric[0] if numeric else "trial"
            data = frame.assign(**{x: pd.to_numeric(frame[x], errors="coerce")})
            sns.scatterplot(data=data, x=x, y=objective["name"], hue="variant_name", palette=palette, s=22, ax=ax,
                            linewidth=0)
            best = frame[objective["name"]].idxmax() if objective["direction"] == "maximize" \
                else frame[objective["name"]].idxmin()
            ax.scatter([data.loc[best, x]], [data.loc[best, objective["name"]]], s=70, facecolors="none",
                       edgecolors="black", label=f"best (trial {int(frame.loc[best, 'trial'])})")
            if x != "trial" and (data[x] > 0).all() and data[x].max() / max(data[x].min(), 1e-12) > 20:
                layout.plain_log(ax, "x")
            ax.set_xlabel(x)
            ax.set_ylabel(_axis_label(objective))
            if numeric[1:]:
                layout.note(figure, f"study {name}: objective against {x}; other parameters: {', '.join(numeric[1:])}")
        layout.panel_title(ax, f"study {name}: {len(frame)} finished trials")
        ax.legend(loc="best", title=None)
    return figure


def study_history(results: pd.DataFrame):
    """Studies: optimisation history: each objective per finished trial (colour: variant) with the
    best value so far as a step line, one row per study, one column per objective."""
    studies = _studies(results)
    tables = [(name, *trial_table(results, name)) for name in studies]
    tables = [t for t in tables if not t[1].empty]
    if not tables:
        raise no_study(results)
    columns = max(len(t[2]) for t in tables)
    figure, axes = layout.grid(len(tables), columns, full_width=columns >= 2, aspect=0.75)
    for row, (name, frame, objectives, _params) in enumerate(tables):
        frame = frame.assign(variant_name=[style.variant_label(v) for v in frame["variant"]])
        palette = _variant_palette(frame)
        for column, objective in enumerate(objectives):
            ax = axes[row, column]
            sns.scatterplot(data=frame, x="trial", y=objective["name"], hue="variant_name", palette=palette, s=20,
                            ax=ax, linewidth=0)
            values = frame[objective["name"]]
            best = values.cummax() if objective["direction"] == "maximize" else values.cummin()
            ax.plot(frame["trial"], best, color="black", drawstyle="steps-post", linewidth=1.0, label="best so far")
            ax.set_xlabel("trial")
            ax.set_ylabel(_axis_label(objective))
            _scale(ax, "y", values)
            layout.panel_title(ax, f"study {name}")
            ax.legend(loc="best", title=None)
        layout.hide_unused(axes[row], len(objectives))
    return figure
