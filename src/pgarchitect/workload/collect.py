"""Choose a workload source from what the user named, read it, and filter it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from pgarchitect import db
from pgarchitect.errors import ConfigError
from pgarchitect.settings import Config
from pgarchitect.workload import Filters, Source, Workload, select

_WINDOW = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """A window such as ``7d``, ``24h``, ``30m`` or ``2w``.

    >>> parse_window("7d"), parse_window("36h")
    (datetime.timedelta(days=7), datetime.timedelta(days=1, seconds=43200))
    """
    match = _WINDOW.match(text)
    if not match:
        raise ConfigError(f"--since {text!r} is not a window: use e.g. 7d, 24h, 30m or 2w.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class Request:
    """What to read: one of statements, a file, a log, or the database's statistics."""

    dsn: str | None = None
    since: timedelta | None = None
    statements: Sequence[str] = ()
    file: Path | None = None
    log: Path | None = None
    log_format: str = "auto"
    database: str | None = None
    filters: Filters = field(default_factory=Filters)


def filters_from(config: Config, **given: Any) -> Filters:
    """Filters from the settings, with the flags given on the command line on top."""
    values: dict[str, Any] = {
        "min_mean_ms": config.get_float("min_mean_ms"),
        "min_calls": config.get_int("min_calls"),
        "top": config.get_int("top"),
    }
    values.update({k: v for k, v in given.items() if v is not None})
    for key in ("include_tables", "exclude_tables"):
        values[key] = frozenset(values.get(key) or ())
    return Filters(**values)


def collect(config: Config, request: Request, conn: Any = None) -> tuple[str, Workload]:
    """Read the requested source and apply the filters; returns (source name, workload).

    ``conn``, an open connection to the target, is used instead of a new one.
    """
    source: Source
    if request.statements or request.file:
        from pgarchitect.workload.text import FileSource, StatementSource

        source = (StatementSource(request.statements) if request.statements
                  else FileSource(request.file))  # type: ignore[arg-type]
        # Text alone has no timings: every statement counts, whatever the thresholds.
        filters = replace(request.filters, min_mean_ms=-1.0, min_calls=0)
        return source.name, select(source.read(), filters)
    if request.log:
        from pgarchitect.workload.logs import LogSource

        source = LogSource(request.log, format=request.log_format, database=request.database)
        return source.name, select(source.read(), request.filters)
    with db.target_and_store(config, request.dsn, conn) as (target, store):
        if request.since is not None:
            from pgarchitect.workload.snapshots import SnapshotDeltaSource

            source = SnapshotDeltaSource(target, store, request.since)
        else:
            from pgarchitect.workload.pgss import PgStatStatementsSource

            source = PgStatStatementsSource(target, request.database)
        return source.name, select(source.read(), request.filters)


def take_snapshot(config: Config, dsn: str | None) -> Any:
    """Store a snapshot of the target's statistics (in the store database)."""
    from pgarchitect.workload.snapshots import take

    with db.target_and_store(config, dsn) as (target, store):
        return take(target, store)


def snapshots(config: Config, dsn: str | None) -> list[Any]:
    """The snapshots stored for the target, oldest first."""
    from pgarchitect.workload.snapshots import list_snapshots, target_of

    with db.target_and_store(config, dsn) as (target, store):
        return list_snapshots(store, target_of(target))


