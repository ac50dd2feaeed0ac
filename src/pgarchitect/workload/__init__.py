"""Workload: which statements ran, how often, and what they cost.

Every source (pg_stat_statements, snapshot deltas, a server log, a SQL file, one
statement) yields :class:`Statement` records through the same small protocol,
:class:`Source`; statements are then grouped by their pglast fingerprint so that
ORM variants of one query count together, and filtered with named thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol


@dataclass(frozen=True)
class Statement:
    """One (normalized) statement and its counters over the workload's window.

    Times are in milliseconds. Counters a source does not know stay at 0 (or
    None where 0 would be a claim: I/O times without track_io_timing, WAL).
    """

    query: str
    fingerprint: str | None = None  # pglast fingerprint; None when it does not parse
    queryid: int | None = None
    calls: int = 0
    total_ms: float = 0.0  # execution time
    mean_ms: float = 0.0
    stddev_ms: float = 0.0
    min_ms: float = 0.0
    max_ms: float = 0.0
    total_plan_ms: float = 0.0
    rows: int = 0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    shared_blks_dirtied: int = 0
    shared_blks_written: int = 0
    local_blks_hit: int = 0
    local_blks_read: int = 0
    temp_blks_read: int = 0
    temp_blks_written: int = 0
    blk_read_ms: float | None = None
    blk_write_ms: float | None = None
    wal_bytes: int | None = None
    params: tuple[tuple[str | None, ...], ...] = ()  # bind values seen with it (logs)
    source: str = ""
    variants: int = 1  # distinct texts grouped into this record

    @property
    def hit_ratio(self) -> float | None:
        """Share of shared-buffer accesses served from cache, when any happened."""
        total = self.shared_blks_hit + self.shared_blks_read
        return self.shared_blks_hit / total if total else None


# Why a statement was left out of the workload, as codes a front end can count.
SKIP_CODES = {
    "internal": "pgarchitect's own",
    "utility": "not a query",
    "monitoring": "monitoring",
    "system": "system catalogs only",
    "not_included": "not included",
    "excluded": "excluded",
    "low_mean": "mean too low",
    "few_calls": "too few calls",
    "beyond_top": "beyond the top",
    "unparseable": "unparseable",
    "hidden": "text hidden",
    "log": "unreadable log entry",
    "other": "other",
}


@dataclass(frozen=True)
class Skipped:
    """A statement left out, with a reason a user can read and its code (SKIP_CODES)."""

    query: str
    reason: str
    code: str = "other"


@dataclass
class Workload:
    """What a source yielded after grouping and filtering."""

    statements: list[Statement]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "cumulative since the last reset"
    # Seconds the counters cover when the source knows (a snapshot delta's window);
    # None: cumulative since the statistics' reset, or text without counters.
    window_seconds: float | None = None


class Source(Protocol):
    """Anything that yields statements: pg_stat_statements, a log, a file, one statement."""

    name: str

    def read(self) -> Workload:
        """The statements of this source (ungrouped, unfiltered), with skips and notes."""
        ...


MAX_PARAM_SAMPLES = 20  # bind-value examples kept per grouped statement


def _pooled_stddev(items: Sequence[Statement], mean: float, calls: int) -> float:
    # Combine per-group variance and the spread of group means (parallel algorithm).
    if calls <= 0:
        return 0.0
    ss = sum(s.calls * (s.stddev_ms**2 + (s.mean_ms - mean) ** 2) for s in items)
    return math.sqrt(ss / calls)


def merge(items: Sequence[Statement]) -> Statement:
    """One record for statements with the same fingerprint: counters add up.

    The text kept is that of the variant with the most total time.
    """
    if len(items) == 1:
        return items[0]
    calls = sum(s.calls for s in items)
    total = sum(s.total_ms for s in items)
    mean = total / calls if calls else 0.0

    def opt_sum(values: Iterable[float | int | None]) -> float | int | None:
        present = [v for v in values if v is not None]
        return sum(present) if present else None

    leader = max(items, key=lambda s: s.total_ms)
    params = tuple(p for s in items for p in s.params)[:MAX_PARAM_SAMPLES]
    wal = opt_sum(s.wal_bytes for s in items)
    return replace(
        leader,
        queryid=leader.queryid,
        calls=calls,
        total_ms=total,
        mean_ms=mean,
        stddev_ms=_pooled_stddev(items, mean, calls),
        min_ms=min(s.min_ms for s in items),
        max_ms=max(s.max_ms for s in items),
        total_plan_ms=sum(s.total_plan_ms for s in items),
        rows=sum(s.rows for s in items),
        shared_blks_hit=sum(s.shared_blks_hit for s in items),
        shared_blks_read=sum(s.shared_blks_read for s in items),
        shared_blks_dirtied=sum(s.shared_blks_dirtied for s in items),
        shared_blks_written=sum(s.shared_blks_written for s in items),
        local_blks_hit=sum(s.local_blks_hit for s in items),
        local_blks_read=sum(s.local_blks_read for s in items),
        temp_blks_read=sum(s.temp_blks_read for s in items),
        temp_blks_written=sum(s.temp_blks_written for s in items),
        blk_read_ms=opt_sum(s.blk_read_ms for s in items),
        blk_write_ms=opt_sum(s.blk_write_ms for s in items),
        wal_bytes=None if wal is None else int(wal),
        params=params,
        variants=sum(s.variants for s in items),
    )


def group(statements: Iterable[Statement]) -> list[Statement]:
    """Merge statements that share a fingerprint; unparseable ones stay apart."""
    groups: dict[str, list[Statement]] = {}
    for s in statements:
        key = s.fingerprint if s.fingerprint is not None else f"text:{s.query}"
        groups.setdefault(key, []).append(s)
    return [merge(items) for items in groups.values()]


# The team's runbook: mean execution time above the 500 ms service-level target,
# called more than 100 times, ordered by total time, top 20.
DEFAULT_MIN_MEAN_MS = 500.0
DEFAULT_MIN_CALLS = 100
DEFAULT_TOP = 20


@dataclass(frozen=True)
class Filters:
    """Which statements deserve attention; every threshold is named and reported."""

    min_mean_ms: float = DEFAULT_MIN_MEAN_MS  # keep statements whose mean is above this
    min_calls: int = DEFAULT_MIN_CALLS  # ... and that were called more often than this
    top: int = DEFAULT_TOP  # then the most expensive by total time
    include_tables: frozenset[str] = frozenset()  # only statements touching one of these
    exclude_tables: frozenset[str] = frozenset()  # none touching any of these

    def describe(self) -> str:
        """The thresholds as a report shows them."""
        text = (f"mean > {self.min_mean_ms:g} ms, calls > {self.min_calls}, "
                f"top {self.top} by total time")
        if self.include_tables:
            text += f", touching {', '.join(sorted(self.include_tables))}"
        if self.exclude_tables:
            text += f", not touching {', '.join(sorted(self.exclude_tables))}"
        return text


def select(workload: Workload, filters: Filters) -> Workload:
    """Group by fingerprint, drop internal statements, apply the thresholds.

    Every statement left out is in ``skipped`` with its reason.
    """
    from pgarchitect.workload.internal import internal_reason, touches

    kept: list[Statement] = []
    skipped = list(workload.skipped)
    for s in group(workload.statements):
        why = internal_reason(s.query)
        if why is None and filters.include_tables and not touches(s.query,
                                                                    filters.include_tables):
            why = "not_included", "Touches none of the included tables"
        if why is None and filters.exclude_tables and touches(s.query, filters.exclude_tables):
            why = "excluded", "Touches an excluded table"
        if why is None and s.mean_ms <= filters.min_mean_ms:
            why = "low_mean", f"Mean {s.mean_ms:.1f} ms is not above {filters.min_mean_ms:g} ms"
        if why is None and s.calls <= filters.min_calls:
            why = "few_calls", f"Called {s.calls} times, not more than {filters.min_calls}"
        if why is None:
            kept.append(s)
        else:
            skipped.append(Skipped(s.query, why[1], why[0]))
    kept.sort(key=lambda s: s.total_ms, reverse=True)
    for s in kept[filters.top:]:
        skipped.append(Skipped(s.query, f"Not in the top {filters.top} by total time",
                               "beyond_top"))
    return Workload(kept[: filters.top], skipped, list(workload.notes), workload.window_seconds)
