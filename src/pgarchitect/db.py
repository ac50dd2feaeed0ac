"""Connections to PostgreSQL and what the server and role can do.

Only this module opens connections. Every session pgarchitect opens sets
``statement_timeout``, ``lock_timeout`` and ``application_name``, and every
statement it sends starts with the ``/* pgarchitect */`` tag, so that a DBA can
see (and pg_stat_statements readers can exclude) pgarchitect's own work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString, cast

import psycopg
from psycopg import pq, sql
from psycopg.abc import Params, Query
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.copy import Copy, Writer
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from pgarchitect.errors import ConfigError, ConnectionFailed, ServerError
from pgarchitect.server import MAINTENANCE_DATABASE, LocalServer, embedded_server
from pgarchitect.settings import LIBPQ_TARGET_VARS, Config, duration_ms, redact

TAG: LiteralString = "/* pgarchitect */ "


def tag(query: Query) -> Query:
    """Prefix a query with the pgarchitect tag.

    >>> tag("SELECT 1")
    '/* pgarchitect */ SELECT 1'
    """
    if isinstance(query, str):
        return query if query.startswith(TAG) else TAG + query
    if isinstance(query, bytes):
        return query if query.startswith(TAG.encode()) else TAG.encode() + query
    if isinstance(query, sql.Composable):
        return sql.Composed([sql.SQL(TAG), query])
    return query


class TaggedCursor(psycopg.Cursor[TupleRow]):
    """A cursor that tags every statement and, with ``log_sql``, prints it."""

    def execute(self, query: Query, params: Any = None, **kwargs: Any) -> TaggedCursor:
        query = tag(query)
        if getattr(self.connection, "log_sql", False):
            text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
            print(f"[sql] {text}", file=sys.stderr)
        super().execute(cast(Any, query), params, **kwargs)  # Query, tagged
        return self

    @contextmanager
    def copy(
        self, statement: Query, params: Params | None = None, *, writer: Writer | None = None
    ) -> Iterator[Copy]:
        with super().copy(cast(Any, tag(statement)), params, writer=writer) as cp:
            yield cp


class Connection(psycopg.Connection[TupleRow]):
    """A psycopg connection whose cursors are :class:`TaggedCursor`."""

    log_sql: bool = False


def session_conninfo(conninfo: str, config: Config) -> str:
    """``conninfo`` with pgarchitect's session settings added.

    The timeouts travel in the startup packet (libpq ``options``), so they are in
    force before the first statement runs and survive a pool reset.
    """
    params = check_conninfo(conninfo)
    options = str(params.get("options") or "")
    # In whole milliseconds, as settings.py checked them (1ms to INT_MAX).
    ours = " ".join(f"-c {name}={duration_ms(config.get_str(name))}"
                    for name in ("statement_timeout", "lock_timeout"))
    return make_conninfo(
        conninfo,
        application_name=config.get_str("application_name"),
        options=f"{options} {ours}".strip(),
    )


def check_conninfo(conninfo: str, origin: str = "") -> dict[str, Any]:
    """The parameters of a URL or conninfo, or a ConfigError that says what is wrong.

    libpq's parse errors quote the text they stumble on, which may be the password
    or the whole URL: the message is given without anything that may be a secret.
    """
    try:
        return conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        problem = redact(str(exc).strip(), conninfo, (os.environ.get("PGPASSWORD", ""),))
        raise ConfigError(
            f"Invalid connection string{f' ({origin})' if origin else ''}: {problem}. "
            "Use a postgresql:// URL (with % written %25 and other special characters "
            "percent-encoded) or a libpq conninfo (key=value, a value with spaces in "
            "single quotes); better, keep the password in ~/.pgpass or PGPASSWORD."
        ) from None


@dataclass(frozen=True)
class Target:
    """The database a command works on, and why that one (for messages)."""

    conninfo: str  # "": libpq takes the whole target from its PG* variables
    origin: str

    def __str__(self) -> str:
        return f"{describe(self.conninfo)} ({self.origin})"


def choose_target(config: Config, dsn: str | None = None) -> Target:
    """The database to work on, and why that one.

    In README's "Which database" order: ``dsn``, the ``database_url`` setting,
    libpq's PG* variables, else the embedded server (its default database, see
    :func:`embedded_database`).
    """
    if dsn:
        check_conninfo(dsn, "the DSN given")
        return Target(dsn, "the DSN given")
    url = config.get_str("database_url")
    if url:
        origin = f"database_url, from {config.sources['database_url']}"
        check_conninfo(url, origin)
        return Target(url, origin)
    if config.names_libpq_target():
        named = ", ".join(v for v in LIBPQ_TARGET_VARS if config.environ.get(v))
        return Target("", f"libpq's {named}")  # libpq reads PGHOST, PGDATABASE… itself
    server = embedded_server(config.data_dir)
    if not server.status().running:
        raise ServerError(
            "No database named and the embedded server is not running: run "
            "`pgarchitect server start`, or set PGARCHITECT_DATABASE_URL (or pass a DSN)."
        )
    dbname, origin = embedded_database(config, server)
    return Target(server.conninfo(dbname), origin)


def target_conninfo(config: Config, dsn: str | None = None) -> str:
    """The conninfo of the database to work on (see :func:`choose_target`)."""
    return choose_target(config, dsn).conninfo


# A database a session can open: not template0 (datallowconn), and not one an
# interrupted DROP DATABASE left invalid (datconnlimit -2, see
# https://www.postgresql.org/docs/current/catalog-pg-database.html).
DATABASE_USABLE_SQL = """
SELECT 1 FROM pg_database
WHERE datname = %s AND datallowconn AND datconnlimit <> -2
"""


def embedded_database(config: Config, server: LocalServer) -> tuple[str, str]:
    """The embedded server's database for commands that name none, and why that one.

    It is the database recorded as the server's default (``pgarchitect demo``
    records its own) while that exists, else ``postgres``: a demo database dropped
    since (by hand, or by ``demo --reset`` before it creates it again) leads back
    to ``postgres`` with a note saying how to load it again. A stopped server cannot
    be asked, so its recorded default is then taken on trust.
    """
    recorded = server.default_database
    if recorded is None or recorded == MAINTENANCE_DATABASE:
        return MAINTENANCE_DATABASE, "the embedded server"
    if not server.status().running:
        return recorded, "the embedded server's default database (not checked: it is stopped)"
    with connect(server.conninfo(MAINTENANCE_DATABASE), config) as conn:
        usable = conn.execute(DATABASE_USABLE_SQL, [recorded]).fetchone() is not None
    if usable:
        return recorded, "the embedded server's default database"
    return MAINTENANCE_DATABASE, (
        f"the embedded server; its default database {recorded} no longer exists: run "
        "`make demo` (or `pgarchitect demo`) to load it again"
    )


def describe(conninfo: str) -> str:
    """``user@host:port/dbname`` for messages, with libpq's defaults filled in."""
    params = {o.keyword.decode(): (o.val or b"").decode() for o in pq.Conninfo.get_defaults()}
    try:
        params.update({k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v})
    except psycopg.ProgrammingError:
        return "(invalid connection string)"
    host = params.get("host") or params.get("hostaddr") or "local socket"
    return f"{params.get('user', '')}@{host}:{params.get('port', '')}/{params.get('dbname', '')}"


