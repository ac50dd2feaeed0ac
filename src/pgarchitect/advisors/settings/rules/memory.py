"""shared_buffers and effective_cache_size against the cache hit ratio and the memory.

Evidence: the database's shared-buffer hit ratio (``pg_stat_database``: blocks found
in shared buffers over all blocks asked for), the statements' own hit ratios, and
the machine's memory where it is known
(:func:`pgarchitect.advisors.settings.machine.memory`: given, or /proc/meminfo when
the server is local). The usual sizes: shared_buffers a quarter of the memory,
effective_cache_size three quarters (the memory the kernel's cache and shared
buffers together hold; https://www.postgresql.org/docs/current/runtime-config-resource.html).

- shared_buffers under ``SHARED_SHARE`` of the memory with a hit ratio under
  ``HIT_RATIO`` (the database's, and the workload's statements' when counted) → a
  quarter. It takes effect only at a restart and cannot be tried
  with ``SET LOCAL``: its confidence comes from the evidence, no statement is measured.
- effective_cache_size at its default (4GB) on a machine with at least twice that
  in three quarters of its memory → three quarters. It only informs the planner,
  so ``SET LOCAL`` tries it on the statements whose plan it changes; when no plan
  changes it makes no difference to show, and nothing is proposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from pgarchitect.advisors.base import Context, Draft, Subject
from pgarchitect.advisors.settings.machine import Known
from pgarchitect.advisors.settings.managed import Service
from pgarchitect.advisors.settings.model import Current, mb, plan_changes
from pgarchitect.advisors.settings.verify import Change, evidence_draft, measured_draft
from pgarchitect.confidence import interpolate
from pgarchitect.proposal import Factor

SHARED_SHARE = 0.25
SHARED_UNDER = 0.9  # "under ~25%": below 90% of the quarter
CACHE_SHARE = 0.75
HIT_RATIO = 0.99
MIN_BLOCKS = 10_000  # blocks asked for before a hit ratio says anything
ROUND_KB = 256 * 1024  # proposals in steps of 256MB
# The lower the hit ratio, the surer the raise: 0.98 speaks little, 0.90 clearly.
HIT_POINTS = ((0.90, 1.0), (0.98, 0.7), (0.99, 0.6))
MEMORY_FROM = {"given": 1.0, "meminfo": 0.9}

DATABASE_HITS_SQL = """
SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()
"""


@dataclass(frozen=True)
class Hits:
    """The database's shared-buffer hits and reads since its statistics were reset."""

    hit: int
    read: int

    @property
    def ratio(self) -> float | None:
        total = self.hit + self.read
        return self.hit / total if total >= MIN_BLOCKS else None


def hits(conn: psycopg.Connection[Any]) -> Hits:
    row = conn.execute(DATABASE_HITS_SQL).fetchone()
    return Hits(int(row[0] or 0), int(row[1] or 0)) if row else Hits(0, 0)


