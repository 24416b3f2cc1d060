"""The ``freehold`` command: thin click commands over the library, one module per group.

Each command parses flags, calls the archive or an importer/exporter, and prints with rich.
Library errors (``FreeholdError``) become one-line ``click.ClickException`` messages in the
commands and nowhere else. Every listing command has ``--json``. What the commands share lives
in ``_base``. A command's module is imported when the command is looked up (``COMMANDS``):
each command starts with only what it uses.

Output is UTF-8 wherever it is not a terminal (a file, a pipe: ``main``), whatever the locale
or ``PYTHONIOENCODING`` says (Windows gives a redirected stdout its ANSI code page): a title
in Japanese or a ``▸`` then never stops a command half-way, and JSON is what RFC 8259 asks.
A terminal keeps its encoding; what it cannot show is printed as an escape (``\u65e5``),
and JSON there is ASCII (``print_json``).
"""

from __future__ import annotations

import io
import sys

import click

from freehold import __version__
from freehold.cli._base import Commands, is_utf8

__all__ = ["COMMANDS", "cli", "main"]

COMMANDS = {
    "import": "freehold.cli.history:import_command",
    "stats": "freehold.cli.history:stats",
    "conversations": "freehold.cli.history:conversations",
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

    Exit status: 0 done, 1 an error (one line on stderr), 2 a usage error, 130 stopped by
    Ctrl-C (143 SIGTERM, 129 SIGHUP), 141 when the reader of the output went (| head).
    """


def main() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        _encode_all(stream)
    cli(prog_name="freehold")


def _encode_all(stream: object) -> None:
    """``stream`` able to print any character: UTF-8 when it is not a terminal, escapes for
    what a terminal's encoding lacks."""
    if not isinstance(stream, io.TextIOWrapper) or is_utf8(stream):
        return
    if stream.isatty():
        stream.reconfigure(errors="backslashreplace")
    else:
        stream.reconfigure(encoding="utf-8")


if __name__ == "__main__":
    main()
