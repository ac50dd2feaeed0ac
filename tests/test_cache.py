"""The cache advisor on real servers: its rules (golden files), the pre-aggregated view
checked and measured, its boundaries (a range from midnight, an empty view, a stale
view), its SQL run for real, the application cache's model and the replay of findings.

The golden files in ``fixtures/cache`` give, per rule, statements and what the rule
writes for them, or the reason code of a statement it must leave alone. The tables
(``fixtures/cache/schema.sql``) hold 300,000 events over the 60 days before now.
Sessions run in time zone UTC, the zone the golden views keep.
"""

from __future__ import annotations

import time
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
from pgarchitect.advisors.cache import CacheAdvisor, CacheDetail, PreaggregateDetail
from pgarchitect.advisors.cache.model import Skip
from pgarchitect.advisors.cache.rules import app_cache, preaggregate
from pgarchitect.advisors.rewrite.verify import verify
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Pair
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

FIXTURES = Path(__file__).parent / "fixtures" / "cache"
SCHEMA = (FIXTURES / "schema.sql").read_text()
PREAGGREGATE = yaml.safe_load((FIXTURES / "preaggregate.yaml").read_text())
APP_CACHE = yaml.safe_load((FIXTURES / "app_cache.yaml").read_text())

# The demo's statement as pg_stat_statements shows it, over the test table.
DAILY = ("SELECT date_trunc($2, at) AS day, kind AS event_type, count(*) AS events FROM events "
         "WHERE at > NOW() - make_interval(days => $1) GROUP BY 1, 2 ORDER BY 1, 2")
FROM_MIDNIGHT = ("SELECT date_trunc('day', at) AS day, kind, count(*), sum(amount) FROM events "
                 "WHERE at >= date_trunc('day', now()) - make_interval(days => $1) "
                 "GROUP BY 1, 2")


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with pg_db.connect() as admin:
        admin.execute(f'ALTER DATABASE "{pg_db.name}" SET TimeZone = \'UTC\'')
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def context(conn: Any, **options: Any) -> Context:
    return Context(conn, load_config(), DatabaseCatalog(conn), runs=options.pop("runs", 1),
                   **options)


def subject(ctx: Context, query: str, **counters: Any) -> Subject:
    return Subject(Statement(query, **counters), analyze(query, ctx.catalog.relations))


def rows(conn: Any, query: str, values: tuple[Any, ...] = ()) -> Counter[tuple[Any, ...]]:
    with psycopg.RawCursor(conn) as cur:  # $n placeholders, as the statements have
        cur.execute(query, values)
        return Counter(cur.fetchall())


def planned(conn: Any, query: str) -> preaggregate.Preaggregate:
    found = preaggregate.plan(query, DatabaseCatalog(conn), "UTC", 100_000)
    assert not isinstance(found, Skip), found.reason
    return found


@pytest.mark.parametrize("case", PREAGGREGATE, ids=[c["name"] for c in PREAGGREGATE])
def test_preaggregate_golden(conn: Any, case: dict[str, Any]) -> None:
    found = preaggregate.plan(case["sql"], DatabaseCatalog(conn), "UTC", 100_000)
    if "skip" in case:
        assert isinstance(found, Skip), found
        assert found.code == case["skip"], found.reason
        return
    assert not isinstance(found, Skip), found.reason
    assert (found.create, found.index, found.rewritten) == (
        case["create"], case["index"], case["rewritten"])
    # the view builds, and the rewrite over it returns the statement's rows
    with conn.transaction(force_rollback=True):
        for statement in found.ddl:
            conn.execute(statement)
        checked = verify(conn, case["sql"], found.rewritten, analyze(case["sql"]).params)
        assert checked.same, checked.summary()


@pytest.mark.parametrize("case", APP_CACHE, ids=[c["name"] for c in APP_CACHE])
def test_app_cache_golden(case: dict[str, Any]) -> None:
    statement = Statement(case["sql"], calls=case["calls"], rows=case.get("rows", 0),
                          mean_ms=case.get("mean_ms", 1.0),
                          params=tuple(tuple(p) for p in case.get("params", ())))
    found = app_cache.assess(statement, analyze(case["sql"]),
                             case.get("writes", {"public.plans": 0}),
                             case.get("window_s", 86_400.0), case.get("counters_s", 86_400.0),
                             app_cache.Limits(), case.get("volatile", ()))
    if "skip" in case:
        assert isinstance(found, Skip), found
        assert found.code == case["skip"], found.reason
        return
    assert not isinstance(found, Skip), found.reason
    assert (found.ttl_s, found.share, found.saved_s_per_day) == (
        case["ttl"], case["share"], case["saved"])


