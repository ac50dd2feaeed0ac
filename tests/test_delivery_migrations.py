"""Migration files: golden files for each format, then each format run for real.

The proposal set (``PROPOSALS``) is built by hand: an index on "BehaviorLog" ("userId",
"timestamp" DESC), a partial expression index, and a setting, which gets no migration.
Its files in each format are compared with ``fixtures/delivery/migrations/<format>/``
(the paths under it are the paths in the repository), and the demo's ``schema.prisma``
with indexes added with ``fixtures/delivery/migrations/schema.prisma`` (its notes in
``schema.notes.txt``). To rewrite them after a deliberate change, run

    PGARCHITECT_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_delivery_migrations.py

and review the diff line by line: the files state what is right.

Each format then runs against PostgreSQL 15 and 18 (``pg_db``), on the demo's tables:

- plain SQL: ``psql -v ON_ERROR_STOP=1 -f``, the up files then the down files;
- Prisma: each ``migration.sql`` sent as one query string without parameters, which
  psycopg sends with the simple query protocol, as Prisma does; the same string with a
  second statement fails, which is why each file holds one;
- Alembic: ``alembic.command.upgrade``/``downgrade`` through an ``env.py`` written here,
  after an earlier revision already in the folder (the new ones chain after that head);
- Flyway: Flyway itself is a Java tool, not available here. Its V and U files run with
  psql, each on its own and outside a transaction, as Flyway runs a script that holds
  nothing but a CONCURRENTLY statement.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from support.servers import TestDatabase

from pgarchitect.advisors.index.advise import IndexDetail
from pgarchitect.catalog.index import IndexDef, IndexKey
from pgarchitect.delivery import migrations
from pgarchitect.delivery.migrations import (
    FORMATS,
    MigrationFile,
    Rendered,
    add_prisma_indexes,
    detect_format,
    render,
)
from pgarchitect.demo import app
from pgarchitect.errors import ConfigError, PgArchitectError
from pgarchitect.proposal import Factor, Measurement, Proposal

GOLDEN = Path(__file__).parent / "fixtures" / "delivery" / "migrations"
DEMO = Path(app.__file__).parent
# Read at import: the autouse fixture of conftest.py clears PGARCHITECT_* for each test.
REGEN = os.environ.get("PGARCHITECT_REGEN_GOLDEN") == "1"
PSQL = "/usr/bin/psql"
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

BY_USER = IndexDef("public", "BehaviorLog",
                   (IndexKey("userId"), IndexKey("timestamp", direction="desc")))
QUIZ_EVENTS = IndexDef("public", "BehaviorLog", (IndexKey(expression='lower("eventType")'),),
                       where="\"eventType\" LIKE 'quiz:%'")


def index_proposal(index: IndexDef, *, title: str | None = None, query: str = "",
                   reasoning: str = "", problem: str = "", confidence: float = 92.0,
                   gains: tuple[float | None, float | None] = (0.9, 0.8)) -> Proposal:
    """A proposal as the index advisor makes one, built by hand."""
    create = index.create_sql().as_string(None)
    drop = index.drop_sql().as_string(None)
    return Proposal(
        kind="index", title=title or f"index {index}", advisor="index",
        objects=(f"{index.schema}.{index.table}", f"{index.schema}.{index.name}"),
        forward=create, rollback=drop,
        statements=[Measurement(query, ("42",), ("log",), (40.0, 42.0, 41.0), (1.0, 1.2, 1.1),
                                True, gains[0])] if query else [],
        reasoning=reasoning, problem=problem, estimated_gain=gains[0], measured_gain=gains[1],
        confidence=confidence, factors=[Factor("gain", 0.9, "measured")],
        detail=IndexDetail(index, 8192 * 40, 1200.0, 3.0, "multi", create, drop))


PROPOSALS = [
    index_proposal(
        BY_USER,
        query='SELECT "id", "eventType", "timestamp" FROM "BehaviorLog"\n'
              'WHERE "userId" = $1\nORDER BY "timestamp" DESC\nLIMIT 50',
        problem="a sort of every log row of the user, for the last 50",
        reasoning="The statement filters on userId and reads the newest rows first; with "
                  'the index on ("userId", "timestamp" DESC) it reads 50 index entries in '
                  "order and stops, instead of sorting every row of the user.",
        confidence=93.4, gains=(0.97, 0.95)),
    index_proposal(
        QUIZ_EVENTS,
        query="SELECT count(*) FROM \"BehaviorLog\" WHERE lower(\"eventType\") = $1 "
              "AND \"eventType\" LIKE 'quiz:%'",
        reasoning="Only quiz events are counted by type: a partial index on the lowered "
                  "type holds those rows alone.",
        confidence=84.0, gains=(0.71, None)),
    Proposal(kind="setting", title="work_mem = 64MB", objects=("work_mem",),
             forward="ALTER SYSTEM SET work_mem = '64MB'", rollback="ALTER SYSTEM RESET work_mem",
             statements=[], reasoning="Sorts spill to disk."),
]

DEMO_TABLES = """
CREATE TABLE "User" (
    "id" UUID NOT NULL PRIMARY KEY,
    "email" TEXT NOT NULL
);
CREATE TABLE "BehaviorLog" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "userId" UUID NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE,
    "eventType" TEXT NOT NULL,
    "metadata" JSONB,
    "timestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "User" SELECT md5(i::text)::uuid, 'user' || i || '@example.org'
  FROM generate_series(1, 50) i;
