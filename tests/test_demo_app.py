"""The demo platform's data layer and traffic, on the small demo data.

Each call's result is checked against a count made independently, in Python
over the raw rows, not with the statement under test.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from support.servers import TestDatabase

from pgarchitect.demo import app, data, traffic
from pgarchitect.demo.app import Event, LearningPlatform
from pgarchitect.demo.data import Scale
from pgarchitect.errors import DemoError


@pytest.fixture
def loaded(db18: TestDatabase) -> str:
    """A database with the small demo data, ending at the server's current time."""
    data.load(db18.conninfo, Scale.small())
    return db18.conninfo


@pytest.fixture
def platform(loaded: str) -> Iterator[LearningPlatform]:
    with LearningPlatform.connect(loaded) as platform:
        yield platform


@pytest.fixture
def in_transaction(loaded: str) -> Iterator[LearningPlatform]:
    """A platform inside one transaction: NOW() stays put while results are compared."""
    with psycopg.connect(loaded) as conn:
        yield LearningPlatform(conn)


def _rows(platform: LearningPlatform, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
    return list(platform.conn.execute(query, params).fetchall())


def _heaviest_user(platform: LearningPlatform) -> UUID:
    counts = Counter(r[0] for r in _rows(platform, 'SELECT "userId" FROM "BehaviorLog"'))
    user: UUID = counts.most_common(1)[0][0]
    return user


def _server_text(query: str) -> str:
    """The statement as psycopg sends it and pg_stat_statements shows it."""
    n = itertools.count(1)
    return re.sub(r"%([s%])", lambda m: f"${next(n)}" if m.group(1) == "s" else "%", query)


def test_user_lookups(platform: LearningPlatform) -> None:
    users = _rows(platform, 'SELECT id, email FROM "User"')
    uid, email = next((u, e) for u, e in users if e != e.lower())
    user = platform.user_by_id(uid)
    assert user is not None and user.email == email and set(user.name) == {"vi", "en", "zh"}
    for typed in (email, email.lower(), email.upper()):
        found = platform.user_by_email(typed)
        assert found is not None and found.id == uid
    assert platform.user_by_email("nobody@example.com") is None
    assert platform.user_by_id(uuid4()) is None
    assert platform.user_by_id(str(uid)) == user


def test_recent_activity_is_the_newest_events(platform: LearningPlatform) -> None:
    heavy = _heaviest_user(platform)
    events = _rows(platform, 'SELECT "userId", "timestamp" FROM "BehaviorLog"')
    newest = sorted((ts for u, ts in events if u == heavy), reverse=True)
    got = platform.recent_activity(heavy)
    assert [a.timestamp for a in got] == newest[:20]
    assert all(a.event_type in data.EVENT_TYPES and a.metadata for a in got)
    assert len(platform.recent_activity(heavy, limit=5)) == 5
    assert platform.recent_activity(uuid4()) == []


def test_user_events_of_type(platform: LearningPlatform) -> None:
    heavy = _heaviest_user(platform)
    events = _rows(platform, 'SELECT "userId", "eventType", "timestamp" FROM "BehaviorLog"')
    since = max(ts for _, _, ts in events) - timedelta(days=60)
    expected = sorted((ts for u, kind, ts in events
                       if u == heavy and kind == "video_play" and ts >= since), reverse=True)
    assert len(expected) > 3
    got = platform.user_events_of_type(heavy, "video_play", since, limit=10_000)
    assert [a.timestamp for a in got] == expected
    assert {a.event_type for a in got} == {"video_play"}
    assert len(platform.user_events_of_type(heavy, "video_play", since, limit=3)) == 3


def test_weekly_active_users_matches_an_independent_count(
    in_transaction: LearningPlatform,
) -> None:
    # LOCALTIMESTAMP is NOW() in the session's time zone, as the comparison uses it.
    now = _rows(in_transaction, "SELECT LOCALTIMESTAMP")[0][0]

    def weekly_counts() -> Counter[UUID]:
        rows = _rows(in_transaction, 'SELECT "userId", "timestamp" FROM "BehaviorLog"')
        return Counter(u for u, ts in rows if ts > now - timedelta(days=7))

    # Two users quiet this week get exactly 50 and 51 events: only the second counts.
    before = weekly_counts()
    quiet = [u for u, in _rows(in_transaction, 'SELECT id FROM "User" ORDER BY id')
             if u not in before][:2]
    in_transaction.log_events(
        Event(user, "page_view", {"path": "/"}, now - timedelta(days=1))
        for user, n in zip(quiet, (50, 51), strict=True) for _ in range(n)
    )
    expected = {u: n for u, n in weekly_counts().items() if n > 50}
    assert len(expected) > 2, "the small demo data should have some highly active users"
    assert quiet[0] not in expected and expected[quiet[1]] == 51

    got = in_transaction.weekly_active_users()
    assert {a.id: a.events for a in got} == expected
    assert [a.events for a in got] == sorted(expected.values(), reverse=True)
    emails = dict(_rows(in_transaction, 'SELECT id, email FROM "User"'))
    assert all(a.email == emails[a.id] for a in got)


def test_search_courses_matches_inside_titles(platform: LearningPlatform) -> None:
    courses = _rows(platform, 'SELECT id, title, "isPublished" FROM "Course"')
    expected = {c for c, title, published in courses if published and "ython" in title.lower()}
    assert 0 < len(expected) <= 20
    got = platform.search_courses("YTHON")
    assert {c.id for c in got} == expected
    assert platform.search_courses("no such course") == []
    assert len(platform.search_courses("e", limit=7)) == 7


def test_logs_pages_follow_each_other(platform: LearningPlatform) -> None:
    pages = [platform.logs_page(p, per_page=25) for p in (1, 2, 3)]
    entries = [e for page in pages for e in page]
    stamps = sorted((r[0] for r in _rows(platform, 'SELECT "timestamp" FROM "BehaviorLog"')),
                    reverse=True)
    assert [e.timestamp for e in entries] == stamps[:75]
    assert len({e.id for e in entries}) == 75
    assert platform.logs_page(len(stamps) // 25 + 1, per_page=25) == []


def test_course_progress_matches_enrollments(platform: LearningPlatform) -> None:
    by_course: dict[UUID, list[tuple[str, int]]] = defaultdict(list)
    for course, status, progress in _rows(
        platform, 'SELECT "courseId", status, progress FROM "Enrollment"'
    ):
        by_course[course].append((status, progress))
    course, rows = max(by_course.items(), key=lambda item: len(item[1]))
    got = platform.course_progress(course)
    assert got.enrolled == len(rows) > 1
    assert got.completed == sum(s == "completed" for s, _ in rows)
    assert got.dropped == sum(s == "dropped" for s, _ in rows)
    mean = Decimal(sum(p for _, p in rows)) / len(rows)
    assert got.avg_progress == mean.quantize(Decimal("0.1"))
    empty = platform.course_progress(uuid4())
    assert empty.enrolled == 0 and empty.avg_progress is None


def test_event_counts_per_day(in_transaction: LearningPlatform) -> None:
    got = in_transaction.event_counts_per_day(14)
    now = _rows(in_transaction, "SELECT LOCALTIMESTAMP")[0][0]
    events = _rows(in_transaction, 'SELECT "eventType", "timestamp" FROM "BehaviorLog"')
    expected = Counter((ts.replace(hour=0, minute=0, second=0, microsecond=0), kind)
                       for kind, ts in events if ts > now - timedelta(days=14))
    assert {(c.day, c.event_type): c.events for c in got} == expected
    assert len({c.day for c in got}) in (14, 15)


def test_enrollments_and_quiz_stats_of_a_user(platform: LearningPlatform) -> None:
    attempts = _rows(platform, 'SELECT "userId", "lessonId", score FROM "QuizAttempt"')
    user = Counter(u for u, _, _ in attempts).most_common(1)[0][0]
    enrolled = {c: t for u, c, t in _rows(
        platform, 'SELECT e."userId", e."courseId", e."enrolledAt" FROM "Enrollment" e'
    ) if u == user}
    got = platform.enrollments_of_user(user)
    assert {e.course_id for e in got} == set(enrolled)
    assert [e.enrolled_at for e in got] == sorted(enrolled.values(), reverse=True)
    titles = dict(_rows(platform, 'SELECT id, title FROM "Course"'))
    assert all(e.title == titles[e.course_id] for e in got)

    scores: dict[UUID, list[int]] = defaultdict(list)
    for u, lesson, score in attempts:
        if u == user:
            scores[lesson].append(score)
    stats = platform.quiz_stats(user)
    assert {s.lesson_id: (s.attempts, s.best_score) for s in stats} == {
        lesson: (len(v), max(v)) for lesson, v in scores.items()}
    assert [s.attempts for s in stats] == sorted((s.attempts for s in stats), reverse=True)


def test_log_events_inserts_exactly_the_batch(platform: LearningPlatform) -> None:
    (before, last_id), = _rows(platform, 'SELECT count(*), max(id) FROM "BehaviorLog"')
    uid = _rows(platform, 'SELECT id FROM "User" LIMIT 1')[0][0]
    at = datetime(2025, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=7)))
    batch = [Event(uid, "page_view", {"path": f"/courses/{i}"}) for i in range(137)]
    batch.append(Event(str(uid), "login", None, at))
    assert platform.log_events(batch) == 138
    (after,), = _rows(platform, 'SELECT count(*) FROM "BehaviorLog"')
    assert after == before + 138
    new = _rows(platform, 'SELECT "eventType", metadata, "timestamp" FROM "BehaviorLog" '
                'WHERE id > %s ORDER BY id', [last_id])
    assert len(new) == 138 and new[0][1] == {"path": "/courses/0"}
    assert new[-1] == ("login", None, datetime(2025, 1, 1, 7, 0))  # stored in UTC


