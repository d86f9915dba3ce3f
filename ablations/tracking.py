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

Progress (:class:`Progress`, :class:`Heartbeat`): with ``progress=true`` a tqdm bar where stdout
and stderr are both terminals; anywhere else (a log file, a pipe, a job of a parallel grid) plain
lines, one every :data:`LINE_EVERY_S` seconds at most, saying how far the work is and how long it
has left: a bar redrawn with carriage returns is unreadable in a file. ``progress=false``: neither,
only the summary lines the run prints anyway (one per epoch, one per evaluation suite).
"""

from __future__ import annotations

import io
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import UserError

__all__ = ["LOGGERS", "Tracker", "start", "flat_hparams", "mirror_record", "Progress", "Heartbeat", "interactive",
           "format_duration", "write", "LINE_EVERY_S", "progress_enabled", "small_sample_note", "SMALL_SAMPLE"]

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


# --- progress ------------------------------------------------------------------------------------

#: in a non-interactive log, at most one progress line per this many seconds (per piece of work)
LINE_EVERY_S = 30.0


def interactive() -> bool:
    """Whether stdout and stderr are both terminals: only then are progress bars drawn."""
    try:
        return bool(sys.stdout.isatty() and sys.stderr.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def progress_enabled(cfg: Any) -> bool:
    """``cfg.progress`` (true where the config has no such key)."""
    try:
        return bool(cfg.get("progress", True))
    except AttributeError:
        return True


#: below this many test samples an accuracy moves in steps of more than one percentage point (1/n):
#: a run or evaluation on fewer says so (:func:`small_sample_note`)
SMALL_SAMPLE = 100


def small_sample_note(n: int, accuracy: float | None = None, what: str = "the test set") -> str | None:
    """A warning for an accuracy measured on ``n < SMALL_SAMPLE`` samples: the binomial step ``1/n``
    and, for ``accuracy``, its 95 % Wilson interval (scipy); None for larger ``n``."""
    n = int(n)
    if n <= 0 or n >= SMALL_SAMPLE:
        return None
    line = (f"  note: {what} has {n} sample(s): an accuracy moves in steps of 1/{n} = {100 / n:.3g} percentage points")
    if accuracy is not None and math.isfinite(float(accuracy)):
        from scipy.stats import binomtest

        correct = int(round(float(accuracy) * n))
        interval = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
        line += (f"; {correct}/{n} = {correct / n:.3f} has a 95 % interval of {interval.low:.2f}-{interval.high:.2f} "
                 "(Wilson)")
    return line + "; differences between runs smaller than that are not resolved: evaluate on more samples"


def plural(unit: str, count: int) -> str:
    """``batch`` -> ``batches``, ``epoch`` -> ``epochs``, ``forward pass`` -> ``forward passes`` (count != 1)."""
    if count == 1:
        return unit
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


def format_duration(seconds: float) -> str:
    """``42 s``, ``17 min``, ``3.5 h``."""
    seconds = max(0.0, float(seconds))
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def write(line: str) -> None:
    """Print one line without breaking a progress bar that is being drawn."""
    from tqdm.auto import tqdm

    tqdm.write(line)
    sys.stdout.flush()


class Progress:
    """How far one piece of work is: ``update(n, **postfix)`` after each step.

    ``enabled`` (``progress=true``) and both streams terminals: a tqdm bar (``bar``). Enabled
    elsewhere: a line ``  desc: done/total units (pct), elapsed; about ... left, postfix`` at most
    every ``every_s`` seconds (default :data:`LINE_EVERY_S`; none for work done sooner), unless
    ``lines=False`` (the caller prints its own line per step). Not enabled: nothing.
    """

    def __init__(self, desc: str, total: int | None = None, unit: str = "batch", enabled: bool = True,
                 initial: int = 0, leave: bool = False, lines: bool = True, every_s: float | None = None):
        self.desc, self.total, self.unit = desc, total, unit
        self.done = int(initial)
        self.initial = int(initial)
        self.postfix: dict[str, str] = {}
        self.bar = None
        self.lines = bool(enabled and lines)
        self.every_s = LINE_EVERY_S if every_s is None else float(every_s)
        self.started = self.last_line = time.perf_counter()
        if enabled and interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave, dynamic_ncols=True)
            self.lines = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def line(self) -> str:
        """The progress line as it stands (what lines mode prints)."""
        elapsed = time.perf_counter() - self.started
        if self.total:
            share = f"{self.done}/{self.total} {plural(self.unit, self.total)} ({100 * self.done / self.total:.0f} %)"
        else:
            share = f"{self.done} {plural(self.unit, self.done)}"
        text = f"  {self.desc}: {share}, {format_duration(elapsed)}"
        fresh = self.done - self.initial
        if self.total and 0 < fresh and self.done < self.total:
            text += f"; about {format_duration(elapsed / fresh * (self.total - self.done))} left"
        if self.postfix:
            text += ", " + ", ".join(f"{key} {value}" for key, value in self.postfix.items())
        return text

    def set_postfix(self, **postfix: Any) -> None:
        self.postfix = {key: str(value) for key, value in postfix.items()}
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=False)

    def update(self, n: int = 1, **postfix: Any) -> None:
        self.done += int(n)
        if postfix:
            self.set_postfix(**postfix)
        if self.bar is not None:
            self.bar.update(n)
        elif self.lines:
            now = time.perf_counter()
            if now - self.last_line >= self.every_s:
                self.last_line = now
                print(self.line(), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Heartbeat:
    """Progress of work whose length is not known ahead (an evaluation suite without its own
    progress): a counter ``count`` the caller raises (e.g. forward passes of the model); a tqdm
    counter on a terminal, elsewhere a line ``  desc: still running, elapsed (count units)`` every
    ``every_s`` seconds from a background thread, so a long step without passes still reports."""

    def __init__(self, desc: str, unit: str = "forward pass", enabled: bool = True, every_s: float | None = None):
        self.desc, self.unit, self.count = desc, unit, 0
        self.every_s = LINE_EVERY_S if every_s is None else float(every_s)
        self.bar, self.thread = None, None
        self.stop = threading.Event()
        self.started = time.perf_counter()
        if not enabled:
            return
        if interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=desc, unit=unit, leave=False, dynamic_ncols=True)
        else:
            self.thread = threading.Thread(target=self._beat, name=f"heartbeat {desc}", daemon=True)
            self.thread.start()

    def _beat(self) -> None:
        while not self.stop.wait(self.every_s):
            elapsed = format_duration(time.perf_counter() - self.started)
            print(f"  {self.desc}: still running, {elapsed} ({self.count} {plural(self.unit, self.count)} so far)",
                  flush=True)

    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)

    def __enter__(self) -> "Heartbeat":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.bar is not None:
            self.bar.close()
