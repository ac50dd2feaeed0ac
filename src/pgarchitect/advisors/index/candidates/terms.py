"""What one statement asks of one table, in the terms the rules need.

:func:`table_use` turns an :class:`Analysis` and a :class:`TableInfo` into the
conditions an index on that table could serve (:class:`Term`), the ORDER BY it
could provide, and the columns it would have to hold for an index-only scan. The
rules read that, never the raw analysis, so that they agree on what counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import pglast
from pglast import ast, enums

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.analysis import Analysis, ColumnRef, Predicate
from pgarchitect.analysis.nodes import deparse, funcname
from pgarchitect.catalog.index import IndexDef, IndexKey, quote
from pgarchitect.catalog.tables import INDEXABLE_KINDS, ExistingIndex, TableInfo

# PostgreSQL's guesses when a column has no statistics (utils/selfuncs.h).
DEFAULT_EQ_SEL: Final = 0.005
# Values in an array parameter (= ANY($1)) when their number is unknown.
ARRAY_PARAM_ITEMS: Final = 10
# Keys of a multi-column candidate: past three, an index grows for little gain.
MAX_KEYS: Final = 3
# A constant test that keeps more than this share of the rows is worth neither an
# index of its own nor a partial index: the index would hold most of the table.
MAX_FRACTION: Final = 0.5

_PARAM = re.compile(r"\$\d+")


@dataclass(frozen=True)
class Term:
    """A condition on one column (or expression of it) that an index could serve.

    ``role``: eq, in (a list or array), range, null (IS [NOT] NULL), like, join
    (equality with a column of another FROM item), semi (IN a subquery).
    """

    role: str
    column: str  # the base column
    key: IndexKey  # the column or expression as an ascending index key
    predicate: Predicate
    other: ColumnRef | None = None  # join: the column on the other side

    @property
    def constant(self) -> bool:
        """A test on constants only (``status = 'active'``, ``x IS NULL``)."""
        return self.role in ("eq", "in", "range", "null") and self.predicate.constant

    @property
    def label(self) -> str:
        """How a reason names it: ``userId``, ``lower(email)``."""
        return self.key.column if self.key.column is not None else self.key.expression or ""


@dataclass(frozen=True)
class Sort:
    """An ORDER BY an index on the table could provide (equality-fixed keys left out)."""

    keys: tuple[IndexKey, ...]
    limited: bool  # the statement's own ORDER BY, with a LIMIT
    scope: str = ""  # the query block: "" for the statement, else a subquery's
    correlated: bool = False  # a subquery run once per outer row (LATERAL, EXISTS, ...)


@dataclass(frozen=True)
class TableUse:
    """What one statement asks of one table."""

    table: TableInfo
    analysis: Analysis
    terms: tuple[Term, ...]  # conditions ANDed with the rest of the statement
    branches: tuple[Term, ...]  # conditions inside ORs whose every branch is indexable
    sorts: tuple[Sort, ...]
    reads: tuple[str, ...]  # every column of the table the statement reads, in order
    star: bool  # reads a whole row (or columns analysis could not resolve)
    notes: tuple[str, ...]  # why a condition was left out
    broad: frozenset[IndexKey] = frozenset()  # constant tests that keep most rows

    @property
    def all_terms(self) -> tuple[Term, ...]:
        """The conditions and the OR branches: what a one-condition index may serve."""
        return (*self.terms, *self.branches)


def table_use(analysis: Analysis, table: TableInfo) -> TableUse:
    """What ``analysis`` asks of ``table`` (cached: every rule calls it)."""
    try:
        return _cached_use(analysis, table)
    except TypeError:  # a record built by hand with a list in it: not hashable
        return _table_use(analysis, table)


@lru_cache(maxsize=256)
def _cached_use(analysis: Analysis, table: TableInfo) -> TableUse:
    return _table_use(analysis, table)


def _table_use(analysis: Analysis, table: TableInfo) -> TableUse:
    notes: list[str] = []
    terms: list[Term] = []
    branches: list[Term] = []
    materialized = _materialized_ctes(analysis)
    or_ok = all(_indexable(p, analysis) for p in analysis.predicates if p.in_or)
    broad: set[IndexKey] = set()
    for p in analysis.predicates:
        for term in _terms(p, table):
            via = p.via or ""
            if via.startswith("cte ") and via[4:] in materialized:
                notes.append(
                    f"Condition {predicate_text(p)} is on the result of CTE {via[4:]}, "
                    f"which is materialized: no index on {table.qualified} serves it")
                continue
            if term.key.expression is not None:
                column = table.column(term.column)
                why = not_immutable(term.key.expression, column.type if column else None)
                if why is not None:
                    notes.append(f"No index on {term.key.expression}: {why}")
                    continue
            if not p.in_or:
                terms.append(term)
            elif or_ok:
                branches.append(term)
            else:
                continue
            share = selectivity(term, table) if term.constant else None
            if share is not None and share > MAX_FRACTION:
                broad.add(term.key)
                notes.append(f"{predicate_text(p)} keeps about {share:.0%} of the rows of "
                             f"{table.qualified}: no index on it alone, no partial index on it")
    if not or_ok and any(p.in_or for p in analysis.predicates
                         if _on(p.column, table) or _on(p.other, table)):
        bad = next(p for p in analysis.predicates if p.in_or and not _indexable(p, analysis))
        notes.append(f"An OR has a branch no index serves ({predicate_text(bad)}): "
                     f"no candidate for its branches")
    fixed = {t.column for t in terms if t.role == "eq" and t.key.column is not None}
    unique = unique_index(table, fixed)
    if unique is not None:
        note = (f"Equality on {', '.join(unique.index.columns)} finds one row at most "
                f"through unique index {unique.name}: no other index on {table.qualified} "
                f"helps")
        return TableUse(table, analysis, (), (), (), (), False, (note,))
    reads = tuple(dict.fromkeys(
        u.column.column for u in analysis.columns
        if _on(u.column, table) and set(u.roles) - {"set", "insert", "conflict"}))
    star = "*" in reads or any(c.endswith(".*") for c in analysis.unresolved)
    return TableUse(table, analysis, tuple(terms), tuple(branches),
                    tuple(_sorts(analysis, table, fixed)), tuple(r for r in reads if r != "*"),
                    star, tuple(dict.fromkeys(notes)), frozenset(broad))


def unique_index(table: TableInfo, columns: Iterable[str]) -> ExistingIndex | None:
    """A valid unique index on some of these columns (and nothing else), or None."""
    wanted = set(columns)
    for index in table.indexes:
        d = index.index
        if (index.valid and d.unique and d.where is None and d.method == "btree"
                and len(d.columns) == len(d.keys) and set(d.columns) <= wanted):
            return index
    return None


def _on(column: ColumnRef | None, table: TableInfo) -> bool:
    return column is not None and (column.schema, column.table) == table.key


def _materialized_ctes(analysis: Analysis) -> set[str]:
    """CTEs computed first, whole: conditions on their result reach no base table.

    PostgreSQL 12+ inlines a side-effect-free CTE referenced once unless told
    MATERIALIZED (https://www.postgresql.org/docs/current/queries-with.html).
    """
    return {c.name for c in analysis.ctes
            if c.materialized == "materialized" or c.recursive
            or (c.materialized == "default" and c.references > 1)}


def _role(p: Predicate) -> str | None:
    """The Term role of a predicate, None when no index condition can serve it."""
    if p.clause == "having" or p.column is None:
        return None
    if p.expression is not None and (_PARAM.search(p.expression) or p.expression.startswith("(")):
        return None  # a parameter inside the indexed side, or a row: (a, b) < ($1, $2)
    if p.role == "join":
        return "join"
    if p.role == "in":
        return "semi" if p.value_kind == "subquery" else "in"
    if p.role in ("eq", "range"):
        return p.role if p.value_kind != "column" else None
    if p.role == "like":
        return "like" if p.value_kind in ("const", "param", "expression") else None
    if p.role == "null":
        return "null"
    return None


def _terms(p: Predicate, table: TableInfo) -> list[Term]:
    role = _role(p)
    if role is None:
        return []
    terms = []
    if _on(p.column, table):
        assert p.column is not None
        key = IndexKey(expression=p.expression) if p.expression else IndexKey(p.column.column)
        terms.append(Term(role, p.column.column, key, p, p.other))
    if role == "join" and p.other is not None and _on(p.other, table) and p.other != p.column:
        terms.append(Term(role, p.other.column, IndexKey(p.other.column), p, p.column))
    return terms


def _indexable(p: Predicate, analysis: Analysis) -> bool:
    """Whether an index on its table could serve this branch of an OR."""
    if _role(p) is None or p.column is None:
        return False
    kinds = {(r.schema, r.name): r.kind for r in analysis.relations}
    # "unknown": analysed without a catalog; the tables given to generate() decide.
    return kinds.get((p.column.schema, p.column.table)) in (*INDEXABLE_KINDS, "unknown")


def _sorts(analysis: Analysis, table: TableInfo, fixed: set[str]) -> list[Sort]:
    """Each query block's ORDER BY, when its keys are columns (or immutable expressions
    of one column) of this table."""
    scopes: dict[str, list[IndexKey] | None] = {}
    for k in analysis.order_by:
        keys = scopes.setdefault(k.scope, [])
        if keys is None:
            continue
        if not _on(k.column, table) or k.direction not in (None, "asc", "desc"):
            scopes[k.scope] = None
            continue
        assert k.column is not None
        if k.expression is not None:
            column = table.column(k.column.column)
            if _PARAM.search(k.expression) or not_immutable(
                    k.expression, column.type if column else None) is not None:
                scopes[k.scope] = None
                continue
        elif k.column.column in fixed:
            continue  # WHERE a = $1 ORDER BY a, b: a is fixed, the order is b's
        desc = k.direction == "desc"
        nulls = k.nulls if k.nulls != ("first" if desc else "last") else None
        key = IndexKey(None if k.expression else k.column.column, k.expression,
                       direction="desc" if desc else "asc", nulls=nulls)
        if all((key.column, key.expression) != (o.column, o.expression) for o in keys):
            keys.append(key)  # ORDER BY a, b, a: the second a changes nothing
    limited = analysis.limit is not None and analysis.limit.count is not None
    correlated = {s.scope for s in analysis.subqueries if s.correlated}
    return [Sort(tuple(keys), limited and scope == "", scope, scope in correlated)
            for scope, keys in scopes.items() if keys]


def fixed_terms(use: TableUse, sort: Sort) -> list[Term]:
    """The conditions that fix a key for every scan that must return rows in order.

    Equality with a value; and in a correlated subquery (``LATERAL (… WHERE b.x =
    a.id ORDER BY … LIMIT 1)``) the join to the outer row, which is a value there.
    """
    fixed = [t for t in equality_prefix(use, use.terms) if t.role == "eq"]
    if sort.correlated:
        fixed += [t for t in use.terms if t.role == "join" and t.key.column is not None
                  and t.predicate.scope == sort.scope and t.key not in {f.key for f in fixed}]
    return fixed


# -- choosing and describing keys -------------------------------------------------------

def selectivity(term: Term, table: TableInfo) -> float | None:
    """Estimated fraction of the rows a condition keeps, None when unknown.

    From pg_stats the way the planner's var_eq_const does it: a most common value's
    frequency, else the rest spread evenly over the other distinct values.
    """
    col = table.column(term.column) if term.key.column is not None else None
    if col is None:
        return None
    p = term.predicate
    if term.role == "null":
        if col.null_frac is None:
            return None
        return col.null_frac if p.operator == "is null" else 1 - col.null_frac
    if term.role not in ("eq", "in"):
        return None
    distinct = table.distinct(term.column)
    values = constants(p.value) if p.value_kind == "const" else None
    if values is None:
        if distinct is None:
            return None
        items = 1 if term.role == "eq" else _items(p.value)
        return min(1.0, items / distinct)
    total = 0.0
    rest_freq = 1 - (col.null_frac or 0) - sum(col.common_freqs)
    rest_distinct = (distinct or 0) - len(col.common_values)
    for value in values:
        if value in col.common_values:
            total += col.common_freqs[col.common_values.index(value)]
        elif col.common_values and rest_distinct > 0:
            total += max(rest_freq, 0) / rest_distinct
        elif distinct:
            total += 1 / distinct
        else:
            return None
    return min(total, 1.0)


def _items(value: str | None) -> int:
    return len(value.split(",")) if value and value.startswith("(") else ARRAY_PARAM_ITEMS


def _expression(text: str | None) -> ast.Node | None:
    """The parse tree of an SQL expression given as text, None when it does not parse."""
    if not text:
        return None
    try:
        stmt = pglast.parse_sql(f"SELECT {text}")[0].stmt
    except pglast.parser.ParseError:
        return None
    assert isinstance(stmt, ast.SelectStmt) and stmt.targetList
    node: ast.Node = stmt.targetList[0].val
    return node


def constants(value: str | None) -> list[str] | None:
    """The constants of a predicate's value as pg_stats prints them, None if not all are.

    >>> constants("'active'"), constants("('a', 'b')"), constants("ARRAY[1, 2]")
    (['active'], ['a', 'b'], ['1', '2'])
    >>> constants("true"), constants("now()")
    (['t'], None)
    """
    expr = _expression(value)
    if expr is None:
        return None
    items = (expr.args if isinstance(expr, ast.RowExpr)
             else expr.elements if isinstance(expr, ast.A_ArrayExpr) else (expr,))
    out = []
    for item in items or ():
        while isinstance(item, ast.TypeCast):
            item = item.arg
        if not isinstance(item, ast.A_Const) or item.isnull:
            return None
        val = item.val
        if isinstance(val, ast.Boolean):
            out.append("t" if val.boolval else "f")
        elif isinstance(val, ast.Integer):
            out.append(str(val.ival))
        elif isinstance(val, ast.Float):
            out.append(str(val.fval))
        elif isinstance(val, ast.String):
            out.append(str(val.sval))
        else:
            return None
    return out


def equality_prefix(use: TableUse, terms: Iterable[Term]) -> list[Term]:
    """Equality and IN conditions, most selective first, then join keys; one per key.

    Without statistics a condition counts as PostgreSQL's default (0.5%), so the
    statement's order is kept. Left out: constant tests that keep most rows, and
    columns unique on their own (they find the row: keys after them add nothing).
    """
    table = use.table
    seen: set[IndexKey] = set(use.broad)
    eq: list[Term] = []
    joins: list[Term] = []
    for t in terms:
        if t.key in seen or t.role not in ("eq", "in", "join"):
            continue
        if t.key.column is not None and unique_index(table, [t.key.column]) is not None:
            continue
        seen.add(t.key)
        (joins if t.role == "join" else eq).append(t)

    def sel(t: Term) -> float:
        s = selectivity(t, table)
        return DEFAULT_EQ_SEL if s is None else s

    return sorted(eq, key=sel) + joins


def range_terms(terms: Iterable[Term], exclude: Iterable[IndexKey] = ()) -> list[Term]:
    """Range conditions, one per key, in the statement's order."""
    seen = set(exclude)
    out = []
    for t in terms:
        if t.role == "range" and t.key not in seen:
            seen.add(t.key)
            out.append(t)
    return out


