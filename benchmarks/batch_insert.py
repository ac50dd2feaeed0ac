"""Batch insert of "BehaviorLog" rows: COPY vs psycopg executemany vs SQLAlchemy ORM.

Usage:
    python benchmarks/batch_insert.py [--dsn CONNINFO] [--rows 10000,100000] [--repeat 3]

Without --dsn it starts an embedded PostgreSQL 18 in a temporary directory and
removes it at the end. With --dsn it works in a schema of its own
(``pgarchitect_bench``), dropped at the end. Each measurement starts on a
truncated table and ends with the commit; the best of --repeat runs is shown.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy
from _common import machine, temporary_server
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb
from sqlalchemy import BigInteger, DateTime, String, create_engine
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pgarchitect.demo.app import Event, LearningPlatform
from pgarchitect.demo.data import EVENT_TYPES, schema_sql

SCHEMA = "pgarchitect_bench"
USERS = 20
INSERT = """\
INSERT INTO "BehaviorLog" ("userId", "eventType", metadata, "timestamp")
VALUES (%s, %s, %s, %s)"""

Row = tuple[uuid.UUID, str, dict[str, Any], datetime]


class Base(DeclarativeBase):
    pass


class BehaviorLog(Base):
    """The ORM mapping a team would write for the table."""

    __tablename__ = "BehaviorLog"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column("userId", UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column("eventType", String)
    # "metadata" is reserved on declarative classes: map the column under another name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    timestamp: Mapped[datetime] = mapped_column("timestamp", DateTime)


def make_rows(n: int, users: Sequence[uuid.UUID]) -> list[Row]:
    """``n`` events of the demo's kind, built before any timing starts."""
    start = datetime(2025, 1, 1)
    return [
        (users[i % len(users)], EVENT_TYPES[i % len(EVENT_TYPES)],
         {"path": f"/courses/{i % 997}", "device": "web"}, start + timedelta(seconds=i))
        for i in range(n)
    ]


# Each method opens its connection (or engine) before the clock starts, as an
# application holds a pool: the timing covers building the batch, sending it and
# the commit, not the login.
Insert = Callable[[list[Row]], None]


@contextmanager
def by_copy(conninfo: str) -> Iterator[Insert]:
    with LearningPlatform.connect(conninfo) as app:

        def insert(rows: list[Row]) -> None:
            app.log_events(Event(u, e, m, t) for u, e, m, t in rows)

        yield insert


@contextmanager
def by_executemany(conninfo: str) -> Iterator[Insert]:
    with psycopg.connect(conninfo) as conn:

        def insert(rows: list[Row]) -> None:
            with conn.cursor() as cur:
                cur.executemany(INSERT, [(u, e, Jsonb(m), t) for u, e, m, t in rows])
            conn.commit()

        yield insert


@contextmanager
def by_orm(conninfo: str) -> Iterator[Insert]:
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo))
    # Connect once so the pool holds a connection and the dialect is initialised.
    engine.connect().close()

    def insert(rows: list[Row]) -> None:
        with Session(engine) as session:
            session.add_all(
                BehaviorLog(user_id=u, event_type=e, meta=m, timestamp=t) for u, e, m, t in rows
            )
            session.commit()

    try:
        yield insert
    finally:
        engine.dispose()


METHODS: tuple[tuple[str, Callable[[str], AbstractContextManager[Insert]]], ...] = (
    ("COPY (LearningPlatform.log_events)", by_copy),
    ("psycopg executemany", by_executemany),
    ("SQLAlchemy ORM add_all + commit", by_orm),
)


@contextmanager
def target(dsn: str | None) -> Iterator[str]:
    """A conninfo whose search_path is a fresh schema holding the demo tables."""
    if dsn is not None:
        yield from _schema(dsn)
        return
    with temporary_server() as conninfo:
        yield from _schema(conninfo)


def _schema(dsn: str) -> Iterator[str]:
    name = sql.Identifier(SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
    conninfo = make_conninfo(dsn, options=f"-c search_path={SCHEMA}")
    try:
        with psycopg.connect(conninfo) as conn:
            conn.execute(schema_sql())  # no parameters: runs as one multi-statement script
        yield conninfo
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="libpq conninfo or URL; default: a temporary embedded server")
    parser.add_argument("--rows", default="10000,100000", help="comma-separated batch sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best shown)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.rows.split(",")]

    with target(args.dsn) as conninfo:
        with psycopg.connect(conninfo) as conn:
            users = [uuid.UUID(int=i + 1, version=4) for i in range(USERS)]
            with conn.cursor() as cur:
                cur.executemany(
                    'INSERT INTO "User" (id, email, name) VALUES (%s, %s, %s)',
                    [(u, f"bench{i}@example.com", Jsonb({"en": f"Bench {i}"}))
                     for i, u in enumerate(users)],
                )
            conn.commit()
        results: list[tuple[str, int, float]] = []
        for n in sizes:
            rows = make_rows(n, users)
            for label, method in METHODS:
                best = float("inf")
                for _ in range(args.repeat):
                    with psycopg.connect(conninfo, autocommit=True) as conn:
                        conn.execute('TRUNCATE "BehaviorLog"')
                    with method(conninfo) as insert:
                        t0 = time.perf_counter()
                        insert(rows)
                        best = min(best, time.perf_counter() - t0)
                    with psycopg.connect(conninfo) as conn:
                        row = conn.execute('SELECT count(*) FROM "BehaviorLog"').fetchone()
                    if not row or row[0] != n:
                        raise SystemExit(f"{label}: expected {n} rows, found {row}")
                results.append((label, n, best))
        info = machine(conninfo, f"SQLAlchemy {sqlalchemy.__version__}")

    print("\n".join(info))
    print()
    header = f"| {'method':34} | {'rows':>7} | {'seconds':>7} | {'rows/s':>9} | {'vs ORM':>6} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for label, n, seconds in results:
        orm = next(s for lb, m, s in results if m == n and lb.startswith("SQLAlchemy"))
        print(f"| {label:34} | {n:>7} | {seconds:>7.3f} | {n / seconds:>9,.0f} | "
              f"{orm / seconds:>5.1f}x |")


if __name__ == "__main__":
    main()
