"""Run the index advisor on a test database and assert what it says, in one line each.

    target = AdvisorTarget(db, "auto")
    assert_advice(target, "SELECT * FROM posts WHERE user_id = $1 AND blog_id = $2",
                  "public.posts (user_id, blog_id)")
    assert_no_advice(target, "SELECT * FROM countries WHERE name = $1", "Low initial cost")

Either helper takes a target (the advisor then runs on that one statement) or an
:class:`Advice` already made for several statements. Indexes are written as
``str(IndexDef)`` prints them: ``"App"."BehaviorLog" ("userId", "timestamp" DESC)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pgarchitect.advisors.index.advise import (
    Advice,
    AdviseRequest,
    StatementReport,
    index_of,
    run,
)
from pgarchitect.settings import load_config
from pgarchitect.workload import Filters
from pgarchitect.workload.collect import Request
from support.servers import TestDatabase

BUDGET = "1GB"  # more than every case needs: budgets are not what these tests are about


@dataclass(frozen=True)
class AdvisorTarget:
    """A loaded database and the what-if engine to advise on it with."""

    db: TestDatabase
    whatif: str  # "auto" (HypoPG, the sandbox for what it cannot model) or "sandbox"
    engine: str  # the engine the advice must say it used


def advise(target: AdvisorTarget, *statements: str, verify: bool = False, runs: int = 1,
           log: Path | None = None) -> Advice:
    """The advisor's answer for ``statements`` (or a server log) on the target."""
    # A log is read whatever its statements' counts and times: it is the test's workload.
    filters = Filters(min_mean_ms=0.0, min_calls=0)
    workload = Request(dsn=target.db.conninfo, statements=statements, log=log, filters=filters)
    advice = run(load_config(), AdviseRequest(workload=workload, budget=BUDGET,
                                              whatif=target.whatif, verify=verify, runs=runs,
                                              knowledge=False))
    assert advice.engine == target.engine, f"advised with {advice.engine}, not {target.engine}"
    return advice


def _advice(advice_or_target: Advice | AdvisorTarget, query: str) -> Advice:
    if isinstance(advice_or_target, AdvisorTarget):
        return advise(advice_or_target, query)
    return advice_or_target


def _report(advice: Advice, query: str) -> StatementReport | None:
    for s in advice.statements:
        if s.query == query:
            return s
    return None


def describe(advice: Advice) -> str:
    """What the advisor said, for an assertion's message."""
    lines = [f"engine {advice.engine}"]
    for p in advice.proposals:
        lines.append(f"recommended {index_of(p)} ({p.confidence:g}%): {p.reasoning}")
        lines.append("  factors: " + "; ".join(f"{f.name} {f.value:.2f} ({f.detail})"
                                               for f in p.factors))
    for s in advice.statements:
        lines.append(f"statement {s.query!r}: cost {s.cost_before} -> {s.cost_after}, "
                     f"uses {list(s.indexes)}, reason {s.reason!r}")
    for k in advice.skipped:
        lines.append(f"skipped {k.query!r}: {k.reason}")
    return "\n  ".join(lines)


def assert_advice(advice_or_target: Advice | AdvisorTarget, query: str,
                  *indexes: str) -> Advice:
    """The statement gets exactly these indexes (and, advised alone, nothing else)."""
    advice = _advice(advice_or_target, query)
    report = _report(advice, query)
    assert report is not None, f"no report for {query!r}:\n  {describe(advice)}"
    by_name = {index_of(p).name: str(index_of(p)) for p in advice.proposals}
    got = sorted(by_name[name] for name in report.indexes)
    if isinstance(advice_or_target, AdvisorTarget):
        got = sorted(by_name.values())  # one statement: every recommendation is its own
    assert got == sorted(indexes), (f"{query!r}: expected {sorted(indexes)}, got {got}\n  "
                                    f"{describe(advice)}")
    return advice


def assert_no_advice(advice_or_target: Advice | AdvisorTarget, query: str,
                     reason: str) -> Advice:
    """The statement gets no index, for a reason that says ``reason``."""
    advice = _advice(advice_or_target, query)
    report = _report(advice, query)
    if report is None:
        said = [k.reason for k in advice.skipped if k.query.strip() == query.strip()]
        assert said, f"no report for {query!r}:\n  {describe(advice)}"
    else:
        assert not report.indexes, f"{query!r} got {report.indexes}:\n  {describe(advice)}"
        said = [report.reason or ""]
    assert any(reason in s for s in said), (f"{query!r}: expected a reason with {reason!r}, "
                                            f"got {said}\n  {describe(advice)}")
    if isinstance(advice_or_target, AdvisorTarget):
        assert not advice.proposals, describe(advice)
    return advice
