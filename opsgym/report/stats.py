"""The few statistics reports need: a mean with its t-based confidence interval, and Welch's t-test.

Episodes are few (tens per cell), so intervals use Student's t rather than the normal approximation, and comparisons
use Welch's test, which does not assume the two runs have equal variance. Both need scipy (the ``report`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["MeanCI", "Welch", "mean_ci", "welch"]


@dataclass(frozen=True)
class MeanCI:
    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def __str__(self) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1 or math.isnan(self.half_width):
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} ± {self.half_width:.3f}"


@dataclass(frozen=True)
class Welch:
    """B − A for one metric: the difference of means, Welch's t statistic, its degrees of freedom and p-value."""

    delta: float
    t: float
    df: float
    p: float
    n_a: int
    n_b: int

    def significant(self, alpha: float = 0.05) -> bool:
        return not math.isnan(self.p) and self.p < alpha


def _clean(values: Iterable[float]) -> np.ndarray:
    array = np.asarray([float(v) for v in values if v is not None], dtype=float)
    return array[~np.isnan(array)]


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> MeanCI:
    """Mean and two-sided t interval; with one value the interval is that value, with none everything is NaN."""
    from scipy import stats

    x = _clean(values)
    if x.size == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return MeanCI(mean, mean, mean, 1)
    sem = float(x.std(ddof=1)) / math.sqrt(x.size)
    half = float(stats.t.ppf((1 + confidence) / 2, df=x.size - 1)) * sem
    return MeanCI(mean, mean - half, mean + half, int(x.size))


def welch(a: Iterable[float], b: Iterable[float]) -> Welch:
    """Welch's unequal-variance t-test of mean(b) − mean(a); p is NaN when a side has fewer than two values.

    Two constant samples have zero variance: the p-value is 1 when their means are equal and 0 when they differ
    (the difference is then exact, not noise).
    """
    from scipy import stats

    x, y = _clean(a), _clean(b)
    delta = float(y.mean() - x.mean()) if x.size and y.size else math.nan
    if x.size < 2 or y.size < 2:
        return Welch(delta, math.nan, math.nan, math.nan, int(x.size), int(y.size))
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if va + vb == 0:
        return Welch(delta, math.inf if delta else 0.0, float(x.size + y.size - 2), 0.0 if delta else 1.0,
                     int(x.size), int(y.size))
    t = delta / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    p = float(2 * stats.t.sf(abs(t), df))
    return Welch(delta, float(t), float(df), p, int(x.size), int(y.size))
