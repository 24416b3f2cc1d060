"""Backup to a folder, end to end: incremental runs, a restore that works as a data folder, the
drill, the kit rule for off-site destinations, and no secret of the machine inside a backup."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from freehold.archive import open_archive
from freehold.backup import crypto, destinations, settings
from freehold.backup.destinations import Folder
from freehold.backup.restore import drill, restore
from freehold.backup.run import run
from freehold.backup.state import open_state
from freehold.backup.verify import verify
from freehold.errors import BackupError, DamagedBackupError

from .conftest import Place, freehold, generate

CANARY = "sk-proj-CANARYcanary0123456789abcdefCANARY"


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_second_run_with_nothing_new_sends_no_chunk(home: Path, folder: Place) -> None:
    destinations.add(home, "usb", folder.url, None)
    first = run(home)[0]
    assert first.ok and first.chunks_new > 0 and first.packs == 1
    # an empty folder holds no chunk: a chunk met twice in one run is a repeat, stored once
    assert first.chunks_kept == 0 and first.chunks_repeated > 0
    second = run(home)[0]
    assert second.ok and second.snapshot != first.snapshot
    assert (second.chunks_new, second.packs) == (0, 0)
    assert second.chunks_kept == first.chunks_new + first.chunks_repeated


def test_after_a_1_percent_import_a_run_sends_a_small_part(
    medium: Path, folder: Place, tmp_path: Path
) -> None:
    """The figure at 1 GB is in docs/performance.md (benchmarks/backup.py); here, 20 MB."""
    destinations.add(medium, "usb", folder.url, None)
    first = run(medium)[0]
    small = tmp_path / "small.zip"
    generate(small, target_bytes=200_000, layout="single", seed=5)
    freehold("import", str(small), home=medium)
    second = run(medium)[0]
    total = second.chunks_new + second.chunks_kept + second.chunks_repeated
    assert 0 < second.chunks_new < total * 0.15
    assert second.bytes < first.bytes * 0.15


def test_a_restore_is_a_data_folder_that_works(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    restored = restore(Folder("usb", folder.url), identity, "latest", tmp_path / "restored")
    assert restored.conversations == 23
    with open_archive(home, create=False) as live, open_archive(tmp_path / "restored") as back:
        assert back.stats() == live.stats()
        assert back.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _files(tmp_path / "restored" / "blobs") == _files(home / "blobs")
    assert {p.name for p in (tmp_path / "restored").iterdir()} == {"archive.sqlite", "blobs"}


def test_the_vault_is_part_of_every_snapshot(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    export = b"PK\x03\x04 a platform's export, kept by content hash"
    sha = hashlib.sha256(export).hexdigest()
    (home / "vault" / sha[:2]).mkdir(parents=True)
    (home / "vault" / sha[:2] / sha).write_bytes(export)
    destinations.add(home, "usb", folder.url, None)
    run(home)
    restore(Folder("usb", folder.url), identity, "latest", tmp_path / "back")
    assert (tmp_path / "back" / "vault" / sha[:2] / sha).read_bytes() == export


def test_profiles_and_the_lifecycle_file_are_in_every_snapshot_but_a_stray_file_is_not(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    versions = home / "profiles" / "work"
    versions.mkdir(parents=True)
    (versions / "v0001.md").write_text("---\nname: work\n---\n## About me\nI write.\n")
    (versions / "v0002.md").write_text("---\nname: work\n---\n## About me\nI edit.\n")
    (versions / "review.json").write_text("{}")
    (versions / "notes.txt").write_text("not a profile's file")  # not freehold's: left out
    (home / "model-lifecycle.toml").write_text('[[model]]\nvendor = "local"\nid = "m-1"\n')
    destinations.add(home, "usb", folder.url, None)
    run(home)
    back = tmp_path / "back"
    restore(Folder("usb", folder.url), identity, "latest", back)
    for name in ("v0001.md", "v0002.md", "review.json"):
        assert (back / "profiles" / "work" / name).read_bytes() == (versions / name).read_bytes()
    assert not (back / "profiles" / "work" / "notes.txt").exists()
    assert (back / "model-lifecycle.toml").read_text() == (
        home / "model-lifecycle.toml"
    ).read_text()


def test_a_restore_refuses_a_folder_that_holds_an_archive(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    before = _files(home)
    with pytest.raises(BackupError, match="holds an archive already"):
        restore(Folder("usb", folder.url), identity, "latest", home)
    assert _files(home) == before


def _damaged(folder: Place) -> Folder:
    """The destination at ``folder``, one bit of a pack flipped (as a failing disk may)."""
    dest = Folder("usb", folder.url)
    pack = sorted(path for path in dest.listing() if path.startswith("packs/"))[0]
    data = bytearray(dest.read(pack))
    data[len(data) // 2] ^= 0x01
    dest.write(pack, bytes(data))
    return dest


def test_a_failed_restore_leaves_an_empty_folder_as_it_was_and_makes_none(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    dest = _damaged(folder)
    mounted = tmp_path / "disk"  # an empty folder the user made: it stays, as it was
    mounted.mkdir(mode=0o750)
    with pytest.raises(DamagedBackupError, match="damaged"):
        restore(dest, identity, "latest", mounted)
    assert list(mounted.iterdir()) == [] and mounted.stat().st_mode & 0o777 == 0o750
    with pytest.raises(DamagedBackupError, match="damaged"):
        restore(dest, identity, "latest", tmp_path / "made" / "for" / "it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "home", "usb"]


def test_a_restore_refuses_a_folder_holding_other_files(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match="busy is not empty — restore into a new or empty"):
        restore(Folder("usb", folder.url), identity, "latest", busy)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_a_target_that_cannot_be_made_is_one_error_naming_it_and_leaves_nothing(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    # C10: a regular file where a folder must go, or any other OS error making the target
    destinations.add(home, "usb", folder.url, None)
    run(home)
    dest = Folder("usb", folder.url)
    afile = tmp_path / "afile"
    afile.write_text("x\n")
    for to in (afile / "sub", afile / "sub" / "deeper", afile):
        with pytest.raises(BackupError) as raised:
            restore(dest, identity, "latest", to)
        assert str(raised.value) == (
            f"{to}: cannot restore there ({afile} is a file, not a folder) — restore into a "
            "new or empty folder"
        )
    too_long = tmp_path / "new" / ("x" * 300) / "data"  # "new" can be made, the next cannot
    with pytest.raises(BackupError, match=f"^{too_long}: cannot restore there \\(File name too"):
        restore(dest, identity, "latest", too_long)
    assert afile.read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "home", "usb"]


def test_an_offsite_destination_waits_until_the_kit_is_confirmed(
    home: Path, folder: Place, tmp_path: Path
) -> None:
    settings.set_value(home, "kit_saved", "")
    destinations.add(home, "cloud", folder.url, True)
    destinations.add(home, "usb", str(tmp_path / "usb2"), None)
    results = {sent.destination: sent for sent in run(home)}
    assert results["usb"].ok
    assert not results["cloud"].ok
    assert "recovery kit is not confirmed" in (results["cloud"].error or "")
    assert [p.name for p in Path(folder.url).iterdir()] == ["freehold-backup"]  # only added


def test_a_drill_compares_with_the_live_archive_and_fails_when_a_file_is_gone(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    destinations.add(home, "usb", folder.url, None)
    run(home)
    state = open_state(home)
    try:
        good = drill(home, Folder("usb", folder.url), identity, state)
        assert good.ok and good.same == 23 and good.changed == good.newer == 0
        blob = next((home / "blobs").glob("??/*"))
        blob.unlink()
        bad = drill(home, Folder("usb", folder.url), identity, state)
        assert not bad.ok
        assert bad.files_gone == [blob.relative_to(home).as_posix()]
        assert state.last("drill", "usb") is not None
        assert not state.last("drill", "usb").ok  # type: ignore[union-attr]
    finally:
        state.close()
    assert not list((home / "backup").glob("drill-*"))  # the drill's restore is gone


def _plaintexts(folder: Path, identity: crypto.Identity) -> list[bytes]:
    """Every file of a folder destination, decrypted (manifests unzipped) where it opens."""
    texts = []
    for path in folder.rglob("*.age"):
        plain = crypto.decrypt(path.read_bytes(), identity, str(path))
        texts.append(gzip.decompress(plain) if "snapshots" in path.parts else plain)
    for path in folder.rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes())
    return texts


def test_a_canary_api_key_is_never_inside_a_backup(
    home: Path,
    folder: Place,
    identity: crypto.Identity,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    config = home / "config.toml"
    config.write_text(
        f'# my key: {CANARY}\n[providers.openai]\nkind = "openai"\n'
        f'api_key = "{CANARY}"\n' + config.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    destinations.add(home, "usb", folder.url, None)
    freehold("backup", "run", home=home)
    texts = _plaintexts(Path(folder.url), identity)
    assert len(texts) > 4
    pieces = [gzip.decompress(t) if t[:2] == b"\x1f\x8b" else t for t in texts]
    assert not [t for t in texts + pieces if CANARY.encode() in t]
    back = tmp_path / "back"
    restore(Folder("usb", folder.url), identity, "latest", back)
    assert not [p for p in back.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert CANARY.encode() in config.read_bytes()  # the canary was there to be found


def test_a_verify_of_a_healthy_destination_reads_every_pack(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    settings.set_value(home, "pack_kib", 64)  # type: ignore[arg-type]
    destinations.add(home, "usb", folder.url, None)
    run(home)
    run(home)
    state = open_state(home)
    try:
        report = verify(Folder("usb", folder.url), identity, state)
    finally:
        state.close()
    assert report.ok, report.problems
    assert len(report.snapshots) == 2
    assert report.packs_read == report.packs_total > 3


def test_a_run_to_an_unplugged_disk_fails_and_makes_no_folder_in_its_place(
    home: Path, folder: Place
) -> None:
    destinations.add(home, "usb", folder.url)
    shutil.rmtree(folder.url)  # the disk is not mounted: its folder is not there
    sent = run(home)[0]
    assert not sent.ok
    assert "plug the disk in" in (sent.error or "")
    assert not Path(folder.url).exists()


def test_sampled_verifies_read_every_pack_within_ceil_100_over_percent_runs(
    home: Path, folder: Place, identity: crypto.Identity
) -> None:
    settings.set_value(home, "pack_kib", 16)  # type: ignore[arg-type]
    destinations.add(home, "usb", folder.url)
    run(home)
    seen: list[str] = []
    state = open_state(home)
    try:
        for _ in range(4):  # --sample 25: four runs
            report = verify(Folder("usb", folder.url), identity, state, sample=25)
            assert report.ok and report.packs_read < report.packs_total
            seen += report.read
    finally:
        state.close()
    assert sorted(set(seen)) == sorted(p.name[:-4] for p in (folder.backing / "packs").iterdir())
