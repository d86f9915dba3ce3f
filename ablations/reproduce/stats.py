"""The statistics behind a verdict, at the number of seeds a reproduction has.

Every test takes per-seed values (one number per trained network) and returns a :class:`Test`:
the verdict, one line of evidence with the numbers it rests on, the one-sided p-value of the
claim's "holds" (``p``) and, for an inconclusive one, the seeds that would decide it
(``seeds_needed``). The rules, with one-sided 95 % Student-t bounds:

* **Paired or not.** Values given as ``pandas.Series`` indexed by seed with ``attrs["paired"]``
  true on both sides (runs trained with ``train.rng=paired``: the same weights, batches and draws
  for the same seed, :mod:`ablations.streams`) are compared as paired differences over the seeds
  both sides have (paired t, df = n - 1); anything else by Welch's two-sample bounds.
* :func:`difference` (claim: A is greater / less than B by at least ``margin``): **holds** when
  the difference in the claimed direction exceeds ``margin`` and its lower 95 % bound exceeds
  0; **does not hold** when its upper 95 % bound is below ``margin`` (no effect of the claimed
  size, or the opposite one); otherwise **inconclusive** (inside the noise).
* :func:`equivalence` (claim: A and B are about the same, within ``margin``, stated in the
  evidence): **holds** when the 90 % interval of A - B lies inside (-margin, margin) (two
  one-sided tests, TOST); **does not hold** when it lies entirely outside; otherwise inconclusive.
* :func:`below` / :func:`above` (claim: A stays below / above a level): the same rule against a
  constant with a one-sample bound.
* :func:`trend` (claim: y falls / rises as x grows): the least-squares slope of y on x over all
  runs; holds when its 95 % bound excludes 0 in the claimed direction, does not hold when it does
  so in the other direction, inconclusive otherwise.
* :func:`success_counts` (claim: A succeeds more often than B, a run succeeding when its value
  exceeds a stated level): Fisher's exact test on the 2 x 2 table of successes (one-sided);
  where neither side has a single success and the schedule is shorter than the paper's, the
  verdict is **regime not reached** at this budget, not "does not hold".

**Seeds needed** (:func:`seeds_needed`): for an inconclusive difference, the seeds per side at
which a true effect equal to the observed one would be decided with 80 % power at one-sided 95 %:
``n = (t_0.95 + t_0.80)^2 (sigma / Delta)^2`` (paired: sigma the s.d. of the differences; Welch:
twice that with sigma the pooled s.d., i.e. about 12.4 (sigma / Delta)^2 for large n), iterated for
the t quantiles at n - 1 degrees of freedom; ``Delta`` is the distance from the observed effect to
the bound that would decide it (to 0 when the effect exceeds the margin, to the margin otherwise).

**Multiplicity** (:func:`holm`): a paper's claims are judged together; Holm's step-down
correction of their "holds" p-values keeps the chance of any false "holds" at or below 5 %. A
claim that holds alone but not after the correction is inconclusive, and the table gives the raw
and adjusted p beside each claim (:func:`multiplicity_note` says how many false holds one would
expect without it).

Fewer than two seeds on a side gives no spread: inconclusive, whatever the means say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "NOT_COMPARABLE",
    "NOT_MEASURED",
    "NOT_REACHED",
    "ALPHA",
    "POWER",
    "VERDICTS",
    "Test",
    "above",
    "below",
    "by_seed",
    "combine",
    "difference",
    "equivalence",
    "holm",
    "mean_sd",
    "multiplicity_note",
    "seeds_after_correction",
    "seeds_needed",
    "success_counts",
    "trend",
]

HOLDS = "holds"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"   # measured outside the paper's regime (the evidence says how far)
NOT_REACHED = "regime not reached"  # at this budget no run reaches the regime the claim speaks of
NOT_MEASURED = "not measured"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_COMPARABLE, NOT_REACHED, NOT_MEASURED)
CONFIDENCE = 0.95
ALPHA = 0.05  # one-sided level: "holds" needs p below it (a p of exactly 0.05, e.g. Fisher's 3 vs 0, does not)
POWER = 0.80


@dataclass(frozen=True)
class Test:
    verdict: str
    evidence: str
    effect: float = math.nan  # the measured difference / slope / mean in the claim's direction
    p: float = math.nan  # one-sided p-value of "holds" (H0: no effect in the claimed direction)
    seeds_needed: float = math.nan  # seeds per side that would decide an inconclusive one (80 % power)
    method: str = ""  # paired t | Welch | one-sample t | slope | Fisher | TOST ...
    n: int = 0  # seeds per side the test rests on (0: not a per-seed test)


def by_seed(values: dict[int, float] | Sequence[tuple[int, float]], paired: bool):
    """Per-seed values as a Series indexed by seed, marked ``paired`` for :func:`difference`."""
    import pandas as pd

    series = pd.Series(dict(values), dtype=float).sort_index()
    series.attrs["paired"] = bool(paired)
    return series


def _values(values: Sequence[float]) -> np.ndarray:
    array = np.asarray([float(v) for v in values], dtype=float)
    return array[np.isfinite(array)]


def _t(quantile: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(quantile, df)) if df > 0 else math.inf


def _t_sf(t: float, df: float) -> float:
    from scipy import stats

    if not math.isfinite(t):
        return 0.0 if t > 0 else 1.0
    return float(stats.t.sf(t, df)) if df > 0 else math.nan


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± s.d. (n=k)`` of finite values (s.d. with ddof=1)."""
    array = _values(values)
    if array.size == 0:
        return "no values"
    sd = float(np.std(array, ddof=1)) if array.size > 1 else math.nan
    spread = f" ± {sd:.2g}" if math.isfinite(sd) else ""
    return f"{_fmt(float(np.mean(array)), digits)}{spread} (n={array.size})"


