"""Hygiene exclusions (migration 5): findings a person silenced for good, with when and why.

Keyed by the database they are about (host:port/dbname, as snapshots name it) and the
finding's stable id (``rule:schema.name``): one store serves a fleet, and the same
index name on two databases is two findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

DESCRIPTION = "hygiene exclusions: findings silenced by id"

DDL = """
CREATE TABLE pgarchitect.hygiene_exclusion (
    database text NOT NULL,             -- host:port/dbname of the database it is about
    finding_id text NOT NULL,           -- rule:schema.name, as the audit shows it
    reason text,
    excluded_by text NOT NULL DEFAULT current_user,
    excluded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (database, finding_id)
);
"""

EXISTS_SQL: Final = "SELECT to_regclass('pgarchitect.hygiene_exclusion') IS NOT NULL"
UPSERT_SQL: Final = """\
INSERT INTO pgarchitect.hygiene_exclusion (database, finding_id, reason, excluded_by)
VALUES (%(database)s, %(id)s, %(reason)s, %(by)s)
ON CONFLICT (database, finding_id) DO UPDATE
   SET reason = excluded.reason, excluded_by = excluded.excluded_by, excluded_at = now()
RETURNING finding_id, reason, excluded_by, excluded_at"""
DELETE_SQL: Final = """\
DELETE FROM pgarchitect.hygiene_exclusion WHERE database = %(database)s AND finding_id = %(id)s
RETURNING finding_id, reason, excluded_by, excluded_at"""
LIST_SQL: Final = """\
SELECT finding_id, reason, excluded_by, excluded_at FROM pgarchitect.hygiene_exclusion
WHERE database = %(database)s ORDER BY finding_id"""


@dataclass(frozen=True)
class Exclusion:
    """One silenced finding."""

    finding_id: str
    reason: str | None
    by: str
    at: datetime


def exists(conn: psycopg.Connection[Any]) -> bool:
    """Whether the table is there (a read that creates nothing)."""
    row = conn.execute(EXISTS_SQL).fetchone()
    return bool(row and row[0])


def add(conn: psycopg.Connection[Any], database: str, finding_id: str, reason: str | None,
        by: str) -> Exclusion:
    """Silence a finding (again: the new reason replaces the old)."""
    row = conn.execute(UPSERT_SQL, {"database": database, "id": finding_id,
                                    "reason": reason, "by": by}).fetchone()
    assert row is not None
    return Exclusion(*row)


def remove(conn: psycopg.Connection[Any], database: str, finding_id: str
           ) -> Exclusion | None:
    """Hear a finding again; the exclusion removed, or None when there was none."""
    if not exists(conn):
        return None
    row = conn.execute(DELETE_SQL, {"database": database, "id": finding_id}).fetchone()
    return Exclusion(*row) if row else None


def listing(conn: psycopg.Connection[Any], database: str) -> list[Exclusion]:
    """The database's exclusions, by id ([] when none was ever stored)."""
    if not exists(conn):
        return []
    return [Exclusion(*row) for row in conn.execute(LIST_SQL, {"database": database})]
