"""The weekly report built, rendered, written and sent, with real parts only: a real
audit result, a real knowledge base, a local HTTP server playing Slack's webhook, a
local SMTP server, and the HTML page rendered by a headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from support.mail import Inbox
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.audit import AuditResult, StatementResult
from pgarchitect.delivery.report import (
    WeeklyReport,
    build,
    gains_svg,
    to_html,
    to_json,
    to_markdown,
    write,
)
from pgarchitect.delivery.send import SmtpSettings, deliver_report, send_email, send_slack
from pgarchitect.knowledge.kb import Finding, KnowledgeBase
from pgarchitect.proposal import Measurement, Proposal
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

TODAY = date(2025, 12, 29)  # a Monday: the report of the week Dec 22-28
TARGET = "db.internal:5432/shop"
LINK = "https://admin.example.org/pgarchitect/findings"
PR_URL = "https://github.com/acme/shop/pull/1234"
PR2_URL = "https://github.com/acme/shop/pull/1235"
SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[1]
ACTIVE_USERS = ('SELECT "userId", count(*) FROM "BehaviorLog" WHERE "timestamp" > $1 '
                'GROUP BY "userId"')


def measurement(query: str, before: float, after: float, *, estimated: float) -> Measurement:
    """Three runs before and after: ``before``/``after`` are the medians."""
    return Measurement(query, before_ms=(before * 0.98, before, before * 1.05),
                       after_ms=(after * 0.97, after, after * 1.02), uses_change=True,
                       estimated_gain=estimated, cost_before=before * 100,
                       cost_after=after * 100)


def proposal(title: str, query: str, confidence: float, *, before: float = 30.0,
             after: float | None = 10.0, estimated: float = 0.5,
             rejected: str | None = None) -> Proposal:
    m = (measurement(query, before, after, estimated=estimated) if after is not None
         else Measurement(query, estimated_gain=estimated, reason="not measured: --no-verify"))
    return Proposal(kind="index", title=title, objects=(title.split(" on ")[-1],),
                    forward=f"CREATE INDEX CONCURRENTLY x ON t ({title})", rollback="DROP INDEX x",
                    statements=[m], reasoning="The planner reads far fewer rows.",
                    advisor="index", estimated_gain=estimated, measured_gain=m.gain,
                    confidence=confidence, rejected=rejected)


def audit_result(*, hostile: str | None = None) -> AuditResult:
    """Eight slow statements; five proposals kept (two for a PR, three for a person) and
    one rejected, like the runbook's example."""
    queries = [ACTIVE_USERS] + [f"SELECT * FROM orders WHERE c{i} = $1" for i in range(1, 8)]
    proposals = {
        "active": proposal('index on "BehaviorLog" ("userId", "timestamp")', queries[0], 92),
        "c1": proposal("index on orders (c1)", queries[1], 84, after=18.0),  # 40%
        "c2": proposal(hostile or "index on orders (c2)", queries[2], 70, after=None,
                       estimated=0.55),  # not measured: 55% estimated
        "c3": proposal("index on orders (c3)", queries[3], 40, after=21.0),  # 30%
        "c4": proposal("index on orders (c4)", queries[4], 65, after=24.0),  # 20%
        "c5": proposal("index on orders (c5)", queries[5], 95, after=29.4,
                       rejected="it cuts 2%, under min_gain_pct"),
    }
    intents = {0: "Find active users (last 7 days).",
               2: hostile or "Lists the orders of one c2."}
    statements = []
    for i, q in enumerate(queries):
        statement = Statement(q, fingerprint=f"fp{i}", calls=1000 - i, total_ms=(8 - i) * 1e4,
                              mean_ms=(8 - i) * 10.0)
        keys = [k for k, p in proposals.items() if p.helps(q)]
        explanation = {"intent": intents[i]} if i in intents else None
        statements.append(StatementResult(i, statement, explanation=explanation, proposals=keys))
    return AuditResult(run_id=7, target=TARGET, source="pg_stat_statements", window="7d",
                       started_at=datetime(2025, 12, 29, 6, tzinfo=UTC),
                       finished_at=datetime(2025, 12, 29, 6, 20, tzinfo=UTC),
                       statements=statements, proposals=proposals, skipped=[], settings={},
                       counts={"slow_statements": len(statements)})


