"""The last good copy never goes. A stored file the archive holds (an ``attachments`` row, an
export ``exit_exports`` names) that is gone from the data folder or changed on disk never
stops a run: the snapshot is written, the good copy an earlier snapshot holds is carried
forward into it (so no prune drops it), and a file no snapshot holds is named lost on every
run until it is put back or ``backup forget-lost`` accepts the loss. A manifest whose MAC
checks out is never damaged for what it holds: snapshots an older freehold wrote (lacking a
file, or holding one whose bytes are not its name's) restore all else and name the rest."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519

from freehold.backup import crypto, destinations
from freehold.backup import format as fmt
from freehold.backup import lost as losing
from freehold.backup.destinations import Folder
from freehold.backup.format import Manifest
from freehold.backup.prune import damaged
from freehold.backup.restore import drill, restore
from freehold.backup.run import _STALE, listed_packs, listed_snapshots, run
from freehold.backup.state import open_state
from freehold.backup.verify import open_manifest, verify

from .conftest import PASSPHRASE, Place, freehold
from .test_hostile import _rewritten


def _blob(home: Path) -> Path:
    return sorted((home / "blobs").glob("??/*"))[0]


def _snapshots(folder: Place) -> list[str]:
    return listed_snapshots(Folder("usb", folder.url).listing())


def _manifest(folder: Place, identity: crypto.Identity, snapshot: str) -> Manifest:
    return open_manifest(Folder("usb", folder.url), snapshot, identity, crypto.mac_key(identity))


def _forget_lost(home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return freehold(
        "backup", "forget-lost", "--yes", home=home, check=check, FREEHOLD_PASSPHRASE=PASSPHRASE
    )


def _flip(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[0] ^= 0x01
    file.write_bytes(bytes(data))


def test_a_gone_attachment_is_carried_forward_and_outlives_every_prune(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    good = run(home)[0].snapshot
    assert good is not None
    blob = _blob(home)
    path = blob.relative_to(home).as_posix()
    kept = next(e for e in _manifest(folder, identity, good).files if e.path == path)
    blob.unlink()
    sent = run(home)[0]
    assert sent.ok and sent.snapshot is not None  # the run goes on: a snapshot is written
    assert sent.carried == [f"{path}: gone from the data folder"] and sent.lost == []
    newest = next(e for e in _manifest(folder, identity, sent.snapshot).files if e.path == path)
    assert newest == kept  # the good copy's chunks, already at the destination
    (folder.backing / "snapshots" / f"{good}.age").unlink()  # as a prune of the older one
    back = restore(Folder("usb", folder.url), identity, "latest", tmp_path / "back")
    assert back.snapshot == sent.snapshot and back.lacking == []
    assert hashlib.sha256((tmp_path / "back" / path).read_bytes()).hexdigest() == blob.name


def test_the_cli_run_writes_the_snapshot_exits_1_and_status_names_the_file(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    blob = _blob(home)
    blob.unlink()
    done = freehold("backup", "run", home=home, check=False)
    said = " ".join(done.stderr.split())
    path = blob.relative_to(home).as_posix()
    assert done.returncode == 1
    assert f"{path}: gone from the data folder" in said
    assert "the good copy is carried forward in snapshot" in said
    assert len(_snapshots(folder)) == 2
    status = freehold("backup", "status", home=home, check=False)
    assert status.returncode == 1
    assert f"1 stored file gone or changed on disk ({path}: gone" in " ".join(status.stdout.split())


def test_a_file_no_snapshot_holds_is_lost_loudly_until_forget_lost_accepts_it(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url, None)
    blob = _blob(home)
    _flip(blob)  # changed on disk before any snapshot held it
    path = blob.relative_to(home).as_posix()
    for _ in range(2):  # every run says so
        done = freehold("backup", "run", home=home, check=False)
        said = " ".join(done.stderr.split())
        assert done.returncode == 1
        assert "1 stored file LOST — no snapshot this machine knows of there holds it" in said
        assert f"{path}: changed on disk" in said
        assert "freehold backup forget-lost (a changed file is moved aside" in said
        assert "import again" not in said  # a re-import skips a blob already there
    snapshots = _snapshots(folder)
    assert len(snapshots) == 2  # each run wrote its snapshot, without the changed bytes
    forgot = _forget_lost(home)
    assert f"lost: {path}" in forgot.stderr
    assert not blob.exists() and blob.with_name(blob.name + ".changed").is_file()  # kept aside
    db = sqlite3.connect(home / "archive.sqlite")
    links = db.execute("SELECT count(*) FROM message_attachments WHERE sha256=?", (blob.name,))
    assert links.fetchone()[0] == 0  # counted missing now, as one an export never brought
    db.close()
    assert freehold("backup", "run", home=home, check=False).returncode == 0


def test_forget_lost_keeps_a_file_a_snapshot_holds(home: Path, folder: Place) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    blob = _blob(home)
    blob.unlink()
    done = _forget_lost(home)
    assert f"kept: {blob.relative_to(home).as_posix()}" in done.stderr
    assert "a snapshot at usb holds it" in " ".join(done.stderr.split())
    db = sqlite3.connect(home / "archive.sqlite")
    assert db.execute("SELECT count(*) FROM attachments WHERE sha256=?", (blob.name,)).fetchone()
    db.close()


def test_a_gone_export_of_the_exit_plan_is_lost_and_the_rest_backed_up(
    home: Path, folder: Place
) -> None:
    sha = hashlib.sha256(b"an export that was recorded, then lost").hexdigest()
    db = sqlite3.connect(home / "archive.sqlite")
    with db:
        db.execute(
            "INSERT INTO exit_platforms (id, name, cadence_days, added_at) "
            "VALUES ('claude', 'Claude', 30, '2026-12-01')"
        )
        db.execute(
            "INSERT INTO exit_exports (platform_id, sha256, file_name, size, format, open, "
            "exported_at, recorded_at) VALUES ('claude', ?, 'x.zip', 1, 'zip', 1, "
            "'2026-12-01', '2026-12-01')",
            (sha,),
        )
    db.close()
    destinations.add(home, "usb", folder.url, None)
    sent = run(home)[0]
    assert sent.ok and sent.lost == [f"vault/{sha[:2]}/{sha}: gone from the data folder"]


def test_a_changed_file_sends_no_pack_that_no_snapshot_needs(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    from freehold.backup import settings

    settings.set_value(home, "pack_kib", 1)  # type: ignore[arg-type]
    big = max((home / "blobs").glob("??/*"), key=lambda p: p.stat().st_size)
    _flip(big)
    destinations.add(home, "usb", folder.url, None)
    sent = run(home)[0]
    assert sent.snapshot is not None and len(sent.lost) == 1
    needed = _manifest(folder, identity, sent.snapshot).packs.keys()
    assert set(listed_packs(Folder("usb", folder.url).listing())) == set(needed)


def test_an_attachment_never_brought_is_no_loss(home: Path, folder: Place) -> None:
    db = sqlite3.connect(home / "archive.sqlite")
    never = db.execute("SELECT count(*) FROM message_attachments WHERE sha256 IS NULL")
    assert never.fetchone()[0] > 0  # the sample's export lacks some of its files
    db.close()
    destinations.add(home, "usb", folder.url, None)
    sent = run(home)[0]
    assert sent.ok and sent.carried == [] and sent.lost == []


def test_a_manifest_whose_stored_file_is_not_named_by_its_sha256_parses() -> None:
    pack = fmt.new_pack_name()
    sha = "ab" + "0" * 62
    entry = fmt.FileEntry(f"blobs/ab/{sha}", 1, "cd" + "0" * 62, [fmt.Chunk(pack, 0, 1, sha)])
    manifest = fmt.Manifest(fmt.new_snapshot_id(), "2026-12-07", None, 0, {pack: 1}, [entry])
    parsed = fmt.parse_manifest(fmt.render_manifest(manifest, b"k" * 32), b"k" * 32, "here")
    assert parsed.files == [entry]


def test_an_older_snapshot_with_a_changed_file_restores_all_else_and_names_it(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    good = run(home)[0].snapshot
    run(home)
    blob = _blob(home).relative_to(home).as_posix()
    other = hashlib.sha256(b"the bytes an older freehold read after they rotted").hexdigest()

    def rotted(manifest: Manifest) -> None:  # as a run before the rule sent a changed file
        next(e for e in manifest.files if e.path == blob).sha256 = other

    newest = _rewritten(folder, identity, rotted)
    dest = Folder("usb", folder.url)
    state = open_state(home)
    try:
        report = verify(dest, identity, state)
        assert damaged(dest, identity, state).snapshots == {}  # --forget-damaged keeps it
    finally:
        state.close()
    assert report.ok
    assert [n for n in report.notes if blob in n and "a restore leaves that file out" in n]
    back = restore(dest, identity, "latest", tmp_path / "back")
    assert back.snapshot == newest and back.skipped == []
    assert not (tmp_path / "back" / blob).exists()
    assert [(i.path, i.why, i.held_in) for i in back.lacking] == [
        (blob, f"its bytes do not hash to its name (they hash to {other[:12]}…)", good)
    ]


def test_an_older_snapshot_lacking_a_file_restores_latest_and_says_where_it_is(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    good = run(home)[0].snapshot
    run(home)
    blob = _blob(home).relative_to(home).as_posix()

    def dropped(manifest: Manifest) -> None:  # as a run before the rule wrote it
        manifest.files = [e for e in manifest.files if e.path != blob]

    lacking = _rewritten(folder, identity, dropped)
    dest = Folder("usb", folder.url)
    back = restore(dest, identity, "latest", tmp_path / "one")  # the newest, not a fallback
    assert back.snapshot == lacking and back.skipped == []
    assert [(i.path, i.why, i.held_in) for i in back.lacking] == [
        (blob, "gone when the snapshot was made", good)
    ]
    assert (tmp_path / "one" / "archive.sqlite").is_file()
    state = open_state(home)
    try:
        tried = drill(home, dest, identity, state)
    finally:
        state.close()
    assert not tried.ok and tried.files_lacking == [
        f"{blob}: gone when the snapshot was made — snapshot {good} holds it: freehold backup "
        f"restore {good} --from usb --to DIR2, then copy DIR2/{blob} to {home / blob}"
    ]


def test_verify_teaches_a_run_to_carry_a_copy_only_an_older_snapshot_holds(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    run(home)
    blob = _blob(home)
    path = blob.relative_to(home).as_posix()
    _rewritten(
        folder, identity, lambda m: setattr(m, "files", [e for e in m.files if e.path != path])
    )
    db = sqlite3.connect(home / "backup" / "state.sqlite")
    with db:
        db.execute("DELETE FROM stored")  # as the state an older freehold kept
    db.close()
    blob.unlink()
    assert run(home)[0].lost == [f"{path}: gone from the data folder"]
    state = open_state(home)
    try:
        verify(Folder("usb", folder.url), identity, state)
    finally:
        state.close()
    sent = run(home)[0]
    assert sent.carried == [f"{path}: gone from the data folder"] and sent.lost == []


def test_a_drill_names_a_live_file_changed_on_disk_and_the_snapshot_to_take_it_from(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url, None)
    good = run(home)[0].snapshot
    blob = _blob(home)
    blob.write_bytes(b"rot" + blob.read_bytes()[3:])
    done = freehold("backup", "drill", home=home, check=False, FREEHOLD_PASSPHRASE=PASSPHRASE)
    assert done.returncode == 1
    said = " ".join(done.stdout.split())
    assert "1 changed on disk" in said
    assert f"changed on disk: {blob.relative_to(home).as_posix()}" in said
    assert f"freehold backup restore {good} --from usb --to DIR" in said


@pytest.mark.parametrize("changed", [False, True])
def test_the_cli_restore_lists_what_the_snapshot_lacks(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path, changed: bool
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    path = _blob(home).relative_to(home).as_posix()

    def spoiled(manifest: Manifest) -> None:
        if changed:
            next(e for e in manifest.files if e.path == path).sha256 = "0" * 64
        else:
            manifest.files = [e for e in manifest.files if e.path != path]

    _rewritten(folder, identity, spoiled)
    done = freehold(
        "backup",
        "restore",
        "latest",
        "--to",
        str(tmp_path / "back"),
        home=home,
        check=False,
        FREEHOLD_PASSPHRASE=PASSPHRASE,
    )
    assert done.returncode == 1
    assert f"not restored: {path}: " in done.stderr
    assert (tmp_path / "back" / "archive.sqlite").is_file()


def test_after_a_failed_run_the_run_carries_the_copy_the_newest_snapshot_points_at(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    destinations.add(home, "usb", folder.url, None)
    first = run(home)[0].snapshot
    assert first is not None
    for pack in (folder.backing / "packs").iterdir():
        pack.unlink()  # every pack the stored rows name, gone
    snapshots = folder.backing / "snapshots"
    snapshots.rename(folder.backing / "aside")
    snapshots.write_bytes(b"")  # a file where the folder goes: the manifest cannot be written
    failed = run(home)[0]
    assert not failed.ok and failed.packs > 0  # every chunk sent again, into new packs
    snapshots.unlink()
    (folder.backing / "aside").rename(snapshots)
    newest = run(home)[0]  # every chunk found in the index: those new packs
    assert newest.ok and newest.chunks_new == 0
    blob = _blob(home)
    path = blob.relative_to(home).as_posix()
    blob.unlink()
    sent = run(home)[0]
    assert sent.carried == [f"{path}: gone from the data folder"] and sent.lost == []
    assert sent.snapshot is not None
    carried = next(e for e in _manifest(folder, identity, sent.snapshot).files if e.path == path)
    assert carried.chunks[0].pack in listed_packs(Folder("usb", folder.url).listing())


@pytest.mark.parametrize("how", ["damaged", "recipients"])
def test_a_copy_in_a_pack_the_index_no_longer_trusts_is_not_carried(
    home: Path, folder: Place, identity: crypto.Identity, how: str
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    blob = _blob(home)
    path = blob.relative_to(home).as_posix()
    if how == "damaged":
        for pack in (folder.backing / "packs").iterdir():
            _flip(pack)
        state = open_state(home)
        try:
            assert not verify(Folder("usb", folder.url), identity, state).ok
        finally:
            state.close()
    else:  # a partner's key added: the old packs open for the owner only
        from freehold.backup import settings

        partner = x25519.Identity.generate().to_public()
        settings.set_value(home, "recipients", [*settings.load(home).recipients, str(partner)])
    blob.unlink()
    sent = run(home)[0]
    assert sent.ok and sent.carried == []
    assert sent.lost == [f"{path}: gone from the data folder; {_STALE}"]
    assert sent.snapshot is not None
    newest = _manifest(folder, identity, sent.snapshot)
    assert path not in {e.path for e in newest.files}


def _attachment_kept(home: Path, sha: str) -> bool:
    db = sqlite3.connect(home / "archive.sqlite")
    try:
        found = db.execute("SELECT count(*) FROM attachments WHERE sha256=?", (sha,))
        return bool(found.fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("how", ["no rows", "removed and added"])
def test_forget_lost_reads_the_snapshots_and_keeps_a_file_one_holds(
    home: Path, folder: Place, how: str
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    blob = _blob(home)
    blob.unlink()
    if how == "no rows":  # as the state of a freehold before stored rows were kept
        db = sqlite3.connect(home / "backup" / "state.sqlite")
        with db:
            db.execute("DELETE FROM stored")
        db.close()
    else:  # the same place removed and added again: the state forgets all of it
        freehold("backup", "remove", "usb", home=home)
        destinations.add(home, "usb", folder.url, None)
    done = _forget_lost(home)
    assert f"kept: {blob.relative_to(home).as_posix()}" in done.stderr
    assert _attachment_kept(home, blob.name)


def test_forget_lost_forgets_nothing_while_a_destination_does_not_answer(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url, None)
    blob = _blob(home)
    _flip(blob)
    folder.backing.rename(folder.backing.with_name("unplugged"))
    done = _forget_lost(home, check=False)
    assert done.returncode == 1
    assert "usb did not answer" in done.stderr and "nothing forgotten" in done.stderr
    assert blob.is_file() and _attachment_kept(home, blob.name)


def test_a_file_put_back_before_forget_is_left_alone_and_nothing_moved_aside_is_overwritten(
    home: Path,
) -> None:
    gone, changed = sorted((home / "blobs").glob("??/*"))[:2]
    good = gone.read_bytes()
    gone.unlink()
    (changed.with_name(changed.name + ".changed")).write_bytes(b"moved aside before")
    _flip(changed)
    found = losing.find(home, {})  # no snapshot holds either
    assert [item.path for item in found] == sorted(
        p.relative_to(home).as_posix() for p in (gone, changed)
    )
    gone.write_bytes(good)  # put back between the listing and the confirmation
    forgotten = losing.forget(home, found)
    assert [item.path for item in forgotten] == [changed.relative_to(home).as_posix()]
    assert gone.read_bytes() == good and _attachment_kept(home, gone.name)
    assert changed.with_name(changed.name + ".changed").read_bytes() == b"moved aside before"
    assert changed.with_name(changed.name + ".changed.1").is_file() and not changed.exists()


def test_the_destinations_holding_a_stored_file_are_found_through_an_index(home: Path) -> None:
    state = open_state(home)
    try:
        plan = state.db.execute(
            "EXPLAIN QUERY PLAN SELECT destination, chunks FROM stored WHERE path=?", ("x",)
        ).fetchall()
    finally:
        state.close()
    assert "USING INDEX stored_path" in " ".join(str(row[-1]) for row in plan)


def test_status_counts_every_lost_file_past_the_twenty_a_run_lists(
    home: Path, folder: Place
) -> None:
    shas = [hashlib.sha256(f"export {n}".encode()).hexdigest() for n in range(21)]
    db = sqlite3.connect(home / "archive.sqlite")
    with db:
        db.execute(
            "INSERT INTO exit_platforms (id, name, cadence_days, added_at) "
            "VALUES ('claude', 'Claude', 30, '2026-12-01')"
        )
        db.executemany(
            "INSERT INTO exit_exports (platform_id, sha256, file_name, size, format, open, "
            "exported_at, recorded_at) VALUES ('claude', ?, 'x.zip', 1, 'zip', 1, "
            "'2026-12-01', '2026-12-01')",
            [(sha,) for sha in shas],
        )
    db.close()
    destinations.add(home, "usb", folder.url, None)
    assert len(run(home)[0].lost) == 21
    status = freehold("backup", "status", home=home, check=False)
    said = " ".join(status.stdout.split())
    assert "found 21 stored files gone or changed on disk" in said
    assert "21 of them in no snapshot" in said


def test_a_drill_names_another_destination_that_holds_a_file_this_one_lacks(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    destinations.add(home, "nas", str(tmp_path / "nas"), None)
    run(home)
    path = _blob(home).relative_to(home).as_posix()
    _rewritten(  # usb's only snapshot made without it, as an older freehold did
        folder, identity, lambda m: setattr(m, "files", [e for e in m.files if e.path != path])
    )
    state = open_state(home)
    try:
        tried = drill(home, Folder("usb", folder.url), identity, state)
    finally:
        state.close()
    assert len(tried.files_lacking) == 1
    said = tried.files_lacking[0]
    assert "one at nas does" in said and "restore latest --from nas" in said
