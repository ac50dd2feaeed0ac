"""What-if: what would the planner do if these indexes existed?

Two engines answer behind one interface (:class:`WhatIf`), both with the planner's
own costs from :func:`pgarchitect.plans.generic_plan`:

- :class:`HypoPGWhatIf` asks HypoPG for hypothetical indexes: nothing is built,
  nothing is locked, the answer comes in milliseconds. HypoPG models only some
  index kinds (1.3.1 on PostgreSQL 15: btree with INCLUDE, expressions, partial
  predicates, DESC and operator classes; hash; brin; not gin, gist or spgist, and
  not a partial or expression index on a partitioned table).
- :class:`SandboxWhatIf` really builds the indexes inside a transaction that is
  always rolled back, so they are never visible to another session. It works
  everywhere (the embedded PostgreSQL has no HypoPG) and measures real sizes,
  but the build reads the whole table and holds a SHARE lock on it (writes wait)
  until the rollback.

:func:`open_engine` picks one: with HypoPG created in the database, ``auto`` is
:class:`CompositeWhatIf`, which plans with hypothetical indexes and builds in
the sandbox only the kinds HypoPG cannot model; without HypoPG, the sandbox.

An index that already exists (same definition) is never added again: the planner
already sees the real one, whose statistics beat any hypothetical copy. Each
engine keeps a cache of (statement, set of indexes) -> :class:`Costing`, so no
plan is asked twice.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import psycopg
from psycopg import pq, sql

from pgarchitect import db
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.catalog.index import IndexDef, quote
from pgarchitect.catalog.tables import TableInfo
from pgarchitect.errors import CapabilityMissing, ConfigError, PgArchitectError
from pgarchitect.plans import NoPlan, Plan, generic_plan

# Same as the ``sandbox_max_table_mb`` setting's default (2048 MB).
DEFAULT_MAX_TABLE_BYTES = 2 * 1024**3
# The sandbox's own limits; the session's (the settings lock_timeout and
# statement_timeout) are a ceiling: the smaller of the two applies.
DEFAULT_LOCK_TIMEOUT = "1s"  # a busy table: give up quickly rather than queue writers
DEFAULT_STATEMENT_TIMEOUT = "60s"  # one index build (or one EXPLAIN) at most
# HypoPG gives hypothetical indexes fake OIDs from the gap below FirstNormalObjectId
# (16384) left by the catalog, about 2,800 on PostgreSQL 15, and fails with "not more
# oid available" once they are all alive; past ~2,500 created in a backend it also
# starts searching the range for a free one. Keep a set well below that, and reset
# after REFRESH_AFTER creations, which also restarts the OID generator (hypopg.c,
# hypo_getNewOid and hypo_reset_fake_oids:
# https://github.com/HypoPG/hypopg/blob/REL1_3_1/hypopg.c).
DEFAULT_MAX_HYPOTHETICAL = 500
REFRESH_AFTER = 2000  # OIDs handed out before the engine resets HypoPG and starts over

SANDBOX_PREFIX = "pgarchitect_whatif_"  # names of the indexes the sandbox builds

MODES = ("auto", "hypopg", "sandbox")

# What a sandbox refusal of a large table suggests, depending on why the sandbox is used.
HINT_NO_HYPOPG = "pass --allow-large or install HypoPG"
HINT_HYPOPG_UNUSED = "pass --allow-large or --whatif=auto to use HypoPG"
HINT_BEHIND_HYPOPG = "pass --allow-large (HypoPG cannot model this index)"


class WhatIfError(PgArchitectError):
    """An engine could not answer (an index could not be sized or modeled)."""

    def __init__(self, reason: NoPlan) -> None:
        super().__init__(reason.reason)
        self.reason = reason


# -- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Costing:
    """The planner's answer for one statement with a set of extra indexes.

    ``total_cost`` is None when there is no plan; ``reason`` then says why.
    """

    query: str
    indexes: tuple[IndexDef, ...]  # the indexes asked about
    engine: str  # "hypopg", "sandbox", or "hypopg+sandbox"
    plan: Plan | None = None
    used: tuple[IndexDef, ...] = ()  # those of ``indexes`` the plan scans
    # Those of ``indexes`` that already exist, with the existing index's name
    # (schema-qualified); they were not added again.
    existing: Mapping[IndexDef, str] = field(default_factory=dict, hash=False)
    reason: NoPlan | None = None

    @property
    def total_cost(self) -> float | None:
        return None if self.plan is None else self.plan.total_cost

    @property
    def ok(self) -> bool:
        return self.plan is not None


@dataclass(frozen=True)
class CacheStats:
    """How often a cached answer was reused (hits) or the planner was asked (misses)."""

    hits: int
    misses: int
    entries: int


class CostCache:
    """(statement, set of indexes) -> :class:`Costing`, counting hits and misses.

    Answers that may differ on a second try (a lock not granted, a timeout, a
    serialization failure) are not kept.
    """

    _TRANSIENT = ("55P03", "57014", "40001", "40P01")

    def __init__(self) -> None:
        self._items: dict[tuple[str, frozenset[IndexDef]], Costing] = {}
        self.hits = 0
        self.misses = 0

    def get(self, query: str, indexes: frozenset[IndexDef]) -> Costing | None:
        found = self._items.get((query, indexes))
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, costing: Costing) -> None:
        if costing.reason is not None and costing.reason.sqlstate in self._TRANSIENT:
            return
        self._items[(costing.query, frozenset(costing.indexes))] = costing

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, len(self._items))


# -- the interface ------------------------------------------------------------------


class WhatIf(Protocol):
    """What the planner would do with extra indexes. A base cost is ``cost(query, [])``."""

    @property
    def name(self) -> str: ...

    @property
    def stats(self) -> CacheStats: ...

    def cost(self, query: str, indexes: Sequence[IndexDef]) -> Costing:
        """The plan of ``query`` with ``indexes`` added to the existing ones."""
        ...

    def costs(self, queries: Sequence[str], indexes: Sequence[IndexDef]) -> list[Costing]:
        """One plan per query with the same ``indexes``, set up once for all of them."""
        ...

    def size(self, index: IndexDef) -> int:
        """The index's size in bytes (estimated by HypoPG, measured by the sandbox)."""
        ...

    def supports(self, index: IndexDef) -> bool:
        """Whether this engine can model the index."""
        ...

    def close(self) -> None:
        """Forget hypothetical indexes; the connection stays open (it is the caller's)."""
        ...


