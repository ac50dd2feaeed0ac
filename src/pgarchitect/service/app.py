"""The admin API application: ``create_app(config)``, and how ``serve`` runs it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgarchitect import __version__
from pgarchitect.service import errors, metrics
from pgarchitect.service.auth import CREDENTIAL_PARAMS, check_listen, parse_tokens
from pgarchitect.service.findings import KnowledgeSource
from pgarchitect.service.routes import ask, health, optimizations
from pgarchitect.settings import Config

# h11 buffers a request's head up to this size and cuts the connection with a bare
# 400 beyond it: large enough that an over-long query string reaches the application
# and is refused there, in the one error shape.
MAX_HEAD_BYTES = 2 * 1024 * 1024


class Limits:
    """Refuse, before any route runs: a credential in the query string (400), a query
    string or a body larger than the settings allow (413)."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_query: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_query = max_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw: bytes = scope.get("query_string", b"")
        if len(raw) > self.max_query:
            await _refuse(send, 413, f"The query string is {len(raw)} bytes; at most "
                                     f"{self.max_query} are taken (api_max_query_chars, "
                                     "percent-encoded): shorten it.")
            return
        names = {k.lower() for k, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)}
        if names & CREDENTIAL_PARAMS:
            await _refuse(send, 400, "A token in the query string is refused (URLs end up in "
                                     "logs): send it in the header `Authorization: Bearer "
                                     "<token>`, and replace this one, which is exposed now.")
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(send, 413, self._too_large())
            return
        body = b""
        more = scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE")
        while more:  # a chunked body is counted as it comes
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > self.max_body:
                await _refuse(send, 413, self._too_large())
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body was read: what comes next is the disconnect
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return (f"The request body is larger than {self.max_body} bytes "
                "(api_max_body_bytes): send less.")


async def _refuse(send: Send, status: int, message: str) -> None:
    payload = json.dumps(errors.error_body(status, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


def create_app(config: Config) -> FastAPI:
    """The admin API for ``config``; ConfigError for a malformed ``api_tokens``.

    Nothing is opened until the first request that needs the knowledge base.
    """
    tokens = parse_tokens(config.get_str("api_tokens"))
    knowledge = KnowledgeSource(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        knowledge.close()

    app = FastAPI(title="pgarchitect admin API", version=__version__, lifespan=lifespan,
                  description="The knowledge base's findings, and decisions on them. Every "
                              "/admin route needs `Authorization: Bearer <token>`.")
    app.state.tokens = tokens
    app.state.knowledge = knowledge
    app.state.store = metrics.StoreSource(config)
    app.state.metrics = metrics.registry_for(app.state.store)
    app.state.max_query_chars = config.get_int("api_max_query_chars")
    errors.install(app)
    app.include_router(optimizations.router)
    app.include_router(ask.router)
    app.include_router(health.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """The server answers (no token needed; the database is not checked)."""
        return {"ok": True}

    # Percent-encoding triples a character, and the other parameters need room too.
    app.add_middleware(Limits, max_body=config.get_int("api_max_body_bytes"),
                       max_query=3 * config.get_int("api_max_query_chars") + 4096)
    return app


def server_config(config: Config, host: str | None = None,
                  port: int | None = None) -> uvicorn.Config:
    """uvicorn's settings for the admin API; ConfigError when the address is unsafe."""
    host = host or config.get_str("api_host")
    app = create_app(config)
    check_listen(host, app.state.tokens)
    port = config.get_int("api_port") if port is None else port  # 0: any free port
    # No access log: it writes each request's query string, and a token sent there by
    # mistake (refused, with a 400) must not end up in a log file.
    return uvicorn.Config(app, host=host, port=port,
                          h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                          server_header=False, log_level="info", access_log=False)
