"""The tables, indexes and foreign keys of the database, with their counters: one read per
audit.

Sizes are ``relpages`` * the block size from ``pg_class`` (as of the last VACUUM,
ANALYZE or CREATE INDEX): ``pg_relation_size`` opens the relation and so waits
behind any session that holds an ACCESS EXCLUSIVE lock on it (a VACUUM FULL, an
ALTER TABLE), and an audit must not. ``pg_get_indexdef`` opens the index too: an
index of a table so locked is left out, with a note. pgstattuple, which reads the
relation, runs with a short ``lock_timeout``, and a locked relation keeps its
estimate (:mod:`pgarchitect.advisors.hygiene.rules.bloat`).
"""

from __future__ import annotations

from typing import Any, Final

import pglast
import psycopg

from pgarchitect.advisors.hygiene.model import (
    ForeignKeyFacts,
    IndexFacts,
    Snapshot,
    TableFacts,
    Writes,
)
from pgarchitect.analysis import SYSTEM_SCHEMAS
from pgarchitect.catalog.index import IndexDef
from pgarchitect.catalog.tables import parse_index

# pgarchitect's own store lives in the target database too: never advised on.
OWN_SCHEMAS: Final = ("pgarchitect",)

_CONSTRAINTS: Final = {"p": "primary key", "u": "unique", "x": "exclusion"}
_ACTIONS: Final = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null",
                   "d": "set default"}

# pg_get_indexdef opens the index, so it waits behind an ACCESS EXCLUSIVE lock on it
# or its table, held or waited for (a waiter queues every later lock behind it): such
# an index is read without its definition and left out, with a note.
# Plain indexes of tables and materialized views. An index attached to a partitioned
# index cannot be dropped alone, and a partitioned index has no scans of its own:
# both are left out. last_idx_scan exists from 16 on: read through to_jsonb.
INDEXES_SQL: Final = """\
SELECT ic.oid, n.nspname, c.relname, ic.relname,
       CASE WHEN NOT lk.locked THEN pg_get_indexdef(i.indexrelid) END,
       i.indisvalid, i.indisready, i.indisunique,
       (SELECT con.contype::text FROM pg_constraint con
         WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
           AND con.contype IN ('p', 'u', 'x') LIMIT 1),
       ARRAY(SELECT con.conname::text FROM pg_constraint con
              WHERE con.contype = 'f' AND con.conindid = i.indexrelid ORDER BY 1),
       coalesce(s.idx_scan, 0), ic.relpages::bigint * %(block)s,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
                WHERE p.datid = d.oid AND (p.index_relid = i.indexrelid
                                           OR (p.relid = i.indrelid AND p.index_relid = 0))),
       (c.relpages + coalesce((SELECT sum(x.relpages) FROM pg_index j
                                JOIN pg_class x ON x.oid = j.indexrelid
                                WHERE j.indrelid = c.oid), 0)
        + coalesce(tc.relpages, 0))::bigint * %(block)s,
       (SELECT count(*) FROM pg_index j WHERE j.indrelid = c.oid AND j.indisready),
       coalesce(t.n_tup_ins, 0), coalesce(t.n_tup_upd, 0), coalesce(t.n_tup_hot_upd, 0),
       coalesce(t.n_tup_del, 0), to_jsonb(s) ->> 'last_idx_scan',
       am.amname::text, ic.reltuples,
       (SELECT CASE WHEN bool_or(k.attnum = 0) OR count(st.attname) < count(*) THEN NULL
                    ELSE sum(st.avg_width * (1 - st.null_frac)) END
          FROM unnest(i.indkey::int2[]) k(attnum)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname
                               AND st.attname = a.attname AND NOT st.inherited),
       coalesce((SELECT o.option_value::int FROM pg_options_to_table(ic.reloptions) o
                  WHERE o.option_name = 'fillfactor'), 90)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
CROSS JOIN (SELECT oid FROM pg_database WHERE datname = current_database()) d
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'relation' AND l.database = d.oid
                      AND l.relation IN (i.indrelid, i.indexrelid)
                      AND l.mode = 'AccessExclusiveLock') AS locked) lk
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
LEFT JOIN pg_stat_user_tables t ON t.relid = c.oid
WHERE ic.relkind = 'i' AND NOT ic.relispartition AND c.relkind IN ('r', 'm')
  AND NOT n.nspname = ANY(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY n.nspname, c.relname, ic.relname"""

