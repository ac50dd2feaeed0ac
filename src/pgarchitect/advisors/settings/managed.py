"""Which service runs the server, as far as the server shows it, and how a setting is
changed there.

Managed services do not take ``ALTER SYSTEM``: each has its own place for server
settings (RDS's parameter groups, Cloud SQL's database flags, ...). The service is
recognised from what even a least-privileged role can read: the names in
``pg_settings`` (services register their own settings under their prefix), the roles
in ``pg_roles`` and the schemas in ``pg_namespace``. Nothing shown: a server of its
own, changed with ``ALTER SYSTEM``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

# Settings the services are known to set, probed by name: current_setting(name, true)
# finds them whether a loaded module defines them (they are then in pg_settings too)
# or the service sets them as placeholders for a module not loaded in this session
# (pg_settings does not list those).
KNOWN_SETTINGS = ("rds.extensions", "rds.force_ssl", "rds.superuser_variables",
                  "apg_plan_mgmt.capture_plan_baselines", "cloudsql.iam_authentication",
                  "cloudsql.enable_pgaudit", "cloudsql.logical_decoding", "azure.extensions",
                  "azure.accepted_password_auth_method", "neon.timeline_id", "neon.tenant_id")

# What the server shows, as one query: the names of settings, roles and schemas that
# any of the rules below would recognise (a role may read all three catalogs).
SIGNS_SQL = """
SELECT 'setting', name FROM pg_settings
 WHERE name LIKE 'rds.%%' OR name LIKE 'aurora%%' OR name LIKE 'apg%%'
    OR name LIKE 'cloudsql.%%' OR name LIKE 'azure.%%' OR name LIKE 'neon.%%'
UNION
SELECT 'setting', n FROM unnest(%s::text[]) AS n WHERE current_setting(n, true) IS NOT NULL
UNION ALL
SELECT 'role', rolname FROM pg_roles
 WHERE rolname IN ('rds_superuser', 'cloudsqlsuperuser', 'azure_pg_admin', 'supabase_admin')
UNION ALL
SELECT 'schema', nspname FROM pg_namespace WHERE nspname IN ('supabase_functions')
"""


@dataclass(frozen=True)
class Service:
    """A managed service and how it takes server settings."""

    name: str  # rds, aurora, cloudsql, azure, supabase, neon; "self" for a server of one's own
    label: str  # as people write it
    sign: str  # what showed it ("setting rds.extensions")
    where: str  # where its server settings are changed
    restart: str  # how a setting that needs a restart takes effect there

    @property
    def managed(self) -> bool:
        return self.name != "self"


SELF = Service("self", "a server of its own", "no managed service's settings, roles or schemas",
               "ALTER SYSTEM (as a superuser), then SELECT pg_reload_conf()",
               "restart the server")

# Each service: its label, where its server settings are changed, and how one that
# needs a restart takes effect.
SERVICES: dict[str, tuple[str, str, str]] = {
    "aurora": ("Amazon Aurora PostgreSQL",
               "the DB cluster parameter group (console, or aws rds "
               "modify-db-cluster-parameter-group)", "reboot the writer instance"),
    "rds": ("Amazon RDS for PostgreSQL",
            "the DB parameter group (console, or aws rds modify-db-parameter-group)",
            "reboot the instance (the parameter shows pending-reboot until then)"),
    "cloudsql": ("Google Cloud SQL for PostgreSQL",
                 "the instance's database flags (console, or gcloud sql instances patch "
                 "--database-flags)", "Cloud SQL restarts the instance when the flag needs it"),
    "azure": ("Azure Database for PostgreSQL",
              "the server parameters (portal, or az postgres flexible-server parameter set)",
              "restart the server (az postgres flexible-server restart)"),
    "supabase": ("Supabase",
                 "ALTER ROLE ... SET or ALTER DATABASE ... SET for what a role may set; the "
                 "rest in the dashboard's database settings (or supabase postgres-config "
                 "update)", "the dashboard restarts the database"),
    "neon": ("Neon",
             "ALTER DATABASE ... SET or ALTER ROLE ... SET for what a role may set; memory "
             "settings follow the compute size (Neon sets shared_buffers and "
             "effective_cache_size from it)", "restart the compute (or change its size)"),
}

# (service, kind of sign, a setting's prefix or a role's or schema's exact name), first
# match wins: Aurora shows rds.* settings too, so it comes before RDS.
RULES: tuple[tuple[str, str, str], ...] = (
    ("aurora", "setting", "aurora"), ("aurora", "setting", "apg_"),
    ("rds", "setting", "rds."), ("rds", "role", "rds_superuser"),
    ("cloudsql", "setting", "cloudsql."), ("cloudsql", "role", "cloudsqlsuperuser"),
    ("azure", "setting", "azure."), ("azure", "role", "azure_pg_admin"),
    ("supabase", "schema", "supabase_functions"), ("supabase", "role", "supabase_admin"),
    ("neon", "setting", "neon."),
)


def identify(signs: Iterable[tuple[str, str]]) -> Service:
    """The service that ``signs`` (kind, name) show, or :data:`SELF`.

    >>> identify([("setting", "rds.force_ssl")]).name, identify([]).name
    ('rds', 'self')
    """
    seen = sorted(set(signs))
    for name, kind, mark in RULES:
        for sign_kind, sign in seen:
            # a setting by its prefix (services name theirs so), a role or schema exactly
            if sign_kind == kind and (sign.startswith(mark) if kind == "setting"
                                      else sign == mark):
                label, where, restart = SERVICES[name]
                return Service(name, label, f"{kind} {sign}", where, restart)
    return SELF


def detect(conn: psycopg.Connection[Any]) -> Service:
    """The service the connected server shows (:func:`identify` on the catalogs)."""
    rows = conn.execute(SIGNS_SQL, [list(KNOWN_SETTINGS)]).fetchall()
    return identify((str(k), str(n)) for k, n in rows)


def how_to_set(service: Service, setting: str, value: str, *, restart: bool) -> str:
    """How to make a server-wide setting on this service, in one sentence.

    >>> how_to_set(SELF, "random_page_cost", "1.1", restart=False)
    "ALTER SYSTEM SET random_page_cost = '1.1'; SELECT pg_reload_conf();"
    >>> how_to_set(identify([("setting", "cloudsql.iam_authentication")]), "work_mem",
    ...            "64MB", restart=False).split(" in ")[0]
    'On Google Cloud SQL for PostgreSQL, set work_mem = 64MB'
    """
    if not service.managed:
        text = f"ALTER SYSTEM SET {setting} = '{value}'; SELECT pg_reload_conf();"
        return text + ("  -- then restart the server: it takes effect only at start"
                       if restart else "")
    then = f"; then {service.restart}" if restart else "; it takes effect without a restart"
    return (f"On {service.label}, set {setting} = {value} in {service.where}{then}: "
            "ALTER SYSTEM is not available there.")


def how_to_reset(service: Service, setting: str, *, restart: bool) -> str:
    """How to undo :func:`how_to_set`.

    >>> how_to_reset(SELF, "random_page_cost", restart=False)
    'ALTER SYSTEM RESET random_page_cost; SELECT pg_reload_conf();'
    """
    if not service.managed:
        text = f"ALTER SYSTEM RESET {setting}; SELECT pg_reload_conf();"
        return text + ("  -- then restart the server" if restart else "")
    then = f"; then {service.restart}" if restart else ""
    return f"On {service.label}, reset {setting} to its default in {service.where}{then}."
