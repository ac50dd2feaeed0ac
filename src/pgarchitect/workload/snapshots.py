"""Snapshots of pg_stat_statements, and the workload of a window as their difference.

pg_stat_statements only counts up from its last reset. A window ("the past 7
days") is the difference between a stored snapshot taken at its start and the
counters now. Three things make that difference more than a subtraction:

- a reset of all statistics (``pg_stat_statements_info.stats_reset`` moved, or on
  PostgreSQL 13 an entry counting fewer calls than before): the counters start
  again from zero, so the window is counted from the reset;
- an entry evicted when the view was full (``pg_stat_statements.max``) and added
  back later, or reset alone: its count restarts; it is counted from its return.
  PostgreSQL 17+ says when each entry began counting (``stats_since``); before
  that, a restart shows only when the entry counts fewer calls than before;
- a statement that is new in the window: all of its counters belong to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgarchitect import store
from pgarchitect.workload import Workload
from pgarchitect.workload.pgss import (
    PgStatStatementsSource,
    current_dbid,
    layout,
    read_raw,
    reset_info,
    split_readable,
    to_statement,
)

Counters = Mapping[str, Any]

# Counters that add up over time; the others (means, spreads, extremes) are derived.
ADDITIVE = (
    "calls", "total_ms", "total_plan_ms", "rows", "shared_blks_hit", "shared_blks_read",
    "shared_blks_dirtied", "shared_blks_written", "local_blks_hit", "local_blks_read",
    "temp_blks_read", "temp_blks_written", "blk_read_ms", "blk_write_ms", "wal_bytes",
)

TABLE_STATS_SQL = """
SELECT relid, schemaname, relname, jsonb_build_object(
    'seq_scan', seq_scan, 'seq_tup_read', seq_tup_read, 'idx_scan', idx_scan,
    'idx_tup_fetch', idx_tup_fetch, 'n_tup_ins', n_tup_ins, 'n_tup_upd', n_tup_upd,
    'n_tup_del', n_tup_del, 'n_tup_hot_upd', n_tup_hot_upd, 'n_live_tup', n_live_tup,
    'n_dead_tup', n_dead_tup)
FROM pg_stat_user_tables
"""

INDEX_STATS_SQL = """
SELECT indexrelid, schemaname, relname, indexrelname, jsonb_build_object(
    'idx_scan', idx_scan, 'idx_tup_read', idx_tup_read, 'idx_tup_fetch', idx_tup_fetch)
FROM pg_stat_user_indexes
"""


def target_of(conn: psycopg.Connection[Any]) -> str:
    """How snapshots name the database they observe: host:port/dbname."""
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot's header."""

    id: int
    taken_at: datetime
    target: str
    statements: int
    stats_reset: datetime | None
    dealloc: int | None


def take(conn: psycopg.Connection[Any], store_conn: psycopg.Connection[Any]) -> Snapshot:
    """Store the current counters of the target database; one transaction in the store."""
    lay = layout(conn)
    dbid = current_dbid(conn, None)
    rows = read_raw(conn, lay, dbid)
    stats_reset, dealloc = reset_info(conn, lay)
    now = conn.execute("SELECT now()").fetchone()  # the target's clock, as stats_since is
    assert now is not None
    tables = conn.execute(TABLE_STATS_SQL).fetchall()
    indexes = conn.execute(INDEX_STATS_SQL).fetchall()
    store.migrate(store_conn)
    with store_conn.transaction():
        row = store_conn.execute(
            "INSERT INTO pgarchitect.snapshot "
            "(taken_at, target, dbid, server_version, stats_reset, dealloc, io_timing) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, taken_at",
            [now[0], target_of(conn), dbid, conn.info.server_version, stats_reset, dealloc,
             lay.io_timing],
        ).fetchone()
        assert row is not None
        snap_id, taken_at = row
        with store_conn.cursor() as cur:
            with cur.copy("COPY pgarchitect.snapshot_statement (snapshot_id, userid, dbid, "
                          "queryid, toplevel, query, counters) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row((snap_id, r.userid, r.dbid, r.queryid, r.toplevel, r.query,
                                  Jsonb(dict(r.counters))))
            with cur.copy("COPY pgarchitect.snapshot_table (snapshot_id, relid, schemaname, "
                          "relname, counters) FROM STDIN") as cp:
                for t in tables:
                    cp.write_row((snap_id, *t[:3], Jsonb(t[3])))
            with cur.copy("COPY pgarchitect.snapshot_index (snapshot_id, indexrelid, "
                          "schemaname, relname, indexrelname, counters) FROM STDIN") as cp:
                for i in indexes:
                    cp.write_row((snap_id, *i[:4], Jsonb(i[4])))
    return Snapshot(snap_id, taken_at, target_of(conn), len(rows), stats_reset, dealloc)


