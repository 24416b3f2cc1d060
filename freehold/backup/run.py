"""``freehold backup run``: one snapshot, sent to every destination in one pass.

The archive is copied consistently into a scratch folder (``snapshot``), its digests written
beside it, and every file is read once, chunk by chunk. For each destination a chunk is
either found in the chunk index (the destination holds it already: the manifest points at
it) or compressed (once, whatever the number of destinations) and appended to that
destination's open pack; a pack is encrypted and sent when it reaches about 8 MiB, and only
then are its chunks added to the index. The manifest is written last. So a run cut short
leaves whole packs behind and no manifest: the next run finds their chunks in the index and
does not send them again (resumable), and a snapshot never names a chunk that was not sent.

The chunk index belongs to the recipients it was sent for: when ``[backup] recipients``
changes (a partner's key added), the next run sends every chunk again, so each recipient opens
every pack the new snapshot needs (the old packs stay until ``prune`` finds them unneeded).

A destination that fails (unreachable, full, refused) is reported and the others go on; a
run succeeds only where its manifest was written. Off-site destinations wait until the
recovery kit is confirmed saved (``freehold backup init``).

The last good copy never goes. A stored file (``blobs/``, ``vault/``: named by its SHA-256)
that the archive holds but that is gone from the data folder, or changed on disk (its bytes
no longer its name's), never stops the run: the new snapshot carries forward the good copy an
earlier snapshot sent there (its chunks are in that destination's packs already; ``State``
keeps where, for every stored file a snapshot written there holds, and that copy counts only
while the chunk index still holds its chunks in those packs), so the newest snapshot holds
it and no prune can drop it. A file no snapshot there holds is *lost*: the snapshot is
written without it. Either way the run names each file (``Sent.carried``, ``Sent.lost``),
records it for ``status``, and the command exits 1 until the file is put back or the loss is
accepted (``freehold backup forget-lost``). A changed file's bytes are never in the manifest;
a pack this run sent that no snapshot needs (it held only those bytes) is deleted at once.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from pyrage import x25519

from freehold import _private, storage
from freehold.archive import ARCHIVE_NAME, now_iso
from freehold.backup import crypto, snapshot
from freehold.backup.destinations import Destination, duplicates, media, open_destination
from freehold.backup.format import (
    MANIFEST_LIMIT,
    Chunk,
    FileEntry,
    Manifest,
    compress,
    new_pack_name,
    new_snapshot_id,
    pack_path,
    render_manifest,
    snapshot_path,
    stored,
    stored_fault,
)
from freehold.backup.scratch import scratch
from freehold.backup.settings import BackupSettings, DestinationConfig, config_path, load
from freehold.backup.state import State, open_state
from freehold.errors import BackupError, FreeholdError

__all__ = [
    "Sent",
    "age_recipients",
    "listed_packs",
    "listed_snapshots",
    "locked",
    "not_kept",
    "offsite",
    "run",
    "same_place_problem",
    "selected",
]

Tick = Callable[[int, int, int], None]
_PACK_FILE = re.compile(r"^packs/([0-9a-f]{32})\.age$")
# A stored row the chunk index no longer backs (State.stale_stored): said with the loss.
_STALE = (
    "a snapshot there held it in packs this run cannot point at (gone, damaged, or sent "
    "before the recipients changed, so a recipient now set cannot open them)"
)
_SNAPSHOT_FILE = re.compile(r"^snapshots/(\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4})\.age$")


@dataclass(slots=True)
class Sent:
    """What a run did at one destination."""

    destination: str
    ok: bool = False
    snapshot: str | None = None
    packs: int = 0
    bytes: int = 0
    chunks_new: int = 0
    chunks_kept: int = 0  # already at the destination, from an earlier run
    chunks_repeated: int = 0  # met again in this run (the same bytes twice): stored once
    error: str | None = None
    carried: list[str] = field(default_factory=list)  # "path: why", good copy carried forward
    lost: list[str] = field(default_factory=list)  # "path: why", no snapshot there holds it


def listed_packs(listing: dict[str, int]) -> dict[str, int]:
    return {m[1]: size for path, size in listing.items() if (m := _PACK_FILE.match(path))}


def listed_snapshots(listing: dict[str, int]) -> list[str]:
    return sorted(m[1] for path in listing if (m := _SNAPSHOT_FILE.match(path)))


@contextmanager
def locked(home: Path) -> Iterator[None]:
    """One backup command at a time on this data folder (run, prune, restore's index); where
    there is no data folder (a prune from the recovery kit), nothing to lock and none made."""
    if not home.is_dir():
        yield
        return
    path = home / "backup" / "lock"
    _private.make_dirs(path.parent)
    _private.create(path)
    with path.open("a") as handle:
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise BackupError(
                    "another freehold backup command is running on this data folder — "
                    "wait for it to finish"
                ) from error
        yield


def selected(settings: BackupSettings, names: list[str] | None) -> list[DestinationConfig]:
    if not settings.destinations:
        raise BackupError("no backup destination yet — add one: freehold backup add NAME URL")
    unknown = sorted(set(names or []) - settings.destinations.keys())
    if unknown:
        known = ", ".join(settings.destinations)
        raise BackupError(f"no destination named {', '.join(unknown)} (there are: {known})")
    return [d for n, d in settings.destinations.items() if not names or n in names]


class _Target:
    """One destination during a run: its index, its open pack, the manifest it will get."""

    def __init__(
        self,
        dest: Destination,
        state: State,
        recipients: list[x25519.Recipient],
        pack: int,
        fingerprint: str,
    ) -> None:
        self.dest, self.state, self.recipients, self.pack_bytes = dest, state, recipients, pack
        self.sent = Sent(dest.name)
        if state.recipients(dest.name) != fingerprint:  # a key added or dropped: every
            state.new_recipients(dest.name, fingerprint)  # chunk goes again, for all of them
        listing = dest.listing()
        self.sizes = listed_packs(listing)
        snapshots = listed_snapshots(listing)
        self.previous = snapshots[-1] if snapshots else None
        gone = state.indexed_packs(dest.name) - self.sizes.keys()
        state.forget_packs(dest.name, gone)  # deleted behind our back: send those chunks again
        self.fresh: dict[str, Chunk] = {}
        self.sealed: set[str] = set()  # the packs this run sent
        self.entries: list[FileEntry] = []
        self._open()

    def _open(self) -> None:
        self.pack, self.buffer, self.pending = new_pack_name(), bytearray(), list[Chunk]()

    def place(self, sha: str, compressed: Callable[[], bytes]) -> None:
        found = self.fresh.get(sha)
        if found is not None:
            self.sent.chunks_repeated += 1
        elif (found := self.state.chunk(self.dest.name, sha)) is not None:
            self.sent.chunks_kept += 1
        else:
            data = compressed()
            found = Chunk(self.pack, len(self.buffer), len(data), sha)
            self.buffer += data
            self.pending.append(found)
            self.fresh[sha] = found
            self.sent.chunks_new += 1
        self.entries[-1].chunks.append(found)
        if len(self.buffer) >= self.pack_bytes:
            self.seal()

    def seal(self) -> None:
        if not self.pending:
            return
        encrypted = crypto.encrypt(bytes(self.buffer), self.recipients)
        self.dest.write(pack_path(self.pack), encrypted)
        with self.state.transaction():
            self.state.add_chunks(self.dest.name, self.pending)
        self.sizes[self.pack] = len(encrypted)
        self.sealed.add(self.pack)
        self.sent.packs += 1
        self.sent.bytes += len(encrypted)
        self._open()

    def carry(self, path: str, why: str) -> None:
        """The good copy of the stored file ``path`` (gone or changed here) carried forward
        from an earlier snapshot at this destination, where one holds it whole."""
        good = self.state.stored(self.dest.name, path)
        if good is not None:
            self.entries.append(good)
            self.sent.carried.append(f"{path}: {why}")
        elif self.state.stale_stored(self.dest.name, path):
            self.sent.lost.append(f"{path}: {why}; {_STALE}")
        else:
            self.sent.lost.append(f"{path}: {why}")

    def finish(self, manifest: Manifest, mac_key: bytes) -> None:
        self.seal()
        manifest.previous = self.previous
        manifest.files = [e for e in self.entries if e.path is not None]
        manifest.digests = next(e for e in self.entries if e.path is None)
        manifest.packs = {p: self.sizes[p] for p in sorted({c.pack for c in manifest.chunks()})}
        rendered = render_manifest(manifest, mac_key)
        if len(rendered) > MANIFEST_LIMIT:  # a restore would refuse it: never write one
            raise BackupError(
                f"{self.dest.name}: the snapshot's manifest would be {len(rendered):,} bytes, "
                f"past the {MANIFEST_LIMIT:,} a restore reads — the archive is too big for "
                "this format"
            )
        text = gzip.compress(rendered, mtime=0)
        encrypted = crypto.encrypt(text, self.recipients)
        self.dest.write(snapshot_path(manifest.snapshot), encrypted)
        self.sent.bytes += len(encrypted)
        self.sent.ok, self.sent.snapshot = True, manifest.snapshot
        self._remember(manifest)
        unneeded = sorted(self.sealed - manifest.packs.keys())  # a changed file's bytes alone
        if unneeded:
            self.dest.delete([pack_path(p) for p in unneeded])
            self.state.forget_packs(self.dest.name, unneeded)

    def _remember(self, manifest: Manifest) -> None:
        """Where each stored file of the snapshot lies, for a later run to carry forward: a
        row whose chunks differ from the manifest's entry is replaced (``State.keep_stored``),
        so the state names the chunks the newest snapshot points at."""
        with self.state.transaction():
            self.state.keep_stored(self.dest.name, [e for e in manifest.files if stored(e.path)])


class _Pass:
    """Reads every file once, chunk by chunk, handing each chunk to every live target."""

    def __init__(self, targets: list[_Target], tick: Tick | None, total: int) -> None:
        self.targets, self.tick, self.total, self.done = targets, tick, total, 0
        self.changed: dict[str, str] = {}  # stored files whose bytes are not their name's

    def live(self) -> list[_Target]:
        return [t for t in self.targets if t.sent.error is None]

    def file(self, source: snapshot.Source) -> None:
        for target in self.live():
            target.entries.append(FileEntry(source.path, source.size, ""))
        whole, size = hashlib.sha256(), 0
        with source.file.open("rb") as handle:
            for piece in _pieces(handle, snapshot.chunk_size(source.path)):
                whole.update(piece)
                size += len(piece)
                self._chunk(piece)
        for target in self.live():  # the bytes read, not the size listed: a file replaced
            entry = target.entries[-1]  # since (a rename) is recorded as it was read
            entry.size, entry.sha256 = size, whole.hexdigest()
        fault = stored_fault(source.path or "", whole.hexdigest())
        if fault is not None:  # never its bytes: the good copy is carried, or it is lost
            self.changed[source.path or ""] = "changed on disk: " + fault.partition(": ")[2]
            for target in self.live():
                target.entries.pop()

    def _chunk(self, piece: bytes) -> None:
        sha = hashlib.sha256(piece).hexdigest()
        packed: list[bytes] = []

        def compressed() -> bytes:
            if not packed:
                packed.append(compress(piece))
            return packed[0]

        for target in self.live():
            _guard(target, partial(target.place, sha, compressed))
        self.done += len(piece)
        if self.tick:
            self.tick(self.done, self.total, sum(t.sent.packs for t in self.targets))


def _guard(target: _Target, step: Callable[[], None]) -> None:
    """Run ``step`` for ``target``; a failure stops that destination only."""
    try:
        step()
    except FreeholdError as error:
        target.sent.error = str(error)
    except OSError as error:
        target.sent.error = str(storage.failure(error, target.dest.url, place=True))


def _pieces(handle: IO[bytes], size: int) -> Iterator[bytes]:
    while piece := handle.read(size):
        yield piece


def age_recipients(home: Path, settings: BackupSettings) -> list[Any]:
    """The configured recipients as age keys; a bad one is one line naming config.toml, the
    key and the value (``backup run`` and ``init``, which keeps them)."""
    where = f"{config_path(home)}: backup.recipients"
    return crypto.parse_recipients(list(settings.recipients), where)


def _targets(
    home: Path, settings: BackupSettings, configs: list[DestinationConfig], state: State
) -> tuple[list[_Target], list[Sent]]:
    recipients = age_recipients(home, settings)
    fingerprint = hashlib.sha256("\n".join(sorted(settings.recipients)).encode()).hexdigest()
    targets, failed = [], []
    twins = duplicates(settings.destinations.values())
    for config in configs:
        try:
            if config.name in twins:
                raise BackupError(same_place_problem(config.name, twins[config.name]))
            if offsite(config, home) and not settings.kit_saved:
                raise BackupError(
                    f"{config.name} is off site and the recovery kit is not confirmed saved — "
                    "run freehold backup init (or init --yes when it is)"
                )
            dest = open_destination(config)
            dest.ensure()
            targets.append(_Target(dest, state, recipients, settings.pack_bytes, fingerprint))
        except (FreeholdError, OSError) as error:
            failed.append(Sent(config.name, error=str(error)))
    return targets, failed


def same_place_problem(name: str, first: str) -> str:
    return (
        f"{name} is the same place as {first} (or one holds the other) — one copy, whatever "
        "its names, and two names "
        f"there spoil each other's checks: freehold backup remove {name}"
    )


def offsite(config: DestinationConfig, home: Path) -> bool:
    return config.offsite if config.offsite is not None else media(config, home) == "remote"


def run(home: Path, names: list[str] | None = None, tick: Tick | None = None) -> list[Sent]:
    settings = load(home)
    configs = selected(settings, names)
    mac_key = crypto.load_mac_key(home)
    if mac_key is None or not settings.recipients:
        raise BackupError("no backup identity here — run freehold backup init first")
    with locked(home):
        state = open_state(home)
        try:
            targets, failed = _targets(home, settings, configs, state)
            if targets:
                _snapshot(home, targets, state, mac_key, tick)
            for sent in failed:
                state.record("run", sent.destination, False, None, error=sent.error)
            return [*(t.sent for t in targets), *failed]
        finally:
            state.close()


def _snapshot(
    home: Path, targets: list[_Target], state: State, mac_key: bytes, tick: Tick | None
) -> None:
    manifest = Manifest(new_snapshot_id(), now_iso(), None, 0)
    for target in targets:  # "latest" is the greatest id: time must move on, there
        if target.previous and manifest.snapshot <= target.previous:
            target.sent.error = (
                f"{target.dest.name} holds a snapshot named {target.previous}, after this "
                "machine's clock — set the clock right; or, if this machine did not write it, "
                "take it away: freehold backup prune --forget-damaged"
            )
    if any(t.sent.error is None for t in targets):
        _send(home, targets, manifest, mac_key, tick)
    for target in targets:
        sent = target.sent
        if sent.ok:
            state.wrote(sent.destination, manifest.snapshot)
        state.record(
            "run",
            sent.destination,
            sent.ok,
            sent.snapshot,
            packs=sent.packs,
            bytes=sent.bytes,
            chunks_new=sent.chunks_new,
            chunks_kept=sent.chunks_kept,
            chunks_repeated=sent.chunks_repeated,
            error=sent.error,
            carried=sent.carried[:20],
            lost=sent.lost[:20],
            carried_count=len(sent.carried),
            lost_count=len(sent.lost),
            files_not_kept=len(sent.carried) + len(sent.lost),
        )


def not_kept(home: Path, sent: Sent) -> list[str]:
    """What a run says of the stored files it found gone or changed at one destination: each
    one, and what to do (put it back, or accept the loss)."""
    lines = []
    if sent.carried:
        lines += [
            f"{sent.destination}: {_files(len(sent.carried))} not as the archive stored "
            f"{_them(sent.carried)} — the good copy is carried forward in snapshot "
            f"{sent.snapshot}:",
            *(f"  {line}" for line in sent.carried),
            f"  put each back: freehold backup restore {sent.snapshot} --from "
            f"{sent.destination} --to DIR, then copy DIR/<file> to {home}/<file>",
        ]
    if sent.lost:
        lines += [
            f"{sent.destination}: {_files(len(sent.lost))} LOST — no snapshot this machine "
            "knows of there holds " + _them(sent.lost) + ":",
            *(f"  {line}" for line in sent.lost),
            "  a snapshot made before freehold carried files forward may: run freehold backup "
            "verify (it learns which do; the next run carries the copy forward). Else accept "
            "the loss: freehold backup forget-lost (a changed file is moved aside, never "
            "deleted; a re-import does not repair it)",
        ]
    return lines


def _files(count: int) -> str:
    return "1 stored file" if count == 1 else f"{count:,} stored files"


def _them(lines: list[str]) -> str:
    return "it" if len(lines) == 1 else "them"


def _send(
    home: Path, targets: list[_Target], manifest: Manifest, mac_key: bytes, tick: Tick | None
) -> None:
    """The snapshot read once and sent to every target still live."""
    with scratch(home / "backup", "snapshot-") as work:
        copy, digest_file = work / ARCHIVE_NAME, work / "digests"
        snapshot.consistent_copy(home, copy)
        manifest.conversations = snapshot.write_digests(copy, digest_file)
        sources = [
            snapshot.Source(ARCHIVE_NAME, copy, copy.stat().st_size),
            *snapshot.file_sources(home),
            snapshot.Source(None, digest_file, digest_file.stat().st_size),
        ]
        gone = snapshot.lacking(copy, {s.path for s in sources if s.path})
        passing = _Pass(targets, tick, sum(s.size for s in sources))
        for source in sources:
            passing.file(source)
    missing = {path: "gone from the data folder" for path in gone} | passing.changed
    for target in passing.live():
        for path, why in sorted(missing.items()):
            target.carry(path, why)
        _guard(target, partial(target.finish, manifest, mac_key))
