"""``freehold backup verify``: read the destination back and name every problem.

Every snapshot manifest is downloaded, decrypted and checked (its MAC, and that the snapshot
inside is the one its name says: an old manifest copied over a newer one is *replayed*);
every snapshot this machine wrote must still be there. Every pack a manifest needs must be
listed at its size; the packs read (all of them, or a sample) are decrypted and every chunk
in them is decompressed and checked against its SHA-256. A file that is neither the marker,
a snapshot, nor a pack, or a pack that the identity cannot open and no snapshot needs, is
*foreign*. A pack no snapshot needs but that the identity opens was left by an interrupted
run: a note, and ``prune`` removes it. What an operating system leaves in a folder it shows
(``.DS_Store``, ``Thumbs.db``, ``._`` files: ``freehold.litter``) is a note, not a problem.

``--sample PERCENT`` reads a window of the pack names (random hex, so a fair sample) that
moves on by PERCENT of the name space each time, so every pack is read at least once every
``ceil(100 / PERCENT)`` sampled verifies; manifests are always all read. A damaged or
missing pack is taken out of the chunk index, so the next run sends its chunks again; a pack
the identity merely cannot open is not (it may be whole for another recipient: a partner's
key verifying never costs the owner's index). Every file's size is checked against its
chunks (their number, and each one's length once read), so a snapshot verify calls OK
restores. A stored file whose bytes are not its name's (sent so by a run before the last good
copy was carried forward, ``run``) is a note naming it: the manifest is not damaged, and a
restore leaves that file out alone. A verify that checks the MAC also tells the state where
each stored file's good copy lies (``State.keep_stored``, replacing a row that no longer counts), so
the next run carries forward a copy that only a snapshot made before this machine's state
holds. With ``check_mac`` False (``--skip-mac``, a second recipient's key) the manifests'
MAC is not checked, and the report says so.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from freehold.backup import crypto
from freehold.backup.destinations import Destination
from freehold.backup.format import (
    MANIFEST_LIMIT,
    MARKER,
    SKIP_MAC_HINT,
    Chunk,
    FileEntry,
    Manifest,
    decompress,
    pack_path,
    snapshot_path,
    stored,
    stored_fault,
)
from freehold.backup.format import parse_manifest as _parse
from freehold.backup.run import listed_packs, listed_snapshots
from freehold.backup.snapshot import chunk_size
from freehold.backup.state import State
from freehold.errors import BackupKeyError, DamagedBackupError
from freehold.litter import is_litter

__all__ = ["Problem", "Report", "check_pack", "holdings", "open_manifest", "verify", "window"]

_SPACE = 1 << 32


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # damaged | missing | foreign | replayed
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path} — {self.detail}"


@dataclass(slots=True)
class Report:
    destination: str
    sample: float | None = None
    snapshots: list[str] = field(default_factory=list)
    packs_total: int = 0
    packs_read: int = 0
    read: list[str] = field(default_factory=list, repr=False)  # the packs read
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def open_manifest(
    dest: Destination, snapshot: str, identity: crypto.Identity, mac_key: bytes | None
) -> Manifest:
    """The manifest of ``snapshot``, checked (its MAC too, unless ``mac_key`` is None);
    ``DamagedBackupError`` or ``BackupKeyError``."""
    where = f"{dest.name}: {snapshot_path(snapshot)}"
    plain = crypto.decrypt(dest.read(snapshot_path(snapshot)), identity, where)
    try:
        text = decompress(plain, MANIFEST_LIMIT)
    except ValueError as error:
        raise DamagedBackupError(f"{where}: not a manifest ({error})") from error
    manifest = _parse(text, mac_key, where)
    if manifest.snapshot != snapshot:
        raise DamagedBackupError(
            f"{where}: holds snapshot {manifest.snapshot} — an old manifest replayed or renamed"
        )
    return manifest


def check_pack(
    dest: Destination, pack: str, chunks: list[Chunk], identity: crypto.Identity
) -> dict[str, bytes]:
    """The chunks of ``pack`` that are wanted, each checked: SHA-256 → plaintext."""
    where = f"{dest.name}: {pack_path(pack)}"
    plain = crypto.decrypt(dest.read(pack_path(pack)), identity, where)
    found: dict[str, bytes] = {}
    for chunk in chunks:
        member = plain[chunk.offset : chunk.offset + chunk.length]
        try:
            data = decompress(member)
        except ValueError as error:
            raise DamagedBackupError(f"{where}: a chunk does not decompress ({error})") from error
        if hashlib.sha256(data).hexdigest() != chunk.sha256:
            raise DamagedBackupError(f"{where}: a chunk's SHA-256 does not match the manifest")
        found[chunk.sha256] = data
    return found


def _lengths(entry: FileEntry) -> list[int]:
    """The length of each chunk of ``entry`` that its size implies (chunk k starts at k × the
    chunk size, so all but the last are whole)."""
    size, count = chunk_size(entry.path), len(entry.chunks)
    return [size] * (count - 1) + [entry.size - size * (count - 1)] if count else []


def _size_fault(entry: FileEntry) -> str | None:
    """Why ``entry``'s size cannot be what its chunks hold, or None."""
    size = chunk_size(entry.path)
    needed = math.ceil(entry.size / size)
    if needed == len(entry.chunks):
        return None
    return (
        f"{entry.path or 'the digests'} is {entry.size:,} bytes, which takes "
        f"{needed:,} chunks; the manifest lists {len(entry.chunks):,}"
    )


