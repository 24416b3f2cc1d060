"""What this machine knows about its backups: ``$FREEHOLD_HOME/backup/state.sqlite``.

Runs, verifies and drills (what ``status`` reports), the snapshots this machine wrote to each
destination (a destination that lost one, or shows an older one in its place, is named by
verify), the sampled verify's position, and the chunk index: for each destination, which
chunk (by SHA-256) lies where in which pack, so that a run sends only chunks the destination
does not hold. Each run checks the index against the destination's listing first and forgets
chunks whose pack is gone, and verify forgets those of a damaged pack, so the next run sends
them again: the index can make a run slower when it is wrong, never a snapshot incomplete. The index
belongs to one set of recipients: when ``[backup] recipients`` changes, it is emptied, so a
snapshot never points into a pack that one of its recipients cannot open.

The state lives beside the archive, not in it: a snapshot never carries it, so a restored data
folder says nothing about backups it did not make (``status`` says "never" until it runs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from freehold._sqlite import open_private, transaction
from freehold.archive import now_iso
from freehold.backup.credentials import masked
from freehold.backup.format import Chunk, FileEntry

__all__ = ["Event", "State", "open_state"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, destination TEXT NOT NULL, at TEXT NOT NULL,
    ok INTEGER NOT NULL, snapshot TEXT, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS written (
    destination TEXT NOT NULL, snapshot TEXT NOT NULL, PRIMARY KEY (destination, snapshot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    destination TEXT NOT NULL, sha256 TEXT NOT NULL, pack TEXT NOT NULL,
    offset INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (destination, sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunks_pack ON chunks (destination, pack);
CREATE TABLE IF NOT EXISTS cursor (destination TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (destination TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stored (
    destination TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, chunks TEXT NOT NULL,
    PRIMARY KEY (destination, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stored_path ON stored (path);
"""


@dataclass(frozen=True, slots=True)
class Event:
    """A run, verify or drill: when, whether it passed, and what it found."""

    kind: str
    destination: str
    at: str
    ok: bool
    snapshot: str | None
    detail: dict[str, Any]


# What to do with a damaged state: the snapshots are at the destinations, not in it.
_DAMAGED = (
    "move it away (or delete it): a new one is started; the next run sends every chunk "
    "again and `status` says never until it runs (docs/backups.md)"
)


