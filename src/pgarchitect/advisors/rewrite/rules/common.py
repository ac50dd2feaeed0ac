"""What every rewrite rule shares: its answer (:class:`Match` or :class:`Skip`), and
reading a parse tree against the catalog (FROM items, columns, NOT NULL, indexes).

A rule reads one parsed ``SELECT`` (pglast's tree) and, when it fires, rewrites that
same tree in place and prints it again: the new statement keeps every ``$n`` of the
original, so it runs with the same parameter values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast, enums
from pglast.stream import RawStream

from pgarchitect.advisors.base import Skip as Skip  # the rules answer with it
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.workload.repair import repair

NOT_NULL_SQL = """
SELECT a.attnotnull
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND NOT a.attisdropped
"""


@dataclass(frozen=True)
class Match:
    """A place a rule can rewrite: what it found, on which table and columns.

    ``node`` is the node of the parsed statement to replace; ``parts`` holds what the
    rule's ``rewrite`` needs besides (nodes and names of the same tree).
    """

    rule: str
    label: str  # "NOT IN → NOT EXISTS"
    table: str  # schema.table the rewrite is about
    columns: tuple[str, ...]  # schema.table.column, as the checker compares them
    problem: str  # what is wrong, in a sentence
    node: Any = field(default=None, compare=False, repr=False)
    parts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    note: bool = False  # a note for the reader (checked to return the same rows), no speed claim


@dataclass(frozen=True)
class Table:
    """A table of a FROM list and the name the statement refers to it by."""

    schema: str
    name: str
    ref: str  # its alias, else its name

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def parse_select(query: str) -> ast.SelectStmt | Skip:
    """The one plain SELECT of ``query`` (no UNION at its top), or why not."""
    try:
        stmts = pglast.parse_sql(repair(query))
    except pglast.parser.ParseError as exc:
        return Skip(f"the statement does not parse ({exc})", "unparseable")
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        return Skip("only a single SELECT is rewritten", "not_supported")
    stmt = stmts[0].stmt
    if stmt.op != enums.SetOperation.SETOP_NONE or stmt.valuesLists:
        return Skip("a UNION, INTERSECT, EXCEPT or VALUES is not rewritten", "not_supported")
    return stmt


def deparse(node: Any) -> str:
    return str(RawStream()(node))


def conjuncts(where: Any) -> list[Any]:
    """The conditions ANDed at the top of a WHERE clause."""
    if where is None:
        return []
    if isinstance(where, ast.BoolExpr) and where.boolop == enums.BoolExprType.AND_EXPR:
        return [c for arg in where.args or () for c in conjuncts(arg)]
    return [where]


def conditions(where: Any) -> Iterator[Any]:
    """Every condition of a WHERE clause, through AND, OR and NOT (not into subqueries)."""
    if where is None:
        return
    yield where
    if isinstance(where, ast.BoolExpr):
        for arg in where.args or ():
            yield from conditions(arg)


def and_of(items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else ast.BoolExpr(
        boolop=enums.BoolExprType.AND_EXPR, args=tuple(items))


def column_name(node: Any) -> tuple[str | None, str] | None:
    """``(qualifier, column)`` of a plain column reference, else None."""
    if not isinstance(node, ast.ColumnRef):
        return None
    fields = node.fields or ()
    names = [f.sval for f in fields if isinstance(f, ast.String) and f.sval is not None]
    if len(names) != len(fields) or not 1 <= len(names) <= 2:
        return None
    return (names[0] if len(names) == 2 else None), names[-1]


def column_ref(qualifier: str, column: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=(ast.String(sval=qualifier), ast.String(sval=column)))


def tables_of(from_clause: Any, catalog: DatabaseCatalog) -> list[Table] | None:
    """The tables of a FROM list (through joins), or None when it holds anything else
    (a subquery, a function, a view) or a table the catalog does not have."""
    out: list[Table] = []
    for item in from_clause or ():
        if isinstance(item, ast.JoinExpr):
            inner = tables_of((item.larg, item.rarg), catalog)
            if inner is None or item.alias is not None:
                return None
            out.extend(inner)
        elif isinstance(item, ast.RangeVar) and item.relname:
            rel = catalog.relations.find(item.schemaname, item.relname)
            if rel is None or rel.kind not in ("table", "partitioned table"):
                return None
            ref = item.alias.aliasname if item.alias and item.alias.aliasname else item.relname
            out.append(Table(rel.schema, rel.name, ref))
        else:
            return None
    return out


def has_column(catalog: DatabaseCatalog, table: Table, column: str) -> bool:
    rel = catalog.relations.find(table.schema, table.name)
    return rel is not None and any(c.name == column for c in rel.columns)


def column_type(catalog: DatabaseCatalog, table: Table, column: str) -> str | None:
    rel = catalog.relations.find(table.schema, table.name)
    return next((c.type for c in rel.columns if c.name == column), None) if rel else None


def resolve(node: Any, tables: list[Table], catalog: DatabaseCatalog) -> tuple[Table, str] | None:
    """The table of ``tables`` a column reference reads, and the column; None when it is
    no plain column of exactly one of them."""
    name = column_name(node)
    if name is None:
        return None
    qualifier, column = name
    found = [t for t in tables if (qualifier is None or t.ref == qualifier)
             and has_column(catalog, t, column)]
    return (found[0], column) if len(found) == 1 else None


def not_null(catalog: DatabaseCatalog, table: Table, column: str) -> bool:
    """Whether the column is declared NOT NULL."""
    row = catalog.conn.execute(NOT_NULL_SQL, (table.schema, table.name, column)).fetchone()
    return bool(row and row[0])


def leading_index(catalog: DatabaseCatalog, table: Table, column: str) -> str | None:
    """The name of a valid, whole-table btree index that leads with the column."""
    info = catalog.tables([(table.schema, table.name)]).get((table.schema, table.name))
    for existing in info.indexes if info else ():
        index = existing.index
        if (existing.valid and index.method == "btree" and index.where is None
                and index.keys and index.keys[0].column == column):
            return existing.name
    return None


def type_name(node: Any) -> str | None:
    """The last name of a cast's type (``date``, ``numeric``, ``int4``), without its
    modifiers; None for an array type or what is not a type name."""
    names = [n.sval for n in node.names or ()] if isinstance(node, ast.TypeName) else []
    return names[-1] if names and not node.arrayBounds else None


def is_value(node: Any) -> bool:
    """A parameter or a constant, perhaps cast: no column in it."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return isinstance(node, ast.ParamRef | ast.A_Const)


def equality(node: Any) -> tuple[Any, Any] | None:
    """``(column side, value side)`` of ``a = value`` or ``value = a``, else None."""
    if not (isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_OP
            and [n.sval for n in node.name or ()] == ["="]):
        return None
    if is_value(node.rexpr) and not is_value(node.lexpr):
        return node.lexpr, node.rexpr
    if is_value(node.lexpr) and not is_value(node.rexpr):
        return node.rexpr, node.lexpr
    return None


def replace_node(root: Any, old: Any, new: Any) -> bool:
    """Put ``new`` where ``old`` (the very object) is in the tree under ``root``."""
    if not isinstance(root, ast.Node):
        return False
    for name in root:
        value = getattr(root, name)
        if value is old:
            setattr(root, name, new)
            return True
        if isinstance(value, tuple):
            if any(v is old for v in value):
                setattr(root, name, tuple(new if v is old else v for v in value))
                return True
            if any(replace_node(v, old, new) for v in value):
                return True
        elif replace_node(value, old, new):
            return True
    return False
