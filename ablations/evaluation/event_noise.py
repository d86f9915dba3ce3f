"""``event_noise`` suite: accuracy of an event-data network under sensor-like event noise.

The noise acts on the raw events of each test sample, before they are binned into frames, through
tonic's transforms (:mod:`ablations.data.event_noise`: ``drop_event``, ``time_jitter``,
``uniform_noise``, ``drop_pixel``; the severities and their units are in ``eval.event_noise`` of
``conf/eval/default.yaml``). The noisy events are binned exactly as the clean ones
(:class:`ablations.data.frames.FrameDataset`: the dataset's frame window or bin count, fixed T,
clip), without the frame cache; severity 0 is the cached clean test set, run once and reported
for every kind.

Rows, per (``noise``, ``severity``), with ``level`` (0 = clean, 1.. in the order given) and
``unit`` (what the severity measures):

* ``accuracy``, ``loss`` (``train.loss``), ``sse``: as the ``clean`` suite, over the evaluated
  samples (``n_samples`` column: how many; an accuracy moves in steps of ``1 / n_samples``);
* ``event_ratio``: events after the noise / events before, averaged over the samples (1 at
  severity 0; below 1 for dropped events and pixels, above for added noise).

A claim reads them as ``suite == "event_noise"``, ``metric == "accuracy"``, one curve per
``noise`` over ``severity`` (or ``level``).

Applies to event data (``digits_events``, ``nmnist``, ``dvs_gesture``, ``shd``, ``ssc``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader, Subset

from .. import tracking
from ..data.bundle import DataBundle
from ..data.event_noise import EVENT_NOISES, UNITS, NoisyEvents, make_event_noise
from ..data.frames import FrameDataset
from ..errors import UserError
from .clean import evaluate_split
from .common import loss_name, params, test_indices, tidy

__all__ = ["event_noise", "conditions"]


def conditions(p: Any) -> list[tuple[str, float]]:
    """``(noise, severity)`` pairs of ``eval.event_noise`` in the order given, zeros left out
    (severity 0 is the clean test set, run once); UserError on an unknown kind or a bad value."""
    names = [str(n) for n in p.noises]
    unknown = [n for n in names if n not in UNITS]
    if unknown:
        raise UserError(f"eval.event_noise.noises: {unknown} not among {list(EVENT_NOISES)}")
    extra = sorted(set(p.severities.keys()) - set(UNITS))
    if extra:
        raise UserError(f"eval.event_noise.severities: {extra} not among {list(EVENT_NOISES)}")
    pairs = []
    for name in names:
        for severity in p.severities.get(name) or []:
            make_event_noise(name, severity, (1, 1, 1))  # validates the value
            if float(severity) != 0:
                pairs.append((name, float(severity)))
    return pairs


def event_noise(model: torch.nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "event_noise")
    pairs = conditions(p)
    clean = data.test
    if not isinstance(clean, FrameDataset):
        raise UserError(f"suite event_noise needs the raw events of the test split; dataset {data.name!r} gives "
                        f"{type(clean).__name__} frames without them")
    sensor = getattr(clean.events, "sensor_size", None)
    if sensor is None:  # the frame sensor, scaled back to the recording's resolution
        width, height, polarities = clean.spec.sensor_size
        sensor = (round(width / clean.spec.spatial_factor), round(height / clean.spec.spatial_factor), polarities)
    indices = test_indices(data, p.n_samples, int(p.seed))
    seed, batch_size, loss = int(p.seed), int(p.batch_size), loss_name(cfg)
    batches = -(-len(indices) // batch_size)
    rows: list[dict] = []
    progress = tracking.Progress("eval event_noise", total=batches * (1 + len(pairs)), unit="batch",
                                 enabled=tracking.progress_enabled(cfg))

    def measure(frames) -> dict[str, float]:
        loader = DataLoader(Subset(frames, indices), batch_size=batch_size, shuffle=False)
        counted = _Counted(loader, progress)
        return evaluate_split(model, dataclasses.replace(data, test=frames), counted, seed, loss)

    with progress:
        base = measure(clean)
        for name in [str(n) for n in p.noises]:
            rows += _rows(base, name, 0.0, 0, 1.0, len(indices))
        for level_of, (name, severity) in _levels(pairs):
            noise = make_event_noise(name, severity, sensor, clean.spec.time_window_us, clean.spec.n_bins)
            events = NoisyEvents(clean.events, noise, seed)
            metrics = measure(FrameDataset(events, clean.spec, cache_dir=None))
            ratios = [after / before for before, after in events.counts.values() if before]
            ratio = sum(ratios) / len(ratios) if ratios else float("nan")
            rows += _rows(metrics, name, severity, level_of, ratio, len(indices))
    return tidy(rows, "event_noise")


def _levels(pairs: list[tuple[str, float]]):
    """``(level, (noise, severity))``: level 1, 2, ... within each noise, in the order given."""
    seen: dict[str, int] = {}
    for name, severity in pairs:
        seen[name] = seen.get(name, 0) + 1
        yield seen[name], (name, severity)


def _rows(metrics: dict[str, float], name: str, severity: float, level: int, ratio: float, n: int) -> list[dict]:
    values = {**metrics, "event_ratio": ratio}
    return [{"metric": metric, "value": value, "noise": name, "severity": float(severity), "level": int(level),
             "unit": UNITS[name], "n_samples": int(n)} for metric, value in values.items()]


class _Counted:
    """A loader that advances a :class:`ablations.tracking.Progress` by one per batch."""

    def __init__(self, loader: DataLoader, progress: tracking.Progress):
        self.loader, self.progress = loader, progress

    def __iter__(self):
        for batch in self.loader:
            yield batch
            self.progress.update(1)

    def __len__(self) -> int:
        return len(self.loader)
