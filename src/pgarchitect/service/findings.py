"""The knowledge base's findings as the admin API reads and decides them.

Listing with filters and pages, and a human's decision on a finding, are not in
:mod:`pgarchitect.knowledge.kb` yet; they are written here with their SQL as
constants, to move there when another front end needs them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from pgarchitect import db
from pgarchitect.knowledge.audit import weights_of
from pgarchitect.knowledge.embed import Embedder, default_embedder
from pgarchitect.knowledge.features import features_of_query
from pgarchitect.knowledge.kb import Case, Finding, KnowledgeBase, NoKnowledgeBase
from pgarchitect.proposal import ACTIONS
from pgarchitect.service.errors import NotFound
from pgarchitect.settings import Config

# A decision and the status it records. There is no "approved" status in the store
# yet (its CHECK constraint lists proposed, pr_open, applied, rejected, superseded):
# an approval keeps the finding proposed and records who approved it, and when.
DECISIONS = {"approve": "proposed", "reject": "rejected"}
_PAST = {"approve": "approved", "reject": "rejected"}  # the note's first word

_COLUMNS = tuple(f.name for f in fields(Finding) if f.name != "embedding")
SELECT_SQL = sql.SQL("SELECT {} FROM pgarchitect.optimization_log WHERE {} "
                     "ORDER BY created_at DESC, id LIMIT %s OFFSET %s")
COUNT_SQL = sql.SQL("SELECT count(*) FROM pgarchitect.optimization_log WHERE {}")
EXISTS_SQL = "SELECT EXISTS (SELECT FROM pgarchitect.optimization_log WHERE id = %s)"


@dataclass(frozen=True)
class Filters:
    """Which findings to list; None matches any."""

    database: str | None = None
    status: str | None = None
    kind: str | None = None
    action: str | None = None  # the runbook's action for the finding's confidence
    day: date | None = None  # created that day (UTC)


@dataclass(frozen=True)
class Page:
    """One page of findings, newest first, and how many match in all."""

    findings: list[Finding]
    total: int
    limit: int
    offset: int


def confidence_range(action: str) -> tuple[float | None, float | None]:
    """The confidence (0..1) bounds of an action, low included, high excluded.

    >>> confidence_range("pr_merge"), confidence_range("log"), confidence_range("investigate")
    ((0.9, None), (0.6, 0.8), (None, 0.6))
    """
    floors = [(floor / 100, name) for floor, name, _ in ACTIONS]
    for i, (floor, name) in enumerate(floors):
        if name == action:
            high = floors[i - 1][0] if i else None
            return (floor if i < len(floors) - 1 else None), high
    raise ValueError(f"unknown action {action!r}")


def _where(filters: Filters) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    for column in ("database", "status", "kind"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if filters.action is not None:
        low, high = confidence_range(filters.action)
        if low is None:  # the last action also takes findings without a confidence
            clauses.append(sql.SQL("(confidence IS NULL OR confidence < %s)"))
            params.append(high)
        else:
            clauses.append(sql.SQL("confidence >= %s"))
            params.append(low)
            if high is not None:
                clauses.append(sql.SQL("confidence < %s"))
                params.append(high)
    if filters.day is not None:
        start = datetime.combine(filters.day, time(), tzinfo=UTC)
        clauses.append(sql.SQL("created_at >= %s AND created_at < %s"))
        params += [start, start + timedelta(days=1)]
    return sql.SQL(" AND ").join(clauses), params


def list_findings(kb: KnowledgeBase, filters: Filters, *, limit: int, offset: int) -> Page:
    """The findings matching ``filters``, newest first, one page of them."""
    where, params = _where(filters)
    with kb.conn.cursor(row_factory=dict_row) as cur:
        cur.execute(SELECT_SQL.format(sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
                                      where), [*params, limit, offset])
        found = [Finding(**{**row, "id": str(row["id"])}) for row in cur.fetchall()]
    row = kb.conn.execute(COUNT_SQL.format(where), params).fetchone()
    return Page(found, int(row[0]) if row else 0, limit, offset)


def get_finding(kb: KnowledgeBase, finding_id: uuid.UUID) -> Finding:
    """One finding by its whole id; NotFound when there is none."""
    row = kb.conn.execute(EXISTS_SQL, [finding_id]).fetchone()
    if not (row and row[0]):
        raise NotFound(f"No finding {finding_id}: list them with GET "
                       "/admin/database/optimizations.")
    return kb.get(str(finding_id))


def decide(kb: KnowledgeBase, finding_id: uuid.UUID, decision: str, *, by: str,
           note: str | None) -> Finding:
    """Record a human's decision on a finding (status, who, when, why)."""
    get_finding(kb, finding_id)
    note = _PAST[decision] + (f": {note}" if note else "")
    return kb.mark(str(finding_id), DECISIONS[decision], by=by, note=note)


def similar(kb: KnowledgeBase, statement: str, *, limit: int,
            database: str | None = None) -> list[Case]:
    """The stored cases most like ``statement``, best first (resemblance only: replaying
    their fixes needs the target, which `pgarchitect kb similar` does)."""
    return kb.similar(statement, features_of_query(statement), limit=limit, database=database)


@dataclass
class KnowledgeSource:
    """The knowledge base's database (kb_url, else the target) behind a pool, opened on
    first use, and one embedding model for every request."""

    config: Config
    _database: db.Database | None = field(default=None, repr=False)
    _embedder: Embedder | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _pool(self) -> db.Database:
        with self._lock:
            if self._database is None:
                url = self.config.get_str("kb_url") or db.target_conninfo(self.config)
                database = db.Database(url, self.config)
                with database.connection():  # opens the pool, once, under the lock
                    pass
                self._database = database
            return self._database

    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = default_embedder()
            return self._embedder

    @contextmanager
    def open(self) -> Iterator[KnowledgeBase | None]:
        """The knowledge base, creating nothing; None when there is none yet."""
        embedder = self.embedder()
        with self._pool().connection() as conn:
            try:
                kb: KnowledgeBase | None = KnowledgeBase(
                    conn, weights=weights_of(self.config),
                    threshold=self.config.get_float("kb_threshold"), embedder=embedder,
                    create=False)
            except NoKnowledgeBase:
                kb = None
            yield kb

    def close(self) -> None:
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None
