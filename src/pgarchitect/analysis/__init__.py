"""Analysis: what a statement touches, and how (parsed with PostgreSQL's own parser).

:func:`analyze` walks pglast's parse tree of one statement and describes its
relations (views expanded to their base tables), every column reference resolved
through aliases, CTEs, subqueries and views to a base column, the role each column
plays (equality, range, IN, LIKE, IS NULL, join, sort, group, ...), the parameters
and what they are compared with, and LIMIT/OFFSET. A :class:`Catalog` (from
:func:`load_catalog` or :meth:`Catalog.from_ddl`) resolves unqualified columns and
reports missing tables and columns; without one, analysis resolves what aliases
allow and lists the rest as unresolved.

It never raises on bad input: a statement that does not parse gives an
:class:`Analysis` with ``error`` set, one that names a missing table or column
gives ``warnings``. Text with a NUL byte or a lone surrogate, and statements over
the limits of :mod:`pgarchitect.analysis.limits` (``MAX_STATEMENT_BYTES``,
``MAX_DEPTH``, ``MAX_NODES``), get an ``error`` that names the limit: so every
call is bounded in time. Text that pg_stat_statements left unparseable for the server
(``INTERVAL $1``) is analysed as :func:`pgarchitect.workload.repair.repair` mends it.
"""

from __future__ import annotations

from typing import Final

import pglast.parser
from pglast import ast

