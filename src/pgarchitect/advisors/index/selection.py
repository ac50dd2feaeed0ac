"""Selection: the set of indexes worth having for the whole workload, within a budget.

Benefit is counted over every statement an index helps, not one statement at a
time. With timings (pg_stat_statements, logs) a statement's benefit is the time
it is expected to save, ``total_ms * (1 - cost_with / cost_without)``: the
planner's relative saving applied to what the statement really costs. Without
timings (statements as text) it is ``calls * (cost_without - cost_with)`` in the
planner's units.

The search is greedy and budget-aware, in the spirit of Extend (Schlosser, Kossmann
and Boissier, ICDE 2019; Kossmann et al., VLDB 2020): at each step take the
index, new or an extension of a chosen one by one more column, with the best
benefit per byte that still fits the budget; when that leaves a share of the
budget unused, a second pass weighs size less and the better configuration wins
(see SIZE_WEIGHTS). Marginal benefits are evaluated lazily (as in CELF, Leskovec
et al. 2007): an index's benefit can only shrink as others are chosen, so a stale
upper bound that is still the best need not be recomputed for the others.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from pgarchitect.catalog.index import IndexDef, IndexKey

# The planner's cost of a statement with a set of hypothetical indexes (None: no plan).
CostFn = Callable[[str, Sequence[IndexDef]], float | None]
SizeFn = Callable[[IndexDef], int]

# Dexter's gates (ankane/dexter, lib/dexter/indexer.rb): statements cheaper than
# this are not worth an index, and an index must cut a statement's cost by this much.
DEFAULT_MIN_COST = 100.0
DEFAULT_MIN_SAVINGS_PCT = 20.0  # the team's runbook: recommend only above 20% gain
DEFAULT_MAX_PER_TABLE = 5
MAX_WIDTH = 3  # columns per index, as the candidates stage makes them

# The greedy ranks by net gain / bytes ** weight. Per byte (1) is right while the budget
# binds; when that pass leaves more than SLACK of it unused, small indexes were taken
# before big ones with more to give, and a pass that weighs size less (0.5) runs too:
# the better of the two configurations wins.
SIZE_WEIGHTS = (1.0, 0.5)
SLACK = 0.1

# Maintaining one more b-tree entry for a written row: a few microseconds of CPU
# and WAL (order of magnitude from pgbench runs with and without extra indexes).
MAINTENANCE_MS_PER_ROW = 0.005
# An update that loses HOT must also write a new entry in every other index.
NON_HOT_EXTRA_MS_PER_ROW = 0.02


@dataclass(frozen=True)
class Target:
    """One statement of the workload, as selection sees it."""

    query: str
    calls: int = 1
    total_ms: float = 0.0
    tables: frozenset[tuple[str, str]] = frozenset()  # (schema, table) it reads or writes
    updated_columns: frozenset[tuple[str, str, str]] = frozenset()  # (schema, table, column)
    # Columns it references, (schema, table, column); empty: unknown, every index counts.
    columns: frozenset[tuple[str, str, str]] = frozenset()

    def may_use(self, index: IndexDef) -> bool:
        """Whether the planner could use ``index`` for this statement at all.

        A b-tree, GIN or BRIN index is only of use to a statement that references its
        leading column; an expression key is kept whenever the table matches.
        """
        if (index.schema, index.table) not in self.tables:
            return False
        lead = index.keys[0].column if index.keys else None
        if lead is None or not self.columns:
            return True
        return (index.schema, index.table, lead) in self.columns


@dataclass(frozen=True)
class TableWrites:
    """How often a table is written: counters over the same window as the workload."""

    inserts: int = 0
    updates: int = 0
    hot_updates: int = 0
    deletes: int = 0
    indexes: int = 0  # indexes the table has now


@dataclass(frozen=True)
class Choice:
    """A chosen index: what it costs and whom it helps."""

    index: IndexDef
    size: int
    benefit: float  # ms saved over the window (or cost units without timings)
    overhead: float  # estimated write overhead, same unit
    helps: tuple[tuple[str, float, float], ...]  # (query, cost before, cost after)


@dataclass(frozen=True)
class Outcome:
    """What selection concluded for one statement."""

    query: str
    cost_before: float | None
    cost_after: float | None
    indexes: tuple[IndexDef, ...] = ()  # chosen indexes its final plan uses
    reason: str | None = None  # why it got nothing
    code: str | None = None  # the same, as one of pgarchitect.advisors.base.REASONS

    @property
    def savings_pct(self) -> float | None:
        if not self.cost_before or self.cost_after is None:
            return None
        return 100.0 * (1.0 - self.cost_after / self.cost_before)


@dataclass
class Selection:
    """The result: chosen indexes, each statement's outcome, and the numbers behind it."""

    chosen: list[Choice]
    outcomes: list[Outcome]
    budget: int
    unit: str  # "ms" or "cost"
    seconds: float = 0.0
    evaluations: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(c.size for c in self.chosen)


