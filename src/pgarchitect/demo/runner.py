"""`pgarchitect demo`: the embedded server, the demo database, its traffic, the result."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect import audit, db
from pgarchitect.delivery.deliver import Delivered
from pgarchitect.delivery.deliver import run as deliver
from pgarchitect.demo import data, traffic
from pgarchitect.errors import DemoError
from pgarchitect.server import embedded_server
from pgarchitect.settings import Config
from pgarchitect.workload import Filters, Workload, select
from pgarchitect.workload.collect import Request
from pgarchitect.workload.pgss import PgStatStatementsSource

DEMO_DATABASE = "pgarchitect_demo"



def demo_filters(rounds: int) -> Filters:
    """Thresholds that fit the demo's size.

    The runbook's (mean > 500 ms, > 100 calls) are for production; the demo runs a
    minute of traffic on a laptop-sized database. The rarest call in the traffic mix
    runs once in 5 rounds, so more than rounds / 10 calls keeps every kind of call.
    """
    return Filters(min_mean_ms=1.0, min_calls=max(1, rounds // 10), top=10)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoResult:
    """What one demo run did and found."""

    conninfo: str
    loaded: dict[str, int] | None  # rows per table, None when the data was reused
    load_seconds: float
    traffic: traffic.TrafficSummary
    workload: Workload
    filters: Filters
    audit: audit.AuditResult | None = None  # None when the audit was not asked for
    delivery: Delivered | None = None  # migrations, branch and report, after the audit


def _ensure_database(admin: psycopg.Connection[Any], reset: bool) -> None:
    exists = admin.execute(
        "SELECT 1 FROM pg_database WHERE datname = %s", [DEMO_DATABASE]
    ).fetchone()
    name = sql.Identifier(DEMO_DATABASE)
    if exists and reset:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
    if not exists or reset:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _is_loaded(conn: psycopg.Connection[Any]) -> bool:
    # The loader works in one transaction: if the table is there, so is the data.
    row = conn.execute("SELECT to_regclass('\"BehaviorLog\"') IS NOT NULL").fetchone()
    return bool(row and row[0])


def run(
    config: Config,
    *,
    reset: bool = False,
    scale: data.Scale | None = None,
    rounds: int | None = None,
    progress: Progress | None = None,
    filters: Filters | None = None,
    run_audit: bool = True,
    out_dir: Path | None = None,
) -> DemoResult:
    """Start (or reuse) the embedded server, load the demo if absent, play its traffic,
    list the slow statements and (unless ``run_audit`` is False) audit them.

    Statement statistics of the demo database are reset before the traffic, so the
    result shows this run's workload only.
    """
    server = embedded_server(config.data_dir, port=config.get_int("server_port"))
    server.start()
    with db.connect(server.conninfo("postgres"), config) as admin:
        _ensure_database(admin, reset)
    target = server.conninfo(DEMO_DATABASE)
    loaded = None
    rounds = traffic.DEFAULT_ROUNDS if rounds is None else rounds
    filters = filters or demo_filters(rounds)
    with db.connect(target, config) as conn:
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if not _is_loaded(conn):
            # The load is one long transaction: no statement_timeout for it.
            conn.execute("SET statement_timeout = 0")
            loaded = data.load(conn, scale or data.Scale(), progress=progress)
            conn.execute("RESET statement_timeout")  # back to pgarchitect's own
        load_seconds = time.perf_counter() - started
        # Loaded: from now on `pgarchitect workload`, `advise`… given no database
        # work on the demo's (db.embedded_database), not on the empty `postgres`.
        server.set_default_database(DEMO_DATABASE)
        # Count from here: the traffic, not the bulk load, is the demo's workload. A
        # full reset also moves pg_stat_statements_info.stats_reset, which tells the
        # advisor how long the window is; pg_stat_reset() restarts the tables'
        # write counters in the same window. (The embedded server is the demo's own.)
        conn.execute("SELECT pg_stat_statements_reset()")
        conn.execute("SELECT pg_stat_reset()")
        summary = traffic.run(target, rounds=rounds, progress=progress)
        source = PgStatStatementsSource(conn)
        found = select(source.read(), filters)
    result = delivered = None
    if run_audit:
        # The weekly audit, on the same statements and with the same thresholds.
        request = audit.AuditRequest(workload=Request(dsn=target, filters=filters))
        result = audit.run(config, request, progress=progress)
        # Delivered as the team would get it: Prisma migrations, a branch of their
        # repository (here a scratch one made from the demo's schema.prisma), the report.
        repo = scratch_repository(Path(config.data_dir) / "demo-repo")
        delivered = deliver(config, result, target, repo=repo, out_dir=out_dir)
    return DemoResult(target, loaded, load_seconds, summary, found, filters, result,
                      delivered)


def scratch_repository(path: Path) -> Path:
    """A git repository holding the demo's prisma/schema.prisma on branch main (made once)."""
    if (path / ".git").is_dir():
        return path
    schema = path / "prisma" / "schema.prisma"
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_text(data.prisma_schema())
    (path / "README.md").write_text("The demo education platform's repository (scratch).\n")
    identity = ["-c", "user.name=demo", "-c", "user.email=demo@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 [*identity, "commit", "-q", "-m", "The education platform's schema"]):
        try:
            subprocess.run(["git", *args], cwd=path, check=True, capture_output=True,
                           timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise DemoError(f"Could not make the demo's scratch repository in {path} "
                            f"({exc}): is git installed?") from None
    return path
