"""Per-day aggregates over an append-mostly table → a materialized view of complete hours.

The statement: a SELECT of ``count``/``sum``/``min``/``max``/``avg`` over one table,
grouped by ``date_trunc(unit, ts)`` (and other columns), over a range relative to
now: ``ts > now() - interval``. Each call reads every row of the range again, though
only the latest rows change. The view keeps one row per hour and group of the hours
before the current one (``ts < the current hour``), with a unique index on its keys
so that ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` can refresh it without blocking
readers. An hour, not a day: between two hourly refreshes at most two hours of rows
are read from the table (the range's partial first hour and those since the
refresh), where a view of days leaves up to two days of rows there (on the demo's
data a 7-day statement was 3.6 times faster over a view of days, 15 times over one
of hours: ``benchmarks/preaggregate.py``).

The rewritten statement groups again, with the statement's own ``date_trunc(unit,
…)``, the union of three parts (``first`` is the first hour wholly in the range,
``cutoff`` the hour after the view's last one):

- the view's hours from ``first`` up to ``cutoff``;
- the table's rows in the range before ``first`` (the partial first hour);
- the table's rows from ``greatest(cutoff, first)`` on: the current hour's, and any
  the view has not been refreshed for yet. An empty view has no ``cutoff`` (NULL),
  and ``greatest`` ignores it: everything then comes from the table.

Counts are summed back and cast to ``bigint``, sums of integers likewise, ``min`` and
``max`` taken again, ``avg`` as a sum over a count. A unit of an hour or more (hour,
day, week, month, year, ...) truncates an hour as it truncates each of its rows; a
unit under an hour does not, and is not covered. For a ``timestamptz`` column the
hours are those of one time zone (the session's when proposed), named in the view:
the rewrite returns the same rows in sessions with that TimeZone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pglast
from pglast import ast, enums
from psycopg import sql

from pgarchitect.advisors.cache.model import Skip
from pgarchitect.advisors.rewrite.rules import common
from pgarchitect.catalog import DatabaseCatalog

NAME: Final = "preaggregate"
LABEL: Final = "per-day aggregate → materialized view of hours"

GRAIN: Final = "hour"  # the view's rows: one per hour (and group); also its column's name
DAY_UNITS: Final = frozenset({"hour", "day", "week", "month", "quarter", "year", "decade",
                              "century", "millennium"})
# Functions whose value is the time the statement (or its transaction) started: a
# range relative to them moves with the clock, the same for the whole statement.
NOW_FUNCTIONS: Final = frozenset({"now", "transaction_timestamp", "statement_timestamp"})
NOW_VALUES: Final = frozenset({enums.SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP,
                               enums.SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N,
                               enums.SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP,
                               enums.SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N,
                               enums.SQLValueFunctionOp.SVFOP_CURRENT_DATE})
# What a range's bound may call besides: interval arithmetic and truncation.
BOUND_FUNCTIONS: Final = NOW_FUNCTIONS | {"make_interval", "date_trunc"}
AGGREGATES: Final = ("count", "sum", "min", "max", "avg")
INTEGERS: Final = ("smallint", "integer")  # sum() of these is bigint; of bigint, numeric
EXACT: Final = ("smallint", "integer", "bigint", "numeric")
MAX_NAME: Final = 59  # PostgreSQL keeps 63 bytes of a name; the index adds "_key"


@dataclass(frozen=True)
class Partial:
    """One column of the view: an aggregate over the table, combined again later."""

    name: str  # the view's column: count_all, sum_amount, ...
    function: str  # count, sum, min, max
    column: str | None  # None: count(*)


@dataclass(frozen=True)
class Shape:
    """What a statement aggregates: its table, day column, keys and partial aggregates."""

    schema: str
    table: str
    ref: str  # the name the statement calls the table by (alias or name)
    ts: str  # the day's column
    zoned: bool  # timestamptz: days of ``zone``
    zone: str
    keys: tuple[str, ...]  # the other GROUP BY columns
    partials: tuple[Partial, ...]
    integer_sums: tuple[str, ...] = ()  # columns whose sum() is a bigint, cast back to one

    @property
    def view(self) -> str:
        return (f"{self.table}_per_{GRAIN}" + "".join(f"_{k}" for k in self.keys))[:MAX_NAME]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class Preaggregate:
    """The view's SQL (build, unique index, refresh, drop) and the rewritten statement."""

    shape: Shape
    create: str
    index: str
    refresh: str
    drop: str
    rewritten: str

    @property
    def ddl(self) -> tuple[str, str]:
        return (self.create, self.index)