INSERT INTO "BehaviorLog" ("userId", "eventType", "timestamp")
SELECT md5((1 + i % 50)::text)::uuid, (ARRAY['quiz:start', 'page:view', 'quiz:end'])[1 + i % 3],
       timestamp '2026-01-01' + i * interval '1 minute'
  FROM generate_series(1, 3000) i;
"""


@pytest.fixture
def demo_db(pg_db: TestDatabase) -> TestDatabase:
    """A database with the demo's "User" and "BehaviorLog" tables and a few rows."""
    with pg_db.connect() as conn:
        conn.execute(DEMO_TABLES)
    return pg_db


def indexes(db: TestDatabase) -> dict[str, bool]:
    """The indexes on "BehaviorLog" apart from its primary key: name -> valid."""
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = '\"BehaviorLog\"'::regclass AND NOT i.indisprimary").fetchall()
    return {str(name): bool(valid) for name, valid in rows}


def definition(db: TestDatabase, name: str) -> str:
    with db.connect() as conn:
        row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                           (name,)).fetchone()
    return str(row[0]) if row else ""


def table_exists(db: TestDatabase) -> bool:
    with db.connect() as conn:
        row = conn.execute("SELECT to_regclass('public.\"BehaviorLog\"') IS NOT NULL").fetchone()
    return bool(row and row[0])


