r"""Coherence between a white-noise input current and the spike train of IF / LIF neurons.

This module implements the frequency-domain analysis of section 2.2 of
Chowdhury, Lee & Roy (2020), "Towards understanding the effect of leak in
spiking neural networks": how much of a Gaussian white-noise input current
is transmitted into the output spike train of a leaky (LIF) and a perfect,
non-leaky (IF) integrate-and-fire neuron, frequency by frequency.

Models
------
Time is measured in units of the membrane time constant tau_m (LIF) or of an
arbitrary reference time (IF, which has no intrinsic time scale); voltages in
the units of v_th and u_rest::

    LIF:  dv/dt = -v + mu + sqrt(2 D) xi(t)
    IF:   dv/dt =      mu + sqrt(2 D) xi(t)

with <xi(t) xi(t')> = delta(t - t').  When v reaches ``v_th`` a spike is
emitted and v is reset to ``u_rest``; there is no refractory period in the
coherence formulas.  The leak pulls towards 0, i.e. mu is the equilibrium
potential under the mean input and ``u_rest`` is the reset value (Lindner's
v_R).  For the paper's normalisation U_rest = 0, V_th = 1 the two coincide.
This is the convention of the paper's supplement (its Eq. 5) and of the
references below, and the one in which the paper's Delta is written.

The input s(t) = sqrt(2 D) xi(t) is the whole noise (the paper's
D = D_st, no background noise), so its power spectrum is S_ss = 2 D.  The
angular frequency ``omega`` is in radians per time unit (per tau_m for the
LIF); the Fourier kernel is exp(+i omega t).

Coherence
---------
The coherence is C(omega) = |S_xs|^2 / (S_xx S_ss).  Because s is Gaussian,
the Furutsu-Novikov theorem gives the input-output cross-spectrum exactly as
S_xs(omega) = 2 D chi(omega), where chi is the linear response (susceptibility)
of the firing rate to a modulation of mu, evaluated at the full noise level
D.  Hence, exactly,

    C(omega) = 2 D |chi(omega)|^2 / S_xx(omega).                        (C)

LIF (Lindner & Schimansky-Geier 2001; Brunel, Chance, Fourcaud & Abbott
2001; Lindner, Schimansky-Geier & Longtin 2002).  With D_nu(z) the parabolic
cylinder function of complex order nu,

    a = (mu - v_th) / sqrt(D),   b = (mu - u_rest) / sqrt(D),
    Delta = (u_rest^2 - v_th^2 + 2 mu (v_th - u_rest)) / (4 D),

    chi(omega)  = r0 i omega / (sqrt(D) (i omega - 1))
                  * [D_{i omega - 1}(a) - e^Delta D_{i omega - 1}(b)]
                  / [D_{i omega}(a)     - e^Delta D_{i omega}(b)],

    S_xx(omega) = r0 [|D_{i omega}(a)|^2 - e^{2 Delta} |D_{i omega}(b)|^2]
                  / |D_{i omega}(a) - e^Delta D_{i omega}(b)|^2,

and inserting both into (C) the factor |D_{i omega}(a) - e^Delta D_{i omega}(b)|^2
cancels:

    C(omega) = 2 r0 omega^2 / (1 + omega^2)
               * |D_{i omega - 1}(a) - e^Delta D_{i omega - 1}(b)|^2
               / (|D_{i omega}(a)|^2 - e^{2 Delta} |D_{i omega}(b)|^2).

This is exactly the paper's printed Eq. 4 (supplement Eq. 11) with
D_st = D: the paper's denominator |D_{i omega}(a)|^2 - e^{2 Delta} |D_{i omega}(b)|^2
is correct (it is the numerator of S_xx, not the denominator of chi), and
omega is the angular frequency in units of 1/tau_m.  The formula is checked
in ``tests/neurons/test_coherence.py`` against Euler-Maruyama simulations and against
the independent IF result below (the LIF tends to the IF as tau_m -> infinity).

The stationary rate (Siegert 1951; Brunel & Hakim 1999) is

    r0 = 1 / (tau_ref + sqrt(pi) * integral_{(mu - v_th)/sqrt(2D)}^{(mu - u_rest)/sqrt(2D)}
                                         exp(x^2) erfc(x) dx),

evaluated with exp(x^2) erfc(x) = erfcx(x).

IF (perfect integrate-and-fire; Lindner, Schimansky-Geier & Longtin 2002;
Lindner's thesis 2002; Fourcaud & Brunel 2002).  With d = v_th - u_rest the
interspike interval is inverse-Gaussian and the spike train is a renewal
process, so with

    s = sqrt(mu^2 - 4 i omega D)          (principal branch),
    r0 = mu / d,
    F(omega) = <exp(i omega T)> = exp(d (mu - s) / (2 D))
             = exp(2 i omega d / (mu + s)),

    S_xx(omega) = r0 (1 - |F|^2) / |1 - F|^2,
    chi(omega)  = 2 r0 / (mu + s) = r0 (mu - s) / (2 i omega D).

chi follows from the Fokker-Planck equation linearised in a modulation of mu
(the reset drops out of the solution); chi(0) = 1/d = d r0 / d mu.  Then (C)
gives C(0) = 1, and for omega -> infinity C ~ 2 r0 / omega, the same
asymptote as the LIF.

Note on the paper's Fig. 2.  On a common physical frequency axis the exact
IF coherence is *not* flat over the whole spectrum: it is ~1 up to angular
frequencies of the order of the firing rate and then decays like 2 r0/omega.
What the leak does at fixed input current (mu and D scale with tau_m, as in
the paper's supplement) is lower the coherence at low and intermediate
frequencies and, for weak noise, make it fall at lower frequencies (for strong
noise the leaky neuron's curve can instead reach higher frequencies than the
IF one); see the ``coherence`` evaluation suite (:mod:`ablations.evaluation.coherence`).  A curve that is flat at 1 over the whole axis is what the
LIF formula gives in the tau_m -> infinity limit when omega is kept in units
of each neuron's own tau_m.

Simulation
----------
``simulate_coherence`` integrates the same stochastic equation with the
Euler-Maruyama method (vectorised over independent trials), represents the
spike train by bins of height 1/dt, and estimates the coherence between the
input noise and the spike train with Welch's method: the cross- and
auto-spectra of ``scipy.signal.csd``/``scipy.signal.welch`` (the estimator
behind ``scipy.signal.coherence``) are averaged over all segments of all
trials before forming |P_xs|^2 / (P_xx P_ss).
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from scipy import integrate, signal, special

__all__ = [
    "if_coherence",
    "if_power_spectrum",
    "if_rate",
    "if_susceptibility",
    "lif_coherence",
    "lif_power_spectrum",
    "lif_rate",
    "lif_susceptibility",
    "simulate_coherence",
]

#: Working precision (decimal digits) of the parabolic-cylinder evaluations.  The
#: low-frequency denominators are differences of nearly equal O(1) numbers.
_MPMATH_DIGITS = 40

#: The LIF formulas are 0/0 at omega = 0; smaller |omega| are evaluated here
#: (the functions are smooth and even in omega, the error is O(omega^2)).
_OMEGA_FLOOR = 1e-6



# --------------------------------------------------------------------------- #
# Parameter checks
# --------------------------------------------------------------------------- #
def _check_neuron(mu: float, D: float, v_th: float, u_rest: float) -> None:
    for name, value in (("mu", mu), ("D", D), ("v_th", v_th), ("u_rest", u_rest)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if D <= 0:
        raise ValueError(f"noise intensity D must be > 0, got {D!r}")
    if v_th <= u_rest:
        raise ValueError(f"threshold v_th must be > reset u_rest, got v_th={v_th!r}, u_rest={u_rest!r}")


def _check_if_drift(mu: float) -> None:
    if mu <= 0:
        raise ValueError(f"the IF neuron needs a positive drift mu > 0 to fire stationarily, got {mu!r}")


def _as_frequencies(omega: Any) -> np.ndarray:
    frequencies = np.asarray(omega, dtype=float)
    if not np.all(np.isfinite(frequencies)) or np.any(frequencies < 0):
        raise ValueError("omega must contain finite, non-negative angular frequencies")
    return frequencies


# --------------------------------------------------------------------------- #
# Leaky integrate-and-fire neuron
# --------------------------------------------------------------------------- #
def lif_rate(mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0, tau_ref: float = 0.0) -> float:
    """Stationary firing rate (spikes per tau_m) of the white-noise driven LIF neuron.

    Siegert formula ``1 / (tau_ref + sqrt(pi) * int exp(x^2) erfc(x) dx)`` from
    ``(mu - v_th)/sqrt(2D)`` to ``(mu - u_rest)/sqrt(2D)``; ``tau_ref`` in units of tau_m.
    """
    _check_neuron(mu, D, v_th, u_rest)
    if not (np.isfinite(tau_ref) and tau_ref >= 0):
        raise ValueError(f"tau_ref must be finite and >= 0, got {tau_ref!r}")
    lower = (mu - v_th) / math.sqrt(2.0 * D)
    upper = (mu - u_rest) / math.sqrt(2.0 * D)
    if lower < -26.0:  # exp(x^2) erfc(x) overflows; the rate is below 1e-290
        return 0.0
    mean_first_passage, _ = integrate.quad(special.erfcx, lower, upper, limit=200)
    return 1.0 / (tau_ref + math.sqrt(math.pi) * mean_first_passage)


def _floored(omega: float) -> float:
    return max(float(omega), _OMEGA_FLOOR)


def _lif_parabolic_terms(omega: float, mu: float, D: float, v_th: float, u_rest: float):
    """Parabolic-cylinder combinations at one frequency omega > 0 (mpmath numbers).

    Returns ``(response, escape, power)``::

        response = D_{iw-1}(a) - e^Delta D_{iw-1}(b)
        escape   = D_{iw}(a)   - e^Delta D_{iw}(b)
        power    = |D_{iw}(a)|^2 - e^{2 Delta} |D_{iw}(b)|^2
    """
    mu, v_th, u_rest = mpmath.mpf(mu), mpmath.mpf(v_th), mpmath.mpf(u_rest)
    a = (mu - v_th) / mpmath.sqrt(D)
    b = (mu - u_rest) / mpmath.sqrt(D)
    exp_delta = mpmath.exp((u_rest**2 - v_th**2 + 2 * mu * (v_th - u_rest)) / (4 * D))
    order = mpmath.mpc(0, omega)
    response = mpmath.pcfd(order - 1, a) - exp_delta * mpmath.pcfd(order - 1, b)
    d_a, d_b = mpmath.pcfd(order, a), mpmath.pcfd(order, b)
    escape = d_a - exp_delta * d_b
    power = abs(d_a) ** 2 - exp_delta**2 * abs(d_b) ** 2
    return response, escape, power


def lif_susceptibility(omega: Any, mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> np.ndarray:
    """Linear response chi(omega) of the LIF rate to a modulation of mu (complex, per tau_m).

    ``omega`` in rad per tau_m.  chi(0) = d r0 / d mu.
    """
    _check_neuron(mu, D, v_th, u_rest)
    frequencies = _as_frequencies(omega)
    r0 = lif_rate(mu, D, v_th, u_rest)
    values = np.empty(frequencies.shape, dtype=complex)
    with mpmath.workdps(_MPMATH_DIGITS):
        for index, w in np.ndenumerate(frequencies):
            w = _floored(w)
            response, escape, _ = _lif_parabolic_terms(w, mu, D, v_th, u_rest)
            iw = mpmath.mpc(0, w)
            values[index] = complex(r0 * iw / (mpmath.sqrt(D) * (iw - 1)) * response / escape)
    return values


def lif_power_spectrum(omega: Any, mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> np.ndarray:
    """Power spectrum S_xx(omega) of the LIF spike train (tends to r0 for omega -> infinity)."""
    _check_neuron(mu, D, v_th, u_rest)
    frequencies = _as_frequencies(omega)
    r0 = lif_rate(mu, D, v_th, u_rest)
    values = np.empty(frequencies.shape, dtype=float)
    with mpmath.workdps(_MPMATH_DIGITS):
        for index, w in np.ndenumerate(frequencies):
            _, escape, power = _lif_parabolic_terms(_floored(w), mu, D, v_th, u_rest)
            values[index] = float(r0 * power / abs(escape) ** 2)
    return values


def lif_coherence(omega: Any, mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> np.ndarray:
    """Coherence between the white-noise input and the LIF spike train.

    ``omega`` in rad per tau_m (array or scalar, >= 0); returns an array of the
    same shape with values in [0, 1].  See the module docstring for the formula.
    """
    _check_neuron(mu, D, v_th, u_rest)
    frequencies = _as_frequencies(omega)
    r0 = lif_rate(mu, D, v_th, u_rest)
    values = np.zeros(frequencies.shape, dtype=float)
    if r0 == 0.0:
        return values
    with mpmath.workdps(_MPMATH_DIGITS):
        for index, w in np.ndenumerate(frequencies):
            w = _floored(w)
            response, _, power = _lif_parabolic_terms(w, mu, D, v_th, u_rest)
            values[index] = float(2 * r0 * w**2 / (1 + w**2) * abs(response) ** 2 / power)
    return values


# --------------------------------------------------------------------------- #
# Perfect (non-leaky) integrate-and-fire neuron
# --------------------------------------------------------------------------- #
def if_rate(mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> float:
    """Stationary firing rate mu / (v_th - u_rest) of the white-noise driven IF neuron."""
    _check_neuron(mu, D, v_th, u_rest)
    _check_if_drift(mu)
    return mu / (v_th - u_rest)


def _if_root(frequencies: np.ndarray, mu: float, D: float) -> np.ndarray:
    """mu + sqrt(mu^2 - 4 i omega D), the combination all IF formulas are built from."""
    return mu + np.sqrt(mu**2 - 4j * frequencies * D)


def if_susceptibility(omega: Any, mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> np.ndarray:
    """Linear response chi(omega) = 2 r0 / (mu + sqrt(mu^2 - 4 i omega D)) of the IF rate."""
    r0 = if_rate(mu, D, v_th, u_rest)
    return 2.0 * r0 / _if_root(_as_frequencies(omega), mu, D)


def if_power_spectrum(omega: Any, mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> np.ndarray:
    """Renewal power spectrum r0 (1 - |F|^2) / |1 - F|^2 of the IF spike train.

    At omega = 0 the limit r0 * CV^2 = 2 D / (v_th - u_rest)^2 is returned.
    """
    r0 = if_rate(mu, D, v_th, u_rest)
    frequencies = _as_frequencies(omega)
    log_f = 2j * frequencies * (v_th - u_rest) / _if_root(frequencies, mu, D)  # log F(omega)
    with np.errstate(invalid="ignore", divide="ignore"):
        spectrum = r0 * -np.expm1(2.0 * log_f.real) / np.abs(np.expm1(log_f)) ** 2
    return np.where(frequencies == 0, 2.0 * D / (v_th - u_rest) ** 2, spectrum)


def if_coherence(omega: Any, mu: float, D: float, v_th: float = 1.0, u_rest: float = 0.0) -> np.ndarray:
    """Coherence 2 D |chi|^2 / S_xx between the white-noise input and the IF spike train.

    ``omega`` in rad per the time unit in which ``mu`` and ``D`` are given.
    """
    chi = if_susceptibility(omega, mu, D, v_th, u_rest)
    return 2.0 * D * np.abs(chi) ** 2 / if_power_spectrum(omega, mu, D, v_th, u_rest)


# --------------------------------------------------------------------------- #
# Simulation
# --------------------------------------------------------------------------- #
_LEAK = {"lif": 1.0, "if": 0.0}


def _simulate_spike_trains(
    leak: float, mu: float, D: float, v_th: float, u_rest: float, dt: float, n_steps: int, n_warmup: int,
    n_trials: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Euler-Maruyama integration; returns standard-normal input samples and spike indicators, (step, trial)."""
    noise_step = math.sqrt(2.0 * D * dt)
    decay = 1.0 - leak * dt
    v = np.full(n_trials, float(u_rest))
    for _ in range(n_warmup):
        v *= decay
        v += mu * dt + noise_step * rng.standard_normal(n_trials)
        np.copyto(v, u_rest, where=v >= v_th)
    inputs = rng.standard_normal((n_steps, n_trials), dtype=np.float32)
    spikes = np.zeros((n_steps, n_trials), dtype=bool)
    drift_step = mu * dt
    for step in range(n_steps):
        v *= decay
        v += drift_step + noise_step * inputs[step]
        fired = spikes[step]
        np.greater_equal(v, v_th, out=fired)
        np.copyto(v, u_rest, where=fired)
    return inputs, spikes


