"""Verification: is the gain real? Measured with EXPLAIN ANALYZE, on the real data.

For each chosen index, the statements it helps run under EXPLAIN ANALYZE with
realistic parameter values, before and after the index is really built, all in
one transaction that is rolled back: the index never becomes visible to anyone
else. Building it holds a SHARE lock on the table (writes wait) for as long as the
transaction lasts, so the session's lock_timeout and statement_timeout apply, and
tables above a size limit are not built unless the user allows it.

Confidence is computed from named factors, each shown, so a reader can see why.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgarchitect.advisors.index.definition import IndexDef
from pgarchitect.advisors.index.selection import Choice
from pgarchitect.analysis import Param
from pgarchitect.plans import NoPlan, Plan, explain_analyze, sample_parameters

DEFAULT_RUNS = 3
DEFAULT_MAX_TABLE_BYTES = 2 * 1024**3  # build at most 2 GB tables in the sandbox
# Estimated and measured gains further apart than this (in points) are flagged.
DISAGREEMENT_POINTS = 30.0

# Below a millisecond, timer and scheduling noise is all there is to see: on a
# shared machine an index scan of a few rows takes 0.2 ms one run and 0.4 ms the
# next, which says nothing about an index that took the statement from 12 ms there.
NOISE_FLOOR_MS = 1.0

TABLE_BYTES_SQL = "SELECT pg_total_relation_size(%s::regclass)"

# The index and, on a partitioned table, the index of each partition: the names a
# plan shows (schema-qualified, as EXPLAIN VERBOSE prints them).
INDEX_NAMES_SQL = """
SELECT n.nspname || '.' || c.relname
FROM pg_partition_tree(%s::regclass) p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
"""


@dataclass(frozen=True)
class StatementInput:
    """What verification needs of a statement: its text, parameters and known values."""

    query: str
    params: Sequence[Param] = ()
    known: Sequence[Sequence[str | None]] = ()  # bind values seen in a log
    weight: float = 1.0  # its share of the benefit (time or calls)


@dataclass(frozen=True)
class Measurement:
    """One statement measured before and after."""

    query: str
    values: tuple[str | None, ...] = ()
    origins: tuple[str, ...] = ()
    before_ms: tuple[float, ...] = ()
    after_ms: tuple[float, ...] = ()
    uses_index: bool = False
    estimated_gain: float | None = None  # from planner costs, 0..1
    reason: str | None = None  # why it was not measured

    @property
    def measured(self) -> bool:
        return bool(self.before_ms and self.after_ms)

    @property
    def median_before(self) -> float | None:
        return statistics.median(self.before_ms) if self.before_ms else None

    @property
    def median_after(self) -> float | None:
        return statistics.median(self.after_ms) if self.after_ms else None

    @property
    def gain(self) -> float | None:
        """Measured relative gain, 0..1 (negative when slower)."""
        if not self.measured or not self.median_before:
            return None
        assert self.median_after is not None
        return 1.0 - self.median_after / self.median_before

    @property
    def spread(self) -> float:
        """Coefficient of variation of the runs with the index (0 = perfectly stable).

        Below a tenth of a millisecond, timer and scheduling noise is all there is to
        see: such runs count as stable.
        """
        if len(self.after_ms) < 2:
            return 0.0
        mean = statistics.fmean(self.after_ms)
        if mean < NOISE_FLOOR_MS:
            return 0.0
        return statistics.pstdev(self.after_ms) / mean


@dataclass(frozen=True)
class Factor:
    """One named factor of the confidence, 0..1, with what it was computed from."""

    name: str
    value: float
    detail: str


@dataclass
class Verified:
    """A chosen index after measurement: gains side by side, confidence and its factors."""

    choice: Choice
    measurements: list[Measurement]
    estimated_gain: float | None
    measured_gain: float | None
    confidence: float = 0.0  # 0..100
    factors: list[Factor] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def index(self) -> IndexDef:
        return self.choice.index


def _median_ms(plans: Sequence[Plan]) -> tuple[float, ...]:
    return tuple(p.execution_ms for p in plans if p.execution_ms is not None)


def _runs(conn: psycopg.Connection[Any], query: str, values: Sequence[str | None],
          runs: int, allow_writes: bool) -> list[Plan] | NoPlan:
    # One run first to warm the cache: the first execution reads from disk, the
    # others from shared buffers, and both sides should be compared warm.
    plans: list[Plan] = []
    for _ in range(runs + 1):
        plan = explain_analyze(conn, query, values, allow_writes=allow_writes)
        if isinstance(plan, NoPlan):
            return plan
        plans.append(plan)
    return plans[1:]


def measure(
    conn: psycopg.Connection[Any],
    index: IndexDef,
    statements: Sequence[StatementInput],
    *,
    runs: int = DEFAULT_RUNS,
    allow_writes: bool = False,
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    allow_large: bool = False,
    estimated: Mapping[str, float] | None = None,
) -> list[Measurement]:
    """Measure ``statements`` without and with ``index`` (built, then rolled back)."""
    estimated = estimated or {}
    table = psycopg.sql.Identifier(index.schema, index.table).as_string(conn)
    row = conn.execute(TABLE_BYTES_SQL, [table]).fetchone()
    size = int(row[0]) if row else 0
    if size > max_table_bytes and not allow_large:
        reason = (f"Not measured: table {index.schema}.{index.table} is {size / 1e9:.1f} GB, "
                  f"above the limit of {max_table_bytes / 1e9:.1f} GB for building it in a "
                  "rolled-back transaction (allow large tables to measure it)")
        return [Measurement(s.query, reason=reason, estimated_gain=estimated.get(s.query))
                for s in statements]
    inputs: list[tuple[StatementInput, tuple[str | None, ...], tuple[str, ...]]] = []
    results: dict[str, Measurement] = {}
    for s in statements:
        chosen = sample_parameters(conn, s.query, s.params, s.known)
        if isinstance(chosen, NoPlan):
            results[s.query] = Measurement(s.query, reason=chosen.reason,
                                           estimated_gain=estimated.get(s.query))
        else:
            inputs.append((s, chosen.values, chosen.origins))
    before: dict[str, list[Plan] | NoPlan] = {}
    after: dict[str, list[Plan] | NoPlan] = {}
    try:
        with conn.transaction(force_rollback=True):
            for s, values, _ in inputs:
                before[s.query] = _runs(conn, s.query, values, runs, allow_writes)
            conn.execute(index.create_sql(concurrently=False))
            qualified = psycopg.sql.Identifier(index.schema, index.name).as_string(conn)
            names = {index.name, f"{index.schema}.{index.name}"} | {
                str(r[0]) for r in conn.execute(INDEX_NAMES_SQL, [qualified]).fetchall()}
            for s, values, _ in inputs:
                after[s.query] = _runs(conn, s.query, values, runs, allow_writes)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
        reason = ("Not measured: could not build the index in time "
                  f"({type(exc).__name__}: lock_timeout or statement_timeout)")
        return [Measurement(s.query, reason=reason, estimated_gain=estimated.get(s.query))
                for s in statements]
    for s, values, origins in inputs:
        b, a = before[s.query], after[s.query]
        if isinstance(b, NoPlan) or isinstance(a, NoPlan):
            failed = b if isinstance(b, NoPlan) else a
            assert isinstance(failed, NoPlan)
            reason = failed.reason
            results[s.query] = Measurement(s.query, values, origins, reason=reason,
                                           estimated_gain=estimated.get(s.query))
            continue
        uses = all(names & set(p.indexes_used()) for p in a)
        results[s.query] = Measurement(s.query, values, origins, _median_ms(b), _median_ms(a),
                                       uses, estimated.get(s.query))
    return [results[s.query] for s in statements]


def _interpolate(x: float, points: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear f(x) through ``points`` (sorted by x), flat beyond the ends.

    >>> _interpolate(0.35, [(0.0, 0.1), (0.2, 0.7), (0.5, 1.0)])
    0.85
    """
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return round(y0 + (y1 - y0) * (x - x0) / (x1 - x0), 6)
    return points[-1][1]


