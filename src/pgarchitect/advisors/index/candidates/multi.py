"""Several columns: equality columns first, then one range or sort column."""

from __future__ import annotations

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import (
    MAX_KEYS,
    candidate,
    describe_terms,
    equality_prefix,
    fixed_terms,
    join_reason,
    keys_text,
    range_key,
    range_terms,
    table_use,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo


def multi_column(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """Up to three keys: equality and IN columns (most selective first, by n_distinct),
    then join keys (the inner side of a nested loop), then one range column; or the
    equality columns and the first ORDER BY key, in its direction.

    A b-tree serves a range only on the column after the last equality one, and an
    order only when the columns before it are fixed
    (https://www.postgresql.org/docs/current/indexes-multicolumn.html).
    """
    use = table_use(analysis, table)
    prefix = equality_prefix(use, use.terms)
    if not prefix:
        return []
    out = []
    if len(prefix) >= 2:
        head = prefix[:MAX_KEYS]
        out.append(candidate(use, [t.key for t in head], "multi-column", describe_terms(head)))
    head = prefix[:MAX_KEYS - 1]
    keys = [t.key for t in head]
    for r in range_terms(use.terms, keys):
        out.append(candidate(use, [*keys, range_key(r, use.sorts)], "multi-column",
                             join_reason(describe_terms(head), f"range on {r.label}")))
    # Rows come out in the sort key's order only where every key before it is fixed:
    # an IN list or a join key is not (except in a correlated subquery).
    for sort in use.sorts:
        fixed = fixed_terms(use, sort)[:MAX_KEYS - 1]
        if fixed:
            out.append(candidate(use, [*(t.key for t in fixed), sort.keys[0]], "multi-column",
                                 join_reason(describe_terms(fixed),
                                             f"sort on {keys_text(sort.keys[:1])}")))
    return out
