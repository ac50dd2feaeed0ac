"""The weekly report: what the week's audit found, and what the applied fixes gave.

The team reads it on Monday morning, in Slack or by e-mail (RUNBOOK, "Monday
report"): how many slow statements, how many recommendations, the pull requests
opened, what needs a person, the top optimization, and the history of applied
fixes with their measured gains.

- :func:`build` makes a :class:`WeeklyReport` from an audit's result and the
  knowledge base's findings, without touching a database;
- :func:`to_markdown`, :func:`to_html` (one self-contained page: inline CSS and an
  inline SVG chart, no script) and :func:`to_json` render it, from the Jinja2
  templates of ``templates/``;
- :func:`write` puts the three files in a folder, each written atomically.

:mod:`pgarchitect.delivery.send` posts it to Slack and e-mails it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import jinja2
from markupsafe import Markup

from pgarchitect.audit import AuditResult
from pgarchitect.knowledge.kb import Finding
from pgarchitect.proposal import REJECTED, Proposal, describe_action

TITLE = "Database Optimization Weekly Report"
PR_ACTIONS = ("pr_merge", "pr_review")  # high confidence: a pull request
MANUAL_ACTIONS = ("log", "investigate")  # low confidence: a person looks at it
DASH = "\u2013"  # the en dash of "Dec 22-28"
GAINS_SHOWN = 20  # applied gains listed in the Markdown and HTML tables (all in the JSON)

_PR_NUMBER = re.compile(r"/pull/(\d+)(?:[/?#]|$)")


# -- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One recommendation as the report shows it."""

    key: str  # the proposal's key in the audit
    title: str  # "index on public.orders (customer_id)"
    kind: str
    action: str  # pr_merge, pr_review, log, investigate
    confidence: float  # 0..100
    gain: float | None  # expected gain, 0..1: the measured one when measured, else estimated
    measured: bool  # ``gain`` is measured
    statement: str  # what the statement it helps most does (its intent), else its text
    query: str  # that statement
    pr_url: str | None = None  # the pull request opened for it

    @property
    def score(self) -> float:
        """Expected gain times confidence: what ranks recommendations."""
        return (self.gain or 0.0) * self.confidence

    @property
    def action_text(self) -> str:
        return describe_action(self.action)

    @property
    def pr_number(self) -> int | None:
        """The pull request's number, from its URL.

        >>> Item("k", "t", "index", "pr_review", 85, 0.5, True, "s", "q",
        ...      "https://github.com/acme/app/pull/1234").pr_number
        1234
        """
        found = _PR_NUMBER.search(self.pr_url or "")
        return int(found.group(1)) if found else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "kind": self.kind, "action": self.action,
            "action_text": self.action_text, "confidence": self.confidence,
            "gain": self.gain, "gain_measured": self.measured, "statement": self.statement,
            "query": self.query, "pr_url": self.pr_url, "pr_number": self.pr_number,
        }


@dataclass
class WeeklyReport:
    """The Monday report of one database."""

    database: str
    week_start: date  # a Monday
    week_end: date  # the Sunday after it
    slow_statements: int
    recommendations: list[Item]  # the proposals not rejected, best first
    prs_opened: list[tuple[str, str]]  # (title, url)
    manual_review: list[Item]  # recommendations whose action is log or investigate
    top: Item | None  # the best recommendation: expected gain times confidence
    applied_this_month: int  # findings applied in the calendar month of the report's day
    average_measured_gain_pct: float | None  # over applied findings with a measured gain
    time_saved_ms_per_request: float | None  # sum of before_ms - applied_after_ms
    kb_size: int  # findings in the knowledge base
    gains: list[tuple[date, float]]  # (day applied, measured gain %), oldest first
    findings_url: str | None  # the admin page ("Full report: ...")
    generated_at: datetime

    @property
    def period(self) -> str:
        return week_text(self.week_start, self.week_end)

    @property
    def title(self) -> str:
        return f"{TITLE} — week of {self.period}"

    @property
    def prs_created(self) -> str:
        return f"{len(self.prs_opened)} (high confidence)"

    @property
    def manual_required(self) -> str:
        return f"{len(self.manual_review)} (low confidence)"

    @property
    def history(self) -> str:
        """``"12 applied this month, average gain 45%, 3.2 s saved per request"``."""
        average = ("average gain not measured yet" if self.average_measured_gain_pct is None
                   else f"average gain {self.average_measured_gain_pct:.0f}%")
        saved = ("time saved not measured yet" if self.time_saved_ms_per_request is None
                 else f"{duration(self.time_saved_ms_per_request)} saved per request")
        return f"{self.applied_this_month} applied this month, {average}, {saved}"

    def top_parts(self) -> tuple[str, str] | None:
        """The top optimization as ``('"what it does" — fix, expected gain 67%', what
        next)``; what next is the pull request (``PR #1234 pending review``) or the
        action."""
        top = self.top
        if top is None:
            return None
        gain = "gain not estimated" if top.gain is None else f"expected gain {top.gain:.0%}"
        head = f'"{top.statement}" — {top.title}, {gain}'
        if top.pr_url:
            number = top.pr_number
            return head, (f"PR #{number}" if number is not None else "PR") + " pending review"
        return head, top.action_text

    @property
    def top_line(self) -> str:
        parts = self.top_parts()
        return "none this week" if parts is None else ", ".join(parts)