def _fmt(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{max(digits - 1, 1)}f}".rstrip("0").rstrip(".")


def _p(value: float) -> str:
    return "p < 1e-4" if value < 1e-4 else f"p = {value:.2g}"


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean difference a - b, its standard error and Welch's degrees of freedom."""
    va, vb = np.var(a, ddof=1) / a.size, np.var(b, ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return float(a.mean() - b.mean()), 0.0, math.inf
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    return float(a.mean() - b.mean()), se, df


def _too_few(a: np.ndarray, b: np.ndarray | None, names: tuple[str, str]) -> Test | None:
    small = [(name, arr.size) for name, arr in zip(names, (a, b)) if arr is not None and arr.size < 2]
    if small:
        what = ", ".join(f"{name}: {size} seed(s)" for name, size in small)
        return Test(INCONCLUSIVE, f"fewer than 2 seeds ({what}); no spread to judge a difference by")
    return None


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray] | None:
    """The values of the seeds both sides have, when both are marked paired (else None)."""
    if not (getattr(a, "attrs", {}).get("paired") and getattr(b, "attrs", {}).get("paired")):
        return None
    common = [s for s in a.index if s in b.index and np.isfinite(a[s]) and np.isfinite(b[s])]
    if len(common) < 2:
        return None
    return np.array([float(a[s]) for s in common]), np.array([float(b[s]) for s in common])


@dataclass(frozen=True)
class _Interval:
    head: str
    few: Test | None
    diff: float = math.nan
    se: float = math.nan
    df: float = math.nan
    method: str = ""
    sd: float = math.nan  # s.d. of the paired differences, or the pooled s.d. of the two sides
    paired: bool = False
    n: int = 0

    def half(self, confidence: float = CONFIDENCE) -> float:
        return _t(confidence, self.df) * self.se


def _interval(a, b, names: tuple[str, str], unit: str) -> _Interval:
    """The mean difference ``a - b`` with its standard error: paired t on common seeds where both
    sides are marked paired, else Welch."""
    pairs = _pairs(a, b)
    if pairs is not None:
        x, y = pairs
        d = x - y
        head = (f"{names[0]} {mean_sd(x)} vs {names[1]} {mean_sd(y)}{unit}, paired by seed "
                f"(difference {mean_sd(d)}{unit})")
        sd = float(np.std(d, ddof=1))
        se = sd / math.sqrt(d.size)
        return _Interval(head, None, float(d.mean()), se, d.size - 1 if se > 0 else math.inf, "paired t", sd, True,
                         int(d.size))
    x, y = _values(a), _values(b)
    head = f"{names[0]} {mean_sd(x)} vs {names[1]} {mean_sd(y)}{unit}"
    few = _too_few(x, y, names)
    if few:
        return _Interval(head, Test(few.verdict, f"{head}; {few.evidence}"))
    diff, se, df = _welch(x, y)
    pooled = math.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2)
    return _Interval(head, None, diff, se, df, "Welch", pooled, False, int(min(x.size, y.size)))


