"""A statement re-pointed at another table: the same text, one table's name replaced.

The measurement runs each statement on two copies of a table (plain and
partitioned). The name is replaced in pglast's parse tree, never in the text: only
references to that table change (a column or a string of the same name stays),
and the copy takes the table's name as its alias when the statement gave none, so
that ``"BehaviorLog"."timestamp"`` still resolves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pglast
from pglast import ast
from pglast.stream import RawStream

from pgarchitect.analysis import Catalog
from pgarchitect.analysis.nodes import children
from pgarchitect.workload.repair import repair


def _range_vars(node: ast.Node) -> Iterator[ast.RangeVar]:
    if isinstance(node, ast.RangeVar):
        yield node
    for child in children(node):
        yield from _range_vars(child)


def repoint(query: str, table: tuple[str, str], target: tuple[str, str],
            catalog: Catalog | None = None) -> str:
    """``query`` with every reference to ``table`` (schema, name) made to ``target``.

    An unqualified name is resolved through ``catalog``'s search path (without a
    catalog: ``public``). A CTE of the same name is not a reference.

    >>> repoint('SELECT count(*) FROM "BehaviorLog" WHERE "timestamp" > $1',
    ...         ("public", "BehaviorLog"), ("public", "copy"))
    'SELECT count(*) FROM public.copy AS "BehaviorLog" WHERE timestamp > $1'
    """
    stmts = pglast.parse_sql(repair(query))
    ctes = {c.ctename for raw in stmts for n in _all(raw.stmt) if isinstance(n, ast.WithClause)
            for c in n.ctes or () if isinstance(c, ast.CommonTableExpr)}
    for raw in stmts:
        if raw.stmt is None:
            continue
        for rv in _range_vars(raw.stmt):
            if rv.relname is None or _schema(rv, catalog, ctes) != table[0] \
                    or rv.relname != table[1]:
                continue
            if rv.alias is None:
                rv.alias = ast.Alias(aliasname=rv.relname)
            rv.schemaname, rv.relname = target
    return "; ".join(RawStream()(raw) for raw in stmts)


def _all(node: ast.Node | None) -> Iterator[ast.Node]:
    if node is None:
        return
    yield node
    for child in children(node):
        yield from _all(child)


def _schema(rv: ast.RangeVar, catalog: Catalog | None, ctes: set[str | None]) -> str | None:
    if rv.schemaname is not None:
        return rv.schemaname
    if rv.relname in ctes:
        return None
    if catalog is None:
        return "public"
    found = catalog.find(None, rv.relname or "")
    return found.schema if found is not None else None
