"""One audit's delivery: migrations, a branch, a pull request, the weekly report.

Run after an audit (``pgarchitect audit --deliver``, the demo), in this order:

1. pull requests opened earlier are looked up on GitHub: a merged one marks its
   findings applied (the next audit measures the real gain), a closed one rejected;
2. every proposal that is not rejected gets its migration files in
   ``delivery_out`` (the team's format: ``delivery_format``, else detected from
   ``delivery_repo``), and a Prisma schema its ``@@index`` lines;
3. the proposals the runbook sends to a pull request (confidence 80 and more) and
   not already in an open one are committed on a new branch of ``delivery_repo``
   (never the current branch, never its work tree), pushed when it has a remote;
4. with ``github_repo`` and a token, the pull request is opened (or found open) and
   its findings marked ``pr_open`` with its URL;
5. the weekly report is written (Markdown, HTML, JSON) and sent to Slack and by
   e-mail when configured; a failed send is reported and loses nothing.

Each step that fails is reported in the result and the next ones still run;
nothing is applied to any database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgarchitect import db, store
from pgarchitect.audit import AuditResult
from pgarchitect.delivery import git, github, migrations, report, send
from pgarchitect.errors import PgArchitectError, first_line
from pgarchitect.knowledge.audit import Session
from pgarchitect.knowledge.audit import session as knowledge_session
from pgarchitect.proposal import Proposal
from pgarchitect.settings import Config

PR_ACTIONS = ("pr_merge", "pr_review")  # the runbook's table: 80% and more open a PR


@dataclass
class Delivered:
    """What one delivery did, step by step."""

    out_dir: Path
    format: str
    files: list[Path] = field(default_factory=list)
    branch: str | None = None
    commit: str | None = None
    pushed: bool = False
    pr_url: str | None = None
    pr_title: str | None = None
    report: dict[str, str] = field(default_factory=dict)  # kind -> path
    sends: dict[str, str] = field(default_factory=dict)  # slack/email -> "sent" or why not
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "format": self.format,
                "files": [str(f) for f in self.files], "branch": self.branch,
                "commit": self.commit, "pushed": self.pushed, "pr_url": self.pr_url,
                "report": self.report, "sends": self.sends, "notes": self.notes,
                "errors": self.errors}


def run(config: Config, result: AuditResult, dsn: str | None = None, *,
        repo: Path | None = None, out_dir: Path | None = None) -> Delivered:
    """Deliver an audit that has finished: its database, knowledge base and store."""
    conninfo = db.target_conninfo(config, dsn)
    with db.connect(conninfo, config) as conn:
        store_url = config.get_str("store_url")
        store_conn = db.connect(store_url, config) if store_url else conn
        try:
            store.migrate(store_conn)
            with knowledge_session(config, conn) as kb:
                return deliver(config, result, kb, store_conn, repo=repo, out_dir=out_dir)
        finally:
            if store_conn is not conn:
                store_conn.close()


def deliver(config: Config, result: AuditResult, kb: Session | None,
            store_conn: psycopg.Connection[Any], *, now: datetime | None = None,
            repo: Path | None = None, out_dir: Path | None = None) -> Delivered:
    """Deliver one audit's result (see the module's steps); ``repo`` and ``out_dir``
    stand in for the settings delivery_repo and delivery_out."""
    now = now or datetime.now(UTC)
    repo_setting = config.get_str("delivery_repo")
    if repo is None and repo_setting:
        repo = Path(repo_setting).expanduser()
    fmt = config.get_str("delivery_format") or "auto"
    if fmt == "auto":
        fmt = migrations.detect_format(repo) if repo is not None else "sql"
    out = out_dir or Path(config.get_str("delivery_out") or "pgarchitect-out")
    done = Delivered(out.resolve(), fmt)
    hub = _github(config, done)
    try:
        return _deliver(config, result, kb, store_conn, hub, now, repo, fmt, done)
    finally:
        if hub is not None:
            hub.close()


def _deliver(config: Config, result: AuditResult, kb: Session | None,
             store_conn: psycopg.Connection[Any], hub: github.GitHub | None, now: datetime,
             repo: Path | None, fmt: str, done: Delivered) -> Delivered:
    if hub is not None and kb is not None and kb.kb is not None:
        _sync(hub, kb, done)
    proposals = [p for p in result.proposals.values() if not p.rejected]
    rendered = migrations.render(proposals, fmt, when=now, repo=repo)
    done.notes.extend(f"not a migration: {title} ({why})" for title, why in rendered.skipped)
    done.files.extend(rendered.write(done.out_dir))
    schema = _prisma_schema(repo, proposals, done) if fmt == "prisma" else None
    if schema is not None:
        path = done.out_dir / "prisma" / "schema.prisma"
        path.parent.mkdir(parents=True, exist_ok=True)
        report.write_atomically(path, schema)
        done.files.append(path)
    for_pr = _for_pr(proposals, result, kb, done)
    if repo is not None and for_pr:
        _branch(repo, for_pr, fmt, now, schema, done)
    elif repo is None:
        done.notes.append("No delivery_repo: no branch, the migrations are in "
                          f"{done.out_dir}.")
    elif proposals:
        done.notes.append("No proposal reaches 80% confidence: no branch, no pull request "
                          "(the report lists them for manual review).")
    if hub is not None and done.branch and done.pushed and for_pr:
        _pull_request(hub, config, for_pr, result, kb, done)
    elif hub is not None and done.branch and not done.pushed:
        done.notes.append("The branch was not pushed: no pull request.")
    _weekly(config, result, kb, done, now)
    _record(store_conn, result, done)
    return done


def _github(config: Config, done: Delivered) -> github.GitHub | None:
    name = config.get_str("github_repo")
    if not name:
        return None
    token = config.get_str("github_token")
    if not token:
        done.notes.append("github_repo is set but no token (GITHUB_TOKEN): no pull request.")
        return None
    try:
        return github.GitHub(name, token, api_url=config.get_str("github_api_url")
                             or github.API_URL)
    except PgArchitectError as exc:
        done.errors.append(f"No pull request: {first_line(exc)}")
        return None


def _sync(hub: github.GitHub, kb: Session, done: Delivered) -> None:
    """Open pull requests of earlier audits: merged → applied, closed → rejected."""
    assert kb.kb is not None
    for finding in kb.kb.open_prs():
        assert finding.pr_number is not None and finding.id is not None
        try:
            state = hub.status(finding.pr_number)
        except PgArchitectError as exc:
            done.errors.append(f"Could not read pull request #{finding.pr_number}: "
                               f"{first_line(exc)}")
            return
        if state == "merged":
            kb.kb.mark(finding.id, "applied", by="github",
                       note=f"pull request merged: {finding.pr_url}")
            done.notes.append(f"Finding {finding.short_id}: pull request #{finding.pr_number} "
                              "was merged; marked applied (the next audit measures it).")
        elif state == "closed":
            kb.kb.mark(finding.id, "rejected", by="github",
                       note=f"pull request closed without merging: {finding.pr_url}")
            done.notes.append(f"Finding {finding.short_id}: pull request #{finding.pr_number} "
                              "was closed without merging; marked rejected.")


def _findings(kb: Session | None, p: Proposal) -> list[Any]:
    if kb is None or kb.kb is None:
        return []
    return kb.kb.of_fix(kb.database, p.kind, p.forward)


def _for_pr(proposals: Sequence[Proposal], result: AuditResult, kb: Session | None,
            done: Delivered) -> list[Proposal]:
    out = []
    for p in proposals:
        if p.action not in PR_ACTIONS:
            continue
        open_ = [f for f in _findings(kb, p) if f.status == "pr_open" and f.pr_url]
        if open_:
            done.notes.append(f"{p.title}: already in pull request {open_[0].pr_url}; "
                              "not opened again.")
            continue
        out.append(p)
    return out


def _prisma_schema(repo: Path | None, proposals: Sequence[Proposal],
                   done: Delivered) -> str | None:
    """The repository's schema.prisma with the proposed indexes as @@index lines."""
    if repo is None or not (repo / "prisma" / "schema.prisma").is_file():
        return None
    from pgarchitect.advisors.index.advise import IndexDetail

    indexes = [p.detail.index for p in proposals if isinstance(p.detail, IndexDetail)]
    text, notes = migrations.add_prisma_indexes(
        (repo / "prisma" / "schema.prisma").read_text(), indexes)
    done.notes.extend(notes)
    return text


