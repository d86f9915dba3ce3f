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
reproducibly: training sample ``i`` of epoch ``e`` is drawn from its own generator seeded by
``(data_seed, e, i)`` (drawn by :func:`make_fresh_delayed_xor`: the same task, drawn in another
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

from .bundle import DataBundle
from .encoders import SequenceEncoder

__all__ = ["delayed_xor", "make_delayed_xor", "SpikeSequenceEncoder", "FreshDelayedXor",
           "make_fresh_delayed_xor", "bernoulli_positions", "pcg64_states"]


class SpikeSequenceEncoder(SequenceEncoder):
    """``[B, T, N]`` stored spikes (any dtype) -> time-major float ``[T, B, N]``."""

    name = "sequence"

    def __call__(self, x, generator=None):
        # one pass: the float tensor is written time-major directly (`.float().contiguous()` made two)
        return torch.empty((x.shape[1], x.shape[0], *x.shape[2:]), dtype=torch.float32).copy_(x.transpose(0, 1))

    def __repr__(self) -> str:
        return f"SpikeSequenceEncoder(steps={self.steps})"


def make_delayed_xor(n_samples: int, channels: int = 16, pattern_steps: int = 10, delay_steps: int = 10,
                     low_rate: float = 0.05, high_rate: float = 0.6, noise_rate: float = 0.05,
                     noise_over_patterns: bool = False, seed: int = 0,
                     dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike trains ``[n, T, channels]`` (0/1 of ``dtype``) and XOR labels ``[n]`` (int64)."""
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
    """One sample per key, each from its own generator: spikes ``[n, T, channels]`` (uint8), labels ``[n]``.

    The same task as :func:`make_delayed_xor`, drawn differently (fast enough to draw every step):
    a key (an int or a tuple of ints >= 0, e.g. ``(data_seed, epoch, index)``) seeds numpy's PCG64
    through a ``SeedSequence``, which mixes every bit of every entry (torch's CPU generator keeps
    only the low 32 bits of a seed, so distinct keys could draw the same sample). Each sample draws
    ``2 * pattern_steps * channels + 2`` uniforms (the two patterns, then the two pattern levels),
    then its background noise as the gaps between noise spikes (:func:`bernoulli_positions`).
    A sample depends on its key alone, never on the other samples of its batch.

    Speed: the generators' states are computed for the whole batch at once (:func:`pcg64_states`,
    numpy's own SeedSequence and PCG64 seeding, pinned to numpy by a test) and set on one generator;
    the patterns are compared and assembled for the whole batch.
    """
    make_delayed_xor(1, channels, pattern_steps, delay_steps, low_rate, high_rate, noise_rate)  # checks the values
    steps = 2 * pattern_steps + delay_steps
    n_noise, n_pattern = steps * channels, pattern_steps * channels
    count = len(keys)
    spikes = np.zeros((count, steps * channels), dtype=bool)
    uniforms = np.empty((count, 2 * n_pattern + 2), dtype=np.float32)
    bit_generator = np.random.PCG64(0)
    generator = np.random.Generator(bit_generator)
    rows, columns = [], []
    for row, state in enumerate(pcg64_states(keys)):
        bit_generator.state = state
        generator.random(out=uniforms[row], dtype=np.float32)
        positions = bernoulli_positions(generator, n_noise, noise_rate)
        rows.append(np.full(len(positions), row))
        columns.append(positions)
    if count:
        spikes[np.concatenate(rows), np.concatenate(columns)] = True
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


# numpy's SeedSequence (numpy/random/bit_generator.pyx) and PCG64 seeding (numpy/random/_pcg64.pyx,
# pcg64.h pcg_setseq_128_srandom_r), for a batch of keys at once: numpy builds one object per key
# (about 10 us each), which was most of a fresh batch's time. Pinned to numpy's own by a test.
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R, _POOL = 0xCA01F9DD, 0x4973F715, 4
_PCG_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK128 = (1 << 128) - 1


def _words(key: int | Sequence[int]) -> list[int] | None:
    """The uint32 entropy words numpy's SeedSequence takes from ``key`` (None: not a plain int key)."""
    words: list[int] = []
    for value in (key if isinstance(key, (tuple, list)) else (key,)):
        value = int(value)
        if value < 0:
            return None
        if value == 0:
            words.append(0)
        while value > 0:
            words.append(value & 0xFFFFFFFF)
            value >>= 32
    return words


def _seed_sequence_states(entropy: np.ndarray) -> np.ndarray:
    """``SeedSequence(key).generate_state(4, uint64)`` for each row of ``entropy`` ``[n, words]`` (uint32)."""
    with np.errstate(over="ignore"):
        hash_const = np.uint32(_INIT_A)

        def hashmix(value):
            nonlocal hash_const
            value = value ^ hash_const
            hash_const = np.uint32(int(hash_const) * _MULT_A & 0xFFFFFFFF)
            value = value * hash_const
            return value ^ (value >> np.uint32(16))

        def mix(x, y):
            result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
            return result ^ (result >> np.uint32(16))

        count, length = entropy.shape
        zero = np.zeros(count, dtype=np.uint32)
        mixer = [hashmix(entropy[:, i] if i < length else zero) for i in range(_POOL)]
        for source in range(_POOL):
            for target in range(_POOL):
                if source != target:
                    mixer[target] = mix(mixer[target], hashmix(mixer[source]))
        for source in range(_POOL, length):
            for target in range(_POOL):
                mixer[target] = mix(mixer[target], hashmix(entropy[:, source]))
        hash_const = np.uint32(_INIT_B)
        state = np.empty((count, 8), dtype=np.uint32)
        for index in range(8):
            value = mixer[index % _POOL] ^ hash_const
            hash_const = np.uint32(int(hash_const) * _MULT_B & 0xFFFFFFFF)
            value = value * hash_const
            state[:, index] = value ^ (value >> np.uint32(16))
    return state.astype("<u4").view("<u8")


def pcg64_states(keys: Sequence[int | Sequence[int]]) -> list[dict]:
    """The state of ``numpy.random.PCG64(numpy.random.SeedSequence(key))`` for every key, as the
    ``bit_generator.state`` dicts numpy takes."""
    if not keys:
        return []
    try:  # the usual keys: tuples of one length of ints in [0, 2**32), one entropy word each
        entropy = np.array(keys, dtype=np.int64).reshape(len(keys), -1)
        plain = bool(((entropy >= 0) & (entropy < 1 << 32)).all())
    except (ValueError, TypeError, OverflowError):
        plain = False
    if not plain:
        words = [_words(key) for key in keys]
        if None in words or len({len(w) for w in words}) != 1:  # mixed key lengths: numpy's own, one by one
            return [np.random.PCG64(np.random.SeedSequence(key)).state for key in keys]
        entropy = np.array(words)
    seeds = _seed_sequence_states(entropy.astype(np.uint32))
    states = []
    for seed in seeds.tolist():
        initial = (seed[0] << 64) | seed[1]
        increment = (((seed[2] << 64) | seed[3]) << 1 | 1) & _MASK128
        state = increment  # one step from 0: 0 * multiplier + increment
        state = ((state + initial) * _PCG_MULTIPLIER + increment) & _MASK128
        states.append({"bit_generator": "PCG64", "state": {"state": state, "inc": increment},
                       "has_uint32": 0, "uinteger": 0})
    return states


def bernoulli_positions(generator: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """The indices in ``[0, n)`` of ``n`` independent Bernoulli(``rate``) draws that came out 1, drawn
    as the gaps between them (geometric): exact, and about ``n * rate`` draws instead of ``n``."""
    if rate <= 0.0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if rate >= 1.0:
        return np.arange(n)
    positions = np.cumsum(generator.geometric(rate, size=int(2 * n * rate) + 16)) - 1
    while positions[-1] < n:  # rare: more ones than the first batch of gaps reached
        positions = np.concatenate([positions, positions[-1] + np.cumsum(generator.geometric(rate, size=int(n * rate) + 16))])
    return positions[positions < n]


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

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        for index in indices:
            if not 0 <= int(index) < self.n_samples:
                raise IndexError(f"sample {index} out of range for {self.n_samples} samples per epoch")
        x, y = make_fresh_delayed_xor([(self.data_seed, self.epoch, int(index)) for index in indices], **self.params)
        return list(zip(x.unbind(0), y.unbind(0)))

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
        meta={"chance": 0.5, "pattern_steps": params["pattern_steps"]},
    )
