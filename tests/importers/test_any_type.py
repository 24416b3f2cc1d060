"""Any field of an export may hold any JSON type: a property of every importer.

Each importer gets a small valid export as its seed — a real one from ../shared/fixtures/real
where there is one, else the synthetic shape its own tests build — with an untouched
neighbour conversation first (so that recognising the export never hangs on the field under
test). Hypothesis picks one field of the other conversation, at any depth, and gives it a value
of another JSON type. Then, through ``import_path``:

* the import does not raise, and its ``sources`` row is finished (never left ``running``);
* the conversation is kept (nothing skipped) unless the field is one that makes it what it is
  (its id, or the key that says it is this format: ``structural`` below);
* when the value was not used where the original was — what freehold made of the
  conversation equals what it makes with that field null, and differs from the original — the
  report notes it, naming the field. (An empty string, array or object says nothing either
  way, and a few keys read more than one type, listed per seed in ``also``.)

The odd value itself stays in the raw JSON (the archive keeps every element's bytes).
"""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freehold.archive import Archive, open_archive
from freehold.errors import UnknownExportError
from freehold.importers import (
    aistudio,
    chatgpt,
    claude,
    freehold,
    gemini,
    grok,
    librechat,
    llm,
    mistral,
    openwebui,
)
from freehold.importers._conform import conform
from freehold.ingest import import_path
from freehold.models import Conversation
from tests.conftest import REAL

Path_ = tuple[str | int, ...]
_EXAMPLES = 60

# -- seeds -----------------------------------------------------------------------------------------


@dataclass
class Seed:
    """An export with one conversation under test (``element``) and what writes it."""

    name: str
    module: Any
    element: Any
    write: Callable[[Path, Any], Path]
    structural: set[Path_] = field(default_factory=set)
    # Keys whose value may also be of these JSON types, read as such (not odd when unused).
    also: dict[str, set[str]] = field(default_factory=dict)


def _real(relative: str) -> Any:
    path = REAL / relative
    if not path.is_file():
        pytest.skip(f"real fixtures not found at {REAL} (../shared is absent beside the repo)")
    return json.loads(path.read_text())


