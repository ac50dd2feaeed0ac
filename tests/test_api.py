"""The admin API over real HTTP (uvicorn on a free port) against a real knowledge base."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from support.api import serving
from support.cli import run_cli
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.errors import ConfigError
from pgarchitect.knowledge.features import features_of_query
from pgarchitect.knowledge.kb import Finding, KnowledgeBase
from pgarchitect.service.app import create_app
from pgarchitect.service.auth import hash_token
from pgarchitect.settings import load_config

READER, WRITER = "reader-token-0123456789", "writer-token-9876543210"
TOKENS = f"ci:read:{hash_token(READER)}, admin:write:{hash_token(WRITER)}"
BY_EMAIL = "SELECT id, name FROM users WHERE lower(email) = lower($1)"
BY_USER = "SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"
BY_STATUS = "SELECT count(*) FROM orders WHERE status = $1"
LIST = "/admin/database/optimizations"


def finding(query: str, kind: str, database: str, confidence: float) -> Finding:
    features = features_of_query(query)
    return Finding(database=database, fingerprint=features.fingerprint or "", query=query,
                   kind=kind, recommendation_sql=f"-- fix for {query}",
                   description=f"fix: {query}", confidence=confidence,
                   features=features.to_json())


@dataclass
class Api:
    url: str
    ids: dict[str, str]  # query -> finding id

    def client(self, token: str | None = READER) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture
def api(pg_db: TestDatabase) -> Iterator[Api]:
    with db.connect(pg_db.conninfo, load_config()) as conn:
        kb = KnowledgeBase(conn)
        ids = kb.record([finding(BY_EMAIL, "index", "shop", 0.95),
                         finding(BY_USER, "index", "shop", 0.7),
                         finding(BY_STATUS, "rewrite", "blog", 0.85)])
    config = load_config({"database_url": pg_db.conninfo, "api_tokens": TOKENS})
    with serving(config) as url:
        yield Api(url, dict(zip((BY_EMAIL, BY_USER, BY_STATUS), ids, strict=True)))


def assert_error(response: httpx.Response, status: int, says: str) -> None:
    """The one error shape, with the status and a message that says ``says``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"ok", "error", "status"}, body
    assert body["ok"] is False and body["status"] == status, body
    assert says in body["error"], body