# -- queries of the engines' own ------------------------------------------------------

BUILT_INDEX_SQL = """
SELECT quote_ident(c.relname), pg_get_indexdef(c.oid),
       coalesce((SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree(c.oid) p),
                pg_relation_size(c.oid))::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('i', 'I')
"""

# HypoPG 1.3.1 puts a hypothetical index of a partitioned table on each partition
# as it is, its predicate and expressions still in the terms of the parent: the
# planner never matches them, and a partial or expression index looks useless
# (hypo_index_match_table and hypo_injectHypotheticalIndex in hypopg_index.c;
# seen on PostgreSQL 15). A plain index works.
PARTITIONED_UNMODELED = ("HypoPG does not map a partial or expression index of a "
                         "partitioned table to its partitions: the planner would never use it")

# Errors that belong to one index or one evaluation, not to the connection: the
# DB-API groups stand for the SQLSTATE classes (42 undefined column or opclass,
# 22, 23 a UNIQUE candidate on duplicate values, 0A, XX HypoPG's own refusals).
_INDEX_ERRORS: tuple[type[psycopg.Error], ...] = (
    psycopg.ProgrammingError,
    psycopg.DataError,
    psycopg.IntegrityError,
    psycopg.NotSupportedError,
    psycopg.InternalError,
    psycopg.errors.QueryCanceled,  # statement_timeout
    psycopg.errors.LockNotAvailable,  # lock_timeout
    psycopg.errors.ProgramLimitExceeded,  # an index row too large
    psycopg.errors.InsufficientResources,  # disk full, out of memory
    psycopg.errors.ObjectNotInPrerequisiteState,
)

_ADVICE: Mapping[type[psycopg.Error], str] = {
    psycopg.errors.LockNotAvailable: "The table is busy with writes; try again later, or "
    "use HypoPG, which takes no lock.",
    psycopg.errors.QueryCanceled: "The build ran longer than the sandbox's "
    "statement_timeout; raise it or use HypoPG.",
    psycopg.errors.UniqueViolation: "The column's values are not unique.",
    psycopg.errors.InsufficientPrivilege: "Building an index, even in a rolled-back "
    "transaction, needs ownership of the table: run pgarchitect as the table's owner (or a "
    "member of the owning role), or use --whatif=hypopg, which builds nothing.",
}

# The smaller of a limit of ours and the session's, in milliseconds (pg_settings
# counts both timeouts in ms; 0 there is no limit).
TIMEOUT_CEILING_SQL = """
SELECT CASE WHEN s.setting::bigint > 0
            THEN least(s.setting::bigint, (extract(epoch FROM %s::interval) * 1000)::bigint)
            ELSE (extract(epoch FROM %s::interval) * 1000)::bigint END
FROM pg_settings s WHERE s.name = %s
"""


