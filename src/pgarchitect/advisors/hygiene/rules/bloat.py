"""Bloat: a table or b-tree index much larger than its rows need.

Estimated from the catalog, the well-known way: the pages its rows would fill
(``reltuples`` * the average row or key width from ``pg_stats``, with tuple headers,
line pointers and the fillfactor) against ``relpages``. When pgstattuple is created
in the database, the free space is measured instead (``pgstattuple_approx`` for a
table, ``pgstatindex`` for a b-tree), each with a short ``lock_timeout``: a locked
relation keeps its estimate. Every finding says which it used.

An index is rebuilt with ``REINDEX INDEX CONCURRENTLY`` (writes go on). A table is
rewritten by pg_repack when it is installed (online, brief locks at the start and
end); otherwise by ``VACUUM FULL``, which holds an ACCESS EXCLUSIVE lock for the
whole rewrite: reads and writes wait. Plain ``VACUUM`` frees nothing to the operating
system, but lets new rows reuse the space: the reasoning says so.
"""

from __future__ import annotations

import math
from typing import Any, Final

import psycopg
from psycopg import sql

from pgarchitect.advisors.hygiene.model import (
    Exact,
    Finding,
    IndexFacts,
    Limits,
    Snapshot,
    TableFacts,
    render,
    size,
)
from pgarchitect.proposal import Factor

RULE = "bloat"
# Page layout (https://www.postgresql.org/docs/current/storage-page-layout.html).
PAGE_HEADER: Final = 24
LINE_POINTER: Final = 4
HEAP_TUPLE_HEADER: Final = 24  # 23 bytes, MAXALIGNed
INDEX_TUPLE_HEADER: Final = 8
BTREE_SPECIAL: Final = 16  # the b-tree page's opaque data
MAXALIGN: Final = 8
BTREE_INTERNAL: Final = 1.01  # internal pages over leaf pages, and the metapage
MAX_EXACT: Final = 20  # relations pgstattuple reads per audit (the largest first)
EXACT_LOCK_TIMEOUT: Final = "100ms"  # a locked relation keeps its estimate
REINDEX_CONCURRENTLY: Final = 120000

ESTIMATED = 0.75  # an estimate from averages: the real free space may differ
MEASURED = 1.0
REBUILD_ONLINE = 0.95  # REINDEX CONCURRENTLY or pg_repack: nothing waits long
FULL_LOCK = 0.6  # VACUUM FULL: the table is locked for the whole rewrite

# pgstattuple, its schema composed in: the free space beyond the fillfactor.
TABLE_EXACT_SQL: Final = ("SELECT (approx_free_space + dead_tuple_len)::bigint, table_len "
                          "FROM {}(%s::oid::regclass)")
INDEX_EXACT_SQL: Final = ("SELECT leaf_pages, avg_leaf_density, deleted_pages, empty_pages, "
                          "index_size FROM {}(%s::oid::regclass)")
EXTENSION_SCHEMA_SQL: Final = """\
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pgstattuple'"""


def _align(n: float) -> float:
    return math.ceil(n / MAXALIGN) * MAXALIGN


def table_free_bytes(t: TableFacts, block: int) -> int | None:
    """Bytes of a table beyond the pages its rows fill (None: no statistics).

    >>> t = TableFacts("public", "t", pages=1000, rows=10000.0, row_width=100.0)
    >>> table_free_bytes(t, 8192)
    6848512
    """
    if t.row_width is None or t.rows < 0 or t.pages == 0:
        return None
    per_tuple = HEAP_TUPLE_HEADER + _align(t.row_width) + LINE_POINTER
    per_page = max(math.floor((block - PAGE_HEADER) * t.fillfactor / 100 / per_tuple), 1)
    expected = math.ceil(t.rows / per_page)
    return max(t.pages - expected, 0) * block


def index_free_bytes(i: IndexFacts, block: int) -> int | None:
    """Bytes of a b-tree beyond the pages its entries fill (None: not a b-tree, or an
    expression key without statistics). B-tree deduplication (13+) packs repeated keys
    tighter than this counts: the estimate is low, never high, for those.

    >>> from pgarchitect.advisors.hygiene.model import Writes
    >>> i = IndexFacts(1, "public", "t", "t_a", "", None, True, True, False, None, (), 0,
    ...                500 * 8192, False, 0, 1, Writes(), tuples=10000.0, key_width=8.0)
    >>> index_free_bytes(i, 8192)
    3850240
    """
    if i.method != "btree" or i.key_width is None or i.tuples < 0 or i.bytes == 0:
        return None
    per_tuple = INDEX_TUPLE_HEADER + _align(i.key_width) + LINE_POINTER
    usable = (block - PAGE_HEADER - BTREE_SPECIAL) * i.fillfactor / 100
    per_page = max(math.floor(usable / per_tuple), 1)
    expected = math.ceil(math.ceil(i.tuples / per_page) * BTREE_INTERNAL) + 1
    return max(i.bytes - expected * block, 0)


