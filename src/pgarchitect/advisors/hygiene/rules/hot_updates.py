"""HOT updates: a table with many updates, few of them HOT, because of what is indexed.

An update is HOT (heap-only) when it changes no indexed column and the new row fits
on the same page: then no index gets a new entry. An index on a column the
workload's UPDATE statements set (their ``SET`` columns, from the analysis) makes
every such update write an entry to every index of the table. When that index is
little used (fewer scans than 1% of the non-HOT updates it costs) and enforces
nothing, dropping it makes those updates HOT-eligible. When updates that set no
indexed column are still not HOT, the pages are full: a lower ``fillfactor`` leaves
room on pages written from now on (a rewrite is needed for the pages there are).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from psycopg import sql

from pgarchitect.advisors.base import Subject
from pgarchitect.advisors.hygiene.model import (
    Finding,
    IndexFacts,
    Limits,
    Snapshot,
    TableFacts,
    concurrent_create,
    drop_concurrently,
    render,
    size,
)
from pgarchitect.proposal import Factor

RULE = "hot_updates"
LITTLE_USED: Final = 0.01  # scans below this share of the non-HOT updates it costs
FILLFACTOR: Final = 90
SCANNED = 0.75  # a used index: its readers lose it
FILLFACTOR_LATER = 0.8  # helps only pages written from now on


def updated_columns(subjects: Sequence[Subject]) -> dict[tuple[str, str], set[str]]:
    """(schema, table) -> the columns the workload's UPDATE statements set."""
    out: dict[tuple[str, str], set[str]] = {}
    for s in subjects:
        if s.analysis.error or s.analysis.kind != "update":
            continue
        for c in s.analysis.set_columns:
            out.setdefault((c.schema, c.table), set()).add(c.column)
    return out


def _statements(subjects: Sequence[Subject], t: TableFacts) -> list[tuple[str, set[str]]]:
    out = []
    for s in subjects:
        if s.analysis.error or s.analysis.kind != "update":
            continue
        cols = {c.column for c in s.analysis.set_columns if (c.schema, c.table) == (
            t.schema, t.name)}
        if cols:
            out.append((s.query, cols))
    return out


def indexed_columns(i: IndexFacts) -> set[str] | None:
    """The columns an index keys on (None: an expression or predicate hides some)."""
    if i.index is None or i.index.where is not None or any(
            k.column is None for k in i.index.keys):
        return None
    return {k.column for k in i.index.keys if k.column is not None} | set(i.index.include)


def _drop(i: IndexFacts, t: TableFacts, cols: set[str], share: float) -> Finding:
    non_hot = max(t.writes.updates - t.writes.hot_updates, 0)
    return Finding(
        RULE, f"{i.schema}.{i.name}", t.qualified,
        f"drop index {i.schema}.{i.name} that stops HOT updates",
        f"Index {i.schema}.{i.name} is on {', '.join(sorted(cols))}, which the workload's "
        f"updates set: {share:.0%} of {t.writes.updates:,} updates of {t.qualified} were "
        "HOT",
        f"It was scanned {i.scans:,} times while {non_hot:,} non-HOT updates wrote to it and "
        f"to every other index of the table. Dropping it frees {size(i.bytes)}, "
        f"~{i.write_share():.0%} of each insert's work, and makes updates that set only "
        f"{', '.join(sorted(cols))} HOT-eligible: they then write to no index at all. It "
        "enforces nothing (not unique, no constraint).",
        drop_concurrently(i), concurrent_create(i.definition),
        (f"{t.writes.text()} since the reset ({share:.0%} HOT)",
         f"{i.scans:,} scans of it since the reset", f"size {size(i.bytes)} "
         "(pg_class.relpages)"),
        i.bytes, i.write_share(), i.writes.index_entries,
        facts={"hot_share": round(share, 3), "updates": t.writes.updates,
               "non_hot_updates": non_hot, "scans": i.scans,
               "updated_columns": sorted(cols)},
        factors=(Factor("index use", 1.0 if i.scans == 0 else SCANNED,
                        f"{i.scans:,} scans since the reset"),))


def _fillfactor(t: TableFacts, share: float, statements: list[tuple[str, set[str]]]
                ) -> Finding:
    forward = render(sql.SQL("ALTER TABLE {} SET (fillfactor = {})").format(
        t.identifier, sql.Literal(FILLFACTOR)))
    if any(o.startswith("fillfactor=") for o in t.options):
        rollback = render(sql.SQL("ALTER TABLE {} SET (fillfactor = {})").format(
            t.identifier, sql.Literal(t.fillfactor)))
    else:
        rollback = render(sql.SQL("ALTER TABLE {} RESET (fillfactor)").format(t.identifier))
    non_hot = max(t.writes.updates - t.writes.hot_updates, 0)
    return Finding(
        RULE, t.qualified, t.qualified,
        f"leave room for HOT updates in {t.qualified} (fillfactor {FILLFACTOR})",
        f"Only {share:.0%} of {t.writes.updates:,} updates of {t.qualified} were HOT, though "
        "some set no indexed column: its pages have no room for the new row versions",
        f"With fillfactor {FILLFACTOR}, inserts leave {100 - FILLFACTOR}% of each new page "
        "free, so an update that sets no indexed column can put its new version on the "
        f"same page and write no index entry (up to {non_hot:,} index writes of each index "
        "per window saved). It applies to pages written from now on: the pages there are "
        "get room only after a rewrite (pg_repack, or VACUUM FULL with its ACCESS EXCLUSIVE "
        f"lock). The table grows by about {100 - FILLFACTOR}% as it is rewritten; no space "
        "is freed.",
        forward, rollback,
        (f"{t.writes.text()} since the reset ({share:.0%} HOT)",
         f"fillfactor {t.fillfactor} now",
         *(f"sets no indexed column: {q}" for q, _ in statements[:3])),
        0, None, non_hot,
        facts={"hot_share": round(share, 3), "updates": t.writes.updates,
               "non_hot_updates": non_hot, "fillfactor": FILLFACTOR},
        factors=(Factor("new pages only", FILLFACTOR_LATER,
                        "existing pages need a rewrite"),))


def find(snapshot: Snapshot, limits: Limits, subjects: Sequence[Subject] = ()
         ) -> list[Finding]:
    """Tables with ``hot_min_updates`` updates or more, a HOT share below ``hot_max_share``
    and updated columns known from the workload."""
    out: list[Finding] = []
    for t in snapshot.tables:
        updates = t.writes.updates
        if (updates < limits.hot_min_updates or updates == 0
                or t.qualified in snapshot.locked):  # its indexes are unknown
            continue
        share = t.writes.hot_updates / updates
        statements = _statements(subjects, t)
        if share >= limits.hot_max_share or not statements:
            continue
        updated = set().union(*(cols for _, cols in statements))
        indexes = [i for i in snapshot.indexes
                   if (i.schema, i.table) == (t.schema, t.name) and i.ready]
        non_hot = updates - t.writes.hot_updates
        free_of_index = []
        for query, cols in statements:
            hit = [i for i in indexes
                   if (indexed_columns(i) or set()) & cols or indexed_columns(i) is None]
            if not hit:
                free_of_index.append((query, cols))
        for i in indexes:
            on = (indexed_columns(i) or set()) & updated
            if (on and not i.unique and i.protected is None and i.valid and not i.building
                    and i.scans < LITTLE_USED * non_hot):
                out.append(_drop(i, t, on, share))
        if free_of_index and t.fillfactor > FILLFACTOR:
            out.append(_fillfactor(t, share, free_of_index))
    return out
