"""Grok (x.ai) data exports (FORMATS.md §D.6).

The export is one JSON object ``{conversations:[{conversation:{id?, title, create_time},
responses:[…]}]}``, given as the file itself, or a folder or zip holding it (any member that is
a JSON object naming ``"conversations"``, ``"conversation"`` and ``"responses"``). A response is
either flat ``{sender, message, create_time}`` or wrapped ``{response:{_id, sender, message,
create_time, model, thinking_trace?}}`` as the x.ai download gives it.

When ``conversations`` is the object's first key (as in every export seen), the array is read one
conversation at a time (``jsonstream``) and each keeps the exact bytes of its element as ``raw``;
otherwise the whole file is parsed and ``raw`` is the element re-serialised.

Trees: when any response names ``parent_response_id`` (the x.ai download), each hangs from the
response it names (none, or one not in the conversation: a root) and the newest leaf is the
visible one, so a regenerated answer is a branch beside the kept one; otherwise (the older,
flat shape) each response hangs from the one before it and the last is the leaf. ``sender``
``human``/``user`` → ``user``, ``assistant``/``grok``/``model`` (any case) → ``assistant``.
``thinking_trace`` is a hidden ``thought`` part, left out of the searchable text.
``conversation.starred`` is kept. The files a response names (``file_attachments``,
``image_attachments``, ``generated_image_urls``: ids, names or URLs) are references
(``grok-file://…``) the export holds no bytes for, so the report counts them missing; a
generated image is named by the last segment of its URL's path.

The file's other top-level keys (``projects``, ``media_posts``, ``tasks``…) are kept as a file
of the import under the member's name, its ``conversations`` left out (each conversation keeps
its own raw); the report names the keys not converted. A project's ``custom_personality`` (its
custom instructions) becomes an account-level ``project_instructions`` context record, keyed
``<member>#projects/<workspace_id>``. These shapes come from third-party parsers' tests, not a
real export [unverified].

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
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from freehold.errors import BadExportError
from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import READ_ERRORS, Element, Format, Look, first_time, linear
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import ContextRecord, Conversation, Message, Problem, Record, SourceFile
from freehold.tree import build_tree, unique_ids

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "grok"
PARSER_VERSION = "grok/3"

_WHOLE_LIMIT = 1 << 30
_STEP = 1 << 20
_FIRST_KEY = re.compile(rb'^\s*\{\s*"conversations"\s*:\s*(?=\[)')
_USER = {"human", "user"}
_ASSISTANT = {"assistant", "grok", "model", "bot"}
_FILE_KEYS = ("file_attachments", "image_attachments")
_IMAGE_URLS = "generated_image_urls"
_CONVERTED = {"conversations", "projects"}  # the top-level keys read into records


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
        value = self._load(name)
        items = value.get("conversations") if isinstance(value, dict) else None
        for index, item in enumerate(items if isinstance(items, list) else []):
            yield f"{name}[{index}]", item, orjson.dumps(item), []

    def _load(self, name: str) -> Any:
        with self.export.open(name) as handle:
            return orjson.loads(handle.read())

    def prologue(self, names: list[str]) -> Iterator[Record]:
        """Each file's top-level keys beside ``conversations``, kept and read (projects)."""
        for name in names:
            try:
                value = self._beside(name)
            except (*READ_ERRORS, orjson.JSONDecodeError, JsonStreamError):
                continue  # reading its conversations reports the damage
            if value is None:
                what = "larger than 1 GiB: keys beside its conversations (projects…) not read"
                yield Problem(name, f"{what} — please report this")
                continue
            rest = {key: item for key, item in value.items() if key != "conversations"}
            if rest:
                yield from _rest(name, rest)

    def _beside(self, name: str) -> dict[str, Any] | None:
        """The file's top-level object less its conversations. When they come first (every
        export seen), the array is streamed past in flat memory and the keys after it parsed;
        else the whole file is (None past 1 GiB, as ``_whole`` refuses it)."""
        found = _FIRST_KEY.match(self.export.head(name))
        if found is None:
            if self.export.size(name) > _WHOLE_LIMIT:
                return None
            value = self._load(name)
            return value if isinstance(value, dict) else {}
        with self.export.open(name) as handle:
            _skip(handle.read, found.end())
            end = _array_end(handle)
        with self.export.open(name) as handle:
            _skip(handle.read, found.end() + end)
            after = handle.read().lstrip()
        if not after.startswith(b"]"):
            raise orjson.JSONDecodeError("no end to the conversations", "", 0)
        after = after[1:].lstrip()
        return orjson.loads(b"{" + after[1:]) if after.startswith(b",") else {}

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        head = value.get("conversation")
        if not isinstance(head, dict):
            raise ValueError("no conversation object")
        responses = value.get("responses")
        problems = (
            [] if isinstance(responses, list) else ["no responses list: kept without messages"]
        )
        messages, leaf = _messages(responses if isinstance(responses, list) else [], problems)
        tree = build_tree(messages, leaf)
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
            starred=field.flag(head, "starred"),
            problems=problems + tree.problems,
        )

    def identify(self, value: Any, raw: bytes) -> str | None:
        head = value.get("conversation") if isinstance(value, dict) else None
        return _conversation_id(head) if isinstance(head, dict) else None