class _Unmapped(Exception):
    """A part of the statement the rewrite cannot express over the view."""


def _names(node: Any) -> list[str]:
    return [n.sval for n in node or () if isinstance(n, ast.String) and n.sval is not None]


def _function(node: Any) -> str | None:
    if not isinstance(node, ast.FuncCall):
        return None
    names = _names(node.funcname)
    return names[-1].lower() if names and names[0] in ("pg_catalog", names[-1]) else None


def _nodes(node: Any) -> list[Any]:
    """Every node under ``node`` (itself included)."""
    out = [node]
    if isinstance(node, ast.Node):
        for name in node:
            value: Any = getattr(node, name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, ast.Node):
                    out.extend(_nodes(item))
    return out


def _relative_bound(node: Any) -> str | None:
    """Why ``node`` is not a bound relative to now (None when it is one)."""
    nodes = _nodes(node)
    if any(isinstance(n, ast.ColumnRef | ast.SubLink) for n in nodes):
        return "its lower bound reads a column or a subquery"
    calls = {_function(n) or "?" for n in nodes if isinstance(n, ast.FuncCall)}
    if calls - BOUND_FUNCTIONS:
        return f"its lower bound calls {', '.join(sorted(calls - BOUND_FUNCTIONS))}"
    if not (calls & NOW_FUNCTIONS or any(isinstance(n, ast.SQLValueFunction) and n.op in NOW_VALUES
                                          for n in nodes)):
        return "its range is not relative to now() (a fixed range reads fixed days)"
    return None


def _range(stmt: Any, tables: list[common.Table],
           catalog: DatabaseCatalog) -> tuple[str, str, Any] | Skip:
    """The column, the operator (> or >=) and the bound of the one condition."""
    where = common.conjuncts(stmt.whereClause)
    if len(where) != 1:
        return Skip("its WHERE clause is not one lower bound on a timestamp column "
                    "(ts > now() - interval)", "no_candidate")
    cond = where[0]
    flipped = {">": "<", ">=": "<="}
    ops = _names(cond.name) if isinstance(cond, ast.A_Expr) else []
    if not (isinstance(cond, ast.A_Expr) and cond.kind == enums.A_Expr_Kind.AEXPR_OP
            and len(ops) == 1):
        return Skip("its WHERE clause is not a lower bound on a timestamp column",
                    "no_candidate")
    column: Any = cond.lexpr
    bound: Any = cond.rexpr
    op = ops[0]
    if op in flipped.values():
        column, bound = bound, column
        op = next(k for k, v in flipped.items() if v == op)
    found = common.resolve(column, tables, catalog)
    if op not in flipped or found is None:
        return Skip("its WHERE clause is not a lower bound (> or >=) on a column",
                    "no_candidate")
    if (why := _relative_bound(bound)) is not None:
        return Skip(why, "not_supported")
    return found[1], op, bound


def _day_key(node: Any, ts: str, tables: list[common.Table],
             catalog: DatabaseCatalog) -> Any | Skip | None:
    """The unit of ``date_trunc(unit, ts)``; None when ``node`` is not that."""
    if _function(node) != "date_trunc" or len(node.args or ()) != 2:
        return None
    found = common.resolve(node.args[1], tables, catalog)
    if found is None or found[1] != ts:
        return None
    unit = node.args[0]
    if isinstance(unit, ast.A_Const) and isinstance(unit.val, ast.String):
        if (unit.val.sval or "").lower() not in DAY_UNITS:
            return Skip(f"it groups by {unit.val.sval!r}, a unit under an hour: a view of "
                        "hours cannot give it", "not_supported")
    elif not isinstance(unit, ast.ParamRef):
        return Skip("the unit of its date_trunc is neither a constant nor a parameter",
                    "not_supported")
    return unit


