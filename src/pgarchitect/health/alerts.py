"""Health alerts: rules over a health snapshot and the audit runs, their open or resolved
state in the store, and their announcement to Slack and by e-mail.

Each rule (``RULES``) is a plain function of the snapshot, the settings and the store
that returns a :class:`Reading`, or None when it cannot tell (a figure the server does
not show): an alert then keeps the state it had. The thresholds are settings
(``alert_*``). :func:`evaluate` compares the readings with the stored state: an alert
is *opened*, still *open*, or *resolved*. :func:`notify` sends only what was not sent
yet (an alert opened, an alert resolved), and :func:`run` records what was sent, so
an alert that stays open is announced once, and its end once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final, Literal

import psycopg

from pgarchitect import db, store
from pgarchitect.delivery.send import (
    HEADER_MAX,
    SECTION_MAX,
    SendResult,
    SmtpSettings,
    cut,
    mrkdwn,
    post_slack,
    send_mail,
)
from pgarchitect.errors import CapabilityMissing
from pgarchitect.health import collect
from pgarchitect.health.model import HealthSnapshot
from pgarchitect.settings import Config
from pgarchitect.store import alerts as alert_store
from pgarchitect.store.alerts import StoredAlert

Status = Literal["opened", "open", "resolved"]


@dataclass(frozen=True)
class Reading:
    """What one rule found: the value, the threshold, whether it fires, and why, in words."""

    firing: bool
    value: float | None
    threshold: float | None
    message: str


Rule = Callable[[HealthSnapshot, Config, psycopg.Connection[Any]], Reading | None]


@dataclass(frozen=True)
class Alert:
    """An alert of a database after an evaluation: ``opened`` now, still ``open``, or
    ``resolved`` now; ``pending`` while its announcement was not sent."""

    database: str
    key: str
    title: str
    message: str
    status: Status
    opened_at: datetime
    value: float | None
    threshold: float | None
    resolved_at: datetime | None = None
    pending: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"database": self.database, "key": self.key, "title": self.title,
                "message": self.message, "status": self.status,
                "opened_at": self.opened_at.isoformat(), "value": self.value,
                "threshold": self.threshold,
                "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat()}

    @classmethod
    def of(cls, row: StoredAlert) -> Alert:
        """A stored alert as it stands (open, or resolved)."""
        return cls(row.database, row.key, row.title, row.message,
                   "open" if row.is_open else "resolved", row.opened_at, row.last_value,
                   row.threshold, row.resolved_at)


# -- rules --------------------------------------------------------------------------------


def _above(snap: HealthSnapshot, figure: str, threshold: float, what: str,
           unit: str) -> Reading | None:
    value = snap.value(figure)
    if value is None:
        return None
    return Reading(value > threshold, value, threshold,
                   f"{what} is {value:g}{unit} (alert above {threshold:g}{unit}, {figure})")


def slow_p95(snap: HealthSnapshot, config: Config, _: psycopg.Connection[Any]) -> Reading | None:
    """The estimated p95 statement latency above ``alert_p95_ms``."""
    return _above(snap, "latency_p95_ms", config.get_float("alert_p95_ms"),
                  "The estimated p95 statement latency", " ms")


def connections(snap: HealthSnapshot, config: Config,
                _: psycopg.Connection[Any]) -> Reading | None:
    """Connections in use above ``alert_connections_pct`` of max_connections."""
    return _above(snap, "connections_used_pct", config.get_float("alert_connections_pct"),
                  "Connections in use against max_connections", "%")


def disk(snap: HealthSnapshot, config: Config, _: psycopg.Connection[Any]) -> Reading | None:
    """Disk space used above ``alert_disk_pct`` (only when the server shows it)."""
    return _above(snap, "disk_used_pct", config.get_float("alert_disk_pct"),
                  "Disk space used", "%")


def wraparound(snap: HealthSnapshot, config: Config,
               _: psycopg.Connection[Any]) -> Reading | None:
    """Fewer transaction ids left before wraparound than ``alert_wraparound_margin``."""
    margin = snap.value("xid_wraparound_margin")
    if margin is None:
        return None
    low = config.get_int("alert_wraparound_margin")
    return Reading(margin < low, margin, low,
                   f"{margin:,.0f} transaction ids are left before wraparound (alert below "
                   f"{low:,}): check that autovacuum freezes the oldest tables "
                   "(xid_wraparound_margin)")


LAST_RUNS_SQL: Final = """\
SELECT status FROM pgarchitect.audit_run WHERE target = %(target)s
ORDER BY started_at DESC, id DESC LIMIT %(limit)s"""
LAST_FINISHED_SQL: Final = """\
SELECT id, coalesce((counts->>'slow_statements')::int, 0), coalesce((counts->>'proposals')::int, 0)
FROM pgarchitect.audit_run WHERE target = %(target)s AND status = 'finished'
ORDER BY finished_at DESC, id DESC LIMIT 1"""
AUDIT_RUNS_EXIST_SQL: Final = "SELECT to_regclass('pgarchitect.audit_run') IS NOT NULL"


def agent_stuck(snap: HealthSnapshot, config: Config,
                store_conn: psycopg.Connection[Any]) -> Reading | None:
    """The audits of the database fail (the last ``alert_audit_failures`` runs failed),
    or the last finished one found slow statements and could propose nothing."""
    row = store_conn.execute(AUDIT_RUNS_EXIST_SQL).fetchone()
    if not (row and row[0]):
        return None  # never audited here: nothing to tell
    failures = config.get_int("alert_audit_failures")
    statuses = [r[0] for r in store_conn.execute(
        LAST_RUNS_SQL, {"target": snap.database, "limit": failures})]
    if len(statuses) == failures and all(s == "failed" for s in statuses):
        return Reading(True, failures, failures,
                       f"The last {failures} audit runs of {snap.database} failed: see "
                       "`pgarchitect audit` for the error, and pgarchitect.audit_run.errors")
    last = store_conn.execute(LAST_FINISHED_SQL, {"target": snap.database}).fetchone()
    if last is not None and last[1] > 0 and last[2] == 0:
        return Reading(True, 0, None,
                       f"The last finished audit (run {last[0]}) found {last[1]} slow "
                       "statements and could propose nothing for them: see its skipped "
                       "statements and reasons")
    if not statuses:
        return None
    return Reading(False, None, None, "The audits run and propose changes")


# key -> (title, rule). Adding a rule adds one line here.
RULES: dict[str, tuple[str, Rule]] = {
    "latency_p95": ("Slow statements: p95 latency high", slow_p95),
    "connections": ("Connections near max_connections", connections),
    "disk": ("Disk nearly full", disk),
    "wraparound": ("Transaction id wraparound margin low", wraparound),
    "agent_stuck": ("The audit agent is stuck", agent_stuck),
}


# -- state --------------------------------------------------------------------------------


def evaluate(snapshot: HealthSnapshot, config: Config,
             store_conn: psycopg.Connection[Any]) -> list[Alert]:
    """Every rule against the snapshot and the stored state: the alerts opened, still open
    and resolved (an alert resolved earlier and still clear is not listed). Reads only."""
    stored = alert_store.by_key(store_conn, snapshot.database)
    found: list[Alert] = []
    for key, (title, rule) in RULES.items():
        reading = rule(snapshot, config, store_conn)
        before = stored.get(key)
        if reading is None:  # cannot tell: the alert keeps its state
            if before is not None and (before.is_open or _pending(before)):
                found.append(replace(Alert.of(before), pending=_pending(before)))
            continue
        if reading.firing:
            if before is not None and before.is_open:
                found.append(Alert(snapshot.database, key, title, reading.message, "open",
                                   before.opened_at, reading.value, reading.threshold,
                                   pending=not before.notified_open))
            else:
                found.append(Alert(snapshot.database, key, title, reading.message, "opened",
                                   snapshot.taken_at, reading.value, reading.threshold,
                                   pending=True))
        elif before is not None and before.is_open:
            found.append(Alert(snapshot.database, key, title, reading.message, "resolved",
                               before.opened_at, reading.value, reading.threshold,
                               snapshot.taken_at, pending=before.notified_open))
        elif before is not None and _pending(before):
            found.append(replace(Alert.of(before), pending=True))  # its end not sent yet
    return found


def _pending(row: StoredAlert) -> bool:
    """Whether the row's latest change was not announced yet."""
    if row.is_open:
        return not row.notified_open
    return row.notified_open and not row.notified_resolved


