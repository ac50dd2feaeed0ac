"""The knowledge base in an audit: skip what was solved, remember what was found.

Before the advisors work on a statement, :func:`known_cases` takes the earlier
cases most like it and replays each one's fix on it (:mod:`.replay`): when one
solves it, the statement is skipped and the case cited with what was checked. A
fix that was applied and is in the database now is not a reason to skip: the
statement's mean time now is recorded next to the one it had before (the outcome
loop), and the statement is audited as it is.
After the audit, :func:`remember` writes every finding in one round trip; when the
knowledge base is away, the findings go to a spool file and are written on the
next run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from pgarchitect import db
from pgarchitect.analysis import Analysis
from pgarchitect.errors import PgArchitectError, first_line
from pgarchitect.knowledge.features import embedding_text, features_of
from pgarchitect.knowledge.kb import Case, Finding, KnowledgeBase, Spool
from pgarchitect.knowledge.replay import (
    Check,
    Checked,
    Checker,
    Pair,
    candidates,
    decide,
    no_checker,
)
from pgarchitect.knowledge.similarity import Weights
from pgarchitect.proposal import Proposal
from pgarchitect.settings import Config
from pgarchitect.workload import Statement
from pgarchitect.workload.snapshots import target_of

SPOOL_NAME = "kb-spool.jsonl"


@dataclass(frozen=True)
class Known:
    """A statement the knowledge base already has an answer for: skipped, citing it."""

    statement: Statement
    answer: Checked

    @property
    def case(self) -> Case:
        return self.answer.case


@dataclass(frozen=True)
class Lookup:
    """What the knowledge base said about one statement."""

    statement: Statement
    checked: tuple[Checked, ...] = ()  # every case replayed, best match first
    outcome: str | None = None  # an applied fix measured again now (the outcome loop)

    @property
    def known(self) -> Known | None:
        answer = decide(self.checked)
        return None if answer is None else Known(self.statement, answer)

    @property
    def misses(self) -> list[Checked]:
        """The cases checked and not taken, each with why."""
        answer = decide(self.checked)
        return [c for c in self.checked if c is not answer]


@dataclass
class Session:
    """The knowledge base for one audit (None when it could not be opened) and its notes."""

    kb: KnowledgeBase | None
    database: str  # identity of the audited database, as findings name it
    spool: Spool
    notes: list[str] = field(default_factory=list)


def spool_of(config: Config) -> Spool:
    return Spool(Path(config.data_dir) / SPOOL_NAME)


def weights_of(config: Config) -> Weights:
    return Weights(vector=config.get_float("kb_weight_vector"),
                   structure=config.get_float("kb_weight_structure"))


@contextmanager
def knowledge_base(config: Config, target: psycopg.Connection[Any], *,
                   create: bool = True) -> Iterator[KnowledgeBase]:
    """The knowledge base of ``kb_url``, else of the target; raises when it cannot open.

    ``create=False`` is for reads: nothing is created, and NoKnowledgeBase is raised
    when there is none yet.
    """
    url = config.get_str("kb_url")
    conn = db.connect(url, config) if url else target
    try:
        yield KnowledgeBase(conn, weights=weights_of(config),
                            threshold=config.get_float("kb_threshold"), create=create)
    finally:
        if conn is not target:
            conn.close()


@contextmanager
def session(config: Config, target: psycopg.Connection[Any]) -> Iterator[Session]:
    """Open the knowledge base for an audit of ``target``; the audit goes on without it."""
    spool = spool_of(config)
    state = Session(None, target_of(target), spool)
    stack = ExitStack()
    try:
        state.kb = stack.enter_context(knowledge_base(config, target))
        state.notes.extend(state.kb.notes)
        try:
            report = spool.flush(state.kb)
        except OSError as exc:
            report = None
            state.notes.append(f"Could not read or clear the findings saved in {spool.path} "
                               f"({exc.strerror or exc}): make it readable and writable, "
                               "and the next run writes them.")
        if report is not None:
            state.notes.append(
                f"Wrote {report.imported} findings saved while the knowledge base was away"
                + (f" ({report.duplicates} already there)" if report.duplicates else "")
                + (f"; {len(report.errors)} unreadable lines kept in "
                   f"{spool.path.with_suffix('.rejected.jsonl')}" if report.errors else "")
                + ".")
    except (PgArchitectError, psycopg.Error) as exc:
        state.kb = None
        state.notes.append(f"The knowledge base is not available ({first_line(exc)}): "
                           "this audit does not look up earlier cases; its findings are "
                           f"saved to {spool.path} and written on the next run.")
    with stack:
        yield state


def known_cases(state: Session, statements: Sequence[Statement],
                analyses: Sequence[Analysis], checkers: Mapping[str, Checker], *,
                limit: int = 5) -> list[Lookup]:
    """For each statement, the earlier cases replayed on it (see :mod:`.replay`).

    At most ``limit`` cases per statement scoring the knowledge base's threshold or
    more are checked, by
    the checker of their kind (a kind without one is a miss). A statement is
    skipped when :attr:`Lookup.known` is set.
    """
    kb = state.kb
    empty = [Lookup(s) for s in statements]
    if kb is None or not statements:
        return empty
    try:
        if kb.count() == 0:
            return empty
        todo = [i for i, a in enumerate(analyses) if not a.error]
        vectors = kb.embedder.embed([embedding_text(statements[i].query) for i in todo])
        found: dict[int, list[Case]] = {}
        for i, embedded in zip(todo, vectors, strict=True):
            found[i] = candidates(kb, statements[i].query, features_of(analyses[i]),
                                  embedding=embedded.vector, database=state.database,
                                  limit=limit, floor=kb.threshold)
        checks = _replay(found, statements, analyses, checkers)
        out = []
        for i, statement in enumerate(statements):
            checked = tuple(Checked(c, checks[(i, n)]) for n, c in enumerate(found.get(i, ())))
            applied = next((c for c in checked if c.check.verdict == "applied"), None)
            outcome = (_outcome(kb, applied.case, statement) if applied is not None
                       else None)
            out.append(Lookup(statement, checked, outcome))
        return out
    except psycopg.Error as exc:
        _lost(state, exc)
        return empty


def _replay(found: Mapping[int, Sequence[Case]], statements: Sequence[Statement],
            analyses: Sequence[Analysis], checkers: Mapping[str, Checker]
            ) -> dict[tuple[int, int], Check]:
    """Every (statement, case) checked, one batch per kind."""
    out: dict[tuple[int, int], Check] = {}
    by_kind: dict[str, list[tuple[tuple[int, int], Pair]]] = {}
    for i, cases in found.items():
        for n, case in enumerate(cases):
            pair = Pair(case.finding, statements[i], analyses[i])
            by_kind.setdefault(case.finding.kind, []).append(((i, n), pair))
    for kind, pairs in by_kind.items():
        checker = checkers.get(kind)
        if checker is None:
            out.update({key: no_checker(kind) for key, _ in pairs})
            continue
        checks = checker.check([p for _, p in pairs])
        out.update({key: c for (key, _), c in zip(pairs, checks, strict=True)})
    return out


def _outcome(kb: KnowledgeBase, case: Case, statement: Statement) -> str | None:
    """Measure an applied finding's statement again, once, and record the real gain."""
    finding = case.finding
    if finding.status != "applied" or statement.calls <= 0:
        return None
    if finding.applied_gain_pct is None:
        finding = kb.record_outcome(finding, statement.mean_ms)
    if finding.applied_gain_pct is None:
        return None
    predicted = (finding.measured_gain_pct if finding.measured_gain_pct is not None
                 else finding.estimated_gain_pct)
    return (f"applied: {finding.applied_gain_pct:.0f}% faster in production "
            f"({finding.before_ms or 0:.1f} → {finding.applied_after_ms or 0:.1f} ms)"
            + (f", predicted {predicted:.0f}%" if predicted is not None else ""))


