"""What candidate generation knows of each table: size, indexes, keys, statistics, writes.

:func:`load_tables` reads it from a server; :func:`tables_from_ddl` builds it from
``CREATE`` statements (tables, indexes, constraints), which is how the golden tests
build theirs. Both give plain frozen records, so a test may also write them by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

import pglast
import psycopg
from pglast import ast, enums
from psycopg.rows import tuple_row

from pgarchitect.analysis import SYSTEM_SCHEMAS, Catalog
from pgarchitect.analysis.nodes import deparse
from pgarchitect.catalog.index import IndexDef, IndexKey

# Which relations hold rows an index can serve, as analysis names them.
INDEXABLE_KINDS: Final = ("table", "partitioned table", "partition", "materialized view")

# One row per table. A partitioned table holds no rows itself: its size, rows and
# write counters are the sums over its leaf partitions (pg_partition_tree, 12+).
# reltuples is -1 until the first VACUUM or ANALYZE (PostgreSQL 14+): rows unknown.
TABLES_SQL: Final = """\
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relispartition, pn.nspname, p.relname,
       t.rows, t.pages, t.bytes, t.heap_bytes, t.inserts, t.updates, t.deletes, t.hot_updates
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
CROSS JOIN LATERAL (
    SELECT CASE WHEN bool_and(l.reltuples < 0) THEN NULL
                ELSE sum(greatest(l.reltuples, 0))::float8 END AS rows,
           coalesce(sum(l.relpages), 0)::bigint AS pages,
           coalesce(sum(pg_total_relation_size(l.oid)), 0)::bigint AS bytes,
           coalesce(sum(pg_table_size(l.oid)), 0)::bigint AS heap_bytes,
           coalesce(sum(s.n_tup_ins), 0)::bigint AS inserts,
           coalesce(sum(s.n_tup_upd), 0)::bigint AS updates,
           coalesce(sum(s.n_tup_del), 0)::bigint AS deletes,
           coalesce(sum(s.n_tup_hot_upd), 0)::bigint AS hot_updates
    FROM pg_class l
    LEFT JOIN pg_stat_user_tables s ON s.relid = l.oid
    WHERE CASE WHEN c.relkind = 'p'
               THEN l.oid IN (SELECT relid FROM pg_partition_tree(c.oid) WHERE isleaf)
               ELSE l.oid = c.oid END
) t
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND NOT n.nspname = ANY(%(system)s)
  AND n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg\\_%%temp\\_%%'
  AND (%(all)s OR (n.nspname, c.relname) IN (
      SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[])))
ORDER BY n.nspname, c.relname"""

# Indexes as PostgreSQL prints them; "valid" means usable by queries (a failed
# CREATE INDEX CONCURRENTLY leaves one behind that is neither). A partitioned index
# has no storage of its own: its size is its partitions'.
INDEXES_SQL: Final = """\
SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid AND i.indisready,
       CASE WHEN ic.relkind = 'I'
            THEN (SELECT coalesce(sum(pg_relation_size(relid)), 0)
                  FROM pg_partition_tree(i.indexrelid))
            ELSE pg_relation_size(i.indexrelid) END::bigint,
       con.contype::text
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                           AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY(%(oids)s::oid[])
ORDER BY i.indrelid, ic.relname"""

# Foreign keys of the tables, and those that reference them. A partition carries
# clones of its parent's keys (conparentid set): they are its own keys, but the
# parent's key is the one that references a table.
FOREIGN_KEYS_SQL: Final = """\
SELECT con.conname, rn.nspname, r.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord),
       fn.nspname, f.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord),
       con.conparentid <> 0
FROM pg_constraint con
JOIN pg_class r ON r.oid = con.conrelid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
JOIN pg_class f ON f.oid = con.confrelid
JOIN pg_namespace fn ON fn.oid = f.relnamespace
WHERE con.contype = 'f'
  AND (con.conrelid = ANY(%(oids)s::oid[])
       OR (con.confrelid = ANY(%(oids)s::oid[]) AND con.conparentid = 0))
