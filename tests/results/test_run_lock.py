"""The run lock: one process per run, stale locks taken over (same machine: dead pid; another
machine: no heartbeat), and concurrent processes on one ``runs/`` that do not interfere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ablations import results
from ablations.results import LOCK_FILE, RunLock, RunLocked


def _write_lock(run_dir: Path, host: str, pid: int, age_s: float = 0.0) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    path.write_text(json.dumps({"host": host, "pid": pid, "token": "other", "purpose": "training",
                                "since": "2026-11-28T20:00:00+0000", "command": "python -m ablations.run seed=3"}))
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_acquire_release_and_second_holder_in_this_process(tmp_path):
    lock = RunLock(tmp_path / "run").acquire()
    assert (tmp_path / "run" / LOCK_FILE).exists()
    with pytest.raises(RunLocked) as error:
        RunLock(tmp_path / "run").acquire()
    assert f"process {os.getpid()} on host {socket.gethostname()}" in str(error.value)
    lock.release()
    assert not (tmp_path / "run" / LOCK_FILE).exists()
    with RunLock(tmp_path / "run"):
        pass


def test_live_process_on_this_machine_keeps_the_lock(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(tmp_path, socket.gethostname(), sleeper.pid)
        with pytest.raises(RunLocked) as error:
            RunLock(tmp_path).acquire()
        assert f"process {sleeper.pid}" in str(error.value) and "seed=3" in str(error.value)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_dead_process_on_this_machine_is_taken_over_at_once(tmp_path, capsys):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _write_lock(tmp_path, socket.gethostname(), gone.pid)
    with RunLock(tmp_path) as lock:
        assert json.loads((tmp_path / LOCK_FILE).read_text())["token"] == lock.token
    assert "taking over the stale lock" in capsys.readouterr().err


def test_other_machine_with_a_fresh_heartbeat_keeps_the_lock(tmp_path):
    _write_lock(tmp_path, "node-17.cluster", 4242, age_s=2.0)
    with pytest.raises(RunLocked) as error:
        RunLock(tmp_path).acquire()
    assert "process 4242 on host node-17.cluster" in str(error.value)


def test_other_machine_without_heartbeat_is_taken_over(tmp_path):
    _write_lock(tmp_path, "node-17.cluster", 4242, age_s=results.LOCK_STALE_S + 5)
    with RunLock(tmp_path) as lock:
        assert json.loads((tmp_path / LOCK_FILE).read_text())["token"] == lock.token


def test_half_written_lock_is_judged_by_its_age(tmp_path):
    path = tmp_path / LOCK_FILE
    path.write_text('{"host": "no')  # holder killed while writing its lock
    with pytest.raises(RunLocked):
        RunLock(tmp_path).acquire()
    old = time.time() - results.LOCK_STALE_S - 5
    os.utime(path, (old, old))
    RunLock(tmp_path).acquire().release()


def test_heartbeat_refreshes_the_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(results.lock, "LOCK_HEARTBEAT_S", 0.05)
    with RunLock(tmp_path):
        old = time.time() - 1000
        os.utime(tmp_path / LOCK_FILE, (old, old))
        time.sleep(0.5)
        assert time.time() - (tmp_path / LOCK_FILE).stat().st_mtime < 5


def test_restart_clears_the_record_but_not_the_lock(tmp_path):
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    for name in ("status.json", "config.yaml", "metrics.csv", "checkpoint.pt", "eval/noise.parquet"):
        (run / name).write_text("x")
    with RunLock(run):
        removed = results.clear_run(run)
        assert sorted(os.listdir(run)) == [LOCK_FILE]
    assert set(removed) == {"status.json", "config.yaml", "metrics.csv", "checkpoint.pt", "eval"}


# --------------------------------------------------------------------------- processes
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
SMALL = ["dataset.steps=4", "train.max_batches=1", "progress=false", "device=cpu", "eval.suites=[]"]


def _command(runs: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ablations.run", f"paths.runs={runs}", *SMALL, *extra]


@pytest.mark.slow
def test_second_process_on_the_same_run_exits_at_once_naming_the_first(tmp_path):
    runs = tmp_path / "runs"
    long = ["train.epochs=400", "train.eval_every=1000"]
    first = subprocess.Popen(_command(runs, *long), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV,
                             text=True)
    try:
        deadline = time.time() + 120
        while not list(runs.glob(f"**/{LOCK_FILE}")) and time.time() < deadline:
            assert first.poll() is None, first.stdout.read()
            time.sleep(0.2)
        (lock,) = runs.glob(f"**/{LOCK_FILE}")
        start = time.perf_counter()
        second = subprocess.run(_command(runs, *long), capture_output=True, text=True, env=ENV, timeout=120)
        took = time.perf_counter() - start
        assert second.returncode == 2, second.stderr
        assert f"in use by process {first.pid} on host {socket.gethostname()}" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the first one trains on, untouched
        assert json.loads(lock.read_text())["pid"] == first.pid
        print(f"second process refused in {took:.1f} s (start-up included)")
    finally:
        first.kill()
        first.wait()
    # the first was killed: its lock stays behind, stale, and the next process takes it over at once
    # (the same command resuming after a kill is the fault-injection suite's job)
    assert lock.exists()
    RunLock(lock.parent).acquire().release()


@pytest.mark.slow
def test_processes_on_different_runs_and_two_evaluates_on_one_run(tmp_path):
    runs = tmp_path / "runs"
    procs = [subprocess.Popen(_command(runs, "train.epochs=2", f"seed={seed}"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=ENV, text=True) for seed in (0, 1)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    run_dirs = results.find_runs(runs)
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        assert results.read_status(run_dir)["status"] == "finished"
        assert len(results.read_metrics(run_dir)) == 2
        assert not (run_dir / LOCK_FILE).exists()
    target = run_dirs[0]
    evaluate = [sys.executable, "-m", "ablations.evaluate", f"run={target}", "suite=activity,clean",
                "overwrite=true", "eval.clean.n_samples=100", "eval.activity.n_samples=100"]
    procs = [subprocess.Popen(evaluate, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, text=True)
             for _ in range(2)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    tables = {p.name: pd.read_parquet(p) for p in (target / "eval").glob("*.parquet")}
    assert set(tables) == {"activity.parquet", "clean.parquet"}
    assert not list(target.glob("**/*.tmp"))
    alone = subprocess.run(evaluate, capture_output=True, text=True, env=ENV, timeout=300)
    assert alone.returncode == 0, alone.stderr
    for name, table in tables.items():  # the same rows as one evaluation alone
        pd.testing.assert_frame_equal(table, pd.read_parquet(target / "eval" / name))
