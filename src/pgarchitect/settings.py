"""pgarchitect's own settings: one declarative table, read from several sources.

Precedence, lowest first: the default, ``pgarchitect.toml`` (or the file named by
``PGARCHITECT_CONFIG``), environment variables, then explicit overrides (CLI flags).
Connection settings are libpq's: a URL or conninfo in ``database_url``, merged
with libpq's own ``PG*`` variables by libpq itself.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import platformdirs
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgarchitect.errors import ConfigError

Value = str | int | float | bool | None

CONFIG_FILE_NAME = "pgarchitect.toml"
CONFIG_ENV = "PGARCHITECT_CONFIG"

# libpq variables that name a database to connect to; when one of them is set
# and no URL is given, libpq's own defaults are the target, not the embedded server.
LIBPQ_TARGET_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
# libpq variables shown by `pgarchitect config`; the password is masked.
LIBPQ_SHOWN_VARS = (*LIBPQ_TARGET_VARS, "PGPASSWORD", "PGSSLMODE", "PGAPPNAME")

# A PostgreSQL duration as the server accepts it in SET: a number and an optional unit.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$")
_DURATION_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
# statement_timeout and lock_timeout are int GUCs in milliseconds: 0 turns them off
# (which pgarchitect never wants), and INT_MAX is the largest the server accepts
# (https://www.postgresql.org/docs/current/runtime-config-client.html).
TIMEOUT_MAX_MS = 2_147_483_647
# Whole-number settings end up as PostgreSQL parameters: bigint is the widest.
_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default, help text, and where else it may come from."""

    name: str
    default: Value
    help: str
    kind: type = str
    env: tuple[str, ...] = ()
    secret: bool = False
    duration: bool = False
    low: float | None = None  # numbers: the allowed range, both ends included
    high: float | None = None

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Environment variables read for this setting, first one set wins."""
        return (f"PGARCHITECT_{self.name.upper()}", *self.env)

    @property
    def allowed(self) -> str:
        """The allowed values in words, as the help text states them ("" when any)."""
        if self.duration:
            return f"From 1ms to {TIMEOUT_MAX_MS}ms (about 24 days)."
        if self.low is not None and self.high is not None:
            return f"From {_number(self.low)} to {_number(self.high)}."
        if self.low is not None:
            return f"At least {_number(self.low)}."
        return ""


def _number(value: float) -> str:
    """A bound as people write it.

    >>> _number(0.0), _number(100), _number(0.5)
    ('0', '100', '0.5')
    """
    return str(int(value)) if float(value).is_integer() else str(value)


def duration_ms(text: str) -> int | None:
    """A PostgreSQL duration in whole milliseconds (None when it is not one).

    Without a unit the number is milliseconds, as for statement_timeout; the
    server rounds a fraction of its unit to the nearest whole one.

    >>> duration_ms("30s"), duration_ms("1.5min"), duration_ms("250"), duration_ms("2 weeks")
    (30000, 90000, 250, None)
    """
    match = _DURATION.match(text)
    if not match:
        return None
    return round(float(match.group(1)) * _DURATION_MS[match.group(2) or "ms"])


def _default_data_dir() -> str:
    return str(platformdirs.user_data_path("pgarchitect"))


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        None,
        "Target database, as a URL or libpq conninfo. Unset: libpq's PG* variables "
        "when any is set, otherwise the embedded server.",
        env=("DATABASE_URL",),
        secret=True,
    ),
    Setting(
        "store_url",
        None,
        "Database for pgarchitect's own tables (snapshots), as a URL or conninfo. "
        "Unset: the target database, in schema pgarchitect.",
        secret=True,
    ),
    Setting(
        "min_mean_ms",
        500.0,
        "Workload filter: keep statements whose mean execution time is above this (ms). "
        "At least 0.",
        kind=float,
        low=0.0,
    ),
    Setting(
        "min_calls",
        100,
        "Workload filter: keep statements called more often than this. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "top",
        20,
        "Workload filter: keep this many statements, the most expensive by total time. "
        "From 1 to 100000.",
        kind=int,
        low=1, high=100000,
    ),
    Setting(
        "budget",
        "",
        "Storage budget for new indexes, e.g. 500MB or 2GB. Empty: a quarter of the "
        "database's size.",
    ),
    Setting(
        "whatif",
        "auto",
        "What-if engine: auto (HypoPG when created in the database, else the sandbox), "
        "hypopg, or sandbox (build each index in a rolled-back transaction).",
    ),
    Setting(
        "min_cost",
        100.0,
        "Advisor gate: statements whose planner cost is below this get no index. "
        "At least 0.",
        kind=float,
        low=0.0,
    ),
    Setting(
        "min_savings_pct",
        20.0,
        "Advisor gate: an index must cut some statement's cost by at least this percentage. "
        "From 0 to 100.",
        kind=float,
        low=0.0, high=100.0,
    ),
    Setting(
        "max_indexes_per_table",
        5,
        "Advisor: most new indexes proposed for one table. From 1 to 100.",
        kind=int,
        low=1, high=100,
    ),
    Setting(
        "min_gain_pct",
        20.0,
        "Audit: a proposal whose measured gain (else its estimated gain) is below this "
        "percentage is kept as rejected, not proposed. From 0 to 100.",
        kind=float,
        low=0.0, high=100.0,
    ),
    Setting(
        "measure_sets",
        3,
        "Measurement: parameter sets each statement runs with, before and after a change "
        "(each warmed once, then timed --runs times). From 1 to 100.",
        kind=int,
        low=1, high=100,
    ),
    Setting(
        "audit_window",
        "7d",
        "Audit: the window of pg_stat_statements counters (snapshot deltas, e.g. 7d or 24h) "
        "when snapshots exist; without snapshots the cumulative counters are used.",
    ),
    Setting(
        "sandbox_max_table_mb",
        2048,
        "Largest table (MB) the sandbox and verification build an index on, inside a "
        "rolled-back transaction that blocks the table's writes meanwhile. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "data_dir",
        _default_data_dir(),
        "Directory for pgarchitect's files, including the embedded server's data.",
    ),
    Setting(
        "server_port",
        54329,
        "TCP port (on 127.0.0.1) for a newly created embedded server; "
        "the next free port is taken when it is busy. From 1 to 65535.",
        kind=int,
        low=1, high=65535,
    ),
    Setting(
        "statement_timeout",
        "30s",
        "statement_timeout set on every session pgarchitect opens, with a unit "
        "(us, ms, s, min, h, d). From 1ms to 2147483647ms (about 24 days).",
        duration=True,
    ),
    Setting(
        "lock_timeout",
        "2s",
        "lock_timeout set on every session pgarchitect opens, with a unit "
        "(us, ms, s, min, h, d). From 1ms to 2147483647ms (about 24 days).",
        duration=True,
    ),
    Setting(
        "application_name",
        "pgarchitect",
        "application_name of every session pgarchitect opens.",
    ),
    Setting(
        "kb_url",
        None,
        "Database of the knowledge base (findings, with pgvector when it has it), as a "
        "URL or conninfo. Unset: the target database, in schema pgarchitect.",
        secret=True,
    ),
    Setting(
        "kb_threshold",
        0.5,
        "Least score (resemblance of statements) for an earlier case to be replayed on "
        "a statement; replaying its fix decides whether the statement is solved. "
        "From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "kb_candidates",
        5,
        "Most earlier cases replayed on one statement (one what-if plan each). "
        "From 1 to 50.",
        kind=int,
        low=1, high=50,
    ),
    Setting(
        "kb_weight_vector",
        0.1,
        "Weight of the sentence embeddings' cosine in a case's score. From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "kb_weight_structure",
        0.9,
        "Weight of the structural similarity (tables, columns by role, predicate "
        "shapes) in a case's score. From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "hygiene_exclusions",
        None,
        "Hygiene findings silenced for good, comma-separated ids as the audit shows them "
        "(rule:schema.name, e.g. unused:public.orders_status_idx).",
    ),
    Setting(
        "partition_min_rows",
        10_000_000,
        "Partitioning: a time-filtered, append-mostly table is proposed from this many rows "
        "(now, or within partition_horizon_months at its growth). At least 1.",
        kind=int,
        low=1,
    ),
    Setting(
        "partition_min_mb",
        10_240,
        "Partitioning: a time-filtered, append-mostly table is also proposed from this "
        "size in MB, indexes included (now, or within partition_horizon_months at its "
        "growth). At least 1.",
        kind=int,
        low=1,
    ),
    Setting(
        "partition_min_share",
        0.5,
        "Partitioning: least share of the time of the audit's statements on the table "
        "spent in statements that filter its time column. From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "partition_horizon_months",
        24,
        "Partitioning: a table that will cross partition_min_rows or partition_min_mb "
        "within this many months at its current growth is proposed before it does. "
        "From 0 to 120.",
        kind=int,
        low=0, high=120,
    ),
    Setting(
        "partition_retention_months",
        None,
        "Partitioning: partitions older than this many months are detached and dropped by "
        "the proposed migration. Unset: every partition is kept. At least 1.",
        kind=int,
        low=1,
    ),
    Setting(
        "partition_sample_mb",
        256,
        "Partitioning: largest copy (MB) of a table the measurement makes, twice (plain and "
        "partitioned), inside a rolled-back transaction; a larger table is measured on a "
        "sample of its pages. At least 1.",
        kind=int,
        low=1,
    ),
    Setting(
        "cache_min_calls_per_day",
        1000.0,
        "Cache advisor: an application cache is proposed for statements called more often "
        "than this per day. At least 0.",
        kind=float,
        low=0.0,
    ),
    Setting(
        "cache_max_rows",
        100.0,
        "Cache advisor: largest result (rows per call) an application cache is proposed "
        "for. At least 0.",
        kind=float,
        low=0.0,
    ),
    Setting(
        "cache_max_writes_per_hour",
        6.0,
        "Cache advisor: a statement is cached only when each of its tables takes fewer "
        "writes (rows inserted, updated, deleted) per hour than this. At least 0.",
        kind=float,
        low=0.0,
    ),
    Setting(
        "cache_min_ttl_s",
        60,
        "Cache advisor: shortest time to live (seconds) proposed for a cached result. "
        "From 1 to 86400.",
        kind=int,
        low=1, high=86400,
    ),
    Setting(
        "cache_max_ttl_s",
        3600,
        "Cache advisor: longest time to live (seconds) proposed for a cached result, even "
        "for tables never written. From 1 to 604800.",
        kind=int,
        low=1, high=604800,
    ),
    Setting(
        "preaggregate_min_rows",
        100000,
        "Cache advisor: a per-day aggregate is pre-aggregated (materialized view) only "
        "over tables with at least this many rows. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "machine_memory_mb",
        0,
        "Settings advisor: memory of the database server's machine in MB, for "
        "shared_buffers and effective_cache_size. 0: read /proc/meminfo when the server "
        "runs on this machine, else unknown. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "storage",
        None,
        "Settings advisor: the database server's storage, 'ssd' or 'hdd', for "
        "random_page_cost. Unset: a managed service's, or the data directory's device "
        "when the server runs on this machine, else unknown (nothing proposed).",
    ),
    Setting(
        "hygiene_bloat_share",
        0.3,
        "Hygiene: a table or b-tree index is bloated when free space is at least this "
        "share of it (and hygiene_bloat_min_mb). From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "hygiene_bloat_min_mb",
        10,
        "Hygiene: least free space (MB) of a bloated table or index. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "hygiene_dead_ratio",
        0.2,
        "Hygiene: dead tuples' share of a table's tuples above which it is not vacuumed "
        "often enough. From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "hygiene_vacuum_min_mb",
        10,
        "Hygiene: smallest table (MB) the vacuum rule looks at. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "hygiene_vacuum_max_days",
        7.0,
        "Hygiene: days without a vacuum after which a table with writes is flagged. "
        "At least 0.",
        kind=float,
        low=0.0,
    ),
    Setting(
        "hygiene_hot_min_updates",
        10000,
        "Hygiene: updates of a table since the reset before its HOT share is judged. "
        "At least 1.",
        kind=int,
        low=1,
    ),
    Setting(
        "hygiene_hot_max_share",
        0.5,
        "Hygiene: HOT updates' share below which the indexes on updated columns are "
        "looked at. From 0 to 1.",
        kind=float,
        low=0.0, high=1.0,
    ),
    Setting(
        "hygiene_wraparound_max_age",
        500000000,
        "Hygiene: age(relfrozenxid) from which a table gets a VACUUM (FREEZE) (critical "
        "from 1.5 billion). From 1 to 2147483647.",
        kind=int,
        low=1, high=2147483647,
    ),
    Setting(
        "rewrite_keyset_min_rows",
        100000,
        "Rewrite advisor: a page read with ORDER BY ... OFFSET on a table with more rows "
        "than this (the planner's estimate) is measured against keyset pagination. "
        "At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "rewrite_count_min_rows",
        1000000,
        "Rewrite advisor: a count(*) of a whole table with more rows than this (the "
        "planner's estimate) is measured against the catalog's estimate. At least 0.",
        kind=int,
        low=0,
    ),
    Setting(
        "rewrite_count_tolerance_pct",
        5.0,
        "Rewrite advisor: how far (percent of the exact count) the catalog's row estimate "
        "may be from count(*) on the real data for the estimate to be proposed. "
        "From 0 to 100.",
        kind=float,
        low=0.0, high=100.0,
    ),
    Setting(
        "health_long_running_s",
        300,
        "Health: a session whose statement has been running longer than this (seconds) "
        "is reported as long-running. At least 1.",
        kind=int,
        low=1,
    ),
    Setting(
        "health_growth_snapshots",
        7,
        "Health: stored health snapshots the database's growth (bytes per day) is "
        "computed over, the current one included. From 2 to 1000.",
        kind=int,
        low=2, high=1000,
    ),
    Setting(
        "api_tokens",
        None,
        "Admin API: bearer tokens, comma-separated name:scope:sha256-hex entries (scope "
        "read or write; write includes read). Store hashes only: `pgarchitect serve "
        "--hash-token` prints one. Unset: `serve` listens on a loopback address only.",
        secret=True,
    ),
    Setting(
        "api_host",
        "127.0.0.1",
        "Admin API: address `pgarchitect serve` listens on.",
    ),
    Setting(
        "api_port",
        8080,
        "Admin API: TCP port `pgarchitect serve` listens on. From 1 to 65535.",
        kind=int,
        low=1, high=65535,
    ),
    Setting(
        "api_max_body_bytes",
        65536,
        "Admin API: largest request body accepted (bytes); a larger one gets 413. "
        "From 1024 to 16777216.",
        kind=int,
        low=1024, high=16 * 1024 * 1024,
    ),
    Setting(
        "api_max_query_chars",
        10000,
        "Admin API: longest statement accepted by similar?query= and ask (characters). "
        "From 100 to 1000000.",
        kind=int,
        low=100, high=1_000_000,
    ),
    Setting(
        "alert_p95_ms",
        2000.0,
        "Alerts (`health --alert`): the estimated p95 statement latency (ms) above which "
        "an alert opens. At least 0.",
        kind=float,
        low=0,
    ),
    Setting(
        "alert_connections_pct",
        90.0,
        "Alerts: connections in use, as a percentage of max_connections, above which an "
        "alert opens. From 0 to 100.",
        kind=float,
        low=0, high=100,
    ),
    Setting(
        "alert_disk_pct",
        85.0,
        "Alerts: disk space used (percent) above which an alert opens, when the server "
        "shows it. From 0 to 100.",
        kind=float,
        low=0, high=100,
    ),
    Setting(
        "alert_wraparound_margin",
        1_000_000_000,
        "Alerts: transaction ids left before wraparound below which an alert opens. "
        "From 0 to 2147483648.",
        kind=int,
        low=0, high=2**31,
    ),
    Setting(
        "alert_audit_failures",
        2,
        "Alerts: consecutive failed audit runs of a database after which the agent is "
        "reported stuck. From 1 to 100.",
        kind=int,
        low=1, high=100,
    ),
    Setting(
        "delivery_out",
        "pgarchitect-out",
        "Delivery: folder (relative to the working directory) where `audit --deliver` "
        "writes the migration files and the weekly report.",
    ),
    Setting(
        "delivery_repo",
        None,
        "Delivery: the team's git repository (a path). Each delivering audit commits its "
        "migrations on a new branch there (never the current one); unset: no branch.",
    ),
    Setting(
        "delivery_format",
        "auto",
        "Delivery: migration format, auto (from delivery_repo: prisma/schema.prisma, "
        "alembic.ini, Flyway's db/migration; else sql), sql, prisma, alembic or flyway.",
    ),
    Setting(
        "github_repo",
        None,
        "Delivery: owner/name of the GitHub repository to open pull requests in (the "
        "branch is pushed to delivery_repo's remote origin first). Unset: no pull request.",
    ),
    Setting(
        "github_token",
        None,
        "Delivery: GitHub token for pull requests (from the environment; never printed).",
        env=("GITHUB_TOKEN",),
        secret=True,
    ),
    Setting(
        "github_api_url",
        "https://api.github.com",
        "Delivery: GitHub's REST API (GitHub Enterprise: https://HOST/api/v3).",
    ),
    Setting(
        "github_base",
        "main",
        "Delivery: the branch pull requests are opened against.",
    ),
    Setting(
        "report_link",
        None,
        "Delivery: link to the admin page, put in the weekly report.",
    ),
    Setting(
        "slack_webhook_url",
        None,
        "Delivery: Slack incoming webhook the weekly report is posted to.",
        secret=True,
    ),
    Setting(
        "smtp_host",
        None,
        "Delivery: SMTP server the weekly report is e-mailed through (unset: no e-mail).",
    ),
    Setting(
        "smtp_port",
        25,
        "Delivery: SMTP port. From 1 to 65535.",
        kind=int,
        low=1, high=65535,
    ),
    Setting(
        "smtp_starttls",
        False,
        "Delivery: use STARTTLS with the SMTP server.",
        kind=bool,
    ),
    Setting(
        "smtp_username",
        None,
        "Delivery: SMTP user name (unset: no login).",
    ),
    Setting(
        "smtp_password",
        None,
        "Delivery: SMTP password.",
        secret=True,
    ),
    Setting(
        "smtp_from",
        "pgarchitect@localhost",
        "Delivery: sender of the weekly report.",
    ),
    Setting(
        "smtp_to",
        None,
        "Delivery: recipients of the weekly report, comma-separated.",
    ),
    Setting(
        "production_databases",
        None,
        "Databases `pgarchitect apply` refuses, comma-separated: a database name, or "
        "host:port/name as pgarchitect prints targets.",
    ),
    Setting(
        "pool_size",
        4,
        "Largest number of connections pgarchitect keeps open to one database. "
        "From 1 to 100.",
        kind=int,
        low=1, high=100,
    ),
    Setting(
        "log_sql",
        False,
        "Print every SQL statement pgarchitect runs to standard error.",
        kind=bool,
    ),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _shown(setting: Setting, raw: object) -> str:
    """The value as an error message may show it: never a secret's."""
    return "(value hidden)" if setting.secret else repr(raw)


