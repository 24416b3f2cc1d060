"""The Open WebUI importer on LibreChat's real sample export and on synthetic exports."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.importers import openwebui
from freehold.models import Conversation, ExportInfo, Message, Problem
from tests.builders import ingest, write_zip

DATA = "librechat-import-data"
EXPORT = f"{DATA}/openwebui-export.json"
CLAUDE = "echomine-aucontraire/claude/sample_export.json"


def records(path: Path) -> list[Any]:
    return list(openwebui.iter_conversations(path))


def conversations(path: Path) -> dict[str, Conversation]:
    return {r.source_id: r for r in records(path) if isinstance(r, Conversation)}


def by_id(conv: Conversation) -> dict[str, Message]:
    return {m.source_id: m for m in conv.messages}


def node(mid: str, parent: str | None, role: str, content: str, ts: int) -> dict[str, Any]:
    return {
        "id": mid,
        "parentId": parent,
        "childrenIds": [],
        "role": role,
        "content": content,
        "timestamp": ts,
    }


def item(cid: str, nodes: list[dict[str, Any]], current: str, **extra: Any) -> dict[str, Any]:
    for each in nodes:
        each["childrenIds"] = [n["id"] for n in nodes if n["parentId"] == each["id"]]
    history = {"currentId": current, "messages": {n["id"]: n for n in nodes}}
    chat = {"title": f"chat {cid}", "models": ["m1", "m2"], "history": history}
    return {
        "id": cid,
        "user_id": "u",
        "title": f"chat {cid}",
        "chat": chat,
        "created_at": 1700000000000,  # milliseconds, as older releases wrote
        "updated_at": 1700000050,
        "archived": True,
        "pinned": True,
        "meta": {},
        **extra,
    }


REASONING = (
    '<details type="reasoning" done="true" duration="2"><summary>Thought for 2 seconds</summary>\n'
    "&gt; zebra thinking\n&gt; second line\n</details>\nvisible answer"
)
TOOL = (
    '<details type="tool_calls" done="true" name="lookup" arguments="{&quot;q&quot;: 1}" '
    'result="&quot;found it&quot;"><summary>Tool Executed</summary></details>after the tool'
)


def branching(tmp_path: Path) -> Path:
    """u1 → a1 → {u2 → a2, u2b → a2b (current, with reasoning and a tool call)}."""
    nodes = [
        node("u1", None, "user", "first", 1700000001),
        node("a1", "u1", "assistant", "one", 1700000002),
        node("u2", "a1", "user", "second", 1700000003),
        node("a2", "u2", "assistant", "old answer", 1700000004),
        node("u2b", "a1", "user", "edited", 1700000005),
        node("a2b", "u2b", "assistant", REASONING, 1700000006),
        node("t", "a2b", "assistant", TOOL, 1700000007),
        node("x", "t", "assistant", '<details type="mystery">?</details>', 1700000008),
    ]
    path = tmp_path / "chat-export-1.json"
    path.write_text(json.dumps([item("tree", nodes, "x")], indent=2))
    return path


# -- detection -------------------------------------------------------------------------------------


def test_detect_matrix(real: Path) -> None:
    assert openwebui.detect(real / EXPORT)
    assert not openwebui.detect(real / DATA / "librechat-tree.json")
    assert not openwebui.detect(real / DATA / "chatgpt-tree.json")
    assert not openwebui.detect(real / CLAUDE)


def test_detect_zip_folder_and_legacy(real: Path, tmp_path: Path) -> None:
    data = (real / EXPORT).read_bytes()
    assert openwebui.detect(write_zip(tmp_path / "w.zip", {"exports/chat-export.json": data}))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "chat-export.json").write_bytes(data)
    assert openwebui.detect(folder)
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps([{"id": "l", "history": {"messages": {}}, "messages": []}]))
    assert openwebui.detect(legacy)
    (tmp_path / "junk.json").write_text("not json")
    assert not openwebui.detect(tmp_path / "junk.json")


def test_a_first_element_that_is_no_chat_does_not_refuse_the_file(tmp_path: Path) -> None:
    """Any of the first elements being a chat makes the file Open WebUI's; the odd one is
    reported on its own."""
    good = item("ok", [node("m", None, "user", "hi", 1)], "m")
    path = tmp_path / "chat-export.json"
    path.write_text(json.dumps([{"id": "odd", "chat": "broken"}, good]))
    assert openwebui.detect(path)
    found = conversations(path)
    assert found["ok"].messages[0].text == "hi"
    assert any("chat" in problem for problem in found["odd"].problems)


# -- the real file ---------------------------------------------------------------------------------


def visible_path(item: dict[str, Any]) -> list[str]:
    """Independently: walk parentId up from currentId."""
    history = item["chat"]["history"]
    path, at = [], history["currentId"]
    while at is not None:
        path.append(at)
        at = history["messages"][at]["parentId"]
    return path[::-1]


def test_counts_tree_and_raw_match_the_json(real: Path) -> None:
    path = real / EXPORT
    source = {c["id"]: c for c in json.loads(path.read_bytes())}
    found = records(path)
    assert isinstance(found[0], ExportInfo) and found[0].kind == "openwebui"
    assert not [r for r in found if isinstance(r, Problem)]
    convs = {r.source_id: r for r in found if isinstance(r, Conversation)}
    expected = {cid: len(c["chat"]["history"]["messages"]) for cid, c in source.items()}
    assert {cid: len(c.messages) for cid, c in convs.items()} == expected
    for cid, conv in convs.items():
        assert [m.source_id for m in conv.messages if m.on_visible_path] == visible_path(
            source[cid]
        )
        assert conv.current_leaf == source[cid]["chat"]["history"]["currentId"]
        assert conv.raw in path.read_bytes() and json.loads(conv.raw) == source[cid]
        assert conv.model == source[cid]["chat"]["models"][0]
        assert conv.created_at == source[cid]["created_at"]
        assert (conv.starred, conv.archived) == (False, False)


def test_reasoning_is_a_thought_not_searchable(real: Path) -> None:
    answer = by_id(conversations(real / EXPORT)["reasoning-chat"])["ra2"]
    thought = answer.parts[0]
    assert thought["type"] == "thought" and thought["text"].startswith("15 * 17 = 15 * 10")
    assert answer.text.startswith("255") and "150 + 105" not in answer.text and not answer.hidden
    assert (answer.role, answer.model, answer.created_at) == (
        "assistant",
        "deepseek-r1",
        1700000010,
    )


def test_tool_calls_are_kept(real: Path) -> None:
    answer = by_id(conversations(real / EXPORT)["tool-chat"])["ta2"]
    code, result, text = answer.parts
    assert code["type"] == "code" and code["name"] == "get_weather"
    assert json.loads(code["text"]) == {"city": "Paris"}
    assert result == {"type": "execution_output", "text": "Paris: 18C, rain", "call_id": "call_1"}
    assert text == {"type": "text", "text": "The weather in Paris is 18C with rain."}
    assert "Paris: 18C, rain" in answer.text and '"city"' not in answer.text


def test_content_that_output_does_not_render_is_kept(real: Path) -> None:
    """ra2's content holds another reasoning than its output[]: both kept, the answer once."""
    answer = by_id(conversations(real / EXPORT)["reasoning-chat"])["ra2"]
    assert [p["type"] for p in answer.parts] == ["thought", "text", "thought"]
    assert answer.parts[2]["text"] == "Let me break this down..."
    assert answer.parts[2]["duration"] == 3
    assert answer.text == "255\n\nLet me break this down..."


