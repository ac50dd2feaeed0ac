"""Before and after: a statement measured without and with a change, on the real data.

The change is a :class:`Trial`: an index built, a setting changed with ``SET LOCAL``,
a statement replaced by its rewrite. The statements run under ``EXPLAIN ANALYZE``
with realistic parameter values, before and after the change, all inside one
transaction that is rolled back: nothing the trial does is ever visible to anyone
else. A change that takes a lock (building an index holds a SHARE lock on its
table, writes wait) holds it only while that transaction lasts, under the
session's ``lock_timeout`` and ``statement_timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from pgarchitect.analysis import Param
from pgarchitect.plans import NoPlan, Plan, explain_analyze, sample_parameters
from pgarchitect.proposal import Measurement

DEFAULT_RUNS = 3


@dataclass(frozen=True)
class StatementInput:
    """What measurement needs of a statement: its text, parameters and known values."""

    query: str
    params: Sequence[Param] = ()
    known: Sequence[Sequence[str | None]] = ()  # bind values seen in a log
    weight: float = 1.0  # its share of the benefit (time or calls)


class Trial(Protocol):
    """A change measured inside a transaction that is rolled back."""

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        """Why it must not be tried here (a table too large to build on), or None."""

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        """Make the change, inside the open transaction, after the runs before."""

    def statement(self, query: str) -> str:
        """The statement to run after the change (a rewrite replaces it)."""

    def used(self, plan: Plan) -> bool:
        """Whether a plan after the change shows it (the index scanned, ...)."""


@dataclass(frozen=True)
class SettingTrial:
    """Settings changed for the transaction only (``SET LOCAL``)."""

    settings: Mapping[str, str]

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        return None

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        for name, value in self.settings.items():
            conn.execute("SELECT set_config(%s, %s, true)", [name, value])

    def statement(self, query: str) -> str:
        return query

    def used(self, plan: Plan) -> bool:
        return True  # a setting applies to every plan


@dataclass(frozen=True)
class RewriteTrial:
    """The statement replaced by a rewrite that takes the same parameters."""

    rewritten: Mapping[str, str]  # original statement -> its rewrite

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        return None

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        return None

    def statement(self, query: str) -> str:
        return self.rewritten.get(query, query)

    def used(self, plan: Plan) -> bool:
        return True


def _runs(conn: psycopg.Connection[Any], query: str, values: Sequence[str | None],
          runs: int, allow_writes: bool) -> list[Plan] | NoPlan:
    # One run first to warm the cache: the first execution reads from disk, the
    # others from shared buffers, and both sides should be compared warm.
    plans: list[Plan] = []
    for _ in range(runs + 1):
        plan = explain_analyze(conn, query, values, allow_writes=allow_writes)
        if isinstance(plan, NoPlan):
            return plan
        plans.append(plan)
    return plans[1:]


def _times(plans: Sequence[Plan]) -> tuple[float, ...]:
    return tuple(p.execution_ms for p in plans if p.execution_ms is not None)


def measure(
    conn: psycopg.Connection[Any],
    trial: Trial,
    statements: Sequence[StatementInput],
    *,
    runs: int = DEFAULT_RUNS,
    allow_writes: bool = False,
    estimated: Mapping[str, float] | None = None,
) -> list[Measurement]:
    """Measure ``statements`` without and with ``trial``'s change (then rolled back)."""
    estimated = estimated or {}

    def unmeasured(query: str, reason: str, values: tuple[str | None, ...] = (),
                   origins: tuple[str, ...] = ()) -> Measurement:
        return Measurement(query, values, origins, reason=reason,
                           estimated_gain=estimated.get(query))

    refusal = trial.refusal(conn)
    if refusal is not None:
        return [unmeasured(s.query, refusal) for s in statements]
    inputs: list[tuple[StatementInput, tuple[str | None, ...], tuple[str, ...]]] = []
    results: dict[str, Measurement] = {}
    for s in statements:
        chosen = sample_parameters(conn, s.query, s.params, s.known)
        if isinstance(chosen, NoPlan):
            results[s.query] = unmeasured(s.query, chosen.reason)
        else:
            inputs.append((s, chosen.values, chosen.origins))
    before: dict[str, list[Plan] | NoPlan] = {}
    after: dict[str, list[Plan] | NoPlan] = {}
    try:
        with conn.transaction(force_rollback=True):
            for s, values, _ in inputs:
                before[s.query] = _runs(conn, s.query, values, runs, allow_writes)
            trial.apply(conn)
            for s, values, _ in inputs:
                after[s.query] = _runs(conn, trial.statement(s.query), values, runs,
                                       allow_writes)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
        reason = ("Not measured: could not make the change in time "
                  f"({type(exc).__name__}: lock_timeout or statement_timeout)")
        return [unmeasured(s.query, reason) for s in statements]
    for s, values, origins in inputs:
        b, a = before[s.query], after[s.query]
        if isinstance(b, NoPlan) or isinstance(a, NoPlan):
            failed = b if isinstance(b, NoPlan) else a
            assert isinstance(failed, NoPlan)
            results[s.query] = unmeasured(s.query, failed.reason, values, origins)
            continue
        replaced = trial.statement(s.query)
        results[s.query] = Measurement(
            s.query, values, origins, _times(b), _times(a), all(trial.used(p) for p in a),
            estimated.get(s.query), after_query=replaced if replaced != s.query else None)
    return [results[s.query] for s in statements]