def _dump(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


def _array_file(name: str, neighbour: Any) -> Callable[[Path, Any], Path]:
    def write(folder: Path, element: Any) -> Path:
        path = folder / name
        path.write_text(_dump([neighbour, element]))
        return path

    return write


def _files(names: tuple[str, str], neighbour: Any) -> Callable[[Path, Any], Path]:
    """A folder of one conversation per file: the neighbour, then the one under test."""

    def write(folder: Path, element: Any) -> Path:
        root = folder / "export"
        root.mkdir()
        (root / names[0]).write_text(_dump(neighbour))
        (root / names[1]).write_text(_dump(element))
        return root

    return write


def _renamed(element: Any, key: str, value: str) -> Any:
    twin = copy.deepcopy(element)
    twin[key] = value
    return twin


def chatgpt_seed() -> Seed:
    element = _real("pkuppens-chatgpt-2023-06/conversations.json")[1]
    neighbour = _renamed(_renamed(element, "id", "neighbour"), "conversation_id", "neighbour")
    write = _array_file("conversations.json", neighbour)
    return Seed("chatgpt", chatgpt, element, write, {("id",), ("conversation_id",)})


def chatgpt_golden_seed() -> Seed:
    element = _real("echomine-aucontraire/chatgpt-golden-001/raw.json")
    element = element[0] if isinstance(element, list) else element
    neighbour = _renamed(_renamed(element, "id", "neighbour"), "conversation_id", "neighbour")
    write = _array_file("conversations.json", neighbour)
    return Seed("chatgpt-golden", chatgpt, element, write, {("id",), ("conversation_id",)})


def claude_seed() -> Seed:
    element = _real("echomine-aucontraire/claude/sample_export.json")[0]
    write = _array_file("conversations.json", _renamed(element, "uuid", "neighbour"))
    return Seed("claude", claude, element, write, {("uuid",)})


def claude_design_seed() -> Seed:
    element = _real("polylogue-aistudio-and-misc/claude-design-session.json")

    def write(folder: Path, value: Any) -> Path:
        root = folder / "export" / "design_chats"
        root.mkdir(parents=True)
        (root / "a.json").write_text(_dump(_renamed(element, "uuid", "neighbour")))
        (root / "b.json").write_text(_dump(value))
        return folder / "export"

    return Seed("claude-design", claude, element, write, {("uuid",)})


def openwebui_seed() -> Seed:
    chats = _real("librechat-import-data/openwebui-export.json")
    write = _array_file("chat-export.json", chats[0])
    return Seed("openwebui", openwebui, chats[1], write, {("id",)})


def librechat_seed() -> Seed:
    element = _real("librechat-import-data/librechat-tree.json")
    neighbour = _renamed(element, "conversationId", "neighbour")
    write = _files(("a.json", "b.json"), neighbour)
    return Seed("librechat", librechat, element, write, {("conversationId",)})


def aistudio_seed(name: str) -> Seed:
    element = _real(f"polylogue-aistudio-and-misc/aistudio-{name}.json")
    write = _files(("a", "b"), _renamed(element, "displayName", "neighbour"))
    structural: set[Path_] = {("chunkedPrompt",), ("chunkedPrompt", "chunks")}
    # ``branchParent`` may be a bare id, and may name a chunk of another prompt file.
    also = {"branchParent": {"str"}}
    return Seed(f"aistudio-{name}", aistudio, element, write, structural, also)


def gemini_seed() -> Seed:
    records = _real("portable-ai-context-gemini/gemini_my_activity.synthetic.json")
    ours = [r for r in records if r.get("header") == "Gemini Apps"]
    neighbour = {**ours[0], "time": "2020-01-01T00:00:00Z", "titleUrl": None}

    def write(folder: Path, value: Any) -> Path:
        path = folder / "MyActivity.json"
        path.write_text(_dump([value, neighbour]))  # newest first, as Takeout writes it
        return path

    # A record that stops naming Gemini is another product's, rightly left aside.
    structural: set[Path_] = {("header",), ("products",), ("products", 0)}
    return Seed("gemini", gemini, ours[-1], write, structural)


def grok_seed() -> Seed:
    export = _real("polylogue-aistudio-and-misc/grok-export.json")
    element = export["conversations"][0]
    neighbour = copy.deepcopy(element)
    neighbour["conversation"]["title"] = "neighbour"

    def write(folder: Path, value: Any) -> Path:
        path = folder / "grok.json"
        path.write_text(_dump({"conversations": [neighbour, value]}))
        return path

    return Seed("grok", grok, element, write, {("conversation",)})


def mistral_seed() -> Seed:
    first = "0b6f2a5e-3c1d-4e8f-9a7b-1c2d3e4f5a6b"
    element = [
        {"id": "m1", "role": "user", "content": "Search this", "createdAt": "2026-01-05T10:00Z"},
        {
            "id": "m2",
            "role": "assistant",
            "content": "Found it.",
            "contentChunks": [
                {"type": "text", "text": "Found it."},
                {"type": "tool_call", "name": "web", "publicArguments": {"q": "x"}},
            ],
            "createdAt": "2026-01-05T10:00:05Z",
            "files": [{"type": "image", "name": "a.png"}],
        },
    ]
    names = ("chat-9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a.json", f"chat-{first}.json")
    return Seed("mistral", mistral, element, _files(names, element))


def freehold_seed() -> Seed:
    message = {
        "source_id": "m1",
        "role": "user",
        "content_type": "text",
        "text": "hi",
        "parts": [{"type": "text", "text": "hi"}],
        "on_visible_path": True,
        "created_at": 1_700_000_000.0,
        "attachments": [{"pointer": "p1", "name": "a.png", "mime": "image/png", "size": 3}],
    }
    answer = {**message, "source_id": "m2", "parent_source_id": "m1", "role": "assistant"}
    element = {
        "source_kind": "chatgpt",
        "source_id": "c1",
        "title": "Otters",
        "model": "gpt-4o",
        "created_at": 1_700_000_000.0,
        "messages": [message, answer],
        "context": [{"kind": "memory", "text": "likes otters"}],
        "raw": [{"encoding": "json", "value": {"id": "c1"}}],
    }

    def write(folder: Path, value: Any) -> Path:
        root = folder / "export"
        root.mkdir()
        manifest = {"format": "freehold-export", "version": 1, "conversations": 2}
        (root / "freehold-export.json").write_text(json.dumps(manifest))
        lines = [json.dumps(_renamed(element, "source_id", "neighbour")), json.dumps(value)]
        (root / "conversations.jsonl").write_text("\n".join(lines) + "\n")
        return root

    # A line of freehold's own export must keep its identity, messages and raw versions.
    structural: set[Path_] = {("source_kind",), ("source_id",), ("messages",), ("raw",)}
    structural |= {("raw", 0), ("raw", 0, "encoding"), ("raw", 0, "value")}
    return Seed("freehold", freehold, element, write, structural)


SEEDS: dict[str, Callable[[], Seed]] = {
    "chatgpt": chatgpt_seed,
    "chatgpt-golden": chatgpt_golden_seed,
    "claude": claude_seed,
    "claude-design": claude_design_seed,
    "openwebui": openwebui_seed,
    "librechat": librechat_seed,
    "aistudio-branching": lambda: aistudio_seed("branching_session"),
    "aistudio-multimodal": lambda: aistudio_seed("multimodal_session"),
    "aistudio-code": lambda: aistudio_seed("code_execution_session"),
    "gemini": gemini_seed,
    "grok": grok_seed,
    "mistral": mistral_seed,
    "freehold": freehold_seed,
}


# -- JSON values and paths -------------------------------------------------------------------------


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    if not isinstance(value, dict | list):
        return
    items: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        yield (*prefix, key)
        yield from paths(item, (*prefix, key))


def replaced(value: Any, path: Path_, new: Any) -> Any:
    out = copy.deepcopy(value)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return out


def at(value: Any, path: Path_) -> Any:
    for key in path:
        value = value[key]
    return value


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)


