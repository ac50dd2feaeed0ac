"""The demo data: generated deterministically, loaded completely, shaped as intended."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from support.servers import TestDatabase

from pgarchitect.demo import data
from pgarchitect.demo.data import TABLES, Scale
from pgarchitect.errors import DemoError

ANCHOR = datetime(2025, 6, 1, 12, 0, 0)

# The only indexes the hurried team has: everything else is for pgarchitect to find.
EXPECTED_INDEXES = {
    ("BehaviorLog", "BehaviorLog_pkey"), ("BehaviorLog", "BehaviorLog_timestamp_idx"),
    ("BehaviorLog", "BehaviorLog_userId_idx"), ("Course", "Course_pkey"),
    ("Enrollment", "Enrollment_pkey"), ("Lesson", "Lesson_pkey"),
    ("QuizAttempt", "QuizAttempt_pkey"), ("User", "User_email_key"), ("User", "User_email_idx"),
    ("User", "User_pkey"),
}
INDEXES = """
SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'"""
FOREIGN_KEYS = """
SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"""
TIME_ORDER_VIOLATIONS = """
SELECT
  (SELECT count(*) FROM "Enrollment" e JOIN "User" u ON u.id = e."userId"
     JOIN "Course" c ON c.id = e."courseId"
   WHERE e."enrolledAt" < u."createdAt" OR e."enrolledAt" < c."createdAt"),
  (SELECT count(*) FROM "QuizAttempt" q JOIN "Lesson" l ON l.id = q."lessonId"
     JOIN "Enrollment" e ON e."userId" = q."userId" AND e."courseId" = l."courseId"
   WHERE q."attemptedAt" < e."enrolledAt")"""
CHECKSUM = """
SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {} t"""


def _one(conn: psycopg.Connection[Any], query: Any, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def _checksums(conninfo: str) -> dict[str, tuple[int, str]]:
    with psycopg.connect(conninfo) as conn:
        return {t: _one(conn, sql.SQL(CHECKSUM).format(sql.Identifier(t))) for t in TABLES}


def test_load_creates_the_schema_and_all_rows(pg_db: TestDatabase) -> None:
    scale = Scale.small()
    seen: dict[str, tuple[int, int]] = {}
    loaded = data.load(pg_db.conninfo, scale, ANCHOR,
                       progress=lambda label, done, total: seen.__setitem__(label, (done, total)))
    assert loaded == scale.rows()
    with psycopg.connect(pg_db.conninfo) as conn:
        for table, rows in scale.rows().items():
            assert _one(conn, sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(table))) == rows
        assert set(conn.execute(INDEXES).fetchall()) == EXPECTED_INDEXES
        assert len(conn.execute(FOREIGN_KEYS).fetchall()) == 7
        # ANALYZE ran: the planner has column statistics for every table.
        analyzed = conn.execute("SELECT DISTINCT tablename FROM pg_stats "
                                "WHERE schemaname = 'public'").fetchall()
        assert {t for t, in analyzed} == set(TABLES)
        # New events get ids after the loaded ones.
        assert _one(conn, "SELECT nextval(pg_get_serial_sequence('\"BehaviorLog\"', 'id'))") == (
            scale.behavior_logs + 1)
    for table, rows in scale.rows().items():
        assert seen[table] == (rows, rows)
    assert seen["analyze"][0] == seen["analyze"][1]


def test_digest_is_deterministic() -> None:
    scale = Scale.small()
    first = data.digest(scale, ANCHOR)
    assert data.digest(scale, ANCHOR) == first
    assert data.digest(Scale.small(seed=43), ANCHOR) != first
    assert data.digest(scale, ANCHOR + timedelta(days=1)) != first


def test_two_loads_give_equal_tables(db18: TestDatabase) -> None:
    data.load(db18.conninfo, Scale.small(), ANCHOR)
    with psycopg.connect(db18.conninfo, autocommit=True) as admin:
        name = f"{_one(admin, 'SELECT current_database()')}_twin"
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        twin = psycopg.conninfo.make_conninfo(db18.conninfo, dbname=name)
        data.load(twin, Scale.small(), ANCHOR)
        assert _checksums(twin) == _checksums(db18.conninfo)
        data.load(twin, Scale.small(seed=43), ANCHOR, replace=True)
        other = _checksums(twin)
        assert all(other[t] != c for t, c in _checksums(db18.conninfo).items())
    finally:
        with psycopg.connect(db18.conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_data_is_skewed_and_inside_the_window(db18: TestDatabase) -> None:
    scale = Scale.small()
    data.load(db18.conninfo, scale, ANCHOR)
    with psycopg.connect(db18.conninfo) as conn:
        logs = conn.execute('SELECT id, "userId", "eventType", "timestamp" FROM "BehaviorLog" '
                            "ORDER BY id").fetchall()
        users = conn.execute('SELECT email, name, role FROM "User"').fetchall()
        # Time runs forward: sign-up and course before enrolment, enrolment before quiz.
        assert conn.execute(TIME_ORDER_VIOLATIONS).fetchone() == (0, 0)
    per_user = sorted(Counter(r[1] for r in logs).values(), reverse=True)
    # The top 1% of users make more than a third of the events.
    assert sum(per_user[: scale.users // 100]) > len(logs) / 3
    stamps = [r[3] for r in logs]
    assert stamps == sorted(stamps)  # ids follow the clock
    assert ANCHOR - timedelta(days=scale.days) <= stamps[0] and stamps[-1] <= ANCHOR
    # The platform grows: the last month is busier than the first.
    first = sum(s < stamps[0] + timedelta(days=30) for s in stamps)
    last = sum(s > ANCHOR - timedelta(days=30) for s in stamps)
    assert last > 1.3 * first
    kinds = Counter(r[2] for r in logs).most_common()
    assert kinds[0][0] == "page_view" and {k for k, _ in kinds} == set(data.EVENT_TYPES)
    emails = [u[0] for u in users]
    assert len({e.lower() for e in emails}) == len(emails)
    assert any(e != e.lower() for e in emails)  # some were typed capitalised
    assert all(set(u[1]) == {"vi", "en", "zh"} for u in users)
    assert {u[2] for u in users} == set(data.ROLES)


def test_load_refuses_to_overwrite_unless_asked(db18: TestDatabase) -> None:
    tiny = Scale(users=50, behavior_logs=500, courses=10, lessons_per_course=2,
                 enrollments=40, quiz_attempts=40)
    data.load(db18.conninfo, tiny, ANCHOR)
    with pytest.raises(DemoError, match="already exist"):
        data.load(db18.conninfo, tiny, ANCHOR)
    assert data.load(db18.conninfo, tiny, ANCHOR, replace=True) == tiny.rows()


def test_scale_rejects_impossible_sizes() -> None:
    with pytest.raises(DemoError, match="enrollments"):
        Scale(users=10, courses=10, enrollments=1_000)
    with pytest.raises(DemoError, match="users"):
        Scale(users=0)


def test_schema_files_ship_and_agree() -> None:
    schema, prisma = data.schema_sql(), data.prisma_schema()
    create, after = data.schema_statements()
    assert len(create) == len(TABLES) and len(after) == 4 + 7
    for table, columns in data.COLUMNS.items():
        assert f'CREATE TABLE "{table}"' in schema
        model = re.search(rf"model {table} {{(.*?)\n}}", prisma, re.S)
        assert model is not None, table
        fields = {line.split()[0] for line in model.group(1).splitlines()
                  if line.strip() and not line.strip().startswith(("//", "@@"))}
        assert set(columns) <= fields, (table, set(columns) - fields)
