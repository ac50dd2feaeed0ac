"""The knowledge base: every finding, what it was about, and what became of it.

Findings live in ``pgarchitect.optimization_log`` (created by the store's
migrations) in the knowledge base database: ``kb_url``, else the target. With
pgvector the embedding is a ``vector(384)`` with an HNSW index on cosine
distance; without it a ``real[]``, ranked in Python. Either way a lookup takes
the statements with the same fingerprint and the nearest by embedding, and
scores each by structure and text together (:mod:`pgarchitect.knowledge.similarity`).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from textwrap import shorten
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgarchitect.errors import ConfigError, PgArchitectError, first_line
from pgarchitect.knowledge.embed import DIMENSIONS, Embedder, default_embedder
from pgarchitect.knowledge.features import (
    Features,
    embedding_text,
    structural_similarity,
)
from pgarchitect.knowledge.similarity import THRESHOLD, Weights, combine
from pgarchitect.proposal import KINDS
from pgarchitect.store import migrate
from pgarchitect.store.knowledge import STATUSES

NEAREST = 20  # cases read by embedding distance for each lookup, before rescoring

HINT_PGVECTOR = ("pgvector is not installed in the knowledge base database: findings keep "
                 "their embeddings as real[] and similar cases are ranked in Python. To "
                 "index them, install pgvector (Debian: apt-get install "
                 "postgresql-<version>-pgvector) and run CREATE EXTENSION vector there.")


class KnowledgeBaseError(PgArchitectError):
    """The knowledge base could not do what was asked (exit code 1: 4 is the embedded
    server's)."""


class NoKnowledgeBase(KnowledgeBaseError):
    """A read of a database where no knowledge base was made yet (reads create nothing)."""


# A JSON line nested deeper than this is refused before it is parsed: Python's parser
# recurses once per level and would stop with a RecursionError near 1000.
MAX_JSON_DEPTH = 100
# An export of 100,000 findings, each with its 384-float embedding, is about 1 GB:
# twice that is read, no more (`kb import /dev/zero` must not fill the memory).
MAX_IMPORT_BYTES = 2 * 1024**3

# Fields of a finding by the type they must have, for a check before anything is sent.
_TEXT_FIELDS = ("database", "fingerprint", "query", "kind", "recommendation_sql",
                "rollback_sql", "description", "reasoning", "status")
_OPTIONAL_TEXT_FIELDS = ("id", "status_by", "status_note", "pr_url")
_NUMBER_FIELDS = ("estimated_gain_pct", "measured_gain_pct", "before_ms", "after_ms",
                  "confidence", "applied_after_ms", "applied_gain_pct")
_TIME_FIELDS = ("status_at", "applied_at", "applied_measured_at", "created_at")


# -- findings ---------------------------------------------------------------------------


@dataclass
class Finding:
    """One recommendation for one statement, as stored."""

    database: str
    fingerprint: str
    query: str
    kind: str
    recommendation_sql: str = ""
    rollback_sql: str = ""
    description: str = ""
    reasoning: str = ""
    estimated_gain_pct: float | None = None
    measured_gain_pct: float | None = None
    before_ms: float | None = None
    after_ms: float | None = None
    confidence: float | None = None  # 0..1
    factors: dict[str, float] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    embedding: list[float] | None = None
    id: str | None = None
    status: str = "proposed"
    status_by: str | None = None
    status_at: datetime | None = None
    status_note: str | None = None
    applied_at: datetime | None = None
    applied_after_ms: float | None = None
    applied_gain_pct: float | None = None
    applied_measured_at: datetime | None = None
    created_at: datetime | None = None
    pr_url: str | None = None  # the pull request it was delivered in
    pr_number: int | None = None

    @property
    def dedup_key(self) -> str:
        text = "\x1f".join((self.database, self.fingerprint, self.kind,
                            " ".join(self.recommendation_sql.split())))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def short_id(self) -> str:
        return (self.id or "")[:8]

    def to_json(self) -> dict[str, Any]:
        """A JSON object (export format): every column, timestamps in ISO 8601."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        """A finding from :meth:`to_json`'s form; raises ValueError on a bad one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        missing = {"database", "fingerprint", "query", "kind"} - set(data)
        if missing:
            raise ValueError(f"missing fields: {', '.join(sorted(missing))}")
        values = dict(data)
        for key in _TIME_FIELDS:
            if isinstance(values.get(key), str):
                try:
                    values[key] = datetime.fromisoformat(values[key])
                except ValueError:
                    raise ValueError(f"{key} {shorten(values[key], 40, placeholder='…')!r} "
                                     "is not an ISO 8601 timestamp") from None
        finding = cls(**values)
        finding.check()
        return finding

    def check(self) -> None:
        """Raise ValueError, naming the field, on a value the store would refuse."""
        for name in _TEXT_FIELDS + _OPTIONAL_TEXT_FIELDS:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL_TEXT_FIELDS:
                continue
            if not isinstance(value, str):
                raise ValueError(f"{name} is {type(value).__name__}, not a string")
            if "\x00" in value:
                raise ValueError(f"{name} has a NUL character, which PostgreSQL cannot store")
        if self.id is not None:
            try:
                uuid.UUID(self.id)
            except ValueError:
                raise ValueError(f"id {shorten(self.id, 60, placeholder='…')!r} is not a UUID"
                                 ) from None
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        for name in _NUMBER_FIELDS:
            _check_number(name, getattr(self, name))
        if self.pr_number is not None and (
                isinstance(self.pr_number, bool) or not isinstance(self.pr_number, int)
                or not 0 < self.pr_number < 2**31):
            raise ValueError(f"pr_number {self.pr_number!r} is not a pull request number")
        if self.confidence is not None and not 0 <= self.confidence <= 1:
            raise ValueError(f"confidence {self.confidence} is not within 0..1")
        for name in _TIME_FIELDS:
            if not isinstance(getattr(self, name), (datetime, type(None))):
                raise ValueError(f"{name} is not a timestamp")
        if not isinstance(self.factors, dict):
            raise ValueError("factors is not a JSON object")
        for key, value in self.factors.items():
            _check_number(f"factor {key!r}", value)
        if not isinstance(self.features, dict):
            raise ValueError("features is not a JSON object")
        _check_json("features", self.features)
        if self.embedding is not None:
            if not isinstance(self.embedding, list):
                raise ValueError("embedding is not a list of numbers")
            if len(self.embedding) != DIMENSIONS:
                raise ValueError(f"embedding has {len(self.embedding)} dimensions, not "
                                 f"{DIMENSIONS}")
            for i, value in enumerate(self.embedding):
                _check_number(f"embedding[{i}]", value)


def _check_number(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is {type(value).__name__}, not a number")
    try:
        finite = math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite:
        raise ValueError(f"{name} is not a finite number")


def _check_json(name: str, value: object) -> None:
    """A value PostgreSQL's jsonb takes: no NaN or infinity, no NUL character."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValueError(f"{name} cannot be stored as JSON: {exc}") from None
    if "\\u0000" in text:
        raise ValueError(f"{name} has a NUL character, which PostgreSQL cannot store")


def _depth(line: str) -> int:
    """How deeply a JSON text nests arrays and objects (an upper bound: brackets in
    strings count too, which only errs toward refusing).

    >>> _depth('{"a": [1, [2]]}')
    3
    """
    depth = deepest = 0
    for char in line:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def read_import_file(path: str) -> list[bytes]:
    """The lines of a file ``kb export`` wrote (``-``: standard input), at most
    MAX_IMPORT_BYTES; as bytes, so that a line that is not UTF-8 is one error."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}. Pass a file written by "
                          "`pgarchitect kb export`.") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_IMPORT_BYTES // 1024**3} GiB "
                          "(MAX_IMPORT_BYTES): split it (`split -l 50000`) and import each part.")
    return data.splitlines()


