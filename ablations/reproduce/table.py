"""The reproduction's table: every claim with its verdict, and the paper's tables beside ours.

``figures/reproduce/<paper>/table.md`` holds, in order: the scale and what it means, the verdict
counts, one row per claim (and dataset) with the paper's number and our evidence, and the
paper's registered tables (:mod:`ablations.figures.tables`: published rows beside ours, in the
same units). ``table.csv`` holds the claim rows. Quick and sample numbers compare with the paper
in ordering only (smaller data, networks and schedules), never in absolute terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .grid import Grid
from .stats import INCONCLUSIVE, NOT_COMPARABLE, NOT_REACHED, VERDICTS, multiplicity_note

__all__ = ["SCALE_NOTE", "STATISTICS_NOTE", "markdown", "read_all", "write"]

SCALE_NOTE = {
    "quick": ("quick scale: embedded data (digits, digits_events, delayed XOR), small networks and short schedules "
              "on a CPU. Our numbers compare with the paper's in ordering (which variant or tau is higher), "
              "not in absolute terms."),
    "sample": ("sample scale: subsets of the real datasets, reduced networks, T and schedules on a CPU. Our numbers "
               "compare with the paper's in ordering, not in absolute terms."),
    "full": "full scale: the papers' datasets, networks, schedules and seeds; numbers compare cell by cell.",
}


def _escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _number(value: object, kind: str) -> str:
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if math.isnan(value):
        return ""
    if kind == "seeds":
        return "never (effect on the bound)" if math.isinf(value) else f"{value:.0f}"
    return "< 1e-4" if value < 1e-4 else f"{value:.2g}"


def _claims_markdown(verdicts: pd.DataFrame) -> list[str]:
    lines = ["| claim | source | sentence | dataset | verdict | p | p (Holm) | seeds needed | published | "
             "evidence (ours) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in verdicts.to_dict("records"):
        needed = _number(row.get("seeds_needed"), "seeds") if row["verdict"] == INCONCLUSIVE else ""
        lines.append("| " + " | ".join(_escape(v) for v in (
            row["claim"], row["source"], row["sentence"], row["dataset"], f"**{row['verdict']}**",
            _number(row.get("p"), "p"), _number(row.get("p_holm"), "p"), needed, row["published"], row["evidence"]))
            + " |")
    return lines


STATISTICS_NOTE = (
    "Statistics (ablations/reproduce/stats.py): mean ± s.d. over seeds. Runs trained with train.rng=paired (the "
    "same weights, batches and draws for the same seed in every variant) are compared as paired differences "
    "over seeds (paired t); other runs by Welch's two-sample bounds. A difference holds when it exceeds the "
    "stated margin and its one-sided 95 % bound excludes zero, does not hold when its upper bound is below the "
    "margin, and is inconclusive otherwise; equivalence claims use two one-sided tests (TOST) against the margin "
    "their evidence states; success counts (delayed XOR) use Fisher's exact test. p is the one-sided p-value "
    "of \"holds\"; p (Holm) is Holm's step-down adjustment over every claim of the paper that carries a p, and "
    "\"holds\" needs it below 0.05. \"Seeds needed\": seeds per side at which an effect equal to the observed "
    "one would be decided with 80 % power at one-sided 95 %, at the observed spread. \"not comparable\": "
    "measured outside the paper's regime (the evidence gives the distance); \"regime not reached\": no run "
    "reaches the regime the claim speaks of at this budget.")


def markdown(grid: Grid, verdicts: pd.DataFrame, tables: Sequence[pd.DataFrame] = (), wall_s: float | None = None,
             n_runs: int = 0, skipped_tables: Sequence[str] = (), missing: int = 0,
             runs_s: float | None = None) -> str:
    from ..figures import markdown_table

    counts = verdicts["verdict"].value_counts().to_dict() if not verdicts.empty else {}
    head = [f"# Reproduction: {grid.title}", "",
            f"Seed {grid.seed_paper}; `python -m ablations.reproduce paper={grid.paper} scale={grid.scale}"
            f"{''.join(' ' + e for e in grid.extra)}`; "
            f"{n_runs} run(s), seeds {', '.join(map(str, grid.seeds))}."
            + (f" **Incomplete: {missing} of {len(grid.points)} grid points have no finished, evaluated run yet**; "
               "the verdicts judge the runs that exist." if missing else ""), "",
            f"**Scale: {grid.scale}.** {SCALE_NOTE.get(grid.scale, '')}", "",
            f"Grid: {grid.description} ({Path(grid.source).name})."
            + (f" **Changed on the command line for every point: {' '.join(grid.extra)}** (the grid's "
               "description above does not include these)." if grid.extra else ""), "",
            "Verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS) + ".", "",
            STATISTICS_NOTE, "", _multiplicity(verdicts), ""]
    if wall_s is not None:
        head += [f"Wall time of this command: {wall_s:.0f} s"
                 + (f"; the grid's runs recorded {runs_s:.0f} s of training and evaluation in all (status.json "
                    "`wall_time_s`, summed; a re-run that trains nothing keeps this number)." if runs_s else "."), ""]
    body = ["## Claims", "", *_claims_markdown(verdicts), ""]
    regimes = _regimes(verdicts)
    if tables or skipped_tables:
        body += ["## The paper's tables, published beside ours", ""]
        if regimes:
            body += ["**Regime.** Numbers below that belong to these claims were measured outside the paper's regime "
                     "and compare with the published ones in neither value nor ordering:", "", *regimes, ""]
        for table in tables:
            body += [markdown_table(table), ""]
        for reason in skipped_tables:
            body += [f"- not built: {reason}"]
    return "\n".join(head + body).rstrip() + "\n"


def _regimes(verdicts: pd.DataFrame) -> list[str]:
    """One line per claim measured outside the paper's regime (not comparable / regime not reached)."""
    if verdicts.empty:
        return []
    rows = verdicts[verdicts["verdict"].isin([NOT_COMPARABLE, NOT_REACHED]) & (verdicts["dataset"] != "(its parts)")]
    return [f"- `{row['claim']}` ({row['dataset']}, {row['verdict']}): {_escape(str(row['evidence']).split('. Measured')[0])}"
            for row in rows.to_dict("records")]


def _multiplicity(verdicts: pd.DataFrame) -> str:
    if verdicts.empty or "p" not in verdicts.columns:
        return ""
    p = pd.to_numeric(verdicts["p"], errors="coerce")
    return "Multiplicity: " + multiplicity_note(p.tolist(), verdicts["verdict"].tolist())


def write(out_dir: Path, text: str, verdicts: pd.DataFrame, scale: str, extra: Sequence[str] = ()) -> list[Path]:
    """``table.md`` (``text``) and ``table.csv`` (the claim rows, with the scale and the command-line
    overrides) in ``out_dir``."""
    from ..atomic import atomic_write_text
    from ..figures import readable

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = verdicts.assign(scale=scale, overrides=" ".join(extra))
    return [readable(atomic_write_text(out_dir / "table.md", text)),
            readable(atomic_write_text(out_dir / "table.csv", rows.to_csv(index=False)))]


def read_all(root: str | Path) -> dict[str, pd.DataFrame]:
    """The claim rows of every reproduction written under ``root`` (``<root>/<paper>/table.csv``)."""
    out = {}
    for path in sorted(Path(root).glob("*/table.csv")):
        try:
            out[path.parent.name] = pd.read_csv(path, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
    return out
