"""A statement read for its sentences: what it is about, and what things are called.

:func:`read` puts what analysis found and what the parse tree adds
(:mod:`.shape`) together with the schema's comments into one :class:`Reading`:
the tables it reads, the *subject* (the table whose rows the statement is about),
its joins as references from one table to another, and the names of its tables
and columns in words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from pgarchitect.analysis import Analysis, ColumnRef, Predicate, RelationUse, SortKey
from pgarchitect.explain.shape import Agg, Shape, shape_of
from pgarchitect.explain.words import (
    EVENT_NOUNS,
    comment_noun,
    event_word,
    humanise_column,
    participle,
    plural,
    row_noun,
    words,
)

# Keys of the comments mapping: (schema, table) and (schema, table, column), as
# pgarchitect.catalog.comments.Comments has them.
CommentKey = tuple[str, ...]
TableKey = tuple[str, str]  # (schema, table)
# A reference from one table to another: (orders.customer_id, customers.id).
Link = tuple[ColumnRef, ColumnRef]

# An expression as analysis writes it that starts with an aggregate: "count(*)" ...
AGGREGATE_CALL: Final = re.compile(r"^\s*(count|sum|avg|min|max)\s*\(", re.IGNORECASE)
# ... or with any function: "lower(email)".
CALL: Final = re.compile(r"^\s*(\w+)\s*\(")
# ORDER BY expressions that shuffle the rows.
_SHUFFLE: Final = re.compile(r"^\s*(random|md5|hashtext|hashtextextended)\s*\(")
# Relations analysis lists that hold no rows of their own.
_NOT_BASE: Final = frozenset({"cte", "function"})


def in_sublink(scope: str) -> bool:
    """Whether a scope ("cte x/sublink 2") is inside a subquery of an expression.

    >>> in_sublink("cte x/sublink 2"), in_sublink("cte x"), in_sublink("")
    (True, False, False)
    """
    return any(part.startswith("sublink") for part in scope.split("/"))


@dataclass(frozen=True)
class Reading:
    """Everything the sentences need about one statement, worked out once."""

    analysis: Analysis
    comments: Mapping[CommentKey, str]
    shape: Shape
    base: tuple[RelationUse, ...]  # what holds rows: tables, views (not CTEs or functions)
    aggregates: tuple[Agg, ...]  # those the statement computes, not its subqueries
    keys: tuple[SortKey, ...]  # GROUP BY keys, not of subqueries of expressions
    links: tuple[Link, ...]  # the joins as references, whichever side each was written on
    # The conditions of the statement itself: not joins, HAVING, subqueries of
    # expressions, a view's own conditions or tests of window functions.
    conditions: tuple[Predicate, ...]
    subject: TableKey | None  # the table whose rows the statement is about
    # The subject and, when it is a view, the tables under it: its columns resolve there.
    subject_tables: frozenset[TableKey]
    types: Mapping[ColumnRef, str | None]  # SQL types of the columns, where known

    @property
    def aggregating(self) -> bool:
        """Whether the statement computes aggregates or groups rows."""
        return bool(self.aggregates or self.keys)

    @property
    def paging(self) -> bool:
        """Whether the statement skips rows with OFFSET."""
        limit = self.analysis.limit
        return limit is not None and limit.offset is not None

    @property
    def first_order(self) -> SortKey | None:
        """The first ORDER BY key of the statement itself."""
        return next((k for k in self.analysis.order_by if not k.scope), None)

    @property
    def shuffled(self) -> bool:
        """Whether the rows come in a pseudo-random order (ORDER BY random())."""
        key = self.first_order
        return key is not None and bool(_SHUFFLE.match(key.expression or ""))

    def about(self, table: TableKey) -> Reading:
        """The same statement read as if ``table`` were its subject."""
        return replace(self, subject=table, subject_tables=frozenset({table}))

    # -- names ----------------------------------------------------------------------

    def table_noun(self, schema: str, name: str) -> str:
        """What one row of a table is called, singular."""
        return row_noun(name, self.comments.get((schema, name)))

    def schema_of(self, table: str) -> str:
        for r in self.analysis.relations:
            if r.name == table and r.schema:
                return r.schema
        return "public"

    def noun(self, ref: ColumnRef | None = None, *, many: bool = False) -> str:
        """The subject's rows (or the rows of ``ref``'s table), singular or plural."""
        if ref is not None:
            noun = self.table_noun(ref.schema, ref.table)
        elif self.subject is not None:
            noun = self.table_noun(*self.subject)
        else:
            noun = "row"
        return plural(noun) if many else noun

    def column_noun(self, ref: ColumnRef) -> str:
        """A column in words: its comment's noun, else its name."""
        noun = comment_noun(self.comments.get((ref.schema, ref.table, ref.column)))
        return noun if noun is not None else humanise_column(ref.column)

    def entity(self, ref: ColumnRef) -> str | None:
        """The thing a column identifies: "user" for userId, "course" for Course.id."""
        ws = words(ref.column)
        if ws == ["id"]:
            return self.noun(ref)
        if len(ws) > 1 and ws[-1] == "id":
            return self.column_noun(ref)
        return None

    def on_subject(self, ref: ColumnRef) -> bool:
        return self.subject is not None and (ref.schema, ref.table) in self.subject_tables

    def qualified_noun(self, ref: ColumnRef) -> str:
        """A column in words, with its table's name when it is not the subject's."""
        col = self.column_noun(ref)
        return col if self.on_subject(ref) else f"{self.noun(ref)} {col}"

    def is_time(self, ref: ColumnRef) -> bool:
        type_ = (self.types.get(ref) or "").lower()
        if type_.startswith(("timestamp", "date", "time")):
            return True
        name = humanise_column(ref.column)
        return name in ("time", "date") or name.endswith((" time", " date")) or \
            name.startswith(("time ", "date "))

    def event(self, ref: ColumnRef) -> str:
        """What a time column records: "closing" for closed_at."""
        word = event_word(ref.column)
        return self.column_noun(ref) if word is None else EVENT_NOUNS.get(word, word)

    def participle_of(self, ref: ColumnRef) -> str | None:
        """"created" for createdAt: the column records when that happened."""
        word = event_word(ref.column)
        return word if word is not None and participle(word) else None

    # -- tables ---------------------------------------------------------------------

    def tables(self) -> tuple[str, ...]:
        """The relations the statement names, schema-qualified, partitions as their parent."""
        names = [r.qualified for r in self.base]
        kept = [r.qualified for r in self.base
                if not (r.partition_of and r.partition_of in names)]
        copy = self.shape.copy
        if not kept and copy is not None:
            kept = [f"{copy.schema or 'public'}.{copy.table}"]
        return tuple(dict.fromkeys(kept))

    def holds(self, tables: Sequence[str]) -> tuple[tuple[str, str], ...]:
        """What each table holds: its comment, else its rows' name."""
        out = []
        for qualified in tables:
            schema, _, name = qualified.partition(".")
            comment = self.comments.get((schema, name))
            out.append((qualified, comment if comment else plural(self.table_noun(schema, name))))
        return tuple(out)


