"""The statistics behind a verdict, at the number of seeds a reproduction has.

Every test takes per-seed values (one number per trained network) and returns a :class:`Test`:
the verdict and one line of evidence with the numbers it rests on. The rules, with ``n`` seeds
per side and one-sided 95 % Student-t bounds (Welch's for two groups):

* :func:`difference` (claim: A is greater / less than B by at least ``margin``): **holds** when
  the difference in the claimed direction exceeds ``margin`` and its lower 95 % bound exceeds
  0; **does not hold** when its upper 95 % bound is below ``margin`` (no effect of the claimed
  size, or the opposite one); otherwise **inconclusive** (inside the noise).
* :func:`equivalence` (claim: A and B are about the same, within ``margin``): **holds** when the
  90 % interval of A - B lies inside (-margin, margin) (two one-sided tests); **does not hold**
  when the interval lies entirely outside it; otherwise inconclusive.
* :func:`below` / :func:`above` (claim: A stays below / above a level): the same rule against a
  constant with a one-sample bound.
* :func:`trend` (claim: y falls / rises as x grows): the least-squares slope of y on x over all
  runs; holds when its 95 % bound excludes 0 in the claimed direction, does not hold when it does
  so in the other direction, inconclusive otherwise.

Fewer than two seeds on a side gives no spread: inconclusive, whatever the means say.
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
    "VERDICTS",
    "Test",
    "above",
    "below",
    "combine",
    "difference",
    "equivalence",
    "mean_sd",
    "trend",
]

HOLDS = "holds"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURED)
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Test:
    verdict: str
    evidence: str
    effect: float = math.nan  # the measured difference / slope / mean in the claim's direction


def _values(values: Sequence[float]) -> np.ndarray:
    array = np.asarray([float(v) for v in values], dtype=float)
    return array[np.isfinite(array)]


def _t(quantile: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(quantile, df)) if df > 0 else math.inf


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


def _welch_interval(a: Sequence[float], b: Sequence[float], names: tuple[str, str],
                    unit: str) -> tuple[str, Test | None, float, float]:
    """The evidence head, a verdict when there are too few seeds, the mean difference ``a - b``
    and the half width of its interval at :data:`CONFIDENCE` (Welch)."""
    a, b = _values(a), _values(b)
    head = f"{names[0]} {mean_sd(a)} vs {names[1]} {mean_sd(b)}{unit}"
    few = _too_few(a, b, names)
    if few:
        return head, Test(few.verdict, f"{head}; {few.evidence}"), math.nan, math.nan
    diff, se, df = _welch(a, b)
    return head, None, diff, _t(CONFIDENCE, df) * se


def difference(a: Sequence[float], b: Sequence[float], direction: str, margin: float,
               names: tuple[str, str] = ("A", "B"), unit: str = "") -> Test:
    """Claim: ``a`` is ``direction`` ('greater' | 'less') than ``b`` by at least ``margin``."""
    if direction not in ("greater", "less"):
        raise ValueError(f"direction={direction!r} is not 'greater' or 'less'")
    head, few, diff, half = _welch_interval(a, b, names, unit)
    if few:
        return few
    effect = diff if direction == "greater" else -diff
    low, high = effect - half, effect + half
    word = "higher" if direction == "greater" else "lower"
    evidence = (f"{head}; {names[0]} {word} by {_fmt(effect)}{unit} (one-sided 95% bounds "
                f"[{_fmt(low)}, {_fmt(high)}], Welch, margin {_fmt(margin)}{unit})")
    if effect > margin and low > 0:
        return Test(HOLDS, evidence, effect)
    if high < margin:
        return Test(FAILS, evidence, effect)
    return Test(INCONCLUSIVE, evidence + "; inside the noise", effect)


def equivalence(a: Sequence[float], b: Sequence[float], margin: float, names: tuple[str, str] = ("A", "B"),
                unit: str = "") -> Test:
    """Claim: ``a`` and ``b`` agree within ``margin`` (two one-sided tests, 90 % interval)."""
    head, few, diff, half = _welch_interval(a, b, names, unit)
    if few:
        return few
    low, high = diff - half, diff + half
    evidence = (f"{head}; difference {_fmt(diff)}{unit}, 90% interval [{_fmt(low)}, {_fmt(high)}] "
                f"against ±{_fmt(margin)}{unit}")
    if -margin < low and high < margin:
        return Test(HOLDS, evidence, diff)
    if low >= margin or high <= -margin:
        return Test(FAILS, evidence, diff)
    return Test(INCONCLUSIVE, evidence, diff)


def _one_sample(a: Sequence[float], level: float, direction: str, name: str, unit: str) -> Test:
    a = _values(a)
    head = f"{name} {mean_sd(a)}{unit}"
    few = _too_few(a, None, (name, ""))
    if few:
        return Test(few.verdict, f"{head}; {few.evidence}")
    se = float(np.std(a, ddof=1)) / math.sqrt(a.size)
    half = _t(CONFIDENCE, a.size - 1) * se
    mean = float(a.mean())
    low, high = mean - half, mean + half
    word = "below" if direction == "less" else "above"
    evidence = f"{head}; one-sided 95% bounds [{_fmt(low)}, {_fmt(high)}]{unit} against {word} {_fmt(level)}{unit}"
    if direction == "less":
        verdict = HOLDS if high < level else FAILS if low > level else INCONCLUSIVE
    else:
        verdict = HOLDS if low > level else FAILS if high < level else INCONCLUSIVE
    return Test(verdict, evidence, mean)


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
    half = _t(CONFIDENCE, len(pairs) - 2) * float(fit.stderr)
    sign = 1.0 if direction == "greater" else -1.0
    effect = sign * float(fit.slope)
    means = ", ".join(f"{_fmt(v)}: {_fmt(float(ys[xs == v].mean()))}" for v in np.unique(xs))
    evidence = (f"mean {names[1]} per {names[0]}: {means}; slope {_fmt(float(fit.slope))} per unit of {names[0]} "
                f"(one-sided 95% bounds [{_fmt(float(fit.slope) - half)}, {_fmt(float(fit.slope) + half)}], "
                f"{len(pairs)} runs)")
    if effect - half > 0:
        return Test(HOLDS, evidence, effect)
    if effect + half < 0:
        return Test(FAILS, evidence, effect)
    return Test(INCONCLUSIVE, evidence, effect)


def combine(verdicts: Sequence[str]) -> str:
    """A claim made of parts: holds when every measured part holds and all are measured; does not
    hold when any part does not hold; not measured when none is; otherwise inconclusive."""
    verdicts = list(verdicts)
    if not verdicts or all(v == NOT_MEASURED for v in verdicts):
        return NOT_MEASURED
    if any(v == FAILS for v in verdicts):
        return FAILS
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    return INCONCLUSIVE