ORDER BY rn.nspname, r.relname, con.conname"""

# Columns with their type and collation. "C" stands for every collation that sorts
# bytewise, where a plain b-tree serves LIKE 'abc%': libc C or POSIX, and the builtin
# provider (17+). datlocprovider exists from 15 on: read through to_jsonb so that
# older servers (libc only) answer too.
COLUMNS_SQL: Final = """\
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation = 0 THEN NULL
            WHEN CASE WHEN co.collprovider = 'd'
                      THEN coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'b'
                           OR (coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c'
                               AND d.datcollate IN ('C', 'POSIX'))
                      ELSE co.collprovider = 'b'
                           OR (co.collprovider = 'c' AND co.collcollate IN ('C', 'POSIX'))
                 END THEN 'C'
            ELSE co.collname::text END
FROM pg_attribute a
LEFT JOIN pg_collation co ON co.oid = a.attcollation
CROSS JOIN (SELECT * FROM pg_database WHERE datname = current_database()) d
WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum"""

# The planner's statistics. A table with inheritance children has two rows per
# column (inherited or not); a partitioned table only inherited ones.
STATS_SQL: Final = """\
SELECT schemaname, tablename, attname, inherited, null_frac, n_distinct, avg_width,
       correlation, most_common_vals::text::text[], most_common_freqs
