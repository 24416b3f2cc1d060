"""The Open WebUI export: one JSON array of chats whose history trees are consistent."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive, open_archive
from freehold.errors import FreeholdError
from freehold.exporters import openwebui
from freehold.ingest import import_path
from freehold.models import Conversation, Message
from freehold.tree import build_tree
from tests.builders import LIBRECHAT_PREFIX, SYSTEM_PROMPT, own_system_prompts
from tests.exporters.test_json import PNG, fill_archive
from tests.exporters.test_jsonl import claude_tool_chat

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
KEYS = {"id", "user_id", "title", "chat", "meta", "pinned", "archived", "created_at", "updated_at"}
MESSAGE_KEYS = {"id", "parentId", "childrenIds", "role", "content", "timestamp"}


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


def export(archive: Archive, out: Path, **options: Any) -> int:
    return openwebui.write(archive, archive.iter_conversations(), out, **options)


def items(out: Path) -> list[dict[str, Any]]:
    data = json.loads((out / openwebui.FILE).read_text())
    assert isinstance(data, list)
    return data


def check_history(history: dict[str, Any]) -> None:
    messages = history["messages"]
    assert history["currentId"] in messages
    for mid, msg in messages.items():
        assert set(msg) >= MESSAGE_KEYS and msg["id"] == mid
        assert msg["role"] in ("user", "assistant") and isinstance(msg["content"], str)
        assert isinstance(msg["timestamp"], int)
        if msg["parentId"] is not None:
            assert mid in messages[msg["parentId"]]["childrenIds"]
        for child in msg["childrenIds"]:
            assert messages[child]["parentId"] == mid
        if msg["role"] == "assistant":
            assert msg["done"] is True and isinstance(msg["model"], str)


def current_path(history: dict[str, Any]) -> list[str]:
    path, mid = [], history["currentId"]
    while mid is not None:
        path.append(mid)
        mid = history["messages"][mid]["parentId"]
    return path[::-1]


def test_array_of_consistent_chats(filled: Archive, tmp_path: Path) -> None:
    ticks: list[int] = []
    written = export(filled, tmp_path / "out", progress=ticks.append)
    data = items(tmp_path / "out")
    assert ticks == list(range(1, filled.stats()["conversations"] + 1))
    assert 0 < written == len(data)
    for item in data:
        assert set(item) >= KEYS and item["chat"]["title"] == item["title"]
        assert isinstance(item["chat"]["models"], list) and isinstance(item["meta"]["tags"], list)
        check_history(item["chat"]["history"])


def test_visible_path_and_whole_tree_kept(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    by_id = {item["id"]: item for item in items(tmp_path / "out")}
    branched = 0
    for conv in filled.iter_conversations():
        kept = [m for m in conv.messages if m.role in ("user", "assistant") and not m.hidden]
        if not kept:
            assert conv.id not in by_id
            continue
        history = by_id[conv.id]["chat"]["history"]
        assert set(history["messages"]) == {m.source_id for m in kept}
        visible = [m.source_id for m in kept if m.on_visible_path]
        assert current_path(history) == visible
        branched += any(len(m["childrenIds"]) > 1 for m in history["messages"].values())
    assert branched, "fixtures should hold a branched conversation"


def message(mid: str, parent: str | None, role: str, text: str, **extra: Any) -> Message:
    return Message(mid, parent, role, "text", [{"type": "text", "text": text}], text, **extra)


def test_reasoning_folded_into_the_next_answer() -> None:
    thought = Message(
        "r",
        "u",
        "assistant",
        "thoughts",
        [{"type": "thought", "text": "a < b", "summary": "Hm"}],
        "a < b",
        hidden=True,
    )
    messages = [
        message("s", None, "system", "", hidden=True),
        message("u", "s", "user", "hi"),
        thought,
        message("t", "r", "tool", "result", hidden=True),
        message("a", "t", "assistant", "hello", model="gpt-4o"),
    ]
    conv = Conversation("chatgpt", "c", "t", build_tree(messages, "a").messages, b"{}")
    item = openwebui.chat_item(conv)
    assert item is not None
    history = item["chat"]["history"]
    assert history["currentId"] == "a" and list(history["messages"]) == ["u", "a"]
    assert history["messages"]["a"]["parentId"] == "u"
    content = history["messages"]["a"]["content"]
    assert content.startswith('<details type="reasoning" done="true">\n<summary>Hm</summary>')
    assert "&gt; a &lt; b" in content and content.endswith("</details>\nhello")
    assert item["chat"]["models"] == ["gpt-4o"]
    empty = Conversation("chatgpt", "d", "t", build_tree(messages[:1], "s").messages, b"{}")
    assert openwebui.chat_item(empty) is None


def test_refuses_a_foreign_folder_and_reuses_its_own(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    assert export(filled, out) == len(items(out))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FreeholdError, match=r"not empty.*choose a new or empty folder"):
        export(filled, out)
    other = tmp_path / "other"
    other.mkdir()
    (other / openwebui.FILE).write_text('{"not": "ours"}')
    with pytest.raises(FreeholdError, match="no freehold Open WebUI export"):
        export(filled, other)


def test_empty_archive(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export(archive, out) == 0
    assert items(out) == []
    assert export(archive, out) == 0


def librechat_children(items: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each message's replies, in the order LibreChat's nested export lists them."""
    found: dict[str, list[str]] = {}
    for item in items:
        found[item["messageId"]] = [child["messageId"] for child in item.get("children", [])]
        found.update(librechat_children(item.get("children", [])))
    return found


