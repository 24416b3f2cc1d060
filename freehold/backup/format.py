"""The snapshot format: chunks, packs and the manifest (docs/backups.md is the reference).

A destination holds::

    freehold-backup              a marker naming the format (plain text, no secret)
    snapshots/<id>.age           one manifest per snapshot, age(gzip(text))
    packs/<name>.age             age(chunk ‖ chunk ‖ …), each chunk a gzip member

Snapshot ids sort by time (``20261206T030000.123456Z-1a2b``, UTC); pack names are 32 random
hex digits, so no name says anything about the content (no plaintext hash reaches the storage).

The manifest is text, one record a line, fields separated by one space, so that a shell's
``while read`` takes it apart::

    freehold-backup 1
    snapshot <id>
    created <ISO time>
    previous <id or ->
    conversations <count>
    pack <name> <bytes at the destination>          every pack the snapshot needs
    file <path> <size> <sha256>                     then its chunks, in order:
    chunk <pack> <offset> <length> <sha256>         a gzip member at offset in the pack
    digests <size> <sha256>                         conversation digests, chunked the same way
    mac <hex>                                       HMAC-SHA256 of every line above

A chunk's offset and length are in the decrypted pack; its SHA-256 is of the chunk's
plaintext. The ``mac`` line proves the manifest was written by the holder of the identity
(its key is derived from it), so no one who merely knows the public recipient can forge one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from isal import isal_zlib

from freehold.errors import DamagedBackupError

__all__ = [
    "BLOB_CHUNK",
    "CHUNK_LIMIT",
    "DB_CHUNK",
    "FORMAT",
    "MANIFEST_LIMIT",
    "MARKER",
    "PACK_TARGET",
    "SKIP_MAC_HINT",
    "Chunk",
    "FileEntry",
    "Manifest",
    "compress",
    "decompress",
    "new_pack_name",
    "new_snapshot_id",
    "pack_path",
    "parse_manifest",
    "path_allowed",
    "render_manifest",
    "snapshot_path",
    "snapshot_time",
    "stored",
    "stored_fault",
]

FORMAT = 1
MARKER = "freehold-backup"
MARKER_TEXT = (
    f"freehold backup destination, format {FORMAT}.\n"
    "Every file here is age-encrypted; docs/backups.md in freehold says how to restore it,\n"
    "with freehold or with the age tool and a shell.\n"
)
DB_CHUNK = 16 << 10  # one page of a freehold archive: changed pages cost what they changed
BLOB_CHUNK = 1 << 20
PACK_TARGET = 8 << 20
# What an inflated object may grow to: anyone who knows the public recipient can write an age
# file the key opens, so a few KB of gzip must not become gigabytes in memory before a check.
CHUNK_LIMIT = max(DB_CHUNK, BLOB_CHUNK)  # no chunk is bigger than its file's chunk size
MANIFEST_LIMIT = 128 << 20  # ~118 bytes a chunk: an archive of some 18 GB in 16 KiB pages

_HEX64 = "[0-9a-f]{64}"
# Every path a manifest may name: a restore writes nowhere else (a hostile manifest cannot
# reach outside the folder). The person's own files beside the archive go too: profiles and
# their model-lifecycle.toml; config.toml never (a destination's URL may carry a secret).
_PROFILE = (
    r"profiles/[A-Za-z0-9][A-Za-z0-9_-]{0,63}/"
    r"(v[0-9]{4,}\.md|review\.json|rejected-[0-9]+\.md)"
)
_PATH = re.compile(
    rf"^(archive\.sqlite|(blobs|vault)/[0-9a-f]{{2}}/{_HEX64}|model-lifecycle\.toml|{_PROFILE})$"
)
_STORED = re.compile(rf"^(blobs|vault)/[0-9a-f]{{2}}/{_HEX64}$")
_ID = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4}$")
_PACK = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Where one chunk lies: ``length`` bytes at ``offset`` in the decrypted pack."""

    pack: str
    offset: int
    length: int
    sha256: str


@dataclass(slots=True)
class FileEntry:
    """A file of the snapshot (or the digests, ``path`` None) and its chunks in order."""

    path: str | None
    size: int
    sha256: str
    chunks: list[Chunk] = field(default_factory=list)


@dataclass(slots=True)
class Manifest:
    snapshot: str
    created: str
    previous: str | None
    conversations: int
    packs: dict[str, int] = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)
    digests: FileEntry | None = None

    def entries(self) -> list[FileEntry]:
        return [*self.files, *([self.digests] if self.digests else [])]

    def chunks(self) -> list[Chunk]:
        return [chunk for entry in self.entries() for chunk in entry.chunks]

    def size(self) -> int:
        """The bytes the snapshot restores (the files, not the digests)."""
        return sum(entry.size for entry in self.files)


