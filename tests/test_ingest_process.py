"""The two-process import (large exports) stores exactly what the in-process import stores,
and its reader process never outlives the import, however that ends."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold import ingest
from freehold.archive import open_archive
from freehold.cli import cli
from freehold.errors import BadExportError
from freehold.importers import chatgpt
from freehold.ingest import import_path

from . import failing_importer
from .importers.test_salvage import _export


def _rows(home: Path) -> tuple[dict[str, object], list[tuple[object, ...]]]:
    os.environ["FREEHOLD_HOME"] = str(home)
    with open_archive() as archive:
        rows = archive.db.execute(
            "SELECT conversation_id, source_message_id, parent_id, role, parts, text, "
            "on_visible_path FROM messages ORDER BY id"
        ).fetchall()
        return archive.stats(), rows


def test_reader_process_matches_in_process(tmp_path: Path) -> None:
    export = _export(tmp_path / "export.zip", 120)
    reports = []
    for name, flag in (("inline", False), ("process", True)):
        os.environ["FREEHOLD_HOME"] = str(tmp_path / name)
        with open_archive() as archive:
            reports.append(import_path(archive, export, reader_process=flag).to_json())
    for report in reports:
        report.pop("source_id")
    assert reports[0] == reports[1]
    assert reports[0]["conversations"]["new"] == 120
    assert _rows(tmp_path / "inline") == _rows(tmp_path / "process")


def test_reader_process_errors_reach_the_caller(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    with pytest.raises(RuntimeError, match="the export fell apart"):
        list(ingest._from_process(failing_importer, tmp_path / "anything", blobs))


def test_reader_process_passes_freehold_errors_through(tmp_path: Path) -> None:
    with pytest.raises(BadExportError, match="no such file"):
        list(ingest._from_process(chatgpt, tmp_path / "missing.zip", tmp_path / "blobs"))


def test_a_tally_crosses_the_pipe_with_its_counts() -> None:
    tally = ingest._Tally(messages=3, context_records=1)
    tally.content_types.update({"text": 2, "code": 1})
    tally.not_understood["weird"] += 1
    tally.problems.append(ingest.Problem("file-1", "attachment unreadable: cut"))
    back = pickle.loads(pickle.dumps(tally, protocol=pickle.HIGHEST_PROTOCOL))
    assert back.messages == 3 and back.context_records == 1
    assert dict(back.content_types) == {"text": 2, "code": 1}
    assert dict(back.not_understood) == {"weird": 1}
    assert back.problems == tally.problems


def test_a_reader_process_closed_before_its_first_item_is_stopped(tmp_path: Path) -> None:
    """The process starts as soon as it is asked for (the export is hashed meanwhile): an
    import that stops before reading anything must not leave it running."""
    export = _export(tmp_path / "export.zip", 3)
    items = ingest._from_process(chatgpt, export, tmp_path / "blobs")
    items.close()
    assert multiprocessing.active_children() == []


def test_conversations_sealed_by_the_writer_are_stored_as_sealed_ones(tmp_path: Path) -> None:
    """The reader leaves hashing, compressing and the digest to the writer when it is the
    slower side; what is stored does not depend on who sealed what."""
    export = _export(tmp_path / "export.zip", 6)
    stored = []
    for name, seal in (("reader", True), ("writer", False)):
        os.environ["FREEHOLD_HOME"] = str(tmp_path / name)
        with open_archive() as archive:
            source = archive.begin_source("chatgpt", "export.zip", None, None, "chatgpt/1")
            with archive.transaction():
                for item in ingest._items(chatgpt, export, archive.blobs, seal=lambda s=seal: s):
                    if isinstance(item, tuple):
                        assert bool(item[0].raw_sha) == seal
                        archive.add_conversation(item[0], source)
            stored.append(
                archive.db.execute(
                    "SELECT c.digest, r.sha256, r.data FROM conversations c "
                    "JOIN conversation_raw r ON r.conversation_id = c.id ORDER BY c.rowid"
                ).fetchall()
            )
        stored[-1].append(_rows(tmp_path / name))
    assert stored[0] == stored[1] and len(stored[0]) == 7


@pytest.mark.skipif(sys.platform != "linux", reason="the reader is forked on Linux only")
def test_the_reader_is_forked_alone_and_spawned_beside_another_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Alone: as the CLI is when it starts the reader (a test run may hold other threads).
    monkeypatch.setattr(ingest.threading, "active_count", lambda: 1)
    assert ingest._start_method() == "fork"
    monkeypatch.undo()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert ingest._start_method() == "spawn"
    finally:
        stop.set()
        other.join()


def test_a_forked_reader_stores_what_a_spawned_one_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path / "export.zip", 40)
    for method in ("fork", "spawn") if sys.platform == "linux" else ("spawn",):
        monkeypatch.setattr(ingest, "_start_method", lambda m=method: m)
        os.environ["FREEHOLD_HOME"] = str(tmp_path / method)
        with open_archive() as archive:
            report = import_path(archive, export, reader_process=True)
        assert report.conversations["new"] == 40
    if sys.platform == "linux":
        assert _rows(tmp_path / "fork") == _rows(tmp_path / "spawn")


# -- an import that is stopped ---------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads processes from /proc")
# Signals that stop a command (SIGTERM, SIGHUP) and the one that cannot be handled (SIGKILL).
STOPPING = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGKILL") if hasattr(signal, n)]
HANDLED = [number for number in STOPPING if number.name != "SIGKILL"]


def _until(check: Callable[[], object], what: str, seconds: float = 60) -> None:
    """Wait for ``check`` to hold, looking every 10 ms, up to a deadline."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {seconds} s for {what}")
        time.sleep(0.01)


