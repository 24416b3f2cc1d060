"""The value types an importer hands over, enforced once, for every importer.

``ingest`` passes every ``Conversation`` through ``conform`` before it is prepared for storage,
whatever importer made it (a third-party plugin included). A field of the wrong type — an
attachment name that is an object, a model that is a number, a time that is NaN — is set to
nothing and noted on the conversation, so an odd value costs itself, never the conversation and
never the import (a value SQLite cannot bind used to abort the whole import half-way). Only a
conversation without a usable id is refused (``ValueError``): it cannot be stored or found.

Built-in importers read through ``_fields`` and should never trip this; it is the guarantee
at the boundary, not the reader. The notes go to ``Conversation.problems`` (reported, not
counted as lost): the odd value itself is still in the raw JSON.
"""

from __future__ import annotations

import math
from typing import Any

from freehold.importers._fields import describe
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message

__all__ = ["conform"]

_LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z: a later time cannot be shown as a date
_OPTIONAL_TEXT = ("title", "current_leaf", "model", "account_id", "project", "gone_upstream_at")
_PART_TEXT = ("pointer", "name", "url", "title", "domain", "summary", "language", "marker")
_PART_STRINGS = frozenset(("text", *_PART_TEXT))


class _Notes:
    def __init__(self, conv: Conversation) -> None:
        self.conv = conv

    def odd(self, where: str, value: Any, wanted: str) -> None:
        what = f"{where}: {describe(value)} where {wanted} was expected; not used"
        self.conv.problems.append(what + " (the raw JSON keeps it)")


def conform(conv: Conversation) -> Conversation:
    """``conv`` with every field of its declared type (fixed in place); raises ``ValueError``
    when its source kind or id is not a non-empty string."""
    for key in ("source_kind", "source_id"):
        if not isinstance(getattr(conv, key), str) or not getattr(conv, key):
            raise ValueError(f"no usable {key} ({describe(getattr(conv, key))})")
    if not isinstance(conv.problems, list):
        conv.problems = []
    conv.problems = [p if isinstance(p, str) else describe(p) for p in conv.problems]
    notes = _Notes(conv)
    for key in _OPTIONAL_TEXT:
        setattr(conv, key, _text(notes, key, getattr(conv, key)))
    conv.created_at = _time(notes, "created_at", conv.created_at)
    conv.updated_at = _time(notes, "updated_at", conv.updated_at)
    conv.archived = _flag(notes, "archived", conv.archived)
    conv.starred = _flag(notes, "starred", conv.starred)
    conv.messages = _messages(notes, conv.messages)
    conv.context = [c for c in _items(notes, "context", conv.context) if _context(notes, c)]
    return conv


def _messages(notes: _Notes, messages: Any) -> list[Message]:
    kept: list[Message] = []
    for number, message in enumerate(_items(notes, "messages", messages)):
        if not isinstance(message, Message):
            notes.odd(f"messages[{number}]", message, "a message")
            continue
        if not _clean(message):
            if not isinstance(message.source_id, str):
                notes.odd(f"messages[{number}].source_id", message.source_id, "an id")
                message.source_id = f"message-{number}"
            _message(notes, message, f"message {message.source_id}")
        kept.append(message)
    return kept


def _clean(m: Message) -> bool:
    """Every field of ``m`` already of its type: the common case, checked in one pass (the
    field-by-field repair below is several times slower)."""
    when = m.created_at
    if not (
        type(m.source_id) is str
        and type(m.role) is str
        and type(m.content_type) is str
        and type(m.text) is str
        and type(m.status) is str
        and type(m.hidden) is bool
        and type(m.on_visible_path) is bool
        and type(m.meta) is dict
        and (m.parent_source_id is None or type(m.parent_source_id) is str)
        and (m.author_name is None or type(m.author_name) is str)
        and (m.model is None or type(m.model) is str)
        and (when is None or (type(when) is float and -_LATEST <= when <= _LATEST))
        and type(m.parts) is list
        and type(m.attachments) is list
    ):
        return False
    for part in m.parts:
        if type(part) is not dict or type(part.get("type")) is not str:
            return False
        for key, value in part.items():
            if type(value) is not str and value is not None and key in _PART_STRINGS:
                return False
    return not m.attachments or all(map(_clean_ref, m.attachments))


