"""Settings: precedence, types, errors that suggest, masking, the example file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pgarchitect.errors import ConfigError
from pgarchitect.settings import SETTINGS, example_config, load_config, mask_conninfo


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    cfg = load_config(environ={}, cwd=tmp_path)
    assert cfg["statement_timeout"] == "30s"
    assert cfg["server_port"] == 54329
    assert cfg["log_sql"] is False
    assert cfg["database_url"] is None
    assert set(cfg.sources.values()) == {"default"}


def test_precedence_default_file_env_override(tmp_path: Path) -> None:
    (tmp_path / "pgarchitect.toml").write_text(
        'statement_timeout = "10s"\nlock_timeout = "5s"\npool_size = 7\nserver_port = 6000\n'
    )
    env = {"PGARCHITECT_LOCK_TIMEOUT": "3s", "PGARCHITECT_POOL_SIZE": "9"}
    cfg = load_config({"pool_size": "11"}, environ=env, cwd=tmp_path)
    assert (cfg["statement_timeout"], cfg.sources["statement_timeout"]) == (
        "10s", str(tmp_path / "pgarchitect.toml"))
    assert (cfg["lock_timeout"], cfg.sources["lock_timeout"]) == ("3s", "$PGARCHITECT_LOCK_TIMEOUT")
    assert (cfg["pool_size"], cfg.sources["pool_size"]) == (11, "command line")
    assert cfg["server_port"] == 6000
    assert cfg["application_name"] == "pgarchitect"


def test_database_url_reads_pgarchitect_variable_before_database_url(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://a@h1/x", "PGARCHITECT_DATABASE_URL": "postgresql://b@h2/y"}
    cfg = load_config(environ=env, cwd=tmp_path)
    assert cfg["database_url"] == "postgresql://b@h2/y"
    cfg = load_config(environ={"DATABASE_URL": "postgresql://a@h1/x"}, cwd=tmp_path)
    assert (cfg["database_url"], cfg.sources["database_url"]) == (
        "postgresql://a@h1/x", "$DATABASE_URL")


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("log_sql = true\n")
    cfg = load_config(environ={"PGARCHITECT_CONFIG": str(path)}, cwd=tmp_path / "..")
    assert cfg["log_sql"] is True
    with pytest.raises(ConfigError, match="not a file"):
        load_config(environ={"PGARCHITECT_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)


def test_unknown_setting_suggests_the_closest(tmp_path: Path) -> None:
    (tmp_path / "pgarchitect.toml").write_text('statment_timeout = "1s"\n')
    with pytest.raises(ConfigError, match="Did you mean 'statement_timeout'"):
        load_config(environ={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PGARCHITECT_STATEMENT_TIMEOUT": "30 seconds"}, "not a PostgreSQL duration"),
        ({"PGARCHITECT_POOL_SIZE": "four"}, "not a whole number"),
        ({"PGARCHITECT_LOG_SQL": "maybe"}, "not a boolean"),
    ],
)
def test_bad_values_name_the_setting_and_source(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(environ=env, cwd=tmp_path)
    assert next(iter(env)) in str(info.value)


def test_broken_config_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "pgarchitect.toml").write_text("this is = not toml = at all\n")
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config(environ={}, cwd=tmp_path)


def test_secrets_are_masked_in_display(tmp_path: Path) -> None:
    env = {"PGARCHITECT_DATABASE_URL": "postgresql://app:hunter2@db:5432/prod",
           "PGPASSWORD": "hunter3", "PGHOST": "db"}
    rows = load_config(environ=env, cwd=tmp_path).display_rows()
    text = repr(rows)
    assert "hunter2" not in text and "hunter3" not in text
    masked = ("database_url", "postgresql://app:****@db:5432/prod", "$PGARCHITECT_DATABASE_URL")
    assert masked in rows
    assert ("PGHOST", "db", "environment (libpq)") in rows


def test_mask_keyword_conninfo() -> None:
    assert "s3" not in mask_conninfo("host=a password=s3 user=b")
    assert mask_conninfo("host=a user=b") == "host=a user=b"


def test_example_config_is_valid_toml_with_every_setting(tmp_path: Path) -> None:
    text = example_config()
    uncommented = "\n".join(
        line[2:] for line in text.splitlines() if line.startswith("# ") and " = " in line
    )
    parsed = tomllib.loads(uncommented)
    assert set(parsed) == {s.name for s in SETTINGS}
    # The uncommented example is itself a config file that loads.
    (tmp_path / "pgarchitect.toml").write_text(uncommented.replace('database_url = ""', ""))
    load_config(environ={}, cwd=tmp_path)
