"""A cut download: the members before the cut, and the readable start of the cut one, land."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import BinaryIO

from freehold.archive import Archive
from freehold.importers import chatgpt
from freehold.ingest import import_path


def _conversation(number: int) -> dict[str, object]:
    root, user, answer = f"root-{number}", f"user-{number}", f"answer-{number}"

    def node(key: str, parent: str | None, role: str, text: str) -> dict[str, object]:
        message = {
            "id": key,
            "author": {"role": role},
            "content": {"content_type": "text", "parts": [text]},
            "create_time": 1700000000.0 + number,
        }
        return {"id": key, "parent": parent, "message": message}

    return {
        "id": f"conv-{number:04d}",
        "title": f"Conversation {number}",
        "create_time": 1700000000.0 + number,
        "current_node": answer,
        "mapping": {
            root: {"id": root, "parent": None, "message": None},
            user: node(user, root, "user", f"question number {number} " * 20),
            answer: node(answer, user, "assistant", f"answer number {number} " * 40),
        },
    }


class _Unseekable(io.RawIOBase):
    """A write-only stream zipfile cannot seek in, so it writes data descriptors."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.target.write(data)


def _export(path: Path, conversations: int, *, descriptor: bool = False) -> Path:
    payload = json.dumps([_conversation(n) for n in range(conversations)]).encode()
    with path.open("wb") as handle:
        sink: BinaryIO = _Unseekable(handle) if descriptor else handle  # type: ignore[assignment]
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("user.json", json.dumps({"id": "user-salvage"}))
            with archive.open("conversations.json", "w") as member:
                member.write(payload)
    return path


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    cut = path.with_name("cut-" + path.name)
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


def test_cut_inside_the_conversations_member_imports_what_precedes_the_cut(
    tmp_path: Path, archive: Archive
) -> None:
    cut = _cut(_export(tmp_path / "export.zip", 400), 0.6)
    assert chatgpt.detect(cut)
    report = import_path(archive, cut)
    read = report.conversations["read"]
    assert 0 < read < 400
    assert report.conversations["new"] == read
    assert not report.ok
    whats = " ".join(p.what for p in report.problems)
    assert "truncated zip" in whats and "conversations.json is cut off" in whats
    assert f"{read} conversation{'' if read == 1 else 's'} read before it" in whats
    assert report.kept_files == ["user.json"]
    ids = [row[0] for row in archive.db.execute("SELECT source_conversation_id FROM conversations")]
    assert sorted(ids) == [f"conv-{n:04d}" for n in range(read)]


def test_members_written_with_a_data_descriptor_are_measured(
    tmp_path: Path, archive: Archive
) -> None:
    whole = _export(tmp_path / "streamed.zip", 50, descriptor=True)
    with zipfile.ZipFile(whole) as check:
        assert check.getinfo("conversations.json").flag_bits & 0x08
    data = whole.read_bytes()
    first_central = data.find(b"PK\x01\x02")
    assert first_central > 0
    cut = tmp_path / "no-directory.zip"
    cut.write_bytes(data[:first_central])
    report = import_path(archive, cut)
    assert report.conversations["new"] == 50
    assert any("2 complete members recovered" in p.what for p in report.problems)


def test_a_zip_cut_before_its_first_member_ends_says_download_again(tmp_path: Path) -> None:
    cut = tmp_path / "tiny.zip"
    cut.write_bytes(b"PK\x03\x04" + b"\x00" * 10)
    assert not chatgpt.detect(cut)
