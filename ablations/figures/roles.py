"""Figures of seed 001 (Yin et al. 2024, "Understanding the functional roles of modelling
components in spiking neural networks"): leak, reset and recurrence as ablation variants.

Every figure colours a variant with its fixed colour (:data:`ablations.figures.style.VARIANT_COLORS`);
lines are means over seeds with +- s.d. bands. Figure numbers follow the arXiv version the
published numbers in ``ablations/reference/`` were read from.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import seaborn as sns

from . import layout, missing, select, style

__all__ = [
    "TRACE_VARIANTS",
    "adversarial_accuracy",
    "attack",
    "learning_curves",
    "loss_landscapes",
    "membrane_traces",
    "spike_rate_histograms",
    "tsne",
]

#: The five variants of seed 001 Fig. 2 (V1-V5).
TRACE_VARIANTS = ("vanilla", "no_leak", "complete_leak", "no_reset", "recurrent")
#: Self-weight of the one-neuron recurrent variant in :func:`membrane_traces` (threshold units).
TRACE_RECURRENT_WEIGHT = 0.4
TRACE_STEPS = 60


def trace_input(steps: int = TRACE_STEPS, seed: int = 0):
    """The input current of :func:`membrane_traces`: 10 Poisson spike trains (rate 0.2 per step)
    through fixed weights drawn from U(0, 0.25), seeded; ``[T, 1, 1]`` in threshold units."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(steps, 10, generator=generator) < 0.2).float()
    weights = torch.rand(10, generator=generator) * 0.25
    return (spikes @ weights).reshape(steps, 1, 1)


def membrane_traces(results: pd.DataFrame):
    """Seed 001 Fig. 2: membrane potential of the five variants (vanilla LIF, no leak, complete
    leak, no reset, recurrent) driven by the same input current, simulated with the package's own
    neurons (:func:`ablations.neurons.build`, :func:`ablations.neurons.simulate`; default
    ``tau = 10`` steps, threshold 1; the recurrent neuron feeds its spikes back with weight
    ``TRACE_RECURRENT_WEIGHT``). Needs no runs: ``results`` is not read."""
    del results
    import torch

    from .. import neurons

    current = trace_input()
    steps = current.shape[0]
    time = np.arange(1, steps + 1)
    figure, axes = layout.grid(len(TRACE_VARIANTS) + 1, 1, full_width=False, height=0.62, sharex=True)
    ax = axes[0, 0]
    ax.bar(time, current[:, 0, 0].numpy(), width=0.8, color="0.45")
    ax.set_ylabel("$I[t]$")
    layout.panel_title(ax, "input current (same for every variant)")
    with torch.no_grad():
        for row, variant in enumerate(TRACE_VARIANTS, start=1):
            neuron = neurons.build(variant, n_neurons=1) if variant == "recurrent" else neurons.build(variant)
            if variant == "recurrent":
                neuron.recurrent.weight.fill_(TRACE_RECURRENT_WEIGHT)
            spikes, membrane = neurons.simulate(neuron, current)
            neurons.release_instances()
            ax = axes[row, 0]
            color = style.variant_color(variant)
            ax.plot(time, membrane[:, 0, 0].numpy(), color=color, drawstyle="steps-mid", linewidth=1.1)
            ax.axhline(1.0, color="0.3", linestyle="--", linewidth=0.7)
            fired = time[spikes[:, 0, 0].numpy() > 0]
            top = max(1.6, float(membrane.max()) * 1.1)
            ax.plot(fired, np.full(len(fired), top), "|", color=color, markersize=6, markeredgewidth=1.2)
            ax.set_ylim(min(-0.1, float(membrane.min()) * 1.1), top * 1.12)
            ax.set_ylabel("$U[t]$")
            layout.panel_title(ax, f"{style.variant_label(variant)}: {len(fired)} spikes")
    axes[-1, 0].set_xlabel(style.LABELS["time_step"])
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.3", linestyle="--", linewidth=0.7, label=r"threshold $\theta$ = 1"),
               Line2D([], [], color="0.3", marker="|", linestyle="none", markersize=6, label="spike"),
               Line2D([], [], color="0.3", drawstyle="steps-mid", label=r"membrane $U[t]$ ($\theta$ units)")]
    figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    layout.note(figure, f"Simulated with ablations.neurons (tau = 10 steps, threshold 1, recurrent self-weight "
                        f"{TRACE_RECURRENT_WEIGHT}); U[t] is the membrane before the reset its spike causes.")
    return figure