def _answers(conninfo: str) -> bool:
    """Whether a server answers at all (PQping), whatever it would say to a login."""
    return pq.Ping(pq.PGconn.ping(conninfo.encode())) != pq.Ping.NO_RESPONSE


def explain_connect_failure(
    conninfo: str, exc: psycopg.OperationalError, config: Config | None = None
) -> ConnectionFailed:
    """Say why a connection failed and what to do.

    libpq gives no SQLSTATE for connection failures, so the cause is found by
    asking again in ways that isolate it: PQping says whether the server answers
    at all; with sslmode=prefer, whether only SSL was missing; a login without the
    startup options, whether the options were what the server refused (it reads
    them after the authentication). libpq's own text is shown with anything that
    may be a password hidden.
    """
    where = describe(conninfo)
    text = str(exc).strip()
    detail = text.splitlines()[-1] if text else type(exc).__name__
    detail = redact(detail, conninfo, (os.environ.get("PGPASSWORD", ""),))
    ping = pq.Ping(pq.PGconn.ping(conninfo.encode()))
    # The DSN's sslmode, else PGSSLMODE, else libpq's default (prefer).
    sslmode = str(conninfo_to_dict(conninfo).get("sslmode") or os.environ.get("PGSSLMODE", ""))
    if ping == pq.Ping.NO_RESPONSE and sslmode in ("require", "verify-ca", "verify-full"):
        if _answers(make_conninfo(conninfo, sslmode="prefer")):
            return ConnectionFailed(
                f"The server at {where} does not accept SSL connections, and "
                f"sslmode={sslmode} requires SSL. Enable SSL on the server, or set "
                "sslmode=prefer (or disable) in the DSN or PGSSLMODE."
            )
        if sslmode != "require" and _answers(make_conninfo(conninfo, sslmode="require")):
            return ConnectionFailed(
                f"The server at {where} answers with SSL, but its certificate could not "
                f"be verified: {detail}. Give its CA in sslrootcert, or use "
                "sslmode=require."
            )
    if ping == pq.Ping.NO_RESPONSE:
        return ConnectionFailed(
            f"No PostgreSQL server answers at {where}. Start it (`pgarchitect server "
            "start` for the embedded one) or fix the host and port in the DSN."
        )
    if ping == pq.Ping.NO_ATTEMPT:
        return ConnectionFailed(f"Invalid connection settings for {where}: {detail}")
    if ping == pq.Ping.REJECT:
        return ConnectionFailed(
            f"The server at {where} is not accepting connections (starting up or shutting "
            f"down?): {detail}"
        )
    if _refuses_only_the_options(conninfo):
        timeouts = (
            f" (statement_timeout={config.get_str('statement_timeout')}, "
            f"lock_timeout={config.get_str('lock_timeout')})" if config else "")
        return ConnectionFailed(
            f"The server at {where} refused the session's startup options{timeouts}: "
            f"{detail}. Change statement_timeout or lock_timeout (PGARCHITECT_*), or the "
            "options of the DSN or PGOPTIONS."
        )
    return ConnectionFailed(
        f"The server at {where} refused the login: {detail}. Check the user name, the "
        "password (~/.pgpass or PGPASSWORD), the database name and pg_hba.conf."
    )


