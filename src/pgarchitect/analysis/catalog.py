"""What analysis knows about the database: relations, their columns and types, views.

A :class:`Catalog` comes from a live server (:func:`load_catalog`) or from DDL text
(:meth:`Catalog.from_ddl`), which is how the golden tests build theirs: the same
``CREATE`` statements run on a real server must give an equal analysis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pglast
import psycopg
from pglast import ast, enums
from pglast.stream import RawStream

# Relations in these schemas are reported as "system catalog" and never expanded.
SYSTEM_SCHEMAS: Final = ("pg_catalog", "information_schema")

_RELKINDS: Final = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

# One row per relation. Views' definitions are read for user schemas only: system
# views are not expanded. Partitions name their parent (pg_inherits, relispartition).
RELATIONS_SQL: Final = """\
SELECT n.nspname, c.relname, c.relkind::text,
       CASE WHEN c.relkind IN ('v', 'm') AND NOT n.nspname = ANY(%(system)s)
            THEN pg_get_viewdef(c.oid) END,
       pn.nspname, p.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind::text = ANY(%(kinds)s)
  AND n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg\\_%%temp\\_%%'
ORDER BY n.nspname, c.relname"""

COLUMNS_SQL: Final = """\
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind::text = ANY(%(kinds)s)
  AND n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg\\_%%temp\\_%%'