def psql(db: TestDatabase, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run one file with psql as a team would: stop at the first error."""
    return subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", *extra, "-f", str(path),
                           db.conninfo], capture_output=True, text=True, timeout=120,
                          check=False)


def psql_ok(db: TestDatabase, path: Path) -> None:
    done = psql(db, path)
    assert done.returncode == 0, f"{path.name}: {done.stderr}"


def written(rendered: Rendered, root: Path) -> dict[str, Path]:
    """The files written under root, by their path in the repository."""
    paths = rendered.write(root)
    return {str(f.path): p for f, p in zip(rendered.files, paths, strict=True)}


def golden(folder: Path, files: list[MigrationFile]) -> None:
    """Compare files with the golden folder (rewritten first with PGARCHITECT_REGEN_GOLDEN=1)."""
    if REGEN:
        shutil.rmtree(folder, ignore_errors=True)
        Rendered(files=files).write(folder)
    expected = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                for p in sorted(folder.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts}
    got = {str(f.path): f.text for f in files}
    assert sorted(got) == sorted(expected)
    for path, text in got.items():
        assert text == expected[path], "".join(difflib.unified_diff(
            expected[path].splitlines(True), text.splitlines(True), f"golden/{path}", path))


def statements_of(text: str) -> list[str]:
    """The lines of a SQL file that are not comments."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("--")]


def comment_text(text: str) -> str:
    """A SQL file's comment block as one line (wrapped lines joined)."""
    return " ".join(line[3:].strip() for line in text.splitlines() if line.startswith("--"))


# -- golden files ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_files(fmt: str) -> None:
    rendered = render(PROPOSALS, fmt, when=WHEN)
    assert rendered.skipped == [("work_mem = 64MB", migrations._NOT_MIGRATIONS["setting"])]
    golden(GOLDEN / fmt, rendered.files)
    # The same input always gives the same files.
    assert render(PROPOSALS, fmt, when=WHEN) == rendered


def test_names_and_versions_come_from_the_index_and_the_time() -> None:
    paths = {fmt: [str(f.path) for f in render(PROPOSALS, fmt, when=WHEN).files]
             for fmt in FORMATS}
    assert paths["sql"] == [
        "migrations/20260302093000_BehaviorLog_userId_timestamp_idx.up.sql",
        "migrations/20260302093000_BehaviorLog_userId_timestamp_idx.down.sql",
        "migrations/20260302093001_BehaviorLog_lower_eventType_partial_idx.up.sql",
        "migrations/20260302093001_BehaviorLog_lower_eventType_partial_idx.down.sql",
    ]
    assert paths["prisma"] == [
        "prisma/migrations/20260302093000_BehaviorLog_userId_timestamp_idx/migration.sql",
        "prisma/migrations/20260302093001_BehaviorLog_lower_eventType_partial_idx/migration.sql",
    ]
    assert paths["flyway"] == [
        "db/migration/V20260302093000__BehaviorLog_userId_timestamp_idx.sql",
        "db/migration/U20260302093000__BehaviorLog_userId_timestamp_idx.sql",
        "db/migration/V20260302093001__BehaviorLog_lower_eventType_partial_idx.sql",
        "db/migration/U20260302093001__BehaviorLog_lower_eventType_partial_idx.sql",
    ]
    assert [re.sub(r"/[0-9a-f]{12}_", "/<rev>_", p) for p in paths["alembic"]] == [
        "alembic/versions/<rev>_BehaviorLog_userId_timestamp_idx.py",
        "alembic/versions/<rev>_BehaviorLog_lower_eventType_partial_idx.py",
    ]
    # Stamps are UTC: the same instant in another zone, or naive (taken as UTC), is the same.
    paris = WHEN.astimezone(timezone(timedelta(hours=1)))
    for when in (paris, WHEN.replace(tzinfo=None)):
        assert render(PROPOSALS, "flyway", when=when) == render(PROPOSALS, "flyway", when=WHEN)


def test_every_file_opens_with_the_evidence() -> None:
    for fmt in FORMATS:
        for f in render(PROPOSALS[:1], fmt, when=WHEN).files:
            head = f.text.split("\nCREATE = ")[0] if fmt == "alembic" else comment_text(f.text)
            head = " ".join(head.split())
            for part in ('index public."BehaviorLog" ("userId", "timestamp" DESC)',
                         "Confidence 93/100, action pr_merge: PR, recommend immediate merge.",
                         "Expected gain 97% (planner cost), measured gain 95%",
                         # shortened to one line
                         '- SELECT "id", "eventType", "timestamp" FROM "BehaviorLog" WHERE '
                         '"userId" = $1 ORDER BY … Reasoning',
                         "Problem: a sort of every log row of the user",
                         "Reasoning: The statement filters on userId and reads",
                         'Rollback: DROP INDEX CONCURRENTLY IF EXISTS '
                         '"public"."BehaviorLog_userId_timestamp_idx";'):
                assert part in head, (f.path, part)
    unmeasured = render(PROPOSALS[1:2], "sql", when=WHEN).files[0].text
    assert "Expected gain 71% (planner cost), not measured." in comment_text(unmeasured)


def test_what_gets_no_migration() -> None:
    rejected = index_proposal(BY_USER)
    rejected.rejected = "gain 3% under min_gain_pct 10%"
    no_detail = index_proposal(QUIZ_EVENTS)
    no_detail.detail = None
    rewrite = Proposal(kind="rewrite", title="rewrite of a statement", objects=(), forward="",
                       rollback="", statements=[], reasoning="")
    twice = [index_proposal(BY_USER, title="first"), index_proposal(BY_USER, title="again")]
    rendered = render([rejected, no_detail, rewrite, *twice], "prisma", when=WHEN)
    assert [title for title, _ in rendered.skipped] == [
        rejected.title, no_detail.title, "rewrite of a statement", "again"]
    reasons = [why for _, why in rendered.skipped]
    assert reasons[0] == "rejected: gain 3% under min_gain_pct 10%"
    assert "without its index definition" in reasons[1]
    assert "not the schema" in reasons[2]
    assert "'first'" in reasons[3]
    assert len(rendered.files) == 1
    assert render([], "sql", when=WHEN) == Rendered()
    with pytest.raises(ConfigError, match="liquibase"):
        render(PROPOSALS, "liquibase", when=WHEN)


# -- each format, for real ----------------------------------------------------------------


def test_sql_up_then_down_with_psql(demo_db: TestDatabase, tmp_path: Path) -> None:
    files = written(render(PROPOSALS, "sql", when=WHEN), tmp_path)
    ups = [p for name, p in files.items() if name.endswith(".up.sql")]
    downs = [p for name, p in files.items() if name.endswith(".down.sql")]
    assert len(ups) == len(downs) == 2
    assert indexes(demo_db) == {}

    # In one transaction (psql -1), as the comment warns, CONCURRENTLY fails.
    refused = psql(demo_db, ups[0], "--single-transaction")
    assert refused.returncode != 0
    assert "cannot run inside a transaction block" in refused.stderr
    assert indexes(demo_db) == {}

    for path in ups:
        psql_ok(demo_db, path)
    assert indexes(demo_db) == {BY_USER.name: True, QUIZ_EVENTS.name: True}
    psql_ok(demo_db, ups[0])  # IF NOT EXISTS: a second run changes nothing
    for path in reversed(downs):
        psql_ok(demo_db, path)
    assert indexes(demo_db) == {}
    psql_ok(demo_db, downs[0])  # IF EXISTS, likewise


def test_prisma_one_statement_per_query_string(demo_db: TestDatabase) -> None:
    files = render(PROPOSALS, "prisma", when=WHEN).files
    with demo_db.connect() as conn:
        # Without parameters psycopg sends the text with the simple query protocol, which
        # alone accepts several statements in one string (the extended one refuses them).
        conn.execute("SELECT 1; SELECT 2")
        with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
            conn.execute("SELECT 1; SELECT %s", (2,))

        # Two statements in one string: PostgreSQL runs them as one implicit transaction.
        with pytest.raises(psycopg.errors.ActiveSqlTransaction,
                           match="cannot run inside a transaction block"):
            conn.execute(files[0].text + 'SELECT count(*) FROM "BehaviorLog";\n')
        with pytest.raises(psycopg.errors.ActiveSqlTransaction):
            conn.execute('SELECT 1;\n' + files[0].text)
        assert indexes(demo_db) == {}

        # The file alone, as Prisma sends it: it runs.
        for f in files:
            assert len(statements_of(f.text)) == 1
            conn.execute(f.text)
        assert indexes(demo_db) == {BY_USER.name: True, QUIZ_EVENTS.name: True}

        # The rollback in the comment block, alone, undoes each.
        for f in files:
            rollback = re.search(r"Rollback: (.*?;)", comment_text(f.text))
            assert rollback
            conn.execute(rollback.group(1))
    assert indexes(demo_db) == {}


INITIAL = '''"""The demo tables, from an earlier migration of the application.

Revision ID: 0a1b2c3d4e5f
Revises:
"""

from alembic import op

revision: str = "0a1b2c3d4e5f"
down_revision: str | None = None


def upgrade() -> None:
    for statement in {statements!r}:
        op.execute(statement)


def downgrade() -> None:
    op.execute('DROP TABLE "BehaviorLog", "User"')
'''

ENV = '''from alembic import context
from sqlalchemy import create_engine

engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
'''


def sqlalchemy_url(conninfo: str) -> str:
    """``postgresql+psycopg://…`` for a libpq conninfo."""
    params = conninfo_to_dict(conninfo)
    port = params.get("port")
    url = URL.create("postgresql+psycopg", username=str(params.get("user") or "") or None,
                     password=str(params["password"]) if params.get("password") else None,
                     host=str(params.get("host") or "") or None,
                     port=int(str(port)) if port else None, database=str(params["dbname"]))
    return url.render_as_string(hide_password=False)


def alembic_repo(root: Path, db: TestDatabase) -> Config:
    """A repository with alembic.ini (script location "db/alembic"), an env.py and the
    application's first revision, which creates the tables."""
    scripts = root / "db" / "alembic"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV)
    (scripts / "versions" / "0a1b2c3d4e5f_demo_tables.py").write_text(
        INITIAL.format(statements=[s for s in DEMO_TABLES.split(";\n") if s.strip()]))
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/db/alembic\n")
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(db.conninfo).replace("%", "%%"))
    return config


