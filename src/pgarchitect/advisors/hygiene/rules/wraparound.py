"""Wraparound: transaction IDs used since a table's rows were last frozen.

A transaction ID is 32 bits: a row older than 2^31 transactions would look as if it
were in the future, so the server stops assigning IDs (every write fails) when fewer
than 3 million remain (https://www.postgresql.org/docs/current/routine-vacuuming.html
#VACUUM-FOR-WRAPAROUND). Autovacuum freezes a table once its ``age(relfrozenxid)``
passes ``autovacuum_freeze_max_age``; a table above that for long means it cannot
(a long transaction, a lock, autovacuum off or too slow). The margin is given in
transactions, and in days when the rate of new IDs is known. Above
``hygiene_wraparound_max_age`` the oldest tables get a ``VACUUM (FREEZE, VERBOSE)``;
above 1.5 billion the finding is critical.
"""

from __future__ import annotations

from typing import Final

from psycopg import sql

from pgarchitect.advisors.hygiene.model import Finding, Limits, Snapshot, render
from pgarchitect.proposal import Factor

RULE = "wraparound"
LIMIT: Final = 2**31
STOP_MARGIN: Final = 3_000_000  # the server refuses new IDs this close to the limit
CRITICAL: Final = 1_500_000_000
OLDEST: Final = 10  # tables proposed, the oldest first
ROLLBACK = "-- none needed: freezing changes no row's data, only marks rows as visible to all"


def margin(age: int) -> int:
    """Transactions left before the server stops assigning IDs.

    >>> margin(200_000_000)
    1944483648
    """
    return max(LIMIT - STOP_MARGIN - age, 0)


def margin_text(age: int, per_day: float | None, source: str) -> str:
    """The margin in transactions and, with the rate, in days.

    >>> margin_text(2_000_000_000, 10_000_000.0, "since the last checkpoint")
    '144,483,648 transactions left before the server stops writes: ~14.4 days at \
10,000,000 per day (since the last checkpoint)'
    >>> margin_text(2_000_000_000, None, "unknown: no checkpoint yet")
    '144,483,648 transactions left before the server stops writes (days: the rate is \
unknown: no checkpoint yet)'
    """
    left = margin(age)
    if per_day:
        return (f"{left:,} transactions left before the server stops writes: "
                f"~{left / per_day:.1f} days at {per_day:,.0f} per day ({source})")
    return (f"{left:,} transactions left before the server stops writes (days: the rate is "
            f"{source})")


def _factors(age: int, snapshot: Snapshot) -> tuple[Factor, ...]:
    urgency = 1.0 if age >= CRITICAL or age >= snapshot.freeze_max_age else 0.9
    return (Factor("freeze urgency", urgency,
                   f"age {age:,}; autovacuum_freeze_max_age {snapshot.freeze_max_age:,}"),)


def find(snapshot: Snapshot, limits: Limits) -> list[Finding]:
    """The oldest tables with ``age(relfrozenxid)`` at or above ``wraparound_max_age``;
    the database itself when its oldest is none of them (a catalog, another schema)."""
    out = []
    old = sorted((t for t in snapshot.tables if t.xid_age >= limits.wraparound_max_age),
                 key=lambda t: (-t.xid_age, t.qualified))[:OLDEST]
    for t in old:
        critical = t.xid_age >= CRITICAL
        past = t.xid_age >= snapshot.freeze_max_age
        out.append(Finding(
            RULE, t.qualified, t.qualified,
            f"{'CRITICAL: ' if critical else ''}freeze table {t.qualified}",
            f"Table {t.qualified} has rows {t.xid_age:,} transactions old, unfrozen: "
            + margin_text(t.xid_age, snapshot.xid_per_day, snapshot.xid_rate_source),
            ("It is past autovacuum_freeze_max_age "
             f"({snapshot.freeze_max_age:,}): autovacuum should have frozen it and has not "
             "(look for a long-running transaction, a prepared transaction or a replication "
             "slot holding the xmin back, or autovacuum off). " if past else
             f"It is below autovacuum_freeze_max_age ({snapshot.freeze_max_age:,}), above "
             f"hygiene_wraparound_max_age ({limits.wraparound_max_age:,}). ")
            + "VACUUM (FREEZE) marks its rows frozen now, reading the whole table; it takes "
            "a SHARE UPDATE EXCLUSIVE lock (reads and writes go on). It frees no space and "
            "no write work.",
            render(sql.SQL("VACUUM (FREEZE, VERBOSE) {}").format(t.identifier)), ROLLBACK,
            (f"age(relfrozenxid) {t.xid_age:,} (the table's or its TOAST table's)",
             f"database age(datfrozenxid) {snapshot.database_xid_age:,}; "
             f"autovacuum_freeze_max_age {snapshot.freeze_max_age:,}",
             f"transaction ID rate: {snapshot.xid_per_day:,.0f} per day "
             f"({snapshot.xid_rate_source})" if snapshot.xid_per_day is not None
             else f"transaction ID rate: {snapshot.xid_rate_source}"),
            0, None, 0,
            facts={"xid_age": t.xid_age, "margin": margin(t.xid_age), "critical": critical,
                   "days_left": (margin(t.xid_age) / snapshot.xid_per_day
                                 if snapshot.xid_per_day else None),
                   "freeze_max_age": snapshot.freeze_max_age},
            factors=_factors(t.xid_age, snapshot)))
    age = snapshot.database_xid_age
    if age >= limits.wraparound_max_age and not any(t.xid_age >= age for t in old):
        out.append(Finding(
            RULE, f"database.{snapshot.database}", f"database.{snapshot.database}",
            f"{'CRITICAL: ' if age >= CRITICAL else ''}freeze database {snapshot.database}",
            f"Database {snapshot.database} has rows {age:,} transactions old, unfrozen, in "
            "a relation none of its user tables: "
            + margin_text(age, snapshot.xid_per_day, snapshot.xid_rate_source),
            "A database-wide VACUUM (FREEZE), connected to it, freezes its system catalogs "
            "and every table; it reads every table. It frees no space and no write work.",
            "VACUUM (FREEZE, VERBOSE)", ROLLBACK,
            (f"age(datfrozenxid) {age:,}; autovacuum_freeze_max_age "
             f"{snapshot.freeze_max_age:,}",),
            0, None, 0,
            facts={"xid_age": age, "margin": margin(age), "critical": age >= CRITICAL},
            factors=_factors(age, snapshot)))
    return out