def parse_line(line: str | bytes) -> Finding:
    """A finding from one JSON line of an export; ValueError says what is wrong with it."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text (byte 0x{line[exc.start]:02x} at column "
                             f"{exc.start + 1})") from None
    if _depth(line) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep: not a "
                         "finding")
    try:
        data = json.loads(line)
    except RecursionError:
        raise ValueError("JSON nested too deeply: not a finding") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    return Finding.from_json(data)


@dataclass(frozen=True)
class Case:
    """A stored finding that matches a statement: how well, and why."""

    finding: Finding
    score: float
    reasons: tuple[str, ...]


@dataclass
class ImportReport:
    """What an import did, line by line."""

    imported: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


# Columns written by an insert, with their types in jsonb_to_recordset.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"), ("dedup_key", "text"), ("database", "text"), ("fingerprint", "text"),
    ("query", "text"), ("kind", "text"), ("recommendation_sql", "text"),
    ("rollback_sql", "text"), ("description", "text"), ("reasoning", "text"),
    ("estimated_gain_pct", "float8"), ("measured_gain_pct", "float8"),
    ("before_ms", "float8"), ("after_ms", "float8"), ("confidence", "float8"),
    ("factors", "jsonb"), ("embedding", "real[]"), ("features", "jsonb"), ("status", "text"),
    ("status_by", "text"), ("status_at", "timestamptz"), ("status_note", "text"),
    ("applied_at", "timestamptz"), ("applied_after_ms", "float8"),
    ("applied_gain_pct", "float8"), ("applied_measured_at", "timestamptz"),
    ("created_at", "timestamptz"), ("pr_url", "text"), ("pr_number", "int4"),
)
_READ = ", ".join(name for name, _ in _COLUMNS if name not in ("dedup_key", "embedding"))


class KnowledgeBase:
    """The findings of one knowledge base database."""

    def __init__(self, conn: psycopg.Connection[Any], *, weights: Weights | None = None,
                 threshold: float = THRESHOLD, embedder: Embedder | None = None,
                 create: bool = True) -> None:
        """Open the knowledge base of ``conn``, creating its tables when ``create``.

        Without ``create`` (the reads: `kb list`, `show`, `similar`, `export`) nothing is
        created in the database, and a missing knowledge base raises NoKnowledgeBase.
        """

        if not 0 < threshold <= 1:
            raise ConfigError(f"kb_threshold {threshold:g} is not within 0..1: set it to the "
                              "match score above which a statement counts as solved (0.85).")
        self.conn = conn
        self.weights = weights or Weights()
        self.threshold = threshold
        self._embedder = embedder
        # Without pgvector: ids, fingerprints, databases and embeddings, read once.
        self._cache: tuple[list[str], list[str], list[str], np.ndarray] | None = None
        self.notes: list[str] = []
        if create:
            migrate(conn)
        elif not _exists(conn):
            raise NoKnowledgeBase(
                f"There is no knowledge base in database {conn.info.dbname} yet: "
                "`pgarchitect audit` or `pgarchitect advise` make it with their first "
                "findings, and `pgarchitect kb import FILE` with exported ones.")
        row = conn.execute(
            "SELECT n.nspname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = "
            "a.atttypid JOIN pg_namespace n ON n.oid = t.typnamespace WHERE a.attrelid = "
            "'pgarchitect.optimization_log'::regclass AND a.attname = 'embedding'").fetchone()
        self.vector_schema = str(row[0]) if row and row[1] == "vector" else None
        if self.vector_schema is None:
            self.notes.append(HINT_PGVECTOR)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    # -- writing

    def embed(self, findings: Sequence[Finding]) -> None:
        """Give each finding without one its embedding (statement, problem and fix)."""
        todo = [f for f in findings if f.embedding is None]
        if not todo:
            return
        done = self.embedder.embed([embedding_text(f.query, f.description) for f in todo])
        for finding, embedded in zip(todo, done, strict=True):
            finding.embedding = [float(x) for x in embedded.vector]
            if embedded.truncated:
                self.notes.append(
                    f"The finding for {shorten(finding.query, 60, placeholder='…')} is "
                    f"{embedded.tokens} tokens "
                    "long; its embedding reads the first 256 only.")

    def record(self, findings: Sequence[Finding]) -> list[str]:
        """Store findings in one round trip; ids of the new rows (duplicates are skipped)."""
        if not findings:
            return []
        for f in findings:
            f.check()
        self.embed(findings)
        rows = []
        for f in findings:
            data = f.to_json()
            data["dedup_key"] = f.dedup_key
            rows.append(data)
        names = [name for name, _ in _COLUMNS]
        record = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                                    for n, t in _COLUMNS)
        values = [sql.Identifier("r", n) for n in names]
        defaults = {"id": "gen_random_uuid()", "status": "'proposed'", "created_at": "now()",
                    "factors": "'{}'", "features": "'{}'"}
        select = sql.SQL(", ").join(
            sql.SQL("coalesce({}, {})").format(v, sql.SQL(defaults[n])) if n in defaults
            else self._vector_cast(v) if n == "embedding" else v
            for n, v in zip(names, values, strict=True))
        query = sql.SQL(
            "INSERT INTO pgarchitect.optimization_log ({}) SELECT {} "
            "FROM jsonb_to_recordset(%s::jsonb) AS r({}) ON CONFLICT DO NOTHING RETURNING id"
        ).format(sql.SQL(", ").join(map(sql.Identifier, names)), select, record)
        inserted = [str(r[0]) for r in self.conn.execute(query, [json.dumps(rows)]).fetchall()]
        self._cache = None
        return inserted

    def _vector_cast(self, value: sql.Composable) -> sql.Composable:
        if self.vector_schema is None:
            return value
        return sql.SQL("{}::{}.vector").format(value, sql.Identifier(self.vector_schema))

    def mark(self, finding_id: str, status: str, *, by: str | None = None,
             note: str | None = None) -> Finding:
        """Set a finding's status (applied, rejected, ...), who did and when."""
        if status not in STATUSES:
            raise ConfigError(f"Status {status!r} is not one of {', '.join(STATUSES)}.")
        finding = self.get(finding_id)
        self.conn.execute(
            "UPDATE pgarchitect.optimization_log SET status = %s, status_by = %s, "
            "status_at = now(), status_note = coalesce(%s, status_note), applied_at = "
            "CASE WHEN %s = 'applied' THEN coalesce(applied_at, now()) ELSE applied_at END "
            "WHERE id = %s", [status, by or getpass.getuser(), note, status, finding.id])
        return self.get(str(finding.id))

    def of_fix(self, database: str, kind: str, recommendation_sql: str) -> list[Finding]:
        """The findings of one fix in one database (a proposal has one per statement)."""
        return self._rows(sql.SQL("database = %s AND kind = %s AND recommendation_sql = %s"),
                          [database, kind, recommendation_sql], "ORDER BY created_at")

    def delivered(self, finding_ids: Sequence[str], pr_url: str, pr_number: int) -> None:
        """The findings went out as a pull request: status pr_open, with its URL."""
        self.conn.execute(
            "UPDATE pgarchitect.optimization_log SET status = 'pr_open', status_by = "
            "'pgarchitect', status_at = now(), pr_url = %s, pr_number = %s "
            "WHERE id = ANY(%s::uuid[]) AND status IN ('proposed', 'pr_open')",
            [pr_url, pr_number, list(finding_ids)])

    def open_prs(self) -> list[Finding]:
        """Findings waiting in an open pull request."""
        return self._rows(sql.SQL("status = 'pr_open' AND pr_number IS NOT NULL"), [],
                          "ORDER BY created_at")

    def record_outcome(self, finding: Finding, after_ms: float) -> Finding:
        """The statement's mean time measured after the finding was applied, and the gain."""
        gain = (100.0 * (1.0 - after_ms / finding.before_ms)
                if finding.before_ms else None)
        self.conn.execute(
            "UPDATE pgarchitect.optimization_log SET applied_after_ms = %s, applied_gain_pct "
            "= %s, applied_measured_at = now() WHERE id = %s", [after_ms, gain, finding.id])
        return self.get(str(finding.id))

    # -- reading

    def _rows(self, where: sql.Composable, params: Sequence[Any],
              tail: str = "") -> list[Finding]:
        query = sql.SQL("SELECT {} FROM pgarchitect.optimization_log WHERE {} {}").format(
            sql.SQL(_READ), where, sql.SQL(tail))
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return [_finding(row) for row in cur.fetchall()]

    def get(self, finding_id: str) -> Finding:
        """A finding by its id or a unique prefix of it (as `kb list` shows)."""
        prefix = finding_id.strip().lower()
        if not prefix or any(c not in "0123456789abcdef-" for c in prefix):
            raise ConfigError(f"{finding_id!r} is not a finding id (see `pgarchitect kb list`).")
        found = self._rows(sql.SQL("id::text LIKE %s"), [prefix + "%"], "LIMIT 2")
        if not found:
            raise ConfigError(f"No finding {finding_id} (see `pgarchitect kb list`).")
        if len(found) > 1:
            raise ConfigError(f"Finding id {finding_id} is ambiguous: give more of it.")
        return found[0]

    def recent(self, *, status: str | None = None, limit: int = 50) -> list[Finding]:
        where = sql.SQL("status = %s") if status else sql.SQL("true")
        return self._rows(where, [status] if status else [],
                          f"ORDER BY created_at DESC, id LIMIT {int(limit)}")

    def count(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM pgarchitect.optimization_log").fetchone()
        return int(row[0]) if row else 0

    def similar(self, statement: str, features: Features, *, limit: int = 5,
                embedding: np.ndarray | None = None,
                database: str | None = None) -> list[Case]:
        """The stored cases most like ``statement``, best first, each with why it matched.

        ``features`` are the statement's (:func:`features_of`); the embedding of the
        statement alone (the fix is not known yet) is computed unless given. With
        ``database``, only that database's cases are looked at (before the nearest are
        taken: a shared knowledge base's other databases must not hide its own).
        """
        if embedding is None:
            embedding = self.embedder.embed([embedding_text(statement)])[0].vector
        nearest = self._nearest(features.fingerprint or "", embedding, database)
        if not nearest:
            return []
        found = {f.id: f for f in self._rows(sql.SQL("id = ANY(%s)"), [list(nearest)])}
        cases = []
        for finding_id, cosine in nearest.items():
            finding = found.get(finding_id)
            if finding is None or finding.status == "superseded":
                continue
            structure = structural_similarity(features, Features.from_json(finding.features))
            match = combine(finding.fingerprint == features.fingerprint, structure, cosine,
                            self.weights)
            cases.append(Case(finding, match.score, match.reasons))
        cases.sort(key=lambda c: (-c.score, c.finding.created_at or datetime.min))
        return cases[:limit]

    def _nearest(self, fingerprint: str, embedding: np.ndarray,
                 database: str | None = None) -> dict[str, float | None]:
        """Ids of the same-fingerprint cases and the nearest by embedding: id -> cosine."""
        if self.vector_schema is not None:
            vector = "[" + ",".join(f"{x:.7g}" for x in embedding) + "]"
            op = sql.SQL("OPERATOR({}.<=>)").format(sql.Identifier(self.vector_schema))
            cast = sql.SQL("%s::{}.vector").format(sql.Identifier(self.vector_schema))
            query = sql.SQL(
                "(SELECT id, 1 - (embedding {op} {v}) FROM pgarchitect.optimization_log "
                " WHERE fingerprint = %s AND (%s::text IS NULL OR database = %s)) UNION "
                "(SELECT id, 1 - (embedding {op} {v}) FROM pgarchitect.optimization_log "
                " WHERE %s::text IS NULL OR database = %s "
                " ORDER BY embedding {op} {v} LIMIT {n})").format(
                op=op, v=cast, n=sql.Literal(NEAREST))
            rows = self.conn.execute(query, [vector, fingerprint, database, database, vector,
                                             database, database, vector]).fetchall()
            return {str(i): (None if c is None or math.isnan(c) else float(c)) for i, c in rows}
        ids, prints, databases, matrix = self._all_embeddings()
        if not ids:
            return {}
        scores = matrix @ np.asarray(embedding, dtype=np.float32)
        mine = [i for i in np.argsort(-scores)
                if database is None or databases[int(i)] == database]
        cosines = {int(j): float(scores[int(j)]) for j in mine[:NEAREST]}
        picked = set(cosines) | {i for i, p in enumerate(prints) if p == fingerprint
                                 and (database is None or databases[i] == database)}
        return {ids[i]: cosines.get(i) for i in picked}

    def _all_embeddings(self) -> tuple[list[str], list[str], list[str], np.ndarray]:
        """Every case's id, fingerprint, database and embedding (zeros if none), read once
        per session.

        Without pgvector the ranking is done here; the read is the expensive part,
        so a session (an audit) does it once and keeps it up to date as it writes.
        """
        if self._cache is None:
            rows = self.conn.execute("SELECT id, fingerprint, database, embedding FROM "
                                     "pgarchitect.optimization_log").fetchall()
            matrix = np.zeros((len(rows), DIMENSIONS), dtype=np.float32)
            for i, row in enumerate(rows):
                if row[3] is not None:
                    matrix[i] = row[3]
            self._cache = ([str(r[0]) for r in rows], [str(r[1]) for r in rows],
                           [str(r[2]) for r in rows], matrix)
        return self._cache

    # -- moving knowledge between environments

    def export(self) -> Iterator[str]:
        """Every finding as a JSON line, oldest first, embeddings included."""
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL(
                "SELECT {}, embedding::real[] AS embedding FROM pgarchitect.optimization_log "
                "ORDER BY created_at, id").format(sql.SQL(_READ)))
            for row in cur:
                yield json.dumps(_finding(row).to_json(), default=str)

    def import_lines(self, lines: Iterable[str | bytes]) -> ImportReport:
        """Import JSON lines: every good line, in one round trip; report the bad ones.

        Bytes are decoded line by line, so a line that is not UTF-8 is reported alone.
        Should the store still refuse the batch, the lines are written one by one and
        each refused one reported with its line number.
        """
        report = ImportReport()
        good: list[tuple[int, Finding]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                good.append((number, parse_line(line)))
            except (ValueError, TypeError) as exc:
                report.errors.append((number, (str(exc).splitlines() or ["unreadable"])[0][:200]))
        findings = [f for _, f in good]
        try:
            with self.conn.transaction():
                inserted = len(self.record(findings))
        except (psycopg.DataError, psycopg.IntegrityError):
            inserted = 0
            for number, finding in good:
                try:
                    with self.conn.transaction():
                        inserted += len(self.record([finding]))
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    findings.remove(finding)
                    report.errors.append(
                        (number, f"refused by the database: {first_line(exc)}"[:200]))
            report.errors.sort()
        report.imported = inserted
        report.duplicates = len(findings) - inserted
        return report


def _exists(conn: psycopg.Connection[Any]) -> bool:
    """Whether the knowledge base's table is there (a read that creates nothing)."""
    row = conn.execute("SELECT to_regclass('pgarchitect.optimization_log') IS NOT NULL"
                       ).fetchone()
    return bool(row and row[0])


def _finding(row: dict[str, Any]) -> Finding:
    values = dict(row)
    values["id"] = str(values["id"])
    if values.get("embedding") is not None:
        values["embedding"] = [float(x) for x in values["embedding"]]
    return Finding(**values)


# -- findings kept when the knowledge base is away -----------------------------------------


@dataclass(frozen=True)
class Spool:
    """A file of findings that could not be written, to write on the next run."""

    path: Path

    def save(self, findings: Sequence[Finding]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write("".join(json.dumps(f.to_json(), default=str) + "\n" for f in findings))

    def flush(self, kb: KnowledgeBase) -> ImportReport | None:
        """Write the saved findings to ``kb``; the file goes once they are all in."""
        if not self.path.is_file():
            return None
        report = kb.import_lines(self.path.read_bytes().splitlines())
        if report.errors:
            bad = self.path.with_suffix(".rejected.jsonl")
            self.path.replace(bad)
        else:
            self.path.unlink()
        return report
