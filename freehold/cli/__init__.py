"""The ``freehold`` command: thin click commands over the library, one module per group.

Each command parses flags, calls the archive or an importer/exporter, and prints with rich.
Library errors (``FreeholdError``) become one-line ``click.ClickException`` messages in the
commands and nowhere else. Every listing command has ``--json``. What the commands share lives
in ``_base``.
"""

from __future__ import annotations

import click

from freehold import __version__
from freehold.cli import chat, exits, history, models, providers, schedule, serve
from freehold.cli._base import Commands

__all__ = ["cli", "main"]


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="freehold")
def cli() -> None:
    """freehold: your AI history, on ground you own.

    The archive lives in one folder: FREEHOLD_HOME, or the platform's user data folder.
    """


for command in (
    history.import_command,
    history.stats,
    history.search,
    history.show,
    history.export,
    serve.serve,
    models.models,
    exits.exits_group,
    schedule.backup_group,  # until freehold/cli/backup.py brings the whole group (see there)
    providers.providers,
    chat.chat,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="freehold")


if __name__ == "__main__":
    main()
