"""Explanations: what a statement does, in plain words, without a language model.

Step 3 of the weekly audit "understands the statement" (RUNBOOK.md). :func:`explain`
builds an :class:`Explanation` from what analysis found (relations, predicates and
the roles of columns, groups, sorts, limits), a walk of the parse tree for what
analysis does not keep (aggregates, window functions, set operations, joins, EXISTS
tests), the schema's comments and names, and, when given, the statement's plan and
its workload counters:

* ``intent``: one sentence ("Counts each user's behavior log entries in the last
  7 days and keeps users with more than 50, most first.");
* ``tables``: the relations it touches, schema-qualified, and what each holds;
* ``complexity``: simple, moderate or complex, from named features and their
  weights (:data:`COMPLEXITY_WEIGHTS`);
* ``context``: the business context, from one table of word rules
  (:data:`CONTEXT_RULES`);
* ``plan_note`` and ``usage``: how the plan reads the tables, how often it runs.

The same statement, schema and comments always give the same words. Identifiers
are put in words one way: split at case changes and underscores, lower-cased,
spelled as written ("BehaviorLog" is "behavior log", "createdAt" "creation time").
A comment, when present, says what a table holds; when it is a short noun ("Support
tickets.") it also names the table's rows. Nothing here raises: a statement that
does not parse gets a plainer explanation from its words, which says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pglast.parser
from pglast import ast, enums

from pgarchitect.analysis import Analysis, ColumnRef, Predicate, SortKey
from pgarchitect.analysis.nodes import children, funcname, is_aggregate, node_name
from pgarchitect.plans import Plan, PlanNode
from pgarchitect.workload import Statement

# Keys of the comments mapping: (schema, table) and (schema, table, column), as
# pgarchitect.catalog.comments.Comments has them.
CommentKey = tuple[str, ...]

# -- words ---------------------------------------------------------------------------

# A run of capitals before a capitalised word (HTTPRequest), a word with an optional
# capital, a run of capitals, digits. Letters outside A-Z count as lower case.
_CAMEL: Final = re.compile(r"[A-Z]+(?=[A-Z][^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|[A-Z]+|\d+")
_IRREGULAR: Final = {
    "person": "people", "child": "children", "man": "men", "woman": "women",
    "datum": "data", "analysis": "analyses", "index": "indexes", "criterion": "criteria",
    "status": "statuses", "quiz": "quizzes", "address": "addresses", "bus": "buses",
}
_SINGULAR_OF: Final = {v: k for k, v in _IRREGULAR.items()}
# Participles of "<x>At" / "<x>_on" columns, as the noun of the event they record.
_EVENT_NOUNS: Final = {
    "created": "creation", "updated": "update", "modified": "modification",
    "deleted": "deletion", "enrolled": "enrollment", "attempted": "attempt",
    "published": "publication", "closed": "closing", "opened": "opening", "paid": "payment",
    "applied": "application", "started": "start", "starts": "start", "ended": "end",
    "ends": "end", "finished": "finish", "completed": "completion", "expires": "expiry",
    "expired": "expiry", "shipped": "shipping", "delivered": "delivery",
    "cancelled": "cancellation", "canceled": "cancellation", "resolved": "resolution",
    "viewed": "view", "sent": "sending", "received": "receipt", "registered": "registration",
    "verified": "verification", "confirmed": "confirmation", "archived": "archiving",
    "submitted": "submission", "assigned": "assignment", "approved": "approval",
}
_UNITS: Final = {
    "sec": "seconds", "secs": "seconds", "seconds": "seconds", "ms": "milliseconds",
    "millis": "milliseconds", "min": "minutes", "mins": "minutes", "minutes": "minutes",
    "cents": "cents", "bytes": "bytes", "kb": "kilobytes", "mb": "megabytes",
    "pct": "percent", "percent": "percent",
}
# Last words of tables whose rows are entries of a record ("BehaviorLog").
_LOG_WORDS: Final = frozenset({"log", "history", "journal", "audit", "trail", "ledger"})
# Columns that single out one row: an equality on one is a lookup.
_IDENTIFYING: Final = frozenset({
    "id", "email", "username", "user name", "slug", "sku", "uuid", "token", "handle",
    "login", "isbn",
})
# Columns whose constant values read as adjectives: status = 'paid' -> "paid orders".
_STATE_WORDS: Final = frozenset({"status", "state", "stage", "type", "kind", "category",
                                 "role"})
# ... and those that qualify a noun: priority = 'high' -> "high-priority tickets".
_GRADE_WORDS: Final = frozenset({"priority", "tier", "level", "plan", "grade"})
# Columns whose names say what a row is called: grouping by lesson.title is by lesson.
_NAME_WORDS: Final = frozenset({"name", "title", "label", "email", "username", "slug"})
# Words that keep a comment from being used as a noun: a noun phrase has none of them.
_STOP_WORDS: Final = frozenset({
    "a", "an", "the", "of", "per", "for", "by", "in", "on", "from", "to", "with", "that",
    "which", "who", "when", "where", "whether", "if", "is", "are", "was", "and", "or",
    "not", "each", "every", "one", "row", "rows", "table", "stores", "holds", "contains",
})
_COMMENT_PREFIXES: Final = ("one row per ", "one row for each ", "a row per ",
                            "each row is an ", "each row is a ", "rows of ")


def words(name: str) -> list[str]:
    """The words of an identifier: snake_case, camelCase and PascalCase split, lower case.

    >>> words("BehaviorLog"), words("created_at"), words("HTTPRequestId"), words("page2")
    (['behavior', 'log'], ['created', 'at'], ['http', 'request', 'id'], ['page', '2'])
    """
    out: list[str] = []
    for part in re.split(r"[\W_]+", name):
        out.extend(w.lower() for w in _CAMEL.findall(part))
    return out


def humanise(name: str) -> str:
    """An identifier in words, spelled as written.

    >>> humanise("BehaviorLog"), humanise("order_items"), humanise("QuizAttempt")
    ('behavior log', 'order items', 'quiz attempt')
    """
    return " ".join(words(name)) or name


def humanise_column(name: str) -> str:
    """A column's name in words: ``<x>At`` is a time, ``<x>Id`` the thing it refers to.

    >>> [humanise_column(n) for n in ("createdAt", "user_id", "id", "isPublished",
    ...  "durationSec", "timestamp", "eventType", "expires_at", "placed_at", "last_login_at")]
    ['creation time', 'user', 'id', 'published', 'duration in seconds', 'time', \
'event type', 'expiry time', 'time placed', 'last login time']
    """
    ws = words(name)
    if not ws:
        return name
    if len(ws) > 1 and ws[-1] in ("id", "ids"):
        head = " ".join(ws[:-1])
        return plural(head) if ws[-1] == "ids" else head
    if len(ws) > 1 and ws[0] in ("is", "has", "can"):
        ws = ws[1:]
    if len(ws) > 1 and ws[-1] in _UNITS:
        return f"{' '.join(ws[:-1])} in {_UNITS[ws[-1]]}"
    if len(ws) > 1 and ws[-1] in ("at", "on"):
        event, what = ws[:-1], "time" if ws[-1] == "at" else "date"
        if len(event) == 1 and event[0] in _EVENT_NOUNS:
            return f"{_EVENT_NOUNS[event[0]]} {what}"
        if len(event) == 1 and _participle(event[0]):
            return f"{what} {event[0]}"
        return f"{' '.join(event)} {what}"
    if ws in (["timestamp"], ["ts"]):
        return "time"
    return " ".join(ws)


def plural(noun: str) -> str:
    """The plural of a noun phrase (its last word); a plural stays as it is.

    >>> [plural(n) for n in ("user", "entry", "status", "box", "day", "orders",
    ...                      "behavior log entry", "person")]
    ['users', 'entries', 'statuses', 'boxes', 'days', 'orders', 'behavior log entries', 'people']
    """
    head, sep, last = noun.rpartition(" ")
    low = last.lower()
    if low in _IRREGULAR:
        new = _IRREGULAR[low]
    elif low in _SINGULAR_OF or not low.isalpha():
        new = last
    elif low.endswith("s") and not low.endswith(("ss", "us", "is")):
        new = last  # already plural: "orders"
    elif re.search(r"[^aeiou]y$", low):
        new = last[:-1] + "ies"
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        new = last + "es"
    else:
        new = last + "s"
    return head + sep + new


def singular(noun: str) -> str:
    """The singular of a noun phrase (its last word); a singular stays as it is.

    >>> [singular(n) for n in ("users", "categories", "statuses", "boxes", "status",
    ...                        "order items", "people", "address")]
    ['user', 'category', 'status', 'box', 'status', 'order item', 'person', 'address']
    """
    head, sep, last = noun.rpartition(" ")
    low = last.lower()
    if low in _SINGULAR_OF:
        new = _SINGULAR_OF[low]
    elif low in _IRREGULAR:
        new = last
    elif low.endswith("ies") and len(low) > 4:
        new = last[:-3] + "y"
    elif low.endswith(("sses", "xes", "zes", "ches", "shes")):
        new = last[:-2]
    elif low.endswith(("ss", "us", "is")) or not low.endswith("s"):
        new = last
    else:
        new = last[:-1]
    return head + sep + new


def article(noun: str) -> str:
    """The noun with "a" or "an" in front, by how it sounds.

    >>> article("order"), article("user"), article("enrollment"), article("hour")
    ('an order', 'a user', 'an enrollment', 'an hour')
    """
    low = noun.lower()
    vowel = low[:1] in ("a", "e", "i", "o", "u") and not low.startswith(
        ("eu", "uni", "use", "usa", "one", "uti"))
    return f"{'an' if vowel or low.startswith(('hour', 'honest')) else 'a'} {noun}"


def join_words(items: Sequence[str], conjunction: str = "and") -> str:
    """A list in words.

    >>> join_words(["a"]), join_words(["a", "b"]), join_words(["a", "b", "c"], "or")
    ('a', 'a and b', 'a, b or c')
    """
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _participle(word: str) -> bool:
    return word.endswith(("ed", "en")) or word in ("paid", "sent", "built", "sold", "read")


def _count(n: float) -> str:
    """A count with thousands separators."""
    return f"{round(n):,}"


def _rows_words(n: float, about: str = "") -> str:
    """A number of rows in words.

    >>> _rows_words(1), _rows_words(60000, "~")
    ('1 row', '~60,000 rows')
    """
    return f"{about}{_count(n)} row{'' if round(n) == 1 else 's'}"


def duration(ms: float) -> str:
    """A time in milliseconds, in the unit that reads best.

    >>> duration(0.42), duration(812.4), duration(3200), duration(960_000), duration(9e6)
    ('0.42 ms', '812 ms', '3.2 s', '16 min', '2.5 h')
    """
    if ms < 10:
        return f"{ms:.2g} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2g} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.0f} min"
    return f"{ms / 3_600_000:.2g} h"


def row_noun(table: str, comment: str | None = None) -> str:
    """What one row of a table is called: its comment's noun, else its name in words.

    >>> row_noun("BehaviorLog"), row_noun("order_items"), row_noun("t", "Support tickets.")
    ('behavior log entry', 'order item', 'support ticket')
    """
    noun = comment_noun(comment)
    if noun is not None:
        return singular(noun)
    noun = singular(humanise(table))
    return f"{noun} entry" if noun.rpartition(" ")[2] in _LOG_WORDS else noun


def comment_noun(comment: str | None) -> str | None:
    """The noun a comment names a table's rows (or a column) by, when it is one.

    Its first clause, without "One row per", if that is one to three words with
    no verbs or prepositions in them; otherwise None (the comment still says what
    the table holds, but is no noun to build a sentence on).

    >>> comment_noun("One row per support ticket."), comment_noun("Amount paid, in cents")
    ('support ticket', 'amount paid')
    >>> comment_noun("Events a user triggers in the app") is None
    True
    """
    if not comment:
        return None
    first = re.split(r"[.;:,(\n]| - | — ", comment.strip(), maxsplit=1)[0].strip()
    low = first.lower()
    for prefix in _COMMENT_PREFIXES:
        if low.startswith(prefix):
            first = first[len(prefix):]
            break
    ws = first.split()
    if not 1 <= len(ws) <= 3 or any(not re.fullmatch(r"[^\W\d_]+(-[^\W\d_]+)*", w)
                                    or w.lower() in _STOP_WORDS for w in ws):
        return None
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in ws)


# -- records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Complexity:
    """How hard a statement is to read and to run, and why.

    ``features`` name what adds to ``score`` ("1 join (left)", "GROUP BY with count",
    "HAVING"); ``level`` is simple up to :data:`SIMPLE_MAX`, moderate up to
    :data:`MODERATE_MAX`, complex above, and "unknown" for a statement that does
    not parse.
    """

    level: str
    score: int
    features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "score": self.score, "features": list(self.features)}


@dataclass(frozen=True)
class Explanation:
    """One statement explained in plain words."""

    intent: str  # one sentence
    kind: str  # select, insert, update, delete, merge, utility, unknown
    tables: tuple[str, ...]  # schema-qualified, in the order the statement names them
    complexity: Complexity
    context: str | None  # business context, None when no rule matches
    holds: tuple[tuple[str, str], ...] = ()  # (table, what it holds: its comment or name)
    plan_note: str | None = None  # how the plan reads the tables, when a plan was given
    usage: str | None = None  # how often it runs and what it costs, from the workload
    notes: tuple[str, ...] = ()  # what could not be done: "Could not parse query: ..."
    parsed: bool = True  # False: the statement did not parse, the rest is from its words

    @property
    def text(self) -> str:
        """The intent and the plan note as one sentence, for reports.

        >>> Explanation("Lists users.", "select", (), Complexity("simple", 0), None,
        ...             plan_note="Reads all of User (sequential scan).").text
        'Lists users; reads all of User (sequential scan).'
        """
        if not self.plan_note:
            return self.intent
        note = self.plan_note[:1].lower() + self.plan_note[1:]
        return f"{self.intent.rstrip('.')}; {note}"

    def to_json(self) -> dict[str, Any]:
        """A plain dict of JSON types."""
        return {
            "intent": self.intent,
            "kind": self.kind,
            "tables": list(self.tables),
            "holds": dict(self.holds),
            "complexity": self.complexity.to_json(),
            "context": self.context,
            "plan_note": self.plan_note,
            "usage": self.usage,
            "notes": list(self.notes),
            "parsed": self.parsed,
        }


# -- rules ---------------------------------------------------------------------------

# What each feature adds to a statement's complexity score (per occurrence).
COMPLEXITY_WEIGHTS: Final[Mapping[str, int]] = {
    "join": 1,
    "subquery": 1,
    # Run once per outer row unless the planner can turn it into a join.
    "correlated subquery": 2,
    "CTE": 1,
    "recursive CTE": 2,
    "aggregate": 1,  # with or without GROUP BY
    "HAVING": 1,
    "window function": 2,
    "ORDER BY": 1,
    "DISTINCT": 1,
    # Reads and throws away every skipped row: cost grows with the page number.
    "OFFSET paging": 1,
    # No b-tree serves LIKE '%x': a trigram index or a scan.
    "leading-wildcard LIKE": 1,
    # An index on the bare column cannot serve f(column): it needs an expression index.
    "function on a column": 1,
    "OR": 1,
    "set operation": 1,  # UNION, INTERSECT, EXCEPT
    "view": 1,
    "upsert": 1,
}
SIMPLE_MAX: Final = 1
MODERATE_MAX: Final = 4


@dataclass(frozen=True)
class ContextRule:
    """A business context, guessed when a statement's words and traits match.

    ``words``: one of them among the words of the names and comments of the tables
    and columns the statement uses (singular, lower case); empty matches any.
    ``traits``: all of them describe the statement: aggregate, recent (a range from
    now or a given time), old (a range before), search (LIKE), paging (OFFSET),
    lookup (equality on an identifying column), sample (random order), list, insert,
    update, delete, write.
    """

    context: str
    words: frozenset[str] = frozenset()
    traits: frozenset[str] = frozenset()

    def matches(self, found_words: frozenset[str], traits: frozenset[str]) -> bool:
        return (not self.words or bool(self.words & found_words)) and self.traits <= traits


def _rule(context: str, vocabulary: str = "", traits: str = "") -> ContextRule:
    return ContextRule(context, frozenset(vocabulary.split()), frozenset(traits.split()))


_ACTIVITY: Final = "log event activity behavior behaviour click visit tracking pageview audit"
_SALES: Final = "order payment invoice revenue sale price amount refund cart checkout purchase"
_LEARNING: Final = "lesson enrollment enrolment quiz grade student progress attempt"
_SUPPORT: Final = "ticket support incident helpdesk assignee escalation"
_ACCOUNT: Final = "user account customer member profile email login password username"
_CATALOG: Final = "product course catalog item listing article sku"
_INVENTORY: Final = "stock inventory warehouse"
_SESSION: Final = "session token expiry expire expires"

# The first rule that matches gives the context: the specific before the general.
# Adding a rule adds a line here and a case to tests/fixtures/explain/.
CONTEXT_RULES: Final[tuple[ContextRule, ...]] = (
    _rule("data retention (housekeeping)", "", "delete old"),
    _rule("event tracking (ingestion)", _ACTIVITY, "insert"),
    _rule("user engagement/activity reporting", _ACTIVITY, "aggregate recent"),
    _rule("activity analytics", _ACTIVITY, "aggregate"),
    _rule("event log browsing (admin)", _ACTIVITY, "paging"),
    _rule("user activity history", _ACTIVITY),
    _rule("sales/revenue reporting", _SALES, "aggregate"),
    _rule("support ticket handling", _SUPPORT, "write"),
    _rule("customer support queue", _SUPPORT),
    _rule("order processing/checkout", _SALES, "write"),
    _rule("order history", _SALES),
    _rule("learning progress reporting", _LEARNING + " course", "aggregate"),
    _rule("catalog search", _CATALOG, "search"),
    _rule("course enrollment and learning", _LEARNING),
    _rule("inventory management", _INVENTORY),
    _rule("session management", _SESSION),
    _rule("account lookup (sign-in, profile)", _ACCOUNT, "lookup"),
    _rule("user/customer analytics", _ACCOUNT, "aggregate"),
    _rule("user/customer management", _ACCOUNT),
    _rule("catalog browsing", _CATALOG),
)


# -- the entry point -----------------------------------------------------------------


def explain(
    query: str,
    analysis: Analysis,
    *,
    comments: Mapping[CommentKey, str] | None = None,
    plan: Plan | None = None,
    statement: Statement | None = None,
) -> Explanation:
    """Explain one statement in plain words; deterministic, and never raises.

    ``analysis`` is :func:`pgarchitect.analysis.analyze` of ``query``; ``comments``
    maps ``(schema, table)`` and ``(schema, table, column)`` to their comments
    (:func:`pgarchitect.catalog.comments.load_comments`).

    >>> from pgarchitect.analysis import analyze
    >>> q = 'SELECT id, email FROM "User" WHERE lower(email) = lower($1)'
    >>> e = explain(q, analyze(q))
    >>> e.intent, e.tables, e.complexity.level, e.context
    ('Looks up a user by email in any letter case.', ('public.User',), 'simple', \
'account lookup (sign-in, profile)')
    >>> explain("SELEC * FROM orders", analyze("SELEC * FROM orders")).intent
    'Could not parse the statement; judging by its words it uses orders.'
    """
    comments = comments or {}
    try:
        if analysis.error is not None:
            return _unparsed(query, analysis.error, comments, plan, statement)
        return _Explainer(query, analysis, comments).explanation(plan, statement)
    except Exception as exc:  # an audit goes on whatever one statement holds
        return _unparsed(query, f"Could not explain the statement: {exc!r}", comments, plan,
                         statement)


# -- the parse tree: what analysis does not keep ------------------------------------


@dataclass(frozen=True)
class _Agg:
    func: str
    column: ColumnRef | None
    distinct: bool
    filter_column: ColumnRef | None
    nested: bool  # inside a subquery of an expression: not what the statement computes
    # An argument that is two columns and an operator (a - b, a * b), not one column.
    operation: tuple[ColumnRef, str, ColumnRef] | None = None


@dataclass(frozen=True)
class _Window:
    func: str
    partition: tuple[ColumnRef, ...]
    order: tuple[tuple[ColumnRef, bool], ...]  # (column, descending)


@dataclass(frozen=True)
class _Sublink:
    kind: str  # exists, not exists, in, not in, scalar, ...
    tables: tuple[str, ...]  # relation names read inside
    column: ColumnRef | None  # IN: the column tested


@dataclass
class _Shape:
    joins: list[str] = field(default_factory=list)  # inner, left, right, full, cross, implicit
    aggregates: list[_Agg] = field(default_factory=list)
    windows: list[_Window] = field(default_factory=list)
    sublinks: list[_Sublink] = field(default_factory=list)  # in the top WHERE
    set_ops: list[str] = field(default_factory=list)
    main_tables: list[str] = field(default_factory=list)  # FROM items outside subqueries
    values_rows: int = 0
    insert_select: bool = False
    on_conflict: str | None = None  # nothing, update
    copy: tuple[str | None, str, bool, tuple[str, ...]] | None = None  # schema, table, from
    utility: str | None = None  # the node type of a utility statement
    parsed: bool = True


_JOIN_TYPES: Final = {
    enums.JoinType.JOIN_INNER: "inner", enums.JoinType.JOIN_LEFT: "left",
    enums.JoinType.JOIN_RIGHT: "right", enums.JoinType.JOIN_FULL: "full",
}
_SUBLINK_KINDS: Final = {
    enums.SubLinkType.EXISTS_SUBLINK: "exists", enums.SubLinkType.ANY_SUBLINK: "in",
    enums.SubLinkType.ALL_SUBLINK: "all", enums.SubLinkType.EXPR_SUBLINK: "scalar",
    enums.SubLinkType.ARRAY_SUBLINK: "array",
}


class _Resolver:
    """Column references of the parse tree to the base columns analysis resolved."""

    def __init__(self, analysis: Analysis) -> None:
        self.aliases: dict[str, str] = {}  # alias or name -> relation name
        self.by_name: dict[str, set[ColumnRef]] = {}
        for use in analysis.columns:
            self.by_name.setdefault(use.column.column, set()).add(use.column)

    def add(self, rv: ast.RangeVar) -> None:
        if rv.relname:
            self.aliases.setdefault(rv.relname, rv.relname)
            if rv.alias is not None and rv.alias.aliasname:
                self.aliases[rv.alias.aliasname] = rv.relname

    def column(self, node: ast.Node | None) -> ColumnRef | None:
        """The base column a reference (or the first reference in an expression) is."""
        ref = node if isinstance(node, ast.ColumnRef) else _first_column(node)
        if ref is None:
            return None
        names = [node_name(f) for f in ref.fields or ()]
        if not names or names[-1] is None:
            return None
        candidates = self.by_name.get(names[-1], set())
        if len(names) > 1 and names[-2] is not None:
            table = self.aliases.get(names[-2], names[-2])
            narrowed = {c for c in candidates if c.table == table}
            candidates = narrowed or candidates
        return next(iter(candidates)) if len(candidates) == 1 else None


def _preorder(root: ast.Node) -> Iterator[tuple[ast.Node, bool]]:
    """Every node under ``root``, parents first and in written order, each with whether
    it is inside a subquery of an expression. A loop, not recursion: generated SQL
    nests deeper than Python's recursion limit."""
    stack: list[tuple[ast.Node, bool]] = [(root, False)]
    while stack:
        node, nested = stack.pop()
        nested = nested or isinstance(node, ast.SubLink)
        yield node, nested
        stack.extend((child, nested) for child in reversed(list(children(node))))


