"""Candidates: golden cases per rule (fixtures/candidates), and tables read from real servers.

Each ``fixtures/candidates/<rule>.sql`` holds cases: a ``-- case: NAME`` line, the
statement (or several, separated by ``;``), then the expected candidates (rule,
index, reason and marks) and skip reasons as comments. Cases named ``demo.NAME``
take their statement from the demo application. The tables are the demo schema
plus ``schema.sql``, with the statistics of ``tables.json`` (``-- stats: none``
leaves them out). To rewrite the expectations after a deliberate change, run

    PGARCHITECT_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_candidates.py

and review the diff line by line: the files state what is right.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pglast
import pytest
from psycopg import sql
from support.servers import TestDatabase

from pgarchitect.advisors.index.candidates import (
    RULES,
    Candidate,
    CandidateSet,
    ColumnInfo,
    ExistingIndex,
    ForeignKey,
    TableInfo,
    covers,
    generate,
    load_tables,
    parse_index,
    tables_from_ddl,
)
from pgarchitect.analysis import Catalog, analyze, fingerprint
from pgarchitect.catalog.index import IndexDef, IndexKey
from pgarchitect.demo import app

FIXTURES = Path(__file__).parent / "fixtures" / "candidates"
DEMO_SCHEMA = Path(app.__file__).with_name("schema.sql")
SCHEMA = FIXTURES / "schema.sql"
STATS = FIXTURES / "tables.json"
# Read at import: the autouse fixture of conftest.py clears PGARCHITECT_* for each test.
REGEN = os.environ.get("PGARCHITECT_REGEN_GOLDEN") == "1"

RULE_FILES = ("joins", "single", "multi", "ordering", "covering", "partial", "expression",
              "pattern", "brin")
CASE_FILES = (*RULE_FILES, "skips", "demo")

_CASE = re.compile(r"^-- case: (\S+)\s*$")
_OPTION = re.compile(r"^-- (stats): (.*)$")
_EXPECT = ("-- candidates:", "-- skipped:")


# -- the golden tables --------------------------------------------------------------

@cache
def golden_ddl() -> str:
    return DEMO_SCHEMA.read_text() + "\n" + SCHEMA.read_text()


@cache
def golden_catalog() -> Catalog:
    return Catalog.from_ddl(golden_ddl())


@cache
def golden_tables(stats: bool = True) -> dict[tuple[str, str], TableInfo]:
    tables = tables_from_ddl(golden_ddl(), catalog=golden_catalog())
    data: dict[str, dict[str, Any]] = json.loads(STATS.read_text())
    for qualified, info in data.items():
        key = tuple(qualified.split(".", 1))
        table = tables[key[0], key[1]]
        invalid = set(info.get("invalid", ()))
        table = replace(table, indexes=tuple(replace(i, valid=i.name not in invalid)
                                             for i in table.indexes))
        if stats:
            columns = info.get("columns", {})
            table = replace(
                table, rows=info["rows"], inserts=info.get("inserts", 0),
                updates=info.get("updates", 0), deletes=info.get("deletes", 0),
                columns=tuple(_column(c, columns.get(c.name)) for c in table.columns))
        tables[table.key] = table
    return tables


def _column(column: ColumnInfo, stats: dict[str, Any] | None) -> ColumnInfo:
    if stats is None:
        return column
    common = stats.get("common", {})
    return replace(column, null_frac=stats.get("null_frac", 0.0),
                   n_distinct=stats.get("n_distinct"), avg_width=stats.get("avg_width"),
                   correlation=stats.get("correlation"),
                   common_values=tuple(common), common_freqs=tuple(common.values()))


# -- the cases ----------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    file: str
    name: str
    statements: tuple[str, ...]
    stats: bool
    expected: tuple[str, ...]


def _server_text(query: str) -> str:
    """A demo statement as psycopg sends it and pg_stat_statements shows it."""
    n = itertools.count(1)
    return re.sub(r"%([s%])", lambda m: f"${next(n)}" if m.group(1) == "s" else "%", query)


def demo_statements() -> dict[str, str]:
    """Every SQL statement of the demo application, by constant name."""
    return {f"demo.{name}": _server_text(value) for name, value in vars(app).items()
            if name.isupper() and isinstance(value, str) and fingerprint(_server_text(value))}


@dataclass
class _Parsed:
    name: str
    options: dict[str, str]
    sql: list[str]
    expected: list[str]
    start: int  # first line of the expectation block (or where it goes)
    end: int  # one past its last line


def parse_file(text: str) -> list[_Parsed]:
    cases: list[_Parsed] = []
    lines = text.splitlines()
    current: _Parsed | None = None
    in_expect = False
    for i, line in enumerate(lines):
        match = _CASE.match(line)
        if match:
            current = _Parsed(match.group(1), {}, [], [], i + 1, i + 1)
            cases.append(current)
            in_expect = False
            continue
        if current is None:
            continue
        option = _OPTION.match(line)
        if in_expect:
            if line.startswith(("--   ", *_EXPECT)):
                current.expected.append(line)
                current.end = i + 1
                continue
            in_expect = False
            current = None  # what follows belongs to no case until the next one
            continue
        if line.startswith(_EXPECT):
            in_expect = True
            current.start, current.end = i, i + 1
            current.expected.append(line)
        elif option and not current.sql:
            current.options[option.group(1)] = option.group(2).strip()
            current.start = current.end = i + 1
        else:
            current.sql.append(line)
            if line.strip():
                current.start = current.end = i + 1
    return cases


def _statements(parsed: _Parsed) -> tuple[str, ...]:
    if parsed.name.startswith("demo."):
        return (demo_statements()[parsed.name],)
    text = "\n".join(parsed.sql).strip()
    return tuple(s.strip() for s in pglast.split(text, with_parser=False)) if text else ()


@cache
def all_cases() -> tuple[Case, ...]:
    cases = []
    for file in CASE_FILES:
        for p in parse_file((FIXTURES / f"{file}.sql").read_text()):
            cases.append(Case(file, p.name, _statements(p), p.options.get("stats") != "none",
                              tuple(p.expected)))
    return tuple(cases)


def run(case: Case) -> CandidateSet:
    catalog = golden_catalog()
    return generate([analyze(s, catalog) for s in case.statements], golden_tables(case.stats))


def render(case: Case, result: CandidateSet) -> list[str]:
    """The expectation block of a case: candidates with their reasons, then skips."""
    lines = ["-- candidates:" if result.candidates else "-- candidates: none"]
    for c in result.candidates:
        marks = []
        if c.foreign_key:
            marks.append(f"foreign key {c.foreign_key}")
        if c.requires:
            marks.append("needs " + ", ".join(c.requires))
        if len(case.statements) > 1:
            marks.append("statements " + _numbers(case, c.statements))
        lines.append(f"--   {c.rule}: {c.index}" + "".join(f" [{m}]" for m in marks))
        lines.append(f"--       {c.reason}")
    if result.skipped:
        lines.append("-- skipped:")
        for s in result.skipped:
            which = f" [statements {_numbers(case, s.statements)}]" if len(
                case.statements) > 1 else ""
            lines.append(f"--   {s.reason}{which}")
    return lines


def _numbers(case: Case, statements: tuple[str, ...]) -> str:
    return ", ".join(str(case.statements.index(q) + 1) for q in statements)


def _regenerate() -> None:
    by_name = {(c.file, c.name): c for c in all_cases()}
    for file in CASE_FILES:
        path = FIXTURES / f"{file}.sql"
        lines = path.read_text().splitlines()
        for p in reversed(parse_file(path.read_text())):
            case = by_name[file, p.name]
            lines[p.start:p.end] = render(case, run(case))
        path.write_text("\n".join(lines) + "\n")
    all_cases.cache_clear()


@pytest.fixture(scope="module")
def regenerated() -> None:
    if REGEN:
        _regenerate()


@pytest.fixture(scope="module")
def expected(regenerated: None) -> dict[tuple[str, str], tuple[str, ...]]:
    """Each case's expectation block, read after a regeneration."""
    return {(c.file, c.name): c.expected for c in all_cases()}


