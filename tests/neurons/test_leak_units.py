"""Like-for-like units for seed 003: critical frequency, loss scale, noise severities."""

import numpy as np
import pytest
import torch

from ablations.data import noise as noise_lib
from ablations.data.encoders import PoissonEncoder
from ablations.evaluation.spectral import critical_frequency, normalised_frequencies, single_sided_power
from ablations.training import loss_function, training_loss


def test_white_train_critical_frequency_is_035_of_the_sampling_rate():
    # seed 003 section 4.3 reports 0.345 for IF; a white train (Bernoulli spikes, mean removed)
    # reaches 70 % of its power at 0.7 x Nyquist = 0.35 of the sampling rate
    generator = torch.Generator().manual_seed(0)
    steps = 100
    trains = (torch.rand(steps, 2000, generator=generator) < 0.2).double()
    trains = trains - trains.mean(0, keepdim=True)
    power = single_sided_power(trains).numpy()
    values = critical_frequency(power, normalised_frequencies(steps), 0.7)
    assert normalised_frequencies(steps)[-1] == 0.5
    assert abs(float(np.nanmean(values)) - 0.35) <= 0.02


def test_summed_mse_equals_ref21_criterion_on_a_fixed_batch():
    generator = torch.Generator().manual_seed(1)
    output = torch.rand(64, 10, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (64,), generator=generator)
    onehot = torch.nn.functional.one_hot(labels, 10).double()
    reference = torch.nn.MSELoss(reduction="sum")(output, onehot)  # ref [21]: MSELoss(size_average=False)
    assert float(training_loss("mse_onehot", "sum")(output, labels, 100)) == pytest.approx(float(reference), rel=1e-12)
    per_sample = float(loss_function("mse_onehot")(output, labels, 100))
    assert per_sample == pytest.approx(float(reference) / 2 / 64, rel=1e-12)


@pytest.mark.parametrize("name, scenario", [("gaussian", 1), ("impulse", 1), ("gaussian", 2), ("impulse", 2)])
def test_severity_8_covers_the_same_fraction_of_the_range_signed_and_unsigned(name, scenario):
    generator = torch.Generator().manual_seed(2)
    unsigned = torch.rand(64, 1, 8, 8, generator=generator)            # pixels in [0, 1]
    signed = 2 * unsigned - 1                                          # the same pixels in [-1, 1]
    fractions = []
    for x, encoder in ((unsigned, PoissonEncoder(50)), (signed, PoissonEncoder(50, signed=True))):
        low, high = noise_lib.data_range(encoder, scenario)
        noise = noise_lib.make_noise(name, scenario, 8)
        draws = noise_lib.draw_batch(encoder, x, torch.Generator().manual_seed(3))
        if name == "impulse" and scenario == 1:
            noisy = noise_lib.corrupt_pixels(encoder, x, noise, draws[1])  # [T, B, ...]
            at_extremes = ((noisy == low) | (noisy == high)).double()
            hit = float(at_extremes.mean())
            # replacement: every hit entry sits exactly at one of the range's extremes
            fractions.append((hit, float(((noisy == high).double().sum() / at_extremes.sum()))))
        else:
            xi = noise.scaled(low, high).from_draws(draws[1])
            fractions.append((float(xi.abs().max()) / (high - low), float(xi.std()) / (high - low)))
    assert fractions[0] == pytest.approx(fractions[1], abs=0.02)
