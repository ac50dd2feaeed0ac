"""/metrics and /admin/database/health over real HTTP (uvicorn on a free port) against a
real store: an audit run, findings and a health snapshot; and deploy/'s dashboard and
alert rules read only metrics that /metrics exports."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from support.api import serving
from support.servers import TestDatabase

from pgarchitect import audit, db
from pgarchitect.health.collect import run as take_health
from pgarchitect.health.model import FIGURES, HealthSnapshot
from pgarchitect.knowledge.features import features_of_query
from pgarchitect.knowledge.kb import Finding, KnowledgeBase
from pgarchitect.proposal import action_for
from pgarchitect.service.auth import hash_token
from pgarchitect.settings import load_config
from pgarchitect.workload.collect import Request

DEPLOY = Path(__file__).parent.parent / "deploy"
READER = "metrics-reader-token-0123456789"
TOKENS = f"prometheus:read:{hash_token(READER)}"
METRIC = re.compile(r"\bdb_architect_[a-z0-9_]+")
STATEMENTS = ["SELECT id, payload FROM metric_events WHERE c1 = $1",
              "SELECT id, payload FROM metric_events WHERE c2 = $1"]
SCHEMA = """
CREATE TABLE metric_events (id bigint PRIMARY KEY, c1 int NOT NULL, c2 int NOT NULL,
                            payload text NOT NULL);
INSERT INTO metric_events
SELECT g, (g * 7) % 20000, (g * 11) % 20000, repeat('x', 40) FROM generate_series(1, 40000) g;
ANALYZE metric_events;
"""


@dataclass
class Store:
    url: str
    conninfo: str  # the test database: the target, the knowledge base and the store
    audit: audit.AuditResult
    health: HealthSnapshot

    def client(self, token: str | None = READER) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def finding(query: str, kind: str, database: str, confidence: float | None,
            gain: float | None) -> Finding:
    features = features_of_query(query)
    return Finding(database=database, fingerprint=features.fingerprint or "", query=query,
                   kind=kind, recommendation_sql=f"-- fix for {query}",
                   description=f"fix: {query}", confidence=confidence,
                   measured_gain_pct=gain, before_ms=10.0, features=features.to_json())


@pytest.fixture
def store(db18: TestDatabase) -> Iterator[Store]:
    with db18.connect() as conn:
        conn.execute(SCHEMA.encode())
    config = load_config({"database_url": db18.conninfo, "api_tokens": TOKENS})
    result = audit.run(config, audit.AuditRequest(
        workload=Request(dsn=db18.conninfo, statements=STATEMENTS), runs=1))
    assert result.counts["slow_statements"] == len(STATEMENTS), result.skipped
    # Findings of every action, status and kind, in a second database name too.
    with db.connect(db18.conninfo, config) as conn:
        kb = KnowledgeBase(conn)
        ids = kb.record([
            finding("SELECT * FROM a WHERE x = 1", "index", "other:5432/shop", 0.95, 60.0),
            finding("SELECT * FROM a WHERE y = 1", "index", "other:5432/shop", 0.85, 30.0),
            finding("SELECT * FROM a WHERE z = 1", "rewrite", "other:5432/shop", 0.65, 25.0),
            finding("SELECT * FROM b WHERE x = 1", "rewrite", "other:5432/shop", 0.3, None),
            finding("SELECT * FROM b WHERE y = 1", "setting", "other:5432/shop", None, None),
            finding("SELECT * FROM b WHERE z = 1", "index", "other:5432/blog", 0.5, 10.0)])
        kb.mark(ids[1], "rejected", by="test")
        kb.record_outcome(kb.mark(ids[0], "applied", by="test"), 4.0)  # 60% faster
    snap = take_health(config, db18.conninfo)
    with serving(config) as url:
        yield Store(url, db18.conninfo, result, snap)


def scrape(client: httpx.Client) -> dict[str, list[Sample]]:
    """/metrics parsed by prometheus_client's own parser: samples by metric name."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def values(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels[k] for k in labels): s.value for s in samples}


