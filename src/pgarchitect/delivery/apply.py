"""`pgarchitect apply ID`: one finding's index, built on a database a person names.

Never run by an audit. It refuses without ``--yes``, refuses a database listed in
``production_databases``, and refuses anything but one CREATE INDEX. The index is
built with CONCURRENTLY (writes go on), under the session's ``lock_timeout``;
afterwards ``pg_index.indisvalid`` is checked, and an invalid index (a failed
concurrent build leaves one behind) is dropped and reported. The outcome is
recorded in the knowledge base: the finding and the others of the same fix in
that database are marked applied, and the next audit measures their real gain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgarchitect import db
from pgarchitect.advisors.index.replay import Fix, fix_of
from pgarchitect.errors import ConfigError, PgArchitectError, first_line
from pgarchitect.knowledge.audit import knowledge_base
from pgarchitect.knowledge.kb import Finding
from pgarchitect.settings import Config
from pgarchitect.workload.snapshots import target_of


class ApplyError(PgArchitectError):
    """The index could not be built, or was built invalid (and dropped)."""


@dataclass
class Applied:
    """What `apply` did."""

    finding: Finding
    target: str
    index: str  # the index's name
    statement: str  # the SQL that ran
    existed: bool = False  # the index was there already: nothing was built
    marked: list[str] = field(default_factory=list)  # finding ids marked applied


def production(config: Config, target: str) -> bool:
    """Whether ``production_databases`` names this target (host:port/name) or its name."""
    names = {n.strip() for n in (config.get_str("production_databases") or "").split(",")}
    return bool({target, target.rsplit("/", 1)[-1]} & (names - {""}))


def plan(finding: Finding) -> Fix:
    """The index a finding recommends, or why it cannot be applied."""
    if finding.kind != "index":
        raise ConfigError(f"Finding {finding.short_id} is a {finding.kind} finding: only index "
                          "findings can be applied; apply the others by hand.")
    if finding.status == "rejected":
        why = finding.status_note or "no reason recorded"
        raise ConfigError(f"Finding {finding.short_id} was rejected ({why}): mark it proposed "
                          f"first (`pgarchitect kb mark {finding.short_id} proposed`) to apply "
                          "it.")
    fix = fix_of(finding)
    if isinstance(fix, str):
        raise ConfigError(f"Finding {finding.short_id}: {fix}; nothing was applied.")
    return fix


def apply(config: Config, finding_id: str, *, dsn: str | None, yes: bool,
          timeout: str = "1h") -> Applied:
    """Build the finding's index on the database of ``dsn`` (else the target)."""
    conninfo = db.target_conninfo(config, dsn)
    with db.connect(conninfo, config, autocommit=True) as conn:
        target = target_of(conn)
        with knowledge_base(config, conn) as kb:
            finding = kb.get(finding_id)
            fix = plan(finding)
            statement = fix.index.create_sql(concurrently=True, name=fix.name).as_string(conn)
            if production(config, target):
                raise ConfigError(
                    f"{target} is listed in production_databases: pgarchitect does not change "
                    "it. Apply the migration through your deployment (the pull request), or "
                    "remove it from the setting if it is not production.")
            if not yes:
                raise ConfigError(f"This would run on {target}:\n  {statement}\nPass --yes to "
                                  "run it.")
            existed = _exists(conn, fix)
            if not existed:
                _build(conn, fix, statement, timeout)
            marked = [str(f.id) for f in kb.of_fix(finding.database, finding.kind,
                                                     finding.recommendation_sql)
                      if f.status != "applied"] or [str(finding.id)]
            note = (f"index {fix.name} " + ("found on" if existed else "built on")
                    + f" {target} by pgarchitect apply")
            for fid in marked:
                kb.mark(fid, "applied", note=note)
            return Applied(kb.get(str(finding.id)), target, fix.name, statement, existed, marked)


def _valid(conn: psycopg.Connection[Any], fix: Fix) -> bool | None:
    """Whether the index is valid; None when there is none of that name."""
    row = conn.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
        "c.relname = %s", [fix.index.schema, fix.name]).fetchone()
    return None if row is None else bool(row[0])


def _exists(conn: psycopg.Connection[Any], fix: Fix) -> bool:
    valid = _valid(conn, fix)
    if valid is None:
        return False
    if not valid:
        raise ApplyError(f"Index {fix.name} exists but is INVALID (an earlier build failed). "
                         f"Drop it (DROP INDEX CONCURRENTLY {fix.name}) and run apply again.")
    return True


def _build(conn: psycopg.Connection[Any], fix: Fix, statement: str, timeout: str) -> None:
    """CREATE INDEX CONCURRENTLY under lock_timeout; an invalid result is dropped."""
    conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(timeout)))
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        dropped = _drop_invalid(conn, fix)
        hint = {"55P03": " Another session held a lock on the table past lock_timeout: "
                         "try again at a quieter time, or raise lock_timeout.",
                "57014": " The build ran past the timeout: raise --timeout."}.get(
                    exc.sqlstate or "", "")
        raise ApplyError(f"Building {fix.name} failed: {first_line(exc)}.{hint}"
                         + (" The invalid index it left was dropped." if dropped else "")
                         ) from None
    finally:
        conn.execute("RESET statement_timeout")
    if _drop_invalid(conn, fix):
        raise ApplyError(f"Index {fix.name} was built INVALID and has been dropped; nothing "
                         "changed. Check the server log for why, then try again.")


def _drop_invalid(conn: psycopg.Connection[Any], fix: Fix) -> bool:
    if _valid(conn, fix) is not False:
        return False
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}.{}").format(
        sql.Identifier(fix.index.schema), sql.Identifier(fix.name)))
    return True
