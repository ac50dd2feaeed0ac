"""TPC-H SF1 index selection: pgarchitect's choice against the published algorithms.

Usage:
    python benchmarks/tpch.py                            # peers only, PostgreSQL 15 + HypoPG
    python benchmarks/tpch.py --algorithm pgarchitect    # and pgarchitect's choice
    python benchmarks/tpch.py --measure baseline         # and the 19 queries run for real
    python benchmarks/tpch.py --keep-server              # leave the loaded server running
    python benchmarks/tpch.py --dsn URL                  # a server of yours (with HypoPG)

Generates TPC-H at scale factor 1 with ``tpchgen-cli`` (cached in --data-dir),
starts Debian's PostgreSQL 15 in --server-dir (or uses --dsn), loads the eight
tables with COPY into the schema ``tpch_sf1`` with no indexes and no primary keys,
and runs VACUUM ANALYZE once (autovacuum is off for those tables, so the
statistics stay the ones every number of the run is computed on). VACUUM sets
the visibility map, which the published runs had (their server's autovacuum ran
after the load): without it (--no-vacuum) index-only scans are costed with heap
fetches and covering indexes score up to 6 points worse than published. A loaded
schema is reused by a later run unless --reload.

Workload: the 19 queries of /work/shared/tpch/queries_sf1.sql (all but Q2, Q17,
Q20); Q15's view is created before its query and dropped after it. Workload cost
is the sum of the top plan node's "Total Cost" of ``EXPLAIN (FORMAT JSON)``;
relative cost is that sum with an index set (HypoPG hypothetical indexes) over
the sum with none. Every peer index set of peers_sf1_indexsets.json is scored in
the same run, on the same statistics; for a budget, the best set of each
algorithm whose HypoPG-estimated size fits it is shown (budgets in 10^6 bytes).
Planner settings are PostgreSQL's defaults (max_parallel_workers_per_gather = 2,
bitmap scans on): on them the no-index cost and every peer set's relative cost
come out as published within ANALYZE's sampling noise (about a point). --planner
platform sets what the evaluation platform's current connector sets per session
(max_parallel_workers_per_gather = 0, enable_bitmapscan = off): relative costs
then are about 10 points higher than the published ones.

--measure baseline runs the 19 queries for real with no indexes (each capped by
statement_timeout, 300 s); --measure sets builds (CREATE INDEX) and runs
pgarchitect's choice for each budget and the peer sets of --measure-peers, and
reports the built size (pg_relation_size) against HypoPG's estimate; --measure
all does both. Wall time of each query, rows fetched (--run-as explain-analyze:
under EXPLAIN ANALYZE, as the evaluation platform timed them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from _common import machine, pg15_server
from psycopg import sql

Conn = psycopg.Connection[tuple[Any, ...]]

SHARED = Path("/work/shared/tpch")
DEFAULT_QUERIES = SHARED / "queries_sf1.sql"
DEFAULT_PEER_SETS = SHARED / "peers_sf1_indexsets.json"
DEFAULT_PEER_TABLE = SHARED / "peers_sf1.txt"
DEFAULT_DATA_DIR = Path("/tmp/pgarchitect-tpch/data")
DEFAULT_SERVER_DIR = Path("/tmp/pgarchitect-tpch/server")

SCHEMA = "tpch_sf1"
DATABASE = "tpch"
LEFT_OUT = frozenset({2, 17, 20})
BUDGETS_MB = (250, 500, 1000, 1500)
MB = 10**6  # budgets and sizes in units of 10^6 bytes, as the published table
TIMEOUT_S = 300  # the published runs' per-query statement_timeout

# The server this script starts: a throwaway one, so durability is off (faster
# load); the memory is sized for SF1 (about 1.4 GB of tables) on a 24 GB machine.
# Planner settings (work_mem, effective_cache_size, random_page_cost,
# max_parallel_workers_per_gather, ...) stay at PostgreSQL's defaults: the published
# costs are reproduced with them.
SERVER_SETTINGS = {
    "shared_buffers": "'2GB'",
    "maintenance_work_mem": "'1GB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
}

# What the evaluation platform's PostgreSQL connector sets on every session
# (hyrise/index_selection_evaluation, selection/dbms/postgres_dbms.py).
PLATFORM_SESSION = {"max_parallel_workers_per_gather": "0", "enable_bitmapscan": "off"}

SHOWN_SETTINGS = (
    "shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size",
    "random_page_cost", "max_parallel_workers_per_gather", "enable_bitmapscan", "jit",
    "autovacuum", "fsync", "wal_level",
)

# The TPC-H schema as dbgen's dss.ddl has it (the types size the HypoPG estimates).
TABLES: dict[str, str] = {
    "region": "r_regionkey integer not null, r_name char(25) not null, "
              "r_comment varchar(152)",
    "nation": "n_nationkey integer not null, n_name char(25) not null, "
              "n_regionkey integer not null, n_comment varchar(152)",
    "part": "p_partkey integer not null, p_name varchar(55) not null, "
            "p_mfgr char(25) not null, p_brand char(10) not null, p_type varchar(25) not null, "
            "p_size integer not null, p_container char(10) not null, "
            "p_retailprice decimal(15,2) not null, p_comment varchar(23) not null",
    "supplier": "s_suppkey integer not null, s_name char(25) not null, "
                "s_address varchar(40) not null, s_nationkey integer not null, "
                "s_phone char(15) not null, s_acctbal decimal(15,2) not null, "
                "s_comment varchar(101) not null",
    "partsupp": "ps_partkey integer not null, ps_suppkey integer not null, "
                "ps_availqty integer not null, ps_supplycost decimal(15,2) not null, "
                "ps_comment varchar(199) not null",
    "customer": "c_custkey integer not null, c_name varchar(25) not null, "
                "c_address varchar(40) not null, c_nationkey integer not null, "
                "c_phone char(15) not null, c_acctbal decimal(15,2) not null, "
                "c_mktsegment char(10) not null, c_comment varchar(117) not null",
    "orders": "o_orderkey integer not null, o_custkey integer not null, "
              "o_orderstatus char(1) not null, o_totalprice decimal(15,2) not null, "
              "o_orderdate date not null, o_orderpriority char(15) not null, "
              "o_clerk char(15) not null, o_shippriority integer not null, "
              "o_comment varchar(79) not null",
    "lineitem": "l_orderkey integer not null, l_partkey integer not null, "
                "l_suppkey integer not null, l_linenumber integer not null, "
                "l_quantity decimal(15,2) not null, l_extendedprice decimal(15,2) not null, "
                "l_discount decimal(15,2) not null, l_tax decimal(15,2) not null, "
                "l_returnflag char(1) not null, l_linestatus char(1) not null, "
                "l_shipdate date not null, l_commitdate date not null, "
                "l_receiptdate date not null, l_shipinstruct char(25) not null, "
                "l_shipmode char(10) not null, l_comment varchar(44) not null",
}
# Rows at SF1: a loaded schema is reused only if it has exactly these.
SF1_ROWS = {"region": 5, "nation": 25, "part": 200_000, "supplier": 10_000,
            "partsupp": 800_000, "customer": 150_000, "orders": 1_500_000,
            "lineitem": 6_001_215}


# -- the workload -------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    """One TPC-H query: the statement to plan, with what must exist around it."""

    number: int
    body: str
    setup: tuple[str, ...] = ()  # e.g. Q15's CREATE VIEW
    teardown: tuple[str, ...] = ()  # e.g. Q15's DROP VIEW


def load_queries(path: Path) -> list[Query]:
    """The 19 benchmark queries of ``path`` (split at its ``-- Qn`` lines)."""
    chunks = re.split(r"^-- Q(\d+)\s*$", path.read_text(), flags=re.MULTILINE)
    queries = []
    for number_text, text in zip(chunks[1::2], chunks[2::2], strict=True):
        number = int(number_text)
        if number in LEFT_OUT:
            continue
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        statements = [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
        setup = tuple(s for s in statements if re.match(r"(?i)create\s+view\b", s))
        teardown = tuple(s for s in statements if re.match(r"(?i)drop\s+view\b", s))
        bodies = [s for s in statements if s not in setup and s not in teardown]
        if len(bodies) != 1:
            raise ValueError(f"Q{number}: expected one query besides views, got {len(bodies)}")
        queries.append(Query(number, bodies[0], setup, teardown))
    found = {q.number for q in queries}
    expected = set(range(1, 23)) - LEFT_OUT
    if found != expected:
        raise ValueError(f"{path}: queries {sorted(expected - found)} missing")
    return queries


@contextmanager
def around(conn: Conn, queries: Sequence[Query]) -> Iterator[None]:
    """The queries' views exist inside the block (for planning many at once)."""
    for q in queries:
        for stmt in q.setup:
            conn.execute(stmt)
    try:
        yield
    finally:
        for q in queries:
            for stmt in q.teardown:
                conn.execute(stmt)


