"""Statements and their durations, read from a PostgreSQL server log.

The log must record durations. Any of these settings (postgresql.conf, or
``ALTER SYSTEM``/``ALTER DATABASE … SET``) produces a log pgarchitect can read::

    log_min_duration_statement = 100        # ms; 0 logs every statement with its duration
    # or: log_statement = 'all' and log_duration = on (paired by process id: put %p
    #     in log_line_prefix)
    # or: auto_explain (shared_preload_libraries = '…,auto_explain',
    #     auto_explain.log_min_duration = 100), any auto_explain.log_format

    log_destination = 'stderr'              # or 'csvlog' or 'jsonlog' (PostgreSQL 15+)
    logging_collector = on
    log_line_prefix = '%m [%p] %q%u@%d '    # any prefix; %p pairs lines, %d filters
    lc_messages = 'C'                       # English messages: translated ones are not read

Then::

    source = LogSource("/var/log/postgresql/postgresql-16-main.log", database="shop")
    workload = source.read()
    statements = group(workload.statements)

Each logged execution becomes one :class:`Statement` (``calls=1``); the bind values
of the extended protocol (``DETAIL:  Parameters: $1 = '42'``) are kept in
``params``. The file is streamed, up to :data:`MAX_LOG_BYTES` (decompressed) or
:data:`MAX_LOG_LINES`: past either the rest is not read, and a note says so. A line
longer than :data:`MAX_LINE_BYTES` is skipped with its reason.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import html
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pgarchitect.analysis import fingerprint, parse_problem
from pgarchitect.errors import ConfigError
from pgarchitect.workload import Skipped, Statement, Workload

FORMATS: tuple[str, ...] = ("stderr", "csvlog", "jsonlog", "auto")

EXCERPT = 200  # characters of a bad line or query kept in a Skipped record
# Plans auto_explain logged that no statement line has claimed yet, per process. A
# backend that logs only plans (log_min_duration_statement off) would otherwise
# pile them up until the end of the file; past this many the oldest is counted.
MAX_PENDING_PLANS = 1000
# Bounds on what one log may cost, so that a gzip bomb (a few MB that inflate to
# gigabytes of one line, or of newlines) ends in seconds with a note, not in an
# out-of-memory kill or an hour of work. A day of log_min_duration_statement output
# is far below both; a larger log can be split (`split -C 500M`) and read in parts.
MAX_LOG_BYTES = 512 * 2**20  # decompressed bytes read from one log
MAX_LOG_LINES = 5_000_000  # lines read from one log (a line of newlines costs a line each)
# Longest line kept: a logged statement with a long IN list is hundreds of kilobytes;
# a longer line is skipped (with its reason) without being held in memory.
MAX_LINE_BYTES = 8 * 2**20
_CHUNK = 2**20  # bytes read at a time

_PRIMARY = ("DEBUG", "LOG", "INFO", "NOTICE", "WARNING", "ERROR", "FATAL", "PANIC")
_SECONDARY = ("DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT")
_FAILED = ("ERROR", "FATAL", "PANIC")
# Where log_line_prefix ends: the severity and two spaces (elog.c
# send_message_to_server_log). The first one on the line wins, so a message that
# itself contains "LOG:  " is not mistaken for the marker.
_MARKER = re.compile(rf"\b({'|'.join(_PRIMARY + _SECONDARY)}):  ")
# Process id and database in the common prefixes: '[%p]', 'pid=%p'; 'db=%d',
# 'database=%d', and Debian's '%u@%d' at the end of the prefix.
_PREFIX_PID = re.compile(r"\[(\d+)\]|\bpid=(\d+)")
_PREFIX_DB = re.compile(r"\b(?:db|database|dbname)=([^,\s\]]*)|(?:^|\s)[^\s@]*@(\S+)\s*$")
# A csvlog record starts with log_time at the start of a line.
_CSV_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [^,\s]+)?,")

# The messages of postgres.c: "duration: %s ms  statement: %s", "… execute %s: %s"
# (with "fetch from" for a portal's later batches), "… parse %s: %s", "… bind %s: %s";
# a bare "duration: %s ms" from log_duration; auto_explain's "duration: %.3f ms  plan:".
_DURATION = re.compile(r"duration: (\d+(?:\.\d+)?) ms(?:  (.*))?\Z", re.DOTALL)
_WHAT = re.compile(
    r"(?:(statement)|(execute fetch from|execute|parse|bind) \S*?): (.*)\Z", re.DOTALL
)
# What log_statement writes before a statement runs: "statement: %s" / "execute %s: %s".
_TIMED = ("duration:", "statement:", "execute ")
_LOGGED = re.compile(r"(?:(statement)|(execute fetch from|execute) \S*?): (.*)\Z", re.DOTALL)
_PARAMS_DETAIL = re.compile(r"parameters: (.*)\Z", re.DOTALL | re.IGNORECASE)
_PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')(?:, |\Z)", re.DOTALL)
# The DETAIL of an SQL-level EXECUTE: "prepare: PREPARE name [(types)] AS query".
_PREPARE_DETAIL = re.compile(
    r"prepare: PREPARE\s+\S+?\s*(?:\((?:[^()]|\([^()]*\))*\)\s*)?AS\s+(.*)\Z",
    re.DOTALL | re.IGNORECASE,
)
# Lines that end the query text of a text-format auto_explain plan: the fields
# printed around the plan tree, and the plan's top node (costs are always on there).
_PLAN_TEXT_END = re.compile(
    r"(?:Query Parameters|Query Identifier|Settings|Planning Time|Execution Time|JIT):"
    r"|\S.*  \(cost=\d"
)
_XML_QUERY = re.compile(r"<Query-Text>(.*?)</Query-Text>", re.DOTALL)


@dataclass(frozen=True)
class _Entry:
    """One log record, whatever the format wrote it as."""

    line: int  # where it starts in the file, 1-based
    severity: str
    message: str
    detail: str | None = None
    pid: int | None = None
    database: str | None = None


def _log_skip(text: str, reason: str) -> Skipped:
    """An entry of the log that could not be read as a statement."""
    return Skipped(text, reason, "log")


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


# -- the three formats -----------------------------------------------------------


def _prefix_fields(prefix: str) -> tuple[int | None, str | None]:
    pid_match = _PREFIX_PID.search(prefix)
    pid = int(pid_match.group(1) or pid_match.group(2)) if pid_match else None
    db_match = _PREFIX_DB.search(prefix)
    database = (db_match.group(1) or db_match.group(2)) if db_match else None
    return pid, database or None


def _stderr_entries(lines: Iterable[str], skipped: list[Skipped]) -> Iterator[_Entry]:
    """Records of the stderr format: a prefix, ``SEVERITY:  message``, tab-led continuations.

    The DETAIL, HINT, … lines of a record follow it directly (the logging collector
    writes one message in one piece) and are folded into it.
    """
    head: _Entry | None = None  # the record being read
    message: list[str] = []
    detail: list[str] | None = None
    part: list[str] | None = None  # where continuation lines go; None: dropped

    def finish() -> Iterator[_Entry]:
        if head is not None:
            yield _Entry(head.line, head.severity, "\n".join(message),
                         None if detail is None else "\n".join(detail), head.pid, head.database)

    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\n")
        if line.startswith("\t"):
            # PostgreSQL puts a tab after every newline of a message (elog.c
            # append_with_tabs).
            if part is not None:
                part.append(line[1:])
            continue
        marker = _MARKER.search(line)
        if marker is None:
            if line.strip():
                skipped.append(_log_skip(_excerpt(line), f"Log line {number} is cut off: no "
                                       "'LOG:', 'ERROR:', … after the line prefix"))
                yield from finish()
                head, part = None, None
            continue
        severity, text = marker.group(1), line[marker.end():]
        pid, database = _prefix_fields(line[: marker.start()])
        if severity in _SECONDARY:
            if head is not None and head.pid == pid:
                if severity == "DETAIL":
                    detail = part = [text]
                else:  # HINT, CONTEXT, STATEMENT, …: nothing is read from them
                    part = None
            elif severity == "DETAIL":  # with no record before it: the collector says so
                yield _Entry(number, severity, "", text, pid, database)
            continue
        yield from finish()
        head = _Entry(number, severity, "", None, pid, database)
        message, detail = [text], None
        part = message
    yield from finish()


# csvlog columns (PostgreSQL docs, "Using CSV-Format Log Output"), 0-based.
_CSV_DB, _CSV_PID, _CSV_SEVERITY, _CSV_MESSAGE, _CSV_DETAIL = 2, 3, 11, 13, 14


def _csv_entries(lines: Iterable[str], skipped: list[Skipped]) -> Iterator[_Entry]:
    """Rows of the csvlog format; a quoted field may span lines.

    The lines of one row are gathered until their quotes balance, so a row with an
    unterminated quote swallows lines only up to the next line that starts a row.
    """
    buf: list[str] = []
    quotes = 0
    start = 0

    def garbled(reason: str) -> None:
        skipped.append(_log_skip(_excerpt("".join(buf)), f"CSV log row at line {start} {reason}"))

    for number, line in enumerate(lines, 1):
        if buf and _CSV_START.match(line):
            garbled("is cut off: a quote is not closed")
            buf, quotes = [], 0
        if not buf:
            if not line.strip():
                continue
            start = number
        buf.append(line)
        quotes += line.count('"')
        if quotes % 2:
            continue
        record = "".join(buf)
        try:
            row = next(csv.reader([record]))
        except (csv.Error, StopIteration) as exc:
            garbled(f"does not parse: {exc}")
            row = []
        else:
            if len(row) <= _CSV_DETAIL or not row[_CSV_PID].isdigit() \
                    or row[_CSV_SEVERITY] not in _PRIMARY:
                garbled(f"is garbled: {len(row)} columns, not the csvlog layout")
                row = []
        buf, quotes = [], 0
        if row:
            yield _Entry(start, row[_CSV_SEVERITY], row[_CSV_MESSAGE], row[_CSV_DETAIL] or None,
                         int(row[_CSV_PID]), row[_CSV_DB] or None)
    if buf:
        garbled("is cut off at the end of the file")


def _json_entries(lines: Iterable[str], skipped: list[Skipped]) -> Iterator[_Entry]:
    """Lines of the jsonlog format: one JSON object per record (keys absent when empty)."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(_log_skip(_excerpt(line),
                                   f"JSON log line {number} does not parse: {exc.msg}"))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("message"), str):
            skipped.append(_log_skip(_excerpt(line),
                                   f"JSON log line {number} has no 'message': not jsonlog"))
            continue
        pid, database, detail = record.get("pid"), record.get("dbname"), record.get("detail")
        yield _Entry(number, str(record.get("error_severity", "LOG")), record["message"],
                     detail if isinstance(detail, str) else None,
                     pid if isinstance(pid, int) else None,
                     database if isinstance(database, str) else None)


