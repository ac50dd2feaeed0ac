"""``A LEFT JOIN B ON ... WHERE <a condition no NULL of B passes>`` → ``A JOIN B ON ...``.

LEFT JOIN keeps the rows of A that have no partner, with every column of B NULL.
A WHERE condition that is never true for a NULL column of B (a comparison with a
value, IN, LIKE, BETWEEN, IS NOT NULL, an AND or OR of those) removes exactly those
rows again: the statement is an inner join written as an outer one, and a reader
takes it to count the users without events too. PostgreSQL makes it an inner join
itself, so the plan does not change: the rule is a note for the code's reader,
checked to return the same rows, with no claim of speed. ``IS NULL``, ``IS DISTINCT
FROM``, ``COALESCE`` or an OR with a condition on A's columns keep NULL rows: the
rule does not fire on them.
"""

from __future__ import annotations

from typing import Any

from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    Table,
    conjuncts,
    deparse,
    resolve,
    tables_of,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

NAME = "left_join_where"
LABEL = "LEFT JOIN filtered in WHERE → JOIN"

# Operators of the built-in types that return NULL for a NULL operand (all strict).
_STRICT_OPS = frozenset({"=", "<>", "!=", "<", "<=", ">", ">=", "~~", "!~~", "~~*", "!~~*",
                         "~", "~*", "!~", "!~*", "@>", "<@", "&&", "?", "?|", "?&"})
_STRICT_KINDS = (enums.A_Expr_Kind.AEXPR_IN, enums.A_Expr_Kind.AEXPR_LIKE,
                 enums.A_Expr_Kind.AEXPR_ILIKE, enums.A_Expr_Kind.AEXPR_BETWEEN,
                 enums.A_Expr_Kind.AEXPR_NOT_BETWEEN)


def _column_of(node: Any, right: Table, tables: list[Table],
               catalog: DatabaseCatalog) -> str | None:
    """The column of ``right`` that ``node`` is, perhaps cast (a cast of NULL is NULL)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    found = resolve(node, tables, catalog)
    return found[1] if found is not None and found[0] is right else None


def _rejecting(node: Any, right: Table, tables: list[Table],
               catalog: DatabaseCatalog) -> str | None:
    """The column of ``right`` whose NULL makes ``node`` NULL or false, else None."""
    if isinstance(node, ast.A_Expr):
        name = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        if node.kind == enums.A_Expr_Kind.AEXPR_OP and name and name[-1] in _STRICT_OPS:
            sides: tuple[Any, ...] = (node.lexpr, node.rexpr)
        elif node.kind in _STRICT_KINDS:
            sides = (node.lexpr,)
        else:
            return None  # IS DISTINCT FROM, NULLIF, an operator of unknown strictness
        return next((c for s in sides if (c := _column_of(s, right, tables, catalog))), None)
    if isinstance(node, ast.NullTest):
        if node.nulltesttype == enums.NullTestType.IS_NOT_NULL:
            return _column_of(node.arg, right, tables, catalog)
        return None
    if isinstance(node, ast.BoolExpr):
        found = [_rejecting(a, right, tables, catalog) for a in node.args or ()]
        if node.boolop == enums.BoolExprType.AND_EXPR:
            return next((c for c in found if c), None)
        if node.boolop == enums.BoolExprType.OR_EXPR and all(found):
            return found[0]  # every arm NULL or false: the OR too
        if node.boolop == enums.BoolExprType.NOT_EXPR and found and found[0]:
            return found[0]  # NOT NULL is NULL
        return None
    return _column_of(node, right, tables, catalog)  # a boolean column of B alone


def _mentions(node: Any, right: Table, tables: list[Table], catalog: DatabaseCatalog) -> bool:
    """Whether a column of ``right`` appears in ``node`` (not inside a subquery)."""
    if _column_of(node, right, tables, catalog) is not None:
        return True
    if not isinstance(node, ast.Node) or isinstance(node, ast.SubLink):
        return False
    for attr in node:
        value = getattr(node, attr)
        for v in value if isinstance(value, tuple) else (value,):
            if _mentions(v, right, tables, catalog):
                return True
    return False


def _left_joins(item: Any) -> list[Any]:
    """The LEFT JOINs down the left side of a FROM item whose right side is a table, as
    long as no RIGHT or FULL join above can make the table's columns NULL too."""
    out = []
    while isinstance(item, ast.JoinExpr):
        if item.jointype == enums.JoinType.JOIN_LEFT and isinstance(item.rarg, ast.RangeVar):
            out.append(item)
        elif item.jointype not in (enums.JoinType.JOIN_INNER, enums.JoinType.JOIN_LEFT):
            break
        item = item.larg
    return out


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    joins = [j for item in stmt.fromClause or () for j in _left_joins(item)]
    if not joins:
        return Skip("no LEFT JOIN of a table in its FROM clause")
    tables = tables_of(stmt.fromClause, catalog)
    if tables is None:
        return Skip("its FROM clause holds a subquery, a function or a view: its LEFT JOIN "
                    "is not read", "not_supported")
    filtered = False
    for join in joins:
        rel = join.rarg
        ref = rel.alias.aliasname if rel.alias and rel.alias.aliasname else rel.relname
        right = next((t for t in tables if t.ref == ref), None)
        if right is None:
            continue
        for cond in conjuncts(stmt.whereClause):
            filtered = filtered or _mentions(cond, right, tables, catalog)
            column = _rejecting(cond, right, tables, catalog)
            if column is None:
                continue
            name = f"{right.qualified}.{column}"
            return Match(NAME, LABEL, right.qualified, (name,),
                         f"Its WHERE condition on {name} is never true for the rows LEFT "
                         f"JOIN adds without a match in {right.qualified}: it is an inner "
                         "join (PostgreSQL plans it as one already)", join, note=True)
    if not filtered:
        return Skip("its WHERE clause does not filter the table of its LEFT JOIN")
    return Skip("its WHERE condition on the table of its LEFT JOIN lets NULLs through (IS "
                "NULL, COALESCE, IS DISTINCT FROM, an OR with another table's column): the "
                "rows without a match stay, and LEFT JOIN is needed", "not_equivalent")


def rewrite(stmt: Any, match: Match) -> str:
    match.node.jointype = enums.JoinType.JOIN_INNER
    return deparse(stmt)
