"""Claude.ai data exports, 2024–2026 (FORMATS.md §B).

Accepts the zip, an unpacked folder, a ``conversations.json`` (an array, or one conversation
object as browser-extension dumps give it), or one ``design_chats/<uuid>.json`` session.
Conversations are read one at a time (``jsonstream``) straight from the zip; each keeps the exact
bytes of its array element as ``raw``.

Content: the ``content`` blocks are preferred over the flat ``text``, which glues thinking and
answer together; ``text`` is used only when a message has no blocks. Blocks become parts: ``text``
(citations kept), ``thought`` (hidden; a thinking-only message is hidden), ``code`` for a tool
call's input, ``execution_output`` for its result, ``unknown`` for ``token_budget`` and anything
new (the message's ``content_type`` names its block types, so the report names them too).
A message's searchable ``text`` is its text blocks, the string values of its tool inputs (artifact
bodies live there), its tool results and its attachments' extracted text; thinking is left out so
that search finds what was said, not what was considered.

Attachments carry extracted text only, never bytes: the text becomes a ``file`` part and an
``AttachmentRef`` (``claude-file://<name>``) with no opener is reported as missing, which it is.

Trees: 2026 messages name ``parent_message_uuid`` (a root sentinel that is no message means no
parent) and the conversation its ``current_leaf_message_uuid``; older exports are linear, so each
message hangs from the one before it and the last is the leaf. ``tree.build_tree`` repairs both.

Side files at the export root (``users.json``, ``projects.json``, ``memories.json``…) are kept
raw. A project's ``prompt_template`` becomes a ``project_instructions`` context record, once for
the account and again on every conversation whose ``project_uuid`` names that project; its
knowledge documents (inlined as text) become ``project_document`` records; each
``memories.json`` entry becomes an account-level ``memory`` record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._common import PartsBuilder, export_problems, read_conversations
from freehold.importers._common import iso_time as _time
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, OneFile, open_export
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    ExportInfo,
    Message,
    Problem,
    Record,
    SourceFile,
)
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "claude"
PARSER_VERSION = "claude/1"

_CONVERSATIONS = re.compile(r"(?:^|/)conversations\.json$")
_DESIGN = re.compile(r"(?:^|/)design_chats/[^/]+\.json$")
_SENTINEL = re.compile(r"^0{8}-0{4}-[0-9a-f]0{3}-[0-9a-f]0{3}-0{12}$")
_SIDE_FILE_LIMIT = 256 << 20
_PEEK = 1 << 16
_ROLES = {"human": "user", "assistant": "assistant", "user": "user"}


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for a Claude export: a zip/folder with Claude conversations or design chats, or such
    a JSON file."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        if isinstance(files, OneFile):
            head = _peek(files, files.names()[0])
            return _is_chats(head) or _is_design(head, path.parent.name == "design_chats")
        names = files.names()
        if any(PurePosixPath(n).name == "freehold-export.json" for n in names):
            return False
        if any(_DESIGN.search(n) for n in names):
            return True
        shards = _shards(names)
        return bool(shards) and _is_chats(_peek(files, shards[0]))
    finally:
        files.close()


def _peek(files: ExportFiles, name: str) -> bytes:
    with files.open(name) as handle:
        return handle.read(_PEEK)


def _is_chats(head: bytes) -> bool:
    """Claude conversations: ``chat_messages`` before any ChatGPT ``mapping``."""
    at = head.find(b'"chat_messages"')
    mapping = head.find(b'"mapping"')
    return at >= 0 and (mapping < 0 or at < mapping)


def _is_design(head: bytes, in_design_folder: bool) -> bool:
    if b'"messages"' not in head or b'"uuid"' not in head or b'"mapping"' in head:
        return False
    markers = (b'"contentBlocks"', b'"authorAccountUuid"')
    return in_design_folder or any(marker in head for marker in markers)


def _shards(names: list[str]) -> list[str]:
    return sorted((n for n in names if _CONVERSATIONS.search(n)), key=lambda n: (n.count("/"), n))


# -- the export --------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then conversations, kept files and problems."""
    files = open_export(path)
    try:
        yield from _Export(files).records()
    finally:
        files.close()


