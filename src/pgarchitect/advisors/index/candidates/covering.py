"""INCLUDE the few narrow columns a statement reads besides its keys: index-only scans."""

from __future__ import annotations

from typing import Final

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import best_keys, candidate, table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo

# An index-only scan pays when the extra columns are few and narrow; wide ones
# bloat every index page for all the lookups that do not need them.
MAX_INCLUDE: Final = 3
MAX_INCLUDE_WIDTH: Final = 64  # bytes, the sum of pg_stats.avg_width

# Widths of fixed-size types when pg_stats has none.
TYPE_WIDTHS: Final = {
    "boolean": 1, "smallint": 2, "integer": 4, "bigint": 8, "real": 4,
    "double precision": 8, "date": 4, "uuid": 16, "timestamp with time zone": 8,
    "timestamp without time zone": 8, "time without time zone": 8, "oid": 4,
}


def covering(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """The best key list of a SELECT with the other columns it reads as INCLUDE.

    Only when those are at most three, about 64 bytes together, and known: without
    pg_stats a variable-width column's width is not.
    """
    if analysis.kind != "select":
        return []
    use = table_use(analysis, table)
    best = best_keys(use, use.terms)
    if use.star or best is None:
        return []
    keys, why = best
    in_keys = {k.column for k in keys if k.column is not None}
    include = [c for c in use.reads if c not in in_keys]
    if not include or len(include) > MAX_INCLUDE:
        return []
    total = 0
    for name in include:
        width = _width(table, name)
        if width is None:
            return []
        total += width
    if total > MAX_INCLUDE_WIDTH:
        return []
    return [candidate(use, keys, "covering",
                      f"index-only scan: {why}, {', '.join(include)} from the index",
                      include=include)]


def _width(table: TableInfo, name: str) -> int | None:
    col = table.column(name)
    if col is None:
        return None
    if col.avg_width is not None:
        return col.avg_width
    base = (col.type or "").split("(")[0].strip()
    if col.type and col.type.startswith("timestamp("):
        base = "timestamp " + col.type.split(") ", 1)[-1]
    return TYPE_WIDTHS.get(base)
