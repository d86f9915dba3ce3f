"""The worker that runs a study's trials: the budget shared by all workers, reclaiming dead workers'
trials, one lock per run, and reporting epochs to the pruner."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig

from .. import faults, results
from ..errors import UserError
from ..config import compose
from .definition import StudyDefinition
from .objectives import prune_metric_of, objective_value
from .storage import quiet_warnings, trial_states, state_counts
from .trials import suggest, trial_overrides
from .values import format_value


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "noboot"


def worker_id() -> str:
    return f"{socket.gethostname()}/{_boot_id()}/{os.getpid()}"


class BudgetReached(Exception):
    """Raised inside a trial asked for after other workers had taken the whole budget."""


class Worker:
    """One Optuna worker: runs trials of one study until the budget is finished or time is up."""

    def __init__(self, study, storage, retry, definition: StudyDefinition, run_overrides: Sequence[str],
                 suites: Sequence[str], deadline: float | None = None, log=print):
        self.study, self.storage, self.retry = study, storage, retry
        self.definition = definition
        self.run_overrides = list(run_overrides)
        self.suites = list(suites)
        self.deadline = deadline
        self.budget = definition.budget
        self.prune_metric = prune_metric_of(definition)
        self.log = log
        self.me = worker_id()
        self.interrupted_trial_id: int | None = None
        self.surplus: set[int] = set()

    # ---- dead workers
    def reclaim(self) -> None:
        """Fail (and re-queue) trials of dead workers: stale heartbeats, and gone local processes."""
        import optuna

        with quiet_warnings():
            optuna.storages.fail_stale_trials(self.study)
        if not self.definition.reclaim_local:
            return
        host, boot, _ = self.me.split("/")
        TrialState = trial_states()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = str(trial.user_attrs.get("worker", ""))
            parts = owner.split("/")
            if len(parts) != 3 or parts[0] != host or parts[1] != boot or not parts[2].isdigit():
                continue
            if int(parts[2]) == os.getpid() or results.pid_alive(int(parts[2])):
                continue
            self._fail_and_retry(trial._trial_id, f"its worker process {parts[2]} on this machine is gone")

    def _fail_and_retry(self, trial_id: int, why: str) -> None:
        import optuna

        TrialState = trial_states()
        try:
            if self.storage.get_trial(trial_id).state == TrialState.RUNNING:
                if not self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                    return
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # another worker got there first
        frozen = copy.deepcopy(self.storage.get_trial(trial_id))
        self.log(f"trial {frozen.number} failed: {why}; re-queued with the same parameters", flush=True)
        with quiet_warnings():
            self.retry(self.study, frozen)

    # ---- budget
    def room(self) -> bool:
        """Whether to start another trial; waits while running trials of others cover the budget."""
        announced = False
        poll = max(0.5, min(5.0, self.definition.heartbeat_interval / 2))
        while True:
            self.reclaim()
            counts = state_counts(self.study)
            if counts["finished"] >= self.budget:
                return False
            if counts["waiting"] or counts["finished"] + counts["running"] < self.budget:
                return True
            if self.deadline is not None and time.time() >= self.deadline:
                return False
            if not announced:
                self.log(f"the rest of the budget is taken by {counts['running']} running trial(s) of other "
                         "workers; waiting for them to finish (or be declared dead and re-run here)", flush=True)
                announced = True
            time.sleep(poll)

    def after_trial(self, study, trial) -> None:
        if not self.room():
            study.stop()

    def _check_budget(self, trial) -> None:
        TrialState = trial_states()
        ahead = 0
        for other in self.study.get_trials(deepcopy=False):
            if other.state in (TrialState.COMPLETE, TrialState.PRUNED):
                ahead += 1
            elif other.state in (TrialState.RUNNING, TrialState.WAITING) and other.number < trial.number:
                ahead += 1
        if ahead >= self.budget:
            trial.set_user_attr("surplus", True)
            self.surplus.add(trial.number)
            self.log(f"trial {trial.number}: other workers took the rest of the budget at the same moment; "
                     "it runs nothing (recorded as failed, user_attrs.surplus)", flush=True)
            raise BudgetReached(f"trial {trial.number} started after other workers had taken the whole budget "
                                 f"of {self.budget}; it runs nothing")

    # ---- the objective
    def objective(self, trial):
        """Run the trial's run and return its objective value(s) (Optuna's objective function)."""
        try:
            return self._objective(trial)
        except KeyboardInterrupt:
            self.interrupted_trial_id = trial._trial_id
            raise

    def _objective(self, trial):
        import optuna

        from ..pipeline import prepare, run_cfg
        from ..training import StopRun

        trial.set_user_attr("worker", self.me)
        self._check_budget(trial)
        params = suggest(trial, self.definition.space)
        overrides = trial_overrides(self.definition, self.run_overrides, params, trial.number, self.suites)
        cfg = compose(overrides)
        retried = self.storage.get_trial(trial._trial_id).system_attrs.get("failed_trial")
        shown = " ".join(f"{k}={format_value(v)}" for k, v in params.items()) or "(no parameters)"
        self.log(f"trial {trial.number}{f' (re-run of trial {retried})' if retried is not None else ''}: "
                 f"{shown}", flush=True)
        # Trials with the same parameters train the same run: one trains it, the others wait and reuse it.
        prepared = prepare(cfg, overrides)  # resolved: the lock and the run directory share one identity
        with _run_lock(_lock_path(prepared.cfg), self.log):
            try:
                run_dir = run_cfg(prepared, on_epoch=self._reporter(trial, prepared.cfg) if self.prune_metric else None,
                                  overrides=overrides)
            except StopRun as stop:
                trial.set_user_attr("run_dir", str(stop.run_dir))
                trial.set_user_attr("run_status", stop.status)
                raise optuna.TrialPruned(str(stop)) from None
            trial.set_user_attr("run_dir", str(run_dir))
            status = results.read_status(run_dir) or {}
        trial.set_user_attr("run_status", status.get("status"))
        if status.get("status") == "diverged":
            raise optuna.TrialPruned(f"run diverged: {status.get('error')}")
        if status.get("status") != "finished":
            raise RuntimeError(f"run {run_dir} ended with status {status.get('status')!r}")
        values = [objective_value(run_dir, o, status) for o in self.definition.objectives]
        for objective, value in zip(self.definition.objectives, values, strict=True):
            if not math.isfinite(value):
                raise UserError(f"objective {objective.name!r} of run {run_dir} is {value}")
        faults.point("study.commit")  # fault-injection tests: run finished, result not yet told to the study
        return values[0] if len(values) == 1 else values

    def _reporter(self, trial, cfg: DictConfig):
        """``on_epoch`` for pruning: report the metric each epoch; end the run when the pruner says so.

        A resumed run (re-run of a dead worker's trial, or the same parameters as a pruned trial)
        first reports the epochs it already has, so the pruner sees the whole curve.
        """
        from ..training import StopRun

        reported: set[int] = set()

        def report(epoch: int, value: Any) -> bool:
            if value is None or value != value or epoch in reported:
                return False
            trial.report(float(value), int(epoch))
            reported.add(int(epoch))
            return True

        def on_epoch(epoch: int, row: Mapping[str, Any]) -> None:
            if not reported and epoch > 1:
                history = results.read_metrics(results.run_dir_for(cfg))
                if self.prune_metric in history.columns:
                    for _, old in history.iterrows():
                        if int(old["epoch"]) < epoch:
                            report(int(old["epoch"]), old[self.prune_metric])
            value = row.get(self.prune_metric)
            if report(epoch, value) and trial.should_prune():
                raise StopRun("pruned", f"pruned by the study at epoch {epoch} "
                                        f"({self.prune_metric}={float(value):.4g})")

        return on_epoch

    # ---- the loop
    def work(self) -> None:
        """Run trials with ``study.optimize`` until the budget is finished (or the deadline passes)."""
        from optuna.study import MaxTrialsCallback

        TrialState = trial_states()
        if not self.room():
            return
        timeout = None if self.deadline is None else max(1e-3, self.deadline - time.time())
        quiet = _SurplusFilter(self.surplus)
        handlers = list(logging.getLogger("optuna").handlers)
        for handler in handlers:
            handler.addFilter(quiet)
        try:
            self.study.optimize(
                self.objective, timeout=timeout, catch=(BudgetReached,),
                callbacks=[MaxTrialsCallback(self.budget, states=(TrialState.COMPLETE, TrialState.PRUNED)),
                           self.after_trial])
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: re-queue the trial that was running, at once
            if self.interrupted_trial_id is not None:
                trial = self.storage.get_trial(self.interrupted_trial_id)
                if trial.state == TrialState.FAIL:
                    self.log(f"trial {trial.number} interrupted; re-queued with the same parameters", flush=True)
                    with quiet_warnings():
                        self.retry(self.study, copy.deepcopy(trial))
                elif trial.state == TrialState.RUNNING:
                    self._fail_and_retry(trial._trial_id, "interrupted")
            raise
        finally:
            for handler in handlers:
                handler.removeFilter(quiet)


class _SurplusFilter(logging.Filter):
    """Drops Optuna's failure warnings (with traceback) for surplus trials; the worker says why itself."""

    def __init__(self, numbers: set[int]):
        super().__init__()
        self.numbers = numbers

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(f"Trial {n} failed") for n in self.numbers)


def _lock_path(cfg: DictConfig) -> Path:
    """A lock file named after the run's identity (of the resolved config, like its run directory)."""
    return Path(str(cfg.paths.runs)) / ".locks" / f"{results.config_hash(cfg)}-seed{int(cfg.seed)}.lock"


@contextlib.contextmanager
def _run_lock(path: Path, log=print):
    """Hold an exclusive lock, so two trials with the same run never train it at the same time."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another trial that trains the same run", flush=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
