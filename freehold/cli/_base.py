"""What every ``freehold`` command shares: the consoles, ``--json``, selection options, the
archive for one command, and the group class that makes library errors visible.

Whatever comes from an export is printed through ``render.visible`` (see ``freehold.render``):
rich output by the ``render.Terminal`` consoles, error messages by ``Commands``, JSON by
``print_json``, so no escape sequence in an export ever reaches the terminal.

A command that must not be cut off mid-write (``import``) runs ``stopped_by_signals``: SIGTERM
and SIGHUP then stop it as Ctrl-C does, by an exception raised where it is, so everything on the
way unwinds as for an error (the import marks its source ``failed`` and stops its reader).

``Commands.invoke`` is the last net, for every command: a ``FreeholdError`` a command let
through, an ``OSError`` or SQLite error nothing turned into one (a one-line error, never a
traceback), and any other exception: freehold's own bug (``faults.is_bug``: a constraint, SQL
that does not run, a ``KeyError``…), one line that says so and names the file its traceback
went to (``FREEHOLD_DEBUG=1``: on stderr), exit 1; Ctrl-C (``Error: stopped: SIGINT
received``, exit 130, as a signal stops ``import``), and a reader that closed the pipe
(``| head``: exit 141 quietly, the status of a process that SIGPIPE ended). Lines on stderr
go through ``tell``: one line each, never hard-wrapped at the terminal's width (a path or an
error is found whole by copying or ``grep``). Questions go through ``confirmed`` and
``ask_secret``, which never wait on a stdin that is not a terminal and has nothing to say.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from freehold import faults, filters, render
from freehold.archive import Archive, home_dir, open_archive
from freehold.errors import FreeholdError

__all__ = [
    "Commands",
    "Stopped",
    "archive_session",
    "ask_secret",
    "check_period",
    "checked",
    "confirmed",
    "err",
    "is_utf8",
    "json_option",
    "model_option",
    "not_blank",
    "out",
    "period_options",
    "print_json",
    "print_problems",
    "registered",
    "source_option",
    "stopped_by_signals",
    "tell",
]

F = TypeVar("F", bound=Callable[..., Any])
out = render.Terminal()
err = render.Terminal(stderr=True)


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        function
    )


def registered(noun: str, names: Callable[[], Iterable[str]]) -> Callable[..., Any]:
    """A click callback taking a registered name (an importer's kind, an exporter's format) in
    any case, and refusing any other with the choices."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        known = sorted(names())
        if value.lower() not in known:
            raise click.BadParameter(f"unknown {noun} {value!r}; choose one of: {', '.join(known)}")
        return value.lower()

    return check


def not_blank(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback refusing an empty (or all-space) value: given, a filter or an address
    must say something (an empty one matched everything, or listened on every address)."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty — give a value, or leave the option out")
    return value


def checked(check: Callable[[str], str]) -> Callable[..., Any]:
    """A click callback from one of ``freehold.filters``' checks (the web app's too): its
    ``FreeholdError`` is the option's usage error, the same line the web page shows."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check(value)
        except FreeholdError as error:
            raise click.BadParameter(str(error)) from error

    return callback


def source_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--source",
        callback=checked(filters.check_source),
        help=f"{help_text} (chatgpt, claude, gemini, …).",
    )


def model_option(help_text: str) -> Callable[[F], F]:
    """``--model``: an exact model name, or a prefix with ``*``; never empty."""
    return click.option("--model", callback=not_blank, help=help_text)


def period_options(what: str) -> Callable[[F], F]:
    """``--since`` and ``--until`` (inclusive) over ``what``'s dates."""
    formats = "YYYY, YYYY-MM, YYYY-MM-DD or an ISO time"
    date = checked(filters.check_date)  # refused before the archive is opened
    since = click.option("--since", callback=date, help=f"Only {what} from this date: {formats}.")
    until = click.option(
        "--until", callback=date, help=f"Only {what} up to this date, inclusive: {formats}."
    )
    return lambda function: since(until(function))


def check_period(since: str | None, until: str | None) -> None:
    try:
        filters.check_period(since, until)
    except FreeholdError as error:
        raise click.UsageError(str(error)) from error


