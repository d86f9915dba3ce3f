"""Every core busy: a grid's points in parallel processes (``reproduce ... jobs=N``, ``run -m ...
jobs=N``) and through Hydra's launcher plugins (``launcher=submitit_local``), sharing the manifest and
the run lock; a second pass trains nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ablations import parallel, results
from ablations.errors import UserError
from ablations.reproduce import launch as launch_module
from ablations.reproduce.grid import load_grid

TWO_POINTS = """
paper: linear_leak
title: two points
figures: []
tables: []
scales:
  quick:
    seeds: [0]
    overrides: [dataset=digits, dataset.steps=3, train.epochs=1, train.max_batches=2]
    suites: [clean]
    groups:
      - name: baselines
        sweep: {variant: [vanilla, no_leak]}
"""


def _grid(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO_POINTS)
    return load_grid("linear_leak", "quick", path=path)


def _records(runs):
    return {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file() and p.suffix in (".pt", ".parquet")}


def test_jobs_and_threads():
    assert parallel.parse_jobs("auto") == parallel.parse_jobs(None) == parallel.cores()
    assert parallel.parse_jobs("3") == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(UserError, match="whole number >= 1"):
            parallel.parse_jobs(bad)
    assert parallel.threads_per_job(1) == parallel.cores()
    assert parallel.threads_per_job(10 * parallel.cores()) == 1


def test_multirun_arguments_become_the_joblib_launcher():
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    assert parallel.multirun_arguments(["variant=vanilla"]) == ["variant=vanilla"]  # a single run: as it is
    assert parallel.multirun_arguments(["-m", "seed=0,1", "jobs=3"]) == [
        "-m", "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=3"]
    assert parallel.multirun_arguments(["-m", "seed=0,1", "jobs=1"]) == ["-m", "seed=0,1"]
    named = ["-m", "seed=0,1", "hydra/launcher=submitit_local"]
    assert parallel.multirun_arguments([*named, "jobs=4"]) == named  # a launcher named: left alone
    with pytest.raises(UserError, match="jobs='x'"):
        parallel.multirun_arguments(["-m", "jobs=x"])


def test_an_unknown_launcher_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="launcher='slurmish' is not one of submitit_local"):
        launch_module.launch(_grid(tmp_path), common=[f"paths.runs={tmp_path / 'runs'}"], launcher="slurmish",
                             progress=False)
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_two_points_in_two_processes_then_nothing_retrained(tmp_path):
    grid, runs = _grid(tmp_path), tmp_path / "runs"
    common = [f"paths.runs={runs}", "device=cpu"]
    first = launch_module.launch(grid, common=common, progress=False, jobs=2)
    assert first.trained == 2 and first.skipped == 0 and not first.failed
    manifest = launch_module.read_manifest(launch_module.manifest_path(runs, grid))
    assert len(manifest) == 2 and {e["status"] for e in manifest.values()} == {"finished"}
    table = results.load_results(runs, kinds=("run",))
    assert sorted(table["variant"]) == ["no_leak", "vanilla"]
    stamps = _records(runs)
    second = launch_module.launch(grid, common=common, progress=False, jobs=2)
    assert second.trained == 0 and second.skipped == 2
    assert _records(runs) == stamps


@pytest.mark.slow
def test_two_points_through_the_submitit_local_launcher_then_nothing_retrained(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    grid, runs = _grid(tmp_path), tmp_path / "runs"
    common = [f"paths.runs={runs}", "device=cpu", "hydra.launcher.timeout_min=10"]
    first = launch_module.launch(grid, common=common, progress=False, jobs=2, launcher="submitit_local")
    assert first.trained == 2 and not first.failed, first.failed
    assert len(list((runs / ".sweeps").rglob("*_log.out"))) == 2  # each point ran as a submitit job
    stamps = _records(runs)
    second = launch_module.launch(grid, common=common, progress=False, jobs=2, launcher="submitit_local")
    assert second.trained == 0 and second.skipped == 2
    assert _records(runs) == stamps


@pytest.mark.slow
def test_run_multirun_with_two_jobs_then_nothing_retrained(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "ablations.run", "-m", "variant=vanilla,no_leak", "jobs=2", "dataset.steps=3",
               "train.epochs=1", "train.max_batches=2", "progress=false", "eval.suites=[]", f"paths.runs={runs}"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "multirun: 2 grid points at once (Hydra's joblib launcher" in done.stdout
    table = results.load_results(runs, kinds=("run",))
    assert sorted(table["variant"]) == ["no_leak", "vanilla"] and set(table["status"]) == {"finished"}
    stamps = _records(runs)
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert _records(runs) == stamps