def seeds_needed(sd: float, delta: float, paired: bool, one_sample: bool = False) -> float:
    """Seeds per side for 80 % power at one-sided 95 % to resolve ``delta`` at spread ``sd``
    (paired differences or one sample: ``(t_.95 + t_.80)^2 (sd/delta)^2``; two independent
    samples: twice that); ``inf`` when ``delta`` is 0, NaN without a spread."""
    if not (math.isfinite(sd) and math.isfinite(delta)):
        return math.nan
    if delta == 0:
        return math.inf
    if sd == 0:
        return 2.0
    factor = 1.0 if (paired or one_sample) else 2.0
    n = 2.0
    for _ in range(50):  # fixed point of n = factor (t_.95(n-1) + t_.80(n-1))^2 (sd/delta)^2
        df = max(n - 1, 1) if (paired or one_sample) else max(2 * n - 2, 1)
        new = factor * (_t(CONFIDENCE, df) + _t(POWER, df)) ** 2 * (sd / delta) ** 2
        new = max(2.0, math.ceil(new))
        if new == n:
            break
        n = new
    return float(n)


def _undecided(interval: _Interval, effect: float, margin: float) -> float:
    distance = effect if effect > margin else margin - effect
    return seeds_needed(interval.sd, abs(distance), interval.paired)


def _needed_text(test: Test) -> str:
    if test.verdict != INCONCLUSIVE or not math.isfinite(test.seeds_needed) and test.seeds_needed != math.inf:
        return ""
    if test.seeds_needed == math.inf:
        return "; no number of seeds decides it at the observed effect (it sits on the bound)"
    return f"; about {test.seeds_needed:.0f} seeds per side would decide it (80 % power, one-sided 95 %, observed spread)"


def difference(a, b, direction: str, margin: float, names: tuple[str, str] = ("A", "B"), unit: str = "") -> Test:
    """Claim: ``a`` is ``direction`` ('greater' | 'less') than ``b`` by at least ``margin``."""
    if direction not in ("greater", "less"):
        raise ValueError(f"direction={direction!r} is not 'greater' or 'less'")
    interval = _interval(a, b, names, unit)
    if interval.few:
        return interval.few
    effect = interval.diff if direction == "greater" else -interval.diff
    half = interval.half()
    low, high = effect - half, effect + half
    p = _t_sf(effect / interval.se, interval.df) if interval.se > 0 else (0.0 if effect > 0 else 1.0)
    word = "higher" if direction == "greater" else "lower"
    evidence = (f"{interval.head}; {names[0]} {word} by {_fmt(effect)}{unit} (one-sided 95% bounds "
                f"[{_fmt(low)}, {_fmt(high)}], {interval.method}, margin {_fmt(margin)}{unit}, {_p(p)})")
    if effect > margin and low > 0:
        return Test(HOLDS, evidence, effect, p, method=interval.method, n=interval.n)
    if high < margin:
        return Test(FAILS, evidence, effect, p, method=interval.method, n=interval.n)
    test = Test(INCONCLUSIVE, evidence + "; inside the noise", effect, p, _undecided(interval, effect, margin),
                interval.method, interval.n)
    return replace(test, evidence=test.evidence + _needed_text(test))


def equivalence(a, b, margin: float, names: tuple[str, str] = ("A", "B"), unit: str = "") -> Test:
    """Claim: ``a`` and ``b`` agree within ``margin`` (two one-sided tests, 90 % interval)."""
    interval = _interval(a, b, names, unit)
    if interval.few:
        return interval.few
    diff, half = interval.diff, interval.half()
    low, high = diff - half, diff + half
    if interval.se > 0:
        p = max(_t_sf((diff + margin) / interval.se, interval.df), _t_sf((margin - diff) / interval.se, interval.df))
    else:
        p = 0.0 if abs(diff) < margin else 1.0
    evidence = (f"{interval.head}; difference {_fmt(diff)}{unit}, 90% interval [{_fmt(low)}, {_fmt(high)}] "
                f"against the equivalence margin ±{_fmt(margin)}{unit} (TOST, {interval.method}, {_p(p)})")
    if -margin < low and high < margin:
        return Test(HOLDS, evidence, diff, p, method="TOST " + interval.method, n=interval.n)
    if low >= margin or high <= -margin:
        return Test(FAILS, evidence, diff, p, method="TOST " + interval.method)
    distance = margin - abs(diff)
    needed = seeds_needed(interval.sd, distance, interval.paired) if distance > 0 else \
        seeds_needed(interval.sd, abs(distance), interval.paired)
    test = Test(INCONCLUSIVE, evidence, diff, p, needed, "TOST " + interval.method)
    return replace(test, evidence=test.evidence + _needed_text(test))


