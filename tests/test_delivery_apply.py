"""`pgarchitect apply ID`: one finding's index on a named database, and each refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from support.cli import run_cli
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.features import features_of
from pgarchitect.knowledge.kb import Finding, KnowledgeBase
from pgarchitect.settings import load_config

SCHEMA = """
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL,
                     created_at timestamptz NOT NULL);
INSERT INTO orders SELECT i, 1 + (i * 7919) % 2000, (ARRAY['open', 'closed'])[1 + i % 2],
                          timestamptz '2026-01-01' + i * interval '1 minute'
  FROM generate_series(1, 20000) i;
ANALYZE orders;
"""
BY_USER = "SELECT id FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"
USER_INDEX = "CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC)"


@pytest.fixture
def conn(pg_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DATABASE_URL", pg_db.conninfo)
    monkeypatch.setenv("COLUMNS", "250")
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def record(conn: Any, fix: str = USER_INDEX, *, kind: str = "index",
           status: str = "proposed", query: str = BY_USER) -> str:
    features = features_of(analyze(query, DatabaseCatalog(conn).relations))
    kb = KnowledgeBase(conn)
    [fid] = kb.record([Finding(
        database="test", fingerprint=features.fingerprint or "", query=query, kind=kind,
        recommendation_sql=fix, rollback_sql="DROP INDEX x", description="d",
        features=features.to_json(), status=status, before_ms=10.0)])
    return fid


def indexes(conn: Any) -> dict[str, bool]:
    rows = conn.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON "
                        "c.oid = i.indexrelid WHERE i.indrelid = 'orders'::regclass").fetchall()
    return {name: valid for name, valid in rows}


def test_apply_builds_the_index_and_marks_the_finding(conn: Any,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    fid = record(conn)
    shown = run_cli(capsys, "apply", fid[:8])
    assert shown.code == 2 and "This would run on" in shown.err and "--yes" in shown.err
    assert "CONCURRENTLY" in shown.err
    assert "orders_user_created_idx" not in indexes(conn)  # nothing without --yes

    done = run_cli(capsys, "apply", fid[:8], "--yes")
    assert done.code == 0, done.err
    assert "Built orders_user_created_idx" in done.out and "CONCURRENTLY" in done.out
    assert indexes(conn)["orders_user_created_idx"] is True
    finding = KnowledgeBase(conn).get(fid)
    assert finding.status == "applied" and finding.applied_at is not None
    assert "built on" in (finding.status_note or "")

    again = run_cli(capsys, "apply", fid[:8], "--yes")
    assert again.code == 0 and "was already on" in again.out


def test_a_production_database_is_refused(conn: Any, pg_db: TestDatabase,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fid = record(conn)
    monkeypatch.setenv("PGARCHITECT_PRODUCTION_DATABASES", f"other, {pg_db.name}")
    refused = run_cli(capsys, "apply", fid[:8], "--yes")
    assert refused.code == 2 and "listed in production_databases" in refused.err
    assert "orders_user_created_idx" not in indexes(conn)
    assert KnowledgeBase(conn).get(fid).status == "proposed"


@pytest.mark.parametrize(("kind", "status", "fix", "why"), [
    ("rewrite", "proposed", "SELECT 1", "only index findings can be applied"),
    ("index", "rejected", USER_INDEX, "was rejected"),
    ("index", "proposed", "CREATE INDEX oops ON", "the earlier fix does not parse"),
])
def test_what_is_not_one_index_is_refused(conn: Any, capsys: pytest.CaptureFixture[str],
                                          kind: str, status: str, fix: str, why: str) -> None:
    fid = record(conn, fix, kind=kind, status=status)
    refused = run_cli(capsys, "apply", fid[:8], "--yes")
    assert refused.code == 2 and why in refused.err, refused.err
    assert set(indexes(conn)) == {"orders_pkey"}


def test_an_invalid_build_is_dropped_and_reported(conn: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A unique index on duplicate values: the concurrent build fails and leaves an
    invalid index behind, which apply drops."""
    fid = record(conn, "CREATE UNIQUE INDEX orders_status_key ON orders (status)")
    failed = run_cli(capsys, "apply", fid[:8], "--yes")
    assert failed.code == 1 and "Building orders_status_key failed" in failed.err, failed.err
    assert "The invalid index it left was dropped." in failed.err
    assert set(indexes(conn)) == {"orders_pkey"}
    assert KnowledgeBase(conn).get(fid).status == "proposed"


def test_a_locked_table_gives_up_at_lock_timeout(conn: Any, pg_db: TestDatabase,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fid = record(conn)
    monkeypatch.setenv("PGARCHITECT_LOCK_TIMEOUT", "200ms")
    with psycopg.connect(pg_db.conninfo) as holder:
        holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        failed = run_cli(capsys, "apply", fid[:8], "--yes")
    assert failed.code == 1 and "past lock_timeout" in failed.err, failed.err
    assert "orders_user_created_idx" not in indexes(conn)
