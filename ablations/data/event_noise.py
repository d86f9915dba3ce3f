r"""Event noise: tonic's transforms applied to the raw events of a sample, before framing.

Where :mod:`ablations.data.noise` corrupts images before or after Poisson coding, event data are
corrupted where a sensor would corrupt them: in the event stream, before the package bins it into
frames (:mod:`ablations.data.frames`). Each kind is one tonic transform; its severity is a number
stated in the kind's own unit, chosen so that one value means the same on every event dataset:

=================  ================================  ===============================================
kind               tonic transform                   severity ``s``
=================  ================================  ===============================================
``drop_event``     ``DropEvent(p=s)``                share of the sample's events removed
                                                     (``round(s n)`` of them, drawn without replacement)
``time_jitter``    ``TimeJitter(std=s W,             standard deviation of a Gaussian shift of every
                   clip_negative=True,               timestamp, in frame windows ``W``
                   sort_timestamps=True)``           (``frame.time_window_ms``; with ``frame.n_bins``:
                                                     the sample's span / n_bins); events shifted
                                                     before 0 are dropped
``uniform_noise``  ``UniformNoise(sensor_size,       added noise events per event of the sample
                   n=round(s n))``                   (uniform in x, y, polarity and over the sample's
                                                     time span), on the full-resolution sensor
``drop_pixel``     ``DropPixel(coordinates=...)``    share of the sensor's pixels silenced (dead
                                                     pixels: every event of a pixel drawn by the seed
                                                     is removed); full-resolution sensor
=================  ================================  ===============================================

``s = 0`` is the clean sample (no transform). The defaults (``conf/eval/default.yaml``,
``eval.event_noise``) run each kind from mild to severe.

Random numbers. tonic draws from numpy's global generator; :class:`NoisyEvents` seeds it from
``(seed, sample index)`` for each sample and restores the caller's state afterwards, so the same
command gives the same events, and the severities of one kind share their draws where tonic
allows it (a time jitter of ``2s`` is exactly twice the shift of ``s`` for every event).

Polarity and time are cast to ``int8`` / ``int64`` before a transform (:func:`canonical`): tonic's
``UniformNoise`` casts a uniform draw in ``[0, 2)`` into the polarity field, which on a boolean
field (DVS Gesture's ``.npy`` files) would make every noise event ON, and ``TimeJitter`` writes
negative times into an unsigned field as huge ones. Frames are the same as from the original
dtype (tonic's ``ToFrame`` indexes by ``p.astype(int)``).

A 1-D sensor (SHD, SSC: no ``y`` field) has channels, not pixels: ``drop_pixel`` silences a share
of channels there (the one line written here, since tonic's ``DropPixel`` needs ``x`` and ``y``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from torch.utils.data import Dataset

from ..errors import UserError

__all__ = ["EVENT_NOISES", "UNITS", "EventNoise", "NoisyEvents", "canonical", "make_event_noise"]

#: kind -> what its severity is
UNITS = {
    "drop_event": "share of events dropped",
    "time_jitter": "timestamp jitter std, in frame windows",
    "uniform_noise": "noise events added per event",
    "drop_pixel": "share of pixels silenced",
}
EVENT_NOISES = tuple(UNITS)


def canonical(events: np.ndarray) -> np.ndarray:
    """``events`` with ``t`` as int64 and ``p`` as int8 (other fields as they are; unsigned ints as int64)."""
    fields = []
    for name in events.dtype.names:
        kind = events.dtype[name]
        if name == "t":
            kind = np.dtype(np.int64)
        elif name == "p":
            kind = np.dtype(np.int8)
        elif kind.kind == "u":
            kind = np.dtype(np.int64)
        fields.append((name, kind))
    target = np.dtype(fields)
    return events if target == events.dtype else events.astype(target)


@dataclass(frozen=True)
class EventNoise:
    """One kind at one severity; ``__call__(events, rng context) -> events`` through a tonic transform.

    ``sensor_size`` is the full-resolution sensor ``(W, H, P)`` of the raw events;
    ``time_window_us`` the frame window (None: ``n_bins`` binning, the window is per sample).
    """

    kind: str
    severity: float
    sensor_size: tuple[int, int, int]
    time_window_us: float | None = None
    n_bins: int | None = None

    def __call__(self, events: np.ndarray) -> np.ndarray:
        from tonic import transforms

        s = float(self.severity)
        if s == 0 or len(events) == 0:
            return events
        if self.kind == "drop_event":
            return transforms.DropEvent(p=s)(events)
        if self.kind == "time_jitter":
            window = self.time_window_us
            if window is None:
                span = float(events["t"].max() - events["t"].min())
                window = span / max(int(self.n_bins or 1), 1)
            return transforms.TimeJitter(std=s * window, clip_negative=True, sort_timestamps=True)(events)
        if self.kind == "uniform_noise":
            return transforms.UniformNoise(sensor_size=self.sensor_size, n=int(round(s * len(events))))(events)
        if self.kind == "drop_pixel":
            width, height = int(self.sensor_size[0]), int(self.sensor_size[1])
            pixels = width * height
            chosen = np.random.choice(pixels, int(round(s * pixels)), replace=False)
            if "y" not in events.dtype.names:  # a 1-D sensor: silence channels (tonic's DropPixel needs y)
                return events[~np.isin(events["x"], chosen)]
            coordinates = [(int(c % width), int(c // width)) for c in chosen]
            return transforms.DropPixel(coordinates=coordinates)(events)
        raise UserError(f"event noise {self.kind!r} is not one of {list(EVENT_NOISES)}")


def make_event_noise(kind: str, severity: float, sensor_size: Sequence[int], time_window_us: float | None = None,
                     n_bins: int | None = None) -> EventNoise:
    """A validated :class:`EventNoise` (UserError naming the allowed range on bad input)."""
    if kind not in UNITS:
        raise UserError(f"eval.event_noise: noise {kind!r} is not one of {list(EVENT_NOISES)}")
    try:
        s = float(severity)
    except (TypeError, ValueError):
        raise UserError(f"eval.event_noise.severities.{kind}: {severity!r} is not a number") from None
    upper = {"drop_event": 1.0, "drop_pixel": 1.0}.get(kind)
    if not np.isfinite(s) or s < 0 or (upper is not None and s > upper):
        allowed = f"0..{upper:g}" if upper is not None else ">= 0"
        raise UserError(f"eval.event_noise.severities.{kind}: {severity} must be {allowed} ({UNITS[kind]})")
    return EventNoise(kind, s, tuple(int(v) for v in sensor_size), time_window_us, n_bins)


class NoisyEvents(Dataset):
    """``(noise(events), label)`` of an event dataset, seeded per sample: ``(seed, index)`` seeds
    numpy's global generator for the transform, and the caller's generator state is restored.
    ``counts[index] = (events before, events after)`` of every sample read."""

    def __init__(self, events: Dataset, noise: Callable[[np.ndarray], np.ndarray], seed: int):
        self.events, self.noise, self.seed = events, noise, int(seed)
        self.counts: dict[int, tuple[int, int]] = {}
        self.sensor_size = getattr(events, "sensor_size", None)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        events, label = self.events[index]
        events = canonical(np.asarray(events))
        state = np.random.get_state()
        try:
            np.random.seed((self.seed * 1_000_003 + int(index)) % 2**32)
            noisy = self.noise(events)
        finally:
            np.random.set_state(state)
        self.counts[int(index)] = (len(events), len(noisy))
        return noisy, label
