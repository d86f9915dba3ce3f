"""Run records on disk and the tidy results table.

A run directory is derived from the config identity::

    <paths.runs>/<dataset>/<model>/<variant>/<config-hash>-seed<k>/
        config.yaml      the resolved config (every value the run used)
        status.json      running | finished | diverged | failed, versions, timings, device, final metrics
        metrics.csv      one row per completed epoch
        checkpoint.pt    model, optimizer, scheduler, RNG state after the last completed epoch
        eval/<suite>.parquet   tidy rows of each evaluation suite
        run.lock         while a process trains the run: its host, pid and heartbeat (RunLock)

The hash covers everything that changes what is trained (variant, neuron, dataset, model, train)
and nothing that does not (seed, which is in the name; paths; device; progress bars; evaluation
suites; study bookkeeping; the neuron backend, which computes the same update). Every file is
written atomically: to a temporary file in the same folder, flushed, then renamed over the
target, so a crash never leaves a half-written record.

:func:`load_results` gathers every run under a root into one tidy DataFrame, the only input the
figures read. Each row has a ``kind``: ``run`` (one per run, final metrics), ``epoch`` (one per
run and epoch) or ``eval`` (the rows of the evaluation suites, with their ``suite``), and every
row carries the run's identity columns (run_dir, status, dataset, model, variant, seed, neuron
parameters, study and trial). A record it cannot read (truncated, not JSON / YAML / parquet, a
foreign file) is left out and listed in ``attrs["skipped"]``, never failing the whole table.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import secrets
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from .models import LEGACY_BUILDERS
from .atomic import atomic_save_torch, atomic_write_bytes, atomic_write_parquet, atomic_write_text
from .errors import UserError

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
    "CorruptRecord",
    "RunLock",
    "RunLocked",
    "safe_name",
    "clear_run",
    "remove_orphans",
]

STATUS_FILE = "status.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
CHECKPOINT_FILE = "checkpoint.pt"
EVAL_DIR = "eval"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# top-level keys (and dotted sub-keys) that do not change what is trained
IDENTITY_EXCLUDE = ("seed", "paths", "device", "debug", "progress", "logger", "eval", "trial",
                    "train.progress", "train.restart", "train.num_workers", "train.eval_every", "neuron.backend",
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
    # paired seeds (ablations/streams.py): global is the one random stream every earlier run drew from
    "train.rng": ("global", lambda identity: True),
    # neuron components: at these values a neuron is what it was before they existed
    "neuron.input_scale": ("none", lambda identity: True),
    "neuron.leak_shape": ("scalar", lambda identity: True),
    "neuron.leak_init": (None, lambda identity: True),
    "neuron.synapse": ("none", lambda identity: True),
    "neuron.syn_alpha": (None, lambda identity: True),
    "neuron.adaptation": ("none", lambda identity: True),
    "neuron.adapt_tau": (None, lambda identity: True),
    "neuron.adapt_scale": (None, lambda identity: True),
    "neuron.surrogate.sigma": (0.5, lambda identity: True),
    "neuron.surrogate.scale": (6.0, lambda identity: True),
    "neuron.surrogate.height": (0.15, lambda identity: True),
    "neuron.surrogate.gamma": (0.5, lambda identity: True),
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
    _fill_variant_physics(data.get("neuron"))
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


def _fill_variant_physics(node: Any) -> None:
    """A slot key left null takes the variant's choice (conf/config.yaml): the identity holds the choice,
    so a composed config and the resolved record of the same run hash alike."""
    from . import neurons

    if not isinstance(node, dict) or str(node.get("variant")) not in neurons.VARIANTS:
        return
    preset = neurons.VARIANTS[str(node["variant"])]
    for key in neurons.PHYSICS_KEYS:
        if key in node and node[key] is None:
            node[key] = getattr(preset, key)


def config_hash(cfg: DictConfig | dict, length: int = 10) -> str:
    text = json.dumps(identity(cfg), sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,99}")


def safe_name(value: Any, key: str) -> str:
    """``value`` as one folder name of a run path; a UserError for anything that could leave the
    runs root or make an odd folder (``..``, a separator, a control character, an empty name)."""
    text = str(value)
    if not _SAFE_NAME.fullmatch(text) or ".." in text:
        raise UserError(f"{key}={text!r} cannot name a run folder: use letters, digits and _ . + = - "
                        "(at most 100, starting with a letter or digit, no '..' and no '/')")
    return text


def run_dir_for(cfg: DictConfig) -> Path:
    """``<paths.runs>/<dataset>/<model>/<variant>/<config-hash>-seed<k>``; a name that could
    leave ``paths.runs`` (``..``, ``/``) is refused with a UserError."""
    try:
        seed = int(cfg.seed)
    except (TypeError, ValueError):
        raise UserError(f"seed={cfg.seed!r} is not an integer") from None
    return (Path(cfg.paths.runs) / safe_name(cfg.dataset.name, "dataset.name") / safe_name(cfg.model.name, "model.name")
            / safe_name(cfg.neuron.variant, "neuron.variant") / f"{config_hash(cfg)}-seed{seed}")


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


# --------------------------------------------------------------------------- the run lock
LOCK_FILE = "run.lock"
# seconds between heartbeats of a held lock (the lock file's modification time)
LOCK_HEARTBEAT_S = float(os.environ.get("ABLATIONS_LOCK_HEARTBEAT_S", "10"))
# a lock whose heartbeat is older than this is stale (its holder died, maybe on another machine);
# assumption: six missed heartbeats, generous for a loaded shared file system
LOCK_STALE_S = float(os.environ.get("ABLATIONS_LOCK_STALE_S", "60"))


class RunLocked(UserError):
    """Another live process holds the run: the message names it."""


class RunLock:
    """An exclusive lock on one run folder, held while a process trains or restarts it.

    The lock is the file ``run.lock`` created with ``O_EXCL`` (atomic on local and network file
    systems), holding the holder's host, pid and start time; a daemon thread touches it every
    ``LOCK_HEARTBEAT_S`` seconds. A lock is stale, and is taken over, when its holder is a
    process of this machine that no longer exists, or when its heartbeat is older than
    ``LOCK_STALE_S`` seconds (a holder on another machine that crashed, or lost the folder).
    Breaking a stale lock goes through a second ``O_EXCL`` file, so two processes that find the
    same stale lock never both take it.
    """

    def __init__(self, run_dir: str | Path, purpose: str = "training"):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.purpose = purpose
        self.token = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # holder description ------------------------------------------------------------------
    def holder(self) -> dict | None:
        """The current lock file's content plus its heartbeat age in seconds; None when unlocked."""
        try:
            text = self.path.read_text(encoding="utf-8")
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        except OSError:
            return {"age_s": 0.0}
        try:
            info = json.loads(text)
            info = info if isinstance(info, dict) else {}
        except ValueError:  # written by a holder killed mid-write: judged by its age alone
            info = {}
        info["age_s"] = age
        return info

    @staticmethod
    def is_stale(info: dict) -> bool:
        if info.get("age_s", 0.0) > LOCK_STALE_S:
            return True
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            return info["pid"] != os.getpid() and not pid_alive(info["pid"])
        return False

    # acquire / release -------------------------------------------------------------------
    def acquire(self) -> "RunLock":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self.holder()
                if info is None:
                    continue  # released between our two looks
                if not self.is_stale(info):
                    raise RunLocked(self._busy_message(info)) from None
                self._break(info)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                           "purpose": self.purpose, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "command": " ".join(sys.argv)[:500]}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            self._thread = threading.Thread(target=self._beat, name=f"heartbeat {self.path}", daemon=True)
            self._thread.start()
            return self
        raise RunLocked(f"could not take the lock {self.path}: other processes keep taking it; try again")

    def _busy_message(self, info: dict) -> str:
        who = f"process {info.get('pid', '?')} on host {info.get('host', '?')}"
        since = f" since {info['since']}" if info.get("since") else ""
        return (f"run {self.run_dir} is in use by {who} ({info.get('purpose', 'training')}{since}, "
                f"last heartbeat {info.get('age_s', 0.0):.0f} s ago: {info.get('command', '')!s}); wait for it to "
                f"finish or stop it, then run the command again (a lock whose holder died is taken over at once "
                f"on the same machine, after {LOCK_STALE_S:.0f} s without heartbeat from another machine)")

    def _break(self, info: dict) -> None:
        """Remove a stale lock, once, even when several processes find it at the same moment."""
        breaker = self.path.with_name(LOCK_FILE + ".break")
        try:
            fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:  # a breaker killed while breaking leaves its file: it is stale after the same delay
                if time.time() - breaker.stat().st_mtime > LOCK_STALE_S:
                    breaker.unlink()
            except FileNotFoundError:
                pass
            time.sleep(0.05)
            return
        os.close(fd)
        try:
            again = self.holder()
            if again is not None and again.get("token") == info.get("token") and self.is_stale(again):
                print(f"taking over the stale lock of {self.run_dir} (process {info.get('pid', '?')} on host "
                      f"{info.get('host', '?')}, last heartbeat {info.get('age_s', 0.0):.0f} s ago)",
                      file=sys.stderr, flush=True)
                self.path.unlink()
        except FileNotFoundError:
            pass
        finally:
            breaker.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(LOCK_HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        info = self.holder()
        if info is not None and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


_TEMPORARY_PID = re.compile(r"\.(\d+)\.[^.]+\.tmp$")


def remove_orphans(run_dir: str | Path, dead_only: bool = False) -> list[Path]:
    """Delete the temporary files of atomic writes a killed process left in a run folder (never
    read by anything). The holder of the run lock removes them all; ``dead_only`` removes only
    those whose writer (pid in the name) no longer runs on this machine (``evaluate``, which
    may run beside another evaluation of the same run)."""
    run_dir = Path(run_dir)
    orphans = [p for folder in (run_dir, run_dir / EVAL_DIR) if folder.is_dir()
               for p in folder.glob(".*.tmp") if p.is_file()]
    if dead_only:
        pids = [_TEMPORARY_PID.search(p.name) for p in orphans]
        orphans = [p for p, pid in zip(orphans, pids) if pid and not pid_alive(int(pid.group(1)))]
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def clear_run(run_dir: str | Path) -> list[str]:
    """Delete a run's record (status, config, metrics, checkpoint, eval rows), keeping the lock:
    what ``train.restart=true`` does, under the run lock, before training again."""
    import shutil

    run_dir = Path(run_dir)
    removed = []
    if not run_dir.is_dir():
        return removed
    for path in sorted(run_dir.iterdir()):
        if path.name in (LOCK_FILE, LOCK_FILE + ".break"):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.name)
    return removed


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


