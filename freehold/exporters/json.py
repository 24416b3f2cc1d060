"""freehold's own export format: lossless, documented, readable without freehold.

Layout of the output folder::

    freehold-export.json   manifest: format, version, exported_at, counts, files (written last)
    conversations.jsonl    one conversation per line, every field, every branch, every raw version
    account.jsonl          the account's context records, one per line (version 3)
    attachments/<sha256>   attachment bytes, once each, named by their content hash
    source-files/<sha256>  the files imports kept whole, once each by hash (version 3)

Why JSON Lines: a whole archive exports and re-imports in flat memory, one conversation at a time,
and each line is a complete JSON document that jq, pandas or a ten-line script can read. A line is
``conversation_to_json(conv)`` plus ``"raw"``: the raw versions the conversation arrived as, oldest
first, each ``{"sha256", "encoding", "value"}``. ``sha256`` names the original bytes and ``value``
gives those very bytes back: ``encoding`` is ``"utf-8"`` (``value`` is the text itself, a JSON
string) when they are valid UTF-8, else ``"base64"``. Raw is never parsed here: parsing would merge
duplicate keys, round huge numbers and refuse ``1e400`` — the bytes must come back with the same
SHA-256 whatever they hold. (Version 1 exports wrote ``"json"``, the parsed value; the reader still
takes it, equal in value though not in bytes.) An attachment is ``{"pointer", "name", "mime",
"sniffed_mime", "size", "sha256"}``, its bytes in ``attachments/<sha256>`` when the archive has
them; the manifest lists each file with its ``bytes`` and the ``name`` the archive first stored it
under (a file linked under several names keeps that one through a round trip). Timestamps stay epoch
seconds as stored; message ``id``/``parent_id`` are this archive's row numbers, the tree itself is
given by the source ids. A message written here (``freehold chat``) has ``"origin": "local"`` and,
for an answer, ``"generation"``: the provider, ``requested_model``, ``served_model``, the route or
model named (``target``), finish reason, tokens, warnings and every ``attempts`` entry (provider,
model, outcome, fault, error, ms, waited_ms, tokens_in, tokens_out, served_model, started_at); both
are null otherwise.

What belongs to the account rather than to one conversation goes with the conversations it
serves, since they may lean on it: ``account.jsonl`` holds the context records of no conversation
(Claude's memory, project instructions and documents), each ``_context_json`` with its importer's
key as ``message_source_id``; ``source-files/<sha256>`` holds the bytes of each file an import kept
whole (``user.json``, feedback, the raw text of a skipped element, ``skipped/…``), and its manifest
entry its ``names``. A whole-archive export writes them all. A narrower one (``--source``,
``--id``…) writes the kept files of the imports of its conversations' platforms and accounts
(``sources.kind``/``account_id``: a Grok conversation never carries ChatGPT's ``user.json``)
and those of every import of a freehold export (``IMPORT_KIND``: which platform they came from
is not recorded), and the records that name an account or a project of its conversations
(``data.account``, ``data.project``) or none that any conversation here names (Grok's project
instructions: whose they are cannot be told, so they are carried). When in doubt, carry it.
``write_summary`` counts records and files apart, and the CLI's line says so (``+ 3 account
records, 2 kept files``). Every file the manifest lists has its ``bytes``; the JSON Lines files
their ``sha256`` too, which the importer checks while it reads.

Every branch is always written, so ``all_branches`` is accepted for the common exporter signature
and ignored. The manifest is written first with ``"complete": false`` and replaced at the end, so
an interrupted export is recognisable and can simply be run again into the same folder (stale
attachments are removed then); any other non-empty folder is refused, never overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from freehold import __version__, storage
from freehold._words import plural
from freehold.archive import Archive, conversation_id
from freehold.errors import FreeholdError
from freehold.exporters import _folder
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message

__all__ = [
    "ACCOUNT",
    "CONVERSATIONS",
    "FORMAT",
    "FORMAT_NAME",
    "IMPORT_KIND",
    "MANIFEST",
    "SOURCE_FILES",
    "VERSION",
    "Summary",
    "context_json",
    "conversation_record",
    "conversation_to_json",
    "dumps",
    "loads",
    "raw_bytes",
    "read_manifest",
    "write",
    "write_summary",
]

FORMAT = "json"
FORMAT_NAME = "freehold-export"
IMPORT_KIND = "freehold"  # ``sources.kind`` of an import of this format (importers/freehold.py)
VERSION = 3
MANIFEST = "freehold-export.json"
CONVERSATIONS = "conversations.jsonl"
ACCOUNT = "account.jsonl"
SOURCE_FILES = "source-files/"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ANY_NAME = re.compile("")
_BIG_NUMBER = re.compile(rb"\d{19}")
_MANIFEST_LIMIT = 256 << 20


def loads(data: bytes) -> Any:
    """Strict JSON → value without loss (orjson turns integers past 64 bits into floats)."""
    if _BIG_NUMBER.search(data):
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    return orjson.loads(data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; the stdlib takes over where orjson refuses (huge ints, surrogates)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson writes a non-finite float as null; so must the fallback, never refuse it.
        return json.dumps(_finite(value), ensure_ascii=True, allow_nan=False).encode()


def _finite(value: Any) -> Any:
    """``value`` with every infinite or NaN float replaced by None, as orjson writes them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def conversation_to_json(conv: Conversation) -> dict[str, Any]:
    """Every field of a conversation and its messages, JSON-ready (no raw versions)."""
    return {
        "id": conv.id or conversation_id(conv.source_kind, conv.source_id),
        "source_kind": conv.source_kind,
        "source_id": conv.source_id,
        "title": conv.title,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "source_updated_at": conv.source_updated_at,
        "current_leaf": conv.current_leaf,
        "model": conv.model,
        "account_id": conv.account_id,
        "project": conv.project,
        "archived": conv.archived,
        "starred": conv.starred,
        "gone_upstream_at": conv.gone_upstream_at,
        "problems": list(conv.problems),
        "context": [context_json(record) for record in conv.context],
        "messages": [_message_json(message) for message in conv.messages],
    }