def _coerce(setting: Setting, raw: object, origin: str) -> Value:
    """Turn a raw value from a file, the environment or a flag into the setting's type.

    A value outside the setting's range is refused here, before anything uses it
    (or sends it to a server), with the setting, the value, its origin and the range.
    """
    if raw is None:
        return None
    where = f"{setting.name} = {_shown(setting, raw)} (from {origin})"
    if setting.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{where} is not a boolean: use true or false.")
    if setting.kind in (int, float):
        if setting.default is None and isinstance(raw, str) and not raw.strip():
            return None  # a number that may be unset: empty is unset
        return _coerce_number(setting, raw, where)
    if not isinstance(raw, str):
        raise ConfigError(f"{where} is not a string: write it in quotes, e.g. "
                          f'{setting.name} = "…".')
    if setting.duration:
        ms = duration_ms(raw)
        if ms is None:
            raise ConfigError(
                f"{where} is not a PostgreSQL duration: use a number with a unit, "
                f"e.g. 500ms, 30s, 2min. {setting.allowed}"
            )
        if not 1 <= ms <= TIMEOUT_MAX_MS:
            # 0 would turn the timeout off; above INT_MAX the server refuses the login.
            raise ConfigError(f"{where} is out of range: {setting.allowed}")
    return raw


def _coerce_number(setting: Setting, raw: object, where: str) -> int | float:
    word = "a whole number" if setting.kind is int else "a number"
    allowed = setting.allowed
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(f"{where} is not {word}. {allowed}".strip())
    try:
        number: int | float = setting.kind(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{where} is not {word}. {allowed}".strip()) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{where} is not a finite number. {allowed}".strip())
    if (setting.low is not None and number < setting.low) or (
            setting.high is not None and number > setting.high):
        raise ConfigError(f"{where} is out of range: {allowed}")
    if isinstance(number, int) and number > _BIGINT_MAX:
        raise ConfigError(f"{where} is out of range: {allowed} At most {_BIGINT_MAX} "
                          "(PostgreSQL's bigint).")
    return number


