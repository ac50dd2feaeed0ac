"""What analysis reads: the limits that keep it from raising and bound its time.

The walk over a parse tree recurses (so do pglast's deparser and :func:`rebase`),
and its time grows with the tree: a statement pg_stat_statements holds may be a
megabyte long or nest a thousand levels deep (a generated ``1+1+…``, nested CASE
or subqueries). Rather than raise Python's recursion limit (process-wide, and a
crash of the interpreter when the C stack runs out first), analysis checks the
text and then the tree against named limits, cheaply and before the walk, and
gives a statement over one an :class:`~pgarchitect.analysis.Analysis` whose
``error`` names the limit and what to do. ``benchmarks/fuzz.py`` measures them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pglast import ast

from pgarchitect.analysis.nodes import children

# Longer text is not parsed. pglast builds a Python object per node, about 2.5 µs
# per byte of a dense list (ARRAY[1,1,…]: 0.65 s for 256 kB on a 2-core EPYC);
# pg_stat_statements keeps each constant as a short $n, so real statements stay
# far below it (benchmarks/fuzz.py).
MAX_STATEMENT_BYTES: Final = 256 * 1024
# Parse-tree depth (nodes from the statement down). Each level costs about five
# Python frames in the walk and pglast's deparser; 100 levels leave room under
# CPython's default recursion limit of 1000 for a caller ~400 frames deep.
# Measured: a `1+1+…` chain of 130 terms (depth 133) still passes with a caller
# 150 frames deep, 160 terms do not (benchmarks/fuzz.py, "nesting" kinds).
MAX_DEPTH: Final = 100
# Parse-tree nodes walked. The walk costs up to ~40 µs a node (an OR of EXISTS or
# LIKE tests, each deparsed for PostgreSQL's find_duplicate_ors): 30,000 nodes keep
# a call under about 1.2 s on a busy 2-core machine; an IN list of 10,000
# parameters is about 10,000 nodes (benchmarks/fuzz.py).
MAX_NODES: Final = 30_000
# Items of one FROM (or USING) list. Each unqualified column is looked for in every
# item of its scope, so the walk costs items x references: 6,500 tables and as many
# references took 3.6 s. PostgreSQL itself plans more than from_collapse_limit (8)
# items as written; 200 is far beyond what a person or an ORM writes.
MAX_FROM_ITEMS: Final = 200

_KB: Final = 1024


def size_text(size: int) -> str:
    """A byte count as people read it.

    >>> size_text(1_250_000), size_text(262_144), size_text(900)
    ('1.2 MB', '256 kB', '900 bytes')
    """
    if size >= _KB * _KB:
        return f"{size / (_KB * _KB):.1f} MB"
    if size >= _KB:
        return f"{size / _KB:.0f} kB"
    return f"{size} bytes"


def text_problem(query: str) -> str | None:
    """Why analysis will not read this text (NUL, lone surrogate, size), or None.

    >>> text_problem("SELECT 1") is None
    True
    >>> text_problem("SELECT 1\\x00 FROM t")[:62]
    'Could not read the statement: it holds a NUL byte at character'
    """
    nul = query.find("\x00")
    if nul >= 0:
        return (f"Could not read the statement: it holds a NUL byte at character {nul + 1}, "
                "which PostgreSQL never accepts in a statement (its protocol ends a string "
                "there): remove it, or check how the text was captured")
    if len(query) > MAX_STATEMENT_BYTES:  # a character is at least one byte
        return _too_long(len(query.encode("utf-8", "surrogatepass")))
    try:
        size = len(query.encode("utf-8"))
    except UnicodeEncodeError as exc:
        code = ord(query[exc.start])
        return (f"Could not read the statement: character {exc.start + 1} is a lone "
                f"surrogate (U+{code:04X}), not text: the statement was read from bytes "
                "that are not UTF-8; read it with the encoding it was written in")
    if size > MAX_STATEMENT_BYTES:
        return _too_long(size)
    return None


def _too_long(size: int) -> str:
    return (f"Statement is {size_text(size)}, above the {size_text(MAX_STATEMENT_BYTES)} "
            "analysis limit (MAX_STATEMENT_BYTES): not analysed; pass long lists of "
            "values as one array parameter (= ANY($1)) to keep statements short")


def tree_problem(roots: Iterable[ast.Node]) -> str | None:
    """Why analysis will not walk this parse tree (too deep, too many nodes), or None.

    Iterative, and stops at the first limit passed: its cost is bounded by
    MAX_NODES whatever the tree.
    """
    stack: list[tuple[ast.Node, int]] = [(root, 1) for root in roots]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            return (f"Statement nests more than {MAX_DEPTH} levels deep in its parse tree, "
                    "above the analysis limit (MAX_DEPTH): not analysed; write a long "
                    "chain of operators or nested CASE, subqueries or ARRAYs as a list "
                    "(IN, ANY, VALUES) or in steps (WITH)")
        items = _from_items(node)
        if items > MAX_FROM_ITEMS:
            return (f"Statement lists {items:,} relations in one FROM clause, above the "
                    f"analysis limit of {MAX_FROM_ITEMS} (MAX_FROM_ITEMS): not analysed; "
                    "join fewer relations in one query block (WITH, or subqueries)")
        if count > MAX_NODES:
            return (f"Statement has more than {MAX_NODES:,} parse-tree nodes, above the "
                    "analysis limit (MAX_NODES): not analysed; pass long lists of values "
                    "as one array parameter (= ANY($1)) and split very long statements")
        stack.extend((child, depth + 1) for child in children(node))
    return None


def _from_items(node: ast.Node) -> int:
    if isinstance(node, (ast.SelectStmt, ast.UpdateStmt)):
        return len(node.fromClause or ())
    if isinstance(node, ast.DeleteStmt):
        return len(node.usingClause or ())
    return 0


# libpg_query's parser (bison) stops when its stack of 10,000 entries is full
# (YYMAXDEPTH in gram.c) and reports only "memory exhausted".
PARSER_STACK_NOTE: Final = ("the statement nests too deep for PostgreSQL's parser "
                            "(10,000 levels of its stack)")
