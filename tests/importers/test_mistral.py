"""The Mistral Le Chat importer on small synthetic chat-<uuid>.json files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freehold.archive import Archive
from freehold.importers import chatgpt, claude, freehold, grok, llm, mistral
from freehold.models import Conversation, ExportInfo, Problem, SourceFile
from tests.builders import ingest, write_zip

U1 = "0b6f2a5e-3c1d-4e8f-9a7b-1c2d3e4f5a6b"
U2 = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


def lechat(uuid: str, first: str) -> list[dict[str, Any]]:
    """Le Chat's shape as nexus-ai-chat-importer reads it."""
    return [
        {
            "id": "m1",
            "version": 0,
            "chatId": uuid,
            "role": "user",
            "content": first,
            "contentChunks": None,
            "createdAt": "2025-03-01T10:00:00.000Z",
            "files": [{"type": "image", "name": "cat.png"}],
        },
        {
            "id": "m2",
            "version": 0,
            "chatId": uuid,
            "role": "assistant",
            "content": "Searching.",
            "contentChunks": [
                {"type": "text", "text": "Searching."},
                {"type": "tool_call", "name": "web_search", "publicArguments": '{"q":"cats"}',
                 "publicResult": {"hits": 3}},
                {"type": "reference", "referenceIds": [1]},
            ],
            "createdAt": "2025-03-01T10:00:05.000Z",
            "files": [],
        },
    ]  # fmt: skip


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "lechat"
    root.mkdir()
    (root / f"chat-{U1}.json").write_text(json.dumps(lechat(U1, "x" * 200)))
    minimal = {"messages": [{"role": "user", "content": "short one"}, {"role": "assistant"}]}
    (root / f"chat-{U2}.json").write_text(json.dumps(minimal))
    return root


def records(path: Path) -> list[Any]:
    return list(mistral.iter_conversations(path))


def test_detect_matrix(tmp_path: Path, real: Path) -> None:
    root = folder(tmp_path)
    assert mistral.detect(root)
    assert mistral.detect(root / f"chat-{U1}.json")
    data = (root / f"chat-{U1}.json").read_bytes()
    assert mistral.detect(write_zip(tmp_path / "l.zip", {f"export/chat-{U1}.json": data}))
    assert not mistral.detect(real / "librechat-import-data" / "chatgpt-tree.json")
    renamed = tmp_path / "conversation.json"
    renamed.write_bytes(data)
    assert not mistral.detect(renamed)
    junk = tmp_path / f"chat-{U2}.json"
    junk.write_text('{"title": "not messages"}')
    assert not mistral.detect(junk)
    assert not any(m.detect(root) for m in (freehold, chatgpt, claude, grok, llm))


def test_folder_of_two_chats(tmp_path: Path) -> None:
    found = records(folder(tmp_path))
    assert isinstance(found[0], ExportInfo) and found[0].kind == "mistral"
    assert len(found[0].files) == 2
    assert not [r for r in found if isinstance(r, Problem)]
    first, second = (r for r in found if isinstance(r, Conversation))
    assert first.source_id == U1 and second.source_id == U2
    assert first.title == "x" * 79 + "…" and len(first.title) == 80
    assert second.title == "short one"
    assert [m.role for m in first.messages] == ["user", "assistant"]
    assert [m.source_id for m in first.messages] == ["m1", "m2"]
    (cat,) = first.messages[0].attachments  # no chat-<uuid>-files/ folder: missing
    assert (cat.pointer, cat.name, cat.opener) == ("mistral-file://cat.png", "cat.png", None)
    answer = first.messages[1]
    assert [p["type"] for p in answer.parts] == ["text", "code", "execution_output", "unknown"]
    assert answer.text == "Searching." and answer.parent_source_id == "m1"
    assert answer.created_at == first.messages[0].created_at + 5  # type: ignore[operator]
    assert first.current_leaf == "m2" and all(m.on_visible_path for m in first.messages)
    assert [m.source_id for m in second.messages] == ["message-0", "message-1"]
    assert json.loads(first.raw)[0]["chatId"] == U1


def test_bad_file_is_one_problem(tmp_path: Path) -> None:
    root = folder(tmp_path)
    (root / "chat-11111111-2222-4333-8444-555555555555.json").write_text("[{")
    found = records(root)
    problems = [r for r in found if isinstance(r, Problem)]
    assert len(problems) == 1 and problems[0].skipped == 1 and "\n" not in problems[0].what
    assert len([r for r in found if isinstance(r, Conversation)]) == 2


def test_import_and_reimport_unchanged(archive: Archive, tmp_path: Path) -> None:
    root = folder(tmp_path)
    report = ingest(archive, root)
    assert report.kind == "mistral" and report.ok
    assert report.conversations["new"] == 2 and report.messages["read"] == 4
    assert archive.search("Searching")
    again = ingest(archive, root)
    assert again.conversations["unchanged"] == 2 and again.messages["new"] == 0


def test_a_chats_files_are_attachments_with_their_bytes(archive: Archive, tmp_path: Path) -> None:
    """The files of ``chat-<uuid>-files/`` were named in ``meta`` only and reported "an image
    (PNG), not an export; left out" as not lost: their bytes never reached the archive."""
    root = folder(tmp_path)
    files = root / f"chat-{U1}-files"
    files.mkdir()
    png = b"\x89PNG\r\n\x1a\n" + bytes(300)
    (files / "cat.png").write_bytes(png)
    (files / "stray.txt").write_text("named by no message")
    found = records(root)
    first = next(r for r in found if isinstance(r, Conversation))
    (cat,) = first.messages[0].attachments
    assert cat.opener is not None
    with cat.opener() as handle:
        assert handle.read() == png
    (stray,) = [r for r in found if isinstance(r, SourceFile)]
    assert stray.name.endswith(f"chat-{U1}-files/stray.txt")
    report = ingest(archive, root)
    assert report.attachments["found"] == 1 and report.attachments["stored"] == 1
    assert not [p for p in report.to_json()["problems"] if "left out" in str(p)]
