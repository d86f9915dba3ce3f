"""Figures of seed 002 (Che et al., "Linear leakage: better robustness for spiking neural
network"): the linear (subtractive) leak against the exponential leak and no leak.

Seed 002 publishes no numbers that ship here, so these figures have no published overlay.

Leak parameter. Seed 002's abstract says one thing about its leak parameter ``tau_m``: the
spiking rate ``1/T`` is inversely related to it. Read here (once, for the figures and the claims,
``ablations.reproduce.claims.TAU_M_READING``): ``tau_m`` is the linear leak itself, the membrane
lost per step, ``tau_m = lam`` in threshold units. The other reading, ``lam = theta / tau_m`` (a
time constant), makes the rate *rise* with ``tau_m`` and so contradicts the one sentence the paper
gives. For a neuron of the package (``U[t] = L((1 - S[t-1]) U[t-1]) + I``, hard reset,
``S = H(U - theta)``) under a constant current ``lam < I <= theta`` the membrane climbs by
``I - lam`` per step, so the interspike period and rate are

    T = 2 + floor((theta - I) / (I - lam)),      1/T ~ (I - lam) / theta = (I - tau_m) / theta

(``T = 1`` for ``I > theta``; silent for ``I <= lam``): the rate falls as ``tau_m`` grows, as the
paper states. :func:`linear_leak_rate` draws the simulated rates against ``tau_m = lam`` with this
closed form, and :func:`period` is the exact discrete period the tests pin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout, missing, select, style
from .leak import noise_accuracy_rows, noise_panels

__all__ = ["linear_leak_noise", "linear_leak_rate", "single_neuron_rates", "period", "tau_m_of", "predicted_rate"]

LINEAR_VARIANTS = list(select.LINEAR_VARIANTS)
#: Constant input currents (threshold units per step) of the single-neuron panel.
RATE_CURRENTS = (0.15, 0.3, 0.6)
RATE_LAMS = tuple(float(x) for x in np.geomspace(0.005, 0.5, 11))
RATE_STEPS = 120


def linear_leak_noise(results: pd.DataFrame):
    """Seed 002 (noise robustness): test accuracy against input-noise severity for the linear
    leak, the exponential leak (vanilla LIF) and no leak (IF), mean +- s.d. over seeds; panels
    scenario {1, 2} x noise {Gaussian, impulse} x dataset as in seed 003 Fig. 3."""
    rows = noise_accuracy_rows(results, LINEAR_VARIANTS)
    missing.require(rows if not rows.empty and "linear_leak" in set(rows["variant"]) else rows.iloc[0:0], results,
                   "noise-suite accuracy of linear_leak (and vanilla, no_leak) runs", suites=["noise"],
                   variants=LINEAR_VARIANTS)
    rows, dropped = select.primary(rows)
    rows = select.add_series(rows)
    order = select.series_order(rows)
    markers = {s: style.variant_marker(v) for s, v in rows[["series", "variant"]].drop_duplicates().itertuples(index=False)}
    figure = noise_panels(results, rows, "series", order, select.series_palette(rows),
                          dashes=select.series_dashes(rows), markers=markers)
    if dropped:
        layout.note(figure, dropped + " (linear_leak_rate draws the lam sweep)")
    return figure


def tau_m_of(lam: float, threshold: float = 1.0) -> float:
    """Seed 002's leak parameter ``tau_m`` of a linear leak ``lam``: the leak per step in threshold
    units (``lam / theta``; the module docstring says why this reading)."""
    return float(lam) / threshold


def period(current: float, lam: float, threshold: float = 1.0) -> float:
    """Exact interspike period (steps) of a linear-leak neuron under constant ``current``; inf if silent.

    Where ``(theta - I) / (I - lam)`` is an integer the membrane lands exactly on threshold and the
    float32 simulation may fire one step earlier or later."""
    if current > threshold:
        return 1.0
    if current <= lam:
        return float("inf")
    return 2.0 + np.floor((threshold - current) / (current - lam))


def predicted_rate(current: float, lam: float, steps: int = RATE_STEPS, threshold: float = 1.0) -> float:
    """Spikes per step over ``steps`` steps from rest: ``floor(steps / T) / steps``."""
    t = period(current, lam, threshold)
    return 0.0 if not np.isfinite(t) else float(np.floor(steps / t)) / steps


def single_neuron_rates(lams=RATE_LAMS, currents=RATE_CURRENTS, steps: int = RATE_STEPS) -> pd.DataFrame:
    """Firing rate (spikes per step) of one linear-leak neuron (hard reset, threshold 1) under a
    constant input current, simulated with :mod:`ablations.neurons`, per ``lam`` and current."""
    import torch

    from .. import neurons

    rows = []
    with torch.no_grad():
        for lam in lams:
            neuron = neurons.build("linear_leak", lam=float(lam))
            current = torch.tensor(list(currents), dtype=torch.float32).reshape(1, 1, -1).expand(steps, 1, -1)
            spikes, _ = neurons.simulate(neuron, current.contiguous())
            neurons.release_instances()
            for index, value in enumerate(currents):
                rows.append({"lam": float(lam), "tau_m": tau_m_of(float(lam)), "current": float(value),
                             "rate": float(spikes[:, 0, index].mean()),
                             "predicted_rate": predicted_rate(float(value), float(lam), steps)})
    return pd.DataFrame(rows)


def linear_leak_rate(results: pd.DataFrame):
    """Seed 002 (leak parameter vs spiking rate): (a) firing rate of one linear-leak neuron under
    constant input currents against the leak rate lambda, simulated with the package's neuron;
    (b) the trained networks' spike rate (activity suite, whole network) against lambda for the
    linear-leak runs, mean +- s.d. over seeds, with the exponential-leak and no-leak runs as
    horizontal references. Seed 002 reports the rate falls as the leak grows."""
    rows = select.eval_rows(results, "activity", "spike_rate")
    if not rows.empty:
        rows = rows[(rows["layer"] == "network") & rows.get("neuron", pd.Series(index=rows.index)).isna()]
    linear = rows[rows["variant"] == "linear_leak"] if not rows.empty else rows
    missing.require(linear, results, "activity-suite spike rates of linear_leak runs", suites=["activity"],
                   variants=["linear_leak", "vanilla", "no_leak"])
    simulated = single_neuron_rates()
    figure, axes = layout.grid(1, 2, full_width=True, aspect=0.72)
    ax = axes[0, 0]
    shades = [style.tau_color(t, [1, 2, 4]) for t in (4, 2, 1)]
    for color, (current, group) in zip(shades, simulated.groupby("current")):
        leak = group["tau_m"]
        ax.plot(leak, group["rate"], marker="o", markersize=3, linestyle="none", color=color, label=f"{current:g}")
        ax.plot(leak, group["predicted_rate"], color=color, linewidth=0.9)
    layout.plain_log(ax, "x")
    ax.set_xlabel(r"seed 002's $\tau_m$ = linear leak $\lambda / \theta$ (per step)")
    ax.set_ylabel("firing rate (spikes / step)")
    layout.note(figure, "Lines: closed form T = 2 + floor((theta - I) / (I - tau_m theta)); markers: simulated.")
    ax.set_ylim(-0.02, float(simulated["rate"].max()) * 1.4 + 0.02)
    ax.legend(title=r"constant current $I$ ($\theta$ units / step)", loc="upper right", ncol=3)
    layout.panel_title(ax, "one neuron, constant current", "a")
    ax = axes[0, 1]
    linear = linear.copy()
    linear["lam"] = pd.to_numeric(linear["lam"], errors="coerce")
    per_run = linear.groupby(["run_dir", "dataset", "lam"])["value"].mean().reset_index()
    datasets = select.datasets_of(per_run)
    markers = ["o", "s", "^", "D"]
    for index, dataset in enumerate(datasets):
        group = per_run[per_run["dataset"] == dataset]
        stats = group.groupby("lam")["value"].agg(["mean", "std"]).reset_index().sort_values("lam")
        ax.errorbar(stats["lam"], stats["mean"], yerr=stats["std"].fillna(0.0), color=style.variant_color("linear_leak"),
                    marker=markers[index % 4], markersize=4, capsize=2, linewidth=1.2,
                    label=f"linear leak ({dataset})" if len(datasets) > 1 else "linear leak")
    for variant in ("vanilla", "no_leak"):
        reference = rows[rows["variant"] == variant] if not rows.empty else rows
        if reference.empty:
            continue
        value = reference.groupby("run_dir")["value"].mean().mean()
        ax.axhline(value, color=style.variant_color(variant), linestyle="--", linewidth=1.0,
                   label=style.variant_label(variant))
    layout.plain_log(ax, "x")
    lams = sorted(per_run["lam"].dropna().unique())
    if len(lams) == 1:
        ax.set_xlim(lams[0] / 3, lams[0] * 3)
        layout.note(figure, "Only one lambda in the results; a sweep: "
                    + missing.run_command(results, ["activity"], ["linear_leak"],
                                         extra=["neuron.lam=0.01,0.02,0.05,0.1,0.2"]))
    ax.set_xlabel(style.LABELS["lam"])
    ax.set_ylabel(style.LABELS["spike_rate"])
    ax.legend(loc="best")
    layout.panel_title(ax, "trained networks", "b")
    return figure