def plan_costs(conn: Conn, queries: Sequence[Query]) -> dict[int, float]:
    """Each query's top plan node "Total Cost" (views created and dropped around it)."""
    costs = {}
    for q in queries:
        with around(conn, [q]):
            row = conn.execute(f"EXPLAIN (FORMAT JSON) {q.body}").fetchone()
        assert row is not None
        doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
        costs[q.number] = float(doc[0]["Plan"]["Total Cost"])
    return costs


# -- index sets -----------------------------------------------------------------------

def peer_statement(spec: str) -> str:
    """``lineitem(l_orderkey, l_quantity)`` as a CREATE INDEX statement."""
    match = re.fullmatch(r"\s*(\w+)\s*\(([\w\s,]+)\)\s*", spec)
    if not match:
        raise ValueError(f"not an index of the peers' file: {spec!r}")
    columns = ", ".join(c.strip() for c in match.group(2).split(","))
    return f"CREATE INDEX ON {match.group(1)} ({columns})"


def index_key(statement: str) -> str:
    """A CREATE INDEX statement reduced to what identifies the index, for the report.

    >>> index_key('CREATE INDEX ON "tpch_sf1"."lineitem" USING btree ("l_partkey") '
    ...           "WHERE l_shipmode IN ('AIR', 'REG AIR')")
    "lineitem(l_partkey) WHERE l_shipmode IN ('AIR', 'REG AIR')"
    """
    text = " ".join(statement.split())
    text = re.sub(r"(?i)^CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(IF NOT EXISTS )?(\S+ )?ON "
                  r"(ONLY )?", r"\1", text)
    text = re.sub(r'^(\S*?\.)?"?(\w+)"? (USING btree )?', r"\2", text)
    return text.replace('"', "")


