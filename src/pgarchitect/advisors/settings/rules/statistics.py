"""Statistics for a statement whose plan misestimates rows ten times or more.

Evidence: the statement's own plan, measured (EXPLAIN ANALYZE with sampled
parameters), where a scan or a join produced ten times more or fewer rows than
the planner expected, on a condition that names columns of one table. Two columns
or more of one table (TPC-H Q9's ``l_partkey``/``l_suppkey``): the planner takes
them as independent and multiplies their selectivities, so the fix is extended
statistics on them (``CREATE STATISTICS ... (dependencies, ndistinct, mcv)``).
One column: a finer histogram and a longer list of common values
(``ALTER TABLE ... SET STATISTICS 1000``). Either is followed by ``ANALYZE`` of
the table, which may run inside a transaction block, so the trial makes the
statistics and analyses the table in the measured transaction, and both are rolled
back with it (``pg_class.reltuples``, which ANALYZE updates in place, keeps the
fresh count: it is the true one). The plan after says whether the estimate came
right (:func:`corrected`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pglast.parser
import psycopg
from psycopg import sql

from pgarchitect.measure import BaseTrial
from pgarchitect.plans import Plan, PlanNode

THRESHOLD = 10.0  # times off, either way: the "10x or more"
TARGET = 1000  # the statistics target for one misestimated column (default 100)
# The kinds of extended statistics tried, in order: the smallest that corrects the
# estimate. Dependencies and ndistinct first: for equalities on columns that go
# together they give the same estimate after every ANALYZE. The multivariate MCV list
# next (ranges, unevenly common pairs): it keeps only the pairs its sample found
# common, and where many pairs are evenly common it overrides the dependency and takes
# every pair it missed for rare, so its estimate comes and goes with the sample
# (TPC-H-like data: right after one ANALYZE in two; see the tests).
ALL_KINDS = ("dependencies", "ndistinct", "mcv")
WITHOUT_MCV = ("dependencies", "ndistinct")
VARIANTS = (WITHOUT_MCV, ALL_KINDS)
NAME_MAX = 63  # PostgreSQL's identifier length (NAMEDATALEN - 1)

# A string constant in a condition: its dots are no column references.
_STRING = re.compile(r"'(?:[^']|'')*'")
# alias.column as EXPLAIN VERBOSE prints it, each part plain or double-quoted.
_QUALIFIED = re.compile(r'(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))\.'
                        r'(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))')


@dataclass(frozen=True)
class Misestimate:
    """A node of a measured plan whose rows were ``THRESHOLD`` times off, on columns of
    one table."""

    schema: str
    table: str
    columns: tuple[str, ...]  # sorted
    estimated: float  # rows per loop
    actual: float
    node: str  # node type: Seq Scan, Hash Join, ...

    @property
    def factor(self) -> float:
        est, act = max(self.estimated, 1.0), max(self.actual, 1.0)
        return max(est, act) / min(est, act)

    def describe(self) -> str:
        return (f"{self.node} on {self.schema}.{self.table} ({', '.join(self.columns)}): "
                f"estimated {self.estimated:,.0f} rows, actual {self.actual:,.0f} "
                f"({self.factor:,.0f} times off)")


def column_refs(condition: str) -> list[tuple[str, str]]:
    """The (alias, column) pairs a condition of EXPLAIN VERBOSE names.

    >>> column_refs("((l.partkey = 42) AND (l.\\"SuppKey\\" = '4.2'::text))")
    [('l', 'partkey'), ('l', 'SuppKey')]
    """
    out = []
    for m in _QUALIFIED.finditer(_STRING.sub("''", condition)):
        alias = (m.group(1) or "").replace('""', '"') or m.group(2)
        column = (m.group(3) or "").replace('""', '"') or m.group(4)
        out.append((alias, column))
    return out


def _aliases(plan: Plan) -> dict[str, tuple[str, str]]:
    """alias -> (schema, table) for every relation the plan scans."""
    found = {}
    for node in plan.nodes():
        if node.relation and "." in node.relation:
            schema, table = node.relation.split(".", 1)
            found[node.alias or table] = (schema, table)
    return found


def _conditions(node: PlanNode) -> str:
    return " AND ".join(c for c in (node.index_cond, node.filter, node.join_cond) if c)


def _by_table(node: PlanNode, aliases: dict[str, tuple[str, str]]
              ) -> dict[tuple[str, str], tuple[str, ...]]:
    """The columns each table has in the node's conditions."""
    tables: dict[tuple[str, str], set[str]] = {}
    for alias, column in column_refs(_conditions(node)):
        if alias in aliases:
            tables.setdefault(aliases[alias], set()).add(column)
    return {t: tuple(sorted(cols)) for t, cols in tables.items()}