def test_content_and_output_that_agree_are_shown_once(tmp_path: Path) -> None:
    agree = node("a", None, "assistant", REASONING, 1)
    agree["output"] = [
        {"type": "reasoning", "content": [{"type": "output_text", "text": "zebra thinking\n"}]},
        {"type": "message", "content": [{"type": "output_text", "text": "visible answer"}]},
    ]
    agree["output"][0]["content"].append({"type": "output_text", "text": "second line"})
    edited = node("e", "a", "assistant", "edited by hand", 2)
    edited["output"] = [{"type": "message", "content": [{"type": "output_text", "text": "model"}]}]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(item("c", [agree, edited], "e")))
    messages = by_id(conversations(path)["c"])
    assert [p["type"] for p in messages["a"].parts] == ["thought", "text"]
    assert messages["a"].text == "visible answer"
    assert messages["e"].parts[1] == {"type": "text", "text": "edited by hand"}
    assert messages["e"].text == "model\n\nedited by hand"


# -- synthetic exports -----------------------------------------------------------------------------


def test_branches_follow_current_id(tmp_path: Path) -> None:
    conv = conversations(branching(tmp_path))["tree"]
    visible = [m.source_id for m in conv.messages if m.on_visible_path]
    assert visible == ["u1", "a1", "u2b", "a2b", "t", "x"] and not conv.problems
    assert {m.source_id for m in conv.messages if m.parent_source_id == "a1"} == {"u2", "u2b"}
    assert conv.created_at == 1700000000.0 and conv.updated_at == 1700000050.0  # ms normalised
    assert (conv.starred, conv.archived, conv.model) == (True, True, "m1")


