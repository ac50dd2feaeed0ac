"""The knowledge base's "already solved?": the earlier fix replayed on the new statement.

On both test servers: PostgreSQL 15 plans with HypoPG's hypothetical indexes, the
embedded 18 (no HypoPG) builds them in a rolled-back sandbox. The tables hold
100,000 orders, so the planner's answer is the one it gives on real data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_cli
from support.servers import TestDatabase

from pgarchitect import db
from pgarchitect.advisors import ADVISORS, Advisor, checkers
from pgarchitect.advisors.base import Context
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.audit import Lookup, Session, known_cases
from pgarchitect.knowledge.features import features_of
from pgarchitect.knowledge.kb import Finding, KnowledgeBase, Spool
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users,
                     status text NOT NULL, total numeric NOT NULL,
                     created_at timestamptz NOT NULL, attrs jsonb NOT NULL);
INSERT INTO users SELECT i, 'user' || i || '@example.org', 'name ' || i
  FROM generate_series(1, 20000) i;
INSERT INTO orders
SELECT i, 1 + (i * 7919) % 20000,
       (ARRAY['open', 'closed', 'closed', 'closed', 'shipped'])[1 + i % 5],
       (i % 1000) / 10.0, timestamptz '2026-01-01' + i * interval '5 minutes',
       jsonb_build_object('color', 'c' || (i * 31) % 500, 'size', 's' || (i * 17) % 300)
  FROM generate_series(1, 100000) i;
ANALYZE;
"""
BY_USER = "SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"
USER_INDEX = "CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC)"
BY_COLOR = "SELECT id, total FROM orders WHERE attrs ->> 'color' = $1"
COLOR_INDEX = "CREATE INDEX orders_color_idx ON orders ((attrs ->> 'color'))"
OPEN_OF_USER = "SELECT id FROM orders WHERE user_id = $1 AND status = 'open'"
OPEN_INDEX = "CREATE INDEX orders_open_user_idx ON orders (user_id) WHERE status = 'open'"


@pytest.fixture
def conn(pg_db: TestDatabase) -> Iterator[Any]:
    with db.connect(pg_db.conninfo, load_config()) as c:
        c.execute(SCHEMA)
        yield c


def finding(conn: Any, query: str, fix: str, *, database: str = "test",
            kind: str = "index", status: str = "proposed", estimated: float = 90.0,
            reasoning: str = "") -> Finding:
    features = features_of(analyze(query, DatabaseCatalog(conn).relations))
    return Finding(database=database, fingerprint=features.fingerprint or "", query=query,
                   kind=kind, recommendation_sql=fix, rollback_sql="DROP INDEX x",
                   description="a costly plan; fix: an index.", reasoning=reasoning,
                   estimated_gain_pct=estimated, measured_gain_pct=estimated, before_ms=10.0,
                   after_ms=1.0, confidence=0.9, features=features.to_json(), status=status)


def lookup(conn: Any, kb: KnowledgeBase, query: str, *, calls: int = 0,
           mean_ms: float = 0.0, advisors: Sequence[Advisor] = ADVISORS) -> Lookup:
    """What an audit of database "test" decides for one statement."""
    catalog = DatabaseCatalog(conn)
    state = Session(kb, "test", Spool(Path("unused.jsonl")))
    statement = Statement(query, calls=calls, total_ms=calls * mean_ms, mean_ms=mean_ms)
    with checkers(Context(conn, load_config(), catalog), advisors) as replay:
        [found] = known_cases(state, [statement], [analyze(query, catalog.relations)], replay)
    return found


