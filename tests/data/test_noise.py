"""Input noise of seed 003 Algorithm 1 (ablations.data.noise): scenarios, severities, shared draws."""

import pickle

import pytest
import torch

from ablations.data import noise as N
from ablations.data.encoders import DirectEncoder, PoissonEncoder


@pytest.fixture
def images():
    generator = torch.Generator().manual_seed(3)
    return torch.rand((6, 1, 8, 8), generator=generator)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _levels(name, scenario):
    return [N.make_noise(name, scenario, s) for s in range(N.N_SEVERITIES + 1)]


def test_severity_zero_is_the_clean_poisson_encoding(images):
    encoder = PoissonEncoder(12)
    clean = encoder(images, generator=_gen(5))
    for scenario in (1, 2):
        for name in N.NOISES:
            first = next(N.noisy_batches(encoder, images, [N.make_noise(name, scenario, 0)], scenario, _gen(5)))
            assert torch.equal(first, clean)
    assert torch.equal(N.apply_noise(encoder, images, None, 1, _gen(5)), clean)


@pytest.mark.parametrize("name", N.NOISES)
def test_scenario1_stays_binary_scenario2_does_not(images, name):
    encoder = PoissonEncoder(12)
    for severity in range(1, N.N_SEVERITIES + 1):
        noise = N.make_noise(name, 1, severity)
        spikes = N.apply_noise(encoder, images, noise, 1, _gen(severity))
        assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    for severity in (1, 4, 8):
        noisy = N.apply_noise(encoder, images, N.make_noise(name, 2, severity), 2, _gen(severity))
        assert not set(noisy.unique().tolist()) <= {0.0, 1.0}


def test_same_seed_same_numbers_other_seed_other_numbers(images):
    encoder = PoissonEncoder(10)
    noises = _levels("gaussian", 2)
    first = list(N.noisy_batches(encoder, images, noises, 2, _gen(1)))
    again = list(N.noisy_batches(encoder, images, noises, 2, _gen(1)))
    other = list(N.noisy_batches(encoder, images, noises, 2, _gen(2)))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[3], other[3])


def test_severities_share_draws(images):
    """Gaussian levels differ only in scale; impulse hits are nested across levels."""
    encoder = PoissonEncoder(10)
    clean, *noisy = N.noisy_batches(encoder, images, _levels("gaussian", 2), 2, _gen(4))
    directions = [(batch - clean) / noise.sigma for batch, noise in zip(noisy, _levels("gaussian", 2)[1:])]
    for direction in directions[1:]:
        torch.testing.assert_close(direction, directions[0])
    uniform, draws = N.draw_batch(encoder, images, _gen(4))
    hits = [N.make_noise("impulse", 1, s).from_draws(draws) != 0 for s in range(1, N.N_SEVERITIES + 1)]
    for lower, higher in zip(hits, hits[1:]):
        assert bool((lower <= higher).all())
        assert int(higher.sum()) >= int(lower.sum())


def test_impulse_scenario1_full_probability_is_salt_and_pepper(images):
    """With probability 1 and amplitude 1 every pixel is forced to 0 or 1: spikes ignore the image."""
    encoder = PoissonEncoder(200)
    bright = torch.ones((4, 1, 8, 8))
    dark = torch.zeros((4, 1, 8, 8))
    noise = N.ImpulseNoise(1.0, 1.0)
    for x in (bright, dark):
        rate = float(N.apply_noise(encoder, x, noise, 1, _gen(0)).mean())
        assert rate == pytest.approx(0.5, abs=0.02)


def test_severity_table_grows_and_has_eight_levels():
    assert len(N.SEVERITIES) == 4
    for (name, scenario), values in N.SEVERITIES.items():
        assert len(values) == N.N_SEVERITIES
        size = [v if name == "gaussian" else v[0] * v[1] ** 2 for v in values]
        assert size == sorted(size) and len(set(size)) == len(size)
    rows = N.severity_table()
    assert len(rows) == 4 * N.N_SEVERITIES
    assert {"noise", "scenario", "severity"} <= set(rows[0])


def test_noise_objects_pickle_and_show_parameters(images):
    for noise in (N.GaussianNoise(0.5), N.ImpulseNoise(0.3, 2.0)):
        assert pickle.loads(pickle.dumps(noise)) == noise
    assert "sigma=0.5" in repr(N.GaussianNoise(0.5))
    assert "probability=0.3" in repr(N.ImpulseNoise(0.3)) and "amplitude=1.0" in repr(N.ImpulseNoise(0.3))
    encoder = N.NoisyEncoder(PoissonEncoder(8), N.GaussianNoise(0.2), 1)
    restored = pickle.loads(pickle.dumps(encoder))
    assert "GaussianNoise(sigma=0.2)" in repr(restored) and "scenario=1" in repr(restored)
    assert torch.equal(restored(images, _gen(0)), encoder(images, _gen(0)))


def test_direct_coding_scenario1_adds_noise_to_the_current(images):
    encoder = DirectEncoder(5, gain=2.0)
    noisy = N.apply_noise(encoder, images, N.GaussianNoise(0.0), 1, _gen(0))
    torch.testing.assert_close(noisy, encoder(images))


def test_bad_noise_parameters_are_refused():
    with pytest.raises(ValueError, match="severity"):
        N.make_noise("gaussian", 1, 9)
    with pytest.raises(ValueError, match="not one of"):
        N.make_noise("speckle", 1, 1)
    with pytest.raises(ValueError, match="scenario"):
        N.make_noise("gaussian", 3, 1)
    with pytest.raises(ValueError, match="probability"):
        N.ImpulseNoise(1.5)
    with pytest.raises(ValueError, match="sigma"):
        N.GaussianNoise(-1)


def test_severity_five_keeps_the_mean_input_spectrum_as_seed_003_describes():
    """Seed 003 section 4.3: at level 5 the mean spectrum stays roughly the same (DC and total power
    within 10 % here) while the non-DC bins rise; the levels step by 1.5x."""
    from ablations.data import build_dataset
    from ablations.evaluation.spectral import single_sided_power
    from ablations.pipeline import compose_run

    cfg = compose_run(["dataset=digits", "dataset.normalize=zero_mean", "dataset.signed=true", "dataset.steps=20"])
    bundle = build_dataset(cfg.dataset, cfg.paths.data)
    x = torch.stack([bundle.test[i][0] for i in range(200)])
    draws = N.draw_batch(bundle.encoder, x, _gen(0))

    def spectrum(noise, scenario):
        spikes = next(N.noisy_batches(bundle.encoder, x, [noise], scenario, draws=draws))
        return single_sided_power(spikes.reshape(20, spikes.shape[1], -1)).mean((1, 2))

    clean = spectrum(None, 1)
    for (name, scenario), levels in N.SEVERITIES.items():
        assert all(b / a == pytest.approx(1.5, rel=0.05) for a, b in
                   zip([v if name == "gaussian" else v[0] for v in levels][:-1],
                       [v if name == "gaussian" else v[0] for v in levels][1:]))
        noisy = spectrum(N.make_noise(name, scenario, 5), scenario)
        assert abs(float(noisy[0] / clean[0]) - 1) < 0.12, (name, scenario)
        assert abs(float(noisy.sum() / clean.sum()) - 1) < 0.12, (name, scenario)
        assert float(noisy[1:].mean() / clean[1:].mean()) > 1.1, (name, scenario)
