"""Partitioning measured: the statements on a plain and a partitioned copy of the rows.

Inside the measurement's rolled-back transaction, :meth:`PartitionTrial.setup`
copies the table's rows (all of them up to ``partition_sample_mb``, else a
``TABLESAMPLE SYSTEM`` sample of its pages, which keeps every month represented)
into a plain table with the table's indexes, and the same rows into a table
range-partitioned as the migration would (its partitions, a DEFAULT one, the
indexes as partitioned indexes). Both are analysed. Each statement runs re-pointed
at the plain copy before and at the partitioned one after: the difference is
partitioning alone. Nobody else sees either copy; both vanish with the rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect.advisors.partition.migration import Layout, name, partitioned_index
from pgarchitect.advisors.partition.repoint import repoint
from pgarchitect.analysis import Catalog
from pgarchitect.measure import BaseTrial
from pgarchitect.plans import Plan

SAMPLE_SEED = 42  # TABLESAMPLE ... REPEATABLE: the same pages every run


@dataclass(frozen=True)
class Pruning:
    """Partitions one run after the change read, of how many."""

    scanned: int
    total: int

    @property
    def pruned(self) -> bool:
        return self.scanned < self.total


@dataclass
class PartitionTrial(BaseTrial):
    """A plain and a partitioned copy of a table's rows; statements re-pointed at each."""

    layout: Layout
    originals: tuple[str, ...]  # pg_get_indexdef of every index of the table
    sample_pct: float | None  # None: every row
    catalog: Catalog | None = None
    seen: dict[str, list[Pruning]] = field(default_factory=dict)
    _current: str = ""
    _partitions: frozenset[str] = frozenset()

    @property
    def plain(self) -> tuple[str, str]:
        return (self.layout.schema, name(self.layout.table, "_pga_plain"))

    @property
    def parted(self) -> tuple[str, str]:
        return (self.layout.schema, name(self.layout.table, "_pga_parted"))

    def describe(self) -> str:
        """What the copies hold, in words."""
        if self.sample_pct is None:
            return "every row of the table"
        return (f"a sample of {self.sample_pct:.2g}% of the table's pages (TABLESAMPLE SYSTEM, "
                "every month represented)")

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        lay = self.layout
        table = sql.Identifier(lay.schema, lay.table)
        plain, parted = sql.Identifier(*self.plain), sql.Identifier(*self.parted)
        key = sql.Identifier(lay.key)
        sample: sql.Composable = sql.SQL("")
        if self.sample_pct is not None:
            sample = sql.SQL(" TABLESAMPLE SYSTEM ({}) REPEATABLE ({})").format(
                sql.Literal(self.sample_pct), sql.Literal(SAMPLE_SEED))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(plain, table))
        conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}{}").format(plain, table, sample))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS) "
                             "PARTITION BY RANGE ({})").format(parted, table, key))
        names = []
        for b in lay.bounds:
            part = name(self.parted[1], "_" + b.suffix)
            names.append(part)
            lower = sql.SQL("MINVALUE") if b.lower is None else sql.Literal(b.lower)
            conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})")
                         .format(sql.Identifier(lay.schema, part), parted, lower,
                                 sql.Literal(b.upper)))
        default = name(self.parted[1], "_default")
        names.append(default)
        conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
            sql.Identifier(lay.schema, default), parted))
        conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(parted, plain))
        for definition in self.originals:
            # The table's own index definitions, as the server printed them, re-targeted
            # in the parse tree: the plain copy gets them as they are, the partitioned
            # one with the key added to unique ones, as the migration does.
            conn.execute(sql.SQL(partitioned_index(definition, lay.schema, self.plain[1],
                                                   None)[0]))
            conn.execute(sql.SQL(partitioned_index(definition, lay.schema, self.parted[1],
                                                   lay.key)[0]))
        conn.execute(sql.SQL("ANALYZE {}, {}").format(plain, parted))
        self._partitions = frozenset(f"{lay.schema}.{n}" for n in names)

    def baseline(self, query: str) -> str:
        return repoint(query, (self.layout.schema, self.layout.table), self.plain, self.catalog)

    def statement(self, query: str) -> str:
        # measure() asks for the statement after the change right before it asks
        # used() of its plans: what used() sees is filed under this statement.
        self._current = query
        return repoint(query, (self.layout.schema, self.layout.table), self.parted,
                       self.catalog)

    def used(self, plan: Plan) -> bool:
        """Whether the run read fewer partitions than there are (pruned at planning, or
        at execution: ``now()`` and parameters prune when the executor starts)."""
        scanned = {n.relation for n in plan.nodes()
                   if n.relation in self._partitions and (n.loops is None or n.loops > 0)}
        pruning = Pruning(len(scanned), len(self._partitions))
        self.seen.setdefault(self._current, []).append(pruning)
        return pruning.pruned