# Foreign keys (a partition's clones of its parent's key are left out), with the
# referenced table's write counters.
FOREIGN_KEYS_SQL: Final = """\
SELECT con.conname, n.nspname, c.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord),
       fn.nspname, f.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord),
       con.confdeltype::text, con.confupdtype::text,
       (c.relpages + coalesce((SELECT sum(x.relpages) FROM pg_index j
                                JOIN pg_class x ON x.oid = j.indexrelid
                                WHERE j.indrelid = c.oid), 0)
        + coalesce((SELECT tc.relpages FROM pg_class tc WHERE tc.oid = c.reltoastrelid), 0)
       )::bigint * %(block)s,
       CASE WHEN c.relkind = 'p' THEN 'partitioned table'
            WHEN c.relispartition THEN 'partition' ELSE 'table' END,
       coalesce(t.n_tup_ins, 0), coalesce(t.n_tup_upd, 0), coalesce(t.n_tup_hot_upd, 0),
       coalesce(t.n_tup_del, 0)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class f ON f.oid = con.confrelid
JOIN pg_namespace fn ON fn.oid = f.relnamespace
LEFT JOIN pg_stat_user_tables t ON t.relid = f.oid
WHERE con.contype = 'f' AND con.conparentid = 0
  AND NOT n.nspname = ANY(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY n.nspname, c.relname, con.conname"""

# Tables and materialized views with their sizes, dead tuples, vacuums and the age of
# their oldest unfrozen transaction ID (the table's or its TOAST table's). The row
# width is the planner's (pg_stats avg_width, less NULLs), NULL unless every column
# has statistics.
TABLES_SQL: Final = """\
SELECT c.oid, n.nspname, c.relname, c.relpages::bigint, c.reltuples::float8,
       (SELECT CASE WHEN count(st.attname) < count(*) THEN NULL
                    ELSE sum(st.avg_width * (1 - st.null_frac)) END
          FROM pg_attribute a
          LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname
                               AND st.attname = a.attname AND NOT st.inherited
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0),
       coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0), coalesce(s.n_tup_hot_upd, 0),
       coalesce(s.n_tup_del, 0),
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) / 86400,
       extract(epoch FROM now() - s.last_autovacuum) / 86400,
       greatest(age(c.relfrozenxid), coalesce(age(tc.relfrozenxid), 0))::bigint,
       coalesce((SELECT o.option_value::int FROM pg_options_to_table(c.reloptions) o
                  WHERE o.option_name = 'fillfactor'), 100),
       coalesce(c.reloptions, '{}')::text[]
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm')
  AND NOT n.nspname = ANY(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY n.nspname, c.relname"""

# The block size, the database's transaction-ID age and the freeze limit, and which of
# pgstattuple and pg_repack are created in the database.
SERVER_SQL: Final = """\
SELECT current_setting('block_size')::int, current_database(),
       (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()),
       current_setting('autovacuum_freeze_max_age')::bigint,
       ARRAY(SELECT extname::text FROM pg_extension
              WHERE extname IN ('pgstattuple', 'pg_repack') ORDER BY 1)"""

# Transaction IDs assigned since the last checkpoint: the next one now (without
# taking one: the snapshot's xmax) against the checkpoint's, over the time between.
# pg_control_checkpoint() may be refused to a role that is not a superuser or
# pg_monitor's member: the rate is then unknown.
XID_RATE_SQL: Final = """\
SELECT pg_snapshot_xmax(pg_current_snapshot())::text::numeric,
       split_part(next_xid, ':', 1)::numeric * 4294967296 + split_part(next_xid, ':', 2)::numeric,
       extract(epoch FROM now() - checkpoint_time)
FROM pg_control_checkpoint()"""
MIN_RATE_SECONDS: Final = 60.0  # a checkpoint a moment ago says nothing of the rate
XID_RATE_VERSION: Final = 130000  # pg_current_snapshot

# How long the counters have counted: since this database's statistics were reset,
# else since the server started (the same window the catalog gives write counters).
RESET_SQL: Final = """\
SELECT extract(epoch FROM now() - stats_reset) / 86400, stats_reset IS NOT NULL,
       extract(epoch FROM now() - pg_postmaster_start_time()) / 86400,
       current_setting('server_version_num')::int,
       (SELECT count(*) FROM pg_stat_replication)
FROM pg_stat_database WHERE datname = current_database()"""


def _parse(definition: str) -> IndexDef | None:
    try:
        return parse_index(definition)
    except (ValueError, pglast.parser.ParseError):
        return None


