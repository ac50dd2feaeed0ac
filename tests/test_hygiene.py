"""The hygiene advisor on real servers (PostgreSQL 15 and 18): each rule finds its problem
in a database built to have it, proposes the right SQL, and both the change and its
rollback run for real.

The statistics were just reset in these databases: the tests pass a minimum age of 0
days rather than faking time (the default is 7).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.servers import TestDatabase
from support.stats import flush

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.hygiene import HygieneAdvisor, HygieneDetail, Limits
from pgarchitect.advisors.hygiene.model import Finding
from pgarchitect.advisors.hygiene.rules import duplicate, fk_missing, invalid, unused
from pgarchitect.advisors.hygiene.snapshot import read_snapshot
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.replay import Pair
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

GOLDEN = Path(__file__).parent / "fixtures" / "hygiene" / "proposals.txt"
NOW = Limits(min_days=0.0)  # the statistics were reset a moment ago

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, region text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
                     total numeric NOT NULL, note text NOT NULL, created_at timestamptz NOT NULL,
                     status text NOT NULL);
INSERT INTO customers SELECT i, 'c' || i || '@example.org', 'r' || i % 10
  FROM generate_series(1, 5000) i;
INSERT INTO orders SELECT i, 1 + i % 4000, i / 7.0, 'note ' || i,
       timestamptz '2026-01-01' + i * interval '1 minute',
       (ARRAY['open', 'closed', 'shipped'])[1 + i % 3]
  FROM generate_series(1, 60000) i;
-- unique, not a constraint: never dropped
CREATE UNIQUE INDEX customers_email_key ON customers (email);
-- redundant beside the unique one
CREATE INDEX customers_email_idx ON customers (email);
-- unused, 1 MB and more
CREATE INDEX orders_total_idx ON orders (total);
-- scanned by the tests: used
CREATE INDEX orders_created_status_idx ON orders (created_at, status);
-- a prefix of the one above
CREATE INDEX orders_created_idx ON orders (created_at);
-- two identical indexes
CREATE INDEX orders_note_idx ON orders (note);
CREATE INDEX orders_note_copy_idx ON orders (note);
-- identical to the primary key, but not the constraint's
CREATE UNIQUE INDEX orders_id_key ON orders (id);
ANALYZE;
"""


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        flush(c)  # the load's counters, before they are reset
        c.execute("SELECT pg_stat_reset()")
        # writes since the reset: the write counters of both tables
        c.execute("INSERT INTO orders SELECT i, 1 + i % 4000, i / 7.0, 'note ' || i, "
                  "now(), 'open' FROM generate_series(60001, 61000) i")
        c.execute("UPDATE customers SET email = email WHERE id <= 100")
        c.execute("DELETE FROM customers WHERE id > 4990")
        # a query that scans orders_created_status_idx (its prefix, smaller, dropped for
        # the while: scans of a rolled-back transaction count), and one orders_note_idx
        with c.transaction(force_rollback=True):
            c.execute("DROP INDEX orders_created_idx, orders_note_copy_idx")
            c.execute("SET LOCAL enable_seqscan = off")
            c.execute("SET LOCAL enable_bitmapscan = off")
            c.execute("SELECT created_at, status FROM orders WHERE created_at > '2026-01-20' "
                      "AND status = 'open'")
            c.execute("SELECT id FROM orders WHERE note = 'note 5'")
        flush(c)
        yield c


def ctx_of(conn: Any) -> Context:
    return Context(conn, load_config(), DatabaseCatalog(conn), runs=1)


def by_target(findings: list[Finding]) -> dict[str, Finding]:
    return {f.target: f for f in findings}


def indexes(conn: Any, table: str) -> dict[str, tuple[str, bool]]:
    rows = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
        [table]).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def run(conn: Any, sql: str) -> None:
    if not sql.startswith("--"):  # "none needed" is a comment
        conn.execute(sql)