class _Export:
    """One open export: its conversation files, design chats, account and projects."""

    def __init__(self, files: ExportFiles) -> None:
        self.files = files
        names = files.names()
        self.chats = _shards(names)[:1]
        self.designs = sorted(n for n in names if _DESIGN.search(n))
        if isinstance(files, OneFile):
            head = _peek(files, names[0])
            self.chats, self.designs = ([], names) if not _is_chats(head) else (names, [])
        if not self.chats and not self.designs:
            raise BadExportError(
                f"{files.label}: no conversations.json or design_chats/ found "
                "— is this a Claude export? Unzip it and check, or download it again"
            )
        root = _parent(self.chats[0]) if self.chats else _parent(_parent(self.designs[0]))
        self.root_prefix = root + "/" if root else ""
        self.account_id: str | None = None
        self.projects: dict[str, dict[str, Any]] = {}

    def records(self) -> Iterator[Record]:
        side = [] if isinstance(self.files, OneFile) else list(self._side_files())
        yield ExportInfo(
            kind=KIND,
            account_id=self.account_id,
            full_export=not isinstance(self.files, OneFile),
            files=[(name, self.files.size(name)) for name in self.chats + self.designs],
        )
        yield from export_problems(self.files)
        yield from side
        for name in self.chats:
            yield from read_conversations(self.files, name, self.conversation)
        for name in self.designs:
            yield from read_conversations(self.files, name, self.design)

    def _side_files(self) -> Iterator[Record]:
        for name in self.files.names():
            local = name[len(self.root_prefix) :] if name.startswith(self.root_prefix) else "/"
            if "/" in local or not local.endswith(".json") or name in self.chats:
                continue
            if self.files.size(name) > _SIDE_FILE_LIMIT:
                yield Problem(name, "larger than 256 MiB; not kept — open it by hand if needed")
                continue
            with self.files.open(name) as handle:
                raw = handle.read()
            yield SourceFile(local, raw)
            yield from self._learn(local, raw)

    def _learn(self, local: str, raw: bytes) -> Iterator[ContextRecord]:
        """Account id from ``users.json``; projects and memories as account context records."""
        items = _json_list(raw)
        if local == "users.json" and items:
            self.account_id = _str(items[0].get("uuid"))
        elif local == "projects.json":
            self.projects = {p["uuid"]: p for p in items if _str(p.get("uuid"))}
            for uuid, project in self.projects.items():
                yield from _project_context(uuid, project)
        elif local == "memories.json":
            for number, item in enumerate(items):
                text = _str(item.get("conversations_memory"))
                if text:
                    data = {"account": _str(item.get("account_uuid"))}
                    key = f"memories.json#{number}"
                    yield ContextRecord("memory", text, data, None, key)

    def conversation(self, obj: dict[str, Any], raw: bytes) -> Conversation:
        source_id = _str(obj.get("uuid"))
        if source_id is None:
            raise ValueError("no uuid")
        chat = obj.get("chat_messages")
        problems = [] if isinstance(chat, list) else ["no chat_messages: kept without messages"]
        items = [m for m in chat if isinstance(m, dict)] if isinstance(chat, list) else []
        messages, leaf = _linked(items, _str(obj.get("current_leaf_message_uuid")), problems)
        tree = build_tree(messages, leaf)
        account = obj.get("account")
        account_id = _str(account.get("uuid")) if isinstance(account, dict) else None
        project = _str(obj.get("project_uuid"))
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=_str(obj.get("name")),
            messages=tree.messages,
            raw=raw,
            created_at=_time(obj.get("created_at")),
            updated_at=_time(obj.get("updated_at")),
            current_leaf=tree.leaf,
            model=_str(obj.get("model")),
            account_id=account_id or self.account_id,
            project=project,
            starred=bool(obj.get("is_starred")),
            context=self._instructions(project),
            problems=problems + tree.problems,
        )

    def _instructions(self, project: str | None) -> list[ContextRecord]:
        found = self.projects.get(project) if project else None
        text = _str(found.get("prompt_template")) if found else None
        if found is None or text is None:
            return []
        data = {"project_uuid": project, "project_name": found.get("name")}
        created = _time(found.get("updated_at")) or _time(found.get("created_at"))
        return [ContextRecord("project_instructions", text, data, created)]

    def design(self, obj: dict[str, Any], raw: bytes) -> Conversation:
        source_id = _str(obj.get("uuid"))
        if source_id is None:
            raise ValueError("no uuid")
        items = obj.get("messages")
        problems = [] if isinstance(items, list) else ["no messages: kept without messages"]
        messages = _design_messages(items if isinstance(items, list) else [], problems)
        tree = build_tree(messages, messages[-1].source_id if messages else None)
        project = obj.get("project")
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=_str(obj.get("title")) or _str(obj.get("name")),
            messages=tree.messages,
            raw=raw,
            created_at=_time(obj.get("created_at")) or _first_time(tree.messages),
            updated_at=_time(obj.get("updated_at")),
            current_leaf=tree.leaf,
            account_id=self.account_id,
            project=_str(project.get("uuid")) if isinstance(project, dict) else None,
            problems=problems + tree.problems,
        )


