"""Reading statements from PostgreSQL server logs that a real server wrote.

One PostgreSQL 18 server runs for the module with every kind of statement logging
on (log_min_duration_statement, auto_explain, and in one session log_statement
with log_duration) and writes the same records as stderr, csvlog and jsonlog.
The bad-input cases cut or garble lines taken from those logs.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgarchitect.errors import ConfigError, ServerError
from pgarchitect.server import LocalServer, embedded_bindir
from pgarchitect.workload import Source, Statement, Workload, group
from pgarchitect.workload.logs import LogSource

SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "logging_collector": "on",
    "log_destination": "'stderr,csvlog,jsonlog'",
    "log_directory": "'log'",
    "log_filename": "'pg.log'",
    "log_min_duration_statement": "0",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "shared_preload_libraries": "'pg_stat_statements,auto_explain'",
    "auto_explain.log_min_duration": "0",
    "lc_messages": "'C'",
}

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, email text, org_id int);
INSERT INTO users SELECT g, 'u' || g || '@example.com', g % 10 FROM generate_series(1, 100) g
"""
SIMPLE = "SELECT email FROM users WHERE id = 1"
CLIENT = "SELECT email FROM users WHERE id = %s"  # psycopg's ClientCursor inlines the value
EXTENDED = "SELECT id FROM users WHERE org_id = %s AND email = %s"
PREPARED = "SELECT id, org_id FROM users WHERE email = %s"
MULTILINE = "SELECT u.email\n  FROM users u\n WHERE u.org_id = 3\n ORDER BY u.id"
ORM_A = ('SELECT "users"."id" AS "users_id", "users"."email" AS "users_email" '
         'FROM "users" WHERE "users"."org_id" = 5')
ORM_B = "SELECT users.id AS uid, users.email AS mail FROM users WHERE users.org_id = 9"
SQL_PREPARE = "PREPARE by_org(int) AS SELECT count(*) FROM users WHERE org_id = $1"
MULTI = "SELECT 1; SELECT 2"
IN_TX_SELECT = "SELECT email FROM users WHERE id = %s AND org_id >= 0"
IN_TX_INSERT = "INSERT INTO users VALUES (%s, %s, %s)"
PAIRED_SIMPLE = "SELECT count(*) FROM users WHERE org_id = 11"
PAIRED_EXTENDED = "SELECT count(*) FROM users WHERE org_id = %s AND id > 0"
PLAN_JSON = "SELECT max(id) FROM users WHERE org_id = %s"
PLAN_TEXT = "SELECT min(id)\n  FROM users\n WHERE org_id = 4"
OTHER = "SELECT 42 AS answer"
# Prefixes switched to after the main workload, each with its own statement.
PREFIXES = {
    "%t [%p]: [%l-1] user=%u,db=%d ": "SELECT 'pgbadger' AS prefix",
    "%m [%p] ": "SELECT 'plain' AS prefix",
}


def dollars(query: str) -> str:
    """The text the server logs for a psycopg query with parameters."""
    parts = query.split("%s")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))


@dataclass(frozen=True)
class Logs:
    stderr: Path
    csv: Path
    json: Path

    def read(self, fmt: str, database: str | None = None) -> Workload:
        path: Path = getattr(self, fmt)
        return LogSource(path, database=database).read()


def _set_prefix(server: LocalServer, prefix: str) -> None:
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER SYSTEM SET log_line_prefix = {}").format(
            sql.Literal(prefix)))
        admin.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the postmaster reloads asynchronously
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            if conn.execute("SHOW log_line_prefix").fetchone() == (prefix,):
                return
        time.sleep(0.02)
    raise AssertionError(f"log_line_prefix did not become {prefix!r}")


def _workload(server: LocalServer) -> None:
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE app")
        admin.execute("CREATE DATABASE other")
    with psycopg.connect(server.conninfo("app"), autocommit=True) as app:
        app.execute(SCHEMA)
        app.execute(SIMPLE)
        psycopg.ClientCursor(app).execute(CLIENT, [2])
        app.execute(EXTENDED, [42, None])
        for email in ("o'hara@example.com", "u7@example.com"):
            app.execute(PREPARED, [email], prepare=True)
        app.execute(MULTILINE)
        app.execute(ORM_A)
        app.execute(ORM_B)
        app.execute(SQL_PREPARE)
        app.execute("EXECUTE by_org(3)")
        app.execute(MULTI)
        with app.transaction():
            app.execute(IN_TX_SELECT, [5])
            app.execute(IN_TX_SELECT, [6])
            app.execute(IN_TX_INSERT, [1000, "new@example.com", 1])
        # log_statement and log_duration write text and duration on separate lines.
        app.execute("SET log_statement = 'all'")
        app.execute("SET log_duration = on")
        app.execute("SET log_min_duration_statement = -1")
        app.execute(PAIRED_SIMPLE)
        app.execute(PAIRED_EXTENDED, [12])
        app.execute("SET log_duration = off")
        app.execute("SET log_statement = 'none'")
        # Only auto_explain now.
        app.execute("SET auto_explain.log_format = json")
        app.execute(PLAN_JSON, [5])
        app.execute("SET auto_explain.log_format = text")
        app.execute(PLAN_TEXT)
    with psycopg.connect(server.conninfo("other"), autocommit=True) as other:
        other.execute(OTHER)
    for prefix, query in PREFIXES.items():
        _set_prefix(server, prefix)
        with psycopg.connect(server.conninfo("other"), autocommit=True) as other:
            other.execute(query)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    datadir = tmp_path_factory.mktemp("logs") / "pg18"
    server = LocalServer(bindir=embedded_bindir(), datadir=datadir, settings=SETTINGS)
    try:
        server.start()
    except (ServerError, OSError) as exc:
        pytest.fail(f"Cannot start the PostgreSQL 18 server for log tests: {exc}",
                    pytrace=False)
    try:
        _workload(server)
    finally:
        server.stop()  # the logging collector has written everything once it stops
    logdir = datadir / "log"
    yield Logs(logdir / "pg.log", logdir / "pg.csv", logdir / "pg.json")


