"""The rewrite rules, one per module: each has ``NAME``, ``LABEL``, ``detect`` and
``rewrite``.

``detect(statement, analysis, catalog)`` reads a parsed SELECT and returns a
:class:`Match` (where and why to rewrite it) or a :class:`Skip` (why not, with a
reason code); ``rewrite(statement, match)`` rewrites that same tree and returns the
new SQL text, with the same ``$n`` parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from pglast import ast

from pgarchitect.advisors.rewrite.rules import correlated_subquery, date_cast, not_in, or_to_union
from pgarchitect.advisors.rewrite.rules.common import Match, Skip, parse_select
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog

__all__ = ["RULES", "Match", "Rule", "Skip", "parse_select"]


@dataclass(frozen=True)
class Rule:
    """One rewrite rule."""

    name: str
    label: str
    detect: Callable[[ast.SelectStmt, Analysis, DatabaseCatalog], Match | Skip]
    rewrite: Callable[[ast.SelectStmt, Match], str]

    @classmethod
    def of(cls, module: ModuleType) -> Rule:
        return cls(module.NAME, module.LABEL, module.detect, module.rewrite)

    def apply(self, query: str, analysis: Analysis,
              catalog: DatabaseCatalog) -> tuple[Match, str] | Skip:
        """The match and the rewritten statement, or why the rule does not fire."""
        stmt = parse_select(query)
        if isinstance(stmt, Skip):
            return stmt
        found = self.detect(stmt, analysis, catalog)
        if isinstance(found, Skip):
            return found
        return found, self.rewrite(stmt, found)


RULES: tuple[Rule, ...] = tuple(
    Rule.of(m) for m in (not_in, date_cast, or_to_union, correlated_subquery))
