"""Join keys, and the foreign keys a DELETE or UPDATE of the referenced rows checks."""

from __future__ import annotations

from pgarchitect.advisors.index.candidates.model import Candidate
from pgarchitect.advisors.index.candidates.terms import MAX_KEYS, Term, candidate, table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.index import IndexDef, IndexKey
from pgarchitect.catalog.tables import TableInfo


def join_keys(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """Each join column of the table: the inner side of a nested loop looks rows up by it.

    Which side is inner is the planner's choice, so both sides are proposed; the one
    with a primary key is usually covered already.
    """
    use = table_use(analysis, table)
    out = []
    # Joins on several columns of the same table (a composite key) go in one index.
    by_table: dict[tuple[str, str], list[Term]] = {}
    for t in use.terms:
        if t.role == "join" and t.key.column is not None and t.other is not None:
            by_table.setdefault((t.other.schema, t.other.table), []).append(t)
        elif t.role == "semi" and t.key.column is not None:
            out.append(candidate(use, [t.key], "join-key",
                                 f"IN subquery on {t.column} (a semi-join)"))
    for terms in by_table.values():
        keys = list({t.key: t for t in terms})[:MAX_KEYS]
        pairs = ", ".join(f"{t.column} = {t.other}" for t in terms)
        out.append(candidate(use, keys, "join-key", f"join on {pairs}"))
    return out


def referencing_keys(analysis: Analysis, table: TableInfo) -> list[Candidate]:
    """Deleting (or re-keying) a row looks up every foreign key that references it.

    Without an index on the referencing columns each of those lookups reads the
    whole referencing table (https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK).
    """
    if analysis.kind not in ("delete", "update", "merge") or not analysis.relations:
        return []
    target = analysis.relations[0]
    if (target.schema, target.name) != table.key:
        return []
    changed = {c.column for c in analysis.set_columns
               if (c.schema, c.table) == table.key}
    out = []
    for fk in table.referenced_by:
        if analysis.kind == "update" and not changed & set(fk.referenced_columns):
            continue
        index = IndexDef(*fk.table, tuple(IndexKey(c) for c in fk.columns))
        what = "DELETE" if analysis.kind == "delete" else analysis.kind.upper()
        out.append(Candidate(
            index, "foreign-key",
            f"{what} on {table.qualified} checks foreign key {fk.name} of "
            f"{fk.table[0]}.{fk.table[1]} ({', '.join(fk.columns)})",
            (analysis.query,)))
    return out
