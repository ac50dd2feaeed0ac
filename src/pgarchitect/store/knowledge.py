"""The knowledge base's table, ``pgarchitect.optimization_log`` (migration 2).

With pgvector the embedding is a ``vector(384)`` with an HNSW index on cosine
distance; without it a ``real[]`` (the knowledge base ranks those in Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect import db
from pgarchitect.knowledge.embed import DIMENSIONS
from pgarchitect.proposal import KINDS

DESCRIPTION = "the knowledge base: optimization_log"
STATUSES = ("proposed", "pr_open", "applied", "rejected", "superseded")

TABLE_SQL = """
CREATE TABLE pgarchitect.optimization_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dedup_key text NOT NULL UNIQUE,     -- database, fingerprint, kind and SQL: one row each
    database text NOT NULL,             -- host:port/dbname of the database it is about
    fingerprint text NOT NULL,          -- pglast fingerprint of the statement
    query text NOT NULL,
    kind text NOT NULL CHECK (kind IN ({kinds})),
    recommendation_sql text NOT NULL DEFAULT '',
    rollback_sql text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',  -- the problem and the fix, in a sentence
    reasoning text NOT NULL DEFAULT '',
    estimated_gain_pct double precision,
    measured_gain_pct double precision,
    before_ms double precision,
    after_ms double precision,
    confidence double precision CHECK (confidence BETWEEN 0 AND 1),
    factors jsonb NOT NULL DEFAULT '{{}}',
    embedding {embedding},
    features jsonb NOT NULL DEFAULT '{{}}',
    status text NOT NULL DEFAULT 'proposed' CHECK (status IN ({statuses})),
    status_by text,
    status_at timestamptz,
    status_note text,
    applied_at timestamptz,
    applied_after_ms double precision,  -- the statement's mean, measured after it was applied
    applied_gain_pct double precision,
    applied_measured_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX optimization_log_fingerprint ON pgarchitect.optimization_log (fingerprint);
"""


def vector_schema(conn: psycopg.Connection[Any]) -> str | None:
    """The schema of the pgvector extension when it is created in the database."""
    found = db.extension(conn, "vector")
    return found[0] if found else None


def _create_vector(conn: psycopg.Connection[Any]) -> str | None:
    """Create pgvector when the server has it and the role may; its schema, or None."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if not row:
        return None
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error:
        return None  # no privilege: the fallback, and the hint says what to do
    return vector_schema(conn)


def create(conn: psycopg.Connection[Any]) -> None:
    """Create the optimization log (pgvector's vector(384) when it can, else real[])."""
    schema = vector_schema(conn) or _create_vector(conn)

    def quoted(items: Sequence[str]) -> str:
        return ", ".join(f"'{i}'" for i in items)

    embedding = (f"{sql.Identifier(schema).as_string(conn)}.vector({DIMENSIONS})"
                 if schema else "real[]")
    conn.execute(TABLE_SQL.format(kinds=quoted(KINDS), statuses=quoted(STATUSES),
                                  embedding=embedding).encode())
    if schema:
        conn.execute(sql.SQL(
            "CREATE INDEX optimization_log_embedding ON pgarchitect.optimization_log "
            "USING hnsw (embedding {}.vector_cosine_ops)").format(sql.Identifier(schema)))
