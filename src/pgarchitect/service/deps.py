"""What a route needs from the application: the caller's token and the knowledge base."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from pgarchitect.knowledge.kb import KnowledgeBase
from pgarchitect.service.auth import Token, authenticate
from pgarchitect.service.errors import ApiError
from pgarchitect.service.findings import KnowledgeSource

LOCAL = Token("local", "write", b"")  # no api_tokens: loopback only, everyone local


def require(scope: str) -> Callable[..., Token]:
    """A dependency that admits a bearer token with ``scope`` (401 or 403 otherwise)."""

    def check(request: Request,
              authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
              ) -> Token:
        tokens: tuple[Token, ...] = request.app.state.tokens
        if not tokens:
            return LOCAL
        return authenticate(tokens, authorization, scope)

    return check


def knowledge(request: Request) -> Iterator[KnowledgeBase | None]:
    """The knowledge base for one request (None when there is none yet)."""
    source: KnowledgeSource = request.app.state.knowledge
    with source.open() as kb:
        yield kb


def statement(request: Request,
              query: Annotated[str, Query(min_length=1, description="A SQL statement.")],
              ) -> str:
    """The ``query`` parameter, refused (413) past api_max_query_chars before any work."""
    longest: int = request.app.state.max_query_chars
    if len(query) > longest:
        raise ApiError(413, f"query is {len(query)} characters; at most {longest} are taken "
                            "(api_max_query_chars): send the statement alone, without data.")
    return query


Reader = Annotated[Token, Depends(require("read"))]
Writer = Annotated[Token, Depends(require("write"))]
Knowledge = Annotated[KnowledgeBase | None, Depends(knowledge)]
Statement = Annotated[str, Depends(statement)]
