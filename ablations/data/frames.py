"""Event streams -> frames ``[T, C, H, W]`` (or ``[T, N]``), cached on disk, at a fixed T.

Every event dataset (``nmnist``, ``dvs_gesture``, ``shd``, ``digits_events``) goes through here.

Binning (the ``frame:`` node of ``conf/dataset/<name>.yaml``; exactly one of the two is set):

* ``time_window_ms: W``: ``tonic.transforms.ToFrame(time_window=W * 1000 us,
  include_incomplete=True)``. Frame k counts, per pixel and polarity, the events with
  ``t0 + k W <= t < t0 + (k + 1) W``, where ``t0`` is the sample's first event (tonic's rule);
  the last, incomplete window is kept (and includes the last event).
* ``n_bins: N``: ``ToFrame(n_time_bins=N)``: each sample's own span is cut into N equal bins.

Fixed T (every sample of a split has the same number of frames, so batches stack):

* by time window: ``T = ceil(duration_ms / time_window_ms)``, where ``frame.duration_ms`` is the
  stretch of every recording the network sees (null: the dataset's nominal length, e.g. the
  generated length of ``digits_events``). A sample with more frames is **cropped** (its first T
  frames are kept, the tail is dropped); a shorter one is **padded** with empty (all-zero) frames
  at the end. Re-binning at another window (seed 001 tests N-MNIST trained at 3 ms at 1, 2, 3,
  5, 10 ms) therefore changes T with the window and always covers the same ``duration_ms``.
* by bin count: ``T = n_bins``; nothing is padded or cropped.

``dataset.steps`` is derived (the bundle's ``steps`` is T); for event data a value given there is
not used (a warning says so): set ``frame.duration_ms`` (or ``frame.n_bins``) to choose T.

Optional ``frame.clip: c`` caps each count at c after loading (``1`` gives binary frames).

Cache. The first time a sample is read its frames (before padding/cropping and clipping) are
written to ``<cache>/<key>/<split>/<index>.i32`` as a sparse array (label, frame count, flat
indices and counts of the non-zero entries); later epochs read that file instead of binning the
events again. ``<key>`` is ``tw<W>ms-<hash>`` or ``bins<N>-<hash>``, the hash of every parameter
that changes the frames: format version, dataset, sensor size, spatial downsampling, time window
or bin count, the binning rule, and a fingerprint of the source (sample count and file names, or
the generation parameters); ``key.json`` beside it lists them. Writes are atomic (temporary file,
then ``os.replace``), so concurrent writers (DataLoader workers, parallel runs) are safe; a file
that cannot be read is rebuilt. Delete the folder to free the space: it is refilled on the next
pass.

Where ``<cache>`` is (:func:`cache_folder`; the data root itself is never written unless it is
writable):

* ``paths.cache=DIR`` (a key of the run config the dataset node belongs to): ``DIR/<name>/frames``,
  a writable shadow of the data root;
* ``paths.cache: null`` (default): ``<paths.data>/<name>/frames`` when that folder may be written
  (:func:`ablations.data.files.writable`: a read-only mount, another user's folder or one whose
  write bits are removed is not, for root too), otherwise the user cache folder
  ``$XDG_CACHE_HOME/snn-ablations/<name>/frames`` (``~/.cache/...`` when the variable is unset).

Outside the data root the cache key also holds the resolved dataset folder, so two data roots
with the same file names never share frames.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .bundle import DataBundle
from .encoders import SequenceEncoder
from .files import writable
from ..errors import UserError
from ..atomic import atomic_write_bytes

__all__ = ["FrameSpec", "FrameDataset", "frame_spec", "cache_key", "cache_folder", "user_cache_root",
           "event_bundle", "fingerprint_names", "FORMAT_VERSION"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class FrameSpec:
    """How events become frames. ``sensor_size`` is tonic's ``(W, H, P)`` after downsampling."""

    sensor_size: tuple[int, int, int]
    steps: int
    time_window_us: float | None = None
    n_bins: int | None = None
    spatial_factor: float = 1.0       # tonic Downsample(spatial_factor=...): x, y -> floor(x * factor)
    clip: float | None = None         # applied after loading; not part of the cache key

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """One frame as the network sees it: ``(P, H, W)``, or ``(W,)`` for a 1-D sensor (SHD)."""
        width, height, polarities = self.sensor_size
        if height == 1 and polarities == 1:
            return (width,)
        return (polarities, height, width)

    def to_frame(self, events: np.ndarray) -> np.ndarray:
        """Event counts ``[n, *frame_shape]`` of one sample's (non-empty, time-sorted) events:
        tonic's ``Downsample`` (if any), then ``ToFrame``."""
        from tonic import transforms

        if self.spatial_factor != 1.0:
            events = transforms.Downsample(spatial_factor=self.spatial_factor)(events)
        if self.time_window_us:
            # end_time one unit past the last event: tonic's windows are [start, start + W), so
            # without it a last event exactly on a window boundary would be dropped.
            to_frame = transforms.ToFrame(sensor_size=self.sensor_size, time_window=self.time_window_us,
                                          include_incomplete=True, end_time=events["t"][-1] + 1)
        else:
            to_frame = transforms.ToFrame(sensor_size=self.sensor_size, n_time_bins=int(self.n_bins))
        return np.asarray(to_frame(events)).reshape(-1, *self.frame_shape)

    def key_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        fields.pop("clip")
        fields.pop("steps")  # padding/cropping happens after the cache
        fields["origin"] = "first_event"
        fields["include_incomplete"] = bool(self.time_window_us)
        return fields

    def label(self) -> str:
        if self.time_window_us:
            return f"tw{self.time_window_us / 1000:g}ms"
        return f"bins{self.n_bins}"


