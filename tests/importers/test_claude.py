"""The Claude importer on real exports (echomine, polylogue) and on synthetic 2025/2026 zips."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.importers import claude
from freehold.models import Conversation, ExportInfo, Message, Problem, SourceFile
from tests.builders import ingest, write_zip

ECHO = "echomine-aucontraire/claude"
REAL_FILES = ("sample_export.json", "tool_messages.json", "claude_thinking.json")
DESIGN = "polylogue-aistudio-and-misc/claude-design-session.json"
SENTINEL = "00000000-0000-4000-8000-000000000000"


def records(path: Path) -> list[Any]:
    return list(claude.iter_conversations(path))


def conversations(path: Path) -> dict[str, Conversation]:
    return {r.source_id: r for r in records(path) if isinstance(r, Conversation)}


def by_id(conv: Conversation) -> dict[str, Message]:
    return {m.source_id: m for m in conv.messages}


def chat(uuid: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "name": f"chat {uuid}",
        "summary": "",
        "created_at": "2026-01-02T10:00:00Z",
        "updated_at": "2026-01-02T10:05:00+02:00",
        "account": {"uuid": "acc-1"},
        "chat_messages": messages,
        **extra,
    }


def msg(
    uuid: str, sender: str, text: str, second: int, parent: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "uuid": uuid,
        "text": text,
        "content": [{"type": "text", "text": text, "citations": []}],
        "sender": sender,
        "created_at": f"2026-01-02T10:00:{second:02d}.000000Z",
        "attachments": [],
        "files": [],
    }
    if parent is not None:
        item["parent_message_uuid"] = parent
    return item


def side_files() -> dict[str, bytes]:
    users = [{"uuid": "acc-1", "full_name": "A", "email_address": "a@example.org"}]
    docs = [{"uuid": "doc-1", "filename": "style.md", "content": "Use short sentences."}]
    projects = [
        {"uuid": "proj-1", "name": "P", "prompt_template": "Answer in French.", "docs": docs}
    ]
    memories = [{"conversations_memory": "Likes tea.", "account_uuid": "acc-1"}]
    return {
        "users.json": json.dumps(users).encode(),
        "projects.json": json.dumps(projects).encode(),
        "memories.json": json.dumps(memories).encode(),
    }


def tree_export(tmp_path: Path) -> Path:
    """A 2026 zip: the second user turn was edited, the edit (second branch) is current."""
    fork = [
        msg("u1", "human", "first question", 1, SENTINEL),
        msg("u2b", "human", "edited second question", 5, "a1"),
        msg("a1", "assistant", "first answer", 2, "u1"),
        msg("u2", "human", "second question", 3, "a1"),
        msg("a2", "assistant", "answer to the original", 4, "u2"),
        msg("a2b", "assistant", "answer to the edit", 6, "u2b"),
    ]
    fork[0]["attachments"] = [
        {
            "file_name": "notes.txt",
            "file_size": 11,
            "file_type": "text/plain",
            "extracted_content": "zanzibar notes",
        }
    ]
    convs = [
        chat("tree", fork, current_leaf_message_uuid="a2b", project_uuid="proj-1"),
        chat("empty", []),
    ]
    members: dict[str | zipfile.ZipInfo, bytes] = {
        "conversations.json": json.dumps(convs, indent="\t").encode()
    }
    members.update(side_files())
    return write_zip(tmp_path / "claude-2026.zip", members)


# -- detection -------------------------------------------------------------------------------------


def test_detect_claude_files(real: Path) -> None:
    for name in REAL_FILES:
        assert claude.detect(real / ECHO / name), name
    assert claude.detect(real / DESIGN)


def test_detect_refuses_chatgpt_and_freehold(real: Path, tmp_path: Path) -> None:
    gpt = real / "pkuppens-chatgpt-2023-06" / "conversations.json"
    assert not claude.detect(gpt)
    assert not claude.detect(
        write_zip(tmp_path / "gpt.zip", {"conversations.json": gpt.read_bytes()})
    )
    folder = tmp_path / "freehold-out"
    folder.mkdir()
    (folder / "freehold-export.json").write_text("{}")
    (folder / "conversations.json").write_text(json.dumps([chat("c", [])]))
    assert not claude.detect(folder)


def test_detect_zip_folder_and_single_object(tmp_path: Path) -> None:
    data = json.dumps([chat("c", [])]).encode()
    assert claude.detect(write_zip(tmp_path / "c.zip", {"export/conversations.json": data}))
    one = tmp_path / "one.json"
    one.write_text(json.dumps(chat("c", [msg("m", "human", "hi", 1)])))
    assert claude.detect(one)
    assert list(conversations(one)) == ["c"]


# -- real files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL_FILES)
def test_counts_match_the_json(real: Path, name: str) -> None:
    path = real / ECHO / name
    expected = {c["uuid"]: len(c["chat_messages"]) for c in json.loads(path.read_bytes())}
    found = records(path)
    assert isinstance(found[0], ExportInfo) and found[0].kind == "claude"
    convs = {r.source_id: r for r in found if isinstance(r, Conversation)}
    assert {cid: len(c.messages) for cid, c in convs.items()} == expected
    assert not [r for r in found if isinstance(r, Problem)]
    for conv in convs.values():
        assert all(m.on_visible_path for m in conv.messages)  # linear: all visible
        assert json.loads(conv.raw)["uuid"] == conv.source_id


def test_raw_is_the_exact_element(real: Path) -> None:
    path = real / ECHO / "claude_thinking.json"
    (conv,) = conversations(path).values()
    assert conv.raw in path.read_bytes() and conv.raw.startswith(b"{")


def test_thinking_is_a_thought_not_glued_into_the_answer(real: Path) -> None:
    conv = conversations(real / ECHO / "claude_thinking.json")["conv-thinking"]
    both, alone, budget = (
        by_id(conv)[k] for k in ("msg-thinking-block", "msg-thinking-only", "msg-token-budget")
    )
    assert both.parts[0] == {
        "type": "thought",
        "text": "Let me analyze this step by step...",
        "summary": "Analyzed step by step",
    }
    assert both.text == "Here is my answer." and not both.hidden
    assert alone.hidden and alone.text == "" and alone.parts[0]["type"] == "thought"
    assert budget.parts == [
        {
            "type": "unknown",
            "content_type": "token_budget",
            "raw": {"type": "token_budget", "budget": 4096},
        }
    ]
    assert conv.created_at == 1759341600.0  # 2025-10-01T18:00:00Z


def test_tool_use_and_tool_result_parts(real: Path) -> None:
    path = real / ECHO / "tool_messages.json"
    source = {c["uuid"]: c for c in json.loads(path.read_bytes())}
    conv = conversations(path)["tool-conv-001"]
    call, result = by_id(conv)["msg-tool-002"], by_id(conv)["msg-tool-003"]
    code = call.parts[1]
    assert code["type"] == "code" and code["language"] == "json" and code["name"] == "write_file"
    given = source["tool-conv-001"]["chat_messages"][1]["content"][1]["input"]
    assert json.loads(code["text"]) == given
    assert "fibonacci_sequence" in call.text  # the tool input is searchable
    assert result.role == "user" and result.parts[0]["type"] == "execution_output"
    assert result.text == "File written successfully to fibonacci.py (285 bytes)"
    kinds = [p["type"] for c in conversations(path).values() for m in c.messages for p in m.parts]
    assert kinds.count("code") == 8 and kinds.count("execution_output") == 8


def test_design_session(real: Path) -> None:
    (conv,) = conversations(real / DESIGN).values()
    assert (
        conv.source_id == "origin-matrix-claude-design" and conv.project == "origin-matrix-project"
    )
    (only,) = conv.messages
    assert (only.role, only.text, only.author_name) == ("user", "Prove the parser claim.", "Sinity")
    assert only.created_at == conv.created_at is not None


# -- synthetic exports -----------------------------------------------------------------------------


def test_2026_tree_follows_the_current_leaf(tmp_path: Path) -> None:
    conv = conversations(tree_export(tmp_path))["tree"]
    assert [m.source_id for m in conv.messages if m.on_visible_path] == ["u1", "a1", "u2b", "a2b"]
    assert conv.current_leaf == "a2b" and not conv.problems
    assert by_id(conv)["u1"].parent_source_id is None  # the root sentinel is no parent
    assert {m.source_id for m in conv.messages if m.parent_source_id == "a1"} == {"u2", "u2b"}
    assert conv.created_at is not None and conv.updated_at is not None
    assert conv.updated_at - conv.created_at == 300 - 7200  # 10:05+02:00 is 08:05Z
    assert conv.project == "proj-1" and conv.account_id == "acc-1"
    (instructions,) = conv.context
    assert (instructions.kind, instructions.text) == ("project_instructions", "Answer in French.")


def test_attachments_are_searchable_text_without_bytes(tmp_path: Path) -> None:
    first = by_id(conversations(tree_export(tmp_path))["tree"])["u1"]
    part = {"type": "file", "name": "notes.txt", "text": "zanzibar notes", "size": 11}
    assert part in first.parts  # the size kept with the file, which the export lacks
    assert "zanzibar" in first.text
    (ref,) = first.attachments
    assert (ref.pointer, ref.mime, ref.size, ref.opener) == (
        "claude-file://notes.txt",
        "text/plain",
        11,
        None,
    )


def test_side_files_kept_and_empty_conversation_kept(tmp_path: Path) -> None:
    found = records(tree_export(tmp_path))
    assert found[0].account_id == "acc-1" and found[0].full_export
    kept = {r.name: r.raw for r in found if isinstance(r, SourceFile)}
    assert kept == side_files()
    empty = [r for r in found if isinstance(r, Conversation) and r.source_id == "empty"]
    assert len(empty) == 1 and empty[0].messages == []


def test_linear_2025_and_flat_text_fallback(tmp_path: Path) -> None:
    first = msg("m1", "human", "hello", 1)
    second = {**msg("m2", "assistant", "", 2), "content": [], "text": "flat answer"}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chat("lin", [first, second])]))
    conv = conversations(path)["lin"]
    assert by_id(conv)["m2"].parent_source_id == "m1" and conv.current_leaf == "m2"
    assert by_id(conv)["m2"].parts == [{"type": "text", "text": "flat answer"}]


def test_design_chat_in_a_zip(tmp_path: Path) -> None:
    blocks = [
        {"type": "thinking", "text": "hmm"},
        {"type": "text", "text": "Done."},
        {
            "type": "tool_call",
            "toolCall": {"name": "edit", "input": {"path": "a.py"}, "output": "ok"},
        },
    ]
    session = {
        "uuid": "d1",
        "title": "Design",
        "created_at": "2026-03-01T00:00:00Z",
        "messages": [
            {"uuid": "q", "role": "user", "content": "Fix it"},
            {
                "uuid": "r",
                "role": "assistant",
                "content": {"content": "Done.", "contentBlocks": blocks},
            },
        ],
    }
    path = write_zip(tmp_path / "d.zip", {"design_chats/d1.json": json.dumps(session).encode()})
    assert claude.detect(path)
    conv = conversations(path)["d1"]
    answer = by_id(conv)["r"]
    assert [p["type"] for p in answer.parts] == ["thought", "text", "code", "execution_output"]
    assert answer.parent_source_id == "q" and "hmm" not in answer.text and "Done." in answer.text


def test_design_chat_keeps_its_project_name_and_instructions(tmp_path: Path) -> None:
    """A design chat runs under its project's instructions, as a chat does; the project's name
    is kept with them, from the session when projects.json does not name it."""
    session = {
        "uuid": "d2",
        "title": "Cowork",
        "project": {"uuid": "proj-2", "name": "Thesis"},
        "messages": [{"uuid": "q", "role": "user", "content": "Outline it"}],
    }
    projects = [{"uuid": "proj-2", "prompt_template": "British English."}]
    members = {
        "design_chats/d2.json": json.dumps(session).encode(),
        "conversations.json": b"[]",
        "projects.json": json.dumps(projects).encode(),
    }
    conv = conversations(write_zip(tmp_path / "d.zip", members))["d2"]
    assert conv.project == "proj-2"
    (instructions,) = conv.context
    assert (instructions.kind, instructions.text) == ("project_instructions", "British English.")
    assert instructions.data["project_name"] == "Thesis"


def test_bad_input_becomes_problems(tmp_path: Path) -> None:
    good = json.dumps(chat("ok", [msg("m", "human", "hi", 1)]))
    path = tmp_path / "conversations.json"
    path.write_text(f'[{{"name": "no id", "chat_messages": []}}, {good}, {{"uuid": "cut", "chat')
    found = records(path)
    problems = [r for r in found if isinstance(r, Problem)]
    assert [r.source_id for r in found if isinstance(r, Conversation)] == ["ok"]
    assert problems[0].skipped == 1 and "no uuid" in problems[0].what
    assert (
        problems[-1].where == "conversations.json" and "2 conversations read" in problems[-1].what
    )
    assert all("\n" not in p.what and "—" in p.what for p in problems)


# -- archive level ---------------------------------------------------------------------------------


def test_import_and_reimport_unchanged(archive: Archive, tmp_path: Path) -> None:
    path = tree_export(tmp_path)
    report = ingest(archive, path)
    assert report.kind == "claude" and report.ok
    assert report.conversations["new"] == 2 and report.messages["read"] == 6
    assert sorted(report.kept_files) == ["memories.json", "projects.json", "users.json"]
    # one project_instructions on the conversation, plus the project and the memory for the account
    assert report.attachments["missing"] == 1 and report.context_records == 4
    assert [h for h in archive.search("zanzibar")]
    again = ingest(archive, path)
    assert again.conversations["unchanged"] == 2 and again.messages["new"] == 0
    account = [
        (r["kind"], r["text"]) for r in archive.context_records() if r["conversation_id"] is None
    ]
    assert sorted(account) == [
        ("memory", "Likes tea."),
        ("project_document", "Use short sentences."),
        ("project_instructions", "Answer in French."),
    ]


def test_import_real_files_names_unknown_blocks(archive: Archive, real: Path) -> None:
    report = ingest(archive, real / ECHO / "claude_thinking.json")
    assert report.not_understood == {"token_budget": 1}
    assert report.content_types["thinking+text"] == 1
    gpt = ingest(archive, real / "pkuppens-chatgpt-2023-06" / "conversations.json")
    assert gpt.kind == "chatgpt"


def test_tool_ids_result_items_and_flags_are_kept(tmp_path: Path) -> None:
    """Parallel calls are paired with their results by ``call_id``; a result's non-text items,
    display and structured content, and a thought's cut-off flags are kept on the parts."""
    resource = {"type": "local_resource", "file_path": "/mnt/out/B.md", "name": "B.md"}
    display = {"type": "text", "text": "DISPLAY_CONTENT_MARKER"}
    blocks = [
        {"type": "tool_use", "id": "toolu_1", "name": "create_file", "input": {"path": "a"}},
        {"type": "tool_use", "id": "toolu_2", "name": "create_file", "input": {"path": "b"}},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "name": "create_file",
            "is_error": True,
            "content": [resource],
            "display_content": display,
            "structured_content": {"k": "STRUCTURED_VALUE"},
        },
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "ok"}],
        },
        {"type": "thinking", "thinking": "hmm", "cut_off": True, "truncated": True},
        {"type": "text", "text": "done"},
    ]
    answer = {**msg("a1", "assistant", "done", 2), "content": blocks}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chat("tools", [msg("u1", "human", "go", 1), answer])]))
    parts = by_id(conversations(path)["tools"])["a1"].parts
    calls = [p["call_id"] for p in parts if p["type"] == "code"]
    first, second = (p for p in parts if p["type"] == "execution_output")
    assert calls == ["toolu_1", "toolu_2"] and [first["call_id"], second["call_id"]] == calls[::-1]
    assert first["is_error"] and first["items"] == [resource] and first["text"] == ""
    assert first["display_content"] == display
    assert first["structured_content"] == {"k": "STRUCTURED_VALUE"}
    assert second["text"] == "ok" and "items" not in second and not second["is_error"]
    thought = next(p for p in parts if p["type"] == "thought")
    assert thought["cut_off"] is True and thought["truncated"] is True


