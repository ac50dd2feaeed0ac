"""The advisors: each proposes one kind of fix for the audit's statements.

:data:`ADVISORS` is the ordered registry the audit runs. Adding an advisor is one
folder beside ``index/`` with a class that follows
:class:`pgarchitect.advisors.base.Advisor`, and one line here.
"""

from __future__ import annotations

from pgarchitect.advisors.base import Advisor, checkers
from pgarchitect.advisors.cache import CacheAdvisor
from pgarchitect.advisors.hygiene import HygieneAdvisor
from pgarchitect.advisors.index import IndexAdvisor
from pgarchitect.advisors.partition import PartitionAdvisor
from pgarchitect.advisors.rewrite import RewriteAdvisor
from pgarchitect.advisors.settings import SettingsAdvisor

__all__ = ["ADVISORS", "Advisor", "checkers"]

ADVISORS: tuple[Advisor, ...] = (
    IndexAdvisor(),
    RewriteAdvisor(),
    PartitionAdvisor(),
    CacheAdvisor(),
    SettingsAdvisor(),
    HygieneAdvisor(),
)

