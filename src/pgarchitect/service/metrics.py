"""Prometheus metrics, read from the store at each scrape.

Nothing is counted in the process: the collector reads the knowledge base's findings
(``pgarchitect.optimization_log``), the audit runs (``pgarchitect.audit_run``) and the
newest health snapshot of each database (``pgarchitect.health_snapshot``) when
Prometheus scrapes ``/metrics``, so any number of API processes give the same
figures. Every metric is a gauge: each is a figure of the store as it is now, and
most can go down (a finding rejected, a run finished), which a counter may not.
Every series is labelled ``database`` (host:port/dbname, as the store names it).

There is no job queue yet, so no queue depth is exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pgarchitect import db
from pgarchitect.health.model import FIGURES, HealthSnapshot
from pgarchitect.proposal import ACTIONS
from pgarchitect.settings import Config
from pgarchitect.store import health as health_store

PREFIX: Final = "db_architect_"
# The text format 0.0.4, which every Prometheus reads (generate_latest writes it; its
# CONTENT_TYPE_LATEST names 1.0.0, which Prometheus before 3.0 does not ask for).
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
OPEN: Final = ["proposed", "pr_open"]  # findings still waiting for a decision or a merge
KEPT: Final = ["proposed", "pr_open", "applied"]  # not rejected, not superseded
# The actions' confidence floors (0..1), lowest first, for width_bucket: bucket i is
# ASCENDING[i]; a finding without a confidence is "investigate", as the API's
# ``action=`` filter has it.
FLOORS: Final = sorted(floor / 100 for floor, _, _ in ACTIONS if floor > 0)
ASCENDING: Final = [name for _, name, _ in reversed(ACTIONS)]

EXISTS_SQL: Final = "SELECT to_regclass(%(table)s) IS NOT NULL"
RECOMMENDATIONS_SQL: Final = """\
SELECT database, kind, status, coalesce(width_bucket(confidence, %(floors)s::float8[]), 0),
       count(*)
FROM pgarchitect.optimization_log GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""
FINDING_FIGURES_SQL: Final = """\
SELECT database, kind,
       100 * avg(confidence) FILTER (WHERE status = ANY(%(open)s)),
       avg(measured_gain_pct) FILTER (WHERE status = ANY(%(kept)s)),
       avg(applied_gain_pct) FILTER (WHERE status = 'applied')
FROM pgarchitect.optimization_log GROUP BY 1, 2 ORDER BY 1, 2"""
LATEST_FINISHED_RUN_SQL: Final = """\
SELECT DISTINCT ON (target) target, extract(epoch FROM finished_at - started_at)::float8,
       extract(epoch FROM finished_at)::float8, (counts ->> 'slow_statements')::float8
FROM pgarchitect.audit_run WHERE status = 'finished'
ORDER BY target, started_at DESC, id DESC"""
LATEST_RUN_SQL: Final = """\
SELECT DISTINCT ON (target) target, jsonb_array_length(errors)
FROM pgarchitect.audit_run ORDER BY target, started_at DESC, id DESC"""
RUNS_SQL: Final = """\
SELECT target, status, count(*) FROM pgarchitect.audit_run GROUP BY 1, 2 ORDER BY 1, 2"""
def health_metric(figure: str) -> str:
    """The metric name of a health figure (``FIGURES``), its unit kept in the name.

    >>> health_metric("latency_p95_ms")
    'db_architect_health_latency_p95_ms'
    """
    return f"{PREFIX}health_{figure}"


@dataclass
class StoreSource:
    """Where the metrics and the health route read: the knowledge base (kb_url, else
    the target) and the store (store_url, else the target).

    A connection is opened per scrape and closed after it: Prometheus scrapes every
    15 to 60 seconds, and an idle pool in every API process would hold connections
    for nothing.
    """

    config: Config

    def _urls(self) -> tuple[str, str]:
        kb = self.config.get_str("kb_url")
        store = self.config.get_str("store_url")
        target = None if kb and store else db.target_conninfo(self.config)
        return kb or target or "", store or target or ""

    @contextmanager
    def open(self) -> Iterator[tuple[psycopg.Connection[Any], psycopg.Connection[Any]]]:
        """The knowledge base's connection and the store's (one when they are one)."""
        kb_url, store_url = self._urls()
        with db.connect(kb_url, self.config) as kb:
            if store_url == kb_url:
                yield kb, kb
                return
            with db.connect(store_url, self.config) as store:
                yield kb, store

    def latest_health(self, database: str) -> HealthSnapshot | None:
        """The newest health snapshot of ``database``, None when none was stored."""
        with self.open() as (_, store):
            return health_store.latest(store, database)


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(EXISTS_SQL, {"table": table}).fetchone()
    return bool(row and row[0])