def range_key(term: Term, sorts: Sequence[Sort]) -> IndexKey:
    """A range key, in the direction of an ORDER BY on the same column when there is one."""
    for sort in sorts:
        first = sort.keys[0]
        if first.column is not None and first.column == term.key.column:
            return first
    return term.key


def best_keys(use: TableUse, terms: Sequence[Term]) -> tuple[list[IndexKey], str] | None:
    """The one b-tree key list that serves the most of these conditions, and its reason.

    Equality columns (most selective first), then one range column or the ORDER BY;
    None when the conditions give no key.
    """
    prefix = equality_prefix(use, terms)[:MAX_KEYS]
    keys = [t.key for t in prefix]
    parts = describe_terms(prefix)
    ranges = range_terms(terms, keys)
    room = MAX_KEYS - len(keys)
    if ranges and room < 1:
        keys, prefix, parts = keys[:-1], prefix[:-1], describe_terms(prefix[:-1])
        room = 1
    if ranges:
        key = range_key(ranges[0], use.sorts)
        return [*keys, key], join_reason(parts, f"range on {ranges[0].label}")
    for sort in use.sorts:
        fixed = {t.key for t in fixed_terms(use, sort)}
        # An IN list or a join key before the sort keys breaks the order.
        if len(sort.keys) <= room and all(k in fixed for k in keys):
            return [*keys, *sort.keys], join_reason(parts, "sort on " + keys_text(sort.keys))
    if keys:
        return keys, join_reason(parts, "")
    return None


