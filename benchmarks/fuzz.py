"""Analysis never raises: generated statements through every entry point, timed.

Valid statements of every kind, cut short, with bytes flipped, NULs and lone
surrogates put in, nested up to 10,000 levels, 1 MB long, lists of a million
items, go through analyze, features_of, fingerprint, parse_problem, repair and
internal_reason. The table gives, per kind: statements, exceptions (must be 0),
the slowest and 99th-percentile call, and how many stopped at which limit.

    .venv/bin/python benchmarks/fuzz.py              # 10,000 statements, seed 1
    .venv/bin/python benchmarks/fuzz.py --count 2000 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu

from pgarchitect.analysis import analyze, fingerprint, parse_problem
from pgarchitect.knowledge.features import features_of
from pgarchitect.workload.internal import internal_reason
from pgarchitect.workload.repair import repair

# The statements the mutations start from: every kind of statement, shared with the
# property-based test (tests/test_analysis_fuzz.py).
SEEDS: list[str] = json.loads(
    (Path(__file__).parent.parent / "tests/fixtures/fuzz/seeds.json").read_text())
NESTINGS: dict[str, Callable[[int], str]] = {
    "plus": lambda n: "SELECT " + "+".join(["1"] * n),
    "concat": lambda n: "SELECT * FROM t WHERE a = " + "||".join(["b"] * n),
    "case": lambda n: "SELECT " + "CASE WHEN a = 1 THEN " * n + "1" + " END" * n,
    "scalar": lambda n: "SELECT " + "(SELECT " * n + "1" + ")" * n,
    "in": lambda n: "SELECT * FROM t WHERE " + "a IN (SELECT b FROM u WHERE " * n + "c" + ")" * n,
    "exists": lambda n: "SELECT * FROM t WHERE " + "EXISTS (SELECT 1 FROM u WHERE " * n
    + "c" + ")" * n,
    "array": lambda n: "SELECT " + "ARRAY[" * n + "1" + "]" * n,
    "cast": lambda n: "SELECT 1" + "::int" * n,
    "join": lambda n: "SELECT * FROM t0 " + " ".join(f"JOIN t{i} ON t{i}.a = t{i - 1}.a"
                                                     for i in range(1, n)),
    "not": lambda n: "SELECT * FROM t WHERE " + "NOT (" * n + "a" + ")" * n,
}
LISTS: dict[str, Callable[[int], str]] = {
    "any": lambda n: "SELECT * FROM t WHERE a = ANY(ARRAY[" + ",".join(["1"] * n) + "])",
    "or": lambda n: "SELECT * FROM t WHERE " + " OR ".join(f"a = {i}" for i in range(n)),
    "row in": lambda n: "SELECT * FROM t WHERE (a, b) IN (" + ",".join(["(1, 2)"] * n) + ")",
    "in params": lambda n: "SELECT * FROM t WHERE a IN (" + ",".join(
        f"${i + 1}" for i in range(n)) + ")",
    "from": lambda n: "SELECT * FROM " + ",".join(f"t{i}" for i in range(n)),
    "values": lambda n: "INSERT INTO t VALUES " + ",".join(f"({i}, 'x')" for i in range(n)),
}
DEPTHS = [2, 10, 50, 99, 150, 300, 1_000, 10_000]
LENGTHS = [1, 100, 1_000, 7_000, 20_000, 100_000, 1_000_000]


def mangle(rng: random.Random, text: str, kind: str) -> str:
    if not text:
        return text
    at = rng.randrange(len(text))
    if kind == "truncation":
        return text[:at]
    if kind == "byte flip":
        return text[:at] + chr(ord(text[at]) ^ (1 << rng.randrange(8))) + text[at + 1:]
    if kind == "NUL":
        return text[:at] + "\x00" + text[at:]
    return text[:at] + chr(rng.randrange(0xD800, 0xE000)) + text[at:]  # surrogate


def generate(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(kind, statement) pairs; the huge ones built once and mangled a few times."""
    out: list[tuple[str, str]] = []
    for name, build in NESTINGS.items():
        for depth in DEPTHS:
            out.append((f"nesting ({name})", build(depth)))
    for name, build in LISTS.items():
        for length in LENGTHS:
            out.append((f"huge list ({name})", build(length)))
    big = "SELECT * FROM t WHERE " + " OR ".join(f"a{i} = ${i}" for i in range(70_000))
    out += [("1 MB statement", big), ("1 MB statement", mangle(rng, big, "truncation")),
            ("1 MB statement", mangle(rng, big, "NUL")),
            ("1 MB statement", "SELECT '" + "x" * 1_048_576 + "'")]
    kinds = ["valid", "truncation", "byte flip", "NUL", "surrogate"]
    while len(out) < count:
        kind = rng.choice(kinds)
        text = rng.choice(SEEDS)
        if rng.random() < 0.1:
            text = rng.choice(list(NESTINGS.values()))(rng.choice(DEPTHS[:5]))
        out.append((kind, text if kind == "valid" else mangle(rng, text, kind)))
    return out


def stopped_by(error: str | None) -> str:
    if error is None:
        return "-"
    for name in ("MAX_STATEMENT_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_FROM_ITEMS"):
        if name in error:
            return name
    if "NUL byte" in error:
        return "NUL"
    if "surrogate" in error:
        return "surrogate"
    if "nests too deep for PostgreSQL's parser" in error:
        return "parser stack"
    return "parse error"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    statements = generate(rng, args.count)
    calls: dict[str, Callable[[str], object]] = {
        "fingerprint": fingerprint, "parse_problem": parse_problem, "repair": repair,
        "internal_reason": internal_reason,
    }
    per_kind: dict[str, list[float]] = defaultdict(list)
    count: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    stops: dict[str, Counter[str]] = defaultdict(Counter)
    started = time.perf_counter()
    for kind, query in statements:
        count[kind] += 1
        try:
            t0 = time.perf_counter()
            analysis = analyze(query)
            per_kind[kind].append(time.perf_counter() - t0)
            stops[kind][stopped_by(analysis.error)] += 1
            t0 = time.perf_counter()
            features_of(analysis)
            per_kind[kind].append(time.perf_counter() - t0)
            for call in calls.values():
                t0 = time.perf_counter()
                call(query)
                per_kind[kind].append(time.perf_counter() - t0)
        except Exception:
            errors[kind] += 1
            traceback.print_exc()
    total = time.perf_counter() - started
    print(cpu())
    print(f"python:     {sys.version.split()[0]}")
    print(f"statements: {len(statements):,} (seed {args.seed}), calls: analyze, features_of, "
          f"{', '.join(calls)}; {total:.0f} s in all\n")
    print("| kind | statements | exceptions | max s/call | p99 s/call | stopped by |")
    print("|---|---:|---:|---:|---:|---|")
    for kind in sorted(count):
        times = sorted(per_kind[kind]) or [0.0]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        stop = ", ".join(f"{k} {v}" for k, v in sorted(stops[kind].items()) if k != "-")
        print(f"| {kind} | {count[kind]:,} | {errors[kind]} | {times[-1]:.3f} | {p99:.3f} "
              f"| {stop or '-'} |")
    print(f"\nexceptions in all: {sum(errors.values())}")


if __name__ == "__main__":
    main()