@dataclass(frozen=True)
class Config:
    """Effective settings and where each value came from."""

    values: Mapping[str, Value]
    sources: Mapping[str, str]
    environ: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Value:
        return self.values[name]

    def get_str(self, name: str) -> str:
        value = self.values[name]
        return "" if value is None else str(value)

    def get_int(self, name: str) -> int:
        value = self.values[name]
        assert isinstance(value, int)
        return value

    def get_float(self, name: str) -> float:
        value = self.values[name]
        assert isinstance(value, int | float)
        return float(value)

    def get_bool(self, name: str) -> bool:
        return bool(self.values[name])

    @property
    def data_dir(self) -> Path:
        return Path(self.get_str("data_dir")).expanduser()

    def libpq_env(self) -> dict[str, str]:
        """The libpq variables set in the environment this config was read from."""
        return {k: self.environ[k] for k in LIBPQ_SHOWN_VARS if self.environ.get(k)}

    def names_libpq_target(self) -> bool:
        """Whether libpq's own variables name a database (so it is the default target)."""
        return any(self.environ.get(k) for k in LIBPQ_TARGET_VARS)

    def masked(self) -> dict[str, Value]:
        """Every setting's value, secrets masked: what a run's record keeps."""
        return {s.name: mask_conninfo(str(self.values[s.name]))
                if s.secret and self.values[s.name] else self.values[s.name] for s in SETTINGS}

    def display_rows(self) -> list[tuple[str, str, str]]:
        """(name, value, source) for every setting and set libpq variable, secrets masked."""
        rows = []
        for s in SETTINGS:
            value = self.values[s.name]
            shown = "" if value is None else str(value)
            if s.secret and shown:
                shown = mask_conninfo(shown)
            rows.append((s.name, shown, self.sources[s.name]))
        for var, value in self.libpq_env().items():
            rows.append((var, "****" if var == "PGPASSWORD" else value, "environment (libpq)"))
        return rows


