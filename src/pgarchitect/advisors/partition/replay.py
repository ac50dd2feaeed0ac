"""Does an earlier partition finding solve a new statement? It must filter that key.

An earlier finding's migration names the table and its partition key (its ``CREATE
TABLE ... (LIKE table ...) PARTITION BY RANGE (key)``, read from the parse tree). A
new statement is solved by it when it filters the same table's key with a
comparison (partitions would be pruned for it too) and the table is not
partitioned yet; anything else is a miss, with why.
"""

from __future__ import annotations

from collections.abc import Sequence

import pglast
from pglast import ast

from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.partition.detect import filters
from pgarchitect.analysis import ColumnRef
from pgarchitect.knowledge.replay import Check, Pair


def partitioned_by(migration: str) -> ColumnRef | None:
    """The table and key a partition migration partitions, from its first CREATE TABLE.

    >>> partitioned_by('CREATE TABLE "public"."t_partitioned" (LIKE "public"."t" '
    ...                'INCLUDING ALL) PARTITION BY RANGE ("at"); SELECT 1')
    ColumnRef(schema='public', table='t', column='at')
    """
    try:
        stmts = pglast.parse_sql(migration)
    except pglast.parser.ParseError:
        return None
    for raw in stmts:
        stmt = raw.stmt
        if not isinstance(stmt, ast.CreateStmt) or stmt.partspec is None:
            continue
        like = next((e for e in stmt.tableElts or () if isinstance(e, ast.TableLikeClause)),
                    None)
        params = [p for p in stmt.partspec.partParams or () if isinstance(p, ast.PartitionElem)]
        if like is None or like.relation is None or not params or params[0].name is None:
            continue
        rel = like.relation
        return ColumnRef(rel.schemaname or "public", rel.relname or "", params[0].name)
    return None


class PartitionChecker:
    """Replays earlier partition findings on statements, for one audit."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check(self, pairs: Sequence[Pair]) -> list[Check]:
        return [self._check(p) for p in pairs]

    def _check(self, pair: Pair) -> Check:
        key = partitioned_by(pair.finding.recommendation_sql)
        if key is None:
            return Check("miss", "the earlier finding names no partitioned table")
        table = f"{key.schema}.{key.table}"
        rel = self.ctx.catalog.relations.find(key.schema, key.table)
        if rel is None:
            return Check("miss", f"{table} is not in this database")
        if rel.kind != "table":
            return Check("miss", f"{table} is a {rel.kind} now: the earlier partitioning "
                                 "does not apply as it was written")
        if not filters(Subject(pair.statement, pair.analysis), key):
            return Check("miss", f"this statement does not filter {table} by {key.column}: "
                                 "partitioning by it would not prune its reads")
        verdict = "rejected" if pair.finding.status == "rejected" else "solved"
        return Check(verdict, f"this statement filters {table} by {key.column}, the key "
                              "the earlier finding partitions it by")

    def close(self) -> None:
        return None