def test_log_events_is_all_or_nothing(platform: LearningPlatform) -> None:
    (before,), = _rows(platform, 'SELECT count(*) FROM "BehaviorLog"')
    uid = _rows(platform, 'SELECT id FROM "User" LIMIT 1')[0][0]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        platform.log_events([Event(uid, "login"), Event(uuid4(), "login")])
    assert _rows(platform, 'SELECT count(*) FROM "BehaviorLog"')[0][0] == before


def test_every_call_runs_on_each_server(pg_db: TestDatabase) -> None:
    data.load(pg_db.conninfo, Scale.small())
    with LearningPlatform.connect(pg_db.conninfo) as platform:
        uid, email = _rows(platform, 'SELECT id, email FROM "User" LIMIT 1')[0]
        course = _rows(platform, 'SELECT "courseId" FROM "Enrollment" LIMIT 1')[0][0]
        assert platform.user_by_id(uid) is not None
        assert platform.user_by_email(email.upper()) is not None
        heavy = _heaviest_user(platform)
        assert len(platform.recent_activity(heavy)) == 20
        assert platform.user_events_of_type(heavy, "page_view", datetime(2000, 1, 1))
        assert platform.weekly_active_users()
        assert platform.search_courses("ing")
        assert len(platform.logs_page(3)) == 50
        assert platform.course_progress(course).enrolled > 0
        assert platform.event_counts_per_day(7)
        assert platform.enrollments_of_user(heavy)
        platform.quiz_stats(heavy)
        assert platform.log_events([Event(uid, "logout")]) == 1


