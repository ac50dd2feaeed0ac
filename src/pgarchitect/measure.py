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
from pgarchitect.plans import NoPlan, ParameterSet, Plan, explain_analyze, sample_parameter_sets
from pgarchitect.proposal import Measurement

DEFAULT_RUNS = 3
DEFAULT_SETS = 3  # parameter sets each statement is measured with


@dataclass(frozen=True)
class StatementInput:
    """What measurement needs of a statement: its text, parameters and known values."""

    query: str
    params: Sequence[Param] = ()
    known: Sequence[Sequence[str | None]] = ()  # bind values seen in a log
    weight: float = 1.0  # its share of the benefit (time or calls)
    mean_ms: float | None = None  # the workload's mean execution time, when counted
    hit_ratio: float | None = None  # the workload's shared-buffer hit ratio


class Trial(Protocol):
    """A change measured inside a transaction that is rolled back."""

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        """Why it must not be tried here (a table too large to build on), or None."""

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        """Prepare, inside the open transaction, before the runs before the change (a
        copy of a sample of the table both sides run on)."""

    def baseline(self, query: str) -> str:
        """The statement to run before the change (the statement itself, or the same on
        the sample ``setup`` made)."""

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        """Make the change, inside the open transaction, after the runs before."""

    def statement(self, query: str) -> str:
        """The statement to run after the change (a rewrite replaces it)."""

    def bind(self, conn: psycopg.Connection[Any], query: str,
             values: Sequence[str | None]) -> Sequence[str | None] | NoPlan:
        """The values the statement after the change runs with, given the original's (a
        keyset page takes the cursor where the offset page starts)."""

    def used(self, plan: Plan) -> bool:
        """Whether a plan after the change shows it (the index scanned, ...)."""


class BaseTrial:
    """What most trials share: nothing to prepare, the same statement and values."""

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        return None

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        return None

    def baseline(self, query: str) -> str:
        return query

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        return None

    def statement(self, query: str) -> str:
        return query

    def bind(self, conn: psycopg.Connection[Any], query: str,
             values: Sequence[str | None]) -> Sequence[str | None] | NoPlan:
        return values

    def used(self, plan: Plan) -> bool:
        return True


@dataclass(frozen=True)
class SettingTrial(BaseTrial):
    """Settings changed for the transaction only (``SET LOCAL``)."""

    settings: Mapping[str, str]

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        for name, value in self.settings.items():
            conn.execute("SELECT set_config(%s, %s, true)", [name, value])


@dataclass(frozen=True)
class RewriteTrial(BaseTrial):
    """The statement replaced by a rewrite that takes the same parameters."""

    rewritten: Mapping[str, str]  # original statement -> its rewrite

    def statement(self, query: str) -> str:
        return self.rewritten.get(query, query)


def _runs(conn: psycopg.Connection[Any], query: str, values: Sequence[str | None],
          runs: int, allow_writes: bool) -> list[Plan] | NoPlan:
    # One run first to warm the cache: the first execution reads from disk, the
    # others from shared buffers, and both sides should be compared warm. It is
    # kept (first) for the comparison with the workload's mean and hit ratio.
    plans: list[Plan] = []
    for _ in range(runs + 1):
        plan = explain_analyze(conn, query, values, allow_writes=allow_writes)
        if isinstance(plan, NoPlan):
            return plan
        plans.append(plan)
    return plans


def _times(plans: Sequence[Plan]) -> tuple[float, ...]:
    return tuple(p.execution_ms for p in plans if p.execution_ms is not None)


def _hit_ratio(plans: Sequence[Plan]) -> float | None:
    """Shared-buffer hits over hits and reads (the root's counts include its children's)."""
    hit = sum(p.root.shared_hit or 0 for p in plans)
    read = sum(p.root.shared_read or 0 for p in plans)
    return hit / (hit + read) if hit + read else None


Runs = list[list[Plan]]  # per parameter set: the warm-up run, then the timed runs


