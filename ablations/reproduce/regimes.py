"""Regime checks: the positive control each claim is registered with, computed from the same runs.

A claim about the paper is judged only where its regime is reached: the networks learned their
task, the non-leaky network suffers under the noise the robustness claims speak of, the networks
compared by their critical frequency are equally accurate, the delayed-XOR budget is the paper's
and its positive controls solve the task. A :class:`Regime` is the rule in words (with its
threshold and source) and a check over the rows of one dataset returning a :class:`Reading`:
reached or not, the measured value, and what would reach it. The thresholds live in
:mod:`ablations.reproduce.preregistered`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import measures as m
from . import preregistered as pre
from . import stats

__all__ = ["Reading", "Regime", "all_of", "analytic", "attack_sanity", "equal_accuracy", "learned", "noise_loss",
           "paper_data", "delayed_xor"]


@dataclass(frozen=True)
class Reading:
    """What a regime check measured: ``reached``, the value in words, and what would reach it."""

    reached: bool
    measured: str
    to_reach: str = ""


@dataclass(frozen=True)
class Regime:
    """A claim's registered regime check: ``rule`` (with its threshold), ``source`` (why), ``check``."""

    rule: str
    source: str
    check: Callable[[pd.DataFrame], Reading]


def _dataset(rows: pd.DataFrame) -> str:
    values = rows["dataset"].dropna().astype(str).unique() if "dataset" in rows.columns else []
    return str(values[0]) if len(values) else ""


def _group_label(row, by: str) -> str:
    if by == "tau":
        tau = m.tau_of(row)
        return "IF (tau=inf)" if math.isinf(tau) else f"tau={tau:g}"
    return str(row.get("variant"))


def _compared(rows: pd.DataFrame, variants: Sequence[str] | None, by: str) -> dict[str, list[float]]:
    """Test accuracy (%) per compared group (variant, or tau of the leak sweep)."""
    runs = m.finished_runs(rows)
    if variants is not None:
        runs = runs[runs["variant"].isin(variants)]
    if by == "tau":
        runs = runs[runs["variant"].isin(["vanilla", "no_leak"])]
    accuracy = m.accuracy(rows)
    groups: dict[str, list[float]] = {}
    for _, row in runs.iterrows():
        if row["run_dir"] in accuracy.index and pd.notna(accuracy[row["run_dir"]]):
            groups.setdefault(_group_label(row, by), []).append(float(accuracy[row["run_dir"]]))
    return groups


def learned(variants: Sequence[str] | None = None, by: str = "variant") -> Regime:
    """Every compared network learned its task (mean test accuracy at least
    :func:`~ablations.reproduce.preregistered.learned_level`)."""
    which = f"{', '.join(variants)}" if variants else ("every tau of the sweep" if by == "tau" else "every variant")

    def check(rows: pd.DataFrame) -> Reading:
        level = pre.learned_level(_dataset(rows))
        groups = _compared(rows, variants, by)
        if not groups:
            return Reading(False, "no finished runs of the compared networks", "train them")
        low = [name for name, v in groups.items() if np.mean(v) < level]
        measured = ", ".join(f"{name} {np.mean(v):.1f} %" for name, v in groups.items()) + f" (level {level:.0f} %)"
        missing = [v for v in (variants or ()) if v not in groups]
        if missing:
            return Reading(False, measured + f"; no runs of {', '.join(missing)}", f"train {', '.join(missing)}")
        if low:
            return Reading(False, measured, f"{', '.join(low)} must reach {level:.0f} % test accuracy (a longer schedule, "
                                            "the paper's network or data)")
        return Reading(True, measured)

    return Regime(f"networks learned: mean test accuracy of {which} at least halfway from chance to 100 %",
                  "preregistered.LEARNED_FRACTION (the papers' networks sit at 77-99 %)", check)


