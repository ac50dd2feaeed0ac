"""``(SELECT count(*) FROM t2 WHERE t2.fk = t1.id)`` in the select list →
``LEFT JOIN LATERAL (SELECT count(*) ...) AS sub1 ON true``.

The count moves from the select list into the FROM clause, where the planner sees
it as a join: it can then pick the order and method of the two tables' reads. A
count without GROUP BY returns exactly one row, 0 when nothing matches, so every
outer row keeps exactly one partner and a count of zero stays zero. Only a
``count(*)`` or ``count(col)`` of one table, correlated by equalities, in a
statement of one FROM item without GROUP BY, aggregates or DISTINCT.
"""

from __future__ import annotations

from typing import Any

from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    Table,
    column_name,
    conjuncts,
    deparse,
    resolve,
    tables_of,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

NAME = "correlated_subquery"
LABEL = "correlated subquery → LATERAL join"


def _count(sub: Any) -> bool:
    if (sub.op != enums.SetOperation.SETOP_NONE or sub.groupClause or sub.havingClause
            or sub.distinctClause or sub.sortClause or sub.limitCount is not None
            or sub.withClause or len(sub.targetList or ()) != 1
            or len(sub.fromClause or ()) != 1 or not isinstance(sub.fromClause[0], ast.RangeVar)):
        return False
    call = sub.targetList[0].val
    return (isinstance(call, ast.FuncCall) and [n.sval for n in call.funcname or ()] == ["count"]
            and call.over is None and not call.agg_filter)


def _correlation(sub: Any, inner: Table, outer: list[Table],
                 catalog: DatabaseCatalog) -> list[str]:
    """The columns of the equalities that tie its WHERE to the outer query (inner, outer),
    the outer side qualified by another name than the inner table's."""
    found = []
    for cond in conjuncts(sub.whereClause):
        if not (isinstance(cond, ast.A_Expr) and cond.kind == enums.A_Expr_Kind.AEXPR_OP
                and [n.sval for n in cond.name or ()] == ["="]):
            continue
        for a, b in ((cond.lexpr, cond.rexpr), (cond.rexpr, cond.lexpr)):
            here, name = resolve(a, [inner], catalog), column_name(b)
            if here is None or name is None or name[0] in (None, inner.ref):
                continue
            there = resolve(b, outer, catalog)
            if there is not None:
                found += [f"{inner.qualified}.{here[1]}", f"{there[0].qualified}.{there[1]}"]
    return found


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    outer = tables_of(stmt.fromClause, catalog)
    for n, target in enumerate(stmt.targetList or ()):
        link: Any = target.val
        if not (isinstance(link, ast.SubLink)
                and link.subLinkType == enums.SubLinkType.EXPR_SUBLINK):
            continue
        sub: Any = link.subselect
        inner = tables_of(sub.fromClause, catalog)
        if not _count(sub) or not inner:
            return Skip("its scalar subquery is not a count of one table: not rewritten",
                        "not_supported")
        on = _correlation(sub, inner[0], outer or [], catalog)
        if not on:
            return Skip("its scalar subquery is not correlated by an equality with the "
                        "outer query: it runs once already", "no_gain")
        if (len(stmt.fromClause or ()) != 1 or outer is None or stmt.groupClause
                or stmt.distinctClause or stmt.havingClause is not None
                or stmt.op != enums.SetOperation.SETOP_NONE):
            return Skip("a correlated count in a statement of several FROM items, GROUP BY "
                        "or DISTINCT is not rewritten", "not_supported")
        return Match(NAME, LABEL, inner[0].qualified, tuple(on),
                     f"A correlated count(*) of {inner[0].qualified} in the select list "
                     "runs once per row", link, {"position": n})
    return Skip("no correlated scalar subquery in its select list")


def rewrite(stmt: Any, match: Match) -> str:
    link: Any = match.node
    position: int = match.parts["position"]
    target = stmt.targetList[position]
    name = target.name or "count"
    alias = f"sub{position + 1}"
    link.subselect.targetList = (ast.ResTarget(name=name, val=link.subselect.targetList[0].val),)
    lateral = ast.RangeSubselect(lateral=True, subquery=link.subselect,
                                 alias=ast.Alias(aliasname=alias))
    join = ast.JoinExpr(jointype=enums.JoinType.JOIN_LEFT, larg=stmt.fromClause[0],
                        rarg=lateral, quals=ast.A_Const(val=ast.Boolean(boolval=True)),
                        isNatural=False)
    stmt.fromClause = (join,)
    targets = list(stmt.targetList)
    targets[position] = ast.ResTarget(name=name, val=ast.ColumnRef(
        fields=(ast.String(sval=alias), ast.String(sval=name))))
    stmt.targetList = tuple(targets)
    return deparse(stmt)
