"""The settings advisor: each rule reads the evidence of one setting and proposes a
change measured with ``SET LOCAL`` inside the measured transaction.

Rules (``rules/``, one per setting):

- ``work_mem``: a statement whose sorts or hashes spill to disk
  (temporary blocks in pg_stat_statements) gets the work_mem that keeps them in
  memory, for that statement only, with the memory it would risk for every session.

A statement without evidence gets no outcome from this advisor (the other
advisors' reasons stand).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from pgarchitect.advisors.base import Context, Draft, Outcome, Proposals, Subject
from pgarchitect.advisors.settings.rules import work_mem
from pgarchitect.confidence import measured_factors, score
from pgarchitect.knowledge.kb import Finding
from pgarchitect.knowledge.replay import Check, Pair
from pgarchitect.measure import SettingTrial, StatementInput
from pgarchitect.plans import Plan
from pgarchitect.proposal import Measurement, Proposal
from pgarchitect.report import short


@dataclass(frozen=True)
class SpillTrial(SettingTrial):
    """work_mem raised for the transaction; the plan uses it when nothing spills."""

    def used(self, plan: Plan) -> bool:
        return work_mem.in_memory(plan)


@dataclass(frozen=True)
class SettingDetail:
    """A setting proposal's particulars."""

    setting: str
    value: str
    current: str
    rule: str
    risk: str

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "value": self.value, "current": self.current,
                "rule": self.rule, "risk": self.risk}


def _settings(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """work_mem (kB) and max_connections."""
    rows = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                             "('work_mem', 'max_connections')").fetchall())
    return int(rows["work_mem"]), int(rows["max_connections"])


class SettingsAdvisor:
    """Settings, evidence first: today work_mem for statements that spill."""

    name = "settings"
    kind = "setting"

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        current_kb, connections = _settings(ctx.conn)
        drafts: list[Draft] = []
        outcomes: dict[str, Outcome] = {}
        for subject in subjects:
            s = subject.statement
            spill = work_mem.spill_of(s, current_kb)
            if spill is None:
                continue
            outcomes[s.query] = Outcome(s.query)
            drafts.append(self._draft(ctx, subject, spill, current_kb, connections))
        return Proposals(self.name, drafts, outcomes,
                         info={"work_mem_kb": current_kb, "max_connections": connections})

    def _draft(self, ctx: Context, subject: Subject, spill: work_mem.Spill, current_kb: int,
               connections: int) -> Draft:
        s, a = subject.statement, subject.analysis
        counted = s.calls > 0 and s.total_ms > 0
        inputs = [StatementInput(s.query, a.params, s.params, s.total_ms or 1.0,
                                 s.mean_ms if counted else None,
                                 s.hit_ratio if counted else None)]
        value = spill.value
        risk = work_mem.risk(spill, connections)
        forward = (f"SET LOCAL work_mem = '{value}';  -- in the transaction that runs: "
                   f"{short(s.query, 80)}")
        evidence = [f"{s.temp_blks_written:,} temporary blocks written over {s.calls:,} calls "
                    f"({spill.spilled_kb_per_call / 1024:.1f} MB per call; work_mem is "
                    f"{current_kb // 1024} MB)", f"Risk: {risk}."]

        def finish(measurements: list[Measurement]) -> Proposal:
            est, meas, factors, flags = measured_factors(
                measurements, {s.query: 1.0}, change="setting")
            return Proposal(
                kind="setting", title=f"work_mem {value} for one statement (SET LOCAL)",
                objects=("work_mem",), forward=forward,
                rollback="Remove the SET LOCAL: it ends with its transaction, nothing else "
                         "changes.",
                statements=measurements, advisor=self.name,
                problem=f"Sorts or hashes spill to disk: {spill.spilled_kb_per_call / 1024:.1f}"
                        f" MB per call with work_mem {current_kb // 1024} MB",
                reasoning=(f"work_mem {value} holds the {spill.spilled_kb_per_call / 1024:.1f} "
                           "MB a call wrote to disk (four times that, as a sort or hash "
                           "takes more room in memory); measured with SET LOCAL in the "
                           "measured transaction. " + risk[0].upper() + risk[1:] + "."),
                evidence=evidence, estimated_gain=est, measured_gain=meas,
                confidence=score(factors), factors=factors, flags=flags,
                detail=SettingDetail("work_mem", value, f"{current_kb // 1024}MB", "work_mem",
                                     risk))

        return Draft(f"setting:work_mem={value}:{s.query}", SpillTrial({"work_mem": value}),
                     inputs, {}, finish)

    def checker(self, ctx: Context) -> SettingsChecker:
        return SettingsChecker(ctx)


class SettingsChecker:
    """An earlier work_mem finding solves a statement that spills no more than the
    value it recommended holds (its statement counters say how much)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._current: int | None = None

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        return [self._check(p.finding, p.statement) for p in pairs]

    def _check(self, finding: Finding, statement: Any) -> Check:
        value = _value(finding.recommendation_sql)
        if value is None:
            return Check("miss", "the earlier finding names no work_mem value")
        if self._current is None:
            self._current = _settings(self.ctx.conn)[0]
        spill = work_mem.spill_of(statement, self._current)
        if spill is None:
            return Check("miss", "this statement does not spill to disk (no temporary blocks)")
        if spill.proposed_mb > value:
            return Check("miss", f"this statement needs work_mem {spill.value}, more than the "
                                 f"earlier {value}MB")
        return Check("solved", f"earlier work_mem {value}MB holds this statement's "
                               f"{spill.spilled_kb_per_call / 1024:.1f} MB per call")

    def close(self) -> None:
        pass


def _value(forward: str) -> int | None:
    """The MB of ``SET LOCAL work_mem = 'NMB'``.

    >>> _value("SET LOCAL work_mem = '32MB';  -- ..."), _value("CREATE INDEX ...")
    (32, None)
    """
    marker = "work_mem = '"
    start = forward.find(marker)
    if start < 0:
        return None
    text = forward[start + len(marker):].split("'", 1)[0]
    return int(text[:-2]) if text.endswith("MB") and text[:-2].isdigit() else None