def noise_loss(noise: str, scenario: int) -> Regime:
    """The non-leaky network (IF: no leak, tau = inf) loses at least NOISE_REGIME_LOSS_PP at the top severity."""
    level, floor = pre.NOISE_TOP_LEVEL, pre.NOISE_REGIME_LOSS_PP

    def check(rows: pd.DataFrame) -> Reading:
        drop = m.noise_drop(rows, noise, scenario, (level,))
        runs = m.finished_runs(rows)
        runs = runs[[math.isinf(m.tau_of(r)) and str(r.get("variant")) in ("no_leak", "vanilla")
                     for _, r in runs.iterrows()]] if not runs.empty else runs
        values = _drops_of(drop, runs)
        if not values:
            return Reading(False, f"no noise rows at severity {level} for the IF network",
                           f"eval suite `noise` with severity {level}")
        loss = float(np.mean(values))
        measured = f"IF loses {loss:.1f} pp at severity {level} ({noise}, scenario {scenario}; {len(values)} runs)"
        if loss < floor:
            return Reading(False, measured, f"a noise ladder (or network) under which the IF loses at least {floor:g} pp "
                                            f"at severity {level}, calibrated on seeds other than the judged ones")
        return Reading(True, measured)

    return Regime(f"non-leaky network suffers: IF loses at least {floor:g} pp at severity {level} ({noise}, "
                  f"scenario {scenario})", "preregistered.NOISE_REGIME_LOSS_PP (seed 003 section 4.2: 'severe "
                  "accuracy degradation' of the IF)", check)


def _drops_of(drop: pd.Series, runs: pd.DataFrame) -> list[float]:
    """The accuracy drops (pp) of ``runs`` that have a row in ``drop`` (indexed by run_dir)."""
    return [] if runs.empty else [float(drop[r]) for r in runs["run_dir"] if r in drop.index]


def event_noise_hurts(variants: Sequence[str]) -> Regime:
    """The compared networks learned (:func:`learned`) and the event noise the claim reads hurts:
    vanilla loses at least NOISE_REGIME_LOSS_PP under it."""
    noise, severity = pre.EVENT_NOISE_READ
    floor = pre.NOISE_REGIME_LOSS_PP
    trained = learned(variants)

    def check(rows: pd.DataFrame) -> Reading:
        first = trained.check(rows)
        if not first.reached:
            return first
        drop = m.event_noise_drop(rows, noise, severity)
        runs = m.runs_of(rows, "vanilla")
        values = _drops_of(drop, runs)
        if not values:
            return Reading(False, f"{first.measured}; no event_noise rows at {noise} {severity:g} for vanilla",
                           f"eval suite `event_noise` with {noise} severity {severity:g}")
        loss = float(np.mean(values))
        measured = f"{first.measured}; vanilla loses {loss:.1f} pp under {noise} {severity:g} ({len(values)} runs)"
        if loss < floor:
            return Reading(False, measured, f"event noise under which vanilla loses at least {floor:g} pp "
                                            "(a stronger read level, fixed before the runs)")
        return Reading(True, measured)

    return Regime(f"networks learned and the event noise hurts: vanilla loses at least {floor:g} pp under {noise} "
                  f"{severity:g}", "preregistered.EVENT_NOISE_READ, NOISE_REGIME_LOSS_PP", check)


def equal_accuracy() -> Regime:
    """Equal clean accuracy of every tau and the IF (TOST at EQUAL_ACCURACY_MARGIN), the IF's
    distance to the white-noise critical frequency reported as a covariate."""
    margin = pre.EQUAL_ACCURACY_MARGIN

    def check(rows: pd.DataFrame) -> Reading:
        from ..evaluation.spectral import white_critical_frequency

        runs = m.finished_runs(rows)
        runs = runs[runs["variant"].isin(["vanilla", "no_leak"])]
        accuracy = m.accuracy(rows)
        taus = sorted({m.tau_of(r) for _, r in runs.iterrows()} - {math.nan})
        if math.inf not in taus or len(taus) < 2:
            return Reading(False, "needs runs at a finite tau and at tau=inf", "the leak grid")

        def at(tau):
            chosen = runs[[m.tau_of(r) == tau for _, r in runs.iterrows()]]
            return m.seed_values(accuracy, chosen)

        parts, reached = [], True
        for tau in [t for t in taus if math.isfinite(t)]:
            test = stats.equivalence(at(tau), at(math.inf), margin, names=(f"tau={tau:g}", "IF"), unit=" %")
            reached &= test.verdict == stats.HOLDS
            parts.append(f"tau={tau:g} vs IF: {test.verdict} ({np.mean(at(tau)):.1f} vs {np.mean(at(math.inf)):.1f} %)")
        covariate = ""
        clean_if = m.critical_frequency(rows, "clean")
        if_runs = runs[[math.isinf(m.tau_of(r)) for _, r in runs.iterrows()]]
        values = [float(clean_if[r]) for r in if_runs["run_dir"] if r in clean_if.index]
        steps = pd.to_numeric(runs["steps"], errors="coerce").dropna().unique() if "steps" in runs.columns else []
        if values and len(steps) == 1:
            white = white_critical_frequency(int(steps[0]))
            covariate = (f"; covariate: clean IF critical frequency {np.mean(values):.3f}, {np.mean(values) - white:+.3f} "
                         f"from the white-noise value {white:.3f} at T = {int(steps[0])} (seed 003: 0.345 vs 0.349)")
        measured = "equal clean accuracy (TOST ±" + f"{margin:g} pp): " + "; ".join(parts) + covariate
        return Reading(reached, measured, "" if reached else
                       f"networks whose clean accuracies agree within ±{margin:g} pp (a stand-in where every tau "
                       "trains as well as the IF)")

    return Regime(f"equal clean accuracy: every tau within ±{margin:g} pp of the IF (TOST); the IF's distance to "
                  "white reported as a covariate", "preregistered.EQUAL_ACCURACY_MARGIN (seed 003 Table 1: the "
                  "taus within 0.7 pp)", check)


