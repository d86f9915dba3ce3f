"""Several runs at once on one machine: how many processes, and how many threads each.

A grid of small networks keeps one core busy per run: torch's threads barely help a 64-128-10 net
(the per-step work is too small to split), so ``jobs = cores`` processes of one thread each do the
most runs per hour. A big layer (an FC 2312-512 net, a VGG) is split across threads well, so where
fewer jobs than cores run, each gets ``cores // jobs`` threads. Processes, not threads: Hydra's
compose and snnTorch keep process-wide state.

Output of a parallel grid (``run -m ... jobs=N``, N > 1): the jobs' progress would interleave into
one garbled stream, so each job writes its whole output (progress as plain lines, the run's own
messages, errors) to its own log file, ``<sweep dir>/logs/job<k>-<overrides>.log`` (the sweep dir
is ``<paths.runs>/.sweeps/<time>``), and the terminal gets one line when a point starts (naming its
log) and one when it ends: ``[done 3/8] #2 variant=no_leak,seed=1: <the run's last line>`` (its
result, or the error it stopped with). :func:`hydra_job` does this inside each job.
"""

from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import UserError

__all__ = ["cores", "parse_jobs", "set_threads", "threads_per_job", "best_seconds", "choose_threads", "multirun_arguments", "grid_points",
           "hydra_job", "job_log", "GRID_POINTS_ENV"]

#: the number of points of a parallel grid, handed from the command to its jobs (None: unknown)
GRID_POINTS_ENV = "ABLATIONS_GRID_POINTS"
#: the keys the grid sweeps (comma-separated), which name each point in its lines and log file
GRID_KEYS_ENV = "ABLATIONS_GRID_KEYS"


def cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def parse_jobs(value: str | int | None, key: str = "jobs") -> int:
    """``jobs=N`` as a whole number >= 1; ``auto``, empty or None: the machine's cores."""
    if value is None or str(value).strip() in ("", "auto"):
        return cores()
    try:
        jobs = int(str(value))
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise UserError(f"{key}={value!r}: give the number of parallel processes (a whole number >= 1), "
                        f"or auto for one per core ({cores()} here)")
    return jobs


