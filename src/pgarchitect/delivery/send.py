"""The weekly report sent: a Slack message (Block Kit) and an e-mail (text and HTML).

Nothing here raises. Each send returns a :class:`SendResult`; a failure that may
pass (a network error, an HTTP 5xx or 429, an SMTP 4xx reply, a dropped connection)
is tried again after a pause that doubles each time, then reported. The webhook's
URL (the webhook's only credential) and the SMTP password are never in a result.

:func:`deliver_report` writes the report's files before it sends anything, so a
send that fails never loses the report.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from pgarchitect.delivery.report import (
    WeeklyReport,
    duration,
    to_html,
    to_markdown,
    write,
)
from pgarchitect.errors import first_line
from pgarchitect.settings import Config

HIDDEN = "[hidden]"
# Block Kit's limits: a header's text, a section's text, a field's text.
HEADER_MAX, SECTION_MAX, FIELD_MAX = 150, 3000, 2000
LISTED = 5  # pull requests and manual reviews named in the Slack message


@dataclass(frozen=True)
class SendResult:
    """What one send did: ``ok``, after how many attempts, and why not."""

    channel: str  # slack, email
    ok: bool
    attempts: int = 0
    error: str | None = None  # why it failed (never a secret)
    note: str | None = None  # sent, with something to know (recipients refused)

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "ok": self.ok, "attempts": self.attempts,
                "error": self.error, "note": self.note}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how the report is e-mailed (the ``smtp_*`` settings)."""

    host: str
    port: int = 25
    sender: str = "pgarchitect@localhost"
    recipients: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10
    retries: int = 2

    @classmethod
    def from_config(cls, config: Config) -> SmtpSettings | None:
        """The settings of ``config``; None when ``smtp_host`` is unset (no e-mail)."""
        host = config.get_str("smtp_host")
        if not host:
            return None
        return cls(host=host, port=config.get_int("smtp_port"),
                   sender=config.get_str("smtp_from") or "pgarchitect@localhost",
                   recipients=_addresses(config.get_str("smtp_to")),
                   username=config.get_str("smtp_username") or None,
                   password=config.get_str("smtp_password") or None,
                   starttls=config.get_bool("smtp_starttls"))


@dataclass
class Delivery:
    """A report delivered: the files written, and each configured send's result."""

    paths: dict[str, Path]  # by extension: md, html, json
    results: dict[str, SendResult] = field(default_factory=dict)  # by channel: slack, email
    error: str | None = None  # the files could not be written (the sends were still made)

    @property
    def slack(self) -> SendResult | None:
        return self.results.get("slack")

    @property
    def email(self) -> SendResult | None:
        return self.results.get("email")

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.ok for s in self.results.values())

    def to_json(self) -> dict[str, Any]:
        return {"paths": {k: str(p) for k, p in self.paths.items()},
                "results": {k: s.to_json() for k, s in self.results.items()},
                "error": self.error, "ok": self.ok}


def deliver_report(r: WeeklyReport, directory: Path, *, slack_url: str | None = None,
                   smtp: SmtpSettings | Mapping[str, Any] | None = None,
                   backoff: float = 1.0) -> Delivery:
    """Write the report's files in ``directory``, then send it to Slack and by e-mail,
    each when configured (an empty URL is not). ``smtp`` is a :class:`SmtpSettings` or
    :func:`send_email`'s keyword arguments. A folder that cannot be written is reported
    in ``error``, and the report is still sent."""
    try:
        paths, error = write(r, directory), None
    except (OSError, ValueError) as exc:
        paths, error = {}, f"The report could not be written to {directory}: {first_line(exc)}"
    results: dict[str, SendResult] = {}
    if slack_url:
        results["slack"] = send_slack(slack_url, r, backoff=backoff)
    if isinstance(smtp, SmtpSettings):
        results["email"] = send_email(
            r, host=smtp.host, port=smtp.port, sender=smtp.sender, recipients=smtp.recipients,
            username=smtp.username, password=smtp.password, starttls=smtp.starttls,
            timeout=smtp.timeout, retries=smtp.retries, backoff=backoff)
    elif smtp is not None:
        try:
            results["email"] = send_email(r, **{"backoff": backoff, **smtp})
        except TypeError as exc:  # a setting send_email does not take, or one missing
            results["email"] = SendResult("email", False, 0, f"The SMTP settings are not "
                                          f"usable: {first_line(exc)}")
    return Delivery(paths, results, error)


