"""Reading and writing one run's record files: ``status.json``, ``metrics.csv``, the versions a run
was made with. Every file is written atomically (:mod:`ablations.atomic`): to a temporary file in
the same folder, flushed, then renamed over the target, so a crash never leaves a half-written
record. A record that cannot be read is a :class:`CorruptRecord` naming the file and what to do.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..atomic import atomic_write_text
from ..errors import UserError

__all__ = ["STATUS_FILE", "CONFIG_FILE", "METRICS_FILE", "CHECKPOINT_FILE", "EVAL_DIR", "RESTART_HINT",
           "CorruptRecord", "versions", "read_status", "write_status", "update_status", "write_metrics",
           "read_metrics", "find_runs"]

STATUS_FILE = "status.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
CHECKPOINT_FILE = "checkpoint.pt"
EVAL_DIR = "eval"


def versions() -> dict[str, str]:
    import numpy
    import snntorch

    from .. import __version__

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


def find_runs(root: str | Path) -> list[Path]:
    """Every run directory (a folder holding status.json) under ``root``, sorted."""
    root = Path(root)
    if (root / STATUS_FILE).exists():
        return [root]
    if not root.exists():
        return []
    return sorted(path.parent for path in root.rglob(STATUS_FILE))