def test_enough_cases() -> None:
    names = [c.name for c in all_cases()]
    assert len(names) == len(set(names)), "two cases share a name"
    assert len(names) >= 40


def test_every_demo_statement_is_a_case() -> None:
    assert set(demo_statements()) <= {c.name for c in all_cases() if c.file == "demo"}


def test_every_rule_has_its_cases(regenerated: None) -> None:
    """Each rule's fixture shows that rule proposing an index."""
    names = {"joins": ("join-key", "foreign-key"), "single": ("single-column",),
             "multi": ("multi-column",), "ordering": ("order-by-limit",),
             "covering": ("covering",), "partial": ("partial",),
             "expression": ("expression",), "pattern": ("trigram", "pattern"), "brin": ("brin",)}
    assert len(RULES) == sum(1 for _ in RULES)
    for file, rules in names.items():
        lines = [line for c in all_cases() if c.file == file for line in c.expected]
        for rule in rules:
            assert any(line.startswith(f"--   {rule}: ") for line in lines), (file, rule)


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: f"{c.file}:{c.name}")
def test_golden(case: Case, expected: dict[tuple[str, str], tuple[str, ...]]) -> None:
    assert case.statements, f"{case.name}: no statement"
    assert render(case, run(case)) == list(expected[case.file, case.name])


