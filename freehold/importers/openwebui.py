"""Open WebUI chat exports (FORMATS.md §D.1).

Accepts the exported JSON array (``chat-export-*.json``: "Export All Chats" or one chat), a single
chat object, or a folder/zip of such files. Chats are read one at a time (``jsonstream``), each
keeping the exact bytes of its array element as ``raw``. A file is an Open WebUI export when its
first element has ``chat.history`` (the standard item) or, for "legacy" items that omit the
``chat`` wrapper, ``history`` beside ``messages``; ChatGPT (``mapping``) and Claude
(``chat_messages``) files never qualify. Other JSON files in a folder or zip are reported, not read.

Trees: ``history.messages`` maps ids to nodes; ``parentId`` is the link (``childrenIds`` only
repeats it, and Open WebUI itself walks ``parentId`` up from ``currentId`` to draw a chat), and
``currentId`` is the current leaf. The oldest legacy items hold a plain ``messages`` list instead:
each message hangs from its ``parentId`` or, without one, from the message before it.
``tree.build_tree`` repairs what is broken. Times are epoch seconds or milliseconds (newer and
older releases differ); both are normalised to seconds, and ISO strings are read too.

Content: when a node has ``output`` (Responses-API-like items, newer releases) it is the source of
truth and ``content`` is only its rendering, so parts come from ``output``: ``reasoning`` →
``thought``, ``function_call`` → ``code``, ``function_call_output`` → ``execution_output``,
``message`` → ``text``, anything else → ``unknown``. Otherwise ``content`` (Markdown) is split:
``<details type="reasoning">`` → ``thought`` (its ``> `` quoting and HTML escapes undone),
``<details type="tool_calls">`` → ``code`` (the ``arguments`` attribute) and ``execution_output``
(the ``result`` attribute, else the body), ``<details type="code_interpreter">`` → ``code`` and
``execution_output``, other ``details`` → ``unknown``, and the rest → ``text``. A reasoning
block's ``duration`` (seconds) is kept on its ``thought`` (its label "Thought for N seconds" is
not a summary); a tool call's ``arguments`` and ``result`` are JSON-encoded strings in Open
WebUI's markup and are decoded. Reasoning and tool inputs stay out of the searchable ``text``,
so search finds what was said, not what was considered; tool results are searchable. A
reasoning-only message is hidden. Images that ``files`` holds inline (``type: image``, a base64
``data:`` URL) become ``image`` parts with their bytes; other files (ids in Open WebUI's own
store) are not imported and remain in ``raw``.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._common import PartsBuilder, export_problems, read_conversations
from freehold.importers._common import any_time as _time
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, OneFile, open_export
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    ExportInfo,
    Message,
    Problem,
    Record,
)
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "openwebui"
PARSER_VERSION = "openwebui/1"

_DETECT_FILES = 20
_DETAILS = re.compile(r"<details\b([^>]*)>(.*?)</details>", re.DOTALL | re.IGNORECASE)
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.DOTALL | re.IGNORECASE)
_FOREIGN = ("mapping", "chat_messages")
_DATA_URL = re.compile(r"data:(image/[\w.+-]+)(?:;[^,;]*)*;base64,(.*)", re.DOTALL | re.IGNORECASE)


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for an Open WebUI export: such a JSON file, or a folder/zip holding one."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        names = _candidates(files)
        if any(PurePosixPath(n).name == "freehold-export.json" for n in files.names()):
            return False
        return any(_is_chat(_first(files, name)) for name in names[:_DETECT_FILES])
    finally:
        files.close()


def _candidates(files: ExportFiles) -> list[str]:
    if isinstance(files, OneFile):
        return files.names()
    return sorted(n for n in files.names() if n.lower().endswith(".json"))


def _first(files: ExportFiles, name: str) -> Any:
    """The first element of a JSON array (or the one object); None when unreadable."""
    try:
        with files.open(name) as handle:
            for element in iter_elements(handle):
                return element.value
    except (JsonStreamError, FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile):
        return None
    return None


def _is_chat(value: Any) -> bool:
    if not isinstance(value, dict) or any(key in value for key in _FOREIGN):
        return False
    chat = value.get("chat")
    if isinstance(chat, dict):
        return isinstance(chat.get("history"), dict)
    history = value.get("history")
    return isinstance(history, dict) and ("messages" in value or "messages" in history)


# -- the export ------------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then conversations and problems."""
    files = open_export(path)
    try:
        yield from _records(files)
    finally:
        files.close()


