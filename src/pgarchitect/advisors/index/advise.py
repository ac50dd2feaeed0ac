"""The index advisor, end to end: workload → analysis → candidates → what-if → selection → verify.

:func:`run` is the one function the CLI (``pgarchitect advise``), the demo and later
the audit call. Nothing here changes a schema: the what-if engines and the
verification build indexes only inside transactions that are rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from pgarchitect import db
from pgarchitect.advisors.base import (
    Context,
    Draft,
    Outcome,
    Proposals,
    Subject,
    checkers,
    reason_code,
)
from pgarchitect.advisors.index.candidates import (
    INDEXABLE_KINDS,
    Candidate,
    CandidateSet,
    TableInfo,
    generate,
)
from pgarchitect.advisors.index.replay import IndexChecker
from pgarchitect.advisors.index.selection import (
    Choice,
    Options,
    Selection,
    TableWrites,
    Target,
    select,
)
from pgarchitect.advisors.index.verify import IndexTrial, Verified, confidence
from pgarchitect.advisors.index.whatif import open_engine
from pgarchitect.analysis import Analysis, analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.catalog.index import IndexDef
from pgarchitect.errors import ConfigError
from pgarchitect.knowledge.audit import Known, Session, findings_of, known_cases, remember
from pgarchitect.knowledge.audit import session as knowledge_session
from pgarchitect.measure import StatementInput
from pgarchitect.plans import NoPlan, plannable
from pgarchitect.proposal import Measurement, Proposal
from pgarchitect.report import short
from pgarchitect.settings import Config
from pgarchitect.workload import Skipped, Statement, Workload
from pgarchitect.workload.collect import Request, collect

DEFAULT_BUDGET_SHARE = 0.25  # of the database's size, when no budget is given
INDEXABLE = frozenset(INDEXABLE_KINDS)
# Roles whose columns an index may be extended by.
KEY_ROLES = frozenset({"eq", "in", "range", "join", "sort", "null"})

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$")
_UNITS = {None: 1, "B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def parse_size(text: str, limit: int = 2**50) -> int:
    """Bytes in ``500MB`` (10^6, as the published index-selection comparisons count) or ``2GiB``.

    ``limit`` (1 PiB) refuses absurd budgets: no database holds that much index.

    >>> parse_size("500MB"), parse_size("1.5 GB"), parse_size("64MiB")
    (500000000, 1500000000, 67108864)
    """
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"Budget {text!r} is not a size: use e.g. 500MB, 2GB or 512MiB.")
    size = float(match.group(1)) * _UNITS[match.group(2)]  # inf for 400 nines: no error
    if not size <= limit:
        shown = text if len(text) <= 20 else text[:17] + "…"
        raise ConfigError(f"Budget {shown!r} is more than {limit // 2**50} PiB: give the storage "
                          "new indexes may use, e.g. 500MB, 2GB or 512MiB.")
    return int(size)


@dataclass(frozen=True)
class AdviseRequest:
    """What to advise on and how."""

    workload: Request = field(default_factory=Request)
    budget: str | None = None  # e.g. "500MB"; None: the setting, else a share of the database
    whatif: str | None = None  # auto | hypopg | sandbox; None: the setting
    verify: bool = True
    runs: int = 3
    allow_writes: bool = False  # measure INSERT/UPDATE/DELETE (rolled back)
    allow_large: bool = False  # build indexes on tables above sandbox_max_table_mb
    knowledge: bool = True  # skip what the knowledge base has solved, store the findings


@dataclass(frozen=True)
class IndexDetail:
    """What a proposal of an index carries besides the shared record."""

    index: IndexDef
    size_bytes: int
    benefit: float  # time (ms) or cost saved over the window, as selection counted it
    overhead: float  # write overhead, same unit
    rule: str | None  # the candidate rule that proposed it
    create_sql: str
    drop_sql: str

    def to_json(self) -> dict[str, Any]:
        return {"index": str(self.index), "name": self.index.name, "schema": self.index.schema,
                "table": self.index.table, "method": self.index.method,
                "size_bytes": self.size_bytes, "benefit": self.benefit,
                "overhead": self.overhead, "rule": self.rule}


def index_of(proposal: Proposal) -> IndexDef:
    """The index a proposal of this advisor creates."""
    assert isinstance(proposal.detail, IndexDetail), proposal.kind
    return proposal.detail.index


@dataclass(frozen=True)
class StatementReport:
    """What the advisor concluded for one statement."""

    query: str
    calls: int
    total_ms: float
    cost_before: float | None = None
    cost_after: float | None = None
    indexes: tuple[str, ...] = ()  # names of recommended indexes it uses
    reason: str | None = None  # why it got nothing
    code: str | None = None  # the same, as one of advisors.base.REASONS


@dataclass
class Advice:
    """The advisor's result."""

    source: str
    engine: str
    options: Options
    proposals: list[Proposal]
    statements: list[StatementReport]
    skipped: list[Skipped]
    notes: list[str]
    selection_seconds: float = 0.0
    evaluations: int = 0
    known: list[Known] = field(default_factory=list)  # solved before: not advised again
    remembered: list[str] = field(default_factory=list)  # ids of the findings stored


