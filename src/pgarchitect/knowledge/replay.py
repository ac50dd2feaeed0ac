"""Was this statement already solved? Replay the earlier fix on it and see.

Resemblance only finds the candidates: :func:`candidates` takes the stored cases
most like the statement (this database's first, then the rest of a shared
knowledge base; one per distinct fix), at most ``kb_candidates`` of them, each
scoring at least ``kb_threshold``. The decision is each kind's :class:`Checker`,
which its advisor provides: it applies the earlier fix to the new statement (an
index: the statement planned with the index, hypothetically or built in the
sandbox) and says what came out, as a :class:`Check`:

- ``solved``: the fix serves this statement as well as it had to serve the first
  one (an index: the planner uses it and the cost falls by ``min_savings_pct``);
- ``rejected``: the fix was tried and rejected, and it does here what it did
  there: the statement is skipped, citing why it was rejected;
- ``applied``: the fix was applied and is in the database now: the statement is
  not skipped but measured as it is (the outcome loop);
- ``miss``: not the same problem, with why (a near miss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np

from pgarchitect.analysis import Analysis
from pgarchitect.knowledge.features import Features
from pgarchitect.knowledge.kb import Case, Finding, KnowledgeBase
from pgarchitect.workload import Statement

VERDICTS: Final = ("solved", "rejected", "applied", "miss")
SKIPS: Final = ("solved", "rejected")  # the verdicts that skip the statement


@dataclass(frozen=True)
class Check:
    """What replaying one earlier fix on one statement showed."""

    verdict: str  # one of VERDICTS
    checked: str  # what was checked and what came out, in one sentence
    cost_before: float | None = None
    cost_after: float | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")


@dataclass(frozen=True)
class Pair:
    """An earlier finding to replay on a statement."""

    finding: Finding
    statement: Statement
    analysis: Analysis


class Checker(Protocol):
    """One kind's replay of earlier findings, open for one audit (an advisor provides it)."""

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        """One check per pair, in order; may batch the pairs that share a fix."""
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class Checked:
    """A retrieved case and what its replay showed."""

    case: Case
    check: Check

    @property
    def skips(self) -> bool:
        return self.check.verdict in SKIPS

    def citation(self) -> str:
        """One line for a skipped statement: the finding, its fix, and what was checked."""
        f = self.case.finding
        head = ("Tried before and rejected" if self.check.verdict == "rejected"
                else "Solved before")
        why = ""
        if self.check.verdict == "rejected":
            why = f" ({f.status_note or _rejection(f.reasoning) or 'no reason recorded'})"
        return (f"{head}: finding {f.short_id} of {_when(f)} ({f.kind}, {f.status}, "
                f"{_gain(f)}){why}: {f.recommendation_sql or f.description}. "
                f"Checked: {self.check.checked}")

    def line(self) -> str:
        """One line for any checked case: finding, score, verdict and what was checked."""
        f = self.case.finding
        return (f"finding {f.short_id} ({f.kind}, {f.status}, match {self.case.score:.2f}): "
                f"{self.check.verdict}: {self.check.checked}")

    def to_json(self) -> dict[str, object]:
        f = self.case.finding
        return {"finding": f.id, "kind": f.kind, "status": f.status, "database": f.database,
                "score": round(self.case.score, 4), "reasons": list(self.case.reasons),
                "verdict": self.check.verdict, "checked": self.check.checked,
                "cost_before": self.check.cost_before, "cost_after": self.check.cost_after}


def _when(f: Finding) -> str:
    return f.created_at.date().isoformat() if f.created_at else "earlier"


def _gain(f: Finding) -> str:
    if f.applied_gain_pct is not None:
        return f"measured {f.applied_gain_pct:.0f}% after it was applied"
    if f.measured_gain_pct is not None:
        return f"measured {f.measured_gain_pct:.0f}%"
    if f.estimated_gain_pct is not None:
        return f"estimated {f.estimated_gain_pct:.0f}%"
    return "no gain recorded"


def _rejection(reasoning: str) -> str:
    """The reason an audit recorded for a rejected proposal ("… Rejected: why")."""
    _, found, why = reasoning.rpartition("Rejected: ")
    return why.strip().rstrip(".") if found else ""


def candidates(kb: KnowledgeBase, statement: str, features: Features, *,
               embedding: np.ndarray, database: str, limit: int,
               floor: float) -> list[Case]:
    """The cases to replay on a statement: at most ``limit``, scoring ``floor`` or more.

    This database's cases come first; the rest of a shared knowledge base fills the
    places left (a fix learned on one database is checked on the others). A fix
    recorded by several statements or databases is replayed once, for its best case.
    """
    own = kb.similar(statement, features, limit=limit, embedding=embedding,
                     database=database)
    cases = [c for c in own if c.score >= floor]
    if len(cases) < limit:
        rest = kb.similar(statement, features, limit=limit * 4, embedding=embedding)
        cases += [c for c in rest if c.score >= floor and c.finding.database != database]
    out: list[Case] = []
    fixes: set[tuple[str, str]] = set()
    for c in cases:
        fix = (c.finding.kind, " ".join(c.finding.recommendation_sql.split()))
        if fix not in fixes:
            fixes.add(fix)
            out.append(c)
    return out[:limit]


def decide(checked: Sequence[Checked]) -> Checked | None:
    """The case that answers the statement: the first that solves it, else the first
    rejected fix that applies the same way; None when every case is a miss."""
    return (next((c for c in checked if c.check.verdict == "solved"), None)
            or next((c for c in checked if c.check.verdict == "rejected"), None))


def no_checker(kind: str) -> Check:
    return Check("miss", f"no check for findings of kind {kind}: the statement is audited")
