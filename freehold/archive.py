"""The archive: one SQLite file, a content-addressed blob folder, and the class that owns SQL.

Layout of the data folder (``FREEHOLD_HOME``, else the platform's user data dir), private to
its user (folders 0700, files 0600: ``_private.py``)::

    archive.sqlite        every table documented in docs/archive-format.md
    blobs/ab/abcdef…      attachment bytes, named by their SHA-256
    vault/ab/abcdef…      the exit plan's export files (``freehold/exits.py``), the same way

Only an import creates the archive (``open_archive(create=True)``); reading a data folder that
holds none is a ``NoArchiveError`` that creates nothing, and ``discard_if_empty`` takes back
what creating made when the import stored nothing (a wrong path, an unknown file), so a failed
first import leaves no folder behind. Opening the archive migrates it (``migrations.py``),
once. Writes happen in explicit
transactions (``with archive.transaction():``), one per batch of conversations, so a crash or a
kill -9 leaves the archive as it was after the last batch; WAL keeps readers unblocked.

Re-import semantics: a conversation is keyed by (source kind, source conversation id) and a
message by (conversation, source message id). Conversation raw JSON that was seen before
(same SHA-256) is ``unchanged`` without any parsing work stored, unless it carries messages or
raw versions the archive lacks (a freehold export: turns written on another machine, revisions
kept there; they are added, ``_carries_more``); otherwise the normalised rows are compared by
digest: new messages are added, changed ones updated (other words keep the words they had
beside them as a revision, ``<id>#rev-<n>``, off the visible path), none ever deleted, and
each distinct raw version is kept. A copy of another account than the stored one's (the same
conversation id in two accounts, ``_foreign``) is never merged: its raw version alone is kept.
A copy of the same account that must not replace the stored one (``_aside``: older by the
platform's own update time, ``source_updated_at``, which only imports write; or salvaged, its
messages unreadable) only adds its raw version, the messages only it has and its own differing
words, off the visible path: the result does not depend on the order exports are imported
in. Conversations missing from a full export of the same account are flagged
``gone_upstream_at``, never removed — unless that export brought a copy older than the
archive's (it is older than what the archive holds). Queries live in ``_queries.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

import filetype
import orjson
import platformdirs
from isal import isal_zlib

from freehold import (
    _browse,
    _exitplan,
    _kept,
    _local,
    _private,
    _queries,
    _sqlite,
    _unspaced,
    storage,
)
from freehold._words import plural
from freehold.errors import ArchiveError, NoArchiveError
from freehold.migrations import file_names, message_content, migrate
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    Generation,
    Message,
    pickled_by_fields,
    revision_of,
    thread_counts,
)

__all__ = [
    "LOCAL_KIND",
    "AddResult",
    "Archive",
    "BlobsPlaced",
    "Prepared",
    "blob_path",
    "conversation_id",
    "dumps",
    "home_dir",
    "newer_parser",
    "now_iso",
    "open_archive",
    "prepare",
    "sealed",
    "sweep_temporary",
    "write_blob",
]

ARCHIVE_NAME = "archive.sqlite"
# What to do with a damaged archive (``_sqlite.Connection``).
_RESTORE = "restore a backup (`freehold backup restore`, see docs/backups.md)"
LOCAL_KIND = "freehold"  # the source kind of a conversation started here (``freehold chat``)
_RAW_LEVEL = 1
_PAGE_SIZE = 16384
_CHECKPOINT_BYTES = 64 << 20


def _compress(raw: bytes) -> bytes:
    """A zlib stream (read back with the standard library's ``zlib.decompress``), written by
    ISA-L: 3x faster than zlib itself at the same level and size (docs/decisions.md)."""
    return isal_zlib.compress(raw, _RAW_LEVEL)


_BLOB_CHUNK = 1 << 20


def home_dir() -> Path:
    """The data folder: ``FREEHOLD_HOME`` or the platform's user data dir, as an absolute
    path (``~`` expanded: a shell does not expand it inside quotes or after ``=``; a relative
    one taken from the current folder once, so every path printed is whole). Links are not
    followed: the folder keeps the name it was given. One that is there but is not a folder
    is refused here, the same way for every command."""
    configured = os.environ.get("FREEHOLD_HOME")
    chosen = configured or platformdirs.user_data_dir("freehold")
    home = Path(os.path.abspath(os.path.expanduser(chosen)))
    if home.exists() and not home.is_dir():
        raise ArchiveError(
            f"{home}: the data folder is a file, not a folder — point FREEHOLD_HOME at a "
            "folder (new, or the one that holds your archive.sqlite)"
        )
    return home


def conversation_id(source_kind: str, source_id: str) -> str:
    """freehold's own conversation id: stable, derived from the dedup key."""
    return "c" + hashlib.sha256(f"{source_kind}\x00{source_id}".encode()).hexdigest()[:15]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dumps(value: Any) -> str:
    """Compact JSON text; falls back to the stdlib for what orjson refuses (huge ints)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        import json

        return json.dumps(value, ensure_ascii=False, default=str)


def _dumps_bytes(value: Any) -> bytes:
    """``dumps(value).encode()`` without the round trip through ``str``: the digest hashes
    every message's text, and decoding then encoding it again made `prepare` ~10 % slower."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return dumps(value).encode()


@dataclass(slots=True)
class AddResult:
    """What ``add_conversation`` did: status is ``new``, ``updated`` or ``unchanged``.

    Attachment counts are per link (a message pointing at a file): ``found`` when the archive
    now holds its bytes (brought by this import or an earlier one), else ``missing`` — the
    links ``stats`` counts as missing; ``files_new`` counts files the archive did not hold.
    """

    status: str
    messages_new: int = 0
    messages_updated: int = 0
    messages_unchanged: int = 0
    attachments_found: int = 0
    attachments_missing: int = 0
    files_new: int = 0
    notes: list[str] = field(default_factory=list)  # repair notes this import met first
    reread: bool = False  # the same raw JSON, stored by an older importer, converted again
    unversioned: bool = False  # re-read, and its stored copy named no importer version


_MESSAGE_COLUMNS = (
    "id, conversation_id, parent_id, source_message_id, role, author_name, model, created_at, "
    "content_type, parts, text, hidden, on_visible_path, status, meta"
)
_INSERT_MESSAGE = f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 15)})"
_UPDATE_MESSAGE = (
    "UPDATE messages SET parent_id=?, role=?, author_name=?, model=?, created_at=?, "
    "content_type=?, parts=?, text=?, hidden=?, on_visible_path=?, status=?, meta=? WHERE id=?"
)


def _message_row(message: Message) -> tuple[Any, ...]:
    """The comparable part of a message row, less its parent (resolved when written)."""
    return (
        message.role,
        message.author_name,
        message.model,
        message.created_at,
        message.content_type,
        None if _plain(message.parts, message.text) else dumps(message.parts),
        message.text,
        int(message.hidden),
        int(message.on_visible_path),
        message.status,
        dumps(message.meta) if message.meta else None,
    )


