"""``freehold backup restore`` and ``drill``: a snapshot back into a data folder, proven.

A restore writes nothing where it is going until everything is proven. The files are
assembled in a scratch folder inside the target (``scratch``: removed however the process
ends), pack by pack: each pack is downloaded once, decrypted in memory, each wanted chunk
decompressed, checked against its SHA-256 and written at its place (chunk k of a file starts
at k × its chunk size). Then every file is checked whole (size, SHA-256), the archive with
``PRAGMA integrity_check``, and the conversation digests are recomputed from it and compared
with the snapshot's. Only then does the target appear: a new folder is the scratch folder
renamed (the scratch sits beside it, in its parent), so it exists only once the restore has
succeeded; into an empty folder that exists already (a mounted disk), the files are moved one
by one, the archive last, and taken out again should a move fail. A wrong key, a damaged pack
or a cut stops it with nothing left behind: no target, no parent folder it made (but after a
``kill -9``, which leaves those empty), and a folder that was there before stays as it was.

``latest`` is the newest snapshot that restores: a newer one whose manifest or packs are
damaged, foreign or replayed is skipped and named (``Restored.skipped``), so one junk file
at a destination never stands between a person and their data. The drill takes the very
latest, whatever it holds: finding that damage is its job.

A snapshot whose manifest's MAC checks out is never damaged for what it holds. One made
before freehold carried the last good copy forward (``run``) may lack a stored file its
archive holds (gone when it was made), or hold one whose bytes are not its name's (changed
on disk when it was made): the restore leaves that file out, restores everything else, and
names each file it lacks with the newest other snapshot there that holds it whole
(``Restored.lacking``); a drill fails on it.

A drill restores the latest snapshot of a destination into a scratch folder and compares it
with the live archive: every conversation of the snapshot must still be in the archive
(changed since is expected; gone is not), every attachment and vault file must still be
there, its bytes still those its name says.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from freehold import _private, storage
from freehold.archive import ARCHIVE_NAME
from freehold.backup import crypto, snapshot
from freehold.backup.destinations import Destination
from freehold.backup.format import Chunk, FileEntry, Manifest, stored_fault
from freehold.backup.run import listed_snapshots
from freehold.backup.scratch import scratch
from freehold.backup.state import State
from freehold.backup.verify import check_pack, open_manifest
from freehold.errors import BackupError, BackupKeyError, DamagedBackupError

__all__ = ["Drill", "Lacking", "Restored", "TargetError", "choose", "drill", "elsewhere", "restore"]

Tick = Callable[[int, int, int], None]
_DIGESTS = "digests"
_SCRATCH = ".freehold-restore-"


@dataclass(slots=True)
class Restored:
    destination: str
    snapshot: str
    folder: Path
    files: int
    bytes: int
    conversations: int
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    skipped: list[str] = field(default_factory=list)  # newer snapshots that did not restore
    lacking: list[Lacking] = field(default_factory=list)  # stored files left out


class TargetError(BackupError):
    """The folder restored into is the problem (not the destination): no other destination
    would do better."""


def choose(dest: Destination, name: str) -> list[str]:
    """The snapshots ``name`` may be: ``latest`` is every one, newest first (the first that
    restores is taken); any other name is itself."""
    snapshots = listed_snapshots(dest.listing())
    if not snapshots:
        raise BackupError(f"{dest.name}: no snapshot there yet — run freehold backup run")
    if name == "latest":
        return snapshots[::-1]
    if name not in snapshots:
        raise BackupError(
            f"{dest.name}: no snapshot {name} — freehold backup list names those it holds"
        )
    return [name]


class _Files:
    """The assembled files in the scratch folder, a few kept open while packs arrive."""

    def __init__(self, work: Path, manifest: Manifest, to: Path) -> None:
        self.work, self.to, self.handles = work, to, dict[str, IO[bytes]]()
        self.needs = manifest.size()
        with _making(to, self.needs):
            for entry in manifest.entries():
                path = self.path(entry)
                _private.make_dirs(path.parent)
                with _private.open_new(path) as out:
                    out.truncate(entry.size)

    def path(self, entry: FileEntry) -> Path:
        return self.work / (entry.path or _DIGESTS)

    def write(self, entry: FileEntry, offset: int, data: bytes) -> None:
        key = entry.path or _DIGESTS
        with _making(self.to, self.needs):  # a full disk, say
            handle = self.handles.get(key)
            if handle is None:
                if len(self.handles) >= 64:
                    self.handles.pop(next(iter(self.handles))).close()
                handle = self.handles[key] = self.path(entry).open("r+b")
            handle.seek(offset)
            handle.write(data)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


def _plan(manifest: Manifest) -> dict[str, list[tuple[FileEntry, int, Chunk]]]:
    """Pack → (file, offset in the file, chunk) for every chunk of the snapshot."""
    plan: dict[str, list[tuple[FileEntry, int, Chunk]]] = {}
    for entry in manifest.entries():
        size = snapshot.chunk_size(entry.path)
        for k, chunk in enumerate(entry.chunks):
            plan.setdefault(chunk.pack, []).append((entry, k * size, chunk))
    return plan


def _assemble(
    dest: Destination,
    manifest: Manifest,
    identity: crypto.Identity,
    files: _Files,
    tick: Tick | None,
) -> None:
    done, total = 0, sum(e.size for e in manifest.entries())
    for count, (pack, places) in enumerate(sorted(_plan(manifest).items()), 1):
        chunks = check_pack(dest, pack, [chunk for _, _, chunk in places], identity)
        for entry, offset, chunk in places:
            data = chunks[chunk.sha256]
            files.write(entry, offset, data)
            done += len(data)
        if tick:
            tick(done, total, count)


def _check(files: _Files, manifest: Manifest, where: str) -> tuple[dict[str, str], list[str]]:
    """Every file whole, the archive sound, the digests the same; returns the digests and
    the stored files the restored archive holds that the snapshot does not give."""
    for entry in manifest.entries():
        path = files.path(entry)
        if path.stat().st_size != entry.size or storage.sha256_of(path) != entry.sha256:
            raise DamagedBackupError(
                f"{where}: {entry.path or _DIGESTS} does not match its SHA-256"
            )
    database = files.work / ARCHIVE_NAME
    db = sqlite3.connect(f"file:{database}?mode=ro&immutable=1", uri=True)
    try:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise DamagedBackupError(
                f"{where}: the restored archive fails integrity_check: {verdict}"
            )
        found = dict(snapshot.digests(db))
        held = snapshot.held(db)
    finally:
        db.close()
    stored_digests = snapshot.read_digests(files.work / _DIGESTS)
    if found != stored_digests:
        differ = sorted(
            k for k in stored_digests.keys() | found.keys() if stored_digests.get(k) != found.get(k)
        )
        raise DamagedBackupError(
            f"{where}: {len(differ)} conversation digests differ (first: {differ[0]})"
        )
    return stored_digests, sorted(held - {entry.path for entry in manifest.files if entry.path})


def _whole(manifest: Manifest) -> tuple[Manifest, dict[str, str]]:
    """The snapshot without its stored files whose bytes are not their name's (a run before
    the last good copy was carried forward sent them so), and those left out, with why."""
    bad = {
        e.path: fault
        for e in manifest.files
        if e.path and (fault := stored_fault(e.path, e.sha256)) is not None
    }
    kept = [e for e in manifest.files if e.path not in bad]
    return replace(manifest, files=kept), {p: why.partition(": ")[2] for p, why in bad.items()}


def _held_elsewhere(
    dest: Destination,
    identity: crypto.Identity,
    mac_key: bytes | None,
    chosen: str,
    paths: set[str],
) -> dict[str, str]:
    """For each stored file of ``paths``, the newest other snapshot at ``dest`` that holds it
    whole (one that does not open is passed over: the restore's own report is of ``chosen``)."""
    found: dict[str, str] = {}
    for other in listed_snapshots(dest.listing())[::-1]:
        if other == chosen or not paths - found.keys():
            continue
        try:
            manifest = open_manifest(dest, other, identity, mac_key)
        except (DamagedBackupError, BackupKeyError):
            continue
        for entry in manifest.files:
            if entry.path in paths and stored_fault(entry.path, entry.sha256) is None:
                found.setdefault(entry.path, other)
    return found


@dataclass(frozen=True, slots=True)
class Lacking:
    """A stored file a restore left out: why, and the newest other snapshot holding it whole
    (None: none there does)."""

    path: str
    why: str
    held_in: str | None

    def said(self, source: str, home: Path, elsewhere: list[str] | None = None) -> str:
        """One line: the file, why, and how to put it into the data folder ``home``; where no
        other snapshot at ``source`` holds it, the other destinations this machine knows to
        hold it (``elsewhere``: ``State.holds_stored``)."""
        if self.held_in is None and elsewhere:
            return (
                f"{self.path}: {self.why} — no other snapshot at {source} holds it; one at "
                f"{', '.join(elsewhere)} does, as far as this machine knows: freehold backup "
                f"restore latest --from {elsewhere[0]} --to DIR2, then copy DIR2/{self.path} "
                f"to {home / self.path}"
            )
        if self.held_in is None:
            return f"{self.path}: {self.why} — no snapshot at {source} holds it"
        return (
            f"{self.path}: {self.why} — snapshot {self.held_in} holds it: freehold backup "
            f"restore {self.held_in} --from {source} --to DIR2, then copy DIR2/{self.path} to "
            f"{home / self.path}"
        )


def elsewhere(state: State, source: str, path: str) -> list[str]:
    """The destinations other than ``source`` whose snapshots this machine knows to hold the
    stored file ``path``."""
    return [name for name in state.holds_stored(path) if name != source]


def _lacking(
    dest: Destination,
    identity: crypto.Identity,
    mac_key: bytes | None,
    chosen: str,
    left_out: dict[str, str],
) -> list[Lacking]:
    """Each stored file the restore lacks: why, and which snapshot holds it."""
    if not left_out:
        return []
    held = _held_elsewhere(dest, identity, mac_key, chosen, set(left_out))
    return [Lacking(path, why, held.get(path)) for path, why in sorted(left_out.items())]


def _place(work: Path, to: Path, manifest: Manifest) -> None:
    """The checked files moved into ``to``, an empty folder that was there before; on a
    failure, what was moved and made goes again."""
    ordered = sorted(manifest.files, key=lambda e: e.path == ARCHIVE_NAME)  # the archive last
    placed: list[Path] = []
    made: list[Path] = []
    try:
        for entry in ordered:
            assert entry.path is not None
            final = to / entry.path
            made += _private.make_dirs(final.parent)
            os.replace(work / entry.path, final)
            placed.append(final)
    except BaseException:
        for path in placed:
            path.unlink(missing_ok=True)
        _remove_folders(made)
        raise


def _remove_folders(made: list[Path]) -> None:
    """The folders this restore made (outermost first), innermost first, if still empty."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            continue  # something else wrote there meanwhile: not ours to remove


def _is_new(to: Path) -> bool:
    """Whether ``to`` is to be made; an existing folder must be empty (but for a restore's
    own scratch folder left by a cut)."""
    if not to.exists():
        return True
    if (to / ARCHIVE_NAME).exists():
        raise TargetError(f"{to} holds an archive already — restore into a new or empty folder")
    if any(not p.name.startswith(_SCRATCH) for p in to.iterdir()):
        raise TargetError(f"{to} is not empty — restore into a new or empty folder")
    return False


def restore(
    dest: Destination,
    identity: crypto.Identity,
    name: str,
    to: Path,
    tick: Tick | None = None,
    *,
    check_mac: bool = True,
    fallback: bool = True,
) -> Restored:
    """``name`` restored from ``dest`` into ``to``; ``check_mac`` False for a second
    recipient's identity, which cannot check the manifest's MAC. ``latest`` is the newest
    snapshot that restores: one that is damaged, foreign or unreadable is skipped (named in
    ``Restored.skipped``) for the one before it, unless ``fallback`` is False (the drill)."""
    with _making(to):
        _is_new(to)
    candidates = choose(dest, name)
    if not fallback:
        candidates = candidates[:1]
    mac_key = crypto.mac_key(identity) if check_mac else None
    skipped: list[BackupError] = []
    for chosen in candidates:
        try:
            manifest = open_manifest(dest, chosen, identity, mac_key)
            done = _restore(dest, identity, chosen, manifest, to, tick, mac_key)
        except (DamagedBackupError, BackupKeyError) as error:
            skipped.append(error)
            continue
        done.skipped = [str(error) for error in skipped]
        return done
    if len(skipped) == 1:
        raise skipped[0]
    kind = (
        BackupKeyError
        if all(isinstance(e, BackupKeyError) for e in skipped)
        else DamagedBackupError
    )
    raise kind(
        f"{dest.name}: none of its {len(skipped)} snapshots restores — the newest: {skipped[0]}"
    )


def _restore(
    dest: Destination,
    identity: crypto.Identity,
    chosen: str,
    manifest: Manifest,
    to: Path,
    tick: Tick | None,
    mac_key: bytes | None,
) -> Restored:
    with _making(to):
        new = _is_new(to)
    whole, bad = _whole(manifest)
    made: list[Path] = []
    try:
        with ExitStack() as stack:
            with _making(to):
                made = _private.make_dirs(to.parent) if new else []
                work = stack.enter_context(scratch(to.parent if new else to, _SCRATCH))
            where = f"{dest.name}: snapshot {chosen}"
            digests, absent = _assembled(dest, whole, identity, work, to, where, tick)
            with _making(to):
                if new:
                    (work / _DIGESTS).unlink(missing_ok=True)
                    work.rename(to)  # the target appears whole, or not at all
                else:
                    _place(work, to, whole)
    except BaseException:
        _remove_folders(made)
        raise
    gone = dict.fromkeys((p for p in absent if p not in bad), "gone when the snapshot was made")
    done = Restored(dest.name, chosen, to, len(whole.files), whole.size(), len(digests), digests)
    done.lacking = _lacking(dest, identity, mac_key, chosen, bad | gone)
    return done


@contextmanager
def _making(to: Path, needs: int | None = None) -> Iterator[None]:
    """An OS error while the target ``to`` is checked, made or written (a file where a folder
    must go, no permission, a full disk): one line naming it, not a traceback. Only the
    target's steps run inside: the destination's errors are its own."""
    try:
        yield
    except OSError as error:
        raise TargetError(_unmade(to, error, needs)) from error


def _unmade(to: Path, error: OSError, needs: int | None = None) -> str:
    # os.path's tests answer False where Path's raise (a name too long, say)
    in_way = next((p for p in (to, *to.parents) if os.path.isfile(p)), None)
    if in_way is not None:
        why = f"{in_way} is a file, not a folder"
    elif error.errno in storage.FULL | storage.NOT_WRITABLE:  # the storage's one wording
        return f"cannot restore: {storage.failure(error, to, place=True, needs=needs)}"
    else:
        why = f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    return f"{to}: cannot restore there ({why}) — restore into a new or empty folder"


def _assembled(
    dest: Destination,
    manifest: Manifest,
    identity: crypto.Identity,
    work: Path,
    to: Path,
    where: str,
    tick: Tick | None,
) -> tuple[dict[str, str], list[str]]:
    """The snapshot's files in ``work`` (the scratch folder for ``to``), every one checked;
    its conversation digests, and the stored files its archive holds that it lacks."""
    files = _Files(work, manifest, to)
    try:
        _assemble(dest, manifest, identity, files, tick)
    finally:
        files.close()
    return _check(files, manifest, where)


@dataclass(slots=True)
class Drill:
    destination: str
    ok: bool
    snapshot: str | None = None
    same: int = 0
    changed: int = 0
    gone: list[str] = field(default_factory=list)  # in the snapshot, not in the archive
    newer: int = 0
    files_gone: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)  # live bytes not their name's
    files_lacking: list[str] = field(default_factory=list)  # the snapshot lacks (Restored)
    error: str | None = None


def _live_digests(home: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{home / ARCHIVE_NAME}?mode=ro", uri=True, timeout=30)
    try:
        db.execute("BEGIN")  # one read transaction: one moment of the live archive
        found = dict(snapshot.digests(db))
        db.execute("COMMIT")
        return found
    finally:
        db.close()


def _compare(home: Path, restored: Restored, report: Drill, state: State) -> None:
    live = _live_digests(home)
    for cid, digest in restored.digests.items():
        if cid not in live:
            report.gone.append(cid)
        elif live[cid] == digest:
            report.same += 1
        else:
            report.changed += 1
    report.newer = len(live.keys() - restored.digests.keys())
    for top in ("blobs", "vault"):
        for path in sorted((restored.folder / top).glob("??/*")):
            relative = path.relative_to(restored.folder).as_posix()
            here = home / relative
            if not here.is_file():
                report.files_gone.append(relative)
            elif stored_fault(relative, storage.sha256_of(here)) is not None:
                report.files_changed.append(relative)
    report.files_lacking = [
        item.said(restored.destination, home, elsewhere(state, restored.destination, item.path))
        for item in restored.lacking
    ]
    report.ok = not (report.gone or report.files_gone or report.files_changed or restored.lacking)


def drill(home: Path, dest: Destination, identity: crypto.Identity, state: State) -> Drill:
    report = Drill(dest.name, ok=False)
    try:
        if not (home / ARCHIVE_NAME).is_file():
            raise BackupError(
                f"no archive at {home / ARCHIVE_NAME} to compare with — a drill checks a "
                "snapshot against the live archive; without one, use verify, or restore"
            )
        with scratch(home / "backup", "drill-") as work:
            restored = restore(dest, identity, "latest", work / "data", fallback=False)
            report.snapshot = restored.snapshot
            _compare(home, restored, report, state)
    except BackupError as error:
        report.error = str(error)
    detail = {"same": report.same, "changed": report.changed, "newer": report.newer}
    state.record(
        "drill",
        dest.name,
        report.ok,
        report.snapshot,
        **detail,
        gone=report.gone[:20],
        files_gone=report.files_gone[:20],
        files_changed=report.files_changed[:20],
        files_lacking=report.files_lacking[:20],
        error=report.error,
    )
    return report
