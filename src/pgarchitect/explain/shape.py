"""The parse tree: what analysis does not keep and the sentences need.

Analysis keeps relations, predicates, columns, groups, sorts and limits; a walk of
pglast's parse tree adds the rest: joins, aggregates, window functions, set
operations, EXISTS and IN tests, the rows of a VALUES list, ON CONFLICT, COPY.
Column references found on the way are resolved to the base columns analysis
resolved, so that the sentences can name them. A statement that does not parse
still has tokens: :func:`scan_tables` finds the names of its tables in them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import pglast.parser
from pglast import ast, enums

from pgarchitect.analysis import Analysis, ColumnRef
from pgarchitect.analysis.nodes import children, funcname, is_aggregate, node_name

# Operators of ``column <op> column`` inside an aggregate, in words.
ARITHMETIC: Final = {"-": "minus", "+": "plus", "*": "times", "/": "per"}


@dataclass(frozen=True)
class Agg:
    """An aggregate call: count(DISTINCT user_id), avg(closed_at - created_at)."""

    func: str
    column: ColumnRef | None
    distinct: bool
    filter_column: ColumnRef | None
    nested: bool  # inside a subquery of an expression: not what the statement computes
    # An argument that is two columns and an operator (a - b, a * b), not one column.
    operation: tuple[ColumnRef, str, ColumnRef] | None = None


@dataclass(frozen=True)
class Window:
    """A window function call, with its PARTITION BY and ORDER BY columns."""

    func: str
    partition: tuple[ColumnRef, ...]
    order: tuple[tuple[ColumnRef, bool], ...]  # (column, descending)


@dataclass(frozen=True)
class Sublink:
    """An EXISTS or IN test every row of the top WHERE clause must pass."""

    kind: str  # exists, not exists, in, not in, scalar, ...
    tables: tuple[str, ...]  # relation names read inside
    column: ColumnRef | None  # IN: the column tested


@dataclass(frozen=True)
class Copy:
    """A COPY statement's table and direction."""

    schema: str | None
    table: str
    loading: bool  # COPY ... FROM: rows come in
    columns: tuple[str, ...]


@dataclass
class Shape:
    """What the parse tree adds to analysis."""

    joins: list[str] = field(default_factory=list)  # inner, left, right, full, cross, implicit
    aggregates: list[Agg] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    sublinks: list[Sublink] = field(default_factory=list)  # in the top WHERE
    set_ops: list[str] = field(default_factory=list)
    main_tables: list[str] = field(default_factory=list)  # FROM items outside subqueries
    values_rows: int = 0
    insert_select: bool = False
    on_conflict: str | None = None  # nothing, update
    copy: Copy | None = None
    utility: str | None = None  # the node type of a utility statement
    parsed: bool = True


_JOIN_TYPES: Final = {
    enums.JoinType.JOIN_INNER: "inner", enums.JoinType.JOIN_LEFT: "left",
    enums.JoinType.JOIN_RIGHT: "right", enums.JoinType.JOIN_FULL: "full",
}
_SUBLINK_KINDS: Final = {
    enums.SubLinkType.EXISTS_SUBLINK: "exists", enums.SubLinkType.ANY_SUBLINK: "in",
    enums.SubLinkType.ALL_SUBLINK: "all", enums.SubLinkType.EXPR_SUBLINK: "scalar",
    enums.SubLinkType.ARRAY_SUBLINK: "array",
}