def _off(node: PlanNode, threshold: float) -> bool:
    """Whether a node that ran, or one below it, is ``threshold`` times off."""
    return any(n.loops and n.actual_rows is not None
               and max(n.plan_rows, n.actual_rows, 1.0) / max(min(n.plan_rows, n.actual_rows),
                                                              1.0) >= threshold
               for n in node.walk())


def misestimates(plan: Plan, threshold: float = THRESHOLD) -> list[Misestimate]:
    """The misestimated nodes of a measured plan that name columns of one table, worst
    first, each (table, columns) once. A scan's own table comes first; a join gives
    each table whose columns it compares."""
    aliases = _aliases(plan)
    out: dict[tuple[str, str, tuple[str, ...]], Misestimate] = {}
    for error in plan.estimate_errors(threshold):
        node = error.node
        if node.join_cond and any(_off(c, threshold) for c in node.children):
            continue  # a join is off because an input is: the input is the one to fix
        tables = _by_table(node, aliases)
        own = node.relation.split(".", 1) if node.relation and "." in node.relation else None
        for (schema, table), columns in sorted(
                tables.items(), key=lambda t: (own != list(t[0]), -len(t[1]))):
            out.setdefault((schema, table, columns), Misestimate(
                schema, table, columns, error.estimated, error.actual, node.node_type))
    return sorted(out.values(), key=lambda m: -m.factor)


def worst_on(plan: Plan, schema: str, table: str, columns: Sequence[str]
             ) -> Misestimate | None:
    """The node of a measured plan with the worst estimate among those whose conditions
    name all ``columns`` of the table (None: no such node ran)."""
    aliases = _aliases(plan)
    worst: Misestimate | None = None
    for node in plan.nodes():
        if not node.loops or node.actual_rows is None:
            continue
        named = _by_table(node, aliases).get((schema, table), ())
        if not set(columns) <= set(named):
            continue
        m = Misestimate(schema, table, tuple(sorted(columns)), node.plan_rows,
                        node.actual_rows, node.node_type)
        if worst is None or m.factor > worst.factor:
            worst = m
    return worst


@dataclass(frozen=True)
class Fix:
    """Extended statistics on two or more columns, or a higher target on one."""

    schema: str
    table: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...] = ALL_KINDS  # extended statistics only

    @property
    def extended(self) -> bool:
        return len(self.columns) > 1

    @property
    def name(self) -> str:
        """The statistics object's name: table, columns, ``stats``; cut to 63 bytes.

        >>> Fix("public", "lineitem", ("l_partkey", "l_suppkey")).name
        'lineitem_l_partkey_l_suppkey_stats'
        """
        return "_".join((self.table, *self.columns, "stats"))[:NAME_MAX]

    @property
    def title(self) -> str:
        cols = ", ".join(self.columns)
        if self.extended:
            return f"statistics on {self.schema}.{self.table} ({cols})"
        return f"statistics target {TARGET} on {self.schema}.{self.table} ({cols})"

    def _table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    def analyze(self) -> sql.Composed:
        return sql.SQL("ANALYZE {}").format(self._table())

    def change(self) -> sql.Composed:
        """The statement that makes the statistics (before the ANALYZE)."""
        if self.extended:
            return sql.SQL("CREATE STATISTICS IF NOT EXISTS {} ({}) ON {} FROM {}").format(
                sql.Identifier(self.schema, self.name),
                sql.SQL(", ").join(sql.SQL(k) for k in self.kinds if k in ALL_KINDS),
                sql.SQL(", ").join(sql.Identifier(c) for c in self.columns), self._table())
        return sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STATISTICS {}").format(
            self._table(), sql.Identifier(self.columns[0]), sql.Literal(TARGET))

    def undo(self) -> sql.Composed:
        if self.extended:
            return sql.SQL("DROP STATISTICS IF EXISTS {}").format(
                sql.Identifier(self.schema, self.name))
        return sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STATISTICS -1").format(
            self._table(), sql.Identifier(self.columns[0]))

    @property
    def forward(self) -> str:
        return f"{self.change().as_string(None)};\n{self.analyze().as_string(None)};"

    @property
    def rollback(self) -> str:
        return f"{self.undo().as_string(None)};\n{self.analyze().as_string(None)};"


