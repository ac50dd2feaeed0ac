"""Vacuum: a table with many dead tuples, or with writes and no vacuum for a long time.

Autovacuum vacuums a table once its dead tuples pass ``autovacuum_vacuum_threshold``
+ ``autovacuum_vacuum_scale_factor`` * its rows: 20% of a large table by default,
which lets it carry millions of dead tuples that every scan reads past. The fix is
per table: a smaller scale factor (and autovacuum turned back on when the table has
it off), undone by ``ALTER TABLE … RESET``, and a ``VACUUM (ANALYZE)`` to run now
(it takes a SHARE UPDATE EXCLUSIVE lock: reads and writes go on). A vacuum makes the
dead tuples' space reusable by new rows; it returns almost none of it to the
operating system (the bloat rule's rewrite does).
"""

from __future__ import annotations

from typing import Final

from psycopg import sql

from pgarchitect.advisors.hygiene.model import Finding, Limits, Snapshot, TableFacts, render, size
from pgarchitect.advisors.hygiene.rules.bloat import HEAP_TUPLE_HEADER, LINE_POINTER
from pgarchitect.proposal import Factor

RULE = "vacuum"
SCALE_FACTOR: Final = 0.05  # autovacuum at 5% dead tuples rather than 20%
LARGE_SCALE_FACTOR: Final = 0.01  # above LARGE_ROWS rows, 1%
LARGE_ROWS: Final = 10_000_000
THRESHOLD: Final = 1000
ROW_BYTES: Final = 100  # a row's bytes when pg_stats does not say
SETTING_CHANGE = 0.9  # a per-table setting, undone by RESET
NEVER = 0.85  # never vacuumed: it may just not have needed it yet


def _option(t: TableFacts, name: str) -> str | None:
    for option in t.options:
        key, _, value = option.partition("=")
        if key == name:
            return value
    return None


def settings_for(t: TableFacts) -> dict[str, str]:
    """The per-table autovacuum settings proposed.

    >>> settings_for(TableFacts("public", "t", rows=50e6))
    {'autovacuum_vacuum_scale_factor': '0.01', 'autovacuum_vacuum_threshold': '1000'}
    >>> settings_for(TableFacts("public", "t", options=("autovacuum_enabled=off",)))
    {'autovacuum_enabled': 'on', 'autovacuum_vacuum_scale_factor': '0.05', \
'autovacuum_vacuum_threshold': '1000'}
    """
    scale = LARGE_SCALE_FACTOR if t.rows >= LARGE_ROWS else SCALE_FACTOR
    current = _option(t, "autovacuum_vacuum_scale_factor")
    if current is not None and float(current) <= scale:
        scale = float(current) / 2
    out = {}
    if _option(t, "autovacuum_enabled") in ("off", "false", "0"):
        out["autovacuum_enabled"] = "on"
    out["autovacuum_vacuum_scale_factor"] = f"{scale:g}"
    out["autovacuum_vacuum_threshold"] = str(THRESHOLD)
    return out


def _forward(t: TableFacts, settings: dict[str, str]) -> str:
    pairs = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v))
                               for k, v in settings.items())
    return (render(sql.SQL("ALTER TABLE {} SET ({})").format(t.identifier, pairs)) + ";\n"
            + render(sql.SQL("VACUUM (ANALYZE) {}").format(t.identifier)))


def _rollback(t: TableFacts, settings: dict[str, str]) -> str:
    """Back to what the table had: RESET what it did not set, SET again what it did."""
    before = {k: _option(t, k) for k in settings}
    parts = []
    reset = [k for k, v in before.items() if v is None]
    if reset:
        parts.append(render(sql.SQL("ALTER TABLE {} RESET ({})").format(
            t.identifier, sql.SQL(", ").join(sql.Identifier(k) for k in reset))))
    kept = {k: v for k, v in before.items() if v is not None}
    if kept:
        parts.append(render(sql.SQL("ALTER TABLE {} SET ({})").format(
            t.identifier, sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v))
                for k, v in kept.items()))))
    return ";\n".join(parts)


def find(snapshot: Snapshot, limits: Limits) -> list[Finding]:
    """Tables of at least ``vacuum_min_bytes`` with a dead share above ``dead_ratio``, or
    with writes and no vacuum in ``vacuum_max_days``."""
    out = []
    for t in snapshot.tables:
        if t.bytes < limits.vacuum_min_bytes:
            continue
        writes = t.writes.updates + t.writes.deletes + t.dead
        if t.vacuum_days is not None:
            stale = t.vacuum_days >= limits.vacuum_max_days
            age = f"last vacuumed {t.vacuum_days:.1f} days ago"
        else:
            stale = (snapshot.reset_days or 0.0) >= limits.vacuum_max_days
            age = (f"never vacuumed since the statistics began "
                   f"({snapshot.reset_days or 0.0:.1f} days)")
        dead = t.dead_ratio >= limits.dead_ratio and t.dead > 0
        if not (dead or (stale and writes)):
            continue
        settings = settings_for(t)
        disabled = "autovacuum_enabled" in settings
        reusable = t.dead * (HEAP_TUPLE_HEADER + LINE_POINTER + int(t.row_width or ROW_BYTES))
        evidence = [f"{t.dead:,} dead and {t.live:,} live tuples ({t.dead_ratio:.0%} dead; "
                    f"setting hygiene_dead_ratio {limits.dead_ratio:.0%})",
                    f"{age}; {t.writes.text()} since the reset",
                    f"size {size(t.bytes)} (pg_class.relpages)"]
        if disabled:
            evidence.append("autovacuum_enabled = off on this table: autovacuum never "
                            "vacuums it")
        why = ("its dead tuples are " + f"{t.dead_ratio:.0%} of its tuples" if dead
               else f"it has writes and was {age}")
        out.append(Finding(
            RULE, t.qualified, t.qualified, f"vacuum table {t.qualified} sooner",
            f"Table {t.qualified} is not vacuumed often enough: {why}",
            ("Autovacuum is off for this table: turning it on, " if disabled else "")
            + f"a scale factor of {settings['autovacuum_vacuum_scale_factor']} makes "
            f"autovacuum vacuum it once {THRESHOLD:,} + "
            f"{settings['autovacuum_vacuum_scale_factor']} * its rows are dead, rather "
            f"than at the server's default; the VACUUM (ANALYZE) to run now makes about "
            f"{size(reusable)} of dead tuples reusable by new rows (it returns almost "
            "nothing to the operating system) and takes no lock that blocks reads or "
            "writes. Scans stop reading past dead tuples; no write work is freed.",
            _forward(t, settings), _rollback(t, settings), tuple(evidence), 0, None, 0,
            facts={"dead": t.dead, "live": t.live, "dead_ratio": round(t.dead_ratio, 3),
                   "vacuum_days": t.vacuum_days, "settings": settings,
                   "reusable_bytes": reusable, "autovacuum_off": disabled},
            factors=(Factor("per-table setting", SETTING_CHANGE,
                            "ALTER TABLE … RESET undoes it"),
                     *((Factor("never vacuumed", NEVER, "it may not have needed it yet"),)
                       if t.vacuum_days is None and not dead else ()))))
    return out