def _variant_rows(rows: pd.DataFrame, variants=None) -> tuple[pd.DataFrame, str | None]:
    """Rows of one configuration per variant and dataset, with their legend ``series``."""
    if variants is not None:
        rows = rows[rows["variant"].isin(variants)]
    rows, dropped = select.primary(rows)
    return select.add_series(rows), dropped


def learning_curves(results: pd.DataFrame):
    """Seed 001 Fig. 3: test loss and test accuracy after every epoch, one line per variant
    (mean +- s.d. over seeds), one row of panels per dataset."""
    rows = select.epoch_rows(results)
    rows = rows.dropna(subset=["test_accuracy"]) if "test_accuracy" in rows.columns else rows.iloc[0:0]
    missing.require(rows, results, "per-epoch test metrics (metrics.csv)", variants=list(TRACE_VARIANTS))
    rows, dropped = _variant_rows(rows)
    rows = rows.assign(accuracy=100.0 * rows["test_accuracy"])
    order = select.series_order(rows)
    palette, dashes = select.series_palette(rows), select.series_dashes(rows)
    markers = {s: style.variant_marker(v) for s, v in rows[["series", "variant"]].drop_duplicates().itertuples(index=False)}
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(len(datasets), 2, full_width=True, aspect=0.62, sharex="row")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        panel = rows[rows["dataset"] == dataset]
        here = [s for s in order if s in set(panel["series"])]
        for j, (column, label) in enumerate((("test_loss", style.LABELS["test_loss"]),
                                             ("accuracy", style.LABELS["accuracy"]))):
            ax = axes[i, j]
            layout.line(ax, panel, "epoch", column, "series", palette, here, dashes=dashes, markers=markers)
            layout.panel_title(ax, f"{dataset}: {'test loss' if j == 0 else 'test accuracy'}", next(letters))
            ax.set_ylabel(label)
            ax.set_xlabel(style.LABELS["epoch"] if i == len(datasets) - 1 else "")
            epochs = sorted(panel["epoch"].unique())
            if len(epochs) <= 12:
                ax.set_xticks(epochs)
    style.legend_outside(figure, axes, ncol=min(len(order), 4))
    layout.note(figure, layout.seed_counts(rows, "series"))
    if dropped:
        layout.note(figure, dropped)
    return figure


#: Variant pairs that differ only in the reset (hard reset, no reset).
RESET_PAIRS = (("vanilla", "no_reset"), ("no_leak_recurrent", "no_leak_no_reset_recurrent"))


def spike_rate_histograms(results: pd.DataFrame):
    """Seed 001 Fig. 4: distribution of the per-neuron average spike rate of the hidden layers,
    (a) with the hard reset, (b) without reset, for the variants that differ only in the reset
    (vanilla vs no reset; no leak + recurrent vs no leak, no reset, recurrent); neurons pooled
    over hidden layers and seeds; dashed lines mark the mean rates."""
    rows = select.eval_rows(results, "activity", "spike_rate")
    if not rows.empty and "neuron" in rows.columns:  # every spiking layer (an imported model's own names:
        # lif1, lif2, ...), not the readout (a built-in model's; an imported model's last layer is its output)
        rows = rows[rows["neuron"].notna() & ~rows["layer"].astype(str).isin(["network", "readout", "input"])]
    else:
        rows = rows.iloc[0:0]
    pairs = [pair for pair in RESET_PAIRS if set(pair) <= set(rows.get("variant", []))]
    missing.require(rows if pairs else rows.iloc[0:0], results,
                   "per-neuron spike rates (activity suite) of a variant with and without reset",
                   suites=["activity"], variants=["vanilla", "no_reset"])
    keep = [v for pair in pairs for v in pair]
    rows, dropped = _variant_rows(rows, keep)
    palette = select.series_palette(rows)
    high = float(rows["value"].quantile(0.995)) if len(rows) else 1.0
    bins = np.linspace(0.0, max(high, 1e-3), 31)
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(len(datasets), 2, full_width=False, aspect=0.9, sharex=True, sharey="row")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        for j, (reset_index, title) in enumerate(((0, "with reset"), (1, "without reset"))):
            ax = axes[i, j]
            variants = [pair[reset_index] for pair in pairs]
            panel = rows[(rows["dataset"] == dataset) & rows["variant"].isin(variants)]
            order = [s for s in select.series_order(rows) if s in set(panel["series"])]
            if not panel.empty:
                sns.histplot(data=panel, x="value", hue="series", hue_order=order, palette=palette, bins=bins,
                             stat="percent", common_norm=False, element="step", fill=True, alpha=0.2, ax=ax,
                             linewidth=1.0, legend=False)
                for k, series in enumerate(order):
                    mean = panel.loc[panel["series"] == series, "value"].mean()
                    ax.axvline(mean, color=palette[series], linestyle="--", linewidth=0.9)
                    ax.text(0.97, 0.95 - 0.09 * k, f"mean {mean:.3f}", color=palette[series], ha="right", va="top",
                            transform=ax.transAxes, fontsize=7)
            layout.panel_title(ax, f"{dataset}, {title}" if len(datasets) > 1 else title, next(letters))
            ax.set_xlabel("")
            ax.set_ylabel("neurons (%)" if j == 0 else "")
    figure.supxlabel(style.LABELS["spike_rate"], fontsize=8)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=palette[s], edgecolor=palette[s], alpha=0.6, label=s) for s in select.series_order(rows)]
    figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    layers = ", ".join(dict.fromkeys(rows["layer"].astype(str)))
    layout.note(figure, f"Per-neuron rates of every spiking layer ({layers}; at most eval.activity.max_neurons per "
                        "layer), pooled over seeds; dashed lines and numbers: mean rates. An imported model's layers "
                        "are its own spiking modules, its output layer included.")
    if dropped:
        layout.note(figure, dropped)
    return figure


