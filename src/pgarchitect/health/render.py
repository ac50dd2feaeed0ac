"""A health snapshot for the terminal: one table of figures, then the sessions behind them."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pgarchitect.health.model import FIGURES, HealthSnapshot


def print_health(out: Console, snap: HealthSnapshot) -> None:
    """Figures (name, value, unit, note), then the sessions, lock waits and tables."""
    table = Table("figure", "value", "unit", "note",
                  title=f"Health of {escape(snap.database)} at "
                        f"{snap.taken_at:%Y-%m-%d %H:%M:%S %Z}")
    for name, f in snap.figures.items():
        label = f"{name} (estimated)" if f.estimated else name
        table.add_row(label, f.shown, FIGURES.get(name, ("", ""))[0], escape(f.note))
    out.print(table)
    if snap.sessions:
        s_table = Table("pid", "state", "user", "running s", "transaction s", "query",
                        title="Long-running and idle-in-transaction sessions")
        for s in snap.sessions:
            s_table.add_row(str(s.pid), s.state or "", escape(s.user or ""),
                            _secs(s.query_s), _secs(s.transaction_s), escape(s.query or ""))
        out.print(s_table)
    if snap.locks:
        l_table = Table("pid", "lock", "mode", "relation", "waiting s", "blocked by",
                        title="Locks waited on")
        for lk in snap.locks:
            l_table.add_row(str(lk.pid), lk.locktype, lk.mode, escape(lk.relation or ""),
                            _secs(lk.waiting_s), ", ".join(map(str, lk.blocked_by)))
        out.print(l_table)
    if snap.tables:
        t_table = Table("table", "pages", "live", "dead", "last autovacuum",
                        title="Largest tables")
        for t in snap.tables:
            t_table.add_row(escape(t.table), str(t.pages), _int(t.live_tuples),
                            _int(t.dead_tuples),
                            "never" if t.last_autovacuum is None
                            else f"{t.last_autovacuum:%Y-%m-%d %H:%M}")
        out.print(t_table)
    for note in snap.notes:
        out.print(f"note: {escape(note)}")


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _int(value: int | None) -> str:
    return "" if value is None else str(value)
