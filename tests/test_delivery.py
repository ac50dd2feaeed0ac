"""An audit delivered end to end: a real audit, a real repository with a bare remote, a
local server playing GitHub, the weekly report, and the knowledge base's PR states."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.cli import run_cli
from support.github import REPO, TOKEN, FakeGitHub, fake_github
from support.servers import TestDatabase

from pgarchitect import audit, db
from pgarchitect.delivery import deliver
from pgarchitect.knowledge.kb import KnowledgeBase
from pgarchitect.settings import load_config
from pgarchitect.workload.collect import Request

SCHEMA = """
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
                     total numeric NOT NULL, placed_at timestamptz NOT NULL);
INSERT INTO orders
SELECT i, 1 + (i::bigint * 7919) % 50000, (ARRAY['open', 'paid', 'shipped'])[1 + i % 3],
       (i % 1000) / 10.0, timestamptz '2026-01-01' + i * interval '1 minute'
  FROM generate_series(1, 300000) i;
"""
PRISMA = """datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model Order {
  id         BigInt   @id
  customerId BigInt   @map("customer_id")
  status     String
  total      Decimal
  placedAt   DateTime @map("placed_at")

  @@map("orders")
}
"""
BY_CUSTOMER = ("SELECT id, total FROM orders WHERE customer_id = $1 "
               "ORDER BY placed_at DESC LIMIT 20")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """The team's repository (a clone with prisma/schema.prisma) and its bare remote."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    clone = tmp_path / "app"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    (clone / "prisma").mkdir()
    (clone / "prisma" / "schema.prisma").write_text(PRISMA)
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "schema")
    git(clone, "push", "-q", "origin", "main")
    return clone, bare


@pytest.fixture
def github(repo: tuple[Path, Path]) -> Iterator[FakeGitHub]:
    with fake_github(remote=repo[1]) as server:
        yield server


@pytest.fixture
def target(db15: TestDatabase, repo: tuple[Path, Path], github: FakeGitHub, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DATABASE_URL", db15.conninfo)
    monkeypatch.setenv("PGARCHITECT_DELIVERY_REPO", str(repo[0]))
    monkeypatch.setenv("PGARCHITECT_DELIVERY_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PGARCHITECT_GITHUB_REPO", REPO)
    monkeypatch.setenv("PGARCHITECT_GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    # Slack is configured but down: the report is still written, the failure said.
    monkeypatch.setenv("PGARCHITECT_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hooks/x")
    monkeypatch.setenv("COLUMNS", "250")
    with db.connect(db15.conninfo, load_config()) as conn:
        conn.execute(SCHEMA)
        conn.execute("VACUUM ANALYZE orders")
        yield conn


def test_an_audit_is_delivered_as_migrations_a_branch_a_pr_and_a_report(
        target: Any, db15: TestDatabase, repo: tuple[Path, Path], github: FakeGitHub,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clone, bare = repo
    statements = tmp_path / "statements.sql"
    statements.write_text(BY_CUSTOMER + ";\n")
    before = git(clone, "status", "--porcelain"), git(clone, "rev-parse", "HEAD")

    ran = run_cli(capsys, "audit", "--deliver", "--json", "--budget", "1GB", "--file",
                  str(statements))
    assert ran.code == 0, ran.err
    doc = json.loads(ran.out)
    delivery = doc["delivery"]
    [proposal] = [p for p in doc["proposals"] if not p["rejected"]]
    assert proposal["action"] in ("pr_merge", "pr_review"), proposal["confidence"]
    assert delivery["format"] == "prisma" and delivery["errors"] == [
        e for e in delivery["errors"] if "slack" in e.lower()], delivery["errors"]

    # Prisma migrations in the out folder, and the schema with its @@index.
    out = tmp_path / "out"
    [migration] = sorted(out.glob("prisma/migrations/*/migration.sql"))
    assert "CREATE INDEX CONCURRENTLY" in migration.read_text()
    index = proposal["detail"]["name"]
    assert f'map: "{index}")' in (out / "prisma" / "schema.prisma").read_text()
    assert "@@index([customerId" in (out / "prisma" / "schema.prisma").read_text()

    # The branch: pushed to the remote, the clone's work tree and HEAD untouched.
    branch = delivery["branch"]
    assert branch and delivery["pushed"] is True
    assert git(bare, "rev-parse", f"refs/heads/{branch}") == delivery["commit"]
    files = git(bare, "ls-tree", "-r", "--name-only", branch).splitlines()
    assert any(f.startswith("prisma/migrations/") for f in files)
    assert (git(clone, "status", "--porcelain"), git(clone, "rev-parse", "HEAD")) == before

    # The pull request: opened, labelled, recorded on the findings.
    [pull] = github.pulls.values()
    assert pull["head"]["ref"] == branch and pull["title"].startswith("[pgarchitect] ")
    assert {label["name"] for label in pull["labels"]} == {
        "database", "ai-generated", "optimization"}
    assert "customer_id" in pull["body"] and "- [ ]" in pull["body"]
    assert delivery["pr_url"] == pull["html_url"]
    with psycopg.connect(db15.conninfo, autocommit=True) as conn:
        kb = KnowledgeBase(conn, create=False)
        delivered = [f for f in kb.recent() if f.pr_url]
        assert delivered and all(f.status == "pr_open" for f in delivered)
        row = conn.execute("SELECT branch, pr_url FROM pgarchitect.delivery").fetchone()
    assert row == (branch, pull["html_url"])

    # The weekly report, written although Slack was down.
    report = {kind: Path(path) for kind, path in delivery["report"].items()}
    assert all(p.is_file() for p in report.values()), report
    assert delivery["sends"]["slack"].startswith("not sent")
    assert TOKEN not in ran.out + ran.err


def test_a_pr_is_not_opened_twice_and_a_merged_one_is_applied(
        target: Any, db15: TestDatabase, github: FakeGitHub, tmp_path: Path) -> None:
    config = load_config()
    request = audit.AuditRequest(workload=Request(dsn=db15.conninfo, statements=[BY_CUSTOMER]),
                                 budget="1GB")
    result = audit.run(config, request)
    first = deliver.run(config, result, db15.conninfo)
    assert first.pr_url and len(github.pulls) == 1, first.errors

    again = deliver.run(config, result, db15.conninfo)
    assert len(github.pulls) == 1 and again.pr_url is None
    assert any("already in pull request" in n for n in again.notes), again.notes

    [pull] = github.pulls.values()
    pull.update(state="closed", merged=True)
    synced = deliver.run(config, result, db15.conninfo)
    assert any("was merged; marked applied" in n for n in synced.notes), synced.notes
    with psycopg.connect(db15.conninfo, autocommit=True) as conn:
        findings = [f for f in KnowledgeBase(conn, create=False).recent() if f.pr_url]
    assert findings and all(f.status == "applied" for f in findings)