def test_alembic_upgrade_and_downgrade(pg_db: TestDatabase, tmp_path: Path) -> None:
    config = alembic_repo(tmp_path, pg_db)
    rendered = render(PROPOSALS, "alembic", when=WHEN, repo=tmp_path)
    files = written(rendered, tmp_path)
    assert all(name.startswith("db/alembic/versions/") for name in files)
    first, second = (ast.parse(p.read_text()) for p in files.values())
    revisions = [migrations._revision_of(p) for p in files.values()]
    assert revisions[0] is not None and revisions[1] is not None
    assert revisions[0][1] == ("0a1b2c3d4e5f",)  # chained after the head found in the folder
    assert revisions[1][1] == (revisions[0][0],)
    assert ast.get_docstring(first) and ast.get_docstring(second)
    # Alembic itself sees one chain, ending at the last new revision.
    assert ScriptDirectory.from_config(config).get_heads() == [revisions[1][0]]

    command.upgrade(config, "head")
    assert indexes(pg_db) == {BY_USER.name: True, QUIZ_EVENTS.name: True}
    with pg_db.connect() as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (revisions[1][0],)]
    command.downgrade(config, "0a1b2c3d4e5f")
    assert indexes(pg_db) == {}
    assert table_exists(pg_db)
    command.upgrade(config, "head")
    assert indexes(pg_db) == {BY_USER.name: True, QUIZ_EVENTS.name: True}

    # The next set chains after the new head.
    later = render([index_proposal(IndexDef("public", "BehaviorLog", (IndexKey("eventType"),)))],
                   "alembic", when=WHEN + timedelta(days=1), repo=tmp_path)
    [path] = written(later, tmp_path).values()
    assert migrations._revision_of(path) == (path.name[:12], (revisions[1][0],))
    command.upgrade(config, "head")
    assert "BehaviorLog_eventType_idx" in indexes(pg_db)