def test_an_unused_index_is_found_and_a_used_one_is_not(conn: Any) -> None:
    snapshot = read_snapshot(conn)
    scans = {i.name: i.scans for i in snapshot.indexes}
    assert scans["orders_created_status_idx"] > 0, scans
    assert scans["orders_created_status_idx"] > 0 and scans["orders_total_idx"] == 0
    found = by_target(unused.find(snapshot, NOW))
    f = found["public.orders_total_idx"]
    assert f.title == "drop unused index public.orders_total_idx"
    assert f.forward == "DROP INDEX CONCURRENTLY IF EXISTS public.orders_total_idx"
    assert f.rollback == ("CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_total_idx "
                          "ON public.orders USING btree (total)")
    assert f.bytes_freed >= 2**20 and f.id == "unused:public.orders_total_idx"
    assert f.index_entries == 1000  # the inserts since the reset
    assert any(e.startswith("0 scans in 0.0 days") for e in f.evidence), f.evidence
    # used, unique, constraint-backing and small indexes are never unused
    for name in ("orders_created_status_idx", "orders_pkey", "orders_id_key",
                 "customers_pkey", "customers_email_key", "customers_email_idx"):
        assert f"public.{name}" not in found, name
    # the statistics have counted for less than the default 7 days: nothing yet
    assert unused.find(snapshot, Limits()) == []


def test_identical_and_prefix_indexes_are_found_and_constraints_kept(conn: Any) -> None:
    found = by_target(duplicate.find(read_snapshot(conn), NOW))
    assert sorted(found) == ["public.customers_email_idx", "public.orders_created_idx",
                             "public.orders_id_key", "public.orders_note_copy_idx"]
    assert found["public.orders_note_copy_idx"].keeper == "public.orders_note_idx"  # scanned
    assert found["public.orders_note_copy_idx"].facts["how"] == "identical"
    assert found["public.orders_id_key"].keeper == "public.orders_pkey"
    assert found["public.orders_created_idx"].keeper == "public.orders_created_status_idx"
    assert found["public.orders_created_idx"].facts["how"] == "prefix"
    assert found["public.customers_email_idx"].keeper == "public.customers_email_key"
    assert found["public.orders_created_idx"].title == (
        "drop redundant index public.orders_created_idx")
    assert found["public.orders_note_copy_idx"].forward == (
        "DROP INDEX CONCURRENTLY IF EXISTS public.orders_note_copy_idx")


def test_drops_and_their_rollbacks_run(conn: Any) -> None:
    advisor = HygieneAdvisor(limits=NOW)
    findings = advisor.findings(ctx_of(conn))
    drops = [f for f in findings if f.rule in ("unused", "duplicate")]
    assert drops
    before = {**indexes(conn, "orders"), **indexes(conn, "customers")}
    for f in drops:
        run(conn, f.forward)
    after = {**indexes(conn, "orders"), **indexes(conn, "customers")}
    assert not {f.target.split(".")[1] for f in drops} & set(after)
    assert {"orders_pkey", "customers_pkey", "customers_email_key"} <= set(after)
    for f in drops:
        run(conn, f.rollback)
    assert {**indexes(conn, "orders"), **indexes(conn, "customers")} == before


def failed_unique(conn: Any, name: str, table: str, column: str) -> None:
    with pytest.raises(Exception, match="could not create unique index"):
        conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({column})")


def test_invalid_indexes_are_rebuilt_or_dropped(conn: Any) -> None:
    failed_unique(conn, "orders_status_key", "orders", "status")
    failed_unique(conn, "customers_region_key", "customers", "region")
    conn.execute("UPDATE customers SET region = 'r' || id")  # now it could be built
    found = by_target(invalid.find(conn, read_snapshot(conn)))
    assert sorted(found) == ["public.customers_region_key", "public.orders_status_key"]
    snapshot = read_snapshot(conn)
    others = {f.target for f in [*unused.find(snapshot, NOW), *duplicate.find(snapshot, NOW)]}
    assert not others & set(found)  # an invalid index is this rule's only
    drop, rebuild = found["public.orders_status_key"], found["public.customers_region_key"]
    assert drop.title == "drop invalid index public.orders_status_key"
    assert drop.forward == "DROP INDEX CONCURRENTLY IF EXISTS public.orders_status_key"
    assert drop.facts["duplicates"] is True and drop.rollback.startswith("-- none needed")
    assert rebuild.title == "rebuild invalid index public.customers_region_key"
    assert rebuild.forward == "REINDEX INDEX CONCURRENTLY public.customers_region_key"
    assert rebuild.facts["duplicates"] is False and rebuild.rollback.startswith("-- none")
    run(conn, drop.forward)
    run(conn, rebuild.forward)
    assert "orders_status_key" not in indexes(conn, "orders")
    assert indexes(conn, "customers")["customers_region_key"][1] is True  # valid now
    assert invalid.find(conn, read_snapshot(conn)) == []  # nothing invalid is left