# -- chat messages ---------------------------------------------------------------------------------


def _linked(
    items: list[dict[str, Any]], current_leaf: str | None, problems: list[str]
) -> tuple[list[Message], str | None]:
    """Messages with their parents set: by ``parent_message_uuid`` (2026) or array order."""
    messages = [_message(item, index, problems) for index, item in enumerate(items)]
    if any("parent_message_uuid" in item for item in items):
        ids = {m.source_id for m in messages}
        for index, (message, item) in enumerate(zip(messages, items, strict=True)):
            parent = _str(item.get("parent_message_uuid"))
            sentinel = parent is not None and parent not in ids
            root = sentinel and (index == 0 or bool(_SENTINEL.match(parent or "")))
            message.parent_source_id = None if root else parent
        return messages, current_leaf
    for before, message in pairwise(messages):
        message.parent_source_id = before.source_id
    return messages, messages[-1].source_id if messages else None


def _message(item: dict[str, Any], index: int, problems: list[str]) -> Message:
    source_id = _str(item.get("uuid"))
    if source_id is None:
        source_id = f"message-{index}"
        problems.append(f"message {index} has no uuid; kept as {source_id}")
    content = _Content()
    blocks = item.get("content")
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            content.block(block)
    else:
        content.add("text", str(item.get("text") or ""), searchable=True)
        content.types.append("text")
    content.attach(item)
    sender = str(item.get("sender") or "unknown")
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=_ROLES.get(sender, sender),
        content_type=content.content_type,
        parts=content.parts,
        text=content.text,
        created_at=_time(item.get("created_at")),
        hidden=content.only_thoughts,
        attachments=content.attachments,
    )


class _Content(PartsBuilder):
    """Parts, searchable text pieces and attachments of one message."""

    def block(self, block: Any) -> None:
        kind = str(block.get("type")) if isinstance(block, dict) else type(block).__name__
        self.types.append(kind)
        handler = _BLOCKS.get(kind)
        if handler is None or not isinstance(block, dict):
            self.parts.append({"type": "unknown", "content_type": kind, "raw": block})
            return
        handler(self, block)

    def attach(self, item: dict[str, Any]) -> None:
        """Attachments (extracted text, no bytes) and uploaded files (names only)."""
        for entry in item.get("attachments") or []:
            if isinstance(entry, dict):
                name = _str(entry.get("file_name"))
                self.add(
                    "file", str(entry.get("extracted_content") or ""), searchable=True, name=name
                )
                self.ref(name, _str(entry.get("file_type")), entry.get("file_size"))
        for entry in item.get("files") or []:
            if isinstance(entry, dict):
                self.ref(_str(entry.get("file_name")), None, None)

    def ref(self, name: str | None, mime: str | None, size: Any) -> None:
        pointer = f"claude-file://{name or ''}"
        if any(ref.pointer == pointer for ref in self.attachments):
            return
        number = size if isinstance(size, int) and not isinstance(size, bool) else None
        self.attachments.append(AttachmentRef(pointer, name=name, mime=mime, size=number))


def _text_block(out: _Content, block: dict[str, Any]) -> None:
    citations = block.get("citations")
    extra = {"citations": citations} if isinstance(citations, list) and citations else {}
    out.add("text", str(block.get("text") or ""), searchable=True, **extra)


def _thinking_block(out: _Content, block: dict[str, Any]) -> None:
    text = str(block.get("thinking") or block.get("text") or "")
    out.add("thought", text, searchable=False, summary=_summary(block.get("summaries")))


def _summary(summaries: Any) -> str | None:
    found = [
        str(s.get("summary") or "") if isinstance(s, dict) else str(s) for s in summaries or [] if s
    ]
    return "\n".join(found) or None


def _tool_use_block(out: _Content, block: dict[str, Any]) -> None:
    given = block.get("input")
    code = json.dumps(given, ensure_ascii=False, indent=2)
    out.add("code", code, searchable=False, language="json", name=_str(block.get("name")))
    out.pieces.extend(_strings(given))