def conversation_record(archive: Archive, conv: Conversation) -> dict[str, Any]:
    """One line of ``conversations.jsonl``: the conversation and its raw versions."""
    record = conversation_to_json(conv)
    record["raw"] = [_raw_json(data) for data in archive.raw_versions(record["id"])]
    return record


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "source_id": message.source_id,
        "parent_source_id": message.parent_source_id,
        "role": message.role,
        "author_name": message.author_name,
        "model": message.model,
        "created_at": message.created_at,
        "content_type": message.content_type,
        "parts": message.parts,
        "text": message.text,
        "hidden": message.hidden,
        "on_visible_path": message.on_visible_path,
        "status": message.status,
        "meta": message.meta,
        "attachments": [_attachment_json(ref) for ref in message.attachments],
        "origin": message.origin,
        "generation": asdict(message.generation) if message.generation else None,
    }


def _attachment_json(ref: AttachmentRef) -> dict[str, Any]:
    return {
        "pointer": ref.pointer,
        "name": ref.name,
        "mime": ref.mime,
        "sniffed_mime": ref.sniffed_mime,
        "size": ref.size,
        "sha256": ref.sha256,
    }


def context_json(record: ContextRecord) -> dict[str, Any]:
    return {
        "kind": record.kind,
        "text": record.text,
        "data": record.data,
        "created_at": record.created_at,
        "message_source_id": record.message_source_id,
    }


def _raw_json(data: bytes) -> dict[str, Any]:
    """One raw version: its exact text when it is valid UTF-8, else its bytes in base64."""
    sha = hashlib.sha256(data).hexdigest()
    try:
        return {"sha256": sha, "encoding": "utf-8", "value": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"sha256": sha, "encoding": "base64", "value": base64.b64encode(data).decode()}


