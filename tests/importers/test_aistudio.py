"""The AI Studio importer on the real polylogue fixtures and on small synthetic prompts."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.importers import aistudio, chatgpt, claude, freehold, grok
from freehold.models import Conversation, ExportInfo, Message, Problem
from tests.builders import ingest, png, write_zip

MISC = "polylogue-aistudio-and-misc"
FILES = ("multimodal_session", "branching_session", "code_execution_session", "text_only_prompt")


def fixture(real: Path, name: str) -> Path:
    return real / MISC / f"aistudio-{name}.json"


def conversations(path: Path) -> list[Conversation]:
    return [r for r in aistudio.iter_conversations(path) if isinstance(r, Conversation)]


def one(path: Path) -> Conversation:
    (conv,) = conversations(path)
    return conv


def by_id(conv: Conversation) -> dict[str, Message]:
    return {m.source_id: m for m in conv.messages}


def prompt(chunks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"displayName": "synthetic", "chunkedPrompt": {"chunks": chunks}, **extra}


# -- detection -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_detects_each_fixture(real: Path, name: str) -> None:
    assert aistudio.detect(fixture(real, name))


def test_detect_refuses_other_exports(real: Path, tmp_path: Path) -> None:
    assert not aistudio.detect(real / "librechat-import-data" / "chatgpt-tree.json")
    assert not aistudio.detect(real / "echomine-aucontraire" / "claude" / "sample_export.json")
    assert not aistudio.detect(real / MISC / "grok-export.json")
    assert not aistudio.detect(real / MISC / "claude-design-session.json")
    assert not aistudio.detect(tmp_path / "missing.json")


def test_the_others_refuse_ai_studio(real: Path) -> None:
    for name in FILES:
        path = fixture(real, name)
        assert not any(m.detect(path) for m in (freehold, chatgpt, claude, grok)), name


def test_folder_and_zip_give_one_conversation_per_file(real: Path, tmp_path: Path) -> None:
    folder = tmp_path / "Google AI Studio"
    folder.mkdir()
    members: dict[Any, bytes] = {}
    for name in FILES:
        data = fixture(real, name).read_bytes()
        (folder / name).write_bytes(data)  # Drive saves prompts without an extension
        members[f"Takeout/Drive/Google AI Studio/{name}"] = data
    (folder / "notes.txt").write_text("not a prompt")
    zipped = write_zip(tmp_path / "drive.zip", members)
    for path in (folder, zipped):
        assert aistudio.detect(path)
        found = list(aistudio.iter_conversations(path))
        assert isinstance(found[0], ExportInfo) and found[0].expected_conversations == 4
        ids = sorted(c.source_id for c in found if isinstance(c, Conversation))
        assert ids == sorted(json.loads(fixture(real, n).read_bytes())["id"] for n in FILES)


# -- real files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_counts_raw_and_ids_match_the_json(real: Path, name: str) -> None:
    path = fixture(real, name)
    source = json.loads(path.read_bytes())
    found = list(aistudio.iter_conversations(path))
    assert isinstance(found[0], ExportInfo) and found[0].kind == "aistudio"
    assert not [r for r in found if isinstance(r, Problem)]
    conv = one(path)
    assert len(conv.messages) == len(source["chunkedPrompt"]["chunks"])
    assert conv.raw == path.read_bytes() and conv.source_id == source["id"]
    assert conv.title == source.get("displayName", source.get("title")) and not conv.problems


def test_thought_is_hidden_and_not_searchable(real: Path) -> None:
    conv = one(fixture(real, "code_execution_session"))
    thought = by_id(conv)["chunk-thought-1"]
    assert thought.hidden and thought.role == "assistant" and thought.text == ""
    assert thought.parts == [
        {"type": "thought", "text": "I should call code execution and sum 1..10."}
    ]
    assert all("sum 1..10" not in m.text for m in conv.messages)


def test_code_execution_parts(real: Path) -> None:
    conv = one(fixture(real, "code_execution_session"))
    code = by_id(conv)["chunk-code-1"]
    assert [p["type"] for p in code.parts] == ["text", "code", "execution_output"]
    assert code.parts[1] == {
        "type": "code",
        "language": "python",
        "text": "print(sum(range(1, 11)))",
    }
    assert code.parts[2]["text"] == "55" and code.content_type == "text+code+execution_output"
    assert by_id(conv)["chunk-user-1"].text == "Compute the sum of the first 10 integers."


def test_multimodal_parts_and_attachments(real: Path) -> None:
    conv = one(fixture(real, "multimodal_session"))
    doc, image, video = (by_id(conv)[f"chunk-user-{n}"] for n in (1, 2, 3))
    (drive,) = doc.attachments
    assert (drive.pointer, drive.name, drive.mime, drive.size, drive.opener) == (
        "gdrive://doc-attached-1",
        "spec.pdf",
        "application/pdf",
        2048,
        None,
    )
    assert image.parts[0]["type"] == "image"
    (inline,) = image.attachments
    assert inline.opener is not None and inline.mime == "image/png"
    assert inline.opener().read() == base64.b64decode("iVBORw0KGgo=")
    assert video.parts[0]["url"] == "https://www.youtube.com/watch?v=abc123"


def test_branching_follows_the_file_structure(real: Path) -> None:
    path = fixture(real, "branching_session")
    chunks = json.loads(path.read_bytes())["chunkedPrompt"]["chunks"]
    ids = [c["id"] for c in chunks]
    parents = {
        c["id"]: (c.get("branchParent") or {}).get("id") or (ids[i - 1] if i else None)
        for i, c in enumerate(chunks)
    }
    expected, node = [], ids[-1]
    while node is not None:
        expected.insert(0, node)
        node = parents[node]
    conv = one(path)
    assert {m.source_id: m.parent_source_id for m in conv.messages} == parents
    assert [m.source_id for m in conv.messages if m.on_visible_path] == expected
    kids = [m.source_id for m in conv.messages if m.parent_source_id == "chunk-user-1"]
    assert sorted(kids) == ["chunk-model-edit-1", "chunk-model-edit-2"]  # the fork
    assert conv.current_leaf == "chunk-error-1"
    error = by_id(conv)["chunk-error-1"]
    assert error.status == "interrupted" and error.parts[-1] == {
        "type": "error",
        "text": "Stream interrupted",
    }
    cite = by_id(conv)["chunk-model-edit-2"].parts[-1]
    assert cite == {
        "type": "citation",
        "marker": "[1]",
        "url": "https://example.com/source",
        "title": "Example",
    }


# -- synthetic prompts -----------------------------------------------------------------------------


def test_system_instruction_thought_parts_and_no_id(tmp_path: Path) -> None:
    data = prompt(
        [
            {"role": "user", "text": "Hello there, model"},
            {
                "role": "model",
                "parts": [{"text": "pondering zebras", "thought": True}, {"text": "Hi."}],
            },
        ],
        systemInstruction={"parts": [{"text": "Be brief."}]},
        runSettings={"model": "models/gemini-2.5-pro"},
    )
    del data["displayName"]
    path = tmp_path / "prompt"
    path.write_bytes(json.dumps(data).encode())
    conv = one(path)
    assert conv.source_id == hashlib.sha256(path.read_bytes()).hexdigest()
    assert conv.title == "Hello there, model" and conv.model == "models/gemini-2.5-pro"
    (context,) = conv.context
    assert (context.kind, context.text) == ("system_instructions", "Be brief.")
    system, user, answer = conv.messages
    assert system.role == "system" and system.hidden and user.parent_source_id == system.source_id
    assert [p["type"] for p in answer.parts] == ["thought", "text"] and answer.text == "Hi."
    assert answer.model == "models/gemini-2.5-pro" and not answer.hidden


def test_bad_input_becomes_problems(tmp_path: Path) -> None:
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps(prompt([{"role": "user", "text": "hi"}], id="g")))
    (folder / "cut.json").write_text('{"chunkedPrompt": {"chunks": [{"role": "us')
    (folder / "wrong.json").write_text('{"chunkedPrompt": {"chunks": "nope"}}')
    bad_b64 = prompt(
        [{"id": "x", "role": "user", "inlineFile": {"mimeType": "image/png", "data": "!!"}}]
    )
    (folder / "b64.json").write_text(json.dumps({**bad_b64, "id": "b"}))
    found = list(aistudio.iter_conversations(folder))
    problems = [r for r in found if isinstance(r, Problem)]
    assert sorted(p.where for p in problems) == ["cut.json", "wrong.json"]
    assert all(p.skipped == 1 and "—" in p.what and "\n" not in p.what for p in problems)
    convs = {c.source_id: c for c in found if isinstance(c, Conversation)}
    assert sorted(convs) == ["b", "g"]
    assert convs["b"].messages[0].attachments[0].opener is None and convs["b"].problems
    not_prompt = tmp_path / "plain.json"
    not_prompt.write_text("[]")
    with pytest.raises(Exception, match="no AI Studio prompt"):
        list(aistudio.iter_conversations(not_prompt))


# -- archive level ---------------------------------------------------------------------------------


def test_import_stores_inline_bytes_and_reimport_is_unchanged(
    archive: Archive, tmp_path: Path
) -> None:
    image = png(3, 2)
    data = prompt(
        [
            {
                "id": "u",
                "role": "user",
                "text": "look",
                "inlineFile": {"mimeType": "image/png", "data": base64.b64encode(image).decode()},
            },
            {"id": "t", "role": "model", "isThought": True, "text": "secretthinking"},
            {"id": "a", "role": "model", "text": "a tiny picture"},
        ],
        id="pic",
    )
    path = tmp_path / "pic.json"
    path.write_text(json.dumps(data))
    report = ingest(archive, path)
    assert report.kind == "aistudio" and report.ok
    assert report.conversations["new"] == 1 and report.messages["read"] == 3
    assert report.attachments["stored"] == 1 and report.attachments["found"] == 1
    assert archive.blob_path(hashlib.sha256(image).hexdigest()).read_bytes() == image
    assert archive.search("picture") and not archive.search("secretthinking")
    again = ingest(archive, path)
    assert again.conversations["unchanged"] == 1 and again.messages["new"] == 0


def test_import_real_fixtures(archive: Archive, real: Path) -> None:
    for name in FILES:
        report = ingest(archive, fixture(real, name))
        assert report.kind == "aistudio" and report.conversations["new"] == 1, name
    multimodal = ingest(archive, fixture(real, "multimodal_session"))
    assert multimodal.conversations["unchanged"] == 1
    assert ingest(archive, real / "librechat-import-data" / "chatgpt-tree.json").kind == "chatgpt"