ORDER BY n.nspname, c.relname, a.attnum"""

# The schemas of search_path that exist, "$user" expanded, without the implicit ones.
SEARCH_PATH_SQL: Final = "SELECT current_schemas(false)"


@dataclass(frozen=True)
class Column:
    """A column and its type as ``format_type`` spells it ("timestamp(3) without time zone")."""

    name: str
    type: str | None


@dataclass(frozen=True)
class Relation:
    """A table, partitioned table, view, materialized view or foreign table."""

    schema: str
    name: str
    kind: str  # table, partitioned table, view, materialized view, foreign table
    columns: tuple[Column, ...]
    definition: str | None = None  # views and materialized views: their SELECT
    partition_of: str | None = None  # partitions: "schema.name" of the parent

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def system(self) -> bool:
        return self.schema in SYSTEM_SCHEMAS


@dataclass(frozen=True)
class Catalog:
    """The relations of a database and its search_path.

    >>> cat = Catalog.from_ddl('CREATE TABLE "User" (id uuid, "createdAt" timestamp(3))')
    >>> [(c.name, c.type) for c in cat.find(None, "User").columns]
    [('id', 'uuid'), ('createdAt', 'timestamp(3) without time zone')]
    """

    relations: tuple[Relation, ...]
    search_path: tuple[str, ...] = ("public",)
    _index: dict[tuple[str, str], Relation] = field(
        init=False, repr=False, compare=False, default_factory=dict)
    # Parsed view definitions, filled by analysis on first use.
    _parsed: dict[tuple[str, str], Any] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._index.update(((r.schema, r.name), r) for r in self.relations)

    @property
    def has_system(self) -> bool:
        """Whether the system catalogs are in it (a loaded catalog; not one from DDL)."""
        return ("pg_catalog", "pg_class") in self._index

    @property
    def creation_schema(self) -> str:
        """Where an unqualified new table would go: the first schema of search_path."""
        return next((s for s in self.search_path if s != "pg_catalog"), "public")

    def lookup_path(self) -> tuple[str, ...]:
        """Schemas searched for an unqualified name, in order.

        pg_catalog comes first unless search_path places it explicitly
        (https://www.postgresql.org/docs/current/ddl-schemas.html#DDL-SCHEMAS-CATALOG).
        """
        if "pg_catalog" in self.search_path:
            return self.search_path
        return ("pg_catalog", *self.search_path)

    def find(self, schema: str | None, name: str) -> Relation | None:
        """The relation ``schema.name``, or the first ``name`` along the search path."""
        if schema is not None:
            return self._index.get((schema, name))
        for s in self.lookup_path():
            rel = self._index.get((s, name))
            if rel is not None:
                return rel
        return None

    def partitions(self, relation: Relation) -> tuple[Relation, ...]:
        """The direct partitions of a partitioned table."""
        return tuple(r for r in self.relations if r.partition_of == relation.qualified)

    @classmethod
    def from_ddl(cls, ddl: str, search_path: Sequence[str] = ("public",)) -> Catalog:
        """A catalog from CREATE TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE statements.

        Other statements (indexes, constraints, schemas, servers) are skipped. Column
        types are spelled as ``format_type`` does, so that a catalog read from a
        server with the same DDL is equal.
        """
        builder = _DdlCatalog(tuple(search_path))
        for raw in pglast.parse_sql(ddl):
            if raw.stmt is not None:
                builder.add(raw.stmt)
        return cls(tuple(builder.relations.values()), tuple(search_path))


def load_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    """Read the relations, columns, view definitions and search_path of a database.

    Three catalog reads on ``conn``, in its transaction if it has one (the caller's
    to end); the system catalogs are included, their views not expanded.
    """
    kinds = list(_RELKINDS)
    columns: dict[tuple[str, str], list[Column]] = {}
    with conn.cursor() as cur:
        cur.execute(COLUMNS_SQL, {"kinds": kinds})
        for schema, table, name, type_ in cur.fetchall():
            columns.setdefault((schema, table), []).append(Column(name, type_))
        cur.execute(RELATIONS_SQL, {"kinds": kinds, "system": list(SYSTEM_SCHEMAS)})
        relations = [
            Relation(schema, name, _RELKINDS[relkind], tuple(columns.get((schema, name), ())),
                     definition=definition,
                     partition_of=f"{pschema}.{pname}" if pname is not None else None)
            for schema, name, relkind, definition, pschema, pname in cur.fetchall()
        ]
        cur.execute(SEARCH_PATH_SQL)
        row = cur.fetchone()
    path = tuple(row[0]) if row is not None and row[0] else ("public",)
    return Catalog(tuple(relations), path)


# format_type's names for the types the parser knows by their internal names.
_SQL_NAMES: Final = {
    "int2": "smallint", "int4": "integer", "int8": "bigint",
    "float4": "real", "float8": "double precision", "bool": "boolean",
    "varchar": "character varying", "bpchar": "character", "varbit": "bit varying",
    "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
    "time": "time without time zone", "timetz": "time with time zone",
}
# serial types exist only in CREATE TABLE: an integer column with a sequence.
_SERIALS: Final = {"serial": "integer", "serial4": "integer", "bigserial": "bigint",
                   "serial8": "bigint", "smallserial": "smallint", "serial2": "smallint"}
# INTERVAL's field restriction is a bit mask (PostgreSQL's utils/datetime.h).
_INTERVAL_FIELDS: Final = {
    4: "year", 2: "month", 8: "day", 1024: "hour", 2048: "minute", 4096: "second",
    6: "year to month", 1032: "day to hour", 3080: "day to minute",
    7176: "day to second", 3072: "hour to minute", 7168: "hour to second",
    6144: "minute to second",
}


def format_type(type_name: ast.TypeName, *, column: bool = False) -> str:
    """A parsed type name spelled as PostgreSQL's ``format_type`` spells it.

    ``column``: the type of a CREATE TABLE column, where serial types are allowed.

    >>> from pglast import parse_sql
    >>> format_type(parse_sql("SELECT x::varchar(20)[]")[0].stmt.targetList[0].val.typeName)
    'character varying(20)[]'
    """
    names = [n.sval for n in type_name.names or ()]
    qualified = len(names) > 1 and names[0] == "pg_catalog"
    name = names[-1]
    mods = [m.val.ival for m in type_name.typmods or ()
            if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer)]
    if column and len(names) == 1 and name in _SERIALS:
        text = _SERIALS[name]
    elif name == "interval":
        text = "interval"
        if mods and mods[0] in _INTERVAL_FIELDS:
            text += " " + _INTERVAL_FIELDS[mods[0]]
        if len(mods) > 1:
            text += f"({mods[1]})"
    elif name in ("timestamp", "timestamptz", "time", "timetz") and (qualified or len(names) == 1):
        base, _, zone = _SQL_NAMES[name].partition(" ")
        text = f"{base}({mods[0]}) {zone}" if mods else _SQL_NAMES[name]
    elif name == "bpchar" and not qualified:
        text = "bpchar"  # written as bpchar: no length, unlike char
    elif name == "char" and len(names) == 1:
        text = '"char"'  # the one-byte internal type, not character(1)
    else:
        base = _SQL_NAMES.get(name, name) if (qualified or len(names) == 1) else ".".join(names)
        text = f"{base}({','.join(map(str, mods))})" if mods else base
    if type_name.arrayBounds:
        text += "[]"  # format_type shows one pair of brackets whatever the dimensions
    return text


class _DdlCatalog:
    """Relations collected from DDL, in the order they are created."""

    def __init__(self, search_path: tuple[str, ...]) -> None:
        self.search_path = search_path
        self.relations: dict[tuple[str, str], Relation] = {}

    def _schema(self, rv: ast.RangeVar) -> str:
        return rv.schemaname or next(
            (s for s in self.search_path if s != "pg_catalog"), "public")

    def _find(self, rv: ast.RangeVar) -> Relation | None:
        if rv.schemaname is not None:
            return self.relations.get((rv.schemaname, rv.relname or ""))
        for schema in self.search_path:
            rel = self.relations.get((schema, rv.relname or ""))
            if rel is not None:
                return rel
        return None

    def add(self, node: ast.Node) -> None:
        if isinstance(node, ast.CreateForeignTableStmt) and node.base is not None:
            self._table(node.base, "foreign table")
        elif isinstance(node, ast.CreateStmt):
            self._table(node, "partitioned table" if node.partspec is not None else "table")
        elif isinstance(node, ast.ViewStmt) and node.view is not None:
            names = [a.sval for a in node.aliases or ()]
            self._view(node.view, node.query, names, "view")
        elif (isinstance(node, ast.CreateTableAsStmt) and node.into is not None
              and node.into.rel is not None and node.objtype == enums.ObjectType.OBJECT_MATVIEW):
            names = [a.sval for a in node.into.colNames or ()]
            self._view(node.into.rel, node.query, names, "materialized view")

    def _table(self, node: ast.CreateStmt, kind: str) -> None:
        rv = node.relation
        assert rv is not None and rv.relname is not None
        columns: list[Column] = []
        parent = None
        for inherited in node.inhRelations or ():
            rel = self._find(inherited)
            if rel is not None:
                columns.extend(rel.columns)
                if node.partbound is not None:
                    parent = rel.qualified
        for elt in node.tableElts or ():
            if isinstance(elt, ast.ColumnDef) and elt.colname and elt.typeName is not None:
                columns.append(Column(elt.colname, format_type(elt.typeName, column=True)))
            elif isinstance(elt, ast.TableLikeClause) and elt.relation is not None:
                rel = self._find(elt.relation)
                columns.extend(rel.columns if rel is not None else ())
        self._put(Relation(self._schema(rv), rv.relname, kind, _unique(columns),
                           partition_of=parent))

    def _view(self, rv: ast.RangeVar, query: ast.Node | None, names: list[str],
              kind: str) -> None:
        assert rv.relname is not None and query is not None
        # The view's columns are its query's outputs: ask analysis, against the
        # relations created so far (a view can only use what exists before it).
        from pgarchitect.analysis.walker import output_columns

        so_far = Catalog(tuple(self.relations.values()), self.search_path)
        outputs = output_columns(query, so_far)
        columns = tuple(
            Column(names[i] if i < len(names) else name, type_)
            for i, (name, type_) in enumerate(outputs)
        )
        definition = RawStream()(query)
        self._put(Relation(self._schema(rv), rv.relname, kind, columns, definition=definition))

    def _put(self, rel: Relation) -> None:
        self.relations[(rel.schema, rel.name)] = rel


def _unique(columns: Iterable[Column]) -> tuple[Column, ...]:
    seen: dict[str, Column] = {}
    for c in columns:
        seen.setdefault(c.name, c)
    return tuple(seen.values())
