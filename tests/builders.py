"""Small real files the tests build: nothing here is a mock."""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from freehold.archive import Archive
from freehold.ingest import ImportReport, import_path
from freehold.migrations import MIGRATIONS, Step

__all__ = [
    "LIBRECHAT_PREFIX",
    "SYSTEM_PROMPT",
    "chatgpt_chats",
    "damaged_zip",
    "found_messages",
    "ingest",
    "own_system_prompts",
    "png",
    "steps_before",
    "write_zip",
]

# A conversation's own system prompt: Open WebUI's ``chat.params.system`` (the probe's chat)
# and the real LibreChat export's ``promptPrefix``.
SYSTEM_PROMPT = "SYSPROMPT-MARKER: answer in French."
LIBRECHAT_PREFIX = "You are an expert software engineer."
LIBRECHAT = "librechat-import-data/librechat-tree.json"
CUSTOM_INSTRUCTIONS = "echomine-aucontraire/chatgpt-golden-001/raw.json"  # ChatGPT's, as parts


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, decodable RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def write_zip(path: Path, members: Mapping[str | zipfile.ZipInfo, bytes]) -> Path:
    """A real zip of ``members``; duplicate names are allowed (some tests need them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    return path


def damaged_zip(path: Path, members: Mapping[str, bytes], damage: str) -> Path:
    """A zip of ``members`` whose first one (small, deflated) is damaged: ``data``, its
    compressed bytes garbled near their start; ``crc``, its CRC-32 wrong in the zip's directory
    (found only once the member is read to its end)."""
    write_zip(path, members)
    data = bytearray(path.read_bytes())
    if damage == "data":
        start = 30 + len(next(iter(members)).encode()) + 2  # past the local header
        data[start : start + 38] = bytes(byte ^ 0x55 for byte in data[start : start + 38])
    else:
        entry = data.find(b"PK\x01\x02")  # the first member's directory entry
        data[entry + 16] ^= 1
    path.write_bytes(bytes(data))
    return path


def ingest(archive: Archive, path: Path) -> ImportReport:
    """Import in this process (the reader-process path has its own tests)."""
    return import_path(archive, path, reader_process=False)


def own_system_prompts(archive: Archive, folder: Path, real: Path) -> None:
    """Import an Open WebUI chat with ``params.system``, the real LibreChat export (its
    ``promptPrefix``) and a real ChatGPT conversation whose custom instructions are parts."""
    messages = {
        "u1": {"id": "u1", "parentId": None, "childrenIds": ["a1"], "role": "user"},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant"},
    }
    messages["u1"].update(content="Hello", timestamp=1700000000)
    messages["a1"].update(content="Bonjour", model="llama3", timestamp=1700000010, done=True)
    chat = {
        "title": "S",
        "models": ["llama3"],
        "params": {"system": SYSTEM_PROMPT},
        "history": {"currentId": "a1", "messages": messages},
    }
    item = {"id": "sys-chat", "user_id": "u1", "title": "S", "chat": chat}
    item.update(created_at=1700000000, updated_at=1700000100)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openwebui.json").write_text(json.dumps([item]))
    for path in (folder / "openwebui.json", real / LIBRECHAT, real / CUSTOM_INSTRUCTIONS):
        ingest(archive, path)


def chatgpt_chats(path: Path, chats: Mapping[str, tuple[str, list[str]]], start: float) -> Path:
    """A ChatGPT export zip: for each id, (title, texts) with the texts a line of turns (user,
    assistant, user…), a minute apart; each chat an hour after the one before."""

    def node(mid: str, parent: str | None, role: str, text: str, t: float) -> dict[str, object]:
        content = {"content_type": "text", "parts": [text]}
        author = {"role": role, "name": None, "metadata": {}}
        message = {"id": mid, "author": author, "create_time": t, "content": content}
        return {"id": mid, "message": message, "parent": parent, "children": []}

    conversations = []
    for n, (cid, (title, texts)) in enumerate(chats.items()):
        t = start + n * 3600
        mapping = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        parent = "root"
        for i, text in enumerate(texts):
            mid = f"{cid}-{i}"
            mapping[mid] = node(mid, parent, ("user", "assistant")[i % 2], text, t + 60 * i)
            mapping[parent]["children"].append(mid)  # type: ignore[attr-defined]
            parent = mid
        head = {"id": cid, "title": title, "create_time": t, "update_time": t + 3000}
        conversations.append({**head, "mapping": mapping, "current_node": parent})
    members = {"conversations.json": json.dumps(conversations, ensure_ascii=False).encode()}
    return write_zip(path, {**members, "user.json": b'{"id": "user-chats"}'})


# What today's archive code reads and writes for every conversation it imports, by the step
# that adds it: columns (added alone: m014 also backfills its column from columns an older
# archive may not have yet), and the index of file names (m013, for each message that points
# at a file), added by its own step.
_COLUMNS_WRITTEN_BY_EVERY_IMPORT = {
    "m011_conversations_parser_version": "parser_version TEXT",
    "m014_source_updated_at": "source_updated_at REAL",
}
_STEPS_WRITTEN_BY_EVERY_IMPORT = ("m013_file_names",)


def steps_before(count: int) -> list[tuple[str, Step]]:
    """The first ``count`` migration steps, for a test that writes an older archive with
    today's code: with what every import writes (a column alone, an index by its step)."""
    before = dict(MIGRATIONS[:count])
    columns = [
        (name, _column_added(column))
        for name, column in _COLUMNS_WRITTEN_BY_EVERY_IMPORT.items()
        if name not in before
    ]
    steps = [s for s in MIGRATIONS if s[0] in _STEPS_WRITTEN_BY_EVERY_IMPORT and s[0] not in before]
    return MIGRATIONS[:count] + columns + steps


def _column_added(column: str) -> Step:
    return lambda _db: f"ALTER TABLE conversations ADD COLUMN {column};"


def found_messages(archive: Archive, query: str, **filters: str) -> set[str]:
    """The source id of each message ``archive.search`` finds (``ja-0``: the first message of
    chat ``ja``)."""
    ids = [hit.message_id for hit in archive.search(query, limit=100, **filters)]
    rows = archive.db.execute(
        "SELECT source_message_id FROM messages WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    return {row[0] for row in rows}