def _first_column(node: ast.Node | None) -> ast.ColumnRef | None:
    if node is None:
        return None
    return next((n for n, _ in _preorder(node) if isinstance(n, ast.ColumnRef)), None)


def _range_vars(node: ast.Node) -> Iterator[ast.RangeVar]:
    return (n for n, _ in _preorder(node) if isinstance(n, ast.RangeVar))


def _shape_of(query: str, analysis: Analysis) -> tuple[_Shape, _Resolver]:
    resolver = _Resolver(analysis)
    shape = _Shape()
    try:
        stmts = pglast.parser.parse_sql(query)
    except pglast.parser.ParseError:
        # Analysis repaired a statement cut at the end; go on with what it found.
        shape.parsed = False
        return shape, resolver
    root = stmts[0].stmt if stmts else None
    if root is None:
        return shape, resolver
    for rv in _range_vars(root):
        resolver.add(rv)
    if isinstance(root, ast.CopyStmt):
        rel = root.relation
        if rel is not None and rel.relname:
            cols = tuple(n for n in (node_name(a) for a in root.attlist or ()) if n)
            shape.copy = (rel.schemaname, rel.relname, bool(root.is_from), cols)
        return shape, resolver
    if isinstance(root, ast.InsertStmt):
        sel = root.selectStmt
        if isinstance(sel, ast.SelectStmt):
            if sel.valuesLists:
                shape.values_rows = len(sel.valuesLists)
            else:
                shape.insert_select = True
        clause = root.onConflictClause
        if clause is not None:
            shape.on_conflict = ("update" if clause.action
                                 == enums.OnConflictAction.ONCONFLICT_UPDATE else "nothing")
    elif not isinstance(root, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt
                        | ast.MergeStmt):
        shape.utility = type(root).__name__
        return shape, resolver
    _walk(root, shape, resolver)
    if isinstance(root, ast.SelectStmt | ast.UpdateStmt | ast.DeleteStmt):
        _sublinks(root.whereClause, shape, resolver)
    return shape, resolver


