"""Workload: pg_stat_statements on 15 and 18, filters, snapshots and deltas, text sources."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support.cli import run_cli
from support.servers import TestDatabase, TestServer

from pgarchitect import db
from pgarchitect.errors import CapabilityMissing
from pgarchitect.settings import load_config
from pgarchitect.workload import Filters, Statement, Workload, group, merge, select
from pgarchitect.workload.pgss import PgStatStatementsSource
from pgarchitect.workload.snapshots import (
    SnapshotDeltaSource,
    delta,
    list_snapshots,
    take,
    target_of,
)
from pgarchitect.workload.text import FileSource, StatementSource

ALL = Filters(min_mean_ms=-1, min_calls=0, top=1000)


def _setup(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute("CREATE TABLE items (id int PRIMARY KEY, v text)")
    conn.execute("INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
    conn.execute("CREATE FUNCTION item_count() RETURNS bigint LANGUAGE sql "
                 "AS 'SELECT count(*) FROM items'")
    conn.execute("SELECT pg_stat_statements_reset()")


def _play(conn: psycopg.Connection[tuple[object, ...]], scans: int, lookups: int) -> None:
    for i in range(scans):
        conn.execute("SELECT count(*) FROM items WHERE v LIKE %s", [f"%{i}a%"])
    for i in range(lookups):
        conn.execute("SELECT v FROM items WHERE id = %s", [i])


def _by_text(workload: Workload) -> dict[str, Statement]:
    return {s.query: s for s in workload.statements}


SCAN = "SELECT count(*) FROM items WHERE v LIKE $1"
LOOKUP = "SELECT v FROM items WHERE id = $1"


def test_reader_reads_every_counter(pg_db: TestDatabase) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=30, lookups=50)
        app.execute("SELECT item_count()")  # its inner SELECT is a nested statement
    with db.connect(pg_db.conninfo, load_config()) as conn:
        conn.execute("SELECT 1 FROM pg_class LIMIT 1")  # pgarchitect's own: left out
        raw = PgStatStatementsSource(conn).read()
        found = select(raw, ALL)
    texts = _by_text(found)
    scan = texts[SCAN]
    assert scan.calls == 30 and scan.queryid is not None and scan.fingerprint
    assert math.isclose(scan.mean_ms * 30, scan.total_ms, rel_tol=1e-6)
    assert scan.max_ms >= scan.mean_ms >= scan.min_ms > 0
    assert scan.shared_blks_hit + scan.shared_blks_read > 0
    assert scan.blk_read_ms is not None  # track_io_timing is on in the test servers
    assert scan.wal_bytes is not None
    assert texts[LOOKUP].calls == 50 and texts[LOOKUP].rows == 49  # ids 0..49; 0 is absent
    # Nested statements (track = all) are not counted twice.
    assert "SELECT count(*) FROM items" not in texts
    assert not any("pg_class" in t or "pg_stat_statements" in t for t in texts)
    assert found.statements[0].query == SCAN  # ordered by total time
    assert any("Cumulative counters" in n for n in found.notes)
    reasons = {s.reason for s in found.skipped}
    # PostgreSQL 15 keeps the /* pgarchitect */ tag in the text, 18 strips it.
    expected = "pgarchitect's own statement" if pg_db.major < 18 else "Reads only system catalogs"
    assert expected in reasons


def test_filters_apply_runbook_thresholds_with_reasons(pg_db: TestDatabase) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=3, lookups=120)
    with db.connect(pg_db.conninfo, load_config()) as conn:
        raw = PgStatStatementsSource(conn).read()
    found = select(raw, Filters(min_mean_ms=0.0, min_calls=100, top=20))
    assert [s.query for s in found.statements] == [LOOKUP]
    skipped = {s.query: s.reason for s in found.skipped}
    assert skipped[SCAN] == "Called 3 times, not more than 100"
    strict = select(raw, Filters())  # the runbook: mean > 500 ms
    assert strict.statements == []
    assert any(s.reason.startswith("Mean ") and "not above 500 ms" in s.reason
               for s in strict.skipped)
    top1 = select(raw, Filters(min_mean_ms=-1, min_calls=0, top=1))
    assert len(top1.statements) == 1
    assert any(s.reason == "Not in the top 1 by total time" for s in top1.skipped)
    only = select(raw, Filters(min_mean_ms=-1, min_calls=0, include_tables=frozenset({"nope"})))
    assert only.statements == []


def test_hidden_text_is_skipped_with_the_fix(pg_db: TestDatabase) -> None:
    role = f"viewer_{pg_db.name}"
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=2, lookups=2)
        app.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(role)))
    try:
        conninfo = make_conninfo(pg_db.conninfo, user=role, password="pw")
        with db.connect(conninfo, load_config()) as conn:
            found = select(PgStatStatementsSource(conn).read(), ALL)
        assert found.statements == [] or all(s.query != SCAN for s in found.statements)
        assert any("GRANT pg_read_all_stats" in s.reason for s in found.skipped)
    finally:
        with pg_db.connect() as app:
            app.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_missing_extension_is_a_clear_error(pg_server: TestServer) -> None:
    target = pg_server.create_database(template="template1")
    try:
        with db.connect(target.conninfo, load_config()) as conn, \
                pytest.raises(CapabilityMissing, match="CREATE EXTENSION pg_stat_statements"):
            PgStatStatementsSource(conn).read()
    finally:
        pg_server.drop_database(target.name)


def test_snapshot_delta_counts_only_the_window(pg_db: TestDatabase) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=5, lookups=10)
    with db.connect(pg_db.conninfo, load_config()) as conn:
        snap = take(conn, conn)
        assert snap.statements >= 2
        with pg_db.connect() as app:
            _play(app, scans=7, lookups=0)
            app.execute("SELECT v FROM items WHERE id < 0")  # new in the window
        found = _by_text(select(SnapshotDeltaSource(conn, conn, timedelta(0)).read(), ALL))
    assert found[SCAN].calls == 7
    assert LOOKUP not in found  # no calls in the window
    assert found["SELECT v FROM items WHERE id < $1"].calls == 1
    scan = found[SCAN]
    assert math.isclose(scan.mean_ms * 7, scan.total_ms, rel_tol=1e-6)


def test_snapshot_delta_through_a_stats_reset(pg_db: TestDatabase) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=9, lookups=20)
    with db.connect(pg_db.conninfo, load_config()) as conn:
        take(conn, conn)
        with pg_db.connect() as app:
            app.execute("SELECT pg_stat_statements_reset()")
            _play(app, scans=2, lookups=3)
        result = select(SnapshotDeltaSource(conn, conn, timedelta(0)).read(), ALL)
    found = _by_text(result)
    # After a reset the counters restart: the window counts from the reset, never
    # negative and never the difference 2 - 9.
    assert found[SCAN].calls == 2 and found[LOOKUP].calls == 3
    assert any("reset" in n for n in result.notes)


def _window_after_entry_reset(pg_db: TestDatabase, before: int, after: int,
                              lookups: int) -> tuple[Workload, int]:
    """Snapshot, reset the scan's entry alone, play again: the window and the snapshots."""
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=before, lookups=20)
        queryid = app.execute("SELECT queryid FROM pg_stat_statements WHERE query = %s",
                              [SCAN]).fetchone()
    assert queryid is not None
    with db.connect(pg_db.conninfo, load_config()) as conn:
        take(conn, conn)
        with pg_db.connect() as app:
            app.execute("SELECT pg_stat_statements_reset(0, 0, %s)", [queryid[0]])
            _play(app, scans=after, lookups=lookups)
        result = select(SnapshotDeltaSource(conn, conn, timedelta(0)).read(), ALL)
        snaps = list_snapshots(conn, target_of(conn))
    return result, len(snaps)


