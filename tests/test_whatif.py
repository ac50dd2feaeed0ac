"""What-if: HypoPG and the sandbox against real servers.

PostgreSQL 15 has HypoPG 1.3.1 (both engines run there), the embedded
PostgreSQL 18 has none (the sandbox only). Each test gets its own database with
``items``: 50,000 rows, analyzed, with only its primary key indexed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import pq
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors.index.whatif import (
    CompositeWhatIf,
    Costing,
    HypoPGWhatIf,
    SandboxWhatIf,
    WhatIf,
    WhatIfError,
    effective_timeout,
    open_engine,
)
from pgarchitect.catalog.index import IndexDef, IndexKey
from pgarchitect.errors import CapabilityMissing, ConfigError
from pgarchitect.settings import load_config

SCHEMA = """
CREATE TABLE items (
    id int PRIMARY KEY,
    a int NOT NULL,          -- 5,000 values: an equality finds 10 rows
    b text NOT NULL,         -- md5 text, for LIKE '%…%' and trigrams
    c int NOT NULL,          -- 7 values: an index on it hardly helps
    created_at timestamptz NOT NULL
);
INSERT INTO items
SELECT g, g % 5000, md5(g::text), g % 7, timestamptz '2024-01-01' + g * interval '1 minute'
FROM generate_series(1, 50000) g;
ANALYZE items;
"""

EQUALITY = "SELECT * FROM items WHERE a = $1"
CONTAINS = "SELECT * FROM items WHERE b LIKE '%abc%'"


def ix(*columns: str, **kwargs: object) -> IndexDef:
    return IndexDef("public", "items", tuple(IndexKey(c) for c in columns), **kwargs)  # type: ignore[arg-type]


A, C, CREATED, A_C = ix("a"), ix("c"), ix("created_at"), ix("a", "c")
TRIGRAM = IndexDef("public", "items", (IndexKey("b", opclass="gin_trgm_ops"),), method="gin")


@contextmanager
def connected(database: TestDatabase) -> Iterator[db.Connection]:
    """A pgarchitect connection to ``database`` after loading the test table."""
    with database.connect() as admin:
        admin.execute(SCHEMA)
    with db.connect(database.conninfo, load_config()) as conn:
        yield conn


# HypoPG on PostgreSQL 15 (generic plans by PREPARE), the sandbox on 18 (by GENERIC_PLAN);
# the sandbox on 15 is compared with HypoPG below.
ENGINES = {"hypopg-15": ("db15", "hypopg"), "sandbox-18": ("db18", "sandbox")}


@pytest.fixture(params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[WhatIf]:
    fixture, mode = ENGINES[request.param]
    with connected(request.getfixturevalue(fixture)) as conn:
        engine = open_engine(conn, mode)
        yield engine
        engine.close()


@pytest.fixture
def conn15(db15: TestDatabase) -> Iterator[db.Connection]:
    with connected(db15) as conn:
        yield conn


@pytest.fixture
def conn18(db18: TestDatabase) -> Iterator[db.Connection]:
    with connected(db18) as conn:
        yield conn


def cost_of(costing: Costing) -> float:
    assert costing.total_cost is not None, costing.reason
    return costing.total_cost


def index_names(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'items' "
                        "ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


# -- both engines -------------------------------------------------------------------------


def test_a_useful_index_lowers_the_cost_and_is_reported_used(engine: WhatIf) -> None:
    base = engine.cost(EQUALITY, [])
    with_a = engine.cost(EQUALITY, [A])
    assert cost_of(with_a) < cost_of(base) / 10  # 10 rows by index instead of a scan
    assert with_a.used == (A,) and base.used == ()
    assert with_a.existing == {} and with_a.reason is None
    assert with_a.plan is not None and with_a.plan.seq_scans() == ()


def test_a_useless_index_changes_nothing(engine: WhatIf) -> None:
    base = engine.cost(EQUALITY, [])
    with_c = engine.cost(EQUALITY, [C, CREATED])
    assert cost_of(with_c) == cost_of(base)
    assert with_c.used == ()


def test_generic_and_literal_statements_in_one_batch(engine: WhatIf) -> None:
    literal, generic, broken = engine.costs(
        ["SELECT * FROM items WHERE a = 42", "SELECT id FROM items WHERE a = $1 AND c = $2",
         "SELECT * FROM missing WHERE x = $1"], [A_C])
    assert literal.used == (A_C,) and generic.used == (A_C,)
    assert broken.plan is None and broken.total_cost is None
    assert broken.reason is not None and broken.reason.sqlstate == "42P01"


def test_an_existing_index_is_not_added_again(engine: WhatIf) -> None:
    assert isinstance(engine, HypoPGWhatIf | SandboxWhatIf)
    engine.conn.execute("CREATE INDEX items_a_existing ON items (a)")
    # Written differently from pg_get_indexdef's text: only the server's own
    # rendering of the new index shows it is the same one.
    engine.conn.execute("CREATE INDEX items_lower_b ON items (lower(b))")
    lower_b = IndexDef("public", "items", (IndexKey(expression="lower((b)::text)"),))
    for query, candidate, existing in ((EQUALITY, A, "public.items_a_existing"),
                                        ("SELECT * FROM items WHERE lower(b) = $1", lower_b,
                                         "public.items_lower_b")):
        costing = engine.cost(query, [candidate, C])
        assert costing.existing == {candidate: existing}
        assert costing.plan is not None and costing.plan.indexes_used() == (existing,)
        assert costing.used == (candidate,)
        assert cost_of(costing) == cost_of(engine.cost(query, []))


def test_nothing_is_left_behind(engine: WhatIf) -> None:
    assert isinstance(engine, HypoPGWhatIf | SandboxWhatIf)
    engine.costs([EQUALITY, "SELECT * FROM items WHERE c = 3"], [A, C, A_C])
    assert engine.size(A) > 0
    conn = engine.conn
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    assert index_names(conn) == ["items_pkey"]
    assert conn.execute("SELECT name FROM pg_prepared_statements").fetchall() == []
    if isinstance(engine, HypoPGWhatIf):  # the last set stays alive until close()
        assert conn.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone() == (3,)
        engine.close()
        assert conn.execute("SELECT * FROM hypopg_list_indexes").fetchall() == []


def test_each_set_sees_only_its_own_indexes(engine: WhatIf) -> None:
    on_c = "SELECT * FROM items WHERE c = 3"
    assert engine.cost(on_c, [A, C]).used == (C,)
    # The next set drops C and keeps A: nothing of the last set may linger.
    assert engine.cost(on_c, [A]).used == ()
    assert engine.cost(EQUALITY, [A, A_C]).used != ()
    assert cost_of(engine.cost(on_c, [A])) == cost_of(engine.cost(on_c, []))


def test_a_repeated_question_is_answered_from_the_cache(engine: WhatIf) -> None:
    first = engine.cost(EQUALITY, [A, C])
    before = engine.stats
    again = engine.cost(EQUALITY, [C, A, A])  # the same set
    assert again is first
    assert engine.stats.hits == before.hits + 1 and engine.stats.misses == before.misses
    engine.cost(EQUALITY, [A])
    assert engine.stats.misses == before.misses + 1


# -- the engines compared --------------------------------------------------------------------


def best(engine: WhatIf, query: str, candidates: list[IndexDef]) -> IndexDef:
    return min(candidates, key=lambda c: cost_of(engine.cost(query, [c])))


@pytest.mark.parametrize(("query", "candidates", "expected"), [
    ("SELECT * FROM items WHERE a = $1 AND c = $2", [C, CREATED, A, A_C], A_C),
    # c keeps one row in seven: walking created_at alone finds ten soon enough, and
    # its index is smaller than (c, created_at), so both engines pick it.
    ("SELECT id FROM items WHERE c = $1 ORDER BY created_at DESC LIMIT 10",
     [C, A, ix("c", "created_at"), CREATED], CREATED),
    ("SELECT * FROM items WHERE created_at > $1::timestamptz AND created_at < $2::timestamptz",
     [C, A, CREATED], CREATED),
])
def test_both_engines_choose_the_same_best_index(
    conn15: db.Connection, query: str, candidates: list[IndexDef], expected: IndexDef
) -> None:
    # An open HypoPG engine keeps its last set alive: close it before other plans.
    with open_engine(conn15, "hypopg") as hypopg:
        assert best(hypopg, query, candidates) == expected
    assert best(open_engine(conn15, "sandbox"), query, candidates) == expected


def test_the_hypopg_estimate_is_near_the_real_size(conn15: db.Connection) -> None:
    hypopg, sandbox = HypoPGWhatIf(conn15), SandboxWhatIf(conn15)
    for index in (A, ix("b"), ix("a", "created_at")):
        estimate, real = hypopg.size(index), sandbox.size(index)
        assert real > 0 and estimate > 0
        assert real / 4 <= estimate <= real * 4, (index, estimate, real)


# -- HypoPG -----------------------------------------------------------------------------------


def test_what_hypopg_can_model(conn15: db.Connection) -> None:
    hypopg = HypoPGWhatIf(conn15)
    # A definition PostgreSQL itself refuses says nothing about the kind.
    assert not hypopg.supports(ix("no_such_column"))
    modeled = [A, ix("a", include=("c",)), ix("a", where="c = 1"), ix("c", unique=False),
               IndexDef("public", "items", (IndexKey(expression="lower(b)"),)),
               IndexDef("public", "items", (IndexKey("a", direction="desc"),)),
               ix("created_at", method="brin"), ix("a", method="hash")]
    assert all(hypopg.supports(i) for i in modeled)
    assert not hypopg.supports(TRIGRAM)
    gist = IndexDef("public", "items", (IndexKey("b", opclass="gist_trgm_ops"),), method="gist")
    assert not hypopg.supports(gist)
    refused = hypopg.cost(CONTAINS, [TRIGRAM])
    assert refused.reason is not None and "cannot model" in refused.reason.reason
    assert "--whatif=sandbox" in refused.reason.reason
    with pytest.raises(WhatIfError, match="cannot model"):
        hypopg.size(TRIGRAM)


def test_gin_trigram_falls_back_to_the_sandbox_on_hypopg(conn15: db.Connection) -> None:
    engine = open_engine(conn15, "auto")
    assert isinstance(engine, CompositeWhatIf) and engine.name == "hypopg+sandbox"
    base = engine.cost(CONTAINS, [])
    both = engine.cost(CONTAINS, [A, TRIGRAM])  # A hypothetical, TRIGRAM built
    assert both.used == (TRIGRAM,) and cost_of(both) < cost_of(base)
    assert engine.cost(EQUALITY, [A, TRIGRAM]).used == (A,)
    assert engine.size(TRIGRAM) > 0
    assert engine.size(A) == HypoPGWhatIf(conn15).size(A)  # HypoPG's estimate
    assert index_names(conn15) == ["items_pkey"]
    # A limit on the sandbox does not limit HypoPG.
    limited = open_engine(conn15, "auto", max_table_bytes=1024)
    assert limited.cost(EQUALITY, [A]).used == (A,)
    refused = limited.cost(CONTAINS, [A, TRIGRAM]).reason
    assert refused is not None and refused.reason.endswith(
        "above the sandbox limit of 1 kB (sandbox_max_table_mb): pass --allow-large (HypoPG "
        "cannot model this index).")
    assert refused.code == "too_large"
    broken = engine.cost(EQUALITY, [ix("no_such_column")])
    assert broken.reason is not None and broken.reason.sqlstate == "42703"  # not HypoPG's XX000
    assert broken.reason.reason == ('Could not create public.items (no_such_column): column '
                                    '"no_such_column" does not exist.')


# -- the sandbox --------------------------------------------------------------------------------


def test_gin_trigram_in_the_sandbox_on_18(conn18: db.Connection) -> None:
    engine = open_engine(conn18, "auto")
    assert isinstance(engine, SandboxWhatIf)
    costing = engine.cost(CONTAINS, [TRIGRAM])
    assert costing.used == (TRIGRAM,) and cost_of(costing) < cost_of(engine.cost(CONTAINS, []))
    assert engine.size(TRIGRAM) > 0
    assert index_names(conn18) == ["items_pkey"]


def test_the_sandbox_refuses_a_table_above_its_limit(conn18: db.Connection) -> None:
    small = SandboxWhatIf(conn18, max_table_bytes=1024)
    costing = small.cost(EQUALITY, [A])
    assert costing.reason is not None and costing.plan is None
    assert costing.reason.reason.startswith("Not tried: table public.items is ")
    assert costing.reason.reason.endswith(
        "MB, above the sandbox limit of 1 kB (sandbox_max_table_mb): pass --allow-large or "
        "install HypoPG.")
    assert costing.reason.code == "too_large"
    with pytest.raises(WhatIfError, match="above the sandbox limit"):
        small.size(A)
    assert small.cost(EQUALITY, []).reason is None  # no index, nothing to build
    allowed = SandboxWhatIf(conn18, max_table_bytes=1024, allow_large=True)
    assert allowed.cost(EQUALITY, [A]).used == (A,)


def test_a_busy_table_gives_a_reason_not_a_wait(conn18: db.Connection, db18: TestDatabase) -> None:
    engine = SandboxWhatIf(conn18, lock_timeout="100ms")
    with db18.connect() as writer, writer.transaction():
        writer.execute("UPDATE items SET c = c WHERE id = 1")  # ROW EXCLUSIVE until commit
        busy = engine.cost(EQUALITY, [A])
    assert busy.reason is not None and busy.reason.sqlstate == "55P03"
    assert "busy with writes" in busy.reason.reason
    assert engine.cost(EQUALITY, [A]).used == (A,)  # not cached: asked again, and now built


# -- choosing an engine ----------------------------------------------------------------------------


def test_open_engine_modes(conn15: db.Connection, conn18: db.Connection) -> None:
    assert isinstance(open_engine(conn15, "auto"), CompositeWhatIf)
    assert isinstance(open_engine(conn15, "hypopg"), HypoPGWhatIf)
    assert isinstance(open_engine(conn15, "sandbox"), SandboxWhatIf)
    assert isinstance(open_engine(conn18, "auto"), SandboxWhatIf)
    with pytest.raises(CapabilityMissing,
                       match=r"Run `CREATE EXTENSION hypopg` or pass --whatif=sandbox"):
        open_engine(conn18, "hypopg")
    with pytest.raises(ConfigError, match=r"engine 'sandbx'\. Did you mean 'sandbox'\?"):
        open_engine(conn18, "sandbx")


def test_the_session_timeouts_are_the_sandboxs_ceiling(
        db18: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured 100 ms / 5 s stay 100 ms / 5 s; the sandbox's own 1 s / 60 s apply only
    below them, or when the session has no limit."""
    monkeypatch.setenv("PGARCHITECT_LOCK_TIMEOUT", "100ms")
    monkeypatch.setenv("PGARCHITECT_STATEMENT_TIMEOUT", "5s")
    with db18.connect() as admin:
        admin.execute(SCHEMA)
    with db.connect(db18.conninfo, load_config()) as conn:
        assert effective_timeout(conn, "lock_timeout", "1s") == "100ms"
        assert effective_timeout(conn, "statement_timeout", "60s") == "5000ms"
        assert effective_timeout(conn, "statement_timeout", "2s") == "2000ms"
        conn.execute("SET lock_timeout = 0")  # no limit: ours applies
        assert effective_timeout(conn, "lock_timeout", "1s") == "1000ms"
        conn.execute("SET lock_timeout = '100ms'")
        holder = psycopg.connect(db18.conninfo)
        holder.execute("LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE")
        try:
            engine = SandboxWhatIf(conn)
            started = time.monotonic()
            costing = engine.cost(EQUALITY, [A])
            waited = time.monotonic() - started
        finally:
            holder.close()
        assert costing.reason is not None and costing.reason.sqlstate == "55P03"
        assert "lock timeout" in costing.reason.reason
        assert waited < 0.9  # 100 ms, not the sandbox's 1 s
        assert engine._timeouts == {"lock_timeout": "100ms", "statement_timeout": "5000ms"}
        assert engine.cost(EQUALITY, [A]).used == (A,)  # not cached: the lock is gone