def effective_timeout(conn: psycopg.Connection[Any], setting: str, ours: str) -> str:
    """``ours`` (``"60s"``), unless the session's ``setting`` is smaller: that is the ceiling."""
    rows = _rows(conn, TIMEOUT_CEILING_SQL, [ours, ours, setting])
    return f"{int(rows[0][0])}ms" if rows and rows[0][0] is not None else ours


def _problem(exc: psycopg.Error, what: str) -> NoPlan:
    if exc.sqlstate is None:  # raised by psycopg itself: a bug here, not the index
        raise exc
    message = (exc.diag.message_primary or str(exc).splitlines()[0]).rstrip(".")
    advice = _ADVICE.get(type(exc))
    return NoPlan(f"{what}: {message}." + (f" {advice}" if advice else ""), exc.sqlstate)


def _rows(conn: psycopg.Connection[Any], query: sql.Composable | str,
          params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(query, params)  # type: ignore[arg-type]  # str: our constants
        return [tuple(r) for r in cur.fetchall()] if cur.description is not None else []


def _canonical(indexdef: str, quoted_name: str | None) -> str:
    """``CREATE INDEX ON …`` without the name: the form HypoPG prints, to compare.

    >>> _canonical("CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)", "t_pkey")
    'CREATE UNIQUE INDEX ON public.t USING btree (id)'
    """
    if quoted_name is None:
        return indexdef
    return indexdef.replace(f"INDEX {quoted_name} ON ", "INDEX ON ", 1)


def _rendered(index: IndexDef) -> str:
    """The index as ``pg_get_indexdef`` would print it, for the cheap duplicate check.

    Exact for plain columns; an expression may print differently (casts the server
    adds), in which case the server's own text is compared after creating it.

    >>> from pgarchitect.catalog.index import IndexKey
    >>> _rendered(IndexDef("public", "t", (IndexKey("a"),), include=("b",), where="b > 0"))
    'CREATE INDEX ON public.t USING btree (a) INCLUDE (b) WHERE (b > 0)'
    """
    text = (f"CREATE {'UNIQUE ' if index.unique else ''}INDEX ON "
            f"{quote(index.schema)}.{quote(index.table)} USING {index.method} "
            f"({index.key_list})")
    if index.include:
        text += f" INCLUDE ({', '.join(quote(c) for c in index.include)})"
    if index.where:
        text += f" WHERE ({index.where})"
    return text


def pretty_bytes(n: int) -> str:
    """A size for messages, in binary units as PostgreSQL counts them.

    >>> pretty_bytes(2 * 1024**3), pretty_bytes(12_900_000_000), pretty_bytes(1536 * 1024)
    ('2 GB', '12 GB', '1.5 MB')
    """
    size, units = float(n), ["bytes", "kB", "MB", "GB", "TB"]
    while size >= 1024 and len(units) > 1:
        size, units = size / 1024, units[1:]
    number = f"{size:.1f}".removesuffix(".0") if size < 10 else f"{size:.0f}"
    return f"{number} {units[0]}"


def _table(index: IndexDef) -> str:
    return f"{quote(index.schema)}.{quote(index.table)}"


def _kind(index: IndexDef) -> tuple[object, ...]:
    """What decides whether HypoPG can model an index: method, clauses, operator classes."""
    return (
        index.method,
        bool(index.include),
        any(k.expression is not None for k in index.keys),
        index.where is not None,
        index.unique,
        tuple(sorted({k.opclass for k in index.keys if k.opclass})),
    )


@dataclass
class _Setup:
    """The indexes in place for one evaluation, by the names a plan shows."""

    by_name: dict[str, list[IndexDef]] = field(default_factory=dict)  # schema.name -> asked
    existing: dict[IndexDef, str] = field(default_factory=dict)  # asked -> existing index

    def add(self, index: IndexDef, name: str) -> None:
        # A plan names an index as schema.name (plans.PlanNode.index_name).
        self.by_name.setdefault(f"{index.schema}.{name}", []).append(index)

    def add_existing(self, index: IndexDef, name: str) -> None:
        self.existing[index] = name
        self.add(index, name)

    def qualified_existing(self) -> dict[IndexDef, str]:
        return {ix: f"{quote(ix.schema)}.{quote(name)}" for ix, name in self.existing.items()}


# -- shared engine logic --------------------------------------------------------------


class _Engine:
    """Cache, duplicate detection and planning shared by the engines."""

    name = "engine"

    def __init__(self, conn: psycopg.Connection[Any], cache: CostCache | None = None,
                 catalog: DatabaseCatalog | None = None) -> None:
        self.conn = conn
        self.cache = cache if cache is not None else CostCache()
        # Existing indexes, sizes and kinds of tables come from the audit's catalog.
        self.catalog = catalog if catalog is not None else DatabaseCatalog(conn)
        self._existing: dict[tuple[str, str], dict[str, str]] = {}  # table -> canonical -> name
        self._known_duplicate: dict[IndexDef, str | None] = {}  # index -> existing name
        self._sizes: dict[IndexDef, int] = {}

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    def cost(self, query: str, indexes: Sequence[IndexDef]) -> Costing:
        """The plan of ``query`` with ``indexes`` added to the existing ones."""
        return self.costs([query], indexes)[0]

    def costs(self, queries: Sequence[str], indexes: Sequence[IndexDef]) -> list[Costing]:
        """One plan per query with the same ``indexes``, set up once for all of them."""
        wanted = tuple(dict.fromkeys(indexes))
        key = frozenset(wanted)
        found = {q: self.cache.get(q, key) for q in dict.fromkeys(queries)}
        missing = [q for q, c in found.items() if c is None]
        if missing:
            for costing in self._evaluate(missing, wanted):
                self.cache.put(costing)
                found[costing.query] = costing
        return [c for c in (found[q] for q in queries) if c is not None]

    def supports(self, index: IndexDef) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self) -> _Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _evaluate(self, queries: Sequence[str], indexes: tuple[IndexDef, ...]) -> list[Costing]:
        raise NotImplementedError

    # -- existing indexes

    def _table(self, schema: str, table: str) -> TableInfo | None:
        return self.catalog.tables([(schema, table)]).get((schema, table))

    def _existing_indexes(self, schema: str, table: str) -> dict[str, str]:
        """Canonical definition -> name of the valid indexes on the table (read once).

        The planner ignores an invalid index (a failed CONCURRENTLY build), and the
        sandbox's own are not the database's.
        """
        key = (schema, table)
        if key not in self._existing:
            info = self._table(schema, table)
            self._existing[key] = {
                _canonical(i.sql, quote(i.name)): i.name
                for i in (info.indexes if info else ())
                if i.valid and i.sql and not i.name.startswith(SANDBOX_PREFIX)}
        return self._existing[key]

    def _duplicate_of(self, index: IndexDef, canonical: str | None = None) -> str | None:
        """The name of an existing index with this definition, if there is one.

        Without ``canonical`` only the cheap check on the text as the client renders
        it is done; with the server's own text for the new index it is exact.
        """
        if index in self._known_duplicate:
            return self._known_duplicate[index]
        existing = self._existing_indexes(index.schema, index.table)
        name = existing.get(_rendered(index))
        if name is None and canonical is not None:
            name = existing.get(canonical)
        if name is not None or canonical is not None:
            self._known_duplicate[index] = name
        return name

    def _existing_size(self, index: IndexDef, name: str) -> int:
        info = self._table(index.schema, index.table)
        return next((i.bytes for i in (info.indexes if info else ()) if i.name == name), 0)

    # -- planning

    def _plan_all(self, queries: Sequence[str], indexes: tuple[IndexDef, ...],
                  setup: _Setup) -> list[Costing]:
        out = []
        for query in queries:
            result = generic_plan(self.conn, query)
            if isinstance(result, NoPlan):
                out.append(Costing(query, indexes, self.name,
                                   existing=setup.qualified_existing(), reason=result))
                continue
            used = {ix for n in result.indexes_used() for ix in setup.by_name.get(n, ())}
            out.append(Costing(
                query, indexes, self.name, plan=result,
                used=tuple(ix for ix in indexes if ix in used),
                existing=setup.qualified_existing(),
            ))
        return out

    def _failed(self, queries: Sequence[str], indexes: tuple[IndexDef, ...],
                reason: NoPlan) -> list[Costing]:
        return [Costing(q, indexes, self.name, reason=reason) for q in queries]


