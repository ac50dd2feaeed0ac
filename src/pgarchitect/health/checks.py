"""The checks of the target database: one plain function each, in the order of ``CHECKS``.

A check reads the target (statistics views and catalogs only, nothing that waits on
a table's lock) and adds its figures and rows to the snapshot. Figures that need
stored snapshots (the latency estimate, the growth) are in :mod:`.collect`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import psycopg

from pgarchitect.health.model import Figure, HealthSnapshot, LockWait, Replica, Session, TableVacuum
from pgarchitect.settings import Config

Check = Callable[[psycopg.Connection[Any], Config, HealthSnapshot], None]

# pg_stat_activity.state -> figure name; NULL (a session this role may not see) is
# "unknown". Client backends only: they are what max_connections limits.
STATES: Final = {
    "active": "connections_active",
    "idle": "connections_idle",
    "idle in transaction": "connections_idle_in_transaction",
    "idle in transaction (aborted)": "connections_idle_in_transaction_aborted",
    "fastpath function call": "connections_fastpath",
    "disabled": "connections_disabled",
}
CONNECTIONS_SQL: Final = """\
SELECT state, count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' GROUP BY state"""
MAX_CONNECTIONS_SQL: Final = "SELECT current_setting('max_connections')::int"

# Other sessions only: never this one, nor any session of pgarchitect's.
SESSIONS_SQL: Final = """\
SELECT pid, state, usename, application_name,
       extract(epoch FROM now() - query_start)::float8,
       extract(epoch FROM now() - xact_start)::float8, left(query, 200)
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND application_name IS DISTINCT FROM %(app)s
  AND ((state = 'active' AND query_start < now() - make_interval(secs => %(long_s)s))
       OR state LIKE 'idle in transaction%%')
ORDER BY xact_start NULLS LAST, pid"""
OLDEST_TRANSACTION_SQL: Final = """\
SELECT extract(epoch FROM max(now() - xact_start))::float8 FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND application_name IS DISTINCT FROM %(app)s"""

# waitstart is PostgreSQL 14+: read through jsonb, so that 13 gives NULL, not an error.
LOCKS_SQL: Final = """\
SELECT l.pid, l.locktype, l.mode,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END,
       extract(epoch FROM now() - (to_jsonb(l) ->> 'waitstart')::timestamptz)::float8,
       pg_blocking_pids(l.pid)
FROM pg_locks l
WHERE NOT l.granted AND l.pid <> pg_backend_pid()
ORDER BY 5 DESC NULLS LAST, 1"""

CACHE_SQL: Final = """\
SELECT (SELECT 100.0 * sum(heap_blks_hit) / nullif(sum(heap_blks_hit + heap_blks_read), 0)
          FROM pg_statio_user_tables)::float8,
       (SELECT 100.0 * sum(idx_blks_hit) / nullif(sum(idx_blks_hit + idx_blks_read), 0)
          FROM pg_statio_user_indexes)::float8"""

SIZE_SQL: Final = "SELECT pg_database_size(current_database())"

IN_RECOVERY_SQL: Final = "SELECT pg_is_in_recovery()"
REPLICATION_SQL: Final = """\
SELECT application_name, client_addr::text, state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8,
       extract(epoch FROM replay_lag)::float8
FROM pg_stat_replication ORDER BY application_name"""

# datfrozenxid of every database: the server wraps around as a whole.
WRAPAROUND_SQL: Final = """\
SELECT max(age(datfrozenxid))::bigint, current_setting('autovacuum_freeze_max_age')::bigint
FROM pg_database"""
XID_SPACE: Final = 2**31  # https://www.postgresql.org/docs/current/routine-vacuuming.html

# By relpages, which the catalog keeps: pg_relation_size would wait on a table's lock.
LARGEST_TABLES_SQL: Final = """\
SELECT format('%%I.%%I', n.nspname, c.relname), c.relpages, s.n_live_tup, s.n_dead_tup,
       s.last_autovacuum, s.last_vacuum
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname <> 'pgarchitect'
ORDER BY c.relpages DESC, 1 LIMIT %(limit)s"""
LARGEST_TABLES: Final = 10


