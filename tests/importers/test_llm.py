"""The llm logs.db importer on small synthetic databases built with sqlite3."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from freehold.archive import Archive
from freehold.importers import chatgpt, claude, freehold, grok, llm
from freehold.models import Conversation, ExportInfo, Problem
from tests.builders import ingest

LEGACY = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, name TEXT, model TEXT);
CREATE TABLE responses (
    id TEXT PRIMARY KEY, model TEXT, prompt TEXT, system TEXT, prompt_json TEXT,
    options_json TEXT, response TEXT, response_json TEXT,
    conversation_id TEXT REFERENCES conversations(id), duration_ms INTEGER, datetime_utc TEXT,
    input_tokens INTEGER, output_tokens INTEGER, token_details TEXT, schema_id TEXT,
    resolved_model TEXT, reasoning TEXT
);
"""

STORE = """
CREATE TABLE threads (id TEXT PRIMARY KEY, name TEXT, tip_message_hash TEXT, forked_from TEXT,
    datetime_utc TEXT);
CREATE TABLE turns (id TEXT PRIMARY KEY, thread_id TEXT, parent_message_hash TEXT,
    tip_message_hash TEXT, model TEXT, resolved_model TEXT, options_json TEXT,
    input_tokens INTEGER, output_tokens INTEGER, duration_ms INTEGER, datetime_utc TEXT,
    response_json TEXT);
CREATE TABLE messages (hash TEXT PRIMARY KEY, parent_hash TEXT, role TEXT,
    provider_metadata TEXT);
CREATE TABLE parts (message_hash TEXT, position INTEGER, type TEXT, tool_name TEXT, text TEXT,
    payload TEXT, PRIMARY KEY (message_hash, position));
"""


def build(path: Path, schema: str, rows: dict[str, list[tuple[Any, ...]]]) -> Path:
    db = sqlite3.connect(path)
    db.executescript(schema)
    for table, values in rows.items():
        for value in values:
            marks = ", ".join("?" * len(value))
            db.execute(f"INSERT INTO {table} VALUES ({marks})", value)
    db.commit()
    db.close()
    return path


def response(rid: str, conv: str | None, prompt: str, answer: str, when: str, **extra: Any) -> Any:
    row = {
        "id": rid,
        "model": "gpt-4o-mini",
        "prompt": prompt,
        "system": None,
        "prompt_json": None,
        "options_json": "{}",
        "response": answer,
        "response_json": None,
        "conversation_id": conv,
        "duration_ms": 1500,
        "datetime_utc": when,
        "input_tokens": 10,
        "output_tokens": 20,
        "token_details": None,
        "schema_id": None,
        "resolved_model": "gpt-4o-mini-2024-07-18",
        "reasoning": None,
    }
    row.update(extra)
    return tuple(row.values())


def legacy_db(tmp_path: Path) -> Path:
    return build(
        tmp_path / "logs.db",
        LEGACY,
        {
            "conversations": [("c1", "First chat", "gpt-4o-mini"), ("c2", "Second", "claude-3")],
            "responses": [
                response("r2", "c1", "and more", "more", "2024-05-01T10:01:00", system="Be terse"),
                response("r1", "c1", "hello", "hi there", "2024-05-01T10:00:00"),
                response(
                    "r3", "c2", "think", "done", "2024-05-02T09:00:00", model="claude-3",
                    reasoning="pondering",
                ),
                response("r4", None, "orphan prompt", "orphan answer", "2024-04-01T08:00:00"),
            ],
        },
    )  # fmt: skip


