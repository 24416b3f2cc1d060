"""Every kind of destination — a folder, and S3, SFTP and WebDAV servers on 127.0.0.1 — backs
up, verifies and restores; and the tamper matrix: whatever the storage does to the files
(flip a byte, truncate, delete, add, replay an old manifest) or whoever reads them (wrong
key, wrong passphrase), verify detects it and names the file, and a restore refuses with
nothing of the snapshot left behind."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from pyrage import x25519

from freehold.backup import crypto, destinations, settings
from freehold.backup.destinations import Destination, _last_words, open_destination
from freehold.backup.restore import restore
from freehold.backup.run import run
from freehold.backup.state import open_state
from freehold.backup.verify import Report, verify
from freehold.errors import BackupKeyError, DamagedBackupError

from .conftest import PASSPHRASE, Place, _free_port, freehold

TAMPERS = ["flip", "truncate", "delete", "foreign", "replay", "drop-snapshot"]


def _backed_up(home: Path, place: Place) -> None:
    """Two snapshots at ``place``, in several small packs."""
    settings.set_value(home, "pack_kib", 32)
    destinations.add(home, "dest", place.url, None)
    for _ in range(2):
        sent = run(home)[0]
        assert sent.ok, sent.error


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the first backup of each kind of destination is kept, for the tests after it."""
    return tmp_path_factory.mktemp("backed-up")


@pytest.fixture
def backed_up(home: Path, place: Place, made: Path) -> None:
    """``_backed_up(home, place)``, made for real once per kind of destination; the other tests
    of that kind get a copy of its stored files (put in their own place, as the storage would
    hold them) and of the state beside it. They tamper with their copy, never with the first.
    Each destination is still added as a user adds it (``destinations.add`` finds a freehold
    backup there), and each test still verifies and restores through its own server."""
    kept = made / place.kind
    if not kept.is_dir():
        _backed_up(home, place)
        shutil.copytree(place.backing, kept / "stored")
        shutil.copytree(home / "backup", kept / "backup")
        return
    shutil.copytree(kept / "stored", place.backing, dirs_exist_ok=True)
    shutil.copytree(kept / "backup", home / "backup", dirs_exist_ok=True)
    settings.set_value(home, "pack_kib", 32)
    destinations.add(home, "dest", place.url, None)


def _dest(home: Path) -> Destination:
    return open_destination(settings.load(home).destinations["dest"])


def _verify(home: Path, identity: crypto.Identity) -> Report:
    state = open_state(home)
    try:
        return verify(_dest(home), identity, state)
    finally:
        state.close()


def _names(dest: Destination, top: str) -> list[str]:
    return sorted(path for path in dest.listing() if path.startswith(top + "/"))


