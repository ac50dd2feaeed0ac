"""``SELECT DISTINCT <A's columns> FROM A JOIN B ON ... WHERE ...`` →
``SELECT <A's columns> FROM A WHERE EXISTS (SELECT 1 FROM B WHERE ...)``.

When B only filters A, the join repeats each row of A once per partner in B and
DISTINCT sorts or hashes all those copies away again. EXISTS is a semi join: it
stops at the first partner and has nothing to remove afterwards. The two agree only
when the select list holds a unique key of A (its primary key, or a unique index on
NOT NULL columns): then A's rows are distinct already and DISTINCT removed nothing
but the join's copies. Without one, DISTINCT also merges rows of A that look alike,
and EXISTS would not: the rule does not fire. The conditions on B (the join's and
the WHERE clause's) go into the EXISTS; those on A alone stay outside.
"""

from __future__ import annotations

from typing import Any

from pglast import ast, enums

from pgarchitect.advisors.rewrite.rules.common import (
    Match,
    Skip,
    Table,
    and_of,
    conjuncts,
    deparse,
    not_null,
    resolve,
    tables_of,
)
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

NAME = "distinct_exists"
LABEL = "DISTINCT over a join → EXISTS"


def _columns(node: Any) -> list[Any] | None:
    """The column references in ``node``; None when it holds a subquery."""
    if isinstance(node, ast.SubLink):
        return None
    if isinstance(node, ast.ColumnRef):
        return [node]
    out: list[Any] = []
    if isinstance(node, ast.Node):
        for attr in node:
            value = getattr(node, attr)
            for v in value if isinstance(value, tuple) else (value,):
                found = _columns(v)
                if found is None:
                    return None
                out.extend(found)
    return out


def _plain(stmt: Any) -> bool:
    return (stmt.distinctClause == (None,) and not stmt.groupClause
            and stmt.havingClause is None and not stmt.windowClause and not stmt.withClause
            and not stmt.lockingClause and len(stmt.fromClause or ()) in (1, 2)
            and (stmt.limitCount is None or bool(stmt.sortClause)))


def _two_tables(stmt: Any) -> tuple[Any, Any, Any] | None:
    """The two RangeVars of ``A JOIN B ON ...`` or ``A, B``, and the join's condition."""
    items: tuple[Any, ...] = tuple(stmt.fromClause or ())
    if len(items) == 2 and all(isinstance(i, ast.RangeVar) for i in items):
        return items[0], items[1], None
    join = items[0] if len(items) == 1 else None
    if (isinstance(join, ast.JoinExpr) and join.jointype == enums.JoinType.JOIN_INNER
            and isinstance(join.larg, ast.RangeVar) and isinstance(join.rarg, ast.RangeVar)
            and join.quals is not None and not join.usingClause and not join.isNatural):
        return join.larg, join.rarg, join.quals
    return None


def _selected(stmt: Any, table: Table, tables: list[Table],
              catalog: DatabaseCatalog) -> set[str] | None:
    """The columns of ``table`` its select list names ("*" for ``t.*``); None when the
    list holds anything else (an expression, another table's column)."""
    out: set[str] = set()
    for target in stmt.targetList or ():
        value: Any = target.val
        fields = value.fields if isinstance(value, ast.ColumnRef) else ()
        if fields and isinstance(fields[-1], ast.A_Star):
            if not (len(fields) == 2 and isinstance(fields[0], ast.String)
                    and fields[0].sval == table.ref):
                return None
            out.add("*")
            continue
        found = resolve(value, tables, catalog)
        if found is None or found[0] is not table:
            return None
        out.add(found[1])
    return out


def _key(catalog: DatabaseCatalog, table: Table, selected: set[str]) -> tuple[str, ...] | None:
    """The columns of a unique key of ``table`` that the select list holds, all NOT NULL."""
    info = catalog.tables([(table.schema, table.name)]).get((table.schema, table.name))
    for existing in info.indexes if info else ():
        index = existing.index
        columns = [k.column for k in index.keys]
        if (index.unique and existing.valid and index.where is None and columns
                and all(c is not None and ("*" in selected or c in selected)
                        and not_null(catalog, table, c) for c in columns)):
            return tuple(c for c in columns if c is not None)
    return None


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    if stmt.distinctClause is None:
        return Skip("no SELECT DISTINCT")
    pair = _two_tables(stmt)
    tables = tables_of(stmt.fromClause, catalog)
    if not _plain(stmt) or pair is None or tables is None or len(tables) != 2:
        return Skip("a DISTINCT is rewritten only over an inner join of two tables, without "
                    "DISTINCT ON, GROUP BY, window functions or a LIMIT without ORDER BY",
                    "not_supported")
    kept = [(t, s) for t in tables if (s := _selected(stmt, t, tables, catalog)) is not None]
    if not kept:
        return Skip("its select list reads more than plain columns of one table: the join is "
                    "not only a filter", "not_supported")
    outer, selected = kept[0]
    inner = next(t for t in tables if t is not outer)
    key = _key(catalog, outer, selected)
    if key is None:
        return Skip(f"its select list holds no unique key of {outer.qualified} (a primary key "
                    "or a unique index on NOT NULL columns): DISTINCT also removes rows of "
                    f"{outer.qualified} that look alike, which EXISTS would keep",
                    "not_equivalent")
    _, _, quals = pair
    inside: list[Any] = []
    outside: list[Any] = []
    used: list[str] = []
    for cond in [*conjuncts(quals), *conjuncts(stmt.whereClause)]:
        refs = _columns(cond)
        if refs is None:
            return Skip("a condition holds a subquery: not rewritten", "not_supported")
        owners = [resolve(r, tables, catalog) for r in refs]
        if any(o is None for o in owners):
            return Skip("a condition names a column that is not one of exactly one of its "
                        "tables: not rewritten", "not_supported")
        mine = [o[1] for o in owners if o is not None and o[0] is inner]
        (inside if mine else outside).append(cond)
        used.extend(f"{inner.qualified}.{c}" for c in mine)
    columns = (*(f"{outer.qualified}.{c}" for c in key), *dict.fromkeys(used))
    return Match(NAME, LABEL, outer.qualified, columns,
                 f"DISTINCT removes the copies of {outer.qualified}'s rows that its join with "
                 f"{inner.qualified} makes, after making them", None,
                 parts={"inner": inner.ref, "inside": inside, "outside": outside})


def rewrite(stmt: Any, match: Match) -> str:
    pair = _two_tables(stmt)
    assert pair is not None  # detect found them
    outer_rel, inner_rel, _ = pair
    ref = inner_rel.alias.aliasname if inner_rel.alias else inner_rel.relname
    if ref != match.parts["inner"]:
        outer_rel, inner_rel = inner_rel, outer_rel
    inside: list[Any] = match.parts["inside"]
    sub = ast.SelectStmt(targetList=(ast.ResTarget(val=ast.A_Const(val=ast.Integer(ival=1))),),
                         fromClause=(inner_rel,),
                         whereClause=and_of(inside) if inside else None,
                         op=enums.SetOperation.SETOP_NONE)
    exists = ast.SubLink(subLinkType=enums.SubLinkType.EXISTS_SUBLINK, subselect=sub)
    stmt.distinctClause = None
    stmt.fromClause = (outer_rel,)
    stmt.whereClause = and_of([*match.parts["outside"], exists])
    return deparse(stmt)
