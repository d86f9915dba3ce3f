"""The leak each variant ends training with: the distribution of alpha (= beta, the membrane's
decay per step) per variant, hidden neurons and readout, read from the runs' final checkpoints.

Seed 001's group learns the leak (repository eva1801/DH-SNN, ``SNN_layers/spike_neuron.py`` lines
60-69, ``spike_dense.py`` lines 28-31, 180-185): ``alpha = sigmoid(p)``, ``p`` one value per neuron
drawn from U(0, 4), so alpha starts in ``[0.5, 0.982]`` (the shaded band). Where a leak is learned
the figure shows where training took it; a fixed leak shows as the single value it kept (no_leak
1, complete_leak 0; a linear leak has no alpha and is left out of the hidden panel).

Unlike the registered figures (which never open a checkpoint) this one opens each run's
``checkpoint.pt``: the model's parameters are not in the results table. It is therefore not in
:data:`ablations.figures.FIGURES`; draw it with ``benchmarks/delayed_xor_budget.py`` (which saves
``learned_leak.png`` beside its table) or ``learned_leak(ablations.figures.load(runs))``.
:func:`leak_rows` is the table it draws, one row per neuron.

Parameters read (by state-dict name): the readout's ``readout.leak_parameter`` (``integrator_softmax``,
alpha = sigmoid(p)); a hidden layer's ``beta`` (snnTorch's decay, clamped to [0, 1] as snnTorch
uses it) and, for a per-neuron learned leak, the names in :data:`HIDDEN_LEAK_LOGITS` (alpha =
sigmoid(p)).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from . import missing, style

__all__ = ["leak_rows", "learned_leak", "asked_variant", "HIDDEN_LEAK_LOGITS", "INIT_BAND"]

# names of per-neuron leak logits p (alpha = sigmoid(p)) a hidden neuron may carry
HIDDEN_LEAK_LOGITS = ("leak_parameter", "leak_logit", "beta_logit")
# DH-SNN's initial alpha: sigmoid(U(0, 4)) (spike_dense.py lines 30-31, 182-183)
INIT_BAND = (0.5, 1.0 / (1.0 + math.exp(-4.0)))


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def leak_rows(run_dirs: Iterable[str | Path], variants: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per neuron of every run in ``run_dirs`` that has a checkpoint: ``run_dir``, ``variant``,
    ``layer`` (``hidden`` or ``readout``), ``name`` (the state-dict key), ``neuron``, ``alpha``.

    ``variants`` maps a run directory to its variant (else the folder above the run's)."""
    import torch

    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "checkpoint.pt"
        if not path.exists():
            continue
        state = torch.load(path, map_location="cpu", weights_only=False)["model"]
        variant = (variants or {}).get(str(run_dir)) or Path(run_dir).parent.name
        for name, tensor in state.items():
            leaf = name.rsplit(".", 1)[-1]
            values = tensor.detach().float().reshape(-1).numpy()
            if name == "readout.leak_parameter":
                layer, alpha = "readout", _sigmoid(values)
            elif name.startswith("layers.") and leaf in HIDDEN_LEAK_LOGITS:
                layer, alpha = "hidden", _sigmoid(values)
            elif name.startswith("layers.") and leaf == "beta":
                if f"{name.rsplit('.', 1)[0]}.lam" in state or any(
                        f"{name.rsplit('.', 1)[0]}.{logit}" in state for logit in HIDDEN_LEAK_LOGITS):
                    continue  # a linear leak has no alpha; a per-neuron logit supersedes the scalar
                layer, alpha = "hidden", np.clip(values, 0.0, 1.0)
            else:
                continue
            rows += [{"run_dir": str(run_dir), "variant": variant, "layer": layer, "name": name, "neuron": index,
                      "alpha": float(value)} for index, value in enumerate(alpha)]
    return pd.DataFrame(rows, columns=["run_dir", "variant", "layer", "name", "neuron", "alpha"])


def asked_variant(run_dir: str | Path, recorded: str) -> str:
    """The ``variant=`` of the run's command line (its status.json), else the recorded variant: a
    variant run with extra neuron keys (DH-SNN's ``input_scale=one_minus_beta``) is filed under the
    label of its physics (``exponential_zero_input_one_minus_beta`` for vanilla)."""
    from ..results import read_status

    for override in (read_status(Path(run_dir)) or {}).get("overrides") or []:
        if str(override).startswith("variant="):
            return str(override).split("=", 1)[1]
    return recorded


def learned_leak(results: pd.DataFrame):
    """Alpha per variant after training (hidden neurons and readout), every seed pooled;
    the band is DH-SNN's initial range sigmoid(U(0, 4))."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    runs = results[results["kind"] == "run"] if "kind" in results else results.iloc[0:0]
    variants = {run_dir: asked_variant(run_dir, variant)
                for run_dir, variant in zip(runs["run_dir"].astype(str), runs["variant"].astype(str))}
    rows = leak_rows(variants, variants)
    if rows.empty:
        raise missing.MissingResults(
            "no run with a checkpoint to read the learned leak from",
            ["python benchmarks/delayed_xor_budget.py --runs runs --seeds 8"])
    order = [v for v in style.VARIANTS if v in set(rows["variant"])]
    order += sorted(set(rows["variant"]) - set(order))
    layers = [layer for layer in ("hidden", "readout") if layer in set(rows["layer"])]
    figure, axes = plt.subplots(1, len(layers), figsize=(3.4 * len(layers) + 1.0, 3.2), squeeze=False,
                                sharey=True)
    for axis, layer in zip(axes[0], layers):
        mine = rows[rows["layer"] == layer]
        axis.axhspan(*INIT_BAND, color="0.9", zorder=0, label="initial range (DH-SNN)")
        palette = {v: style.variant_color(v) for v in order}
        sns.stripplot(data=mine, x="variant", y="alpha", order=[v for v in order if v in set(mine["variant"])],
                      hue="variant", palette=palette, legend=False, size=3, jitter=0.25, alpha=0.7, ax=axis)
        counts = mine.groupby("variant")["run_dir"].nunique()
        axis.set_title(f"{layer} neurons" + ("" if counts.empty else f" ({int(counts.max())} runs per variant)"))
        axis.set_xlabel("")
        axis.set_ylabel("alpha (decay per step)")
        axis.set_ylim(-0.03, 1.03)
        axis.tick_params(axis="x", rotation=30)
    axes[0][0].legend(loc="lower left", fontsize="small", frameon=False)
    figure.suptitle("Learned leak after training")
    figure.tight_layout()
    return figure
