"""Fixtures: real PostgreSQL servers started by the session, a database per test.

- ``pg_db``: a fresh database, on PostgreSQL 18 and on PostgreSQL 15 (the test runs
  once per server); ``@pytest.mark.pg(">= 16")`` narrows the servers.
- ``db18`` / ``db15``: a fresh database on one server only.
- ``pg18_server`` / ``pg15_server``: the servers themselves (``TestServer``).

A server that cannot start stops the whole run with one message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import SPECS, TestDatabase, TestServer, start_server, version_matches

from pgarchitect.errors import ServerError


def pytest_configure(config: pytest.Config) -> None:
    # pytest's default temporary root is shared by every session of the user, and a
    # new session deletes old ones' directories: with two runs at once, one removes
    # the other's servers. Each session gets a directory of its own instead.
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="pgarchitect-tests-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_BASETEMP, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's environment and config files out of every test."""
    for var in ("DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER",
                "PGSERVICE", "PGPASSWORD", "PGARCHITECT_CONFIG", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("PGARCHITECT_")]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PGARCHITECT_DATA_DIR", str(tmp_path / "pgarchitect-data"))
    monkeypatch.chdir(tmp_path)


def _start(request: pytest.FixtureRequest, name: str, **settings: str) -> TestServer:
    base = request.getfixturevalue("tmp_path_factory").mktemp(f"server-{name}")
    try:
        return start_server(SPECS[name], base, **settings)
    except (ServerError, RuntimeError, OSError) as exc:
        message = f"Cannot start the test server {name}: {exc}"
    # Stop the whole run after this test, with the reason as its last line
    # (pytest.exit() from a fixture's setup trips pytest's own teardown).
    request.session.shouldfail = message
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def pg18_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    server = _start(request, "pg18")
    yield server
    server.local.stop()


@pytest.fixture(scope="session")
def pg15_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    server = _start(request, "pg15")
    yield server
    server.local.stop()


@pytest.fixture(scope="session")
def pg15_bare_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    """PostgreSQL 15 without pg_stat_statements preloaded, for doctor's failure cases."""
    server = _start(request, "pg15", shared_preload_libraries="''")
    yield server
    server.local.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pg_name" not in metafunc.fixturenames:
        return
    specs = [m.args[0] for m in metafunc.definition.iter_markers("pg")]
    names = [n for n, spec in SPECS.items()
             if all(version_matches(s, spec.major) for s in specs)]
    if not names:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: no test server matches {specs}")
    metafunc.parametrize("pg_name", names)


@pytest.fixture
def pg_server(pg_name: str, request: pytest.FixtureRequest) -> TestServer:
    server = request.getfixturevalue(f"{pg_name}_server")
    assert isinstance(server, TestServer)
    return server


def _database(server: TestServer) -> Iterator[TestDatabase]:
    db = server.create_database()
    yield db
    server.drop_database(db.name)


@pytest.fixture
def pg_db(pg_server: TestServer) -> Iterator[TestDatabase]:
    yield from _database(pg_server)


@pytest.fixture
def db18(pg18_server: TestServer) -> Iterator[TestDatabase]:
    yield from _database(pg18_server)


@pytest.fixture
def db15(pg15_server: TestServer) -> Iterator[TestDatabase]:
    yield from _database(pg15_server)
