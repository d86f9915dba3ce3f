"""Reproduce a paper: its grid trained and evaluated, every claim with a verdict, its figures.

``python -m ablations.reproduce paper=leak|roles|linear_leak scale=quick|sample|full`` calls
:func:`reproduce`, which

1. reads the paper's grid at that scale (``ablations/conf/reproduce/<paper>.yaml``,
   :mod:`ablations.reproduce.grid`);
2. trains and evaluates every grid point as an ordinary run through Hydra's compose API and
   :func:`ablations.run.run_cfg` (:mod:`ablations.reproduce.launch`); finished points are skipped
   without training or evaluating anything;
3. loads the grid's runs with :func:`ablations.results.load_results` and judges every claim of the
   paper (:mod:`ablations.reproduce.claims`): the result on what was run, the claim's regime check,
   and a verdict on the paper only where the check passes;
4. writes ``<paths.figures>/reproduce/<paper>/table.md`` and ``table.csv``
   (:mod:`ablations.reproduce.table`) and draws the paper's figures and tables from the figures
   registry into the same folder (skipped when the runs have not changed since the last drawing).

The report page (``python -m ablations.report``) shows the tables of every reproduction found
under ``<paths.figures>/reproduce/``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .grid import SCALES, Grid, load_grid, papers

__all__ = ["OUT_SUBDIR", "SCALES", "Reproduction", "load_grid", "load_runs", "papers", "reproduce"]

OUT_SUBDIR = "reproduce"
FINGERPRINT_FILE = ".fingerprint"


@dataclass
class Reproduction:
    """What :func:`reproduce` produced."""

    grid: Grid
    verdicts: pd.DataFrame
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    trained: int = 0
    skipped: int = 0
    missing: int = 0
    failed: list[str] = field(default_factory=list)
    figures_drawn: bool = False
    seconds: float = 0.0


#: Config keys the claims read from the run rows: the epoch's size (optimizer steps of a run, the
#: delayed-XOR budget), the pairing of seeds, and the network's layers (what was run).
CONFIG_COLUMNS = ("dataset.n_train", "train.batch_size", "train.max_batches", "train.rng", "model.layers",
                  "dataset.layers")


def load_runs(run_dirs: Sequence[Path], runs_root: str | Path = "runs") -> pd.DataFrame:
    """The results table (:func:`ablations.results.load_results`) of exactly these runs, with the
    :data:`CONFIG_COLUMNS` and each run's ``finished`` time (status.json) on its run row."""
    from ..results import load_results, read_status

    frames = [load_results(d, config_columns=CONFIG_COLUMNS) for d in dict.fromkeys(Path(d) for d in run_dirs)]
    frames = [f for f in frames if not f.empty]
    table = pd.concat(frames, ignore_index=True, sort=False) if frames else load_results(Path(runs_root) / "-none-")
    if not table.empty and "run_dir" in table.columns:
        finished = {r: (read_status(Path(r)) or {}).get("finished") for r in table["run_dir"].dropna().unique()}
        table["finished"] = [finished.get(r) if k == "run" else None for r, k in zip(table["run_dir"], table["kind"])]
    table.attrs["runs_root"] = str(runs_root)
    return table