def _processes() -> dict[int, tuple[str, int]]:
    """Every live process: its state letter and its parent (zombies are ended: left out)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:  # it ended while we looked
                continue
            if fields[0] != "Z":
                found[int(entry.name)] = (fields[0], int(fields[1]))
    return found


def _status(home: Path) -> str | None:
    try:
        with sqlite3.connect(home / "archive.sqlite", timeout=30) as db:
            row = db.execute("SELECT status FROM sources").fetchone()
    except sqlite3.OperationalError:  # not there yet, or still being made
        return None
    return row[0] if row else None


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export read by a reader process: over ``_PROCESS_THRESHOLD`` once unzipped."""
    out = tmp_path_factory.mktemp("big") / "export.zip"
    generator = REPO / "benchmarks" / "genexport.py"
    command = [sys.executable, str(generator), str(out), "--size", "24MB", "--seed", "4"]
    subprocess.run(command, check=True, capture_output=True)
    return out


@linux_only
@pytest.mark.parametrize("number", [*STOPPING, signal.SIGINT], ids=lambda n: n.name)
def test_a_stopped_import_leaves_no_reader_and_says_how_it_ended(
    tmp_path: Path, big_export: Path, number: signal.Signals
) -> None:
    """SIGTERM and SIGHUP end an import as Ctrl-C does: its source ``failed`` with the report
    so far, exit 128 + the signal's number (130 for Ctrl-C: probe M, item 5, was 1). Nothing
    at all runs after SIGKILL, so its source stays ``running``; but its reader process ends
    too, instead of parsing on as an orphan."""
    home, said = tmp_path / "home", tmp_path / "stderr"
    env = {**os.environ, "FREEHOLD_HOME": str(home)}
    command = [sys.executable, "-m", "freehold", "import", str(big_export)]
    with said.open("wb") as stderr:
        run = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal
        )
    readers: list[int] = []
    try:
        _until(lambda: _status(home) == "running", "the import to start writing")
        readers += [pid for pid, (_, parent) in _processes().items() if parent == run.pid]
        assert readers, "the export is read in a second process"
        # Frozen where it is, the import can neither finish first nor move on meanwhile.
        os.kill(run.pid, signal.SIGSTOP)
        _until(lambda: _processes()[run.pid][0] == "T", "the import to stop")
        assert _status(home) == "running", "the export is too small to catch the import"
        os.kill(run.pid, number)
        os.kill(run.pid, signal.SIGCONT)
        run.wait(timeout=60)
        if number == signal.SIGKILL:
            assert run.returncode == -signal.SIGKILL and _status(home) == "running"
        else:
            assert run.returncode == 128 + number
            last = said.read_text().splitlines()[-1]
            assert last == f"Error: stopped: {number.name} received"
            with open_archive(home) as archive:
                (row,) = archive.db.execute("SELECT status, report FROM sources").fetchall()
            assert row[0] == "failed"
            assert f"the import stopped: {number.name} received" in row[1]
        _until(lambda: not set(readers) & set(_processes()), "the reader process to end", 30)
    finally:  # nothing this test started runs on, whatever failed
        run.kill()
        run.wait()
        for pid in set(readers) & set(_processes()):
            os.kill(pid, signal.SIGKILL)


def test_the_import_command_puts_back_the_signal_handlers_it_found(tmp_path: Path) -> None:
    def mine(number: int, frame: object) -> None:
        raise AssertionError("not called")

    before = {number: signal.signal(number, mine) for number in HANDLED}
    try:
        result = CliRunner().invoke(cli, ["import", str(_export(tmp_path / "export.zip", 3))])
        assert result.exit_code == 0, result.output
        assert all(signal.getsignal(number) is mine for number in HANDLED)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


_KILLED_WHILE_READING = """
import os, signal, sys
from pathlib import Path
from freehold import ingest
from tests import stuck_importer
reader = ingest._from_process(stuck_importer, Path(sys.argv[1]), Path(sys.argv[2]))
next(reader)  # the reader has started; it now waits in the importer, sending nothing
print(reader.process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@linux_only
def test_a_reader_that_sends_nothing_ends_with_its_parent(tmp_path: Path) -> None:
    """A reader busy elsewhere than in a send (a long parse, a stuck read) never sees EPIPE:
    the kernel ends it with its parent (``PR_SET_PDEATHSIG``), SIGKILL included."""
    said = tmp_path / "stdout"
    with said.open("wb") as stdout:  # the reader holds a copy: no pipe to wait on
        command = [sys.executable, "-c", _KILLED_WHILE_READING, "any", str(tmp_path / "blobs")]
        run = subprocess.run(command, cwd=REPO, stdout=stdout, check=False, timeout=60)
    assert run.returncode == -signal.SIGKILL
    reader = int(said.read_text())
    try:
        _until(lambda: reader not in _processes(), "the reader process to end", 30)
    finally:
        if reader in _processes():
            os.kill(reader, signal.SIGKILL)


def test_a_forked_reader_ends_once_the_writer_stops_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child must not hold the reading end itself: its sends then fail (EPIPE) once the
    writer's end is closed, and it ends by itself instead of waiting forever on a full pipe."""
    if sys.platform != "linux":
        pytest.skip("the reader is forked on Linux only")
    monkeypatch.setattr(ingest, "_start_method", lambda: "fork")
    export = _export(tmp_path / "export.zip", 120)  # more than a pipe holds
    reader = ingest._from_process(chatgpt, export, tmp_path / "blobs")
    reader.receiver.close()
    reader.process.join(timeout=30)
    ended = not reader.process.is_alive()
    reader.close()
    assert ended and reader.process.exitcode == 0