def _tamper(kind: str, dest: Destination) -> tuple[str, str]:
    """Do ``kind`` to the stored files, through the storage itself (as anyone holding its keys
    could); returns (problem kind, path) that verify must name."""
    pack = _names(dest, "packs")[1]
    if kind == "flip":
        data = bytearray(dest.read(pack))
        data[len(data) // 2] ^= 0x01
        dest.write(pack, bytes(data))
        return "damaged", pack
    if kind == "truncate":
        dest.write(pack, dest.read(pack)[:-100])
        return "damaged", pack
    if kind == "delete":
        dest.delete([pack])
        return "missing", pack
    if kind == "foreign":
        stray = f"packs/{secrets.token_hex(16)}.age"
        dest.write(stray, os.urandom(3000))
        return "foreign", stray
    old, new = _names(dest, "snapshots")
    if kind == "replay":
        dest.write(new, dest.read(old))
        return "replayed", new
    dest.delete([new])  # drop-snapshot: the storage lost (or hid) the newest snapshot
    return "missing", new


def test_backup_verify_restore_round_trip(
    home: Path, place: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    _backed_up(home, place)
    report = _verify(home, identity)
    assert report.ok, report.problems
    packs = _names(_dest(home), "packs")
    assert report.packs_read == report.packs_total == len(packs) > 2
    done = restore(_dest(home), identity, "latest", tmp_path / "back")
    assert done.conversations == 23
    assert (tmp_path / "back" / "archive.sqlite").stat().st_size > 0
    stored = [p for p in place.backing.rglob("*") if p.is_file() and p.name != "freehold-backup"]
    assert len(stored) == len(packs) + 2
    assert all(p.read_bytes().startswith(b"age-encryption.org/v1\n") for p in stored)


@pytest.mark.parametrize("tamper", TAMPERS)
def test_tampering_is_detected_and_named(
    backed_up: None,
    home: Path,
    place: Place,
    identity: crypto.Identity,
    tamper: str,
    tmp_path: Path,
) -> None:
    kind, path = _tamper(tamper, _dest(home))
    report = _verify(home, identity)
    assert (kind, path) in [(p.kind, p.path) for p in report.problems], report.problems
    assert not report.ok
    if tamper in ("foreign", "drop-snapshot"):
        return  # the remaining snapshots are whole: a restore of them is right to succeed
    if tamper == "replay":  # latest is the newest that restores: the one before, named
        done = restore(_dest(home), identity, "latest", tmp_path / "back")
        assert done.snapshot == _names(_dest(home), "snapshots")[0].removesuffix(".age")[10:]
        assert len(done.skipped) == 1 and "replayed" in done.skipped[0]
        return
    target = tmp_path / "new" / "back"
    with pytest.raises(DamagedBackupError, match=path.split("/")[1].split(".")[0]):
        restore(_dest(home), identity, "latest", target)
    assert not (tmp_path / "new").exists()  # no plaintext, no folder: nothing is left behind


def test_a_damaged_pack_is_sent_again_by_the_next_run(
    backed_up: None, home: Path, place: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    """Verify takes a damaged pack out of the index; the next run sends its chunks again,
    so the newest snapshot restores although the damaged pack is still there."""
    _tamper("flip", _dest(home))
    report = _verify(home, identity)
    assert not report.ok
    again = run(home)[0]
    assert again.ok and again.chunks_new > 0
    restore(_dest(home), identity, "latest", tmp_path / "back")


def test_a_wrong_key_is_named_and_leaves_nothing(
    backed_up: None, home: Path, place: Place, tmp_path: Path
) -> None:
    stranger = x25519.Identity.generate()
    with pytest.raises(BackupKeyError, match="wrong key"):
        _verify(home, stranger)
    with pytest.raises(BackupKeyError, match="wrong key"):
        restore(_dest(home), stranger, "latest", tmp_path / "back")
    assert not [p for p in (tmp_path / "back").rglob("*") if p.is_file()]


def test_a_wrong_passphrase_is_named(
    backed_up: None, home: Path, place: Place, tmp_path: Path
) -> None:
    with pytest.raises(BackupKeyError, match="wrong passphrase"):
        crypto.unlock(home, PASSPHRASE + "!")
    done = freehold(
        "backup",
        "restore",
        "latest",
        "--to",
        str(tmp_path / "back"),
        home=home,
        check=False,
        FREEHOLD_PASSPHRASE="not it",
    )
    assert done.returncode == 1
    assert "wrong passphrase for the backup identity" in done.stderr
    assert not (tmp_path / "back").exists()


def test_an_unreachable_remote_fails_alone_after_bounded_retries_with_rclone_s_whole_line(
    home: Path, folder: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 endpoint where nothing listens (a server gone since it was added): rclone's own
    line says how often it tried (2, not rclone's default 10 × 10, some 12 minutes a call)."""
    for key, value in {
        "TYPE": "s3",
        "PROVIDER": "Rclone",
        "ENDPOINT": f"http://127.0.0.1:{_free_port()}",
        "ACCESS_KEY_ID": "k",
        "SECRET_ACCESS_KEY": "s",
    }.items():
        monkeypatch.setenv(f"RCLONE_CONFIG_FHGONE_{key}", value)
    destinations.add(home, "usb", folder.url, None)
    settings.add_destination(home, "cloud", "fhgone:bucket/backup", True)
    sent = {s.destination: s for s in run(home)}
    assert sent["usb"].ok
    error = sent["cloud"].error or ""
    assert error.startswith("cloud: rclone lsjson failed: Failed to lsjson")
    assert "exceeded maximum number of attempts, 2," in error
    assert error.endswith("connection refused")


def test_a_long_rclone_line_is_cut_at_a_word() -> None:
    line = "2026/12/07 10:01:45 NOTICE: Failed: " + "error S3: " * 60 + "connection refused"
    said = _last_words(line)
    assert said.startswith("…error S3: ") and said.endswith(" connection refused")
    assert len(said) <= 501
