"""pgarchitect's own tables, in the schema ``pgarchitect``, created and migrated by the tool.

Each feature keeps its tables in a module of its own: ``snapshots`` (workload
windows), ``knowledge`` (the knowledge base), ``audits`` (audit runs),
``delivery`` (pull requests and deliveries), ``exclusions`` (hygiene findings
silenced by id), ``health`` (health snapshots), ``alerts`` (health alerts).

Migrations are an ordered tuple; each runs once, in a transaction, recorded in
``pgarchitect.schema_version``. An advisory lock keeps two pgarchitect processes
from migrating at the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect.errors import CapabilityMissing
from pgarchitect.store import alerts, audits, delivery, exclusions, health, knowledge, snapshots

SCHEMA = "pgarchitect"
# pg_advisory_xact_lock key: "pgarchitect" as a number, to stay clear of the app's locks.
MIGRATION_LOCK = 0x70676172636869

# A migration's body: DDL, or a function of the connection for DDL that depends on
# the server (pgvector present or not).
Body = str | Callable[[psycopg.Connection[Any]], None]


MIGRATIONS: tuple[tuple[int, str, Body], ...] = (
    (1, snapshots.DESCRIPTION, snapshots.DDL),
    (2, knowledge.DESCRIPTION, knowledge.create),
    (3, audits.DESCRIPTION, audits.DDL),
    (4, delivery.DESCRIPTION, delivery.DDL),
    (5, exclusions.DESCRIPTION, exclusions.DDL),
    (6, health.DESCRIPTION, health.DDL),
    (7, alerts.DESCRIPTION, alerts.DDL),
)


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The newest migration applied (0 when the schema is new)."""
    row = conn.execute("SELECT to_regclass('pgarchitect.schema_version') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM pgarchitect.schema_version"
                       ).fetchone()
    return int(row[0]) if row else 0


def schema_exists(conn: psycopg.Connection[Any]) -> bool:
    """Whether schema ``pgarchitect`` exists (whoever owns it)."""
    row = conn.execute("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = %s)",
                       [SCHEMA]).fetchone()
    return bool(row and row[0])


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Create or upgrade pgarchitect's schema; returns the version now in place."""
    latest = MIGRATIONS[-1][0]
    if current_version(conn) == latest:
        return latest
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            # CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the database
            # before it looks for the schema: a role given its own schema (the
            # least-privilege script) would be refused. Create only what is missing.
            if not schema_exists(conn):
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(SCHEMA)))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pgarchitect.schema_version ("
                " version int PRIMARY KEY, description text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = current_version(conn)  # again, under the lock
            for version, description, ddl in MIGRATIONS:
                if version <= done:
                    continue
                if callable(ddl):
                    ddl(conn)
                else:
                    conn.execute(ddl.encode())
                conn.execute(
                    "INSERT INTO pgarchitect.schema_version (version, description) "
                    "VALUES (%s, %s)", [version, description])
    except psycopg.errors.InsufficientPrivilege:
        if schema_exists(conn):
            raise CapabilityMissing(
                "This role may not create tables in schema pgarchitect: as its owner or a "
                "superuser run ALTER SCHEMA pgarchitect OWNER TO <role>; or set "
                "PGARCHITECT_STORE_URL to another database (see `pgarchitect doctor`)."
            ) from None
        raise CapabilityMissing(
            "This role cannot create pgarchitect's schema: as the database owner run "
            "CREATE SCHEMA pgarchitect AUTHORIZATION <role>; or set PGARCHITECT_STORE_URL "
            "to another database (see `pgarchitect doctor`)."
        ) from None
    return latest
