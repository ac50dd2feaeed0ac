"""LIKE and ILIKE: trigram GIN for any pattern, a b-tree for a fixed prefix."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import candidate, table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.tables import TableInfo

TRIGRAM_EXTENSION: Final = "pg_trgm"
_TEXT_TYPES: Final = ("text", "character varying", "character", "citext", "bpchar")


def pattern(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """``title ILIKE '%' || $1 || '%'`` → ``USING gin (title gin_trgm_ops)``;
    ``title LIKE 'abc%'`` → ``(title text_pattern_ops)``.

    A b-tree serves LIKE only for a pattern with a fixed prefix, and under a
    collation other than C only with a ``*_pattern_ops`` operator class
    (https://www.postgresql.org/docs/current/indexes-opclass.html). ILIKE and a
    leading wildcard need pg_trgm's GIN operator class. A pattern that comes from a
    parameter may be either: both are proposed.
    """
    use = table_use(analysis, table)
    out = []
    for t in use.all_terms:
        if t.role != "like":
            continue
        column = table.column(t.column)
        type_ = column.type if column is not None else None
        if t.key.column is not None and type_ is not None and not type_.startswith(_TEXT_TYPES):
            continue
        ilike = t.predicate.operator == "ilike"
        anchored = t.predicate.anchored
        op = "ILIKE" if ilike else "LIKE"
        if ilike or anchored is not True:
            shape = ("with a leading wildcard" if anchored is False
                     else "with a pattern from a parameter" if anchored is None
                     else "with a prefix (no b-tree serves ILIKE)")
            out.append(candidate(use, [replace(t.key, opclass="gin_trgm_ops")], "trigram",
                                 f"{op} {shape} on {t.label}", method="gin",
                                 requires=(TRIGRAM_EXTENSION,)))
        if not ilike and anchored is not False:
            what = "LIKE prefix" if anchored else "LIKE with a pattern from a parameter"
            if column is not None and column.bytewise:
                out.append(candidate(use, [t.key], "pattern",
                                     f"{what} on {t.label} (C collation: a plain b-tree)"))
            else:
                opclass = _pattern_opclass(type_)
                out.append(candidate(use, [replace(t.key, opclass=opclass)], "pattern",
                                     f"{what} on {t.label} ({opclass}: the collation is "
                                     f"not C)"))
    return out


def _pattern_opclass(type_: str | None) -> str:
    """``character(n)`` has its own; ``text_pattern_ops`` serves text and varchar."""
    if type_ is not None and (type_ in ("character", "bpchar") or type_.startswith("character(")):
        return "bpchar_pattern_ops"
    return "text_pattern_ops"
