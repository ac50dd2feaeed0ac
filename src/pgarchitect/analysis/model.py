"""The records analysis hands to the later stages, and their golden-file form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Roles a column can play, in the order ``ColumnUse.roles`` lists them.
ROLES = (
    "eq",        # col = value
    "range",     # <, <=, >, >=, BETWEEN
    "in",        # IN (...), = ANY(...)
    "like",      # LIKE / ILIKE
    "null",      # IS [NOT] NULL
    "join",      # equality with a column of another FROM item (both sides)
    "filter",    # any other condition (<>, NOT ..., @>, regex, f(a, b) ...)
    "sort",      # ORDER BY
    "group",     # GROUP BY
    "distinct",  # DISTINCT / DISTINCT ON
    "select",    # read for output: select list, RETURNING, HAVING, aggregates
    "set",       # UPDATE SET / ON CONFLICT DO UPDATE SET
    "insert",    # an INSERT's target column
    "conflict",  # ON CONFLICT (col): needs a unique index on it
)
ROLE_ORDER = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of a base table, schema-qualified."""

    schema: str
    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


@dataclass(frozen=True)
class Param:
    """A ``$n`` parameter and what it is compared with."""

    number: int
    column: ColumnRef | None  # the column it is compared with, when there is one
    role: str | None  # the column's role there: eq, range, in, like, ...
    type: str | None  # inferred SQL type (from the column or a cast)


@dataclass(frozen=True)
class RelationUse:
    """A relation the statement reads or writes.

    ``kind`` is one of: table, partitioned table, partition, view, materialized view,
    foreign table, system catalog, cte, function, unknown (not in the catalog, or no
    catalog was given). A view is listed and so are the base tables of its definition,
    with ``via`` naming the view.
    """

    schema: str  # "" for CTEs and functions
    name: str
    kind: str
    via: str | None = None  # the view whose definition touches it
    partition_of: str | None = None  # "schema.table" of the parent, for partitions

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class Cte:
    """A WITH query.

    ``materialized`` is "materialized", "not materialized" or "default". By default
    PostgreSQL 12+ inlines a side-effect-free CTE referenced once, so predicates on it
    reach its base tables; a materialized one is computed first, whole.
    """

    name: str
    materialized: str
    recursive: bool
    references: int  # how many times the statement reads it


@dataclass(frozen=True)
class Subquery:
    """A nested query block; its columns resolve in its own scope first."""

    scope: str  # its name in ``Predicate.scope``: "sublink 1", "subquery s", ...
    kind: str  # from, lateral, exists, not exists, in, scalar, array, all, rowcompare
    correlated: bool  # refers to a column of an enclosing query


@dataclass(frozen=True)
class Predicate:
    """One condition on a column (or an expression over columns).

    The column side is always ``column``/``expression``; a constant or parameter on
    the left is swapped to the right (``5 < x`` is ``x > 5``).
    """

    role: str  # eq, range, in, like, null, join, filter
    column: ColumnRef | None  # the base column, also when the side is an expression of it
    expression: str | None  # the side when it is not a bare column, e.g. "lower(email)"
    operator: str  # "=", "<", "between", "in", "= any", "ilike", "is null", ...
    value: str | None  # the other side as written: "'active'", "$1", "lower($1)"
    value_kind: str | None  # const, param, column, expression, subquery; None for IS NULL
    other: ColumnRef | None = None  # joins: the column on the other side
    anchored: bool | None = None  # LIKE: fixed prefix (True), leading wildcard (False)
    in_or: bool = False  # inside an OR: an index on it alone does not serve the whole test
    clause: str = "where"  # where, on, having
    scope: str = ""  # "" for the statement itself, else a CTE, subquery or view
    via: str | None = None  # the view, CTE or subquery whose output column this is

    @property
    def constant(self) -> bool:
        """A test on constants only (``status = 'active'``): a partial index predicate."""
        return self.role == "null" or self.value_kind == "const"


@dataclass(frozen=True)
class SortKey:
    """An ORDER BY, GROUP BY or DISTINCT key."""

    column: ColumnRef | None
    expression: str | None  # when not a bare column; aggregates keep column None
    direction: str | None = None  # ORDER BY only: asc, desc, using
    nulls: str | None = None  # ORDER BY only: first, last; None = default
    scope: str = ""