_READERS = {"stderr": _stderr_entries, "csvlog": _csv_entries, "jsonlog": _json_entries}


def detect_format(path: Path, first_line: str) -> str:
    """The log format of a file, from its extension or else its first line.

    >>> detect_format(Path("postgresql.csv"), "")
    'csvlog'
    >>> detect_format(Path("pg.log"), '{"timestamp":"2024-05-01 10:00:00.000 UTC"}')
    'jsonlog'
    >>> detect_format(Path("pg.log"), "2024-05-01 10:00:00.000 UTC [42] LOG:  duration: 1 ms")
    'stderr'
    """
    suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    if suffix == ".csv":
        return "csvlog"
    if suffix == ".json":
        return "jsonlog"
    if first_line.startswith("{"):
        return "jsonlog"
    if _CSV_START.match(first_line):
        return "csvlog"
    return "stderr"


# -- what the records say ---------------------------------------------------------


def parse_params(text: str) -> tuple[str | None, ...] | None:
    """The bind values of a ``Parameters:`` detail, in ``$n`` order; None if garbled.

    >>> parse_params("$1 = '42', $2 = NULL, $3 = 'it''s, ok'")
    ('42', None, "it's, ok")
    >>> parse_params("$1 = '42', $2 = 'cut") is None
    True
    """
    values: dict[int, str | None] = {}
    pos = 0
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None:
            return None
        raw = match.group(2)
        values[int(match.group(1))] = None if raw == "NULL" else raw[1:-1].replace("''", "'")
        pos = match.end()
    return tuple(values[n] for n in sorted(values))


