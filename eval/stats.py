"""95% confidence intervals without scipy.

- `mean_ci`: Student-t interval of a mean (ISR, SoC, throughput).
- `wilson_ci`: Wilson score interval of a proportion (CSR, a 0/1 outcome per
  episode): unlike the t interval it does not collapse to a point when all
  seeds succeed (10/10 successes -> [0.72, 1.0]).

>>> round(mean_ci([1.0, 2.0, 3.0]).hi, 4)  # mean 2, sd 1, t(2 dof) = 4.303: 2 + 4.303 / sqrt(3)
4.4843
>>> [round(x, 3) for x in wilson_ci(10, 10)]
[1.0, 0.722, 1.0]
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

Z95 = 1.959964
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]
_T95_LARGE = [(40, 2.021), (60, 2.000), (120, 1.980)]


class Estimate(NamedTuple):
    mean: float
    lo: float
    hi: float


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student-t quantile; between table rows the smaller df (wider interval)."""
    if df < 1:
        return math.nan
    if df <= len(_T95):
        return _T95[df - 1]
    value = _T95[-1]
    for limit, t in _T95_LARGE:
        if df >= limit:
            value = t
    return value if df < 1000 else Z95


def mean_ci(values: Sequence[float]) -> Estimate:
    """Mean and its 95% t interval (NaN interval for fewer than 2 values)."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan)
    mean = sum(values) / n
    if n == 1:
        return Estimate(mean, math.nan, math.nan)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile_975(n - 1) * math.sqrt(var / n)
    return Estimate(mean, mean - half, mean + half)


def wilson_ci(successes: float, n: int) -> Estimate:
    """Proportion successes/n and its 95% Wilson score interval."""
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan)
    p = successes / n
    z2 = Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))
