"""The migration that range-partitions a live table, and its rollback, as SQL with comments.

The table is not converted in place (PostgreSQL cannot): a partitioned twin is
created beside it, filled in batches while the application keeps writing to the
original, and the two are swapped by renaming them in one short transaction. Each
step says which lock it takes. The original is kept, renamed, until the team drops
it: the rollback is the reverse swap. Pure: everything the SQL needs is in a
:class:`Layout`, so golden files pin the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import pglast
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

from pgarchitect.advisors.partition.interval import Bound, following, start_of, suffix

LOCK_TIMEOUT: Final = "5s"
# Rows one batch of the backfill should copy at most: a transaction short enough to
# keep WAL, replication lag and the vacuum horizon small.
BATCH_ROWS: Final = 1_000_000
DOLLAR_TAG: Final = "$pgarchitect$"
MAX_NAME: Final = 63  # NAMEDATALEN - 1


@dataclass(frozen=True)
class Layout:
    """A table to partition and how: everything its migration says."""

    schema: str
    table: str
    key: str  # the partition key column
    key_type: str  # format_type's text: date, timestamp(3) without time zone, ...
    interval: str  # month, week, day
    bounds: tuple[Bound, ...]
    primary_key: tuple[str, ...] = ()  # the current primary key's columns
    indexes: tuple[str, ...] = ()  # pg_get_indexdef of every other index
    foreign_keys: tuple[tuple[str, str], ...] = ()  # (name, pg_get_constraintdef)
    serials: tuple[tuple[str, str, str], ...] = ()  # (column, sequence's schema, sequence)
    identities: tuple[str, ...] = ()  # identity columns
    rows_per_day: float = 0.0
    retention_months: int | None = None
    today: date = date(2000, 1, 1)  # the day the migration was written (retention's clock)

    @property
    def tz(self) -> bool:
        return self.key_type.startswith("timestamp") and "with time zone" in self.key_type \
            and "without" not in self.key_type


def name(base: str, tail: str) -> str:
    """``base`` + ``tail``, the base cut so that the whole fits PostgreSQL's 63 bytes.

    >>> name("BehaviorLog", "_p2026_01"), len(name("x" * 70, "_default"))
    ('BehaviorLog_p2026_01', 63)
    """
    room = MAX_NAME - len(tail.encode())
    cut = base.encode()[:room].decode(errors="ignore")
    return cut + tail


def _bound(layout: Layout, day: date) -> sql.Composable:
    # A timestamptz bound written without a zone would be read in the session's time
    # zone when the migration runs: partitions are cut at midnight UTC, said so.
    return sql.Literal(f"{day.isoformat()} 00:00:00+00" if layout.tz else day.isoformat())


def _render(parts: list[sql.Composable | str]) -> str:
    return "\n".join(p if isinstance(p, str) else p.as_string(None) + ";" for p in parts) + "\n"


def partitioned_index(definition: str, schema: str, target: str, key: str | None
                      ) -> tuple[str, bool]:
    """An index of the table re-made on ``target``: the same keys, unnamed (the server
    names it), and for a partitioned target (``key``) the partition key added to a
    unique index that lacks it (PostgreSQL requires it). Also whether it was added.

    >>> partitioned_index('CREATE UNIQUE INDEX u ON public.t USING btree (email)',
    ...                   "public", "t_partitioned", "at")
    ('CREATE UNIQUE INDEX ON public.t_partitioned (email, at)', True)
    """
    stmt = pglast.parse_sql(definition)[0].stmt
    assert isinstance(stmt, ast.IndexStmt)
    stmt.idxname = None
    stmt.concurrent = False
    stmt.relation = ast.RangeVar(schemaname=schema, relname=target, inh=True,
                                 relpersistence="p")
    added = False
    names = {e.name for e in stmt.indexParams or () if isinstance(e, ast.IndexElem)}
    if key is not None and stmt.unique and key not in names:
        stmt.indexParams = (*(stmt.indexParams or ()),
                            ast.IndexElem(name=key, ordering=0, nulls_ordering=0))
        added = True
    text = RawStream()(stmt)
    return text.replace(" USING btree ", " "), added


def forward(layout: Layout) -> str:
    """The full migration plan, steps 1 to 5, with the locks each takes."""
    s, t, k = layout.schema, layout.table, layout.key
    old = sql.Identifier(s, t)
    new_name = name(t, "_partitioned")
    new = sql.Identifier(s, new_name)
    kept = name(t, "_unpartitioned")
    key = sql.Identifier(k)
    first = next((b.lower for b in layout.bounds if b.lower is not None), layout.bounds[0].upper)
    last = layout.bounds[-1]
    pk = tuple(dict.fromkeys((*layout.primary_key, k))) if layout.primary_key else ()
    parts: list[sql.Composable | str] = [
        f"-- pgarchitect: range-partition {s}.{t} by {k}, one partition a {layout.interval}.",
        "-- Run it with psql, one statement at a time (not as one transaction, not in a "
        "migration tool's",
        "-- transaction): step 3 commits every batch. Views, functions and other tables' "
        "foreign keys",
        f"-- follow {s}.{t} by its OID: after the swap they point at {s}.{kept}; re-create "
        "them.",
        "-- Grants, triggers, row-level policies and publications are not copied by LIKE: "
        "re-create",
        "-- them on the new table before the swap.",
        "",
        "-- Step 1: the partitioned table. ACCESS SHARE on the table (reads and writes go on).",
    ]
    if pk:
        cols = ", ".join(pk)
        parts.append(f"-- The primary key must include the partition key: PRIMARY KEY ({cols}) "
                     f"keeps {', '.join(layout.primary_key)}")
        parts.append(f"-- unique only together with {k} (the sequence still hands out unique "
                     "ids), and a foreign key")
        parts.append(f"-- to this table must reference ({cols}).")
    parts.append(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES) "
                         "PARTITION BY RANGE ({})").format(new, old, key))
    if pk:
        parts.append(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
            new, sql.SQL(", ").join(sql.Identifier(c) for c in pk)))
    for definition in layout.indexes:
        text, added = partitioned_index(definition, s, new_name, k)
        if added:
            parts.append(f"-- unique with {k} added (a unique index of a partitioned table "
                         "must include its key): unique per time, no longer overall")
        parts.append(text + ";")
    for fk_name, definition in layout.foreign_keys:
        # pg_get_constraintdef's text: the server's own rendering of the constraint.
        parts.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            new, sql.Identifier(fk_name), sql.SQL(definition)))
    parts += ["", f"-- Step 2: the partitions, {first.isoformat()} to {last.upper.isoformat()} "
              f"(the data's range and {_ahead(layout)} ahead), and a",
              "-- DEFAULT one for rows outside them. Locks only the new table."]
    for b in layout.bounds:
        lower = sql.SQL("MINVALUE") if b.lower is None else _bound(layout, b.lower)
        parts.append(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})")
                     .format(sql.Identifier(s, name(t, "_" + b.suffix)), new, lower,
                             _bound(layout, b.upper)))
    parts.append(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
        sql.Identifier(s, name(t, "_default")), new))
    parts += ["", *_backfill(layout, old, new, key), "", *_swap(layout, old, new, key, kept),
              "", "-- Step 5, once the partitioned table has served for a while: drop the "
              "old one (ACCESS EXCLUSIVE on it, nobody uses it).",
              "-- " + sql.SQL("DROP TABLE {}").format(sql.Identifier(s, kept)).as_string(None)
              + ";", "", *_ahead_note(layout), "", *_retention(layout)]
    return _render(parts)


def _ahead(layout: Layout) -> str:
    return f"{sum(1 for b in layout.bounds if b.lower and b.lower > layout.today)} " \
           f"{layout.interval}s"


def _insert(layout: Layout, into: sql.Composable, source: sql.Composable) -> sql.Composed:
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if layout.identities else sql.SQL("")
    return sql.SQL("INSERT INTO {}{} SELECT * FROM {}").format(into, overriding, source)


def _backfill(layout: Layout, old: sql.Identifier, new: sql.Identifier,
              key: sql.Identifier) -> list[sql.Composable | str]:
    hourly = layout.rows_per_day > BATCH_ROWS and layout.key_type != "date"
    unit = "hour" if hourly else "day"
    step = sql.SQL("interval {}").format(sql.Literal(f"1 {unit}"))
    typed = sql.SQL("{}.{}%TYPE").format(old, key)
    body = sql.SQL("""