def test_alembic_needs_the_autocommit_block(pg_db: TestDatabase, tmp_path: Path) -> None:
    """Without autocommit_block(), the same revision fails inside Alembic's transaction."""
    config = alembic_repo(tmp_path, pg_db)
    [path] = written(render(PROPOSALS[:1], "alembic", when=WHEN, repo=tmp_path), tmp_path).values()
    text = path.read_text()
    block = "    with op.get_context().autocommit_block():\n        op.execute("
    assert text.count(block) == 2
    path.write_text(text.replace(block, "    op.execute("))
    with pytest.raises(DBAPIError, match="cannot run inside a transaction block"):
        command.upgrade(config, "head")
    path.write_text(text)
    command.upgrade(config, "head")
    assert indexes(pg_db) == {BY_USER.name: True}


def test_alembic_head_and_location(tmp_path: Path) -> None:
    versions = tmp_path / "alembic" / "versions"
    versions.mkdir(parents=True)
    assert migrations._alembic_head(versions) is None
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')
    (versions / "broken.py").write_text("revision = (\n")
    (versions / "notes.py").write_text("print('no revision here')\n")
    with pytest.raises(PgArchitectError, match=r"2 heads \(b, c\).*alembic merge heads"):
        render(PROPOSALS, "alembic", when=WHEN, repo=tmp_path)
    (versions / "m.py").write_text('revision = "m"\ndown_revision = ("b", "c")\n')
    rendered = render(PROPOSALS, "alembic", when=WHEN, repo=tmp_path)
    assert "down_revision = 'm'" in rendered.files[0].text

    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n"
                                          "version_locations = %(here)s/migrations/v1\n")
    assert str(render(PROPOSALS, "alembic", when=WHEN, repo=tmp_path).files[0].path.parent) \
        == "migrations/v1"
    for bad in ("myapp:migrations", "../elsewhere", "/etc"):
        (tmp_path / "alembic.ini").write_text(f"[alembic]\nscript_location = {bad}\n")
        with pytest.raises(ConfigError, match="no folder inside the repository"):
            render(PROPOSALS, "alembic", when=WHEN, repo=tmp_path)


