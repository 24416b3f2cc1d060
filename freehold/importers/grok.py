"""Grok (x.ai) data exports (FORMATS.md §D.6).

The export is one JSON object ``{conversations:[{conversation:{id?, title, create_time},
responses:[…]}]}``, given as the file itself, or a folder or zip holding it (any member that is
a JSON object naming ``"conversations"``, ``"conversation"`` and ``"responses"``). A response is
either flat ``{sender, message, create_time}`` or wrapped ``{response:{_id, sender, message,
create_time, model, thinking_trace?}}`` as the x.ai download gives it.

When ``conversations`` is the object's first key (as in every export seen), the array is read one
conversation at a time (``jsonstream``) and each keeps the exact bytes of its element as ``raw``;
otherwise the whole file is parsed and ``raw`` is the element re-serialised.

Conversations are linear: each response hangs from the one before it, the last is the leaf.
``sender`` ``human``/``user`` → ``user``, ``assistant``/``grok``/``model`` (any case) →
``assistant``. ``thinking_trace`` is a hidden ``thought`` part, left out of the searchable text.

Timestamps: ISO 8601 strings (the fixture), epoch numbers or digit strings (seconds, or
milliseconds when above 10^11), and MongoDB ``{"$date": …}`` / ``{"$numberLong": …}`` wrappers.

Identity: ``conversation.id`` when present; otherwise a hash of the conversation's
``create_time`` and ``title``, which stay put when a conversation grows between exports (the raw
bytes would not).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._common import any_time as _time
from freehold.importers._common import export_problems
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, open_export
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import Conversation, ExportInfo, Message, Part, Problem, Record
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "grok"
PARSER_VERSION = "grok/1"

_PEEK = 1 << 16
_WHOLE_LIMIT = 1 << 30
_MARKS = (b'"conversations"', b'"conversation"', b'"responses"')
_FIRST_KEY = re.compile(rb'^\s*\{\s*"conversations"\s*:\s*(?=\[)')
_USER = {"human", "user"}
_ASSISTANT = {"assistant", "grok", "model", "bot"}


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for a Grok export file, or a folder or zip holding one."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        return any(_is_grok(_peek(files, name)) for name in files.names())
    finally:
        files.close()


def _peek(files: ExportFiles, name: str) -> bytes:
    try:
        with files.open(name) as handle:
            return handle.read(_PEEK)
    except (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile):
        return b""


def _is_grok(head: bytes) -> bool:
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body.startswith(b"{") and all(mark in body for mark in _MARKS)


# -- the export ------------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then conversations and problems."""
    files = open_export(path)
    try:
        yield from _records(files)
    finally:
        files.close()


def _records(files: ExportFiles) -> Iterator[Record]:
    names = [name for name in files.names() if _is_grok(_peek(files, name))]
    if not names:
        raise BadExportError(
            f"{files.label}: no Grok export (a JSON object with conversations[].responses) "
            "found — is this the file from x.ai's data download?"
        )
    yield ExportInfo(kind=KIND, files=[(name, files.size(name)) for name in names])
    yield from export_problems(files)
    for name in names:
        yield from _read(files, name)


