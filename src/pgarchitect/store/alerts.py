"""Health alerts (migration 7): one row per database and alert, open or resolved.

A row is the alert's latest episode: it opens when its rule fires, stays open while
the rule keeps firing, and is resolved when the rule stops; a rule that fires again
later reopens the same row. ``notified_open`` and ``notified_resolved`` record what
was announced, so an open alert is sent once and a resolved one once. Rows hold
figures and messages only, never where they were sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

DESCRIPTION = "health alerts: open and resolved, per database and alert"

DDL = """
CREATE TABLE pgarchitect.health_alert (
    database text NOT NULL,             -- host:port/dbname, as health snapshots name it
    key text NOT NULL,                  -- the alert rule, e.g. connections
    title text NOT NULL,
    message text NOT NULL,              -- the latest reading, for people
    opened_at timestamptz NOT NULL,
    last_value double precision,
    threshold double precision,
    resolved_at timestamptz,            -- NULL while open
    notified_open boolean NOT NULL DEFAULT false,
    notified_resolved boolean NOT NULL DEFAULT false,
    PRIMARY KEY (database, key)
);
"""

EXISTS_SQL: Final = "SELECT to_regclass('pgarchitect.health_alert') IS NOT NULL"
COLUMNS: Final = ("database, key, title, message, opened_at, last_value, threshold, "
                  "resolved_at, notified_open, notified_resolved")
SELECT_SQL: Final = f"SELECT {COLUMNS} FROM pgarchitect.health_alert WHERE database = %(database)s"
OPEN_SQL: Final = (f"SELECT {COLUMNS} FROM pgarchitect.health_alert "
                   "WHERE database = %(database)s AND resolved_at IS NULL ORDER BY opened_at, key")
UPSERT_SQL: Final = """\
INSERT INTO pgarchitect.health_alert (database, key, title, message, opened_at, last_value,
                                      threshold, resolved_at, notified_open, notified_resolved)
VALUES (%(database)s, %(key)s, %(title)s, %(message)s, %(opened_at)s, %(last_value)s,
        %(threshold)s, %(resolved_at)s, %(notified_open)s, %(notified_resolved)s)
ON CONFLICT (database, key) DO UPDATE SET
    title = EXCLUDED.title, message = EXCLUDED.message, opened_at = EXCLUDED.opened_at,
    last_value = EXCLUDED.last_value, threshold = EXCLUDED.threshold,
    resolved_at = EXCLUDED.resolved_at, notified_open = EXCLUDED.notified_open,
    notified_resolved = EXCLUDED.notified_resolved"""


@dataclass(frozen=True)
class StoredAlert:
    """One row of ``pgarchitect.health_alert``."""

    database: str
    key: str
    title: str
    message: str
    opened_at: datetime
    last_value: float | None
    threshold: float | None
    resolved_at: datetime | None
    notified_open: bool
    notified_resolved: bool

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


def exists(conn: psycopg.Connection[Any]) -> bool:
    """Whether the table is there (a read that creates nothing)."""
    row = conn.execute(EXISTS_SQL).fetchone()
    return bool(row and row[0])


def by_key(conn: psycopg.Connection[Any], database: str) -> dict[str, StoredAlert]:
    """Every stored alert of a database, open or resolved, by key."""
    if not exists(conn):
        return {}
    return {r[1]: StoredAlert(*r) for r in conn.execute(SELECT_SQL, {"database": database})}


def open_alerts(conn: psycopg.Connection[Any], database: str) -> list[StoredAlert]:
    """The open alerts of a database, oldest first ([] when none, or no table yet)."""
    if not exists(conn):
        return []
    return [StoredAlert(*r) for r in conn.execute(OPEN_SQL, {"database": database})]


def save(conn: psycopg.Connection[Any], alert: StoredAlert) -> None:
    """Insert or replace the row of ``(alert.database, alert.key)``."""
    conn.execute(UPSERT_SQL, {
        "database": alert.database, "key": alert.key, "title": alert.title,
        "message": alert.message, "opened_at": alert.opened_at,
        "last_value": alert.last_value, "threshold": alert.threshold,
        "resolved_at": alert.resolved_at, "notified_open": alert.notified_open,
        "notified_resolved": alert.notified_resolved})