def _refuses_only_the_options(conninfo: str) -> bool:
    """Whether a login with no startup options (ours, the DSN's, PGOPTIONS) works."""
    try:
        psycopg.connect(make_conninfo(conninfo, options=" "), connect_timeout=5).close()
    except psycopg.Error:
        return False
    return True


def connect(conninfo: str, config: Config, *, autocommit: bool = True) -> Connection:
    """Open one tagged connection with pgarchitect's session settings."""
    full = session_conninfo(conninfo, config)
    try:
        conn = Connection.connect(full, autocommit=autocommit, cursor_factory=TaggedCursor)
    except psycopg.OperationalError as exc:
        raise explain_connect_failure(conninfo, exc, config) from None
    conn.log_sql = config.get_bool("log_sql")
    return conn


@dataclass
class Database:
    """A target database: its conninfo, the settings, and a lazily opened pool."""

    conninfo: str
    config: Config
    _pool: ConnectionPool[Connection] | None = field(default=None, repr=False)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection (autocommit), returned to the pool afterwards."""
        if self._pool is None:
            # Fail fast with a clear message instead of the pool's retry loop.
            connect(self.conninfo, self.config).close()
            log_sql = self.config.get_bool("log_sql")

            def configure(conn: Connection) -> None:
                conn.log_sql = log_sql

            self._pool = ConnectionPool(
                session_conninfo(self.conninfo, self.config),
                connection_class=Connection,
                kwargs={"autocommit": True, "cursor_factory": TaggedCursor},
                configure=configure,
                min_size=1,
                max_size=max(1, self.config.get_int("pool_size")),
                open=True,
            )
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- capabilities ---------------------------------------------------------------

CAPABILITIES_SQL = """
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       current_database(),
       current_user,
       r.rolsuper,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       has_database_privilege(current_database(), 'CREATE'),
       n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'CREATE'),
       n.oid IS NOT NULL,
       -- readable only by superusers and pg_read_all_settings members
       CASE WHEN r.rolsuper OR pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
            THEN current_setting('shared_preload_libraries') END,
       current_setting('track_io_timing')::bool