ROLE_WORDS: Final = {"eq": "equality on", "in": "IN list on", "join": "join on",
                     "range": "range on", "null": "NULL test on", "like": "LIKE on",
                     "semi": "IN subquery on"}


def describe_terms(terms: Sequence[Term]) -> str:
    """``equality on userId, eventType, join on lessonId``."""
    groups: list[tuple[str, list[str]]] = []
    for t in terms:
        if groups and groups[-1][0] == t.role:
            groups[-1][1].append(t.label)
        else:
            groups.append((t.role, [t.label]))
    return ", ".join(f"{ROLE_WORDS[role]} {', '.join(labels)}" for role, labels in groups)


def join_reason(first: str, then: str) -> str:
    if first and then:
        return f"{first} then {then}"
    return first or then


def keys_text(keys: Iterable[IndexKey]) -> str:
    """Keys as a reason names them: ``timestamp DESC, id``."""
    out = []
    for k in keys:
        text = k.column if k.column is not None else k.expression or ""
        if k.direction == "desc":
            text += " DESC"
        if k.nulls:
            text += f" NULLS {k.nulls.upper()}"
        out.append(text)
    return ", ".join(out)


def candidate(use: TableUse, keys: Sequence[IndexKey], rule: str, reason: str, *,
              method: str = "btree", include: Sequence[str] = (), where: str | None = None,
              requires: Sequence[str] = ()) -> Candidate:
    """A candidate on the table of ``use`` for its statement."""
    index = IndexDef(use.table.schema, use.table.name, tuple(keys), method=method,
                     include=tuple(include), where=where)
    return Candidate(index, rule, reason, (use.analysis.query,), tuple(requires))