def _targets(statements: Sequence[Statement], analyses: Sequence[Analysis]) -> list[Target]:
    targets = []
    for s, a in zip(statements, analyses, strict=True):
        tables = frozenset((r.schema, r.name) for r in a.relations if r.kind in INDEXABLE)
        updated = frozenset((c.schema, c.table, c.column) for c in a.set_columns)
        columns = frozenset((u.column.schema, u.column.table, u.column.column)
                            for u in a.columns)
        targets.append(Target(s.query, max(s.calls, 1), s.total_ms, tables, updated, columns))
    return targets


def _key_columns(analyses: Sequence[Analysis]) -> dict[tuple[str, str], list[str]]:
    columns: dict[tuple[str, str], list[str]] = {}
    for a in analyses:
        for use in a.columns:
            if KEY_ROLES & set(use.roles):
                cols = columns.setdefault((use.column.schema, use.column.table), [])
                if use.column.column not in cols:
                    cols.append(use.column.column)
    return columns


def _window_ratio(catalog: DatabaseCatalog, since_seconds: float | None) -> float:
    """Statements' window over the table counters' window, to compare like with like.

    Benefit comes from statement counters and write overhead from table counters;
    they often began at different times (one reset, not the other), so the write
    counts are scaled to the statements' window (the workload's: a snapshot delta's,
    or since pg_stat_statements was reset). Statements from a log or text have no
    known window: the write counters count whole.
    """
    if since_seconds is None or not catalog.counters_seconds:
        return 1.0
    return min(1.0, max(since_seconds, 1.0) / catalog.counters_seconds)


def _writes(tables: dict[tuple[str, str], TableInfo],
            ratio: float) -> dict[tuple[str, str], TableWrites]:
    return {key: TableWrites(int(t.inserts * ratio), int(t.updates * ratio),
                             int(t.hot_updates * ratio), int(t.deletes * ratio), len(t.indexes))
            for key, t in tables.items()}


def _budget(catalog: DatabaseCatalog, config: Config, given: str | None) -> int:
    text = given or config.get_str("budget")
    if text:
        return parse_size(text)
    return int(catalog.database_bytes * DEFAULT_BUDGET_SHARE)


def _reasoning(rec: Verified, candidate: Candidate | None) -> str:
    why = candidate.reason if candidate else "chosen for the workload"
    n = len(rec.choice.helps)
    est = f"{rec.estimated_gain:.0%}" if rec.estimated_gain is not None else "?"
    measured = (f", {rec.measured_gain:.0%} measured" if rec.measured_gain is not None
                else ", not measured")
    return (f"{why[0].upper()}{why[1:]}: helps {n} statement{'s' if n != 1 else ''}, "
            f"planner estimate {est} cheaper{measured}.")


