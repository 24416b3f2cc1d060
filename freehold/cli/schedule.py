"""``freehold backup schedule``: install, show or remove the daily job
(``freehold.backup.schedule``); a command of the ``backup`` group (``freehold/cli/backup.py``).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from freehold.archive import home_dir
from freehold.backup import schedule as jobs
from freehold.cli._base import err, out, tell
from freehold.errors import FreeholdError

__all__ = ["schedule"]


def _time(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        hour, minute = value.strip().split(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r}: give the local time as HH:MM, e.g. 03:00") from error
    return f"{int(hour):02d}:{int(minute):02d}"


@click.command()
@click.option(
    "--at",
    default="03:00",
    show_default=True,
    callback=_time,
    metavar="HH:MM",
    help="Local time of day.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A private file (chmod 600) holding the backup passphrase, for the daily verify and "
    "the weekly drill. Its path goes in the job, never the passphrase.",
)
@click.option("--remove", is_flag=True, help="Take the daily job out.")
@click.option(
    "--print", "show", is_flag=True, help="Print what would be installed; change nothing."
)
def schedule(at: str, passphrase_file: Path | None, remove: bool, show: bool) -> None:
    """Run freehold every day, the platform's own way: a systemd user timer (Linux), a launchd
    agent (macOS), a Task Scheduler task (Windows), else a crontab line.

    Each day the job runs `freehold backup run`, a 5 % sampled `freehold backup verify`, a
    `freehold backup drill` once a week, and `freehold exits status`, for the data folder
    FREEHOLD_HOME names now, and logs them in its logs/daily.log. Installing again replaces
    the job. --remove takes it out, and takes none of the other options. See docs/backups.md.
    """
    if remove:
        _remove_alone()
    try:
        if remove:
            _remove()
        elif show:
            planned = jobs.planned(at=at, passphrase_file=passphrase_file)
            jobs.require_archive(home_dir())  # what install would refuse is refused here too
            _print(planned)
        else:
            _install(at, passphrase_file)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error


def _remove_alone() -> None:
    """``--remove`` with an option of an install (``--print`` promises to change nothing; a
    time or a passphrase file would be ignored) is a mistake said, not a guess."""
    ctx = click.get_current_context()
    for name, flag in (
        ("show", "--print"),
        ("at", "--at"),
        ("passphrase_file", "--passphrase-file"),
    ):
        if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
            raise click.UsageError(f"--remove takes the job out: give it without {flag}")


def _remove() -> None:
    if jobs.remove():
        out.print("Removed the daily job.")
    else:
        tell("No daily job was installed.")


def _install(at: str, passphrase_file: Path | None) -> None:
    before = jobs.installed()
    done = jobs.install(at=at, passphrase_file=passphrase_file)
    if before is not None and before.command != done.command:
        err.print(Text(f"Replaced the job that ran: {' '.join(before.command)}"), soft_wrap=True)
    if not done.active:
        err.print(Text(done.note or "Not installed.", style="bold yellow"), soft_wrap=True)
        _print(done)
        raise click.exceptions.Exit(1)
    where = ", ".join(done.where)
    out.print(Text(f"Installed the daily job ({done.kind}) at {done.at}: {where}"), soft_wrap=True)
    out.print(Text(f"It runs: {' '.join(done.command)}"), soft_wrap=True)
    if passphrase_file is None:
        err.print(
            "Without --passphrase-file the job backs up and checks the exit plan, but cannot "
            "verify or drill (they decrypt): give a private file holding the passphrase.",
            soft_wrap=True,
        )


def _print(planned: jobs.Schedule) -> None:
    for where, text in planned.files.items():
        out.print(Text(f"# {where}", style="bold"), soft_wrap=True)
        out.print(Text(text.rstrip("\n")), soft_wrap=True)
