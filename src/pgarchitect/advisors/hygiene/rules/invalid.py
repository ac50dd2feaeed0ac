"""Invalid: an index left invalid by a failed build, that no build is working on now.

A ``CREATE INDEX CONCURRENTLY`` or ``REINDEX CONCURRENTLY`` that fails (a duplicate
value for a unique index, a cancel, a deadlock) leaves its index behind: no query
uses it, but once ready every write still maintains it. It is rebuilt with
``REINDEX INDEX CONCURRENTLY`` (PostgreSQL 12+), or dropped when rebuilding cannot
succeed or is pointless: a leftover of a failed ``REINDEX CONCURRENTLY``
(``…_ccnew``/``…_ccold``), an identical valid index exists, or the values of a
unique index are not unique (checked).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect.advisors.hygiene.model import (
    Finding,
    IndexFacts,
    Snapshot,
    concurrent_create,
    drop_concurrently,
    size,
    write_evidence,
)
from pgarchitect.advisors.hygiene.rules.duplicate import body

RULE = "invalid"
REINDEX_CONCURRENTLY = 120000  # server_version_num
LEFTOVER = re.compile(r"_cc(new|old)\d*$")


def duplicates_found(conn: psycopg.Connection[Any], facts: IndexFacts) -> bool | None:
    """Whether the keys of a unique index have a value twice (None: not checked).

    Only for keys that are plain columns; NULLs are distinct, as a unique index
    counts them (unless NULLS NOT DISTINCT, then not checked).
    """
    index = facts.index
    if (index is None or not facts.unique or not index.keys or "NULLS NOT DISTINCT"
            in facts.definition or any(k.column is None for k in index.keys)):
        return None
    columns = [sql.Identifier(c) for c in index.columns]
    where = [sql.SQL("{} IS NOT NULL").format(c) for c in columns]
    if index.where:
        where.append(sql.SQL("({})").format(sql.SQL(index.where)))  # from pg_get_indexdef
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} GROUP BY {} "
                    "HAVING count(*) > 1)").format(
        sql.Identifier(facts.schema, facts.table), sql.SQL(" AND ").join(where),
        sql.SQL(", ").join(columns))
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.Error:
        return None
    return bool(row and row[0])


def find(conn: psycopg.Connection[Any], snapshot: Snapshot) -> list[Finding]:
    out = []
    valid_bodies = {(i.schema, i.table, body(i)): i for i in snapshot.indexes if i.valid}
    for facts in snapshot.indexes:
        if facts.valid or facts.building:
            continue
        twin = valid_bodies.get((facts.schema, facts.table, body(facts)))
        dupes = duplicates_found(conn, facts)
        evidence = [f"pg_index.indisvalid is false (indisready {str(facts.ready).lower()}); "
                    "no build of it is in progress (pg_stat_progress_create_index)",
                    f"size {size(facts.bytes)} (pg_class.relpages)"]
        if facts.ready:
            evidence.append(write_evidence(facts))
        drop_why = None
        if LEFTOVER.search(facts.name):
            drop_why = "a leftover of a failed REINDEX CONCURRENTLY"
        elif twin is not None:
            drop_why = f"an identical valid index exists: {twin.qualified}"
        elif dupes:
            drop_why = ("the table has duplicate values for its keys: rebuilding it fails "
                        "again; remove the duplicates, then create it again")
        elif snapshot.server_version < REINDEX_CONCURRENTLY:
            drop_why = "REINDEX CONCURRENTLY needs PostgreSQL 12"
        if dupes is not None:
            evidence.append("duplicate values found for its keys" if dupes
                            else "no duplicate values for its keys")
        maintained = (" Writes maintain it all the same." if facts.ready
                      else " Writes do not maintain it yet.")
        problem = (f"Index {facts.qualified} on {facts.table_qualified} is invalid (a failed "
                   f"concurrent build): no query can use it.{maintained}")
        entries = facts.writes.index_entries if facts.ready else 0
        if drop_why is not None:
            out.append(Finding(
                RULE, f"{facts.schema}.{facts.name}", f"{facts.schema}.{facts.table}",
                f"drop invalid index {facts.qualified}", problem,
                f"Dropped rather than rebuilt: {drop_why}. It frees {size(facts.bytes)}.",
                drop_concurrently(facts),
                "-- none needed: the index was invalid, no query could use it. To build it "
                f"again once it can succeed: {concurrent_create(facts.definition)}",
                tuple(evidence), facts.bytes, facts.write_share() if facts.ready else None,
                entries, facts={"action": "drop", "ready": facts.ready, "duplicates": dupes,
                       "why": drop_why}))
        else:
            out.append(Finding(
                RULE, f"{facts.schema}.{facts.name}", f"{facts.schema}.{facts.table}",
                f"rebuild invalid index {facts.qualified}", problem,
                "REINDEX INDEX CONCURRENTLY builds it again under the same name without "
                "blocking writes; once valid, the planner can use it. If the rebuild fails "
                f"in turn, it leaves {facts.name}_ccnew behind to drop.",
                f"REINDEX INDEX CONCURRENTLY {facts.qualified}",
                "-- none needed: the index was invalid before; a rebuild only makes it usable "
                f"(to remove it instead: {drop_concurrently(facts)})",
                tuple(evidence), 0, None, entries,
                facts={"action": "reindex", "ready": facts.ready, "duplicates": dupes}))
    return out
