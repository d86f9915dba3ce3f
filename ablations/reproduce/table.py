"""The reproduction's table: per claim what we ran, the regime check, the result on what we ran,
and the verdict on the paper; then the paper's tables beside ours.

``figures/reproduce/<paper>/table.md`` holds, in order: the command, the scale and what it means,
the rules' version (:mod:`ablations.reproduce.preregistered`) and any claim whose rule was set
after its runs finished, how the verdicts are reached, one section per claim (and dataset), and
the paper's registered tables (published rows beside ours). ``table.csv`` holds the claim rows.
There are no counts of verdicts: a count mixes results on stand-ins with verdicts on a paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import preregistered as pre
from .grid import Grid
from .stats import FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURED, NOT_REACHED, STANDIN, multiplicity_note

__all__ = ["RULES_NOTE", "SCALE_NOTE", "markdown", "read_all", "result_in_words", "write"]

SCALE_NOTE = {
    "quick": ("quick scale: embedded stand-ins (digits, digits_events, generated delayed XOR), small networks and short "
              "schedules on a CPU. A claim gets a verdict on the paper only where its regime check passes; "
              "elsewhere it is \"stand-in only\": a result on the stand-in, not on the paper."),
    "sample": ("sample scale: subsets of the real datasets, reduced networks, T and schedules on a CPU. A claim gets a "
               "verdict on the paper only where its regime check passes; elsewhere it is \"stand-in only\"."),
    "full": ("full scale: the papers' datasets, networks, schedules and seeds. A claim whose regime check fails is "
             "\"regime not reached\", with what would reach it."),
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


def result_in_words(row: dict) -> str:
    """The result of the check alone, on what was run, in words (never a verdict on the paper)."""
    result = str(row.get("result") or "")
    if result in ("", NOT_MEASURED):
        return "not measured"
    words = {HOLDS: "the claimed effect is there", FAILS: "the claimed effect is not there",
             INCONCLUSIVE: "undecided (the interval contains the margin)"}.get(result, result)
    return f"{words} on {row.get('dataset')} (the check alone, before the family's correction)"


RULES_NOTE = (
    "How a verdict on the paper is reached (ablations/reproduce/preregistered.py): each claim has a registered "
    "regime check (a positive control computed from the same runs, threshold and source beside the claim). Where it "
    "fails, no verdict on the paper is given: \"stand-in only\" at quick and sample scale, \"regime not reached\" at "
    "full scale, with the measured value and what would reach it. Where it passes, the claim is tested as stated: "
    "\"holds\" when the one-sided 95 % lower bound of the effect exceeds the claim's margin, \"does not hold\" when "
    "the upper bound is below it (equivalence claims: TOST), paired differences by seed for train.rng=paired grids, "
    "McNemar's exact test for solved / not solved per seed; p (holds) and p (does not hold) are those two one-sided "
    "tests, and Holm's correction runs over both directions of every claim whose regime is reached.")


def _p(row: dict, key: str) -> str:
    value = row.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(value):
        return "-"
    return "< 1e-4" if value < 1e-4 else f"{value:.2g}"


def _claims_markdown(verdicts: pd.DataFrame) -> list[str]:
    lines: list[str] = []
    for row in verdicts.to_dict("records"):
        verdict = str(row["verdict"])
        lines += [f"### `{row['claim']}` ({row['dataset']}): verdict on the paper: **{verdict}**", "",
                  f"- **The paper says** ({_escape(row['source'])}): {_escape(row['sentence'])}"
                  + (f" Published: {_escape(row['published'])}." if row.get("published") else "")]
        if row["dataset"] == "(its parts)":
            lines += [f"- **Made of**: {_escape(row['evidence'])}", ""]
            continue
        if row.get("ran"):
            lines.append(f"- **What we ran**: {_escape(row['ran'])}")
        if row.get("regime"):
            reached = {"yes": "reached", "no": "**not reached**"}.get(str(row.get("regime_reached")), "not checked")
            lines.append(f"- **Regime check** ({_escape(row['regime'])}): {reached}"
                         + (f"; measured: {_escape(row['regime_value'])}" if row.get("regime_value") else "")
                         + (f". To reach it: {_escape(row['to_reach'])}" if row.get("to_reach") and
                            str(row.get("regime_reached")) != "yes" else ""))
        lines.append(f"- **Result on what we ran**: {result_in_words(row)}. {_escape(row['evidence'])}")
        if verdict in (HOLDS, FAILS, INCONCLUSIVE):
            lines.append(f"- **Verdict on the paper**: {verdict} (p holds {_p(row, 'p_holm')}, p does not hold "
                         f"{_p(row, 'p_fails_holm')}, after Holm; {_escape(row.get('method') or 'exact')})")
        elif verdict in (STANDIN, NOT_REACHED):
            lines.append(f"- **Verdict on the paper**: none ({verdict}): the regime check above did not pass")
        if row.get("post_hoc"):
            lines.append(f"- **Flag**: {_escape(row['post_hoc'])}")
        lines.append("")
    return lines


def markdown(grid: Grid, verdicts: pd.DataFrame, tables: Sequence[pd.DataFrame] = (), wall_s: float | None = None,
             n_runs: int = 0, skipped_tables: Sequence[str] = (), missing: int = 0,
             runs_s: float | None = None) -> str:
    from ..figures import markdown_table
    from .claims import family_size

    claims, hypotheses = family_size(verdicts) if not verdicts.empty else (0, 0)
    flagged = sorted(set(verdicts.loc[verdicts["post_hoc"].astype(str) != "", "claim"])) \
        if not verdicts.empty and "post_hoc" in verdicts.columns else []
    head = [f"# Reproduction: {grid.title}", "",
            f"Seed {grid.seed_paper}; `python -m ablations.reproduce paper={grid.paper} scale={grid.scale}"
            f"{''.join(' ' + e for e in grid.extra)}`; "
            f"{n_runs} run(s), seeds {', '.join(map(str, grid.seeds))}."
            + (f" **Incomplete: {missing} of {len(grid.points)} grid points have no finished, evaluated run yet**; "
               "the claims judge the runs that exist." if missing else ""), "",
            f"**Scale: {grid.scale}.** {SCALE_NOTE.get(grid.scale, '')}", "",
            f"Grid: {grid.description} ({Path(grid.source).name})."
            + (f" **Changed on the command line for every point: {' '.join(grid.extra)}** (the grid's "
               "description above does not include these)." if grid.extra else ""), "",
            f"**Claims version {pre.CLAIMS_VERSION}**, rules set {pre.CLAIMS_SINCE} "
            "(ablations/reproduce/preregistered.py; each claim's rule fingerprint is in table.csv, `rule_hash`)."
            + (f" **Rule set after its runs finished** (see the flag under each): {', '.join(flagged)}." if flagged
               else " No claim's rule was set after the runs it judges finished."), "",
            RULES_NOTE, "", multiplicity_note(claims, hypotheses), ""]
    if wall_s is not None:
        head += [f"Wall time of this command: {wall_s:.0f} s"
                 + (f"; the grid's runs recorded {runs_s:.0f} s of training and evaluation in all (status.json "
                    "`wall_time_s`, summed; a re-run that trains nothing keeps this number)." if runs_s else "."), ""]
    body = ["## Claims", "", *_claims_markdown(verdicts)]
    if tables or skipped_tables:
        body += ["## The paper's tables, published beside ours", "",
                 "Our cells are measured on what the claims above say we ran; where a claim's regime check did not pass, "
                 "its numbers compare with the published ones in neither value nor ordering.", ""]
        for table in tables:
            body += [markdown_table(table), ""]
        for reason in skipped_tables:
            body += [f"- not built: {reason}"]
    return "\n".join(head + body).rstrip() + "\n"


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
