"""Small helpers over pglast's parse tree nodes: names, text, shapes of expressions."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, Final

from pglast import ast, enums
from pglast.stream import RawStream

from pgarchitect.analysis.catalog import format_type

RANGE_OPS: Final = frozenset({"<", "<=", ">", ">="})
# Operators with their arguments swapped: 5 < x is x > 5, a <@ b is b @> a.
FLIPPED: Final = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>", "!=": "!=",
                  "@>": "<@", "<@": "@>", "&&": "&&"}
# LIKE and ILIKE as the parser names their operators.
LIKE_OPS: Final = {"~~": "like", "~~*": "ilike", "!~~": "not like", "!~~*": "not ilike"}
# Aggregates by name, for calls that do not show it otherwise (no DISTINCT, FILTER, OVER).
AGGREGATES: Final = frozenset({
    "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and", "bool_or",
    "every", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev",
    "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "bit_and", "bit_or",
    "bit_xor", "xmlagg", "corr", "covar_pop", "covar_samp", "percentile_cont",
    "percentile_disc", "mode", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept",
    "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "range_agg",
    "range_intersect_agg", "any_value",
})
# Result types of common functions whatever their arguments, for the output columns of
# views and CTEs (a catalog read from a server has them from pg_attribute).
RESULT_TYPES: Final = {"count": "bigint", "lower": "text", "upper": "text"}

# Per node class, the attributes that hold nodes.
_SLOTS: dict[type, tuple[str, ...]] = {}


def children(node: ast.Node) -> Iterator[ast.Node]:
    """The child nodes of any node, in declaration order."""
    for name in _slot_names(node):
        yield from _nodes(getattr(node, name))


def _nodes(value: Any) -> Iterator[ast.Node]:
    if isinstance(value, ast.Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)


def deparse(node: ast.Node | None) -> str:
    """The node deparsed by pglast; the common leaves without the printer's overhead."""
    if node is None:
        return ""
    if isinstance(node, ast.ParamRef):
        return f"${node.number}"
    if isinstance(node, ast.A_Const) and not node.isnull:
        if isinstance(node.val, ast.Integer):
            return str(node.val.ival)
        if isinstance(node.val, ast.Boolean):
            return "true" if node.val.boolval else "false"
    return str(RawStream()(node))


def node_name(node: ast.Node | None) -> str | None:
    return node.sval if isinstance(node, ast.String) else None


def funcname(node: ast.FuncCall) -> str:
    return node_name((node.funcname or (None,))[-1]) or ""


def operator_name(node: ast.A_Expr) -> str:
    return node_name((node.name or (None,))[-1]) or ""


def is_aggregate(node: ast.FuncCall) -> bool:
    return bool(node.agg_star or node.agg_distinct or node.agg_order or node.agg_filter
                or node.agg_within_group or node.over is not None
                or funcname(node) in AGGREGATES)


def figure_colname(node: ast.Node | None) -> str:
    """The name PostgreSQL gives an unnamed output column (parser's FigureColname)."""
    if isinstance(node, ast.ColumnRef):
        return node_name((node.fields or (None,))[-1]) or "?column?"
    if isinstance(node, ast.FuncCall):
        return funcname(node)
    if isinstance(node, ast.TypeCast):
        inner = figure_colname(node.arg)
        if inner != "?column?" or node.typeName is None:
            return inner
        return node_name((node.typeName.names or (None,))[-1]) or inner
    if isinstance(node, ast.A_Indirection):
        last = (node.indirection or (None,))[-1]
        return node_name(last) or figure_colname(node.arg)
    if isinstance(node, ast.CollateClause):
        return figure_colname(node.arg)
    if isinstance(node, ast.CaseExpr):
        return "case"
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce"
    if isinstance(node, ast.MinMaxExpr):
        return "greatest" if node.op == enums.MinMaxOp.IS_GREATEST else "least"
    if isinstance(node, ast.A_ArrayExpr):
        return "array"
    if isinstance(node, ast.RowExpr):
        return "row"
    if isinstance(node, ast.SQLValueFunction) and node.op is not None:
        return str(node.op.name).removeprefix("SVFOP_").lower()
    if isinstance(node, ast.SubLink):
        if node.subLinkType == enums.SubLinkType.EXISTS_SUBLINK:
            return "exists"
        if node.subLinkType == enums.SubLinkType.ARRAY_SUBLINK:
            return "array"
        sub = node.subselect
        if isinstance(sub, ast.SelectStmt) and sub.targetList:
            first = sub.targetList[0]
            return first.name or figure_colname(first.val)
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_NULLIF:
        return "nullif"
    return "?column?"


