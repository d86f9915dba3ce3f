"""``python -m ablations.run [overrides]``: train (or resume, or skip) one run and record it.

Examples::

    python -m ablations.run                                  # vanilla LIF on digits
    python -m ablations.run variant=no_reset neuron.tau=30
    python -m ablations.run -m variant=vanilla,no_leak seed=0,1   # Hydra multirun grid

From Python, ``run(["variant=no_reset"])`` does the same and returns the run directory.
"""

from __future__ import annotations

import sys
from typing import Callable

import hydra
from omegaconf import DictConfig

from .errors import exit_code
from .pipeline import prepare, run, run_cfg  # noqa: F401 - the public API: ``from ablations.run import run``

__all__ = ["run", "run_cfg", "main"]


def report_errors(function: Callable[[], object], debug: bool) -> None:
    """Run ``function``; turn a UserError into one clear message and exit code 2."""
    code = exit_code(function, debug)
    if code:
        sys.exit(code)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task)
    report_errors(lambda: run_cfg(cfg, overrides=overrides), bool(cfg.get("debug", False)))


if __name__ == "__main__":
    main()
