"""The settings advisor: each rule reads the evidence of one setting and proposes a
change, tried inside the measured transaction wherever it can be.

Rules (``rules/``, one per setting):

- ``work_mem``: a statement whose sorts or hashes spill to disk
  (temporary blocks in pg_stat_statements) gets the work_mem that keeps them in
  memory, for that statement only, with the memory it would risk for every session.
- ``statistics``: a statement whose measured plan misestimates rows ten times or
  more on columns of one table gets ``CREATE STATISTICS`` (two columns or more) or a
  higher statistics target (one), made and analysed in the measured transaction.
- ``random_page_cost``: 1.1 on SSD (the storage shown, never guessed), tried with
  ``SET LOCAL`` on the statements whose plan it changes; none may get slower.
- ``memory``: shared_buffers against the hit ratio and the machine's memory (from
  the evidence only: it needs a restart), effective_cache_size left at its default
  on a machine with much more (tried with ``SET LOCAL``).

Server-wide advice says how to change the setting where the server runs
(:mod:`pgarchitect.advisors.settings.managed`: RDS, Cloud SQL, Azure, Supabase,
Neon, or ``ALTER SYSTEM``). A statement without evidence gets no outcome from this
advisor (the other advisors' reasons stand).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from pgarchitect.advisors.base import Context, Draft, Outcome, Proposals, Subject
from pgarchitect.advisors.settings import estimates, machine, managed
from pgarchitect.advisors.settings.model import SettingDetail, current
from pgarchitect.advisors.settings.rules import memory, random_page_cost, statistics, work_mem
from pgarchitect.confidence import measured_factors, score
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


def _settings(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """work_mem (kB) and max_connections."""
    rows = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                             "('work_mem', 'max_connections')").fetchall())
    return int(rows["work_mem"]), int(rows["max_connections"])


class SettingsAdvisor:
    """Settings, evidence first: work_mem for statements that spill, statistics for
    misestimates, random_page_cost on SSD, memory against the hit ratio."""

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
        notes: list[str] = []
        if ctx.verify:  # misestimates show only in measured plans
            found, seen = estimates.propose(ctx, subjects, self.name)
            drafts.extend(found)
            for query, outcome in seen.items():
                outcomes.setdefault(query, outcome)
        else:
            notes.append("statistics: not looked for (verification is off; misestimates "
                         "show only in measured plans)")
        service = managed.detect(ctx.conn)
        settings = current(ctx.conn)
        storage = machine.storage(ctx.conn, ctx.config, service)
        more, said = random_page_cost.propose(ctx, subjects, settings["random_page_cost"],
                                              storage, service, self.name)
        drafts.extend(more)
        notes.extend(said)
        ram = machine.memory(ctx.conn, ctx.config)
        more, said = memory.propose(ctx, subjects, settings, ram, service, self.name)
        drafts.extend(more)
        notes.extend(said)
        return Proposals(self.name, drafts, outcomes, notes,
                         info={"work_mem_kb": current_kb, "max_connections": connections,
                               "service": service.name, "service_sign": service.sign,
                               "storage": storage.value, "storage_how": storage.how,
                               "memory_mb": ram.value, "memory_how": ram.how})

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
    """The replay of earlier settings findings on new statements.

    - work_mem: solved when the statement spills no more than the value holds (its
      counters say how much);
    - statistics: solved when the statement's estimate on those columns is wrong
      without them and right with them (measured, rolled back);
    - a server-wide setting: ``applied`` when the server has the value now (the
      statement is measured as it is), else a miss: such a setting is judged on the
      server's evidence, not replayed on one statement.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._current: int | None = None

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        return [self._check(p) for p in pairs]

    def _check(self, pair: Pair) -> Check:
        finding, statement = pair.finding, pair.statement
        fix = statistics.parse(finding.recommendation_sql)
        if fix is not None:
            return estimates.replay(self.ctx, fix, Subject(statement, pair.analysis))
        server = _server_setting(finding.recommendation_sql)
        if server is not None:
            return self._server(*server)
        value = _value(finding.recommendation_sql)
        if value is None:
            return Check("miss", "the earlier finding names no setting this advisor knows")
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

    def _server(self, name: str, value: str) -> Check:
        row = self.ctx.conn.execute(
            "SELECT current_setting(%s) = %s OR setting = %s FROM pg_settings WHERE name = %s",
            [name, value, value, name]).fetchone()
        if row is not None and row[0]:
            return Check("applied", f"the server has {name} = {value} now")
        return Check("miss", f"{name} = {value} is a server-wide setting, judged on the "
                             "server's evidence, not replayed on one statement")

    def close(self) -> None:
        pass


# "ALTER SYSTEM SET name = 'value'" or a managed service's "set name = value in ..."
_SERVER_SETTING = re.compile(r"\bset (\w+) = '?([\w.]+)'?", re.IGNORECASE)


def _server_setting(forward: str) -> tuple[str, str] | None:
    """The setting and value of a server-wide proposal's forward text.

    >>> _server_setting("ALTER SYSTEM SET random_page_cost = '1.1'; SELECT pg_reload_conf();")
    ('random_page_cost', '1.1')
    >>> _server_setting("On Neon, set effective_cache_size = 48GB in ...")
    ('effective_cache_size', '48GB')
    >>> _server_setting("SET LOCAL work_mem = '64MB'") is None
    True
    """
    if "SET LOCAL" in forward.upper():
        return None
    m = _SERVER_SETTING.search(forward)
    return (m.group(1), m.group(2)) if m else None


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
