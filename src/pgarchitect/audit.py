"""The audit: the team's seven steps for one database, recorded, locked and resumable.

:func:`run` is what ``pgarchitect audit``, the demo, and later the API, the job
workers and the MCP server call:

1. **workload**: the slow statements of the window (snapshot deltas when snapshots
   exist, else the cumulative counters of pg_stat_statements);
2. **knowledge**: statements the knowledge base has solved are skipped and cited;
3. **explain**: what each statement does, in plain words;
4. **propose**: every advisor of :data:`pgarchitect.advisors.ADVISORS` proposes;
5. **measure**: each proposal measured before and after, in a rolled-back
   transaction; under ``min_gain_pct`` it is kept as rejected;
6. **remember**: every proposal stored in the knowledge base, rejected ones too;
7. **classify**: each gets the action of the team's confidence table.

Each run is a row of ``pgarchitect.audit_run`` in the store, with its workload frozen
at the start. Each proposal is stored as soon as it is measured, each statement as
soon as everything that helps it is, so a run killed halfway (a killed process, a
lost connection) is continued by the next audit of the same database from where it
stopped, and nothing it had measured is measured again. A session-level advisory
lock per database keeps two audits of it apart.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pgarchitect import db, store
from pgarchitect.advisors import ADVISORS, checkers
from pgarchitect.advisors.base import Advisor, Context, Draft, Outcome, Proposals, Subject
from pgarchitect.analysis import Analysis, analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.errors import AuditBusy, PgArchitectError, first_line
from pgarchitect.explain import explain
from pgarchitect.knowledge.audit import (
    Known,
    Lookup,
    Session,
    findings_of,
    known_cases,
    remember,
)
from pgarchitect.knowledge.audit import session as knowledge_session
from pgarchitect.plans import NoPlan, generic_plan
from pgarchitect.proposal import REJECTED, Factor, Measurement, Proposal
from pgarchitect.report import short
from pgarchitect.settings import Config
from pgarchitect.workload import Skipped, Statement, Workload
from pgarchitect.workload.collect import Request, collect, parse_window
from pgarchitect.workload.snapshots import target_of

STEPS = ("workload", "knowledge", "explain", "propose", "measure", "remember", "classify")

# pg_try_advisory_lock(int, int): this class number, and the hash of the target.
AUDIT_LOCK_CLASS = 0x70676172  # "pgar"

# Who holds the audit lock of a target: the session and what it is doing.
LOCK_HOLDER_SQL = """
SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start, a.usename
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.classid = %s::oid AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid
  AND l.objsubid = 2