@pytest.mark.parametrize("days", [7, 14, 30])
def test_the_rewrite_returns_the_statements_rows(conn: Any, days: int) -> None:
    found = planned(conn, DAILY)
    for unit in ("day", "week", "month"):
        with conn.transaction(force_rollback=True):
            for statement in found.ddl:
                conn.execute(statement)
            before = rows(conn, DAILY, (days, unit))
            assert sum(before.values()) > 0
            assert rows(conn, found.rewritten, (days, unit)) == before


def test_the_advisor_proposes_a_measured_view(conn: Any) -> None:
    ctx = context(conn, runs=3)
    proposed = CacheAdvisor().propose(ctx, [subject(ctx, DAILY, calls=500, total_ms=5000.0,
                                                    mean_ms=10.0, rows=20_000)])
    assert proposed.outcomes[DAILY].code is None
    [draft] = proposed.drafts
    proposal = draft.measure(ctx)
    assert (proposal.kind, proposal.advisor) == ("cache", "cache")
    assert proposal.title == ("materialized view public.events_per_hour_kind: hourly "
                              "aggregates of public.events")
    assert proposal.forward.startswith("CREATE MATERIALIZED VIEW")
    assert "CREATE UNIQUE INDEX" in proposal.forward and "CONCURRENTLY" in proposal.forward
    assert proposal.rollback.startswith("DROP MATERIALIZED VIEW IF EXISTS")
    assert "a unit under an hour" in proposal.reasoning
    [m] = proposal.statements
    assert m.measured and m.uses_change, m.reason
    assert m.after_query == proposal.new_statement
    assert m.gain is not None and m.gain > 0.5, (m.median_before, m.median_after)
    assert isinstance(proposal.detail, PreaggregateDetail)
    assert proposal.detail.to_json()["equivalence"]["same"] is True
    assert 0 < proposal.confidence <= 100
    # nothing of the view is left behind
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'events_per_hour%'"
                        ).fetchone() == (0,)


def test_a_range_from_midnight(conn: Any) -> None:
    found = planned(conn, FROM_MIDNIGHT)
    with conn.transaction(force_rollback=True):
        for statement in found.ddl:
            conn.execute(statement)
        for days in (0, 1, 5):
            before = rows(conn, FROM_MIDNIGHT, (days,))
            # the row at the first midnight counts (>=), in the view's day, not twice
            assert rows(conn, found.rewritten, (days,)) == before


def test_an_empty_view(conn: Any) -> None:
    # every row is of the current hour: the view holds none, the table gives everything
    conn.execute("DELETE FROM events")
    # A table emptied once, not one whose rows keep being deleted: its counters restart.
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_reset_single_table_counters('events'::regclass)")
    conn.execute("INSERT INTO events (kind, amount, at, at_tz) SELECT 'view', i, "
                 "date_trunc('hour', localtimestamp) + i * interval '1 minute', now() "
                 "FROM generate_series(0, 30) i")
    found = planned(conn, DAILY)
    with conn.transaction(force_rollback=True):
        for statement in found.ddl:
            conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM events_per_hour_kind").fetchone() == (0,)
        before = rows(conn, DAILY, (3, "day"))
        assert sum(before.values()) > 0
        assert rows(conn, found.rewritten, (3, "day")) == before


