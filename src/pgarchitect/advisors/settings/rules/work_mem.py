"""work_mem for a statement that spills its sorts or hashes to disk.

Evidence: the statement's temporary blocks in pg_stat_statements (written by a
sort or hash that ran out of ``work_mem``). The value proposed holds four times
what one call wrote to disk (an in-memory sort or hash table takes more room than
its compact on-disk runs), rounded up to a power of two, at least twice the
current value, at most ``MAX_MB``. It is proposed per statement, with ``SET LOCAL``
in the transaction that runs it, and the memory it would risk if set for every
session is said: each sort or hash node of each session may take ``work_mem``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pgarchitect.plans import Plan
from pgarchitect.workload import Statement

BLOCK_KB = 8  # PostgreSQL's block size (the default build)
MAX_MB = 1024  # never proposed above this
IN_MEMORY_FACTOR = 4  # memory an in-memory sort or hash takes, over what spilled


@dataclass(frozen=True)
class Spill:
    """A statement that spills, and the work_mem that would keep it in memory."""

    spilled_kb_per_call: float
    current_kb: int
    proposed_mb: int

    @property
    def value(self) -> str:
        return f"{self.proposed_mb}MB"


def spill_of(statement: Statement, current_kb: int) -> Spill | None:
    """The spill of a statement from its counters, or None when it does not spill.

    >>> spill_of(Statement("q", calls=100, temp_blks_written=97174), 4096).value
    '32MB'
    >>> spill_of(Statement("q", calls=5), 4096) is None
    True
    """
    if statement.calls <= 0 or statement.temp_blks_written <= 0:
        return None
    per_call = statement.temp_blks_written * BLOCK_KB / statement.calls
    wanted_mb = max(IN_MEMORY_FACTOR * per_call / 1024, 2 * current_kb / 1024)
    proposed = min(MAX_MB, 2 ** math.ceil(math.log2(max(wanted_mb, 1.0))))
    if proposed * 1024 <= current_kb:
        return None
    return Spill(per_call, current_kb, proposed)


def in_memory(plan: Plan) -> bool:
    """Whether no sort or hash of an analysed plan went to disk."""
    return not any(node.spilled for node in plan.nodes())


def risk(spill: Spill, max_connections: int) -> str:
    """What the value would risk if it were set for every session."""
    total_mb = spill.proposed_mb * max_connections
    total = f"{total_mb / 1024:.1f} GB" if total_mb >= 1024 else f"{total_mb} MB"
    return (f"set for every session, {max_connections} connections (max_connections) could "
            f"take {total} or more at once (each sort or hash node may use work_mem): set it "
            "for this statement only")


def current_kb(row: Any) -> int:
    """work_mem in kB from ``SELECT setting FROM pg_settings`` (its unit is kB)."""
    return int(row[0])