def delayed_xor(controls: Sequence[str] = ("no_reset", "recurrent"), vanilla_learns: bool = False) -> Regime:
    """Delayed XOR: the paper's budget in optimizer steps, and a positive control solving the task
    (at least XOR_CONTROL_SHARE of the seeds of one control above XOR_SUCCESS); with
    ``vanilla_learns``, vanilla also escapes chance (above XOR_LEARNED) in that share of seeds."""
    share, steps_needed = pre.XOR_CONTROL_SHARE, pre.XOR_PAPER_STEPS

    def check(rows: pd.DataFrame) -> Reading:
        runs = m.finished_runs(rows)
        steps = m.optimizer_steps(runs).dropna()
        accuracy = m.accuracy(rows)
        fewest = float(steps.min()) if len(steps) else math.nan
        parts = [f"optimizer steps {fewest:.0f} of the paper's {steps_needed}" if math.isfinite(fewest)
                 else "optimizer steps unknown (no dataset.n_train / train.batch_size in the run records)"]
        budget = math.isfinite(fewest) and fewest >= steps_needed
        solved = {}
        for variant in controls:
            chosen = runs[runs["variant"] == variant]
            values = [float(accuracy[r]) for r in chosen["run_dir"] if r in accuracy.index]
            if values:
                solved[variant] = (sum(v > pre.XOR_SUCCESS for v in values), len(values))
        parts.append("controls solving (> " + f"{pre.XOR_SUCCESS:g} %): "
                     + (", ".join(f"{v} {k}/{n}" for v, (k, n) in solved.items()) or "no control runs"))
        control = any(n and k / n >= share and k >= 2 for k, n in solved.values())
        reached = budget and control
        to_reach = []
        if not budget:
            to_reach.append(f"train {steps_needed} optimizer steps ({pre.XOR_PAPER_SCHEDULE}): "
                            "python -m ablations.reproduce paper=roles scale=full groups=delayed_xor")
        if not control:
            to_reach.append(f"no_reset or recurrent must solve the task in at least {share:.0%} of their seeds")
        if vanilla_learns:
            chosen = runs[runs["variant"] == "vanilla"]
            values = [float(accuracy[r]) for r in chosen["run_dir"] if r in accuracy.index]
            above = sum(v > pre.XOR_LEARNED for v in values)
            parts.append(f"vanilla above {pre.XOR_LEARNED:g} %: {above}/{len(values)}")
            if not values or above / len(values) < share or above < 2:
                reached = False
                to_reach.append(f"vanilla must escape chance (> {pre.XOR_LEARNED:g} %) in at least {share:.0%} of its seeds")
        return Reading(reached, "; ".join(parts), "; ".join(to_reach))

    rule = (f"the paper's budget ({steps_needed} optimizer steps) and a positive control: "
            f"{' or '.join(controls)} above {pre.XOR_SUCCESS:g} % in at least {share:.0%} of its seeds (2 or more)"
            + (f", and vanilla above {pre.XOR_LEARNED:g} % in as many" if vanilla_learns else ""))
    return Regime(rule, "preregistered.XOR_PAPER_STEPS (DH-SNN delayed_xor_snn.py: 150 x 100 steps), XOR_SUCCESS, "
                        "XOR_CONTROL_SHARE", check)


