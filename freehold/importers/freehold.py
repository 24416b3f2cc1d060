"""freehold's own JSON export (``freehold export --format json``), read back into an archive.

The point is the round trip: exporting an archive and importing the folder into an empty one
rebuilds the same conversations. So each conversation keeps its *original* source kind and id
(freehold's conversation id is derived from them), its messages come back with their stored
visible-path flags rather than being re-derived, and attachments are re-read from
``attachments/<sha256>`` through ``DirFiles`` (no path is ever built from what a line says: a
hash that is not 64 hex digits, or a file the folder does not hold, is an attachment without
bytes). The format's constants and its lossless JSON helpers live in ``exporters/json.py``, so
the writer and the reader cannot drift apart.

Turns written here (``freehold chat``) keep their ``origin`` and ``generation``: the attempts
and both models come back. Every raw version comes back byte for byte, checked against its
SHA-256 (one that does not match is not kept and is reported lost): the newest as ``raw``, the
earlier ones as ``older_raw``; a conversation exported without any (one started with ``freehold
chat``) gets none (``raw`` empty), and ``gone_upstream_at`` is restored, as is
``source_updated_at`` (a line written before 2026-12-07 lacks it: it is read as migration m014
reads it, ``_skeleton.platform_time``). A version 1 export's ``"json"`` raw form is
re-serialised: equal in value, not in bytes. Lines are read one at a time (capped at 1 GiB); a
line that is not a readable conversation becomes a ``Problem`` and the
import goes on. Each JSON Lines file is hashed as it streams and checked against the SHA-256 the
manifest gives it: a file edited or rotted since the export is said loudly, by name.

What belongs to the account (version 3 on) comes back too: each line of ``account.jsonl`` as an
account ``ContextRecord`` under its key, and each ``source-files/<sha256>`` the manifest lists as a
``SourceFile`` under each of its names (bytes that do not match their hash are not kept and are
reported lost). Two different files under one name (``user.json`` of two accounts) cannot both
keep it in one import: the later ones are kept as ``<name>#<sha256[:12]>``, the rule the archive
follows for account records. Older exports have neither and import as before.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterator
from functools import partial
from typing import IO, Any, ClassVar

import orjson

from freehold._words import plural
from freehold.errors import BadExportError
from freehold.exporters.json import (
    ACCOUNT,
    CONVERSATIONS,
    FORMAT_NAME,
    IMPORT_KIND,
    MANIFEST,
    SOURCE_FILES,
    VERSION,
    loads,
    raw_bytes,
    read_manifest,
)
from freehold.importers import _fields as field
from freehold.importers._common import export_problems
from freehold.importers._skeleton import Claim, Export, Format, platform_time
from freehold.models import (
    AttachmentRef,
    Attempt,
    ContextRecord,
    Conversation,
    Generation,
    Message,
    Part,
    Problem,
    Record,
    SourceFile,
)
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = IMPORT_KIND
PARSER_VERSION = "freehold/2"

_SHA = re.compile(r"^[0-9a-f]{64}$")
_MAX_LINE = 1 << 30
_READ = 1 << 20
_WHOLE = "copy the whole export folder again, or export again"
_BAD_LINE = (ValueError, TypeError, KeyError, ArithmeticError, RecursionError, binascii.Error)


class _Freehold(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "freehold"
    companions: ClassVar[dict[str, str]] = {
        MANIFEST: "the manifest of a freehold JSON export",
        CONVERSATIONS: "the conversations of a freehold JSON export",
    }
    advice = "import the whole folder `freehold export --format json` wrote"
    missing = "not a folder written by `freehold export --format json` — give that folder"
    # Its conversations keep their source's kind, and are converted again by that importer.
    refuses_again = "a freehold export is not converted: its conversations keep their own kind"

    def claim(self) -> Claim:
        """A folder (not a zip) holding a ``freehold-export.json`` manifest: all of it."""
        path = self.export.path
        if self.export.one_file or not path.is_dir() or read_manifest(path) is None:
            return Claim()
        return Claim([CONVERSATIONS], set(self.export.names()))

    def records(self, claim: Claim, *, planned: bool) -> Iterator[Record]:
        names = self.export.names()
        manifest = _manifest(self.export, names)
        if CONVERSATIONS not in names:
            raise BadExportError(
                f"{self.export.label}: {CONVERSATIONS} is missing — copy the whole export folder, "
                "or export again"
            )
        self.blobs = {n[len("attachments/") :] for n in names if n.startswith("attachments/")}
        expected = manifest.get("conversations")
        complete = manifest.get("complete", True) is not False
        info = self.info([CONVERSATIONS])
        info.expected_conversations = expected if complete and isinstance(expected, int) else None
        yield info
        if not planned:
            yield from export_problems(self.export)
        if not complete:
            yield Problem(MANIFEST, "the export was interrupted; run `freehold export` again")
        listed = _attachments(manifest)
        yield from self._listed_files(listed)
        self.first_names = {
            sha: entry["name"]
            for sha, entry in listed.items()
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)
        }
        count = 0
        digest = hashlib.sha256()
        for number, line in _lines(self.export.open(CONVERSATIONS), digest):
            count += 1
            yield from self._record(number, line)
        if complete and isinstance(expected, int) and count != expected:
            lines = plural(count, "conversation line")
            what = f"{lines} but the manifest says {expected} (truncated?)"
            yield Problem(CONVERSATIONS, what)
        yield from _changed(CONVERSATIONS, digest, manifest)
        yield from self._account(manifest, names)

    def _account(self, manifest: dict[str, Any], names: list[str]) -> Iterator[Record]:
        """The account's context records and the files imports kept (version 3 on)."""
        if ACCOUNT in names:
            digest = hashlib.sha256()
            for number, line in _lines(self.export.open(ACCOUNT), digest):
                yield from _account_record(f"{ACCOUNT}:{number}", line)
            yield from _changed(ACCOUNT, digest, manifest)
        taken: set[str] = set()
        for sha, entry in _listed(manifest, SOURCE_FILES).items():
            yield from self._source_file(sha, entry, taken)

    def _source_file(self, sha: str, entry: Any, taken: set[str]) -> Iterator[Record]:
        name = SOURCE_FILES + sha
        names = entry.get("names") if isinstance(entry, dict) else None
        if not _SHA.match(sha) or not isinstance(names, list) or not names:
            yield Problem(f"{MANIFEST}: {name}", "not a kept file freehold listed; skipped")
            return
        if name not in self.export.names():
            yield Problem(name, f"listed in {MANIFEST} but not in the folder; {_WHOLE}")
            return
        with self.export.open(name) as handle:
            raw = handle.read()
        if hashlib.sha256(raw).hexdigest() != sha:
            yield Problem(name, f"does not match its SHA-256 (changed since the export?); {_WHOLE}")
            return
        for given in map(str, names):
            kept = given if given not in taken else f"{given}#{sha[:12]}"
            taken.add(kept)
            yield SourceFile(kept, raw)

    def _listed_files(self, listed: dict[str, Any]) -> Iterator[Problem]:
        """Each attachment the manifest lists that the folder lacks, or holds cut: its bytes are
        lost to this import, so it is said loudly by name, never left to the report's count of
        links without a file (a member refused on opening, a link, is reported already)."""
        rejected = {name for name, _ in self.export.rejected}
        for sha, entry in listed.items():
            name = _ATTACHMENTS + sha
            if name in rejected:
                continue
            expected = entry.get("bytes") if isinstance(entry, dict) else None
            if sha not in self.blobs:
                yield Problem(name, f"listed in {MANIFEST} but not in the folder; {_WHOLE}")
            elif isinstance(expected, int) and (size := self.export.size(name)) != expected:
                yield Problem(name, f"{size:,} bytes but {MANIFEST} says {expected:,}; {_WHOLE}")

    def _record(self, number: int, line: bytes | None) -> Iterator[Record]:
        where = f"{CONVERSATIONS}:{number}"
        if line is None:
            yield Problem(where, "line longer than 1 GiB; skipped", skipped=1)
            return
        try:
            value = loads(line)
        except _BAD_LINE as error:
            yield Problem(
                where, f"not a readable conversation ({type(error).__name__}: {error})", skipped=1
            )
            return
        self.altered: list[str] = []
        yield from self.element(where, value, line, [], todo="export again")
        for sha in self.altered:
            what = f"raw version {sha} does not match its SHA-256 (changed since the export?)"
            yield Problem(where, f"{what}; not kept — {_WHOLE}")

    def convert(self, obj: dict[str, Any], line: bytes) -> Conversation:
        """One line; its messages and raw versions must be readable (they are freehold's own
        writing), every other field is read loosely."""
        messages = [self._message(item, n) for n, item in enumerate(_list(obj, "messages"))]
        raws = self._raws(_list(obj, "raw"))
        conv = Conversation(
            source_kind=_text(obj, "source_kind"),
            source_id=_text(obj, "source_id"),
            title=field.text(obj, "title"),
            messages=[m for m in messages if m is not None],
            raw=raws[-1] if raws else b"",  # none: it arrived as none (``freehold chat``)
            older_raw=raws[:-1],
            gone_upstream_at=field.text(obj, "gone_upstream_at"),
            created_at=field.number(obj, "created_at"),
            updated_at=field.number(obj, "updated_at"),
            # the platform's own, apart from turns written here (absent before 2026-12-07)
            source_updated_at=field.number(obj, "source_updated_at"),
            current_leaf=field.text(obj, "current_leaf"),
            model=field.text(obj, "model"),
            account_id=field.text(obj, "account_id"),
            project=field.text(obj, "project"),
            archived=field.flag(obj, "archived"),
            starred=field.flag(obj, "starred"),
            context=[c for c in map(_context, field.array(obj, "context")) if c is not None],
            problems=[str(item) for item in field.array(obj, "problems")],
            # Its messages are another archive's conversion, by an importer version the
            # export does not say: unknown (stored as NULL), so the source's own importer
            # re-reads them once, and this copy never re-reads what the archive holds.
            parser_version="",
        )
        _order(conv)
        if "source_updated_at" not in obj:
            conv.source_updated_at = _platform_time(conv)
        return conv

    def _raws(self, versions: list[Any]) -> list[bytes]:
        """The raw versions' exact bytes; one that does not match its SHA-256 is left out and
        noted in ``altered``."""
        kept = []
        for version in versions:
            data, sha = raw_bytes(version)
            if sha is not None and hashlib.sha256(data).hexdigest() != sha:
                self.altered.append(sha)
            else:
                kept.append(data)
        return kept

    def _message(self, item: Any, number: int) -> Message | None:
        if not isinstance(item, dict):
            field.odd(f"messages[{number}]", item, "a message object")
            return None
        source_id = item.get("source_id")
        if not isinstance(source_id, str):
            field.odd("source_id", source_id, "a message id")
            source_id = f"message-{number}"
        return Message(
            source_id=source_id,
            parent_source_id=field.text(item, "parent_source_id"),
            role=field.text(item, "role") or "unknown",
            content_type=field.text(item, "content_type") or "unknown",
            parts=[_part(part) for part in field.array(item, "parts")],
            text=field.string(item, "text"),
            author_name=field.text(item, "author_name"),
            model=field.text(item, "model"),
            created_at=field.number(item, "created_at"),
            hidden=field.flag(item, "hidden"),
            status=field.text(item, "status") or "complete",
            on_visible_path=field.flag(item, "on_visible_path"),
            meta=field.mapping(item, "meta"),
            attachments=[
                ref for ref in map(self._attachment, field.array(item, "attachments")) if ref
            ],
            origin=field.text(item, "origin"),
            generation=_generation(item.get("generation")),
        )

    def _attachment(self, item: Any) -> AttachmentRef | None:
        pointer = field.text(item, "pointer")
        if pointer is None:
            field.odd("attachments", item, "an attachment with a pointer")
            return None
        sha = item.get("sha256")
        ref = AttachmentRef(
            pointer=pointer,
            name=field.text(item, "name"),
            mime=field.text(item, "mime"),
            size=field.integer(item, "size"),
        )
        # The archive recomputes the hash from the bytes; the name only finds the file.
        if isinstance(sha, str) and _SHA.match(sha) and sha in self.blobs:
            ref.opener = partial(self.export.open, f"attachments/{sha}")
            ref.sha256 = sha  # keys the import's blob cache; the archive re-hashes the bytes
            ref.first_name = self.first_names.get(sha)
        return ref


