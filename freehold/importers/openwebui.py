"""Open WebUI chat exports (FORMATS.md §D.1).

Accepts the exported JSON array (``chat-export-*.json``: "Export All Chats" or one chat), a single
chat object, or a folder/zip of such files. Chats are read one at a time (``jsonstream``), each
keeping the exact bytes of its array element as ``raw``. A file is an Open WebUI export when one
of its first 20 elements has ``chat.history`` (the standard item) or, for "legacy" items that
omit the ``chat`` wrapper, ``history`` beside ``messages`` (one odd chat first does not refuse
the rest; it is kept and reported on its own); ChatGPT (``mapping``) and Claude
(``chat_messages``) elements never qualify. Other JSON files in a folder or zip are reported,
not read.

Trees: ``history.messages`` maps ids to nodes; ``parentId`` is the link (``childrenIds`` only
repeats it, and Open WebUI itself walks ``parentId`` up from ``currentId`` to draw a chat), and
``currentId`` is the current leaf. The oldest legacy items hold a plain ``messages`` list instead:
each message hangs from its ``parentId`` or, without one, from the message before it.
``tree.build_tree`` repairs what is broken. Times are epoch seconds or milliseconds (newer and
older releases differ); both are normalised to seconds, and ISO strings are read too.

Content: when a node has ``output`` (Responses-API-like items, newer releases) it is the source of
truth, and parts come from it: ``reasoning`` → ``thought``, ``function_call`` → ``code``,
``function_call_output`` → ``execution_output``, ``message`` → ``text``, anything else →
``unknown``. ``content`` is split too (as below), and what it holds that ``output`` does not
render (whitespace aside) — a hand edit, the reasoning of another run — is kept after the
``output`` parts, searchable whatever their type (it is what the chat showed); what both hold is
kept once. Without ``output``, ``content`` (Markdown) is split: ``<details type="reasoning">`` →
``thought`` (its ``> `` quoting and HTML escapes undone), ``<details type="tool_calls">`` →
``code`` (the ``arguments`` attribute) and ``execution_output`` (the ``result`` attribute, else
the body; a JSON string decoded), ``<details type="code_interpreter">`` → ``code`` and
``execution_output``, other ``details`` → ``unknown``, and the rest → ``text``. A reasoning
block's ``duration`` (seconds) is kept on its ``thought`` (its label "Thought for N seconds" is
not a summary); a tool call's ``arguments`` and ``result`` are JSON-encoded strings in Open
WebUI's markup and are decoded. Reasoning and tool inputs stay out of the searchable ``text``, so
search finds what was said, not what was considered; tool results are searchable. A reasoning-only
message is hidden. Images that ``files`` holds inline (``type: image``, a base64 ``data:`` URL)
become ``image`` parts with their bytes; every other file (kept in Open WebUI's own store, not
in the export) is an attachment ``openwebui-file://<id>`` (else its name) reported missing,
which it is (``_common``); a ``collection`` entry names a knowledge base, not a file, and stays
in ``raw``.

Around the messages: ``folder_id`` is the conversation's ``project`` (the folder's name is not in
the export); a message's ``sources`` (older: ``citations``) become ``citation`` parts, numbered
as Open WebUI numbers them (one per ``metadata.source``, else ``source.id``), the passages left
in ``raw``; its ``annotation`` (the person's rating, reason, comment) is kept whole in the
message's ``meta``. Chat tags (``meta.tags``) have no place in the archive: the import report
counts the chats that had them, and they stay in ``raw``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import io
import itertools
import json
import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from freehold._words import plural
from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import READ_ERRORS, Format
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    Message,
    Problem,
    Record,
)
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "openwebui"
PARSER_VERSION = "openwebui/3"

_DETAILS = re.compile(r"<details\b([^>]*)>(.*?)</details>", re.DOTALL | re.IGNORECASE)
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.DOTALL | re.IGNORECASE)
_FOREIGN = ("mapping", "chat_messages")
_PEEK_CHATS = 20
_DATA_URL = re.compile(r"data:(image/[\w.+-]+)(?:;[^,;]*)*;base64,(.*)", re.DOTALL | re.IGNORECASE)


class _OpenWebUI(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "Open WebUI"
    names = re.compile(r"(?i)\.json$")
    noun = "chat"
    tagged = 0  # chats with tags, counted as they are converted (``epilogue``)
    again = "export the chats from Open WebUI again"
    missing = (
        "no Open WebUI chats found — export them again from "
        "Settings → Chats → Export All Chats and import that file"
    )

    def confirm(self, name: str, head: bytes) -> bool:
        """One of the file's first elements (or its one object) is an Open WebUI chat."""
        try:
            with self.export.open(name) as handle:
                first = itertools.islice(iter_elements(handle), _PEEK_CHATS)
                return any(_is_chat(element.value) for element in first)
        except (JsonStreamError, *READ_ERRORS):
            return False

    def prologue(self, names: list[str]) -> Iterator[Record]:
        """Other JSON files beside the chats are named, not read."""
        others = [n for n in self.export.names() if self.names.search(n) and n not in names]
        for name in others:
            what = "not an Open WebUI chat file; left out — import it on its own if it is needed"
            yield Problem(name, what, lost=False)

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        if field.array(field.mapping(value, "meta"), "tags"):
            self.tagged += 1
        return _conversation(value, raw)

    def epilogue(self, names: list[str]) -> Iterator[Record]:
        """Chat tags have no place in the archive: said once, for all the chats that had some."""
        if self.tagged:
            what = f"{plural(self.tagged, 'chat')} had tags (meta.tags): freehold keeps no tags"
            yield Problem(
                names[0], f"{what}; not converted, kept in each chat's raw JSON", lost=False
            )

    def identify(self, value: Any, raw: bytes) -> str | None:
        return field.text(value, "id")


