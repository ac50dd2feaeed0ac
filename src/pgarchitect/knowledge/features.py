"""What a statement's fix depends on, and how alike two statements are in it.

:func:`features_of` reduces an :class:`~pgarchitect.analysis.Analysis` to the parts
an index or rewrite is chosen from: the tables, each column with its roles, the
shapes of the predicates (``eq:param``, ``like:contains``, ``order_by+limit``), the
functions called. :func:`structural_similarity` compares two of them part by part
(Jaccard similarity, weighted by how much the part decides the fix) and says why.
:func:`embedding_text` is the text a sentence embedding is computed from.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pglast.parser
from pglast import ast

from pgarchitect.analysis import Analysis, Catalog, ColumnRef, Predicate, analyze, fingerprint
from pgarchitect.analysis.nodes import children, funcname, is_aggregate

# Feature roles, in display order; analysis roles map onto them (sort -> order, ...).
ROLES: Final = ("eq", "range", "in", "like", "null", "filter", "join", "order", "group",
                "set", "conflict", "select")
_ROLE_OF: Final = {"sort": "order", "distinct": "group", "insert": "set"}
FILTER_ROLES: Final = frozenset({"eq", "range", "in", "like", "null", "filter"})
# Relations that are no base data of their own.
_NOT_TABLES: Final = frozenset({"cte", "function"})


@dataclass(frozen=True)
class Features:
    """The parts of one statement that similarity is judged on.

    Tables are ``schema.table`` (a partition is its parent); columns ``table.column``
    by role, with the schema in front when it is not ``public``
    (``App.BehaviorLog.userId``), so that equal names in two schemas stay apart.
    The filter roles (eq, range, in, like, null, filter) list the columns tested
    bare; a test on an expression of a column is in ``expressions``
    (``lower(email) on User.email (eq)``): it needs an index of its own.
    ``shapes`` are the predicates without their columns (``eq:param``,
    ``like:contains``, ``null:is null``, ``join``, ``order_by+limit``), ``functions``
    those applied to columns (``lower``; aggregates left out).
    """

    fingerprint: str | None
    kind: str
    tables: frozenset[str] = frozenset()
    columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    expressions: frozenset[str] = frozenset()
    shapes: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    limit: bool = False

    def role(self, name: str) -> frozenset[str]:
        """The columns playing one role (empty when none does)."""
        return self.columns.get(name, frozenset())

    def to_json(self) -> dict[str, Any]:
        """A JSON object with sorted lists, for a jsonb column."""
        return {
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "tables": sorted(self.tables),
            "columns": {r: sorted(self.columns[r]) for r in ROLES if self.columns.get(r)},
            "expressions": sorted(self.expressions),
            "shapes": sorted(self.shapes),
            "functions": sorted(self.functions),
            "limit": self.limit,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Features:
        """The inverse of :meth:`to_json`.

        >>> f = features_of_query('SELECT id FROM "User" WHERE email = $1')
        >>> Features.from_json(f.to_json()) == f
        True
        """
        return cls(
            fingerprint=data.get("fingerprint"),
            kind=str(data.get("kind", "unknown")),
            tables=frozenset(data.get("tables", ())),
            columns={str(r): frozenset(cs) for r, cs in data.get("columns", {}).items() if cs},
            expressions=frozenset(data.get("expressions", ())),
            shapes=frozenset(data.get("shapes", ())),
            functions=frozenset(data.get("functions", ())),
            limit=bool(data.get("limit", False)),
        )


def _column(ref: ColumnRef) -> str:
    return f"{ref.table}.{ref.column}" if ref.schema == "public" else str(ref)


def _table(schema: str, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _single(values: str | None) -> bool:
    """Whether an IN list as written, ``($1)`` or ``('a', 'b')``, has one item."""
    depth, quoted = 0, False
    for ch in (values or "").strip()[1:-1]:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            return False
    return True


def _role(p: Predicate) -> str:
    """The predicate's role; ``IN ($1)`` of one item, as ORMs write it, is an equality."""
    if p.role == "in" and p.operator == "in" and p.value_kind in ("const", "param"):
        return "eq" if _single(p.value) else "in"
    return p.role


