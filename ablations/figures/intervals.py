"""Uncertainty that respects what a metric can be.

* :func:`mean_interval`: the mean over seeds and its 95 % percentile-bootstrap interval
  (``scipy.stats.bootstrap``, ``method="percentile"``). A percentile interval of a mean never leaves
  the range of the values, so an accuracy's interval stays inside [0, 1]; below
  :data:`MIN_SEEDS` seeds there is no interval at all (two seeds cannot say how much a third
  would differ), and the figure draws the points and says so.
* :func:`wilson`: the Wilson score interval of a proportion (k successes out of n), inside [0, 1]
  by construction; for one run's accuracy over its n test samples.
* :func:`probability_of_improvement`: P(X > Y) + P(X = Y) / 2 over all pairs of runs, the
  Mann-Whitney statistic that rliable (Agarwal et al., NeurIPS 2021) reports against a baseline.
* :func:`test_set_size`: how many test samples an accuracy was counted over (the binomial step
  1/n is the smallest difference two runs can show).

Written here rather than taken from rliable: rliable pulls in arch and its own plotting for three
small formulas; scipy, already a dependency, does the bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["BOUNDED", "MIN_SEEDS", "Interval", "bounds_of", "mean_interval", "paired_differences",
           "probability_of_improvement", "test_set_size", "wilson"]

#: Fewer seeds than this get no interval.
MIN_SEEDS = 3
#: Confidence level of every interval.
LEVEL = 0.95
#: Metric names (or name endings) bounded to [0, 1].
BOUNDED = ("accuracy", "success_rate", "attack_success_rate", "sparsity", "activation_sparsity", "silhouette")


class Interval(tuple):
    """``(mean, low, high, n)``; low and high are NaN when there is no interval (n < MIN_SEEDS)."""

    def __new__(cls, mean: float, low: float, high: float, n: int):
        return super().__new__(cls, (mean, low, high, n))

    mean = property(lambda self: self[0])
    low = property(lambda self: self[1])
    high = property(lambda self: self[2])
    n = property(lambda self: self[3])

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.low)


def bounds_of(name: str) -> tuple[float, float] | None:
    """``(0, 1)`` for accuracies, success rates and other shares named in :data:`BOUNDED`."""
    text = str(name).lower()
    if "loss" in text or "sse" in text or "perturbation" in text or "time" in text:
        return None
    return (0.0, 1.0) if any(word in text for word in BOUNDED) else None


def mean_interval(values: Sequence[float], bounds: tuple[float, float] | None = None,
                  seed: int = 0) -> Interval:
    """The mean of ``values`` (NaN dropped) and its 95 % percentile-bootstrap interval, or no interval
    below :data:`MIN_SEEDS` values. ``bounds`` clip the interval (a percentile interval of values
    inside the bounds already lies inside them; the clip guards rounding)."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n < MIN_SEEDS:
        return Interval(mean, math.nan, math.nan, n)
    if np.ptp(data) == 0:
        low = high = mean
    else:
        from scipy import stats

        result = stats.bootstrap((data,), np.mean, confidence_level=LEVEL, method="percentile",
                                 n_resamples=2000, random_state=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(mean, low, high, n)


def wilson(successes: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n`` (inside [0, 1])."""
    if n <= 0:
        return (math.nan, math.nan)
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def probability_of_improvement(x: Sequence[float], y: Sequence[float]) -> float:
    """P(X > Y) + P(X = Y) / 2 over every pair (x_i, y_j): the share of run pairs where X beats Y."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return math.nan
    greater = (a[:, None] > b[None, :]).mean()
    equal = (a[:, None] == b[None, :]).mean()
    return float(greater + equal / 2)


def paired_differences(x: dict, y: dict) -> tuple[list, np.ndarray]:
    """``x[k] - y[k]`` for every key (seed) both have: ``(keys, differences)``."""
    keys = sorted(k for k in x if k in y and np.isfinite(x[k]) and np.isfinite(y[k]))
    return keys, np.array([x[k] - y[k] for k in keys], dtype=float)


def test_set_size(accuracies: Sequence[float], largest: int = 100_000) -> int | None:
    """The smallest n for which every accuracy is a whole number of samples out of n (k / n):
    the test-set size, or a divisor of it, so 1/n is at least the true step. None when no n up to
    ``largest`` fits (the accuracies are means over batches or noisy, not counts)."""
    values = np.asarray([a for a in accuracies if a is not None and np.isfinite(a)], dtype=float)
    values = np.unique(values)
    if not len(values) or ((values < 0) | (values > 1)).any():
        return None
    fractional = values[(values > 0) & (values < 1)]
    if not len(fractional):
        return None  # only 0 and 1: any n fits, the data say nothing
    for start in range(1, largest + 1, 2048):
        ns = np.arange(start, min(start + 2048, largest + 1), dtype=float)[:, None]
        scaled = fractional[None, :] * ns
        fits = np.all(np.abs(scaled - np.round(scaled)) < 1e-6, axis=1)
        if fits.any():
            return int(ns[np.argmax(fits), 0])
    return None