def read(query: str, analysis: Analysis, comments: Mapping[CommentKey, str]) -> Reading:
    """Read ``query`` (of which ``analysis`` is the analysis) for its sentences."""
    shape = shape_of(query, analysis)
    base = tuple(r for r in analysis.relations if r.kind not in _NOT_BASE)
    aggregates = tuple(g for g in shape.aggregates if not g.nested)
    keys = tuple(k for k in analysis.group_by if not in_sublink(k.scope))
    links = tuple(_links(analysis))
    subject = _subject(analysis, shape, base, aggregates, keys, links)
    subject_tables: frozenset[TableKey] = frozenset()
    if subject is not None:
        view = f"{subject[0]}.{subject[1]}"
        subject_tables = frozenset({subject} | {(r.schema, r.name) for r in base
                                                if r.via == view})
    conditions = tuple(
        p for p in analysis.predicates
        if p.role != "join" and p.clause != "having" and not in_sublink(p.scope)
        # A view's own conditions are what its name says: "open tickets".
        and not p.scope.startswith("view ")
        and " OVER " not in (p.expression or "").upper())
    return Reading(analysis, comments, shape, base, aggregates, keys, links, conditions,
                   subject, subject_tables, {u.column: u.type for u in analysis.columns})


def _links(analysis: Analysis) -> list[Link]:
    """Joins as (referring column, id it refers to), whichever side each was written on."""
    out = []
    for p in analysis.predicates:
        if p.role != "join" or in_sublink(p.scope) or p.column is None or p.other is None:
            continue
        for a, b in ((p.column, p.other), (p.other, p.column)):
            if words(b.column) == ["id"] and words(a.column) != ["id"]:
                out.append((a, b))
    return out


def _subject(analysis: Analysis, shape: Shape, base: Sequence[RelationUse],
             aggregates: Sequence[Agg], keys: Sequence[SortKey],
             links: Sequence[Link]) -> TableKey | None:
    """The table whose rows the statement is about."""
    if not base:
        return None
    for agg in aggregates:
        if agg.column is not None:
            return agg.column.schema, agg.column.table
    main = [r for r in base if r.name in shape.main_tables] or list(base)
    if aggregates or analysis.group_by:
        # count(*) over a join counts the rows of the table that refers to the
        # others (orders, not customers): the one no other table refers to.
        referred = {(target.schema, target.table) for _, target in links}
        grouped = {(k.column.schema, k.column.table) for k in keys
                   if k.column is not None and words(k.column.column) == ["id"]}
        for r in main:
            if (r.schema, r.name) not in referred | grouped:
                return r.schema, r.name
    return main[0].schema, main[0].name
