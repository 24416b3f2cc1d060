"""Hostile and broken exports through import_path and the CLI: reported, contained, never fatal."""

from __future__ import annotations

import hashlib
import json
import random
import stat
import struct
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freehold.archive import Archive, conversation_id, open_archive
from freehold.cli import cli
from freehold.errors import BadExportError, FreeholdError, UnknownExportError, UnsafeArchiveError
from freehold.importers import _safezip
from tests.builders import ingest, write_zip

# Every test here runs with each of the two readers of a deflated member.
pytestmark = pytest.mark.usefixtures("zip_reader")


def conversation(cid: str, text: str = "hello there") -> dict[str, Any]:
    def node(mid: str, parent: str | None, role: str, words: str) -> dict[str, Any]:
        content = {"content_type": "text", "parts": [words]}
        message = {"id": mid, "author": {"role": role}, "content": content, "create_time": 1.7e9}
        return {"id": mid, "parent": parent, "message": message}

    return {
        "id": cid,
        "title": f"title {cid}",
        "create_time": 1.7e9,
        "current_node": "a",
        "mapping": {
            "root": {"id": "root", "parent": None, "message": None},
            "u": node("u", "root", "user", text),
            "a": node("a", "u", "assistant", f"answer to {cid}"),
        },
    }


def dumps(convs: list[dict[str, Any]]) -> bytes:
    return json.dumps(convs).encode()


def imported(archive: Archive) -> set[str]:
    rows = archive.db.execute("SELECT source_conversation_id FROM conversations")
    return {row[0] for row in rows}


def cli_import(path: Path) -> Result:
    return CliRunner().invoke(cli, ["import", str(path)])


def snapshot(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in folder.rglob("*")
        if "home" not in p.parts
    }


# -- hostile members -------------------------------------------------------------------------------


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def hostile_zip(path: Path) -> Path:
    evil = dumps([conversation("evil")])
    return write_zip(
        path,
        {
            "conversations.json": dumps([conversation("good")]),
            "../conversations-001.json": evil,
            "/tmp/conversations-002.json": evil,
            "..\\conversations-003.json": evil,
            "../../../home/evil.png": b"\x89PNG\r\n\x1a\n",
            symlink("user.json"): b"/etc/passwd",
            symlink("conversations-004.json"): b"/etc/passwd",
        },
    )