def finding(n: int, *, status: str = "applied", applied: date | None = None,
            gain: float | None = None, before: float | None = None,
            after: float | None = None) -> Finding:
    f = Finding(database=TARGET, fingerprint=f"fp-{n}",
                query=f"SELECT * FROM events WHERE k{n} = $1", kind="index",
                recommendation_sql=f"CREATE INDEX CONCURRENTLY events_k{n}_idx ON events (k{n})",
                rollback_sql=f"DROP INDEX CONCURRENTLY events_k{n}_idx",
                description=f"fix: an index on events (k{n})", estimated_gain_pct=60.0,
                measured_gain_pct=55.0, before_ms=before, after_ms=None, confidence=0.9,
                status=status, created_at=datetime(2025, 11, 1, tzinfo=UTC),
                applied_at=datetime(applied.year, applied.month, applied.day, 14, tzinfo=UTC)
                if applied else None,
                applied_after_ms=after, applied_gain_pct=gain)
    f.check()
    return f


def findings() -> list[Finding]:
    """Fixes applied over seven weeks, each measured after; one not measured yet, one
    only proposed (its gain does not count)."""
    return [
        finding(1, applied=date(2025, 11, 10), gain=30.0, before=1200.0, after=840.0),
        finding(2, applied=date(2025, 11, 24), gain=50.0, before=800.0, after=400.0),
        finding(3, applied=date(2025, 12, 2), gain=60.0, before=2000.0, after=800.0),
        finding(4, applied=date(2025, 12, 9), gain=45.0, before=1500.0, after=825.0),
        finding(5, applied=date(2025, 12, 22), gain=70.0, before=1000.0, after=300.0),
        finding(6, applied=date(2025, 12, 23), before=900.0),  # not measured after yet
        finding(7, status="proposed", gain=90.0, before=100.0, after=10.0),
    ]


PRS = [('index on "BehaviorLog" ("userId", "timestamp")', PR_URL),
       ("pgarchitect: index on orders (c1)", PR2_URL)]


@pytest.fixture
def weekly() -> WeeklyReport:
    return build(audit_result(), findings(), kb_size=42, prs=PRS, link=LINK, today=TODAY)


# -- building and rendering ----------------------------------------------------------------


def test_the_numbers(weekly: WeeklyReport) -> None:
    r = weekly
    assert (r.database, r.week_start, r.week_end) == (TARGET, date(2025, 12, 22),
                                                     date(2025, 12, 28))
    assert r.slow_statements == 8
    # the rejected proposal is not recommended, whatever its confidence; best first
    assert [i.key for i in r.recommendations] == ["active", "c2", "c1", "c4", "c3"]
    assert r.prs_opened == PRS
    assert [i.key for i in r.manual_review] == ["c2", "c4", "c3"]
    assert [i.action for i in r.manual_review] == ["log", "log", "investigate"]
    top = r.top
    assert top is not None and top.key == "active"
    assert top.statement == "Find active users (last 7 days)"
    assert top.gain == pytest.approx(2 / 3) and top.measured
    assert (top.action, top.pr_url, top.pr_number) == ("pr_merge", PR_URL, 1234)
    c1 = next(i for i in r.recommendations if i.key == "c1")
    assert c1.pr_url == PR2_URL  # the PR's title contains the proposal's
    c2 = next(i for i in r.recommendations if i.key == "c2")
    assert (c2.gain, c2.measured, c2.pr_url) == (0.55, False, None)
    # history: applied in December 2025 (3 measured, 1 not yet); the measured ones of
    # every month for the average and the time saved
    assert r.applied_this_month == 4
    assert r.average_measured_gain_pct == pytest.approx((30 + 50 + 60 + 45 + 70) / 5)
    assert r.time_saved_ms_per_request == pytest.approx(360 + 400 + 1200 + 675 + 700)
    assert r.kb_size == 42
    assert r.gains == [(date(2025, 11, 10), 30.0), (date(2025, 11, 24), 50.0),
                       (date(2025, 12, 2), 60.0), (date(2025, 12, 9), 45.0),
                       (date(2025, 12, 22), 70.0)]
    assert r.findings_url == LINK
    assert r.generated_at.tzinfo is not None


