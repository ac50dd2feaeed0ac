"""The "already solved?" decision on the evaluation set of benchmarks/kb_eval/.

Usage:
    python benchmarks/kb_eval.py [--set benchmarks/kb_eval] [--engine sandbox|hypopg|both]

The set (benchmarks/kb_eval/README.md) has two schemas used nowhere else in the
repository, each its own database filled by its data file, and groups: a solved
statement with the fix an earlier finding recommended, variants that the same fix
solves, and hard negatives that resemble the group but need another fix. Every
statement is parsed (pglast) and planned (EXPLAIN) in its database; a statement
that does not plan stops the run.

The decision is the shipped one, run for real: the solved statements are recorded
as findings (as ``findings_of`` writes them: features_of(analyze(...)), the
description "problem; fix: title.") in a knowledge base on the same server, with
``KnowledgeBase.record`` (which embeds them), and every variant and negative goes
through ``pgarchitect.knowledge.audit.known_cases`` as the audit of its database
would (retrieval at the default kb_threshold and kb_candidates, then each case's
fix replayed by the index advisor's checker, at the default settings). Groups
marked ``other_databases: N`` have the same finding recorded first by N other
databases sharing the schema (shards, regions).

- a skip is right when the statement is a variant and the cited finding is its
  group's; a skip of a negative, or citing another group, is a false skip;
- skip precision = right skips / skips; skip recall = right skips / variants.

Engines: ``sandbox`` on a temporary embedded PostgreSQL 18 (no HypoPG: the index is
built in a transaction that is rolled back), ``hypopg`` on Debian's PostgreSQL 15.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pglast
import psycopg
import yaml
from _common import machine, pg15_server, temporary_server
from psycopg import sql

from pgarchitect.advisors import ADVISORS, checkers
from pgarchitect.advisors.base import Context
from pgarchitect.analysis import Analysis, analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.knowledge.audit import Session, known_cases
from pgarchitect.knowledge.features import features_of
from pgarchitect.knowledge.kb import Finding, KnowledgeBase, Spool
from pgarchitect.plans import NoPlan, generic_plan
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "benchmarks/kb_eval"
KB_DATABASE = "kb_eval_kb"
REGIONS = ("eu-west", "us-east", "ap-south", "sa-east", "eu-north", "us-west", "ap-east")
ENGINES = ("sandbox", "hypopg")


@dataclass(frozen=True)
class Item:
    """One statement to decide on: a variant or a negative of a group."""

    group: str
    database: str
    kind: str  # variant | negative
    category: str
    sql: str
    why: str = ""


@dataclass
class Group:
    name: str
    database: str
    problem: str
    title: str
    fix: str
    solved: str
    other_databases: int


def load(directory: Path) -> tuple[dict[str, str], dict[str, str], list[Group], list[Item]]:
    """Schemas and data by database, groups and items; checks the set's shape."""
    schemas = {p.stem.removeprefix("schema_"): p.read_text()
               for p in sorted(directory.glob("schema_*.sql"))}
    data = {d: (directory / f"data_{d}.sql").read_text() for d in schemas}
    groups: list[Group] = []
    items: list[Item] = []
    for path in sorted(directory.glob("groups_*.yaml")):
        database = path.stem.removeprefix("groups_")
        if database not in schemas:
            raise SystemExit(f"{path.name}: no schema_{database}.sql")
        for g in yaml.safe_load(path.read_text()):
            groups.append(Group(g["group"], database, g["problem"], g["title"], g["fix"],
                                g["solved"], int(g.get("other_databases", 0))))
            if len(g["variants"]) < 4:
                raise SystemExit(f"{g['group']}: fewer than 4 variants")
            items += [Item(g["group"], database, "variant", v["cat"], v["sql"])
                      for v in g["variants"]]
            items += [Item(g["group"], database, "negative", n["cat"], n["sql"], n["why"])
                      for n in g.get("negatives", ())]
    names = Counter(g.name for g in groups)
    if dup := [n for n, k in names.items() if k > 1]:
        raise SystemExit(f"groups named twice: {dup}")
    return schemas, data, groups, items


