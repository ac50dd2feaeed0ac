"""The demo platform's data layer, written the way its API sends SQL.

The client side is done right: one statement per call, server-side prepared
statements for reads, COPY for batch inserts. The SQL itself is what a hurried
team writes, and several statements are slow on the demo schema on purpose:

* ``USER_BY_EMAIL`` applies lower() to the column, so the unique index on
  email cannot serve it;
* ``RECENT_ACTIVITY`` and ``USER_EVENTS_OF_TYPE`` want an index on
  ("userId", "timestamp" DESC): heavy users have tens of thousands of rows;
* ``SEARCH_COURSES`` has a leading wildcard, which no b-tree serves;
* ``LOGS_PAGE`` pages with a deep OFFSET;
* ``COURSE_PROGRESS``, ``ENROLLMENTS_OF_USER`` and ``QUIZ_STATS`` filter on
  foreign keys that have no index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, LiteralString, TypeVar
from uuid import UUID

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int4, Int8

APPLICATION_NAME: Final = "edu-platform-api"

USER_BY_ID: Final = """\
SELECT id, email, name, role, "createdAt" AS created_at
FROM "User" WHERE id = %s"""

USER_BY_EMAIL: Final = """\
SELECT id, email, name, role, "createdAt" AS created_at
FROM "User" WHERE lower(email) = lower(%s)"""

RECENT_ACTIVITY: Final = """\
SELECT id, "eventType" AS event_type, metadata, "timestamp"
FROM "BehaviorLog" WHERE "userId" = %s
ORDER BY "timestamp" DESC LIMIT %s"""

USER_EVENTS_OF_TYPE: Final = """\
SELECT id, "eventType" AS event_type, metadata, "timestamp"
FROM "BehaviorLog"
WHERE "userId" = %s AND "eventType" = %s AND "timestamp" >= %s
ORDER BY "timestamp" DESC LIMIT %s"""

# The runbook's "Find highly active users in the past week", as the team wrote it.
WEEKLY_ACTIVE_USERS: Final = """\
SELECT u.id, u.email, COUNT(bl.id) AS events
FROM "User" u
LEFT JOIN "BehaviorLog" bl ON bl."userId" = u.id
WHERE bl."timestamp" > NOW() - INTERVAL '7 days'
GROUP BY u.id
HAVING COUNT(bl.id) > 50
ORDER BY events DESC"""

SEARCH_COURSES: Final = """\
SELECT id, title, category
FROM "Course"
WHERE "isPublished" AND title ILIKE '%%' || %s || '%%'
ORDER BY "createdAt" DESC LIMIT %s"""

LOGS_PAGE: Final = """\
SELECT id, "userId" AS user_id, "eventType" AS event_type, "timestamp"
FROM "BehaviorLog"
ORDER BY "timestamp" DESC OFFSET %s LIMIT %s"""

COURSE_PROGRESS: Final = """\
SELECT count(*) AS enrolled,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'dropped') AS dropped,
       round(avg(progress), 1) AS avg_progress
FROM "Enrollment" WHERE "courseId" = %s"""

EVENT_COUNTS_PER_DAY: Final = """\
SELECT date_trunc('day', "timestamp") AS day, "eventType" AS event_type, count(*) AS events
FROM "BehaviorLog"
WHERE "timestamp" > NOW() - make_interval(days => %s)
GROUP BY 1, 2 ORDER BY 1, 2"""

ENROLLMENTS_OF_USER: Final = """\
SELECT e."courseId" AS course_id, c.title, e.progress, e.status, e."enrolledAt" AS enrolled_at
FROM "Enrollment" e JOIN "Course" c ON c.id = e."courseId"
WHERE e."userId" = %s
ORDER BY e."enrolledAt" DESC"""

QUIZ_STATS: Final = """\
SELECT q."lessonId" AS lesson_id, l.title AS lesson_title, count(*) AS attempts,
       max(q.score) AS best_score, round(avg(q.score), 1) AS avg_score
FROM "QuizAttempt" q JOIN "Lesson" l ON l.id = q."lessonId"
WHERE q."userId" = %s
GROUP BY q."lessonId", l.title
ORDER BY attempts DESC, lesson_id"""

# Binary COPY: a third less client time than text (uuid and timestamp go as
# bytes, not formatted text), measured with benchmarks/batch_insert.py.
LOG_EVENTS: Final = """\
COPY "BehaviorLog" ("userId", "eventType", metadata, "timestamp") FROM STDIN (FORMAT BINARY)"""
LOG_EVENTS_TYPES: Final = ("uuid", "text", "jsonb", "timestamp")


@dataclass(frozen=True)
class User:
    """A row of "User"."""

    id: UUID
    email: str
    name: dict[str, str]
    role: str
    created_at: datetime


@dataclass(frozen=True)
class Activity:
    """One event of a user."""

    id: int
    event_type: str
    metadata: dict[str, Any] | None
    timestamp: datetime


@dataclass(frozen=True)
class ActiveUser:
    """A user and their number of events in the past week."""

    id: UUID
    email: str
    events: int


@dataclass(frozen=True)
class CourseHit:
    """A course found by a title search."""

    id: UUID
    title: str
    category: str


@dataclass(frozen=True)
class LogEntry:
    """A line of the admin's event log."""

    id: int
    user_id: UUID
    event_type: str
    timestamp: datetime