def _without_path(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored message row (parent first) less its visible-path flag."""
    return row[:9] + row[10:]


def _plain(parts: list[dict[str, Any]], text: str) -> bool:
    """One plain text part that says exactly ``text``: its ``parts`` column is NULL, so the
    text is stored once (three messages in four; docs/archive-format.md)."""
    if len(parts) != 1:
        return False
    only = parts[0]
    return (
        type(only) is dict
        and len(only) == 2
        and only.get("type") == "text"
        and only.get("text") == text
    )


def _plain_json(parts: str, text: str) -> bool:
    """``_plain`` for a ``parts`` column written before migration m004 (or by hand, or by an
    importer that put the keys in another order)."""
    if not parts.startswith("[{") or '"text"' not in parts:
        return False
    try:
        value = orjson.loads(parts)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, list) and len(value) == 1 and _plain(value, text)


@pickled_by_fields
@dataclass(slots=True)
class Prepared:
    """A conversation serialised for storage, small enough to pickle to the writer process.

    ``head`` is the conversation without its messages or raw bytes; ``links`` holds each
    message's (source id, parent source id, attachments) and ``rows`` its serialised columns.
    Until it is ``sealed`` (``digest`` empty), ``raw`` and ``older`` hold the raw JSON as it
    came: hashing and compressing are left to whichever process has time for them
    (``ingest``). Empty ``raw`` is none (a conversation started here, brought back by a
    freehold export): no version is stored and ``raw_sha`` stays empty.
    """

    head: Conversation
    cid: str
    raw_sha: str
    raw: bytes  # compressed (zlib) once sealed
    older: list[tuple[str, bytes]]
    links: list[tuple[str, str | None, tuple[AttachmentRef, ...]]]
    rows: list[tuple[Any, ...]]
    digest: str
    local: dict[str, tuple[str, Generation | None]] = field(default_factory=dict)


def prepare(conv: Conversation, *, seal: bool = True) -> Prepared:
    """Serialise ``conv`` (ids, message rows; sealed: compressed raw and digest) without
    touching SQL."""
    messages = conv.messages
    ready = Prepared(
        head=_head(conv),
        cid=conversation_id(conv.source_kind, conv.source_id),
        raw_sha="",
        raw=conv.raw,
        older=[("", raw) for raw in conv.older_raw],
        links=[(m.source_id, m.parent_source_id, _portable(m.attachments)) for m in messages],
        rows=[_message_row(m) for m in messages],
        digest="",
        local={m.source_id: (m.origin, m.generation) for m in messages if m.origin},
    )
    return sealed(ready) if seal else ready


def sealed(ready: Prepared) -> Prepared:
    """``ready`` with its raw JSON hashed and compressed and its digest computed (once)."""
    if not ready.digest:
        ready.digest = _digest(ready)
        if ready.raw:
            ready.raw_sha = hashlib.sha256(ready.raw).hexdigest()
            ready.raw = _compress(ready.raw)
        ready.older = [(hashlib.sha256(raw).hexdigest(), _compress(raw)) for _, raw in ready.older]
    return ready


def _digest(ready: Prepared) -> str:
    return hashlib.sha256(
        b"".join(_digested(ready.head, ready.links, ready.rows, ready.local))
    ).hexdigest()


def _digested(
    conv: Conversation,
    links: list[tuple[str, str | None, tuple[AttachmentRef, ...]]],
    rows: list[tuple[Any, ...]],
    local: dict[str, tuple[str, Generation | None]],
) -> list[bytes]:
    """What the digest hashes, in order: the conversation's fields, each message (its link,
    its row, its pointers), each context record and each turn written here, each as compact
    JSON."""
    head = (conv.title, conv.created_at, conv.updated_at, conv.model, conv.current_leaf)
    chunks = [_dumps_bytes([head, conv.project, conv.archived, conv.starred])]
    for (source_id, parent, refs), row in zip(links, rows, strict=True):
        # Pointers, not whether this copy of the export had their bytes: a file that arrives
        # later is linked and counted as an attachment, and leaves the conversation unchanged.
        pointers = [(a.pointer, None) for a in refs]
        chunks.append(_dumps_bytes([[source_id, parent], row, pointers]))
    for record in conv.context:
        chunks.append(_dumps_bytes([record.kind, record.text, record.message_source_id]))
    # Turns written here (a freehold export carries them): only they add to the digest, so
    # every imported conversation's digest stays what it was.
    for source_id, (origin, generation) in local.items():
        chunks.append(_dumps_bytes([source_id, origin, generation and _generation_key(generation)]))
    return chunks


# Copies made field by field through the constructor: ``dataclasses.replace`` costs 4x more,
# once per conversation and attachment (measured in ``prepare``).
_CONVERSATION_FIELDS = attrgetter(*(f.name for f in fields(Conversation)))
_REF_FIELDS = attrgetter(*(f.name for f in fields(AttachmentRef)))


def _head(conv: Conversation) -> Conversation:
    """``conv`` without its messages and raw bytes."""
    head = Conversation(*_CONVERSATION_FIELDS(conv))
    head.messages, head.raw, head.older_raw = [], b"", []
    return head


def _portable(refs: list[AttachmentRef]) -> tuple[AttachmentRef, ...]:
    """The references without their openers (which read the open export: they stay here)."""
    if not refs:
        return ()
    copies = tuple(AttachmentRef(*_REF_FIELDS(ref)) for ref in refs)
    for ref in copies:
        ref.opener = None
    return copies


def _generation_key(generation: Generation) -> list[Any]:
    return [
        generation.provider,
        generation.requested_model,
        generation.served_model,
        [(a.provider, a.model, a.outcome, a.ms) for a in generation.attempts],
    ]


def blob_path(blobs: Path, sha: str) -> Path:
    return blobs / sha[:2] / sha


class BlobsPlaced:
    """What one writer of blob folders knows is there without asking the file system: the
    files it placed in sub-folders that did not exist when it first looked (all 256 of them
    in a new archive). There a blob is looked up in memory, not by a ``stat`` each; in a
    sub-folder that existed, ``write_blob`` asks the file system, as it does without one.
    A file removed by someone else while the import runs is not noticed (nor was it between
    a ``stat`` and the attachment row written after it)."""

    def __init__(self) -> None:
        self._new: dict[str, set[str]] = {}  # sub-folder made after we looked -> files placed
        self._old: set[str] = set()  # sub-folders that were there

    def holds(self, folder: str, sha: str) -> bool | None:
        """Whether ``sha`` is in ``folder``; None when only the file system can say."""
        placed = self._new.get(folder)
        if placed is not None:
            return sha in placed
        if folder in self._old:
            return None
        if os.path.isdir(folder):
            self._old.add(folder)
            return None
        self._new[folder] = set()
        return False

    def add(self, folder: str, sha: str) -> None:
        """``sha`` was placed in ``folder``."""
        found = self._new.get(folder)
        if found is not None:
            found.add(sha)


def write_blob(
    blobs: Path, stream: IO[bytes], placed: BlobsPlaced | None = None
) -> tuple[str, str | None, int]:
    """Copy a stream into the blob folder; returns (sha256, sniffed mime, size).

    File work only, no SQL, so the reading side of an import can do it in its own process; the
    ``attachments`` row is written with the message that points at the blob. A blob is written
    to ``blobs/tmp`` and renamed into place, so a crash never leaves a partial blob under its
    hash. A small file is hashed in memory first and not written at all when it is already
    there (exports repeat the same image under many pointers); ``placed`` (an import's) saves
    asking the file system whether it is, where it knows.
    """
    first = stream.read(_BLOB_CHUNK)
    kind = filetype.guess(first[:8192]) if first else None
    mime = kind.mime if kind is not None else None
    if len(first) < _BLOB_CHUNK:
        sha = hashlib.sha256(first).hexdigest()
        folder = f"{blobs}{os.sep}{sha[:2]}"
        target = f"{folder}{os.sep}{sha}"
        there = placed.holds(folder, sha) if placed is not None else None
        if there is None:
            there = os.path.exists(target)
        if not there:
            _place(os.fspath(blobs), folder, target, first)
            if placed is not None:
                placed.add(folder, sha)
        return sha, mime, len(first)
    digest = hashlib.sha256(first)
    size = len(first)
    tmp_dir = blobs / "tmp"
    with storage.guarded(tmp_dir):
        _private.make_dirs(tmp_dir)
        out, tmp = _new_temporary(os.fspath(tmp_dir), "partial")
    with out:
        try:
            with storage.guarded(tmp_dir):
                out.write(first)
            while chunk := stream.read(_BLOB_CHUNK):  # a read error is the export's
                digest.update(chunk)
                with storage.guarded(tmp_dir):  # a write error the archive's disk's
                    out.write(chunk)
                size += len(chunk)
        except BaseException:  # a damaged member, a full disk: no partial file stays behind
            out.close()
            os.unlink(tmp)
            raise
    sha = digest.hexdigest()
    final = blob_path(blobs, sha)
    with storage.guarded(final):
        if final.exists():
            os.unlink(tmp)
        else:
            _private.make_dirs(final.parent)
            os.replace(tmp, final)
    return sha, mime, size


def _new_temporary(tmp_dir: str, stem: str) -> tuple[IO[bytes], str]:
    """A new file in ``tmp_dir``, named ``<stem>.<pid>.<n>``: ``sweep_temporary`` removes
    it once this process is gone. One of that name can only be left by a dead process that
    had the same id."""
    tmp = os.path.join(tmp_dir, _temporary_name(stem))
    try:
        return _private.open_new(Path(tmp)), tmp
    except FileExistsError:
        os.unlink(tmp)
        return _private.open_new(Path(tmp)), tmp


def _temporary_name(stem: str) -> str:
    return f"{stem}.{os.getpid()}.{next(_TMP_COUNTER)}"


def _place(blobs: str, folder: str, final: str, data: bytes) -> None:
    """The hot path of an export with many images, one new file each: string paths, and no
    check that the folders are there (a folder is made when writing into it fails for want
    of it: once per folder), so a blob costs an open, a write and a rename, and a stat where
    ``BlobsPlaced`` cannot say it is new."""
    tmp_dir = os.path.join(blobs, "tmp")
    tmp = os.path.join(tmp_dir, _temporary_name(os.path.basename(final)))
    with storage.guarded(tmp_dir):
        try:
            _private.write_new(tmp, data)
        except FileNotFoundError:
            _private.make_dirs(Path(tmp_dir))
            _private.write_new(tmp, data)
        except FileExistsError:  # left by a dead process that had our id
            os.unlink(tmp)
            _private.write_new(tmp, data)
    with storage.guarded(final):
        try:
            os.replace(tmp, final)
        except FileNotFoundError:
            _private.make_dirs(Path(folder))
            os.replace(tmp, final)


def sweep_temporary(folder: Path) -> int:
    """Remove the files in ``folder/tmp`` that no live process is writing: those named
    ``<stem>.<pid>.<n>`` whose process is gone, and, from a freehold before those names,
    any untouched for a day. Another import running at the same time keeps its files (its
    process is alive). Returns how many went."""
    try:
        names = os.listdir(folder / "tmp")
    except OSError:  # no tmp folder, or none we may read: nothing to sweep
        return 0
    removed = 0
    for name in names:
        path = folder / "tmp" / name
        if _abandoned(name, path):
            with suppress(OSError):  # gone meanwhile, or not ours to remove
                path.unlink()
                removed += 1
    return removed


def _abandoned(name: str, path: Path) -> bool:
    parts = name.rsplit(".", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return not _alive(int(parts[1]))
    with suppress(OSError):
        return time.time() - path.stat().st_mtime > _OLD_TEMPORARY
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone; or a number no pid can be
        return False
    except OSError:  # it exists, and is another user's
        return True
    return True


_OLD_TEMPORARY = 24 * 3600
_TMP_COUNTER = itertools.count()


@dataclass(slots=True)
class _Tree:
    """A stored conversation's shape while it is written: source id → id, id → parent id."""

    ids: dict[str, int]
    parents: dict[int, int | None]


@dataclass(slots=True)
class _Plan:
    """What writing one conversation's messages will do."""

    tree: _Tree
    found: dict[str, tuple[int, tuple[Any, ...]]]
    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    result: AddResult = field(default_factory=lambda: AddResult("new"))
    revisions: int = 0  # earlier texts kept (``_revision``): among inserts or updates
    # The copy's own messages (parent first, parent unresolved) by source id, when revisions
    # are kept: the revisions a freehold export carries are among them (``_revision``).
    carried: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # The source ids of each message's revisions held or carried, by the message's source id:
    # read once per plan, added to by ``_revision`` (``_revisions_of``).
    revision_keys: dict[str, set[str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Queue:
    """New conversations' rows, per table, waiting for ``Archive._flush``."""

    conversations: list[tuple[Any, ...]] = field(default_factory=list)
    cids: set[str] = field(default_factory=set)
    raw: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    files: list[tuple[Any, ...]] = field(default_factory=list)
    shas: set[str] = field(default_factory=set)  # of the files waiting
    links: list[tuple[Any, ...]] = field(default_factory=list)
    context: list[tuple[Any, ...]] = field(default_factory=list)


_ROWS_PER_INSERT = 100
_INSERT_RAW = "INSERT OR IGNORE INTO conversation_raw VALUES (?, ?, ?, 'zlib', ?)"
# An import's kept files are there to convert its raw JSON again (``_kept.files``) and to
# carry the account's files out (the JSON export): one that stored no raw version keeps none
# that an earlier import kept already, name and bytes (the same export imported again).
_DROP_KEPT_ALREADY = (
    "DELETE FROM source_files WHERE source_id = ? AND EXISTS (SELECT 1 FROM source_files k "
    "WHERE k.source_id != source_files.source_id AND k.name = source_files.name "
    "AND k.sha256 = source_files.sha256)"
)
_RAW_SHAS = "SELECT sha256 FROM conversation_raw WHERE conversation_id=?"
_INSERT_FILE = "INSERT OR IGNORE INTO attachments VALUES (?, ?, ?, ?)"
_UPSERT_LINK = (
    "INSERT INTO message_attachments VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (message_id, pointer) DO UPDATE SET name=excluded.name, "
    "declared_mime=excluded.declared_mime, sha256=coalesce(excluded.sha256, sha256)"
)
_UPSERT_CONTEXT = (
    "INSERT INTO context_records (conversation_id, source_message_id, kind, text, data, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (conversation_id, source_message_id, kind) DO UPDATE SET "
    "text=excluded.text, data=excluded.data, created_at=excluded.created_at"
)
_ADD_CONTEXT = _UPSERT_CONTEXT.partition(" ON CONFLICT")[0] + " ON CONFLICT DO NOTHING"


@dataclass(slots=True)
class _Stored:
    """What ``_aside`` weighs of the stored copy: its message count, the platform's own update
    time (``source_updated_at``: never one a turn written here moved) and its account."""

    messages: int
    updated: float | None
    account: str | None


def _aside(head: Conversation, count: int, stored: _Stored) -> tuple[str, bool] | None:
    """Why ``head``'s copy (of ``count`` messages) must not replace the ``stored`` one, and
    whether that is because it is older (which says the whole export is:
    ``mark_gone_upstream``); None when it does.

    A salvaged copy (its messages unreadable) never does, nor one without messages where
    the stored one has some (a `"mapping": null`); nor one older than the stored copy by the
    platform's own update time. A stored conversation without messages has nothing to lose:
    any readable copy replaces it. Without both times, the copy imported last wins. (A copy
    of another account is weighed before: ``_foreign``.)"""
    if head.salvaged:
        return "its messages could not be read", False
    if not count and stored.messages:
        return "it holds no messages", False
    when = _upstream_time(head)
    if not stored.messages or when is None or stored.updated is None or when >= stored.updated:
        return None
    older = f"updated {_iso(when)}"
    return f"an older copy ({older}) than the archive's ({_iso(stored.updated)})", True


def _foreign(head: Conversation, stored: _Stored) -> str | None:
    """The account ``head``'s copy belongs to when it is another than the ``stored`` copy's
    (both known): the same conversation id in two accounts, which positional ids make likely.
    Its messages are another person's, never the stored conversation's branches or revisions:
    only its raw JSON is kept (``_add_foreign``). None for a copy of the same account."""
    if head.account_id and stored.account and head.account_id != stored.account:
        return head.account_id
    return None


def _upstream_time(head: Conversation) -> float | None:
    """When the platform last updated this copy: what a freehold export says apart from its
    ``updated_at`` (which turns written there moved on), else ``updated_at``."""
    return head.source_updated_at if head.source_updated_at is not None else head.updated_at


def _aside_more(added: int, revisions: int) -> str:
    """What the note on a copy kept aside says it added to the archive."""
    more = [f"{plural(added, 'message')} only it had"] if added else []
    if revisions:
        more.append(f"its own words of {plural(revisions, 'message')} that differ")
    return f", with {' and '.join(more)} (off the visible path)" if more else ""


def _revising(row: tuple[Any, ...], ready: Prepared) -> bool:
    """Whether words that differ from the stored ``row``'s messages are the platform's: the
    copy is another raw version (not the same JSON with local turns, or re-read), converted
    by the importer version that stored the row (not a newer one, whose conversion changed)."""
    same = bool(ready.raw_sha) and row[0] == ready.raw_sha
    return not same and not newer_parser(row[7], ready.head.parser_version)


def _words(row: tuple[Any, ...]) -> Any:
    """What a message says, of a stored row (parent first): its text. Parts written another
    way (another conversion's fields: a file part's ``size``) say the same words: no revision."""
    return row[7]


def _revisions_of(source_id: str, plan: _Plan) -> list[str]:
    """The source ids of message ``source_id``'s revisions the archive holds or the copy
    carries, or this plan made (``_revision``), by number."""
    return sorted(plan.revision_keys.get(source_id, ()), key=_revision_number)


def _revision_keys(keys: Iterable[str]) -> dict[str, set[str]]:
    """The revisions among source ids ``keys``, by the source id of their message: read once
    per conversation, so a conversation whose every message changed is planned in linear time
    (it was looked through twice per revision made: 4.69 s for 3,000 messages, review R4)."""
    found: dict[str, set[str]] = {}
    for key in keys:
        if (of := revision_of(key)) is not None:
            found.setdefault(of, set()).add(key)
    return found


def _drop_kept_words(plan: _Plan, ready: Prepared) -> None:
    """Leave out of ``plan`` the revisions the copy brings (a freehold export's
    ``<id>#rev-<n>``) whose content (``migrations.message_content``, m015's rule) is kept
    already: their message's after this copy, a stored revision's, or a brought one's with a
    lower number. One the copy points at (``_pointed_at``) stays. An export written before
    m015 carries the duplicates an older import made (A→B→A kept A beside A): each is kept
    once, as m015 keeps it; a revision of the same words in other parts, which m015 keeps,
    stays."""
    brought = {row[3]: row for row in plan.inserts if revision_of(row[3]) in plan.tree.ids}
    if not brought:
        return
    sources = {mid: source for source, mid in plan.tree.ids.items()}
    said = {source: message_content(found[1]) for source, found in plan.found.items()}
    said.update((sources[row[-1]], message_content(row[:-1])) for row in plan.updates)
    said.update((row[3], message_content((row[2], *row[4:]))) for row in plan.inserts)
    needed = _pointed_at(ready)
    kept: dict[str, set[Any]] = {}
    for source in plan.found:
        if (of := revision_of(source)) is not None:
            kept.setdefault(of, set()).add(said[source])
    dropped = set()
    for source in sorted(brought, key=_revision_number):
        of = str(revision_of(source))
        held = kept.setdefault(of, set())
        if (said[source] in held or said[source] == said[of]) and source not in needed:
            dropped.add(source)
            del plan.tree.parents[plan.tree.ids.pop(source)]
        held.add(said[source])
    plan.inserts = [row for row in plan.inserts if row[3] not in dropped]
    plan.result.messages_new -= len(dropped)
    plan.result.messages_unchanged += len(dropped)


def _pointed_at(ready: Prepared) -> set[str | None]:
    """The source ids of the messages ``ready``'s copy points at, which no import leaves out:
    a parent, one a file links to, a turn written there, the current leaf (what m015 keeps,
    ``migrations._REVISION_ROWS``)."""
    parents = {link[1] for link in ready.links}
    linked = {link[0] for link in ready.links if link[2]}
    return parents | linked | ready.local.keys() | {ready.head.current_leaf}


def _revision_number(key: str) -> int:
    """The ``<n>`` of a revision's source id, ``<id>#rev-<n>``."""
    return int(key.rpartition("#rev-")[2])


def newer_parser(stored: str | None, current: str | None) -> bool:
    """Whether importer version ``current`` converts again what ``stored`` made of the same
    raw JSON: ``chatgpt/2`` after ``chatgpt/1``, and any known version after an unknown one
    (NULL: stored before versions were kept, m011, or brought by a freehold export). An
    unknown ``current`` (a freehold export's copy), another importer's version, an older one
    (a downgrade) or one that does not end in a number leaves the stored one as it is."""
    if not current:
        return False
    if not stored:
        return True
    name, _, number = current.rpartition("/")
    stored_name, _, stored_number = stored.rpartition("/")
    numbers = (number, stored_number)
    if name != stored_name or not all(n.isascii() and n.isdigit() for n in numbers):
        return False
    return int(number) > int(stored_number)


def _iso(when: float) -> str:
    try:
        moment = datetime.fromtimestamp(when, UTC)
    except (OverflowError, OSError, ValueError):  # before year 1: say the number
        return str(when)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _raw_rows(ready: Prepared, source_id: int) -> list[tuple[Any, ...]]:
    versions = [*ready.older, (ready.raw_sha, ready.raw)]
    return [(sha, ready.cid, source_id, data) for sha, data in versions if sha]


def _links(
    ready: Prepared, ids: dict[str, int]
) -> tuple[dict[tuple[int, str], AttachmentRef], dict[str, AttachmentRef]]:
    """Each (message id, pointer) link once, preferring a reference that has the bytes, and
    the files those links bring, by SHA-256."""
    links: dict[tuple[int, str], AttachmentRef] = {}
    for source_id, _, refs in ready.links:
        for ref in refs:
            if source_id in ids:
                key = (ids[source_id], ref.pointer)
                links[key] = ref if ref.sha256 or key not in links else links[key]
    return links, {r.sha256: r for r in links.values() if r.sha256}


def _link_rows(links: dict[tuple[int, str], AttachmentRef]) -> list[tuple[Any, ...]]:
    return [(mid, r.pointer, r.name, r.mime, r.sha256) for (mid, _), r in links.items()]


def _context_rows(cid: str, conv: Conversation) -> list[tuple[Any, ...]]:
    return [
        (cid, r.message_source_id or "", r.kind, r.text, dumps(r.data), r.created_at)
        for r in conv.context
    ]


_CONVERSATION_COLUMNS = (
    "account_id, title, created_at, updated_at, model, current_leaf, project, archived, "
    "starred, message_count, branch_count, digest, raw_sha256, problems, last_seen_source, "
    "gone_upstream_at, parser_version, source_updated_at"
)
_INSERT_CONVERSATIONS = (
    f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}, id, source_kind, "
    "source_conversation_id, first_seen_source, first_seen_at, last_seen_at) VALUES "
)
_CONVERSATION_VALUES = f"({', '.join('?' * 24)})"


def _index_glued(db: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
    """Index the words of these (message id, text) rows written against letters of scripts
    without spaces (``_unspaced.glued``): a row only for the few messages holding any, and
    nothing but ``isascii`` for an ASCII text."""
    glued = [
        (mid, words)
        for mid, text in rows
        if not text.isascii() and (words := _unspaced.glued(text))
    ]
    if glued:
        db.executemany("INSERT INTO messages_glued_fts(rowid, text) VALUES (?, ?)", glued)


def _index_file_names(db: sqlite3.Connection, ids: set[int]) -> None:
    """Write the row of names in ``messages_files_fts`` (``migrations.file_names`` says what it
    holds) of each new message of ``ids``, those stored with their links in this transaction:
    one statement, nothing read back; a row a trigger wrote meanwhile (the same conversation
    twice in one export, a file renamed) is replaced."""
    listed = orjson.dumps(sorted(ids)).decode()
    names = file_names("SELECT value FROM json_each(?)")
    db.execute(f"INSERT OR REPLACE INTO messages_files_fts(rowid, text) {names}", (listed,))


def _reindex_file_names(db: sqlite3.Connection, ids: set[int]) -> None:
    """Write the row of names of each message of ``ids`` whose links were written again, where
    it is not what they say already: a link renamed or added changes it, the same links again
    leave it be (an unchanged re-import rewrites nothing)."""
    listed = orjson.dumps(sorted(ids)).decode()
    wanted = dict(db.execute(file_names("SELECT value FROM json_each(?)"), (listed,)))
    held = dict(
        db.execute(
            "SELECT rowid, text FROM messages_files_fts "
            "WHERE rowid IN (SELECT value FROM json_each(?))",
            (listed,),
        )
    )
    stale = [(mid,) for mid, names in held.items() if wanted.get(mid) != names]
    db.executemany("DELETE FROM messages_files_fts WHERE rowid = ?", stale)
    db.executemany(
        "INSERT INTO messages_files_fts(rowid, text) VALUES (?, ?)",
        [(mid, names) for mid, names in wanted.items() if held.get(mid) != names],
    )


def _insert_conversations(count: int) -> str:
    """One INSERT of ``count`` conversation rows (the statement cache keeps the few sizes)."""
    return _INSERT_CONVERSATIONS + ", ".join([_CONVERSATION_VALUES] * count)


_UPDATE_CONVERSATION = (
    "UPDATE conversations SET account_id=coalesce(account_id, ?), title=?, created_at=?, "
    "updated_at=?, model=?, current_leaf=?, project=?, archived=?, starred=?, message_count=?, "
    "branch_count=?, digest=?, raw_sha256=coalesce(nullif(?, ''), raw_sha256), problems=?, "
    "last_seen_source=?, gone_upstream_at=coalesce(?, gone_upstream_at), parser_version=?, "
    "source_updated_at=?, last_seen_at=? WHERE id=?"
)


class Archive:
    """An open archive. Use ``open_archive()``; close it, or use it as a context manager."""

    def __init__(
        self, home: Path, notice: Callable[[str], None] | None = None, *, create: bool = True
    ) -> None:
        self.home = home
        self.path = home / ARCHIVE_NAME
        self.blobs = home / "blobs"
        self.vault = home / "vault"
        # What this open made, so that discard_if_empty can take exactly that back.
        self.created = not self.path.exists()
        self._made: list[Path] = []
        self._blobs_existed = self.blobs.exists()
        self._vault_existed = self.vault.exists()
        if self.created and not create:
            raise NoArchiveError(
                f"no archive at {self.path} — run `freehold import <your export>` first, "
                "or set FREEHOLD_HOME to the folder that holds archive.sqlite"
            )
        # An archive is never 0 bytes (WAL mode writes its header at once): an empty file is
        # not one, and a command that only reads must not make one of it (an import may).
        if not create and self.path.is_file() and self.path.stat().st_size == 0:
            raise NoArchiveError(
                f"{self.path}: an empty file (0 bytes), not an archive — run "
                "`freehold import <your export>` to make one there, or set FREEHOLD_HOME to the "
                "folder that holds your archive.sqlite"
            )
        if self.created:
            self._made = _make_home(home, self.path)
        # An existing archive in a folder this process cannot write (a read-only disk, too)
        # is read (``_sqlite.connect``), whatever the command: the commands that only read work, and
        # a write is told as the folder's, not the archive's, fault. Opened read-write there,
        # SQLite falls back to reading and cannot open its WAL (review R1, finding 2).
        self.read_only = not self.created and not os.access(home, os.W_OK)
        try:
            # Until it is open, a file that is no archive is told as that, below; read
            # read-only, a damaged page is told as a change under the reader (``_sqlite``).
            self.db = _sqlite.connect(self.path, read_only=self.read_only)
        except sqlite3.DatabaseError as error:
            raise self._unusable(error) from error
        try:
            self._settings()
            migrate(self.db, notice, writable=not self.read_only)
        except BaseException as error:  # refused (a newer freehold's archive), or unusable
            self.db.close()
            if isinstance(error, sqlite3.DatabaseError):
                raise self._unusable(error) from error
            raise
        self.db.damaged = _RESTORE  # open: a damaged page met from now on is told so
        self._next_message_id = 0
        self._committing = False  # ``committed``
        self._fts_pending: list[tuple[int, str]] = []
        # Messages whose links were written, for their rows in messages_files_fts: new ones
        # (``_flush``) and those linked again (``_link_attachments``).
        self._links_new: set[int] = set()
        self._links_again: set[int] = set()
        self._queue = _Queue()
        # Imports (source ids) that brought a copy older than the archive's: exports older
        # than what the archive holds, which flag nothing gone upstream (``mark_gone_upstream``).
        self._older: set[int] = set()
        # Per import: flagged conversations it brought unchanged (``finish_source`` clears them).
        self._back: dict[int, set[str]] = {}
        # Imports that stored a raw version: their kept files convert it again (``reparse``).
        self._raw_from: set[int] = set()
        # What the open transaction added to the three memories above: its rollback forgets
        # it (``_remember``), so an import's end acts on what was committed only.
        self._remembered: list[tuple[set[Any], Any]] = []

    def _unusable(self, error: sqlite3.DatabaseError) -> ArchiveError:
        return ArchiveError(
            f"{self.path}: not a usable freehold archive ({error}) — "
            "point FREEHOLD_HOME at another folder or restore a backup"
        )

    def _settings(self) -> None:
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA cache_size=-32768")
        if self.read_only:
            return  # the rest writes the file, or its WAL settings
        # 16 KiB pages for a new archive (an existing one keeps its own): a quarter of the
        # WAL frames and checkpoint writes of 4 KiB pages for the same bytes.
        self.db.execute(f"PRAGMA page_size={_PAGE_SIZE}")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every 64 MB of WAL rather than 4 MB: fewer, larger copies on import.
        page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        self.db.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_BYTES // page_size}")

    def close(self) -> None:
        self.db.close()

    def discard_if_empty(self) -> bool:
        """Close; and when this open created the archive and nothing was ever imported into
        it, remove what creating made (the database, a blob folder, the folders made for
        them). True when it did. A folder that existed before is left where it was."""
        empty = self.created and not self._scalar(
            "SELECT EXISTS (SELECT 1 FROM sources) OR EXISTS (SELECT 1 FROM conversations) "
            "OR EXISTS (SELECT 1 FROM exit_platforms)"
        )
        self.close()
        if not empty:
            return False
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.path.with_name(ARCHIVE_NAME + suffix).unlink(missing_ok=True)
        if not self._blobs_existed:
            shutil.rmtree(self.blobs, ignore_errors=True)
        if not self._vault_existed:
            shutil.rmtree(self.vault, ignore_errors=True)
        for folder in reversed(self._made):
            with suppress(OSError):  # not empty: something else lives there now
                folder.rmdir()
        return True

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; rolled back whole on any error."""
        self.begin()
        try:
            yield
            self.commit()  # inside: a signal during the commit still rolls back
        except BaseException:
            self.rollback()
            raise

    def begin(self) -> None:
        """Start a write transaction (``transaction()`` is the safe way to use one).

        Its statement journals stay in memory: with 16 KiB pages nearly every statement of an
        import passed SQLite's 64 KiB limit and wrote them to a temporary file, one write per
        page it touched (measured, docs/performance.md). Only for the transaction: a statement
        that rewrites a big table (a migration) would hold the whole table in memory.
        """
        self.db.execute("PRAGMA temp_store=MEMORY")
        self._committing = False
        self._remembered.clear()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:  # busy (a StorageError), or stopped while it waited
            self.db.execute("PRAGMA temp_store=DEFAULT")
            raise
        self._next_message_id = self._scalar("SELECT coalesce(max(id), 0) + 1 FROM messages")

    def commit(self) -> None:
        self._flush()
        self._index_pending()
        self._committing = True
        try:
            self.db.execute("COMMIT")
        except BaseException:
            self._committing = False
            raise
        self.db.execute("PRAGMA temp_store=DEFAULT")

    def committed(self) -> bool:
        """Whether the transaction begun last was committed: its ``COMMIT`` ran and returned,
        and none is open. True also when a signal lands just after the ``COMMIT``, before the
        code that called it goes on; false when SQLite rolled it back itself (an error it
        answers so: a full disk, ON CONFLICT ROLLBACK), though no transaction is open then
        either. What depends on a transaction's outcome asks this, not ``in_transaction``."""
        return self._committing and not self.db.in_transaction

    def rollback(self) -> None:
        if not self.committed():  # a stop just after the COMMIT keeps what it committed
            for memory, item in self._remembered:
                memory.discard(item)
        self._remembered.clear()
        self._fts_pending.clear()
        self._links_new.clear()
        self._links_again.clear()
        self._queue = _Queue()
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self.db.execute("PRAGMA temp_store=DEFAULT")

    def _index_pending(self) -> None:
        """Index the new messages' text, in the same transaction as their rows.

        New messages' FTS rows wait here until the commit and go in with one statement:
        one ``executemany`` per conversation made the writer 16 % slower (measured at 100 MB).
        Anything that could touch an indexed row (an update's trigger) indexes them first.
        """
        if self._fts_pending:
            self.db.executemany(
                "INSERT INTO messages_fts(rowid, text) VALUES (?, ?)", self._fts_pending
            )
            _index_glued(self.db, self._fts_pending)
            self._fts_pending.clear()
        if self._links_new:
            _index_file_names(self.db, self._links_new)
            self._links_new.clear()
        if self._links_again:
            _reindex_file_names(self.db, self._links_again)
            self._links_again.clear()

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    def begin_source(
        self,
        kind: str,
        file_name: str,
        sha256: str | None,
        size: int | None,
        parser: str,
        *,
        inside: bool = False,
    ) -> int:
        """The ``sources`` row of an import, committed at once; ``inside`` the transaction
        the caller holds instead (a dry run's, rolled back with everything it wrote)."""
        values = (kind, file_name, sha256, size, parser, now_iso())
        sql = (
            "INSERT INTO sources (kind, file_name, sha256, size, parser_version, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        if inside:
            return int(self.db.execute(sql, values).lastrowid or 0)
        with self.transaction():
            cursor = self.db.execute(sql, values)
        return int(cursor.lastrowid or 0)

    def brought_back(self, source_id: int) -> int:
        """How many gone-upstream flags ``finish_source`` clears for import ``source_id``: its
        report counts them (``back_upstream``) before it is saved with them."""
        return len(self._cleared(source_id))

    def _cleared(self, source_id: int) -> set[str]:
        """The flagged conversations import ``source_id`` brought, whose flags its end clears;
        none when it brought an older copy (it proves nothing about today,
        ``mark_gone_upstream``)."""
        return set() if source_id in self._older else self._back.get(source_id, set())

    def finish_source(
        self, source_id: int, status: str, report: dict[str, Any], account_id: str | None
    ) -> None:
        back = self._cleared(source_id)
        self._back.pop(source_id, None)
        self._older.discard(source_id)
        converts = source_id in self._raw_from
        self._raw_from.discard(source_id)
        with self.transaction():
            if not converts:
                self.db.execute(_DROP_KEPT_ALREADY, (source_id,))
            self.db.executemany(
                "UPDATE conversations SET gone_upstream_at=NULL WHERE id=?", [(c,) for c in back]
            )
            self.db.execute(
                "UPDATE sources SET finished_at=?, status=?, report=?, account_id=? WHERE id=?",
                (now_iso(), status, dumps(report), account_id, source_id),
            )

    def add_account_context(self, record: ContextRecord) -> None:
        """Keep personal context that belongs to the account, not to one conversation.

        Keyed by the importer's key (``memories.json#0``): the same text again updates its
        record in place. Another text under a key already held (another account's memory
        file, or a later version of the note) never replaces it: it is kept beside it, under
        the key and the start of its text's SHA-256."""
        self._flush()
        key = record.message_source_id or ""
        for candidate in (key, f"{key}#{hashlib.sha256(record.text.encode()).hexdigest()[:12]}"):
            cursor = self.db.execute(
                "INSERT INTO context_records (conversation_id, source_message_id, kind, text, "
                "data, created_at) VALUES (NULL, ?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, source_message_id) WHERE conversation_id IS NULL DO UPDATE "
                "SET data=excluded.data, created_at=excluded.created_at "
                "WHERE text IS excluded.text",
                (candidate, record.kind, record.text, dumps(record.data), record.created_at),
            )
            if cursor.rowcount:
                return

    def add_source_file(self, source_id: int, name: str, raw: bytes) -> None:
        """Keep an account-level file (``user.json``, feedback…) raw and compressed."""
        self._flush()
        self.db.execute(
            "INSERT OR REPLACE INTO source_files VALUES (?, ?, ?, ?)",
            (source_id, name, hashlib.sha256(raw).hexdigest(), _compress(raw)),
        )

    def write_blob(self, stream: IO[bytes]) -> tuple[str, str | None, int]:
        """Copy a stream into the blob folder; see ``write_blob``."""
        return write_blob(self.blobs, stream)

    def blob_path(self, sha: str) -> Path:
        return blob_path(self.blobs, sha)

    def add_conversation(
        self, conv: Conversation | Prepared, source_id: int, *, again: bool = False
    ) -> AddResult:
        """Add or update one conversation; must run inside ``transaction()``.

        The same raw JSON that a stored copy came from is converted again when an older
        importer stored it (``newer_parser``), or whatever stored it with ``again``
        (``freehold reparse --all``); else it is unchanged without a look at its rows.

        A new conversation's rows wait in ``_queue`` and are written at the commit (or before
        any other write), each table's rows in the order they came: the conversation rows go
        in with one statement, which costs a fifth of one INSERT each (their title index,
        ``conversations_fts``, is fed by a trigger, and FTS5 writes its pending terms at every
        statement's savepoint; measured, docs/performance.md).
        """
        ready = sealed(conv) if isinstance(conv, Prepared) else prepare(conv)
        cid = ready.cid
        if cid in self._queue.cids:  # the same conversation twice in one export
            self._flush()
        row = self.db.execute(
            "SELECT raw_sha256, digest, message_count, problems, current_leaf, updated_at, "
            "gone_upstream_at, parser_version, source_updated_at, account_id "
            "FROM conversations WHERE id=?",
            (cid,),
        ).fetchone()
        if row is None:
            return self._add_new(ready, source_id)
        self._flush()  # what it writes comes after what waits, in every table
        same = bool(ready.raw_sha) and row[0] == ready.raw_sha
        newer = newer_parser(row[7], ready.head.parser_version)
        if same and not (again or newer) and self._carries_more(ready):
            return self._add_carried(ready, source_id, row)
        if same and not (again or newer):
            # Nothing to re-read, but this copy of the export may bring files an earlier one
            # lacked (conversations.json alone first, then the whole zip): link them.
            self._seen(cid, source_id, ready.head)
            self._brought_back(cid, source_id, row[6], ready.head)
            # the messages this file holds: message_count also counts local turns and
            # messages kept from earlier copies, which no file read here brought
            result = AddResult("unchanged", messages_unchanged=len(ready.rows))
            self._link_attachments(ready, self._ids_of_linking(cid, ready), result)
            return result
        # Turns written here are kept on the path they were shown on (see _reshow); they exist
        # only in conversations stored already, so never on the queued path (_add_new).
        local = _local.has_local(self.db, cid)
        # The raw JSON the stored copy came from is never an older copy of itself: re-read, its
        # times are what a fixed importer reads in it, not a time to compare (``_aside``).
        stored = _Stored(row[2], None if same else row[8], row[9])
        if (account := _foreign(ready.head, stored)) is not None:
            return self._add_foreign(ready, source_id, account, row[9])
        aside = _aside(ready.head, len(ready.rows), stored)
        if aside is not None:
            why, older = aside
            if older:
                self._remember(self._older, source_id)
            return self._add_aside(ready, source_id, row, why)
        shown = self._local_leaf(row[4]) if local else None
        revisions = _revising(row, ready)
        plan = self._plan(ready, self._existing(cid), keep_path=local, revisions=revisions)
        # A repair note belongs to the import that first met it, not to every re-import.
        known = orjson.loads(row[3]) if row[3] else []
        plan.result.notes = [note for note in ready.head.problems if note not in known]
        if plan.revisions:
            changed = plural(plan.revisions, "message")
            plan.result.notes.append(
                f"{changed} changed upstream; the earlier text is kept as an earlier version "
                "beside the new (off the visible path)"
            )
        values = self._conversation_values(ready, plan.tree, source_id)
        self.db.execute(_UPDATE_CONVERSATION, (*values, now_iso(), cid))
        self._brought_back(cid, source_id, row[6], ready.head)
        self._keep_raw(_raw_rows(ready, source_id))
        self._write_messages(ready, plan)
        digest = ready.digest
        if local:
            self._reshow(ready, plan.tree, shown, row[5])
            # A source's own copy lacks the local turns, so its digest never matches: the
            # conversation is unchanged when what is stored is the same as before this copy.
            digest = self._redigest(cid)
        plan.result.status = "unchanged" if digest == row[1] else "updated"
        plan.result.reread = same
        plan.result.unversioned = same and not row[7]
        return plan.result

    def _carries_more(self, ready: Prepared) -> bool:
        """Whether a freehold export's copy (``parser_version`` "") of the raw JSON the archive
        holds carries what the same raw JSON says nothing of: messages (turns written on the
        machine it came from, revisions kept there) or earlier raw versions the archive lacks.
        A platform's copy of the same raw JSON never does."""
        if ready.head.parser_version != "":
            return False
        held = self.db.execute(
            "SELECT source_message_id FROM messages WHERE conversation_id=?", (ready.cid,)
        )
        ids = {found[0] for found in held}
        if any(link[0] not in ids for link in ready.links):
            return True
        shas = {v[0] for v in self.db.execute(_RAW_SHAS, (ready.cid,))} if ready.older else set()
        return any(sha not in shas for sha, _ in ready.older)

    def _add_carried(self, ready: Prepared, source_id: int, row: tuple[Any, ...]) -> AddResult:
        """A freehold export's copy of a conversation whose platform copy the archive holds
        (the same raw JSON), carrying more than it (``_carries_more``). What the archive lacks
        is added (messages off the visible path, raw versions), and the newer of the copy's
        leaf and the archive's is shown (``_reshow``); the platform's messages, the head and
        the importer version that made them stay as they are."""
        cid = ready.cid
        shown = self._local_leaf(row[4])
        plan = self._plan(ready, self._existing(cid), add_only=True)
        kept = self._keep_raw(_raw_rows(ready, source_id))
        self._write_messages(ready, plan, aside=True)
        self._seen(cid, source_id, ready.head)
        self._brought_back(cid, source_id, row[6], ready.head)
        if plan.result.messages_new:
            self.db.execute(
                "UPDATE conversations SET updated_at=max(coalesce(updated_at, 0), ?) WHERE id=?",
                (ready.head.updated_at or 0, cid),
            )
            self._reshow(ready, plan.tree, shown, row[5])
        digest = self._redigest(cid) if plan.result.messages_new else row[1]
        plan.result.status = "unchanged" if digest == row[1] and not kept else "updated"
        return plan.result

    def _brought_back(
        self, cid: str, source_id: int, flagged: str | None, conv: Conversation
    ) -> None:
        """A conversation flagged gone upstream (``flagged``) is in this export: its flag is
        cleared when the import ends, unless the export proved older (``finish_source``).
        The same for an unchanged copy, a re-read and an update: the UPDATE keeps the stored
        flag (``coalesce``), so an old export read again by a newer importer un-flags nothing."""
        if flagged is not None and conv.gone_upstream_at is None:
            self._remember(self._back.setdefault(source_id, set()), cid)

    def _remember(self, memory: set[Any], item: Any) -> None:
        """Add ``item`` to one of the per-import memories (``_older``, ``_back``,
        ``_raw_from``) for the open transaction: its rollback forgets it again, as it undoes
        the rows that made it true (``rollback``)."""
        if item not in memory:
            memory.add(item)
            self._remembered.append((memory, item))

    def _redigest(self, cid: str) -> str:
        """The digest of conversation ``cid`` as stored, its local turns with it: what an import
        of its freehold export computes, so that export imported back is unchanged. Kept by
        ``add_turn`` and by a re-import of a conversation holding local turns."""
        digest = _digest(prepare(self.get_conversation(cid), seal=False))
        self.db.execute("UPDATE conversations SET digest=? WHERE id=?", (digest, cid))
        return digest

    def _add_foreign(
        self, ready: Prepared, source_id: int, account: str, stored_account: str
    ) -> AddResult:
        """Keep a copy of another ``account`` (``_foreign``) as a raw version only: no
        message, revision or file link is added and the conversation's row is left as it
        was (it is not seen in this import: the export is another account's). The report
        says so once, by the import that brought this raw JSON."""
        result = AddResult("unchanged")
        if self._keep_raw(_raw_rows(ready, source_id)):
            result.notes = [
                f"a copy of another account ({account}) is kept as raw JSON only — its "
                f"messages are not merged into the archive's copy ({stored_account}); to "
                "read them, import that export into a data folder of its own (FREEHOLD_HOME)"
            ]
        return result

    def _add_aside(
        self, ready: Prepared, source_id: int, row: tuple[Any, ...], why: str
    ) -> AddResult:
        """Keep a copy of the same account that must not replace the stored one (``_aside``):
        its raw JSON as a version, and the messages only it has, off the visible path. The
        conversation's head (title, times, leaf), its path and the messages it holds stay as
        they are; it is seen in this import, but a gone-upstream flag stays (an older copy
        proves nothing)."""
        cid = ready.cid
        plan = self._plan(
            ready, self._existing(cid), add_only=True, revisions=_revising(row, ready)
        )
        kept = self._keep_raw(_raw_rows(ready, source_id))
        self._write_messages(ready, plan, aside=True)
        self.db.execute(
            "UPDATE conversations SET message_count=?, branch_count=?, last_seen_source=?, "
            "last_seen_at=?, account_id=coalesce(account_id, ?) WHERE id=?",
            (
                *thread_counts(plan.tree.ids, plan.tree.parents, row[4]),
                source_id,
                now_iso(),
                ready.head.account_id,
                cid,
            ),
        )
        result = plan.result
        result.status = "updated" if result.messages_new or plan.revisions else "unchanged"
        if kept or plan.revisions:  # told once, by the import that brought this copy
            more = _aside_more(result.messages_new, plan.revisions)
            result.notes = [
                f"{why}: the archive's copy was left as it was; this copy is kept beside it "
                f"as a raw version{more}"
            ]
        return result

    def _add_new(self, ready: Prepared, source_id: int) -> AddResult:
        """Queue a conversation the archive does not hold yet (``add_conversation``)."""
        queue = self._queue
        plan = self._plan(ready, {})
        plan.result.notes = list(ready.head.problems)
        values = self._conversation_values(ready, plan.tree, source_id)
        now = now_iso()
        head = ready.head
        queue.conversations.append(
            (*values, ready.cid, head.source_kind, head.source_id, source_id, now, now)
        )
        queue.cids.add(ready.cid)
        queue.raw.extend(_raw_rows(ready, source_id))
        queue.messages.extend(plan.inserts)
        links, files = _links(ready, plan.tree.ids)
        for sha, ref in files.items():
            # What INSERT OR IGNORE's row count said: files neither waiting nor stored.
            if sha not in queue.shas and not self._scalar(
                "SELECT 1 FROM attachments WHERE sha256=?", (sha,)
            ):
                queue.shas.add(sha)
                queue.files.append(
                    (sha, ref.sniffed_mime, ref.size or 0, ref.first_name or ref.name)
                )
                plan.result.files_new += 1
        queue.links.extend(_link_rows(links))
        # Every link is new: it has the file's bytes when this export brought them.
        found = sum(ref.sha256 is not None for ref in links.values())
        plan.result.attachments_found += found
        plan.result.attachments_missing += len(links) - found
        queue.context.extend(_context_rows(ready.cid, head))
        if ready.local:  # turns a freehold export carried: marked once their rows are in
            self._flush()
            self._write_local(ready, plan)
        return plan.result

    def _flush(self) -> None:
        """Write the queued new conversations: one statement per table (per 100 conversation
        rows), in the order they were added."""
        queue = self._queue
        if not queue.conversations:
            return
        self._queue = _Queue()
        rows = queue.conversations
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            self.db.execute(_insert_conversations(len(chunk)), [v for row in chunk for v in row])
        self._keep_raw(queue.raw)
        self.db.executemany(_INSERT_MESSAGE, queue.messages)
        # FTS rows for new messages are written by the archive, not by a trigger: 2.4x faster
        # (measured), and at the commit, all at once (see _index_pending).
        self._fts_pending.extend((r[0], r[10]) for r in queue.messages)
        self.db.executemany(_INSERT_FILE, queue.files)
        self.db.executemany(_UPSERT_LINK, queue.links)
        self._links_new.update(row[0] for row in queue.links)
        self.db.executemany(_UPSERT_CONTEXT, queue.context)

    def _keep_raw(self, rows: list[tuple[Any, ...]]) -> int:
        """Store raw versions (sha, conversation, import, data) the archive lacks; how many."""
        kept = self.db.executemany(_INSERT_RAW, rows).rowcount
        if kept > 0:
            for row in rows:
                self._remember(self._raw_from, row[2])
        return kept

    def _local_leaf(self, leaf: int | None) -> tuple[int, float | None] | None:
        """The stored current leaf and its time, when it is a message written here."""
        found = self.db.execute(
            "SELECT id, created_at FROM messages WHERE id=? AND origin IS NOT NULL", (leaf,)
        ).fetchone()
        return (found[0], found[1]) if found else None

    def _reshow(
        self,
        ready: Prepared,
        tree: _Tree,
        shown: tuple[int, float | None] | None,
        updated_at: float | None,
    ) -> None:
        """After a re-import of a conversation holding local turns: the newer of the export's
        leaf and the local leaf that was shown is the visible path; the other stays a branch
        (nothing is hidden for good, nothing deleted)."""
        leaf_source = ready.head.current_leaf
        leaf = tree.ids.get(leaf_source) if leaf_source else None
        when = next(
            (
                row[3]
                for link, row in zip(ready.links, ready.rows, strict=True)
                if link[0] == leaf_source
            ),
            None,
        )
        if shown is not None and (leaf is None or when is None or (shown[1] or 0) >= when):
            leaf = shown[0]
            times = [t for t in (updated_at, ready.head.updated_at, shown[1]) if t is not None]
            newest = max(times, default=None)
            self.db.execute("UPDATE conversations SET updated_at=? WHERE id=?", (newest, ready.cid))
        _local.show_path(self.db, ready.cid, leaf)

    def _seen(self, cid: str, source_id: int, conv: Conversation) -> None:
        self.db.execute(
            "UPDATE conversations SET last_seen_source=?, last_seen_at=?, "
            "gone_upstream_at=coalesce(?, gone_upstream_at), account_id=coalesce(account_id, ?) "
            "WHERE id=?",
            (source_id, now_iso(), conv.gone_upstream_at, conv.account_id, cid),
        )

    def _conversation_values(self, ready: Prepared, tree: _Tree, source_id: int) -> tuple[Any, ...]:
        """The columns both the INSERT and the UPDATE of a conversation set, in that order."""
        conv = ready.head
        leaf = tree.ids.get(conv.current_leaf) if conv.current_leaf else None
        # Over every message stored, those a newer export dropped included (models.py).
        return (
            conv.account_id,
            conv.title,
            conv.created_at,
            conv.updated_at,
            conv.model,
            leaf,
            conv.project,
            int(conv.archived),
            int(conv.starred),
            *thread_counts(tree.ids, tree.parents, leaf),
            ready.digest,
            ready.raw_sha,
            dumps(conv.problems) if conv.problems else None,
            source_id,
            conv.gone_upstream_at,
            conv.parser_version or None,
            _upstream_time(conv),
        )

    def _existing(self, cid: str) -> dict[str, tuple[int, tuple[Any, ...]]]:
        rows = self.db.execute(
            "SELECT id, source_message_id, parent_id, role, author_name, model, created_at, "
            "content_type, parts, text, hidden, on_visible_path, status, meta FROM messages "
            "WHERE conversation_id=?",
            (cid,),
        )
        found = {}
        for r in rows:
            row = r[2:]
            if row[6] is not None and _plain_json(row[6], row[7]):
                row = (*row[:6], None, *row[7:])  # compares equal to the same message re-read
            found[r[1]] = (r[0], tuple(row))
        return found

    def _plan(
        self,
        ready: Prepared,
        found_rows: dict[str, tuple[int, tuple[Any, ...]]],
        *,
        keep_path: bool = False,
        add_only: bool = False,
        revisions: bool = False,
    ) -> _Plan:
        """Assign ids to new messages and sort every message into insert, update or keep.

        With ``keep_path`` (the conversation holds local turns, whose path ``_reshow`` sets
        afterwards) a message that differs only in its visible-path flag is kept as it is.
        With ``add_only`` (a copy kept aside) every stored message is kept as it is, and new
        ones go in off the visible path. With ``revisions``, a message whose words differ
        keeps the words the archive did not show (the stored ones an update replaces, or
        the copy's own beside a stored message kept) as a revision (``_revision``)."""
        plan = _Plan(
            _Tree(
                {source: found[0] for source, found in found_rows.items()},
                {found[0]: found[1][0] for found in found_rows.values()},
            ),
            found_rows,
        )
        ids = plan.tree.ids
        if revisions:
            plan.carried = {
                link[0]: (None, *row) for link, row in zip(ready.links, ready.rows, strict=True)
            }
            plan.revision_keys = _revision_keys(itertools.chain(found_rows, plan.carried))
        for (source_id, parent_source, _), row in zip(ready.links, ready.rows, strict=True):
            parent = ids.get(parent_source) if parent_source else None
            found = found_rows.get(source_id)
            if found is None:
                ids[source_id] = self._next_message_id
                self._next_message_id += 1
                if add_only:
                    row = (*row[:8], 0, *row[9:])  # on_visible_path
                plan.inserts.append((ids[source_id], ready.cid, parent, source_id, *row))
                plan.result.messages_new += 1
            elif (
                add_only
                or found[1] == (parent, *row)
                or (keep_path and _without_path(found[1]) == _without_path((parent, *row)))
            ):
                if add_only and revisions and _words(found[1]) != _words((parent, *row)):
                    self._revision(plan, ready.cid, source_id, (parent, *row), found[1])
                plan.result.messages_unchanged += 1
                continue  # its stored parent stays
            else:
                if revisions and _words(found[1]) != _words((parent, *row)):
                    self._revision(plan, ready.cid, source_id, found[1], (parent, *row))
                plan.updates.append((parent, *row, found[0]))
                plan.result.messages_updated += 1
            plan.tree.parents[ids[source_id]] = parent
        _drop_kept_words(plan, ready)
        return plan

    def _revision(
        self, plan: _Plan, cid: str, source_id: str, row: tuple[Any, ...], shown: tuple[Any, ...]
    ) -> None:
        """Keep ``row`` (parent first), words message ``source_id`` had in another copy, as
        a sibling beside it: source id ``<id>#rev-<n>``, off the visible path, searchable; its
        children stay with the message. Every ``<n>`` the archive holds or the copy carries
        (a freehold export's revisions) is taken; words kept as a revision by either already
        are not kept again, so importing copies in any order, any number of times, keeps each
        text once. No revision holds the words the message has after this copy (``shown``):
        a stored one that does (the words came back, A→B→A) takes ``row``'s words instead.
        Every revision is weighed, numbers a migration left unused between them (m015) too;
        a new one takes the number after the highest."""
        back = None  # a stored revision (not one the copy carries) with the shown words
        for key in _revisions_of(source_id, plan):
            stored = plan.found.get(key)
            kept = [plan.carried.get(key), stored[1] if stored else None]
            if any(k is not None and _words(k) == _words(row) for k in kept):
                return
            if stored and key not in plan.carried and _words(stored[1]) == _words(shown):
                back = back or stored[0]
        plan.revisions += 1
        revision = (row[0], *row[1:9], 0, *row[10:])
        if back is not None:
            plan.updates.append((*revision, back))
            plan.tree.parents[back] = row[0]
            return
        ids = plan.tree.ids
        taken = [_revision_number(key) for key in _revisions_of(source_id, plan)]
        key = f"{source_id}#rev-{max(taken, default=0) + 1}"
        plan.revision_keys.setdefault(source_id, set()).add(key)
        ids[key] = self._next_message_id
        self._next_message_id += 1
        plan.inserts.append((ids[key], cid, row[0], key, *revision[1:]))
        plan.tree.parents[ids[key]] = row[0]

    def _write_local(self, ready: Prepared, plan: _Plan) -> None:
        """Turns a freehold export carried keep their origin and how they were got."""
        inserted = {row[3]: row[0] for row in plan.inserts}
        for source_id, (origin, generation) in ready.local.items():
            message_id = inserted.get(source_id)
            if message_id is None:
                continue  # stored already: it never changes
            self.db.execute("UPDATE messages SET origin=? WHERE id=?", (origin, message_id))
            if generation is not None:
                _local.write_generation(self.db, message_id, generation)

    def _write_messages(self, ready: Prepared, plan: _Plan, *, aside: bool = False) -> None:
        """Write ``plan``; a copy kept ``aside`` hides nothing and changes no context record."""
        if plan.found:  # an update's trigger re-indexes rows: index what waits first
            self._index_pending()
        self.db.executemany(_INSERT_MESSAGE, plan.inserts)
        self._fts_pending.extend((r[0], r[10]) for r in plan.inserts)
        if plan.updates:  # their triggers drop their glued words: listed again
            self.db.executemany(_UPDATE_MESSAGE, plan.updates)
            _index_glued(self.db, [(row[-1], row[7]) for row in plan.updates])
        if ready.local:
            self._write_local(ready, plan)
        self._link_attachments(ready, plan.tree.ids, plan.result)
        if plan.found and not aside:
            self._hide_vanished(ready, plan.found)
        if ready.head.context:
            upsert = _ADD_CONTEXT if aside else _UPSERT_CONTEXT
            self.db.executemany(upsert, _context_rows(ready.cid, ready.head))

    def _hide_vanished(
        self, ready: Prepared, existing: dict[str, tuple[int, tuple[Any, ...]]]
    ) -> None:
        """Messages a newer export no longer has are kept, but leave the visible path; turns
        written here are never the export's to hide."""
        present = {link[0] for link in ready.links}
        vanished = [(found[0],) for source, found in existing.items() if source not in present]
        self.db.executemany(
            "UPDATE messages SET on_visible_path=0 WHERE id=? AND origin IS NULL", vanished
        )

    def _ids_of_linking(self, cid: str, ready: Prepared) -> dict[str, int]:
        """Stored ids of the messages that point at files (none read when none does)."""
        wanted = [source_id for source_id, _, refs in ready.links if refs]
        if not wanted:
            return {}
        rows = self.db.execute(
            "SELECT source_message_id, id FROM messages WHERE conversation_id=? "
            "AND source_message_id IN (SELECT value FROM json_each(?))",
            (cid, dumps(wanted)),
        )
        return dict(rows.fetchall())

    def _link_attachments(self, ready: Prepared, ids: dict[str, int], result: AddResult) -> None:
        """Link each message to its files; a link keeps bytes an earlier import brought."""
        links, files = _links(ready, ids)
        if not links:
            return
        result.files_new += self.db.executemany(
            _INSERT_FILE,
            [
                (sha, r.sniffed_mime, r.size or 0, r.first_name or r.name)
                for sha, r in files.items()
            ],
        ).rowcount
        self.db.executemany(_UPSERT_LINK, _link_rows(links))
        self._links_again.update(mid for mid, _ in links)
        for (mid, pointer), ref in links.items():
            found = ref.sha256 is not None or self._scalar(
                "SELECT sha256 IS NOT NULL FROM message_attachments "
                "WHERE message_id=? AND pointer=?",
                (mid, pointer),
            )
            result.attachments_found += bool(found)
            result.attachments_missing += not found

    # -- turns written here (freehold chat) ---------------------------------------------

    def new_conversation(self, title: str | None, model: str | None = None) -> str:
        """A conversation started here: source kind ``LOCAL_KIND``, a fresh source id; no raw
        source (nothing came from elsewhere). Returns its id."""
        source = f"local-{uuid.uuid4().hex}"
        cid = conversation_id(LOCAL_KIND, source)
        now, stamp = time.time(), now_iso()
        with self.transaction():
            self.db.execute(
                "INSERT INTO conversations (id, source_kind, source_conversation_id, title, "
                "created_at, updated_at, model, digest, raw_sha256, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?)",
                (cid, LOCAL_KIND, source, title, now, now, model, stamp, stamp),
            )
        return cid

    def add_turn(self, cid: str, parent: int | None, messages: list[Message]) -> list[Message]:
        """Store ``messages``, written here, as a chain under message ``parent`` (None: at the
        root) and show it: its last message becomes the visible leaf. Returns the messages
        with their ids. Stored messages never change; only which path is visible does."""
        now = time.time()
        with self.transaction():
            above = self._scalar("SELECT source_message_id FROM messages WHERE id=?", (parent,))
            for message in messages:
                message.source_id = message.source_id or f"local-{uuid.uuid4().hex}"
                message.created_at = message.created_at or now
                message.on_visible_path = False
                message.parent_id, message.parent_source_id = parent, above
                message.origin = "local"
                above = message.source_id
                cursor = self.db.execute(
                    f"INSERT INTO messages ({_MESSAGE_COLUMNS}, origin) "
                    f"VALUES ({', '.join('?' * 16)})",
                    (None, cid, parent, message.source_id, *_message_row(message), "local"),
                )
                message.id = parent = int(cursor.lastrowid or 0)
                self.db.execute(
                    "INSERT INTO messages_fts(rowid, text) VALUES (?, ?)", (parent, message.text)
                )
                _index_glued(self.db, [(parent, message.text)])
                if message.generation is not None:
                    _local.write_generation(self.db, parent, message.generation)
            self.db.execute(
                "UPDATE conversations SET updated_at=max(coalesce(updated_at, 0), ?) WHERE id=?",
                (now, cid),
            )
            _local.show_path(self.db, cid, parent)
            self._redigest(cid)
        for message in messages:
            message.on_visible_path = True
        return messages

    def find_message(self, cid: str, ref: str) -> Message:
        """A message of conversation ``cid`` by its id in the archive, its source id, or a
        unique prefix of the source id (what ``show --json`` prints)."""
        return _queries.find_message(self.db, cid, ref)

    def mark_gone_upstream(self, kind: str, account_id: str | None, source_id: int) -> int:
        """Flag conversations of this account that a full export no longer had.

        Not when the export brought a copy older than the archive's (``_aside``): it is older
        than what the archive holds, and cannot know of what was begun or kept after it. An
        export that proves nothing either way (its copies the same as the archive's) is taken
        as the newest, as the order of imports says: what it lacks was deleted upstream,
        whenever it was last updated (a person's latest conversation is deleted too)."""
        if source_id in self._older:
            return 0
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE conversations SET gone_upstream_at=? WHERE source_kind=? "
                "AND account_id IS ? AND last_seen_source IS NOT ? AND gone_upstream_at IS NULL",
                (now_iso(), kind, account_id, source_id),
            )
        return cursor.rowcount

    # -- reading (the SQL lives in _queries.py) --------------------------------------------

    def stats(self, *, visible: bool = True) -> dict[str, Any]:
        return _queries.stats(self.db, visible=visible)

    def search(self, query: str, **filters: Any) -> list[_queries.Hit]:
        return _queries.search(self.db, query, **filters)

    def resolve(self, ref: str) -> str:
        return _queries.resolve(self.db, ref)

    def get_conversation(self, ref: str) -> Conversation:
        return _queries.load_conversation(self.db, self.resolve(ref))

    def select(self, **filters: Any) -> list[str]:
        """The ids ``iter_conversations`` would load, in its order: a count before the work."""
        return list(_queries.select_ids(self.db, **filters))

    def iter_conversations(self, **filters: Any) -> Iterator[Conversation]:
        """The selected conversations, loaded one at a time; a bad filter raises right here."""
        ids = list(_queries.select_ids(self.db, **filters))
        return (_queries.load_conversation(self.db, cid) for cid in ids)

    # -- what converting again reads (``reparse.py``; the SQL lives in _kept.py) ----------

    def stored(self, kind: str | None = None) -> list[_kept.Stored]:
        """The conversations that came from elsewhere (of ``kind`` only, when given)."""
        return _kept.stored(self.db, LOCAL_KIND, kind)

    def kept_raw(self, cid: str, sha256: str) -> tuple[bytes, int | None] | None:
        """Raw JSON ``sha256`` of ``cid`` and the import that brought it, if kept."""
        return _kept.raw(self.db, cid, sha256)

    def kept_files(self, source_id: int, wanted: re.Pattern[str]) -> dict[str, bytes]:
        return _kept.files(self.db, source_id, wanted)

    def attachment_links(self, cid: str) -> dict[_kept.Link, tuple[str | None, str | None]]:
        return _kept.attachment_links(self.db, cid)

    def raw_versions(self, cid: str) -> list[bytes]:
        """Every distinct raw JSON this conversation arrived as, oldest first, decompressed."""
        rows = self.db.execute(
            "SELECT data FROM conversation_raw WHERE conversation_id=? ORDER BY rowid", (cid,)
        )
        return [zlib.decompress(row[0]) for row in rows]

    def account_context(self) -> list[ContextRecord]:
        """The context records of the account (no conversation's): memories, project
        instructions and documents, each keyed by its importer's key, oldest first."""
        rows = self.db.execute(
            "SELECT kind, text, data, created_at, source_message_id FROM context_records "
            "WHERE conversation_id IS NULL ORDER BY created_at, id"
        )
        return [
            ContextRecord(kind, text, orjson.loads(data) if data else {}, created, key)
            for kind, text, data, created, key in rows
        ]

    def source_files(self) -> Iterator[tuple[str, bytes]]:
        """Every account-level file an import kept (``user.json``, ``skipped/…``), by name,
        decompressed, one at a time, in the order they were kept."""
        rows = self.db.execute("SELECT name, raw FROM source_files ORDER BY source_id, name")
        return ((name, zlib.decompress(raw)) for name, raw in rows)

    def sources(self) -> list[dict[str, Any]]:
        return _queries.sources(self.db)

    def context_records(self) -> list[dict[str, Any]]:
        return _queries.context_records(self.db)

    def personal_context(self) -> list[dict[str, Any]]:
        """Context records with their conversation's source, title, date and project."""
        return _queries.personal_context(self.db)

    def projects(self) -> list[dict[str, Any]]:
        """Projects and custom GPTs named by conversations, with counts and dates."""
        return _queries.projects(self.db)

    def conversation_rows(self, **filters: Any) -> _browse.Listing:
        return _browse.conversation_rows(self.db, **filters)

    def models(self) -> list[str]:
        return _browse.models(self.db)

    def models_starting(self, prefix: str) -> list[str]:
        return _browse.models_starting(self.db, prefix)

    def account_names(self) -> set[str]:
        """Every account and project some conversation names (one pass over conversations)."""
        return _queries.account_names(self.db)

    def kinds(self) -> list[str]:
        return _browse.kinds(self.db)

    def search_page(self, query: str, **filters: Any) -> _browse.SearchPage:
        return _browse.search_page(self.db, query, **filters)

    def attachment(self, sha256: str) -> _browse.AttachmentInfo | None:
        return _browse.attachment(self.db, sha256)

    def set_starred(self, cid: str, starred: bool) -> None:
        """The reader's star for a conversation (kept apart from the source's flag)."""
        _browse.set_starred(self.db, cid, starred)

    # -- the exit plan (rows in _exitplan.py, logic in exits.py) ----------------------------

    def exit_plan(self, *, removed: bool = False) -> list[_exitplan.PlanEntry]:
        return _exitplan.entries(self.db, removed=removed)

    def exit_platform(self, platform_id: str) -> _exitplan.PlanEntry | None:
        return _exitplan.entry(self.db, platform_id)

    def save_exit_platform(self, entry: _exitplan.PlanEntry) -> str:
        with self.transaction():
            return _exitplan.save(self.db, entry)

    def remove_exit_platform(self, platform_id: str) -> int:
        with self.transaction():
            return _exitplan.remove(self.db, platform_id, now_iso())

    def record_exit_export(
        self, values: dict[str, Any]
    ) -> tuple[_exitplan.ExportRecord, bool, str | None]:
        with self.transaction():
            return _exitplan.add_export(self.db, values)

    def exit_exports(self, platform_id: str | None = None) -> list[_exitplan.ExportRecord]:
        return _exitplan.exports(self.db, platform_id)

    def link_exit_import(self, export_id: int, source_id: int) -> None:
        with self.transaction():
            _exitplan.link_import(self.db, export_id, source_id)

    def sweep_temporary(self) -> int:
        """Remove what killed processes left half-written in the blob and vault folders."""
        return sweep_temporary(self.blobs) + sweep_temporary(self.vault)

    def write_vault(self, stream: IO[bytes]) -> tuple[str, str | None, int]:
        """Keep a file in the vault by content, exactly as blobs are kept (``write_blob``)."""
        return write_blob(self.vault, stream)


def _make_home(home: Path, database: Path) -> list[Path]:
    """Create the data folder (and missing parents) and an empty database file, all private
    (``_private``); returns the folders made, outermost first."""
    try:
        made = _private.make_dirs(home)
        _private.create(database)
    except OSError as error:
        raise ArchiveError(
            f"{home}: cannot create the data folder ({error.strerror}) — "
            "check its permissions or set FREEHOLD_HOME to a folder you own"
        ) from error
    return made


def open_archive(
    home: Path | None = None,
    notice: Callable[[str], None] | None = None,
    *,
    create: bool = True,
) -> Archive:
    """Open (migrating if needed) the archive in ``home`` or ``home_dir()``; ``notice`` is told
    before a migration step rewrites an existing archive. ``create=False`` refuses a folder
    without an archive (``NoArchiveError``) instead of making an empty one there."""
    return Archive(home if home is not None else home_dir(), notice, create=create)
