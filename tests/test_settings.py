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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("statement_timeout", "0", "From 1ms to 2147483647ms"),
        ("lock_timeout", "0ms", "From 1ms to 2147483647ms"),
        ("lock_timeout", "100us", "out of range"),  # the server would round it to 0: off
        ("lock_timeout", "99999999999999s", "From 1ms to 2147483647ms"),
        ("statement_timeout", "25d", "out of range"),
        ("min_cost", "nan", "not a finite number"),
        ("min_cost", "inf", "not a finite number"),
        ("min_mean_ms", "1e400", "not a finite number"),
        ("min_cost", "-1", "At least 0"),
        ("min_savings_pct", "100.5", "From 0 to 100"),
        ("min_gain_pct", "-3", "From 0 to 100"),
        ("kb_threshold", "1.5", "From 0 to 1"),
        ("kb_weight_vector", "nan", "not a finite number"),
        ("top", "0", "From 1 to 100000"),
        ("top", "1e400", "not a whole number"),
        ("pool_size", "0", "From 1 to 100"),
        ("measure_sets", "0", "From 1 to 100"),
        ("max_indexes_per_table", "1000", "From 1 to 100"),
        ("server_port", "70000", "From 1 to 65535"),
        ("min_calls", str(2**64), "bigint"),
    ],
)
def test_values_out_of_range_are_refused_with_the_range(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    var = f"PGARCHITECT_{name.upper()}"
    with pytest.raises(ConfigError, match=message) as info:
        load_config(environ={var: value}, cwd=tmp_path)
    assert info.value.exit_code == 2
    assert all(part in str(info.value) for part in (name, repr(value), f"${var}"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("data_dir = [1, 2]", "not a string"),
        ("statement_timeout = 0", "not a string"),
        ('statement_timeout = "0"', "out of range"),
        ("min_cost = nan", "not a finite number"),
        ("min_cost = inf", "not a finite number"),
        ("top = 1.5", "not a whole number"),
        ("top = [1]", "not a whole number"),
        ("log_sql = 2", "not a boolean"),
    ],
)
def test_bad_values_in_the_file_are_refused(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "pgarchitect.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(environ={}, cwd=tmp_path)
    assert line.split(" = ")[0] in str(info.value) and str(path) in str(info.value)


def test_the_edges_of_each_range_are_accepted(tmp_path: Path) -> None:
    env = {"PGARCHITECT_STATEMENT_TIMEOUT": "2147483647ms", "PGARCHITECT_LOCK_TIMEOUT": "1ms",
           "PGARCHITECT_MIN_SAVINGS_PCT": "100", "PGARCHITECT_MIN_GAIN_PCT": "0",
           "PGARCHITECT_KB_THRESHOLD": "1", "PGARCHITECT_TOP": "1", "PGARCHITECT_MIN_CALLS": "0",
           "PGARCHITECT_SERVER_PORT": "65535"}
    cfg = load_config(environ=env, cwd=tmp_path)
    assert cfg["min_savings_pct"] == 100.0 and cfg["top"] == 1


def test_every_range_is_stated_in_the_help_text() -> None:
    for s in SETTINGS:
        if s.kind in (int, float) or s.duration:
            assert s.allowed, f"{s.name} has no range"
            assert s.allowed in s.help, f"{s.name}: help does not say {s.allowed!r}"
            assert s.allowed in example_config()


def test_a_config_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pgarchitect.toml").write_bytes(b'database_url = "postgresql://a:\xff@h/d"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xff") as info:
        load_config(environ={}, cwd=tmp_path)
    assert info.value.exit_code == 2


def test_mask_url_password_parameter_and_broken_strings() -> None:
    masked = mask_conninfo("postgresql://app:one@db/prod?password=two&sslmode=require")
    assert "one" not in masked and "two" not in masked and "sslmode=require" in masked
    assert "S3" not in mask_conninfo("postgresql://app:S3%zz@db/prod")
    assert "S3" not in mask_conninfo("host=db password=S3 cr3t")