DECLARE
    lo {typed} := date_trunc({unit}, (SELECT min({key}) FROM {old}));
    stop {typed} := date_trunc({unit}, now());
BEGIN
    WHILE lo < stop LOOP
        {insert} WHERE {key} >= lo AND {key} < least(lo + {step}, stop);
        COMMIT;
        lo := lo + {step};
    END LOOP;
END
""").format(typed=typed, unit=sql.Literal(unit), key=key, old=old, step=step,
            insert=_insert(layout, new, old)).as_string(None)
    assert DOLLAR_TAG not in body
    return [f"-- Step 3: copy the rows in batches of one {unit} each, every batch its own "
            "transaction (the DO block",
            "-- commits: run it outside a transaction). ROW EXCLUSIVE on the new table, "
            "ACCESS SHARE on the old:",
            "-- the application keeps reading and writing. Rows written meanwhile are "
            "copied at the swap.",
            f"DO {DOLLAR_TAG}{body}{DOLLAR_TAG};"]


def _swap(layout: Layout, old: sql.Identifier, new: sql.Identifier, key: sql.Identifier,
          kept: str) -> list[sql.Composable | str]:
    s, t = layout.schema, layout.table
    check = sql.SQL("""
BEGIN
    IF (SELECT count(*) FROM {old}) <> (SELECT count(*) FROM {new}) THEN
        RAISE EXCEPTION 'row counts differ: rows were updated, or written with an older '
                        'partition key, since step 3: copy them, then run step 4 again';
    END IF;
