"""The partition advisor: range partitioning by time for large, append-mostly tables.

For each table the audit's statements read, :mod:`.detect` decides whether it is a
candidate (filtered by a date or timestamp column, append-mostly, over the row or
size threshold now or within the horizon at its growth). A candidate gets one
draft: the interval (:mod:`.interval`), the migration and its rollback
(:mod:`.migration`), and a :class:`~.trial.PartitionTrial` that measures its
statements on a plain and a partitioned copy of the rows, showing how many
partitions each reads. Statements that do not benefit get an outcome with why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from pgarchitect.advisors.base import Context, Draft, Outcome, Proposals, Subject
from pgarchitect.advisors.partition.detect import Candidate, NotCandidate, candidate
from pgarchitect.advisors.partition.interval import (
    DAYS_PER_MONTH,
    Bound,
    Choice,
    bounds,
    choose_interval,
)
from pgarchitect.advisors.partition.migration import Layout, forward, rollback
from pgarchitect.advisors.partition.replay import PartitionChecker
from pgarchitect.advisors.partition.trial import PartitionTrial, Pruning
from pgarchitect.confidence import interpolate, measured_factors, score
from pgarchitect.measure import StatementInput
from pgarchitect.proposal import NOISE_FLOOR_MS, Factor, Measurement, Proposal
from pgarchitect.report import short

TABLE_KINDS: Final = ("table", "partitioned table", "partition")

# Sequences a table owns: a serial's (deptype 'a') and an identity's ('i').
SEQUENCES_SQL: Final = """\
SELECT a.attname, sn.nspname, s.relname, d.deptype = 'i'
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i')
  AND d.refobjid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = %s AND c.relname = %s)
ORDER BY a.attnum"""

# The table's own foreign keys, as the server prints them (LIKE does not copy them).
FOREIGN_KEYS_SQL: Final = """\
SELECT con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'f' AND n.nspname = %s AND c.relname = %s
ORDER BY con.conname"""

GROWTH_FACTOR: Final = 0.9  # proposed ahead of the threshold: less urgent, not less right
REFERENCED_FACTOR: Final = 0.8  # other tables' foreign keys must change with the key
# Measured gains that do not count for partitioning, and how a slower statement counts.
SPEED_FACTORS: Final = ("measured gain", "time saved per call")
NOT_SLOWER: Final = ((-0.2, 0.0), (-0.1, 0.5), (0.0, 1.0))


@dataclass(frozen=True)
class PartitionDetail:
    """A partition proposal's particulars."""

    table: str
    key: str
    interval: str
    interval_why: str
    partitions: int
    rows: float
    rows_per_month: float
    growth_source: str
    crosses_in_months: float
    threshold: str
    share: float
    sample: str
    pruning: dict[str, list[int]]  # query -> [partitions read at most, partitions]

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "interval": self.interval,
                "interval_why": self.interval_why, "partitions": self.partitions,
                "rows": self.rows, "rows_per_month": self.rows_per_month,
                "growth_source": self.growth_source,
                "crosses_in_months": self.crosses_in_months, "threshold": self.threshold,
                "share": self.share, "sample": self.sample, "pruning": self.pruning}


