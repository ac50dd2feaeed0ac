"""The WHERE clause in words, sorted by where each condition reads best in a sentence.

``id = $1`` makes a lookup ("by id"), ``user_id = $1`` an owner ("a given user's"),
``status = 'paid'`` an adjective ("paid orders"), a time range a phrase after the
noun ("in the last 7 days"), ``NOT EXISTS (SELECT ... FROM orders ...)`` "with no
orders". :func:`filters` returns them as a :class:`Filters` for the intent to place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from pgarchitect.analysis import ColumnRef, Predicate
from pgarchitect.explain.reading import Reading, TableKey, in_sublink
from pgarchitect.explain.shape import Sublink
from pgarchitect.explain.words import (
    article,
    humanise_column,
    join_words,
    participle,
    plural,
    singular,
    words,
)

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
_TIME_FUNCS: Final = ("now()", "current_timestamp", "current_date", "localtimestamp",
                      "clock_timestamp()", "statement_timestamp()", "transaction_timestamp()")
# LIKE by whether the pattern is anchored at the start: (verb, verb after NOT).
_LIKE_VERBS: Final = {True: ("starts with", "does not start with"),
                      False: ("contains", "does not contain"),
                      None: ("matches", "does not match")}
_RANGE_WORDS: Final = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}


@dataclass
class Filters:
    """The conditions of a statement, sorted by how they read in a sentence."""

    lookup: list[str] = field(default_factory=list)  # by id, by email in any letter case
    lookup_many: bool = False
    owners: list[str] = field(default_factory=list)  # a given user('s)
    given: list[str] = field(default_factory=list)  # of a given event type
    adjectives: list[str] = field(default_factory=list)  # published, paid
    after: list[str] = field(default_factory=list)  # in the last 7 days, whose title ...
    absent: set[TableKey] = field(default_factory=set)  # tables anti-joined: "with no orders"

    @property
    def empty(self) -> bool:
        return not (self.lookup or self.owners or self.given or self.adjectives or self.after)

    def before(self, noun: str) -> str:
        """The noun with its adjectives: "paid orders"."""
        return " ".join(x for x in (", ".join(self.adjectives), noun) if x)

    def after_noun(self) -> list[str]:
        """Every condition as a phrase after a noun, for the branches of an OR."""
        out = [f"with a given {x}" for x in (*self.lookup, *self.owners, *self.given)]
        out += [f"that are {x}" for x in self.adjectives]
        return out + self.after


def filters(r: Reading) -> Filters:
    """The conditions every row of the statement must meet, in words."""
    f = Filters()
    ors: list[str] = []
    for p in r.conditions:
        if p.column is None:
            continue
        if p.in_or:
            alone = Filters()
            _condition(r, p, alone)
            ors.extend(alone.after_noun())
            f.absent |= alone.absent
        else:
            _condition(r, p, f)
    if ors:
        f.after.append(join_words(list(dict.fromkeys(ors)), "or"))
    for sub in r.shape.sublinks:
        phrase = _sublink(r, sub)
        if phrase:
            f.after.append(phrase)
    f.lookup, f.owners, f.given, f.adjectives, f.after = (
        list(dict.fromkeys(x)) for x in (f.lookup, f.owners, f.given, f.adjectives, f.after))
    return f


def _condition(r: Reading, p: Predicate, f: Filters) -> None:
    """One condition on a column, put where it reads best."""
    ref = p.column
    assert ref is not None
    if p.value_kind == "subquery":
        return  # worded with its subquery: "that have paid orders"
    col = r.qualified_noun(ref)
    value = p.value or ""
    param = p.value_kind == "param" or (p.value_kind == "expression" and "$" in value)
    entity = r.entity(ref)
    identifying = r.on_subject(ref) and humanise_column(ref.column) in _IDENTIFYING
    if p.role == "eq" or (p.role == "in" and _single(value) and p.operator == "in"):
        if param:
            expr = (p.expression or "").lower()
            case = " in any letter case" if expr.startswith(("lower(", "upper(")) else ""
            if identifying:
                f.lookup.append(col + case)
            elif entity is not None:
                f.owners.append(entity)
            else:
                f.given.append(col + case)
        elif p.value_kind == "const":
            _constant(r, ref, col, _unquote(value), f, negated=False)
        else:
            f.after.append(f"filtered on {col}")
    elif p.role == "in":
        if param and identifying:
            f.lookup.append(plural(col))
            f.lookup_many = True
        elif param:
            f.after.append(f"of given {plural(entity)}" if entity is not None
                           else f"with any of given {plural(col)}")
        else:
            items = [_unquote(v) for v in _items(value)]
            negated = p.operator.startswith("not")
            if _state_column(ref) and all(_plain(v) for v in items):
                _adjective(r, ref, join_words(items, "or"), f, negated=negated)
            else:
                verb = "is not" if negated else "is"
                f.after.append(f"whose {col} {verb} {join_words(items, 'or')}")
    elif p.role == "range":
        # A range of ids is of the numbers, not of the things: "customer id".
        raw = col if entity is None else " ".join(words(ref.column))
        f.after.append(_range(r, p, ref, raw, param))
    elif p.role == "like":
        f.after.append(_like(p, col, param))
    elif p.role == "null":
        _null(r, p, ref, entity or col, f)
    elif p.operator in ("<>", "!=") and p.value_kind == "const":
        _constant(r, ref, col, _unquote(value), f, negated=True)
    elif p.operator == "@>":
        f.after.append(f"whose {col} contains {'a given value' if param else value}")
    else:
        f.after.append(f"filtered on {col}")


def _adjective(r: Reading, ref: ColumnRef, adjective: str, f: Filters, *,
               negated: bool = False) -> None:
    """An adjective of the subject ("paid orders"), or of the table it belongs to
    ("requests of gold customers")."""
    if negated:
        adjective = f"not {adjective}"
    if r.on_subject(ref):
        f.adjectives.append(adjective)
    else:
        # Next to the noun: "requests of gold customers closed since ...".
        f.after.insert(0, f"of {adjective} {r.noun(ref, many=True)}")


def _state_column(ref: ColumnRef) -> bool:
    ws = words(ref.column)
    return bool(ws) and ws[-1] in _STATE_WORDS | _GRADE_WORDS


def _constant(r: Reading, ref: ColumnRef, col: str, value: str, f: Filters, *,
              negated: bool) -> None:
    """A column equal (or, ``negated``, not equal) to a constant."""
    ws = words(ref.column)
    if value in ("true", "false"):
        yes = (value == "true") != negated
        if ws[:1] == ["is"] or participle(ws[-1]):
            _adjective(r, ref, r.column_noun(ref), f, negated=not yes)
        else:
            f.after.append(f"{'with' if yes else 'without'} {col}")
    elif _state_column(ref) and _plain(value):
        adjective = f"{value}-{ws[-1]}" if ws[-1] in _GRADE_WORDS else value
        _adjective(r, ref, adjective, f, negated=negated)
    else:
        f.after.append(f"whose {col} is {'not ' if negated else ''}{value}")


def _range(r: Reading, p: Predicate, ref: ColumnRef, col: str, param: bool) -> str:
    value = p.value or ""
    op = p.operator
    if not r.is_time(ref):
        if op == "between":
            bounds = ("two given values",) if param else tuple(_between(value))
            return f"with {col} between {' and '.join(bounds)}"
        what = "a given value" if param else value
        return f"with {col} {_RANGE_WORDS.get(op, op)} {what}"
    happened = r.participle_of(ref)
    lead = happened or ("" if col in ("time", "date", "time stamp") else f"with {col}")
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


def _like(p: Predicate, col: str, param: bool) -> str:
    value = p.value or ""
    anchored = p.anchored
    if anchored is None and re.fullmatch(r"\$\d+\s*\|\|\s*'%'", value.strip()):
        anchored = True  # $1 || '%': whatever is given, then anything
    verb = _LIKE_VERBS[anchored][p.operator.startswith("not")]
    what = "a given text" if param else _like_text(value)
    any_case = " (any letter case)" if "ilike" in p.operator else ""
    return f"whose {col} {verb} {what}{any_case}"


def _null(r: Reading, p: Predicate, ref: ColumnRef, thing: str, f: Filters) -> None:
    absent = p.operator == "is null"
    happened = r.participle_of(ref)
    if absent and not r.on_subject(ref) and any(ref in link for link in r.links):
        # LEFT JOIN t ... WHERE t.key IS NULL: the rows that have no t.
        f.absent.add((ref.schema, ref.table))
        f.after.append(f"with no {r.noun(ref, many=True)}")
    elif happened is not None:
        f.adjectives.append(f"not {happened}" if absent else happened)
    else:
        f.after.append(f"{'without' if absent else 'with'} {article(thing)}")


def _sublink(r: Reading, sub: Sublink) -> str | None:
    """An EXISTS or IN test in words: "that have paid orders", "with no orders"."""
    if not sub.tables:
        return None
    table = sub.tables[0]
    noun = _sub_phrase(r.about((r.schema_of(table), table)))
    negated = sub.kind.startswith("not ")
    kind = sub.kind.removeprefix("not ")
    if kind == "in" and sub.column is not None and r.entity(sub.column) is None:
        verb = "does not appear" if negated else "appears"
        return f"whose {r.column_noun(sub.column)} {verb} in {noun}"
    if kind == "exists" or (kind == "in" and sub.column is not None):
        return f"{'with no' if negated else 'that have'} {noun}"
    return None


def _sub_phrase(sub: Reading) -> str:
    """The rows an EXISTS or IN subquery looks for, with its own conditions, from a
    reading whose subject is the subquery's table."""
    assert sub.subject is not None
    f = Filters()
    for p in sub.analysis.predicates:
        if (in_sublink(p.scope) and p.role != "join" and p.column is not None
                and (p.column.schema, p.column.table) == sub.subject):
            _condition(sub, p, f)
    given = [*f.owners, *f.given]
    parts = [f.before(sub.noun(many=True)),
             *([f"of a given {join_words(given)}"] if given else []), *f.after]
    return " ".join(parts)


# -- values as written -------------------------------------------------------------


def _unquote(value: str) -> str:
    """A string constant's text; anything else as written.

    >>> _unquote("'it''s'"), _unquote(" 42 ")
    ("it's", '42')
    """
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
