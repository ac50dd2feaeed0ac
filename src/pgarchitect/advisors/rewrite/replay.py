"""Does an earlier rewrite finding solve a new statement? The same rule must fire.

An earlier rewrite's finding holds the original statement (``query``) and its
rewrite (``recommendation_sql``). It answers a new statement when the rule that
made it fires on the new statement too, on the same table and columns: the fix is
then the same edit of the code. A rule that fires elsewhere, or not at all (a
column now nullable, another table, a table now under the rule's size setting), is
a miss, with why.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgarchitect.advisors.base import Context
from pgarchitect.advisors.rewrite.rules import Match, Rule, Skip
from pgarchitect.analysis import analyze
from pgarchitect.knowledge.replay import Check, Pair


class RewriteChecker:
    """Replays earlier rewrite findings on statements, for one audit."""

    def __init__(self, ctx: Context, rules: Sequence[Rule]) -> None:
        self.ctx = ctx
        self.rules = tuple(rules)

    def _earlier(self, query: str) -> tuple[Rule, Match] | str:
        """The rule that fires on the finding's statement here, and where."""
        analysis = analyze(query, self.ctx.catalog.relations)
        why = []
        for rule in self.rules:
            applied = rule.apply(query, analysis, self.ctx.catalog)
            if not isinstance(applied, Skip):
                return rule, applied[0]
            why.append(applied.reason)
        return ("no rewrite rule fires on the statement of the earlier finding here ("
                + "; ".join(why[:2]) + ")")

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        out = []
        for pair in pairs:
            earlier = self._earlier(pair.finding.query)
            if isinstance(earlier, str):
                out.append(Check("miss", earlier))
                continue
            rule, then = earlier
            now = rule.apply(pair.statement.query, pair.analysis, self.ctx.catalog)
            if not isinstance(now, Skip) and rule.admit is not None:
                # A rule with settings (a table large enough) must admit it here too.
                now = rule.admit(now[0], self.ctx.catalog, self.ctx.config) or now
            if isinstance(now, Skip):
                out.append(Check("miss", f"earlier rewrite {rule.name} does not apply: "
                                         f"{now.reason}"))
            elif (now[0].table, set(now[0].columns)) != (then.table, set(then.columns)):
                out.append(Check("miss", f"rewrite {rule.name} applies, but on "
                                         f"{', '.join(now[0].columns)}, not on "
                                         f"{', '.join(then.columns)} as before"))
            else:
                # A rewrite tried and rejected (too little gain) would be rejected here too.
                verdict = "rejected" if pair.finding.status == "rejected" else "solved"
                out.append(Check(verdict, f"earlier rewrite {rule.name} ({then.label}) "
                                          f"applies on the same columns "
                                          f"({', '.join(then.columns)})"))
        return out

    def close(self) -> None:
        return None
