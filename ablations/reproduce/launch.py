"""Train and evaluate a paper's grid, one ordinary run per grid point.

Each grid point is composed with Hydra's compose API (:func:`ablations.config.compose`) and
handed to :func:`ablations.run.run_cfg`, the function behind ``python -m ablations.run``: a
finished run is skipped, an interrupted one resumes, and the evaluation suites a run lacks are
run. A manifest (``<paths.runs>/.reproduce/<paper>-<scale>.json``) maps each grid point (its
composed config's hash, its seed and suites) to its run folder; a point whose run is finished
and holds every suite's rows is skipped without building its data or model, so re-running a
finished reproduction trains and evaluates nothing.

The points left to train run in ``jobs`` parallel processes (default: one per core, each with the
threads :func:`ablations.parallel.threads_per_job` gives it), or through one of Hydra's launcher
plugins (``launcher=submitit_local|submitit_slurm|joblib``: the same jobs on a cluster or a local
executor). Either way each point is an ordinary run: the run lock keeps two processes off one run,
and the manifest is written by this process as each point finishes, so a killed reproduction loses
only the runs in flight (which resume from their last checkpoint when it is run again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import parallel, results
from ..errors import UserError
from .grid import Grid, Point

__all__ = ["LAUNCHERS", "Launch", "check_points", "launch", "manifest_path", "point_key", "read_manifest",
           "refusal_message", "train_point"]

MANIFEST_DIR = ".reproduce"
# Hydra's launcher plugins a grid can go through (``launcher=NAME``) and the package that has each
LAUNCHERS = {"submitit_local": "hydra-submitit-launcher", "submitit_slurm": "hydra-submitit-launcher",
             "joblib": "hydra-joblib-launcher"}


@dataclass
class Launch:
    """What :func:`launch` did: run folder per grid point, and the points trained, skipped or failed."""

    run_dirs: list[Path] = field(default_factory=list)
    trained: int = 0
    skipped: int = 0
    missing: int = 0  # points neither complete nor run (train=False)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def manifest_path(runs_root: str | Path, grid: Grid) -> Path:
    return Path(runs_root) / MANIFEST_DIR / f"{grid.paper}-{grid.scale}.json"


def read_manifest(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}  # rebuilt from the run records on the next pass


def point_key(cfg, point: Point) -> str:
    """Identity of a grid point: its composed config (before any run fills in defaults), seed, suites."""
    return f"{results.config_hash(cfg)}-seed{point.seed}-{'+'.join(point.suites)}"


def _entry(point: Point, run_dir: Path, suites_resolved: Sequence[str]) -> dict:
    return {"run_dir": str(run_dir), "group": point.group, "seed": point.seed, "overrides": list(point.overrides),
            "suites": list(point.suites), "suites_resolved": list(suites_resolved),
            "status": (results.read_status(run_dir) or {}).get("status")}


def _write_manifest(path: Path, entries: dict) -> None:
    """Add ``entries`` to the manifest on disk (read, merge, write atomically: several processes may
    work on one grid)."""
    from ..atomic import atomic_write_text

    merged = read_manifest(path)
    merged.update(entries)
    atomic_write_text(path, json.dumps(merged, indent=1, sort_keys=True))


def check_points(grid: Grid, common: Sequence[str] = ()) -> list[tuple[Point, str]]:
    """Every point of ``grid`` through the check pass of ``python -m ablations.run``
    (:func:`ablations.config.load`: unknown keys, keys nothing reads, bad values), without building
    data or a model; returns ``(point, message)`` for each point it refuses (empty: all valid)."""
    from ..config import load

    common = [o for o in common if not o.startswith("hydra.")]
    refused = []
    for point in grid.points:
        try:
            load([*point.all_overrides(), *common, "progress=false"])
        except UserError as error:
            refused.append((point, str(error)))
    return refused


def refusal_message(grid: Grid, refused: Sequence[tuple[Point, str]]) -> str:
    """One message naming every refused point of ``grid`` and why."""
    lines = [f"{len(refused)} of the {len(grid.points)} grid point(s) of {grid.paper} at scale {grid.scale} are "
             f"refused by the run checks ({grid.source}); nothing was trained:"]
    lines += [f"  {point.command()}\n    {message}" for point, message in refused]
    return "\n".join(lines)


def _locate(cfg, point: Point, overrides: Sequence[str], steps_of: dict) -> dict | None:
    """The manifest entry of a grid point whose run is finished but not in the manifest, or None.
    Its run folder is found as a run derives it, without building a model or training: the config
    through the run's checks (:func:`ablations.config.load`), the dataset's time steps from its
    data (built once per dataset config: ``steps_of`` caches them across the grid's points). A
    finished run that lacks some suite's rows is found too (``train=false`` judges what it holds; a
    later pass with training evaluates the rest)."""
    from omegaconf import OmegaConf, open_dict

    from ..config import load
    from ..data import build_dataset
    from ..evaluation import resolve

    try:
        resolved = load(overrides, cfg)
        key = OmegaConf.to_yaml(resolved.dataset) + str(resolved.paths.data)
        if key not in steps_of:
            steps_of[key] = build_dataset(resolved.dataset, resolved.paths.data).steps
    except (UserError, ValueError):
        return None
    with open_dict(resolved):
        resolved.dataset.steps = steps_of[key]  # as pipeline.prepare records it
    run_dir = results.run_dir_for(resolved)
    suites = resolve(list(point.suites), str(cfg.dataset.kind)) if point.suites else []
    entry = _entry(point, run_dir, suites)
    return entry if entry["status"] in ("finished", "diverged") else None


def _complete(entry: dict, suites: Sequence[str]) -> bool:
    """Whether the recorded run is finished and holds the rows of every suite."""
    from ..evaluation import suite_path

    run_dir = Path(entry.get("run_dir", ""))
    status = results.read_status(run_dir) if run_dir.is_dir() else None
    if not status:
        return False
    if status.get("status") == "diverged":
        return True  # nothing to evaluate; kept as a diverged record
    if status.get("status") != "finished":
        return False
    return all(suite_path(run_dir, name).exists() for name in entry.get("suites_resolved", suites))


def train_point(overrides: Sequence[str], threads: int | None = None) -> tuple[str, str]:
    """Train (or resume, or skip) one grid point in this process: ``("ok", run_dir)``, or
    ``("refused", message)`` for a :class:`UserError`, ``("failed", message)`` for anything else
    (plain strings, so that a worker process returns them whatever the error was)."""
    from .. import neurons
    from ..config import compose
    from ..pipeline import run_cfg

    if threads:
        parallel.set_threads(threads)
    try:
        return "ok", str(run_cfg(compose(overrides), overrides=list(overrides)))
    except UserError as error:
        return "refused", str(error)
    except Exception as error:  # noqa: BLE001 - a bug in one run is recorded; the grid goes on
        return "failed", f"{type(error).__name__}: {error}"
    finally:
        neurons.release_instances()


def _run_hydra_job(cfg, threads: int) -> str:
    """The task function of a Hydra launcher job: the run of one grid point (``cfg`` composed by Hydra)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    overrides = [str(o) for o in OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)]
    kind, text = train_point([o for o in overrides if not o.startswith("hydra")], threads)
    if kind != "ok":
        raise RuntimeError(text)
    return text