def _statement_reports(statements: Sequence[Statement], analyses: Sequence[Analysis],
                       cands: CandidateSet, selection: Selection, kept: dict[IndexDef, str],
                       plan_errors: dict[str, str],
                       blocked: dict[str, NoPlan] | None = None) -> list[StatementReport]:
    outcomes = {o.query: o for o in selection.outcomes}
    reports = []
    for s, a in zip(statements, analyses, strict=True):
        base = StatementReport(s.query, s.calls, s.total_ms)
        if a.error:
            reports.append(StatementReport(**{**base.__dict__, "reason": a.error}))
            continue
        o = outcomes.get(s.query)
        names = tuple(kept[i] for i in (o.indexes if o else ()) if i in kept)
        reason = None
        if s.query in plan_errors and (o is None or o.cost_before is None):
            reason = plan_errors[s.query]
        elif not names and blocked and s.query in blocked:
            # Its indexes could not be tried (a lock, a timeout, no right to build,
            # a table too large): that is the answer, not "no index lowers its cost".
            reason = blocked[s.query].reason
        elif not names:
            reasons = [*cands.skipped_for(s.query)]
            if o is not None and o.reason:
                reasons.append(o.reason)
            if not cands.for_statement(s.query) and not reasons:
                reasons.append("No candidate index for it")
            reason = "; ".join(dict.fromkeys(reasons)) or "No index chosen for it"
        reports.append(StatementReport(
            s.query, s.calls, s.total_ms, o.cost_before if o else None,
            o.cost_after if o else None, names, reason))
    return reports


@dataclass
class Chosen:
    """The selection half of the advisor: what was analysed, proposed and chosen."""

    analyses: list[Analysis]
    candidates: CandidateSet
    selection: Selection
    engine: str
    plan_errors: dict[str, str]  # statement -> why the planner could not plan it
    # statement -> why some of its indexes could not be tried (locked, timeout, no
    # privilege, too large): then nothing may be concluded about them
    blocked: dict[str, NoPlan] = field(default_factory=dict)
    plan_codes: dict[str, str] = field(default_factory=dict)  # statement -> code of its error


def choose(
    conn: psycopg.Connection[Any],
    statements: Sequence[Statement],
    options: Options,
    *,
    whatif: str = "auto",
    max_table_bytes: int,
    allow_large: bool = False,
    since_seconds: float | None = None,
    analyses: Sequence[Analysis] | None = None,
    catalog: DatabaseCatalog | None = None,
) -> Chosen:
    """Analyse (unless ``analyses`` of the statements are given), propose, ask the
    planner, and select: no verification, nothing built."""
    catalog = catalog or DatabaseCatalog(conn)
    if analyses is None:
        analyses = [analyze(s.query, catalog.relations) for s in statements]
    touched = {(r.schema, r.name) for a in analyses for r in a.relations if r.kind in INDEXABLE}
    tables, locked = _load_tables(catalog, touched)
    blocked: dict[str, NoPlan] = {}
    for s, a in zip(statements, analyses, strict=True):
        for r in a.relations:
            if (r.schema, r.name) in locked:
                blocked.setdefault(s.query, locked[(r.schema, r.name)])
    cands = generate([a for s, a in zip(statements, analyses, strict=True)
                      if s.query not in blocked], tables)
    engine = open_engine(conn, whatif, max_table_bytes=max_table_bytes, allow_large=allow_large,
                         catalog=catalog)
    plan_errors: dict[str, str] = {}
    plan_codes: dict[str, str] = {}

    def cost(query: str, indexes: Sequence[IndexDef]) -> float | None:
        costing = engine.cost(query, indexes)
        if (why := costing.reason) is not None:
            code = reason_code(why.sqlstate, why.code)
            if indexes and code is not None:
                blocked.setdefault(query, why)
            elif not indexes:
                plan_errors.setdefault(query, why.reason)
                if code is not None:
                    plan_codes.setdefault(query, code)
            else:
                plan_errors.setdefault(query, why.reason)
        return costing.total_cost

    try:
        parsed = [(s, a) for s, a in zip(statements, analyses, strict=True)
                  if not a.error and s.query not in blocked]
        selection = select(
            _targets([s for s, _ in parsed], [a for _, a in parsed]),
            [c.index for c in cands.candidates], cost, engine.size, options,
            writes=_writes(tables, _window_ratio(catalog, since_seconds)),
            columns=_key_columns([a for _, a in parsed]),
        )
    finally:
        engine.close()
    return Chosen(list(analyses), cands, selection, engine.name, plan_errors, blocked,
                  plan_codes)