def _walk(root: ast.Node, shape: _Shape, resolver: _Resolver) -> None:
    """What analysis does not keep: joins, aggregates, windows, set operations."""
    for node, nested in _preorder(root):
        if isinstance(node, ast.RangeVar) and not nested and node.relname:
            shape.main_tables.append(node.relname)
        elif isinstance(node, ast.FuncCall) and node.over is not None:
            over = node.over
            partition = tuple(c for c in (resolver.column(p) for p in over.partitionClause or ())
                              if c is not None)
            order = tuple(
                (c, s.sortby_dir == enums.SortByDir.SORTBY_DESC)
                for s in over.orderClause or () if isinstance(s, ast.SortBy)
                if (c := resolver.column(s.node)) is not None)
            shape.windows.append(_Window(funcname(node).lower(), partition, order))
        elif isinstance(node, ast.FuncCall) and is_aggregate(node):
            arg = (node.args or (None,))[0]
            shape.aggregates.append(_Agg(
                funcname(node).lower(), None if node.agg_star else resolver.column(arg),
                bool(node.agg_distinct), resolver.column(node.agg_filter), nested,
                _operation(arg, resolver)))
        elif isinstance(node, ast.JoinExpr):
            if node.quals is None and not node.usingClause and not node.isNatural:
                shape.joins.append("cross")
            else:
                join = node.jointype
                shape.joins.append("inner" if join is None else _JOIN_TYPES.get(join, "inner"))
        elif isinstance(node, ast.SelectStmt):
            if len(node.fromClause or ()) > 1:
                shape.joins.extend(["implicit"] * (len(node.fromClause or ()) - 1))
            if node.op is not None and node.op != enums.SetOperation.SETOP_NONE:
                shape.set_ops.append(str(node.op.name).removeprefix("SETOP_"))


