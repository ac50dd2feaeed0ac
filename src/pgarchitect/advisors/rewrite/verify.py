"""Does the rewrite return the same rows? Both statements run on the real data.

The original and the rewrite run with the parameter sets the measurement will use
(:func:`pgarchitect.plans.sample_parameter_sets`: a log's bind values, the columns'
statistics, sampled rows), each inside a READ ONLY transaction that is rolled back,
under a ``statement_timeout`` of its own. Their rows are compared as multisets
(order aside, duplicates counted). One set that differs is enough: the rewrite is
not proposed, and the set is reported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect.analysis import Param
from pgarchitect.plans import NoPlan, plannable, sample_parameter_sets
from pgarchitect.workload.repair import repair

DEFAULT_TIMEOUT_MS = 10_000  # per run of either statement
DEFAULT_SETS = 3


@dataclass(frozen=True)
class SetResult:
    """One parameter set and how many rows each statement returned with it."""

    values: tuple[str | None, ...]
    rows: int  # the original's
    rows_after: int  # the rewrite's
    same: bool


@dataclass(frozen=True)
class Equivalence:
    """The comparison: every set's result, or why it could not be made."""

    sets: tuple[SetResult, ...] = ()
    reason: str | None = None  # why there is no verdict (a timeout, an error)
    code: str | None = None  # the same as one of advisors.base.REASONS

    @property
    def same(self) -> bool:
        return self.reason is None and bool(self.sets) and all(s.same for s in self.sets)

    @property
    def differing(self) -> SetResult | None:
        return next((s for s in self.sets if not s.same), None)

    def summary(self) -> str:
        """"same rows for 3 parameter sets: 412, 0, 17 rows", or what differed."""
        if self.reason is not None:
            return self.reason
        if (bad := self.differing) is not None:
            return (f"different rows with parameters ({_values(bad.values)}): "
                    f"{bad.rows} rows before, {bad.rows_after} after the rewrite")
        n = len(self.sets)
        counts = ", ".join(f"{s.rows:,}" for s in self.sets)
        return f"same rows for {n} parameter set{'s' if n != 1 else ''}: {counts} rows"

    def to_json(self) -> dict[str, Any]:
        return {"same": self.same, "reason": self.reason, "code": self.code,
                "sets": [{"values": list(s.values), "rows": s.rows,
                          "rows_after": s.rows_after, "same": s.same} for s in self.sets]}


def _values(values: Sequence[str | None]) -> str:
    return ", ".join("NULL" if v is None else repr(v) for v in values) or "none"


def _hashable(value: Any) -> Any:
    """A value that can be counted: lists as tuples, JSON documents as their text."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _rows(conn: psycopg.Connection[Any], query: str, values: Sequence[str | None],
          timeout_ms: int) -> Counter[tuple[Any, ...]]:
    """The statement's rows, counted, run read-only in a transaction rolled back."""
    name = "pgarchitect_rewrite_check"
    text = sql.SQL(repair(query))  # checked by the caller: one plannable statement
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT set_config('transaction_read_only', 'on', true), "
                         "set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            if not values:
                rows = conn.execute(text).fetchall()
            else:
                conn.execute(sql.SQL("PREPARE {} AS ").format(sql.Identifier(name)) + text)
                args = sql.SQL(", ").join(sql.Literal(v) for v in values)
                rows = conn.execute(sql.SQL("EXECUTE {}({})").format(
                    sql.Identifier(name), args)).fetchall()
    finally:
        # A prepared statement outlives the rollback.
        if values and not conn.closed and not conn.broken and conn.execute(
                "SELECT 1 FROM pg_prepared_statements WHERE name = %s", [name]).fetchone():
            conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))
    return Counter(tuple(_hashable(v) for v in row) for row in rows)


def compare(conn: psycopg.Connection[Any], original: str, rewritten: str,
            sets: Sequence[Sequence[str | None]], *,
            timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Equivalence:
    """Run both statements with each parameter set and compare their rows."""
    for query in (original, rewritten):
        if (why := plannable(query)) is not None:
            return Equivalence(reason=why.reason, code="not_supported")
    results: list[SetResult] = []
    for values in sets:
        try:
            before = _rows(conn, original, values, timeout_ms)
            after = _rows(conn, rewritten, values, timeout_ms)
        except psycopg.errors.QueryCanceled:
            return Equivalence(tuple(results), f"Not compared: a run with parameters "
                               f"({_values(values)}) took more than {timeout_ms:,} ms "
                               "(statement_timeout)", "timeout")
        except psycopg.errors.LockNotAvailable:
            return Equivalence(tuple(results), "Not compared: a table was locked by another "
                               "session (lock_timeout)", "locked")
        except psycopg.Error as exc:
            message = exc.diag.message_primary or str(exc).splitlines()[0]
            return Equivalence(tuple(results), f"Not compared: a statement failed with "
                               f"parameters ({_values(values)}): {message}", "not_plannable")
        result = SetResult(tuple(values), before.total(), after.total(), before == after)
        results.append(result)
        if not result.same:
            break
    return Equivalence(tuple(results))


def verify(conn: psycopg.Connection[Any], original: str, rewritten: str,
           params: Sequence[Param] = (), known: Sequence[Sequence[str | None]] = (), *,
           sets: int = DEFAULT_SETS, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Equivalence:
    """Compare the two statements with the parameter sets the measurement picks."""
    chosen = sample_parameter_sets(conn, original, params, known, count=sets)
    if isinstance(chosen, NoPlan):
        return Equivalence(reason=chosen.reason, code="not_plannable")
    return compare(conn, original, rewritten, [s.values for s in chosen],
                   timeout_ms=timeout_ms)
