"""Workload sources from SQL text: statements given on the command line, or a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pglast

from pgarchitect.analysis import fingerprint, parse_problem
from pgarchitect.errors import ConfigError
from pgarchitect.workload import Skipped, Statement, Workload


def _statement(query: str, source: str) -> Statement | Skipped:
    query = query.strip().rstrip(";").strip()
    fp = fingerprint(query)
    if fp is None:
        return Skipped(query, parse_problem(query) or "Could not parse query",
                       "unparseable")
    # One call each: text alone says nothing of frequency, so every statement weighs the same.
    return Statement(query=query, fingerprint=fp, calls=1, source=source)


def read_texts(queries: Sequence[str], source: str) -> Workload:
    """A workload of SQL texts, one call each; unparseable ones skipped with the reason."""
    statements: list[Statement] = []
    skipped: list[Skipped] = []
    for q in queries:
        item = _statement(q, source)
        if isinstance(item, Statement):
            statements.append(item)
        else:
            skipped.append(item)
    return Workload(statements, skipped)


class StatementSource:
    """Statements given one by one (``-s SQL``)."""

    name = "statement"

    def __init__(self, queries: Sequence[str]) -> None:
        self.queries = list(queries)

    def read(self) -> Workload:
        return read_texts(self.queries, self.name)


class FileSource:
    """A file of SQL statements separated by semicolons."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    def read(self) -> Workload:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read {self.path}: {exc.strerror}.") from None
        try:
            parts = split_statements(text)
        except pglast.parser.ParseError as exc:
            return Workload([], [Skipped(text[:200], f"Could not split the file: {exc}",
                                      "unparseable")])
        return read_texts(parts, self.name)


def split_statements(text: str) -> list[str]:
    """Statements of a SQL text, split at the semicolons PostgreSQL's scanner sees.

    Semicolons inside strings, comments and dollar quotes stay where they are, and
    a statement that does not parse is kept (to be reported), not dropped.

    >>> split_statements("select ';' from t; selec bad; select 3")
    ["select ';' from t", 'selec bad', 'select 3']
    """
    parts, start = [], 0
    for token in pglast.parser.scan(text):
        if token.name == "ASCII_59":  # ';'
            parts.append(text[start:token.start])
            start = token.end + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]
