"""Explanations: golden cases (fixtures/explain/cases.sql), comments and plans read
from real servers, and input that must not make :func:`explain` raise.

Each case of ``fixtures/explain/cases.sql`` (every statement of the demo
application among them) is explained and compared with the expectations written
under its name. To rewrite them after a deliberate change, run

    PGARCHITECT_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_explain.py

and review the diff line by line: the file states what is right.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.analysis import Catalog, analyze
from pgarchitect.catalog.comments import Comments, load_comments
from pgarchitect.demo import app, traffic
from pgarchitect.explain import CONTEXT_RULES, Explanation, explain
from pgarchitect.plans import Plan, explain_analyze, generic_plan, parse_plan
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

FIXTURES = Path(__file__).parent / "fixtures" / "explain"
CASES = FIXTURES / "cases.sql"
SHOP = FIXTURES / "shop.sql"
DEMO_COMMENTS = FIXTURES / "demo_comments.sql"
# Real plans captured by the plans tests (tests/fixtures/plans/capture.py).
PLANS = Path(__file__).parent / "fixtures" / "plans"
DEMO_SCHEMA = Path(app.__file__).with_name("schema.sql")
# Read at import: the autouse fixture of conftest.py clears PGARCHITECT_* for each test.
REGEN = os.environ.get("PGARCHITECT_REGEN_GOLDEN") == "1"

SCHEMAS: dict[str, tuple[tuple[Path, ...], tuple[str, ...]]] = {
    "demo": ((DEMO_SCHEMA,), ("public",)),
    "demo+comments": ((DEMO_SCHEMA, DEMO_COMMENTS), ("public",)),
    "shop": ((SHOP,), ("public", "shop", "support")),
    "plans": ((PLANS / "schema.sql",), ("public",)),
}
OPTIONS = ("schema", "plan")
FIELDS = ("intent", "complexity", "context", "tables", "plan_note")
_CASE = re.compile(r"^-- case: (\S+)\s*$")
_FIELD = re.compile(rf"^-- ({'|'.join(OPTIONS + FIELDS)}): (.*)$")


def _server_text(query: str) -> str:
    """A demo statement as psycopg sends it and pg_stat_statements shows it."""
    n = itertools.count(1)
    return re.sub(r"%([s%])", lambda m: f"${next(n)}" if m.group(1) == "s" else "%", query)


@cache
def demo_statements() -> dict[str, str]:
    """Every SQL statement of the demo application and its traffic, by constant name."""
    found = {}
    for module in (app, traffic):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str):
                text = _server_text(value)
                if analyze(text).error is None:
                    found[f"demo.{name}"] = text
    return found


@dataclass
class Case:
    name: str
    options: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    sql: str = ""

    @property
    def query(self) -> str:
        return self.sql or demo_statements().get(self.name, "")


def read_cases(text: str) -> tuple[str, list[Case]]:
    """The file's header and its cases."""
    header: list[str] = []
    cases: list[Case] = []
    body: list[str] = []

    def flush() -> None:
        if cases:
            cases[-1].sql = "\n".join(body).strip()

    for line in text.splitlines():
        match = _CASE.match(line)
        if match:
            flush()
            cases.append(Case(match.group(1)))
            body = []
            continue
        if not cases:
            header.append(line)
            continue
        item = _FIELD.match(line)
        if item and not body:
            key, value = item.groups()
            target = cases[-1].options if key in OPTIONS else cases[-1].expected
            target[key] = value.strip()
        else:
            body.append(line)
    flush()
    return "\n".join(header).rstrip() + "\n", cases


@cache
def setting(schema: str) -> tuple[Catalog, Comments]:
    paths, search_path = SCHEMAS[schema]
    ddl = "\n".join(p.read_text() for p in paths)
    return Catalog.from_ddl(ddl, search_path), Comments.from_ddl(ddl, search_path)


def run(case: Case) -> Explanation:
    catalog, comments = setting(case.options.get("schema", "demo"))
    plan = None
    if "plan" in case.options:
        plan = parse_plan((PLANS / f"{case.options['plan']}.json").read_text())
    return explain(case.query, analyze(case.query, catalog), comments=comments, plan=plan)


def summary(case: Case, e: Explanation) -> dict[str, str]:
    """The expected fields of a case, as the file writes them."""
    features = "; ".join(e.complexity.features)
    out = {
        "intent": e.intent,
        "complexity": f"{e.complexity.level} {e.complexity.score}"
                      + (f": {features}" if features else ""),
        "context": e.context or "none",
        "tables": ", ".join(e.tables) or "none",
    }
    if "plan" in case.options:
        out["plan_note"] = e.plan_note or "none"
    return out


