"""One look for every figure: seaborn theme, a fixed colour per variant, paper-column sizes.

* :func:`theme` is the single seaborn theme (``ticks`` style, ``paper`` context, 7-8 pt fonts)
  as a context manager; the registry draws every figure inside it, so importing this module
  changes no global matplotlib state.
* :data:`VARIANTS` lists the registered variants (:data:`ablations.neurons.VARIANTS`, a plugin's
  too) in the order figures list them: the registry's.
* :data:`VARIANT_COLORS` gives each of the 8 shipped variant presets (``conf/variant/``) one colour
  (Okabe-Ito based, colour-blind safe) and :data:`VARIANT_MARKERS` one marker, used by every
  figure that shows variants. Figures over the membrane time constant (seed 003) colour by
  :func:`tau_color`: IF (``tau = inf``) takes the ``no_leak`` colour, complete leak
  (``tau = 0``) the ``complete_leak`` colour, finite taus shades of the ``vanilla`` blue
  (darker = more leak).
* Sizes are in inches for a two-column paper: :data:`COLUMN` (one column) and :data:`TEXT`
  (full text width); :func:`size` gives ``(width, height)`` for a grid of panels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
import seaborn as sns

from .. import neurons

__all__ = [
    "COLUMN",
    "DPI",
    "LABELS",
    "TEXT",
    "VARIANTS",
    "VARIANT_COLORS",
    "VARIANT_LABELS",
    "VARIANT_MARKERS",
    "legend_outside",
    "rc",
    "size",
    "tau_color",
    "tau_label",
    "tau_palette",
    "theme",
    "variant_color",
    "variant_label",
    "variant_marker",
]

COLUMN = 3.5   # in: one column of a two-column paper (IEEE 3.5 in, NeurIPS single column 5.5 in)
TEXT = 7.16    # in: full text width of a two-column paper
DPI = 200      # PNG resolution

class RegisteredVariants(Sequence):
    """The names in the variant registry (:data:`ablations.neurons.VARIANTS`), in registration order,
    read at each use: a variant a plugin registers later is listed too."""

    def __getitem__(self, index):
        return tuple(neurons.VARIANTS)[index]

    def __len__(self) -> int:
        return len(neurons.VARIANTS)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(neurons.VARIANTS))

    def __repr__(self) -> str:
        return f"RegisteredVariants({', '.join(neurons.VARIANTS)})"


#: The registered variants, in the order figures list them (the shipped presets first).
VARIANTS = RegisteredVariants()

#: One colour per variant, the same in every figure (Okabe-Ito palette + two dark tones).
VARIANT_COLORS: dict[str, str] = {
    "vanilla": "#0072B2",                     # blue
    "no_leak": "#009E73",                     # bluish green (seed 003 draws IF in green)
    "complete_leak": "#D55E00",               # vermillion
    "no_reset": "#E69F00",                    # orange
    "recurrent": "#CC79A7",                   # reddish purple
    "linear_leak": "#56B4E9",                 # sky blue (a leak variant, kin of vanilla)
    "no_leak_recurrent": "#882255",           # wine
    "no_leak_no_reset_recurrent": "#404040",  # dark grey
    "alif": "#F0E442",                        # yellow
    "synaptic": "#117733",                    # dark green
}
UNKNOWN_COLOR = "#999999"

VARIANT_MARKERS: dict[str, str] = {
    "vanilla": "o", "no_leak": "s", "complete_leak": "v", "no_reset": "D", "recurrent": "^",
    "linear_leak": "P", "no_leak_recurrent": "X", "no_leak_no_reset_recurrent": "*", "alif": "h", "synaptic": "p",
}

#: Legend names (seed 001's V1-V6 naming where it has one).
VARIANT_LABELS: dict[str, str] = {
    "vanilla": "vanilla LIF",
    "no_leak": "no leak (IF)",
    "complete_leak": "complete leak",
    "no_reset": "no reset",
    "recurrent": "recurrent",
    "linear_leak": "linear leak",
    "no_leak_recurrent": "no leak + recurrent",
    "no_leak_no_reset_recurrent": "no leak, no reset, recurrent",
    "alif": "adaptive threshold (ALIF)",
    "synaptic": "synaptic current",
}

#: Axis labels with units, shared by all figures.
LABELS: dict[str, str] = {
    "accuracy": "test accuracy (%)",
    "severity": "noise severity level",
    "epoch": "epoch",
    "test_loss": "test loss (train.loss, per sample)",
    "train_sse": "train SSE (per sample)",
    "test_sse": "test SSE (per sample)",
    "frequency": "frequency (fraction of the sampling rate)",
    "input_power": "power per input entry (spikes$^2$)",
    "critical_frequency": "critical frequency (fraction of the sampling rate)",
    "enwsi": "ENWSI (a.u., mean over steps)",
    "spike_rate": "spike rate (spikes / neuron / step)",
    "membrane": r"membrane $U[t]$ ($\theta$ units)",
    "current": r"input current $I[t]$ ($\theta$ units)",
    "time_step": "time step $t$",
    "omega": r"angular frequency $\omega$ (rad / $\tau_0$, $\tau_0$ = 10 ms)",
    "coherence": r"coherence $C(\omega)$",
    "epsilon": r"attack budget $\epsilon$ ($L_\infty$, fraction of pixel range)",
    "lam": r"linear leak $\lambda$ ($\theta$ units / step)",
    "attack_success_rate": "attack success rate (%)",
    "mean_l2_perturbation": "mean $L_2$ perturbation\n(RMS per input entry)",
    "time_window_ms": "test frame window (ms)",
}

_FONT = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "legend.title_fontsize": 7, "figure.titlesize": 9,
}


def rc() -> dict:
    """The rc parameters of the theme (seaborn ``ticks`` + ``paper`` context, 7-8 pt fonts)."""
    params = {}
    params.update(sns.axes_style("ticks"))
    params.update(sns.plotting_context("paper", rc=_FONT))
    params.update({
        "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.5,
        "axes.spines.top": False, "axes.spines.right": False,
        "lines.linewidth": 1.3, "lines.markersize": 4,
        "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": DPI,
        "savefig.bbox": "tight", "savefig.pad_inches": 0.02, "pdf.fonttype": 42, "ps.fonttype": 42,
        "axes.prop_cycle": mpl.cycler(color=list(VARIANT_COLORS.values())),
        "image.cmap": "viridis",
    })
    return params


@contextmanager
def theme() -> Iterator[None]:
    """Draw inside the package's theme; global matplotlib settings are restored afterwards."""
    with mpl.rc_context(rc()):
        yield