def _fingerprint(run_dirs: Sequence[Path], grid: Grid) -> str:
    """Changes when any run's status or evaluation files change, or the grid's figure list does."""
    digest = hashlib.sha1(json.dumps([grid.figures, grid.tables]).encode())
    for run_dir in sorted(dict.fromkeys(Path(d) for d in run_dirs)):
        for path in [run_dir / "status.json", *sorted((run_dir / "eval").glob("*.parquet"))]:
            if path.exists():
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def reproduce(paper: str, scale: str = "quick", common: Sequence[str] = (), extra: Sequence[str] = (),
              seeds: Sequence[int] | None = None, figures_root: str | Path = "figures", grid_path: str | Path | None = None,
              draw: bool = True, log: Callable[..., None] = print, progress: bool = True,
              train: bool = True, groups: Sequence[str] | None = None, jobs: int = 1,
              launcher: str | None = None) -> Reproduction:
    """Run the reproduction of ``paper`` at ``scale`` (see the module docstring).

    ``common``: overrides for every run that do not change what is trained (``paths.runs=...``,
    ``paths.data=...``, ``device=...``); ``extra``: overrides appended to every grid point (they
    change the runs, e.g. ``train.epochs=1``); ``seeds`` replaces the grid's seeds. ``train=False``
    trains nothing and judges the grid points already complete (the table says how many are missing).
    ``groups`` runs only the named groups of the scale (the other groups' claims: "not measured").
    ``jobs``: grid points trained at once in parallel processes; ``launcher``: send them through one
    of Hydra's launcher plugins instead (:mod:`ablations.reproduce.launch`).
    """
    from . import claims, table
    from .launch import launch

    start = time.perf_counter()
    grid = load_grid(paper, scale, extra=extra, seeds=seeds, path=grid_path, groups=groups)
    claims.claims_of(grid.paper)  # an unknown paper fails before any work
    log(f"reproduce {grid.paper} ({grid.title}) at scale {scale}: {len(grid.points)} grid point(s)", flush=True)
    outcome = launch(grid, common=common, log=log, progress=progress, train=train, jobs=jobs, launcher=launcher)
    log(f"grid: {outcome.trained} run(s) trained or evaluated now, {outcome.skipped} already complete, "
        f"{outcome.missing} not run yet, {len(outcome.failed)} failed, in {outcome.seconds:.0f} s", flush=True)
    runs_root = next((o.split("=", 1)[1] for o in common if o.startswith("paths.runs=")), "runs")
    results = load_runs(outcome.run_dirs, runs_root)
    verdicts = claims.evaluate(grid.paper, results, scale=grid.scale)
    out_dir = Path(figures_root) / OUT_SUBDIR / grid.paper
    out_dir.mkdir(parents=True, exist_ok=True)
    tables, skipped_tables = _paper_tables(grid, results)
    drawn = False
    if draw:
        drawn = _draw(grid, results, outcome.run_dirs, out_dir, log)
    n_runs = len(dict.fromkeys(outcome.run_dirs))
    text = table.markdown(grid, verdicts, tables, wall_s=time.perf_counter() - start, n_runs=n_runs,
                          skipped_tables=skipped_tables, missing=outcome.missing + len(outcome.failed),
                          runs_s=_recorded_seconds(results))
    files = table.write(out_dir, text, verdicts, grid.scale, grid.extra)
    seconds = time.perf_counter() - start
    return Reproduction(grid=grid, verdicts=verdicts, out_dir=out_dir, files=files, trained=outcome.trained,
                        skipped=outcome.skipped, missing=outcome.missing, failed=outcome.failed, figures_drawn=drawn, seconds=seconds)


def _recorded_seconds(results: pd.DataFrame) -> float | None:
    """Training and evaluation time the runs recorded (``wall_time_s`` of each run, summed)."""
    if results.empty or "wall_time_s" not in results.columns:
        return None
    runs = results[results["kind"] == "run"] if "kind" in results.columns else results
    seconds = pd.to_numeric(runs.drop_duplicates("run_dir")["wall_time_s"], errors="coerce")
    return float(seconds.sum()) if seconds.notna().any() else None


def _paper_tables(grid: Grid, results: pd.DataFrame) -> tuple[list[pd.DataFrame], list[str]]:
    from ..figures import MissingResults, build

    tables, skipped = [], []
    for name in grid.tables:
        try:
            tables.append(build(name, results))
        except MissingResults as missing:
            skipped.append(f"{name}: {missing.reason}")
        except Exception as error:  # noqa: BLE001 - a table that cannot be built must not lose the verdicts
            skipped.append(f"{name}: {type(error).__name__}: {error}")
    return tables, skipped


def _draw(grid: Grid, results: pd.DataFrame, run_dirs: Sequence[Path], out_dir: Path, log) -> bool:
    """Draw the paper's figures and tables unless the runs are unchanged since the last drawing."""
    from ..atomic import atomic_write_text
    from ..figures import render

    fingerprint = _fingerprint(run_dirs, grid)
    stamp = out_dir / FINGERPRINT_FILE
    if stamp.exists() and stamp.read_text() == fingerprint:
        log(f"figures: runs unchanged since the last drawing; kept those in {out_dir}", flush=True)
        return False
    drawn, failed = 0, False
    for name in [*grid.figures, *grid.tables]:
        try:
            outcome = render(results, out_dir, [name], formats=("png",), log=None)
        except Exception as error:  # noqa: BLE001 - one figure that fails must not lose the verdicts
            log(f"figure {name} failed: {type(error).__name__}: {error}", flush=True)
            failed = True
            continue
        drawn += len(outcome.produced)
        for skipped, missing in outcome.skipped.items():
            log(f"figure {skipped} not drawn: {missing.reason}", flush=True)
    log(f"figures: {drawn} drawn into {out_dir}", flush=True)
    if not failed:
        atomic_write_text(stamp, fingerprint)
    return True