def _records(files: ExportFiles) -> Iterator[Record]:
    names = _candidates(files)
    chats = [name for name in names if _is_chat(_first(files, name))]
    if not chats:
        raise BadExportError(
            f"{files.label}: no Open WebUI chats found — export them again from "
            "Settings → Chats → Export All Chats and import that file"
        )
    yield ExportInfo(kind=KIND, files=[(name, files.size(name)) for name in chats])
    yield from export_problems(files)
    for name in names:
        if name not in chats:
            what = "not an Open WebUI chat file; left out — import it on its own if it is needed"
            yield Problem(name, what, lost=False)
    for name in chats:
        yield from read_conversations(
            files, name, _conversation, noun="chat", again="export the chats from Open WebUI again"
        )


def _conversation(obj: dict[str, Any], raw: bytes) -> Conversation:
    source_id = _str(obj.get("id"))
    if source_id is None:
        raise ValueError("no id")
    found = obj.get("chat")
    chat: dict[str, Any] = found if isinstance(found, dict) else obj
    problems: list[str] = []
    messages, leaf = _messages(chat, problems)
    tree = build_tree(messages, leaf)
    return Conversation(
        source_kind=KIND,
        source_id=source_id,
        title=_str(obj.get("title")) or _str(chat.get("title")),
        messages=tree.messages,
        raw=raw,
        created_at=_time(obj.get("created_at")) or _time(chat.get("timestamp")),
        updated_at=_time(obj.get("updated_at")),
        current_leaf=tree.leaf,
        model=_first_model(chat),
        archived=bool(obj.get("archived")),
        starred=bool(obj.get("pinned")),
        context=_system(chat),
        problems=problems + tree.problems,
    )


def _first_model(chat: dict[str, Any]) -> str | None:
    models = chat.get("models")
    if isinstance(models, list):
        return next((m for m in models if isinstance(m, str) and m), None)
    return _str(chat.get("model"))


def _system(chat: dict[str, Any]) -> list[ContextRecord]:
    """A chat's own system prompt (``chat.system`` or ``chat.params.system``)."""
    params = chat.get("params")
    text = _str(chat.get("system")) or (
        _str(params.get("system")) if isinstance(params, dict) else None
    )
    return [ContextRecord("custom_instructions", text)] if text else []


# -- messages --------------------------------------------------------------------------------------


def _messages(chat: dict[str, Any], problems: list[str]) -> tuple[list[Message], str | None]:
    found = chat.get("history")
    history: dict[str, Any] = found if isinstance(found, dict) else {}
    nodes = history.get("messages")
    if isinstance(nodes, dict):
        return _from_history(nodes, problems), _str(history.get("currentId"))
    if isinstance(chat.get("messages"), list):
        messages = _from_list(chat["messages"], problems)
        leaf = _str(history.get("currentId")) or (messages[-1].source_id if messages else None)
        return messages, leaf
    problems.append("no history.messages: kept without messages")
    return [], None


def _from_history(nodes: dict[str, Any], problems: list[str]) -> list[Message]:
    messages: list[Message] = []
    for key, node in nodes.items():
        if not isinstance(node, dict):
            problems.append(f"message {key} is not an object; left out")
            continue
        message = _message(node, _str(node.get("id")) or key)
        message.parent_source_id = _str(node.get("parentId"))
        messages.append(message)
    return messages