def shape_of(query: str, analysis: Analysis) -> Shape:
    """Walk the parse tree of ``query`` (of which ``analysis`` is the analysis)."""
    shape = Shape()
    try:
        stmts = pglast.parser.parse_sql(query)
    except pglast.parser.ParseError:
        # Analysis repaired a statement cut at the end; go on with what it found.
        shape.parsed = False
        return shape
    root = stmts[0].stmt if stmts else None
    if root is None:
        return shape
    if isinstance(root, ast.CopyStmt):
        rel = root.relation
        if rel is not None and rel.relname:
            cols = tuple(n for n in (node_name(a) for a in root.attlist or ()) if n)
            shape.copy = Copy(rel.schemaname, rel.relname, bool(root.is_from), cols)
        return shape
    if isinstance(root, ast.InsertStmt):
        sel = root.selectStmt
        if isinstance(sel, ast.SelectStmt):
            if sel.valuesLists:
                shape.values_rows = len(sel.valuesLists)
            else:
                shape.insert_select = True
        clause = root.onConflictClause
        if clause is not None:
            shape.on_conflict = ("update" if clause.action
                                 == enums.OnConflictAction.ONCONFLICT_UPDATE else "nothing")
    elif not isinstance(root, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt
                        | ast.MergeStmt):
        shape.utility = type(root).__name__
        return shape
    resolver = _Resolver(analysis, root)
    _walk(root, shape, resolver)
    if isinstance(root, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt):
        _sublinks(root.whereClause, shape, resolver)
    return shape


class _Resolver:
    """Column references of the parse tree to the base columns analysis resolved."""

    def __init__(self, analysis: Analysis, root: ast.Node) -> None:
        self.aliases: dict[str, str] = {}  # alias or name -> relation name
        for rv in _range_vars(root):
            if rv.relname:
                self.aliases.setdefault(rv.relname, rv.relname)
                if rv.alias is not None and rv.alias.aliasname:
                    self.aliases[rv.alias.aliasname] = rv.relname
        self.by_name: dict[str, set[ColumnRef]] = {}
        for use in analysis.columns:
            self.by_name.setdefault(use.column.column, set()).add(use.column)

    def column(self, node: ast.Node | None) -> ColumnRef | None:
        """The base column a reference (or the first reference in an expression) is."""
        ref = node if isinstance(node, ast.ColumnRef) else _first_column(node)
        if ref is None:
            return None
        names = [node_name(f) for f in ref.fields or ()]
        if not names or names[-1] is None:
            return None
        candidates = self.by_name.get(names[-1], set())
        if len(names) > 1 and names[-2] is not None:
            table = self.aliases.get(names[-2], names[-2])
            narrowed = {c for c in candidates if c.table == table}
            candidates = narrowed or candidates
        return next(iter(candidates)) if len(candidates) == 1 else None


def _preorder(root: ast.Node) -> Iterator[tuple[ast.Node, bool]]:
    """Every node under ``root``, parents first and in written order, each with whether
    it is inside a subquery of an expression. A loop, not recursion: generated SQL
    nests deeper than Python's recursion limit."""
    stack: list[tuple[ast.Node, bool]] = [(root, False)]
    while stack:
        node, nested = stack.pop()
        nested = nested or isinstance(node, ast.SubLink)
        yield node, nested
        stack.extend((child, nested) for child in reversed(list(children(node))))


def _first_column(node: ast.Node | None) -> ast.ColumnRef | None:
    if node is None:
        return None
    return next((n for n, _ in _preorder(node) if isinstance(n, ast.ColumnRef)), None)


def _range_vars(node: ast.Node) -> Iterator[ast.RangeVar]:
    return (n for n, _ in _preorder(node) if isinstance(n, ast.RangeVar))