def print_json(value: Any) -> None:
    """``value`` as JSON on stdout. Where stdout cannot hold every character (a terminal in
    another code page than UTF-8: ``main``), each other one is its ``\\uXXXX`` escape: the
    same JSON, in ASCII.

    Written in pieces a pipe takes whole or refuses (``_PIECE``), so a reader that leaves
    (``| head``) makes a write fail with EPIPE, which ``Commands.invoke`` ends with 141. One
    write of the whole document could be cut short instead, and with Python's output
    unbuffered (``PYTHONUNBUFFERED``, ``-u``) the text layer drops what a short write left,
    with no error: exit 0, the JSON cut."""
    dumped = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    text = render.json_text(dumped)
    if not is_utf8(sys.stdout):
        text = _NON_ASCII.sub(_json_escape, text)
    for start in range(0, len(text), _PIECE):
        click.echo(text[start : start + _PIECE], nl=False)
    click.echo()


# Characters: at most 4 KiB in UTF-8, PIPE_BUF on Linux, the most a pipe writes whole or not
# at all (POSIX); each piece is one write to an unbuffered stdout.
_PIECE = 1024


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _json_escape(match: re.Match[str]) -> str:
    """One character as JSON escapes: one, or a surrogate pair beyond the first plane."""
    units = match.group().encode("utf-16-be")
    return "".join(f"\\u{units[i] << 8 | units[i + 1]:04x}" for i in range(0, len(units), 2))


def is_utf8(stream: Any) -> bool:
    encoding = str(getattr(stream, "encoding", None) or "utf-8")
    return encoding.lower().replace("-", "").replace("_", "") == "utf8"


def print_problems(report: dict[str, Any]) -> None:
    """An import report's problems on stderr, the first 50 (all of them with --json)."""
    for problem in report["problems"][:50]:
        style = "red" if problem["lost"] else "yellow"
        line = f"{'lost' if problem['lost'] else 'note'}: {problem['where']}: {problem['what']}"
        tell(line, style=style)
    if report["problem_count"] > 50:
        tell(f"… {report['problem_count'] - 50} more: use --json for the full list")


def tell(text: str, *, style: str = "") -> None:
    """One line on stderr, made visible (``render.visible``), never wrapped: the one way a
    message, a note or an error is printed on its own line."""
    err.print(render.visible(text), style=style, soft_wrap=True)


def confirmed(question: str) -> bool:
    """A yes/no question on stderr. A stdin that is not a terminal and ends before an answer
    (a pipe, /dev/null, a scheduled job) answers no, said so: it never stops the command."""
    try:
        return click.confirm(question, err=True)
    except click.Abort:
        if sys.stdin.isatty():
            raise  # Ctrl-C at the question: stopped (``Commands.invoke``)
        tell("no answer (stdin is not a terminal and ended): taken as no")
        return False


def ask_secret(question: str, instead: str) -> str:
    """A secret: asked without echo on a terminal; otherwise the first line of stdin (piped
    in, nothing asked). None there is refused, saying what to do ``instead``."""
    if sys.stdin.isatty():
        return str(click.prompt(question, hide_input=True, err=True)).strip()
    line = sys.stdin.readline().strip()
    if not line:
        raise click.ClickException(
            f"no answer to {question!r}: stdin is not a terminal and gave none — pipe it in, "
            f"run in a terminal, or {instead}"
        )
    return line


class Stopped(BaseException):
    """A signal asked the command to stop (``stopped_by_signals``). Not an ``Exception``, as
    KeyboardInterrupt is not: nothing that handles an error may take it for one and go on."""

    def __init__(self, number: int) -> None:
        super().__init__(f"{signal.Signals(number).name} received")
        self.number = number