def render(header: str, cases: list[Case]) -> str:
    blocks = []
    for case in cases:
        lines = [f"-- case: {case.name}"]
        lines += [f"-- {k}: {v}" for k, v in case.options.items()]
        lines += [f"-- {k}: {v}" for k, v in summary(case, run(case)).items()]
        if case.sql:
            lines.append(case.sql)
        blocks.append("\n".join(lines))
    return header + "\n" + "\n\n".join(blocks) + "\n"


def all_cases() -> list[Case]:
    return read_cases(CASES.read_text())[1]


@pytest.fixture(scope="module")
def cases() -> dict[str, Case]:
    if REGEN:
        header, found = read_cases(CASES.read_text())
        CASES.write_text(render(header, found))
    return {c.name: c for c in all_cases()}


def test_cases_are_unique_and_complete(cases: dict[str, Case]) -> None:
    names = [c.name for c in all_cases()]
    assert len(names) == len(set(names)), "two cases share a name"
    demo = {n for n in names if n.startswith("demo.")}
    assert demo == set(demo_statements()), "every demo statement has a case, and only those"
    assert all(c.sql or c.name in demo for c in cases.values()), "a case without a statement"


def test_every_context_rule_has_a_case(cases: dict[str, Case]) -> None:
    used = {c.expected.get("context") for c in cases.values()}
    assert [r.context for r in CONTEXT_RULES if r.context not in used] == []


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.name)
def test_golden(case: Case, cases: dict[str, Case]) -> None:
    e = run(case)
    assert summary(case, e) == cases[case.name].expected
    assert not [n for n in e.notes if n.startswith("Could not explain")], e.notes


def test_explanations_are_deterministic_and_plain_json() -> None:
    for case in all_cases():
        first, second = run(case), run(case)
        assert first == second
        data = first.to_json()
        assert json.loads(json.dumps(data)) == data
        assert data["intent"].endswith(".") and data["intent"][0].isupper()


# -- comments ---------------------------------------------------------------------------


def test_comments_describe_tables_before_names() -> None:
    query = app.USER_BY_ID.replace("%s", "$1")
    catalog, comments = setting("demo+comments")
    with_comments = explain(query, analyze(query, catalog), comments=comments)
    without = explain(query, analyze(query, catalog))
    assert dict(with_comments.holds) == {
        "public.User": "Learners, authors and admins of the platform."}
    assert dict(without.holds) == {"public.User": "users"}
    assert with_comments.intent == "Looks up a learner by id."
    assert without.intent == "Looks up a user by id."


def test_comments_from_ddl_follow_the_last_statement() -> None:
    comments = Comments.from_ddl("""
        COMMENT ON TABLE t IS 'first';
        COMMENT ON TABLE t IS 'second';
        COMMENT ON COLUMN t.a IS 'gone';
        COMMENT ON COLUMN t.a IS NULL;
        COMMENT ON TABLE app.u IS '   ';
        COMMENT ON INDEX i IS 'not a table';
        COMMENT ON MATERIALIZED VIEW app.m IS 'm';""")
    assert dict(comments) == {("public", "t"): "second", ("app", "m"): "m"}


def test_load_comments_reads_what_the_ddl_set(pg_db: TestDatabase) -> None:
    ddl = "\n".join(p.read_text() for p in (DEMO_SCHEMA, DEMO_COMMENTS, SHOP))
    with pg_db.connect() as admin:
        admin.execute(ddl)
        # Gone from the catalogs, so gone from what is read: a dropped column's
        # comment, a comment set to NULL, a table's comment set to ''.
        admin.execute('ALTER TABLE "Enrollment" DROP COLUMN progress')
        admin.execute("COMMENT ON TABLE shop.customers IS NULL")
        admin.execute("COMMENT ON TABLE support.tickets IS ''")
        # Not the application's: an index, a temporary table.
        admin.execute("COMMENT ON INDEX shop.products_sku_key IS 'an index'")
    expected = dict(Comments.from_ddl(ddl))
    del expected[("public", "Enrollment", "progress")]
    del expected[("shop", "customers")]
    del expected[("support", "tickets")]
    with db.connect(pg_db.conninfo, load_config()) as conn:
        with conn.transaction():
            conn.execute("CREATE TEMPORARY TABLE scratch (a int)")
            conn.execute("COMMENT ON TABLE scratch IS 'temporary'")
            loaded = load_comments(conn)
        assert dict(loaded) == expected
        assert loaded.column("shop", "orders", "total_cents") == "Amount paid, in cents"
        assert loaded.table("support", "open_tickets") == "Tickets nobody has closed yet."


# -- plans and counters from a real server ----------------------------------------------