def test_snapshot_delta_when_one_entry_restarts(pg_db: TestDatabase) -> None:
    """An entry reset (or evicted and re-added) alone counts from its restart."""
    result, snapshots = _window_after_entry_reset(pg_db, before=9, after=2, lookups=4)
    found = _by_text(result)
    assert found[SCAN].calls == 2 and found[LOOKUP].calls == 4
    assert any("began counting again" in n for n in result.notes)
    assert snapshots == 1


@pytest.mark.pg(">= 17")
def test_snapshot_delta_when_a_restarted_entry_outgrows_its_old_count(
    pg_db: TestDatabase,
) -> None:
    """12 calls after a reset, more than the 9 before: only stats_since (17+) tells."""
    result, _ = _window_after_entry_reset(pg_db, before=9, after=12, lookups=0)
    assert _by_text(result)[SCAN].calls == 12


def test_window_without_snapshots_falls_back_to_cumulative(pg_db: TestDatabase) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=1, lookups=1)
    with db.connect(pg_db.conninfo, load_config()) as conn:
        result = SnapshotDeltaSource(conn, conn, timedelta(days=7)).read()
    assert "No snapshots stored yet" in result.notes[0]
    assert SCAN in _by_text(result)


def test_delta_recovers_mean_and_spread() -> None:
    # Calls of 1, 3 (base) then 5, 7 more: the window's mean is 6, spread 1.
    base = {"calls": 2, "total_ms": 4.0, "mean_ms": 2.0, "stddev_ms": 1.0}
    now = {"calls": 4, "total_ms": 16.0, "mean_ms": 4.0, "stddev_ms": math.sqrt(5.0)}
    d = delta(base, now)
    assert d["calls"] == 2 and d["total_ms"] == 12.0 and d["mean_ms"] == 6.0
    assert math.isclose(d["stddev_ms"], 1.0)


