"""No password ever reaches standard output or standard error.

A distinctive password goes through every shape of DSN (URL userinfo, URL
``?password=``, conninfo, quoted conninfo, broken ones, PGPASSWORD) and every
error path we can reach, through the real ``pgarchitect`` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from support.servers import TestDatabase

from pgarchitect.server import free_port

SECRET = "S3cr3t-Pw"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pgarchitect ARGS`` in a process of its own, wide enough that no cell is cut."""
    full = {**os.environ, "COLUMNS": "400", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pgarchitect.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120)


def assert_hidden(result: subprocess.CompletedProcess[str], secret: str = SECRET) -> None:
    for part in (secret, *secret.split("-")):
        assert part not in result.stdout and part not in result.stderr, (
            f"{part!r} printed:\n{result.stdout}\n{result.stderr}")


def dead_port() -> int:
    return free_port()


# DSNs libpq reads; none points at a live server.
def valid_dsns() -> list[str]:
    port = dead_port()
    return [
        f"postgresql://app:{SECRET}@127.0.0.1:{port}/prod",
        f"postgresql://app@127.0.0.1:{port}/prod?password={SECRET}",
        f"postgresql://app:other@127.0.0.1:{port}/prod?sslmode=disable&password={SECRET}",
        f"host=127.0.0.1 port={port} user=app password={SECRET} dbname=prod",
        f"host=127.0.0.1 port={port} user=app password='{SECRET} with spaces' dbname=prod",
    ]


# Strings libpq cannot read, each with the password in it.
BROKEN_DSNS = [
    f"postgresql://app:{SECRET}%zz@db/prod",  # bad percent-escape in the password
    f"postgresql://app@db/prod?password={SECRET}%g1",  # in a parameter
    f"host=db user=app password={SECRET} Pw dbname=prod",  # a space, unquoted
    f"host=db password='{SECRET}",  # unterminated quote
    f"postgresql://app:{SECRET}@[db/prod",  # libpq echoes the whole URL
    f"host=db password={SECRET} nonsense=1",  # an unknown keyword after it
    f"postgresql://app:{SECRET}@db/prod?nonsense=1",
]


@pytest.mark.parametrize("dsn", BROKEN_DSNS)
@pytest.mark.parametrize("command", ["doctor", "workload"])
def test_a_broken_dsn_argument_is_refused_without_its_password(dsn: str, command: str) -> None:
    result = run(command, dsn)
    assert result.returncode == 2, result.stderr
    assert "Invalid connection string (the DSN given)" in result.stderr
    assert_hidden(result)


@pytest.mark.parametrize("dsn", BROKEN_DSNS)
def test_a_broken_database_url_is_shown_and_refused_without_its_password(dsn: str) -> None:
    env = {"PGARCHITECT_DATABASE_URL": dsn}
    shown = run("config", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "database_url" in shown.stdout
    assert_hidden(shown)
    refused = run("doctor", env=env)
    assert refused.returncode == 2
    assert "database_url, from $PGARCHITECT_DATABASE_URL" in refused.stderr
    assert_hidden(refused)


def test_every_valid_dsn_shape_is_masked_by_config() -> None:
    for dsn in valid_dsns():
        for var in ("PGARCHITECT_DATABASE_URL", "DATABASE_URL", "PGARCHITECT_KB_URL",
                    "PGARCHITECT_STORE_URL"):
            result = run("config", env={var: dsn})
            assert result.returncode == 0, result.stderr
            assert "****" in result.stdout
            assert_hidden(result)


def test_pgpassword_is_masked_by_config() -> None:
    result = run("config", env={"PGPASSWORD": SECRET, "PGHOST": "127.0.0.1"})
    assert result.returncode == 0
    assert "PGPASSWORD" in result.stdout
    assert_hidden(result)


def test_a_password_in_the_config_file_is_masked(tmp_path: os.PathLike[str]) -> None:
    with open(os.path.join(tmp_path, "pgarchitect.toml"), "w") as f:
        f.write(f'database_url = "postgresql://app:{SECRET}@db/prod"\n'
                f'kb_url = "host=db password={SECRET} Pw"\n')
    result = run("config")
    assert result.returncode == 0, result.stderr
    assert_hidden(result)


def test_a_secret_setting_of_the_wrong_type_is_refused_without_its_value(
        tmp_path: os.PathLike[str]) -> None:
    with open(os.path.join(tmp_path, "pgarchitect.toml"), "w") as f:
        f.write(f'database_url = ["postgresql://app:{SECRET}@db/prod"]\n')
    result = run("config")
    assert result.returncode == 2
    assert "database_url" in result.stderr
    assert_hidden(result)


@pytest.mark.parametrize("command", ["doctor", "workload"])
def test_no_server_answering_says_so_without_the_password(command: str) -> None:
    for dsn in valid_dsns():
        result = run(command, dsn)
        assert result.returncode == 3, result.stderr
        assert "No PostgreSQL server answers" in result.stderr
        assert_hidden(result)
    result = run(command, env={"PGHOST": "127.0.0.1", "PGPORT": str(dead_port()),
                               "PGPASSWORD": SECRET})
    assert result.returncode == 3
    assert_hidden(result)


def _with_password(conninfo: str, password: str) -> str:
    return make_conninfo(conninfo, password=password)


def _as_url(conninfo: str, password: str) -> str:
    p = conninfo_to_dict(conninfo)
    return (f"postgresql://{p['user']}:{quote(password, safe='')}@{p['host']}:{p['port']}/"
            f"{p['dbname']}")


@pytest.mark.parametrize("command", ["doctor", "workload"])
def test_a_wrong_password_on_a_real_server_is_not_printed(pg_db: TestDatabase,
                                                          command: str) -> None:
    wrong = f"{SECRET} wrong"
    for dsn in (_with_password(pg_db.conninfo, wrong), _as_url(pg_db.conninfo, wrong),
                _as_url(pg_db.conninfo, "x") + f"?password={quote(wrong)}"):
        result = run(command, dsn)
        assert result.returncode == 3, result.stderr
        assert "refused the login" in result.stderr
        assert_hidden(result, wrong)
    params = conninfo_to_dict(pg_db.conninfo)
    env = {"PGHOST": str(params["host"]), "PGPORT": str(params["port"]),
           "PGUSER": str(params["user"]), "PGDATABASE": pg_db.name, "PGPASSWORD": wrong}
    result = run(command, env=env)
    assert result.returncode == 3, result.stderr
    assert_hidden(result, wrong)


def test_the_right_password_is_not_printed_either(pg_db: TestDatabase) -> None:
    password = str(conninfo_to_dict(pg_db.conninfo)["password"])
    for dsn in (pg_db.conninfo, _as_url(pg_db.conninfo, password)):
        for args in (("doctor", dsn), ("workload", dsn, "--min-calls", "0", "--min-mean-ms", "0")):
            result = run(*args)
            assert result.returncode in (0, 1), result.stderr
            assert_hidden(result, password)
        result = run("config", env={"PGARCHITECT_DATABASE_URL": dsn})
        assert_hidden(result, password)


def test_sslmode_require_without_ssl_says_so(pg_db: TestDatabase) -> None:
    result = run("doctor", pg_db.conninfo + " sslmode=require")
    assert result.returncode == 3
    assert "does not accept SSL" in result.stderr and "sslmode" in result.stderr
    assert_hidden(result, str(conninfo_to_dict(pg_db.conninfo)["password"]))