def _partial(node: Any, tables: list[common.Table], catalog: DatabaseCatalog,
             types: dict[str, str]) -> list[Partial] | Skip | None:
    """The view's columns an aggregate needs; None when ``node`` is no aggregate."""
    name = _function(node)
    if name not in AGGREGATES:
        return None
    if node.agg_distinct or node.agg_filter or node.agg_order or node.over is not None:
        return Skip(f"{name}() with DISTINCT, FILTER, ORDER BY or OVER is not pre-aggregated",
                    "not_supported")
    if name == "count" and node.agg_star:
        return [Partial("count_all", "count", None)]
    found = common.resolve(node.args[0], tables, catalog) if len(node.args or ()) == 1 else None
    if found is None:
        return Skip(f"{name}() of an expression is not pre-aggregated (only of a column)",
                    "not_supported")
    column = found[1]
    kind = types.get(column, "")
    if name in ("sum", "avg") and not kind.startswith(EXACT):
        return Skip(f"{name}({column}) of type {kind or 'unknown'}: a sum of partial sums "
                    "is exact only for integers and numeric", "not_equivalent")
    if name == "avg":
        return [Partial(f"sum_{column}", "sum", column), Partial(f"count_{column}", "count",
                                                                  column)]
    return [Partial(f"{name}_{column}", name, column)]


def _expression(text: str) -> Any:
    stmt: Any = pglast.parse_sql(f"SELECT {text}")[0].stmt
    return stmt.targetList[0].val


def _combined(node: Any, shape: Shape) -> Any:
    """The aggregate over the union's rows that gives what ``node`` gave over the table."""
    ref = shape.ref
    name = _function(node)
    if name == "count":
        column = "count_all" if node.agg_star else f"count_{_column(node.args[0])}"
        return _cast(sql.SQL("sum({})").format(sql.Identifier(ref, column)), "bigint")
    column = _column(node.args[0])
    if name == "avg":
        total = sql.SQL("sum({})").format(sql.Identifier(ref, f"sum_{column}"))
        return _expression(sql.SQL("{} / sum({})").format(
            sql.SQL("CAST({} AS numeric)").format(total),
            sql.Identifier(ref, f"count_{column}")).as_string(None))
    again = sql.SQL("{}({})").format(sql.SQL(name or ""), sql.Identifier(ref, f"{name}_{column}"))
    if name == "sum" and column in shape.integer_sums:
        return _cast(again, "bigint")
    return _expression(again.as_string(None))


def _cast(value: sql.Composable, type_: str) -> Any:
    return _expression(sql.SQL("CAST({} AS {})").format(value, sql.SQL(type_)).as_string(None))


def _column(node: Any) -> str:
    found = common.column_name(node)
    assert found is not None
    return found[1]


def _visit(value: Any, fn: Callable[[Any], Any | None]) -> Any:
    if not isinstance(value, ast.Node):
        return value
    new = fn(value)
    if new is not None:
        return new
    for name in value:
        inner = getattr(value, name)
        if isinstance(inner, tuple):
            setattr(value, name, tuple(_visit(v, fn) for v in inner))
        elif isinstance(inner, ast.Node):
            setattr(value, name, _visit(inner, fn))
    return value


@dataclass(frozen=True)
class _Found:
    shape: Shape
    stmt: Any  # the parsed statement, rewritten in place by build
    op: str  # > or >=
    bound: Any  # the range's lower bound
    unit: Any  # date_trunc's unit, as written


def detect(query: str, catalog: DatabaseCatalog, zone: str = "UTC",
           min_rows: float = 0.0) -> Shape | Skip:
    """The shape of a per-day aggregate, or why the statement is not one."""
    found = _detect(query, catalog, zone, min_rows)
    return found if isinstance(found, Skip) else found.shape


def plan(query: str, catalog: DatabaseCatalog, zone: str,
         min_rows: float = 0.0) -> Preaggregate | Skip:
    """The view and the rewritten statement for a per-day aggregate, or why not.

    ``zone`` is the time zone whose days the view keeps (the session's TimeZone).
    """
    found = _detect(query, catalog, zone, min_rows)
    if isinstance(found, Skip):
        return found
    try:
        return build(found)
    except _Unmapped as exc:
        return Skip(f"it reads {exc} outside the date_trunc of its range's column, its GROUP BY "
                    "columns and their aggregates: the view does not keep it", "not_supported")