def _from_list(items: list[Any], problems: list[str]) -> list[Message]:
    """Legacy linear chats: ``parentId`` where given, else the message before."""
    messages: list[Message] = []
    for index, node in enumerate(items):
        if not isinstance(node, dict):
            problems.append(f"message {index} is not an object; left out")
            continue
        source_id = _str(node.get("id"))
        if source_id is None:
            source_id = f"message-{index}"
            problems.append(f"message {index} has no id; kept as {source_id}")
        message = _message(node, source_id)
        before = messages[-1].source_id if messages else None
        message.parent_source_id = _str(node.get("parentId")) if "parentId" in node else before
        messages.append(message)
    return messages


def _message(node: dict[str, Any], source_id: str) -> Message:
    content = _Content()
    content.files(node.get("files"))
    output = node.get("output")
    body = node.get("content")
    markdown = body if isinstance(body, str) else ""
    if isinstance(output, list) and output:
        for item in output:
            content.output_item(item)
        if "message" not in content.types:
            content.text_only(markdown)
    else:
        content.markdown(markdown)
    content.error(node.get("error"))
    role = _str(node.get("role")) or "unknown"
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=role,
        content_type=content.content_type,
        parts=content.parts,
        text=content.text,
        model=_str(node.get("model")),
        created_at=_time(node.get("timestamp")),
        hidden=content.only_thoughts,
        status="incomplete" if node.get("done") is False else "complete",
        attachments=content.attachments,
    )


class _Content(PartsBuilder):
    """Parts and searchable text pieces of one message."""

    def text_only(self, markdown: str) -> None:
        """The Markdown outside any ``<details>`` block, as one text part."""
        rest = _DETAILS.sub("", markdown).strip()
        if rest:
            self.types.append("text")
            self.add("text", rest, searchable=True)

    def markdown(self, markdown: str) -> None:
        at = 0
        for match in _DETAILS.finditer(markdown):
            self.plain(markdown[at : match.start()])
            self.details(match)
            at = match.end()
        self.plain(markdown[at:])
        if not self.parts:
            self.types.append("text")
            self.add("text", "", searchable=True)

    def plain(self, text: str) -> None:
        if text.strip():
            self.types.append("text")
            self.add("text", text.strip(), searchable=True)

    def details(self, match: re.Match[str]) -> None:
        attributes = {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(match.group(1))}
        kind = attributes.get("type", "")
        summary = _SUMMARY.search(match.group(2))
        body = html.unescape(_SUMMARY.sub("", match.group(2), count=1)).strip()
        known = kind in ("reasoning", "tool_calls", "code_interpreter")
        self.types.append(kind if known else f"details:{kind}")
        if kind == "reasoning":
            title = html.unescape(summary.group(1)).strip() if summary else None
            extra = _duration(attributes.get("duration"))
            if extra and title == f"Thought for {extra['duration']} seconds":
                title = None  # Open WebUI's own label for the duration, not a summary
            self.add("thought", _unquote(body), searchable=False, summary=title or None, **extra)
        elif kind == "tool_calls":
            name = attributes.get("name") or None
            call = {"call_id": attributes["id"]} if attributes.get("id") else {}
            if "arguments" in attributes:
                arguments = _json_text(attributes["arguments"])
                self.add("code", arguments, searchable=False, language="json", name=name, **call)
            result = _json_text(attributes["result"]) if "result" in attributes else body
            self.add("execution_output", result, searchable=True, name=name, **call)
        elif kind == "code_interpreter":
            language = attributes.get("lang") or "python"
            self.add("code", body, searchable=False, language=language)
            if attributes.get("output"):
                self.add("execution_output", attributes["output"], searchable=True)
        else:
            self.parts.append(
                {"type": "unknown", "content_type": f"details:{kind}", "raw": match.group(0)}
            )

    def files(self, value: Any) -> None:
        """Images kept inline in ``files`` (a base64 data URL), first, as Open WebUI shows them."""
        for index, entry in enumerate(value if isinstance(value, list) else []):
            found = _DATA_URL.fullmatch(entry.get("url") or "") if isinstance(entry, dict) else None
            if found is None or not isinstance(entry, dict) or entry.get("type") != "image":
                continue
            try:
                data = base64.b64decode("".join(found[2].split()), validate=True)
            except (binascii.Error, ValueError):
                continue
            pointer, name = f"files[{index}]", _str(entry.get("name"))
            self.types.append("image")
            self.parts.append(
                {"type": "image", "pointer": pointer, **({"name": name} if name else {})}
            )
            opener = partial(io.BytesIO, data)
            self.attachments.append(AttachmentRef(pointer, name, found[1], len(data), opener))

    def output_item(self, item: Any) -> None:
        kind = str(item.get("type")) if isinstance(item, dict) else type(item).__name__
        self.types.append(kind)
        handler = _OUTPUT.get(kind)
        if handler is None or not isinstance(item, dict):
            self.parts.append({"type": "unknown", "content_type": kind, "raw": item})
            return
        handler(self, item)

    def error(self, value: Any) -> None:
        """Open WebUI stores a failed reply as ``error: {content}`` (or ``true``)."""
        if isinstance(value, dict):
            self.types.append("error")
            self.add(
                "error", str(value.get("content") or value.get("message") or ""), searchable=True
            )