def list_snapshots(store_conn: psycopg.Connection[Any], target: str) -> list[Snapshot]:
    """The snapshots stored for a target, oldest first."""
    if store.current_version(store_conn) == 0:
        return []
    rows = store_conn.execute(
        "SELECT s.id, s.taken_at, s.target, count(st.*), s.stats_reset, s.dealloc "
        "FROM pgarchitect.snapshot s "
        "LEFT JOIN pgarchitect.snapshot_statement st ON st.snapshot_id = s.id "
        "WHERE s.target = %s GROUP BY s.id ORDER BY s.taken_at, s.id", [target]).fetchall()
    return [Snapshot(*r) for r in rows]


def _sumsq(c: Counters) -> float:
    """Sum of squared execution times, recovered from the mean and the (population) spread."""
    calls, mean, sd = c.get("calls") or 0, c.get("mean_ms") or 0.0, c.get("stddev_ms") or 0.0
    return float(calls) * (float(sd) ** 2 + float(mean) ** 2)


def delta(base: Counters, now: Counters) -> dict[str, Any]:
    """Counters accumulated between ``base`` and ``now`` for one entry (no reset between)."""
    out: dict[str, Any] = {}
    for field in ADDITIVE:
        b, n = base.get(field), now.get(field)
        out[field] = None if n is None else float(n) - float(b or 0)
    calls = int(out["calls"] or 0)
    out["calls"] = calls
    mean = (out["total_ms"] or 0.0) / calls if calls else 0.0
    out["mean_ms"] = mean
    variance = (_sumsq(now) - _sumsq(base)) / calls - mean**2 if calls else 0.0
    out["stddev_ms"] = math.sqrt(max(variance, 0.0))
    # Extremes cannot be subtracted: these are since the entry began counting.
    out["min_ms"], out["max_ms"] = now.get("min_ms"), now.get("max_ms")
    return out


class SnapshotDeltaSource:
    """The workload of a window: the counters now minus those of a stored snapshot."""

    name = "snapshot delta"

    def __init__(self, conn: psycopg.Connection[Any], store_conn: psycopg.Connection[Any],
                 since: timedelta) -> None:
        self.conn, self.store_conn, self.since = conn, store_conn, since

    def _baseline(self) -> tuple[Snapshot | None, list[str]]:
        snaps = list_snapshots(self.store_conn, target_of(self.conn))
        if not snaps:
            return None, []
        now = self.conn.execute("SELECT now()").fetchone()  # the clock snapshots use
        assert now is not None
        start = now[0] - self.since
        older = [s for s in snaps if s.taken_at <= start]
        if older:
            return older[-1], []
        first = snaps[0]
        return first, [f"The oldest snapshot is from {first.taken_at:%Y-%m-%d %H:%M}: the "
                       f"window is shorter than asked ({self.since})."]

    def read(self) -> Workload:
        base, notes = self._baseline()
        if base is None:
            live = PgStatStatementsSource(self.conn).read()
            live.notes.insert(0, "No snapshots stored yet: cumulative counters are used. "
                                 "Run `pgarchitect snapshot` (daily) to get windows.")
            return live
        lay = layout(self.conn)
        rows, skipped = split_readable(read_raw(self.conn, lay, current_dbid(self.conn, None)))
        stats_reset, dealloc = reset_info(self.conn, lay)
        stored = {
            (r[0], r[1], r[2], r[3]): r[4]
            for r in self.store_conn.execute(
                "SELECT userid, dbid, queryid, toplevel, counters "
                "FROM pgarchitect.snapshot_statement WHERE snapshot_id = %s", [base.id])
        }
        reset = stats_reset is not None and stats_reset != base.stats_reset
        if reset:
            notes.append(f"Statistics were reset at {stats_reset:%Y-%m-%d %H:%M}, after the "
                         "snapshot: the window counts from the reset.")
        if dealloc is not None and base.dealloc is not None and dealloc > base.dealloc:
            notes.append(f"{dealloc - base.dealloc} entries were evicted from "
                         "pg_stat_statements in the window (pg_stat_statements.max is too "
                         "small): statements that came back count from their return.")
        restarted = 0
        statements = []
        for row in rows:
            old = None if reset else stored.get(row.key)
            began_after = row.stats_since is not None and row.stats_since > base.taken_at
            if old is not None and (began_after or
                                    int(row.counters["calls"] or 0) < int(old["calls"] or 0)):
                old = None  # counted again from zero: a reset (PG 13) or an eviction
                restarted += 1
            counters = delta(old, row.counters) if old is not None else dict(row.counters)
            if int(counters["calls"] or 0) > 0:
                statements.append(to_statement(row, self.name, counters))
        if restarted:
            notes.append(f"{restarted} statements began counting again after the snapshot "
                         "(reset or evicted): counted from their restart.")
        notes.insert(0, f"Window: since snapshot {base.id} taken at "
                        f"{base.taken_at:%Y-%m-%d %H:%M %Z}.")
        since = self.conn.execute("SELECT extract(epoch FROM now() - %s)",
                                  [stats_reset if reset else base.taken_at]).fetchone()
        return Workload(statements, skipped, notes, float(since[0]) if since else None)
