"""The daily health snapshot on real servers (PostgreSQL 15 and 18).

Each state is made for real with separate connections (a transaction left idle, a
statement waiting on a lock another holds, statements of a known duration between
two snapshots) and then found; stored snapshots are read back; the CLI prints JSON;
a target that cannot be reached stores nothing.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg
import pytest
from support.cli import run_cli
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.health.collect import run
from pgarchitect.health.estimate import mixture_quantile
from pgarchitect.health.model import FIGURES, HealthSnapshot
from pgarchitect.health.render import print_health
from pgarchitect.settings import load_config
from pgarchitect.store import health as health_store

STATE_FIGURES = ("connections_active", "connections_idle", "connections_idle_in_transaction",
                 "connections_idle_in_transaction_aborted", "connections_fastpath",
                 "connections_disabled", "connections_unknown")


def _waiting(conn: psycopg.Connection[Any], pid: int) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE pid = %s AND NOT granted)",
                       [pid]).fetchone()
    return bool(row and row[0])


def test_idle_transaction_and_lock_wait_are_reported(pg_db: TestDatabase) -> None:
    with pg_db.connect() as setup:
        setup.execute("CREATE TABLE t (id int)")
    holder = psycopg.connect(pg_db.conninfo)  # not autocommit: the LOCK opens a transaction
    waiter = pg_db.connect()
    thread: threading.Thread | None = None
    try:
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
        thread = threading.Thread(target=lambda: waiter.execute("SELECT count(*) FROM t"))
        thread.start()
        with pg_db.connect() as watch:
            deadline = time.monotonic() + 10
            while not _waiting(watch, waiter_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _waiting(watch, waiter_pid)
        time.sleep(1.2)  # past health_long_running_s
        snap = run(load_config({"health_long_running_s": 1}), pg_db.conninfo, keep=False)
    finally:
        holder.rollback()
        if thread is not None:
            thread.join(10)
        holder.close()
        waiter.close()

    by_pid = {s.pid: s for s in snap.sessions}
    assert set(by_pid) == {holder_pid, waiter_pid}  # never pgarchitect's own session
    assert by_pid[holder_pid].state == "idle in transaction"
    assert by_pid[waiter_pid].state == "active" and (by_pid[waiter_pid].query_s or 0) > 1
    assert snap.value("sessions_idle_in_transaction") == 1
    assert snap.value("sessions_long_running") == 1
    lock = next(lk for lk in snap.locks if lk.pid == waiter_pid)
    assert lock.blocked_by == [holder_pid] and lock.relation == "t"
    assert lock.mode == "AccessShareLock" and (lock.waiting_s or 0) > 1
    assert snap.value("locks_waiting") == 1
    # connections by state add up, the holder idle in its transaction, the waiter and
    # pgarchitect's own session active
    assert sum(snap.value(n) or 0 for n in STATE_FIGURES) == snap.value("connections_total")
    assert (snap.value("connections_idle_in_transaction") or 0) >= 1
    assert (snap.value("connections_active") or 0) >= 2
    total, limit = snap.value("connections_total"), snap.value("connections_max")
    assert total and limit and snap.value("connections_used_pct") == round(
        100 * total / limit, 2)
    assert snap.figures["replicas"].note == "no replicas"
    assert snap.value("disk_used_pct") is None
    assert "not shown by the server" in snap.figures["disk_used_pct"].note
    margin, age = snap.value("xid_wraparound_margin"), snap.value("xid_age_max")
    assert age is not None and margin == 2**31 - age
    assert [t.table for t in snap.tables] == ["public.t"]


def test_p95_estimate_growth_and_stored_snapshots(pg_db: TestDatabase) -> None:
    config = load_config()
    first = run(config, pg_db.conninfo)
    p95 = first.figures["latency_p95_ms"]
    assert p95.value is None and p95.estimated and "not enough snapshots" in p95.note
    assert first.value("database_growth_bytes_per_day") is None
    assert "not enough snapshots" in first.figures["database_growth_bytes_per_day"].note

    with pg_db.connect() as app:
        app.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad "
                    "FROM generate_series(1, 20000) g")
        for _ in range(60):
            app.execute("SELECT pg_sleep(0.02)")
    second = run(config, pg_db.conninfo)

    p95 = second.figures["latency_p95_ms"]
    assert p95.estimated and "estimated" in p95.note and "(estimated)" in p95.shown
    # 60 calls of 20 ms against two others: the estimate lies within the sleeps' spread
    assert p95.value is not None and 19 <= p95.value <= 40, p95
    assert (second.value("statement_calls") or 0) >= 60
    assert (second.value("database_growth_bytes_per_day") or 0) > 0
    assert "over 2 snapshots" in second.figures["database_growth_bytes_per_day"].note

    with db.connect(pg_db.conninfo, config) as store:
        latest = health_store.latest(store, second.database)
        stored = health_store.history(store, second.database, 1)
    assert latest is not None and latest.to_json() == second.to_json()
    assert [s.taken_at for s in stored] == [first.taken_at, second.taken_at]
    assert HealthSnapshot.from_json(second.to_json()) == second


def test_mixture_quantile_weights_statements_by_calls() -> None:
    fast, slow = (960, 1.0, 0.1), (40, 1000.0, 10.0)
    # 96% of the calls are the fast ones: the p95 sits in their upper tail
    assert 1.0 < (mixture_quantile([fast, slow]) or 0) < 2.0
    assert (mixture_quantile([(900, 1.0, 0.1), (100, 1000.0, 10.0)]) or 0) > 900


def test_cli_json_and_table(db18: TestDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(capsys, "health", db18.conninfo, "--json", "--no-store")
    assert done.code == 0, done.err
    doc = json.loads(done.out)
    assert set(doc["figures"]) <= set(FIGURES)
    assert doc["figures"]["latency_p95_ms"]["estimated"] is True
    assert doc["figures"]["database_size_bytes"]["unit"] == "bytes"
    assert doc["figures"]["database_size_bytes"]["value"] > 0
    with db18.connect() as conn:
        row = conn.execute("SELECT to_regclass('pgarchitect.health_snapshot')").fetchone()
    assert row == (None,)  # --no-store: nothing written

    shown = run_cli(capsys, "health", db18.conninfo)
    assert shown.code == 0, shown.err
    assert "connections_used_pct" in shown.out and "not shown by the server" in shown.out
    with db18.connect() as conn:
        row = conn.execute("SELECT count(*) FROM pgarchitect.health_snapshot").fetchone()
    assert row == (1,)


def test_unreachable_target_stores_nothing(db18: TestDatabase,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGARCHITECT_STORE_URL", db18.conninfo)
    done = run_cli(capsys, "health", "postgresql://127.0.0.1:1/nowhere?connect_timeout=2")
    assert done.code == 3 and "No PostgreSQL server answers" in done.err, done
    with db18.connect() as conn:
        row = conn.execute("SELECT to_regclass('pgarchitect.health_snapshot')").fetchone()
    assert row == (None,)


def test_render_labels_the_estimate(pg_db: TestDatabase) -> None:
    from rich.console import Console

    snap = run(load_config(), pg_db.conninfo, keep=False)
    console = Console(record=True, width=200)
    print_health(console, snap)
    text = console.export_text()
    assert "latency_p95_ms" in text and "estimated" in text
