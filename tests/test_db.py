"""Connections: session settings, the statement tag, the pool, capabilities."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.errors import ConfigError, ConnectionFailed, ServerError
from pgarchitect.server import LocalServer, embedded_server, free_port
from pgarchitect.settings import load_config

DEMO_DATABASE = "pgarchitect_demo"  # the name `pgarchitect demo` creates and records


def test_every_session_sets_timeouts_and_application_name(pg_db: TestDatabase) -> None:
    cfg = load_config({"statement_timeout": "7s", "lock_timeout": "750ms"})
    with db.connect(pg_db.conninfo, cfg) as conn:
        row = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
            "current_setting('application_name')"
        ).fetchone()
    assert row == ("7s", "750ms", "pgarchitect")


def test_statement_timeout_is_enforced(pg_db: TestDatabase) -> None:
    cfg = load_config({"statement_timeout": "100ms"})
    with db.connect(pg_db.conninfo, cfg) as conn, pytest.raises(psycopg.errors.QueryCanceled):
        conn.execute("SELECT pg_sleep(2)")


def test_user_options_are_kept(pg_db: TestDatabase) -> None:
    conninfo = pg_db.conninfo + " options='-c work_mem=7MB'"
    with db.connect(conninfo, load_config()) as conn:
        row = conn.execute("SELECT current_setting('work_mem'), "
                           "current_setting('statement_timeout')").fetchone()
    assert row == ("7MB", "30s")


def test_statements_reach_the_server_tagged(pg_db: TestDatabase) -> None:
    # pg_stat_activity shows the text exactly as the server received it. (Since
    # PostgreSQL 18, pg_stat_statements drops leading comments from its copy.)
    with db.connect(pg_db.conninfo, load_config()) as conn:
        row = conn.execute("SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        assert row.fetchone() == (
            "/* pgarchitect */ SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()",)
        composed = sql.SQL("SELECT {} FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        row = conn.execute(composed.format(sql.Identifier("query")))
        assert str(row.fetchone()).startswith("('/* pgarchitect */ SELECT \"query\"")


def test_log_sql_prints_every_statement(pg_db: TestDatabase,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with db.connect(pg_db.conninfo, load_config({"log_sql": True})) as conn:
        conn.execute("SELECT 1 AS logged_one")
    assert "[sql] /* pgarchitect */ SELECT 1 AS logged_one" in capsys.readouterr().err


def test_pool_hands_out_configured_connections(pg_db: TestDatabase) -> None:
    with db.Database(pg_db.conninfo, load_config({"pool_size": 2})) as database:
        for _ in range(3):
            with database.connection() as conn:
                assert conn.execute("SHOW application_name").fetchone() == ("pgarchitect",)
                assert conn.autocommit


def test_pool_fails_fast_with_a_clear_error() -> None:
    database = db.Database(f"host=127.0.0.1 port={free_port()} user=x dbname=y", load_config())
    with pytest.raises(ConnectionFailed, match="No PostgreSQL server answers"), \
            database.connection():
        pass


def test_invalid_conninfo_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Invalid connection string"):
        db.connect("host=a nonsense", load_config())


def test_an_invalid_dsn_is_refused_before_connecting_and_names_its_origin() -> None:
    with pytest.raises(ConfigError, match=r"\(the DSN given\)") as info:
        db.choose_target(load_config(), "postgresql://u:S3cr3t%zz@h/d")
    assert "S3cr3t" not in str(info.value)
    cfg = load_config({"database_url": "host=h password=S3cr3t Pw"})
    with pytest.raises(ConfigError, match="database_url, from command line") as info:
        db.choose_target(cfg)
    assert "S3cr3t" not in str(info.value) and "Pw" not in str(info.value)


def test_timeouts_travel_in_whole_milliseconds() -> None:
    cfg = load_config({"statement_timeout": "1.5min", "lock_timeout": "750ms"})
    options = db.conninfo_to_dict(db.session_conninfo("host=h", cfg))["options"]
    assert options == "-c statement_timeout=90000 -c lock_timeout=750"


def test_sslmode_require_against_a_server_without_ssl(pg_db: TestDatabase) -> None:
    with pytest.raises(ConnectionFailed, match="does not accept SSL") as info:
        db.connect(pg_db.conninfo + " sslmode=require", load_config())
    assert "No PostgreSQL server answers" not in str(info.value)


def test_startup_options_the_server_refuses_are_not_a_login_problem(
    pg_db: TestDatabase,
) -> None:
    conninfo = pg_db.conninfo + " options='-c lock_timeout=-5'"
    with pytest.raises(ConnectionFailed, match="refused the session's startup options") as info:
        db.connect(conninfo, load_config())
    assert "password" not in str(info.value)


def test_a_wrong_password_is_a_login_problem(pg_db: TestDatabase) -> None:
    conninfo = make_conninfo(pg_db.conninfo, password="Wr0ng-Pw")
    with pytest.raises(ConnectionFailed, match="refused the login") as info:
        db.connect(conninfo, load_config())
    assert "Wr0ng-Pw" not in str(info.value)


def test_target_is_named_dsn_then_setting_then_libpq_then_embedded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = load_config({"database_url": "postgresql://u@h/d"})
    assert db.target_conninfo(cfg, "postgresql://x@y/z") == "postgresql://x@y/z"
    assert db.choose_target(cfg, "postgresql://x@y/z").origin == "the DSN given"
    assert db.target_conninfo(cfg) == "postgresql://u@h/d"
    assert db.choose_target(cfg).origin == "database_url, from command line"
    monkeypatch.setenv("PGHOST", "somewhere")
    assert db.target_conninfo(load_config()) == ""
    assert str(db.choose_target(load_config())).endswith("(libpq's PGHOST)")
    monkeypatch.delenv("PGHOST")
    with pytest.raises(ServerError, match="pgarchitect server start"):
        db.target_conninfo(load_config())


@pytest.fixture
def embedded() -> Iterator[LocalServer]:
    """The embedded server in this test's own data dir, as `pgarchitect server start` makes it."""
    server = embedded_server(load_config().data_dir, port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _current_database(conninfo: str) -> str:
    with db.connect(conninfo, load_config()) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def _create_database(server: LocalServer, name: str) -> None:
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def test_with_nothing_named_the_target_is_the_embedded_servers_demo_database(
    embedded: LocalServer,
) -> None:
    # What `pgarchitect demo` leaves: its database, recorded as the server's default.
    _create_database(embedded, DEMO_DATABASE)
    embedded.set_default_database(DEMO_DATABASE)
    config = load_config()  # nothing configured: no DSN, no database_url, no PG*
    assert _current_database(db.target_conninfo(config)) == DEMO_DATABASE
    target = db.choose_target(config)
    assert str(target).endswith(
        f"@127.0.0.1:{embedded.status().port}/{DEMO_DATABASE} "
        "(the embedded server's default database)")
    assert db.embedded_database(config, embedded)[0] == DEMO_DATABASE
    # The state keeps the password and the port next to the default, for its owner only.
    assert embedded.password and embedded.state_path.stat().st_mode & 0o777 == 0o600
    # A DSN, database_url and PG* variables still come first.
    other = embedded.conninfo("postgres")
    assert _current_database(db.target_conninfo(config, other)) == "postgres"


def test_with_the_demo_database_gone_the_target_falls_back_to_postgres(
    embedded: LocalServer,
) -> None:
    config = load_config()
    # A server the demo never ran on: `postgres`, as before.
    assert embedded.default_database is None
    assert _current_database(db.target_conninfo(config)) == "postgres"
    assert db.choose_target(config).origin == "the embedded server"
    # The demo ran, then its database was dropped (by hand, or by `demo --reset`
    # before it creates it again): `postgres`, with a note saying what to do.
    _create_database(embedded, DEMO_DATABASE)
    embedded.set_default_database(DEMO_DATABASE)
    with psycopg.connect(embedded.conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
            sql.Identifier(DEMO_DATABASE)))
    assert _current_database(db.target_conninfo(config)) == "postgres"
    origin = db.choose_target(config).origin
    assert f"default database {DEMO_DATABASE} no longer exists" in origin
    assert "make demo" in origin
    assert embedded.default_database == DEMO_DATABASE  # a new demo run makes it right
    # Forgetting the default leads to `postgres` without a note.
    embedded.set_default_database(None)
    assert db.choose_target(config).origin == "the embedded server"


