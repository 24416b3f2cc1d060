"""Freehold's SQLite files: the archive, and those it keeps beside it (backup state,
embeddings, rehearsals). One connection class for all of them, so each tells a failure the
same way.

``Connection``: a statement that fails for the storage's sake (busy, read only, full, I/O)
raises ``storage.sqlite_failure``'s one line, naming the file; a file that is not a database
(or a damaged one) raises ``ArchiveError`` naming it with what to do (``damaged``: for a file
beside the archive, which can be set aside and made again; the archive gives none and tells
it itself). Any other error is SQLite's own. ``connect`` opens one, read-write or read only.

The files beside the archive (``open_private``) are private like everything in the data
folder (0600 in 0700 folders), in WAL mode (a reader never waits for the writer), and in
autocommit mode, their writes grouped by ``transaction`` (``BEGIN IMMEDIATE``: a second
writer waits at the start, never half-way). Making them where the disk refuses is
``storage.guarded``'s line.

Reading never creates: opened for a command that only reads (``create=False``), a file that is
not there is an empty database in memory (it reads as "nothing yet"), and one in a folder this
process cannot write is read read-only (``connect(read_only=True)``, the archive's rule too), so
neither a folder nor a file, nor SQLite's ``-wal`` and ``-shm`` beside it, is made.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from freehold import _private, storage
from freehold.errors import ArchiveError

__all__ = [
    "BUSY_TIMEOUT",
    "Connection",
    "Cursor",
    "changed_while_read",
    "connect",
    "open_private",
    "read_only_uri",
    "transaction",
]

# How long a statement waits for another program's write transaction before the file is
# called busy (``storage.sqlite_failure``), in seconds.
BUSY_TIMEOUT = 30.0


class Connection(sqlite3.Connection):
    """A connection whose failed statements are told as the storage's or the file's (above).
    A statement reads its pages while its rows are fetched, too, not only at ``execute``: its
    cursor (``Cursor``) tells a failure there the same way."""

    path = Path("archive.sqlite")
    read_only = False
    damaged: str | None = None  # what to do with a damaged file; None: SQLite's own error

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        return self.cursor(Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Cursor:
        return self.cursor(Cursor).executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.DatabaseError as error:
            raise self.failure(error) from error

    def failure(self, error: sqlite3.DatabaseError) -> Exception:
        """What a failed statement raises. Read read-only, a damaged page is most likely
        another program's write under this reader (``connect``): run again, not a backup."""
        if isinstance(error, sqlite3.OperationalError):
            failed = storage.sqlite_failure(error, self.path)
            if failed is not None:
                return failed
        if storage.sqlite_code(error) not in storage.DAMAGED:
            return error
        if self.read_only:
            return ArchiveError(changed_while_read(self.path, error, self.damaged))
        if self.damaged is not None:
            return ArchiveError(
                f"{self.path}: damaged, not a usable database ({error}) — {self.damaged}"
            )
        return error


class Cursor(sqlite3.Cursor):
    """The one place statements run and their rows are fetched: every error there becomes
    ``Connection.failure``'s. Iteration fetches in batches (a Python ``__next__`` per row
    would cost about half again on a long scan)."""

    connection: Connection

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        with self._told():
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Cursor:
        with self._told():
            return super().executemany(sql, parameters)

    def fetchone(self) -> Any:
        with self._told():
            return super().fetchone()

    def fetchmany(self, size: int | None = None) -> list[Any]:
        with self._told():
            return super().fetchmany(self.arraysize if size is None else size)

    def fetchall(self) -> list[Any]:
        with self._told():
            return super().fetchall()

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # a generator, not self
        return self._rows()

    def __next__(self) -> Any:
        with self._told():
            return super().__next__()

    def _rows(self) -> Iterator[Any]:
        while rows := self.fetchmany(256):
            yield from rows

    @contextmanager
    def _told(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise self.connection.failure(error) from error


def changed_while_read(path: Path, error: sqlite3.Error, damaged: str | None = None) -> str:
    """A damaged page met read read-only: most likely another program's write under this
    reader, so run again first; ``damaged``: what to do with this file if it says so every
    time (each file its own: restore the archive, delete the embeddings…)."""
    return (
        f"{path}: changed while it was read read-only ({error}) — another program writes it: "
        f"run again (if it says so every time, it is damaged: {damaged or 'restore it'})"
    )


def connect(
    path: Path, *, read_only: bool = False, threads: bool = True, damaged: str | None = None
) -> Connection:
    """``path`` for reading and writing; or, ``read_only`` (a folder this process cannot
    write), read only (``docs/archive-format.md``). SQLite reads a WAL database there only
    with its ``-wal`` and ``-shm`` files present (then ``mode=ro``); without a ``-wal`` it is
    read as ``immutable``, which needs neither. That folder is read-only to this process only:
    another program may write the file meanwhile (a read-only mount of a live archive,
    another user's), and ``immutable`` then reads pages of two states: a "malformed" error
    while read read-only is told as that (``changed_while_read``), to run again. A ``-wal``
    without its ``-shm`` cannot be read without writing: SQLite's read-only error says so,
    told as the folder's. ``threads``: the connection may be used from other threads (the
    caller serialises)."""
    target = read_only_uri(path) if read_only else os.fspath(path)
    try:
        db = sqlite3.connect(
            target,
            uri=read_only,
            isolation_level=None,
            check_same_thread=not threads,
            timeout=BUSY_TIMEOUT,
            factory=Connection,
        )
    except sqlite3.OperationalError as error:  # cannot open: where it cannot be written
        raise storage.sqlite_failure(error, path) or error from error
    db.path, db.read_only, db.damaged = path, read_only, damaged
    return db


def read_only_uri(path: Path) -> str:
    """The URI that reads ``path`` without writing anything beside it (``connect``'s rule):
    ``mode=ro`` when its ``-wal`` is there, else ``immutable``."""
    wal = path.with_name(path.name + "-wal").exists()
    return f"{path.absolute().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")


def open_private(
    path: Path, schema: str, *, damaged: str, threads: bool = False, create: bool = True
) -> sqlite3.Connection:
    """``path`` opened (made private first when new) with ``schema`` applied (idempotent SQL);
    ``damaged``: what to do when it is not a usable database (told with its name);
    ``threads``: the connection may be used from other threads (the caller serialises);
    ``create=False``: for reading only, making nothing (the module's docstring)."""
    if not create and not path.exists():
        db = connect(Path(":memory:"), threads=threads, damaged=damaged)
        script = schema
    elif not create and not os.access(path.parent, os.W_OK):
        return connect(path, read_only=True, threads=threads, damaged=damaged)
    else:
        with storage.guarded(path):
            _private.make_dirs(path.parent)
            _private.create(path)
        db = connect(path, threads=threads, damaged=damaged)
        script = "PRAGMA journal_mode=WAL;" + schema
    try:
        db.executescript(script)
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, rolled back whole on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
