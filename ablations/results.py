"""Run records on disk and the tidy results table.

A run directory is derived from the config identity::

    <paths.runs>/<dataset>/<model>/<variant>/<config-hash>-seed<k>/
        config.yaml      the resolved config (every value the run used)
        status.json      running | finished | diverged | failed, versions, timings, device, final metrics
        metrics.csv      one row per completed epoch
        checkpoint.pt    model, optimizer, scheduler, RNG state after the last completed epoch
        eval/<suite>.parquet   tidy rows of each evaluation suite

The hash covers everything that changes what is trained (variant, neuron, dataset, model, train)
and nothing that does not (seed, which is in the name; paths; device; progress bars; evaluation
suites; study bookkeeping; the neuron backend, which computes the same update). Every file is
written atomically: to a temporary file in the same folder, flushed, then renamed over the
target, so a crash never leaves a half-written record.

:func:`load_results` gathers every run under a root into one tidy DataFrame, the only input the
figures read. Each row has a ``kind``: ``run`` (one per run, final metrics), ``epoch`` (one per
run and epoch) or ``eval`` (the rows of the evaluation suites, with their ``suite``), and every
row carries the run's identity columns (run_dir, status, dataset, model, variant, seed, neuron
parameters, study and trial).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from .models import LEGACY_BUILDERS
from .atomic import atomic_save_torch, atomic_write_bytes, atomic_write_parquet, atomic_write_text

__all__ = [
    "STATUS_FILE",
    "IDENTITY_EXCLUDE",
    "IDENTITY_NEUTRAL",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_save_torch",
    "atomic_write_parquet",
    "config_hash",
    "run_dir_for",
    "read_status",
    "write_status",
    "update_status",
    "write_metrics",
    "read_metrics",
    "find_runs",
    "load_results",
    "load_model",
    "versions",
    "pid_alive",
]

STATUS_FILE = "status.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
CHECKPOINT_FILE = "checkpoint.pt"
EVAL_DIR = "eval"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# top-level keys (and dotted sub-keys) that do not change what is trained
IDENTITY_EXCLUDE = ("seed", "paths", "device", "debug", "progress", "logger", "eval", "trial",
                    "train.progress", "train.num_workers", "train.eval_every", "neuron.backend",
                    "train.checkpoint_time_steps", "plugins")
# Keys added after runs were first recorded: key -> (the value that does what the package did before
# the key existed, which configs did not have it). At that value, in those configs, the key stays out
# of the identity, so every earlier run keeps its hash (and its directory) while a run that sets
# another value gets a new one.
IDENTITY_NEUTRAL: dict[str, tuple[Any, Callable[[dict], bool]]] = {
    # model=default had no dropout key (the other models had `dropout: null` from the start)
    "model.dropout": (None, lambda identity: identity.get("model", {}).get("name") == "default"),
    # seed 003 fidelity (ref [21]'s protocol) added these; their defaults train what was trained before
    "neuron.gradient": ("exact", lambda identity: True),
    "train.loss_reduction": ("half_mean", lambda identity: True),
    "model.init": ("default", lambda identity: True),
    "model.pool_threshold": (0.75, lambda identity: True),
    "model.dropout_position": ("after_pool", lambda identity: True),
    # seed 001 fidelity (DH-SNN's delayed XOR reads out during the second pattern only)
    "model.readout_window": (None, lambda identity: True),
    "dataset.noise_over_patterns": (False, lambda identity: True),
    # real-data subsets: reading the official files with their checksums tested is what runs did before
    "dataset.verify": (True, lambda identity: True),
    # speed: train.precision=null is the precision every run had before (train.amp decides)
    "train.precision": (None, lambda identity: True),
}
_BUILDER_SPELLING = {name: path for path, name in LEGACY_BUILDERS.items()}


# atomic writes live in .atomic (re-exported here for existing callers)


# --------------------------------------------------------------------------- identity
def _container(cfg: DictConfig | dict) -> dict:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return json.loads(json.dumps(cfg, default=str))


def identity(cfg: DictConfig | dict) -> dict:
    """The part of a config that defines what is trained."""
    data = _container(cfg)
    for key in IDENTITY_EXCLUDE:
        node, *rest = key.split(".")
        if not rest:
            data.pop(node, None)
        elif isinstance(data.get(node), dict):
            data[node].pop(rest[0], None)
    model = data.get("model")
    if isinstance(model, dict) and model.get("builder") in _BUILDER_SPELLING:
        # identities keep the spelling runs were first recorded with (an import path)
        model["builder"] = _BUILDER_SPELLING[model["builder"]]
    for key, (neutral, applies) in IDENTITY_NEUTRAL.items():
        if not applies(data):
            continue
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node and node[leaf] == neutral:
            del node[leaf]
    return data


def config_hash(cfg: DictConfig | dict, length: int = 10) -> str:
    text = json.dumps(identity(cfg), sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def run_dir_for(cfg: DictConfig) -> Path:
    return (Path(cfg.paths.runs) / str(cfg.dataset.name) / str(cfg.model.name) / str(cfg.neuron.variant)
            / f"{config_hash(cfg)}-seed{int(cfg.seed)}")


# --------------------------------------------------------------------------- status and metrics
def pid_alive(pid: int) -> bool:
    """Whether a process of this id exists on this machine (records name the process writing them)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def versions() -> dict[str, str]:
    import numpy
    import snntorch

    from . import __version__

    return {
        "ablations": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "snntorch": snntorch.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }


def read_status(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / STATUS_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete the run folder to start it again") from error


def write_status(run_dir: str | Path, status: dict) -> None:
    atomic_write_text(Path(run_dir) / STATUS_FILE,
                      json.dumps(status, indent=2, sort_keys=True, default=str))


def update_status(run_dir: str | Path, **changes: Any) -> dict:
    status = read_status(run_dir) or {}
    status.update(changes)
    status["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_status(run_dir, status)
    return status


def write_metrics(run_dir: str | Path, rows: list[dict]) -> None:
    atomic_write_text(Path(run_dir) / METRICS_FILE, pd.DataFrame(rows).to_csv(index=False))


def read_metrics(run_dir: str | Path) -> pd.DataFrame:
    path = Path(run_dir) / METRICS_FILE
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


# --------------------------------------------------------------------------- gathering
def find_runs(root: str | Path) -> list[Path]:
    """Every run directory (a folder holding status.json) under ``root``, sorted."""
    root = Path(root)
    if (root / STATUS_FILE).exists():
        return [root]
    if not root.exists():
        return []
    return sorted(path.parent for path in root.rglob(STATUS_FILE))


def _flatten(prefix: str, node: Any, out: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
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
        _flatten("", yaml.load(config_path.read_text(), Loader=_YAML_LOADER) or {}, flat)
    row = {"run_dir": str(run_dir), "status": status.get("status"), "config_hash": status.get("config_hash")}
    for column, key in _IDENTITY_COLUMNS.items():
        row[column] = flat.get(key)
    row["beta_value"] = status.get("beta_value")
    recorded = status.get("overrides")  # the command-line overrides the run was made with
    row["overrides"] = tuple(recorded) if isinstance(recorded, list) else None
    row["tau"] = _as_float(row["tau"])
    row["config"] = flat
    return row


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


def load_results(root: str | Path = "runs", kinds: Iterable[str] = ("run", "epoch", "eval"),
                 config_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Every run, epoch and evaluation row under ``root`` as one tidy DataFrame.

    ``config_columns`` adds any dotted config key as a column (e.g. ``"train.lr"``).
    """
    kinds = set(kinds)
    frames: list[pd.DataFrame] = []
    for run_dir in find_runs(root):
        try:
            status = read_status(run_dir) or {}
        except ValueError:
            continue
        ident = _run_identity(run_dir, status)
        flat = ident.pop("config")
        for key in config_columns:
            ident[key] = flat.get(key)
        if "run" in kinds:
            row = dict(ident, kind="run")
            row.update({k: v for k, v in (status.get("final") or {}).items()})
            row.update({"wall_time_s": status.get("wall_time_s"), "epochs_done": status.get("epochs_done"),
                        "device": status.get("device")})
            frames.append(pd.DataFrame([row]))
        if "epoch" in kinds:
            metrics = read_metrics(run_dir)
            if not metrics.empty:
                frames.append(_with_identity(metrics, dict(ident, kind="epoch")))
        if "eval" in kinds and (run_dir / EVAL_DIR).is_dir():
            for path in sorted((run_dir / EVAL_DIR).glob("*.parquet")):
                rows = pd.read_parquet(path)
                rows = _with_identity(rows, {k: v for k, v in dict(ident, kind="eval").items()
                                             if k not in rows.columns})
                if "suite" not in rows.columns:
                    rows["suite"] = path.stem
                frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=["kind", "run_dir", "status", *list(_IDENTITY_COLUMNS)])
    frames = [frame.dropna(axis=1, how="all") for frame in frames]
    table = pd.concat(frames, ignore_index=True, sort=False)
    first = ["kind", "run_dir", "status", *list(_IDENTITY_COLUMNS)]
    return table[[c for c in first if c in table.columns] + [c for c in table.columns if c not in first]]


def load_model(run_dir: str | Path, device: str | torch.device = "cpu"):
    """A finished (or checkpointed) run's trained network and its config."""
    from . import models, neurons
    from .errors import UserError

    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    checkpoint_path = run_dir / CHECKPOINT_FILE
    if not config_path.exists() or not checkpoint_path.exists():
        raise UserError(
            f"{run_dir} is not a run with a checkpoint (expected {CONFIG_FILE} and {CHECKPOINT_FILE}); "
            "run `python -m ablations.run ...` to create it"
        )
    cfg = OmegaConf.load(config_path)
    try:
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
    except Exception as error:  # corrupt or truncated file
        raise UserError(f"checkpoint {checkpoint_path} cannot be read ({error}); delete it to retrain") from error
    try:
        spec = neurons.spec_from_config(OmegaConf.to_container(cfg.neuron, resolve=True))
        model = models.build(cfg, spec, tuple(state["input_shape"]))
    except ValueError as error:
        raise UserError(f"{config_path} no longer describes a network this version can build ({error})") from None
    neurons.set_backend(model, str(cfg.neuron.get("backend") or "snntorch"))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return model, cfg
