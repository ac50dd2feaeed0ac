"""Parsing and analysing statements: pgarchitect.analysis over a generated workload.

Usage:
    python benchmarks/analysis.py [--statements 5000] [--repeat 3] [--seed 7]

Generates --statements distinct statements (distinct pglast fingerprints, so they
differ in shape, not only in constants) over the demo schema and the golden
catalog of the tests (views, partitions, a non-public schema): single-table
lookups, joins along the foreign keys, aggregates, CTEs, subqueries, views,
INSERT/UPDATE/DELETE, with $n parameters as pg_stat_statements shows them. Then
times pglast's parse alone, and parse + analyze with the catalog and without
one; the best of --repeat runs. Floor: under 10 s for 5,000 statements.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pglast
from _common import cpu

from pgarchitect.analysis import Catalog, analyze, fingerprint

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = (ROOT / "src/pgarchitect/demo/schema.sql", ROOT / "tests/fixtures/analysis/schema.sql")

# Columns by table, with the kind of value they hold (quoted as the schema spells them).
TABLES: dict[str, list[tuple[str, str]]] = {
    '"User"': [("id", "uuid"), ("email", "text"), ("role", "text"), ('"createdAt"', "time")],
    '"Course"': [("id", "uuid"), ("title", "text"), ("category", "text"),
                 ('"authorId"', "uuid"), ('"isPublished"', "bool"), ('"createdAt"', "time")],
    '"Lesson"': [("id", "uuid"), ('"courseId"', "uuid"), ("title", "text"),
                 ('"position"', "number"), ('"durationSec"', "number"), ('"createdAt"', "time")],
    '"Enrollment"': [("id", "uuid"), ('"userId"', "uuid"), ('"courseId"', "uuid"),
                     ("progress", "number"), ("status", "text"), ('"enrolledAt"', "time")],
    '"QuizAttempt"': [("id", "uuid"), ('"userId"', "uuid"), ('"lessonId"', "uuid"),
                      ("score", "number"), ('"attemptedAt"', "time")],
    '"BehaviorLog"': [("id", "number"), ('"userId"', "uuid"), ('"eventType"', "text"),
                      ("metadata", "json"), ('"timestamp"', "time")],
    "analytics.page_view": [("id", "number"), ('"userId"', "uuid"), ("path", "text"),
                            ('"viewedAt"', "time"), ('"durationMs"', "number")],
    'analytics."AuditEvent"': [("id", "number"), ("actor", "text"), ("action", "text"),
                               ("country", "text"), ('"deletedAt"', "time")],
    "published_course": [("id", "uuid"), ("title", "text"), ("category", "text"),
                         ('"authorId"', "uuid"), ("author_email", "text")],
    "analytics.active_enrollment": [("id", "uuid"), ('"userId"', "uuid"),
                                    ('"courseId"', "uuid"), ("progress", "number"),
                                    ("status_key", "text")],
}
# Foreign keys: (child, column, parent, column).
JOINS = [
    ('"Course"', '"authorId"', '"User"', "id"),
    ('"Lesson"', '"courseId"', '"Course"', "id"),
    ('"Enrollment"', '"userId"', '"User"', "id"),
    ('"Enrollment"', '"courseId"', '"Course"', "id"),
    ('"QuizAttempt"', '"userId"', '"User"', "id"),
    ('"QuizAttempt"', '"lessonId"', '"Lesson"', "id"),
    ('"BehaviorLog"', '"userId"', '"User"', "id"),
    ("analytics.page_view", '"userId"', '"User"', "id"),
]
WORDS = ["intro", "sql", "python", "active", "login", "page_view", "completed", "admin"]
KEYS = ["courseId", "device", "lessonId", "source"]


class Generator:
    """Statements in the shapes an ORM and a hurried team produce; deterministic."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.param = 0

    def p(self) -> str:
        self.param += 1
        return f"${self.param}"

    def word(self) -> str:
        return f"'{self.rnd.choice(WORDS)}'"

    def value(self, kind: str) -> str:
        """A parameter most of the time (pg_stat_statements' form), else a constant."""
        if self.rnd.random() < 0.7:
            return self.p()
        if kind == "number":
            return str(self.rnd.randint(1, 10_000))
        if kind == "time":
            return f"now() - interval '{self.rnd.randint(1, 90)} days'"
        if kind == "uuid":
            return f"'{uuid.UUID(int=self.rnd.getrandbits(128))}'"
        return self.word()

    def one_of(self, *makers: Callable[[], str]) -> str:
        # Build only the chosen one: each $n is numbered when it is written.
        return self.rnd.choice(makers)()

    def predicate(self, alias: str, column: str, kind: str) -> str:
        col = f"{alias}.{column}" if alias else column
        r = self.rnd.random()
        if kind == "bool":
            return self.one_of(lambda: col, lambda: f"NOT {col}", lambda: f"{col} = {self.p()}")
        if kind == "json":
            key = self.rnd.choice(KEYS)
            return self.one_of(lambda: f"{col} ->> '{key}' = {self.p()}",
                               lambda: f"{col} @> '{{\"{key}\": 1}}'",
                               lambda: f"{col} IS NULL")
        if r < 0.1:
            return f"{col} IS {'NOT ' if self.rnd.random() < 0.5 else ''}NULL"
        if r < 0.25:
            return f"({col} = {self.value(kind)} OR {col} IS NULL)"
        if kind == "text" and r < 0.6:
            return self.one_of(
                lambda: f"lower({col}) = lower({self.p()})",
                lambda: f"{col} ILIKE '%' || {self.p()} || '%'",
                lambda: f"{col} LIKE '{self.rnd.choice(WORDS)}%'",
                lambda: f"{col} IN ({self.word()}, {self.word()})",
                lambda: f"{col} <> {self.word()}")
        if kind == "uuid" and r < 0.5:
            return self.one_of(
                lambda: f"{col} = ANY({self.p()})",
                lambda: f"{col} IN ({', '.join(self.p() for _ in range(self.rnd.randint(1, 4)))})")
        if kind in ("number", "time") and r < 0.8:
            if self.rnd.random() < 0.3:
                return f"{col} BETWEEN {self.p()} AND {self.p()}"
            return f"{col} {self.rnd.choice(['<', '<=', '>', '>='])} {self.value(kind)}"
        return f"{col} = {self.value(kind)}"

    def where(self, alias: str, table: str, n: int) -> str:
        columns = self.rnd.sample(TABLES[table], k=min(n, len(TABLES[table])))
        return " AND ".join(self.predicate(alias, c, kind) for c, kind in columns)

    def tail(self, alias: str, table: str) -> str:
        parts = []
        if self.rnd.random() < 0.6:
            col, _ = self.rnd.choice(TABLES[table])
            direction = self.rnd.choice(["", " DESC", " ASC", " DESC NULLS LAST"])
            parts.append(f" ORDER BY {alias + '.' if alias else ''}{col}{direction}")
        if self.rnd.random() < 0.5:
            parts.append(f" LIMIT {self.p()}")
        if self.rnd.random() < 0.2:
            parts.append(f" OFFSET {self.p()}")
        return "".join(parts)

    def names(self, table: str, k: int) -> list[str]:
        return [c for c, _ in self.rnd.sample(TABLES[table], k=k)]

    def select_one(self) -> str:
        table = self.rnd.choice(list(TABLES))
        out = "*" if self.rnd.random() < 0.2 else ", ".join(
            self.names(table, self.rnd.randint(1, 3)))
        n = self.rnd.randint(1, 3)
        return f"SELECT {out} FROM {table} WHERE {self.where('', table, n)}{self.tail('', table)}"

    def select_join(self) -> str:
        child, ccol, parent, pcol = self.rnd.choice(JOINS)
        kind = self.rnd.choice(["JOIN", "LEFT JOIN"])
        cols = [f"c.{self.names(child, 1)[0]}", f"p.{self.names(parent, 1)[0]}"]
        conditions = [self.where("c", child, self.rnd.randint(1, 2))]
        if self.rnd.random() < 0.5:
            conditions.append(self.where("p", parent, 1))
        return (f"SELECT {', '.join(cols)} FROM {child} c {kind} {parent} p "
                f"ON p.{pcol} = c.{ccol} WHERE {' AND '.join(conditions)}{self.tail('c', child)}")

    def aggregate(self) -> str:
        table = self.rnd.choice(list(TABLES))
        group = self.names(table, 1)[0]
        first, last = TABLES[table][0][0], TABLES[table][-1][0]
        agg = self.rnd.choice(["count(*)", f"count(DISTINCT {first})", f"max({last})"])
        having = f" HAVING count(*) > {self.p()}" if self.rnd.random() < 0.4 else ""
        return (f"SELECT {group}, {agg} AS n FROM {table} WHERE "
                f"{self.where('', table, self.rnd.randint(1, 2))} GROUP BY {group}{having}"
                f" ORDER BY n DESC LIMIT {self.p()}")

    def cte_or_subquery(self) -> str:
        child, ccol, parent, pcol = self.rnd.choice(JOINS)
        inner = f"SELECT {ccol} FROM {child} WHERE {self.where('', child, self.rnd.randint(1, 2))}"
        r = self.rnd.random()
        if r < 0.35:
            mat = self.rnd.choice(["", "MATERIALIZED ", "NOT MATERIALIZED "])
            return (f"WITH s AS {mat}({inner}) SELECT p.* FROM {parent} p JOIN s "
                    f"ON s.{ccol} = p.{pcol} WHERE {self.where('p', parent, 1)}")
        if r < 0.7:
            return f"SELECT * FROM {parent} WHERE {pcol} IN ({inner}){self.tail('', parent)}"
        return (f"SELECT p.{pcol} FROM {parent} p WHERE EXISTS (SELECT 1 FROM {child} c "
                f"WHERE c.{ccol} = p.{pcol} AND {self.where('c', child, 1)})")

    def write(self) -> str:
        table = self.rnd.choice([t for t in TABLES if "_course" not in t and "active" not in t])
        cols = [c for c, _ in TABLES[table]]
        r = self.rnd.random()
        if r < 0.4:
            chosen = self.rnd.sample(cols[1:], k=self.rnd.randint(1, len(cols) - 1))
            return (f"INSERT INTO {table} ({', '.join(chosen)}) "
                    f"VALUES ({', '.join(self.p() for _ in chosen)})")
        if r < 0.75:
            sets = self.rnd.sample(cols[1:], k=self.rnd.randint(1, 2))
            return (f"UPDATE {table} SET {', '.join(f'{c} = {self.p()}' for c in sets)} "
                    f"WHERE {self.where('', table, self.rnd.randint(1, 2))}")
        return f"DELETE FROM {table} WHERE {self.where('', table, self.rnd.randint(1, 2))}"

    def statement(self) -> str:
        self.param = 0
        makers: list[Callable[[], str]] = [
            self.select_one, self.select_one, self.select_join, self.select_join,
            self.aggregate, self.cte_or_subquery, self.write,
        ]
        return self.rnd.choice(makers)()


