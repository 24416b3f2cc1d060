"""``freehold backup prune``: keep 7 daily, 4 weekly, 12 monthly snapshots (by default).

The newest snapshot of each of the last N days (weeks, months) that have one is kept, and the
newest snapshot always; the other manifests are deleted first, then every pack that no kept
snapshot needs (those of pruned snapshots and those an interrupted run left). Deleting in that
order means a cut never leaves a manifest that names a deleted pack. A manifest that cannot be
read is never deleted, and the packs it may need are kept with it: prune stops and says so.

A pack some kept snapshot needs stays whole, even where most of its chunks are no longer
needed (packs are not rewritten); prune reports those bytes.

``--forget-damaged`` (``damaged`` then ``forget``) first takes away what a full verify finds
broken, so that verify can pass again: every snapshot whose manifest is damaged, replayed or
not opened by the key (while others are: a wrong key stops verify first), and every snapshot
that needs a damaged or missing pack; and this machine forgets the snapshots it wrote that
are gone. The packs only those snapshots needed then go with the rest of the prune.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from freehold.backup import crypto
from freehold.backup.destinations import Destination
from freehold.backup.format import pack_path, snapshot_path, snapshot_time
from freehold.backup.run import listed_packs, listed_snapshots
from freehold.backup.settings import Retention
from freehold.backup.state import State
from freehold.backup.verify import open_manifest, verify
from freehold.errors import BackupError

__all__ = ["Damaged", "Pruned", "damaged", "forget", "kept", "prune"]


@dataclass(slots=True)
class Damaged:
    """What ``--forget-damaged`` takes away at one destination."""

    destination: str
    snapshots: dict[str, str] = field(default_factory=dict)  # snapshot → why it goes
    lost: list[str] = field(default_factory=list)  # written here once, gone: forgotten


def damaged(dest: Destination, identity: crypto.Identity, state: State) -> Damaged:
    """A full verify of ``dest``, and the snapshots it shows broken."""
    report = verify(dest, identity, state)
    found = Damaged(dest.name)
    bad_packs: dict[str, str] = {}
    for problem in report.problems:
        top, _, rest = problem.path.partition("/")
        name = rest.removesuffix(".age")
        if top == "snapshots" and problem.kind == "missing":
            found.lost.append(name)
        elif top == "snapshots":
            found.snapshots[name] = f"{problem.kind}: {problem.detail}"
        elif top == "packs" and problem.kind in ("damaged", "missing"):
            bad_packs[name] = f"needs {problem.path}, {problem.kind}"
    mac_key = crypto.mac_key(identity)
    for snapshot in report.snapshots:
        if snapshot in found.snapshots:
            continue
        needs = open_manifest(dest, snapshot, identity, mac_key).packs.keys() & bad_packs.keys()
        if needs:
            found.snapshots[snapshot] = bad_packs[min(needs)]
    return found


def forget(dest: Destination, state: State, found: Damaged) -> None:
    """Delete the broken snapshots ``damaged`` found; forget them and the lost ones."""
    dest.delete([snapshot_path(s) for s in sorted(found.snapshots)])
    state.forget_snapshots(dest.name, [*found.snapshots, *found.lost])
    state.record("prune", dest.name, True, None, forgot=sorted(found.snapshots), lost=found.lost)


@dataclass(slots=True)
class Pruned:
    destination: str
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    packs_removed: int = 0
    bytes_removed: int = 0


def _day(when: datetime) -> tuple[int, ...]:
    return (when.year, when.month, when.day)


def _week(when: datetime) -> tuple[int, ...]:
    return tuple(when.isocalendar()[:2])


def _month(when: datetime) -> tuple[int, ...]:
    return (when.year, when.month)


def kept(snapshots: list[str], keep: Retention) -> set[str]:
    newest_first = sorted(snapshots, reverse=True)
    chosen = set(newest_first[:1])
    rules: list[tuple[int, Callable[[datetime], tuple[int, ...]]]] = [
        (keep.daily, _day),
        (keep.weekly, _week),
        (keep.monthly, _month),
    ]
    for count, period in rules:
        seen: set[tuple[int, ...]] = set()
        for snapshot in newest_first:
            key = period(snapshot_time(snapshot))
            if key in seen:
                continue
            if len(seen) == count:
                break
            seen.add(key)
            chosen.add(snapshot)
    return chosen


def prune(
    dest: Destination, identity: crypto.Identity, state: State, keep: Retention, *, dry_run: bool
) -> Pruned:
    listing = dest.listing()
    snapshots = listed_snapshots(listing)
    report = Pruned(dest.name, kept=sorted(kept(snapshots, keep)))
    report.removed = [s for s in snapshots if s not in report.kept]
    needed: set[str] = set()
    mac_key = crypto.mac_key(identity)
    for snapshot in report.kept:
        try:
            needed |= open_manifest(dest, snapshot, identity, mac_key).packs.keys()
        except BackupError as error:
            raise BackupError(
                f"{error} — prune deletes nothing while a kept snapshot cannot be read "
                "(freehold backup verify names every problem)"
            ) from error
    packs = listed_packs(listing)
    unneeded = sorted(set(packs) - needed)
    report.packs_removed = len(unneeded)
    report.bytes_removed = sum(packs[p] for p in unneeded)
    if not dry_run:
        dest.delete([snapshot_path(s) for s in report.removed])
        state.forget_snapshots(dest.name, report.removed)
        dest.delete([pack_path(p) for p in unneeded])
        state.forget_packs(dest.name, unneeded)
        dest.delete([p for p in listing if p.rpartition("/")[2].startswith(".tmp-")])
        state.record("prune", dest.name, True, None, removed=report.removed, packs=len(unneeded))
    return report
