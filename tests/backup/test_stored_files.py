"""The rule of stored files: a stored file's SHA-256 is its name, and every file the archive
holds (a row of ``attachments``, an export ``exit_exports`` names) is in the snapshot. A run
refuses a snapshot that breaks it, naming each file and the snapshot that still holds it; the
manifest parser and a restore refuse one too. An attachment an export never brought is no
loss."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from freehold.backup import crypto, destinations
from freehold.backup import format as fmt
from freehold.backup.destinations import Folder
from freehold.backup.format import Manifest
from freehold.backup.restore import restore
from freehold.backup.run import listed_snapshots, run
from freehold.backup.state import open_state
from freehold.backup.verify import verify
from freehold.errors import BackupError, DamagedBackupError

from .conftest import PASSPHRASE, Place, freehold
from .test_hostile import _rewritten


def _blob(home: Path) -> Path:
    return sorted((home / "blobs").glob("??/*"))[0]


def _snapshots(folder: Place) -> list[str]:
    return listed_snapshots(Folder("usb", folder.url).listing())


def test_a_run_refuses_when_a_stored_attachment_is_gone_and_names_the_good_snapshot(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url, None)
    good = run(home)[0].snapshot
    blob = _blob(home)
    blob.unlink()
    with pytest.raises(BackupError) as refused:
        run(home)
    path = blob.relative_to(home).as_posix()
    assert f"{path}: gone from the data folder" in str(refused.value)
    assert f"freehold backup restore {good} --from usb --to DIR" in str(refused.value)
    assert _snapshots(folder) == [good]  # the good copy is still the latest, kept by prune
    state = open_state(home)
    try:
        last = state.last("run", "usb")
        assert last is not None and not last.ok
    finally:
        state.close()


def test_a_run_refuses_a_stored_file_whose_bytes_are_not_its_name(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url, None)
    blob = _blob(home)
    data = bytearray(blob.read_bytes())
    data[0] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="do not hash to its name") as refused:
        run(home)
    assert blob.relative_to(home).as_posix() in str(refused.value)
    assert "import again the export" in str(refused.value)  # no snapshot holds it yet
    assert _snapshots(folder) == []


def test_a_run_refuses_when_an_export_the_exit_plan_names_is_gone(
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
    with pytest.raises(BackupError, match=f"vault/{sha[:2]}/{sha}: gone from the data folder"):
        run(home)


def test_an_attachment_never_brought_is_no_loss(home: Path, folder: Place) -> None:
    db = sqlite3.connect(home / "archive.sqlite")
    never = db.execute("SELECT count(*) FROM message_attachments WHERE sha256 IS NULL")
    assert never.fetchone()[0] > 0  # the sample's export lacks some of its files
    db.close()
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok


def test_a_manifest_whose_stored_file_is_not_named_by_its_sha256_is_refused() -> None:
    pack = fmt.new_pack_name()
    sha = "ab" + "0" * 62
    entry = fmt.FileEntry(f"blobs/ab/{sha}", 1, "cd" + "0" * 62, [fmt.Chunk(pack, 0, 1, sha)])
    manifest = fmt.Manifest(fmt.new_snapshot_id(), "2026-12-07", None, 0, {pack: 1}, [entry])
    with pytest.raises(DamagedBackupError, match=f"blobs/ab/{sha}: its bytes do not hash"):
        fmt.parse_manifest(fmt.render_manifest(manifest, b"k" * 32), b"k" * 32, "here")


def test_verify_and_restore_refuse_a_snapshot_whose_stored_file_is_not_its_name(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    blob = _blob(home).relative_to(home).as_posix()

    def renamed(manifest: Manifest) -> None:  # as a run before the rule wrote a rotted file
        entry = next(e for e in manifest.files if e.path == blob)
        entry.path = blob[:-1] + ("0" if blob[-1] != "0" else "1")

    _rewritten(folder, identity, renamed)
    state = open_state(home)
    try:
        report = verify(Folder("usb", folder.url), identity, state)
    finally:
        state.close()
    assert [p.kind for p in report.problems] == ["damaged"]
    assert "do not hash to its name" in report.problems[0].detail
    with pytest.raises(DamagedBackupError, match="do not hash to its name"):
        restore(Folder("usb", folder.url), identity, "latest", tmp_path / "back")


def test_a_restore_refuses_a_snapshot_that_lacks_a_file_its_archive_holds(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    good = run(home)[0].snapshot
    lacking = run(home)[0].snapshot
    blob = _blob(home).relative_to(home).as_posix()

    def dropped(manifest: Manifest) -> None:  # as a run before the rule wrote it
        manifest.files = [e for e in manifest.files if e.path != blob]

    _rewritten(folder, identity, dropped)
    dest = Folder("usb", folder.url)
    with pytest.raises(DamagedBackupError, match=f"lacks {blob}, which its archive holds"):
        restore(dest, identity, str(lacking), tmp_path / "one")
    back = restore(dest, identity, "latest", tmp_path / "two")  # the one before it, named
    assert back.snapshot == good
    assert [f"lacks {blob}" in s for s in back.skipped] == [True]
    assert (tmp_path / "two" / blob).is_file()


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