_STOPPING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``Stopped`` in the command; it exits with 128 + the signal's
    number, the status a shell shows for a process the signal killed. A second signal while
    the first unwinds is ignored, so the cleanup is not cut short (SIGKILL still ends it).
    The handlers in place before are put back; off the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: object) -> None:
        for each in _STOPPING:
            signal.signal(each, signal.SIG_IGN)
        raise Stopped(number)

    before = {number: signal.signal(number, stop) for number in _STOPPING}
    try:
        yield
    except Stopped as stopped:
        raise _stopped(stopped.number) from None
    finally:
        for number, handler in before.items():
            if handler is not None:  # None: set outside Python, which cannot be put back
                signal.signal(number, handler)


def _stopped(number: int) -> click.exceptions.Exit:
    """Said on stderr (unless the terminal hung up); exit 128 + the signal's number."""
    with suppress(OSError):  # a hung-up terminal cannot be told
        tell(f"Error: stopped: {signal.Signals(number).name} received")
    return click.exceptions.Exit(128 + number)


@contextmanager
def archive_session(*, create: bool = False) -> Iterator[Archive]:
    """The archive, for one command. Only ``import`` creates one (``create``): any other
    command on a data folder without an archive says where it looked and creates nothing,
    and an import that stored nothing takes back what creating the archive made."""
    try:
        archive = open_archive(notice=tell, create=create)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield archive
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    finally:
        archive.discard_if_empty()  # closes it; removes only an archive made just now


class Commands(click.Group):
    """The command group: a library error's message is made visible before click prints it,
    and any ``FreeholdError`` a command did not catch itself (``freehold.storage``'s one line
    for a busy, full or read-only disk, met wherever the command was) is printed the same way.

    Those are plain ``ClickException``s (they may quote an export); click's own usage errors
    quote values with ``repr``, which escapes control characters already.

    ``lazy`` names commands by ``"module:attribute"``: a command's module is imported only
    when that command is looked up (it runs, or ``--help`` lists it), so ``freehold import``
    does not load the chat, provider or exit-plan code, their SDKs, keyring or Markdown.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FreeholdError as error:  # one a command let through (a storage failure, …)
            raise click.ClickException(render.visible(str(error))) from error
        except click.ClickException as error:
            if type(error) is not click.ClickException:
                raise
            raise click.ClickException(render.visible(error.message)) from error.__cause__
        except click.Abort as error:  # a question: Ctrl-C there, or a stdin that ended
            if not sys.stdin.isatty():
                raise click.ClickException(_NO_ANSWER) from error
            raise _stopped(signal.SIGINT) from None
        except KeyboardInterrupt:
            raise _stopped(signal.SIGINT) from None
        except OSError as error:
            if error.errno == errno.EPIPE:
                raise _closed_pipe() from None
            raise click.ClickException(render.visible(_os_line(error))) from error
        except sqlite3.Error as error:
            line = str(faults.reported(error, _bug_home())) if faults.is_bug(error) else None
            raise click.ClickException(render.visible(line or _sqlite_line(error))) from error
        except click.exceptions.Exit:  # a command's own status (a RuntimeError, not a bug)
            raise
        except Exception as error:  # anything else is freehold's bug (faults.is_bug)
            bug = str(faults.reported(error, _bug_home()))
            raise click.ClickException(render.visible(bug)) from error


_NO_ANSWER = (
    "no answer: stdin is not a terminal and ended before a question was answered — run it "
    "in a terminal, or give the answer as an option (see --help)"
)
_SIGPIPE = 13


def _closed_pipe() -> click.exceptions.Exit:
    """The reader of stdout went (``| head``): nothing more can be said there, and nothing
    is wrong; what is still buffered goes to the null device (the way Python's documentation
    gives), so the flush at exit fails nowhere, and the exit is SIGPIPE's."""
    with suppress(OSError, ValueError):  # no file descriptor (a test's stdout): nothing to do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return click.exceptions.Exit(128 + _SIGPIPE)


def _bug_home() -> Path | None:
    """The data folder a bug's traceback is kept in, None when it cannot be named."""
    try:
        return home_dir()
    except FreeholdError:
        return None


def _os_line(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename is not None else ""
    return f"{where}{error.strerror or error} — check it, its folder and the disk, then run again"


def _sqlite_line(error: sqlite3.Error) -> str:
    return f"SQLite: {error} — check the files in the data folder and the disk, then run again"
