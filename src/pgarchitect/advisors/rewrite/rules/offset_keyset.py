"""``ORDER BY k OFFSET $n LIMIT $m`` → ``WHERE (k, id) < ($c1, $c2) ORDER BY k, id LIMIT $m``.

A page read with OFFSET reads and throws away every row before it: page 2,000 of 50
rows reads 100,000 rows, through the index or a sort, to return 50. Keyset
pagination starts where the previous page ended (the cursor: the sort keys of its
last row) and reads only the page, through an index on the sort keys.

The statement changes shape, not just speed: it takes a cursor instead of an
offset, and the application must keep the cursor. The sort keys alone may have ties
(a batch of rows with one timestamp), and a cursor on them would skip or repeat
rows: the table's primary key is added to the order as a tiebreaker. All keys must
be NOT NULL (a row comparison with a NULL is NULL). The rows are compared with the
original made deterministic (the same order with the tiebreaker), in order, at
deep offsets the rule chooses: pg_stat_statements hides the workload's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    and_of,
    column_name,
    conjuncts,
    deparse,
    leading_index,
    not_null,
    parse_select,
    resolve,
    tables_of,
)
from pgarchitect.analysis import Analysis, Param
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.plans import NoPlan, sample_parameter_sets
from pgarchitect.settings import Config

NAME = "offset_keyset"
LABEL = "OFFSET → keyset pagination"

# Offsets measured: pg_stat_statements hides the workload's, and a sampled OFFSET is
# 0. An admin paging to page 2,000 of 50 rows is at 100,000.
DEEP_OFFSETS = (1_000, 10_000, 100_000)
PAGE = "50"  # the LIMIT measured with when the workload's is unknown

ROWS_SQL = """
SELECT c.reltuples
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %s AND n.nspname = coalesce(%s, current_schema())
"""

Values = Sequence[str | None]


def _name(node: Any) -> str:
    return str(node.fields[-1].sval)


def _problem(table: str, keys: str) -> str:
    return (f"a page of {table} read with ORDER BY {keys} OFFSET: every row before the page "
            "is read and thrown away, so deep pages cost as much as the offset")


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    if not isinstance(stmt.limitOffset, ast.ParamRef):
        return Skip("no OFFSET $n")
    if stmt.limitCount is None or stmt.limitOption == enums.LimitOption.LIMIT_OPTION_WITH_TIES:
        return Skip("its OFFSET has no plain LIMIT: it is no page", "not_supported")
    if not stmt.sortClause:
        return Skip("its OFFSET has no ORDER BY: its pages are in no defined order",
                    "not_supported")
    if (stmt.groupClause or stmt.distinctClause or stmt.havingClause is not None
            or stmt.windowClause or stmt.withClause or stmt.lockingClause):
        return Skip("a page of a grouped, DISTINCT, windowed or locking statement is not "
                    "rewritten", "not_supported")
    tables = tables_of(stmt.fromClause, catalog)
    if tables is None or len(tables) != 1 or not isinstance(stmt.fromClause[0], ast.RangeVar):
        return Skip("keyset pagination is written for a page of one table, not of a join",
                    "not_supported")
    [table] = tables
    keys: list[tuple[str, bool]] = []
    for item in stmt.sortClause:
        found = resolve(item.node, tables, catalog)
        if (found is None or item.useOp
                or item.sortby_nulls != enums.SortByNulls.SORTBY_NULLS_DEFAULT):
            return Skip("its ORDER BY holds more than plain columns (an expression, NULLS "
                        "FIRST/LAST, USING): not rewritten", "not_supported")
        keys.append((found[1], item.sortby_dir == enums.SortByDir.SORTBY_DESC))
    names = [k for k, _ in keys]
    aliases = {t.name: t.val for t in stmt.targetList or () if t.name}
    if any(k in aliases and _name(aliases[k]) != k for k in names
           if isinstance(aliases.get(k), ast.ColumnRef)) or any(
               k in aliases and not isinstance(aliases[k], ast.ColumnRef) for k in names):
        return Skip("an output column has the name of a sort key: not rewritten",
                    "not_supported")
    info = catalog.tables([(table.schema, table.name)]).get((table.schema, table.name))
    uniques = [e.index.keys for e in info.indexes if e.constraint in ("primary key", "unique")
               and e.valid] if info else []  # a unique key among the sort keys: no ties
    tie: list[str] = []
    if not any(all(k.column in names for k in u) for u in uniques):
        primary = next((e.index.keys for e in info.indexes
                        if e.constraint == "primary key"), None) if info else None
        if not primary or any(k.column is None for k in primary):
            return Skip(f"{table.qualified} has no primary key to break the ties of its "
                        "ORDER BY: a cursor on keys with ties skips or repeats rows",
                        "not_supported")
        tie = [str(k.column) for k in primary if k.column not in names]
    nullable = [c for c in names + tie if not not_null(catalog, table, c)]
    if nullable:
        return Skip(f"keyset pagination compares rows by their sort keys, and "
                    f"{', '.join(f'{table.qualified}.{c}' for c in nullable)} may be NULL "
                    "(the comparison is then NULL): not rewritten", "not_equivalent")
    if leading_index(catalog, table, names[0]) is None:
        return Skip(f"no index on {table.qualified} leads with {names[0]}, the first key of "
                    "its ORDER BY: a keyset page would still sort the table; an index on "
                    "the sort keys comes first (the index advisor measures one)", "no_gain")
    selected = {named[1] for t in stmt.targetList or ()
                if (named := column_name(t.val)) is not None}
    desc_last = keys[-1][1]
    return Match(NAME, LABEL, table.qualified,
                 tuple(f"{table.qualified}.{c}" for c in names),
                 _problem(table.qualified, ", ".join(names)),
                 parts={"keys": [*keys, *((c, desc_last) for c in tie)], "tie": tie,
                        "rows": info.rows if info else None,
                        "missing": [c for c in names + tie if c not in selected]})


def _params(node: Any) -> list[Any]:
    """Every ``$n`` under ``node`` (ParamRef nodes)."""
    if isinstance(node, ast.ParamRef):
        return [node]
    out: list[Any] = []
    if isinstance(node, tuple):
        for v in node:
            out.extend(_params(v))
    elif isinstance(node, ast.Node):
        for name in node:
            out.extend(_params(getattr(node, name)))
    return out


def _op(op: str, left: Any, right: Any) -> ast.A_Expr:
    return ast.A_Expr(kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=op),),
                      lexpr=left, rexpr=right)


def _cursor(keys: Sequence[tuple[str, bool]], first: int) -> Any:
    """``(a, b) < ($i, $j)`` when every key goes one way, else the expanded OR form."""
    cols = [ast.ColumnRef(fields=(ast.String(sval=c),)) for c, _ in keys]
    params = [ast.ParamRef(number=first + i) for i in range(len(keys))]
    if len({d for _, d in keys}) == 1:
        op = "<" if keys[0][1] else ">"
        if len(keys) == 1:
            return _op(op, cols[0], params[0])
        row = enums.CoercionForm.COERCE_IMPLICIT_CAST
        return _op(op, ast.RowExpr(args=tuple(cols), row_format=row),
                   ast.RowExpr(args=tuple(params), row_format=row))
    branches = []
    for i, (_, desc) in enumerate(keys):
        equal = [_op("=", cols[j], params[j]) for j in range(i)]
        branches.append(and_of([*equal, _op("<" if desc else ">", cols[i], params[i])]))
    return ast.BoolExpr(boolop=enums.BoolExprType.OR_EXPR, args=tuple(branches))


def rewrite(stmt: Any, match: Match) -> str:
    keys: list[tuple[str, bool]] = match.parts["keys"]
    offset = stmt.limitOffset.number
    stmt.limitOffset = None
    # The offset's $n goes; the others keep their order, and the cursor comes last.
    for p in _params(stmt):
        if p.number > offset:
            p.number -= 1
    last = max((p.number for p in _params(stmt)), default=0)
    desc = enums.SortByDir.SORTBY_DESC if keys[-1][1] else enums.SortByDir.SORTBY_DEFAULT
    stmt.sortClause = (*stmt.sortClause, *(
        ast.SortBy(node=ast.ColumnRef(fields=(ast.String(sval=c),)), sortby_dir=desc,
                   sortby_nulls=enums.SortByNulls.SORTBY_NULLS_DEFAULT)
        for c in match.parts["tie"]))
    match.parts["first_page"] = deparse(stmt)
    stmt.whereClause = and_of([*conjuncts(stmt.whereClause), _cursor(keys, last + 1)])
    return deparse(stmt)


def owns(original: str, rewritten: str) -> bool:
    """An OFFSET page and a statement in the same order without OFFSET: this rule's."""
    before: Any = parse_select(original)
    after: Any = parse_select(rewritten)
    return (not isinstance(before, Skip) and not isinstance(after, Skip)
            and isinstance(before.limitOffset, ast.ParamRef) and after.limitOffset is None
            and bool(after.sortClause) and after.limitCount is not None)


