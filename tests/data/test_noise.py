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


# --- event noise (ablations.data.event_noise): tonic's transforms on raw events, before framing ---

import numpy as np  # noqa: E402

from ablations import data as datasets  # noqa: E402
from ablations.config import compose  # noqa: E402
from ablations.data import event_noise as EN  # noqa: E402
from ablations.data.frames import FrameDataset  # noqa: E402
from ablations.errors import UserError  # noqa: E402
from native_formats import write_dvs_gesture  # noqa: E402


@pytest.fixture
def dvs(tmp_path):
    """A DVS Gesture test sample read by tonic's own DVSGesture class (boolean polarity): 400 events,
    each at its own pixel (so an event can be followed through a transform), over 1-5 s."""
    rng = np.random.default_rng(0)
    pixels = rng.choice(128 * 128, 400, replace=False)
    t_ms = np.sort(rng.integers(1000, 5000, 400))
    events = np.stack([pixels % 128, pixels // 128, rng.integers(0, 2, 400), t_ms], axis=1)
    write_dvs_gesture(tmp_path, {"Train": [("user01_led", 3, events[:10])], "Test": [("user24_led", 1, events)]})
    return datasets.build_dataset(compose(["dataset=dvs_gesture"]).dataset, tmp_path)


def _noisy(bundle, kind, severity, seed=0):
    spec = bundle.test.spec
    noise = EN.make_event_noise(kind, severity, bundle.test.events.sensor_size, spec.time_window_us, spec.n_bins)
    return EN.NoisyEvents(bundle.test.events, noise, seed)


def _by_pixel(events):
    return {(int(x), int(y)): int(t) for x, y, t in zip(events["x"], events["y"], events["t"])}


def test_event_noise_kinds_do_what_their_severity_says(dvs):
    clean, _ = dvs.test.events[0]
    assert clean.dtype["p"] == np.bool_ and len(clean) == 400  # as tonic reads the .npy release
    kept, _ = _noisy(dvs, "drop_event", 0.25)[0]
    assert len(kept) == 300 and set(_by_pixel(kept).items()) <= set(_by_pixel(clean).items())
    silenced, _ = _noisy(dvs, "drop_pixel", 0.5)[0]
    assert 120 < len(silenced) < 280 and set(_by_pixel(silenced).items()) <= set(_by_pixel(clean).items())
    noisy, _ = _noisy(dvs, "uniform_noise", 1.0)[0]
    assert len(noisy) == 800 and bool(np.all(np.diff(noisy["t"]) >= 0))
    assert noisy["x"].max() < 128 and noisy["y"].max() < 128 and noisy["t"].min() >= clean["t"].min()
    # the added events carry both polarities (tonic's draw cast into a boolean field would make all of them ON)
    key = lambda e: e["x"].astype(np.int64) * 1000 + e["y"]  # noqa: E731 - one pixel, one number
    added = noisy[~np.isin(key(noisy), key(clean))]
    assert len(added) > 350
    assert set(np.unique(added["p"]).tolist()) == {0, 1}
    for kind in EN.EVENT_NOISES:
        same, _ = _noisy(dvs, kind, 0)[0]
        assert np.array_equal(same["t"], clean["t"]) and np.array_equal(same["x"], clean["x"])


def test_time_jitter_is_in_frame_windows_and_levels_share_their_draws(dvs):
    clean = _by_pixel(dvs.test.events[0][0])
    window_us = dvs.test.spec.time_window_us  # 300 ms
    small, _ = _noisy(dvs, "time_jitter", 0.01)[0]
    large, _ = _noisy(dvs, "time_jitter", 0.02)[0]
    assert bool(np.all(np.diff(small["t"]) >= 0))
    shift_large = np.array([t - clean[p] for p, t in sorted(_by_pixel(large).items())])
    shift_small = np.array([_by_pixel(small)[p] - clean[p] for p in sorted(_by_pixel(large))])
    assert 0.7 * 0.01 * window_us < shift_small.std() < 1.3 * 0.01 * window_us
    assert np.abs(shift_large - 2 * shift_small).max() <= 2  # the same normal draws, scaled (int truncation)


def test_noisy_events_are_seeded_and_leave_numpy_state_alone(dvs):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = _noisy(dvs, "uniform_noise", 0.5, seed=4)[0][0]
    assert np.array_equal(np.random.get_state()[1], before)
    again = _noisy(dvs, "uniform_noise", 0.5, seed=4)[0][0]
    other = _noisy(dvs, "uniform_noise", 0.5, seed=5)[0][0]
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_noisy_frames_are_binned_as_the_clean_ones(dvs):
    """Severity 0 through the uncached path gives the cached clean frames exactly; dropped events
    leave fewer counts in the same frames."""
    clean_frames, label = dvs.test[0]
    same = FrameDataset(_noisy(dvs, "drop_event", 0), dvs.test.spec, cache_dir=None)[0]
    assert torch.equal(same[0], clean_frames) and same[1] == label
    dropped = FrameDataset(_noisy(dvs, "drop_event", 0.5), dvs.test.spec, cache_dir=None)[0][0]
    assert dropped.shape == clean_frames.shape and dropped.sum() == clean_frames.sum() / 2
    assert bool((dropped <= clean_frames).all())


def test_event_noise_refuses_bad_severities():
    with pytest.raises(UserError, match=r"drop_event: 1.5 must be 0..1 \(share of events dropped\)"):
        EN.make_event_noise("drop_event", 1.5, (34, 34, 2))
    with pytest.raises(UserError, match="time_jitter: -1 must be >= 0"):
        EN.make_event_noise("time_jitter", -1, (34, 34, 2))
    with pytest.raises(UserError, match="not one of"):
        EN.make_event_noise("hot_pixel", 0.1, (34, 34, 2))
