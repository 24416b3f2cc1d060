"""Odd places and odd files are one line each, never a traceback; destination folders are
private; and no command makes a data folder where FREEHOLD_HOME points at nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from freehold.backup import destinations
from freehold.backup.run import run
from tests.test_storage import freehold as storage_freehold

from .conftest import Place, Templates, freehold


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_dangling_link_in_a_destination_is_foreign_not_a_traceback(
    home: Path, folder: Place, templates: Templates
) -> None:
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok
    (folder.backing / "snapshots" / "stray").symlink_to(folder.backing / "nowhere")
    for command in (["list"], ["verify", "--identity", str(templates.kit)]):
        done = freehold("backup", *command, home=home, check=False)
        assert "Traceback" not in done.stderr
    assert "foreign: snapshots/stray" in done.stdout


def test_a_file_where_a_destination_folder_goes_is_one_line(home: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert "cannot be a backup folder" in _one_line(
        freehold("backup", "add", "f1", str(plain), home=home, check=False)
    )
    assert "cannot be a backup folder" in _one_line(
        freehold("backup", "add", "f2", str(plain / "under"), home=home, check=False)
    )


def test_an_unknown_user_folder_is_one_line_and_status_still_answers(home: Path) -> None:
    line = _one_line(freehold("backup", "add", "f", "~nosuchuser9/bk", home=home, check=False))
    assert "~nosuchuser9/bk" in line and "full path" in line
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write('\n[backup.destinations.f]\nurl = "~nosuchuser9/bk"\n')
    for command in (["status"], ["destinations"], ["run"]):
        done = freehold("backup", *command, home=home, check=False)
        assert "Traceback" not in done.stderr, done.stderr
    assert "full path" in freehold("backup", "run", home=home, check=False).stderr


def test_a_passphrase_file_that_is_not_text_is_one_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "pass.txt"
    bad.write_bytes(b"\xff\xfe\x00binary")
    line = _one_line(
        freehold("backup", "verify", "--passphrase-file", str(bad), home=home, check=False)
    )
    assert str(bad) in line


def test_a_drill_without_an_archive_is_one_line(
    home: Path, folder: Place, templates: Templates, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok
    empty = tmp_path / "empty"
    empty.mkdir()
    done = freehold(
        "backup",
        "drill",
        "--from",
        folder.url,
        "--identity",
        str(templates.kit),
        home=empty,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no archive at" in " ".join(done.stdout.split())
    assert not (empty / "archive.sqlite").exists()


def test_destination_subfolders_are_private_whatever_the_umask(home: Path, folder: Place) -> None:
    before = os.umask(0o022)
    try:
        destinations.add(home, "usb", folder.url, None)
        assert run(home)[0].ok
    finally:
        os.umask(before)
    for sub in ("packs", "snapshots"):
        assert (folder.backing / sub).stat().st_mode & 0o777 == 0o700


def test_no_command_makes_a_data_folder_where_there_is_none(
    home: Path, folder: Place, templates: Templates, tmp_path: Path
) -> None:
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok
    missing = tmp_path / "missing"
    verified = freehold(
        "backup",
        "verify",
        "--from",
        folder.url,
        "--identity",
        str(templates.kit),
        home=missing,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    pruned = freehold(
        "backup",
        "prune",
        "--from",
        folder.url,
        "--identity",
        str(templates.kit),
        "--yes",
        home=missing,
        check=False,
    )
    assert pruned.returncode == 0, pruned.stderr
    assert not missing.exists()
    job = subprocess.run(
        [sys.executable, "-m", "freehold.backup.daily", "--home", str(missing)],
        capture_output=True,
        text=True,
    )
    assert job.returncode == 1 and "no archive at" in job.stderr
    assert not missing.exists()
    printed = freehold("backup", "schedule", "--print", home=missing, check=False)
    assert "no freehold archive there" in _one_line(printed)
    assert not missing.exists()


@pytest.mark.parametrize("command", [["status"], ["list"], ["destinations"]])
def test_reading_commands_make_no_data_folder(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    freehold("backup", *command, home=missing, check=False)
    assert not missing.exists()


def test_a_read_only_destination_is_the_storage_s_one_line_naming_the_folder(
    home: Path, folder: Place
) -> None:
    """A read-only disk, as the kernel says it to a user without root's powers (``chmod``)."""
    destinations.add(home, "usb", folder.url, None)
    folder.backing.chmod(0o500)
    try:
        done = storage_freehold("backup", "run", unprivileged=True, home=home)
    finally:
        folder.backing.chmod(0o700)
    assert done.returncode == 1
    said = " ".join((done.stdout + done.stderr).split())
    assert (
        f"usb: FAILED — {folder.backing} is not writable (Permission denied) — make it "
        "writable for you (or mount the disk read-write) and run again"
    ) in said
    assert "Errno" not in said and ".tmp-" not in said


def test_a_restore_without_space_says_so_and_how_much_it_needs(
    home: Path, folder: Place, templates: Templates, tmp_path: Path
) -> None:
    """A full disk is a file-size limit in the child (EFBIG, one of the storage's "full")."""
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok
    to = tmp_path / "back"
    done = storage_freehold(
        "backup", "restore", "latest", "--identity", str(templates.kit), "--to", str(to),
        limit=200_000, home=home,
    )  # fmt: skip
    line = _one_line(done)
    assert line.startswith(f"Error: cannot restore: no space left for {to} (File too large)")
    files = [home / "archive.sqlite", *(home / "blobs").glob("??/*")]  # what it restores
    needs = sum(f.stat().st_size for f in files) / 1e6
    assert line.endswith(f"— it needs {needs:,.1f} MB: free space and run again")
    assert "new or empty folder" not in line
    assert not to.exists()
