r"""``digits_events``: an N-MNIST-like event dataset made from scikit-learn's digits (no download).

N-MNIST (Orchard et al. 2015) was recorded by moving a DVS camera in three saccades in front of
MNIST digits. Here the camera is simulated on the 8x8 ``digits`` images (same stratified split as
``digits``, fixed by ``split_seed``):

1. **Saccades.** The image (pixels in [0, 1]) sits on a dark ``S x S`` sensor,
   ``S = 8 + amplitude_px + 2 margin_px`` (12 by default), at offset ``margin_px``. Its offset
   ``(dx, dy)`` follows N-MNIST's triangle, scaled to the image size: ``(0, 0) -> (a/2, a) ->
   (a, 0) -> (0, 0)`` with ``a = amplitude_px`` (N-MNIST: 3.5 and 7 pixels for 28-pixel digits),
   each leg lasting ``saccade_ms`` at constant speed. The brightness ``B_t`` of a sensor pixel
   at sub-pixel offsets is the bilinear interpolation of the shifted image.
2. **Events.** Time advances in steps of ``dt_us``. Each pixel keeps a reference level ``R``
   (initially ``B_0``); whenever ``B_t - R >= c`` (``c = threshold``) it emits
   ``n = floor((B_t - R) / c)`` ON events (polarity 1) at time t and raises ``R`` by ``n c``;
   when ``R - B_t >= c`` it emits OFF events (polarity 0) and lowers ``R`` likewise. This is a
   DVS pixel on linear (not log) brightness: the images have true black (0) background.
3. The events, one structured array per sample with tonic's N-MNIST fields ``(x, y, t [us], p)``,
   go through the same pipeline as N-MNIST: ``tonic.transforms.ToFrame`` by
   ``frame.time_window_ms`` or ``frame.n_bins``, disk cache, fixed T (:mod:`ablations.data.frames`).
   The recording lasts ``3 saccade_ms`` (the default ``frame.duration_ms``).

The generated events are cached in ``<paths.data>/digits_events/events-<hash>/{train,test}.npz``
(hash of every generation parameter), written atomically; generation takes about a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from .bundle import DataBundle
from .embedded import digits_arrays
from .frames import event_bundle
from ..errors import UserError

__all__ = ["SaccadeParams", "saccade_offsets", "simulate_events", "EventArrays", "digits_events", "EVENT_DTYPE"]

EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])  # as tonic's NMNIST
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class SaccadeParams:
    saccade_ms: float = 30.0     # duration of each of the three saccades
    amplitude_px: float = 2.0    # a: the triangle (0,0) -> (a/2, a) -> (a, 0) -> (0,0), in pixels
    margin_px: int = 1           # dark border around the moving image
    threshold: float = 0.1       # brightness change per event (image pixels lie in [0, 1])
    dt_us: int = 500             # simulation step
    test_fraction: float = 0.25  # the `digits` split
    split_seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.saccade_ms > 0, f"dataset.saccade_ms={self.saccade_ms} must be > 0"),
            (self.amplitude_px >= 0, f"dataset.amplitude_px={self.amplitude_px} must be >= 0"),
            (self.margin_px >= 0, f"dataset.margin_px={self.margin_px} must be >= 0"),
            (0 < self.threshold <= 1, f"dataset.threshold={self.threshold} must lie in (0, 1]"),
            (self.dt_us >= 1, f"dataset.dt_us={self.dt_us} must be >= 1"),
            (self.dt_us < self.saccade_ms * 1000, f"dataset.dt_us={self.dt_us} must be shorter than a saccade"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

    @property
    def sensor(self) -> int:
        return int(np.ceil(8 + self.amplitude_px)) + 2 * int(self.margin_px)

    @property
    def duration_ms(self) -> float:
        return 3.0 * self.saccade_ms

    def key(self) -> str:
        text = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def saccade_offsets(times_us: np.ndarray, params: SaccadeParams) -> tuple[np.ndarray, np.ndarray]:
    """Image offset ``(dx, dy)`` in pixels at each time: the three legs of the triangle."""
    a = params.amplitude_px
    corners = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])
    leg_us = params.saccade_ms * 1000.0
    position = np.clip(np.asarray(times_us, dtype=np.float64) / leg_us, 0.0, 3.0)
    leg = np.minimum(position.astype(int), 2)
    fraction = (position - leg)[:, None]
    offsets = corners[leg] + fraction * (corners[leg + 1] - corners[leg])
    return offsets[:, 0], offsets[:, 1]


def _render(images: np.ndarray, dx: float, dy: float, size: int, margin: int) -> np.ndarray:
    """Brightness ``[N, size, size]`` of images ``[N, 8, 8]`` placed at ``margin + (dx, dy)`` (bilinear)."""
    n, h, w = images.shape
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = dx - ix, dy - iy
    canvas = np.zeros((n, size + 1, size + 1), dtype=np.float64)
    top, left = margin + iy, margin + ix
    for oy, ox, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        if weight > 0:
            canvas[:, top + oy:top + oy + h, left + ox:left + ox + w] += weight * images
    return canvas[:, :size, :size]


def simulate_events(images: np.ndarray, params: SaccadeParams) -> tuple[np.ndarray, np.ndarray]:
    """Events of every image ``[N, 8, 8]`` (values in [0, 1]).

    Returns ``(events, offsets)``: one structured array (:data:`EVENT_DTYPE`, sorted by sample then
    time) and ``offsets [N + 1]`` such that sample i's events are ``events[offsets[i]:offsets[i + 1]]``.
    """
    images = np.asarray(images, dtype=np.float64)
    n = images.shape[0]
    size, margin = params.sensor, int(params.margin_px)
    n_steps = int(round(params.duration_ms * 1000 / params.dt_us))
    times = np.arange(n_steps + 1) * params.dt_us
    offsets_x, offsets_y = saccade_offsets(times, params)
    reference = _render(images, offsets_x[0], offsets_y[0], size, margin)
    chunks = []
    for step in range(1, n_steps + 1):
        brightness = _render(images, offsets_x[step], offsets_y[step], size, margin)
        change = brightness - reference
        crossings = np.floor(np.abs(change) / params.threshold + 1e-9).astype(np.int64)
        sample, y, x = np.nonzero(crossings)
        if sample.size == 0:
            continue
        count = crossings[sample, y, x]
        polarity = (change[sample, y, x] > 0).astype(np.int64)
        reference[sample, y, x] += np.where(polarity == 1, 1.0, -1.0) * count * params.threshold
        chunks.append((sample, x, y, np.full(sample.size, times[step]), polarity, count))
    if not chunks:
        return np.zeros(0, dtype=EVENT_DTYPE), np.zeros(n + 1, dtype=np.int64)
    sample, x, y, t, p, count = (np.concatenate(parts) for parts in zip(*chunks))
    order = np.argsort(sample, kind="stable")  # chunks are in time order: stable sort keeps it per sample
    sample, x, y, t, p, count = (a[order] for a in (sample, x, y, t, p, count))
    repeat = lambda a: np.repeat(a, count)  # noqa: E731 - one event per threshold crossing
    events = np.zeros(int(count.sum()), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = repeat(x), repeat(y), repeat(t), repeat(p)
    per_sample = np.bincount(repeat(sample), minlength=n)
    return events, np.concatenate([[0], np.cumsum(per_sample)]).astype(np.int64)


class EventArrays(Dataset):
    """Samples stored as one event array plus offsets; yields ``(events, label)`` like tonic."""

    sensor_size: tuple[int, int, int]

    def __init__(self, events: np.ndarray, offsets: np.ndarray, labels: np.ndarray, sensor: int):
        self.events, self.offsets, self.labels = events, offsets, labels
        self.sensor_size = (sensor, sensor, 2)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.events[self.offsets[index]:self.offsets[index + 1]].copy(), int(self.labels[index])


def _save(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_or_generate(params: SaccadeParams, folder: Path) -> dict[str, EventArrays]:
    """The train and test events, from ``folder/events-<key>/`` or generated (and saved) now."""
    target = folder / f"events-{params.key()}"
    splits: dict[str, EventArrays] = {}
    arrays = None
    for split in ("train", "test"):
        path = target / f"{split}.npz"
        try:
            with np.load(path) as stored:
                events = np.zeros(stored["t"].size, dtype=EVENT_DTYPE)
                for field in EVENT_DTYPE.names:
                    events[field] = stored[field]
                splits[split] = EventArrays(events, stored["offsets"], stored["labels"], params.sensor)
            continue
        except (OSError, ValueError, KeyError, EOFError):
            pass
        if arrays is None:
            x_train, y_train, x_test, y_test = digits_arrays(params.test_fraction, params.split_seed)
            arrays = {"train": (x_train[:, 0], y_train), "test": (x_test[:, 0], y_test)}
        images, labels = arrays[split]
        events, offsets = simulate_events(images, params)
        _save(path, x=events["x"].astype(np.uint16), y=events["y"].astype(np.uint16),  # compact on disk
              t=events["t"].astype(np.uint32), p=events["p"].astype(np.uint8), offsets=offsets, labels=labels)
        splits[split] = EventArrays(events, offsets, labels, params.sensor)
    return splits


def params_from(cfg: Any) -> SaccadeParams:
    defaults = SaccadeParams()
    return SaccadeParams(**{name: type(getattr(defaults, name))(cfg.get(name, getattr(defaults, name)))
                            for name in asdict(defaults)})


def digits_events(cfg: Any, data_root: Path) -> DataBundle:
    params = params_from(cfg)
    folder = Path(data_root) / "digits_events"
    splits = load_or_generate(params, folder)
    return event_bundle("digits_events", cfg, data_root, splits["train"], splits["test"],
                        (params.sensor, params.sensor, 2), 10, f"generated:{params.key()}",
                        nominal_duration_ms=params.duration_ms,
                        meta={"events_per_sample": float(np.diff(splits["train"].offsets).mean())})
