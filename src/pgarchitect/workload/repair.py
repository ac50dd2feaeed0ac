"""Repair: pg_stat_statements text made to parse and plan again, with the same meaning.

pg_stat_statements replaces each constant with ``$n`` where the constant's token
was. For a typed literal (``INTERVAL '7 days'``, ``DATE '2024-01-01'``,
``jsonb '{}'``) only the string is a constant, so the type name stays in front of
the parameter and the text no longer parses on the server: ``INTERVAL $1``,
``DATE $1``, ``TIMESTAMP(3) WITH TIME ZONE $1``, ``INTERVAL $1 HOUR TO MINUTE``.
The field of ``EXTRACT(epoch FROM ts)`` is a string constant too, and becomes
``EXTRACT($1 FROM ts)``. Both PostgreSQL 15 and 18 write these forms (18 also
squashes constant lists into ``IN ($1 /*, ... */)``, which parses as it is).

pglast parses these forms (libpg_query accepts them on purpose, so that it can
fingerprint normalised text), so a parse with pglast cannot tell whether the
server will; :func:`repair` works on the scanner's tokens instead and rewrites
only token sequences the server's grammar has no place for:

- a type name right before a parameter becomes a cast, which the server reads
  as the same TypeCast node: ``INTERVAL $1`` → ``$1::INTERVAL``,
  ``TIMESTAMP WITH TIME ZONE $1`` → ``$1::TIMESTAMP WITH TIME ZONE``,
  ``INTERVAL $1 DAY`` → ``$1::INTERVAL DAY``, ``pg_catalog.int4 $1`` →
  ``$1::pg_catalog.int4``; the type's own text is kept, spelling and all, except
  for CHAR and BIT without a length (a cast would give them a length of one).
  ``INTERVAL $1 DAY`` takes a whole interval ('1 day') where the literal was
  '1': pg_stat_statements kept no value, and the plan does not depend on it;
- ``EXTRACT($1 FROM x)`` becomes ``pg_catalog.extract($1, x)``, the function the
  server turns EXTRACT into (PostgreSQL 14 and later);
- a literal written without a space (``interval'7 days'``, ``AT TIME ZONE'UTC'``)
  leaves ``interval$1``, one name to the scanner, which is split for the type
  names below (so a column named ``date$1`` would be taken for one).

Strings, quoted names and comments are single tokens, so nothing inside them is
ever changed. Text that still does not parse after the rewrite is returned as it
was, unless it did not parse before either (a statement cut short).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pglast.parser

__all__ = ["repair"]

# Type names that are keywords of the grammar and may stand alone before a
# literal (SimpleTypename's ConstTypename: Numeric, Bit, Character, ConstDatetime,
# ConstInterval, JsonType), and TEXT, an unreserved keyword the server also reads
# as a generic type name. The scanner's token names.
_TYPE_KEYWORDS: Final = frozenset({
    "INTERVAL", "TIMESTAMP", "TIME", "INT_P", "INTEGER", "SMALLINT", "BIGINT", "REAL",
    "FLOAT_P", "DECIMAL_P", "DEC", "NUMERIC", "BOOLEAN_P", "BIT", "VARCHAR", "CHAR_P",
    "CHARACTER", "NCHAR", "JSON", "TEXT_P",
})
# The type keywords that take a modifier in parentheses: VARCHAR(10), TIMESTAMP(3).
_TYPMOD_KEYWORDS: Final = frozenset({
    "INTERVAL", "TIMESTAMP", "TIME", "FLOAT_P", "DECIMAL_P", "DEC", "NUMERIC", "BIT",
    "VARCHAR", "CHAR_P", "CHARACTER", "NCHAR", "VARYING",
})
_CHARACTER: Final = frozenset({"CHARACTER", "CHAR_P"})
# In a literal, CHAR 'abc' and BIT '101' have no length; in a cast, CHAR and BIT
# without one mean a length of 1 (the grammar's default): 'abc'::char is 'a'. The
# types by their catalog names have no default length.
_UNSIZED: Final = {"CHARACTER": "pg_catalog.bpchar", "CHAR_P": "pg_catalog.bpchar",
                   "NCHAR": "pg_catalog.bpchar", "BIT": "pg_catalog.bit"}
# INTERVAL '1' DAY, INTERVAL '1:30' HOUR TO MINUTE, INTERVAL '1.5' SECOND(3).
_INTERVAL_FIELDS: Final = frozenset({
    "YEAR_P", "MONTH_P", "DAY_P", "HOUR_P", "MINUTE_P", "SECOND_P",
})
_COMMENTS: Final = frozenset({"C_COMMENT", "SQL_COMMENT"})
# Longer text is returned as it is: the scanner costs about 2 µs a byte and each
# check parses the whole text again. The same as analysis's MAX_STATEMENT_BYTES
# (pgarchitect.analysis.limits; not imported: analysis imports this module), which
# does not read longer statements anyway; tests/test_analysis_fuzz.py checks they agree.
MAX_REPAIR_BYTES: Final = 256 * 1024

# interval'7 days' (no space) becomes interval$1, which the scanner reads as one
# identifier ($ may continue a name). Split only for a name that is a type keyword
# or one of these built-in types, so that a column really named a$1 stays one.
_GLUED: Final = re.compile(r"(?P<word>[A-Za-z_][A-Za-z_0-9]*)(?P<param>\$[0-9]+)")
_GLUED_TYPES: Final = frozenset({
    "date", "timestamptz", "timetz", "uuid", "json", "jsonb", "int2", "int4", "int8",
    "float4", "float8", "bool", "text", "varchar", "bpchar", "bytea", "inet", "cidr",
    "money", "xml", "interval", "timestamp", "time", "numeric", "zone",
})


@dataclass(frozen=True)
class _Token:
    name: str  # the scanner's token name: IDENT, PARAM, INTERVAL, ASCII_40 ...
    start: int  # offsets into the text, end exclusive
    end: int
    glued: bool = False  # a parameter split from the name before it: interval$1


def repair(query: str) -> str:
    """The statement with pg_stat_statements' unparseable forms rewritten; never raises.

    Text that parses on the server comes back unchanged, and so does text this
    function cannot improve (a cut statement, an unterminated string).

    >>> repair("SELECT * FROM ev WHERE ts > NOW() - INTERVAL $1")
    'SELECT * FROM ev WHERE ts > NOW() - $1::INTERVAL'
    >>> repair("SELECT * FROM ev WHERE d = DATE $1 AND t > TIME WITH TIME ZONE $2")
    'SELECT * FROM ev WHERE d = $1::DATE AND t > $2::TIME WITH TIME ZONE'
    >>> repair("SELECT * FROM ev WHERE ts > TIMESTAMP(3) $1 - interval $2 hour to minute")
    'SELECT * FROM ev WHERE ts > $1::TIMESTAMP(3) - $2::interval hour to minute'
    >>> repair("SELECT EXTRACT($1 FROM ts) FROM ev")
    'SELECT pg_catalog.extract($1, ts) FROM ev'
    >>> repair("SELECT * FROM ev WHERE id IN ($1 /*, ... */) LIMIT $2")
    'SELECT * FROM ev WHERE id IN ($1 /*, ... */) LIMIT $2'
    >>> repair("SELECT ts AT TIME ZONE $1, 'INTERVAL $2' FROM ev -- DATE $3")
    "SELECT ts AT TIME ZONE $1, 'INTERVAL $2' FROM ev -- DATE $3"
    """
    if "$" not in query:
        return query  # nothing was normalised
    if len(query) > MAX_REPAIR_BYTES or \
            len(query.encode("utf-8", "surrogatepass")) > MAX_REPAIR_BYTES:
        return query
    tokens = _tokens(query)
    if tokens is None:
        return query
    edits = [*_typed_literals(query, tokens), *_extracts(tokens)]
    edits += _spaces(tokens, edits)
    if not edits:
        return query
    repaired, bound = query, len(query)
    for start, end, text in sorted(edits, reverse=True):
        if end > bound:
            continue  # overlaps an edit already made (none of the rules makes one)
        repaired, bound = repaired[:start] + text + repaired[end:], start
    if not _parses(repaired) and _parses(query):
        return query  # a case these rules do not know: better the text as it was
    return repaired


def _parses(query: str) -> bool:
    try:
        pglast.parser.parse_sql(query)
    except (pglast.parser.ParseError, ValueError):
        return False
    return True


def _tokens(query: str) -> list[_Token] | None:
    """The scanner's tokens without comments, glued ``interval$1`` split in two."""
    try:
        scanned = pglast.parser.scan(query)
    except (pglast.parser.ParseError, ValueError):
        return None  # an unterminated string or comment: a cut statement
    tokens: list[_Token] = []
    for t in scanned:
        if t.name in _COMMENTS:
            continue
        start, end = t.start, t.end + 1  # the scanner's end is inclusive
        glued = _GLUED.fullmatch(query, start, end) if t.name == "IDENT" else None
        word = _word_token(glued.group("word")) if glued else None
        if glued and word:
            tokens.append(_Token(word, start, glued.start("param")))
            tokens.append(_Token("PARAM", glued.start("param"), end, glued=True))
        else:
            tokens.append(_Token(t.name, start, end))
    return tokens