def _load_tables(catalog: DatabaseCatalog, keys: set[tuple[str, str]]) -> tuple[
        dict[tuple[str, str], TableInfo], dict[tuple[str, str], NoPlan]]:
    """The tables' catalog records, and why those that could not be read were not.

    Reading a table's size waits for any lock that conflicts with ACCESS SHARE (an
    ALTER TABLE in progress): that table's statements get the reason, the others
    are advised as usual.
    """
    try:
        return catalog.tables(keys), {}
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        pass
    tables: dict[tuple[str, str], TableInfo] = {}
    locked: dict[tuple[str, str], NoPlan] = {}
    for key in sorted(keys):
        try:
            tables.update(catalog.tables({key}))
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
            what = ("another session holds a lock on it (lock_timeout)"
                    if isinstance(exc, psycopg.errors.LockNotAvailable)
                    else "reading it ran past statement_timeout")
            locked[key] = NoPlan(f"Not tried: table {key[0]}.{key[1]} could not be read: "
                                 f"{what}; try again when it is free.", exc.sqlstate)
    return tables, locked


def _reason_code(report: StatementReport, analysis: Analysis | None, cands: CandidateSet,
                 outcome: Any, plan_errors: dict[str, str],
                 blocked: dict[str, NoPlan] | None = None,
                 plan_codes: dict[str, str] | None = None) -> str | None:
    """The reason code of a statement that got nothing (see advisors.base.REASONS)."""
    if report.indexes:
        return None
    if analysis is not None and analysis.error:
        return "unparseable"
    if report.query in plan_errors and (outcome is None or outcome.cost_before is None):
        return (plan_codes or {}).get(report.query, "not_plannable")
    if blocked and report.query in blocked:
        return reason_code(blocked[report.query].sqlstate, blocked[report.query].code)
    if outcome is not None and outcome.code:
        return str(outcome.code)
    codes = cands.codes_for(report.query)
    return codes[0] if codes else "no_candidate"


