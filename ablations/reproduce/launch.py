"""Train and evaluate a paper's grid, one ordinary run per grid point.

Each grid point is composed with Hydra's compose API (:func:`ablations.config.compose`) and
handed to :func:`ablations.run.run_cfg`, the function behind ``python -m ablations.run``: a
finished run is skipped, an interrupted one resumes, and the evaluation suites a run lacks are
run. A manifest (``<paths.runs>/.reproduce/<paper>-<scale>.json``) maps each grid point (its
composed config's hash, its seed and suites) to its run folder; a point whose run is finished
and holds every suite's rows is skipped without building its data or model, so re-running a
finished reproduction trains and evaluates nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import results
from ..errors import UserError
from .grid import Grid, Point

__all__ = ["Launch", "launch", "manifest_path", "point_key", "read_manifest"]

MANIFEST_DIR = ".reproduce"


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


def _locate(cfg, point: Point) -> dict | None:
    """The manifest entry of a grid point whose run is complete but not in the manifest (found by
    building its config the way a run does, without training), or None."""
    from .. import neurons
    from ..evaluation import resolve
    from ..pipeline import prepare

    try:
        prepared = prepare(cfg)
    except UserError:
        return None
    finally:
        neurons.release_instances()
    run_dir = results.run_dir_for(prepared.cfg)
    suites = resolve(list(point.suites), str(cfg.dataset.kind)) if point.suites else []
    entry = _entry(point, run_dir, suites)
    return entry if _complete(entry, point.suites) else None


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


def launch(grid: Grid, common: Sequence[str] = (), log: Callable[..., None] = print,
           progress: bool = True, train: bool = True) -> Launch:
    """Train (or skip) and evaluate every point of ``grid``; ``common`` overrides go to every run
    (``paths.runs=...``, ``paths.data=...``, ``device=...``). With ``train=False`` only the
    points already complete are gathered (judge a reproduction that is still running)."""
    from tqdm.auto import tqdm

    from ..config import compose
    from ..evaluation import resolve
    from ..pipeline import run_cfg

    start = time.perf_counter()
    outcome = Launch()
    configs = []
    for point in grid.points:  # compose every point first: a bad override fails before any training
        overrides = [*point.all_overrides(), *common, "progress=false"]
        configs.append((point, compose(overrides), overrides))
    runs_root = Path(str(configs[0][1].paths.runs)) if configs else Path("runs")
    path = manifest_path(runs_root, grid)
    manifest = read_manifest(path)
    bar = tqdm(configs, desc=f"{grid.paper} {grid.scale}", unit="run", disable=not progress)
    for point, cfg, overrides in bar:
        key = point_key(cfg, point)
        entry = manifest.get(key)
        if entry and _complete(entry, point.suites):
            outcome.run_dirs.append(Path(entry["run_dir"]))
            outcome.skipped += 1
            continue
        if not train:
            found = _locate(cfg, point)
            if found is None:
                outcome.missing += 1
                continue
            manifest[key] = found
            _write_manifest(path, {key: found})
            outcome.run_dirs.append(Path(found["run_dir"]))
            outcome.skipped += 1
            continue
        suites_resolved = resolve(list(point.suites), str(cfg.dataset.kind)) if point.suites else []
        bar.set_postfix_str(f"{point.group} seed {point.seed}")
        try:
            run_dir = run_cfg(cfg, overrides=overrides)
        except UserError as error:  # e.g. missing data files, or the run is being trained by another process
            outcome.failed.append(f"{point.command()}: {error}")
            log(f"grid point not run: {point.command()}\n  {error}", flush=True)
            if len(outcome.failed) == len(grid.points) or "python -m ablations.data" in str(error):
                raise  # nothing can run (e.g. the dataset is missing): say so once
            continue
        except Exception as error:  # noqa: BLE001 - a bug in one run is recorded; the grid goes on
            outcome.failed.append(f"{point.command()}: {type(error).__name__}: {error}")
            log(f"grid point failed: {point.command()}\n  {type(error).__name__}: {error}", flush=True)
            continue
        outcome.trained += 1
        outcome.run_dirs.append(Path(run_dir))
        manifest[key] = _entry(point, run_dir, suites_resolved)
        _write_manifest(path, {key: manifest[key]})
    outcome.seconds = time.perf_counter() - start
    return outcome
