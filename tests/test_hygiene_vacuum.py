"""The hygiene rules about tables: bloat, HOT updates, vacuum and wraparound, and the
stored exclusions.

Golden cases (tests/fixtures/hygiene/rules.txt) give each rule facts and check the SQL
it writes; the tests on real servers (PostgreSQL 15 and 18) make each state for real
(dead tuples with autovacuum off, updates of an indexed column, a table mostly
deleted, a tiny wraparound threshold), find it, and run the change and its rollback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.cli import run_cli
from support.servers import TestDatabase
from support.stats import flush

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.hygiene import HygieneAdvisor, Limits
from pgarchitect.advisors.hygiene.advise import resolve
from pgarchitect.advisors.hygiene.exclusions import ExclusionError
from pgarchitect.advisors.hygiene.model import (
    Exact,
    Finding,
    IndexFacts,
    Snapshot,
    TableFacts,
    Writes,
)
from pgarchitect.advisors.hygiene.rules import bloat, hot_updates, vacuum, wraparound
from pgarchitect.advisors.hygiene.snapshot import _parse, read_snapshot
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.cli import cli
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

GOLDEN = Path(__file__).parent / "fixtures" / "hygiene" / "rules.txt"
RULES = {"bloat": bloat, "hot_updates": hot_updates, "vacuum": vacuum,
         "wraparound": wraparound}


# -- golden cases -------------------------------------------------------------------------


def _index(d: dict[str, Any]) -> IndexFacts:
    writes = Writes(**d.get("writes", {}))
    return IndexFacts(
        d.get("oid", 1), d["schema"], d["table"], d["name"], d["definition"],
        _parse(d["definition"]), d.get("valid", True), True, d.get("unique", False),
        d.get("constraint"), (), d.get("scans", 0), d.get("bytes", 0), False,
        d.get("table_bytes", 0), d.get("table_indexes", 1), writes,
        method=d.get("method", "btree"), tuples=d.get("tuples", 0.0),
        key_width=d.get("key_width"), fillfactor=d.get("fillfactor", 90))


def _table(d: dict[str, Any]) -> TableFacts:
    fields = {k: v for k, v in d.items() if k not in ("writes", "options")}
    return TableFacts(**fields, writes=Writes(**d.get("writes", {})),
                      options=tuple(d.get("options", ())))


def snapshot_of(facts: dict[str, Any]) -> Snapshot:
    own = {k: v for k, v in facts.items() if k not in ("tables", "indexes", "exact")}
    own["extensions"] = tuple(own.get("extensions", ()))
    snap = Snapshot([_index(i) for i in facts.get("indexes", [])], [],
                    own.pop("reset_days", 1.0), "test", own.pop("server_version", 180000),
                    tables=[_table(t) for t in facts.get("tables", [])], **own)
    snap.exact = {k: Exact(v[0], v[1]) for k, v in facts.get("exact", {}).items()}
    return snap


def render(findings: list[Finding]) -> str:
    if not findings:
        return "(none)\n"
    out = []
    for f in findings:
        out.append(f"{f.id} | {f.title}\n  problem: {f.problem}\n"
                   f"  forward: {f.forward.replace(chr(10), chr(10) + '           ')}\n"
                   f"  rollback: {f.rollback.replace(chr(10), chr(10) + '            ')}\n"
                   f"  frees: {f.bytes_freed} bytes, write share {f.write_share}, "
                   f"{f.index_entries} index entries\n")
    return "".join(out)


def golden_cases() -> list[tuple[str, dict[str, Any], str]]:
    cases = []
    for block in GOLDEN.read_text().split("\n== ")[1:]:
        head, _, expected = block.partition("\n--\n")
        name, *lines = head.splitlines()
        fields = {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}
        cases.append((name, fields, expected.strip("\n") + "\n"))
    return cases


def run_case(fields: dict[str, str]) -> list[Finding]:
    rule = RULES[fields["rule"]]
    snapshot = snapshot_of(json.loads(fields["facts"]))
    limits = Limits(**json.loads(fields.get("limits", "{}")))
    if fields["rule"] == "hot_updates":
        subjects = [Subject(Statement(q), analyze(q))
                    for q in json.loads(fields.get("updates", "[]"))]
        return hot_updates.find(snapshot, limits, subjects)
    found: list[Finding] = rule.find(snapshot, limits)
    return found


@pytest.mark.parametrize(("name", "fields", "expected"), golden_cases(),
                         ids=[c[0] for c in golden_cases()])
def test_golden(name: str, fields: dict[str, str], expected: str) -> None:
    assert render(run_case(fields)) == expected


def test_every_rule_has_golden_cases() -> None:
    assert {f["rule"] for _, f, _ in golden_cases()} == set(RULES)


# -- real servers ---------------------------------------------------------------------------


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        yield c


def ctx_of(conn: Any, **overrides: object) -> Context:
    return Context(conn, load_config(overrides), DatabaseCatalog(conn), runs=1)


def statements(sql_text: str) -> list[str]:
    """A forward or rollback as the statements to run one by one (VACUUM cannot run in
    the implicit transaction of several statements sent at once)."""
    return [s for s in sql_text.split(";\n") if s and not s.startswith("--")]


def run(conn: Any, sql_text: str) -> None:
    for s in statements(sql_text):
        conn.execute(s)


def reloptions(conn: Any, table: str) -> list[str]:
    row = conn.execute("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = "
                       "%s::regclass", [table]).fetchone()
    return list(row[0])


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


DEAD = """
CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL)
  WITH (autovacuum_enabled = off);