def _walk(root: ast.Node, shape: Shape, resolver: _Resolver) -> None:
    """Joins, aggregates, windows, set operations and the tables outside subqueries."""
    for node, nested in _preorder(root):
        if isinstance(node, ast.RangeVar) and not nested and node.relname:
            shape.main_tables.append(node.relname)
        elif isinstance(node, ast.FuncCall) and node.over is not None:
            over = node.over
            partition = tuple(c for c in (resolver.column(p) for p in over.partitionClause or ())
                              if c is not None)
            order = tuple(
                (c, s.sortby_dir == enums.SortByDir.SORTBY_DESC)
                for s in over.orderClause or () if isinstance(s, ast.SortBy)
                if (c := resolver.column(s.node)) is not None)
            shape.windows.append(Window(funcname(node).lower(), partition, order))
        elif isinstance(node, ast.FuncCall) and is_aggregate(node):
            arg = (node.args or (None,))[0]
            shape.aggregates.append(Agg(
                funcname(node).lower(), None if node.agg_star else resolver.column(arg),
                bool(node.agg_distinct), resolver.column(node.agg_filter), nested,
                _operation(arg, resolver)))
        elif isinstance(node, ast.JoinExpr):
            if node.quals is None and not node.usingClause and not node.isNatural:
                shape.joins.append("cross")
            else:
                join = node.jointype
                shape.joins.append("inner" if join is None else _JOIN_TYPES.get(join, "inner"))
        elif isinstance(node, ast.SelectStmt):
            shape.joins.extend(["implicit"] * (len(node.fromClause or ()) - 1))
            if node.op is not None and node.op != enums.SetOperation.SETOP_NONE:
                shape.set_ops.append(str(node.op.name).removeprefix("SETOP_"))


def _operation(node: ast.Node | None,
               resolver: _Resolver) -> tuple[ColumnRef, str, ColumnRef] | None:
    """The first ``column <op> column`` in an expression: closed_at - created_at."""
    if node is None:
        return None
    for n, _ in _preorder(node):
        if isinstance(n, ast.A_Expr) and n.kind == enums.A_Expr_Kind.AEXPR_OP \
                and isinstance(n.lexpr, ast.ColumnRef) and isinstance(n.rexpr, ast.ColumnRef):
            op = node_name((n.name or (None,))[-1]) or ""
            left, right = resolver.column(n.lexpr), resolver.column(n.rexpr)
            if op in ARITHMETIC and left is not None and right is not None and left != right:
                return left, op, right
    return None


def _sublinks(where: ast.Node | None, shape: Shape, resolver: _Resolver) -> None:
    """EXISTS and IN tests of a WHERE clause, with the NOT in front of them.

    Only those every row must pass: a test in one branch of an OR filters nothing
    on its own, and is left to the OR's wording.
    """
    stack: list[tuple[ast.Node | None, bool]] = [(where, False)]
    while stack:
        node, negated = stack.pop()
        if isinstance(node, ast.BoolExpr) and node.boolop != enums.BoolExprType.OR_EXPR:
            negate = node.boolop == enums.BoolExprType.NOT_EXPR
            stack.extend((arg, negated != negate) for arg in reversed(node.args or ()))
        elif isinstance(node, ast.SubLink) and node.subselect is not None:
            link = node.subLinkType
            kind = "subquery" if link is None else _SUBLINK_KINDS.get(link, "subquery")
            tables = tuple(dict.fromkeys(rv.relname for rv in _range_vars(node.subselect)
                                         if rv.relname))
            shape.sublinks.append(Sublink(f"not {kind}" if negated else kind, tables,
                                          resolver.column(node.testexpr)))


_TABLE_BEFORE: Final = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE"})


def scan_tables(query: str) -> list[str]:
    """Names after FROM, JOIN, INTO, UPDATE, found by PostgreSQL's scanner alone.

    >>> scan_tables('SELEC * FROM shop.orders o JOIN "User" u ON')
    ['shop.orders', 'User']
    """
    try:
        tokens = pglast.parser.scan(query)
    except pglast.parser.ParseError:
        return []
    names: list[str] = []
    for i, token in enumerate(tokens[:-1]):
        if token.name not in _TABLE_BEFORE:
            continue
        j, parts = i + 1, []
        while j < len(tokens) and tokens[j].name == "IDENT":
            parts.append(query[tokens[j].start:tokens[j].end + 1].strip('"'))
            if j + 1 < len(tokens) and tokens[j + 1].name == "ASCII_46":  # a dot
                j += 2
            else:
                break
        if parts:
            names.append(".".join(parts))
    return list(dict.fromkeys(names))
