"""When freehold's own storage fails: one rule for what a person is told.

The archive's database, its blob and vault folders, the files it keeps beside them, and the
files an export writes are freehold's to write. When the disk under them refuses (another
program holds the database, the disk is full, a folder is read-only), nothing is wrong with
the export being read or the archive: the person has to free space, close a program or fix a
permission, then run the command again. ``failure`` turns such an error into a
``StorageError`` with one line that says so, naming the path and the real cause; anything else
is not a storage failure and is left as it is (``None``).

Where it applies, once each:

- every SQL statement the archive runs (``Archive``'s connection class, ``archive.py``):
  SQLite's busy, read-only, disk-full and I/O errors;
- every file freehold writes in the data folder or an export's folder: ``guarded`` around the
  writing, ``written`` for a whole file (a temporary name beside it, renamed when complete,
  removed on any error: a reader never finds half a file under the final name).

The command line prints the line (``cli/_base.py``), the import stops at it (a storage failure
is not one conversation's problem), and the web app answers with it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from freehold.errors import StorageError

__all__ = [
    "DAMAGED",
    "FULL",
    "NOT_WRITABLE",
    "STORAGE_CODES",
    "STORAGE_KINDS",
    "failure",
    "guarded",
    "sha256_of",
    "sqlite_code",
    "sqlite_failure",
    "temporary_name",
    "written",
]

# Each ``StorageError.kind``: another program writes the database; the place cannot be written
# here (a permission, a read-only disk); no space (or over a size limit); the disk refused a
# read or write; a part of the path is a file; any other refusal.
STORAGE_KINDS = ("busy", "read-only", "full", "io", "path", "write")

FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
# SQLite's primary result codes (``sqlite_code``) that are the storage's doing, not the code's:
# the one table of them (``_sqlite`` reads DAMAGED, ``faults`` STORAGE_CODES). DAMAGED: a file
# that is not a database, or what pages of two states look like to a reader.
DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
STORAGE_CODES = (
    DAMAGED
    | _BUSY
    | {
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)


def failure(
    error: OSError,
    path: Path | str | None = None,
    *,
    place: bool = False,
    needs: int | None = None,
) -> StorageError:
    """The one line for an ``OSError`` met while writing ``path`` (else the error's own);
    ``place``: name ``path`` whatever file the error names (a backup destination or a restore
    target is the place a person knows; the temporary file inside it says nothing); ``needs``:
    the bytes the whole write takes, said when there is no space."""
    where = error.filename if error.filename is not None and not place else path
    cause = error.strerror or str(error)
    if error.errno in FULL:
        size = f"it needs {needs / 1e6:,.1f} MB: " if needs is not None else ""
        return StorageError(
            f"no space left for {where} ({cause}) — {size}free space and run again", "full"
        )
    if error.errno in NOT_WRITABLE:
        return StorageError(
            f"{where} is not writable ({cause}) — make it writable for you (or mount the disk "
            "read-write) and run again",
            "read-only",
        )
    if error.errno == errno.ENOTDIR:
        return StorageError(
            f"{where}: a part of this path is a file, not a folder ({cause}) — give a folder",
            "path",
        )
    return StorageError(f"cannot write {where} ({cause}) — check the disk and run again")


def sqlite_failure(error: sqlite3.Error, path: Path) -> StorageError | None:
    """The one line for SQLite's busy, read-only, full and I/O errors on ``path``, and for
    one it cannot open in a place that cannot be written; None for any other error (a
    constraint, a damaged file: not the storage's doing)."""
    code = sqlite_code(error)
    if code in _BUSY:
        return StorageError(
            f"the archive is busy: another program is writing {path} ({error}) — close it, "
            "or wait for it to finish, and try again",
            "busy",
        )
    if code == sqlite3.SQLITE_READONLY or (code == sqlite3.SQLITE_CANTOPEN and _unwritable(path)):
        return StorageError(
            f"{path} is not writable ({error}) — make the archive and its folder writable "
            "for you, and run again",
            "read-only",
        )
    if code == sqlite3.SQLITE_FULL:
        return StorageError(
            f"no space left for {path} ({error}) — free space and run again", "full"
        )
    if code == sqlite3.SQLITE_IOERR:
        return StorageError(
            f"{path}: the disk refused a read or write ({error}: it is full, over a size "
            "limit, or failing) — free space or check the disk, and run again",
            "io",
        )
    return None


def sqlite_code(error: BaseException) -> int:
    """SQLite's primary result code of ``error`` (the low byte of its ``sqlite_errorcode``);
    0 when it has none."""
    return int(getattr(error, "sqlite_errorcode", 0)) & 0xFF


def _unwritable(path: Path) -> bool:
    """An existing file in a folder this process cannot write (a read-only disk, too): where
    SQLite cannot open what it needs beside the file (its WAL) and says only "cannot open"."""
    return path.exists() and not os.access(path.parent, os.W_OK)


@contextmanager
def guarded(path: Path | str) -> Iterator[None]:
    """Any ``OSError`` inside becomes the ``StorageError`` for writing ``path``. Only around
    code that writes: an error reading something else would be told as a write failure."""
    try:
        yield
    except OSError as error:
        raise failure(error, path) from error


def temporary_name(path: Path) -> Path:
    """Where ``written`` writes ``path`` until it is complete: beside it, ``<name>.tmp``."""
    return path.with_name(path.name + ".tmp")


@contextmanager
def written(
    path: Path, *, text: bool = False, newline: str | None = None, mode: int = 0o666
) -> Iterator[IO[Any]]:
    """``path`` written whole: the body writes to ``<name>.tmp`` beside it (a new file, made
    with ``mode`` before the umask), which is renamed to ``path`` when the body ends. On any
    error the temporary file is removed and ``path`` is as it was; a write that fails becomes
    a ``StorageError`` naming ``path``. The rename replaces a link planted at ``path``, never
    writes through it; text is UTF-8, anything unencodable replaced."""
    temporary = temporary_name(path)
    with guarded(path):
        temporary.unlink(missing_ok=True)  # left by a run cut short (never written through)
        handle = _open(temporary, text, newline, mode)
    try:
        with handle:
            yield handle
        with guarded(path):
            os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (None, os.fspath(temporary)):
            raise failure(error, path) from error  # a write to the file itself failed
        raise


def _open(temporary: Path, text: bool, newline: str | None, mode: int) -> IO[Any]:
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    if text:
        return os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline=newline)
    return os.fdopen(fd, "wb")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex (read in blocks by ``hashlib.file_digest``)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
