"""``python -m ablations.run [overrides]``: train (or resume, or skip) one run and record it.

Examples::

    python -m ablations.run                                  # vanilla LIF on digits
    python -m ablations.run variant=no_reset neuron.tau=30
    python -m ablations.run -m variant=vanilla,no_leak seed=0,1   # Hydra multirun grid
    python -m ablations.run -m variant=vanilla,no_leak jobs=2     # two grid points at once (joblib)

From Python, ``run(["variant=no_reset"])`` does the same and returns the run directory. The work
is :mod:`ablations.pipeline`; this module parses and prints.

One process at a time works on a run: a second one on the same run exits at once (code 2) naming
the first (:class:`ablations.results.RunLock`; a lock whose holder died is taken over).
``train.restart=true`` deletes the run's record (a corrupt checkpoint or status, an old config)
and trains it from scratch.

A single run's command line goes straight to :func:`ablations.pipeline.run` (one composition,
every check before anything is written, exit code 2 with one message for bad input); Hydra's own
flags (``--cfg job``, ``-m`` sweeps, ``--hydra-help``) go to Hydra. ``--help`` lists what ``run``
accepts: its config groups and their options.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable

import hydra
from omegaconf import DictConfig

from . import parallel
from .config import RUN_GROUPS, group_folders, group_options, parse
from .config.keys import check_groups
from .errors import exit_code, wants_debug
from .models import hydra_overrides
from .pipeline import compose_run, prepare, run, run_cfg  # noqa: F401 - the public API: ``from ablations.run import run``

__all__ = ["run", "run_cfg", "compose_run", "main", "cli"]


def report_errors(function: Callable[[], object], debug: bool) -> None:
    """Run ``function``; turn a UserError into one clear message and exit code 2."""
    code = exit_code(function, debug)
    if code:
        sys.exit(code)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hydra_cfg = HydraConfig.get()
    # as typed: an override may hold an interpolation (${...}) that only the run resolves (or refuses);
    # the config search path is kept too, so the recorded command finds a plugin's configs again
    overrides = [str(o) for o in OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)]
    overrides += [str(o) for o in hydra_cfg.overrides.hydra if str(o).lstrip("+").startswith("hydra.searchpath")]
    parallel.set_threads_for_hydra_job()
    with parallel.hydra_job():  # a parallel grid's job: its output to its own log, a line per point here
        report_errors(lambda: run_cfg(cfg, overrides=overrides), bool(cfg.get("debug", False)))


def usage(argv: Iterable[str] = ()) -> str:
    """``--help``: the groups ``run`` composes and their options (a plugin's too, with its search path)."""
    lines = [__doc__.split("Examples::")[0].strip(), "", "Usage: python -m ablations.run [GROUP=OPTION ...] [KEY=VALUE ...]",
             "", "Config groups (GROUP=OPTION):"]
    folders = group_folders(argv)
    for group in RUN_GROUPS:
        options = sorted({option for folder in folders for option in group_options(group, folder)})
        lines.append(f"  {group:<11} {', '.join(options)}")
    lines += ["", "Keys: `python -m ablations.run --cfg job` prints the whole config with its values;",
              "an unknown key or one the chosen options do not read exits with code 2 and says why.",
              "Hydra's own flags: --cfg job|hydra|all, -m (sweeps), --hydra-help."]
    return "\n".join(lines)


def cli(argv: Iterable[str] | None = None) -> None:
    """``python -m ablations.run``: a single run goes to :func:`ablations.pipeline.run` (bad input: one
    message, exit code 2, nothing written); Hydra's own flags and multirun sweeps go to Hydra."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(usage(argv))
        return
    if not any(a.startswith("-") for a in argv):
        code = exit_code(lambda: run(argv), wants_debug(argv))
        if code:
            sys.exit(code)
        return
    if any(a in ("-m", "--multirun") for a in argv):  # jobs=N: Hydra's joblib launcher (ablations.parallel)
        def rewrite() -> None:
            check_groups(parse([a for a in argv if not a.startswith("-")]), group_folders(argv))  # every swept option
            sys.argv[1:] = parallel.multirun_arguments(argv)
        report_errors(rewrite, wants_debug(argv))
        argv = [a for a in argv if not a.startswith("jobs=")]
    # the overrides among Hydra's flags and their values (--cfg job); sweeps (a,b) are Hydra's to expand
    plain = [a for a in argv if not a.startswith("-") and "=" in a and "," not in a.partition("=")[2]]
    code = exit_code(lambda: compose_run(plain), wants_debug(argv))  # a bad key: one message, exit code 2
    if code:
        sys.exit(code)
    sys.argv[1:] = hydra_overrides(sys.argv[1:])  # model.kwargs.x=...: the user's keys (ablations.models)
    main()


if __name__ == "__main__":
    cli()