def raw_get(api: Api, target: str, token: str) -> httpx.Response:
    """A GET sent on a socket: httpx refuses to build a URL over 64 KiB, a client
    that means harm does not."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "
                     f"{token}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return httpx.Response(int(head.split()[1]), content=body)


def test_list_filters_and_pages(api: Api) -> None:
    with api.client() as c:
        def queries(**params: Any) -> list[str]:
            r = c.get(LIST, params=params)
            assert r.status_code == 200, r.text
            return sorted(item["query"] for item in r.json()["items"])

        assert queries() == sorted(api.ids)
        assert queries(kind="index") == sorted([BY_EMAIL, BY_USER])
        assert queries(database="blog") == [BY_STATUS]
        assert queries(action="pr_merge") == [BY_EMAIL]
        assert queries(action="pr_review") == [BY_STATUS]
        assert queries(action="log") == [BY_USER]
        assert queries(status="rejected") == []
        assert queries(date=datetime.now(UTC).date().isoformat()) == sorted(api.ids)
        assert queries(date="2000-01-01") == []
        first = c.get(LIST, params={"limit": 2}).json()
        second = c.get(LIST, params={"limit": 2, "offset": 2}).json()
        assert first["total"] == second["total"] == 3
        assert len(first["items"]) == 2 and len(second["items"]) == 1
        pages = {i["id"] for i in first["items"]} | {i["id"] for i in second["items"]}
        assert pages == set(api.ids.values())


def test_show_and_unknown_ids(api: Api) -> None:
    with api.client() as c:
        item = c.get(f"{LIST}/{api.ids[BY_EMAIL]}").json()["item"]
        assert item["query"] == BY_EMAIL and item["action"] == "pr_merge"
        assert "embedding" not in item
        assert_error(c.get(f"{LIST}/00000000-0000-0000-0000-000000000000"), 404,
                     "No finding 00000000-0000-0000-0000-000000000000")
        assert_error(c.get(f"{LIST}/not-an-id"), 422, "finding_id (in the path)")
        assert_error(c.post(f"{LIST}/00000000-0000-0000-0000-000000000000/reject",
                            headers={"Authorization": f"Bearer {WRITER}"}), 404, "No finding")


def test_similar(api: Api) -> None:
    with api.client() as c:
        variant = "select u.id, u.name from users u where lower(u.email) = lower('a@b.c')"
        r = c.get(f"{LIST}/similar", params={"query": variant, "limit": 2})
        assert r.status_code == 200, r.text
        best = r.json()["items"][0]
        assert best["finding"]["query"] == BY_EMAIL and best["score"] > 0.5, best
        assert len(r.json()["items"]) <= 2


def test_approve_and_reject_change_the_status(api: Api) -> None:
    target = f"{LIST}/{api.ids[BY_USER]}"
    with api.client(WRITER) as c:
        r = c.post(f"{target}/reject", json={"note": "too much write overhead"})
        assert r.status_code == 200, r.text
        item = c.get(target).json()["item"]
        assert item["status"] == "rejected" and item["status_by"] == "api:admin"
        assert item["status_note"] == "rejected: too much write overhead"
        assert [i["query"] for i in c.get(LIST, params={"status": "rejected"}).json()["items"]
                ] == [BY_USER]
        assert c.post(f"{target}/approve").status_code == 200
        item = c.get(target).json()["item"]
        assert item["status"] == "proposed" and item["status_note"] == "approved"
    with api.client(READER) as c:
        assert_error(c.post(f"{target}/reject"), 403, "needs write")
        assert c.get(target).json()["item"]["status"] == "proposed"


def test_every_error_has_one_shape(api: Api) -> None:
    with api.client(None) as c:
        assert_error(c.get(LIST), 401, "Authorization: Bearer")
        assert_error(c.get(LIST, headers={"Authorization": "Bearer wrong"}), 401,
                     "not one of api_tokens")
        assert_error(c.get(LIST, headers={"Authorization": f"Basic {READER}"}), 401,
                     "Authorization: Bearer")
        assert_error(c.get(LIST, params={"access_token": READER}), 400,
                     "Authorization: Bearer")
        assert_error(c.get("/admin/nothing-here"), 404, "/docs")
    with api.client(WRITER) as c:
        target = f"{LIST}/{api.ids[BY_EMAIL]}"
        assert_error(c.post(f"{target}/reject", content=b'{"note": "' + b"x" * 70_000 + b'"}',
                            headers={"Content-Type": "application/json"}), 413,
                     "api_max_body_bytes")
        assert_error(c.post(f"{target}/reject", json={"note": 12}), 422, "note (in the body)")
        huge = raw_get(api, f"{LIST}/similar?query={'x' * 1_000_000}", WRITER)
        assert_error(huge, 413, "api_max_query_chars")
        assert_error(c.get(f"{LIST}/similar", params={"query": "x" * 10_001}), 413,
                     "at most 10000")
        assert_error(c.get(LIST, params={"status": "done"}), 422, "status (query parameter)")
        assert_error(c.get(LIST, params={"limit": "ten"}), 422, "limit (query parameter)")
        assert_error(c.get(LIST, params={"date": "yesterday"}), 422, "date (query parameter)")
        assert_error(c.delete(target), 405, "method")
        # Nothing of the refused requests reached the finding.
        assert c.get(target).json()["item"]["status"] == "proposed"


def test_health_docs_and_ask(api: Api) -> None:
    with api.client(None) as c:
        assert c.get("/healthz").json() == {"ok": True}
        docs = c.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        paths = c.get("/openapi.json").json()["paths"]
        assert f"{LIST}/{{finding_id}}/approve" in paths and "/admin/database/ask" in paths
        assert_error(c.post("/admin/database/ask", json={"question": "why?"}), 401, "Bearer")
    with api.client() as c:
        assert_error(c.post("/admin/database/ask", json={"question": "What is slow?"}), 501,
                     "optimizations/similar")


def test_concurrent_requests(api: Api) -> None:
    def one(i: int) -> tuple[int, int]:
        with api.client(WRITER if i % 2 else READER) as c:
            r = c.get(LIST, params={"limit": 1 + i % 3})
            return r.status_code, r.json().get("total", -1)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    assert results == [(200, 3)] * 32


def test_serve_refuses_a_public_address_without_tokens(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    result = run_cli(capsys, "serve", "--host", "0.0.0.0", "--port", "9")
    assert result.code == 2
    assert "Refusing to listen on 0.0.0.0 without api_tokens" in result.err


def test_malformed_tokens_and_hashing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="entry 2 is not name:scope:sha256-hex"):
        create_app(load_config({"api_tokens": f"ci:read:{hash_token(READER)},{READER}"}))
    with pytest.raises(ConfigError, match="entry 1"):
        create_app(load_config({"api_tokens": f"ci:admin:{hash_token(READER)}"}))
    done = subprocess.run([sys.executable, "-m", "pgarchitect.cli", "serve", "--hash-token"],
                          input=READER + "\n", capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == hash_token(READER), done.stderr
    assert READER not in done.stdout