def test_real_parallel_tool_results_name_their_calls(real: Path) -> None:
    conv = conversations(real / ECHO / "tool_messages.json")["tool-conv-003"]
    calls = [p["call_id"] for p in by_id(conv)["msg-mixed-003"].parts if p["type"] == "code"]
    results = [p["call_id"] for p in by_id(conv)["msg-mixed-004"].parts]
    assert calls == results == ["toolu_05E6F7A8B9C0D1", "toolu_06F7A8B9C0D1E2"]


def test_conversation_summary_is_a_context_record(archive: Archive, real: Path) -> None:
    path = real / ECHO / "sample_export.json"
    summaries = {
        c.source_id: [r.text for r in c.context if r.kind == "conversation_summary"]
        for c in conversations(path).values()
    }
    assert sum(1 for found in summaries.values() if found) == 4
    assert summaries["a1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7"] == []  # an empty one is no record
    assert summaries["f9e8d7c6-b5a4-4321-9876-fedcba098765"] == [
        "Conversation with no explicit title"
    ]
    ingest(archive, path)
    stored = [r["text"] for r in archive.context_records() if r["kind"] == "conversation_summary"]
    assert len(stored) == 4 and "Conversation with no explicit title" in stored


def test_every_accounts_memory_is_kept_across_imports(archive: Archive, real: Path) -> None:
    """Account memory is keyed by its file (``memories.json#0``): a second account's memory,
    imported later, replaced the first's record. Another text under a key is kept beside it;
    the same text again changes nothing."""
    from freehold import profiles

    chats = json.loads((real / ECHO / "sample_export.json").read_text())
    folders = []
    for who in ("a", "b", "c"):
        folder = archive.home / f"export-{who}"
        (folder / "nested").mkdir(parents=True)
        mine = [{**chat, "uuid": who * 8 + chat["uuid"][8:]} for chat in chats]
        where = folder / "nested" if who == "c" else folder  # c's export sits in a sub-folder
        (where / "conversations.json").write_text(json.dumps(mine))
        memory = [{"conversations_memory": f"Memory of {who}", "account_uuid": f"acct-{who}"}]
        (where / "memories.json").write_text(json.dumps(memory))
        folders.append(folder)
    for folder in (*folders, folders[0]):
        assert ingest(archive, folder).ok
    memories = [r["text"] for r in archive.personal_context() if r["kind"] == "memory"]
    assert sorted(memories) == ["Memory of a", "Memory of b", "Memory of c"]
    notes = {n.text: n.platform for n in profiles.gather(archive).notes}
    assert notes == {f"Memory of {who}": "claude" for who in "abc"}


def test_files_named_by_a_bare_string_are_referenced(real: Path, tmp_path: Path) -> None:
    """``files: ["name.txt"]`` (the echomine export) was left out as "not an object": the
    file it names is now a reference like any other, once when an attachment names it too."""
    conv = conversations(real / ECHO / "sample_export.json")["7892bc45-def3-4a21-9c12-3d5e6f7a8b9c"]
    assert not [p for p in conv.problems if "files" in p]
    (ref,) = by_id(conv)["msg-101-uuid"].attachments
    assert (ref.pointer, ref.name, ref.size) == (
        "claude-file://slow_query_log.txt",
        "slow_query_log.txt",
        4096,
    )
    alone = msg("u1", "human", "see the file", 1)
    alone["files"] = ["plan.pdf", {"file_name": "photo.png"}]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chat("c", [alone])]))
    (got,) = conversations(path).values()
    assert [r.pointer for r in got.messages[0].attachments] == [
        "claude-file://plan.pdf",
        "claude-file://photo.png",
    ]
