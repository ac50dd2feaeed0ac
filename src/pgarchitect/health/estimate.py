"""The estimated 95th percentile of statement latency, from pg_stat_statements counters.

pg_stat_statements keeps each statement's call count, mean and standard deviation,
not its percentiles. Between two snapshots the deltas give each statement's calls,
mean and spread in the window (:func:`pgarchitect.workload.snapshots.delta`). The
estimate models each statement's times as a log-normal distribution with that mean
and spread (latencies are positive and skewed to the right), weights each by its
calls, and solves numerically for the time below which 95% of the calls fall. It is
an estimate, and every place that shows it says so: a statement whose times are
far from log-normal (two plans, a cache that is warm or cold) moves the true value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# (calls, mean ms, stddev ms) of one statement in the window.
Moments = tuple[int, float, float]


def _cdf(x: float, mean: float, sd: float) -> float:
    """P(time <= x) for a log-normal time with this mean and spread (a step when sd is 0)."""
    if mean <= 0.0:
        return 1.0 if x >= 0.0 else 0.0
    if sd <= 0.0:
        return 1.0 if x >= mean else 0.0
    if x <= 0.0:
        return 0.0
    sigma2 = math.log1p((sd / mean) ** 2)
    mu = math.log(mean) - sigma2 / 2.0
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / math.sqrt(2.0 * sigma2)))


def mixture_quantile(stats: Sequence[Moments], q: float = 0.95) -> float | None:
    """The ``q`` quantile of the calls of all statements (None when there were no calls).

    >>> mixture_quantile([(10, 10.0, 0.0)])
    10.0
    >>> round(mixture_quantile([(1, 10.0, 5.0)]), 1)  # exp(mu + 1.645 sigma)
    19.5
    >>> round(mixture_quantile([(90, 1.0, 0.0), (10, 100.0, 0.0)]), 1)
    100.0
    >>> mixture_quantile([(0, 5.0, 1.0)]) is None
    True
    """
    used = [(c, m, s) for c, m, s in stats if c > 0]
    total = sum(c for c, _, _ in used)
    if not total:
        return None

    def share(x: float) -> float:
        return sum(c * _cdf(x, m, s) for c, m, s in used) / total

    high = max(max(m for _, m, _ in used), 1e-6)
    for _ in range(200):  # log-normal tails are long: widen until q is inside
        if share(high) >= q:
            break
        high *= 2.0
    low = 0.0
    for _ in range(100):  # bisection: the mixture's CDF only rises
        mid = (low + high) / 2.0
        if share(mid) >= q:
            high = mid
        else:
            low = mid
    return high