def test_flyway_pair_with_psql(demo_db: TestDatabase, tmp_path: Path) -> None:
    # Flyway (a Java tool) is not available here. Each file holds one statement, which
    # Flyway runs outside a transaction: psql -f does the same with each file.
    files = written(render(PROPOSALS, "flyway", when=WHEN), tmp_path)
    versioned = sorted(p for p in files.values() if p.name.startswith("V"))
    undos = sorted((p for p in files.values() if p.name.startswith("U")), reverse=True)
    assert [p.name[1:] for p in versioned] == sorted(p.name[1:] for p in undos)
    for path in versioned:
        assert len(statements_of(path.read_text())) == 1
        psql_ok(demo_db, path)
    assert indexes(demo_db) == {BY_USER.name: True, QUIZ_EVENTS.name: True}
    for path in undos:
        assert len(statements_of(path.read_text())) == 1
        psql_ok(demo_db, path)
    assert indexes(demo_db) == {}


def test_flyway_folder_of_the_repository(tmp_path: Path) -> None:
    (tmp_path / "src/main/resources/db/migration").mkdir(parents=True)
    paths = [str(f.path) for f in render(PROPOSALS, "flyway", when=WHEN, repo=tmp_path).files]
    assert all(p.startswith("src/main/resources/db/migration/V")
               or p.startswith("src/main/resources/db/migration/U") for p in paths)
    placeholder = index_proposal(IndexDef("public", "t", (IndexKey("a"),), where="b = '${x}'"))
    rendered = render([placeholder], "flyway", when=WHEN)
    assert rendered.files == [] and "placeholder" in rendered.skipped[0][1]


# -- text that could break out of a comment ------------------------------------------------

HOSTILE = (
    'x */ DROP TABLE "BehaviorLog"; /* \n DROP TABLE "BehaviorLog";\r\n-- """\n'
    'import os; os.system("touch {marker}") """ \' " \\N{{BULLET}} \\x41 \x00 \x1b[2J \u2028'
    " \\! touch {marker}\n\\gexec ${{flyway:user}} :'x' {{% raw %}}"
)