def connections(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Client connections by state, against max_connections."""
    counts = dict.fromkeys([*STATES.values(), "connections_unknown"], 0)
    for state, n in conn.execute(CONNECTIONS_SQL):
        counts[STATES.get(state, "connections_unknown")] += int(n)
    row = conn.execute(MAX_CONNECTIONS_SQL).fetchone()
    limit = int(row[0]) if row else 0
    total = sum(counts.values())
    snap.figures["connections_total"] = Figure(total)
    snap.figures["connections_max"] = Figure(limit, "max_connections")
    snap.figures["connections_used_pct"] = Figure(
        round(100.0 * total / limit, 2) if limit else None,
        "superuser_reserved_connections are part of the limit")
    for name, n in counts.items():
        snap.figures[name] = Figure(n)


def sessions(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Other sessions running long, or idle in a transaction; the oldest transaction."""
    long_s = config.get_int("health_long_running_s")
    params = {"app": config.get_str("application_name"), "long_s": long_s}
    snap.sessions = [Session(*row) for row in conn.execute(SESSIONS_SQL, params)]
    long_running = [s for s in snap.sessions if s.state == "active"]
    snap.figures["sessions_long_running"] = Figure(len(long_running),
                                                   f"statements running over {long_s} s")
    snap.figures["sessions_idle_in_transaction"] = Figure(len(snap.sessions)
                                                          - len(long_running))
    row = conn.execute(OLDEST_TRANSACTION_SQL, params).fetchone()
    snap.figures["transaction_longest_s"] = Figure(
        None if row is None or row[0] is None else round(float(row[0]), 3),
        "" if row is not None and row[0] is not None else "no open transaction")


def locks(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Lock requests not granted, each with the sessions that block it."""
    snap.locks = [LockWait(pid, locktype, mode, rel, wait, list(blockers or []))
                  for pid, locktype, mode, rel, wait, blockers in conn.execute(LOCKS_SQL)]
    waits = [lk.waiting_s for lk in snap.locks if lk.waiting_s is not None]
    snap.figures["locks_waiting"] = Figure(len(snap.locks))
    snap.figures["lock_wait_longest_s"] = Figure(round(max(waits), 3) if waits else None,
                                                 "" if waits else "no lock waited on")


def cache(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Share of table and index blocks found in shared buffers, since the stats reset."""
    row = conn.execute(CACHE_SQL).fetchone()
    tables, indexes = (row[0], row[1]) if row else (None, None)
    since = "since the statistics were reset"
    snap.figures["cache_hit_tables_pct"] = Figure(
        None if tables is None else round(tables, 2),
        since if tables is not None else "no table block read yet")
    snap.figures["cache_hit_indexes_pct"] = Figure(
        None if indexes is None else round(indexes, 2),
        since if indexes is not None else "no index block read yet")


def size(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """The database's size; the disk, which PostgreSQL does not show."""
    row = conn.execute(SIZE_SQL).fetchone()
    snap.figures["database_size_bytes"] = Figure(int(row[0]) if row else None)
    # No SQL function reports a file system's free space (pg_ls_dir and pg_stat_file
    # list files, need privileges, and say nothing of free space): not guessed.
    snap.figures["disk_used_pct"] = Figure(
        None, "not shown by the server: read it from the host or the provider's metrics")


def replication(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Standbys streaming from the server and how far behind they are."""
    row = conn.execute(IN_RECOVERY_SQL).fetchone()
    if row and row[0]:
        note = "this server is a replica: its primary shows the lag"
        snap.figures["replicas"] = Figure(None, note)
        snap.figures["replication_lag_max_bytes"] = Figure(None, note)
        snap.figures["replication_lag_max_s"] = Figure(None, note)
        return
    snap.replicas = [Replica(*r) for r in conn.execute(REPLICATION_SQL)]
    if not snap.replicas:
        snap.figures["replicas"] = Figure(0, "no replicas")
        snap.figures["replication_lag_max_bytes"] = Figure(None, "no replicas")
        snap.figures["replication_lag_max_s"] = Figure(None, "no replicas")
        return
    lag_b = [r.lag_bytes for r in snap.replicas if r.lag_bytes is not None]
    lag_s = [r.lag_s for r in snap.replicas if r.lag_s is not None]
    hidden = "not shown to this role (grant pg_read_all_stats)"
    snap.figures["replicas"] = Figure(len(snap.replicas))
    snap.figures["replication_lag_max_bytes"] = Figure(max(lag_b) if lag_b else None,
                                                       "" if lag_b else hidden)
    snap.figures["replication_lag_max_s"] = Figure(max(lag_s) if lag_s else None,
                                                   "" if lag_s else "no lag measured yet")


def wraparound(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Transaction-id age of the oldest database against 2^31 and the freeze limit."""
    row = conn.execute(WRAPAROUND_SQL).fetchone()
    assert row is not None
    age, freeze_max = int(row[0]), int(row[1])
    snap.figures["xid_age_max"] = Figure(age)
    snap.figures["xid_wraparound_margin"] = Figure(XID_SPACE - age)
    snap.figures["xid_wraparound_used_pct"] = Figure(round(100.0 * age / XID_SPACE, 4))
    snap.figures["xid_freeze_max_age_pct"] = Figure(
        round(100.0 * age / freeze_max, 2), f"autovacuum_freeze_max_age = {freeze_max}")


def tables(conn: psycopg.Connection[Any], config: Config, snap: HealthSnapshot) -> None:
    """Dead tuples and last vacuum of the largest tables."""
    snap.tables = [TableVacuum(*r) for r in conn.execute(LARGEST_TABLES_SQL,
                                                         {"limit": LARGEST_TABLES})]
    dead = [t.dead_tuples for t in snap.tables if t.dead_tuples is not None]
    snap.figures["dead_tuples_largest_tables"] = Figure(
        sum(dead), f"the {LARGEST_TABLES} largest tables by pages" if snap.tables
        else "no tables")


CHECKS: tuple[Check, ...] = (connections, sessions, locks, cache, size, replication,
                             wraparound, tables)
