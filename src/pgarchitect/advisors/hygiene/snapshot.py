"""The indexes and foreign keys of the database, with their counters: one read per audit."""

from __future__ import annotations

from typing import Any, Final

import pglast
import psycopg

from pgarchitect.advisors.hygiene.model import ForeignKeyFacts, IndexFacts, Snapshot, Writes
from pgarchitect.analysis import SYSTEM_SCHEMAS
from pgarchitect.catalog.index import IndexDef
from pgarchitect.catalog.tables import parse_index

# pgarchitect's own store lives in the target database too: never advised on.
OWN_SCHEMAS: Final = ("pgarchitect",)

_CONSTRAINTS: Final = {"p": "primary key", "u": "unique", "x": "exclusion"}
_ACTIONS: Final = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null",
                   "d": "set default"}

# Plain indexes of tables and materialized views. An index attached to a partitioned
# index cannot be dropped alone, and a partitioned index has no scans of its own:
# both are left out. last_idx_scan exists from 16 on: read through to_jsonb.
INDEXES_SQL: Final = """\
SELECT ic.oid, n.nspname, c.relname, ic.relname, pg_get_indexdef(i.indexrelid),
       i.indisvalid, i.indisready, i.indisunique,
       (SELECT con.contype::text FROM pg_constraint con
         WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
           AND con.contype IN ('p', 'u', 'x') LIMIT 1),
       ARRAY(SELECT con.conname::text FROM pg_constraint con
              WHERE con.contype = 'f' AND con.conindid = i.indexrelid ORDER BY 1),
       coalesce(s.idx_scan, 0), pg_relation_size(i.indexrelid),
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
                WHERE p.datid = d.oid AND (p.index_relid = i.indexrelid
                                           OR (p.relid = i.indrelid AND p.index_relid = 0))),
       pg_total_relation_size(c.oid),
       (SELECT count(*) FROM pg_index j WHERE j.indrelid = c.oid AND j.indisready),
       coalesce(t.n_tup_ins, 0), coalesce(t.n_tup_upd, 0), coalesce(t.n_tup_hot_upd, 0),
       coalesce(t.n_tup_del, 0), to_jsonb(s) ->> 'last_idx_scan'
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN (SELECT oid FROM pg_database WHERE datname = current_database()) d
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
       con.confdeltype::text, con.confupdtype::text, pg_total_relation_size(c.oid),
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


def read_snapshot(conn: psycopg.Connection[Any]) -> Snapshot:
    """The database's indexes, foreign keys and the age of its statistics."""
    skip = {"skip": [*SYSTEM_SCHEMAS, *OWN_SCHEMAS]}
    indexes = []
    for (oid, schema, table, name, definition, valid, ready, unique, contype, fks, scans,
         nbytes, building, table_bytes, count, ins, upd, hot, dele, last) in conn.execute(
            INDEXES_SQL, skip).fetchall():
        indexes.append(IndexFacts(
            int(oid), schema, table, name, definition, _parse(definition),
            bool(valid), bool(ready), bool(unique), _CONSTRAINTS.get(contype or ""),
            tuple(fks), int(scans), int(nbytes), bool(building), int(table_bytes), int(count),
            Writes(int(ins), int(upd), int(hot), int(dele)), last))
    foreign_keys = []
    for (name, schema, table, cols, rschema, rtable, rcols, deltype, updtype, table_bytes,
         kind, ins, upd, hot, dele) in conn.execute(FOREIGN_KEYS_SQL, skip).fetchall():
        foreign_keys.append(ForeignKeyFacts(
            name, schema, table, tuple(cols), rschema, rtable, tuple(rcols),
            _ACTIONS.get(deltype, deltype), _ACTIONS.get(updtype, updtype), int(table_bytes),
            kind, Writes(int(ins), int(upd), int(hot), int(dele))))
    row = conn.execute(RESET_SQL).fetchone()
    assert row is not None
    reset_days, was_reset, up_days, version, replicas = row
    if was_reset:
        days, source = float(reset_days), "since pg_stat_database.stats_reset"
    else:
        days, source = float(up_days), "never reset: since the server started"
    return Snapshot(indexes, foreign_keys, days, source, int(version), int(replicas or 0))
