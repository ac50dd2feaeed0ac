"""Knowledge base lookup speed with 100,000 stored findings (pgvector HNSW).

Usage:
    python benchmarks/kb_lookup.py [--findings 100000] [--distinct 1000] [--lookups 200]

Starts a temporary embedded PostgreSQL 18 (pgvector), creates the demo schema (so
statements resolve), generates --distinct different statements over it and embeds
them with the packaged model, then stores --findings findings: each distinct
statement many times over, as findings on as many different fingerprints, with
its embedding moved by a little noise (so the HNSW graph holds 100,000 distinct
points in clusters, as a long-lived knowledge base would). Then it times
``KnowledgeBase.similar`` for --lookups statements: the lookup itself (the
statement's embedding given), and the whole path with the statement embedded.
Floor: the lookup under 20 ms at the median.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psycopg
from _common import machine, temporary_server
from psycopg.conninfo import make_conninfo

from pgarchitect import db
from pgarchitect.analysis import analyze, load_catalog
from pgarchitect.demo import app
from pgarchitect.knowledge.embed import default_embedder
from pgarchitect.knowledge.features import embedding_text, features_of
from pgarchitect.knowledge.kb import Finding, KnowledgeBase
from pgarchitect.settings import load_config

COLUMNS = {
    "User": ["email", "name", "role", '"createdAt"'],
    "Course": ["category", "title", '"authorId"', '"isPublished"', '"createdAt"'],
    "Enrollment": ['"userId"', '"courseId"', "status", "progress", '"enrolledAt"'],
    "BehaviorLog": ['"userId"', '"eventType"', '"timestamp"', '"courseId"'],
    "QuizAttempt": ['"userId"', '"lessonId"', "score", '"attemptedAt"'],
}
SHAPES = (
    "SELECT * FROM \"{t}\" WHERE {a} = $1",
    "SELECT id, {b} FROM \"{t}\" WHERE {a} = $1 AND {b} > $2",
    "SELECT id FROM \"{t}\" WHERE {a} = $1 ORDER BY {b} DESC LIMIT 20",
    "SELECT {a}, count(*) FROM \"{t}\" WHERE {b} >= $1 GROUP BY {a}",
    "UPDATE \"{t}\" SET {b} = $2 WHERE {a} = $1",
    "SELECT id FROM \"{t}\" WHERE {a} IN ($1, $2, $3) ORDER BY {b}",
    "DELETE FROM \"{t}\" WHERE {a} < $1",
)


def statements(n: int) -> list[str]:
    out = []
    for shape, (table, cols) in itertools.product(SHAPES, COLUMNS.items()):
        for a, b in itertools.permutations(cols, 2):
            out.append(shape.format(t=table, a=a, b=b))
    extra = itertools.count()
    while len(out) < n:  # the same shapes with more selected columns, as ORMs write them
        i = next(extra)
        out.append(out[i].replace("SELECT id", f"SELECT id, {i % 7} AS v{i}", 1))
    return out[:n]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=1_000)
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(7)
    with temporary_server() as admin:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE kb")
        target = make_conninfo(admin, dbname="kb")
        config = load_config()
        with db.connect(target, config) as conn:
            conn.execute(Path(app.__file__).with_name("schema.sql").read_text().encode())
            catalog = load_catalog(conn)
            texts = statements(args.distinct)
            feats = [features_of(analyze(t, catalog)) for t in texts]
            started = time.perf_counter()
            vectors = [e.vector for e in default_embedder().embed(
                [embedding_text(t) for t in texts])]
            embed_s = time.perf_counter() - started
            kb = KnowledgeBase(conn)
            started = time.perf_counter()
            batch: list[Finding] = []
            for i in range(args.findings):
                j = i % len(texts)
                vector = vectors[j] + rng.normal(0, 0.02, vectors[j].shape).astype(np.float32)
                vector /= np.linalg.norm(vector)
                batch.append(Finding(
                    database="bench", fingerprint=f"{feats[j].fingerprint}-{i}",
                    query=texts[j], kind="index", recommendation_sql=f"CREATE INDEX i{i}",
                    description="fix", features=feats[j].to_json(),
                    embedding=[float(x) for x in vector]))
                if len(batch) == 5_000:
                    kb.record(batch)
                    batch = []
            kb.record(batch)
            store_s = time.perf_counter() - started
            conn.execute("VACUUM ANALYZE pgarchitect.optimization_log")
            picks = rng.choice(len(texts), size=args.lookups)
            lookup_ms, full_ms, hits = [], [], 0
            for j in picks:
                started = time.perf_counter()
                cases = kb.similar(texts[j], feats[j], embedding=vectors[j])
                lookup_ms.append(1000 * (time.perf_counter() - started))
                hits += bool(cases) and cases[0].finding.query == texts[j]
                started = time.perf_counter()
                kb.similar(texts[j], feats[j])
                full_ms.append(1000 * (time.perf_counter() - started))
            stored = kb.count()
        info = machine(admin, "all-MiniLM-L6-v2 (numpy)")
    print("\n".join(info))
    print(f"data:       {stored:,} findings ({args.distinct:,} distinct statements, "
          f"{args.findings // args.distinct} noisy copies each), pgvector HNSW (m 16, "
          f"ef_construction 64, ef_search 40)")
    print(f"setup:      embedding {args.distinct:,} statements {embed_s:.1f} s; storing "
          f"{stored:,} findings {store_s:.1f} s (batches of 5,000, one round trip each)")
    print()
    print(f"| lookup ({len(picks)} statements) | median ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for label, ms in (("similar(), embedding given", lookup_ms),
                      ("similar(), statement embedded too", full_ms)):
        ordered = sorted(ms)
        print(f"| {label} | {statistics.median(ms):.1f} | "
              f"{ordered[int(0.95 * (len(ms) - 1))]:.1f} | {ordered[-1]:.1f} |")
    print(f"\nbest match is a finding of the same statement in {hits} of {len(picks)} lookups")


if __name__ == "__main__":
    main()
