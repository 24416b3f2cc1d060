"""One bad destination fails only itself, and `restore latest` takes the newest snapshot that
restores: the one before a damaged one, then the next destination."""

from __future__ import annotations

import shutil
from pathlib import Path

from freehold.backup import crypto, destinations, settings
from freehold.backup.destinations import Folder
from freehold.backup.restore import restore
from freehold.backup.run import run
from freehold.backup.state import open_state

from .conftest import Templates, freehold

JUNK = "20991231T000000.000000Z-0000"


def _two(home: Path, tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "one", tmp_path / "two"
    destinations.add(home, "one", str(one), None)
    destinations.add(home, "two", str(two), None)
    return one, two


def test_a_junk_snapshot_at_one_destination_fails_that_one_only_and_is_recorded(
    home: Path, tmp_path: Path
) -> None:
    one, _ = _two(home, tmp_path)
    assert all(sent.ok for sent in run(home))
    (one / "snapshots" / f"{JUNK}.age").write_bytes(b"")
    sent = {s.destination: s for s in run(home)}
    assert sent["two"].ok
    assert not sent["one"].ok
    assert sent["one"].error is not None and "one holds a snapshot named" in sent["one"].error
    assert JUNK in sent["one"].error
    state = open_state(home)
    try:
        last = state.last("run", "one")
    finally:
        state.close()
    assert last is not None and not last.ok and JUNK in last.detail["error"]
    shown = freehold("backup", "status", home=home, check=False)
    assert "FAILED" in shown.stdout


def test_restore_latest_skips_a_damaged_newest_snapshot_and_says_so(
    home: Path, tmp_path: Path, identity: crypto.Identity
) -> None:
    one, _ = _two(home, tmp_path)
    first = run(home)[0].snapshot
    (one / "snapshots" / f"{JUNK}.age").write_bytes(b"")
    done = restore(Folder("one", str(one)), identity, "latest", tmp_path / "back")
    assert done.snapshot == first
    assert len(done.skipped) == 1 and JUNK in done.skipped[0]


def test_restore_latest_goes_on_to_the_next_destination(
    home: Path, tmp_path: Path, templates: Templates
) -> None:
    one, _ = _two(home, tmp_path)
    run(home)
    shutil.rmtree(one / "snapshots")  # the first answers, and holds no snapshot
    done = freehold(
        "backup",
        "restore",
        "latest",
        "--identity",
        str(templates.kit),
        "--to",
        str(tmp_path / "back"),
        home=home,
    )
    assert "from two" in done.stderr and "no snapshot there yet" in done.stderr
    assert (tmp_path / "back" / "archive.sqlite").is_file()


def test_from_a_configured_url_is_that_destination_and_keeps_its_state(
    home: Path, tmp_path: Path, templates: Templates
) -> None:
    one, _ = _two(home, tmp_path)
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write("\n[backup.keep]\ndaily = 0\nweekly = 0\nmonthly = 0\n")
    for _ in range(3):
        assert run(home, ["one"])[0].ok
    kit = ("--identity", str(templates.kit))
    pruned = freehold("backup", "prune", "--from", f"{one}/", *kit, "--yes", home=home)
    assert "one: 1 snapshots kept, 2 go" in pruned.stdout
    verified = freehold("backup", "verify", "--from", "one", *kit, home=home, check=False)
    assert verified.returncode == 0, verified.stdout
    by_url = freehold("backup", "verify", "--from", str(one), *kit, home=home)
    assert by_url.stdout.startswith("one: OK")


def test_prune_forget_damaged_lets_verify_pass_again(
    home: Path, tmp_path: Path, templates: Templates
) -> None:
    one, _ = _two(home, tmp_path)
    settings.set_value(home, "pack_kib", 32)  # type: ignore[arg-type]
    assert run(home, ["one"])[0].ok
    assert run(home, ["one"])[0].ok
    pack = sorted((one / "packs").iterdir())[0]
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 1
    pack.write_bytes(bytes(data))
    kit = ("--identity", str(templates.kit))
    assert freehold("backup", "verify", "--from", "one", *kit, home=home, check=False).returncode
    assert run(home, ["one"])[0].ok  # sends the damaged pack's chunks again
    oldest = sorted((one / "snapshots").iterdir())[0]
    assert len(list((one / "snapshots").iterdir())) == 3
    # the older two still need the damaged pack; one more is lost by hand
    oldest.unlink()
    still = freehold("backup", "verify", "--from", "one", *kit, home=home, check=False)
    assert still.returncode == 1 and "this machine wrote it" in " ".join(still.stdout.split())
    planned = freehold(
        "backup", "prune", "--forget-damaged", "--dry-run", "--from", "one", *kit, home=home
    )
    assert "would go" in planned.stdout and len(list((one / "snapshots").iterdir())) == 2
    freehold("backup", "prune", "--forget-damaged", "--yes", "--from", "one", *kit, home=home)
    assert len(list((one / "snapshots").iterdir())) == 1
    verified = freehold("backup", "verify", "--from", "one", *kit, home=home, check=False)
    assert verified.returncode == 0, verified.stdout
    assert not pack.exists()  # no kept snapshot needs it: pruned
