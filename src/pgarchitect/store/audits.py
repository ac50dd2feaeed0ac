"""Audit runs: each run, its frozen workload, each statement's result, each measured
proposal (migration 3).

A run is written as it goes: a statement's row is filled when everything that helps
it has been measured, and each proposal as soon as it is measured. A run killed
halfway (status still ``running``, its lock free) is continued by the next audit
of the same target from those rows (:mod:`pgarchitect.audit`).
"""

from __future__ import annotations

DESCRIPTION = "audit runs, their statements and measured proposals"

DDL = """
CREATE TABLE pgarchitect.audit_run (
    id bigserial PRIMARY KEY,
    target text NOT NULL,                  -- host:port/dbname of the audited database
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'finished', 'failed')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    resumed_at timestamptz,                -- the last time a later process took it over
    resumes int NOT NULL DEFAULT 0,
    pid int,                               -- the process that runs it, and where
    host text,
    source text NOT NULL DEFAULT '',       -- where the workload came from
    window_text text,                      -- e.g. '7 days'; NULL: cumulative counters
    settings jsonb NOT NULL DEFAULT '{}',  -- the effective settings, secrets masked
    counts jsonb NOT NULL DEFAULT '{}',    -- per step
    errors jsonb NOT NULL DEFAULT '[]',
    workload jsonb NOT NULL,               -- the statements, skipped ones and notes, frozen
    result jsonb                           -- the whole result, once finished
);
CREATE INDEX audit_run_target ON pgarchitect.audit_run (target, started_at);
CREATE TABLE pgarchitect.audit_statement (
    run_id bigint NOT NULL REFERENCES pgarchitect.audit_run ON DELETE CASCADE,
    position int NOT NULL,
    query text NOT NULL,
    result jsonb NOT NULL,                 -- explanation, proposals, reason, action
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, position)
);
CREATE TABLE pgarchitect.audit_proposal (
    run_id bigint NOT NULL REFERENCES pgarchitect.audit_run ON DELETE CASCADE,
    key text NOT NULL,                     -- kind and forward change
    proposal jsonb NOT NULL,
    measured_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, key)
);
"""
