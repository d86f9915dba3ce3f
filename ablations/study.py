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

import signal
import sys
from typing import Sequence

from .cli import entry
from .studies.definition import available_studies
from .studies.launch import parse_args, run_study

__all__ = ["main"]


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