def frame_spec(cfg: Any, sensor_size: Sequence[int], spatial_factor: float = 1.0,
               nominal_duration_ms: float | None = None) -> FrameSpec:
    """The validated :class:`FrameSpec` of a dataset config node (raises UserError)."""
    frame = cfg.get("frame")
    if frame is None:
        raise UserError(f"dataset {cfg.name!r} needs a frame node: frame.time_window_ms=W or frame.n_bins=N")
    window, bins = frame.get("time_window_ms"), frame.get("n_bins")
    if (window is None) == (bins is None):
        raise UserError(f"dataset.frame: set exactly one of time_window_ms and n_bins (got time_window_ms={window}, "
                        f"n_bins={bins}); e.g. dataset.frame.time_window_ms=3 dataset.frame.n_bins=null")
    clip = frame.get("clip")
    if clip is not None and float(clip) <= 0:
        raise UserError(f"dataset.frame.clip={clip} must be > 0 (or null for raw counts)")
    if window is not None:
        if float(window) <= 0:
            raise UserError(f"dataset.frame.time_window_ms={window} must be > 0")
        duration = frame.get("duration_ms")
        duration = nominal_duration_ms if duration is None else float(duration)
        if duration is None or duration <= 0:
            raise UserError(f"dataset.frame.duration_ms={frame.get('duration_ms')} must be > 0: the stretch of "
                            "each recording the network sees; T = ceil(duration_ms / time_window_ms)")
        steps = max(1, math.ceil(round(duration / float(window), 9)))
        spec = FrameSpec(tuple(int(s) for s in sensor_size), steps, time_window_us=float(window) * 1000.0,
                         spatial_factor=float(spatial_factor), clip=None if clip is None else float(clip))
    else:
        if int(bins) < 1:
            raise UserError(f"dataset.frame.n_bins={bins} must be >= 1")
        spec = FrameSpec(tuple(int(s) for s in sensor_size), int(bins), n_bins=int(bins),
                         spatial_factor=float(spatial_factor), clip=None if clip is None else float(clip))
    given = cfg.get("steps")
    if given is not None and int(given) != spec.steps:
        warnings.warn(f"dataset.steps={given} is not used for event data; T = {spec.steps} follows from the frame "
                      "node (frame.duration_ms / frame.time_window_ms, or frame.n_bins)", stacklevel=2)
    return spec


def cache_key(name: str, spec: FrameSpec, fingerprint: str) -> tuple[str, dict[str, Any]]:
    """``(directory name, fields)`` of the frame cache for ``name`` binned as ``spec``."""
    fields = {"format": FORMAT_VERSION, "dataset": name, **spec.key_fields(), "source": fingerprint}
    digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return f"{spec.label()}-{digest}", fields


def fingerprint_names(names: Sequence[str], root: str | Path | None = None) -> str:
    """A short hash of a list of sample file names (relative to ``root``) and their number."""
    digest = hashlib.sha1()
    for name in names:
        digest.update((os.path.relpath(str(name), str(root)) if root else str(name)).encode())
        digest.update(b"\0")
    return f"{len(names)}:{digest.hexdigest()[:16]}"


def _atomic_write(path: Path, array: np.ndarray) -> None:
    atomic_write_bytes(path, array.tobytes())