def _word_token(word: str) -> str | None:
    """The token name of a word glued to a parameter, when the word names a type."""
    if word.lower() not in _GLUED_TYPES:
        return None
    scanned = pglast.parser.scan(word)
    return scanned[0].name if len(scanned) == 1 else None


Edit = tuple[int, int, str]  # replace text[start:end] with the string


def _typed_literals(query: str, tokens: Sequence[_Token]) -> list[Edit]:
    """``TYPE $n`` → ``$n::TYPE`` for every typed literal whose string was normalised."""
    edits: list[Edit] = []
    for i, token in enumerate(tokens):
        if token.name != "PARAM" or i == 0:
            continue
        first = _type_start(tokens, i - 1)
        if first is None:
            continue
        type_text = query[tokens[first].start:tokens[i - 1].end]
        if tokens[i - 1].name in _UNSIZED:
            type_text = _UNSIZED[tokens[i - 1].name]  # NATIONAL CHARACTER $1 too
        # What lay between the type and the parameter: kept when it holds a comment
        # (with the line break that ends a -- comment), else dropped.
        gap = query[tokens[i - 1].end:token.start]
        gap = gap.rstrip(" \t") if gap.strip() else ""
        end, tail = token.end, ""
        if tokens[i - 1].name == "INTERVAL" and (last := _interval_fields(tokens, i + 1)):
            # INTERVAL $1 DAY TO SECOND(3): the fields belong to the type.
            end = tokens[last].end
            tail = (gap or " ") + query[tokens[i + 1].start:end]
            gap = ""
        param = query[token.start:token.end]
        edits.append((tokens[first].start, end, f"{param}::{type_text}{tail}{gap}"))
    return edits