def week_text(start: date, end: date) -> str:
    """A week as the runbook writes it.

    >>> week_text(date(2025, 12, 22), date(2025, 12, 28))
    'Dec 22\u201328'
    >>> week_text(date(2026, 3, 30), date(2026, 4, 5))
    'Mar 30\u2013Apr 5'
    >>> week_text(date(2025, 12, 29), date(2026, 1, 4))
    'Dec 29, 2025\u2013Jan 4, 2026'
    """
    if start.year != end.year:
        return f"{start:%b} {start.day}, {start.year}{DASH}{end:%b} {end.day}, {end.year}"
    if start.month != end.month:
        return f"{start:%b} {start.day}{DASH}{end:%b} {end.day}"
    return f"{start:%b} {start.day}{DASH}{end.day}"


def duration(ms: float) -> str:
    """Milliseconds for people.

    >>> duration(3200), duration(450.4), duration(2.25), duration(-1500)
    ('3.2 s', '450 ms', '2.2 ms', '-1.5 s')
    """
    if abs(ms) >= 1000:
        return f"{ms / 1000:,.1f} s"
    return f"{ms:,.0f} ms" if abs(ms) >= 10 else f"{ms:.1f} ms"


def last_week(today: date) -> tuple[date, date]:
    """The last whole week, Monday to Sunday, before ``today``.

    >>> last_week(date(2025, 12, 29))  # a Monday: the week that just ended
    (datetime.date(2025, 12, 22), datetime.date(2025, 12, 28))
    >>> last_week(date(2025, 12, 28))  # a Sunday: that week is not over
    (datetime.date(2025, 12, 15), datetime.date(2025, 12, 21))
    """
    end = today - timedelta(days=today.weekday() + 1)
    return end - timedelta(days=6), end


# -- building it ------------------------------------------------------------------------


def build(result: AuditResult, findings: Sequence[Finding], *, kb_size: int,
          prs: Sequence[tuple[str, str]] = (), link: str | None = None,
          today: date | None = None) -> WeeklyReport:
    """The weekly report of an audit; no database is read.

    ``findings`` are the knowledge base's (``KnowledgeBase.recent(limit=...)``) for the
    history; ``prs`` the pull requests opened, as (title, url): a proposal's is the one
    whose title is, or contains, the proposal's title. ``today`` (default: today) sets
    the week reported (the last whole Monday-to-Sunday week before it) and the month of
    "applied this month".
    """
    today = today or date.today()
    start, end = last_week(today)
    prs = [(str(t), str(u)) for t, u in prs]
    items = sorted((_item(key, p, result, prs) for key, p in result.proposals.items()
                    if p.action != REJECTED),
                   key=lambda i: (i.score, i.confidence), reverse=True)
    measured: list[float] = []  # applied gains, %
    saved: list[float] = []  # ms per request
    gains: list[tuple[date, float]] = []
    this_month = 0
    for f in findings:
        if f.status != "applied":
            continue
        day = _applied_day(f)
        if day is not None and day.replace(day=1) == today.replace(day=1) and day <= today:
            this_month += 1
        if f.applied_gain_pct is not None and math.isfinite(f.applied_gain_pct):
            measured.append(f.applied_gain_pct)
            if day is not None:
                gains.append((day, f.applied_gain_pct))
        if f.before_ms is not None and f.applied_after_ms is not None:
            cut = f.before_ms - f.applied_after_ms
            if math.isfinite(cut):
                saved.append(cut)
    gains.sort()
    return WeeklyReport(
        database=result.target, week_start=start, week_end=end,
        slow_statements=int(result.counts.get("slow_statements", len(result.statements))),
        recommendations=items, prs_opened=prs,
        manual_review=[i for i in items if i.action in MANUAL_ACTIONS],
        top=items[0] if items else None,
        applied_this_month=this_month,
        average_measured_gain_pct=statistics.fmean(measured) if measured else None,
        time_saved_ms_per_request=math.fsum(saved) if saved else None,
        kb_size=kb_size, gains=gains, findings_url=link or None,
        generated_at=datetime.now(UTC).replace(microsecond=0),
    )