# -- HypoPG -------------------------------------------------------------------------------


class HypoPGWhatIf(_Engine):
    """Hypothetical indexes with HypoPG: no build, no lock, estimated sizes.

    Hypothetical indexes live in this connection's backend memory only and are
    seen only by plain EXPLAIN. The engine keeps the set of one evaluation alive
    and moves to the next set by dropping and creating only the difference, each
    in one round trip (consecutive questions of a search differ by an index or
    two); ``close()`` removes them all (``hypopg_reset()``). Until then every plain
    EXPLAIN on the connection sees the last set: close the engine (or use it as a
    context manager) before planning anything else there.
    """

    name = "hypopg"

    def __init__(self, conn: psycopg.Connection[Any], *,
                 max_hypothetical: int = DEFAULT_MAX_HYPOTHETICAL,
                 cache: CostCache | None = None,
                 catalog: DatabaseCatalog | None = None) -> None:
        super().__init__(conn, cache, catalog)
        found = db.extension(conn, "hypopg")
        if found is None:
            raise _hypopg_missing(conn)
        self.schema, self.version = found
        self.max_hypothetical = max_hypothetical
        self._kinds: dict[tuple[object, ...], bool] = {}
        self._kind_errors: dict[tuple[object, ...], str] = {}
        self._live: dict[IndexDef, tuple[int, str]] = {}  # created now: OID, name
        self._created = 0  # OIDs handed out since the last reset
        self._texts: dict[IndexDef, str] = {}  # CREATE INDEX statements, rendered once
        self._reset()  # start clean: the session may hold someone's hypothetical indexes

    def _fn(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)  # the extension's schema may not be on the path

    def _reset(self) -> None:
        # Not in a failed transaction: the error that failed it matters more (and the
        # indexes, which no rollback removes, are still known to be there).
        if (not self.conn.closed and not self.conn.broken
                and self.conn.info.transaction_status != pq.TransactionStatus.INERROR):
            _rows(self.conn, sql.SQL("SELECT {}()").format(self._fn("hypopg_reset")))
            self._live.clear()
            self._created = 0

    def _guarded(self, query: sql.Composable, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run ``query``; inside a caller's transaction, in a savepoint it survives."""
        if self.conn.autocommit and (self.conn.info.transaction_status
                                     == pq.TransactionStatus.IDLE):
            return _rows(self.conn, query, params)  # nothing to protect: no transaction
        with self.conn.transaction():
            return _rows(self.conn, query, params)

    def _create_many(self, indexes: Sequence[IndexDef]) -> list[tuple[int, str, str, int]]:
        """Create hypothetical indexes in one round trip: OID, name, definition, size each.

        The definition and size are asked for only the first time an index is made
        (an empty definition and the known size after that). Raises the server's
        error; the indexes of the batch created before it are then still there
        (HypoPG's memory is not transactional): reset after it.
        """
        texts = [self._text(ix) for ix in indexes]
        first = [ix not in self._sizes for ix in indexes]
        query = sql.SQL(
            "SELECT h.indexrelid, h.indexname, CASE WHEN d.first THEN {}(h.indexrelid) END, "
            "CASE WHEN d.first THEN {}(h.indexrelid) END "
            "FROM unnest(%s::text[], %s::bool[]) WITH ORDINALITY AS d(def, first, n), "
            "LATERAL {}(d.def) h ORDER BY d.n").format(self._fn("hypopg_get_indexdef"),
                                                      self._fn("hypopg_relation_size"),
                                                      self._fn("hypopg_create_index"))
        self._created += len(texts)
        rows = self._guarded(query, [texts, first])
        return [(int(oid), str(name), definition or "",
                 int(size) if size is not None else self._sizes[ix])
                for ix, (oid, name, definition, size) in zip(indexes, rows, strict=True)]

    def _text(self, index: IndexDef) -> str:
        if index not in self._texts:
            self._texts[index] = index.create_sql(concurrently=False).as_string(self.conn)
        return self._texts[index]

    def _create(self, index: IndexDef) -> tuple[int, str, str, int]:
        """Create one hypothetical index: its OID, name, definition and estimated size."""
        return self._create_many([index])[0]

    def _drop(self, *oids: int) -> None:
        self._guarded(sql.SQL("SELECT {}(o) FROM unnest(%s::oid[]) o").format(
            self._fn("hypopg_drop_index")), [list(oids)])

    def supports(self, index: IndexDef) -> bool:
        """Whether HypoPG can model this kind of index (probed once per kind).

        A refusal counts against the kind only when PostgreSQL itself accepts the
        same definition (on an empty copy of the table); otherwise the index is
        wrong, not HypoPG, and it goes to the fallback, which reports the real error.
        """
        if self._unmapped(index):
            return False
        kind = _kind(index)
        if kind in self._kinds:
            return self._kinds[kind]
        try:
            oid, *_ = self._create(index)
        except _INDEX_ERRORS as exc:
            if self._definition_error(index) is None:
                self._kinds[kind] = False
                self._kind_errors[kind] = _problem(exc, "HypoPG refused it").reason
            return False
        self._drop(oid)
        self._kinds[kind] = True
        return True

    def _unmapped(self, index: IndexDef) -> bool:
        """A partial or expression index on a partitioned table (see PARTITIONED_UNMODELED)."""
        if index.where is None and all(k.expression is None for k in index.keys):
            return False
        info = self._table(index.schema, index.table)
        return info is not None and info.kind == "partitioned table"

    def _definition_error(self, index: IndexDef) -> NoPlan | None:
        """Why PostgreSQL itself refuses the definition, tried on an empty copy of the table.

        HypoPG reports some of PostgreSQL's own refusals (an unknown column) as
        internal errors (XX000); this gives the real reason and SQLSTATE.
        """
        probe = replace(index, schema="pg_temp", table="pgarchitect_whatif_probe")
        try:
            with self.conn.transaction(force_rollback=True):
                _rows(self.conn, sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {})").format(
                    sql.Identifier(probe.schema, probe.table),
                    sql.Identifier(index.schema, index.table)))
                _rows(self.conn, probe.create_sql(concurrently=False, name="probe"))
        except _INDEX_ERRORS as exc:
            return _problem(exc, f"Could not create {index}")
        return None

    def size(self, index: IndexDef) -> int:
        """HypoPG's estimate (``hypopg_relation_size``); an existing index's real size."""
        if index in self._sizes:
            return self._sizes[index]
        if not self.supports(index):
            raise WhatIfError(self._unsupported(index))
        try:
            oid, _, definition, size = self._create(index)
        except _INDEX_ERRORS as exc:
            raise WhatIfError(self._definition_error(index) or _problem(
                exc, f"HypoPG could not create {index}")) from None
        self._drop(oid)
        if (name := self._duplicate_of(index, definition)) is not None:
            size = self._existing_size(index, name)
        self._sizes[index] = size
        return size

    def _unsupported(self, index: IndexDef) -> NoPlan:
        why = (PARTITIONED_UNMODELED if self._unmapped(index)
               else self._kind_errors.get(_kind(index), "HypoPG refused it."))
        return NoPlan(f"HypoPG {self.version} cannot model {index} ({why.rstrip('.')}). "
                      "Use --whatif=auto or --whatif=sandbox to build it in the sandbox.")

    @contextmanager
    def _hypothetical(self, indexes: Sequence[IndexDef], setup: _Setup) -> Iterator[
            NoPlan | None]:
        """Make ``indexes`` the hypothetical ones for one evaluation; yield why not, or None."""
        if len(indexes) > self.max_hypothetical:
            yield NoPlan(f"{len(indexes)} indexes in one set is above the limit of "
                         f"{self.max_hypothetical} hypothetical indexes at a time.")
            return
        wanted: list[IndexDef] = []
        for index in indexes:
            if (name := self._duplicate_of(index)) is not None:
                setup.add_existing(index, name)
            elif not self.supports(index):
                yield self._unsupported(index)
                return
            else:
                wanted.append(index)
        problem = self._make_live(wanted, setup)
        for index in wanted:
            if index in self._live:
                setup.add(index, self._live[index][1])
        yield problem

    def _make_live(self, wanted: Sequence[IndexDef], setup: _Setup) -> NoPlan | None:
        """Drop the live indexes not wanted, create the missing ones; why not, or None."""
        if self._created + len(wanted) > REFRESH_AFTER:
            self._reset()  # restart HypoPG's OID generator before it must search for free ones
        stale = [oid for index, (oid, _) in self._live.items() if index not in wanted]
        if stale:
            self._drop(*stale)
            self._live = {ix: v for ix, v in self._live.items() if ix in wanted}
        missing = [ix for ix in wanted if ix not in self._live]
        if not missing:
            return None
        try:
            created = self._create_many(missing)
        except _INDEX_ERRORS:
            self._reset()  # part of the batch may exist: start over, one at a time
            return self._create_each(wanted, setup)
        for index, row in zip(missing, created, strict=True):
            self._adopt(index, row, setup)
        return None

    def _create_each(self, wanted: Sequence[IndexDef], setup: _Setup) -> NoPlan | None:
        """Create the indexes one by one, to name the one the server refuses."""
        for index in wanted:
            try:
                row = self._create(index)
            except _INDEX_ERRORS as exc:
                return (self._definition_error(index)
                        or _problem(exc, f"HypoPG could not create {index}"))
            self._adopt(index, row, setup)
        return None

    def _adopt(self, index: IndexDef, row: tuple[int, str, str, int], setup: _Setup) -> None:
        """Keep a new hypothetical index, unless it turns out to copy an existing one."""
        oid, hypo_name, definition, size = row
        self._sizes.setdefault(index, size)
        if (name := self._duplicate_of(index, definition or None)) is not None:
            self._drop(oid)  # never trust a hypothetical copy of a real index
            setup.add_existing(index, name)
        else:
            self._live[index] = (oid, hypo_name)

    def _evaluate(self, queries: Sequence[str], indexes: tuple[IndexDef, ...]) -> list[Costing]:
        setup = _Setup()
        with self._hypothetical(indexes, setup) as problem:
            if problem is not None:
                return self._failed(queries, indexes, problem)
            return self._plan_all(queries, indexes, setup)

    def close(self) -> None:
        self._reset()