# -- SQL text --------------------------------------------------------------------------

def predicate_text(p: Predicate) -> str:
    """A predicate as SQL, for reasons: ``status = 'active'``, ``"deletedAt" IS NULL``."""
    side = p.expression or (quote(p.column.column) if p.column is not None else "?")
    op = p.operator
    if p.role == "null":
        return f"{side} {op.upper()}"
    if op in ("in", "not in", "between", "like", "ilike", "not like", "not ilike"):
        return f"{side} {op.upper()} {p.value}"
    if op.endswith(" any"):
        return f"{side} {op[:-4]} ANY ({p.value})"
    if p.role == "eq" and p.value in ("true", "false"):
        return side if p.value == "true" else f"NOT {side}"
    return f"{side} {op} {p.value}"


def where_clause(predicates: Sequence[Predicate]) -> str | None:
    """Constant predicates ANDed, as PostgreSQL's parser reads them, or None if they don't.

    The text is parsed and deparsed: what goes into the DDL is the parser's own
    rendering of one boolean expression.

    >>> from pgarchitect.analysis import analyze
    >>> a = analyze("SELECT 1 FROM t WHERE \\"deletedAt\\" IS NULL AND status IN ('a', 'b')")
    >>> print(where_clause(a.predicates))
    "deletedAt" IS NULL AND status IN ('a', 'b')
    """
    texts = [predicate_text(p) for p in predicates]
    try:
        stmt = pglast.parse_sql("SELECT 1 WHERE " + " AND ".join(f"({t})" for t in texts))
    except pglast.parser.ParseError:
        return None
    node = stmt[0].stmt if len(stmt) == 1 else None
    if not isinstance(node, ast.SelectStmt) or node.whereClause is None or node.fromClause:
        return None
    return deparse(node.whereClause)


