"""The one exception root and its domain subclasses.

Every message says what happened and what to do about it; the CLI turns these
into a one-line message and an exit code, at the edge only.
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only (a server error's DETAIL and HINT follow it).

    >>> first_line(ValueError("bad value\\nDETAIL: more")), first_line(KeyError())
    ('bad value', 'KeyError')
    """
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgArchitectError(Exception):
    """Root of every error pgarchitect raises on purpose."""

    exit_code = 1


class ConfigError(PgArchitectError):
    """A setting has a value pgarchitect cannot use."""

    exit_code = 2


class ConnectionFailed(PgArchitectError):
    """The database could not be reached or refused the login."""

    exit_code = 3


class ServerError(PgArchitectError):
    """The embedded PostgreSQL server could not be initialised, started or stopped."""

    exit_code = 4


class CapabilityMissing(PgArchitectError):
    """The server lacks an extension, a preload or a privilege a feature needs."""

    exit_code = 5


class DemoError(PgArchitectError):
    """The demo database could not be created, loaded or exercised."""

    exit_code = 6


class AuditBusy(PgArchitectError):
    """Another audit of the same database holds its lock."""

    exit_code = 7