class CorruptRecord(UserError, ValueError):
    """A run record that cannot be read (truncated, not JSON, foreign): the message names the file
    and how to train the run again (``train.restart=true``)."""


RESTART_HINT = "run the same command with train.restart=true to train this run from scratch"


def read_status(run_dir: str | Path) -> dict | None:
    """The run's status.json, None when there is none; CorruptRecord when it cannot be read."""
    path = Path(run_dir) / STATUS_FILE
    if not path.exists():
        return None
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CorruptRecord(f"{path} is not readable JSON ({error}); {RESTART_HINT}") from None
    if not isinstance(status, dict) or not isinstance(status.get("status"), str):
        what = f"a {type(status).__name__}" if not isinstance(status, dict) else "no status entry"
        raise CorruptRecord(f"{path} holds {what}: it is not a run status of this package; {RESTART_HINT}")
    return status


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
        try:
            config = yaml.load(config_path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise CorruptRecord(f"{config_path} is not readable YAML ({str(error).splitlines()[0]}); "
                                f"{RESTART_HINT}") from None
        if config is not None and not isinstance(config, dict):
            raise CorruptRecord(f"{config_path} holds a {type(config).__name__}, not a run config; {RESTART_HINT}")
        _flatten("", config or {}, flat)
    # records of earlier versions lack config_hash in status.json; the folder name carries it
    config_hash = status.get("config_hash") or (run_dir.name.rsplit("-seed", 1)[0] if "-seed" in run_dir.name else None)
    row = {"run_dir": str(run_dir), "status": status.get("status"), "config_hash": config_hash}
    for column, key in _IDENTITY_COLUMNS.items():
        value = flat.get(key)
        if value is None and column in ("dataset", "model", "variant", "seed"):
            value = status.get(column)  # records of earlier versions named these in status.json only
        row[column] = value
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
    try:
        cfg = OmegaConf.load(config_path)
    except Exception as error:  # yaml and omegaconf raise several types for a damaged file
        raise CorruptRecord(f"{config_path} cannot be read ({type(error).__name__}); {RESTART_HINT}") from None
    try:
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
    except Exception as error:  # corrupt or truncated file
        raise CorruptRecord(f"checkpoint {checkpoint_path} cannot be read ({type(error).__name__}: {error}); "
                            f"{RESTART_HINT}") from None
    try:
        spec = neurons.spec_from_config(OmegaConf.to_container(cfg.neuron, resolve=True))
        model = models.build(cfg, spec, tuple(state["input_shape"]))
        neurons.set_backend(model, str(cfg.neuron.get("backend") or "auto"))
        model.load_state_dict(state["model"])
    except (UserError, ValueError) as error:
        raise CorruptRecord(f"{run_dir}: its {CONFIG_FILE} no longer describes a network this version can build "
                            f"({error}); {RESTART_HINT}") from None
    except (KeyError, TypeError, RuntimeError, AttributeError) as error:
        raise CorruptRecord(f"{run_dir}: the checkpoint does not match its {CONFIG_FILE} "
                            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                            f"{RESTART_HINT}") from None
    model.to(device).eval()
    return model, cfg
