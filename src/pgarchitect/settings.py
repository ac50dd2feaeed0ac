"""pgarchitect's own settings: one declarative table, read from several sources.

Precedence, lowest first: the default, ``pgarchitect.toml`` (or the file named by
``PGARCHITECT_CONFIG``), environment variables, then explicit overrides (CLI flags).
Connection settings are libpq's: a URL or conninfo in ``database_url``, merged
with libpq's own ``PG*`` variables by libpq itself.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
_DURATION = re.compile(r"^\s*\d+(\.\d+)?\s*(us|ms|s|min|h|d)?\s*$")


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

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Environment variables read for this setting, first one set wins."""
        return (f"PGARCHITECT_{self.name.upper()}", *self.env)


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
        "Workload filter: keep statements whose mean execution time is above this (ms).",
        kind=float,
    ),
    Setting(
        "min_calls",
        100,
        "Workload filter: keep statements called more often than this.",
        kind=int,
    ),
    Setting(
        "top",
        20,
        "Workload filter: keep this many statements, the most expensive by total time.",
        kind=int,
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
        "Advisor gate: statements whose planner cost is below this get no index.",
        kind=float,
    ),
    Setting(
        "min_savings_pct",
        20.0,
        "Advisor gate: an index must cut some statement's cost by at least this percentage.",
        kind=float,
    ),
    Setting(
        "max_indexes_per_table",
        5,
        "Advisor: most new indexes proposed for one table.",
        kind=int,
    ),
    Setting(
        "min_gain_pct",
        20.0,
        "Audit: a proposal whose measured gain (else its estimated gain) is below this "
        "percentage is kept as rejected, not proposed.",
        kind=float,
    ),
    Setting(
        "measure_sets",
        3,
        "Measurement: parameter sets each statement runs with, before and after a change "
        "(each warmed once, then timed --runs times).",
        kind=int,
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
        "rolled-back transaction that blocks the table's writes meanwhile.",
        kind=int,
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
        "the next free port is taken when it is busy.",
        kind=int,
    ),
    Setting(
        "statement_timeout",
        "30s",
        "statement_timeout set on every session pgarchitect opens.",
        duration=True,
    ),
    Setting(
        "lock_timeout",
        "2s",
        "lock_timeout set on every session pgarchitect opens.",
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
        0.85,
        "A statement whose best earlier case scores this or more (0..1) is taken as "
        "solved: the audit skips it and cites the case.",
        kind=float,
    ),
    Setting(
        "kb_weight_vector",
        0.1,
        "Weight of the sentence embeddings' cosine in a case's score.",
        kind=float,
    ),
    Setting(
        "kb_weight_structure",
        0.9,
        "Weight of the structural similarity (tables, columns by role, predicate "
        "shapes) in a case's score.",
        kind=float,
    ),
    Setting(
        "pool_size",
        4,
        "Largest number of connections pgarchitect keeps open to one database.",
        kind=int,
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


def _coerce(setting: Setting, raw: object, origin: str) -> Value:
    """Turn a raw value from a file, the environment or a flag into the setting's type."""
    if raw is None:
        return None
    if setting.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(
            f"{setting.name} = {raw!r} (from {origin}) is not a boolean: use true or false."
        )
    if setting.kind in (int, float):
        word = "a whole number" if setting.kind is int else "a number"
        if isinstance(raw, bool):
            raise ConfigError(f"{setting.name} (from {origin}) must be {word}.")
        try:
            number: int | float = setting.kind(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{setting.name} = {raw!r} (from {origin}) is not {word}.") from None
        if number < 0:
            raise ConfigError(f"{setting.name} = {raw!r} (from {origin}) must not be negative.")
        return number
    text = str(raw)
    if setting.duration and not _DURATION.match(text):
        raise ConfigError(
            f"{setting.name} = {raw!r} (from {origin}) is not a PostgreSQL duration: "
            "use a number with a unit, e.g. 500ms, 30s, 2min."
        )
    return text


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


def mask_conninfo(conninfo: str) -> str:
    """Hide the password of a URL or conninfo string.

    >>> mask_conninfo("postgresql://app:s3cret@db.example:5432/prod")
    'postgresql://app:****@db.example:5432/prod'
    >>> "s3cret" in mask_conninfo("host=db password=s3cret dbname=prod")
    False
    """
    try:
        params = conninfo_to_dict(conninfo)
    except Exception:
        return "**** (not a valid conninfo)"
    if "password" not in params:
        return conninfo
    if "://" in conninfo:
        # A URL keeps its shape: only the password between ':' and '@' is replaced.
        scheme, rest = conninfo.split("://", 1)
        userinfo, at, tail = rest.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            return f"{scheme}://{user}:****@{tail}"
    params["password"] = "****"
    return make_conninfo("", **params)


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