_URL_SCHEMES = ("postgresql://", "postgres://")
MASK = "****"


def _is_url(conninfo: str) -> bool:
    return conninfo.lstrip().startswith(_URL_SCHEMES)


def _mask_url(url: str) -> str:
    """A URL with the password of its userinfo and of a ``password=`` parameter masked.

    The userinfo ends at the first '@' before any '/', as libpq reads it.
    """
    scheme, rest = url.split("://", 1)
    cut = min((i for i in (rest.find("@"), rest.find("/")) if i >= 0), default=-1)
    if cut >= 0 and rest[cut] == "@" and ":" in rest[:cut]:
        rest = f"{rest[:cut].split(':', 1)[0]}:{MASK}{rest[cut:]}"
    path, question, query = rest.partition("?")
    if question:
        pairs = [f"{p.split('=', 1)[0]}={MASK}" if unquote(p.split("=", 1)[0]) == "password"
                 else p for p in query.split("&")]
        rest = f"{path}?{'&'.join(pairs)}"
    return f"{scheme}://{rest}"


def mask_conninfo(conninfo: str) -> str:
    """Hide the password of a URL or conninfo string.

    A URL keeps its shape; a string libpq cannot read is not shown at all (its
    text may hold the password anywhere).

    >>> mask_conninfo("postgresql://app:s3cret@db.example:5432/prod")
    'postgresql://app:****@db.example:5432/prod'
    >>> mask_conninfo("postgresql://app@db/prod?sslmode=require&password=s3cret")
    'postgresql://app@db/prod?sslmode=require&password=****'
    >>> "s3cret" in mask_conninfo("host=db password=s3cret dbname=prod")
    False
    >>> mask_conninfo("host=db password=s3cret wrong")
    '**** (not a valid connection string)'
    """
    try:
        params = conninfo_to_dict(conninfo)
    except Exception:
        return f"{MASK} (not a valid connection string)"
    password = str(params.get("password") or "")
    if not password:
        return conninfo
    if _is_url(conninfo):
        masked = _mask_url(conninfo)
        # A URL libpq reads otherwise than the split above: rebuild it as conninfo.
        if password not in masked and conninfo_to_dict(masked).get("password") == MASK:
            return masked
    params["password"] = MASK
    return make_conninfo("", **params)


