"""The SQLite files freehold keeps beside the archive: backup state, embeddings, rehearsals.

Each is private like everything in the data folder (0600 in 0700 folders), in WAL mode (a
reader never waits for the writer), and in autocommit mode, its writes grouped by
``transaction`` (``BEGIN IMMEDIATE``: a second writer waits at the start, never half-way).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from freehold import _private

__all__ = ["open_private", "transaction"]


def open_private(path: Path, schema: str, *, threads: bool = False) -> sqlite3.Connection:
    """``path`` opened (made private first when new) with ``schema`` applied (idempotent SQL);
    ``threads``: the connection may be used from other threads (the caller serialises)."""
    _private.make_dirs(path.parent)
    _private.create(path)
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=not threads)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
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
