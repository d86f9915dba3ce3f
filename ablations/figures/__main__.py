"""``python -m ablations.figures [key=value ...]``: regenerate every figure and table from run records.

Keys::

    runs=PATH            results root to read (default: runs; same as paths.runs=PATH)
    out=PATH             output folder (default: figures; same as paths.figures=PATH)
    figure=NAME[,NAME]   only these figures / tables (default: all); list=true shows the names
    format=png,pdf       figure file formats (default: png,pdf)
    grid=DATASET/MODEL   draw only the runs of this grid (dataset and model); needed by the grid figures
                         (variant_comparison, variant_heatmap, variant_learning_curves) when the runs
                         folder holds several: they list the grids found
    paths.studies=PATH   where user study files live (default: studies), for the study figures
    debug=true           tracebacks for errors

Figures go to ``<out>/<name>.png|pdf``, tables to ``<out>/<name>.csv|md``, study figures to
``<out>/studies/<study>/<name>.png|pdf``. A figure whose results are missing is skipped with the
command that would produce them; the exit code stays 0. An unknown figure or key exits with 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from ..cli import entry, parse as parse_arguments
from ..errors import UserError, parse_bool
from ..registry import load_plugins

USAGE = __doc__

KEYS = {"runs": "runs", "paths.runs": "runs", "out": "out", "paths.figures": "out", "figure": "figure",
        "figures": "figure", "format": "format", "grid": "grid", "paths.studies": "studies", "debug": "debug", "list": "list",
        "plugins": "plugins"}


DEFAULTS = {"runs": "runs", "out": "figures", "figure": "", "format": "png,pdf", "grid": "", "studies": "studies",
            "debug": "false", "list": "false", "plugins": ""}


def parse(argv: Sequence[str]) -> dict[str, str]:
    """``key=value`` arguments -> options; raises UserError on an unknown key or a bare word."""
    options, _ = parse_arguments(argv, KEYS, DEFAULTS,
                                 example="python -m ablations.figures runs=runs figure=noise_robustness")
    load_plugins(name.strip() for name in options["plugins"].strip("[]").split(",") if name.strip())
    return options


def main(argv: Sequence[str] | None = None) -> int:
    return entry(_main, argv, USAGE)


def _main(argv: Sequence[str]) -> int:
    from pathlib import Path

    from . import FIGURES, get, load, names, render

    options = parse(argv)
    if parse_bool(options["list"], "list"):
        for name, spec in FIGURES.items():
            print(f"{name:24s} {spec.kind:6s} {spec.paper}")
        return 0
    which = [n.strip() for n in options["figure"].split(",") if n.strip()] or names()
    for name in which:
        get(name)  # unknown name -> UserError listing the valid ones, before any work
    formats = [f.strip() for f in options["format"].split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        raise UserError(f"format={options['format']!r}: allowed formats are png, pdf, svg (comma-separated)")
    start = time.perf_counter()
    runs = Path(options["runs"])
    results = load(runs)
    results.attrs["studies_dir"] = options["studies"]
    if options["grid"]:
        from .settings import filter_grid

        results = filter_grid(results, options["grid"])
    elif options["figure"]:
        _refuse_ambiguous_grid(results, which)
    n_runs = int((results["kind"] == "run").sum()) if "kind" in results.columns else 0
    print(f"results: {n_runs} run(s) under {runs}" + ("" if runs.exists() else " (folder does not exist)")
          + f", loaded in {time.perf_counter() - start:.1f} s", flush=True)
    outcome = render(results, options["out"], which, formats=formats)
    total = time.perf_counter() - start
    print(f"\n{len(outcome.produced)} figure(s)/table(s) written to {options['out']}, "
          f"{len(outcome.skipped)} skipped, in {total:.1f} s", flush=True)
    if outcome.skipped:
        print("skipped (run the command to produce the missing results, then this command again):")
        for name, missing in outcome.skipped.items():
            print(f"  {name}: {missing.reason}")
            for command in missing.commands:
                print(f"      {command}")
    return 0


GRID_FIGURES = ("variant_comparison", "variant_heatmap", "variant_learning_curves")


def _refuse_ambiguous_grid(results, which: list[str]) -> None:
    """Asked by name for a grid figure of a runs folder holding several grids: exit 2 before any work,
    listing the grids (drawing every figure skips them instead, with the same listing)."""
    from .select import run_rows
    from .settings import AmbiguousGrid, choose_grid

    asked = [name for name in which if name in GRID_FIGURES]
    if not asked:
        return
    try:
        choose_grid(run_rows(results), results, ",".join(asked))
    except AmbiguousGrid as ambiguous:
        raise UserError(f"{ambiguous.reason}\n" + "\n".join(f"  {c}" for c in ambiguous.commands)) from None


if __name__ == "__main__":
    sys.exit(main())
