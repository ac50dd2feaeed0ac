"""Plans: generic plans, parameter types and values, measured plans, plan reading.

Live tests run on PostgreSQL 18 (EXPLAIN GENERIC_PLAN) and 15 (PREPARE + forced
generic plan) against ``fixtures/plans/schema.sql``. Plan reading is also tested
on EXPLAIN JSON captured from both servers (``fixtures/plans/capture.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pglast.parser
import psycopg
import pytest
from psycopg import pq, sql
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.analysis import ColumnRef, Param, analyze, load_catalog
from pgarchitect.demo import app
from pgarchitect.plans import (
    NoPlan,
    ParameterSet,
    Plan,
    explain_analyze,
    generic_plan,
    parameter_types,
    parse_plan,
    sample_parameter_sets,
    sample_parameters,
)
from pgarchitect.settings import load_config
from pgarchitect.workload.repair import repair

FIXTURES = Path(__file__).parent / "fixtures" / "plans"
SCHEMA = (FIXTURES / "schema.sql").read_text()

CUSTOMERS = ("public", "customers")
ORDERS = ("public", "orders")


def col(table: tuple[str, str], column: str) -> ColumnRef:
    return ColumnRef(*table, column)


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[db.Connection]:
    """A pgarchitect connection (tagged, with timeouts) to a database with the test schema."""
    with pg_db.connect() as admin:
        admin.execute(SCHEMA)
    with db.connect(pg_db.conninfo, load_config()) as connection:
        yield connection


def plan_of(result: Plan | NoPlan) -> Plan:
    assert isinstance(result, Plan), result
    return result


def no_plan(result: object) -> NoPlan:
    assert isinstance(result, NoPlan), result
    return result


def assert_clean(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Idle, usable, and no prepared statement left behind."""
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    assert conn.execute("SELECT name FROM pg_prepared_statements").fetchall() == []


# -- generic plans ------------------------------------------------------------------


def test_generic_plan_uses_the_index_for_an_equality(conn: db.Connection) -> None:
    plan = plan_of(generic_plan(conn, "SELECT * FROM orders WHERE customer_id = $1"))
    assert not plan.analyzed and plan.actual_rows is None
    assert plan.indexes_used() == ("public.orders_customer_id_idx",)
    assert plan.seq_scans() == ()
    assert plan.total_cost > 0
    assert_clean(conn)


def test_generic_plan_scans_a_column_without_index(conn: db.Connection) -> None:
    plan = plan_of(generic_plan(conn, "SELECT count(*) FROM orders WHERE status = $1"))
    [scan] = plan.seq_scans()
    assert scan.relation == "public.orders"
    assert scan.filter == "(orders.status = $1)"  # generic: the value stays a parameter
    assert_clean(conn)


def test_percent_signs_and_quotes_in_the_statement_are_data(conn: db.Connection) -> None:
    query = "SELECT * FROM customers WHERE email LIKE '%''x%' AND tier = $1"
    plan = plan_of(generic_plan(conn, query))
    assert plan.seq_scans()[0].filter == (
        "((customers.email ~~ '%''x%'::text) AND (customers.tier = $1))")
    assert plan_of(explain_analyze(conn, query, ["free"])).actual_rows == 0
    assert_clean(conn)


def test_generic_plan_of_a_statement_without_parameters(conn: db.Connection) -> None:
    plan = plan_of(generic_plan(conn, "SELECT count(*) FROM customers WHERE tier = 'pro'"))
    assert plan.seq_scans()[0].filter == "(customers.tier = 'pro'::text)"


def test_generic_plan_applies_settings_to_its_transaction_only(conn: db.Connection) -> None:
    query = "SELECT * FROM orders WHERE customer_id = $1"
    plan = plan_of(generic_plan(conn, query, settings={"enable_bitmapscan": "off"}))
    assert plan.root.node_type == "Index Scan"
    assert conn.execute("SHOW enable_bitmapscan").fetchone() == ("on",)


def test_dropped_table_gives_a_reason_and_the_connection_still_works(
    conn: db.Connection,
) -> None:
    conn.execute("CREATE TABLE doomed (id int, v text)")
    conn.execute("DROP TABLE doomed")
    result = no_plan(generic_plan(conn, "SELECT v FROM doomed WHERE id = $1"))
    assert result.sqlstate == "42P01"
    assert result.reason.startswith("Could not plan: ")
    assert "dropped or renamed" in result.reason
    assert conn.execute("SELECT count(*) FROM customers").fetchone() == (5000,)
    assert_clean(conn)