def _welch_coherence(inputs: np.ndarray, spikes: np.ndarray, dt: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch coherence with cross- and auto-spectra pooled over trials (columns)."""
    sampling = 1.0 / dt
    p_ss = p_xx = p_xs = 0.0
    block = 16
    for start in range(0, inputs.shape[1], block):
        s = inputs[:, start:start + block].astype(float)
        x = spikes[:, start:start + block].astype(float) / dt
        freqs, p_xs_block = signal.csd(s, x, fs=sampling, nperseg=nperseg, axis=0)
        _, p_ss_block = signal.welch(s, fs=sampling, nperseg=nperseg, axis=0)
        _, p_xx_block = signal.welch(x, fs=sampling, nperseg=nperseg, axis=0)
        p_xs = p_xs + p_xs_block.sum(axis=1)
        p_ss = p_ss + p_ss_block.sum(axis=1)
        p_xx = p_xx + p_xx_block.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        coherence = np.abs(p_xs) ** 2 / (p_ss * p_xx)
    return 2.0 * np.pi * freqs, coherence


def simulate_coherence(
    kind: str,
    mu: float,
    D: float,
    v_th: float = 1.0,
    u_rest: float = 0.0,
    dt: float = 1e-3,
    duration: float = 100.0,
    n_trials: int = 64,
    seed: int = 0,
    segment_duration: float = 10.0,
    warmup: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Estimate the input/spike-train coherence of a simulated ``"lif"`` or ``"if"`` neuron.

    All times (``dt``, ``duration`` per trial, ``segment_duration`` of the Welch
    segments, ``warmup`` discarded before recording) are in the model's time
    unit (tau_m for the LIF).  Returns ``(omega, coherence, rate)``: angular
    frequencies in rad per time unit (0 < omega <= pi/dt), the Welch coherence
    estimate at those frequencies, and the measured firing rate (spikes per
    time unit).
    """
    if kind not in _LEAK:
        raise ValueError(f"kind must be one of {sorted(_LEAK)}, got {kind!r}")
    _check_neuron(mu, D, v_th, u_rest)
    if kind == "if":
        _check_if_drift(mu)
    if not (dt > 0 and duration > 0 and segment_duration > 0 and warmup >= 0):
        raise ValueError("dt, duration and segment_duration must be > 0 and warmup >= 0")
    if int(n_trials) < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials!r}")
    n_steps = int(round(duration / dt))
    nperseg = int(round(segment_duration / dt))
    if nperseg < 8 or nperseg > n_steps:
        raise ValueError("segment_duration must span at least 8 steps and at most the trial duration")
    rng = np.random.default_rng(seed)
    inputs, spikes = _simulate_spike_trains(
        _LEAK[kind], mu, D, v_th, u_rest, dt, n_steps, int(round(warmup / dt)), int(n_trials), rng
    )
    rate = float(spikes.sum()) / (int(n_trials) * n_steps * dt)
    omega, coherence = _welch_coherence(inputs, spikes, dt, nperseg)
    return omega[1:], coherence[1:], rate