# -- generate, beyond one statement --------------------------------------------------

def test_candidates_merge_across_statements() -> None:
    catalog = golden_catalog()
    queries = ['SELECT id FROM "Enrollment" WHERE "courseId" = $1',
               'SELECT count(*) FROM "Enrollment" WHERE "courseId" = $1 AND progress > 50',
               'SELECT id FROM "User" WHERE id = $1']
    result = generate([analyze(q, catalog) for q in queries], golden_tables())
    by_index = {str(c): c for c in result.candidates}
    course = by_index['public."Enrollment" ("courseId")']
    assert course.statements == tuple(queries[:2])
    assert course.foreign_key == "Enrollment_courseId_fkey"
    assert len({str(c) for c in result.candidates}) == len(result.candidates)
    assert result.for_statement(queries[2]) == ()
    assert result.skipped_for(queries[2]) == (
        "Equality on id finds one row at most through unique index User_pkey: no other index "
        "on public.User helps",)


def test_foreign_key_candidates_come_first() -> None:
    catalog = golden_catalog()
    query = ('SELECT e.id FROM "Enrollment" e JOIN "Course" c ON c.id = e."courseId" '
             "WHERE c.category = $1 AND e.progress > $2")
    result = generate([analyze(query, catalog)], golden_tables())
    marks = [c.foreign_key is not None for c in result.candidates]
    assert marks[0] and marks == sorted(marks, reverse=True)


def test_statements_analysed_without_a_catalog() -> None:
    """Relations are of kind "unknown" then: the tables given say what they are."""
    queries = ['SELECT id FROM "User" WHERE lower(email) = $1 OR role = $2',
               "SELECT amount FROM analytics.remote_invoice WHERE id = $1",
               "SELECT id FROM nope WHERE a = 1"]
    result = generate([analyze(q) for q in queries], golden_tables())
    assert [f"{c.rule}: {c}" for c in result.candidates] == [
        'single-column: public."User" (role)',
        'expression: public."User" ((lower(email)))']
    assert [s.reason for s in result.skipped] == [
        "Foreign table analytics.remote_invoice: no index possible",
        "Table not present: public.nope"]


def test_rules_are_plain_functions() -> None:
    catalog = golden_catalog()
    analysis = analyze('SELECT id FROM "BehaviorLog" WHERE "userId" = $1 '
                       'ORDER BY "timestamp" DESC LIMIT 20', catalog)
    table = golden_tables()["public", "BehaviorLog"]
    for rule in RULES:
        out = rule(analysis, table)
        assert all(isinstance(c, Candidate) for c in out)
        assert all(c.statements == (analysis.query,) for c in out)


