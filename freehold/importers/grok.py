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
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from freehold.errors import BadExportError
from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import Element, Format, Look, first_time, linear
from freehold.jsonstream import iter_elements
from freehold.models import Conversation, Message
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "grok"
PARSER_VERSION = "grok/2"

_WHOLE_LIMIT = 1 << 30
_FIRST_KEY = re.compile(rb'^\s*\{\s*"conversations"\s*:\s*(?=\[)')
_USER = {"human", "user"}
_ASSISTANT = {"assistant", "grok", "model", "bot"}


class _Grok(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "Grok"
    look = Look(opens="{", keys=("conversations", "conversation", "responses"))
    missing = (
        "no Grok export (a JSON object with conversations[].responses) found "
        "— is this the file from x.ai's data download?"
    )

    def elements(self, name: str) -> Iterator[Element]:
        """Streamed when ``conversations`` comes first, else the whole file is parsed."""
        found = _FIRST_KEY.match(self.export.head(name))
        if found is None:
            yield from self._whole(name)
            return
        with self.export.open(name) as handle:
            _skip(handle.read, found.end())
            for element in iter_elements(handle):
                yield f"{name}[{element.index}]", element.value, element.raw, element.problems

    def _whole(self, name: str) -> Iterator[Element]:
        if self.export.size(name) > _WHOLE_LIMIT:
            raise BadExportError("larger than 1 GiB with conversations not first; not read")
        with self.export.open(name) as handle:
            value = orjson.loads(handle.read())
        items = value.get("conversations") if isinstance(value, dict) else None
        for index, item in enumerate(items if isinstance(items, list) else []):
            yield f"{name}[{index}]", item, orjson.dumps(item), []

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        head = value.get("conversation")
        if not isinstance(head, dict):
            raise ValueError("no conversation object")
        responses = value.get("responses")
        problems = (
            [] if isinstance(responses, list) else ["no responses list: kept without messages"]
        )
        messages = _messages(responses if isinstance(responses, list) else [], problems)
        tree = build_tree(messages, messages[-1].source_id if messages else None)
        models = [m.model for m in messages if m.model]
        return Conversation(
            source_kind=KIND,
            source_id=_conversation_id(head),
            title=field.text(head, "title"),
            messages=tree.messages,
            raw=raw,
            created_at=field.known(field.when(head, "create_time"), first_time(messages)),
            updated_at=field.when(head, "modify_time"),
            current_leaf=tree.leaf,
            model=models[-1] if models else None,
            problems=problems + tree.problems,
        )

    def identify(self, value: Any, raw: bytes) -> str | None:
        head = value.get("conversation") if isinstance(value, dict) else None
        return _conversation_id(head) if isinstance(head, dict) else None


FORMAT = _Grok
detect = _Grok.detect
iter_conversations = _Grok.iter_conversations


def _skip(read: Any, count: int) -> None:
    while count > 0:
        got = read(count)
        if not got:
            return
        count -= len(got)


def _conversation_id(head: dict[str, Any]) -> str:
    """``id`` (or ``conversation_id``); else a hash of the creation time and title, which stay
    put when a conversation grows between exports (the raw bytes would not)."""
    given = field.text(head, "id") or field.text(head, "conversation_id")
    if given:
        return given
    pair = [head.get("create_time"), head.get("title")]
    try:
        key = orjson.dumps(pair)
    except TypeError:  # an integer orjson cannot write; any stable spelling will do
        key = json.dumps(pair).encode()
    return "grok-" + hashlib.sha256(key).hexdigest()[:32]


# -- responses -------------------------------------------------------------------------------------


def _messages(responses: list[Any], problems: list[str]) -> list[Message]:
    seen: set[str] = set()
    unwrapped = [_unwrap(entry) for entry in responses]

    def build(response: dict[str, Any], index: int) -> Message:
        return _message(response, _response_id(response, index, seen, problems))

    return linear(unwrapped, build, problems, noun="response")


def _unwrap(entry: Any) -> Any:
    inner = entry.get("response") if isinstance(entry, dict) else None
    return inner if isinstance(inner, dict) else entry


def _response_id(response: dict[str, Any], index: int, seen: set[str], problems: list[str]) -> str:
    given = field.text(response, "_id") or field.text(response, "id")
    source_id = given if given and given not in seen else f"response-{index}"
    if given and given in seen:
        problems.append(f"response id {given} appears twice; response {index} kept as {source_id}")
    seen.add(source_id)
    return source_id


def _message(response: dict[str, Any], source_id: str) -> Message:
    content = PartsBuilder()
    if thinking := field.text(response, "thinking_trace"):
        content.add("thought", thinking, searchable=False)
    if text := field.string(response, "message"):
        content.add("text", text, searchable=True)
    role = _role(field.text(response, "sender"))
    return content.message(
        source_id,
        role,
        model=field.text(response, "model") if role == "assistant" else None,
        created_at=field.when(response, "create_time"),
    )


def _role(sender: str | None) -> str:
    name = (sender or "unknown").lower()
    return "user" if name in _USER else "assistant" if name in _ASSISTANT else name
