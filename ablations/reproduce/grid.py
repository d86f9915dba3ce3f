"""A paper's grid at one scale, read from ``ablations/conf/reproduce/<paper>.yaml``.

The file names the paper, its figures and tables (names of :mod:`ablations.figures`), and per
scale (``quick`` | ``sample`` | ``full``): the seeds, the overrides every grid point gets, the
evaluation suites, and groups. A group adds its own overrides and suites (and may plan its own
seeds) and sweeps keys over values; a grid point is::

    scale overrides + group overrides + one value per swept key + seed=k   (eval.suites=[...])

Every grid point is an ordinary run (``ablations.run.run``), so a grid point shared by two papers
or two groups (same config, same seed) is trained once. Extra overrides given on the command line
(``train.epochs=1``) are appended to every grid point.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

__all__ = ["CONF_DIR", "SCALES", "Grid", "Point", "format_value", "load_grid", "papers"]

CONF_DIR = Path(__file__).resolve().parent.parent / "conf" / "reproduce"
SCALES = ("quick", "sample", "full")


def papers() -> list[str]:
    """The paper names with a grid file, sorted."""
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def format_value(value: Any) -> str:
    """A YAML value as Hydra override text (``inf`` for infinity, ``[a,b]`` for lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Point:
    """One grid point: the run's overrides (seed last), its suites and the group it belongs to."""

    group: str
    overrides: tuple[str, ...]
    seed: int
    suites: tuple[str, ...]

    def all_overrides(self) -> list[str]:
        """The overrides of :func:`ablations.run.run`: the point's, its suites and its seed."""
        return [*self.overrides, f"eval.suites=[{','.join(self.suites)}]", f"seed={self.seed}"]

    def command(self) -> str:
        """The equivalent command line (for messages and the manifest)."""
        return "python -m ablations.run " + " ".join(_quote(o) for o in self.all_overrides())


def _quote(text: str) -> str:
    """Shell quoting for an override holding brackets, braces, commas or spaces."""
    return f"'{text}'" if any(c in text for c in "[]{}, ") else text


@dataclass(frozen=True)
class Grid:
    paper: str
    seed_paper: str
    title: str
    scale: str
    description: str
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    points: tuple[Point, ...] = field(default_factory=tuple)
    source: str = ""
    extra: tuple[str, ...] = ()  # overrides given on the command line, appended to every point

    @property
    def seeds(self) -> list[int]:
        return sorted({p.seed for p in self.points})


def _as_list(node: Any, where: str) -> list:
    if node is None:
        return []
    if not isinstance(node, list):
        raise UserError(f"{where} must be a list, got {node!r}")
    return node


def load_grid(paper: str, scale: str, extra: Sequence[str] = (), seeds: Iterable[int] | None = None,
              path: str | Path | None = None, groups: Sequence[str] | None = None) -> Grid:
    """The grid of ``paper`` at ``scale`` (``path``: a grid file of one's own instead of the shipped one).

    ``extra`` overrides are appended to every point; ``seeds`` replaces the scale's seeds;
    ``groups`` keeps only the named groups of the scale (the claims on the others are then
    "not measured").
    """
    if scale not in SCALES:
        raise UserError(f"scale={scale!r} is not one of {list(SCALES)}")
    if path is None:
        if paper not in papers():
            raise UserError(f"paper={paper!r} has no grid; papers: {', '.join(papers())} "
                            f"(grid files in {CONF_DIR})")
        path = CONF_DIR / f"{paper}.yaml"
    path = Path(path)
    if not path.exists():
        raise UserError(f"grid file {path} does not exist")
    spec = yaml.safe_load(path.read_text()) or {}
    scales = spec.get("scales") or {}
    if scale not in scales:
        raise UserError(f"{path} has no scale {scale!r}; scales there: {', '.join(scales) or 'none'}")
    node = scales[scale] or {}
    where = f"{path.name}: scales.{scale}"
    base = [str(o) for o in _as_list(node.get("overrides"), f"{where}.overrides")]
    base_suites = [str(s) for s in _as_list(node.get("suites"), f"{where}.suites")]
    seed_list = [int(s) for s in (seeds if seeds is not None else _as_list(node.get("seeds"), f"{where}.seeds"))]
    if not seed_list:
        raise UserError(f"{where}: no seeds")
    points: list[Point] = []
    all_groups = _as_list(node.get("groups"), f"{where}.groups") or [{"name": "all"}]
    names = [str(group.get("name", f"group{index}")) for index, group in enumerate(all_groups)]
    if groups is not None:
        unknown = [g for g in groups if g not in names]
        if unknown or not groups:
            raise UserError(f"groups={','.join(groups)}: {path.name} scale {scale} has the groups "
                            f"{', '.join(names)}; name one or more of them, separated by commas")
    for name, group in zip(names, all_groups):
        if groups is not None and name not in groups:
            continue
        group_overrides = [str(o) for o in _as_list(group.get("overrides"), f"{where}.groups.{name}.overrides")]
        suites = tuple(dict.fromkeys(base_suites + [str(s) for s in _as_list(group.get("suites"), name)]))
        sweep = group.get("sweep") or {}
        if not isinstance(sweep, dict):
            raise UserError(f"{where}.groups.{name}.sweep must map keys to lists of values")
        keys = list(sweep)
        values = [v if isinstance(v, list) else [v] for v in sweep.values()]
        group_seeds = seed_list
        if seeds is None and group.get("seeds") is not None:  # a group's own seeds (planned for its claims)
            group_seeds = [int(s) for s in _as_list(group.get("seeds"), f"{where}.groups.{name}.seeds")]
        for combination in itertools.product(*values) if keys else [()]:
            swept = [f"{k}={format_value(v)}" for k, v in zip(keys, combination)]
            overrides = tuple(base + group_overrides + swept + [str(e) for e in extra])
            for seed in group_seeds:
                points.append(Point(group=name, overrides=overrides, seed=seed, suites=suites))
    description = " ".join(str(node.get("description", "")).split())
    if groups is not None and len(groups) < len(names):
        description += f" (only the group(s) {', '.join(g for g in names if g in groups)} of {', '.join(names)})"
    return Grid(paper=str(spec.get("paper", paper)), seed_paper=str(spec.get("seed_paper", "")),
                title=str(spec.get("title", paper)), scale=scale,
                description=description,
                figures=tuple(spec.get("figures") or ()), tables=tuple(spec.get("tables") or ()),
                points=tuple(points), source=str(path), extra=tuple(str(e) for e in extra))