# -- what freehold made of it ----------------------------------------------------------------------


def made(seed: Seed, folder: Path, element: Any) -> list[Any]:
    """The conversations freehold makes of the export, less what is kept verbatim (raw JSON,
    meta, unknown parts' raw) and the id (AI Studio derives it from the bytes)."""
    path = seed.write(_fresh(folder), element)
    found = []
    for record in seed.module.iter_conversations(path):
        if isinstance(record, Conversation):
            try:
                found.append(_projection(conform(record)))
            except ValueError:
                found.append(None)
    return found


def _projection(conv: Conversation) -> tuple[Any, ...]:
    head = (conv.title, conv.created_at, conv.updated_at, conv.model, conv.account_id)
    flags = (conv.project, conv.archived, conv.starred, conv.current_leaf)
    context = [(c.kind, c.text, c.created_at) for c in conv.context]
    return (*head, *flags, context, [_message(m) for m in conv.messages])


def _message(m: Any) -> tuple[Any, ...]:
    parts = [{k: v for k, v in p.items() if k not in ("raw", "citations")} for p in m.parts]
    refs = [(a.pointer, a.name, a.mime, a.size) for a in m.attachments]
    head = (m.source_id, m.parent_source_id, m.role, m.content_type, m.text, m.author_name)
    return (*head, m.model, m.created_at, m.hidden, m.status, m.on_visible_path, parts, refs)


def structural(seed: Seed, path: Path_) -> bool:
    return any(path == s[: len(path)] for s in seed.structural)


def named(path: Path_) -> list[str]:
    """What a note about ``path`` must say: its key, or for a list item its list or index."""
    last = path[-1]
    if isinstance(last, str):
        return [last]
    keys = [str(k) for k in path if isinstance(k, str)]
    return [str(last), *keys[-1:]]


# -- the property ----------------------------------------------------------------------------------