def _operation(node: ast.Node | None,
               resolver: _Resolver) -> tuple[ColumnRef, str, ColumnRef] | None:
    """The first ``column <op> column`` in an expression: closed_at - created_at."""
    if node is None:
        return None
    for n, _ in _preorder(node):
        if isinstance(n, ast.A_Expr) and n.kind == enums.A_Expr_Kind.AEXPR_OP \
                and isinstance(n.lexpr, ast.ColumnRef) and isinstance(n.rexpr, ast.ColumnRef):
            op = node_name((n.name or (None,))[-1]) or ""
            left, right = resolver.column(n.lexpr), resolver.column(n.rexpr)
            if op in _ARITHMETIC and left is not None and right is not None and left != right:
                return left, op, right
    return None


_ARITHMETIC: Final = {"-": "minus", "+": "plus", "*": "times", "/": "per"}


def _sublinks(where: ast.Node | None, shape: _Shape, resolver: _Resolver) -> None:
    """EXISTS and IN tests of a WHERE clause, with the NOT in front of them.

    Only those every row must pass: a test in one branch of an OR filters nothing
    on its own, and is left to the OR's wording.
    """
    stack: list[tuple[ast.Node | None, bool]] = [(where, False)]
    while stack:
        node, negated = stack.pop()
        if isinstance(node, ast.BoolExpr) and node.boolop != enums.BoolExprType.OR_EXPR:
            negate = node.boolop == enums.BoolExprType.NOT_EXPR
            stack.extend((arg, negated != negate) for arg in reversed(node.args or ()))
        elif isinstance(node, ast.SubLink) and node.subselect is not None:
            link = node.subLinkType
            kind = "subquery" if link is None else _SUBLINK_KINDS.get(link, "subquery")
            tables = tuple(dict.fromkeys(rv.relname for rv in _range_vars(node.subselect)
                                         if rv.relname))
            shape.sublinks.append(_Sublink(f"not {kind}" if negated else kind, tables,
                                           resolver.column(node.testexpr)))


# -- the explainer -------------------------------------------------------------------

_TIME_FUNCS: Final = ("now()", "current_timestamp", "current_date", "localtimestamp",
                      "clock_timestamp()", "statement_timestamp()", "transaction_timestamp()")
_SHUFFLE: Final = re.compile(r"^\s*(random|md5|hashtext|hashtextextended)\s*\(")
_AGGREGATE_TEXT: Final = re.compile(r"^\s*(count|sum|avg|min|max)\s*\(", re.IGNORECASE)
_RANK_FUNCS: Final = ("row_number", "rank", "dense_rank")
_OPERATOR_WORDS: Final = {">": "more than", ">=": "at least", "<": "fewer than",
                          "<=": "at most", "=": "exactly"}
_NOT_BASE: Final = frozenset({"cte", "function"})


@dataclass
class _Filters:
    """The conditions of a statement, sorted by how they read in a sentence."""

    lookup: list[str] = field(default_factory=list)  # by id, by email in any letter case
    lookup_many: bool = False
    owners: list[str] = field(default_factory=list)  # a given user('s)
    given: list[str] = field(default_factory=list)  # of a given event type
    adjectives: list[str] = field(default_factory=list)  # published, paid
    after: list[str] = field(default_factory=list)  # in the last 7 days, whose title ...

    @property
    def empty(self) -> bool:
        return not (self.lookup or self.owners or self.given or self.adjectives or self.after)


