"""What the hygiene rules read and what they return.

:class:`Snapshot` is the database's tables, indexes and foreign keys with their
counters, sizes (``relpages`` * block size: reading them waits on no lock) and
transaction-ID ages,
read once per audit (:mod:`pgarchitect.advisors.hygiene.snapshot`); each rule turns
it into :class:`Finding` records, and the advisor turns each finding into a
:class:`pgarchitect.proposal.Proposal` whose ``detail`` is a :class:`HygieneDetail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from psycopg import sql

from pgarchitect.catalog.index import IndexDef, quote
from pgarchitect.proposal import Factor
from pgarchitect.settings import Config

MIN_DAYS: Final = 7.0  # the statistics must have counted this long before "no scans" means unused
MIN_BYTES: Final = 2**20  # smaller unused or duplicate indexes are not worth a change
MIN_FK_TABLE_BYTES: Final = 2**20  # a referencing table smaller than this needs no index
# The defaults of the hygiene_* settings (settings.py states them for users).
BLOAT_SHARE: Final = 0.3  # share of a relation that is free space before it is bloated
BLOAT_BYTES: Final = 10 * 2**20  # and at least this much of it
DEAD_RATIO: Final = 0.2  # dead tuples' share of a table's tuples
VACUUM_MIN_BYTES: Final = 10 * 2**20  # smaller tables are vacuumed quickly enough
VACUUM_MAX_DAYS: Final = 7.0  # a table with writes not vacuumed for this long
HOT_MIN_UPDATES: Final = 10_000  # updates since the reset before the HOT share counts
HOT_MAX_SHARE: Final = 0.5  # HOT updates' share below which indexes are looked at
WRAPAROUND_MAX_AGE: Final = 500_000_000  # age(relfrozenxid) that is worth a VACUUM FREEZE


@dataclass(frozen=True)
class Limits:
    """The thresholds the rules apply (the defaults above, the settings, or a test's)."""

    min_days: float = MIN_DAYS
    min_bytes: int = MIN_BYTES
    min_fk_table_bytes: int = MIN_FK_TABLE_BYTES
    bloat_share: float = BLOAT_SHARE
    bloat_bytes: int = BLOAT_BYTES
    dead_ratio: float = DEAD_RATIO
    vacuum_min_bytes: int = VACUUM_MIN_BYTES
    vacuum_max_days: float = VACUUM_MAX_DAYS
    hot_min_updates: int = HOT_MIN_UPDATES
    hot_max_share: float = HOT_MAX_SHARE
    wraparound_max_age: int = WRAPAROUND_MAX_AGE

    @classmethod
    def from_config(cls, config: Config, **fixed: Any) -> Limits:
        """The hygiene_* settings, with ``fixed`` values (a test's) over them."""
        values: dict[str, Any] = {
            "bloat_share": config.get_float("hygiene_bloat_share"),
            "bloat_bytes": config.get_int("hygiene_bloat_min_mb") * 2**20,
            "dead_ratio": config.get_float("hygiene_dead_ratio"),
            "vacuum_min_bytes": config.get_int("hygiene_vacuum_min_mb") * 2**20,
            "vacuum_max_days": config.get_float("hygiene_vacuum_max_days"),
            "hot_min_updates": config.get_int("hygiene_hot_min_updates"),
            "hot_max_share": config.get_float("hygiene_hot_max_share"),
            "wraparound_max_age": config.get_int("hygiene_wraparound_max_age"),
        }
        return cls(**{**values, **fixed})


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
    method: str = "btree"  # pg_am.amname
    tuples: float = 0.0  # pg_class.reltuples of the index (-1 or 0: unknown)
    key_width: float | None = None  # bytes of its keys (pg_stats avg_width; None: unknown)
    fillfactor: int = 90  # its fillfactor (b-tree default 90)

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


@dataclass(frozen=True)
class TableFacts:
    """One table as the vacuum, bloat, HOT and wraparound rules see it."""

    schema: str
    name: str
    oid: int = 0
    pages: int = 0  # pg_class.relpages (as of the last VACUUM or ANALYZE)
    bytes: int = 0  # relpages * block size
    rows: float = 0.0  # pg_class.reltuples (-1: never analyzed)
    row_width: float | None = None  # data bytes of an average row (pg_stats; None: unknown)
    live: int = 0  # pg_stat_user_tables.n_live_tup
    dead: int = 0  # n_dead_tup
    writes: Writes = field(default_factory=Writes)
    vacuum_days: float | None = None  # since the last VACUUM or autovacuum (None: never)
    autovacuum_days: float | None = None  # since the last autovacuum (None: never)
    xid_age: int = 0  # age(relfrozenxid), the table's or its TOAST table's, the older
    fillfactor: int = 100
    options: tuple[str, ...] = ()  # pg_class.reloptions

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def dead_ratio(self) -> float:
        """Dead tuples' share of the table's tuples (0 when it has none)."""
        total = self.live + self.dead
        return self.dead / total if total else 0.0


@dataclass(frozen=True)
class Exact:
    """A relation's free space measured by pgstattuple, or why it was not."""

    free_bytes: int | None  # free and dead space (None: not measured)
    source: str  # "pgstattuple_approx", "pgstatindex", or why not ("locked", ...)


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
    tables: list[TableFacts] = field(default_factory=list)
    block_size: int = 8192
    database: str = ""  # current_database()
    database_xid_age: int = 0  # age(datfrozenxid)
    freeze_max_age: int = 200_000_000  # autovacuum_freeze_max_age
    xid_per_day: float | None = None  # transaction IDs assigned per day (None: unknown)
    xid_rate_source: str = "unknown"
    extensions: tuple[str, ...] = ()  # of pgstattuple and pg_repack, those created
    exact: dict[str, Exact] = field(default_factory=dict)  # schema.name -> pgstattuple's
    locked: tuple[str, ...] = ()  # schema.table whose indexes were left out (a lock)

    def table(self, schema: str, name: str) -> TableFacts | None:
        return next((t for t in self.tables if (t.schema, t.name) == (schema, name)), None)


@dataclass(frozen=True)
class Finding:
    """One thing a rule found, with the SQL that fixes it and the SQL that undoes that."""

    rule: str  # unused, duplicate, invalid, fk_missing, bloat, hot_updates, vacuum, wraparound
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
    factors: tuple[Factor, ...] = ()  # the rule's own confidence factors

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


def render(statement: sql.Composable) -> str:
    """SQL composed with psycopg.sql as the text a migration holds.

    >>> render(sql.SQL("VACUUM {}").format(sql.Identifier("public", "t")))
    'VACUUM "public"."t"'
    """
    return statement.as_string(None)


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
