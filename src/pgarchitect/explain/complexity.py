"""Complexity: simple, moderate or complex, from named features and their weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pgarchitect.explain.reading import AGGREGATE_CALL, CALL, Reading

# What each feature adds to a statement's complexity score (per occurrence).
COMPLEXITY_WEIGHTS: Final[Mapping[str, int]] = {
    "join": 1,
    "subquery": 1,
    # Run once per outer row unless the planner can turn it into a join.
    "correlated subquery": 2,
    "CTE": 1,
    "recursive CTE": 2,
    "aggregate": 1,  # with or without GROUP BY
    "HAVING": 1,
    "window function": 2,
    "ORDER BY": 1,
    "DISTINCT": 1,
    # Reads and throws away every skipped row: cost grows with the page number.
    "OFFSET paging": 1,
    # No b-tree serves LIKE '%x': a trigram index or a scan.
    "leading-wildcard LIKE": 1,
    # An index on the bare column cannot serve f(column): it needs an expression index.
    "function on a column": 1,
    "OR": 1,
    "set operation": 1,  # UNION, INTERSECT, EXCEPT
    "view": 1,
    "upsert": 1,
}
SIMPLE_MAX: Final = 1
MODERATE_MAX: Final = 4


@dataclass(frozen=True)
class Complexity:
    """How hard a statement is to read and to run, and why.

    ``features`` name what adds to ``score`` ("1 join (left)", "GROUP BY with count",
    "HAVING"); ``level`` is simple up to :data:`SIMPLE_MAX`, moderate up to
    :data:`MODERATE_MAX`, complex above, and "unknown" for a statement that does
    not parse.
    """

    level: str
    score: int
    features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "score": self.score, "features": list(self.features)}


def complexity_of(r: Reading) -> Complexity:
    """The features of a statement, weighed by :data:`COMPLEXITY_WEIGHTS`."""
    a, shape = r.analysis, r.shape
    features: list[tuple[str, str, int]] = []  # (weight key, words, count)

    def add(key: str, text: str | None = None, count: int = 1) -> None:
        features.append((key, key if text is None else text, count))

    if shape.joins:
        n = len(shape.joins)
        kinds = ", ".join(dict.fromkeys(shape.joins))
        add("join", f"{n} join{'s' if n > 1 else ''} ({kinds})", n)
    for sub in a.subqueries:
        if sub.kind == "from":
            continue  # a derived table reads like a CTE; counted by its parts
        key = "correlated subquery" if sub.correlated else "subquery"
        add(key, f"{key} ({sub.kind})")
    for cte in a.ctes:
        key = "recursive CTE" if cte.recursive else "CTE"
        add(key, f"{key} {cte.name}")
    for rel in a.relations:
        if rel.kind == "view" and rel.via is None:
            add("view", f"view {rel.qualified}")
    aggs = list(dict.fromkeys(g.func for g in shape.aggregates))
    if r.keys:
        add("aggregate", f"GROUP BY with {', '.join(aggs)}" if aggs else "GROUP BY")
    elif aggs:
        add("aggregate", f"aggregate ({', '.join(aggs)})")
    if any(p.clause == "having" for p in a.predicates):
        add("HAVING")
    if shape.windows:
        names = ", ".join(dict.fromkeys(w.func for w in shape.windows))
        add("window function", f"window function ({names})")
    for op in dict.fromkeys(shape.set_ops):
        add("set operation", op, shape.set_ops.count(op))
    if a.distinct:
        add("DISTINCT")
    if a.order_by:
        add("ORDER BY")
    if r.paging:
        add("OFFSET paging")
    preds = [p for p in a.predicates if p.clause != "having"]
    if any(p.role == "like" and p.anchored is False for p in preds):
        add("leading-wildcard LIKE", "LIKE with a leading wildcard")
    funcs = list(dict.fromkeys(
        m.group(1).lower() for p in preds if p.expression and p.column is not None
        and " over " not in p.expression.lower()
        and (m := CALL.match(p.expression))
        and not AGGREGATE_CALL.match(p.expression)))
    if funcs:
        add("function on a column", f"function on a column ({', '.join(funcs)})", len(funcs))
    if any(p.in_or for p in preds):
        add("OR")
    if shape.on_conflict is not None:
        add("upsert", f"ON CONFLICT DO {shape.on_conflict.upper()}")
    score = sum(COMPLEXITY_WEIGHTS[key] * n for key, _, n in features)
    level = "simple" if score <= SIMPLE_MAX else \
        "moderate" if score <= MODERATE_MAX else "complex"
    return Complexity(level, score, tuple(text for _, text, _ in features))
