"""The hygiene advisor: unused, duplicate and invalid indexes, foreign keys without one."""

from __future__ import annotations

from pgarchitect.advisors.hygiene.advise import HygieneAdvisor
from pgarchitect.advisors.hygiene.model import Finding, HygieneDetail, Limits

__all__ = ["Finding", "HygieneAdvisor", "HygieneDetail", "Limits"]
