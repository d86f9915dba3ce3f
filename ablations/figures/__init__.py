"""Figures and tables of the three papers, regenerated from run records alone.

Every entry of :data:`FIGURES` is a named function ``(results DataFrame) -> matplotlib Figure``
(or ``-> DataFrame`` for a table) drawn with seaborn in the package theme
(:mod:`ablations.figures.style`); its docstring names the paper figure it regenerates. The only
input is the tidy table of :func:`ablations.results.load_results`; no figure loads a model
checkpoint (the loss landscapes and t-SNE maps were computed on the model by their evaluation
suites, at evaluation time). Two figures need no runs at all: ``coherence`` (from the
``coherence`` suite's rows when present, else computed analytically with
:mod:`ablations.evaluation.coherence`) and ``membrane_traces`` (simulated with
:func:`ablations.neurons.simulate`).

A figure that lacks the rows it needs raises :class:`MissingResults` with the exact command that
produces them; :func:`render` collects those as skipped entries instead of failing.

=======================  =========================================================================
name                     regenerates
=======================  =========================================================================
coherence                seed 003 Fig. 2: coherence vs frequency, IF and LIF (low, high leak)
noise_robustness         seed 003 Fig. 3: accuracy vs noise severity per tau, scenario x noise
input_spectra            seed 003 Fig. 4: input spike-train spectra, clean vs noisy
critical_frequency       seed 003 Fig. 5a-c: critical-frequency histograms per tau
sse_generalization       seed 003 Fig. 5d-e: test SSE vs train SSE over training (log-log)
enwsi                    seed 003 Fig. 6: layer-wise ENWSI per tau
leak_critical_frequency  seed 003 section 4.3: mean critical frequency per tau, clean vs noisy
leak_table1              seed 003 Table 1: accuracy, SSE, spikes, synaptic operations per tau
membrane_traces          seed 001 Fig. 2: membrane traces of the five variants, same input
learning_curves          seed 001 Fig. 3: test loss and accuracy vs epoch per variant
spike_rate_histograms    seed 001 Fig. 4: per-neuron spike-rate histograms, reset vs no reset
loss_landscapes          seed 001 Fig. 6: 2-D loss landscapes per variant
tsne                     seed 001 Fig. 7: t-SNE of the last hidden layer per variant
attack                   seed 001 Fig. 9: attack success rate and mean L2 perturbation (event data)
adversarial_accuracy     the package's own analysis (no seed 001 figure): FGSM / PGD accuracy on image data vs budget
event_noise              the package's own analysis (no paper figure): accuracy vs event-noise severity per variant
roles_table6             seed 001 Table 6: accuracy per variant x dataset
roles_table7             seed 001 Table 7: accuracy per variant x test frame window
xor_escape               seed 001 Table 6 (delayed XOR): every run's held-out accuracy over steps, escape step marked
xor_table6               seed 001 Table 6 (delayed XOR): runs escaped and solved, test and training-window accuracy
linear_leak_noise        seed 002: accuracy under noise, linear vs exponential vs no leak
linear_leak_rate         seed 002: firing rate vs the linear-leak parameter lambda
variant_comparison       any grid: every recorded metric per variant (or swept key), seeds and 95 % intervals
variant_heatmap          any grid sweeping two keys: mean test accuracy per cell, with n
variant_learning_curves  any grid: test accuracy / loss and train loss per epoch per variant
study_pareto             studies: Pareto front (or objective vs parameter), one per study
study_history            studies: objective per trial and best so far, one per study
=======================  =========================================================================
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..registry import Registry, resolve_target
from .missing import MissingResults

__all__ = [
    "FIGURES",
    "FigureSpec",
    "MissingResults",
    "Outcome",
    "build_figure",
    "build",
    "get",
    "register",
    "load",
    "markdown_table",
    "names",
    "render",
    "write_table",
]


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure or table: where its function lives and what it regenerates."""

    name: str
    target: str | Callable[[pd.DataFrame], Any]  # the function, or "module:function" (inside ablations.figures
                                                 # when the module has no dots), imported on use
    paper: str             # the paper figure or table it regenerates
    kind: str = "figure"   # figure | table
    per: str | None = None  # "study": drawn once per study into studies/<name>/
    needs_runs: bool = True

    def function(self) -> Callable[[pd.DataFrame], Any]:
        return resolve_target(self.target, package=__name__)


FIGURES: Registry[FigureSpec] = Registry("figure")


def register(spec: FigureSpec, replace: bool = False) -> FigureSpec:
    """Register a figure or table (plugins: ``figures.register(FigureSpec("name", function, "what"))``)."""
    if spec.kind not in ("figure", "table"):
        raise ValueError(f"figure {spec.name!r}: kind={spec.kind!r} must be 'figure' or 'table'")
    return FIGURES.add(spec.name, spec, replace=replace)


