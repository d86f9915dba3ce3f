"""The papers' claims as code: one sentence each, beside the check that judges it and the regime
check that says whether the paper's question can be asked of these runs.

A :class:`Claim` names its paper, where the paper makes it (``source``), the sentence, the
paper's own numbers where it gives them (``published``), the datasets it applies to (in order of
preference; the check runs once on each one present in the results), a check (a function of the
rows of one dataset returning a :class:`~ablations.reproduce.stats.Test`: the result on what was
run) and a registered regime check (:mod:`ablations.reproduce.regimes`: a positive control from
the same runs, its threshold in :mod:`ablations.reproduce.preregistered`). A check that finds no
rows raises :class:`NotMeasured` with the suite or command that would measure it. A claim made of
other claims (``parts``: the abstracts' summary sentences, seed 001's suggestions) takes the
verdicts of its parts (:func:`~ablations.reproduce.stats.combine`).

:func:`evaluate` judges every claim of a paper over a results table and returns one row per claim
and dataset (:data:`COLUMNS`). The **verdict on the paper** is given only where the claim's regime
is reached: holds / does not hold / inconclusive after Holm's correction over both directions of
every reached claim; where the regime is not reached, "regime not reached" (scale full) or
"stand-in only" (scales quick and sample), with the measured value and what would reach it. The
stand-in result (the check alone) is reported in ``result`` either way. Each row carries the
rules' version, the claim's rule fingerprint and a flag where the rule was set after the runs it
judges had finished.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import measures as m
from . import preregistered as pre
from . import regimes as rg
from . import stats
from .stats import FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURED, NOT_REACHED, STANDIN, Test

__all__ = ["COLUMNS", "PAPERS", "STANDIN_SCALES", "TAU_M_READING", "Claim", "NotMeasured", "claims_of", "evaluate", "family",
           "family_size", "rule_hash"]

#: The datasets of each paper's claims, in order of preference (the papers' own, then the embedded stand-ins).
IMAGES = ("cifar10", "svhn", "mnist", "digits")
EVENTS = ("nmnist", "dvs_gesture", "digits_events")
STATIC = ("mnist", "cifar10", "digits")
XOR = ("delayed_xor_dhsnn", "delayed_xor")  # seed 001's regime (experiment=roles_delayed_xor), the short task
SPEECH = ("shd", "ssc")
ALL_ROLES = ("delayed_xor_dhsnn", "delayed_xor", "shd", "ssc", "nmnist", "dvs_gesture", "digits_events", "mnist", "cifar10", "digits")


class NotMeasured(Exception):
    """The results lack what a check compares; the message says what would measure it."""


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    source: str
    sentence: str
    check: Callable[[pd.DataFrame], Test] | None = None
    datasets: tuple[str, ...] = ()
    published: str = ""
    parts: tuple[str, ...] = ()
    missing: str = ""  # why it cannot be measured at all yet, and the command that would measure it
    regime: rg.Regime | None = None  # the registered regime check (every claim with a check has one)

    def __post_init__(self) -> None:
        if (self.check is None) == (not self.parts) and not self.missing:
            raise ValueError(f"claim {self.id}: give a check, or parts, or a reason it is not measured")


# --------------------------------------------------------------------------- helpers
def _need(values, what: str, how: str):
    """``values`` (a list, or a Series by seed as :func:`measures.seed_values` gives), or NotMeasured."""
    if len(values) == 0:
        raise NotMeasured(f"no {what}; {how}")
    return values if isinstance(values, pd.Series) else list(values)


def _variant(rows: pd.DataFrame, series: pd.Series, variant: str, how: str, **where) -> list[float]:
    runs = m.runs_of(rows, variant, **where)
    if runs.empty:
        raise NotMeasured(f"no finished {variant} runs" + (f" with {where}" if where else "") + f"; {how}")
    return _need(m.seed_values(series, runs), f"values for {variant}", how)


def _joined(tests: Sequence[Test], labels: Sequence[str] = ()) -> Test:
    """Several comparisons judged as one claim (every part must hold)."""
    labels = list(labels) or [""] * len(tests)
    evidence = " | ".join(f"{label}: {t.evidence}" if label else t.evidence for t, label in zip(tests, labels))
    # every part must hold: the intersection-union test's p is the largest part's
    # ... and it fails when any part fails: the union's p is the smallest part's, Bonferroni over the parts
    ps, fails = [t.p for t in tests], [t.p_fails for t in tests]
    p = max(ps) if ps and all(math.isfinite(v) for v in ps) else math.nan
    finite = [v for v in fails if math.isfinite(v)]
    p_fails = min(1.0, len(tests) * min(finite)) if finite else math.nan
    methods = sorted({t.method for t in tests if t.method})
    return Test(stats.combine([t.verdict for t in tests]), evidence, p=p, method=", ".join(methods),
                n=min((t.n for t in tests if t.n), default=0), p_fails=p_fails)


def _leak_taus(rows: pd.DataFrame) -> tuple[float, float | None, float]:
    """(most leak, middle, IF) time constants of the leak ablation runs (exponential / no leak,
    hard reset, no recurrence)."""
    runs = m.finished_runs(rows)
    runs = runs[runs["variant"].isin(["vanilla", "no_leak"])] if not runs.empty else runs
    taus = sorted({t for t in (m.tau_of(r) for _, r in runs.iterrows()) if t > 0 and not math.isnan(t)})
    finite = [t for t in taus if math.isfinite(t)]
    if not finite or math.inf not in taus:
        raise NotMeasured("needs leak-ablation runs at a finite tau and at tau=inf (IF); "
                          "python -m ablations.reproduce paper=leak scale=quick")
    middle = finite[len(finite) // 2] if len(finite) > 1 else None
    return finite[0], middle, math.inf


def _by_tau(rows: pd.DataFrame, series: pd.Series, tau: float, how: str) -> list[float]:
    runs = m.finished_runs(rows)
    runs = runs[runs["variant"].isin(["vanilla", "no_leak"])]
    runs = runs[[(m.tau_of(r) == tau) or (math.isfinite(tau) and math.isclose(m.tau_of(r), tau))
                 for _, r in runs.iterrows()]]
    return _need(m.seed_values(series, runs), f"values at tau={tau:g}", how)


def _tau_name(tau: float) -> str:
    return "IF (tau=inf)" if math.isinf(tau) else f"tau={tau:g}"


NOISE_HOW = "eval suite `noise` (python -m ablations.reproduce paper=leak)"


# --------------------------------------------------------------------------- seed 003: leak
def _leak_baseline(rows: pd.DataFrame) -> Test:
    most, middle, inf = _leak_taus(rows)
    accuracy = m.accuracy(rows)
    tests, labels = [], []
    for tau in [t for t in (most, middle) if t is not None]:
        tests.append(stats.equivalence(_by_tau(rows, accuracy, tau, "finished runs"),
                                       _by_tau(rows, accuracy, inf, "finished runs"), margin=1.5,
                                       names=(_tau_name(tau), _tau_name(inf)), unit=" %"))
        labels.append(_tau_name(tau))
    return _joined(tests, labels)





def _leak_noise(noise: str, scenario: int, pair: str = "most_vs_if") -> Callable[[pd.DataFrame], Test]:
    def check(rows: pd.DataFrame) -> Test:
        most, middle, inf = _leak_taus(rows)
        drop = m.noise_drop(rows, noise, scenario, pre.READ_LEVELS)
        mean_drop = m.noise_drop(rows, noise, scenario)
        if pair == "most_vs_if":
            low, high = most, inf
        elif pair == "middle_vs_if":
            if middle is None:
                raise NotMeasured("needs a second finite tau (seed 003: 30 and 100)")
            low, high = middle, inf
        else:  # middle loses more than most
            if middle is None:
                raise NotMeasured("needs a second finite tau (seed 003: 30 and 100)")
            low, high = most, middle
        test = stats.difference(_by_tau(rows, drop, high, NOISE_HOW), _by_tau(rows, drop, low, NOISE_HOW),
                                "greater", margin=1.0, unit=" pp",
                                names=(f"accuracy loss at severities 5-8 {_tau_name(high)}", _tau_name(low)))
        secondary = (f"; secondary, mean loss over severities 1-8: {_tau_name(high)} "
                     f"{stats.mean_sd(_by_tau(rows, mean_drop, high, NOISE_HOW))} pp vs {_tau_name(low)} "
                     f"{stats.mean_sd(_by_tau(rows, mean_drop, low, NOISE_HOW))} pp")
        return dataclasses.replace(test, evidence=test.evidence + secondary)
    check.__doc__ = (f"accuracy loss under {noise} noise, scenario {scenario}, mean over severities 5-8 "
                     "(the levels seed 003 reads; 1-8 as a secondary figure)")
    return check


def _leak_measure(series_of: Callable[[pd.DataFrame], pd.Series], direction: str, margin: float | str, what: str,
                  how: str, unit: str = "", scale: float = 1.0, middle: bool = False) -> Callable[[pd.DataFrame], Test]:
    """Most leak (and the middle tau, when ``middle``) against IF: ``direction`` greater/less."""
    def check(rows: pd.DataFrame) -> Test:
        most, mid, inf = _leak_taus(rows)
        series = series_of(rows) * scale
        reference = _by_tau(rows, series, inf, how)
        tests, labels = [], []
        for tau in [most] + ([mid] if middle and mid is not None else []):
            ours = _by_tau(rows, series, tau, how)
            gap = margin if isinstance(margin, float) else float(margin.rstrip("%")) / 100 * abs(np.mean(reference))
            tests.append(stats.difference(ours, reference, direction, gap, names=(f"{what} {_tau_name(tau)}",
                                                                                  _tau_name(inf)), unit=unit))
            labels.append(_tau_name(tau))
        return _joined(tests, labels if len(tests) > 1 else ())
    return check


def _noisy_vs_clean_frequency(rows: pd.DataFrame) -> Test:
    how = "eval suite `spectral`"
    clean = m.critical_frequency(rows, "clean")
    noisy = m.critical_frequency(rows, "noisy", "gaussian", 1, 5)
    if noisy.empty:
        noisy = m.critical_frequency(rows, "noisy", "gaussian", 1)
    tests, labels = [], []
    for tau in [t for t in _leak_taus(rows) if t is not None]:
        tests.append(stats.difference(_by_tau(rows, noisy, tau, how), _by_tau(rows, clean, tau, how), "greater", 0.0,
                                      names=("noisy", "clean")))
        labels.append(_tau_name(tau))
    return _joined(tests, labels)


def _input_spectrum(rows: pd.DataFrame) -> Test:
    how = "eval suite `spectral`"
    clean = _need(list(m.input_high_share(rows, "clean").dropna()), "clean input spectra", how)
    noisy = _need(list(m.input_high_share(rows, "noisy", 1).dropna()), "noisy input spectra", how)
    return stats.difference(noisy, clean, "greater", 0.0, names=("share of input power above Nyquist/2, noisy",
                                                                 "clean"))


def _coherence(rows: pd.DataFrame) -> Test:
    coherence = m.eval_rows(rows, "coherence", "coherence")
    if coherence.empty:
        raise NotMeasured("no coherence rows; eval suite `coherence`")
    if "source" in coherence.columns:
        coherence = coherence[coherence["source"] == "analytic"]
    first = coherence[coherence["run_dir"] == coherence["run_dir"].iloc[0]]
    omega = pd.to_numeric(first["omega"], errors="coerce")
    top, bottom = omega.max(), omega.min()
    value = {(n, w): float(v) for n, w, v in zip(first["neuron"], omega, first["value"])}
    neurons = sorted(set(first["neuron"]))
    leaky = [n for n in neurons if n != "if"]
    if "if" not in neurons or not leaky:
        raise NotMeasured("coherence rows lack the IF or an LIF neuron")
    parts = []
    verdicts = []
    for name in leaky:
        falls = value[(name, top)] < 0.5 * value[(name, bottom)]
        below_if = value[(name, top)] < value[("if", top)]
        verdicts.append(HOLDS if falls and below_if else FAILS)
        parts.append(f"{name}: {value[(name, bottom)]:.3g} at omega {bottom:.3g} -> {value[(name, top)]:.3g} at "
                     f"{top:.3g} rad/tau_0")
    parts.append(f"if: {value[('if', bottom)]:.3g} -> {value[('if', top)]:.3g}")
    return Test(stats.combine(verdicts), "analytic coherence (Eq. 4), LIF must fall below half its low-frequency "
                "value and below the IF at the highest frequency: " + "; ".join(parts))


def _generalization_ratio(rows: pd.DataFrame) -> pd.Series:
    test, train = m.last_epochs(rows, "test_sse"), m.last_epochs(rows, "train_sse")
    return (test / train).dropna()


LEAK: tuple[Claim, ...] = (
    Claim("leak.baseline_accuracy_similar", "leak", "section 4.2, Table 1 row 1",
          "Clean test accuracy is almost the same for every leak (tau = 30, 100, inf).", _leak_baseline, IMAGES,
          "CIFAR-10 89.65 / 90.19 / 90.30 %, SVHN 96.12 / 96.32 / 96.32 % (within 0.7 pp)"),
    Claim("leak.noise_gaussian_scenario1", "leak", "abstract; section 4.2, Fig. 3a-b",
          "More leak (smaller tau) loses less accuracy under Gaussian noise, scenario 1 (noise on the pixels).",
          _leak_noise("gaussian", 1), IMAGES, "Fig. 3: IF degrades severely at high severity, LIF keeps its baseline"),
    Claim("leak.noise_impulse_scenario1", "leak", "section 4.2, Fig. 3c-d",
          "More leak loses less accuracy under impulse noise, scenario 1.", _leak_noise("impulse", 1), IMAGES,
          "Fig. 3 (curves, no numbers)"),
    Claim("leak.noise_gaussian_scenario2", "leak", "section 4.2, Fig. 3e-f",
          "More leak loses less accuracy under Gaussian noise, scenario 2 (noise on the spike channel).",
          _leak_noise("gaussian", 2), IMAGES, "Fig. 3 (curves, no numbers)"),
    Claim("leak.noise_impulse_scenario2", "leak", "section 4.2, Fig. 3g-h",
          "More leak loses less accuracy under impulse noise, scenario 2.", _leak_noise("impulse", 2), IMAGES,
          "Fig. 3 (curves, no numbers)"),
    Claim("leak.noise_middle_tau_beats_if", "leak", "section 4.2",
          "The LIF with the weaker leak (tau = 100) is still more robust than the IF (Gaussian, scenario 1).",
          _leak_noise("gaussian", 1, "middle_vs_if"), IMAGES, "Fig. 3 (curves)"),
    Claim("leak.noise_tau100_degrades_more_than_tau30", "leak", "section 4.2",
          "tau = 100 shows a larger accuracy degradation than tau = 30 (Gaussian, scenario 1).",
          _leak_noise("gaussian", 1, "most_vs_middle"), IMAGES, "Fig. 3 (curves)"),
    Claim("leak.diverges_below_tau30", "leak", "section 4.2",
          "Training diverges when tau is below 30 (T = 100).", missing=(
              "no grid point trains tau < 30 at T = 100; measure with "
              "python -m ablations.run experiment=leak_cifar10 neuron.tau=10 (status 'diverged' or not)"),
          published="observed for tau < 30, no numbers"),
    Claim("leak.input_spectrum_wider_under_noise", "leak", "section 4.3, Fig. 4",
          "Noisy inputs spread the input spike-train spectrum over a wider band (more high-frequency power).",
          _input_spectrum, IMAGES, "Fig. 4 (histograms, no numbers)"),
    Claim("leak.critical_frequency_lower_with_leak", "leak", "section 4.3, Fig. 5a-c",
          "More leak lowers the critical frequency of the target output neuron (clean inputs).",
          _leak_measure(lambda r: m.critical_frequency(r, "clean"), "less", 0.0, "critical frequency",
                        "eval suite `spectral`", middle=True), IMAGES,
          "0.255 (tau 30) < 0.317 (tau 100) < 0.345 (inf), fractions of Nyquist"),
    Claim("leak.critical_frequency_higher_under_noise", "leak", "section 4.3",
          "Noisy inputs (Gaussian, severity 5) raise the critical frequency at every tau.",
          _noisy_vs_clean_frequency, IMAGES, "0.298 / 0.33 / 0.35 noisy vs 0.255 / 0.317 / 0.345 clean"),
    Claim("leak.test_sse_lower_with_leak", "leak", "section 4.4, Table 1 row 2",
          "More leak reaches a lower test SSE (mean over the last 14 % of epochs).",
          _leak_measure(lambda r: m.last_epochs(r, "test_sse"), "less", 0.0, "test SSE", "training records"),
          IMAGES, "CIFAR-10 2.93 (tau 30) vs 3.83 (inf); SVHN 0.72 vs 0.82"),
    Claim("leak.train_sse_lower_with_leak", "leak", "section 4.4, Table 1 row 3",
          "More leak reaches a lower training SSE.",
          _leak_measure(lambda r: m.last_epochs(r, "train_sse"), "less", 0.0, "train SSE", "training records"),
          IMAGES, "CIFAR-10 1.88 vs 2.20; SVHN 1.26 vs 1.60"),
    Claim("leak.generalises_better", "leak", "abstract; section 4.4, Fig. 5d-e",
          "At the same training SSE, more leak gives a lower test SSE (test/train SSE ratio).",
          _leak_measure(_generalization_ratio, "less", 0.0, "test/train SSE", "training records"), IMAGES,
          "Table 1: ratio 1.56 (tau 30) vs 1.74 (inf) on CIFAR-10"),
    Claim("leak.spikes_higher_with_leak", "leak", "abstract; section 4.5, Table 1 row 4",
          "More leak raises the spike rate after training (leak decreases sparsity).",
          _leak_measure(lambda r: m.activity(r, "spike_rate"), "greater", "5%", "spikes", "eval suite `activity`",
                        unit=" %", scale=100.0), IMAGES, "CIFAR-10 9.45 % (tau 30) vs 4.94 % (inf); SVHN 14.07 vs 11.85"),
    Claim("leak.synaptic_ops_higher_with_leak", "leak", "section 4.5, Table 1 row 5",
          "More leak raises the synaptic operations per sample.",
          _leak_measure(lambda r: m.activity(r, "synaptic_ops"), "greater", "5%", "synaptic ops",
                        "eval suite `activity`"), IMAGES, "CIFAR-10 1.59e9 vs 7.18e8; SVHN 3.99e9 vs 3.79e9"),
    Claim("leak.enwsi_higher_with_leak", "leak", "section 4.5, Fig. 6",
          "More leak raises the layer-wise norm of the weighted input (ENWSI).",
          _leak_measure(m.enwsi, "greater", 0.0, "ENWSI", "eval suite `activity`"), IMAGES,
          "Fig. 6: tau 30 highest in every layer, IF lowest"),
    Claim("leak.coherence_low_pass", "leak", "abstract; section 2.2, Fig. 2",
          "The LIF neuron filters out high input frequencies that the IF neuron transmits (coherence).",
          _coherence, IMAGES, "Fig. 2 (curves)"),
    Claim("leak.abstract_robustness", "leak", "abstract",
          "Leaky neurons give improved robustness and better generalisation than no leak.",
          parts=("leak.noise_gaussian_scenario1", "leak.noise_impulse_scenario1", "leak.noise_gaussian_scenario2",
                 "leak.noise_impulse_scenario2", "leak.generalises_better")),
    Claim("leak.abstract_sparsity", "leak", "abstract",
          "Leak decreases the sparsity of computation.",
          parts=("leak.spikes_higher_with_leak", "leak.synaptic_ops_higher_with_leak")),
    Claim("leak.abstract_frequency", "leak", "abstract; section 4.3",
          "Leak eliminates high-frequency components from the input.",
          parts=("leak.coherence_low_pass", "leak.critical_frequency_lower_with_leak")),
)


def _with_regimes(claims: tuple[Claim, ...], regimes: dict[str, rg.Regime]) -> tuple[Claim, ...]:
    """The claims with their registered regime checks (every claim with a check must have one)."""
    out = []
    for claim in claims:
        if claim.check is not None and claim.id not in regimes:
            raise ValueError(f"claim {claim.id} has a check but no registered regime check")
        out.append(dataclasses.replace(claim, regime=regimes.get(claim.id)))
    return tuple(out)


_LEAK_TRAINED = rg.learned(by="tau")
#: Seed 003's regime checks, one per claim (thresholds: ablations/reproduce/preregistered.py).
LEAK = _with_regimes(LEAK, {
    "leak.baseline_accuracy_similar": _LEAK_TRAINED,
    "leak.noise_gaussian_scenario1": rg.all_of(_LEAK_TRAINED, rg.noise_loss("gaussian", 1)),
    "leak.noise_impulse_scenario1": rg.all_of(_LEAK_TRAINED, rg.noise_loss("impulse", 1)),
    "leak.noise_gaussian_scenario2": rg.all_of(_LEAK_TRAINED, rg.noise_loss("gaussian", 2)),
    "leak.noise_impulse_scenario2": rg.all_of(_LEAK_TRAINED, rg.noise_loss("impulse", 2)),
    "leak.noise_middle_tau_beats_if": rg.all_of(_LEAK_TRAINED, rg.noise_loss("gaussian", 1)),
    "leak.noise_tau100_degrades_more_than_tau30": rg.all_of(_LEAK_TRAINED, rg.noise_loss("gaussian", 1)),
    "leak.input_spectrum_wider_under_noise": rg.paper_data(("cifar10", "svhn")),
    "leak.critical_frequency_lower_with_leak": rg.all_of(_LEAK_TRAINED, rg.equal_accuracy()),
    "leak.critical_frequency_higher_under_noise": rg.all_of(_LEAK_TRAINED, rg.equal_accuracy()),
    "leak.test_sse_lower_with_leak": _LEAK_TRAINED,
    "leak.train_sse_lower_with_leak": _LEAK_TRAINED,
    "leak.generalises_better": _LEAK_TRAINED,
    "leak.spikes_higher_with_leak": _LEAK_TRAINED,
    "leak.synaptic_ops_higher_with_leak": _LEAK_TRAINED,
    "leak.enwsi_higher_with_leak": _LEAK_TRAINED,
    "leak.coherence_low_pass": rg.analytic(("cifar10", "svhn")),
})


# --------------------------------------------------------------------------- seed 001: roles
ACC_HOW = "finished runs (python -m ablations.reproduce paper=roles)"


def _accuracy_vs(variant: str, other: str, direction: str, margin: float) -> Callable[[pd.DataFrame], Test]:
    def check(rows: pd.DataFrame) -> Test:
        accuracy = m.accuracy(rows)
        return stats.difference(_variant(rows, accuracy, variant, ACC_HOW), _variant(rows, accuracy, other, ACC_HOW),
                                direction, margin, names=(variant, other), unit=" %")
    return check


def _xor_wins(variant: str, other: str) -> Callable[[pd.DataFrame], Test]:
    """Claim: ``variant`` solves delayed XOR (above XOR_SUCCESS) more often than ``other``: McNemar's
    exact test on the seeds of a paired grid (Fisher's for unpaired runs)."""
    def check(rows: pd.DataFrame) -> Test:
        accuracy = m.accuracy(rows)
        return stats.success_counts(_variant(rows, accuracy, variant, ACC_HOW), _variant(rows, accuracy, other, ACC_HOW),
                                    pre.XOR_SUCCESS, names=(variant, other), unit=" %")
    return check


def _near_chance(variant: str, chance: float, margin: float) -> Callable[[pd.DataFrame], Test]:
    def check(rows: pd.DataFrame) -> Test:
        values = _variant(rows, m.accuracy(rows), variant, ACC_HOW)
        return stats.below(values, chance + margin, name=f"{variant} accuracy", unit=" %")
    return check


def _similar_to_vanilla(rows: pd.DataFrame) -> Test:
    accuracy = m.accuracy(rows)
    vanilla = _variant(rows, accuracy, "vanilla", ACC_HOW)
    tests, labels = [], []
    for variant in ("no_leak", "complete_leak", "no_reset", "recurrent"):
        runs = m.runs_of(rows, variant)
        if runs.empty:
            tests.append(Test(NOT_MEASURED, f"no finished {variant} runs"))
            labels.append(variant)
            continue
        tests.append(stats.equivalence(m.seed_values(accuracy, runs), vanilla, margin=3.0, names=(variant, "vanilla"),
                                       unit=" %"))
        labels.append(variant)
    if all(t.verdict == NOT_MEASURED for t in tests):
        raise NotMeasured(f"no ablated variants beside vanilla; {ACC_HOW}")
    return _joined(tests, labels)


WINDOW_HOW = "eval suite `generalization` on event data"


def _window_drop_vs(variants: Sequence[str], other: str, direction: str, margin: float,
                    shortest: bool = False) -> Callable[[pd.DataFrame], Test]:
    def check(rows: pd.DataFrame) -> Test:
        drop = _shortest_drop(rows) if shortest else m.window_drop(rows)
        reference = _variant(rows, drop, other, WINDOW_HOW)
        tests, labels = [], []
        for variant in variants:
            if m.runs_of(rows, variant).empty:
                tests.append(Test(NOT_MEASURED, f"no finished {variant} runs"))
                labels.append(variant)
                continue
            tests.append(stats.difference(_variant(rows, drop, variant, WINDOW_HOW), reference, direction, margin,
                                          names=(f"accuracy loss {variant}", other), unit=" pp"))
            labels.append(variant)
        if all(t.verdict == NOT_MEASURED for t in tests):
            raise NotMeasured(f"no runs of {', '.join(variants)}; {WINDOW_HOW}")
        return _joined(tests, labels if len(tests) > 1 else ())
    return check


def _shortest_drop(rows: pd.DataFrame) -> pd.Series:
    windows = m.window_accuracy(rows)
    out = {}
    for run_dir, group in windows.groupby("run_dir"):
        trained = group["trained"].dropna()
        if trained.empty:
            continue
        at = group[np.isclose(group["window"], trained.iloc[0])]["value"]
        short = group[group["window"] == group["window"].min()]["value"]
        if len(at) and len(short):
            out[run_dir] = float(at.mean() - short.mean())
    return pd.Series(out, dtype=float)


def _measure_vs(series_of: Callable[[pd.DataFrame], pd.Series], variant: str, other: str, direction: str,
                margin: float | str, what: str, how: str, unit: str = "", scale: float = 1.0
                ) -> Callable[[pd.DataFrame], Test]:
    def check(rows: pd.DataFrame) -> Test:
        series = series_of(rows) * scale
        reference = _variant(rows, series, other, how)
        gap = margin if isinstance(margin, float) else float(margin.rstrip("%")) / 100 * abs(np.mean(reference))
        return stats.difference(_variant(rows, series, variant, how), reference, direction, gap,
                                names=(f"{what} {variant}", other), unit=unit)
    return check


ATTACK_HOW = "eval suite `adversarial` on event or generated spike data"


def _attack_order(rows: pd.DataFrame) -> Test:
    l2 = m.attack(rows, "mean_l2_perturbation")
    vanilla = _variant(rows, l2, "vanilla", ATTACK_HOW)
    return _joined([
        stats.difference(_variant(rows, l2, "complete_leak", ATTACK_HOW), vanilla, "greater", 0.0,
                         names=("L2 complete_leak", "vanilla")),
        stats.difference(vanilla, _variant(rows, l2, "no_leak", ATTACK_HOW), "greater", 0.0,
                         names=("L2 vanilla", "no_leak")),
    ], ["complete leak > vanilla", "vanilla > no leak"])


def _attack_success(rows: pd.DataFrame) -> Test:
    success = m.attack(rows, "attack_success_rate")
    tests, labels = [], []
    for variant in ("vanilla", "no_leak", "complete_leak", "no_reset", "recurrent", "no_leak_no_reset_recurrent"):
        if m.runs_of(rows, variant).empty:
            tests.append(Test(NOT_MEASURED, f"no finished {variant} runs"))
            labels.append(variant)
            continue
        tests.append(stats.above(_variant(rows, success, variant, ATTACK_HOW), 90.0, name=f"{variant} success",
                                 unit=" %"))
        labels.append(variant)
    if all(t.verdict == NOT_MEASURED for t in tests):
        raise NotMeasured(ATTACK_HOW)
    return _joined(tests, labels)


SPIKE_HOW = "eval suite `activity`"
BASELINES = ("not measured: seed 001's LSTM / GRU / vanilla-RNN baselines have no model preset yet; once they "
             "do: python -m ablations.run -m experiment=roles_nmnist model=<lstm preset> seed=0,1,2 "
             "eval.suites=[generalization]")

ROLES: tuple[Claim, ...] = (
    Claim("roles.xor_no_reset_beats_vanilla", "roles", "Table 6 (delayed XOR)",
          "Without reset solves delayed XOR more often than vanilla (runs above 90 %, McNemar's exact test by seed).",
          _xor_wins("no_reset", "vanilla"), XOR, "96.10 vs 77.50 %"),
    Claim("roles.xor_recurrent_beats_vanilla", "roles", "Table 6 (delayed XOR)",
          "Recurrence solves delayed XOR more often than vanilla (runs above 90 %, McNemar's exact test by seed).",
          _xor_wins("recurrent", "vanilla"), XOR, "98.90 vs 77.50 %"),
    Claim("roles.xor_no_leak_near_chance", "roles", "Table 6 (delayed XOR)",
          "No leak stays near chance (50 %) on delayed XOR (below 55 %).", _near_chance("no_leak", 50.0, 5.0), XOR,
          "50.30 %"),
    Claim("roles.xor_complete_leak_near_chance", "roles", "Table 6 (delayed XOR)",
          "Complete leak stays near chance (50 %) on delayed XOR (below 55 %).",
          _near_chance("complete_leak", 50.0, 5.0), XOR, "50.50 %"),
    Claim("roles.speech_complete_leak_fails", "roles", "Table 6 (SHD, SSC)",
          "Complete leak collapses on spoken digits and commands (at least 20 pp below vanilla).",
          _accuracy_vs("vanilla", "complete_leak", "greater", 20.0), SPEECH,
          "SHD 5.96 vs 78.58 %; SSC 3.22 vs 60.70 %",
          missing="python -m ablations.reproduce paper=roles scale=full groups=shd,ssc"),
    Claim("roles.speech_recurrent_best", "roles", "Table 6 (SHD, SSC)",
          "Recurrence beats vanilla on spoken digits and commands.",
          _accuracy_vs("recurrent", "vanilla", "greater", 1.0), SPEECH, "SHD 80.43 vs 78.58 %; SSC 66.53 vs 60.70 %",
          missing="python -m ablations.reproduce paper=roles scale=full groups=shd,ssc"),
    Claim("roles.spatial_variants_similar", "roles", "Table 6 (N-MNIST, DVS Gesture, MNIST, CIFAR-10)",
          "On spatial and spatio-temporal data every variant is within 3 pp of vanilla.", _similar_to_vanilla,
          EVENTS + STATIC, "N-MNIST 94.76-96.21 %, MNIST 94.17-96.98 %, CIFAR-10 92.25-93.29 %"),
    Claim("roles.recurrence_generalises_worst", "roles", "Table 7",
          "Recurrence generalises worst across frame windows (largest accuracy loss away from the trained 3 ms).",
          _window_drop_vs(("recurrent", "no_leak_recurrent", "no_leak_no_reset_recurrent"), "vanilla", "greater", 1.0),
          EVENTS, "loss vs 3 ms, mean of 1/2/5/10 ms: recurrent 10.3 pp, vanilla 1.2 pp"),
    Claim("roles.no_reset_generalises_to_short_windows", "roles", "Table 7",
          "Without reset loses less accuracy than vanilla at the shortest frame window.",
          _window_drop_vs(("no_reset",), "vanilla", "less", 0.0, shortest=True), EVENTS,
          "1 ms: 93.90 (3 ms 96.18) vs vanilla 90.82 (94.76)"),
    Claim("roles.snn_beat_rnn_baselines_across_windows", "roles", "Table 7",
          "LSTM, GRU and vanilla RNN lose far more accuracy across frame windows than the SNN variants.",
          missing=BASELINES, published="10 ms: LSTM 9.84, GRU 45.20, RNN 19.92 % vs SNN 70-95 %"),
    Claim("roles.no_reset_more_spikes", "roles", "abstract; Fig. 3",
          "Without reset the network fires more (reset makes computation efficient).",
          _measure_vs(lambda r: m.activity(r, "spike_rate"), "no_reset", "vanilla", "greater", 0.5, "spikes",
                      SPIKE_HOW, unit=" %", scale=100.0), ALL_ROLES, "Fig. 3: spike-rate distributions (no numbers)"),
    Claim("roles.no_reset_more_synaptic_ops", "roles", "abstract",
          "Without reset the network needs more synaptic operations.",
          _measure_vs(lambda r: m.activity(r, "synaptic_ops"), "no_reset", "vanilla", "greater", "5%",
                      "synaptic ops", SPIKE_HOW), ALL_ROLES, "no numbers"),
    Claim("roles.recurrent_sharper_landscape", "roles", "Fig. 5",
          "The recurrent variant without leak has a sharper loss landscape than vanilla.",
          _measure_vs(m.landscape_sharpness, "no_leak_recurrent", "vanilla", "greater", 0.0, "loss rise",
                      "eval suite `landscape`"), EVENTS, "Fig. 5 (surfaces, no numbers)"),
    Claim("roles.attack_recurrent_smaller_perturbation", "roles", "Fig. 9",
          "Recurrence needs a smaller adversarial perturbation than vanilla (less robust).",
          _measure_vs(lambda r: m.attack(r, "mean_l2_perturbation"), "recurrent", "vanilla", "less", 0.0, "L2",
                      ATTACK_HOW), EVENTS + XOR, "mean L2 0.011 vs 0.033"),
    Claim("roles.attack_more_leak_larger_perturbation", "roles", "Fig. 9",
          "More leak needs a larger adversarial perturbation (complete leak > vanilla > no leak).",
          _attack_order, EVENTS + XOR, "mean L2 0.097 > 0.033 > 0.017"),
    Claim("roles.attack_no_reset_smaller_perturbation", "roles", "Fig. 9",
          "Without reset needs a smaller adversarial perturbation than vanilla.",
          _measure_vs(lambda r: m.attack(r, "mean_l2_perturbation"), "no_reset", "vanilla", "less", 0.0, "L2",
                      ATTACK_HOW), EVENTS + XOR, "mean L2 0.018 vs 0.033"),
    Claim("roles.attack_succeeds_on_every_variant", "roles", "Fig. 9",
          "The spike attack succeeds on (nearly) every sample of every variant (above 90 %).", _attack_success,
          EVENTS + XOR, "100 % for V1-V6"),
    Claim("roles.image_attack_recurrent_less_robust", "roles", "abstract; Fig. 8 (image data)",
          "Under a PGD attack (epsilon 0.05) recurrence keeps less accuracy than vanilla.",
          _measure_vs(m.pgd_accuracy, "recurrent", "vanilla", "less", 0.0, "PGD accuracy",
                      "eval suite `adversarial` on image data", unit=" %"), STATIC, "no numbers available here"),
    Claim("roles.event_noise_recurrent_less_robust", "roles",
          "abstract ('recurrence ... at a cost of robustness degradation'), read on event-sensor noise: the "
          "package's reading (the paper measures robustness with attacks)",
          "Under event-sensor noise (half of each sample's events dropped) recurrence keeps less accuracy than "
          "vanilla.",
          _measure_vs(lambda r: m.event_noise_accuracy(r, *pre.EVENT_NOISE_READ), "recurrent", "vanilla", "less", 0.0,
                      "accuracy under drop_event 0.5", "eval suite `event_noise` on event data", unit=" %"),
          EVENTS, "no numbers in the paper (its robustness is measured with attacks)"),
    Claim("roles.abstract_leakage", "roles", "abstract",
          "Leakage balances memory retention (complete leak cannot hold a delayed pattern) and robustness.",
          parts=("roles.xor_complete_leak_near_chance", "roles.attack_more_leak_larger_perturbation")),
    Claim("roles.abstract_reset", "roles", "abstract",
          "The reset is essential for computational efficiency.",
          parts=("roles.no_reset_more_spikes", "roles.no_reset_more_synaptic_ops")),
    Claim("roles.abstract_recurrence", "roles", "abstract",
          "Recurrence enriches the modelling of complex dynamics at a cost of robustness.",
          parts=("roles.xor_recurrent_beats_vanilla", "roles.speech_recurrent_best",
                 "roles.attack_recurrent_smaller_perturbation", "roles.recurrence_generalises_worst")),
    Claim("roles.suggest_temporal", "roles", "optimisation suggestions (abstract; the section's text is not in seeds/)",
          "For temporal tasks, add recurrence or remove the reset rather than use the vanilla LIF.",
          parts=("roles.xor_recurrent_beats_vanilla", "roles.xor_no_reset_beats_vanilla")),
    Claim("roles.suggest_robustness", "roles", "optimisation suggestions (abstract)",
          "Where robustness matters, keep the leak and avoid recurrence.",
          parts=("roles.attack_more_leak_larger_perturbation", "roles.attack_recurrent_smaller_perturbation",
                 "roles.recurrence_generalises_worst", "roles.image_attack_recurrent_less_robust",
                 "roles.event_noise_recurrent_less_robust")),
    Claim("roles.suggest_efficiency", "roles", "optimisation suggestions (abstract)",
          "On compute-limited hardware, keep the reset.", parts=("roles.no_reset_more_synaptic_ops",)),
)

_XOR = rg.delayed_xor()
_XOR_WITH_VANILLA = rg.delayed_xor(vanilla_learns=True)
_EVENTS_WINDOWS = ("vanilla", "no_reset", "recurrent", "no_leak_recurrent", "no_leak_no_reset_recurrent")
#: Seed 001's regime checks, one per claim (thresholds: ablations/reproduce/preregistered.py).
ROLES = _with_regimes(ROLES, {
    "roles.xor_no_reset_beats_vanilla": _XOR,
    "roles.xor_recurrent_beats_vanilla": _XOR,
    "roles.xor_no_leak_near_chance": _XOR_WITH_VANILLA,
    "roles.xor_complete_leak_near_chance": _XOR_WITH_VANILLA,
    "roles.speech_complete_leak_fails": rg.learned(("vanilla",)),
    "roles.speech_recurrent_best": rg.learned(("vanilla", "recurrent")),
    "roles.spatial_variants_similar": rg.learned(("vanilla",)),
    "roles.recurrence_generalises_worst": rg.learned(("vanilla", "recurrent")),
    "roles.no_reset_generalises_to_short_windows": rg.learned(("vanilla", "no_reset")),
    "roles.no_reset_more_spikes": rg.learned(("vanilla", "no_reset")),
    "roles.no_reset_more_synaptic_ops": rg.learned(("vanilla", "no_reset")),
    "roles.recurrent_sharper_landscape": rg.learned(("vanilla", "no_leak_recurrent")),
    "roles.attack_recurrent_smaller_perturbation": rg.attack_sanity(("vanilla", "recurrent")),
    "roles.attack_more_leak_larger_perturbation": rg.attack_sanity(("vanilla", "no_leak", "complete_leak")),
    "roles.attack_no_reset_smaller_perturbation": rg.attack_sanity(("vanilla", "no_reset")),
    "roles.attack_succeeds_on_every_variant": rg.attack_sanity(("vanilla", "no_leak", "complete_leak", "no_reset",
                                                                "recurrent")),
    "roles.image_attack_recurrent_less_robust": rg.attack_sanity(("vanilla", "recurrent")),
    "roles.event_noise_recurrent_less_robust": rg.event_noise_hurts(("vanilla", "recurrent")),
})


# --------------------------------------------------------------------------- seed 002: linear leak
LINEAR_HOW = "python -m ablations.reproduce paper=linear_leak"


def _linear_runs(rows: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    runs = m.runs_of(rows, "linear_leak")
    if runs.empty or "lam" not in runs.columns:
        raise NotMeasured(f"no finished linear_leak runs; {LINEAR_HOW}")
    lams = sorted(pd.to_numeric(runs["lam"], errors="coerce").dropna().unique())
    lam = min(lams, key=lambda v: (abs(v - 0.05), v))  # the package default, else the nearest
    return runs[np.isclose(pd.to_numeric(runs["lam"], errors="coerce"), lam)], float(lam)


def _linear_noise(noise: str, other: str) -> Callable[[pd.DataFrame], Test]:
    def check(rows: pd.DataFrame) -> Test:
        drop = m.noise_drop(rows, noise, 1, pre.READ_LEVELS)
        linear, lam = _linear_runs(rows)
        ours = _need(m.seed_values(drop, linear), "noise rows of linear_leak", "eval suite `noise`")
        test = stats.difference(_variant(rows, drop, other, "eval suite `noise`"), ours, "greater", 1.0,
                                names=(f"accuracy loss at severities 5-8 {other}", f"linear_leak (lam={lam:g})"),
                                unit=" pp")
        return dataclasses.replace(test, evidence=test.evidence + LADDER_NOTE)
    return check


#: Seed 002 names no noise levels: its robustness claims are read on seed 003's ladder and levels.
LADDER_NOTE = ("; read on seed 003's noise ladder and severities 5-8 (seed 002 names none; the noise suite's "
               "ladder is calibrated for seed 003's inputs), scenario 1")


def _linear_rate(rows: pd.DataFrame) -> Test:
    runs = m.runs_of(rows, "linear_leak")
    rate = m.activity(rows, "spike_rate") * 100.0
    runs = runs[runs["run_dir"].isin(rate.index)]
    if runs.empty:
        raise NotMeasured(f"no activity rows of linear_leak runs; {LINEAR_HOW}")
    return stats.trend(pd.to_numeric(runs["lam"], errors="coerce"), [rate[r] for r in runs["run_dir"]], "less",
                       names=("seed 002's tau_m (= lam, leak per step)", "spike rate (%)"))


#: Seed 002's leak parameter tau_m, read once for the claims and the figures
#: (:mod:`ablations.figures.linear`): the linear leak per step, tau_m = lam (threshold units). The
#: paper's one statement about it, "the inverse relationship between the leakage parameters tau_m
#: and spiking rate" (abstract), holds under this reading; under lam = theta / tau_m (a time
#: constant) the rate would rise with tau_m.
TAU_M_READING = "tau_m = lam, the linear leak per step (threshold units)"

LINEAR: tuple[Claim, ...] = (
    Claim("linear_leak.rate_falls_with_tau_m", "linear_leak", "abstract",
          "The linear-leak firing rate falls as its leak parameter tau_m (here lam, leak per step) grows.",
          _linear_rate, STATIC, "an inverse relation, no numbers here"),
    Claim("linear_leak.more_robust_than_no_leak_gaussian", "linear_leak", "abstract",
          "Linear leak loses less accuracy under Gaussian noise than no leak.", _linear_noise("gaussian", "no_leak"),
          STATIC, "no numbers available here"),
    Claim("linear_leak.more_robust_than_no_leak_impulse", "linear_leak", "abstract",
          "Linear leak loses less accuracy under impulse noise than no leak.", _linear_noise("impulse", "no_leak"),
          STATIC, "no numbers available here"),
    Claim("linear_leak.more_robust_than_exponential_gaussian", "linear_leak", "abstract",
          "Linear leak loses less accuracy under Gaussian noise than the exponential leak.",
          _linear_noise("gaussian", "vanilla"), STATIC, "no numbers available here"),
    Claim("linear_leak.more_robust_than_exponential_impulse", "linear_leak", "abstract",
          "Linear leak loses less accuracy under impulse noise than the exponential leak.",
          _linear_noise("impulse", "vanilla"), STATIC, "no numbers available here"),
    Claim("linear_leak.abstract_robustness", "linear_leak", "abstract",
          "The linear leakage method is more robust than the no-leakage and exponential-leakage approaches.",
          parts=("linear_leak.more_robust_than_no_leak_gaussian", "linear_leak.more_robust_than_no_leak_impulse",
                 "linear_leak.more_robust_than_exponential_gaussian",
                 "linear_leak.more_robust_than_exponential_impulse")),
)

_LINEAR_TRAINED = rg.learned(("linear_leak", "vanilla", "no_leak"))
#: Seed 002's regime checks. The robustness claims borrow seed 003's noise regime: the no-leak
#: network (IF) must suffer under the ladder the claims are read on.
LINEAR = _with_regimes(LINEAR, {
    "linear_leak.rate_falls_with_tau_m": rg.learned(("linear_leak",)),
    "linear_leak.more_robust_than_no_leak_gaussian": rg.all_of(_LINEAR_TRAINED, rg.noise_loss("gaussian", 1)),
    "linear_leak.more_robust_than_no_leak_impulse": rg.all_of(_LINEAR_TRAINED, rg.noise_loss("impulse", 1)),
    "linear_leak.more_robust_than_exponential_gaussian": rg.all_of(_LINEAR_TRAINED, rg.noise_loss("gaussian", 1)),
    "linear_leak.more_robust_than_exponential_impulse": rg.all_of(_LINEAR_TRAINED, rg.noise_loss("impulse", 1)),
})

PAPERS: dict[str, tuple[Claim, ...]] = {"leak": LEAK, "roles": ROLES, "linear_leak": LINEAR}


def claims_of(paper: str) -> tuple[Claim, ...]:
    from ..errors import UserError

    if paper not in PAPERS:
        raise UserError(f"paper={paper!r} has no claims; papers: {', '.join(PAPERS)}")
    return PAPERS[paper]


COLUMNS = ["paper", "claim", "source", "sentence", "dataset", "verdict", "result", "evidence", "regime",
           "regime_reached", "regime_value", "to_reach", "ran", "published", "p", "p_fails", "p_holm", "p_fails_holm",
           "method", "n", "version", "rule_hash", "rule_since", "post_hoc"]
#: The scales whose grids are stand-ins (embedded data, real subsets): a claim whose regime is not
#: reached there is "stand-in only"; at scale full, "regime not reached".
STANDIN_SCALES = ("quick", "sample")


def _primitives(check) -> list:
    """The margins, variants and directions a check was built with (its closure's plain values)."""
    out = []
    for cell in getattr(check, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, (str, int, float, bool, tuple)) and not any(callable(v) for v in (
                value if isinstance(value, tuple) else (value,))):
            out.append(repr(value))
        elif callable(value) and getattr(value, "__closure__", None):
            out.extend(_primitives(value))
    return out


def rule_hash(claim: Claim) -> str:
    """Fingerprint of a claim's rule: the registered values, its sentence and datasets, its check's
    name and the plain values it was built with, its parts, and its regime's rule."""
    import hashlib
    import json

    check = claim.check
    payload = [sorted((k, repr(v)) for k, v in pre.values().items()), claim.sentence, list(claim.datasets),
               getattr(check, "__qualname__", ""), _primitives(check) if check else [], list(claim.parts),
               claim.regime.rule if claim.regime else ""]
    return hashlib.sha1(json.dumps(payload).encode()).hexdigest()[:10]


def _ran(rows: pd.DataFrame) -> str:
    """What was run: data, network, time steps, training budget, seeds, variants."""
    runs = m.finished_runs(rows)
    if runs.empty:
        return "no finished runs"
    def distinct(column):
        return sorted({str(v) for v in runs[column].dropna()}) if column in runs.columns else []
    parts = [f"{', '.join(distinct('dataset'))}"]
    if distinct("model"):
        parts.append("network " + ", ".join(distinct("model"))
                     + (f" ({', '.join(distinct('model.layers') or distinct('dataset.layers'))})"
                        if distinct("model.layers") or distinct("dataset.layers") else ""))
    if distinct("steps"):
        parts.append("T = " + ", ".join(distinct("steps")))
    budget = []
    epochs = pd.to_numeric(runs["epochs_done"], errors="coerce").dropna() if "epochs_done" in runs.columns \
        else pd.Series(dtype=float)
    if len(epochs):
        budget.append(f"{epochs.min():g} epochs" if epochs.min() == epochs.max()
                      else f"{epochs.min():g}-{epochs.max():g} epochs")
    steps = m.optimizer_steps(runs).dropna()
    if len(steps):
        budget.append(f"{steps.min():.0f} optimizer steps" if steps.min() == steps.max()
                      else f"{steps.min():.0f}-{steps.max():.0f} optimizer steps")
    if budget:
        parts.append(" = ".join(budget))
    seeds = sorted({int(v) for v in pd.to_numeric(runs["seed"], errors="coerce").dropna()}) if "seed" in runs else []
    parts.append(f"{len(seeds)} seed(s) {','.join(map(str, seeds))}")
    parts.append(f"{runs['run_dir'].nunique()} runs")
    return "; ".join(parts)


def _post_hoc(rows: pd.DataFrame, since: str) -> str:
    """A flag where the claim's rule was set after runs it judges had finished ('' otherwise)."""
    runs = m.finished_runs(rows)
    if runs.empty or "finished" not in runs.columns:
        return ""
    finished = pd.to_datetime(runs["finished"], errors="coerce", utc=True).dropna()
    before = int((finished < pd.Timestamp(since)).sum())
    if not before:
        return ""
    return (f"rule set {since} (version {pre.CLAIMS_VERSION}), after {before} of the {len(runs)} runs it judges had "
            "finished: a rule chosen after its runs were seen")


def evaluate(paper: str, results: pd.DataFrame, scale: str | None = None) -> pd.DataFrame:
    """One row per claim of ``paper`` and dataset it was judged on (see the module docstring).

    ``scale``: the grid's scale (quick | sample | full); at quick and sample a claim whose regime is
    not reached is "stand-in only", elsewhere "regime not reached".
    """
    rows: list[dict] = []
    present = set(results["dataset"].dropna().astype(str)) if "dataset" in results.columns else set()
    for claim in claims_of(paper):
        since = pre.RULE_SINCE.get(claim.id, pre.CLAIMS_SINCE)
        base = {"paper": paper, "claim": claim.id, "source": claim.source, "sentence": claim.sentence,
                "published": claim.published, "result": "", "regime": claim.regime.rule if claim.regime else "",
                "regime_reached": "", "regime_value": "", "to_reach": "", "ran": "", "p": math.nan,
                "p_fails": math.nan, "p_holm": math.nan, "p_fails_holm": math.nan, "method": "", "n": 0,
                "version": pre.CLAIMS_VERSION, "rule_hash": rule_hash(claim), "rule_since": since, "post_hoc": ""}
        if claim.parts:
            rows.append(dict(base, dataset="(its parts)", verdict=NOT_MEASURED, evidence=""))
            continue
        datasets = [d for d in claim.datasets if d in present]
        if claim.check is None or not datasets:
            reason = claim.missing or (f"none of its datasets ({', '.join(claim.datasets)}) is in the results")
            rows.append(dict(base, dataset="-", verdict=NOT_MEASURED, result=NOT_MEASURED, evidence=reason))
            continue
        for dataset in datasets:
            subset = results[results["dataset"] == dataset]
            try:
                test = claim.check(subset)
            except NotMeasured as missing:
                test = Test(NOT_MEASURED, str(missing))
            try:
                reading = claim.regime.check(subset)
            except NotMeasured as missing:
                reading = rg.Reading(False, f"not measured: {missing}", str(missing))
            rows.append(dict(base, dataset=dataset, verdict="", result=test.verdict, evidence=test.evidence, p=test.p,
                             p_fails=test.p_fails, method=test.method, n=test.n,
                             regime_reached="yes" if reading.reached else "no", regime_value=reading.measured,
                             to_reach=reading.to_reach, ran=_ran(subset), post_hoc=_post_hoc(subset, since)))
    _decide(rows, scale)
    by_id: dict[str, list[str]] = {}
    results_of: dict[str, list[str]] = {}
    for row, claim in zip(rows, _claim_of_rows(paper, rows)):
        if claim.parts:
            row["verdict"] = stats.combine([v for part in claim.parts for v in by_id.get(part, [NOT_MEASURED])])
            row["result"] = stats.combine([r for part in claim.parts for r in results_of.get(part, [])]
                                          or [NOT_MEASURED])
            # each part's result on what we ran (what ``result`` combines), then its verdict on the paper
            row["evidence"] = "; ".join(_part_in_words(part, results_of.get(part), by_id.get(part)) for part in claim.parts)
        by_id.setdefault(claim.id, []).append(row["verdict"])
        if row["result"]:
            results_of.setdefault(claim.id, []).append(row["result"])
    return pd.DataFrame(rows, columns=COLUMNS)


def _claim_of_rows(paper: str, rows: list[dict]) -> list[Claim]:
    claims = {c.id: c for c in claims_of(paper)}
    return [claims[row["claim"]] for row in rows]


def family(rows: list[dict]) -> list[int]:
    """The rows in the family the verdicts on the paper are corrected over: measured, regime reached."""
    return [i for i, row in enumerate(rows) if row.get("regime_reached") == "yes" and row["result"] != NOT_MEASURED]


def _decide(rows: list[dict], scale: str | None) -> None:
    """The verdict on the paper of every checked row (in place): not measured; stand-in only /
    regime not reached where the regime check failed; else Holm over both directions of every
    reached row (``p_holm``, ``p_fails_holm``): holds / does not hold where the adjusted p is below
    ALPHA, inconclusive otherwise. An exact computation with no p (the analytic coherence) keeps
    its result."""
    judged = family(rows)
    hypotheses = [(i, "p") for i in judged if math.isfinite(rows[i]["p"])] + \
                 [(i, "p_fails") for i in judged if math.isfinite(rows[i]["p_fails"])]
    adjusted = stats.holm([rows[i][key] for i, key in hypotheses])
    for (i, key), value in zip(hypotheses, adjusted):
        rows[i]["p_holm" if key == "p" else "p_fails_holm"] = value
    for i, row in enumerate(rows):
        if row["verdict"] or row["dataset"] in ("-", "(its parts)"):
            continue
        if row["result"] == NOT_MEASURED:
            row["verdict"] = NOT_MEASURED
        elif i not in judged:
            row["verdict"] = STANDIN if scale in STANDIN_SCALES else NOT_REACHED
        elif math.isfinite(row["p_holm"]) or math.isfinite(row["p_fails_holm"]):
            row["verdict"] = HOLDS if row["p_holm"] < pre.ALPHA else FAILS if row["p_fails_holm"] < pre.ALPHA \
                else INCONCLUSIVE
            if row["verdict"] == INCONCLUSIVE and row["method"] == "McNemar" and not _decidable(rows, hypotheses, i):
                row["evidence"] += (
                    f"; with {row['n']} paired seeds no outcome decides it: even every seed discordant one way "
                    f"(p = 0.5^{row['n']} = {0.5 ** row['n']:.2g}) stays above Holm's threshold over the "
                    f"{len(hypotheses)} hypotheses judged; at least {pre.min_seeds_mcnemar(len(hypotheses))} "
                    "discordant seeds are needed (train more seeds)")
        elif row["method"] == "" and row["result"] in (HOLDS, FAILS):
            row["verdict"] = row["result"]  # exact (analytic): nothing to correct
        else:
            row["verdict"] = INCONCLUSIVE


def _part_in_words(part: str, part_results: list[str] | None, verdicts: list[str] | None) -> str:
    """A composite claim's part: its result on what we ran (what the composite's result combines), then its
    verdict on the paper."""
    name, measured = part.split(".", 1)[1], [r for r in part_results or [] if r != NOT_MEASURED]
    if not measured:
        return f"{name}: {NOT_MEASURED}"
    return f"{name}: {', '.join(measured)} on what we ran (verdict: {', '.join(verdicts or [NOT_MEASURED])})"


def _decidable(rows: list[dict], hypotheses: list[tuple[int, str]], i: int) -> bool:
    """Whether McNemar row ``i`` could be decided at all with its paired seeds: its best case (every
    seed discordant in one direction, p = 0.5^n) put in place of either direction, the other
    hypotheses as they are, reaches ALPHA after Holm."""
    best = 0.5 ** int(rows[i]["n"])
    for direction in ("p", "p_fails"):
        ps = [best if (j, key) == (i, direction) else rows[j][key] for j, key in hypotheses]
        if (i, direction) in hypotheses and stats.holm(ps)[hypotheses.index((i, direction))] < pre.ALPHA:
            return True
    return False


def family_size(verdicts: pd.DataFrame) -> tuple[int, int]:
    """(claims, one-sided hypotheses) in the family of a verdicts table."""
    reached = verdicts[(verdicts["regime_reached"] == "yes") & (verdicts["result"] != NOT_MEASURED)]
    hypotheses = int(pd.to_numeric(reached["p"], errors="coerce").notna().sum()
                     + pd.to_numeric(reached["p_fails"], errors="coerce").notna().sum())
    return len(reached), hypotheses
