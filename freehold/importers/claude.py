"""Claude.ai data exports, 2024–2026 (FORMATS.md §B).

Accepts the zip, an unpacked folder, a ``conversations.json`` (an array, or one conversation
object as browser-extension dumps give it), or one ``design_chats/<uuid>.json`` session; in a
folder or zip, other JSON files holding Claude conversations or a design chat on their own are
read too (they carry no account files).
Conversations are read one at a time (``jsonstream``) straight from the zip; each keeps the exact
bytes of its array element as ``raw``.

Content: the ``content`` blocks are preferred over the flat ``text``, which glues thinking and
answer together; ``text`` is used only when a message has no blocks. Blocks become parts: ``text``
(citations kept), ``thought`` (hidden; a thinking-only message is hidden), ``code`` for a tool
call's input, ``execution_output`` for its result, ``unknown`` for ``token_budget`` and anything
new (the message's ``content_type`` names its block types, so the report names them too).
A call and its result both carry ``call_id`` (``id``/``tool_use_id``: parallel calls are answered
out of order); a result's non-text items and other views, and a thought's cut-off flags, stay on
the part as they came (``_kept``). A conversation's ``summary`` is a ``conversation_summary``
context record.
A message's searchable ``text`` is its text blocks, the string values of its tool inputs (artifact
bodies live there), its tool results and its attachments' extracted text; thinking is left out so
that search finds what was said, not what was considered.

Attachments carry extracted text only, never bytes: the text becomes a ``file`` part (with the
export's ``file_size`` as ``size``: the archive keeps a size only with a file's bytes) and an
``AttachmentRef`` (``claude-file://<name>``) with no opener is reported as missing, which it is.

Trees: 2026 messages name ``parent_message_uuid`` (a root sentinel that is no message means no
parent) and the conversation its ``current_leaf_message_uuid``; older exports are linear, so each
message hangs from the one before it and the last is the leaf. ``tree.build_tree`` repairs both.

Side files at the export root (``users.json``, ``projects.json``, ``memories.json``…) are kept
raw. A project's ``prompt_template`` becomes a ``project_instructions`` context record, once for
the account and again on every conversation whose ``project_uuid`` names that project, and on
every design chat whose ``project.uuid`` does (its ``project.name`` names the project in the
record's data when projects.json does not); its
knowledge documents (inlined as text) become ``project_document`` records; each
``memories.json`` entry becomes an account-level ``memory`` record. Kept files and those
records' keys carry the export's folder in the path (``B/memories.json#0``): a path holding two
exports (``Claim.again``) is read as two parts, and their names must not meet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any, ClassVar

import orjson

from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import (
    Claim,
    Format,
    Kept,
    first_time,
    folder_of,
    linear,
    under,
)
from freehold.models import (
    ContextRecord,
    Conversation,
    Message,
    Part,
    Problem,
    Record,
    SourceFile,
)
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "claude"
PARSER_VERSION = "claude/3"

_CONVERSATIONS = re.compile(r"(?:^|/)conversations\.json$")
_DESIGN = re.compile(r"(?:^|/)design_chats/[^/]+\.json$")
_SENTINEL = re.compile(r"^0{8}-0{4}-[0-9a-f]0{3}-[0-9a-f]0{3}-0{12}$")
_SIDE_FILE_LIMIT = 256 << 20
_FILES = "claude-file://"  # an attachment's pointer: Claude's exports hold no bytes
_ROLES = {"human": "user", "assistant": "assistant", "user": "user"}


class _Claude(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "Claude"
    companions: ClassVar[dict[str, str]] = {
        "users.json": "the account file of a Claude export",
        "projects.json": "the projects file of a Claude export",
        "memories.json": "the memories file of a Claude export",
    }
    advice = "import the export's zip, or the folder it unpacked to (with conversations.json)"
    missing = (
        "no conversations.json or design_chats/ found "
        "— is this a Claude export? Unzip it and check, or download it again"
    )
    kept_files = re.compile(r"(?:^|/)projects\.json$")

    def __init__(self, export: Any) -> None:
        super().__init__(export)
        self.chats: list[str] = []
        self.designs: list[str] = []
        self.root = ""  # the folder of the export's layout, with a slash
        self.side: list[str] = []  # its account files, kept raw
        self.projects: dict[str, dict[str, Any]] = {}

    def claim(self) -> Claim:
        """A file of conversations or one design chat; in a folder or zip, the shallowest
        ``conversations.json`` and the ``design_chats/*.json``, with the account files. The
        folder of another export's ``conversations.json`` (two exports side by side) is left
        whole to a claim of its own (``Claim.again``), with its own account files."""
        names = self.export.names()
        if self.export.one_file:
            head = self.export.head(names[0])
            in_designs = self.export.path.parent.name == "design_chats"
            if _is_chats(head):
                self.chats = names
            elif _is_design(head, in_designs):
                self.designs = names
            return Claim(self.chats + self.designs, set(names))
        # Each conversations.json is looked into (another export's may be shallower).
        found = [n for n in _shards(names) if _is_chats(self.export.head(n))]
        others = {folder_of(n) for n in found[1:]}  # the folders of other exports, left whole
        self.chats = found[:1]
        self.designs = sorted(n for n in names if _DESIGN.search(n) and not under(n, others))
        if self.chats or self.designs:
            root = _parent(self.chats[0]) if self.chats else _parent(_parent(self.designs[0]))
            self.root = root + "/" if root else ""
            self.side = self._side_names()
        self._loose([n for n in names if not under(n, others)])
        if not self.chats and not self.designs:
            return Claim()
        shared = {n for n in self.side if n[len(self.root) :] not in self.companions}
        owns = {*self.chats, *self.designs, *self.side}
        return Claim(self.chats + self.designs, owns, shared, again=bool(others))

    def _loose(self, names: list[str]) -> None:
        """JSON files outside the export's layout that hold Claude conversations or a design
        chat on their own (as a browser extension saves them)."""
        taken = {*self.chats, *self.designs, *self.side}
        for name in names:
            if name in taken or not name.lower().endswith(".json"):
                continue
            head = self.export.head(name)
            if _is_chats(head):
                self.chats.append(name)
            elif _is_design(head, in_design_folder=False):
                self.designs.append(name)

    def _side_names(self) -> list[str]:
        """The export's top-level JSON files beside the conversations (account, projects…)."""
        root = self.root
        return [
            name
            for name in self.export.names()
            if name.startswith(root)
            and "/" not in name[len(root) :]
            and name.endswith(".json")
            and name not in self.chats
        ]

    def full_export(self) -> bool:
        return not self.export.one_file

    def prologue(self, names: list[str]) -> Iterator[Record]:
        root = self.root
        for name in self.side:
            if self.export.size(name) > _SIDE_FILE_LIMIT:
                yield Problem(name, "larger than 256 MiB; not kept — open it by hand if needed")
                continue
            with self.export.open(name) as handle:
                raw = handle.read()
            local = name[len(root) :]
            yield SourceFile(name, raw)  # its path in the export: two exports keep both
            with field.noting() as notes:
                learnt = list(self._learn(local, raw))
            yield from learnt
            yield from (Problem(name, line, lost=False) for line in notes.lines())

    def _learn(self, local: str, raw: bytes) -> Iterator[ContextRecord]:
        """Account id from ``users.json``; projects and memories as account context records."""
        items = _json_list(raw)
        if local == "users.json" and items:
            self.account_id = field.text(items[0], "uuid")
        elif local == "projects.json":
            self.projects = {p["uuid"]: p for p in items if field.text(p, "uuid")}
            for uuid, project in self.projects.items():
                yield from _project_context(uuid, project, f"{self.root}projects.json")
        elif local == "memories.json":
            for number, item in enumerate(items):
                text = field.text(item, "conversations_memory")
                if text:
                    data = {"account": field.text(item, "account_uuid")}
                    key = f"{self.root}memories.json#{number}"
                    yield ContextRecord("memory", text, data, None, key)

    def restore(self, kept: Kept) -> None:
        """Converting again: the projects of every ``projects.json`` the import kept (a path
        holding two exports kept two; project ids are unique), for their instructions."""
        for raw in kept.files.values():
            items = _json_list(raw)
            self.projects.update((p["uuid"], p) for p in items if field.text(p, "uuid"))

    def converter(self, value: Any) -> Callable[[Any, bytes], Conversation]:
        """Converting again, a design chat is told by what it holds (``messages``, never
        ``chat_messages``), as the file it was in is not known."""
        design = isinstance(value, dict) and "chat_messages" not in value
        return self.design if design and isinstance(value.get("messages"), list) else self.convert

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        if self.member in self.designs:
            return self.design(value, raw)
        return self.conversation(value, raw)

    def identify(self, value: Any, raw: bytes) -> str | None:
        return field.text(value, "uuid")

    def conversation(self, obj: dict[str, Any], raw: bytes) -> Conversation:
        source_id = field.text(obj, "uuid")
        if source_id is None:
            raise ValueError("no uuid")
        chat = obj.get("chat_messages")
        problems = [] if isinstance(chat, list) else ["no chat_messages: kept without messages"]
        items = _objects(chat if isinstance(chat, list) else [], problems)
        messages, leaf = _linked(items, field.text(obj, "current_leaf_message_uuid"), problems)
        tree = build_tree(messages, leaf)
        account_id = field.text(field.mapping(obj, "account"), "uuid")
        project = field.text(obj, "project_uuid")
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=field.text(obj, "name"),
            messages=tree.messages,
            raw=raw,
            created_at=field.when(obj, "created_at"),
            updated_at=field.when(obj, "updated_at"),
            current_leaf=tree.leaf,
            model=field.text(obj, "model"),
            account_id=account_id or self.account_id,
            project=project,
            starred=field.flag(obj, "is_starred"),
            context=self._instructions(project) + _summary_context(obj),
            problems=problems + tree.problems,
        )

    def _instructions(self, project: str | None, name: str | None = None) -> list[ContextRecord]:
        """The project's instructions, named by projects.json, else by ``name`` (a design
        chat's own ``project.name``)."""
        found = self.projects.get(project) if project else None
        text = field.text(found, "prompt_template") if found else None
        if found is None or text is None:
            return []
        data = {"project_uuid": project, "project_name": found.get("name") or name}
        created = field.known(field.when(found, "updated_at"), field.when(found, "created_at"))
        return [ContextRecord("project_instructions", text, data, created)]

    def design(self, obj: dict[str, Any], raw: bytes) -> Conversation:
        source_id = field.text(obj, "uuid")
        if source_id is None:
            raise ValueError("no uuid")
        items = obj.get("messages")
        problems = [] if isinstance(items, list) else ["no messages: kept without messages"]
        messages = linear(
            items if isinstance(items, list) else [],
            lambda item, index: _design_message(item, index, problems),
            problems,
        )
        tree = build_tree(messages, messages[-1].source_id if messages else None)
        project = field.text(field.mapping(obj, "project"), "uuid")
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=field.text(obj, "title") or field.text(obj, "name"),
            messages=tree.messages,
            raw=raw,
            created_at=field.known(field.when(obj, "created_at"), first_time(tree.messages)),
            updated_at=field.when(obj, "updated_at"),
            current_leaf=tree.leaf,
            account_id=self.account_id,
            project=project,
            context=self._instructions(project, field.text(field.mapping(obj, "project"), "name")),
            problems=problems + tree.problems,
        )


FORMAT = _Claude
detect = _Claude.detect
iter_conversations = _Claude.iter_conversations


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


# -- chat messages ---------------------------------------------------------------------------------


def _linked(
    items: list[dict[str, Any]], current_leaf: str | None, problems: list[str]
) -> tuple[list[Message], str | None]:
    """Messages with their parents set: by ``parent_message_uuid`` (2026) or array order."""
    messages = [_message(item, index, problems) for index, item in enumerate(items)]
    if any("parent_message_uuid" in item for item in items):
        ids = {m.source_id for m in messages}
        for index, (message, item) in enumerate(zip(messages, items, strict=True)):
            parent = field.text(item, "parent_message_uuid")
            sentinel = parent is not None and parent not in ids
            root = sentinel and (index == 0 or bool(_SENTINEL.match(parent or "")))
            message.parent_source_id = None if root else parent
        return messages, current_leaf
    for before, message in pairwise(messages):
        message.parent_source_id = before.source_id
    return messages, messages[-1].source_id if messages else None


def _message(item: dict[str, Any], index: int, problems: list[str]) -> Message:
    source_id = field.text(item, "uuid")
    if source_id is None:
        source_id = f"message-{index}"
        problems.append(f"message {index} has no uuid; kept as {source_id}")
    content = _Content()
    blocks = field.array(item, "content")
    for block in blocks:
        content.block(block)
    if not blocks:
        content.add("text", field.string(item, "text"), searchable=True)
        content.types.append("text")
    content.attach(item)
    sender = field.text(item, "sender") or "unknown"
    return content.message(
        source_id, _ROLES.get(sender, sender), created_at=field.when(item, "created_at")
    )


class _Content(PartsBuilder):
    """Parts, searchable text pieces and attachments of one message."""

    def attach(self, item: dict[str, Any]) -> None:
        """Attachments (extracted text, no bytes) and uploaded files (names only: an object
        or, in some exports, the bare name)."""
        for entry in _objects(field.array(item, "attachments"), key="attachments"):
            name = field.text(entry, "file_name")
            size = field.integer(entry, "file_size")
            self.add("file", field.string(entry, "extracted_content"), searchable=True, name=name)
            _sized(self.parts[-1], size)
            self.refer(f"{_FILES}{name or ''}", name, field.text(entry, "file_type"), size)
        self.name_files(_FILES.removesuffix("://"), field.array(item, "files"))


def _text_block(out: _Content, block: dict[str, Any]) -> None:
    citations = block.get("citations")
    extra = {"citations": citations} if isinstance(citations, list) and citations else {}
    out.add("text", field.string(block, "text"), searchable=True, **extra)


def _thinking_block(out: _Content, block: dict[str, Any]) -> None:
    text = _first_text(block, "thinking", "text")
    summary = _summary(field.array(block, "summaries"))
    out.add("thought", text, searchable=False, summary=summary, **_kept(block, *_THOUGHT_KEYS))


def _summary(summaries: list[Any]) -> str | None:
    found = [field.string(s, "summary") if isinstance(s, dict) else s for s in summaries]
    return "\n".join(s for s in found if isinstance(s, str) and s) or None


def _tool_use_block(out: _Content, block: dict[str, Any]) -> None:
    given = block.get("input")
    code = json.dumps(given, ensure_ascii=False, indent=2)
    name, call = field.text(block, "name"), _call(block, "id")
    out.add("code", code, searchable=False, language="json", name=name, **call)
    out.pieces.extend(_strings(given))


def _tool_result_block(out: _Content, block: dict[str, Any]) -> None:
    """A tool's result, paired with its call by ``call_id`` (parallel calls answer out of
    order); its non-text items and the other views of it are kept as they came."""
    text = _result_text(block, "content")
    name, error = field.text(block, "name"), field.flag(block, "is_error")
    extra = {**_call(block, "tool_use_id"), **_kept(block, *_RESULT_KEYS)}
    given = block.get("content")
    items = given if isinstance(given, list) else []
    others = [i for i in items if field.text(i, "type") != "text"]
    if others:
        extra["items"] = others
    out.add("execution_output", text, searchable=True, name=name, is_error=error, **extra)


def _result_text(obj: dict[str, Any], key: str) -> str:
    """A tool's result: text, or the text items of a list of content items."""
    if isinstance(obj.get(key), str):
        return str(obj[key])
    items = field.array(obj, key)
    return "\n".join(field.string(i, "text") for i in items if field.text(i, "type") == "text")


# Fields of a block kept on its part as they came, when present (FORMATS.md §B).
_THOUGHT_KEYS = ("cut_off", "truncated", "alternative_display_type")
_RESULT_KEYS = ("display_content", "structured_content", "integration_name")


def _kept(block: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The ``keys`` that ``block`` holds a value for (absent, null, false or empty: left out,
    so that parts read before these were kept stay the same)."""
    return {key: block[key] for key in keys if block.get(key) not in (None, False, "", [], {})}


def _call(block: dict[str, Any], key: str) -> dict[str, Any]:
    """A tool call's id, as ``call_id`` on both the call and its result (Open WebUI's name)."""
    found = field.text(block, key)
    return {"call_id": found} if found else {}


def _strings(value: Any) -> list[str]:
    """The string leaves of a tool input, for search (an artifact's body is one of them)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


_Content.handlers = {
    "text": _text_block,
    "thinking": _thinking_block,
    "tool_use": _tool_use_block,
    "tool_result": _tool_result_block,
}


# -- design chats ----------------------------------------------------------------------------------


def _design_message(item: dict[str, Any], index: int, problems: list[str]) -> Message:
    source_id = field.text(item, "uuid")
    if source_id is None:
        source_id = f"message-{index}"
        problems.append(f"message {index} has no uuid; kept as {source_id}")
    body = item.get("content")
    body = body if isinstance(body, dict) else {"content": body}
    content = _Content()
    blocks = field.array(body, "contentBlocks")
    for block in blocks:
        _design_block(content, block)
    if not blocks:
        content.add("text", field.string(body, "content"), searchable=True)
        content.types.append("text")
    for entry in _objects(field.array(body, "attachments"), key="attachments"):
        _design_attachment(content, entry)
    role = _first_text(item, "role") or _first_text(body, "role") or "unknown"
    return content.message(
        source_id,
        _ROLES.get(role, role),
        author_name=field.text(body, "authorName"),
        created_at=field.known(field.when(body, "timestamp"), field.when(item, "created_at")),
    )


def _design_block(out: _Content, block: Any) -> None:
    """Design-chat blocks: ``tool_call`` holds ``toolCall:{name, input, output}``."""
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in ("tool_call", "error", "user_interjection"):
        out.block(block, "contentBlocks")
        return
    out.types.append(str(kind))
    text = _first_text(block, "text", "content", "message")
    if kind == "error":
        out.add("error", text, searchable=True)
    elif kind == "user_interjection":
        out.add("text", text, searchable=True, interjection=True)
    else:
        call = field.mapping(block, "toolCall")
        name = field.text(call, "name")
        _tool_use_block(out, {"name": name, "input": call.get("input")})
        output = _result_text(call, "output")
        out.add("execution_output", output, searchable=True, name=name, is_error=False)


def _design_attachment(out: _Content, entry: dict[str, Any]) -> None:
    name = _first_text(entry, "name", "file_name", "fileName") or None
    text = _first_text(entry, "extracted_content", "content")
    size = field.integer(entry, "size")
    out.add("file", text, searchable=True, name=name)
    _sized(out.parts[-1], size)
    mime = _first_text(entry, "mimeType", "file_type") or None
    out.refer(f"{_FILES}{name or ''}", name, mime, size)


def _sized(part: Part, size: int | None) -> None:
    """The file's size on its part: the archive keeps a size only with a file's bytes, and a
    Claude export holds none, so the part is where the export's ``file_size`` survives."""
    if size is not None:
        part["size"] = size


# -- small helpers ---------------------------------------------------------------------------------


def _parent(name: str) -> str:
    return name.rpartition("/")[0]


def _first_text(obj: dict[str, Any], *keys: str) -> str:
    """The first of ``keys`` that holds text (each odd one noted), else ``""``."""
    return next((found for key in keys if (found := field.text(obj, key))), "")


def _objects(
    items: list[Any], problems: list[str] | None = None, key: str = "message"
) -> list[Any]:
    """The objects of a list; anything else is left out, as a problem or a note."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            what = f"{key} {index} is not an object ({field.describe(item)}); left out"
            if problems is None:
                field.note(what)
            else:
                problems.append(what)
    return [item for item in items if isinstance(item, dict)]


def _project_context(uuid: str, project: dict[str, Any], where: str) -> Iterator[ContextRecord]:
    """A project's instructions and its knowledge documents (inlined as text in ``where``)."""
    name = field.text(project, "name")
    text = field.text(project, "prompt_template")
    if text:
        data = {"project": uuid, "name": name}
        yield ContextRecord("project_instructions", text, data, None, f"{where}#{uuid}")
    for number, doc in enumerate(_objects(field.array(project, "docs"), key="docs")):
        content = field.text(doc, "content")
        if content:
            key = f"{where}#{uuid}/{field.text(doc, 'uuid') or number}"
            data = {"project": uuid, "name": name, "filename": field.text(doc, "filename")}
            yield ContextRecord("project_document", content, data, None, key)


def _summary_context(obj: dict[str, Any]) -> list[ContextRecord]:
    """Claude's summary of a conversation (often empty), as a ``conversation_summary`` record."""
    text = field.text(obj, "summary")
    return [ContextRecord("conversation_summary", text)] if text and text.strip() else []


def _json_list(raw: bytes) -> list[dict[str, Any]]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]
