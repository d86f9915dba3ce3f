"""Fresh delayed XOR batches (ablations/data/generated.py): the batch-at-once generator draws exactly
the samples of one numpy generator per key (numpy's own SeedSequence and PCG64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ablations.data.generated import bernoulli_positions, make_fresh_delayed_xor, pcg64_states


def _one_generator_per_key(keys, channels, pattern_steps, delay_steps, low_rate, high_rate, noise_rate,
                           noise_over_patterns):
    """The definition: each sample from ``Generator(PCG64(SeedSequence(key)))``, one at a time."""
    steps = 2 * pattern_steps + delay_steps
    n_noise, n_pattern = steps * channels, pattern_steps * channels
    spikes = np.zeros((len(keys), steps, channels), dtype=bool)
    labels = []
    for row, key in enumerate(keys):
        generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))
        uniforms = generator.random(2 * n_pattern + 2, dtype=np.float32)
        high = uniforms[-2:] < 0.5
        spikes[row].reshape(-1)[bernoulli_positions(generator, n_noise, noise_rate)] = True
        for which, rows in ((0, slice(0, pattern_steps)), (1, slice(steps - pattern_steps, steps))):
            pattern = uniforms[which * n_pattern:(which + 1) * n_pattern].reshape(pattern_steps, channels) < (
                high_rate if high[which] else low_rate)
            if noise_over_patterns:
                spikes[row, rows] |= pattern
            else:
                spikes[row, rows] = pattern
        labels.append(bool(high[0] ^ high[1]))
    return torch.from_numpy(spikes.view(np.uint8)), torch.tensor(labels).long()


@pytest.mark.parametrize("params", [
    dict(channels=20, pattern_steps=10, delay_steps=180, low_rate=0.2, high_rate=0.6, noise_rate=0.01,
         noise_over_patterns=True),  # DH-SNN's task (dataset=delayed_xor_dhsnn)
    dict(channels=16, pattern_steps=10, delay_steps=10, low_rate=0.05, high_rate=0.6, noise_rate=0.05,
         noise_over_patterns=False),
])
def test_a_fresh_batch_is_one_numpy_generator_per_key(params):
    keys = [(0, epoch, index) for epoch in (0, 7) for index in range(150)] + [(3, 2, 2 ** 31 + 11)]
    x, y = make_fresh_delayed_xor(keys, **params)
    expected_x, expected_y = _one_generator_per_key(keys, **params)
    assert torch.equal(x, expected_x) and torch.equal(y, expected_y)
    assert 0.3 < float(y.float().mean()) < 0.7 and x.sum() > 0


def test_generator_states_equal_numpys():
    keys = [(0,), 5, 0, (1, 2, 3, 4, 5, 6), (2 ** 40, 1), (2 ** 32 - 1, 2 ** 32), (9, 9, 9)]
    for key in keys:
        assert pcg64_states([key]) == [np.random.PCG64(np.random.SeedSequence(key)).state], key
    batch = [(4, epoch, index) for epoch in range(3) for index in range(40)]
    assert pcg64_states(batch) == [np.random.PCG64(np.random.SeedSequence(key)).state for key in batch]
    assert pcg64_states(keys) == [np.random.PCG64(np.random.SeedSequence(key)).state for key in keys]  # mixed lengths
