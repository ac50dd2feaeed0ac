"""What the database has: tables, columns, indexes, constraints, foreign keys, sizes,
row estimates, write counters and comments, loaded once per audit.

:class:`DatabaseCatalog` is what the audit hands every advisor: the relations the
analysis resolves names against (:class:`pgarchitect.analysis.Catalog`), and the
tables' details (:mod:`pgarchitect.catalog.tables`), read once for the tables the
workload touches and kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgarchitect.analysis import Catalog, load_catalog
from pgarchitect.catalog.comments import Comments, load_comments
from pgarchitect.catalog.tables import TableInfo, load_tables

DATABASE_SIZE_SQL = "SELECT pg_database_size(current_database())"

# Seconds the tables' write counters have been counting: since the database's
# statistics were reset, else since the server started.
COUNTERS_WINDOW_SQL = """
SELECT extract(epoch FROM now() - coalesce(
    (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
    pg_postmaster_start_time()))
"""


@dataclass
class DatabaseCatalog:
    """One database's catalog, for one audit: each part is read the first time it is asked
    for, and kept."""

    conn: psycopg.Connection[Any]
    _relations: Catalog | None = None
    _database_bytes: int | None = None
    _tables: dict[tuple[str, str], TableInfo] = field(default_factory=dict)
    _asked: set[tuple[str, str]] = field(default_factory=set)
    _comments: Comments | None = None
    _counters_seconds: float | None = None

    @property
    def relations(self) -> Catalog:
        """The relations and columns statement analysis resolves names against."""
        if self._relations is None:
            self._relations = load_catalog(self.conn)
        return self._relations

    @property
    def database_bytes(self) -> int:
        if self._database_bytes is None:
            row = self.conn.execute(DATABASE_SIZE_SQL).fetchone()
            self._database_bytes = int(row[0]) if row else 0
        return self._database_bytes

    @property
    def counters_seconds(self) -> float:
        """Seconds the tables' write counters (``TableInfo.inserts``…) have counted."""
        if self._counters_seconds is None:
            row = self.conn.execute(COUNTERS_WINDOW_SQL).fetchone()
            self._counters_seconds = float(row[0]) if row and row[0] else 0.0
        return self._counters_seconds

    @property
    def comments(self) -> Comments:
        """Table and column comments (read the first time asked)."""
        if self._comments is None:
            self._comments = load_comments(self.conn)
        return self._comments

    def tables(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], TableInfo]:
        """The details of these tables (``(schema, name)``), read the first time asked."""
        wanted = list(dict.fromkeys(keys))
        missing = [k for k in wanted if k not in self._asked]
        if missing:
            self._tables.update(load_tables(self.conn, missing))
            self._asked.update(missing)
        return {k: self._tables[k] for k in wanted if k in self._tables}
