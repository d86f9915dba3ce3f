"""Tests of the analytic and simulated input/spike-train coherence of IF and LIF neurons."""

import math

import numpy as np
import pandas as pd
import pytest

from ablations.neurons import coherence_theory as theory
from ablations.evaluation import coherence as coh

# Parameters where the Welch estimate is reliable: moderate noise, rates ~1 per time unit.
LIF_MU, LIF_D = 1.2, 0.1
IF_MU, IF_D = 1.0, 0.1
SIM = dict(dt=1e-3, duration=150.0, n_trials=48, segment_duration=30.0, seed=0)

#: Compared band, in rad per time unit (the LIF coherence falls from ~0.9 to ~0.15 across it).
BAND = (0.5, 8.0)
#: Tolerances on |simulated - analytic|: averaged over blocks of 5 adjacent Welch bins
#: (width ~1 rad per time unit), over all bins on average, and per bin (estimator noise).
BLOCK_TOLERANCE = 0.06
MEAN_TOLERANCE = 0.04
BIN_TOLERANCE = 0.12
RATE_TOLERANCE = 0.05


def _block_means(values: np.ndarray, size: int = 5) -> np.ndarray:
    usable = len(values) // size * size
    return values[:usable].reshape(-1, size).mean(axis=1)


def _deviations(simulated, analytic_coherence, mu, D):
    omega, estimate, _ = simulated
    in_band = (omega >= BAND[0]) & (omega <= BAND[1])
    theory = analytic_coherence(omega[in_band], mu=mu, D=D)
    difference = estimate[in_band] - theory
    block = _block_means(estimate[in_band]) - _block_means(theory)
    return np.abs(block).max(), np.abs(difference).mean(), np.abs(difference).max()


@pytest.fixture(scope="module")
def lif_simulation():
    return theory.simulate_coherence("lif", mu=LIF_MU, D=LIF_D, **SIM)


@pytest.fixture(scope="module")
def if_simulation():
    return theory.simulate_coherence("if", mu=IF_MU, D=IF_D, **SIM)


def test_lif_rate_matches_simulation(lif_simulation):
    _, _, measured = lif_simulation
    expected = theory.lif_rate(mu=LIF_MU, D=LIF_D)
    assert abs(measured / expected - 1) < RATE_TOLERANCE


def test_lif_rate_known_values():
    # Deterministic limit for weak noise: r0 -> 1 / ln(mu / (mu - 1)).
    assert theory.lif_rate(mu=2.0, D=1e-4) == pytest.approx(1 / math.log(2.0), rel=1e-2)
    # A refractory period adds to the mean interspike interval.
    r0 = theory.lif_rate(mu=LIF_MU, D=LIF_D)
    assert theory.lif_rate(mu=LIF_MU, D=LIF_D, tau_ref=0.5) == pytest.approx(1 / (1 / r0 + 0.5))


def test_simulated_lif_coherence_matches_analytic(lif_simulation):
    block, mean, worst = _deviations(lif_simulation, theory.lif_coherence, LIF_MU, LIF_D)
    assert block < BLOCK_TOLERANCE
    assert mean < MEAN_TOLERANCE
    assert worst < BIN_TOLERANCE


def test_simulated_if_coherence_matches_analytic(if_simulation):
    _, _, measured = if_simulation
    assert abs(measured / theory.if_rate(mu=IF_MU, D=IF_D) - 1) < RATE_TOLERANCE
    block, mean, worst = _deviations(if_simulation, theory.if_coherence, IF_MU, IF_D)
    assert block < BLOCK_TOLERANCE
    assert mean < MEAN_TOLERANCE
    assert worst < BIN_TOLERANCE


def test_lif_coherence_is_the_standard_linear_response_form():
    # Paper Eq. 4 equals 2 D |chi|^2 / S_xx with the literature chi and S_xx.
    omega = np.array([0.1, 0.7, 2.0, 5.0, 15.0])
    chi = theory.lif_susceptibility(omega, mu=LIF_MU, D=LIF_D)
    spectrum = theory.lif_power_spectrum(omega, mu=LIF_MU, D=LIF_D)
    expected = 2 * LIF_D * np.abs(chi) ** 2 / spectrum
    np.testing.assert_allclose(theory.lif_coherence(omega, mu=LIF_MU, D=LIF_D), expected, rtol=1e-9)


def test_lif_limits_of_susceptibility_and_spectrum():
    h = 1e-4
    slope = (theory.lif_rate(LIF_MU + h, LIF_D) - theory.lif_rate(LIF_MU - h, LIF_D)) / (2 * h)
    assert theory.lif_susceptibility(0.0, mu=LIF_MU, D=LIF_D) == pytest.approx(slope, rel=1e-6)
    r0 = theory.lif_rate(LIF_MU, LIF_D)
    assert theory.lif_power_spectrum(200.0, mu=LIF_MU, D=LIF_D) == pytest.approx(r0, rel=1e-3)


