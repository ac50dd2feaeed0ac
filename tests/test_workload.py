"""Reading the top statements from pg_stat_statements on PostgreSQL 15 and 18."""

from __future__ import annotations

import pytest
from support.servers import TestDatabase, TestServer

from pgarchitect import db
from pgarchitect.errors import CapabilityMissing
from pgarchitect.settings import load_config
from pgarchitect.workload import top_statements


def test_top_statements_by_total_time(pg_db: TestDatabase) -> None:
    with pg_db.connect() as app:
        app.execute("CREATE TABLE items (id int PRIMARY KEY, v text)")
        app.execute("INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
        app.execute("SELECT pg_stat_statements_reset()")
        for i in range(30):
            app.execute("SELECT count(*) FROM items WHERE v LIKE %s", [f"%{i}a%"])
        for i in range(50):
            app.execute("SELECT v FROM items WHERE id = %s", [i])
    with db.connect(pg_db.conninfo, load_config()) as conn:
        conn.execute("SELECT 1 FROM pg_class LIMIT 1")  # pgarchitect's own: excluded
        stmts = top_statements(conn, limit=5)
    texts = [s.query for s in stmts]
    assert texts[0] == "SELECT count(*) FROM items WHERE v LIKE $1"
    assert "SELECT v FROM items WHERE id = $1" in texts
    assert not any("pg_class" in t or "pg_stat_statements" in t for t in texts), texts
    scan = stmts[0]
    assert scan.calls == 30 and scan.total_ms >= scan.mean_ms * 29
    assert scan.shared_blks_hit + scan.shared_blks_read > 0
    assert [s.total_ms for s in stmts] == sorted((s.total_ms for s in stmts), reverse=True)


def test_missing_extension_is_a_clear_error(pg_server: TestServer) -> None:
    target = pg_server.create_database(template="template1")
    try:
        with db.connect(target.conninfo, load_config()) as conn, \
                pytest.raises(CapabilityMissing, match="CREATE EXTENSION pg_stat_statements"):
            top_statements(conn)
    finally:
        pg_server.drop_database(target.name)
