"""The settings advisor: golden files for the SQL each rule writes and for which
service a server is, and each rule on real servers (work_mem for a statement that
spills, statistics for a misestimate, random_page_cost on SSD, memory against the
hit ratio)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql
from support.servers import TestDatabase
from support.stats import flush

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.settings import SettingsAdvisor, machine, managed
from pgarchitect.advisors.settings.rules import statistics
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
    [draft] = [d for d in proposed.drafts if d.key.startswith("setting:work_mem")]
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
    # Nothing for the statement; server-wide rules stand on the server's own evidence.
    assert proposed.outcomes == {}
    assert not any(quiet.query in [i.query for i in d.inputs] for d in proposed.drafts)


# -- golden files --------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "settings"
SERVICES = yaml.safe_load((FIXTURES / "services.yaml").read_text())
STATISTICS = yaml.safe_load((FIXTURES / "statistics.yaml").read_text())


@pytest.mark.parametrize("case", SERVICES, ids=[c["name"] for c in SERVICES])
def test_which_service_the_signs_show(case: dict[str, Any]) -> None:
    service = managed.identify((kind, name) for kind, name in case["signs"])
    assert service.name == case["service"]
    if "set" in case:
        assert managed.how_to_set(service, "random_page_cost", "1.1",
                                  restart=False) == case["set"]
    if "restart" in case:
        assert managed.how_to_set(service, "shared_buffers", "4GB",
                                  restart=True) == case["restart"]


@pytest.mark.parametrize("case", STATISTICS["conditions"],
                         ids=[c["condition"][:40] for c in STATISTICS["conditions"]])
def test_the_columns_a_condition_names(case: dict[str, Any]) -> None:
    assert statistics.column_refs(case["condition"]) == [tuple(r) for r in case["refs"]]


@pytest.mark.parametrize("case", STATISTICS["fixes"], ids=[c["name"] for c in STATISTICS["fixes"]])
def test_the_sql_a_statistics_fix_writes(case: dict[str, Any]) -> None:
    schema, table, columns, kinds = case["fix"]
    fix = statistics.Fix(schema, table, tuple(columns), tuple(kinds) or statistics.ALL_KINDS)
    assert (fix.forward, fix.rollback) == (case["forward"], case["rollback"])
    assert statistics.parse(fix.forward) == fix  # the checker reads it back


# -- statistics: a TPC-H Q9-like misestimate --------------------------------------------

# partkey and suppkey go together (suppkey = partkey + 1000), as TPC-H's l_partkey and
# l_suppkey do: the planner multiplies their selectivities and expects 200,000 / 200 /
# 200 = 5 rows where 1,000 come, and joins them to orders with a loop of bitmap scans.
LINES = """
CREATE TABLE orders (id int PRIMARY KEY, custkey int NOT NULL, total numeric NOT NULL);
INSERT INTO orders SELECT i, i % 1000, i FROM generate_series(1, 100000) i;
CREATE INDEX ON orders (custkey);
CREATE TABLE line (id int PRIMARY KEY, partkey int NOT NULL, suppkey int NOT NULL,
                   custkey int NOT NULL);
INSERT INTO line SELECT i, i % 200, i % 200 + 1000, (i * 7919) % 1000
  FROM generate_series(1, 200000) i;