class _Explainer:
    """Everything one explanation needs, worked out once."""

    def __init__(self, query: str, analysis: Analysis,
                 comments: Mapping[CommentKey, str]) -> None:
        self.a = analysis
        self.comments = comments
        self.shape, self.resolver = _shape_of(query, analysis)
        self.types = {u.column: u.type for u in analysis.columns}
        self.base = [r for r in analysis.relations if r.kind not in _NOT_BASE]
        self.aggregates = [g for g in self.shape.aggregates if not g.nested]
        self.subject = self._subject()
        self.absent: set[tuple[str, str]] = set()  # tables anti-joined: "with no orders"
        # A view's columns resolve to the tables under it: those are the subject too.
        self.subject_tables: set[tuple[str, str]] = set()
        if self.subject is not None:
            view = f"{self.subject[0]}.{self.subject[1]}"
            self.subject_tables = {self.subject} | {
                (r.schema, r.name) for r in self.base if r.via == view}
        self.filters = self._filters()

    # -- names ----------------------------------------------------------------------

    def table_noun(self, schema: str, name: str) -> str:
        """What one row of a table is called, singular."""
        return row_noun(name, self.comments.get((schema, name)))

    def _schema_of(self, table: str) -> str:
        for r in self.a.relations:
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

    def _event(self, ref: ColumnRef) -> str:
        """What a time column records: "closing" for closed_at."""
        ws = words(ref.column)
        if len(ws) == 2 and ws[1] in ("at", "on"):
            return _EVENT_NOUNS.get(ws[0], ws[0])
        return self.column_noun(ref)

    def _participle_of(self, ref: ColumnRef) -> str | None:
        """"created" for createdAt: the column records when that happened."""
        ws = words(ref.column)
        if len(ws) == 2 and ws[1] in ("at", "on") and _participle(ws[0]):
            return ws[0]
        return None

    # -- the subject -------------------------------------------------------------------

    def _subject(self) -> tuple[str, str] | None:
        """The table whose rows the statement is about."""
        if not self.base:
            return None
        for agg in self.aggregates:
            if agg.column is not None:
                return agg.column.schema, agg.column.table
        main = [r for r in self.base if r.name in self.shape.main_tables] or self.base
        if self.aggregates or self.a.group_by:
            # count(*) over a join counts the rows of the table that refers to the
            # others (orders, not customers): the one no other table refers to.
            referred = {(target.schema, target.table) for source, target in self._links()}
            grouped = {(k.column.schema, k.column.table) for k in self._keys()
                       if k.column is not None and words(k.column.column) == ["id"]}
            for r in main:
                if (r.schema, r.name) not in referred | grouped:
                    return r.schema, r.name
        return main[0].schema, main[0].name

    def _links(self) -> list[tuple[ColumnRef, ColumnRef]]:
        """Joins of the statement as (referring column, id it refers to): (orders.customer_id,
        customers.id), whichever side each was written on."""
        out = []
        for p in self.a.predicates:
            if p.role != "join" or _in_sublink(p.scope) or p.column is None or p.other is None:
                continue
            for a, b in ((p.column, p.other), (p.other, p.column)):
                if words(b.column) == ["id"] and words(a.column) != ["id"]:
                    out.append((a, b))
        return out

    def _keys(self) -> list[SortKey]:
        return [k for k in self.a.group_by if not _in_sublink(k.scope)]

    # -- conditions ----------------------------------------------------------------------

    def _main_predicates(self) -> list[Predicate]:
        return [p for p in self.a.predicates
                if p.role != "join" and p.clause != "having"
                and not _in_sublink(p.scope)
                # A view's own conditions are what its name says: "open tickets".
                and not p.scope.startswith("view ")
                and " OVER " not in (p.expression or "").upper()]

    def _filters(self) -> _Filters:
        f = _Filters()
        ors: list[str] = []
        for p in self._main_predicates():
            if p.column is None:
                continue
            if p.in_or:
                alone = _Filters()
                self._predicate(p, alone)
                ors.extend(self._after_form(alone))
            else:
                self._predicate(p, f)
        if ors:
            f.after.append(join_words(list(dict.fromkeys(ors)), "or"))
        for sub in self.shape.sublinks:
            phrase = self._sublink(sub)
            if phrase:
                f.after.append(phrase)
        f.lookup, f.owners, f.given, f.adjectives, f.after = (
            list(dict.fromkeys(x)) for x in (f.lookup, f.owners, f.given, f.adjectives, f.after))
        return f

    def _after_form(self, f: _Filters) -> list[str]:
        """Conditions as phrases after a noun, for the branches of an OR."""
        out = [f"with a given {x}" for x in (*f.lookup, *f.owners, *f.given)]
        out += [f"that are {x}" for x in f.adjectives]
        return out + f.after

    def _predicate(self, p: Predicate, f: _Filters) -> None:
        ref = p.column
        assert ref is not None
        if p.value_kind == "subquery":
            return  # worded with its subquery: "that have paid orders"
        col = self.qualified_noun(ref)
        expr = (p.expression or "").lower()
        case = " in any letter case" if expr.startswith(("lower(", "upper(")) else ""
        value = p.value or ""
        param = p.value_kind == "param" or (p.value_kind == "expression" and "$" in value)
        entity = self.entity(ref)
        if p.role == "eq" or (p.role == "in" and _single(value) and p.operator == "in"):
            if param:
                if self.on_subject(ref) and humanise_column(ref.column) in _IDENTIFYING:
                    f.lookup.append(col + case)
                elif entity is not None:
                    f.owners.append(entity)
                else:
                    f.given.append(col + case)
            elif p.value_kind == "const":
                self._constant(ref, col, _unquote(value), f, negated=False)
            else:
                f.after.append(f"filtered on {col}")
        elif p.role == "in":
            if param:
                if self.on_subject(ref) and humanise_column(ref.column) in _IDENTIFYING:
                    f.lookup.append(plural(col))
                    f.lookup_many = True
                elif entity is not None:
                    f.after.append(f"of given {plural(entity)}")
                else:
                    f.after.append(f"with any of given {plural(col)}")
            else:
                items = [_unquote(v) for v in _items(value)]
                negated = p.operator.startswith("not")
                if self._state_column(ref) and all(_plain(v) for v in items):
                    adjective = join_words(items, "or")
                    self._adjective(ref, f"not {adjective}" if negated else adjective, f)
                else:
                    verb = "is not" if negated else "is"
                    f.after.append(f"whose {col} {verb} {join_words(items, 'or')}")
        elif p.role == "range":
            # A range of ids is of the numbers, not of the things: "customer id".
            raw = col if entity is None else " ".join(words(ref.column))
            f.after.append(self._range(p, ref, raw, param))
        elif p.role == "like":
            anchored = p.anchored
            if anchored is None and re.fullmatch(r"\$\d+\s*\|\|\s*'%'", value.strip()):
                anchored = True  # $1 || '%': whatever is given, then anything
            verb = {True: "starts with", False: "contains", None: "matches"}[anchored]
            if p.operator.startswith("not"):
                verb = "does not " + {"starts with": "start with", "contains": "contain",
                                      "matches": "match"}[verb]
            what = "a given text" if param else _like_text(value)
            any_case = " (any letter case)" if "ilike" in p.operator else ""
            f.after.append(f"whose {col} {verb} {what}{any_case}")
        elif p.role == "null":
            absent = p.operator == "is null"
            participle = self._participle_of(ref)
            if absent and not self.on_subject(ref) and any(
                    ref in (x, y) for x, y in self._links()):
                # LEFT JOIN t ... WHERE t.key IS NULL: the rows that have no t.
                self.absent.add((ref.schema, ref.table))
                f.after.append(f"with no {self.noun(ref, many=True)}")
            elif participle is not None:
                f.adjectives.append(f"not {participle}" if absent else participle)
            else:
                thing = entity or col
                f.after.append(f"{'without' if absent else 'with'} {article(thing)}")
        elif p.operator in ("<>", "!=") and p.value_kind == "const":
            self._constant(ref, col, _unquote(value), f, negated=True)
        elif p.operator == "@>":
            f.after.append(f"whose {col} contains {'a given value' if param else value}")
        else:
            f.after.append(f"filtered on {col}")

    def _adjective(self, ref: ColumnRef, adjective: str, f: _Filters) -> None:
        """An adjective of the subject ("paid orders"), or of the table it belongs to
        ("requests of gold customers")."""
        if self.on_subject(ref):
            f.adjectives.append(adjective)
        else:
            # Next to the noun: "requests of gold customers closed since ...".
            f.after.insert(0, f"of {adjective} {self.noun(ref, many=True)}")

    def _state_column(self, ref: ColumnRef) -> bool:
        ws = words(ref.column)
        return bool(ws) and ws[-1] in _STATE_WORDS | _GRADE_WORDS

    def _constant(self, ref: ColumnRef, col: str, value: str, f: _Filters, *,
                  negated: bool) -> None:
        ws = words(ref.column)
        if value in ("true", "false"):
            yes = (value == "true") != negated
            if ws[:1] == ["is"] or _participle(ws[-1]):
                name = self.column_noun(ref)
                self._adjective(ref, name if yes else f"not {name}", f)
            else:
                f.after.append(f"{'with' if yes else 'without'} {col}")
        elif self._state_column(ref) and _plain(value):
            adjective = f"{value}-{ws[-1]}" if ws[-1] in _GRADE_WORDS else value
            self._adjective(ref, f"not {adjective}" if negated else adjective, f)
        else:
            f.after.append(f"whose {col} is {'not ' if negated else ''}{value}")

    def _range(self, p: Predicate, ref: ColumnRef, col: str, param: bool) -> str:
        value = p.value or ""
        op = p.operator
        if self.is_time(ref):
            participle = self._participle_of(ref)
            lead = participle or ("" if col in ("time", "date", "time stamp") else f"with {col}")
            low = value.lower()
            if any(fn in low for fn in _TIME_FUNCS):
                span = _interval_words(value)
                one = span is not None and span.startswith("1 ")
                if op in (">", ">=", "between"):
                    last = span.removeprefix("1 ") if span and one else span
                    core = (f"in the last {last}" if last else "within a given period"
                            if "$" in value else "in the future")
                else:
                    ago = f"a {span.removeprefix('1 ')}" if span and one else span
                    core = f"over {ago} ago" if ago else "in the past"
            elif op == "between":
                core = ("between two given times" if param
                        else "between " + " and ".join(_unquote(v) for v in _between(value)))
            else:
                when = "a given time" if param else _unquote(value)
                core = f"{'since' if op in ('>', '>=') else 'before'} {when}"
            return f"{lead} {core}".strip()
        if op == "between":
            bounds = ("two given values",) if param else tuple(_between(value))
            return f"with {col} between {' and '.join(bounds)}"
        what = "a given value" if param else value
        word = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}.get(op, op)
        return f"with {col} {word} {what}"

    def _sublink(self, sub: _Sublink) -> str | None:
        if not sub.tables:
            return None
        table = sub.tables[0]
        key = (self._schema_of(table), table)
        noun = self._sub_phrase(key)
        if sub.kind in ("exists", "not exists"):
            return f"{'with no' if sub.kind == 'not exists' else 'that have'} {noun}"
        if sub.kind in ("in", "not in") and sub.column is not None:
            if self.entity(sub.column) is not None:
                return f"{'with no' if sub.kind == 'not in' else 'that have'} {noun}"
            verb = "does not appear" if sub.kind == "not in" else "appears"
            return f"whose {self.column_noun(sub.column)} {verb} in {noun}"
        return None

    def _sub_phrase(self, key: tuple[str, str]) -> str:
        """The rows an EXISTS or IN subquery looks for, with its own conditions."""
        subject, tables = self.subject, self.subject_tables
        # The subquery's conditions are worded as if its table were the subject.
        self.subject, self.subject_tables = key, {key}
        try:
            f = _Filters()
            for p in self.a.predicates:
                if (_in_sublink(p.scope) and p.role != "join" and p.column is not None
                        and (p.column.schema, p.column.table) == key):
                    self._predicate(p, f)
            head = " ".join(x for x in (", ".join(f.adjectives), self.noun(many=True)) if x)
            given = [*f.owners, *f.given]
            parts = [head, *([f"of a given {join_words(given)}"] if given else []), *f.after]
            return " ".join(parts)
        finally:
            self.subject, self.subject_tables = subject, tables

    # -- the intent ----------------------------------------------------------------------

    def phrase(self, *, many: bool = True, quantifier: str = "", possessor: str | None = None,
               joins: bool = True, per: str = "", by: str = "") -> str:
        """The subject as a noun phrase with its conditions."""
        f = self.filters
        head = " ".join(x for x in (", ".join(f.adjectives), self.noun(many=many)) if x)
        if by:
            head += f" by {by}"
        if quantifier:
            head = f"{quantifier} {head}"
        owners = list(f.owners)
        if possessor is None and len(owners) == 1:
            possessor = f"a given {owners.pop()}"
        # With a possessor already ("each lesson's"), the owners go after the noun.
        if possessor is not None:
            head = f"{possessor}'s {head}"
        elif not quantifier and not many:
            head = article(head)
        parts = [head]
        given = [*owners, *f.given]
        if given:
            parts.append(f"of a given {join_words(given)}")
        parts.extend(f.after)
        if joins and (joined := self._with_joined(many)):
            # After the conditions, so that they stay with the noun they are about.
            parts.extend(f", {j}" if f.after else j for j in joined)
        if per:
            parts.append(per)
        return " ".join(parts).replace(" , ", ", ")

    def _with_joined(self, many: bool) -> list[str]:
        """The other tables a list shows its rows with: "with their course"."""
        if self.subject is None:
            return []
        skip = {self.subject} | {(k.column.schema, k.column.table) for k in self._keys()
                                 if k.column is not None}
        out = []
        for r in self.base:
            key = (r.schema, r.name)
            if key in skip or key in self.absent or r.name not in self.shape.main_tables:
                continue
            skip.add(key)
            noun = self.table_noun(*key)
            whose = "their" if many else "its"
            links = self._links()
            if any(self.on_subject(x) and (y.schema, y.table) == key for x, y in links):
                out.append(f"with {whose} {noun}")
            elif any((x.schema, x.table) == key and self.on_subject(y) for x, y in links):
                out.append(f"with {whose} {plural(noun)}")
            else:
                out.append(f"with {plural(noun)}")
        return [f"with {join_words([o.removeprefix('with ') for o in out])}"] if out else []

    def _order(self) -> tuple[str, str]:
        """How the rows come: ("newest first", "latest") and the like."""
        keys = [k for k in self.a.order_by if not k.scope]
        if not keys:
            return "", ""
        k = keys[0]
        desc = k.direction == "desc"
        expr = k.expression or ""
        if k.column is None and _AGGREGATE_TEXT.match(expr):
            if expr.lower().startswith("count"):
                return ("most first" if desc else "fewest first"), ""
            return ("highest first" if desc else "lowest first"), ""
        if _SHUFFLE.match(expr):
            return "in a pseudo-random order", "random"
        if k.column is not None and self.is_time(k.column):
            return ("newest first", "latest") if desc else ("oldest first", "earliest")
        if k.column is not None:
            col = self.qualified_noun(k.column)
            return (f"sorted by {col}, highest first" if desc else f"sorted by {col}"), ""
        return "sorted", ""

    def _limit_words(self) -> str:
        limit = self.a.limit
        if limit is None or limit.count is None:
            return ""
        return str(limit.count) if isinstance(limit.count, int) else "given number of"

    def _group(self) -> list[tuple[str, bool]]:
        """The group keys in words, each with whether it is a thing (user) or a value."""
        out: list[tuple[str, bool]] = []
        for k in self._keys():
            ref, expr = k.column, (k.expression or "")
            unit = re.match(r"date_trunc\('(\w+)'", expr)
            if unit:
                out.append((unit.group(1), False))
            elif ref is None:
                out.append((humanise(expr) if expr else "group", False))
            elif (entity := self.entity(ref)) is not None:
                out.append((entity, True))
            elif not self.on_subject(ref) and words(ref.column)[-1:] and \
                    words(ref.column)[-1] in _NAME_WORDS:
                out.append((self.noun(ref), True))
            else:
                out.append((self.qualified_noun(ref), False))
        seen: dict[str, bool] = {}
        for noun, thing in out:
            seen.setdefault(noun, thing)
        return list(seen.items())

    def _agg_words(self, agg: _Agg) -> str:
        col = self.column_noun(agg.column) if agg.column is not None else None
        time = agg.column is not None and self.is_time(agg.column)
        if agg.operation is not None and agg.func in ("sum", "avg", "max", "min"):
            left, op, right = agg.operation
            if op == "-" and self.is_time(left) and self.is_time(right):
                # avg(closed_at - created_at): how long from one event to the other.
                word = {"sum": "total", "avg": "average", "max": "longest",
                        "min": "shortest"}[agg.func]
                text = f"{word} time from {self._event(right)} to {self._event(left)}"
            else:
                word = {"sum": "total", "avg": "average", "max": "highest",
                        "min": "lowest"}[agg.func]
                text = f"{word} {self.column_noun(left)} {_ARITHMETIC[op]} " \
                       f"{self.column_noun(right)}"
            if agg.filter_column is not None:
                text += f" by {self.column_noun(agg.filter_column)}"
            return text
        if agg.func == "count":
            text = f"number of distinct {plural(col)}" if agg.distinct and col else "count"
        elif col is None:
            text = agg.func
        elif agg.func == "sum":
            text = col if col.startswith("total") else f"total {col}"
        elif agg.func == "avg":
            text = f"average {col}"
        elif agg.func == "max":
            text = f"{'latest' if time else 'highest'} {col}"
        elif agg.func == "min":
            text = f"{'earliest' if time else 'lowest'} {col}"
        elif agg.func in ("array_agg", "string_agg", "json_agg", "jsonb_agg"):
            text = f"list of {plural(col)}"
        elif agg.func in ("bool_or",):
            text = f"whether any is {col}"
        elif agg.func in ("bool_and", "every"):
            text = f"whether all are {col}"
        else:
            text = f"{agg.func} of {col}"
        if agg.filter_column is not None:
            text += f" by {self.column_noun(agg.filter_column)}"
        return text

    def _having(self, group_noun: str) -> str:
        parts = []
        for p in self.a.predicates:
            if p.clause != "having" or _in_sublink(p.scope) or not p.expression:
                continue
            value = "a given number" if p.value_kind == "param" else p.value or "?"
            op = _OPERATOR_WORDS.get(p.operator, p.operator)
            if p.expression.lower().startswith("count"):
                parts.append(f"with {op} {value}")
            else:
                what = self._agg_text_words(p.expression)
                op = op.replace("fewer", "less")
                parts.append(f"whose {what} is {op} {value}")
        return f"keeps {plural(group_noun)} {join_words(parts)}" if parts else ""

    def _agg_text_words(self, expression: str) -> str:
        match = re.match(r"\s*(\w+)\s*\(", expression)
        func = match.group(1).lower() if match else ""
        found = [g for g in self.aggregates if g.func == func]
        return self._agg_words(found[0]) if found else expression

    def intent(self) -> str:
        kind = self.a.kind
        if kind == "select":
            text = self._select()
        elif kind == "insert":
            text = self._insert()
        elif kind == "update":
            text = self._update()
        elif kind == "delete":
            everything = "all " + self.noun(many=True)
            text = f"Removes {everything if self.filters.empty else self.phrase(joins=False)}"
        elif kind == "merge":
            text = f"Merges rows into {self.noun(many=True)}"
        else:
            text = self._utility()
        text = text.strip()
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")

    def _select(self) -> str:
        if self.shape.set_ops:
            ops = join_words(list(dict.fromkeys(self.shape.set_ops)))
            tables = join_words([plural(self.table_noun(r.schema, r.name)) for r in self.base])
            return f"Combines ({ops}) rows of {tables or 'values'}"
        if self.subject is None:
            funcs = [r.name for r in self.a.relations if r.kind == "function"]
            return f"Calls {join_words(funcs)}" if funcs else \
                "Computes values without reading a table"
        latest = self._latest_per_group()
        if latest:
            return latest
        if self.aggregates or self._keys():
            return self._aggregate()
        f = self.filters
        order, quantifier = self._order()
        if f.lookup:
            by = join_words(f.lookup)
            if f.lookup_many:
                by = f"a given list of {by}"
            return f"Looks up {self.phrase(many=f.lookup_many, by=by)}"
        if quantifier == "random":
            limit = self._limit_words()
            size = f"{limit} " if limit and limit[0].isdigit() else \
                "up to a given number of " if limit else ""
            return f"Picks a pseudo-random sample of {size}{self.phrase()}"
        if self.a.limit is not None and self.a.limit.offset is not None:
            every = "" if not f.empty else "all "
            return f"Pages through {every}{self.phrase()}{_comma(order)}"
        if self.a.distinct:
            cols = [self.qualified_noun(k.column) for k in self.a.distinct
                    if k.column is not None and not k.scope]
            what = f"the distinct {join_words([plural(c) for c in cols])} of " if cols else \
                "distinct "
            return f"Lists {what}{self.phrase()}{_comma(order)}"
        if any(p.role == "like" for p in self._main_predicates()):
            return f"Searches {self.phrase()}{_comma(order)}"
        limit = self._limit_words()
        if quantifier in ("latest", "earliest") and limit:
            one = limit == "1"
            number = f"{limit} " if limit[0].isdigit() and not one else ""
            the = "" if f.owners else "the "  # "a given user's latest", "the latest"
            verb = "Finds" if one else "Lists"
            return f"{verb} {self.phrase(many=not one, quantifier=f'{the}{number}{quantifier}')}"
        if limit:
            size = f"up to {limit}" if limit[0].isdigit() else "up to a given number of"
            return f"Lists {size} {self.phrase()}{_comma(order)}"
        every = "all " if f.empty else ""
        return f"Lists {every}{self.phrase()}{_comma(order)}"

    def _aggregate(self) -> str:
        group = self._group()
        order, _ = self._order()
        limit = self._limit_words()
        phrases = list(dict.fromkeys(self._agg_words(g) for g in self.aggregates))
        counts_only = phrases in ([], ["count"])
        first_key = next((k for k in self.a.order_by if not k.scope), None)
        top = (first_key is not None and first_key.column is None
               and _AGGREGATE_TEXT.match(first_key.expression or "") and limit and group)
        if top:
            assert first_key is not None
            desc = first_key.direction == "desc"
            size = f"{limit} " if limit[0].isdigit() else ""
            things = join_words([n for n, _ in group])
            if (first_key.expression or "").lower().startswith("count"):
                best = f"the {'most' if desc else 'fewest'} {self.phrase(joins=False)}"
            else:
                what = self._agg_text_words(first_key.expression or "")
                best = f"the {'highest' if desc else 'lowest'} {what} of {self.phrase(joins=False)}"
            tail = "" if size else " (up to a given number)"
            return f"Finds the {size}{plural(things)} with {best}{tail}"
        possessor = None
        per = ""
        if group:
            entities = [n for n, thing in group if thing]
            if len(group) == 1 and group[0][1] and not self.filters.owners:
                possessor = f"each {group[0][0]}"
            else:
                per = f"per {join_words([n for n, _ in group])}"
            group_noun = entities[0] if entities else group[0][0]
        else:
            group_noun = ""
        subject = self.phrase(possessor=possessor, per=per, joins=False)
        distinct = [g for g in self.aggregates if g.func == "count" and g.distinct
                    and g.column is not None]
        if not self.shape.parsed and not phrases:
            # Cut short: the aggregates are in the part analysis could not keep.
            text = f"Summarises {subject}"
        elif counts_only:
            text = f"Counts {subject}"
        elif len(self.aggregates) == 1 and distinct and distinct[0].column is not None:
            what = plural(self.column_noun(distinct[0].column))
            text = f"Counts the distinct {what} of {subject}"
        else:
            text = f"Computes the {join_words(phrases)} of {subject}"
        having = self._having(group_noun) if group_noun else ""
        if having:
            text += f" and {having}"
        return text + _comma(order)

    def _latest_per_group(self) -> str | None:
        """The newest row per group (row_number() OVER (PARTITION BY .. ORDER BY .. DESC) = 1)."""
        for p in self.a.predicates:
            expr = (p.expression or "").lower()
            if " over " not in expr or not expr.startswith(_RANK_FUNCS):
                continue
            window = next((w for w in self.shape.windows
                           if w.func in _RANK_FUNCS and w.partition and w.order), None)
            if window is None:
                return None
            if p.operator == "=" and p.value == "1":
                how_many = ""
            elif p.operator in ("<=", "<") and (p.value or "").isdigit():
                n = int(p.value or "0") - (p.operator == "<")
                how_many = f"{n} "
            else:
                return None
            part = self.entity(window.partition[0]) or self.qualified_noun(window.partition[0])
            col, desc = window.order[0]
            by = ""
            if self.is_time(col):
                which = "latest" if desc else "earliest"
            else:
                which, by = ("top" if desc else "bottom"), f" by {self.column_noun(col)}"
            quantifier = f"{which} {how_many}" if by else f"{how_many}{which}"
            noun = self.phrase(many=bool(how_many), possessor=f"each {part}",
                               quantifier=quantifier.strip(), joins=False)
            return f"Finds {noun}{by}"
        return None

    def _insert(self) -> str:
        noun = self.noun()
        cols = [self.column_noun(c) for c in self.a.insert_columns]
        detail = ""
        if cols and len(cols) <= 4:
            detail = f" with its {join_words(cols)}"
        elif cols:
            detail = f" ({len(cols)} columns)"
        if self.shape.insert_select:
            sources = [plural(self.table_noun(r.schema, r.name)) for r in self.base
                       if (r.schema, r.name) != self.subject]
            src = f" from {join_words(sources)}" if sources else " from a query"
            text = f"Adds {plural(noun)}{src}"
        elif self.shape.values_rows > 1:
            text = f"Adds {self.shape.values_rows} {plural(noun)}"
        else:
            text = f"Adds {article(noun)}{detail}"
        if self.shape.on_conflict == "update":
            text = text.replace("Adds", "Adds or updates", 1)
        elif self.shape.on_conflict == "nothing":
            text += (", unless they already exist" if self.shape.values_rows > 1
                     or self.shape.insert_select else ", unless it already exists")
        return text

    def _update(self) -> str:
        cols = join_words(list(dict.fromkeys(self.column_noun(c) for c in self.a.set_columns)))
        f = self.filters
        if f.lookup and not f.lookup_many:
            target = self.phrase(many=False, by=join_words(f.lookup), joins=False)
        elif f.empty:
            target = f"all {self.noun(many=True)}"
        else:
            target = self.phrase(joins=False)
        return f"Changes the {cols or 'columns'} of {target}"

    def _utility(self) -> str:
        copy = self.shape.copy
        if copy is not None:
            schema, table, loading, cols = copy
            noun = plural(self.table_noun(schema or "public", table))
            if loading:
                names = [humanise_column(c) for c in cols]
                detail = f" with their {join_words(names)}" if names and len(names) <= 4 else ""
                return f"Bulk-loads {noun}{detail} (COPY)"
            return f"Exports {noun} (COPY)"
        name = (self.shape.utility or "utility").removesuffix("Stmt")
        return f"Runs a utility statement ({humanise(name)})"

    # -- the rest ------------------------------------------------------------------------

    def tables(self) -> tuple[str, ...]:
        names = [r.qualified for r in self.base]
        # A partition is its parent's business: list the parent once.
        kept = [r.qualified for r in self.base
                if not (r.partition_of and r.partition_of in names)]
        if not kept and self.shape.copy is not None:
            schema, table, _, _ = self.shape.copy
            kept = [f"{schema or 'public'}.{table}"]
        return tuple(dict.fromkeys(kept))

    def holds(self, tables: Sequence[str]) -> tuple[tuple[str, str], ...]:
        out = []
        for qualified in tables:
            schema, _, name = qualified.partition(".")
            comment = self.comments.get((schema, name))
            out.append((qualified, comment if comment else plural(self.table_noun(schema, name))))
        return tuple(out)

    def traits(self) -> frozenset[str]:
        t: set[str] = set()
        kind = self.a.kind
        if kind in ("insert", "update", "delete", "merge") or (
                self.shape.copy is not None and self.shape.copy[2]):
            t.add("write")
            t.add("insert" if kind in ("insert", "utility") else kind)
        if self.aggregates or self._keys():
            t.add("aggregate")
        elif kind == "select":
            t.add("list")
        for p in self._main_predicates():
            if p.column is None:
                continue
            if p.role == "range" and self.is_time(p.column):
                t.add("recent" if p.operator in (">", ">=", "between") else "old")
            elif p.role == "like":
                t.add("search")
        if self.filters.lookup:
            t.add("lookup")
        if self.a.limit is not None and self.a.limit.offset is not None:
            t.add("paging")
        if self._order()[1] == "random":
            t.add("sample")
        return frozenset(t)

    def context(self, tables: Sequence[str]) -> str | None:
        """The first rule that the tables' words match, else the first that all words do.

        What a statement is about shows in its tables first: a lookup of products
        by SKU is about the catalog even though the rows have a price.
        """
        traits = self.traits()
        return _context(self.vocabulary(tables, columns=False), traits) or \
            _context(self.vocabulary(tables, columns=True), traits)

    def vocabulary(self, tables: Sequence[str], *, columns: bool) -> frozenset[str]:
        found: set[str] = set()
        texts = []
        for qualified in tables:
            schema, _, name = qualified.partition(".")
            texts.append(name)
            texts.append(self.comments.get((schema, name), ""))
        for use in self.a.columns if columns else ():
            c = use.column
            texts.append(c.column)
            texts.append(self.comments.get((c.schema, c.table, c.column), ""))
        if self.shape.copy is not None and columns:
            texts.extend(self.shape.copy[3])
        for text in texts:
            found.update(singular(w) for w in words(text))
        return frozenset(found)

    def complexity(self) -> Complexity:
        features: list[tuple[str, str, int]] = []  # (weight key, words, count)
        joins = self.shape.joins
        if joins:
            kinds = ", ".join(dict.fromkeys(joins))
            features.append(("join", f"{len(joins)} join{'s' if len(joins) > 1 else ''} "
                                     f"({kinds})", len(joins)))
        for sub in self.a.subqueries:
            if sub.kind == "from":
                continue  # a derived table reads like a CTE; counted by its parts
            key = "correlated subquery" if sub.correlated else "subquery"
            features.append((key, f"{key} ({sub.kind})", 1))
        for cte in self.a.ctes:
            key = "recursive CTE" if cte.recursive else "CTE"
            features.append((key, f"{key} {cte.name}", 1))
        for r in self.a.relations:
            if r.kind == "view" and r.via is None:
                features.append(("view", f"view {r.qualified}", 1))
        aggs = list(dict.fromkeys(g.func for g in self.shape.aggregates))
        if self._keys() or aggs:
            what = f" with {', '.join(aggs)}" if aggs else ""
            features.append(("aggregate", f"GROUP BY{what}" if self._keys() else
                             f"aggregate ({', '.join(aggs)})", 1))
        if any(p.clause == "having" for p in self.a.predicates):
            features.append(("HAVING", "HAVING", 1))
        if self.shape.windows:
            names = ", ".join(dict.fromkeys(w.func for w in self.shape.windows))
            features.append(("window function", f"window function ({names})", 1))
        for op in dict.fromkeys(self.shape.set_ops):
            features.append(("set operation", op, self.shape.set_ops.count(op)))
        if self.a.distinct:
            features.append(("DISTINCT", "DISTINCT", 1))
        if self.a.order_by:
            features.append(("ORDER BY", "ORDER BY", 1))
        if self.a.limit is not None and self.a.limit.offset is not None:
            features.append(("OFFSET paging", "OFFSET paging", 1))
        preds = [p for p in self.a.predicates if p.clause != "having"]
        if any(p.role == "like" and p.anchored is False for p in preds):
            features.append(("leading-wildcard LIKE", "LIKE with a leading wildcard", 1))
        funcs = list(dict.fromkeys(
            m.group(1).lower() for p in preds if p.expression and p.column is not None
            and " over " not in p.expression.lower()
            and (m := re.match(r"\s*(\w+)\s*\(", p.expression))
            and not _AGGREGATE_TEXT.match(p.expression)))
        if funcs:
            features.append(("function on a column",
                             f"function on a column ({', '.join(funcs)})", len(funcs)))
        if any(p.in_or for p in preds):
            features.append(("OR", "OR", 1))
        if self.shape.on_conflict is not None:
            features.append(("upsert", f"ON CONFLICT DO {self.shape.on_conflict.upper()}", 1))
        score = sum(COMPLEXITY_WEIGHTS[key] * n for key, _, n in features)
        level = "simple" if score <= SIMPLE_MAX else \
            "moderate" if score <= MODERATE_MAX else "complex"
        return Complexity(level, score, tuple(text for _, text, _ in features))

    def explanation(self, plan: Plan | None, statement: Statement | None) -> Explanation:
        tables = self.tables()
        notes = list(self.a.warnings)
        if not self.shape.parsed:
            notes.append("Explained from the part of the statement that parses")
        return Explanation(
            intent=self.intent(),
            kind=self.a.kind,
            tables=tables,
            complexity=self.complexity(),
            context=self.context(tables),
            holds=self.holds(tables),
            plan_note=plan_note(plan) if plan is not None else None,
            usage=usage(statement) if statement is not None else None,
            notes=tuple(notes),
        )


