"""``WHERE a = $1 OR b = $2`` on one table → ``... WHERE a = $1 UNION ... WHERE b = $2``.

An OR of equalities on different columns cannot use one index scan per column
unless the planner picks a BitmapOr; often it reads the whole table instead. Each
arm of the UNION is served by its own index. UNION removes duplicate rows, so the
rule fires only when the select list carries a key of the table (its primary key
or a unique index on NOT NULL columns, or ``*``): then the original statement has
no duplicates either, and a row matching both arms comes out once, as before.
Statements with aggregates, GROUP BY, DISTINCT, ORDER BY, LIMIT or window functions
are left alone.
"""

from __future__ import annotations

from typing import Any

import pglast
from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    Table,
    and_of,
    column_name,
    conjuncts,
    deparse,
    equality,
    leading_index,
    not_null,
    resolve,
    tables_of,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

NAME = "or_to_union"
LABEL = "OR → UNION"


def _plain(stmt: Any) -> bool:
    return (not stmt.groupClause and stmt.havingClause is None and not stmt.distinctClause
            and not stmt.sortClause and stmt.limitCount is None and stmt.limitOffset is None
            and not stmt.windowClause and not stmt.lockingClause and not stmt.withClause
            and not _aggregates(stmt))


def _aggregates(stmt: Any) -> bool:
    """Whether its select list calls an aggregate or a window function."""
    names = {"count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and",
             "bool_or", "json_agg", "jsonb_agg", "every"}
    found = False

    def visit(node: object) -> None:
        nonlocal found
        if isinstance(node, ast.FuncCall) and (
                node.agg_star or node.over is not None
                or [n.sval for n in node.funcname or ()][-1:] in ([k] for k in names)):
            found = True
        elif isinstance(node, ast.Node):
            for attr in node:
                value = getattr(node, attr)
                for v in value if isinstance(value, tuple) else (value,):
                    visit(v)

    for target in stmt.targetList or ():
        visit(target)
    return found


def _keyed(stmt: Any, table: Table, catalog: DatabaseCatalog) -> bool:
    """Whether the select list holds every column of a unique key of the table."""
    selected: set[str] = set()
    for target in stmt.targetList or ():
        value: Any = target.val
        if isinstance(value, ast.ColumnRef) and isinstance((value.fields or (None,))[-1],
                                                           ast.A_Star):
            return True
        name = column_name(target.val)
        if name is not None:
            selected.add(name[1])
    info = catalog.tables([(table.schema, table.name)]).get((table.schema, table.name))
    for existing in info.indexes if info else ():
        index = existing.index
        columns = [k.column for k in index.keys]
        if (index.unique and existing.valid and index.where is None and all(columns)
                and all(c in selected and not_null(catalog, table, c)
                        for c in columns if c is not None)):
            return True
    return False


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    tables = tables_of(stmt.fromClause, catalog)
    ors = [c for c in conjuncts(stmt.whereClause)
           if isinstance(c, ast.BoolExpr) and c.boolop == enums.BoolExprType.OR_EXPR]
    if not ors:
        return Skip("no OR in its WHERE clause")
    if tables is None or len(tables) != 1:
        return Skip("an OR over more than one table is not rewritten", "not_supported")
    if not _plain(stmt):
        return Skip("an OR in a statement with aggregates, GROUP BY, DISTINCT, ORDER BY, "
                    "LIMIT or window functions is not rewritten", "not_supported")
    table = tables[0]
    node: Any = ors[0]
    columns: list[str] = []
    for arm in node.args:
        sides = equality(arm)
        found = resolve(sides[0], tables, catalog) if sides else None
        if found is None:
            return Skip("an arm of its OR is not column = value: not rewritten",
                        "not_supported")
        if leading_index(catalog, table, found[1]) is None:
            return Skip(f"no index leads with {table.qualified}.{found[1]}: that arm of the "
                        "UNION would read the table anyway", "no_gain")
        columns.append(f"{table.qualified}.{found[1]}")
    if len(set(columns)) < 2:
        return Skip("its OR tests one column: IN serves it already", "no_gain")
    if not _keyed(stmt, table, catalog):
        return Skip("UNION removes duplicate rows and the select list holds no unique key "
                    f"of {table.qualified}: not rewritten", "not_equivalent")
    return Match(NAME, LABEL, table.qualified, tuple(columns),
                 f"An OR of equalities on {', '.join(columns)}: one index cannot serve it",
                 node)


def rewrite(stmt: Any, match: Match) -> str:
    rest = [c for c in conjuncts(stmt.whereClause) if c is not match.node]
    text = deparse(stmt)
    arms = []
    for arm in match.node.args:
        copy: Any = pglast.parse_sql(text)[0].stmt  # a tree of its own for each arm
        copy.whereClause = and_of([arm, *rest])
        arms.append(copy)
    union: Any = arms[0]
    for arm in arms[1:]:
        union = ast.SelectStmt(op=enums.SetOperation.SETOP_UNION, all=False,
                               larg=union, rarg=arm)
    return deparse(union)
