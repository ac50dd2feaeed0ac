"""BRIN: a tiny index for ranges on large append-only tables stored in column order."""

from __future__ import annotations

from typing import Final

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import candidate, table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo

# BRIN keeps a summary per block range: it pays on big tables whose rows arrive
# in the column's order and stay there (https://www.postgresql.org/docs/current/brin-intro.html).
BRIN_MIN_ROWS: Final = 100_000
BRIN_MIN_CORRELATION: Final = 0.9  # |pg_stats.correlation|: physical order follows the column
APPEND_ONLY_MAX_CHANGES: Final = 0.05  # updates + deletes, as a share of inserts


def brin(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """A BRIN index on a range-filtered column of a big, append-only, ordered table."""
    if table.rows is None or table.rows < BRIN_MIN_ROWS or table.inserts <= 0:
        return []
    if table.updates + table.deletes > APPEND_ONLY_MAX_CHANGES * table.inserts:
        return []
    use = table_use(analysis, table)
    out = []
    for t in use.terms:
        if t.role != "range" or t.key.column is None:
            continue
        column = table.column(t.column)
        if column is None or column.correlation is None:
            continue
        if abs(column.correlation) < BRIN_MIN_CORRELATION:
            continue
        out.append(candidate(
            use, [t.key], "brin",
            f"range on {t.column}: {_count(table.rows)} rows, appended in {t.column} order "
            f"(correlation {column.correlation:.3g})", method="brin"))
    return out


def _count(rows: float) -> str:
    """``2.0M``, ``150k``."""
    if rows >= 1e6:
        return f"{rows / 1e6:.1f}M"
    return f"{rows / 1e3:.0f}k"
