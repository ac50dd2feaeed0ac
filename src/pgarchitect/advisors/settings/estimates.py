"""The statistics rule's drafts and replay: the statements' measured plans read for
misestimates, each fix tried inside the measured transaction, and an earlier fix
replayed on a new statement.

A fix whose estimate comes right but whose statement is no faster is still said: the
plan was right by luck, and the statistics keep it right as the data changes. It
carries that in its flags and reasoning, and its measured gain decides its action
like any other proposal's (under ``min_gain_pct`` it is stored as rejected, with
its evidence, and delivered to no one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from pgarchitect.advisors.base import Context, Draft, Outcome, Subject
from pgarchitect.advisors.settings.model import SettingDetail
from pgarchitect.advisors.settings.rules import statistics
from pgarchitect.advisors.settings.rules.statistics import Fix, Misestimate, StatisticsTrial
from pgarchitect.advisors.settings.verify import input_of
from pgarchitect.confidence import measured_factors, score
from pgarchitect.knowledge.replay import Check
from pgarchitect.plans import NoPlan, Plan, explain_analyze, sample_parameter_sets
from pgarchitect.proposal import NOISE_FLOOR_MS, Measurement, Proposal

# What may stop the statistics from being made: no ownership of the table, its lock,
# the time, a table or column gone since.
_REFUSED = (psycopg.errors.InsufficientPrivilege, psycopg.errors.LockNotAvailable,
            psycopg.errors.QueryCanceled, psycopg.errors.UndefinedTable,
            psycopg.errors.UndefinedColumn)
LUCK_GAIN = 0.05  # faster by less than this: the plan was right before (by luck)


class FreshBaseline(StatisticsTrial):
    """The table analysed before the runs before too: the change measured is the
    statistics alone, not a fresh ANALYZE of stale statistics."""

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(self.fix.analyze())


def measured_plan(ctx: Context, subject: Subject) -> Plan | NoPlan:
    """The statement's plan under EXPLAIN ANALYZE with its first parameter set."""
    chosen = sample_parameter_sets(ctx.conn, subject.query, subject.analysis.params,
                                   subject.statement.params, count=1)
    if isinstance(chosen, NoPlan):
        return chosen
    return explain_analyze(ctx.conn, subject.query, chosen[0].values,
                           allow_writes=ctx.allow_writes)


def worth_a_look(subject: Subject) -> bool:
    """A read that takes at least the noise floor (or is not counted): a misestimate
    in a statement of a fraction of a millisecond costs nothing to speak of."""
    s = subject.statement
    counted = s.calls > 0 and s.total_ms > 0
    return subject.analysis.kind == "select" and (not counted or s.mean_ms >= NOISE_FLOOR_MS)


def propose(ctx: Context, subjects: Sequence[Subject], advisor: str
            ) -> tuple[list[Draft], dict[str, Outcome]]:
    """A draft per fix (a statement may need several), and the statements' outcomes."""
    found: dict[Fix, list[tuple[Subject, Misestimate]]] = {}
    outcomes: dict[str, Outcome] = {}
    for subject in subjects:
        if not worth_a_look(subject):
            continue
        plan = measured_plan(ctx, subject)
        if isinstance(plan, NoPlan):
            continue  # the other advisors say why it cannot be planned
        errors = plan.estimate_errors(statistics.THRESHOLD)
        mis = statistics.misestimates(plan)
        for m in mis:
            found.setdefault(statistics.fix_for(m), []).append((subject, m))
        if mis:
            outcomes[subject.query] = Outcome(subject.query)
        elif errors:
            e = errors[0]
            outcomes[subject.query] = Outcome(
                subject.query, reason=(f"Misestimated {e.factor:,.0f} times ({e.node.node_type}"
                                       f": estimated {e.estimated:,.0f} rows, actual "
                                       f"{e.actual:,.0f}), on no condition that names a "
                                       "table's columns: no statistics would change it"),
                code="no_candidate")
    drafts = [_draft(ctx, choose(ctx, fix, seen), seen, advisor) for fix, seen in found.items()]
    return drafts, outcomes


def choose(ctx: Context, fix: Fix, seen: Sequence[tuple[Subject, Misestimate]]) -> Fix:
    """The first kinds of extended statistics (:data:`statistics.VARIANTS`) that bring the
    first statement's estimate within the threshold, each tried in a rolled-back
    transaction; all kinds when none does (the measurement then says so)."""
    if not fix.extended:
        return fix
    subject = seen[0][0]
    for kinds in statistics.VARIANTS:
        candidate = replace(fix, kinds=kinds)
        try:
            with ctx.conn.transaction(force_rollback=True):
                statistics.apply(ctx.conn, candidate)
                plan = measured_plan(ctx, subject)
        except _REFUSED:
            return fix  # the measurement reports why
        if isinstance(plan, NoPlan):
            return fix
        left = statistics.corrected(plan, candidate)
        if left is None or left.factor < statistics.THRESHOLD:
            return candidate
    return fix


