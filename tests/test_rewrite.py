"""The rewrite advisor on real servers: its rules (golden files), the result check,
the proposals it makes and the replay of its findings.

The golden files in ``fixtures/rewrite`` give, per rule, statements and the SQL the
rule writes for them, or the reason code of a statement the rule must leave alone.
The tables (``fixtures/rewrite/schema.sql``) are real ones: the rules read NOT NULL,
types and indexes from the catalog, and the result check runs both statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.rewrite import RewriteAdvisor, RewriteDetail
from pgarchitect.advisors.rewrite.rules import RULES, Skip
from pgarchitect.advisors.rewrite.verify import compare, verify
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Pair
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

FIXTURES = Path(__file__).parent / "fixtures" / "rewrite"
SCHEMA = (FIXTURES / "schema.sql").read_text()
CASES = [(rule.name, case) for rule in RULES
         for case in yaml.safe_load((FIXTURES / f"{rule.name}.yaml").read_text())]


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def context(conn: Any) -> Context:
    return Context(conn, load_config(), DatabaseCatalog(conn), runs=1)


def subject(ctx: Context, query: str) -> Subject:
    return Subject(Statement(query), analyze(query, ctx.catalog.relations))


def rows(conn: Any, query: str, values: tuple[Any, ...] = ()) -> Counter[tuple[Any, ...]]:
    with psycopg.RawCursor(conn) as cur:  # $n placeholders, as the statements have
        cur.execute(query, values)
        return Counter(cur.fetchall())


@pytest.mark.parametrize(("rule", "case"), CASES,
                         ids=[f"{r}: {c['name']}" for r, c in CASES])
def test_golden(conn: Any, rule: str, case: dict[str, Any]) -> None:
    ctx = context(conn)
    [found] = [r for r in RULES if r.name == rule]
    applied = found.apply(case["sql"], analyze(case["sql"], ctx.catalog.relations), ctx.catalog)
    if "skip" in case:
        assert isinstance(applied, Skip), applied
        assert applied.code == case["skip"], applied.reason
        return
    assert not isinstance(applied, Skip), applied.reason
    match, rewritten = applied
    assert rewritten == case["rewritten"]
    assert match.rule == rule and match.columns == tuple(case["columns"])
    # the server runs it with the original's parameter values, and it returns the same rows
    assert verify(conn, case["sql"], rewritten, analyze(case["sql"]).params).same


# One statement per rule, the rewrite it gets, and a parameter set to compare rows with.
PROPOSED = [
    ("not_in", "SELECT o.id, o.total FROM orders o WHERE o.status = $1 AND o.customer_id "
               "NOT IN (SELECT b.customer_id FROM blocked b)", ("paid",),
     "rewrite: NOT IN → NOT EXISTS on public.orders"),
    ("date_cast", "SELECT id, total FROM orders WHERE date(created_at) = $1", ("2026-01-05",),
     "rewrite: date cast → range on public.orders"),
    ("or_to_union", "SELECT id, status FROM orders WHERE customer_id = $1 OR created_at = $2",
     (7, "2026-01-02 10:12"), "rewrite: OR → UNION on public.orders"),
    ("correlated_subquery", "SELECT c.id, (SELECT count(*) FROM orders o WHERE o.customer_id "
                            "= c.id) AS n FROM customers c WHERE c.region = $1", ("north",),
     "rewrite: correlated subquery → LATERAL join on public.orders"),
]


@pytest.mark.parametrize(("rule", "query", "values", "title"), PROPOSED,
                         ids=[p[0] for p in PROPOSED])
def test_the_advisor_proposes_a_checked_and_measured_rewrite(
        conn: Any, rule: str, query: str, values: tuple[Any, ...], title: str) -> None:
    ctx = context(conn)
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, query)])
    [draft] = proposed.drafts
    assert proposed.outcomes[query].code is None
    proposal = draft.measure(ctx)
    rewritten = proposal.forward
    assert rows(conn, rewritten, values) == rows(conn, query, values)
    assert (proposal.kind, proposal.advisor, proposal.title) == ("rewrite", "rewrite", title)
    assert proposal.new_statement == rewritten and proposal.rollback == query
    assert "revert the code change" in proposal.reasoning
    assert isinstance(proposal.detail, RewriteDetail) and proposal.detail.rule == rule
    assert proposal.detail.to_json()["equivalence"]["same"] is True
    assert proposal.evidence[0].startswith("same rows for ")
    [m] = proposal.statements
    assert m.measured and m.after_query == rewritten, m.reason
    assert 0 < proposal.confidence <= 100
    assert proposal.to_json()["detail"]["rule"] == rule


def test_a_nullable_not_in_gets_no_proposal(conn: Any) -> None:
    ctx = context(conn)
    query = "SELECT id FROM orders WHERE id NOT IN (SELECT coupon_id FROM blocked)"
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, query)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[query]
    assert outcome.code == "not_equivalent"
    assert "public.blocked.coupon_id is NULL" in (outcome.reason or "")


def test_verify_detects_a_rewrite_that_changes_the_rows(conn: Any) -> None:
    # blocked.coupon_id holds NULLs: NOT IN returns no row, NOT EXISTS returns many
    original = ("SELECT id FROM orders WHERE coupon_id = $1 OR coupon_id NOT IN "
                "(SELECT coupon_id FROM blocked)")
    wrong = ("SELECT id FROM orders o WHERE o.coupon_id = $1 OR NOT EXISTS "
             "(SELECT 1 FROM blocked b WHERE b.coupon_id = o.coupon_id)")
    checked = verify(conn, original, wrong, analyze(original).params)
    assert not checked.same
    bad = checked.differing
    assert bad is not None and bad.rows != bad.rows_after and len(bad.values) == 1
    assert checked.summary().startswith(f"different rows with parameters ({bad.values[0]!r})")
    # and with a set given, as the comparison runs it
    assert not compare(conn, original, wrong, [("3",)]).same


def test_verify_gives_up_at_its_time_limit(conn: Any) -> None:
    slow = "SELECT count(*) FROM orders a, orders b WHERE a.id > $1"
    checked = compare(conn, slow, slow, [("0",)], timeout_ms=50)
    assert not checked.same and checked.code == "timeout", checked.reason
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable
    assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)


def finding(query: str, rewritten: str) -> Finding:
    return Finding(database="test", fingerprint="", query=query, kind="rewrite",
                   recommendation_sql=rewritten, rollback_sql=query)


NOT_IN = ("SELECT o.id FROM orders o WHERE o.customer_id NOT IN "
          "(SELECT customer_id FROM blocked)")


@pytest.mark.parametrize(("other", "verdict", "why"), [
    # another select list and filter, the same NOT IN
    ("SELECT id, total FROM orders WHERE status = $1 AND customer_id NOT IN "
     "(SELECT b.customer_id FROM blocked b WHERE b.reason = $2)", "solved",
     "earlier rewrite not_in (NOT IN → NOT EXISTS) applies on the same columns"),
    # the same rule on other columns
    ("SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM blocked)", "miss",
     "rewrite not_in applies, but on public.customers.id"),
    # NOT IN over a nullable column: the rule does not fire
    ("SELECT id FROM orders WHERE id NOT IN (SELECT coupon_id FROM blocked)", "miss",
     "earlier rewrite not_in does not apply: NOT IN and NOT EXISTS differ"),
    # another statement altogether
    ("SELECT id FROM orders WHERE date(created_at) = $1", "miss",
     "earlier rewrite not_in does not apply: no NOT IN"),
])
def test_the_checker_replays_an_earlier_rewrite(conn: Any, other: str, verdict: str,
                                                why: str) -> None:
    ctx = context(conn)
    [match] = [r for r in RULES if r.name == "not_in"]
    applied = match.apply(NOT_IN, analyze(NOT_IN, ctx.catalog.relations), ctx.catalog)
    assert not isinstance(applied, Skip)
    checker = RewriteAdvisor().checker(ctx)
    [check] = checker.check([Pair(finding(NOT_IN, applied[1]), Statement(other),
                                  analyze(other, ctx.catalog.relations))])
    checker.close()
    assert check.verdict == verdict and check.checked.startswith(why), check.checked
