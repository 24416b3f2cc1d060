"""The fine-tuning JSONL export: every line a valid chat, branches as extra lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from freehold.archive import Archive
from freehold.cli import cli
from freehold.errors import FreeholdError
from freehold.exporters import jsonl
from freehold.ingest import import_path
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
    # the hidden system prompt joins the system message (docs/decisions.md, 2026-12-07)
    assert lines == [
        [
            {"role": "system", "content": "hidden prompt\n\nbe brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
        ],
        [
            {"role": "system", "content": "hidden prompt\n\nbe brief"},
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


def said(text: str, status: str = "complete", role: str = "assistant", **extra: Any) -> Message:
    parts = [{"type": "text", "text": text}] if text else []
    return Message("", None, role, "text", parts, text, status=status, **extra)


def asked(text: str) -> Message:
    return said(text, role="user")


def broken_archive(archive: Archive) -> dict[str, str]:
    """Local turns (as ``freehold chat`` writes them) with broken answers; ids by name."""
    ids = {name: archive.new_conversation(name) for name in ("cut", "stopped", "failed", "alone")}
    thought = [{"type": "thought", "text": "hmm"}]
    tool = [{"type": "code", "name": "python", "text": "1+1"}]
    first = archive.add_turn(
        ids["cut"],
        None,
        [
            asked("one?"),
            Message("", None, "assistant", "thoughts", thought, "hmm", hidden=True),
            Message("", None, "assistant", "code", tool, "1+1", hidden=True),
            said("One."),
            asked("two?"),
        ],
    )
    reasoned = Message("", None, "assistant", "thoughts", thought, "hmm", hidden=True)
    archive.add_turn(ids["cut"], first[-1].id, [reasoned, said("alpha beta ", "incomplete")])
    archive.add_turn(ids["cut"], first[-1].id, [said("Two."), asked("three?")])  # unanswered
    broken = archive.add_turn(ids["stopped"], None, [asked("hi"), said("hel", "interrupted")])
    archive.add_turn(ids["stopped"], broken[-1].id, [asked("go on"), said("Hello there.")])
    archive.add_turn(ids["failed"], None, [asked("fail?"), said("", "failed")])
    archive.add_turn(ids["alone"], None, [asked("anyone?")])
    return ids


def test_broken_answers_are_never_training_targets(archive: Archive, tmp_path: Path) -> None:
    ids = broken_archive(archive)
    summary = jsonl.write_summary(archive, archive.iter_conversations(), tmp_path / "out")
    lines = chats(tmp_path / "out")
    assert lines == [
        [
            {"role": "user", "content": "one?"},
            {"role": "assistant", "content": "One."},
            {"role": "user", "content": "two?"},
            {"role": "assistant", "content": "Two."},
        ]
    ]  # the incomplete branch's line would be a prefix of this one; "three?" has no answer
    for chat in lines:
        check_chat(chat)
        assert chat[-1]["role"] == "assistant"
    assert (summary.written, summary.lines, summary.cut) == (1, 1, 3)
    assert summary.left_out == {
        "only_broken_answers": [ids["stopped"], ids["failed"]],
        "no_answer": [ids["alone"]],
    }
    assert summary.not_included == {"reasoning": 2, "tool": 1}


def test_a_line_ends_before_its_first_broken_answer() -> None:
    messages = [
        message("u1", None, "user", "one?"),
        message("a1", "u1", "assistant", "One."),
        message("u2", "a1", "user", "two?"),
        message("a2", "u2", "assistant", "alpha beta ", status="interrupted"),
        message("u3", "a2", "user", "three?"),
        message("a3", "u3", "assistant", "Three."),
    ]
    conv = Conversation("chatgpt", "c", "t", build_tree(messages, "a3").messages, b"{}")
    first = [{"role": "user", "content": "one?"}, {"role": "assistant", "content": "One."}]
    assert jsonl.chat_lines(conv) == [first]
    unanswered = Conversation("chatgpt", "d", "t", build_tree(messages[:3], "u2").messages, b"")
    assert jsonl.chat_lines(unanswered) == [first]  # a trailing user turn is dropped


def test_an_unfinished_imported_answer_is_cut(archive: Archive, tmp_path: Path) -> None:
    history = {
        "u1": {"id": "u1", "parentId": None, "childrenIds": ["a1"], "role": "user",
               "content": "Hello", "timestamp": 1700000000},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant",
               "content": "Bonj", "model": "llama3", "timestamp": 1700000010, "done": False},
    }  # fmt: skip
    chat = {"title": "S", "models": ["llama3"], "history": {"currentId": "a1", "messages": history}}
    owui = [{"id": "owui-1", "user_id": "u", "title": "S", "created_at": 1700000000,
               "updated_at": 1700000100, "chat": chat}]  # fmt: skip
    (tmp_path / "owui.json").write_text(json.dumps(owui))
    import_path(archive, tmp_path / "owui.json")
    summary = jsonl.write_summary(archive, archive.iter_conversations(), tmp_path / "out")
    assert (tmp_path / "out" / jsonl.CONVERSATIONS).read_bytes() == b""
    assert (summary.written, summary.cut) == (0, 1)
    assert list(summary.left_out) == ["only_broken_answers"]


def test_the_command_says_what_it_left_out(archive: Archive, tmp_path: Path) -> None:
    ids = broken_archive(archive)
    archive.close()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {
        "format": "jsonl",
        "out": str(out),
        "written": 1,
        "lines": 1,
        "left_out": {"only_broken_answers": 2, "no_answer": 1},
        "left_out_ids": {
            "only_broken_answers": [ids["stopped"], ids["failed"]],
            "no_answer": [ids["alone"]],
        },
        "incomplete_answers_cut": 2,  # the visible path only: "alpha beta " is on a branch
        "not_included": {"reasoning": 1, "tool": 1},  # the other reasoning is on a branch
    }
    command = ["export", "--format", "jsonl", "--out", str(out), "--all-branches"]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stderr.split())
    assert f"wrote 1 conversation (1 line) to {out}; left out 3: " in text
    assert f"2 with only incomplete answers ({ids['stopped']}, {ids['failed']})" in text
    assert f"1 without a user prompt and an assistant answer ({ids['alone']})" in text
    assert "3 incomplete answers cut, with the turns after them" in text
    assert "2 reasoning blocks, 1 tool message not included" in text


def claude_tool_chat(folder: Path) -> Path:
    """Probe N #1: a Claude answer that searches (tool_use, tool_result) between two texts,
    then a human turn holding only a tool result."""
    call = {"type": "tool_use", "id": "t1", "name": "web_search", "input": {"query": "Q lisbon"}}
    result = {"type": "tool_result", "tool_use_id": "t1", "name": "web_search"}
    result["content"] = [{"type": "text", "text": "RESULT 18C rain"}]
    blocks = [{"type": "text", "text": "Let me search."}, call, result]
    blocks.append({"type": "text", "text": "It is 18C."})
    t = "2025-05-01T10:00:0{}Z"
    turns = [
        ("u1", "human", [{"type": "text", "text": "Find the weather"}]),
        ("a1", "assistant", blocks),
        ("u2", "human", [{**result, "tool_use_id": "t2"}]),
        ("a2", "assistant", [{"type": "text", "text": "Still 18C."}]),
    ]
    messages = [
        {"uuid": u, "sender": s, "text": "", "content": c, "created_at": t.format(n)}
        for n, (u, s, c) in enumerate(turns)
    ]
    chat = {"uuid": "c1", "name": "Weather", "created_at": t.format(0), "updated_at": t.format(5)}
    path = folder / "claude-tools.json"
    path.write_text(json.dumps([{**chat, "chat_messages": messages}]))
    return path


def test_content_is_the_shown_text_and_tool_parts_are_counted(
    archive: Archive, tmp_path: Path
) -> None:
    import_path(archive, claude_tool_chat(tmp_path))
    summary = jsonl.write_summary(archive, archive.iter_conversations(), tmp_path / "out")
    (chat,) = chats(tmp_path / "out")
    assert chat == [
        {"role": "user", "content": "Find the weather"},
        {"role": "assistant", "content": "Let me search.\n\nIt is 18C."},
        {"role": "assistant", "content": "Still 18C."},
    ]
    assert summary.not_included == {"tool_parts": 2, "tool": 1}