FROM pg_stats
WHERE (schemaname, tablename) IN (SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[]))
ORDER BY schemaname, tablename, attname, inherited DESC"""

_KINDS: Final = {"r": "table", "p": "partitioned table", "m": "materialized view",
                 "f": "foreign table"}
_CONSTRAINTS: Final = {"p": "primary key", "u": "unique", "x": "exclusion"}


@dataclass(frozen=True)
class ColumnInfo:
    """A column: its type, collation and the planner's statistics (pg_stats) when known.

    ``n_distinct`` follows pg_stats: a negative value is minus a fraction of the rows.
    ``collation`` is "C" for any bytewise collation, else its name ("default" for the
    database's); None when the type has none.
    """

    name: str
    type: str | None = None
    collation: str | None = None
    null_frac: float | None = None
    n_distinct: float | None = None
    avg_width: int | None = None
    correlation: float | None = None
    common_values: tuple[str, ...] = ()  # most_common_vals, as text
    common_freqs: tuple[float, ...] = ()

    @property
    def bytewise(self) -> bool:
        return self.collation in ("C", "POSIX")


@dataclass(frozen=True)
class ExistingIndex:
    """An index that exists, with what :class:`IndexDef` cannot say about it.

    IndexDef holds the method, keys, INCLUDE, WHERE and uniqueness; storage
    parameters (``WITH (…)``), operator class options and NULLS NOT DISTINCT are in
    ``sql`` only. A key with a COLLATE clause is kept as an expression.
    """

    name: str
    index: IndexDef
    valid: bool = True  # indisvalid and indisready
    bytes: int = 0
    constraint: str | None = None  # "primary key", "unique" or "exclusion" when it backs one
    sql: str | None = None  # pg_get_indexdef


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key: ``table (columns)`` references ``references (referenced_columns)``."""

    name: str
    table: tuple[str, str]
    columns: tuple[str, ...]
    references: tuple[str, str]
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    """A table (or partitioned table, partition, materialized view, foreign table).

    ``rows`` is the planner's estimate (None: never analysed); ``inserts``,
    ``updates``, ``deletes`` and ``hot_updates`` are pg_stat_user_tables' counters
    since their last reset.

    >>> t = TableInfo("public", "t", rows=1e6, columns=(ColumnInfo("a", "integer"),))
    >>> t.key, t.column("a").type, t.column("b")
    (('public', 't'), 'integer', None)
    """

    schema: str
    name: str
    kind: str = "table"  # table, partitioned table, partition, materialized view, foreign table
    rows: float | None = None
    pages: int = 0
    total_bytes: int = 0  # with indexes and TOAST
    heap_bytes: int = 0  # without indexes (pg_table_size): what building an index reads
    indexes: tuple[ExistingIndex, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()  # this table's keys
    referenced_by: tuple[ForeignKey, ...] = ()  # other tables' keys to this one
    columns: tuple[ColumnInfo, ...] = ()
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    hot_updates: int = 0
    partition_of: str | None = None  # "schema.name" of the parent, for partitions

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> ColumnInfo | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def distinct(self, name: str) -> float | None:
        """Estimated distinct values of a column (pg_stats' n_distinct made absolute)."""
        col = self.column(name)
        if col is None or col.n_distinct is None or col.n_distinct == 0:
            return None
        if col.n_distinct > 0:
            return col.n_distinct
        return -col.n_distinct * self.rows if self.rows else None


def parse_index(definition: str) -> IndexDef:
    """An :class:`IndexDef` from ``CREATE INDEX`` text (as ``pg_get_indexdef`` prints it).

    >>> str(parse_index('CREATE INDEX i ON public."T" USING btree (a DESC, lower(b)) '
    ...                 "INCLUDE (c) WHERE (d IS NULL)"))
    'public."T" (a DESC, (lower(b))) INCLUDE (c) WHERE d IS NULL'
    """
    node = pglast.parse_sql(definition)[0].stmt
    if not isinstance(node, ast.IndexStmt) or node.relation is None:
        raise ValueError(f"not a CREATE INDEX statement: {definition}")
    return _index(node, node.relation.schemaname or "public")


def _index(node: ast.IndexStmt, schema: str) -> IndexDef:
    assert node.relation is not None and node.relation.relname is not None
    keys = tuple(_key(elem) for elem in node.indexParams or () if isinstance(elem, ast.IndexElem))
    include = tuple(elem.name for elem in node.indexIncludingParams or ()
                    if isinstance(elem, ast.IndexElem) and elem.name is not None)
    return IndexDef(
        schema, node.relation.relname, keys,
        method=node.accessMethod or "btree",
        include=include,
        where=deparse(node.whereClause) if node.whereClause is not None else None,
        unique=bool(node.unique),
    )


def _key(elem: ast.IndexElem) -> IndexKey:
    desc = elem.ordering == enums.SortByDir.SORTBY_DESC
    nulls = {enums.SortByNulls.SORTBY_NULLS_FIRST: "first",
             enums.SortByNulls.SORTBY_NULLS_LAST: "last"}.get(
                 elem.nulls_ordering or enums.SortByNulls.SORTBY_NULLS_DEFAULT)
    if nulls == ("first" if desc else "last"):
        nulls = None  # the direction's default
    opclass = ".".join(_names(elem.opclass)) or None
    if elem.collation:
        arg = elem.expr if elem.expr is not None else ast.ColumnRef(
            fields=(ast.String(sval=elem.name),))
        expression: str | None = deparse(ast.CollateClause(arg=arg, collname=elem.collation))
        column = None
    else:
        expression = deparse(elem.expr) if elem.expr is not None else None
        column = elem.name if expression is None else None
    return IndexKey(column, expression, "desc" if desc else "asc", nulls, opclass)


def load_tables(conn: psycopg.Connection[Any],
                tables: Iterable[tuple[str, str]] | None = None
                ) -> dict[tuple[str, str], TableInfo]:
    """Read size, indexes, foreign keys, column statistics and write counters of tables.

    ``tables``: the ``(schema, name)`` pairs wanted; None: every table, partitioned
    table, partition, materialized view and foreign table outside the system schemas.
    Five catalog reads on ``conn``, in its transaction if it has one.
    """
    wanted = None if tables is None else list(dict.fromkeys(tables))
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(TABLES_SQL, {
            "system": list(SYSTEM_SCHEMAS), "all": wanted is None,
            "schemas": [s for s, _ in wanted or ()], "names": [n for _, n in wanted or ()],
        })
        rows = cur.fetchall()
        oids = [row[0] for row in rows]
        by_oid: dict[int, tuple[str, str]] = {row[0]: (row[1], row[2]) for row in rows}
        names = {"oids": oids}

        indexes: dict[tuple[str, str], list[ExistingIndex]] = {}
        cur.execute(INDEXES_SQL, names)
        for relid, name, definition, valid, size, contype in cur.fetchall():
            schema = by_oid[relid][0]
            node = pglast.parse_sql(definition)[0].stmt
            assert isinstance(node, ast.IndexStmt)
            indexes.setdefault(by_oid[relid], []).append(ExistingIndex(
                name, _index(node, schema), bool(valid), int(size or 0),
                _CONSTRAINTS.get(contype or ""), definition))

        outgoing: dict[tuple[str, str], list[ForeignKey]] = {}
        incoming: dict[tuple[str, str], list[ForeignKey]] = {}
        cur.execute(FOREIGN_KEYS_SQL, names)
        for name, schema, table, fk_cols, fschema, ftable, ref_cols, clone in cur.fetchall():
            fk = ForeignKey(name, (schema, table), tuple(fk_cols), (fschema, ftable),
                            tuple(ref_cols))
            outgoing.setdefault(fk.table, []).append(fk)
            if not clone:
                incoming.setdefault(fk.references, []).append(fk)

        columns: dict[tuple[str, str], list[ColumnInfo]] = {}
        cur.execute(COLUMNS_SQL, names)
        for relid, name, type_, collation in cur.fetchall():
            columns.setdefault(by_oid[relid], []).append(ColumnInfo(name, type_, collation))

        stats: dict[tuple[str, str, str], ColumnInfo] = {}
        cur.execute(STATS_SQL, {"schemas": [k[0] for k in by_oid.values()],
                                "names": [k[1] for k in by_oid.values()]})
        for (schema, table, att, _inherited, null_frac, n_distinct, width, correlation,
             values, freqs) in cur.fetchall():
            # Rows come inherited first: a table's own statistics replace them.
            stats[(schema, table, att)] = ColumnInfo(
                att, null_frac=null_frac, n_distinct=n_distinct, avg_width=width,
                correlation=correlation, common_values=tuple(values or ()),
                common_freqs=tuple(freqs or ()))

    result: dict[tuple[str, str], TableInfo] = {}
    for (_oid, schema, name, relkind, is_partition, pschema, pname, rel_rows, pages, size,
         heap, ins, upd, dele, hot) in rows:
        key = (schema, name)
        kind = _KINDS[relkind]
        if kind == "table" and is_partition:
            kind = "partition"
        cols = tuple(_with_stats(c, stats.get((schema, name, c.name)))
                     for c in columns.get(key, ()))
        result[key] = TableInfo(
            schema, name, kind, rows=rel_rows, pages=int(pages), total_bytes=int(size),
            heap_bytes=int(heap),
            indexes=tuple(indexes.get(key, ())),
            foreign_keys=tuple(outgoing.get(key, ())),
            referenced_by=tuple(incoming.get(key, ())),
            columns=cols, inserts=int(ins), updates=int(upd), deletes=int(dele),
            hot_updates=int(hot),
            partition_of=f"{pschema}.{pname}" if pname is not None else None,
        )
    return result


def _with_stats(column: ColumnInfo, stats: ColumnInfo | None) -> ColumnInfo:
    if stats is None:
        return column
    return replace(stats, type=column.type, collation=column.collation)


def tables_from_ddl(ddl: str, *, catalog: Catalog | None = None,
                    collation: str | None = None) -> dict[tuple[str, str], TableInfo]:
    """TableInfo for each table created by ``ddl``, with its indexes and constraints.

    No statistics, sizes or counters: add them with :func:`dataclasses.replace`.
    Index and constraint names follow PostgreSQL's defaults (``t_pkey``,
    ``t_a_key``, ``t_a_idx``, ``t_a_fkey``). ``collation``: what the database's
    default collation is ("C" for a bytewise one); None: not known.

    >>> tables = tables_from_ddl('CREATE TABLE t (id int PRIMARY KEY, a text UNIQUE);'
    ...                          'CREATE INDEX ON t (lower(a))')
    >>> [(i.name, str(i.index), i.constraint) for i in tables["public", "t"].indexes]
    [('t_pkey', 'public.t (id)', 'primary key'), ('t_a_key', 'public.t (a)', 'unique'), \
('t_lower_idx', 'public.t ((lower(a)))', None)]
    """
    catalog = catalog or Catalog.from_ddl(ddl)
    builder = _DdlTables(catalog, collation)
    for raw in pglast.parse_sql(ddl):
        if raw.stmt is not None:
            builder.add(raw.stmt)
    return builder.finish()


class _DdlTables:
    """Indexes and constraints collected from DDL, on the catalog's relations."""

    def __init__(self, catalog: Catalog, collation: str | None) -> None:
        self.catalog = catalog
        self.collation = collation
        self.indexes: dict[tuple[str, str], list[ExistingIndex]] = {}
        self.fks: list[ForeignKey] = []
        self.collations: dict[tuple[str, str, str], str] = {}

    def _key(self, rv: ast.RangeVar | None) -> tuple[str, str] | None:
        if rv is None or rv.relname is None:
            return None
        rel = self.catalog.find(rv.schemaname, rv.relname)
        return (rel.schema, rel.name) if rel is not None else None

    def add(self, node: ast.Node) -> None:
        if isinstance(node, ast.CreateStmt):
            key = self._key(node.relation)
            if key is None:
                return
            for elt in node.tableElts or ():
                if isinstance(elt, ast.ColumnDef) and elt.colname:
                    if elt.collClause is not None and elt.collClause.collname:
                        name = elt.collClause.collname[-1]
                        assert isinstance(name, ast.String)
                        self.collations[(*key, elt.colname)] = (
                            "C" if name.sval in ("C", "POSIX") else str(name.sval))
                    for con in elt.constraints or ():
                        if isinstance(con, ast.Constraint):
                            self.constraint(key, con, (elt.colname,))
                elif isinstance(elt, ast.Constraint):
                    self.constraint(key, elt, ())
        elif isinstance(node, ast.AlterTableStmt):
            key = self._key(node.relation)
            for cmd in node.cmds or ():
                if (key is not None and isinstance(cmd, ast.AlterTableCmd)
                        and cmd.subtype == enums.AlterTableType.AT_AddConstraint
                        and isinstance(cmd.def_, ast.Constraint)):
                    self.constraint(key, cmd.def_, ())
        elif isinstance(node, ast.IndexStmt):
            key = self._key(node.relation)
            if key is None:
                return
            index = _index(node, key[0])
            index = replace(index, schema=key[0], table=key[1])
            name = node.idxname or self.name(key[1], _key_words(index), "idx")
            self.put(key, ExistingIndex(name, index))

    def constraint(self, key: tuple[str, str], con: ast.Constraint,
                   columns: tuple[str, ...]) -> None:
        names = _names(con.keys) or columns
        if con.contype in (enums.ConstrType.CONSTR_PRIMARY, enums.ConstrType.CONSTR_UNIQUE):
            primary = con.contype == enums.ConstrType.CONSTR_PRIMARY
            index = IndexDef(*key, tuple(IndexKey(c) for c in names), unique=True,
                             include=_names(con.including))
            name = con.conname or (f"{key[1]}_pkey" if primary
                                   else self.name(key[1], list(names), "key"))
            self.put(key, ExistingIndex(name, index,
                                        constraint="primary key" if primary else "unique"))
        elif con.contype == enums.ConstrType.CONSTR_FOREIGN and con.pktable is not None:
            fk_cols = _names(con.fk_attrs) or columns
            ref = self._key(con.pktable)
            if ref is None:
                return
            # Without a column list, a foreign key references the primary key.
            ref_cols = _names(con.pk_attrs) or next(
                (i.index.columns for i in self.indexes.get(ref, ())
                 if i.constraint == "primary key"), ())
            name = con.conname or self.name(key[1], list(fk_cols), "fkey")
            self.fks.append(ForeignKey(name, key, fk_cols, ref, ref_cols))

    def name(self, table: str, words: list[str], suffix: str) -> str:
        return "_".join([table, *words, suffix])[:63]

    def put(self, key: tuple[str, str], index: ExistingIndex) -> None:
        self.indexes.setdefault(key, []).append(index)

    def finish(self) -> dict[tuple[str, str], TableInfo]:
        result: dict[tuple[str, str], TableInfo] = {}
        for rel in self.catalog.relations:
            if rel.system or rel.kind == "view":
                continue
            key = (rel.schema, rel.name)
            kind = "partition" if rel.partition_of is not None else rel.kind
            columns = tuple(
                ColumnInfo(c.name, c.type, self.collations.get(
                    (*key, c.name), self.collation if _collatable(c.type) else None))
                for c in rel.columns)
            result[key] = TableInfo(
                rel.schema, rel.name, kind,
                indexes=tuple(self.indexes.get(key, ())),
                foreign_keys=tuple(fk for fk in self.fks if fk.table == key),
                referenced_by=tuple(fk for fk in self.fks if fk.references == key),
                columns=columns, partition_of=rel.partition_of)
        return result


def _names(nodes: tuple[ast.Node, ...] | None) -> tuple[str, ...]:
    """The strings of a parse tree's name list."""
    return tuple(n.sval for n in nodes or () if isinstance(n, ast.String) and n.sval is not None)


def _key_words(index: IndexDef) -> list[str]:
    """The words PostgreSQL names an unnamed index by: its columns, or the function."""
    words = []
    for k in index.keys:
        if k.column is not None:
            words.append(k.column)
        else:
            words.append((k.expression or "expr").split("(")[0].strip() or "expr")
    return words


_COLLATABLE: Final = ("text", "character", "character varying", "citext", "name", "bpchar")


def _collatable(type_: str | None) -> bool:
    if type_ is None:
        return False
    base = type_.split("(")[0].removesuffix("[]").strip()
    return base in _COLLATABLE

