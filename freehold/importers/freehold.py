"""freehold's own JSON export (``freehold export --format json``), read back into an archive.

The point is the round trip: exporting an archive and importing the folder into an empty one
rebuilds the same conversations. So each conversation keeps its *original* source kind and id
(freehold's conversation id is derived from them), its messages come back with their stored
visible-path flags rather than being re-derived, and attachments are re-read from
``attachments/<sha256>`` through ``DirFiles`` (no path is ever built from what a line says: a
hash that is not 64 hex digits, or a file the folder does not hold, is an attachment without
bytes). The format's constants and its lossless JSON helpers live in ``exporters/json.py``, so
the writer and the reader cannot drift apart.

Every raw version comes back: the newest as ``raw``, the earlier ones as ``older_raw`` (each
re-serialised when it was stored as JSON), and ``gone_upstream_at`` is restored. Lines are read
one at a time (capped at 1 GiB); a line that is
not a readable conversation becomes a ``Problem`` and the import goes on.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from freehold.errors import BadExportError
from freehold.exporters.json import (
    CONVERSATIONS,
    FORMAT_NAME,
    MANIFEST,
    VERSION,
    dumps,
    loads,
    read_manifest,
)
from freehold.importers._safezip import DirFiles
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    ExportInfo,
    Message,
    Problem,
    Record,
)
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "freehold"
PARSER_VERSION = "freehold/1"

_SHA = re.compile(r"^[0-9a-f]{64}$")
_MAX_LINE = 1 << 30
_READ = 1 << 20
_BAD_LINE = (ValueError, TypeError, KeyError, ArithmeticError, RecursionError, binascii.Error)


def detect(path: Path) -> bool:
    """True for a folder holding a ``freehold-export.json`` manifest."""
    return path.is_dir() and read_manifest(path) is not None


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then one conversation (or problem) per line."""
    if not path.is_dir():
        raise BadExportError(f"{path}: not a folder — give the folder `freehold export` wrote")
    files = DirFiles(path)
    try:
        yield from _Export(files).records()
    finally:
        files.close()


class _Export:
    """One open export folder: its manifest and the attachments it holds."""

    def __init__(self, files: DirFiles) -> None:
        self.files = files
        names = files.names()
        self.manifest = _manifest(files, names)
        if CONVERSATIONS not in names:
            raise BadExportError(
                f"{files.label}: {CONVERSATIONS} is missing — copy the whole export folder, "
                "or export again"
            )
        self.blobs = {n[len("attachments/") :] for n in names if n.startswith("attachments/")}

    def records(self) -> Iterator[Record]:
        expected = self.manifest.get("conversations")
        complete = self.manifest.get("complete", True) is not False
        yield ExportInfo(
            kind=KIND,
            full_export=False,
            files=[(CONVERSATIONS, self.files.size(CONVERSATIONS))],
            expected_conversations=expected if complete and isinstance(expected, int) else None,
        )
        for name, reason in self.files.rejected:
            yield Problem(f"{self.files.label}/{name}", f"not read: {reason}")
        if not complete:
            yield Problem(MANIFEST, "the export was interrupted; run `freehold export` again")
        count = 0
        for number, line in _lines(self.files.open(CONVERSATIONS)):
            count += 1
            yield self._record(number, line)
        if complete and isinstance(expected, int) and count != expected:
            what = f"{count} conversation line(s) but the manifest says {expected} (truncated?)"
            yield Problem(CONVERSATIONS, what)

    def _record(self, number: int, line: bytes | None) -> Conversation | Problem:
        where = f"{CONVERSATIONS}:{number}"
        if line is None:
            return Problem(where, "line longer than 1 GiB; skipped", skipped=1)
        try:
            return self._conversation(loads(line), line)
        except _BAD_LINE as error:
            what = f"not a readable conversation ({type(error).__name__}: {error})"
            return Problem(where, what, skipped=1)

    def _conversation(self, obj: Any, line: bytes) -> Conversation:
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        messages = [self._message(item) for item in _list(obj, "messages")]
        raws = [_raw(version) for version in _list(obj, "raw")]
        conv = Conversation(
            source_kind=_text(obj, "source_kind"),
            source_id=_text(obj, "source_id"),
            title=_opt(obj, "title", str),
            messages=messages,
            raw=raws[-1] if raws else line.rstrip(b"\r\n"),
            older_raw=raws[:-1],
            gone_upstream_at=_opt(obj, "gone_upstream_at", str),
            created_at=_number(obj.get("created_at")),
            updated_at=_number(obj.get("updated_at")),
            current_leaf=_opt(obj, "current_leaf", str),
            model=_opt(obj, "model", str),
            account_id=_opt(obj, "account_id", str),
            project=_opt(obj, "project", str),
            archived=obj.get("archived") is True,
            starred=obj.get("starred") is True,
            context=[_context(item) for item in _list(obj, "context")],
            problems=[str(item) for item in _list(obj, "problems")],
        )
        _order(conv)
        return conv

    def _message(self, item: Any) -> Message:
        if not isinstance(item, dict):
            raise ValueError("a message is not a JSON object")
        parts = _list(item, "parts")
        if not all(isinstance(part, dict) for part in parts):
            raise ValueError("a message part is not a JSON object")
        meta = item.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError("message meta is not a JSON object")
        return Message(
            source_id=_text(item, "source_id", empty=True),
            parent_source_id=_opt(item, "parent_source_id", str),
            role=_text(item, "role"),
            content_type=_text(item, "content_type"),
            parts=parts,
            text=_opt(item, "text", str) or "",
            author_name=_opt(item, "author_name", str),
            model=_opt(item, "model", str),
            created_at=_number(item.get("created_at")),
            hidden=item.get("hidden") is True,
            status=_opt(item, "status", str) or "complete",
            on_visible_path=item.get("on_visible_path") is True,
            meta=meta,
            attachments=[self._attachment(ref) for ref in _list(item, "attachments")],
        )

    def _attachment(self, item: Any) -> AttachmentRef:
        if not isinstance(item, dict):
            raise ValueError("an attachment is not a JSON object")
        sha = item.get("sha256")
        ref = AttachmentRef(
            pointer=_text(item, "pointer"),
            name=_opt(item, "name", str),
            mime=_opt(item, "mime", str),
            size=_opt(item, "size", int),
        )
        # The archive recomputes the hash from the bytes; the name only finds the file.
        if isinstance(sha, str) and _SHA.match(sha) and sha in self.blobs:
            ref.opener = partial(self.files.open, f"attachments/{sha}")
            ref.sha256 = sha  # keys the import's blob cache; the archive re-hashes the bytes
        return ref