def _detect(query: str, catalog: DatabaseCatalog, zone: str, min_rows: float) -> _Found | Skip:
    parsed = common.parse_select(query)
    if isinstance(parsed, common.Skip):
        return Skip(parsed.reason, parsed.code)
    stmt: Any = parsed
    if not stmt.groupClause:
        return Skip("it does not aggregate with GROUP BY", "no_candidate")
    if stmt.havingClause or stmt.distinctClause or stmt.windowClause or stmt.withClause \
            or stmt.lockingClause:
        return Skip("HAVING, DISTINCT, WINDOW, WITH or FOR UPDATE are not pre-aggregated",
                    "not_supported")
    tables = common.tables_of(stmt.fromClause, catalog)
    if not tables or len(tables) != 1 or len(stmt.fromClause) != 1:
        return Skip("it reads more (or other) than one table", "not_supported")
    table = tables[0]
    rel = catalog.relations.find(table.schema, table.name)
    types = {c.name: c.type or "" for c in rel.columns} if rel else {}
    found = _range(stmt, tables, catalog)
    if isinstance(found, Skip):
        return found
    ts, op, bound = found
    kind = types.get(ts, "")
    if not kind.startswith("timestamp"):
        return Skip(f"{table.qualified}.{ts} is of type {kind or 'unknown'}, not a timestamp",
                    "not_supported")
    keys: list[str] = []
    unit: Any = None
    for item in stmt.groupClause:
        node = item
        if isinstance(item, ast.A_Const) and isinstance(item.val, ast.Integer):
            position = item.val.ival or 0
            if not 0 < position <= len(stmt.targetList):
                return Skip("it groups by a position past its select list", "not_supported")
            node = stmt.targetList[position - 1].val
        day = _day_key(node, ts, tables, catalog)
        if isinstance(day, Skip):
            return day
        if day is not None:
            unit = day
            continue
        plain = common.resolve(node, tables, catalog)
        if plain is None or plain[1] == ts:
            return Skip(f"it groups by {common.deparse(node)}: only date_trunc of the ranged "
                        "column and plain columns are pre-aggregated", "not_supported")
        keys.append(plain[1])
    if unit is None:
        return Skip(f"it does not group by a day (date_trunc of {ts})", "no_candidate")
    partials: list[Partial] = []
    for node in [n for item in (*stmt.targetList, *(stmt.sortClause or ()))
                 for n in _nodes(item)]:
        got = _partial(node, tables, catalog, types)
        if isinstance(got, Skip):
            return got
        partials.extend(p for p in got or () if p not in partials)
    if not partials:
        return Skip("it groups by day but computes no count, sum, min, max or avg",
                    "no_candidate")
    names = [GRAIN, *keys, *(p.name for p in partials)]
    if len(set(names)) != len(names):
        return Skip(f"a grouped column is called like a column of the view ({', '.join(names)})",
                    "not_supported")
    info = catalog.tables([(table.schema, table.name)]).get((table.schema, table.name))
    if info is not None and (info.rows or 0) < min_rows:
        return Skip(f"{table.qualified} holds {info.rows or 0:,.0f} rows, under "
                    f"preaggregate_min_rows ({min_rows:,.0f}): reading it is cheap",
                    "low_cost")
    if info is not None and info.updates + info.deletes > APPEND_MOSTLY * info.inserts:
        return Skip(f"{table.qualified} is not append-mostly: {info.updates:,} updates and "
                    f"{info.deletes:,} deletes for {info.inserts:,} inserts change past days, "
                    "which a view of days would miss until its refresh", "write_overhead")
    sums = tuple(p.column for p in partials if p.function == "sum" and p.column
                 and types.get(p.column, "").startswith(INTEGERS))
    shape = Shape(table.schema, table.name, table.ref, ts, "with time zone" in kind, zone,
                  tuple(keys), tuple(partials), sums)
    return _Found(shape, stmt, op, bound, unit)


# Updates and deletes over inserts above which past days change too often for a view
# refreshed daily (they change rows of days the view already holds).
APPEND_MOSTLY: Final = 0.05


def _day(shape: Shape, column: sql.Composable) -> sql.Composable:
    """The start of the hour of ``column`` (of the view's time zone for a timestamptz)."""
    if shape.zoned:
        return sql.SQL("date_trunc({}, {}, {})").format(sql.Literal(GRAIN), column,
                                                        sql.Literal(shape.zone))
    return sql.SQL("date_trunc({}, {})").format(sql.Literal(GRAIN), column)


def _partials(shape: Shape) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{}({}) AS {}").format(sql.SQL(p.function),
                                       sql.SQL("*") if p.column is None
                                       else sql.Identifier(p.column), sql.Identifier(p.name))
        for p in shape.partials)