def _context(found: frozenset[str], traits: frozenset[str]) -> str | None:
    return next((r.context for r in CONTEXT_RULES if r.matches(found, traits)), None)


def _in_sublink(scope: str) -> bool:
    """Whether a scope ("cte x/sublink 2") is inside a subquery of an expression."""
    return any(part.startswith("sublink") for part in scope.split("/"))


def _comma(text: str) -> str:
    return f", {text}" if text else ""


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _plain(value: str) -> bool:
    """A value that reads as a word: paid, in_progress, high."""
    return bool(re.fullmatch(r"[^\W\d]+(?:[ _-][^\W\d]+)?", value))


def _items(value: str) -> list[str]:
    """The items of an IN list as written: ``('a', 'b')``."""
    inner = value.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    return [v.strip() for v in re.findall(r"'(?:[^']|'')*'|[^,]+", inner) if v.strip()]


def _single(value: str) -> bool:
    return len(_items(value)) == 1


def _between(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"\s+and\s+", value, maxsplit=1, flags=re.IGNORECASE)]


def _like_text(value: str) -> str:
    text = _unquote(value).strip("%")
    return f"'{text}'" if "%" not in text and "_" not in text else f"the pattern {value}"


def _interval_words(value: str) -> str | None:
    """"7 days" from ``now() - CAST('7 days' AS interval)``; "given number of days"."""
    literal = re.search(r"'\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*'", value, re.IGNORECASE)
    if literal:
        n, unit = literal.groups()
        unit = unit.lower()
        return f"{n} {singular(unit) if n == '1' else plural(unit)}"
    made = re.search(r"make_interval\((\w+)\s*=>\s*(\$\d+|\d+)\)", value)
    if made:
        unit, n = made.groups()
        return f"given number of {unit}" if n.startswith("$") else f"{n} {unit}"
    return None


