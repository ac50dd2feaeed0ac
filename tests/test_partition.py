"""The partition advisor on real servers: which tables it proposes, the pruning it
measures on copies of the rows, the migration run for real, and the replay of its
findings; its pure parts (interval, partitions, migration text, re-pointing) against
the golden files in ``fixtures/partition``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pglast
import psycopg
import pytest
import yaml
from psycopg import sql
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.partition import PartitionAdvisor, PartitionDetail
from pgarchitect.advisors.partition.advise import _steady
from pgarchitect.advisors.partition.interval import bounds, choose_interval
from pgarchitect.advisors.partition.migration import Layout, forward, rollback
from pgarchitect.advisors.partition.repoint import repoint
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.demo import app as demo_app
from pgarchitect.demo import data as demo_data
from pgarchitect.demo.data import Scale
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Pair
from pgarchitect.proposal import Measurement, weighted_gain
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

FIXTURES = Path(__file__).parent / "fixtures" / "partition"
INTERVALS = yaml.safe_load((FIXTURES / "interval.yaml").read_text())
REPOINTS = yaml.safe_load((FIXTURES / "repoint.yaml").read_text())
MIGRATIONS = yaml.safe_load((FIXTURES / "migration.yaml").read_text())

# A year of events up to now, and no index on the time: the statements on recent rows
# read the whole table.
EVENTS = sql.SQL("""
DROP TABLE IF EXISTS events;
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload text NOT NULL,
                     at timestamp NOT NULL);
INSERT INTO events (kind, payload, at)
SELECT 'kind-' || i % 40, repeat(md5(i::text), 3),
       date_trunc('second', now()::timestamp) - i * {step}::interval
