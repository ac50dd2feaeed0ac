"""The settings advisor on real servers: a statement that spills gets its work_mem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.settings import SettingsAdvisor
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Pair
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

SCHEMA = """
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, at timestamp NOT NULL);
INSERT INTO events SELECT i, 'kind-' || (i::bigint * 7919) % 50000,
                          timestamp '2026-01-01' + i * interval '1 second'
  FROM generate_series(1, 300000) i;
ANALYZE events;
"""
SPILLS = "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC, kind LIMIT 10"
QUIET = "SELECT count(*) FROM events WHERE id = $1"


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with pg_db.connect() as admin:
        admin.execute(f'ALTER DATABASE "{pg_db.name}" SET work_mem = \'1MB\'')
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def counted(pg_db: TestDatabase, conn: Any, query: str, calls: int = 3) -> Statement:
    """The statement run ``calls`` times by the application (a plain session), with its
    pg_stat_statements counters."""
    conn.execute("SELECT pg_stat_statements_reset()")
    with psycopg.connect(pg_db.conninfo, autocommit=True) as app:
        for _ in range(calls):
            app.execute(query)
    row = conn.execute("SELECT calls, total_exec_time, temp_blks_written FROM "
                       "pg_stat_statements WHERE query LIKE %s AND query NOT LIKE "
                       "'%%pg_stat_statements%%'", [query.split(" WHERE ")[0]
                                                    .split(" GROUP ")[0] + "%"]).fetchone()
    assert row is not None, "pg_stat_statements did not count the statement"
    calls_, total, temp = row
    return Statement(query, calls=calls_, total_ms=total, mean_ms=total / calls_,
                     temp_blks_written=temp)


def test_a_spilling_statement_gets_work_mem_measured(conn: Any, pg_db: TestDatabase) -> None:
    catalog = DatabaseCatalog(conn)
    spilling = counted(pg_db, conn, SPILLS)
    assert spilling.temp_blks_written > 0  # the evidence is real: it spilled at 1MB
    quiet = Statement(QUIET, calls=10, total_ms=1.0, mean_ms=0.1)
    ctx = Context(conn, load_config(), catalog, runs=3)
    proposed = SettingsAdvisor().propose(ctx, [Subject(spilling, analyze(SPILLS,
                                                                         catalog.relations)),
                                               Subject(quiet, analyze(QUIET, catalog.relations))])
    assert set(proposed.outcomes) == {SPILLS}  # the quiet statement keeps others' reasons
    [draft] = proposed.drafts
    proposal = draft.measure(ctx)
    assert proposal.kind == "setting" and proposal.forward.startswith("SET LOCAL work_mem = '")
    [m] = proposal.statements
    assert m.measured and m.uses_change, m  # with the value, nothing spills any more
    assert proposal.measured_gain is not None
    assert "max_connections" in proposal.reasoning and "MB per call" in proposal.problem
    # The session's own work_mem is untouched: SET LOCAL ended with the transaction.
    assert conn.execute("SHOW work_mem").fetchone() == ("1MB",)


def test_the_checker_replays_a_work_mem_finding(conn: Any, pg_db: TestDatabase) -> None:
    catalog = DatabaseCatalog(conn)
    spilling = counted(pg_db, conn, SPILLS)
    checker = SettingsAdvisor().checker(Context(conn, load_config(), catalog))

    def finding(value: str) -> Finding:
        return Finding(database="test", fingerprint="", query=SPILLS, kind="setting",
                       recommendation_sql=f"SET LOCAL work_mem = '{value}';  -- ...")

    analysis = analyze(SPILLS, catalog.relations)
    big, small, other = checker.check([
        Pair(finding("1024MB"), spilling, analysis), Pair(finding("2MB"), spilling, analysis),
        Pair(finding("64MB"), Statement(QUIET, calls=5), analysis)])
    assert big.verdict == "solved" and "holds this statement" in big.checked
    assert small.verdict == "miss" and "more than the earlier 2MB" in small.checked
    assert other.verdict == "miss" and "does not spill" in other.checked


def test_no_evidence_no_proposal(conn: Any, pg_db: TestDatabase) -> None:
    catalog = DatabaseCatalog(conn)
    quiet = counted(pg_db, conn, QUIET.replace("$1", "42"))
    proposed = SettingsAdvisor().propose(Context(conn, load_config(), catalog),
                                         [Subject(quiet, analyze(quiet.query,
                                                                 catalog.relations))])
    assert proposed.drafts == [] and proposed.outcomes == {}