def _reasoning(out: _Content, item: dict[str, Any]) -> None:
    summary = _texts(item.get("summary")) or None
    extra = _duration(item.get("duration"))
    out.add("thought", _texts(item.get("content")), searchable=False, summary=summary, **extra)


def _function_call(out: _Content, item: dict[str, Any]) -> None:
    arguments = item.get("arguments")
    text = arguments if isinstance(arguments, str) else str(arguments or "")
    name, call = _str(item.get("name")), _str(item.get("call_id"))
    out.add("code", text, searchable=False, language="json", name=name, call_id=call)


def _function_output(out: _Content, item: dict[str, Any]) -> None:
    text = _texts(item.get("output"))
    out.add("execution_output", text, searchable=True, call_id=_str(item.get("call_id")))


def _message_item(out: _Content, item: dict[str, Any]) -> None:
    out.add("text", _texts(item.get("content")), searchable=True)


_OUTPUT: dict[str, Callable[[_Content, dict[str, Any]], None]] = {
    "reasoning": _reasoning,
    "function_call": _function_call,
    "function_call_output": _function_output,
    "message": _message_item,
}


# -- small helpers ---------------------------------------------------------------------------------


def _texts(value: Any) -> str:
    """A string, or the ``text`` of each item of a list of content items, joined."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return ""
    found = [item.get("text") if isinstance(item, dict) else item for item in value]
    return "\n".join(text for text in found if isinstance(text, str) and text)


def _duration(value: Any) -> dict[str, float]:
    """``{"duration": seconds}`` for a number of seconds (or its text), else ``{}``."""
    number = isinstance(value, str | int | float) and not isinstance(value, bool)
    try:
        seconds = float(value) if number else float("nan")
    except (ValueError, OverflowError):
        return {}
    if not 0 <= seconds < 1e9:  # also refuses NaN
        return {}
    return {"duration": int(seconds) if seconds.is_integer() else seconds}


def _json_text(value: str) -> str:
    """An attribute Open WebUI wrote as a JSON string (``json.dumps``), decoded; else as is."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def _unquote(text: str) -> str:
    """Open WebUI shows reasoning as a Markdown quote; drop the ``>`` when every line has one."""
    lines = text.splitlines()
    if not lines or not all(line.startswith(">") for line in lines if line.strip()):
        return text
    return "\n".join(line[1:].removeprefix(" ") if line.startswith(">") else line for line in lines)