def threads_per_job(jobs: int) -> int:
    """The threads each of ``jobs`` processes gets: the cores shared out, at least one."""
    return max(1, cores() // max(1, jobs))


def set_threads(threads: int) -> None:
    """Use ``threads`` threads in this process: torch's intra-op pool and (through it) the kernel's."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    torch.set_num_threads(threads)


def best_seconds(function: Callable[[], object], repeats: int = 3) -> float:
    """The shortest of ``repeats`` timed calls of ``function``, after one untimed warm-up call
    (allocations, a compiled kernel's first call)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


#: a training step shorter than this on one thread is not split across threads (see choose_threads)
SPLIT_MIN_S = 0.05


def choose_threads(step: "Callable[[], object]", repeats: int = 2) -> tuple[int, str]:
    """The torch threads for a run on a CPU, measured, never assumed: ``step`` (one forward and
    backward pass of the run's own network on a batch of its shape) is timed with one thread and
    with every core this process may use, now, under whatever else the machine is running. One
    thread is kept unless a step takes at least :data:`SPLIT_MIN_S` on one thread and the cores make
    it at least 1.5x faster: a small network's many small operations are too small to split (the
    rest of a training step, its data, loss and optimizer, adds more of them), and a pool that waits
    for cores other processes hold makes every step many times slower. A process whose threads were set (``OMP_NUM_THREADS``, a parallel
    grid's share) keeps them. Returns ``(threads, reason)``."""
    import torch

    if "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads(), f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    available = cores()
    if available == 1:
        return 1, "one core"

    def seconds(threads: int) -> float:
        torch.set_num_threads(threads)
        return best_seconds(step, repeats)

    one, every = seconds(1), seconds(available)
    threads = available if one >= SPLIT_MIN_S and every * 1.5 < one else 1
    torch.set_num_threads(threads)
    return threads, f"measured: a training step of this network takes {one * 1e3:.0f} ms on 1 thread, " \
                    f"{every * 1e3:.0f} ms on {available}"


def multirun_arguments(argv: list[str]) -> list[str]:
    """``python -m ablations.run -m ... jobs=N``: Hydra's joblib launcher with ``N`` processes.

    ``jobs=N|auto`` (default auto: one per core) is taken out of a multirun's arguments and becomes
    ``hydra/launcher=joblib hydra.launcher.n_jobs=N`` where N > 1, the plugin is installed and no
    other launcher is named; without the plugin the grid runs one point after another (and says so).
    A single run's arguments are returned as they are.
    """
    if not any(a in ("-m", "--multirun") for a in argv):
        return argv
    given = [a.split("=", 1)[1] for a in argv if a.startswith("jobs=")]
    rest = [a for a in argv if not a.startswith("jobs=")]
    jobs = parse_jobs(given[-1] if given else None)
    if jobs < 2 or any(a.lstrip("+~").startswith(("hydra/launcher=", "hydra.launcher.")) for a in rest):
        return rest
    import importlib.util

    if importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is None:
        print("multirun: one grid point after another (pip install hydra-joblib-launcher, or the extra "
              "[cluster], runs jobs=N of them at once)", flush=True)
        return rest
    points, keys = grid_points(rest)
    if points is not None:  # the jobs number their finished points "k/points" and name them by the swept keys
        os.environ[GRID_POINTS_ENV] = str(points)
        os.environ[GRID_KEYS_ENV] = ",".join(keys)
    print(f"multirun: {jobs} grid points at once (Hydra's joblib launcher, jobs={jobs}, "
          f"{threads_per_job(jobs)} thread(s) each); each point writes its output to its own log, "
          "and a line here says when it starts and ends", flush=True)
    return [*rest, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"]


def grid_points(argv: list[str]) -> tuple[int | None, list[str]]:
    """How many points the sweep overrides of ``argv`` make (Hydra's own parser; ``a,b`` and
    ``range(...)``) and the keys they sweep; ``(None, [])`` where it cannot tell without the config
    (``glob(...)``)."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        points, keys = 1, []
        for override in OverridesParser.create().parse_overrides([a for a in argv if not a.startswith("-")]):
            if override.is_sweep_override():
                points *= len(list(override.sweep_string_iterator()))
                keys.append(override.get_key_element().lstrip("+~"))
        return points, keys
    except Exception:  # noqa: BLE001 - a sweep only Hydra's sweeper can expand: count unknown
        return None, []


def point_name(task_overrides: list[str], keys: list[str]) -> str:
    """A grid point named by its values of the swept ``keys`` (all its overrides where none are known)."""
    chosen = [o for o in task_overrides if o.split("=", 1)[0].lstrip("+~") in keys] if keys else []
    return ",".join(chosen or task_overrides) or "(defaults)"


def set_threads_for_hydra_job() -> None:
    """Inside a job of Hydra's joblib launcher: :func:`threads_per_job` of its ``n_jobs``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    launcher = HydraConfig.get().get("launcher") or {}
    n_jobs = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if isinstance(n_jobs, int) and n_jobs != 1:
        set_threads(threads_per_job(n_jobs if n_jobs > 0 else cores()))


def job_log(output_dir: str | Path, number: int, overrides: str) -> Path:
    """``<output_dir>/logs/job<number>-<overrides>.log`` (the overrides made a safe file name)."""
    safe = re.sub(r"[^A-Za-z0-9=.,_+-]+", "_", overrides)[:120] or "defaults"
    return Path(output_dir) / "logs" / f"job{number}-{safe}.log"


def _say(fd: int, line: str) -> None:
    """One line to ``fd`` in one write (lines of parallel jobs do not mix)."""
    os.write(fd, (line.rstrip("\n") + "\n").encode(errors="replace"))


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(no output)"


def _finished_count(output_dir: Path) -> int:
    """This job's place among the finished ones: two bytes appended to ``finished`` (O_APPEND)
    and the file's length read back from the same descriptor; race-free between processes."""
    fd = os.open(output_dir / "logs" / "finished", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x\n")
        return os.lseek(fd, 0, os.SEEK_CUR) // 2
    finally:
        os.close(fd)


@contextmanager
def hydra_job() -> Iterator[Path | None]:
    """Inside a job of Hydra's joblib launcher with more than one process: the job's stdout and
    stderr go to its log (:func:`job_log`; yielded), and the terminal gets one line as it starts
    and one as it ends (module docstring). Elsewhere (a single run, a sequential grid): nothing
    changes (yields None)."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    launcher = (hydra_cfg.get("launcher") or {}) if hydra_cfg is not None else {}
    n_jobs = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if hydra_cfg is None or not isinstance(n_jobs, int) or n_jobs == 1:
        yield None
        return
    output_dir = Path(hydra_cfg.runtime.output_dir)
    keys = [k for k in os.environ.get(GRID_KEYS_ENV, "").split(",") if k]
    number = int(hydra_cfg.job.num)
    overrides = point_name([str(o) for o in hydra_cfg.overrides.task], keys)
    path = job_log(output_dir, number, overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    points = os.environ.get(GRID_POINTS_ENV)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal, terminal_err = os.dup(1), os.dup(2)
    started = time.perf_counter()
    _say(terminal, f"[start] #{number} {overrides}: log {path}")
    with open(path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield path
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(terminal, 1)
            os.dup2(terminal_err, 2)
            os.close(terminal_err)
            done = _finished_count(output_dir)
            share = f"{done}/{points}" if points else str(done)
            _say(terminal, f"[done {share}] #{number} {overrides}: {_last_line(path)} "
                           f"({time.perf_counter() - started:.0f} s)")
            os.close(terminal)