DEMO_DATA = """
INSERT INTO "User" (id, email, name)
SELECT md5('u' || g)::uuid, 'user' || g || '@example.com', '{"en": "U"}'::jsonb
FROM generate_series(1, 300) AS g;
INSERT INTO "BehaviorLog" ("userId", "eventType", "timestamp")
SELECT md5('u' || (g % 300 + 1))::uuid, 'lesson_view', now() - (g % 60) * interval '1 day'
FROM generate_series(1, 30000) AS g;
ANALYZE "User";
ANALYZE "BehaviorLog";
"""


def test_plan_and_workload_from_a_real_server(pg_db: TestDatabase) -> None:
    with pg_db.connect() as admin:
        admin.execute(DEMO_SCHEMA.read_text())
        admin.execute(DEMO_COMMENTS.read_text())
        admin.execute(DEMO_DATA)
    query = app.WEEKLY_ACTIVE_USERS
    with db.connect(pg_db.conninfo, load_config()) as conn:
        comments = load_comments(conn)
        estimated = generic_plan(conn, query)
        measured = explain_analyze(conn, query)
    assert isinstance(estimated, Plan) and isinstance(measured, Plan)
    catalog = Catalog.from_ddl(DEMO_SCHEMA.read_text())
    analysis = analyze(query, catalog)
    stats = Statement(query, calls=420, total_ms=294_000, mean_ms=700, rows=8400,
                      shared_blks_hit=990, shared_blks_read=10)

    e = explain(query, analysis, comments=comments, plan=estimated, statement=stats)
    assert e.intent == ("Counts each learner's activity events in the last 7 days and keeps "
                        "learners with more than 50, most first.")
    assert e.plan_note is not None and "BehaviorLog" in e.plan_note
    assert "estimated cost" in e.plan_note and "runs in" not in e.plan_note
    assert e.text.startswith("Counts each learner's activity events") and "; reads " in e.text
    assert e.usage == ("Called 420 times, 700 ms on average (5 min in total), 20 rows per "
                       "call, 99% of reads from cache.")

    e = explain(query, analysis, plan=measured)
    assert e.plan_note is not None and "runs in" in e.plan_note
    assert "BehaviorLog" in e.plan_note and "User" in e.plan_note


# -- nothing raises ---------------------------------------------------------------------

ODD_INPUTS = (
    "",
    ";",
    "   \n",
    "SELECT",
    "SELECT 1",
    "SELECT now()",
    "SELECT * FROM generate_series(1, 10)",
    "SELECT 'unterminated",
    'SELECT "unterminated',
    "/* only a comment */",
    "BEGIN",
    "DO $$ BEGIN PERFORM 1; END $$",
    "COPY (SELECT 1) TO STDOUT",
    "SELECT * FROM nope WHERE nothing = $1",
    "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5) "
    "SELECT * FROM t",
    "SELECT a FROM t1 WHERE a IN (SELECT b FROM t2 WHERE b IN (SELECT c FROM t3))",
    "SELECT x FROM t ORDER BY x LIMIT ALL OFFSET 5",
    "SELECT 1; SELECT 2",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
    "\x00\xff binary junk",
    "SELECT " + " + ".join(["a"] * 150) + " FROM t",
)


@pytest.mark.parametrize("query", ODD_INPUTS)
def test_explain_never_raises_on_odd_input(query: str) -> None:
    for catalog in (None, setting("demo")[0]):
        e = explain(query, analyze(query, catalog))
        assert e.intent.endswith(".")
        json.dumps(e.to_json())
        assert not [n for n in e.notes if n.startswith("Could not explain")], e.notes


def test_explain_never_raises_on_cut_statements() -> None:
    """pg_stat_statements cuts long statements anywhere: every prefix gets a sentence."""
    for case in all_cases():
        catalog, comments = setting(case.options.get("schema", "demo"))
        for end in range(0, len(case.query), 5):
            text = case.query[:end]
            e = explain(text, analyze(text, catalog), comments=comments)
            assert e.intent.endswith("."), (case.name, end)


def test_explain_never_raises_when_analysis_and_text_disagree() -> None:
    # A caller's mistake, not a statement's: still an answer, never an exception.
    other = analyze(app.WEEKLY_ACTIVE_USERS, setting("demo")[0])
    e = explain("SELECT 1", other, comments={("public", "User"): ""})
    assert e.intent.endswith(".")


def test_explain_walks_deeper_than_the_recursion_limit() -> None:
    # Generated SQL nests deep; the parse tree is walked with a loop. (analyze
    # itself gives up far earlier, so the analysis here is of a shallow statement.)
    deep = "SELECT " + " + ".join(["a"] * 3000) + " FROM t"
    e = explain(deep, analyze("SELECT a FROM t"))
    assert e.notes == () and e.intent == "Lists all ts."