def _first_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the lowest-seed run of every series (landscapes and embeddings are per model)."""
    chosen = (rows[["series", "run_dir", "seed"]].drop_duplicates().sort_values(["series", "seed", "run_dir"])
              .groupby("series").head(1)["run_dir"])
    return rows[rows["run_dir"].isin(set(chosen))]


def _panel_grid(count: int, aspect: float = 0.9, extra_height: float = 0.0):
    ncols = min(count, 3)
    nrows = int(np.ceil(count / ncols))
    figure, axes = layout.grid(nrows, ncols, full_width=count >= 2, aspect=aspect)
    layout.hide_unused(axes, count)
    return figure, axes


def loss_landscapes(results: pd.DataFrame):
    """Seed 001 Fig. 6: the 2-D loss landscape around the trained weights of each variant
    (loss along two filter-normalised random directions, Li et al. 2018), filled contours on one
    shared colour scale; the star marks the trained weights. One model (the lowest seed) per
    variant and dataset."""
    rows = select.eval_rows(results, "landscape", "loss")
    missing.require(rows, results, "landscape-suite loss surfaces", suites=["landscape"],
                   variants=list(TRACE_VARIANTS))
    rows, dropped = _variant_rows(rows)
    rows = _first_seed(rows)
    keys = [(d, s) for d in select.datasets_of(rows) for s in select.series_order(rows)
            if not rows[(rows["dataset"] == d) & (rows["series"] == s)].empty]
    figure, axes = _panel_grid(len(keys))
    values = rows["value"].to_numpy()
    low, high = float(np.nanmin(values)), float(np.nanpercentile(values, 95))
    levels = np.linspace(low, max(high, low + 1e-6), 15)
    contour = None
    for index, (dataset, series) in enumerate(keys):
        ax = np.ravel(axes)[index]
        panel = rows[(rows["dataset"] == dataset) & (rows["series"] == series)]
        surface = panel.pivot_table(index="y", columns="x", values="value", aggfunc="mean")
        xs, ys = surface.columns.to_numpy(float), surface.index.to_numpy(float)
        contour = ax.contourf(xs, ys, surface.to_numpy(), levels=levels, cmap="viridis", extend="max")
        ax.contour(xs, ys, surface.to_numpy(), levels=levels[::2], colors="white", linewidths=0.3, alpha=0.6)
        variant = panel["variant"].iloc[0]
        ax.plot(0, 0, marker="*", color=style.variant_color(variant), markersize=9, markeredgecolor="white",
                markeredgewidth=0.6)
        ax.set_aspect("equal")
        title = f"{series}" + (f" ({dataset})" if len({k[0] for k in keys}) > 1 else "")
        layout.panel_title(ax, title)
        ax.title.set_color(style.variant_color(variant))
        ax.set_xlabel("direction 1")
        ax.set_ylabel("direction 2" if index % 3 == 0 else "")
    if contour is not None:
        from matplotlib import ticker

        bar = figure.colorbar(contour, ax=axes, shrink=0.8 if axes.shape[0] > 1 else 0.7, pad=0.02,
                              format=ticker.FormatStrFormatter("%.2g"))
        bar.set_label("test loss (train.loss, per sample)")
    if dropped:
        layout.note(figure, dropped)
    return figure


def tsne(results: pd.DataFrame):
    """Seed 001 Fig. 7: t-SNE map of the last hidden layer's spike counts of each variant, points
    coloured by class; titles give the silhouette score of the classes in the map. One model (the
    lowest seed) per variant and dataset."""
    rows = select.eval_rows(results, "embedding", ["tsne_x", "tsne_y", "silhouette"])
    missing.require(rows[rows["metric"] == "tsne_x"] if not rows.empty else rows, results,
                   "embedding-suite t-SNE maps", suites=["embedding"], variants=list(TRACE_VARIANTS))
    rows, dropped = _variant_rows(rows)
    rows = _first_seed(rows)
    points = rows[rows["metric"].isin(["tsne_x", "tsne_y"])]
    points = points.pivot_table(index=["dataset", "series", "variant", "run_dir", "sample"], columns="metric",
                                values="value", aggfunc="mean").reset_index()
    labels = rows[rows["metric"] == "tsne_x"].groupby(["run_dir", "sample"])["label"].first()
    points["label"] = [labels.get((r, s)) for r, s in zip(points["run_dir"], points["sample"])]
    points["label"] = pd.to_numeric(points["label"], errors="coerce").astype("Int64").astype(str)
    silhouettes = rows[rows["metric"] == "silhouette"]
    keys = [(d, s) for d in select.datasets_of(points) for s in select.series_order(points)
            if not points[(points["dataset"] == d) & (points["series"] == s)].empty]
    classes = sorted(set(points["label"]), key=lambda c: (len(c), c))
    class_palette = dict(zip(classes, sns.color_palette("tab10" if len(classes) <= 10 else "husl", len(classes))))
    figure, axes = _panel_grid(len(keys), aspect=1.0)
    for index, (dataset, series) in enumerate(keys):
        ax = np.ravel(axes)[index]
        panel = points[(points["dataset"] == dataset) & (points["series"] == series)]
        sns.scatterplot(data=panel, x="tsne_x", y="tsne_y", hue="label", hue_order=classes, palette=class_palette,
                        s=5, linewidth=0, ax=ax, legend=index == 0, rasterized=True)
        run_dir = panel["run_dir"].iloc[0]
        score = silhouettes[(silhouettes["run_dir"] == run_dir)]
        if "space" in score.columns:
            score = score[score["space"] == "tsne"]
        text = f"silhouette {score['value'].iloc[0]:.2f}" if not score.empty else ""
        title = series + (f" ({dataset})" if len({k[0] for k in keys}) > 1 else "")
        layout.panel_title(ax, f"{title}\n{text}" if text else title)
        ax.title.set_color(style.variant_color(panel["variant"].iloc[0]))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
        ax.grid(False)
    style.legend_outside(figure, axes, title="class", ncol=min(len(classes), 10), markerscale=1.5,
                         handletextpad=0.1, columnspacing=0.8)
    if dropped:
        layout.note(figure, dropped)
    return figure


def attack(results: pd.DataFrame):
    """Seed 001 Fig. 9: spike-valued adversarial attack on event data (gradient-to-spike):
    attack success rate and mean L2 perturbation (root mean square per input entry, of the
    successful samples) per variant (mean +- s.d. over seeds), the attack's iteration budget in
    the panel title; hollow diamonds: seed 001's published values, drawn only on the N-MNIST
    panels they were measured on (``ablations/reference/roles_fig9_attack.csv``)."""
    from .tables import published_attack

    rows = select.eval_rows(results, "adversarial", ["attack_success_rate", "mean_l2_perturbation"])
    missing.require(rows, results, "adversarial-suite spike attacks on event data (attack_success_rate)",
                   suites=["adversarial"], variants=list(TRACE_VARIANTS) + ["no_leak_no_reset_recurrent"],
                   kinds=["event"])
    rows, dropped = _variant_rows(rows)
    rows = rows.copy()
    rows.loc[rows["metric"] == "attack_success_rate", "value"] *= 100.0
    published = published_attack()
    order = select.series_order(rows)
    palette = select.series_palette(rows)
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(len(datasets), 2, full_width=True, aspect=0.8)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        for j, metric in enumerate(("attack_success_rate", "mean_l2_perturbation")):
            ax = axes[i, j]
            panel = rows[(rows["dataset"] == dataset) & (rows["metric"] == metric)]
            here = [s for s in order if s in set(panel["series"])]
            sns.barplot(data=panel, x="series", y="value", order=here, hue="series", hue_order=here,
                        palette=palette, errorbar=layout.ERRORBAR, capsize=0.15, ax=ax, legend=False,
                        err_kws={"linewidth": 0.8})
            reference = published.set_index("variant")[metric]
            label = select.published_label(panel.drop_duplicates("run_dir"), "roles", PUBLISHED_ATTACK_DATASET)
            label = ("published (seed 001, N-MNIST, same preset)" if label != select.NOT_THE_PAPERS
                     else f"{select.NOT_THE_PAPERS} (seed 001, N-MNIST)")
            shown = False
            for position, series in enumerate(here if dataset == PUBLISHED_ATTACK_DATASET else []):
                variant = panel.loc[panel["series"] == series, "variant"].iloc[0]
                if variant in reference.index and pd.notna(reference[variant]):
                    ax.plot(position, reference[variant], marker="D", markerfacecolor="white",
                            markeredgecolor="black", markersize=4.5, linestyle="none",
                            label=label if not shown else None)
                    shown = True
            ax.set_xticks(range(len(here)))
            ax.set_xticklabels(here, rotation=35, ha="right")
            ax.set_xlabel("")
            ax.set_ylabel(style.LABELS[metric])
            budgets = sorted({int(b) for b in panel.get("budget", pd.Series(dtype=float)).dropna()})
            budget = f", budget {'/'.join(map(str, budgets))} it." if budgets else ""
            layout.panel_title(ax, f"{dataset}: {'success rate' if j == 0 else 'perturbation'}{budget}", next(letters))
    style.legend_outside(figure, axes, ncol=1)
    layout.note(figure, "Mean L2 perturbation: root mean square of the spike change per input entry (L2 / sqrt(N)) "
                        "of the successful samples, read beside the success rate; seed 001 does not state its "
                        "normalisation. Published values (N-MNIST) appear only on N-MNIST panels.")
    if dropped:
        layout.note(figure, dropped)
    return figure


#: The dataset seed 001's Fig. 9 values were measured on (the only panel they are drawn on).
PUBLISHED_ATTACK_DATASET = "nmnist"

ATTACK_NAMES = {"fgsm": "FGSM", "pgd": "PGD (most steps)", "apgd": "APGD", "min_over_attacks": "worst case over attacks",
                "random_control": "random sign (control)"}


def adversarial_accuracy(results: pd.DataFrame):
    """The package's own analysis, not a seed 001 figure (seed 001 attacks event data only, Fig. 9):
    on image data (static datasets), test accuracy under FGSM and PGD
    (L-inf, expectation over the Poisson encoder) and a random-sign control of the same budget,
    against the budget epsilon, one line per variant (mean +- s.d. over seeds)."""
    rows = select.eval_rows(results, "adversarial", "accuracy")
    if not rows.empty and "epsilon" in rows.columns:
        rows = rows[rows["epsilon"].notna() & rows["attack"].isin(list(ATTACK_NAMES))]
        if "steps" in rows.columns:  # PGD at several step counts: draw the longest
            steps = pd.to_numeric(rows["steps"], errors="coerce")
            longest = steps.where(rows["attack"] == "pgd").groupby(rows["run_dir"]).transform("max")
            rows = rows[(rows["attack"] != "pgd") | (steps == longest)]
    else:
        rows = rows.iloc[0:0]
    missing.require(rows, results, "adversarial-suite FGSM / PGD accuracies on image data", suites=["adversarial"],
                   variants=list(TRACE_VARIANTS), kinds=["static"])
    rows, dropped = _variant_rows(rows)
    rows = rows.assign(accuracy=100.0 * rows["value"])
    attacks = [a for a in ATTACK_NAMES if a in set(rows["attack"])]
    order = select.series_order(rows)
    palette, dashes = select.series_palette(rows), select.series_dashes(rows)
    markers = {s: style.variant_marker(v) for s, v in rows[["series", "variant"]].drop_duplicates().itertuples(index=False)}
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(len(datasets), len(attacks), full_width=True, aspect=0.85, sharey=True, sharex=True)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        for j, name in enumerate(attacks):
            ax = axes[i, j]
            panel = rows[(rows["dataset"] == dataset) & (rows["attack"] == name)]
            here = [s for s in order if s in set(panel["series"])]
            layout.line(ax, panel, "epsilon", "accuracy", "series", palette, here, dashes=dashes, markers=markers)
            # short, wrapped titles: five panels share the text width (the dataset labels the row)
            layout.panel_title(ax, textwrap.fill(ATTACK_NAMES[name], 16), next(letters))
            ax.set_xlabel("")
            ax.set_ylabel(f"{dataset}\n{style.LABELS['accuracy']}" if j == 0 else "")
    figure.supxlabel(style.LABELS["epsilon"], fontsize=8)
    style.legend_outside(figure, axes, ncol=min(len(order), 4))
    layout.note(figure, layout.seed_counts(rows, "series"))
    if dropped:
        layout.note(figure, dropped)
    return figure