def launch(grid: Grid, common: Sequence[str] = (), log: Callable[..., None] = print,
           progress: bool = True, train: bool = True, jobs: int = 1, launcher: str | None = None) -> Launch:
    """Train (or skip) and evaluate every point of ``grid``; ``common`` overrides go to every run
    (``paths.runs=...``, ``paths.data=...``, ``device=...``). With ``train=False`` only the
    points already complete are gathered (judge a reproduction that is still running).
    ``jobs``: parallel processes for the points left to train; ``launcher``: one of
    :data:`LAUNCHERS` (module docstring)."""
    from tqdm.auto import tqdm

    from ..config import compose
    from ..evaluation import resolve

    if launcher is not None and launcher not in LAUNCHERS:
        raise UserError(f"launcher={launcher!r} is not one of {', '.join(LAUNCHERS)} (Hydra's launcher plugins; "
                        "leave it out to run the grid on this machine with jobs=N processes)")
    if launcher is not None:
        _check_installed(launcher)
    hydra_settings = [o for o in common if o.startswith("hydra.")]  # the launcher's, not the runs'
    common = [o for o in common if not o.startswith("hydra.")]
    start = time.perf_counter()
    outcome = Launch()
    refused = check_points(grid, common)  # every point through the run checks before any training
    if refused:
        raise UserError(refusal_message(grid, refused))
    configs = []
    for point in grid.points:
        overrides = [*point.all_overrides(), *common, "progress=false"]
        configs.append((point, compose(overrides), overrides))
    runs_root = Path(str(configs[0][1].paths.runs)) if configs else Path("runs")
    path = manifest_path(runs_root, grid)
    manifest = read_manifest(path)
    todo = []  # (point, key, overrides, suites) of the points to train now
    steps_of: dict = {}  # dataset config -> its time steps, for locating stored runs
    for point, cfg, overrides in configs:
        key = point_key(cfg, point)
        entry = manifest.get(key)
        if entry and _complete(entry, point.suites):
            outcome.run_dirs.append(Path(entry["run_dir"]))
            outcome.skipped += 1
            continue
        if not train:
            found = _locate(cfg, point, overrides, steps_of)
            if found is None:
                outcome.missing += 1
                continue
            manifest[key] = found
            _write_manifest(path, {key: found})
            outcome.run_dirs.append(Path(found["run_dir"]))
            outcome.skipped += 1
            continue
        suites_resolved = resolve(list(point.suites), str(cfg.dataset.kind)) if point.suites else []
        todo.append((point, key, overrides, suites_resolved))
    bar = tqdm(total=len(todo), desc=f"{grid.paper} {grid.scale}", unit="run", disable=not progress)

    def record(item, kind: str, text: str) -> None:
        point, key, _, suites_resolved = item
        bar.update(1)
        if kind != "ok":
            outcome.failed.append(f"{point.command()}: {text}")
            log(f"grid point {'not run' if kind == 'refused' else 'failed'}: {point.command()}\n  {text}", flush=True)
            if kind == "refused" and "python -m ablations.data" in text:
                raise UserError(text)  # the dataset is missing: nothing can run, say so once
            return
        outcome.trained += 1
        outcome.run_dirs.append(Path(text))
        manifest[key] = _entry(point, Path(text), suites_resolved)
        _write_manifest(path, {key: manifest[key]})

    if launcher is not None:
        _through_hydra_launcher(launcher, todo, [*hydra_settings, *common], jobs, record)
    elif jobs > 1 and len(todo) > 1:
        _in_processes(todo, jobs, record)
    else:
        for item in todo:
            bar.set_postfix_str(f"{item[0].group} seed {item[0].seed}")
            record(item, *train_point(item[2]))
    bar.close()
    if todo and len(outcome.failed) == len(todo) == len(grid.points):
        raise UserError(outcome.failed[0])  # nothing could run: say so once
    outcome.seconds = time.perf_counter() - start
    return outcome


