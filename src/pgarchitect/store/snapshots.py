"""Snapshots of pg_stat_statements and of table and index statistics (migration 1).

``pgarchitect snapshot`` fills them; ``workload --since`` reads the difference between
now and a snapshot (:mod:`pgarchitect.workload.snapshots`).
"""

from __future__ import annotations

DESCRIPTION = "snapshots of pg_stat_statements and table/index statistics"

DDL = """
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
"""