FROM pg_roles r
LEFT JOIN pg_namespace n ON n.nspname = 'pgarchitect'
WHERE r.rolname = current_user
"""

EXTENSIONS_SQL = """
SELECT a.name, a.default_version, e.extversion
FROM pg_available_extensions a
LEFT JOIN pg_extension e ON e.extname = a.name
WHERE a.name = ANY(%s)
"""

INTERESTING_EXTENSIONS = ("pg_stat_statements", "hypopg", "vector", "pg_trgm")


@dataclass(frozen=True)
class Capabilities:
    """What the server offers and what the connected role may do."""

    version_num: int
    version: str
    database: str
    role: str
    superuser: bool
    read_all_stats: bool
    create_on_database: bool
    create_on_own_schema: bool
    own_schema_exists: bool
    preload_libraries: tuple[str, ...] | None  # None: this role may not read the setting
    statements_loaded: bool  # pg_stat_statements is in shared_preload_libraries
    track_io_timing: bool
    available: Mapping[str, str]  # extension -> default version, installable here
    installed: Mapping[str, str]  # extension -> installed version in this database

    @property
    def major(self) -> int:
        return self.version_num // 10000

    def has(self, extension: str) -> bool:
        """Whether the extension is created in this database."""
        return extension in self.installed


EXTENSION_SQL = """
SELECT n.nspname, e.extversion
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = %s
"""


@contextmanager
def target_and_store(config: Config, dsn: str | None = None, conn: Connection | None = None
                     ) -> Iterator[tuple[Connection, Connection]]:
    """The target (``conn`` when given, left open) and pgarchitect's store (``store_url``,
    else the target), both closed at the end unless given."""
    target = conn if conn is not None else connect(target_conninfo(config, dsn), config)
    store_url = config.get_str("store_url")
    store = connect(store_url, config) if store_url else target
    try:
        yield target, store
    finally:
        if store is not target:
            store.close()
        if target is not conn:
            target.close()


def extension(conn: psycopg.Connection[Any], name: str) -> tuple[str, str] | None:
    """The schema and version of an extension created in the connected database, or None."""
    row = conn.execute(EXTENSION_SQL, [name]).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def capabilities(conn: psycopg.Connection[Any]) -> Capabilities:
    """Read the server's version, extensions, preloads and the role's privileges."""
    row = conn.execute(CAPABILITIES_SQL).fetchone()
    assert row is not None
    ext_rows = conn.execute(EXTENSIONS_SQL, [list(INTERESTING_EXTENSIONS)]).fetchall()
    preload = None if row[9] is None else tuple(
        p.strip() for p in str(row[9]).split(",") if p.strip()
    )
    installed = {name: ver for name, _, ver in ext_rows if ver is not None}
    if preload is not None:
        loaded = "pg_stat_statements" in preload
    else:
        loaded = "pg_stat_statements" in installed and _statements_readable(conn)
    return Capabilities(
        version_num=row[0],
        version=row[1],
        database=row[2],
        role=row[3],
        superuser=row[4],
        read_all_stats=row[4] or row[5],
        create_on_database=row[6],
        create_on_own_schema=row[7],
        own_schema_exists=row[8],
        preload_libraries=preload,
        statements_loaded=loaded,
        track_io_timing=row[10],
        available={name: default for name, default, _ in ext_rows},
        installed=installed,
    )


def _statements_readable(conn: psycopg.Connection[Any]) -> bool:
    """Whether pg_stat_statements answers (it raises when not preloaded)."""
    try:
        with conn.transaction():
            conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return False
    return True
