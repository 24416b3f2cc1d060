"""A re-import by a newer importer re-reads what an older one stored from the same raw JSON.

The archive keeps which importer version made each conversation (``conversations
.parser_version``, m011). The probe's case (probe J2): an Open WebUI conversation stored
before a fix of its importer kept the old text after every re-import, because the same raw
JSON was "unchanged". Simulated here by setting what an older importer left: the old text, an
older version (or none: stored before versions were kept) and the digest it had.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from freehold.archive import Archive, newer_parser, open_archive
from freehold.exporters import json as json_export
from freehold.importers import openwebui
from freehold.ingest import import_path
from freehold.models import Message
from freehold.render import import_report
from tests.builders import chatgpt_chats, write_zip
from tests.test_local_turns import _turn

EXPORT = "librechat-import-data/openwebui-export.json"
FIXED = "255\n\nLet me break this down..."  # ra2's text since 07edb15; "255" before it


def _stored_by_an_older_importer(archive: Archive, version: str | None) -> str:
    """Make the reasoning chat what the Open WebUI importer before 07edb15 stored; its id."""
    archive.db.execute(
        "UPDATE messages SET text = '255', parts = NULL WHERE source_message_id = 'ra2'"
    )
    cid = archive.db.execute(
        "SELECT conversation_id FROM messages WHERE source_message_id = 'ra2'"
    ).fetchone()[0]
    archive.db.execute("UPDATE conversations SET parser_version = ?", (version,))
    archive.db.execute("UPDATE conversations SET digest = 'older' WHERE id = ?", (cid,))
    return str(cid)


def _text(archive: Archive, source_message_id: str) -> str:
    row = archive.db.execute(
        "SELECT text FROM messages WHERE source_message_id = ?", (source_message_id,)
    ).fetchone()
    return str(row[0])


_OLDER = "stored by an older importer version"
_NONE = "stored with no importer version"


@pytest.mark.parametrize(
    ("version", "unversioned", "said"),
    [
        (None, 3, f"(3 {_NONE}"),
        ("openwebui/1", 0, f"(3 {_OLDER})"),
        ("mixed", 1, f"(2 {_OLDER}, 1 {_NONE}"),
    ],
    ids=["before-versions", "older", "mixed"],
)
def test_a_conversation_an_older_importer_stored_is_read_again(
    archive: Archive, real: Path, version: str | None, unversioned: int, said: str
) -> None:
    """The caption says which: an older version stored it, or none was recorded (stored
    before versions were kept, or brought by a freehold export); it said "older" of both."""
    export = real / EXPORT
    import_path(archive, export, reader_process=False)
    cid = _stored_by_an_older_importer(archive, None if version is None else "openwebui/1")
    if version == "mixed":
        archive.db.execute("UPDATE conversations SET parser_version = NULL WHERE id = ?", (cid,))
    assert not archive.search("break this down")
    report = import_path(archive, export, reader_process=False)
    counts = report.to_json()["conversations"]
    assert counts == {
        "read": 3,
        "new": 0,
        "updated": 1,
        "unchanged": 2,
        "skipped": 0,
        "reread": 3,
        "reread_unversioned": unversioned,
    }
    assert report.ok and _text(archive, "ra2") == FIXED
    assert [hit.conversation_id for hit in archive.search("break this down")]
    versions = {row[0] for row in archive.db.execute("SELECT parser_version FROM conversations")}
    assert versions == {openwebui.PARSER_VERSION}
    caption = str(import_report(report.to_json()).caption)
    assert "re-read by a newer importer: 3 " + said in caption
    assert (_OLDER in caption) == (unversioned < 3) and (_NONE in caption) == (unversioned > 0)
    # Read again by the same version: unchanged, and not one message row written.
    written: list[str] = []
    archive.db.set_trace_callback(written.append)
    again = import_path(archive, export, reader_process=False)
    archive.db.set_trace_callback(None)
    assert again.conversations["unchanged"] == 3 and again.conversations["reread"] == 0
    assert not [sql for sql in written if "INTO messages" in sql or "UPDATE messages" in sql]
    assert "re-read" not in str(import_report(again.to_json()).caption)


@pytest.mark.parametrize("version", ["openwebui/99", "freehold/99", "openwebui/beta"])
def test_a_newer_or_another_importers_conversation_is_left_as_it_is(
    archive: Archive, real: Path, version: str
) -> None:
    """A downgrade never re-reads with an older importer; nor does another importer's
    version (a freehold export of it) or one that cannot be ordered."""
    export = real / EXPORT
    import_path(archive, export, reader_process=False)
    _stored_by_an_older_importer(archive, version)
    report = import_path(archive, export, reader_process=False)
    assert report.conversations["unchanged"] == 3 and report.conversations["reread"] == 0
    assert _text(archive, "ra2") == "255"


def test_a_reread_keeps_the_turns_written_here(archive: Archive, real: Path) -> None:
    export = real / EXPORT
    import_path(archive, export, reader_process=False)
    cid = _stored_by_an_older_importer(archive, None)
    leaf = archive.get_conversation(cid).current_leaf
    ours = archive.add_turn(cid, _leaf_id(archive, cid, leaf), _turn())
    report = import_path(archive, export, reader_process=False)
    assert report.conversations["reread"] == 3 and _text(archive, "ra2") == FIXED
    after = archive.get_conversation(cid)
    assert after.current_leaf == ours[1].source_id
    assert [m.text for m in after.messages if m.origin] == [m.text for m in ours]


def test_a_freehold_export_neither_re_reads_nor_hides_a_fix(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """A freehold export's messages are another archive's conversion by an importer version it
    does not say: stored as unknown, so the source's own export re-reads them; and imported
    where that importer's version is stored, it changes nothing."""
    export = real / EXPORT
    import_path(archive, export, reader_process=False)
    out = tmp_path / "freehold-export"
    json_export.write(archive, archive.iter_conversations(), out)
    assert import_path(archive, out, reader_process=False).conversations["unchanged"] == 3
    versions = {row[0] for row in archive.db.execute("SELECT parser_version FROM conversations")}
    assert versions == {openwebui.PARSER_VERSION}
    with open_archive(tmp_path / "other") as other:
        import_path(other, out, reader_process=False)
        stored = {row[0] for row in other.db.execute("SELECT parser_version FROM conversations")}
        assert stored == {None}
        report = import_path(other, export, reader_process=False)
        assert report.conversations["reread"] == 3 and report.conversations["unchanged"] == 3