def _applied_day(f: Finding) -> date | None:
    when = f.applied_at or f.applied_measured_at or f.status_at
    return when.date() if when is not None else None


def _item(key: str, p: Proposal, result: AuditResult, prs: Sequence[tuple[str, str]]) -> Item:
    gain = p.measured_gain if p.measured_gain is not None else p.estimated_gain
    query, statement = _statement_of(key, p, result)
    pr_url = next((url for title, url in prs if title == p.title), None) or next(
        (url for title, url in prs if p.title and p.title in title), None)
    return Item(key=key, title=p.title, kind=p.kind, action=p.action,
                confidence=float(p.confidence), gain=gain,
                measured=p.measured_gain is not None, statement=statement, query=query,
                pr_url=pr_url)


def _statement_of(key: str, p: Proposal, result: AuditResult) -> tuple[str, str]:
    """The statement a proposal helps most (the costliest of the audit's that it helps),
    and what that statement does: its intent, else its text on one line."""
    for s in sorted(result.statements, key=lambda s: s.position):
        if key in s.proposals:
            query = s.statement.query
            intent = str((s.explanation or {}).get("intent") or "").strip().rstrip(".")
            return query, intent or _one_line(query)
    query = p.statements[0].query if p.statements else ""
    return query, _one_line(query or p.problem or p.title)


def _one_line(text: str, width: int = 120) -> str:
    """Whitespace collapsed, cut at ``width`` characters.

    >>> _one_line("SELECT *\\n   FROM t", 40)
    'SELECT * FROM t'
    """
    line = " ".join(text.split())
    return line if len(line) <= width else line[:width - 1].rstrip() + "…"


# -- rendering --------------------------------------------------------------------------


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".html.j2"))


def _cell(value: object) -> str:
    """A Markdown table cell: one line, its pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _pct(value: float | None, digits: int = 0) -> str:
    """A 0..1 share as a percentage."""
    return "—" if value is None else f"{value:.{digits}%}"


def _web_url(url: str | None) -> str | None:
    """The URL when it is one a link may point to (http or https), else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgarchitect.delivery", "templates"),
        autoescape=_autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(cell=_cell, pct=_pct, duration=duration, web_url=_web_url,
                       one_line=_one_line)
    return env


def _render(template: str, r: WeeklyReport, **extra: Any) -> str:
    shown = r.gains[-GAINS_SHOWN:]
    return _environment().get_template(template).render(
        r=r, top_parts=r.top_parts(), gains_shown=list(reversed(shown)),
        gains_hidden=len(r.gains) - len(shown), **extra)


def to_markdown(r: WeeklyReport) -> str:
    """The report in Markdown: the runbook's lines first, then the details."""
    return _render("report.md.j2", r)


