"""The CSV export: readable by ``csv.DictReader``, one row per message, branches numbered."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import csv as csv_export
from freehold.exporters import jsonl, openwebui
from freehold.ingest import import_path
from freehold.tree import branch_paths
from tests.builders import LIBRECHAT_PREFIX, SYSTEM_PROMPT, own_system_prompts
from tests.exporters.test_json import fill_archive, small_conversation


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


def export(archive: Archive, out: Path, **options: Any) -> int:
    return csv_export.write(archive, archive.iter_conversations(), out, **options)


def rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_one_row_per_message(filled: Archive, tmp_path: Path) -> None:
    ticks: list[int] = []
    count = export(filled, tmp_path / "out", progress=ticks.append)
    assert count == filled.stats()["conversations"] and ticks == list(range(1, count + 1))
    header, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    assert header == list(csv_export.MESSAGE_COLUMNS)
    assert len(messages) == filled.stats()["messages"]
    assert len({r["message_id"] for r in messages}) == len(messages)
    assert not (tmp_path / "out" / csv_export.MESSAGES).read_bytes().startswith(b"\xef\xbb\xbf")
    header, convs = rows(tmp_path / "out" / csv_export.CONVERSATIONS)
    assert header == list(csv_export.CONVERSATION_COLUMNS) and len(convs) == count
    assert sum(int(c["messages"]) for c in convs) == len(messages)


def test_branch_numbers_follow_branch_paths(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    _, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    branched = 0
    for conv in filled.iter_conversations():
        assert conv.id is not None
        got = [
            (r["source_message_id"], int(r["branch"]))
            for r in messages
            if r["conversation_id"] == conv.id
        ]
        paths = branch_paths(conv.messages)
        want = [(m.source_id, n) for n, path in enumerate(paths) for m in path]
        assert got == want
        branched += len(paths) > 1
        visible = {
            r["source_message_id"]
            for r in messages
            if r["conversation_id"] == conv.id and r["branch"] == "0"
        }
        assert visible == {m.source_id for m in conv.messages if m.on_visible_path}
    assert branched, "fixtures should hold a branched conversation"


def test_fields_round_trip(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    _, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    conv = next(c for c in filled.iter_conversations() if c.source_id == "otter-conv")
    by_id = {r["source_message_id"]: r for r in messages if r["conversation_id"] == conv.id}
    for message in conv.messages:
        row = by_id[message.source_id]
        assert row["text"] == message.shown_text() and row["role"] == message.role
        assert row["parent_source_message_id"] == (message.parent_source_id or "")
        assert row["hidden"] == ("true" if message.hidden else "false")
        assert row["created_at"].endswith("Z") and row["source"] == "chatgpt"
    assert by_id["u1"]["attachments"].startswith("otter.png")
    (call,) = json.loads(by_id["a2"]["tool"])  # a code interpreter call: not the text
    assert by_id["a2"]["text"] == "" and call["text"].count("\n") >= 1  # newlines survive


def test_visible_path_only(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out", all_branches=False)
    _, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    assert {r["branch"] for r in messages} == {"0"}
    assert all(r["on_visible_path"] == "true" for r in messages)


def test_export_again_and_refuse_foreign(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    assert export(filled, out) == filled.stats()["conversations"]
    assert sorted(p.name for p in out.iterdir()) == ["conversations.csv", "messages.csv"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FreeholdError, match=r"not empty.*choose a new or empty folder"):
        export(filled, out)
    other = tmp_path / "other"
    other.mkdir()
    (other / csv_export.MESSAGES).write_text("a,b\n1,2\n")
    with pytest.raises(FreeholdError, match="no freehold CSV export"):
        export(filled, other)
    assert (other / csv_export.MESSAGES).read_text() == "a,b\n1,2\n"


def test_empty_archive(archive: Archive, tmp_path: Path) -> None:
    assert export(archive, tmp_path / "out") == 0
    header, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    assert header == list(csv_export.MESSAGE_COLUMNS) and messages == []


@pytest.mark.parametrize("module", [csv_export, jsonl, openwebui])
def test_a_folder_a_killed_run_left_is_written_again(
    module: Any, archive: Archive, tmp_path: Path
) -> None:
    """Probe N #4: a kill leaves only ``<name>.tmp`` files; they are this export's own names,
    so the next run takes the folder (and replaces them)."""
    out = tmp_path / "out"
    out.mkdir()
    own = sorted(name for name in module._OWN if name.endswith(".tmp"))
    for name in own:
        (out / name).write_text("half")
    (tmp_path / "one.json").write_text(f"[{json.dumps(small_conversation('c1', 'one'))}]")
    import_path(archive, tmp_path / "one.json")
    module.write(archive, archive.iter_conversations(), out)
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


def test_text_is_the_shown_text_and_the_rest_has_columns_of_its_own(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Probe N #6: reasoning, tool calls and outputs, citations and the conversation's own
    system prompt each have a column; ``text`` holds no tool input or output."""
    aistudio = real / "polylogue-aistudio-and-misc" / "aistudio-branching_session.json"
    claude = real / "echomine-aucontraire" / "claude"
    for path in (aistudio, claude / "claude_thinking.json", claude / "tool_messages.json"):
        import_path(archive, path)
    own_system_prompts(archive, tmp_path / "own", real)
    export(archive, tmp_path / "out")
    header, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    assert header[: len(OLD_COLUMNS)] == OLD_COLUMNS, "the earlier columns keep their places"
    cells = {column: "\n".join(row[column] for row in messages) for column in header}
    assert "Let me analyze this step by step" in cells["reasoning"]
    assert "Let me analyze" not in cells["text"]
    assert "https://example.com/source" in cells["sources"]
    tools = [item for row in messages if row["tool"] for item in json.loads(row["tool"])]
    assert {"type": "code", "name": "execute_code"} in [
        {k: t[k] for k in ("type", "name") if k in t} for t in tools
    ]
    assert not any(t["text"] in cells["text"] for t in tools if t["type"] == "code")
    _, conversations = rows(tmp_path / "out" / csv_export.CONVERSATIONS)
    prompts = "\n".join(row["system_prompt"] for row in conversations)
    assert SYSTEM_PROMPT in prompts and LIBRECHAT_PREFIX in prompts