@pytest.mark.parametrize("variant", [
    # one more harmless filter
    "SELECT id, total FROM orders WHERE user_id = $1 AND total > 5 "
    "ORDER BY created_at DESC LIMIT 20",
    # a join added, aliases
    "SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id "
    "WHERE o.user_id = $1 ORDER BY o.created_at DESC LIMIT 20",
    # a cast written out, a literal
    "SELECT id, total FROM orders WHERE user_id = CAST('42' AS bigint) "
    "ORDER BY created_at DESC LIMIT 20",
    # IN (...) for = ANY($1)
    "SELECT id, total FROM orders WHERE user_id IN (1, 2, 3) ORDER BY created_at DESC LIMIT 20",
    # the UPDATE form
    "UPDATE orders SET status = 'closed' WHERE user_id = $1",
])
def test_a_variant_is_solved_by_the_earlier_index(conn: Any, variant: str) -> None:
    kb = KnowledgeBase(conn)
    [fid] = kb.record([finding(conn, BY_USER, USER_INDEX)])
    found = lookup(conn, kb, variant)
    known = found.known
    assert known is not None and known.case.finding.id == fid, [c.line() for c in found.checked]
    check = known.answer.check
    assert check.cost_before is not None and check.cost_after is not None
    assert check.cost_after <= 0.8 * check.cost_before
    assert check.checked.startswith(
        "earlier index orders_user_created_idx serves this statement: cost "), check.checked
    assert "Checked: earlier index orders_user_created_idx serves" in known.answer.citation()


@pytest.mark.parametrize(("solved", "fix", "other", "why"), [
    # equal fingerprints, the constant picks the key of an expression index
    (BY_COLOR, COLOR_INDEX, "SELECT id, total FROM orders WHERE attrs ->> 'size' = $1",
     "the planner does not use earlier index orders_color_idx"),
    # equal fingerprints, the constant is outside a partial index
    (OPEN_OF_USER, OPEN_INDEX, "SELECT id FROM orders WHERE user_id = $1 AND status = 'closed'",
     "the planner does not use earlier index orders_open_user_idx"),
    # another table altogether
    (BY_USER, USER_INDEX, "SELECT id FROM users WHERE email = $1",
     "earlier index orders_user_created_idx is on table orders, which this statement "
     "does not read"),
    # another sort: the index serves the filter, not this order
    (BY_USER, USER_INDEX, "SELECT id, total FROM orders WHERE user_id = $1 "
     "ORDER BY total DESC LIMIT 20",
     "this statement is sorted by orders.total, an order earlier index "
     "orders_user_created_idx does not give"),
    # a deep page: the index still reads every row before it
    (BY_USER, USER_INDEX, "SELECT id, total FROM orders WHERE user_id = $1 "
     "ORDER BY created_at DESC LIMIT 20 OFFSET 5000",
     "this statement skips 5,000 rows (OFFSET) to return a page"),
])
def test_a_different_problem_is_a_near_miss_with_why(conn: Any, solved: str, fix: str,
                                                     other: str, why: str) -> None:
    kb = KnowledgeBase(conn)
    [fid] = kb.record([finding(conn, solved, fix)])
    # The floor is 0: the case is retrieved whatever its score, the replay decides.
    kb.threshold = 0.0
    found = lookup(conn, kb, other)
    assert found.known is None
    [miss] = found.misses
    assert miss.case.finding.id == fid and miss.check.verdict == "miss"
    assert miss.check.checked.startswith(why), miss.check.checked
    # and the earlier statement itself, with another constant, is solved
    same = solved.replace("$1", "'c7'") if "color" in solved else solved.replace("$1", "7")
    assert lookup(conn, kb, same).known is not None


def test_a_finding_that_does_not_hold_here_solves_nothing(conn: Any) -> None:
    """The index serves the new statement, but not the statement it was found for, in
    this database: the finding was made on other data, or another schema."""
    kb = KnowledgeBase(conn)
    kb.record([finding(conn, "SELECT count(*) FROM orders WHERE total > $1", USER_INDEX)])
    kb.threshold = 0.0
    found = lookup(conn, kb, BY_USER)
    assert found.known is None
    assert found.misses[0].check.checked.startswith(
        "earlier index orders_user_created_idx no longer serves the statement it was found "
        "for here"), found.misses[0].check.checked