def _manifest(files: DirFiles, names: list[str]) -> dict[str, Any]:
    if MANIFEST not in names:
        raise BadExportError(f"{files.label}: no {MANIFEST} — not a freehold JSON export")
    with files.open(MANIFEST) as handle:
        try:
            manifest = orjson.loads(handle.read())
        except orjson.JSONDecodeError as error:
            raise BadExportError(
                f"{files.label}/{MANIFEST}: not JSON ({error}) — export again"
            ) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BadExportError(f"{files.label}/{MANIFEST}: not a freehold export manifest")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise BadExportError(
            f"{files.label}: export format version {version!r} is newer than this freehold "
            f"reads ({VERSION}) — upgrade freehold"
        )
    return manifest


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Non-blank lines with their numbers; None for a line too long to hold (skipped whole)."""
    with handle:
        number = 0
        while line := handle.readline(_MAX_LINE + 1):
            number += 1
            if len(line) > _MAX_LINE and not line.endswith(b"\n"):
                _skip_rest_of_line(handle)
                yield number, None
            elif line.strip():
                yield number, line


def _skip_rest_of_line(handle: IO[bytes]) -> None:
    while chunk := handle.readline(_READ):
        if chunk.endswith(b"\n"):
            return


def _raw(last: Any) -> bytes:
    """One raw version's bytes."""
    if not isinstance(last, dict):
        raise ValueError("a raw version is not a JSON object")
    encoding = last.get("encoding")
    if encoding == "json":
        return dumps(last.get("value"))
    if encoding == "base64" and isinstance(last.get("value"), str):
        return base64.b64decode(last["value"], validate=True)
    raise ValueError(f"raw version with unknown encoding {encoding!r}")


def _order(conv: Conversation) -> None:
    """Parents must come first and ids be unique; repair (keeping the stored path) if not."""
    seen: set[str] = set()
    for message in conv.messages:
        parent = message.parent_source_id
        if message.source_id in seen or (parent is not None and parent not in seen):
            break
        seen.add(message.source_id)
    else:
        return
    visible = {m.source_id for m in conv.messages if m.on_visible_path}
    tree = build_tree(conv.messages, conv.current_leaf)
    for message in tree.messages:
        message.on_visible_path = message.source_id in visible
    conv.messages = tree.messages
    conv.problems.extend(tree.problems)


def _context(item: Any) -> ContextRecord:
    if not isinstance(item, dict):
        raise ValueError("a context record is not a JSON object")
    data = item.get("data") or {}
    return ContextRecord(
        kind=_text(item, "kind"),
        text=_opt(item, "text", str) or "",
        data=data if isinstance(data, dict) else {"value": data},
        created_at=_number(item.get("created_at")),
        message_source_id=_opt(item, "message_source_id", str),
    )


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is not a list")
    return value


def _text(obj: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not (value or empty):
        raise ValueError(f"no {key!r}")
    return value


def _opt(obj: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = obj.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return None
