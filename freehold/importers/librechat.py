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
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._common import PartsBuilder, export_problems
from freehold.importers._common import iso_time as _time
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, OneFile, open_export
from freehold.models import (
    ContextRecord,
    Conversation,
    ExportInfo,
    Message,
    Problem,
    Record,
)
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "librechat"
PARSER_VERSION = "librechat/1"

ROOT = "00000000-0000-0000-0000-000000000000"
_FILE_LIMIT = 512 << 20
_PEEK = 1 << 16
_DETECT_FILES = 20
_META = ("sender", "endpoint", "tokenCount", "finish_reason", "unfinished")


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for a LibreChat export file, or a folder/zip holding such files."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        if any(PurePosixPath(n).name == "freehold-export.json" for n in files.names()):
            return False
        return any(_is_export(files, name) for name in _candidates(files)[:_DETECT_FILES])
    finally:
        files.close()


def _candidates(files: ExportFiles) -> list[str]:
    if isinstance(files, OneFile):
        return files.names()
    return sorted(n for n in files.names() if n.lower().endswith(".json"))


def _is_export(files: ExportFiles, name: str) -> bool:
    """A cheap look at the head first, so a big array of another format is never parsed."""
    try:
        with files.open(name) as handle:
            head = handle.read(_PEEK)
        if head.lstrip()[:1] != b"{" or b'"conversationId"' not in head:
            return False
        return _is_conversation(_load(files, name)[0])
    except RecursionError:  # a deep ``recursive`` tree: iter_conversations says what to do
        return b'"messages' in head
    except (ValueError, FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile):
        return False


def _is_conversation(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "conversationId" in value
        and ("messages" in value or "messagesTree" in value)
    )


def _load(files: ExportFiles, name: str) -> tuple[Any, bytes]:
    """The parsed file and its bytes; ``ValueError`` when too big or not JSON."""
    if files.size(name) > _FILE_LIMIT:
        raise ValueError(f"larger than {_FILE_LIMIT >> 20} MiB")
    with files.open(name) as handle:
        raw = handle.read()
    return json.loads(raw), raw


# -- the export ------------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then one conversation per file, and problems."""
    files = open_export(path)
    try:
        yield from _records(files)
    finally:
        files.close()


def _records(files: ExportFiles) -> Iterator[Record]:
    names = _candidates(files)
    if not names:
        raise BadExportError(
            f"{files.label}: no JSON files found — export the conversation from LibreChat "
            "again (Export → JSON) and import that file"
        )
    yield ExportInfo(
        kind=KIND,
        files=[(name, files.size(name)) for name in names],
        expected_conversations=len(names),
    )
    yield from export_problems(files)
    for name in names:
        yield _read(files, name)


def _read(files: ExportFiles, name: str) -> Record:
    try:
        value, raw = _load(files, name)
    except RecursionError:
        what = "nested too deeply to read; this conversation was skipped"
        return Problem(name, what + " — export it again with the recursive option off", skipped=1)
    except (ValueError, FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        what = f"not readable JSON ({error}); this conversation was skipped"
        return Problem(name, what + " — export it from LibreChat again", skipped=1)
    if not _is_conversation(value):
        what = "not a LibreChat conversation (no conversationId/messages); it was skipped"
        return Problem(name, what + " — import it on its own if it is another export", skipped=1)
    try:
        return _conversation(value, raw)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        what = f"not a readable conversation ({type(error).__name__}: {error}); it was skipped"
        return Problem(name, what + " — check this file", skipped=1)


def _conversation(obj: dict[str, Any], raw: bytes) -> Conversation:
    source_id = _str(obj.get("conversationId"))
    if source_id is None:
        raise ValueError("no conversationId")
    found = obj.get("options")
    options: dict[str, Any] = found if isinstance(found, dict) else {}
    problems: list[str] = []
    items = obj.get("messagesTree") or obj.get("messages")
    if not isinstance(items, list):
        problems.append("messages is not a list: kept without messages")
        items = []
    messages = _flatten(items, _str(options.get("model")), problems)
    tree = build_tree(messages, _newest_leaf(messages))
    times = [m.created_at for m in messages if m.created_at is not None]
    return Conversation(
        source_kind=KIND,
        source_id=source_id,
        title=_str(obj.get("title")) or _str(options.get("title")),
        messages=tree.messages,
        raw=raw,
        created_at=min(times) if times else None,
        updated_at=max(times) if times else None,
        current_leaf=tree.leaf,
        model=_str(options.get("model")),
        context=_instructions(options),
        problems=problems + tree.problems,
    )


def _instructions(options: dict[str, Any]) -> list[ContextRecord]:
    text = _str(options.get("promptPrefix"))
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
    stack: list[tuple[Any, str | None]] = [(item, None) for item in reversed(items)]
    while stack:
        item, around = stack.pop()
        if not isinstance(item, dict):
            problems.append(f"message {len(messages)} is not an object; left out")
            continue
        message = _message(item, f"message-{len(messages)}", model, problems)
        parent = _str(item.get("parentMessageId")) or around
        message.parent_source_id = None if parent == ROOT else parent
        messages.append(message)
        children = item.get("children")
        if isinstance(children, list):
            stack.extend((child, message.source_id) for child in reversed(children))
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
    source_id = _str(item.get("messageId"))
    if source_id is None:
        source_id = fallback
        problems.append(f"a message has no messageId; kept as {source_id}")
    content = _Content()
    blocks = item.get("content")
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            content.block(block)
    else:
        kind = "error" if item.get("error") is True else "text"
        content.types.append(kind)
        content.add(kind, str(item.get("text") or ""), searchable=True)
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role="user" if item.get("isCreatedByUser") else "assistant",
        content_type=content.content_type,
        parts=content.parts,
        text=content.text,
        author_name=_str(item.get("sender")),
        model=_str(item.get("model")) or (None if item.get("isCreatedByUser") else model),
        created_at=_time(item.get("createdAt")),
        hidden=content.only_thoughts,
        status="incomplete" if item.get("unfinished") is True else "complete",
        meta={key: item[key] for key in _META if key in item},
    )


class _Content(PartsBuilder):
    """Parts and searchable text pieces of one message."""

    def block(self, block: Any) -> None:
        kind = str(block.get("type")) if isinstance(block, dict) else type(block).__name__
        self.types.append(kind)
        handler = _BLOCKS.get(kind)
        if handler is None or not isinstance(block, dict):
            self.parts.append({"type": "unknown", "content_type": kind, "raw": block})
            return
        handler(self, block)


def _text_block(out: _Content, block: dict[str, Any]) -> None:
    value = block.get("text")
    text = value.get("value") if isinstance(value, dict) else value  # {value} in older agents
    out.add("text", str(text or ""), searchable=True)


def _think_block(out: _Content, block: dict[str, Any]) -> None:
    value = block.get("think")
    text = value.get("value") if isinstance(value, dict) else value
    out.add("thought", str(text or ""), searchable=False)


def _tool_block(out: _Content, block: dict[str, Any]) -> None:
    found = block.get("tool_call")
    call: dict[str, Any] = found if isinstance(found, dict) else {}
    name = _str(call.get("name"))
    args = call.get("args")
    code = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, indent=2)
    out.add("code", code, searchable=False, language="json", name=name)
    if call.get("output") is not None:
        out.add("execution_output", str(call["output"]), searchable=True, name=name)


_BLOCKS: dict[str, Callable[[_Content, dict[str, Any]], None]] = {
    "text": _text_block,
    "think": _think_block,
    "tool_call": _tool_block,
}


# -- small helpers ---------------------------------------------------------------------------------
