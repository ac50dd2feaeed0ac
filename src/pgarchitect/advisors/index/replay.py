"""Does an earlier index finding solve a new statement? Plan it with that index.

The index advisor's :class:`~pgarchitect.knowledge.replay.Checker`: each statement
is planned without and with the earlier finding's index, on the audit's what-if
engine (HypoPG, else built in the rolled-back sandbox; one setup per index for
every statement it is replayed on, and the statement it was found for). The
index solves the statement when

- the planner uses it and the cost falls by at least ``min_savings_pct``, the cut
  the advisor would require to propose it;
- it still serves the statement it was found for, here (else the finding does not
  hold in this database: another schema, other data);
- it leaves the statement about as cheap as it left that one: at most
  ``AFTER_FACTOR`` times its cost with the index, or under ``min_cost``;
- and the statement does not have a problem of its own that the index cannot
  solve: a sort in another order than the one the index was found to give, or a
  deep OFFSET (``DEEP_OFFSET``) where that statement had none. The index may make
  such a statement cheaper, but what it needs is another index or a rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pglast
from pglast import ast

from pgarchitect.advisors.base import Context
from pgarchitect.advisors.index.whatif import Costing, WhatIf, open_engine
from pgarchitect.analysis import Analysis, analyze
from pgarchitect.catalog.index import IndexDef
from pgarchitect.catalog.tables import parse_index
from pgarchitect.errors import PgArchitectError, first_line
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Check, Pair

# A rejected index is "the same fix" for a new statement when it cuts that one's cost
# by no more than this many percentage points above the cut it was rejected with.
REJECTED_MARGIN_PCT = 10.0
# A statement the index leaves more than this many times as costly as the statement
# it was found for (and above min_cost) has a problem the index does not solve.
AFTER_FACTOR = 10.0
# An OFFSET of this many rows or more, and at least ten times the LIMIT, is a deep page.
DEEP_OFFSET = 1000


@dataclass(frozen=True)
class Fix:
    """The index an earlier finding recommends, and the name it gave it."""

    index: IndexDef
    name: str


def fix_of(finding: Finding) -> Fix | str:
    """The finding's index, or why it cannot be read."""
    text = finding.recommendation_sql.strip()
    try:
        stmts = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        return f"the earlier fix does not parse ({exc})"
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.IndexStmt):
        return "the earlier fix is not one CREATE INDEX statement"
    index = parse_index(text)
    return Fix(index, stmts[0].stmt.idxname or index.name)