def xid_rate(conn: psycopg.Connection[Any], version: int) -> tuple[float | None, str]:
    """Transaction IDs assigned per day since the last checkpoint, and where that came
    from (None and why when it is not known)."""
    if version < XID_RATE_VERSION:
        return None, "unknown: pg_current_snapshot needs PostgreSQL 13"
    try:
        with conn.transaction():
            row = conn.execute(XID_RATE_SQL).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return None, ("unknown: this role may not read pg_control_checkpoint() (grant it "
                      "pg_monitor)")
    if row is None or row[2] is None or float(row[2]) < MIN_RATE_SECONDS:
        return None, "unknown: the last checkpoint was less than a minute ago"
    now, then, seconds = float(row[0]), float(row[1]), float(row[2])
    return (max(now - then, 0.0) * 86400 / seconds,
            f"since the last checkpoint, {seconds / 3600:.1f} hours ago")


def _tables(conn: psycopg.Connection[Any], skip: dict[str, Any], block: int
            ) -> list[TableFacts]:
    out = []
    for (oid, schema, name, pages, rows, width, live, dead, ins, upd, hot, dele, vac_days,
         auto_days, xid_age, fillfactor, options) in conn.execute(TABLES_SQL, skip).fetchall():
        out.append(TableFacts(
            schema, name, int(oid), int(pages), int(pages) * block, float(rows),
            float(width) if width is not None else None, int(live), int(dead),
            Writes(int(ins), int(upd), int(hot), int(dele)),
            float(vac_days) if vac_days is not None else None,
            float(auto_days) if auto_days is not None else None, int(xid_age),
            int(fillfactor), tuple(options)))
    return out


def read_snapshot(conn: psycopg.Connection[Any]) -> Snapshot:
    """The database's tables, indexes, foreign keys and the age of its statistics."""
    server = conn.execute(SERVER_SQL).fetchone()
    assert server is not None
    block, database, db_age, freeze_max_age, extensions = server
    skip = {"skip": [*SYSTEM_SCHEMAS, *OWN_SCHEMAS], "block": int(block)}
    indexes = []
    locked: set[str] = set()
    for (oid, schema, table, name, definition, valid, ready, unique, contype, fks, scans,
         nbytes, building, table_bytes, count, ins, upd, hot, dele, last, method, tuples,
         width, fillfactor) in conn.execute(INDEXES_SQL, skip).fetchall():
        if definition is None:
            locked.add(f"{schema}.{table}")
            continue
        indexes.append(IndexFacts(
            int(oid), schema, table, name, definition, _parse(definition),
            bool(valid), bool(ready), bool(unique), _CONSTRAINTS.get(contype or ""),
            tuple(fks), int(scans), int(nbytes), bool(building), int(table_bytes), int(count),
            Writes(int(ins), int(upd), int(hot), int(dele)), last, str(method), float(tuples),
            float(width) if width is not None else None, int(fillfactor)))
    foreign_keys = []
    for (name, schema, table, cols, rschema, rtable, rcols, deltype, updtype, table_bytes,
         kind, ins, upd, hot, dele) in conn.execute(FOREIGN_KEYS_SQL, skip).fetchall():
        foreign_keys.append(ForeignKeyFacts(
            name, schema, table, tuple(cols), rschema, rtable, tuple(rcols),
            _ACTIONS.get(deltype, deltype), _ACTIONS.get(updtype, updtype), int(table_bytes),
            kind, Writes(int(ins), int(upd), int(hot), int(dele))))
    # a table whose indexes are unknown: its keys' cover is unknown too
    foreign_keys = [fk for fk in foreign_keys if f"{fk.schema}.{fk.table}" not in locked]
    row = conn.execute(RESET_SQL).fetchone()
    assert row is not None
    reset_days, was_reset, up_days, version, replicas = row
    if was_reset:
        days, source = float(reset_days), "since pg_stat_database.stats_reset"
    else:
        days, source = float(up_days), "never reset: since the server started"
    rate, rate_source = xid_rate(conn, int(version))
    return Snapshot(indexes, foreign_keys, days, source, int(version), int(replicas or 0),
                    tables=_tables(conn, skip, int(block)), block_size=int(block),
                    database=str(database), database_xid_age=int(db_age),
                    freeze_max_age=int(freeze_max_age), xid_per_day=rate,
                    xid_rate_source=rate_source, extensions=tuple(extensions),
                    locked=tuple(sorted(locked)),
                    notes=[f"Hygiene: the indexes of {t} were left out: another session holds "
                           "or waits for an ACCESS EXCLUSIVE lock on it. Run the audit again "
                           "once it is released." for t in sorted(locked)])
