"""One health snapshot: the checks of the target, the figures the store adds, and storing it.

The target is only read. The store (``store_url``, else the target, as for
``pgarchitect snapshot``) gives what needs an earlier moment: the latency estimate
is the difference between the pg_stat_statements counters now and the newest
snapshot stored (by ``pgarchitect snapshot`` or the previous health run, which takes
one), and the growth compares the size with earlier health snapshots.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from pgarchitect import db, store
from pgarchitect.errors import CapabilityMissing, first_line
from pgarchitect.health.checks import CHECKS
from pgarchitect.health.estimate import mixture_quantile
from pgarchitect.health.model import Figure, HealthSnapshot
from pgarchitect.settings import Config
from pgarchitect.store import health as health_store
from pgarchitect.workload.snapshots import SnapshotDeltaSource, list_snapshots, take, target_of

NOW_SQL = "SELECT now()"
ESTIMATE_NOTE = ("estimated: log-normal per statement from pg_stat_statements' mean and "
                 "stddev, weighted by calls")


def collect(conn: psycopg.Connection[Any], store_conn: psycopg.Connection[Any],
            config: Config) -> HealthSnapshot:
    """The target's health now, with the figures that need the stored snapshots."""
    row = conn.execute(NOW_SQL).fetchone()  # the target's clock, as snapshots use
    assert row is not None
    snap = HealthSnapshot(target_of(conn), row[0])
    for check in CHECKS:
        check(conn, config, snap)
    latency(conn, store_conn, snap)
    growth(store_conn, snap, config.get_int("health_growth_snapshots"))
    return snap


def latency(conn: psycopg.Connection[Any], store_conn: psycopg.Connection[Any],
            snap: HealthSnapshot) -> None:
    """Statement latency since the newest stored pg_stat_statements snapshot (p95 estimated)."""
    names = ("latency_p95_ms", "latency_mean_ms", "statement_calls")
    if not list_snapshots(store_conn, snap.database):
        for name in names:
            snap.figures[name] = Figure(None, "not enough snapshots yet: the next run has one",
                                        name == "latency_p95_ms")
        return
    try:
        workload = SnapshotDeltaSource(conn, store_conn, timedelta(0)).read()
    except CapabilityMissing as exc:
        for name in names:
            snap.figures[name] = Figure(None, first_line(exc), name == "latency_p95_ms")
        return
    # pgarchitect's own statements (tagged) are its work, not the application's.
    stats = [(s.calls, s.mean_ms, s.stddev_ms) for s in workload.statements
             if not s.query.lstrip().startswith(db.TAG.strip())]
    calls = sum(c for c, _, _ in stats)
    window = workload.notes[0] if workload.notes else ""
    p95 = mixture_quantile(stats)
    snap.figures["latency_p95_ms"] = Figure(
        None if p95 is None else round(p95, 3),
        f"{ESTIMATE_NOTE}; {window}" if p95 is not None else "no statement ran in the window",
        estimated=True)
    mean = sum(c * m for c, m, _ in stats) / calls if calls else None
    snap.figures["latency_mean_ms"] = Figure(None if mean is None else round(mean, 3), window)
    snap.figures["statement_calls"] = Figure(calls, window)
    snap.notes.extend(workload.notes[1:])


def growth(store_conn: psycopg.Connection[Any], snap: HealthSnapshot, count: int) -> None:
    """Bytes per day between the oldest of the ``count`` newest snapshots and now."""
    size = snap.value("database_size_bytes")
    earlier = [s for s in health_store.newest(store_conn, snap.database, count - 1)
               if s.value("database_size_bytes") is not None and s.taken_at < snap.taken_at]
    if size is None or not earlier:
        snap.figures["database_growth_bytes_per_day"] = Figure(
            None, "not enough snapshots yet (needs 2)")
        return
    first = earlier[-1]
    days = (snap.taken_at - first.taken_at).total_seconds() / 86400.0
    before = first.value("database_size_bytes")
    assert before is not None
    snap.figures["database_growth_bytes_per_day"] = Figure(
        round((size - before) / days, 1),
        f"over {len(earlier) + 1} snapshots since {first.taken_at:%Y-%m-%d %H:%M}")


def save(conn: psycopg.Connection[Any], store_conn: psycopg.Connection[Any],
         snap: HealthSnapshot) -> int:
    """Store the snapshot and the pg_stat_statements counters the next estimate starts
    from (none when the extension is missing: said in the notes); the snapshot's id."""
    try:
        store.migrate(store_conn)
        try:
            take(conn, store_conn)
        except CapabilityMissing as exc:
            snap.notes.append(f"pg_stat_statements counters not stored: {first_line(exc)}")
        with store_conn.transaction():
            return health_store.insert(store_conn, snap)
    except psycopg.errors.ReadOnlySqlTransaction:
        raise CapabilityMissing(
            "The store is read-only: set PGARCHITECT_STORE_URL to a writable database, "
            "or pass --no-store.") from None


def run(config: Config, dsn: str | None = None, *, keep: bool = True) -> HealthSnapshot:
    """Take the target's health snapshot and (with ``keep``) store it."""
    with db.target_and_store(config, dsn) as (target, store_conn):
        snap = collect(target, store_conn, config)
        if keep:
            save(target, store_conn, snap)
        return snap
