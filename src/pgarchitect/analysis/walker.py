"""The walk over pglast's parse tree: scopes, name resolution, predicates, parameters.

One :class:`_State` walks one statement. Each query block (the statement, a CTE, a
subquery, a view's definition) gets a :class:`_Scope` holding its FROM items; a
column reference is resolved in its own scope first, then in the enclosing ones
(correlated subqueries), as PostgreSQL's parse analysis does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from pglast import ast, enums

from pgarchitect.analysis.catalog import SYSTEM_SCHEMAS, Catalog, Relation, format_type
from pgarchitect.analysis.model import (
    ROLE_ORDER,
    ColumnRef,
    ColumnUse,
    Cte,
    Limit,
    Param,
    Predicate,
    RelationUse,
    SortKey,
    Subquery,
)
from pgarchitect.analysis.nodes import (
    FLIPPED,
    KIND,
    LIKE_OPS,
    LIST_KINDS,
    RANGE_OPS,
    alias_columns,
    children,
    concat_parts,
    deparse,
    figure_colname,
    funcname,
    int_const,
    is_aggregate,
    like_anchored,
    negate,
    node_name,
    operator_name,
    operator_role,
    rebase,
    result_type,
    row_equalities,
    strip_casts,
    unwrap,
    value_text,
)

_SUBLINK_KINDS: Final[dict[Any, str]] = {
    enums.SubLinkType.EXISTS_SUBLINK: "exists",
    enums.SubLinkType.ALL_SUBLINK: "all",
    enums.SubLinkType.ANY_SUBLINK: "in",
    enums.SubLinkType.ROWCOMPARE_SUBLINK: "rowcompare",
    enums.SubLinkType.EXPR_SUBLINK: "scalar",
    enums.SubLinkType.MULTIEXPR_SUBLINK: "scalar",
    enums.SubLinkType.ARRAY_SUBLINK: "array",
}
_CTE_MATERIALIZED: Final[dict[Any, str]] = {
    enums.CTEMaterialize.CTEMaterializeAlways: "materialized",
    enums.CTEMaterialize.CTEMaterializeNever: "not materialized",
}
_SORT_DIRECTIONS: Final[dict[Any, str]] = {
    enums.SortByDir.SORTBY_DESC: "desc",
    enums.SortByDir.SORTBY_USING: "using",
}
_SORT_NULLS: Final[dict[Any, str]] = {
    enums.SortByNulls.SORTBY_NULLS_FIRST: "first",
    enums.SortByNulls.SORTBY_NULLS_LAST: "last",
}
# Columns every table has (https://www.postgresql.org/docs/current/ddl-system-columns.html).
_SYSTEM_COLUMNS: Final = frozenset({"tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})
# LIMIT and OFFSET take bigint: PostgreSQL types their parameters so.
_LIMIT_TYPE: Final = "bigint"
# Views nest; a catalog built by hand could loop.
_MAX_VIEW_DEPTH: Final = 16


# --- what a walk collects -----------------------------------------------------------


@dataclass
class _Out:
    """An output column of a query block, or a column of a FROM item."""

    name: str
    column: ColumnRef | None = None  # the base column (also under an expression of it)
    expression: str | None = None  # base-relative, when not a bare column
    node: ast.Node | None = None  # the same expression as a node, to rebase outer ones
    type: str | None = None
    aggregate: bool = False
    via: str | None = None
    # Every base column the output is computed from. A view's, CTE's or subquery's
    # outputs are read only if the query around it uses them (the planner drops the
    # others), so their columns are noted when referenced, not when defined.
    reads: tuple[tuple[ColumnRef, str | None], ...] = ()


@dataclass
class _Source:
    """A FROM item as the names in its scope see it."""

    name: str  # what qualifies its columns: the alias, or the relation's name
    label: str  # for messages
    outs: dict[str, _Out] | None  # None: columns not known
    table: tuple[str, str] | None = None  # a base relation: (schema, name)
    schema: str | None = None  # for schema-qualified references
    via: str | None = None
    quiet: bool = False  # already reported missing: do not report its columns
    fallback: _Scope | None = None  # a block with unknown outputs: resolve inside it
    order: list[str] = field(default_factory=list)

    def column(self, name: str) -> _Out:
        """A column of a source whose columns are not known."""
        if self.table is not None:
            return _Out(name, ColumnRef(self.table[0], self.table[1], name), via=self.via)
        return _Out(name, via=self.via)


@dataclass
class _Scope:
    name: str
    outer: _Scope | None
    ctes: dict[str, _CteInfo]
    sources: list[_Source] = field(default_factory=list)
    merged: set[str] = field(default_factory=set)  # JOIN ... USING columns


@dataclass
class _CteInfo:
    index: int
    outs: list[_Out] | None
    scope: _Scope | None = None


@dataclass
class _Block:
    outs: list[_Out]
    open: bool = False  # a * over a source whose columns are unknown
    scope: _Scope | None = None


@dataclass
class _Side:
    """One side of a comparison: what columns, parameters and subqueries it holds."""

    node: ast.Node | None
    refs: list[tuple[_Out, _Source | None, bool]] = field(default_factory=list)
    resolved: dict[int, _Out] = field(default_factory=dict)  # id(ColumnRef) -> _Out
    params: list[int] = field(default_factory=list)
    sublink: bool = False
    aggregate: bool = False
    const: bool = True

    @property
    def current(self) -> list[_Source | None]:
        return [src for _, src, outer in self.refs if not outer]

    @property
    def value_kind(self) -> str:
        if self.sublink:
            return "subquery"
        if self.refs:
            return "column"
        if self.params:
            return "param"
        return "const" if self.const else "expression"


@dataclass
class _Described:
    column: ColumnRef | None
    expression: str | None
    node: ast.Node | None
    type: str | None
    via: str | None


class _State:
    """Everything one statement's walk collects."""

    def __init__(self, catalog: Catalog | None) -> None:
        self.catalog = catalog
        self.relations: dict[tuple[str, str, str, str | None], RelationUse] = {}
        self.ctes: list[Cte] = []
        self.subqueries: list[tuple[str, str]] = []
        self.correlated: set[str] = set()
        self.predicates: list[Predicate] = []
        self.order_by: list[SortKey] = []
        self.group_by: list[SortKey] = []
        self.distinct: list[SortKey] = []
        self.limit: Limit | None = None
        self.insert_columns: list[ColumnRef] = []
        self.set_columns: list[ColumnRef] = []
        self._set: set[ColumnRef] = set()  # the same, to test membership in constant time
        self.params: dict[int, Param] = {}
        self.roles: dict[ColumnRef, set[str]] = {}
        self.types: dict[ColumnRef, str | None] = {}
        self.unresolved: list[str] = []
        self.warnings: list[str] = []
        self._warned: set[str] = set()  # the same, to test membership in constant time
        self.sublinks = 0
        self.views: list[str] = []  # the views being expanded, innermost last

    # --- results ---

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def note(self, column: ColumnRef | None, role: str, type_: str | None = None) -> None:
        if column is None:
            return
        self.roles.setdefault(column, set()).add(role)
        if self.types.get(column) is None:
            self.types[column] = type_

    def param(self, number: int, column: ColumnRef | None = None, role: str | None = None,
              type_: str | None = None) -> None:
        """Record ``$n``; the most informative occurrence wins (a column, then a type)."""
        old = self.params.get(number)
        new = Param(number, column, role, type_)
        if old is None or (old.column is None and column is not None):
            if old is not None and new.type is None:
                new = Param(number, column, role, old.type)
            self.params[number] = new
        elif old.type is None and type_ is not None and (column is None or column == old.column):
            self.params[number] = Param(number, old.column, old.role, type_)

    def use(self, rel: RelationUse) -> None:
        self.relations.setdefault((rel.schema, rel.name, rel.kind, rel.via), rel)

    def column_uses(self) -> tuple[ColumnUse, ...]:
        return tuple(
            ColumnUse(col, self.types.get(col), tuple(sorted(roles, key=ROLE_ORDER.__getitem__)))
            for col, roles in self.roles.items()
        )

    # --- statements ---

    def statement(self, node: ast.Node | None, scope_name: str, outer: _Scope | None,
                  ctes: dict[str, _CteInfo], top: bool = False,
                  derived: bool = False) -> _Block:
        """A query block of any kind; its outputs (a DML statement's are its RETURNING).

        ``derived``: a view, CTE or FROM subquery, whose outputs count as read only
        where the enclosing query uses them.
        """
        if isinstance(node, ast.SelectStmt):
            return self.select(node, scope_name, outer, ctes, top, derived)
        if isinstance(node, ast.InsertStmt):
            return self.insert(node, scope_name, outer, ctes)
        if isinstance(node, ast.UpdateStmt):
            return self.update(node, scope_name, outer, ctes)
        if isinstance(node, ast.DeleteStmt):
            return self.delete(node, scope_name, outer, ctes)
        if isinstance(node, ast.MergeStmt):
            return self.merge(node, scope_name, outer, ctes)
        return _Block([])

    def with_clause(self, node: ast.WithClause | None, scope_name: str, outer: _Scope | None,
                    ctes: dict[str, _CteInfo]) -> dict[str, _CteInfo]:
        if node is None:
            return ctes
        ctes = dict(ctes)
        for cte in node.ctes or ():
            if not isinstance(cte, ast.CommonTableExpr) or not cte.ctename:
                continue
            name = cte.ctename
            self.ctes.append(Cte(name, _CTE_MATERIALIZED.get(cte.ctematerialized, "default"),
                                 bool(node.recursive), 0))
            info = _CteInfo(len(self.ctes) - 1, None)
            if node.recursive:
                ctes[name] = info  # it may read itself; its columns are not known yet
            # A materialized CTE computes all its outputs, used or not; one inlined
            # (NOT MATERIALIZED, or by default when read once) is pruned like a view.
            materialized = (cte.ctematerialized == enums.CTEMaterialize.CTEMaterializeAlways
                            or bool(node.recursive))
            block = self.statement(cte.ctequery, _child(scope_name, f"cte {name}"), outer, ctes,
                                   derived=not materialized)
            info.outs = _rename(block.outs, [a.sval for a in cte.aliascolnames or ()])
            if block.open:
                info.outs, info.scope = None, block.scope
            ctes[name] = info
        return ctes

    def select(self, node: ast.SelectStmt, scope_name: str, outer: _Scope | None,
               ctes: dict[str, _CteInfo], top: bool, derived: bool = False) -> _Block:
        ctes = self.with_clause(node.withClause, scope_name, outer, ctes)
        if node.op is not None and node.op != enums.SetOperation.SETOP_NONE:
            return self.set_operation(node, scope_name, outer, ctes, top, derived)
        scope = _Scope(scope_name, outer, ctes)
        if node.valuesLists:
            for row in node.valuesLists:
                for item in row:
                    self.visit(item, scope, "select")
            width = len(node.valuesLists[0])
            return _Block([_Out(f"column{i + 1}") for i in range(width)], scope=scope)
        for item in node.fromClause or ():
            self.from_item(item, scope)
        self.condition(node.whereClause, scope, "where")
        block = self.targets(node.targetList, scope, derived)
        self.grouping(node.groupClause, scope, block.outs)
        self.condition(node.havingClause, scope, "having")
        for window in node.windowClause or ():
            self.visit(window, scope, "select")
        if node.distinctClause:
            self.distinct_keys(node.distinctClause, scope, block.outs)
        self.sort(node.sortClause, scope, block.outs)
        self.limits(node, scope, top)
        return block

    def set_operation(self, node: ast.SelectStmt, scope_name: str, outer: _Scope | None,
                      ctes: dict[str, _CteInfo], top: bool, derived: bool) -> _Block:
        op = str(node.op.name).removeprefix("SETOP_").lower() if node.op else "union"
        arms = [self.statement(arm, _child(scope_name, f"{op} {i}"), outer, ctes,
                               derived=derived)
                for i, arm in enumerate((node.larg, node.rarg), 1)]
        outs = []
        for i, first in enumerate(arms[0].outs):
            # An output column is a base column only when every arm agrees.
            others = [arm.outs[i] if i < len(arm.outs) else None for arm in arms[1:]]
            same = all(o is not None and o.column == first.column
                       and o.expression == first.expression for o in others)
            reads = dict(first.reads)
            for o in others:
                reads.update(o.reads if o is not None else ())
            outs.append(replace(first, reads=tuple(reads.items())) if same
                        else _Out(first.name, type=first.type, reads=tuple(reads.items())))
        scope = _Scope(scope_name, outer, ctes)
        self.sort(node.sortClause, scope, outs)
        self.limits(node, scope, top)
        return _Block(outs, open=any(a.open for a in arms), scope=arms[0].scope)

    def limits(self, node: ast.SelectStmt, scope: _Scope, top: bool) -> None:
        values: list[int | str | None] = []
        for clause, role in ((node.limitCount, "limit"), (node.limitOffset, "offset")):
            if clause is None or (isinstance(clause, ast.A_Const) and clause.isnull):
                values.append(None)
                continue
            if isinstance(clause, ast.ParamRef) and clause.number is not None:
                self.param(clause.number, role=role, type_=_LIMIT_TYPE)
            else:
                self.visit(clause, scope, "select")
            const = int_const(clause)
            values.append(const if const is not None else deparse(clause))
        if top and any(v is not None for v in values):
            self.limit = Limit(values[0], values[1])

    def insert(self, node: ast.InsertStmt, scope_name: str, outer: _Scope | None,
               ctes: dict[str, _CteInfo]) -> _Block:
        ctes = self.with_clause(node.withClause, scope_name, outer, ctes)
        scope = _Scope(scope_name, outer, ctes)
        target = self.from_item(node.relation, scope)[0]
        names = [rt.name for rt in node.cols or () if isinstance(rt, ast.ResTarget) and rt.name]
        if not names and target.outs is not None:
            names = list(target.order)
        columns = [self.target_column(target, n) for n in names]
        for col in columns:
            if col.column is not None:
                self.insert_columns.append(col.column)
            self.note(col.column, "insert", col.type)
        select = node.selectStmt
        # The SELECT of INSERT ... SELECT cannot see the target table: a scope of its own.
        if isinstance(select, ast.SelectStmt) and select.valuesLists:
            values_scope = _Scope(scope_name, outer, ctes)
            for row in select.valuesLists:
                for col, item in zip(columns, row, strict=False):
                    self.bind(item, col.column, col.type, "insert")
                for item in row:
                    self.visit(item, values_scope, "select")
        elif isinstance(select, ast.SelectStmt):
            self.statement(select, scope_name, outer, ctes, top=True)
            if select.targetList and not select.op:
                for col, rt in zip(columns, select.targetList, strict=False):
                    self.bind(rt.val, col.column, col.type, "insert")
        conflict = node.onConflictClause
        if conflict is not None:
            excluded = _Source("excluded", "excluded", None if target.outs is None else {
                name: _Out(name) for name in target.order})
            if conflict.infer is not None:
                for elem in conflict.infer.indexElems or ():
                    if isinstance(elem, ast.IndexElem) and elem.name:
                        col = self.target_column(target, elem.name)
                        self.note(col.column, "conflict", col.type)
                    elif isinstance(elem, ast.IndexElem):
                        self.visit(elem.expr, scope, "conflict")
                self.condition(conflict.infer.whereClause, scope, "where")
            scope.sources.append(excluded)
            self.assignments(conflict.targetList, target, scope)
            self.condition(conflict.whereClause, scope, "where")
        return self.returning(node.returningClause, scope)

    def update(self, node: ast.UpdateStmt, scope_name: str, outer: _Scope | None,
               ctes: dict[str, _CteInfo]) -> _Block:
        ctes = self.with_clause(node.withClause, scope_name, outer, ctes)
        scope = _Scope(scope_name, outer, ctes)
        target = self.from_item(node.relation, scope)[0]
        for item in node.fromClause or ():
            self.from_item(item, scope)
        self.assignments(node.targetList, target, scope)
        self.condition(node.whereClause, scope, "where")
        return self.returning(node.returningClause, scope)

    def delete(self, node: ast.DeleteStmt, scope_name: str, outer: _Scope | None,
               ctes: dict[str, _CteInfo]) -> _Block:
        ctes = self.with_clause(node.withClause, scope_name, outer, ctes)
        scope = _Scope(scope_name, outer, ctes)
        self.from_item(node.relation, scope)
        for item in node.usingClause or ():
            self.from_item(item, scope)
        self.condition(node.whereClause, scope, "where")
        return self.returning(node.returningClause, scope)

    def merge(self, node: ast.MergeStmt, scope_name: str, outer: _Scope | None,
              ctes: dict[str, _CteInfo]) -> _Block:
        ctes = self.with_clause(node.withClause, scope_name, outer, ctes)
        scope = _Scope(scope_name, outer, ctes)
        target = self.from_item(node.relation, scope)[0]
        self.from_item(node.sourceRelation, scope)
        self.condition(node.joinCondition, scope, "on")
        for when in node.mergeWhenClauses or ():
            if not isinstance(when, ast.MergeWhenClause):
                continue
            self.condition(when.condition, scope, "where")
            if when.commandType == enums.CmdType.CMD_UPDATE:
                self.assignments(when.targetList, target, scope)
            elif when.commandType == enums.CmdType.CMD_INSERT:
                cols = [self.target_column(target, rt.name) for rt in when.targetList or ()
                        if isinstance(rt, ast.ResTarget) and rt.name]
                for col, value in zip(cols, when.values or (), strict=False):
                    if col.column is not None:
                        self.insert_columns.append(col.column)
                    self.note(col.column, "insert", col.type)
                    self.bind(value, col.column, col.type, "insert")
                for value in when.values or ():
                    self.visit(value, scope, "select")
        return self.returning(node.returningClause, scope)

    def target_column(self, target: _Source, name: str) -> _Out:
        """A column of the table an INSERT or UPDATE writes; reported when missing."""
        if target.outs is None:
            return target.column(name)
        out = target.outs.get(name)
        if out is None:
            self.warn(f"Column not found: {target.label}.{name}")
            return _Out(name)
        return out

    def assignments(self, targets: tuple[Any, ...] | None, target: _Source,
                    scope: _Scope) -> None:
        """UPDATE SET (and ON CONFLICT DO UPDATE SET): written columns, their values."""
        for rt in targets or ():
            if not isinstance(rt, ast.ResTarget) or not rt.name:
                continue
            col = self.target_column(target, rt.name)
            if col.column is not None and col.column not in self._set:
                self._set.add(col.column)
                self.set_columns.append(col.column)
            self.note(col.column, "set", col.type)
            value = rt.val
            if isinstance(value, ast.MultiAssignRef):
                source = value.source
                if isinstance(source, ast.RowExpr) and value.colno:
                    value = (source.args or ())[value.colno - 1]
                else:
                    # (a, b) = (SELECT ...): one subquery for all the columns
                    if value.colno == 1:
                        self.visit(source, scope, "select")
                    continue
            self.bind(value, col.column, col.type, "set")
            self.visit(value, scope, "select")

    def returning(self, clause: ast.ReturningClause | None, scope: _Scope) -> _Block:
        if clause is None:
            return _Block([])
        return self.targets(clause.exprs, scope)

    # --- FROM ---

    def from_item(self, node: ast.Node | None, scope: _Scope) -> list[_Source]:
        """Add a FROM item's sources to the scope; returns them (a join has several)."""
        if isinstance(node, ast.RangeVar):
            source = self.relation(node, scope)
        elif isinstance(node, ast.JoinExpr):
            return self.join(node, scope)
        elif isinstance(node, ast.RangeSubselect):
            source = self.derived(node, scope)
        elif isinstance(node, ast.RangeFunction):
            source = self.function(node, scope)
        elif isinstance(node, ast.RangeTableSample):
            return self.from_item(node.relation, scope)
        else:
            if node is not None:
                self.visit(node, scope, "select")
            source = _Source("", "", None)
        scope.sources.append(source)
        return [source]

    def relation(self, rv: ast.RangeVar, scope: _Scope) -> _Source:
        name = rv.relname or ""
        alias = rv.alias.aliasname if rv.alias is not None and rv.alias.aliasname else name
        renames = alias_columns(rv.alias)
        cte = scope.ctes.get(name) if rv.schemaname is None else None
        if cte is not None:
            old = self.ctes[cte.index]
            self.ctes[cte.index] = Cte(old.name, old.materialized, old.recursive,
                                       old.references + 1)
            self.use(RelationUse("", name, "cte"))
            return _derived_source(alias, f"cte {name}", cte.outs, cte.scope, renames)
        catalog = self.catalog
        rel = catalog.find(rv.schemaname, name) if catalog is not None else None
        if rel is None:
            return self.uncatalogued(rv, alias)
        via = self.views[-1] if self.views else None
        kind = rel.kind
        if rel.system:
            kind = "system catalog"
        elif rel.partition_of is not None and kind == "table":
            kind = "partition"
        self.use(RelationUse(rel.schema, rel.name, kind, via, rel.partition_of))
        if rel.kind == "view" and not rel.system:
            return self.view(rel, alias, renames)
        outs = {c.name: _Out(c.name, ColumnRef(rel.schema, rel.name, c.name), type=c.type)
                for c in rel.columns}
        source = _Source(alias, rel.name, outs, (rel.schema, rel.name), rel.schema,
                         order=[c.name for c in rel.columns])
        return _renamed(source, renames)

    def uncatalogued(self, rv: ast.RangeVar, alias: str) -> _Source:
        """A relation the catalog does not have (or there is no catalog)."""
        name = rv.relname or ""
        catalog = self.catalog
        schema = rv.schemaname
        has_system = catalog is not None and catalog.has_system
        # Without the system catalogs loaded, trust the name: pg_catalog's tables are
        # found first along any search path, and "pg_" names are reserved to them.
        if not has_system and (schema in SYSTEM_SCHEMAS
                               or (schema is None and name.startswith("pg_"))):
            schema = schema or "pg_catalog"
            self.use(RelationUse(schema, name, "system catalog"))
            return _Source(alias, name, None, (schema, name), schema)
        if schema is None:
            schema = catalog.creation_schema if catalog is not None else "public"
        self.use(RelationUse(schema, name, "unknown", self.views[-1] if self.views else None))
        if catalog is not None:
            self.warn(f"Table not found: {schema}.{name}")
        return _Source(alias, name, None, (schema, name), schema, quiet=True)

    def view(self, rel: Relation, alias: str, renames: list[str]) -> _Source:
        """A view's columns, mapped through its definition to base columns."""
        label = f"view {rel.qualified}"
        catalog = self.catalog
        assert catalog is not None
        if rel.qualified in self.views or len(self.views) >= _MAX_VIEW_DEPTH:
            self.warn(f"View definitions nest too deep at {rel.qualified}: not expanded")
            return _Source(alias, rel.name, None, via=label)
        parsed = catalog._parsed.get((rel.schema, rel.name))
        if parsed is None:
            parsed = _parse_definition(rel)
            catalog._parsed[(rel.schema, rel.name)] = parsed
        if isinstance(parsed, str):
            self.warn(parsed)
            return _Source(alias, rel.name, None, via=label)
        self.views.append(rel.qualified)
        try:
            block = self.statement(parsed, label, None, {}, derived=True)
        finally:
            self.views.pop()
        outs = [replace(out, type=out.type or col.type)
                for out, col in zip(_rename(block.outs, [c.name for c in rel.columns]),
                                    rel.columns, strict=False)]
        return _derived_source(alias, label, None if block.open else outs, block.scope, renames)

    def derived(self, node: ast.RangeSubselect, scope: _Scope) -> _Source:
        alias = node.alias.aliasname if node.alias is not None and node.alias.aliasname else ""
        name = _child(scope.name, f"subquery {alias or len(self.subqueries) + 1}")
        self.subqueries.append((name, "lateral" if node.lateral else "from"))
        outer = scope if node.lateral else scope.outer
        block = self.statement(node.subquery, name, outer, scope.ctes, derived=True)
        renames = alias_columns(node.alias)
        outs = None if block.open else block.outs
        return _derived_source(alias, name.rsplit("/", 1)[-1], outs, block.scope, renames)

    def function(self, node: ast.RangeFunction, scope: _Scope) -> _Source:
        names: list[str] = []
        for item in node.functions or ():
            call = item[0] if isinstance(item, tuple) and item else item
            if isinstance(call, ast.FuncCall):
                names.append(funcname(call))
                self.use(RelationUse("", funcname(call), "function"))
            self.visit(call, scope, "select")
        alias = node.alias.aliasname if node.alias is not None and node.alias.aliasname else ""
        colnames = alias_columns(node.alias)
        colnames += [d.colname for d in node.coldeflist or () if isinstance(d, ast.ColumnDef)
                     and d.colname]
        if not colnames and len(names) == 1 and not node.ordinality:
            colnames = [alias or names[0]]  # a scalar function's one column
        outs = {n: _Out(n) for n in colnames}
        # Set-returning functions with a record type have columns the parser cannot know.
        return _Source(alias or (names[0] if names else ""), alias or "function",
                       outs if colnames else None, order=colnames)

    def join(self, node: ast.JoinExpr, scope: _Scope) -> list[_Source]:
        left = self.from_item(node.larg, scope)
        right = self.from_item(node.rarg, scope)
        using = [n.sval or "" for n in node.usingClause or () if isinstance(n, ast.String)]
        if node.isNatural:
            right_names = {n for s in right if s.outs is not None for n in s.outs}
            using = [n for s in left if s.outs is not None for n in s.order if n in right_names]
        for name in using:
            lhs = next((s for s in left if s.outs is None or name in s.outs), None)
            rhs = next((s for s in right if s.outs is None or name in s.outs), None)
            if lhs is None or rhs is None:
                self.warn(f"Column not found: {name} (in USING)")
                continue
            a = lhs.outs[name] if lhs.outs is not None else lhs.column(name)
            b = rhs.outs[name] if rhs.outs is not None else rhs.column(name)
            self.note(a.column, "join", a.type)
            self.note(b.column, "join", b.type)
            self.predicates.append(Predicate(
                "join", a.column, a.expression, "=",
                deparse(ast.ColumnRef(fields=(ast.String(sval=rhs.name), ast.String(sval=name)))),
                "column", b.column,
                clause="using", scope=scope.name, via=a.via))
            scope.merged.add(name)
        self.condition(node.quals, scope, "on")
        sources = [*left, *right]
        if node.alias is not None and node.alias.aliasname:
            # (a JOIN b) AS j: outside the join only j's columns are visible.
            outs: dict[str, _Out] = {}
            for s in sources:
                scope.sources.remove(s)
                for n, out in (s.outs or {}).items():
                    outs.setdefault(n, out)
            alias = node.alias.aliasname
            joined = _Source(alias, alias, outs, order=list(outs))
            scope.sources.append(joined)
            return [joined]
        return sources

    # --- names ---

    def resolve(self, node: ast.ColumnRef, scope: _Scope,
                quiet: bool = False) -> tuple[_Out, _Source | None, bool] | None:
        """The column a reference names: (output, its source, whether from an outer scope)."""
        fields = node.fields or ()
        names = [(f.sval or "") if isinstance(f, ast.String) else "*" for f in fields]
        written = ".".join(names)
        if not names or names[-1] == "*":
            return None
        column = names[-1]
        if len(names) == 1:
            return self.unqualified(column, scope, quiet)
        qualifier = names[-2]
        schema = names[-3] if len(names) >= 3 else None
        s: _Scope | None = scope
        crossed: list[_Scope] = []
        while s is not None:
            for src in s.sources:
                if src.name == qualifier and (schema is None or src.schema == schema):
                    self.cross(crossed)
                    return self.column_of(src, column, written, quiet), src, bool(crossed)
            crossed.append(s)
            s = s.outer
        if not quiet:
            self.warn(f"Missing FROM-clause entry for table {qualifier} (in {written})")
            self.unresolved.append(written)
        return None

    def column_of(self, src: _Source, column: str, written: str, quiet: bool) -> _Out:
        if src.outs is None:
            if src.fallback is not None:
                found = self.resolve(ast.ColumnRef(fields=(ast.String(sval=column),)),
                                     src.fallback, quiet=True)
                if found is not None:
                    return replace(found[0], via=src.via)
            return src.column(column)
        out = src.outs.get(column)
        if out is None and src.table is not None and column in _SYSTEM_COLUMNS:
            return _Out(column)  # ctid, xmin, ...: every table has them; no index on them
        if out is None:
            if not quiet and not src.quiet:
                self.warn(f"Column not found: {src.label}.{column}")
                self.unresolved.append(written)
            return _Out(column)
        return out

    def unqualified(self, column: str, scope: _Scope,
                    quiet: bool) -> tuple[_Out, _Source | None, bool] | None:
        s: _Scope | None = scope
        crossed: list[_Scope] = []
        while s is not None:
            matches = [src for src in s.sources if src.outs is not None and column in src.outs]
            if len(matches) == 1 or (matches and column in s.merged):
                self.cross(crossed)
                return matches[0].outs[column], matches[0], bool(crossed)  # type: ignore[index]
            if len(matches) > 1:
                if not quiet:
                    where = ", ".join(m.name for m in matches)
                    self.warn(f"Column reference is ambiguous: {column} (in {where})")
                    self.unresolved.append(column)
                return None
            tables = [src for src in s.sources if src.table is not None]
            if column in _SYSTEM_COLUMNS and len(tables) == 1:
                return _Out(column), tables[0], bool(crossed)
            unknown = [src for src in s.sources if src.outs is None]
            if len(unknown) == 1:
                self.cross(crossed)
                return self.column_of(unknown[0], column, column, quiet), unknown[0], \
                    bool(crossed)
            if unknown:
                if not quiet:
                    where = ", ".join(u.name for u in unknown)
                    self.warn(f"Column not resolved: {column} (the columns of {where} "
                              "are not known)")
                    self.unresolved.append(column)
                return None
            crossed.append(s)
            s = s.outer
        if not quiet:
            # A relation's name alone is a whole-row reference, not a column.
            if any(src.name == column for src in scope.sources):
                return None
            only = scope.sources[0] if len(scope.sources) == 1 else None
            self.warn(f"Column not found: {only.label}.{column}" if only is not None
                      else f"Column not found: {column}")
            self.unresolved.append(column)
        return None

    def cross(self, crossed: list[_Scope]) -> None:
        """A reference reached an outer scope: the scopes in between are correlated."""
        for s in crossed:
            self.correlated.add(s.name)

    # --- expressions ---

    def side(self, node: ast.Node | None, scope: _Scope) -> _Side:
        side = _Side(node)
        self._walk(node, scope, side)
        return side

    def _walk(self, node: ast.Node | None, scope: _Scope, side: _Side) -> None:
        if node is None:
            return
        if isinstance(node, ast.ColumnRef):
            side.const = False
            found = self.resolve(node, scope)
            if found is not None:
                out = found[0]
                side.refs.append(found)
                side.resolved[id(node)] = out
                side.aggregate = side.aggregate or out.aggregate
                self.note_reads(out)
            elif (node.fields or (None,))[-1].__class__ is ast.A_Star:
                self.star(node, scope)
            return
        if isinstance(node, ast.ParamRef):
            side.const = False
            if node.number is not None:
                side.params.append(node.number)
                self.param(node.number)
            return
        if isinstance(node, ast.A_Const):
            return
        if isinstance(node, ast.TypeCast):
            if isinstance(node.arg, ast.ParamRef) and node.arg.number and node.typeName:
                self.param(node.arg.number, type_=format_type(node.typeName))
            self._walk(node.arg, scope, side)
            return
        if isinstance(node, ast.SubLink):
            side.const = False
            side.sublink = True
            self._walk(node.testexpr, scope, side)
            self.sublink(node, scope)
            return
        if isinstance(node, ast.FuncCall):
            side.const = False
            if is_aggregate(node):
                side.aggregate = True
        elif isinstance(node, ast.SQLValueFunction):
            side.const = False
        for child in children(node):
            self._walk(child, scope, side)

    def star(self, node: ast.ColumnRef, scope: _Scope, note: bool = True) -> list[_Out] | None:
        """``*`` or ``t.*``: every column of the sources, None when some are not known."""
        fields = node.fields or ()
        qualifier = node_name(fields[-2]) if len(fields) >= 2 else None
        sources = [s for s in scope.sources if qualifier is None or s.name == qualifier]
        if qualifier is not None and not sources:
            self.warn(f"Missing FROM-clause entry for table {qualifier} (in {qualifier}.*)")
            return []
        outs: list[_Out] = []
        known = True
        for src in sources:
            if src.outs is None:
                known = False
                if src.table is not None and note:
                    self.note(ColumnRef(src.table[0], src.table[1], "*"), "select")
                continue
            for name in src.order:
                out = src.outs[name]
                if note:
                    self.note(out.column, "select", out.type)
                    self.note_reads(out)
                outs.append(out)
        return outs if known else None

    def note_reads(self, out: _Out) -> None:
        """A derived output is used: the columns it is computed from are read."""
        for column, type_ in out.reads:
            if column != out.column:
                self.note(column, "select", type_)

    def visit(self, node: ast.Node | None, scope: _Scope, role: str) -> _Side:
        """Walk an expression that is not a predicate: its columns get ``role``."""
        side = self.side(node, scope)
        for out, _, _ in side.refs:
            self.note(out.column, role, out.type)
        return side

    def sublink(self, node: ast.SubLink, scope: _Scope, negated: bool = False) -> str:
        self.sublinks += 1
        name = _child(scope.name, f"sublink {self.sublinks}")
        kind = _SUBLINK_KINDS.get(node.subLinkType, "scalar")
        if negated and kind == "exists":
            kind = "not exists"  # an anti-join
        self.subqueries.append((name, kind))
        self.statement(node.subselect, name, scope, scope.ctes)
        return name

    def describe(self, side: _Side) -> _Described:
        """The column (or expression over one table's columns) a side stands for."""
        node = side.node
        base = strip_casts(node) if isinstance(node, ast.TypeCast) else node
        cast = format_type(node.typeName) if isinstance(node, ast.TypeCast) and \
            node.typeName is not None else None
        if cast is None:
            cast = result_type(node)
        if isinstance(node, ast.ColumnRef) and side.refs:
            out = side.refs[0][0]
            # An output computed without columns (a CTE's counter): keep its name.
            expression = out.expression if out.column or out.expression else deparse(node)
            return _Described(out.column, expression, out.node, out.type, out.via)
        if side.aggregate or not side.refs or side.sublink:
            return _Described(None, deparse(node), None, cast, None)
        columns = {out.column for out, _, _ in side.refs}
        tables = {(c.schema, c.table) for c in columns if c is not None}
        if None in columns or len(tables) != 1:
            return _Described(None, deparse(node), None, cast, None)
        rebased = rebase(node, lambda ref: _base_form(side.resolved.get(id(ref))))
        vias = {out.via for out, _, _ in side.refs}
        column = next(iter(columns)) if len(columns) == 1 else None
        if isinstance(base, ast.ColumnRef) and cast is not None:
            # col::type: still the column, compared as another type.
            out = side.refs[0][0]
            return _Described(out.column, deparse(rebased), rebased, cast, out.via)
        return _Described(column, deparse(rebased), rebased, cast,
                          vias.pop() if len(vias) == 1 else None)

    # --- predicates ---

    def condition(self, node: ast.Node | None, scope: _Scope, clause: str,
                  in_or: bool = False, negated: bool = False) -> None:
        """A WHERE, ON or HAVING condition, split into predicates on columns."""
        if node is None:
            return
        if isinstance(node, ast.BoolExpr):
            op = node.boolop
            if op == enums.BoolExprType.NOT_EXPR:
                for arg in node.args or ():
                    self.condition(arg, scope, clause, in_or, not negated)
                return
            # De Morgan: NOT (a AND b) is NOT a OR NOT b.
            is_or = (op == enums.BoolExprType.OR_EXPR) != negated
            if op == enums.BoolExprType.OR_EXPR and not negated:
                self.common_or(node, scope, clause, in_or)
                return
            for arg in node.args or ():
                self.condition(arg, scope, clause, in_or or is_or, negated)
            return
        if isinstance(node, ast.NullTest):
            is_null = node.nulltesttype == enums.NullTestType.IS_NULL
            is_null = is_null != negated
            self.single(node.arg, scope, "null", "is null" if is_null else "is not null",
                        clause, in_or)
            return
        if isinstance(node, ast.ColumnRef):
            # A boolean column alone: col = true (NOT col: col = false).
            self.single(node, scope, "eq", "=", clause, in_or,
                        value="false" if negated else "true")
            return
        if isinstance(node, ast.A_Expr):
            self.comparison(node, scope, clause, in_or, negated)
            return
        if isinstance(node, ast.SubLink):
            self.subquery_test(node, scope, clause, in_or, negated)
            return
        if isinstance(node, ast.BooleanTest):
            test = str(node.booltesttype.name if node.booltesttype else "IS_TRUE")
            operator = test.lower().replace("_", " ")
            self.single(node.arg, scope, "filter", ("not " if negated else "") + operator,
                        clause, in_or)
            return
        if isinstance(node, ast.A_Const):
            return
        self.single(node, scope, "filter", "is not true" if negated else "is true",
                    clause, in_or)

    def common_or(self, node: ast.BoolExpr, scope: _Scope, clause: str, in_or: bool) -> None:
        """``(a AND b) OR (a AND c)``: ``a`` holds whatever the branch, as the planner sees.

        PostgreSQL pulls the terms every branch shares out of the OR before planning
        (``find_duplicate_ors``, prepqual.c): they filter, join and match an index as
        any top-level term does; only the rest is a test in an OR.
        """
        branches = [_conjuncts(arg) for arg in node.args or ()]
        # Each term deparsed once: deparsing is most of the time of a long OR.
        texts = [[deparse(term) for term in branch] for branch in branches]
        shared = set.intersection(*map(set, texts)) if texts else set()
        pulled: set[str] = set()
        for term, text in zip(branches[0] if branches else (), texts[0] if texts else (),
                              strict=True):
            if text in shared and text not in pulled:  # once, however often repeated
                pulled.add(text)
                self.condition(term, scope, clause, in_or)
        for branch, branch_texts in zip(branches, texts, strict=True):
            for term, text in zip(branch, branch_texts, strict=True):
                if text not in shared:
                    self.condition(term, scope, clause, True)

    def single(self, node: ast.Node | None, scope: _Scope, role: str, operator: str,
               clause: str, in_or: bool, value: str | None = None) -> None:
        """A test on one expression: IS NULL, a boolean column, a boolean function."""
        side = self.side(node, scope)
        for out, _, _ in side.refs:
            self.note(out.column, "select" if side.aggregate else role, out.type)
        if not side.refs and not side.aggregate:
            return
        d = self.describe(side)
        self.predicates.append(Predicate(
            role, d.column, d.expression if d.expression is not None or d.column else
            deparse(node), operator, value, "const" if value is not None else None,
            in_or=in_or, clause=clause, scope=scope.name, via=d.via))

    def subquery_test(self, node: ast.SubLink, scope: _Scope, clause: str, in_or: bool,
                      negated: bool) -> None:
        """EXISTS (...), x IN (SELECT ...), x = ANY (SELECT ...), x > ALL (SELECT ...)."""
        if node.subLinkType != enums.SubLinkType.ANY_SUBLINK or node.testexpr is None:
            self.visit(node.testexpr, scope, "filter")
            self.sublink(node, scope, negated)
            return
        left = self.side(node.testexpr, scope)
        name = self.sublink(node, scope)
        operator = node_name((node.operName or (None,))[-1]) or "="
        role = "in" if operator == "=" and not negated else "filter"
        text = "in" if operator == "=" else f"{operator} any"
        for out, _, _ in left.refs:
            self.note(out.column, role, out.type)
        if left.refs:
            d = self.describe(left)
            self.predicates.append(Predicate(
                role, d.column, d.expression, ("not " if negated else "") + text, f"({name})",
                "subquery", in_or=in_or, clause=clause, scope=scope.name, via=d.via))

    def comparison(self, node: ast.A_Expr, scope: _Scope, clause: str, in_or: bool,
                   negated: bool) -> None:
        """A binary test: =, <, IN, ANY, LIKE, BETWEEN, any other operator."""
        kind = node.kind
        op = operator_name(node)
        pairs = row_equalities(node)
        if pairs is not None:
            # (a, b) = ($1, $2) is a = $1 AND b = $2, as the planner sees it; a list of
            # rows (IN) is an OR of such ANDs, and NOT turns the ANDs into ORs.
            either = in_or or negated or len(pairs) > 1
            for row in pairs:
                for lhs, rhs in row:
                    eq = ast.A_Expr(kind=KIND.AEXPR_OP, name=(ast.String(sval="="),),
                                    lexpr=lhs, rexpr=rhs)
                    self.comparison(eq, scope, clause, either, negated)
            return
        left = self.side(node.lexpr, scope)
        items: list[ast.Node | None] = []
        right_node = node.rexpr if isinstance(node.rexpr, ast.Node) else None
        if kind in LIST_KINDS:
            items = list(node.rexpr) if isinstance(node.rexpr, tuple) else [node.rexpr]
            right_node = None
            right = _Side(None)
            for item in items:
                self._walk(item, scope, right)
        else:
            right = self.side(right_node, scope)
        reversed_op = None
        if not left.current and right.current and not items:
            # Put the column side on the left: 5 < x is x > 5.
            left, right = right, left
            right_node = right.node
            if kind == KIND.AEXPR_OP and op in FLIPPED:
                op = FLIPPED[op]
            elif kind == KIND.AEXPR_OP_ANY and op == "=":
                reversed_op = "contains"  # $1 = ANY(tags): the array holds the value
            else:
                reversed_op = f"{op} (column on the right)"
        if reversed_op is not None:
            role, operator = "filter", reversed_op
        elif kind == KIND.AEXPR_OP:
            role, operator = self.op_role(op, left, right)
        else:
            role, operator = operator_role(kind, op)
        if negated:
            role, operator = negate(role, operator, bool(right.refs))
        # Columns under an aggregate (HAVING count(x) > 5) are read, not searched.
        for out, _, _ in left.refs:
            self.note(out.column, "select" if left.aggregate else role, out.type)
        other_role = "join" if role == "join" else ("range" if role == "range" and right.refs
                                                    else "filter")
        for out, _, _ in right.refs:
            self.note(out.column, other_role, out.type)
        if not left.refs and not left.aggregate:
            return  # no column: $1 = 1, now() > $2
        d = self.describe(left)
        if items:
            texts = [value_text(i, d.type) for i in items]
            value = f"({', '.join(texts)})" if kind == KIND.AEXPR_IN else " AND ".join(texts)
        else:
            value = value_text(right_node, d.type)
        other = None
        if role == "join" and isinstance(right_node, ast.ColumnRef) and right.refs:
            other = right.refs[0][0].column
        anchored = like_anchored(right_node) if role == "like" else None
        self.predicates.append(Predicate(
            role, d.column, d.expression, operator, value, right.value_kind, other, anchored,
            in_or, clause, scope.name, d.via))
        self.bind_compared(kind, role, operator, reversed_op, right_node, items, left, d)

    def bind_compared(self, kind: Any, role: str, operator: str, reversed_op: str | None,
                      right_node: ast.Node | None, items: list[ast.Node | None], left: _Side,
                      d: _Described) -> None:
        """The parameters a column is compared with: their column, role and type."""
        col_type = d.type
        if isinstance(left.node, ast.RowExpr) and isinstance(right_node, ast.RowExpr):
            # (ts, id) < ($1, $2), keyset pagination: each value goes with its column.
            for lhs, rhs in zip(left.node.args or (), right_node.args or (), strict=False):
                out = left.resolved.get(id(lhs))
                if out is not None:
                    self.bind(rhs, out.column, out.type, role)
        elif reversed_op == "contains":
            element = col_type.removesuffix("[]") if col_type else None
            self.bind(right_node, d.column, element, role)
        elif kind == KIND.AEXPR_OP_ANY:
            self.bind(right_node, d.column, f"{col_type}[]" if col_type else None, role,
                      left.node, left.resolved)
        elif items:
            for item in items:
                self.bind(item, d.column, col_type, role, left.node, left.resolved)
        elif role == "like" or operator in ("not like", "not ilike"):
            # '%' || $1 || '%': the pattern is text, whatever the column's type.
            for part in concat_parts(strip_casts(unwrap(right_node))):
                if isinstance(part, ast.ParamRef) and part.number is not None:
                    self.param(part.number, d.column, role, "text")
            self.bind(right_node, d.column, col_type, role, left.node, left.resolved)
        elif kind in (KIND.AEXPR_OP, KIND.AEXPR_DISTINCT, KIND.AEXPR_NOT_DISTINCT):
            self.bind(right_node, d.column, col_type, role, left.node, left.resolved)

    def op_role(self, op: str, left: _Side, right: _Side) -> tuple[str, str]:
        if op in LIKE_OPS:
            name = LIKE_OPS[op]
            return ("filter" if name.startswith("not") else "like"), name
        left_sources = {id(s) for s in left.current}
        other_sources = {id(s) for s, outer in ((s, o) for _, s, o in right.refs)
                         if outer or id(s) not in left_sources}
        if op == "=":
            if right.refs and other_sources and not (
                    {id(s) for s in right.current} & left_sources):
                return "join", "="
            return ("eq", "=") if not right.refs else ("filter", "=")
        if op in RANGE_OPS:
            if right.refs and {id(s) for s in right.current} & left_sources:
                return "filter", op
            return "range", op
        return "filter", op

    def bind(self, value: ast.Node | None, column: ColumnRef | None, col_type: str | None,
             role: str, col_node: ast.Node | None = None,
             resolved: dict[int, _Out] | None = None) -> None:
        """A parameter compared directly with a column takes the column's type.

        ``lower(email) = lower($1)``: the same function on both sides, so ``$1`` is
        compared with email as much as lower() allows, and is text.
        """
        node, col = unwrap(value), col_node
        while (isinstance(node, ast.FuncCall) and isinstance(col, ast.FuncCall)
               and funcname(node) == funcname(col)
               and len(node.args or ()) == 1 and len(col.args or ()) == 1):
            node, col = (node.args or ())[0], (col.args or ())[0]
        if col is not col_node and isinstance(col, ast.ColumnRef) and resolved is not None:
            out = resolved.get(id(col))
            col_type = out.type if out is not None else None
        if isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.ParamRef) \
                and node.arg.number is not None and node.typeName is not None:
            self.param(node.arg.number, column, role, format_type(node.typeName))
        elif isinstance(node, ast.ParamRef) and node.number is not None:
            self.param(node.number, column, role, col_type)

    # --- outputs and keys ---

    def targets(self, targets: tuple[Any, ...] | None, scope: _Scope,
                derived: bool = False) -> _Block:
        outs: list[_Out] = []
        open_ = False
        for rt in targets or ():
            if not isinstance(rt, ast.ResTarget):
                continue
            val = rt.val
            if isinstance(val, ast.ColumnRef) and isinstance((val.fields or (None,))[-1],
                                                             ast.A_Star):
                expanded = self.star(val, scope, note=not derived)
                if expanded is None:
                    open_ = True
                else:
                    outs.extend(expanded)
                continue
            side = self.side(val, scope) if derived else self.visit(val, scope, "select")
            d = self.describe(side)
            name = rt.name or figure_colname(val)
            outs.append(_Out(name, d.column, d.expression, d.node, d.type, side.aggregate,
                             d.via, _reads(side)))
        return _Block(outs, open_, scope)

    def key(self, node: ast.Node | None, scope: _Scope, outs: list[_Out], role: str,
            output_names_first: bool) -> _Out | None:
        """An ORDER BY / GROUP BY / DISTINCT ON item: an output column or an expression."""
        position = int_const(node)
        if position is not None:
            if 1 <= position <= len(outs):
                out = outs[position - 1]
                self.note(out.column, role, out.type)
                return out
            self.warn(f"Position {position} is not in the select list")
            return None
        if isinstance(node, ast.ColumnRef) and len(node.fields or ()) == 1:
            name = node_name((node.fields or (None,))[0])
            by_name = [o for o in outs if o.name == name]
            # ORDER BY prefers output names; GROUP BY prefers input columns.
            if by_name and (output_names_first or self.resolve(node, scope, quiet=True) is None):
                out = by_name[0]
                self.note(out.column, role, out.type)
                return out
        side = self.visit(node, scope, role)
        if not side.refs and not side.aggregate:
            return None
        d = self.describe(side)
        return _Out("", d.column, d.expression, d.node, d.type, side.aggregate, d.via)

    def sort(self, clause: tuple[Any, ...] | None, scope: _Scope, outs: list[_Out]) -> None:
        for item in clause or ():
            if not isinstance(item, ast.SortBy):
                continue
            out = self.key(item.node, scope, outs, "sort", True)
            if out is None:
                continue
            self.order_by.append(SortKey(
                *_key_fields(out), _SORT_DIRECTIONS.get(item.sortby_dir, "asc"),
                _SORT_NULLS.get(item.sortby_nulls), scope.name))

    def grouping(self, clause: tuple[Any, ...] | None, scope: _Scope,
                 outs: list[_Out]) -> None:
        for item in clause or ():
            if isinstance(item, ast.GroupingSet):
                self.grouping(item.content, scope, outs)
                continue
            out = self.key(item, scope, outs, "group", False)
            if out is not None:
                self.group_by.append(SortKey(*_key_fields(out), scope=scope.name))

    def distinct_keys(self, clause: tuple[Any, ...], scope: _Scope, outs: list[_Out]) -> None:
        if clause == (None,):  # plain DISTINCT: every output column
            for out in outs:
                self.note(out.column, "distinct", out.type)
                if out.column is not None or out.expression is not None:
                    self.distinct.append(SortKey(*_key_fields(out), scope=scope.name))
            return
        for item in clause:
            key = self.key(item, scope, outs, "distinct", True)
            if key is not None:
                self.distinct.append(SortKey(*_key_fields(key), scope=scope.name))

    def finish_subqueries(self) -> tuple[Subquery, ...]:
        return tuple(Subquery(name, kind, name in self.correlated)
                     for name, kind in self.subqueries)


