"""Seed 002's leak parameter tau_m for the linear leak (lam = theta / tau_m, an assumption) and the
relation between it and the firing rate, in the paper's terms, against the package's neuron."""

from __future__ import annotations

import numpy as np
import pytest

from ablations.figures.linear import period, predicted_rate, single_neuron_rates, tau_m_of


def test_simulated_rates_follow_the_closed_form_exactly():
    table = single_neuron_rates(lams=(0.0, 0.03, 0.11, 0.21, 0.37), currents=(0.15, 0.3, 0.6), steps=120)
    assert np.allclose(table["rate"], table["predicted_rate"])
    assert (np.isclose(table.loc[table["lam"] == 0.11, "tau_m"], 1 / 0.11)).all()


@pytest.mark.parametrize("current", [0.3, 0.6])
def test_rate_falls_with_the_leak_one_over_tau_m(current):
    tau_ms = [100.0, 20.0, 10.0, 5.0, 3.5]
    rates = [1.0 / period(current, 1.0 / tau) for tau in tau_ms]
    assert all(a >= b for a, b in zip(rates, rates[1:])) and rates[0] > rates[-1]   # falls as 1/tau_m grows
    for tau, rate in zip(tau_ms, rates):                                     # ~ I/theta - 1/tau_m (continuous limit)
        assert rate == pytest.approx(current - 1.0 / tau, abs=0.5 * (current - 1.0 / tau) + 0.02)


def test_edges_silent_below_the_leak_and_every_step_above_threshold():
    assert period(0.1, 0.2) == float("inf") and predicted_rate(0.1, 0.2) == 0.0
    assert period(1.5, 0.2) == 1.0
    assert tau_m_of(0.0) == float("inf") and tau_m_of(0.05) == pytest.approx(20.0)


def test_linear_leak_study_compares_variants_with_one_readout():
    from ablations.config import build_model, compose
    from ablations.studies.definition import load_definition
    from ablations.studies.trials import trial_overrides

    definition = load_definition("linear_leak")
    betas = set()
    for variant in ("linear_leak", "vanilla", "no_leak"):
        cfg = compose(trial_overrides(definition, [], {"variant": variant}))
        betas.add(build_model(cfg, (1, 8, 8)).readout.beta)
    assert betas == {1.0}
