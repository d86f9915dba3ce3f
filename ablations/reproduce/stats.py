"""The statistics behind a verdict, at the number of seeds a reproduction has.

Every test takes per-seed values (one number per trained network) and returns a :class:`Test`:
the verdict of the test alone, one line of evidence with the numbers it rests on, and the two
one-sided p-values the claim's family is corrected over: ``p`` for "holds" and ``p_fails`` for
"does not hold" (:mod:`ablations.reproduce.preregistered` states the rules and the correction).
With one-sided 95 % Student-t bounds:

* **Paired or not.** Values given as ``pandas.Series`` indexed by seed with ``attrs["paired"]``
  true on both sides (runs trained with ``train.rng=paired``: the same weights, batches and draws
  for the same seed, :mod:`ablations.streams`) are compared as paired differences over the seeds
  both sides have (paired t, df = n - 1); anything else by Welch's two-sample bounds.
* :func:`difference` (claim: A is greater / less than B by at least ``margin``): **holds** when
  the lower 95 % bound of the effect in the claimed direction exceeds ``margin``; **does not
  hold** when its upper 95 % bound is below ``margin``; otherwise **inconclusive** (the interval
  contains the margin). ``p`` tests effect <= margin, ``p_fails`` effect >= margin.
* :func:`equivalence` (claim: A and B are about the same, within ``margin``): **holds** when the
  90 % interval of A - B lies inside (-margin, margin) (TOST); **does not hold** when it lies
  entirely outside; otherwise inconclusive.
* :func:`below` / :func:`above` (claim: A stays below / above a level): the same rule against a
  constant with a one-sample bound.
* :func:`trend` (claim: y falls / rises as x grows): the least-squares slope; holds when its 95 %
  bound excludes 0 in the claimed direction, does not hold when it does so in the other.
* :func:`success_counts` (claim: A solves a task more often than B, per seed): McNemar's exact
  test on the discordant seeds of paired runs (Fisher's exact test for unpaired runs).

No post-hoc power: the tests never report "seeds needed" at the observed effect.
:func:`seeds_needed` plans seeds before a grid runs, at a planned effect and a spread from other
runs. :func:`holm` is the family's step-down correction. Fewer than two seeds on a side gives no
spread: inconclusive, whatever the means say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "NOT_MEASURED",
    "NOT_REACHED",
    "STANDIN",
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
    "seeds_needed",
    "success_counts",
    "trend",
]

HOLDS = "holds"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
NOT_REACHED = "regime not reached"  # the claim's regime check failed (full scale): no verdict on the paper
STANDIN = "stand-in only"  # quick / sample scale and the regime check failed: a result on the stand-in, none on the paper
NOT_MEASURED = "not measured"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_REACHED, STANDIN, NOT_MEASURED)
CONFIDENCE = 0.95
ALPHA = 0.05  # one-sided level of each direction (preregistered.ALPHA)
POWER = 0.80


@dataclass(frozen=True)
class Test:
    verdict: str
    evidence: str
    effect: float = math.nan  # the measured difference / slope / mean in the claim's direction
    p: float = math.nan  # one-sided p-value of "holds" (H0: the effect is at most the margin)
    method: str = ""  # paired t | Welch | one-sample t | slope | McNemar | Fisher | TOST ...
    n: int = 0  # seeds per side the test rests on (0: not a per-seed test)
    p_fails: float = math.nan  # one-sided p-value of "does not hold" (H0: the effect is at least the margin)


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
    """Seeds per side for 80 % power at one-sided 95 % to resolve ``delta`` at spread ``sd``, for
    planning a grid before it runs (``delta``: the distance from the effect one plans for to the
    claim's margin; ``sd``: a spread from other runs, never the judged ones)
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


def difference(a, b, direction: str, margin: float, names: tuple[str, str] = ("A", "B"), unit: str = "") -> Test:
    """Claim: ``a`` is ``direction`` ('greater' | 'less') than ``b`` by at least ``margin``: holds when
    the one-sided 95 % lower bound of the effect exceeds ``margin``, does not hold when the upper
    bound is below it (``p`` and ``p_fails``: the two one-sided tests against the margin)."""
    if direction not in ("greater", "less"):
        raise ValueError(f"direction={direction!r} is not 'greater' or 'less'")
    interval = _interval(a, b, names, unit)
    if interval.few:
        return interval.few
    effect = interval.diff if direction == "greater" else -interval.diff
    half = interval.half()
    low, high = effect - half, effect + half
    if interval.se > 0:
        p = _t_sf((effect - margin) / interval.se, interval.df)
        p_fails = _t_sf((margin - effect) / interval.se, interval.df)
    else:
        p, p_fails = (0.0, 1.0) if effect > margin else (1.0, 0.0) if effect < margin else (1.0, 1.0)
    word = "higher" if direction == "greater" else "lower"
    evidence = (f"{interval.head}; {names[0]} {word} by {_fmt(effect)}{unit} (one-sided 95% bounds "
                f"[{_fmt(low)}, {_fmt(high)}], {interval.method}, against the margin {_fmt(margin)}{unit}: "
                f"{_p(p)} for holds, {_p(p_fails)} for does not hold)")
    verdict = HOLDS if low > margin else FAILS if high < margin else INCONCLUSIVE
    if verdict == INCONCLUSIVE:
        evidence += "; the interval contains the margin"
    return Test(verdict, evidence, effect, p, method=interval.method, n=interval.n, p_fails=p_fails)


def equivalence(a, b, margin: float, names: tuple[str, str] = ("A", "B"), unit: str = "") -> Test:
    """Claim: ``a`` and ``b`` agree within ``margin``: holds when the 90 % interval of A - B lies
    inside (-margin, margin) (two one-sided tests, TOST, ``p`` the larger of the two); does not
    hold when it lies outside (``p_fails``: the smaller one-sided p of |A - B| > margin, doubled
    for its two sides)."""
    interval = _interval(a, b, names, unit)
    if interval.few:
        return interval.few
    diff, half = interval.diff, interval.half()
    low, high = diff - half, diff + half
    if interval.se > 0:
        p = max(_t_sf((diff + margin) / interval.se, interval.df), _t_sf((margin - diff) / interval.se, interval.df))
        p_fails = min(1.0, 2 * min(_t_sf((diff - margin) / interval.se, interval.df),
                                   _t_sf((-margin - diff) / interval.se, interval.df)))
    else:
        p, p_fails = (0.0, 1.0) if abs(diff) < margin else (1.0, 0.0)
    evidence = (f"{interval.head}; difference {_fmt(diff)}{unit}, 90% interval [{_fmt(low)}, {_fmt(high)}] "
                f"against the equivalence margin ±{_fmt(margin)}{unit} (TOST, {interval.method}, {_p(p)} for "
                f"holds, {_p(p_fails)} for does not hold)")
    verdict = HOLDS if (-margin < low and high < margin) else FAILS if (low >= margin or high <= -margin) \
        else INCONCLUSIVE
    return Test(verdict, evidence, diff, p, method="TOST " + interval.method, n=interval.n, p_fails=p_fails)


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
    if se > 0:
        p, p_fails = _t_sf(effect / se, a.size - 1), _t_sf(-effect / se, a.size - 1)
    else:
        p, p_fails = (0.0, 1.0) if effect > 0 else (1.0, 0.0)
    word = "below" if direction == "less" else "above"
    evidence = (f"{head}; one-sided 95% bounds [{_fmt(low)}, {_fmt(high)}]{unit} against {word} {_fmt(level)}{unit} "
                f"(one-sample t, {_p(p)} for holds, {_p(p_fails)} for does not hold)")
    if direction == "less":
        verdict = HOLDS if high < level else FAILS if low > level else INCONCLUSIVE
    else:
        verdict = HOLDS if low > level else FAILS if high < level else INCONCLUSIVE
    return Test(verdict, evidence, mean, p, method="one-sample t", n=int(a.size), p_fails=p_fails)


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
    if fit.stderr > 0:
        p, p_fails = _t_sf(effect / float(fit.stderr), df), _t_sf(-effect / float(fit.stderr), df)
    else:
        p, p_fails = (0.0, 1.0) if effect > 0 else (1.0, 0.0)
    means = ", ".join(f"{_fmt(v)}: {_fmt(float(ys[xs == v].mean()))}" for v in np.unique(xs))
    evidence = (f"mean {names[1]} per {names[0]}: {means}; slope {_fmt(float(fit.slope))} per unit of {names[0]} "
                f"(one-sided 95% bounds [{_fmt(float(fit.slope) - half)}, {_fmt(float(fit.slope) + half)}], "
                f"{len(pairs)} runs, {_p(p)})")
    verdict = HOLDS if effect - half > 0 else FAILS if effect + half < 0 else INCONCLUSIVE
    return Test(verdict, evidence, effect, p, method="slope", n=len(pairs), p_fails=p_fails)


def success_counts(a, b, level: float, names: tuple[str, str] = ("A", "B"), unit: str = "") -> Test:
    """Claim: ``a`` succeeds (value above ``level``) more often than ``b``.

    Paired runs (both Series marked ``paired``, :func:`by_seed`): McNemar's exact test on the seeds
    both sides have, a binomial test of the discordant seeds (``scipy.stats.binomtest``): ``p``
    that ``a`` solves where ``b`` does not more often than the reverse, ``p_fails`` the reverse.
    Unpaired runs: Fisher's exact test on the 2 x 2 table, both one-sided directions (the pairing
    is absent, not argued away). Holds / does not hold when the one-sided p is below
    :data:`ALPHA` (before the family's correction); inconclusive otherwise.
    """
    from scipy import stats

    pairs = _pairs(a, b)
    if pairs is not None:
        x, y = pairs
        won, lost = int(((x > level) & ~(y > level)).sum()), int((~(x > level) & (y > level)).sum())
        discordant = won + lost
        head = (f"runs above {_fmt(level)}{unit}, paired by seed: {names[0]} {int((x > level).sum())}/{x.size} "
                f"({mean_sd(x)}{unit}), {names[1]} {int((y > level).sum())}/{y.size} ({mean_sd(y)}{unit}); "
                f"discordant seeds: {won} where only {names[0]} solves it, {lost} where only {names[1]} does")
        if discordant == 0:
            return Test(INCONCLUSIVE, f"{head}; no discordant seed: McNemar's test has nothing to count",
                        0.0, 1.0, method="McNemar", n=int(x.size), p_fails=1.0)
        p = float(stats.binomtest(won, discordant, 0.5, alternative="greater").pvalue)
        p_fails = float(stats.binomtest(lost, discordant, 0.5, alternative="greater").pvalue)
        effect, method, n = (won - lost) / x.size, "McNemar", int(x.size)
        evidence = f"{head}; McNemar's exact test (binomial on the discordant seeds): {_p(p)} for holds, {_p(p_fails)} for does not hold"
    else:
        x, y = _values(a), _values(b)
        sa, sb = int((x > level).sum()), int((y > level).sum())
        head = (f"runs above {_fmt(level)}{unit}: {names[0]} {sa}/{x.size} ({mean_sd(x)}{unit}), "
                f"{names[1]} {sb}/{y.size} ({mean_sd(y)}{unit}), unpaired")
        if x.size == 0 or y.size == 0:
            return Test(INCONCLUSIVE, f"{head}; a side has no runs")
        table = [[sa, x.size - sa], [sb, y.size - sb]]
        p = float(stats.fisher_exact(table, alternative="greater").pvalue)
        p_fails = float(stats.fisher_exact(table, alternative="less").pvalue)
        effect, method, n = sa / x.size - sb / y.size, "Fisher", int(min(x.size, y.size))
        evidence = f"{head}; Fisher's exact test (runs not paired by seed): {_p(p)} for holds, {_p(p_fails)} for does not hold"
    verdict = HOLDS if p < ALPHA else FAILS if p_fails < ALPHA else INCONCLUSIVE
    return Test(verdict, evidence, effect, p, method=method, n=n, p_fails=p_fails)


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


def multiplicity_note(n_claims: int, n_hypotheses: int) -> str:
    """One sentence on the family the verdicts on the paper are corrected over."""
    return (f"Family-wise error: Holm's step-down correction over both directions (holds, does not hold) of the "
            f"{n_claims} claim(s) whose regime is reached ({n_hypotheses} one-sided hypotheses); a verdict on the "
            f"paper needs its adjusted p below {ALPHA:g}, so the chance of any wrong \"holds\" or wrong \"does not "
            f"hold\" among them is at most {ALPHA:g}.")


def combine(verdicts: Sequence[str]) -> str:
    """A claim made of parts: holds when every part holds; does not hold when any part does not
    hold; not measured when none is; stand-in only / regime not reached when no part gives a
    verdict on the paper for that reason; otherwise inconclusive."""
    verdicts = list(verdicts)
    if not verdicts or all(v == NOT_MEASURED for v in verdicts):
        return NOT_MEASURED
    if any(v == FAILS for v in verdicts):
        return FAILS
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    for reason in (STANDIN, NOT_REACHED):
        if all(v in (reason, NOT_MEASURED) for v in verdicts):
            return reason
    if all(v in (STANDIN, NOT_REACHED, NOT_MEASURED) for v in verdicts):
        return NOT_REACHED
    return INCONCLUSIVE
