"""The demo's events per type per day: the statement, and its rewrite over a materialized view.

Usage:
    python benchmarks/preaggregate.py [--runs 5] [--small]

Starts a temporary embedded PostgreSQL 18 and loads the demo data (2,000,000
``"BehaviorLog"`` rows over 180 days by default). Builds the view the cache advisor
proposes for the demo's statement (as pg_stat_statements shows it) and times it:
its build (CREATE MATERIALIZED VIEW and its unique index), its size, and a
``REFRESH MATERIALIZED VIEW CONCURRENTLY``. Then the statement and its rewrite over
the view, for 7, 14 and 30 days (unit 'day'): one warm-up run each, then the median
of ``--runs`` timed runs (wall time at the client), with their rows compared. Last,
the advisor's own proposal for the statement, measured as an audit measures it (in
a rolled-back transaction, the view built there).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import psycopg
from _common import machine, temporary_server
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.cache import CacheAdvisor
from pgarchitect.advisors.cache.model import Skip
from pgarchitect.advisors.cache.rules import preaggregate
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.demo import data
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

# The demo's EVENT_COUNTS_PER_DAY as pg_stat_statements normalises it.
STATEMENT = ('SELECT date_trunc($2, "timestamp") AS day, "eventType" AS event_type, '
             'count(*) AS events FROM "BehaviorLog" WHERE "timestamp" > NOW() - '
             'make_interval(days => $1) GROUP BY 1, 2 ORDER BY 1, 2')
DAYS = (7, 14, 30)


def _timed(conn: psycopg.Connection[Any], query: str, values: Sequence[Any],
           runs: int) -> tuple[float, Counter[tuple[Any, ...]]]:
    """Median milliseconds of ``runs`` runs after one warm-up, and the rows."""
    times = []
    with psycopg.RawCursor(conn) as cur:
        cur.execute(query, values)
        result = Counter(cur.fetchall())
        for _ in range(runs):
            started = time.perf_counter()
            cur.execute(query, values)
            cur.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def _seconds(conn: psycopg.Connection[Any], *statements: str) -> float:
    started = time.perf_counter()
    for statement in statements:
        conn.execute(statement)  # composed with psycopg.sql by the rule
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each statement")
    parser.add_argument("--small", action="store_true", help="the test scale instead")
    args = parser.parse_args(argv)
    scale = data.Scale.small() if args.small else data.Scale()
    with temporary_server() as admin:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("demo")))
        target = make_conninfo(admin, dbname="demo")
        loaded = data.load(target, scale)
        config = load_config()
        with db.connect(target, config) as conn:
            zone = str((conn.execute("SHOW TimeZone").fetchone() or ("UTC",))[0])
            found = preaggregate.plan(STATEMENT, DatabaseCatalog(conn), zone,
                                      config.get_int("preaggregate_min_rows"))
            if isinstance(found, Skip):
                raise SystemExit(f"No view for the demo's statement: {found.reason}")
            table = []
            for days in DAYS:
                before, rows = _timed(conn, STATEMENT, (days, "day"), args.runs)
                table.append((days, before, rows))
            build = _seconds(conn, *found.ddl)
            size = (conn.execute("SELECT pg_total_relation_size(%s::regclass)",
                                 [f'"{found.shape.view}"']).fetchone() or (0,))[0]
            view_rows = (conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(found.shape.schema, found.shape.view))).fetchone() or (0,))[0]
            refresh = _seconds(conn, found.refresh)
            timed = []
            for days, before, rows in table:
                after, rewritten = _timed(conn, found.rewritten, (days, "day"), args.runs)
                timed.append((days, before, after, sum(rows.values()), rows == rewritten))
            conn.execute(found.drop)
            ctx = Context(conn, config, DatabaseCatalog(conn), runs=args.runs)
            statement = Statement(STATEMENT, calls=1, total_ms=timed[0][1], mean_ms=timed[0][1])
            proposed = CacheAdvisor().propose(ctx, [Subject(statement, analyze(
                STATEMENT, ctx.catalog.relations))])
            proposal = proposed.drafts[0].measure(ctx) if proposed.drafts else None
        info = machine(admin)
    print("\n".join(info))
    print(f"data:       {loaded['BehaviorLog']:,} BehaviorLog rows over {scale.days} days; "
          f"median of {args.runs} runs after a warm-up, unit 'day'; time zone {zone}")
    print()
    print("| days | rows | statement ms | rewrite over the view ms | faster | same rows |")
    print("|---|---|---|---|---|---|")
    for days, before, after, rows, same in timed:
        print(f"| {days} | {rows:,} | {before:.1f} | {after:.1f} | {before / after:.1f}x | "
              f"{'yes' if same else 'NO'} |")
    print()
    print(f"view {found.shape.view}: {view_rows:,} rows, {size / 1024:,.0f} kB; built (with its "
          f"unique index) in {build:.2f} s; REFRESH ... CONCURRENTLY in {refresh:.2f} s")
    if proposal is None:
        print(f"advisor: no proposal: {proposed.outcomes[STATEMENT].reason}")
    else:
        [m] = proposal.statements
        print(f"advisor: {proposal.title}; measured {m.median_before or 0:.1f} ms → "
              f"{m.median_after or 0:.1f} ms with {m.values} (gain {proposal.measured_gain:.1%}, "
              f"confidence {proposal.confidence:.1f}, {proposal.action})")


if __name__ == "__main__":
    main()
