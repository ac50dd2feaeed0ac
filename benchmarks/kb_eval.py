"""Today's "already solved?" decision on the evaluation set of benchmarks/kb_eval/.

Usage:
    python benchmarks/kb_eval.py [--set benchmarks/kb_eval] [--no-baseline]

The set (benchmarks/kb_eval/README.md) has two schemas used nowhere else in the
repository, each its own database, and groups: a solved statement with the fix an
earlier finding recommended, variants that the same fix solves, and hard negatives
that resemble the group but need another fix. Every statement is parsed (pglast)
and planned (EXPLAIN (GENERIC_PLAN)) on a temporary embedded PostgreSQL 18 in a
database of its schema; a statement that does not plan stops the run.

The decision is the shipped one, run for real: the solved statements are recorded as
findings (as ``findings_of`` writes them: features_of(analyze(...)), the description
"problem; fix: title.") in a knowledge base in the same server, with
``KnowledgeBase.record`` (which embeds them), and every variant and negative goes
through ``pgarchitect.knowledge.audit.known_cases`` as the audit of its database
(default Weights and THRESHOLD). Groups marked ``other_databases: N`` have the same
finding recorded first by N other databases sharing the schema (shards, regions).

- a skip is right when the statement is a variant and the cited finding is its
  group's; a skip of a negative, or citing another group, is a false skip;
- skip precision = right skips / skips; skip recall = right skips / variants.

Then the current benchmark (benchmarks/kb_retrieval.py) is run beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pglast
import psycopg
import yaml
from _common import machine, temporary_server
from psycopg import sql

from pgarchitect.analysis import Analysis, Catalog, analyze
from pgarchitect.knowledge.audit import Session, known_cases
from pgarchitect.knowledge.features import features_of
from pgarchitect.knowledge.kb import Finding, KnowledgeBase, Spool
from pgarchitect.knowledge.similarity import THRESHOLD, Weights
from pgarchitect.workload import Statement

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "benchmarks/kb_eval"
KB_DATABASE = "kb_eval_kb"
REGIONS = ("eu-west", "us-east", "ap-south", "sa-east", "eu-north", "us-west", "ap-east")

# The categories that are known defects of the decision, by kind.
DEFECTS = {
    "negative": {
        "const-expression-key": "equal fingerprint, the constant picks the key",
        "const-partial-key": "equal fingerprint, the constant is outside the partial index",
        "like-anchor": "prefix vs contains (ILIKE 'x%' vs '%x%')",
        "fts-config": "to_tsvector('simple') vs 'english'",
        "deep-offset": "first page vs deep OFFSET",
        "and-or": "AND vs a solved OR (or the reverse)",
        "left-join-on": "filter in LEFT JOIN ... ON vs in WHERE",
        "sort-extra": "ORDER BY a, b LIMIT vs solved ORDER BY a",
    },
    "variant": {
        "extra-filter": "one extra harmless filter",
        "cast": "CAST(x AS t) / x::t / date(x)",
        "orm-wildcard": "ORM puts the % wildcards into the parameter",
        "update-delete": "UPDATE/DELETE form of a solved SELECT",
        "in-any": "IN (...) vs = ANY($1)",
    },
}


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


def load(directory: Path) -> tuple[dict[str, str], list[Group], list[Item]]:
    """Schemas by database, groups and items; checks the set's shape."""
    schemas = {p.stem.removeprefix("schema_"): p.read_text()
               for p in sorted(directory.glob("schema_*.sql"))}
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
    return schemas, groups, items


def validate(conninfo: str, schemas: dict[str, str], groups: list[Group],
             items: list[Item]) -> int:
    """Parse every statement and fix, and plan every statement in its schema's database."""
    statements: dict[str, list[str]] = defaultdict(list)
    for g in groups:
        statements[g.database].append(g.solved)
        pglast.parse_sql(g.fix)
    for i in items:
        statements[i.database].append(i.sql)
    failures = []
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for database in schemas:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    for database, ddl in schemas.items():
        with psycopg.connect(conninfo, dbname=database, autocommit=True) as conn:
            conn.execute(ddl)
            for text in statements[database]:
                try:
                    pglast.parse_sql(text)
                    conn.execute(sql.SQL("EXPLAIN (GENERIC_PLAN) {}").format(sql.SQL(text)))
                except (pglast.parser.ParseError, psycopg.Error) as exc:
                    failures.append(f"{database}: {text}\n    {str(exc).splitlines()[0]}")
    if failures:
        raise SystemExit("statements that do not plan:\n" + "\n".join(failures))
    return sum(len(v) for v in statements.values())


