"""The hygiene advisor: unused, duplicate and invalid indexes, foreign keys without one,
bloat, indexes that stop HOT updates, vacuum that lags, transaction-ID wraparound."""

from __future__ import annotations

from pgarchitect.advisors.hygiene.advise import HygieneAdvisor
from pgarchitect.advisors.hygiene.model import Finding, HygieneDetail, Limits

__all__ = ["Finding", "HygieneAdvisor", "HygieneDetail", "Limits"]
