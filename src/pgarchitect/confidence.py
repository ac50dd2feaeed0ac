"""Confidence: named factors, each 0..1 and shown, multiplied into a score of 0 to 100.

Each factor maps what was seen to 0..1; confidence is their product. A factor at 1
costs nothing, so a proposal everything speaks for keeps 100%; one clear weakness
(little gain, a change the plan does not use, writes outweighing reads) pulls it
under 60%, where the runbook logs instead of opening a pull request. The factors
every kind shares come from the measurements (:func:`measured_factors`); an advisor
adds its own (an index's write overhead and size) and :func:`score` multiplies them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

from pgarchitect.proposal import Factor, Measurement, weighted_gain

# Estimated and measured gains further apart than this (in points) are flagged.
DISAGREEMENT_POINTS = 30.0

GAIN_POINTS = ((0.0, 0.1), (0.2, 0.7), (0.5, 1.0))
SPREAD_POINTS = ((0.1, 1.0), (0.5, 0.6))
DISAGREEMENT_FACTOR_POINTS = ((0.15, 1.0), (0.6, 0.6))
# Milliseconds saved per execution. A statement that already runs in a fraction of a
# millisecond (a lookup in a table of a few thousand rows) cannot get much faster in
# absolute terms: the change would save less than a network round trip. Half a
# millisecond or less leaves a proposal at 50%; two milliseconds or more costs nothing.
SAVED_MS_POINTS = ((0.5, 0.5), (2.0, 1.0))
# How far the measured mean (before the change) is from the workload's own mean, as
# |log10(measured / workload)|: within a factor of 2 costs nothing, a factor of 10
# leaves 0.6. A lookup measured at 0.2 ms whose workload mean is 16 ms (its rows
# cold on disk there, cached here) says little about the gain in production.
REPRESENTATIVE_POINTS = ((math.log10(2.0), 1.0), (1.0, 0.6))
UNLIKE_WORKLOAD = math.log10(3.0)  # flagged beyond a factor of 3
UNMEASURED = 0.75  # an estimate alone never reaches the pull-request threshold
NOT_USED = 0.3


def interpolate(x: float, points: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear f(x) through ``points`` (sorted by x), flat beyond the ends.

    >>> interpolate(0.35, [(0.0, 0.1), (0.2, 0.7), (0.5, 1.0)])
    0.85
    """
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return round(y0 + (y1 - y0) * (x - x0) / (x1 - x0), 6)
    return points[-1][1]


def weighted_saving(measurements: Sequence[Measurement], weights: Mapping[str, float]) -> float:
    """Milliseconds saved per execution (median before minus after), weighted as the gain."""
    pairs = [((m.median_before or 0.0) - (m.median_after or 0.0), weights.get(m.query, 1.0))
             for m in measurements if m.measured]
    total = sum(w for _, w in pairs)
    return sum(ms * w for ms, w in pairs) / total if total else 0.0


def measured_factors(
    measurements: Sequence[Measurement],
    weights: Mapping[str, float],
    *,
    change: str = "change",
) -> tuple[float | None, float | None, list[Factor], list[str]]:
    """Estimated and measured gain, and the factors and flags every kind shares.

    ``change`` names what the plans after must show ("index", "setting", ...).
    """
    est = weighted_gain(measurements, dict(weights), measured=False)
    meas = weighted_gain(measurements, dict(weights), measured=True)
    factors: list[Factor] = []
    flags: list[str] = []
    measured = [m for m in measurements if m.measured]
    if measured and meas is not None:
        factors.append(Factor("measured gain", interpolate(meas, GAIN_POINTS),
                              f"{meas:.0%} faster (median of {len(measured[0].after_ms)} runs)"))
        saved = weighted_saving(measured, weights)
        factors.append(Factor("time saved per call", interpolate(saved, SAVED_MS_POINTS),
                              f"{saved:.2f} ms saved per execution"))
        worst = max(m.spread for m in measured)
        factors.append(Factor("stability", interpolate(worst, SPREAD_POINTS),
                              f"run-to-run variation up to {worst:.0%}"))
        if est is not None:
            gap = abs(est - meas) if meas < est else 0.0
            factors.append(Factor("estimate agrees", interpolate(gap, DISAGREEMENT_FACTOR_POINTS),
                                  f"estimated {est:.0%}, measured {meas:.0%}"))
            if abs(est - meas) * 100 > DISAGREEMENT_POINTS:
                flags.append(f"Estimated gain {est:.0%} and measured gain {meas:.0%} disagree")
        representative = _representative(measured)
        if representative is not None:
            factors.append(representative[0])
            flags.extend(representative[1])
        all_used = all(m.uses_change for m in measured)
        factors.append(Factor(f"plan uses the {change}", 1.0 if all_used else NOT_USED,
                              "every measured plan uses it" if all_used else
                              "some measured plans do not use it"))
        if not all_used:
            flags.append(f"The measured plan does not use the {change}")
    else:
        gain = est if est is not None else 0.0
        reasons = sorted({m.reason for m in measurements if m.reason})
        factors.append(Factor("estimated gain only", interpolate(gain, GAIN_POINTS) * UNMEASURED,
                              f"estimated {gain:.0%}; not measured: {'; '.join(reasons)}"))
        flags.append("Not measured: the gain is the planner's estimate")
    return est, meas, factors, flags


def _representative(measured: Sequence[Measurement]) -> tuple[Factor, list[str]] | None:
    """The measurement against the workload's mean and hit ratio (None: no workload)."""
    pairs = [(abs(math.log10(m.measured_mean_ms / m.workload_mean_ms)), m) for m in measured
             if m.measured_mean_ms and m.workload_mean_ms]
    if not pairs:
        return None
    gap, m = max(pairs, key=lambda p: p[0])
    assert m.measured_mean_ms is not None and m.workload_mean_ms is not None
    hits = ""
    if m.workload_hit_ratio is not None and m.measured_hit_ratio is not None:
        hits = (f" (cache hits {m.workload_hit_ratio:.0%} there, "
                f"{m.measured_hit_ratio:.0%} here)")
    detail = (f"measured {m.measured_mean_ms:.2f} ms before the change with "
              f"{m.parameter_sets} parameter set{'s' if m.parameter_sets != 1 else ''}, "
              f"the workload's mean is {m.workload_mean_ms:.2f} ms{hits}")
    flags = []
    if gap > UNLIKE_WORKLOAD:
        flags.append(f"The measurement is not like the workload: {detail}; the gain in "
                     "production may differ")
    return Factor("like the workload", interpolate(gap, REPRESENTATIVE_POINTS), detail), flags


def score(factors: Sequence[Factor]) -> float:
    """Confidence, 0 to 100, rounded to a tenth: the product of the factors.

    >>> score([Factor("a", 0.9, ""), Factor("b", 0.5, "")])
    45.0
    """
    return round(100.0 * math.prod(f.value for f in factors), 1)
