"""``/admin/database/ask``: questions in words, answered by the language-model layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel

from pgarchitect.service.deps import Reader
from pgarchitect.service.errors import ApiError

router = APIRouter(prefix="/admin/database", tags=["ask"])

NOT_YET = ("Questions in words need pgarchitect's language-model layer, which this version "
           "does not have yet: use GET /admin/database/optimizations/similar?query=<SQL> "
           "to find earlier findings like a statement.")


class Question(BaseModel):
    """A question about the database, in words."""

    question: str


@router.post("/ask", status_code=200, responses={501: {"description": "Not available yet."}})
def ask(request: Request, _: Reader, body: Annotated[Question, Body()]) -> dict[str, Any]:
    """Answer a question about the database (501 until the language-model layer lands)."""
    longest: int = request.app.state.max_query_chars
    if len(body.question) > longest:
        raise ApiError(413, f"question is {len(body.question)} characters; at most {longest} "
                            "are taken (api_max_query_chars): ask it shorter.")
    raise ApiError(501, NOT_YET)