def test_hand_built_table_info() -> None:
    """TableInfo needs no server and no DDL."""
    table = TableInfo(
        "public", "events", rows=1e6, inserts=1_000_000,
        columns=(ColumnInfo("kind", "text", n_distinct=5, avg_width=8,
                            common_values=("a", "b"), common_freqs=(0.7, 0.2)),
                 ColumnInfo("at", "timestamp with time zone", correlation=0.99, avg_width=8)),
        indexes=(ExistingIndex("events_at_idx",
                               IndexDef("public", "events", (IndexKey("at"),)), valid=False),),
        foreign_keys=(ForeignKey("events_kind_fkey", ("public", "events"), ("kind",),
                                 ("public", "kinds"), ("name",)),),
    )
    catalog = Catalog.from_ddl("CREATE TABLE events (kind text, at timestamptz)")
    query = "SELECT at FROM events WHERE kind = 'c' AND at > $1"
    result = generate([analyze(query, catalog)], {table.key: table})
    assert [f"{c.rule}: {c}" for c in result.candidates] == [
        "single-column: public.events (kind)",
        "multi-column: public.events (kind, at)",
        "single-column: public.events (at)",
        "partial: public.events (at) WHERE kind = 'c'",
        "brin: public.events USING brin (at)",
    ]
    assert result.candidates[0].foreign_key == "events_kind_fkey"
    assert any("events_at_idx" in s.reason and "invalid" in s.reason for s in result.skipped)


def test_covers() -> None:
    t = ("public", "t")
    a, b_desc = IndexKey("a"), IndexKey("b", direction="desc")
    assert covers(IndexDef(*t, (a, b_desc)), IndexDef(*t, (a,)))
    assert covers(IndexDef(*t, (IndexKey("a", direction="desc"), IndexKey("b"))),
                  IndexDef(*t, (a, b_desc)))
    assert not covers(IndexDef(*t, (a, IndexKey("b"))), IndexDef(*t, (a, b_desc)))
    # NULLS FIRST on an ascending key is what a backward scan of (a DESC NULLS LAST) gives.
    assert covers(IndexDef(*t, (IndexKey("a", direction="desc", nulls="last"),)),
                  IndexDef(*t, (IndexKey("a", nulls="first"),)))
    assert not covers(IndexDef(*t, (IndexKey("a", direction="desc"),)),
                      IndexDef(*t, (IndexKey("a", nulls="first"),)))
    assert not covers(IndexDef(*t, (a,), where="b IS NULL"), IndexDef(*t, (a,)))
    assert covers(IndexDef(*t, (a,), where="(status = 'x'::text)"),
                  IndexDef(*t, (a,), where="status = 'x'"))
    assert covers(IndexDef(*t, (IndexKey(expression="lower((email)::text)"),)),
                  IndexDef(*t, (IndexKey(expression="lower(email)"),)))
    assert not covers(IndexDef(*t, (a,)), IndexDef(*t, (a,), include=("c",)))
    assert covers(IndexDef(*t, (a, IndexKey("c"))), IndexDef(*t, (a,), include=("c",)))
    assert not covers(IndexDef(*t, (a,)), IndexDef(*t, (a,), method="brin"))
    assert covers(IndexDef(*t, (IndexKey("a", opclass="public.gin_trgm_ops"),), method="gin"),
                  IndexDef(*t, (IndexKey("a", opclass="gin_trgm_ops"),), method="gin"))


# -- load_tables on real servers -----------------------------------------------------

