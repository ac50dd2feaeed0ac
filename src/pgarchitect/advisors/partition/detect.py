"""Which tables to partition: large (or soon large), append-mostly, filtered by time.

A table is a candidate when the audit's statements that read it spend at least
``partition_min_share`` of their time in statements that filter one of its
``date``/``timestamp`` columns with a comparison (what partition pruning serves),
its updates and deletes are at most ``MAX_CHURN`` of its inserts (append-mostly:
old partitions stay still, retention is a DROP), and it has ``partition_min_rows``
rows or ``partition_min_mb`` MB now, or will within ``partition_horizon_months``
at its growth. Growth is read from the rows themselves: the share of the key's
values in the last 30 days (the planner's statistics: histogram and most common
values, no scan of the table), else from the insert counter over its window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import psycopg

from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.partition.interval import DAYS_PER_MONTH, window_days
from pgarchitect.analysis import ColumnRef
from pgarchitect.catalog.tables import TableInfo

TIME_TYPES: Final = ("date", "timestamp")  # format_type's text starts with one of these
FILTER_ROLES: Final = ("range", "eq", "in")
READS: Final = ("select", "update", "delete")
# Updates and deletes above a tenth of the inserts: the rows are not written once
# and left alone, and old partitions would keep being rewritten.
MAX_CHURN: Final = 0.1
RECENT_DAYS: Final = 30
SECONDS_PER_MONTH: Final = DAYS_PER_MONTH * 86_400

# The key's range and the share of its values in the last 30 days, from pg_stats
# (the most common values with their frequencies, and the histogram's bounds, each
# bound an equal share of the rest). Text to timestamptz: a timestamp is read in the
# session's time zone, as the statements' now() compares it.
GROWTH_SQL: Final = """\
WITH s AS (
    SELECT null_frac, most_common_vals::text::text[] AS mcv, most_common_freqs AS freqs,
           histogram_bounds::text::text[] AS hist
    FROM pg_stats WHERE schemaname = %(schema)s AND tablename = %(table)s
                    AND attname = %(column)s
    ORDER BY inherited LIMIT 1),
mcv AS (SELECT u.v::timestamptz AS at, u.f FROM s, unnest(s.mcv, s.freqs) AS u(v, f)),
hist AS (SELECT h::timestamptz AS at FROM s, unnest(s.hist) AS h),
every AS (SELECT at FROM mcv UNION ALL SELECT at FROM hist)
SELECT (SELECT min(at) FROM every), (SELECT max(at) FROM every),
       (SELECT coalesce(sum(f), 0) FROM mcv
        WHERE at > now() - make_interval(days => %(days)s))
       + coalesce((SELECT 1 - s.null_frac - coalesce((SELECT sum(f) FROM mcv), 0) FROM s), 0)
         * coalesce((SELECT avg((at > now() - make_interval(days => %(days)s))::int)
                     FROM hist), 0),
       (SELECT count(*) FROM s)"""


@dataclass(frozen=True)
class Growth:
    """How a table grows, and where the figure comes from."""

    per_month: float  # rows
    source: str  # in words
    first: date | None = None  # the key's range, as ANALYZE sampled it
    last: date | None = None


@dataclass(frozen=True)
class Candidate:
    """A table to partition, with everything its proposal says."""

    table: TableInfo
    key: str
    key_type: str
    growth: Growth
    share: float  # of the reading statements' time, spent in those that filter the key
    filtered: tuple[Subject, ...]  # the statements that filter the key
    windows: tuple[float | None, ...]  # how far back each looks (days), None: unknown
    crosses_in: float  # months until the threshold is crossed; 0: crossed already
    threshold: str  # which threshold, in words
    churn: str  # the write counters, in words


@dataclass(frozen=True)
class NotCandidate:
    reason: str
    code: str = "no_candidate"


def months_to_cross(now: float, per_month: float, threshold: float) -> float | None:
    """Months until ``now`` growing by ``per_month`` reaches ``threshold`` (0: reached).

    >>> months_to_cross(2e6, 4e5, 1e7), months_to_cross(2e7, 0, 1e7), months_to_cross(1, 0, 2)
    (20.0, 0.0, None)
    """
    if now >= threshold:
        return 0.0
    if per_month <= 0:
        return None
    return (threshold - now) / per_month


def _time_column(table: TableInfo, name: str) -> str | None:
    col = table.column(name)
    if col is None or col.type is None or not col.type.startswith(TIME_TYPES):
        return None
    return col.type


def filters(subject: Subject, column: ColumnRef) -> bool:
    """Whether the statement compares ``column`` with a value (prunable), not under OR."""
    return any(p.column == column and p.role in FILTER_ROLES and not p.in_or
               and p.expression is None for p in subject.analysis.predicates)


def _weight(subject: Subject) -> float:
    s = subject.statement
    return s.total_ms if s.total_ms > 0 else 1.0


def growth(conn: psycopg.Connection[Any], ctx: Context, table: TableInfo, key: str) -> Growth:
    """Rows a month: the key's last 30 days (statistics), else the insert counter."""
    row = conn.execute(GROWTH_SQL, {"schema": table.schema, "table": table.name,
                                    "column": key, "days": RECENT_DAYS}).fetchone()
    rows = table.rows or 0.0
    first, last = (_day(row[0]), _day(row[1])) if row else (None, None)
    if row and row[3] and first is not None:
        per_month = float(row[2]) * rows * DAYS_PER_MONTH / RECENT_DAYS
        return Growth(per_month, f"{float(row[2]):.1%} of the rows' {key} values fall in the last "
                                 f"{RECENT_DAYS} days (the planner's statistics)", first, last)
    window = ctx.since_seconds or ctx.catalog.counters_seconds
    if window >= 86_400 and table.inserts > 0:
        per_month = table.inserts * SECONDS_PER_MONTH / window
        return Growth(per_month, f"{table.inserts:,} rows inserted in "
                                 f"{window / 86_400:.1f} days (pg_stat_user_tables)")
    return Growth(0.0, "no statistics on the key and no insert counted: growth unknown")


