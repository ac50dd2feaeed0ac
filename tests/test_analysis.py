"""Analysis: golden cases (fixtures/analysis), and the catalog read from real servers.

Each case of ``fixtures/analysis/statements.sql`` (and each statement of the demo
application) is analysed and compared with its entry in ``expected.json``. To
rewrite the expected file after a deliberate change, run

    PGARCHITECT_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_analysis.py

and review the diff line by line: the file states what is right.
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

import pytest
from support.servers import TestDatabase

from pgarchitect.analysis import Catalog, analyze, fingerprint, load_catalog
from pgarchitect.demo import app

FIXTURES = Path(__file__).parent / "fixtures" / "analysis"
STATEMENTS = FIXTURES / "statements.sql"
EXPECTED = FIXTURES / "expected.json"
EXTRA_SCHEMA = FIXTURES / "schema.sql"
DEMO_SCHEMA = Path(app.__file__).with_name("schema.sql")
# Read at import: the autouse fixture of conftest.py clears PGARCHITECT_* for each test.
REGEN = os.environ.get("PGARCHITECT_REGEN_GOLDEN") == "1"

_CASE = re.compile(r"^-- case: (\S+)\s*$")
_OPTION = re.compile(r"^-- (catalog|search_path): (.*)$")


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    catalog: bool = True
    search_path: tuple[str, ...] | None = None


def _server_text(query: str) -> str:
    """A demo statement as psycopg sends it and pg_stat_statements shows it."""
    n = itertools.count(1)
    return re.sub(r"%([s%])", lambda m: f"${next(n)}" if m.group(1) == "s" else "%", query)


def demo_cases() -> list[Case]:
    """Every SQL statement of the demo application, found by parsing its constants."""
    cases = []
    for name, value in vars(app).items():
        if name.isupper() and isinstance(value, str) and fingerprint(_server_text(value)):
            cases.append(Case(f"demo.{name}", _server_text(value)))
    return cases


def file_cases(text: str) -> list[Case]:
    cases: list[Case] = []
    name: str | None = None
    lines: list[str] = []
    options: dict[str, str] = {}

    def flush() -> None:
        if name is None:
            return
        path = options.get("search_path")
        cases.append(Case(
            name, "\n".join(lines).strip(), options.get("catalog") != "none",
            tuple(s.strip() for s in path.split(",")) if path else None))

    for line in text.splitlines():
        match = _CASE.match(line)
        if match:
            flush()
            name, lines, options = match.group(1), [], {}
            continue
        option = _OPTION.match(line)
        if name is not None and not lines and option:
            options[option.group(1)] = option.group(2).strip()
        elif name is not None:
            lines.append(line)
    flush()
    return cases


@cache
def all_cases() -> tuple[Case, ...]:
    return (*demo_cases(), *file_cases(STATEMENTS.read_text()))


@cache
def golden_catalog() -> Catalog:
    return Catalog.from_ddl(DEMO_SCHEMA.read_text() + "\n" + EXTRA_SCHEMA.read_text())


def run(case: Case) -> dict[str, Any]:
    catalog: Catalog | None = None
    if case.catalog:
        catalog = golden_catalog()
        if case.search_path is not None:
            catalog = replace(catalog, search_path=case.search_path)
    return analyze(case.query, catalog).to_dict()


def dump(results: dict[str, dict[str, Any]]) -> str:
    """JSON with one list item per line: a diff shows one predicate or column each."""
    def value(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    blocks = []
    for name, result in results.items():
        fields = []
        for key, item in result.items():
            if isinstance(item, list):
                inner = ",\n".join(f"      {value(i)}" for i in item)
                fields.append(f"    {value(key)}: [\n{inner}\n    ]")
            else:
                fields.append(f"    {value(key)}: {value(item)}")
        blocks.append(f"  {value(name)}: {{\n" + ",\n".join(fields) + "\n  }")
    return "{\n" + ",\n".join(blocks) + "\n}\n"


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    if REGEN:
        EXPECTED.write_text(dump({c.name: run(c) for c in all_cases()}))
    data: dict[str, Any] = json.loads(EXPECTED.read_text())
    return data


def test_fixture_has_enough_cases() -> None:
    names = [c.name for c in all_cases()]
    assert len(names) == len(set(names)), "two cases share a name"
    assert len(names) >= 60


def test_every_expected_entry_has_a_case(expected: dict[str, Any]) -> None:
    assert set(expected) == {c.name for c in all_cases()}


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.name)
def test_golden(case: Case, expected: dict[str, Any]) -> None:
    assert case.name in expected, f"no expected analysis for {case.name}: regenerate and review"
    assert run(case) == expected[case.name]


def test_analysis_never_raises_on_prefixes() -> None:
    """Every prefix of every case (pg_stat_statements cuts anywhere) gives an Analysis."""
    for case in all_cases():
        for end in range(0, len(case.query), 7):
            result = analyze(case.query[:end], golden_catalog())
            assert result.error is not None or result.kind != "unknown"


def test_roles_of_a_column() -> None:
    result = analyze('SELECT id FROM "User" WHERE email = $1 ORDER BY "createdAt" DESC',
                     golden_catalog())
    email = next(c.column for c in result.columns if c.column.column == "email")
    assert result.roles(email) == ("eq",)
    assert result.params[0].type == "text"


# Statements whose analysis must not depend on where the catalog came from.
SAME_WITH_LOADED_CATALOG = (
    "demo.USER_BY_EMAIL",
    "demo.WEEKLY_ACTIVE_USERS",
    "demo.QUIZ_STATS",
    "join_unqualified_columns",
    "missing_column_qualified",
    "missing_table",
    "view_expanded",
    "view_on_view",
    "view_expression_column",
    "materialized_view",
    "partitioned_table",
    "partition_directly",
    "foreign_table",
    "insert_on_conflict",
    "soft_delete_is_null",
)


def test_loaded_catalog_gives_the_same_analysis(pg_db: TestDatabase) -> None:
    with pg_db.connect() as conn:
        conn.execute(DEMO_SCHEMA.read_text())
        conn.execute(EXTRA_SCHEMA.read_text())
        loaded = load_catalog(conn)
    golden = golden_catalog()

    # The test databases also hold the extensions' views (pg_stat_statements, ...).
    names = {(r.schema, r.name) for r in golden.relations}

    def shape(catalog: Catalog) -> set[tuple[Any, ...]]:
        return {(r.schema, r.name, r.kind, r.columns, r.partition_of)
                for r in catalog.relations if (r.schema, r.name) in names}

    assert shape(loaded) == shape(golden)
    assert loaded.search_path == ("public",)
    assert loaded.has_system and not golden.has_system
    pg_class = loaded.find(None, "pg_class")
    assert pg_class is not None and pg_class.schema == "pg_catalog"
    cases = {c.name: c for c in all_cases()}
    for name in SAME_WITH_LOADED_CATALOG:
        query = cases[name].query
        assert analyze(query, loaded).to_dict() == analyze(query, golden).to_dict(), name


def test_loaded_catalog_knows_the_system_catalogs(db18: TestDatabase) -> None:
    with db18.connect() as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("CREATE TABLE app.item (id int, name text)")
        conn.execute("SET search_path = app, public")
        loaded = load_catalog(conn)
    assert loaded.search_path == ("app", "public")
    result = analyze("SELECT relname FROM pg_class WHERE relkind = $1", loaded)
    assert [(r.qualified, r.kind) for r in result.relations] == [
        ("pg_catalog.pg_class", "system catalog")]
    assert [(p.column.column if p.column else None, p.type) for p in result.params] == [
        ("relkind", '"char"')]
    result = analyze("SELECT nope FROM pg_class", loaded)
    assert result.warnings == ("Column not found: pg_class.nope",)
    result = analyze("SELECT name FROM item WHERE id = $1", loaded)
    assert result.params[0].type == "integer"
    assert [r.qualified for r in result.relations] == ["app.item"]


def test_expressions_can_become_expression_indexes(db18: TestDatabase) -> None:
    """Each predicate's expression, written against its base table, is a valid index key."""
    from psycopg import sql

    expressions = set()
    for case in all_cases():
        if not case.catalog or case.search_path:
            continue
        result = analyze(case.query, golden_catalog())
        keys = [*result.predicates, *result.order_by, *result.group_by]
        for k in keys:
            if k.column is not None and k.expression is not None:
                expressions.add((k.column.schema, k.column.table, k.expression))
    assert len(expressions) >= 7
    with db18.connect() as conn:
        conn.execute(DEMO_SCHEMA.read_text())
        conn.execute(EXTRA_SCHEMA.read_text())
        for schema, table, expression in sorted(expressions):
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("CREATE INDEX ON {} (({}))").format(
                    sql.Identifier(schema, table), sql.SQL(expression)))
