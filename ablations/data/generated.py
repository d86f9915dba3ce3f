"""``delayed_xor``: seed 001's delayed spiking XOR, generated (no download).

Each sample is a spike train ``[T, channels]`` with ``T = 2 * pattern_steps + delay_steps``:

1. steps ``[0, pattern_steps)``: pattern A, every channel fires with probability ``low_rate`` or
   ``high_rate`` per step (A is "low" or "high", each with probability 1/2);
2. ``delay_steps`` of background noise, every channel firing with probability ``noise_rate``;
3. the last ``pattern_steps``: pattern B, drawn like A, independently.

The label is ``A XOR B`` (1 when exactly one of the two patterns is "high"); the classes are
balanced, so chance is 50 %. Solving it needs a memory of pattern A across the delay: a neuron
with complete leak (beta = 0) has none and stays at chance.

``noise_over_patterns=True`` lays the background noise over the whole sequence and ORs the
pattern spikes into it, as the public generator of seed 001's group does (repository
``eva1801/DH-SNN``, ``delayed_xor/delayed_xor_snn.py``, ``get_batch``, lines 41-63); ``False``
puts noise in the delay only.

Two dataset options (``conf/dataset/``):

* ``delayed_xor``: the short task, the CPU default: 16 channels, 10-step patterns, a 10-step
  delay (T = 30), rates 0.05 / 0.6, noise 0.05 in the delay only. Not seed 001's regime.
* ``delayed_xor_dhsnn``: seed 001's regime as DH-SNN's generator sets it (lines 28-34 of the
  file above): T = 200, 20 channels, pattern rates 0.2 / 0.6, background noise 0.01 over the whole
  sequence, 10-step patterns at the start and at the end (a 180-step delay).

Samples are stored as ``uint8`` (a 50 000-sample T = 200 set is 200 MB, not 800 MB) and turned
into float spikes by the encoder, on the training device.

Fresh samples every step (``dataset.fresh=true``): DH-SNN never reuses a sample; every training
step draws a new batch of 500 (``get_batch``, lines 42-65, called at line 189 for each of the
100 steps of each of 150 epochs: 15 000 steps, 7.5 M samples). ``fresh=true`` does the same,
reproducibly: training sample ``i`` of epoch ``e`` is drawn from its own counter-based stream seeded
by ``(data_seed, e, i)`` (drawn by :func:`make_fresh_delayed_xor`: the same task, drawn in another
way than the fixed set), so an epoch is ``n_train`` new samples, a run
resumed at epoch ``e`` sees exactly the samples it would have seen, and every run with the same
``data_seed`` sees the same stream (the run seed still sets the batch order). The trainer tells the
dataset the epoch through ``set_epoch`` before it builds the epoch's loader. The test set stays a
fixed held-out set of ``n_test`` samples (DH-SNN reports training accuracy only). ``fresh=false``
(the default) keeps the fixed training set of ``n_train`` samples, as every earlier run had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from .bundle import DataBundle, StackedBatch
from .encoders import SequenceEncoder

__all__ = ["delayed_xor", "make_delayed_xor", "SpikeSequenceEncoder", "FreshDelayedXor",
           "make_fresh_delayed_xor", "fresh_sample", "mix64", "stream_seed", "stream_seeds", "stream_draws", "uniforms32", "uniform32_of",
           "noise_positions", "bernoulli_positions_of"]


class SpikeSequenceEncoder(SequenceEncoder):
    """``[B, T, N]`` stored spikes (any dtype) -> time-major float ``[T, B, N]``."""

    name = "sequence"

    def __call__(self, x, generator=None):
        # one pass: the float tensor is written time-major directly (`.float().contiguous()` made two)
        return torch.empty((x.shape[1], x.shape[0], *x.shape[2:]), dtype=torch.float32).copy_(x.transpose(0, 1))

    def __repr__(self) -> str:
        return f"SpikeSequenceEncoder(steps={self.steps})"


def check_delayed_xor(n_samples: int, channels: int, pattern_steps: int, delay_steps: int, low_rate: float,
                      high_rate: float, noise_rate: float) -> None:
    """The task's values, checked (``ValueError`` naming the ``dataset.*`` key)."""
    for key, value in {"low_rate": low_rate, "high_rate": high_rate, "noise_rate": noise_rate}.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"dataset.{key}={value} is a per-step spike probability and must lie in [0, 1]")
    if not high_rate > low_rate:
        raise ValueError(f"dataset.high_rate={high_rate} must exceed dataset.low_rate={low_rate}")
    for key, value in {"n_samples": n_samples, "channels": channels, "pattern_steps": pattern_steps}.items():
        if int(value) < 1:
            raise ValueError(f"dataset.{key}={value} must be >= 1")
    if int(delay_steps) < 0:
        raise ValueError(f"dataset.delay_steps={delay_steps} must be >= 0")