@contextmanager
def hypothetical(conn: Conn, statements: Sequence[str]) -> Iterator[list[int]]:
    """The statements as HypoPG indexes inside the block; yields their sizes in bytes."""
    conn.execute("SELECT hypopg_reset()")
    try:
        sizes = []
        for stmt in statements:
            row = conn.execute("SELECT indexrelid FROM hypopg_create_index(%s)",
                               (stmt,)).fetchone()
            if row is None:
                raise RuntimeError(f"HypoPG did not create {stmt}")
            size = conn.execute("SELECT hypopg_relation_size(%s)", (row[0],)).fetchone()
            sizes.append(int(size[0]) if size else 0)
        yield sizes
    finally:
        conn.execute("SELECT hypopg_reset()")


@dataclass
class Scored:
    """An index set's planner cost and HypoPG size on this run's statistics."""

    statements: tuple[str, ...]
    hypo_bytes: int
    costs: dict[int, float]

    @property
    def total(self) -> float:
        return sum(self.costs.values())


def score(conn: Conn, queries: Sequence[Query], statements: Sequence[str]) -> Scored:
    with hypothetical(conn, statements) as sizes:
        costs = plan_costs(conn, queries)
    return Scored(tuple(statements), sum(sizes), costs)


@dataclass
class PeerSet:
    """One row of the published table and the index set behind it."""

    algorithm: str
    param: str
    indexes: tuple[str, ...]
    published_mb: float
    published_rel: float | None
    selection_s: float
    scored: Scored | None = None


def load_peers(sets_path: Path, table_path: Path | None) -> tuple[list[PeerSet], float | None]:
    """The peers' index sets, with their published relative costs when the table is there."""
    published: dict[tuple[str, str], float] = {}
    baseline = None
    if table_path is not None and table_path.is_file():
        algorithm = ""
        for line in table_path.read_text().splitlines():
            if m := re.match(r"no-index workload cost:\s*([\d,.]+)", line):
                baseline = float(m.group(1).replace(",", ""))
            elif m := re.match(r"==\s*(\S+)", line):
                algorithm = m.group(1)
            elif m := re.match(r"\s*param=\s*(\S+)\s+rel_cost=\s*([\d.]+)%", line):
                published[(algorithm, m.group(1))] = float(m.group(2)) / 100
    peers = []
    for algorithm, rows in json.loads(sets_path.read_text()).items():
        for param, row in rows.items():
            peers.append(PeerSet(
                algorithm, param, tuple(row["indexes"]), float(row["mem_MB"]),
                published.get((algorithm, param)), float(row["runtime_s"]),
            ))
    return peers, baseline


def score_peers(conn: Conn, queries: Sequence[Query], peers: Sequence[PeerSet]) -> None:
    """Score every distinct peer set once (HypoPG sizes per index, costs per set)."""
    by_set: dict[frozenset[str], Scored] = {}
    for peer in peers:
        key = frozenset(peer.indexes)
        if key not in by_set:
            by_set[key] = score(conn, queries, [peer_statement(i) for i in peer.indexes])
        peer.scored = by_set[key]


# -- pgarchitect ------------------------------------------------------------------------

def pgarchitect_choice(conn: Conn, queries: list[str], budget_bytes: int) -> list[str]:
    """pgarchitect's index set for ``queries`` within ``budget_bytes``: CREATE INDEX statements.

    ``conn`` is an autocommit connection to the loaded database with the run's
    planner settings, ``search_path`` set to the TPC-H schema, HypoPG installed and
    Q15's view ``revenue0`` created; ``queries`` are the 19 SELECTs (Q15's without
    its CREATE/DROP VIEW). The selection is the advisor's own (``advise.choose``),
    with HypoPG as the what-if engine; the gates that protect a production workload
    (min_cost, min_savings_pct, indexes per table) are opened, since the benchmark
    scores the workload's total cost within a budget and nothing else.
    """
    from pgarchitect.advisors.index.advise import choose
    from pgarchitect.advisors.index.selection import Options
    from pgarchitect.workload import Statement

    options = Options(budget=budget_bytes, min_cost=0.0, min_savings_pct=0.0,
                      max_per_table=100)
    chosen = choose(conn, [Statement(q, calls=1) for q in queries], options,
                    whatif="hypopg", max_table_bytes=0)
    return [c.index.create_sql(concurrently=False).as_string(conn)
            for c in chosen.selection.chosen]


