"""The rewrite advisor: statements whose text, not the schema, is the problem.

Each rule of :mod:`pgarchitect.advisors.rewrite.rules` reads a statement and, when
it fires, writes an equivalent one with the same ``$n`` parameters. A rewrite is
proposed only when both statements return the same rows on the real data
(:mod:`pgarchitect.advisors.rewrite.verify`); the draft's measurement (a
:class:`~pgarchitect.measure.RewriteTrial`) then says whether it is faster, and the
audit rejects it below ``min_gain_pct`` like any proposal. The change is in the
application's code: nothing in the database changes, undoing it is reverting that
code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pgarchitect.advisors.base import Context, Draft, Outcome, Proposals, Subject
from pgarchitect.advisors.rewrite.replay import RewriteChecker
from pgarchitect.advisors.rewrite.rules import RULES, Match, Rule, Skip
from pgarchitect.advisors.rewrite.verify import DEFAULT_TIMEOUT_MS, Equivalence, verify
from pgarchitect.confidence import measured_factors, score
from pgarchitect.measure import RewriteTrial, StatementInput
from pgarchitect.plans import NoPlan, generic_plan
from pgarchitect.proposal import Factor, Measurement, Proposal
from pgarchitect.report import short

# Which reason wins when several rules say why they did not fire.
_CODE_ORDER = ("not_equivalent", "timeout", "locked", "no_privilege", "not_plannable",
               "no_gain", "not_supported", "unparseable", "no_candidate")


@dataclass(frozen=True)
class RewriteDetail:
    """What a rewrite proposal carries besides the shared record: its rule and the
    result check that allowed it."""

    rule: str
    equivalence: Equivalence

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "equivalence": self.equivalence.to_json()}


def _cost(ctx: Context, query: str) -> float | None:
    plan = generic_plan(ctx.conn, query)
    return None if isinstance(plan, NoPlan) else plan.total_cost


class RewriteAdvisor:
    """Rewrites of statements, each checked to return the same rows, then measured."""

    name = "rewrite"
    kind = "rewrite"

    def __init__(self, rules: Sequence[Rule] = RULES, *,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.rules = tuple(rules)
        self.timeout_ms = timeout_ms  # per run of the result check

    def checker(self, ctx: Context) -> RewriteChecker:
        return RewriteChecker(ctx, self.rules)

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        drafts: list[Draft] = []
        outcomes: dict[str, Outcome] = {}
        for subject in subjects:
            found, skips = self._subject(ctx, subject)
            drafts.extend(found)
            if found:
                outcomes[subject.query] = Outcome(subject.query)
                continue
            skips.sort(key=lambda s: _CODE_ORDER.index(s.code)
                       if s.code in _CODE_ORDER else len(_CODE_ORDER))
            reason = "; ".join(dict.fromkeys(s.reason for s in skips)) or "no rule applies"
            outcomes[subject.query] = Outcome(
                subject.query, reason=f"No rewrite: {reason}",
                code=skips[0].code if skips else "no_candidate")
        notes = [f"Rewrites are proposed only when they return the same rows as the statement "
                 f"for every parameter set tried ({self.timeout_ms / 1000:g} s per run)."]
        return Proposals(self.name, drafts, outcomes, notes,
                         {"rules": [r.name for r in self.rules]})

    def _subject(self, ctx: Context, subject: Subject) -> tuple[list[Draft], list[Skip]]:
        analysis = subject.analysis
        if analysis.error:
            return [], [Skip(analysis.error, "unparseable")]
        if analysis.kind != "select":
            return [], [Skip(f"only SELECT statements are rewritten, not {analysis.kind}",
                             "not_supported")]
        drafts: list[Draft] = []
        skips: list[Skip] = []
        for rule in self.rules:
            applied = rule.apply(subject.query, analysis, ctx.catalog)
            if isinstance(applied, Skip):
                skips.append(Skip(f"{rule.name}: {applied.reason}", applied.code))
                continue
            match, rewritten = applied
            s = subject.statement
            checked = verify(ctx.conn, s.query, rewritten, analysis.params, s.params,
                             sets=ctx.config.get_int("measure_sets"), timeout_ms=self.timeout_ms)
            if not checked.same:
                skips.append(Skip(f"{rule.name}: {checked.summary()}",
                                  checked.code or "not_equivalent"))
                continue
            drafts.append(self._draft(ctx, subject, match, rewritten, checked))
        return drafts, skips

    def _draft(self, ctx: Context, subject: Subject, match: Match, rewritten: str,
               checked: Equivalence) -> Draft:
        s = subject.statement
        query = s.query
        before, after = _cost(ctx, query), _cost(ctx, rewritten)
        estimated = ({query: 1.0 - after / before}
                     if before and after is not None else {})
        counted = s.calls > 0 and s.total_ms > 0
        inputs = [StatementInput(query, subject.analysis.params, s.params,
                                 s.total_ms if counted else 1.0,
                                 s.mean_ms if counted else None,
                                 s.hit_ratio if counted else None)]
        title = f"rewrite: {match.label} on {match.table}"
        evidence = [checked.summary()]
        if before is not None and after is not None:
            evidence.append(f"planner cost {before:,.0f} → {after:,.0f} for {short(query, 80)}")

        def finish(measurements: list[Measurement]) -> Proposal:
            measurements = [replace(m, cost_before=before, cost_after=after)
                            for m in measurements]
            est, meas, factors, flags = measured_factors(measurements, {query: 1.0},
                                                         change="rewrite")
            factors.append(Factor("same rows", 1.0, checked.summary()))
            gain = meas if meas is not None else est
            shown = f"{gain:.0%}" if gain is not None else "an unknown share"
            return Proposal(
                kind="rewrite", title=title, advisor=self.name,
                objects=tuple(dict.fromkeys([match.table, *(c.rsplit(".", 1)[0]
                                                            for c in match.columns)])),
                forward=rewritten, rollback=query, statements=measurements,
                reasoning=(f"{match.problem}; the rewrite ({match.rule}) returns the same "
                           f"rows ({checked.summary()}) and is {shown} faster. It is a code "
                           "change: to undo it, revert the code change."),
                problem=match.problem, evidence=evidence, new_statement=rewritten,
                estimated_gain=est, measured_gain=meas, confidence=score(factors),
                factors=factors, flags=flags, detail=RewriteDetail(match.rule, checked))

        return Draft(f"rewrite:{match.rule}:{rewritten}", RewriteTrial({query: rewritten}),
                     inputs, estimated, finish)
