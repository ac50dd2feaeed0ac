"""Drafts of server-wide settings: measured with ``SET LOCAL`` on the statements whose
plan the setting changes, or judged on their evidence alone when no statement can try
them (a setting that takes effect only at a restart).

A server-wide setting reaches every statement, so it is proposed only when the
measured statements get faster and none gets slower by more than the noise
(:func:`pgarchitect.advisors.settings.model.slower`); otherwise it is kept as
rejected, with the statements it slowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from pgarchitect.advisors.base import Context, Draft, Subject
from pgarchitect.advisors.settings.managed import Service, how_to_reset, how_to_set
from pgarchitect.advisors.settings.model import NoChange, SettingDetail, slower
from pgarchitect.confidence import measured_factors, score
from pgarchitect.measure import SettingTrial, StatementInput
from pgarchitect.proposal import Factor, Measurement, Proposal
from pgarchitect.report import short

HURTS = 0.3  # a statement the setting slows: at most "investigate"
# A setting that no statement tried: its evidence alone never reaches the runbook's
# pull-request threshold (80%): it is logged for a person to decide.
UNTRIED = 0.75


def input_of(subject: Subject) -> StatementInput:
    """What measurement needs of a statement, with its workload counters when counted."""
    s, a = subject.statement, subject.analysis
    counted = s.calls > 0 and s.total_ms > 0
    return StatementInput(s.query, a.params, s.params, s.total_ms or 1.0,
                          s.mean_ms if counted else None, s.hit_ratio if counted else None)


@dataclass(frozen=True)
class Change:
    """A server-wide setting to propose, with what speaks for it."""

    setting: str
    value: str
    current: str
    rule: str
    problem: str
    reasoning: str
    evidence: tuple[str, ...]
    service: Service
    restart: bool = False
    facts: tuple[tuple[str, object], ...] = ()

    @property
    def title(self) -> str:
        return f"{self.setting} {self.value} (now {self.current})"

    def forward(self, dbname: str) -> str:
        text = how_to_set(self.service, self.setting, self.value, restart=self.restart)
        if self.restart:
            return text
        per_db = sql.SQL("ALTER DATABASE {} SET {} = {}").format(
            sql.Identifier(dbname), sql.Identifier(self.setting),
            sql.Literal(self.value)).as_string(None)
        return f"{text}\n-- or for this database only: {per_db};"

    def rollback(self, dbname: str) -> str:
        text = how_to_reset(self.service, self.setting, restart=self.restart)
        if self.restart:
            return text
        per_db = sql.SQL("ALTER DATABASE {} RESET {}").format(
            sql.Identifier(dbname), sql.Identifier(self.setting)).as_string(None)
        return f"{text}\n-- or, if it was set for this database only: {per_db};"

    def detail(self, risk: str) -> SettingDetail:
        return SettingDetail(self.setting, self.value, self.current, self.rule, risk,
                             dict(self.facts))


def measured_draft(ctx: Context, change: Change, subjects: Sequence[Subject],
                   advisor: str) -> Draft:
    """A change tried with ``SET LOCAL`` on the statements whose plan it changes."""
    inputs = [input_of(s) for s in subjects]
    weights = {i.query: i.weight for i in inputs}
    dbname = ctx.conn.info.dbname

    def finish(measurements: list[Measurement]) -> Proposal:
        est, meas, factors, flags = measured_factors(measurements, weights, change="setting")
        hurt = [m for m in measurements if slower(m)]
        rejected = None
        if hurt:
            worst = ", ".join(f"{short(m.query, 50)} {m.median_before:.1f} → "
                              f"{m.median_after:.1f} ms" for m in hurt[:3])
            factors.append(Factor("no statement slower", HURTS,
                                  f"{len(hurt)} of {len(measurements)} slower: {worst}"))
            rejected = (f"{len(hurt)} measured statement(s) slower with {change.setting} = "
                        f"{change.value} ({worst}): a server-wide setting must not slow any")
            flags.append(rejected)
        elif meas is not None and meas <= 0:
            rejected = f"the measured statements are not faster with {change.setting} = " \
                       f"{change.value}"
        else:
            factors.append(Factor("no statement slower", 1.0,
                                  f"none of {len(measurements)} measured statements slower"))
        return Proposal(
            kind="setting", title=change.title, objects=(change.setting,),
            forward=change.forward(dbname), rollback=change.rollback(dbname),
            statements=measurements, advisor=advisor, problem=change.problem,
            reasoning=change.reasoning + f" Tried with SET LOCAL {change.setting} = "
                      f"{change.value} in the measured transaction on the {len(inputs)} "
                      "statement(s) whose plan it changes.",
            evidence=list(change.evidence), estimated_gain=est, measured_gain=meas,
            confidence=score(factors), factors=factors, flags=flags, rejected=rejected,
            detail=change.detail("server-wide: every statement of every session plans "
                                 "with it"))

    return Draft(f"setting:{change.setting}={change.value}", SettingTrial(
        {change.setting: change.value}), inputs, {}, finish)


def evidence_draft(change: Change, factors: Sequence[Factor], why_untried: str,
                   advisor: str, dbname: str) -> Draft:
    """A change no statement tried: its confidence is its evidence's, kept under the
    pull-request threshold (:data:`UNTRIED`)."""

    def finish(measurements: list[Measurement]) -> Proposal:
        every = [*factors, Factor("not tried", UNTRIED, why_untried)]
        return Proposal(
            kind="setting", title=change.title, objects=(change.setting,),
            forward=change.forward(dbname), rollback=change.rollback(dbname),
            statements=[], advisor=advisor, problem=change.problem,
            reasoning=f"{change.reasoning} {why_untried[0].upper()}{why_untried[1:]}: the "
                      "confidence comes from the evidence only, and a person decides.",
            evidence=list(change.evidence), estimated_gain=None, measured_gain=None,
            confidence=score(every), factors=every,
            flags=[f"Not measured: {why_untried}"],
            detail=change.detail("server-wide"))

    return Draft(f"setting:{change.setting}={change.value}", NoChange(), [], {}, finish)