def _read(files: ExportFiles, name: str) -> Iterator[Record]:
    count = 0
    try:
        for index, value, raw in _elements(files, name):
            count += 1
            yield _element(f"{name}[{index}]", value, raw)
    except JsonStreamError as error:
        yield Problem(name, f"{error} at character {error.offset}: {_lost(count)}")
    except (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        yield Problem(name, f"cannot be read ({error}): {_lost(count)}")
    except orjson.JSONDecodeError as error:
        yield Problem(name, f"not valid JSON ({error}): {_lost(count)}")


def _lost(count: int) -> str:
    return (
        f"{count} conversation(s) read before it; the rest of this file was not imported "
        "— download the export again"
    )


def _elements(files: ExportFiles, name: str) -> Iterator[tuple[int, Any, bytes]]:
    """``(index, value, raw)`` per conversation: streamed when ``conversations`` comes first."""
    found = _FIRST_KEY.match(_peek(files, name))
    if found is None:
        yield from _whole(files, name)
        return
    with files.open(name) as handle:
        _skip(handle.read, found.end())
        for element in iter_elements(handle):
            yield element.index, element.value, element.raw


def _skip(read: Any, count: int) -> None:
    while count > 0:
        got = read(count)
        if not got:
            return
        count -= len(got)


def _whole(files: ExportFiles, name: str) -> Iterator[tuple[int, Any, bytes]]:
    if files.size(name) > _WHOLE_LIMIT:
        raise BadExportError("larger than 1 GiB with conversations not first; not read")
    with files.open(name) as handle:
        value = orjson.loads(handle.read())
    items = value.get("conversations") if isinstance(value, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        yield index, item, orjson.dumps(item)


def _element(where: str, value: Any, raw: bytes) -> Record:
    try:
        if not isinstance(value, dict):
            raise TypeError("not a JSON object")
        return _conversation(value, raw)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        what = f"not a readable conversation ({type(error).__name__}: {error}); it was skipped"
        return Problem(where, what + " — check this element of the export", skipped=1)


def _conversation(item: dict[str, Any], raw: bytes) -> Conversation:
    head = item.get("conversation")
    if not isinstance(head, dict):
        raise ValueError("no conversation object")
    responses = item.get("responses")
    problems = [] if isinstance(responses, list) else ["no responses list: kept without messages"]
    messages = _messages(responses if isinstance(responses, list) else [], problems)
    tree = build_tree(messages, messages[-1].source_id if messages else None)
    models = [m.model for m in messages if m.model]
    return Conversation(
        source_kind=KIND,
        source_id=_str(head.get("id")) or _str(head.get("conversation_id")) or _derived_id(head),
        title=_str(head.get("title")),
        messages=tree.messages,
        raw=raw,
        created_at=_time(head.get("create_time")) or _first_time(messages),
        updated_at=_time(head.get("modify_time")),
        current_leaf=tree.leaf,
        model=models[-1] if models else None,
        problems=problems + tree.problems,
    )


def _derived_id(head: dict[str, Any]) -> str:
    key = orjson.dumps([head.get("create_time"), head.get("title")])
    return "grok-" + hashlib.sha256(key).hexdigest()[:32]


# -- responses -------------------------------------------------------------------------------------


def _messages(responses: list[Any], problems: list[str]) -> list[Message]:
    messages: list[Message] = []
    seen: set[str] = set()
    for index, entry in enumerate(responses):
        inner = entry.get("response") if isinstance(entry, dict) else None
        response = inner if isinstance(inner, dict) else entry
        if not isinstance(response, dict):
            problems.append(f"response {index} is not an object; left out — check the export")
            continue
        message = _message(response, _response_id(response, index, seen, problems))
        message.parent_source_id = messages[-1].source_id if messages else None
        messages.append(message)
    return messages


def _response_id(response: dict[str, Any], index: int, seen: set[str], problems: list[str]) -> str:
    given = _str(response.get("_id")) or _str(response.get("id"))
    source_id = given if given and given not in seen else f"response-{index}"
    if given and given in seen:
        problems.append(f"response id {given} appears twice; response {index} kept as {source_id}")
    seen.add(source_id)
    return source_id


def _message(response: dict[str, Any], source_id: str) -> Message:
    parts: list[Part] = []
    thinking = _str(response.get("thinking_trace"))
    if thinking:
        parts.append({"type": "thought", "text": thinking})
    text = response.get("message")
    text = text if isinstance(text, str) else ""
    if text:
        parts.append({"type": "text", "text": text})
    kinds = list(dict.fromkeys(p["type"] for p in parts))
    role = _role(response.get("sender"))
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=role,
        content_type="text" if kinds in ([], ["text"]) else "+".join(kinds),
        parts=parts,
        text=text,
        model=_str(response.get("model")) if role == "assistant" else None,
        created_at=_time(response.get("create_time")),
        hidden=kinds == ["thought"],
    )


def _role(sender: Any) -> str:
    name = str(sender or "unknown").lower()
    return "user" if name in _USER else "assistant" if name in _ASSISTANT else name


# -- small helpers ---------------------------------------------------------------------------------
def _first_time(messages: list[Message]) -> float | None:
    times = [m.created_at for m in messages if m.created_at is not None]
    return min(times) if times else None