def test_traffic_lands_in_pg_stat_statements(loaded: str) -> None:
    with psycopg.connect(loaded, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    summary = traffic.run(loaded, rounds=30)
    assert summary.rounds == 30 and not summary.stopped_early
    for name, times, every in traffic.MIX:
        assert summary.calls[name].calls == times * len(range(0, 30, every)), name
    with psycopg.connect(loaded) as conn:
        calls: dict[str, int] = dict(conn.execute(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall())
        logged = conn.execute(
            """SELECT count(*) FROM "BehaviorLog" WHERE metadata->>'source' = 'traffic'"""
        ).fetchone()
    assert calls[_server_text(app.RECENT_ACTIVITY)] == 120
    assert calls[_server_text(app.USER_BY_ID)] == 120
    assert calls[_server_text(app.USER_BY_EMAIL)] == 60
    assert calls[app.LOG_EVENTS] == 30
    assert logged == (summary.events_logged,) and summary.events_logged >= 30 * 20


def test_traffic_stops_at_its_time_budget(loaded: str) -> None:
    summary = traffic.run(loaded, rounds=10_000, max_seconds=0.3)
    assert summary.stopped_early and 0 < summary.rounds < 10_000
    assert summary.elapsed_s < 5


def test_traffic_needs_the_demo_data(db18: TestDatabase) -> None:
    with pytest.raises(DemoError, match="load the demo data"):
        traffic.run(db18.conninfo, rounds=1)
