"""``python -m ablations.study study=NAME [key=value ...]``: create or resume an Optuna study.

Every trial is an ordinary run (``ablations.run.run_cfg``): its record lands in ``runs/`` with
``trial.study`` and ``trial.number`` set, and the trial's objective values are read back from that
record. The same command creates the study or resumes it where it stopped (Ctrl-C, ``kill -9``,
reboot), and any number of copies of it, on any number of machines, work on one study when they
share a storage URL.

Command line (Hydra-style ``key=value``)::

    python -m ablations.study study=leak_tau                      # create or resume
    python -m ablations.study study=leak_tau study.n_trials=20 train.epochs=5
    python -m ablations.study study=leak_tau n_jobs=2             # two local worker processes
    python -m ablations.study study=leak_tau storage=postgresql://user:pw@host/db
    python -m ablations.study study=leak_tau summary=true         # table and figures only

``study=NAME``     a study file: ``<paths.studies>/NAME.yaml`` (user) or ``ablations/conf/study/NAME.yaml``
                   (shipped); a user file of the same name takes precedence.
``storage=URL``    any SQLAlchemy/Optuna URL; default ``sqlite:///<paths.studies>/NAME.db``.
``n_jobs=N``       N worker processes on this machine (each an independent Optuna worker).
``summary=true``   print the best trial / Pareto front and write the figures; run no trial.
``study.KEY=V``    change a key of the study file (``study.n_trials=20``, ``study.sampler.seed=1``).
anything else      a run override applied to every trial (``train.epochs=5``, ``paths.runs=...``).

Study file (YAML)::

    name: leak_tau              # optional; default: the file name. Also the default storage file name.
    extends: null               # optional: name of another study file whose keys this one changes
    description: ...
    overrides:                  # run overrides of every trial (list of key=value, or a mapping)
      - train.epochs=10
    space:                      # config key (or config group) -> distribution
      variant: {type: categorical, choices: [vanilla, no_leak]}   # `choices: all` = every option of a group
      neuron.tau: {type: float, low: 1.0, high: 1000.0, log: true, when: {variant: vanilla}}
      dataset.steps: {type: int, low: 4, high: 32, step: 4}
    objectives:                 # one or more; see "Objectives" below
      - {metric: accuracy, direction: maximize}
    sampler: {name: tpe}        # tpe | random | grid | nsgaii (+ their keyword arguments, e.g. seed)
    pruner: {name: median}      # none | median | percentile | hyperband (+ keyword arguments)
    prune_metric: null          # per-epoch metric reported for pruning; default from the objective
    n_trials: 20                # budget: trials finished (complete or pruned) over all workers and resumes
    timeout: null               # seconds after which this command starts no new trial
    heartbeat_interval: 10      # seconds between a running trial's heartbeats
    grace_period: 30            # seconds without a heartbeat after which a running trial counts as dead
    max_retry: 3                # times a dead worker's trial is re-run
    reclaim_local: true         # also re-run at once trials whose worker process on this machine is gone

A parameter with ``when`` is sampled only when the parameters it names (earlier in ``space``)
have the given values; otherwise the run keeps the configured value. The grid sampler needs every
parameter categorical (or given a ``grid: [values]`` list) and no ``when``; its budget is the grid.

Objectives
----------
``{metric: M, direction: maximize|minimize}`` reads the run record: ``status.json`` ``final`` (the
last epoch's ``accuracy``, ``test_loss``, ``test_sse``, ``train_loss``, ``train_sse``, ...), then its
top-level numbers (``wall_time_s``, ``n_parameters``). With a ``suite`` it reads the evaluation table
``<run_dir>/eval/<suite>.parquet`` (long form: ``suite``, ``metric``, ``value`` + condition columns)::

    {suite: noise, metric: accuracy, where: {noise: gaussian, scenario: 1, severity: 5},
     reduce: mean, direction: maximize, name: noise_accuracy}

``where`` keeps the rows whose condition columns equal the given values (a list means any of
them), ``reduce`` (``mean`` | ``sum`` | ``min`` | ``max`` | ``median``, default ``mean``) turns
the kept ``value`` s into one number; ``name`` labels the objective (default: ``suite.metric``).
The suites an objective needs are added to each trial's ``eval.suites``. A single-objective study
prunes on the per-epoch ``prune_metric`` (default: ``test_<metric>`` for ``accuracy``/``loss``/``sse``
objectives), in the study's direction.

Crash safety
------------
Storage is Optuna's ``RDBStorage`` with a heartbeat: a trial whose worker stops beating for
``grace_period`` seconds is marked failed and re-queued with the same parameters
(``RetryHeartbeatStaleTrialCallback``), and its run resumes from the run's last checkpoint (the
study bookkeeping is not part of the run identity). Ctrl-C and SIGTERM re-queue the current trial
at once. A diverged run ends its trial as pruned (``user_attrs.run_status = diverged``). Workers
stop when the finished (complete + pruned) trials reach the budget; one that finds the rest of the
budget taken by running trials waits for them (or for them to be declared dead, then re-runs them).
When two workers ask for the last slot at the same moment, the trial with the higher number runs
nothing and is recorded as failed with ``user_attrs.surplus``, so the budget is never exceeded.
``n_jobs`` workers are processes, not threads: Hydra's compose and snnTorch keep process-wide state,
and a process per worker is what a kill, a reboot or another machine looks like anyway.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .cli import entry
from .errors import UserError, parse_bool
from .config import compose
from .studies.checks import trial_suites, check_definition, check_rows
from .studies.definition import (REDUCERS, Objective, Param, StudyDefinition, available_studies, load_definition,
                                 parse_definition)
from .studies.objectives import EPOCH_METRICS, RUN_METRICS, objective_value
from .studies.storage import (default_storage_url, describe_state, describe_url, open_storage, open_study,
                              state_counts)
from .studies.storage import with_driver  # noqa: F401  (re-exported)
from .studies.summary import summary_table, write_figures
from .studies.trials import DEFAULT_RUN_OVERRIDES, merge_overrides, suggest, trial_overrides
from .studies.values import format_value
from .studies.worker import Worker
from .studies.worker import worker_id  # noqa: F401  (re-exported)

__all__ = [
    "Param", "Objective", "StudyDefinition", "Invocation",
    "RUN_METRICS", "EPOCH_METRICS", "REDUCERS",
    "available_studies", "load_definition", "parse_definition", "parse_args",
    "format_value", "merge_overrides", "trial_overrides", "suggest", "objective_value",
    "check_definition", "check_rows", "default_storage_url", "open_storage", "open_study", "state_counts",
    "summary_table", "write_figures", "run_study", "main",
]


# --------------------------------------------------------------------------- command line
@dataclass
class Invocation:
    """The parsed command line of ``python -m ablations.study``."""

    study: str | None = None
    storage: str | None = None
    n_jobs: int = 1
    summary: bool = False
    debug: bool = False
    help: bool = False
    worker_index: int = 0
    study_changes: list[str] = field(default_factory=list)
    run_overrides: list[str] = field(default_factory=list)

    def argv(self, **changes: Any) -> list[str]:
        """Arguments that reproduce this invocation (used to start local worker processes)."""
        state = dataclasses.replace(self, **changes)
        args = [f"study={state.study}", f"n_jobs={state.n_jobs}", f"worker_index={state.worker_index}"]
        if state.storage:
            args.append(f"storage={state.storage}")
        args += [f"study.{c}" for c in state.study_changes] + list(state.run_overrides)
        return args


def parse_args(argv: Sequence[str]) -> Invocation:
    inv = Invocation()
    for arg in argv:
        if arg in ("-h", "--help"):
            inv.help = True
            continue
        if arg.startswith("-"):
            raise UserError(f"unknown option {arg!r}; arguments are key=value (see --help)")
        if "=" not in arg:
            raise UserError(f"argument {arg!r} is not key=value; e.g. study=leak_tau (see --help)")
        key, value = arg.split("=", 1)
        if key == "study":
            inv.study = value
        elif key == "storage":
            inv.storage = value
        elif key == "n_jobs":
            if not value.isdigit() or int(value) < 1:
                raise UserError(f"n_jobs={value!r} must be a positive integer")
            inv.n_jobs = int(value)
        elif key == "worker_index":
            inv.worker_index = int(value)
        elif key == "summary":
            inv.summary = parse_bool(value, key)
        elif key.startswith("study."):
            inv.study_changes.append(arg[len("study."):])
        else:
            if key == "debug":
                inv.debug = parse_bool(value, key)
            inv.run_overrides.append(arg)
    return inv



# --------------------------------------------------------------------------- the command
def _spawn_workers(inv: Invocation) -> list[subprocess.Popen]:
    children = []
    for index in range(1, inv.n_jobs):
        args = [sys.executable, "-m", "ablations.study", *inv.argv(worker_index=index)]
        children.append(subprocess.Popen(args))
    return children


def _set_threads(n_jobs: int) -> None:
    if n_jobs > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))


def run_study(inv: Invocation, log=print):
    """Create or resume the study of ``inv`` and work on it; return the Optuna study."""
    import optuna

    started = time.time()
    if not inv.study:
        raise UserError("name the study: python -m ablations.study study=NAME (studies: "
                        f"{', '.join(sorted(available_studies(None)))}; user files in studies/)")
    try:
        plain = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, inv.run_overrides))
    except UserError as error:
        raise UserError(f"the run overrides on the command line do not compose:\n{error}") from None
    studies_dir = Path(str(plain.paths.studies))
    definition = load_definition(inv.study, studies_dir, inv.study_changes)
    lead = inv.worker_index == 0
    if not inv.summary:
        check_definition(definition, inv.run_overrides)
    url = inv.storage or default_storage_url(definition.name, studies_dir)
    storage, retry = open_storage(url, definition)
    if not lead:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(storage, definition, create=not inv.summary, worker_index=inv.worker_index)
    counts = state_counts(study)
    budget = definition.budget
    if lead:
        fresh = counts["finished"] + counts["running"] + counts["waiting"] + counts["fail"] == 0
        log(f"study {definition.name} ({definition.source})\n  storage {describe_url(url)}\n"
            f"  {'state' if inv.summary else 'created' if fresh else 'resuming'}: {describe_state(counts, budget)}\n"
            f"  objectives: {'; '.join(o.describe() for o in definition.objectives)}\n"
            f"  sampler {definition.sampler_name}, pruner {definition.pruner_name}, "
            f"heartbeat {definition.heartbeat_interval}s, grace {definition.grace_period}s", flush=True)
    if not inv.summary:
        suites = trial_suites(definition, inv.run_overrides)
        deadline = None if definition.timeout is None else started + definition.timeout
        worker = Worker(study, storage, retry, definition, inv.run_overrides, suites, deadline, log=log)
        _set_threads(inv.n_jobs)
        children = _spawn_workers(inv) if lead and inv.n_jobs > 1 else []
        failed_children = []
        try:
            worker.work()
        finally:
            for index, child in enumerate(children, start=1):
                code = child.wait()
                if code != 0:
                    failed_children.append((index, code))
        if failed_children:
            raise UserError("worker process(es) stopped with an error: " +
                            ", ".join(f"worker {i} exit code {c}" for i, c in failed_children) +
                            "; their messages are above. Run the same command again to resume.")
        if not lead:
            return study
        counts = state_counts(study)
        log(f"study {definition.name}: {describe_state(counts, budget)}", flush=True)
    if lead:
        log(summary_table(study, definition), flush=True)
        figures = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, definition.overrides, inv.run_overrides)).paths.figures
        out_dir = Path(str(figures)) / "studies" / definition.name
        for path in write_figures(study, definition, out_dir, log=log):
            log(f"  wrote {path}", flush=True)
    return study


USAGE = __doc__.split("Study file (YAML)")[0]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum, frame):  # SLURM preemption, `kill`: end like Ctrl-C, re-queueing the trial
        raise KeyboardInterrupt

    if threading_main():
        signal.signal(signal.SIGTERM, terminate)
    try:
        return entry(_study, argv, lambda: USAGE + "Studies: " + ", ".join(sorted(available_studies("studies"))))
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume the study", file=sys.stderr, flush=True)
        return 130
    finally:
        if threading_main():
            signal.signal(signal.SIGTERM, previous)


def _study(argv: Sequence[str]) -> None:
    run_study(parse_args(argv))


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
