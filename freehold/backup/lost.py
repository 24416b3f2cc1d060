"""``freehold backup forget-lost``: the loss of a stored file, accepted by the person.

A stored file (an attachment's bytes under ``blobs/``, an exit-plan export under ``vault/``,
each named by its SHA-256) that the archive holds but that is gone from the data folder, or
changed on disk, makes every ``backup run`` exit 1 (``run``: the last good copy). Where a
snapshot holds a good copy, the way out is to put it back (``backup restore``); where none
does, it is lost, and only the person may say so. Forgetting makes the archive say what is
true: an attachment becomes one whose bytes the archive does not have (its links keep their
pointer and name and lose the SHA-256, its ``attachments`` row goes, and ``stats`` counts it
missing, as one an export never brought); an exit-plan export's row goes (the plan then
counts the export before it). A changed file is never deleted: it is moved aside, beside
where it was, as ``<sha256>.changed`` (no stored file's name, so never backed up as one).

Only files no snapshot this machine wrote holds are forgotten (``State.holds_stored``): one
that a snapshot holds is named with where, to be put back instead.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from freehold.archive import ARCHIVE_NAME, open_archive
from freehold.backup import snapshot
from freehold.backup.format import stored_fault
from freehold.backup.state import State

__all__ = ["Lost", "find", "forget"]


@dataclass(frozen=True, slots=True)
class Lost:
    """A stored file not as the archive stored it: ``why`` (gone, or changed on disk) and
    the destinations whose snapshots hold a good copy (none: lost)."""

    path: str
    why: str
    held_at: list[str] = field(default_factory=list)


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def find(home: Path, state: State) -> list[Lost]:
    """Every stored file the archive holds that is gone, and every stored file in the data
    folder whose bytes are not its name's, in path order."""
    database = home / ARCHIVE_NAME
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        held = snapshot.held(db)
    finally:
        db.close()
    found = {path: "gone from the data folder" for path in held if not (home / path).is_file()}
    for source in snapshot.file_sources(home):
        fault = stored_fault(source.path or "", _sha(source.file))
        if fault is not None:
            found[source.path or ""] = "changed on disk: " + fault.partition(": ")[2]
    return [Lost(path, why, state.holds_stored(path)) for path, why in sorted(found.items())]


def forget(home: Path, lost: list[Lost]) -> None:
    """The archive told that each file of ``lost`` is gone for good; a changed one moved
    aside (``<sha256>.changed``)."""
    archive = open_archive(home, create=False)
    try:
        with archive.transaction():
            for item in lost:
                top, _, rest = item.path.partition("/")
                sha = rest.rpartition("/")[2]
                if top == "blobs":
                    archive.db.execute(
                        "UPDATE message_attachments SET sha256=NULL WHERE sha256=?", (sha,)
                    )
                    archive.db.execute("DELETE FROM attachments WHERE sha256=?", (sha,))
                else:
                    archive.db.execute("DELETE FROM exit_exports WHERE sha256=?", (sha,))
    finally:
        archive.close()
    for item in lost:
        file = home / item.path
        if file.is_file():
            os.replace(file, file.with_name(file.name + ".changed"))