OLD_COLUMNS = [
    "conversation_id",
    "conversation_title",
    "source",
    "source_conversation_id",
    "message_id",
    "source_message_id",
    "parent_source_message_id",
    "branch",
    "on_visible_path",
    "hidden",
    "role",
    "author_name",
    "model",
    "created_at",
    "status",
    "content_type",
    "text",
    "attachments",
]


def test_every_text_a_message_holds_is_in_a_column(
    filled: Archive, real: Path, tmp_path: Path
) -> None:
    """R2 #4: ``text`` became the message's own words; custom instructions (ChatGPT's
    ``user_editable_context``) and a part not understood (``computer_output``) were then in no
    column. ``search_text``, the last column, holds ``messages.text``: what search matches."""
    import_path(filled, real / "echomine-aucontraire" / "chatgpt-golden-001" / "raw.json")
    export(filled, tmp_path / "out")
    header, messages = rows(tmp_path / "out" / csv_export.MESSAGES)
    assert header[-1] == "search_text" and header[: len(OLD_COLUMNS)] == OLD_COLUMNS
    stored = dict(filled.db.execute("SELECT id, text FROM messages"))
    assert {int(row["message_id"]): row["search_text"] for row in messages} == stored
    custom = [row for row in messages if row["content_type"] == "user_editable_context"]
    assert custom and all(not row["text"] and row["search_text"] for row in custom)


@pytest.mark.parametrize(
    "earlier", [OLD_COLUMNS, [*OLD_COLUMNS, "reasoning", "tool", "sources", "error"]]
)
def test_a_folder_of_the_earlier_columns_is_still_this_exports(
    archive: Archive, tmp_path: Path, earlier: list[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / csv_export.MESSAGES).write_text(",".join(earlier) + "\r\n")
    (tmp_path / "one.json").write_text(f"[{json.dumps(small_conversation('c1', 'one'))}]")
    import_path(archive, tmp_path / "one.json")
    assert export(archive, out) == 1
    assert rows(out / csv_export.MESSAGES)[0] == list(csv_export.MESSAGE_COLUMNS)