def test_librechat_siblings_keep_their_order(archive: Archive, real: Path, tmp_path: Path) -> None:
    source = real / "librechat-import-data" / "librechat-tree.json"
    import_path(archive, source)
    export(archive, tmp_path / "out")
    (item,) = items(tmp_path / "out")
    history = item["chat"]["history"]
    expected = librechat_children(json.loads(source.read_text(encoding="utf-8"))["messages"])
    assert {mid: m["childrenIds"] for mid, m in history["messages"].items()} == expected
    assert any(len(children) > 1 for children in expected.values())
    assert history["currentId"] == "1f062c99-ff0a-4cf4-a1cf-7150261a24e2"  # the last reply shown


# --- round trips: Open WebUI → freehold → Open WebUI → freehold ------------------------------

THOUGHT = (
    '<details type="reasoning" done="true" duration="7">\n<summary>Thought for 7 seconds</summary>'
    "\n&gt; weighing &lt;options&gt;\n&gt; second line\n</details>\n"
)
CALL = (
    '<details type="tool_calls" done="true" id="call_1" name="get_weather" '
    'arguments="&quot;{\\&quot;city\\&quot;: \\&quot;Lisbon\\&quot;}&quot;" '
    'result="&quot;Lisbon: 21C &lt;sunny&gt;&quot;" files="" embeds="&quot;&quot;">\n'
    "<summary>Tool Executed</summary>\n</details>\n"
)


def owui_node(mid: str, parent: str | None, role: str, content: str, **extra: Any) -> Any:
    return {"id": mid, "parentId": parent, "childrenIds": [], "role": role, "content": content,
            "timestamp": 1700000100, **extra}  # fmt: skip


def owui_export(folder: Path) -> Path:
    """A chat as Open WebUI writes it: an image, reasoning, a tool call, regenerated answers."""
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    nodes = [
        owui_node(
            "u1", None, "user", "What is the weather?", files=[{"type": "image", "url": url}]
        ),
        owui_node("a1", "u1", "assistant", THOUGHT + CALL + "It is 21C.", model="m1", done=True),
        owui_node("a2", "u1", "assistant", "Second try.", model="m1", done=True),
        owui_node(
            "a3", "u1", "assistant", "Third try.", model="m1", done=True, error={"content": "cut"}
        ),
    ]
    nodes[0]["childrenIds"] = ["a1", "a2", "a3"]
    history = {"currentId": "a2", "messages": {n["id"]: n for n in nodes}}
    chat = {"title": "Weather", "models": ["m1"], "history": history}
    times = {"created_at": 1700000000, "updated_at": 1700000200}
    item = {"id": "owui-1", "user_id": "u", "title": "Weather", "chat": chat, "meta": {},
            "pinned": True, "archived": False, **times}  # fmt: skip
    path = folder / "chat-export-1.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    return path


def shape(archive: Archive) -> list[Any]:
    """What a round trip must keep: per message its role, parts, images, and reply order."""
    found = []
    for conv in archive.iter_conversations():
        order = {m.source_id: n for n, m in enumerate(conv.messages)}
        for m in conv.messages:
            # A result names its call only in Open WebUI's markup; the call itself always does.
            parts = [
                {
                    k: v
                    for k, v in p.items()
                    if k != "pointer" and (k, p["type"]) != ("name", "execution_output")
                }
                for p in m.parts
            ]
            images = [ref.sha256 for ref in m.attachments]
            siblings = sorted(
                (s for s in conv.messages if s.parent_source_id == m.parent_source_id),
                key=lambda s: order[s.source_id],
            )
            rank = [s.source_id for s in siblings].index(m.source_id)
            found.append((m.role, rank, m.on_visible_path, m.status, parts, images))
        found.append((conv.title, conv.starred, conv.created_at))
    return found


def round_trip(archive: Archive, source: Path, tmp_path: Path) -> Archive:
    import_path(archive, source)
    export(archive, tmp_path / "out")
    again = open_archive(tmp_path / "again")
    import_path(again, tmp_path / "out" / openwebui.FILE)
    return again


