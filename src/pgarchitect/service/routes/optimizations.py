"""``/admin/database/optimizations``: the knowledge base's findings, and decisions on them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from pgarchitect.knowledge.kb import Finding
from pgarchitect.proposal import action_for
from pgarchitect.service import findings
from pgarchitect.service.deps import Knowledge, Reader, Statement, Writer
from pgarchitect.service.errors import NotFound

router = APIRouter(prefix="/admin/database", tags=["optimizations"])

Status = Literal["proposed", "pr_open", "applied", "rejected", "superseded"]
Kind = Literal["index", "rewrite", "partition", "cache", "setting", "hygiene"]
Action = Literal["pr_merge", "pr_review", "log", "investigate"]
NO_KB = "There is no knowledge base yet: `pgarchitect audit` makes it with its first findings."


class Decision(BaseModel):
    """Why a finding is approved or rejected (optional, kept with its status)."""

    note: str | None = Field(default=None, max_length=2000)


def render(f: Finding) -> dict[str, Any]:
    """A finding as the API shows it: every column but the embedding, and its action."""
    data = f.to_json()
    data.pop("embedding", None)
    data["action"] = None if f.confidence is None else action_for(100 * f.confidence)
    return data


@router.get("/optimizations")
def list_optimizations(
        _: Reader, kb: Knowledge,
        database: Annotated[str | None, Query(max_length=500)] = None,
        status: Status | None = None, kind: Kind | None = None, action: Action | None = None,
        date: Annotated[date | None, Query(description="Created that day (UTC), "
                                                       "YYYY-MM-DD.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
    """The findings, newest first, filtered and one page at a time."""
    filters = findings.Filters(database, status, kind, action, date)
    if kb is None:
        return {"ok": True, "items": [], "total": 0, "limit": limit, "offset": offset}
    page = findings.list_findings(kb, filters, limit=limit, offset=offset)
    return {"ok": True, "items": [render(f) for f in page.findings], "total": page.total,
            "limit": page.limit, "offset": page.offset}


@router.get("/optimizations/similar")
def similar_optimizations(
        _: Reader, query: Statement, kb: Knowledge,
        database: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 5) -> dict[str, Any]:
    """The stored findings most like a statement, best first, with why each matched."""
    if kb is None:
        return {"ok": True, "items": []}
    cases = findings.similar(kb, query, limit=limit, database=database)
    return {"ok": True, "items": [{"score": c.score, "reasons": list(c.reasons),
                                   "finding": render(c.finding)} for c in cases]}


@router.get("/optimizations/{finding_id}")
def show_optimization(finding_id: uuid.UUID, _: Reader, kb: Knowledge) -> dict[str, Any]:
    """One finding, whole."""
    if kb is None:
        raise NotFound(NO_KB)
    return {"ok": True, "item": render(findings.get_finding(kb, finding_id))}


def _decide(decision: str, finding_id: uuid.UUID, by: str, kb: Knowledge,
            body: Decision | None) -> dict[str, Any]:
    if kb is None:
        raise NotFound(NO_KB)
    f = findings.decide(kb, finding_id, decision, by=by, note=body.note if body else None)
    return {"ok": True, "item": render(f)}


@router.post("/optimizations/{finding_id}/approve")
def approve_optimization(finding_id: uuid.UUID, token: Writer, kb: Knowledge,
                         body: Annotated[Decision | None, Body()] = None) -> dict[str, Any]:
    """Approve a finding: who and when are kept with it, and the note if one is given."""
    return _decide("approve", finding_id, f"api:{token.name}", kb, body)


@router.post("/optimizations/{finding_id}/reject")
def reject_optimization(finding_id: uuid.UUID, token: Writer, kb: Knowledge,
                        body: Annotated[Decision | None, Body()] = None) -> dict[str, Any]:
    """Reject a finding: later audits skip statements its fix would have served."""
    return _decide("reject", finding_id, f"api:{token.name}", kb, body)
