"""What a snapshot reads: a consistent copy of the archive, its conversation digests, and the
attachment and vault files.

The copy is made by SQLite's backup API in one step, which holds one read transaction for
the whole copy: the copy is the archive as one committed moment left it, even while an
import writes (WAL lets it go on meanwhile). A file copy of a live WAL database is never
made. The backup API copies page for page, so a page keeps its place from one snapshot to
the next, and fixed 16 KiB chunks (one page) find unchanged pages unchanged.

A conversation's digest is the SHA-256 of its ``conversations`` row followed by its rows in
every table that has a ``conversation_id`` column (table by table in name order, rows in
rowid order, each row as the JSON array of its values, a BLOB as the hex SHA-256 of its
bytes; orjson writes it, as fast as SQLite reads the rows). The digests, one
``<id> <sha256>`` line per conversation in rowid order, are stored with the snapshot; a
restore recomputes them from the restored archive, a drill from the live one.

The files the archive *holds* are those it says it stored: ``blobs/ab/<sha256>`` for every
row of ``attachments`` (a row is written only with the bytes, by the import that brought
them) and ``vault/ab/<sha256>`` for every export ``exit_exports`` names. An attachment an
export never brought has a link (``message_attachments``) without a SHA-256 and no row: it
is counted missing by ``stats``, and is no loss. A stored file's SHA-256 is its name
(``format.stored_fault``), and every file the archive holds belongs in each snapshot
(``lacking``): one gone from the data folder, or changed on disk, is carried forward from
the last good copy a snapshot holds, or named lost (``run``); a restore leaves out what a
snapshot lacks and names it (``restore``).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from freehold import _private
from freehold.archive import ARCHIVE_NAME
from freehold.backup.format import BLOB_CHUNK, DB_CHUNK, path_allowed
from freehold.errors import BackupError

__all__ = [
    "Source",
    "chunk_size",
    "consistent_copy",
    "digests",
    "file_sources",
    "held",
    "lacking",
    "read_digests",
    "write_digests",
]

_STORED = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")
_SETTINGS = ("model-lifecycle.toml",)  # never config.toml: see format._PATH


@dataclass(frozen=True, slots=True)
class Source:
    """One file of the snapshot: its path in the data folder (None: the digests)."""

    path: str | None
    file: Path
    size: int


def chunk_size(path: str | None) -> int:
    return DB_CHUNK if path is None or path == ARCHIVE_NAME else BLOB_CHUNK


def consistent_copy(home: Path, out: Path) -> None:
    database = home / ARCHIVE_NAME
    if not database.is_file():
        raise BackupError(f"{database}: no archive to back up — import an export first")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    _private.create(out)  # 0600, and so its journal: SQLite gives it the database's mode
    target = sqlite3.connect(out)
    try:
        source.backup(target)  # one step (pages=-1): one read transaction, one moment
    except sqlite3.Error as error:
        raise BackupError(f"{database}: cannot be copied ({error})") from error
    finally:
        target.close()
        source.close()


def _linked_tables(db: sqlite3.Connection) -> list[str]:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    ]
    return sorted(
        name
        for name in names
        if any(c[1] == "conversation_id" for c in db.execute(f"PRAGMA table_info('{name}')"))
    )


def _blob(value: object) -> str:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"not a column value: {type(value).__name__}")


def _row(row: tuple[object, ...]) -> bytes:
    return orjson.dumps(row, default=_blob)


def digests(db: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    """``(conversation id, digest)`` in rowid order, within the caller's read transaction."""
    hashers: dict[str, hashlib._Hash] = {}
    for row in db.execute("SELECT * FROM conversations ORDER BY rowid"):
        hashers[row[0]] = hashlib.sha256(_row(row))
    for table in _linked_tables(db):
        cursor = db.execute(f"SELECT conversation_id, * FROM '{table}' ORDER BY rowid")
        for row in cursor:
            hasher = hashers.get(row[0])
            if hasher is not None:  # an account-wide record (no conversation) has None
                hasher.update(_row(row[1:]))
    for cid, hasher in hashers.items():
        yield cid, hasher.hexdigest()


def write_digests(database: Path, out: Path) -> int:
    """The digests of ``database`` written to ``out``; returns how many conversations."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    count = 0
    try:
        with _private.open_new(out) as text:
            for cid, digest in digests(db):
                text.write(f"{cid} {digest}\n".encode("ascii"))
                count += 1
    finally:
        db.close()
    return count


def read_digests(path: Path) -> dict[str, str]:
    found = {}
    with path.open(encoding="ascii") as text:
        for line in text:
            cid, _, digest = line.strip().partition(" ")
            found[cid] = digest
    return found


def held(db: sqlite3.Connection) -> set[str]:
    """The stored files ``db`` says it holds (see the module docstring), as snapshot paths."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    found: set[str] = set()
    for top, table in (("blobs", "attachments"), ("vault", "exit_exports")):
        if table in tables:
            for (sha,) in db.execute(f"SELECT DISTINCT sha256 FROM {table}"):
                found.add(f"{top}/{sha[:2]}/{sha}")
        # a name that is no SHA-256 cannot be a stored file's: it is in no snapshot's paths
    return found


def lacking(database: Path, paths: set[str]) -> list[str]:
    """The stored files the archive at ``database`` holds that are not among ``paths``."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return sorted(held(db) - paths)
    finally:
        db.close()


def file_sources(home: Path) -> Iterator[Source]:
    """The person's own files — ``model-lifecycle.toml`` and ``profiles/`` (each
    written whole by a rename, so read as one version) — then every stored file under
    ``blobs/`` and ``vault/`` (``ab/<sha256>``), sorted."""
    for name in _SETTINGS:
        if (home / name).is_file():
            yield Source(name, home / name, (home / name).stat().st_size)
    for file in sorted((home / "profiles").glob("*/*")):
        relative = file.relative_to(home).as_posix()
        if file.is_file() and path_allowed(relative):
            yield Source(relative, file, file.stat().st_size)
    for top in ("blobs", "vault"):
        folder = home / top
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("??/*")):
            relative = file.relative_to(folder).as_posix()
            if _STORED.match(relative) and file.is_file():
                yield Source(f"{top}/{relative}", file, file.stat().st_size)
