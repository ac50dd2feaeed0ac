"""The rewrite rules distinct_exists, implicit_cast and left_join_where on real servers.

Their golden cases are in ``fixtures/rewrite/<rule>.yaml`` (run by test_rewrite.py).
Here: the values a golden case does not try (5.5, 1e20, NaN and NULL for a numeric
compared with an integer column, a uuid in capitals), a plain rewrite that the
result check catches, each rule through the advisor (the two that claim speed
measured faster, the note on the demo's weekly-active-users statement with no draft).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.rewrite import RewriteAdvisor, RewriteDetail
from pgarchitect.advisors.rewrite.rules import RULES, Rule, Skip
from pgarchitect.advisors.rewrite.verify import compare
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.demo import data
from pgarchitect.demo.app import WEEKLY_ACTIVE_USERS
from pgarchitect.demo.data import Scale
from pgarchitect.plans import NoPlan, generic_plan
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

SCHEMA = (Path(__file__).parent / "fixtures" / "rewrite" / "schema.sql").read_text()

# Users and their events: each user has a hundred, so a join with them repeats each
# user about twenty-five times per kind, and DISTINCT has that many copies to remove.
FAN_OUT = """
CREATE TABLE fan_users (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE fan_events (id bigint PRIMARY KEY, user_id integer NOT NULL, kind text NOT NULL);
INSERT INTO fan_users SELECT i, 'user ' || i FROM generate_series(1, 2000) i;
INSERT INTO fan_events SELECT i, 1 + i % 2000, (ARRAY['view', 'click', 'buy', 'share'])[1 + i % 4]
  FROM generate_series(1, 200000) i;
CREATE INDEX fan_events_user_kind_idx ON fan_events (user_id, kind);
ANALYZE fan_users, fan_events;
"""


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def rule(name: str) -> Rule:
    [found] = [r for r in RULES if r.name == name]
    return found


def context(conn: Any, runs: int = 1) -> Context:
    return Context(conn, load_config(), DatabaseCatalog(conn), runs=runs)


def rewritten(ctx: Context, name: str, query: str) -> str:
    applied = rule(name).apply(query, analyze(query, ctx.catalog.relations), ctx.catalog)
    assert not isinstance(applied, Skip), applied.reason
    return applied[1]


def subject(ctx: Context, query: str) -> Subject:
    return Subject(Statement(query), analyze(query, ctx.catalog.relations))


# Values a numeric can take that no integer equals or that fit in no integer type.
NUMERIC_VALUES = [("7",), ("7.0",), ("7.5",), ("-3",), ("1e20",), ("-1e20",), ("NaN",),
                  ("2147483648",), (None,)]


def test_a_numeric_compared_with_an_integer_column_keeps_its_rows_for_any_value(
        conn: Any) -> None:
    ctx = context(conn)
    query = "SELECT id FROM accounts WHERE id = $1::numeric"
    after = rewritten(ctx, "implicit_cast", query)
    checked = compare(conn, query, after, NUMERIC_VALUES)
    assert checked.same, checked.summary()
    assert [s.rows for s in checked.sets] == [1, 1, 0, 0, 0, 0, 0, 0, 0]
    # The plain cast rounds 7.5 to 8 and fails on 1e20: the check sees the first.
    plain = "SELECT id FROM accounts WHERE id = $1::numeric::integer"
    wrong = compare(conn, query, plain, [("7.5",)])
    assert not wrong.same and wrong.differing is not None and wrong.differing.rows_after == 1
    failed = compare(conn, query, plain, [("1e20",)])
    assert not failed.same and failed.code == "not_plannable", failed.reason


def test_under_a_not_the_cast_rewrite_would_differ_so_the_rule_does_not_fire(
        conn: Any) -> None:
    ctx = context(conn)
    positive = "SELECT count(*) FROM accounts WHERE id = $1::numeric"
    negated = "SELECT count(*) FROM accounts WHERE NOT (id = $1::numeric)"
    after = rewritten(ctx, "implicit_cast", positive).replace("WHERE ", "WHERE NOT (") + ")"
    # 5.5: false before, NULL after; NOT false keeps every row, NOT NULL none.
    assert not compare(conn, negated, after, [("5.5",)]).same
    applied = rule("implicit_cast").apply(negated, analyze(negated, ctx.catalog.relations),
                                          ctx.catalog)
    assert isinstance(applied, Skip) and "under a NOT" in applied.reason


def test_a_uuid_compared_as_text_keeps_its_rows_for_any_spelling(conn: Any) -> None:
    ctx = context(conn)
    query = "SELECT id FROM accounts WHERE external_id::text = $1"
    after = rewritten(ctx, "implicit_cast", query)
    canonical = "c4ca4238-a0b9-2382-0dcc-509a6f75849b"  # md5('1')
    values = [(canonical,), (canonical.upper(),), ("{" + canonical + "}",),
              (canonical.replace("-", ""),), ("not a uuid",), (None,)]
    checked = compare(conn, query, after, values)
    assert checked.same, checked.summary()
    assert [s.rows for s in checked.sets] == [1, 0, 0, 0, 0, 0]
    # uuid's own input takes capitals, braces and no hyphens: a plain cast matches them.
    plain = "SELECT id FROM accounts WHERE external_id = $1::uuid"
    assert not compare(conn, query, plain, [(canonical.upper(),)]).same


def test_the_cast_rewrite_is_served_by_the_columns_index_whatever_the_value(
        conn: Any) -> None:
    ctx = context(conn)
    query = "SELECT id FROM orders WHERE customer_id = $1::numeric"
    before, after = generic_plan(conn, query), generic_plan(conn, rewritten(
        ctx, "implicit_cast", query))
    assert not isinstance(before, NoPlan) and not isinstance(after, NoPlan)
    assert "public.orders_customer_idx" not in before.indexes_used()
    assert "public.orders_customer_idx" in after.indexes_used(), after.outline()


@pytest.mark.parametrize(("query", "setup", "table"), [
    ("SELECT id, total FROM orders WHERE customer_id = $1::numeric", "",
     "rewrite: cast of the column → cast of the value on public.orders"),
    ("SELECT DISTINCT u.id, u.name FROM fan_users u JOIN fan_events e ON e.user_id = u.id "
     "WHERE e.kind = $1", FAN_OUT, "rewrite: DISTINCT over a join → EXISTS on public.fan_users"),
], ids=["implicit_cast", "distinct_exists"])
def test_the_advisor_proposes_the_rewrite_same_rows_and_faster(
        conn: Any, query: str, setup: str, table: str) -> None:
    if setup:
        conn.execute(setup)
    ctx = context(conn, runs=3)
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, query)])
    [draft] = proposed.drafts
    proposal = draft.measure(ctx)
    assert proposal.title == table
    assert isinstance(proposal.detail, RewriteDetail) and proposal.detail.equivalence.same
    [m] = proposal.statements
    assert m.measured and m.after_query == proposal.forward, m.reason
    assert proposal.measured_gain is not None and proposal.measured_gain > 0, (
        m.before_ms, m.after_ms)


def test_the_weekly_active_users_statement_gets_a_note_and_no_draft(
        db18: TestDatabase) -> None:
    data.load(db18.conninfo, Scale.small())
    with db.connect(db18.conninfo, load_config()) as conn:
        ctx = context(conn)
        query = WEEKLY_ACTIVE_USERS
        after = rewritten(ctx, "left_join_where", query)
        assert "INNER JOIN" in after and "LEFT JOIN" not in after
        checked = compare(conn, query, after, [()])
        assert checked.same and checked.sets[0].rows > 0, checked.summary()
        # PostgreSQL makes it an inner join itself: the same plan, hence no speed claim.
        before_plan, after_plan = generic_plan(conn, query), generic_plan(conn, after)
        assert not isinstance(before_plan, NoPlan) and not isinstance(after_plan, NoPlan)
        assert before_plan.outline() == after_plan.outline()
        proposed = RewriteAdvisor(rules=[rule("left_join_where")]).propose(
            ctx, [subject(ctx, query)])
        assert proposed.drafts == []
        [note] = [n for n in proposed.notes if "LEFT JOIN filtered in WHERE" in n]
        assert "public.BehaviorLog.timestamp" in note and "no speed claim" in note
        outcome = proposed.outcomes[query]
        assert outcome.code == "no_gain" and "the rows are the same" in (outcome.reason or "")


def test_a_left_join_the_where_clause_does_not_filter_gets_no_note(conn: Any) -> None:
    ctx = context(conn)
    query = ("SELECT c.id, o.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id "
             "WHERE o.id IS NULL OR o.status = $1")
    proposed = RewriteAdvisor(rules=[rule("left_join_where")]).propose(
        ctx, [subject(ctx, query)])
    assert proposed.drafts == [] and len(proposed.notes) == 1  # the advisor's own note only
    outcome = proposed.outcomes[query]
    assert outcome.code == "not_equivalent" and "LEFT JOIN is needed" in (outcome.reason or "")