def make_delayed_xor(n_samples: int, channels: int = 16, pattern_steps: int = 10, delay_steps: int = 10,
                     low_rate: float = 0.05, high_rate: float = 0.6, noise_rate: float = 0.05,
                     noise_over_patterns: bool = False, seed: int = 0,
                     dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike trains ``[n, T, channels]`` (0/1 of ``dtype``) and XOR labels ``[n]`` (int64)."""
    check_delayed_xor(n_samples, channels, pattern_steps, delay_steps, low_rate, high_rate, noise_rate)
    generator = torch.Generator().manual_seed(int(seed))
    first = torch.randint(0, 2, (n_samples,), generator=generator)
    second = torch.randint(0, 2, (n_samples,), generator=generator)
    rate_of = torch.tensor([float(low_rate), float(high_rate)])
    steps = 2 * pattern_steps + delay_steps
    rates = torch.zeros((n_samples, steps, channels)) if noise_over_patterns else \
        torch.full((n_samples, steps, channels), float(noise_rate))  # noise in the delay only
    rates[:, :pattern_steps] = rate_of[first].view(-1, 1, 1)
    rates[:, pattern_steps + delay_steps:] = rate_of[second].view(-1, 1, 1)
    spikes = torch.rand(rates.shape, generator=generator) < rates
    if noise_over_patterns:  # DH-SNN: background noise everywhere, the pattern spikes ORed in
        spikes |= torch.rand(rates.shape, generator=generator) < float(noise_rate)
    return spikes.to(dtype), (first ^ second).long()


def make_fresh_delayed_xor(keys: Sequence[int | Sequence[int]], channels: int = 16, pattern_steps: int = 10,
                           delay_steps: int = 10, low_rate: float = 0.05, high_rate: float = 0.6,
                           noise_rate: float = 0.05, noise_over_patterns: bool = False
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """One sample per key, each from its own stream: spikes ``[n, T, channels]`` (uint8), labels ``[n]``.

    The same task as :func:`make_delayed_xor`, drawn differently (fast enough to draw every step).
    A key (an int or a tuple of ints in ``[0, 2**63)``, e.g. ``(data_seed, epoch, index)``) is
    hashed into the seed of a SplitMix64 stream (:func:`stream_seeds`; every bit of every entry
    counts, and the key's length too); draw ``j`` of the sample is ``mix64(seed + (j + 1) G)``
    (:func:`stream_draws`). A sample takes ``2 * pattern_steps * channels + 2`` float32 uniforms (the
    two patterns, then the two pattern levels), two from each draw (:func:`uniforms32`), then its
    background noise as the gaps between noise spikes from the following draws, geometric by
    inversion (:func:`noise_positions`). A sample depends on its key alone,
    never on the other samples of its batch or the batch size.

    Speed: the stream is counter-based, so every draw of the whole batch is computed at once in
    numpy (about 1 ms for DH-SNN's batch of 500, where one numpy generator per key took 7 ms);
    :func:`fresh_sample` is the definition, one key at a time in Python integers, and a test pins the two.
    """
    check_delayed_xor(1, channels, pattern_steps, delay_steps, low_rate, high_rate, noise_rate)
    steps = 2 * pattern_steps + delay_steps
    n_noise, n_pattern = steps * channels, pattern_steps * channels
    count = len(keys)
    seeds = stream_seeds(keys)
    n_uniform = 2 * n_pattern + 2
    uniforms = uniforms32(seeds, n_uniform)
    spikes = np.zeros((count, steps * channels), dtype=bool)
    rows, columns = noise_positions(seeds, (n_uniform + 1) // 2, n_noise, noise_rate)
    spikes[rows, columns] = True
    high = uniforms[:, -2:] < 0.5  # pattern A, pattern B: high with probability 1/2
    sample = spikes.reshape(count, steps, channels)
    for which, window in ((0, slice(0, pattern_steps)), (1, slice(steps - pattern_steps, steps))):
        rate = np.where(high[:, which], np.float32(high_rate), np.float32(low_rate)).astype(np.float32)
        pattern = uniforms[:, which * n_pattern:(which + 1) * n_pattern].reshape(count, pattern_steps, channels) \
            < rate[:, None, None]
        if noise_over_patterns:  # DH-SNN: background noise everywhere, the pattern spikes ORed in
            sample[:, window] |= pattern
        else:
            sample[:, window] = pattern
    labels = torch.from_numpy(high[:, 0] ^ high[:, 1]).long()
    return torch.from_numpy(spikes.view(np.uint8).reshape(count, steps, channels)), labels


# SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of Java's SplittableRandom and of
# xoshiro): the state advances by the golden gamma, each output is the state mixed (mix64).
_GAMMA = 0x9E3779B97F4A7C15
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def mix64(value: int) -> int:
    """SplitMix64's output function on one 64-bit integer (Python ints: the definition)."""
    value &= _MASK64
    value = ((value ^ (value >> 30)) * _MIX1) & _MASK64
    value = ((value ^ (value >> 27)) * _MIX2) & _MASK64
    return value ^ (value >> 31)


def _mix64_array(value: np.ndarray) -> np.ndarray:
    """:func:`mix64` on a uint64 array, in place (wrapping products, as the definition's mask)."""
    shifted = np.empty_like(value)
    for shift, multiplier in ((30, _MIX1), (27, _MIX2)):
        np.right_shift(value, np.uint64(shift), out=shifted)
        np.bitwise_xor(value, shifted, out=value)
        np.multiply(value, np.uint64(multiplier), out=value)
    np.right_shift(value, np.uint64(31), out=shifted)
    return np.bitwise_xor(value, shifted, out=value)


def _key_words(key: int | Sequence[int]) -> list[int]:
    words = list(key) if isinstance(key, (tuple, list)) else [key]
    for word in words:
        if isinstance(word, bool) or not isinstance(word, (int, np.integer)) or not 0 <= int(word) < 1 << 63:
            raise ValueError(f"a fresh sample's key {key!r} must be ints in [0, 2**63)")
    return [int(word) for word in words]


def stream_seed(key: int | Sequence[int]) -> int:
    """The seed of ``key``'s stream: ``h = mix64(len)``, then ``h = mix64(h ^ word + G)`` per word."""
    words = _key_words(key)
    seed = mix64(len(words))
    for word in words:
        seed = mix64(((seed ^ word) + _GAMMA) & _MASK64)
    return seed


def stream_seeds(keys: Sequence[int | Sequence[int]]) -> np.ndarray:
    """:func:`stream_seed` of every key, uint64 ``[n]`` (keys of one length at once)."""
    try:  # the usual keys: tuples of one length of ints in [0, 2**63)
        table = np.array(keys, dtype=np.int64)
        plain = table.ndim in (1, 2) and len(keys) > 0 and bool((table >= 0).all()) \
            and not any(isinstance(word, bool) for word in np.ravel(keys[0]).tolist())
    except (ValueError, TypeError, OverflowError):
        plain = False
    if not plain:
        return np.array([stream_seed(key) for key in keys], dtype=np.uint64)
    table = table.reshape(len(keys), -1).astype(np.uint64)
    seeds = np.full(len(keys), mix64(table.shape[1]), dtype=np.uint64)
    for column in range(table.shape[1]):
        np.bitwise_xor(seeds, table[:, column], out=seeds)
        np.add(seeds, np.uint64(_GAMMA), out=seeds)
        _mix64_array(seeds)
    return seeds


def stream_draws(seeds: np.ndarray, first: int, count: int) -> np.ndarray:
    """Draws ``first .. first + count - 1`` of each seed's stream, uint64 ``[n, count]``."""
    steps = np.arange(first + 1, first + count + 1, dtype=np.uint64) * np.uint64(_GAMMA)
    return _mix64_array(np.add(seeds[:, None], steps[None, :]))


def uniforms32(seeds: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` float32 uniforms in [0, 1) of each seed's stream, ``[n, count]``: uniform
    ``j`` is the top 24 bits of the low (j even) or high (j odd) 32-bit half of draw ``j // 2``,
    as ``k / 2**24`` (exact); the draws after ``(count + 1) // 2`` are left to the noise."""
    draws = stream_draws(seeds, 0, (count + 1) // 2)
    halves = draws.astype("<u8", copy=False).view("<u4").reshape(len(seeds), -1)[:, :count]  # low half first
    return (halves >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)


def uniform32_of(seed: int, j: int) -> np.float32:
    """The definition of uniform ``j`` of :func:`uniforms32`, in Python integers."""
    draw = mix64(seed + (j // 2 + 1) * _GAMMA)
    half = (draw >> 32) if j % 2 else (draw & 0xFFFFFFFF)
    return np.float32((half >> 8) * 2.0 ** -24)


def _gaps(draws: np.ndarray, rate: float) -> np.ndarray:
    """Geometric(``rate``) gaps >= 1 by inversion, ``1 + floor(log(U) / log(1 - rate))``, U in (0, 1]
    from the top 53 bits of each draw."""
    uniform = ((draws >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0 ** -53
    return 1 + np.floor(np.log(uniform) / np.log1p(-rate)).astype(np.int64)


def noise_positions(seeds: np.ndarray, first: int, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, positions)``: for each seed, the indices in ``[0, n)`` of ``n`` Bernoulli(``rate``)
    draws that came out 1, drawn as the gaps between them from draw ``first`` of its stream on:
    exact, and about ``n * rate`` draws instead of ``n``."""
    count = len(seeds)
    if rate <= 0.0 or n == 0 or count == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if rate >= 1.0:
        return np.repeat(np.arange(count), n), np.tile(np.arange(n), count)
    width = int(2 * n * rate) + 16
    positions = np.cumsum(_gaps(stream_draws(seeds, first, width), rate), axis=1) - 1
    rows, columns = np.nonzero(positions < n)
    values = positions[rows, columns]
    short = np.flatnonzero(positions[:, -1] < n)  # rare: more ones than the first gaps reached
    if len(short):
        keep = ~np.isin(rows, short)
        extra = [bernoulli_positions_of(int(seeds[row]), first, n, rate) for row in short]
        rows = np.concatenate([rows[keep]] + [np.full(len(more), row) for row, more in zip(short, extra)])
        values = np.concatenate([values[keep]] + extra)
    return rows, values


def bernoulli_positions_of(seed: int, first: int, n: int, rate: float) -> np.ndarray:
    """The definition of :func:`noise_positions` for one seed (Python integers, one gap at a time)."""
    if rate <= 0.0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if rate >= 1.0:
        return np.arange(n)
    positions, position, index = [], -1, first
    while True:
        draw = mix64(seed + (index + 1) * _GAMMA)
        index += 1
        uniform = np.array([((draw >> 11) + 1.0) * 2.0 ** -53])  # numpy's own log loop, as the batch's
        position += 1 + int(np.floor(np.log(uniform) / np.log1p(-rate))[0])
        if position >= n:
            return np.array(positions, dtype=np.int64)
        positions.append(position)


def fresh_sample(key: int | Sequence[int], channels: int, pattern_steps: int, delay_steps: int, low_rate: float,
                 high_rate: float, noise_rate: float, noise_over_patterns: bool) -> tuple[np.ndarray, bool]:
    """The definition of one fresh sample (:func:`make_fresh_delayed_xor`), in Python integers:
    spikes ``[T, channels]`` (bool) and the label."""
    steps = 2 * pattern_steps + delay_steps
    n_noise, n_pattern = steps * channels, pattern_steps * channels
    seed = stream_seed(key)
    n_uniform = 2 * n_pattern + 2
    uniforms = [uniform32_of(seed, j) for j in range(n_uniform)]
    spikes = np.zeros(n_noise, dtype=bool)
    spikes[bernoulli_positions_of(seed, (n_uniform + 1) // 2, n_noise, noise_rate)] = True
    spikes = spikes.reshape(steps, channels)
    high = [uniforms[-2] < 0.5, uniforms[-1] < 0.5]
    for which, window in ((0, slice(0, pattern_steps)), (1, slice(steps - pattern_steps, steps))):
        rate = np.float32(high_rate if high[which] else low_rate)
        pattern = np.array(uniforms[which * n_pattern:(which + 1) * n_pattern]).reshape(pattern_steps, channels) < rate
        spikes[window] = (spikes[window] | pattern) if noise_over_patterns else pattern
    return spikes, bool(high[0] ^ high[1])


# What a fresh-batch record was drawn from (status.json ``sample_stream``): a run trained on one stream
# is never resumed on another (ablations.pipeline). Change this string whenever the samples a key gives
# change; a record without it predates the counter-based streams or does not say.
FRESH_STREAM = "fresh-delayed-xor/splitmix64-key(data_seed,epoch,index)/v1"


class FreshDelayedXor(Dataset):
    """``n_samples`` delayed XOR samples per epoch, new every epoch: sample ``i`` of epoch ``e`` is
    :func:`make_fresh_delayed_xor` of the key ``(data_seed, e, i)``.

    ``set_epoch(e)`` selects the epoch (the trainer calls it before each epoch's loader is built; a
    loader's worker processes get the dataset as it is then). ``__getitems__`` draws a whole batch
    at once (the DataLoader uses it). Picklable; nothing is stored.
    """

    def __init__(self, n_samples: int, data_seed: int = 0, **params: Any):
        if int(n_samples) < 1:
            raise ValueError(f"dataset.n_train={n_samples} must be >= 1")
        make_fresh_delayed_xor([(0,)], **params)  # the parameters are checked once, here
        if int(data_seed) < 0:
            raise ValueError(f"dataset.data_seed={data_seed} must be >= 0 for fresh samples")
        self.n_samples = int(n_samples)
        self.data_seed = int(data_seed)
        self.params = dict(params)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        if int(epoch) < 0:
            raise ValueError(f"epoch={epoch} must be >= 0")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_samples

    def __getitems__(self, indices: Sequence[int]) -> StackedBatch:
        for index in indices:
            if not 0 <= int(index) < self.n_samples:
                raise IndexError(f"sample {index} out of range for {self.n_samples} samples per epoch")
        x, y = make_fresh_delayed_xor([(self.data_seed, self.epoch, int(index)) for index in indices], **self.params)
        return StackedBatch(x, y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __repr__(self) -> str:
        return f"FreshDelayedXor(n_samples={self.n_samples}, data_seed={self.data_seed}, epoch={self.epoch})"


def delayed_xor(cfg: Any, data_root: Path) -> DataBundle:
    params = dict(
        channels=int(cfg.channels), pattern_steps=int(cfg.pattern_steps), delay_steps=int(cfg.delay_steps),
        low_rate=float(cfg.low_rate), high_rate=float(cfg.high_rate), noise_rate=float(cfg.noise_rate),
        noise_over_patterns=bool(cfg.get("noise_over_patterns", False)),
    )
    seed = int(cfg.get("data_seed", 0))
    if bool(cfg.get("fresh", False)):  # DH-SNN: a new batch every step (module docstring)
        train: Dataset = FreshDelayedXor(int(cfg.n_train), data_seed=seed, **params)
    else:
        train = TensorDataset(*make_delayed_xor(int(cfg.n_train), seed=seed, dtype=torch.uint8, **params))
    x_test, y_test = make_delayed_xor(int(cfg.n_test), seed=seed + 1, dtype=torch.uint8, **params)
    steps = x_test.shape[1]
    return DataBundle(
        name=str(cfg.get("name", "delayed_xor")),
        kind="temporal",
        train=train,
        test=TensorDataset(x_test, y_test),
        encoder=SpikeSequenceEncoder(steps),
        input_shape=(params["channels"],),
        n_classes=2,
        steps=steps,
        meta={"chance": 0.5, "pattern_steps": params["pattern_steps"],
              **({"sample_stream": FRESH_STREAM} if isinstance(train, FreshDelayedXor) else {})},
    )
