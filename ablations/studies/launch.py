"""Starting or resuming a study from its command line (:mod:`ablations.study`): the parsed
invocation, the local worker processes and :func:`run_study`, which creates or resumes the study,
works on it and writes the summary. The command line's reference is ``python -m ablations.study --help``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..config import compose
from ..errors import UserError, parse_bool
from .checks import check_definition, trial_suites
from .definition import available_studies, load_definition
from .storage import default_storage_url, describe_state, describe_url, open_storage, open_study, state_counts
from .summary import summary_table, write_figures
from .trials import DEFAULT_RUN_OVERRIDES, merge_overrides
from .worker import Worker

__all__ = ["Invocation", "parse_args", "run_study"]


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