def unwrap(node: ast.Node | None) -> ast.Node | None:
    """The value inside a COLLATE clause or a LIKE ... ESCAPE."""
    while True:
        if isinstance(node, ast.CollateClause):
            node = node.arg
        elif isinstance(node, ast.FuncCall) and funcname(node) == "like_escape":
            node = (node.args or (None,))[0]
        else:
            return node


def strip_casts(node: ast.Node | None) -> ast.Node | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node


def int_const(node: ast.Node | None) -> int | None:
    if isinstance(node, ast.A_Const) and not node.isnull and isinstance(node.val, ast.Integer):
        return int(node.val.ival or 0)
    return None


def concat_parts(node: ast.Node | None) -> list[ast.Node | None]:
    """The operands of a chain of ``||``, left to right."""
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_OP \
            and operator_name(node) == "||" and node.lexpr is not None:
        rexpr = node.rexpr if isinstance(node.rexpr, ast.Node) else None
        return [*concat_parts(node.lexpr), *concat_parts(rexpr)]
    return [node]


def like_anchored(pattern: ast.Node | None) -> bool | None:
    """Whether a LIKE pattern starts with fixed text; None when that depends on a value.

    An anchored pattern ('abc%') can use a b-tree (with text_pattern_ops or the C
    collation); a leading wildcard ('%abc') needs a trigram index.
    """
    for part in concat_parts(strip_casts(unwrap(pattern))):
        part = strip_casts(part)
        if isinstance(part, ast.A_Const) and isinstance(part.val, ast.String):
            text = part.val.sval or ""
            if text:
                return text[0] not in "%_"
            continue  # '' || ... : look at what follows
        return None
    return None


KIND = enums.A_Expr_Kind
# A_Expr kinds whose right side is a list: IN (a, b), BETWEEN a AND b.
LIST_KINDS: Final = frozenset({
    KIND.AEXPR_IN, KIND.AEXPR_BETWEEN, KIND.AEXPR_NOT_BETWEEN, KIND.AEXPR_BETWEEN_SYM,
    KIND.AEXPR_NOT_BETWEEN_SYM,
})


def row_equalities(
        node: ast.A_Expr) -> list[list[tuple[ast.Node, ast.Node]]] | None:
    """The column pairs of (a, b) = (x, y) or (a, b) IN ((x, y), ...); None otherwise."""
    if not isinstance(node.lexpr, ast.RowExpr) or operator_name(node) != "=":
        return None
    columns = list(node.lexpr.args or ())
    if node.kind == KIND.AEXPR_OP:
        rows = [node.rexpr]
    elif node.kind == KIND.AEXPR_IN and isinstance(node.rexpr, tuple):
        rows = list(node.rexpr)
    else:
        return None
    pairs = []
    for row in rows:
        if not isinstance(row, ast.RowExpr) or len(row.args or ()) != len(columns):
            return None
        pairs.append(list(zip(columns, row.args or (), strict=True)))
    return pairs


def operator_role(kind: Any, op: str) -> tuple[str, str]:
    """The role and operator name of a test that is not a plain binary operator."""
    if kind == KIND.AEXPR_OP_ANY:
        return ("in" if op == "=" else "filter"), f"{op} any"
    if kind == KIND.AEXPR_OP_ALL:
        return "filter", f"{op} all"
    if kind == KIND.AEXPR_IN:
        return ("in", "in") if op == "=" else ("filter", "not in")
    if kind in (KIND.AEXPR_LIKE, KIND.AEXPR_ILIKE):
        operator = LIKE_OPS.get(op, op)
        return ("filter" if operator.startswith("not") else "like"), operator
    if kind == KIND.AEXPR_BETWEEN:
        return "range", "between"
    if kind == KIND.AEXPR_BETWEEN_SYM:
        return "range", "between symmetric"
    if kind in (KIND.AEXPR_NOT_BETWEEN, KIND.AEXPR_NOT_BETWEEN_SYM):
        return "filter", "not between"
    if kind == KIND.AEXPR_DISTINCT:
        return "filter", "is distinct from"
    if kind == KIND.AEXPR_NOT_DISTINCT:
        return "filter", "is not distinct from"
    if kind == KIND.AEXPR_SIMILAR:
        return "filter", "similar to" if op == "~" else "not similar to"
    return "filter", op