def check(
    seed: Seed, archive: Archive, work: Path, before: list[Any], path: Path_, new: Any
) -> None:
    mutated = replaced(seed.element, path, new)
    after = made(seed, work / "nulled", replaced(seed.element, path, None))
    now = made(seed, work / "export", mutated)
    export = seed.write(_fresh(work / "import"), mutated)
    try:
        report = import_path(archive, export, reader_process=False)
    except UnknownExportError:
        assert structural(seed, path), f"{path} → {new!r}: no longer recognised"
        return
    status = archive.db.execute("SELECT status FROM sources ORDER BY id DESC").fetchone()[0]
    assert status in ("complete", "partial"), f"{path} → {new!r}: source left {status}"
    if structural(seed, path):
        return  # skipping it, with a problem that says why, is right
    assert report.conversations["skipped"] == 0, (path, new, report.problems)
    # Nor its messages: an odd value is a note, never a loss (a conversation kept with its raw
    # JSON only, ``salvage``, is the guard for a bug, and a wrong type must never reach it).
    assert report.lost_count == 0, (path, new, report.problems)
    assert report.conversations["read"] >= 2, (path, new)
    unused = now == after and now != before and at(seed.element, path) is not None
    accepted = isinstance(path[-1], str) and kind(new) in seed.also.get(path[-1], set())
    empty = new in ("", [], {})  # says nothing either way: "no value" of an accepted type
    if unused and new is not None and not accepted and not empty:
        noted = [p.what for p in report.problems if not p.lost]
        words = named(path)
        assert any(w in n for n in noted for w in words), (path, new, noted)


_LINK_WORDS = ("id", "uuid", "parent", "children", "current", "branch", "hash")


def _linking(path: Path_) -> bool:
    """A path whose key (or list's key) names an id or a link between messages."""
    keys = [k.lower() for k in path if isinstance(k, str)]
    return bool(keys) and any(word in keys[-1] for word in _LINK_WORDS)


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_any_field_may_hold_any_json_type(name: str, tmp_path: Path) -> None:
    seed = SEEDS[name]()
    choices = list(paths(seed.element))
    # Half the examples change a link (an id, a parent, children): the one field whose wrong
    # type once cost the whole conversation's messages (an unhashable parent, 2026-12-07).
    links = [p for p in choices if _linking(p)] or choices
    before = made(seed, tmp_path / "work" / "seed", seed.element)

    # A fresh archive for each example: a note is reported by the import that first meets it
    # (issue 10, item 15), and an example must not depend on the ones before it.
    @settings(
        max_examples=_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(links) | st.sampled_from(choices), label="path")
        old = at(seed.element, path)
        new = data.draw(json_values.filter(lambda v: kind(v) != kind(old)), label="value")
        with open_archive(_fresh(tmp_path / "home")) as archive:
            check(seed, archive, tmp_path / "work", before, path, new)

    run()


# -- llm: any column may hold any SQLite type ------------------------------------------------------

_SQLITE_VALUES = {
    "null": st.none(),
    "number": st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False),
    "text": st.text(max_size=12),
    "blob": st.binary(max_size=8),
}
# Row ids of conversations: changing them changes which conversation a row belongs to.
_LLM_IDS = {("conversations", "id"), ("responses", "id"), ("threads", "id")}
# Links between rows: one that names no row is repaired (an orphan, a root), not an odd type;
# and a column's affinity turns a number written to a TEXT column into text anyway.
_LLM_LINKS = {
    ("responses", "conversation_id"),
    ("threads", "tip_message_hash"),
    ("threads", "forked_from"),
    ("turns", "thread_id"),
    ("turns", "parent_message_hash"),
    ("turns", "tip_message_hash"),
    ("messages", "hash"),
    ("messages", "parent_hash"),
    ("parts", "message_hash"),
    *((table, "response_id") for table in ("prompt_fragments", "system_fragments")),
    *((table, "response_id") for table in ("prompt_attachments", "tool_responses")),
    *((table, "response_id") for table in ("tool_calls", "tool_results")),
    ("prompt_fragments", "fragment_id"),
    ("system_fragments", "fragment_id"),
    ("fragment_aliases", "fragment_id"),
    ("fragments", "id"),
    ("prompt_attachments", "attachment_id"),
    ("attachments", "id"),
    ("tool_responses", "tool_id"),
    ("tools", "id"),
    ("responses", "schema_id"),
    ("schemas", "id"),
    ("tool_results", "instance_id"),
}