class PartitionAdvisor:
    """Range partitioning by time, measured on copies of the rows."""

    name = "partition"
    kind = "partition"

    def checker(self, ctx: Context) -> PartitionChecker:
        return PartitionChecker(ctx)

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        outcomes: dict[str, Outcome] = {}
        by_table: dict[tuple[str, str], list[Subject]] = {}
        for subject in subjects:
            a = subject.analysis
            if a.error:
                outcomes[subject.query] = Outcome(subject.query, reason=a.error,
                                                  code="unparseable")
                continue
            for rel in a.relations:
                if rel.kind in TABLE_KINDS:
                    key = _parent(rel.partition_of) or (rel.schema, rel.name)
                    by_table.setdefault(key, []).append(subject)
        infos = ctx.catalog.tables(by_table)
        verdicts: dict[tuple[str, str], Candidate | NotCandidate] = {
            key: candidate(ctx, infos[key], subs) if key in infos
            else NotCandidate(f"{key[0]}.{key[1]} is not in the catalog", "no_table")
            for key, subs in by_table.items()}
        drafts = [self._draft(ctx, c) for c in verdicts.values() if isinstance(c, Candidate)]
        helped = {s.query for c in verdicts.values() if isinstance(c, Candidate)
                  for s in c.filtered}
        for subject in subjects:
            if subject.query in outcomes:
                continue
            if subject.query in helped:
                outcomes[subject.query] = Outcome(subject.query)
                continue
            outcomes[subject.query] = _outcome(subject, verdicts)
        settings = ("partition_min_rows", "partition_min_mb", "partition_min_share",
                    "partition_horizon_months", "partition_retention_months",
                    "partition_sample_mb")
        return Proposals(self.name, drafts, outcomes,
                         [f"Tables are partitioned from {ctx.config['partition_min_rows']:,} "
                          f"rows or {ctx.config['partition_min_mb']:,} MB, now or within "
                          f"{ctx.config['partition_horizon_months']} months at their growth."],
                         {name: ctx.config[name] for name in settings})

    def _draft(self, ctx: Context, c: Candidate) -> Draft:
        t = c.table
        rows = t.rows or 0.0
        choice = choose_interval(c.growth.per_month, c.windows)
        today = date.today()
        first = c.growth.first or today
        last = max(c.growth.last or today, today)
        layout = _layout(ctx, c, choice, bounds(first, last, choice.interval), today)
        sample_mb = ctx.config.get_int("partition_sample_mb")
        size_mb = t.heap_bytes / 2**20
        pct = None if size_mb <= sample_mb else max(0.01, round(100 * sample_mb / size_mb, 2))
        originals = tuple(i.sql for i in t.indexes if i.sql and i.valid)
        trial = PartitionTrial(layout, originals, pct, ctx.catalog.relations)
        weights: dict[str, float] = {}
        inputs = []
        for s in c.filtered:
            st = s.statement
            counted = st.calls > 0 and st.total_ms > 0
            weights[st.query] = st.total_ms if counted else 1.0
            inputs.append(StatementInput(st.query, s.analysis.params, st.params,
                                         weights[st.query], st.mean_ms if counted else None,
                                         st.hit_ratio if counted else None))
        fwd, back = forward(layout), rollback(layout)
        title = f"partition {t.qualified} by {c.key}, one partition a {choice.interval}"
        ahead = c.crosses_in > 0
        problem = (f"{t.qualified} ({rows:,.0f} rows, {t.total_bytes / 2**20:,.0f} MB) is "
                   f"read by time: {c.share:.0%} of its statements' time filters {c.key}"
                   + (f", and it will cross {c.threshold} in about {c.crosses_in:.0f} months "
                      f"at {c.growth.per_month:,.0f} rows a month (before it crosses)"
                      if ahead else f", over {c.threshold}"))

        def finish(measurements: list[Measurement]) -> Proposal:
            est, meas, factors, flags = measured_factors(_steady(measurements), weights,
                                                         change="partitioning")
            # Made for growth and retention, not speed: what counts of the measurement is
            # that the statements are not slower, not how much faster they are.
            factors = [f for f in factors if f.name not in SPEED_FACTORS]
            if meas is not None:
                factors.append(Factor("statements not slower", interpolate(meas, NOT_SLOWER),
                                      f"{meas:+.0%} on the copies (growth, not speed, is "
                                      "the reason)"))
            pruning = {q: _worst(p) for q, p in trial.seen.items() if p}
            evidence = [f"{c.key}: {choice.interval}ly partitions, {len(layout.bounds)} and a "
                        f"DEFAULT one; {choice.why}",
                        f"growth: about {c.growth.per_month:,.0f} rows a month "
                        f"({c.growth.source})",
                        f"append-mostly: {c.churn}",
                        f"measured on {trial.describe()}, copied twice (plain and "
                        "partitioned) in a rolled-back transaction"]
            for m in measurements:
                read = pruning.get(m.query)
                where = (f"reads {read.scanned} of {read.total} partitions" if read
                         else f"not measured ({m.reason})")
                evidence.append(f"{short(m.query, 80)}: {where}")
            if ahead:
                factors.append(Factor("before it crosses", GROWTH_FACTOR,
                                      f"{rows:,.0f} rows now; crosses {c.threshold} in "
                                      f"about {c.crosses_in:.0f} months"))
            if t.referenced_by:
                refs = ", ".join(sorted({f"{fk.table[0]}.{fk.table[1]}"
                                         for fk in t.referenced_by}))
                factors.append(Factor("foreign keys to it", REFERENCED_FACTOR,
                                      f"{refs} reference it: their keys must include "
                                      f"{c.key}"))
                flags.append(f"Foreign keys of {refs} reference {t.qualified}: they must "
                             f"reference ({', '.join(layout.primary_key)}, {c.key}) after "
                             "the migration")
            gain = meas if meas is not None else est
            shown = ("not measured" if gain is None else f"{gain:.0%} faster" if gain >= 0
                      else f"{-gain:.0%} slower")
            return Proposal(
                kind="partition", title=title, advisor=self.name,
                objects=(t.qualified, f"{t.qualified}.{c.key}"),
                forward=fwd, rollback=back, statements=measurements,
                reasoning=(f"Partitioning {t.qualified} by {c.key} ({choice.interval}ly: "
                           f"{choice.why}) lets the statements that filter it by time read "
                           f"only the partitions in their range ({shown} on the copies), "
                           "and makes retention a DETACH and DROP instead of a DELETE. The "
                           "migration copies the rows in batches while the application "
                           "runs and swaps the tables in one short ACCESS EXCLUSIVE "
                           "transaction; the old table is kept until the team drops it. "
                           "New partitions must be created ahead (pg_partman or a "
                           "scheduled job)."),
                problem=problem, evidence=evidence, estimated_gain=est,
                measured_gain=meas, confidence=score(factors), factors=factors,
                flags=flags, speed_claim=False,
                detail=PartitionDetail(
                    t.qualified, c.key, choice.interval, choice.why, len(layout.bounds) + 1,
                    rows, c.growth.per_month, c.growth.source, round(c.crosses_in, 1),
                    c.threshold, round(c.share, 4), trial.describe(),
                    {q: [p.scanned, p.total] for q, p in pruning.items()}))

        return Draft(f"partition:{t.qualified}:{c.key}:{choice.interval}", trial, inputs, {},
                     finish)