def plan_query(body: str) -> str | None:
    """The query text of an auto_explain plan in any of its log formats.

    >>> plan_query("Query Text: SELECT 1\\nResult  (cost=0.00..0.01 rows=1 width=4)")
    'SELECT 1'
    >>> plan_query('{"Query Text": "SELECT 1", "Plan": {}}')
    'SELECT 1'
    """
    body = body.strip()
    if body.startswith("{"):  # json
        try:
            text = json.loads(body).get("Query Text")
        except (json.JSONDecodeError, AttributeError):
            return None
        return text.strip() if isinstance(text, str) else None
    if body.startswith("<explain"):  # xml
        match = _XML_QUERY.search(body)
        return html.unescape(match.group(1)).strip() if match else None
    if not body.startswith("Query Text: "):
        return None
    value = body[len("Query Text: "):]
    if value.startswith('"'):  # yaml: explain.c quotes the value as a JSON string
        try:
            text, _ = json.JSONDecoder().raw_decode(value)
        except json.JSONDecodeError:
            return None
        return text.strip() if isinstance(text, str) else None
    # text: the query may span lines; the plan fields or its top node follow it.
    kept: list[str] = []
    for i, line in enumerate(value.split("\n")):
        if i and _PLAN_TEXT_END.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip() or None