ANALYZE line;
ANALYZE orders;
"""
Q9 = ("SELECT sum(o.total) FROM line l JOIN orders o ON o.custkey = l.custkey "
      "WHERE l.partkey = $1 AND l.suppkey = $2")
BY_ID = "SELECT custkey FROM line WHERE id = $1"


def logged(query: str, *values: tuple[str, ...]) -> Statement:
    """A statement as a log gives it: its bind values, no counters."""
    return Statement(query, params=tuple(values), source="log")


@pytest.fixture
def lines(pg_db: TestDatabase) -> Iterator[Any]:
    with pg_db.connect() as admin:
        # Rows per plan node, not per parallel worker: the numbers read as the data is.
        admin.execute(sql.SQL("ALTER DATABASE {} SET max_parallel_workers_per_gather = 0")
                      .format(sql.Identifier(pg_db.name)))
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(LINES)
        yield c


def test_correlated_columns_get_extended_statistics(lines: Any) -> None:
    catalog = DatabaseCatalog(lines)
    ctx = Context(lines, load_config(), catalog, runs=2)
    q9 = logged(Q9, ("42", "1042"))
    proposed = SettingsAdvisor().propose(ctx, [Subject(q9, analyze(Q9, catalog.relations))])
    [draft] = [d for d in proposed.drafts if "STATISTICS" in d.key]
    assert proposed.outcomes[Q9].code is None  # helped
    proposal = draft.measure(ctx)
    assert proposal.forward.startswith('CREATE STATISTICS IF NOT EXISTS "public"."line_partkey_'
                                       'suppkey_stats" (dependencies')
    assert proposal.forward.endswith('ON "partkey", "suppkey" FROM "public"."line";\n'
                                     'ANALYZE "public"."line";')
    assert proposal.rollback.startswith('DROP STATISTICS IF EXISTS "public"."line_partkey_')
    # The evidence: the estimate before, ten times off or more, and after, within.
    before = proposal.detail.to_json()["facts"]  # type: ignore[union-attr]
    assert before["actual"] >= 10 * max(before["estimated"], 1.0)
    [m] = proposal.statements
    assert m.measured and m.uses_change, m  # the estimate came right in every run after
    assert "Before: " in proposal.evidence[0] and "times off" in proposal.evidence[0]
    assert proposal.rejected is None
    print(f"\nQ9-like: {proposal.evidence}, {m.median_before} -> {m.median_after} ms, "
          f"flags {proposal.flags}, confidence {proposal.confidence}")
    # Made and analysed inside the measured transaction: nothing is left.
    assert lines.execute("SELECT count(*) FROM pg_statistic_ext").fetchone() == (0,)


def test_the_checker_replays_statistics(lines: Any) -> None:
    catalog = DatabaseCatalog(lines)
    checker = SettingsAdvisor().checker(Context(lines, load_config(), catalog))
    fix = statistics.Fix("public", "line", ("partkey", "suppkey"), statistics.WITHOUT_MCV)
    finding = Finding(database="test", fingerprint="", query=Q9, kind="setting",
                      recommendation_sql=fix.forward)
    other_part = logged(Q9, ("7", "1007"))
    by_id = logged(BY_ID, ("5",))
    solved, missed = checker.check([
        Pair(finding, other_part, analyze(Q9, catalog.relations)),
        Pair(finding, by_id, analyze(BY_ID, catalog.relations))])
    assert solved.verdict == "solved", solved
    assert "rows (actual 1,000)" in solved.checked
    assert missed.verdict == "miss" and "not the problem the finding fixed" in missed.checked
    assert lines.execute("SELECT count(*) FROM pg_statistic_ext").fetchone() == (0,)


# -- random_page_cost on SSD ---------------------------------------------------------

# 200 users per team, 20 documents per user: with random_page_cost 4 a team's
# documents are read by a hash join over the whole table, with 1.1 by index lookups.
DOCS = """
CREATE TABLE users (id int PRIMARY KEY, team int NOT NULL);
INSERT INTO users SELECT i, i % 25 FROM generate_series(0, 4999) i;
CREATE TABLE docs (id int PRIMARY KEY, owner int NOT NULL, body text NOT NULL);
INSERT INTO docs SELECT i, (i * 7919) % 5000, repeat('x', 300) FROM generate_series(1, 100000) i;
CREATE INDEX ON docs (owner);
ANALYZE users;
ANALYZE docs;
"""
TEAM_DOCS = ("SELECT count(*), max(length(d.body)) FROM users u JOIN docs d ON d.owner = u.id "
             "WHERE u.team = $1")


@pytest.fixture
def docs(pg_db: TestDatabase) -> Iterator[Any]:
    with pg_db.connect() as admin:
        # Plans without parallel workers: the two shared cores make them noisy.
        admin.execute(sql.SQL("ALTER DATABASE {} SET max_parallel_workers_per_gather = 0")
                      .format(sql.Identifier(pg_db.name)))
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(DOCS)
        yield c


def test_random_page_cost_on_ssd_is_measured(docs: Any) -> None:
    catalog = DatabaseCatalog(docs)
    ctx = Context(docs, load_config({"storage": "ssd"}), catalog, runs=3)
    team = Statement(TEAM_DOCS, source="statement")
    by_id = Statement("SELECT body FROM docs WHERE id = $1", source="statement")
    proposed = SettingsAdvisor().propose(ctx, [Subject(team, analyze(TEAM_DOCS,
                                                                     catalog.relations)),
                                               Subject(by_id, analyze(by_id.query,
                                                                      catalog.relations))])
    assert proposed.info["storage"] == "ssd"
    [draft] = [d for d in proposed.drafts if d.key.startswith("setting:random_page_cost")]
    assert [i.query for i in draft.inputs] == [TEAM_DOCS]  # only the plan that changes
    proposal = draft.measure(ctx)
    assert proposal.forward.startswith("ALTER SYSTEM SET random_page_cost = '1.1'; SELECT "
                                       "pg_reload_conf();\n-- or for this database only: "
                                       f'ALTER DATABASE "{docs.info.dbname}" SET')
    assert proposal.rollback.startswith("ALTER SYSTEM RESET random_page_cost;")
    [m] = proposal.statements
    print(f"\nrandom_page_cost: {m.median_before} -> {m.median_after} ms, rejected "
          f"{proposal.rejected}, confidence {proposal.confidence}")
    assert m.measured
    # Proposed only when faster and none slower: the verdict follows the measurement.
    assert (proposal.rejected is None) == (m.gain is not None and m.gain > 0
                                           and not any(f.value < 1 and f.name ==
                                                       "no statement slower"
                                                       for f in proposal.factors))
    assert docs.execute("SHOW random_page_cost").fetchone() == ("4",)


def test_storage_unknown_proposes_nothing(docs: Any) -> None:
    catalog = DatabaseCatalog(docs)
    ctx = Context(docs, load_config(), catalog)
    team = Statement(TEAM_DOCS, source="statement")
    proposed = SettingsAdvisor().propose(ctx, [Subject(team, analyze(TEAM_DOCS,
                                                                     catalog.relations))])
    # What the machine says of the data directory's device, asked here the same way.
    datadir = docs.execute("SHOW data_directory").fetchone()[0]
    spins = machine.rotational(datadir)
    assert proposed.info["storage"] == (None if spins.value is None
                                        else "hdd" if spins.value else "ssd")
    rpc = [d for d in proposed.drafts if d.key.startswith("setting:random_page_cost")]
    if spins.value is None:
        assert rpc == [] and any(n.startswith("random_page_cost: storage unknown")
                                 and "not proposed" in n for n in proposed.notes)


# -- memory ---------------------------------------------------------------------------

# A table larger than a quarter of shared_buffers (128MB here): its sequential scans go
# through a small ring of buffers, so most of its blocks are read, not hit.
# CREATE TABLE AS writes through a small ring too: the table starts out of shared buffers.
WIDE = """
CREATE TABLE wide AS SELECT i AS id, repeat('y', 400) AS body FROM generate_series(1, 100000) i;
"""


def test_memory_against_the_hit_ratio(pg_db: TestDatabase) -> None:
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(WIDE)
        c.execute("SELECT pg_stat_reset()")
        for _ in range(5):
            c.execute("SELECT count(*) FROM wide")
        flush(c)
        counters = c.execute("SELECT blks_hit, blks_read FROM pg_stat_database WHERE "
                             "datname = current_database()").fetchone()
        assert counters is not None
        hit, read = counters
        assert read > 10_000 and hit / (hit + read) < 0.99  # the evidence is real
        config = load_config({"machine_memory_mb": 65536})
        ctx = Context(c, config, DatabaseCatalog(c))
        proposed = SettingsAdvisor().propose(ctx, [])
        assert proposed.info["memory_how"] == "given in the setting machine_memory_mb"
        by_key = {d.key: d for d in proposed.drafts}
        shared = by_key["setting:shared_buffers=16GB"].measure(ctx)
        assert shared.statements == [] and shared.action == "log"  # evidence only
        assert shared.forward.startswith("ALTER SYSTEM SET shared_buffers = '16GB';")
        assert "restart" in shared.forward and "SET LOCAL" in shared.reasoning
        assert f"{hit / (hit + read):.2%}" in shared.evidence[0]
        # effective_cache_size only informs the planner: with no statement whose plan
        # it changes there is no difference to show, and it is not proposed.
        assert "setting:effective_cache_size=48GB" not in by_key
        assert any(n.startswith("effective_cache_size 4GB") and "not proposed" in n
                   for n in proposed.notes), proposed.notes
        # Read from the machine when not given: the server runs here.
        found = SettingsAdvisor().propose(Context(c, load_config(), DatabaseCatalog(c)), [])
        assert found.info["memory_mb"] == machine.meminfo_mb(Path("/proc/meminfo")
                                                             .read_text())
        assert "/proc/meminfo" in found.info["memory_how"]


# -- managed services -----------------------------------------------------------------


def test_services_are_detected_on_a_real_server(pg_db: TestDatabase) -> None:
    dbname = sql.Identifier(pg_db.name)
    role = f"least_{pg_db.name}"
    with pg_db.connect() as admin:
        assert managed.detect(admin).name == "self"
        # A service's flag, as the server keeps a setting of a module it has not loaded.
        admin.execute(sql.SQL("ALTER DATABASE {} SET cloudsql.iam_authentication = on")
                      .format(dbname))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(role)))
        try:
            with psycopg.connect(pg_db.conninfo, user=role, password=role,
                                 autocommit=True) as least:
                assert least.execute("SELECT rolsuper FROM pg_roles WHERE rolname = "
                                     "current_user").fetchone() == (False,)
                assert managed.detect(least).name == "cloudsql"
            admin.execute(sql.SQL("ALTER DATABASE {} RESET cloudsql.iam_authentication")
                          .format(dbname))
            admin.execute("CREATE SCHEMA supabase_functions")
            with psycopg.connect(pg_db.conninfo, user=role, password=role,
                                 autocommit=True) as least:
                found = managed.detect(least)
                assert (found.name, found.sign) == ("supabase", "schema supabase_functions")
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(
                sql.Identifier(role), sql.Identifier(role)))


def test_the_checker_replays_a_server_setting(db18: TestDatabase) -> None:
    with db.connect(db18.conninfo, load_config()) as c:
        c.execute("CREATE TABLE t (id int)")
        catalog = DatabaseCatalog(c)
        checker = SettingsAdvisor().checker(Context(c, load_config(), catalog))
        query = "SELECT id FROM t"

        def finding(value: str) -> Finding:
            forward = managed.how_to_set(managed.SELF, "random_page_cost", value,
                                         restart=False)
            return Finding(database="test", fingerprint="", query=query, kind="setting",
                           recommendation_sql=forward)

        now = c.execute("SHOW random_page_cost").fetchone()
        assert now is not None
        same, other = checker.check([
            Pair(finding(str(now[0])), Statement(query), analyze(query, catalog.relations)),
            Pair(finding("1.1"), Statement(query), analyze(query, catalog.relations))])
        assert same.verdict == "applied" and "has random_page_cost" in same.checked
        assert other.verdict == "miss" and "server-wide" in other.checked


# -- work_mem on the demo's statement ----------------------------------------------------

BEHAVIOR = """
CREATE TABLE "BehaviorLog" ("id" bigserial PRIMARY KEY, "userId" uuid NOT NULL,
                            "eventType" text NOT NULL, "metadata" jsonb,
                            "timestamp" timestamp(3) NOT NULL);
