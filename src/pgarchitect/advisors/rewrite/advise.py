"""The rewrite advisor: statements whose text, not the schema, is the problem.

Each rule of :mod:`pgarchitect.advisors.rewrite.rules` reads a statement and, when
it fires, writes an equivalent one with the same ``$n`` parameters. A rewrite is
proposed only when both statements return the same rows on the real data
(:mod:`pgarchitect.advisors.rewrite.verify`); the draft's measurement (a
:class:`~pgarchitect.measure.RewriteTrial`) then says whether it is faster, and the
audit rejects it below ``min_gain_pct`` like any proposal. The change is in the
application's code: nothing in the database changes, undoing it is reverting that
code.

A rule whose match is a note (``Match.note``) makes no speed claim: its rewrite is
checked to return the same rows and becomes an advisor note, not a draft. A rule
with hooks (:class:`~pgarchitect.advisors.rewrite.rules.Rule`) is admitted on the
table by its settings, checked and measured with its own parameter sets, and its
rewrite runs with the values it binds from the original's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from pgarchitect.advisors.base import Context, Draft, Outcome, Proposals, Subject
from pgarchitect.advisors.rewrite.replay import RewriteChecker
from pgarchitect.advisors.rewrite.rules import RULES, Match, Rule, Skip, Values
from pgarchitect.advisors.rewrite.verify import (
    DEFAULT_TIMEOUT_MS,
    Equivalence,
    compare,
    parameter_sets,
)
from pgarchitect.confidence import measured_factors, score
from pgarchitect.measure import RewriteTrial, StatementInput
from pgarchitect.plans import NoPlan, generic_plan
from pgarchitect.proposal import Factor, Measurement, Proposal
from pgarchitect.report import short

# Which reason wins when several rules say why they did not fire.
_CODE_ORDER = ("not_equivalent", "timeout", "locked", "no_privilege", "not_plannable",
               "no_gain", "low_cost", "not_supported", "unparseable", "no_candidate")


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


@dataclass(frozen=True)
class RuleTrial(RewriteTrial):
    """A rewrite that runs with the values its rule binds from the original's."""

    rule: Rule | None = None

    def bind(self, conn: psycopg.Connection[Any], query: str,
             values: Sequence[str | None]) -> Sequence[str | None] | NoPlan:
        if self.rule is None or self.rule.bind is None:
            return values
        return self.rule.bind(conn, query, self.statement(query), values)


@dataclass(frozen=True)
class _Found:
    """What the rules found for one statement: drafts, notes and why the others did not."""

    drafts: list[Draft]
    notes: list[str]
    skips: list[Skip]


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
        notes = [f"Rewrites are proposed only when they return the same rows as the statement "
                 f"for every parameter set tried ({self.timeout_ms / 1000:g} s per run)."]
        for subject in subjects:
            found = self._subject(ctx, subject)
            drafts.extend(found.drafts)
            notes.extend(found.notes)
            if found.drafts:
                outcomes[subject.query] = Outcome(subject.query)
                continue
            if found.notes:
                outcomes[subject.query] = Outcome(
                    subject.query, reason="; ".join(found.notes), code="no_gain")
                continue
            skips = sorted(found.skips, key=lambda s: _CODE_ORDER.index(s.code)
                           if s.code in _CODE_ORDER else len(_CODE_ORDER))
            reason = "; ".join(dict.fromkeys(s.reason for s in skips)) or "no rule applies"
            outcomes[subject.query] = Outcome(
                subject.query, reason=f"No rewrite: {reason}",
                code=skips[0].code if skips else "no_candidate")
        return Proposals(self.name, drafts, outcomes, notes,
                         {"rules": [r.name for r in self.rules]})

    def _subject(self, ctx: Context, subject: Subject) -> _Found:
        analysis = subject.analysis
        if analysis.error:
            return _Found([], [], [Skip(analysis.error, "unparseable")])
        if analysis.kind != "select":
            return _Found([], [], [Skip(f"only SELECT statements are rewritten, not "
                                        f"{analysis.kind}", "not_supported")])
        found = _Found([], [], [])
        s = subject.statement
        for rule in self.rules:
            applied = rule.apply(subject.query, analysis, ctx.catalog)
            if not isinstance(applied, Skip) and rule.admit is not None:
                applied = rule.admit(applied[0], ctx.catalog, ctx.config) or applied
            if isinstance(applied, Skip):
                found.skips.append(Skip(f"{rule.name}: {applied.reason}", applied.code))
                continue
            match, rewritten = applied
            chosen = parameter_sets(ctx.conn, s.query, analysis.params, s.params, rule,
                                    ctx.config.get_int("measure_sets"))
            checked = (Equivalence(reason=chosen.reason, code=chosen.code or "not_plannable")
                       if isinstance(chosen, NoPlan) else
                       compare(ctx.conn, s.query, rewritten, chosen[0], rule=rule,
                               timeout_ms=self.timeout_ms, config=ctx.config,
                               chosen=chosen[1]))
            if not checked.same:
                found.skips.append(Skip(f"{rule.name}: {checked.summary()}",
                                        checked.code or "not_equivalent"))
                continue
            if match.note:
                n = len(checked.sets)
                found.notes.append(
                    f"{short(s.query, 80)}: {match.problem}; the rewrite ({match.label}) "
                    f"{rewritten}: the rows are the same (checked on {n} parameter "
                    f"set{'s' if n != 1 else ''}); no speed claim")
                continue
            sets = [] if isinstance(chosen, NoPlan) or rule.sets is None else chosen[0]
            found.drafts.append(self._draft(ctx, subject, rule, match, rewritten, checked,
                                            sets))
        return found

    def _draft(self, ctx: Context, subject: Subject, rule: Rule, match: Match, rewritten: str,
               checked: Equivalence, sets: Sequence[Values]) -> Draft:
        s = subject.statement
        query = s.query
        before, after = _cost(ctx, query), _cost(ctx, rewritten)
        estimated = ({query: 1.0 - after / before}
                     if before and after is not None else {})
        counted = s.calls > 0 and s.total_ms > 0
        # The rule's own sets (deep offsets) are what it is measured with, as checked.
        inputs = [StatementInput(query, subject.analysis.params, sets or s.params,
                                 s.total_ms if counted else 1.0,
                                 s.mean_ms if counted else None,
                                 s.hit_ratio if counted else None)]
        title = f"rewrite: {match.label} on {match.table}"
        evidence = [checked.summary()]
        if checked.chosen:
            evidence.append(checked.chosen)
        if before is not None and after is not None:
            evidence.append(f"planner cost {before:,.0f} → {after:,.0f} for {short(query, 80)}")
        advice = f" {rule.advice(match)}" if rule.advice is not None else ""

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
                           f"rows ({checked.summary()}) and is {shown} faster.{advice} It is "
                           "a code change: to undo it, revert the code change."),
                problem=match.problem, evidence=evidence, new_statement=rewritten,
                estimated_gain=est, measured_gain=meas, confidence=score(factors),
                factors=factors, flags=flags, detail=RewriteDetail(match.rule, checked))

        return Draft(f"rewrite:{match.rule}:{rewritten}", RuleTrial({query: rewritten}, rule),
                     inputs, estimated, finish)
