"""Hostile input files through the real CLI: one clear line and the documented exit code.

Found by fuzzing: each of these gave a Python traceback (or ran for minutes, or lost
data) before. Every case asserts no traceback, the exit code, one line that says
what to do and, for commands with a database, that the target is unchanged where
the command must not write.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import Result, run_cli
from support.servers import TestDatabase

from pgarchitect.knowledge.embed import DIMENSIONS
from pgarchitect.workload.logs import MAX_LINE_BYTES, MAX_LOG_BYTES
from pgarchitect.workload.text import MAX_FILE_BYTES

GOOD_ID = "0b7e1f6e-3c1a-4c4e-9a43-1d2f6b0c9e01"


def clean(result: Result, code: int, *words: str) -> str:
    """Assert no traceback, the exit code, and one `error:` line containing ``words``."""
    assert "Traceback" not in result.err + result.out, result.err
    assert result.code == code, (result.code, result.err, result.out)
    if code == 0:
        return ""
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.err
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def catalog(db: TestDatabase) -> tuple[int, bool]:
    """The target's fingerprint: its relations, and whether pgarchitect's schema exists."""
    with db.connect() as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM pg_class), EXISTS (SELECT FROM "
                           "pg_namespace WHERE nspname = 'pgarchitect')").fetchone()
    assert row is not None and isinstance(row[0], int)
    return row[0], bool(row[1])


# -- --file ----------------------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    binary = tmp_path / "binary.sql"
    binary.write_bytes(bytes(range(256)) * 8)
    nul = tmp_path / "nul.sql"
    nul.write_bytes(b"SELECT 1;\0SELECT 2;")
    latin1 = tmp_path / "latin1.sql"
    latin1.write_bytes("SELECT 'café';".encode("latin-1"))
    return {"binary": (binary, "NUL byte"), "nul": (nul, "NUL byte at offset 9"),
            "invalid utf-8": (latin1, "not UTF-8"),
            "endless": (Path("/dev/zero"), f"larger than {MAX_FILE_BYTES // 2**20} MiB")}


@pytest.mark.parametrize("case", ["binary", "nul", "invalid utf-8", "endless"])
def test_workload_file_refuses_what_is_not_sql_text(case: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path, said = _bad_files(tmp_path)[case]
    line = clean(run_cli(capsys, "workload", "--file", str(path)), 2, said, str(path))
    assert "Pass a file" in line or "Convert" in line


@pytest.mark.parametrize("command", ["advise", "audit"])
def test_advise_and_audit_file_refuse_it_before_touching_the_database(
        command: str, pg_db: TestDatabase, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    before = catalog(pg_db)
    for path, said in _bad_files(tmp_path).values():
        clean(run_cli(capsys, command, pg_db.conninfo, "--file", str(path)), 2, said)
    assert catalog(pg_db) == before


# -- --log -----------------------------------------------------------------------------


def _bomb(path: Path, byte: bytes, total: int) -> Path:
    """A gzip file of ``total`` bytes of ``byte``: one small member, repeated (gzip
    reads concatenated members as one stream), so it costs kilobytes to build."""
    piece = 16 * 2**20
    member = gzip.compress(byte * piece, compresslevel=9)
    with path.open("wb") as out:
        for _ in range(total // piece):
            out.write(member)
    return path


def _workload_json(result: Result) -> Any:
    document = json.loads(result.out)
    assert isinstance(document, dict)
    return document


def test_a_gzip_bomb_of_one_line_is_cut_off_and_said(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    log = _bomb(tmp_path / "one-line.log.gz", b"x", 2 * 2**30)
    assert log.stat().st_size < 4 * 2**20
    result = run_cli(capsys, "workload", "--log", str(log), "--json")
    clean(result, 0)
    document = _workload_json(result)
    reasons = [s["reason"] for s in document["skipped"]]
    assert any("over the limit" in r and "MAX_LINE_BYTES" in r for r in reasons), reasons
    notes = document["notes"]
    assert any(f"Only the first {MAX_LOG_BYTES // 2**20} MiB" in n and "split the log" in n
               for n in notes), notes


def test_a_gzip_bomb_of_newlines_stops_at_the_line_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _bomb(tmp_path / "newlines.log.gz", b"\n", 2 * 2**30)
    result = run_cli(capsys, "workload", "--log", str(log), "--json")
    clean(result, 0)
    notes = _workload_json(result)["notes"]
    assert any("lines of" in n and "were read" in n for n in notes), notes


def test_an_over_long_line_is_skipped_and_the_rest_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = "2024-05-01 10:00:00.000 UTC [42] LOG:  duration: 600.0 ms  statement: SELECT 1\n"
    log = tmp_path / "server.log"
    log.write_text(good + "y" * (MAX_LINE_BYTES + 10) + "\n" + good)
    result = run_cli(capsys, "workload", "--log", str(log), "--json", "--min-calls", "0",
                     "--min-mean-ms", "0")
    clean(result, 0)
    document = _workload_json(result)
    assert document["statements"][0]["calls"] == 2, document
    reasons = [s["reason"] for s in document["skipped"]]
    assert any(r.startswith("Log line 2 is ") and "skipped" in r for r in reasons), reasons
    assert not any("Only the first" in n for n in document["notes"])


# -- --budget --------------------------------------------------------------------------


def test_an_absurd_budget_is_refused(pg_db: TestDatabase,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = catalog(pg_db)
    result = run_cli(capsys, "advise", pg_db.conninfo, "-s", "SELECT 1", "--no-kb",
                     "--budget", "9" * 400)
    line = clean(result, 2, "Budget", "e.g. 500MB")
    assert len(line) < 300
    assert catalog(pg_db) == before


# -- kb import -------------------------------------------------------------------------


def _finding(n: int, **changes: object) -> str:
    vector = [0.0] * DIMENSIONS
    vector[n] = 1.0
    data: dict[str, object] = {
        "database": "test", "fingerprint": f"f{n}", "query": f"SELECT {n}", "kind": "index",
        "recommendation_sql": f"CREATE INDEX ON t{n} (a)", "embedding": vector}
    data.update(changes)
    return json.dumps(data)


def test_kb_import_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean(run_cli(capsys, "kb", "import", str(tmp_path / "nothing.jsonl")), 2,
          "Cannot read", "nothing.jsonl", "kb export")


def test_kb_import_keeps_the_good_lines_and_names_each_bad_one(
        pg_db: TestDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        _finding(1).encode(),
        _finding(2, id="not-a-uuid").encode(),                      # 2
        _finding(3, embedding=[0.5] * 7).encode(),                 # 3
        _finding(4, embedding=["x"] * DIMENSIONS).encode(),        # 4
        b"[" * 100_000 + b"]" * 100_000,                           # 5: RecursionError before
        _finding(6).encode()[:-2] + b"\xff\xfe}",                  # 6: not UTF-8
        _finding(7, id=GOOD_ID).encode(),
        _finding(8, confidence=float("nan")).encode(),             # 8: NaN
        _finding(9, query="SELECT '\x00'").encode(),               # 9: NUL, jsonb refuses it
        # 10: passes every check, and real[] still refuses it: the store's own refusal
        # makes the lines go in one by one, each refused one reported.
        _finding(10, embedding=[1e300] * DIMENSIONS).encode(),
    ]
    path = tmp_path / "kb.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli(capsys, "kb", "import", path.as_posix(), "--dsn", pg_db.conninfo)
    assert "Traceback" not in result.err and result.code == 1, result.err
    assert "Imported 2 findings." in result.out
    reported = [line for line in result.err.splitlines() if line.startswith("line ")]
    numbers = [int(r.split(":")[0].split()[1]) for r in reported]
    assert numbers == [2, 3, 4, 5, 6, 8, 9, 10], reported
    assert "not a UUID" in reported[0] and "dimensions" in reported[1]
    assert "not a number" in reported[2] and "nested" in reported[3]
    assert "not UTF-8" in reported[4] and "finite" in reported[5] and "NUL" in reported[6]
    assert "refused by the database" in reported[7]
    assert "import the file again" in result.err
    with pg_db.connect() as conn:
        rows = conn.execute("SELECT id::text, query FROM pgarchitect.optimization_log "
                            "ORDER BY query").fetchall()
    assert [q for _, q in rows] == ["SELECT 1", "SELECT 7"] and rows[1][0] == GOOD_ID
    again = run_cli(capsys, "kb", "import", path.as_posix(), "--dsn", pg_db.conninfo)
    assert again.code == 1 and "Imported 0 findings, 2 already there." in again.out


# -- the knowledge base away, and nowhere to spool ---------------------------------------


def test_advice_is_printed_when_its_findings_cannot_be_saved(
        pg_db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with pg_db.connect() as conn:
        conn.execute("CREATE TABLE readings (id bigint PRIMARY KEY, sensor int NOT NULL, "
                     "value float8 NOT NULL)")
        conn.execute("INSERT INTO readings SELECT i, i % 5000, random() FROM "
                     "generate_series(1, 100000) i")
        conn.execute("ANALYZE readings")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("PGARCHITECT_DATA_DIR", str(blocker / "data"))
    monkeypatch.setenv("PGARCHITECT_KB_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("COLUMNS", "250")
    result = run_cli(capsys, "advise", pg_db.conninfo, "-s",
                     "SELECT * FROM readings WHERE sensor = 42", "--no-verify")
    assert "Traceback" not in result.err + result.out, result.err
    assert result.code == 0, result.err
    assert "sensor" in result.out  # the advice itself
    said = result.out + result.err
    assert "could NOT be saved" in said and str(blocker / "data") in said, said
    assert "PGARCHITECT_DATA_DIR" in said


# -- read-only kb commands create nothing ------------------------------------------------


def test_reads_of_a_missing_knowledge_base_create_nothing(
        pg_db: TestDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    before = catalog(pg_db)
    assert before[1] is False
    for args in (["list", pg_db.conninfo], ["list", pg_db.conninfo, "--json"],
                 ["similar", "SELECT 1", pg_db.conninfo], ["export", "--dsn", pg_db.conninfo]):
        result = run_cli(capsys, "kb", *args)
        clean(result, 0)
        assert result.out == "", (args, result.out)
        assert "no knowledge base in database" in result.err and "kb import" in result.err
    shown = run_cli(capsys, "kb", "show", "0b7e1f6e", pg_db.conninfo)
    clean(shown, 1, "no knowledge base", "pgarchitect audit")
    assert catalog(pg_db) == before