# -- sandbox --------------------------------------------------------------------------------


class SandboxWhatIf(_Engine):
    """Real indexes built inside a transaction that is always rolled back.

    The indexes are never visible to another session, but ``CREATE INDEX`` (not
    concurrently: that cannot run in a transaction) reads the whole table and
    holds a SHARE lock on it until the rollback: the table's writes wait for that
    long. So each evaluation is one short transaction with ``SET LOCAL``
    ``lock_timeout`` (give up rather than queue behind writers, who would then
    queue behind us) and ``statement_timeout``, each index of a set is built once
    in it, and tables above ``max_table_bytes`` are refused unless ``allow_large``.
    Sizes are measured with ``pg_relation_size`` inside the transaction.
    """

    name = "sandbox"

    def __init__(self, conn: psycopg.Connection[Any], *,
                 max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES, allow_large: bool = False,
                 lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
                 statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT,
                 cache: CostCache | None = None, hint: str = HINT_NO_HYPOPG,
                 catalog: DatabaseCatalog | None = None) -> None:
        super().__init__(conn, cache, catalog)
        self.max_table_bytes = max_table_bytes
        self.allow_large = allow_large
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout
        self.hint = hint  # what a refusal of a large table suggests
        self._names = itertools.count(1)
        self._refused: dict[tuple[str, str], NoPlan | None] = {}
        self._timeouts: dict[str, str] | None = None  # in effect, once read from the session

    def _refusal(self, index: IndexDef) -> NoPlan | None:
        """Why the table may not be built on (missing, or above the size limit), or None."""
        key = (index.schema, index.table)
        if key not in self._refused:
            info = self._table(*key)
            reason = None
            if info is None:
                reason = NoPlan(f"Table {_table(index)} does not exist.", "42P01")
            elif not self.allow_large and (size := info.heap_bytes) > self.max_table_bytes:
                reason = NoPlan(
                    f"Not tried: table {_table(index)} is {pretty_bytes(size)}, above the "
                    f"sandbox limit of {pretty_bytes(self.max_table_bytes)} "
                    f"(sandbox_max_table_mb): {self.hint}.", code="too_large")
            self._refused[key] = reason
        return self._refused[key]

    def _build(self, index: IndexDef, setup: _Setup) -> NoPlan | None:
        """Build one index in a savepoint; a duplicate of an existing one is rolled back."""
        if (name := self._duplicate_of(index)) is not None:
            setup.add_existing(index, name)
            return None
        # The backend's PID keeps two pgarchitect sessions off each other's names
        # (an uncommitted name in pg_class makes a second CREATE wait for the first).
        name = f"{SANDBOX_PREFIX}{self.conn.info.backend_pid}_{next(self._names)}"
        try:
            with self.conn.transaction() as savepoint:
                _rows(self.conn, index.create_sql(concurrently=False, name=name))
                quoted, definition, size = _rows(self.conn, BUILT_INDEX_SQL,
                                                 [index.schema, name])[0]
                self._sizes[index] = int(size or 0)
                if (existing := self._duplicate_of(index, _canonical(definition, quoted))):
                    setup.add_existing(index, existing)
                    raise psycopg.Rollback(savepoint)  # and with it the SHARE lock it took
                setup.add(index, name)
        except _INDEX_ERRORS as exc:
            return _problem(exc, f"Could not build {index} in the sandbox")
        return None

    @contextmanager
    def _sandbox(self, indexes: Sequence[IndexDef], setup: _Setup) -> Iterator[NoPlan | None]:
        """A rolled-back transaction with the indexes built; yield why not, or None."""
        with self.conn.transaction(force_rollback=True):
            if self._timeouts is None:  # the session's settings are the ceiling
                self._timeouts = {
                    "lock_timeout": effective_timeout(self.conn, "lock_timeout",
                                                      self.lock_timeout),
                    "statement_timeout": effective_timeout(self.conn, "statement_timeout",
                                                           self.statement_timeout)}
            for setting, value in self._timeouts.items():
                _rows(self.conn, "SELECT set_config(%s, %s, true)", [setting, value])
            problem = None
            for index in indexes:
                problem = self._refusal(index) or self._build(index, setup)
                if problem is not None:
                    break
            yield problem

    def _evaluate(self, queries: Sequence[str], indexes: tuple[IndexDef, ...]) -> list[Costing]:
        setup = _Setup()
        with self._sandbox(indexes, setup) as problem:
            if problem is not None:
                return self._failed(queries, indexes, problem)
            return self._plan_all(queries, indexes, setup)

    def size(self, index: IndexDef) -> int:
        """The real size (``pg_relation_size``) of the index built in the sandbox."""
        if index not in self._sizes:
            with self._sandbox([index], setup := _Setup()) as problem:
                if problem is not None:
                    raise WhatIfError(problem)
            if index not in self._sizes:  # not built: it exists already
                self._sizes[index] = self._existing_size(index, setup.existing[index])
        return self._sizes[index]