def workload(count: int, seed: int) -> list[str]:
    """``count`` statements with distinct fingerprints."""
    gen = Generator(seed)
    seen: dict[str, str] = {}
    while len(seen) < count:
        query = gen.statement()
        key = fingerprint(query)
        if key is None:
            raise SystemExit(f"The generator wrote a statement that does not parse: {query}")
        seen.setdefault(key, query)
    return list(seen.values())


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    catalog = Catalog.from_ddl("\n".join(p.read_text() for p in SCHEMAS))
    queries = workload(args.statements, args.seed)
    # The analyses must be clean: a generator bug would time the error paths instead.
    results = [analyze(q, catalog) for q in queries]
    problems = [(q, a.error or a.warnings) for q, a in zip(queries, results, strict=True)
                if a.error or a.warnings]
    if problems:
        raise SystemExit(f"{len(problems)} statements do not analyse cleanly, e.g. {problems[0]}")
    rows = [
        ("pglast.parse_sql only", best(lambda: [pglast.parse_sql(q) for q in queries],
                                       args.repeat)),
        ("parse + analyze, catalog", best(lambda: [analyze(q, catalog) for q in queries],
                                          args.repeat)),
        ("parse + analyze, no catalog", best(lambda: [analyze(q) for q in queries],
                                             args.repeat)),
    ]
    chars = sum(len(q) for q in queries)
    predicates = sum(len(a.predicates) for a in results)
    print(cpu())
    print(f"client:     Python {platform.python_version()}, "
          f"pglast {pglast.__version__}")
    print(f"data:       {len(queries):,} distinct statements ({chars / len(queries):.0f} "
          f"characters and {predicates / len(queries):.1f} predicates on average), "
          f"best of {args.repeat}")
    print()
    print("| step                         | statements | seconds | statements/s |")
    print("|------------------------------|------------|---------|--------------|")
    for name, seconds in rows:
        print(f"| {name:<28} | {len(queries):>10,} | {seconds:>7.2f} | "
              f"{len(queries) / seconds:>12,.0f} |")


if __name__ == "__main__":
    main()