"""

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AuditRequest:
    """What to audit and how."""

    workload: Request = field(default_factory=Request)
    verify: bool = True
    runs: int = 3
    allow_writes: bool = False
    allow_large: bool = False
    whatif: str | None = None
    budget: str | None = None
    knowledge: bool = True
    resume: bool = True  # continue an unfinished run of the same database


@dataclass
class StatementResult:
    """One slow statement after the audit: what it is, what was found, what to do."""

    position: int
    statement: Statement
    explanation: dict[str, Any] | None = None  # Explanation.to_json()
    known: dict[str, Any] | None = None  # the earlier finding that solved it
    kb: dict[str, Any] | None = None  # the earlier cases replayed on it, and an outcome
    proposals: list[str] = field(default_factory=list)  # keys of the proposals that help it
    outcome: Outcome | None = None  # cost before/after, and why nothing, per the advisors
    resumed: bool = False  # finished by an earlier process of the same run

    def action(self, proposals: dict[str, Proposal]) -> str:
        """What to do about it: its best proposal's action, ``rejected`` when all were,
        ``none`` without any, ``solved``/``rejected_before`` when the knowledge base
        answered it."""
        if self.known:
            return _known_action(self.known)
        helping = [proposals[k] for k in self.proposals if k in proposals]
        proposed = [p for p in helping if not p.rejected]
        best = max(proposed, key=lambda p: p.confidence, default=None)
        return best.action if best else REJECTED if helping else "none"

    def speedup(self, proposals: dict[str, Proposal]) -> float | None:
        """How many times faster the best proposal that helps it made it, measured
        (median before over median after); None when none was measured on it. A change
        made for growth rather than speed (partitioning) does not count."""
        found = []
        for p in (proposals[k] for k in self.proposals if k in proposals):
            for m in p.statements if p.speed_claim and not p.rejected else ():
                before, after = m.median_before, m.median_after
                if m.query == self.statement.query and before and after:
                    found.append(before / after)
        return max(found, default=None)

    def to_json(self, proposals: dict[str, Proposal]) -> dict[str, Any]:
        action = self.action(proposals)
        with_reason = action in ("none", REJECTED)
        o = self.outcome
        return {
            "position": self.position, "query": self.statement.query,
            "calls": self.statement.calls, "total_ms": self.statement.total_ms,
            "mean_ms": self.statement.mean_ms, "hit_ratio": self.statement.hit_ratio,
            "explanation": self.explanation,
            "known": self.known, "kb": self.kb, "proposals": list(self.proposals),
            "action": action, "speedup": self.speedup(proposals),
            "cost_before": o.cost_before if o else None,
            "cost_after": o.cost_after if o else None,
            "reason": o.reason if o and with_reason else None,
            "reason_code": o.code if o and with_reason else None,
            "resumed": self.resumed,
        }


def _known_action(known: dict[str, Any]) -> str:
    """A statement the knowledge base answered: solved, or its fix tried and rejected."""
    return "rejected_before" if known.get("status") == "rejected" else "solved"


@dataclass
class AuditResult:
    """The audit of one database."""

    run_id: int
    target: str
    source: str
    window: str | None
    started_at: datetime
    finished_at: datetime | None
    statements: list[StatementResult]
    proposals: dict[str, Proposal]  # key -> proposal, in the order measured
    skipped: list[Skipped]
    settings: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per step, this process
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    resumed: bool = False
    remembered: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id, "target": self.target, "source": self.source,
            "window": self.window, "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "resumed": self.resumed, "settings": self.settings, "counts": self.counts,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "statements": [s.to_json(self.proposals) for s in self.statements],
            "proposals": [{"key": k, **p.to_json()} for k, p in self.proposals.items()],
            "skipped": [{"query": s.query, "reason": s.reason, "code": s.code}
                        for s in self.skipped],
            "notes": self.notes, "errors": self.errors, "remembered": self.remembered,
        }


# -- the store's records --------------------------------------------------------------


def _statement_of(doc: dict[str, Any]) -> Statement:
    doc = dict(doc)
    doc["params"] = tuple(tuple(p) for p in doc.get("params") or ())
    return Statement(**doc)


def _proposal_of(doc: dict[str, Any]) -> Proposal:
    """A stored proposal, as the report needs it (its kind-specific detail as JSON)."""
    return Proposal(
        kind=doc["kind"], title=doc["title"], objects=tuple(doc["objects"]),
        forward=doc["forward"], rollback=doc["rollback"],
        statements=[Measurement.from_json(m) for m in doc["statements"]],
        reasoning=doc["reasoning"], advisor=doc.get("advisor", ""),
        problem=doc.get("problem", ""), evidence=list(doc.get("evidence") or ()),
        new_statement=doc.get("new_statement"), estimated_gain=doc.get("estimated_gain"),
        measured_gain=doc.get("measured_gain"), confidence=doc["confidence"],
        factors=[Factor(f["name"], f["value"], f["detail"]) for f in doc["factors"]],
        flags=list(doc.get("flags") or ()), rejected=doc.get("rejected"),
        detail=_JsonDetail(doc["detail"]) if doc.get("detail") else None,
        speed_claim=doc.get("speed_claim", True),
    )


@dataclass(frozen=True)
class _JsonDetail:
    """A stored proposal's detail, kept as it was written."""

    doc: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.doc

    @property
    def size_bytes(self) -> int | None:
        value = self.doc.get("size_bytes")
        return int(value) if value is not None else None


@dataclass
class _Run:
    """A run's row and what its earlier processes finished."""

    id: int
    started_at: datetime
    source: str
    window: str | None
    workload: Workload
    resumed: bool
    done: dict[int, dict[str, Any]]  # position -> stored statement result
    measured: dict[str, dict[str, Any]]  # key -> stored proposal


