"""ChatGPT shown as ChatGPT shows it: the defects of probe I (2026-12-07), each on a small
synthetic export shaped like the real ones (FORMATS.md §A)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freehold.archive import Archive
from tests.builders import ingest
from tests.importers.test_chatgpt import by_id, chain, conversations, message, slim


def tool(mid: str, name: str, content: dict[str, Any], t: float) -> dict[str, Any]:
    """A 2026 slim tool message: its author names the tool; no recipient, no metadata."""
    author = {"name": name, "role": "tool"}
    return {"author": author, "content": content, "create_time": t, "id": mid}


def code(text: str) -> dict[str, Any]:
    return {"content_type": "code", "language": "unknown", "text": text}


def said(text: str) -> dict[str, Any]:
    return {"content_type": "text", "parts": [text]}


# -- I1: 2026 slim tool calls ----------------------------------------------------------------------


def slim_tools() -> list[dict[str, Any]]:
    return [
        slim("u", "user", "Average of 3, 1 and 4?", 1.0),
        slim("c", "assistant", code("print((3 + 1 + 4) / 3)"), 2.0),
        tool("o", "python", {"content_type": "execution_output", "text": "2.67"}, 3.0),
        slim("b", "assistant", code("User prefers metric units."), 4.0),
        tool("bo", "bio", said("Model set context updated."), 5.0),
        slim("s", "assistant", code('search("metric units")'), 6.0),
        tool("so", "browser", said("【0†Metric†example.org】"), 7.0),
        slim("a", "assistant", "It is 2.67.", 8.0),
    ]


def test_slim_tool_calls_are_hidden_and_named_by_the_tool_that_answers(tmp_path: Path) -> None:
    """No ``recipient`` in 2026: the tool message after a call says which tool it was."""
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chain("slim", slim_tools(), children=False)]))
    messages = by_id(conversations(path)["slim"])
    assert {key for key, m in messages.items() if m.hidden} == {"c", "o", "b", "bo", "s", "so"}
    assert messages["c"].meta["recipient"] == "python"
    assert messages["b"].meta["recipient"] == "bio" and messages["s"].meta["recipient"] == "browser"
    assert messages["c"].meta["recipient_inferred"] is True
    assert "recipient" not in messages["a"].meta and not messages["a"].hidden
    assert not messages["u"].hidden


def test_slim_bio_write_is_a_memory_note(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chain("slim", slim_tools(), children=False)]))
    ingest(archive, path)
    memory = [r for r in archive.context_records() if r["kind"] == "memory"]
    assert [r["text"] for r in memory] == ["User prefers metric units."]


def test_a_recipient_said_is_kept_over_the_next_message(tmp_path: Path) -> None:
    """An explicit ``recipient: all`` stays an answer, and a user message a tool follows (a
    ``myfiles_browser`` note after an upload) stays shown: only assistant messages without a
    recipient are read from what follows."""
    messages = [
        message("u", "user", said("Read my file"), 1.0),
        message("f", "tool", said("All files loaded."), 2.0, name="myfiles_browser"),
        message("a", "assistant", said("Here is what I found."), 3.0),
        message("t", "tool", said("late note"), 4.0, name="python"),
    ]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chain("full", messages)]))
    got = by_id(conversations(path)["full"])
    assert not got["u"].hidden and not got["a"].hidden
    assert "recipient" not in got["a"].meta