def measure(
    conn: psycopg.Connection[Any],
    trial: Trial,
    statements: Sequence[StatementInput],
    *,
    runs: int = DEFAULT_RUNS,
    sets: int = DEFAULT_SETS,
    allow_writes: bool = False,
    estimated: Mapping[str, float] | None = None,
) -> list[Measurement]:
    """Measure ``statements`` without and with ``trial``'s change (then rolled back).

    Each statement runs with up to ``sets`` parameter sets, each once to warm the
    cache and ``runs`` times timed, before and after the change. The first runs of
    the sets before the change are as cold as the workload's own executions can be
    here: with the timed ones they give the measured mean and hit ratio that are
    compared with the workload's.
    """
    estimated = estimated or {}

    def unmeasured(query: str, reason: str, values: tuple[str | None, ...] = (),
                   origins: tuple[str, ...] = ()) -> Measurement:
        return Measurement(query, values, origins, reason=reason,
                           estimated_gain=estimated.get(query))

    refusal = trial.refusal(conn)
    if refusal is not None:
        return [unmeasured(s.query, refusal) for s in statements]
    inputs: list[tuple[StatementInput, list[ParameterSet]]] = []
    results: dict[str, Measurement] = {}
    for s in statements:
        chosen = sample_parameter_sets(conn, s.query, s.params, s.known, count=sets)
        if isinstance(chosen, NoPlan):
            results[s.query] = unmeasured(s.query, chosen.reason)
        else:
            inputs.append((s, chosen))
    before: dict[str, Runs | NoPlan] = {}
    after: dict[str, Runs | NoPlan] = {}
    try:
        with conn.transaction(force_rollback=True):
            trial.setup(conn)
            for s, chosen in inputs:
                before[s.query] = _run_sets(conn, trial.baseline(s.query), chosen, runs,
                                            allow_writes)
            trial.apply(conn)
            for s, chosen in inputs:
                after[s.query] = _run_sets(conn, trial.statement(s.query), chosen, runs,
                                           allow_writes, (trial, s.query))
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
        reason = ("Not measured: could not make the change in time "
                  f"({type(exc).__name__}: lock_timeout or statement_timeout)")
        return [unmeasured(s.query, reason) for s in statements]
    except psycopg.errors.InsufficientPrivilege as exc:
        # CREATE INDEX, CREATE STATISTICS, ANALYZE need ownership of the table, even in
        # a rolled-back transaction.
        message = (exc.diag.message_primary or str(exc).splitlines()[0]).rstrip(".")
        reason = (f"Not measured: the role may not make the change ({message}); building "
                  "an index or statistics needs ownership of the table: run the "
                  "measurement as its owner")
        return [unmeasured(s.query, reason) for s in statements]
    for s, chosen in inputs:
        b, a = before[s.query], after[s.query]
        first = chosen[0]
        if isinstance(b, NoPlan) or isinstance(a, NoPlan):
            failed = b if isinstance(b, NoPlan) else a
            assert isinstance(failed, NoPlan)
            results[s.query] = unmeasured(s.query, failed.reason, first.values, first.origins)
            continue
        every_before = [p for plans in b for p in plans]
        times = _times(every_before)
        replaced = trial.statement(s.query)
        results[s.query] = Measurement(
            s.query, first.values, first.origins,
            tuple(t for plans in b for t in _times(plans[1:])),
            tuple(t for plans in a for t in _times(plans[1:])),
            all(trial.used(p) for plans in a for p in plans[1:]),
            estimated.get(s.query), after_query=replaced if replaced != s.query else None,
            parameter_sets=len(chosen), runs_per_set=runs,
            measured_mean_ms=sum(times) / len(times) if times else None,
            measured_hit_ratio=_hit_ratio(every_before),
            workload_mean_ms=s.mean_ms, workload_hit_ratio=s.hit_ratio)
    return [results[s.query] for s in statements]


def _run_sets(conn: psycopg.Connection[Any], query: str, chosen: Sequence[ParameterSet],
              runs: int, allow_writes: bool,
              binding: tuple[Trial, str] | None = None) -> Runs | NoPlan:
    """Every parameter set's runs; after the change (``binding``: the trial and the
    original statement), with the values the trial binds for the original's."""
    out: Runs = []
    for values in chosen:
        bound = (values.values if binding is None
                 else binding[0].bind(conn, binding[1], values.values))
        if isinstance(bound, NoPlan):
            return bound
        plans = _runs(conn, query, bound, runs, allow_writes)
        if isinstance(plans, NoPlan):
            return plans
        out.append(plans)
    return out
