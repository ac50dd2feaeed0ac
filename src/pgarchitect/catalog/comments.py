"""Comments: what the schema's authors wrote about their tables and columns.

``COMMENT ON TABLE`` and ``COMMENT ON COLUMN`` are the one place where a database
says in words what a table holds. The explainer prefers them to names. They are
read from a live server with :func:`load_comments`, or from DDL text with
:meth:`Comments.from_ddl` (how the golden tests build theirs: the same statements
run on a server must give equal comments).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import pglast
import psycopg
from pglast import ast, enums
from psycopg.rows import tuple_row

# Relation kinds that can carry comments worth reading: tables, partitioned tables,
# views, materialized views, foreign tables (not indexes, sequences or types).
COMMENTED_KINDS: Final = ("r", "p", "v", "m", "f")
# System schemas: their comments describe PostgreSQL, not the application.
SYSTEM_SCHEMAS: Final = ("pg_catalog", "information_schema")

# One row per comment: objsubid 0 is the relation's own comment, n > 0 its n-th
# column's. Relations that belong to an extension (pg_depend deptype 'e') are left
# out: their comments describe the extension, not the application. pg_description,
# pg_depend and these columns are the same from PostgreSQL 13 to 18.
COMMENTS_SQL: Final = """\
SELECT n.nspname, c.relname, a.attname, d.description
FROM pg_description d
JOIN pg_class c ON c.oid = d.objoid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
WHERE d.classoid = 'pg_catalog.pg_class'::regclass
  AND c.relkind::text = ANY(%(kinds)s)
  AND NOT n.nspname = ANY(%(system)s)
  AND n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg\\_%%temp\\_%%'
  AND (d.objsubid = 0 OR (a.attnum > 0 AND NOT a.attisdropped))
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid
                    AND e.deptype = 'e')
ORDER BY n.nspname, c.relname, d.objsubid"""

# Keys: (schema, table) for a table's comment, (schema, table, column) for a column's.
Key = tuple[str, ...]

_RELATION_TYPES: Final = frozenset({
    enums.ObjectType.OBJECT_TABLE, enums.ObjectType.OBJECT_VIEW,
    enums.ObjectType.OBJECT_MATVIEW, enums.ObjectType.OBJECT_FOREIGN_TABLE,
})


class Comments(Mapping[Key, str]):
    """Table and column comments, keyed ``(schema, table)`` and ``(schema, table, column)``.

    >>> c = Comments({("public", "orders"): "One row per order.",
    ...               ("public", "orders", "total"): "Amount paid"})
    >>> c.table("public", "orders"), c.column("public", "orders", "total")
    ('One row per order.', 'Amount paid')
    >>> c.table("public", "nope") is None, len(c)
    (True, 2)
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[Key, str] | Iterable[tuple[Key, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        # Blank comments say nothing; keep them out so that lookups can trust a hit.
        self._items: dict[Key, str] = {k: v.strip() for k, v in pairs if v and v.strip()}

    def __getitem__(self, key: Key) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Comments({self._items!r})"

    def table(self, schema: str, name: str) -> str | None:
        """The comment on a table (or view), None when it has none."""
        return self._items.get((schema, name))

    def column(self, schema: str, table: str, column: str) -> str | None:
        """The comment on a column, None when it has none."""
        return self._items.get((schema, table, column))

    @classmethod
    def from_ddl(cls, ddl: str, search_path: Sequence[str] = ("public",)) -> Comments:
        """The comments set by ``COMMENT ON TABLE | VIEW | MATERIALIZED VIEW | COLUMN``.

        Other statements are skipped; an unqualified name is taken to be in the
        first schema of ``search_path`` (where the DDL created it); ``IS NULL``
        removes a comment, as it does on a server.

        >>> Comments.from_ddl('''CREATE TABLE t (a int);
        ...     COMMENT ON TABLE t IS 'Things';
        ...     COMMENT ON COLUMN s.u.a IS 'An a';''')
        Comments({('public', 't'): 'Things', ('s', 'u', 'a'): 'An a'})
        """
        default = next((s for s in search_path if s != "pg_catalog"), "public")
        found: dict[Key, str | None] = {}
        for raw in pglast.parse_sql(ddl):
            node = raw.stmt
            if not isinstance(node, ast.CommentStmt) or not isinstance(node.object, tuple):
                continue
            names = tuple(n.sval for n in node.object if isinstance(n, ast.String))
            if node.objtype in _RELATION_TYPES and len(names) in (1, 2):
                key: Key = names if len(names) == 2 else (default, *names)
            elif node.objtype == enums.ObjectType.OBJECT_COLUMN and len(names) in (2, 3):
                key = names if len(names) == 3 else (default, *names)
            else:
                continue
            found[key] = node.comment
        return cls((k, v) for k, v in found.items() if v is not None)


def load_comments(conn: psycopg.Connection[Any]) -> Comments:
    """Read every table, view and column comment of the database's user schemas.

    One catalog read on ``conn``, in its transaction if it has one (the caller's
    to end).
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(COMMENTS_SQL, {"kinds": list(COMMENTED_KINDS),
                                   "system": list(SYSTEM_SCHEMAS)})
        rows = cur.fetchall()
    items: list[tuple[Key, str]] = []
    for schema, table, column, text in rows:
        key: Key = (schema, table) if column is None else (schema, table, column)
        items.append((key, text))
    return Comments(items)