def rounded(kb: float) -> float:
    """Down to a step of 256MB, at least one step.

    >>> mb(rounded(0.25 * 16 * 1024 * 1024)), mb(rounded(100 * 1024))
    ('4GB', '256MB')
    """
    return max(ROUND_KB, kb // ROUND_KB * ROUND_KB)


def shared_buffers_value(shared: Current, memory_mb: int, ratio: float | None) -> float | None:
    """The shared_buffers to propose (kB), or None.

    >>> mb(shared_buffers_value(Current("shared_buffers", 131072, 131072, "default"),
    ...                         65536, 0.93))
    '16GB'
    >>> shared_buffers_value(Current("shared_buffers", 131072, 131072, "default"), 65536,
    ...                      0.995) is None
    True
    """
    quarter = SHARED_SHARE * memory_mb * 1024
    if ratio is None or ratio >= HIT_RATIO or shared.value >= SHARED_UNDER * quarter:
        return None
    return rounded(quarter)


def cache_size_value(cache: Current, memory_mb: int) -> float | None:
    """The effective_cache_size to propose (kB), or None.

    >>> mb(cache_size_value(Current("effective_cache_size", 4194304, 4194304, "default"),
    ...                     65536))
    '48GB'
    >>> cache_size_value(Current("effective_cache_size", 4194304, 4194304, "default"),
    ...                  8192) is None
    True
    """
    wanted = CACHE_SHARE * memory_mb * 1024
    if not cache.is_default or wanted < 2 * cache.value:
        return None
    return rounded(wanted)


def _workload_ratio(subjects: Sequence[Subject]) -> float | None:
    """The statements' own hit ratio, all blocks together (None: no counters): a
    database whose other readers miss the cache is no reason when these statements
    do not."""
    hit = sum(s.statement.shared_blks_hit for s in subjects)
    read = sum(s.statement.shared_blks_read for s in subjects)
    return hit / (hit + read) if hit + read else None


def _statement_hits(subjects: Sequence[Subject]) -> str | None:
    """The statements that read most from outside shared buffers, as evidence."""
    read = sorted((s.statement for s in subjects if s.statement.shared_blks_read > 0),
                  key=lambda s: -s.shared_blks_read)[:3]
    if not read:
        return None
    return "Statements reading most blocks from outside shared buffers: " + "; ".join(
        f"{s.shared_blks_read:,} read, hit ratio {s.hit_ratio:.1%}" for s in read
        if s.hit_ratio is not None) + "."


def propose(ctx: Context, subjects: Sequence[Subject], settings: dict[str, Current],
            memory: Known, service: Service, advisor: str) -> tuple[list[Draft], list[str]]:
    """Drafts for shared_buffers and effective_cache_size, and notes."""
    if memory.value is None:
        return [], [f"shared_buffers, effective_cache_size: the machine's memory is "
                    f"{memory.how}: not proposed"]
    memory_mb = int(memory.value)
    found = hits(ctx.conn)
    drafts: list[Draft] = []
    notes: list[str] = []
    dbname = ctx.conn.info.dbname
    origin = "given" if "machine_memory_mb" in memory.how else "meminfo"
    memory_text = f"{mb(memory_mb * 1024)} of memory ({memory.how})"
    shared = settings["shared_buffers"]
    workload = _workload_ratio(subjects)
    value = shared_buffers_value(shared, memory_mb, found.ratio)
    if value is None or (workload is not None and workload >= HIT_RATIO):
        ratio = "unknown" if found.ratio is None else f"{found.ratio:.2%}"
        if workload is not None:
            ratio += f" (the workload's statements {workload:.2%})"
        notes.append(f"shared_buffers {mb(shared.value)}: hit ratio {ratio}, "
                     f"{memory_text}: not proposed")
    else:
        assert found.ratio is not None
        evidence = [f"Cache hit ratio {found.ratio:.2%} ({found.hit:,} blocks hit, "
                    f"{found.read:,} read since the database's statistics were reset).",
                    f"shared_buffers {mb(shared.value)} is "
                    f"{shared.value / (memory_mb * 1024):.0%} of {memory_text}."]
        if (per_statement := _statement_hits(subjects)) is not None:
            evidence.append(per_statement)
        change = Change(
            "shared_buffers", mb(value), mb(shared.value), "memory",
            problem=(f"The cache hit ratio is {found.ratio:.1%} with shared_buffers "
                     f"{mb(shared.value)} on a machine with {mb(memory_mb * 1024)}"),
            reasoning=(f"shared_buffers {mb(value)} is a quarter of the machine's memory, the "
                       "usual size for a dedicated server; more of the blocks the statements "
                       "read would stay in shared buffers."),
            evidence=tuple(evidence), service=service, restart=True,
            facts=(("hit_ratio", round(found.ratio, 4)), ("memory_mb", memory_mb)))
        factors = [Factor("hit ratio", interpolate(found.ratio, HIT_POINTS),
                          f"{found.ratio:.2%} of blocks found in shared buffers"),
                   Factor("memory known", MEMORY_FROM[origin], memory.how)]
        drafts.append(evidence_draft(change, factors, "shared_buffers takes effect only at "
                                     "a restart and cannot be tried with SET LOCAL", advisor,
                                     dbname))
    cache = settings["effective_cache_size"]
    target = cache_size_value(cache, memory_mb)
    if target is None:
        notes.append(f"effective_cache_size {mb(cache.value)} ({cache.source}), "
                     f"{memory_text}: not proposed")
        return drafts, notes
    change = Change(
        "effective_cache_size", mb(target), mb(cache.value), "memory",
        problem=(f"effective_cache_size is at its default {mb(cache.value)} on a machine "
                 f"with {mb(memory_mb * 1024)}"),
        reasoning=(f"effective_cache_size {mb(target)}, three quarters of the memory, tells "
                   "the planner how much of a table the caches may hold; it allocates "
                   "nothing."),
        evidence=(f"effective_cache_size {mb(cache.value)} ({cache.source}); {memory_text}.",),
        service=service, facts=(("memory_mb", memory_mb),))
    changed = plan_changes(ctx.conn, subjects, {"effective_cache_size": mb(target)})
    if changed:
        drafts.append(measured_draft(ctx, change, changed, advisor))
    else:  # it only informs the planner: no plan that changes, no difference to show
        notes.append(f"effective_cache_size {mb(cache.value)}, {memory_text}: no statement's "
                     f"plan changes with {mb(target)}: not proposed")
    return drafts, notes
