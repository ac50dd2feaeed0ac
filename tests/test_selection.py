"""Selection's search on a small, exact cost model (the planner's part is tested elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence

from pgarchitect.advisors.index.selection import Options, TableWrites, Target, select
from pgarchitect.catalog.index import IndexDef, IndexKey

T = ("public", "t")
U = ("public", "u")


def ix(*cols: str, table: tuple[str, str] = T) -> IndexDef:
    return IndexDef(table[0], table[1], tuple(IndexKey(c) for c in cols))


# Each query's cost with the best index it can use: a prefix match on its columns.
QUERIES = {
    "q_ab": (("a", "b"), 1000.0),   # WHERE a = $1 AND b = $2
    "q_a": (("a",), 1000.0),        # WHERE a = $1
    "q_c": (("c",), 500.0),         # WHERE c = $1
    "q_cheap": (("d",), 50.0),      # below min_cost
    "q_u": (("x",), 800.0),         # on table u
}


def cost(query: str, indexes: Sequence[IndexDef]) -> float | None:
    cols, base = QUERIES[query]
    table = U if query == "q_u" else T
    best = base
    for index in indexes:
        if (index.schema, index.table) != table:
            continue
        n = 0
        for key, col in zip(index.columns, cols, strict=False):
            if key != col:
                break
            n += 1
        if n:
            best = min(best, base / (10 ** n))
    return best


def size(index: IndexDef) -> int:
    return 10 * len(index.keys)


def targets(*names: str) -> list[Target]:
    return [Target(n, calls=1, tables=frozenset({U if n == "q_u" else T})) for n in names]


def test_picks_the_best_per_byte_and_extends() -> None:
    result = select(targets("q_ab", "q_a", "q_c"), [ix("a"), ix("c"), ix("b")], cost, size,
                    Options(budget=100, min_cost=0), columns={T: ["a", "b", "c"]})
    chosen = {str(c.index) for c in result.chosen}
    # (a) was extended to (a, b), which serves both a-queries; (a) alone merged away.
    assert chosen == {"public.t (a, b)", "public.t (c)"}
    outcomes = {o.query: o for o in result.outcomes}
    assert outcomes["q_ab"].cost_after == 10.0 and outcomes["q_a"].cost_after == 100.0
    assert result.unit == "cost" and result.size == 30


def test_budget_is_respected() -> None:
    result = select(targets("q_ab", "q_a", "q_c"), [ix("a"), ix("c")], cost, size,
                    Options(budget=10, min_cost=0), columns={T: ["a", "b"]})
    assert [str(c.index) for c in result.chosen] == ["public.t (a)"]
    assert result.size <= 10
    # (c) would serve q_c but does not fit: the reason says so, not "no index helps".
    outcome = {o.query: o for o in result.outcomes}["q_c"]
    assert outcome.code == "not_chosen", outcome
    assert outcome.reason is not None
    assert outcome.reason.startswith("Index public.t (c) alone would cut its cost by 90%")
    assert "budget of 0 MB" in outcome.reason


def test_gates_have_named_reasons() -> None:
    result = select(targets("q_cheap", "q_a"), [ix("d"), ix("a")], cost, size,
                    Options(budget=100, min_cost=100, min_savings_pct=95))
    reasons = {o.query: o.reason for o in result.outcomes}
    assert reasons["q_cheap"] == "Low initial cost (50.0 < min_cost 100)"
    assert reasons["q_a"] == "Need 95% cost savings, got 90%"
    assert result.chosen == []


def test_per_table_cap_and_other_tables() -> None:
    result = select(targets("q_a", "q_c", "q_u"), [ix("a"), ix("c"), ix("x", table=U)], cost,
                    size, Options(budget=100, min_cost=0, max_per_table=1))
    tables = sorted(c.index.table for c in result.chosen)
    assert tables == ["t", "u"]


def test_time_weighting_prefers_the_statement_that_costs_time() -> None:
    # q_a is called rarely but takes most of the time; q_c often but cheaply.
    timed = [Target("q_a", calls=10, total_ms=9_000.0, tables=frozenset({T})),
             Target("q_c", calls=1000, total_ms=100.0, tables=frozenset({T}))]
    result = select(timed, [ix("a"), ix("c")], cost, size, Options(budget=10, min_cost=0))
    assert result.unit == "ms"
    assert [str(c.index) for c in result.chosen] == ["public.t (a)"]
    assert abs(result.chosen[0].benefit - 9_000.0 * 0.9) < 1e-6


def test_write_overhead_can_outweigh_a_small_benefit() -> None:
    timed = [Target("q_c", calls=1, total_ms=1.0, tables=frozenset({T}),
                    updated_columns=frozenset({("public", "t", "c")}))]
    busy = {T: TableWrites(inserts=1_000_000, updates=10_000, hot_updates=9_000, indexes=2)}
    result = select(timed, [ix("c")], cost, size, Options(budget=100, min_cost=0),
                    writes=busy)
    assert result.chosen == []
    assert result.outcomes[0].reason == (
        "An index would lower its cost but cost more in writes to its table than it saves")
    quiet = select(timed, [ix("c")], cost, size, Options(budget=100, min_cost=0))
    assert [str(c.index) for c in quiet.chosen] == ["public.t (c)"]


def test_no_plan_is_asked_twice() -> None:
    calls: list[tuple[str, tuple[IndexDef, ...]]] = []

    def counting(query: str, indexes: Sequence[IndexDef]) -> float | None:
        calls.append((query, tuple(indexes)))
        return cost(query, indexes)

    result = select(targets("q_ab", "q_a", "q_c"), [ix("a"), ix("c"), ix("b")], counting,
                    size, Options(budget=100, min_cost=0), columns={T: ["a", "b", "c"]})
    assert len(calls) == len(set(calls)) == result.evaluations


def test_a_budget_left_unused_gets_a_pass_that_weighs_size_less() -> None:
    # q_k is served by a small index (saves 100) or a big one (saves 500), not both.
    def cost_k(query: str, indexes: Sequence[IndexDef]) -> float | None:
        names = {i.columns[0] for i in indexes}
        return 500.0 if "big" in names else 900.0 if "small" in names else 1000.0

    def size_k(index: IndexDef) -> int:
        return 100 if index.columns[0] == "big" else 10

    candidates = [ix("small"), ix("big")]
    # Per byte, the small one wins (10 a byte against 5), and the big one no longer fits.
    tight = select(targets("q_k"), candidates, cost_k, size_k, Options(budget=105, min_cost=0))
    assert [str(c.index) for c in tight.chosen] == ["public.t (big)"]
    assert tight.size == 100
    # With room for both nothing is left to choose between: per byte, then the big one.
    roomy = select(targets("q_k"), candidates, cost_k, size_k, Options(budget=200, min_cost=0))
    assert {str(c.index) for c in roomy.chosen} == {"public.t (big)"}

