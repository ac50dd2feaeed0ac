"""Does an earlier index finding solve a new statement? Plan it with that index.

The index advisor's :class:`~pgarchitect.knowledge.replay.Checker`: each statement
is planned without and with the earlier finding's index, on the audit's what-if
engine (HypoPG, else built in the rolled-back sandbox; one setup per index for
every statement it is replayed on). The index solves the statement when the
planner uses it and the cost falls by at least ``min_savings_pct``, the cut the
advisor would require to propose it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pglast
from pglast import ast

from pgarchitect.advisors.base import Context
from pgarchitect.advisors.index.whatif import Costing, WhatIf, open_engine
from pgarchitect.catalog.index import IndexDef
from pgarchitect.catalog.tables import parse_index
from pgarchitect.errors import PgArchitectError, first_line
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Check, Pair

# A rejected index is "the same fix" for a new statement when it cuts that one's cost
# by no more than this many percentage points above the cut it was rejected with.
REJECTED_MARGIN_PCT = 10.0


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
        self._engine: WhatIf | str | None = None  # str: why there is none

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
            queries = list(dict.fromkeys(pairs[n].statement.query for ns in todo.values()
                                         for n in ns))
            before = {c.query: c for c in engine.costs(queries, ())}
            for index, ns in todo.items():
                after = {c.query: c for c in engine.costs(
                    list(dict.fromkeys(pairs[n].statement.query for n in ns)), [index])}
                for n in ns:
                    query = pairs[n].statement.query
                    out[n] = self._verdict(pairs[n].finding, fixes[n], before[query],
                                           after[query])
        return [c for c in out if c is not None]

    def _verdict(self, finding: Finding, fix: Fix, before: Costing, after: Costing) -> Check:
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
        if cut >= self.required_pct:
            return Check("solved", f"earlier index {name} serves this statement: {costs}",
                         b, a)
        return Check("miss", f"earlier index {name} is used but cuts the cost only "
                             f"{cut:.0f}% ({costs}), below min_savings_pct "
                             f"{self.required_pct:g}%", b, a)

    def close(self) -> None:
        if self._engine is not None and not isinstance(self._engine, str):
            self._engine.close()


def _reads(pair: Pair, index: IndexDef) -> bool:
    """Whether the statement reads or writes the index's table (or cannot tell)."""
    relations = pair.analysis.relations
    if not relations:
        return True
    return any((r.name == index.table and r.schema in (index.schema, ""))
               or r.partition_of == f"{index.schema}.{index.table}" for r in relations)
