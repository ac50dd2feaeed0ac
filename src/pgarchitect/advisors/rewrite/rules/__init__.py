"""The rewrite rules, one per module: each has ``NAME``, ``LABEL``, ``detect`` and
``rewrite``.

``detect(statement, analysis, catalog)`` reads a parsed SELECT and returns a
:class:`Match` (where and why to rewrite it) or a :class:`Skip` (why not, with a
reason code); ``rewrite(statement, match)`` rewrites that same tree and returns the
new SQL text, with the same ``$n`` parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import psycopg
from pglast import ast

from pgarchitect.advisors.rewrite.rules import (
    correlated_subquery,
    count_estimate,
    date_cast,
    distinct_exists,
    implicit_cast,
    left_join_where,
    not_in,
    offset_keyset,
    or_to_union,
)
from pgarchitect.advisors.rewrite.rules.common import Match, Skip, parse_select
from pgarchitect.analysis import Analysis, Param
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.plans import NoPlan
from pgarchitect.settings import Config

__all__ = ["RULES", "Match", "Rule", "Skip", "Values", "parse_select"]

Values = Sequence[str | None]  # one parameter set, as text
Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Rule:
    """One rewrite rule.

    The hooks after ``rewrite`` are for a rewrite that does not keep the statement's
    rows or parameters as they are (keyset pagination takes a cursor for an offset,
    a row estimate is close to a count, not equal); a module defines the function of
    that name, or the rule does without:

    - ``admit(match, catalog, config)``: why not on this table (too small for the
      rewrite to matter: the rule's settings), or None;
    - ``owns(original, rewritten)``: whether the rewrite is this rule's, so a result
      check given the two statements alone finds the hooks below;
    - ``sets(conn, original, params, known)``: the parameter sets to check and measure
      with, and a sentence saying which ("measured at offsets ..."), instead of the
      sampled ones;
    - ``bind(conn, original, rewritten, values)``: the rewrite's values for the
      original's (the cursor where the offset's page starts);
    - ``reference(original, rewritten)``: the statement the rewrite's rows are compared
      with, in order (the original with a deterministic ORDER BY);
    - ``agree(before, after, config)``: whether the rows agree closely enough, and how
      close they were (an estimate within a tolerance), instead of equal multisets;
    - ``advice(match)``: what the proposal tells the reader besides (the cursor the
      application keeps, what is lost, how stale an estimate can be).
    """

    name: str
    label: str
    detect: Callable[[ast.SelectStmt, Analysis, DatabaseCatalog], Match | Skip]
    rewrite: Callable[[ast.SelectStmt, Match], str]
    admit: Callable[[Match, DatabaseCatalog, Config], Skip | None] | None = None
    owns: Callable[[str, str], bool] | None = None
    sets: Callable[[Conn, str, Sequence[Param], Sequence[Values]],
                   tuple[list[Values], str] | NoPlan] | None = None
    bind: Callable[[Conn, str, str, Values], Values | NoPlan] | None = None
    reference: Callable[[str, str], str] | None = None
    agree: Callable[[list[tuple[Any, ...]], list[tuple[Any, ...]], Config],
                    tuple[bool, str]] | None = None
    advice: Callable[[Match], str] | None = None

    @classmethod
    def of(cls, module: ModuleType) -> Rule:
        hooks = ("admit", "owns", "sets", "bind", "reference", "agree", "advice")
        return cls(module.NAME, module.LABEL, module.detect, module.rewrite,
                   **{h: getattr(module, h, None) for h in hooks})

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
    Rule.of(m) for m in (not_in, date_cast, or_to_union, correlated_subquery,
                         distinct_exists, implicit_cast, left_join_where, offset_keyset,
                         count_estimate))