def msg_hash(parent: str | None, message: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"parent": parent, "message": message},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "b2:" + hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def store_db(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Thread A: u1 a1 u2 a2; thread B forked from A after a1: u3 a3 (a3 has a tool call)."""
    h: dict[str, str] = {}
    chain = [
        ("u1", None, "user"),
        ("a1", "u1", "assistant"),
        ("u2", "a1", "user"),
        ("a2", "u2", "assistant"),
        ("u3", "a1", "user"),
        ("a3", "u3", "assistant"),
    ]
    for name, parent, role in chain:
        h[name] = msg_hash(h.get(parent) if parent else None, {"role": role, "n": name})
    messages = [(h[n], h[p] if p else None, r, None) for n, p, r in chain]
    parts = [(h[n], 0, "text", None, f"text of {n}", None) for n, _, _ in chain]
    parts.insert(0, (h["a1"], 1, "reasoning", None, "secret thinking", None))
    parts.append((h["a3"], 1, "tool_call", "search", None, '{"q": "x"}'))
    parts.append((h["a3"], 2, "weird_kind", None, "??", None))
    turn = ("gpt-5", "gpt-5-2026", "{}", 5, 7, 100)
    path = build(
        tmp_path / "new.db",
        STORE,
        {
            "threads": [
                ("01TA", "Thread A", h["a2"], None, "2026-08-05T10:00:00"),
                ("01TB", "Thread B", h["a3"], "01TA", "2026-08-05T11:00:00"),
            ],
            "turns": [
                ("t1", "01TA", None, h["a1"], *turn, "2026-08-05T10:00:00", None),
                ("t2", "01TA", h["a1"], h["a2"], *turn, "2026-08-05T10:05:00", None),
                ("t3", "01TB", h["a1"], h["a3"], "o3", None, None, 1, 2, 3,
                 "2026-08-05T11:00:00", None),
            ],
            "messages": messages,
            "parts": parts,
        },
    )  # fmt: skip
    return path, h


def records(path: Path) -> list[Any]:
    return list(llm.iter_conversations(path))


def conversations(path: Path) -> list[Conversation]:
    return [r for r in records(path) if isinstance(r, Conversation)]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- detection -------------------------------------------------------------------------------------


def test_detect_matrix(tmp_path: Path, real: Path) -> None:
    legacy = legacy_db(tmp_path)
    assert llm.detect(legacy)
    assert llm.detect(store_db(tmp_path)[0])
    other = build(tmp_path / "other.db", "CREATE TABLE notes (id INTEGER, body TEXT);", {})
    assert not llm.detect(other)
    partial = build(tmp_path / "partial.db", "CREATE TABLE threads (id TEXT);", {})
    assert not llm.detect(partial)
    assert not llm.detect(real / "librechat-import-data" / "chatgpt-tree.json")
    chat = tmp_path / "chat-0b6f2a5e-3c1d-4e8f-9a7b-1c2d3e4f5a6b.json"
    chat.write_text(json.dumps([{"role": "user", "content": "hi"}]))
    assert not llm.detect(chat)
    assert not llm.detect(tmp_path)
    fake = tmp_path / "fake.db"
    fake.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    assert not llm.detect(fake)
    assert not any(m.detect(legacy) for m in (freehold, chatgpt, claude, grok))


# -- legacy tables ---------------------------------------------------------------------------------


def test_legacy_conversations_orphans_system_and_models(tmp_path: Path) -> None:
    path = legacy_db(tmp_path)
    before = sha(path)
    found = records(path)
    assert sha(path) == before
    assert isinstance(found[0], ExportInfo) and found[0].kind == "llm"
    assert not [r for r in found if isinstance(r, Problem)]
    convs = {c.source_id: c for c in found if isinstance(c, Conversation)}
    assert set(convs) == {"c1", "c2", "r4"}
    assert {k: len(c.messages) for k, c in convs.items()} == {"c1": 5, "c2": 2, "r4": 2}
    first = convs["c1"]
    assert first.title == "First chat" and first.model == "gpt-4o-mini"
    assert [m.role for m in first.messages] == ["user", "assistant", "system", "user", "assistant"]
    assert [m.text for m in first.messages][:2] == ["hello", "hi there"]
    system = first.messages[2]
    assert system.hidden and system.text == "Be terse" and system.source_id == "r2:system"
    assert all(m.on_visible_path for m in first.messages) and first.current_leaf == "r2"
    answer = first.messages[1]
    assert answer.model == "gpt-4o-mini" and answer.meta["input_tokens"] == 10
    assert answer.meta["resolved_model"] == "gpt-4o-mini-2024-07-18"
    assert answer.created_at == first.messages[0].created_at + 1.5  # type: ignore[operator]
    second = convs["c2"]
    assert second.model == "claude-3" and second.messages[1].model == "claude-3"
    assert [p["type"] for p in second.messages[1].parts] == ["thought", "text"]
    assert second.messages[1].text == "done"
    orphan = convs["r4"]
    assert orphan.title is None and [m.text for m in orphan.messages] == [
        "orphan prompt",
        "orphan answer",
    ]
    raw = json.loads(first.raw)
    assert raw["conversation"]["name"] == "First chat"
    assert [r["id"] for r in raw["responses"]] == ["r1", "r2"]


def test_old_minor_version_missing_columns(tmp_path: Path) -> None:
    path = build(
        tmp_path / "old.db",
        "CREATE TABLE responses (id TEXT PRIMARY KEY, model TEXT, prompt TEXT, response TEXT);",
        {"responses": [("r1", "gpt-3.5", "q", "a"), ("r2", "gpt-3.5", "q2", "a2")]},
    )
    assert llm.detect(path)
    found = records(path)
    problems = [r for r in found if isinstance(r, Problem)]
    assert len(problems) == 1 and not problems[0].lost
    assert "datetime_utc" in problems[0].what and "\n" not in problems[0].what
    assert [len(c.messages) for c in found if isinstance(c, Conversation)] == [2, 2]


# -- 0.32+ message store ---------------------------------------------------------------------------


def test_store_fork_shares_prefix_and_follows_tips(tmp_path: Path) -> None:
    path, h = store_db(tmp_path)
    before = sha(path)
    found = records(path)
    assert sha(path) == before
    assert not [r for r in found if isinstance(r, Problem)]
    convs = {c.source_id: c for c in found if isinstance(c, Conversation)}
    assert set(convs) == {"01TA", "01TB"}
    a, b = convs["01TA"], convs["01TB"]
    assert a.title == "Thread A" and b.title == "Thread B"
    assert [m.source_id for m in a.messages] == [h["u1"], h["a1"], h["u2"], h["a2"]]
    assert [m.source_id for m in b.messages] == [h["u1"], h["a1"], h["u3"], h["a3"]]
    assert a.current_leaf == h["a2"] and b.current_leaf == h["a3"]
    assert all(m.on_visible_path for m in a.messages + b.messages)
    shared = b.messages[1]
    assert shared.model == "gpt-5" and shared.meta["resolved_model"] == "gpt-5-2026"
    assert [p["type"] for p in shared.parts] == ["text", "thought"]  # by position
    assert shared.text == "text of a1"
    assert shared is not a.messages[1]
    tool = b.messages[3]
    assert tool.model == "o3" and b.model == "o3" and a.model == "gpt-5"
    assert [p["type"] for p in tool.parts] == ["text", "code", "unknown"]
    assert tool.parts[1]["text"] == '{"q": "x"}' and tool.parts[1]["tool_name"] == "search"
    assert tool.parts[2]["content_type"] == "weird_kind"
    assert b.messages[2].created_at == b.messages[3].created_at
    raw = json.loads(b.raw)
    assert raw["thread"]["forked_from"] == "01TA"
    assert [m["hash"] for m in raw["messages"]] == [m.source_id for m in b.messages]
    assert len(raw["parts"]) == 7 and [t["id"] for t in raw["turns"]] == ["t3"]


def test_abandoned_branch_inside_a_thread_is_kept(tmp_path: Path) -> None:
    path, h = store_db(tmp_path)
    db = sqlite3.connect(path)
    db.execute("UPDATE threads SET tip_message_hash = ? WHERE id = '01TA'", (h["a1"],))
    db.execute("DELETE FROM threads WHERE id = '01TB'")
    db.commit()
    db.close()
    (conv,) = conversations(path)
    assert len(conv.messages) == 4 and conv.current_leaf == h["a1"]
    assert [m.on_visible_path for m in conv.messages] == [True, True, False, False]


def test_broken_store_is_a_problem(tmp_path: Path) -> None:
    path, _ = store_db(tmp_path)
    db = sqlite3.connect(path)
    db.execute("UPDATE threads SET tip_message_hash = 'b2:gone' WHERE id = '01TB'")
    db.commit()
    db.close()
    convs = conversations(path)
    assert len(convs) == 2
    assert any("b2:gone" in p for p in convs[1].problems)


# -- archive level ---------------------------------------------------------------------------------


def test_import_and_reimport_unchanged(archive: Archive, tmp_path: Path) -> None:
    path = legacy_db(tmp_path)
    before = sha(path)
    report = ingest(archive, path)
    assert report.kind == "llm" and report.ok
    assert report.conversations["new"] == 3 and report.messages["read"] == 9
    assert archive.search("orphan")
    again = ingest(archive, path)
    assert again.conversations["unchanged"] == 3 and again.messages["new"] == 0
    assert sha(path) == before


def test_a_wal_logs_db_is_read_without_a_file_made_beside_it(
    archive: Archive, tmp_path: Path
) -> None:
    """Review R3: ``mode=ro`` on a WAL database left ``logs.db-wal`` and ``-shm`` beside the
    person's file; read as ``immutable`` when it has no ``-wal``, nothing is made."""
    path = legacy_db(tmp_path)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")  # its -wal and -shm go with the last connection
    before = sorted(os.listdir(path.parent)), sha(path)
    assert ingest(archive, path).conversations["new"] == 3
    assert (sorted(os.listdir(path.parent)), sha(path)) == before


def test_import_store_and_reimport_unchanged(archive: Archive, tmp_path: Path) -> None:
    path, _ = store_db(tmp_path)
    report = ingest(archive, path)
    assert report.kind == "llm" and report.ok and report.conversations["new"] == 2
    again = ingest(archive, path)
    assert again.conversations["unchanged"] == 2


# -- what llm keeps beside a response --------------------------------------------------------------

# The tables of llm/migrations.py (m012, m014–m021) that link rows to a response.
LINKED = """
CREATE TABLE _llm_migrations (name TEXT PRIMARY KEY, applied_at TEXT);
CREATE TABLE schemas (id TEXT PRIMARY KEY, content TEXT);
CREATE TABLE attachments (id TEXT PRIMARY KEY, type TEXT, path TEXT, url TEXT, content BLOB);
CREATE TABLE prompt_attachments (response_id TEXT, attachment_id TEXT, "order" INTEGER,
    PRIMARY KEY (response_id, attachment_id));
CREATE TABLE fragments (id INTEGER PRIMARY KEY, hash TEXT, content TEXT, datetime_utc TEXT,
    source TEXT);
CREATE TABLE fragment_aliases (alias TEXT PRIMARY KEY, fragment_id INTEGER);
CREATE TABLE prompt_fragments (response_id TEXT, fragment_id INTEGER, "order" INTEGER,
    PRIMARY KEY (response_id, fragment_id, "order"));
CREATE TABLE system_fragments (response_id TEXT, fragment_id INTEGER, "order" INTEGER,
    PRIMARY KEY (response_id, fragment_id, "order"));
CREATE TABLE tools (id INTEGER PRIMARY KEY, hash TEXT, name TEXT, description TEXT,
    input_schema TEXT, plugin TEXT);
CREATE TABLE tool_responses (tool_id INTEGER, response_id TEXT, PRIMARY KEY (tool_id, response_id));
CREATE TABLE tool_calls (id INTEGER PRIMARY KEY, response_id TEXT, tool_id INTEGER, name TEXT,
    arguments TEXT, tool_call_id TEXT);
CREATE TABLE tool_instances (id INTEGER PRIMARY KEY, plugin TEXT, name TEXT, arguments TEXT);
CREATE TABLE tool_results (id INTEGER PRIMARY KEY, response_id TEXT, tool_id INTEGER, name TEXT,
    output TEXT, tool_call_id TEXT, instance_id INTEGER, exception TEXT);
CREATE TABLE tool_results_attachments (tool_result_id INTEGER, attachment_id TEXT,
    "order" INTEGER, PRIMARY KEY (tool_result_id, attachment_id));
CREATE VIRTUAL TABLE responses_fts USING fts5(prompt, response);
CREATE TABLE logs (id INTEGER PRIMARY KEY, prompt TEXT, response TEXT);
CREATE VIEW every_prompt AS SELECT prompt FROM responses;
"""


def linked_db(tmp_path: Path) -> Path:
    """``llm -f code.py -s 'Be brief' -a chart.png --tool llm_time "review this"``, then the
    tool's result sent back with the next prompt; and a pre-0.4 ``logs`` row."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(40)
    return build(
        tmp_path / "logs.db",
        LEGACY + LINKED,
        {
            "conversations": [("c", "Review", "m")],
            "responses": [
                response("r1", "c", "review this", "Loop is O(n^2).", "2025-06-01T10:00:00",
                         schema_id="s1"),
                response("r2", "c", "", "It is 10:00.", "2025-06-01T10:01:00"),
            ],
            "schemas": [("s1", '{"type": "object"}')],
            "fragments": [(1, "h1", "def f(xs): ...", "2025-06-01", "code.py"),
                          (2, "h2", "Be brief.", "2025-06-01", "style.txt")],
            "fragment_aliases": [("code", 1)],
            "prompt_fragments": [("r1", 1, 0)],
            "system_fragments": [("r1", 2, 0)],
            "attachments": [("a1", "image/png", "/home/me/chart.png", None, png),
                            ("a2", "image/jpeg", None, "https://x.test/p.jpg", None)],
            "prompt_attachments": [("r1", "a1", 0), ("r1", "a2", 1)],
            "tools": [(1, "th", "llm_time", "The time", "{}", None)],
            "tool_responses": [(1, "r1")],
            "tool_calls": [(1, "r1", 1, "llm_time", "{}", "call_1")],
            "tool_instances": [],
            "tool_results": [(1, "r2", 1, "llm_time", "10:00", "call_1", None, None)],
            "logs": [(1, "ancient prompt", "ancient answer")],
        },
    )  # fmt: skip


def test_fragments_attachments_and_tool_calls_are_kept(archive: Archive, tmp_path: Path) -> None:
    """Only responses and conversations were read: a prompt written with ``-f code.py`` kept
    only "review this"; system fragments, attachments, tool calls and results were in no part
    and not in raw, and the report said nothing (ok, exit 0)."""
    path = linked_db(tmp_path)
    found = records(path)
    (conv,) = [r for r in found if isinstance(r, Conversation)]
    messages = {m.source_id: m for m in conv.messages}
    assert list(messages) == ["r1:system", "r1:prompt", "r1", "r2:tool_results", "r2"]
    system, prompt = messages["r1:system"], messages["r1:prompt"]
    assert system.hidden and system.parts[0]["name"] == "style.txt"
    assert [p["type"] for p in prompt.parts] == ["file", "image", "image", "text"]
    fragment = prompt.parts[0]
    assert (fragment["name"], fragment["hash"], fragment["aliases"]) == ("code.py", "h1", ["code"])
    assert prompt.text == "def f(xs): ...\n\nreview this"
    chart, photo = prompt.attachments
    assert (chart.name, chart.mime, chart.size) == ("chart.png", "image/png", 48)
    assert chart.opener is not None and photo.opener is None and photo.name == "p.jpg"
    call = messages["r1"].parts[-1]
    assert (call["type"], call["name"], call["call_id"]) == ("code", "llm_time", "call_1")
    assert messages["r1"].meta["tools"] == ["llm_time"]
    assert messages["r1"].meta["schema"] == {"type": "object"}
    result = messages["r2:tool_results"].parts[0]
    assert (result["text"], result["call_id"]) == ("10:00", "call_1")
    raw = json.loads(conv.raw)
    assert raw["linked"]["r1"]["prompt_fragments"][0]["fragments"]["content"] == "def f(xs): ..."
    assert raw["linked"]["r1"]["prompt_attachments"][0]["attachments"]["content"]["size"] == 48
    (unread,) = [r for r in found if isinstance(r, Problem)]
    assert unread.where == "logs" and unread.lost and "1 row" in unread.what
    report = ingest(archive, path)
    assert report.attachments == {"referenced": 2, "found": 1, "missing": 1, "stored": 1}
    assert archive.search("def") and not report.ok


def test_an_attachments_bytes_of_the_wrong_type_are_noted(tmp_path: Path) -> None:
    # found by the any-type test: a number where the bytes belong was a missing file, unsaid
    path = linked_db(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE attachments SET content = 0 WHERE rowid = 1")
    found = conversations(path)
    assert any("content: a number (0)" in p for c in found for p in c.problems)