END
""").format(old=old, new=new).as_string(None)
    assert DOLLAR_TAG not in check
    parts: list[sql.Composable | str] = [
        "-- Step 4: the swap, one short transaction. ACCESS EXCLUSIVE on the table from LOCK "
        "to COMMIT:",
        f"-- reads and writes wait; lock_timeout = '{LOCK_TIMEOUT}' gives up rather than "
        "queue everyone behind it",
        "-- (run it again then). It copies the rows written since step 3 and compares the "
        "counts (the",
        "-- count reads both tables under the lock: on a very large table compare them "
        "month by month first).",
        "BEGIN;",
        sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)),
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(old),
        _catch_up(layout, new, old, new, key),
        f"DO {DOLLAR_TAG}{check}{DOLLAR_TAG};",
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(old, sql.Identifier(kept)),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(new, sql.Identifier(t)),
        *_sequences(layout, sql.Identifier(s, t)),
        "COMMIT;",
    ]
    return parts


def _catch_up(layout: Layout, into: sql.Identifier, source: sql.Identifier,
              copied: sql.Identifier, key: sql.Identifier) -> sql.Composed:
    """Rows of ``source`` newer than the newest in ``copied`` (and any without a key)."""
    return sql.SQL("{} WHERE {} > (SELECT coalesce(max({}), {}) FROM {}) OR {} IS NULL").format(
        _insert(layout, into, source), key, key, sql.Literal("-infinity"), copied, key)


def _sequences(layout: Layout, table: sql.Identifier) -> list[sql.Composable | str]:
    """The table's sequences follow it: a serial's is owned by the table that has it now
    (dropping the other would drop the sequence); an identity's restarts past the ids."""
    out: list[sql.Composable | str] = []
    for column, schema, sequence in layout.serials:
        out.append(sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{}").format(
            sql.Identifier(schema, sequence), table, sql.Identifier(column)))
    for column in layout.identities:
        out.append(sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), "
                           "(SELECT coalesce(max({}), 0) + 1 FROM {}), false)").format(
            sql.Literal(table.as_string(None)), sql.Literal(column), sql.Identifier(column),
            table))
    return out


