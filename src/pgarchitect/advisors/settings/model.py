"""What the settings rules share: the proposal's particulars, the server's settings as
numbers, and which statements a setting changes the plan of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgarchitect.advisors.base import Subject
from pgarchitect.measure import BaseTrial
from pgarchitect.plans import NoPlan, Plan, generic_plan
from pgarchitect.proposal import NOISE_FLOOR_MS, Measurement

# Slower than before by more than this share (and more than the noise floor): a
# statement the change hurts, which a server-wide setting must not do.
SLOWER_SHARE = 0.1

SETTINGS_SQL = """
SELECT name, setting, unit, boot_val, source FROM pg_settings
WHERE name IN ('work_mem', 'max_connections', 'shared_buffers', 'effective_cache_size',
               'random_page_cost', 'seq_page_cost')
"""

# Units pg_settings gives, in kB: shared_buffers and effective_cache_size count 8kB
# blocks, work_mem kB.
_UNIT_KB = {"kB": 1.0, "8kB": 8.0, "MB": 1024.0, "16MB": 16384.0}


@dataclass(frozen=True)
class Current:
    """One server setting: its value (in kB for memory), its default, where it came from."""

    name: str
    value: float
    default: float
    source: str

    @property
    def is_default(self) -> bool:
        return self.value == self.default


def current(conn: psycopg.Connection[Any]) -> dict[str, Current]:
    """The settings the rules read, memory in kB."""
    out = {}
    for name, setting, unit, boot, source in conn.execute(SETTINGS_SQL).fetchall():
        scale = _UNIT_KB.get(unit or "", 1.0)
        out[str(name)] = Current(str(name), float(setting) * scale,
                                 float(boot) * scale if boot is not None else float(setting),
                                 str(source))
    return out


def mb(kb: float) -> str:
    """A memory size as the settings take it.

    >>> mb(4194304), mb(393216), mb(1536)
    ('4GB', '384MB', '1536kB')
    """
    if kb % (1024 * 1024) == 0:
        return f"{int(kb // (1024 * 1024))}GB"
    if kb % 1024 == 0:
        return f"{int(kb // 1024)}MB"
    return f"{int(kb)}kB"


@dataclass(frozen=True)
class SettingDetail:
    """A setting proposal's particulars."""

    setting: str
    value: str
    current: str
    rule: str
    risk: str
    facts: Mapping[str, Any] = field(default_factory=dict)  # the evidence, as numbers

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "value": self.value, "current": self.current,
                "rule": self.rule, "risk": self.risk, "facts": dict(self.facts)}


class NoChange(BaseTrial):
    """The trial of a setting that no statement can try (one that needs a restart)."""


def shape(plan: Plan) -> tuple[tuple[str, str | None, str | None], ...]:
    """A plan's node types, relations and indexes, parents first: what changes when the
    planner picks another plan (costs aside)."""
    return tuple((n.node_type, n.relation, n.index_name) for n in plan.nodes())


def plan_changes(conn: psycopg.Connection[Any], subjects: Sequence[Subject],
                 settings: Mapping[str, str]) -> list[Subject]:
    """The statements whose plan (generic, cost only) is another with ``settings``."""
    out = []
    for subject in subjects:
        if subject.analysis.kind != "select":
            continue
        before = generic_plan(conn, subject.query)
        after = generic_plan(conn, subject.query, settings=settings)
        if isinstance(before, NoPlan) or isinstance(after, NoPlan):
            continue
        if shape(before) != shape(after):
            out.append(subject)
    return out


def slower(m: Measurement) -> bool:
    """Whether a measured statement got slower than the noise allows.

    >>> slower(Measurement("q", before_ms=(10.0,), after_ms=(12.5,)))
    True
    >>> slower(Measurement("q", before_ms=(0.2,), after_ms=(0.5,)))
    False
    """
    if not m.measured:
        return False
    before, after = m.median_before or 0.0, m.median_after or 0.0
    return after - before > max(NOISE_FLOOR_MS, SLOWER_SHARE * before)
