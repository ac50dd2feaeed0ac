"""Reading ``pg_stat_statements`` on PostgreSQL 13 to 18.

Column names changed over the versions (``total_time`` became
``total_exec_time`` in 13, ``blk_read_time`` became ``shared_blk_read_time`` in
17, ``toplevel`` appeared in 14); the reader asks the view which columns it has
and reads what is there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect import db
from pgarchitect.analysis import fingerprint
from pgarchitect.errors import CapabilityMissing
from pgarchitect.workload import Skipped, Statement, Workload

# Statement field -> pg_stat_statements columns that hold it, newest name first.
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "calls": ("calls",),
    "total_ms": ("total_exec_time", "total_time"),
    "mean_ms": ("mean_exec_time", "mean_time"),
    "stddev_ms": ("stddev_exec_time", "stddev_time"),
    "min_ms": ("min_exec_time", "min_time"),
    "max_ms": ("max_exec_time", "max_time"),
    "total_plan_ms": ("total_plan_time",),
    "rows": ("rows",),
    "shared_blks_hit": ("shared_blks_hit",),
    "shared_blks_read": ("shared_blks_read",),
    "shared_blks_dirtied": ("shared_blks_dirtied",),
    "shared_blks_written": ("shared_blks_written",),
    "local_blks_hit": ("local_blks_hit",),
    "local_blks_read": ("local_blks_read",),
    "temp_blks_read": ("temp_blks_read",),
    "temp_blks_written": ("temp_blks_written",),
    "blk_read_ms": ("shared_blk_read_time", "blk_read_time"),
    "blk_write_ms": ("shared_blk_write_time", "blk_write_time"),
    "wal_bytes": ("wal_bytes",),
}
IO_TIMING_FIELDS = ("blk_read_ms", "blk_write_ms")
INT_FIELDS = frozenset({"calls", "rows", "wal_bytes"} | {f for f in COLUMNS if "blks" in f})

# What pg_stat_statements shows instead of another role's text without pg_read_all_stats.
INSUFFICIENT_PRIVILEGE = "<insufficient privilege>"

VIEW_COLUMNS_SQL = """
SELECT attname FROM pg_attribute
WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped
"""

# stats_reset and the number of entries evicted since (pg_stat_statements 1.9, PG 14+).
INFO_SQL = "SELECT stats_reset, dealloc FROM {}.pg_stat_statements_info"


@dataclass(frozen=True)
class Layout:
    """Where the view is and which of the known columns it has."""

    schema: str
    columns: frozenset[str]
    io_timing: bool

    def column(self, field: str) -> str | None:
        return next((c for c in COLUMNS[field] if c in self.columns), None)

    @property
    def has_info(self) -> bool:
        return "toplevel" in self.columns  # the info view came with toplevel (1.9)


def layout(conn: psycopg.Connection[Any]) -> Layout:
    """Find pg_stat_statements and its columns; say what to do when it is missing."""
    found = db.extension(conn, "pg_stat_statements")
    if found is None:
        raise CapabilityMissing(
            "pg_stat_statements is not created in this database: run "
            "CREATE EXTENSION pg_stat_statements; (see `pgarchitect doctor`)."
        )
    schema = found[0]
    view = sql.Identifier(schema, "pg_stat_statements").as_string(conn)
    columns = frozenset(r[0] for r in conn.execute(VIEW_COLUMNS_SQL, [view]))
    io = conn.execute("SELECT current_setting('track_io_timing')::bool").fetchone()
    return Layout(schema, columns, bool(io and io[0]))


def select_sql(lay: Layout, *, by_dbid: bool = True) -> sql.Composed:
    """The SELECT of raw rows: userid, dbid, queryid, toplevel, query, stats_since, COLUMNS."""
    fields: list[sql.Composable] = []
    for field in COLUMNS:
        column = lay.column(field)
        fields.append(sql.Identifier(column) if column else sql.SQL("NULL"))
    toplevel = sql.Identifier("toplevel") if "toplevel" in lay.columns else sql.SQL("true")
    # When the entry began counting (pg_stat_statements 1.11, PostgreSQL 17+).
    since = sql.Identifier("stats_since") if "stats_since" in lay.columns else sql.SQL("NULL")
    where = sql.SQL("WHERE dbid = %(dbid)s") if by_dbid else sql.SQL("")
    return sql.SQL(
        "SELECT userid, dbid, queryid, {toplevel}, query, {since}, {fields} FROM {view} {where}"
    ).format(
        toplevel=toplevel,
        since=since,
        fields=sql.SQL(", ").join(fields),
        view=sql.Identifier(lay.schema, "pg_stat_statements"),
        where=where,
    )


@dataclass(frozen=True)
class RawRow:
    """One pg_stat_statements entry as read (the key and the counters)."""

    userid: int
    dbid: int
    queryid: int
    toplevel: bool
    query: str
    counters: Mapping[str, float | int | None]
    stats_since: datetime | None = None  # PostgreSQL 17+: when the entry began counting

    @property
    def key(self) -> tuple[int, int, int, bool]:
        return (self.userid, self.dbid, self.queryid, self.toplevel)


def read_raw(conn: psycopg.Connection[Any], lay: Layout, dbid: int | None) -> list[RawRow]:
    """Every entry of one database (or all, with ``dbid=None``)."""
    try:
        rows = conn.execute(select_sql(lay, by_dbid=dbid is not None), {"dbid": dbid})
        result = []
        for r in rows:
            # Plain numbers (wal_bytes is numeric, a Decimal): they go to JSON snapshots.
            counters: dict[str, float | int | None] = {
                f: None if v is None else int(v) if f in INT_FIELDS else float(v)
                for f, v in zip(COLUMNS, r[6:], strict=True)
            }
            if not lay.io_timing:
                for f in IO_TIMING_FIELDS:
                    counters[f] = None
            result.append(RawRow(r[0], r[1], r[2], bool(r[3]), r[4] or "", counters, r[5]))
        return result
    except psycopg.errors.ObjectNotInPrerequisiteState:
        raise CapabilityMissing(
            "pg_stat_statements is not preloaded: add it to shared_preload_libraries and "
            "restart PostgreSQL (see `pgarchitect doctor`)."
        ) from None


def to_statement(row: RawRow, source: str, counters: Mapping[str, Any] | None = None
                 ) -> Statement:
    """A Statement from a raw row (or from counters computed for it, e.g. a delta)."""
    values = dict(row.counters if counters is None else counters)
    kwargs: dict[str, Any] = {}
    for field, value in values.items():
        if value is None:
            kwargs[field] = None if field in ("blk_read_ms", "blk_write_ms", "wal_bytes") else 0
        elif field in INT_FIELDS:
            kwargs[field] = int(value)
        else:
            kwargs[field] = float(value)
    return Statement(query=row.query, fingerprint=fingerprint(row.query), queryid=row.queryid,
                     source=source, **kwargs)


def split_readable(rows: Sequence[RawRow]) -> tuple[list[RawRow], list[Skipped]]:
    """Top-level rows with text; the others are skipped with a reason."""
    keep, skipped = [], []
    for row in rows:
        if not row.toplevel:
            continue  # counted again in the statement that ran it (track = all)
        if row.query == INSUFFICIENT_PRIVILEGE:
            skipped.append(Skipped(
                f"queryid {row.queryid}",
                "Text hidden (<insufficient privilege>): GRANT pg_read_all_stats to the role",
                "hidden",
            ))
            continue
        keep.append(row)
    return keep, skipped


def current_dbid(conn: psycopg.Connection[Any], database: str | None) -> int:
    """The oid of ``database`` (default: the connected one)."""
    row = conn.execute(
        "SELECT oid FROM pg_database WHERE datname = coalesce(%s, current_database())",
        [database],
    ).fetchone()
    if row is None:
        raise CapabilityMissing(f"No database named {database!r} on this server.")
    return int(row[0])


WINDOW_SQL = ("SELECT extract(epoch FROM now() - coalesce(%s::timestamptz, "
              "pg_postmaster_start_time()))")


def reset_info(conn: psycopg.Connection[Any], lay: Layout) -> tuple[Any, int | None]:
    """(stats_reset, dealloc) where the server tells them (PostgreSQL 14+)."""
    if not lay.has_info:
        return None, None
    query = sql.SQL(INFO_SQL).format(sql.Identifier(lay.schema))
    row = conn.execute(query).fetchone()
    return (row[0], int(row[1])) if row else (None, None)


class PgStatStatementsSource:
    """The cumulative counters of pg_stat_statements for one database."""

    name = "pg_stat_statements"

    def __init__(self, conn: psycopg.Connection[Any], database: str | None = None) -> None:
        self.conn = conn
        self.database = database

    def read(self) -> Workload:
        lay = layout(self.conn)
        rows, skipped = split_readable(read_raw(self.conn, lay,
                                                current_dbid(self.conn, self.database)))
        since, _ = reset_info(self.conn, lay)
        when = f" (statistics reset at {since:%Y-%m-%d %H:%M %Z})" if since else ""
        notes = [f"Cumulative counters since the statistics were last reset{when}; "
                 "take snapshots (`pgarchitect snapshot`) to see a window such as the past 7 days."]
        if not lay.io_timing:
            notes.append("track_io_timing is off: I/O times are not known.")
        # The counters count since their reset (PostgreSQL 14+ says when), else since
        # the server started.
        window = self.conn.execute(WINDOW_SQL, [since]).fetchone()
        return Workload([to_statement(r, self.name) for r in rows], skipped, notes,
                        float(window[0]) if window else None)
