"""Least privilege and honest reasons, through the real CLI on both test servers.

The role is created exactly as ``doctor.least_privilege_sql`` prints it; the
application's table belongs to the superuser, as it would in production. Each
command then works, or says what to grant; a statement whose index could not be
tried (no ownership, a lock, a timeout) says why instead of "no index found".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support.cli import Result, run_cli
from support.servers import TestDatabase

from pgarchitect.doctor import least_privilege_sql

Capsys = pytest.CaptureFixture[str]

SCHEMA = """
CREATE TABLE orders (
    id int PRIMARY KEY,
    customer_id int NOT NULL,   -- 2,000 values: an equality finds 10 rows
    status text NOT NULL,
    total numeric NOT NULL
);
INSERT INTO orders
SELECT g, g % 2000, (ARRAY['new', 'paid', 'sent'])[g % 3 + 1], g % 1000
FROM generate_series(1, 20000) g;
CREATE TABLE customers (id int PRIMARY KEY, region int NOT NULL);
INSERT INTO customers SELECT g, g % 500 FROM generate_series(1, 20000) g;
ANALYZE orders;
ANALYZE customers;
"""

BY_CUSTOMER = "SELECT * FROM orders WHERE customer_id = 42"
BY_REGION = "SELECT * FROM customers WHERE region = 7"
FILTERS = ("--min-mean-ms", "0", "--min-calls", "0", "--include", "orders")
NO_GAIN = "No index found that lowers its cost"


@dataclass
class Limited:
    database: TestDatabase
    role: str
    conninfo: str


def _script(database: str, role: str) -> list[str]:
    """The statements of doctor's least-privilege script, comments left out."""
    script = least_privilege_sql(database, role).replace("choose-a-password", "pw")
    bodies = ("\n".join(line for line in part.splitlines() if not line.startswith("--"))
              for part in script.split(";"))
    return [b.strip() for b in bodies if b.strip()]


@pytest.fixture
def limited(pg_db: TestDatabase) -> Iterator[Limited]:
    role = f"pga_{pg_db.name}"
    with pg_db.connect() as admin:
        admin.execute(SCHEMA)
        for statement in _script(pg_db.name, role):
            admin.execute(statement.encode())
        for _ in range(3):  # the workload, as pg_stat_statements counts it
            admin.execute(BY_CUSTOMER)
    yield Limited(pg_db, role, make_conninfo(pg_db.conninfo, user=role, password="pw"))
    with pg_db.connect() as admin:
        admin.execute("DROP SCHEMA IF EXISTS pgarchitect CASCADE")
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _clean(result: Result) -> Result:
    assert "Traceback" not in result.out + result.err, result.err
    return result


def _json(result: Result) -> Any:
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_every_command_works_as_the_least_privileged_role(
        limited: Limited, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    dsn, role = limited.conninfo, limited.role

    doctor = _clean(run_cli(capsys, "doctor", dsn))
    assert doctor.code == 0, doctor.out + doctor.err
    # What measurement needs is said before anything runs, with the grant.
    assert "CREATE INDEX needs ownership of the table" in doctor.out
    grant = f"GRANT <tables' owner> TO {role};"
    assert grant in doctor.out
    assert "-- GRANT app_owner TO pgarchitect;" in doctor.out  # in the script too

    workload = _clean(run_cli(capsys, "workload", dsn, *FILTERS))
    assert workload.code == 0, workload.err
    assert "orders" in workload.out

    snapshot = _clean(run_cli(capsys, "snapshot", dsn))
    assert snapshot.code == 0, snapshot.err
    assert _clean(run_cli(capsys, "snapshot", dsn)).code == 0  # the schema exists now

    # The sandbox must build the index, which needs ownership: said, not "no index".
    sandbox = _json(_clean(run_cli(capsys, "advise", dsn, "-s", BY_CUSTOMER,
                                   "--whatif", "sandbox", "--json")))
    (report,) = sandbox["statements"]
    assert report["code"] == "no_privilege", report
    assert "needs ownership of the table" in report["reason"]
    assert NO_GAIN not in report["reason"]
    assert not sandbox["proposals"]

    if limited.database.major == 15:  # HypoPG: the what-if needs no ownership, measuring does
        hypo = _json(_clean(run_cli(capsys, "advise", dsn, "-s", BY_CUSTOMER,
                                    "--whatif", "hypopg", "--json")))
        (proposal,) = hypo["proposals"]
        assert "customer_id" in proposal["forward"]
        (measured,) = proposal["statements"]
        assert measured["reason"].startswith("Not measured: building the index needs "
                                             "ownership of the table public.orders")

    with limited.database.connect() as admin:  # the workload after the snapshots
        for _ in range(3):
            admin.execute(BY_CUSTOMER)
    audit = _json(_clean(run_cli(capsys, "audit", dsn, *FILTERS, "--runs", "1", "--json", "--no-kb",
                                 "--whatif", "sandbox")))
    found = [s for s in audit["statements"] if "customer_id" in s["query"]]
    assert len(found) == 1, (audit["statements"], audit["skipped"], audit.get("errors"))
    (statement,) = found
    assert statement["reason"] and "needs ownership" in statement["reason"], json.dumps(statement)
    assert NO_GAIN not in statement["reason"]

    listed = _clean(run_cli(capsys, "kb", "list", dsn))
    assert listed.code == 0, listed.err
    exported = _clean(run_cli(capsys, "kb", "export", "kb.jsonl", "--dsn", dsn))
    assert exported.code == 0, exported.err
    # Nothing was left behind on the application's table.
    with limited.database.connect() as admin:
        names = admin.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'"
                              ).fetchall()
    assert names == [("orders_pkey",)]


