"""What every command shares (``freehold/cli/_base.py``, ``cli/__init__.py``): the output's
encoding, the last net in ``Commands.invoke`` (Ctrl-C, a closed pipe), one-line messages,
questions without a terminal, blank options, and ``import --json`` (probe M)."""

from __future__ import annotations

import json
import os
import pty
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from freehold import faults, storage
from freehold.archive import home_dir
from freehold.cli import cli
from freehold.cli._base import Commands
from tests.builders import chatgpt_chats
from tests.test_storage import one_line_error

JAPANESE = "hello 日本語 world ▸ 😀"


def run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or None)


@pytest.fixture
def home(_isolated_home: Path, tmp_path: Path) -> Path:
    export = chatgpt_chats(tmp_path / "c.zip", {"c1": ("T 日本", [JAPANESE, "an answer"])}, 1.7e9)
    assert run("import", str(export)).exit_code == 0
    return _isolated_home


def _freehold(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "freehold", *args],
        capture_output=True,
        env={**os.environ, "FREEHOLD_HOME": str(home), **env},
        timeout=60,
        check=False,
    )


# -- the output's encoding (item 2) -------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [("search", "hello", "--json"), ("search", "hello"), ("show", "c1")], ids=str
)
def test_output_not_to_a_terminal_is_utf8_whatever_the_locale_says(
    home: Path, args: tuple[str, ...]
) -> None:
    """Windows gives a redirected stdout its ANSI code page (here: PYTHONIOENCODING)."""
    done = _freehold(home, *args, PYTHONIOENCODING="cp1252")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    text = done.stdout.decode("utf-8")
    assert "日本語" in text
    if "--json" in args:
        assert json.loads(text)[0]["snippet"].count("日本語") == 1


def test_json_on_a_terminal_that_is_not_utf8_is_ascii_and_the_same(home: Path) -> None:
    main, child = pty.openpty()
    env = {**os.environ, "FREEHOLD_HOME": str(home), "PYTHONIOENCODING": "cp1252"}
    command = [sys.executable, "-m", "freehold", "show", "c1", "--json"]
    with subprocess.Popen(command, stdout=child, stderr=subprocess.PIPE, env=env) as process:
        os.close(child)
        said = b""
        while chunk := _read(main):
            said += chunk
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    os.close(main)
    text = said.decode("ascii")  # nothing the terminal's code page could not show
    messages = json.loads(text)["messages"]
    assert any(m["text"] == JAPANESE for m in messages)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other end closed
        return b""


# -- the last net: Ctrl-C, a closed pipe (item 5, "also seen") -----------------------------------


def test_a_reader_that_closed_the_pipe_ends_the_command_quietly(home: Path) -> None:
    """`freehold search … | head -1`: head goes; freehold exits 141 (SIGPIPE's status)."""
    reading, writing = os.pipe()
    os.close(reading)  # nobody will read: the first write fails (EPIPE)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "freehold", "search", "hello"],
            stdout=writing,
            stderr=subprocess.PIPE,
            env={**os.environ, "FREEHOLD_HOME": str(home)},
            timeout=60,
            check=False,
        )
    finally:
        os.close(writing)
    assert done.returncode == 141
    assert done.stderr == b""


