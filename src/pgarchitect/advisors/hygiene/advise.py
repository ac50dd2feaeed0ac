"""The hygiene advisor: indexes that cost without serving, foreign keys without one,
bloat, updates that are not HOT, vacuum that lags, and transaction-ID wraparound.

Its findings are about the schema, not about a statement: a drop or a rebuild cannot
be measured on the workload's statements, so its :class:`Draft` has a trial that
changes nothing and no inputs, and its confidence comes from the evidence (how long
the statistics counted, the size, what enforces what). Its estimated gain is the
share of each write's work the drop saves on its table (0 on a table without
writes). An index for a foreign key is measured for real, like the index advisor's,
on the statements that join on it and on the lookup each delete on the referenced
table runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pgarchitect.advisors.base import Context, Draft, Proposals, Subject
from pgarchitect.advisors.hygiene import exclusions
from pgarchitect.advisors.hygiene.model import Finding, HygieneDetail, Limits, size
from pgarchitect.advisors.hygiene.rules import (
    bloat,
    duplicate,
    fk_missing,
    hot_updates,
    invalid,
    unused,
    vacuum,
    wraparound,
)
from pgarchitect.advisors.hygiene.snapshot import read_snapshot
from pgarchitect.confidence import interpolate, score
from pgarchitect.knowledge.replay import Check, Pair
from pgarchitect.measure import BaseTrial
from pgarchitect.proposal import Factor, Measurement, Proposal

# A drop is undone only by building the index again: it always gets a person's review.
REVIEWED_DROP = 0.88
DAYS_POINTS = ((7.0, 0.8), (30.0, 1.0))  # how long the statistics counted
SIZE_POINTS = ((float(2**20), 0.85), (float(100 * 2**20), 1.0))
REPLICAS = 0.7  # standbys' scans are not counted on the primary
EXPRESSION = 0.8  # its expression statistics may serve the planner's estimates
LONE_FK_COVER = 0.6  # the only index of a foreign key
PREFIX = 0.95  # the longer index serves it, reading a little more
SCANNED = 0.9  # a used duplicate: its scans move to the other one
UNCHECKED = 0.8  # an invalid unique index whose values could not be checked
REBUILD = 0.9  # a rebuild reads the whole table again
# Rules in order of precedence: an index gets one finding, the first rule's.
ORDER = exclusions.RULES
# Rules about a table as a whole: each may have its own finding on the same table.
TABLE_RULES = ("vacuum", "wraparound")


class NoChange(BaseTrial):
    """The trial of a finding that no statement can measure: it changes nothing."""


@dataclass
class HygieneChecker:
    """Earlier hygiene findings solve no statement: they are about the schema."""

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        return [Check("miss", "hygiene findings are about the schema, not a statement")
                for _ in pairs]

    def close(self) -> None:
        return None


def resolve(findings: Sequence[Finding], exclusions: Sequence[str] = ()) -> list[Finding]:
    """One finding per index, none excluded, and no duplicate dropped for an index that
    another finding drops (the index that stays must stay)."""
    silenced = set(exclusions)
    kept = [f for f in findings if f.id not in silenced]
    drops = {f.target for f in kept if f.forward.startswith("DROP INDEX")
             and f.rule != "duplicate"}
    kept = [f for f in kept if not (f.rule == "duplicate" and f.keeper in drops)]
    out: dict[str, Finding] = {}
    for f in sorted(kept, key=lambda f: ORDER.index(f.rule)):
        out.setdefault(f.id if f.rule in TABLE_RULES else f.target, f)
    return sorted(out.values(), key=lambda f: (ORDER.index(f.rule), f.target))


def evidence_factors(finding: Finding) -> list[Factor]:
    """The confidence of a finding measured on no statement: from its evidence."""
    facts = finding.facts
    factors = list(finding.factors)
    days = facts.get("reset_days")
    if finding.rule == "unused" and days is not None:
        factors.append(Factor("statistics window", interpolate(days, DAYS_POINTS),
                              f"scans counted for {days:.1f} days"))
        if facts.get("replicas"):
            factors.append(Factor("standbys", REPLICAS, f"{facts['replicas']} standbys: their "
                                  "scans are not counted here"))
        if facts.get("expression"):
            factors.append(Factor("expression statistics", EXPRESSION,
                                  "the planner may use its expression's statistics"))
        if facts.get("lone_fk_cover"):
            factors.append(Factor("foreign key cover", LONE_FK_COVER,
                                  f"the only index for foreign key {facts['lone_fk_cover']}"))
    if finding.rule == "duplicate":
        prefix = facts.get("how") == "prefix"
        factors.append(Factor("covered by another index", PREFIX if prefix else 1.0,
                              f"{'a prefix of' if prefix else 'identical to'} "
                              f"{finding.keeper}"))
        if facts.get("scans"):
            factors.append(Factor("in use", SCANNED, f"{facts['scans']:,} scans move to "
                                  f"{finding.keeper}"))
    if finding.rule == "invalid":
        if facts.get("action") == "reindex":
            factors.append(Factor("rebuild", REBUILD, "a rebuild reads the whole table"))
            if facts.get("duplicates") is None:
                factors.append(Factor("values unchecked", UNCHECKED, "whether the rebuild "
                                      "can succeed was not checked"))
        else:
            factors.append(Factor("invalid index", 1.0, str(facts.get("why"))))
    if finding.rule in ("unused", "duplicate"):
        factors.append(Factor("space freed", interpolate(float(finding.bytes_freed),
                                                         SIZE_POINTS),
                              f"{size(finding.bytes_freed)} freed"))
    if finding.forward.startswith("DROP INDEX"):
        factors.append(Factor("reviewed drop", REVIEWED_DROP,
                              "undone only by building the index again"))
    return factors


def _detail(finding: Finding) -> HygieneDetail:
    return HygieneDetail(finding.rule, finding.id, finding.target, finding.table,
                         finding.bytes_freed, finding.write_share, finding.index_entries,
                         finding.keeper, dict(finding.facts))


class HygieneAdvisor:
    """Hygiene: unused, duplicate and invalid indexes, foreign keys without one, bloat,
    indexes that stop HOT updates, vacuum that lags, transaction-ID wraparound."""

    name = "hygiene"
    kind = "hygiene"

    def __init__(self, exclusions: Sequence[str] = (), limits: Limits | None = None) -> None:
        self.exclusions = tuple(exclusions)  # finding ids (rule:schema.name) to silence
        self.limits = limits  # None: the hygiene_* settings
        self.notes: list[str] = []  # of the last findings(): what could not be read
        self.silenced: tuple[str, ...] = ()  # every id silenced in the last findings()

    def checker(self, ctx: Context) -> HygieneChecker:
        return HygieneChecker()

    def limits_of(self, ctx: Context) -> Limits:
        return self.limits if self.limits is not None else Limits.from_config(ctx.config)

    def findings(self, ctx: Context, subjects: Sequence[Subject] = ()) -> list[Finding]:
        """Every rule's findings, resolved (one per index, exclusions left out)."""
        limits = self.limits_of(ctx)
        snapshot = read_snapshot(ctx.conn)
        snapshot.exact = bloat.measure_exact(ctx.conn, snapshot, limits)
        found = [*invalid.find(ctx.conn, snapshot),
                 *duplicate.find(snapshot, limits),
                 *hot_updates.find(snapshot, limits, subjects),
                 *unused.find(snapshot, limits),
                 *fk_missing.find(ctx.conn, snapshot, limits, subjects),
                 *bloat.find(snapshot, limits),
                 *vacuum.find(snapshot, limits),
                 *wraparound.find(snapshot, limits)]
        stored, note = exclusions.stored(ctx.config, ctx.conn)
        self.notes = [*snapshot.notes, *([note] if note else [])]
        self.silenced = (*self.exclusions, *exclusions.configured(ctx.config), *stored)
        return resolve(found, self.silenced)

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        findings = self.findings(ctx, subjects)
        drafts = [self._draft(ctx, f, subjects) for f in findings]
        notes = list(self.notes)
        if findings:
            notes.append(f"Hygiene: {len(findings)} findings ("
                         + ", ".join(f"{r} {sum(f.rule == r for f in findings)}" for r in ORDER
                                     if any(f.rule == r for f in findings)) + ").")
        if self.silenced:
            notes.append(f"Hygiene: {len(set(self.silenced))} finding ids excluded (the "
                         "hygiene_exclusions setting and `pgarchitect hygiene excluded`).")
        info = {"findings": [f.id for f in findings], "limits": self.limits_of(ctx)}
        # Hygiene concludes nothing about a statement: no outcomes.
        return Proposals(self.name, drafts, {}, notes, info)

    def _draft(self, ctx: Context, finding: Finding, subjects: Sequence[Subject]) -> Draft:
        if finding.create is not None:
            return fk_missing.draft(ctx, finding, subjects, self.name)
        gain: float | None = (finding.write_share if finding.write_share is not None
                and finding.index_entries > 0 else 0.0)
        if finding.rule == "invalid" and finding.facts.get("action") == "reindex":
            gain = None  # what a usable index gains shows on statements, not here

        def finish(measurements: list[Measurement]) -> Proposal:
            factors = evidence_factors(finding)
            return Proposal(
                kind="hygiene", title=finding.title, advisor=self.name,
                objects=(finding.table, finding.target), forward=finding.forward,
                rollback=finding.rollback, statements=[], reasoning=finding.reasoning,
                problem=finding.problem, evidence=list(finding.evidence),
                estimated_gain=gain, measured_gain=None, confidence=score(factors),
                factors=factors, flags=[], detail=_detail(finding))

        return Draft(f"hygiene:{finding.forward}", NoChange(), [], {}, finish)


__all__ = ["HygieneAdvisor", "HygieneChecker", "NoChange", "resolve"]
