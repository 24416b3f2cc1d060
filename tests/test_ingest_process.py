"""The two-process import (large exports) stores exactly what the in-process import stores."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
from pathlib import Path

import pytest

from freehold import ingest
from freehold.archive import open_archive
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