@dataclass
class Chosen:
    """pgarchitect's choice for one budget."""

    budget_mb: int
    statements: list[str]
    selection_s: float
    scored: Scored


def run_pgarchitect(conn: Conn, queries: Sequence[Query], budgets: Sequence[int]) -> list[Chosen]:
    results = []
    for budget in budgets:
        conn.execute("SELECT hypopg_reset()")
        with around(conn, queries):
            started = time.perf_counter()
            statements = pgarchitect_choice(conn, [q.body for q in queries], budget * MB)
            elapsed = time.perf_counter() - started
        conn.execute("SELECT hypopg_reset()")
        results.append(Chosen(budget, statements, elapsed, score(conn, queries, statements)))
        print(f"pgarchitect {budget} MB: {len(statements)} indexes in {elapsed:.1f} s",
              file=sys.stderr)
    return results


# -- measured runtime -------------------------------------------------------------------

@dataclass
class Measured:
    """The 19 queries run for real with an index set built (or none)."""

    label: str
    seconds: dict[int, float]
    timed_out: set[int]
    built_bytes: int = 0
    hypo_bytes: int = 0
    build_s: float = 0.0
    load_before: float = 0.0  # 1-minute load average when the runs began and ended
    load_after: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def run_queries(conn: Conn, queries: Sequence[Query], timeout_s: int, run_as: str = "execute",
                ) -> tuple[dict[int, float], set[int]]:
    """Each query's wall time; a query cancelled by the timeout counts the cap.

    ``run_as`` "execute" runs the query and fetches its rows; "explain-analyze" runs
    it under EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), as the evaluation platform
    does (per-node timing adds to the time).
    """
    seconds: dict[int, float] = {}
    timed_out: set[int] = set()
    prefix = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " if run_as == "explain-analyze" else ""
    for q in queries:
        with around(conn, [q]):
            conn.execute(f"SET statement_timeout = '{timeout_s}s'")
            started = time.perf_counter()
            try:
                conn.execute(prefix + q.body).fetchall()
                seconds[q.number] = time.perf_counter() - started
            except psycopg.errors.QueryCanceled:
                seconds[q.number] = float(timeout_s)
                timed_out.add(q.number)
            finally:
                conn.execute("RESET statement_timeout")
        mark = " (timeout)" if q.number in timed_out else ""
        print(f"  Q{q.number}: {seconds[q.number]:.2f} s{mark}", file=sys.stderr)
    return seconds, timed_out


def measure(conn: Conn, queries: Sequence[Query], label: str, statements: Sequence[str],
            timeout_s: int, run_as: str) -> Measured:
    """Build the indexes, run the queries, drop the indexes."""
    print(f"measuring {label} ({len(statements)} indexes)", file=sys.stderr)
    hypo_bytes = score(conn, queries, statements).hypo_bytes if statements else 0
    names: list[str] = []
    saved = table_stats(conn)
    started = time.perf_counter()
    try:
        for i, stmt in enumerate(statements):
            name = f"tpch_bench_{i}"
            conn.execute(_named(stmt, name))
            names.append(name)
        build_s = time.perf_counter() - started
        built = 0
        for name in names:
            row = conn.execute("SELECT pg_relation_size(%s::regclass)",
                               (f"{SCHEMA}.{name}",)).fetchone()
            built += int(row[0]) if row else 0
        load_before = os.getloadavg()[0]
        seconds, timed_out = run_queries(conn, queries, timeout_s, run_as)
        load_after = os.getloadavg()[0]
    finally:
        for name in names:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(SCHEMA, name)))
        if names:
            restore_stats(conn, saved)
    return Measured(label, seconds, timed_out, built, hypo_bytes, build_s, load_before,
                    load_after)


TableStats = dict[int, tuple[int, float, int]]  # oid: relpages, reltuples, relallvisible


def table_stats(conn: Conn) -> TableStats:
    rows = conn.execute(
        "SELECT oid::int8, relpages, reltuples, relallvisible FROM pg_class "
        "WHERE relnamespace = %s::regnamespace AND relkind = 'r'", (SCHEMA,)).fetchall()
    return {int(oid): (int(pages), float(tuples), int(visible))
            for oid, pages, tuples, visible in rows}