FORMAT = _OpenWebUI
detect = _OpenWebUI.detect
iter_conversations = _OpenWebUI.iter_conversations


def _is_chat(value: Any) -> bool:
    if not isinstance(value, dict) or any(key in value for key in _FOREIGN):
        return False
    chat = value.get("chat")
    if isinstance(chat, dict):
        return isinstance(chat.get("history"), dict)
    history = value.get("history")
    return isinstance(history, dict) and ("messages" in value or "messages" in history)


def _conversation(obj: dict[str, Any], raw: bytes) -> Conversation:
    source_id = field.text(obj, "id")
    if source_id is None:
        raise ValueError("no id")
    found = obj.get("chat")
    chat: dict[str, Any] = found if isinstance(found, dict) else obj
    if found is not None and not isinstance(found, dict):
        field.odd("chat", found, "an object")
    problems: list[str] = []
    messages, leaf = _messages(chat, problems)
    tree = build_tree(messages, leaf)
    return Conversation(
        source_kind=KIND,
        source_id=source_id,
        title=field.text(obj, "title") or field.text(chat, "title"),
        messages=tree.messages,
        raw=raw,
        created_at=field.known(field.when(obj, "created_at"), field.when(chat, "timestamp")),
        updated_at=field.when(obj, "updated_at"),
        current_leaf=tree.leaf,
        model=_first_model(chat),
        project=field.text(obj, "folder_id"),
        archived=field.flag(obj, "archived"),
        starred=field.flag(obj, "pinned"),
        context=_system(chat),
        problems=problems + tree.problems,
    )


def _first_model(chat: dict[str, Any]) -> str | None:
    models = field.array(chat, "models")
    for odd in (m for m in models if not isinstance(m, str)):
        field.odd("models", odd, "a model name")
    return next((m for m in models if isinstance(m, str) and m), None) or field.text(chat, "model")


def _system(chat: dict[str, Any]) -> list[ContextRecord]:
    """A chat's own system prompt (``chat.system`` or ``chat.params.system``)."""
    text = field.text(chat, "system") or field.text(field.mapping(chat, "params"), "system")
    return [ContextRecord("custom_instructions", text)] if text else []