# Each factor maps what was seen to 0..1; confidence is their product. A factor at 1
# costs nothing, so a recommendation everything speaks for keeps 100%; one clear
# weakness (little gain, an unused index, writes outweighing reads) pulls it under
# 60%, where the runbook logs instead of opening a pull request.
GAIN_POINTS = ((0.0, 0.1), (0.2, 0.7), (0.5, 1.0))
SPREAD_POINTS = ((0.1, 1.0), (0.5, 0.6))
DISAGREEMENT_FACTOR_POINTS = ((0.15, 1.0), (0.6, 0.6))
SHARE_POINTS = ((0.0, 0.85), (0.1, 1.0))
OVERHEAD_POINTS = ((0.05, 1.0), (1.0, 0.3))
BUDGET_POINTS = ((0.5, 1.0), (1.0, 0.85))
# Milliseconds saved per execution. A statement that already runs in a fraction of a
# millisecond (a lookup in a table of a few thousand rows) cannot get much faster in
# absolute terms: the index would save less than a network round trip, and every
# write pays for it. Half a millisecond or less leaves a recommendation at 50%;
# two milliseconds or more costs nothing.
SAVED_MS_POINTS = ((0.5, 0.5), (2.0, 1.0))
UNMEASURED = 0.75  # an estimate alone never reaches the pull-request threshold
NOT_USED = 0.3