class IndexAdvisor:
    """Indexes for the whole workload within a budget, each proven on the planner."""

    name = "index"
    kind = "index"

    def checker(self, ctx: Context) -> IndexChecker:
        return IndexChecker(ctx)

    def propose(self, ctx: Context, subjects: Sequence[Subject]) -> Proposals:
        config = ctx.config
        options = Options(
            budget=_budget(ctx.catalog, config, ctx.budget),
            min_cost=config.get_float("min_cost"),
            min_savings_pct=config.get_float("min_savings_pct"),
            max_per_table=config.get_int("max_indexes_per_table"),
        )
        max_bytes = config.get_int("sandbox_max_table_mb") * 2**20
        statements = [s.statement for s in subjects]
        chosen = choose(ctx.conn, statements, options,
                        whatif=ctx.whatif or config.get_str("whatif"),
                        max_table_bytes=max_bytes, allow_large=ctx.allow_large,
                        since_seconds=ctx.since_seconds,
                        analyses=[s.analysis for s in subjects], catalog=ctx.catalog)
        selection, cands = chosen.selection, chosen.candidates
        by_query = {s.query: s for s in subjects if not s.analysis.error}
        by_index = {c.index: c for c in cands.candidates}
        total_benefit = sum(c.benefit for c in selection.chosen) or 1.0
        drafts = [self._draft(ctx, choice, by_query, by_index.get(choice.index), selection,
                              total_benefit, options, max_bytes)
                  for choice in selection.chosen]
        kept = {c.index: c.index.name for c in selection.chosen}
        reports = _statement_reports(statements, list(chosen.analyses), cands, selection, kept,
                                     chosen.plan_errors, chosen.blocked)
        by_outcome = {o.query: o for o in selection.outcomes}
        analysis_of = {s.query: s.analysis for s in subjects}
        reports = [replace(r, code=_reason_code(r, analysis_of.get(r.query), cands,
                                                by_outcome.get(r.query), chosen.plan_errors,
                                                chosen.blocked, chosen.plan_codes))
                   for r in reports]
        outcomes = {r.query: Outcome(r.query, r.cost_before, r.cost_after, r.reason, r.code)
                    for r in reports}
        notes = [f"Thresholds: min_cost {options.min_cost:g}, min_savings_pct "
                 f"{options.min_savings_pct:g}%, budget {options.budget / 1e6:,.0f} MB, at most "
                 f"{options.max_per_table} new indexes per table."]
        info = {"engine": chosen.engine, "options": options, "reports": reports,
                "selection_seconds": selection.seconds, "evaluations": selection.evaluations}
        return Proposals(self.name, drafts, outcomes, notes, info)

    def _draft(self, ctx: Context, choice: Choice, by_query: dict[str, Subject],
               candidate: Candidate | None, selection: Selection, total_benefit: float,
               options: Options, max_bytes: int) -> Draft:
        weights: dict[str, float] = {}
        inputs: list[StatementInput] = []
        estimated: dict[str, float] = {}
        costs: dict[str, tuple[float, float]] = {}
        for query, before, after in choice.helps:
            subject = by_query[query]
            s, a = subject.statement, subject.analysis
            weights[query] = s.total_ms if selection.unit == "ms" else before - after
            estimated[query] = 1.0 - after / before if before else 0.0
            costs[query] = (before, after)
            counted = s.calls > 0 and s.total_ms > 0  # a workload's, not text's
            inputs.append(StatementInput(query, a.params, s.params, weights[query],
                                         s.mean_ms if counted else None,
                                         s.hit_ratio if counted else None))
        index = choice.index
        create = index.create_sql().as_string(ctx.conn)
        drop = index.drop_sql().as_string(ctx.conn)
        problem = candidate.reason if candidate else "a costly plan"

        def finish(measurements: list[Measurement]) -> Proposal:
            measurements = [replace(m, cost_before=costs[m.query][0],
                                    cost_after=costs[m.query][1]) for m in measurements]
            verified = confidence(choice, measurements, weights,
                                  workload_benefit_share=choice.benefit / total_benefit,
                                  budget=options.budget)
            return Proposal(
                kind="index", title=f"index {index}", advisor=self.name,
                objects=(f"{index.schema}.{index.table}", f"{index.schema}.{index.name}"),
                forward=create, rollback=drop, statements=verified.measurements,
                reasoning=_reasoning(verified, candidate),
                problem=f"{problem[0].upper()}{problem[1:]}",
                evidence=[f"planner cost {b:,.0f} → {a:,.0f} for {short(q, 80)}"
                          for q, (b, a) in costs.items()],
                estimated_gain=verified.estimated_gain, measured_gain=verified.measured_gain,
                confidence=verified.confidence, factors=verified.factors, flags=verified.flags,
                detail=IndexDetail(index, choice.size, choice.benefit, choice.overhead,
                                   candidate.rule if candidate else None, create, drop))

        table = ctx.catalog.tables([(index.schema, index.table)]).get((index.schema, index.table))
        trial = IndexTrial(index, table.total_bytes if table else 0, max_table_bytes=max_bytes,
                           allow_large=ctx.allow_large)
        return Draft(f"index:{create}", trial, inputs, estimated, finish)


