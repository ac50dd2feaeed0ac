"""Rewrites that do not keep the statement's rows or parameters as they are, on real
servers: a deep OFFSET → keyset pagination (a cursor bound from the offset), a whole
table's count(*) → the catalog's estimate (within a tolerance), and note-only rules
(checked to return the same rows, no draft, no speed claim).

The golden files (``fixtures/rewrite/offset_keyset.yaml``, ``count_estimate.yaml``) are
run by ``test_rewrite.py``'s golden loop with every rule's; here the rules meet a
table like the demo's ``BehaviorLog``: hundreds of thousands of rows written in
batches that share one timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pglast import ast
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.rewrite import RewriteAdvisor, RewriteDetail
from pgarchitect.advisors.rewrite.rules import RULES, Match, Rule, Skip
from pgarchitect.advisors.rewrite.rules.common import deparse, tables_of
from pgarchitect.advisors.rewrite.verify import compare, verify
from pgarchitect.analysis import Analysis, analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Pair
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

# 300,000 events in batches of 100 that share one timestamp, as the demo inserts them.
LOG_SCHEMA = """
CREATE TABLE "BehaviorLog" (id bigint PRIMARY KEY, "userId" integer NOT NULL,
                            "eventType" text NOT NULL, "timestamp" timestamptz NOT NULL);
INSERT INTO "BehaviorLog"
SELECT i, 1 + (i::bigint * 7919) % 5000, (ARRAY['view', 'click', 'quiz'])[1 + i % 3],
       timestamptz '2026-01-01 00:00+00' + (i / 100) * interval '1 minute'
  FROM generate_series(1, 300000) i;