def _day(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def churn(table: TableInfo) -> tuple[bool, str]:
    """Whether the table is append-mostly, and its write counters in words."""
    changed = table.updates + table.deletes
    words = (f"{table.inserts:,} inserts, {table.updates:,} updates, {table.deletes:,} "
             "deletes counted")
    if table.inserts == 0 and changed == 0:
        return True, "no writes counted since the statistics were reset"
    return changed <= MAX_CHURN * table.inserts, words


def candidate(ctx: Context, table: TableInfo, subjects: Sequence[Subject]
              ) -> Candidate | NotCandidate:
    """The table as a candidate, or why it is not one."""
    name = table.qualified
    if table.kind == "partitioned table":
        return NotCandidate(f"{name} is partitioned already", "not_supported")
    if table.kind != "table":
        return NotCandidate(f"{name} is a {table.kind}: only plain tables are partitioned",
                            "not_supported")
    reading = [s for s in subjects if s.analysis.kind in READS]
    times = {c.name: c.type for c in table.columns
             if c.type is not None and c.type.startswith(TIME_TYPES)}
    if not times:
        return NotCandidate(f"{name} has no date or timestamp column to partition by")
    total = sum(_weight(s) for s in reading)
    best: tuple[float, str] | None = None
    for col in times:
        ref = ColumnRef(table.schema, table.name, col)
        share = sum(_weight(s) for s in reading if filters(s, ref)) / total if total else 0.0
        if share > 0 and (best is None or share > best[0]):
            best = (share, col)
    if best is None:
        return NotCandidate(f"no statement filters {name} by {', '.join(sorted(times))} "
                            "with a comparison: partitions by time would not be pruned")
    share, key = best
    min_share = ctx.config.get_float("partition_min_share")
    if share < min_share:
        return NotCandidate(f"statements that filter {name} by {key} take {share:.0%} of its "
                            f"statements' time, under partition_min_share ({min_share:.0%})")
    append_only, words = churn(table)
    if not append_only:
        return NotCandidate(f"{name} is not append-mostly ({words}; partitioning by time "
                            f"suits tables whose updates and deletes stay under "
                            f"{MAX_CHURN:.0%} of the inserts)")
    grows = growth(ctx.conn, ctx, table, key)
    crossing = _crossing(ctx, table, grows)
    if isinstance(crossing, NotCandidate):
        return crossing
    ref = ColumnRef(table.schema, table.name, key)
    filtered = tuple(s for s in reading if filters(s, ref))
    windows = tuple(_window(s, ref) for s in filtered)
    return Candidate(table, key, times[key] or "", grows, share, filtered, windows,
                     crossing[0], crossing[1], words)


def _window(subject: Subject, column: ColumnRef) -> float | None:
    found = [window_days(p.value) for p in subject.analysis.predicates
             if p.column == column and p.role == "range" and p.operator in (">", ">=")]
    known = [w for w in found if w is not None]
    return max(known) if known else None


def _crossing(ctx: Context, table: TableInfo, grows: Growth) -> tuple[float, str] | NotCandidate:
    """Months until a threshold is crossed (0: crossed), and which, or why not soon."""
    rows = table.rows or 0.0
    min_rows = ctx.config.get_int("partition_min_rows")
    min_bytes = ctx.config.get_int("partition_min_mb") * 2**20
    horizon = ctx.config.get_int("partition_horizon_months")
    bytes_per_row = table.total_bytes / rows if rows else 0.0
    by_rows = months_to_cross(rows, grows.per_month, min_rows)
    by_size = months_to_cross(table.total_bytes, grows.per_month * bytes_per_row, min_bytes)
    options = [(m, what) for m, what in (
        (by_rows, f"partition_min_rows ({min_rows:,} rows)"),
        (by_size, f"partition_min_mb ({min_bytes // 2**20:,} MB)")) if m is not None]
    if options:
        months, what = min(options)
        if months <= horizon:
            return months, what
    now = (f"{rows:,.0f} rows, {table.total_bytes / 2**20:,.0f} MB, growing about "
           f"{grows.per_month:,.0f} rows a month ({grows.source})")
    return NotCandidate(f"{table.qualified} is small for partitioning: {now}; it reaches "
                        f"neither partition_min_rows ({min_rows:,}) nor partition_min_mb "
                        f"({min_bytes // 2**20:,}) within partition_horizon_months ({horizon})")
