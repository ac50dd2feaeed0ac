"""A frequent, small read of tables that rarely change → a cache in the application.

A statement called thousands of times a day whose result is a few rows, over tables
written a few times an hour, reads the same rows again and again. A cache keyed by
the statement and its parameter values, kept for a time to live (TTL) derived from
the write rate (half the mean time between writes, within ``cache_min_ttl_s`` and
``cache_max_ttl_s``) and dropped when one of its tables is written, serves most
calls without the database. A write (INSERT, UPDATE, DELETE) is never cached, nor a
statement whose result depends on the time it runs or calls a volatile function.

The gain is modelled, not measured: a call served from the application's memory
cannot be timed in the database. The share of calls a cache serves depends on how
the parameter values repeat: with bind values seen (a log), each distinct set is
assumed read once per TTL; without them, :data:`ASSUMED_SHARE` is assumed, and said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pgarchitect.advisors.cache.model import Skip
from pgarchitect.analysis import Analysis
from pgarchitect.workload import Statement

NAME: Final = "app_cache"
LABEL: Final = "application cache"
ASSUMED_SHARE: Final = 0.5  # calls served when the parameter values are unknown
SECONDS_PER_DAY: Final = 86_400.0
# Functions that make a result depend on the moment it is read, besides the volatile
# ones pg_proc names: a cached copy would be wrong as soon as it is kept.
TIME_FUNCTIONS: Final = frozenset({"now", "transaction_timestamp", "statement_timestamp",
                                   "clock_timestamp", "timeofday", "current_timestamp",
                                   "localtimestamp", "current_date", "current_time",
                                   "localtime"})


@dataclass(frozen=True)
class Limits:
    """The settings the rule reads (``cache_*``)."""

    min_calls_per_day: float = 1000.0
    max_rows: float = 100.0
    max_writes_per_hour: float = 6.0
    min_ttl_s: int = 60
    max_ttl_s: int = 3600


@dataclass(frozen=True)
class Cache:
    """What the model concludes: the TTL, what invalidates it, and what it saves."""

    ttl_s: int
    calls_per_day: float
    rows_per_call: float
    writes_per_hour: dict[str, float]  # table -> rows written per hour
    share: float
    basis: str
    saved_s_per_day: float

    def forward(self, query: str, fingerprint: str) -> str:
        """The application change, as pseudo-code: key, TTL and invalidation."""
        tables = ", ".join(self.writes_per_hour)
        return "\n".join([
            "-- Application change (nothing runs in the database):",
            f'key = "pgarchitect:{fingerprint}:" + text(parameter values)',
            "result = cache.get(key)",
            "if result is missing:",
            f"    result = run({query})",
            f"    cache.set(key, result, ttl = {self.ttl_s} s)",
            f"-- invalidate: after every INSERT, UPDATE or DELETE on {tables}, delete the "
            f'keys "pgarchitect:{fingerprint}:*"',
        ])


def ttl(window_s: float, writes: int, limits: Limits) -> int:
    """Half the mean time between writes, within the limits.

    >>> ttl(3600.0, 4, Limits()), ttl(3600.0, 0, Limits()), ttl(3600.0, 600, Limits())
    (450, 3600, 60)
    """
    if writes <= 0:
        return limits.max_ttl_s
    return int(min(max(window_s / writes / 2.0, limits.min_ttl_s), limits.max_ttl_s))


def hit_share(calls_per_ttl: float, parameters: int,
              seen: Sequence[Sequence[str | None]]) -> tuple[float, str]:
    """The share of calls a cache would serve, and how it was estimated.

    >>> hit_share(100.0, 0, ())[0], hit_share(100.0, 1, ())[0]
    (0.99, 0.5)
    >>> hit_share(100.0, 1, [("1",), ("1",), ("2",), ("1",)])[0]
    0.5
    """
    once = max(0.0, 1.0 - 1.0 / calls_per_ttl) if calls_per_ttl > 0 else 0.0
    if parameters == 0:
        return round(once, 4), ("no parameters: one call per TTL reads the database, "
                                "the others are served from the cache")
    sets = [tuple(s) for s in seen]
    if len(sets) >= 2:
        distinct = len(set(sets))
        share = min(once, 1.0 - distinct / len(sets))
        return round(max(share, 0.0), 4), (
            f"{len(sets)} bind values seen, {distinct} distinct: each distinct parameter set "
            "assumed read from the database once per TTL")
    return round(min(once, ASSUMED_SHARE), 4), (
        f"no bind values seen: {ASSUMED_SHARE:.0%} of the calls assumed to repeat a "
        "parameter set within the TTL (a conservative guess; a log with bind values "
        "gives a better one)")


def assess(statement: Statement, analysis: Analysis, writes: Mapping[str, int],
           window_s: float, counters_s: float, limits: Limits,
           volatile: Sequence[str] = ()) -> Cache | Skip:
    """The cache a statement merits, or why none.

    ``writes`` are the rows its tables took over ``counters_s`` seconds; ``window_s``
    is the seconds the statement's own counters cover; ``volatile`` the volatile
    functions it calls.
    """
    if analysis.error:
        return Skip(analysis.error, "unparseable")
    if analysis.kind != "select":
        return Skip(f"not cached: {analysis.kind.upper()} statements change data",
                    "not_supported")
    if volatile:
        return Skip(f"not cached: its result changes with every call "
                    f"({', '.join(f'{f}()' for f in volatile)})", "not_supported")
    if not writes:
        return Skip("reads no table", "no_candidate")
    if statement.calls <= 0 or statement.mean_ms <= 0 or window_s <= 0:
        # A statement from a file or the command line: how often and how long it runs
        # is unknown, and so is what a cache would save.
        return Skip("no calls counted: how often it runs is unknown", "no_candidate")
    calls_per_day = statement.calls * SECONDS_PER_DAY / window_s
    if calls_per_day < limits.min_calls_per_day:
        return Skip(f"not cached: called {calls_per_day:,.0f} times a day, under "
                    f"cache_min_calls_per_day ({limits.min_calls_per_day:,.0f})", "no_gain")
    rows = statement.rows / statement.calls
    if rows > limits.max_rows:
        return Skip(f"not cached: {rows:,.0f} rows per call, over cache_max_rows "
                    f"({limits.max_rows:,.0f}): a large result is costly to keep", "no_gain")
    if counters_s <= 0:
        return Skip("its tables' write counters cover no time yet", "no_candidate")
    per_hour = {t: n * 3600.0 / counters_s for t, n in writes.items()}
    busy = {t: h for t, h in per_hour.items() if h >= limits.max_writes_per_hour}
    if busy:
        return Skip("not cached: " + ", ".join(
            f"{t} is written {h:,.0f} times an hour" for t, h in busy.items())
            + f" (cache_max_writes_per_hour: {limits.max_writes_per_hour:g}): a cache "
            "would be invalidated before it serves", "no_gain")
    keep = ttl(counters_s, sum(writes.values()), limits)
    share, basis = hit_share(calls_per_day * keep / SECONDS_PER_DAY, len(analysis.params),
                             statement.params)
    if share <= 0:
        return Skip(f"not cached: {basis}, so a cache would serve no call", "no_gain")
    saved = calls_per_day * statement.mean_ms * share / 1000.0
    return Cache(keep, round(calls_per_day, 1), round(rows, 2),
                 {t: round(h, 3) for t, h in per_hour.items()}, share, basis, round(saved, 1))
