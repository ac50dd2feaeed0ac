"""One column: each condition or the first ORDER BY key, on its own."""

from __future__ import annotations

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import ROLE_WORDS, candidate, keys_text, table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo


def single_column(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """An index on each column tested by equality, IN, range or NULL test, and on the
    first key of each ORDER BY (in its direction).

    A constant test that keeps most rows gets none; an OR gets one per branch when
    every branch can use an index (a BitmapOr).
    """
    use = table_use(analysis, table)
    out = []
    for t in use.all_terms:
        if t.key.column is None or t.role not in ("eq", "in", "range", "null"):
            continue
        if t.key in use.broad:
            continue
        what = ROLE_WORDS[t.role]
        if t.predicate.in_or:
            what = "OR branch: " + what
        out.append(candidate(use, [t.key], "single-column", f"{what} {t.column}"))
    for sort in use.sorts:
        if sort.keys[0].column is None:
            continue  # an expression: the order-by-limit rule's, with LIMIT only
        out.append(candidate(use, sort.keys[:1], "single-column",
                             f"sort on {keys_text(sort.keys[:1])}"))
    return out
