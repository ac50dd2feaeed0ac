"""The plan note and the usage line: how a plan reads the tables, how often it runs."""

from __future__ import annotations

from collections.abc import Sequence

from pgarchitect.explain.words import sentence
from pgarchitect.plans import Plan, PlanNode
from pgarchitect.workload import Statement


def plan_note(plan: Plan) -> str:
    """How a plan reads its tables, its spills and its worst row estimate, in one sentence."""
    parts: list[str] = []
    for node in plan.nodes():
        if node.relation is None or "Scan" not in node.node_type:
            continue
        text = _scan_words(node, list(node.walk())[1:])
        if text and text not in parts:
            parts.append(text)
    spills = [n for n in plan.sorts() if n.spilled]
    if spills:
        parts.append(f"sorts on disk ({_count(spills[0].sort_space_kb or 0)} kB)")
    if any(n.spilled and n.node_type == "Hash" for n in plan.nodes()):
        parts.append("hashes in batches on disk")
    errors = plan.estimate_errors() if plan.analyzed else ()
    if errors:
        e = errors[0]
        where = _relation_name(e.node.relation) if e.node.relation else \
            f"the {e.node.node_type}"
        parts.append(f"the planner expected {_rows_words(e.estimated)} from {where} "
                     f"but got {_count(e.actual)}")
    if plan.execution_ms is not None:
        parts.append(f"runs in {duration(plan.execution_ms)}")
    elif not plan.analyzed:
        parts.append(f"estimated cost {plan.total_cost:,.0f}")
    if not parts:
        return f"Plan: {plan.root.node_type}."
    return sentence("; ".join(parts))


def usage(statement: Statement) -> str:
    """How often a statement runs and what it costs, from its workload counters.

    >>> usage(Statement("SELECT 1", calls=1204, total_ms=978_000, mean_ms=812.3, rows=3612,
    ...                 shared_blks_hit=97, shared_blks_read=3))
    'Called 1,204 times, 812 ms on average (16 min in total), 3 rows per call, 97% of reads \
from cache.'
    """
    if statement.calls <= 0:
        return "Not called in the workload's window."
    parts = [f"Called {statement.calls:,} time{'s' if statement.calls != 1 else ''}",
             f"{duration(statement.mean_ms)} on average ({duration(statement.total_ms)} in total)",
             f"{statement.rows / statement.calls:,.3g} rows per call"]
    if statement.hit_ratio is not None:
        parts.append(f"{statement.hit_ratio:.0%} of reads from cache")
    return ", ".join(parts) + "."


def duration(ms: float) -> str:
    """A time in milliseconds, in the unit that reads best.

    >>> duration(0.42), duration(812.4), duration(3200), duration(960_000), duration(9e6)
    ('0.42 ms', '812 ms', '3.2 s', '16 min', '2.5 h')
    """
    if ms < 10:
        return f"{ms:.2g} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2g} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.0f} min"
    return f"{ms / 3_600_000:.2g} h"


def _scan_words(node: PlanNode, below: Sequence[PlanNode]) -> str | None:
    """How one scan reads its table: "reads all of orders (sequential scan, ~60,000 rows)"."""
    table = _relation_name(node.relation)
    rows = _rows(node)
    measured = node.actual_rows is not None
    about = "" if measured else "~"
    if node.node_type == "Seq Scan":
        removed = node.rows_removed_by_filter
        if measured and removed:
            total = rows + removed * (node.loops or 1)
            return f"reads all of {table} (sequential scan), keeping {_count(rows)} of " \
                   f"{_rows_words(total)}"
        return f"reads all of {table} (sequential scan, {_rows_words(rows, about)})"
    index = node.index_name or next((n.index_name for n in below if n.index_name), None)
    if index is None or node.relation is None:
        return None
    how = _index_words(index, node.relation)
    all_of = "all of " if node.index_cond is None else ""
    kind = " (bitmap)" if node.node_type == "Bitmap Heap Scan" else \
        " (index only)" if node.node_type == "Index Only Scan" else ""
    return f"reads {all_of}{table} through {how}{kind}, {_rows_words(rows, about)}"


def _rows(node: PlanNode) -> float:
    """The rows a node returned in all its loops, else the rows the planner expected."""
    if node.actual_rows is not None:
        return node.actual_rows * (node.loops or 1)
    return node.plan_rows


def _relation_name(qualified: str | None) -> str:
    name = qualified or "?"
    return name.removeprefix("public.")


def _index_words(index: str, table: str) -> str:
    """"the timestamp index" for BehaviorLog_timestamp_idx; the name when it says nothing.

    >>> _index_words("public.BehaviorLog_timestamp_idx", "public.BehaviorLog")
    'the timestamp index'
    >>> _index_words("public.User_pkey", "public.User"), _index_words("ix_9", "t")
    ('the primary key', 'the index ix_9')
    """
    name = index.rpartition(".")[2]
    short = table.rpartition(".")[2]
    if name == f"{short}_pkey":
        return "the primary key"
    if name.startswith(f"{short}_"):
        middle = name[len(short) + 1:]
        for suffix, what in (("_idx", "index"), ("_key", "unique index"), ("_index", "index")):
            if middle.endswith(suffix) and len(middle) > len(suffix):
                return f"the {middle[:-len(suffix)]} {what}"
    return f"the index {name}"


def _count(n: float) -> str:
    """A count with thousands separators."""
    return f"{round(n):,}"


def _rows_words(n: float, about: str = "") -> str:
    """A number of rows in words.

    >>> _rows_words(1), _rows_words(60000, "~")
    ('1 row', '~60,000 rows')
    """
    return f"{about}{_count(n)} row{'' if round(n) == 1 else 's'}"