# Workload skip codes of statements given as text that the advisor reports as its
# own statements, with the advisor's code: the user asked about them by name.
_TEXT_SKIPS = {"unparseable": "unparseable", "utility": "not_supported"}


def _given_but_skipped(source: str, workload: Workload) -> list[StatementReport]:
    """Statements given as text (``-s``, ``--file``) that never reached the advisor.

    A statement that does not parse, or that is no query (``DROP TABLE``,
    ``TRUNCATE``, ``DO``, ``CALL``, ``COPY``), is left out of the workload; one the
    user typed must still be answered, with why.
    """
    if source != "statement" and not source.startswith("file:"):
        return []
    reports = []
    for s in workload.skipped:
        code = _TEXT_SKIPS.get(s.code)
        if code is None:
            continue
        why = plannable(s.query)
        reason = why.reason if why is not None and code == "not_supported" else s.reason
        if code == "not_supported":
            reason = reason.replace("Not planned: only", "No index advice: only", 1)
        reports.append(StatementReport(s.query, 0, 0.0, reason=reason, code=code))
    return reports


def run(config: Config, request: AdviseRequest) -> Advice:
    """Advise indexes for a workload; nothing is changed in the database."""
    conninfo = db.target_conninfo(config, request.workload.dsn)
    with db.connect(conninfo, config) as conn:
        source, workload = collect(config, request.workload, conn)
        if not request.knowledge:
            return advise(conn, config, request, source, workload)
        with knowledge_session(config, conn) as kb:
            return advise(conn, config, request, source, workload, kb)


def advise(conn: psycopg.Connection[Any], config: Config, request: AdviseRequest,
           source: str, workload: Workload, kb: Session | None = None) -> Advice:
    """Advise indexes for a workload already read (and filtered) from ``source``.

    With a knowledge base session, statements it already has an answer for are
    skipped (and cited), and the findings are stored in it afterwards.
    """
    catalog = DatabaseCatalog(conn)
    statements = workload.statements
    analyses = [analyze(s.query, catalog.relations) for s in statements]
    ctx = Context(conn, config, catalog, verify=request.verify, runs=request.runs,
                  allow_writes=request.allow_writes, allow_large=request.allow_large,
                  whatif=request.whatif, budget=request.budget,
                  since_seconds=workload.window_seconds)
    advisor = IndexAdvisor()
    known: list[Known] = []
    if kb is not None:
        with checkers(ctx, [advisor]) as replay:
            lookups = known_cases(kb, statements, analyses, replay,
                                  limit=config.get_int("kb_candidates"))
        known = [k for k in (lk.known for lk in lookups) if k is not None]
        statements = [lk.statement for lk in lookups if lk.known is None]
        analyses = [a for a, lk in zip(analyses, lookups, strict=True) if lk.known is None]
    subjects = [Subject(s, a) for s, a in zip(statements, analyses, strict=True)]
    proposed = advisor.propose(ctx, subjects)
    proposals = sorted((d.measure(ctx) for d in proposed.drafts),
                       key=lambda p: p.confidence, reverse=True)
    info = proposed.info
    advice = Advice(
        source=source, engine=info["engine"], options=info["options"], proposals=proposals,
        statements=[*info["reports"], *_given_but_skipped(source, workload)],
        skipped=workload.skipped,
        notes=[*workload.notes, *proposed.notes], selection_seconds=info["selection_seconds"],
        evaluations=info["evaluations"], known=known,
    )
    if kb is not None:
        analysis_of = {s.query: s.analysis for s in subjects}
        advice.remembered = remember(kb, findings_of(proposals, analysis_of))
        advice.notes.extend(kb.notes)
    return advice