def _addresses(text: str) -> tuple[str, ...]:
    """Comma-separated addresses.

    >>> _addresses(" a@example.org, ,b@example.org ")
    ('a@example.org', 'b@example.org')
    """
    return tuple(a.strip() for a in text.split(",") if a.strip())


def _hide(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every secret replaced (longest first: one may contain another).

    >>> _hide("POST https://h/s/T1/B2/xyz failed: /s/T1/B2/xyz", ["https://h/s/T1/B2/xyz",
    ...       "/s/T1/B2/xyz"])
    'POST [hidden] failed: [hidden]'
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def _pause(backoff: float, attempt: int, retry_after: float | None = None) -> None:
    """Wait before attempt ``attempt + 1``: backoff, doubled each time (or what the
    server asked, up to a minute)."""
    delay = backoff * 2 ** (attempt - 1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 60.0))
    if delay > 0:
        time.sleep(delay)


# -- Slack --------------------------------------------------------------------------------


def mrkdwn(text: object) -> str:
    """Text for Slack's mrkdwn: its three control characters escaped.

    >>> mrkdwn("a < b & c > d")
    'a &lt; b &amp; c &gt; d'
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    """A Slack link, or the label alone when the URL is not a plain web address."""
    try:
        scheme = urlsplit(url).scheme.lower() if url else ""
    except ValueError:
        scheme = ""
    if not url or scheme not in ("http", "https") or any(c in url for c in "<>| "):
        return mrkdwn(label)
    return f"<{url}|{mrkdwn(label).replace('|', '/')}>"


def cut(text: str, limit: int) -> str:
    """The text, shortened to ``limit`` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def slack_payload(r: WeeklyReport) -> dict[str, Any]:
    """The report as a Slack message: a header, the counts, the top optimization, the
    history, and a link to the full report."""
    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_MAX)}}

    def fields(*pairs: tuple[str, object]) -> dict[str, Any]:
        return {"type": "section", "fields": [
            {"type": "mrkdwn", "text": cut(f"*{label}*\n{mrkdwn(value)}", FIELD_MAX)}
            for label, value in pairs]}

    parts = r.top_parts()
    if parts is None or r.top is None:
        top = "None this week."
    else:
        label = f"PR #{r.top.pr_number}" if r.top.pr_number is not None else "PR"
        after = (f"{_slack_link(r.top.pr_url, label)} pending review" if r.top.pr_url
                 else mrkdwn(parts[1]))
        top = f"{mrkdwn(parts[0])}, {after}"
    kb = f"{r.kb_size} finding{'' if r.kb_size == 1 else 's'} in the knowledge base"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(r.title, HEADER_MAX),
                                    "emoji": False}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"Database `{mrkdwn(r.database)}`"}]},
        fields(("Slow statements detected", r.slow_statements),
               ("Optimizations recommended", len(r.recommendations)),
               ("PRs created", r.prs_created),
               ("Manual review required", r.manual_required)),
        section(f"*Top optimization*\n{top}"),
        section(f"*History*\n{mrkdwn(r.history)}\n{kb}"),
    ]
    if r.prs_opened:
        lines = [f"• {_slack_link(url, title)}" for title, url in r.prs_opened[:LISTED]]
        more = len(r.prs_opened) - LISTED
        blocks.append(section("*PRs created*\n" + "\n".join(lines)
                              + (f"\n…and {more} more" if more > 0 else "")))
    if r.manual_review:
        lines = [f"• {mrkdwn(i.title)}: {mrkdwn(i.statement)} ({i.confidence:.0f}%)"
                 for i in r.manual_review[:LISTED]]
        more = len(r.manual_review) - LISTED
        blocks.append(section("*Manual review*\n" + "\n".join(lines)
                              + (f"\n…and {more} more" if more > 0 else "")))
    footer = f"Generated by pgarchitect on {r.generated_at:%Y-%m-%d %H:%M} UTC"
    if r.findings_url:
        footer = f"{_slack_link(r.findings_url, 'Full report')} · {footer}"
    blocks += [{"type": "divider"},
               {"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]}]
    saved = ("" if r.time_saved_ms_per_request is None
             else f", {duration(r.time_saved_ms_per_request)} saved per request")
    text = (f"{r.title}: {r.slow_statements} slow statements, {len(r.recommendations)} "
            f"optimizations recommended, {len(r.prs_opened)} PRs created, "
            f"{len(r.manual_review)} for manual review{saved}")
    return {"text": mrkdwn(text), "blocks": blocks}


def send_slack(webhook_url: str, r: WeeklyReport, *, timeout: float = 10, retries: int = 2,
               backoff: float = 1.0) -> SendResult:
    """Post the report to a Slack incoming webhook (:func:`post_slack`)."""
    return post_slack(webhook_url, slack_payload(r), timeout=timeout, retries=retries,
                      backoff=backoff)


def post_slack(webhook_url: str, payload: dict[str, Any], *, timeout: float = 10,
               retries: int = 2, backoff: float = 1.0) -> SendResult:
    """Post a message to a Slack incoming webhook; network errors, 5xx and 429 are tried
    again ``retries`` times. Never raises; the URL is never in the result."""
    secrets = _url_secrets(webhook_url)
    try:
        host = urlsplit(webhook_url).hostname or "?"
    except ValueError:
        host = "?"
    where = f"the Slack webhook at {host}"
    attempts = 0
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            while True:
                attempts += 1
                retry_after = None
                try:
                    response = client.post(webhook_url, json=payload)
                except (httpx.UnsupportedProtocol, httpx.InvalidURL):
                    return SendResult("slack", False, attempts,
                                      "The Slack webhook URL is not a valid http(s) URL: set "
                                      "slack_webhook_url to the URL Slack gave the webhook.")
                except httpx.TransportError as exc:
                    error = f"Could not reach {where}: {type(exc).__name__}: {first_line(exc)}"
                else:
                    if response.is_success:
                        return SendResult("slack", True, attempts)
                    body = " ".join(response.text.split())[:200] or "no body"
                    error = f"{where} answered HTTP {response.status_code} ({body})"
                    if response.status_code not in (429,) and response.status_code < 500:
                        return SendResult("slack", False, attempts,
                                          _hide(error + _slack_hint(response.status_code),
                                                secrets))
                    with suppress(ValueError):
                        retry_after = float(response.headers.get("retry-after", ""))
                if attempts > retries:
                    return SendResult("slack", False, attempts,
                                      _hide(f"{error}; gave up after {attempts} attempts.",
                                            secrets))
                _pause(backoff, attempts, retry_after)
    except Exception as exc:  # never raise: what is sent is on disk or in the store
        return SendResult("slack", False, attempts or 1,
                          _hide(f"Sending to {where} failed: {type(exc).__name__}: "
                                f"{first_line(exc)}", secrets))


def _slack_hint(status: int) -> str:
    if status in (403, 404, 410):
        return ": the webhook was removed or its URL is wrong; set slack_webhook_url anew."
    return ": Slack refused the message."


def _url_secrets(url: str) -> list[str]:
    """The URL and the parts of it that identify the webhook (its path and query)."""
    secrets = [url]
    with suppress(ValueError):
        parts = urlsplit(url)
        if len(parts.path) > 1:
            secrets.append(parts.path)
        if parts.query:
            secrets.append(parts.query)
        parsed = httpx.URL(url)
        secrets += [str(parsed), parsed.raw_path.decode("ascii", "replace")]
    return [s for s in secrets if s and s != "/"]


# -- e-mail -------------------------------------------------------------------------------


def email_message(r: WeeklyReport, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The report as an e-mail: the Markdown as text, the HTML page as its alternative."""
    msg = EmailMessage()
    msg["Subject"] = f"{r.title} ({r.database})"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="pgarchitect-weekly")
    msg.set_content(to_markdown(r))
    msg.add_alternative(to_html(r), subtype="html")
    return msg


NO_RECIPIENT = ("No recipient: set smtp_to to the addresses the weekly report and the alerts "
                "go to, comma-separated.")


def send_email(r: WeeklyReport, *, host: str, port: int, sender: str,
               recipients: Sequence[str] | str, username: str | None = None,
               password: str | None = None, starttls: bool = False, timeout: float = 10,
               retries: int = 2, backoff: float = 1.0) -> SendResult:
    """E-mail the report through an SMTP server (:func:`send_mail`)."""
    addresses = _addresses(recipients) if isinstance(recipients, str) else tuple(
        a.strip() for a in recipients if a.strip())
    smtp = SmtpSettings(host, port, sender, addresses, username, password, starttls, timeout,
                        retries)
    if not addresses:
        return SendResult("email", False, 0, NO_RECIPIENT)
    return send_mail(email_message(r, sender=sender, recipients=addresses), smtp,
                     backoff=backoff)


def send_mail(msg: EmailMessage, smtp: SmtpSettings, *, backoff: float = 1.0) -> SendResult:
    """Send a message through an SMTP server; connection failures and 4xx replies are
    tried again ``smtp.retries`` times. Never raises; the password is never in the result."""
    where = f"the SMTP server {smtp.host}:{smtp.port}"
    secrets = [smtp.password]
    if not smtp.recipients:
        return SendResult("email", False, 0, NO_RECIPIENT)
    attempts = 0
    try:
        while True:
            attempts += 1
            try:
                refused = _smtp_send(msg, smtp.host, smtp.port, smtp.sender, smtp.recipients,
                                     smtp.username, smtp.password, smtp.starttls, smtp.timeout)
            except Exception as exc:
                error, transient = _smtp_error(exc, where, smtp.username)
                if not transient or attempts > smtp.retries:
                    tail = f"; gave up after {attempts} attempts." if transient else ""
                    return SendResult("email", False, attempts, _hide(error + tail, secrets))
                _pause(backoff, attempts)
                continue
            note = None
            if refused:
                note = _hide("Refused by the server: " + "; ".join(
                    f"{a} ({code} {_text(text)})" for a, (code, text) in sorted(refused.items())),
                    secrets)
            return SendResult("email", True, attempts, note=note)
    except Exception as exc:  # never raise: what is sent is on disk or in the store
        return SendResult("email", False, attempts or 1,
                          _hide(f"E-mailing through {where} failed: "
                                f"{type(exc).__name__}: {first_line(exc)}", secrets))


def _smtp_send(msg: EmailMessage, host: str, port: int, sender: str, recipients: Sequence[str],
               username: str | None, password: str | None, starttls: bool,
               timeout: float) -> dict[str, tuple[int, bytes]]:
    """One attempt; the recipients the server refused (when it took the others)."""
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if starttls:
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, password or "")
        return smtp.send_message(msg, from_addr=sender, to_addrs=list(recipients))
    finally:
        # The message is sent: a QUIT that fails must not make it sent again.
        with suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        smtp.close()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _smtp_error(exc: Exception, where: str, username: str | None) -> tuple[str, bool]:
    """What went wrong, for people, and whether another attempt may do better."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        refused = "; ".join(f"{a} ({code} {_text(text)})"
                            for a, (code, text) in sorted(exc.recipients.items()))
        return (f"{where} refused every recipient: {refused}",
                bool(codes) and all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"{where} refused the login of {username!r} ({exc.smtp_code} "
                f"{_text(exc.smtp_error)}): check smtp_username and smtp_password.", False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (f"{where} does not support what was asked: {first_line(exc)} (check "
                "smtp_starttls and smtp_username).", False)
    if isinstance(exc, smtplib.SMTPResponseException):
        return (f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{where} closed the connection: {first_line(exc)}", True
    if isinstance(exc, smtplib.SMTPException):
        return f"{where}: {first_line(exc)}", False
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed: {first_line(exc)}", False
    if isinstance(exc, OSError):
        return f"Could not reach {where}: {type(exc).__name__}: {first_line(exc)}", True
    return f"E-mailing through {where} failed: {type(exc).__name__}: {first_line(exc)}", False
