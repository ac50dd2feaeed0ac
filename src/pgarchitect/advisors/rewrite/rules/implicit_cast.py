"""A column cast to another type before it is compared → the value cast to the column's.

``int_col = 5.0``, ``int_col = $1::numeric`` and ``bigint_col::numeric = $1`` compare
as numeric: PostgreSQL casts the column of every row, and an index on it cannot
serve. ``uuid_col::text = $1`` compares text. The rewrite compares the bare column
with the value cast to the column's type, and only where the two agree for every
value the statement can be given:

- numeric → an integer type: 5.5 equals no integer (a cast would round it to 6), and
  1e20 fits in none (a cast would fail), so the cast happens only when the value is a
  whole number in the type's range, else the comparison is with NULL and, as before,
  matches nothing: ``col = CASE WHEN v BETWEEN lo AND hi AND v = trunc(v) THEN
  CAST(v AS integer) END``. A constant is worked out here (``= 5``).
- text → uuid: a uuid's text is its canonical spelling (lower case, 8-4-4-4-12), and
  only that spelling is cast (``'A0EE...'`` matched nothing before, and would match
  after a plain cast).

A NULL value gives NULL on both sides. The rewrite is NULL where the statement was
false (5.5): the same in a WHERE clause, which keeps neither, but not under a NOT,
where the rule does not fire. A cast PostgreSQL does not need at run time
(``varchar_col::text``: varchar is binary-coercible to text) hides nothing: the
rule asks the planner, and does not fire when an index serves the statement as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    Table,
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
from pgarchitect.plans import NoPlan, generic_plan

NAME = "implicit_cast"
LABEL = "cast of the column → cast of the value"

# The integer types: their name in SQL and the values they hold.
_INTEGERS = {"smallint": (-(2**15), 2**15 - 1), "integer": (-(2**31), 2**31 - 1),
             "bigint": (-(2**63), 2**63 - 1)}
_NUMERIC = ("numeric", "decimal")
_TEXT = ("text", "varchar")
# How uuid_out spells every uuid (RFC 9562's canonical form, lower case).
_CANONICAL_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _type(name: str) -> ast.TypeName:
    return ast.TypeName(names=(ast.String(sval=name),), typemod=-1)


def _cast(value: Any, name: str) -> ast.TypeCast:
    return ast.TypeCast(arg=value, typeName=_type(name))


def _op(name: str, left: Any, right: Any) -> ast.A_Expr:
    return ast.A_Expr(kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=name),),
                      lexpr=left, rexpr=right)


def _constant(value: Any) -> str | None:
    """The text of a constant value (through its casts), else None (a parameter)."""
    while isinstance(value, ast.TypeCast):
        value = value.arg
    if not isinstance(value, ast.A_Const) or value.isnull:
        return None
    inner: Any = value.val
    for attr in ("ival", "fval", "sval"):
        if isinstance(getattr(inner, attr, None), int | str):
            return str(getattr(inner, attr))
    return None


def _numeric_value(value: Any) -> bool:
    """Whether the value is of type numeric: cast to it, or a literal like 5.0."""
    if isinstance(value, ast.TypeCast):
        return type_name(value.typeName) in _NUMERIC
    return (isinstance(value, ast.A_Const) and isinstance(value.val, ast.Float)
            and not (value.val.fval or "").lstrip("-").isdigit())  # 12345678901 is a bigint


def _kind(catalog: DatabaseCatalog, table: Table, column: str) -> str | None:
    rel = catalog.relations.find(table.schema, table.name)
    kind = next((c.type for c in rel.columns if c.name == column), None) if rel else None
    return kind.split("(")[0].strip() if kind else None


def _served(catalog: DatabaseCatalog, table: Table, side: Any, value: Any) -> bool:
    """Whether the planner reads an index of the table for ``side = value`` as written
    (the value a parameter of its own type, so the plan holds for every value)."""
    probe_value = (_cast(ast.ParamRef(number=1), type_name(value.typeName) or "text")
                   if isinstance(value, ast.TypeCast) and _constant(value) is None
                   else value if _constant(value) is not None else ast.ParamRef(number=1))
    rel = ast.RangeVar(schemaname=table.schema, relname=table.name, inh=True,
                       relpersistence="p", alias=ast.Alias(aliasname=table.ref))
    probe = ast.SelectStmt(targetList=(ast.ResTarget(val=ast.A_Const(val=ast.Integer(ival=1))),),
                           fromClause=(rel,), whereClause=_op("=", side, probe_value),
                           op=enums.SetOperation.SETOP_NONE)
    plan = generic_plan(catalog.conn, deparse(probe), settings={"enable_seqscan": "off"})
    # With sequential scans off, a plan may read a whole index for its order: only an
    # index searched with the condition (its Index Cond) serves it.
    return not isinstance(plan, NoPlan) and any(n.index_name and n.index_cond
                                                for n in plan.nodes())


def _found(node: Any, tables: list[Table],
           catalog: DatabaseCatalog) -> tuple[Table, str, str, Any, Any] | None:
    """Table, column, the type it is compared as, the column side and the value, of
    ``col::type = value`` or ``int_col = numeric value``; else None."""
    sides = equality(node)
    if sides is None:
        return None
    side, value = sides
    cast = type_name(side.typeName) if isinstance(side, ast.TypeCast) else None
    found = resolve(side.arg if cast else side, tables, catalog)
    if found is None:
        return None
    table, column = found
    if cast is None:
        if _kind(catalog, table, column) in _INTEGERS and _numeric_value(value):
            return table, column, "numeric", side, value
        return None
    return table, column, cast, side, value


def _filters(where: Any, negated: bool = False) -> Iterator[tuple[Any, bool]]:
    """Every condition of a WHERE clause through AND, OR and NOT, and whether a NOT is
    above it. Where none is, a NULL filters a row out as false does, so a rewrite may
    answer NULL where the statement answered false; under a NOT it may not."""
    if where is None:
        return
    yield where, negated
    if isinstance(where, ast.BoolExpr):
        below = negated or where.boolop == enums.BoolExprType.NOT_EXPR
        for arg in where.args or ():
            yield from _filters(arg, below)


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    tables = tables_of(stmt.fromClause, catalog) or []
    skip: Skip | None = None
    for node, negated in _filters(stmt.whereClause):
        found = _found(node, tables, catalog)
        if found is None:
            continue
        table, column, compared, side, value = found
        name = f"{table.qualified}.{column}"
        if negated and _constant(value) is None:
            skip = skip or Skip(f"the comparison of {name} is under a NOT: the rewrite is NULL "
                                "where it is false, and NOT keeps the row only for false: "
                                "not rewritten", "not_supported")
            continue
        kind = _kind(catalog, table, column) or "unknown"
        index = leading_index(catalog, table, column)
        if index is None:
            skip = skip or Skip(f"no index leads with {name}: the bare column would be read "
                                "the same way", "no_gain")
            continue
        if _served(catalog, table, side, value):
            skip = skip or Skip(f"{name} ({kind}) compared as {compared} is served by an index "
                                "as written: the cast hides nothing", "no_gain")
            continue
        if not ((kind in _INTEGERS and compared in _NUMERIC)
                or (kind == "uuid" and compared in _TEXT)):
            skip = skip or Skip(f"{name} ({kind}) compared as {compared}: only an integer "
                                "column compared as numeric and a uuid compared as text are "
                                "rewritten", "not_supported")
            continue
        constant = _constant(value)
        if constant is not None and _exact(kind, constant) is None:
            skip = skip or Skip(f"{name} ({kind}) is compared with {constant}, which no {kind} "
                                "equals: the condition is never true; correct the statement",
                                "not_supported")
            continue
        return Match(NAME, LABEL, table.qualified, (name,),
                     f"{name} ({kind}) is cast to {compared} for the comparison, which hides "
                     f"it from index {index}", node,
                     parts={"column": side.arg if isinstance(side, ast.TypeCast) else side,
                      "value": value, "kind": kind})
    return skip or Skip("no column compared as another type in its WHERE clause")


def _exact(kind: str, constant: str) -> Any:
    """The constant as a value of ``kind`` when it is one exactly, else None."""
    if kind == "uuid":
        return (_cast(ast.A_Const(val=ast.String(sval=constant)), "uuid")
                if re.fullmatch(_CANONICAL_UUID, constant) else None)
    try:
        number = Decimal(constant)
    except InvalidOperation:
        return None
    lo, hi = _INTEGERS[kind]
    if not number.is_finite() or number != number.to_integral_value() or not lo <= number <= hi:
        return None
    whole = int(number)
    return ast.A_Const(val=ast.Integer(ival=whole) if -(2**31) <= whole < 2**31
                       else ast.Float(fval=str(whole)))


def _guarded(kind: str, value: Any) -> Any:
    """``CASE WHEN <value is exactly one of kind> THEN CAST(value AS kind) END``."""
    if kind == "uuid":
        text = value if isinstance(value, ast.TypeCast) else _cast(value, "text")
        test: Any = _op("~", text, ast.A_Const(val=ast.String(sval=_CANONICAL_UUID)))
        then = _cast(text, "uuid")
    else:
        number = (value if isinstance(value, ast.TypeCast)
                  and type_name(value.typeName) in _NUMERIC else _cast(value, "numeric"))
        lo, hi = _INTEGERS[kind]
        bounds = [ast.A_Const(val=ast.Integer(ival=b) if -(2**31) <= b < 2**31
                              else ast.Float(fval=str(b))) for b in (lo, hi)]
        within = ast.A_Expr(kind=enums.A_Expr_Kind.AEXPR_BETWEEN,
                            name=(ast.String(sval="BETWEEN"),), lexpr=number,
                            rexpr=tuple(bounds))
        whole = _op("=", number, ast.FuncCall(funcname=(ast.String(sval="trunc"),),
                                              args=(number,), funcformat=0))
        test = ast.BoolExpr(boolop=enums.BoolExprType.AND_EXPR, args=(within, whole))
        then = _cast(number, kind)
    return ast.CaseExpr(args=(ast.CaseWhen(expr=test, result=then),), defresult=None)


def rewrite(stmt: Any, match: Match) -> str:
    kind: str = match.parts["kind"]
    value = match.parts["value"]
    constant = _constant(value)
    exact = _exact(kind, constant) if constant is not None else _guarded(kind, value)
    compared = _op("=", match.parts["column"], exact)
    if stmt.whereClause is match.node:
        stmt.whereClause = compared
    else:
        replace_node(stmt.whereClause, match.node, compared)
    return deparse(stmt)