def test_a_reader_that_leaves_during_a_long_json_ends_the_command_with_141(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """Probe P item 3: ``show … --json | head -1`` with more JSON than a pipe holds. With
    Python's output unbuffered (``PYTHONUNBUFFERED``, as here) the whole document was one
    write, which the reader's leaving cut short with no error: exit 0, the JSON cut."""
    long = "word " * 40_000  # 200 KB, three times what a pipe holds
    export = chatgpt_chats(tmp_path / "c.zip", {"c1": ("Long", ["q", long])}, 1.7e9)
    assert run("import", str(export)).exit_code == 0
    reading, writing = os.pipe()
    command = [sys.executable, "-m", "freehold", "show", "c1", "--json"]
    env = {**os.environ, "FREEHOLD_HOME": str(_isolated_home), "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=writing, stderr=subprocess.PIPE, env=env) as process:
        os.close(writing)
        assert os.read(reading, 100)  # it is writing: the reader reads a line and goes
        os.close(reading)
        _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (141, b"")


def _as_on_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a suite run in the background ignores it


def test_ctrl_c_at_a_question_stops_with_130(_isolated_home: Path, tmp_path: Path) -> None:
    main, child = pty.openpty()
    env = {**os.environ, "FREEHOLD_HOME": str(_isolated_home)}
    env.pop("FREEHOLD_PASSPHRASE", None)
    command = [sys.executable, "-m", "freehold", "backup", "init", "--kit", str(tmp_path / "k")]
    with subprocess.Popen(
        command, stdin=child, stdout=child, stderr=child, env=env, preexec_fn=_as_on_a_terminal
    ) as process:
        os.close(child)
        said = b""
        while b"passphrase" not in said.lower():
            chunk = _read(main)
            assert chunk, said
            said += chunk
        process.send_signal(signal.SIGINT)
        while chunk := _read(main):
            said += chunk
        assert process.wait(timeout=60) == 130, said
    os.close(main)
    assert b"Error: stopped: SIGINT received" in said
    assert b"Aborted!" not in said and b"Traceback" not in said


def test_a_question_with_no_terminal_and_no_answer_is_a_no(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """`backup init` from a script: the kit is made, and not confirmed (no "Aborted!")."""
    kit = tmp_path / "kit.txt"
    result = run("backup", "init", "--kit", str(kit), FREEHOLD_PASSPHRASE="a passphrase 123")
    assert result.exit_code == 0, result.output
    assert "taken as no" in result.stderr and "off-site destinations wait" in result.stderr
    assert kit.is_file()


def test_a_key_asked_with_no_terminal_and_none_piped_says_what_to_do() -> None:
    result = run("providers", "add", "p", "--kind", "openai", "--key")
    error = one_line_error(result, "stdin is not a terminal", "--api-key-env")
    assert "Aborted" not in result.output, error


def test_the_kit_folder_is_checked_before_any_key_is_made(
    _isolated_home: Path, tmp_path: Path
) -> None:
    kit = tmp_path / "missing" / "kit.txt"
    result = run("backup", "init", "--kit", str(kit), FREEHOLD_PASSPHRASE="a passphrase 123")
    one_line_error(result, str(kit.parent), "give a --kit path")
    assert not _isolated_home.exists() or not any(_isolated_home.rglob("*"))


# -- one line, never wrapped; the path as given (item 6) -----------------------------------------


def test_import_errors_and_problems_are_one_line_each_at_80_columns(
    _isolated_home: Path, tmp_path: Path
) -> None:
    deep = tmp_path / ("a-folder-with-a-long-name-" * 3) / "conversations.json"
    deep.parent.mkdir()
    deep.write_text("[1")
    relative = os.path.relpath(deep)
    result = run("import", relative, COLUMNS="80")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and len(errors[0]) > 80, result.stderr
    assert errors[0].startswith(f"Error: {relative}:"), errors[0]


# -- import --json: one entry per path (item 4) --------------------------------------------------


def test_import_json_has_an_entry_for_every_path(_isolated_home: Path, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "conversations.json").write_text("{}")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "conversations.json").write_text("[1")
    good = chatgpt_chats(tmp_path / "c.zip", {"c1": ("T", ["hi", "hello"])}, 1.7e9)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")

    mixed = run("import", a, str(good), "--json")
    entries = json.loads(mixed.stdout)
    assert mixed.exit_code == 1
    assert [(e["path"], e["ok"]) for e in entries] == [(a, False), (str(good), True)]
    assert entries[0]["error"].startswith(a)

    both = json.loads(run("import", a, b, "--json").stdout)
    assert [(e["path"], e["ok"]) for e in both] == [(a, False), (b, False)]

    one = run("import", a, "--json")
    assert one.exit_code == 1
    assert json.loads(one.stdout) == {"path": a, "ok": False, "error": entries[0]["error"]}


# -- a pipe or a device (item 7) -----------------------------------------------------------------


def test_a_pipe_or_a_device_is_not_imported_and_says_why(
    _isolated_home: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "export.fifo"
    os.mkfifo(fifo)
    for path in (str(fifo), os.devnull):
        result = run("import", path)
        one_line_error(result, path, "not a regular file (a pipe or a device)", "save the export")


# -- blank options (items 8, 11) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("serve", "--host", ""),
        ("export", "--format", "json", "--out", "x", "--query", " "),
        ("export", "--format", "json", "--out", "x", "--model", ""),
        ("search", "hello", "--model", ""),
        ("search", "hello", "--embedder", "lexical"),
    ],
    ids=" ".join,
)
def test_an_empty_filter_or_address_is_a_usage_error(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)  # where an export would go, were it not refused
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output


# -- FREEHOLD_HOME (item 9) ----------------------------------------------------------------------


def test_freehold_home_is_expanded_and_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.setenv("FREEHOLD_HOME", "~/fh")
    assert home_dir() == tmp_path / "me" / "fh"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FREEHOLD_HOME", "data/../fh")
    assert home_dir() == tmp_path / "fh"


# -- profiles on Windows ("also seen") -----------------------------------------------------------


@pytest.mark.parametrize("name", ["CON", "nul", "Com1", "lpt9"])
def test_a_profile_name_windows_keeps_for_a_device_is_refused(home: Path, name: str) -> None:
    result = run("profile", "create", name)
    assert result.exit_code == 2 and "Windows keeps for a device" in result.output


# -- the last net: what no command turned into a line (item 1) ------------------------------------


def _sqlite_error(script: str) -> sqlite3.Error:
    """The error SQLite itself raises running ``script`` on a new in-memory database."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(script)
    except sqlite3.Error as error:
        return error
    finally:
        db.close()
    raise AssertionError(f"{script} ran")


_FULL = "PRAGMA max_page_count=1; CREATE TABLE t (a);"  # no page left: SQLITE_FULL
_TWICE = "CREATE TABLE t (a UNIQUE); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1);"


def _failing(error: BaseException) -> click.Group:
    """A group of freehold's own class with one command that fails with ``error``."""

    @click.group(cls=Commands)
    def group() -> None:
        pass

    @group.command()
    def fail() -> None:
        raise error

    return group


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (PermissionError(13, "Permission denied", "/x/y"), 1, "Error: /x/y: Permission denied"),
        (_sqlite_error(_FULL), 1, "Error: SQLite: database or disk is full — check the files"),
        (KeyboardInterrupt(), 130, "Error: stopped: SIGINT received"),
    ],
    ids=["OSError", "sqlite3.Error", "KeyboardInterrupt"],
)
def test_what_no_command_caught_is_one_line_not_a_traceback(
    error: BaseException, code: int, line: str
) -> None:
    result = CliRunner().invoke(_failing(error), ["fail"])
    assert result.exit_code == code, result.output
    assert result.stderr.splitlines()[0].startswith(line), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Aborted!" not in result.output


