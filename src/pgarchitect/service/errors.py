"""One JSON shape for every error: ``{"ok": false, "error": ..., "status": ...}``.

FastAPI's own answers (an unknown route, a malformed parameter) are turned into it
too, as are pgarchitect's errors, so a client reads one field whatever went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pgarchitect.errors import (
    CapabilityMissing,
    ConfigError,
    ConnectionFailed,
    PgArchitectError,
    ServerError,
    first_line,
)
from pgarchitect.service.auth import Forbidden, Unauthorized

log = logging.getLogger("pgarchitect.service")

# Starlette's default texts, replaced by ones that say what to do.
_HTTP_TEXT = {
    404: "No such route: see /docs for the routes of the admin API.",
    405: "This route does not take that method: see /docs.",
}


class ApiError(Exception):
    """An error the API answers with ``status`` and a message saying what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotFound(ApiError):
    """The id names nothing (HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


def error_body(status: int, message: str) -> dict[str, Any]:
    """The one error shape.

    >>> error_body(404, "No finding 1234.")
    {'ok': False, 'error': 'No finding 1234.', 'status': 404}
    """
    return {"ok": False, "error": message, "status": status}


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def describe_validation(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one sentence naming each parameter.

    >>> describe_validation([{"loc": ("query", "limit"), "msg": "Input should be a valid integer"}])
    'limit (query parameter): Input should be a valid integer.'
    """
    parts = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ())]
        where = {"query": "query parameter", "path": "in the path", "body": "in the body",
                 "header": "header"}.get(loc[0] if loc else "", "")
        name = ".".join(loc[1:]) or "request"
        parts.append(f"{name} ({where}): {e.get('msg', 'invalid')}" if where
                     else f"{name}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) + "." if parts else "The request is malformed."


def _status_of(exc: PgArchitectError) -> int:
    if isinstance(exc, ConfigError):
        return 422
    if isinstance(exc, (ConnectionFailed, ServerError)):
        return 503
    if isinstance(exc, CapabilityMissing):
        return 501
    return 500


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` in the one shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        return error_response(401, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return error_response(403, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        text = _HTTP_TEXT.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, text, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, describe_validation(exc.errors()))

    @app.exception_handler(PgArchitectError)
    async def ours(request: Request, exc: PgArchitectError) -> JSONResponse:
        return error_response(_status_of(exc), first_line(exc))

    @app.exception_handler(psycopg.OperationalError)
    async def database_away(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("database error: %s", first_line(exc))
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return error_response(503, "A statement hit statement_timeout: narrow the request "
                                       "or raise PGARCHITECT_STATEMENT_TIMEOUT.")
        return error_response(503, "The knowledge base's database cannot be reached: check "
                                   "that it is up (kb_url, else database_url) and retry.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal error: the server log has the details.")