def to_html(r: WeeklyReport) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no script)."""
    return _render("report.html.j2", r, chart=Markup(gains_svg(r.gains)))


def to_json(r: WeeklyReport) -> dict[str, Any]:
    """The report as JSON types: dates in ISO 8601, shares 0..1, gains in percent."""
    return {
        "title": r.title, "database": r.database,
        "week_start": r.week_start.isoformat(), "week_end": r.week_end.isoformat(),
        "slow_statements": r.slow_statements,
        "recommendations": [i.to_json() for i in r.recommendations],
        "prs_opened": [{"title": t, "url": u} for t, u in r.prs_opened],
        "manual_review": [i.to_json() for i in r.manual_review],
        "top": r.top.to_json() if r.top else None,
        "history": {
            "applied_this_month": r.applied_this_month,
            "average_measured_gain_pct": r.average_measured_gain_pct,
            "time_saved_ms_per_request": r.time_saved_ms_per_request,
            "kb_size": r.kb_size,
        },
        "gains": [{"date": d.isoformat(), "gain_pct": g} for d, g in r.gains],
        "findings_url": r.findings_url,
        "generated_at": r.generated_at.isoformat(),
    }


# -- the chart --------------------------------------------------------------------------


def gains_svg(points: Sequence[tuple[date, float]], *, width: int = 900,
              height: int = 300) -> str:
    """A chart of measured gains (%) by the day each fix was applied, as an SVG element.

    Points in date order joined by a line, the average dashed, axes with ticks and
    labels; without points, the axes and a sentence saying so.

    >>> svg = gains_svg([(date(2025, 12, 1), 40.0), (date(2025, 12, 15), 60.0)])
    >>> svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"'), svg.count("<circle")
    (True, 2)
    """
    left, right, top, bottom = 64, 24, 36, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    points = sorted((d, float(g)) for d, g in points if math.isfinite(g))
    values = [g for _, g in points]
    step = 25.0
    lo = min(0.0, math.floor(min(values, default=0.0) / step) * step)
    hi = max(100.0, math.ceil(max(values, default=0.0) / step) * step)
    if hi - lo > 200:
        step = 50.0
    first = points[0][0] if points else date.today()
    last = points[-1][0] if points else first
    if last == first:  # one day: center it in a week
        first, last = first - timedelta(days=3), last + timedelta(days=3)
    span = (last - first).days

    def x(day: date) -> float:
        return left + (day - first).days / span * plot_w

    def y(value: float) -> float:
        return top + (hi - value) / (hi - lo) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" '
           'aria-label="Measured gain of applied fixes over time" '
           'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">',
           "<title>Measured gain of applied fixes over time</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="20" font-size="13" font-weight="600" fill="#1f2937">'
           "Measured gain of applied fixes</text>"]
    # horizontal grid and the y axis's labels
    tick = lo
    while tick <= hi + 1e-9:
        ty = y(tick)
        color = "#9ca3af" if tick == 0 else "#e5e7eb"
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" '
                   f'stroke="{color}" stroke-width="1"/>')
        out.append(f'<text x="{left - 8}" y="{ty + 4:.1f}" text-anchor="end" '
                   f'fill="#4b5563">{tick:.0f}%</text>')
        tick += step
    # the axes
    base = top + plot_h
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#374151" '
               'stroke-width="1.5"/>')
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" '
               'stroke="#374151" stroke-width="1.5"/>')
    # the x axis's ticks: at most 6 days, evenly spread
    count = min(6, span + 1)
    days = sorted({first + timedelta(days=round(span * i / (count - 1))) for i in range(count)})
    same_year = first.year == last.year
    for day in days:
        tx = x(day)
        label = f"{day:%b} {day.day}" if same_year else f"{day:%b} {day.day}, {day:%y}"
        out.append(f'<line x1="{tx:.1f}" y1="{base}" x2="{tx:.1f}" y2="{base + 5}" '
                   'stroke="#374151" stroke-width="1"/>')
        out.append(f'<text x="{tx:.1f}" y="{base + 18}" text-anchor="middle" '
                   f'fill="#4b5563">{escape(label)}</text>')
    # the axes' titles
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
               'fill="#374151">day applied</text>')
    out.append(f'<text x="16" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="#374151" '
               f'transform="rotate(-90 16 {top + plot_h / 2:.1f})">measured gain (%)</text>')
    if not points:
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
                   'text-anchor="middle" fill="#6b7280">No applied fix has a measured gain '
                   "yet.</text>")
        out.append("</svg>")
        return "\n".join(out)
    average = statistics.fmean(values)
    ay = y(average)
    out.append(f'<line x1="{left}" y1="{ay:.1f}" x2="{left + plot_w}" y2="{ay:.1f}" '
               'stroke="#d97706" stroke-width="1.5" stroke-dasharray="6 4"/>')
    out.append(f'<text x="{left + plot_w - 4}" y="{ay - 6:.1f}" text-anchor="end" '
               f'fill="#b45309">average {average:.0f}%</text>')
    line = " ".join(f"{x(d):.1f},{y(g):.1f}" for d, g in points)
    out.append(f'<polyline points="{line}" fill="none" stroke="#2563eb" stroke-width="2" '
               'stroke-linejoin="round"/>')
    for d, g in points:
        label = quoteattr(f"{d.isoformat()}: {g:.0f}%")
        out.append(f'<circle cx="{x(d):.1f}" cy="{y(g):.1f}" r="4" fill="#2563eb" '
                   f'stroke="#ffffff" stroke-width="1.5" aria-label={label}>'
                   f"<title>{escape(f'{d.isoformat()}: {g:.1f}%')}</title></circle>")
    out.append("</svg>")
    return "\n".join(out)


# -- files ------------------------------------------------------------------------------


def write(r: WeeklyReport, directory: Path) -> dict[str, Path]:
    """Write ``weekly-<week_start>.md``, ``.html`` and ``.json`` in ``directory`` (made
    when missing), each atomically: a reader sees the old file or the whole new one.
    Returns the paths by extension (``md``, ``html``, ``json``)."""
    texts = {  # all rendered before anything is written
        "md": to_markdown(r),
        "html": to_html(r),
        "json": json.dumps(to_json(r), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, text in texts.items():
        path = directory / f"weekly-{r.week_start.isoformat()}.{ext}"
        write_atomically(path, text)
        paths[ext] = path
    return paths


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
