"""Does an earlier cache finding solve a new statement?

A materialized view of hourly aggregates (``preaggregate``) solves a statement that
aggregates the same table by day over the same other columns, with aggregates the
view keeps: the statement can be rewritten over it as the first one was. An
application cache is about one statement's call rate and its tables' writes, which
change from week to week: it is not replayed (a miss), and the statement is assessed
again.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgarchitect.advisors.base import Context
from pgarchitect.advisors.cache.model import Skip
from pgarchitect.advisors.cache.rules import preaggregate
from pgarchitect.knowledge.replay import Check, Pair


class CacheChecker:
    """Replays earlier cache findings on statements, for one audit."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        return [self._check(p) for p in pairs]

    def _check(self, pair: Pair) -> Check:
        finding = pair.finding
        if not finding.recommendation_sql.startswith("CREATE MATERIALIZED VIEW"):
            return Check("miss", "an application cache depends on the statement's calls and "
                                 "its tables' writes now: assessed again, not replayed")
        then = preaggregate.detect(finding.query, self.ctx.catalog)
        if isinstance(then, Skip):
            return Check("miss", f"the earlier statement is no per-day aggregate here: "
                                 f"{then.reason}")
        now = preaggregate.detect(pair.statement.query, self.ctx.catalog)
        if isinstance(now, Skip):
            return Check("miss", f"not a per-day aggregate the view serves: {now.reason}")
        if (now.schema, now.table, now.ts, now.keys) != (then.schema, then.table, then.ts,
                                                         then.keys):
            return Check("miss", f"it aggregates {now.qualified} by day of {now.ts} and "
                                 f"({', '.join(now.keys)}), the view "
                                 f"{then.view} by day of {then.ts} and ({', '.join(then.keys)})")
        missing = [p.name for p in now.partials if p not in then.partials]
        if missing:
            return Check("miss", f"the view {then.view} keeps no {', '.join(missing)}")
        verdict = "rejected" if finding.status == "rejected" else "solved"
        keys = ", ".join((preaggregate.GRAIN, *then.keys))
        return Check(verdict, f"the view {then.view} keeps the same per-day aggregates of "
                              f"{then.qualified} by ({keys})")

    def close(self) -> None:
        return None