def window(names: list[str], position: int, percent: float) -> tuple[list[str], int]:
    """The names whose first 8 hex digits fall in the window at ``position``; the next one."""
    width = max(1, math.ceil(_SPACE * percent / 100))
    if width >= _SPACE:
        return names, 0
    end = position + width
    inside = [n for n in names if position <= int(n[:8], 16) < end or int(n[:8], 16) < end - _SPACE]
    return inside, end % _SPACE


class _Verifier:
    def __init__(
        self,
        dest: Destination,
        identity: crypto.Identity,
        state: State,
        sample: float | None,
        check_mac: bool,
    ) -> None:
        self.dest, self.identity, self.state = dest, identity, state
        self.report = Report(dest.name, sample)
        self.mac_key = crypto.mac_key(identity) if check_mac else None
        self.lengths: dict[str, dict[int, str]] = {}  # chunk → its lengths by file sizes → where
        self.good: dict[str, FileEntry] = {}  # stored file → its newest whole copy

    def problem(self, kind: str, path: str, detail: str) -> None:
        self.report.problems.append(Problem(kind, path, detail))

    def run(self) -> Report:
        listing = self.dest.listing()
        packs = listed_packs(listing)
        wanted = self._manifests(listed_snapshots(listing), packs)
        self._foreign(listing, packs, wanted)
        self._read(wanted, packs)
        # Only a pack proven damaged or gone leaves the chunk index (the next run sends its
        # chunks again); one this identity cannot open may be whole for another recipient.
        bad = {
            p.path[6:-4]
            for p in self.report.problems
            if p.path.startswith("packs/") and p.kind in ("damaged", "missing")
        }
        self.state.forget_packs(self.dest.name, bad)
        self._learn(bad, packs)
        if self.mac_key is None:
            self.report.notes.append("the manifests' MAC was not checked (--skip-mac)")
        elif any("MAC does not match" in p.detail for p in self.report.problems):
            self.report.notes.append(f"a manifest's MAC does not match: {SKIP_MAC_HINT}")
        return self.report

    def _manifests(self, snapshots: list[str], packs: dict[str, int]) -> dict[str, list[Chunk]]:
        """Every manifest read and checked, one at a time (memory: the chunks they share are
        kept once); returns pack → the chunks wanted from it."""
        wanted: dict[str, dict[str, Chunk]] = {}
        refused = 0
        for snapshot in snapshots:
            try:
                manifest = open_manifest(self.dest, snapshot, self.identity, self.mac_key)
            except BackupKeyError:
                refused += 1
                self.problem("foreign", snapshot_path(snapshot), "the identity does not open it")
                continue
            except DamagedBackupError as error:
                kind = "replayed" if "replayed" in str(error) else "damaged"
                self.problem(kind, snapshot_path(snapshot), str(error).split(" — ")[0])
                continue
            self.report.snapshots.append(snapshot)
            self._absorb(manifest, packs, wanted)
        if snapshots and refused == len(snapshots):
            raise BackupKeyError(
                f"{self.dest.name}: the identity opens none of its {len(snapshots)} snapshots — "
                "wrong key (another kit, or another freehold's backups?)"
            )
        for lost in sorted(self.state.written(self.dest.name) - set(snapshots)):
            self.problem("missing", snapshot_path(lost), "this machine wrote it; it is gone")
        return {pack: list(chunks.values()) for pack, chunks in wanted.items()}

    def _absorb(
        self, manifest: Manifest, packs: dict[str, int], wanted: dict[str, dict[str, Chunk]]
    ) -> None:
        where = snapshot_path(manifest.snapshot)
        for entry in manifest.entries():
            fault = _size_fault(entry)
            if fault is not None:
                self.problem("damaged", where, fault)
            elif stored(entry.path) and (bad := stored_fault(entry.path or "", entry.sha256)):
                self.report.notes.append(f"{where}: {bad} — a restore leaves that file out")
            elif stored(entry.path):
                self.good[entry.path or ""] = entry
            for chunk, length in zip(entry.chunks, _lengths(entry), strict=True):
                wanted.setdefault(chunk.pack, {}).setdefault(chunk.sha256, chunk)
                self.lengths.setdefault(chunk.sha256, {}).setdefault(length, where)
        named = {p.path for p in self.report.problems}
        for pack, size in manifest.packs.items():
            if pack_path(pack) in named:
                continue
            if pack not in packs:
                self.problem("missing", pack_path(pack), f"snapshot {manifest.snapshot} needs it")
            elif packs[pack] != size:
                self.problem(
                    "damaged", pack_path(pack), f"{packs[pack]} bytes, {size} expected (cut?)"
                )

    def _learn(self, bad: set[str], packs: dict[str, int]) -> None:
        """Where each stored file's good copy lies, for the next run to carry forward (only
        with the MAC checked: a forged manifest teaches nothing)."""
        if self.mac_key is None:
            return
        whole = [
            e
            for e in self.good.values()
            if all(c.pack in packs and c.pack not in bad for c in e.chunks)
        ]
        with self.state.transaction():
            self.state.keep_stored(self.dest.name, whole, replace=False)

    def _lengths_match(self, found: dict[str, bytes]) -> None:
        """Each chunk as long as its file's size says (a size recorded apart from the bytes
        sent would pass every chunk's SHA-256 and fail the restore)."""
        for sha, data in found.items():
            for length, where in self.lengths.get(sha, {}).items():
                named = {(p.kind, p.path) for p in self.report.problems}
                if length != len(data) and ("damaged", where) not in named:
                    self.problem(
                        "damaged",
                        where,
                        f"a chunk is {len(data):,} bytes, its file's size "
                        f"says {length:,}: the snapshot would not restore",
                    )

    def _foreign(
        self, listing: dict[str, int], packs: dict[str, int], wanted: dict[str, list[Chunk]]
    ) -> None:
        known = {MARKER, *(pack_path(p) for p in packs)}
        known |= {snapshot_path(s) for s in listed_snapshots(listing)}
        for path in sorted(set(listing) - known):
            if path.rpartition("/")[2].startswith(".tmp-"):
                self.report.notes.append(f"{path}: an interrupted write left it (prune removes it)")
            elif is_litter(path):
                self.report.notes.append(
                    f"{path}: the operating system left it (Finder, Explorer), not a problem"
                )
            else:
                self.problem(
                    "foreign",
                    path,
                    "not a freehold backup file: delete it if you put it there (the folder "
                    "is for the backup alone)",
                )
        indexed = self.state.indexed_packs(self.dest.name)
        for pack in sorted(set(packs) - wanted.keys()):
            try:
                check_pack(self.dest, pack, [], self.identity)
                self.report.notes.append(
                    f"{pack_path(pack)}: no snapshot needs it (an interrupted run left it; "
                    "prune removes it)"
                )
            except BackupKeyError:
                self.problem(
                    "foreign", pack_path(pack), "no snapshot needs it, the key opens it not"
                )
            except DamagedBackupError as error:  # a pack this machine wrote is damaged (the
                if pack in indexed:  # index must forget it); any other is not freehold's
                    self.problem("damaged", pack_path(pack), str(error).split(": ", 2)[-1])
                else:
                    self.problem("foreign", pack_path(pack), "not a pack this machine wrote")

    def _read(self, wanted: dict[str, list[Chunk]], packs: dict[str, int]) -> None:
        names = sorted(p for p in wanted if p in packs)
        self.report.packs_total = len(names)
        if self.report.sample is not None:
            position = self.state.cursor(self.dest.name)
            names, after = window(names, position, self.report.sample)
            self.state.set_cursor(self.dest.name, after)
        already = {p.path for p in self.report.problems}
        for pack in names:
            if pack_path(pack) in already:
                continue
            try:
                found = check_pack(self.dest, pack, wanted[pack], self.identity)
            except BackupKeyError:
                self.problem(
                    "foreign",
                    pack_path(pack),
                    "a snapshot needs it and this identity does not open it (written before "
                    "this key was a recipient?)",
                )
            except DamagedBackupError as error:
                self.problem("damaged", pack_path(pack), str(error).split(": ", 2)[-1])
            else:
                self._lengths_match(found)
            self.report.packs_read += 1
            self.report.read.append(pack)


def verify(
    dest: Destination,
    identity: crypto.Identity,
    state: State,
    sample: float | None = None,
    *,
    check_mac: bool = True,
) -> Report:
    report = _Verifier(dest, identity, state, sample, check_mac).run()
    detail = [str(p) for p in report.problems]
    state.record("verify", dest.name, report.ok, None, sample=sample, problems=detail)
    return report


def holdings(dest: Destination, identity: crypto.Identity, state: State) -> set[str]:
    """The stored files some snapshot at ``dest`` holds whole (its MAC checked, every pack
    it names listed), read from every manifest as verify reads them, and learnt by the state
    (``_learn``); no pack is read. ``forget-lost`` proves a loss with it."""
    verifier = _Verifier(dest, identity, state, None, True)
    listing = dest.listing()
    packs = listed_packs(listing)
    verifier._manifests(listed_snapshots(listing), packs)
    verifier._learn(set(), packs)
    return {
        path for path, entry in verifier.good.items() if all(c.pack in packs for c in entry.chunks)
    }
