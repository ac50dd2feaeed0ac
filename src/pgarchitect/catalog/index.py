"""An index definition: what the candidate, what-if, selection and verify stages pass around.

Expressions and predicates are SQL text produced by PostgreSQL's parser (pglast's
deparser) from a statement or from ``pg_get_indexdef``, never text typed by a
user or a model; that is why they may be composed into DDL as ``sql.SQL``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pglast import keywords
from psycopg import sql

MAX_IDENTIFIER = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names


@dataclass(frozen=True, order=True)
class IndexKey:
    """One key of an index: a column or an expression, with its order and operator class."""

    column: str | None = None  # a bare column name
    expression: str | None = None  # e.g. "lower(email)", when not a bare column
    direction: str = "asc"  # "asc" or "desc"
    nulls: str | None = None  # "first" or "last" when not the direction's default
    opclass: str | None = None  # e.g. "gin_trgm_ops"

    def __post_init__(self) -> None:
        if (self.column is None) == (self.expression is None):
            raise ValueError("an index key is a column or an expression, not both")

    @property
    def text(self) -> str:
        """The key as written in CREATE INDEX (identifiers quoted only when needed)."""
        base = quote(self.column) if self.column is not None else f"({self.expression})"
        parts = [base]
        if self.opclass:
            parts.append(self.opclass)
        if self.direction == "desc":
            parts.append("DESC")
        if self.nulls:
            parts.append(f"NULLS {self.nulls.upper()}")
        return " ".join(parts)


@dataclass(frozen=True, order=True)
class IndexDef:
    """A (possible) index on one table."""

    schema: str
    table: str
    keys: tuple[IndexKey, ...]
    method: str = "btree"
    include: tuple[str, ...] = ()
    where: str | None = None  # partial index predicate
    unique: bool = False

    def __str__(self) -> str:
        """Short form used in reports and tests: ``public.posts (user_id, blog_id)``.

        >>> str(IndexDef("public", "User", (IndexKey(expression="lower(email)"),)))
        'public."User" ((lower(email)))'
        >>> str(IndexDef("public", "t", (IndexKey("a"), IndexKey("b", direction="desc")),
        ...              include=("c",), where="deleted_at IS NULL"))
        'public.t (a, b DESC) INCLUDE (c) WHERE deleted_at IS NULL'
        """
        using = "" if self.method == "btree" else f" USING {self.method}"
        text = f"{quote(self.schema)}.{quote(self.table)}{using} ({self.key_list})"
        if self.include:
            text += f" INCLUDE ({', '.join(quote(c) for c in self.include)})"
        if self.where:
            text += f" WHERE {self.where}"
        return text

    @property
    def key_list(self) -> str:
        return ", ".join(k.text for k in self.keys)

    @property
    def columns(self) -> tuple[str, ...]:
        """The bare columns among the keys, in order."""
        return tuple(k.column for k in self.keys if k.column is not None)

    @property
    def name(self) -> str:
        """A readable name: ``BehaviorLog_userId_timestamp_idx``, at most 63 bytes.

        >>> IndexDef("public", "BehaviorLog", (IndexKey("userId"), IndexKey("timestamp"))).name
        'BehaviorLog_userId_timestamp_idx'
        >>> len(IndexDef("public", "t" * 60, (IndexKey("a"),)).name)
        63
        """
        words = [k.column or re.sub(r"\W+", "_", k.expression or "").strip("_")
                 for k in self.keys]
        suffix = {"btree": "idx", "gin": "gin_idx", "brin": "brin_idx"}.get(
            self.method, f"{self.method}_idx")
        if self.where:
            suffix = "partial_" + suffix
        name = "_".join([self.table, *words, suffix])
        if len(name.encode()) <= MAX_IDENTIFIER:
            return name
        digest = hashlib.sha1(str(self).encode()).hexdigest()[:8]
        head = name.encode()[: MAX_IDENTIFIER - len(digest) - 1].decode(errors="ignore")
        return f"{head}_{digest}"

    def definition(self) -> sql.Composed:
        """``ON schema.table USING method (keys) [INCLUDE (…)] [WHERE …]``."""
        parts: list[sql.Composable] = [
            sql.SQL("ON {} USING {} ({})").format(
                sql.Identifier(self.schema, self.table),
                sql.SQL(self.method),
                sql.SQL(self.key_list),
            )
        ]
        if self.include:
            parts.append(sql.SQL(" INCLUDE ({})").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in self.include)))
        if self.where:
            parts.append(sql.SQL(" WHERE {}").format(sql.SQL(self.where)))
        return sql.Composed(parts)

    def create_sql(self, *, concurrently: bool = True, name: str | None = None) -> sql.Composed:
        """The forward migration: ``CREATE INDEX CONCURRENTLY IF NOT EXISTS name ON …``."""
        return sql.SQL("CREATE {unique}INDEX {conc}IF NOT EXISTS {name} {definition}").format(
            unique=sql.SQL("UNIQUE " if self.unique else ""),
            conc=sql.SQL("CONCURRENTLY " if concurrently else ""),
            name=sql.Identifier(name or self.name),
            definition=self.definition(),
        )

    def drop_sql(self, *, concurrently: bool = True, name: str | None = None) -> sql.Composed:
        """The rollback: ``DROP INDEX CONCURRENTLY IF EXISTS schema.name``."""
        return sql.SQL("DROP INDEX {conc}IF EXISTS {name}").format(
            conc=sql.SQL("CONCURRENTLY " if concurrently else ""),
            name=sql.Identifier(self.schema, name or self.name),
        )

    def is_prefix_of(self, other: IndexDef) -> bool:
        """Whether ``other`` serves every lookup this index serves (same leading keys).

        >>> a = IndexDef("public", "t", (IndexKey("a"),))
        >>> a.is_prefix_of(IndexDef("public", "t", (IndexKey("a"), IndexKey("b"))))
        True
        >>> a.is_prefix_of(IndexDef("public", "t", (IndexKey("b"), IndexKey("a"))))
        False
        """
        return (
            (self.schema, self.table, self.method, self.where)
            == (other.schema, other.table, other.method, other.where)
            and len(self.keys) <= len(other.keys)
            and other.keys[: len(self.keys)] == self.keys
            and set(self.include) <= set(other.include) | set(other.columns)
        )


_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
# As PostgreSQL's quote_ident: every keyword that is not unreserved gets quotes.
_KEYWORDS = frozenset(keywords.RESERVED_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
                      | keywords.COL_NAME_KEYWORDS)


def quote(identifier: str) -> str:
    """An identifier as PostgreSQL's quote_ident prints it: bare when it can be.

    >>> quote("user_id"), quote("userId"), quote("timestamp"), quote("end"), quote("name")
    ('user_id', '"userId"', '"timestamp"', '"end"', 'name')
    """
    if _PLAIN.match(identifier) and identifier not in _KEYWORDS:
        return identifier
    return '"' + identifier.replace('"', '""') + '"'