def remember(state: Session, findings: Sequence[Finding]) -> list[str]:
    """Store the audit's findings; ids written. When the knowledge base is away, spool them."""
    if not findings:
        return []
    for finding in findings:
        finding.database = finding.database or state.database
    if state.kb is not None:
        try:
            ids = state.kb.record(findings)
            state.notes.extend(n for n in state.kb.notes if n not in state.notes)
            return ids
        except psycopg.Error as exc:
            _lost(state, exc)
    try:
        state.spool.save(findings)
    except OSError as exc:
        # The last place the findings could go: say so loudly, with what to do. The
        # result itself (printed by the caller) still carries every proposal.
        state.notes.append(
            f"{len(findings)} findings could NOT be saved: the knowledge base is not "
            f"available and {state.spool.path} cannot be written ({exc.strerror or exc}). "
            "Set PGARCHITECT_DATA_DIR to a writable directory, or make the knowledge base "
            "reachable (kb_url), and run again to keep them.")
        return []
    state.notes.append(f"Saved {len(findings)} findings to {state.spool.path}; they are "
                       "written to the knowledge base on the next run.")
    return []


def findings_of(proposals: Sequence[Proposal],
                analyses: Mapping[str, Analysis]) -> list[Finding]:
    """The knowledge base's record of proposals: one finding per proposal and statement.

    Rejected proposals are recorded too (status ``rejected``), so that the next audit
    knows what was tried and did not pay.
    """
    out = []
    for p in proposals:
        factors = {f.name: round(f.value, 4) for f in p.factors}
        for m in p.statements:
            analysis = analyses.get(m.query)
            if analysis is None:
                continue
            features = features_of(analysis)
            out.append(Finding(
                database="", fingerprint=features.fingerprint or "", query=m.query,
                kind=p.kind, recommendation_sql=p.forward, rollback_sql=p.rollback,
                description=f"{p.problem or 'A costly plan'}; fix: {p.title}.",
                reasoning=p.reasoning + (f" Rejected: {p.rejected}" if p.rejected else ""),
                estimated_gain_pct=_pct(m.estimated_gain), measured_gain_pct=_pct(m.gain),
                before_ms=m.median_before, after_ms=m.median_after,
                confidence=p.confidence / 100.0, factors=factors, features=features.to_json(),
                status="rejected" if p.rejected else "proposed",
            ))
    return out


def _pct(gain: float | None) -> float | None:
    return None if gain is None else round(100.0 * gain, 2)


def _lost(state: Session, exc: psycopg.Error) -> None:
    state.kb = None
    state.notes.append(f"Lost the knowledge base ({first_line(exc)}); the audit goes on "
                       "without it.")
