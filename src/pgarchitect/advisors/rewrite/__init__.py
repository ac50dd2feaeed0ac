"""The rewrite advisor: equivalent statements that run faster, each checked to return
the same rows on the real data before it is measured."""

from __future__ import annotations

from pgarchitect.advisors.rewrite.advise import RewriteAdvisor, RewriteDetail
from pgarchitect.advisors.rewrite.replay import RewriteChecker

__all__ = ["RewriteAdvisor", "RewriteChecker", "RewriteDetail"]
