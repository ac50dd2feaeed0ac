"""Health snapshots (migration 6): the daily figures of a database, one row per snapshot.

Keyed by the database they are about (host:port/dbname, as snapshots name it): one
store serves a fleet. ``figures`` holds :meth:`HealthSnapshot.to_json`, whose figure
names and units are stable (alerts, gauges and charts read them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from pgarchitect.health.model import HealthSnapshot

DESCRIPTION = "health snapshots: daily figures per database"

DDL = """
CREATE TABLE pgarchitect.health_snapshot (
    id bigserial PRIMARY KEY,
    database text NOT NULL,             -- host:port/dbname of the database observed
    taken_at timestamptz NOT NULL,      -- the target's clock
    figures jsonb NOT NULL              -- HealthSnapshot.to_json()
);
CREATE INDEX health_snapshot_database_taken_at
    ON pgarchitect.health_snapshot (database, taken_at);
"""

EXISTS_SQL: Final = "SELECT to_regclass('pgarchitect.health_snapshot') IS NOT NULL"
INSERT_SQL: Final = """\
INSERT INTO pgarchitect.health_snapshot (database, taken_at, figures)
VALUES (%(database)s, %(taken_at)s, %(figures)s) RETURNING id"""
LATEST_SQL: Final = """\
SELECT figures FROM pgarchitect.health_snapshot WHERE database = %(database)s
ORDER BY taken_at DESC, id DESC LIMIT %(limit)s"""
HISTORY_SQL: Final = """\
SELECT figures FROM pgarchitect.health_snapshot
WHERE database = %(database)s AND taken_at >= %(since)s
ORDER BY taken_at, id"""


def exists(conn: psycopg.Connection[Any]) -> bool:
    """Whether the table is there (a read that creates nothing)."""
    row = conn.execute(EXISTS_SQL).fetchone()
    return bool(row and row[0])


def insert(conn: psycopg.Connection[Any], snap: HealthSnapshot) -> int:
    """Store one snapshot (the schema migrated beforehand); its id."""
    row = conn.execute(INSERT_SQL, {"database": snap.database, "taken_at": snap.taken_at,
                                    "figures": Jsonb(snap.to_json())}).fetchone()
    assert row is not None
    return int(row[0])


LATEST_EACH_SQL: Final = """\
SELECT DISTINCT ON (database) figures FROM pgarchitect.health_snapshot
ORDER BY database, taken_at DESC, id DESC"""


def latest_each(conn: psycopg.Connection[Any]) -> list[HealthSnapshot]:
    """The newest snapshot of every database ([] when none was stored)."""
    if not exists(conn):
        return []
    return [HealthSnapshot.from_json(r[0]) for r in conn.execute(LATEST_EACH_SQL)]


def newest(conn: psycopg.Connection[Any], database: str, limit: int) -> list[HealthSnapshot]:
    """The ``limit`` newest snapshots of a database, newest first ([] when none)."""
    if not exists(conn):
        return []
    rows = conn.execute(LATEST_SQL, {"database": database, "limit": limit})
    return [HealthSnapshot.from_json(r[0]) for r in rows]


def latest(conn: psycopg.Connection[Any], database: str) -> HealthSnapshot | None:
    """The newest snapshot of a database, None when none was stored."""
    found = newest(conn, database, 1)
    return found[0] if found else None


def history(conn: psycopg.Connection[Any], database: str, days: float,
            now: datetime | None = None) -> list[HealthSnapshot]:
    """The snapshots of the past ``days`` days (from ``now``, else the store's clock),
    oldest first."""
    if not exists(conn):
        return []
    if now is None:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        now = row[0]
    assert now is not None
    since = now - timedelta(days=days)
    return [HealthSnapshot.from_json(r[0])
            for r in conn.execute(HISTORY_SQL, {"database": database, "since": since})]

