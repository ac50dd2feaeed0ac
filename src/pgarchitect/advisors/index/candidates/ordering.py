"""ORDER BY … LIMIT: rows read in index order, the first ones only."""

from __future__ import annotations

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import (
    MAX_KEYS,
    candidate,
    describe_terms,
    fixed_terms,
    keys_text,
    table_use,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo


def order_by_limit(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """For ``ORDER BY … LIMIT``: the sort keys, after the columns fixed by equality.

    Read in that order, the scan stops after LIMIT rows instead of sorting them all.
    The sort keys alone are proposed too: when the filter keeps most rows, scanning
    in order and filtering is the cheaper plan.
    """
    use = table_use(analysis, table)
    out = []
    for sort in use.sorts:
        if not sort.limited or len(sort.keys) > MAX_KEYS:
            continue
        order = f"ORDER BY {keys_text(sort.keys)} LIMIT"
        eq = fixed_terms(use, sort)
        head = eq[:MAX_KEYS - len(sort.keys)]
        if head:
            out.append(candidate(use, [*(t.key for t in head), *sort.keys], "order-by-limit",
                                 f"{describe_terms(head)} then {order} without a sort"))
        out.append(candidate(use, sort.keys, "order-by-limit", f"{order} without a sort"))
    return out