def _in_processes(todo: list, jobs: int, record: Callable) -> None:
    """The points in ``min(jobs, len(todo))`` fresh worker processes, recorded as each finishes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(jobs, len(todo))
    threads = parallel.threads_per_job(workers)
    # spawn, not fork: a forked torch (its thread pools, a CUDA context) is not safe to use
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(train_point, item[2], threads): item for item in todo}
        try:
            for future in as_completed(futures):
                record(futures[future], *future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _check_installed(launcher: str) -> None:
    import importlib.util

    module = "hydra_plugins.hydra_joblib_launcher" if launcher == "joblib" else "hydra_plugins.hydra_submitit_launcher"
    if importlib.util.find_spec(module) is None:
        raise UserError(f"launcher={launcher} needs Hydra's plugin: pip install {LAUNCHERS[launcher]} "
                        "(or pip install 'snn-ablations[cluster]')")


def _through_hydra_launcher(launcher: str, todo: list, common: Sequence[str], jobs: int, record: Callable) -> None:
    """The points as jobs of Hydra's launcher plugin ``launcher`` (its config from ``hydra/launcher``;
    ``hydra.launcher.*`` overrides in ``common`` reach it). A local executor runs ``jobs`` at a time."""
    import functools

    from hydra import initialize_config_dir
    from hydra._internal.callbacks import Callbacks  # Hydra has no public way to build a launcher's context
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext, RunMode

    from ..config import CONF_DIR

    own = [o for o in common if o.startswith("hydra.")]
    plain_common = [o for o in common if not o.startswith("hydra.")]
    settings = [f"hydra/launcher={launcher}", *own]
    if launcher == "joblib" and not any(o.startswith("hydra.launcher.n_jobs=") for o in own):
        settings.append(f"hydra.launcher.n_jobs={jobs}")
    threads = parallel.threads_per_job(jobs)
    task = functools.partial(_run_hydra_job, threads=threads)
    batch = jobs if launcher == "submitit_local" else len(todo)  # the local executor has no parallelism limit
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            hydra = GlobalHydra.instance().hydra
            cfg = hydra.compose_config("config", [*settings, *plain_common], run_mode=RunMode.MULTIRUN)
            context = HydraContext(config_loader=hydra.config_loader, callbacks=Callbacks(cfg))
            plugin = Plugins.instance().instantiate_launcher(hydra_context=context, task_function=task, config=cfg)
            for first in range(0, len(todo), max(1, batch)):
                chunk = todo[first:first + batch]
                returns = plugin.launch([list(item[2]) for item in chunk], initial_job_idx=first)
                for item, job in zip(chunk, returns):
                    try:
                        record(item, "ok", str(job.return_value))
                    except UserError:
                        raise
                    except Exception as error:  # noqa: BLE001 - the job's own error, re-raised by Hydra
                        message = str(error)
                        record(item, "refused" if "python -m ablations.data" in message else "failed", message)
    finally:
        GlobalHydra.instance().clear()