def test_an_audit_with_nothing_to_recommend() -> None:
    result = audit_result()
    result.proposals = {}
    for s in result.statements:
        s.proposals = []
    r = build(result, [], kb_size=0, today=TODAY)
    assert (r.recommendations, r.manual_review, r.top) == ([], [], None)
    assert (r.applied_this_month, r.average_measured_gain_pct,
            r.time_saved_ms_per_request, r.gains) == (0, None, None, [])
    text = to_markdown(r)
    assert "- Top optimization: none this week\n" in text
    assert ("- History: 0 applied this month, average gain not measured yet, time saved not "
            "measured yet\n") in text
    assert "Full report" not in text
    ElementTree.fromstring(_svg_of(to_html(r)))


def test_markdown_has_the_runbooks_lines(weekly: WeeklyReport) -> None:
    text = to_markdown(weekly)
    assert text.startswith("# Database Optimization Weekly Report — week of Dec 22\u201328\n")
    lines = text.splitlines()
    for line in [
        "- Slow statements detected: 8",
        "- Optimizations recommended: 5",
        "- PRs created: 2 (high confidence)",
        "- Manual review required: 3 (low confidence)",
        '- Top optimization: "Find active users (last 7 days)" — index on "BehaviorLog" '
        f'("userId", "timestamp"), expected gain 67%, [PR #1234]({PR_URL}) pending review',
        "- History: 4 applied this month, average gain 51%, 3.3 s saved per request",
        f"- Full report: {LINK}",
    ]:
        assert line in lines, f"{line!r} not in:\n{text}"
    # the details: every recommendation, each PR, each manual review, the applied gains
    assert "| 2 | index on orders (c2) | Lists the orders of one c2 | 70% | 55% (estimated) | " \
           "log, no PR |  |" in lines
    assert f"| 3 | index on orders (c1) | SELECT * FROM orders WHERE c1 = $1 | 84% | 40% | " \
           f"PR, request review | [PR #1235]({PR2_URL}) |" in lines
    assert f"- [pgarchitect: index on orders (c1)]({PR2_URL})" in lines
    assert ("- **index on orders (c3)**: SELECT * FROM orders WHERE c3 = $1; confidence 40%, "
            "expected gain 30% (log, flag for manual investigation)") in lines
    assert "index on orders (c5)" not in text  # rejected
    assert lines.index("| 2025-12-22 | 70% |") < lines.index("| 2025-11-10 | 30% |")
    assert "- Findings in the knowledge base: 42" in lines
    assert ACTIVE_USERS in lines  # the top's statement, in a code block


def test_json_is_serialisable_and_complete(weekly: WeeklyReport) -> None:
    doc = json.loads(json.dumps(to_json(weekly), allow_nan=False))
    assert doc["week_start"] == "2025-12-22" and doc["week_end"] == "2025-12-28"
    assert doc["slow_statements"] == 8 and len(doc["recommendations"]) == 5
    assert doc["prs_opened"][0] == {"title": PRS[0][0], "url": PR_URL}
    assert [i["key"] for i in doc["manual_review"]] == ["c2", "c4", "c3"]
    assert doc["top"]["pr_number"] == 1234 and doc["top"]["action"] == "pr_merge"
    assert doc["history"] == {"applied_this_month": 4, "average_measured_gain_pct": 51.0,
                              "time_saved_ms_per_request": 3335.0, "kb_size": 42}
    assert doc["gains"][0] == {"date": "2025-11-10", "gain_pct": 30.0}
    assert datetime.fromisoformat(doc["generated_at"]).tzinfo is not None