FORMATS = ["stderr", "csv", "json"]


def test_the_three_formats_give_the_same_statements(logs: Logs) -> None:
    source: Source = LogSource(logs.stderr)  # the workload protocol, checked by mypy
    assert source.name == f"log:{logs.stderr}"
    read = {fmt: logs.read(fmt) for fmt in FORMATS}
    rows = {fmt: [(s.query, s.fingerprint, s.total_ms, s.params, s.calls)
                  for s in wl.statements] for fmt, wl in read.items()}
    assert len(rows["stderr"]) > 30
    assert rows["stderr"] == rows["csv"] == rows["json"]
    for fmt, wl in read.items():
        assert wl.skipped == [], fmt
        assert {s.source for s in wl.statements} == {f"log:{getattr(logs, fmt)}"}
        assert all(s.calls == 1 and s.min_ms == s.max_ms == s.mean_ms == s.total_ms >= 0
                   for s in wl.statements)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_execution_counts_once_with_its_bind_values(logs: Logs, fmt: str) -> None:
    statements = logs.read(fmt).statements
    found: dict[str, list[Statement]] = {}
    for s in statements:
        found.setdefault(s.query, []).append(s)
    calls = Counter({q: len(v) for q, v in found.items()})
    params = {q: [p for s in v for p in s.params] for q, v in found.items()}

    # Simple protocol; auto_explain's plan of the same execution is not counted again.
    assert calls[SIMPLE] == 1 and params[SIMPLE] == []
    assert calls["SELECT email FROM users WHERE id = 2"] == 1  # ClientCursor
    assert calls[MULTILINE] == 1
    assert calls[MULTI] == 1  # two plans, one statement line
    # Extended protocol: $n in the text, the values as the server logged them.
    assert params[dollars(EXTENDED)] == [("42", None)]
    assert params[dollars(PREPARED)] == [("o'hara@example.com",), ("u7@example.com",)]
    # In a transaction, a SELECT's plan is logged when its portal goes, after it.
    assert params[dollars(IN_TX_SELECT)] == [("5",), ("6",)]
    assert params[dollars(IN_TX_INSERT)] == [("1000", "new@example.com", "1")]
    # SQL-level PREPARE/EXECUTE reports the prepared query.
    assert calls["SELECT count(*) FROM users WHERE org_id = $1"] == 1
    assert calls["EXECUTE by_org(3)"] == 0
    # log_statement + log_duration, paired by process id.
    assert calls[PAIRED_SIMPLE] == 1
    assert params[dollars(PAIRED_EXTENDED)] == [("12",)]
    # auto_explain alone, in JSON and in text format (multi-line query text).
    assert calls[dollars(PLAN_JSON)] == 1
    assert calls[PLAN_TEXT] == 1
    # Each of the other statements of the workload once, whichever logging wrote it.
    once = [SIMPLE, MULTILINE, ORM_A, ORM_B, MULTI, PAIRED_SIMPLE, PLAN_TEXT, OTHER,
            *PREFIXES.values(), *map(dollars, (EXTENDED, IN_TX_INSERT, PAIRED_EXTENDED,
                                               PLAN_JSON))]
    assert {q: calls[q] for q in once} == dict.fromkeys(once, 1)


def test_orm_variants_group_by_fingerprint(logs: Logs) -> None:
    grouped = group(logs.read("stderr").statements)
    orm = [s for s in grouped if s.query in (ORM_A, ORM_B)]
    assert len(orm) == 1
    assert orm[0].calls == 2 and orm[0].variants == 2
    prepared = next(s for s in grouped if s.query == dollars(PREPARED))
    assert prepared.calls == 2 and len(prepared.params) == 2


def test_database_filter(logs: Logs) -> None:
    prefix_queries = list(PREFIXES.values())
    for fmt in ("csv", "json"):
        wl = logs.read(fmt, database="other")
        assert [s.query for s in wl.statements] == [OTHER, *prefix_queries], fmt
    # The stderr prefix names the database in the Debian and pgbadger prefixes only.
    wl = logs.read("stderr", database="other")
    assert [s.query for s in wl.statements] == [OTHER, prefix_queries[0]]
    assert any("add %d to log_line_prefix" in n for n in wl.notes), wl.notes
    assert logs.read("csv", database="nope").statements == []