def _draft(ctx: Context, fix: Fix, seen: Sequence[tuple[Subject, Misestimate]],
           advisor: str) -> Draft:
    subjects = list(dict.fromkeys(s for s, _ in seen))
    inputs = [input_of(s) for s in subjects]
    weights = {i.query: i.weight for i in inputs}
    worst = max((m for _, m in seen), key=lambda m: m.factor)
    trial = FreshBaseline(fix)
    what = (f"extended statistics ({', '.join(fix.kinds)}) on "
            f"{', '.join(fix.columns)}" if fix.extended
            else f"statistics target {statistics.TARGET} on {fix.columns[0]}")
    why = ("the planner takes the columns as independent and multiplies their "
           "selectivities; extended statistics tell it how they go together"
           if fix.extended else "a finer histogram and a longer list of common values "
           "describe the column better than the default target of 100")

    def finish(measurements: list[Measurement]) -> Proposal:
        est, meas, factors, flags = measured_factors(measurements, weights,
                                                     change="corrected estimate")
        evidence = [f"Before: {m.describe()}." for _, m in seen]
        left = statistics.worst(trial.after)
        measured = [m for m in measurements if m.measured]
        right = bool(measured) and all(m.uses_change for m in measured)
        if left is not None:
            evidence.append(f"With the statistics (analysed in the measured transaction): "
                            f"{left.describe() if not right else _within(left)}.")
        rejected = None
        if measured and not right:
            rejected = (f"{what} did not bring the estimate within "
                        f"{statistics.THRESHOLD:g} times")
            flags.append(f"The estimate is still wrong with {what}")
        luck = ""
        if right and (meas is None or meas < LUCK_GAIN):
            luck = (" The estimate is right with it, but the statement is not faster: its "
                    "plan was right by luck, and the statistics keep it right as the data "
                    "changes.")
            flags.append("Estimate corrected, statement not faster: the plan was right by "
                         "luck")
        return Proposal(
            kind="setting", title=fix.title, objects=(f"{fix.schema}.{fix.table}",),
            forward=fix.forward, rollback=fix.rollback, statements=measurements,
            advisor=advisor,
            problem=(f"Rows misestimated {worst.factor:,.0f} times on "
                     f"{fix.schema}.{fix.table} ({', '.join(fix.columns)})"),
            reasoning=(f"The plan expected {worst.estimated:,.0f} rows where "
                       f"{worst.actual:,.0f} came: {why}. Tried with {what} made and the "
                       "table analysed inside the measured transaction (rolled back), after "
                       "a fresh ANALYZE before, so the gain is the statistics' own." + luck),
            evidence=evidence, estimated_gain=est, measured_gain=meas,
            confidence=score(factors), factors=factors, flags=flags, rejected=rejected,
            detail=SettingDetail("statistics" if fix.extended else "statistics target",
                                 fix.name if fix.extended else str(statistics.TARGET),
                                 "none" if fix.extended else "default (-1)", "statistics",
                                 "ANALYZE of the table takes a little longer",
                                 {"estimated": worst.estimated, "actual": worst.actual,
                                  "after": None if left is None else
                                  {"estimated": left.estimated, "actual": left.actual}}))

    return Draft(f"setting:{fix.forward}", trial, inputs, {}, finish)


def _within(m: Misestimate) -> str:
    return (f"{m.node} on {m.schema}.{m.table} estimated {m.estimated:,.0f} rows, actual "
            f"{m.actual:,.0f}: within {statistics.THRESHOLD:g} times")


def replay(ctx: Context, fix: Fix, subject: Subject) -> Check:
    """An earlier fix on a new statement: solved when the statement's estimate on the
    fix's columns is wrong without it and right with it (both measured, rolled back)."""
    plan = measured_plan(ctx, subject)
    if isinstance(plan, NoPlan):
        return Check("miss", f"this statement could not be measured: {plan.reason}")
    before = statistics.corrected(plan, fix)
    if before is None or before.factor < statistics.THRESHOLD:
        return Check("miss", f"this statement's estimates on {fix.schema}.{fix.table} "
                             f"({', '.join(fix.columns)}) are not {statistics.THRESHOLD:g} "
                             "times off: not the problem the finding fixed")
    try:
        with ctx.conn.transaction(force_rollback=True):
            statistics.apply(ctx.conn, fix)
            after = measured_plan(ctx, subject)
    except _REFUSED as exc:
        return Check("miss", f"the earlier statistics could not be made here "
                             f"({type(exc).__name__}): {exc.diag.message_primary}")
    if isinstance(after, NoPlan):
        return Check("miss", f"this statement could not be measured with the statistics: "
                             f"{after.reason}")
    left = statistics.corrected(after, fix)
    if left is not None and left.factor >= statistics.THRESHOLD:
        return Check("miss", f"with the earlier statistics the estimate is still "
                             f"{left.factor:,.0f} times off ({left.describe()})")
    return Check("solved", f"the earlier statistics bring this statement's estimate from "
                           f"{before.estimated:,.0f} to "
                           f"{left.estimated if left else before.actual:,.0f} rows "
                           f"(actual {before.actual:,.0f})")
