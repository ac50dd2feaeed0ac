"""Plans: cost-only plans for normalized statements, measured plans, and reading them.

Statements come from pg_stat_statements with ``$n`` placeholders instead of
constants. :func:`generic_plan` asks the planner for a plan that holds for any
parameter value (PostgreSQL 16+ ``EXPLAIN (GENERIC_PLAN)``; before that a
``PREPARE`` forced to its generic plan). :func:`sample_parameters` picks realistic
values (a log's bind values, the column statistics, a sampled row, a type default)
and :func:`explain_analyze` measures the statement with them.

The statement text is data: it is repaired first where pg_stat_statements left
it unparseable (``INTERVAL $1`` becomes ``$1::INTERVAL``, see
:mod:`pgarchitect.workload.repair`), parsed (exactly one SELECT, INSERT, UPDATE,
DELETE or MERGE), then run only inside ``EXPLAIN`` or ``PREPARE``, in a
transaction that is always rolled back. Failures that belong to the statement
(a dropped table, an uninferable ``$n``, a timeout) come back as :class:`NoPlan`
with a readable reason, never as an exception, and leave the connection usable.

Later stages read :class:`Plan` and :class:`PlanNode`, never text plans.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pglast.parser
import psycopg
from psycopg import pq, sql
from psycopg.rows import tuple_row

from pgarchitect.analysis import ColumnRef, Param
from pgarchitect.workload.repair import repair

# -- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class NoPlan:
    """Why a statement could not be planned or measured, in words a user can act on."""

    reason: str
    sqlstate: str | None = None  # the server's SQLSTATE when the server refused it
    code: str | None = None  # a reason code (advisors.base.REASONS) when it is not the SQLSTATE's


@dataclass(frozen=True)
class PlanNode:
    """One node of a plan, with the fields later stages read."""

    node_type: str
    relation: str | None  # schema.name when EXPLAIN gave the schema (it does with VERBOSE)
    alias: str | None
    index_name: str | None  # schema-qualified like ``relation``
    join_type: str | None  # Inner, Left, Semi, Anti, ...
    operation: str | None  # ModifyTable: Insert, Update, Delete, Merge
    join_cond: str | None  # Hash Cond or Merge Cond, else Join Filter
    filter: str | None
    index_cond: str | None  # Index Cond, or a Bitmap Heap Scan's Recheck Cond
    sort_key: tuple[str, ...]
    sort_method: str | None
    sort_space_type: str | None  # "Memory" or "Disk"
    sort_space_kb: int | None
    hash_batches: int | None
    startup_cost: float
    total_cost: float
    plan_rows: float  # per loop, as the planner estimates it
    actual_rows: float | None  # per loop (average); None without ANALYZE
    loops: int | None  # None without ANALYZE; 0 when the node never ran
    actual_total_ms: float | None  # per loop
    rows_removed_by_filter: float | None
    shared_hit: int | None  # blocks; None without BUFFERS
    shared_read: int | None
    temp_written: int | None
    children: tuple[PlanNode, ...] = field(default=(), repr=False)

    @property
    def spilled(self) -> bool:
        """Whether a sort or hash ran out of ``work_mem`` and went to disk."""
        return (
            self.sort_space_type == "Disk"
            or (self.sort_method or "").startswith("external")
            or (self.hash_batches or 0) > 1
        )

    def walk(self) -> Iterator[PlanNode]:
        """This node and all below it, parents first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class EstimateError:
    """A node whose row estimate is off from what it produced."""

    node: PlanNode
    estimated: float  # rows per loop
    actual: float  # rows per loop

    @property
    def factor(self) -> float:
        """How many times off, either way; a row count under one counts as one."""
        est, act = max(self.estimated, 1.0), max(self.actual, 1.0)
        return max(est, act) / min(est, act)

    @property
    def direction(self) -> str:
        """``under`` when the planner expected fewer rows than came, else ``over``."""
        return "under" if self.actual > self.estimated else "over"


SEQ_SCANS = ("Seq Scan",)  # a parallel seq scan is a "Seq Scan" with "Parallel Aware"
SORTS = ("Sort", "Incremental Sort")
INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


@dataclass(frozen=True)
class Plan:
    """A parsed ``EXPLAIN (FORMAT JSON)``: the root node and the statement-level numbers."""

    root: PlanNode
    planning_ms: float | None = None
    execution_ms: float | None = None
    raw: Any = field(default=None, repr=False, compare=False)  # the EXPLAIN JSON itself

    @property
    def total_cost(self) -> float:
        return self.root.total_cost

    @property
    def startup_cost(self) -> float:
        return self.root.startup_cost

    @property
    def plan_rows(self) -> float:
        return self.root.plan_rows

    @property
    def actual_rows(self) -> float | None:
        return self.root.actual_rows

    @property
    def actual_total_ms(self) -> float | None:
        return self.root.actual_total_ms

    @property
    def analyzed(self) -> bool:
        """Whether this plan was measured (EXPLAIN ANALYZE) rather than only estimated."""
        return self.root.loops is not None

    def nodes(self) -> Iterator[PlanNode]:
        return self.root.walk()

    def seq_scans(self) -> tuple[PlanNode, ...]:
        """Nodes that read a relation sequentially (their relation, filter and rows)."""
        return tuple(n for n in self.nodes() if n.node_type in SEQ_SCANS)

    def sorts(self) -> tuple[PlanNode, ...]:
        """Sort nodes; ``node.spilled`` says whether one went to disk."""
        return tuple(n for n in self.nodes() if n.node_type in SORTS)

    def indexes_used(self) -> tuple[str, ...]:
        """Names of the indexes the plan scans, in plan order, each once."""
        names = (n.index_name for n in self.nodes() if n.index_name)
        return tuple(dict.fromkeys(names))

    def estimate_errors(self, threshold: float = 10) -> tuple[EstimateError, ...]:
        """Measured nodes whose estimated and actual rows differ ``threshold`` times or more.

        EXPLAIN reports both numbers per loop, so they compare directly whatever
        the number of loops. Nodes that never ran are left out, and so are
        overestimates below a Limit or on the inner side of a semi or anti join:
        those nodes stop early by design, so fewer rows than estimated is no error
        there (more rows than estimated still is). Worst first.
        """
        found = [
            error
            for node, stops_early in _measured_nodes(self.root, False)
            if node.actual_rows is not None
            and (error := EstimateError(node, node.plan_rows, node.actual_rows)).factor
            >= threshold
            and not (stops_early and error.direction == "over")
        ]
        return tuple(sorted(found, key=lambda e: -e.factor))

    def outline(self) -> str:
        """A compact indented rendering, for logs and golden tests."""
        return "\n".join(_outline(self.root, 0))


