"""Pieces every importer shares: a message's parts as they are built, and what opening an
export lost.

``PartsBuilder`` collects a message's parts, its searchable text, its attachments and the kinds
of content it held; ``block`` sends typed blocks (``{"type": "text", …}``) to the importer's
``handlers`` and keeps anything else whole as an ``unknown`` part, which the report names.
The field readers are in ``_fields``; the importer skeleton in ``_skeleton``.

Files a message names, one rule for every importer (``PartsBuilder.name_files``): each file a
message names, as a bare name or an object, becomes an ``AttachmentRef`` (``<scheme>://<id>`` where
the source keeps files by id, else ``<scheme>://<name>``; once per pointer), so that the report's
found and missing counts are true. Its ``opener`` is
what the importer's ``locate`` finds for the name (Mistral's ``chat-<uuid>-files/<name>``);
without one the file is reported missing, which it is. An entry that names no file is noted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, ClassVar

from freehold.importers import _fields as field
from freehold.importers._fields import describe
from freehold.importers._fields import note as field_note
from freehold.importers._safezip import ExportFiles
from freehold.models import AttachmentRef, Message, Part, Problem

__all__ = ["NAME_KEYS", "Opener", "PartsBuilder", "export_problems"]

# The keys under which the exports name an uploaded file, tried in order.
NAME_KEYS = ("name", "filename", "file_name", "fileName", "title", "id", "file_id", "fileId")
_MIME_KEYS = ("type", "mime", "mimeType", "mime_type", "file_type", "content_type")
_SIZE_KEYS = ("size", "bytes", "file_size", "sizeBytes")
Opener = Callable[[], IO[bytes]]


def export_problems(files: ExportFiles) -> Iterator[Problem]:
    """What opening the export already lost: a cut zip, refused members."""
    if files.truncated:
        yield Problem(files.label, files.truncated)
    for name, reason in files.rejected:
        yield Problem(f"{files.label}/{name}", f"member not read: {reason}")


class PartsBuilder:
    """A message's parts, its searchable text pieces, attachments and the kinds it held.

    Importers subclass it with their own content readers; ``content_type`` is ``text`` for a
    plain message, else the kinds in order (``thinking+text``; the source's block types when
    they were noted in ``types``, else the parts' types), so the report names unknowns.
    """

    handlers: ClassVar[Mapping[str, Callable[[Any, dict[str, Any]], None]]] = {}

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.pieces: list[str] = []
        self.attachments: list[AttachmentRef] = []
        self.types: list[str] = []

    def add(self, kind: str, text: str, *, searchable: bool, **extra: Any) -> None:
        self.parts.append({"type": kind, "text": text, **extra})
        if searchable and text:
            self.pieces.append(text)

    @property
    def text(self) -> str:
        return "\n\n".join(self.pieces)

    @property
    def content_type(self) -> str:
        kinds = list(dict.fromkeys(self.types or [part["type"] for part in self.parts]))
        return "text" if kinds in ([], ["text"]) else "+".join(kinds)

    @property
    def only_thoughts(self) -> bool:
        return bool(self.parts) and all(p["type"] == "thought" for p in self.parts)

    def message(self, source_id: str, role: str, **extra: Any) -> Message:
        """The message these parts make; one holding only thoughts is hidden."""
        return Message(
            source_id=source_id,
            parent_source_id=None,
            role=role,
            content_type=self.content_type,
            parts=self.parts,
            text=self.text,
            hidden=self.only_thoughts,
            attachments=self.attachments,
            **extra,
        )

    def block(self, block: Any, key: str = "content") -> None:
        """One typed block (``{"type": …}``) through ``handlers``; anything else is kept whole
        as an ``unknown`` part, named in the report by its type (``key`` names the list)."""
        given = block.get("type") if isinstance(block, dict) else None
        kind = str(given) if isinstance(block, dict) else type(block).__name__
        self.types.append(kind)
        handler = self.handlers.get(kind)
        if not isinstance(block, dict):
            field_note(f"{key}: {describe(block)} where an object was expected")
        elif given is not None and not isinstance(given, str):
            field_note(f"type: {describe(given)} where text was expected")
        if handler is None or not isinstance(block, dict):
            self.parts.append({"type": "unknown", "content_type": kind, "raw": block})
            return
        handler(self, block)

    # -- files the message names -----------------------------------------------------------------

    def refer(
        self,
        pointer: str,
        name: str | None = None,
        mime: str | None = None,
        size: int | None = None,
        opener: Opener | None = None,
    ) -> AttachmentRef:
        """The message's reference to one file, once per pointer (the first one wins)."""
        for ref in self.attachments:
            if ref.pointer == pointer:
                return ref
        ref = AttachmentRef(pointer, name=name, mime=mime, size=size, opener=opener)
        self.attachments.append(ref)
        return ref

    def name_files(
        self,
        scheme: str,
        entries: Iterable[Any],
        locate: Callable[[str], Opener | None] | None = None,
        *,
        key: str = "files",
        ids: tuple[str, ...] = (),
    ) -> list[AttachmentRef]:
        """A reference for each file ``entries`` name (a string, or an object naming it under
        one of ``NAME_KEYS``), its pointer the first of ``ids`` it has (the source's own file
        id: two uploads may share a name), else its name; ``locate`` gives the bytes' opener
        where the export holds them."""
        refs: list[AttachmentRef] = []
        for entry in entries:
            name = _named(entry)
            ident = _first(entry, ids, field.text) or name
            if name is None or ident is None:
                field_note(f"{key}: {describe(entry)} names no file; left in the raw JSON")
                continue
            mime = _first(entry, _MIME_KEYS, field.text)
            mime = mime if mime and "/" in mime else None  # ``type: "image"`` is no MIME type
            size = _first(entry, _SIZE_KEYS, field.integer)
            opener = locate(name) if locate is not None else None
            refs.append(self.refer(f"{scheme}://{ident}", name, mime, size, opener))
        return refs


def _named(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry.strip() or None
    return _first(entry, NAME_KEYS, field.text) if isinstance(entry, dict) else None


def _first(entry: Any, keys: tuple[str, ...], read: Callable[[Any, str], Any]) -> Any:
    if not isinstance(entry, dict):
        return None
    for key in keys:
        if key in entry:
            found = read(entry, key)
            if found is not None:
                return found
    return None
