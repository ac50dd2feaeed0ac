"""Which statements cost the most: read from ``pg_stat_statements``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect.db import TAG
from pgarchitect.errors import CapabilityMissing

# Statements pgarchitect never reports: its own (tagged; PostgreSQL 18 strips a
# leading comment from pg_stat_statements' copy, so there the tag cannot be seen),
# and reads of system catalogs and statistics views (pg_* relations), which is what
# pgarchitect itself and monitoring tools send.
EXCLUDED_PATTERNS = (TAG.strip() + "%", "%pg_stat_statements%")
CATALOG_READ = r"\m(from|join)\s+(pg_catalog\.)?pg_"


@dataclass(frozen=True)
class Statement:
    """One normalized statement with its cumulative counters."""

    queryid: int
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int

    @property
    def hit_ratio(self) -> float | None:
        """Share of shared-buffer accesses served from cache, when any happened."""
        total = self.shared_blks_hit + self.shared_blks_read
        return self.shared_blks_hit / total if total else None


def _top_sql(version_num: int) -> sql.Composed:
    # pg_stat_statements 1.9 (PostgreSQL 14) added "toplevel"; with track = all,
    # statements run inside functions are counted again as nested ones.
    toplevel = sql.SQL("AND s.toplevel") if version_num >= 140000 else sql.SQL("")
    return sql.SQL(
        """
        SELECT s.queryid, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows,
               s.shared_blks_hit, s.shared_blks_read
        FROM pg_stat_statements s
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          {toplevel}
          AND s.query NOT LIKE ALL(%(excluded)s)
          AND s.query !~* %(catalog)s
          AND s.calls >= %(min_calls)s
        ORDER BY s.total_exec_time DESC
        LIMIT %(limit)s
        """
    ).format(toplevel=toplevel)


def top_statements(
    conn: psycopg.Connection[Any], *, limit: int = 20, min_calls: int = 1
) -> list[Statement]:
    """The statements of the current database with the largest total execution time."""
    version = conn.info.server_version
    try:
        rows = conn.execute(
            _top_sql(version),
            {"excluded": list(EXCLUDED_PATTERNS), "catalog": CATALOG_READ,
             "min_calls": min_calls, "limit": limit},
        ).fetchall()
    except psycopg.errors.UndefinedTable:
        raise CapabilityMissing(
            "pg_stat_statements is not created in this database: run "
            "CREATE EXTENSION pg_stat_statements; (see `pgarchitect doctor`)."
        ) from None
    except psycopg.errors.ObjectNotInPrerequisiteState:
        raise CapabilityMissing(
            "pg_stat_statements is not preloaded: add it to shared_preload_libraries and "
            "restart PostgreSQL (see `pgarchitect doctor`)."
        ) from None
    return [
        Statement(
            queryid=r[0], query=r[1], calls=r[2], total_ms=r[3], mean_ms=r[4], rows=r[5],
            shared_blks_hit=r[6], shared_blks_read=r[7],
        )
        for r in rows
    ]
