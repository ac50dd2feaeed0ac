"""What works on a target database, what is missing, and the command that fixes each gap.

Each check is a plain function of :class:`~pgarchitect.db.Capabilities` returning a
:class:`Check`; :data:`CHECKS` is their ordered tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pgarchitect.db import Capabilities

Status = Literal["ok", "warn", "fail"]

MIN_VERSION_NUM = 130000  # pg_stat_statements' total_exec_time and friends appear in 13


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def _quote_ident(name: str) -> str:
    """Quote an identifier for a command shown to the user.

    >>> _quote_ident("app")
    'app'
    >>> _quote_ident("App User")
    '"App User"'
    """
    if name.isidentifier() and name == name.lower() and name.isascii():
        return name
    return '"' + name.replace('"', '""') + '"'


def check_version(c: Capabilities) -> Check:
    if c.version_num >= MIN_VERSION_NUM:
        return Check("server version", "ok", f"PostgreSQL {c.version}")
    return Check(
        "server version",
        "fail",
        f"PostgreSQL {c.version} is older than 13, which pgarchitect needs",
        "Upgrade the server to PostgreSQL 13 or later.",
    )


def check_preload(c: Capabilities) -> Check:
    if c.statements_loaded:
        return Check("pg_stat_statements preloaded", "ok", "in shared_preload_libraries")
    if c.preload_libraries is None and not c.has("pg_stat_statements"):
        return Check("pg_stat_statements preloaded", "warn",
                     f"{c.role} may not read shared_preload_libraries; unknown until the "
                     "extension is created", "Ask a superuser, or see the next check.")
    if c.preload_libraries is None:
        fix = ("Add pg_stat_statements to shared_preload_libraries (keep the libraries "
               "already listed), then restart PostgreSQL.")
    else:
        libs = ", ".join([*c.preload_libraries, "pg_stat_statements"])
        fix = f"ALTER SYSTEM SET shared_preload_libraries = '{libs}'; then restart PostgreSQL."
    return Check(
        "pg_stat_statements preloaded",
        "fail",
        "not in shared_preload_libraries: no statement statistics are collected",
        fix,
    )


def check_statements_extension(c: Capabilities) -> Check:
    name = "pg_stat_statements extension"
    if c.has("pg_stat_statements"):
        return Check(name, "ok", f"version {c.installed['pg_stat_statements']} in {c.database}")
    if "pg_stat_statements" not in c.available:
        return Check(
            name,
            "fail",
            "not installed on the server",
            f"Install PostgreSQL's contrib modules (Debian: apt-get install "
            f"postgresql-contrib), then CREATE EXTENSION pg_stat_statements; in {c.database}.",
        )
    return Check(
        name,
        "fail",
        f"not created in database {c.database}",
        f"Run in database {c.database}: CREATE EXTENSION pg_stat_statements;",
    )


def check_read_all_stats(c: Capabilities) -> Check:
    name = "role reads all statistics"
    if c.superuser:
        return Check(name, "ok", f"{c.role} is a superuser")
    if c.read_all_stats:
        return Check(name, "ok", f"{c.role} has pg_read_all_stats")
    return Check(
        name,
        "fail",
        f"{c.role} lacks pg_read_all_stats: other roles' statements show as "
        "<insufficient privilege>",
        f"As a superuser: GRANT pg_read_all_stats TO {_quote_ident(c.role)};",
    )


def check_own_schema(c: Capabilities) -> Check:
    name = "schema for pgarchitect's tables"
    if c.create_on_own_schema:
        return Check(name, "ok", "schema pgarchitect exists and is writable")
    if not c.own_schema_exists and c.create_on_database:
        return Check(name, "ok", "schema pgarchitect will be created on first use")
    return Check(
        name,
        "warn",
        "cannot create or write schema pgarchitect: snapshots and the knowledge base "
        "need it (or a separate database)",
        f"As the database owner: CREATE SCHEMA IF NOT EXISTS pgarchitect AUTHORIZATION "
        f"{_quote_ident(c.role)};",
    )


def _optional_extension(c: Capabilities, name: str, extension: str, package: str,
                        without: str) -> Check:
    """An extension pgarchitect uses when present and works around when not."""
    if c.has(extension):
        return Check(name, "ok", f"version {c.installed[extension]}")
    if extension in c.available:
        return Check(name, "warn", f"available but not created; {without}",
                     f"Run in database {c.database}: CREATE EXTENSION {extension};")
    return Check(name, "warn", f"not installed; {without}",
                 f"Debian: apt-get install postgresql-{c.major}-{package}, then "
                 f"CREATE EXTENSION {extension};")


def check_hypopg(c: Capabilities) -> Check:
    return _optional_extension(
        c, "hypopg (what-if without building)", "hypopg", "hypopg",
        "what-if builds indexes in a rolled-back transaction instead",
    )


def check_vector(c: Capabilities) -> Check:
    return _optional_extension(
        c, "pgvector (knowledge base)", "vector", "pgvector",
        "similar cases are ranked in Python",
    )


def check_io_timing(c: Capabilities) -> Check:
    name = "track_io_timing"
    if c.track_io_timing:
        return Check(name, "ok", "on: I/O time is measured per statement")
    return Check(name, "warn", "off: statements' I/O time is not measured",
                 "ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();")


def check_index_building(c: Capabilities) -> Check:
    """Building an index (sandbox what-if, measurement) needs ownership of its table.

    ``CREATE INDEX`` is refused to anyone but the table's owner (or a member of the
    owning role), even in a transaction that is rolled back, and no GRANT on the
    table gives that right (https://www.postgresql.org/docs/current/sql-createindex.html).
    """
    name = "building indexes (sandbox what-if, measurement)"
    if c.superuser:
        return Check(name, "ok", f"{c.role} is a superuser and may build on any table")
    hypopg = ("HypoPG's what-if needs no ownership, but measurement still builds the index"
              if c.has("hypopg") else
              "with HypoPG the what-if would need no ownership, but measurement still "
              "builds the index")
    return Check(
        name,
        "warn",
        f"{c.role} can build indexes only on tables it owns (CREATE INDEX needs ownership "
        f"of the table, even in a transaction that is rolled back; SELECT is not enough): "
        f"elsewhere the sandbox and measurement say so instead of advising; {hypopg}",
        f"Run advise/audit as the tables' owner, or as a superuser: GRANT <tables' owner> TO "
        f"{_quote_ident(c.role)}; (membership in the owning role, which can also write)",
    )


def check_least_privilege(c: Capabilities) -> Check:
    name = "least privilege"
    if not c.superuser:
        return Check(name, "ok", f"{c.role} is not a superuser")
    return Check(name, "warn", f"{c.role} is a superuser; pgarchitect does not need that",
                 "Create the role shown below and connect as it.")


CHECKS: tuple[Callable[[Capabilities], Check], ...] = (
    check_version,
    check_preload,
    check_statements_extension,
    check_read_all_stats,
    check_own_schema,
    check_hypopg,
    check_vector,
    check_io_timing,
    check_index_building,
    check_least_privilege,
)


def diagnose(c: Capabilities) -> list[Check]:
    """Run every check, in order."""
    return [check(c) for check in CHECKS]


def least_privilege_sql(database: str, role: str = "pgarchitect") -> str:
    """The role a user should create for pgarchitect, as SQL to run as a superuser."""
    db, r = _quote_ident(database), _quote_ident(role)
    return "\n".join(
        [
            f"CREATE ROLE {r} LOGIN PASSWORD 'choose-a-password';",
            f"GRANT CONNECT ON DATABASE {db} TO {r};",
            "-- read pg_stat_statements and the statistics views for every role",
            f"GRANT pg_read_all_stats TO {r};",
            "-- plan and measure the application's statements (EXPLAIN ANALYZE runs",
            "-- inside transactions that are always rolled back)",
            f"GRANT USAGE ON SCHEMA public TO {r};",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {r};",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {r};",
            "-- pgarchitect's own tables (snapshots, knowledge base)",
            f"CREATE SCHEMA IF NOT EXISTS pgarchitect AUTHORIZATION {r};",
            "-- measure an index (and, without HypoPG, ask the planner about it): CREATE",
            "-- INDEX needs ownership of the table, even in a transaction that is rolled",
            "-- back, and no GRANT on a table gives it. Run advise and audit as the",
            "-- tables' owner, or make this role a member of the owning role (which also",
            "-- lets it write to the tables):",
            f"-- GRANT app_owner TO {r};",
        ]
    )
