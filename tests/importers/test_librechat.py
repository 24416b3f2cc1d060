"""The LibreChat importer on LibreChat's real sample export and on synthetic exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freehold.archive import Archive
from freehold.importers import librechat
from freehold.models import Conversation, ExportInfo, Message, Problem
from tests.builders import ingest, write_zip

DATA = "librechat-import-data"
EXPORT = f"{DATA}/librechat-tree.json"
CLAUDE = "echomine-aucontraire/claude/sample_export.json"
ROOT = "00000000-0000-0000-0000-000000000000"


def records(path: Path) -> list[Any]:
    return list(librechat.iter_conversations(path))


def conversations(path: Path) -> dict[str, Conversation]:
    return {r.source_id: r for r in records(path) if isinstance(r, Conversation)}


def by_id(conv: Conversation) -> dict[str, Message]:
    return {m.source_id: m for m in conv.messages}


def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Independently: every message of a nested export, depth first in file order."""
    return [x for item in items for x in [item, *walk(item.get("children") or [])]]


def msg(mid: str, parent: str, user: bool, text: str, minute: int | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "messageId": mid,
        "parentMessageId": parent,
        "isCreatedByUser": user,
        "sender": "User" if user else "GPT",
        "text": text,
    }
    if minute is not None:
        found["createdAt"] = f"2024-05-01T16:{minute:02d}:00.000Z"
    return found


def export(cid: str, messages: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    return {
        "conversationId": cid,
        "endpoint": "openAI",
        "title": f"chat {cid}",
        "exportAt": "13:18:04 GMT-0400",
        "branches": True,
        "recursive": False,
        "options": {"model": "gpt-4o", **options},
        "messages": messages,
    }


def flat(tmp_path: Path) -> Path:
    """A flat export; the older branch comes last in the file, the newer one is current."""
    messages = [
        msg("q", ROOT, True, "question", 1),
        msg("a-new", "q", False, "newer answer", 5),
        msg("a-old", "q", False, "older answer", 2),
    ]
    path = tmp_path / "flat.json"
    path.write_text(json.dumps(export("flat", messages)))
    return path


# -- detection -------------------------------------------------------------------------------------


def test_detect_matrix(real: Path) -> None:
    assert librechat.detect(real / EXPORT)
    assert not librechat.detect(real / DATA / "openwebui-export.json")
    assert not librechat.detect(real / DATA / "chatgpt-tree.json")
    assert not librechat.detect(real / CLAUDE)


def test_detect_folder_zip_and_messages_tree(real: Path, tmp_path: Path) -> None:
    data = (real / EXPORT).read_bytes()
    assert librechat.detect(write_zip(tmp_path / "l.zip", {"one.json": data}))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "one.json").write_bytes(data)
    assert librechat.detect(folder)
    tree = tmp_path / "tree.json"
    tree.write_text(json.dumps({"conversationId": "t", "messagesTree": []}))
    assert librechat.detect(tree)
    (tmp_path / "other.json").write_text(json.dumps({"conversationId": "t"}))
    assert not librechat.detect(tmp_path / "other.json")


# -- the real file ---------------------------------------------------------------------------------


def test_counts_and_raw_match_the_json(real: Path) -> None:
    path = real / EXPORT
    source = json.loads(path.read_bytes())
    found = records(path)
    assert isinstance(found[0], ExportInfo) and found[0].kind == "librechat"
    assert not [r for r in found if isinstance(r, Problem)]
    (conv,) = [r for r in found if isinstance(r, Conversation)]
    assert conv.source_id == source["conversationId"] and conv.raw == path.read_bytes()
    assert len(conv.messages) == len(walk(source["messages"])) == 9
    assert conv.title == source["title"] and conv.model == "gpt-4-turbo"