for _spec in (
    FigureSpec("coherence", "leak:coherence", "seed 003 Fig. 2", needs_runs=False),
    FigureSpec("noise_robustness", "leak:noise_robustness", "seed 003 Fig. 3"),
    FigureSpec("input_spectra", "leak:input_spectra", "seed 003 Fig. 4"),
    FigureSpec("critical_frequency", "leak:critical_frequency", "seed 003 Fig. 5a-c"),
    FigureSpec("sse_generalization", "leak:sse_generalization", "seed 003 Fig. 5d-e"),
    FigureSpec("enwsi", "leak:enwsi", "seed 003 Fig. 6"),
    FigureSpec("leak_critical_frequency", "tables:leak_critical_frequency", "seed 003 section 4.3 (Fig. 5 means)",
               kind="table"),
    FigureSpec("leak_table1", "tables:leak_table1", "seed 003 Table 1", kind="table"),
    FigureSpec("membrane_traces", "roles:membrane_traces", "seed 001 Fig. 2", needs_runs=False),
    FigureSpec("learning_curves", "roles:learning_curves", "seed 001 Fig. 3"),
    FigureSpec("spike_rate_histograms", "roles:spike_rate_histograms", "seed 001 Fig. 4"),
    FigureSpec("loss_landscapes", "roles:loss_landscapes", "seed 001 Fig. 6"),
    FigureSpec("tsne", "roles:tsne", "seed 001 Fig. 7"),
    FigureSpec("attack", "roles:attack", "seed 001 Fig. 9"),
    FigureSpec("adversarial_accuracy", "roles:adversarial_accuracy",
               "the package's own analysis (image data; no seed 001 figure shows it)"),
    FigureSpec("event_noise", "event_noise:event_noise",
               "the package's own analysis (event data; no paper figure): accuracy vs event noise"),
    FigureSpec("roles_table6", "tables:roles_table6", "seed 001 Table 6", kind="table"),
    FigureSpec("roles_table7", "tables:roles_table7", "seed 001 Table 7", kind="table"),
    FigureSpec("xor_escape", "xor_escape:xor_escape", "seed 001 Table 6 (delayed XOR), run by run"),
    FigureSpec("xor_table6", "xor_escape:xor_table6", "seed 001 Table 6 (delayed XOR) as success counts", kind="table"),
    FigureSpec("linear_leak_noise", "linear:linear_leak_noise", "seed 002 (noise robustness)"),
    FigureSpec("linear_leak_rate", "linear:linear_leak_rate", "seed 002 (rate vs leak parameter)"),
    FigureSpec("variant_comparison", "grid:variant_comparison", "any grid: every recorded metric per variant"),
    FigureSpec("variant_heatmap", "grid:variant_heatmap", "any grid sweeping two keys: accuracy heat map"),
    FigureSpec("variant_learning_curves", "grid:variant_learning_curves", "any grid: learning curves per variant"),
    FigureSpec("study_pareto", "studies:study_pareto", "studies: Pareto front", per="study"),
    FigureSpec("study_history", "studies:study_history", "studies: optimisation history", per="study"),
):
    register(_spec)


def names(kind: str | None = None) -> list[str]:
    """Registered names in registry order (only figures or only tables when ``kind`` is given)."""
    return [n for n, spec in FIGURES.items() if kind is None or spec.kind == kind]


def get(name: str) -> FigureSpec:
    return FIGURES.get(name)


def load(runs: str | Path = "runs") -> pd.DataFrame:
    """The results table of ``runs`` (:func:`ablations.results.load_results`), remembering the root and
    each run's config (the keys that tell settings apart: :mod:`ablations.figures.settings`)."""
    from ..results import load_results

    from .settings import attach_configs

    frame = load_results(runs)
    frame.attrs["runs_root"] = str(runs)
    return attach_configs(frame)


def build_figure(name: str, results: pd.DataFrame, grid: str | None = None) -> Any:
    """The figure (or table) ``name`` drawn from ``results`` (only the runs of ``grid``,
    ``"DATASET/MODEL"``, when given); raises :class:`MissingResults`, and
    :class:`~ablations.figures.settings.AmbiguousGrid` for a grid figure of several grids."""
    from . import style

    spec = get(name)
    if grid:
        from .settings import filter_grid

        results = filter_grid(results, grid)
    with style.theme():
        return spec.function()(results)


build = build_figure  # the spelling of the quickstart notebook (examples/quickstart.ipynb)


