"""Partial indexes: the other columns, only for the rows a constant test keeps."""

from __future__ import annotations

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import (
    best_keys,
    candidate,
    selectivity,
    table_use,
    where_clause,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo


def partial(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """``WHERE status = 'active' AND "userId" = $1`` → ``("userId") WHERE status = 'active'``.

    The index holds only the rows the statement can want, so it is smaller than a
    full one. Only when the constant tests are selective: pg_stats' most common
    values and null fraction say how many rows they keep (without statistics the
    index is proposed, and the planner's costs decide).
    """
    use = table_use(analysis, table)
    consts = list({t.key: t for t in use.terms if t.constant and t.key not in use.broad}.values())
    if not consts:
        return []
    others = [t for t in use.terms if not t.constant]
    best = best_keys(use, others)
    if best is None:
        return []
    keys, why = best
    where = where_clause([t.predicate for t in consts])
    if where is None:
        return []
    share = 1.0
    for t in consts:
        s = selectivity(t, table)
        if s is None:
            share = -1.0
            break
        share *= s
    size = f" (about {share:.0%} of the rows)" if share >= 0 else ""
    return [candidate(use, keys, "partial", f"{why}, only rows where {where}{size}",
                      where=where)]
