"""Workload sources from SQL text: statements given on the command line, or a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pglast

from pgarchitect.analysis import fingerprint, parse_problem
from pgarchitect.errors import ConfigError
from pgarchitect.workload import Skipped, Statement, Workload

# Largest --file read. A file of statements is kilobytes; this is far past any real one
# and keeps `--file /dev/zero` (or a database dump given by mistake) from filling memory.
MAX_FILE_BYTES = 16 * 2**20


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
        text = read_sql_file(self.path)
        try:
            parts = split_statements(text)
        except pglast.parser.ParseError as exc:
            return Workload([], [Skipped(text[:200], f"Could not split the file: {exc}",
                                      "unparseable")])
        return read_texts(parts, self.name)


def read_sql_file(path: Path) -> str:
    """The text of a SQL file: UTF-8, no NUL byte, at most :data:`MAX_FILE_BYTES`.

    Each refusal is a :class:`ConfigError` that says what is wrong with the file.
    """
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}. Pass a file of SQL "
                          "statements separated by semicolons.") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB, the limit of "
                          "--file. Pass a file of SQL statements (split a larger one), or "
                          "read the statements from --log or pg_stat_statements.")
    nul = data.find(b"\0")
    if nul >= 0:
        # PostgreSQL cannot take a NUL in a statement's text: a binary file, or UTF-16.
        raise ConfigError(f"{path} is not a SQL text file: it has a NUL byte at offset {nul}. "
                          "Pass a file of SQL statements in UTF-8 (convert UTF-16 with "
                          "`iconv -f UTF-16 -t UTF-8`).")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start} is invalid. Convert the file to UTF-8 (e.g. `iconv -f "
                          "LATIN1 -t UTF-8`) or pass a file of SQL statements.") from None


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