def attack_sanity(variants: Sequence[str]) -> Regime:
    """The compared networks learned, and (where the suite measured several budgets of the image
    PGD attack) the attack drives accuracy to at most PGD_SANITY_MAX_ACCURACY at its largest
    epsilon and accuracy does not rise with epsilon."""
    trained = learned(variants)

    def check(rows: pd.DataFrame) -> Reading:
        first = trained.check(rows)
        acc = m.eval_rows(rows, "adversarial", "accuracy")
        if acc.empty or "epsilon" not in acc.columns or "attack" not in acc.columns:
            return Reading(first.reached, first.measured + "; attack sanity: no per-budget attack rows (not checked)",
                           first.to_reach)
        acc = acc[acc["attack"] == "pgd"].assign(epsilon=lambda f: pd.to_numeric(f["epsilon"], errors="coerce"))
        curve = acc.groupby("epsilon")["value"].mean().sort_index() * 100.0
        if len(curve) < 2:
            return Reading(first.reached, first.measured + "; attack sanity: one budget only (not checked)",
                           first.to_reach)
        top = float(curve.iloc[-1])
        monotone = bool((np.diff(curve.to_numpy()) <= 1.0).all())  # 1 pp of sampling noise allowed
        sane = top <= pre.PGD_SANITY_MAX_ACCURACY and monotone
        measured = (first.measured + f"; PGD accuracy {top:.1f} % at epsilon {curve.index[-1]:g}, "
                    + ("falling" if monotone else "not falling") + " with epsilon")
        to_reach = first.to_reach if sane else (first.to_reach + "; " if first.to_reach else "") + \
            "an attack that reaches near 0 % at a large budget (more steps, a gradient-free check)"
        return Reading(first.reached and sane, measured, to_reach)

    return Regime(trained.rule + f"; attack sanity where measured: PGD accuracy at most {pre.PGD_SANITY_MAX_ACCURACY:g} % "
                  "at the largest epsilon, not rising with epsilon", trained.source + "; preregistered.PGD_SANITY_MAX_ACCURACY",
                  check)


def paper_data(datasets: Sequence[str]) -> Regime:
    """Measured on the paper's own data (a property of the inputs, not of a trained network)."""
    def check(rows: pd.DataFrame) -> Reading:
        dataset = _dataset(rows)
        if dataset in datasets:
            return Reading(True, f"on {dataset}")
        return Reading(False, f"on {dataset}, a stand-in for {' / '.join(datasets)}",
                       f"the paper's data: {' or '.join(datasets)} (scale=full)")

    return Regime(f"measured on the paper's data ({' / '.join(datasets)})", "the claim is about those inputs", check)


def analytic(datasets: Sequence[str]) -> Regime:
    """The paper's equation evaluated exactly, at the neuron parameters of the runs: the paper's
    regime only where those are the paper's (its own protocol, on ``datasets``); on a stand-in's
    scaled taus it is a result on the stand-in."""
    def check(rows: pd.DataFrame) -> Reading:
        dataset = _dataset(rows)
        if dataset in datasets:
            return Reading(True, f"analytic, at the neuron parameters of the {dataset} runs")
        return Reading(False, f"analytic, at the neuron parameters of the {dataset} stand-in runs (scaled taus)",
                       f"the paper's parameters: the runs of its protocol on {' or '.join(datasets)} (scale=full)")

    return Regime(f"the paper's equation at the paper's neuron parameters (runs on {' / '.join(datasets)})",
                  "seed 003 Eq. 4 and section 4.1's taus", check)


def all_of(*regimes: Regime) -> Regime:
    """Every regime reached."""
    def check(rows: pd.DataFrame) -> Reading:
        readings = [r.check(rows) for r in regimes]
        return Reading(all(r.reached for r in readings), "; ".join(r.measured for r in readings),
                       "; ".join(r.to_reach for r in readings if not r.reached and r.to_reach))

    return Regime("; and ".join(r.rule for r in regimes), "; ".join(r.source for r in regimes), check)
