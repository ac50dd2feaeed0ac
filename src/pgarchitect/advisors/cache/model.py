"""What the cache advisor's rules share: why a rule did not fire, and the particulars a
cache or pre-aggregation proposal carries besides the shared record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pgarchitect.advisors.base import Skip
from pgarchitect.measure import BaseTrial

__all__ = ["CacheDetail", "Modelled", "PreaggregateDetail", "Skip"]


@dataclass(frozen=True)
class CacheDetail:
    """An application cache's model: how often the statement runs, how often its tables
    change, the time to live that follows and the database time it saves."""

    rule: str
    ttl_s: int
    calls_per_day: float
    rows_per_call: float
    writes_per_hour: dict[str, float]  # table -> rows written per hour
    hit_share: float  # the share of calls the cache would serve
    hit_basis: str  # how that share was estimated
    saved_s_per_day: float

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "ttl_s": self.ttl_s, "calls_per_day": self.calls_per_day,
                "rows_per_call": self.rows_per_call,
                "writes_per_hour": dict(self.writes_per_hour), "hit_share": self.hit_share,
                "hit_basis": self.hit_basis, "saved_s_per_day": self.saved_s_per_day}


@dataclass(frozen=True)
class PreaggregateDetail:
    """A materialized view of hourly aggregates: its name, keys, refresh and the check
    that the rewritten statement returns the same rows."""

    rule: str
    view: str
    table: str
    keys: tuple[str, ...]  # "hour" first, then the other GROUP BY columns
    refresh: str  # the SQL that refreshes it
    schedule: str
    equivalence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "view": self.view, "table": self.table,
                "keys": list(self.keys), "refresh": self.refresh, "schedule": self.schedule,
                "equivalence": dict(self.equivalence)}


class Modelled(BaseTrial):
    """The trial of a proposal no statement can time in the database (a result served
    from the application's memory): it changes nothing."""
