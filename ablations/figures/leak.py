"""Figures of seed 003 (Chowdhury, Lee & Roy 2020, "Towards understanding the effect of leak in
spiking neural networks"): leak as a low-pass filter, noise robustness, generalisation, activity.

The leak ablation is the set of runs with exponential leak, no leak (IF, ``tau = inf``) or
complete leak (``tau = 0``), hard reset and no recurrence; each figure draws one line (or bar,
or histogram) per membrane time constant ``tau`` (in time steps, from the run's ``beta``), the
mean over seeds with a +- s.d. band. Noise severities, scenarios and frequencies are those the
evaluation suites wrote (:mod:`ablations.evaluation.noise`, :mod:`~ablations.evaluation.spectral`,
:mod:`~ablations.evaluation.activity`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns

from . import layout, missing, select, settings, style

__all__ = ["coherence", "critical_frequency", "enwsi", "input_spectra", "noise_robustness", "sse_generalization"]

NOISE_NAMES = {"gaussian": "Gaussian", "impulse": "impulse"}
LEAK_VARIANTS = list(select.LEAK_VARIANTS)

#: Config keys a tau figure compares (besides the variant's physics and the seed, never settings).
TAU_KEYS = ("neuron.tau", "neuron.beta")


def same_setting(rows: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Per dataset, the leak-ablation rows of the one setting (:mod:`ablations.figures.settings`: every
    config value but tau, the variant's physics and the seed) that covers the most tau values, then
    the most runs; and a note naming what was left out (None when nothing was). So every tau figure
    compares like with like."""
    if rows.empty or "run_dir" not in rows.columns:
        return rows, None
    taus = select.effective_tau(rows).round(6)
    keep: set = set()
    dropped = []
    for dataset, group in rows.groupby("dataset", sort=False):
        runs = group.drop_duplicates("run_dir")
        assigned = settings.assign_settings(runs, rows, ignore=TAU_KEYS)
        if not assigned.several:
            keep |= set(runs["run_dir"])
            continue
        tau_of = dict(zip(group["run_dir"], taus[group.index]))
        ranking = []
        for position, label in enumerate(assigned.labels):
            mine = set(assigned.rows.loc[assigned.rows["setting"] == label, "run_dir"])
            ranking.append((-len({tau_of[r] for r in mine}), -len(mine), position, label, mine))
        ranking.sort(key=lambda entry: entry[:3])
        chosen = ranking[0][4]
        keep |= chosen
        for *_, label, mine in ranking[1:]:
            if mine - chosen:
                dropped.append(f"{dataset}: {label} ({len(mine - chosen)} run(s))")
    note = None
    if dropped:
        note = ("Runs compared share every setting but tau and seed; other settings not drawn: "
                + "; ".join(dropped))
    return rows[rows["run_dir"].isin(keep)], note


