"""`pgarchitect doctor` against real servers: each gap named with its fix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support.cli import run_cli
from support.servers import TestDatabase, TestServer

from pgarchitect.doctor import least_privilege_sql
from pgarchitect.server import free_port

Capsys = pytest.CaptureFixture[str]


def _one_clear_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_healthy_database_passes(pg_db: TestDatabase, capsys: Capsys) -> None:
    result = run_cli(capsys, "doctor", pg_db.conninfo)
    assert result.code == 0, result.err
    assert f"PostgreSQL {pg_db.major}" in result.out
    assert "FAIL" not in result.out
    assert "GRANT pg_read_all_stats TO pgarchitect;" in result.out  # the role to create
    if pg_db.major == 15:
        assert "ok    hypopg" in result.out
    else:
        assert "ok    pgvector" in result.out


def test_server_that_does_not_answer(capsys: Capsys) -> None:
    result = run_cli(capsys, "doctor", f"postgresql://app@127.0.0.1:{free_port()}/app")
    assert result.code == 3
    line = _one_clear_line(result.err)
    assert "No PostgreSQL server answers at app@127.0.0.1" in line
    assert "pgarchitect server start" in line


def test_wrong_password(pg_db: TestDatabase, capsys: Capsys) -> None:
    result = run_cli(capsys, "doctor", make_conninfo(pg_db.conninfo, password="wrong"))
    assert result.code == 3
    line = _one_clear_line(result.err)
    assert "refused the login" in line and "password" in line
    assert "wrong" not in line


def test_database_without_the_extension(pg_server: TestServer, capsys: Capsys) -> None:
    db = pg_server.create_database(template="template1")
    try:
        result = run_cli(capsys, "doctor", db.conninfo)
    finally:
        pg_server.drop_database(db.name)
    assert result.code == 1
    assert f"Run in database {db.name}: CREATE EXTENSION pg_stat_statements;" in result.out
    assert "check(s) failed" in _one_clear_line(result.err)


def test_server_without_preloaded_statements(pg15_bare_server: TestServer,
                                             capsys: Capsys) -> None:
    db = pg15_bare_server.create_database(template="template1")
    result = run_cli(capsys, "doctor", db.conninfo)
    assert result.code == 1
    assert "FAIL  pg_stat_statements preloaded" in result.out
    assert "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart" \
        in result.out
    _one_clear_line(result.err)


@pytest.fixture
def limited_role(pg_db: TestDatabase) -> Iterator[str]:
    role = f"app_{pg_db.name}"
    with pg_db.connect() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(role)))
    yield make_conninfo(pg_db.conninfo, user=role, password="pw")
    with pg_db.connect() as admin:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_role_without_read_all_stats(pg_db: TestDatabase, limited_role: str,
                                     capsys: Capsys) -> None:
    result = run_cli(capsys, "doctor", limited_role)
    assert result.code == 1
    role = f"app_{pg_db.name}"
    assert f"FAIL  role reads all statistics: {role} lacks pg_read_all_stats" in result.out
    assert f"GRANT pg_read_all_stats TO {role};" in result.out
    assert "ok    pg_stat_statements preloaded" in result.out  # found without the setting
    _one_clear_line(result.err)


def test_least_privilege_role_really_works(pg_db: TestDatabase, capsys: Capsys) -> None:
    """Create the role doctor recommends and run doctor as it: nothing fails."""
    role = f"pga_{pg_db.name}"
    script = least_privilege_sql(pg_db.name, role).replace("choose-a-password", "pw")
    with pg_db.connect() as admin:
        admin.execute("CREATE TABLE public.t (id int)")
        for statement in script.split(";"):
            body = "\n".join(line for line in statement.splitlines()
                             if not line.startswith("--")).strip()
            if body:
                admin.execute(body.encode())
    try:
        result = run_cli(capsys, "doctor", make_conninfo(pg_db.conninfo, user=role, password="pw"))
        assert result.code == 0, result.out + result.err
        assert "ok    least privilege" in result.out
        assert "ok    schema for pgarchitect's tables: schema pgarchitect exists" in result.out
        with pg_db.connect(user=role, password="pw") as conn:
            assert conn.execute("SELECT count(*) FROM public.t").fetchone() == (0,)
    finally:
        with pg_db.connect() as admin:
            admin.execute("DROP SCHEMA pgarchitect")
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