def test_html_escapes_a_hostile_title() -> None:
    hostile = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"
    r = build(audit_result(hostile=hostile), findings(), kb_size=1, prs=PRS,
              link="javascript:alert(1)", today=TODAY)
    page = to_html(r)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page  # shown, not linked
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # self-contained: no script, nothing fetched
    assert not re.search(r"<(script|link|iframe)\b", page)
    assert not re.search(r'\bsrc="', page)


def _svg_of(page: str) -> str:
    found = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert found, "no inline SVG in the page"
    return found.group(0)


def test_the_chart_is_well_formed_svg(weekly: WeeklyReport) -> None:
    root = ElementTree.fromstring(_svg_of(to_html(weekly)))
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("900", "300")
    assert len(root.findall(f"{SVG}circle")) == 5  # one point per measured, applied fix
    assert len(root.findall(f"{SVG}polyline")) == 1
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {"0%", "50%", "100%", "measured gain (%)", "day applied", "Nov 10", "Dec 22",
            "average 51%"} <= texts, texts
    assert len(root.findall(f"{SVG}line")) >= 2 + 5  # the axes, the grid
    # without points, and with one: still an SVG with its axes
    empty = ElementTree.fromstring(gains_svg([]))
    assert "No applied fix has a measured gain yet." in {
        "".join(t.itertext()) for t in empty.iter(f"{SVG}text")}
    one = ElementTree.fromstring(gains_svg([(date(2025, 12, 1), -12.5)]))
    assert len(one.findall(f"{SVG}circle")) == 1
    assert "-25%" in {"".join(t.itertext()) for t in one.iter(f"{SVG}text")}


def test_write_puts_three_files_atomically(weekly: WeeklyReport, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "weekly"
    paths = write(weekly, out)
    assert {k: p.name for k, p in paths.items()} == {
        "md": "weekly-2025-12-22.md", "html": "weekly-2025-12-22.html",
        "json": "weekly-2025-12-22.json"}
    assert paths["md"].read_text(encoding="utf-8") == to_markdown(weekly)
    assert paths["html"].read_text(encoding="utf-8") == to_html(weekly)
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == to_json(weekly)
    weekly.slow_statements = 9  # written again: replaced whole, nothing left behind
    write(weekly, out)
    assert "- Slow statements detected: 9" in paths["md"].read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())


def test_history_from_a_real_knowledge_base(pg_db: TestDatabase) -> None:
    """The findings as the knowledge base stores and returns them give the same report."""
    with db.connect(pg_db.conninfo, load_config()) as conn:
        kb = KnowledgeBase(conn)
        kb.record(findings())
        stored = kb.recent(limit=100)
        r = build(audit_result(), stored, kb_size=kb.count(), prs=PRS, link=LINK, today=TODAY)
    assert r.kb_size == 7
    assert r.applied_this_month == 4
    assert r.average_measured_gain_pct == pytest.approx(51.0)
    assert r.time_saved_ms_per_request == pytest.approx(3335.0)
    assert [g for _, g in r.gains] == [30.0, 50.0, 60.0, 45.0, 70.0]
    assert "- History: 4 applied this month, average gain 51%, 3.3 s saved per request" \
        in to_markdown(r).splitlines()


# -- Slack ------------------------------------------------------------------------------------