# -- HypoPG with the sandbox for what it cannot model ------------------------------------------


class CompositeWhatIf(_Engine):
    """HypoPG, with the sandbox building only the kinds HypoPG cannot model.

    Both act on the same connection in one evaluation, so the planner weighs the
    hypothetical and the sandboxed indexes together.
    """

    name = "hypopg+sandbox"

    def __init__(self, hypopg: HypoPGWhatIf, sandbox: SandboxWhatIf,
                 cache: CostCache | None = None) -> None:
        if hypopg.conn is not sandbox.conn:
            raise ValueError("the two engines must share one connection")
        super().__init__(hypopg.conn, cache, hypopg.catalog)
        self.hypopg, self.sandbox = hypopg, sandbox

    def supports(self, index: IndexDef) -> bool:
        return True

    def size(self, index: IndexDef) -> int:
        if self.hypopg.supports(index):
            return self.hypopg.size(index)
        return self.sandbox.size(index)

    def _evaluate(self, queries: Sequence[str], indexes: tuple[IndexDef, ...]) -> list[Costing]:
        built = [ix for ix in indexes if not self.hypopg.supports(ix)]
        hypothetical = [ix for ix in indexes if ix not in built]
        if not built:
            costings = self.hypopg._evaluate(queries, indexes)
        else:
            setup = _Setup()
            with self.sandbox._sandbox(built, setup) as problem, \
                    self.hypopg._hypothetical(hypothetical, setup) as hypo_problem:
                problem = problem or hypo_problem
                if problem is not None:
                    costings = self._failed(queries, indexes, problem)
                else:
                    costings = self._plan_all(queries, indexes, setup)
        return [replace(c, engine=self.name) for c in costings]

    def close(self) -> None:
        self.hypopg.close()