def _reads(side: _Side) -> tuple[tuple[ColumnRef, str | None], ...]:
    reads: dict[ColumnRef, str | None] = {}
    for out, _, _ in side.refs:
        if out.column is not None:
            reads.setdefault(out.column, out.type)
        for column, type_ in out.reads:
            reads.setdefault(column, type_)
    return tuple(reads.items())


def _base_form(out: _Out | None) -> ast.Node | None:
    """A column as its base table names it: its bare name, or the expression it is."""
    if out is None:
        return None
    if out.node is not None:
        return out.node
    if out.column is not None:
        return ast.ColumnRef(fields=(ast.String(sval=out.column.column),))
    return None


def _key_fields(out: _Out) -> tuple[ColumnRef | None, str | None]:
    if out.aggregate:
        return None, out.expression
    return out.column, out.expression


def _child(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _rename(outs: list[_Out], names: list[str]) -> list[_Out]:
    """Outputs renamed by a column list (``cte(a, b)``, a view's columns)."""
    renamed = []
    for i, out in enumerate(outs):
        if i < len(names) and names[i] != out.name:
            out = replace(out, name=names[i])
        renamed.append(out)
    return renamed


def _derived_source(alias: str, via: str, outs: list[_Out] | None, scope: _Scope | None,
                    renames: list[str]) -> _Source:
    """A FROM item whose columns are another block's outputs (CTE, subquery, view)."""
    if outs is None:
        return _Source(alias, alias, None, via=via, fallback=scope)
    named: dict[str, _Out] = {}
    for out in _rename(outs, renames):
        named.setdefault(out.name, replace(out, via=via))
    return _Source(alias, alias, named, via=via, order=list(named))


def _renamed(source: _Source, renames: list[str]) -> _Source:
    if not renames or source.outs is None:
        return source
    outs = _rename([source.outs[n] for n in source.order], renames)
    return _Source(source.name, source.label, {o.name: o for o in outs}, source.table,
                   source.schema, source.via, order=[o.name for o in outs])


def _parse_definition(rel: Relation) -> ast.Node | str:
    """A view's parsed SELECT, or the reason it could not be read."""
    from pglast import parser

    try:
        stmts = parser.parse_sql(rel.definition or "")
    except parser.ParseError as exc:
        return f"Could not parse the definition of view {rel.qualified}: {exc.args[0]}"
    if not stmts or stmts[0].stmt is None:
        return f"View {rel.qualified} has no definition in the catalog"
    return stmts[0].stmt


def output_columns(query: ast.Node, catalog: Catalog) -> list[tuple[str, str | None]]:
    """The names and types of a query's output columns (for views built from DDL)."""
    state = _State(catalog)
    block = state.statement(query, "", None, {})
    return [(out.name, out.type) for out in block.outs]


def _conjuncts(node: ast.Node) -> list[ast.Node]:
    """The terms ANDed together in ``node`` (itself if it is not an AND)."""
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.AND_EXPR:
        return [term for arg in node.args or () for term in _conjuncts(arg)]
    return [node]
