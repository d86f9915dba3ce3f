"""Studies across processes: SIGKILL during a trial, then resume; concurrent workers on SQLite and PostgreSQL.

Every test here starts real ``python -m ablations.study`` processes on a real storage.
The PostgreSQL test needs a server: ``ABLATIONS_TEST_POSTGRES=postgresql://user:pw@host:port/db``
(``.ci/run`` starts one). Without it the test is skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import optuna
import pytest

from ablations import faults, results, studies, study

pytestmark = pytest.mark.slow  # worker processes and launchers: end to end

optuna.logging.set_verbosity(optuna.logging.WARNING)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
COMPLETE, FAIL, PRUNED = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED


def write_study(folder: Path, name: str, text: str) -> None:
    (folder / "studies").mkdir(parents=True, exist_ok=True)
    (folder / "studies" / f"{name}.yaml").write_text(textwrap.dedent(text))


def start(folder: Path, log: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    handle = open(folder / log, "w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "ablations.study", *args], cwd=folder, stdout=handle,
                            stderr=subprocess.STDOUT, env=env)


def finish(process: subprocess.Popen, folder: Path, log: str, timeout: float = 150) -> str:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{log} did not finish in {timeout} s:\n{(folder / log).read_text()[-4000:]}") from None
    text = (folder / log).read_text()
    assert code == 0, f"{log} exited with {code}:\n{text[-4000:]}"
    return text


def open_sqlite(folder: Path, name: str) -> optuna.Study:
    storage = optuna.storages.RDBStorage(studies.default_storage_url(name, folder / "studies"),
                                         engine_kwargs={"connect_args": {"timeout": 60}})
    return optuna.load_study(study_name=name, storage=storage)


def check_records(trials, folder: Path, name: str) -> None:
    """Every complete trial has its own finished run record naming the study and the trial."""
    complete = [t for t in trials if t.state == COMPLETE]
    run_dirs = [t.user_attrs["run_dir"] for t in complete]
    assert len(set(run_dirs)) == len(run_dirs), "two complete trials share a run"
    for trial in complete:
        status = results.read_status(folder / trial.user_attrs["run_dir"])
        assert status["status"] == "finished"
        assert status["trial"] == {"study": name, "number": trial.number}
        assert status["final"]["accuracy"] == trial.value


def check_concurrent(trials, budget: int, min_workers: int = 2) -> dict:
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(numbers))), f"trial numbers not unique and contiguous: {numbers}"
    complete = [t for t in trials if t.state == COMPLETE]
    assert len(complete) == budget
    leftover = [t for t in trials if t.state != COMPLETE]
    # the only other trials allowed: ones asked for after the budget was taken (they run nothing)
    assert all(t.state == FAIL and t.user_attrs.get("surplus") for t in leftover), \
        [(t.number, t.state) for t in leftover]
    workers = {t.user_attrs["worker"] for t in complete}
    assert len(workers) >= min_workers, f"only {workers} worked"
    overlap = any(a.user_attrs["worker"] != b.user_attrs["worker"] and a.datetime_start < b.datetime_complete
                  and b.datetime_start < a.datetime_complete for a in complete for b in complete)
    assert overlap, "no two trials of different workers ran at the same time"
    return {"numbers": sorted(numbers), "workers": len(workers), "surplus": len(leftover)}


# Trials last a few seconds each, longer than a worker process takes to start, so that a second
# worker always finds work left (with sub-second trials the first worker could finish the budget alone).
PAIR = """
    overrides: [train.epochs=3, dataset.steps=8, train.max_batches=15]
    space:
      train.lr: {type: float, low: 0.001, high: 0.02, log: true}
    objectives: [{metric: accuracy, direction: maximize}]
    sampler: {name: random}
    n_trials: 5
    heartbeat_interval: 1
    grace_period: 5
    """


# --------------------------------------------------------------------------- kill -9
def test_sigkill_during_a_trial_then_the_same_command_finishes_the_study(tmp_path):
    write_study(tmp_path, "crash", """
        overrides: [train.epochs=3, dataset.steps=4, train.max_batches=2]
        space:
          train.lr: {type: float, low: 0.001, high: 0.02, log: true}
        objectives: [{metric: accuracy, direction: maximize}]
        sampler: {name: random, seed: 0}
        n_trials: 3
        heartbeat_interval: 1
        grace_period: 2
        reclaim_local: false   # exercise the heartbeat: the killed trial is found stale, not by its pid
        """)
    command = ["study=crash"]
    # Killed by the package's own kill point, at a moment that does not depend on this machine's speed:
    # trial 0 takes 3 epochs x 2 batches (the digits training set has 3 batches, max_batches takes 2),
    # so the 9th optimizer step is the first of trial 1's second epoch: one epoch checkpointed, two to go.
    first = start(tmp_path, "first.log", *command, env={faults.ENV: "train.batch@9"})
    assert first.wait(timeout=150) == -signal.SIGKILL, (tmp_path / "first.log").read_text()[-3000:]
    victim = None
    for path in (tmp_path / "runs").rglob("status.json"):
        status = json.loads(path.read_text())
        if (status.get("trial") or {}).get("number") == 1:
            victim = path.parent
    assert victim is not None and results.read_status(victim)["status"] == "running"
    assert results.read_status(victim)["epochs_done"] == 1
    before = open_sqlite(tmp_path, "crash").get_trials()
    assert [t.state.name for t in before] == ["COMPLETE", "RUNNING"]
    kept = {t.number: (t.value, t.params) for t in before if t.state == COMPLETE}

    output = finish(start(tmp_path, "second.log", *command), tmp_path, "second.log")
    trials = open_sqlite(tmp_path, "crash").get_trials()
    by_state = {s: [t for t in trials if t.state == s] for s in (COMPLETE, FAIL, PRUNED)}
    assert len(by_state[COMPLETE]) == 3  # == the budget
    assert [t.number for t in by_state[FAIL]] == [1]  # the killed trial: failed, never complete
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retried) == 1 and retried[0].state == COMPLETE
    assert retried[0].params == before[1].params
    assert Path(retried[0].user_attrs["run_dir"]) == victim.relative_to(tmp_path)
    assert f"resuming {victim.relative_to(tmp_path)} from epoch" in output  # from the killed run's checkpoint
    assert "resuming: 1/3 finished" in output and "study crash: 3/3 finished" in output
    for number, (value, params) in kept.items():  # nothing complete was lost or changed
        assert trials[number].state == COMPLETE and (trials[number].value, trials[number].params) == (value, params)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    check_records(trials, tmp_path, "crash")
    print(f"\nkill -9: budget 3, complete {len(by_state[COMPLETE])}, failed (killed) "
          f"{[t.number for t in by_state[FAIL]]}, re-run as trial {retried[0].number}")


# --------------------------------------------------------------------------- concurrent workers
def test_two_commands_on_the_default_sqlite_storage(tmp_path):
    write_study(tmp_path, "pair", PAIR)
    one = start(tmp_path, "one.log", "study=pair")  # two independent commands, no storage= given:
    two = start(tmp_path, "two.log", "study=pair")  # both use studies/pair.db
    finish(one, tmp_path, "one.log")
    finish(two, tmp_path, "two.log")
    assert (tmp_path / "studies" / "pair.db").exists()
    trials = open_sqlite(tmp_path, "pair").get_trials()
    seen = check_concurrent(trials, budget=5)
    check_records(trials, tmp_path, "pair")
    print(f"\nSQLite, 2 commands: {seen}")


@pytest.fixture()
def postgres_url():
    url = os.environ.get("ABLATIONS_TEST_POSTGRES")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but ABLATIONS_TEST_POSTGRES is not set; .ci/run starts PostgreSQL and sets it")
        pytest.skip("no PostgreSQL: set ABLATIONS_TEST_POSTGRES=postgresql://user:pw@host:port/db")
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(studies.with_driver(url), connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {studies.describe_url(url)} is unreachable: {error}")
        pytest.skip(f"PostgreSQL at {studies.describe_url(url)} is unreachable: {error}")
    return url


def test_two_workers_on_one_postgresql_study(tmp_path, postgres_url):
    write_study(tmp_path, "pair", PAIR)
    name = f"pair_{uuid.uuid4().hex[:8]}"
    args = ["study=pair", f"study.name={name}", f"storage={postgres_url}"]
    one = start(tmp_path, "one.log", *args, "n_jobs=2")  # two worker processes on this machine
    try:
        text = finish(one, tmp_path, "one.log")
        assert f"storage {studies.describe_url(postgres_url)}" in text  # password hidden
        storage = optuna.storages.RDBStorage(studies.with_driver(postgres_url))
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
        seen = check_concurrent(trials, budget=5)
        check_records(trials, tmp_path, name)
        print(f"\nPostgreSQL, n_jobs=2: {seen}")
    finally:
        if one.poll() is None:
            one.kill()
        try:
            optuna.delete_study(study_name=name, storage=studies.with_driver(postgres_url))
        except KeyError:
            pass
