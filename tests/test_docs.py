"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

import click

from pgarchitect.cli import cli
from pgarchitect.settings import SETTINGS

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [s.name for s in SETTINGS
               if f"`{s.name}`" not in README or s.env_vars[0] not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def _commands(group: click.Group, prefix: str = "pgarchitect") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix} {name}"))
    return names


def test_every_cli_command_is_documented() -> None:
    missing = [c for c in _commands(cli) if c not in README]
    assert not missing, f"commands missing from README.md: {missing}"