def test_a_rejected_fix_skips_only_when_it_does_the_same(conn: Any) -> None:
    kb = KnowledgeBase(conn)
    kb.record([finding(conn, BY_USER, USER_INDEX, status="rejected", estimated=95.0,
                       reasoning="Rejected: the table's writes would cost more.")])
    found = lookup(conn, kb, BY_USER.replace("20", "50"))
    known = found.known
    assert known is not None and known.answer.check.verdict == "rejected"
    assert known.answer.citation().startswith("Tried before and rejected: finding ")
    assert "(the table's writes would cost more)" in known.answer.citation()

    # Rejected when it cut 2%: here it cuts far more, so it is audited again.
    other = KnowledgeBase(conn)
    other.conn.execute("TRUNCATE pgarchitect.optimization_log")
    other.record([finding(conn, BY_USER, USER_INDEX, status="rejected", estimated=2.0)])
    found = lookup(conn, other, BY_USER)
    assert found.known is None
    assert "was rejected when it cut 2%" in found.misses[0].check.checked


def test_an_applied_index_that_exists_is_measured_not_skipped(conn: Any) -> None:
    kb = KnowledgeBase(conn)
    [fid] = kb.record([finding(conn, BY_USER, USER_INDEX)])
    kb.mark(fid, "applied", by="alice")
    conn.execute(USER_INDEX)
    found = lookup(conn, kb, BY_USER, calls=40, mean_ms=2.0)  # 10 ms before
    assert found.known is None
    assert found.checked[0].check.verdict == "applied"
    assert found.outcome is not None and "80% faster" in found.outcome, found.outcome
    stored = kb.get(fid)
    assert stored.applied_after_ms == 2.0 and stored.applied_gain_pct == pytest.approx(80.0)


def test_this_databases_findings_come_first_and_others_are_checked_here(conn: Any) -> None:
    """A shared knowledge base: six other databases recorded fixes that do not help this
    statement, with the same statement (score 1.0); this database's own is still checked.
    A fix learned on another database is checked here too."""
    kb = KnowledgeBase(conn)
    useless = "CREATE INDEX orders_total_idx ON orders (total)"
    kb.record([finding(conn, BY_USER, useless, database=f"other-{n}") for n in range(6)])
    [own] = kb.record([finding(conn, BY_USER, USER_INDEX)])
    found = lookup(conn, kb, BY_USER)
    assert found.known is not None and found.known.case.finding.id == own
    assert [c.check.verdict for c in found.checked] == ["solved", "miss"]  # one per fix

    kb.conn.execute("TRUNCATE pgarchitect.optimization_log")
    [theirs] = kb.record([finding(conn, BY_USER, USER_INDEX, database="other-1")])
    found = lookup(conn, kb, BY_USER)
    assert found.known is not None and found.known.case.finding.id == theirs


def test_what_cannot_be_checked_is_not_skipped(conn: Any) -> None:
    kb = KnowledgeBase(conn)
    kb.record([finding(conn, BY_USER, "CREATE INDEX oops ON"),
               finding(conn, BY_USER, "cache the result for 60 s", kind="cache")])
    # Every kind has its advisor's check; an audit run without the cache advisor has none.
    found = lookup(conn, kb, BY_USER, advisors=[a for a in ADVISORS if a.kind != "cache"])
    assert found.known is None
    reasons = sorted(c.check.checked for c in found.checked)
    assert reasons[0].startswith("no check for findings of kind cache"), reasons
    assert reasons[1].startswith("the earlier fix does not parse"), reasons


def test_kb_similar_shows_score_check_and_verdict(conn: Any, pg_db: TestDatabase,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_db.conninfo)
    monkeypatch.setenv("COLUMNS", "250")
    kb = KnowledgeBase(conn)
    [fid] = kb.record([finding(conn, BY_COLOR, COLOR_INDEX)])
    solved = run_cli(capsys, "kb", "similar", BY_COLOR.replace("$1", "'c9'"))
    assert solved.code == 0, solved.err
    assert f" solved  {fid[:8]}  index, proposed, test" in solved.out
    assert "checked: earlier index orders_color_idx serves this statement: cost " in solved.out
    assert "An audit skips it. Solved before: finding " in solved.out
    missed = run_cli(capsys, "kb", "similar", "SELECT id, total FROM orders WHERE "
                     "attrs ->> 'size' = 's1'")
    assert missed.code == 0 and " miss  " in missed.out, missed.out
    assert "No earlier fix solves it: an audit works on it." in missed.out
    # Nothing was left behind: no index, no hypothetical one.
    names = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'").fetchone()
    assert names == (1,)
