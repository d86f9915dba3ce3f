"""``python -m ablations.evaluate run=PATH suite=NAME``: (re)evaluate finished runs.

Examples::

    python -m ablations.evaluate run=runs/digits/default/vanilla/<hash>-seed0 suite=noise
    python -m ablations.evaluate run=runs/ suite=noise,activity     # every finished run below runs/
    python -m ablations.evaluate run=runs/ suite=all overwrite=true  # recompute what is there
    python -m ablations.evaluate run=PATH suite=adversarial eval.adversarial.n_samples=100
    python -m ablations.evaluate run=PATH suite=all eval=paper       # a parameter preset (conf/eval/)

Arguments are ``key=value``:

=====================  =====================================================================
``run``                a run directory, or a folder: every finished run below it
``suite``              a suite, several separated by commas, or ``all`` (every suite that
                       applies to the run's dataset)
``overwrite``          ``true`` recomputes suites already written (default ``false``: skip them)
``eval``               a preset from ``ablations/conf/eval/`` for the suite parameters
                       (default: the parameters stored with the run)
``eval.<suite>.<key>`` one suite parameter (see ``ablations/conf/eval/default.yaml``)
``device``             ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (default: the run's)
``progress``           ``true`` / ``false``: progress output of the suites that have it (NeuroBench's
                       benchmark); accepted as ``python -m ablations.run`` accepts it (default:
                       the run's)
``debug``              ``true`` shows tracebacks for input errors too
=====================  =====================================================================

Bad input (an unknown suite or parameter, a path without a finished run, a suite that does not
apply to a run's dataset) prints one message and exits with code 2, before anything is written.
Rows go to ``<run>/eval/<suite>.parquet``; :func:`ablations.results.load_results` gathers them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from . import evaluation, faults, results
from .errors import UserError
from .cli import entry, parse as parse_arguments
from .config import compose, group_options, parse as parse_overrides
from .config.keys import check_read
from .errors import parse_bool
from .registry import load_plugins
from .evaluation.common import params

__all__ = ["evaluate", "parse", "main"]

_KEYS = ("run", "suite", "overwrite", "eval", "device", "progress", "debug", "plugins")
_USAGE = ("usage: python -m ablations.evaluate run=PATH suite=NAME[,NAME...|all] [overwrite=true] "
          "[eval=PRESET] [eval.<suite>.<key>=VALUE ...] [device=cpu] [progress=false] [debug=true]")


def parse(argv: Sequence[str]) -> dict:
    """``["run=PATH", "suite=noise", ...]`` -> options; a bad argument raises UserError."""
    options, overrides = parse_arguments(argv, {k: k for k in _KEYS}, passthrough=lambda key: key.startswith("eval."),
                                         example="python -m ablations.evaluate run=runs/ suite=noise")
    options["overrides"] = overrides
    for key in ("run", "suite"):
        if not options.get(key):
            raise UserError(f"{key}= is required\n{_USAGE}")
    options["overwrite"] = parse_bool(options.get("overwrite", "false"), "overwrite")
    options["debug"] = parse_bool(options.get("debug", "false"), "debug")
    if "progress" in options:
        options["progress"] = parse_bool(options["progress"], "progress")
    if "eval" in options and options["eval"] not in group_options("eval"):
        raise UserError(f"eval={options['eval']!r} is not a preset; valid presets: {', '.join(group_options('eval'))}")
    return options


def _check_overrides(overrides: Sequence[str]) -> None:
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+")
        parts = key.split(".")
        if len(parts) < 3 or parts[1] not in evaluation.SUITES:
            raise UserError(f"{key!r} is not a suite parameter; write eval.<suite>.<key>=VALUE with a suite "
                            f"from {', '.join(evaluation.SUITES)} (see ablations/conf/eval/default.yaml)")


def _finished_runs(path: str) -> list[Path]:
    root = Path(path)
    if not root.exists():
        raise UserError(f"run={path}: no such file or directory")
    runs = results.find_runs(root)
    if not runs:
        raise UserError(f"run={path}: no run record (status.json) there or below; "
                        "train one with `python -m ablations.run ...`")
    finished, other = [], []
    for run_dir in runs:
        try:
            status = (results.read_status(run_dir) or {}).get("status")
        except ValueError as error:
            status = f"unreadable ({error})"
        (finished if status == "finished" else other).append((run_dir, status))
    if not finished:
        listing = "; ".join(f"{d} is {s}" for d, s in other[:5])
        raise UserError(f"run={path}: no finished run ({listing}); only finished runs can be evaluated")
    for run_dir, status in other:
        print(f"skipping {run_dir}: {status}, not finished", flush=True)
    return [run_dir for run_dir, _ in finished]


def _run_config(run_dir: Path, options: dict) -> DictConfig:
    config_path = run_dir / results.CONFIG_FILE
    if not config_path.exists():
        raise UserError(f"{run_dir} has no {results.CONFIG_FILE}; it is not a complete run record")
    try:
        cfg = OmegaConf.load(config_path)
    except Exception as error:  # yaml and omegaconf raise several types for a damaged file
        raise results.CorruptRecord(f"{config_path} cannot be read ({type(error).__name__}); "
                                    f"{results.RESTART_HINT}") from None
    if not isinstance(cfg, DictConfig) or "dataset" not in cfg or "paths" not in cfg:
        raise results.CorruptRecord(f"{config_path} is not a run config of this package (no dataset or paths); "
                                    f"{results.RESTART_HINT}")
    with open_dict(cfg):
        if options.get("eval"):
            cfg.eval = compose([f"eval={options['eval']}"]).eval
        elif cfg.get("eval") is None:
            cfg.eval = compose([]).eval
        for override in options["overrides"]:
            key, value = override.split("=", 1)
            OmegaConf.update(cfg, key, OmegaConf.from_dotlist([f"v={value}"]).v, force_add=True)
        if options.get("device"):
            cfg.device = options["device"]
        if "progress" in options:
            cfg.progress = options["progress"]
    return cfg


def _stale_config(run_dir: Path, error: Exception) -> UserError:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return results.CorruptRecord(f"{run_dir}: its {results.CONFIG_FILE} does not hold what this version needs "
                                 f"({first}); it was written by another version or edited. "
                                 f"{results.RESTART_HINT[0].upper()}{results.RESTART_HINT[1:]}")


def _kind(cfg: DictConfig) -> str:
    kind = cfg.dataset.get("kind")
    if kind is None:
        from . import data as datasets

        try:
            kind = datasets.build_dataset(cfg.dataset, cfg.paths.data).kind
        except ValueError as error:
            raise UserError(str(error)) from None
    return str(kind)


def evaluate(argv: Sequence[str]) -> dict[Path, dict[str, Path]]:
    """Same as the command line; returns ``{run_dir: {suite: parquet path}}`` of what was written."""
    options = parse(argv)
    given = [name.strip() for name in options.get("plugins", "").strip("[]").split(",") if name.strip()]
    load_plugins(given)
    runs = _finished_runs(options["run"])
    for run_dir in runs:  # the variants, datasets and suites the runs were made with
        try:
            plugins = OmegaConf.load(run_dir / results.CONFIG_FILE).get("plugins") or []
        except Exception:  # noqa: BLE001 - a damaged record is reported below, run by run
            continue
        try:
            load_plugins(plugins)
        except UserError as error:  # shown, never swallowed: without it the run's suites are unknown
            if not given:
                raise UserError(f"{run_dir}: {error}. Its config.yaml names the plugins the run was made with; "
                                "pass them with plugins=[/path/to/plugin.py] if they have moved") from None
            print(f"warning: {run_dir}: {error}; using plugins={options['plugins']} from the command line",
                  file=sys.stderr, flush=True)
    _check_overrides(options["overrides"])
    evaluation.resolve(options["suite"])  # unknown names fail before anything is evaluated
    plans = []
    unusable = []
    for run_dir in runs:
        try:
            cfg = _run_config(run_dir, options)
            names = evaluation.resolve(options["suite"], _kind(cfg))
            for name in names:
                params(cfg, name)  # unknown suite parameters fail here, before anything is written
            # the run's own rule: a parameter of a suite not evaluated here, or not read on this data, changes nothing
            check_read(parse_overrides(options["overrides"]), cfg, suites=names, command="evaluate")
        except UserError as error:
            if len(runs) == 1:
                raise
            unusable.append((run_dir, error))  # one damaged record does not stop a folder's evaluation
            continue
        except OmegaConfBaseException as error:
            error = _stale_config(run_dir, error)
            if len(runs) == 1:
                raise error from None
            unusable.append((run_dir, error))
            continue
        plans.append((run_dir, cfg, names))
    for run_dir, error in unusable:
        print(f"skipping {run_dir}: {error}", flush=True)
    if not plans:
        raise UserError(f"run={options['run']}: none of its {len(runs)} finished run(s) can be evaluated "
                        f"(first: {unusable[0][1]})")
    faults.point("evaluate.start")
    written = {}
    for run_dir, cfg, names in plans:
        print(f"run {run_dir}: {', '.join(names)}", flush=True)
        results.remove_orphans(run_dir, dead_only=True)  # temporaries of an evaluation that was killed
        try:
            try:
                written[run_dir] = evaluation.run_suites(run_dir, names, cfg, overwrite=options["overwrite"])
            except OmegaConfBaseException as error:  # a record of an earlier version lacks a key a suite reads
                raise _stale_config(run_dir, error) from None
        except UserError as error:
            if len(plans) == 1:
                raise
            print(f"skipping {run_dir}: {error}", flush=True)
    return written


def _usage() -> str:
    lines = [__doc__, "suites:"]
    lines += [f"  {name:<15} {suite.description} [{', '.join(suite.kinds)} data]"
              for name, suite in evaluation.SUITES.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    return entry(evaluate, argv, _usage)


if __name__ == "__main__":
    sys.exit(main())
