"""Health alerts on a real server (PostgreSQL 18), a local Slack webhook and aiosmtpd.

Thresholds are set so that a real snapshot crosses them (connections above 0%), then
so that it does not: an alert is sent once when it opens, not again while it stays
open, and once when it is resolved. The agent is found stuck from audit runs stored
for real. The webhook's URL and the SMTP password never show in output or rows.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from support.api import serving
from support.cli import run_cli
from support.mail import Inbox
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.health import alerts
from pgarchitect.settings import load_config

WEBHOOK_PATH = "/services/T0SECRET/B0SECRET/xoxAlertWebhookToken"
SMTP_USER, SMTP_PASSWORD = "alerter", "al3rt-Pa55word"
RECIPIENTS = "dba@example.org, oncall@example.org"
ROWS_SQL = "SELECT row_to_json(a)::text FROM pgarchitect.health_alert a ORDER BY key"
FAILED_RUN_SQL = ("INSERT INTO pgarchitect.audit_run (target, status, finished_at, workload, "
                  "errors) VALUES (%s, 'failed', now(), '{}', '[\"stopped: test\"]')")
FINISHED_RUN_SQL = ("INSERT INTO pgarchitect.audit_run (target, status, finished_at, workload, "
                    "counts) VALUES (%s, 'finished', now(), '{}', %s::jsonb)")


@dataclass
class SlackStub:
    """A webhook that takes Block Kit only (else Slack's 400), answering each POST with
    the next scripted status (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    stub = SlackStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            doc = json.loads(body)
            blocks = doc.get("blocks")
            ok = (self.path == WEBHOOK_PATH and isinstance(blocks, list) and blocks
                  and blocks[0].get("type") == "header"
                  and self.headers.get("Content-Type") == "application/json")
            status = (stub.statuses.pop(0) if stub.statuses else 200) if ok else 400
            if ok:
                stub.received.append(doc)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _check_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=_check_login,
                            auth_require_tls=False)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _channels(monkeypatch: pytest.MonkeyPatch, slack: SlackStub, port: int) -> None:
    for name, value in {"SLACK_WEBHOOK_URL": slack.url, "SMTP_HOST": "127.0.0.1",
                        "SMTP_PORT": str(port), "SMTP_TO": RECIPIENTS,
                        "SMTP_USERNAME": SMTP_USER, "SMTP_PASSWORD": SMTP_PASSWORD,
                        "SMTP_FROM": "pgarchitect@example.org"}.items():
        monkeypatch.setenv(f"PGARCHITECT_{name}", value)


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (WEBHOOK_PATH, "xoxAlertWebhookToken", SMTP_PASSWORD):
            assert secret not in text


def _rows(conninfo: str) -> list[dict[str, Any]]:
    with db.connect(conninfo, load_config()) as conn:
        return [json.loads(r[0]) for r in conn.execute(ROWS_SQL)]


def test_sent_once_when_opened_and_once_when_resolved(
        db18: TestDatabase, slack: SlackStub, inbox: tuple[Inbox, int],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    box, port = inbox
    _channels(monkeypatch, slack, port)
    monkeypatch.setenv("PGARCHITECT_ALERT_CONNECTIONS_PCT", "0")

    first = run_cli(capsys, "health", db18.conninfo, "--alert")
    assert first.code == 0, first.err
    assert "Alert opened: Connections near max_connections." in first.out
    assert "Sent to slack" in first.out and "Sent to email" in first.out
    [message] = slack.received
    assert message["blocks"][0]["text"]["text"].startswith("pgarchitect: 1 alert opened on ")
    assert "Opened: Connections near max_connections" in json.dumps(message)
    [mail] = box.messages()
    assert mail["Subject"].startswith("pgarchitect: 1 alert opened on ")
    assert [tuple(e.rcpt_tos) for e in box.envelopes] == [("dba@example.org",
                                                            "oncall@example.org")]
    [row] = _rows(db18.conninfo)
    assert row["key"] == "connections" and row["resolved_at"] is None
    assert row["notified_open"] is True and row["notified_resolved"] is False

    second = run_cli(capsys, "health", db18.conninfo, "--alert")
    assert second.code == 0, second.err
    assert "Alert still open: Connections near max_connections." in second.out
    assert len(slack.received) == 1 and len(box.envelopes) == 1  # nothing sent again
    assert "Sent to" not in second.out

    monkeypatch.setenv("PGARCHITECT_ALERT_CONNECTIONS_PCT", "100")
    third = run_cli(capsys, "health", db18.conninfo, "--alert", "--json")
    assert third.code == 0, third.err
    doc = json.loads(third.out)
    assert [(a["key"], a["status"]) for a in doc["alerts"]] == [("connections", "resolved")]
    assert doc["results"]["slack"]["ok"] and doc["results"]["email"]["ok"]
    assert len(slack.received) == 2 and len(box.envelopes) == 2
    assert slack.received[1]["blocks"][0]["text"]["text"].startswith(
        "pgarchitect: 1 alert resolved on ")
    assert box.messages()[1]["Subject"].startswith("pgarchitect: 1 alert resolved on ")

    fourth = run_cli(capsys, "health", db18.conninfo, "--alert")
    assert "No alert" in fourth.out
    assert len(slack.received) == 2 and len(box.envelopes) == 2  # the end is sent once
    rows = _rows(db18.conninfo)
    assert rows[0]["resolved_at"] is not None and rows[0]["notified_resolved"] is True
    _no_secret(*(r.out + r.err for r in (first, second, third, fourth)), json.dumps(rows))


def test_a_refused_send_is_tried_at_the_next_run(
        db18: TestDatabase, slack: SlackStub, monkeypatch: pytest.MonkeyPatch) -> None:
    slack.statuses = [404]  # the webhook refuses once: not retried within the run
    config = load_config({"slack_webhook_url": slack.url, "alert_connections_pct": 0})
    _, done = alerts.check(config, db18.conninfo)
    assert [a.status for a in done.alerts] == ["opened"]
    refused = done.results["slack"]
    assert not refused.ok and refused.error is not None and "HTTP 404" in refused.error
    _no_secret(refused.error, "\n".join(alerts.lines(done)))
    _, again = alerts.check(config, db18.conninfo)
    assert [(a.status, a.pending) for a in again.alerts] == [("open", True)]
    assert again.results["slack"].ok and len(slack.received) == 2
    _, quiet = alerts.check(config, db18.conninfo)
    assert quiet.results == {} and len(slack.received) == 2


def test_agent_stuck_after_two_failed_audits(db18: TestDatabase) -> None:
    config = load_config()
    snap, done = alerts.check(config, db18.conninfo)
    assert done.alerts == []  # defaults: a fresh server is healthy, never audited
    with db.connect(db18.conninfo, config) as conn:
        conn.execute(FAILED_RUN_SQL, [snap.database])
        conn.execute(FAILED_RUN_SQL, ["other:5432/elsewhere"])
        _, once = alerts.check(config, db18.conninfo)
        assert once.alerts == []  # one failure is not stuck
        conn.execute(FAILED_RUN_SQL, [snap.database])
        _, twice = alerts.check(config, db18.conninfo)
        [stuck] = twice.alerts
        assert (stuck.key, stuck.status) == ("agent_stuck", "opened")
        assert "The last 2 audit runs of" in stuck.message
        # then a run that finishes, finds slow statements and proposes nothing
        conn.execute(FINISHED_RUN_SQL, [snap.database, '{"slow_statements": 3, "proposals": 0}'])
        _, idle = alerts.check(config, db18.conninfo)
        assert [(a.status, "could propose nothing" in a.message) for a in idle.alerts] == [
            ("open", True)]
        conn.execute(FINISHED_RUN_SQL, [snap.database, '{"slow_statements": 3, "proposals": 2}'])
        _, working = alerts.check(config, db18.conninfo)
        assert [(a.key, a.status) for a in working.alerts] == [("agent_stuck", "resolved")]


def test_health_route_lists_the_open_alerts(db18: TestDatabase) -> None:
    config = load_config({"database_url": db18.conninfo, "alert_connections_pct": 0,
                          "alert_disk_pct": 0, "alert_wraparound_margin": 2**31})
    snap, done = alerts.check(config)
    # disk_used_pct is not shown by the test server: no disk alert at 0%
    assert snap.value("disk_used_pct") is None
    assert {a.key for a in done.alerts} == {"connections", "wraparound"}
    with serving(config) as url, httpx.Client(base_url=url, timeout=60) as c:
        r = c.get("/admin/database/health", params={"database": snap.database})
        assert r.status_code == 200, r.text
        listed = r.json()["alerts"]
        assert {(a["key"], a["status"]) for a in listed} == {("connections", "open"),
                                                             ("wraparound", "open")}
        assert all(a["database"] == snap.database and a["resolved_at"] is None
                   for a in listed)
        alerts.check(load_config({"database_url": db18.conninfo}))  # back to the defaults
        r = c.get("/admin/database/health", params={"database": snap.database})
        assert r.status_code == 200 and r.json()["alerts"] == []
