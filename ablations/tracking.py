"""Experiment trackers fed once per epoch: ``logger=none|csv|tensorboard``.

The run record (``config.yaml``, ``metrics.csv``, ``status.json`` in the run directory) stays the
source of truth; a tracker only mirrors it for the tools researchers already use:

* ``none`` (default): nothing besides the run record.
* ``csv``: ``<run>/logs/csv/metrics.csv`` (one row per epoch, rewritten atomically each epoch)
  and ``<run>/logs/csv/hparams.yaml`` (the resolved config), the layout of Lightning's CSVLogger.
* ``tensorboard``: event files in ``<run>/logs/tensorboard/`` through ``torch.utils.tensorboard``
  (optional extra: ``pip install -e ".[tensorboard]"``): every numeric column of the epoch row
  as a scalar (``train/loss``, ``test/accuracy``, ``lr``, ...) at step = epoch, and the resolved
  config as hparams (flattened ``a.b.c`` keys) with the final metrics. View with
  ``tensorboard --logdir runs``.

A resumed run appends to the same logs from the epoch it resumes at. A run that is already
finished (``logger=...`` added on a second call) has its recorded history written once to the
logger's folder (:func:`mirror_record`), unless the folder already holds it; the run says so.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import UserError

__all__ = ["LOGGERS", "Tracker", "start", "flat_hparams", "mirror_record"]

LOGGERS = ("none", "csv", "tensorboard")
LOG_DIR = "logs"


def flat_hparams(cfg: Any) -> dict[str, int | float | str | bool]:
    """The resolved config as flat ``{"a.b.c": scalar}`` (None and lists as text)."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, bool) or isinstance(node, (int, str)):
            flat[prefix] = node
        elif isinstance(node, float):
            flat[prefix] = node if math.isfinite(node) else str(node)
        else:
            flat[prefix] = "null" if node is None else str(node)

    walk("", container)
    return flat


def _scalars(row: dict) -> dict[str, float]:
    out = {}
    for key, value in row.items():
        if key == "epoch" or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(float(value)):
            continue
        split, _, name = key.partition("_")
        out[f"{split}/{name}" if split in ("train", "test") and name else key] = float(value)
    return out


class Tracker:
    """``logger=none``: the interface every tracker has."""

    def log_epoch(self, epoch: int, row: dict) -> None:
        """Mirror one finished epoch's row (the row written to metrics.csv)."""

    def close(self, final: dict | None = None) -> None:
        """Flush and release; ``final`` holds the run's final metrics."""


class CsvTracker(Tracker):
    def __init__(self, cfg: Any, run_dir: Path):
        import yaml

        self.folder = Path(run_dir) / LOG_DIR / "csv"
        self.rows: list[dict] = []
        existing = self.folder / "metrics.csv"
        if existing.exists():  # resumed run: keep the epochs logged before
            import pandas as pd

            self.rows = pd.read_csv(existing).to_dict("records")
        atomic_write_text(self.folder / "hparams.yaml", yaml.safe_dump(flat_hparams(cfg), sort_keys=True))

    def log_epoch(self, epoch: int, row: dict) -> None:
        import pandas as pd

        self.rows = [r for r in self.rows if int(r["epoch"]) < epoch] + [dict(row, epoch=epoch)]
        buffer = io.StringIO()
        pd.DataFrame(self.rows).to_csv(buffer, index=False)
        atomic_write_text(self.folder / "metrics.csv", buffer.getvalue())


class TensorBoardTracker(Tracker):
    def __init__(self, cfg: Any, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise UserError(f"logger=tensorboard needs the tensorboard package ({error}); install it with "
                            "`pip install -e \".[tensorboard]\"`, or use logger=csv / logger=none") from None
        self.folder = Path(run_dir) / LOG_DIR / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.folder))
        self.hparams = flat_hparams(cfg)

    def log_epoch(self, epoch: int, row: dict) -> None:
        for tag, value in _scalars(row).items():
            self.writer.add_scalar(tag, value, global_step=epoch)
        self.writer.flush()  # a killed run keeps every finished epoch

    def close(self, final: dict | None = None) -> None:
        metrics = {f"hparam/{key}": float(value) for key, value in (final or {}).items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)}
        self.writer.add_hparams(self.hparams, metrics, run_name=".")
        self.writer.close()


def start(cfg: Any, run_dir: str | Path) -> Tracker:
    """The tracker ``cfg.logger`` names (``none`` when the key is absent)."""
    name = str(cfg.get("logger", "none") if hasattr(cfg, "get") else "none")
    if name not in LOGGERS:
        raise UserError(f"logger={name!r} is not one of {list(LOGGERS)}; e.g. logger=tensorboard "
                        "(then `tensorboard --logdir runs`)")
    if name == "csv":
        return CsvTracker(cfg, Path(run_dir))
    if name == "tensorboard":
        return TensorBoardTracker(cfg, Path(run_dir))
    return Tracker()


def mirror_record(cfg: Any, run_dir: str | Path, rows: list[dict], final: dict | None) -> str | None:
    """Write a finished run's recorded epochs (``metrics.csv`` rows) and final metrics through the
    logger ``cfg.logger`` names; a line saying what was done (None for ``logger=none``). A logger
    folder that already exists is left as it is (the run logged there while it trained)."""
    name = str(cfg.get("logger", "none") if hasattr(cfg, "get") else "none")
    if name == "none":
        return None
    folder = Path(run_dir) / LOG_DIR / name
    if folder.exists() and any(folder.iterdir()):
        return f"logger={name}: {folder} already holds this run's log; left as it is"
    tracker = start(cfg, run_dir)
    for row in rows:
        epoch = int(row["epoch"])
        tracker.log_epoch(epoch, {k: v for k, v in row.items() if k != "epoch"})
    tracker.close(final)
    return f"logger={name}: the run was already finished; wrote its recorded history ({len(rows)} epoch(s)) to {folder}"