@dataclass(frozen=True)
class CourseProgress:
    """Enrolment figures of one course."""

    enrolled: int
    completed: int
    dropped: int
    avg_progress: Decimal | None


@dataclass(frozen=True)
class DailyCount:
    """Events of one type on one day."""

    day: datetime
    event_type: str
    events: int


@dataclass(frozen=True)
class UserEnrollment:
    """A course a user is enrolled in, and how far they got."""

    course_id: UUID
    title: str
    progress: int
    status: str
    enrolled_at: datetime


@dataclass(frozen=True)
class QuizStat:
    """A user's quiz results for one lesson."""

    lesson_id: UUID
    lesson_title: str
    attempts: int
    best_score: int
    avg_score: Decimal


@dataclass(frozen=True)
class Event:
    """An event to log; ``timestamp`` defaults to the time of the batch insert."""

    user_id: UUID | str
    event_type: str
    metadata: Mapping[str, Any] | None = None
    timestamp: datetime | None = None


T = TypeVar("T")


def _utc_naive(when: datetime) -> datetime:
    # The columns are timestamp(3) in UTC, as Prisma writes them; PostgreSQL
    # would silently drop the offset of an aware value instead of converting it.
    return when if when.tzinfo is None else when.astimezone(UTC).replace(tzinfo=None)


class LearningPlatform:
    """The platform's data access: each method sends one statement."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    @classmethod
    def connect(cls, conninfo: str) -> LearningPlatform:
        """Connect as the platform's API does: autocommit, named in pg_stat_activity."""
        conn = psycopg.connect(
            make_conninfo(conninfo, application_name=APPLICATION_NAME), autocommit=True
        )
        return cls(conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> LearningPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Integer parameters are sent with a fixed type (Int4, Int8): psycopg would
    # send a small int as int2 and a larger one as int4, and each type makes a
    # separate prepared statement and pg_stat_statements entry.
    def _all(self, row: type[T], query: LiteralString, params: tuple[Any, ...]) -> list[T]:
        # prepare=True: parsed and planned once per connection, as an API would.
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            cur.execute(query, params, prepare=True)
            return cur.fetchall()

    def _one(self, row: type[T], query: LiteralString, params: tuple[Any, ...]) -> T | None:
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            cur.execute(query, params, prepare=True)
            return cur.fetchone()

    def user_by_id(self, user_id: UUID | str) -> User | None:
        """The user with this id."""
        return self._one(User, USER_BY_ID, (user_id,))

    def user_by_email(self, email: str) -> User | None:
        """The user with this e-mail address, in any letter case."""
        return self._one(User, USER_BY_EMAIL, (email,))

    def recent_activity(self, user_id: UUID | str, limit: int = 20) -> list[Activity]:
        """A user's latest events, newest first."""
        return self._all(Activity, RECENT_ACTIVITY, (user_id, Int8(limit)))

    def user_events_of_type(
        self, user_id: UUID | str, event_type: str, since: datetime, limit: int = 100
    ) -> list[Activity]:
        """A user's events of one type since a time, newest first."""
        return self._all(
            Activity, USER_EVENTS_OF_TYPE, (user_id, event_type, since, Int8(limit))
        )

    def weekly_active_users(self) -> list[ActiveUser]:
        """Users with more than 50 events in the past 7 days, most active first."""
        return self._all(ActiveUser, WEEKLY_ACTIVE_USERS, ())

    def search_courses(self, term: str, limit: int = 20) -> list[CourseHit]:
        """Published courses whose title contains ``term`` (any case), newest first."""
        return self._all(CourseHit, SEARCH_COURSES, (term, Int8(limit)))

    def logs_page(self, page: int, per_page: int = 50) -> list[LogEntry]:
        """Page ``page`` (from 1) of the event log, newest first."""
        offset = (max(page, 1) - 1) * per_page
        return self._all(LogEntry, LOGS_PAGE, (Int8(offset), Int8(per_page)))

    def course_progress(self, course_id: UUID | str) -> CourseProgress:
        """How the students of a course are doing."""
        result = self._one(CourseProgress, COURSE_PROGRESS, (course_id,))
        assert result is not None  # an aggregate without GROUP BY returns one row
        return result

    def event_counts_per_day(self, days: int = 30) -> list[DailyCount]:
        """Events per day and type over the past ``days`` days."""
        return self._all(DailyCount, EVENT_COUNTS_PER_DAY, (Int4(days),))

    def enrollments_of_user(self, user_id: UUID | str) -> list[UserEnrollment]:
        """The courses a user is enrolled in, latest first."""
        return self._all(UserEnrollment, ENROLLMENTS_OF_USER, (user_id,))

    def quiz_stats(self, user_id: UUID | str) -> list[QuizStat]:
        """A user's quiz attempts per lesson."""
        return self._all(QuizStat, QUIZ_STATS, (user_id,))

    def log_events(self, events: Iterable[Event]) -> int:
        """Insert a batch of events with one COPY; returns the rows inserted."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(LOG_EVENTS) as copy:
                copy.set_types(LOG_EVENTS_TYPES)
                for e in events:
                    copy.write_row((
                        e.user_id if isinstance(e.user_id, UUID) else UUID(e.user_id),
                        e.event_type,
                        None if e.metadata is None else Jsonb(e.metadata),
                        now if e.timestamp is None else _utc_naive(e.timestamp),
                    ))
            return cur.rowcount