def _gauge(name: str, text: str, labels: Iterable[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, text, labels=list(labels))


def finding_metrics(conn: psycopg.Connection[Any]) -> list[Metric]:
    """The findings' counts, mean confidence and mean gains, per database and kind."""
    count = _gauge("recommendations_total", "Findings in the knowledge base, by kind, the "
                   "runbook's action for their confidence, and status.",
                   ("database", "kind", "action", "status"))
    confidence = _gauge("confidence_score", "Mean confidence (0-100) of the open findings "
                        "(proposed or in an open pull request).", ("database", "kind"))
    gain = _gauge("performance_gain_percent", "Mean gain (percent) of the findings: measured "
                  "in the sandbox (not rejected ones), or after they were applied.",
                  ("database", "kind", "measure"))
    families: list[Metric] = [count, confidence, gain]
    if not _exists(conn, "pgarchitect.optimization_log"):
        return families
    for database, kind, status, bucket, n in conn.execute(RECOMMENDATIONS_SQL,
                                                          {"floors": FLOORS}):
        count.add_metric([database, kind, ASCENDING[bucket], status], float(n))
    for database, kind, mean_confidence, sandbox, applied in conn.execute(
            FINDING_FIGURES_SQL, {"open": OPEN, "kept": KEPT}):
        if mean_confidence is not None:
            confidence.add_metric([database, kind], float(mean_confidence))
        for measure, value in (("sandbox", sandbox), ("applied", applied)):
            if value is not None:
                gain.add_metric([database, kind, measure], float(value))
    return families


def audit_metrics(conn: psycopg.Connection[Any]) -> list[Metric]:
    """The audit runs: the latest finished one's figures, errors, runs by status."""
    slow = _gauge("slow_queries_total", "Slow statements the latest finished audit "
                  "examined.", ("database",))
    duration = _gauge("audit_duration_seconds", "How long the latest finished audit took.",
                      ("database",))
    finished = _gauge("audit_last_finished_timestamp_seconds", "When the latest finished "
                      "audit ended (Unix time).", ("database",))
    errors = _gauge("audit_errors", "Errors recorded by the latest audit run, finished or "
                    "not.", ("database",))
    runs = _gauge("audit_runs", "Audit runs in the store, by status (running, finished, "
                  "failed).", ("database", "status"))
    families: list[Metric] = [slow, duration, finished, errors, runs]
    if not _exists(conn, "pgarchitect.audit_run"):
        return families
    for target, seconds, ended, slow_statements in conn.execute(LATEST_FINISHED_RUN_SQL):
        duration.add_metric([target], seconds)
        finished.add_metric([target], ended)
        if slow_statements is not None:
            slow.add_metric([target], slow_statements)
    for target, n in conn.execute(LATEST_RUN_SQL):
        errors.add_metric([target], float(n))
    for target, status, n in conn.execute(RUNS_SQL):
        runs.add_metric([target, status], float(n))
    return families


def health_metrics(conn: psycopg.Connection[Any]) -> list[Metric]:
    """Each figure of ``FIGURES`` from the newest snapshot of each database; a figure
    that snapshot does not know has no sample."""
    taken = _gauge("health_snapshot_timestamp_seconds", "When the newest health snapshot "
                   "was taken (Unix time).", ("database",))
    figures = {name: GaugeMetricFamily(health_metric(name), f"{text} ({unit})",
                                       labels=["database"])
               for name, (unit, text) in FIGURES.items()}
    families: list[Metric] = [taken, *figures.values()]
    for snap in health_store.latest_each(conn):
        taken.add_metric([snap.database], snap.taken_at.timestamp())
        for name, family in figures.items():
            value = snap.value(name)
            if value is not None:
                family.add_metric([snap.database], float(value))
    return families


class StoreCollector(Collector):
    """A prometheus_client collector that reads the store at each scrape."""

    def __init__(self, source: StoreSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        with self.source.open() as (kb, store):
            yield from finding_metrics(kb)
            yield from audit_metrics(store)
            yield from health_metrics(store)


def registry_for(source: StoreSource) -> CollectorRegistry:
    """A registry holding only the store's collector (no process metrics: they would
    differ between API processes). auto_describe stays off, so registering it reads
    nothing."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(source))
    return registry


def scrape(registry: CollectorRegistry) -> bytes:
    """The metrics in Prometheus's text format 0.0.4 (``CONTENT_TYPE``)."""
    return generate_latest(registry)