def _type_start(tokens: Sequence[_Token], last: int) -> int | None:
    """The first token of a type name that ends with ``tokens[last]``, or None."""
    j = last
    zone = False
    if tokens[j].name == "ZONE":
        # TIMESTAMP WITH TIME ZONE $1 is a literal; AT TIME ZONE $1 is not.
        if j < 3 or tokens[j - 1].name != "TIME" or tokens[j - 2].name not in (
                "WITH", "WITHOUT"):
            return None
        j -= 3
        zone = True
    typmod = tokens[j].name == "ASCII_41"
    if typmod:
        opening = _opening(tokens, j)
        if not opening:  # unbalanced, or nothing before the parenthesis
            return None
        j = opening - 1
    name = tokens[j].name
    if zone:
        return j if name in ("TIMESTAMP", "TIME") else None
    if typmod and name not in _TYPMOD_KEYWORDS and name != "IDENT":
        return None
    if name == "PRECISION":
        return j - 1 if j > 0 and tokens[j - 1].name == "DOUBLE_P" else None
    if name == "VARYING":
        if j == 0 or tokens[j - 1].name not in (*_CHARACTER, "BIT", "NCHAR"):
            return None
        j -= 1
        name = tokens[j].name
    if name in _CHARACTER:
        return j - 1 if j > 0 and tokens[j - 1].name == "NATIONAL" else j
    if name in _TYPE_KEYWORDS:
        return j
    if name == "IDENT":
        # A generic type name, schema-qualified or not: jsonb, pg_catalog.int4.
        while j >= 2 and tokens[j - 1].name == "ASCII_46" and tokens[j - 2].name == "IDENT":
            j -= 2
        return j
    return None


def _spaces(tokens: Sequence[_Token], edits: Sequence[Edit]) -> list[Edit]:
    """A space between a name and the parameter glued to it that no cast took in.

    AT TIME ZONE'UTC' becomes ZONE$1, one name to the scanner.
    """
    return [(t.start, t.start, " ") for t in tokens
            if t.glued and not any(start <= t.start < end for start, end, _ in edits)]


def _opening(tokens: Sequence[_Token], close: int) -> int | None:
    """The ``(`` that the ``)`` at ``close`` closes."""
    depth = 0
    for j in range(close, -1, -1):
        if tokens[j].name == "ASCII_41":
            depth += 1
        elif tokens[j].name == "ASCII_40":
            depth -= 1
            if depth == 0:
                return j
    return None


def _interval_fields(tokens: Sequence[_Token], i: int) -> int | None:
    """The last token of an interval qualifier starting at ``tokens[i]``, or None.

    YEAR, MONTH, DAY, HOUR, MINUTE, SECOND, optionally ``TO`` one of them, and
    SECOND optionally with a precision: ``SECOND(3)``.
    """
    if i >= len(tokens) or tokens[i].name not in _INTERVAL_FIELDS:
        return None
    last = i
    if last + 2 < len(tokens) and tokens[last + 1].name == "TO" \
            and tokens[last + 2].name in _INTERVAL_FIELDS:
        last += 2
    if tokens[last].name == "SECOND_P" and last + 3 < len(tokens) \
            and tokens[last + 1].name == "ASCII_40" and tokens[last + 2].name == "ICONST" \
            and tokens[last + 3].name == "ASCII_41":
        last += 3
    return last


def _extracts(tokens: Sequence[_Token]) -> list[Edit]:
    """``EXTRACT($n FROM x)`` → ``pg_catalog.extract($n, x)``.

    The server's grammar takes only a word or a string as the field; EXTRACT is
    its syntax for this function (since PostgreSQL 14, before which it was
    date_part, returning double precision instead of numeric).
    """
    edits: list[Edit] = []
    for i in range(len(tokens) - 3):
        if tokens[i].name == "EXTRACT" and tokens[i + 1].name == "ASCII_40" \
                and tokens[i + 2].name == "PARAM" and tokens[i + 3].name == "FROM":
            edits.append((tokens[i].start, tokens[i].end, "pg_catalog.extract"))
            edits.append((tokens[i + 2].end, tokens[i + 3].end, ","))
    return edits
