"""LibreChat conversation exports (FORMATS.md §D.2).

LibreChat exports one conversation per JSON file: ``{conversationId, endpoint, title, exportAt,
branches, recursive, options, messages}``. Accepts such a file, or a folder/zip of them (each
file is one conversation, read whole; its exact bytes are the conversation's ``raw``). A file is
a LibreChat export when it is a JSON object with ``conversationId`` and ``messages`` or
``messagesTree``, the rule LibreChat's own importer uses.

Trees: with ``recursive: true`` each message nests its replies in ``children``; otherwise the
list is flat. Both are walked the same way, depth first in file order: a message's parent is its
``parentMessageId``, else the message it is nested in; the all-zero root id means no parent.
LibreChat stores no current leaf, so the newest leaf is shown: the one with the latest
``createdAt``, ties (most nested replies carry no time) going to the leaf that comes last in the
file, which is the latest branch LibreChat appended. ``tree.build_tree`` repairs broken links.
Python's JSON reader stops near 1,000 levels, so a very long ``recursive`` export is reported
with the advice to export it flat.

Content: ``text`` is the message; newer agent messages carry ``content`` parts instead, mapped as
``text`` → text, ``think`` → thought (hidden, not searchable), ``tool_call`` → code (its args)
and execution_output (its output), anything else → unknown. A message flagged ``error`` becomes
an error part. Role is ``user`` when ``isCreatedByUser`` else ``assistant``; the model is the
message's, else ``options.model``. ``options.promptPrefix`` (the custom instructions of the
conversation's preset) becomes a ``custom_instructions`` context record. The export has no
conversation times (``exportAt`` is a bare time of day), so ``created_at``/``updated_at`` are the
earliest and latest message times. Files and attachments are not imported; they stay in ``raw``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import READ_ERRORS, Claim, Format, Look
from freehold.models import ContextRecord, Conversation, Message
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "librechat"
PARSER_VERSION = "librechat/2"

ROOT = "00000000-0000-0000-0000-000000000000"
_META = ("sender", "endpoint", "tokenCount", "finish_reason", "unfinished")


class _LibreChat(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "LibreChat"
    names = re.compile(r"(?i)\.json$")
    look = Look(opens="{", keys=("conversationId",))
    shape = "file"
    limit = 512 << 20
    again = "export it from LibreChat again"
    too_deep = "export it again with the recursive option off"
    invalid = "not a LibreChat conversation (no conversationId/messages)"
    missing = (
        "no LibreChat conversation found — export the conversation from LibreChat again "
        "(Export → JSON) and import that file"
    )

    def confirm(self, name: str, head: bytes) -> bool:
        """Parsed whole, by the rule LibreChat's own importer uses."""
        try:
            if self.export.size(name) > self.limit:
                return False
            with self.export.open(name) as handle:
                return _is_conversation(self.parse(handle.read()))
        except RecursionError:  # a deep ``recursive`` tree: reading it says what to do
            return b'"messages' in head
        except (ValueError, *READ_ERRORS):
            return False

    def candidates(self, claim: Claim) -> list[str]:
        """Every JSON file: each is one conversation, and one that is not is reported."""
        names = self.export.names()
        return names if self.export.one_file else [n for n in names if self.names.search(n)]

    def parse(self, raw: bytes) -> Any:
        return json.loads(raw)  # not orjson: its depth limit is not told apart from bad JSON

    def valid(self, value: Any) -> bool:
        return _is_conversation(value)

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        return _conversation(value, raw)

    def identify(self, value: Any, raw: bytes) -> str | None:
        return field.text(value, "conversationId")


FORMAT = _LibreChat
detect = _LibreChat.detect
iter_conversations = _LibreChat.iter_conversations


def _is_conversation(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "conversationId" in value
        and ("messages" in value or "messagesTree" in value)
    )


def _conversation(obj: dict[str, Any], raw: bytes) -> Conversation:
    source_id = field.text(obj, "conversationId")
    if source_id is None:
        raise ValueError("no conversationId")
    options = field.mapping(obj, "options")
    problems: list[str] = []
    items = obj.get("messagesTree") or obj.get("messages")
    if not isinstance(items, list):
        problems.append("messages is not a list: kept without messages")
        items = []
    messages = _flatten(items, field.text(options, "model"), problems)
    tree = build_tree(messages, _newest_leaf(messages))
    times = [m.created_at for m in messages if m.created_at is not None]
    return Conversation(
        source_kind=KIND,
        source_id=source_id,
        title=field.text(obj, "title") or field.text(options, "title"),
        messages=tree.messages,
        raw=raw,
        created_at=min(times) if times else None,
        updated_at=max(times) if times else None,
        current_leaf=tree.leaf,
        model=field.text(options, "model"),
        context=_instructions(options),
        problems=problems + tree.problems,
    )


