"""The records candidate generation hands to what-if and selection."""

from __future__ import annotations

from dataclasses import dataclass

from pgarchitect.catalog.index import IndexDef


@dataclass(frozen=True)
class Candidate:
    """An index that could help, the rule that proposed it, and what for.

    ``statements`` are the query texts (as analysed) the index is meant for;
    ``requires`` the extensions it needs (``("pg_trgm",)`` for a trigram index);
    ``foreign_key`` names a foreign key of the table that has no index yet and that
    this one would serve (those come first in a :class:`CandidateSet`).
    """

    index: IndexDef
    rule: str
    reason: str  # one line: "equality on userId then range on timestamp"
    statements: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    foreign_key: str | None = None

    def __str__(self) -> str:
        return str(self.index)


@dataclass(frozen=True)
class Skip:
    """Why a statement got no candidate, or why a candidate was left out."""

    reason: str
    statements: tuple[str, ...] = ()
    code: str = "no_candidate"  # one of pgarchitect.advisors.base.REASONS


@dataclass(frozen=True)
class CandidateSet:
    """Candidates for a workload, each once, and the reasons for what was left out."""

    candidates: tuple[Candidate, ...] = ()
    skipped: tuple[Skip, ...] = ()

    def for_statement(self, query: str) -> tuple[Candidate, ...]:
        """The candidates meant for one statement."""
        return tuple(c for c in self.candidates if query in c.statements)

    def codes_for(self, query: str) -> tuple[str, ...]:
        """The reason codes given for one statement."""
        return tuple(s.code for s in self.skipped if query in s.statements)

    def skipped_for(self, query: str) -> tuple[str, ...]:
        """The reasons given for one statement."""
        return tuple(s.reason for s in self.skipped if query in s.statements)