def _tau_rows(rows: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The leak ablation (:func:`select.add_tau`) restricted to one shared setting per dataset."""
    if rows.empty:
        return select.add_tau(rows), None
    shared, note = same_setting(rows)
    return select.add_tau(shared), note


def _note(figure, text: str | None) -> None:
    if text:
        layout.note(figure, text)


_COHERENCE_NAMES = {"if": "IF", "lif_low_leak": "LIF, low leak", "lif_high_leak": "LIF, high leak"}


def _coherence_rows(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    rows = select.eval_rows(results, "coherence", "coherence")
    if not rows.empty and {"mu", "D"} <= set(rows.columns):
        # runs evaluated with other eval.coherence.mu / D draw other curves: keep the most common setting
        settings = {run: tuple(sorted(set(zip(g["neuron"].astype(str), g["mu"], g["D"]))))
                    for run, g in rows.groupby("run_dir")}
        common = pd.Series(list(settings.values())).value_counts().index[0]
        rows = rows[rows["run_dir"].isin([run for run, setting in settings.items() if setting == common])]
    if not rows.empty:
        keys = [c for c in ("neuron", "source", "tau_ms", "omega") if c in rows.columns]
        curve = rows.groupby(keys, dropna=False)["value"].mean().reset_index().rename(columns={"value": "coherence"})
        return curve, f"from the coherence suite of {rows['run_dir'].nunique()} run(s)"
    from ..evaluation.coherence import coherence as coherence_suite

    rows = coherence_suite(None, None, {"eval": {"coherence": {"simulate": False}}})
    rows = rows[rows["metric"] == "coherence"].rename(columns={"value": "coherence"})
    curve = rows[["neuron", "source", "tau_ms", "omega", "coherence"]]
    return curve, ("computed analytically by the coherence suite at its default parameters (no coherence rows "
                   "in the results; `eval.suites=[coherence]` records them with the simulated check)")


def coherence(results: pd.DataFrame):
    """Seed 003 Fig. 2: coherence between a white-noise input current and the output spike train
    of an IF neuron and of LIF neurons with low and high leak, against frequency.

    Lines: the analytic coherence (parabolic-cylinder formula, seed 003 Eq. 4); markers: the
    simulated estimate where the ``coherence`` suite recorded one. Rows come from the
    ``coherence`` suite when any run has them, else the analytic curves are computed here.
    """
    curve, source = _coherence_rows(results)
    curve = curve.copy()
    curve["tau_ms"] = pd.to_numeric(curve["tau_ms"], errors="coerce")
    labels = {}
    for neuron, tau in curve[["neuron", "tau_ms"]].drop_duplicates().itertuples(index=False):
        name = _COHERENCE_NAMES.get(str(neuron), str(neuron))
        tau_text = r"$\tau_m = \infty$" if math.isinf(tau) else rf"$\tau_m$ = {tau:g} ms"
        labels[str(neuron)] = f"{name} ({tau_text})"
    curve["neuron_label"] = [labels[str(n)] for n in curve["neuron"]]
    taus = curve.drop_duplicates("neuron").set_index("neuron")["tau_ms"]
    finite = [t / 10.0 for t in taus if not math.isinf(t)]
    palette = {labels[str(n)]: style.tau_color(math.inf if math.isinf(t) else t / 10.0, finite)
               for n, t in taus.items()}
    order = [labels[n] for n in sorted(labels, key=lambda n: -taus[n])]
    figure, axes = layout.grid(1, 1, aspect=0.72)
    ax = axes[0, 0]
    analytic = curve[curve["source"] == "analytic"]
    sns.lineplot(data=analytic, x="omega", y="coherence", hue="neuron_label", hue_order=order, palette=palette,
                 ax=ax, errorbar=None)
    simulated = curve[curve["source"] == "simulated"]
    if not simulated.empty:
        sns.scatterplot(data=simulated, x="omega", y="coherence", hue="neuron_label", hue_order=order,
                        palette=palette, ax=ax, s=9, marker="o", legend=False, alpha=0.7)
        ax.plot([], [], "o", color="0.4", markersize=3, label="simulated")
    layout.plain_log(ax, "x")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(style.LABELS["omega"])
    ax.set_ylabel(style.LABELS["coherence"])
    top = ax.secondary_xaxis("top", functions=(lambda w: w / (2 * np.pi * 0.01), lambda f: f * 2 * np.pi * 0.01))
    top.set_xlabel("frequency (Hz)")
    from matplotlib import ticker

    top.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.legend(title=None, loc="lower left")
    layout.note(figure, f"Coherence {source}; lines analytic, markers simulated. Same input current for "
                        "all neurons (mu, D per tau_0 = 10 ms). Axes: angular frequency in rad per tau_0 "
                        "(bottom) and Hz (top), the same absolute frequency for every neuron. Seed 003 Fig. 2 "
                        "measures each neuron's frequency in units of its own tau_m (its supplementary Eq. 5, "
                        "t -> t / tau_m): only there is the IF curve flat; in absolute units it is not.")
    return figure


def noise_accuracy_rows(results: pd.DataFrame, variants=None) -> pd.DataFrame:
    rows = select.eval_rows(results, "noise", "accuracy")
    if rows.empty:
        return rows
    if variants is not None:
        rows = rows[rows["variant"].isin(variants)]
    rows = rows.copy()
    rows["accuracy"] = 100.0 * rows["value"]
    rows["severity"] = rows["severity"].astype(int)
    rows["scenario"] = rows["scenario"].astype(int)
    return rows


def noise_panels(results: pd.DataFrame, rows: pd.DataFrame, hue: str, order: list[str], palette: dict,
                 dashes=False, markers=True):
    """Accuracy vs severity: rows of panels = scenario, columns = dataset x noise."""
    datasets = select.datasets_of(rows)
    noises = [n for n in ("gaussian", "impulse") if n in set(rows["noise"])] + \
        sorted(set(rows["noise"]) - {"gaussian", "impulse"})
    scenarios = sorted(rows["scenario"].unique())
    columns = [(d, n) for d in datasets for n in noises]
    figure, axes = layout.grid(len(scenarios), len(columns), full_width=len(columns) >= 2, aspect=0.8,
                               sharex=True, sharey=True)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, scenario in enumerate(scenarios):
        for j, (dataset, noise) in enumerate(columns):
            ax = axes[i, j]
            panel = rows[(rows["scenario"] == scenario) & (rows["dataset"] == dataset) & (rows["noise"] == noise)]
            if not panel.empty:
                layout.line(ax, panel, "severity", "accuracy", hue, palette, order, dashes=dashes, markers=markers)
            layout.panel_title(ax, f"{dataset}, {NOISE_NAMES.get(noise, noise)}, scenario {scenario}", next(letters))
            ax.set_xlabel(style.LABELS["severity"] if i == len(scenarios) - 1 else "")
            ax.set_ylabel(style.LABELS["accuracy"] if j == 0 else "")
            ax.set_xticks(sorted(rows["severity"].unique()))
    style.legend_outside(figure, axes, ncol=min(len(order), 4))
    return figure


def noise_robustness(results: pd.DataFrame):
    """Seed 003 Fig. 3: test accuracy at each noise severity, one line per membrane time constant
    tau (IF = tau inf), mean +- s.d. over seeds; panels scenario {1, 2} x noise {Gaussian, impulse}
    x dataset (scenario 1: noise on the pixels before Poisson coding; 2: on the spikes)."""
    every = noise_accuracy_rows(results)
    rows, note = _tau_rows(every)
    missing.require(rows, results, "noise-suite accuracy of leak-ablation runs (vanilla / no_leak)",
                   suites=["noise"], variants=["vanilla", "no_leak"])
    figure = noise_panels(results, rows, "tau_label", select.tau_order(rows), style.tau_palette(rows["tau_eff"].unique()))
    layout.note(figure, layout.seed_counts(rows, "tau_label"))
    layout.note(figure, "Severities are fractions of the data range (ablations/data/noise.py), so a level is "
                        "the same relative strength on signed and unsigned data.")
    _note(figure, note)
    _note(figure, layout.left_out_variants(every, rows, "this figure compares leaks at hard reset without recurrence"))
    return figure


def input_spectra(results: pd.DataFrame):
    """Seed 003 Fig. 4 ("histogram of the spectrum of spike trains per image for clean and noisy
    inputs with corresponding distribution curves"): per test image, where its input spectrum
    lies, drawn as a distribution over images: histograms with density curves of each image's
    input critical frequency (70 % of the power of its input trains, mean removed; spectral
    suite ``input_critical_frequency``), clean vs noisy (Gaussian noise, severity 5), per
    injection scenario. A shift or spread of the noisy distribution to the right is the paper's
    "spreads over a wider band". (The mean power spectrum of Poisson trains, ``input_power``, is
    flat apart from the DC bin for clean and noisy inputs alike, so it cannot show a spread.)

    The input does not depend on the trained network: the distributions pool every run of a dataset."""
    rows = select.eval_rows(results, "spectral", "input_critical_frequency")
    missing.require(rows, results, "spectral-suite per-image input critical frequencies", suites=["spectral"],
                   variants=["vanilla", "no_leak"])
    rows = rows.dropna(subset=["value"]).copy()
    rows["scenario"] = pd.to_numeric(rows["scenario"], errors="coerce").fillna(0).astype(int)
    clean = rows[rows["condition"] == "clean"]
    noisy = rows[rows["condition"] != "clean"]
    scenarios = sorted(noisy["scenario"].unique()) or [0]
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(len(datasets), len(scenarios), aspect=1.1, sharey="row")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        for j, scenario in enumerate(scenarios):
            ax = axes[i, j]
            panel = pd.concat([clean[clean["dataset"] == dataset],
                               noisy[(noisy["dataset"] == dataset) & (noisy["scenario"] == scenario)]])
            panel = panel.assign(input=[_condition_label(c, n, sc, sv) for c, n, sc, sv in
                                        zip(panel["condition"], panel["noise"], panel["scenario"], panel["severity"])])
            order = sorted(set(panel["input"]), key=lambda s: (s != "clean", s))
            palette = {name: ("#333333" if name == "clean" else style.VARIANT_COLORS["complete_leak"]) for name in order}
            step = 1.0 / float(panel["steps"].dropna().iloc[0]) if "steps" in panel.columns and \
                panel["steps"].notna().any() else 0.01  # the critical frequency takes the values k / T
            low, high = float(panel["value"].min()), float(panel["value"].max())
            sns.histplot(data=panel, x="value", hue="input", hue_order=order, palette=palette, stat="density",
                         common_norm=False, kde=True, element="step", alpha=0.2, ax=ax, linewidth=0.8,
                         bins=np.arange(low - step / 2, high + step, step))
            layout.panel_title(ax, f"{dataset}, scenario {scenario}" if scenario else dataset, next(letters))
            ax.set_xlabel("")
            ax.set_ylabel("")
    figure.supxlabel("input critical frequency per image (fraction of the sampling rate)", fontsize=8)
    figure.supylabel("density over test images", fontsize=8)
    layout.note(figure, "One value per test image (70 % of the power of its input spike trains, mean removed), "
                        "pooled over runs; curves: kernel density estimates. A white train sits at 0.35.")
    return figure


def _condition_label(condition: str, noise, scenario, severity) -> str:
    if condition == "clean":
        return "clean"
    return f"{NOISE_NAMES.get(noise, noise)} sev. {int(severity)}, scen. {int(scenario)}"


def critical_frequency(results: pd.DataFrame):
    """Seed 003 Fig. 5a-c: histograms of the critical frequency (70 % of the spectral power) of the
    target output neuron's input current, one panel per membrane time constant tau, clean vs noisy
    test inputs; dashed lines mark the means (seed 003 quotes 0.345 / 0.317 / 0.255 clean for
    tau = inf / 100 / 30)."""
    rows = select.eval_rows(results, "spectral", "critical_frequency")
    if not rows.empty and "trace" in rows.columns:
        trace = "current" if "current" in set(rows["trace"]) else min(set(rows["trace"].dropna()))
        rows = rows[rows["trace"] == trace]
    rows, note = _tau_rows(rows) if not rows.empty else (rows, None)
    missing.require(rows, results, "spectral-suite critical frequencies of leak-ablation runs",
                   suites=["spectral"], variants=["vanilla", "no_leak"])
    rows = rows.dropna(subset=["value"]).copy()
    rows["input"] = [_condition_label(c, n, sc, sv) for c, n, sc, sv in
                     zip(rows["condition"], rows["noise"], rows["scenario"], rows["severity"])]
    order = sorted(set(rows["input"]), key=lambda s: (s != "clean", s))
    palette = dict(zip(order, ["#333333", style.VARIANT_COLORS["complete_leak"], style.VARIANT_COLORS["recurrent"],
                               style.VARIANT_COLORS["no_reset"], "#882255"]))
    taus = select.tau_order(rows)
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(len(datasets), len(taus), full_width=len(taus) >= 3, aspect=0.85,
                               sharex=True, sharey="row")
    values = np.sort(rows["value"].unique())
    discrete = len(values) <= 26  # T <= 50 steps: the critical frequency is one of T/2 + 1 bins
    if discrete:
        spacing = np.min(np.diff(values)) if len(values) > 1 else 0.1
        bins = np.arange(-spacing / 2, 0.5 + spacing, spacing)
    else:
        bins = np.linspace(0.0, 0.5, 21)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for i, dataset in enumerate(datasets):
        for j, tau in enumerate(taus):
            ax = axes[i, j]
            panel = rows[(rows["dataset"] == dataset) & (rows["tau_label"] == tau)]
            if not panel.empty:
                if discrete:
                    sns.histplot(data=panel, x="value", hue="input", hue_order=order, palette=palette, bins=bins,
                                 stat="percent", common_norm=False, multiple="dodge", shrink=0.85, ax=ax,
                                 linewidth=0, alpha=0.85)
                else:
                    sns.histplot(data=panel, x="value", hue="input", hue_order=order, palette=palette, bins=bins,
                                 stat="percent", common_norm=False, element="step", fill=True, alpha=0.15, ax=ax,
                                 linewidth=1.0)
                for name, group in panel.groupby("input"):
                    ax.axvline(group["value"].mean(), color=palette[name], linestyle="--", linewidth=0.9)
            layout.panel_title(ax, f"{dataset}, {tau}", next(letters))
            ax.set_xlabel(style.LABELS["critical_frequency"] if i == len(datasets) - 1 else "")
            ax.set_ylabel("test samples (%)" if j == 0 else "")
            ax.set_xlim(bins[0], bins[-1])
    _histogram_legend(figure, axes, order, palette)
    layout.note(figure, f"Trace: the target output neuron's {trace if not rows.empty else 'current'} "
                        "(mean removed); one value per test sample, pooled over seeds; dashed: means. "
                        "Frequency as a fraction of the sampling rate (seed 003's unit; a white train: 0.35).")
    _note(figure, note)
    return figure


def _histogram_legend(figure, axes, order, palette) -> None:
    from matplotlib.patches import Patch

    for ax in np.ravel(axes):
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles = [Patch(facecolor=palette[name], edgecolor=palette[name], alpha=0.5, label=name) for name in order]
    figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(order), 3),
                  frameon=False)


def sse_generalization(results: pd.DataFrame):
    """Seed 003 Fig. 5d-e: test SSE against train SSE over the training epochs (log-log), one
    trajectory per membrane time constant tau (thick: mean over seeds per epoch, thin: each seed),
    one panel per dataset. Below the dotted diagonal the test error is lower than the train error
    (the train SSE is a running average over the epoch, the test SSE is measured after it)."""
    rows, note = _tau_rows(select.epoch_rows(results))
    rows = rows.dropna(subset=["train_sse", "test_sse"]) if not rows.empty and "test_sse" in rows.columns else rows.iloc[0:0]
    missing.require(rows, results, "per-epoch train and test SSE (metrics.csv) of leak-ablation runs",
                   variants=["vanilla", "no_leak"])
    taus = select.tau_order(rows)
    palette = style.tau_palette(rows["tau_eff"].unique())
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(1, len(datasets), full_width=len(datasets) >= 2, aspect=0.9)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for j, dataset in enumerate(datasets):
        ax = axes[0, j]
        panel = rows[rows["dataset"] == dataset]
        for tau in taus:
            group = panel[panel["tau_label"] == tau]
            if group.empty:
                continue
            for _, seed_rows in group.groupby("run_dir"):
                seed_rows = seed_rows.sort_values("epoch")
                ax.plot(seed_rows["train_sse"], seed_rows["test_sse"], color=palette[tau], alpha=0.3, linewidth=0.7)
            mean = group.groupby("epoch")[["train_sse", "test_sse"]].mean().sort_index()
            ax.plot(mean["train_sse"], mean["test_sse"], color=palette[tau], marker="o", markersize=3, label=tau)
            last = mean.iloc[-1]
            ax.plot(last["train_sse"], last["test_sse"], marker="o", markersize=5, markerfacecolor="white",
                    color=palette[tau])
        low = float(np.nanmin(panel[["train_sse", "test_sse"]].to_numpy()))
        high = float(np.nanmax(panel[["train_sse", "test_sse"]].to_numpy()))
        ax.plot([low, high], [low, high], linestyle=":", color="0.5", linewidth=0.8, label="test = train")
        layout.plain_log(ax)
        layout.panel_title(ax, dataset, next(letters) if len(datasets) > 1 else None)
        ax.set_xlabel(style.LABELS["train_sse"])
        ax.set_ylabel(style.LABELS["test_sse"] if j == 0 else "")
    style.legend_outside(figure, axes, ncol=min(len(taus) + 1, 4))
    layout.note(figure, "Open circles: last epoch. Training runs forward from the upper right. SSE per sample "
                        "(seed 003 Table 1 / ref [21] sum over a batch: x64 train, x32 test; compare orderings).")
    _note(figure, note)
    return figure


def _layer_order(layers) -> list[str]:
    def key(name: str):
        digits = "".join(ch for ch in name if ch.isdigit())
        return (0, int(digits)) if name.startswith("layer") and digits else (1, name)
    return sorted(set(layers), key=key)


def enwsi(results: pd.DataFrame):
    """Seed 003 Fig. 6: layer-wise Euclidean norm of the weighted sum of spike inputs (ENWSI),
    averaged over time steps and test samples, one bar per membrane time constant tau per hidden
    layer (mean +- s.d. over seeds), one panel per dataset."""
    rows, note = _tau_rows(select.eval_rows(results, "activity", "enwsi"))
    missing.require(rows, results, "activity-suite ENWSI of leak-ablation runs", suites=["activity"],
                   variants=["vanilla", "no_leak"])
    per_run = select.per_run_mean(rows, ["dataset", "layer", "tau_label"])
    taus = select.tau_order(rows)
    palette = style.tau_palette(rows["tau_eff"].unique())
    datasets = select.datasets_of(rows)
    figure, axes = layout.grid(1, len(datasets), full_width=len(datasets) >= 2, aspect=0.75)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for j, dataset in enumerate(datasets):
        ax = axes[0, j]
        panel = per_run[per_run["dataset"] == dataset]
        sns.barplot(data=panel, x="layer", y="value", hue="tau_label", hue_order=[t for t in taus if t in
                    set(panel["tau_label"])], order=_layer_order(panel["layer"]), palette=palette,
                    errorbar=layout.ERRORBAR, ax=ax, capsize=0.1, err_kws={"linewidth": 0.8})
        layout.panel_title(ax, dataset, next(letters) if len(datasets) > 1 else None)
        ax.set_xlabel("hidden layer")
        ax.set_ylabel(style.LABELS["enwsi"] if j == 0 else "")
    style.legend_outside(figure, axes, ncol=min(len(taus), 4))
    _note(figure, note)
    return figure
