"""Mistral Le Chat exports (FORMATS.md §D.6).

Le Chat gives one ``chat-<uuid>.json`` per chat (attachments, if any, in ``chat-<uuid>-files/``),
and no titles. Accepted: the file itself, or a folder or zip holding such files (matched by the
member's base name). The content is a JSON array of messages; an object ``{"messages": [...]}``
is accepted too [unverified: no such export seen].

A message, as read by a third-party importer (``Superkikim/nexus-ai-chat-importer:
src/providers/lechat/lechat-types.ts``) [unverified against a real export]: ``{id, version,
chatId, role: "user"|"assistant", content, contentChunks: [{type: text|tool_call|reference|
custom_element, …}] | null, createdAt: ISO, files: [{type, name}], …}``. The minimal shape
``[{"role", "content", "createdAt"?}]`` is read as well [unverified].

Conversations are linear (each message hangs from the one before). ``contentChunks`` become
parts when present (``text`` → text, ``tool_call`` → code with ``publicArguments`` plus an
execution_output for ``publicResult``, others → unknown); otherwise ``content`` is one text part.
``files`` names are kept in ``meta``; their bytes are not imported. Title: the first user text,
truncated to 80 characters. Source id: the uuid from the file name; message ids: ``id`` or
``message-<index>``. ``raw`` is the file's bytes.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._common import export_problems
from freehold.importers._common import iso_time as _time
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, open_export
from freehold.models import Conversation, ExportInfo, Message, Part, Problem, Record
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "mistral"
PARSER_VERSION = "mistral/1"

_NAME = re.compile(r"chat-([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})\.json")
_LIMIT = 256 << 20
_TITLE = 80
_ROLES = {"user", "assistant", "system", "tool"}


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for a ``chat-<uuid>.json`` holding messages, or a folder or zip with one."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        return any(_messages_of(_load(files, name)) is not None for name in _chat_names(files))
    finally:
        files.close()


def _chat_names(files: ExportFiles) -> list[str]:
    return [name for name in files.names() if _uuid(name)]


def _uuid(name: str) -> str | None:
    found = _NAME.fullmatch(name.rsplit("/", 1)[-1])
    return found.group(1).lower() if found else None


def _load(files: ExportFiles, name: str) -> Any:
    try:
        if files.size(name) > _LIMIT:
            return None
        with files.open(name) as handle:
            return orjson.loads(handle.read())
    except (
        FreeholdError,
        OSError,
        EOFError,
        zlib.error,
        zipfile.BadZipFile,
        orjson.JSONDecodeError,
    ):
        return None


def _messages_of(value: Any) -> list[Any] | None:
    """The message list of a chat file, or None when it is not one."""
    items = value.get("messages") if isinstance(value, dict) else value
    if not isinstance(items, list):
        return None
    if items and not any(isinstance(m, dict) and m.get("role") in _ROLES for m in items):
        return None
    return items


# -- the export ------------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then conversations and problems."""
    files = open_export(path)
    try:
        yield from _records(files)
    finally:
        files.close()


def _records(files: ExportFiles) -> Iterator[Record]:
    names = _chat_names(files)
    if not names:
        raise BadExportError(
            f"{files.label}: no Le Chat chat-<uuid>.json file found — is this Mistral's export?"
        )
    yield ExportInfo(kind=KIND, files=[(name, files.size(name)) for name in names])
    yield from export_problems(files)
    for name in names:
        yield _read(files, name)


def _read(files: ExportFiles, name: str) -> Record:
    try:
        with files.open(name) as handle:
            raw = handle.read()
        items = _messages_of(orjson.loads(raw))
        if items is None:
            raise ValueError("not a list of messages")
        return _conversation(str(_uuid(name)), items, raw)
    except (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        return Problem(name, f"cannot be read ({error}); skipped — download it again", skipped=1)
    except orjson.JSONDecodeError as error:
        return Problem(name, f"not valid JSON ({error}); skipped — download it again", skipped=1)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        what = f"not a readable chat ({type(error).__name__}: {error}); skipped"
        return Problem(name, what + " — check the file", skipped=1)


def _conversation(uuid: str, items: list[Any], raw: bytes) -> Conversation:
    problems: list[str] = []
    messages: list[Message] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"message {index} is not an object; left out — check the file")
            continue
        message = _message(item, _message_id(item, index, seen))
        message.parent_source_id = messages[-1].source_id if messages else None
        messages.append(message)
    tree = build_tree(messages, messages[-1].source_id if messages else None)
    times = [m.created_at for m in messages if m.created_at is not None]
    return Conversation(
        source_kind=KIND,
        source_id=uuid,
        title=_title(messages),
        messages=tree.messages,
        raw=raw,
        created_at=min(times) if times else None,
        updated_at=max(times) if times else None,
        current_leaf=tree.leaf,
        problems=problems + tree.problems,
    )


def _message_id(item: dict[str, Any], index: int, seen: set[str]) -> str:
    given = _str(item.get("id"))
    source_id = given if given and given not in seen else f"message-{index}"
    seen.add(source_id)
    return source_id


def _message(item: dict[str, Any], source_id: str) -> Message:
    chunks = item.get("contentChunks")
    content = _str(item.get("content")) or ""
    parts = _chunks(chunks) if isinstance(chunks, list) and chunks else []
    if not any(p["type"] == "text" for p in parts) and content:
        parts.insert(0, {"type": "text", "text": content})
    kinds = list(dict.fromkeys(p["type"] for p in parts))
    text = "\n\n".join(p["text"] for p in parts if p["type"] == "text") or content
    files = item.get("files")
    names = [f.get("name") for f in files if isinstance(f, dict)] if isinstance(files, list) else []
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=_str(item.get("role")) or "unknown",
        content_type="text" if kinds in ([], ["text"]) else "+".join(kinds),
        parts=parts,
        text=text,
        created_at=_time(item.get("createdAt")),
        meta={"files": names} if names else {},
    )


def _chunks(chunks: list[Any]) -> list[Part]:
    parts: list[Part] = []
    for chunk in chunks:
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if kind == "text" and isinstance(chunk.get("text"), str):
            parts.append({"type": "text", "text": chunk["text"]})
        elif kind == "tool_call" and isinstance(chunk, dict):
            parts.extend(_tool_call(chunk))
        else:
            parts.append({"type": "unknown", "content_type": str(kind), "raw": chunk})
    return parts


def _tool_call(chunk: dict[str, Any]) -> list[Part]:
    arguments = chunk.get("publicArguments")
    code: Part = {"type": "code", "language": "json", "text": _plain(arguments)}
    if chunk.get("name"):
        code["tool_name"] = chunk["name"]
    result = chunk.get("publicResult")
    return [code] + ([{"type": "execution_output", "text": _plain(result)}] if result else [])


def _title(messages: list[Message]) -> str | None:
    for message in messages:
        text = message.text.strip()
        if message.role == "user" and text:
            return text if len(text) <= _TITLE else text[: _TITLE - 1].rstrip() + "…"
    return None


# -- small helpers ---------------------------------------------------------------------------------


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