LOAD_SCHEMA = """
CREATE SCHEMA shop;
CREATE TABLE shop.brand (id integer PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE shop.item (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "brandId" integer NOT NULL REFERENCES shop.brand,
    sku text COLLATE "C" NOT NULL,
    title text NOT NULL,
    status text NOT NULL,
    price numeric(10,2) NOT NULL,
    "createdAt" timestamp NOT NULL,
    "deletedAt" timestamptz,
    tags text[],
    EXCLUDE USING btree (sku WITH =)
);
CREATE INDEX item_lower_title ON shop.item (lower(title));
CREATE INDEX item_live_brand ON shop.item ("brandId") WHERE "deletedAt" IS NULL;
CREATE INDEX item_status_open ON shop.item (status) WHERE status IN ('new', 'open');
CREATE INDEX item_brand_created ON shop.item ("brandId", "createdAt" DESC) INCLUDE (price);
CREATE INDEX item_created_nulls ON shop.item ("createdAt" NULLS FIRST, id DESC NULLS LAST);
CREATE INDEX item_title_trgm ON shop.item USING gin (title gin_trgm_ops);
CREATE INDEX item_title_pattern ON shop.item (title text_pattern_ops);
CREATE INDEX item_created_brin ON shop.item USING brin ("createdAt");
CREATE INDEX item_day ON shop.item ((("createdAt")::date));
CREATE INDEX item_tags ON shop.item USING gin (tags);
CREATE TABLE shop.sale (
    id bigint NOT NULL, "itemId" bigint NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE shop.sale_2026 PARTITION OF shop.sale
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX sale_item ON shop.sale ("itemId");
ALTER TABLE shop.sale ADD FOREIGN KEY ("itemId") REFERENCES shop.item;
CREATE MATERIALIZED VIEW shop.brand_count AS
    SELECT "brandId", count(*) AS n FROM shop.item GROUP BY "brandId";
CREATE FOREIGN DATA WRAPPER test_fdw;
CREATE SERVER test_remote FOREIGN DATA WRAPPER test_fdw;
CREATE FOREIGN TABLE shop.remote (id bigint) SERVER test_remote;
INSERT INTO shop.brand SELECT g, 'brand ' || g FROM generate_series(1, 20) g;
INSERT INTO shop.item ("brandId", sku, title, status, price, "createdAt", "deletedAt")
SELECT g % 20 + 1, 'SKU' || g, 'item ' || g, (ARRAY['new', 'open', 'done'])[g % 3 + 1],
       g, timestamp '2026-01-01' + g * interval '1 minute',
       CASE WHEN g % 10 = 0 THEN timestamptz '2026-06-01' END
FROM generate_series(1, 3000) g;
UPDATE shop.item SET price = price + 1 WHERE id <= 30;
DELETE FROM shop.item WHERE id > 2990;
INSERT INTO shop.sale SELECT g, g % 100 + 1, timestamptz '2026-02-01' + g * interval '1 hour'
FROM generate_series(1, 500) g;
ANALYZE;
"""

# Each index of the schema as IndexDef, by name.
EXPECTED_INDEXES = {
    "brand_pkey": IndexDef("shop", "brand", (IndexKey("id"),), unique=True),
    "brand_name_key": IndexDef("shop", "brand", (IndexKey("name"),), unique=True),
    "item_pkey": IndexDef("shop", "item", (IndexKey("id"),), unique=True),
    "item_sku_excl": IndexDef("shop", "item", (IndexKey("sku"),)),
    "item_lower_title": IndexDef("shop", "item", (IndexKey(expression="lower(title)"),)),
    "item_live_brand": IndexDef("shop", "item", (IndexKey("brandId"),),
                                where='"deletedAt" IS NULL'),
    "item_status_open": IndexDef(
        "shop", "item", (IndexKey("status"),),
        where="status = ANY(ARRAY[CAST('new' AS text), CAST('open' AS text)])"),
    "item_brand_created": IndexDef(
        "shop", "item", (IndexKey("brandId"), IndexKey("createdAt", direction="desc")),
        include=("price",)),
    "item_created_nulls": IndexDef(
        "shop", "item", (IndexKey("createdAt", nulls="first"),
                         IndexKey("id", direction="desc", nulls="last"))),
    "item_title_trgm": IndexDef("shop", "item", (IndexKey("title", opclass="gin_trgm_ops"),),
                                method="gin"),
    "item_title_pattern": IndexDef("shop", "item",
                                   (IndexKey("title", opclass="text_pattern_ops"),)),
    "item_created_brin": IndexDef("shop", "item", (IndexKey("createdAt"),), method="brin"),
    "item_day": IndexDef("shop", "item", (IndexKey(expression='CAST("createdAt" AS date)'),)),
    "item_tags": IndexDef("shop", "item", (IndexKey("tags"),), method="gin"),
    "item_broken": IndexDef("shop", "item", (IndexKey("status"),), unique=True),
    "sale_pkey": IndexDef("shop", "sale", (IndexKey("id"), IndexKey("at")), unique=True),
    "sale_item": IndexDef("shop", "sale", (IndexKey("itemId"),)),
}


