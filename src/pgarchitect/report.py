"""A result as one JSON document, and as the terminal's tables: shared by every front end.

``--json`` prints the documents made here, and the API, the web page, pull requests
and the language model read the same ones. The terminal rendering reads the same
records; no front end builds its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from textwrap import shorten
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pgarchitect.proposal import Proposal, describe_action
from pgarchitect.workload import SKIP_CODES, Skipped, Statement, Workload

if TYPE_CHECKING:
    from pgarchitect.advisors.index.advise import Advice
    from pgarchitect.audit import AuditResult
    from pgarchitect.delivery.deliver import Delivered
    from pgarchitect.knowledge.audit import Known
    from pgarchitect.workload import Filters


def short(text: str, width: int) -> str:
    """One line of at most ``width`` characters.

    >>> short("SELECT *\\n  FROM t WHERE a = 1", 20)
    'SELECT * FROM t …'
    """
    return shorten(" ".join(text.split()), width, placeholder=" …")


def cost(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


# -- JSON -----------------------------------------------------------------------------


def statement_json(s: Statement) -> dict[str, Any]:
    return asdict(s) | {"mean_ms": s.mean_ms, "hit_ratio": s.hit_ratio}


def skipped_json(s: Skipped) -> dict[str, Any]:
    return {"query": s.query, "reason": s.reason, "code": s.code}


def workload_json(source: str, filters: Filters, workload: Workload) -> dict[str, Any]:
    return {
        "source": source,
        "filters": asdict(filters) | {k: sorted(v) for k, v in asdict(filters).items()
                                      if isinstance(v, frozenset)},
        "statements": [statement_json(s) for s in workload.statements],
        "skipped": [skipped_json(s) for s in workload.skipped], "notes": workload.notes,
    }


def known_json(k: Known) -> dict[str, Any]:
    return {"query": k.statement.query, "finding": k.case.finding.id, "score": k.case.score,
            "reasons": list(k.case.reasons), "citation": k.answer.citation(),
            "checked": k.answer.check.checked}


def advice_json(advice: Advice) -> dict[str, Any]:
    return {
        "source": advice.source, "engine": advice.engine,
        "options": asdict(advice.options),
        "proposals": [p.to_json() for p in advice.proposals],
        "statements": [asdict(s) for s in advice.statements],
        "skipped": [skipped_json(s) for s in advice.skipped], "notes": advice.notes,
        "selection_seconds": advice.selection_seconds, "evaluations": advice.evaluations,
        "known": [known_json(k) for k in advice.known],
        "remembered": advice.remembered,
    }


# -- terminal -------------------------------------------------------------------------


def print_statements(out: Console, statements: Sequence[Statement], title: str) -> None:
    table = Table("#", "calls", "total ms", "mean ms", "hit %", title=title)
    table.add_column("statement", min_width=30, ratio=1)
    for i, s in enumerate(statements, 1):
        hit = "" if s.hit_ratio is None else f"{s.hit_ratio:.0%}"
        table.add_row(str(i), f"{s.calls:,}", f"{s.total_ms:,.0f}", f"{s.mean_ms:,.1f}", hit,
                      short(s.query, 120))
    out.print(table)


def skipped_summary(skipped: Sequence[Skipped]) -> str:
    """``"12 statements left out: 9 mean too low; 3 too few calls"``."""
    counts = Counter(SKIP_CODES.get(s.code, s.code) for s in skipped)
    return (f"{len(skipped)} statements left out: "
            + "; ".join(f"{n} {r}" for r, n in counts.most_common()))


def print_workload(out: Console, source: str, filters: Filters, workload: Workload) -> None:
    print_statements(out, workload.statements, f"Workload from {source}: {filters.describe()}")
    for note in workload.notes:
        out.print(f"note: {note}", soft_wrap=True)
    if workload.skipped:
        out.print(skipped_summary(workload.skipped), soft_wrap=True)


def print_proposal(out: Console, number: int, p: Proposal) -> None:
    """One proposal: its change and rollback, gains, measurements, reasoning, factors."""
    out.print(f"[bold]{number}. {p.title}[/]  confidence [bold]{p.confidence:.0f}%[/] "
              f"→ {describe_action(p.action)}", soft_wrap=True)
    out.print(f"   {_ended(p.forward)}", markup=False, soft_wrap=True)
    out.print(f"   rollback: {_ended(p.rollback)}", markup=False, soft_wrap=True)
    size = getattr(p.detail, "size_bytes", None)
    meas = "not measured" if p.measured_gain is None else f"{p.measured_gain:.0%}"
    est = ("no planner estimate" if p.estimated_gain is None
           else f"estimated gain {p.estimated_gain:.0%}")
    out.print("   " + ("" if size is None else f"size {size / 1e6:,.1f} MB · ")
              + f"{est} · measured gain {meas}", soft_wrap=True)
    for m in p.statements:
        if m.measured:
            out.print(f"     {m.median_before:,.2f} ms → {m.median_after:,.2f} ms  "
                      f"{short(m.query, 80)}", markup=False, soft_wrap=True)
    out.print("   " + p.reasoning, markup=False, soft_wrap=True)
    out.print("   factors: " + "; ".join(f"{f.name} {f.value:.2f} ({f.detail})"
                                         for f in p.factors), markup=False, soft_wrap=True)
    if p.rejected:
        out.print(f"   [yellow]rejected:[/] {p.rejected}", soft_wrap=True)
    for flag in p.flags:
        out.print(f"   [yellow]flag:[/] {flag}", soft_wrap=True)


def _ended(text: str) -> str:
    """A statement with its semicolon; prose (or a statement that has one) as it is.

    >>> _ended("DROP INDEX i"), _ended("SET LOCAL work_mem = '8MB';  -- x"), _ended("Undo.")
    ('DROP INDEX i;', "SET LOCAL work_mem = '8MB';  -- x", 'Undo.')
    """
    stripped = text.rstrip()
    return text if stripped.endswith((";", ".")) or "--" in stripped else stripped + ";"


def print_known(out: Console, known: Sequence[Known]) -> None:
    out.print(f"\n[bold]Solved before[/] ({len(known)} statements skipped, "
              "see `pgarchitect kb show ID`)")
    for k in known:
        out.print(f"  {short(k.statement.query, 100)}", markup=False, soft_wrap=True)
        out.print(f"    {k.answer.citation()}", markup=False, soft_wrap=True)
        out.print(f"    retrieved by: {'; '.join(k.case.reasons)}", markup=False,
                  soft_wrap=True)


def print_advice(out: Console, advice: Advice) -> None:
    o = advice.options
    out.print(f"[bold]Index advice[/] ({advice.source}, what-if: {advice.engine}, budget "
              f"{o.budget / 1e6:,.0f} MB; selection {advice.selection_seconds:.1f} s, "
              f"{advice.evaluations} plans)\n")
    if not advice.proposals:
        out.print("No index to recommend.")
    for i, p in enumerate(advice.proposals, 1):
        print_proposal(out, i, p)
        out.print()
    table = Table("#", "cost before", "cost after", "result", title="Statements")
    table.add_column("statement", min_width=30, ratio=1)
    for i, s in enumerate(advice.statements, 1):
        result = ", ".join(s.indexes) if s.indexes else (s.reason or "")
        table.add_row(str(i), cost(s.cost_before), cost(s.cost_after), result,
                      short(s.query, 100))
    out.print(table)
    if advice.known:
        print_known(out, advice.known)
    if advice.skipped:
        out.print(skipped_summary(advice.skipped), soft_wrap=True)
    if advice.remembered:
        out.print(f"\nStored {len(advice.remembered)} findings in the knowledge base.")
    for note in advice.notes:
        out.print(f"note: {note}", soft_wrap=True)


def print_audit(out: Console, result: AuditResult) -> None:
    """The audit: each slow statement with what it is and what to do, then the proposals."""
    doc = result.to_json()
    c = result.counts
    out.print(f"[bold]Audit of {result.target}[/] (run {result.run_id}"
              + (", continued" if result.resumed else "") + f"; {result.source}"
              + (f", window {result.window}" if result.window else "") + ")", soft_wrap=True)
    out.print(f"{c['slow_statements']} slow statements: {c['solved_before']} solved before, "
              f"{c['rejected_before']} tried before and rejected, "
              f"{c['proposals'] - c['rejected']} proposals ({c['pr_merge']} PR merge, "
              f"{c['pr_review']} PR review, {c['log']} log, {c['investigate']} investigate), "
              f"{c['rejected']} rejected, {c['without_proposal']} without a proposal.\n",
              soft_wrap=True)
    numbers = {key: i for i, key in enumerate(result.proposals, 1)}
    table = Table("#", "calls", "mean ms", "action", "what it does · what to do",
                  title="Slow statements")
    table.add_column("statement", min_width=24, ratio=1)
    for s in doc["statements"]:
        e = s["explanation"] or {}
        if s["known"]:
            todo = s["known"]["citation"]
        elif s["proposals"]:
            todo = ", ".join(f"proposal {numbers[k]}" for k in s["proposals"] if k in numbers)
        else:
            todo = s["reason"] or "nothing to propose"
        if (s.get("kb") or {}).get("outcome"):
            todo += f" · {s['kb']['outcome']}"
        table.add_row(str(s["position"] + 1), f"{s['calls']:,}", f"{s['mean_ms']:,.1f}",
                      s["action"], f"{e.get('intent', '')} · {todo}", short(s["query"], 90))
    out.print(table)
    faster = sorted(((s["speedup"], s["position"] + 1) for s in doc["statements"]
                     if s["speedup"]), reverse=True)
    if faster:
        tenfold = sum(1 for x, _ in faster if x >= 10)
        out.print(f"Measured speed-up of the proposed changes (median before / after): "
                  f"{tenfold} of {len(doc['statements'])} statements 10x faster or more; "
                  + ", ".join(f"#{n} {x:,.1f}x" for x, n in faster), soft_wrap=True)
    for key, p in result.proposals.items():
        out.print()
        print_proposal(out, numbers[key], p)
    seconds = " · ".join(f"{k} {v:.1f} s" for k, v in doc["seconds"].items() if v)
    out.print(f"\nSteps: {seconds}" if seconds else "", soft_wrap=True)
    if result.remembered:
        out.print(f"Stored {len(result.remembered)} findings in the knowledge base.")
    if result.skipped:
        out.print(skipped_summary(result.skipped), soft_wrap=True)
    for note in result.notes:
        out.print(f"note: {note}", soft_wrap=True)
    for error in result.errors:
        out.print(f"[red]error:[/] {error}", soft_wrap=True)


def print_delivery(out: Console, d: Delivered) -> None:
    """What the delivery wrote, committed, opened and sent."""
    out.print(f"\n[bold]Delivery[/] ({d.format} migrations in {d.out_dir})")
    for f in d.files:
        out.print(f"  {f}", markup=False, soft_wrap=True)
    if d.branch:
        out.print(f"  branch {d.branch} ({(d.commit or '')[:12]}, "
                  + ("pushed" if d.pushed else "not pushed") + ")", markup=False)
    if d.pr_url:
        out.print(f"  pull request {d.pr_url}", markup=False, soft_wrap=True)
    for kind, path in d.report.items():
        out.print(f"  weekly report ({kind}): {path}", markup=False, soft_wrap=True)
    for channel, outcome in d.sends.items():
        out.print(f"  {channel}: {outcome}", markup=False, soft_wrap=True)
    for note in d.notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    for error in d.errors:
        out.print(f"[red]error:[/] {escape(error)}", soft_wrap=True)
