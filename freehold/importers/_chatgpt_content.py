"""ChatGPT message content → freehold parts, searchable text, attachments and context records.

One small function per ``content_type`` (FORMATS.md §A.5); an unknown type is stored whole as an
``unknown`` part, its strings still made searchable, and named in the import report. Citation
markers, the 2023–24 ``【12†source】`` kind and the 2025+ private-use ``\\ue200…\\ue201`` kind,
stay in the parts as written and become ``citation`` parts resolved from the message metadata
where possible; the searchable text is the text as readers show it
(``models.without_citation_marks``: citations out, an entity marker's label in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freehold.importers import _fields as field
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Part,
    citation_marks,
    without_citation_marks,
)

__all__ = ["KNOWN_TYPES", "Content", "convert_content"]

_HIDDEN_TYPES = {
    "thoughts",
    "reasoning_recap",
    "user_editable_context",
    "model_editable_context",
    "system_content",
}


class Content:
    """The result of converting one message's content."""

    __slots__ = ("attachments", "context", "hidden", "known", "parts", "text_pieces")

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.text_pieces: list[str] = []
        self.attachments: list[AttachmentRef] = []
        self.context: list[ContextRecord] = []
        self.hidden = False
        self.known = True

    def add_text(self, kind: str, text: str, **extra: Any) -> None:
        self.parts.append({"type": kind, "text": text, **extra})
        if text:
            self.text_pieces.append(text)

    @property
    def text(self) -> str:
        return "\n\n".join(self.text_pieces)


def _citations(text: str, metadata: dict[str, Any]) -> list[Part]:
    """Citation parts for the markers in ``text``, in order, resolved from the metadata where
    possible; an entity marker is no citation (readers show its label)."""
    parts: list[Part] = []
    refs = {
        matched: ref
        for ref in field.array(metadata, "content_references")
        if (matched := field.text(ref, "matched_text"))
    }
    by_offset, by_number = _old_sources(metadata)
    for match, kind in citation_marks(text):
        marker = match.group()
        if kind == "entity":
            continue
        if kind is None:  # 2023–24
            number = marker[1:].split("†")[0].split(":")[0]
            source = by_offset.get(match.start()) or by_number.get(number, {})
        else:
            items = field.array(refs.get(marker, {}), "items")
            source = items[0] if items else {}
        parts.append(_citation(marker, source))
    return parts


def _citation(marker: str, source: Any) -> Part:
    url, title = field.text(source, "url"), field.text(source, "title")
    return {"type": "citation", "marker": marker, "url": url, "title": title}


def _old_sources(
    metadata: dict[str, Any],
) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
    """2023–24 citation sources: by the marker's offset (``citations[].start_ix``), the exact
    link, and by the marker's number into ``_cite_metadata.metadata_list``, a fallback."""
    by_offset: dict[int, dict[str, Any]] = {}
    for item in field.array(metadata, "citations"):
        start = field.integer(item, "start_ix")
        if start is not None and isinstance(item.get("metadata"), dict):
            by_offset[start] = item["metadata"]
    cite = field.mapping(metadata, "_cite_metadata")
    listed = field.array(cite, "metadata_list")
    by_number = {str(index): item for index, item in enumerate(listed) if isinstance(item, dict)}
    return by_offset, by_number


