"""Small drawing helpers the figure modules share: panel grids, notes, mean +- s.d. lines."""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import style

__all__ = ["grid", "note", "notes", "line", "panel_title", "hide_unused", "plain_log", "ERRORBAR"]

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
    line prints it and the report shows it under the figure."""
    existing = list(getattr(figure, "ablations_notes", []))
    existing.append(text)
    figure.ablations_notes = existing


def notes(figure) -> list[str]:
    return list(getattr(figure, "ablations_notes", []))


def panel_title(ax, text: str, letter: str | None = None) -> None:
    ax.set_title(f"({letter}) {text}" if letter else text, loc="left")


def plain_log(ax, axis: str = "both") -> None:
    """Log scale with plain tick labels (0.3, 0.5, 1) instead of powers of ten."""
    import matplotlib.ticker as ticker

    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"set_{name}scale")("log")
        target = getattr(ax, f"{name}axis")
        target.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        target.set_minor_formatter(ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:.1g}"[0] in "25" else ""))


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
