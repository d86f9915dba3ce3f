"""The tidy results table: :func:`load_results` gathers every run under a root into one DataFrame,
the only input the figures read.

Each row has a ``kind``: ``run`` (one per run, final metrics), ``epoch`` (one per run and epoch)
or ``eval`` (the rows of the evaluation suites, with their ``suite``), and every row carries the
run's identity columns (run_dir, status, dataset, model, variant, seed, neuron parameters, study
and trial). A record it cannot read (truncated, not JSON / YAML / parquet, a foreign file) is left
out and listed in ``attrs["skipped"]``, never failing the whole table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

from .records import (CONFIG_FILE, EVAL_DIR, METRICS_FILE, RESTART_HINT, CorruptRecord, find_runs, read_metrics,
                      read_status)

__all__ = ["load_results", "flatten", "EVAL_REQUIRED"]

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def flatten(prefix: str, node: Any, out: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif isinstance(node, list):
        out[prefix] = json.dumps(node)
    else:
        out[prefix] = node


_IDENTITY_COLUMNS = {
    "dataset": "dataset.name",
    "data_kind": "dataset.kind",
    "model": "model.name",
    "variant": "neuron.variant",
    "leak": "neuron.leak",
    "tau": "neuron.tau",
    "beta": "neuron.beta",
    "lam": "neuron.lam",
    "reset": "neuron.reset",
    "recurrent": "neuron.recurrent",
    "input_scale": "neuron.input_scale",
    "synapse": "neuron.synapse",
    "adaptation": "neuron.adaptation",
    "threshold": "neuron.threshold",
    "steps": "dataset.steps",
    "seed": "seed",
    "study": "trial.study",
    "trial": "trial.number",
}


def _run_identity(run_dir: Path, status: dict) -> dict:
    config_path = run_dir / CONFIG_FILE
    flat: dict[str, Any] = {}
    if config_path.exists():  # written resolved, so plain YAML reads it (C loader: fast on many runs)
        try:
            config = yaml.load(config_path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise CorruptRecord(f"{config_path} is not readable YAML ({str(error).splitlines()[0]}); "
                                f"{RESTART_HINT}") from None
        if config is not None and not isinstance(config, dict):
            raise CorruptRecord(f"{config_path} holds a {type(config).__name__}, not a run config; {RESTART_HINT}")
        flatten("", config or {}, flat)
    # records of earlier versions lack config_hash in status.json; the folder name carries it
    config_hash = status.get("config_hash") or (run_dir.name.rsplit("-seed", 1)[0] if "-seed" in run_dir.name else None)
    row = {"run_dir": str(run_dir), "status": status.get("status"), "config_hash": config_hash}
    for column, key in _IDENTITY_COLUMNS.items():
        value = flat.get(key)
        if value is None and column in ("dataset", "model", "variant", "seed"):
            value = status.get(column)  # records of earlier versions named these in status.json only
        row[column] = value
    for column in ("input_scale", "synapse", "adaptation"):  # records made before these slots existed
        row[column] = "none" if row[column] is None else row[column]
    row["beta_value"] = status.get("beta_value")
    recorded = status.get("overrides")  # the command-line overrides the run was made with
    row["overrides"] = tuple(recorded) if isinstance(recorded, list) else None
    row["tau"] = _as_float(row["tau"])
    row["seed"] = _as_int(row["seed"])
    row["config"] = flat
    return row


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _with_identity(rows: pd.DataFrame, identity: dict) -> pd.DataFrame:
    """``rows`` with one constant column per identity entry, added in one concat."""
    constant = pd.DataFrame({key: [value] * len(rows) for key, value in identity.items()}, index=rows.index)
    return pd.concat([rows.drop(columns=[c for c in identity if c in rows.columns]), constant], axis=1)


EVAL_REQUIRED = ("metric", "value")  # every suite writes tidy rows with at least these columns


def _read_eval(path: Path) -> pd.DataFrame:
    try:
        rows = pd.read_parquet(path)
    except Exception as error:  # truncated, not parquet, unreadable: pyarrow raises several types
        raise CorruptRecord(f"{path} is not a readable parquet file ({type(error).__name__}: "
                            f"{str(error).splitlines()[0] if str(error) else ''}); recompute it with "
                            f"`python -m ablations.evaluate run={path.parent.parent} suite={path.stem} "
                            "overwrite=true`") from None
    missing = [c for c in EVAL_REQUIRED if c not in rows.columns]
    if missing:
        raise CorruptRecord(f"{path} has no {', '.join(missing)} column (columns: {', '.join(map(str, rows.columns))}); "
                            f"it is not an evaluation table of this package; recompute it with `python -m "
                            f"ablations.evaluate run={path.parent.parent} suite={path.stem} overwrite=true`")
    return rows


def _read_metrics_checked(run_dir: Path) -> pd.DataFrame:
    path = run_dir / METRICS_FILE
    try:
        metrics = read_metrics(run_dir)
    except Exception as error:  # pandas raises parser, decode and empty-data errors
        raise CorruptRecord(f"{path} is not a readable CSV table ({type(error).__name__}); {RESTART_HINT}") from None
    if not metrics.empty and "epoch" not in metrics.columns:
        raise CorruptRecord(f"{path} has no epoch column; it is not a metrics table of this package; {RESTART_HINT}")
    return metrics


def _report_skipped(problems: list[dict]) -> None:
    for problem in problems:
        print(f"warning: skipped {problem['path']}: {problem['reason']}", file=sys.stderr, flush=True)


def load_results(root: str | Path = "runs", kinds: Iterable[str] = ("run", "epoch", "eval"),
                 config_columns: Iterable[str] = (), on_skip=_report_skipped) -> pd.DataFrame:
    """Every run, epoch and evaluation row under ``root`` as one tidy DataFrame.

    ``config_columns`` adds any dotted config key as a column (e.g. ``"train.lr"``).
    Records that cannot be read (a status.json that is not JSON, a config.yaml that is not YAML,
    a truncated metrics.csv or eval parquet, a parquet of other columns, a foreign status.json)
    are left out, never failing the table: each is listed in ``table.attrs["skipped"]`` as
    ``{"path", "reason"}`` and passed to ``on_skip`` (default: one warning line each on stderr;
    ``None`` is silent). A whole run is left out when its status or config is unreadable; only
    the file when one metrics or eval file is.
    """
    kinds = set(kinds)
    frames: list[pd.DataFrame] = []
    problems: list[dict] = []
    for run_dir in find_runs(root):
        try:
            status = read_status(run_dir) or {}
            ident = _run_identity(run_dir, status)
        except CorruptRecord as error:
            problems.append({"path": str(run_dir), "reason": str(error)})
            continue
        flat = ident.pop("config")
        for key in config_columns:
            ident[key] = flat.get(key)
        if "run" in kinds:
            row = dict(ident, kind="run")
            final = status.get("final")
            row.update({str(k): v for k, v in (final.items() if isinstance(final, dict) else ())
                        if k not in ident and k != "kind"})
            row.update({"wall_time_s": status.get("wall_time_s"), "epochs_done": status.get("epochs_done"),
                        "device": status.get("device")})
            frames.append(pd.DataFrame([row]))
        if "epoch" in kinds:
            try:
                metrics = _read_metrics_checked(run_dir)
            except CorruptRecord as error:
                problems.append({"path": str(run_dir / METRICS_FILE), "reason": str(error)})
                metrics = pd.DataFrame()
            if not metrics.empty:
                frames.append(_with_identity(metrics, dict(ident, kind="epoch")))
        if "eval" in kinds and (run_dir / EVAL_DIR).is_dir():
            for path in sorted((run_dir / EVAL_DIR).glob("*.parquet")):
                try:
                    rows = _read_eval(path)
                except CorruptRecord as error:
                    problems.append({"path": str(path), "reason": str(error)})
                    continue
                rows = _with_identity(rows, {k: v for k, v in dict(ident, kind="eval").items()
                                             if k not in rows.columns or k == "kind"})
                if "suite" not in rows.columns:
                    rows["suite"] = path.stem
                frames.append(rows)
    if on_skip is not None and problems:
        on_skip(problems)
    if not frames:
        table = pd.DataFrame(columns=["kind", "run_dir", "status", *list(_IDENTITY_COLUMNS)])
        table.attrs["skipped"] = problems
        return table
    frames = [frame.dropna(axis=1, how="all") for frame in frames]
    table = pd.concat(frames, ignore_index=True, sort=False)
    first = ["kind", "run_dir", "status", *list(_IDENTITY_COLUMNS)]
    table = table[[c for c in first if c in table.columns] + [c for c in table.columns if c not in first]]
    table.attrs["skipped"] = problems
    return table
