"""Several runs at once on one machine: how many processes, and how many threads each.

A grid of small networks keeps one core busy per run: torch's threads barely help a 64-128-10 net
(the per-step work is too small to split), so ``jobs = cores`` processes of one thread each do the
most runs per hour. A big layer (an FC 2312-512 net, a VGG) is split across threads well, so where
fewer jobs than cores run, each gets ``cores // jobs`` threads. Processes, not threads: Hydra's
compose and snnTorch keep process-wide state.
"""

from __future__ import annotations

import os

from .errors import UserError

__all__ = ["cores", "parse_jobs", "set_threads", "threads_per_job"]


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
    print(f"multirun: {jobs} grid points at once (Hydra's joblib launcher, jobs={jobs}, "
          f"{threads_per_job(jobs)} thread(s) each)", flush=True)
    return [*rest, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"]


def set_threads_for_hydra_job() -> None:
    """Inside a job of Hydra's joblib launcher: :func:`threads_per_job` of its ``n_jobs``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    launcher = HydraConfig.get().get("launcher") or {}
    n_jobs = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if isinstance(n_jobs, int) and n_jobs != 1:
        set_threads(threads_per_job(n_jobs if n_jobs > 0 else cores()))