def suspected_secrets(conninfo: str) -> list[str]:
    """Parts of a connection string that may be its password, even when libpq
    cannot read the string (the values to keep out of any message).

    Generous on purpose: in a conninfo, everything after ``password=``; in a URL,
    the userinfo after its ':' and ``password=`` parameters, raw and decoded.

    >>> suspected_secrets("host=a password=S3 cr3t")
    ['S3 cr3t']
    >>> suspected_secrets("postgresql://u:S3%zz@h/d")
    ['S3%zz']
    """
    found: list[str] = []
    if _is_url(conninfo):
        rest = conninfo.split("://", 1)[1]
        userinfo = rest.rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
        for pair in rest.partition("?")[2].split("&"):
            key, _, value = pair.partition("=")
            if "password" in unquote(key).lower():
                found.append(value)
    else:
        for match in re.finditer(r"password\s*=\s*", conninfo, re.IGNORECASE):
            found.append(conninfo[match.end():].strip())
    found += [unquote(f) for f in found if unquote(f) != f]
    return [f for f in found if f]


def redact(text: str, conninfo: str = "", extra: tuple[str, ...] = ()) -> str:
    """``text`` (a libpq or psycopg message) without anything that may be a password.

    libpq quotes the token it stumbles on, which may be part of the password
    ('invalid percent-encoded token: "S3cr%zz"', 'missing "=" after "Pw"'), or the
    whole URL: a quoted token that overlaps a suspected secret is hidden, and so is
    any secret found elsewhere in the text.

    >>> redact('invalid percent-encoded token: "S3%zz"', "postgresql://u:S3%zz@h/d")
    'invalid percent-encoded token: "****"'
    >>> redact('invalid connection option "bogus"', "host=h bogus=1")
    'invalid connection option "bogus"'
    """
    secrets = [e for e in extra if e]
    try:
        # A string libpq reads has one password, exactly; else suspect every part.
        password = conninfo_to_dict(conninfo).get("password") if conninfo else None
        secrets += [str(password)] if password else []
    except Exception:
        secrets += suspected_secrets(conninfo)
    if not secrets:
        return text

    def hide(match: re.Match[str]) -> str:
        token = match.group(1)
        if re.fullmatch(r"\W?", token):  # nothing, or one punctuation mark: "=", "]"
            return match.group(0)
        if any(token in s or s in token for s in secrets):
            return f'"{MASK}"'
        return match.group(0)

    text = re.sub(r'"([^"]*)"', hide, text)
    if conninfo and len(conninfo) > 3:
        text = text.replace(conninfo, MASK)
    for secret in sorted(secrets, key=len, reverse=True):
        # A short secret only as a word of its own, so "a" does not eat every "a".
        pattern = re.escape(secret) if len(secret) >= 4 else rf"(?<!\w){re.escape(secret)}(?!\w)"
        text = re.sub(pattern, MASK, text)
    return text


