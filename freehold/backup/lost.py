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

A loss is proven, never taken from a cache: ``proof`` reads every configured destination's
manifests with the identity (verify's reading, which also teaches the state where each good
copy lies) and refuses while any destination does not answer. Only files no snapshot there
holds whole are forgotten; one that a snapshot holds is named with where, to be put back
instead. ``forget`` looks at each file again, under the backup lock, just before: one put
back meanwhile (its bytes its name's again) is left alone, and a changed one is moved aside
under a name no earlier move took (``<sha256>.changed``, ``.changed.1``, …).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from freehold.archive import ARCHIVE_NAME, open_archive
from freehold.backup import crypto, snapshot
from freehold.backup.destinations import open_destination
from freehold.backup.format import stored_fault
from freehold.backup.settings import load
from freehold.backup.state import State
from freehold.backup.verify import holdings
from freehold.errors import BackupError, FreeholdError
from freehold.storage import sha256_of

__all__ = ["Lost", "find", "forget", "proof"]


@dataclass(frozen=True, slots=True)
class Lost:
    """A stored file not as the archive stored it: ``why`` (gone, or changed on disk) and
    the destinations whose snapshots hold a good copy (none: lost)."""

    path: str
    why: str
    held_at: list[str] = field(default_factory=list)


def proof(home: Path, identity: crypto.Identity, state: State) -> dict[str, list[str]]:
    """Stored path → the configured destinations whose snapshots hold it whole, read now
    from their manifests; ``BackupError`` naming the first destination that does not answer
    (a loss is not proven while one of them may hold the file)."""
    held: dict[str, list[str]] = {}
    for config in load(home).destinations.values():
        try:
            paths = holdings(open_destination(config), identity, state)
        except (FreeholdError, OSError) as error:
            raise BackupError(
                f"{config.name} did not answer ({error}) — nothing forgotten: forget-lost reads "
                "every destination's snapshots to prove a loss; plug it in, or take it out: "
                f"freehold backup remove {config.name}"
            ) from error
        for path in paths:
            held.setdefault(path, []).append(config.name)
    return held


def find(home: Path, held: dict[str, list[str]]) -> list[Lost]:
    """Every stored file the archive holds that is gone, and every stored file in the data
    folder whose bytes are not its name's, in path order, each with the destinations that
    hold it (``proof``)."""
    database = home / ARCHIVE_NAME
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        archived = snapshot.held(db)
    finally:
        db.close()
    found = {path: "gone from the data folder" for path in archived if not (home / path).is_file()}
    for source in snapshot.file_sources(home):
        fault = stored_fault(source.path or "", sha256_of(source.file))
        if fault is not None:
            found[source.path or ""] = "changed on disk: " + fault.partition(": ")[2]
    return [Lost(path, why, held.get(path, [])) for path, why in sorted(found.items())]


def _still_lost(home: Path, item: Lost) -> bool:
    """Whether ``item`` is still gone, or still holds bytes that are not its name's."""
    file = home / item.path
    return not file.is_file() or sha256_of(file) != file.name


def _aside(file: Path) -> None:
    """``file`` moved to ``<name>.changed`` (or ``.changed.N``): earlier bytes kept."""
    target, number = file.with_name(file.name + ".changed"), 0
    while target.exists():
        number += 1
        target = file.with_name(f"{file.name}.changed.{number}")
    os.replace(file, target)


def forget(home: Path, lost: list[Lost]) -> list[Lost]:
    """The archive told that each file of ``lost`` still lost (looked at again now) is gone
    for good; a changed one moved aside. Returns those forgotten: one put back is not."""
    lost = [item for item in lost if _still_lost(home, item)]
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
            _aside(file)
    return lost