def prepare(conninfo: str, schemas: dict[str, str], data: dict[str, str],
            groups: list[Group], items: list[Item], *, hypopg: bool) -> tuple[int, float]:
    """Create, fill and analyse each schema's database; check that every statement and
    fix parses and every statement plans. Returns (statements checked, load seconds)."""
    statements: dict[str, list[str]] = defaultdict(list)
    for g in groups:
        statements[g.database].append(g.solved)
        pglast.parse_sql(g.fix)
    for i in items:
        statements[i.database].append(i.sql)
    failures = []
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for database in schemas:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    started = time.perf_counter()
    for database, ddl in schemas.items():
        with psycopg.connect(conninfo, dbname=database, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            if hypopg:
                conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            conn.execute(ddl)
            conn.execute(data[database])
            conn.execute("VACUUM ANALYZE")
            for text in statements[database]:
                try:
                    pglast.parse_sql(text)
                except pglast.parser.ParseError as exc:
                    failures.append(f"{database}: {text}\n    {exc}")
                    continue
                if isinstance(plan := generic_plan(conn, text), NoPlan):
                    failures.append(f"{database}: {text}\n    {plan.reason}")
    if failures:
        raise SystemExit("statements that do not plan:\n" + "\n".join(failures))
    return sum(len(v) for v in statements.values()), time.perf_counter() - started


def finding_of(group: Group, analysis: Analysis, database: str) -> Finding:
    """The finding an audit would have stored for the solved statement (findings_of)."""
    features = features_of(analysis)
    name = group.fix.split(" ON ")[0].split()[-1]
    return Finding(database=database, fingerprint=features.fingerprint or "",
                   query=group.solved, kind="index", recommendation_sql=group.fix,
                   rollback_sql=f"DROP INDEX {name}",
                   description=f"{group.problem}; fix: {group.title}.",
                   reasoning="", confidence=0.8, features=features.to_json())


@dataclass(frozen=True)
class Decided:
    item: Item
    cited: str | None  # the group of the finding cited when skipped
    verdict: str  # the answer's verdict, or "miss"
    lines: tuple[str, ...]  # every case checked, with what was checked


@dataclass
class Run:
    engine: str
    header: list[str]
    checked: int
    load_seconds: float
    lookup_seconds: float
    decided: list[Decided]


@contextmanager
def server(engine: str, work: Path) -> Iterator[str]:
    if engine == "sandbox":
        with temporary_server() as conninfo:
            yield conninfo
    else:
        with pg15_server(work, "postgres", {}, keep=False) as conninfo:
            yield conninfo


def run(engine: str, directory: Path) -> Run:
    """The decision on every variant and negative of the set, on one engine."""
    schemas, data, groups, items = load(directory)
    config = load_config()
    with tempfile.TemporaryDirectory(prefix="pga-kb-eval-") as tmp, \
            server(engine, Path(tmp)) as conninfo:
        checked, load_seconds = prepare(conninfo, schemas, data, groups, items,
                                        hypopg=engine == "hypopg")
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(
                sql.Identifier(KB_DATABASE)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(KB_DATABASE)))
        header = machine(conninfo, f"pglast {pglast.__version__}")
        with psycopg.connect(conninfo, dbname=KB_DATABASE, autocommit=True) as kb_conn:
            kb = KnowledgeBase(kb_conn, threshold=config.get_float("kb_threshold"))
            group_of = record(kb, groups, {d: _catalog(conninfo, d) for d in schemas})
            decided: list[Decided] = []
            lookup_seconds = 0.0
            own = [Item(g.name, g.database, "solved", "own", g.solved) for g in groups]
            for database in schemas:
                todo = [i for i in items + own if i.database == database]
                with psycopg.connect(conninfo, dbname=database, autocommit=True) as conn:
                    catalog = DatabaseCatalog(conn)
                    analyses = [analyze(i.sql, catalog.relations) for i in todo]
                    state = Session(kb, database, Spool(Path(tmp) / "spool.jsonl"))
                    started = time.perf_counter()
                    with checkers(Context(conn, config, catalog), ADVISORS) as replay:
                        lookups = known_cases(state, [Statement(query=i.sql) for i in todo],
                                              analyses, replay,
                                              limit=config.get_int("kb_candidates"))
                    lookup_seconds += time.perf_counter() - started
                for item, lookup in zip(todo, lookups, strict=True):
                    known = lookup.known
                    decided.append(Decided(
                        item, group_of.get(str(known.case.finding.id), "?") if known else None,
                        known.answer.check.verdict if known else "miss",
                        tuple(f"{group_of.get(str(c.case.finding.id), '?')}: {c.line()}"
                              for c in lookup.checked)))
    return Run(engine, header, checked, load_seconds, lookup_seconds, decided)


def _catalog(conninfo: str, database: str) -> DatabaseCatalog:
    conn = psycopg.connect(conninfo, dbname=database, autocommit=True)
    catalog = DatabaseCatalog(conn)
    _ = catalog.relations  # read now: the connection is closed after
    conn.close()
    return catalog


def record(kb: KnowledgeBase, groups: list[Group],
           catalogs: dict[str, DatabaseCatalog]) -> dict[str, str]:
    """Record every group's finding (other databases first); finding id -> group."""
    for g in groups:
        analysis = analyze(g.solved, catalogs[g.database].relations)
        for k in range(g.other_databases):
            kb.record([finding_of(g, analysis, f"{g.database}-{REGIONS[k]}")])
    findings = [finding_of(g, analyze(g.solved, catalogs[g.database].relations), g.database)
                for g in groups]
    kb.record(findings)
    by_query = {(g.database, g.solved): g.name for g in groups}
    return {str(f.id): by_query.get((f.database.split("-")[0], f.query), "?")
            for f in kb.recent(limit=100_000)}