def test_tree_shape_and_newest_leaf(real: Path) -> None:
    path = real / EXPORT
    nodes = walk(json.loads(path.read_bytes())["messages"])
    parents = {n["messageId"]: n["parentMessageId"] for n in nodes}
    leaves = [n["messageId"] for n in nodes if not n.get("children")]
    conv = conversations(path)["4a86c40e-e627-4454-b158-889680e23ad3"]
    assert conv.current_leaf == leaves[-1]  # no leaf has a time: the last one in the file
    chain, at = [], leaves[-1]
    while at != ROOT:
        chain.append(at)
        at = parents[at]
    assert [m.source_id for m in conv.messages if m.on_visible_path] == chain[::-1]
    kids: dict[str | None, int] = {}
    for message in conv.messages:
        kids[message.parent_source_id] = kids.get(message.parent_source_id, 0) + 1
    forks = {parent for parent, count in kids.items() if count > 1}
    assert forks == {"4c395510-fdfd-4556-b034-f9440f025e91", "6e4c95ca-fcb1-4869-adc3-b4bcec83a270"}
    assert [m.parent_source_id for m in conv.messages].count(None) == 1


def test_messages_roles_models_and_instructions(real: Path) -> None:
    conv = conversations(real / EXPORT)["4a86c40e-e627-4454-b158-889680e23ad3"]
    first, answer = conv.messages[0], by_id(conv)["4c395510-fdfd-4556-b034-f9440f025e91"]
    assert (first.role, first.model, first.parent_source_id) == ("user", None, None)
    assert first.created_at == 1714581311.53 == conv.created_at
    assert (answer.role, answer.model, answer.author_name) == (
        "assistant",
        "gpt-4-turbo",
        "Software Engineer",
    )
    assert answer.meta["finish_reason"] == "stop" and answer.meta["tokenCount"] == 504
    (context,) = conv.context
    assert (context.kind, context.text) == (
        "custom_instructions",
        "You are an expert software engineer.",
    )
    assert context.data["chatGptLabel"] == "Software Engineer"


# -- synthetic exports -----------------------------------------------------------------------------


def test_flat_export_picks_the_newest_leaf_by_time(tmp_path: Path) -> None:
    conv = conversations(flat(tmp_path))["flat"]
    assert conv.current_leaf == "a-new" and not conv.problems and not conv.context
    assert [m.source_id for m in conv.messages if m.on_visible_path] == ["q", "a-new"]
    assert by_id(conv)["a-old"].model == "gpt-4o"  # from options when the message has none
    assert conv.updated_at is not None and conv.created_at is not None
    assert conv.updated_at - conv.created_at == 240


def test_agent_content_parts(tmp_path: Path) -> None:
    answer = msg("a", "q", False, "", 2)
    answer["content"] = [
        {"type": "think", "think": "zebra pondering"},
        {"type": "tool_call", "tool_call": {"name": "calc", "args": '{"x": 1}', "output": "2"}},
        {"type": "text", "text": "the answer is 2"},
        {"type": "image_url", "image_url": {"url": "x"}},
    ]
    failed = {**msg("e", "a", False, "Something went wrong", 3), "error": True}
    path = tmp_path / "agents.json"
    path.write_text(json.dumps(export("ag", [msg("q", ROOT, True, "hi", 1), answer, failed])))
    messages = by_id(conversations(path)["ag"])
    kinds = [p["type"] for p in messages["a"].parts]
    assert kinds == ["thought", "code", "execution_output", "text", "unknown"]
    assert messages["a"].text == "2\n\nthe answer is 2" and "zebra" not in messages["a"].text
    assert messages["e"].parts == [{"type": "error", "text": "Something went wrong"}]


def test_folder_of_exports_and_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.json").write_bytes(flat(tmp_path).read_bytes())
    (folder / "b.json").write_text(json.dumps(export("b", [msg("m", ROOT, True, "x", 1)])))
    (folder / "c.json").write_text('{"conversationId": "cut", "messages": [')
    (folder / "d.json").write_text(json.dumps({"messages": []}))
    (folder / "e.json").write_text(json.dumps({"conversationId": "", "messages": []}))
    found = records(folder)
    assert found[0].expected_conversations == 5
    assert sorted(r.source_id for r in found if isinstance(r, Conversation)) == ["b", "flat"]
    problems = [r for r in found if isinstance(r, Problem)]
    assert [p.where for p in problems] == ["c.json", "d.json", "e.json"]
    assert all(p.skipped == 1 and "\n" not in p.what and "—" in p.what for p in problems)


def test_broken_links_are_repaired(tmp_path: Path) -> None:
    messages = [msg("q", ROOT, True, "hi", 1), msg("a", "gone", False, "yo", 2), {"text": "no id"}]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(export("br", messages)))
    conv = conversations(path)["br"]
    assert len(conv.messages) == 3 and any("missing parent gone" in p for p in conv.problems)
    assert any("no messageId" in p for p in conv.problems)


