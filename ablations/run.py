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
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable

import hydra
from omegaconf import DictConfig

from . import parallel
from .errors import exit_code, wants_debug
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

    # as typed: an override may hold an interpolation (${...}) that only the run resolves (or refuses)
    overrides = [str(o) for o in OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)]
    parallel.set_threads_for_hydra_job()
    report_errors(lambda: run_cfg(cfg, overrides=overrides), bool(cfg.get("debug", False)))


def cli(argv: Iterable[str] | None = None) -> None:
    """``python -m ablations.run``: a single run's overrides are composed first, so a bad key or
    value is one message and exit code 2 (Hydra alone answers exit code 1); multirun sweeps and
    Hydra's own flags go to Hydra as they are."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-m", "--multirun") for a in argv):  # jobs=N: Hydra's joblib launcher (ablations.parallel)
        def rewrite() -> None:
            sys.argv[1:] = parallel.multirun_arguments(argv)
        report_errors(rewrite, wants_debug(argv))
    if argv and not any(a.startswith("-") or a.lstrip("+~").startswith("hydra") for a in argv):
        code = exit_code(lambda: compose_run(argv), wants_debug(argv))
        if code:
            sys.exit(code)
    main()


if __name__ == "__main__":
    cli()
