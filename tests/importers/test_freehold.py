"""freehold's own JSON export read back: the round trip rebuilds the same archive."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from freehold.archive import Archive, open_archive
from freehold.errors import BadExportError
from freehold.exporters import json as json_export
from freehold.importers import freehold
from freehold.ingest import detect_importer, import_path
from freehold.models import Conversation, ExportInfo, Message, Problem
from tests.exporters.test_json import PK, fill_archive


@pytest.fixture
def exported(archive: Archive, real: Path, tmp_path: Path) -> Path:
    fill_archive(archive, real, tmp_path / "inputs")
    out = tmp_path / "export"
    json_export.write(archive, archive.iter_conversations(), out)
    return out


@pytest.fixture
def fresh(tmp_path: Path) -> Any:
    with open_archive(tmp_path / "fresh") as opened:
        yield opened


def rows(archive: Archive, cid: str) -> list[tuple[Any, ...]]:
    conv = archive.get_conversation(cid)
    return [
        (
            m.source_id,
            m.parent_source_id,
            m.role,
            m.text,
            m.parts,
            m.hidden,
            m.on_visible_path,
            m.status,
            m.meta,
            [(a.pointer, a.name, a.sha256) for a in m.attachments],
        )
        for m in conv.messages
    ]


def head(archive: Archive, cid: str) -> tuple[Any, ...]:
    c = archive.get_conversation(cid)
    context = [(r.kind, r.text, r.data, r.message_source_id) for r in c.context]
    fields = (c.source_kind, c.source_id, c.title, c.created_at, c.updated_at, c.current_leaf)
    return (*fields, c.model, c.account_id, c.project, c.archived, c.starred, c.problems, context)


def write_export(folder: Path, lines: list[bytes], **manifest: Any) -> Path:
    folder.mkdir()
    body = {"format": "freehold-export", "version": 1, "conversations": len(lines), **manifest}
    (folder / json_export.MANIFEST).write_bytes(orjson.dumps(body))
    (folder / json_export.CONVERSATIONS).write_bytes(b"".join(line + b"\n" for line in lines))
    return folder


def minimal(source_id: str, **extra: Any) -> bytes:
    message = {"source_id": "m1", "role": "user", "content_type": "text", "text": "hi"}
    message["parts"] = [{"type": "text", "text": "hi"}]
    message["on_visible_path"] = True
    record = {"source_kind": "chatgpt", "source_id": source_id, "messages": [message], **extra}
    return orjson.dumps(record)


# -- the round trip --------------------------------------------------------------------------------


def test_round_trip_rebuilds_the_same_archive(
    archive: Archive, fresh: Archive, exported: Path
) -> None:
    report = import_path(fresh, exported)
    assert report.ok and report.kind == "freehold", report.to_json()
    before, after = archive.stats(), fresh.stats()
    before.pop("imports"), after.pop("imports")
    assert after == before
    ids = [c.id for c in archive.iter_conversations()]
    assert ids == [c.id for c in fresh.iter_conversations()]
    for cid in ids:
        assert head(fresh, cid) == head(archive, cid)
        assert rows(fresh, cid) == rows(archive, cid)
        assert fresh.raw_versions(cid) == archive.raw_versions(cid), "byte for byte"


def test_round_trip_keeps_big_integers_and_bad_bytes(
    archive: Archive, fresh: Archive, exported: Path
) -> None:
    import_path(fresh, exported)
    by_source = {c.source_id: c.id for c in fresh.iter_conversations()}
    big = fresh.raw_versions(str(by_source["big-int"]))[-1]
    assert json.loads(big)["n"] == 123456789012345678901234567
    bad = str(by_source["bad-utf8"])
    assert fresh.raw_versions(bad) == archive.raw_versions(bad)
    assert b"\xff" in fresh.raw_versions(bad)[0]


def test_export_of_the_reimport_is_the_same(fresh: Archive, exported: Path, tmp_path: Path) -> None:
    import_path(fresh, exported)
    again = tmp_path / "again"
    json_export.write(fresh, fresh.iter_conversations(), again)
    first = [
        json.loads(line) for line in (exported / "conversations.jsonl").read_bytes().splitlines()
    ]
    second = [
        json.loads(line) for line in (again / "conversations.jsonl").read_bytes().splitlines()
    ]
    for record in first + second:
        record.pop("raw")
        for message in record["messages"]:
            message.pop("id"), message.pop("parent_id")
    assert second == first


def test_importing_twice_changes_nothing(fresh: Archive, exported: Path) -> None:
    import_path(fresh, exported)
    report = import_path(fresh, exported)
    assert report.conversations["unchanged"] == report.conversations["read"] > 0


def hostile_raw_file(folder: Path) -> Path:
    """A ChatGPT export whose conversations only their exact bytes say whole: a duplicate key,
    an integer past 64 bits beside ``1e400`` (what the probe of 2026-12-07 crafted)."""

    def conv(cid: str, extra: str) -> str:
        node = '{"id": "%s", "message": {"id": "%s", "author": {"role": "%s"}, '
        node += '"content": {"content_type": "text", "parts": ["%s"]}, "metadata": {}}, '
        node += '"parent": %s, "children": [%s]}'
        mapping = [
            '"root": {"id": "root", "message": null, "parent": null, "children": ["m1"]}',
            '"m1": ' + node % ("m1", "m1", "user", "hello", '"root"', '"m2"'),
            '"m2": ' + node % ("m2", "m2", "assistant", "answer", '"m1"', ""),
        ]
        return (
            f'{{"id": "{cid}", "conversation_id": "{cid}", "title": "{cid}", '
            f'"create_time": 1700000000.0, "update_time": 1700000100.0, {extra}'
            f'"current_node": "m2", "mapping": {{{", ".join(mapping)}}}}}'
        )

    path = folder / "hostile.json"
    folder.mkdir(parents=True, exist_ok=True)
    duplicate = conv("dup-1", '"note": "first value, only here", "note": "second", ')
    huge = conv("inf-1", '"big": 12345678901234567890123, "huge": 1e400, ')
    path.write_text(f"[{duplicate},\n{huge}]")
    return path


def raw_rows(archive: Archive) -> list[tuple[str, str]]:
    query = "SELECT conversation_id, sha256 FROM conversation_raw ORDER BY 1, 2"
    return [tuple(row) for row in archive.db.execute(query)]


def test_raw_versions_come_back_byte_for_byte_whatever_they_hold(
    archive: Archive, fresh: Archive, tmp_path: Path
) -> None:
    report = import_path(archive, hostile_raw_file(tmp_path / "in"))
    assert report.conversations["new"] == 2
    json_export.write(archive, archive.iter_conversations(), tmp_path / "export")
    import_path(fresh, tmp_path / "export")
    assert raw_rows(fresh) == raw_rows(archive) and len(raw_rows(archive)) == 2
    for conv in archive.iter_conversations():
        assert fresh.raw_versions(str(conv.id)) == archive.raw_versions(str(conv.id))
    dup = fresh.raw_versions(str(fresh.resolve("dup-1")))[0]
    assert b'"note": "first value, only here", "note": "second"' in dup
    # and the fresh archive's own export gives them again, still the same bytes
    json_export.write(fresh, fresh.iter_conversations(), tmp_path / "again")
    lines = (tmp_path / "again" / json_export.CONVERSATIONS).read_bytes().splitlines()
    exported = [version["sha256"] for line in lines for version in orjson.loads(line)["raw"]]
    assert sorted(exported) == sorted(sha for _, sha in raw_rows(archive))


def test_an_archives_own_export_imported_back_changes_nothing(
    archive: Archive, exported: Path, tmp_path: Path
) -> None:
    import_path(archive, hostile_raw_file(tmp_path / "in"))
    json_export.write(archive, archive.iter_conversations(), tmp_path / "own")
    before = raw_rows(archive)
    shas = dict(archive.db.execute("SELECT id, raw_sha256 FROM conversations"))
    report = import_path(archive, tmp_path / "own")
    assert report.conversations["unchanged"] == report.conversations["read"] == len(shas)
    assert raw_rows(archive) == before
    assert dict(archive.db.execute("SELECT id, raw_sha256 FROM conversations")) == shas


def test_a_conversation_started_here_gains_no_raw(
    archive: Archive, fresh: Archive, tmp_path: Path
) -> None:
    cid = archive.new_conversation("Made here")
    question = Message("", None, "user", "text", [{"type": "text", "text": "Kiln?"}], "Kiln?")
    archive.add_turn(cid, None, [question])
    json_export.write(archive, archive.iter_conversations(), tmp_path / "export")
    for target in (fresh, archive):
        report = import_path(target, tmp_path / "export")
        assert report.ok, report.to_json()
        assert target.raw_versions(cid) == []
        assert target.db.execute("SELECT raw_sha256 FROM conversations").fetchall() == [("",)]
        assert [m.text for m in target.get_conversation(cid).messages] == ["Kiln?"]


def test_a_file_keeps_the_name_it_was_first_stored_under(
    archive: Archive, fresh: Archive, tmp_path: Path
) -> None:
    """One file linked under two names: the round trip keeps the first, whatever order the
    export writes its links in (the probe saw IMG_4647.png come back as file-….dat)."""
    from tests.exporters.test_json import PNG

    def conversation(cid: str, updated: float, file: str, name: str | None) -> dict[str, Any]:
        attachment = {"id": file, "name": name}
        message = {
            "id": "m1",
            "author": {"role": "user"},
            "content": {"content_type": "text", "parts": ["see"]},
            "metadata": {"attachments": [attachment]},
        }
        return {
            "id": cid,
            "title": cid,
            "create_time": updated,
            "update_time": updated,
            "current_node": "m1",
            "mapping": {"m1": {"id": "m1", "message": message, "parent": None, "children": []}},
        }

    path = tmp_path / "two-names.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        named = conversation("named", 2.0e9, "file-Named1", "IMG_4647.png")
        unnamed = conversation("unnamed", 1.0e9, "file-Other2", None)
        zipped.writestr("conversations.json", json.dumps([named, unnamed]))
        zipped.writestr("file-Named1-IMG_4647.png", PNG)
        zipped.writestr("file-Other2", PNG)
    import_path(archive, path)
    (sha,) = [row[0] for row in archive.db.execute("SELECT sha256 FROM attachments")]
    first = archive.attachment(sha)
    assert first is not None and first.name == "IMG_4647.png"
    json_export.write(archive, archive.iter_conversations(), tmp_path / "export")
    import_path(fresh, tmp_path / "export")
    again = fresh.attachment(sha)
    assert again is not None and again.name == "IMG_4647.png"


def test_a_raw_version_changed_since_the_export_is_lost_and_said(
    tmp_path: Path, fresh: Archive
) -> None:
    good = {"sha256": hashlib.sha256(b'{"a": 1}').hexdigest(), "encoding": "utf-8"}
    raw = [{**good, "value": '{"a": 1}'}, {**good, "value": '{"a": 2}'}]
    folder = write_export(tmp_path / "exp", [minimal("altered", raw=raw)])
    report = import_path(fresh, folder)
    assert report.conversations["new"] == 1 and not report.ok
    lost = [p for p in report.problems if "does not match its SHA-256" in p.what]
    assert [(p.where, p.lost) for p in lost] == [("conversations.jsonl:1", True)]
    assert fresh.raw_versions(str(fresh.resolve("altered"))) == [b'{"a": 1}']


def test_a_version_1_export_with_parsed_raw_still_imports(tmp_path: Path, fresh: Archive) -> None:
    raw = [{"sha256": "0" * 64, "encoding": "json", "value": {"id": "old", "n": 1}}]
    folder = write_export(tmp_path / "exp", [minimal("old", raw=raw)])
    report = import_path(fresh, folder)
    assert report.ok and report.conversations["new"] == 1, report.to_json()
    assert fresh.raw_versions(str(fresh.resolve("old"))) == [b'{"id":"old","n":1}']


# -- detection and the record stream ---------------------------------------------------------------


def test_detect(exported: Path, tmp_path: Path, real: Path) -> None:
    assert freehold.detect(exported)
    assert detect_importer(exported) is freehold
    assert not freehold.detect(exported / "conversations.jsonl")
    assert not freehold.detect(real / "pkuppens-chatgpt-2023-06")
    other = tmp_path / "other"
    other.mkdir()
    (other / json_export.MANIFEST).write_text('{"format": "something-else"}')
    assert not freehold.detect(other)


def test_export_info_comes_first(exported: Path) -> None:
    records = list(freehold.iter_conversations(exported))
    info = records[0]
    assert isinstance(info, ExportInfo) and info.kind == "freehold" and not info.full_export
    assert info.files == [
        ("conversations.jsonl", (exported / "conversations.jsonl").stat().st_size)
    ]
    conversations = [r for r in records if isinstance(r, Conversation)]
    assert {c.source_kind for c in conversations} == {"chatgpt"}
    assert info.expected_conversations == len(conversations)
    otter = next(c for c in conversations if c.source_id == "otter-conv")
    refs = [ref for m in otter.messages for ref in m.attachments]
    assert {(r.pointer, r.name, r.opener is not None) for r in refs} == {
        ("file-service://file-Otter1", "otter.png", True),
        ("file-service://file-Gone9", None, False),
    }


def test_attachments_the_manifest_lists_and_the_folder_lacks_are_lost_by_name(
    exported: Path, tmp_path: Path
) -> None:
    """A copy of the folder without an attachment (or with one cut short) loses its bytes:
    the problem names the file, and the import is not ok (the CLI exits 1)."""
    (listed,) = (exported / "attachments").iterdir()
    lacking, cut = tmp_path / "lacking", tmp_path / "cut"
    shutil.copytree(exported, lacking)
    shutil.copytree(exported, cut)
    (lacking / "attachments" / listed.name).unlink()
    (cut / "attachments" / listed.name).write_bytes(listed.read_bytes()[:-1])
    size = listed.stat().st_size
    for folder, what in (
        (lacking, "listed in freehold-export.json but not in the folder"),
        (cut, f"{size - 1:,} bytes but freehold-export.json says {size:,}"),
    ):
        with open_archive(tmp_path / f"{folder.name}-home") as fresh:
            report = import_path(fresh, folder)
        problems = [p for p in report.problems if p.where.startswith("attachments/")]
        assert [(p.where, p.lost) for p in problems] == [(f"attachments/{listed.name}", True)]
        assert problems[0].what.startswith(what) and not report.ok


def test_malformed_lines_become_problems(tmp_path: Path, fresh: Archive) -> None:
    lines = [
        minimal("good-1"),
        b"{not json",
        b"[1, 2]",
        minimal("no-messages", messages="nope"),
        b"",
        orjson.dumps({"source_kind": "chatgpt"}),
        minimal("bad-raw", raw=[{"encoding": "rot13", "value": "x"}]),
        minimal("good-2"),
    ]
    folder = write_export(tmp_path / "exp", lines)
    folder.joinpath(json_export.MANIFEST).write_bytes(
        orjson.dumps({"format": "freehold-export", "version": 1, "conversations": 7})
    )
    records = list(freehold.iter_conversations(folder))
    problems = [r for r in records if isinstance(r, Problem)]
    assert [p.where for p in problems] == [f"conversations.jsonl:{n}" for n in (2, 3, 4, 6, 7)]
    assert all(p.skipped == 1 for p in problems)
    assert [r.source_id for r in records if isinstance(r, Conversation)] == ["good-1", "good-2"]
    report = import_path(fresh, folder)
    assert report.conversations["new"] == 2 and report.conversations["skipped"] == 5
    assert not report.ok


def test_count_mismatch_and_interrupted_export_are_reported(tmp_path: Path) -> None:
    short = write_export(tmp_path / "short", [minimal("a")], conversations=3)
    problems = [r for r in freehold.iter_conversations(short) if isinstance(r, Problem)]
    assert [p.where for p in problems] == ["conversations.jsonl"]
    assert "manifest says 3" in problems[0].what
    cut = write_export(tmp_path / "cut", [minimal("a")], complete=False)
    problems = [r for r in freehold.iter_conversations(cut) if isinstance(r, Problem)]
    assert [p.where for p in problems] == ["freehold-export.json"]


def test_newer_version_and_missing_lines_are_refused(tmp_path: Path) -> None:
    newer = write_export(tmp_path / "newer", [], version=json_export.VERSION + 1)
    with pytest.raises(BadExportError, match="upgrade freehold"):
        list(freehold.iter_conversations(newer))
    gone = write_export(tmp_path / "gone", [])
    (gone / "conversations.jsonl").unlink()
    with pytest.raises(BadExportError, match=r"conversations\.jsonl is missing"):
        list(freehold.iter_conversations(gone))


def test_hostile_attachment_hashes_never_open_a_path(tmp_path: Path, fresh: Archive) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    attachments = [
        {"pointer": "p1", "sha256": "../../secret.txt"},
        {"pointer": "p2", "sha256": "/etc/passwd"},
        {"pointer": "p3", "sha256": "a" * 64},
    ]
    record = orjson.loads(minimal("hostile"))
    record["messages"][0]["attachments"] = attachments
    folder = write_export(tmp_path / "exp", [orjson.dumps(record)])
    (folder / "attachments").mkdir()
    (folder / "attachments" / ("a" * 64)).symlink_to(secret)
    records = list(freehold.iter_conversations(folder))
    conv = next(r for r in records if isinstance(r, Conversation))
    assert all(ref.opener is None for ref in conv.messages[0].attachments)
    assert any(isinstance(r, Problem) and "symlink" in r.what for r in records)


def test_children_before_parents_are_reordered_keeping_the_path(
    tmp_path: Path, fresh: Archive
) -> None:
    def message(mid: str, parent: str | None, visible: bool) -> dict[str, Any]:
        return {
            "source_id": mid,
            "parent_source_id": parent,
            "role": "user",
            "text": mid,
            "content_type": "text",
            "parts": [],
            "on_visible_path": visible,
        }

    record = {
        "source_kind": "chatgpt",
        "source_id": "tangled",
        "current_leaf": "c",
        "messages": [
            message("c", "b", True),
            message("b", "a", True),
            message("a", None, True),
            message("a", None, False),
        ],
    }
    folder = write_export(tmp_path / "exp", [orjson.dumps(record)])
    report = import_path(fresh, folder)
    assert report.conversations["new"] == 1
    conv = next(fresh.iter_conversations())
    assert [(m.source_id, m.parent_source_id, m.on_visible_path) for m in conv.messages] == [
        ("a", None, True),
        ("b", "a", True),
        ("c", "b", True),
        ("a#2", None, False),  # the duplicate is kept under a new id (``tree.unique_ids``)
    ]
    assert any("appears twice" in problem for problem in conv.problems)


def test_every_raw_version_and_the_gone_upstream_flag_come_back(
    archive: Archive, fresh: Archive, tmp_path: Path
) -> None:
    from tests.exporters.test_json import small_conversation

    first = tmp_path / "first.json"
    first.write_text(json.dumps([small_conversation("keep-me", "First title")]))
    second = tmp_path / "second.json"
    second.write_text(json.dumps([small_conversation("keep-me", "Renamed later")]))
    import_path(archive, first)
    import_path(archive, second)
    cid = archive.resolve("keep-me")
    archive.db.execute("UPDATE conversations SET gone_upstream_at = '2026-01-01T00:00:00+00:00'")
    assert len(archive.raw_versions(cid)) == 2
    out = tmp_path / "export"
    json_export.write(archive, archive.iter_conversations(), out)
    import_path(fresh, out)
    versions = [orjson.loads(raw) for raw in fresh.raw_versions(cid)]
    assert [v["title"] for v in versions] == ["First title", "Renamed later"]
    assert fresh.get_conversation(cid).gone_upstream_at == "2026-01-01T00:00:00+00:00"
    assert fresh.get_conversation(cid).title == "Renamed later"


# -- what belongs to the account -------------------------------------------------------------------


def claude_zip(folder: Path) -> Path:
    """A Claude export with a project (instructions and a document) and a memory."""
    conversations = [
        {
            "uuid": "c1",
            "name": "t",
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z",
            "chat_messages": [],
        }
    ]
    doc = {"uuid": "d1", "filename": "o.md", "content": "# Outline"}
    projects = [{"uuid": "p1", "name": "Thesis", "prompt_template": "British.", "docs": [doc]}]
    memories = [{"conversations_memory": "User writes a thesis.", "account_uuid": "a"}]
    path = folder / "claude.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("conversations.json", json.dumps(conversations))
        zipped.writestr("projects.json", json.dumps(projects))
        zipped.writestr("memories.json", json.dumps(memories))
    return path


def account(archive: Archive) -> tuple[list[tuple[Any, ...]], list[tuple[str, bytes]]]:
    records = archive.db.execute(
        "SELECT source_message_id, kind, text, data, created_at FROM context_records "
        "WHERE conversation_id IS NULL ORDER BY source_message_id, kind"
    ).fetchall()
    rows = archive.db.execute("SELECT name, raw FROM source_files")
    return records, sorted((name, zlib.decompress(raw)) for name, raw in rows)


def test_round_trip_keeps_the_account_records_and_the_kept_files(
    archive: Archive, fresh: Archive, real: Path, tmp_path: Path
) -> None:
    """Memory, project instructions and documents (no conversation's) and every file an import
    kept whole come back; two different ``user.json`` keep both, the later one renamed."""
    fill_archive(archive, real, tmp_path / "inputs")
    import_path(archive, claude_zip(tmp_path))
    import_path(archive, (real / PK).parent)  # its user.json, feedback and comparisons
    records, files = account(archive)
    assert len(records) == 3 and len(files) == 6, files
    out = tmp_path / "export"
    json_export.write(archive, archive.iter_conversations(), out)
    report = import_path(fresh, out)
    assert report.ok, report.to_json()
    again, kept = account(fresh)
    assert again == records
    assert sorted(raw for _, raw in kept) == sorted(raw for _, raw in files)
    names = {name for name, _ in kept}
    users = {raw for name, raw in kept if name.startswith("user.json")}
    assert "user.json" in names and len(users) == 2, names
    manifest = json.loads((out / json_export.MANIFEST).read_text())
    assert manifest["version"] == 3 and manifest["account_records"] == 3


def test_a_changed_conversations_file_is_said_by_name(exported: Path, fresh: Archive) -> None:
    """An edit after the export (or bit rot) that still parses is imported, and said loudly:
    the file's SHA-256 is not the manifest's."""
    path = exported / json_export.CONVERSATIONS
    text = b'"text":"An otter. **Lovely**."'
    path.write_bytes(path.read_bytes().replace(text, b'"text":"TAMPERED"'))
    report = import_path(fresh, exported)
    changed = [p for p in report.problems if p.where == json_export.CONVERSATIONS]
    assert len(changed) == 1 and "changed since the export" in changed[0].what
    assert not report.ok


def test_an_attachment_unreadable_keeps_no_sha256(tmp_path: Path) -> None:
    """The freehold importer names a file by the export's SHA-256 to find it; a read that
    fails (a damaged member, a disk error) leaves the reference without one, so the archive
    writes no ``attachments`` row for bytes it never stored (review R7-1)."""
    from freehold.ingest import Reader, _Tally
    from freehold.models import AttachmentRef

    def unreadable() -> Any:
        raise OSError(5, "Input/output error")

    ref = AttachmentRef(pointer="p", name="x.png", mime=None, size=1)
    ref.sha256, ref.opener = "83" + "7" * 62, unreadable
    tally = _Tally(messages=0, context_records=0)
    Reader(tmp_path / "blobs")._attachment(ref, tally)
    assert ref.sha256 is None
    assert [p.what for p in tally.problems] == [
        "attachment unreadable: [Errno 5] Input/output error"
    ]
