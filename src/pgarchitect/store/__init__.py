"""pgarchitect's own tables, in the schema ``pgarchitect``, created and migrated by the tool.

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

SCHEMA = "pgarchitect"
# pg_advisory_xact_lock key: "pgarchitect" as a number, to stay clear of the app's locks.
MIGRATION_LOCK = 0x70676172636869

# A migration's body: DDL, or a function of the connection for DDL that depends on
# the server (pgvector present or not).
Body = str | Callable[[psycopg.Connection[Any]], None]


def _optimization_log(conn: psycopg.Connection[Any]) -> None:
    from pgarchitect.knowledge.kb import create_log  # the knowledge base owns its table
    create_log(conn)


MIGRATIONS: tuple[tuple[int, str, Body], ...] = (
    (
        1,
        "snapshots of pg_stat_statements and table/index statistics",
        """
        CREATE TABLE pgarchitect.snapshot (
            id bigserial PRIMARY KEY,
            taken_at timestamptz NOT NULL DEFAULT now(),
            target text NOT NULL,              -- host:port/dbname of the database observed
            dbid oid NOT NULL,
            server_version int NOT NULL,
            stats_reset timestamptz,           -- pg_stat_statements_info (PG 14+)
            dealloc bigint,                    -- entries evicted since the reset (PG 14+)
            io_timing boolean NOT NULL
        );
        CREATE INDEX snapshot_target_taken_at ON pgarchitect.snapshot (target, taken_at);
        CREATE TABLE pgarchitect.snapshot_statement (
            snapshot_id bigint NOT NULL REFERENCES pgarchitect.snapshot ON DELETE CASCADE,
            userid oid NOT NULL,
            dbid oid NOT NULL,
            queryid bigint NOT NULL,
            toplevel boolean NOT NULL,
            query text NOT NULL,
            counters jsonb NOT NULL,           -- the workload.Statement counters
            PRIMARY KEY (snapshot_id, userid, dbid, queryid, toplevel)
        );
        CREATE TABLE pgarchitect.snapshot_table (
            snapshot_id bigint NOT NULL REFERENCES pgarchitect.snapshot ON DELETE CASCADE,
            relid oid NOT NULL,
            schemaname name NOT NULL,
            relname name NOT NULL,
            counters jsonb NOT NULL,           -- pg_stat_user_tables' counters
            PRIMARY KEY (snapshot_id, relid)
        );
        CREATE TABLE pgarchitect.snapshot_index (
            snapshot_id bigint NOT NULL REFERENCES pgarchitect.snapshot ON DELETE CASCADE,
            indexrelid oid NOT NULL,
            schemaname name NOT NULL,
            relname name NOT NULL,
            indexrelname name NOT NULL,
            counters jsonb NOT NULL,           -- pg_stat_user_indexes' counters
            PRIMARY KEY (snapshot_id, indexrelid)
        );
        """,
    ),
    (2, "the knowledge base: optimization_log", _optimization_log),
)


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The newest migration applied (0 when the schema is new)."""
    row = conn.execute("SELECT to_regclass('pgarchitect.schema_version') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM pgarchitect.schema_version"
                       ).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Create or upgrade pgarchitect's schema; returns the version now in place."""
    latest = MIGRATIONS[-1][0]
    if current_version(conn) == latest:
        return latest
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
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
        raise CapabilityMissing(
            "This role cannot create pgarchitect's schema: as the database owner run "
            "CREATE SCHEMA pgarchitect AUTHORIZATION <role>; or set PGARCHITECT_STORE_URL "
            "to another database (see `pgarchitect doctor`)."
        ) from None
    return latest