def weighted_gain(measurements: Sequence[Measurement], weights: Mapping[str, float],
                  measured: bool) -> float | None:
    """Gain over the statements an index helps, weighted by their share of the benefit."""
    pairs: list[tuple[float, float]] = []
    for m in measurements:
        gain = m.gain if measured else m.estimated_gain
        if gain is not None:
            pairs.append((gain, weights.get(m.query, 1.0)))
    total = sum(w for _, w in pairs)
    return sum(g * w for g, w in pairs) / total if total else None


def weighted_saving(measurements: Sequence[Measurement], weights: Mapping[str, float]) -> float:
    """Milliseconds saved per execution (median before minus after), weighted as the gain."""
    pairs = [((m.median_before or 0.0) - (m.median_after or 0.0), weights.get(m.query, 1.0))
             for m in measurements if m.measured]
    total = sum(w for _, w in pairs)
    return sum(ms * w for ms, w in pairs) / total if total else 0.0


def confidence(
    choice: Choice,
    measurements: Sequence[Measurement],
    weights: Mapping[str, float],
    *,
    workload_benefit_share: float,
    budget: int,
) -> Verified:
    """Measured and estimated gains side by side, flags, and confidence from its factors."""
    est = weighted_gain(measurements, weights, measured=False)
    meas = weighted_gain(measurements, weights, measured=True)
    factors: list[Factor] = []
    flags: list[str] = []
    measured = [m for m in measurements if m.measured]
    if measured and meas is not None:
        factors.append(Factor("measured gain", _interpolate(meas, GAIN_POINTS),
                              f"{meas:.0%} faster (median of {len(measured[0].after_ms)} runs)"))
        saved = weighted_saving(measured, weights)
        factors.append(Factor("time saved per call", _interpolate(saved, SAVED_MS_POINTS),
                              f"{saved:.2f} ms saved per execution"))
        worst = max(m.spread for m in measured)
        factors.append(Factor("stability", _interpolate(worst, SPREAD_POINTS),
                              f"run-to-run variation up to {worst:.0%}"))
        if est is not None:
            gap = abs(est - meas) if meas < est else 0.0
            factors.append(Factor("estimate agrees", _interpolate(gap, DISAGREEMENT_FACTOR_POINTS),
                                  f"estimated {est:.0%}, measured {meas:.0%}"))
            if abs(est - meas) * 100 > DISAGREEMENT_POINTS:
                flags.append(f"Estimated gain {est:.0%} and measured gain {meas:.0%} disagree")
        used = all(m.uses_index for m in measured)
        factors.append(Factor("plan uses the index", 1.0 if used else NOT_USED,
                              "every measured plan scans it" if used else
                              "some measured plans do not scan it"))
        if not used:
            flags.append("The measured plan does not use the index")
    else:
        gain = est if est is not None else 0.0
        reasons = sorted({m.reason for m in measurements if m.reason})
        factors.append(Factor("estimated gain only", _interpolate(gain, GAIN_POINTS) * UNMEASURED,
                              f"estimated {gain:.0%}; not measured: {'; '.join(reasons)}"))
        flags.append("Not measured: the gain is the planner's estimate")
    factors.append(Factor("share of the workload", _interpolate(workload_benefit_share,
                                                                SHARE_POINTS),
                          f"{workload_benefit_share:.0%} of the benefit found"))
    ratio = choice.overhead / choice.benefit if choice.benefit > 0 else 1.0
    factors.append(Factor("write overhead", _interpolate(ratio, OVERHEAD_POINTS),
                          f"{ratio:.0%} of its benefit spent on writes"))
    share = choice.size / budget if budget else 1.0
    factors.append(Factor("size vs budget", _interpolate(share, BUDGET_POINTS),
                          f"{choice.size / 1e6:.1f} MB, {share:.0%} of the budget"))
    score = 100.0 * math.prod(f.value for f in factors)
    return Verified(choice, list(measurements), est, meas, round(score, 1), factors, flags)
