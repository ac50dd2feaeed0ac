"""Statements that are not the application's: pgarchitect's own, catalog reads, utilities."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from pgarchitect.analysis import Analysis, analyze
from pgarchitect.db import TAG

# Statement kinds an index, a rewrite or a setting can make cheaper.
APPLICATION_KINDS = frozenset({"select", "insert", "update", "delete", "merge"})


@lru_cache(maxsize=8192)
def _analysis(query: str) -> Analysis:
    return analyze(query)


def internal_reason(query: str) -> tuple[str, str] | None:
    """Why a statement is not the application's to optimize (a code and words), or None."""
    if query.startswith(TAG.strip()):
        return "internal", "pgarchitect's own statement"
    a = _analysis(query)
    if a.error is not None:
        return None  # kept: the analysis stage reports why it cannot read it
    if a.kind not in APPLICATION_KINDS:
        return "utility", f"Not a query or data change ({a.kind} statement)"
    if "pg_stat_statements" in query:
        return "monitoring", "Reads pg_stat_statements (monitoring)"
    if a.relations and all(r.kind == "system catalog" for r in a.relations):
        return "system", "Reads only system catalogs"
    return None


def touches(query: str, tables: Iterable[str]) -> bool:
    """Whether the statement uses one of ``tables`` ("name" or "schema.name")."""
    wanted = set(tables)
    return any(r.name in wanted or f"{r.schema}.{r.name}" in wanted
               for r in _analysis(query).relations)