@dataclass(frozen=True)
class Options:
    """The named thresholds of selection; every report shows them."""

    budget: int  # bytes of new indexes at most
    min_cost: float = DEFAULT_MIN_COST
    min_savings_pct: float = DEFAULT_MIN_SAVINGS_PCT
    max_per_table: int = DEFAULT_MAX_PER_TABLE
    max_width: int = MAX_WIDTH
    extend: bool = True  # try extending chosen indexes by one column


def _order(index: IndexDef) -> tuple[str, bool]:
    """A sort key for indexes: the dataclass order fails on None beside a value (a key
    that is an expression beside one that is a column, a partial index beside a full one)."""
    return (str(index), index.unique)


class _Evaluator:
    """Workload cost of an index configuration, asking the planner only when needed."""

    def __init__(self, targets: Sequence[Target], cost: CostFn, time_weighted: bool) -> None:
        self.targets = targets
        self.cost_fn = cost
        self.time_weighted = time_weighted
        self.base: dict[str, float | None] = {}
        self._cache: dict[tuple[str, frozenset[IndexDef]], float | None] = {}
        self.evaluations = 0

    def cost(self, target: Target, config: frozenset[IndexDef]) -> float | None:
        # Only indexes the statement could use can change its plan: keying the cache
        # on those makes most questions repeats.
        relevant = frozenset(i for i in config if target.may_use(i))
        key = (target.query, relevant)
        if key not in self._cache:
            self.evaluations += 1
            self._cache[key] = self.cost_fn(target.query, sorted(relevant, key=_order))
        return self._cache[key]

    def best_single(self, target: Target) -> tuple[IndexDef, float] | None:
        """The index that, alone, gave the statement its lowest cost among those already
        planned (the search plans each candidate alone first): no new plan is asked."""
        singles = [(next(iter(config)), cost) for (query, config), cost in self._cache.items()
                   if query == target.query and len(config) == 1 and cost is not None]
        return min(singles, key=lambda pair: pair[1], default=None)

    def weight(self, target: Target, before: float, after: float) -> float:
        """Benefit of going from cost ``before`` to ``after`` for one statement."""
        if before <= 0 or after >= before:
            return 0.0
        if self.time_weighted:
            return target.total_ms * (1.0 - after / before)
        return target.calls * (before - after)

    def benefit(self, index: IndexDef, config: frozenset[IndexDef],
                replaces: IndexDef | None = None) -> tuple[float, list[tuple[str, float, float]]]:
        """Benefit of adding ``index`` (instead of ``replaces``) to ``config``."""
        before_config = config
        after_config = (config - {replaces} if replaces else config) | {index}
        total, helped = 0.0, []
        for t in self.targets:
            if not t.may_use(index):
                continue
            before = self.cost(t, before_config)
            after = self.cost(t, after_config)
            if before is None or after is None:
                continue
            gain = self.weight(t, before, after)
            if gain > 0:
                total += gain
                helped.append((t.query, before, after))
        return total, helped


def write_overhead(index: IndexDef, writes: TableWrites | None, targets: Sequence[Target],
                   time_weighted: bool) -> float:
    """Estimated extra write time (ms over the window) an index costs; 0 without timings."""
    if writes is None or not time_weighted:
        return 0.0
    rows = writes.inserts + (writes.updates - writes.hot_updates) + writes.deletes
    overhead = rows * MAINTENANCE_MS_PER_ROW
    indexed = {k.column for k in index.keys if k.column} | set(index.include)
    touches_updated = any(
        (s, t) == (index.schema, index.table) and c in indexed
        for target in targets for s, t, c in target.updated_columns
    )
    if touches_updated:
        # HOT needs no indexed column to change: updates of this column lose it.
        overhead += writes.hot_updates * (NON_HOT_EXTRA_MS_PER_ROW * (writes.indexes + 1))
    return overhead


