"""Foreign key without an index: each delete or key update on the referenced table
looks the key up in the referencing table, and joins on it find no index.

Found when no valid index of the referencing table leads with the key's columns (a
composite index that starts with them covers them), the table is large enough, and
the key is exercised: the referenced table has deletes or updates (each runs the
key's check, or its ``ON DELETE`` action, on this table), or the workload's
statements join on the columns. The index is measured for real (the index
advisor's :class:`IndexTrial`, in a rolled-back transaction) on those statements
and on the lookup the key's check runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from pgarchitect.advisors.base import Context, Draft, Subject
from pgarchitect.advisors.hygiene.model import (
    Finding,
    ForeignKeyFacts,
    HygieneDetail,
    Limits,
    Snapshot,
    leads_with,
    size,
)
from pgarchitect.advisors.index.verify import IndexTrial
from pgarchitect.analysis import analyze
from pgarchitect.catalog.index import IndexDef, IndexKey, quote
from pgarchitect.confidence import measured_factors, score
from pgarchitect.measure import StatementInput
from pgarchitect.proposal import Factor, Measurement, Proposal
from pgarchitect.report import short

RULE = "fk_missing"
UNEXERCISED = 0.9  # only joins exercise the key: no deletes or updates on the referenced table


def lookup_sql(index: IndexDef) -> str:
    """The lookup the key's check runs on the referencing table for each referenced row
    deleted (or whose key is updated)."""
    where = " AND ".join(f"{quote(c)} = ${n}" for n, c in enumerate(index.columns, 1))
    return f"SELECT 1 FROM ONLY {quote(index.schema)}.{quote(index.table)} x WHERE {where}"


def joins(fk: ForeignKeyFacts, subjects: Sequence[Subject]) -> list[Subject]:
    """The statements that join on the key's columns."""
    cols = {(fk.schema, fk.table, c) for c in fk.columns}
    return [s for s in subjects if not s.analysis.error and any(
        "join" in u.roles and (u.column.schema, u.column.table, u.column.column) in cols
        for u in s.analysis.columns)]


def find(conn: psycopg.Connection[Any], snapshot: Snapshot, limits: Limits,
         subjects: Sequence[Subject] = ()) -> list[Finding]:
    out = []
    for fk in snapshot.foreign_keys:
        if fk.table_kind != "table" or fk.table_bytes < limits.min_fk_table_bytes:
            continue  # a partitioned table's index cannot be built concurrently
        if any(leads_with(i, fk.columns) for i in snapshot.indexes
               if (i.schema, i.table) == (fk.schema, fk.table)):
            continue
        joined = joins(fk, subjects)
        writes = fk.ref_writes.deletes + fk.ref_writes.updates
        if not writes and not joined:
            continue
        index = IndexDef(fk.schema, fk.table, tuple(IndexKey(c) for c in fk.columns))
        cols = ", ".join(quote(c) for c in fk.columns)
        evidence = [f"no index of {fk.table_qualified} leads with ({cols})",
                    f"table {fk.table_qualified}: {size(fk.table_bytes)}",
                    f"referenced table {fk.ref_qualified}: {fk.ref_writes.text()} since the "
                    f"reset; ON DELETE {fk.on_delete.upper()}, ON UPDATE {fk.on_update.upper()}"]
        evidence += [f"joins on it: {short(s.query, 80)}" for s in joined]
        out.append(Finding(
            RULE, f"{fk.schema}.{fk.name}", f"{fk.schema}.{fk.table}",
            f"index foreign key {fk.schema}.{fk.name} on {fk.table_qualified} ({cols})",
            f"Foreign key {fk.name} on {fk.table_qualified} ({cols}) has no index: each "
            f"delete or key update on {fk.ref_qualified} scans {fk.table_qualified}",
            f"An index on ({cols}) serves the key's check ({writes:,} deletes and updates on "
            f"{fk.ref_qualified} since the reset) and {len(joined)} statement"
            f"{'s' if len(joined) != 1 else ''} of the workload that join on it.",
            index.create_sql().as_string(conn), index.drop_sql().as_string(conn),
            tuple(evidence), 0, None, 0,
            facts={"foreign_key": fk.name, "columns": list(fk.columns),
                   "references": f"{fk.ref_schema}.{fk.ref_table}",
                   "ref_deletes": fk.ref_writes.deletes, "ref_updates": fk.ref_writes.updates,
                   "on_delete": fk.on_delete, "joins": [s.query for s in joined],
                   "index": index.name, "table_bytes": fk.table_bytes},
            create=index))
    return out


def draft(ctx: Context, finding: Finding, subjects: Sequence[Subject], advisor: str) -> Draft:
    """Measure the index on the statements that join on the key and on its check."""
    index = finding.create
    assert index is not None
    inputs: list[StatementInput] = []
    weights: dict[str, float] = {}
    for s in subjects:
        if s.query in finding.facts["joins"]:
            st = s.statement
            counted = st.calls > 0 and st.total_ms > 0
            weights[s.query] = st.total_ms if counted else 1.0
            inputs.append(StatementInput(s.query, s.analysis.params, st.params, weights[s.query],
                                         st.mean_ms if counted else None,
                                         st.hit_ratio if counted else None))
    if finding.facts["ref_deletes"] or finding.facts["ref_updates"]:
        query = lookup_sql(index)
        analysis = analyze(query, ctx.catalog.relations)
        weights[query] = 1.0
        inputs.append(StatementInput(query, analysis.params, (), 1.0))
    trial = IndexTrial(index, int(finding.facts["table_bytes"]),
                       max_table_bytes=ctx.config.get_int("sandbox_max_table_mb") * 2**20,
                       allow_large=ctx.allow_large)

    def finish(measurements: list[Measurement]) -> Proposal:
        est, meas, factors, flags = measured_factors(measurements, weights, change="index")
        writes = int(finding.facts["ref_deletes"]) + int(finding.facts["ref_updates"])
        factors.append(Factor("referenced table writes", 1.0 if writes else UNEXERCISED,
                              f"{writes:,} deletes and updates on "
                              f"{finding.facts['references']}"))
        return Proposal(
            kind="hygiene", title=finding.title, advisor=advisor,
            objects=(finding.table, f"{index.schema}.{index.name}"), forward=finding.forward,
            rollback=finding.rollback, statements=measurements, reasoning=finding.reasoning,
            problem=finding.problem, evidence=list(finding.evidence), estimated_gain=est,
            measured_gain=meas, confidence=score(factors), factors=factors, flags=flags,
            detail=HygieneDetail(finding.rule, finding.id, finding.target, finding.table, 0,
                                 None, 0, None, dict(finding.facts)))

    return Draft(f"hygiene:{finding.forward}", trial, inputs, {}, finish)
