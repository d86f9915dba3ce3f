"""Evaluation suites: one registry, one runner, one module per suite.

A suite is a function ``(model, data: DataBundle, cfg) -> pandas.DataFrame`` returning tidy
rows: one row per measured value with columns ``suite``, ``metric``, ``value`` and the condition
columns the suite needs (``noise``, ``scenario``, ``severity``, ``attack``, ``epsilon``, ``layer``,
``neuron``, ``time_step``, ``sample``, ``frequency``, ``time_window_ms``, ``x``, ``y``, ``label``,
``split``, ...). Its parameters are ``cfg.eval.<suite>`` over the defaults documented in
``conf/eval/default.yaml``. What each suite writes is listed in its module docstring:

=================  ==========================================================================
suite              metrics
=================  ==========================================================================
``clean``          accuracy, loss, sse per ``split``
``noise``          accuracy, loss, sse per (``noise``, ``scenario``, ``severity``)
``event_noise``    event data: accuracy, loss, sse, event_ratio per (``noise``, ``severity``),
                   noise drop_event / time_jitter / uniform_noise / drop_pixel (tonic)
``adversarial``    accuracy per (``attack``, ``epsilon``), attack fgsm / pgd / random_control;
                   event and generated spike data: accuracy, attack_success_rate,
                   mean_l2_perturbation, mean_flipped_spikes (attack g2s)
``activity``       spike_rate (per ``layer``; per ``layer`` and ``neuron``), synaptic_ops,
                   dense_macs, activation_sparsity per ``layer``, enwsi per ``layer`` and
                   ``time_step``
``generalization`` train_sse, test_sse, train_loss, test_loss, train_accuracy, test_accuracy per
                   ``epoch``; event data: accuracy, loss, sse per ``time_window_ms``
``spectral``       input_power per (``condition``, ``frequency``); critical_frequency per
                   (``condition``, ``trace``, ``sample``)
``coherence``      coherence per (``neuron``, ``source``, ``omega``), firing_rate_hz
``landscape``      loss, accuracy per (``x``, ``y``)
``embedding``      tsne_x, tsne_y per ``sample`` (with ``label``), silhouette per ``space``
``neurobench``     NeuroBench's footprint_bytes, connection_sparsity, accuracy,
                   activation_sparsity (per ``layer``), effective_macs, effective_acs,
                   dense_synaptic_ops, membrane_updates, neuron ops (optional extra)
=================  ==========================================================================

:func:`run_suites` writes each suite's rows atomically to ``<run_dir>/eval/<suite>.parquet``.
"""

from __future__ import annotations

import inspect
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from ..errors import UserError
from ..registry import Registry, resolve_target

__all__ = ["Suite", "SUITES", "register", "KINDS", "available", "get", "resolve", "check", "run_suite", "run_suites", "suite_path"]

KINDS = ("static", "event", "temporal")


@dataclass(frozen=True)
class Suite:
    """A named suite: where its function lives, which data kinds it applies to."""

    name: str
    target: str | Callable[..., pd.DataFrame]  # the function, or "package.module:function" (imported on use)
    kinds: tuple[str, ...] = KINDS
    needs_model: bool = True
    description: str = ""
    defaults: Any = None  # parameters of a suite registered from outside (the shipped ones: conf/eval/default.yaml)
    reports_progress: bool = False  # True: the suite reports its own progress (tracking.Progress); else a heartbeat

    def function(self) -> Callable[..., pd.DataFrame]:
        return resolve_target(self.target)


SUITES: Registry[Suite] = Registry("evaluation suite")


def register(suite: Suite, replace: bool = False) -> Suite:
    """Register a suite (a plugin adds its own parameters under ``eval.<name>`` in its eval config)."""
    if any(kind not in KINDS for kind in suite.kinds):
        raise ValueError(f"suite {suite.name!r}: kinds {suite.kinds} must be among {KINDS}")
    return SUITES.add(suite.name, suite, replace=replace)


