"""The ``coherence`` evaluation suite: seed 003 section 2.2 (Fig. 2) as tidy rows.

The theory (rates, susceptibilities, power spectra and coherence of white-noise-driven IF and LIF
neurons, and their simulation) is :mod:`ablations.coherence`; this module picks the suite's neurons
and units and reads every parameter from ``eval.coherence`` (documented in
``conf/eval/default.yaml``, the only place its defaults live). The model and data are not used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..neurons.coherence_theory import if_coherence, if_rate, lif_coherence, lif_rate, simulate_coherence
from .common import params, tidy

__all__ = ["SUITE_TABLE", "SUITE_TIME_UNIT_MS", "run", "coherence"]

#: Time unit of the suite's common frequency axis (reference time tau_0), in ms.
SUITE_TIME_UNIT_MS = 10.0

#: Neurons of the suite: membrane time constant in units of tau_0 (inf: no leak).
#: All three receive the same input current (drift ``mu`` and noise ``D`` per
#: tau_0); for a LIF the dimensionless parameters are mu * tau_m/tau_0 and
#: D * tau_m/tau_0 (the paper's supplement, Eqs. e-f: mu, D proportional to tau_m).
SUITE_TABLE: dict[str, float] = {
    "if": math.inf,
    "lif_low_leak": 2.0,
    "lif_high_leak": 1.0,
}


_COLUMNS = ["suite", "neuron", "tau", "mu", "D", "omega", "frequency_hz", "coherence", "source", "rate"]


def _neuron_parameters(tau_units: float, mu: float, D: float) -> tuple[float, float]:
    """Dimensionless (mu, D) of a neuron with tau_m = tau_units * tau_0 (the IF keeps tau_0 units)."""
    if math.isinf(tau_units):
        return mu, D
    return mu * tau_units, D * tau_units


def _rows(neuron: str, tau_units: float, mu: float, D: float, omega: np.ndarray, coherence: np.ndarray,
          source: str, rate_per_tau0: float) -> pd.DataFrame:
    tau0_seconds = SUITE_TIME_UNIT_MS / 1000.0
    return pd.DataFrame(
        {
            "suite": "coherence",
            "neuron": neuron,
            "tau": tau_units * SUITE_TIME_UNIT_MS,
            "mu": mu,
            "D": D,
            "omega": omega,
            "frequency_hz": omega / (2.0 * np.pi * tau0_seconds),
            "coherence": coherence,
            "source": source,
            "rate": rate_per_tau0 / tau0_seconds,
        }
    )


def run(model: Any = None, data: Any = None, cfg: Any = None) -> pd.DataFrame:
    """Coherence suite: analytic (and optionally simulated) curves for IF, low- and high-leak LIF.

    ``model`` and ``data`` are accepted for the common suite interface and are
    not used.  ``cfg`` (dict or OmegaConf node, optional) may set ``mu`` and
    ``D`` (input drift and noise intensity per tau_0 = ``SUITE_TIME_UNIT_MS``),
    ``n_omega``, ``simulate``, ``duration`` (per trial, in tau_0) and ``seed``.

    Parameter table (defaults; tau_0 = 10 ms, same input current for all)::

        neuron         tau_m     mu (per tau_m)   D (per tau_m)   rate
        if             inf       1.0 (per tau_0)  0.01 (per tau_0) 100 Hz
        lif_low_leak   20 ms     2.0              0.02            ~73 Hz
        lif_high_leak  10 ms     1.0              0.01            ~34 Hz

    omega: ``n_omega`` (default 40) log-spaced points in [0.05, 10] rad/tau_0
    (0.8 to 160 Hz).  Simulation (``simulate``, default true): 64 trials of
    ``duration`` (default 200) tau_0 each, dt = 1e-3 of the neuron's own time
    unit, Welch segments of 50 tau_0; simulated rows are kept in the same band.

    Returned columns: ``suite`` ("coherence"), ``neuron``, ``tau`` (tau_m in
    ms, inf for the IF), ``mu`` and ``D`` (the dimensionless parameters passed
    to the formulas, per tau_m; per tau_0 for the IF), ``omega`` (rad per
    tau_0, the common axis), ``frequency_hz`` (omega / (2 pi tau_0)),
    ``coherence``, ``source`` ("analytic" or "simulated") and ``rate`` (Hz;
    theoretical for analytic rows, measured for simulated rows).
    """
    del model, data
    given = {} if cfg is None else dict(cfg.items() if hasattr(cfg, "items") else cfg)
    p = params({"eval": {"coherence": given}}, "coherence")  # over conf/eval/default.yaml, the only defaults
    mu, D, n_omega, simulate = float(p.mu), float(p.D), int(p.n_omega), bool(p.simulate)
    duration, seed, omega_min, omega_max = float(p.duration), int(p.seed), float(p.omega_min), float(p.omega_max)
    if n_omega < 2:
        raise ValueError(f"n_omega must be >= 2, got {n_omega!r}")
    omega = np.geomspace(omega_min, omega_max, n_omega)

    frames = []
    for offset, (neuron, tau_units) in enumerate(SUITE_TABLE.items()):
        neuron_mu, neuron_D = _neuron_parameters(tau_units, mu, D)
        leaky = not math.isinf(tau_units)
        scale = tau_units if leaky else 1.0  # neuron time unit in tau_0
        if leaky:
            coherence = lif_coherence(omega * scale, neuron_mu, neuron_D)
            rate = lif_rate(neuron_mu, neuron_D) / scale
        else:
            coherence = if_coherence(omega, neuron_mu, neuron_D)
            rate = if_rate(neuron_mu, neuron_D)
        frames.append(_rows(neuron, tau_units, neuron_mu, neuron_D, omega, coherence, "analytic", rate))
        if simulate:
            sim_omega, sim_coherence, sim_rate = simulate_coherence(
                "lif" if leaky else "if", neuron_mu, neuron_D,
                dt=float(p.dt), duration=duration / scale,
                n_trials=int(p.n_trials), seed=seed + offset,
                segment_duration=min(float(p.segment), duration) / scale,
            )
            sim_omega = sim_omega / scale
            keep = (sim_omega >= omega_min) & (sim_omega <= omega_max)
            frames.append(_rows(neuron, tau_units, neuron_mu, neuron_D, sim_omega[keep], sim_coherence[keep],
                                "simulated", sim_rate / scale))
    return pd.concat(frames, ignore_index=True)[_COLUMNS]


def coherence(model: Any, data: Any, cfg: Any) -> pd.DataFrame:
    """The ``coherence`` suite as tidy rows.

    ``metric`` is ``coherence`` (per ``neuron``, ``source`` analytic/simulated, ``omega`` in rad
    per tau_0 and ``frequency_hz``) or ``firing_rate_hz`` (per ``neuron`` and ``source``). The
    neuron's membrane time constant is ``tau_ms`` (inf for the IF neuron); ``mu`` and ``D`` are
    the dimensionless parameters given to the formulas. The model and data are not used.
    """
    wide = run(None, None, params(cfg, "coherence")).rename(columns={"tau": "tau_ms"})
    conditions = [c for c in wide.columns if c not in ("suite", "coherence", "rate")]
    curves = wide[conditions].assign(metric="coherence", value=wide["coherence"])
    keys = [c for c in conditions if c not in ("omega", "frequency_hz")]
    rates = wide.drop_duplicates(keys)[keys].assign(metric="firing_rate_hz", value=wide.drop_duplicates(keys)["rate"])
    return tidy(pd.concat([curves, rates], ignore_index=True), "coherence")
