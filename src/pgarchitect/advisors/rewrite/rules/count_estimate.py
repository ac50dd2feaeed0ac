"""``SELECT count(*) FROM t`` of a whole large table → the catalog's row estimate.

count(*) reads every row (or every page of an index) of the table: seconds on a
table of millions, run for a dashboard's "number of events". The planner's own
estimate, ``pg_class.reltuples``, costs one catalog lookup. It is an estimate, by
design not the same number: VACUUM, ANALYZE and autovacuum refresh it, so it lags
the writes since their last run. The check is therefore "within
``rewrite_count_tolerance_pct`` of the exact count on the real data", not "the same
rows"; a table never vacuumed or analyzed has no estimate (reltuples is -1 since
PostgreSQL 14) and the rewrite returns NULL. Where the number must be exact, a
counter table maintained by triggers is the alternative, at a cost to every write.
"""

from __future__ import annotations

from typing import Any

import pglast
from pglast import ast
from psycopg import sql

from pgarchitect.advisors.rewrite.rules.common import Match, Skip, deparse, parse_select, tables_of
from pgarchitect.analysis import Analysis
from pgarchitect.catalog import DatabaseCatalog
from pgarchitect.catalog.index import quote
from pgarchitect.settings import Config

NAME = "count_estimate"
LABEL = "count(*) → catalog estimate"

# The estimate; the table's name goes in the string literal, the output's in the alias.
ESTIMATE = "SELECT nullif(reltuples, -1)::bigint AS count FROM pg_class WHERE oid = ''::regclass"

# The exact alternative. The triggers take a SHARE ROW EXCLUSIVE lock on the table until
# the migration commits, so the first count is exact: run it as one transaction.
COUNTER = """\
CREATE TABLE {counter} (n bigint NOT NULL);
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE {counter} SET n = n + (SELECT count(*) FROM changed);
  ELSE
    UPDATE {counter} SET n = n - (SELECT count(*) FROM changed);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER {insert} AFTER INSERT ON {table} REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {delete} AFTER DELETE ON {table} REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION {function}();
INSERT INTO {counter} SELECT count(*) FROM {table};
-- then: SELECT n AS {alias} FROM {counter};"""


def _count_star(node: Any) -> bool:
    return (isinstance(node, ast.FuncCall) and bool(node.agg_star) and not node.agg_distinct
            and node.agg_filter is None and node.over is None
            and [n.sval for n in node.funcname or ()][-1:] == ["count"])


def detect(stmt: Any, analysis: Analysis, catalog: DatabaseCatalog) -> Match | Skip:
    targets: Any = stmt.targetList or ()
    if len(targets) != 1 or not _count_star(targets[0].val):
        return Skip("not a count(*) alone")
    if (stmt.whereClause is not None or stmt.groupClause or stmt.havingClause is not None
            or stmt.distinctClause or stmt.limitCount is not None
            or stmt.limitOffset is not None or stmt.withClause or stmt.windowClause):
        return Skip("its count(*) has a WHERE, GROUP BY or LIMIT: the catalog estimates "
                    "only whole tables", "not_supported")
    tables = tables_of(stmt.fromClause, catalog)
    item: Any = stmt.fromClause[0] if stmt.fromClause else None
    if (tables is None or len(tables) != 1 or not isinstance(item, ast.RangeVar)
            or not item.inh):
        return Skip("its count(*) is not of one table: the catalog estimates only a table",
                    "not_supported")
    [table] = tables
    rel = catalog.relations.find(table.schema, table.name)
    if rel is None or rel.kind != "table":
        return Skip(f"{table.qualified} is partitioned: its estimate is its partitions' sum, "
                    "not rewritten", "not_supported")
    info = catalog.tables([(table.schema, table.name)]).get((table.schema, table.name))
    alias = targets[0].name or "count"
    base = table.name + "_row_count"
    counter = sql.SQL(COUNTER).format(
        counter=sql.Identifier(table.schema, base),
        function=sql.Identifier(table.schema, base + "_trigger"),
        insert=sql.Identifier(base + "_insert"), delete=sql.Identifier(base + "_delete"),
        table=sql.Identifier(table.schema, table.name), alias=sql.Identifier(alias))
    return Match(NAME, LABEL, table.qualified, (),
                 f"count(*) of the whole of {table.qualified} reads every row of it",
                 parts={"rows": info.rows if info else None, "alias": alias,
                        "regclass": f"{quote(table.schema)}.{quote(table.name)}",
                        "counter": counter.as_string(catalog.conn)})


def rewrite(stmt: Any, match: Match) -> str:
    new: Any = pglast.parse_sql(ESTIMATE)[0].stmt
    new.targetList[0].name = match.parts["alias"]
    new.whereClause.rexpr.arg.val.sval = match.parts["regclass"]
    return deparse(new)


def owns(original: str, rewritten: str) -> bool:
    """A count(*) and a read of pg_class: this rule's."""
    before: Any = parse_select(original)
    after: Any = parse_select(rewritten)
    return (not isinstance(before, Skip) and not isinstance(after, Skip)
            and len(before.targetList or ()) == 1 and _count_star(before.targetList[0].val)
            and len(after.fromClause or ()) == 1 and isinstance(after.fromClause[0], ast.RangeVar)
            and after.fromClause[0].relname == "pg_class")


def agree(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]],
          config: Config) -> tuple[bool, str]:
    """The estimate within ``rewrite_count_tolerance_pct`` of the exact count."""
    tolerance = config.get_float("rewrite_count_tolerance_pct")
    exact = int(before[0][0]) if len(before) == 1 else 0
    estimate = after[0][0] if len(after) == 1 else None
    if estimate is None:
        return False, ("the catalog has no estimate (reltuples is -1: the table was never "
                       "vacuumed or analyzed); run ANALYZE on it first")
    off = abs(int(estimate) - exact) * 100.0 / exact if exact else (0.0 if estimate == 0
                                                                    else 100.0)
    return off <= tolerance, (f"the estimate {int(estimate):,} is {off:.1f}% off the exact "
                              f"count {exact:,} (tolerance {tolerance:g}%: "
                              "rewrite_count_tolerance_pct)")


def admit(match: Match, catalog: DatabaseCatalog, config: Config) -> Skip | None:
    least = config.get_int("rewrite_count_min_rows")
    rows = match.parts["rows"]
    if rows is None:
        return Skip(f"{match.table} was never vacuumed or analyzed (reltuples is -1): the "
                    f"catalog has no estimate to give; run ANALYZE {match.parts['regclass']} "
                    "(autovacuum does it in time) and audit again", "not_equivalent")
    if rows <= least:
        return Skip(f"{match.table} has about {rows:,.0f} rows, not more than "
                    f"rewrite_count_min_rows ({least:,}): counting it is cheap", "low_cost")
    return None


def advice(match: Match) -> str:
    return ("It is an estimate, not the count: VACUUM, ANALYZE and autovacuum refresh it "
            "(autovacuum analyzes after autovacuum_analyze_scale_factor, 10% by default, of "
            "the rows changed), so it lags the writes since; fit for a dashboard, never for "
            "billing or anything that needs the exact number. Where it must be exact, a "
            "counter maintained by triggers (one migration, in one transaction; TRUNCATE is "
            "not counted): " + str(match.parts["counter"]) + " Its cost: every INSERT or DELETE "
            "statement also updates the counter's one row, so concurrent writers wait for "
            "each other on it until they commit, and each write leaves a dead row version "
            "to vacuum.")