class State:
    def __init__(self, path: Path | None, *, create: bool = True) -> None:
        """The state at ``path``; None: one in memory, forgotten at the end. ``create=False``
        (a command that only reads) makes nothing: no state there reads as nothing yet."""
        if path is None:
            self.db = sqlite3.connect(":memory:", isolation_level=None)
            self.db.executescript(_SCHEMA)
        else:
            self.db = open_private(path, _SCHEMA, damaged=_DAMAGED, create=create)

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[None]:
        return transaction(self.db)

    def record(
        self, kind: str, destination: str, ok: bool, snapshot: str | None, **detail: Any
    ) -> None:
        self.db.execute(
            "INSERT INTO events (kind, destination, at, ok, snapshot, detail) VALUES (?,?,?,?,?,?)",
            (kind, destination, now_iso(), int(ok), snapshot, _dumped(detail)),
        )

    def last(self, kind: str, destination: str, *, ok: bool | None = None) -> Event | None:
        sql = "SELECT kind, destination, at, ok, snapshot, detail FROM events"
        sql += " WHERE kind=? AND destination=?" + ("" if ok is None else f" AND ok={int(ok)}")
        row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", (kind, destination)).fetchone()
        if row is None:
            return None
        return Event(row[0], row[1], row[2], bool(row[3]), row[4], orjson.loads(row[5]))

    def wrote(self, destination: str, snapshot: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO written VALUES (?, ?)", (destination, snapshot))

    def written(self, destination: str) -> set[str]:
        rows = self.db.execute("SELECT snapshot FROM written WHERE destination=?", (destination,))
        return {row[0] for row in rows}

    def forget_snapshots(self, destination: str, snapshots: Iterable[str]) -> None:
        self.db.executemany(
            "DELETE FROM written WHERE destination=? AND snapshot=?",
            [(destination, s) for s in snapshots],
        )

    def forget_destination(self, destination: str) -> None:
        """Everything kept about ``destination`` (it was removed): a later one given its
        name starts with no runs, snapshots, chunks or cursor of the old one."""
        with self.transaction():
            for table in ("events", "written", "chunks", "cursor", "recipients", "stored"):
                self.db.execute(f"DELETE FROM {table} WHERE destination=?", (destination,))

    def chunk(self, destination: str, sha256: str) -> Chunk | None:
        row = self.db.execute(
            "SELECT pack, offset, length FROM chunks WHERE destination=? AND sha256=?",
            (destination, sha256),
        ).fetchone()
        return None if row is None else Chunk(row[0], row[1], row[2], sha256)

    def add_chunks(self, destination: str, chunks: Iterable[Chunk]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?)",
            [(destination, c.sha256, c.pack, c.offset, c.length) for c in chunks],
        )

    def indexed_packs(self, destination: str) -> set[str]:
        rows = self.db.execute(
            "SELECT DISTINCT pack FROM chunks WHERE destination=?", (destination,)
        )
        return {row[0] for row in rows}

    def forget_packs(self, destination: str, packs: Iterable[str]) -> None:
        self.db.executemany(
            "DELETE FROM chunks WHERE destination=? AND pack=?", [(destination, p) for p in packs]
        )

    def keep_stored(
        self, destination: str, entries: Iterable[FileEntry], *, replace: bool = True
    ) -> None:
        """Where the good copy of each stored file (``blobs/``, ``vault/``: named by its
        SHA-256, so one path is one content for ever) lies at ``destination``: its chunks, so
        that a later run can carry it forward into its snapshot once the file is lost here.
        ``replace`` True (a snapshot just written): a row whose chunks differ from the entry's
        is replaced; False (verify learning older snapshots'): only a row that does not count
        (``stored``) is."""
        kept = dict(
            self.db.execute("SELECT path, chunks FROM stored WHERE destination=?", (destination,))
        )
        rows = []
        for entry in entries:
            chunks = orjson.dumps(_rows(entry)).decode()
            row = kept.get(entry.path)
            if row == chunks or (
                not replace and row is not None and self._counts(destination, row)
            ):
                continue
            rows.append((destination, entry.path, entry.size, chunks))
        self.db.executemany("INSERT OR REPLACE INTO stored VALUES (?, ?, ?, ?)", rows)

    def _counts(self, destination: str, chunks: str) -> bool:
        """The one rule for a stored row: it counts only while every chunk it names is in the
        chunk index at that same pack. The index is what ``forget_packs`` (a pack gone or
        damaged) and ``new_recipients`` keep right; a row is a cache nothing else marks out
        of date, so a row the index does not back holds nothing a run may point at."""
        for pack, _, _, sha in orjson.loads(chunks):
            found = self.chunk(destination, sha)
            if found is None or found.pack != pack:
                return False
        return True

    def stored(self, destination: str, path: str) -> FileEntry | None:
        """The good copy of the stored file ``path`` at ``destination`` (``keep_stored``),
        where its row counts (``_counts``)."""
        row = self.db.execute(
            "SELECT size, chunks FROM stored WHERE destination=? AND path=?", (destination, path)
        ).fetchone()
        if row is None or not self._counts(destination, row[1]):
            return None
        chunks = [Chunk(p, int(o), int(n), h) for p, o, n, h in orjson.loads(row[1])]
        return FileEntry(path, int(row[0]), path.rpartition("/")[2], chunks)

    def stale_stored(self, destination: str, path: str) -> bool:
        """Whether a row for ``path`` is kept that does not count: the copy a snapshot held
        lies in a pack the index no longer trusts (gone, damaged, or sent before the
        recipients changed, so a recipient cannot open it)."""
        row = self.db.execute(
            "SELECT chunks FROM stored WHERE destination=? AND path=?", (destination, path)
        ).fetchone()
        return row is not None and not self._counts(destination, row[0])

    def holds_stored(self, path: str) -> list[str]:
        """The destinations whose snapshots this machine knows to hold ``path`` (rows that
        count)."""
        rows = self.db.execute("SELECT destination, chunks FROM stored WHERE path=?", (path,))
        return sorted(d for d, chunks in rows.fetchall() if self._counts(d, chunks))

    def recipients(self, destination: str) -> str | None:
        """The fingerprint of the recipients the indexed packs were encrypted to."""
        row = self.db.execute(
            "SELECT fingerprint FROM recipients WHERE destination=?", (destination,)
        ).fetchone()
        return None if row is None else str(row[0])

    def new_recipients(self, destination: str, fingerprint: str) -> None:
        """The recipients changed: the chunk index is emptied, so that the next snapshot's
        every chunk is sent again, in packs each recipient opens."""
        with self.transaction():
            self.db.execute("DELETE FROM chunks WHERE destination=?", (destination,))
            self.db.execute(
                "INSERT OR REPLACE INTO recipients VALUES (?, ?)", (destination, fingerprint)
            )

    def cursor(self, destination: str) -> int:
        row = self.db.execute("SELECT position FROM cursor WHERE destination=?", (destination,))
        found = row.fetchone()
        return 0 if found is None else int(found[0])

    def set_cursor(self, destination: str, position: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO cursor VALUES (?, ?)", (destination, position))


def _rows(entry: FileEntry) -> list[tuple[str, int, int, str]]:
    return [(c.pack, c.offset, c.length, c.sha256) for c in entry.chunks]


def _dumped(detail: dict[str, Any]) -> str:
    """An event's detail as JSON, every secret in a quoted URL masked (an error may quote a
    destination URL written with a password into config.toml by hand)."""

    def hide(value: Any) -> Any:
        if isinstance(value, str):
            return masked(value)
        if isinstance(value, list):
            return [hide(item) for item in value]
        return value

    return orjson.dumps({key: hide(value) for key, value in detail.items()}).decode()


def open_state(home: Path, *, create: bool = True) -> State:
    """The data folder's state; where there is no data folder (a verify or restore from the
    recovery kit after a disaster), one in memory: a command never makes a data folder.
    ``create=False``: for reading only (``status``), making nothing (``_sqlite``)."""
    if not home.is_dir():
        return State(None)
    return State(home / "backup" / "state.sqlite", create=create)