def test_hostile_text_stays_in_the_comment(demo_db: TestDatabase, tmp_path: Path) -> None:
    """Title, problem, reasoning and statement full of comment ends, line breaks, quotes,
    psql commands and placeholders: every format still runs exactly its one statement."""
    marker = tmp_path / "injected"
    text = HOSTILE.format(marker=marker)
    index = IndexDef("public", "BehaviorLog", (IndexKey("eventType"),),
                     where="\"eventType\" <> 'at :noon %'")
    predicate = "WHERE (\"eventType\" <> 'at :noon %'::text)"
    proposal = index_proposal(index, title=text, query=text, reasoning=text, problem=text)
    repo = tmp_path / "repo"
    alembic_config = alembic_repo(repo, demo_db)
    command.stamp(alembic_config, "head")  # the tables exist already

    for fmt in FORMATS:
        rendered = render([proposal], fmt, when=WHEN, repo=repo)
        assert rendered.skipped == []
        for f in rendered.files:
            assert "\x00" not in f.text and "\x1b" not in f.text and "\r" not in f.text
            assert "\u2028" not in f.text
            if fmt == "alembic":
                continue
            lines = f.text.splitlines()
            assert all(line.startswith("--") for line in lines[:-1]), f.path
            assert lines[-1].startswith(("CREATE INDEX CONCURRENTLY", "DROP INDEX CONCURRENTLY"))
            assert "${" not in "\n".join(lines[:-1]) or fmt != "flyway"
        files = written(rendered, repo)
        if fmt == "prisma":
            with demo_db.connect() as conn:
                for path in files.values():
                    conn.execute(path.read_text())
            assert definition(demo_db, index.name).endswith(predicate)
            with demo_db.connect() as conn:
                conn.execute(index.drop_sql().as_string(None))
        elif fmt == "alembic":
            [path] = files.values()
            tree = ast.parse(path.read_text())
            assert [type(node).__name__ for node in tree.body] == [
                "Expr", "ImportFrom", "Assign", "Assign", "Assign", "Assign", "Assign",
                "Assign", "FunctionDef", "FunctionDef"]
            doc = ast.get_docstring(tree) or ""
            flat = " ".join(doc.split())
            assert '\\N{BULLET} \\x41' in flat and '"""' in flat and "*/" in flat
            command.upgrade(alembic_config, "head")
            # The colon and the percent sign reach PostgreSQL as written.
            assert definition(demo_db, index.name).endswith(predicate)
            command.downgrade(alembic_config, "-1")
        else:
            for path in sorted(files.values(), key=lambda p: (p.name.startswith("U"),
                                                              ".down." in p.name)):
                psql_ok(demo_db, path)
                if path.name.startswith("V") or path.name.endswith(".up.sql"):
                    assert definition(demo_db, index.name).endswith(predicate)
        assert index.name not in indexes(demo_db)
        assert table_exists(demo_db)
        assert not marker.exists()


def test_flat_and_docstring_lines() -> None:
    assert migrations._flat("a\r\n\tb\u2028c\x00d\x1b") == "a b c\ufffdd\ufffd"
    line = migrations._docstring_line('end """ here \\N{x} and """"')
    assert '"""' not in line.replace('\\"', "")
    assert ast.literal_eval(f'"""{line} """') == 'end """ here \\N{x} and """" '


# -- detect_format ------------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "expected"), [
    ((), "sql"),
    (("migrations/",), "sql"),
    (("prisma/schema.prisma",), "prisma"),
    (("prisma/schema.prisma", "alembic.ini"), "prisma"),
    (("alembic.ini", "alembic/versions/"), "alembic"),
    (("alembic.ini", "db/migration/"), "alembic"),
    (("db/migration/",), "flyway"),
    (("src/main/resources/db/migration/",), "flyway"),
    (("db/migration",), "sql"),  # a file of that name is no folder
])
def test_detect_format(tmp_path: Path, layout: tuple[str, ...], expected: str) -> None:
    for entry in layout:
        path = tmp_path / entry
        if entry.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    assert detect_format(tmp_path) == expected


# -- schema.prisma ------------------------------------------------------------------------

TRIGRAM = IndexDef("public", "Course", (IndexKey("title", opclass="gin_trgm_ops"),),
                   method="gin")
SCHEMA_INDEXES = [
    BY_USER,
    QUIZ_EVENTS,
    IndexDef("public", "Enrollment", (IndexKey("courseId"),)),  # a model without @@ lines
    TRIGRAM,
    IndexDef("public", "Lesson", (IndexKey("courseId"), IndexKey("position")),
             include=("title",)),
    IndexDef("public", "User", (IndexKey(expression="lower(email)"),), unique=True),
    IndexDef("public", "QuizAttempt", (IndexKey("score", nulls="first"),)),
    IndexDef("public", "Certificate", (IndexKey("userId"),)),
    IndexDef("public", "BehaviorLog", (IndexKey("userId"),)),  # declared already, unnamed
    IndexDef("public", "User", (IndexKey("email"),), unique=True),  # email @unique
]


