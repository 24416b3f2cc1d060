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
Each file ``files`` names is an attachment (``mistral-file://<name>``, ``_common``) whose bytes
are read from ``chat-<uuid>-files/<name>`` beside the chat, where the export holds it (else it is
reported missing); the chat claims its files folder, and a file there that no message names is
kept as a file of the import, named in the report. Title: the first user text, truncated to 80
characters. Source id: the uuid from the file name; message ids: ``id`` or ``message-<index>``
(one given twice: ``tree.unique_ids``). ``raw`` is the file's bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import orjson

from freehold.importers import _fields as field
from freehold.importers._common import Opener, PartsBuilder
from freehold.importers._skeleton import READ_ERRORS, Claim, Export, Format, Kept, linear
from freehold.models import Conversation, Message, Part, Problem, Record, SourceFile
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "mistral"
PARSER_VERSION = "mistral/3"

_UUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
_NAME = re.compile(rf"(?:^|/)chat-({_UUID})\.json$")
_TITLE = 80
_ROLES = {"user", "assistant", "system", "tool"}


class _Mistral(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "Mistral Le Chat"
    names = _NAME
    shape = "file"
    noun = "chat"
    again = "download it again"
    invalid = "not a list of messages"
    missing = "no Le Chat chat-<uuid>.json file found — is this Mistral's export?"

    def __init__(self, export: Export) -> None:
        super().__init__(export)
        self.used: set[str] = set()  # the files of chat-<uuid>-files/ a message named
        self.members = set(export.names())

    def claim(self) -> Claim:
        """The chats, and the files folder beside each (its attachments)."""
        claim = super().claim()
        folders = tuple(_files_folder(name) for name in claim.members)
        claim.owns |= {n for n in self.export.names() if folders and n.startswith(folders)}
        return claim

    def accepts(self, name: str) -> bool:
        """A ``chat-<uuid>.json`` (even given on its own) that holds messages."""
        return _uuid(name) is not None and _messages_of(self._load(name)) is not None

    def _load(self, name: str) -> Any:
        try:
            if self.export.size(name) > self.limit:
                return None
            with self.export.open(name) as handle:
                return orjson.loads(handle.read())
        except (*READ_ERRORS, orjson.JSONDecodeError):
            return None

    def candidates(self, claim: Claim) -> list[str]:
        """Every ``chat-<uuid>.json``: one that is broken is reported, not passed over."""
        return [name for name in self.export.names() if _uuid(name)]

    def valid(self, value: Any) -> bool:
        return _messages_of(value) is not None

    def restore(self, kept: Kept) -> None:
        """Converting again: the chat's id is its file's name, which is rebuilt from it."""
        self.member = f"chat-{kept.source_id}.json"

    def epilogue(self, names: list[str]) -> Iterator[Record]:
        """The files beside the chats that no message named: kept, and said so."""
        folders = tuple(_files_folder(name) for name in names)
        for name in self.export.names():
            if folders and name.startswith(folders) and name not in self.used:
                yield from self.stray(name)

    def stray(self, name: str) -> Iterator[Record]:
        """A file no message names, kept whole (when it can be read and is not too large)."""
        if self.export.size(name) > self.limit:
            yield Problem(
                name,
                f"no message names this file, larger than {self.limit >> 20} MiB; "
                "not imported — keep it yourself",
            )
            return
        try:
            with self.export.open(name) as handle:
                yield SourceFile(name, handle.read())
        except READ_ERRORS as error:
            yield Problem(name, f"cannot be read ({error}); not imported — {self.again}")
            return
        what = "no message names this file; kept as a file of the import, not attached"
        yield Problem(name, what, lost=False)

    def locate(self, name: str) -> Opener | None:
        """The bytes of a file the chat being read names, in its ``chat-<uuid>-files/``."""
        member = _files_folder(self.member) + PurePosixPath(name).name
        if member not in self.members:
            return None
        self.used.add(member)
        return partial(self.export.open, member)

    def convert(self, value: Any, raw: bytes) -> Conversation:
        problems: list[str] = []
        items = _messages_of(value) or []
        messages = linear(
            items, lambda item, index: _message(item, index, self), problems, rename=_renamed
        )
        tree = build_tree(messages, messages[-1].source_id if messages else None)
        times = [m.created_at for m in messages if m.created_at is not None]
        return Conversation(
            source_kind=KIND,
            source_id=str(_uuid(self.member)),
            title=_title(messages),
            messages=tree.messages,
            raw=raw,
            created_at=min(times) if times else None,
            updated_at=max(times) if times else None,
            current_leaf=tree.leaf,
            problems=problems + tree.problems,
        )

    def identify(self, value: Any, raw: bytes) -> str | None:
        return _uuid(self.member)


FORMAT = _Mistral
detect = _Mistral.detect
iter_conversations = _Mistral.iter_conversations


def _files_folder(name: str) -> str:
    """``chat-<uuid>-files/`` beside the chat file ``name`` (``…/chat-<uuid>.json``)."""
    return name.removesuffix(".json") + "-files/"


def _uuid(name: str) -> str | None:
    found = _NAME.search("/" + PurePosixPath(name).name)
    return found.group(1).lower() if found else None


def _messages_of(value: Any) -> list[Any] | None:
    """The message list of a chat file, or None when it is not one."""
    items = value.get("messages") if isinstance(value, dict) else value
    if not isinstance(items, list):
        return None
    if items and not any(isinstance(m, dict) and _str_in(m.get("role"), _ROLES) for m in items):
        return None
    return items


def _str_in(value: Any, allowed: set[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _renamed(index: int) -> str:
    """A message whose id an earlier one holds: ``message-<index>``, as before 2026-12-07."""
    return f"message-{index}"


def _message(item: dict[str, Any], index: int, chat: _Mistral) -> Message:
    source_id = field.text(item, "id") or f"message-{index}"
    chunks = field.array(item, "contentChunks")
    content = field.string(item, "content")
    parts = _chunks(chunks)
    if not any(p["type"] == "text" for p in parts) and content:
        parts.insert(0, {"type": "text", "text": content})
    kinds = list(dict.fromkeys(p["type"] for p in parts))
    text = "\n\n".join(p["text"] for p in parts if p["type"] == "text") or content
    files = PartsBuilder().name_files("mistral-file", field.array(item, "files"), chat.locate)
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=field.text(item, "role") or "unknown",
        content_type="text" if kinds in ([], ["text"]) else "+".join(kinds),
        parts=parts,
        text=text,
        created_at=field.when(item, "createdAt"),
        attachments=files,
    )


def _chunks(chunks: list[Any]) -> list[Part]:
    parts: list[Part] = []
    for chunk in chunks:
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if kind == "text" and isinstance(text := chunk.get("text"), str):
            parts.append({"type": "text", "text": text})
        elif kind == "tool_call" and isinstance(chunk, dict):
            parts.extend(_tool_call(chunk))
        else:
            if not isinstance(chunk, dict):
                field.odd("contentChunks", chunk, "an object")
            elif kind == "text":
                field.odd("text", chunk.get("text"), "text")
            parts.append({"type": "unknown", "content_type": str(kind), "raw": chunk})
    return parts


def _tool_call(chunk: dict[str, Any]) -> list[Part]:
    code: Part = {"type": "code", "language": "json", "text": _plain(chunk.get("publicArguments"))}
    name = field.text(chunk, "name")
    if name:
        code["tool_name"] = name
    result = chunk.get("publicResult")
    return [code] + ([{"type": "execution_output", "text": _plain(result)}] if result else [])


def _title(messages: list[Message]) -> str | None:
    for message in messages:
        text = message.text.strip()
        if message.role == "user" and text:
            return text if len(text) <= _TITLE else text[: _TITLE - 1].rstrip() + "…"
    return None


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