def test_a_foreign_key_without_index_is_measured_with_a_real_index(conn: Any) -> None:
    join = ("SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id "
            "WHERE c.email = $1")
    ctx = ctx_of(conn)
    subject = Subject(Statement(join, calls=10, total_ms=100.0, mean_ms=10.0),
                      analyze(join, ctx.catalog.relations))
    [f] = fk_missing.find(conn, read_snapshot(conn), NOW, [subject])
    assert f.id == "fk_missing:public.orders_customer_id_fkey"
    assert f.forward == ('CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_customer_id_idx" '
                         'ON "public"."orders" USING btree (customer_id)')
    assert f.rollback == ('DROP INDEX CONCURRENTLY IF EXISTS '
                          '"public"."orders_customer_id_idx"')
    assert f.facts["ref_deletes"] == 10 and f.facts["joins"] == [join]
    draft = fk_missing.draft(ctx, f, [subject], "hygiene")
    assert [i.query for i in draft.inputs] == [
        join, "SELECT 1 FROM ONLY public.orders x WHERE customer_id = $1"]
    proposal = draft.measure(ctx)
    assert proposal.kind == "hygiene" and proposal.measured_gain is not None
    assert all(m.uses_change for m in proposal.statements if m.measured), proposal.statements
    assert "orders_customer_id_idx" not in indexes(conn, "orders")  # rolled back
    run(conn, f.forward)
    assert fk_missing.find(conn, read_snapshot(conn), NOW, [subject]) == []  # covered now
    run(conn, f.rollback)
    assert "orders_customer_id_idx" not in indexes(conn, "orders")
    # without deletes on customers nor joins, the key is not exercised: nothing
    flush(conn)
    conn.execute("SELECT pg_stat_reset()")
    assert fk_missing.find(conn, read_snapshot(conn), NOW, []) == []


def render(proposals: list[Any]) -> str:
    return "".join(f"{p.title}\n  forward: {p.forward}\n  rollback: {p.rollback}\n"
                   for p in proposals)


def test_the_advisor_proposes_each_finding_once(conn: Any) -> None:
    failed_unique(conn, "orders_status_key", "orders", "status")
    ctx = ctx_of(conn)
    advisor = HygieneAdvisor(limits=NOW)
    assert (advisor.name, advisor.kind) == ("hygiene", "hygiene")
    proposed = advisor.propose(ctx, [])
    assert proposed.outcomes == {}  # nothing concluded about a statement
    proposals = [d.measure(ctx) for d in proposed.drafts]
    text = render(proposals)
    if not GOLDEN.exists():
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    ids = [p.detail.finding_id for p in proposals if isinstance(p.detail, HygieneDetail)]
    assert len(ids) == len(set(ids)) == len(proposals)
    for p in proposals:
        measured = p.title.startswith("index foreign key")
        assert bool(p.statements) == measured and p.confidence > 0, (p.title, p.factors)
        if p.forward.startswith("DROP"):
            assert p.confidence < 90, (p.title, p.factors)  # a person reviews every drop
        assert p.detail is not None and p.detail.to_json()["finding_id"]
    unused_drop = next(p for p in proposals if p.title.startswith("drop unused"))
    # 7 indexes that writes maintain (not the invalid one: never ready) and the heap
    assert unused_drop.estimated_gain == pytest.approx(1 / 8)
    # excluded ids are silenced
    quiet = HygieneAdvisor(exclusions=ids[:2], limits=NOW).propose(ctx, [])
    assert len(quiet.drafts) == len(proposals) - 2


def test_a_dropped_keeper_keeps_its_duplicate(conn: Any) -> None:
    """orders_created_status_idx covers orders_created_idx; were the first unused (it is
    not here: scanned), dropping both would lose both: the duplicate finding goes."""
    from pgarchitect.advisors.hygiene.advise import resolve
    snapshot = read_snapshot(conn)
    dupes = duplicate.find(snapshot, NOW)
    keeper = next(f for f in dupes if f.target == "public.orders_created_idx").keeper
    drop_keeper = Finding("unused", str(keeper), "public.orders", "drop", "", "",
                          f"DROP INDEX CONCURRENTLY IF EXISTS {keeper}", "", ())
    kept = resolve([*dupes, drop_keeper])
    assert "public.orders_created_idx" not in {f.target for f in kept}


def test_hygiene_findings_solve_no_statement(conn: Any) -> None:
    checker = HygieneAdvisor().checker(ctx_of(conn))
    pairs = [Pair(None, Statement("SELECT 1"), analyze("SELECT 1"))] * 2  # type: ignore[arg-type]
    assert [c.verdict for c in checker.check(pairs)] == ["miss", "miss"]
    checker.close()
