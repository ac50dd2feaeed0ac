"""A local HTTP server that plays GitHub's REST API for pull requests and labels.

It checks every request as GitHub would (the bearer token, the media type, the API
version, the fields of each body), records it, and can be told to fail. With
``remote``, the branches it knows are those of a real (bare) git repository, so a
pull request can only be opened from a branch that was really pushed.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO = "acme/shop"
TOKEN = "ghp_T0kenThatMustNeverBePrinted0123456789"
BRANCH = "pgarchitect/2026-12-07-1a2b3c"
PULLS = f"/repos/{REPO}/pulls"


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    """GitHub's pull requests and labels for one repository, with injectable failures."""

    url: str = ""
    branches: set[str] = field(default_factory=lambda: {"main", BRANCH})
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # requests GitHub would not take
    failures: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    remote: Path | None = None  # a bare repository: its branches are the ones that exist

    def known_branches(self) -> set[str]:
        if self.remote is None:
            return self.branches
        out = subprocess.run(["git", "for-each-ref", "--format=%(refname:short)",
                              "refs/heads"], cwd=self.remote, capture_output=True, text=True,
                             check=True).stdout
        return self.branches | set(out.split())

    def fail(self, method: str, path: str, status: int, doc: Any, times: int = 1) -> None:
        self.failures.setdefault((method, path), []).extend([(status, doc)] * times)

    def add_pull(self, head: str, *, state: str = "open", merged: bool = False) -> int:
        number = 7 + len(self.pulls)
        self.pulls[number] = {
            "number": number, "html_url": f"https://github.com/{REPO}/pull/{number}",
            "state": state, "merged": merged, "title": "t", "body": "",
            "head": {"ref": head, "label": f"acme:{head}"}, "base": {"ref": "main"},
            "labels": []}
        return number

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [r for r in self.requests
                if method in (None, r.method) and path in (None, r.path)]

    def handle(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any]:
        with self.lock:
            return self._handle(method, target, headers, raw)

    def _handle(self, method: str, target: str, headers: dict[str, str],
                raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        body = None
        if method == "POST":
            if headers.get("content-type") != "application/json":
                self.problems.append(f"{method} {parts.path}: Content-Type "
                                     f"{headers.get('content-type')!r}")
            try:
                body = json.loads(raw)
            except ValueError:
                self.problems.append(f"{method} {parts.path}: body is not JSON: {raw[:80]!r}")
                return 400, {"message": "Problems parsing JSON"}
        self.requests.append(Seen(method, parts.path, parse_qs(parts.query), headers, body))
        if headers.get("accept") != "application/vnd.github+json":
            self.problems.append(f"{method} {parts.path}: Accept {headers.get('accept')!r}")
        if headers.get("x-github-api-version") != "2022-11-28":
            self.problems.append(f"{method} {parts.path}: API version "
                                 f"{headers.get('x-github-api-version')!r}")
        if not headers.get("user-agent", "").startswith("pgarchitect/"):
            self.problems.append(f"{method} {parts.path}: User-Agent "
                                 f"{headers.get('user-agent')!r}")
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials",
                         "documentation_url": "https://docs.github.com/rest"}
        queued = self.failures.get((method, parts.path))
        if queued:
            return queued.pop(0)
        return self._route(method, parts.path, parse_qs(parts.query), body)

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any]:
        if method == "GET" and path == PULLS:
            if query.get("state") != ["open"] or len(query.get("head", [])) != 1:
                self.problems.append(f"GET {path}: query {query}")
            head = query.get("head", [""])[0]
            return 200, [p for p in self.pulls.values()
                         if p["state"] == "open" and p["head"]["label"] == head]
        if method == "POST" and path == PULLS:
            return self._open(body)
        if method == "POST" and (found := re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/labels",
                                                       path)):
            pull = self.pulls.get(int(found.group(1)))
            if pull is None:
                return 404, {"message": "Not Found"}
            labels = body.get("labels") if isinstance(body, dict) else None
            if set(body) != {"labels"} or not isinstance(labels, list) or not all(
                    isinstance(label, str) and label for label in labels):
                self.problems.append(f"POST {path}: body {body!r}")
                return 422, {"message": "Invalid request."}
            pull["labels"] += [{"name": label} for label in labels]
            return 200, pull["labels"]
        if method == "GET" and (found := re.fullmatch(rf"{PULLS}/(\d+)", path)):
            pull = self.pulls.get(int(found.group(1)))
            return (200, pull) if pull else (404, {"message": "Not Found"})
        self.problems.append(f"{method} {path}: not an endpoint the client should call")
        return 404, {"message": "Not Found"}

    def _open(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"title", "head", "base", "body"} or not (
                all(isinstance(body[k], str) for k in body)):
            self.problems.append(f"POST {PULLS}: body {body!r}")
            return 422, {"message": "Invalid request."}
        if not body["title"] or len(body["title"]) > 256 or len(body["body"]) > 65536:
            self.problems.append(f"POST {PULLS}: title or body out of bounds")
        invalid = [f for f in ("head", "base") if body[f] not in self.known_branches()]
        if invalid:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "field": f, "code": "invalid"} for f in invalid],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls"}
        if body["head"] == body["base"]:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom",
                 "message": f"No commits between {body['base']} and {body['head']}"}]}
        if any(p["state"] == "open" and p["head"]["ref"] == body["head"]
               for p in self.pulls.values()):
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom",
                 "message": f"A pull request already exists for acme:{body['head']}."}]}
        number = self.add_pull(body["head"])
        self.pulls[number].update(title=body["title"], body=body["body"],
                                  base={"ref": body["base"]})
        return 201, self.pulls[number]


class _Server(ThreadingHTTPServer):
    fake: FakeGitHub


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.fake.delay:
            time.sleep(self.server.fake.delay)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, doc = self.server.fake.handle(method, self.path, headers, raw)
        data = json.dumps(doc).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the slow-server scenario): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fake_github(remote: Path | None = None) -> Iterator[FakeGitHub]:
    """The server, started on a free port of 127.0.0.1; fails the test if it saw a
    request GitHub would not take."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeGitHub(url=f"http://127.0.0.1:{server.server_address[1]}", remote=remote)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert server.fake.problems == []