def test_details_blocks_in_content(tmp_path: Path) -> None:
    messages = by_id(conversations(branching(tmp_path))["tree"])
    reasoning = messages["a2b"]
    assert reasoning.parts == [
        {
            "type": "thought",
            "text": "zebra thinking\nsecond line",
            "summary": None,  # Open WebUI's label for the duration
            "duration": 2,
        },
        {"type": "text", "text": "visible answer"},
    ]
    assert reasoning.text == "visible answer" and reasoning.content_type == "reasoning+text"
    tool = messages["t"]
    assert [p["type"] for p in tool.parts] == ["code", "execution_output", "text"]
    assert tool.parts[0]["text"] == '{"q": 1}' and tool.parts[0]["name"] == "lookup"
    assert tool.parts[1]["text"] == "found it" and "found it" in tool.text  # JSON-decoded
    (unknown,) = messages["x"].parts
    assert unknown["type"] == "unknown" and unknown["content_type"] == "details:mystery"


def test_reasoning_only_message_is_hidden(tmp_path: Path) -> None:
    only = node("r", None, "assistant", '<details type="reasoning">hmm</details>', 1)
    only["output"] = [{"type": "reasoning", "content": [{"type": "output_text", "text": "hmm"}]}]
    odd = node("o", "r", "assistant", "shown text", 2)
    odd["output"] = [{"type": "web_search_call", "id": "w"}]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(item("c", [only, odd], "o")))  # one chat object, no array
    messages = by_id(conversations(path)["c"])
    assert messages["r"].hidden and messages["r"].text == ""
    assert [p["type"] for p in messages["o"].parts] == ["unknown", "text"]
    assert messages["o"].text == "shown text"  # no output message: content's text is kept


def test_legacy_items_without_chat_wrapper(tmp_path: Path) -> None:
    nodes = {"a": node("a", None, "user", "hi", 5), "b": node("b", "a", "assistant", "yo", 6)}
    history = {"currentId": "b", "messages": nodes}
    legacy = {"id": "L", "title": "old", "history": history, "messages": [], "models": ["x"]}
    listed = {
        "id": "M",
        "title": "list",
        "history": {},
        "messages": [
            {"id": "p", "role": "user", "content": "one"},
            {"id": "q", "role": "assistant", "content": "two"},
        ],
    }
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps([legacy, listed]))
    convs = conversations(path)
    assert by_id(convs["L"])["b"].parent_source_id == "a" and convs["L"].model == "x"
    assert by_id(convs["M"])["q"].parent_source_id == "p" and convs["M"].current_leaf == "q"