class FrameDataset(Dataset):
    """Frames of an event dataset (which yields ``(structured events, label)``), cached on disk.

    Yields ``(frames float32 [T, *frame_shape], label)``. A cache file ``<index>.i32`` is one
    little-endian int32 array ``[label, n_frames, nnz, flat index * nnz, count * nnz]``: the
    non-zero entries of the ``[n_frames, *frame_shape]`` event counts as binned.
    """

    def __init__(self, events: Dataset, spec: FrameSpec, cache_dir: Path | None):
        self.events = events
        self.spec = spec
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._frame_size = int(np.prod(spec.frame_shape))

    def __len__(self) -> int:
        return len(self.events)

    def _path(self, index: int) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{index}.i32"

    def bin(self, index: int) -> tuple[np.ndarray, int]:
        """Frames (event counts, ``[n, *frame_shape]``, n as binned) and label of sample ``index``."""
        events, label = self.events[index]
        if len(events) == 0:
            frames = np.zeros((1 if self.spec.time_window_us else self.spec.n_bins, *self.spec.frame_shape),
                              dtype=np.int32)
        else:
            frames = self.spec.to_frame(events)
        return frames, int(label)

    def sparse(self, index: int) -> tuple[int, np.ndarray, np.ndarray, int]:
        """``(n_frames, flat indices, counts, label)`` of sample ``index``: from the cache, or binned
        now (and written to the cache)."""
        path = self._path(index)
        if path is not None:
            try:
                stored = np.fromfile(path, dtype="<i4")
            except OSError:
                stored = None
            if stored is not None and stored.size >= 3 and stored.size == 3 + 2 * int(stored[2]):
                nnz = int(stored[2])
                return int(stored[1]), stored[3:3 + nnz], stored[3 + nnz:], int(stored[0])
            # missing, or unreadable (e.g. cut short by a crash): bin it (again)
        frames, label = self.bin(index)
        flat = frames.reshape(-1)
        nonzero = np.flatnonzero(flat)
        counts = flat[nonzero]
        if path is not None:
            header = np.asarray([label, frames.shape[0], nonzero.size])
            _atomic_write(path, np.concatenate([header, nonzero, counts]).astype("<i4"))
        return frames.shape[0], nonzero, counts, label

    def __getitem__(self, index: int):
        _, nonzero, counts, label = self.sparse(index)
        steps = self.spec.steps
        keep = nonzero < steps * self._frame_size  # crop: frames past T are dropped; pad: the rest stays 0
        frames = np.zeros(steps * self._frame_size, dtype=np.float32)
        frames[nonzero[keep]] = counts[keep]
        if self.spec.clip is not None:
            np.minimum(frames, self.spec.clip, out=frames)
        return torch.from_numpy(frames).view(steps, *self.spec.frame_shape), label


def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME/snn-ablations`` (``~/.cache/snn-ablations`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "snn-ablations"


def _configured_cache(cfg: Any) -> str | None:
    """``paths.cache`` of the run config that the dataset node ``cfg`` belongs to (None when unset,
    or when ``cfg`` is a node of its own, e.g. a copy made to re-bin at another time window)."""
    from omegaconf import DictConfig, OmegaConf

    if not isinstance(cfg, DictConfig):
        return None
    root = cfg._get_root()
    if root is cfg:
        return None
    value = OmegaConf.select(root, "paths.cache", default=None)
    return None if value in (None, "") else str(value)


def cache_folder(name: str, cfg: Any, data_root: Path) -> tuple[Path, bool]:
    """``(folder of the frame caches of dataset name, whether it lies outside the data root)``."""
    dataset_folder = Path(data_root) / name
    configured = _configured_cache(cfg)
    if configured is not None:
        return Path(configured) / name / "frames", True
    in_root = dataset_folder / "frames"
    probe = in_root if in_root.exists() else dataset_folder
    if not probe.exists() or writable(probe):
        return in_root, False
    return user_cache_root() / name / "frames", True


def event_bundle(name: str, cfg: Any, data_root: Path, train_events: Dataset, test_events: Dataset,
                 sensor_size: Sequence[int], n_classes: int, fingerprint: str, spatial_factor: float = 1.0,
                 nominal_duration_ms: float | None = None, meta: dict[str, Any] | None = None) -> DataBundle:
    """The DataBundle of an event dataset: frames, cached in :func:`cache_folder`."""
    spec = frame_spec(cfg, sensor_size, spatial_factor, nominal_duration_ms)
    folder, outside = cache_folder(name, cfg, data_root)
    if outside:  # a shared cache folder: frames of another data root with the same file names differ
        fingerprint = f"{fingerprint}@{(Path(data_root) / name).resolve()}"
    directory, fields = cache_key(name, spec, fingerprint)
    cache = folder / directory
    if not (cache / "key.json").exists():
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".key.json.", suffix=".tmp", dir=cache)
        except OSError as error:
            raise UserError(f"dataset {name!r}: cannot write the frame cache in {cache} ({error.strerror}); "
                            "set paths.cache=DIR to a writable folder") from None
        with os.fdopen(fd, "w") as handle:
            json.dump(fields, handle, indent=2, sort_keys=True)
        os.replace(tmp, cache / "key.json")
    return DataBundle(
        name=name,
        kind="event",
        train=FrameDataset(train_events, spec, cache / "train"),
        test=FrameDataset(test_events, spec, cache / "test"),
        encoder=SequenceEncoder(spec.steps),
        input_shape=spec.frame_shape,
        n_classes=int(n_classes),
        steps=spec.steps,
        meta={"chance": 1.0 / n_classes, "frame_cache": str(cache), "time_window_ms":
              None if spec.time_window_us is None else spec.time_window_us / 1000.0, "n_bins": spec.n_bins,
              "sensor_size": list(spec.sensor_size), **(meta or {})},
    )