INSERT INTO events SELECT i, repeat('x', 80) FROM generate_series(1, 40000) i;
ANALYZE events;
DELETE FROM events WHERE id % 10 < 6;
"""


def test_dead_tuples_get_a_vacuum_and_autovacuum_back(conn: Any) -> None:
    conn.execute(DEAD)
    flush(conn)
    limits = Limits(vacuum_min_bytes=0)
    found = by_id(vacuum.find(read_snapshot(conn), limits))
    f = found["vacuum:public.events"]
    assert f.facts["dead"] == 24000 and f.facts["autovacuum_off"] is True
    assert f.forward == ("ALTER TABLE \"public\".\"events\" SET (\"autovacuum_enabled\" = 'on', "
                         "\"autovacuum_vacuum_scale_factor\" = '0.05', "
                         "\"autovacuum_vacuum_threshold\" = '1000');\n"
                         "VACUUM (ANALYZE) \"public\".\"events\"")
    assert f.facts["reusable_bytes"] > 24000 * 80
    run(conn, f.forward)
    assert sorted(reloptions(conn, "events")) == [
        "autovacuum_enabled=on", "autovacuum_vacuum_scale_factor=0.05",
        "autovacuum_vacuum_threshold=1000"]
    flush(conn)
    snapshot = read_snapshot(conn)
    events = snapshot.table("public", "events")
    assert events is not None and events.dead == 0 and events.vacuum_days is not None
    assert "vacuum:public.events" not in by_id(vacuum.find(snapshot, limits))
    run(conn, f.rollback)
    assert reloptions(conn, "events") == ["autovacuum_enabled=off"]
    # below hygiene_vacuum_min_mb (the default, 10 MB) it is too small to matter
    assert vacuum.find(read_snapshot(conn), Limits()) == []


HOT = """
CREATE TABLE items (id bigint PRIMARY KEY, status int NOT NULL, seen int NOT NULL);
INSERT INTO items SELECT i, 0, 0 FROM generate_series(1, 3000) i;
CREATE INDEX items_status_idx ON items (status);
ANALYZE items;
"""
SET_STATUS = "UPDATE items SET status = status + 1 WHERE id % 2 = 0"
SET_SEEN = "UPDATE items SET seen = seen + 1"


def test_an_index_on_an_updated_column_that_stops_hot_updates(conn: Any) -> None:
    conn.execute(HOT)
    conn.execute(SET_STATUS)  # changes an indexed column: never HOT
    conn.execute(SET_SEEN)  # changes none, but the pages are full: mostly not HOT
    flush(conn)
    ctx = ctx_of(conn)
    subjects = [Subject(Statement(q), analyze(q, ctx.catalog.relations))
                for q in (SET_STATUS, SET_SEEN)]
    snapshot = read_snapshot(conn)
    items = snapshot.table("public", "items")
    assert items is not None and items.writes.updates == 4500
    assert items.writes.hot_updates < 0.5 * 4500, items.writes
    limits = Limits(hot_min_updates=1000)
    found = by_id(hot_updates.find(snapshot, limits, subjects))
    drop = found["hot_updates:public.items_status_idx"]
    assert drop.forward == "DROP INDEX CONCURRENTLY IF EXISTS public.items_status_idx"
    assert drop.facts["updated_columns"] == ["status"] and drop.bytes_freed > 0
    room = found["hot_updates:public.items"]
    assert room.forward == 'ALTER TABLE "public"."items" SET (fillfactor = 90)'
    assert room.rollback == 'ALTER TABLE "public"."items" RESET (fillfactor)'
    assert "items_pkey" not in " ".join(found)  # a primary key is never dropped
    # without the workload's UPDATE statements the updated columns are not known
    assert hot_updates.find(snapshot, limits, []) == []
    for f in (drop, room):
        run(conn, f.forward)
    assert reloptions(conn, "items") == ["fillfactor=90"]
    assert conn.execute("SELECT to_regclass('items_status_idx')").fetchone()[0] is None
    for f in (drop, room):
        run(conn, f.rollback)
    assert reloptions(conn, "items") == []
    assert conn.execute("SELECT to_regclass('items_status_idx')").fetchone()[0] is not None


BLOATED = """
CREATE TABLE logs (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO logs SELECT i, repeat('y', 100) FROM generate_series(1, 60000) i;
DELETE FROM logs WHERE id % 10 <> 0
"""


def bloated(conn: Any) -> None:
    """A table and its primary key nine tenths empty: rows deleted, then vacuumed (the
    space is free, the files keep their size)."""
    conn.execute(BLOATED)
    flush(conn)  # the deletes counted before the vacuum, which counts them gone
    conn.execute("VACUUM ANALYZE logs")


def test_bloat_is_estimated_then_measured_and_the_rewrites_free_it(conn: Any) -> None:
    bloated(conn)
    limits = Limits(bloat_bytes=2**19)
    snapshot = read_snapshot(conn)
    estimated = by_id(bloat.find(snapshot, limits))
    table, index = estimated["bloat:public.logs"], estimated["bloat:public.logs_pkey"]
    assert table.facts["exact"] is False and table.facts["share"] > 0.8, table.facts
    assert index.facts["exact"] is False and index.facts["share"] > 0.5, index.facts
    assert table.forward == 'VACUUM (FULL, ANALYZE) "public"."logs"'
    assert "ACCESS EXCLUSIVE" in table.reasoning and "VACUUM (ANALYZE)" in table.reasoning
    assert index.forward == 'REINDEX INDEX CONCURRENTLY "public"."logs_pkey"'
    conn.execute("CREATE EXTENSION pgstattuple")
    snapshot = read_snapshot(conn)
    snapshot.exact = bloat.measure_exact(conn, snapshot, limits)
    assert snapshot.exact["public.logs"].source == "pgstattuple_approx"
    assert snapshot.exact["public.logs_pkey"].source == "pgstatindex"
    measured = by_id(bloat.find(snapshot, limits))
    table, index = measured["bloat:public.logs"], measured["bloat:public.logs_pkey"]
    assert table.facts["how"] == "measured with pgstattuple_approx"
    assert index.facts["how"] == "measured with pgstatindex"
    # the estimate and the measure agree within a quarter of the table
    assert abs(table.bytes_freed - estimated["bloat:public.logs"].bytes_freed) < (
        0.25 * table.facts["bytes"])
    before = {r.name: r.bytes for r in [*snapshot.tables, *snapshot.indexes]}
    run(conn, index.forward)
    run(conn, table.forward)
    after = read_snapshot(conn)
    sizes = {r.name: r.bytes for r in [*after.tables, *after.indexes]}
    assert sizes["logs"] < before["logs"] - 0.8 * table.bytes_freed, (before, sizes)
    assert sizes["logs_pkey"] < before["logs_pkey"] - 0.5 * index.bytes_freed
    assert bloat.find(after, limits) == []
    # dead tuples are not bloat yet: the vacuum rule proposes a VACUUM first
    conn.execute("DELETE FROM logs WHERE id % 20 = 0")
    flush(conn)
    dead = read_snapshot(conn)
    assert "vacuum:public.logs" in by_id(vacuum.find(dead, Limits(vacuum_min_bytes=0)))
    assert "bloat:public.logs" not in by_id(bloat.find(dead, Limits(bloat_bytes=0)))


def test_wraparound_with_a_tiny_threshold_freezes_the_oldest_tables(conn: Any) -> None:
    conn.execute("CREATE TABLE ledger (id int); INSERT INTO ledger VALUES (1)")
    for _ in range(3):  # transactions after it: its age grows
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS x (a int); INSERT INTO x VALUES (1)")
    ctx = ctx_of(conn, hygiene_wraparound_max_age=1)  # the setting, not a test limit
    advisor = HygieneAdvisor()
    found = by_id(advisor.findings(ctx))
    f = found["wraparound:public.ledger"]
    age = int(f.facts["xid_age"])
    assert age >= 1 and f.forward == 'VACUUM (FREEZE, VERBOSE) "public"."ledger"'
    assert f.facts["critical"] is False and f.facts["margin"] == 2**31 - 3_000_000 - age
    assert "transactions left before the server stops writes" in f.problem
    snapshot = read_snapshot(conn)
    if snapshot.xid_per_day is None:
        assert "the rate is unknown" in f.problem, f.problem
    else:
        assert "days at" in f.problem, f.problem
    run(conn, f.forward)
    snapshot = read_snapshot(conn)
    ledger = snapshot.table("public", "ledger")
    assert ledger is not None and ledger.xid_age < age
    again = wraparound.find(snapshot, Limits(wraparound_max_age=age))
    assert "wraparound:public.ledger" not in by_id(again)
    # the default threshold (500 million) is far off
    assert wraparound.find(snapshot, Limits()) == []


def test_a_locked_table_does_not_make_the_advisor_wait(conn: Any, pg_db: TestDatabase) -> None:
    bloated(conn)
    conn.execute("CREATE EXTENSION pgstattuple")
    conn.execute("SET lock_timeout = '30s'")  # a wait would show: nothing may wait this long
    holder = pg_db.connect()
    locked = threading.Event()
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE logs IN ACCESS EXCLUSIVE MODE")
        locked.set()
        start = time.monotonic()
        advisor = HygieneAdvisor(limits=Limits(min_days=0.0, bloat_bytes=2**19))
        found = by_id(advisor.findings(ctx_of(conn)))
        took = time.monotonic() - start
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.is_set() and took < 5.0, took
    table = found["bloat:public.logs"]
    assert table.facts["exact"] is False
    assert "locked by another session" in table.facts["how"], table.facts
    # its indexes' definitions cannot be read without waiting: left out, and said
    assert "bloat:public.logs_pkey" not in found
    assert any("indexes of public.logs were left out" in n for n in advisor.notes), advisor.notes


def test_stored_exclusions_silence_a_finding_until_included(
        conn: Any, pg_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    conn.execute(DEAD)
    flush(conn)
    monkeypatch.setenv("DATABASE_URL", pg_db.conninfo)
    monkeypatch.setenv("PGARCHITECT_HYGIENE_VACUUM_MIN_MB", "0")
    runner = CliRunner()
    fid = "vacuum:public.events"

    def ids() -> set[str]:
        return {f.id for f in HygieneAdvisor().findings(ctx_of(conn))}

    assert fid in ids()
    done = runner.invoke(cli, ["hygiene", "exclude", fid, "--reason", "batch table"])
    assert done.exit_code == 0, done.output
    assert f"Excluded {fid}" in done.output
    listed = runner.invoke(cli, ["hygiene", "excluded"])
    assert listed.exit_code == 0 and fid in listed.output and "batch table" in listed.output
    assert fid not in ids()
    back = runner.invoke(cli, ["hygiene", "include", fid])
    assert back.exit_code == 0 and f"Included {fid}" in back.output
    assert fid in ids()
    # the setting silences it too, as before
    monkeypatch.setenv("PGARCHITECT_HYGIENE_EXCLUSIONS", f"unused:public.x, {fid}")
    assert fid not in ids()
    # an id that is not one, an unknown rule, and one that is not excluded
    bad = runner.invoke(cli, ["hygiene", "exclude", "unsued:public.events"])
    assert isinstance(bad.exception, ExclusionError)
    assert "Did you mean 'unused'?" in str(bad.exception)
    assert isinstance(runner.invoke(cli, ["hygiene", "exclude", "events"]).exception,
                      ExclusionError)
    missing = runner.invoke(cli, ["hygiene", "include", "bloat:public.events"])
    assert isinstance(missing.exception, ExclusionError)
    assert "is not excluded" in str(missing.exception)


def test_an_unreachable_store_is_a_clear_error(conn: Any, pg_db: TestDatabase,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_db.conninfo)
    monkeypatch.setenv("PGARCHITECT_KB_URL", "postgresql://127.0.0.1:1/nowhere?connect_timeout=2")
    result = run_cli(capsys, "hygiene", "exclude", "unused:public.orders_total_idx")
    assert result.code == 3, result
    assert result.err.startswith("error:") and "127.0.0.1" in result.err, result.err
    # the advisor goes on without the stored list, and says so
    advisor = HygieneAdvisor(limits=Limits(min_days=0.0))
    advisor.propose(ctx_of(conn), [])
    assert any("stored exclusions could not be read" in n for n in advisor.notes)


def test_table_findings_do_not_hide_each_other() -> None:
    """A table may be bloated, behind on vacuum and old at once: one finding each."""
    def table_finding(rule: str) -> Finding:
        return Finding(rule, "public.t", "public.t", rule, "", "", f"-- {rule}", "", ())
    kept = resolve([table_finding(r) for r in ("wraparound", "vacuum", "bloat")])
    assert [f.id for f in kept] == ["bloat:public.t", "vacuum:public.t", "wraparound:public.t"]