class IndexChecker:
    """Replays earlier index findings on statements, for one audit."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.required_pct = ctx.config.get_float("min_savings_pct")
        self.min_cost = ctx.config.get_float("min_cost")
        self._engine: WhatIf | str | None = None  # str: why there is none
        self._analyses: dict[str, Analysis] = {}  # the findings' own statements

    def _open(self) -> WhatIf | str:
        if self._engine is None:
            config = self.ctx.config
            try:
                self._engine = open_engine(
                    self.ctx.conn, self.ctx.whatif or config.get_str("whatif"),
                    max_table_bytes=config.get_int("sandbox_max_table_mb") * 2**20,
                    allow_large=self.ctx.allow_large, catalog=self.ctx.catalog)
            except PgArchitectError as exc:
                self._engine = f"no what-if engine ({first_line(exc)})"
        return self._engine

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        out: list[Check | None] = [None] * len(pairs)
        todo: dict[IndexDef, list[int]] = {}
        fixes: dict[int, Fix] = {}
        for n, pair in enumerate(pairs):
            fix = fix_of(pair.finding)
            if isinstance(fix, str):
                out[n] = Check("miss", fix)
            elif not _reads(pair, fix.index):
                out[n] = Check("miss", f"earlier index {fix.name} is on table "
                                       f"{fix.index.table}, which this statement does not read")
            else:
                fixes[n] = fix
                todo.setdefault(fix.index, []).append(n)
        if todo:
            engine = self._open()
            if isinstance(engine, str):
                return [c or Check("miss", engine) for c in out]
            queries = list(dict.fromkeys(
                q for ns in todo.values() for n in ns
                for q in (pairs[n].statement.query, pairs[n].finding.query)))
            before = {c.query: c for c in engine.costs(queries, ())}
            for index, ns in todo.items():
                after = {c.query: c for c in engine.costs(list(dict.fromkeys(
                    q for n in ns for q in (pairs[n].statement.query, pairs[n].finding.query))),
                    [index])}
                for n in ns:
                    query, own = pairs[n].statement.query, pairs[n].finding.query
                    out[n] = self._verdict(pairs[n].finding, fixes[n], pairs[n].analysis,
                                           before[query], after[query],
                                           (before[own], after[own]))
        return [c for c in out if c is not None]

    def _analysis(self, query: str) -> Analysis:
        if query not in self._analyses:
            self._analyses[query] = analyze(query, self.ctx.catalog.relations)
        return self._analyses[query]

    def _verdict(self, finding: Finding, fix: Fix, analysis: Analysis, before: Costing,
                 after: Costing, own: tuple[Costing, Costing]) -> Check:
        name = fix.name
        if fix.index in after.existing:
            if finding.status == "applied":
                return Check("applied", f"earlier index {name} is in the database now (as "
                                        f"{after.existing[fix.index]}): the statement is "
                                        "measured as it is")
            return Check("miss", f"earlier index {name} exists now (as "
                                 f"{after.existing[fix.index]}): the statement is audited "
                                 "with it")
        if before.plan is None:
            why = before.reason.reason if before.reason else "no plan"
            return Check("miss", f"the statement could not be planned: {why}")
        if after.plan is None:
            why = after.reason.reason if after.reason else "no plan"
            return Check("miss", f"could not plan it with earlier index {name}: {why}")
        b, a = before.plan.total_cost, after.plan.total_cost
        costs = f"cost {b:,.0f} → {a:,.0f}"
        if fix.index not in after.used:
            return Check("miss", f"the planner does not use earlier index {name} for this "
                                 f"statement (cost {b:,.0f})", b, a)
        cut = 100.0 * (b - a) / b if b > 0 else 0.0
        if finding.status == "rejected":
            then = (finding.estimated_gain_pct if finding.estimated_gain_pct is not None
                    else finding.measured_gain_pct)
            if then is not None and cut > max(then, self.required_pct) + REJECTED_MARGIN_PCT:
                return Check("miss", f"earlier index {name} was rejected when it cut "
                                     f"{then:.0f}%, but cuts this statement's cost {cut:.0f}% "
                                     f"({costs}): audited again", b, a)
            return Check("rejected", f"earlier index {name} does the same here: {costs} "
                                     f"({cut:.0f}% less)", b, a)
        if cut < self.required_pct:
            return Check("miss", f"earlier index {name} is used but cuts the cost only "
                                 f"{cut:.0f}% ({costs}), below min_savings_pct "
                                 f"{self.required_pct:g}%", b, a)
        problem = (self._unlike_its_own(fix, a, *own, limited=after.plan.root.node_type == "Limit")
                   or _other_problem(fix, analysis, self._analysis(finding.query)))
        if problem is not None:
            return Check("miss", problem, b, a)
        was, now = own[0].total_cost, own[1].total_cost
        there = ("" if was is None or now is None
                 else f" (the statement it was found for: {was:,.0f} → {now:,.0f})")
        return Check("solved", f"earlier index {name} serves this statement: {costs}{there}",
                     b, a)

    def _unlike_its_own(self, fix: Fix, after: float, own_before: Costing,
                        own_after: Costing, *, limited: bool) -> str | None:
        """Why the index does not do here what it did for the statement it was found
        for, or None. A statement that cannot be planned here says nothing.

        Costs are compared like with like: when this statement reads every row its
        filter matches (no LIMIT on top) and that one stopped at its LIMIT, that one's
        cost is taken below its LIMIT."""
        if own_before.plan is None or own_after.plan is None:
            return None
        b, a = own_before.plan.total_cost, own_after.plan.total_cost
        cut = 100.0 * (b - a) / b if b > 0 else 0.0
        if fix.index not in own_after.used or cut < self.required_pct:
            return (f"earlier index {fix.name} no longer serves the statement it was found "
                    f"for here (cost {b:,.0f} → {a:,.0f}): the finding does not hold in this "
                    "database")
        root = own_after.plan.root
        if not limited and root.node_type == "Limit" and root.children:
            a = root.children[0].total_cost
        if after > max(AFTER_FACTOR * a, self.min_cost):
            return (f"earlier index {fix.name} leaves this statement at cost {after:,.0f}, "
                    f"{after / max(a, 1e-9):,.0f} times what it left the statement it was "
                    f"found for ({a:,.0f}): another problem remains (a sort, a join or a "
                    "scan the index does not serve)")
        return None

    def close(self) -> None:
        if self._engine is not None and not isinstance(self._engine, str):
            self._engine.close()


def _other_problem(fix: Fix, new: Analysis, own: Analysis) -> str | None:
    """A problem of the statement that the index does not solve, and the statement it
    was found for did not have: a sort in an order the index does not give, or a
    deep page."""
    wanted = _order(new)
    if (wanted and new.limit is not None and wanted != _order(own)
            and not _gives_order(fix.index, new, wanted)):
        return (f"this statement is sorted by {', '.join(wanted)}, an order earlier index "
                f"{fix.name} does not give: an index that gives it would serve it better")
    if (deep := _deep_offset(new)) is not None and _deep_offset(own) is None:
        return (f"this statement skips {deep:,} rows (OFFSET) to return a page: earlier "
                f"index {fix.name} still reads them all; keyset pagination is the fix")
    return None


def _gives_order(index: IndexDef, analysis: Analysis, wanted: tuple[str, ...]) -> bool:
    """Whether a scan of ``index`` returns rows in the order ``wanted`` (directions
    aside: a btree is read backwards too), its leading columns fixed by equalities."""
    if index.method != "btree":
        return False
    fixed = {p.column.column for p in analysis.predicates
             if p.column is not None and p.expression is None and not p.in_or
             and not p.scope and p.role in ("eq", "in", "null")
             and p.column.table == index.table}
    keys = [f"{index.table}.{k.column}" if k.column else k.expression or "" for k in index.keys]
    start = 0
    while start < len(keys) and keys[start] not in wanted[:1] and (
            keys[start].split(".", 1)[-1] in fixed):
        start += 1
    return tuple(keys[start:start + len(wanted)]) == wanted


def _order(analysis: Analysis) -> tuple[str, ...]:
    """The statement's own ORDER BY keys, as table.column or the expression."""
    return tuple(f"{k.column.table}.{k.column.column}" if k.column is not None
                 else k.expression or "?" for k in analysis.order_by if not k.scope)


def _deep_offset(analysis: Analysis) -> int | None:
    limit = analysis.limit
    if limit is None or not isinstance(limit.offset, int) or limit.offset < DEEP_OFFSET:
        return None
    if isinstance(limit.count, int) and limit.offset < 10 * limit.count:
        return None
    return limit.offset


def _reads(pair: Pair, index: IndexDef) -> bool:
    """Whether the statement reads or writes the index's table (or cannot tell)."""
    relations = pair.analysis.relations
    if not relations:
        return True
    return any((r.name == index.table and r.schema in (index.schema, ""))
               or r.partition_of == f"{index.schema}.{index.table}" for r in relations)