@dataclass(frozen=True)
class Limit:
    """LIMIT and OFFSET of the statement: an int when constant, else the text ("$2")."""

    count: int | str | None
    offset: int | str | None


@dataclass(frozen=True)
class ColumnUse:
    """Every role a base column plays anywhere in the statement."""

    column: ColumnRef
    type: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Analysis:
    """What a statement touches, and how.

    ``error`` is set when the statement could not be analysed at all (it does not
    parse); ``warnings`` lists what was found wrong or left unresolved in a statement
    that does parse ("Table not found: public.nope", "Column not found: User.nope").
    """

    query: str
    kind: str  # select, insert, update, delete, merge, utility, unknown
    relations: tuple[RelationUse, ...] = ()
    ctes: tuple[Cte, ...] = ()
    subqueries: tuple[Subquery, ...] = ()
    predicates: tuple[Predicate, ...] = ()
    order_by: tuple[SortKey, ...] = ()
    group_by: tuple[SortKey, ...] = ()
    distinct: tuple[SortKey, ...] = ()
    limit: Limit | None = None
    insert_columns: tuple[ColumnRef, ...] = ()
    set_columns: tuple[ColumnRef, ...] = ()
    params: tuple[Param, ...] = ()
    columns: tuple[ColumnUse, ...] = ()
    unresolved: tuple[str, ...] = ()  # column references as written that found no table
    truncated: bool = False  # cut at the end (pg_stat_statements); the prefix was analysed
    error: str | None = None
    warnings: tuple[str, ...] = ()

    def roles(self, column: ColumnRef) -> tuple[str, ...]:
        """The roles of one column, () when the statement does not use it."""
        for use in self.columns:
            if use.column == column:
                return use.roles
        return ()

    def to_dict(self) -> dict[str, Any]:
        """A stable, readable form for golden files: empty and default fields left out.

        >>> from pgarchitect.analysis import analyze
        >>> analyze("SELECT 1 FROM t WHERE a IS NULL").to_dict()["predicates"]
        [{'role': 'null', 'column': 'public.t.a', 'operator': 'is null'}]
        """
        out: dict[str, Any] = {"kind": self.kind}
        if self.error is not None:
            out["error"] = self.error
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.truncated:
            out["truncated"] = True
        _put(out, "relations", [_relation(r) for r in self.relations])
        _put(out, "ctes", [_cte(c) for c in self.ctes])
        _put(out, "subqueries", [_compact(scope=s.scope, kind=s.kind,
                                          correlated=s.correlated or None)
                                 for s in self.subqueries])
        _put(out, "predicates", [_predicate(p) for p in self.predicates])
        _put(out, "order_by", [_key(k) for k in self.order_by])
        _put(out, "group_by", [_key(k) for k in self.group_by])
        _put(out, "distinct", [_key(k) for k in self.distinct])
        if self.limit is not None:
            out["limit"] = _compact(count=self.limit.count, offset=self.limit.offset)
        _put(out, "insert_columns", [str(c) for c in self.insert_columns])
        _put(out, "set_columns", [str(c) for c in self.set_columns])
        _put(out, "params", [_compact(number=p.number, column=_str(p.column), role=p.role,
                                      type=p.type) for p in self.params])
        _put(out, "columns", [_compact(column=str(u.column), type=u.type, roles=list(u.roles))
                              for u in self.columns])
        _put(out, "unresolved", list(self.unresolved))
        return out


def _put(out: dict[str, Any], key: str, items: list[Any]) -> None:
    if items:
        out[key] = items


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _relation(r: RelationUse) -> dict[str, Any]:
    return _compact(relation=r.qualified, kind=r.kind, via=r.via, partition_of=r.partition_of)


def _cte(c: Cte) -> dict[str, Any]:
    return _compact(name=c.name, materialized=c.materialized, recursive=c.recursive or None,
                    references=c.references)


def _predicate(p: Predicate) -> dict[str, Any]:
    return _compact(
        role=p.role, column=_str(p.column), expression=p.expression, operator=p.operator,
        value=p.value, value_kind=p.value_kind, other=_str(p.other), anchored=p.anchored,
        in_or=p.in_or or None, clause=None if p.clause == "where" else p.clause,
        scope=p.scope or None, via=p.via,
    )


def _key(k: SortKey) -> dict[str, Any]:
    return _compact(column=_str(k.column), expression=k.expression, direction=k.direction,
                    nulls=k.nulls, scope=k.scope or None)
