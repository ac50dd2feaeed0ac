"""Verification of an index: is the gain real? And how sure are we?

The index is really built inside the transaction :func:`pgarchitect.measure.measure`
rolls back (:class:`IndexTrial`); building it holds a SHARE lock on the table
(writes wait) for as long as that transaction lasts, so tables above a size limit
are not built unless the user allows it. The confidence of an index adds three
factors of its own to the shared ones: its share of the workload's benefit, its
write overhead and its size against the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgarchitect.advisors.index.selection import Choice
from pgarchitect.catalog.index import IndexDef
from pgarchitect.confidence import interpolate, measured_factors, score
from pgarchitect.measure import BaseTrial
from pgarchitect.plans import Plan
from pgarchitect.proposal import Factor, Measurement

DEFAULT_MAX_TABLE_BYTES = 2 * 1024**3  # build at most 2 GB tables in the sandbox

# The index and, on a partitioned table, the index of each partition: the names a
# plan shows (schema-qualified, as EXPLAIN VERBOSE prints them).
INDEX_NAMES_SQL = """
SELECT n.nspname || '.' || c.relname
FROM pg_partition_tree(%s::regclass) p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
"""

# Whether the role may build an index on the table (CREATE INDEX needs ownership,
# or membership in the owning role), and who owns it.
OWNERSHIP_SQL = """
SELECT pg_has_role(c.relowner, 'USAGE'), pg_get_userbyid(c.relowner)
FROM pg_class c WHERE c.oid = %s::regclass
"""

SHARE_POINTS = ((0.0, 0.85), (0.1, 1.0))
OVERHEAD_POINTS = ((0.05, 1.0), (1.0, 0.3))
BUDGET_POINTS = ((0.5, 1.0), (1.0, 0.85))


def not_owner(table: str, owner: str | None = None) -> str:
    """Why an index could not be measured by a role that does not own its table."""
    by = f" (owned by {owner})" if owner else ""
    return (f"Not measured: building the index needs ownership of the table {table}{by}, "
            "even in a transaction that is rolled back; run the measurement as the table's "
            "owner or a member of the owning role (what-if with HypoPG needs no ownership)")


@dataclass
class IndexTrial(BaseTrial):
    """An index built (not concurrently) inside the measurement's transaction."""

    index: IndexDef
    table_bytes: int  # the table's size with its indexes, from the catalog
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES
    allow_large: bool = False
    names: set[str] = field(default_factory=set)  # what plans call it, once built

    def refusal(self, conn: psycopg.Connection[Any]) -> str | None:
        size = self.table_bytes
        if size > self.max_table_bytes and not self.allow_large:
            return (f"Not measured: table {self.index.schema}.{self.index.table} is "
                    f"{size / 1e9:.1f} GB, above the limit of {self.max_table_bytes / 1e9:.1f} "
                    "GB for building it in a rolled-back transaction (allow large tables to "
                    "measure it)")
        qualified = psycopg.sql.Identifier(self.index.schema, self.index.table).as_string(conn)
        row = conn.execute(OWNERSHIP_SQL, [qualified]).fetchone()
        if row is not None and not row[0]:
            return not_owner(f"{self.index.schema}.{self.index.table}", str(row[1]))
        return None

    def apply(self, conn: psycopg.Connection[Any]) -> None:
        index = self.index
        conn.execute(index.create_sql(concurrently=False))
        qualified = psycopg.sql.Identifier(index.schema, index.name).as_string(conn)
        self.names = {index.name, f"{index.schema}.{index.name}"} | {
            str(r[0]) for r in conn.execute(INDEX_NAMES_SQL, [qualified]).fetchall()}

    def used(self, plan: Plan) -> bool:
        return bool(self.names & set(plan.indexes_used()))


@dataclass
class Verified:
    """A chosen index after measurement: gains side by side, confidence and its factors."""

    choice: Choice
    measurements: list[Measurement]
    estimated_gain: float | None
    measured_gain: float | None
    confidence: float = 0.0  # 0..100
    factors: list[Factor] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def index(self) -> IndexDef:
        return self.choice.index


def confidence(
    choice: Choice,
    measurements: Sequence[Measurement],
    weights: Mapping[str, float],
    *,
    workload_benefit_share: float,
    budget: int,
) -> Verified:
    """Measured and estimated gains side by side, flags, and confidence from its factors."""
    est, meas, factors, flags = measured_factors(measurements, weights, change="index")
    factors.append(Factor("share of the workload", interpolate(workload_benefit_share,
                                                               SHARE_POINTS),
                          f"{workload_benefit_share:.0%} of the benefit found"))
    ratio = choice.overhead / choice.benefit if choice.benefit > 0 else 1.0
    factors.append(Factor("write overhead", interpolate(ratio, OVERHEAD_POINTS),
                          f"{ratio:.0%} of its benefit spent on writes"))
    share = choice.size / budget if budget else 1.0
    factors.append(Factor("size vs budget", interpolate(share, BUDGET_POINTS),
                          f"{choice.size / 1e6:.1f} MB, {share:.0%} of the budget"))
    return Verified(choice, list(measurements), est, meas, score(factors), factors, flags)
