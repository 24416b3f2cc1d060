"""The SQLite files freehold keeps beside the archive: backup state, embeddings, rehearsals.

Each is private like everything in the data folder (0600 in 0700 folders), in WAL mode (a
reader never waits for the writer), and in autocommit mode, its writes grouped by
``transaction`` (``BEGIN IMMEDIATE``: a second writer waits at the start, never half-way).
Opening one is a write (the folder, the file, the WAL setting): a disk that refuses is the
storage line (``storage.py``), never a bare ``OSError`` or SQLite's "unable to open database
file". In a data folder that cannot be written (the archive is then read read-only,
``Archive.read_only``), an existing file is opened read-only by the archive's rule
(``read_only``): ``mode=ro`` beside its ``-wal``, else ``immutable``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from freehold import _private, storage

__all__ = ["open_private", "read_only", "transaction"]


def open_private(path: Path, schema: str, *, threads: bool = False) -> sqlite3.Connection:
    """``path`` opened (made private first when new) with ``schema`` applied (idempotent SQL);
    ``threads``: the connection may be used from other threads (the caller serialises)."""
    with storage.guarded(path):
        _private.make_dirs(path.parent)
        _private.create(path)
    with _storage(path):
        db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=not threads)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
    return db


def read_only(path: Path, *, threads: bool = False) -> sqlite3.Connection:
    """An existing ``path`` opened for reading only, in a folder this process cannot write:
    ``mode=ro`` when its ``-wal`` is there (SQLite needs it), else ``immutable`` (which needs
    neither it nor a ``-shm``) — the rule ``archive._connect`` follows for the archive."""
    wal = path.with_name(path.name + "-wal").exists()
    target = f"{path.absolute().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")
    with _storage(path):
        return sqlite3.connect(
            target, uri=True, isolation_level=None, timeout=30, check_same_thread=not threads
        )


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
