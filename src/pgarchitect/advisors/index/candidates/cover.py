"""Whether an index that exists already does what a candidate would do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pgarchitect.advisors.index.candidates.terms import canonical
from pgarchitect.catalog.index import IndexDef, IndexKey
from pgarchitect.catalog.tables import ExistingIndex, ForeignKey, TableInfo


def covers(existing: IndexDef, wanted: IndexDef) -> bool:
    """Whether ``existing`` serves every lookup ``wanted`` would.

    Same table, method, predicate and expressions; the existing keys start with the
    wanted ones. A b-tree read backwards gives every key the other direction (and
    the other NULLS end), so ``(a DESC)`` covers ``(a)``; other methods have no order.

    >>> a, b = IndexKey("a"), IndexKey("b", direction="desc")
    >>> covers(IndexDef("s", "t", (a, b, IndexKey("c"))), IndexDef("s", "t", (a, b)))
    True
    >>> flipped = IndexDef("s", "t", (IndexKey("a", direction="desc"), IndexKey("b")))
    >>> covers(flipped, IndexDef("s", "t", (a, b))), covers(flipped, IndexDef("s", "t", (b,)))
    (True, False)
    """
    if (existing.schema, existing.table, existing.method) != (
            wanted.schema, wanted.table, wanted.method):
        return False
    if canonical(existing.where) != canonical(wanted.where):
        return False
    n = len(wanted.keys)
    if len(existing.keys) < n:
        return False
    have = [_key(k) for k in existing.keys[:n]]
    want = [_key(k) for k in wanted.keys]
    if existing.method == "btree":
        if have != want and have != [_flip(k) for k in want]:
            return False
    elif [k[:2] for k in have] != [k[:2] for k in want]:
        return False
    held = set(existing.include) | set(existing.columns)
    return set(wanted.include) <= held


_Key = tuple[tuple[str, str | None], str | None, str, str]


def _key(k: IndexKey) -> _Key:
    """A key as (what, opclass, direction, nulls) with the defaults made explicit."""
    opclass = (k.opclass or "").rsplit(".", 1)[-1] or None
    nulls = k.nulls or ("first" if k.direction == "desc" else "last")
    what = ("column", k.column) if k.column is not None else (
        "expression", canonical(k.expression))
    return (what, opclass, k.direction, nulls)


def _flip(k: _Key) -> _Key:
    return (k[0], k[1], "asc" if k[2] == "desc" else "desc", "last" if k[3] == "first" else "first")


def covering_index(wanted: IndexDef, table: TableInfo,
                   *, valid: bool = True) -> ExistingIndex | None:
    """The first existing index of ``table`` (valid ones, or invalid ones) that covers it.

    A BRIN candidate is also served by a b-tree on the same column: BRIN would only
    be smaller, which is a different recommendation (replace, not add).
    """
    for index in table.indexes:
        if index.valid == valid and covers(index.index, wanted):
            return index
    if wanted.method == "brin":
        return covering_index(replace(wanted, method="btree"), table, valid=valid)
    return None


def fk_index(fk: ForeignKey, indexes: Sequence[ExistingIndex]) -> ExistingIndex | None:
    """A valid b-tree whose leading plain columns are the foreign key's, in any order."""
    n = len(fk.columns)
    for index in indexes:
        lead = index.index.keys[:n]
        if (index.valid and index.index.method == "btree" and index.index.where is None
                and len(lead) == n and all(k.column is not None for k in lead)
                and {k.column for k in lead} == set(fk.columns)):
            return index
    return None


def serves_foreign_key(index: IndexDef, table: TableInfo) -> ForeignKey | None:
    """A foreign key of ``table`` with no index yet that ``index`` would serve."""
    if index.method != "btree" or index.where is not None:
        return None
    for fk in table.foreign_keys:
        n = len(fk.columns)
        lead = index.keys[:n]
        if (len(lead) == n and all(k.column is not None for k in lead)
                and {k.column for k in lead} == set(fk.columns)
                and fk_index(fk, table.indexes) is None):
            return fk
    return None