@pytest.mark.parametrize(
    "error",
    [_sqlite_error(_TWICE), _sqlite_error("SELECT * FROM nowhere"), sqlite3.ProgrammingError("x")],
    ids=["IntegrityError", "no such table", "ProgrammingError"],
)
def test_a_sqlite_error_that_is_freeholds_own_bug_says_so_and_keeps_its_traceback(
    _isolated_home: Path, error: sqlite3.Error
) -> None:
    """Review R3 #6: a constraint or SQL that cannot run told the person to "check the files
    in the data folder and the disk". It is freehold's bug: the line says so and names the
    file in the data folder's logs that holds its traceback."""
    result = CliRunner().invoke(_failing(error), ["fail"])
    line = one_line_error(result, "a freehold bug — please report it", str(error))
    assert "check the files" not in line
    kept = sorted((_isolated_home / "logs").glob("bug-*.txt"))
    assert len(kept) == 1 and str(kept[0]) in line
    assert "Traceback" in kept[0].read_text() and type(error).__name__ in kept[0].read_text()


def test_any_other_exception_is_a_bug_in_one_line_with_its_traceback_kept(
    _isolated_home: Path,
) -> None:
    """The last net turned only SQLite errors into a line: any other exception a command let
    through (a ``KeyError``, a ``TypeError``) came out as a Python traceback. It is freehold's
    bug, said as the web app says it: one line naming the file its traceback went to."""
    result = CliRunner().invoke(_failing(KeyError("conversation")), ["fail"])
    line = one_line_error(result, "a freehold bug — please report it", "KeyError: 'conversation'")
    kept = sorted((_isolated_home / "logs").glob("bug-*.txt"))
    assert len(kept) == 1 and str(kept[0]) in line and "Traceback" not in result.stderr
    assert "Traceback" in kept[0].read_text() and "KeyError" in kept[0].read_text()


def test_a_commands_own_exit_status_goes_through_the_net() -> None:
    """``click.exceptions.Exit`` is a ``RuntimeError``: the net must not take it for a bug."""
    result = CliRunner().invoke(_failing(click.exceptions.Exit(3)), ["fail"])
    assert result.exit_code == 3 and result.stderr == ""


def test_freehold_debug_puts_a_bugs_traceback_on_stderr(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FREEHOLD_DEBUG", "1")
    for error, name in ((_sqlite_error(_TWICE), "IntegrityError"), (TypeError("x"), "TypeError")):
        result = CliRunner().invoke(_failing(error), ["fail"])
        assert result.exit_code == 1 and "Traceback" in result.stderr
        assert f"Error: a freehold bug — please report it: {name}" in result.stderr
    assert not (_isolated_home / "logs").exists()


def _coded(code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(f"code {code}")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def test_sqlites_storage_codes_are_one_table(tmp_path: Path) -> None:
    """``faults`` wrote out SQLite's storage codes as numbers beside ``storage``'s and
    ``_sqlite``'s: now one table, in sqlite3's own names, that all three read. Every code the
    storage's line answers, or that a damaged file raises, is the storage's, never a bug."""
    assert {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB} == storage.DAMAGED
    assert storage.DAMAGED < storage.STORAGE_CODES
    told = {
        code for code in range(1, 30) if storage.sqlite_failure(_coded(code), tmp_path) is not None
    }
    assert told and told < storage.STORAGE_CODES
    for code in storage.STORAGE_CODES:
        assert not faults.is_bug(_coded(code)) and storage.sqlite_code(_coded(code)) == code
    assert faults.is_bug(_coded(sqlite3.SQLITE_ERROR))