def _measured_nodes(node: PlanNode, stops_early: bool) -> Iterator[tuple[PlanNode, bool]]:
    """Nodes that ran, each with whether it may have been stopped before its end."""
    if not node.loops:
        return
    yield node, stops_early
    for i, child in enumerate(node.children):
        early = (
            stops_early
            or node.node_type == "Limit"
            or (i == 1 and node.join_type in ("Semi", "Anti"))
        )
        yield from _measured_nodes(child, early)


def _num(value: float) -> str:
    return f"{value:g}"


def _outline(node: PlanNode, depth: int) -> Iterator[str]:
    pad = "  " * depth
    head = node.node_type
    if node.join_type or node.operation:
        head += f" ({node.join_type or node.operation})"
    if node.index_name:
        head += f" using {node.index_name}"
    if node.relation:
        head += f" on {node.relation}"
    if node.alias and node.relation and node.alias != node.relation.rsplit(".", 1)[-1]:
        head += f" {node.alias}"
    head += f"  cost={_num(node.startup_cost)}..{_num(node.total_cost)} rows={_num(node.plan_rows)}"
    if node.loops is not None:
        head += f"  actual rows={_num(node.actual_rows or 0)} loops={node.loops}"
        if node.actual_total_ms is not None:
            head += f" time={_num(node.actual_total_ms)}ms"
    if node.shared_hit is not None:
        head += f"  buffers hit={node.shared_hit} read={node.shared_read}"
    yield pad + head
    details = (
        ("join cond", node.join_cond),
        ("index cond", node.index_cond),
        ("filter", node.filter),
        ("sort key", ", ".join(node.sort_key) or None),
        ("sort", " ".join(str(p) for p in (node.sort_method, node.sort_space_type,
                                           node.sort_space_kb) if p is not None) or None),
        ("hash batches", None if node.hash_batches is None else str(node.hash_batches)),
        ("rows removed by filter", None if node.rows_removed_by_filter is None
         else _num(node.rows_removed_by_filter)),
    )
    for label, text in details:
        if text is not None:
            yield f"{pad}    {label}: {text}"
    for child in node.children:
        yield from _outline(child, depth + 1)


# -- reading EXPLAIN (FORMAT JSON) ------------------------------------------------