CREATE INDEX "BehaviorLog_timestamp_idx" ON "BehaviorLog" ("timestamp");
CREATE INDEX "BehaviorLog_userId_idx" ON "BehaviorLog" ("userId");
ANALYZE "BehaviorLog";
"""
LOGS_PAGE = ('SELECT id, "userId" AS user_id, "eventType" AS event_type, "timestamp" '
             'FROM "BehaviorLog" ORDER BY "timestamp" DESC OFFSET $1 LIMIT $2')
KEYSET = ('SELECT id, "userId" AS user_id, "eventType" AS event_type, timestamp '
          'FROM "BehaviorLog" WHERE (timestamp, id) < ($2, $3) '
          'ORDER BY timestamp DESC, id DESC LIMIT $1')

COUNTS_SCHEMA = """
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL) WITH (autovacuum_enabled = off);
INSERT INTO events SELECT i, 'e' || i % 7 FROM generate_series(1, 200000) i;
ANALYZE events;
"""


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        yield c


def context(conn: Any, **settings: object) -> Context:
    return Context(conn, load_config(settings), DatabaseCatalog(conn), runs=2)


def subject(ctx: Context, query: str) -> Subject:
    return Subject(Statement(query), analyze(query, ctx.catalog.relations))


def rule(name: str) -> Rule:
    [found] = [r for r in RULES if r.name == name]
    return found


def test_a_deep_offset_page_becomes_a_keyset_page_measured_faster(conn: Any) -> None:
    conn.execute(LOG_SCHEMA)
    ctx = context(conn)
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, LOGS_PAGE)])
    [draft] = [d for d in proposed.drafts if d.key.startswith("rewrite:offset_keyset:")]
    assert proposed.outcomes[LOGS_PAGE].code is None
    # measured at deep offsets, not at the sampled 0
    [inputs] = draft.inputs
    assert [v[0] for v in inputs.known] == ["1000", "10000", "100000"]
    assert {v[1] for v in inputs.known} == {"50"}
    proposal = draft.measure(ctx)
    assert proposal.forward == KEYSET and proposal.new_statement == KEYSET
    assert proposal.title == "rewrite: OFFSET → keyset pagination on public.BehaviorLog"
    assert proposal.evidence[0] == ("same rows in the same order for 3 parameter sets: "
                                    "50, 50, 50 rows")
    assert "measured at offsets 1,000, 10,000, 100,000 with LIMIT 50" in proposal.evidence[1]
    assert "keeps the (timestamp, id) of the last row shown" in proposal.reasoning
    assert "jumping straight to page N is lost" in proposal.reasoning
    assert "order of rows with equal timestamp is arbitrary" in proposal.reasoning
    assert isinstance(proposal.detail, RewriteDetail)
    assert proposal.detail.equivalence.ordered
    [m] = proposal.statements
    assert m.measured and m.after_query == KEYSET and m.parameter_sets == 3, m.reason
    # Deep pages: the OFFSET reads 100,000 rows to return 50, the keyset page 50.
    assert m.median_before is not None and m.median_after is not None
    assert m.median_after < m.median_before / 2, (m.before_ms, m.after_ms)
    assert proposal.measured_gain is not None and proposal.measured_gain > 0.5


def keyset_page(conn: Any, offset: int, limit: int) -> tuple[list[Any], list[Any]]:
    """The deterministic offset page and the keyset page from the row before it."""
    ordered = LOGS_PAGE.replace('ORDER BY "timestamp" DESC', 'ORDER BY "timestamp" DESC, id DESC')
    with conn.cursor() as cur:
        cur.execute(ordered.replace("$1", "%s").replace("$2", "%s"), [offset, limit])
        expected = cur.fetchall()
        cur.execute('SELECT "timestamp", id FROM "BehaviorLog" ORDER BY "timestamp" DESC, '
                    "id DESC OFFSET %s LIMIT 1", [offset - 1])
        ts, last = cur.fetchone()
        cur.execute(KEYSET.replace("$1", "%(n)s").replace("$2", "%(ts)s")
                    .replace("$3", "%(id)s"), {"n": limit, "ts": ts, "id": last})
        return expected, cur.fetchall()


def test_the_keyset_pages_are_the_offset_pages_made_deterministic(conn: Any) -> None:
    conn.execute(LOG_SCHEMA)
    for offset in (1, 150, 1000, 299_950):
        expected, got = keyset_page(conn, offset, 70)
        assert got == expected and expected
    # the check does the same, with the cursor bound from each offset
    checked = compare(conn, LOGS_PAGE, KEYSET, [("1", "70"), ("150", "70"), ("1000", "70")],
                      rule=rule("offset_keyset"))
    assert checked.same and checked.ordered, checked.summary()
    # and without the tiebreaker in the compared order, ties make them differ
    wrong = KEYSET.replace("(timestamp, id) < ($2, $3)", "timestamp < $2 AND id <> $3")
    assert not compare(conn, LOGS_PAGE, wrong, [("150", "70")], rule=rule("offset_keyset")).same


def test_mixed_directions_get_the_or_form_and_compare_equal(conn: Any) -> None:
    conn.execute(LOG_SCHEMA)
    ctx = context(conn)
    query = ('SELECT id, "userId" FROM "BehaviorLog" ORDER BY "userId", "timestamp" DESC '
             "OFFSET $1 LIMIT $2")
    applied = rule("offset_keyset").apply(query, analyze(query, ctx.catalog.relations),
                                          ctx.catalog)
    assert not isinstance(applied, Skip), applied.reason
    rewritten = applied[1]
    assert ('WHERE "userId" > $2 OR ("userId" = $2 AND timestamp < $3) OR ("userId" = $2 '
            'AND timestamp = $3 AND id < $4) ORDER BY "userId", timestamp DESC, id DESC '
            "LIMIT $1") in rewritten
    checked = verify(conn, query, rewritten, analyze(query).params)
    assert checked.same and checked.ordered and len(checked.sets) == 3, checked.summary()


@pytest.mark.parametrize(("setup", "query", "code", "why"), [
    # no index leads with the sort key: a keyset page would sort the table too
    (LOG_SCHEMA, 'SELECT id FROM "BehaviorLog" ORDER BY "eventType" OFFSET $1 LIMIT $2',
     "no_gain", 'no index on public.BehaviorLog leads with eventType'),
    # a small table: a deep OFFSET reads little
    ("CREATE TABLE small (id bigint PRIMARY KEY, at timestamptz NOT NULL);"
     "INSERT INTO small SELECT i, now() FROM generate_series(1, 2000) i;"
     "CREATE INDEX ON small (at); ANALYZE small;",
     "SELECT id FROM small ORDER BY at DESC OFFSET $1 LIMIT $2", "low_cost",
     "public.small has about 2,000 rows, not more than rewrite_keyset_min_rows (100,000)"),
])
def test_no_keyset_proposal_without_an_index_or_on_a_small_table(
        conn: Any, setup: str, query: str, code: str, why: str) -> None:
    conn.execute(setup)
    ctx = context(conn)
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, query)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[query]
    assert outcome.code == code and why in (outcome.reason or ""), outcome


def test_a_whole_table_count_becomes_the_estimate_within_the_tolerance(conn: Any) -> None:
    conn.execute(COUNTS_SCHEMA)
    ctx = context(conn, rewrite_count_min_rows=100_000)
    query = "SELECT count(*) FROM events"
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, query)])
    [draft] = proposed.drafts
    proposal = draft.measure(ctx)
    assert proposal.forward == ("SELECT CAST(NULLIF(reltuples, -1) AS bigint) AS count FROM "
                                "pg_class WHERE oid = CAST('public.events' AS regclass)")
    exact, estimate = (conn.execute(s).fetchone()[0] for s in (query, proposal.forward))
    assert abs(estimate - exact) <= 0.05 * exact
    assert proposal.evidence[0].startswith(f"the estimate {estimate:,} is ")
    assert f"off the exact count {exact:,} (tolerance 5%" in proposal.evidence[0]
    assert "fit for a dashboard, never for billing" in proposal.reasoning
    assert 'CREATE TRIGGER "events_row_count_insert" AFTER INSERT ON "public"."events"' in \
        proposal.reasoning
    [m] = proposal.statements
    assert m.measured and m.median_after is not None and m.median_before is not None
    assert m.median_after < m.median_before, (m.before_ms, m.after_ms)


def test_a_count_estimate_off_by_more_than_the_tolerance_is_refused(conn: Any) -> None:
    conn.execute(COUNTS_SCHEMA)
    conn.execute("INSERT INTO events SELECT i, 'late' FROM generate_series(200001, 260000) i")
    ctx = context(conn, rewrite_count_min_rows=100_000)
    query = "SELECT count(*) FROM events"
    proposed = RewriteAdvisor().propose(ctx, [subject(ctx, query)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[query]
    assert outcome.code == "not_equivalent"
    assert "the estimate 200,000 is 23.1% off the exact count 260,000 (tolerance 5%" in \
        (outcome.reason or ""), outcome.reason
    # a wider tolerance accepts it
    wide = context(conn, rewrite_count_min_rows=100_000, rewrite_count_tolerance_pct=30)
    assert len(RewriteAdvisor().propose(wide, [subject(wide, query)]).drafts) == 1


def test_a_count_of_a_table_never_analyzed_is_refused(conn: Any) -> None:
    conn.execute("CREATE TABLE fresh (id bigint) WITH (autovacuum_enabled = off);"
                 "INSERT INTO fresh SELECT generate_series(1, 1000)")
    ctx = context(conn, rewrite_count_min_rows=0)
    query = "SELECT count(*) FROM fresh"
    outcome = RewriteAdvisor().propose(ctx, [subject(ctx, query)]).outcomes[query]
    assert outcome.code == "not_equivalent"
    assert "public.fresh was never vacuumed or analyzed (reltuples is -1)" in \
        (outcome.reason or "") and "run ANALYZE public.fresh" in (outcome.reason or "")
    # the check says the same when asked directly
    rewritten = rule("count_estimate").apply(query, analyze(query, ctx.catalog.relations),
                                             ctx.catalog)
    assert not isinstance(rewritten, Skip)
    checked = verify(conn, query, rewritten[1])
    assert not checked.same and "no estimate (reltuples is -1" in checked.summary()


def test_the_checker_replays_a_keyset_finding(conn: Any) -> None:
    conn.execute(LOG_SCHEMA)
    ctx = context(conn)
    other = ('SELECT id, "eventType" FROM "BehaviorLog" ORDER BY "timestamp" DESC '
             "OFFSET $1 LIMIT $2")
    finding = Finding(database="test", fingerprint="", query=LOGS_PAGE, kind="rewrite",
                      recommendation_sql=KEYSET, rollback_sql=LOGS_PAGE)
    checker = RewriteAdvisor().checker(ctx)
    [check] = checker.check([Pair(finding, Statement(other),
                                  analyze(other, ctx.catalog.relations))])
    checker.close()
    assert check.verdict == "solved", check.checked
    assert "earlier rewrite offset_keyset" in check.checked


# A note-only rule: WHERE x AND true → WHERE x (the planner drops it already).
def _detect_true(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    where = stmt.whereClause
    tables = tables_of(stmt.fromClause, catalog)
    if not (isinstance(where, ast.BoolExpr) and tables
            and any(isinstance(a, ast.A_Const) and isinstance(a.val, ast.Boolean) and a.val.boolval
                    for a in where.args or ())):
        return Skip("no AND true")
    return Match("and_true", "AND true → nothing", tables[0].qualified, (),
                 "a condition AND true", node=where, note=True)


def _rewrite_true(stmt: Any, match: Match) -> str:
    kept = [a for a in match.node.args if not isinstance(a, ast.A_Const)]
    stmt.whereClause = kept[0]
    return deparse(stmt)


def _rewrite_drop(stmt: Any, match: Match) -> str:
    stmt.whereClause = None  # returns other rows: the check must refuse the note
    return deparse(stmt)


def test_a_note_only_rule_adds_a_checked_note_and_no_draft(conn: Any) -> None:
    conn.execute(COUNTS_SCHEMA)
    ctx = context(conn)
    query = "SELECT id FROM events WHERE kind = $1 AND true"
    note_rule = Rule("and_true", "AND true → nothing", _detect_true, _rewrite_true)
    proposed = RewriteAdvisor([note_rule]).propose(ctx, [subject(ctx, query)])
    assert proposed.drafts == []
    [note] = [n for n in proposed.notes if "AND true" in n]
    assert note.startswith("SELECT id FROM events WHERE kind = $1 AND true: a condition AND "
                           "true; the rewrite (AND true → nothing) SELECT id FROM events "
                           "WHERE kind = $1: the rows are the same (checked on ")
    assert note.endswith("parameter sets); no speed claim")
    outcome = proposed.outcomes[query]
    assert outcome.code == "no_gain" and outcome.reason == note
    # a note whose rewrite returns other rows is no note: not equivalent
    wrong = Rule("and_true", "AND true → nothing", _detect_true, _rewrite_drop)
    proposed = RewriteAdvisor([wrong]).propose(ctx, [subject(ctx, query)])
    assert not [n for n in proposed.notes if "AND true" in n]
    assert proposed.outcomes[query].code == "not_equivalent"
    # a draft from another rule gives the statement its outcome
    def _detect_draft(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
        found = _detect_true(stmt, analysis, catalog)
        return found if isinstance(found, Skip) else replace(found, note=False)

    drafting = Rule("and_true_draft", "AND true → nothing", _detect_draft, _rewrite_true)
    proposed = RewriteAdvisor([note_rule, drafting]).propose(ctx, [subject(ctx, query)])
    assert len(proposed.drafts) == 1 and proposed.outcomes[query].code is None
    assert [n for n in proposed.notes if "AND true" in n]



def test_the_checker_misses_a_keyset_finding_on_a_table_now_small(conn: Any) -> None:
    conn.execute(LOG_SCHEMA)
    ctx = context(conn, rewrite_keyset_min_rows=1_000_000)
    finding = Finding(database="test", fingerprint="", query=LOGS_PAGE, kind="rewrite",
                      recommendation_sql=KEYSET, rollback_sql=LOGS_PAGE)
    checker = RewriteAdvisor().checker(ctx)
    [check] = checker.check([Pair(finding, Statement(LOGS_PAGE),
                                  analyze(LOGS_PAGE, ctx.catalog.relations))])
    checker.close()
    assert check.verdict == "miss"
    assert "not more than rewrite_keyset_min_rows (1,000,000)" in check.checked, check.checked