def _one_sample(a: Sequence[float], level: float, direction: str, name: str, unit: str) -> Test:
    a = _values(a)
    head = f"{name} {mean_sd(a)}{unit}"
    few = _too_few(a, None, (name, ""))
    if few:
        return Test(few.verdict, f"{head}; {few.evidence}")
    sd = float(np.std(a, ddof=1))
    se = sd / math.sqrt(a.size)
    half = _t(CONFIDENCE, a.size - 1) * se
    mean = float(a.mean())
    low, high = mean - half, mean + half
    effect = (level - mean) if direction == "less" else (mean - level)
    p = _t_sf(effect / se, a.size - 1) if se > 0 else (0.0 if effect > 0 else 1.0)
    word = "below" if direction == "less" else "above"
    evidence = (f"{head}; one-sided 95% bounds [{_fmt(low)}, {_fmt(high)}]{unit} against {word} {_fmt(level)}{unit} "
                f"(one-sample t, {_p(p)})")
    if direction == "less":
        verdict = HOLDS if high < level else FAILS if low > level else INCONCLUSIVE
    else:
        verdict = HOLDS if low > level else FAILS if high < level else INCONCLUSIVE
    needed = seeds_needed(sd, abs(effect), paired=False, one_sample=True) if verdict == INCONCLUSIVE else math.nan
    test = Test(verdict, evidence, mean, p, needed, "one-sample t", int(a.size))
    return replace(test, evidence=test.evidence + _needed_text(test))


def below(a: Sequence[float], level: float, name: str = "A", unit: str = "") -> Test:
    """Claim: the mean of ``a`` stays below ``level``."""
    return _one_sample(a, level, "less", name, unit)


def above(a: Sequence[float], level: float, name: str = "A", unit: str = "") -> Test:
    """Claim: the mean of ``a`` stays above ``level``."""
    return _one_sample(a, level, "greater", name, unit)


def trend(x: Sequence[float], y: Sequence[float], direction: str, names: tuple[str, str] = ("x", "y")) -> Test:
    """Claim: ``y`` falls (direction 'less') or rises ('greater') as ``x`` grows (least-squares slope)."""
    from scipy import stats

    pairs = [(float(a), float(b)) for a, b in zip(x, y) if math.isfinite(float(a)) and math.isfinite(float(b))]
    xs = np.array([p[0] for p in pairs])
    ys = np.array([p[1] for p in pairs])
    if len(pairs) < 3 or np.unique(xs).size < 2:
        return Test(INCONCLUSIVE, f"{len(pairs)} run(s) at {np.unique(xs).size} value(s) of {names[0]}: "
                                  "too few for a slope")
    fit = stats.linregress(xs, ys)
    df = len(pairs) - 2
    half = _t(CONFIDENCE, df) * float(fit.stderr)
    sign = 1.0 if direction == "greater" else -1.0
    effect = sign * float(fit.slope)
    p = _t_sf(effect / float(fit.stderr), df) if fit.stderr > 0 else (0.0 if effect > 0 else 1.0)
    means = ", ".join(f"{_fmt(v)}: {_fmt(float(ys[xs == v].mean()))}" for v in np.unique(xs))
    evidence = (f"mean {names[1]} per {names[0]}: {means}; slope {_fmt(float(fit.slope))} per unit of {names[0]} "
                f"(one-sided 95% bounds [{_fmt(float(fit.slope) - half)}, {_fmt(float(fit.slope) + half)}], "
                f"{len(pairs)} runs, {_p(p)})")
    if effect - half > 0:
        return Test(HOLDS, evidence, effect, p, method="slope")
    if effect + half < 0:
        return Test(FAILS, evidence, effect, p, method="slope")
    return Test(INCONCLUSIVE, evidence, effect, p, method="slope")


def success_counts(a: Sequence[float], b: Sequence[float], level: float, names: tuple[str, str] = ("A", "B"),
                   unit: str = "", budget: str = "", short_budget: bool = False) -> Test:
    """Claim: ``a`` succeeds (value above ``level``) more often than ``b``: Fisher's exact test,
    one-sided. Without a single success on either side and ``short_budget`` (fewer epochs than
    the paper's, said in ``budget``): :data:`NOT_REACHED`."""
    from scipy import stats

    x, y = _values(a), _values(b)
    sa, sb = int((x > level).sum()), int((y > level).sum())
    head = (f"runs above {_fmt(level)}{unit}: {names[0]} {sa}/{x.size} ({mean_sd(x)}{unit}), "
            f"{names[1]} {sb}/{y.size} ({mean_sd(y)}{unit})")
    if x.size == 0 or y.size == 0:
        return Test(INCONCLUSIVE, f"{head}; a side has no runs")
    if sa == 0 and sb == 0 and short_budget:
        return Test(NOT_REACHED, f"{head}; no run reaches the regime the claim speaks of at this budget ({budget}); "
                                 "train the paper's schedule before judging it", method="Fisher")
    p = float(stats.fisher_exact([[sa, x.size - sa], [sb, y.size - sb]], alternative="greater").pvalue)
    p_other = float(stats.fisher_exact([[sa, x.size - sa], [sb, y.size - sb]], alternative="less").pvalue)
    evidence = f"{head}; Fisher's exact test, one-sided {_p(p)}"
    if p < ALPHA * (1 - 1e-9):
        return Test(HOLDS, evidence, sa / x.size - sb / y.size, p, method="Fisher")
    if p_other < ALPHA * (1 - 1e-9) or (sa == 0 and sb == y.size):
        return Test(FAILS, evidence, sa / x.size - sb / y.size, p, method="Fisher")
    needed = _fisher_seeds(sa / x.size, sb / y.size)
    test = Test(INCONCLUSIVE, evidence, sa / x.size - sb / y.size, p, needed, "Fisher")
    return replace(test, evidence=test.evidence + _needed_text(test))


