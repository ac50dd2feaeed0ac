"""`pgarchitect server` runs the embedded PostgreSQL 18, also as root."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from support.cli import run_cli

from pgarchitect import db
from pgarchitect.errors import ServerError
from pgarchitect.server import embedded_server, free_port
from pgarchitect.settings import load_config


def test_server_lifecycle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    os.environ["PGARCHITECT_SERVER_PORT"] = str(free_port())  # monkeypatched per test
    started = run_cli(capsys, "server", "start")
    try:
        assert started.code == 0, started.err
        assert "Embedded PostgreSQL 18 started" in started.out
        again = run_cli(capsys, "server", "start")
        assert "already running" in again.out and again.code == 0
        status = run_cli(capsys, "server", "status")
        assert status.code == 0 and "running (pid" in status.out
        url = run_cli(capsys, "server", "url").out.strip()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version_num')::int / 10000, "
                "current_setting('shared_preload_libraries'), "
                "current_setting('pg_stat_statements.track'), "
                "current_setting('track_io_timing'), "
                "(SELECT count(*) FROM pg_available_extensions WHERE name = 'vector')"
            ).fetchone()
        assert row == (18, "pg_stat_statements", "all", "on", 1)
        # With no database named, the embedded server is the target.
        doctor = run_cli(capsys, "doctor")
        assert "PostgreSQL 18" in doctor.out
    finally:
        stopped = run_cli(capsys, "server", "stop")
    assert "stopped" in stopped.out
    assert run_cli(capsys, "server", "status").code == 1
    # A stopped server is reported as the target's problem, in one line.
    result = run_cli(capsys, "doctor")
    assert result.code == 4 and "pgarchitect server start" in result.err
    assert (tmp_path / "pgarchitect-data" / "pg18" / "PG_VERSION").is_file()
    # A stopped server cannot say whether its recorded default database exists:
    # `server url` and the like take it on trust.
    config = load_config()
    srv = embedded_server(config.data_dir)
    assert db.embedded_database(config, srv) == ("postgres", "the embedded server")
    srv.set_default_database("pgarchitect_demo")
    assert db.embedded_database(config, srv)[0] == "pgarchitect_demo"
    assert srv.url("pgarchitect_demo").endswith("/pgarchitect_demo")


def test_default_database_needs_a_created_server() -> None:
    srv = embedded_server(load_config().data_dir)
    assert srv.default_database is None
    with pytest.raises(ServerError, match="pgarchitect server start"):
        srv.set_default_database("pgarchitect_demo")


def test_server_url_before_any_start(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "server", "url")
    assert result.code == 4
    assert "pgarchitect server start" in result.err