# -- plans and counters --------------------------------------------------------------


def _relation_name(qualified: str | None) -> str:
    name = qualified or "?"
    return name.removeprefix("public.")


def _index_words(index: str, table: str) -> str:
    """"the timestamp index" for BehaviorLog_timestamp_idx; the name when it says nothing.

    >>> _index_words("public.BehaviorLog_timestamp_idx", "public.BehaviorLog")
    'the timestamp index'
    >>> _index_words("public.User_pkey", "public.User"), _index_words("ix_9", "t")
    ('the primary key', 'the index ix_9')
    """
    name = index.rpartition(".")[2]
    short = table.rpartition(".")[2]
    if name == f"{short}_pkey":
        return "the primary key"
    if name.startswith(f"{short}_"):
        middle = name[len(short) + 1:]
        for suffix, what in (("_idx", "index"), ("_key", "unique index"), ("_index", "index")):
            if middle.endswith(suffix) and len(middle) > len(suffix):
                return f"the {middle[:-len(suffix)]} {what}"
    return f"the index {name}"


def _rows(node: PlanNode) -> float:
    if node.actual_rows is not None:
        return node.actual_rows * (node.loops or 1)
    return node.plan_rows


def _scan_words(node: PlanNode, below: Sequence[PlanNode]) -> str | None:
    table = _relation_name(node.relation)
    rows = _rows(node)
    measured = node.actual_rows is not None
    about = "" if measured else "~"
    if node.node_type == "Seq Scan":
        removed = node.rows_removed_by_filter
        if measured and removed:
            total = rows + removed * (node.loops or 1)
            return f"reads all of {table} (sequential scan), keeping {_count(rows)} of " \
                   f"{_rows_words(total)}"
        return f"reads all of {table} (sequential scan, {_rows_words(rows, about)})"
    index = node.index_name or next((n.index_name for n in below if n.index_name), None)
    if index is None or node.relation is None:
        return None
    how = _index_words(index, node.relation)
    all_of = "all of " if node.index_cond is None else ""
    kind = " (bitmap)" if node.node_type == "Bitmap Heap Scan" else \
        " (index only)" if node.node_type == "Index Only Scan" else ""
    return f"reads {all_of}{table} through {how}{kind}, {_rows_words(rows, about)}"


