"""Analysis: what a statement touches, and how (parsed with PostgreSQL's own parser)."""

from __future__ import annotations

from dataclasses import dataclass

import pglast.parser


def fingerprint(query: str) -> str | None:
    """pglast's fingerprint: equal for statements that differ only in constants.

    >>> fingerprint("SELECT * FROM t WHERE a = 1") == fingerprint("select * from t where a = $1")
    True
    >>> fingerprint("SELEC nonsense") is None
    True
    """
    try:
        return str(pglast.parser.fingerprint(query))
    except pglast.parser.ParseError:
        return None


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of a base table, schema-qualified."""

    schema: str
    table: str
    column: str


@dataclass(frozen=True)
class Param:
    """A ``$n`` parameter and what it is compared with."""

    number: int
    column: ColumnRef | None  # the column it is compared with, when there is one
    role: str | None  # the column's role there: eq, range, in, like, ...
    type: str | None  # inferred SQL type (from the column or a cast)