for _suite in (
    Suite("clean", "ablations.evaluation.clean:clean", description="accuracy, loss and SSE on the test split"),
    Suite("noise", "ablations.evaluation.noise:noise", kinds=("static",), reports_progress=True,
          description="Gaussian / impulse input noise, scenarios 1 and 2, 8 severities (Poisson-coded images)"),
    Suite("event_noise", "ablations.evaluation.event_noise:event_noise", kinds=("event",), reports_progress=True,
          description="event data: dropped events, timestamp jitter, added noise events, dead pixels (tonic), by severity"),
    Suite("adversarial", "ablations.evaluation.adversarial:adversarial", reports_progress=True,
          description="FGSM / PGD with EOT (static); spike-valued gradient attack (event, generated spikes)"),
    Suite("activity", "ablations.evaluation.activity:activity",
          description="spike rates, synaptic operations, dense MACs, ENWSI, activation sparsity"),
    Suite("generalization", "ablations.evaluation.generalization:generalization",
          description="train/test SSE per epoch; event data: accuracy at other frame time windows"),
    Suite("spectral", "ablations.evaluation.spectral:spectral",
          description="input spike-train spectra clean vs noisy; critical frequency of the target output"),
    Suite("coherence", "ablations.evaluation.coherence:coherence", needs_model=False,
          description="analytic and simulated coherence of white-noise-driven IF / LIF neurons"),
    Suite("landscape", "ablations.evaluation.landscape:landscape",
          description="2-D loss surface along filter-normalised random directions"),
    Suite("embedding", "ablations.evaluation.embedding:embedding",
          description="t-SNE of the last hidden layer's spike counts and silhouette"),
    Suite("neurobench", "ablations.evaluation.neurobench:neurobench",
          description="NeuroBench's own Benchmark: footprint, sparsities, effective MACs/ACs, membrane updates"),
):
    register(_suite)


def available(kind: str | None = None) -> list[str]:
    """Suite names in registry order, those that apply to ``kind`` when given."""
    return [name for name, suite in SUITES.items() if kind is None or kind in suite.kinds]


def get(name: str) -> Suite:
    return SUITES.get(name)


def resolve(names: str | Iterable[str], kind: str | None = None) -> list[str]:
    """Validated suite names; ``all`` expands to every suite that applies to ``kind``.

    An unknown name, or a suite that does not apply to ``kind``, raises :class:`UserError`
    listing the valid choices.
    """
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    names = [str(n).strip() for n in names if str(n).strip()]
    unknown = [n for n in names if n != "all" and n not in SUITES]
    if unknown:
        raise UserError(f"unknown evaluation suite(s) {unknown}; valid suites: {', '.join(SUITES)} (or all)")
    out: list[str] = []
    for name in names:
        for expanded in (available(kind) if name == "all" else [name]):
            if expanded not in out:
                out.append(expanded)
    if kind is not None:
        wrong = [n for n in out if kind not in SUITES[n].kinds]
        if wrong:
            details = "; ".join(f"{n} applies to {'/'.join(SUITES[n].kinds)} data" for n in wrong)
            raise UserError(f"suite(s) {wrong} do not apply to {kind} data ({details}); "
                            f"suites for {kind} data: {', '.join(available(kind))}")
    return out


def check(cfg: Any, kind: str | None = None) -> list[str]:
    """Validate ``cfg.eval.suites`` and their parameters before any work (e.g. before training).

    Returns the resolved suite names; raises :class:`UserError` on an unknown or inapplicable
    suite or an unknown parameter.
    """
    from .common import params

    names = resolve(list(cfg.eval.get("suites") or []), kind or _kind(cfg, None))
    for name in names:
        params(cfg, name)
    return names


def suite_path(run_dir: str | Path, name: str) -> Path:
    from ..results import EVAL_DIR

    return Path(run_dir) / EVAL_DIR / f"{name}.parquet"


#: Suites that read spikes or probes of a spiking network (not for ``model=lstm|gru|rnn``).
SPIKING_ONLY = ("activity", "embedding", "spectral")


def run_suite(name: str, model: Any, data: Any, cfg: Any, run_dir: str | Path | None = None) -> pd.DataFrame:
    """Rows of one suite (not written); checks the tidy contract."""
    if name in SPIKING_ONLY and getattr(model, "spiking", True) is False:
        raise UserError(f"suite {name!r} measures spikes and membranes of a spiking network; this model "
                        f"({type(model).__name__}) has none. Suites for non-spiking models: "
                        f"{', '.join(n for n in SUITES if n not in SPIKING_ONLY)}")
    function = get(name).function()
    kwargs = {"run_dir": run_dir} if "run_dir" in inspect.signature(function).parameters else {}
    frame = function(model, data, cfg, **kwargs)
    missing = {"suite", "metric", "value"} - set(frame.columns)
    if missing:
        raise RuntimeError(f"suite {name!r} returned rows without the columns {sorted(missing)}")
    return frame