def _text(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    for part in field.array(content, "parts"):
        if part.__class__ is str and "【" not in part and "\ue200" not in part:
            out.parts.append({"type": "text", "text": part})  # add_text, inline: most parts
            if part:
                out.text_pieces.append(part)
        elif isinstance(part, str):
            _add_cited_text(part, out, metadata)
        else:
            _multimodal_object(part, out)


def _add_cited_text(text: str, out: Content, metadata: dict[str, Any]) -> None:
    """A text with markers: kept as written, searchable as readers show it."""
    out.parts.append({"type": "text", "text": text})
    shown = without_citation_marks(text)
    if shown:
        out.text_pieces.append(shown)
    out.parts.extend(_citations(text, metadata))


def _multimodal_object(part: Any, out: Content) -> None:
    if not isinstance(part, dict):
        field.odd("parts", part, "text or an object")
        out.parts.append({"type": "unknown", "content_type": type(part).__name__, "raw": part})
        return
    kind = field.text(part, "content_type")
    if kind == "image_asset_pointer":
        pointer = field.string(part, "asset_pointer")
        out.parts.append(
            {
                "type": "image",
                "pointer": pointer,
                "width": field.integer(part, "width"),
                "height": field.integer(part, "height"),
                "generated": bool(field.mapping(part, "metadata").get("dalle")),
            }
        )
        size = field.integer(part, "size_bytes")
        out.attachments.append(AttachmentRef(pointer=pointer, size=size))
    elif kind == "audio_transcription":
        out.add_text("transcript", field.string(part, "text"))
    elif kind in ("audio_asset_pointer", "real_time_user_audio_video_asset_pointer"):
        _audio(part, out)
    else:
        out.parts.append({"type": "unknown", "content_type": str(kind), "raw": part})
        out.known = False


def _audio(part: dict[str, Any], out: Content) -> None:
    nested = part.get("audio_asset_pointer")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else part
    pointer = field.string(inner, "asset_pointer")
    out.parts.append({"type": "audio", "pointer": pointer, "format": field.text(inner, "format")})
    if pointer:
        size = field.integer(inner, "size_bytes")
        out.attachments.append(AttachmentRef(pointer=pointer, size=size))
    if field.text(part, "content_type") == "real_time_user_audio_video_asset_pointer":
        _video(part, out)


def _video(part: dict[str, Any], out: Content) -> None:
    """A voice-mode call with the camera on: the frames sent to the model (``image`` parts,
    ``frame``) and the recorded video (a ``file`` part, ``video``), each a pointer or an
    ``image_asset_pointer`` object."""
    for frame in field.array(part, "frames_asset_pointers"):
        if pointer := _pointer(frame, "frames_asset_pointers"):
            out.parts.append({"type": "image", "pointer": pointer, "frame": True})
            size = field.integer(frame, "size_bytes") if isinstance(frame, dict) else None
            out.attachments.append(AttachmentRef(pointer=pointer, size=size))
    container = part.get("video_container_asset_pointer")
    if pointer := _pointer(container, "video_container_asset_pointer"):
        out.parts.append({"type": "file", "pointer": pointer, "name": None, "video": True})
        out.attachments.append(AttachmentRef(pointer=pointer))


def _pointer(value: Any, where: str) -> str | None:
    """An asset pointer given as a string or as an object holding ``asset_pointer``."""
    if isinstance(value, dict):
        return field.text(value, "asset_pointer")
    if value is None or isinstance(value, str):
        return value or None
    field.odd(where, value, "an asset pointer")
    return None


def _code(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("code", field.string(content, "text"), language=field.text(content, "language"))


def _execution_output(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("execution_output", field.string(content, "text"))
    result = field.mapping(metadata, "aggregate_result")
    for item in field.array(result, "messages"):
        pointer = field.text(item, "image_url") if item.get("message_type") == "image" else None
        if pointer:
            out.parts.append({"type": "image", "pointer": pointer, "generated": True})
            out.attachments.append(AttachmentRef(pointer=pointer))


def _web(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    text = field.string(content, "text" if "text" in content else "result")
    out.parts.append(
        {
            "type": "web",
            "url": field.text(content, "url"),
            "title": field.text(content, "title"),
            "domain": field.text(content, "domain"),
            "text": text,
            "summary": field.text(content, "summary"),
            "snippet": field.text(content, "snippet"),
        }
    )
    out.text_pieces.append(without_citation_marks(text))


def _system_error(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("error", field.string(content, "text"), name=field.text(content, "name"))


def _user_context(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    data = field.mapping(metadata, "user_context_message_data")
    about_user = field.text(data, "about_user_message") or field.string(content, "user_profile")
    about_model = field.text(data, "about_model_message") or field.string(
        content, "user_instructions"
    )
    out.parts.append({"type": "context", "about_user": about_user, "about_model": about_model})
    text = "\n\n".join(t for t in (about_user, about_model) if t)
    out.text_pieces.append(text)
    out.context.append(
        ContextRecord(
            "custom_instructions", text, {"about_user": about_user, "about_model": about_model}
        )
    )


def _model_context(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    text = field.text(content, "model_set_context") or field.string(content, "text")
    out.parts.append({"type": "context", "memory": text, "raw": content})
    out.text_pieces.append(text)
    out.context.append(ContextRecord("memory_snapshot", text, dict(content)))


def _thoughts(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    for thought in field.array(content, "thoughts"):
        if isinstance(thought, dict):
            text = field.string(thought, "content")
            out.add_text("thought", text, summary=field.text(thought, "summary"))
        else:
            field.odd("thoughts", thought, "an object")


def _recap(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("thought", field.string(content, "content"), summary="recap")


def _system_content(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    fields = {k: v for k, v in content.items() if k != "content_type"}
    out.parts.append({"type": "context", **fields})
    out.text_pieces.append(field.string(content, "instructions"))


def _unknown(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.known = False
    out.parts.append(
        {"type": "unknown", "content_type": content.get("content_type"), "raw": content}
    )
    out.text_pieces.extend(_strings(content))


def _strings(value: Any) -> list[str]:
    """Best-effort searchable text from an unknown shape: its text-like string fields."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and key in ("text", "content", "result", "title"):
                found.append(item)
            elif isinstance(item, (dict, list)):
                found.extend(_strings(item))
    elif isinstance(value, list):
        for item in value:
            found.extend([item] if isinstance(item, str) else _strings(item))
    return found


Converter = Callable[[dict[str, Any], Content, dict[str, Any]], None]
_CONVERTERS: dict[str, Converter] = {
    "text": _text,
    "multimodal_text": _text,
    "code": _code,
    "execution_output": _execution_output,
    "tether_browsing_display": _web,
    "tether_quote": _web,
    "sonic_webpage": _web,
    "system_error": _system_error,
    "user_editable_context": _user_context,
    "model_editable_context": _model_context,
    "thoughts": _thoughts,
    "reasoning_recap": _recap,
    "system_content": _system_content,
}
KNOWN_TYPES = frozenset(_CONVERTERS)


def convert_content(content: Any, metadata: dict[str, Any]) -> tuple[str, Content]:
    """Convert a message's ``content``; returns its content type and the result."""
    out = Content()
    if not isinstance(content, dict):
        if content is not None:
            field.odd("content", content, "an object")
        out.known = False
        out.parts.append({"type": "unknown", "content_type": None, "raw": content})
        return "missing", out
    kind = field.text(content, "content_type") or "missing"
    _CONVERTERS.get(kind, _unknown)(content, out, metadata)
    out.hidden = kind in _HIDDEN_TYPES
    if kind != "user_editable_context" and metadata.get("user_context_message_data"):
        _legacy_instructions(metadata["user_context_message_data"], out)
    if metadata.get("attachments") is not None:
        for attachment in field.array(metadata, "attachments"):
            if file_id := field.text(attachment, "id"):
                _declared_attachment(file_id, attachment, out)
    return kind, out


def _legacy_instructions(data: Any, out: Content) -> None:
    """Late-2023 custom instructions: raw values on a system message's metadata. The message
    carries them as a ``context`` part, as the 2025 ``user_editable_context`` form does, so
    every reader shows them with it (``Conversation.own_context``), and they are searchable."""
    if not isinstance(data, dict):
        return
    about_user = field.string(data, "about_user_message")
    about_model = field.string(data, "about_model_message")
    text = "\n\n".join(t for t in (about_user, about_model) if t)
    if text:
        fields = {"about_user": about_user, "about_model": about_model}
        out.parts.append({"type": "context", **fields})
        out.text_pieces.append(text)
        out.context.append(ContextRecord("custom_instructions", text, fields))


def _declared_attachment(file_id: str, attachment: dict[str, Any], out: Content) -> None:
    """Files named in ``metadata.attachments`` (uploads); images may already be pointed at."""
    name, mime = field.text(attachment, "name"), field.text(attachment, "mime_type")
    for ref in out.attachments:
        if ref.pointer.rsplit("/", 1)[-1] == file_id:
            ref.name = ref.name or name
            ref.mime = ref.mime or mime
            return
    pointer = f"file-service://{file_id}"
    size = field.integer(attachment, "size")
    out.attachments.append(AttachmentRef(pointer=pointer, name=name, mime=mime, size=size))
    out.parts.append({"type": "file", "pointer": pointer, "name": name})
