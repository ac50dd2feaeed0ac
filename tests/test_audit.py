"""The audit end to end on real servers: the seven steps, the run record, a run killed
halfway and continued, two audits of one database at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from support.cli import run_cli
from support.servers import TestDatabase

from pgarchitect import audit
from pgarchitect.errors import AuditBusy
from pgarchitect.proposal import ACTION_NAMES, REJECTED
from pgarchitect.settings import load_config
from pgarchitect.workload import Filters
from pgarchitect.workload.collect import Request

COLUMNS = ("c1", "c2", "c3", "c4", "c5", "c6")
# One statement per column: each wants an index of its own, so the audit measures
# several proposals one after the other (and a killed run has some left to do).
STATEMENTS = [f"SELECT id, payload FROM audit_events WHERE {c} = %s" for c in COLUMNS]
SCHEMA = f"""
CREATE TABLE audit_customers (id int PRIMARY KEY, name text NOT NULL);
COMMENT ON TABLE audit_customers IS 'People who buy tickets';
CREATE TABLE audit_events (
    id bigint PRIMARY KEY,
    customer_id int NOT NULL REFERENCES audit_customers,
    {", ".join(f"{c} int NOT NULL" for c in COLUMNS)},
    payload text NOT NULL
);
INSERT INTO audit_customers SELECT g, 'customer ' || g FROM generate_series(1, 1000) g;
INSERT INTO audit_events
SELECT g, 1 + g % 1000, {", ".join(f"(g * {i + 7}) % 50000" for i in range(len(COLUMNS)))},
       repeat('x', 40)