# -- choosing -------------------------------------------------------------------------------


def hypopg_created(conn: psycopg.Connection[Any]) -> bool:
    """Whether the HypoPG extension is created in the connected database."""
    return db.extension(conn, "hypopg") is not None


def _hypopg_missing(conn: psycopg.Connection[Any]) -> CapabilityMissing:
    return CapabilityMissing(
        f"HypoPG is not created in database {conn.info.dbname}. Run "
        "`CREATE EXTENSION hypopg` or pass --whatif=sandbox."
    )


def open_engine(
    conn: psycopg.Connection[Any],
    mode: str = "auto",
    *,
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    allow_large: bool = False,
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT,
    max_hypothetical: int = DEFAULT_MAX_HYPOTHETICAL,
    catalog: DatabaseCatalog | None = None,
) -> WhatIf:
    """The engine for ``mode``: ``hypopg``, ``sandbox``, or ``auto``.

    ``auto`` is HypoPG with the sandbox for the kinds it cannot model when HypoPG is
    created in the database, else the sandbox alone. Extensions are never created
    here: that is the DBA's decision.
    """
    if mode not in MODES:
        close = difflib.get_close_matches(mode, MODES, n=1)
        raise ConfigError(f"Unknown what-if engine '{mode}'. "
                          + (f"Did you mean '{close[0]}'?" if close
                             else f"Use one of: {', '.join(MODES)}."))
    has_hypopg = hypopg_created(conn)
    if mode == "hypopg" and not has_hypopg:
        raise _hypopg_missing(conn)
    if mode == "hypopg":
        return HypoPGWhatIf(conn, max_hypothetical=max_hypothetical, catalog=catalog)
    hint = (HINT_NO_HYPOPG if not has_hypopg
            else HINT_HYPOPG_UNUSED if mode == "sandbox" else HINT_BEHIND_HYPOPG)
    sandbox = SandboxWhatIf(conn, max_table_bytes=max_table_bytes, allow_large=allow_large,
                            lock_timeout=lock_timeout, statement_timeout=statement_timeout,
                            hint=hint, catalog=catalog)
    if mode == "sandbox" or not has_hypopg:
        return sandbox
    return CompositeWhatIf(HypoPGWhatIf(conn, max_hypothetical=max_hypothetical,
                                        catalog=catalog), sandbox)