def test_bad_input_becomes_problems(tmp_path: Path) -> None:
    good = json.dumps(item("ok", [node("m", None, "user", "hi", 1)], "m"))
    path = tmp_path / "chat-export.json"
    path.write_text(f'[{good}, 7, {{"title": "no id", "chat": {{}}}}, {{"id": "cut", "chat')
    found = records(path)
    assert [r.source_id for r in found if isinstance(r, Conversation)] == ["ok"]
    problems = [r for r in found if isinstance(r, Problem)]
    assert [p.skipped for p in problems] == [1, 1, 0]
    assert "no id" in problems[1].what and "3 chats read" in problems[2].what
    assert all("\n" not in p.what and "—" in p.what for p in problems)


def test_folder_sources_and_rating_are_converted_tags_reported(tmp_path: Path) -> None:
    """``folder_id`` is the chat's project, ``sources`` become citations (numbered as Open WebUI
    numbers them), ``annotation`` stays on its message; tags have no place and are said so."""
    answer = node("a", "q", "assistant", "Light is fast [1].", 2)
    web = {"type": "web_search", "name": "search", "urls": ["https://nasa.gov/c"]}
    answer["sources"] = [
        {
            "source": web,
            "document": ["299,792,458 m/s", "exact since 1983", "breaks every two hours"],
            "metadata": [
                {"source": "https://nasa.gov/c", "title": "NASA"},
                {"source": "https://nasa.gov/c", "title": "NASA"},
                {"source": "https://aaa.com/b", "title": "AAA"},
            ],
        },
        {"source": {"id": "f1", "name": "notes.pdf"}, "document": ["p. 3"], "metadata": [{}]},
    ]
    answer["annotation"] = {"rating": 1, "reason": "Accurate information", "comment": "good"}
    chat = item("c", [node("q", None, "user", "speed of light?", 1), answer], "a")
    chat |= {"folder_id": "folder-7", "meta": {"tags": ["physics", "facts"]}}
    path = tmp_path / "chat-export.json"
    path.write_text(json.dumps([chat, item("d", [node("m", None, "user", "hi", 1)], "m")]))
    found = records(path)
    conv = next(r for r in found if isinstance(r, Conversation) and r.source_id == "c")
    assert conv.project == "folder-7"
    reply = by_id(conv)["a"]
    cited = [p for p in reply.parts if p["type"] == "citation"]
    assert [(c["marker"], c.get("url"), c.get("title")) for c in cited] == [
        ("[1]", "https://nasa.gov/c", "NASA"),
        ("[2]", "https://aaa.com/b", "AAA"),
        ("[3]", None, "notes.pdf"),
    ]
    assert reply.text == "Light is fast [1]."
    assert reply.meta["annotation"] == answer["annotation"]
    (tags,) = [r for r in found if isinstance(r, Problem) and "tags" in r.what]
    assert not tags.lost and "1 chat" in tags.what and "meta.tags" in tags.what


def test_broken_links_are_repaired_and_reported(tmp_path: Path) -> None:
    nodes = [node("a", None, "user", "hi", 1), node("b", "gone", "assistant", "yo", 2)]
    path = tmp_path / "c.json"
    path.write_text(json.dumps([item("c", nodes, "nowhere")]))
    conv = conversations(path)["c"]
    assert len(conv.messages) == 2 and len(conv.problems) == 2
    assert conv.current_leaf == "b"


