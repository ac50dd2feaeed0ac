"""What an advisor is: it reads statements and proposes changes, each with its trial.

An advisor never measures: it returns :class:`Draft` proposals, each with the
:class:`pgarchitect.measure.Trial` that makes its change inside a rolled-back
transaction and a ``finish`` that turns the measurements into the final
:class:`Proposal` (confidence and all). The caller (``pgarchitect advise`` or the
audit) measures the drafts one by one, so the audit can store each as soon as it
is measured and a resumed run can skip those it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.replay import Checker
from pgarchitect.measure import StatementInput, Trial, measure
from pgarchitect.proposal import Measurement, Proposal
from pgarchitect.settings import Config
from pgarchitect.workload import Statement

# Why a statement got nothing, as codes a front end can count without reading prose.
REASONS = (
    "unparseable",       # the statement could not be parsed
    "not_plannable",     # the planner could not plan it
    "low_cost",          # cheaper than min_cost
    "low_savings",       # nothing cut its cost by min_savings_pct
    "covered",           # an existing index already serves it
    "invalid_index",     # an invalid index would serve it: rebuild that one
    "no_table",          # a table it names is not in the database
    "no_gain",           # nothing the advisor could do lowers its cost
    "write_overhead",    # a change would cost the table's writes more than it saves
    "no_candidate",      # no rule had anything to propose
    "not_chosen",        # an index would help it, but others did more within the budget
    "not_supported",     # a kind of statement the advisor does not handle
    "locked",            # another session held a lock on its table past lock_timeout
    "timeout",           # planning or building ran past statement_timeout
    "no_privilege",      # the role may not do what is needed (building an index: ownership)
    "too_large",         # its table is above sandbox_max_table_mb: nothing was built
    "not_equivalent",    # a rewrite would not return the same rows (a NULL, a time zone,
                         # or seen on the data)
)

# SQLSTATEs that say the answer was not found, rather than that there is none.
SQLSTATE_REASONS = {
    "55P03": "locked",        # lock_not_available
    "57014": "timeout",       # query_canceled
    "42501": "no_privilege",  # insufficient_privilege
}


@dataclass(frozen=True)
class Skip:
    """Why a rule leaves a statement alone, in words and as a reason code."""

    reason: str
    code: str = "no_candidate"  # one of REASONS


def reason_code(sqlstate: str | None, code: str | None = None) -> str | None:
    """The reason code of a refusal: its own code, else its SQLSTATE's, else None.

    >>> reason_code("55P03"), reason_code(None, "too_large"), reason_code("23505")
    ('locked', 'too_large', None)
    """
    return code or SQLSTATE_REASONS.get(sqlstate or "")


@dataclass(frozen=True)
class Subject:
    """A statement as the advisors see it: its counters and its analysis."""

    statement: Statement
    analysis: Analysis

    @property
    def query(self) -> str:
        return self.statement.query


@dataclass
class Context:
    """What an advisor may use: the target, the settings, the catalog and the run's options."""

    conn: psycopg.Connection[Any]
    config: Config
    catalog: DatabaseCatalog
    verify: bool = True  # measure with EXPLAIN ANALYZE (else estimates only)
    runs: int = 3  # EXPLAIN ANALYZE runs before and after (median)
    allow_writes: bool = False  # measure INSERT/UPDATE/DELETE too (rolled back)
    allow_large: bool = False  # build on tables above sandbox_max_table_mb
    whatif: str | None = None  # None: the setting
    budget: str | None = None  # None: the setting, else a share of the database
    since_seconds: float | None = None  # the workload's window, when it is one


@dataclass
class Draft:
    """A proposal before measurement: its trial, what to measure and how to finish it."""

    key: str  # kind and forward change: the same draft in a resumed run has the same key
    trial: Trial
    inputs: list[StatementInput]
    estimated: dict[str, float]  # query -> the planner's relative gain
    finish: Callable[[list[Measurement]], Proposal]
    # Statements it is about but does not measure (a cache modelled from the counters).
    about: tuple[str, ...] = ()

    @property
    def queries(self) -> set[str]:
        """Every statement it is about, measured or not."""
        return {i.query for i in self.inputs} | set(self.about)

    def measure(self, ctx: Context) -> Proposal:
        """Measure (unless turned off) and finish."""
        if ctx.verify:
            measurements = measure(ctx.conn, self.trial, self.inputs, runs=ctx.runs,
                                   sets=ctx.config.get_int("measure_sets"),
                                   allow_writes=ctx.allow_writes, estimated=self.estimated)
        else:
            measurements = [Measurement(s.query, estimated_gain=self.estimated.get(s.query),
                                        reason="verification was turned off")
                            for s in self.inputs]
        return self.finish(measurements)


@dataclass(frozen=True)
class Outcome:
    """What an advisor concluded for one statement."""

    query: str
    cost_before: float | None = None
    cost_after: float | None = None
    reason: str | None = None  # why it got nothing, in words
    code: str | None = None  # the same, as one of REASONS


@dataclass
class Proposals:
    """An advisor's answer: drafts to measure, and an outcome for every statement."""

    advisor: str
    drafts: list[Draft]
    outcomes: dict[str, Outcome]  # query -> outcome
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # engine, timings, thresholds


class Advisor(Protocol):
    """One kind of fix. Registered in :data:`pgarchitect.advisors.ADVISORS`."""

    name: str
    kind: str

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        """Drafts for the statements; nothing changed, nothing measured."""
        ...

    def checker(self, ctx: Context) -> Checker:
        """The replay of this kind's earlier findings on new statements, for one audit
        (the knowledge base's "already solved?", :mod:`pgarchitect.knowledge.replay`)."""
        ...


@contextmanager
def checkers(ctx: Context, advisors: Sequence[Advisor]) -> Iterator[dict[str, Checker]]:
    """Each advisor's replay of its kind's earlier findings, open for one audit."""
    opened = {a.kind: a.checker(ctx) for a in advisors}
    try:
        yield opened
    finally:
        for c in opened.values():
            c.close()