def test_deep_recursive_export_is_reported(tmp_path: Path) -> None:
    depth = 1500  # json.dumps cannot write this either, so the text is built by hand
    opening = "".join(f'{{"messageId": "m{i}", "text": "x", "children": [' for i in range(depth))
    nested = opening + "]}" * depth
    path = tmp_path / "deep.json"
    path.write_text(f'{{"conversationId": "deep", "recursive": true, "messages": [{nested}]}}')
    assert librechat.detect(path)
    (problem,) = [r for r in records(path) if isinstance(r, Problem)]
    assert problem.skipped == 1 and "recursive option off" in problem.what


# -- archive level ---------------------------------------------------------------------------------


def test_import_and_reimport_unchanged(archive: Archive, real: Path) -> None:
    report = ingest(archive, real / EXPORT)
    assert report.kind == "librechat" and report.ok
    assert report.conversations["new"] == 1 and report.messages["read"] == 9
    assert report.context_records == 1
    assert archive.search("happiness")
    again = ingest(archive, real / EXPORT)
    assert again.conversations["unchanged"] == 1 and again.messages["new"] == 0
    assert ingest(archive, real / DATA / "chatgpt-tree.json").kind == "chatgpt"


def test_assistants_tool_calls_by_their_type(archive: Archive, tmp_path: Path) -> None:
    """The Assistants endpoint's calls (OpenAI run steps) were read as the Agents shape:
    ``code: "null"`` with no name, counted as understood. Each type is read now, each part
    keeps the call's id, and an unknown type is named in the report."""
    plot = {"input": "print(1)", "outputs": [{"type": "logs", "logs": "1"},
            {"type": "image", "image": {"file_id": "img-1"}}]}  # fmt: skip
    weather = {"name": "wx", "arguments": "{}", "output": "3C"}
    answer = msg("a", "q", False, "", 2)
    answer["content"] = [
        {
            "type": "tool_call",
            "tool_call": {"id": "c", "type": "code_interpreter", "code_interpreter": plot},
        },
        {"type": "tool_call", "tool_call": {"id": "d", "type": "function", "function": weather}},
        {"type": "tool_call", "tool_call": {"id": "e", "type": "file_search", "file_search": {}}},
        {"type": "tool_call", "tool_call": {"id": "f", "type": "telepathy"}},
    ]
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(export("lc", [msg("q", ROOT, True, "plot", 1), answer])))
    parts = by_id(conversations(path)["lc"])["a"].parts
    assert [(p["type"], p.get("name"), p.get("call_id"), p.get("text")) for p in parts] == [
        ("code", "code_interpreter", "c", "print(1)"),
        ("execution_output", None, "c", "1"),
        ("image", None, "c", None),
        ("code", "wx", "d", "{}"),
        ("execution_output", "wx", "d", "3C"),
        ("code", "file_search", "e", "{}"),
        ("unknown", None, None, None),
    ]
    assert parts[2]["pointer"] == "librechat-file://img-1"
    report = ingest(archive, path)
    assert "tool_call+tool_call:telepathy" in report.not_understood
    assert report.attachments["missing"] == 1


def test_files_and_image_parts_are_referenced(tmp_path: Path) -> None:
    """``files`` and ``image_file`` parts gave no reference ("not imported"): the report said 0
    referenced. Each is a missing attachment now, once per file id."""
    question = msg("q", ROOT, True, "see", 1)
    question["files"] = [
        {"file_id": "f1", "filename": "a.pdf", "type": "application/pdf", "bytes": 9}
    ]
    question["content"] = [
        {"type": "text", "text": "see"},
        {"type": "image_file", "image_file": {"file_id": "f2", "filepath": "/images/u/f2.png"}},
    ]
    path = tmp_path / "files.json"
    path.write_text(json.dumps(export("f", [question])))
    message = by_id(conversations(path)["f"])["q"]
    refs = [(r.pointer, r.name, r.mime, r.size) for r in message.attachments]
    assert refs == [
        ("librechat-file://f2", "f2", None, None),
        ("librechat-file://f1", "a.pdf", "application/pdf", 9),
    ]
    assert message.parts[1] == {"type": "image", "pointer": "librechat-file://f2"}