def finding_of(group: Group, analysis: Analysis, database: str) -> Finding:
    """The finding an audit would have stored for the solved statement (findings_of)."""
    features = features_of(analysis)
    name = group.fix.split(" ON ")[0].split()[-1]
    return Finding(database=database, fingerprint=features.fingerprint or "",
                   query=group.solved, kind="index", recommendation_sql=group.fix,
                   rollback_sql=f"DROP INDEX {name}",
                   description=f"{group.problem}; fix: {group.title}.",
                   reasoning="", confidence=0.8, features=features.to_json())


def short(text: str, width: int = 96) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def baseline() -> list[str]:
    """The current benchmark's summary table (benchmarks/kb_retrieval.py, run here)."""
    import kb_retrieval

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        kb_retrieval.main([])
    lines = out.getvalue().splitlines()
    keep = [line for line in lines if line.startswith("data:")]
    start = next(i for i, line in enumerate(lines) if line.startswith("| scorer"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return keep + lines[start:end] + [line for line in lines if line.startswith("floor")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not run benchmarks/kb_retrieval.py beside it")
    args = parser.parse_args(argv)

    schemas, groups, items = load(args.set)
    catalogs = {d: Catalog.from_ddl(ddl) for d, ddl in schemas.items()}
    by_name = {g.name: g for g in groups}

    with temporary_server() as conninfo, tempfile.TemporaryDirectory() as tmp:
        checked = validate(conninfo, schemas, groups, items)
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(KB_DATABASE)))
        header = machine(conninfo, f"pglast {pglast.__version__}")
        with psycopg.connect(conninfo, dbname=KB_DATABASE, autocommit=True) as conn:
            kb = KnowledgeBase(conn)
            # Other databases sharing a schema recorded their findings first (earlier
            # created_at: each record() is its own transaction).
            for g in groups:
                for k in range(g.other_databases):
                    analysis = analyze(g.solved, catalogs[g.database])
                    kb.record([finding_of(g, analysis, f"{g.database}-{REGIONS[k]}")])
            ids = kb.record([finding_of(g, analyze(g.solved, catalogs[g.database]),
                                        g.database) for g in groups])
            own = {f.id: f.query for f in kb.recent(limit=10_000) if f.id in set(ids)}
            group_of = {fid: next(g.name for g in groups if g.solved == q)
                        for fid, q in own.items()}
            decided: list[tuple[Item, str | None, float | None]] = []
            control: list[bool] = []  # the decision with the database filtered first
            for database in schemas:
                todo = [i for i in items if i.database == database]
                analyses = [analyze(i.sql, catalogs[database]) for i in todo]
                state = Session(kb, database, Spool(Path(tmp) / "spool.jsonl"))
                known = known_cases(state, [Statement(query=i.sql) for i in todo], analyses)
                for item, analysis, k in zip(todo, analyses, known, strict=True):
                    cases = kb.similar(item.sql, features_of(analysis), limit=10_000)
                    mine = [c for c in cases if c.finding.database == database]
                    if k is None:
                        best = mine[0] if mine else None
                        decided.append((item, None, best.score if best else None))
                    else:
                        decided.append((item, group_of.get(str(k.case.finding.id), "?"),
                                        k.case.score))
                    control.append(bool(mine) and mine[0].score >= kb.threshold
                                   and group_of.get(str(mine[0].finding.id)) == item.group)
            items_order = decided

    variants = [d for d in items_order if d[0].kind == "variant"]
    negatives = [d for d in items_order if d[0].kind == "negative"]
    right = [d for d in variants if d[1] == d[0].group]
    wrong_cite = [d for d in variants if d[1] is not None and d[1] != d[0].group]
    misses = [d for d in variants if d[1] is None]
    false_neg = [d for d in negatives if d[1] is not None]
    skips = len(right) + len(wrong_cite) + len(false_neg)
    precision = len(right) / skips if skips else 1.0
    recall = len(right) / len(variants)

    for line in header:
        print(line)
    print(f"set:        {len(schemas)} schemas ({', '.join(schemas)}), {len(groups)} groups, "
          f"{len(variants)} variants, {len(negatives)} hard negatives; {checked} statements "
          "parsed and planned (EXPLAIN (GENERIC_PLAN)) on the server above")
    sharded = [g for g in groups if g.other_databases]
    print(f"kb:         {len(groups)} findings of the audited databases + "
          f"{sum(g.other_databases for g in groups)} of other databases sharing the schema "
          f"({len(sharded)} groups); decision: known_cases() on a real KnowledgeBase")
    print(f"settings:   THRESHOLD {THRESHOLD}, {Weights()}, known_cases limit=5")
    print()
    print("| decision (today)                       | skips | right | false | precision | "
          "recall |")
    print("|----------------------------------------|-------|-------|-------|-----------|"
          "--------|")
    print(f"| known_cases() at the shipped settings  | {skips:>5} | {len(right):>5} | "
          f"{len(wrong_cite) + len(false_neg):>5} | {precision:>9.3f} | {recall:>6.3f} |")
    ctl_right = sum(c for c, d in zip(control, items_order, strict=True)
                    if d[0].kind == "variant")
    print(f"  (same, database filtered before the top 5: {ctl_right}/{len(variants)} right "
          "skips of variants)")
    print()
    print(f"False skips ({len(false_neg)} negatives, {len(wrong_cite)} variants citing "
          "another group): group <- cited, score, category, statement")
    for item, cited, score in false_neg + wrong_cite:
        print(f"  {item.group} <- {cited} {score:.3f} [{item.kind} {item.category}] "
              f"{short(item.sql)}")
        if item.why:
            print(f"      needs: {item.why}")
    print()
    print(f"Misses ({len(misses)} variants not skipped): group, best score of this "
          "database's findings, category, statement")
    for item, _, score in misses:
        s = f"{score:.3f}" if score is not None else "none"
        print(f"  {item.group} {s} [{item.category}] {short(item.sql)}")
    print()
    print("By category (* a known defect of the decision)")
    print()
    print("| kind     | category              |   n | skipped | right skips | false skips | "
          "misses |")
    print("|----------|-----------------------|-----|---------|-------------|-------------|"
          "--------|")
    for kind in ("variant", "negative"):
        cats = Counter(d[0].category for d in items_order if d[0].kind == kind)
        for cat, n in sorted(cats.items()):
            rows = [d for d in items_order if d[0].kind == kind and d[0].category == cat]
            skipped = sum(d[1] is not None for d in rows)
            ok = sum(d[1] == d[0].group for d in rows) if kind == "variant" else 0
            false = skipped - ok
            miss = sum(d[1] is None for d in rows) if kind == "variant" else 0
            mark = "*" if cat in DEFECTS[kind] else " "
            print(f"| {kind:<8} | {cat + mark:<21} | {n:>3} | {skipped:>7} | {ok:>11} | "
                  f"{false:>11} | {miss:>6} |")
    sharded_rows = [d for d in variants if by_name[d[0].group].other_databases]
    print(f"| variant  | {'top-5 other dbs*':<21} | {len(sharded_rows):>3} | "
          f"{sum(d[1] is not None for d in sharded_rows):>7} | "
          f"{sum(d[1] == d[0].group for d in sharded_rows):>11} | "
          f"{sum(d[1] not in (None, d[0].group) for d in sharded_rows):>11} | "
          f"{sum(d[1] is None for d in sharded_rows):>6} |")
    print()
    if not args.no_baseline:
        print("Current benchmark beside it (benchmarks/kb_retrieval.py, demo schema):")
        print()
        for line in baseline():
            print(line)
    print()
    print(f"client:     Python {platform.python_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
