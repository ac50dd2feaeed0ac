"""Repair of pg_stat_statements text: golden cases (fixtures/repair/cases.sql), pure.

That the repaired statements plan on PostgreSQL 15 and 18, with the text read back
from pg_stat_statements, is tested in test_plans.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pglast.parser
import pytest

from pgarchitect.analysis import analyze, fingerprint
from pgarchitect.workload.repair import repair

CASES_FILE = Path(__file__).parent / "fixtures" / "repair" / "cases.sql"


@dataclass(frozen=True)
class Case:
    name: str
    text: str  # as pg_stat_statements holds it
    expected: str


def read_cases(path: Path) -> list[Case]:
    """``-- case: NAME``, the text, ``-- expected:`` and the repaired text (or ``unchanged``).

    Comment lines right after ``-- case:`` are notes on the case, not statement text.
    """
    cases: list[Case] = []
    name: str | None = None
    text: list[str] = []
    expected: list[str] | None = None

    def close() -> None:
        if name is None:
            return
        assert expected is not None, f"case {name}: no '-- expected:' line"
        body = "\n".join(text).strip()
        cases.append(Case(name, body, "\n".join(expected).strip() or body))

    for line in path.read_text().splitlines():
        if line.startswith("-- case: "):
            close()
            name, text, expected = line.removeprefix("-- case: ").strip(), [], None
        elif line.startswith("-- expected:"):
            rest = line.removeprefix("-- expected:").strip()
            assert rest in ("", "unchanged"), f"case {name}: '-- expected: {rest}'"
            expected = []
        elif name is None:
            continue  # the file's header
        elif expected is not None:
            expected.append(line)
        elif text or not line.startswith("--"):
            text.append(line)
    close()
    return cases


CASES = read_cases(CASES_FILE)
CHANGED = [c for c in CASES if c.expected != c.text]


def test_the_fixture_has_both_kinds_of_case() -> None:
    assert len({c.name for c in CASES}) == len(CASES)
    assert len(CHANGED) >= 40 and len(CASES) - len(CHANGED) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Case) -> None:
    assert repair(case.text) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_repaired_text_is_left_alone(case: Case) -> None:
    assert repair(case.expected) == case.expected


POSITIONS = {"location", "stmt_location", "stmt_len", "rexpr_list_start", "rexpr_list_end"}


def _tree(query: str) -> Any:
    """pglast's parse tree without the positions, which a rewrite moves."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in POSITIONS}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return strip(json.loads(pglast.parser.parse_sql_json(query)))


# Rewrites that change pglast's tree on purpose, each with the reason.
NEW_TREE = {
    # The server's EXTRACT is this function; pglast keeps EXTRACT's own syntax node.
    "extract": "pg_catalog.extract",
    "extract_from_a_column": "pg_catalog.extract",
    # pglast reads the glued interval$1 as a column, like the server.
    "type_glued_to_its_literal": "a column before",
    # ZONE$1 is a name where AT TIME ZONE wants a value: no tree at all.
    "at_time_zone_glued": "unparseable before",
}


@pytest.mark.parametrize("case", [c for c in CHANGED if not c.name.startswith("cut_")],
                         ids=[c.name for c in CHANGED if not c.name.startswith("cut_")])
def test_same_meaning_as_pglast_reads_it(case: Case) -> None:
    """pglast parses ``INTERVAL $1`` as the server parses ``INTERVAL '7 days'``: a
    cast of a constant. The repaired text must give that same tree, so it means
    what the statement meant, for the server and for pgarchitect's analysis."""
    if case.name in NEW_TREE:
        assert _parses(case.expected)
        assert not _parses(case.text) or _tree(case.text) != _tree(case.expected)
    else:
        assert _tree(case.text) == _tree(case.expected)


def _parses(query: str) -> bool:
    try:
        pglast.parser.parse_sql(query)
    except pglast.parser.ParseError:
        return False
    return True


def test_never_raises_on_cut_or_broken_text() -> None:
    """pg_stat_statements cuts long statements anywhere; every prefix of every case."""
    broken = ["", "$", "$1", "$$", "'", '"', "/*", "--", "INTERVAL", "INTERVAL $1 $2",
              ") $1", "( ) $1", "TIME ZONE $1", "WITH TIME ZONE $1", "EXTRACT($1 FROM",
              "SELECT DATE$1$2", "SELECT \x00 INTERVAL $1", "SELECT $1 DAY TO SECOND(3)"]
    for text in broken + [c.text[:n] for c in CASES for n in range(len(c.text))]:
        repaired = repair(text)
        # A change parses, unless the text was beyond help anyway (cut in a list).
        assert repaired == text or _parses(repaired) or not _parses(text), text


def test_analysis_reads_the_repaired_statement() -> None:
    # interval$1 is a column to pglast; repaired, a parameter of type interval.
    glued = analyze("SELECT * FROM ev WHERE ts > now()-interval$1")
    assert glued.error is None and glued.unresolved == ()
    assert [(p.number, p.type) for p in glued.params] == [(1, "interval")]
    assert glued.query == "SELECT * FROM ev WHERE ts > now()-interval$1"  # as given
    typed = analyze("SELECT * FROM ev WHERE d = DATE $1 AND ts > now() - INTERVAL $2")
    assert [(p.number, p.type) for p in typed.params] == [(1, "date"), (2, "interval")]


def test_fingerprints_do_not_move() -> None:
    """The fingerprint groups a statement across sources and keys the knowledge base:
    the text from pg_stat_statements keeps the fingerprint of the statement it came from."""
    pairs = [
        ("SELECT * FROM ev WHERE ts > now() - INTERVAL $1 DAY",
         "SELECT * FROM ev WHERE ts > now() - INTERVAL '1' DAY"),
        ("SELECT EXTRACT($1 FROM ts) FROM ev", "SELECT EXTRACT(hour FROM ts) FROM ev"),
        ("SELECT * FROM ev WHERE tz > TIMESTAMP WITH TIME ZONE $1",
         "SELECT * FROM ev WHERE tz > TIMESTAMP WITH TIME ZONE '2024-01-01 00:00+00'"),
    ]
    for normalised, original in pairs:
        assert fingerprint(normalised) == fingerprint(original) is not None