def test_metrics_are_the_store_s_figures(store: Store) -> None:
    with store.client(None) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with store.client() as c:
        scraped = scrape(c)
        again = scrape(c)
    assert again == scraped  # read from the store, not counted by the scrape

    with db.connect(store.conninfo, load_config()) as conn:
        rows = conn.execute("SELECT database, kind, status, confidence, measured_gain_pct, "
                            "applied_gain_pct FROM pgarchitect.optimization_log").fetchall()
        run = conn.execute("SELECT extract(epoch FROM finished_at - started_at)::float8, "
                           "jsonb_array_length(errors) FROM pgarchitect.audit_run "
                           "WHERE id = %s", [store.audit.run_id]).fetchone()
    assert run is not None and len(rows) > 6, rows  # ours, and the audit's
    assert any(d == store.audit.target for d, *_ in rows), rows

    def action(confidence: float | None) -> str:
        return "investigate" if confidence is None else action_for(100 * confidence)

    expected = Counter((d, k, action(c), s) for d, k, s, c, _, _ in rows)
    assert values(scraped["db_architect_recommendations_total"],
                  "database", "kind", "action", "status") == expected
    assert expected[("other:5432/shop", "setting", "investigate", "proposed")] == 1

    open_confidence: dict[tuple[str, str], list[float]] = defaultdict(list)
    gains: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for d, k, s, c, measured, applied in rows:
        if s in ("proposed", "pr_open") and c is not None:
            open_confidence[(d, k)].append(100 * c)
        if s in ("proposed", "pr_open", "applied") and measured is not None:
            gains[(d, k, "sandbox")].append(measured)
        if s == "applied" and applied is not None:
            gains[(d, k, "applied")].append(applied)
    confidence = values(scraped["db_architect_confidence_score"], "database", "kind")
    assert confidence == pytest.approx({key: mean(v) for key, v in open_confidence.items()})
    assert confidence[("other:5432/shop", "rewrite")] == pytest.approx(47.5)
    assert ("other:5432/shop", "index") not in confidence  # applied and rejected only
    gain = values(scraped["db_architect_performance_gain_percent"],
                  "database", "kind", "measure")
    assert gain == pytest.approx({key: mean(v) for key, v in gains.items()})
    assert gain[("other:5432/shop", "index", "applied")] == pytest.approx(60.0)
    assert gain[("other:5432/shop", "index", "sandbox")] == pytest.approx(60.0)  # not 45

    target = (store.audit.target,)
    assert values(scraped["db_architect_slow_queries_total"], "database") == {
        target: store.audit.counts["slow_statements"]} == {target: len(STATEMENTS)}
    assert values(scraped["db_architect_audit_duration_seconds"], "database") == {
        target: pytest.approx(run[0])}
    assert values(scraped["db_architect_audit_errors"], "database") == {target: run[1]}
    assert values(scraped["db_architect_audit_runs"], "database", "status") == {
        (*target, "finished"): 1}
    assert store.audit.finished_at is not None
    assert values(scraped["db_architect_audit_last_finished_timestamp_seconds"],
                  "database") == {target: pytest.approx(store.audit.finished_at.timestamp())}

    snap = store.health
    assert values(scraped["db_architect_health_snapshot_timestamp_seconds"], "database") == {
        (snap.database,): pytest.approx(snap.taken_at.timestamp())}
    known = 0
    for name in FIGURES:
        samples = values(scraped[f"db_architect_health_{name}"], "database")
        value = snap.value(name)
        assert samples == ({} if value is None else {(snap.database,): pytest.approx(value)})
        known += value is not None
    assert known >= 10 and snap.value("connections_max") == 60  # the test server's setting


def test_health_route(store: Store) -> None:
    snap = store.health
    with store.client() as c:
        r = c.get("/admin/database/health", params={"database": snap.database})
        assert r.status_code == 200, r.text
        assert r.json() == {"ok": True, "item": json.loads(json.dumps(snap.to_json())),
                            "alerts": []}
        missing = c.get("/admin/database/health", params={"database": "nowhere:1/none"})
        assert missing.status_code == 404
        assert missing.json() == {"ok": False, "status": 404, "error": (
            "No health snapshot of 'nowhere:1/none': take one with `pgarchitect health` "
            "(databases are named host:port/dbname).")}
        assert c.get("/admin/database/health").status_code == 422
    with store.client("not-a-token") as stranger:
        assert stranger.get("/admin/database/health",
                            params={"database": snap.database}).status_code == 401


def test_an_empty_store_exports_every_metric_without_samples(db18: TestDatabase) -> None:
    with serving(load_config({"database_url": db18.conninfo})) as url, \
            httpx.Client(base_url=url, timeout=60) as c:  # loopback, no tokens: none asked
        scraped = scrape(c)
    assert "db_architect_recommendations_total" in scraped
    assert {f"db_architect_health_{name}" for name in FIGURES} <= set(scraped)
    assert all(samples == [] for samples in scraped.values()), scraped


def test_deploy_files_read_only_exported_metrics(store: Store) -> None:
    with store.client() as c:
        exported = set(scrape(c))
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "database"} <= variables
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert all('database=~"$database"' in e for e in exprs), exprs
    charted = {m for e in exprs for m in METRIC.findall(e)}
    assert charted == exported  # every metric has a panel, and every panel a metric

    rules = yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    for alert, expr in alerts.items():
        assert set(METRIC.findall(expr)) <= exported and METRIC.search(expr), (alert, expr)
    assert alerts["PgArchitectLowConfidence"] == "db_architect_confidence_score < 60"
    assert alerts["PgArchitectSlowP95"] == "db_architect_health_latency_p95_ms > 2000"
    assert alerts["PgArchitectConnectionsHigh"] == \
        "db_architect_health_connections_used_pct > 90"
    assert alerts["PgArchitectDiskHigh"] == "db_architect_health_disk_used_pct > 85"
    assert "db_architect_health_xid_wraparound_margin <" in \
        alerts["PgArchitectWraparoundMarginLow"]