def restore_stats(conn: Conn, saved: TableStats) -> None:
    """Put back the tables' size statistics that CREATE INDEX overwrote.

    CREATE INDEX sets the table's reltuples to the exact count it scanned (ANALYZE
    had an estimate): without this, the planner's costs after a measured index set
    would no longer be those of the run's statistics. Needs a superuser.
    """
    if table_stats(conn) == saved:
        return
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not (row and row[0]):
        print("warning: CREATE INDEX updated the tables' reltuples and this role cannot put "
              "them back: costs of later runs on this schema differ slightly", file=sys.stderr)
        return
    with conn.transaction():
        for oid, (pages, tuples, visible) in saved.items():
            conn.execute("UPDATE pg_class SET relpages = %s, reltuples = %s, relallvisible = %s "
                         "WHERE oid = %s", (pages, tuples, visible, oid))


def _named(statement: str, name: str) -> str:
    """``CREATE INDEX [name] ON ...`` with the given name (so it can be found and dropped)."""
    match = re.match(r"(?is)\s*create\s+(unique\s+)?index\s+(?:concurrently\s+)?"
                     r"(?:if\s+not\s+exists\s+)?(?:(?!on\b)\S+\s+)?on\b(.*)", statement)
    if not match:
        raise ValueError(f"not a CREATE INDEX statement: {statement!r}")
    return f"CREATE {match.group(1) or ''}INDEX {name} ON{match.group(2)}"


# -- data and server ---------------------------------------------------------------------

def tpchgen() -> str:
    exe = Path(sys.executable).parent / "tpchgen-cli"
    found = str(exe) if exe.is_file() else shutil.which("tpchgen-cli")
    if not found:
        raise SystemExit("tpchgen-cli not found: .venv/bin/pip install tpchgen-cli")
    return found


def generate(data_dir: Path, scale: int) -> tuple[Path, float | None]:
    """The SF ``scale`` CSV files (one per table), generated unless already there."""
    target = data_dir / f"sf{scale}"
    done = target / ".complete"
    if done.is_file():
        return target, None
    target.mkdir(parents=True, exist_ok=True)
    threads = str(max(1, len(os.sched_getaffinity(0))))
    started = time.perf_counter()
    subprocess.run([tpchgen(), "csv", "-s", str(scale), "-o", str(target), "--overwrite",
                    "-n", threads, "-q"], check=True)
    elapsed = time.perf_counter() - started
    missing = [t for t in TABLES if not (target / f"{t}.csv").is_file()]
    if missing:
        raise SystemExit(f"tpchgen-cli wrote no {', '.join(missing)} in {target}")
    done.write_text(f"tpchgen-cli csv -s {scale}\n")
    return target, elapsed


def row_counts(conn: Conn) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        row = conn.execute(
            "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s", (SCHEMA, table)).fetchone()
        if row is None:
            return {}
        counts[table] = int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(SCHEMA, table))).fetchone()[0])  # type: ignore[index]
    return counts


@dataclass
class Load:
    copy_s: float
    analyze_s: float
    rows: dict[str, int]
    table_bytes: int
    all_visible: float  # share of the tables' pages marked all-visible


def load(conn: Conn, data: Path, vacuum: bool) -> Load:
    """Fresh schema, COPY every table (in one transaction), then (VACUUM) ANALYZE."""
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        for table, columns in TABLES.items():
            conn.execute(sql.SQL("CREATE TABLE {} ({}) WITH (autovacuum_enabled = false)").format(
                sql.Identifier(SCHEMA, table), sql.SQL(columns)))
            # FREEZE (the table is new in this transaction): rows frozen and pages
            # all-visible as they are written, as VACUUM would leave them. (A plain
            # VACUUM right after this load was seen to mark only some pages.)
            copy_sql = sql.SQL("COPY {} FROM STDIN (FORMAT csv, HEADER true{})").format(
                sql.Identifier(SCHEMA, table), sql.SQL(", FREEZE true" if vacuum else ""))
            with conn.cursor().copy(copy_sql) as copy, (data / f"{table}.csv").open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
    copy_s = time.perf_counter() - started
    started = time.perf_counter()
    command = "VACUUM ANALYZE" if vacuum else "ANALYZE"
    for table in TABLES:
        conn.execute(sql.SQL("{} {}").format(sql.SQL(command),
                                             sql.Identifier(SCHEMA, table)))
    for _ in range(5 if vacuum else 0):
        # Should COPY FREEZE not have marked every page (it does on PostgreSQL 14+).
        if all_visible(conn) >= 0.999:
            break
        time.sleep(1)
        for table in TABLES:
            conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(SCHEMA, table)))
    analyze_s = time.perf_counter() - started
    conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
        sql.Identifier(SCHEMA), sql.Literal(f"TPC-H SF1 from {data}, then {command}")))
    return Load(copy_s, analyze_s, row_counts(conn), schema_bytes(conn), all_visible(conn))