# -- messages --------------------------------------------------------------------------------------


def _messages(chat: dict[str, Any], problems: list[str]) -> tuple[list[Message], str | None]:
    history = field.mapping(chat, "history")
    nodes = history.get("messages")
    if isinstance(nodes, dict):
        return _from_history(nodes, problems), field.text(history, "currentId")
    if isinstance(chat.get("messages"), list):
        messages = _from_list(chat["messages"], problems)
        leaf = field.text(history, "currentId") or (messages[-1].source_id if messages else None)
        return messages, leaf
    problems.append("no history.messages: kept without messages")
    return [], None


def _from_history(nodes: dict[str, Any], problems: list[str]) -> list[Message]:
    messages: list[Message] = []
    for key, node in nodes.items():
        if not isinstance(node, dict):
            problems.append(f"message {key} is not an object; left out")
            continue
        message = _message(node, field.text(node, "id") or key)
        message.parent_source_id = field.text(node, "parentId")
        messages.append(message)
    return messages


def _from_list(items: list[Any], problems: list[str]) -> list[Message]:
    """Legacy linear chats: ``parentId`` where given, else the message before."""
    messages: list[Message] = []
    for index, node in enumerate(items):
        if not isinstance(node, dict):
            problems.append(f"message {index} is not an object; left out")
            continue
        source_id = field.text(node, "id")
        if source_id is None:
            source_id = f"message-{index}"
            problems.append(f"message {index} has no id; kept as {source_id}")
        message = _message(node, source_id)
        before = messages[-1].source_id if messages else None
        message.parent_source_id = field.text(node, "parentId") if "parentId" in node else before
        messages.append(message)
    return messages


def _message(node: dict[str, Any], source_id: str) -> Message:
    content = _Content()
    content.files(field.array(node, "files"))
    output = field.array(node, "output")
    markdown = field.string(node, "content")
    if output:
        for item in output:
            content.block(item, "output")
        content.unrendered(markdown)
    else:
        content.markdown(markdown)
    content.error(node.get("error"))
    content.sources(field.array(node, "sources") or field.array(node, "citations"))
    role = field.text(node, "role") or "unknown"
    message = content.message(
        source_id,
        role,
        model=field.text(node, "model"),
        created_at=field.when(node, "timestamp"),
        status="incomplete" if node.get("done") is False else "complete",
    )
    annotation = field.mapping(node, "annotation")
    if annotation:
        message.meta["annotation"] = annotation  # the person's rating, reason and comment
    return message