def plan_note(plan: Plan) -> str:
    """How a plan reads its tables, its spills and its worst row estimate, in one sentence."""
    parts: list[str] = []
    for node in plan.nodes():
        if node.relation is None or "Scan" not in node.node_type:
            continue
        text = _scan_words(node, list(node.walk())[1:])
        if text and text not in parts:
            parts.append(text)
    spills = [n for n in plan.sorts() if n.spilled]
    if spills:
        parts.append(f"sorts on disk ({_count(spills[0].sort_space_kb or 0)} kB)")
    if any(n.spilled and n.node_type == "Hash" for n in plan.nodes()):
        parts.append("hashes in batches on disk")
    errors = plan.estimate_errors() if plan.analyzed else ()
    if errors:
        e = errors[0]
        where = _relation_name(e.node.relation) if e.node.relation else \
            f"the {e.node.node_type}"
        parts.append(f"the planner expected {_rows_words(e.estimated)} from {where} "
                     f"but got {_count(e.actual)}")
    if plan.execution_ms is not None:
        parts.append(f"runs in {duration(plan.execution_ms)}")
    elif not plan.analyzed:
        parts.append(f"estimated cost {plan.total_cost:,.0f}")
    if not parts:
        return f"Plan: {plan.root.node_type}."
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def usage(statement: Statement) -> str:
    """How often a statement runs and what it costs, from its workload counters.

    >>> usage(Statement("SELECT 1", calls=1204, total_ms=978_000, mean_ms=812.3, rows=3612,
    ...                 shared_blks_hit=97, shared_blks_read=3))
    'Called 1,204 times, 812 ms on average (16 min in total), 3 rows per call, 97% of reads \
from cache.'
    """
    if statement.calls <= 0:
        return "Not called in the workload's window."
    parts = [f"Called {statement.calls:,} time{'s' if statement.calls != 1 else ''}",
             f"{duration(statement.mean_ms)} on average ({duration(statement.total_ms)} in total)",
             f"{statement.rows / statement.calls:,.3g} rows per call"]
    if statement.hit_ratio is not None:
        parts.append(f"{statement.hit_ratio:.0%} of reads from cache")
    return ", ".join(parts) + "."


# -- statements that do not parse ----------------------------------------------------

_TABLE_BEFORE: Final = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE"})
_KINDS_BY_WORD: Final = {"select": "select", "with": "select", "insert": "insert",
                         "update": "update", "delete": "delete", "merge": "merge"}


def _scan_tables(query: str) -> list[str]:
    """Names after FROM, JOIN, INTO, UPDATE, found by PostgreSQL's scanner alone."""
    try:
        tokens = pglast.parser.scan(query)
    except pglast.parser.ParseError:
        return []
    names: list[str] = []
    for i, token in enumerate(tokens[:-1]):
        if token.name not in _TABLE_BEFORE:
            continue
        j, parts = i + 1, []
        while j < len(tokens) and tokens[j].name == "IDENT":
            parts.append(query[tokens[j].start:tokens[j].end + 1].strip('"'))
            if j + 1 < len(tokens) and tokens[j + 1].name == "ASCII_46":  # a dot
                j += 2
            else:
                break
        if parts:
            names.append(".".join(parts))
    return list(dict.fromkeys(names))


def _unparsed(query: str, error: str, comments: Mapping[CommentKey, str], plan: Plan | None,
              statement: Statement | None) -> Explanation:
    tables = _scan_tables(query)
    first = query.lstrip().split(None, 1)[0].lower() if query.strip() else ""
    kind = _KINDS_BY_WORD.get(first, "unknown")
    nouns = [plural(row_noun(t.rpartition(".")[2])) for t in tables]
    failed = "explain" if error.startswith("Could not explain") else "parse"
    intent = f"Could not {failed} the statement"
    if nouns:
        intent += f"; judging by its words it uses {join_words(nouns)}"
    intent += "."
    found = frozenset(singular(w) for t in tables for w in words(t))
    traits = frozenset({"write", kind} if kind in ("insert", "update", "delete") else set())
    # Without the catalog the schema of an unqualified name is unknown: as written.
    qualified = tuple(tables)
    holds = tuple((t, comments.get(tuple(t.split(".", 1))) or plural(humanise(t)))
                  for t in qualified)
    return Explanation(
        intent=intent,
        kind=kind,
        tables=qualified,
        complexity=Complexity("unknown", 0),
        context=_context(found, traits),
        holds=holds,
        plan_note=plan_note(plan) if plan is not None else None,
        usage=usage(statement) if statement is not None else None,
        notes=(error,),
        parsed=False,
    )
