"""Duplicate: an index identical to another, or a b-tree whose keys lead another's.

Identical means the same definition but the name (method, keys, operator classes,
INCLUDE, predicate, storage parameters: ``pg_get_indexdef`` without the name). A
prefix is a b-tree index whose keys are the first keys of another b-tree index on
the same table, with the same predicate: the longer one serves every lookup the
shorter one serves. The index dropped never enforces anything (no constraint, no
foreign key depends on it; a unique prefix is stronger than the longer index and
stays); of identical ones, the one that enforces something, else the most scanned,
stays.
"""

from __future__ import annotations

from itertools import groupby

from pgarchitect.advisors.hygiene.model import (
    Finding,
    IndexFacts,
    Limits,
    Snapshot,
    concurrent_create,
    drop_concurrently,
    size,
    write_evidence,
)
from pgarchitect.catalog.index import quote

RULE = "duplicate"


def body(facts: IndexFacts) -> str:
    """The definition without the index's name: equal bodies are identical indexes.

    >>> from pgarchitect.advisors.hygiene.model import Writes
    >>> body(IndexFacts(1, "public", "t", "T i", 'CREATE INDEX "T i" ON public.t USING '
    ...      "btree (a)", None, True, True, False, None, (), 0, 0, False, 0, 1, Writes()))
    'INDEX ON public.t USING btree (a)'
    """
    for head in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        named = f"{head}{quote(facts.name)} "
        if facts.definition.startswith(named):
            return f"{head.removeprefix('CREATE ')}{facts.definition[len(named):]}"
    return facts.definition  # unexpected: never equal to another's


def _rank(facts: IndexFacts) -> tuple[bool, bool, int, str]:
    """Which of identical indexes stays: the smallest rank."""
    return (facts.protected is None, not facts.unique, -facts.scans, facts.name)


def _finding(facts: IndexFacts, keeper: IndexFacts, how: str, snapshot: Snapshot) -> Finding:
    identical = how == "identical"
    evidence = [
        f"{'identical to' if identical else 'its keys lead'} {keeper.qualified}: "
        f"{keeper.definition}",
        f"scans since the reset: {facts.scans:,} here, {keeper.scans:,} on "
        f"{keeper.qualified}",
        f"size {size(facts.bytes)} (pg_class.relpages)", write_evidence(facts)]
    if identical:
        problem = (f"Index {facts.qualified} is identical to {keeper.qualified}: every write "
                   "maintains both, queries need one")
        why = f"{keeper.qualified} has the same definition"
    else:
        problem = (f"Index {facts.qualified} is a prefix of {keeper.qualified}: the longer "
                   "index serves every lookup it serves")
        why = (f"{keeper.qualified} starts with the same keys, with the same predicate; "
               "lookups on the shorter keys read a slightly larger index")
    used = (f" Its {facts.scans:,} scans move to {keeper.qualified}." if facts.scans else "")
    return Finding(
        RULE, f"{facts.schema}.{facts.name}", f"{facts.schema}.{facts.table}",
        f"drop {'duplicate' if identical else 'redundant'} index {facts.qualified}",
        problem,
        f"{why}; dropping {facts.qualified} frees {size(facts.bytes)} and "
        f"~{facts.write_share():.0%} of each insert's and non-HOT update's work.{used}",
        drop_concurrently(facts), concurrent_create(facts.definition), tuple(evidence),
        facts.bytes, facts.write_share(), facts.writes.index_entries,
        keeper=f"{keeper.schema}.{keeper.name}",
        facts={"how": how, "scans": facts.scans, "keeper_scans": keeper.scans,
               "reset_days": (round(snapshot.reset_days, 2)
                              if snapshot.reset_days is not None else None)})


def find(snapshot: Snapshot, limits: Limits) -> list[Finding]:
    out: list[Finding] = []
    usable = [i for i in snapshot.indexes if i.valid and i.ready and not i.building]
    for _, group in groupby(usable, key=lambda i: (i.schema, i.table)):
        indexes = list(group)
        dropped: set[int] = set()
        by_body: dict[str, list[IndexFacts]] = {}
        for i in indexes:
            by_body.setdefault(body(i), []).append(i)
        for same in by_body.values():
            keeper, *others = sorted(same, key=_rank)
            for i in others:
                if i.protected is None:
                    out.append(_finding(i, keeper, "identical", snapshot))
                    dropped.add(i.oid)
        for i in indexes:
            if (i.oid in dropped or i.protected or i.unique or i.index is None
                    or i.index.method != "btree"):
                continue
            covers = [o for o in indexes
                      if o.oid != i.oid and o.oid not in dropped and o.index is not None
                      and o.index.method == "btree" and i.index.is_prefix_of(o.index)
                      and (len(o.index.keys) > len(i.index.keys) or o.unique)]
            if covers:
                keeper = max(covers, key=lambda o: (len(o.index.keys) if o.index else 0,
                                                    o.protected is not None, o.scans, o.name))
                out.append(_finding(i, keeper, "prefix", snapshot))
                dropped.add(i.oid)
    return out