def test_add_prisma_indexes_to_the_demo_schema() -> None:
    schema = (DEMO / "schema.prisma").read_text()
    new, notes = add_prisma_indexes(schema, SCHEMA_INDEXES)
    if REGEN:
        (GOLDEN / "schema.prisma").write_text(new)
        (GOLDEN / "schema.notes.txt").write_text("\n".join(notes) + "\n")
    assert new == (GOLDEN / "schema.prisma").read_text()
    assert "\n".join(notes) + "\n" == (GOLDEN / "schema.notes.txt").read_text()

    # Only lines added: every other byte as it was.
    ops = difflib.SequenceMatcher(None, schema.splitlines(True), new.splitlines(True),
                                  autojunk=False).get_opcodes()
    assert {tag for tag, *_ in ops} == {"equal", "insert"}
    added = [line.strip() for tag, _, _, j1, j2 in ops if tag == "insert"
             for line in new.splitlines()[j1:j2]]
    assert added == [
        "",
        '@@index([title(ops: raw("gin_trgm_ops"))], map: "Course_title_gin_idx", type: Gin)',
        "",
        '@@index([courseId], map: "Enrollment_courseId_idx")',
        '@@index([userId, timestamp(sort: Desc)], map: "BehaviorLog_userId_timestamp_idx")',
    ]
    assert len(notes) == 5
    for name in (QUIZ_EVENTS.name, "Lesson_courseId_position_idx", "User_lower_email_idx",
                 "QuizAttempt_score_idx", "Certificate_userId_idx"):
        assert sum(name in note for note in notes) == 1, name
    assert all("prisma migrate dev" in note for note in notes)

    # Idempotent: a second pass adds nothing, and says the same.
    assert add_prisma_indexes(new, SCHEMA_INDEXES) == (new, notes)


MAPPED = """\
generator client {\r
  provider        = "prisma-client-js"\r
  previewFeatures = ["partialIndexes"] // partial indexes: Prisma 7.4\r
}\r
\r
model Account {\r
  id        Int      @id @default(autoincrement())\r
  ownerId   Int      @map("owner_id")\r
  url       String   @default("http://example.org/{}") // a brace, a slash\r
  createdAt DateTime @map(name: "created_at")\r
  owner     Owner    @relation(fields: [ownerId], references: [id])\r
\r
  @@unique([url], map: "account_url_key")\r
  @@map("accounts")\r
}\r
\r
model Owner {\r
  id       Int       @id\r
  accounts Account[]\r
}\r
"""


def test_add_prisma_indexes_maps_names_and_keeps_crlf() -> None:
    recent = IndexDef("public", "accounts", (IndexKey("owner_id"),
                                             IndexKey("created_at", direction="desc")),
                      where="created_at > '2026-01-01'")
    url_again = IndexDef("public", "accounts", (IndexKey("url"),), unique=True)
    new, notes = add_prisma_indexes(MAPPED, [recent, url_again])
    assert notes == []
    expected = MAPPED.replace(
        '  @@unique([url], map: "account_url_key")\r\n',
        '  @@unique([url], map: "account_url_key")\r\n'
        '  @@index([ownerId, createdAt(sort: Desc)], map: '
        '"accounts_owner_id_created_at_partial_idx", where: raw("created_at > '
        "'2026-01-01'\"))\r\n")
    assert new == expected
    assert add_prisma_indexes(new, [recent, url_again]) == (new, [])

    # Without the preview feature the partial index is only a note; the table is found by
    # @@map, not by the model's name.
    plain = MAPPED.replace('  previewFeatures = ["partialIndexes"] // partial indexes: Prisma '
                           "7.4\r\n", "")
    same, [note] = add_prisma_indexes(plain, [recent])
    assert same == plain
    assert "a partial index (WHERE)" in note and "partialIndexes preview feature" in note
    assert add_prisma_indexes(plain, [IndexDef("public", "Account", (IndexKey("id"),))])[1]


def test_prisma_migration_names_its_declaration(tmp_path: Path) -> None:
    (tmp_path / "prisma").mkdir()
    shutil.copy(DEMO / "schema.prisma", tmp_path / "prisma" / "schema.prisma")
    files = render(PROPOSALS, "prisma", when=WHEN, repo=tmp_path).files
    first, second = (comment_text(f.text) for f in files)
    assert ('Declare it in schema.prisma, in model BehaviorLog: @@index([userId, '
            'timestamp(sort: Desc)], map: "BehaviorLog_userId_timestamp_idx").') in first
    assert "cannot express an expression key and a partial index (WHERE)" in second
