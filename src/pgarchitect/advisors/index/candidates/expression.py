"""Expression indexes: a condition on ``f(column)`` needs an index on ``f(column)``."""

from __future__ import annotations

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import ROLE_WORDS, candidate, table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo


def expression(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """``lower(email) = lower($1)`` → ``((lower(email)))``.

    An index on the column does not serve a test on a function of it. Expressions
    PostgreSQL would refuse (not immutable: ``now()``, a timestamptz cast to date)
    were left out with a note when the statement was read.
    """
    use = table_use(analysis, table)
    out = []
    for t in use.all_terms:
        if t.key.expression is None or t.role not in ("eq", "in", "range", "null", "join"):
            continue
        if t.key in use.broad:
            continue
        out.append(candidate(use, [t.key], "expression", f"{ROLE_WORDS[t.role]} {t.label}"))
    return out