class _Content(PartsBuilder):
    """Parts and searchable text pieces of one message."""

    def unrendered(self, markdown: str) -> None:
        """What ``content`` holds that ``output`` does not (an edit, another run's reasoning):
        its parts, searchable, so nothing it held is lost; what both hold (whitespace aside) is
        kept once, from ``output``."""
        rendered = _Content()
        rendered.markdown(markdown)
        shown = _spaced(" ".join(str(part.get("text", "")) for part in self.parts))
        for part in rendered.parts:
            text = part.get("text")
            if isinstance(text, str) and _spaced(text) in shown:
                continue  # empty text too
            self.types.append(part["type"])
            self.parts.append(part)
            if isinstance(text, str):
                self.pieces.append(text)

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
            result = _json_text(attributes.get("result", body))
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

    def files(self, value: list[Any]) -> None:
        """Images kept inline in ``files`` (a base64 data URL), first, as Open WebUI shows them;
        then a reference for each other file (its bytes are not in the export)."""
        stored: list[Any] = []
        for index, entry in enumerate(value):
            if not self.inline(index, entry) and field.text(entry, "type") != "collection":
                stored.append(entry)
        self.name_files("openwebui-file", stored, ids=("id",))

    def inline(self, index: int, entry: Any) -> bool:
        """``entry`` as an image part with its bytes, when it holds them (a data URL)."""
        url = field.text(entry, "url") if isinstance(entry, dict) else None
        found = _DATA_URL.fullmatch(url or "")
        if found is None or not isinstance(entry, dict) or entry.get("type") != "image":
            return False
        try:
            data = base64.b64decode("".join(found[2].split()), validate=True)
        except (binascii.Error, ValueError):
            return False
        pointer, name = f"files[{index}]", field.text(entry, "name")
        self.types.append("image")
        self.parts.append({"type": "image", "pointer": pointer, **({"name": name} if name else {})})
        ref = AttachmentRef(pointer, name, found[1], len(data), partial(io.BytesIO, data))
        ref.sha256 = hashlib.sha256(data).hexdigest()  # every message has a files[0]
        self.attachments.append(ref)
        return True

    def error(self, value: Any) -> None:
        """Open WebUI stores a failed reply as ``error: {content}`` (or ``true``)."""
        if isinstance(value, dict):
            self.types.append("error")
            text = field.text(value, "content") or field.string(value, "message")
            self.add("error", text, searchable=True)

    def sources(self, value: list[Any]) -> None:
        """What the answer drew on (web results, documents): one ``citation`` per source, the
        number Open WebUI gives it (``[1]`` …: its ``metadata.source``, else its ``source.id``,
        in order), with its URL and title; the passages stay in ``raw``."""
        seen: set[str] = set()
        number = 0
        for entry in value:
            source = field.mapping(entry, "source")
            metadata = [m for m in field.array(entry, "metadata") if isinstance(m, dict)] or [{}]
            for meta in metadata:
                key = field.text(meta, "source") or field.text(source, "id")
                if key is None or key not in seen:
                    seen.add(key or "")
                    number += 1
                    self.parts.append(_citation(number, meta, source))


def _citation(number: int, meta: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    names = (field.text(meta, "title"), field.text(meta, "name"), field.text(source, "name"))
    links = (field.text(meta, "source"), field.text(meta, "url"), field.text(source, "url"))
    url = next((link for link in links if link and link.startswith(("http://", "https://"))), None)
    title = next((name for name in names if name), None)
    found = {"url": url, "title": title}
    return {"type": "citation", "marker": f"[{number}]", **{k: v for k, v in found.items() if v}}


def _reasoning(out: _Content, item: dict[str, Any]) -> None:
    summary = _texts(item, "summary") or None
    extra = _duration(item.get("duration"))
    out.add("thought", _texts(item, "content"), searchable=False, summary=summary, **extra)


def _function_call(out: _Content, item: dict[str, Any]) -> None:
    arguments = item.get("arguments")
    text = (
        arguments
        if isinstance(arguments, str)
        else ""
        if arguments is None
        else json.dumps(arguments)
    )
    name, call = field.text(item, "name"), field.text(item, "call_id")
    out.add("code", text, searchable=False, language="json", name=name, call_id=call)


def _function_output(out: _Content, item: dict[str, Any]) -> None:
    text = _texts(item, "output")
    out.add("execution_output", text, searchable=True, call_id=field.text(item, "call_id"))


def _message_item(out: _Content, item: dict[str, Any]) -> None:
    out.add("text", _texts(item, "content"), searchable=True)


_Content.handlers = {
    "reasoning": _reasoning,
    "function_call": _function_call,
    "function_call_output": _function_output,
    "message": _message_item,
}


# -- small helpers ---------------------------------------------------------------------------------


def _texts(item: dict[str, Any], key: str) -> str:
    """A string, or the ``text`` of each item of a list of content items, joined."""
    value = item.get(key)
    if isinstance(value, str):
        return value
    found = []
    for entry in field.array(item, key):
        if isinstance(entry, dict | str):
            found.append(field.text(entry, "text") if isinstance(entry, dict) else entry)
        else:
            field.odd(key, entry, "text or an object")
    return "\n".join(text for text in found if text)


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


def _spaced(text: str) -> str:
    """Text with every run of whitespace as one space, to compare renderings."""
    return " ".join(text.split())


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