def test_a_stale_view_counts_the_rows_added_since(conn: Any) -> None:
    # the view was refreshed three days ago: the hours since are on the table only
    conn.execute("DELETE FROM events WHERE at >= date_trunc('day', localtimestamp) "
                 "- interval '2 days'")
    found = planned(conn, DAILY)
    with conn.transaction(force_rollback=True):
        for statement in found.ddl:
            conn.execute(statement)
        # rows written since: the day before yesterday, yesterday and today
        conn.execute("INSERT INTO events (kind, amount, at, at_tz) SELECT 'late', 1, "
                     "date_trunc('day', localtimestamp) - d * interval '1 day' + interval "
                     "'1 minute', now() FROM generate_series(0, 2) d, generate_series(1, 5)")
        last = conn.execute("SELECT max(hour) FROM events_per_hour_kind").fetchone()
        before = rows(conn, DAILY, (7, "day"))
        assert sorted(n for (_, kind, n) in before if kind == "late") == [5, 5, 5]
        assert rows(conn, found.rewritten, (7, "day")) == before
        # refreshed, the view holds the new days, and the answer stays the same
        conn.execute(found.refresh)
        assert conn.execute("SELECT max(hour) FROM events_per_hour_kind").fetchone() > last
        assert rows(conn, found.rewritten, (7, "day")) == before


def test_the_views_sql_runs_and_its_rollback_leaves_nothing(conn: Any) -> None:
    found = planned(conn, DAILY)
    for statement in found.ddl:
        conn.execute(statement)
    conn.execute(found.refresh)  # CONCURRENTLY: needs the unique index, which it has
    assert conn.execute("SELECT count(*) > 0 FROM events_per_hour_kind").fetchone() == (True,)
    conn.execute(found.drop)
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'events_per_hour%'"
                        ).fetchone() == (0,)


