"""Candidates: the indexes that could make a workload's statements cheaper.

:func:`generate` reads the analyses of the statements and what is known of their
tables (:class:`TableInfo`, from :func:`load_tables` or :func:`tables_from_ddl`),
runs each rule of :data:`RULES` on each table a statement touches, merges what
several statements or rules propose, and drops what an existing index already
does. Heuristics only propose: the what-if stage asks the planner which
candidates it would use (house style rule 14).

Each rule is a plain function ``(analysis, table) -> list[Candidate]`` in a file of
its own; adding one touches that file, :data:`RULES` and one golden fixture
(``tests/fixtures/candidates/<rule>.sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Final

from pgarchitect.advisors.index.candidates.brin import brin
from pgarchitect.advisors.index.candidates.cover import covering_index, covers, serves_foreign_key
from pgarchitect.advisors.index.candidates.covering import covering
from pgarchitect.advisors.index.candidates.expression import expression
from pgarchitect.advisors.index.candidates.joins import join_keys, referencing_keys
from pgarchitect.advisors.index.candidates.model import Candidate, CandidateSet, Skip
from pgarchitect.advisors.index.candidates.multi import multi_column
from pgarchitect.advisors.index.candidates.ordering import order_by_limit
from pgarchitect.advisors.index.candidates.partial import partial
from pgarchitect.advisors.index.candidates.pattern import pattern
from pgarchitect.advisors.index.candidates.single import single_column
from pgarchitect.advisors.index.candidates.terms import table_use
from pgarchitect.analysis import Analysis
from pgarchitect.catalog.index import IndexDef
from pgarchitect.catalog.tables import (
    INDEXABLE_KINDS,
    ColumnInfo,
    ExistingIndex,
    ForeignKey,
    TableInfo,
    load_tables,
    parse_index,
    tables_from_ddl,
)

__all__ = [
    "INDEXABLE_KINDS",
    "RULES",
    "Candidate",
    "CandidateSet",
    "ColumnInfo",
    "ExistingIndex",
    "ForeignKey",
    "Rule",
    "Skip",
    "TableInfo",
    "covers",
    "generate",
    "load_tables",
    "parse_index",
    "tables_from_ddl",
]

Rule = Callable[[Analysis, TableInfo], list[Candidate]]

# One-key rules first, then several keys, then the variants of those (partial,
# INCLUDE), BRIN last. When two rules propose the same index for a statement, the
# first one's name and reason are kept.
RULES: Final[tuple[Rule, ...]] = (
    join_keys,
    referencing_keys,
    single_column,
    expression,
    pattern,
    multi_column,
    order_by_limit,
    partial,
    covering,
    brin,
)

NOTHING_TO_INDEX: Final = "No column filters, joins or sorts to index"


def generate(analyses: Sequence[Analysis],
             tables: Mapping[tuple[str, str], TableInfo]) -> CandidateSet:
    """Candidate indexes for the statements, each once, and why some were left out.

    Candidates that serve a foreign key without an index come first, then the
    others in the order statements and rules proposed them.

    >>> from pgarchitect.analysis import Catalog, analyze
    >>> ddl = "CREATE TABLE t (id int PRIMARY KEY, a int, b timestamptz)"
    >>> q = "SELECT id FROM t WHERE a = $1 ORDER BY b DESC LIMIT 10"
    >>> result = generate([analyze(q, Catalog.from_ddl(ddl))], tables_from_ddl(ddl))
    >>> [f"{c.rule}: {c}" for c in result.candidates]
    ['single-column: public.t (a)', 'single-column: public.t (b DESC)', \
'multi-column: public.t (a, b DESC)', 'covering: public.t (a, b DESC) INCLUDE (id)']
    """
    found: dict[IndexDef, Candidate] = {}
    skips: dict[str, list[str]] = {}
    codes: dict[str, str] = {}

    def skip(reason: str, queries: Sequence[str], code: str = "no_candidate") -> None:
        listed = skips.setdefault(reason, [])
        listed.extend(q for q in queries if q not in listed)
        codes.setdefault(reason, code)

    for analysis in analyses:
        query = analysis.query
        targets, reasons = _targets(analysis, tables)
        proposed = 0
        for table in targets:
            reasons.extend(table_use(analysis, table).notes)
            for rule in RULES:
                for c in rule(analysis, table):
                    proposed += 1
                    seen = found.get(c.index)
                    if seen is None:
                        found[c.index] = c
                    elif query not in seen.statements:
                        found[c.index] = replace(seen, statements=(*seen.statements, query))
        if not proposed and not reasons:
            reasons.append(NOTHING_TO_INDEX)
        for reason in reasons:
            skip(reason, [query])

    kept: list[Candidate] = []
    for c in found.values():
        info = tables.get((c.index.schema, c.index.table))
        if info is None:
            skip(f"Table not present: {c.index.schema}.{c.index.table}", c.statements,
                 "no_table")
            continue
        existing = covering_index(c.index, info)
        if existing is not None:
            if existing.index.method == c.index.method:
                skip(f"Existing index {existing.name} already covers {c.index}", c.statements,
                     "covered")
            else:
                skip(f"Existing index {existing.name} ({existing.index.method}) already "
                     f"serves {c.index}", c.statements, "covered")
            continue
        invalid = covering_index(c.index, info, valid=False)
        if invalid is not None:
            skip(f"Existing index {invalid.name} would cover {c.index} but is invalid (left "
                 f"by a failed CREATE INDEX CONCURRENTLY?): drop it and build it again",
                 c.statements, "invalid_index")
        fk = serves_foreign_key(c.index, info)
        kept.append(replace(c, foreign_key=fk.name) if fk is not None else c)
    kept.sort(key=lambda c: c.foreign_key is None)
    return CandidateSet(tuple(kept), tuple(Skip(r, tuple(q), codes[r])
                                                  for r, q in skips.items()))


def _targets(analysis: Analysis,
             tables: Mapping[tuple[str, str], TableInfo]) -> tuple[list[TableInfo], list[str]]:
    """The tables of a statement that an index can be built on, and reasons for the rest."""
    if analysis.error is not None:
        problem = analysis.error.removeprefix("Could not parse query: ")
        return [], [f"Statement could not be parsed: {problem}"]
    reasons: list[str] = []
    targets: dict[tuple[str, str], TableInfo] = {}
    kinds = {r.kind for r in analysis.relations} - {"cte", "function"}
    if kinds == {"system catalog"}:
        return [], ["Only system catalogs"]
    for r in analysis.relations:
        if r.kind in ("view", "cte", "function", "system catalog"):
            continue  # a view's base tables are listed too
        # Analysed without a catalog, a relation's kind is "unknown": the table says.
        info = tables.get((r.schema, r.name))
        kind = info.kind if info is not None else r.kind
        if kind == "foreign table":
            reasons.append(f"Foreign table {r.qualified}: no index possible")
        elif info is None:
            reasons.append(f"Table not present: {r.qualified}")
        elif kind in INDEXABLE_KINDS:
            targets[info.key] = info
    return list(targets.values()), reasons
