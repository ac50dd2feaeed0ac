"""The partition advisor: range partitioning by time for large, append-mostly tables,
measured on a plain and a partitioned copy of their rows."""

from __future__ import annotations

from pgarchitect.advisors.partition.advise import PartitionAdvisor, PartitionDetail
from pgarchitect.advisors.partition.replay import PartitionChecker

__all__ = ["PartitionAdvisor", "PartitionChecker", "PartitionDetail"]