@contextmanager
def _locked(store_conn: psycopg.Connection[Any], target: str) -> Iterator[None]:
    """Hold the audit lock of ``target`` (session level: a killed process frees it)."""
    key = [AUDIT_LOCK_CLASS, target]
    row = store_conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()
    if not (row and row[0]):
        raise AuditBusy(_busy_message(store_conn, target))
    try:
        yield
    finally:
        if not store_conn.closed and not store_conn.broken:
            store_conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)


def _busy_message(store_conn: psycopg.Connection[Any], target: str) -> str:
    holder = store_conn.execute(LOCK_HOLDER_SQL, [AUDIT_LOCK_CLASS, target]).fetchone()
    run = None
    if store.current_version(store_conn) >= 3:
        run = store_conn.execute(
            "SELECT id, started_at, pid, host FROM pgarchitect.audit_run "
            "WHERE target = %s AND status = 'running' ORDER BY id DESC LIMIT 1",
            [target]).fetchone()
    who = []
    if run is not None:
        who.append(f"run {run[0]}, started {run[1]:%Y-%m-%d %H:%M:%S %Z}, process {run[2]} on "
                   f"{run[3]}")
    if holder is not None:
        who.append(f"session pid {holder[0]} ({holder[1] or 'no application name'}, role "
                   f"{holder[4]}, from {holder[2] or 'a local socket'})")
    return (f"Another audit of {target} is running ({'; '.join(who) or 'holder unknown'}). "
            "Wait for it to finish and run again; if that process is stuck, end its session "
            "(SELECT pg_terminate_backend(pid)) and the next audit continues its run.")


def _open_run(store_conn: psycopg.Connection[Any], target: str, config: Config,
              request: AuditRequest, collect_workload: Callable[[], tuple[str, Workload]],
              window: str | None) -> _Run:
    """The unfinished run of ``target`` to continue, or a new one with its workload."""
    if request.resume:
        row = store_conn.execute(
            "SELECT id, started_at, source, window_text, workload FROM pgarchitect.audit_run "
            "WHERE target = %s AND status = 'running' ORDER BY id DESC LIMIT 1",
            [target]).fetchone()
        if row is not None:
            run_id = int(row[0])
            store_conn.execute(
                "UPDATE pgarchitect.audit_run SET resumed_at = now(), resumes = resumes + 1, "
                "pid = %s, host = %s WHERE id = %s", [os.getpid(), socket.gethostname(), run_id])
            frozen = row[4]
            workload = Workload([_statement_of(s) for s in frozen["statements"]],
                                [Skipped(**s) for s in frozen["skipped"]], frozen["notes"],
                                frozen.get("window_seconds"))
            done = {int(r[0]): r[1] for r in store_conn.execute(
                "SELECT position, result FROM pgarchitect.audit_statement WHERE run_id = %s",
                [run_id])}
            measured = {str(r[0]): r[1] for r in store_conn.execute(
                "SELECT key, proposal FROM pgarchitect.audit_proposal WHERE run_id = %s",
                [run_id])}
            return _Run(run_id, row[1], row[2], row[3], workload, True, done, measured)
    # Runs left unfinished are abandoned when the user asked for a fresh one.
    store_conn.execute("UPDATE pgarchitect.audit_run SET status = 'failed', finished_at = now(),"
                       " errors = errors || '[\"abandoned: a new run was started\"]'::jsonb "
                       "WHERE target = %s AND status = 'running'", [target])
    source, workload = collect_workload()
    frozen = {"statements": [asdict(s) for s in workload.statements],
              "skipped": [{"query": s.query, "reason": s.reason, "code": s.code}
                          for s in workload.skipped],
              "notes": workload.notes, "window_seconds": workload.window_seconds}
    row = store_conn.execute(
        "INSERT INTO pgarchitect.audit_run (target, pid, host, source, window_text, settings, "
        "workload) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, started_at",
        [target, os.getpid(), socket.gethostname(), source, window,
         Jsonb(config.masked()), Jsonb(frozen)]).fetchone()
    assert row is not None
    return _Run(int(row[0]), row[1], source, window, workload, False, {}, {})


# -- the steps ------------------------------------------------------------------------