@dataclass
class _Pending:
    """A statement log_statement wrote, waiting for log_duration's line."""

    query: str
    params: tuple[str | None, ...] | None
    line: int
    extended: bool  # "execute name: …" rather than "statement: …"


@dataclass
class _Plan:
    query: str
    ms: float
    line: int


@dataclass
class _Collector:
    """Turns log records into statements, process by process.

    With auto_explain and a statement log both on, one execution is logged twice;
    it counts once, with the statement line's duration (which includes parsing and
    planning). auto_explain logs when the executor ends: inside the statement for
    the simple protocol and for the extended protocol's INSERT/UPDATE/DELETE, so
    before the statement's duration line; for an extended-protocol SELECT, when its
    portal is dropped (at the next Bind or at commit), so after it.
    """

    source: str
    statements: list[Statement] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    plans: dict[int | None, list[_Plan]] = field(default_factory=dict)  # not claimed yet
    claims: dict[int | None, set[str]] = field(default_factory=dict)  # plans still to come
    logged: dict[int, _Pending] = field(default_factory=dict)
    unpaired: int = 0  # log_statement lines that got no duration
    unpairable: int = 0  # log_statement lines without a process id

    def feed(self, entry: _Entry) -> None:
        pid, message = entry.pid, entry.message
        if entry.severity in _FAILED:
            # A failed statement gets no duration line: do not pair it with the next.
            if pid is not None and self.logged.pop(pid, None) is not None:
                self.unpaired += 1
            return
        params_detail = _PARAMS_DETAIL.match(entry.detail or "")
        if entry.severity == "DETAIL":
            if params_detail:
                self.skipped.append(_log_skip(_excerpt(entry.detail or ""),
                                            f"Log line {entry.line}: bind parameters without "
                                            "a preceding execute"))
            return
        duration = _DURATION.match(message)
        if duration is None:
            if message.startswith("duration:"):
                self._cut(entry)
            elif logged := _LOGGED.match(message):
                self._logged(entry, logged, params_detail)
            return
        ms, rest = float(duration.group(1)), duration.group(2)
        if rest is None:  # log_duration's line for what log_statement wrote before
            pending = self.logged.pop(pid, None) if pid is not None else None
            if pending is not None:
                self._executed(pid, pending.query, ms, pending.params, pending.line,
                               extended=pending.extended)
            return
        if rest.startswith("plan:"):
            self._plan(entry, ms, rest[len("plan:"):])
            return
        what = _WHAT.match(rest)
        if what is None or not what.group(3).strip():
            if rest.startswith(("statement:", "execute", "parse", "bind")):
                self._cut(entry)
            return  # e.g. "fastpath function call": not a statement
        kind = what.group(1) or what.group(2)
        if kind != "statement" and kind != "execute":
            # parse and bind are steps of an execute counted on its own line; a
            # portal's later batches ("execute fetch from") are not new calls.
            self._flush_plans(pid)
            return
        params = None
        if kind == "execute" and params_detail:
            params = self._params(params_detail.group(1), entry.line)
        self._executed(pid, what.group(3).strip(), ms, params, entry.line, entry.detail,
                       extended=kind == "execute")

    def _cut(self, entry: _Entry) -> None:
        self.skipped.append(_log_skip(_excerpt(entry.message), f"Log line {entry.line} is cut off"))

    def _params(self, text: str, line: int) -> tuple[str | None, ...] | None:
        params = parse_params(text)
        if params is None:
            self.skipped.append(_log_skip(_excerpt(text), f"Log line {line}: bind parameters do "
                                        "not parse; the statement is kept without them"))
        return params

    def _plan(self, entry: _Entry, ms: float, body: str) -> None:
        query = plan_query(body)
        if query is None:
            self.skipped.append(_log_skip(_excerpt(body), f"Log line {entry.line}: no Query Text "
                                        "in the auto_explain plan"))
            return
        claim = self.claims.get(entry.pid)
        if claim is not None and query in claim:  # an extended-protocol SELECT's plan
            del self.claims[entry.pid]
            return
        pending = self.plans.setdefault(entry.pid, [])
        pending.append(_Plan(query, ms, entry.line))
        if len(pending) > MAX_PENDING_PLANS:
            old = pending.pop(0)
            self._emit(old.query, old.ms, None, old.line)

    def _logged(self, entry: _Entry, logged: re.Match[str],
                params_detail: re.Match[str] | None) -> None:
        if logged.group(2) == "execute fetch from":
            return
        if entry.pid is None:
            self.unpairable += 1
            return
        if self.logged.pop(entry.pid, None) is not None:
            self.unpaired += 1
        self._flush_plans(entry.pid)  # they came before this statement started
        extended = logged.group(2) is not None
        params = None
        if extended and params_detail:
            params = self._params(params_detail.group(1), entry.line)
        self.logged[entry.pid] = _Pending(logged.group(3).strip(), params, entry.line, extended)

    def _executed(self, pid: int | None, query: str, ms: float,
                  params: tuple[str | None, ...] | None, line: int,
                  detail: str | None = None, *, extended: bool) -> None:
        same = {query}
        # SQL-level EXECUTE: auto_explain shows the PREPARE's text, and the query
        # worth reporting is the prepared one, not "EXECUTE name(…)".
        prepared = _PREPARE_DETAIL.match(detail or "")
        if prepared and query[:7].upper() == "EXECUTE":
            same.add((detail or "")[len("prepare: "):].strip())
            query = prepared.group(1).strip()
        # Plans logged just before are this execution's: one for an extended
        # execute, one per statement of a simple query string ("SELECT 1; SELECT 2").
        pending = self.plans.get(pid, [])
        claimed = False
        while pending and pending[-1].query in same and not (extended and claimed):
            pending.pop()
            claimed = True
        self._flush_plans(pid)
        self.claims.pop(pid, None)
        if extended and not claimed:
            self.claims[pid] = same
        self._emit(query, ms, params, line)

    def _flush_plans(self, pid: int | None) -> None:
        for plan in self.plans.pop(pid, []):
            self._emit(plan.query, plan.ms, None, plan.line)

    def _emit(self, query: str, ms: float, params: tuple[str | None, ...] | None,
              line: int) -> None:
        fp = fingerprint(query)
        if fp is None:
            error = parse_problem(query) or "Could not parse query"
            self.skipped.append(Skipped(_excerpt(query), f"{error} (log line {line})",
                                        "unparseable"))
            return
        self.statements.append(Statement(
            query=query, fingerprint=fp, calls=1, total_ms=ms, mean_ms=ms, min_ms=ms,
            max_ms=ms, params=(params,) if params is not None else (), source=self.source,
        ))

    def finish(self) -> None:
        for pid in list(self.plans):
            self._flush_plans(pid)
        self.unpaired += len(self.logged)
        self.logged.clear()


