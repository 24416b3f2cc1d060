"""Cuts and concurrency, with real processes: ``kill -9`` during a backup and during a restore
leaves the live archive as it was and no plaintext behind (the scratch folder's reaper), a
backup cut short resumes without sending again what reached the destination, and a backup
taken while an import writes restores to a consistent archive."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from freehold.backup import crypto, destinations, settings
from freehold.backup.destinations import Folder, Remote
from freehold.backup.restore import restore
from freehold.backup.run import run
from freehold.errors import BackupError

from .conftest import Place, Templates, generate, make_place

PACKS = re.compile(r", ([\d,]+) packs?")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (an event, not a duration), at most 30 s."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for: {what}"
        time.sleep(0.02)


def _start(home: Path, *args: str, lines: bool = True) -> subprocess.Popen[str]:
    """``freehold ARGS``; with ``lines``, a progress line on stderr at every step."""
    env = {**os.environ, "FREEHOLD_HOME": str(home), "FREEHOLD_PROGRESS_INTERVAL": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "freehold", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if lines else subprocess.DEVNULL,
        text=True,
    )


def _kill_after_packs(process: subprocess.Popen[str], packs: int) -> None:
    """Read the progress lines until ``packs`` packs are done, then kill -9."""
    assert process.stderr is not None
    for line in process.stderr:
        found = PACKS.search(line)
        if found and int(found[1].replace(",", "")) >= packs:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    process.stderr.close()  # the rest of its lines are of no interest
    assert process.returncode == -signal.SIGKILL, "finished before it could be cut"


def test_kill_9_during_a_backup_then_the_next_run_resumes(
    medium: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    settings.set_value(medium, "pack_kib", 512)  # type: ignore[arg-type]
    destinations.add(medium, "usb", folder.url, None)
    archive = medium / "archive.sqlite"
    before = _sha(archive)
    _kill_after_packs(_start(medium, "backup", "run"), 2)
    _until(lambda: not list((medium / "backup").glob("snapshot-*")), "the reaper")
    assert _sha(archive) == before
    packs = list((folder.backing / "packs").iterdir())
    assert len(packs) >= 2
    assert all(p.read_bytes().startswith(b"age-encryption.org/v1\n") for p in packs)
    assert not list(folder.backing.glob("snapshots/*"))  # cut before the manifest
    again = run(medium)[0]
    assert again.ok
    assert again.chunks_kept >= 2 * 512 * 1024 // 16384 // 4  # the cut run's packs, reused
    restore(Folder("usb", folder.url), identity, "latest", tmp_path / "back")


def test_kill_9_during_a_restore_leaves_no_plaintext(
    medium: Path, folder: Place, templates: Templates, tmp_path: Path
) -> None:
    settings.set_value(medium, "pack_kib", 512)  # type: ignore[arg-type]
    destinations.add(medium, "usb", folder.url, None)
    assert run(medium)[0].ok
    archive = medium / "archive.sqlite"
    before = _sha(archive)
    target = tmp_path / "restored"
    process = _start(
        medium, "backup", "restore", "latest", "--to", str(target), "--identity", str(templates.kit)
    )
    _kill_after_packs(process, 3)
    _until(lambda: not list(tmp_path.glob(".freehold-restore-*")), "the reaper")
    assert not target.exists()  # the scratch beside it is renamed to it only when all is proven
    assert _sha(archive) == before


def _conversations(home: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{home / 'archive.sqlite'}?mode=ro", uri=True, timeout=30)
        try:
            return int(db.execute("SELECT count(*) FROM conversations").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def test_a_backup_taken_while_an_import_writes_restores_consistently(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    export = tmp_path / "big.zip"
    generate(export, target_bytes=60_000_000, layout="single", seed=11)
    destinations.add(home, "usb", folder.url, None)
    start = _conversations(home)
    importing = _start(home, "import", str(export), lines=False)
    _until(lambda: _conversations(home) > start, "the import's first batch")
    sent = run(home)[0]
    importing.wait()
    assert importing.returncode == 0
    assert sent.ok
    restored = restore(Folder("usb", folder.url), identity, "latest", tmp_path / "back")
    # checked by the restore: SHA-256, integrity_check, every conversation digest
    assert start < restored.conversations < _conversations(home)  # taken mid-import


def _rcat_pid(marker: str) -> int | None:
    """The running ``rclone rcat`` whose target holds ``marker``."""
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"rcat" in words and any(marker.encode() in word for word in words):
            return int(entry.name)
    return None


def test_an_upload_cut_by_kill_9_leaves_no_part_under_a_real_name(
    home: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    templates: Templates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place = make_place("sftp", tmp_path, request)  # SFTP keeps what arrived of a cut upload
    destinations.add(home, "nas", place.url, None)
    assert run(home)[0].ok
    dest = Remote("nas", place.url)
    name = f"packs/{'c' * 32}.age"
    monkeypatch.setenv("RCLONE_BWLIMIT", "256k")  # slow enough to cut it in the middle
    failed: list[BaseException] = []

    def upload() -> None:
        try:
            dest.write(name, os.urandom(8 << 20))
        except BackupError as error:
            failed.append(error)

    writer = threading.Thread(target=upload)
    writer.start()
    arrived = [p for p in place.backing.rglob("*") if p.is_file()]
    _until(
        lambda: any(
            p.stat().st_size > 0 for p in (place.backing / "packs").iterdir() if p not in arrived
        ),
        "a part of the pack at the server",
    )
    pid = _rcat_pid(place.url)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    writer.join()
    assert failed, "the upload finished before it could be cut"
    assert not (place.backing / name).exists()
    done = subprocess.run(
        [sys.executable, "-m", "freehold", "backup", "verify", "--identity", str(templates.kit)],
        env={**os.environ, "FREEHOLD_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # at most a note, never a problem
    assert "nas: OK" in done.stdout