def fix_for(m: Misestimate) -> Fix:
    return Fix(m.schema, m.table, m.columns)


def parse(forward: str) -> Fix | None:
    """The :class:`Fix` a forward change of this rule makes, read back with the parser (a
    stored finding's text is data, never run as it is); None for anything else.

    >>> parse(Fix("public", "t", ("a", "b"), WITHOUT_MCV).forward)
    Fix(schema='public', table='t', columns=('a', 'b'), kinds=('dependencies', 'ndistinct'))
    >>> parse('ALTER TABLE "s"."t" ALTER COLUMN "c" SET STATISTICS 1000; ANALYZE "s"."t";')
    Fix(schema='s', table='t', columns=('c',), kinds=('dependencies', 'ndistinct', 'mcv'))
    >>> parse("SET LOCAL work_mem = '64MB'") is None
    True
    """
    try:
        tree = json.loads(pglast.parser.parse_sql_json(forward))
    except pglast.parser.ParseError:
        return None
    for item in tree.get("stmts") or ():
        stmt = item.get("stmt") or {}
        if "CreateStatsStmt" in stmt:
            create = stmt["CreateStatsStmt"]
            rels = [r["RangeVar"] for r in create.get("relations") or () if "RangeVar" in r]
            cols = tuple(e["StatsElem"].get("name") for e in create.get("exprs") or ()
                         if "StatsElem" in e)
            kinds = tuple(str(k["String"]["sval"]) for k in create.get("stat_types") or ()
                          if "String" in k)
            if len(rels) == 1 and cols and all(cols):
                return Fix(rels[0].get("schemaname") or "public", rels[0]["relname"],
                           tuple(sorted(str(c) for c in cols)),
                           tuple(k for k in ALL_KINDS if k in kinds) or ALL_KINDS)
        if "AlterTableStmt" in stmt:
            alter = stmt["AlterTableStmt"]
            for cmd in alter.get("cmds") or ():
                c = cmd.get("AlterTableCmd") or {}
                if c.get("subtype") == "AT_SetStatistics" and c.get("name"):
                    rel = alter["relation"]
                    return Fix(rel.get("schemaname") or "public", rel["relname"],
                               (str(c["name"]),))
    return None


def apply(conn: psycopg.Connection[Any], fix: Fix) -> None:
    """Make the statistics and analyse the table, in the caller's open transaction."""
    conn.execute(fix.change())
    conn.execute(fix.analyze())


def corrected(plan: Plan, fix: Fix) -> Misestimate | None:
    """The worst estimate left on the fix's columns in a measured plan; None when no
    node on them ran (nothing left to be wrong)."""
    return worst_on(plan, fix.schema, fix.table, fix.columns)


@dataclass(frozen=True)
class StatisticsTrial(BaseTrial):
    """The statistics made and the table analysed inside the measured transaction; a plan
    after shows the change when its estimate on the columns is within ``THRESHOLD``.

    ``after`` collects the estimates seen after the change (the proposal's evidence).
    """

    fix: Fix
    after: list[Misestimate] = field(default_factory=list, compare=False)

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        apply(conn, self.fix)

    def used(self, plan: Plan) -> bool:
        left = corrected(plan, self.fix)
        if left is None:
            return True
        self.after.append(left)
        return left.factor < THRESHOLD


def worst(found: Sequence[Misestimate]) -> Misestimate | None:
    return max(found, key=lambda m: m.factor, default=None)


def candidates(plans: Sequence[tuple[str, Plan]]) -> Iterator[tuple[Fix, str, Misestimate]]:
    """(fix, query, misestimate) for each misestimate of each statement's measured plan."""
    for query, plan in plans:
        for m in misestimates(plan):
            yield fix_for(m), query, m
