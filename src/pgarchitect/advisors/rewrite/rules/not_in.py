"""``x NOT IN (SELECT y FROM t ...)`` → ``NOT EXISTS (SELECT 1 FROM t WHERE t.y = x ...)``.

The planner cannot turn NOT IN into an anti join: NOT IN must return no row as soon
as ``y`` holds one NULL, and none for a NULL ``x``. With a large subquery it hashes
it (if it fits work_mem) or re-reads it for every row. NOT EXISTS is a plain anti
join. The two agree only when neither side can be NULL: both ``x`` and ``y`` must be
declared NOT NULL, else the rule does not fire.
"""

from __future__ import annotations

from typing import Any

from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    and_of,
    column_ref,
    conditions,
    deparse,
    not_null,
    resolve,
    tables_of,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

NAME = "not_in"
LABEL = "NOT IN → NOT EXISTS"


def _not_in(node: Any) -> Any:
    """The ``x IN (SELECT ...)`` under ``NOT``, else None."""
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.NOT_EXPR:
        link: Any = (node.args or (None,))[0]
        if (isinstance(link, ast.SubLink) and not link.operName
                and link.subLinkType == enums.SubLinkType.ANY_SUBLINK):
            return link
    return None


def _simple(sub: Any) -> bool:
    """One output column, one table, nothing that makes it more than a filter."""
    return (sub.op == enums.SetOperation.SETOP_NONE and not sub.withClause
            and not sub.groupClause and sub.havingClause is None and not sub.distinctClause
            and sub.limitCount is None and sub.limitOffset is None and not sub.windowClause
            and len(sub.targetList or ()) == 1 and len(sub.fromClause or ()) == 1
            and isinstance(sub.fromClause[0], ast.RangeVar))


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    outer = tables_of(stmt.fromClause, catalog)
    for node in conditions(stmt.whereClause):
        link = _not_in(node)
        if link is None:
            continue
        sub = link.subselect
        if not _simple(sub):
            return Skip("its NOT IN subquery is more than one column of one table "
                        "(GROUP BY, LIMIT, a join ...): not rewritten", "not_supported")
        inner = tables_of(sub.fromClause, catalog)
        x = resolve(link.testexpr, outer or [], catalog)
        y = resolve(sub.targetList[0].val, inner or [], catalog)
        if x is None or y is None:
            return Skip("its NOT IN compares what is not a plain column of a table on each "
                        "side: not rewritten", "not_supported")
        (xt, xc), (yt, yc) = x, y
        if xt.ref == yt.ref:
            return Skip(f"the NOT IN subquery reads {yt.qualified} under the name the outer "
                        "query gives it: not rewritten", "not_supported")
        nullable = [f"{t.qualified}.{c}" for t, c in (x, y) if not not_null(catalog, t, c)]
        if nullable:
            return Skip(f"NOT IN and NOT EXISTS differ when {' or '.join(nullable)} is NULL "
                        "(NOT IN then returns no row), and the catalog does not declare it "
                        "NOT NULL: not rewritten", "not_equivalent")
        return Match(NAME, LABEL, xt.qualified,
                     (f"{xt.qualified}.{xc}", f"{yt.qualified}.{yc}"),
                     f"NOT IN over a subquery on {yt.qualified}: the planner cannot make it "
                     "an anti join", node, {"x": (xt.ref, xc), "y": (yt.ref, yc), "link": link})
    return Skip("no NOT IN (subquery) in its WHERE clause")


def rewrite(stmt: Any, match: Match) -> str:
    link: Any = match.parts["link"]
    sub: Any = link.subselect
    (xref, xcol), (yref, ycol) = match.parts["x"], match.parts["y"]
    # Both sides qualified: the subquery's table may have a column named like x.
    test = ast.A_Expr(kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval="="),),
                      lexpr=column_ref(yref, ycol), rexpr=column_ref(xref, xcol))
    sub.targetList = (ast.ResTarget(val=ast.A_Const(val=ast.Integer(ival=1))),)
    sub.whereClause = and_of([test, *([sub.whereClause] if sub.whereClause else [])])
    exists = ast.SubLink(subLinkType=enums.SubLinkType.EXISTS_SUBLINK, subselect=sub)
    match.node.args = (exists,)
    return deparse(stmt)