def _fisher_seeds(rate_a: float, rate_b: float) -> float:
    """Seeds per side for 80 % power of a one-sided 95 % Fisher test at these success rates
    (exact power over the binomial outcomes, searched up to 200)."""
    from scipy import stats

    rate_a, rate_b = min(max(rate_a, 0.02), 0.98), min(max(rate_b, 0.02), 0.98)
    if rate_a <= rate_b:
        return math.inf
    for n in range(2, 201):
        pa, pb = stats.binom.pmf(np.arange(n + 1), n, rate_a), stats.binom.pmf(np.arange(n + 1), n, rate_b)
        power = 0.0
        for i in range(n + 1):
            for j in range(n + 1):
                if pa[i] * pb[j] < 1e-9:
                    continue
                if stats.fisher_exact([[i, n - i], [j, n - j]], alternative="greater").pvalue < ALPHA * (1 - 1e-9):
                    power += pa[i] * pb[j]
        if power >= POWER:
            return float(n)
        if n >= 30:
            break
    return math.inf


def seeds_after_correction(p: float, n: int, level: float) -> float:
    """Seeds per side at which a t-based claim with one-sided ``p`` at ``n`` seeds would reach
    ``level`` (Holm's threshold for its rank) with 80 % power, its effect and spread as observed:
    the t statistic grows as sqrt(n), so n x ((z_(1-level) + z_0.80) / z_(1-p))^2."""
    from scipy import stats

    if not (n >= 2 and 0 < p < 0.5 and level > 0):
        return math.nan
    now = float(stats.norm.isf(p))
    need = float(stats.norm.isf(level) + stats.norm.isf(1 - POWER))
    return float(max(n + 1, math.ceil(n * (need / now) ** 2)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN); reject at level alpha where adjusted < alpha."""
    p = np.asarray([float(v) for v in p_values], dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, math.nan)
    m = finite.size
    running = 0.0
    for rank, index in enumerate(finite[np.argsort(p[finite], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out.tolist()


def multiplicity_note(raw: Sequence[float], verdicts: Sequence[str]) -> str:
    """One sentence: how many claims were tested, the false "holds" to expect without a correction,
    and what Holm's correction keeps."""
    pairs = [(float(p), v) for p, v in zip(raw, verdicts) if math.isfinite(float(p))]
    m = len(pairs)
    holds = [p for p, v in pairs if v == HOLDS]
    return (f"{m} claim(s) carry a p-value. Judged at 95 % each without a correction, up to {0.05 * m:.2f} false "
            f"\"holds\" are expected where no claimed effect is real; Holm's correction (adjusted p beside each claim, "
            f"\"holds\" only where it is below 0.05) keeps the chance of any false \"holds\" at or below 5 %. "
            f"Expected false \"holds\" among the {len(holds)} that hold: at most {sum(holds):.3g} (sum of their raw p).")


def combine(verdicts: Sequence[str]) -> str:
    """A claim made of parts: holds when every measured part holds and all are measured; does not
    hold when any part does not hold; not measured when none is; otherwise inconclusive (a part
    that is not comparable or whose regime is not reached decides nothing)."""
    verdicts = list(verdicts)
    if not verdicts or all(v == NOT_MEASURED for v in verdicts):
        return NOT_MEASURED
    if any(v == FAILS for v in verdicts):
        return FAILS
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v in (NOT_COMPARABLE, NOT_MEASURED) for v in verdicts) and NOT_COMPARABLE in verdicts:
        return NOT_COMPARABLE
    if all(v in (NOT_REACHED, NOT_MEASURED) for v in verdicts) and NOT_REACHED in verdicts:
        return NOT_REACHED
    return INCONCLUSIVE
