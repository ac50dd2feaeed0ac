"""The server's activity counters, made visible to the test that just caused them."""

from __future__ import annotations

from typing import Any


def flush(conn: Any) -> None:
    """Make this session's counters visible now (PostgreSQL 15+ flushes them lazily)."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")
    conn.execute("SELECT pg_stat_clear_snapshot()")