def _steady(measurements: list[Measurement]) -> list[Measurement]:
    """The measurements as "not slower" reads them: a statement under NOISE_FLOOR_MS
    before and after is unchanged (0.06 → 0.12 ms is the timer's noise, not 100%
    slower, and would weigh as much as a statement's whole time)."""
    return [replace(m, after_ms=m.before_ms)
            if m.measured and max(m.median_before or 0.0, m.median_after or 0.0) < NOISE_FLOOR_MS
            else m for m in measurements]


def _worst(seen: list[Pruning]) -> Pruning:
    return max(seen, key=lambda p: p.scanned)


def _parent(partition_of: str | None) -> tuple[str, str] | None:
    if partition_of is None:
        return None
    schema, _, table = partition_of.partition(".")
    return (schema, table)


def _layout(ctx: Context, c: Candidate, choice: Choice, parts: list[Bound], today: date
            ) -> Layout:
    t = c.table
    pk = next((i.index.columns for i in t.indexes if i.constraint == "primary key"), ())
    others = tuple(i.sql for i in t.indexes
                   if i.sql and i.valid and i.constraint != "primary key")
    sequences = ctx.conn.execute(SEQUENCES_SQL, [t.schema, t.name]).fetchall()
    fks = ctx.conn.execute(FOREIGN_KEYS_SQL, [t.schema, t.name]).fetchall()
    retention = ctx.config["partition_retention_months"]
    return Layout(
        t.schema, t.name, c.key, c.key_type, choice.interval, tuple(parts), tuple(pk), others,
        tuple((str(n), str(d)) for n, d in fks),
        tuple((str(col), str(s), str(seq)) for col, s, seq, ident in sequences if not ident),
        tuple(str(col) for col, _, _, ident in sequences if ident),
        c.growth.per_month / DAYS_PER_MONTH,
        int(retention) if isinstance(retention, int) else None, today)


def _outcome(subject: Subject, verdicts: dict[tuple[str, str], Candidate | NotCandidate]
             ) -> Outcome:
    """Why a statement gets nothing: its tables' verdicts, the most telling first."""
    query = subject.query
    mine = [(key, v) for key, v in verdicts.items()
            if any(_parent(r.partition_of) == key or (r.schema, r.name) == key
                   for r in subject.analysis.relations)]
    for _key, v in mine:
        if isinstance(v, Candidate):
            what = subject.analysis.kind
            reason = (f"{v.table.qualified} is proposed for partitioning by {v.key}, but this "
                      f"statement does not filter {v.key}"
                      + (f" (an {what.upper()} is routed to its partition)"
                         if what == "insert" else "")
                      + ": it would read every partition")
            return Outcome(query, reason=f"No partitioning: {reason}", code="no_gain")
    order = ("not_supported", "no_table", "no_candidate")
    found = sorted((v for _, v in mine if isinstance(v, NotCandidate)),
                   key=lambda v: order.index(v.code) if v.code in order else len(order))
    if not found:
        return Outcome(query, reason="No partitioning: the statement reads no table",
                       code="no_candidate")
    reason = "; ".join(dict.fromkeys(v.reason for v in found))
    return Outcome(query, reason=f"No partitioning: {reason}", code=found[0].code)