class _Steps:
    """Timings and counts per step, and the progress callback."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = dict.fromkeys(STEPS, 0.0)
        self.counts: dict[str, int] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def tick(self, name: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(name, done, total)


def _known_json(k: Known) -> dict[str, Any]:
    f = k.case.finding
    return {"finding": f.id, "score": round(k.case.score, 4), "citation": k.answer.citation(),
            "checked": k.answer.check.checked, "reasons": list(k.case.reasons),
            "kind": f.kind, "status": f.status, "measured_gain_pct": f.measured_gain_pct}


def _lookup_json(lookup: Lookup) -> dict[str, Any] | None:
    if not lookup.checked:
        return None
    return {"checked": [c.to_json() for c in lookup.checked], "outcome": lookup.outcome}


def _explain(conn: psycopg.Connection[Any], catalog: DatabaseCatalog, s: Statement,
             analysis: Analysis) -> dict[str, Any]:
    plan = generic_plan(conn, s.query) if not analysis.error else None
    return explain(s.query, analysis, comments=catalog.comments,
                   plan=None if isinstance(plan, NoPlan) else plan, statement=s).to_json()


def _rejection(p: Proposal, min_gain_pct: float) -> str | None:
    """Why a measured proposal is not proposed (runbook step 5: only above 20% gain).

    A change to the schema that no statement is measured with (dropping an unused
    index, rebuilding an invalid one) has no gain to hold against the threshold: its
    confidence, from its evidence, decides its action alone. A change made for growth
    rather than speed (partitioning) is rejected only when it slows its statements by
    min_gain_pct or more.
    """
    if not p.statements:
        return None
    gain = p.measured_gain if p.measured_gain is not None else p.estimated_gain
    label = "measured" if p.measured_gain is not None else "estimated"
    if not p.speed_claim:  # growth or upkeep: it must not slow its statements
        if gain is not None and gain * 100 <= -min_gain_pct:
            return (f"{label} {-gain:.0%} slower: made for growth, not speed, it must not "
                    f"slow its statements by min_gain_pct {min_gain_pct:g}% or more")
        return None
    if gain is None:
        return "no gain could be measured or estimated"
    if gain * 100 < min_gain_pct:
        return f"{label} gain {gain:.0%} is below min_gain_pct {min_gain_pct:g}%"
    return None


def run(config: Config, request: AuditRequest, *,
        progress: ProgressFn | None = None) -> AuditResult:
    """Audit one database: the seven steps, recorded in the store; nothing is changed."""
    conninfo = db.target_conninfo(config, request.workload.dsn)
    with db.connect(conninfo, config) as conn:
        store_url = config.get_str("store_url")
        store_conn = db.connect(store_url, config) if store_url else conn
        try:
            store.migrate(store_conn)
            target = target_of(conn)
            with _locked(store_conn, target):
                try:
                    return _audit(conn, store_conn, target, config, request, progress)
                except (PgArchitectError, psycopg.Error) as exc:
                    _record_error(store_conn, target, exc)
                    raise
        finally:
            if store_conn is not conn:
                store_conn.close()


def _record_error(store_conn: psycopg.Connection[Any], target: str,
                  exc: BaseException) -> None:
    """Note why the run stopped on its record (it stays ``running``: the next audit
    continues it). When the store itself is gone there is nothing to write to."""
    with suppress(psycopg.Error):
        store_conn.execute(
            "UPDATE pgarchitect.audit_run SET errors = errors || %s WHERE target = %s "
            "AND status = 'running'", [Jsonb([f"stopped: {first_line(exc)}"]), target])


def _window(config: Config, request: AuditRequest) -> timedelta | None:
    w = request.workload
    if w.statements or w.file or w.log:
        return None
    return w.since or parse_window(config.get_str("audit_window") or "7d")


def _audit(conn: psycopg.Connection[Any], store_conn: psycopg.Connection[Any], target: str,
           config: Config, request: AuditRequest, progress: ProgressFn | None) -> AuditResult:
    steps = _Steps(progress)
    since = _window(config, request)
    wanted = replace(request.workload, since=since)

    def read_workload() -> tuple[str, Workload]:
        with steps.step("workload"):
            return collect(config, wanted, conn)

    run_ = _open_run(store_conn, target, config, request, read_workload,
                     f"{since}" if since else None)
    workload = run_.workload
    result = AuditResult(run_.id, target, run_.source, run_.window, run_.started_at, None,
                         [], {}, workload.skipped, config.masked(), resumed=run_.resumed)
    result.notes.extend(workload.notes)
    if run_.resumed:
        result.notes.append(
            f"Continued run {run_.id} (started {run_.started_at:%Y-%m-%d %H:%M:%S %Z}): "
            f"{len(run_.done)} statements and {len(run_.measured)} proposals were finished "
            "before it stopped.")
    for key, doc in run_.measured.items():
        result.proposals[key] = _proposal_of(doc)
    catalog = DatabaseCatalog(conn)
    statements = workload.statements
    results = [StatementResult(i, s) for i, s in enumerate(statements)]
    result.statements = results
    todo = [r for r in results if r.position not in run_.done]
    for r in results:
        if r.position in run_.done:
            _restore(r, run_.done[r.position])
    min_gain = config.get_float("min_gain_pct")

    ctx = Context(conn, config, catalog, verify=request.verify, runs=request.runs,
                  allow_writes=request.allow_writes, allow_large=request.allow_large,
                  whatif=request.whatif, budget=request.budget,
                  since_seconds=workload.window_seconds)
    kb_ctx = knowledge_session(config, conn) if request.knowledge else None
    with kb_ctx if kb_ctx is not None else _none() as kb:
        analyses = {r.position: analyze(r.statement.query, catalog.relations) for r in todo}
        # 2. the knowledge base: earlier fixes replayed on each statement
        with steps.step("knowledge"):
            if kb is not None and todo:
                with checkers(ctx, ADVISORS) as replay:
                    lookups = known_cases(kb, [r.statement for r in todo],
                                          [analyses[r.position] for r in todo], replay,
                                          limit=config.get_int("kb_candidates"))
                for r, lookup in zip(todo, lookups, strict=True):
                    r.kb = _lookup_json(lookup)
                    if (k := lookup.known) is not None:
                        r.known = _known_json(k)
        # 3. explanations
        with steps.step("explain"):
            for n, r in enumerate(todo, 1):
                r.explanation = _explain(conn, catalog, r.statement, analyses[r.position])
                steps.tick("explain", n, len(todo))
        for r in todo:
            if r.known is not None:
                _finish_statement(store_conn, run_.id, r, result.proposals)
        open_ = [r for r in todo if r.known is None]
        # 4. proposals, every advisor in turn
        subjects = [Subject(r.statement, analyses[r.position]) for r in open_]
        drafts: list[Draft] = []
        for advisor in ADVISORS:
            with steps.step("propose"):
                proposed = _propose(advisor, ctx, subjects, result)
            if proposed is None:
                continue
            result.notes.extend(proposed.notes)
            for r in open_:
                # The first advisor's reason stands (the index advisor's is the most
                # telling), unless a later advisor has something for the statement.
                o = proposed.outcomes.get(r.statement.query)
                if o is not None and (r.outcome is None or (r.outcome.reason and not o.reason)):
                    r.outcome = o
            changes = {d.key.split(":", 1)[-1] for d in drafts}
            for d in proposed.drafts:
                change = d.key.split(":", 1)[-1]
                if change in changes:  # e.g. an index both for a join and a foreign key
                    result.notes.append(f"The {advisor.name} advisor proposed a change an "
                                        f"earlier advisor proposed too; measured once: "
                                        f"{short(change, 100)}")
                    continue
                changes.add(change)
                drafts.append(d)
        pending = {r.position: {d.key for d in drafts if r.statement.query in d.queries}
                   for r in open_}
        for r in open_:
            if not pending[r.position]:
                _finish_statement(store_conn, run_.id, r, result.proposals)
        # 5 to 7: measure, remember, classify: one proposal at a time, stored at once
        analysis_of = {s.query: s.analysis for s in subjects}
        for n, draft in enumerate(drafts, 1):
            if draft.key in result.proposals:
                proposal = result.proposals[draft.key]
            else:
                with steps.step("measure"):
                    proposal = draft.measure(ctx)
                with steps.step("classify"):
                    # An advisor's own rejection (a statement got slower) stands.
                    proposal.rejected = proposal.rejected or _rejection(proposal, min_gain)
                # Remembered before it is stored as done: a run killed in between
                # measures it again, and the knowledge base keeps one row of it.
                with steps.step("remember"):
                    if kb is not None:
                        result.remembered.extend(
                            remember(kb, findings_of([proposal], analysis_of)))
                _store_proposal(store_conn, run_.id, draft.key, proposal)
                result.proposals[draft.key] = proposal
            steps.tick("measure", n, len(drafts))
            for r in open_:
                keys = pending[r.position]
                if draft.key in keys:
                    r.proposals.append(draft.key)
                    keys.discard(draft.key)
                    if not keys:
                        _finish_statement(store_conn, run_.id, r, result.proposals)
        if kb is not None:
            result.notes.extend(n for n in kb.notes if n not in result.notes)
    result.counts = _counts(result)
    result.seconds = steps.seconds
    now = store_conn.execute("SELECT now()").fetchone()
    result.finished_at = now[0] if now else None
    store_conn.execute(
        "UPDATE pgarchitect.audit_run SET status = 'finished', finished_at = %s, "
        "counts = %s, errors = %s, result = %s WHERE id = %s",
        [result.finished_at, Jsonb(result.counts), Jsonb(result.errors),
         Jsonb(result.to_json()), run_.id])
    return result


@contextmanager
def _none() -> Iterator[Session | None]:
    yield None


def _propose(advisor: Advisor, ctx: Context, subjects: Sequence[Subject],
             result: AuditResult) -> Proposals | None:
    """One advisor's proposals; an advisor that fails is reported, the audit goes on."""
    try:
        return advisor.propose(ctx, subjects)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
        # Another session's lock, or statement_timeout: the connection is fine.
        result.errors.append(f"The {advisor.name} advisor gave up: {first_line(exc)} "
                             "(a table was locked by another session, or a statement ran "
                             "past statement_timeout); the other advisors went on.")
        return None
    except psycopg.OperationalError:
        raise  # the connection is gone: the run stops here and the next one resumes it
    except (psycopg.Error, ValueError) as exc:
        result.errors.append(f"The {advisor.name} advisor failed: {first_line(exc)}")
        return None