def size(columns: float = 1.0, rows: int = 1, aspect: float = 0.75, full_width: bool = False,
         panels_per_row: int = 1) -> tuple[float, float]:
    """(width, height) in inches: ``full_width`` = text width, else one column.

    The height is ``rows`` panel heights, each ``aspect`` times a panel's width.
    """
    width = TEXT if full_width else COLUMN * columns
    panel = width / max(panels_per_row, 1)
    return width, max(rows, 1) * panel * aspect


def variant_color(variant: str) -> str:
    return VARIANT_COLORS.get(str(variant), UNKNOWN_COLOR)


def variant_marker(variant: str) -> str:
    return VARIANT_MARKERS.get(str(variant), "o")


def variant_label(variant: str) -> str:
    return VARIANT_LABELS.get(str(variant), str(variant))


def tau_label(tau: float) -> str:
    """``tau = 30``, ``tau = inf (IF)``, ``tau = 0 (complete leak)``."""
    if tau is None or (isinstance(tau, float) and math.isnan(tau)):
        return r"$\tau$ = ?"
    if math.isinf(tau):
        return r"$\tau = \infty$ (IF)"
    if tau == 0:
        return r"$\tau$ = 0 (complete leak)"
    return rf"$\tau$ = {tau:g}"


def tau_color(tau: float, finite_taus: Iterable[float] = ()) -> str:
    """IF green, complete leak vermillion, finite taus shades of blue (darker = more leak)."""
    if math.isinf(tau):
        return VARIANT_COLORS["no_leak"]
    if tau == 0:
        return VARIANT_COLORS["complete_leak"]
    finite = sorted({float(t) for t in finite_taus if 0 < float(t) < math.inf} | {float(tau)})
    if len(finite) == 1:
        return VARIANT_COLORS["vanilla"]
    # position 0 = largest tau (least leak, light), 1 = smallest tau (most leak, dark)
    logs = np.log(finite)
    position = (logs.max() - math.log(tau)) / (logs.max() - logs.min())
    shades = sns.light_palette(VARIANT_COLORS["vanilla"], n_colors=256, input="hex")
    return mpl.colors.to_hex(shades[round(90 + position * 165)])


def tau_palette(taus: Iterable[float]) -> dict[str, str]:
    """``{tau_label(t): colour}`` for the given taus."""
    taus = [float(t) for t in taus]
    return {tau_label(t): tau_color(t, taus) for t in taus}


def legend_outside(figure, axes, title: str | None = None, ncol: int | None = None, **kwargs) -> None:
    """One legend for the whole figure, below the panels, from the first axes that has handles."""
    handles, labels = [], []
    for ax in np.ravel(axes):
        h, lab = ax.get_legend_handles_labels()
        for handle, label in zip(h, lab):
            if label not in labels and not label.startswith("_"):
                handles.append(handle)
                labels.append(label)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if not handles:
        return
    ncol = ncol or min(len(labels), 3)
    figure.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=ncol, title=title,
                  frameon=False, **kwargs)
