"""The SQLite files freehold keeps beside the archive: backup state, embeddings, rehearsals.

Each is private like everything in the data folder (0600 in 0700 folders), in WAL mode (a
reader never waits for the writer), and in autocommit mode, its writes grouped by
``transaction`` (``BEGIN IMMEDIATE``: a second writer waits at the start, never half-way).

Reading never creates: opened for a command that only reads (``create=False``), a file that is
not there is an empty database in memory (it reads as "nothing yet"), and one in a folder this
process cannot write is read read-only (``read_only_uri``, the archive's rule too), so neither
a folder nor a file, nor SQLite's ``-wal`` and ``-shm`` beside it, is made. A file that cannot
be opened for writing is the storage line (``storage.sqlite_failure``), not a traceback.

Opening one to write is a write (the folder, the file, the WAL setting): a disk that refuses is the
storage line (``storage.py``), never a bare ``OSError`` or SQLite's "unable to open database
file". In a data folder that cannot be written (the archive is then read read-only,
``Archive.read_only``), an existing file is opened read-only by the archive's rule
(``read_only``, ``read_only_uri``): ``mode=ro`` beside its ``-wal``, else ``immutable``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from freehold import _private, storage

__all__ = ["open_private", "read_only", "read_only_uri", "transaction"]


def open_private(
    path: Path, schema: str, *, threads: bool = False, create: bool = True
) -> sqlite3.Connection:
    """``path`` opened (made private first when new) with ``schema`` applied (idempotent SQL);
    ``threads``: the connection may be used from other threads (the caller serialises);
    ``create=False``: for reading only, making nothing (the module's docstring)."""
    if not create and not path.exists():
        return _connect(":memory:", threads, schema)
    if not create and not os.access(path.parent, os.W_OK):
        return read_only(path, threads=threads)
    with storage.guarded(path):
        _private.make_dirs(path.parent)
        _private.create(path)
    with _storage(path):
        return _connect(os.fspath(path), threads, "PRAGMA journal_mode=WAL;" + schema)


def _connect(
    target: str, threads: bool, script: str = "", *, uri: bool = False
) -> sqlite3.Connection:
    """``target`` opened in autocommit mode, ``script`` run; closed again if it fails."""
    db = sqlite3.connect(
        target, uri=uri, isolation_level=None, timeout=30, check_same_thread=not threads
    )
    try:
        db.executescript(script)
    except BaseException:
        db.close()
        raise
    return db


def read_only(path: Path, *, threads: bool = False) -> sqlite3.Connection:
    """An existing ``path`` opened for reading only, in a folder this process cannot write
    (``read_only_uri``, the rule ``archive._connect`` follows for the archive)."""
    with _storage(path):
        return _connect(read_only_uri(path), threads, uri=True)


def read_only_uri(path: Path) -> str:
    """``path`` to be read in a folder this process cannot write. SQLite reads a WAL database
    there only with its ``-wal`` and ``-shm`` files present (then ``mode=ro``); without a
    ``-wal`` it is read as ``immutable``, which needs neither (and sees no other program's
    writes while it reads: ``archive._connect``)."""
    wal = path.with_name(path.name + "-wal").exists()
    return f"{path.absolute().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")


@contextmanager
def _storage(path: Path) -> Iterator[None]:
    """SQLite's busy, read-only, full and I/O errors on ``path`` as the storage line; any
    other error as it is."""
    try:
        yield
    except sqlite3.OperationalError as error:
        failed = storage.sqlite_failure(error, path)
        if failed is None:
            raise
        raise failed from error


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
