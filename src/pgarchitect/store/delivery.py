"""Delivery (migration 4): each finding's pull request, and every delivery made.

A finding delivered as a pull request keeps its URL and number, so the next audit
does not open it again and can ask GitHub whether it was merged (then the finding
is applied, and the audit after measures its real gain). ``delivery`` records
each delivery of an audit run: where the migrations went, the branch, the PR, the
report, and every send that failed.
"""

from __future__ import annotations

DESCRIPTION = "pull requests of findings, and deliveries"

DDL = """
ALTER TABLE pgarchitect.optimization_log
    ADD COLUMN pr_url text,
    ADD COLUMN pr_number int;

CREATE TABLE pgarchitect.delivery (
    id bigserial PRIMARY KEY,
    run_id bigint REFERENCES pgarchitect.audit_run ON DELETE SET NULL,
    target text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    out_dir text,                          -- where the migration files were written
    format text,                           -- sql, prisma, alembic, flyway
    branch text,
    commit_sha text,
    pushed boolean NOT NULL DEFAULT false,
    pr_url text,
    report jsonb NOT NULL DEFAULT '{}',    -- the report files written and each send's result
    notes jsonb NOT NULL DEFAULT '[]',
    errors jsonb NOT NULL DEFAULT '[]'
);
"""