def _branch(repo: Path, proposals: Sequence[Proposal], fmt: str, now: datetime,
            schema: str | None, done: Delivered) -> None:
    rendered = migrations.render(proposals, fmt, when=now, repo=repo)
    files: dict[PurePosixPath, str] = {PurePosixPath(str(f.path)): f.text
                                       for f in rendered.files}
    if schema is not None:
        files[PurePosixPath("prisma/schema.prisma")] = schema
    digest = hashlib.sha1("\n".join(sorted(p.forward for p in proposals)).encode()).hexdigest()
    name = git.branch_name("pgarchitect", now, digest[:6])
    message = (f"pgarchitect: {len(proposals)} database change(s) for review\n\n"
               + "\n".join(f"- {p.title} (confidence {p.confidence:.0f}%)" for p in proposals))
    try:
        branch = git.commit_branch(repo, files, branch=name, message=message)
    except PgArchitectError as exc:
        done.errors.append(f"No branch: {first_line(exc)}")
        return
    done.branch, done.commit, done.pushed = branch.branch, branch.commit, branch.pushed
    done.notes.extend(branch.notes)
    if branch.push_error:
        done.errors.append(f"The branch {branch.branch} was committed but not pushed: "
                           f"{branch.push_error}")


def _pull_request(hub: github.GitHub, config: Config, proposals: Sequence[Proposal],
                  result: AuditResult, kb: Session | None, done: Delivered) -> None:
    assert done.branch is not None
    similar = {r.statement.query: [f"finding {str(c['finding'])[:8]} ({c['verdict']}): "
                                   f"{c['checked']}" for c in (r.kb or {}).get("checked", ())]
               for r in result.statements}
    try:
        pr = hub.open_pr(done.branch, config.get_str("github_base") or "main",
                         github.pr_title(proposals),
                         github.pr_body(proposals, similar=similar), github.LABELS)
    except PgArchitectError as exc:
        done.errors.append(f"No pull request: {first_line(exc)}")
        return
    done.pr_url, done.pr_title = pr.url, github.pr_title(proposals)
    done.notes.extend(pr.notes)
    if pr.existing:
        done.notes.append(f"Pull request {pr.url} was already open for {done.branch}.")
    if kb is not None and kb.kb is not None:
        ids = [str(f.id) for p in proposals for f in _findings(kb, p)]
        kb.kb.delivered(ids, pr.url, pr.number)