def parse_plan(doc: Any) -> Plan:
    """Read ``EXPLAIN (FORMAT JSON)`` output: the JSON text, the list, or its one object.

    >>> plan = parse_plan('[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", '
    ...                   '"Schema": "public", "Alias": "t", "Startup Cost": 0.0, '
    ...                   '"Total Cost": 35.5, "Plan Rows": 2550, "Plan Width": 4}}]')
    >>> plan.total_cost, [n.relation for n in plan.seq_scans()], plan.analyzed
    (35.5, ['public.t'], False)
    """
    if isinstance(doc, str | bytes):
        doc = json.loads(doc)
    if isinstance(doc, list):
        if len(doc) != 1:
            raise ValueError(f"EXPLAIN JSON holds {len(doc)} plans; expected one")
        doc = doc[0]
    if not isinstance(doc, dict) or "Plan" not in doc:
        raise ValueError("not EXPLAIN (FORMAT JSON) output: no 'Plan' key")
    return Plan(
        root=_parse_node(doc["Plan"], None),
        planning_ms=_float(doc.get("Planning Time")),
        execution_ms=_float(doc.get("Execution Time")),
        raw=doc,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _parse_node(node: Mapping[str, Any], parent_schema: str | None) -> PlanNode:
    # A Bitmap Index Scan names its index but no schema: an index lives in its
    # table's schema, which the Bitmap Heap Scan above it carries.
    schema = node.get("Schema") or parent_schema
    relation = node.get("Relation Name")
    index = node.get("Index Name")
    sort_space_type = node.get("Sort Space Type")
    if node.get("Node Type") == "Incremental Sort":
        # Incremental Sort reports per group kind; any group on disk is a spill.
        groups = [node.get(k) or {} for k in ("Full-sort Groups", "Pre-sorted Groups")]
        if any("Sort Space Disk" in g for g in groups):
            sort_space_type = "Disk"
        elif any("Sort Space Memory" in g for g in groups):
            sort_space_type = "Memory"
    return PlanNode(
        node_type=str(node["Node Type"]),
        relation=None if relation is None else f"{schema}.{relation}" if schema else relation,
        alias=node.get("Alias"),
        index_name=None if index is None else f"{schema}.{index}" if schema else index,
        join_type=node.get("Join Type"),
        operation=node.get("Operation"),
        join_cond=node.get("Hash Cond") or node.get("Merge Cond") or node.get("Join Filter"),
        filter=node.get("Filter"),
        index_cond=node.get("Index Cond") or node.get("Recheck Cond"),
        sort_key=tuple(node.get("Sort Key") or node.get("Presorted Key") or ()),
        sort_method=node.get("Sort Method"),
        sort_space_type=sort_space_type,
        sort_space_kb=_int(node.get("Sort Space Used")),
        hash_batches=_int(node.get("Hash Batches")),
        startup_cost=float(node["Startup Cost"]),
        total_cost=float(node["Total Cost"]),
        plan_rows=float(node["Plan Rows"]),
        actual_rows=_float(node.get("Actual Rows")),
        loops=_int(node.get("Actual Loops")),
        actual_total_ms=_float(node.get("Actual Total Time")),
        rows_removed_by_filter=_float(node.get("Rows Removed by Filter")),
        shared_hit=_int(node.get("Shared Hit Blocks")),
        shared_read=_int(node.get("Shared Read Blocks")),
        temp_written=_int(node.get("Temp Written Blocks")),
        children=tuple(_parse_node(c, schema) for c in node.get("Plans") or ()),
    )


# -- checking the statement text -------------------------------------------------

_WRITES = {"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE",
           "MergeStmt": "MERGE"}
_PLANNABLE = {"SelectStmt", *_WRITES}
# Built-in functions whose effects a rollback does not undo or that change state
# outside the statement's rows: a sequence advanced by nextval() stays advanced
# (sequences are not transactional), a session advisory lock outlives the
# transaction, a terminated backend stays terminated. A statement calling one is
# a write: measured only with allow_writes.
# https://www.postgresql.org/docs/current/functions-sequence.html
WRITING_FUNCTIONS = frozenset({
    "nextval", "setval",
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_shared",
    "pg_advisory_unlock_all",
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_switch_wal", "pg_create_restore_point", "pg_stat_reset", "pg_stat_reset_shared",
    "pg_stat_statements_reset",
    "lo_import", "lo_export",  # server files; large objects themselves are transactional
    "dblink_exec", "dblink",
})
_LOWER_OPS = {">", ">="}  # col > $n: $n is a lower bound
_UPPER_OPS = {"<", "<="}


@dataclass(frozen=True)
class _Statement:
    """A statement text that passed the checks, with what the parse tree says about it."""

    text: str  # as repaired: what goes to the server
    params: int  # highest $n
    writes: str | None  # "UPDATE", "a data-modifying WITH", ... or None for a read
    uses: Mapping[int, str]  # $n -> one of PARAMETER_USES

    @property
    def sql(self) -> sql.SQL:
        # The one place where text we did not write becomes SQL: it has been parsed
        # as exactly one plannable statement, and every caller wraps it in EXPLAIN
        # or PREPARE inside a rolled-back transaction.
        return sql.SQL(self.text)


def _items(tree: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON parse tree, depth first."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield key, value
            yield from _items(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _items(value)


def _param_number(expr: Any) -> int | None:
    """The n of ``$n`` (also under a cast), else None."""
    while isinstance(expr, dict) and "TypeCast" in expr:
        expr = expr["TypeCast"].get("arg")
    if isinstance(expr, dict) and "ParamRef" in expr:
        return int(expr["ParamRef"].get("number", 0))
    return None


# What a parameter's place in the statement says about its value: the lower or
# upper bound of a range, LIMIT or OFFSET, the field of date_trunc('day', ts) or
# EXTRACT(hour FROM ts), a time zone (ts AT TIME ZONE 'UTC').
PARAMETER_USES = ("lower", "upper", "limit", "offset", "unit", "field", "zone", "years",
                  "months", "weeks", "days", "hours", "mins", "secs")

# make_interval(days => $1): pg_stat_statements keeps the parameter, not the constant
# the application passed; a span the application would ask for stands in (0 days
# would select nothing and measure nothing).
_MAKE_INTERVAL = ("years", "months", "weeks", "days", "hours", "mins", "secs")

# Functions whose first argument names a unit or a field: pg_stat_statements turns
# date_trunc('day', ts) into date_trunc($1, ts), and no default of text is a unit.
_UNIT_FUNCTIONS = {"date_trunc": "unit", "date_part": "field", "extract": "field"}


def _function_uses(call: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    """(n, use) for the parameters of one FuncCall that take a unit or a time zone."""
    names = [n.get("String", {}).get("sval") for n in call.get("funcname") or ()]
    name, args = (names[-1] if names else None), call.get("args") or []
    if name in _UNIT_FUNCTIONS and args and (n := _param_number(args[0])):
        yield n, _UNIT_FUNCTIONS[name]
    # date_trunc(unit, ts, zone) (PostgreSQL 12+); timezone(zone, ts) is AT TIME ZONE.
    if name == "date_trunc" and len(args) == 3 and (n := _param_number(args[2])):
        yield n, "zone"
    if name == "timezone" and len(args) == 2 and (n := _param_number(args[0])):
        yield n, "zone"
    if name == "make_interval":
        for position, arg in enumerate(args):
            named = arg.get("NamedArgExpr") if isinstance(arg, dict) else None
            field = named.get("name") if named else (
                _MAKE_INTERVAL[position] if position < len(_MAKE_INTERVAL) else None)
            if field in _MAKE_INTERVAL and (n := _param_number(named["arg"] if named else arg)):
                yield n, field


def _uses(tree: Any) -> dict[int, str]:
    """What the parameters are for, where the parse tree says (see PARAMETER_USES)."""
    found: dict[int, str] = {}
    for key, value in _items(tree):
        if key in ("limitCount", "limitOffset") and (n := _param_number(value)):
            found[n] = "limit" if key == "limitCount" else "offset"
        if key == "FuncCall" and isinstance(value, dict):
            found.update(_function_uses(value))
        if key != "A_Expr" or not isinstance(value, dict):
            continue
        kind = value.get("kind")
        if kind == "AEXPR_OP":
            op = value["name"][-1]["String"]["sval"] if value.get("name") else ""
            left, right = _param_number(value.get("lexpr")), _param_number(value.get("rexpr"))
            if right and op in _LOWER_OPS | _UPPER_OPS:
                found[right] = "lower" if op in _LOWER_OPS else "upper"
            elif left and op in _LOWER_OPS | _UPPER_OPS:
                found[left] = "upper" if op in _LOWER_OPS else "lower"  # $n > col
        elif kind in ("AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM"):
            items = (value.get("rexpr") or {}).get("List", {}).get("items", [])
            for item, side in zip(items, ("lower", "upper"), strict=False):
                if n := _param_number(item):
                    found[n] = side
    return found


def _writing_call(tree: Any) -> str | None:
    """The first function of :data:`WRITING_FUNCTIONS` the parse tree calls, or None.

    >>> _writing_call({"FuncCall": {"funcname": [{"String": {"sval": "pg_catalog"}},
    ...                                         {"String": {"sval": "NextVal"}}]}})
    'nextval'
    """
    for key, value in _items(tree):
        if key == "FuncCall" and isinstance(value, dict):
            names = [n.get("String", {}).get("sval") for n in value.get("funcname") or ()]
            name = str(names[-1]).lower() if names and names[-1] else ""
            if name in WRITING_FUNCTIONS:
                return name
    return None


@functools.lru_cache(maxsize=4096)
def _check(query: str) -> _Statement | NoPlan:
    """Repair and parse the text; accept exactly one SELECT, INSERT, UPDATE, DELETE or MERGE.

    Cached: the what-if stage plans the same statement hundreds of times, and
    parsing and walking a TPC-H query costs as much as planning it.
    """
    # pglast reads INTERVAL $1 and the like, the server does not: repair first,
    # so that what is checked here is what the server gets.
    query = repair(query)
    try:
        tree = json.loads(pglast.parser.parse_sql_json(query))
    except pglast.parser.ParseError as exc:
        return NoPlan(f"Could not parse the statement: {exc.args[0]}.", "42601")
    stmts = tree.get("stmts") or []
    if len(stmts) != 1:
        return NoPlan(
            f"Not planned: the text holds {len(stmts)} statements; plans are made for one "
            "statement at a time."
        )
    kind = next(iter(stmts[0]["stmt"]))
    if kind not in _PLANNABLE:
        return NoPlan(
            f"Not planned: only SELECT, INSERT, UPDATE, DELETE and MERGE have plans "
            f"(this is a {kind.removesuffix('Stmt')} statement)."
        )
    writes = _WRITES.get(kind)
    if writes is None and any(k in _WRITES for k, _ in _items(stmts[0])):
        writes = "data-modifying WITH"
    if writes is None and stmts[0]["stmt"][kind].get("intoClause"):
        writes = "SELECT INTO"
    if writes is None and (called := _writing_call(stmts[0])):
        writes = f"it calls {called}()"
    params = [int(v.get("number", 0)) for k, v in _items(tree) if k == "ParamRef"]
    return _Statement(query, max(params, default=0), writes, _uses(tree))


def plannable(query: str) -> NoPlan | None:
    """Why the text cannot be planned (it does not parse, it is not one SELECT, INSERT,
    UPDATE, DELETE or MERGE), or None.

    >>> plannable("TRUNCATE t").reason.endswith("(this is a Truncate statement).")
    True
    >>> plannable("SELECT 1") is None
    True
    """
    stmt = _check(query)
    return stmt if isinstance(stmt, NoPlan) else None


# -- running, always rolled back -------------------------------------------------

# Errors that belong to the statement or to this run of it, not to the connection.
# psycopg has no class per SQLSTATE class, so the DB-API groups stand for them:
# 42 (undefined table/column/function, syntax, 42P18 indeterminate datatype,
# privileges) are ProgrammingError, 22 DataError, 23 IntegrityError, 0A NotSupported.
_STATEMENT_ERRORS: tuple[type[psycopg.Error], ...] = (
    psycopg.ProgrammingError,
    psycopg.DataError,
    psycopg.IntegrityError,
    psycopg.NotSupportedError,
    psycopg.errors.QueryCanceled,  # statement_timeout
    psycopg.errors.LockNotAvailable,  # lock_timeout
    psycopg.errors.ProgramLimitExceeded,
    psycopg.errors.ConfigurationLimitExceeded,  # temp_file_limit
    psycopg.errors.TransactionRollback,  # class 40, and its two common members:
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)

_ADVICE: Mapping[type[psycopg.Error], str] = {
    psycopg.errors.UndefinedTable: "Was the table dropped or renamed since the statement ran?",
    psycopg.errors.UndefinedColumn: "Was the column dropped or renamed since the statement ran?",
    psycopg.errors.IndeterminateDatatype: "Add a cast to the statement (e.g. $1::integer) so "
    "the parameter has a type.",
    psycopg.errors.InsufficientPrivilege: "Grant SELECT on the tables it reads to the role "
    "pgarchitect connects as.",
    psycopg.errors.QueryCanceled: "It ran longer than statement_timeout; raise the setting "
    "to measure it.",
    psycopg.errors.LockNotAvailable: "A lock was not granted within lock_timeout; try again "
    "when the table is less busy.",
}

_names = itertools.count(1)


def _no_plan(exc: psycopg.Error, what: str = "plan") -> NoPlan:
    if exc.sqlstate is None:  # raised by psycopg itself: a bug here, not the statement
        raise exc
    message = exc.diag.message_primary or str(exc).splitlines()[0]
    advice = _ADVICE.get(type(exc))
    return NoPlan(f"Could not {what}: {message}." + (f" {advice}" if advice else ""), exc.sqlstate)


def _rows(
    conn: psycopg.Connection[Any], query: str | sql.Composed,
    params: Sequence[Any] | None = None, *, binary: bool = False,
) -> list[tuple[Any, ...]]:
    with conn.cursor(row_factory=tuple_row) as cur:
        # Without parameters psycopg would use the simple query protocol, which runs
        # several ';'-separated commands. The extended protocol (binary results
        # force it) refuses more than one: a second guard after the parse check,
        # should the server lex a string differently (standard_conforming_strings).
        cur.execute(query, params, binary=binary)
        return cur.fetchall() if cur.description is not None else []


def _explain(conn: psycopg.Connection[Any], query: sql.Composed, *, simple: bool = False) -> Plan:
    rows = _rows(conn, query, binary=not simple)
    return parse_plan(rows[0][0])


def _idle(conn: psycopg.Connection[Any]) -> bool:
    """Autocommit and outside any transaction: a failing statement leaves nothing behind."""
    return conn.autocommit and conn.info.transaction_status == pq.TransactionStatus.IDLE


@contextmanager
def _rolled_back(conn: psycopg.Connection[Any]) -> Iterator[list[str]]:
    """A transaction (a savepoint inside the caller's) that is always rolled back.

    Yields a list for the names of statements PREPAREd in it: prepared statements
    are not transactional and outlive the rollback, so they are removed after it.
    """
    prepared: list[str] = []
    try:
        with conn.transaction(force_rollback=True):
            yield prepared
    finally:
        if prepared and not conn.closed and not conn.broken:
            left = _rows(conn, "SELECT name FROM pg_prepared_statements WHERE name = ANY(%s)",
                         [prepared])
            for (name,) in left:
                _rows(conn, sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))


def _apply(conn: psycopg.Connection[Any], settings: Mapping[str, str]) -> None:
    """Set each setting for the current transaction only (``SET LOCAL``)."""
    for name, value in settings.items():
        _rows(conn, "SELECT set_config(%s, %s, true)", [name, value])


def _prepare(conn: psycopg.Connection[Any], stmt: _Statement, prepared: list[str]) -> str:
    name = f"pgarchitect_{next(_names)}"
    prepared.append(name)
    _rows(conn, sql.SQL("PREPARE {} AS ").format(sql.Identifier(name)) + stmt.sql)
    return name


def _execute(name: str, values: Sequence[str | None]) -> sql.Composed:
    # The values go in as quoted literals, not bind parameters: the arguments of
    # EXECUTE are expressions of the EXPLAIN statement, where a bind parameter
    # sent untyped has no type (42P18); an untyped literal is coerced to the
    # prepared statement's own parameter type, as a bind value would be.
    args = sql.SQL(", ").join(sql.Literal(v) for v in values)
    return sql.SQL("EXECUTE {}({})").format(sql.Identifier(name), args)


# -- generic (cost-only) plans -----------------------------------------------------


def generic_plan(
    conn: psycopg.Connection[Any], query: str, *, settings: Mapping[str, str] | None = None
) -> Plan | NoPlan:
    """The plan for ``query`` whatever its ``$n`` values are: costs and estimates only.

    ``settings`` are set for the planning transaction only (e.g. ``enable_seqscan``).
    """
    stmt = _check(query)
    if isinstance(stmt, NoPlan):
        return stmt
    try:
        if stmt.params == 0 and not settings and _idle(conn):
            # A plain EXPLAIN runs nothing: no transaction to roll back (two round
            # trips fewer, and the what-if stage asks this hundreds of times).
            return _explain(conn, sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) ") + stmt.sql)
        with _rolled_back(conn) as prepared:
            _apply(conn, settings or {})
            if stmt.params == 0:
                return _explain(conn, sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) ") + stmt.sql)
            if conn.info.server_version >= 160000:
                # Over the extended protocol the server would take $1 for a parameter
                # of EXPLAIN itself, so this one goes over the simple protocol, with
                # the lexer pinned to the rules pglast used for the parse check.
                _apply(conn, {"standard_conforming_strings": "on"})
                return _explain(
                    conn, sql.SQL("EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) ") + stmt.sql,
                    simple=True,
                )
            # Before 16: the generic plan of a prepared statement, which the planner
            # makes without looking at the values, so NULLs will do.
            name = _prepare(conn, stmt, prepared)
            _apply(conn, {"plan_cache_mode": "force_generic_plan"})
            count = len(_types(conn, name))
            return _explain(conn, sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) ")
                            + _execute(name, [None] * count))
    except _STATEMENT_ERRORS as exc:
        return _no_plan(exc)


# -- parameter types and values ----------------------------------------------------

PARAMETER_TYPES_SQL = """
SELECT a.type::text,
       t.typcategory,
       t.typname,
       (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
        ORDER BY e.enumsortorder LIMIT 1)
FROM pg_prepared_statements p
CROSS JOIN LATERAL unnest(p.parameter_types) WITH ORDINALITY AS a(type, n)
JOIN pg_type t ON t.oid = a.type
WHERE p.name = %s
ORDER BY a.n
"""


@dataclass(frozen=True)
class _Type:
    name: str  # as the server spells it: integer, character varying, ...
    category: str  # pg_type.typcategory
    typname: str
    first_label: str | None  # the first label of an enum


def _types(conn: psycopg.Connection[Any], name: str) -> list[_Type]:
    return [_Type(*row) for row in _rows(conn, PARAMETER_TYPES_SQL, [name])]


def _parameter_types(conn: psycopg.Connection[Any], stmt: _Statement) -> list[_Type] | NoPlan:
    try:
        with _rolled_back(conn) as prepared:
            return _types(conn, _prepare(conn, stmt, prepared)) if stmt.params else []
    except _STATEMENT_ERRORS as exc:
        return _no_plan(exc, "infer the parameter types")


def parameter_types(conn: psycopg.Connection[Any], query: str) -> list[str] | NoPlan:
    """The type of each ``$n``, as the server infers it when it prepares the statement."""
    stmt = _check(query)
    if isinstance(stmt, NoPlan):
        return stmt
    types = _parameter_types(conn, stmt)
    return types if isinstance(types, NoPlan) else [t.name for t in types]


ORIGINS = ("log", "mcv", "histogram", "sample", "default")


@dataclass(frozen=True)
class ParameterSet:
    """One value per ``$n`` (text, as typed into psql; None is NULL) and where it came from."""

    values: tuple[str | None, ...]
    origins: tuple[str, ...]  # one of ORIGINS per parameter
    types: tuple[str, ...] = ()  # the server's type of each parameter


COLUMN_STATS_SQL = """
SELECT most_common_vals::text::text[], histogram_bounds::text::text[],
       (SELECT sum(f) FROM unnest(most_common_freqs) f)
FROM pg_stats
WHERE schemaname = %s AND tablename = %s AND attname = %s
ORDER BY inherited
LIMIT 1
"""

COLUMN_TYPE_SQL = """
SELECT t.typcategory, t.typname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND NOT a.attisdropped
"""

TABLE_PAGES_SQL = """
SELECT pg_relation_size(c.oid) / current_setting('block_size')::int
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""

# Below this many pages a plain LIMIT 1 is as cheap as a sample and always finds a row.
TINY_TABLE_PAGES = 128
# TABLESAMPLE SYSTEM reads whole pages: aim at about this many.
SAMPLE_PAGES = 32
# Where in the histogram a one-sided range bound is taken: near the far end, so
# ``col > $1`` keeps about a tenth of the rows, as an application's query would.
ONE_SIDED_POSITION = 0.9
# Histogram points for an equality's further parameter sets: the middle, then a low
# and a high value, so that three sets see three parts of the distribution.
VARIANT_POSITIONS = (0.5, 0.2, 0.8)
# Most common values holding less than this share of the rows leave a long tail.
LONG_TAIL = 0.5
# A two-sided range (BETWEEN, or > and <) on one column: a tenth around the median.
TWO_SIDED_POSITIONS = {"lower": 0.45, "upper": 0.55}
# LIMIT $n: pg_stat_statements hides the number; 0 would measure nothing.
DEFAULT_LIMIT = "10"
# An interval with no column to sample from, typically ``now() - $1::interval``
# (INTERVAL '7 days' as pg_stat_statements left it): a week, the window of the
# runbook's weekly reports. Zero would make ``ts > now() - $1`` match nothing.
DEFAULT_INTERVAL = "7 days"
# date_trunc($1, ts): the unit reports group by most; EXTRACT($1 FROM x) and
# date_part: epoch, the one field every date, time, timestamp and interval has.
DEFAULT_BY_USE = {"limit": DEFAULT_LIMIT, "unit": "day", "field": "epoch", "zone": "UTC",
                  "years": "1", "months": "1", "weeks": "1", "days": "7", "hours": "24",
                  "mins": "60", "secs": "60"}

_DEFAULT_BY_CATEGORY = {"N": "0", "S": "", "B": "false", "D": "now", "T": DEFAULT_INTERVAL,
                        "A": "{}", "I": "0.0.0.0", "V": "0"}
_DEFAULT_BY_NAME = {"uuid": "00000000-0000-0000-0000-000000000000", "json": "{}",
                    "jsonb": "{}", "bytea": ""}


@dataclass(frozen=True)
class _Stats:
    mcv: tuple[str, ...]
    histogram: tuple[str, ...]
    mcv_share: float = 0.0  # the share of the rows the most common values hold


def _column_stats(conn: psycopg.Connection[Any], col: ColumnRef) -> _Stats | None:
    try:
        with conn.transaction():
            rows = _rows(conn, COLUMN_STATS_SQL, [col.schema, col.table, col.column])
    except psycopg.DataError:  # array columns: an array of arrays is not a text[]
        return None
    if not rows:
        return None
    mcv, hist, share = rows[0]
    return _Stats(tuple(mcv or ()), tuple(hist or ()), float(share or 0.0))


def _column_type(conn: psycopg.Connection[Any], col: ColumnRef) -> tuple[str, str] | None:
    """The column's type category (pg_type.typcategory) and name, None when not found."""
    rows = _rows(conn, COLUMN_TYPE_SQL, [col.schema, col.table, col.column])
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


# Categories whose types share no input syntax: uuid and jsonb are both "U" (user
# defined), every enum is "E".
_DISTINCT_CATEGORIES = ("U", "E")


def _fits(type_: _Type, column: tuple[str, str] | None) -> bool:
    """Whether a value of the column is a value of the parameter's type.

    ``now() - "createdAt" > $1::interval`` compares $1 with an expression on a
    timestamp column, ``length(title) > $1`` an integer with a text column: their
    values would be rejected as input. Text takes any value, and an array
    parameter (``col = ANY($1)``) is made from the column's values.
    """
    if column is None or type_.category in ("S", "A"):
        return True
    category, name = column
    if type_.category in _DISTINCT_CATEGORIES:
        return type_.typname == name
    return type_.category == category


def _sample_value(conn: psycopg.Connection[Any], col: ColumnRef, seed: int = 0) -> str | None:
    """A non-NULL value of the column from a sampled row (the statistics had none)."""
    table, column = sql.Identifier(col.schema, col.table), sql.Identifier(col.column)
    try:
        with conn.transaction():
            pages = _rows(conn, TABLE_PAGES_SQL, [col.schema, col.table])
            if pages and (pages[0][0] or 0) > TINY_TABLE_PAGES:
                percent = 100.0 * SAMPLE_PAGES / pages[0][0]
                # REPEATABLE: the same rows on every run, so measurements compare.
                rows = _rows(conn, sql.SQL(
                    "SELECT {}::text FROM {} TABLESAMPLE SYSTEM (%s) REPEATABLE (%s) "
                    "WHERE {} IS NOT NULL LIMIT 1").format(column, table, column),
                    [percent, seed])
                if rows:
                    return str(rows[0][0])
            rows = _rows(conn, sql.SQL("SELECT {}::text FROM {} WHERE {} IS NOT NULL LIMIT 1")
                         .format(column, table, column))
    except _STATEMENT_ERRORS:  # the table or column is gone: fall through to a default
        return None
    return str(rows[0][0]) if rows else None


def _at(values: Sequence[str], position: float) -> str:
    return values[round(position * (len(values) - 1))]


def _like_pattern(value: str) -> str:
    r"""A prefix pattern from a sampled value, selective like a typed-in search.

    >>> _like_pattern("alice@example.com"), _like_pattern("50%_off"), _like_pattern("x")
    ('alice@ex%', '50\\%\\_%', 'x%')
    """
    prefix = value[: max(1, min(8, len(value) // 2 + 1))]
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _array_literal(values: Sequence[str]) -> str:
    """``{"a","b"}``: elements quoted for array input.

    >>> _array_literal(["a", 'say "hi"'])
    '{"a","say \\\\"hi\\\\""}'
    """
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _from_stats(stats: _Stats, role: str | None, side: str | None, position: float,
                nth: int, variant: int = 0) -> tuple[str, str] | None:
    """A value from pg_stats for a parameter with this role, or None.

    ``variant`` picks another value for another parameter set: the next most common
    value, or another point of the histogram (a range keeps its bound, so that each
    set is as selective as the first). A column whose most common values hold less
    than half of its rows has a long tail (a few heavy users, most with a handful of
    rows): the first set takes its most common value, the heaviest case, and the
    others values of the tail, as most calls are for one of those.
    """
    if (role == "range" or side in ("lower", "upper")) and stats.histogram:
        return _at(stats.histogram, position), "histogram"
    if stats.mcv and (variant == 0 or stats.mcv_share >= LONG_TAIL or not stats.histogram):
        return stats.mcv[(nth + variant) % len(stats.mcv)], "mcv"
    if stats.histogram:
        return _at(stats.histogram, VARIANT_POSITIONS[variant % len(VARIANT_POSITIONS)]), \
            "histogram"
    return None


def sample_parameters(
    conn: psycopg.Connection[Any],
    query: str,
    params: Sequence[Param] = (),
    known: Sequence[Sequence[str | None]] = (),
) -> ParameterSet | NoPlan:
    """Realistic values for the ``$n`` of ``query``, to measure it with (the first of
    :func:`sample_parameter_sets`)."""
    sets = sample_parameter_sets(conn, query, params, known, count=1)
    return sets if isinstance(sets, NoPlan) else sets[0]


def sample_parameter_sets(
    conn: psycopg.Connection[Any],
    query: str,
    params: Sequence[Param] = (),
    known: Sequence[Sequence[str | None]] = (),
    *,
    count: int = 3,
) -> list[ParameterSet] | NoPlan:
    """Up to ``count`` different sets of realistic values for the ``$n`` of ``query``.

    A statement is measured with several, drawn the way the workload's values are,
    so that one lucky value (a user with three rows, all cached) does not stand for
    the workload.

    In order of preference: the first complete execution in ``known`` (bind values
    from a log, one tuple per execution; complete means a value, not None, for
    every parameter); the statistics of the column the parameter is compared with
    (``params``, from analysis): its most common value, or a histogram bound that
    keeps a range selective (a high one for ``col > $1``, a low one for ``col < $1``),
    or a prefix pattern for LIKE; a sampled row of the table; a default for its
    place in the statement (LIMIT 10, date_trunc's 'day', AT TIME ZONE 'UTC') or
    of its type (an interval: '7 days'). A column whose values the parameter's
    type would not accept (``now() - ts > $1::interval``) is not sampled. Further
    sets take further complete executions of ``known`` (spread over them), or the
    next most common values, other histogram points and other sampled rows. Sets
    that come out the same are given once.
    """
    stmt = _check(query)
    if isinstance(stmt, NoPlan):
        return stmt
    types = _parameter_types(conn, stmt)
    if isinstance(types, NoPlan):
        return types
    names = tuple(t.name for t in types)
    complete = list(dict.fromkeys(
        tuple(row) for row in known
        if len(row) == len(types) and all(v is not None for v in row)))
    if complete:
        picked = dict.fromkeys(complete[i * len(complete) // count] for i in range(count))
        return [ParameterSet(row, ("log",) * len(types), names) for row in picked]
    sets: dict[tuple[str | None, ...], ParameterSet] = {}
    try:
        for variant in range(count):
            chosen = _sampled(conn, stmt, types, params, variant)
            sets.setdefault(chosen.values, chosen)
    except _STATEMENT_ERRORS as exc:  # a table locked by another session, a timeout
        return _no_plan(exc, "sample parameter values")
    return list(sets.values())


def _sampled(conn: psycopg.Connection[Any], stmt: _Statement, types: Sequence[_Type],
             params: Sequence[Param], variant: int) -> ParameterSet:
    """One set of values from the columns' statistics, sampled rows and defaults."""
    names = tuple(t.name for t in types)
    by_number = {p.number: p for p in params}
    # Columns bounded from both sides (BETWEEN, or > and <) take two close bounds.
    sides: dict[ColumnRef, set[str]] = {}
    for p in params:
        if p.column and stmt.uses.get(p.number) in ("lower", "upper"):
            sides.setdefault(p.column, set()).add(stmt.uses[p.number])
    stats: dict[ColumnRef, _Stats | None] = {}
    columns: dict[ColumnRef, tuple[str, str] | None] = {}  # their type category and name
    used: dict[ColumnRef, int] = {}  # IN ($1, $2, ...) on one column: distinct values
    chosen: list[tuple[str | None, str]] = []
    with conn.transaction(force_rollback=True):
        _rows(conn, "SET TRANSACTION READ ONLY")
        for number, type_ in enumerate(types, start=1):
            param, side = by_number.get(number), stmt.uses.get(number)
            col = None if param is None else param.column
            if col is not None and col not in columns:
                columns[col] = _column_type(conn, col)
            found = None
            if param is not None and col is not None and _fits(type_, columns[col]):
                if col not in stats:
                    stats[col] = _column_stats(conn, col)
                if side in TWO_SIDED_POSITIONS and len(sides.get(col, ())) == 2:
                    position = TWO_SIDED_POSITIONS[side]
                else:
                    position = {"lower": ONE_SIDED_POSITION,
                                "upper": 1 - ONE_SIDED_POSITION}.get(side or "", 0.5)
                found = _column_value(conn, param, col, stats[col], side, position,
                                      used.get(col, 0), type_, variant)
                used[col] = used.get(col, 0) + 1
            chosen.append(found or (_default(type_, side), "default"))
    return ParameterSet(tuple(v for v, _ in chosen), tuple(o for _, o in chosen), names)


def _column_value(
    conn: psycopg.Connection[Any], param: Param, col: ColumnRef, stats: _Stats | None,
    side: str | None, position: float, nth: int, type_: _Type, variant: int = 0,
) -> tuple[str, str] | None:
    """A value for a parameter compared with ``col``, shaped for its role, and its origin."""
    found = (None if stats is None
             else _from_stats(stats, param.role, side, position, nth, variant))
    if found is None and (sampled := _sample_value(conn, col, variant)) is not None:
        found = sampled, "sample"
    if found is None:
        return None
    value, origin = found
    if param.role == "like":  # LIKE and ILIKE
        value = _like_pattern(value)
    elif type_.category == "A" and not value.startswith("{"):
        value = _array_literal([value])  # col = ANY($1): an array of one value
    return value, origin


def _default(type_: _Type, use: str | None) -> str | None:
    """A value the type accepts, when nothing better is known (None: NULL)."""
    if use in DEFAULT_BY_USE:
        return DEFAULT_BY_USE[use]
    if type_.first_label is not None:
        return type_.first_label
    return _DEFAULT_BY_NAME.get(type_.typname, _DEFAULT_BY_CATEGORY.get(type_.category))


# -- measured plans ------------------------------------------------------------------


def explain_analyze(
    conn: psycopg.Connection[Any],
    query: str,
    values: Sequence[str | None] = (),
    *,
    buffers: bool = True,
    settings: Mapping[str, str] | None = None,
    allow_writes: bool = False,
) -> Plan | NoPlan:
    """Run ``query`` with ``values`` for its ``$n`` under EXPLAIN ANALYZE, then roll back.

    ``settings`` are set for that transaction only (``{"work_mem": "64kB"}``).
    INSERT, UPDATE, DELETE, MERGE and data-modifying WITH run only with
    ``allow_writes``; their changes are rolled back, though sequences they advance
    stay advanced (PostgreSQL does not roll sequences back).
    """
    stmt = _check(query)
    if isinstance(stmt, NoPlan):
        return stmt
    if stmt.writes and not allow_writes:
        return NoPlan(
            f"Not measured: the statement changes data ({stmt.writes}). Allow writes "
            "(allow_writes=True) to run it inside a transaction that is rolled back."
        )
    if len(values) != stmt.params:
        return NoPlan(
            f"Not measured: the statement has {stmt.params} parameter(s) but "
            f"{len(values)} value(s) were given."
        )
    options = sql.SQL("EXPLAIN (ANALYZE, BUFFERS {}, VERBOSE, FORMAT JSON) ").format(
        sql.SQL("TRUE" if buffers else "FALSE"))
    try:
        with _rolled_back(conn) as prepared:
            _apply(conn, settings or {})
            if not stmt.params:
                return _explain(conn, options + stmt.sql)
            name = _prepare(conn, stmt, prepared)
            return _explain(conn, options + _execute(name, values))
    except _STATEMENT_ERRORS as exc:
        return _no_plan(exc, "measure")