def record(store_conn: psycopg.Connection[Any], alerts: Sequence[Alert],
           sent: bool = False) -> None:
    """Store the alerts' state; with ``sent``, the pending announcements as made."""
    with store_conn.transaction():
        for a in alerts:
            if a.status == "opened":
                notified = (sent, False)
            elif a.status == "open":
                notified = (not a.pending or sent, False)
            else:  # an end is announced only when the start was
                notified = (a.pending, sent if a.pending else True)
            alert_store.save(store_conn, StoredAlert(
                a.database, a.key, a.title, a.message, a.opened_at, a.value, a.threshold,
                a.resolved_at, *notified))


# -- announcement -------------------------------------------------------------------------


def summary(alerts: Sequence[Alert]) -> str:
    """One line: how many alerts opened and resolved, and where.

    >>> a = Alert("h:5432/app", "disk", "Disk nearly full", "m", "opened",
    ...           datetime(2026, 1, 1), 90.0, 85.0)
    >>> summary([a])
    'pgarchitect: 1 alert opened on h:5432/app'
    """
    opened = sum(1 for a in alerts if a.status != "resolved")
    resolved = len(alerts) - opened
    parts = [f"{n} alert{'' if n == 1 else 's'} {what}"
             for n, what in ((opened, "opened"), (resolved, "resolved")) if n]
    where = ", ".join(sorted({a.database for a in alerts}))
    return f"pgarchitect: {', '.join(parts) or 'no alert'} on {where}"