@pytest.mark.parametrize(
    ("statement", "sqlstate"),
    [
        ("SELECT nope FROM orders WHERE id = $1", "42703"),  # dropped column
        ("SELEC * FROM orders", "42601"),  # caught by the parse check
        ("SELECT 1; DROP TABLE orders", None),  # two statements: never sent
        ("SET work_mem = '1GB'", None),  # no plan to make
    ],
)
def test_statements_that_cannot_be_planned(
    conn: db.Connection, statement: str, sqlstate: str | None
) -> None:
    for result in (generic_plan(conn, statement), parameter_types(conn, statement),
                   explain_analyze(conn, statement, ["1"])):
        assert no_plan(result).sqlstate == sqlstate
    assert conn.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone() == (True,)
    assert_clean(conn)


def test_parameter_without_an_inferable_type(conn: db.Connection) -> None:
    query = "SELECT count(*) FROM orders WHERE $1 IS NULL"
    assert no_plan(parameter_types(conn, query)).sqlstate == "42P18"
    result = generic_plan(conn, query)
    if conn.info.server_version >= 160000:
        # GENERIC_PLAN plans with the type left unknown.
        assert plan_of(result).seq_scans()[0].relation == "public.orders"
    else:
        assert no_plan(result).sqlstate == "42P18"
        assert "Add a cast" in no_plan(result).reason
    # A bare `SELECT $1` is not such a case: the server resolves unknown to text.
    assert parameter_types(conn, "SELECT $1") == ["text"]
    assert_clean(conn)


def test_timeout_gives_a_reason(conn: db.Connection) -> None:
    result = no_plan(explain_analyze(conn, "SELECT pg_sleep(1)",
                                     settings={"statement_timeout": "50ms"}))
    assert result.sqlstate == "57014"
    assert "statement_timeout" in result.reason
    assert_clean(conn)


def test_callers_transaction_survives_a_failed_plan(pg_db: TestDatabase) -> None:
    with pg_db.connect() as admin:
        admin.execute(SCHEMA)
    with db.connect(pg_db.conninfo, load_config(), autocommit=False) as conn:
        conn.execute("INSERT INTO events VALUES (-1, 'mine')")
        assert isinstance(generic_plan(conn, "SELECT * FROM nope WHERE a = $1"), NoPlan)
        assert isinstance(explain_analyze(conn, "SELECT * FROM orders WHERE id = $1", ["1"]),
                          Plan)
        assert isinstance(sample_parameters(conn, "SELECT * FROM orders WHERE id = $1"),
                          ParameterSet)
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
        assert conn.execute("SELECT kind FROM events WHERE id = -1").fetchone() == ("mine",)
        conn.rollback()


# -- parameter types and values -----------------------------------------------------


def test_parameter_types_are_the_servers(conn: db.Connection) -> None:
    query = ("SELECT * FROM orders WHERE customer_id = $1 AND created_at > $2 "
             "AND status = ANY($3) LIMIT $4")
    assert parameter_types(conn, query) == [
        "integer", "timestamp with time zone", "text[]", "bigint"]
    assert parameter_types(conn, "SELECT count(*) FROM orders") == []
    assert_clean(conn)


def test_sample_parameters_from_statistics(conn: db.Connection) -> None:
    query = ("SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id "
             "WHERE c.tier = $1 AND o.created_at > $2 AND o.total < $3 AND c.email LIKE $4 "
             "AND o.status IN ($5, $6) LIMIT $7")
    params = [
        Param(1, col(CUSTOMERS, "tier"), "eq", "text"),
        Param(2, col(ORDERS, "created_at"), "range", "timestamp with time zone"),
        Param(3, col(ORDERS, "total"), "range", "numeric"),
        Param(4, col(CUSTOMERS, "email"), "like", "text"),
        Param(5, col(ORDERS, "status"), "in", "text"),
        Param(6, col(ORDERS, "status"), "in", "text"),
    ]
    sample = sample_parameters(conn, query, params)
    assert isinstance(sample, ParameterSet)
    assert sample.origins == ("mcv", "histogram", "histogram", "histogram", "mcv", "mcv",
                              "default")
    tier, after, below, pattern, status1, status2, limit = sample.values
    assert tier == "free"  # the skewed column's most common value
    assert {status1, status2} == {"shipped", "pending"}  # distinct values for an IN list
    assert limit == "10"
    assert pattern is not None and pattern.startswith("user") and pattern.endswith("%")
    # Range bounds keep the predicate selective: `> $2` high, `< $3` low.
    row = conn.execute(
        "SELECT avg((created_at > %s::timestamptz)::int), avg((total < %s::numeric)::int) "
        "FROM orders", [after, below]).fetchone()
    assert row is not None and 0 < row[0] < 0.2 and 0 < row[1] < 0.2
    assert sample.types[:2] == ("text", "timestamp with time zone")
    # The values measure: the statement runs with them.
    plan = plan_of(explain_analyze(conn, query, sample.values))
    assert plan.analyzed
    assert_clean(conn)