def _instructions(options: dict[str, Any]) -> list[ContextRecord]:
    text = field.text(options, "promptPrefix")
    if text is None:
        return []
    data: dict[str, Any] = {
        key: options.get(key) for key in ("chatGptLabel", "endpoint", "model") if key in options
    }
    return [ContextRecord("custom_instructions", text, data)]


# -- messages --------------------------------------------------------------------------------------


def _flatten(items: list[Any], model: str | None, problems: list[str]) -> list[Message]:
    """Depth first in file order; a nested message's default parent is the one around it."""
    messages: list[Message] = []
    stack: list[tuple[Any, str | None, str]] = [
        (item, None, f"messages[{n}]") for n, item in reversed(list(enumerate(items)))
    ]
    while stack:
        item, around, where = stack.pop()
        if not isinstance(item, dict):
            problems.append(f"{where} is not an object ({field.describe(item)}); left out")
            continue
        message = _message(item, f"message-{len(messages)}", model, problems)
        parent = field.text(item, "parentMessageId") or around
        message.parent_source_id = None if parent == ROOT else parent
        messages.append(message)
        children = list(enumerate(field.array(item, "children")))
        inside = f"children[{{}}] of {message.source_id}"
        stack.extend(
            (child, message.source_id, inside.format(n)) for n, child in reversed(children)
        )
    return messages


def _newest_leaf(messages: list[Message]) -> str | None:
    """The leaf with the latest ``createdAt``; without times, the last leaf in file order."""
    parents = {m.parent_source_id for m in messages}
    leaves = [(i, m) for i, m in enumerate(messages) if m.source_id not in parents]
    if not leaves:
        return None

    def key(entry: tuple[int, Message]) -> tuple[float, int]:
        created = entry[1].created_at
        return (created if created is not None else float("-inf"), entry[0])

    return max(leaves, key=key)[1].source_id


def _message(
    item: dict[str, Any], fallback: str, model: str | None, problems: list[str]
) -> Message:
    source_id = field.text(item, "messageId")
    if source_id is None:
        source_id = fallback
        problems.append(f"a message has no messageId; kept as {source_id}")
    content = _Content()
    blocks = field.array(item, "content")
    for block in blocks:
        content.block(block)
    if not blocks:
        kind = "error" if item.get("error") is True else "text"
        content.types.append(kind)
        content.add(kind, field.string(item, "text"), searchable=True)
    by_user = field.flag(item, "isCreatedByUser")
    return content.message(
        source_id,
        "user" if by_user else "assistant",
        author_name=field.text(item, "sender"),
        model=field.text(item, "model") or (None if by_user else model),
        created_at=field.when(item, "createdAt"),
        status="incomplete" if item.get("unfinished") is True else "complete",
        meta={key: item[key] for key in _META if key in item},
    )


class _Content(PartsBuilder):
    """Parts and searchable text pieces of one message."""


def _value(block: dict[str, Any], key: str) -> str:
    """``block[key]`` as text, or its ``{value}`` as older agents wrote it."""
    inner = block.get(key)
    return field.string(inner, "value") if isinstance(inner, dict) else field.string(block, key)


def _text_block(out: _Content, block: dict[str, Any]) -> None:
    out.add("text", _value(block, "text"), searchable=True)


def _think_block(out: _Content, block: dict[str, Any]) -> None:
    out.add("thought", _value(block, "think"), searchable=False)


def _tool_block(out: _Content, block: dict[str, Any]) -> None:
    call = field.mapping(block, "tool_call")
    name = field.text(call, "name")
    out.add("code", _json(call.get("args"), indent=2), searchable=False, language="json", name=name)
    if call.get("output") is not None:
        out.add("execution_output", _json(call["output"]), searchable=True, name=name)


def _json(value: Any, indent: int | None = None) -> str:
    """A tool's input or output as shown: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=indent)


_Content.handlers = {"text": _text_block, "think": _think_block, "tool_call": _tool_block}