from pgarchitect.analysis.catalog import (
    SYSTEM_SCHEMAS,
    Catalog,
    Column,
    Relation,
    format_type,
    load_catalog,
)
from pgarchitect.analysis.limits import (
    MAX_DEPTH,
    MAX_FROM_ITEMS,
    MAX_NODES,
    MAX_STATEMENT_BYTES,
    PARSER_STACK_NOTE,
    text_problem,
    tree_problem,
)
from pgarchitect.analysis.model import (
    ROLES,
    Analysis,
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
from pgarchitect.analysis.walker import _State
from pgarchitect.workload.repair import repair

__all__ = [
    "MAX_DEPTH",
    "MAX_FROM_ITEMS",
    "MAX_NODES",
    "MAX_STATEMENT_BYTES",
    "ROLES",
    "SYSTEM_SCHEMAS",
    "Analysis",
    "Catalog",
    "Column",
    "ColumnRef",
    "ColumnUse",
    "Cte",
    "Limit",
    "Param",
    "Predicate",
    "Relation",
    "RelationUse",
    "SortKey",
    "Subquery",
    "analyze",
    "fingerprint",
    "format_type",
    "load_catalog",
    "parse_problem",
]


def fingerprint(query: str) -> str | None:
    """pglast's fingerprint: equal for statements that differ only in constants.

    >>> fingerprint("SELECT * FROM t WHERE a = 1") == fingerprint("select * from t where a = $1")
    True
    >>> fingerprint("SELEC nonsense") is None
    True
    >>> fingerprint("SELECT * FROM t WHERE ts > now() - INTERVAL $1") == fingerprint(
    ...     "SELECT * FROM t WHERE ts > now() - interval '7 days'")
    True
    >>> fingerprint("SELECT 1\\x00 FROM t") is None
    True
    """
    if text_problem(query) is not None:
        return None  # NUL (libpg_query would stop there), a surrogate, over the size limit
    # The text as it is first: pglast reads pg_stat_statements' INTERVAL $1 as the
    # same tree as INTERVAL '7 days', and a repair such as EXTRACT($1 FROM ts) to
    # pg_catalog.extract($1, ts) would change the fingerprint, which groups a
    # statement across sources and keys it in the knowledge base. The repaired
    # text only for what pglast cannot read.
    try:
        return str(pglast.parser.fingerprint(query))
    except pglast.parser.ParseError:
        repaired = repair(query)
    try:
        return None if repaired == query else str(pglast.parser.fingerprint(repaired))
    except pglast.parser.ParseError:
        return None


_KINDS: Final = {
    ast.SelectStmt: "select",
    ast.InsertStmt: "insert",
    ast.UpdateStmt: "update",
    ast.DeleteStmt: "delete",
    ast.MergeStmt: "merge",
}

# Where a statement cut short may be closed off: before a new clause, condition or
# list item. The scanner's token names (pglast.parser.scan).
_CUT_BEFORE: Final = frozenset({
    "AND", "OR", "WHERE", "GROUP_P", "ORDER", "HAVING", "LIMIT", "OFFSET", "FETCH",
    "UNION", "INTERSECT", "EXCEPT", "JOIN", "LEFT", "RIGHT", "INNER_P", "FULL", "CROSS",
    "NATURAL", "WINDOW", "RETURNING", "ASCII_44",
})
_MAX_REPAIRS: Final = 40
_CUT_NOTE: Final = "pg_stat_statements keeps only track_activity_query_size bytes of a statement"


def parse_problem(query: str) -> str | None:
    """Why PostgreSQL's parser rejects a statement, or None when it parses.

    >>> parse_problem("SELECT 1") is None
    True
    >>> parse_problem("SELECT a FROM t WHERE")
    'Could not parse query: the statement is cut at the end: syntax error at end of input'
    """
    problem = text_problem(query)
    if problem is not None:
        return problem
    query = repair(query)
    try:
        pglast.parser.parse_sql(query)
    except pglast.parser.ParseError as exc:
        message, location = _parse_error(exc)
        if _cut_short(query, location):
            message = f"the statement is cut at the end: {message}"
        return f"Could not parse query: {message}"
    return None


def analyze(query: str, catalog: Catalog | None = None) -> Analysis:
    """Describe what one statement touches and how; never raises on bad input.

    >>> a = analyze('SELECT id FROM "User" WHERE lower(email) = lower($1) LIMIT 10')
    >>> [(p.role, p.expression, p.value) for p in a.predicates]
    [('eq', 'lower(email)', 'lower($1)')]
    >>> a.params[0].column, a.limit
    (ColumnRef(schema='public', table='User', column='email'), Limit(count=10, offset=None))
    >>> analyze("SELEC 1").error
    'Could not parse query: syntax error at or near "SELEC" at character 1'
    >>> analyze("SELECT " + "+".join(["1"] * 200)).error[:60]
    'Statement nests more than 100 levels deep in its parse tree,'
    """
    problem = text_problem(query)
    if problem is not None:
        return Analysis(query, "unknown", error=problem)
    try:
        return _analyze(query, catalog)
    except RecursionError:
        # The limits keep the walk far from Python's recursion limit; a caller deep in
        # its own stack, or views nesting in the catalog, may still reach it.
        return Analysis(query, "unknown", error=(
            "Statement nests too deep to analyse here (Python's recursion limit was "
            f"reached below MAX_DEPTH={MAX_DEPTH}): not analysed; write deep chains or "
            "nested expressions as lists (IN, ANY, VALUES) or in steps (WITH)"))


def _analyze(query: str, catalog: Catalog | None) -> Analysis:
    warnings: list[str] = []
    truncated = False
    # What the server would parse: pg_stat_statements' INTERVAL $1 as $1::INTERVAL.
    # The Analysis keeps the text as given.
    text = repair(query)
    try:
        stmts = pglast.parser.parse_sql(text)
    except pglast.parser.ParseError as exc:
        message, location = _parse_error(exc)
        repaired = _repair(text, location)
        if repaired is None:
            if _cut_short(text, location):
                message = f"the statement is cut at the end ({_CUT_NOTE}): {message}"
            return Analysis(query, "unknown", error=f"Could not parse query: {message}")
        cut, kept = repaired
        stmts = pglast.parser.parse_sql(cut)
        truncated = True
        warnings.append(f"The statement is cut at the end ({_CUT_NOTE}): analysed its first "
                        f"{kept} of {len(text)} characters")
    if not stmts or stmts[0].stmt is None:
        return Analysis(query, "unknown", error="Could not parse query: no statement in it")
    if len(stmts) > 1:
        warnings.append(f"Only the first of {len(stmts)} statements is analysed")
    node = stmts[0].stmt
    problem = tree_problem([node])
    if problem is not None:
        return Analysis(query, "unknown", error=problem)
    state = _State(catalog)
    kind = _KINDS.get(type(node), "utility")
    if kind != "utility":
        state.statement(node, "", None, {}, top=True)
    return Analysis(
        query=query,
        kind=kind,
        relations=tuple(state.relations.values()),
        ctes=tuple(state.ctes),
        subqueries=state.finish_subqueries(),
        predicates=tuple(dict.fromkeys(state.predicates)),
        order_by=tuple(state.order_by),
        group_by=tuple(dict.fromkeys(state.group_by)),
        distinct=tuple(state.distinct),
        limit=state.limit,
        insert_columns=tuple(dict.fromkeys(state.insert_columns)),
        set_columns=tuple(state.set_columns),
        params=tuple(state.params[n] for n in sorted(state.params)),
        columns=state.column_uses(),
        unresolved=tuple(dict.fromkeys(state.unresolved)),
        truncated=truncated,
        warnings=(*warnings, *state.warnings),
    )


def _parse_error(exc: pglast.parser.ParseError) -> tuple[str, int | None]:
    """pglast's message and the error's position (None: at the end of the input)."""
    message = str(exc.args[0]) if exc.args else "syntax error"
    location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
    if message.startswith("memory exhausted"):
        message = f"{PARSER_STACK_NOTE}: {message}"
    if location is not None:
        message += f" at character {location + 1}"  # 1-based, as PostgreSQL reports it
    return message, location


def _cut_short(query: str, location: int | None) -> bool:
    """Whether the parser ran out of input rather than met a mistake.

    The end came too soon (no location, or at the end), the error is on the last
    token and that token touches the end (a cut word), or a token was left open (a
    string, a quoted name, a comment): it runs to the end, so scanning from where it
    starts fails too.
    """
    end = len(query.rstrip())
    if location is None or location >= end:
        return True
    try:
        tokens = pglast.parser.scan(query[location:])
    except pglast.parser.ParseError:
        return True
    if not tokens:
        return True  # only a comment or spaces from there on
    # A word, a number or a parameter may be cut; a parenthesis or an operator is whole.
    word = tokens[0].name in ("IDENT", "ICONST", "FCONST", "PARAM") or \
        tokens[0].kind != "NO_KEYWORD"
    return len(tokens) == 1 and word and location + tokens[0].end + 1 == len(query)


def _repair(query: str, location: int | None) -> tuple[str, int] | None:
    """A statement cut short, closed off where a clause or a condition starts.

    pg_stat_statements cuts long statements at track_activity_query_size bytes,
    anywhere, even inside a word. The text is cut before the last keyword that starts
    a clause or a condition (or before a comma) whose prefix parses once its open
    parentheses are closed; the condition or item in progress is dropped, since any
    of its last characters may be missing. Returns the statement and how many
    characters of the original it keeps.
    """
    if not _cut_short(query, location):
        return None
    text = query if location is None or location >= len(query) else query[:location]
    try:
        tokens = pglast.parser.scan(text)
    except pglast.parser.ParseError:
        return None
    cuts = [t.start for t in reversed(tokens) if t.name in _CUT_BEFORE]
    for cut in cuts[:_MAX_REPAIRS]:
        kept = text[:cut].rstrip()
        if kept.endswith("("):
            continue  # f(  or  IN (  : nothing left to close
        depth = sum(1 if t.name == "ASCII_40" else -1 if t.name == "ASCII_41" else 0
                    for t in tokens if t.start < cut)
        candidate = kept + ")" * max(depth, 0)
        try:
            stmts = pglast.parser.parse_sql(candidate)
        except pglast.parser.ParseError:
            continue
        if stmts and stmts[0].stmt is not None:
            return candidate, len(kept)
    return None