def _shape(p: Predicate) -> Iterable[str]:
    """The shapes of one predicate: its role and the kind of value it is tested with."""
    role = _role(p)
    if role == "join":
        yield "join"
    elif role == "like":
        op = "ilike" if "ilike" in p.operator else "like"
        yield f"{op}:" + {True: "prefix", False: "contains", None: "pattern"}[p.anchored]
    elif role == "null":
        yield f"null:{p.operator}"
    elif role == "in":
        yield "in:" + ("subquery" if p.value_kind == "subquery"
                       else "array" if "any" in p.operator else "list")
    elif role == "filter":
        yield f"filter:{p.operator}"
    else:
        yield f"{role}:{p.value_kind}"
    if p.expression is not None:
        yield f"{role}:on-expression"
    if p.in_or:
        yield "or"
    if p.clause == "having":
        yield "having"


def _has_column(node: ast.Node) -> bool:
    # Iterative: a call's arguments may nest deeper than Python's recursion limit.
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ColumnRef):
            return True
        stack.extend(children(node))
    return False


def _functions(query: str) -> frozenset[str]:
    """Functions applied to columns (``lower(email)``), aggregates left out.

    Only for a statement analysis could read: its text and tree are within the
    analysis limits (pgarchitect.analysis.limits), so this parse is bounded too.
    """
    try:
        stack: list[ast.Node] = [s.stmt for s in pglast.parser.parse_sql(query) if s.stmt]
    except pglast.parser.ParseError:
        return frozenset()
    names = set()
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FuncCall) and not is_aggregate(node) and _has_column(node):
            names.add(funcname(node).lower())
        stack.extend(children(node))
    return frozenset(names)


def features_of(analysis: Analysis) -> Features:
    """The features of an analysed statement.

    >>> f = features_of_query('''SELECT id FROM "User" u WHERE lower(u.email) = lower($1)
    ...                          AND role IN ('a', 'b') ORDER BY "createdAt" LIMIT 1''')
    >>> sorted(f.tables), {r: sorted(c) for r, c in f.columns.items()}
    (['public.User'], {'in': ['User.role'], 'order': ['User.createdAt'], 'select': ['User.id']})
    >>> sorted(f.expressions), sorted(f.shapes), sorted(f.functions), f.limit
    (['lower(email) on User.email (eq)'], ['eq:on-expression', 'eq:param', 'in:list', \
'order_by+limit'], ['lower'], True)
    """
    roles: dict[str, set[str]] = {}
    for use in analysis.columns:
        for role in use.roles:
            if role not in FILTER_ROLES:
                roles.setdefault(_ROLE_OF.get(role, role), set()).add(_column(use.column))
    # Filter roles come from the predicates: a test on an expression of a column
    # (lower(email) = $1) is no test of the bare column, and needs another index.
    expressions = set()
    for p in analysis.predicates:
        role = _role(p)
        if p.column is None or role not in FILTER_ROLES or p.clause == "having":
            continue
        if p.expression is None:
            roles.setdefault(role, set()).add(_column(p.column))
        else:
            expressions.add(f"{p.expression} on {_column(p.column)} ({role})")
    shapes = {s for p in analysis.predicates for s in _shape(p)}
    limited = analysis.limit is not None and analysis.limit.count is not None
    if analysis.order_by:
        shapes.add("order_by+limit" if limited else "order_by")
    elif limited:
        shapes.add("limit")
    if analysis.limit is not None and analysis.limit.offset is not None:
        shapes.add("offset")
    if analysis.group_by:
        shapes.add("group_by")
    if any(not k.scope for k in analysis.distinct):  # the statement's own, not a subquery's
        shapes.add("distinct")
    shapes.update(f"subquery:{s.kind}" for s in analysis.subqueries if s.kind != "from")
    return Features(
        fingerprint=fingerprint(analysis.query),
        kind=analysis.kind,
        tables=frozenset(r.partition_of or _table(r.schema, r.name)
                         for r in analysis.relations if r.kind not in _NOT_TABLES),
        columns={r: frozenset(roles[r]) for r in ROLES if r in roles},
        expressions=frozenset(expressions),
        shapes=frozenset(shapes),
        # A statement analysis could not read (over a limit, a NUL byte, a surrogate)
        # is not parsed again here: that would cost what the limits spare.
        functions=frozenset() if analysis.error is not None else _functions(analysis.query),
        limit=limited,
    )


def features_of_query(query: str, catalog: Catalog | None = None) -> Features:
    """The features of a statement, analysed with the catalog if one is given."""
    return features_of(analyze(query, catalog))


@dataclass(frozen=True)
class Similarity:
    """How alike two statements are, 0 to 1, and the parts that made it so."""

    score: float
    reasons: tuple[str, ...] = ()


