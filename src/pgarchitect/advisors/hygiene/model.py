"""What the hygiene rules read and what they return.

:class:`Snapshot` is the database's indexes and foreign keys with their counters,
read once per audit (:mod:`pgarchitect.advisors.hygiene.snapshot`); each rule turns
it into :class:`Finding` records, and the advisor turns each finding into a
:class:`pgarchitect.proposal.Proposal` whose ``detail`` is a :class:`HygieneDetail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pgarchitect.catalog.index import IndexDef, quote

MIN_DAYS: Final = 7.0  # the statistics must have counted this long before "no scans" means unused
MIN_BYTES: Final = 2**20  # smaller unused or duplicate indexes are not worth a change
MIN_FK_TABLE_BYTES: Final = 2**20  # a referencing table smaller than this needs no index


@dataclass(frozen=True)
class Limits:
    """The thresholds the rules apply (the defaults above, or a test's)."""

    min_days: float = MIN_DAYS
    min_bytes: int = MIN_BYTES
    min_fk_table_bytes: int = MIN_FK_TABLE_BYTES


@dataclass(frozen=True)
class Writes:
    """A table's write counters since the statistics were reset (pg_stat_user_tables)."""

    inserts: int = 0
    updates: int = 0
    hot_updates: int = 0
    deletes: int = 0

    @property
    def index_entries(self) -> int:
        """Writes that add an entry to every index: inserts and non-HOT updates."""
        return self.inserts + max(self.updates - self.hot_updates, 0)

    def text(self) -> str:
        return (f"{self.inserts:,} inserts, {self.updates:,} updates ({self.hot_updates:,} HOT), "
                f"{self.deletes:,} deletes")


@dataclass(frozen=True)
class IndexFacts:
    """One index as the rules see it."""

    oid: int
    schema: str
    table: str
    name: str
    definition: str  # pg_get_indexdef
    index: IndexDef | None  # None when the definition could not be parsed
    valid: bool  # indisvalid
    ready: bool  # indisready: writes maintain it
    unique: bool
    constraint: str | None  # "primary key", "unique" or "exclusion" when it backs one
    referenced: tuple[str, ...]  # foreign keys that depend on it (conindid)
    scans: int  # idx_scan since the statistics were reset
    bytes: int  # pg_relation_size
    building: bool  # pg_stat_progress_create_index shows a build on it or its table
    table_bytes: int  # the table's size with its indexes
    table_indexes: int  # how many indexes of the table writes maintain (indisready)
    writes: Writes
    last_scan: str | None = None  # pg_stat_user_indexes.last_idx_scan (16+), as text

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"

    @property
    def table_qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.table)}"

    @property
    def protected(self) -> str | None:
        """Why it must never be dropped by hygiene, or None."""
        if self.constraint:
            return f"it backs a {self.constraint} constraint"
        if self.referenced:
            return f"foreign key {', '.join(self.referenced)} depends on it"
        return None

    def write_share(self) -> float:
        """Its share of each write's work: the heap and every index count one each."""
        return 1.0 / (1 + max(self.table_indexes, 1))


@dataclass(frozen=True)
class ForeignKeyFacts:
    """A foreign key with what the missing-index rule needs."""

    name: str
    schema: str
    table: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str  # "no action", "restrict", "cascade", "set null", "set default"
    on_update: str
    table_bytes: int
    table_kind: str  # "table", "partitioned table", "partition"
    ref_writes: Writes  # the referenced table's counters

    @property
    def table_qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.table)}"

    @property
    def ref_qualified(self) -> str:
        return f"{quote(self.ref_schema)}.{quote(self.ref_table)}"


@dataclass
class Snapshot:
    """The database's indexes, foreign keys and the statistics' age, read once."""

    indexes: list[IndexFacts]
    foreign_keys: list[ForeignKeyFacts]
    reset_days: float | None  # days since the statistics were reset (None: unknown)
    reset_source: str  # where the age was read
    server_version: int  # server_version_num
    replicas: int = 0  # streaming standbys: their scans are not counted here
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One thing a rule found, with the SQL that fixes it and the SQL that undoes that."""

    rule: str  # unused, duplicate, invalid, fk_missing
    target: str  # schema.name of the index dropped, rebuilt or created
    table: str  # schema.table
    title: str
    problem: str
    reasoning: str
    forward: str
    rollback: str
    evidence: tuple[str, ...]
    bytes_freed: int = 0
    write_share: float | None = None  # share of each write's work saved (drops)
    index_entries: int = 0  # index entries the writes added since the reset
    keeper: str | None = None  # duplicates: the index that stays
    facts: dict[str, Any] = field(default_factory=dict)  # scans, reset age...: for the detail
    create: IndexDef | None = None  # fk_missing: the index to build and measure

    @property
    def id(self) -> str:
        """A stable id across audits, to silence a finding: ``rule:schema.name``."""
        return f"{self.rule}:{self.target}"


@dataclass(frozen=True)
class HygieneDetail:
    """What a hygiene proposal carries besides the shared record."""

    rule: str
    finding_id: str
    target: str
    table: str
    bytes_freed: int
    write_share: float | None
    index_entries: int
    keeper: str | None
    facts: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "finding_id": self.finding_id, "target": self.target,
                "table": self.table, "bytes_freed": self.bytes_freed,
                "write_share": self.write_share, "index_entries": self.index_entries,
                "keeper": self.keeper, **{k: v for k, v in self.facts.items()}}


def concurrent_create(definition: str) -> str:
    """``pg_get_indexdef`` text made ``CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS``.

    >>> concurrent_create("CREATE UNIQUE INDEX t_a ON public.t USING btree (a)")
    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_a ON public.t USING btree (a)'
    """
    for head in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        if definition.startswith(head):
            return f"{head}CONCURRENTLY IF NOT EXISTS {definition[len(head):]}"
    raise ValueError(f"not an index definition: {definition}")


def drop_concurrently(facts: IndexFacts) -> str:
    return f"DROP INDEX CONCURRENTLY IF EXISTS {facts.qualified}"


def size(n: int) -> str:
    """Bytes as people read them.

    >>> size(512), size(3 * 2**20), size(5 * 2**30)
    ('512 bytes', '3.0 MB', '5.0 GB')
    """
    if n < 2**10:
        return f"{n} bytes"
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def reset_text(snapshot: Snapshot) -> str:
    if snapshot.reset_days is None:
        return "the statistics' age is unknown"
    return f"statistics counted for {snapshot.reset_days:.1f} days ({snapshot.reset_source})"


def write_evidence(facts: IndexFacts) -> str:
    return (f"table {facts.table_qualified}: {facts.writes.text()} since the reset; each "
            f"insert and non-HOT update writes to all {facts.table_indexes} indexes "
            f"(this one ~{facts.write_share():.0%} of the write work)")


def leads_with(facts: IndexFacts, columns: tuple[str, ...]) -> bool:
    """Whether a usable index's first keys are exactly ``columns`` (in any order), so it
    serves lookups on them: a composite index that starts with them covers them.

    A partial index does not: the lookups of a foreign key are on every row.
    """
    index = facts.index
    if index is None or not facts.valid or index.where is not None:
        return False
    if index.method != "btree" and not (index.method == "hash" and len(columns) == 1):
        return False
    lead = index.keys[: len(columns)]
    return (len(lead) == len(columns) and all(k.column is not None for k in lead)
            and {k.column for k in lead} == set(columns))
