"""Write docs/cli.md from the commands' own ``--help`` (tests check it is up to date).

Run: ``python docs/generate_cli.py`` after changing a command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from freehold.cli import cli

HEADER = """# CLI reference

Generated from `--help` by `python docs/generate_cli.py`; a test fails when it is out of date.
"""


def render() -> str:
    runner = CliRunner()
    sections = [HEADER, "## freehold\n", _help(runner, [])]
    assert isinstance(cli, click.Group)
    for path in _commands(cli, []):
        level = "#" * (len(path) + 1)  # a group's commands one level below the group
        sections += [f"{level} freehold {' '.join(path)}\n", _help(runner, path)]
    return "\n".join(sections)


def _commands(group: click.Group, prefix: list[str]) -> Iterator[list[str]]:
    """Every command's words, a group's subcommands right after the group."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # loads a lazy group's commands (freehold.cli)
        yield [*prefix, name]
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, [*prefix, name])


def _help(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(cli, [*args, "--help"], prog_name="freehold", terminal_width=100)
    return f"```\n{result.output.rstrip()}\n```\n"


if __name__ == "__main__":
    Path(__file__).with_name("cli.md").write_text(render(), encoding="utf-8")