def test_lif_tends_to_if_without_leak():
    # Same input current (drift m, noise q per reference time), tau_m -> infinity:
    # mu = m tau_m, D = q tau_m and omega_lif = omega tau_m.
    omega, drift, noise, tau_m = np.array([0.2, 1.0, 2.0, 4.0]), 1.0, 0.1, 30.0
    lif = theory.lif_coherence(omega * tau_m, mu=drift * tau_m, D=noise * tau_m)
    perfect = theory.if_coherence(omega, mu=drift, D=noise)
    np.testing.assert_allclose(lif, perfect, atol=5e-3)
    chi_lif = theory.lif_susceptibility(omega * tau_m, mu=drift * tau_m, D=noise * tau_m)
    np.testing.assert_allclose(chi_lif, theory.if_susceptibility(omega, mu=drift, D=noise), rtol=1e-2)


def test_if_closed_form_limits():
    assert theory.if_coherence(0.0, mu=IF_MU, D=IF_D) == pytest.approx(1.0)
    assert theory.if_coherence(1e-6, mu=IF_MU, D=IF_D) == pytest.approx(1.0, abs=1e-9)
    # S(0) = r0 CV^2 with CV^2 = 2 D / (mu (v_th - u_rest)) for the inverse-Gaussian ISI.
    assert theory.if_power_spectrum(1e-6, mu=IF_MU, D=IF_D) == pytest.approx(2 * IF_D, rel=1e-6)
    # High-frequency asymptote C ~ 2 r0 / omega.
    assert theory.if_coherence(1e5, mu=IF_MU, D=IF_D) * 1e5 / 2 == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("kind", ["lif", "if"])
@pytest.mark.parametrize("mu, D", [(0.8, 0.2), (1.2, 0.1), (2.0, 0.02), (3.0, 1.0)])
def test_coherence_in_unit_interval(kind, mu, D):
    omega = np.concatenate([[0.0], np.geomspace(1e-3, 100.0, 25)])
    function = theory.lif_coherence if kind == "lif" else theory.if_coherence
    values = function(omega, mu=mu, D=D)
    assert values.shape == omega.shape
    assert np.all(np.isfinite(values))
    assert np.all((values >= 0) & (values <= 1 + 1e-12))


def test_if_flat_where_lif_falls():
    # Suite parameters: same input current for both, omega in rad per tau_0, high-leak tau_m = tau_0.
    omega = np.geomspace(0.05, 1.0, 12)
    perfect = theory.if_coherence(omega, mu=1.0, D=0.01)
    leaky = theory.lif_coherence(omega, mu=1.0, D=0.01)
    assert perfect.max() / perfect.min() < 1.1
    assert leaky.max() / leaky.min() > 1.25
    assert np.all(perfect > leaky)


@pytest.mark.parametrize(
    "call",
    [
        lambda: theory.lif_coherence(1.0, mu=1.2, D=0.0),
        lambda: theory.lif_coherence(1.0, mu=1.2, D=-1.0),
        lambda: theory.lif_rate(mu=1.2, D=0.1, v_th=0.0, u_rest=0.0),
        lambda: theory.lif_rate(mu=1.2, D=0.1, tau_ref=-1.0),
        lambda: theory.lif_coherence(-1.0, mu=1.2, D=0.1),
        lambda: theory.if_coherence(1.0, mu=1.0, D=0.1, v_th=0.0, u_rest=0.5),
        lambda: theory.if_rate(mu=0.0, D=0.1),
        lambda: theory.simulate_coherence("qif", mu=1.2, D=0.1),
    ],
)
def test_invalid_parameters_raise(call):
    with pytest.raises(ValueError):
        call()


def test_suite_returns_documented_columns():
    frame = coh.run(cfg={"n_omega": 6, "simulate": True, "duration": 20.0, "seed": 1})
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "suite", "neuron", "tau", "mu", "D", "omega", "frequency_hz", "coherence", "source", "rate",
    ]
    assert set(frame["suite"]) == {"coherence"}
    assert set(frame["neuron"]) == {"if", "lif_low_leak", "lif_high_leak"}
    assert set(frame["source"]) == {"analytic", "simulated"}
    analytic = frame[frame["source"] == "analytic"]
    assert len(analytic) == 3 * 6
    assert np.isinf(analytic.loc[analytic["neuron"] == "if", "tau"]).all()
    assert (analytic.loc[analytic["neuron"] != "if", "tau"] > 0).all()
    np.testing.assert_allclose(
        frame["frequency_hz"], frame["omega"] / (2 * np.pi * coh.SUITE_TIME_UNIT_MS / 1000.0)
    )
    assert frame["coherence"].between(0, 1).all()
    assert (frame["rate"] > 0).all()
    # Leak lowers the low-frequency coherence at fixed input current.
    lowest = analytic[analytic["omega"] == analytic["omega"].min()].set_index("neuron")["coherence"]
    assert lowest["if"] > lowest["lif_low_leak"] > lowest["lif_high_leak"]


def test_suite_accepts_omegaconf_and_skips_simulation():
    omegaconf = pytest.importorskip("omegaconf")
    frame = coh.run(cfg=omegaconf.OmegaConf.create({"mu": 1.5, "D": 0.05, "n_omega": 5, "simulate": False}))
    assert set(frame["source"]) == {"analytic"}
    assert len(frame) == 15
    perfect = frame[frame["neuron"] == "if"]
    assert (perfect["mu"] == 1.5).all() and (perfect["D"] == 0.05).all()