def _llm_seed(layout: str, folder: Path) -> Path:
    from tests.importers.test_llm import legacy_db, linked_db, store_db

    folder.mkdir()
    if layout == "linked":
        return linked_db(folder)
    return legacy_db(folder) if layout == "legacy" else store_db(folder)[0]


def _cells(db_path: Path) -> list[tuple[str, int, str, str]]:
    """Every (table, rowid, column, storage class) of the database."""
    cells = []
    with sqlite3.connect(db_path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            info = list(db.execute(f'PRAGMA table_info("{table}")'))
            keys = [r for r in info if r[5]]
            # An INTEGER PRIMARY KEY of its own is the rowid: SQLite holds nothing else in it.
            rowid = keys[0][1] if len(keys) == 1 and keys[0][2].upper() == "INTEGER" else None
            columns = [r[1] for r in info if r[1] != rowid]
            for column in columns:
                query = f'SELECT rowid, typeof("{column}") FROM "{table}"'
                try:
                    cells += [(table, rowid, column, kind) for rowid, kind in db.execute(query)]
                except sqlite3.OperationalError:  # a full-text index's own table: no rowid
                    break
    return cells


def _updated(seed: Path, out: Path, cell: tuple[str, int, str, str], value: Any) -> Path:
    shutil.copyfile(seed, out)
    table, rowid, column, _ = cell
    with sqlite3.connect(out) as db:
        db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (value, rowid))
    return out


def _made_llm(path: Path) -> list[Any]:
    found = [r for r in llm.iter_conversations(path) if isinstance(r, Conversation)]
    return sorted((c.source_id, _projection(conform(c))) for c in found)


@pytest.mark.parametrize("layout", ["legacy", "store", "linked"])
def test_any_llm_column_may_hold_any_sqlite_type(layout: str, tmp_path: Path) -> None:
    seed = _llm_seed(layout, tmp_path / "seed")
    cells = _cells(seed)
    before = _made_llm(seed)

    @settings(max_examples=_EXAMPLES // 2, deadline=None)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        cell = data.draw(st.sampled_from(cells), label="cell")
        stored = "number" if cell[3] in ("integer", "real") else cell[3]
        others = [v for k, v in _SQLITE_VALUES.items() if k != stored]
        value = data.draw(st.one_of(others), label="value")
        path = _updated(seed, tmp_path / "logs.db", cell, value)
        with open_archive(_fresh(tmp_path / "home")) as archive:
            report = import_path(archive, path, reader_process=False)
            status = archive.db.execute("SELECT status FROM sources ORDER BY id DESC").fetchone()
        assert status[0] in ("complete", "partial"), (cell, value)
        if (cell[0], cell[2]) in _LLM_IDS:
            return
        assert report.conversations["skipped"] == 0, (cell, value, report.problems)
        now = _made_llm(path)
        nulled = _made_llm(_updated(seed, tmp_path / "nulled.db", cell, None))
        link = (cell[0], cell[2]) in _LLM_LINKS
        told = value not in (None, "", b"") and cell[3] != "null" and not link
        if told and now == nulled != before:
            noted = [p.what for p in report.problems if not p.lost]
            assert any(cell[2] in n for n in noted), (cell, value, noted)

    run()


def test_an_alias_that_is_not_text_is_noted(tmp_path: Path) -> None:
    """A fragment alias stored as a blob (found by the property test above: b"\\x00") is left
    out of the fragment's aliases and said, never dropped without a word."""
    seed = _llm_seed("linked", tmp_path / "seed")
    path = _updated(seed, tmp_path / "logs.db", ("fragment_aliases", 1, "alias", "text"), b"\x00")
    with open_archive(_fresh(tmp_path / "home")) as archive:
        report = import_path(archive, path, reader_process=False)
    noted = [p.what for p in report.problems if not p.lost]
    assert any("alias" in what for what in noted), noted
    assert report.conversations["skipped"] == 0
