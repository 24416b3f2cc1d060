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
``text`` → text, ``think`` → thought (hidden, not searchable), ``image_file`` → an image part and
its attachment, ``tool_call`` → code and execution_output by the call's ``type`` (below),
anything else → unknown. Tool calls come in two shapes: the Agents endpoint's ``{name, args,
output}`` (no ``type``, or ``tool_call``), and the Assistants endpoint's, OpenAI's run steps:
``code_interpreter: {input, outputs}`` (code in Python; each ``logs`` output an
execution_output, each ``image`` output an image part and attachment), ``function: {name,
arguments, output}``, and ``file_search``/``retrieval`` (their object as the call, named by the
type). A call of another type is an unknown part, named ``tool_call:<type>`` in the report.
Every part of a call carries its ``id`` as ``call_id``. A message flagged ``error`` becomes
an error part. Role is ``user`` when ``isCreatedByUser`` else ``assistant``; the model is the
message's, else ``options.model``. ``options.promptPrefix`` (the custom instructions of the
conversation's preset) becomes a ``custom_instructions`` context record. The export has no
conversation times (``exportAt`` is a bare time of day), so ``created_at``/``updated_at`` are the
earliest and latest message times. Each file a message's ``files`` lists, and each image a part
points at, is an attachment ``librechat-file://<file_id>`` (else its name): the export holds no
bytes, so the report counts them missing (``_common``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import READ_ERRORS, Claim, Format, Look
from freehold.models import ContextRecord, Conversation, Message
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "librechat"
PARSER_VERSION = "librechat/3"

ROOT = "00000000-0000-0000-0000-000000000000"
_META = ("sender", "endpoint", "tokenCount", "finish_reason", "unfinished")
_FILES = "librechat-file"  # an attachment's pointer scheme
_IDS = ("file_id",)


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
    content.name_files(_FILES, field.array(item, "files"), ids=_IDS)
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


def _image_block(out: _Content, block: dict[str, Any]) -> None:
    _image(out, field.mapping(block, "image_file"))


def _image(out: _Content, image: dict[str, Any], **extra: Any) -> None:
    """An image a part points at (``{file_id, filepath?}``): an image part and its reference."""
    refs = out.name_files(_FILES, [image], ids=_IDS, key="image_file")
    if refs:
        out.parts.append({"type": "image", "pointer": refs[0].pointer, **extra})


def _tool_block(out: _Content, block: dict[str, Any]) -> None:
    """A tool call, by its ``type``: the Agents shape, or the Assistants endpoint's."""
    call = field.mapping(block, "tool_call")
    kind = field.text(call, "type") or "tool_call"
    ident = field.text(call, "id")
    extra = {"call_id": ident} if ident else {}
    read = _TOOL_CALLS.get(kind)
    if read is None:
        out.types[-1] = f"tool_call:{kind}"
        out.parts.append({"type": "unknown", "content_type": f"tool_call:{kind}", "raw": block})
        return
    read(out, call, kind, extra)


def _agent_call(out: _Content, call: dict[str, Any], kind: str, extra: dict[str, Any]) -> None:
    name = field.text(call, "name")
    _call(out, name, call.get("args"), call.get("output"), extra)


def _function_call(out: _Content, call: dict[str, Any], kind: str, extra: dict[str, Any]) -> None:
    function = field.mapping(call, kind)
    name = field.text(function, "name")
    _call(out, name, function.get("arguments"), function.get("output"), extra)


def _search_call(out: _Content, call: dict[str, Any], kind: str, extra: dict[str, Any]) -> None:
    _call(out, kind, call.get(kind, {}), None, extra)


def _code_call(out: _Content, call: dict[str, Any], kind: str, extra: dict[str, Any]) -> None:
    code = field.mapping(call, kind)
    text = field.string(code, "input")
    out.add("code", text, searchable=False, language="python", name=kind, **extra)
    for output in field.array(code, "outputs"):
        if isinstance(output, dict) and output.get("type") == "image":
            _image(out, field.mapping(output, "image"), **extra)
        elif isinstance(output, dict) and output.get("type") == "logs":
            out.add("execution_output", field.string(output, "logs"), searchable=True, **extra)
        else:
            out.add("execution_output", _json(output), searchable=True, name=kind, **extra)


def _call(out: _Content, name: str | None, args: Any, output: Any, extra: dict[str, Any]) -> None:
    text = _json(args, indent=2)
    out.add("code", text, searchable=False, language="json", name=name, **extra)
    if output is not None:
        out.add("execution_output", _json(output), searchable=True, name=name, **extra)


_ToolCall = Callable[[_Content, dict[str, Any], str, dict[str, Any]], None]
_TOOL_CALLS: dict[str, _ToolCall] = {
    "tool_call": _agent_call,
    "function": _function_call,
    "code_interpreter": _code_call,
    "file_search": _search_call,
    "retrieval": _search_call,
}


def _json(value: Any, indent: int | None = None) -> str:
    """A tool's input or output as shown: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=indent)


_Content.handlers = {
    "text": _text_block,
    "think": _think_block,
    "tool_call": _tool_block,
    "image_file": _image_block,
}