def test_sample_parameters_for_an_array_parameter(conn: db.Connection) -> None:
    query = "SELECT count(*) FROM orders WHERE status = ANY($1)"
    sample = sample_parameters(conn, query, [Param(1, col(ORDERS, "status"), "in", None)])
    assert sample == ParameterSet(('{"shipped"}',), ("mcv",), ("text[]",))
    assert plan_of(explain_analyze(conn, query, sample.values)).actual_rows == 1


def test_sample_parameters_prefers_the_log(conn: db.Connection) -> None:
    query = "SELECT * FROM orders WHERE customer_id = $1 AND status = $2"
    params = [Param(1, col(ORDERS, "customer_id"), "eq", "integer"),
              Param(2, col(ORDERS, "status"), "eq", "text")]
    known = [("7", None), ("1",), ("42", "pending"), ("43", "shipped")]
    assert sample_parameters(conn, query, params, known) == ParameterSet(
        ("42", "pending"), ("log", "log"), ("integer", "text"))
    # No complete execution in the log: statistics. customer_id is uniform, so
    # whether ANALYZE's sample finds common values in it is chance.
    sample = sample_parameters(conn, query, params, [("7", None)])
    assert isinstance(sample, ParameterSet)
    assert sample.origins[0] in ("mcv", "histogram") and sample.origins[1] == "mcv"
    assert sample.values[1] == "shipped"


def test_sample_parameters_without_statistics(conn: db.Connection) -> None:
    # events is never analyzed: a sampled row; $2 has no column: its type's default.
    query = ("SELECT * FROM events WHERE kind = $1 AND id > $2 AND $3::uuid IS NOT NULL "
             "AND $4::date < now()")
    sample = sample_parameters(conn, query, [Param(1, col(("public", "events"), "kind"),
                                                   "eq", "text")])
    assert isinstance(sample, ParameterSet)
    assert sample.origins == ("sample", "default", "default", "default")
    assert sample.values[0] is not None and sample.values[0].startswith("kind-")
    assert sample.values[1:] == ("0", "00000000-0000-0000-0000-000000000000", "now")
    plan_of(explain_analyze(conn, query, sample.values))
    assert_clean(conn)


def test_sample_parameters_for_a_statement_that_cannot_be_prepared(
    conn: db.Connection,
) -> None:
    assert no_plan(sample_parameters(conn, "SELECT * FROM nope WHERE a = $1")).sqlstate == "42P01"


# -- measured plans -------------------------------------------------------------------


def test_explain_analyze_gives_actual_rows_and_times(conn: db.Connection) -> None:
    query = "SELECT * FROM orders WHERE customer_id = $1 AND status = $2"
    plan = plan_of(explain_analyze(conn, query, ["7", "shipped"]))
    assert plan.analyzed
    assert plan.actual_rows == 12  # customer 7 has 12 orders, all shipped
    assert plan.execution_ms is not None and plan.execution_ms > 0
    assert plan.planning_ms is not None and plan.actual_total_ms is not None
    assert plan.root.shared_hit is not None
    assert "public.orders_customer_id_idx" in plan.indexes_used()
    unbuffered = plan_of(explain_analyze(conn, query, ["7", "shipped"], buffers=False))
    assert unbuffered.root.shared_hit is None
    # Values are data: a quote in one cannot end the literal.
    quoted = plan_of(explain_analyze(conn, query, ["7", "x'); DROP TABLE orders; --"]))
    assert quoted.actual_rows == 0
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (60000,)
    assert_clean(conn)


def test_explain_analyze_wrong_number_of_values(conn: db.Connection) -> None:
    result = no_plan(explain_analyze(conn, "SELECT * FROM orders WHERE id = $1", []))
    assert "1 parameter(s) but 0 value(s)" in result.reason


def test_sort_that_spills_with_little_work_mem(conn: db.Connection) -> None:
    query = "SELECT id, note FROM orders WHERE customer_id < $1 ORDER BY note"
    work_mem = conn.execute("SHOW work_mem").fetchone()
    [in_memory] = plan_of(explain_analyze(conn, query, ["500"])).sorts()
    assert not in_memory.spilled and in_memory.sort_space_type == "Memory"
    plan = plan_of(explain_analyze(conn, query, ["500"], settings={"work_mem": "64kB"}))
    [sort] = plan.sorts()
    assert sort.spilled
    assert sort.sort_method == "external merge" and sort.sort_space_type == "Disk"
    assert sort.sort_key == ("orders.note",)
    # SET LOCAL: the setting ended with the rolled-back transaction.
    assert conn.execute("SHOW work_mem").fetchone() == work_mem


