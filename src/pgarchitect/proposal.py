"""The one record every advisor returns: a :class:`Proposal`, whatever the kind of fix.

Everything after the advisors (measurement, confidence, the knowledge base, the
report, delivery) and every front end knows only this record. What is particular
to a kind (an index's size and write overhead, a rewrite's result check) hangs
off ``detail``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

KINDS = ("index", "rewrite", "partition", "cache", "setting", "hygiene")

# The team's confidence table (RUNBOOK step 7): what happens to a proposal.
ACTIONS = (
    (90.0, "pr_merge", "PR, recommend immediate merge"),
    (80.0, "pr_review", "PR, request review"),
    (60.0, "log", "log, no PR"),
    (0.0, "investigate", "log, flag for manual investigation"),
)
ACTION_NAMES = tuple(name for _, name, _ in ACTIONS)
REJECTED = "rejected"  # measured, but under min_gain_pct: stored, never delivered

# Below a millisecond, timer and scheduling noise is all there is to see: on a
# shared machine an index scan of a few rows takes 0.2 ms one run and 0.4 ms the
# next, which says nothing about an index that took the statement from 12 ms there.
NOISE_FLOOR_MS = 1.0


def action_for(confidence: float) -> str:
    """The runbook's action for a confidence (0 to 100).

    >>> [action_for(c) for c in (95, 90, 85.5, 79.9, 60, 12)]
    ['pr_merge', 'pr_merge', 'pr_review', 'log', 'log', 'investigate']
    """
    for floor, name, _ in ACTIONS:
        if confidence >= floor:
            return name
    return ACTIONS[-1][1]


def describe_action(action: str) -> str:
    """What an action means, in the runbook's words.

    >>> describe_action("pr_review")
    'PR, request review'
    """
    for _, name, text in ACTIONS:
        if name == action:
            return text
    return "kept as rejected: not proposed" if action == REJECTED else action


@dataclass(frozen=True)
class Factor:
    """One named factor of the confidence, 0..1, with what it was computed from."""

    name: str
    value: float
    detail: str


@dataclass(frozen=True)
class Measurement:
    """One statement under a proposal: planner cost and EXPLAIN ANALYZE time, before and after.

    ``before_ms``/``after_ms`` are the runs' execution times (the median is what counts);
    ``estimated_gain`` comes from planner costs, ``gain`` from the runs.
    """

    query: str
    values: tuple[str | None, ...] = ()  # the parameter values it was measured with
    origins: tuple[str, ...] = ()  # where each value came from (log, mcv, histogram, ...)
    before_ms: tuple[float, ...] = ()
    after_ms: tuple[float, ...] = ()
    uses_change: bool = False  # the plan after shows the change (the index is scanned, ...)
    estimated_gain: float | None = None  # from planner costs, 0..1
    reason: str | None = None  # why it was not measured
    cost_before: float | None = None
    cost_after: float | None = None
    after_query: str | None = None  # what ran after, when the change replaces the statement
    parameter_sets: int = 1  # different parameter sets it ran with
    runs_per_set: int = 0  # timed runs of each set (0: all runs are one set)
    # Is the measurement like the workload? The mean and hit ratio of every run before
    # the change (the sets' cold first runs included), and the workload's own.
    measured_mean_ms: float | None = None
    measured_hit_ratio: float | None = None
    workload_mean_ms: float | None = None
    workload_hit_ratio: float | None = None

    @property
    def measured(self) -> bool:
        return bool(self.before_ms and self.after_ms)

    @property
    def median_before(self) -> float | None:
        return statistics.median(self.before_ms) if self.before_ms else None

    @property
    def median_after(self) -> float | None:
        return statistics.median(self.after_ms) if self.after_ms else None

    @property
    def gain(self) -> float | None:
        """Measured relative gain, 0..1 (negative when slower)."""
        if not self.measured or not self.median_before:
            return None
        assert self.median_after is not None
        return 1.0 - self.median_after / self.median_before

    @property
    def spread(self) -> float:
        """Coefficient of variation of the runs after the change (0 = perfectly stable):
        computed within each parameter set (sets differ by design, that is not noise),
        the median over the sets (one noisy set on a shared machine is not instability).

        Below a millisecond, timer and scheduling noise is all there is to see: such
        runs count as stable.
        """
        size = self.runs_per_set or len(self.after_ms)
        spreads = []
        for start in range(0, len(self.after_ms), max(size, 1)):
            runs = self.after_ms[start:start + size]
            mean = statistics.fmean(runs) if runs else 0.0
            spreads.append(statistics.pstdev(runs) / mean
                           if len(runs) >= 2 and mean >= NOISE_FLOOR_MS else 0.0)
        return statistics.median(spreads) if spreads else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query, "values": list(self.values), "origins": list(self.origins),
            "cost_before": self.cost_before, "cost_after": self.cost_after,
            "estimated_gain": self.estimated_gain, "before_ms": list(self.before_ms),
            "after_ms": list(self.after_ms), "median_before_ms": self.median_before,
            "median_after_ms": self.median_after, "measured_gain": self.gain,
            "uses_change": self.uses_change, "reason": self.reason,
            "after_query": self.after_query, "parameter_sets": self.parameter_sets,
            "runs_per_set": self.runs_per_set, "measured_mean_ms": self.measured_mean_ms,
            "measured_hit_ratio": self.measured_hit_ratio,
            "workload_mean_ms": self.workload_mean_ms,
            "workload_hit_ratio": self.workload_hit_ratio,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Measurement:
        return cls(
            doc["query"], tuple(doc.get("values") or ()), tuple(doc.get("origins") or ()),
            tuple(doc.get("before_ms") or ()), tuple(doc.get("after_ms") or ()),
            bool(doc.get("uses_change")), doc.get("estimated_gain"), doc.get("reason"),
            doc.get("cost_before"), doc.get("cost_after"), doc.get("after_query"),
            doc.get("parameter_sets", 1), doc.get("runs_per_set", 0),
            doc.get("measured_mean_ms"), doc.get("measured_hit_ratio"),
            doc.get("workload_mean_ms"), doc.get("workload_hit_ratio"))


class Detail(Protocol):
    """Evidence particular to one kind of proposal (an index's size, a rewrite's check)."""

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class Proposal:
    """One fix of any kind, with its evidence, its confidence and the action it earns."""

    kind: str  # one of KINDS
    title: str  # one line: "index on public.orders (customer_id)"
    objects: tuple[str, ...]  # what it touches: tables, indexes, settings
    forward: str  # the change: SQL, or a description of a code change
    rollback: str  # how to undo it
    statements: list[Measurement]  # the statements it helps, before and after
    reasoning: str
    advisor: str = ""  # the advisor that proposed it
    problem: str = ""  # what is wrong, in a sentence ("Leading-wildcard LIKE on ...")
    evidence: list[str] = field(default_factory=list)
    new_statement: str | None = None  # rewrites and caching: the statement to run instead
    estimated_gain: float | None = None  # weighted over its statements, 0..1
    measured_gain: float | None = None
    confidence: float = 0.0  # 0..100
    factors: list[Factor] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    rejected: str | None = None  # why it was kept as rejected rather than proposed
    detail: Detail | None = None
    # False: made for growth, retention or upkeep, not speed (partitioning): its
    # statements are measured to show it does not slow them, and min_gain_pct does
    # not apply to it.
    speed_claim: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def action(self) -> str:
        """The runbook's action, or ``rejected``."""
        return REJECTED if self.rejected else action_for(self.confidence)

    @property
    def queries(self) -> tuple[str, ...]:
        return tuple(m.query for m in self.statements)

    def helps(self, query: str) -> bool:
        return any(m.query == query for m in self.statements)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "title": self.title, "advisor": self.advisor,
            "objects": list(self.objects), "forward": self.forward, "rollback": self.rollback,
            "new_statement": self.new_statement, "problem": self.problem,
            "reasoning": self.reasoning,
            "evidence": list(self.evidence), "estimated_gain": self.estimated_gain,
            "measured_gain": self.measured_gain, "confidence": self.confidence,
            "action": self.action, "action_text": describe_action(self.action),
            "rejected": self.rejected, "speed_claim": self.speed_claim,
            "factors": [{"name": f.name, "value": f.value, "detail": f.detail}
                        for f in self.factors],
            "flags": list(self.flags),
            "statements": [m.to_json() for m in self.statements],
            "detail": self.detail.to_json() if self.detail is not None else None,
        }


def weighted_gain(measurements: Sequence[Measurement], weights: dict[str, float],
                  *, measured: bool) -> float | None:
    """Gain over the statements a proposal helps, weighted by their share of the benefit.

    >>> ms = [Measurement("a", before_ms=(10.0,), after_ms=(5.0,), estimated_gain=0.6),
    ...       Measurement("b", before_ms=(10.0,), after_ms=(9.0,), estimated_gain=0.2)]
    >>> round(weighted_gain(ms, {"a": 3.0, "b": 1.0}, measured=True), 3)
    0.4
    >>> round(weighted_gain(ms, {"a": 3.0, "b": 1.0}, measured=False), 3)
    0.5
    """
    pairs: list[tuple[float, float]] = []
    for m in measurements:
        gain = m.gain if measured else m.estimated_gain
        if gain is not None:
            pairs.append((gain, weights.get(m.query, 1.0)))
    total = sum(w for _, w in pairs)
    return sum(g * w for g, w in pairs) / total if total else None
