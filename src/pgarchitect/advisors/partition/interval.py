"""Which interval to partition by, and the partitions that cover a table's data.

Monthly by default: a dozen partitions a year keeps planning cheap and each
partition a size that vacuum, backups and retention handle well. A finer interval
is chosen only when the data or the statements ask for it: a month that would hold
more than ``MAX_PARTITION_ROWS`` rows (then weekly; daily when a week would), or
statements that all look back a week or less on a table that receives
``WEEKLY_MIN_MONTH_ROWS`` rows a month or more (a monthly partition would make them
read four times the rows they need).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

INTERVALS: Final = ("month", "week", "day")
# Rows above which one partition is too large to vacuum, index or detach
# comfortably (tens of GB at a few hundred bytes a row).
MAX_PARTITION_ROWS: Final = 50_000_000
# Below this many rows a month, a monthly partition is small enough that reading all
# of it for a week's window costs little: weekly partitions would only add planning.
WEEKLY_MIN_MONTH_ROWS: Final = 2_000_000
SHORT_WINDOW_DAYS: Final = 7.0
DAYS_PER_MONTH: Final = 30.4375
# Partitions beyond this many make planning slow (each one is opened, PostgreSQL docs
# 5.12.6 "Best Practices for Declarative Partitioning" warns past a few thousand):
# older intervals are merged into one partition from MINVALUE.
MAX_PARTITIONS: Final = 400
AHEAD: Final = 3  # intervals created ahead of the newest data

_UNITS: Final = {"day": 1.0, "days": 1.0, "week": 7.0, "weeks": 7.0, "mon": DAYS_PER_MONTH,
                 "mons": DAYS_PER_MONTH, "month": DAYS_PER_MONTH, "months": DAYS_PER_MONTH,
                 "hour": 1 / 24, "hours": 1 / 24, "year": 365.25, "years": 365.25}
_NOW: Final = re.compile(r"\b(now\(\)|current_timestamp|current_date|localtimestamp)", re.I)
_LITERAL: Final = re.compile(r"'(\d+(?:\.\d+)?)\s*([a-z]+)'", re.I)
_MAKE: Final = re.compile(r"make_interval\(\s*(days|weeks|months|hours|years)\s*=>\s*"
                          r"(\d+(?:\.\d+)?)\s*\)", re.I)


@dataclass(frozen=True)
class Choice:
    """The interval chosen and why, in a sentence."""

    interval: str  # month, week, day
    why: str


def window_days(value: str | None) -> float | None:
    """How many days back a condition's value looks from now, when it says so.

    >>> window_days("now() - CAST('7 days' AS interval)")
    7.0
    >>> window_days("now() - make_interval(days => 30)")
    30.0
    >>> window_days("now() - make_interval(days => $1)") is None
    True
    >>> window_days("$1") is None
    True
    """
    if value is None or not _NOW.search(value):
        return None
    if (m := _MAKE.search(value)) is not None:
        return float(m.group(2)) * _UNITS[m.group(1).lower()]
    if (m := _LITERAL.search(value)) is not None and m.group(2).lower() in _UNITS:
        return float(m.group(1)) * _UNITS[m.group(2).lower()]
    return None


def choose_interval(rows_per_month: float, windows: Sequence[float | None]) -> Choice:
    """The partitioning interval for a table's monthly rows and its statements' windows
    (days back from now; None where a parameter or a fixed bound decides).

    >>> choose_interval(400_000, [7.0, None]).interval
    'month'
    >>> choose_interval(90_000_000, []).interval
    'week'
    """
    per_week = rows_per_month * 7 / DAYS_PER_MONTH
    if per_week > MAX_PARTITION_ROWS:
        return Choice("day", f"a week holds about {per_week:,.0f} rows, more than the "
                             f"{MAX_PARTITION_ROWS:,} one partition should hold")
    if rows_per_month > MAX_PARTITION_ROWS:
        return Choice("week", f"a month holds about {rows_per_month:,.0f} rows, more than "
                              f"the {MAX_PARTITION_ROWS:,} one partition should hold")
    known = [w for w in windows if w is not None]
    if (windows and len(known) == len(windows) and max(known) <= SHORT_WINDOW_DAYS
            and rows_per_month >= WEEKLY_MIN_MONTH_ROWS):
        return Choice("week", f"every statement looks back {max(known):g} days or less and "
                              f"a month holds about {rows_per_month:,.0f} rows: weekly "
                              "partitions let them read one or two weeks, not a month")
    looks = (f"the statements look back {', '.join(f'{w:g}' for w in sorted(set(known)))} "
             "days" if known else "the statements' windows are parameters")
    if len(known) < len(windows) and known:
        looks += " or a parameter's"
    return Choice("month", f"about {rows_per_month:,.0f} rows a month fit one partition and "
                           f"{looks}: monthly partitions keep their number small")


def start_of(day: date, interval: str) -> date:
    """The first day of the interval holding ``day`` (weeks start on Monday, as ISO's).

    >>> start_of(date(2026, 3, 19), "month"), start_of(date(2026, 3, 19), "week")
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 16))
    """
    if interval == "month":
        return day.replace(day=1)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day


def following(start: date, interval: str) -> date:
    """The first day of the next interval.

    >>> following(date(2026, 12, 1), "month")
    datetime.date(2027, 1, 1)
    """
    if interval == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=7 if interval == "week" else 1)


@dataclass(frozen=True)
class Bound:
    """One partition: its name suffix and its range [lower, upper); lower None is MINVALUE."""

    suffix: str
    lower: date | None
    upper: date


def suffix(start: date, interval: str) -> str:
    """A partition's name suffix: ``p2026_03`` for a month, ``p2026_03_16`` otherwise."""
    return start.strftime("p%Y_%m" if interval == "month" else "p%Y_%m_%d")


def bounds(first: date, last: date, interval: str, ahead: int = AHEAD) -> list[Bound]:
    """Partitions from the interval holding ``first`` to ``ahead`` intervals past the one
    holding ``last``; past ``MAX_PARTITIONS`` the oldest are one partition from MINVALUE.

    >>> [(b.suffix, str(b.upper)) for b in bounds(date(2026, 1, 9), date(2026, 2, 2), "month", 1)]
    [('p2026_01', '2026-02-01'), ('p2026_02', '2026-03-01'), ('p2026_03', '2026-04-01')]
    """
    out: list[Bound] = []
    start = start_of(first, interval)
    end = start_of(last, interval)
    for _ in range(ahead):
        end = following(end, interval)
    while start <= end:
        nxt = following(start, interval)
        out.append(Bound(suffix(start, interval), start, nxt))
        start = nxt
    if len(out) > MAX_PARTITIONS:
        kept = out[-(MAX_PARTITIONS - 1):]
        out = [Bound("before", None, kept[0].lower or kept[0].upper), *kept]
    return out
