"""Small drawing helpers the figure modules share: panel grids, notes, mean +- s.d. lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import style

__all__ = ["ERRORBAR", "grid", "hide_unused", "line", "note", "notes", "panel_title", "plain_log", "stamp_notes",
           "seed_counts", "left_out_variants"]

#: Error bands of every figure: mean +- one standard deviation over seeds (runs).
ERRORBAR = "sd"


def grid(nrows: int, ncols: int, full_width: bool | None = None, aspect: float = 0.75,
         sharex: bool | str = False, sharey: bool | str = False, height: float | None = None):
    """A figure with ``nrows x ncols`` axes (always a 2-D array), sized for a paper column
    (one or two panels per row) or the text width (three and more)."""
    full = ncols >= 3 if full_width is None else full_width
    width = style.TEXT if full else style.COLUMN
    panel_height = height if height is not None else width / ncols * aspect
    figure, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows), sharex=sharex,
                                sharey=sharey, squeeze=False, layout="constrained")
    return figure, axes


def note(figure, text: str) -> None:
    """Attach a note (data source, caveat, command for missing parts) to a figure; the command
    line prints it, the report shows it under the figure and the saved figure carries it
    (:func:`stamp_notes`). An empty note is ignored."""
    if not text:
        return
    existing = list(getattr(figure, "ablations_notes", []))
    existing.append(text)
    figure.ablations_notes = existing


def notes(figure) -> list[str]:
    return list(getattr(figure, "ablations_notes", []))


def stamp_notes(figure, width: int = 150) -> bool:
    """Write the figure's notes as text under its panels (once), so the figure itself says what it
    left out; True when there are notes (the figure is then saved with a tight bounding box)."""
    import textwrap

    texts = notes(figure)
    if not texts:
        return False
    if getattr(figure, "ablations_stamped", None) != texts:
        old = getattr(figure, "ablations_stamp_artist", None)
        if old is not None:
            old.remove()
        lines = [line for text in texts for line in textwrap.wrap(f"- {text}", width, subsequent_indent="  ")]
        figure.ablations_stamp_artist = figure.text(0.0, 0.0, "\n".join(lines), ha="left", va="top", fontsize=5.5,
                                                    color="#444444", transform=figure.transFigure)
        figure.ablations_stamped = texts
    return True


def panel_title(ax, text: str, letter: str | None = None) -> None:
    ax.set_title(f"({letter}) {text}" if letter else text, loc="left")


class _PlainLogFormatter:
    """Tick labels 0.2, 0.5, 1 on a log axis instead of powers of ten: every tick when the axis
    spans less than a decade, 2 and 5 within two decades, the powers of ten beyond."""

    def __init__(self, axis, major: bool):
        self.axis, self.major = axis, major

    def __call__(self, value: float, _position=None) -> str:
        if value <= 0:
            return ""
        low, high = sorted(self.axis.get_view_interval())
        span = high / low if low > 0 else np.inf
        mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
        shown_minor = (2, 3, 4, 5, 6, 7, 8, 9) if span < 10 else (2, 5) if span < 150 else ()
        show = self.major or mantissa in shown_minor
        return _human(value) if show else ""


def _human(value: float) -> str:
    """0.3, 5, 20k, 1.5M: tick labels without powers of ten."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def plain_log(ax, axis: str = "both") -> None:
    """Log scale with plain tick labels (0.2, 0.3, 0.5, 1) instead of powers of ten."""
    from matplotlib import ticker

    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"set_{name}scale")("log")
        target = getattr(ax, f"{name}axis")
        target.set_major_formatter(ticker.FuncFormatter(_PlainLogFormatter(target, True)))
        target.set_minor_formatter(ticker.FuncFormatter(_PlainLogFormatter(target, False)))


def hide_unused(axes: np.ndarray, used: int) -> None:
    for ax in np.ravel(axes)[used:]:
        ax.set_visible(False)


def line(ax, rows: pd.DataFrame, x: str, y: str, hue: str, palette: dict[str, str],
         hue_order: Sequence[str] | None = None, dashes: Any = False, markers: Any = True, **kwargs) -> None:
    """Mean over runs with a +- s.d. band (seaborn ``lineplot``), one line per ``hue`` level;
    ``dashes`` and ``markers`` are seaborn's (a dict per level, or a bool)."""
    sns.lineplot(data=rows, x=x, y=y, hue=hue, hue_order=hue_order, palette=palette, errorbar=ERRORBAR,
                 style=hue, style_order=hue_order, dashes=dashes, markers=markers, ax=ax,
                 markersize=3.5, err_kws={"alpha": 0.18, "linewidth": 0}, **kwargs)


def seed_counts(rows: pd.DataFrame, by: str, label: str = "line") -> str:
    """``n per <label> (seeds): a 3, b 2``: the runs behind each drawn series."""
    counts = rows.groupby(by, sort=False)["run_dir"].nunique() if "run_dir" in rows.columns else pd.Series(dtype=int)
    if counts.empty:
        return ""
    if counts.nunique() == 1:
        return f"n = {int(counts.iloc[0])} seed(s) per point ({by} {', '.join(map(str, counts.index))})"
    return f"n per {label} (seeds): " + ", ".join(f"{name} {int(n)}" for name, n in counts.items())


def left_out_variants(before: pd.DataFrame, after: pd.DataFrame, why: str) -> str | None:
    """A note naming the variants in ``before`` that the figure does not draw, with their run counts."""
    if "variant" not in before.columns:
        return None
    drawn = set(after["variant"]) if "variant" in after.columns else set()
    gone = before[~before["variant"].isin(drawn)]
    if gone.empty:
        return None
    counts = gone.groupby("variant")["run_dir"].nunique() if "run_dir" in gone.columns else gone["variant"].value_counts()
    listed = ", ".join(f"{variant} ({int(n)} run(s))" for variant, n in counts.items())
    root = before.attrs.get("runs_root", "runs")
    grids = before[["dataset", "model"]].drop_duplicates() if {"dataset", "model"} <= set(before.columns) else None
    grid = f" grid={grids.iat[0, 0]}/{grids.iat[0, 1]}" if grids is not None and len(grids) == 1 else ""
    return (f"not drawn ({why}): {listed}; python -m ablations.figures runs={root}{grid} figure=variant_comparison "
            "draws every variant")