# -- bounded reading -----------------------------------------------------------------


@dataclass
class _Bounded:
    """The lines of a byte stream, within :data:`MAX_LOG_BYTES`, :data:`MAX_LOG_LINES` and
    :data:`MAX_LINE_BYTES`; what was cut is recorded for the notes and the skipped list.

    A line over the limit is replaced by an empty one, so that the readers' line
    numbers stay those of the file.
    """

    read: Callable[[int], bytes]
    skipped: list[Skipped]
    max_bytes: int = MAX_LOG_BYTES
    max_lines: int = MAX_LOG_LINES
    max_line: int = MAX_LINE_BYTES
    bytes_read: int = 0
    lines: int = 0
    cut: str | None = None  # which limit stopped the reading

    def __iter__(self) -> Iterator[str]:
        head = b""  # the start of the current line (not grown past max_line)
        size = 0  # the current line's length so far
        while True:
            if self.bytes_read >= self.max_bytes:
                if self.read(1):
                    self.cut = f"{self.max_bytes // 2**20} MiB"
                break
            chunk = self.read(min(_CHUNK, self.max_bytes - self.bytes_read))
            if not chunk:
                break
            self.bytes_read += len(chunk)
            *whole, rest = chunk.split(b"\n")
            for piece in whole:
                yield self._line(head + piece if head else piece, size + len(piece), "\n")
                head, size = b"", 0
                if self.lines >= self.max_lines:
                    if rest or piece is not whole[-1] or self.read(1):
                        self.cut = f"{self.max_lines:,} lines"
                    return
            if size <= self.max_line:
                head += rest
            size += len(rest)
        if size:
            yield self._line(head, size, "")

    def _line(self, data: bytes, size: int, end: str) -> str:
        self.lines += 1
        if size > self.max_line:
            self.skipped.append(_log_skip(
                _excerpt(data[:EXCERPT].decode("utf-8", errors="replace")),
                f"Log line {self.lines} is {size:,} bytes long, over the limit of "
                f"{self.max_line // 2**20} MiB per line (MAX_LINE_BYTES): skipped. A "
                "PostgreSQL log has no such line: is this file a server log?"))
            return end
        # Only "\n" ends a line: a carriage return inside a logged query is no line break.
        return data.decode("utf-8", errors="replace") + end