def _extensions(index: IndexDef, columns: Mapping[tuple[str, str], Sequence[str]],
                max_width: int) -> list[IndexDef]:
    """``index`` with one more trailing column used by the workload on its table."""
    if index.method != "btree" or len(index.keys) >= max_width or index.include:
        return []
    have = set(index.columns)
    return [replace(index, keys=(*index.keys, IndexKey(c)))
            for c in columns.get((index.schema, index.table), ()) if c not in have]


def select(
    targets: Sequence[Target],
    candidates: Sequence[IndexDef],
    cost: CostFn,
    size: SizeFn,
    options: Options,
    *,
    writes: Mapping[tuple[str, str], TableWrites] | None = None,
    columns: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> Selection:
    """Choose indexes for the workload: greedy by benefit per byte, within the budget.

    ``columns`` lists, per table, the columns the workload filters, joins or sorts
    on: the ones a chosen index may be extended by.
    """
    started = time.perf_counter()
    time_weighted = all(t.total_ms > 0 for t in targets) and bool(targets)
    ev = _Evaluator(targets, cost, time_weighted)
    writes = writes or {}
    outcomes: dict[str, Outcome] = {}
    live: list[Target] = []
    for t in targets:
        base = ev.cost(t, frozenset())
        ev.base[t.query] = base
        if base is None:
            outcomes[t.query] = Outcome(t.query, None, None, reason="Could not plan the statement",
                                        code="not_plannable")
        elif base < options.min_cost:
            outcomes[t.query] = Outcome(t.query, base, base, reason=(
                f"Low initial cost ({base:,.1f} < min_cost {options.min_cost:g})"),
                code="low_cost")
        else:
            live.append(t)
    ev.targets = live

    sizes: dict[IndexDef, int] = {}

    def size_of(index: IndexDef) -> int:
        if index not in sizes:
            sizes[index] = max(1, size(index))
        return sizes[index]

    def score(index: IndexDef, config: frozenset[IndexDef],
              replaces: IndexDef | None) -> tuple[float, float, list[tuple[str, float, float]]]:
        gain, helped = ev.benefit(index, config, replaces)
        overhead = write_overhead(index, writes.get((index.schema, index.table)), live,
                                  time_weighted)
        if replaces is not None:
            overhead -= write_overhead(replaces, writes.get((replaces.schema, replaces.table)),
                                       live, time_weighted)
        return gain - overhead, overhead, helped

    def per_table(config: frozenset[IndexDef], index: IndexDef) -> int:
        return sum(1 for i in config if (i.schema, i.table) == (index.schema, index.table))

    ordered = {_key_set(c): c for c in reversed(candidates) if c.method == "btree"}
    outweighed: set[str] = set()  # statements an index helps, but less than it costs in writes

    def greedy(alpha: float) -> list[IndexDef]:
        """The indexes chosen step by step, best ``net gain / bytes ** alpha`` first."""

        def gain(net: float, extra: int) -> float:
            return net / math.pow(max(extra, 1), alpha)

        chosen: frozenset[IndexDef] = frozenset()
        picked: list[IndexDef] = []  # the chosen indexes, in the order they were chosen
        used = 0
        counter = itertools.count()
        # Max-heap of (-ratio upper bound, tiebreak, index, replaces, config version).
        heap: list[tuple[float, int, IndexDef, IndexDef | None, int]] = []
        version = 0
        for cand in dict.fromkeys(candidates):
            net, _, helped = score(cand, chosen, None)
            if net > 0:
                heapq.heappush(heap, (-gain(net, size_of(cand)), next(counter), cand, None,
                                      version))
            else:
                outweighed.update(q for q, _, _ in helped)
        while heap:
            _, _, index, replaces, seen = heapq.heappop(heap)
            if index in chosen or (replaces is not None and replaces not in chosen):
                continue
            extra = size_of(index) - (size_of(replaces) if replaces else 0)
            if used + extra > options.budget:
                continue
            if replaces is None and per_table(chosen, index) >= options.max_per_table:
                continue
            if seen != version:
                net, _, _ = score(index, chosen, replaces)
                if net <= 0:
                    continue
                ratio = gain(net, extra)
                if heap and ratio < -heap[0][0]:
                    heapq.heappush(heap, (-ratio, next(counter), index, replaces, version))
                    continue
            chosen = (chosen - {replaces} if replaces else chosen) | {index}
            # An extension takes the place of the index it grows from.
            picked = ([index if i == replaces else i for i in picked] if replaces
                      else [*picked, index])
            used += extra
            version += 1
            if options.extend and columns:
                for wider in _extensions(index, columns, options.max_width):
                    if wider in chosen:
                        continue
                    net, _, _ = score(wider, chosen, index)
                    # The candidates stage ordered and directed these keys on purpose
                    # (equality columns most selective first, a sort key as the ORDER BY
                    # says): when its form gains as much, take it. Else the answer would
                    # depend on which single-column index the greedy happened to pick
                    # first (on real sizes, the one that deduplicates best).
                    same = ordered.get(_key_set(wider))
                    if same is not None and same != wider and same not in chosen:
                        same_net, _, _ = score(same, chosen, index)
                        if same_net >= net:
                            wider, net = same, same_net
                    if net > 0:
                        ratio = gain(net, size_of(wider) - size_of(index))
                        heapq.heappush(heap, (-ratio, next(counter), wider, index, version))

        return picked

    def value(config: frozenset[IndexDef]) -> float:
        """What a configuration saves the workload, net of its write overhead."""
        saved = 0.0
        for t in live:
            before, after = ev.base[t.query], ev.cost(t, config)
            if before is not None and after is not None:
                saved += ev.weight(t, before, after)
        return saved - sum(write_overhead(i, writes.get((i.schema, i.table)), live,
                                          time_weighted) for i in config)

    best: tuple[float, frozenset[IndexDef], list[IndexDef]] | None = None
    for alpha in SIZE_WEIGHTS:
        picked = greedy(alpha)
        config = _merge_prefixes(_narrow(ev, live, _replay(ev, live, picked, options),
                                         options))
        net = value(config)
        if best is None or net > best[0]:
            best = (net, config, picked)
        if sum(size_of(i) for i in config) < (1 - SLACK) * options.budget:
            continue  # room left: weigh size less, and see whether that does better
        break
    assert best is not None
    _, chosen, picked = best
    result = _finish(ev, live, chosen, size_of, writes, options, time_weighted, outcomes,
                     searched=frozenset(picked), outweighed=outweighed)
    result.outcomes = [outcomes[t.query] for t in targets if t.query in outcomes]
    result.budget = options.budget
    result.seconds = time.perf_counter() - started
    result.evaluations = ev.evaluations
    return result


def _unchosen(ev: _Evaluator, target: Target, before: float, options: Options) -> str | None:
    """Why a statement that one candidate would have helped got nothing, or None."""
    best = ev.best_single(target)
    if best is None or not before:
        return None
    index, cost = best
    saving = 100.0 * (1 - cost / before)
    if saving < options.min_savings_pct:
        return None
    return (f"Index {index} alone would cut its cost by {saving:.0f}%, but was not chosen "
            f"for the workload: other indexes did more within the budget of "
            f"{options.budget / 1e6:,.0f} MB and {options.max_per_table} new indexes per table")


def _key_set(index: IndexDef) -> tuple[object, ...]:
    """An index with its keys in any order and direction."""
    keys = frozenset((k.column, k.expression, k.opclass) for k in index.keys)
    return (index.schema, index.table, index.method, keys, index.include, index.where,
            index.unique)


def _merge_prefixes(chosen: frozenset[IndexDef]) -> frozenset[IndexDef]:
    """Drop an index whose keys lead another chosen index: the longer one serves both."""
    return frozenset(i for i in chosen
                     if not any(i != j and i.is_prefix_of(j) for j in chosen))


def _earns(ev: _Evaluator, live: Sequence[Target], index: IndexDef,
           before: frozenset[IndexDef], after: frozenset[IndexDef], options: Options) -> bool:
    """Whether going from ``before`` to ``after`` (``index`` added or widened) passes the
    gates for a statement: one that still costs ``min_cost`` is cut by ``min_savings_pct``."""
    for t in live:
        if not t.may_use(index):
            continue
        b, a = ev.cost(t, before), ev.cost(t, after)
        if (b is not None and a is not None and b > 0 and b >= options.min_cost
                and 100.0 * (1 - a / b) >= options.min_savings_pct):
            return True
    return False


def _replay(ev: _Evaluator, live: Sequence[Target], picked: Sequence[IndexDef],
            options: Options) -> frozenset[IndexDef]:
    """The greedy's choices, in its order, keeping those that pass the gates on their own.

    The greedy takes any positive gain per byte: after a small index (a partial one,
    a BRIN, one side of a BitmapAnd) it adds a bigger one that shaves a few cost
    units more, and which of the two survives would be a matter of rounding. Each
    index must earn its place the way Dexter's statements do, given the ones chosen
    before it; then those that a later one made useless are dropped.
    """
    kept: frozenset[IndexDef] = frozenset()
    for index in picked:
        if _earns(ev, live, index, kept, kept | {index}, options):
            kept |= {index}
    for index in [i for i in picked if i in kept]:
        others = kept - {index}
        needed = False
        for t in live:
            if t.may_use(index):
                with_, without = ev.cost(t, kept), ev.cost(t, others)
                needed = needed or with_ is None or without is None or without > with_
        if not needed:
            kept = others
    return kept


def _narrower(index: IndexDef) -> IndexDef | None:
    """The index without its INCLUDE columns, else without its last key; None if one key."""
    if index.include:
        return replace(index, include=())
    if index.method == "btree" and len(index.keys) > 1:
        return replace(index, keys=index.keys[:-1])
    return None


def _narrow(ev: _Evaluator, live: Sequence[Target], chosen: frozenset[IndexDef],
            options: Options) -> frozenset[IndexDef]:
    """Drop INCLUDE columns and trailing keys that do not pass the gates on their own.

    A covering index or an extension was chosen for any gain, such as one heap
    fetch saved; its extra columns must earn their place as an index does.
    """
    for index in sorted(chosen, key=_order):
        current = index
        while (narrow := _narrower(current)) is not None and narrow not in chosen:
            fewer = chosen - {current} | {narrow}
            if _earns(ev, live, index, fewer, chosen, options) or any(
                    ev.cost(t, fewer) is None for t in live if t.may_use(index)):
                break
            chosen, current = fewer, narrow
    return chosen


def _finish(ev: _Evaluator, live: Sequence[Target], chosen: frozenset[IndexDef],
            size_of: SizeFn, writes: Mapping[tuple[str, str], TableWrites], options: Options,
            time_weighted: bool, outcomes: dict[str, Outcome],
            searched: frozenset[IndexDef] = frozenset(),
            outweighed: set[str] | frozenset[str] = frozenset()) -> Selection:
    """Keep indexes that pass the savings gate for some statement; say why the rest got none."""
    final_cost = {t.query: ev.cost(t, chosen) for t in live}
    kept: list[Choice] = []
    for index in sorted(chosen, key=_order):
        others = chosen - {index}
        helps = []
        benefit = 0.0
        for t in live:
            if not t.may_use(index):
                continue
            without, with_ = ev.cost(t, others), final_cost[t.query]
            if without is None or with_ is None or with_ >= without:
                continue
            benefit += ev.weight(t, without, with_)
            helps.append((t.query, without, with_))
        best = max((100.0 * (1 - a / b) for _, b, a in helps if b), default=0.0)
        if helps and best >= options.min_savings_pct:
            overhead = write_overhead(index, writes.get((index.schema, index.table)), live,
                                      time_weighted)
            kept.append(Choice(index, size_of(index), benefit, overhead, tuple(helps)))
    kept_set = frozenset(c.index for c in kept)
    for t in live:
        before, after = ev.base[t.query], ev.cost(t, kept_set)
        assert before is not None
        helped_by = tuple(c.index for c in kept if any(q == t.query for q, _, _ in c.helps))
        full = ev.cost(t, searched | chosen)  # every index the search chose, before the gates
        saving = 0.0 if full is None else 100.0 * (1 - full / before)
        reason: str | None = None
        code: str | None = None
        if not helped_by and saving <= 0 and t.query in outweighed:
            code = "write_overhead"
            reason = ("An index would lower its cost but cost more in writes to its table "
                      "than it saves")
        elif not helped_by and saving <= 0 and (single := _unchosen(ev, t, before, options)):
            code, reason = "not_chosen", single
        elif not helped_by:
            code = "no_gain" if saving <= 0 else "low_savings"
            reason = ("No index found that lowers its cost" if saving <= 0 else
                      f"Need {options.min_savings_pct:g}% cost savings, got {saving:.0f}%"
                      if saving < options.min_savings_pct else
                      f"No one index cuts its cost by {options.min_savings_pct:g}% (together "
                      f"they cut {saving:.0f}%)")
        outcomes[t.query] = Outcome(t.query, before, after, helped_by, reason, code)
    kept.sort(key=lambda c: c.benefit - c.overhead, reverse=True)
    return Selection(kept, [], 0, "ms" if time_weighted else "cost")