def test_load_tables(pg_db: TestDatabase) -> None:
    with pg_db.connect() as conn:
        conn.execute(LOAD_SCHEMA)
        # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind.
        with pytest.raises(Exception, match="could not create unique index"):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY item_broken ON shop.item (status)")
        conn.execute("SELECT pg_stat_force_next_flush()" if pg_db.major >= 15 else "SELECT 1")
        tables = load_tables(conn)
        only = load_tables(conn, [("shop", "item"), ("shop", "nope")])

    assert set(only) == {("shop", "item")}
    assert {k: t.kind for k, t in tables.items() if k[0] == "shop"} == {
        ("shop", "brand"): "table", ("shop", "item"): "table",
        ("shop", "sale"): "partitioned table", ("shop", "sale_2026"): "partition",
        ("shop", "brand_count"): "materialized view", ("shop", "remote"): "foreign table",
    }
    item, sale = tables["shop", "item"], tables["shop", "sale"]
    indexes = {i.name: i for t in tables.values() for i in t.indexes
               if t.schema == "shop" and t.kind != "partition"}
    assert {name: i.index for name, i in indexes.items()} == EXPECTED_INDEXES
    assert {name: i.constraint for name, i in indexes.items() if i.constraint} == {
        "brand_pkey": "primary key", "brand_name_key": "unique", "item_pkey": "primary key",
        "item_sku_excl": "exclusion", "sale_pkey": "primary key"}
    assert [name for name, i in indexes.items() if not i.valid] == ["item_broken"]
    assert indexes["item_lower_title"].bytes > 0 and indexes["sale_item"].bytes > 0

    assert item.rows == 2990 and item.pages > 0 and item.total_bytes > item.pages * 8192
    assert (item.inserts, item.updates, item.deletes) == (3000, 30, 10)
    assert sale.rows == 500 and sale.inserts == 500 and sale.total_bytes > 0
    assert tables["shop", "sale_2026"].partition_of == "shop.sale"
    assert [(f.columns, f.references, f.referenced_columns) for f in item.foreign_keys] == [
        (("brandId",), ("shop", "brand"), ("id",))]
    assert [(f.table, f.columns) for f in item.referenced_by] == [(("shop", "sale"), ("itemId",))]
    assert [f.table for f in tables["shop", "sale_2026"].foreign_keys] == [("shop", "sale_2026")]

    status = item.column("status")
    assert status is not None and status.n_distinct == 3 and status.avg_width == 4
    assert set(status.common_values) == {"new", "open", "done"}
    assert abs(sum(status.common_freqs) - 1) < 0.01
    created = item.column("createdAt")
    assert created is not None and created.correlation is not None and created.correlation > 0.9
    assert created.collation is None and created.type == "timestamp without time zone"
    deleted = item.column("deletedAt")
    assert deleted is not None and deleted.null_frac == pytest.approx(0.9, abs=0.02)
    sku, title = item.column("sku"), item.column("title")
    assert sku is not None and sku.bytewise
    # The test servers' databases are created with the C locale.
    assert title is not None and title.collation == "C"
    assert sale.column("at") is not None and sale.column("at").n_distinct == -1  # type: ignore[union-attr]

    # Every IndexDef builds the same index again: pg_get_indexdef agrees.
    with pg_db.connect() as conn:
        for name, existing in indexes.items():
            if existing.constraint is not None or not existing.valid:
                continue
            copy = f"{name}_again"
            conn.execute(existing.index.create_sql(concurrently=False, name=copy))
            row = conn.execute(
                "SELECT pg_get_indexdef(to_regclass(%s))",
                [sql.Identifier("shop", copy).as_string(conn)]).fetchone()
            assert row is not None and existing.sql is not None
            assert row[0] == existing.sql.replace(f"INDEX {name} ON", f"INDEX {copy} ON"), name
            assert parse_index(str(row[0])) == existing.index


def test_load_tables_of_an_empty_database(pg_db: TestDatabase) -> None:
    with pg_db.connect() as conn:
        conn.execute("CREATE TABLE t (a int)")
        tables = load_tables(conn)
    t = tables["public", "t"]
    assert t.rows is None or t.rows == 0
    assert t.indexes == () and t.column("a") == ColumnInfo("a", "integer")