def test_code_interpreter_and_side_files_in_a_zip(tmp_path: Path) -> None:
    block = '<details type="code_interpreter" lang="python" output="4">print(2 + 2)</details>'
    chat = item("z", [node("c", None, "assistant", block, 1)], "c")
    members: dict[str | zipfile.ZipInfo, bytes] = {
        "chat-export.json": json.dumps([chat]).encode(),
        "notes.json": b"{}",
    }
    found = records(write_zip(tmp_path / "z.zip", members))
    (message,) = next(r for r in found if isinstance(r, Conversation)).messages
    assert message.parts == [
        {"type": "code", "text": "print(2 + 2)", "language": "python"},
        {"type": "execution_output", "text": "4"},
    ]
    (problem,) = [r for r in found if isinstance(r, Problem)]
    assert problem.where == "notes.json" and not problem.lost and problem.skipped == 0


def test_not_open_webui_is_refused(real: Path) -> None:
    with pytest.raises(Exception, match="no Open WebUI chats"):
        records(real / DATA / "chatgpt-tree.json")


# -- archive level ---------------------------------------------------------------------------------


def test_import_and_reimport_unchanged(archive: Archive, real: Path, tmp_path: Path) -> None:
    report = ingest(archive, real / EXPORT)
    assert report.kind == "openwebui" and report.ok
    assert report.conversations["new"] == 3 and report.messages["read"] == 6
    assert archive.search("Paris") and not archive.search("150")
    assert archive.search("break this down")  # content's reasoning, which output[] differs from
    again = ingest(archive, real / EXPORT)
    assert again.conversations["unchanged"] == 3 and again.messages["new"] == 0
    tree = ingest(archive, branching(tmp_path))
    assert tree.kind == "openwebui" and tree.not_understood == {"details:mystery": 1}


def test_inline_images_of_different_messages_keep_their_own_bytes(
    archive: Archive, tmp_path: Path
) -> None:
    """Every message's first inline image sits at ``files[0]``: the import must not take
    one message's bytes for another's (it reads the bytes behind a pointer once)."""
    images = {"u1": b"\x89PNG first image", "u2": b"\x89PNG second image"}
    nodes = [
        node("u1", None, "user", "one", 1700000001),
        node("a1", "u1", "assistant", "ok", 1700000002),
        node("u2", "a1", "user", "two", 1700000003),
    ]
    for each in nodes:
        if each["id"] in images:
            url = "data:image/png;base64," + base64.b64encode(images[each["id"]]).decode()
            each["files"] = [{"type": "image", "url": url, "name": f"{each['id']}.png"}]
    path = tmp_path / "chat-export-1.json"
    path.write_text(json.dumps([item("pics", nodes, "u2")]))
    ingest(archive, path)
    (conv,) = archive.iter_conversations()
    stored = {m.source_id: m.attachments[0].sha256 for m in conv.messages if m.attachments}
    assert stored == {mid: hashlib.sha256(data).hexdigest() for mid, data in images.items()}


def test_every_file_a_message_names_is_referenced(archive: Archive, tmp_path: Path) -> None:
    """Only inline images became attachments: an uploaded ``report.pdf`` (kept in Open WebUI's
    own store) gave no reference, and the report said 0 referenced. It is a missing one now;
    a knowledge ``collection`` is no file."""
    user = node("u1", None, "user", "summarise", 1700000001)
    pdf = {"type": "file", "id": "f-1", "name": "report.pdf", "url": "/api/v1/files/f-1"}
    twin = {"type": "file", "id": "f-2", "name": "report.pdf"}  # another upload, same name
    user["files"] = [pdf, twin, {"type": "collection", "id": "kb", "name": "Docs"}]
    path = tmp_path / "chat-export.json"
    path.write_text(json.dumps([item("c1", [user], "u1")]))
    (conv,) = conversations(path).values()
    refs = conv.messages[0].attachments
    assert [(r.pointer, r.name, r.opener) for r in refs] == [
        ("openwebui-file://f-1", "report.pdf", None),
        ("openwebui-file://f-2", "report.pdf", None),
    ]
    report = ingest(archive, path)
    assert report.attachments["referenced"] == 2 and report.attachments["missing"] == 2
