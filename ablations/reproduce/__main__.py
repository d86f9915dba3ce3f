"""``python -m ablations.reproduce paper=NAME scale=quick|sample|full [key=value ...]``

Trains and evaluates the paper's grid (``ablations/conf/reproduce/<paper>.yaml``), judges every
claim (a verdict on the paper only where the claim's regime check passes; docs/reproducing.md) and
writes ``<paths.figures>/reproduce/<paper>/table.md|csv`` and the paper's figures.

Keys::

    paper=leak|roles|linear_leak   the paper (seed 003, seed 001, seed 002)
    scale=quick|sample|full        quick: embedded data on a CPU; sample: real subsets (paths.data);
                                   full: the papers' data and schedules (a GPU)
    paths.runs=PATH                run records (default runs)
    paths.figures=PATH             output root (default figures)
    paths.data=PATH                datasets (default datasets); for scale=sample point it at the subsets
    device=auto|cpu|cuda           training device (default auto)
    seeds=0,1                      replace the grid's seeds
    groups=nmnist,mnist            only these groups of the scale (the other groups' claims: not measured)
    grid=PATH                      a grid file of one's own instead of the shipped one
    figures=false                  do not draw the figures
    train=false                    train nothing: judge the grid points already finished, found from
                                   their run records under paths.runs (a suite not evaluated: not measured)
    jobs=N|auto                    grid points trained at once, in parallel processes (default auto:
                                   one per core, each with the threads its share of the cores gives)
    launcher=NAME                  send the grid points through Hydra's launcher plugin NAME:
                                   submitit_local | submitit_slurm | joblib (extra [cluster]); its
                                   settings as hydra.launcher.KEY=VALUE (hydra.launcher.partition=gpu)
    progress=false                 no progress bar
    list=true                      print the grid's run commands, check every point as `run` would
                                   (exit 2, naming each refused point and why) and exit
    debug=true                     tracebacks for errors
    KEY.SUB=VALUE                  any dotted run override, appended to every grid point (train.epochs=1)

Re-running a finished reproduction trains and evaluates nothing: it re-judges the claims and
rewrites the table.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import parallel
from ..cli import entry, parse as parse_arguments
from ..errors import UserError, parse_bool

USAGE = __doc__

KEYS = ("paper", "scale", "paths.runs", "paths.figures", "paths.data", "device", "seeds", "groups", "grid", "figures",
        "train", "progress", "list", "debug", "jobs", "launcher")


def parse(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``key=value`` arguments -> (options, extra run overrides); UserError on a bad argument."""
    defaults = {"paper": "", "scale": "quick", "paths.runs": "runs", "paths.figures": "figures", "paths.data": "",
                "device": "", "seeds": "", "groups": "", "grid": "", "figures": "true", "train": "true", "progress": "true",
                "list": "false", "debug": "false", "jobs": "auto", "launcher": ""}
    # a dotted key that is not one of ours is a run override (train.epochs=1), appended to every grid point
    options, extra = parse_arguments(argv, {key: key for key in KEYS}, defaults,
                                     passthrough=lambda key: "." in key or key.startswith(("+", "~")),
                                     example="python -m ablations.reproduce paper=leak scale=quick train.epochs=1")
    if not options["paper"]:
        from .grid import papers

        raise UserError(f"say which paper: paper={'|'.join(papers())}")
    return options, extra


def main(argv: Sequence[str] | None = None) -> int:
    return entry(_main, argv, USAGE)


def _main(argv: Sequence[str]) -> int:
    from . import load_grid, reproduce
    from .preregistered import CLAIMS_VERSION

    options, extra = parse(argv)
    seeds = None
    if options["seeds"]:
        try:
            seeds = [int(s) for s in options["seeds"].split(",") if s.strip()]
        except ValueError:
            raise UserError(f"seeds={options['seeds']!r}: give integers separated by commas, e.g. seeds=0,1") from None
    groups = [g.strip() for g in options["groups"].split(",") if g.strip()] if options["groups"] else None
    common = [f"paths.runs={options['paths.runs']}"]
    if options["paths.data"]:
        common.append(f"paths.data={options['paths.data']}")
    if options["device"]:
        common.append(f"device={options['device']}")
    common += [o for o in extra if o.startswith("hydra.")]  # the launcher's settings, not the runs'
    extra = [o for o in extra if not o.startswith("hydra.")]
    jobs = parallel.parse_jobs(options["jobs"])
    if parse_bool(options["list"], "list"):
        grid = load_grid(options["paper"], options["scale"], extra=extra, seeds=seeds, path=options["grid"] or None,
                         groups=groups)
        from .launch import check_points, refusal_message

        for point in grid.points:
            print(point.command() + " " + " ".join(common))
        refused = check_points(grid, common)  # the checks `python -m ablations.run` makes, per point
        if refused:
            raise UserError(refusal_message(grid, refused))
        print(f"# all {len(grid.points)} grid point(s) pass the run checks", file=sys.stderr)
        return 0
    result = reproduce(options["paper"], options["scale"], common=common, extra=extra, seeds=seeds,
                       figures_root=options["paths.figures"], grid_path=options["grid"] or None,
                       draw=parse_bool(options["figures"], "figures"),
                       progress=parse_bool(options["progress"], "progress"),
                       train=parse_bool(options["train"], "train"), groups=groups, jobs=jobs,
                       launcher=options["launcher"] or None)
    print()
    for row in result.verdicts.to_dict("records"):
        regime = {"yes": "regime reached", "no": "regime NOT reached"}.get(str(row["regime_reached"]), "")
        print(f"[{row['verdict']}] {row['claim']} ({row['dataset']}): {row['sentence']}"
              + (f"\n    regime: {regime}: {row['regime_value']}" if regime else "")
              + (f"\n    result on what we ran: {row['result']}: {row['evidence']}" if row["result"] else
                 f"\n    {row['evidence']}"))
    print(f"\n{result.grid.paper} at scale {result.grid.scale} (claims version {CLAIMS_VERSION}): "
          + f"{result.trained} run(s) trained/evaluated now, {result.skipped} already complete"
          + (f", {result.missing} not run yet" if result.missing else "")
          + (f", {len(result.failed)} FAILED" if result.failed else "")
          + f"; {result.seconds:.0f} s\n  -> {', '.join(str(p) for p in result.files)}", flush=True)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
