"""Does the rewrite return the same rows? Both statements run on the real data.

The original and the rewrite run with the parameter sets the measurement will use
(:func:`pgarchitect.plans.sample_parameter_sets`: a log's bind values, the columns'
statistics, sampled rows), each inside a READ ONLY transaction that is rolled back,
under a ``statement_timeout`` of its own. Their rows are compared as multisets
(order aside, duplicates counted). One set that differs is enough: the rewrite is
not proposed, and the set is reported.

A rule that changes the parameters or the rows on purpose says how to compare
(:class:`~pgarchitect.advisors.rewrite.rules.Rule`'s hooks): with its own parameter
sets (deep offsets), the rewrite's values bound from the original's (a cursor), the
original made deterministic and compared row by row in order, or rows that agree
within a tolerance (a row estimate against the exact count).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect.advisors.rewrite.rules import RULES, Rule, Values
from pgarchitect.analysis import Param
from pgarchitect.plans import NoPlan, plannable, sample_parameter_sets
from pgarchitect.settings import SETTINGS, Config
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
    detail: str = ""  # how close, when the rule compares within a tolerance


@dataclass(frozen=True)
class Equivalence:
    """The comparison: every set's result, or why it could not be made."""

    sets: tuple[SetResult, ...] = ()
    reason: str | None = None  # why there is no verdict (a timeout, an error)
    code: str | None = None  # the same as one of advisors.base.REASONS
    ordered: bool = False  # rows compared in order too
    chosen: str = ""  # which parameter sets, when the rule chose them

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
                    + (bad.detail or f"{bad.rows} rows before, {bad.rows_after} after "
                       "the rewrite"))
        if all(s.detail for s in self.sets):
            return "; ".join(s.detail for s in self.sets)
        n = len(self.sets)
        counts = ", ".join(f"{s.rows:,}" for s in self.sets)
        order = " in the same order" if self.ordered else ""
        return f"same rows{order} for {n} parameter set{'s' if n != 1 else ''}: {counts} rows"

    def to_json(self) -> dict[str, Any]:
        return {"same": self.same, "reason": self.reason, "code": self.code,
                "ordered": self.ordered, "chosen": self.chosen,
                "sets": [{"values": list(s.values), "rows": s.rows,
                          "rows_after": s.rows_after, "same": s.same, "detail": s.detail}
                         for s in self.sets]}


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
          timeout_ms: int) -> list[tuple[Any, ...]]:
    """The statement's rows, in order, run read-only in a transaction rolled back."""
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
    return [tuple(_hashable(v) for v in row) for row in rows]


def _bind(conn: psycopg.Connection[Any], rule: Rule, original: str, rewritten: str,
          values: Values, timeout_ms: int) -> Values | NoPlan:
    """The rewrite's values for the original's (read-only, rolled back, timed out)."""
    assert rule.bind is not None
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('transaction_read_only', 'on', true), "
                     "set_config('statement_timeout', %s, true)", [str(timeout_ms)])
        return rule.bind(conn, original, rewritten, values)


def owner(original: str, rewritten: str, rules: Sequence[Rule] = RULES) -> Rule | None:
    """The rule whose hooks say how to compare this rewrite with its statement, if any."""
    return next((r for r in rules if r.owns is not None and r.owns(original, rewritten)),
                None)


def defaults() -> Config:
    """The settings' defaults, for a check made without a configuration."""
    return Config({s.name: s.default for s in SETTINGS}, {s.name: "default" for s in SETTINGS})


def compare(conn: psycopg.Connection[Any], original: str, rewritten: str,
            sets: Sequence[Sequence[str | None]], *,
            timeout_ms: int = DEFAULT_TIMEOUT_MS, rule: Rule | None = None,
            config: Config | None = None, chosen: str = "") -> Equivalence:
    """Run both statements with each parameter set and compare their rows (as the
    rule's hooks say, when it has them)."""
    for query in (original, rewritten):
        if (why := plannable(query)) is not None:
            return Equivalence(reason=why.reason, code="not_supported")
    reference = (rule.reference(original, rewritten)
                 if rule is not None and rule.reference is not None else original)
    ordered = reference != original
    results: list[SetResult] = []
    for values in sets:
        try:
            bound: Values | NoPlan = values
            if rule is not None and rule.bind is not None:
                bound = _bind(conn, rule, original, rewritten, values, timeout_ms)
            if isinstance(bound, NoPlan):
                return Equivalence(tuple(results), f"Not compared: {bound.reason}",
                                   bound.code or "not_plannable", ordered, chosen)
            before = _rows(conn, reference, values, timeout_ms)
            after = _rows(conn, rewritten, bound, timeout_ms)
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
        detail = ""
        if rule is not None and rule.agree is not None:
            same, detail = rule.agree(before, after, config or defaults())
        else:
            same = before == after if ordered else Counter(before) == Counter(after)
        result = SetResult(tuple(values), len(before), len(after), same, detail)
        results.append(result)
        if not result.same:
            break
    return Equivalence(tuple(results), ordered=ordered, chosen=chosen)


def parameter_sets(conn: psycopg.Connection[Any], original: str, params: Sequence[Param],
                   known: Sequence[Values], rule: Rule | None,
                   count: int) -> tuple[list[Values], str] | NoPlan:
    """The sets both the check and the measurement use: the rule's own, else sampled."""
    if rule is not None and rule.sets is not None:
        return rule.sets(conn, original, params, known)
    chosen = sample_parameter_sets(conn, original, params, known, count=count)
    return chosen if isinstance(chosen, NoPlan) else ([s.values for s in chosen], "")


def verify(conn: psycopg.Connection[Any], original: str, rewritten: str,
           params: Sequence[Param] = (), known: Sequence[Sequence[str | None]] = (), *,
           sets: int = DEFAULT_SETS, timeout_ms: int = DEFAULT_TIMEOUT_MS,
           rule: Rule | None = None, config: Config | None = None) -> Equivalence:
    """Compare the two statements with the parameter sets the measurement picks (the
    rule that wrote the rewrite, when not given, is found by its ``owns`` hook)."""
    rule = rule if rule is not None else owner(original, rewritten)
    chosen = parameter_sets(conn, original, params, known, rule, sets)
    if isinstance(chosen, NoPlan):
        return Equivalence(reason=chosen.reason, code=chosen.code or "not_plannable")
    return compare(conn, original, rewritten, chosen[0], timeout_ms=timeout_ms, rule=rule,
                   config=config, chosen=chosen[1])
