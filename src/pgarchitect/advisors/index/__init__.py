"""The index advisor: candidates, what-if planning, selection for the workload, measurement."""

from __future__ import annotations

from pgarchitect.advisors.index.advise import IndexAdvisor

__all__ = ["IndexAdvisor"]