FROM generate_series(1, {{rows}}) g;
ANALYZE audit_customers, audit_events;
"""
FILTERS = ("--min-mean-ms", "0", "--min-calls", "0", "--include", "audit_events")


def _load(db: TestDatabase, rows: int) -> None:
    with db.connect() as conn:
        conn.execute(SCHEMA.format(rows=rows).encode())
    # The statistics count from here: the load is not the application's writes (its
    # session has ended, so its table counters are flushed before they are reset).
    with db.connect() as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        conn.execute("SELECT pg_stat_reset()")
        for query in STATEMENTS:
            for value in range(10):
                conn.execute(query.encode(), [value * 7])
        conn.execute("SELECT count(*) FROM audit_events e JOIN audit_customers c "
                     "ON c.id = e.customer_id WHERE c.name = 'customer 3'")


def _request(db: TestDatabase, **kwargs: object) -> audit.AuditRequest:
    filters = Filters(min_mean_ms=0.0, min_calls=0, include_tables=frozenset({"audit_events"}))
    options: dict[str, object] = {"runs": 1, **kwargs}
    return audit.AuditRequest(workload=Request(dsn=db.conninfo, filters=filters),
                              **options)  # type: ignore[arg-type]


def test_the_audit_runs_the_seven_steps(pg_db: TestDatabase, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _load(pg_db, 60_000)
    result = audit.run(load_config(), _request(pg_db))
    doc = result.to_json()
    queries = {s["query"] for s in doc["statements"]}
    assert len(queries) == len(STATEMENTS) + 1, queries
    assert doc["finished_at"] and not doc["errors"] and not doc["resumed"]
    for s in doc["statements"]:
        # 3. every statement is explained; 4 to 7: it has proposals or a reason and code
        assert s["explanation"] and s["explanation"]["intent"], s
        assert s["proposals"] or (s["reason"] and s["reason_code"]), s
        assert s["action"] in (*ACTION_NAMES, REJECTED, "none"), s
    assert doc["counts"]["solved_before"] == doc["counts"]["rejected_before"] == 0
    assert doc["proposals"], [(s["reason"], s["cost_before"]) for s in doc["statements"]]
    for p in doc["proposals"]:
        assert p["forward"] and p["rollback"], p
        if p["kind"] != "index":  # the other advisors' own tests say what they propose
            continue
        assert p["forward"].startswith("CREATE INDEX")
        assert p["rollback"].startswith("DROP INDEX")
        assert p["action"] in (*ACTION_NAMES, REJECTED)
        measured = [m for m in p["statements"] if m["median_after_ms"] is not None]
        assert measured and all(m["cost_before"] > m["cost_after"] for m in measured), p
    # each statement's speed-up is its best proposal's, median before over after
    helped = [s for s in doc["statements"] if s["speedup"] is not None]
    assert helped, doc["statements"]
    for s in helped:
        ratios = [m["median_before_ms"] / m["median_after_ms"] for p in doc["proposals"]
                  if p["key"] in s["proposals"] and p["action"] != REJECTED and p["speed_claim"]
                  for m in p["statements"] if m["query"] == s["query"] and m["median_after_ms"]]
        assert s["speedup"] == max(ratios) > 1, s
    # the run is recorded, finished, with its counts and settings
    with pg_db.connect() as conn:
        row = conn.execute("SELECT status, counts, settings, result IS NOT NULL "
                           "FROM pgarchitect.audit_run WHERE id = %s", [result.run_id]).fetchone()
        assert row is not None
        assert row[0] == "finished" and row[1]["slow_statements"] == len(STATEMENTS) + 1
        assert row[2]["min_gain_pct"] == 20.0 and row[3]
        stored = conn.execute("SELECT count(*) FROM pgarchitect.audit_statement "
                              "WHERE run_id = %s", [result.run_id]).fetchone()
        assert stored == (len(STATEMENTS) + 1,)
        # 6. every proposal about statements is in the knowledge base (a finding is a
        # statement's; the schema's own hygiene findings are in the audit's record)
        kb = conn.execute("SELECT count(DISTINCT recommendation_sql) "
                          "FROM pgarchitect.optimization_log").fetchone()
        assert kb == (len([p for p in doc["proposals"] if p["statements"]]),), [
            (p["kind"], p["forward"]) for p in doc["proposals"]]

    # The next audit skips what this one solved, and cites it.
    again = audit.run(load_config(), _request(pg_db)).to_json()
    solved = [s for s in again["statements"] if s["action"] == "solved"]
    assert solved and all(s["known"]["citation"].startswith("Solved before") for s in solved)
    assert all(s["known"]["status"] != "rejected" for s in solved)
    tried = [s for s in again["statements"] if s["action"] == "rejected_before"]
    assert all(s["known"]["status"] == "rejected" for s in tried)

    # Under min_gain_pct a proposal is kept as rejected, and stored as such.
    monkeypatch.setenv("PGARCHITECT_MIN_GAIN_PCT", "99.9")
    rejected = audit.run(load_config(), _request(pg_db, knowledge=False, resume=False))
    assert rejected.proposals and all(p.rejected for p in rejected.proposals.values())
    assert all(p.action == REJECTED for p in rejected.proposals.values())

    # The CLI prints the same document.
    out = run_cli(capsys, "audit", pg_db.conninfo, *FILTERS, "--runs", "1", "--no-kb",
                  "--fresh", "--json")
    assert out.code == 0, out.err
    printed = json.loads(out.out)
    assert {s["query"] for s in printed["statements"]} == queries


def _audit_process(db: TestDatabase, tmp_path: Path) -> subprocess.Popen[str]:
    """`pgarchitect audit` in a process of its own, as a cron job would start it."""
    env = {**os.environ, "PGARCHITECT_DATA_DIR": str(tmp_path / "child-data")}
    return subprocess.Popen(
        [sys.executable, "-m", "pgarchitect.cli", "audit", db.conninfo, *FILTERS,
         "--runs", "3", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(db: TestDatabase, query: str, process: subprocess.Popen[str],
              timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with db.connect() as conn:
        while time.monotonic() < deadline:
            try:
                row = conn.execute(query).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row and row[0]:
                return
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {query}")


@pytest.fixture
def loaded(db18: TestDatabase) -> Iterator[TestDatabase]:
    _load(db18, 300_000)
    yield db18


def test_a_killed_audit_is_continued_without_redoing_what_it_finished(
        loaded: TestDatabase, tmp_path: Path) -> None:
    child = _audit_process(loaded, tmp_path)
    try:
        _wait_for(loaded, "SELECT count(*) >= 1 FROM pgarchitect.audit_proposal", child)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    with loaded.connect() as conn:
        before = dict(conn.execute("SELECT key, measured_at FROM pgarchitect.audit_proposal"
                                   ).fetchall())
        done = {r[0] for r in conn.execute("SELECT position FROM pgarchitect.audit_statement")}
        status = conn.execute("SELECT status FROM pgarchitect.audit_run").fetchall()
    assert status == [("running",)] and before

    result = audit.run(load_config(), _request(loaded, runs=3))
    doc = result.to_json()
    assert doc["resumed"] and "Continued run" in " ".join(doc["notes"])
    assert len(doc["statements"]) == len(STATEMENTS) + 1
    assert {s["position"] for s in doc["statements"] if s["resumed"]} == done
    with loaded.connect() as conn:
        after = dict(conn.execute("SELECT key, measured_at FROM pgarchitect.audit_proposal"
                                  ).fetchall())
        runs = conn.execute("SELECT id, status, resumes FROM pgarchitect.audit_run").fetchall()
    # What the killed process measured is kept as it was, not measured again ...
    assert {k: after[k] for k in before} == before
    # ... and the rest was measured by the second one, in the same run.
    assert set(after) == set(result.proposals) and len(after) > len(before)
    assert runs == [(result.run_id, "finished", 1)]


def test_two_audits_of_one_database_do_not_run_at_once(loaded: TestDatabase,
                                                        tmp_path: Path) -> None:
    child = _audit_process(loaded, tmp_path)
    try:
        _wait_for(loaded, "SELECT count(*) = 1 FROM pgarchitect.audit_run "
                          "WHERE status = 'running'", child)
        with pytest.raises(AuditBusy) as busy:
            audit.run(load_config(), _request(loaded))
        message = str(busy.value)
        assert "Another audit of" in message and f"process {child.pid}" in message, message
        assert "Wait for it to finish" in message
        out, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert json.loads(out)["finished_at"]


def test_an_audit_that_loses_its_connection_is_continued(loaded: TestDatabase,
                                                           tmp_path: Path) -> None:
    child = _audit_process(loaded, tmp_path)
    try:
        _wait_for(loaded, "SELECT count(*) >= 1 FROM pgarchitect.audit_proposal", child)
        with loaded.connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'pgarchitect' "
                         "AND datname = current_database()")
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 3, err
    assert "lost the connection" in err and "Traceback" not in err, err
    with loaded.connect() as conn:
        before = dict(conn.execute("SELECT key, measured_at FROM pgarchitect.audit_proposal"
                                   ).fetchall())
        status = conn.execute("SELECT status FROM pgarchitect.audit_run").fetchall()
    assert status == [("running",)] and before
    result = audit.run(load_config(), _request(loaded, runs=3))
    assert result.resumed and result.finished_at is not None
    with loaded.connect() as conn:
        after = dict(conn.execute("SELECT key, measured_at FROM pgarchitect.audit_proposal"
                                  ).fetchall())
    assert {k: after[k] for k in before} == before


def test_a_locked_table_does_not_stop_the_audit(db18: TestDatabase,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _load(db18, 60_000)
    monkeypatch.setenv("PGARCHITECT_LOCK_TIMEOUT", "200ms")
    with db18.connect() as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE audit_customers IN ACCESS EXCLUSIVE MODE")
        result = audit.run(load_config(), _request(db18, knowledge=False)).to_json()
        holder.execute("ROLLBACK")
    # The hygiene advisor reads every table's size, which waits for the lock: it gives
    # up, says so, and the audit goes on.
    assert result["finished_at"], result
    assert all("advisor gave up" in e and "lock timeout" in e for e in result["errors"]), (
        result["errors"])
    by_query = {s["query"]: s for s in result["statements"]}
    join = next(s for q, s in by_query.items() if "audit_customers" in q)
    assert join["reason_code"] in ("locked", "timeout"), join
    assert "lock" in join["reason"], join
    # The statements on the other table are advised as usual.
    assert any(s["proposals"] for q, s in by_query.items() if "audit_customers" not in q)


def test_no_password_in_what_the_audit_stores(pg_db: TestDatabase,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _load(pg_db, 20_000)
    password = conninfo_to_dict(pg_db.conninfo).get("password")
    assert password, "the test servers have a password"
    # The target named by the setting (as a service would), the store and the
    # knowledge base by theirs: every one holds the password.
    for var in ("PGARCHITECT_DATABASE_URL", "PGARCHITECT_STORE_URL", "PGARCHITECT_KB_URL"):
        monkeypatch.setenv(var, pg_db.conninfo)
    out = run_cli(capsys, "audit", *FILTERS, "--runs", "1", "--json")
    assert out.code == 0, out.err
    assert password not in out.out + out.err
    with pg_db.connect() as conn:
        tables = [str(r[0]) for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'pgarchitect'").fetchall()]
        stored = "".join(str(conn.execute(
            sql.SQL("SELECT coalesce(string_agg(t::text, ''), '') FROM {} t").format(
                sql.Identifier("pgarchitect", table))).fetchone()) for table in tables)
    assert "audit_run" in tables and password not in stored
