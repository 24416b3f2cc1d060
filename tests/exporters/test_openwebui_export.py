"""The Open WebUI export: one JSON array of chats whose history trees are consistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import openwebui
from freehold.ingest import import_path
from freehold.models import Conversation, Message
from freehold.tree import build_tree
from tests.exporters.test_json import fill_archive

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