def all_visible(conn: Conn) -> float:
    """The share of the tables' pages the visibility map has as all-visible."""
    row = conn.execute(
        "SELECT sum(relallvisible)::float8 / greatest(sum(relpages), 1) FROM pg_class "
        "WHERE relnamespace = %s::regnamespace AND relkind = 'r'", (SCHEMA,)).fetchone()
    return float(row[0] or 0.0) if row else 0.0


def schema_bytes(conn: Conn) -> int:
    row = conn.execute(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
        "AND c.relkind = 'r'", (SCHEMA,)).fetchone()
    return int(row[0] or 0) if row else 0


@contextmanager
def given_server(dsn: str) -> Iterator[str]:
    yield dsn


def connect(conninfo: str, planner: str) -> Conn:
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(SCHEMA)))
    if planner == "platform":
        for name, value in PLATFORM_SESSION.items():
            conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    return conn


def settings_lines(conn: Conn) -> list[str]:
    rows = conn.execute("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)",
                        (list(SHOWN_SETTINGS),)).fetchall()
    values = {name: _with_unit(setting, unit) for name, setting, unit in rows}
    hypopg = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    return [
        "settings:   " + ", ".join(f"{n}={values[n]}" for n in SHOWN_SETTINGS if n in values),
        f"hypopg:     {hypopg[0] if hypopg else '?'}",
    ]


def _with_unit(setting: str, unit: str | None) -> str:
    if unit in ("8kB", "kB") and setting.isdigit():
        kb = int(setting) * (8 if unit == "8kB" else 1)
        for factor, name in ((1 << 20, "GB"), (1 << 10, "MB")):
            if kb % factor == 0:
                return f"{kb // factor}{name}"
        return f"{kb}kB"
    return setting


# -- output ---------------------------------------------------------------------------

def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def mb(value: float | None) -> str:
    return "" if value is None else f"{value / MB:,.1f}"


def seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    right = [i > 0 for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if r else c.ljust(w)
                                 for c, w, r in zip(cells, widths, right, strict=True)) + " |"
    return [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(fmt(r) for r in rows)]


@dataclass
class Report:
    baseline: Scored
    budgets: Sequence[int]
    peers: Sequence[PeerSet]
    chosen: Sequence[Chosen]
    measured: dict[str, Measured] = field(default_factory=dict)
    published_baseline: float | None = None
    run_as: str = "execute"
    timeout_s: int = TIMEOUT_S

    def best_peers(self, budget: int) -> list[PeerSet]:
        """Each algorithm's best set (lowest relative cost) that fits ``budget``."""
        best: dict[str, PeerSet] = {}
        for peer in self.peers:
            assert peer.scored is not None
            if peer.scored.hypo_bytes > budget * MB:
                continue
            have = best.get(peer.algorithm)
            if have is None or (peer.scored.total, peer.scored.hypo_bytes) < (
                    have.scored.total, have.scored.hypo_bytes):  # type: ignore[union-attr]
                best[peer.algorithm] = peer
        return sorted(best.values(), key=lambda p: p.scored.total)  # type: ignore[union-attr]

    def rel(self, scored: Scored) -> float:
        return scored.total / self.baseline.total

    def budget_tables(self) -> list[str]:
        out = []
        header = ["algorithm", "rel. cost", "published", "HypoPG MB", "built MB",
                  "selection s", "runtime s"]
        no_index = self.measured.get("no indexes")
        for budget in self.budgets:
            rows = []
            for chosen in (c for c in self.chosen if c.budget_mb == budget):
                m = self.measured.get(f"pgarchitect {budget}")
                over = " (over budget)" if chosen.scored.hypo_bytes > budget * MB else ""
                rows.append([f"pgarchitect ({len(chosen.statements)} idx)",
                             pct(self.rel(chosen.scored)), "",
                             mb(chosen.scored.hypo_bytes) + over,
                             mb(m.built_bytes) if m else "", seconds(chosen.selection_s),
                             _runtime(m)])
            for peer in self.best_peers(budget):
                assert peer.scored is not None
                m = self.measured.get(f"{peer.algorithm}:{peer.param}")
                rows.append([f"{peer.algorithm} {peer.param} ({len(peer.indexes)} idx)",
                             pct(self.rel(peer.scored)), pct(peer.published_rel),
                             mb(peer.scored.hypo_bytes), mb(m.built_bytes) if m else "",
                             f"{peer.selection_s:.1f}*", _runtime(m)])
            if no_index:
                rows.append(["no indexes", "100.00%", "", "0.0", "0.0", "", _runtime(no_index)])
            out += ["", f"budget {budget} MB", "", *table(header, rows)]
        out += ["", "rel. cost: this run's statistics; published: peers_sf1.txt for the same "
                "set; * published selection time"]
        return out

    def peer_table(self) -> list[str]:
        rows = []
        for peer in self.peers:
            assert peer.scored is not None
            ours = self.rel(peer.scored)
            diff = "" if peer.published_rel is None else f"{100 * (ours - peer.published_rel):+.2f}"
            rows.append([peer.algorithm, peer.param, pct(ours), pct(peer.published_rel), diff,
                         mb(peer.scored.hypo_bytes), f"{peer.published_mb:,.1f}"])
        return ["", "every peer set: this run vs published", "",
                *table(["algorithm", "param", "rel. cost", "published", "diff (points)",
                        "HypoPG MB", "published MB"], rows)]

    def measured_table(self) -> list[str]:
        if not self.measured:
            return []
        labels = list(self.measured)
        header = ["query", "cost (no idx)", *(f"{label} s" for label in labels)]
        rows = []
        for number in sorted(self.baseline.costs):
            cells = [f"Q{number}", f"{self.baseline.costs[number]:,.0f}"]
            for label in labels:
                m = self.measured[label]
                mark = " (cap)" if number in m.timed_out else ""
                cells.append(f"{m.seconds[number]:.2f}{mark}")
            rows.append(cells)
        rows.append(["total", f"{self.baseline.total:,.0f}",
                     *(f"{self.measured[label].total:.1f}" for label in labels)])
        rows.append(["built MB / HypoPG MB", "",
                     *(f"{mb(self.measured[label].built_bytes)} / "
                       f"{mb(self.measured[label].hypo_bytes)}" for label in labels)])
        rows.append(["CREATE INDEX s", "",
                     *(f"{self.measured[label].build_s:.1f}" for label in labels)])
        rows.append(["load average before, after", "",
                     *(f"{self.measured[label].load_before:.2f}, "
                       f"{self.measured[label].load_after:.2f}" for label in labels)])
        how = ("EXPLAIN ANALYZE of each query" if self.run_as == "explain-analyze"
               else "each query run, rows fetched")
        return ["", f"measured: wall time, {how}; statement_timeout {self.timeout_s} s (a "
                "cancelled query counts the cap)", "", *table(header, rows)]