FORMAT = _Grok
detect = _Grok.detect
iter_conversations = _Grok.iter_conversations


def _array_end(handle: IO[bytes]) -> int:
    """Where the last element of the array ``handle`` starts with ends, in bytes from its
    ``[`` (just after it when empty): each element's offset counts characters, its raw copy
    is its exact bytes, and what lies between two elements (blanks, a comma) is ASCII."""
    end = chars = 1
    for element in iter_elements(handle):
        raw = element.raw
        end += element.offset - chars + len(raw)
        chars = element.offset + (len(raw) if raw.isascii() else _characters(raw))
    return end


def _characters(raw: bytes) -> int:
    """How many characters ``jsonstream`` counts in ``raw`` (a bad byte is one)."""
    return len(raw.decode("utf-8", "surrogateescape"))


def _skip(read: Any, count: int) -> None:
    """Read past ``count`` bytes, a megabyte at a time."""
    while count > 0:
        got = read(min(count, _STEP))
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


# -- the rest of the file --------------------------------------------------------------------------


def _rest(name: str, rest: dict[str, Any]) -> Iterator[Record]:
    """The file's other keys kept whole, projects' custom instructions as records, and the
    keys nothing converted named."""
    yield SourceFile(name, orjson.dumps(rest))
    for number, project in enumerate(field.array(rest, "projects")):
        yield from _project(name, number, project)
    other = sorted(k for k, v in rest.items() if k not in _CONVERTED and v not in ([], {}, None))
    if other:
        keys = ", ".join(other)
        yield Problem(
            name,
            f"{keys}: kept as a file of the import ({name}, without its conversations), "
            "not converted",
            lost=False,
        )


def _project(name: str, number: int, project: Any) -> Iterator[ContextRecord]:
    key = field.text(project, "workspace_id") or field.text(project, "id") or str(number)
    text = field.text(project, "custom_personality")
    if text:
        data = {"project": key, "name": field.text(project, "name")}
        yield ContextRecord("project_instructions", text, data, None, f"{name}#projects/{key}")


# -- responses -------------------------------------------------------------------------------------


def _messages(responses: list[Any], problems: list[str]) -> tuple[list[Message], str | None]:
    """The messages and the leaf: linked by ``parent_response_id`` when any response names
    one (the leaf is then the newest, ``build_tree``), else in array order."""
    unwrapped = [_unwrap(entry) for entry in responses]
    if not any(isinstance(r, dict) and "parent_response_id" in r for r in unwrapped):
        chain = linear(unwrapped, _built, problems, noun="response", rename=_renamed)
        return chain, chain[-1].source_id if chain else None
    kept = [(r, index) for index, r in enumerate(unwrapped) if isinstance(r, dict)]
    for index, item in enumerate(unwrapped):
        if not isinstance(item, dict):
            problems.append(f"response {index} is not an object; left out — check the export")
    messages = [_built(response, index) for response, index in kept]
    parents = [field.text(response, "parent_response_id") for response, _ in kept]
    unique_ids(messages, problems, "response", lambda at: _renamed(kept[at][1]))
    ids = {m.source_id for m in messages}
    for message, parent in zip(messages, parents, strict=True):
        message.parent_source_id = parent if parent in ids and parent != message.source_id else None
    return messages, None


def _renamed(index: int) -> str:
    """A response whose id an earlier one holds: ``response-<index>``, as before 2026-12-07."""
    return f"response-{index}"


def _built(response: dict[str, Any], index: int) -> Message:
    given = field.text(response, "_id") or field.text(response, "id")
    return _message(response, given or f"response-{index}")


def _unwrap(entry: Any) -> Any:
    inner = entry.get("response") if isinstance(entry, dict) else None
    return inner if isinstance(inner, dict) else entry


def _message(response: dict[str, Any], source_id: str) -> Message:
    content = PartsBuilder()
    if thinking := field.text(response, "thinking_trace"):
        content.add("thought", thinking, searchable=False)
    if text := field.string(response, "message"):
        content.add("text", text, searchable=True)
    for key in _FILE_KEYS:
        content.name_files("grok-file", field.array(response, key), key=key)
    images = [_image(entry) for entry in field.array(response, _IMAGE_URLS)]
    content.name_files("grok-file", images, key=_IMAGE_URLS, ids=("url",))
    role = _role(field.text(response, "sender"))
    return content.message(
        source_id,
        role,
        model=field.text(response, "model") if role == "assistant" else None,
        created_at=field.when(response, "create_time"),
    )


def _image(entry: Any) -> Any:
    """A generated image's URL as a file: the URL its pointer, the last segment of its path
    its name (the whole URL's words, ``https``, ``assets``…, would find every such message)."""
    if not isinstance(entry, str) or not entry.strip():
        return entry
    segment = PurePosixPath(urlsplit(entry.strip()).path).name
    return {"url": entry.strip(), "name": segment or entry.strip()}


def _role(sender: str | None) -> str:
    name = (sender or "unknown").lower()
    return "user" if name in _USER else "assistant" if name in _ASSISTANT else name
