"""ChatGPT message content → freehold parts, searchable text, attachments and context records.

One small function per ``content_type`` (FORMATS.md §A.5); an unknown type is stored whole as an
``unknown`` part, its strings still made searchable, and named in the import report. Citation
markers, the 2023–24 ``【12†source】`` kind and the 2025+ private-use ``\\ue200…\\ue201`` kind,
stay in the parts as written and become ``citation`` parts resolved from the message metadata
where possible; they are removed from the searchable text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from freehold.models import AttachmentRef, ContextRecord, Part

__all__ = ["KNOWN_TYPES", "Content", "convert_content", "strip_citations"]

_OLD_CITE = re.compile(r"【[^】\n]{0,120}】")
_NEW_CITE = re.compile("\ue200[^\ue201]{0,2000}\ue201")
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


def strip_citations(text: str, replacements: dict[str, str] | None = None) -> str:
    """Searchable text: citation markers removed (or replaced by their visible words)."""
    if "【" in text:
        text = _OLD_CITE.sub("", text)
    if "\ue200" in text:
        table = replacements or {}
        text = _NEW_CITE.sub(lambda m: table.get(m.group(), ""), text)
    return text


def _citations(text: str, metadata: dict[str, Any]) -> tuple[list[Part], dict[str, str]]:
    """Citation parts for the markers in ``text``, resolved from the metadata where possible."""
    parts: list[Part] = []
    visible: dict[str, str] = {}
    refs = {
        ref.get("matched_text"): ref
        for ref in metadata.get("content_references") or []
        if isinstance(ref, dict) and ref.get("matched_text")
    }
    for match in _NEW_CITE.finditer(text):
        ref = refs.get(match.group(), {})
        items = ref.get("items") or [{}]
        first = items[0] if isinstance(items[0], dict) else {}
        parts.append(
            {
                "type": "citation",
                "marker": match.group(),
                "url": first.get("url"),
                "title": first.get("title"),
            }
        )
        if isinstance(ref.get("alt"), str) and ref.get("type") != "grouped_webpages":
            visible[match.group()] = ref["alt"]
    by_offset, by_number = _old_sources(metadata)
    for match in _OLD_CITE.finditer(text):
        number = match.group()[1:].split("†")[0].split(":")[0]
        source = by_offset.get(match.start()) or by_number.get(number, {})
        parts.append(
            {
                "type": "citation",
                "marker": match.group(),
                "url": source.get("url"),
                "title": source.get("title"),
            }
        )
    return parts, visible


def _old_sources(
    metadata: dict[str, Any],
) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
    """2023–24 citation sources: by the marker's offset (``citations[].start_ix``), the exact
    link, and by the marker's number into ``_cite_metadata.metadata_list``, a fallback."""
    by_offset: dict[int, dict[str, Any]] = {}
    for item in metadata.get("citations") or []:
        if (
            isinstance(item, dict)
            and isinstance(item.get("metadata"), dict)
            and isinstance(item.get("start_ix"), int)
        ):
            by_offset[item["start_ix"]] = item["metadata"]
    cite = metadata.get("_cite_metadata") or {}
    by_number = {
        str(index): item
        for index, item in enumerate(cite.get("metadata_list") or [])
        if isinstance(item, dict)
    }
    return by_offset, by_number