# Weight of each part. What chooses the index, filtered, sorted and joined columns
# with their roles, the tables and the predicate shapes, makes up 0.82; the
# functions applied to columns (an expression index) 0.06; what is only read or
# written (statement kind, set and selected columns, LIMIT) the rest.
PART_WEIGHTS: Final = {
    "tables": 0.12,
    "filters": 0.34,
    "joins": 0.10,
    "sort": 0.14,
    "shapes": 0.12,
    "functions": 0.06,
    "kind": 0.04,
    "set": 0.04,
    "select": 0.03,
    "limit": 0.01,
}


def _jaccard(a: frozenset[str], b: frozenset[str], empty: float = 1.0) -> float:
    return empty if not a and not b else len(a & b) / len(a | b)


def _tagged(f: Features, roles: Iterable[str]) -> frozenset[str]:
    """Columns with their roles: ``User.email (eq)``."""
    return frozenset(f"{c} ({r})" for r in roles for c in f.role(r))


def _short(items: Iterable[str]) -> str:
    return ", ".join(sorted(i.removeprefix("public.") for i in items)) or "none"


def _parts(f: Features) -> dict[str, frozenset[str]]:
    return {
        "tables": f.tables,
        "filters": _tagged(f, sorted(FILTER_ROLES)) | f.expressions,
        "joins": f.role("join"),
        "sort": _tagged(f, ("order", "group")),
        "shapes": frozenset(_VALUE.sub(":value", s) for s in f.shapes - {"limit", "offset"}),
        "functions": f.functions,
        "kind": frozenset({f.kind}),
        "set": f.role("set") | _tagged(f, ("conflict",)),
        "select": f.role("select"),
        "limit": frozenset({"limit"} if f.limit else ()),
    }


_COLUMN_PARTS: Final = frozenset({"filters", "joins", "sort", "set", "select"})
# Constants, parameters and expressions of them are all one value to the index.
_VALUE: Final = re.compile(r":(?:const|param|expression)$")

_LABELS: Final = {"tables": "tables", "filters": "filter columns", "joins": "join columns",
                  "sort": "sort", "shapes": "predicate shapes", "functions": "functions",
                  "kind": "statement kind", "set": "written columns"}


def structural_similarity(a: Features, b: Features) -> Similarity:
    """Weighted Jaccard similarity of the parts of two statements.

    >>> s = structural_similarity(
    ...     features_of_query('SELECT id FROM "User" WHERE email = $1'),
    ...     features_of_query('SELECT id, role FROM "User" u WHERE u.email = $1'))
    >>> round(s.score, 2), s.reasons[:2]
    (0.98, ('same tables User', 'same filter columns User.email (eq)'))
    """
    if "unknown" in (a.kind, b.kind):
        return Similarity(0.0, ("not analysed: the statement does not parse",))
    pa, pb = _parts(a), _parts(b)
    tables = _jaccard(pa["tables"], pb["tables"])
    score = 0.0
    reasons: list[str] = []
    for name, weight in PART_WEIGHTS.items():
        x, y = pa[name], pb[name]
        # No filter (sort, ...) on either side is agreement only on the same tables.
        j = _jaccard(x, y, tables if name in _COLUMN_PARTS else 1.0)
        score += weight * j
        label = _LABELS.get(name)
        if label is None or (not x and not y):
            continue
        if j == 1.0:
            reasons.append(f"same {label} {_short(x)}")
        elif name == "kind":
            reasons.append(f"different statement kind ({a.kind} vs {b.kind})")
        elif j == 0.0 and (not x or not y) and name in ("sort", "joins", "set", "functions"):
            reasons.append(f"different {label}")
        else:
            reasons.append(f"different {label} ({_short(x)} vs {_short(y)})")
    return Similarity(round(min(1.0, score), 6), tuple(reasons))


_SPACE: Final = re.compile(r"\s+")
_PLACEHOLDER: Final = re.compile(r"\$\d+")


def normalized(statement: str) -> str:
    """Constants and parameters as ``$n`` in their order of appearance, one space apart.

    >>> normalized("SELECT  id FROM t\\n WHERE a = 'x' AND b > $1 LIMIT 5")
    'SELECT id FROM t WHERE a = $1 AND b > $2 LIMIT $3'
    """
    try:
        text = pglast.parser.normalize(statement)
    except (pglast.parser.ParseError, ValueError):  # ValueError: a lone surrogate
        text = statement
    number = itertools.count(1)
    text = _PLACEHOLDER.sub(lambda _: f"${next(number)}", text)
    return _SPACE.sub(" ", text).strip()


def embedding_text(statement: str, description: str = "") -> str:
    """The text to embed: the normalized statement, then the description if any."""
    text = normalized(statement)
    description = _SPACE.sub(" ", description).strip()
    return f"{text}\n{description}" if description else text