def test_round_trip_keeps_images_tool_calls_durations_and_order(
    archive: Archive, tmp_path: Path
) -> None:
    again = round_trip(archive, owui_export(tmp_path), tmp_path)
    try:
        assert shape(again) == shape(archive)
    finally:
        again.close()
    (conv,) = archive.iter_conversations()
    messages = {m.source_id: m for m in conv.messages}
    assert messages["u1"].attachments[0].sha256 == hashlib.sha256(PNG).hexdigest()
    thought, code, result, text = messages["a1"].parts
    assert thought == {"type": "thought", "text": "weighing <options>\nsecond line",
                       "summary": None, "duration": 7}  # fmt: skip
    assert (code["name"], code["text"], code["call_id"]) == (
        "get_weather",
        '{"city": "Lisbon"}',
        "call_1",
    )
    assert result["text"] == "Lisbon: 21C <sunny>" and text["text"] == "It is 21C."
    assert [m.source_id for m in conv.messages if m.parent_source_id == "u1"] == ["a1", "a2", "a3"]


def test_the_markup_is_open_webuis_own(archive: Archive, tmp_path: Path) -> None:
    import_path(archive, owui_export(tmp_path))
    export(archive, tmp_path / "out")
    (item,) = items(tmp_path / "out")
    messages = item["chat"]["history"]["messages"]
    assert messages["a1"]["content"] == THOUGHT + CALL + "It is 21C."
    assert messages["u1"]["childrenIds"] == ["a1", "a2", "a3"]
    url = messages["u1"]["files"][0]["url"]
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url[22:]) == PNG
    assert (
        messages["a3"]["error"] == {"content": "cut"} and messages["a3"]["content"] == "Third try."
    )
    assert item["pinned"] is True and item["created_at"] == 1700000000


def test_real_open_webui_export_round_trips(archive: Archive, real: Path, tmp_path: Path) -> None:
    again = round_trip(archive, real / "librechat-import-data" / "openwebui-export.json", tmp_path)
    try:
        assert shape(again) == shape(archive)
    finally:
        again.close()


def data_sha(url: str) -> str:
    return hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()


def test_hidden_tool_steps_and_images_reach_the_next_answer(
    archive: Archive, tmp_path: Path
) -> None:
    import_path(archive, SAMPLE)
    export(archive, tmp_path / "out")
    messages = [
        m for i in items(tmp_path / "out") for m in i["chat"]["history"]["messages"].values()
    ]
    carried = {}
    for message in messages:
        for file in message.get("files", []):
            assert file["type"] == "image" and file["url"].startswith("data:image/")
            carried[data_sha(file["url"])] = message["role"]
    stored = {
        ref.sha256: m
        for conv in archive.iter_conversations()
        for m in conv.messages
        for ref in m.attachments
        if ref.sha256 and (ref.sniffed_mime or "").startswith("image/")
    }
    assert stored and set(stored) == set(carried)
    assert any(m.role == "tool" and carried[sha] == "assistant" for sha, m in stored.items())
    calls = [
        m["content"] for m in messages if '<details type="tool_calls" done="true"' in m["content"]
    ]
    assert any('name="python"' in content for content in calls)
    assert any('name="dalle.text2im"' in content for content in calls)


def test_a_conversations_own_system_prompt_is_params_system_and_comes_back(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Open WebUI's params.system, LibreChat's promptPrefix and ChatGPT's custom instructions
    (message parts) leave as chat.params.system and come back as the conversation's custom
    instructions."""
    own_system_prompts(archive, tmp_path / "in", real)
    export(archive, tmp_path / "out")
    system = {
        i["meta"]["tags"][0]: i["chat"].get("params", {}).get("system")
        for i in items(tmp_path / "out")
    }
    # ChatGPT's were left out before the one system-prompt rule (docs/decisions.md, 2026-12-07)
    chatgpt = system.pop("chatgpt")
    assert system == {"openwebui": SYSTEM_PROMPT, "librechat": LIBRECHAT_PREFIX}
    assert chatgpt.startswith("What the user wants you to know about them:\nPreferred name")
    with open_archive(tmp_path / "again") as again:
        import_path(again, tmp_path / "out" / openwebui.FILE)
        back = {c.title: [(r.kind, r.text) for r in c.context] for c in again.iter_conversations()}
    assert back["S"] == [("custom_instructions", SYSTEM_PROMPT)]
    librechat = next(c.title for c in archive.iter_conversations() if c.source_kind == "librechat")
    assert back[librechat] == [("custom_instructions", LIBRECHAT_PREFIX)]
    assert back["Indigenous DNA in Mexico"] == [("custom_instructions", chatgpt)]


def test_a_human_turn_of_only_tool_results_is_not_a_user_message(
    archive: Archive, tmp_path: Path
) -> None:
    """Probe N #1: Claude sends tool results as a human turn; Open WebUI gets them as the next
    answer's tool block, never as a user message with an empty, nameless call."""
    import_path(archive, claude_tool_chat(tmp_path))
    item = openwebui.chat_item(next(archive.iter_conversations()))
    assert item is not None
    nodes = list(item["chat"]["history"]["messages"].values())
    assert [n["role"] for n in nodes] == ["user", "assistant", "assistant"]
    last = nodes[-1]["content"]
    assert 'name="web_search"' in last and last.endswith("Still 18C.")