def reference(original: str, rewritten: str) -> str:
    """The original in the rewrite's order (the tiebreaker added): deterministic pages."""
    before: Any = parse_select(original)
    after: Any = parse_select(rewritten)
    assert not isinstance(before, Skip) and not isinstance(after, Skip)
    before.sortClause = after.sortClause
    return deparse(before)


def _literal(value: str | None) -> ast.A_Const:
    return ast.A_Const(isnull=True) if value is None else ast.A_Const(val=ast.String(sval=value))


def _swap(node: Any, values: Values) -> Any:
    """``node`` with every ``$n`` replaced by its value, as a literal."""
    if isinstance(node, ast.ParamRef):
        return _literal(values[(node.number or 0) - 1])
    if isinstance(node, tuple):
        return tuple(_swap(v, values) for v in node)
    if isinstance(node, ast.Node):
        for name in node:
            setattr(node, name, _swap(getattr(node, name), values))
    return node


def bind(conn: psycopg.Connection[Any], original: str, rewritten: str,
         values: Values) -> Values | NoPlan:
    """The keyset statement's values for the original's: its other values, then the
    cursor, the sort keys of the row just before the offset's page."""
    before: Any = parse_select(original)
    after: Any = parse_select(rewritten)
    assert not isinstance(before, Skip) and not isinstance(after, Skip)
    number = before.limitOffset.number
    offset = int(values[number - 1] or 0)
    if offset < 1:
        return NoPlan("offset 0 is the first page, which has no cursor: the keyset "
                      "statement without its cursor condition reads it", code="not_supported")
    cursor = _swap(before, values)
    text = ast.TypeName(names=(ast.String(sval="text"),))
    # Named apart: an output column named like a key would be what ORDER BY sorts by.
    cursor.targetList = tuple(ast.ResTarget(name=f"pgarchitect_cursor_{i}",
                                            val=ast.TypeCast(arg=s.node, typeName=text))
                              for i, s in enumerate(after.sortClause, start=1))
    cursor.sortClause = after.sortClause
    cursor.limitOffset = ast.A_Const(val=ast.Integer(ival=offset - 1))
    cursor.limitCount = ast.A_Const(val=ast.Integer(ival=1))
    row = conn.execute(deparse(cursor)).fetchone()
    if row is None:
        return NoPlan(f"offset {offset:,} is past the last row: no cursor", code="not_supported")
    return [*(v for i, v in enumerate(values, start=1) if i != number), *row]


