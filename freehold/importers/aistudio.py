"""Google AI Studio prompts as saved to Drive (FORMATS.md §C, "Related Gemini sources").

AI Studio saves each chat as one JSON object in the Drive folder "Google AI Studio":
``{displayName?, createTime?, runSettings?, systemInstruction?, chunkedPrompt:{chunks:[…]}}``.
Accepts one such file, a folder of them or a zip of them (a Drive download or a Takeout); every
member whose first bytes are a JSON object naming ``"chunkedPrompt"`` is a prompt, whatever its
file name (Drive saves them without an extension), and becomes one conversation. Other members
are left alone (the import report names files nothing read). ``raw`` is the file's exact bytes.

Identity: the file's ``id`` (or ``name``) field when it has one; otherwise the SHA-256 of its
bytes, so a prompt saved again after more turns arrives as a new conversation, not an update —
Drive files carry no id of their own inside them.

Chunks become messages (``model`` → ``assistant``). A chunk's ``parts`` are preferred to its flat
``text`` when present (they keep thought and answer apart). ``isThought`` (or a part's
``thought``) gives a hidden ``thought`` part, left out of the searchable text; a thought-only
message is hidden. ``executableCode`` → ``code``, ``codeExecutionResult`` → ``execution_output``,
``grounding.groundingChunks`` → ``citation`` parts, ``errorMessage`` → an ``error`` part and the
status ``interrupted``. ``inlineFile`` is an ``image`` (or ``file``) part plus an attachment whose
opener decodes the base64 in memory, so the archive stores the real bytes; ``driveDocument`` and
``youtubeVideo`` keep their ids and links (a Drive document's bytes are not in the file, so its
attachment is reported missing). ``systemInstruction`` becomes a ``system_instructions`` context
record and a hidden ``system`` message at the root.

Tree: a chunk hangs from the chunk its ``branchParent.id`` names when that chunk is in the same
file (an edited answer and its replacement are then siblings); otherwise from the chunk before
it. ``branchChildren`` is kept in the message's meta only: ``branchParent`` is the authority,
and in real files both may name other prompts (branches saved as separate files). The last chunk
is the current leaf; ``tree.build_tree`` repairs the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from functools import partial
from typing import Any

from freehold.importers import _fields as field
from freehold.importers._common import PartsBuilder
from freehold.importers._skeleton import Format, Look, first_time
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message
from freehold.tree import build_tree, unique_names

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "aistudio"
PARSER_VERSION = "aistudio/3"

_ROLES = {"user": "user", "model": "assistant", "assistant": "assistant", "system": "system"}
_SYSTEM_ID = "system-instruction"
_META_KEYS = (
    "tokenCount",
    "finishReason",
    "isEdited",
    "safetyRatings",
    "branchParent",
    "branchChildren",
    "errorMessage",
    "thinkingBudget",
)


class _AIStudio(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "Google AI Studio"
    # ``chunkedPrompt`` may follow a long system instruction: look further than usual.
    look = Look(
        opens="{", keys=("chunkedPrompt",), not_before=("mapping", "chat_messages"), size=1 << 20
    )
    shape = "file"
    invalid = "no chunkedPrompt.chunks list"
    missing = (
        "no AI Studio prompt (a JSON object with chunkedPrompt) found "
        "— is this a Google AI Studio file or its Drive folder?"
    )

    def valid(self, value: Any) -> bool:
        prompt = value.get("chunkedPrompt") if isinstance(value, dict) else None
        return isinstance(prompt, dict) and isinstance(prompt.get("chunks"), list)

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        source_id = self.identify(value, raw)
        problems: list[str] = []
        model = field.text(field.mapping(value, "runSettings"), "model")
        created = field.when(value, "createTime")
        system = _system_text(value.get("systemInstruction"))
        messages = [_system_message(system, created)] if system else []
        chunks = value["chunkedPrompt"]["chunks"]
        messages += _chunk_messages(chunks, source_id, model, messages, problems)
        tree = build_tree(messages, messages[-1].source_id if messages else None)
        context = (
            [ContextRecord("system_instructions", system, {}, created, _SYSTEM_ID)]
            if system
            else []
        )
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=field.text(value, "displayName")
            or field.text(value, "title")
            or _title(messages),
            messages=tree.messages,
            raw=raw,
            created_at=field.known(created, first_time(messages)),
            updated_at=field.when(value, "updateTime"),
            current_leaf=tree.leaf,
            model=model,
            context=context,
            problems=problems + tree.problems,
        )

    def identify(self, value: Any, raw: bytes) -> str:
        """The file's ``id`` (or ``name``); else the hash of its bytes (Drive files carry no id
        of their own inside them)."""
        given = field.text(value, "id") or field.text(value, "name")
        return given or hashlib.sha256(raw).hexdigest()


FORMAT = _AIStudio
detect = _AIStudio.detect
iter_conversations = _AIStudio.iter_conversations


def _system_text(value: Any) -> str | None:
    """``systemInstruction`` as a string, ``{text}`` or ``{parts:[{text}]}``."""
    if isinstance(value, str):
        return value or None
    if not isinstance(value, dict):
        if value is not None:
            field.odd("systemInstruction", value, "text or an object")
        return None
    texts = [field.text(p, "text") for p in field.array(value, "parts") if isinstance(p, dict)]
    found = [t for t in [field.text(value, "text"), *texts] if t]
    return "\n\n".join(found) or None


def _system_message(text: str, created: float | None) -> Message:
    return Message(
        source_id=_SYSTEM_ID,
        parent_source_id=None,
        role="system",
        content_type="text",
        parts=[{"type": "text", "text": text}],
        text=text,
        created_at=created,
        hidden=True,
    )


def _title(messages: list[Message]) -> str | None:
    first = next((m.text for m in messages if m.role == "user" and m.text), None)
    return first.strip().splitlines()[0][:80] if first and first.strip() else None


# -- chunks ----------------------------------------------------------------------------------------


def _chunk_messages(
    chunks: list[Any], conv_id: str, model: str | None, before: list[Message], problems: list[str]
) -> list[Message]:
    """One message per chunk, linked by ``branchParent`` or array order."""
    messages: list[Message] = []
    seen = {m.source_id for m in before}
    previous = before[-1].source_id if before else None
    ids = _chunk_ids(chunks, seen, problems)
    for index, chunk in enumerate(chunks):
        if not isinstance(chunk, dict):
            problems.append(f"chunk {index} is not an object; kept as an unknown part")
            chunk = {"role": "unknown", "unknownChunk": chunk}
        source_id = ids[index]
        message = _message(chunk, source_id, f"{conv_id}/{source_id}", model, problems)
        branch = _branch_parent(chunk.get("branchParent"))
        message.parent_source_id = branch if branch in ids and branch != source_id else previous
        messages.append(message)
        previous = source_id
    return messages


def _chunk_ids(chunks: list[Any], seen: set[str], problems: list[str]) -> list[str]:
    """Each chunk's ``id`` (else ``chunk-<index>``), one given twice made unique by the rule
    of every importer (``tree.unique_names``) under the name it had before: ``chunk-<index>``."""
    given = [field.text(c, "id") or f"chunk-{index}" for index, c in enumerate(chunks)]
    return unique_names(given, problems, "chunk", seen, rename=lambda index: f"chunk-{index}")


def _branch_parent(value: Any) -> str | None:
    if isinstance(value, dict):
        return field.text(value, "id")
    if isinstance(value, str) and value:
        return value
    if value is not None:
        field.odd("branchParent", value, "an object or an id")
    return None


def _message(
    chunk: dict[str, Any], source_id: str, pointer: str, model: str | None, problems: list[str]
) -> Message:
    content = _Content(pointer, problems)
    content.chunk(chunk)
    given = field.text(chunk, "role") or "unknown"
    role = _ROLES.get(given, given)
    error = "errorMessage" in chunk or chunk.get("finishReason") not in (None, "STOP")
    return content.message(
        source_id,
        role,
        model=model if role == "assistant" else None,
        created_at=field.when(chunk, "createTime"),
        status="interrupted" if error else "complete",
        meta={key: chunk[key] for key in _META_KEYS if key in chunk},
    )


class _Content(PartsBuilder):
    """Parts, searchable text pieces and attachments of one chunk."""

    def __init__(self, pointer: str, problems: list[str]) -> None:
        super().__init__()
        self.pointer = pointer
        self.problems = problems

    def add(self, kind: str, text: str, *, searchable: bool = True, **extra: Any) -> None:
        super().add(kind, text, searchable=searchable, **{k: v for k, v in extra.items() if v})

    def chunk(self, chunk: dict[str, Any]) -> None:
        thought = field.flag(chunk, "isThought")
        parts = field.array(chunk, "parts")
        if parts:
            for part in parts:
                self.part(part, thought)
        elif text := field.text(chunk, "text"):
            self.text_part(text, thought)
        self.extras(chunk)

    def text_part(self, text: str, thought: bool) -> None:
        self.add("thought" if thought else "text", text, searchable=not thought)

    def part(self, part: Any, thought: bool) -> None:
        """A Gemini API part: ``text`` (``thought``), inline data, code, file data."""
        if not isinstance(part, dict):
            field.odd("parts", part, "an object")
            self.parts.append({"type": "unknown", "content_type": "part", "raw": part})
            return
        if isinstance(part.get("text"), str):
            self.text_part(part["text"], thought or field.flag(part, "thought"))
        elif part.get("text") is not None:
            field.odd("text", part["text"], "text")
            self.parts.append({"type": "unknown", "content_type": "part", "raw": part})
        elif not any(key in part for key in _EXTRAS):
            self.parts.append({"type": "unknown", "content_type": "part", "raw": part})
        self.extras(part)

    def extras(self, item: dict[str, Any]) -> None:
        for key, handler in _EXTRAS.items():
            found = item.get(key)
            if isinstance(found, dict):
                handler(self, found)
            elif found is not None:
                field.odd(key, found, "an object")
        if message := field.text(item, "errorMessage"):
            self.add("error", message)

    def inline(self, data: dict[str, Any]) -> None:
        mime = field.text(data, "mimeType")
        name = field.text(data, "name") or field.text(data, "displayName")
        pointer = f"aistudio-inline://{self.pointer}/{len(self.attachments)}"
        kind = "image" if (mime or "").startswith("image/") else "file"
        self.parts.append({"type": kind, "pointer": pointer, **({"name": name} if name else {})})
        if kind == "file":
            self.parts[-1]["text"] = ""
        decoded = _decode(data.get("data"))
        if decoded is None:
            self.problems.append(f"{pointer}: inline data is not base64; its bytes were not kept")
        opener = partial(io.BytesIO, decoded) if decoded is not None else None
        size = len(decoded) if decoded is not None else None
        self.attachments.append(AttachmentRef(pointer, name, mime, size, opener))

    def drive(self, doc: dict[str, Any]) -> None:
        drive_id = field.text(doc, "id")
        name = field.text(doc, "name")
        pointer = f"gdrive://{drive_id or ''}"
        url = f"https://drive.google.com/file/d/{drive_id}" if drive_id else None
        self.add("file", "", pointer=pointer, name=name, drive_id=drive_id, url=url)
        size = field.integer(doc, "sizeBytes")
        self.attachments.append(AttachmentRef(pointer, name, field.text(doc, "mimeType"), size))

    def youtube(self, video: dict[str, Any]) -> None:
        video_id = field.text(video, "id")
        url = field.text(video, "url") or (
            f"https://www.youtube.com/watch?v={video_id}" if video_id else None
        )
        self.add("web", "", url=url, domain="youtube.com", video_id=video_id)

    def code(self, code: dict[str, Any]) -> None:
        language = field.string(code, "language").lower() or "python"
        language = "python" if language == "language_unspecified" else language
        text = field.string(code, "code")
        self.parts.append({"type": "code", "language": language, "text": text})
        self.pieces.append(text)

    def result(self, result: dict[str, Any]) -> None:
        outcome = field.text(result, "outcome")
        self.add("execution_output", field.string(result, "output"), outcome=outcome)

    def grounding(self, grounding: dict[str, Any]) -> None:
        sources = field.array(grounding, "groundingChunks")
        for number, source in enumerate(sources, 1):
            if not isinstance(source, dict):
                field.odd("groundingChunks", source, "an object")
            self.parts.append({"type": "citation", "marker": f"[{number}]", **_cited(source)})


def _cited(source: Any) -> dict[str, str]:
    """``{web:{uri, title}}`` (or ``retrievedContext``) → ``{url, title}``."""
    web = field.mapping(source, "web") or field.mapping(source, "retrievedContext")
    pairs = {"url": field.text(web, "uri"), "title": field.text(web, "title")}
    return {key: value for key, value in pairs.items() if value}


_EXTRAS = {
    "inlineFile": _Content.inline,
    "inlineData": _Content.inline,
    "inlineImage": _Content.inline,
    "driveDocument": _Content.drive,
    "driveImage": _Content.drive,
    "youtubeVideo": _Content.youtube,
    "executableCode": _Content.code,
    "codeExecutionResult": _Content.result,
    "grounding": _Content.grounding,
}


# -- small helpers ---------------------------------------------------------------------------------


def _decode(data: Any) -> bytes | None:
    """Standard or URL-safe base64, whitespace ignored; None when it is neither."""
    if not isinstance(data, str):
        return None
    text = "".join(data.split())
    altchars = b"-_" if "-" in text or "_" in text else None
    try:
        return base64.b64decode(text.encode("ascii"), altchars=altchars, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
