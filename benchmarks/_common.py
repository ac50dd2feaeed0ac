"""What every benchmark shares: a temporary embedded server and the machine's description."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from pgarchitect.server import LocalServer, embedded_server

PG15_BINDIR = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def temporary_server() -> Iterator[str]:
    """A fresh embedded PostgreSQL 18 in a temporary directory; yields its conninfo."""
    with tempfile.TemporaryDirectory(prefix="pga-bench-") as tmp:
        server = embedded_server(Path(tmp))
        server.start()
        try:
            yield server.conninfo("postgres")
        finally:
            server.destroy()


@contextmanager
def pg15_server(server_dir: Path, database: str, settings: Mapping[str, str], *,
                keep: bool) -> Iterator[str]:
    """Debian's PostgreSQL 15 (HypoPG) in ``server_dir`` with ``database``; yields its
    conninfo. Destroyed afterwards unless ``keep`` (or it was running before)."""
    if not (PG15_BINDIR / "postgres").is_file():
        raise SystemExit(f"No PostgreSQL 15 in {PG15_BINDIR}: apt-get install postgresql-15 "
                         "postgresql-15-hypopg (scripts/install-system-deps.sh)")
    server = LocalServer(bindir=PG15_BINDIR, datadir=server_dir / "pg15", os_user="postgres",
                         settings=dict(settings))
    _, was_running = server.start()
    try:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (database,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        yield server.conninfo(database)
    finally:
        if keep:
            print(f"server kept running in {server_dir}: {server.url(database)}",
                  file=sys.stderr)
        elif not was_running:
            server.destroy()
        else:
            print("server was already running before this run: left as it was", file=sys.stderr)


def cpu() -> str:
    """The line naming the machine: CPUs, those this process may use, the model."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"machine:    {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}"


def machine(conninfo: str, *extra: str) -> list[str]:
    """Lines naming the CPU, the PostgreSQL server and the client."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT version()").fetchone()
    client = ", ".join([f"Python {platform.python_version()}", f"psycopg {psycopg.__version__}",
                        *extra])
    return [
        cpu(),
        f"postgresql: {row[0] if row else '?'}",
        f"client:     {client}",
    ]
