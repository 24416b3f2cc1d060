"""A command starts with only what it uses: ``freehold import`` runs without loading the chat,
provider or exit-plan code (their SDKs, keyring, Markdown), and every command is still listed
and runs. Each check runs in a fresh interpreter, since the tests' own has loaded everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from freehold.cli import COMMANDS, cli

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"

# Runs the CLI as ``freehold ARGS`` does, then prints the names of the loaded modules.
_LOADED = """
import json, sys
from freehold.cli import cli
code = cli.main(sys.argv[1:], prog_name="freehold", standalone_mode=False)
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_import_loads_none_of_the_other_commands_code() -> None:
    loaded = _loaded("import", str(SAMPLE), "--json")
    assert {"freehold.cli.history", "freehold.ingest", "freehold.archive"} <= loaded
    for name in (
        "freehold.cli.chat",
        "freehold.cli.providers",
        "freehold.cli.exits",
        "freehold.cli.models",
        "freehold.chat",
        "freehold.exits",
        "freehold.config",
        "freehold.providers.base",
        "keyring",
        "rich.markdown",
        "markdown_it",
    ):
        assert name not in loaded, name


def test_every_command_is_listed_and_found() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    listing = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert f"  {name} " in listing, name


def test_an_unknown_command_is_refused() -> None:
    result = CliRunner().invoke(cli, ["imprt"])
    assert result.exit_code == 2
    assert "No such command 'imprt'" in result.output


@pytest.mark.parametrize("name", ["chat", "exits"])
def test_a_command_loads_its_own_module_when_it_runs(name: str) -> None:
    assert f"freehold.cli.{name}" in _loaded(name, "--help")
