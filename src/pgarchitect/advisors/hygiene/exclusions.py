"""Hygiene findings silenced for good: the ``hygiene_exclusions`` setting, and the list a
person keeps in the knowledge base's database (``pgarchitect hygiene exclude ID``).

The stored list lives beside the knowledge base (``kb_url``, else the target), keyed
by the target database and the finding's id. The advisor reads both; a stored list
it cannot reach silences nothing and says so, and the audit goes on.
"""

from __future__ import annotations

import difflib
import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg

from pgarchitect import db
from pgarchitect.errors import PgArchitectError, first_line
from pgarchitect.settings import Config
from pgarchitect.store import exclusions, migrate
from pgarchitect.store.exclusions import Exclusion
from pgarchitect.workload.snapshots import target_of

RULES: Final = ("invalid", "duplicate", "hot_updates", "unused", "fk_missing", "bloat",
                "vacuum", "wraparound")
ID: Final = re.compile(r"^(?P<rule>[a-z_]+):(?P<object>[^.]+\..+)$")


class ExclusionError(PgArchitectError):
    """An exclusion that cannot be made or removed as asked."""


def check_id(finding_id: str) -> str:
    """A finding id as the audit shows it (``rule:schema.name``), or an error that says
    what is wrong.

    >>> check_id(" unused:public.orders_total_idx ")
    'unused:public.orders_total_idx'
    >>> check_id("unsued:public.t")
    Traceback (most recent call last):
    ...
    pgarchitect.advisors.hygiene.exclusions.ExclusionError: Unknown hygiene rule 'unsued' \
in 'unsued:public.t'. Did you mean 'unused'? Finding ids are rule:schema.name, as the \
audit shows them.
    """
    text = finding_id.strip()
    match = ID.match(text)
    if match is None:
        raise ExclusionError(f"{finding_id!r} is not a hygiene finding id: ids are "
                             "rule:schema.name (e.g. unused:public.orders_status_idx), as "
                             "the audit shows them.")
    rule = match["rule"]
    if rule not in RULES:
        close = difflib.get_close_matches(rule, RULES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Rules: {', '.join(RULES)}."
        raise ExclusionError(f"Unknown hygiene rule {rule!r} in {text!r}.{hint} Finding ids "
                             "are rule:schema.name, as the audit shows them.")
    return text


def configured(config: Config) -> tuple[str, ...]:
    """The ids silenced in the settings (``hygiene_exclusions``)."""
    text = config.get_str("hygiene_exclusions") or ""
    return tuple(i.strip() for i in text.split(",") if i.strip())


@contextmanager
def _store(config: Config, dsn: str | None, *, create: bool
           ) -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """The knowledge base's database and the name of the target the exclusions are about."""
    with db.connect(db.target_conninfo(config, dsn), config) as target:
        url = config.get_str("kb_url")
        store = db.connect(url, config) if url else target
        try:
            if create:
                migrate(store)
            yield store, target_of(target)
        finally:
            if store is not target:
                store.close()


def exclude(config: Config, finding_id: str, reason: str | None = None,
            dsn: str | None = None, by: str | None = None) -> Exclusion:
    """Silence a finding of the target database for good (stored with when and why)."""
    fid = check_id(finding_id)
    with _store(config, dsn, create=True) as (store, database):
        return exclusions.add(store, database, fid, reason, by or getpass.getuser())


def include(config: Config, finding_id: str, dsn: str | None = None) -> Exclusion:
    """Hear a silenced finding again; an error when it was not excluded."""
    fid = check_id(finding_id)
    with _store(config, dsn, create=False) as (store, database):
        removed = exclusions.remove(store, database, fid)
    if removed is None:
        hint = (" It is in the hygiene_exclusions setting: remove it there."
                if fid in configured(config) else "")
        raise ExclusionError(f"{fid} is not excluded for {database}.{hint} "
                             "`pgarchitect hygiene excluded` lists what is.")
    return removed


def excluded(config: Config, dsn: str | None = None) -> tuple[str, list[Exclusion]]:
    """The target database's name and its stored exclusions."""
    with _store(config, dsn, create=False) as (store, database):
        return database, exclusions.listing(store, database)


def stored(config: Config, target: psycopg.Connection[Any]) -> tuple[tuple[str, ...],
                                                                     str | None]:
    """The ids stored for ``target``, and a note when the list could not be read (then
    none: an audit goes on without them)."""
    url = config.get_str("kb_url")
    try:
        store = db.connect(url, config) if url else target
    except PgArchitectError as exc:
        return (), (f"Hygiene: the stored exclusions could not be read ({first_line(exc)}): "
                    "findings excluded with `pgarchitect hygiene exclude` show again.")
    try:
        with store.transaction():
            found = exclusions.listing(store, target_of(target))
    except psycopg.Error as exc:
        return (), (f"Hygiene: the stored exclusions could not be read ({first_line(exc)}): "
                    "findings excluded with `pgarchitect hygiene exclude` show again.")
    finally:
        if store is not target:
            store.close()
    return tuple(e.finding_id for e in found), None