def _text_reader(stream: TextIO) -> Callable[[int], bytes]:
    """A text stream read as UTF-8 bytes, in bounded pieces."""
    def read(size: int) -> bytes:
        return stream.read(max(1, size // 4)).encode("utf-8", errors="replace")
    return read


# -- the source ---------------------------------------------------------------------


class LogSource:
    """A PostgreSQL server log (stderr, csvlog or jsonlog; plain or gzip) as a workload.

    ``format`` is one of :data:`FORMATS`; ``auto`` goes by the file's extension
    (``.csv``, ``.json``), else by its first line. ``stream`` reads from an open text
    stream instead of ``path``, which then only names the source and hints at the
    format. ``database`` keeps the statements of one database: the log must name it
    (``%d`` in log_line_prefix; csvlog and jsonlog always do).
    """

    def __init__(self, path: Path | str, stream: TextIO | None = None, *,
                 format: str = "auto", database: str | None = None) -> None:
        if format not in FORMATS:
            close = difflib.get_close_matches(format, FORMATS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"Unknown log format '{format}'.{hint} Use one of: "
                              f"{', '.join(FORMATS)}.")
        self.path = Path(path)
        self.stream = stream
        self.format = format
        self.database = database
        self.name = f"log:{self.path}"

    def read(self) -> Workload:
        """Every logged execution as one statement, with the records that were skipped."""
        if self.stream is not None:
            return self._read(_text_reader(self.stream))
        path = self.path
        try:
            if path.suffix == ".gz":
                with gzip.open(path, "rb") as gz:
                    return self._read(gz.read)
            with path.open("rb") as fh:
                return self._read(fh.read)
        except FileNotFoundError:
            raise ConfigError(
                f"Log file {path} not found. Pass the path of a PostgreSQL server log: "
                "`SHOW log_directory` (relative to the data directory) and "
                "`SELECT pg_current_logfile()` show where the server writes it."
            ) from None
        except IsADirectoryError:
            raise ConfigError(f"{path} is a directory: pass one log file in it.") from None
        except PermissionError:
            raise ConfigError(
                f"Cannot read {path}: permission denied. Run as the server's OS user (or "
                "one in its group, with log_file_mode = 0640), or copy the file."
            ) from None
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ConfigError(f"Cannot read {path}: {exc}. Pass a PostgreSQL server log, "
                              "plain or gzip-compressed.") from None

    def _read(self, read: Callable[[int], bytes]) -> Workload:
        collector = _Collector(self.name)
        bounded = _Bounded(read, collector.skipped)
        lines: Iterator[str] = iter(bounded)
        fmt = self.format
        if fmt == "auto":
            head = list(itertools.islice(lines, 1))
            fmt = detect_format(self.path, head[0] if head else "")
            lines = itertools.chain(head, lines)
        unknown_db = 0
        for entry in _READERS[fmt](lines, collector.skipped):
            if self.database is not None and entry.database != self.database:
                # Server processes' own records never name a database: count only
                # the ones that would have been statements.
                unknown_db += entry.database is None and entry.message.startswith(_TIMED)
                continue
            collector.feed(entry)
        collector.finish()
        return Workload(collector.statements, collector.skipped,
                        self._notes(fmt, collector, unknown_db, bounded))

    def _notes(self, fmt: str, collector: _Collector, unknown_db: int,
               bounded: _Bounded) -> list[str]:
        notes = [f"{self.path} read as {fmt}: {len(collector.statements)} logged executions."]
        if bounded.cut is not None:
            notes.append(f"Only the first {bounded.cut} of {self.path} were read (the limit "
                         f"per log: {MAX_LOG_BYTES // 2**20} MiB, {MAX_LOG_LINES:,} lines); "
                         f"the rest, from line {bounded.lines + 1}, was not: split the log "
                         "(`split -C 500M`) or rotate it more often (log_rotation_size), "
                         "and read each part.")
        if not collector.statements and not collector.skipped:
            notes.append("No statement durations in the log: set log_min_duration_statement "
                         "(or log_statement with log_duration, or auto_explain).")
        if collector.unpaired:
            notes.append(f"{collector.unpaired} statements written by log_statement had no "
                         "duration line (below log_min_duration_statement, log_duration off, "
                         "or failed): not counted.")
        if collector.unpairable:
            notes.append(f"{collector.unpairable} statements written by log_statement could "
                         "not be paired with their durations: add %p to log_line_prefix.")
        if unknown_db:
            notes.append(f"{unknown_db} log records name no database and were left out by "
                         f"the filter database={self.database}: add %d to log_line_prefix.")
        return notes


__all__ = ["FORMATS", "LogSource", "detect_format", "parse_params", "plan_query"]

