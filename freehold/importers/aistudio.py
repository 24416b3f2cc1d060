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
import zipfile
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._common import export_problems
from freehold.importers._common import iso_time as _time
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, open_export
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    ExportInfo,
    Message,
    Part,
    Problem,
    Record,
)
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "aistudio"
PARSER_VERSION = "aistudio/1"

_PEEK = 1 << 20
_LIMIT = 256 << 20
_MARK = b'"chunkedPrompt"'
_OTHERS = (b'"mapping"', b'"chat_messages"')
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


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for an AI Studio prompt file, or a folder or zip holding at least one."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        return any(_is_prompt(files, name) for name in files.names())
    finally:
        files.close()


def _is_prompt(files: ExportFiles, name: str) -> bool:
    """A JSON object that names ``chunkedPrompt`` before any ChatGPT or Claude key."""
    try:
        with files.open(name) as handle:
            head = handle.read(_PEEK)
    except (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile):
        return False
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    at = body.find(_MARK)
    if not body.startswith(b"{") or at < 0:
        return False
    return all(not 0 <= body.find(other) < at for other in _OTHERS)


# -- the export ------------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then one conversation (or problem) per prompt file."""
    files = open_export(path)
    try:
        yield from _records(files)
    finally:
        files.close()


def _records(files: ExportFiles) -> Iterator[Record]:
    names = [name for name in files.names() if _is_prompt(files, name)]
    if not names:
        raise BadExportError(
            f"{files.label}: no AI Studio prompt (a JSON object with chunkedPrompt) found "
            "— is this a Google AI Studio file or its Drive folder?"
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
    if files.size(name) > _LIMIT:
        return _skipped(name, "larger than 256 MiB", "split or check the file")
    try:
        with files.open(name) as handle:
            raw = handle.read()
    except (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        return _skipped(name, f"cannot be read ({error})", "download the export again")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return _skipped(name, f"not valid JSON ({error}; truncated?)", "download the file again")
    if not _has_chunks(value):
        return _skipped(name, "no chunkedPrompt.chunks list", "check it is an AI Studio prompt")
    try:
        return _conversation(value, raw)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        what = f"not a readable prompt ({type(error).__name__}: {error})"
        return _skipped(name, what, "check this file")


def _skipped(name: str, what: str, todo: str) -> Problem:
    return Problem(name, f"{what}; this conversation was skipped — {todo}", skipped=1)


def _has_chunks(value: Any) -> bool:
    prompt = value.get("chunkedPrompt") if isinstance(value, dict) else None
    return isinstance(prompt, dict) and isinstance(prompt.get("chunks"), list)


def _conversation(value: dict[str, Any], raw: bytes) -> Conversation:
    source_id = _str(value.get("id")) or _str(value.get("name")) or hashlib.sha256(raw).hexdigest()
    problems: list[str] = []
    model = _model(value.get("runSettings"))
    created = _time(value.get("createTime"))
    system = _system_text(value.get("systemInstruction"))
    messages = [_system_message(system, created)] if system else []
    chunks = value["chunkedPrompt"]["chunks"]
    messages += _chunk_messages(chunks, source_id, model, messages, problems)
    tree = build_tree(messages, messages[-1].source_id if messages else None)
    context = (
        [ContextRecord("system_instructions", system, {}, created, _SYSTEM_ID)] if system else []
    )
    return Conversation(
        source_kind=KIND,
        source_id=source_id,
        title=_str(value.get("displayName")) or _str(value.get("title")) or _title(messages),
        messages=tree.messages,
        raw=raw,
        created_at=created or _first_time(messages),
        updated_at=_time(value.get("updateTime")),
        current_leaf=tree.leaf,
        model=model,
        context=context,
        problems=problems + tree.problems,
    )


def _model(settings: Any) -> str | None:
    return _str(settings.get("model")) if isinstance(settings, dict) else None


def _system_text(value: Any) -> str | None:
    """``systemInstruction`` as a string, ``{text}`` or ``{parts:[{text}]}``."""
    if isinstance(value, str):
        return value or None
    if not isinstance(value, dict):
        return None
    parts = value.get("parts")
    texts = [p.get("text") for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
    found = [t for t in [value.get("text"), *texts] if isinstance(t, str) and t]
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


def _first_time(messages: list[Message]) -> float | None:
    times = [m.created_at for m in messages if m.created_at is not None]
    return min(times) if times else None


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
    ids: list[str] = []
    for index, chunk in enumerate(chunks):
        given = _str(chunk.get("id")) if isinstance(chunk, dict) else None
        source_id = given if given and given not in seen else f"chunk-{index}"
        if given and given in seen:
            problems.append(f"chunk id {given} appears twice; chunk {index} kept as {source_id}")
        seen.add(source_id)
        ids.append(source_id)
    return ids


def _branch_parent(value: Any) -> str | None:
    if isinstance(value, dict):
        return _str(value.get("id"))
    return _str(value)


def _message(
    chunk: dict[str, Any], source_id: str, pointer: str, model: str | None, problems: list[str]
) -> Message:
    content = _Content(pointer, problems)
    content.chunk(chunk)
    given = str(chunk.get("role") or "unknown")
    role = _ROLES.get(given, given)
    error = "errorMessage" in chunk or chunk.get("finishReason") not in (None, "STOP")
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=role,
        content_type=content.content_type,
        parts=content.parts,
        text="\n\n".join(content.pieces),
        model=model if role == "assistant" else None,
        created_at=_time(chunk.get("createTime")),
        hidden=bool(content.parts) and all(p["type"] == "thought" for p in content.parts),
        status="interrupted" if error else "complete",
        meta={key: chunk[key] for key in _META_KEYS if key in chunk},
        attachments=content.attachments,
    )


class _Content:
    """Parts, searchable text pieces and attachments of one chunk."""

    def __init__(self, pointer: str, problems: list[str]) -> None:
        self.pointer = pointer
        self.problems = problems
        self.parts: list[Part] = []
        self.pieces: list[str] = []
        self.attachments: list[AttachmentRef] = []

    @property
    def content_type(self) -> str:
        kinds = list(dict.fromkeys(p["type"] for p in self.parts))
        return "text" if kinds in ([], ["text"]) else "+".join(kinds)

    def add(self, kind: str, text: str, *, searchable: bool = True, **extra: Any) -> None:
        self.parts.append({"type": kind, "text": text, **{k: v for k, v in extra.items() if v}})
        if searchable and text:
            self.pieces.append(text)

    def chunk(self, chunk: dict[str, Any]) -> None:
        thought = bool(chunk.get("isThought"))
        parts = chunk.get("parts")
        if isinstance(parts, list) and parts:
            for part in parts:
                self.part(part, thought)
        elif isinstance(chunk.get("text"), str) and chunk["text"]:
            self.text(chunk["text"], thought)
        self.extras(chunk)

    def text(self, text: str, thought: bool) -> None:
        self.add("thought" if thought else "text", text, searchable=not thought)

    def part(self, part: Any, thought: bool) -> None:
        """A Gemini API part: ``text`` (``thought``), inline data, code, file data."""
        if not isinstance(part, dict):
            self.parts.append({"type": "unknown", "content_type": "part", "raw": part})
            return
        if isinstance(part.get("text"), str):
            self.text(part["text"], thought or bool(part.get("thought")))
        elif not any(key in part for key in _EXTRAS):
            self.parts.append({"type": "unknown", "content_type": "part", "raw": part})
        self.extras(part)

    def extras(self, item: dict[str, Any]) -> None:
        for key, handler in _EXTRAS.items():
            if isinstance(item.get(key), dict):
                handler(self, item[key])
        if isinstance(item.get("errorMessage"), str):
            self.add("error", item["errorMessage"])

    def inline(self, data: dict[str, Any]) -> None:
        mime = _str(data.get("mimeType"))
        name = _str(data.get("name")) or _str(data.get("displayName"))
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
        drive_id = _str(doc.get("id"))
        name = _str(doc.get("name"))
        pointer = f"gdrive://{drive_id or ''}"
        url = f"https://drive.google.com/file/d/{drive_id}" if drive_id else None
        self.add("file", "", pointer=pointer, name=name, drive_id=drive_id, url=url)
        size = doc.get("sizeBytes")
        number = int(size) if isinstance(size, str | int) and str(size).isdigit() else None
        self.attachments.append(AttachmentRef(pointer, name, _str(doc.get("mimeType")), number))

    def youtube(self, video: dict[str, Any]) -> None:
        video_id = _str(video.get("id"))
        url = _str(video.get("url")) or (
            f"https://www.youtube.com/watch?v={video_id}" if video_id else None
        )
        self.add("web", "", url=url, domain="youtube.com", video_id=video_id)

    def code(self, code: dict[str, Any]) -> None:
        language = str(code.get("language") or "").lower() or "python"
        language = "python" if language == "language_unspecified" else language
        self.parts.append({"type": "code", "language": language, "text": str(code.get("code"))})
        self.pieces.append(str(code.get("code") or ""))

    def result(self, result: dict[str, Any]) -> None:
        self.add("execution_output", str(result.get("output") or ""), outcome=result.get("outcome"))

    def grounding(self, grounding: dict[str, Any]) -> None:
        sources = grounding.get("groundingChunks")
        for number, source in enumerate(sources if isinstance(sources, list) else [], 1):
            self.parts.append({"type": "citation", "marker": f"[{number}]", **_cited(source)})


def _cited(source: Any) -> dict[str, str]:
    """``{web:{uri, title}}`` (or ``retrievedContext``) → ``{url, title}``."""
    found = (
        (source.get("web") or source.get("retrievedContext")) if isinstance(source, dict) else None
    )
    web = found if isinstance(found, dict) else {}
    pairs = {"url": _str(web.get("uri")), "title": _str(web.get("title"))}
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