def test_estimate_error_on_correlated_columns(conn: db.Connection) -> None:
    # city follows from country; the planner multiplies their selectivities.
    query = "SELECT * FROM customers WHERE country = $1 AND city = $2"
    plan = plan_of(explain_analyze(conn, query, ["c7", "city-7"]))
    [error] = plan.estimate_errors()
    assert error.node.relation == "public.customers"
    assert error.actual == 100 and error.direction == "under" and error.factor >= 10
    single = plan_of(explain_analyze(conn, "SELECT * FROM customers WHERE country = $1",
                                     ["c7"]))
    assert single.estimate_errors() == ()


def test_writes_are_refused_unless_allowed_and_then_rolled_back(conn: db.Connection) -> None:
    query = "UPDATE orders SET status = $1 WHERE customer_id = $2"
    refused = no_plan(explain_analyze(conn, query, ["cancelled", "7"]))
    assert "changes data (UPDATE)" in refused.reason and "allow_writes" in refused.reason
    cte = "WITH d AS (DELETE FROM orders WHERE id = $1 RETURNING id) SELECT count(*) FROM d"
    assert "data-modifying WITH" in no_plan(explain_analyze(conn, cte, ["1"])).reason

    before = conn.execute("SELECT status, count(*) FROM orders WHERE customer_id = 7 "
                          "GROUP BY 1 ORDER BY 1").fetchall()
    plan = plan_of(explain_analyze(conn, query, ["cancelled", "7"], allow_writes=True))
    assert plan.root.node_type == "ModifyTable" and plan.root.operation == "Update"
    assert plan.root.relation == "public.orders"
    assert plan.root.children[0].actual_rows == 12
    after = conn.execute("SELECT status, count(*) FROM orders WHERE customer_id = 7 "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert after == before
    # A generic plan of a write runs nothing, so it needs no permission.
    assert plan_of(generic_plan(conn, query)).root.operation == "Update"
    assert_clean(conn)


# -- statements as pg_stat_statements keeps them ------------------------------------
# pg_stat_statements writes INTERVAL '7 days' as INTERVAL $1, which the server does
# not parse; plans.py repairs the text (workload/repair.py) before it plans it.

DEMO_SCHEMA = Path(app.__file__).with_name("schema.sql").read_text()

# Deterministic rows for the demo schema; behaviour events over the last ten weeks,
# so that "the last 7 days" holds some.
DEMO_ROWS = """
INSERT INTO "User" (id, email, name, role, "createdAt")
SELECT md5('user' || g)::uuid, 'user' || g || '@example.com',
       jsonb_build_object('first', 'U' || g),
       CASE WHEN g % 10 = 0 THEN 'teacher' ELSE 'student' END,
       timestamp '2024-01-01' + g * interval '1 hour'
FROM generate_series(1, 500) AS g;
INSERT INTO "Course" (id, title, category, "authorId", "isPublished")
SELECT md5('course' || g)::uuid, 'Course ' || g, 'cat' || g % 5,
       md5('user' || g * 10)::uuid, g % 3 > 0
FROM generate_series(1, 20) AS g;
INSERT INTO "Lesson" (id, "courseId", title, position, "durationSec")
SELECT md5('lesson' || g)::uuid, md5('course' || g % 20 + 1)::uuid, 'Lesson ' || g,
       g % 10, 60 + g % 600
FROM generate_series(1, 200) AS g;
INSERT INTO "Enrollment" (id, "userId", "courseId", progress, status, "enrolledAt")
SELECT md5('enrollment' || g)::uuid, md5('user' || g % 500 + 1)::uuid,
       md5('course' || g % 20 + 1)::uuid, g % 101,
       CASE WHEN g % 4 = 0 THEN 'completed' ELSE 'active' END,
       localtimestamp - g * interval '3 hours'
FROM generate_series(1, 1000) AS g;
INSERT INTO "BehaviorLog" ("userId", "eventType", metadata, "timestamp")
SELECT md5('user' || g % 500 + 1)::uuid, (ARRAY['login', 'view', 'quiz', 'logout'])[g % 4 + 1],
       jsonb_build_object('k', g % 3), localtimestamp - g * interval '5 minutes'
FROM generate_series(1, 20000) AS g;
ANALYZE;
"""

USER_1 = "SELECT md5('user1')::uuid::text"


@dataclass(frozen=True)
class Normalised:
    """A statement the application runs, with constants that pg_stat_statements hides."""

    name: str
    statement: str
    # The constants as values for the $n of pg_stat_statements' text, in its order
    # (INTERVAL '1' DAY is $1::INTERVAL DAY with '1 day': the value is read as an
    # interval before DAY limits it). None: the statement writes, or PostgreSQL 18
    # squashes a list in it, so there is no one-to-one comparison.
    values: tuple[str, ...] | None


NORMALISED = [
    Normalised(
        "weekly_active_users",
        'SELECT u.id, count(b.id) FROM "User" u LEFT JOIN "BehaviorLog" b '
        'ON b."userId" = u.id WHERE b."timestamp" > NOW() - INTERVAL \'7 days\' '
        "GROUP BY u.id HAVING count(b.id) > 50",
        ("7 days", "50")),
    Normalised(
        "interval_and_in_list",
        'SELECT count(*) FROM "BehaviorLog" WHERE "timestamp" > now() - interval \'30 days\' '
        "AND \"eventType\" IN ('login', 'view')",
        None),
    Normalised(
        "events_per_day",
        'SELECT date_trunc(\'day\', "timestamp") AS day, count(*) FROM "BehaviorLog" '
        "WHERE \"timestamp\" > NOW() - INTERVAL '7 days' GROUP BY 1 ORDER BY 1",
        ("day", "7 days")),
    Normalised(
        "events_per_day_in_a_time_zone",
        'SELECT date_trunc(\'day\', "timestamp"::timestamptz, \'Europe/Paris\'), count(*) '
        'FROM "BehaviorLog" GROUP BY 1',
        ("day", "Europe/Paris")),
    Normalised(
        "extract_and_date",
        'SELECT EXTRACT(HOUR FROM "timestamp") AS hour, count(*) FROM "BehaviorLog" '
        "WHERE \"timestamp\" >= DATE '2024-01-01' GROUP BY 1 ORDER BY 1",
        ("hour", "2024-01-01")),
    Normalised(
        "extract_of_an_interval",
        "SELECT count(*) FROM \"Lesson\" WHERE \"durationSec\" > "
        "EXTRACT(EPOCH FROM INTERVAL '5 minutes')",
        ("epoch", "5 minutes")),
    Normalised(
        "timestamps_between_with_paging",
        'SELECT id FROM "User" WHERE "createdAt" BETWEEN TIMESTAMP \'2024-01-02 00:00\' '
        "AND TIMESTAMP '2024-01-05 00:00' ORDER BY \"createdAt\" LIMIT 20 OFFSET 10",
        ("2024-01-02 00:00", "2024-01-05 00:00", "20", "10")),
    Normalised(
        "age_of_a_column_against_an_interval",
        'SELECT id FROM "Enrollment" WHERE now() - "enrolledAt" > INTERVAL \'30 days\' '
        "AND status = 'active'",
        ("30 days", "active")),
    Normalised(
        "at_time_zone_and_uuid",
        'SELECT "timestamp" AT TIME ZONE \'UTC\' FROM "BehaviorLog" '
        "WHERE \"userId\" = uuid 'USER_1' ORDER BY 1 LIMIT 5",
        ("UTC", "USER_1", "5")),
    Normalised(
        "timestamp_with_time_zone",
        'SELECT count(*) FROM "BehaviorLog" '
        "WHERE \"timestamp\" > TIMESTAMP WITH TIME ZONE '2024-03-01 00:00+00'",
        ("2024-03-01 00:00+00",)),
    Normalised(
        "time_and_jsonb",
        'SELECT count(*) FROM "BehaviorLog" WHERE "timestamp"::time > TIME \'12:00\' '
        "AND metadata @> jsonb '{\"k\": 1}'",
        ("12:00", '{"k": 1}')),
    Normalised(
        "interval_day",
        'SELECT count(*) FROM "BehaviorLog" WHERE "timestamp" > now() - INTERVAL \'1\' DAY',
        ("1 day",)),
    Normalised(
        "interval_hour_to_minute",
        'SELECT count(*) FROM "BehaviorLog" '
        "WHERE \"timestamp\" > now() - INTERVAL '1:30' HOUR TO MINUTE",
        ("1:30",)),
    Normalised(
        "number_times_interval",
        'SELECT count(*) FROM "BehaviorLog" WHERE "timestamp" > now() - 7 * INTERVAL \'1 day\'',
        ("7", "1 day")),
    Normalised(
        "glued_interval",
        'SELECT "timestamp" FROM "BehaviorLog" WHERE "timestamp" > now()-interval\'7 days\' '
        "ORDER BY 1 DESC LIMIT 10",
        ("7 days", "10")),
    Normalised(
        "glued_time_zone",
        'SELECT "timestamp" AT TIME ZONE\'UTC\' FROM "BehaviorLog" ORDER BY 1 DESC LIMIT 3',
        ("UTC", "3")),
    Normalised(
        "dates_in_a_list",
        'SELECT count(*) FROM "BehaviorLog" '
        "WHERE \"timestamp\"::date IN (DATE '2024-01-01', DATE '2024-01-02')",
        None),
    Normalised(
        "numbers_and_boolean",
        "SELECT count(*) FROM \"Enrollment\" WHERE progress > NUMERIC '50.5' "
        "OR progress = INT '7' OR (progress = 0) = BOOLEAN 'true'",
        ("50.5", "7", "0", "true")),
    Normalised(
        "varchar_with_length",
        "SELECT count(*) FROM \"Course\" WHERE title = varchar(20) 'Course 1'",
        ("Course 1",)),
    Normalised(
        "timestamp_with_precision_minus_interval",
        'SELECT count(*) FROM "BehaviorLog" '
        "WHERE \"timestamp\" > TIMESTAMP(3) '2024-01-01' - INTERVAL '7 days'",
        ("2024-01-01", "7 days")),
    Normalised(
        "window_frame",
        'SELECT "timestamp", count(*) OVER (ORDER BY "timestamp" RANGE BETWEEN '
        "INTERVAL '1 day' PRECEDING AND CURRENT ROW) FROM \"BehaviorLog\" "
        'ORDER BY "timestamp" LIMIT 10',
        ("1 day", "10")),
    Normalised(
        "comment_with_constants",
        "SELECT /* older than interval '7 days' */ count(*) FROM \"User\" "
        "WHERE \"createdAt\" < now() - interval '7 days'",
        ("7 days",)),
    Normalised(
        "update_with_interval",
        'UPDATE "Enrollment" SET "enrolledAt" = "enrolledAt" + INTERVAL \'1 hour\' '
        "WHERE status = 'completed' AND progress = 100",
        None),
    Normalised(
        "insert_with_timestamp",
        'INSERT INTO "BehaviorLog" ("userId", "eventType", "timestamp") '
        "VALUES ('USER_1', 'login', TIMESTAMP '2024-01-01 10:00')",
        None),
]


def _statements_table(pg_db: TestDatabase) -> dict[str, str]:
    """Runs each statement and reads back the text pg_stat_statements keeps for it."""
    texts: dict[str, str] = {}
    with pg_db.connect() as app_conn:
        app_conn.execute(DEMO_SCHEMA)
        app_conn.execute(DEMO_ROWS)
        user_1 = app_conn.execute(USER_1).fetchone()
        assert user_1 is not None
        for case in NORMALISED:
            # One at a time, from a reset: the first text of a query id is the one
            # kept, and some of these share one.
            app_conn.execute("SELECT pg_stat_statements_reset()")
            app_conn.execute(case.statement.replace("USER_1", str(user_1[0])), prepare=False)
            rows = app_conn.execute(
                "SELECT query FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND toplevel AND query !~ 'pg_stat_statements'").fetchall()
            assert len(rows) == 1, (case.name, rows)
            texts[case.name] = str(rows[0][0])
    return texts


def test_every_statement_pg_stat_statements_keeps_plans(pg_db: TestDatabase) -> None:
    texts = _statements_table(pg_db)
    # The forms are the servers': both write INTERVAL $1; 18 squashes lists.
    assert "NOW() - INTERVAL $1 GROUP BY" in texts["weekly_active_users"]
    assert "now()-interval$1" in texts["glued_interval"]
    assert "AT TIME ZONE$1" in texts["glued_time_zone"]
    assert "EXTRACT($1 FROM" in texts["extract_and_date"]
    squashed = "IN ($2 /*, ... */)" if pg_db.major >= 18 else "IN ($2, $3)"
    assert squashed in texts["interval_and_in_list"]
    assert sum(repair(t) != t for t in texts.values()) >= 18

    failures: list[str] = []
    with db.connect(pg_db.conninfo, load_config()) as conn:
        catalog = load_catalog(conn)
        for name, text in texts.items():
            generic = generic_plan(conn, text)
            sample = sample_parameters(conn, text, analyze(text, catalog).params)
            if isinstance(generic, NoPlan) or isinstance(sample, NoPlan):
                failures.append(f"{name}: {text}\n  {generic} / {sample}")
                continue
            measured = explain_analyze(conn, text, sample.values, allow_writes=True)
            if isinstance(measured, NoPlan):
                failures.append(f"{name}: {text}\n  values {sample.values}: {measured}")
        assert_clean(conn)
    assert not failures, "\n".join(failures)


def test_repaired_statements_return_what_the_originals_return(pg_db: TestDatabase) -> None:
    """Run with the constants pg_stat_statements took out, the repaired text gives
    the rows the statement gave (in one transaction, so now() is the same)."""
    texts = _statements_table(pg_db)
    compared = 0
    with pg_db.connect() as conn:
        user_1 = conn.execute(USER_1).fetchone()
        assert user_1 is not None
        for case in NORMALISED:
            values = case.values
            repaired = repair(texts[case.name])
            if values is None or not case.statement.startswith("SELECT"):
                continue
            params = {t for t in pglast.parser.scan(repaired) if t.name == "PARAM"}
            assert len(params) == len(values), (case.name, repaired)
            values = tuple(v.replace("USER_1", str(user_1[0])) for v in values)
            with conn.transaction(force_rollback=True):
                original = conn.execute(
                    case.statement.replace("USER_1", str(user_1[0]))).fetchall()
                conn.execute(sql.SQL("PREPARE repaired AS {}").format(sql.SQL(repaired)))
                got = conn.execute(sql.SQL("EXECUTE repaired ({})").format(
                    sql.SQL(", ").join(sql.Literal(v) for v in values))).fetchall()
                conn.execute("DEALLOCATE repaired")
            assert sorted(map(repr, got)) == sorted(map(repr, original)), case.name
            compared += 1
    assert compared >= 15


def test_sample_parameters_for_intervals_units_and_zones(conn: db.Connection) -> None:
    query = ("SELECT date_trunc($1, created_at), count(*) FROM orders "
             "WHERE created_at > now() - INTERVAL $2 AND created_at AT TIME ZONE $3 < now() "
             "AND EXTRACT($4 FROM created_at) > $5 AND now() - created_at < $6::interval "
             "GROUP BY 1")
    # As analysis binds them: $5 and $6 are compared with expressions on
    # created_at, whose timestamps neither a number nor an interval accepts.
    params = [Param(5, col(ORDERS, "created_at"), "range", None),
              Param(6, col(ORDERS, "created_at"), "range", "interval")]
    sample = sample_parameters(conn, query, params)
    assert sample == ParameterSet(
        ("day", "7 days", "UTC", "epoch", "0", "7 days"), ("default",) * 6,
        ("text", "interval", "text", "text", "numeric", "interval"))
    assert plan_of(explain_analyze(conn, query, sample.values)).analyzed
    assert_clean(conn)


def test_a_typed_literal_from_pg_stat_statements_plans(conn: db.Connection) -> None:
    query = "SELECT count(*) FROM orders WHERE created_at > TIMESTAMPTZ $1 - INTERVAL $2"
    assert parameter_types(conn, query) == ["timestamp with time zone", "interval"]
    assert plan_of(generic_plan(conn, query)).indexes_used() == (
        "public.orders_created_at_idx",)
    params = [Param(1, col(ORDERS, "created_at"), "range", "timestamp with time zone")]
    sample = sample_parameters(conn, query, params)
    assert isinstance(sample, ParameterSet)
    assert sample.origins == ("histogram", "default") and sample.values[1] == "7 days"
    assert plan_of(explain_analyze(conn, query, sample.values)).analyzed
    assert_clean(conn)


# -- reading plans: EXPLAIN JSON captured from real servers -----------------------------

CAPTURED = sorted(FIXTURES.glob("*.json"))


def golden_text(plan: Plan) -> str:
    """What a golden file holds: the outline and every reading helper's answer."""
    errors = [(e.node.node_type, e.estimated, e.actual, e.direction)
              for e in plan.estimate_errors()]
    lines = [
        plan.outline(),
        "",
        f"analyzed: {plan.analyzed}",
        f"planning_ms: {plan.planning_ms}  execution_ms: {plan.execution_ms}",
        f"seq scans: {[(n.relation, n.filter) for n in plan.seq_scans()]}",
        f"sorts: {[(n.sort_method, n.sort_space_type, n.spilled) for n in plan.sorts()]}",
        f"indexes used: {list(plan.indexes_used())}",
        f"estimate errors: {errors}",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", CAPTURED, ids=[p.stem for p in CAPTURED])
def test_golden_plans(path: Path) -> None:
    text = golden_text(parse_plan(path.read_text()))
    expected = path.with_suffix(".expected")
    if not expected.exists():
        expected.write_text(text)
        pytest.fail(f"wrote {expected.name}: review it and commit it")
    assert text == expected.read_text()


def captured(name: str) -> list[Plan]:
    return [parse_plan(p.read_text()) for p in sorted(FIXTURES.glob(f"{name}.pg*.json"))]


def test_captured_fixtures_cover_both_servers() -> None:
    assert {p.name.split(".")[1] for p in CAPTURED} == {"pg15", "pg18"}
    assert len(CAPTURED) % 2 == 0


def test_parse_captured_spill_and_estimate_error() -> None:
    for plan in captured("sort_spill"):
        [sort] = plan.sorts()
        assert sort.spilled and sort.sort_space_kb and sort.children[0].index_cond
    for plan in captured("correlated"):
        [error] = plan.estimate_errors()
        assert (error.estimated, error.actual) == (2, 100)


def test_parse_captured_estimates_compare_per_loop() -> None:
    # The inner scan runs once per customer: 12 rows a loop, as estimated, so it
    # is no error even though it returns 1,200 rows in all; the outer scan is.
    for plan in captured("correlated_join"):
        inner = plan.root.children[1]
        assert inner.loops == 100 and inner.actual_rows == 12 and inner.plan_rows == 12
        flagged = {e.node.node_type: e for e in plan.estimate_errors()}
        assert set(flagged) == {"Nested Loop", "Seq Scan"}
        assert flagged["Seq Scan"].node.relation == "public.customers"


def test_parse_captured_limit_is_no_estimate_error() -> None:
    # The index scan under LIMIT 10 stops after 10 of ~160 estimated rows: by design.
    for plan in captured("range_limit"):
        scan = plan.root.children[0]
        assert scan.node_type == "Index Scan" and scan.actual_rows == 10 and scan.plan_rows > 100
        assert plan.estimate_errors() == ()


def test_parse_captured_join() -> None:
    for plan in captured("join_group"):
        join = plan.root.children[0]
        assert join.node_type == "Hash Join" and join.join_type == "Inner"
        assert join.join_cond == "(o.customer_id = c.id)"
        assert [n.alias for n in plan.seq_scans()] == ["o", "c"]


def test_parse_plan_rejects_other_json() -> None:
    with pytest.raises(ValueError, match="no 'Plan' key"):
        parse_plan('{"rows": []}')


def test_a_statement_that_advances_a_sequence_is_a_write(conn: db.Connection) -> None:
    """nextval() is not rolled back: measured only with allow_writes, never by default."""
    conn.execute("CREATE SEQUENCE pgarchitect_test_seq")
    before = conn.execute("SELECT last_value, is_called FROM pgarchitect_test_seq").fetchone()
    for query in ("SELECT nextval('pgarchitect_test_seq')",
                  "SELECT pg_catalog.setval('pgarchitect_test_seq', 500)",
                  "WITH n AS (SELECT nextval('pgarchitect_test_seq') AS v) SELECT v FROM n"):
        reason = no_plan(explain_analyze(conn, query)).reason
        assert reason.startswith("Not measured: the statement changes data (it calls "), reason
        assert "allow_writes" in reason
    after = conn.execute("SELECT last_value, is_called FROM pgarchitect_test_seq").fetchone()
    assert after == before
    assert plan_of(generic_plan(conn, "SELECT nextval('pgarchitect_test_seq')"))  # plans: fine


def test_a_long_tail_is_measured_beyond_its_heaviest_value(conn: db.Connection) -> None:
    """A few heavy users hold a fifth of the rows, most users a handful: the first set
    takes the heaviest, the others users of the tail, as most calls are for them."""
    conn.execute("""
        CREATE TABLE attempts (user_id int NOT NULL, score int NOT NULL);
        INSERT INTO attempts SELECT (i % 5) + 1, i FROM generate_series(1, 20000) i;
        INSERT INTO attempts SELECT 100 + i % 8000, i FROM generate_series(1, 80000) i;
        ANALYZE attempts;
    """)
    query = "SELECT count(*) FROM attempts WHERE user_id = $1"
    params = [Param(1, ColumnRef("public", "attempts", "user_id"), "eq", "integer")]
    sets = sample_parameter_sets(conn, query, params, count=3)
    assert isinstance(sets, list)
    assert [s.origins for s in sets] == [("mcv",), ("histogram",), ("histogram",)]
    heaviest, *tail = (int(s.values[0] or 0) for s in sets)
    assert 1 <= heaviest <= 5 and all(v >= 100 for v in tail)


def test_values_that_hold_most_rows_are_measured_in_turn(conn: db.Connection) -> None:
    conn.execute("""
        CREATE TABLE tickets (status text NOT NULL);
        INSERT INTO tickets SELECT (ARRAY['open', 'closed', 'closed', 'pending'])[i % 4 + 1]
          FROM generate_series(1, 20000) i;
        ANALYZE tickets;
    """)
    params = [Param(1, ColumnRef("public", "tickets", "status"), "eq", "text")]
    sets = sample_parameter_sets(conn, "SELECT count(*) FROM tickets WHERE status = $1",
                                 params, count=3)
    assert isinstance(sets, list)
    assert [s.values[0] for s in sets] == ["closed", "open", "pending"]
    assert {s.origins for s in sets} == {("mcv",)}


def test_a_span_of_make_interval_gets_one_an_application_would_ask_for(
        conn: db.Connection) -> None:
    """pg_stat_statements keeps ``make_interval(days => $1)``, not the 7 the application
    passed: 0 days would select nothing and measure nothing."""
    query = ("SELECT date_trunc($2, created_at), count(*) FROM orders "
             "WHERE created_at > now() - make_interval(days => $1) "
             "AND created_at < now() - make_interval(0, 0, 0, 0, $3) GROUP BY 1")
    sample = sample_parameters(conn, query)
    assert isinstance(sample, ParameterSet)
    assert sample.values == ("7", "day", "24")
