"""``/admin/database/health`` and ``/metrics``: the newest health snapshot, and the
store's figures for Prometheus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from pgarchitect.health.alerts import open_alerts
from pgarchitect.service import metrics
from pgarchitect.service.deps import Reader
from pgarchitect.service.errors import NotFound
from pgarchitect.store import health as health_store

router = APIRouter(tags=["health"])


@router.get("/admin/database/health")
def latest_health(request: Request, _: Reader,
                  database: Annotated[str, Query(min_length=1, max_length=500,
                                                 description="host:port/dbname, as "
                                                             "snapshots name it.")],
                  ) -> dict[str, Any]:
    """The newest health snapshot of a database (404 when none was stored), and its open
    alerts (``health --alert``)."""
    source: metrics.StoreSource = request.app.state.store
    with source.open() as (_kb, store):
        snap = health_store.latest(store, database)
        if snap is None:
            raise NotFound(f"No health snapshot of {database!r}: take one with `pgarchitect "
                           "health` (databases are named host:port/dbname).")
        alerts = open_alerts(store, database)
    return {"ok": True, "item": snap.to_json(), "alerts": [a.to_json() for a in alerts]}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {metrics.CONTENT_TYPE: {}},
                             "description": "Prometheus's text format."}})
def prometheus_metrics(request: Request, _: Reader) -> Response:
    """The store's figures in Prometheus's text format, read at each scrape (a token
    with scope read once api_tokens is set)."""
    return Response(metrics.scrape(request.app.state.metrics), media_type=metrics.CONTENT_TYPE)