def _clean_ref(ref: Any) -> bool:
    return (
        type(ref) is AttachmentRef
        and type(ref.pointer) is str
        and (ref.name is None or type(ref.name) is str)
        and (ref.mime is None or type(ref.mime) is str)
        and (ref.size is None or type(ref.size) is int)
        and (ref.sha256 is None or type(ref.sha256) is str)
    )


def _message(notes: _Notes, message: Message, where: str) -> None:
    message.parent_source_id = _text(notes, f"{where}: parent", message.parent_source_id)
    message.role = _text(notes, f"{where}: role", message.role) or "unknown"
    message.content_type = _text(notes, f"{where}: content_type", message.content_type) or "text"
    message.text = _text(notes, f"{where}: text", message.text) or ""
    message.author_name = _text(notes, f"{where}: author_name", message.author_name)
    message.model = _text(notes, f"{where}: model", message.model)
    message.status = _text(notes, f"{where}: status", message.status) or "complete"
    message.created_at = _time(notes, f"{where}: created_at", message.created_at)
    message.hidden = _flag(notes, f"{where}: hidden", message.hidden)
    message.on_visible_path = _flag(notes, f"{where}: on_visible_path", message.on_visible_path)
    if not isinstance(message.meta, dict):
        notes.odd(f"{where}: meta", message.meta, "an object")
        message.meta = {}
    message.parts = [_part(notes, where, part) for part in _items(notes, where, message.parts)]
    refs = _items(notes, f"{where}: attachments", message.attachments)
    message.attachments = [ref for ref in refs if _attachment(notes, where, ref)]


def _part(notes: _Notes, where: str, part: Any) -> dict[str, Any]:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        notes.odd(f"{where}: part", part, "a part with a type")
        return {"type": "unknown", "content_type": type(part).__name__, "raw": part}
    for key in ("text", *_PART_TEXT):
        value = part.get(key)
        if value is not None and not isinstance(value, str):
            notes.odd(f"{where}: part {key}", value, "text")
            part[key] = "" if key == "text" else None
    return part


def _attachment(notes: _Notes, where: str, ref: Any) -> bool:
    if not isinstance(ref, AttachmentRef) or not isinstance(ref.pointer, str):
        notes.odd(f"{where}: attachment", ref, "an attachment with a pointer")
        return False
    ref.name = _text(notes, f"{where}: attachment name", ref.name)
    ref.mime = _text(notes, f"{where}: attachment mime type", ref.mime)
    if ref.size is not None and (isinstance(ref.size, bool) or not isinstance(ref.size, int)):
        notes.odd(f"{where}: attachment size", ref.size, "a whole number")
        ref.size = None
    if ref.sha256 is not None and not isinstance(ref.sha256, str):
        ref.sha256 = None
    return True


def _context(notes: _Notes, record: Any) -> bool:
    if not isinstance(record, ContextRecord) or not isinstance(record.kind, str):
        notes.odd("context", record, "a context record")
        return False
    record.text = _text(notes, f"context {record.kind}: text", record.text) or ""
    record.created_at = _time(notes, f"context {record.kind}: created_at", record.created_at)
    record.message_source_id = _text(notes, "context: message", record.message_source_id)
    if not isinstance(record.data, dict):
        record.data = {"value": record.data}
    return True


def _items(notes: _Notes, where: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    notes.odd(where, value, "a list")
    return []


def _text(notes: _Notes, where: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    notes.odd(where, value, "text")
    return None


def _time(notes: _Notes, where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            found = float(value)
        except OverflowError:
            found = math.inf
        if math.isfinite(found) and abs(found) <= _LATEST:
            return found
    notes.odd(where, value, "a time")
    return None


def _flag(notes: _Notes, where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    notes.odd(where, value, "true or false")
    return bool(value) if isinstance(value, int | float | str) else False