def _text(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    for part in content.get("parts") or []:
        if isinstance(part, str):
            _add_cited_text(part, out, metadata)
        else:
            _multimodal_object(part, out)


def _add_cited_text(text: str, out: Content, metadata: dict[str, Any]) -> None:
    if "【" in text or "\ue200" in text:
        cites, visible = _citations(text, metadata)
        out.parts.append({"type": "text", "text": text})
        out.text_pieces.append(strip_citations(text, visible))
        out.parts.extend(cites)
    else:
        out.add_text("text", text)


def _multimodal_object(part: Any, out: Content) -> None:
    if not isinstance(part, dict):
        out.parts.append({"type": "unknown", "content_type": type(part).__name__, "raw": part})
        return
    kind = part.get("content_type")
    if kind == "image_asset_pointer":
        pointer = str(part.get("asset_pointer") or "")
        out.parts.append(
            {
                "type": "image",
                "pointer": pointer,
                "width": part.get("width"),
                "height": part.get("height"),
                "generated": bool((part.get("metadata") or {}).get("dalle")),
            }
        )
        out.attachments.append(AttachmentRef(pointer=pointer, size=part.get("size_bytes")))
    elif kind == "audio_transcription":
        out.add_text("transcript", str(part.get("text") or ""))
    elif kind in ("audio_asset_pointer", "real_time_user_audio_video_asset_pointer"):
        _audio(part, out)
    else:
        out.parts.append({"type": "unknown", "content_type": str(kind), "raw": part})
        out.known = False


def _audio(part: dict[str, Any], out: Content) -> None:
    nested = part.get("audio_asset_pointer")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else part
    pointer = str(inner.get("asset_pointer") or "")
    out.parts.append({"type": "audio", "pointer": pointer, "format": inner.get("format")})
    if pointer:
        out.attachments.append(AttachmentRef(pointer=pointer, size=inner.get("size_bytes")))


def _code(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("code", str(content.get("text") or ""), language=content.get("language"))


def _execution_output(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("execution_output", str(content.get("text") or ""))
    result = metadata.get("aggregate_result") or {}
    for item in result.get("messages") or []:
        if isinstance(item, dict) and item.get("message_type") == "image" and item.get("image_url"):
            pointer = str(item["image_url"])
            out.parts.append({"type": "image", "pointer": pointer, "generated": True})
            out.attachments.append(AttachmentRef(pointer=pointer))


def _web(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    text = content.get("text") if "text" in content else content.get("result")
    out.parts.append(
        {
            "type": "web",
            "url": content.get("url"),
            "title": content.get("title"),
            "domain": content.get("domain"),
            "text": str(text or ""),
            "summary": content.get("summary"),
            "snippet": content.get("snippet"),
        }
    )
    out.text_pieces.append(strip_citations(str(text or "")))


def _system_error(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("error", str(content.get("text") or ""), name=content.get("name"))


def _user_context(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    data = metadata.get("user_context_message_data") or {}
    about_user = data.get("about_user_message") or content.get("user_profile") or ""
    about_model = data.get("about_model_message") or content.get("user_instructions") or ""
    out.parts.append({"type": "context", "about_user": about_user, "about_model": about_model})
    text = "\n\n".join(t for t in (about_user, about_model) if t)
    out.text_pieces.append(text)
    out.context.append(
        ContextRecord(
            "custom_instructions", text, {"about_user": about_user, "about_model": about_model}
        )
    )


def _model_context(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    text = str(content.get("model_set_context") or content.get("text") or "")
    out.parts.append({"type": "context", "memory": text, "raw": content})
    out.text_pieces.append(text)
    out.context.append(ContextRecord("memory_snapshot", text, dict(content)))


def _thoughts(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    for thought in content.get("thoughts") or []:
        if isinstance(thought, dict):
            out.add_text(
                "thought", str(thought.get("content") or ""), summary=thought.get("summary")
            )


def _recap(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    out.add_text("thought", str(content.get("content") or ""), summary="recap")


def _system_content(content: dict[str, Any], out: Content, metadata: dict[str, Any]) -> None:
    fields = {k: v for k, v in content.items() if k != "content_type"}
    out.parts.append({"type": "context", **fields})
    out.text_pieces.append(str(content.get("instructions") or ""))


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
        out.known = False
        out.parts.append({"type": "unknown", "content_type": None, "raw": content})
        return "missing", out
    kind = str(content.get("content_type") or "missing")
    _CONVERTERS.get(kind, _unknown)(content, out, metadata)
    out.hidden = kind in _HIDDEN_TYPES
    if kind != "user_editable_context" and metadata.get("user_context_message_data"):
        _legacy_instructions(metadata["user_context_message_data"], out)
    for attachment in metadata.get("attachments") or []:
        if isinstance(attachment, dict) and attachment.get("id"):
            _declared_attachment(attachment, out)
    return kind, out


def _legacy_instructions(data: Any, out: Content) -> None:
    """Late-2023 custom instructions: raw values on a system message's metadata."""
    if not isinstance(data, dict):
        return
    about_user = str(data.get("about_user_message") or "")
    about_model = str(data.get("about_model_message") or "")
    text = "\n\n".join(t for t in (about_user, about_model) if t)
    if text:
        fields = {"about_user": about_user, "about_model": about_model}
        out.context.append(ContextRecord("custom_instructions", text, fields))


def _declared_attachment(attachment: dict[str, Any], out: Content) -> None:
    """Files named in ``metadata.attachments`` (uploads); images may already be pointed at."""
    file_id = str(attachment["id"])
    for ref in out.attachments:
        if ref.pointer.rsplit("/", 1)[-1] == file_id:
            ref.name = ref.name or attachment.get("name")
            ref.mime = ref.mime or attachment.get("mime_type")
            return
    out.attachments.append(
        AttachmentRef(
            pointer=f"file-service://{file_id}",
            name=attachment.get("name"),
            mime=attachment.get("mime_type"),
            size=attachment.get("size"),
        )
    )
    out.parts.append(
        {"type": "file", "pointer": f"file-service://{file_id}", "name": attachment.get("name")}
    )
