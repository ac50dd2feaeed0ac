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

The same statement, schema and comments always give the same words. Nothing here
raises: a statement that does not parse gets a plainer explanation from its words,
which says so.

The parts, in the order a statement goes through them:

* :mod:`.shape`: the parse tree, for what analysis does not keep;
* :mod:`.reading`: the statement's subject, and what its tables and columns are called;
* :mod:`.conditions`: the WHERE clause in words;
* :mod:`.intent`: the intent sentence;
* :mod:`.complexity`, :mod:`.context`: the complexity and the business context;
* :mod:`.plan`: the plan note and the usage line;
* :mod:`.words`: identifiers in words, and the grammar all of them share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from pgarchitect.analysis import Analysis
from pgarchitect.explain.complexity import COMPLEXITY_WEIGHTS, Complexity, complexity_of
from pgarchitect.explain.conditions import filters
from pgarchitect.explain.context import CONTEXT_RULES, context_of, first_match, vocabulary
from pgarchitect.explain.intent import intent_of
from pgarchitect.explain.plan import plan_note, usage
from pgarchitect.explain.reading import CommentKey, read
from pgarchitect.explain.shape import scan_tables
from pgarchitect.explain.words import humanise, join_words, plural, row_noun
from pgarchitect.plans import Plan
from pgarchitect.workload import Statement

__all__ = ["COMPLEXITY_WEIGHTS", "CONTEXT_RULES", "Complexity", "Explanation", "explain"]

# A statement that does not parse: its kind by its first word.
_KINDS_BY_WORD: Final = {"select": "select", "with": "select", "insert": "insert",
                         "update": "update", "delete": "delete", "merge": "merge"}


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
            explanation = _from_words(query, analysis.error, comments)
        else:
            explanation = _from_parse(query, analysis, comments)
    except Exception as exc:  # an audit goes on whatever one statement holds
        explanation = _from_words(query, f"Could not explain the statement: {exc!r}", comments)
    return replace(explanation,
                   plan_note=plan_note(plan) if plan is not None else None,
                   usage=usage(statement) if statement is not None else None)


def _from_parse(query: str, analysis: Analysis,
                comments: Mapping[CommentKey, str]) -> Explanation:
    r = read(query, analysis, comments)
    f = filters(r)
    tables = r.tables()
    notes = list(analysis.warnings)
    if not r.shape.parsed:
        notes.append("Explained from the part of the statement that parses")
    return Explanation(
        intent=intent_of(r, f),
        kind=analysis.kind,
        tables=tables,
        complexity=complexity_of(r),
        context=context_of(r, f, tables),
        holds=r.holds(tables),
        notes=tuple(notes),
    )


def _from_words(query: str, error: str, comments: Mapping[CommentKey, str]) -> Explanation:
    """What the words of a statement that does not parse say: its kind and its tables."""
    # Without the catalog the schema of an unqualified name is unknown: as written.
    tables = tuple(scan_tables(query))
    first = query.lstrip().split(None, 1)[0].lower() if query.strip() else ""
    kind = _KINDS_BY_WORD.get(first, "unknown")
    failed = "explain" if error.startswith("Could not explain") else "parse"
    intent = f"Could not {failed} the statement"
    if tables:
        nouns = [plural(row_noun(t.rpartition(".")[2])) for t in tables]
        intent += f"; judging by its words it uses {join_words(nouns)}"
    traits = frozenset({"write", kind} if kind in ("insert", "update", "delete") else set())
    return Explanation(
        intent=intent + ".",
        kind=kind,
        tables=tables,
        complexity=Complexity("unknown", 0),
        context=first_match(vocabulary(tables), traits),
        holds=tuple((t, comments.get(tuple(t.split(".", 1))) or plural(humanise(t)))
                    for t in tables),
        notes=(error,),
        parsed=False,
    )
