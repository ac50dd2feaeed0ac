"""Statements that are not the application's: pgarchitect's own, catalog reads, utilities."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pglast
from pglast import ast

from pgarchitect.db import TAG

# Statement kinds an index, a rewrite or a setting cannot make cheaper.
UTILITY_KINDS = frozenset({
    "TransactionStmt", "VariableSetStmt", "VariableShowStmt", "DeallocateStmt",
    "DiscardStmt", "ExplainStmt", "VacuumStmt", "CheckPointStmt", "ListenStmt",
    "NotifyStmt", "PrepareStmt", "ExecuteStmt", "CopyStmt", "LockStmt",
})
DML_KINDS = frozenset({"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})


@lru_cache(maxsize=8192)
def _parsed(query: str) -> tuple[str | None, frozenset[tuple[str | None, str]]]:
    """(statement kind, relations named) of a statement; kind None when it does not parse."""
    try:
        stmts = pglast.parse_sql(query)
    except pglast.parser.ParseError:
        return None, frozenset()
    if not stmts:
        return None, frozenset()
    kind = type(stmts[0].stmt).__name__
    names: set[tuple[str | None, str]] = set()
    for node in _walk(stmts[0].stmt):
        if isinstance(node, ast.RangeVar) and node.relname:
            names.add((node.schemaname, node.relname))
    return kind, frozenset(names)


def _walk(node: object) -> Iterable[ast.Node]:
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _walk(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _walk(item)


def internal_reason(query: str) -> str | None:
    """Why a statement is not the application's to optimize, or None when it is."""
    if query.startswith(TAG.strip()):
        return "pgarchitect's own statement"
    kind, names = _parsed(query)
    if kind in UTILITY_KINDS:
        return f"Utility statement ({kind.removesuffix('Stmt')})"
    if kind is not None and kind not in DML_KINDS:
        return f"Not a query or data change ({kind.removesuffix('Stmt')})"
    if "pg_stat_statements" in query:
        return "Reads pg_stat_statements (monitoring)"
    if names and all(schema == "pg_catalog" or (schema is None and name.startswith("pg_"))
                     or schema == "information_schema" for schema, name in names):
        return "Reads only system catalogs"
    return None


def touches(query: str, tables: Iterable[str]) -> bool:
    """Whether the statement names one of ``tables`` ("name" or "schema.name")."""
    _, names = _parsed(query)
    wanted = set(tables)
    return any(name in wanted or (schema and f"{schema}.{name}" in wanted)
               for schema, name in names)
