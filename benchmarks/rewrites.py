"""The rewrite rules, each measured: its statement before and after, on generated data.

Usage:
    python benchmarks/rewrites.py                 # a temporary embedded PostgreSQL 18
    python benchmarks/rewrites.py --scale 2       # twice the rows
    python benchmarks/rewrites.py --runs 9        # timed runs per side (median)

A shop's tables (customers, their orders, blocked customers, accounts with a uuid)
are generated with ``generate_series`` and analyzed. For each case the rule itself
(``RULES``, as the advisor runs it) writes the rewrite; the result check
(:func:`pgarchitect.advisors.rewrite.verify.compare`) runs both with the case's
values, and :func:`pgarchitect.measure.measure` times both under ``EXPLAIN
ANALYZE`` (one warm-up run, then ``--runs`` timed runs each; the median counts), as
an audit measures a rewrite. The "plan" column compares the two generic plans:
left_join_where is a note, PostgreSQL plans both the same, and its line shows it
(its times differ by the machine's noise only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from _common import machine, temporary_server

from pgarchitect import db
from pgarchitect.advisors.base import Context, Subject
from pgarchitect.advisors.rewrite import RewriteAdvisor
from pgarchitect.advisors.rewrite.advise import RewriteDetail
from pgarchitect.advisors.rewrite.rules import RULES, Rule, Skip
from pgarchitect.advisors.rewrite.verify import compare
from pgarchitect.analysis import analyze
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.measure import RewriteTrial, StatementInput, measure
from pgarchitect.plans import NoPlan, generic_plan
from pgarchitect.settings import load_config
from pgarchitect.workload import Statement

# Sizes at --scale 1; every table grows with the scale.
CUSTOMERS = 50_000
ORDERS = 1_000_000
BLOCKED = 20_000
ACCOUNTS = 200_000

# Each statement a constant, its sizes parameters (%(name)s), as psycopg binds them.
SCHEMA = (
    "CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, region text NOT NULL)",
    "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, "
    "status text NOT NULL, total numeric NOT NULL, created_at timestamp NOT NULL)",
    "CREATE TABLE blocked (customer_id bigint NOT NULL, reason text)",
    "CREATE TABLE accounts (id integer PRIMARY KEY, external_id uuid NOT NULL, "
    "code varchar(20) NOT NULL)",
    "INSERT INTO customers SELECT i, 'c' || i || '@example.org', "
    "(ARRAY['north', 'south', 'east', 'west'])[1 + i %% 4] "
    "FROM generate_series(1, %(customers)s) i",
    "INSERT INTO orders SELECT i, 1 + (i::bigint * 7919) %% %(customers)s, "
    "(ARRAY['open', 'paid', 'paid', 'shipped', 'returned'])[1 + i %% 5], (i %% 500) / 10.0, "
    "timestamp '2026-01-01' + i * interval '30 seconds' FROM generate_series(1, %(orders)s) i",
    "INSERT INTO blocked SELECT 1 + (i * 37) %% %(customers)s, 'fraud' "
    "FROM generate_series(1, %(blocked)s) i",
    "INSERT INTO accounts SELECT i, md5(i::text)::uuid, 'A' || lpad(i::text, 8, '0') "
    "FROM generate_series(1, %(accounts)s) i",
    "CREATE INDEX orders_customer_idx ON orders (customer_id)",
    "CREATE INDEX orders_created_idx ON orders (created_at)",
    "CREATE INDEX accounts_external_idx ON accounts (external_id)",
    "VACUUM ANALYZE",
)

TABLES = ("customers", "orders", "blocked", "accounts")
SIZES_SQL = """
SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)
"""


@dataclass(frozen=True)
class Case:
    rule: str
    query: str
    values: tuple[str | None, ...]


CASES = (
    Case("not_in", "SELECT o.id, o.total FROM orders o WHERE o.status = $1 AND o.customer_id "
                   "NOT IN (SELECT b.customer_id FROM blocked b)", ("returned",)),
    Case("date_cast", "SELECT id, total FROM orders WHERE date(created_at) = $1",
         ("2026-03-01",)),
    Case("or_to_union", "SELECT id, status FROM orders WHERE customer_id = $1 OR created_at = $2",
         ("4242", "2026-02-01 10:00")),
    Case("correlated_subquery", "SELECT c.id, (SELECT count(*) FROM orders o WHERE "
                                "o.customer_id = c.id) AS n FROM customers c WHERE c.region = $1",
         ("north",)),
    Case("distinct_exists", "SELECT DISTINCT c.id, c.email FROM customers c JOIN orders o "
                            "ON o.customer_id = c.id WHERE o.status = $1", ("paid",)),
    Case("implicit_cast", "SELECT id, total FROM orders WHERE customer_id = $1::numeric",
         ("4242",)),
    Case("implicit_cast", "SELECT id FROM accounts WHERE external_id::text = $1",
         ("c81e728d-9d4c-2f63-6f06-7f89cc14862c",)),  # md5('2')
    Case("left_join_where", "SELECT c.id, count(o.id) AS n FROM customers c LEFT JOIN orders o "
                            "ON o.customer_id = c.id WHERE o.created_at > $1 GROUP BY c.id",
         ("2026-12-01",)),
)

# Rules that choose their own parameter sets and bind other values after the change (a
# keyset page takes a cursor, not an offset), or accept an estimate: measured as an
# audit measures them, through the advisor.
ADVISED = (
    Case("offset_keyset", "SELECT id, customer_id, total, created_at FROM orders "
                          "ORDER BY created_at DESC OFFSET $1 LIMIT $2", ()),
    Case("count_estimate", "SELECT count(*) FROM orders", ()),

)


def load(conninfo: str, scale: float) -> float:
    sizes = {"customers": int(CUSTOMERS * scale), "orders": int(ORDERS * scale),
             "blocked": int(BLOCKED * scale), "accounts": int(ACCOUNTS * scale)}
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in SCHEMA:
            conn.execute(statement, sizes if "%(" in statement else None)
    return time.perf_counter() - started


def run(conn: psycopg.Connection[Any], catalog: DatabaseCatalog, rule: Rule, case: Case,
        runs: int) -> tuple[str, ...]:
    """One case's line: the rule's rewrite, checked and measured; or why there is none."""
    applied = rule.apply(case.query, analyze(case.query, catalog.relations), catalog)
    if isinstance(applied, Skip):
        return (case.rule, "-", "-", f"does not fire: {applied.reason}", "-", "-", "-", "-")
    match, rewritten = applied
    checked = compare(conn, case.query, rewritten, [case.values])
    statement = StatementInput(case.query, analyze(case.query).params, [case.values])
    [m] = measure(conn, RewriteTrial({case.query: rewritten}), [statement], runs=runs, sets=1)
    if not m.measured:
        return (case.rule, match.label, "-", f"not measured: {m.reason}", "-", "-", "-", "-")
    before, after = statistics.median(m.before_ms), statistics.median(m.after_ms)
    plans = [generic_plan(conn, q) for q in (case.query, rewritten)]
    same_plan = not any(isinstance(p, NoPlan) for p in plans) and len(
        {p.outline() for p in plans if not isinstance(p, NoPlan)}) == 1
    return (case.rule + (" (note)" if match.note else ""), match.label,
            f"{checked.sets[0].rows:,}" if checked.sets else "?",
            "yes" if checked.same else checked.summary(), "same" if same_plan else "changed",
            f"{before:,.2f}", f"{after:,.2f}", f"{before / after:,.1f}x")


def advised(conn: psycopg.Connection[Any], catalog: DatabaseCatalog, case: Case,
            runs: int) -> tuple[str, ...]:
    """One case's line, through the rewrite advisor: its draft for the case's rule,
    checked on the rule's own parameter sets and measured as an audit measures it."""
    config = load_config({"rewrite_count_min_rows": ORDERS // 2})
    ctx = Context(conn, config, catalog, runs=runs)
    subject = Subject(Statement(case.query), analyze(case.query, catalog.relations))
    advisor = RewriteAdvisor([r for r in RULES if r.name == case.rule])
    proposals = advisor.propose(ctx, [subject])
    if not proposals.drafts:
        outcome = proposals.outcomes[case.query]
        return (case.rule, "-", "-", f"not proposed: {outcome.reason}", "-", "-", "-", "-")
    proposal = proposals.drafts[0].measure(ctx)
    assert isinstance(proposal.detail, RewriteDetail)
    checked = proposal.detail.equivalence
    [m] = proposal.statements
    if not m.measured:
        return (case.rule, proposal.title, "-", f"not measured: {m.reason}", "-", "-", "-", "-")
    before, after = statistics.median(m.before_ms), statistics.median(m.after_ms)
    return (case.rule, proposal.title.removeprefix("rewrite: ").split(" on ")[0],
            " / ".join(f"{r.rows:,}" for r in checked.sets),
            "yes" if checked.same else checked.summary(), "changed",
            f"{before:,.2f}", f"{after:,.2f}", f"{before / after:,.1f}x")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="row counts times this")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per side (median)")
    args = parser.parse_args(argv)
    rules = {r.name: r for r in RULES}
    with temporary_server() as conninfo:
        seconds = load(conninfo, args.scale)
        lines = machine(conninfo)
        with db.connect(conninfo, load_config()) as conn:
            sizes = conn.execute(SIZES_SQL, [list(TABLES)]).fetchall()
            catalog = DatabaseCatalog(conn)
            rows = []
            for case in CASES:
                row = run(conn, catalog, rules[case.rule], case, args.runs)
                rows.append(row)
                print(f"{case.rule}: {' | '.join(row[2:])}", file=sys.stderr)
            for case in ADVISED:
                row = advised(conn, catalog, case, args.runs)
                rows.append(row)
                print(f"{case.rule}: {' | '.join(row[2:])}", file=sys.stderr)
    print("\n".join(lines))
    print("data:       " + ", ".join(f"{name} {n:,} rows {size / 2**20:,.0f} MB"
                                      for name, n, size in sorted(sizes))
          + f" (loaded in {seconds:.0f} s)")
    print(f"timing:     EXPLAIN ANALYZE execution time, median of {args.runs} warm runs per "
          "side, one parameter set (offset_keyset: the rule's deep offsets, all runs "
          "pooled; its rows column is per offset)\n")
    header = ("rule", "rewrite", "rows", "same rows", "plan", "before ms", "after ms",
              "speed-up")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        cells = [c.ljust(w) if i < 5 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
