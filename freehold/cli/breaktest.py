"""``freehold break-test``: if a provider or a backup destination vanished tomorrow, what would
still work? (docs/break-test.md)

Thin over ``freehold.breaktest``. It says what the test will spend (tiny requests to the
providers, a restore from each destination) and asks first (``--yes`` does not: the weekly
job passes it), shows the steps on a terminal, prints the scorecard (``--json``: the result as
kept), keeps it as the last break test (the web app's Break test page shows it) and exits 1
when any check failed. A check that was skipped — a drill without the passphrase — is *not
proven*: the scorecard says so in yellow, and it is not a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from freehold import breaktest, progress
from freehold.archive import home_dir
from freehold.backup.crypto import PASSPHRASE_VARIABLE
from freehold.breaktest import FAIL, PASS, BreakTest, Check, Loss, Result, Tick
from freehold.cli._base import confirmed, err, json_option, out, print_json, tell
from freehold.config import load_config
from freehold.errors import FreeholdError

__all__ = ["break_test"]

_MARKS = {PASS: ("✓", "green"), FAIL: ("✗", "red")}
_LABELS = {"routes": "route", "profiles": "profile", "backups": "backup from", "exits": "exit plan"}


@click.command("break-test")
@click.option(
    "--provider",
    "providers",
    multiple=True,
    metavar="NAME",
    help="Only the loss of this provider (repeatable; default: every provider and destination).",
)
@click.option(
    "--destination",
    "destinations",
    multiple=True,
    metavar="NAME",
    help="Only the loss of this backup destination (repeatable).",
)
@json_option
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"The backup passphrase, for the drills (else ${PASSPHRASE_VARIABLE}; with neither, "
    "the drills are skipped and the backups are not proven).",
)
@click.option("--yes", is_flag=True, help="Do not ask before sending requests and restoring.")
def break_test(
    providers: tuple[str, ...],
    destinations: tuple[str, ...],
    as_json: bool,
    passphrase_file: Path | None,
    yes: bool,
) -> None:
    """If a provider or a backup destination vanished tomorrow, what would still work?

    For each provider and each backup destination, simulate its loss (the router refuses
    the provider; the destination is left out) and check that every route still answers
    through a fallback (a real tiny request), every profile can still be worn, the history
    is searchable and exportable offline, the backups restore from the remaining destinations
    (a drill from each), and no exit-plan export is overdue. Exits 1 when any check fails.
    """
    home = home_dir()
    try:
        test = BreakTest(
            home,
            load_config(home),
            providers=providers,
            destinations=destinations,
            passphrase=_passphrase(passphrase_file),
        )
        if not yes:
            _ask(test)
        with _steps(len(test.steps())) as tick:
            result = test.run(tick)
        kept = breaktest.save(home, result)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        print_json(result.to_json())
    else:
        _print(result)
        tell(f"kept as the last break test: {kept}")
    if not result.ok:
        raise SystemExit(1)


def _passphrase(path: Path | None) -> str | None:
    """From the file (its first line), else the environment; never asked: a scheduled run
    has nobody to ask, and the drills are then skipped, which the scorecard says."""
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise click.ClickException(f"{path}: cannot be read ({error})") from error
        return lines[0] if lines else ""
    return os.environ.get(PASSPHRASE_VARIABLE)


def _ask(test: BreakTest) -> None:
    requests, drills = test.requests(), test.drills()
    if not requests and not drills:
        return
    spend = []
    if requests:
        spend.append(f"send {progress.plural(requests, 'tiny request')} to your providers")
    if drills:
        spend.append(
            f"restore the latest backup of {progress.plural(drills, 'destination')} "
            "into a scratch folder"
        )
    if not confirmed(f"The break test will {' and '.join(spend)}. Go on?"):
        raise click.ClickException("not confirmed: nothing was sent or restored")


@contextmanager
def _steps(total: int) -> Iterator[Tick]:
    """A bar over the steps on a terminal (a drill of a big archive takes minutes)."""
    if not err.is_terminal or not total:
        yield lambda step: None
        return
    bar = Progress(
        TextColumn("break test", style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[step]}", markup=False),
        console=err,
        transient=True,
    )
    task = bar.add_task("break test", total=total, step="")
    taken = 0

    def tick(step: str) -> None:
        nonlocal taken
        bar.update(task, completed=taken, step=step)
        taken += 1

    with bar:
        yield tick


def _print(result: Result) -> None:
    for problem in result.problems:
        out.print(f"✗ {problem}", style="red", soft_wrap=True)
    for loss in result.losses:
        _print_loss(loss)
    if not result.ok:
        broken = sum(not loss.ok for loss in result.losses)
        losses = progress.plural(len(result.losses), "loss", "losses")
        verb = "breaks" if broken == 1 else "break"
        why = f" — {broken} of {losses} {verb} something" if broken else ""
        out.print(f"break test FAILED{why}", style="bold red")
    elif not result.proven:
        out.print("break test: nothing failed, but not everything was proven", style="yellow")
    else:
        out.print("break test passed: every loss leaves everything working", style="bold green")


def _print_loss(loss: Loss) -> None:
    style = "green" if loss.proven else "red" if not loss.ok else "yellow"
    out.print(loss.headline()[0].upper() + loss.headline()[1:], style=f"bold {style}")
    for check in loss.checks:
        mark, colour = _MARKS.get(check.status, ("?", "yellow"))
        out.print(f"  {mark} {_label(check)}: {check.reason}", style=colour, soft_wrap=True)
    for note in loss.notes:
        out.print(f"  ! {note}", style="yellow", soft_wrap=True)
    out.print("")


def _label(check: Check) -> str:
    if not check.subject:
        return "exit plan" if check.check == "exits" else check.check
    return f"{_LABELS.get(check.check, check.check)} {check.subject}"
