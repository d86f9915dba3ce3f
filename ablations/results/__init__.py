"""Run records on disk and the tidy results table, one module per job.

A run directory is derived from the config identity::

    <paths.runs>/<dataset>/<model>/<variant>/<config-hash>-seed<k>/
        config.yaml      the resolved config (every value the run used)
        status.json      running | finished | diverged | failed, versions, timings, device, final metrics
        metrics.csv      one row per completed epoch
        checkpoint.pt    model, optimizer, scheduler, RNG state after the last completed epoch
        eval/<suite>.parquet   tidy rows of each evaluation suite
        run.lock         while a process trains the run: its host, pid and heartbeat (RunLock)

* :mod:`.run_identity`: which keys define what is trained, the config hash, the run folder;
* :mod:`.lock`: the run lock and the clean-up its holder does;
* :mod:`.records`: reading and writing status.json, metrics.csv (atomic writes, CorruptRecord);
* :mod:`.table`: :func:`load_results`, every run under a root as one tidy DataFrame;
* :mod:`.model`: :func:`load_model`, a recorded run's trained network.

Everything is re-exported here: ``from ablations import results; results.read_status(...)``.
"""

from __future__ import annotations

from ..atomic import atomic_save_torch, atomic_write_bytes, atomic_write_parquet, atomic_write_text
from .run_identity import IDENTITY_EXCLUDE, IDENTITY_NEUTRAL, config_hash, identity, run_dir_for, safe_name
from .lock import (LOCK_FILE, LOCK_HEARTBEAT_S, LOCK_STALE_S, RunLock, RunLocked, clear_run, pid_alive,
                   remove_orphans)
from .model import load_model
from .records import (CHECKPOINT_FILE, CONFIG_FILE, EVAL_DIR, METRICS_FILE, RESTART_HINT, STATUS_FILE, CorruptRecord,
                      find_runs, read_metrics, read_status, update_status, versions, write_metrics, write_status)
from .table import EVAL_REQUIRED, flatten, load_results

__all__ = [
    "STATUS_FILE", "CONFIG_FILE", "METRICS_FILE", "CHECKPOINT_FILE", "EVAL_DIR", "EVAL_REQUIRED", "RESTART_HINT",
    "IDENTITY_EXCLUDE", "IDENTITY_NEUTRAL", "identity", "config_hash", "safe_name", "run_dir_for",
    "LOCK_FILE", "LOCK_HEARTBEAT_S", "LOCK_STALE_S", "RunLock", "RunLocked", "pid_alive", "remove_orphans", "clear_run",
    "CorruptRecord", "versions", "read_status", "write_status", "update_status", "write_metrics", "read_metrics",
    "find_runs", "load_results", "flatten", "load_model",
    "atomic_write_bytes", "atomic_write_text", "atomic_save_torch", "atomic_write_parquet",
]
