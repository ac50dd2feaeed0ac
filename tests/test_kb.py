"""The knowledge base on real servers: pgvector on PostgreSQL 18, real[] on 15."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.cli import run_cli
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.analysis import analyze, load_catalog
from pgarchitect.knowledge.audit import Session, remember, session, weights_of
from pgarchitect.knowledge.features import features_of
from pgarchitect.knowledge.kb import Finding, KnowledgeBase, Spool
from pgarchitect.knowledge.similarity import THRESHOLD, Weights
from pgarchitect.settings import load_config

SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text, created_at
                    timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL,
                     total numeric NOT NULL, created_at timestamptz NOT NULL);
"""
BY_EMAIL = "SELECT id, name FROM users WHERE lower(email) = lower($1)"
BY_USER = "SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"
BY_STATUS = "SELECT count(*) FROM orders WHERE status = $1"


@pytest.fixture
def conn(pg_db: TestDatabase) -> Any:
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def finding(conn: Any, query: str, index: str, gain: float = 80.0) -> Finding:
    features = features_of(analyze(query, load_catalog(conn)))
    return Finding(
        database="test", fingerprint=features.fingerprint or "", query=query, kind="index",
        recommendation_sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index}",
        rollback_sql="DROP INDEX CONCURRENTLY IF EXISTS x", description=f"fix: {index}",
        reasoning="test", estimated_gain_pct=90.0, measured_gain_pct=gain, before_ms=10.0,
        after_ms=10.0 * (1 - gain / 100), confidence=0.9, factors={"measured gain": 0.9},
        features=features.to_json())


def features(conn: Any, query: str) -> Any:
    return features_of(analyze(query, load_catalog(conn)))


def test_store_and_find_similar_cases(conn: Any, pg_db: TestDatabase) -> None:
    kb = KnowledgeBase(conn)
    if pg_db.major >= 18:  # the embedded server has pgvector: vector(384) and HNSW
        assert kb.vector_schema is not None and kb.notes == []
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = "
                             "'optimization_log_embedding'").fetchone()
        assert index is not None and "hnsw" in index[0] and "vector_cosine_ops" in index[0]
    else:  # Debian's 15 has no pgvector: real[], ranked in Python, and said once
        assert kb.vector_schema is None
        assert len(kb.notes) == 1 and "pgvector is not installed" in kb.notes[0]
    findings = [finding(conn, BY_EMAIL, "users (lower(email))"),
                finding(conn, BY_USER, "orders (user_id, created_at DESC)")]
    ids = kb.record(findings)
    assert len(ids) == 2 and kb.count() == 2
    # The same findings again (another audit): no duplicate row.
    again = [finding(conn, BY_EMAIL, "users (lower(email))")]
    assert kb.record(again) == [] and kb.count() == 2

    exact = kb.similar(BY_EMAIL, features(conn, BY_EMAIL))
    assert exact[0].finding.query == BY_EMAIL and exact[0].score == 1.0
    assert "same fingerprint" in exact[0].reasons

    variant = "select u.id, u.name from users u where lower(u.email) = lower('a@b.c')"
    best = kb.similar(variant, features(conn, variant))[0]
    assert best.finding.query == BY_EMAIL and best.score >= 0.85, best

    other = kb.similar(BY_STATUS, features(conn, BY_STATUS))
    assert all(c.score < 0.85 for c in other), other


def test_mark_and_outcome(conn: Any) -> None:
    kb = KnowledgeBase(conn)
    (fid,) = kb.record([finding(conn, BY_USER, "orders (user_id, created_at DESC)")])
    with pytest.raises(Exception, match="not one of"):
        kb.mark(fid, "done")
    marked = kb.mark(fid[:8], "applied", by="alice", note="deployed in release 42")
    assert marked.status == "applied" and marked.status_by == "alice"
    assert marked.applied_at is not None and marked.status_note == "deployed in release 42"
    measured = kb.record_outcome(marked, after_ms=1.0)
    assert measured.applied_after_ms == 1.0 and measured.applied_gain_pct == pytest.approx(90.0)


def test_export_import_between_servers(db18: TestDatabase, db15: TestDatabase,
                                       tmp_path: Path) -> None:
    config = load_config()
    with db.connect(db18.conninfo, config) as c18, db.connect(db15.conninfo, config) as c15:
        c18.execute(SCHEMA)
        c15.execute(SCHEMA)
        source = KnowledgeBase(c18)
        source.record([finding(c18, BY_EMAIL, "users (lower(email))"),
                       finding(c18, BY_USER, "orders (user_id)")])
        lines = list(source.export())
        assert len(lines) == 2 and len(json.loads(lines[0])["embedding"]) == 384
        lines.insert(1, '{"query": "SELECT 1", broken')
        lines.append(json.dumps({"database": "x", "fingerprint": "f", "query": "q",
                                 "kind": "magic"}))
        target = KnowledgeBase(c15)  # no pgvector there: real[]
        report = target.import_lines(lines)
        assert report.imported == 2 and report.duplicates == 0
        assert [n for n, _ in report.errors] == [2, 4]
        assert "kind 'magic'" in report.errors[1][1]
        assert target.import_lines(lines).duplicates == 2  # a second import adds nothing
        moved = target.similar(BY_EMAIL, features(c15, BY_EMAIL))[0]
        assert moved.score == 1.0 and moved.finding.query == BY_EMAIL
        assert moved.finding.id in {f.id for f in source.recent()}  # ids travel along