def test_capabilities(pg_db: TestDatabase) -> None:
    with db.connect(pg_db.conninfo, load_config()) as conn:
        caps = db.capabilities(conn)
    assert caps.major == pg_db.major
    assert caps.database == pg_db.name and caps.role == "postgres"
    assert caps.superuser and caps.read_all_stats and caps.create_on_database
    assert caps.statements_loaded and caps.track_io_timing
    assert caps.has("pg_stat_statements")
    assert not caps.own_schema_exists
    if pg_db.major == 18:
        assert caps.has("vector") and "hypopg" not in caps.available
    else:
        assert caps.has("hypopg") and "vector" not in caps.available


def test_capabilities_of_a_limited_role(pg_db: TestDatabase) -> None:
    role = f"limited_{pg_db.name}"  # roles are cluster-wide: one per test database
    with pg_db.connect() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(role)))
        admin.execute("CREATE SCHEMA pgarchitect")
    try:
        conninfo = make_conninfo(pg_db.conninfo, user=role, password="pw")
        with db.connect(conninfo, load_config()) as conn:
            caps = db.capabilities(conn)
            assert not caps.superuser and not caps.read_all_stats
            assert caps.own_schema_exists and not caps.create_on_own_schema
            with pg_db.connect() as admin:
                admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(
                    sql.Identifier(role)))
                admin.execute(sql.SQL("GRANT CREATE ON SCHEMA pgarchitect TO {}").format(
                    sql.Identifier(role)))
            caps = db.capabilities(conn)
            assert caps.read_all_stats and caps.create_on_own_schema
    finally:
        with pg_db.connect() as admin:
            admin.execute("DROP SCHEMA pgarchitect")
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