def _line(a: Alert) -> str:
    state = "Resolved" if a.status == "resolved" else "Opened"
    since = f"open since {a.opened_at:%Y-%m-%d %H:%M %Z}".rstrip()
    return f"{state}: {a.title}. {a.message} ({since})"


def slack_payload(alerts: Sequence[Alert]) -> dict[str, Any]:
    """The alerts as a Slack message: a header, and one section per alert."""
    head = summary(alerts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(head, HEADER_MAX),
                                    "emoji": False}}]
    for a in alerts:
        state = "Resolved" if a.status == "resolved" else "Opened"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(
            f"*{state}: {mrkdwn(a.title)}*\n{mrkdwn(a.message)}\n"
            f"Database `{mrkdwn(a.database)}`, open since {a.opened_at:%Y-%m-%d %H:%M %Z}",
            SECTION_MAX)}})
    return {"text": mrkdwn(head), "blocks": blocks}


def email_message(alerts: Sequence[Alert], *, sender: str,
                  recipients: Sequence[str]) -> EmailMessage:
    """The alerts as a plain-text e-mail, one paragraph each."""
    msg = EmailMessage()
    msg["Subject"] = summary(alerts)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="pgarchitect-alert")
    msg.set_content("\n\n".join(_line(a) for a in alerts) + "\n")
    return msg


def notify(alerts: Sequence[Alert], config: Config, *,
           backoff: float = 1.0) -> dict[str, SendResult]:
    """Send the alerts newly opened and newly resolved (``pending``) to Slack and by
    e-mail, each when configured; the result of each send by channel ({} when nothing
    was to be sent, or no channel is set)."""
    pending = [a for a in alerts if a.pending]
    results: dict[str, SendResult] = {}
    if not pending:
        return results
    url = config.get_str("slack_webhook_url")
    if url:
        results["slack"] = post_slack(url, slack_payload(pending), backoff=backoff)
    smtp = SmtpSettings.from_config(config)
    if smtp is not None:
        results["email"] = send_mail(email_message(pending, sender=smtp.sender,
                                                   recipients=smtp.recipients),
                                     smtp, backoff=backoff)
    return results


@dataclass(frozen=True)
class AlertRun:
    """What ``health --alert`` did: the alerts, and each send's result."""

    alerts: list[Alert]
    results: dict[str, SendResult]

    @property
    def sent(self) -> bool:
        """Whether every configured send went through (true when nothing was sent)."""
        return all(r.ok for r in self.results.values())

    def to_json(self) -> dict[str, Any]:
        return {"alerts": [a.to_json() for a in self.alerts],
                "results": {k: r.to_json() for k, r in self.results.items()}}


def run(snapshot: HealthSnapshot, config: Config, store_conn: psycopg.Connection[Any], *,
        backoff: float = 1.0) -> AlertRun:
    """Evaluate the rules, announce what changed, and store the state: an announcement
    that could not be sent on any configured channel is tried again at the next run."""
    try:
        store.migrate(store_conn)
    except psycopg.errors.ReadOnlySqlTransaction:
        raise CapabilityMissing(
            "The store is read-only: set PGARCHITECT_STORE_URL to a writable database "
            "to keep the alerts' state.") from None
    alerts = evaluate(snapshot, config, store_conn)
    results = notify(alerts, config, backoff=backoff)
    delivered = bool(results) and any(r.ok for r in results.values())
    record(store_conn, alerts, sent=delivered)
    return AlertRun(alerts, results)


def open_alerts(store_conn: psycopg.Connection[Any], database: str) -> list[Alert]:
    """The open alerts of a database, as the store has them."""
    return [Alert.of(row) for row in alert_store.open_alerts(store_conn, database)]


def check(config: Config, dsn: str | None = None, *, backoff: float = 1.0
          ) -> tuple[HealthSnapshot, AlertRun]:
    """Take and store the target's health snapshot, then evaluate, announce and store its
    alerts (``health --alert``)."""
    with db.target_and_store(config, dsn) as (target, store_conn):
        snap = collect.collect(target, store_conn, config)
        collect.save(target, store_conn, snap)
        return snap, run(snap, config, store_conn, backoff=backoff)


def lines(done: AlertRun) -> list[str]:
    """The alerts for people, one line each (opened, still open, resolved), then the
    sends that failed."""
    label = {"opened": "Alert opened", "open": "Alert still open",
             "resolved": "Alert resolved"}
    out = [f"{label[a.status]}: {a.title}. {a.message}" for a in done.alerts]
    if not done.alerts:
        out.append("No alert: every rule is within its threshold.")
    out += [f"Could not send to {channel}: {r.error}"
            for channel, r in done.results.items() if not r.ok]
    out += [f"Sent to {channel}" + (f" ({r.note})" if r.note else "")
            for channel, r in done.results.items() if r.ok]
    return out