def test_group_merges_orm_variants() -> None:
    a = Statement("SELECT * FROM t WHERE a = 1", fingerprint="f", calls=2, total_ms=4.0,
                  mean_ms=2.0, stddev_ms=1.0, max_ms=3.0, min_ms=1.0, rows=2)
    b = Statement("select * from t where a = 42", fingerprint="f", calls=2, total_ms=12.0,
                  mean_ms=6.0, stddev_ms=1.0, max_ms=7.0, min_ms=5.0, rows=3)
    other = Statement("SELECT 1", fingerprint="g", calls=1, total_ms=1.0, mean_ms=1.0)
    grouped = {s.fingerprint: s for s in group([a, b, other])}
    m = grouped["f"]
    assert (m.calls, m.total_ms, m.mean_ms, m.rows, m.variants) == (4, 16.0, 4.0, 5, 2)
    assert (m.min_ms, m.max_ms) == (1.0, 7.0)
    assert math.isclose(m.stddev_ms, math.sqrt(5.0))  # values 1, 3, 5, 7
    assert m.query == b.query  # the variant with the most time
    assert merge([other]) is other


def test_statements_and_files(tmp_path: Path) -> None:
    single = select(StatementSource(["SELECT * FROM t WHERE a = 1", "SELEC oops"]).read(), ALL)
    assert [s.query for s in single.statements] == ["SELECT * FROM t WHERE a = 1"]
    assert single.skipped[0].reason.startswith("Could not parse query: syntax error")
    path = tmp_path / "w.sql"
    path.write_text("SELECT ';' AS semi FROM t;\n-- a comment; with a semicolon\n"
                    "SELECT $$a;b$$ FROM t WHERE x = 1;\nselect ';' as semi from t;\n")
    found = select(FileSource(path).read(), ALL)
    assert len(found.statements) == 2  # the two ';' variants group together
    assert found.statements[0].calls == 2 or found.statements[1].calls == 2


def test_cli_workload_table_and_json(pg_db: TestDatabase,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=4, lookups=6)
    result = run_cli(capsys, "workload", pg_db.conninfo, "--min-mean-ms", "-1",
                     "--min-calls", "3", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["source"] == "pg_stat_statements"
    assert {s["query"] for s in data["statements"]} == {SCAN, LOOKUP}
    assert data["filters"]["min_calls"] == 3
    table = run_cli(capsys, "workload", pg_db.conninfo, "--min-mean-ms", "-1", "--top", "1")
    assert "Workload from pg_stat_statements: mean > -1 ms, calls > 100" in table.out
    assert "statements left out" in table.out
    text = run_cli(capsys, "workload", "-s", "SELECT 1 FROM items", "--json")
    assert json.loads(text.out)["statements"][0]["query"] == "SELECT 1 FROM items"


def test_cli_snapshot_and_since(pg_db: TestDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    with pg_db.connect() as app:
        _setup(app)
        _play(app, scans=4, lookups=6)
    taken = run_cli(capsys, "snapshot", pg_db.conninfo)
    assert taken.code == 0 and "Snapshot 1 of" in taken.out
    with pg_db.connect() as app:
        _play(app, scans=2, lookups=0)
    listed = run_cli(capsys, "snapshot", pg_db.conninfo, "--list")
    assert "Snapshots" in listed.out and " 1 " in listed.out
    since = run_cli(capsys, "workload", pg_db.conninfo, "--since", "1m", "--min-mean-ms", "-1",
                    "--min-calls", "0", "--json")
    data = json.loads(since.out)
    assert data["source"] == "snapshot delta"
    assert {s["query"]: s["calls"] for s in data["statements"]}[SCAN] == 2
    bad = run_cli(capsys, "workload", pg_db.conninfo, "--since", "a week")
    assert bad.code == 2 and "not a window" in bad.err