def _runtime(m: Measured | None) -> str:
    if m is None:
        return ""
    return f"{m.total:.1f}" + (f" ({len(m.timed_out)} at cap)" if m.timed_out else "")


# -- main -------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS_MB)),
                        help="comma-separated, in MB of 10^6 bytes (default %(default)s)")
    parser.add_argument("--algorithm", choices=("pgarchitect", "none"), default="pgarchitect",
                        help="pgarchitect: score pgarchitect's choice too (default); "
                        "none: the peers only")
    parser.add_argument("--peers", type=Path, default=DEFAULT_PEER_SETS,
                        help="the peers' index sets (JSON); 'none' to skip")
    parser.add_argument("--peer-table", type=Path, default=DEFAULT_PEER_TABLE,
                        help="the published table, for its relative costs")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES,
                        help="the TPC-H queries (default %(default)s)")
    parser.add_argument("--measure", choices=("none", "baseline", "sets", "all"),
                        default="none",
                        help="run the queries for real: baseline with no indexes (about "
                        "5 min: Q21 hits the timeout), sets with pgarchitect's and "
                        "--measure-peers' index sets built, all both")
    parser.add_argument("--measure-peers", default="extend:500",
                        help="peer sets (algorithm:param, comma-separated) --measure sets "
                        "or all builds and runs (default %(default)s)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_S,
                        help="per-query statement_timeout in s (default %(default)s)")
    parser.add_argument("--run-as", choices=("execute", "explain-analyze"), default="execute",
                        help="measure each query run plainly (rows fetched) or under EXPLAIN "
                        "(ANALYZE, BUFFERS) as the evaluation platform did (default "
                        "%(default)s)")
    parser.add_argument("--planner", choices=("server", "platform"), default="server",
                        help="server: the server's settings (PostgreSQL's defaults, as the "
                        "published numbers); platform: max_parallel_workers_per_gather=0 and "
                        "enable_bitmapscan=off per session, as the evaluation platform's "
                        "connector sets them")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="where the generated data is cached (default %(default)s)")
    parser.add_argument("--server-dir", type=Path, default=DEFAULT_SERVER_DIR,
                        help="where the PostgreSQL 15 cluster lives (default %(default)s)")
    parser.add_argument("--dsn", help="a PostgreSQL with HypoPG to use instead (its database "
                        f"gets the schema {SCHEMA})")
    parser.add_argument("--keep-server", action="store_true",
                        help="leave the server and the loaded data for a later run")
    parser.add_argument("--reload", action="store_true",
                        help="generate if needed and load even if a loaded schema is there (new "
                        "ANALYZE statistics)")
    parser.add_argument("--no-vacuum", dest="vacuum", action="store_false",
                        help="only ANALYZE after the load (index-only scans then cost heap "
                        "fetches: relative costs of covering indexes up to 6 points worse "
                        "than published)")
    parser.add_argument("--no-peer-detail", action="store_true",
                        help="leave out the table of every peer set")
    args = parser.parse_args(argv)
    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    queries = load_queries(args.queries)
    peers: list[PeerSet] = []
    published_baseline = None
    if str(args.peers) != "none":
        peers, published_baseline = load_peers(args.peers, args.peer_table)
    measure_keys = [k.strip() for k in args.measure_peers.split(",") if k.strip()]
    for key in measure_keys:
        if not any(f"{p.algorithm}:{p.param}" == key for p in peers):
            parser.error(f"--measure-peers: no peer set {key!r}")

    server = (given_server(args.dsn) if args.dsn
              else pg15_server(args.server_dir, DATABASE, SERVER_SETTINGS, keep=args.keep_server))
    with server as conninfo:
        info = machine(conninfo, f"tpchgen-cli {_tpchgen_version()}")
        with connect(conninfo, args.planner) as conn:
            planner = ("the evaluation platform's per-session " + ", ".join(
                f"{k}={v}" for k, v in PLATFORM_SESSION.items())
                if args.planner == "platform" else "the server's settings")
            lines = [*info, *settings_lines(conn), f"planner:    {planner}"]
            counts = row_counts(conn)
            if counts == SF1_ROWS and not args.reload:
                row = conn.execute(
                    "SELECT obj_description(%s::regnamespace, 'pg_namespace'), "
                    "(SELECT max(greatest(last_analyze, last_autoanalyze)) "
                    "FROM pg_stat_user_tables WHERE schemaname = %s)",
                    (SCHEMA, SCHEMA)).fetchone()
                how, when = row if row else ("?", "?")
                lines.append(f"data:       reused the loaded schema {SCHEMA} ({how}; statistics "
                             f"of {when:%Y-%m-%d %H:%M}), "
                             f"{schema_bytes(conn) / MB:,.0f} MB of tables, "
                             f"{100 * all_visible(conn):.0f}% of pages all-visible")
            else:
                data, gen_s = generate(args.data_dir, 1)
                print(f"loading {data} ...", file=sys.stderr)
                loaded = load(conn, data, args.vacuum)
                if loaded.rows != SF1_ROWS:
                    raise SystemExit(f"unexpected row counts: {loaded.rows}")
                lines.append(
                    f"data:       TPC-H SF1, {sum(loaded.rows.values()):,} rows, "
                    f"{loaded.table_bytes / MB:,.0f} MB of tables; "
                    + (f"tpchgen-cli {gen_s:.1f} s, " if gen_s is not None else "cached CSV, ")
                    + f"COPY {loaded.copy_s:.1f} s, "
                    + ("VACUUM ANALYZE" if args.vacuum else "ANALYZE")
                    + f" {loaded.analyze_s:.1f} s; {100 * loaded.all_visible:.0f}% of pages "
                    "all-visible")
            print("\n".join(lines), file=sys.stderr)

            started = time.perf_counter()
            baseline = score(conn, queries, [])
            score_peers(conn, queries, peers)
            scoring_s = time.perf_counter() - started
            lines.append(f"workload:   19 queries, no-index cost {baseline.total:,.2f}"
                         + (f" (published {published_baseline:,.2f})"
                            if published_baseline else "")
                         + f"; {len({frozenset(p.indexes) for p in peers})} distinct peer sets "
                         f"scored in {scoring_s:.1f} s")

            chosen: list[Chosen] = []
            if args.algorithm == "pgarchitect":
                chosen = run_pgarchitect(conn, queries, budgets)
            report = Report(baseline, budgets, peers, chosen,
                            published_baseline=published_baseline, run_as=args.run_as,
                            timeout_s=args.timeout)

            if args.measure in ("baseline", "all"):
                report.measured["no indexes"] = measure(conn, queries, "no indexes", [],
                                                        args.timeout, args.run_as)
            if args.measure in ("sets", "all"):
                for c in chosen:
                    report.measured[f"pgarchitect {c.budget_mb}"] = measure(
                        conn, queries, f"pgarchitect {c.budget_mb}", c.statements,
                        args.timeout, args.run_as)
                for key in measure_keys:
                    peer = next(p for p in peers if f"{p.algorithm}:{p.param}" == key)
                    report.measured[key] = measure(
                        conn, queries, key, [peer_statement(i) for i in peer.indexes],
                        args.timeout, args.run_as)

    print("\n".join(lines))
    print("\n".join(report.budget_tables()))
    if chosen:
        print()
        for c in chosen:
            print(f"pgarchitect {c.budget_mb} MB: " + "; ".join(
                index_key(s) for s in c.statements))
    print("\n".join(report.measured_table()))
    if peers and not args.no_peer_detail:
        print("\n".join(report.peer_table()))


def _tpchgen_version() -> str:
    try:
        out = subprocess.run([tpchgen(), "--version"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError, SystemExit):
        return "?"
    return out.split()[-1] if out.split() else "?"


if __name__ == "__main__":
    main()