def find_config_file(environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file in use: ``$PGARCHITECT_CONFIG`` or ``./pgarchitect.toml`` if present."""
    named = environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} names {path}, which is not a file.")
        return path
    local = cwd / CONFIG_FILE_NAME
    return local if local.is_file() else None


def _read_file(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        # The message names the byte and where, not the text around it (it may be a secret).
        raise ConfigError(
            f"Cannot read {path}: it is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
            f"at offset {exc.start}). Save it as UTF-8, or remove it."
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Fix the file or remove it.") from None
    for key in data:
        if key not in SETTINGS_BY_NAME:
            raise ConfigError(
                f"Unknown setting '{key}' in {path}.{_suggest(key, list(SETTINGS_BY_NAME))}"
            )
    return data


def load_config(
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Read the effective settings: defaults < config file < environment < overrides."""
    env = dict(os.environ if environ is None else environ)
    path = find_config_file(env, cwd or Path.cwd())
    from_file = _read_file(path) if path else {}
    values: dict[str, Value] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        values[s.name], sources[s.name] = s.default, "default"
        if s.name in from_file:
            values[s.name] = _coerce(s, from_file[s.name], str(path))
            sources[s.name] = str(path)
        for var in s.env_vars:
            if env.get(var):
                values[s.name] = _coerce(s, env[var], f"${var}")
                sources[s.name] = f"${var}"
                break
    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in SETTINGS_BY_NAME:
            raise ConfigError(f"Unknown setting '{name}'.{_suggest(name, list(SETTINGS_BY_NAME))}")
        values[name] = _coerce(SETTINGS_BY_NAME[name], raw, "command line")
        sources[name] = "command line"
    return Config(values=values, sources=sources, environ=env)


def example_config() -> str:
    """A commented ``pgarchitect.toml`` listing every setting with its default."""
    lines = ["# pgarchitect.toml: every setting, commented out at its default.", ""]
    for s in SETTINGS:
        lines.append(f"# {s.help}")
        lines.append(f"# Environment: {', '.join(s.env_vars)}")
        if s.default is None:
            lines.append(f'# {s.name} = ""')
        elif isinstance(s.default, bool):
            lines.append(f"# {s.name} = {str(s.default).lower()}")
        elif isinstance(s.default, int | float):
            lines.append(f"# {s.name} = {s.default}")
        else:
            lines.append(f'# {s.name} = "{s.default}"')
        lines.append("")
    return "\n".join(lines)