FORMAT = _Freehold
detect = _Freehold.detect
iter_conversations = _Freehold.iter_conversations


def _manifest(files: Export, names: list[str]) -> dict[str, Any]:
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


_ATTACHMENTS = "attachments/"


def _attachments(manifest: dict[str, Any]) -> dict[str, Any]:
    """The attachments the manifest lists, by hash: each entry as it came (``bytes``, the
    ``name`` the file was first stored under)."""
    return _listed(manifest, _ATTACHMENTS)


def _listed(manifest: dict[str, Any], folder: str) -> dict[str, Any]:
    """The files the manifest lists in ``folder``, by the rest of their name."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return {}
    cut = len(folder)
    return {name[cut:]: entry for name, entry in listed.items() if name.startswith(folder)}


def _changed(name: str, digest: Any, manifest: dict[str, Any]) -> Iterator[Problem]:
    """A problem when the file ``name`` read (``digest``) is not what the export wrote."""
    files = manifest.get("files")
    entry = files.get(name) if isinstance(files, dict) else None
    sha = entry.get("sha256") if isinstance(entry, dict) else None
    if isinstance(sha, str) and digest.hexdigest() != sha:
        what = f"changed since the export: its SHA-256 is not the one {MANIFEST} gives"
        yield Problem(name, f"{what}; what it holds now was imported — {_WHOLE}")


def _account_record(where: str, line: bytes | None) -> Iterator[Record]:
    try:
        record = _context(loads(line)) if line is not None else None
    except _BAD_LINE:
        record = None
    if record is None:
        yield Problem(where, "not a readable context record; skipped")
    else:
        yield record


def _lines(handle: IO[bytes], digest: Any) -> Iterator[tuple[int, bytes | None]]:
    """Non-blank lines with their numbers; None for a line too long to hold (skipped whole).
    Every byte read goes into ``digest``."""
    with handle:
        number = 0
        while line := handle.readline(_MAX_LINE + 1):
            digest.update(line)
            number += 1
            if len(line) > _MAX_LINE and not line.endswith(b"\n"):
                _skip_rest_of_line(handle, digest)
                yield number, None
            elif line.strip():
                yield number, line


def _skip_rest_of_line(handle: IO[bytes], digest: Any) -> None:
    while chunk := handle.readline(_READ):
        digest.update(chunk)
        if chunk.endswith(b"\n"):
            return


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


def _platform_time(conv: Conversation) -> float | None:
    """The platform's own update time of a line written before an export said it (version 2,
    2026-12-07): ``updated_at`` unless a turn written there moved it on, else read again from
    its newest raw version as migration m014 reads a stored one (``platform_time``)."""
    imported = [m.created_at for m in conv.messages if not m.origin]
    if len(imported) == len(conv.messages):
        return conv.updated_at
    return platform_time(conv.raw, max((t for t in imported if t is not None), default=None))


def _generation(item: Any) -> Generation | None:
    """How an answer written here was got (``exporters/json.py``), or None."""
    if item is None:
        return None
    if not isinstance(item, dict):
        field.odd("generation", item, "a generation object")
        return None
    return Generation(
        provider=field.text(item, "provider"),
        requested_model=field.text(item, "requested_model"),
        served_model=field.text(item, "served_model"),
        target=field.text(item, "target"),
        finish_reason=field.text(item, "finish_reason"),
        tokens_in=field.integer(item, "tokens_in"),
        tokens_out=field.integer(item, "tokens_out"),
        attempts=[a for a in map(_attempt, field.array(item, "attempts")) if a is not None],
        warnings=[str(w) for w in field.array(item, "warnings")],
    )


def _attempt(item: Any) -> Attempt | None:
    provider, model = field.text(item, "provider"), field.text(item, "model")
    if provider is None or model is None:
        field.odd("attempts", item, "an attempt with a provider and a model")
        return None
    return Attempt(
        provider=provider,
        model=model,
        outcome=field.text(item, "outcome") or "error",
        error=field.text(item, "error"),
        fault=field.text(item, "fault"),
        ms=field.integer(item, "ms") or 0,
        tokens_in=field.integer(item, "tokens_in"),
        tokens_out=field.integer(item, "tokens_out"),
        served_model=field.text(item, "served_model"),
        started_at=field.number(item, "started_at"),
        waited_ms=field.integer(item, "waited_ms") or 0,
    )


def _context(item: Any) -> ContextRecord | None:
    kind = field.text(item, "kind")
    if kind is None:
        field.odd("context", item, "a context record with a kind")
        return None
    data = item.get("data") or {}
    return ContextRecord(
        kind=kind,
        text=field.string(item, "text"),
        data=data if isinstance(data, dict) else {"value": data},
        created_at=field.number(item, "created_at"),
        message_source_id=field.text(item, "message_source_id"),
    )


def _part(part: Any) -> Part:
    """A stored part; anything but an object is kept whole as an ``unknown`` part."""
    if isinstance(part, dict) and isinstance(part.get("type"), str):
        return part
    field.odd("parts", part, "a part object with a type")
    return {"type": "unknown", "content_type": type(part).__name__, "raw": part}


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    """One of the lists a line must hold as freehold wrote it."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is not a list")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"no {key!r}")
    return value