def _kind(cfg: Any, data: Any) -> str | None:
    if data is not None:
        return str(data.kind)
    try:
        kind = cfg.dataset.get("kind")
    except AttributeError:
        kind = None
    return None if kind is None else str(kind)


@contextmanager
def _heartbeat(name: str, model: Any, cfg: Any):
    """Progress of a suite that does not report its own: a :class:`ablations.tracking.Heartbeat`
    counting the model's forward passes (a line every so often in a log; a counter on a terminal)."""
    from .. import tracking

    if SUITES[name].reports_progress or not tracking.progress_enabled(cfg):
        yield
        return
    with tracking.Heartbeat(f"eval {name}", unit="forward pass") as beat:
        hook = model.register_forward_hook(lambda *_: beat.tick()) if hasattr(model, "register_forward_hook") else None
        try:
            yield
        finally:
            if hook is not None:
                hook.remove()


def _small_sample_note(name: str, frame: pd.DataFrame, cfg: Any, data: Any) -> None:
    """Say so when a suite's accuracies come from fewer than ``tracking.SMALL_SAMPLE`` samples
    (its ``n_samples`` column, or its ``n_samples`` parameter on the test split)."""
    from .. import tracking
    from .common import params

    if "accuracy" not in set(frame.get("metric", [])):
        return
    if "n_samples" in frame.columns and frame["n_samples"].notna().any():
        n = int(frame["n_samples"].min())
    elif data is not None and hasattr(data, "test"):
        wanted = params(cfg, name).get("n_samples") if name in SUITES else None
        n = len(data.test) if wanted is None else min(len(data.test), int(wanted))
    else:
        return
    note = tracking.small_sample_note(n, what=f"the {name} suite's test subset")
    if note:
        print(note, flush=True)


def run_suites(run_dir: str | Path, suites: str | Iterable[str], cfg: Any, data: Any = None, model: Any = None,
               device: Any = None, overwrite: bool = False) -> dict[str, Path]:
    """Run ``suites`` on a run and write ``<run_dir>/eval/<suite>.parquet`` for each.

    Suites already written are skipped unless ``overwrite``. The model is loaded with
    :func:`ablations.results.load_model` and the data built from ``cfg.dataset`` when not given.
    Names are validated before any work (:func:`resolve`). Prints each suite's wall time and
    returns ``{suite: parquet path}`` of the suites written now.
    """
    from .. import data as datasets
    from .. import results
    from ..streams import evaluation_draws
    from ..training import select_device

    run_dir = Path(run_dir)
    names = resolve(suites, _kind(cfg, data))
    todo = [n for n in names if overwrite or not suite_path(run_dir, n).exists()]
    for name in names:
        if name not in todo:
            print(f"  eval {name}: already in {suite_path(run_dir, name)}; skipped (overwrite=true recomputes)",
                  flush=True)
    if not todo:
        return {}
    if data is None and any(SUITES[n].needs_model for n in todo):
        try:
            data = datasets.build_dataset(cfg.dataset, cfg.paths.data)
        except ValueError as error:
            raise UserError(str(error)) from None
        names = resolve(todo, data.kind)
    if model is None and any(SUITES[n].needs_model for n in todo):
        device = select_device(str(cfg.get("device", "auto"))) if device is None else device
        model, _ = results.load_model(run_dir, device=device)
    if model is not None:
        was_training = model.training
        model.eval()
    written: dict[str, Path] = {}
    try:
        for name in todo:
            start = time.perf_counter()
            with evaluation_draws(cfg), _heartbeat(name, model, cfg):  # paired draws: one encoded test set
                frame = run_suite(name, model, data, cfg, run_dir=run_dir)
            path = results.atomic_write_parquet(suite_path(run_dir, name), frame)
            written[name] = path
            print(f"  eval {name}: {len(frame)} rows in {time.perf_counter() - start:.1f} s -> {path}", flush=True)
            _small_sample_note(name, frame, cfg, data)
    finally:
        if model is not None:
            model.train(was_training)
    return written
