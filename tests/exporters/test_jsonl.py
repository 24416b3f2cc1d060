"""The fine-tuning JSONL export: every line a valid chat, branches as extra lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import jsonl
from freehold.models import ContextRecord, Conversation, Message
from freehold.tree import branch_paths, build_tree
from tests.exporters.test_json import fill_archive


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


def export(archive: Archive, out: Path, **options: Any) -> int:
    return jsonl.write(archive, archive.iter_conversations(), out, **options)


def chats(out: Path) -> list[list[dict[str, Any]]]:
    records = [json.loads(line) for line in (out / jsonl.CONVERSATIONS).read_text().splitlines()]
    assert all(set(record) == {"messages"} for record in records)
    return [record["messages"] for record in records]


def check_chat(chat: list[dict[str, Any]]) -> None:
    assert chat, "empty message list"
    for entry in chat:
        assert set(entry) == {"role", "content"}
        assert entry["role"] in ("system", "user", "assistant")
        assert isinstance(entry["content"], str) and entry["content"].strip()
    roles = [entry["role"] for entry in chat]
    assert "user" in roles and "assistant" in roles


def test_every_line_is_a_valid_chat(filled: Archive, tmp_path: Path) -> None:
    ticks: list[int] = []
    written = export(filled, tmp_path / "out", all_branches=False, progress=ticks.append)
    total = filled.stats()["conversations"]
    assert ticks == list(range(1, total + 1))
    lines = chats(tmp_path / "out")
    assert 0 < written == len(lines) < total  # single-message conversations are skipped
    for chat in lines:
        check_chat(chat)


def test_visible_path_line_matches_the_archive(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out", all_branches=False)
    lines = iter(chats(tmp_path / "out"))
    for conv in filled.iter_conversations():
        path = [m for m in conv.messages if m.on_visible_path and jsonl._kept(m)]
        if {m.role for m in path} >= {"user", "assistant"}:
            chat = next(lines)
            assert [e["content"] for e in chat if e["role"] != "system"] == [
                m.text for m in path if m.role != "system"
            ]
    assert next(lines, None) is None


def test_all_branches_add_one_line_per_other_branch(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "main", all_branches=False)
    export(filled, tmp_path / "all", all_branches=True)
    main, every = chats(tmp_path / "main"), chats(tmp_path / "all")
    extra = sum(
        len(jsonl.chat_lines(c)) - len(jsonl.chat_lines(c, all_branches=False))
        for c in filled.iter_conversations()
    )
    others = sum(len(branch_paths(c.messages)) - 1 for c in filled.iter_conversations())
    assert 0 < extra <= others
    assert len(every) == len(main) + extra
    for chat in every:
        check_chat(chat)
    assert len({json.dumps(chat) for chat in every}) == len(every), "a branch line repeats another"


def message(mid: str, parent: str | None, role: str, text: str, **extra: Any) -> Message:
    return Message(mid, parent, role, "text", [{"type": "text", "text": text}], text, **extra)


def test_custom_instructions_prepended_tools_and_hidden_dropped() -> None:
    messages = [
        message("s", None, "system", "hidden prompt", hidden=True),
        message("u", "s", "user", "hi"),
        message("t", "u", "tool", "tool output", hidden=True),
        message("r", "t", "assistant", "thinking", hidden=True),
        message("a", "r", "assistant", "hello"),
        message("a2", "u", "assistant", "regenerated"),
    ]
    conv = Conversation("chatgpt", "c", "t", build_tree(messages, "a").messages, b"{}")
    conv.context = [ContextRecord("custom_instructions", "be brief"), ContextRecord("memory", "x")]
    lines = jsonl.chat_lines(conv)
    assert lines == [
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
        ],
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "regenerated"},
        ],
    ]
    lone = Conversation("chatgpt", "d", "t", build_tree(messages[:2], "u").messages, b"{}")
    assert jsonl.chat_lines(lone) == []


def test_refuses_a_foreign_folder_and_reuses_its_own(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    assert export(filled, out) > 0
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FreeholdError, match=r"not empty.*choose a new or empty folder"):
        export(filled, out)
    other = tmp_path / "other"
    other.mkdir()
    (other / jsonl.CONVERSATIONS).write_text('{"id": 1}\n')
    with pytest.raises(FreeholdError, match="no freehold JSONL export"):
        export(filled, other)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FreeholdError, match="is a file"):
        export(filled, tmp_path / "file")


def test_empty_archive(archive: Archive, tmp_path: Path) -> None:
    assert export(archive, tmp_path / "out") == 0
    assert (tmp_path / "out" / jsonl.CONVERSATIONS).read_bytes() == b""