def test_format_from_extension_content_or_gzip(logs: Logs, tmp_path: Path) -> None:
    expected = [s.query for s in logs.read("csv").statements]
    for path, fmt in ((logs.stderr, "stderr"), (logs.csv, "csvlog"), (logs.json, "jsonlog")):
        text = path.read_text()
        wl = LogSource(tmp_path / "server.log", io.StringIO(text)).read()  # content decides
        assert wl.notes[0].startswith(f"{tmp_path / 'server.log'} read as {fmt}:")
        assert [s.query for s in wl.statements] == expected
        gz = tmp_path / f"{path.name}.gz"
        gz.write_bytes(gzip.compress(text.encode()))
        assert [s.query for s in LogSource(gz).read().statements] == expected


# -- bad input: lines from the real logs, cut or garbled --------------------------


def _line(path: Path, needle: str) -> str:
    return next(line for line in path.read_text().splitlines(keepends=True) if needle in line)


def test_cut_stderr_lines_are_skipped_and_reading_goes_on(logs: Logs) -> None:
    good = _line(logs.stderr, f"statement: {SIMPLE}")
    cut_in_prefix = good[:12] + "\n"
    cut_in_duration = good[: good.index(" ms") - 2] + "\n"
    cut_in_query = good[: good.index("WHERE id") + len("WHERE id =")] + "\n"
    text = cut_in_prefix + good + cut_in_duration + cut_in_query + good
    wl = LogSource("cut.log", io.StringIO(text)).read()
    assert [s.query for s in wl.statements] == [SIMPLE, SIMPLE]
    reasons = [s.reason for s in wl.skipped]
    assert reasons[0].startswith("Log line 1 is cut off")
    assert reasons[1] == "Log line 3 is cut off"
    assert reasons[2].startswith("Could not parse query: the statement is cut at the end")
    assert reasons[2].endswith("(log line 4)")
    assert wl.skipped[2].query.endswith("WHERE id =")


def test_parameters_without_an_execute_are_skipped(logs: Logs) -> None:
    detail = _line(logs.stderr, "DETAIL:  Parameters: $1 = '42', $2 = NULL")
    good = _line(logs.stderr, f"statement: {SIMPLE}")
    wl = LogSource("orphan.log", io.StringIO(detail + good)).read()
    assert [s.query for s in wl.statements] == [SIMPLE]
    assert wl.skipped[0].reason == "Log line 1: bind parameters without a preceding execute"
    assert wl.skipped[0].query.startswith("Parameters: $1 = '42'")


def test_garbled_csv_rows_are_skipped(logs: Logs) -> None:
    good = _line(logs.csv, f"statement: {SIMPLE}")
    cut = good[: good.index("statement:")] + "\n"  # the quote of the message never closes
    text = cut + good + "garbage,1,2\n" + good
    wl = LogSource("bad.csv", io.StringIO(text)).read()
    assert [s.query for s in wl.statements] == [SIMPLE, SIMPLE]
    reasons = [s.reason for s in wl.skipped]
    assert reasons == ["CSV log row at line 1 is cut off: a quote is not closed",
                       "CSV log row at line 3 is garbled: 3 columns, not the csvlog layout"]


def test_json_lines_that_do_not_parse_are_skipped(logs: Logs) -> None:
    good = _line(logs.json, f"statement: {SIMPLE}")
    text = good[: len(good) // 2] + "\n" + good + "[1, 2]\n"
    wl = LogSource("bad.json", io.StringIO(text)).read()
    assert [s.query for s in wl.statements] == [SIMPLE]
    reasons = [s.reason for s in wl.skipped]
    assert reasons[0].startswith("JSON log line 1 does not parse: ")
    assert reasons[1] == "JSON log line 3 has no 'message': not jsonlog"


def test_missing_file_and_unknown_format_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found\. Pass the path of a PostgreSQL"):
        LogSource(tmp_path / "nope.log").read()
    with pytest.raises(ConfigError, match="Did you mean 'csvlog'"):
        LogSource(tmp_path / "x.csv", format="csv")


def test_a_log_without_durations_says_which_settings_to_use() -> None:
    text = "2024-05-01 10:00:00.000 UTC [42] LOG:  database system is ready\n"
    wl = LogSource("quiet.log", io.StringIO(text)).read()
    assert wl.statements == [] and wl.skipped == []
    assert "set log_min_duration_statement" in wl.notes[1]


def test_cli_workload_reads_a_log(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    from support.cli import run_cli

    result = run_cli(capsys, "workload", "--log", str(logs.csv), "--min-mean-ms", "-1",
                     "--min-calls", "0", "--top", "100", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["source"] == f"log:{logs.csv}"
    assert data["statements"] and any(s["params"] for s in data["statements"])
    # The server's own utility statements are left out by the workload filters.
    assert not any(s["query"].upper().startswith(("SET ", "BEGIN")) for s in data["statements"])