def raw_bytes(version: Any) -> tuple[bytes, str | None]:
    """The bytes of one exported raw version, and the SHA-256 they must have (None for the
    ``"json"`` form of version 1 exports: re-serialised, it cannot have the original's)."""
    if not isinstance(version, dict):
        raise ValueError("a raw version is not a JSON object")
    encoding, value, sha = version.get("encoding"), version.get("value"), version.get("sha256")
    if encoding == "json":
        return dumps(value), None
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise ValueError("a raw version without its sha256")
    if encoding == "utf-8" and isinstance(value, str):
        return value.encode("utf-8"), sha
    if encoding == "base64" and isinstance(value, str):
        return base64.b64decode(value, validate=True), sha
    raise ValueError(f"raw version with unknown encoding {encoding!r}")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a freehold export folder, or None when ``folder`` is not one."""
    path = folder / MANIFEST
    if path.is_symlink() or not path.is_file() or path.stat().st_size > _MANIFEST_LIMIT:
        return None
    try:
        manifest = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return None
    return manifest


def _prepare(out: Path) -> dict[str, Any]:
    """Make sure ``out`` may be written; returns the previous export's file list, if any."""
    if out.exists() and not out.is_dir():
        raise FreeholdError(f"{out}: is a file — give a folder (new or empty) for the export")
    _folder.make_folder(out)
    if not any(out.iterdir()):
        return {}
    manifest = read_manifest(out)
    if manifest is None:
        raise FreeholdError(
            f"{out}: folder is not empty and holds no freehold JSON export "
            "— choose a new or empty folder"
        )
    files = manifest.get("files")
    return files if isinstance(files, dict) else {}


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    with storage.written(out / MANIFEST) as handle:
        handle.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")


@dataclass(slots=True)
class Summary:
    """What one run wrote: conversations, and the account's records and kept files with them."""

    written: int
    account_records: int
    source_files: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, out: Path) -> str:
        said = f"wrote {plural(self.written, 'conversation')} to {out}"
        if not self.account_records and not self.source_files:
            return said
        records = plural(self.account_records, "account record")
        return f"{said} + {records}, {plural(self.source_files, 'kept file')}"


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``conversations`` to ``out``; returns how many were written."""
    return write_summary(archive, conversations, out, progress=progress).written


def write_summary(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write ``conversations`` to ``out``, and what belongs to their accounts (module
    docstring); returns what was written.

    ``progress`` is called after each conversation with the number written so far.
    """
    previous = _prepare(out)
    _write_manifest(out, {"format": FORMAT_NAME, "version": VERSION, "complete": False})
    writer = _Writer(archive, out)
    with storage.written(out / CONVERSATIONS) as handle:
        for conv in conversations:
            writer.conversation(conv, handle)
            if progress is not None:
                progress(writer.count)
    writer.account(whole=writer.count == len(archive.select()))
    writer.remove_stale(previous)
    _write_manifest(out, writer.manifest())
    return Summary(writer.count, writer.records, len(writer.kept))