# --------------------------------------------------------------------------- tables on disk
def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value).replace("|", "\\|")


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency), ``mean ± s.d.`` merged."""
    from .tables import display_table

    table = display_table(table)
    header = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    notes = table.attrs.get("notes")
    caption = table.attrs.get("caption")
    head = [f"**{caption}**", ""] if caption else []
    tail = ["", *[f"- {n}" for n in notes]] if notes else []
    return "\n".join(head + lines + tail) + "\n"


def readable(path: Path) -> Path:
    """Give a written file the usual permissions (the atomic writer's temporary files are private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
    return path


def write_table(table: pd.DataFrame, stem: Path) -> list[Path]:
    from ..results import atomic_write_text

    return [readable(atomic_write_text(stem.with_suffix(".csv"), table.to_csv(index=False))),
            readable(atomic_write_text(stem.with_suffix(".md"), markdown_table(table)))]


def _freeze_layout(figure) -> None:
    """Keep the panel positions the first save computed: later saves (PDF after PNG, the report's
    PNG) skip constrained layout, the costliest part of drawing a figure."""
    if figure.get_layout_engine() is not None and type(figure.get_layout_engine()).__name__ != "PlaceHolderLayoutEngine":
        figure.set_layout_engine("none")


def figure_bytes(figure, fmt: str) -> bytes:
    """The figure as ``fmt``, its notes (what it left out, caveats) written under the panels."""
    from .layout import stamp_notes

    stamped = stamp_notes(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, **({"bbox_inches": "tight"} if stamped else {}))
    return buffer.getvalue()


# --------------------------------------------------------------------------- rendering
@dataclass
class Outcome:
    """What :func:`render` did: files per produced name, the reason per skipped one, seconds per name."""

    produced: dict[str, list[Path]] = field(default_factory=dict)
    skipped: dict[str, MissingResults] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _parts(spec: FigureSpec, results: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``[(sub-folder, rows)]``: the whole table, or one entry per study for per-study figures."""
    if spec.per != "study":
        return [("", results)]
    studies = sorted(str(s) for s in results.get("study", pd.Series(dtype=object)).dropna().unique())
    if not studies:
        from .studies import no_study

        raise no_study(results)
    parts = []
    for study in studies:
        subset = results[results["study"].astype(str) == study]
        subset.attrs.update(results.attrs)
        parts.append((f"studies/{study}", subset))
    return parts


def render(results: pd.DataFrame, out_dir: str | Path | None, which: Iterable[str] | None = None,
           formats: Sequence[str] = ("png", "pdf"), keep: bool = False,
           log: Callable[..., None] | None = print) -> Outcome:
    """Draw ``which`` (default: all) from ``results`` and write them under ``out_dir``.

    Figures go to ``<out_dir>/<name>.<fmt>``, tables to ``<name>.csv`` and ``<name>.md``,
    per-study figures to ``<out_dir>/studies/<study>/<name>.<fmt>``. With ``out_dir=None``
    nothing is written and ``keep=True`` returns the objects (the report embeds them).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..results import atomic_write_bytes
    from . import style

    out = Path(out_dir) if out_dir is not None else None
    outcome = Outcome()
    for name in list(which) if which is not None else names():
        spec = get(name)
        start = time.perf_counter()
        try:
            parts = _parts(spec, results)
            for folder, rows in parts:
                with style.theme():
                    made = spec.function()(rows)
                    key = name if not folder else f"{folder}/{name}"
                    files: list[Path] = []
                    if out is not None:
                        stem = out / folder / name if folder else out / name
                        if spec.kind == "table":
                            files = write_table(made, stem)
                        else:
                            for fmt in formats:
                                files.append(readable(atomic_write_bytes(stem.with_suffix(f".{fmt}"),
                                                                         figure_bytes(made, fmt))))
                                _freeze_layout(made)
                    outcome.produced[key] = files
                    if spec.kind == "figure" and log is not None:
                        from .layout import notes

                        for text in notes(made):
                            log(f"  note ({key}): {text}", flush=True)
                    if keep:
                        outcome.objects[key] = made
                    elif spec.kind == "figure":
                        plt.close(made)
        except MissingResults as missing:
            outcome.skipped[name] = missing
        outcome.seconds[name] = time.perf_counter() - start
        if log is not None:
            if name in outcome.skipped:
                log(f"skipped {name} ({spec.paper}): {outcome.skipped[name]}", flush=True)
            else:
                made_keys = [k for k in outcome.produced if k == name or k.endswith(f"/{name}")]
                where = ", ".join(str(p) for k in made_keys for p in outcome.produced[k]
                                  if p.suffix in (".png", ".csv")) or "in memory"
                log(f"{name} ({spec.paper}): {where} [{outcome.seconds[name]:.1f} s]", flush=True)
    return outcome