def updates_counted(conn: Any, table: str, at_least: int) -> None:
    """Wait until the table's updates are counted: a session sends its counters as it
    ends, after its client has gone."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = %s",
                           [table]).fetchone()
        if row and row[0] >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"the updates of {table} were not counted in 10 s")


def test_an_updated_table_is_not_append_mostly(conn: Any, pg_db: TestDatabase) -> None:
    conn.execute("SELECT pg_stat_force_next_flush()")  # the schema's inserts, counted now
    conn.execute("SELECT pg_stat_reset()")
    with psycopg.connect(pg_db.conninfo, autocommit=True) as app:
        app.execute("UPDATE events SET amount = amount WHERE id <= 20000")
    updates_counted(conn, "events", 20000)
    ctx = context(conn)
    proposed = CacheAdvisor().propose(ctx, [subject(ctx, DAILY)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[DAILY]
    assert outcome.code == "write_overhead" and "not append-mostly" in (outcome.reason or "")


def counted(pg_db: TestDatabase, conn: Any, query: str, values: tuple[Any, ...],
            calls: int) -> Statement:
    """The statement run ``calls`` times by the application, with its counters."""
    with psycopg.connect(pg_db.conninfo, autocommit=True) as app, psycopg.RawCursor(app) as cur:
        for _ in range(calls):
            cur.execute(query, values)
    row = conn.execute("SELECT calls, total_exec_time, rows FROM pg_stat_statements "
                       "WHERE query = %s", [query]).fetchone()
    assert row is not None, "pg_stat_statements did not count the statement"
    return Statement(query, calls=row[0], total_ms=row[1], mean_ms=row[1] / row[0], rows=row[2])


LOOKUP = "SELECT name, price FROM plans WHERE id = $1"
WRITTEN = "SELECT hits FROM counters WHERE id = $1"
VOLATILE = "SELECT id, random() FROM plans WHERE id = $1"


def test_the_app_cache_fires_for_a_read_of_an_unwritten_table(conn: Any,
                                                              pg_db: TestDatabase) -> None:
    # The schema's inserts are counted before the reset, not after it: a session sends
    # its counters at most once a second, and a late send would make plans "written".
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_statements_reset()")
    conn.execute("SELECT pg_stat_reset()")
    with psycopg.connect(pg_db.conninfo, autocommit=True) as app:
        for i in range(1, 21):
            app.execute("UPDATE counters SET hits = hits + 1 WHERE id = %s", [i])
    lookup = counted(pg_db, conn, LOOKUP, (3,), 50)
    written = counted(pg_db, conn, WRITTEN, (3,), 50)
    volatile = counted(pg_db, conn, VOLATILE, (3,), 50)
    update = Statement("UPDATE counters SET hits = hits + 1 WHERE id = $1", calls=20,
                       total_ms=2.0, mean_ms=0.1, rows=20)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    ctx = context(conn, since_seconds=600.0)  # the statements' counters cover 10 minutes
    subjects = [Subject(s, analyze(s.query, ctx.catalog.relations))
                for s in (lookup, written, volatile, update)]
    proposed = CacheAdvisor().propose(ctx, subjects)
    assert len(proposed.drafts) == 1, proposed.outcomes
    [draft] = proposed.drafts
    assert draft.inputs == []  # nothing to time: a cached call never reaches the database
    assert draft.about == (LOOKUP,)  # but it is about the statement
    proposal = draft.measure(ctx)
    assert proposal.kind == "cache"
    [modelled] = proposal.statements
    assert modelled.query == LOOKUP and not modelled.measured
    assert modelled.estimated_gain == 0.5 and "modelled" in (modelled.reason or "")
    assert proposal.objects == ("public.plans",)
    assert f"run({LOOKUP})" in proposal.forward and "ttl = 3600 s" in proposal.forward
    assert "INSERT, UPDATE or DELETE on public.plans" in proposal.forward
    assert proposal.rollback.startswith("Remove the cache")
    assert isinstance(proposal.detail, CacheDetail)
    assert proposal.detail.calls_per_day == 50 * 144  # 50 calls in 10 minutes
    assert proposal.detail.hit_share == 0.5 and "no bind values seen" in proposal.detail.hit_basis
    assert proposal.measured_gain is None and proposal.estimated_gain == 0.5
    assert proposal.confidence < 80 and proposal.action in ("log", "investigate")
    reasons = {q: (o.code, o.reason or "") for q, o in proposed.outcomes.items()}
    assert reasons[LOOKUP] == (None, "")
    assert reasons[WRITTEN][0] == "no_gain" and "public.counters is written" in reasons[WRITTEN][1]
    assert reasons[VOLATILE][0] == "not_supported" and "random()" in reasons[VOLATILE][1]
    assert reasons[update.query] == (
        "not_supported", "No cache: not cached: UPDATE statements change data; no "
        "pre-aggregation: only a SELECT is pre-aggregated")


def finding(query: str, recommendation: str, status: str = "proposed") -> Finding:
    return Finding(database="test", fingerprint="", query=query, kind="cache",
                   recommendation_sql=recommendation, status=status)


@pytest.mark.parametrize(("other", "verdict", "why"), [
    # another range, unit and select list: the same view serves it
    ("SELECT date_trunc('month', at), kind, count(*) FROM events "
     "WHERE at > now() - interval '90 days' GROUP BY 1, 2", "solved",
     "the view events_per_hour_kind keeps the same per-day aggregates"),
    # grouped by day only
    ("SELECT date_trunc('day', at), count(*) FROM events WHERE at > now() - interval '9 days' "
     "GROUP BY 1", "miss", "it aggregates public.events by day of at and ()"),
    # an aggregate the view does not keep
    ("SELECT date_trunc('day', at), kind, max(amount) FROM events "
     "WHERE at > now() - interval '9 days' GROUP BY 1, 2", "miss",
     "the view events_per_hour_kind keeps no max_amount"),
    # no aggregate by day at all
    ("SELECT name FROM plans WHERE id = $1", "miss", "not a per-day aggregate the view serves"),
])
def test_the_checker_replays_an_earlier_view(conn: Any, other: str, verdict: str,
                                             why: str) -> None:
    ctx = context(conn)
    checker = CacheAdvisor().checker(ctx)
    earlier = finding(DAILY, planned(conn, DAILY).create)
    [check] = checker.check([Pair(earlier, Statement(other),
                                  analyze(other, ctx.catalog.relations))])
    checker.close()
    assert check.verdict == verdict and check.checked.startswith(why), check.checked


def test_the_checker_does_not_replay_an_application_cache(conn: Any) -> None:
    ctx = context(conn)
    earlier = finding(LOOKUP, "-- Application change (nothing runs in the database):")
    [check] = CacheAdvisor().checker(ctx).check([Pair(earlier, Statement(LOOKUP),
                                                      analyze(LOOKUP))])
    assert check.verdict == "miss" and "assessed again" in check.checked


def test_a_view_that_exists_already(conn: Any) -> None:
    found = planned(conn, DAILY)
    for statement in found.ddl:
        conn.execute(statement)
    ctx = context(conn)
    proposed = CacheAdvisor().propose(ctx, [subject(ctx, DAILY)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[DAILY]
    assert outcome.code == "covered" and "exists already" in (outcome.reason or "")