FROM generate_series(1, {rows}) i;
CREATE INDEX ON events (kind);
ANALYZE events;
""")


def events(conn: Any, rows: int) -> None:
    """The events table with ``rows`` rows spread over the last year."""
    conn.execute(EVENTS.format(rows=sql.Literal(rows),
                               step=sql.Literal(f"{365 * 86400 // rows} seconds")))
    conn.commit()
RECENT = ("SELECT kind, count(*) FROM events WHERE at > now() - interval '30 days' "
          "GROUP BY kind")
BY_ID = "SELECT kind FROM events WHERE id = $1"
SMALL = {"partition_min_rows": 100_000}


def config(**overrides: object) -> Any:
    return load_config({**SMALL, **overrides})


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        events(c, 300_000)
        yield c


def context(conn: Any, cfg: Any = None, runs: int = 3) -> Context:
    return Context(conn, cfg or config(), DatabaseCatalog(conn), runs=runs)


def subject(ctx: Context, query: str, statement: Statement | None = None) -> Subject:
    return Subject(statement or Statement(query, calls=10, total_ms=1000.0),
                   analyze(query, ctx.catalog.relations))


def counted(pg_db: TestDatabase, conn: Any, query: str, calls: int = 3) -> Statement:
    """The statement run ``calls`` times by the application, with its counters."""
    conn.execute("SELECT pg_stat_statements_reset()")
    with psycopg.connect(pg_db.conninfo, autocommit=True) as app:
        for _ in range(calls):
            app.execute(query)
    row = conn.execute("SELECT calls, total_exec_time FROM pg_stat_statements WHERE query "
                       "LIKE 'SELECT kind, count(*) FROM events%%'").fetchone()
    assert row is not None, "pg_stat_statements did not count the statement"
    return Statement(query, calls=row[0], total_ms=row[1], mean_ms=row[1] / row[0])


def test_a_time_series_table_is_proposed_with_pruning_measured(
        conn: Any, pg_db: TestDatabase) -> None:
    ctx = context(conn)
    recent = counted(pg_db, conn, RECENT)
    lookups = Statement(BY_ID, calls=100, total_ms=recent.total_ms / 10)
    proposed = PartitionAdvisor().propose(ctx, [subject(ctx, RECENT, recent),
                                                subject(ctx, BY_ID, lookups)])
    [draft] = proposed.drafts
    assert proposed.outcomes[RECENT].code is None
    by_id = proposed.outcomes[BY_ID]
    assert by_id.code == "no_gain" and "does not filter at" in (by_id.reason or "")
    proposal = draft.measure(ctx)
    assert (proposal.kind, proposal.advisor) == ("partition", "partition")
    assert proposal.title == "partition public.events by at, one partition a month"
    [m] = proposal.statements
    assert m.measured and m.uses_change, m.reason
    assert isinstance(proposal.detail, PartitionDetail)
    scanned, total = proposal.detail.pruning[RECENT]
    assert 0 < scanned < total == proposal.detail.partitions
    assert f"reads {scanned} of {total} partitions" in " ".join(proposal.evidence)
    # partitions for the last 30 days, not the whole year: faster
    assert proposal.measured_gain is not None and proposal.measured_gain > 0.2, proposal.factors
    assert m.median_after is not None and m.median_before is not None
    assert m.median_after < m.median_before
    assert "PARTITION BY RANGE (\"at\")" in proposal.forward
    assert 'ADD PRIMARY KEY ("id", "at")' in proposal.forward
    assert "RENAME TO \"events_unpartitioned\"" in proposal.forward
    assert "RENAME TO \"events_partitioned\"" in proposal.rollback
    assert 0 < proposal.confidence <= 100
    assert proposal.to_json()["detail"]["interval"] == "month"
    # nothing is left behind by the measurement
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'events_pga%'"
                        ).fetchone() == (0,)


def rows_per_month(conn: Any) -> float:
    row = conn.execute("SELECT count(*) FROM events WHERE at > now() - interval '30 days'"
                       ).fetchone()
    assert row is not None
    return float(row[0]) * 30.4375 / 30


def test_the_growth_rule_flags_a_table_before_it_crosses(conn: Any) -> None:
    per_month = rows_per_month(conn)
    months = (1_000_000 - 300_000) / per_month  # about 28 months at 25,000 rows a month
    early = context(conn, config(partition_min_rows=1_000_000,
                                 partition_horizon_months=int(months) + 3))
    [draft] = PartitionAdvisor().propose(early, [subject(early, RECENT)]).drafts
    proposal = draft.finish([])
    assert "before it crosses" in proposal.problem
    assert isinstance(proposal.detail, PartitionDetail)
    assert proposal.detail.crosses_in_months == pytest.approx(months, rel=0.15)
    assert any(f.name == "before it crosses" for f in proposal.factors)
    late = context(conn, config(partition_min_rows=1_000_000,
                                partition_horizon_months=int(months) - 3))
    proposed = PartitionAdvisor().propose(late, [subject(late, RECENT)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[RECENT]
    assert outcome.code == "no_candidate" and "small for partitioning" in (outcome.reason or "")


def test_a_heavily_updated_table_is_not_proposed(conn: Any) -> None:
    conn.execute("UPDATE events SET kind = 'x' WHERE id % 2 = 0")
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.commit()
    ctx = context(conn)
    proposed = PartitionAdvisor().propose(ctx, [subject(ctx, RECENT)])
    assert proposed.drafts == []
    outcome = proposed.outcomes[RECENT]
    assert outcome.code == "no_candidate" and "not append-mostly" in (outcome.reason or "")
    assert "150,000 updates" in (outcome.reason or "")


def test_a_partitioned_table_and_tables_without_time_filters_are_skipped(conn: Any) -> None:
    conn.execute("""
        CREATE TABLE parted (id bigint, at timestamp NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE parted_all PARTITION OF parted DEFAULT;
        INSERT INTO parted SELECT i, now() - i * interval '1 hour' FROM generate_series(1, 1000) i;
        CREATE TABLE plain (id bigint PRIMARY KEY, name text);
        ANALYZE parted, plain;""")
    ctx = context(conn)
    queries = ["SELECT count(*) FROM parted WHERE at > now() - interval '1 day'",
               "SELECT name FROM plain WHERE id = $1",
               "SELECT count(*) FROM events WHERE kind = $1",
               "SELECT 1"]
    proposed = PartitionAdvisor().propose(ctx, [subject(ctx, q) for q in queries])
    assert proposed.drafts == []
    codes = {q: (o.code, o.reason or "") for q, o in proposed.outcomes.items()}
    assert codes[queries[0]][0] == "not_supported" and "partitioned already" in codes[queries[0]][1]
    assert codes[queries[1]][0] == "no_candidate" and "no date or timestamp" in codes[queries[1]][1]
    assert codes[queries[2]][0] == "no_candidate"
    assert "no statement filters public.events by at" in codes[queries[2]][1]
    assert codes[queries[3]][0] == "no_candidate"


def run_script(pg_db: TestDatabase, script: str) -> None:
    """The migration as psql runs it: each statement on its own, autocommit."""
    with psycopg.connect(pg_db.conninfo, autocommit=True) as human:
        for statement in pglast.split(script):
            human.execute(statement)


def table_state(conn: Any) -> tuple[str, int, str, str | None]:
    conn.commit()
    row = conn.execute(
        "SELECT c.relkind::text, (SELECT count(*) FROM events), "
        "(SELECT md5(string_agg(e::text, ',' ORDER BY id, at)) FROM events e), "
        "pg_get_serial_sequence('events', 'id') FROM pg_class c WHERE c.oid = 'events'::regclass"
    ).fetchone()
    conn.commit()
    assert row is not None
    return (str(row[0]), int(row[1]), str(row[2]), row[3])


# What the table has besides its rows, for the migration to carry over: a serial key
# and a foreign key; or an identity key, a timestamptz and a unique index.
VARIANTS = {
    "serial, foreign key": (
        "CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users VALUES (1);"
        "ALTER TABLE events ADD COLUMN user_id int DEFAULT 1 REFERENCES users (id)"),
    "identity, timestamptz, unique": (
        "ALTER TABLE events ALTER COLUMN at TYPE timestamptz;"
        "ALTER TABLE events ALTER COLUMN id DROP DEFAULT; DROP SEQUENCE events_id_seq;"
        "ALTER TABLE events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (START 20001);"
        "ALTER TABLE events ADD COLUMN ref text UNIQUE"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_migration_and_its_rollback_run_for_real(conn: Any, pg_db: TestDatabase,
                                                     variant: str) -> None:
    events(conn, 20_000)  # the migration's speed is not the point
    conn.execute(VARIANTS[variant])
    conn.execute("ANALYZE events")
    conn.commit()
    before = table_state(conn)
    ctx = context(conn, config(partition_min_rows=10_000), runs=1)
    ctx.verify = False
    [draft] = PartitionAdvisor().propose(ctx, [subject(ctx, RECENT)]).drafts
    proposal = draft.measure(ctx)
    run_script(pg_db, proposal.forward)
    after = table_state(conn)
    assert after[0] == "p" and after[1:3] == before[1:3]  # partitioned, every row as it was
    assert after[3] is not None  # the key still has its sequence
    partitions = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                              "'events'::regclass").fetchone()
    assert partitions is not None and partitions[0] >= 13  # 12 months, ahead, DEFAULT
    conn.execute("INSERT INTO events (kind, payload, at) VALUES ('new', '', now())")
    conn.commit()
    written = table_state(conn)
    assert written[1] == before[1] + 1
    run_script(pg_db, proposal.rollback)
    back = table_state(conn)
    assert back[0] == "r" and back[1] == before[1] + 1 and back[3] == before[3]
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'new'").fetchone() == (1,)
    # the original's sequence goes on past every id, the new row's included
    conn.execute("INSERT INTO events (kind, payload, at) VALUES ('newer', '', now())")
    assert conn.execute("SELECT count(DISTINCT id) FROM events").fetchone() == (before[1] + 2,)
    conn.commit()
    assert conn.execute("SELECT to_regclass('events_partitioned') IS NOT NULL").fetchone() == (
        True,)  # kept until the team drops it


def test_retention_drops_the_old_partitions(conn: Any, pg_db: TestDatabase) -> None:
    events(conn, 20_000)
    ctx = context(conn, config(partition_min_rows=10_000, partition_retention_months=3),
                  runs=1)
    ctx.verify = False
    [draft] = PartitionAdvisor().propose(ctx, [subject(ctx, RECENT)]).drafts
    proposal = draft.measure(ctx)
    assert "DETACH PARTITION" in proposal.forward
    run_script(pg_db, proposal.forward)
    cutoff = conn.execute("SELECT date_trunc('month', now()) - interval '3 months'").fetchone()
    assert cutoff is not None
    kept = conn.execute("SELECT count(*), min(at) >= %s FROM events", [cutoff[0]]).fetchone()
    whole = conn.execute("SELECT count(*) FROM events_unpartitioned").fetchone()
    assert kept is not None and whole == (20000,)
    assert 0 < kept[0] < 20000 and kept[1] is True


def test_the_checker_replays_a_partition_finding(conn: Any) -> None:
    ctx = context(conn, runs=1)
    ctx.verify = False
    [draft] = PartitionAdvisor().propose(ctx, [subject(ctx, RECENT)]).drafts
    migration = draft.measure(ctx).forward
    finding = Finding(database="test", fingerprint="", query=RECENT, kind="partition",
                      recommendation_sql=migration)
    other = "SELECT count(*) FROM events WHERE at BETWEEN $1 AND $2"

    def pair(query: str) -> Pair:
        return Pair(finding, Statement(query), analyze(query, ctx.catalog.relations))

    checker = PartitionAdvisor().checker(ctx)
    solved, missed = checker.check([pair(other), pair(BY_ID)])
    assert solved.verdict == "solved" and "filters public.events by at" in solved.checked
    assert missed.verdict == "miss" and "does not filter public.events by at" in missed.checked
    conn.execute("CREATE TABLE events_p (LIKE events) PARTITION BY RANGE (at);"
                 "DROP TABLE events; ALTER TABLE events_p RENAME TO events")
    [now] = PartitionAdvisor().checker(context(conn)).check([pair(other)])
    assert now.verdict == "miss" and "partitioned table now" in now.checked


# -- golden files: the pure parts --------------------------------------------------------

@pytest.mark.parametrize("case", INTERVALS["choose"], ids=[c["name"] for c in INTERVALS["choose"]])
def test_golden_interval(case: dict[str, Any]) -> None:
    choice = choose_interval(case["rows_per_month"], case["windows"])
    assert choice.interval == case["interval"], choice.why


@pytest.mark.parametrize("case", INTERVALS["bounds"], ids=[c["name"] for c in INTERVALS["bounds"]])
def test_golden_bounds(case: dict[str, Any]) -> None:
    found = bounds(case["first"], case["last"], case["interval"])
    assert [found[0].suffix, found[-1].suffix] == case["suffixes"]
    assert len(found) == case["count"]
    assert all(a.upper == b.lower for a, b in itertools.pairwise(found))


@pytest.mark.parametrize("case", REPOINTS, ids=[c["name"] for c in REPOINTS])
def test_golden_repoint(case: dict[str, Any]) -> None:
    assert repoint(case["sql"], ("public", "BehaviorLog"), ("public", "copy")) == case["expected"]


def layout(doc: dict[str, Any]) -> Layout:
    return Layout(
        doc["schema"], doc["table"], doc["key"], doc["key_type"], doc["interval"],
        tuple(bounds(doc["first"], doc["last"], doc["interval"])),
        tuple(doc.get("primary_key", ())), tuple(doc.get("indexes", ())),
        tuple(tuple(fk) for fk in doc.get("foreign_keys", ())),
        tuple(tuple(s) for s in doc.get("serials", ())),
        tuple(doc.get("identities", ())), doc["rows_per_day"], doc.get("retention_months"),
        doc["today"])


@pytest.mark.parametrize("case", MIGRATIONS, ids=[c["name"] for c in MIGRATIONS])
def test_golden_migration(case: dict[str, Any]) -> None:
    lay = layout(case["layout"])
    folder = FIXTURES / "migration"
    assert forward(lay) == (folder / f"{case['name']}.forward.sql").read_text()
    assert rollback(lay) == (folder / f"{case['name']}.rollback.sql").read_text()
    # every statement of both parses as PostgreSQL's own parser reads it
    assert pglast.split(forward(lay)) and pglast.split(rollback(lay))



def test_the_demo_behaviorlog_is_proposed_by_the_default_settings(db18: TestDatabase) -> None:
    # The demo at its small scale, with partition_min_rows scaled as its rows are: the
    # months to the threshold, at the demo's own growth, are those of the full demo.
    small, full = Scale.small(), Scale()
    defaults = load_config()
    scaled = defaults.get_int("partition_min_rows") * small.behavior_logs // full.behavior_logs
    demo_data.load(db18.conninfo, small)
    with db.connect(db18.conninfo, load_config()) as conn:
        user = conn.execute('SELECT "userId" FROM "BehaviorLog" LIMIT 1').fetchone()
        assert user is not None
        conn.execute("SELECT pg_stat_statements_reset()")
        with psycopg.connect(db18.conninfo, autocommit=True) as app:
            for _ in range(3):
                app.execute(demo_app.EVENT_COUNTS_PER_DAY, [30])
                app.execute(demo_app.WEEKLY_ACTIVE_USERS)
                app.execute(demo_app.LOGS_PAGE, [0, 50])
                app.execute(demo_app.RECENT_ACTIVITY, [user[0], 20])
        rows = conn.execute(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements "
            "WHERE query LIKE '%%\"BehaviorLog\"%%' AND query NOT LIKE '%%pg_stat%%'"
        ).fetchall()
        assert len(rows) == 4, rows
        cfg = load_config({"partition_min_rows": scaled})
        ctx = Context(conn, cfg, DatabaseCatalog(conn), runs=3)
        subjects = [subject(ctx, q, Statement(q, calls=n, total_ms=ms, mean_ms=ms / n))
                    for q, n, ms in rows]
        proposed = PartitionAdvisor().propose(ctx, subjects)
        [draft] = proposed.drafts
        proposal = draft.measure(ctx)
    assert proposal.title == ('partition public.BehaviorLog by timestamp, one partition a '
                              'month')
    assert "before it crosses" in proposal.problem
    assert isinstance(proposal.detail, PartitionDetail)
    horizon = defaults.get_int("partition_horizon_months")
    assert 0 < proposal.detail.crosses_in_months <= horizon
    assert {q for q, _, _ in rows if "NOW()" in q} == set(proposal.queries)
    assert all(m.uses_change for m in proposal.statements if m.measured)


def test_not_slower_reads_sub_millisecond_changes_as_noise() -> None:
    """0.06 → 0.12 ms is the timer's noise, not a statement made 100% slower; 100 → 150 ms
    is slower."""
    tiny = Measurement("SELECT 1", before_ms=(0.06,) * 3, after_ms=(0.12,) * 3)
    slow = Measurement("SELECT 2", before_ms=(100.0,) * 3, after_ms=(150.0,) * 3)
    steady = _steady([tiny, slow])
    assert [m.gain for m in steady] == [0.0, slow.gain] and slow.gain == -0.5
    weights = {"SELECT 1": 1.0, "SELECT 2": 1.0}
    assert weighted_gain(steady, weights, measured=True) == -0.25
    assert weighted_gain([tiny, slow], weights, measured=True) == -0.75
