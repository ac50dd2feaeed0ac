"""Knowledge base: statement features, structural similarity, and the combined score."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from pgarchitect.analysis import Catalog
from pgarchitect.demo import app
from pgarchitect.knowledge.features import (
    Features,
    Similarity,
    embedding_text,
    features_of_query,
    structural_similarity,
)
from pgarchitect.knowledge.similarity import Match, Weights, combine

# A close resemblance: the score at which the former rule took a statement as solved.
CLOSE = 0.85

SCHEMAS = (Path(app.__file__).with_name("schema.sql"),
           Path(__file__).parent / "support" / "advisor_schema.sql")


@cache
def catalog() -> Catalog:
    return Catalog.from_ddl("\n".join(p.read_text() for p in SCHEMAS))


def features(query: str) -> Features:
    return features_of_query(query, catalog())


def similarity(a: str, b: str) -> float:
    return structural_similarity(features(a), features(b)).score


RECENT = ('SELECT id, "eventType", metadata, "timestamp" FROM "BehaviorLog" '
          'WHERE "userId" = $1 ORDER BY "timestamp" DESC LIMIT $2')
PRISMA = ('SELECT "public"."BehaviorLog"."id", "public"."BehaviorLog"."userId", '
          '"public"."BehaviorLog"."timestamp" FROM "public"."BehaviorLog" '
          'WHERE ("public"."BehaviorLog"."userId" = $1 AND 1=1) '
          'ORDER BY "public"."BehaviorLog"."timestamp" DESC LIMIT $2 OFFSET $3')


def test_features_of_a_sorted_lookup() -> None:
    f = features(RECENT)
    assert f.kind == "select"
    assert f.tables == {"public.BehaviorLog"}
    assert dict(f.columns) == {
        "eq": {"BehaviorLog.userId"},
        "order": {"BehaviorLog.timestamp"},
        "select": {"BehaviorLog.id", "BehaviorLog.eventType", "BehaviorLog.metadata",
                   "BehaviorLog.timestamp"},
    }
    assert f.shapes == {"eq:param", "order_by+limit"}
    assert f.limit and not f.functions and not f.expressions
    assert f.fingerprint == features(RECENT.replace("$2", "20")).fingerprint


def test_features_of_an_expression_a_join_and_an_update() -> None:
    f = features('SELECT id FROM "User" WHERE lower(email) = lower($1)')
    assert f.expressions == {"lower(email) on User.email (eq)"}
    assert "eq" not in f.columns  # the bare column is not tested: its index does not serve
    assert f.functions == {"lower"} and "eq:on-expression" in f.shapes

    f = features('SELECT c.title, count(*) FROM "Course" c JOIN "Lesson" l ON l."courseId" = c.id'
                 " WHERE c.title ILIKE '%sql%' AND l.\"durationSec\" > 60 GROUP BY c.title")
    assert f.tables == {"public.Course", "public.Lesson"}
    assert f.role("join") == {"Lesson.courseId", "Course.id"}
    assert f.role("like") == {"Course.title"} and f.role("range") == {"Lesson.durationSec"}
    assert f.role("group") == {"Course.title"}
    assert {"join", "ilike:contains", "range:const", "group_by"} <= f.shapes
    assert not f.functions  # count(*) is an aggregate of no column

    f = features('UPDATE "Enrollment" SET progress = $1 WHERE "userId" = $2 AND status IS NULL')
    assert f.kind == "update"
    assert f.role("set") == {"Enrollment.progress"}
    assert f.role("null") == {"Enrollment.status"} and "null:is null" in f.shapes


def test_orm_forms() -> None:
    f = features(PRISMA)
    assert f.role("eq") == {"BehaviorLog.userId"} and "offset" in f.shapes
    # Prisma loads a relation with IN ($1): one item, an equality.
    g = features('SELECT "id" FROM "public"."Lesson" WHERE "public"."Lesson"."courseId" IN ($1)')
    assert g.role("eq") == {"Lesson.courseId"} and "eq:param" in g.shapes
    many = features('SELECT id FROM "Lesson" WHERE "courseId" IN ($1, $2)')
    assert many.role("in") == {"Lesson.courseId"} and "in:list" in many.shapes


def test_json_round_trip() -> None:
    for query in (RECENT, PRISMA, 'SELECT id FROM "User" WHERE lower(email) = lower($1)',
                  'UPDATE "Enrollment" SET progress = 1 WHERE id = $1', "SELEC nonsense"):
        f = features(query)
        stored = json.loads(json.dumps(f.to_json()))  # as a jsonb column gives it back
        assert Features.from_json(stored) == f
    assert Features.from_json({}).kind == "unknown"


@pytest.mark.parametrize("variant", [
    # literals
    'SELECT id, "eventType", metadata, "timestamp" FROM "BehaviorLog" '
    "WHERE \"userId\" = 'c8d4a7e2-1b90-4f3a-8e6d-27f5a1b3c9d0' "
    'ORDER BY "timestamp" DESC LIMIT 20',
    # an alias, fewer columns
    'SELECT b.id, b."timestamp" FROM "BehaviorLog" AS b WHERE b."userId" = $1 '
    'ORDER BY b."timestamp" DESC LIMIT 50',
    # the ORM's form
    PRISMA,
])
def test_variants_match_structurally(variant: str) -> None:
    assert similarity(RECENT, variant) >= CLOSE


def test_column_order_does_not_matter() -> None:
    a = 'SELECT id FROM "Enrollment" WHERE "userId" = $1 AND "courseId" = $2'
    b = 'SELECT id, progress FROM "Enrollment" e WHERE e."courseId" = $1 AND e."userId" = $2'
    assert similarity(a, b) >= CLOSE


@pytest.mark.parametrize("negative", [
    # the same table, another filter column: another index
    'SELECT id, "eventType", metadata, "timestamp" FROM "BehaviorLog" '
    'WHERE "eventType" = $1 ORDER BY "timestamp" DESC LIMIT $2',
    # the same filter without the sort
    'SELECT id, "eventType", metadata, "timestamp" FROM "BehaviorLog" WHERE "userId" = $1',
    # the same shape and names, in another schema
    'SELECT id, "timestamp" FROM "App"."BehaviorLog" WHERE "userId" = $1 '
    'ORDER BY "timestamp" DESC LIMIT $2',
    # the same shape on another table
    "SELECT id, title FROM posts WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
])
def test_hard_negatives_score_below_the_threshold(negative: str) -> None:
    assert similarity(RECENT, negative) < CLOSE


def test_an_expression_is_not_the_bare_column() -> None:
    s = structural_similarity(features('SELECT id FROM "User" WHERE email = $1'),
                              features('SELECT id FROM "User" WHERE lower(email) = $1'))
    assert s.score < CLOSE
    assert "same tables User" in s.reasons
    assert any(r.startswith("different filter columns") for r in s.reasons)


def test_reasons() -> None:
    s = structural_similarity(features(RECENT), features(
        'SELECT id FROM "BehaviorLog" WHERE "userId" = $1'))
    assert s.reasons[:2] == ("same tables BehaviorLog",
                             "same filter columns BehaviorLog.userId (eq)")
    assert "different sort" in s.reasons
    assert 0.0 <= s.score < CLOSE


def test_no_table_in_common_is_no_match() -> None:
    # Neither filters: agreement in absence counts only on the same tables.
    assert similarity("SELECT count(*) FROM posts", "SELECT count(*) FROM users") < 0.5


def test_unparsable_statements_never_match() -> None:
    s = structural_similarity(features("SELEC 1"), features("SELEC 1"))
    assert s.score == 0.0 and s.reasons


def test_embedding_text() -> None:
    a = embedding_text("SELECT id FROM \"User\"\n   WHERE email = 'a@b.c'  LIMIT 10")
    assert a == 'SELECT id FROM "User" WHERE email = $1 LIMIT $2'
    # Numbered by appearance, whatever numbers the statement had.
    assert embedding_text('SELECT id FROM "User" WHERE email = $2 LIMIT 5') == a
    assert embedding_text("SELECT 1 WHERE a = 1", "  Seq scan;\n add an index. ") == (
        "SELECT $1 WHERE a = $2\nSeq scan; add an index.")
    assert embedding_text("SELEC  x") == "SELEC x"  # unparsable: whitespace only


def test_combine() -> None:
    weak = Similarity(0.3, ("different tables",))
    match = combine(True, weak, 0.2)
    assert match.score == 1.0 and match.reasons[0] == "same fingerprint"

    strong = Similarity(0.92, ("same tables User", "same filter columns User.email (eq)"))
    alone = combine(False, strong, None)
    assert alone == Match(0.92, ("structure 0.92: same tables User; same filter columns "
                                 "User.email (eq)",))

    w = Weights()
    mixed = combine(False, strong, 0.8, w)
    assert mixed.score == pytest.approx((w.vector * 0.8 + w.structure * 0.92)
                                        / (w.vector + w.structure))
    assert mixed.reasons[-1] == "text 0.80"
    assert combine(False, strong, 0.8, Weights(vector=1, structure=0)).score == 0.8
    assert combine(False, strong, -0.5, Weights(vector=1, structure=1)).score == 0.46
    assert w.structure > w.vector  # structure decides (benchmarks/kb_retrieval.py)


def test_a_subquerys_distinct_is_not_the_statements() -> None:
    """DISTINCT inside an IN (subquery) says nothing of the statement's own shape."""
    inner = ('SELECT id FROM "User" WHERE id IN (SELECT DISTINCT "userId" FROM "BehaviorLog" '
             'WHERE "eventType" = $1)')
    outer = 'SELECT DISTINCT "userId" FROM "BehaviorLog" WHERE "eventType" = $1'
    assert "distinct" not in features(inner).shapes
    assert "distinct" in features(outer).shapes
