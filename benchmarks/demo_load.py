"""The demo database at full scale: how long the load and the traffic take.

Usage:
    python benchmarks/demo_load.py [--repeat 2] [--small]

Starts a temporary embedded PostgreSQL 18, loads the demo data (COPY, then
indexes, foreign keys and ANALYZE, in one transaction) --repeat times into fresh
databases, then plays the default traffic once. Floor: the full load under 60 s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import psycopg
from _common import machine, temporary_server
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgarchitect.demo import data, traffic


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=2, help="loads into fresh databases")
    parser.add_argument("--small", action="store_true", help="the test scale instead")
    args = parser.parse_args(argv)
    scale = data.Scale.small() if args.small else data.Scale()
    with temporary_server() as admin:
        loads = []
        for i in range(args.repeat):
            name = f"demo_{i}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            target = make_conninfo(admin, dbname=name)
            started = time.perf_counter()
            rows = data.load(target, scale)
            loads.append(time.perf_counter() - started)
        summary = traffic.run(target)
        info = machine(admin)
    total_rows = sum(rows.values())
    print("\n".join(info))
    print(f"data:       {', '.join(f'{n:,} {t}' for t, n in rows.items())}")
    print()
    print("| step | rows or calls | seconds (each run) | best |")
    print("|---|---|---|---|")
    print(f"| load (COPY + indexes + FKs + ANALYZE) | {total_rows:,} rows | "
          f"{', '.join(f'{s:.1f}' for s in loads)} | {min(loads):.1f} |")
    print(f"| traffic (default mix) | {summary.total_calls:,} calls | "
          f"{summary.elapsed_s:.1f} | {summary.elapsed_s:.1f} |")


if __name__ == "__main__":
    main()