def test_cli_list_show_similar_mark_export_import(db18: TestDatabase, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db18.conninfo)
    monkeypatch.setenv("COLUMNS", "250")
    with db.connect(db18.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        (fid,) = KnowledgeBase(c).record([finding(c, BY_EMAIL, "users (lower(email))")])
    listed = run_cli(capsys, "kb", "list")
    assert listed.code == 0 and fid[:8] in listed.out, listed.err
    shown = run_cli(capsys, "kb", "show", fid[:8])
    assert "recommendation_sql" in shown.out and "lower(email)" in shown.out
    similar = run_cli(capsys, "kb", "similar", "SELECT id FROM users WHERE lower(email) = 'x'")
    assert similar.code == 0 and fid[:8] in similar.out, similar.err
    marked = run_cli(capsys, "kb", "mark", fid[:8], "rejected", "--note", "too big")
    assert marked.code == 0 and "is rejected" in marked.out
    unknown = run_cli(capsys, "kb", "mark", "ffffffff", "applied")
    assert unknown.code == 2 and "No finding ffffffff" in unknown.err
    export = tmp_path / "kb.jsonl"
    assert run_cli(capsys, "kb", "export", str(export)).code == 0
    assert json.loads(export.read_text().splitlines()[0])["status"] == "rejected"
    export.write_text(export.read_text() + "not json\n")
    imported = run_cli(capsys, "kb", "import", str(export))
    assert imported.code == 1 and "1 already there" in imported.out
    assert "line 2:" in imported.err


def test_the_settings_default_to_the_measured_weights() -> None:
    config = load_config()
    assert weights_of(config) == Weights()  # benchmarks/kb_retrieval.py measured these
    assert config.get_float("kb_threshold") == THRESHOLD


def test_a_long_finding_is_truncated_and_said(conn: Any) -> None:
    kb = KnowledgeBase(conn)
    long_query = "SELECT id FROM users WHERE " + " OR ".join(
        f"email = 'user{i}@example.com'" for i in range(200))
    kb.record([finding(conn, long_query, "users (email)")])
    assert any("its embedding reads the first 256" in n for n in kb.notes), kb.notes


def test_a_knowledge_base_that_goes_away_loses_nothing(db18: TestDatabase, pg_db: TestDatabase,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGARCHITECT_KB_URL", db18.conninfo)
    config = load_config()
    with db.connect(pg_db.conninfo, config) as target:
        target.execute(SCHEMA)
        one = finding(target, BY_EMAIL, "users (lower(email))")
        with session(config, target) as state:
            assert state.kb is not None
            kb_conn = state.kb.conn
            with psycopg.connect(db18.conninfo, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [kb_conn.info.backend_pid])
            assert remember(state, [one]) == []  # written to the spool, not lost
            assert any("Lost the knowledge base" in n for n in state.notes)
        spool = Path(config.data_dir) / "kb-spool.jsonl"
        assert len(spool.read_text().splitlines()) == 1
        with session(config, target) as state:  # back: the spool is written first
            assert state.kb is not None and state.kb.count() == 1
            assert any("Wrote 1 findings saved while" in n for n in state.notes)
        assert not spool.exists()


def test_an_unreachable_knowledge_base_is_said_and_the_audit_goes_on(
        pg_db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGARCHITECT_KB_URL", "postgresql://nobody@127.0.0.1:1/none")
    config = load_config()
    with db.connect(pg_db.conninfo, config) as target, session(config, target) as state:
        assert isinstance(state, Session) and state.kb is None
        assert "not available" in state.notes[0]


def test_embeddings_need_no_network(conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = KnowledgeBase(conn)
    real_connect = socket.socket.connect

    def local_only(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
                "127.0.0.1", "::1", "localhost"):
            raise OSError(f"network used: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    kb.record([finding(conn, BY_USER, "orders (user_id)")])
    assert kb.similar(BY_USER, features(conn, BY_USER))[0].score == 1.0


def test_spool_keeps_a_bad_line_aside(conn: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.save([finding(conn, BY_USER, "orders (user_id)")])
    with spool.path.open("a") as f:
        f.write("{broken\n")
    report = spool.flush(KnowledgeBase(conn))
    assert report is not None and report.imported == 1 and report.errors[0][0] == 2
    assert not spool.path.exists() and spool.path.with_suffix(".rejected.jsonl").exists()


def test_other_databases_findings_do_not_hide_this_ones(conn: Any, pg_db: TestDatabase) -> None:
    """A shared knowledge base: six findings of other databases for the same statement
    score as high as this database's own; the lookup still finds its own."""
    kb = KnowledgeBase(conn)
    others = []
    for n in range(6):
        other = finding(conn, BY_USER, f"orders_user_id_idx_{n} ON orders (user_id)")
        other.database = f"other-{n}"
        others.append(other)
    kb.record(others)
    own = finding(conn, BY_USER, "orders_user_id_created_at_idx ON orders (user_id)")
    [own_id] = kb.record([own])
    [first] = kb.similar(BY_USER, features(conn, BY_USER), limit=1, database="test")
    assert first.finding.id == own_id
    cases = kb.similar(BY_USER, features(conn, BY_USER), limit=3, database="other-2")
    assert [c.finding.database for c in cases] == ["other-2"]