def new_snapshot_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def snapshot_time(snapshot: str) -> datetime:
    return datetime.strptime(snapshot[:23], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


def new_pack_name() -> str:
    return secrets.token_hex(16)


def snapshot_path(snapshot: str) -> str:
    return f"snapshots/{snapshot}.age"


def pack_path(pack: str) -> str:
    return f"packs/{pack}.age"


def compress(data: bytes) -> bytes:
    """One gzip member (``gunzip`` reads it); stored blocks when deflate would not shrink it."""
    packed = isal_zlib.compress(data, 1, wbits=31)
    if len(packed) < len(data):
        return packed
    stored = zlib.compressobj(0, zlib.DEFLATED, 31)  # ISA-L's level 0 still encodes
    return stored.compress(data) + stored.flush()


def decompress(member: bytes, limit: int = CHUNK_LIMIT) -> bytes:
    """One gzip member inflated, never past ``limit`` bytes (memory stays bounded whatever
    the member holds); ``ValueError`` when it would grow past it or is cut short."""
    inflater = isal_zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(member, limit + 1)
    except Exception as error:  # isal_zlib.error, which its stubs type as an instance
        raise ValueError(str(error)) from error
    if len(data) > limit:
        raise ValueError(f"it inflates past {limit:,} bytes, more than freehold ever writes")
    if not inflater.eof:
        raise ValueError("it is cut short")
    return bytes(data)


def render_manifest(manifest: Manifest, mac_key: bytes) -> bytes:
    lines = [
        f"{MARKER} {FORMAT}",
        f"snapshot {manifest.snapshot}",
        f"created {manifest.created}",
        f"previous {manifest.previous or '-'}",
        f"conversations {manifest.conversations}",
        *(f"pack {name} {size}" for name, size in manifest.packs.items()),
    ]
    for entry in manifest.entries():
        head = "digests" if entry.path is None else f"file {entry.path}"
        lines.append(f"{head} {entry.size} {entry.sha256}")
        lines += [f"chunk {c.pack} {c.offset} {c.length} {c.sha256}" for c in entry.chunks]
    body = ("\n".join(lines) + "\n").encode()
    return body + f"mac {_mac(mac_key, body)}\n".encode()


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


SKIP_MAC_HINT = (
    "restoring with a second recipient's key, not the one that made the backups? It cannot "
    "check the MAC: give --skip-mac"
)


def parse_manifest(text: bytes, mac_key: bytes | None, where: str) -> Manifest:
    """The manifest in ``text``, refused (``DamagedBackupError`` naming ``where``) unless its
    MAC is right (``mac_key`` None: not checked, for a second recipient, who cannot) and every
    line is well formed."""
    body, _, tail = text.rpartition(b"mac ")
    if not body.endswith(b"\n"):
        raise DamagedBackupError(f"{where}: a malformed manifest (no mac line)")
    if mac_key is not None and not hmac.compare_digest(
        tail.strip().decode("ascii", "replace"), _mac(mac_key, body)
    ):
        raise DamagedBackupError(
            f"{where}: the manifest's MAC does not match — it was altered, or written with "
            f"another identity ({SKIP_MAC_HINT})"
        )
    try:
        return _Parser(where).parse(body.decode("ascii").splitlines())
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise DamagedBackupError(f"{where}: a malformed manifest ({error})") from error


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def parse(self, lines: list[str]) -> Manifest:
        if lines[0] != f"{MARKER} {FORMAT}":
            raise ValueError(f"not format {FORMAT}: {lines[0][:40]!r}")
        head = dict(line.split(" ", 1) for line in lines[1:5])
        manifest = Manifest(
            snapshot=_match(_ID, head["snapshot"]),
            created=head["created"],
            previous=None if head["previous"] == "-" else _match(_ID, head["previous"]),
            conversations=int(head["conversations"]),
        )
        entry: FileEntry | None = None
        for line in lines[5:]:
            entry = self._line(manifest, entry, line.split(" "))
        return manifest

    def _line(
        self, manifest: Manifest, entry: FileEntry | None, fields: list[str]
    ) -> FileEntry | None:
        kind = fields[0]
        if kind == "pack" and entry is None:  # the packs come before any file
            manifest.packs[_match(_PACK, fields[1])] = int(fields[2])
            return None
        if kind == "chunk" and entry is not None:
            pack = _match(_PACK, fields[1])
            if pack not in manifest.packs:
                raise ValueError(f"chunk in unlisted pack {pack}")
            entry.chunks.append(Chunk(pack, int(fields[2]), int(fields[3]), _hex(fields[4])))
            return entry
        if kind == "file":
            # a stored file whose bytes are not its name's (a run before the rule of stored
            # files sent it so) is parsed: the restore leaves that file out, not the rest
            new = FileEntry(_match(_PATH, fields[1]), int(fields[2]), _hex(fields[3]))
            manifest.files.append(new)
            return new
        if kind == "digests":
            manifest.digests = FileEntry(None, int(fields[1]), _hex(fields[2]))
            return manifest.digests
        raise ValueError(f"unknown line {' '.join(fields)[:60]!r}")


def path_allowed(path: str) -> bool:
    """Whether a snapshot may hold a file at ``path`` (relative to the data folder)."""
    return bool(_PATH.match(path))


def stored(path: str | None) -> bool:
    """Whether ``path`` is a stored file's: ``blobs/`` or ``vault/``, named by its SHA-256."""
    return path is not None and bool(_STORED.match(path))


def stored_fault(path: str, sha256: str) -> str | None:
    """Why the file at ``path`` with bytes of ``sha256`` breaks the rule of a stored file, or
    None. The rule: a stored file (an attachment under ``blobs/``, an exit-plan export under
    ``vault/``) is named by its content, ``ab/<sha256>``, so its SHA-256 is its name. Other
    paths (the archive, profiles) have no such rule."""
    if not _STORED.match(path):
        return None
    top = path.partition("/")[0]
    if path == f"{top}/{sha256[:2]}/{sha256}":
        return None
    return f"{path}: its bytes do not hash to its name (they hash to {sha256[:12]}…)"


def _match(pattern: re.Pattern[str], value: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"bad value {value[:80]!r}")
    return value


def _hex(value: str) -> str:
    if not re.fullmatch(_HEX64, value):
        raise ValueError(f"bad SHA-256 {value[:80]!r}")
    return value
