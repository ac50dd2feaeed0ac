"""Unused: an index no query has scanned since the statistics were reset.

Only when the statistics have counted long enough (``min_days``), for an index that
enforces nothing (not unique, backing no constraint, no foreign key depends on it)
and is large enough to matter. Its rollback is its own definition, built
concurrently.
"""

from __future__ import annotations

from pgarchitect.advisors.hygiene.model import (
    Finding,
    IndexFacts,
    Limits,
    Snapshot,
    concurrent_create,
    drop_concurrently,
    leads_with,
    reset_text,
    size,
    write_evidence,
)

RULE = "unused"


def lone_fk_cover(snapshot: Snapshot, facts: IndexFacts) -> str | None:
    """The foreign key this index is the only cover of, if any: without it, each delete
    or key update on the referenced table scans the referencing table."""
    for fk in snapshot.foreign_keys:
        if (fk.schema, fk.table) != (facts.schema, facts.table) or not leads_with(
                facts, fk.columns):
            continue
        others = [i for i in snapshot.indexes
                  if (i.schema, i.table) == (facts.schema, facts.table) and i.oid != facts.oid
                  and leads_with(i, fk.columns)]
        if not others:
            return fk.name
    return None


def find(snapshot: Snapshot, limits: Limits) -> list[Finding]:
    days = snapshot.reset_days
    if days is None or days < limits.min_days:
        return []
    out = []
    for facts in snapshot.indexes:
        if (not facts.valid or facts.scans > 0 or facts.unique or facts.protected
                or facts.building or facts.bytes < limits.min_bytes):
            continue
        evidence = [f"0 scans in {days:.1f} days ({reset_text(snapshot)})",
                    f"size {size(facts.bytes)} (pg_class.relpages)", write_evidence(facts)]
        if facts.last_scan:
            evidence.append(f"last scanned {facts.last_scan} (before the reset)")
        fk = lone_fk_cover(snapshot, facts)
        if fk is not None:
            evidence.append(f"the only index leading with the columns of foreign key {fk}: "
                            "without it, deletes on the referenced table scan this table")
        expression = facts.index is not None and any(
            k.expression is not None for k in facts.index.keys)
        if expression:
            evidence.append("an expression index: ANALYZE keeps statistics on its expression "
                            "that the planner's estimates may rely on")
        out.append(Finding(
            RULE, f"{facts.schema}.{facts.name}", f"{facts.schema}.{facts.table}",
            f"drop unused index {facts.qualified}",
            f"Index {facts.qualified} on {facts.table_qualified} was not scanned once in "
            f"{days:.0f} days, yet every write maintains it",
            f"No statement used it since the statistics were reset {days:.1f} days ago; "
            f"dropping it frees {size(facts.bytes)} and ~{facts.write_share():.0%} of each "
            "insert's and non-HOT update's work. It enforces nothing (not unique, no "
            "constraint). Scans on standbys are not counted on the primary: check them first.",
            drop_concurrently(facts), concurrent_create(facts.definition), tuple(evidence),
            facts.bytes, facts.write_share(), facts.writes.index_entries,
            facts={"scans": facts.scans, "reset_days": round(days, 2),
                   "last_scan": facts.last_scan, "lone_fk_cover": fk,
                   "expression": expression, "replicas": snapshot.replicas}))
    return out
