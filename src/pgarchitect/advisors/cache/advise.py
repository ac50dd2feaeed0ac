"""The cache advisor: results kept instead of computed again, in the application or in
the database.

Rules (``rules/``, one per module):

- ``preaggregate``: a per-day aggregate over a large append-mostly table, over a
  range relative to now → a materialized view of the complete hours, its unique
  index (for ``REFRESH … CONCURRENTLY``), an hourly refresh, and the statement
  rewritten to read the view and only the rest from the table. Proposed only when
  both statements return the same rows on the real data with the view built inside
  a rolled-back transaction; measured like a rewrite, with the view built in the
  measured transaction.
- ``app_cache``: a frequent, small read of tables that rarely change → a cache in the
  application, with a TTL from the write rate, its invalidation and the database time
  it saves. Modelled, not measured: judged by the confidence of its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pglast
import psycopg
from pglast import ast

from pgarchitect.advisors.base import Context, Draft, Outcome, Proposals, Subject
from pgarchitect.advisors.cache.model import CacheDetail, Modelled, PreaggregateDetail, Skip
from pgarchitect.advisors.cache.replay import CacheChecker
from pgarchitect.advisors.cache.rules import app_cache, preaggregate
from pgarchitect.advisors.rewrite.verify import DEFAULT_TIMEOUT_MS, Equivalence, verify
from pgarchitect.confidence import interpolate, measured_factors, score
from pgarchitect.measure import RewriteTrial, StatementInput
from pgarchitect.plans import Plan
from pgarchitect.proposal import Factor, Measurement, Proposal
from pgarchitect.report import short
from pgarchitect.workload.repair import repair

TIME_ZONE_SQL: Final = "SELECT current_setting('TimeZone')"
# Volatile functions among those a statement calls (any overload of the name counts).
VOLATILE_SQL: Final = """
SELECT DISTINCT p.proname FROM pg_proc p
WHERE p.proname = ANY(%s) AND p.provolatile = 'v'
ORDER BY 1"""
TABLE_KINDS: Final = ("table", "partitioned table", "partition", "materialized view")

# Confidence of a modelled cache: it never reaches a pull request on its own.
MODELLED: Final = 0.78
ASSUMED: Final = 0.85  # the share of calls served was guessed, not read from bind values
WINDOW_POINTS: Final = ((1.0, 0.85), (7.0, 1.0))  # days the counters cover
SAVED_POINTS: Final = ((10.0, 0.8), (600.0, 1.0))  # database seconds saved per day
REFRESHED: Final = 0.95  # the view is as fresh as its last refresh
SCHEDULE: Final = ("every hour, a few minutes past the hour ({zone}): REFRESH MATERIALIZED "
                   "VIEW CONCURRENTLY lets readers go on; between refreshes the rewritten "
                   "statement reads the hours since the view's last one from the table, so a "
                   "late refresh costs time, not correctness")


@dataclass(frozen=True)
class ViewTrial(RewriteTrial):
    """The view and its unique index built in the measured transaction; the statement
    replaced by its rewrite over the view."""

    ddl: tuple[str, ...] = ()
    view: str = ""
    refused: str | None = None

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        return self.refused

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        for statement in self.ddl:
            conn.execute(statement)  # composed with psycopg.sql by the rule

    def used(self, plan: Plan) -> bool:
        return any((n.relation or "").rsplit(".", 1)[-1] == self.view for n in plan.nodes())


def _called(query: str) -> set[str]:
    """The functions a statement calls, by name (time values such as CURRENT_TIMESTAMP
    by theirs)."""
    try:
        tree = pglast.parse_sql(repair(query))
    except pglast.parser.ParseError:
        return set()
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ast.FuncCall):
            names.add([n.sval for n in node.funcname or () if isinstance(n, ast.String)][-1]
                      or "")
        elif isinstance(node, ast.SQLValueFunction) and node.op is not None:
            names.add(node.op.name.removeprefix("SVFOP_").removesuffix("_N").lower())
        if isinstance(node, ast.Node):
            for name in node:
                value = getattr(node, name)
                for item in value if isinstance(value, tuple) else (value,):
                    walk(item)

    for raw in tree:
        walk(raw.stmt)
    return names


def _limits(ctx: Context) -> app_cache.Limits:
    c = ctx.config
    return app_cache.Limits(c.get_float("cache_min_calls_per_day"), c.get_float("cache_max_rows"),
                            c.get_float("cache_max_writes_per_hour"), c.get_int("cache_min_ttl_s"),
                            c.get_int("cache_max_ttl_s"))


class CacheAdvisor:
    """Application caches and pre-aggregated views, for statements that read the same
    rows again and again."""

    name = "cache"
    kind = "cache"

    def __init__(self, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.timeout_ms = timeout_ms  # per run of the result check

    def checker(self, ctx: Context) -> CacheChecker:
        return CacheChecker(ctx)

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        row = ctx.conn.execute(TIME_ZONE_SQL).fetchone()
        zone = str(row[0]) if row else "UTC"
        views: dict[str, list[tuple[Subject, preaggregate.Preaggregate, Equivalence]]] = {}
        drafts: list[Draft] = []
        outcomes: dict[str, Outcome] = {}
        for subject in subjects:
            pre = self._preaggregate(ctx, subject, zone)
            if not isinstance(pre, Skip):
                views.setdefault(pre[0].create, []).append((subject, *pre))
                outcomes[subject.query] = Outcome(subject.query)
                continue
            cached = self._app_cache(ctx, subject)
            if isinstance(cached, Skip):
                first = pre if pre.code != "no_candidate" else cached
                reason = "; ".join(dict.fromkeys([cached.reason, f"no pre-aggregation: "
                                                                 f"{pre.reason}"]))
                outcomes[subject.query] = Outcome(subject.query, reason=f"No cache: {reason}",
                                                  code=first.code)
                continue
            drafts.append(self._cache_draft(ctx, subject, cached))
            outcomes[subject.query] = Outcome(subject.query)
        drafts[:0] = [self._view_draft(ctx, found, zone) for found in views.values()]
        notes = ["Caches are modelled from the statements' calls and their tables' writes, "
                 "not measured; materialized views are proposed only when the rewritten "
                 "statement returns the same rows, then measured."]
        return Proposals(self.name, drafts, outcomes, notes,
                         {"rules": [preaggregate.NAME, app_cache.NAME], "time_zone": zone,
                          "limits": _limits(ctx)})

    # -- pre-aggregation ---------------------------------------------------------------

    def _preaggregate(self, ctx: Context, subject: Subject, zone: str
                      ) -> tuple[preaggregate.Preaggregate, Equivalence] | Skip:
        a = subject.analysis
        if a.error or a.kind != "select":
            return Skip("only a SELECT is pre-aggregated", "no_candidate")
        pre = preaggregate.plan(subject.query, ctx.catalog, zone,
                                ctx.config.get_int("preaggregate_min_rows"))
        if isinstance(pre, Skip):
            return pre
        if (refused := self._too_large(ctx, pre.shape)) is not None:
            return Skip(refused, "too_large")
        s = subject.statement
        try:
            with ctx.conn.transaction(force_rollback=True):
                for statement in pre.ddl:
                    ctx.conn.execute(statement)
                checked = verify(ctx.conn, s.query, pre.rewritten, a.params, s.params,
                                 sets=ctx.config.get_int("measure_sets"),
                                 timeout_ms=self.timeout_ms)
        except psycopg.errors.QueryCanceled:
            return Skip("building the view ran past statement_timeout", "timeout")
        except psycopg.errors.LockNotAvailable:
            return Skip("the table was locked by another session (lock_timeout)", "locked")
        except psycopg.errors.InsufficientPrivilege:
            return Skip("the role may not create the view: run as a role that may create "
                        f"in schema {pre.shape.schema}", "no_privilege")
        except psycopg.errors.DuplicateTable:
            return Skip(f"a relation named {pre.shape.schema}.{pre.shape.view} exists already: "
                        "if it is this view, rewrite the statement over it", "covered")
        except psycopg.Error as exc:
            message = exc.diag.message_primary or str(exc).splitlines()[0]
            return Skip(f"the view could not be built here: {message}", "not_plannable")
        if not checked.same:
            return Skip(f"the rewrite over the view: {checked.summary()}",
                        checked.code or "not_equivalent")
        return pre, checked

    @staticmethod
    def _too_large(ctx: Context, shape: preaggregate.Shape) -> str | None:
        limit = ctx.config.get_int("sandbox_max_table_mb") * 2**20
        info = ctx.catalog.tables([(shape.schema, shape.table)]).get((shape.schema, shape.table))
        if ctx.allow_large or info is None or info.heap_bytes <= limit:
            return None
        return (f"{shape.qualified} is {info.heap_bytes / 2**20:,.0f} MB, over "
                f"sandbox_max_table_mb: the view was not built to check it (pass allow_large "
                "to build it in a rolled-back transaction)")

    def _view_draft(self, ctx: Context, found: Sequence[tuple[Subject, preaggregate.Preaggregate,
                                                              Equivalence]],
                    zone: str) -> Draft:
        pre = found[0][1]
        shape = pre.shape
        rewritten = {subject.query: p.rewritten for subject, p, _ in found}
        inputs = []
        for subject, _, _ in found:
            s = subject.statement
            counted = s.calls > 0 and s.total_ms > 0
            inputs.append(StatementInput(s.query, subject.analysis.params, s.params,
                                         s.total_ms if counted else 1.0,
                                         s.mean_ms if counted else None,
                                         s.hit_ratio if counted else None))
        weights = {i.query: i.weight for i in inputs}
        schedule = SCHEDULE.format(zone=zone)
        view = f"{shape.schema}.{shape.view}"
        forward = (f"{pre.create};\n{pre.index};\n-- refresh {schedule.split(':')[0]}:\n"
                   f"-- {pre.refresh};")
        checks = [c.summary() for _, _, c in found]
        problem = (f"Each call aggregates every row of {shape.qualified} in its range again, "
                   "though only the latest rows change")
        trial = ViewTrial(rewritten, pre.ddl, shape.view, self._too_large(ctx, shape))

        def finish(measurements: list[Measurement]) -> Proposal:
            est, meas, factors, flags = measured_factors(measurements, weights,
                                                         change="materialized view")
            factors.append(Factor("same rows", 1.0, "; ".join(checks)))
            factors.append(Factor("refresh", REFRESHED, "rows written late for hours the view "
                                  "holds (or updated, deleted) count only after its next "
                                  "refresh"))
            gain = meas if meas is not None else est
            shown = f"{gain:.0%}" if gain is not None else "an unknown share"
            return Proposal(
                kind="cache", title=f"materialized view {view}: hourly aggregates of "
                                    f"{shape.qualified}",
                advisor=self.name, objects=(shape.qualified, view), forward=forward,
                rollback=f"{pre.drop};  -- and revert the statement to its original text",
                statements=measurements, new_statement="\n\n".join(rewritten.values()),
                problem=problem,
                reasoning=(f"{problem}. The view keeps one row per hour"
                           f"{''.join(f' and {k}' for k in shape.keys)} of the hours before "
                           f"the current one ({zone}); the rewritten statement reads those "
                           "hours from it and the partial first hour, and the hours after the "
                           "view's last one, from the table, and groups again. It returns "
                           f"the same rows ({'; '.join(checks)}) and is {shown} faster. "
                           f"Refresh {schedule}. Units of an hour or more (hour, day, week, "
                           "month, year) are covered; a unit under an hour (minute, second) "
                           "is not: keep the original statement for those. Undo: drop the "
                           "view and revert the statement."),
                evidence=[*checks, f"unique index for REFRESH … CONCURRENTLY: {pre.index}",
                          f"refresh: {pre.refresh}"],
                estimated_gain=est, measured_gain=meas, confidence=score(factors),
                factors=factors, flags=flags,
                detail=PreaggregateDetail(preaggregate.NAME, view, shape.qualified,
                                          (preaggregate.GRAIN, *shape.keys), pre.refresh,
                                          schedule,
                                          found[0][2].to_json()))

        return Draft(f"cache:{pre.create}", trial, inputs, {}, finish)

    # -- application cache -------------------------------------------------------------

    def _app_cache(self, ctx: Context, subject: Subject) -> app_cache.Cache | Skip:
        a = subject.analysis
        called = _called(subject.query)
        volatile = sorted(called & app_cache.TIME_FUNCTIONS)
        others = sorted(called - app_cache.TIME_FUNCTIONS)
        if others:
            volatile += [r[0] for r in ctx.conn.execute(VOLATILE_SQL, [others]).fetchall()]
        if any(r.kind == "unknown" for r in a.relations):
            return Skip("a relation it names is not in the database", "no_table")
        keys = [(r.schema, r.name) for r in a.relations if r.kind in TABLE_KINDS]
        tables = ctx.catalog.tables(keys)
        writes = {t.qualified: t.inserts + t.updates + t.deletes for t in tables.values()}
        counters = ctx.catalog.counters_seconds
        window = ctx.since_seconds if ctx.since_seconds else counters
        return app_cache.assess(subject.statement, a, writes, window, counters, _limits(ctx),
                                sorted(volatile))

    def _cache_draft(self, ctx: Context, subject: Subject, cache: app_cache.Cache) -> Draft:
        s = subject.statement
        fingerprint = s.fingerprint or format(abs(hash(s.query)), "x")
        forward = cache.forward(s.query, fingerprint)
        days = min(ctx.since_seconds or ctx.catalog.counters_seconds,
                   ctx.catalog.counters_seconds) / app_cache.SECONDS_PER_DAY
        writes = ", ".join(f"{t} {h:g} rows written an hour" for t, h in
                           cache.writes_per_hour.items())
        evidence = [f"{cache.calls_per_day:,.0f} calls a day, {cache.rows_per_call:g} rows per "
                    f"call, {s.mean_ms:.2f} ms each", writes,
                    f"TTL {cache.ttl_s} s: half the mean time between writes, within "
                    "cache_min_ttl_s and cache_max_ttl_s",
                    f"served from the cache: {cache.share:.0%} ({cache.basis})",
                    f"database time saved: {cache.saved_s_per_day:,.1f} s a day "
                    "(calls a day, times the mean time, times the share served)"]
        assumed = cache.basis.startswith("no bind values")

        def finish(measurements: list[Measurement]) -> Proposal:
            factors = [
                Factor("modelled, not measured", MODELLED, "a call served from the "
                       "application's memory cannot be timed in the database"),
                Factor("statistics window", interpolate(days, WINDOW_POINTS),
                       f"calls and writes counted for {days:.2f} days"),
                Factor("share served", ASSUMED if assumed else 1.0, cache.basis),
                Factor("time saved", interpolate(cache.saved_s_per_day, SAVED_POINTS),
                       f"{cache.saved_s_per_day:,.1f} s of database time a day")]
            return Proposal(
                kind="cache", title=f"application cache (TTL {cache.ttl_s} s): "
                                    f"{short(s.query, 60)}",
                advisor=self.name, objects=tuple(cache.writes_per_hour), forward=forward,
                rollback="Remove the cache: the application runs the statement again on "
                         "every call; nothing in the database changes.",
                statements=[Measurement(s.query, estimated_gain=cache.share, reason=(
                    "modelled from the counters: a call served from the application's "
                    "memory cannot be timed in the database"))],
                problem=(f"The same small result is read {cache.calls_per_day:,.0f}"
                                        " times a day from tables that rarely change"),
                reasoning=(f"Called {cache.calls_per_day:,.0f} times a day for "
                           f"{cache.rows_per_call:g} rows, over tables written rarely "
                           f"({writes}): a cache with a TTL of {cache.ttl_s} s, dropped on "
                           f"every write to {', '.join(cache.writes_per_hour)}, would serve "
                           f"about {cache.share:.0%} of the calls and save "
                           f"{cache.saved_s_per_day:,.1f} s of database time a day. The gain "
                           "is modelled, not measured."),
                evidence=evidence, estimated_gain=cache.share, measured_gain=None,
                confidence=score(factors), factors=factors, flags=[],
                detail=CacheDetail(app_cache.NAME, cache.ttl_s, cache.calls_per_day,
                                   cache.rows_per_call, dict(cache.writes_per_hour),
                                   cache.share, cache.basis, cache.saved_s_per_day))

        return Draft(f"cache:{app_cache.NAME}:{s.query}", Modelled(), [], {}, finish,
                     about=(s.query,))


__all__ = ["CacheAdvisor", "ViewTrial"]