class _Writer:
    """One export run: the lines written, their digest, and the attachments copied so far."""

    def __init__(self, archive: Archive, out: Path) -> None:
        self.archive = archive
        self.out = out
        self.count = 0
        self.size = 0
        self.digest = hashlib.sha256()
        self.lines: dict[str, dict[str, Any]] = {}
        self.copied: dict[str, int] = {}
        self.kept: dict[str, dict[str, Any]] = {}
        self.records = 0
        self.names: dict[str, str] = {}
        self.missing = 0
        # Whose conversations were written: (platform, account) pairs, accounts, projects.
        self.sources: set[tuple[str, str | None]] = set()
        self.named: set[str] = set()

    def conversation(self, conv: Conversation, handle: IO[bytes]) -> None:
        record = conversation_record(self.archive, conv)
        line = dumps(record) + b"\n"
        handle.write(line)
        self.digest.update(line)
        self.size += len(line)
        self.count += 1
        self.sources.add((conv.source_kind, conv.account_id))
        self.named.update(name for name in (conv.account_id, conv.project) if name)
        for message in conv.messages:
            for ref in message.attachments:
                self._copy(ref)

    def _copy(self, ref: AttachmentRef) -> None:
        sha = ref.sha256
        if sha is None or not _SHA.match(sha):
            self.missing += 1
            return
        if sha in self.copied:
            return
        source = self.archive.blob_path(sha)
        if not source.is_file():
            self.missing += 1
            return
        target = self.out / "attachments" / sha
        size = source.stat().st_size
        if target.is_symlink() or not target.is_file() or target.stat().st_size != size:
            _folder.copy(source, target)
        self.copied[sha] = size
        info = self.archive.attachment(sha)
        if info is not None and info.name:
            self.names[sha] = info.name

    def account(self, *, whole: bool) -> None:
        """What belongs to the accounts written: their context records, and the files their
        imports kept (all of them when ``whole``: the export holds every conversation)."""
        self.lines[CONVERSATIONS] = {"bytes": self.size, "sha256": self.digest.hexdigest()}
        claimed = set() if whole else self.archive.account_names()
        records = [r for r in self.archive.account_context() if whole or self._serves(r, claimed)]
        lines = b"".join(dumps(context_json(record)) + b"\n" for record in records)
        with storage.written(self.out / ACCOUNT) as handle:
            handle.write(lines)
        self.lines[ACCOUNT] = {"bytes": len(lines), "sha256": hashlib.sha256(lines).hexdigest()}
        self.records = len(records)
        for name, raw in self.archive.source_files() if whole else self._kept_files():
            sha = hashlib.sha256(raw).hexdigest()
            entry = self.kept.setdefault(sha, {"bytes": len(raw), "names": []})
            if name not in entry["names"]:
                entry["names"].append(name)
            target = self.out / SOURCE_FILES / sha
            if target.is_symlink() or not target.is_file() or target.stat().st_size != len(raw):
                _write_file(target, raw)

    def _serves(self, record: ContextRecord, claimed: set[str]) -> bool:
        """Whether ``record`` goes with the conversations written: it names an account or a
        project of one of them, or none that any conversation of the archive has (``claimed``):
        whose it is cannot be told then (a record keeps no platform), so it is carried."""
        names = {record.data.get(key) for key in ("account", "project")} - {None, ""}
        return bool(names & self.named) or not names & claimed

    def _kept_files(self) -> Iterator[tuple[str, bytes]]:
        """The files kept by the imports of the platforms and accounts written, by import
        then name (as ``Archive.source_files``). Where an import or a conversation knew no
        account, the platform alone decides; the files of a freehold export's import
        (``IMPORT_KIND``) came from a platform it does not name, so they go with any."""
        kinds = {kind for kind, _ in self.sources}
        for source in self.archive.sources():
            kind, account = source["kind"], source["account_id"]
            anyone = account is None or (kind, None) in self.sources
            mine = kind in kinds and (anyone or (kind, account) in self.sources)
            if mine or kind == IMPORT_KIND:
                yield from sorted(self.archive.kept_files(source["id"], _ANY_NAME).items())

    def remove_stale(self, previous: dict[str, Any]) -> None:
        """Attachments and kept files a previous export into this folder wrote and this one
        did not."""
        for name in previous:
            folder, _, sha = name.partition("/")
            written = self.copied if folder == "attachments" else self.kept
            ours = folder in ("attachments", SOURCE_FILES[:-1]) and _SHA.match(sha)
            if ours and sha not in written:
                (self.out / folder / sha).unlink(missing_ok=True)

    def manifest(self) -> dict[str, Any]:
        files: dict[str, Any] = dict(self.lines)
        for sha, size in self.copied.items():
            entry: dict[str, Any] = {"bytes": size}
            if sha in self.names:  # the name the file was first stored under
                entry["name"] = self.names[sha]
            files[f"attachments/{sha}"] = entry
        files.update({SOURCE_FILES + sha: entry for sha, entry in self.kept.items()})
        return {
            "format": FORMAT_NAME,
            "version": VERSION,
            "complete": True,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "generator": f"freehold {__version__}",
            "conversations": self.count,
            "attachments": len(self.copied),
            "attachments_missing": self.missing,
            "account_records": self.records,
            "source_files": len(self.kept),
            "files": files,
        }


def _write_file(target: Path, data: bytes) -> None:
    """``data`` at ``target`` (whole or not at all), its folder made when missing."""
    _folder.subfolder(target.parent)
    with storage.written(target) as handle:
        handle.write(data)