def build(found: _Found) -> Preaggregate:
    """The view's SQL and the statement rewritten over it (the parsed statement is
    changed in place)."""
    shape, stmt, op, bound = found.shape, found.stmt, found.op, found.bound
    view = sql.Identifier(shape.schema, shape.view)
    ts = sql.Identifier(shape.ts)
    keys = [sql.Identifier(k) for k in shape.keys]
    group = sql.SQL(", ").join(sql.SQL(str(i)) for i in range(1, len(keys) + 2))
    bucket = sql.Identifier(GRAIN)
    step = sql.SQL("interval {}").format(sql.Literal(f"1 {GRAIN}"))
    today = _day(shape, sql.SQL("now()") if shape.zoned else
                 sql.SQL("now() AT TIME ZONE {}").format(sql.Literal(shape.zone)))
    create = sql.SQL("CREATE MATERIALIZED VIEW {view} AS SELECT {day} AS {bucket}, {cols} FROM "
                     "{table} WHERE {ts} < {today} GROUP BY {group}").format(
        view=view, day=_day(shape, ts), bucket=bucket,
        cols=sql.SQL(", ").join([*keys, _partials(shape)]),
        table=sql.Identifier(shape.schema, shape.table), ts=ts, today=today, group=group)
    index = sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}{})").format(
        sql.Identifier(f"{shape.view}_key"), view, bucket,
        sql.SQL("").join(sql.SQL(", {}").format(k) for k in keys))
    since: sql.Composable = sql.SQL(common.deparse(bound))
    if op == ">=":  # the first midnight at or after the bound
        since = sql.SQL("{} - interval '1 microsecond'").format(since)
    first = sql.SQL("{} + {}").format(_day(shape, since), step)
    cutoff = sql.SQL("(SELECT max({}) + {} FROM {})").format(bucket, step, view)
    condition = sql.SQL(common.deparse(stmt.whereClause))
    columns = sql.SQL(", ").join([bucket, *keys,
                                  *(sql.Identifier(p.name) for p in shape.partials)])
    table_part = sql.SQL("SELECT {day} AS {bucket}, {cols} FROM {table} AS {ref} "
                         "WHERE {where} GROUP BY {group}")
    parts = sql.SQL(" UNION ALL ").join([
        sql.SQL("SELECT {} FROM {} WHERE {} >= {} AND {} < {}").format(
            columns, view, bucket, first, bucket, cutoff),
        table_part.format(day=_day(shape, ts), bucket=bucket, cols=sql.SQL(", ").join([*keys,
                                                                        _partials(shape)]),
                          table=sql.Identifier(shape.schema, shape.table),
                          ref=sql.Identifier(shape.ref), group=group,
                          where=sql.SQL("{} AND {} < {}").format(condition, ts, first)),
        table_part.format(day=_day(shape, ts), bucket=bucket, cols=sql.SQL(", ").join([*keys,
                                                                        _partials(shape)]),
                          table=sql.Identifier(shape.schema, shape.table),
                          ref=sql.Identifier(shape.ref), group=group,
                          where=sql.SQL("{} >= greatest({}, {})").format(ts, cutoff, first)),
    ])
    union = pglast.parse_sql(parts.as_string(None))[0].stmt
    _rewrite(stmt, shape, union)
    return Preaggregate(
        shape, create.as_string(None), index.as_string(None),
        sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(view).as_string(None),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(view).as_string(None),
        common.deparse(stmt))


def _rewrite(stmt: Any, shape: Shape, union: Any) -> None:
    """The statement over the union: the day's date_trunc over ``day``, aggregates
    combined, the rest as it was."""

    def fn(node: Any) -> Any | None:
        if _function(node) == "date_trunc" and len(node.args or ()) == 2 and \
                common.column_name(node.args[1]) in ((None, shape.ts), (shape.ref, shape.ts)):
            node.args = (node.args[0], common.column_ref(shape.ref, GRAIN))
            return node
        if _function(node) in AGGREGATES:
            return _combined(node, shape)
        if isinstance(node, ast.ColumnRef):
            name = common.column_name(node)
            if name is None or name[1] not in shape.keys or name[0] not in (None, shape.ref):
                raise _Unmapped(common.deparse(node))
        return None

    for part in ("targetList", "groupClause", "sortClause"):
        value = getattr(stmt, part)
        if value is not None:
            setattr(stmt, part, tuple(_visit(v, fn) for v in value))
    stmt.fromClause = (ast.RangeSubselect(lateral=False, subquery=union,
                                          alias=ast.Alias(aliasname=shape.ref)),)
    stmt.whereClause = None
