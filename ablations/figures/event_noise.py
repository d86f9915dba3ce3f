"""``event_noise`` figure: accuracy of event-data networks under event noise, per variant.

The package's own analysis (no paper figure): the ``event_noise`` suite's rows
(:mod:`ablations.evaluation.event_noise`), test accuracy against the severity of each noise kind
(dropped events, timestamp jitter, added noise events, dead pixels; tonic's transforms on the raw
events before framing), one line per variant (and configuration), mean +- s.d. over seeds.
"""

from __future__ import annotations

import textwrap

import pandas as pd

from . import layout, missing, select, style

__all__ = ["event_noise"]

NOISE_ORDER = ("drop_event", "time_jitter", "uniform_noise", "drop_pixel")
NOISE_TITLES = {"drop_event": "dropped events", "time_jitter": "timestamp jitter",
                "uniform_noise": "added noise events", "drop_pixel": "dead pixels"}


def event_noise(results: pd.DataFrame):
    """The package's own analysis, not a figure of seed 001 (which trains on event data but shows no
    event noise): test accuracy vs event-noise severity, panels dataset (rows) x noise kind
    (columns), one line per variant, mean +- s.d. over seeds; the x axis is each kind's own severity
    unit, 0 = clean."""
    rows = select.eval_rows(results, "event_noise", "accuracy")
    missing.require(rows, results, "event_noise-suite accuracy of runs on event data", suites=["event_noise"],
                   dataset="digits_events")
    rows = select.add_series(rows)
    rows["accuracy"] = 100.0 * rows["value"]
    rows["severity"] = rows["severity"].astype(float)
    order = select.series_order(rows)
    palette = select.series_palette(rows)
    datasets = select.datasets_of(rows)
    noises = [n for n in NOISE_ORDER if n in set(rows["noise"])] + sorted(set(rows["noise"]) - set(NOISE_ORDER))
    figure, axes = layout.grid(len(datasets), len(noises), full_width=True, aspect=1.0, sharey="row")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        here = rows[rows["dataset"] == dataset]
        samples = sorted({int(n) for n in here["n_samples"].dropna()}) if "n_samples" in here else []
        for j, noise in enumerate(noises):
            ax = axes[i, j]
            panel = here[here["noise"] == noise].copy()
            if not panel.empty:  # severities evenly spaced (they grow roughly geometrically), labelled by value
                values = sorted(panel["severity"].unique())
                panel["position"] = panel["severity"].map({v: k for k, v in enumerate(values)})
                layout.line(ax, panel, "position", "accuracy", "series", palette,
                            [s for s in order if s in set(panel["series"])], dashes=select.series_dashes(panel))
                low, high = ax.get_ylim()  # accuracy is a share: an s.d. band past 0 or 100 % is cut at the bound
                ax.set_ylim(max(low, 0.0), min(high, 100.0))
                ax.set_xticks(range(len(values)))
                ax.set_xticklabels([f"{v:g}" for v in values])
            layout.panel_title(ax, NOISE_TITLES.get(noise, noise), next(letters))
            unit = panel["unit"].dropna().iloc[0] if "unit" in panel and panel["unit"].notna().any() else "severity"
            ax.set_xlabel("\n".join(textwrap.wrap(unit, 24)), fontsize="small")
            size = f" (n={'/'.join(map(str, samples))})" if samples else ""
            ax.set_ylabel(f"{dataset}{size}\n{style.LABELS['accuracy']}" if j == 0 else "")
        layout.note(figure, f"{dataset}: {layout.seed_counts(here, 'series')}")
        small = [n for n in samples if n < 100]
        if small:
            layout.note(figure, f"{dataset}: {'/'.join(map(str, small))} test sample(s) per run: an accuracy moves in "
                                f"steps of {100 / min(small):.3g} percentage points; smaller differences are not "
                                "resolved.")
    style.legend_outside(figure, axes, ncol=min(len(order), 5))
    layout.note(figure, "Noise on the raw events before framing (tonic's DropEvent, TimeJitter, UniformNoise, "
                        "DropPixel; severities in conf/eval/default.yaml, eval.event_noise); severity 0 is the clean "
                        "test set. Bands: +- s.d. over seeds.")
    return figure
