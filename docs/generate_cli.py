"""Write docs/cli.md from the commands' own ``--help`` (tests check it is up to date).

Run: ``python docs/generate_cli.py`` after changing a command.
"""

from __future__ import annotations

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
    for name in sorted(cli.commands):
        sections += [f"## freehold {name}\n", _help(runner, [name])]
        group = cli.commands[name]
        if isinstance(group, click.Group):  # a command group: each of its commands too
            for sub in sorted(group.commands):
                sections += [f"### freehold {name} {sub}\n", _help(runner, [name, sub])]
    return "\n".join(sections)


def _help(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(cli, [*args, "--help"], prog_name="freehold", terminal_width=100)
    return f"```\n{result.output.rstrip()}\n```\n"


if __name__ == "__main__":
    Path(__file__).with_name("cli.md").write_text(render(), encoding="utf-8")