def _gone(archive: Archive) -> dict[str, bool]:
    rows = archive.db.execute("SELECT source_conversation_id, gone_upstream_at FROM conversations")
    return {cid: flag is not None for cid, flag in rows}


def _deleted_upstream(archive: Archive, tmp_path: Path) -> tuple[Path, Path]:
    """Review R1, finding 1: ``early`` holds X and Y; ``later`` holds Y grown, X deleted
    upstream, so X is flagged. Returns both exports."""
    chats = {"X": ("x", ["hello x", "ans"]), "Y": ("y", ["hello y", "ans"])}
    early = chatgpt_chats(tmp_path / "early.zip", chats, 1.7e9)
    grown = {"Y": ("y", ["hello y", "ans", "more", "ans2"])}
    later = chatgpt_chats(tmp_path / "later.zip", grown, 1.7e9 + 86400)
    import_path(archive, early, reader_process=False)
    import_path(archive, later, reader_process=False)
    assert _gone(archive) == {"X": True, "Y": False}
    return early, later


def _conversations(export: Path) -> list[object]:
    with zipfile.ZipFile(export) as opened:
        return list(json.loads(opened.read("conversations.json")))


@pytest.mark.parametrize("version", [None, "chatgpt/2"], ids=["before-versions", "older"])
def test_a_reread_keeps_a_gone_upstream_flag_as_an_unchanged_import_does(
    archive: Archive, tmp_path: Path, version: str | None
) -> None:
    """An older export read again by a newer importer proves nothing about today: X stays
    flagged, as it does when the same importer re-imports that export unchanged. A re-read
    in an export that is not older brings X back, as an unchanged copy does."""
    early, later = _deleted_upstream(archive, tmp_path)
    archive.db.execute("UPDATE conversations SET parser_version = ?", (version,))
    report = import_path(archive, early, reader_process=False)
    assert report.conversations["reread"] == 1 and _gone(archive) == {"X": True, "Y": False}
    # Both conversations as the newest export would hold them: X is back upstream.
    both = _conversations(early)[:1] + _conversations(later)
    members: dict[str | zipfile.ZipInfo, bytes] = {
        "conversations.json": json.dumps(both).encode(),
        "user.json": b'{"id": "user-chats"}',
    }
    archive.db.execute("UPDATE conversations SET parser_version = ?", (version,))
    again = import_path(archive, write_zip(tmp_path / "both.zip", members), reader_process=False)
    assert again.conversations["reread"] == 2 and _gone(archive) == {"X": False, "Y": False}


def test_a_freehold_export_s_flag_survives_the_source_s_older_export(
    archive: Archive, tmp_path: Path
) -> None:
    """A freehold export carrying the flag, imported first into another archive (versions
    unknown there), then the source's own older export: X stays flagged."""
    early, _ = _deleted_upstream(archive, tmp_path)
    out = tmp_path / "freehold-export"
    json_export.write(archive, archive.iter_conversations(), out)
    with open_archive(tmp_path / "other") as other:
        import_path(other, out, reader_process=False)
        assert _gone(other) == {"X": True, "Y": False}
        report = import_path(other, early, reader_process=False)
        assert report.conversations["reread"] == 1 and _gone(other) == {"X": True, "Y": False}


def _leaf_id(archive: Archive, cid: str, leaf: str | None) -> int:
    messages: list[Message] = archive.get_conversation(cid).messages
    return next(m.id for m in messages if m.source_id == leaf and m.id is not None)


@pytest.mark.parametrize(
    ("stored", "current", "newer"),
    [
        (None, "chatgpt/2", True),
        ("chatgpt/1", "chatgpt/2", True),
        ("chatgpt/9", "chatgpt/10", True),
        ("chatgpt/2", "chatgpt/2", False),
        ("chatgpt/3", "chatgpt/2", False),
        ("freehold/1", "chatgpt/2", False),
        ("chatgpt/1", None, False),
        ("chatgpt/1", "", False),
        ("", "chatgpt/2", True),
        (None, None, False),
        ("chatgpt/x", "chatgpt/2", False),
        ("chatgpt/\u00b9", "chatgpt/2", False),
    ],
)
def test_which_version_reads_again(stored: str | None, current: str | None, newer: bool) -> None:
    assert newer_parser(stored, current) is newer