@dataclass
class SlackStub:
    """A webhook: answers each POST with the next scripted status (then 200), and
    refuses what is not Block Kit with Slack's 400."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    stub = SlackStub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stub.paths.append(self.path)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            blocks = doc.get("blocks") if isinstance(doc, dict) else None
            if not (isinstance(blocks, list) and blocks and blocks[0].get("type") == "header"
                    and all(isinstance(b, dict) and "type" in b for b in blocks)
                    and self.headers.get("Content-Type") == "application/json"):
                self._answer(400, "invalid_blocks")
                return
            assert isinstance(doc, dict)
            stub.received.append(doc)
            status = stub.statuses.pop(0) if stub.statuses else 200
            self._answer(status, "ok" if status == 200 else "server_error")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = (f"http://127.0.0.1:{server.server_address[1]}"
                "/services/T0SECRET/B0SECRET/xoxSecretWebhookToken")
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_slack_gets_block_kit(weekly: WeeklyReport, slack: SlackStub, tmp_path: Path) -> None:
    done = deliver_report(weekly, tmp_path / "out", slack_url=slack.url)
    assert done.ok and done.slack is not None and done.slack.attempts == 1, done.to_json()
    assert done.email is None and set(done.results) == {"slack"}
    [message] = slack.received
    assert slack.paths == ["/services/T0SECRET/B0SECRET/xoxSecretWebhookToken"]
    blocks = message["blocks"]
    assert blocks[0] == {"type": "header", "text": {
        "type": "plain_text", "text": weekly.title, "emoji": False}}
    counts = next(b for b in blocks if b["type"] == "section" and "fields" in b)
    assert [f["text"] for f in counts["fields"]] == [
        "*Slow statements detected*\n8", "*Optimizations recommended*\n5",
        "*PRs created*\n2 (high confidence)", "*Manual review required*\n3 (low confidence)"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert any(s.startswith("*Top optimization*\n\"Find active users (last 7 days)\"")
               and f"<{PR_URL}|PR #1234> pending review" in s for s in sections), sections
    assert any(s.startswith("*History*\n4 applied this month, average gain 51%, 3.3 s saved "
                            "per request") for s in sections), sections
    assert blocks[-1]["type"] == "context"
    assert blocks[-1]["elements"][0]["text"].startswith(f"<{LINK}|Full report>")
    assert message["text"].startswith(weekly.title)


def test_slack_500_twice_then_ok(weekly: WeeklyReport, slack: SlackStub) -> None:
    slack.statuses = [500, 500]
    result = send_slack(slack.url, weekly, backoff=0.01)
    assert result.ok and result.attempts == 3 and result.error is None
    assert len(slack.received) == 3


def test_slack_down_loses_no_report_and_no_secret(weekly: WeeklyReport, slack: SlackStub,
                                                  tmp_path: Path) -> None:
    slack.statuses = [500] * 10
    done = deliver_report(weekly, tmp_path / "out", slack_url=slack.url, backoff=0.01)
    result = done.slack
    assert result is not None and not result.ok and not done.ok
    assert result.attempts == 3 and len(slack.received) == 3
    assert result.error is not None and "HTTP 500" in result.error
    assert "gave up after 3 attempts" in result.error
    for secret in (slack.url, "xoxSecretWebhookToken", "T0SECRET"):
        assert secret not in result.error
        assert secret not in json.dumps(done.to_json())
    # the report is on disk all the same
    assert all(p.is_file() and p.stat().st_size > 0 for p in done.paths.values())
    assert set(done.paths) == {"md", "html", "json"}


def test_slack_unreachable_is_retried_then_reported(weekly: WeeklyReport) -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/services/T1/B1/xoxUnreachableToken"
    result = send_slack(url, weekly, timeout=2, backoff=0.01)
    assert not result.ok and result.attempts == 3
    assert result.error is not None and result.error.startswith(
        "Could not reach the Slack webhook at 127.0.0.1: ConnectError")
    assert "xoxUnreachableToken" not in result.error


def test_slack_refusal_is_not_retried(weekly: WeeklyReport, slack: SlackStub) -> None:
    slack.statuses = [404]
    result = send_slack(slack.url, weekly, backoff=0.01)
    assert not result.ok and result.attempts == 1 and len(slack.received) == 1
    assert result.error is not None and "HTTP 404" in result.error
    assert "set slack_webhook_url anew" in result.error


def test_an_unwritable_folder_still_sends(weekly: WeeklyReport, slack: SlackStub,
                                          tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    done = deliver_report(weekly, blocker, slack_url=slack.url)
    assert done.paths == {} and done.error is not None
    assert done.error.startswith(f"The report could not be written to {blocker}")
    assert done.slack is not None and done.slack.ok and not done.ok


# -- e-mail -----------------------------------------------------------------------------------


SMTP_USER, SMTP_PASSWORD = "reporter", "s3cret-Pa55word"


def _check_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # False: the server answers 535 itself


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _closed_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=_check_login, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


RECIPIENTS = ("dba@example.org", "team-lead@example.org")


def test_email_has_text_and_html(weekly: WeeklyReport, smtp_server: tuple[Inbox, int],
                                 tmp_path: Path) -> None:
    inbox, port = smtp_server
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="pgarchitect@example.org",
                        recipients=RECIPIENTS)
    done = deliver_report(weekly, tmp_path / "out", smtp=smtp)
    assert done.ok and done.email is not None and done.email.attempts == 1, done.to_json()
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "pgarchitect@example.org"
    assert tuple(envelope.rcpt_tos) == RECIPIENTS
    [message] = inbox.messages()
    assert message["Subject"] == f"{weekly.title} ({TARGET})"
    assert message["To"] == ", ".join(RECIPIENTS)
    assert message.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    plain = parts["text/plain"]
    html = parts["text/html"]
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert plain.get_content().replace("\r\n", "\n") == to_markdown(weekly)
    assert "- PRs created: 2 (high confidence)" in plain.get_content()
    assert "<svg" in html.get_content() and "</html>" in html.get_content()


def test_email_login(weekly: WeeklyReport, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    common: dict[str, Any] = {"host": "127.0.0.1", "port": port,
                              "sender": "pgarchitect@example.org", "username": SMTP_USER}
    refused = send_email(weekly, recipients=["dba@example.org"], password="wrong-" + SMTP_PASSWORD,
                         backoff=0.01, **common)
    assert not refused.ok and refused.attempts == 1  # a wrong password is not tried again
    assert refused.error is not None and "refused the login of 'reporter'" in refused.error
    assert SMTP_PASSWORD not in refused.error
    sent = send_email(weekly, recipients="dba@example.org, ops@example.org",
                      password=SMTP_PASSWORD, **common)
    assert sent.ok, sent.error
    assert [tuple(e.rcpt_tos) for e in inbox.envelopes] == [
        ("dba@example.org", "ops@example.org")]


def test_smtp_down_loses_no_report(weekly: WeeklyReport, tmp_path: Path) -> None:
    port = _closed_port()
    smtp = {"host": "127.0.0.1", "port": port, "sender": "pgarchitect@example.org",
            "recipients": list(RECIPIENTS), "username": "reporter",
            "password": SMTP_PASSWORD, "timeout": 2}
    done = deliver_report(weekly, tmp_path / "out", smtp=smtp, backoff=0.01)
    result = done.email
    assert result is not None and not result.ok and result.attempts == 3
    assert result.error is not None and result.error.startswith(
        f"Could not reach the SMTP server 127.0.0.1:{port}: ConnectionRefusedError")
    assert SMTP_PASSWORD not in json.dumps(done.to_json())
    assert all(p.is_file() and p.stat().st_size > 0 for p in done.paths.values())


def test_no_recipient_is_reported(weekly: WeeklyReport) -> None:
    result = send_email(weekly, host="127.0.0.1", port=_closed_port(), sender="a@example.org",
                        recipients=[" "])
    assert not result.ok and result.attempts == 0
    assert result.error is not None and "smtp_to" in result.error


# -- the page in a browser --------------------------------------------------------------------


def _pixels(png: bytes) -> bytes:
    """A PNG's decompressed image data (its IDAT chunks)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    data, at = b"", 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    return zlib.decompress(data)


def test_the_html_report_renders_in_chromium(weekly: WeeklyReport, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed, so the HTML report cannot be rendered: "
                    "install it with `apt-get install chromium`.", pytrace=False)
    paths = write(weekly, tmp_path / "reports")
    png = tmp_path / "report.png"
    done = subprocess.run(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
         "--window-size=1200,1600", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", paths["html"].as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert png.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    data = png.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1600)
    # a page with text and a chart, not a blank one: many distinct shades
    assert len(data) > 30_000 and len(set(_pixels(data))) > 100
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(png, artifacts / "weekly-report.png")