def _restore(r: StatementResult, doc: dict[str, Any]) -> None:
    """A statement finished by an earlier process of the run."""
    r.resumed = True
    r.known = doc.get("known")
    r.kb = doc.get("kb")
    r.proposals = list(doc.get("proposals") or ())
    r.explanation = doc.get("explanation")
    r.outcome = Outcome(r.statement.query, doc.get("cost_before"), doc.get("cost_after"),
                        doc.get("reason"), doc.get("reason_code"))


def _finish_statement(store_conn: psycopg.Connection[Any], run_id: int, r: StatementResult,
                      proposals: dict[str, Proposal]) -> None:
    store_conn.execute(
        "INSERT INTO pgarchitect.audit_statement (run_id, position, query, result) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id, position) DO UPDATE "
        "SET result = EXCLUDED.result, finished_at = now()",
        [run_id, r.position, r.statement.query, Jsonb(r.to_json(proposals))])


def _store_proposal(store_conn: psycopg.Connection[Any], run_id: int, key: str,
                    proposal: Proposal) -> None:
    store_conn.execute(
        "INSERT INTO pgarchitect.audit_proposal (run_id, key, proposal) VALUES (%s, %s, %s) "
        "ON CONFLICT (run_id, key) DO NOTHING",
        [run_id, key, Jsonb(json.loads(json.dumps(proposal.to_json(), default=str)))])


def _counts(result: AuditResult) -> dict[str, int]:
    """Counts per step, as the run record and the weekly report show them."""
    proposals = list(result.proposals.values())
    statement_actions = [s.action(result.proposals) for s in result.statements]
    actions = [p.action for p in proposals]
    return {
        "slow_statements": len(result.statements),
        "skipped_statements": len(result.skipped),
        "solved_before": statement_actions.count("solved"),
        "rejected_before": statement_actions.count("rejected_before"),
        "explained": sum(1 for s in result.statements if s.explanation is not None),
        "proposals": len(proposals),
        "rejected": actions.count(REJECTED),
        "pr_merge": actions.count("pr_merge"),
        "pr_review": actions.count("pr_review"),
        "log": actions.count("log"),
        "investigate": actions.count("investigate"),
        "without_proposal": statement_actions.count("none"),
        "resumed_statements": sum(1 for s in result.statements if s.resumed),
        "remembered": len(result.remembered),
    }