def _ahead_note(layout: Layout) -> list[str]:
    s, t = layout.schema, layout.table
    nxt = following(layout.bounds[-1].upper, layout.interval)
    upper = layout.bounds[-1].upper
    create = sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
        sql.Identifier(s, name(t, "_" + suffix(upper, layout.interval))), sql.Identifier(s, t),
        _bound(layout, upper), _bound(layout, nxt)).as_string(None)
    return ["-- Ahead: a partition must exist before its rows arrive (else they go to the "
            "DEFAULT partition, and",
            "-- a partition for their range cannot be created until they are moved out). "
            "Create them ahead",
            f"-- with pg_partman or a scheduled job, one {layout.interval} at a time; the "
            "next one is:",
            f"-- {create};"]


def _retention(layout: Layout) -> list[sql.Composable | str]:
    s, t = layout.schema, layout.table
    parent = sql.Identifier(s, t)
    lock = ("-- ACCESS EXCLUSIVE on the table while it detaches (catalog work only, "
            "brief): DETACH ... CONCURRENTLY is")
    lock2 = "-- not allowed while a DEFAULT partition exists."
    if layout.retention_months is None:
        oldest = next(b for b in layout.bounds)
        return ["-- Retention: none (partition_retention_months is unset): every partition "
                "is kept. To drop a",
                "-- partition once its rows are no longer needed:", lock, lock2,
                "-- " + sql.SQL("SET lock_timeout = {}").format(
                    sql.Literal(LOCK_TIMEOUT)).as_string(None) + ";",
                "-- " + sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    parent, sql.Identifier(s, name(t, "_" + oldest.suffix))).as_string(None)
                + ";",
                "-- " + sql.SQL("DROP TABLE {}").format(
                    sql.Identifier(s, name(t, "_" + oldest.suffix))).as_string(None) + ";"]
    cutoff = start_of(layout.today, "month")
    for _ in range(layout.retention_months):
        cutoff = date(cutoff.year - (cutoff.month == 1), (cutoff.month - 2) % 12 + 1, 1)
    old = [b for b in layout.bounds if b.upper <= cutoff]
    parts: list[sql.Composable | str] = [
        f"-- Retention: partitions wholly older than {layout.retention_months} "
        f"month{'' if layout.retention_months == 1 else 's'} "
        f"(before {cutoff.isoformat()}) are detached",
        f"-- and dropped (partition_retention_months); {s}.{name(t, '_unpartitioned')} "
        "keeps their rows until step 5.", lock, lock2]
    if not old:
        parts.append("-- None is that old yet.")
        return parts
    parts.append(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    for b in old:
        part = sql.Identifier(s, name(t, "_" + b.suffix))
        parts.append(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent, part))
        parts.append(sql.SQL("DROP TABLE {}").format(part))
    return parts


def rollback(layout: Layout) -> str:
    """The reverse swap: the unpartitioned table comes back with the rows written since."""
    s, t, k = layout.schema, layout.table, layout.key
    table = sql.Identifier(s, t)
    kept = sql.Identifier(s, name(t, "_unpartitioned"))
    key = sql.Identifier(k)
    parts: list[sql.Composable | str] = [
        f"-- Undo the partitioning of {s}.{t}. Before the swap (step 4) ran, drop the new "
        "table instead:",
        "-- " + sql.SQL("DROP TABLE IF EXISTS {}").format(
            sql.Identifier(s, name(t, "_partitioned"))).as_string(None) + ";",
        "-- After the swap: the reverse swap, ACCESS EXCLUSIVE on the table from LOCK to "
        "COMMIT. The rows written",
        f"-- since the swap are copied back first (those newer than the old table's newest {k}).",
        "BEGIN;",
        sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)),
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table),
        _catch_up(layout, kept, table, kept, key),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            table, sql.Identifier(name(t, "_partitioned"))),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(kept, sql.Identifier(t)),
        *_sequences(layout, table),
        "COMMIT;",
        "-- The partitioned table is kept; drop it when sure:",
        "-- " + sql.SQL("DROP TABLE {}").format(
            sql.Identifier(s, name(t, "_partitioned"))).as_string(None) + ";",
    ]
    return _render(parts)