def holding(decided: list[Decided]) -> tuple[list[Decided], list[Decided]]:
    """The decisions of the groups whose finding holds on the data (the decision skips
    the solved statement itself, citing its own finding), and those of the others.

    A finding whose index does not serve its own statement on this data is not one an
    audit could have made here: its group is reported apart, not scored."""
    held = {d.item.group for d in decided if d.item.kind == "solved"
            and d.cited == d.item.group}
    return ([d for d in decided if d.item.group in held and d.item.kind != "solved"],
            [d for d in decided if d.item.group not in held])


@dataclass(frozen=True)
class Score:
    skips: int
    right: int
    false_negatives: list[Decided]
    wrong_citations: list[Decided]
    misses: list[Decided]
    variants: int
    negatives: int

    @property
    def precision(self) -> float:
        return self.right / self.skips if self.skips else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.variants if self.variants else 1.0


def score(decided: list[Decided]) -> Score:
    variants = [d for d in decided if d.item.kind == "variant"]
    negatives = [d for d in decided if d.item.kind == "negative"]
    right = [d for d in variants if d.cited == d.item.group]
    wrong = [d for d in variants if d.cited is not None and d.cited != d.item.group]
    false = [d for d in negatives if d.cited is not None]
    return Score(len(right) + len(wrong) + len(false), len(right), false, wrong,
                 [d for d in variants if d.cited is None], len(variants), len(negatives))


def short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def report(r: Run, *, details: bool = True) -> Score:
    """Print one engine's table, its false skips and misses, and by category."""
    decided, apart = holding(r.decided)
    s = score(decided)
    for line in r.header:
        print(line)
    print(f"engine:     {r.engine}; {r.checked} statements parsed and planned; schemas, data "
          f"and ANALYZE in {r.load_seconds:.1f} s")
    print(f"lookups:    {len(r.decided)} statements in {r.lookup_seconds:.1f} s "
          f"({1000 * r.lookup_seconds / max(1, len(r.decided)):.0f} ms each on average, "
          "retrieval and replay, as one audit does them)")
    groups = sorted({d.item.group for d in r.decided})
    out = sorted({d.item.group for d in apart})
    print(f"findings:   {len(groups) - len(out)} of {len(groups)} groups' findings hold on "
          "the data (their own statement is solved by their fix); "
          + (f"not scored: {', '.join(out)}" if out else "all scored"))
    for d in apart:
        if d.item.kind == "solved":
            for line in d.lines[:1]:
                print(f"      {d.item.group}: {short(line, 150)}")
    print()
    print("| engine  | variants | negatives | skips | right | false | precision | recall |")
    print("|---------|----------|-----------|-------|-------|-------|-----------|--------|")
    print(f"| {r.engine:<7} | {s.variants:>8} | {s.negatives:>9} | {s.skips:>5} | "
          f"{s.right:>5} | {s.skips - s.right:>5} | {s.precision:>9.3f} | {s.recall:>6.3f} |")
    if not details:
        return s
    print()
    print(f"False skips ({len(s.false_negatives)} negatives, {len(s.wrong_citations)} "
          "variants citing another group):")
    for d in s.false_negatives + s.wrong_citations:
        print(f"  {d.item.group} <- {d.cited} [{d.item.kind} {d.item.category}] "
              f"{short(d.item.sql)}")
        if d.item.why:
            print(f"      labelled: {d.item.why}")
        for line in d.lines:
            print(f"      {short(line, 300)}")
    print()
    print(f"Misses ({len(s.misses)} variants not skipped):")
    for d in s.misses:
        print(f"  {d.item.group} [{d.item.category}] {short(d.item.sql)}")
        for line in d.lines or ("no case retrieved",):
            print(f"      {short(line, 300)}")
    print()
    print("| kind     | category              |   n | skipped | right | false | missed |")
    print("|----------|-----------------------|-----|---------|-------|-------|--------|")
    for kind in ("variant", "negative"):
        cats = Counter(d.item.category for d in decided if d.item.kind == kind)
        for cat, n in sorted(cats.items()):
            rows = [d for d in decided if d.item.kind == kind and d.item.category == cat]
            skipped = sum(d.cited is not None for d in rows)
            ok = sum(d.cited == d.item.group for d in rows) if kind == "variant" else 0
            miss = sum(d.cited is None for d in rows) if kind == "variant" else 0
            print(f"| {kind:<8} | {cat:<21} | {n:>3} | {skipped:>7} | {ok:>5} | "
                  f"{skipped - ok:>5} | {miss:>6} |")
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--engine", choices=(*ENGINES, "both"), default="both")
    args = parser.parse_args(argv)
    engines = ENGINES if args.engine == "both" else (args.engine,)
    for engine in engines:
        report(run(engine, args.set))
        print()
    print(f"client:     Python {platform.python_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