INSERT INTO "BehaviorLog" ("userId", "eventType", "timestamp")
SELECT md5((i % 5000)::text)::uuid,
       (ARRAY['view', 'click', 'quiz', 'enroll', 'login', 'logout', 'search'])[1 + i % 7],
       now() - (i % 43200) * interval '1 minute' - (i % 60) * interval '1 second'
  FROM generate_series(1, 300000) i;
CREATE INDEX "BehaviorLog_timestamp_idx" ON "BehaviorLog"("timestamp");
ANALYZE "BehaviorLog";
"""


def test_the_demo_statement_is_measured_like_the_workload(pg_db: TestDatabase) -> None:
    from pgarchitect.demo.app import EVENT_COUNTS_PER_DAY

    with pg_db.connect() as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET work_mem = '64kB'").format(
            sql.Identifier(pg_db.name)))
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(BEHAVIOR)
        c.execute("SELECT pg_stat_statements_reset()")
        with psycopg.connect(pg_db.conninfo, autocommit=True) as app:
            for _ in range(3):  # the application, a week's events
                app.execute(EVENT_COUNTS_PER_DAY, [7])
        row = c.execute("SELECT query, calls, total_exec_time, temp_blks_written, "
                        "shared_blks_hit, shared_blks_read FROM pg_stat_statements "
                        "WHERE query LIKE %s", ["%make_interval%"]).fetchone()
        assert row is not None
        query, calls, total, temp, hit, read = row
        assert "make_interval(days => $1)" in query and "date_trunc($2" in query
        assert temp > 0  # it spilled at 64kB
        s = Statement(query, calls=calls, total_ms=total, mean_ms=total / calls,
                      temp_blks_written=temp, shared_blks_hit=hit, shared_blks_read=read)
        catalog = DatabaseCatalog(c)
        ctx = Context(c, load_config(), catalog, runs=3)
        proposed = SettingsAdvisor().propose(ctx, [Subject(s, analyze(query,
                                                                      catalog.relations))])
        [draft] = [d for d in proposed.drafts if d.key.startswith("setting:work_mem")]
        proposal = draft.measure(ctx)
        [m] = proposal.statements
        assert m.values == ("7", "day"), m.values  # a week by day, as the application asks
        assert m.measured and m.uses_change
        assert m.measured_mean_ms is not None and m.workload_mean_ms is not None
        ratio = m.measured_mean_ms / m.workload_mean_ms
        print(f"\ndemo work_mem: workload {m.workload_mean_ms:.1f} ms, measured "
              f"{m.measured_mean_ms:.1f} ms, {m.median_before} -> {m.median_after} ms")
        assert 1 / 3 < ratio < 3, ratio  # like the workload, not 0.03 ms against 130 ms
        assert not any("not like the workload" in f for f in proposal.flags)


def test_the_data_directory_device_is_read_honestly() -> None:
    # Wherever this runs: a path on no block device is unknown, never a guess.
    found = machine.rotational(os.getcwd())
    assert found.value in (True, False, None)
    assert found.how.startswith("unknown") == (found.value is None)