def _schema(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(EXTENSION_SCHEMA_SQL).fetchone()
    return str(row[0]) if row else None


def _read_exact(conn: psycopg.Connection[Any], query: sql.Composed, oid: int,
                ) -> tuple[Any, ...] | str:
    """One pgstattuple row, or why not (a lock, a privilege, a timeout)."""
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", [EXACT_LOCK_TIMEOUT])
            row = conn.execute(query, [oid]).fetchone()
    except psycopg.errors.LockNotAvailable:
        return "locked by another session"
    except psycopg.errors.InsufficientPrivilege:
        return "refused: grant the role pg_stat_scan_tables"
    except psycopg.errors.QueryCanceled:
        return "ran past statement_timeout"
    return tuple(row) if row else "returned nothing"


def measure_exact(conn: psycopg.Connection[Any], snapshot: Snapshot, limits: Limits
                  ) -> dict[str, Exact]:
    """Free space measured with pgstattuple for the largest tables and b-trees that could
    be bloated (at least ``bloat_bytes``): {} when pgstattuple is not created."""
    if "pgstattuple" not in snapshot.extensions:
        return {}
    schema = _schema(conn)
    if schema is None:
        return {}
    table_sql = sql.SQL(TABLE_EXACT_SQL).format(sql.Identifier(schema, "pgstattuple_approx"))
    index_sql = sql.SQL(INDEX_EXACT_SQL).format(sql.Identifier(schema, "pgstatindex"))
    todo: list[tuple[int, str, int, bool, int]] = [
        (t.bytes, t.qualified, t.oid, True, t.fillfactor) for t in snapshot.tables
        if t.bytes >= limits.bloat_bytes]
    todo += [(i.bytes, f"{i.schema}.{i.name}", i.oid, False, i.fillfactor)
             for i in snapshot.indexes
             if i.bytes >= limits.bloat_bytes and i.method == "btree" and i.valid]
    out: dict[str, Exact] = {}
    for _, name, oid, is_table, fillfactor in sorted(todo, reverse=True)[:MAX_EXACT]:
        row = _read_exact(conn, table_sql if is_table else index_sql, oid)
        if isinstance(row, str):
            out[name] = Exact(None, row)
        elif is_table:
            free, length = int(row[0]), int(row[1])
            reserved = int(length * (100 - fillfactor) / 100)  # the fillfactor's own room
            out[name] = Exact(max(free - reserved, 0), "pgstattuple_approx")
        else:
            leaf, density, deleted, empty, length = row
            wanted = fillfactor / 100 - float(density) / 100  # below the fillfactor's density
            spare = (int(leaf) * snapshot.block_size * max(wanted, 0.0)
                     + (int(deleted) + int(empty)) * snapshot.block_size)
            out[name] = Exact(min(int(spare), int(length)), "pgstatindex")
    return out


def _how(name: str, estimate: int | None, snapshot: Snapshot) -> tuple[int | None, str, bool]:
    """The free bytes to judge by, how they were found, and whether measured."""
    exact = snapshot.exact.get(name)
    if exact is not None and exact.free_bytes is not None:
        return exact.free_bytes, f"measured with {exact.source}", True
    how = "estimated from pg_class and pg_stats"
    if exact is not None:
        how += f" (pgstattuple: {exact.source})"
    return estimate, how, False


def _index_finding(i: IndexFacts, free: int, how: str, exact: bool,
                   snapshot: Snapshot) -> Finding:
    ident = sql.Identifier(i.schema, i.name)
    concurrent = snapshot.server_version >= REINDEX_CONCURRENTLY
    forward = render(sql.SQL("REINDEX INDEX CONCURRENTLY {}" if concurrent
                             else "REINDEX INDEX {}").format(ident))
    share = free / i.bytes
    lock = ("REINDEX CONCURRENTLY builds a new copy beside the old one and swaps them: "
            "reads and writes go on; it needs the index's size again in free disk space "
            "while it runs." if concurrent else
            "Before PostgreSQL 12 REINDEX blocks writes to the table while it runs.")
    return Finding(
        RULE, f"{i.schema}.{i.name}", f"{i.schema}.{i.table}",
        f"rebuild bloated index {i.schema}.{i.name}",
        f"Index {i.schema}.{i.name} is {share:.0%} free space ({size(free)} of "
        f"{size(i.bytes)}, {how})",
        f"A rebuild packs its entries again and frees about {size(free)}. {lock} It frees "
        "no write work: each write still adds the same entries. If it fails, it leaves "
        f"{i.name}_ccnew behind to drop.",
        forward,
        "-- none needed: a rebuild keeps the index's definition; it only packs it",
        (f"size {size(i.bytes)} (pg_class.relpages), free {size(free)} ({how})",
         f"{i.tuples:,.0f} entries of ~{i.key_width or 0:.0f} bytes of keys, fillfactor "
         f"{i.fillfactor}"),
        free, None, 0,
        facts={"object": "index", "free_bytes": free, "bytes": i.bytes,
               "share": round(share, 3), "exact": exact, "how": how},
        factors=(Factor("free space", MEASURED if exact else ESTIMATED, how),
                 Factor("online rebuild", REBUILD_ONLINE if concurrent else FULL_LOCK,
                        "REINDEX CONCURRENTLY" if concurrent else "REINDEX blocks writes")))


def _table_finding(t: TableFacts, free: int, how: str, exact: bool,
                   snapshot: Snapshot) -> Finding:
    share = free / t.bytes
    full = render(sql.SQL("VACUUM (FULL, ANALYZE) {}").format(t.identifier))
    reuse = render(sql.SQL("VACUUM (ANALYZE) {}").format(t.identifier))
    if "pg_repack" in snapshot.extensions:
        forward = (f"-- pg_repack is a shell command, not SQL: pg_repack --no-order "
                   f"--dbname={snapshot.database} --table={t.qualified}")
        method = ("pg_repack rewrites it online: it holds an ACCESS EXCLUSIVE lock only "
                  "briefly at the start and the end, and needs the table's size again in "
                  "free disk space while it runs.")
        factor = Factor("online rewrite", REBUILD_ONLINE, "pg_repack")
    else:
        forward = full
        method = (f"pg_repack is not installed: VACUUM FULL rewrites it, holding an ACCESS "
                  f"EXCLUSIVE lock on {t.qualified} for the whole rewrite (every read and "
                  "write of it waits): run it in a maintenance window, with the table's "
                  "size again in free disk space. Installing pg_repack "
                  "(CREATE EXTENSION pg_repack) avoids the lock.")
        factor = Factor("locking rewrite", FULL_LOCK, "VACUUM FULL holds ACCESS EXCLUSIVE")
    return Finding(
        RULE, t.qualified, t.qualified, f"rewrite bloated table {t.qualified}",
        f"Table {t.qualified} is {share:.0%} free space ({size(free)} of {size(t.bytes)}, "
        f"{how})",
        f"A rewrite frees about {size(free)} to the operating system. {method} Without a "
        f"rewrite, {reuse} lets new rows reuse the space (no lock that blocks reads or "
        "writes), which frees nothing on disk but stops the table growing. It frees no "
        "write work.",
        forward,
        "-- none needed: a rewrite keeps every row and the table's definition",
        (f"size {size(t.bytes)} (pg_class.relpages), free {size(free)} ({how})",
         f"{t.rows:,.0f} rows of ~{t.row_width or 0:.0f} bytes, fillfactor {t.fillfactor}; "
         f"{t.dead:,} dead tuples"),
        free, None, 0,
        facts={"object": "table", "free_bytes": free, "bytes": t.bytes,
               "share": round(share, 3), "exact": exact, "how": how,
               "method": "pg_repack" if "pg_repack" in snapshot.extensions else "vacuum full",
               "reuse_instead": reuse},
        factors=(Factor("free space", MEASURED if exact else ESTIMATED, how), factor))


def find(snapshot: Snapshot, limits: Limits) -> list[Finding]:
    """Tables and b-trees whose free space is above both ``bloat_share`` and
    ``bloat_bytes``. A table with dead tuples above ``dead_ratio`` is the vacuum
    rule's: what a VACUUM leaves free is judged after it."""
    out = []
    block = snapshot.block_size
    for t in snapshot.tables:
        if t.dead > 0 and t.dead_ratio >= limits.dead_ratio:
            continue  # dead tuples, not free space: the vacuum rule's VACUUM comes first
        free, how, exact = _how(t.qualified, table_free_bytes(t, block), snapshot)
        if free is not None and t.bytes and free >= limits.bloat_bytes and (
                free / t.bytes >= limits.bloat_share):
            out.append(_table_finding(t, free, how, exact, snapshot))
    for i in snapshot.indexes:
        if not i.valid or i.building:
            continue  # an invalid index is the invalid rule's
        free, how, exact = _how(f"{i.schema}.{i.name}", index_free_bytes(i, block), snapshot)
        if free is not None and i.bytes and free >= limits.bloat_bytes and (
                free / i.bytes >= limits.bloat_share):
            out.append(_index_finding(i, free, how, exact, snapshot))
    return out