def test_hostile_members_are_reported_and_never_read(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    (tmp_path / "in").mkdir()
    path = hostile_zip(tmp_path / "in" / "export.zip")
    before = snapshot(tmp_path)
    report = ingest(archive, path)
    assert imported(archive) == {"good"}
    assert not report.ok
    unread = {p.where for p in report.problems if "member not read" in p.what}
    assert unread == {
        f"export.zip/{name}"
        for name in (
            "../conversations-001.json",
            "/tmp/conversations-002.json",
            "..\\conversations-003.json",
            "../../../home/evil.png",
            "user.json",
            "conversations-004.json",
        )
    }
    assert "user.json" not in report.kept_files
    assert snapshot(tmp_path) == before
    assert list(workdir.iterdir()) == []
    assert not Path("/tmp/conversations-002.json").exists()


def test_folder_symlinks_are_reported_and_not_followed(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "conversations.json").write_bytes(dumps([conversation("good")]))
    (folder / "user.json").symlink_to("/etc/passwd")
    (folder / "loop").symlink_to(tmp_path, target_is_directory=True)
    report = ingest(archive, folder)
    assert imported(archive) == {"good"} and report.kept_files == []
    assert {p.where for p in report.problems} == {"export/user.json", "export/loop"}
    assert not report.ok


def test_duplicate_conversations_member_keeps_the_first(archive: Archive, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "dup.zip", {"conversations.json": dumps([conversation("first")])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("conversations.json", dumps([conversation("second")]))
    report = ingest(archive, path)
    assert imported(archive) == {"first"}
    assert any("duplicate" in p.what for p in report.problems) and not report.ok


def zip_bomb(path: Path, name: str, megabytes: int, good: bool = True) -> Path:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf:
        if good:
            zf.writestr("conversations.json", dumps([conversation("good")]))
        with zf.open(info, "w", force_zip64=True) as out:
            for _ in range(megabytes):
                out.write(bytes(1 << 20))
    return path


def test_zip_bomb_member_is_refused_and_the_rest_imported(archive: Archive, tmp_path: Path) -> None:
    report = ingest(archive, zip_bomb(tmp_path / "bomb.zip", "message_feedback.json", 40))
    assert imported(archive) == {"good"} and not report.ok
    assert any("compression ratio" in p.what for p in report.problems)
    assert "message_feedback.json" not in report.kept_files


def test_zip_bomb_as_the_only_conversations_file_says_so(archive: Archive, tmp_path: Path) -> None:
    path = zip_bomb(tmp_path / "bomb.zip", "conversations.json", 40, good=False)
    with pytest.raises(FreeholdError, match="compression ratio"):
        ingest(archive, path)


def test_total_size_cap_refuses_the_whole_zip(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_zip(
        tmp_path / "big.zip",
        {"conversations.json": dumps([conversation(f"c{i}") for i in range(20)])},
    )
    monkeypatch.setattr(_safezip, "MAX_TOTAL_BYTES", 1000)
    before = archive.stats()
    with pytest.raises(UnsafeArchiveError, match=r"^big\.zip: would inflate"):
        ingest(archive, path)
    assert archive.stats() == before
    result = cli_import(path)
    assert result.exit_code != 0 and "big.zip: would inflate" in result.output


def test_member_inflating_past_its_declared_size(archive: Archive, tmp_path: Path) -> None:
    convs = [conversation(f"c{i}", "word " * 200) for i in range(40)]
    path = write_zip(tmp_path / "liar.zip", {"conversations.json": dumps(convs)})
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, 5000)
    path.write_bytes(bytes(data))
    report = ingest(archive, path)
    assert not report.ok
    assert [p.where for p in report.problems] == ["conversations.json"]
    assert "not imported" in report.problems[0].what
    text = dumps(convs)[:5000]
    assert all(f'"id": "{cid}"'.encode() in text for cid in imported(archive))


# -- truncated files -------------------------------------------------------------------------------


def test_truncated_zip_imports_what_precedes_the_cut(archive: Archive, tmp_path: Path) -> None:
    convs = [conversation(f"c{i:03d}", f"text {i} " * 300) for i in range(200)]
    whole = write_zip(tmp_path / "whole.zip", {"conversations.json": dumps(convs)}).read_bytes()
    path = tmp_path / "half.zip"
    path.write_bytes(whole[: len(whole) // 2])
    report = ingest(archive, path)
    assert not report.ok
    got = imported(archive)
    assert got and got < {c["id"] for c in convs}
    assert got == {f"c{i:03d}" for i in range(len(got))}
    assert any("truncated zip" in p.what for p in report.problems)


def test_unreadable_zip_is_a_bad_export_error(archive: Archive, tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "whole.zip", {"conversations.json": b"[]"}).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[:20])
    with pytest.raises(BadExportError, match=r"^cut\.zip: not a readable zip"):
        ingest(archive, path)


def test_unreadable_zip_fails_through_the_cli(archive: Archive, tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "whole.zip", {"conversations.json": b"[]"}).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[:20])
    result = cli_import(path)
    assert result.exit_code != 0
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "cut.zip" in error_lines[0]
    assert archive.stats()["conversations"] == 0


def truncated_json(tmp_path: Path) -> Path:
    convs = [conversation(f"t{i}") for i in range(6)]
    data = dumps(convs)
    cut = data.index(b'"id": "t4"')
    path = tmp_path / "conversations.json"
    path.write_bytes(data[:cut])
    return path


def test_truncated_json_keeps_what_came_before(archive: Archive, tmp_path: Path) -> None:
    path = truncated_json(tmp_path)
    report = ingest(archive, path)
    assert imported(archive) == {"t0", "t1", "t2", "t3"}
    assert not report.ok
    (problem,) = report.problems
    assert problem.where == "conversations.json" and problem.lost
    assert "truncated" in problem.what and "4 conversations read before it" in problem.what
    assert "not imported" in problem.what


def test_truncated_json_fails_through_the_cli(tmp_path: Path) -> None:
    path = truncated_json(tmp_path)
    result = cli_import(path)
    assert result.exit_code != 0
    assert "truncated" in result.output and "conversations.json" in result.output
    with open_archive() as archive:
        assert imported(archive) == {"t0", "t1", "t2", "t3"}


# -- hostile JSON ----------------------------------------------------------------------------------


def test_invalid_utf8_and_lone_surrogates_are_repaired_and_raw_kept(
    archive: Archive, tmp_path: Path
) -> None:
    data = dumps(
        [
            conversation("clean"),
            conversation("bytes", "BADBYTES"),
            conversation("escape", "BADESCAPE"),
        ]
    )
    data = data.replace(b"BADBYTES", b"caf\xe9 \xff end").replace(b"BADESCAPE", b"x\\ud800y")
    path = tmp_path / "conversations.json"
    path.write_bytes(data)
    report = ingest(archive, path)
    assert report.ok and imported(archive) == {"clean", "bytes", "escape"}
    texts = {cid: archive.get_conversation(cid).messages[0].text for cid in ("bytes", "escape")}
    assert texts == {"bytes": "caf\ufffd \ufffd end", "escape": "x\ufffdy"}
    noted = {p.where for p in report.problems if "repaired" in p.what}
    assert noted == {"conversation bytes", "conversation escape"}
    for cid, marker in (("bytes", b"\xff end"), ("escape", b"\\ud800")):
        raw = archive.raw_versions(conversation_id("chatgpt", cid))[0]
        start = data.index(b'{"id": "%s"' % cid.encode())
        assert raw == data[start : start + len(raw)] and marker in raw
        assert raw.endswith(b"}") and data[start + len(raw) : start + len(raw) + 2] in (b", ", b"]")


def test_deep_nesting_skips_one_element_in_small_memory(archive: Archive, tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    bomb = b'{"id": "deep", "title": "deep", "mapping": {"x": ' + deep + b"}}"
    data = (
        b"["
        + dumps([conversation("before")])[1:-1]
        + b", "
        + bomb
        + b", "
        + dumps([conversation("after")])[1:-1]
        + b"]"
    )
    path = tmp_path / "conversations.json"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        report = ingest(archive, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20
    assert imported(archive) == {"before", "after"}
    assert report.conversations["skipped"] == 1 and not report.ok
    (problem,) = report.problems
    assert problem.where == "conversations.json[1]" and "deeper than 128" in problem.what
    # "kept" is true: the skipped element's bytes are a file of the import (defect 7 of the
    # probe of 2026-12-07), where the problem says.
    assert "kept in the archive as skipped/conversations.json[1]" in problem.what
    assert report.kept_files == ["skipped/conversations.json[1]"]
    (kept,) = archive.db.execute("SELECT name, sha256, raw FROM source_files").fetchall()
    assert kept[0] == "skipped/conversations.json[1]" and zlib.decompress(kept[2]) == bomb
    assert kept[1] == hashlib.sha256(bomb).hexdigest()


def test_nan_and_duplicate_keys_are_tolerated(archive: Archive, tmp_path: Path) -> None:
    text = json.dumps([conversation("odd")])
    text = text.replace(
        '"create_time": 1700000000.0, "current_node"', '"create_time": NaN, "current_node"'
    )
    text = text.replace('"title": "title odd"', '"title": "first title", "title": "last title"')
    assert "NaN" in text and "first title" in text
    path = tmp_path / "conversations.json"
    path.write_text(text)
    report = ingest(archive, path)
    assert report.ok
    conv = archive.get_conversation("odd")
    assert conv.title == "last title" and conv.created_at is None
    assert len(conv.messages) == 2


def test_unreadable_conversation_is_skipped_not_fatal(archive: Archive, tmp_path: Path) -> None:
    items = [
        conversation("ok1"),
        {"title": "no id", "mapping": {}},
        "just a string",
        conversation("ok2"),
    ]
    path = tmp_path / "conversations.json"
    path.write_bytes(dumps(items))
    report = ingest(archive, path)
    assert imported(archive) == {"ok1", "ok2"}
    assert report.conversations["skipped"] == 2 and not report.ok


def spoil(path: Path, name: str, offset: int, bits: int) -> None:
    """Flip ``bits`` of a member's central directory entry at ``offset`` (16: its CRC-32, no
    longer matching its bytes; 8: its flags, 1 marking it encrypted)."""
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(name.encode()))
    data[entry + offset] ^= bits
    path.write_bytes(bytes(data))


def test_a_damaged_attachment_costs_itself_not_the_import(archive: Archive, tmp_path: Path) -> None:
    """A member whose bytes fail their CRC-32 (``zipfile`` says so only once they are read),
    or an encrypted one, is an unreadable attachment, reported; the conversation, the other
    files, the import go on, and no partial file stays behind (the big one fails after its
    first MiB was written)."""
    conv = conversation("pics")
    pointers = [f"file-service://file-{n}" for n in ("Good1", "Bad2", "Big3", "Lock4")]
    conv["mapping"]["u"]["message"]["content"] = {
        "content_type": "multimodal_text",
        "parts": [{"content_type": "image_asset_pointer", "asset_pointer": p} for p in pointers]
        + ["look at these"],
    }
    good = PNG + b"good"
    members = {
        "conversations.json": dumps([conv]),
        "file-Good1-a.png": good,
        "file-Bad2-b.png": PNG + b"bad",
        "file-Big3-c.png": PNG + random.Random(3).randbytes(3 << 19),
        "file-Lock4-d.png": PNG + b"locked",
    }
    path = write_zip(tmp_path / "pics.zip", members)
    spoil(path, "file-Bad2-b.png", 16, 1)
    spoil(path, "file-Big3-c.png", 16, 1)
    spoil(path, "file-Lock4-d.png", 8, 1)
    report = ingest(archive, path)
    assert imported(archive) == {"pics"}
    problems = {p.where: p.what for p in report.problems}
    assert set(problems) == set(pointers[1:])
    assert all(what.startswith("attachment unreadable") for what in problems.values())
    assert all("CRC" in problems[p] for p in pointers[1:3])
    assert "encrypted" in problems[pointers[3]]
    assert (report.attachments["found"], report.attachments["missing"]) == (1, 3)
    assert not report.ok  # loud: the report says what was lost, and the CLI exits non-zero
    files = [p for p in archive.blobs.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [hashlib.sha256(good).hexdigest()]


# -- not an export at all --------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("picture.png", PNG),
        ("random.json", b'{"hello": "world", "items": [1, 2, 3]}'),
        ("empty.json", b""),
        ("numbers.json", b"[1, 2, 3]"),
        ("notes.zip", None),
    ],
)
def test_not_an_export(archive: Archive, tmp_path: Path, name: str, data: bytes | None) -> None:
    path = tmp_path / name
    if data is None:
        write_zip(path, {"readme.txt": b"hello", "photos/a.png": PNG})
    else:
        path.write_bytes(data)
    before = archive.stats()
    with pytest.raises((UnknownExportError, BadExportError)) as caught:
        ingest(archive, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message  # as given
    result = cli_import(path)
    assert result.exit_code != 0 and name in result.output
    assert archive.stats() == before


def test_files_nothing_points_at_are_named_but_not_counted_as_lost(
    archive: Archive, tmp_path: Path
) -> None:
    path = write_zip(
        tmp_path / "extra.zip",
        {
            "conversations.json": dumps([conversation("only")]),
            "chat.html": b"<html></html>",
            "textdocs/canvas-1.md": b"# a canvas",
            "file-Orphan123-notes.txt": b"nobody links here",
        },
    )
    report = ingest(archive, path)
    assert report.ok
    (note,) = [p for p in report.problems if "not referenced" in p.what]
    assert not note.lost
    assert "2 files" in note.what
    assert "textdocs/canvas-1.md" in note.what and "file-Orphan123-notes.txt" in note.what
    assert "chat.html" not in note.what


def test_an_account_with_no_chats_is_still_a_chatgpt_export(
    archive: Archive, tmp_path: Path
) -> None:
    path = write_zip(
        tmp_path / "empty.zip", {"conversations.json": b"[]", "user.json": b'{"id": "user-x"}'}
    )
    report = ingest(archive, path)
    assert report.kind == "chatgpt" and report.ok and report.conversations["read"] == 0
    assert report.kept_files == ["user.json"]
