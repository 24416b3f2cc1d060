"""The ``freehold`` command: thin click commands over the library, one module per group.

Each command parses flags, calls the archive or an importer/exporter, and prints with rich.
Library errors (``FreeholdError``) become one-line ``click.ClickException`` messages in the
commands and nowhere else. Every listing command has ``--json``. What the commands share lives
in ``_base``. A command's module is imported when the command is looked up (``COMMANDS``):
each command starts with only what it uses.
"""

from __future__ import annotations

import click

from freehold import __version__
from freehold.cli._base import Commands

__all__ = ["COMMANDS", "cli", "main"]

COMMANDS = {
    "import": "freehold.cli.history:import_command",
    "stats": "freehold.cli.history:stats",
    "search": "freehold.cli.history:search",
    "show": "freehold.cli.history:show",
    "export": "freehold.cli.history:export",
    "reparse": "freehold.cli.history:reparse",
    "serve": "freehold.cli.serve:serve",
    "models": "freehold.cli.models:models",
    "exits": "freehold.cli.exits:exits_group",
    "backup": "freehold.cli.backup:backup",
    "providers": "freehold.cli.providers:providers",
    "chat": "freehold.cli.chat:chat",
    "profile": "freehold.cli.profile:profile_group",
    "rehearse": "freehold.cli.rehearse:rehearse",
    "break-test": "freehold.cli.breaktest:break_test",
}


@click.group(cls=Commands, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="freehold")
def cli() -> None:
    """freehold: your AI history, on ground you own.

    The archive lives in one folder: FREEHOLD_HOME, or the platform's user data folder.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="freehold")


if __name__ == "__main__":
    main()
