"""The cache advisor: application caches and pre-aggregated materialized views."""

from pgarchitect.advisors.cache.advise import CacheAdvisor, ViewTrial
from pgarchitect.advisors.cache.model import CacheDetail, PreaggregateDetail
from pgarchitect.advisors.cache.replay import CacheChecker

__all__ = ["CacheAdvisor", "CacheChecker", "CacheDetail", "PreaggregateDetail", "ViewTrial"]
