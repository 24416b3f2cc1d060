"""The two-process import (large exports) stores exactly what the in-process import stores."""

from __future__ import annotations

import os
import pickle
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