def test_statements_that_are_no_query_are_answered(pg_db: TestDatabase, capsys: Capsys) -> None:
    with pg_db.connect() as admin:
        admin.execute(SCHEMA)
    given = {"SELEC * FROM orders": "unparseable", "DROP TABLE orders": "not_supported",
             "TRUNCATE orders": "not_supported", "DO $$ BEGIN END $$": "not_supported",
             "CALL no_such_procedure()": "not_supported",
             "COPY orders TO STDOUT": "not_supported"}
    args = [a for q in given for a in ("-s", q)]
    doc = _json(_clean(run_cli(capsys, "advise", pg_db.conninfo, *args, "--no-kb", "--json",
                               "--whatif", "sandbox")))
    codes = {s["query"]: s["code"] for s in doc["statements"]}
    assert codes == given
    assert all(s["reason"] for s in doc["statements"])
    with pg_db.connect() as admin:  # and nothing ran
        assert admin.execute("SELECT count(*) FROM orders").fetchone() == (20000,)


def _hold_lock(database: TestDatabase, table: str, mode: str) -> tuple[psycopg.Connection[Any],
                                                                       threading.Event]:
    holder = psycopg.connect(database.conninfo)
    holder.execute(sql.SQL("LOCK TABLE {} IN {} MODE").format(sql.Identifier(table),
                                                             sql.SQL(mode)))
    return holder, threading.Event()


def test_a_locked_table_gets_its_reason(pg_db: TestDatabase, capsys: Capsys,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """SHARE ROW EXCLUSIVE (an index build must wait): "locked", not "no index found"."""
    with pg_db.connect() as admin:
        admin.execute(SCHEMA)
    monkeypatch.setenv("PGARCHITECT_LOCK_TIMEOUT", "200ms")
    holder, _ = _hold_lock(pg_db, "orders", "SHARE ROW EXCLUSIVE")
    try:
        doc = _json(_clean(run_cli(capsys, "advise", pg_db.conninfo, "-s", BY_CUSTOMER,
                                   "-s", BY_REGION, "--whatif", "sandbox", "--no-kb",
                                   "--no-verify", "--json")))
    finally:
        holder.close()
    reports = {s["query"]: s for s in doc["statements"]}
    assert reports[BY_CUSTOMER]["code"] == "locked", reports[BY_CUSTOMER]
    assert "lock timeout" in reports[BY_CUSTOMER]["reason"]
    assert NO_GAIN not in reports[BY_CUSTOMER]["reason"]
    assert reports[BY_REGION]["indexes"]  # the other table was advised as usual


def test_an_exclusive_lock_on_one_table_does_not_stop_the_run(
        pg_db: TestDatabase, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    with pg_db.connect() as admin:
        admin.execute(SCHEMA)
    monkeypatch.setenv("PGARCHITECT_LOCK_TIMEOUT", "200ms")
    holder, _ = _hold_lock(pg_db, "orders", "ACCESS EXCLUSIVE")
    try:
        result = _clean(run_cli(capsys, "advise", pg_db.conninfo, "-s", BY_CUSTOMER,
                                "-s", BY_REGION, "--whatif", "sandbox", "--no-kb", "--json"))
    finally:
        holder.close()
    assert "lost the connection" not in result.err
    doc = _json(result)
    reports = {s["query"]: s for s in doc["statements"]}
    assert reports[BY_CUSTOMER]["code"] == "locked", reports[BY_CUSTOMER]
    assert reports[BY_REGION]["indexes"]
    (proposal,) = doc["proposals"]
    assert all(m["reason"] is None for m in proposal["statements"])  # measured