def canonical(expression: str | None) -> str | None:
    """An expression with implicit casts dropped and LIKE/IN spelled one way, to compare.

    ``pg_get_indexdef`` prints ``(status = 'active'::text)`` and ``(v)::text = ANY
    (ARRAY[...])`` where a statement says ``status = 'active'`` and ``v IN (...)``.

    >>> canonical("((v)::text = ANY ((ARRAY['a'::character varying])::text[]))")
    "v = ANY(ARRAY['a'])"
    >>> canonical("v IN ('a')"), canonical("title ~~ 'x%'::text"), canonical("NOT b")
    ("v = ANY(ARRAY['a'])", "title ~~ 'x%'", 'b = FALSE')
    >>> canonical('(("timestamp")::date)')
    'CAST(timestamp AS date)'
    """
    if expression is None:
        return None
    expr = _expression(expression)
    return expression if expr is None else deparse(_canon(expr))


_KIND = enums.A_Expr_Kind


# Casts pg_get_indexdef shows that a statement does not write: varchar columns
# compared as text, constants typed.
_TEXT_CASTS: Final = frozenset({"text", "varchar", "bpchar"})


def _canon(node: ast.Node | None) -> ast.Node | None:
    while isinstance(node, ast.TypeCast) and (
            isinstance(node.arg, ast.A_Const | ast.A_ArrayExpr) or _cast_name(node) in _TEXT_CASTS):
        node = node.arg
    if node is None:
        return None
    if isinstance(node, ast.A_Expr):
        if node.kind in (_KIND.AEXPR_LIKE, _KIND.AEXPR_ILIKE):
            node.kind = _KIND.AEXPR_OP
        elif node.kind == _KIND.AEXPR_IN and isinstance(node.rexpr, tuple):
            name = node.name[-1].sval if node.name else "="
            if name == "=":
                node.kind = _KIND.AEXPR_OP_ANY
                node.rexpr = ast.A_ArrayExpr(elements=node.rexpr)
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.NOT_EXPR \
            and node.args and isinstance(node.args[0], ast.ColumnRef):
        return ast.A_Expr(kind=_KIND.AEXPR_OP, name=(ast.String(sval="="),),
                          lexpr=node.args[0], rexpr=ast.A_Const(val=ast.Boolean(boolval=False)))
    if isinstance(node, ast.A_Expr) and node.kind == _KIND.AEXPR_OP and node.name \
            and node.name[-1].sval == "=" and isinstance(node.rexpr, ast.A_Const) \
            and isinstance(node.rexpr.val, ast.Boolean) and node.rexpr.val.boolval:
        return _canon(node.lexpr)
    for name, value in _node_slots(node):
        if isinstance(value, ast.Node):
            setattr(node, name, _canon(value))
        elif isinstance(value, tuple):
            setattr(node, name, tuple(_canon(v) if isinstance(v, ast.Node) else v
                                      for v in value))
    return node