def _weekly(config: Config, result: AuditResult, kb: Session | None, done: Delivered,
            now: datetime) -> None:
    findings = kb.kb.recent(limit=10_000) if kb is not None and kb.kb is not None else []
    size = kb.kb.count() if kb is not None and kb.kb is not None else 0
    prs = [(done.pr_title or "", done.pr_url)] if done.pr_url else []
    weekly = report.build(result, findings, kb_size=size, prs=prs,
                          link=config.get_str("report_link"), today=now.date())
    smtp = send.SmtpSettings.from_config(config)
    sent = send.deliver_report(weekly, done.out_dir / "reports",
                               slack_url=config.get_str("slack_webhook_url"), smtp=smtp)
    done.report = {k: str(v) for k, v in sent.paths.items()}
    if sent.error:
        done.errors.append(f"The weekly report could not be written: {sent.error}")
    for channel, outcome in sent.results.items():
        done.sends[channel] = "sent" if outcome.ok else f"not sent: {outcome.error}"
        if not outcome.ok:
            done.errors.append(f"The weekly report was not sent to {channel}: {outcome.error} "
                               f"(it is in {done.out_dir / 'reports'})")


def _record(store_conn: psycopg.Connection[Any], result: AuditResult, done: Delivered) -> None:
    try:
        store_conn.execute(
            "INSERT INTO pgarchitect.delivery (run_id, target, out_dir, format, branch, "
            "commit_sha, pushed, pr_url, report, notes, errors) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [result.run_id, result.target, str(done.out_dir), done.format, done.branch,
             done.commit, done.pushed, done.pr_url,
             Jsonb({"files": done.report, "sends": done.sends}), Jsonb(done.notes),
             Jsonb(done.errors)])
    except psycopg.Error as exc:
        done.errors.append(f"The delivery could not be recorded in the store: {first_line(exc)}")
