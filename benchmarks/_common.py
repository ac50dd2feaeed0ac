"""What every benchmark shares: a temporary embedded server and the machine's description."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from pgarchitect.server import embedded_server


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