def sets(conn: psycopg.Connection[Any], original: str, params: Sequence[Param],
         known: Sequence[Values]) -> tuple[list[Values], str] | NoPlan:
    """Deep offsets within the table's rows, with the workload's LIMIT when a log has it."""
    stmt: Any = parse_select(original)
    assert not isinstance(stmt, Skip)
    base = sample_parameter_sets(conn, original, params, known, count=1)
    if isinstance(base, NoPlan):
        return base
    values = list(base[0].values)
    logged = base[0].origins and base[0].origins[0] == "log"
    if isinstance(stmt.limitCount, ast.ParamRef) and not logged:
        values[(stmt.limitCount.number or 0) - 1] = PAGE
    table = stmt.fromClause[0]
    found = conn.execute(ROWS_SQL, [table.relname, table.schemaname]).fetchone()
    rows = float(found[0]) if found else 0.0
    offsets = [o for o in DEEP_OFFSETS if o < rows * 0.9] or [max(1, int(rows // 2))]
    number = stmt.limitOffset.number
    chosen: list[Values] = [[str(o) if i == number else v for i, v in enumerate(values, 1)]
                            for o in offsets]
    limit = (values[(stmt.limitCount.number or 0) - 1] if isinstance(stmt.limitCount, ast.ParamRef)
             else deparse(stmt.limitCount))
    return chosen, (f"checked and measured at offsets {', '.join(f'{o:,}' for o in offsets)} "
                    f"with LIMIT {limit}: pg_stat_statements hides the workload's offsets")


def admit(match: Match, catalog: DatabaseCatalog, config: Config) -> Skip | None:
    least = config.get_int("rewrite_keyset_min_rows")
    rows = match.parts["rows"]
    if rows is None or rows <= least:
        shown = "an unknown number of" if rows is None else f"about {rows:,.0f}"
        return Skip(f"{match.table} has {shown} rows, not more than rewrite_keyset_min_rows "
                    f"({least:,}): a deep OFFSET reads little there", "low_cost")
    return None


def advice(match: Match) -> str:
    keys: list[tuple[str, bool]] = match.parts["keys"]
    names = ", ".join(c for c, _ in keys)
    text = (f"The application keeps the ({names}) of the last row shown and passes it for "
            f"the next page (the last {len(keys)} parameters); page numbers become "
            "next/previous links (previous: the comparison and the order reversed), and "
            "jumping straight to page N is lost. The first page is the statement without "
            f"the cursor condition: {match.parts.get('first_page', '')}.")
    if match.parts["tie"]:
        text += (f" The original's order of rows with equal {keys[0][0]} is arbitrary: "
                 f"{', '.join(match.parts['tie'])} is added to the order so that no page "
                 "repeats or skips a row.")
    if match.parts["missing"]:
        text += (f" Add {', '.join(match.parts['missing'])} to the select list, so the "
                 "application has the cursor.")
    return text