def value_text(node: ast.Node | None, column_type: str | None) -> str:
    """A compared value as written, without a cast of a literal to the column's own type.

    pg_get_viewdef writes ``status = 'active'::text``; the cast says nothing more
    than the column does, and a view read from a server should read as its DDL.
    """
    if isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.A_Const) \
            and node.typeName is not None and format_type(node.typeName) == column_type:
        return deparse(node.arg)
    return deparse(node)


# NOT (a op b) as one operator; three-valued logic agrees (both are NULL on NULLs).
NEGATED: Final = {
    "=": "<>", "<>": "=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<",
    "in": "not in", "not in": "in", "like": "not like", "not like": "like",
    "ilike": "not ilike", "not ilike": "ilike", "between": "not between",
    "not between": "between",
}


def negate(role: str, operator: str, compared_with_columns: bool) -> tuple[str, str]:
    """The role and operator of a predicate under NOT."""
    negated = NEGATED.get(operator)
    if negated is None:
        return "filter", f"not {operator}"
    if negated == "=":
        return ("filter" if compared_with_columns else "eq"), negated
    if negated in RANGE_OPS:
        return role, negated  # a range stays a range; a same-table compare stays a filter
    if negated == "between":
        return "range", negated
    if negated in ("in", "like", "ilike"):
        return negated.replace("ilike", "like"), negated
    return "filter", negated


def result_type(node: ast.Node | None) -> str | None:
    """The type of an expression whose type does not depend on its arguments' types."""
    if isinstance(node, ast.FuncCall):
        return RESULT_TYPES.get(funcname(node))
    if isinstance(node, ast.A_Expr) and operator_name(node) in ("->>", "#>>"):
        return "text"  # json and jsonb fields as text
    return None


def alias_columns(alias: ast.Alias | None) -> list[str]:
    """The column names of ``AS alias(a, b)``."""
    if alias is None:
        return []
    return [n.sval or "" for n in alias.colnames or () if isinstance(n, ast.String)]


def rebase(node: ast.Node | None,
           replacement: Callable[[ast.ColumnRef], ast.Node | None]) -> ast.Node | None:
    """A copy of an expression with each column reference replaced as ``replacement`` says.

    Analysis uses it to write ``lower(u.email)`` as ``lower(email)``, and a view's
    output column as the expression it stands for: the form an expression index takes.
    """
    if node is None:
        return None
    if isinstance(node, ast.ColumnRef):
        return replacement(node) or node
    clone = copy.copy(node)
    for name in _slot_names(node):
        value = getattr(node, name)
        if isinstance(value, ast.Node):
            setattr(clone, name, rebase(value, replacement))
        elif isinstance(value, tuple):
            setattr(clone, name, _rebase_tuple(value, replacement))
    return clone


def _rebase_tuple(value: tuple[Any, ...],
                  replacement: Callable[[ast.ColumnRef], ast.Node | None]) -> tuple[Any, ...]:
    return tuple(
        rebase(v, replacement) if isinstance(v, ast.Node)
        else _rebase_tuple(v, replacement) if isinstance(v, tuple) else v
        for v in value
    )


def _slot_names(node: ast.Node) -> tuple[str, ...]:
    """The names of a node's attributes that hold nodes (pointers and lists)."""
    cls = type(node)
    names = _SLOTS.get(cls)
    if names is None:
        # Scalars (names, flags, locations) hold no nodes.
        slots: dict[str, Any] = getattr(cls, "__slots__", {})
        names = tuple(k for k, v in slots.items()
                      if getattr(v, "c_type", "").endswith("*") and v.c_type != "char*")
        _SLOTS[cls] = names
    return names
