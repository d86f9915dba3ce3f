"""Fresh delayed XOR batches (ablations/data/generated.py): the batch-at-once generator draws exactly
the samples of the definition, one counter-based SplitMix64 stream per key drawn one value at a time in
Python integers (``fresh_sample``), and those streams are SplitMix64's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ablations.data.generated import (fresh_sample, make_fresh_delayed_xor, mix64, noise_positions, stream_draws,
                                      stream_seed, stream_seeds)


@pytest.mark.parametrize("params", [
    dict(channels=20, pattern_steps=10, delay_steps=180, low_rate=0.2, high_rate=0.6, noise_rate=0.01,
         noise_over_patterns=True),  # DH-SNN's task (dataset=delayed_xor_dhsnn)
    dict(channels=16, pattern_steps=10, delay_steps=10, low_rate=0.05, high_rate=0.6, noise_rate=0.05,
         noise_over_patterns=False),
    dict(channels=3, pattern_steps=2, delay_steps=40, low_rate=0.1, high_rate=0.9, noise_rate=0.6,
         noise_over_patterns=True),  # dense noise: rows that need more gaps than the batch first draws
])
def test_a_fresh_batch_is_the_definition_key_by_key(params):
    keys = [(0, epoch, index) for epoch in (0, 7) for index in range(60)] + [(3, 2, 2 ** 31 + 11), (2 ** 62, 1, 5)]
    x, y = make_fresh_delayed_xor(keys, **params)
    for row, key in enumerate(keys):
        spikes, label = fresh_sample(key, **params)
        assert np.array_equal(x[row].numpy().astype(bool), spikes) and bool(y[row]) == label, key
    assert 0.3 < float(y.float().mean()) < 0.7 and x.sum() > 0


def test_a_sample_depends_on_its_key_alone():
    params = dict(channels=20, pattern_steps=10, delay_steps=180, low_rate=0.2, high_rate=0.6, noise_rate=0.01,
                  noise_over_patterns=True)
    keys = [(1, 0, index) for index in range(40)]
    whole, _ = make_fresh_delayed_xor(keys, **params)
    alone, _ = make_fresh_delayed_xor(keys[::-1][:7], **params)
    assert torch.equal(whole.flip(0)[:7], alone)
    mixed, _ = make_fresh_delayed_xor([keys[3], 5, (1, 2, 3, 4)], **params)  # keys of other lengths, one by one
    assert torch.equal(mixed[0], whole[3])
    assert not torch.equal(mixed[1], make_fresh_delayed_xor([(5, 0)], **params)[0][0])


def test_streams_are_splitmix64_and_every_key_bit_counts():
    # SplitMix64 from state 0 (the reference values of Vigna's splitmix64.c: 0xE220A8397B1DCDAF, ...)
    assert [mix64((k + 1) * 0x9E3779B97F4A7C15) for k in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    keys = [(4, epoch, index) for epoch in range(3) for index in range(40)] + [(4, 0, 2 ** 40)]
    seeds = stream_seeds(keys)
    assert [int(seed) for seed in seeds] == [stream_seed(key) for key in keys]
    assert len(set(seeds.tolist())) == len(keys)
    assert stream_seed((4, 0, 0)) != stream_seed((4, 0)) != stream_seed(4)  # the length counts
    draws = stream_draws(seeds[:3], 5, 4)
    assert [[int(v) for v in row] for row in draws] == [
        [mix64(int(seed) + (j + 1) * 0x9E3779B97F4A7C15) for j in range(5, 9)] for seed in seeds[:3]]
    with pytest.raises(ValueError, match="2\\*\\*63"):
        stream_seed((-1, 2))


def test_noise_positions_are_bernoulli_draws():
    seeds = stream_seeds([(9, index) for index in range(4000)])
    rows, positions = noise_positions(seeds, 0, 50, 0.1)
    assert (0 <= positions).all() and (positions < 50).all()
    assert len(set(zip(rows.tolist(), positions.tolist()))) == len(rows)  # no position twice in a row
    counts = np.bincount(positions, minlength=50)
    assert abs(counts.mean() / 4000 - 0.1) < 0.005 and counts.std() / 4000 < 0.015   # every position at rate 0.1
    per_row = np.bincount(rows, minlength=4000)
    assert abs(per_row.var() - 50 * 0.1 * 0.9) < 0.6   # binomial(50, 0.1) counts per row
    assert len(noise_positions(seeds[:3], 0, 30, 1.0)[0]) == 90 and len(noise_positions(seeds[:3], 0, 30, 0.0)[0]) == 0