def _cast_name(node: ast.TypeCast) -> str | None:
    names = [n.sval for n in (node.typeName.names if node.typeName else None) or ()
             if isinstance(n, ast.String)]
    return names[-1] if names else None


def _node_slots(node: ast.Node) -> list[tuple[str, object]]:
    slots: dict[str, object] = getattr(type(node), "__slots__", {})
    return [(name, getattr(node, name)) for name, info in slots.items()
            if str(getattr(info, "c_type", "")).endswith("*")
            and getattr(info, "c_type", "") != "char*"]


# Functions whose result changes between calls or with settings: no index on them
# (CREATE INDEX: "functions in index expression must be marked IMMUTABLE").
_NOT_IMMUTABLE: Final = frozenset({
    "now", "random", "clock_timestamp", "statement_timestamp", "transaction_timestamp",
    "timeofday", "nextval", "currval", "lastval", "age", "to_char", "to_date",
    "to_timestamp", "current_setting", "gen_random_uuid", "uuid_generate_v4", "setseed",
    "txid_current", "pg_backend_pid", "current_database", "random_normal",
})
# Over timestamptz these depend on the TimeZone setting.
_ZONED: Final = frozenset({"date_trunc", "date_part", "extract", "date"})
_ZONE_DEPENDENT_CASTS: Final = frozenset({"date", "timestamp", "time", "text", "varchar", "bpchar"})
_DATETIME: Final = ("timestamp", "date", "time", "interval")


def not_immutable(expression: str, column_type: str | None) -> str | None:
    """Why an expression cannot be indexed (it is not immutable), None when it may be.

    A short list of the common cases; PostgreSQL has the last word when the index
    is built.

    >>> not_immutable("CAST(ts AS date)", "timestamp with time zone")
    'a cast of a timestamp with time zone depends on the TimeZone setting'
    >>> not_immutable("CAST(ts AS date)", "timestamp(3) without time zone") is None
    True
    >>> not_immutable("lower(email)", "text") is None
    True
    """
    try:
        stmt = pglast.parse_sql(f"SELECT {expression}")[0].stmt
    except pglast.parser.ParseError:
        return "it does not parse"
    zoned = (column_type or "").startswith(("timestamp with time zone", "time with time zone"))
    datetime = (column_type or "").startswith(_DATETIME)
    stack: list[ast.Node] = [stmt] if stmt is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, ast.SQLValueFunction):
            return "it reads the current time or user"
        if isinstance(node, ast.FuncCall):
            name = funcname(node)
            if name in _NOT_IMMUTABLE:
                return f"{name}() is not immutable"
            if zoned and name in _ZONED and len(node.args or ()) == 2:
                return f"{name}() of a timestamp with time zone depends on the TimeZone setting"
        if isinstance(node, ast.TypeCast) and node.typeName is not None:
            target = [n.sval for n in node.typeName.names or () if isinstance(n, ast.String)][-1]
            if zoned and target in _ZONE_DEPENDENT_CASTS:
                return "a cast of a timestamp with time zone depends on the TimeZone setting"
            if datetime and not zoned and target == "timestamptz":
                return "a cast to timestamp with time zone depends on the TimeZone setting"
            if datetime and target in ("text", "varchar"):
                return "a date or time as text depends on the DateStyle setting"
        stack.extend(v for _, v in _node_slots(node) if isinstance(v, ast.Node))
        for _, v in _node_slots(node):
            if isinstance(v, tuple):
                stack.extend(x for x in v if isinstance(x, ast.Node))
    return None
