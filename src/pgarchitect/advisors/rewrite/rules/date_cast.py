"""``date(ts) = v``, ``ts::date = v`` → ``ts >= v::date AND ts < v::date + 1``.

A function or cast on an indexed column hides it from its index: the planner reads
every row and casts each. The half-open range on the bare column is what an index
on ``ts`` serves. The two agree exactly for a ``timestamp`` (without time zone)
column: the day of a ``timestamptz`` depends on the session's TimeZone, and the
range would compare instants, so the rule does not fire for one.
"""

from __future__ import annotations

from typing import Any

from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    and_of,
    column_type,
    conditions,
    deparse,
    equality,
    leading_index,
    replace_node,
    resolve,
    tables_of,
    type_name,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

NAME = "date_cast"
LABEL = "date cast → range"


def _day_of(side: Any) -> Any | None:
    """The column inside ``date(col)``, ``col::date`` or ``CAST(col AS date)``."""
    if isinstance(side, ast.TypeCast) and type_name(side.typeName) == "date":
        return side.arg
    if (isinstance(side, ast.FuncCall) and [n.sval for n in side.funcname or ()] in (
            ["date"], ["pg_catalog", "date"]) and side.args and len(side.args) == 1
            and not side.agg_star and not side.agg_distinct and side.over is None):
        return side.args[0]
    return None


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    tables = tables_of(stmt.fromClause, catalog)
    skip: Skip | None = None
    for node in conditions(stmt.whereClause):
        sides = equality(node)
        inner = _day_of(sides[0]) if sides else None
        found = resolve(inner, tables or [], catalog) if inner is not None else None
        if sides is None or found is None:
            continue
        table, column = found
        name = f"{table.qualified}.{column}"
        kind = column_type(catalog, table, column) or ""
        if kind.startswith("timestamp") and "with time zone" in kind:
            skip = Skip(f"{name} is a timestamptz: its date depends on the session's "
                        "TimeZone, which a range of instants does not: not rewritten",
                        "not_equivalent")
            continue
        if not (kind.startswith("timestamp") and "without time zone" in kind):
            skip = skip or Skip(f"{name} is of type {kind or 'unknown'}, not a timestamp: "
                                "not rewritten", "not_supported")
            continue
        value = sides[1]
        if isinstance(value, ast.TypeCast) and type_name(value.typeName) != "date":
            skip = skip or Skip(f"the day of {name} is compared with a value cast to another "
                                "type than date: not rewritten", "not_supported")
            continue
        index = leading_index(catalog, table, column)
        if index is None:
            skip = skip or Skip(f"no index leads with {name}: a range on it would be read "
                                "the same way", "no_gain")
            continue
        return Match(NAME, LABEL, table.qualified, (name,),
                     f"A date cast of {name} hides it from index {index}", node,
                     {"value": value, "day": sides[0]})
    return skip or Skip("no date(column) = value in its WHERE clause")


def _op(name: str, left: Any, right: Any) -> ast.A_Expr:
    return ast.A_Expr(kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=name),),
                      lexpr=left, rexpr=right)


def _as_date(value: Any) -> Any:
    if isinstance(value, ast.TypeCast) and type_name(value.typeName) == "date":
        return value
    return ast.TypeCast(arg=value, typeName=ast.TypeName(
        names=(ast.String(sval="date"),), typemod=-1))


def rewrite(stmt: Any, match: Match) -> str:
    column = _day_of(match.parts["day"])  # as written: qualified or not
    day = _as_date(match.parts["value"])
    after = _op("+", day, ast.A_Const(val=ast.Integer(ival=1)))
    bounds = and_of([_op(">=", column, day), _op("<", column, after)])
    if stmt.whereClause is match.node:
        stmt.whereClause = bounds
    else:
        replace_node(stmt.whereClause, match.node, bounds)
    return deparse(stmt)
