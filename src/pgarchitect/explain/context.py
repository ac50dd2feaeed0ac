"""The business context: one table of word rules, the first that matches wins.

A rule names a context and the words and traits a statement must show for it:
a word among those of its tables' and columns' names and comments, and every
trait (aggregate, recent, search, lookup, write, ...). Adding a rule adds a line
to :data:`CONTEXT_RULES` and a case to tests/fixtures/explain/.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from pgarchitect.explain.conditions import Filters
from pgarchitect.explain.reading import Reading
from pgarchitect.explain.words import singular, words


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


def _rule(context: str, vocab: str = "", needs: str = "") -> ContextRule:
    return ContextRule(context, frozenset(vocab.split()), frozenset(needs.split()))


_ACTIVITY: Final = "log event activity behavior behaviour click visit tracking pageview audit"
_SALES: Final = "order payment invoice revenue sale price amount refund cart checkout purchase"
_LEARNING: Final = "lesson enrollment enrolment quiz grade student progress attempt"
_SUPPORT: Final = "ticket support incident helpdesk assignee escalation"
_ACCOUNT: Final = "user account customer member profile email login password username"
_CATALOG: Final = "product course catalog item listing article sku"
_INVENTORY: Final = "stock inventory warehouse"
_SESSION: Final = "session token expiry expire expires"

# The first rule that matches gives the context: the specific before the general.
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


def first_match(found: frozenset[str], traits: frozenset[str]) -> str | None:
    """The context of the first rule that matches, None when none does.

    >>> first_match(vocabulary(["BehaviorLog"]), frozenset({"aggregate"}))
    'activity analytics'
    """
    return next((r.context for r in CONTEXT_RULES if r.matches(found, traits)), None)


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """The words of names and comments, singular, as rules match them."""
    return frozenset(singular(w) for text in texts for w in words(text))


def context_of(r: Reading, f: Filters, tables: Sequence[str]) -> str | None:
    """The first rule that the tables' words match, else the first that all words do.

    What a statement is about shows in its tables first: a lookup of products
    by SKU is about the catalog even though the rows have a price.
    """
    traits = traits_of(r, f)
    return first_match(vocabulary(_texts(r, tables, columns=False)), traits) or \
        first_match(vocabulary(_texts(r, tables, columns=True)), traits)


def traits_of(r: Reading, f: Filters) -> frozenset[str]:
    """What kind of work the statement does, in the words rules use."""
    t: set[str] = set()
    kind = r.analysis.kind
    if kind in ("insert", "update", "delete", "merge") or (
            r.shape.copy is not None and r.shape.copy.loading):
        t.add("write")
        t.add("insert" if kind in ("insert", "utility") else kind)
    if r.aggregating:
        t.add("aggregate")
    elif kind == "select":
        t.add("list")
    for p in r.conditions:
        if p.column is None:
            continue
        if p.role == "range" and r.is_time(p.column):
            t.add("recent" if p.operator in (">", ">=", "between") else "old")
        elif p.role == "like":
            t.add("search")
    if f.lookup:
        t.add("lookup")
    if r.paging:
        t.add("paging")
    if r.shuffled:
        t.add("sample")
    return frozenset(t)


def _texts(r: Reading, tables: Sequence[str], *, columns: bool) -> list[str]:
    """The names and comments of the tables and, with ``columns``, of the columns."""
    texts = []
    for qualified in tables:
        schema, _, name = qualified.partition(".")
        texts += [name, r.comments.get((schema, name), "")]
    if columns:
        for use in r.analysis.columns:
            c = use.column
            texts += [c.column, r.comments.get((c.schema, c.table, c.column), "")]
        if r.shape.copy is not None:
            texts.extend(r.shape.copy.columns)
    return texts