def _tool_result_block(out: _Content, block: dict[str, Any]) -> None:
    text = _result_text(block.get("content"))
    name, error = _str(block.get("name")), bool(block.get("is_error"))
    out.add("execution_output", text, searchable=True, name=name, is_error=error)


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = [
        str(item.get("text") or "")
        for item in content or []
        if isinstance(item, dict) and item.get("type") == "text"
    ]
    return "\n".join(texts)


def _strings(value: Any) -> list[str]:
    """The string leaves of a tool input, for search (an artifact's body is one of them)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


_BLOCKS: dict[str, Callable[[_Content, dict[str, Any]], None]] = {
    "text": _text_block,
    "thinking": _thinking_block,
    "tool_use": _tool_use_block,
    "tool_result": _tool_result_block,
}


# -- design chats ----------------------------------------------------------------------------------


def _design_messages(items: list[Any], problems: list[str]) -> list[Message]:
    messages: list[Message] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"message {index} is not an object; left out")
            continue
        message = _design_message(item, index, problems)
        message.parent_source_id = messages[-1].source_id if messages else None
        messages.append(message)
    return messages


def _design_message(item: dict[str, Any], index: int, problems: list[str]) -> Message:
    source_id = _str(item.get("uuid"))
    if source_id is None:
        source_id = f"message-{index}"
        problems.append(f"message {index} has no uuid; kept as {source_id}")
    body = item.get("content")
    body = body if isinstance(body, dict) else {"content": body}
    content = _Content()
    blocks = body.get("contentBlocks")
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            _design_block(content, block)
    else:
        content.add("text", str(body.get("content") or ""), searchable=True)
        content.types.append("text")
    for entry in body.get("attachments") or []:
        _design_attachment(content, entry)
    role = str(item.get("role") or body.get("role") or "unknown")
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=_ROLES.get(role, role),
        content_type=content.content_type,
        parts=content.parts,
        text=content.text,
        author_name=_str(body.get("authorName")),
        created_at=_time(body.get("timestamp")) or _time(item.get("created_at")),
        hidden=content.only_thoughts,
        attachments=content.attachments,
    )


def _design_block(out: _Content, block: Any) -> None:
    """Design-chat blocks: ``tool_call`` holds ``toolCall:{name, input, output}``."""
    kind = str(block.get("type")) if isinstance(block, dict) else type(block).__name__
    if not isinstance(block, dict) or kind not in ("tool_call", "error", "user_interjection"):
        out.block(block)
        return
    out.types.append(kind)
    text = str(block.get("text") or block.get("content") or block.get("message") or "")
    if kind == "error":
        out.add("error", text, searchable=True)
    elif kind == "user_interjection":
        out.add("text", text, searchable=True, interjection=True)
    else:
        found = block.get("toolCall")
        call: dict[str, Any] = found if isinstance(found, dict) else {}
        name = _str(call.get("name"))
        _tool_use_block(out, {"name": name, "input": call.get("input")})
        output = call.get("output")
        shown = output if isinstance(output, str) else _result_text(output)
        out.add("execution_output", shown, searchable=True, name=name, is_error=False)


def _design_attachment(out: _Content, entry: Any) -> None:
    if not isinstance(entry, dict):
        return
    name = _str(entry.get("name")) or _str(entry.get("file_name")) or _str(entry.get("fileName"))
    text = str(entry.get("extracted_content") or entry.get("content") or "")
    out.add("file", text, searchable=True, name=name)
    out.ref(name, _str(entry.get("mimeType")) or _str(entry.get("file_type")), entry.get("size"))


# -- small helpers ---------------------------------------------------------------------------------


def _parent(name: str) -> str:
    return name.rpartition("/")[0]


def _project_context(uuid: str, project: dict[str, Any]) -> Iterator[ContextRecord]:
    """A project's instructions and its knowledge documents (inlined as text in projects.json)."""
    name = _str(project.get("name"))
    text = _str(project.get("prompt_template"))
    if text:
        data = {"project": uuid, "name": name}
        yield ContextRecord("project_instructions", text, data, None, f"projects.json#{uuid}")
    for number, doc in enumerate(project.get("docs") or []):
        content = _str(doc.get("content")) if isinstance(doc, dict) else None
        if content:
            key = f"projects.json#{uuid}/{_str(doc.get('uuid')) or number}"
            data = {"project": uuid, "name": name, "filename": _str(doc.get("filename"))}
            yield ContextRecord("project_document", content, data, None, key)


def _json_list(raw: bytes) -> list[dict[str, Any]]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _first_time(messages: list[Message]) -> float | None:
    times = [m.created_at for m in messages if m.created_at is not None]
    return min(times) if times else None
