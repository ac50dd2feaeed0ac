"""The daily health snapshot: named figures with units, and the rows behind some of them.

Each figure has a stable name and unit (``FIGURES``): alert rules, gauges and charts
read them by name, so a name never changes meaning. A figure the server does not
show, or that needs an earlier snapshot, has the value None and a note that says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

# name -> (unit, what it is). Units: count, pct, ms, s, bytes, bytes/day, xids.
FIGURES: dict[str, tuple[str, str]] = {
    "connections_total": ("count", "client connections in use, pgarchitect's own included"),
    "connections_max": ("count", "max_connections"),
    "connections_used_pct": ("pct", "connections in use against max_connections"),
    "connections_active": ("count", "connections running a statement"),
    "connections_idle": ("count", "connections waiting for a command"),
    "connections_idle_in_transaction": ("count", "connections idle inside a transaction"),
    "connections_idle_in_transaction_aborted": ("count", "idle in a failed transaction"),
    "connections_fastpath": ("count", "connections in a fast-path function call"),
    "connections_disabled": ("count", "connections with track_activities off"),
    "connections_unknown": ("count", "connections whose state this role may not see"),
    "latency_p95_ms": ("ms", "estimated 95th percentile of statement execution time "
                             "since the previous snapshot"),
    "latency_mean_ms": ("ms", "mean statement execution time since the previous snapshot"),
    "statement_calls": ("count", "statements executed since the previous snapshot"),
    "cache_hit_tables_pct": ("pct", "table blocks found in shared buffers"),
    "cache_hit_indexes_pct": ("pct", "index blocks found in shared buffers"),
    "database_size_bytes": ("bytes", "pg_database_size of the database"),
    "database_growth_bytes_per_day": ("bytes/day", "size change per day over the stored "
                                                   "snapshots"),
    "disk_used_pct": ("pct", "disk space used where the data lives"),
    "sessions_long_running": ("count", "other sessions whose statement runs longer than "
                                       "health_long_running_s"),
    "sessions_idle_in_transaction": ("count", "other sessions idle in a transaction"),
    "transaction_longest_s": ("s", "age of the oldest open transaction of another session"),
    "locks_waiting": ("count", "lock requests not granted"),
    "lock_wait_longest_s": ("s", "longest wait for a lock"),
    "replicas": ("count", "standbys streaming from this server"),
    "replication_lag_max_bytes": ("bytes", "WAL not yet replayed by the furthest replica"),
    "replication_lag_max_s": ("s", "replay lag of the furthest replica"),
    "xid_age_max": ("xids", "age(datfrozenxid) of the oldest database of the server"),
    "xid_wraparound_margin": ("xids", "transaction ids left before wraparound (2^31)"),
    "xid_wraparound_used_pct": ("pct", "xid_age_max against 2^31"),
    "xid_freeze_max_age_pct": ("pct", "xid_age_max against autovacuum_freeze_max_age"),
    "dead_tuples_largest_tables": ("count", "dead tuples of the largest tables"),
}


@dataclass(frozen=True)
class Figure:
    """One figure's value (None when not known), and a note: how it was found or why not."""

    value: float | None
    note: str = ""
    estimated: bool = False

    @property
    def shown(self) -> str:
        """The value as printed: an estimate says so."""
        if self.value is None:
            return "-"
        text = (f"{self.value:.0f}" if float(self.value).is_integer()
                else f"{self.value:.2f}")
        return f"~{text} (estimated)" if self.estimated else text


@dataclass(frozen=True)
class Session:
    """Another session that is long-running or idle in a transaction."""

    pid: int
    state: str | None
    user: str | None
    application: str | None
    query_s: float | None       # seconds since its statement began
    transaction_s: float | None  # seconds since its transaction began
    query: str | None


@dataclass(frozen=True)
class LockWait:
    """A lock request not granted, and the sessions it waits for."""

    pid: int
    locktype: str
    mode: str
    relation: str | None
    waiting_s: float | None
    blocked_by: list[int]


@dataclass(frozen=True)
class Replica:
    """A standby streaming from the server."""

    name: str | None
    client: str | None
    state: str | None
    lag_bytes: float | None
    lag_s: float | None


@dataclass(frozen=True)
class TableVacuum:
    """One of the largest tables: its dead tuples and last vacuum."""

    table: str
    pages: int
    live_tuples: int | None
    dead_tuples: int | None
    last_autovacuum: datetime | None
    last_vacuum: datetime | None


@dataclass
class HealthSnapshot:
    """The health of one database at one moment (``database`` is host:port/dbname)."""

    database: str
    taken_at: datetime
    figures: dict[str, Figure] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)
    locks: list[LockWait] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)
    tables: list[TableVacuum] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def value(self, name: str) -> float | None:
        """A figure's value, None when it is not known."""
        f = self.figures.get(name)
        return None if f is None else f.value

    def to_json(self) -> dict[str, Any]:
        """A JSON document (the store's ``figures`` column, ``health --json``)."""
        def when(d: datetime | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "database": self.database,
            "taken_at": self.taken_at.isoformat(),
            "figures": {name: {"value": f.value, "unit": FIGURES.get(name, ("", ""))[0],
                               "note": f.note,
                               "estimated": f.estimated}
                        for name, f in self.figures.items()},
            "sessions": [asdict(s) for s in self.sessions],
            "locks": [asdict(lk) for lk in self.locks],
            "replicas": [asdict(r) for r in self.replicas],
            "tables": [{**asdict(t), "last_autovacuum": when(t.last_autovacuum),
                        "last_vacuum": when(t.last_vacuum)} for t in self.tables],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HealthSnapshot:
        """The snapshot ``to_json`` wrote (figures with unknown names are kept)."""
        def when(s: str | None) -> datetime | None:
            return None if s is None else datetime.fromisoformat(s)

        return cls(
            database=doc["database"],
            taken_at=datetime.fromisoformat(doc["taken_at"]),
            figures={name: Figure(f["value"], f.get("note", ""), bool(f.get("estimated")))
                     for name, f in doc.get("figures", {}).items()},
            sessions=[Session(**s) for s in doc.get("sessions", [])],
            locks=[LockWait(**lk) for lk in doc.get("locks", [])],
            replicas=[Replica(**r) for r in doc.get("replicas", [])],
            tables=[TableVacuum(**{**t, "last_autovacuum": when(t.get("last_autovacuum")),
                                   "last_vacuum": when(t.get("last_vacuum"))})
                    for t in doc.get("tables", [])],
            notes=list(doc.get("notes", [])),
        )
