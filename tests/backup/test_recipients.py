"""A second recipient (a partner's key, a hardware key's): every pack a new snapshot needs
opens with it, a restore with it says plainly what it cannot check, and a verify with it
never costs the owner's chunk index."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pyrage import x25519

from freehold.backup import crypto, destinations, settings
from freehold.backup.destinations import Folder
from freehold.backup.restore import restore
from freehold.backup.run import run
from freehold.backup.state import open_state
from freehold.backup.verify import verify
from freehold.errors import DamagedBackupError

from .conftest import Place, Templates, freehold
from .test_age_recipe import _recipe


def _indexed(home: Path) -> int:
    state = open_state(home)
    try:
        return int(state.db.execute("SELECT count(*) FROM chunks").fetchone()[0])
    finally:
        state.close()


@pytest.fixture
def partner(home: Path, folder: Place, templates: Templates, tmp_path: Path) -> Path:
    """A destination with a snapshot for the owner alone, then the partner's key added and a
    second run; the partner's identity file."""
    destinations.add(home, "usb", folder.url, None)
    first = run(home)[0]
    assert first.ok
    key = x25519.Identity.generate()
    settings.set_value(home, "recipients", [templates.recipient, str(key.to_public())])
    second = run(home)[0]
    assert second.ok and second.chunks_new == first.chunks_new  # every chunk sent again
    path = tmp_path / "partner.key"
    path.write_text(f"{key}\n", encoding="utf-8")
    return path


def test_a_partner_restores_the_latest_snapshot_and_is_told_about_the_mac(
    home: Path, folder: Place, partner: Path, tmp_path: Path
) -> None:
    key = crypto.identity_from_file(partner)
    dest = Folder("usb", folder.url)
    with pytest.raises(DamagedBackupError, match="--skip-mac"):
        restore(dest, key, "latest", tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    done = restore(dest, key, "latest", tmp_path / "back", check_mac=False)
    assert done.conversations > 0
    cli = freehold(
        "backup",
        "restore",
        "latest",
        "--from",
        "usb",
        "--identity",
        str(partner),
        "--skip-mac",
        "--to",
        str(tmp_path / "cli"),
        home=home,
    )
    assert "MAC was not checked" in cli.stderr


def test_a_partner_restores_with_age_and_a_shell(
    folder: Place, partner: Path, tmp_path: Path
) -> None:
    script = tmp_path / "restore.sh"
    script.write_text(_recipe(), encoding="utf-8")
    latest = sorted((folder.backing / "snapshots").iterdir())[-1].name.removesuffix(".age")
    done = subprocess.run(
        ["sh", str(script), str(partner), folder.url, latest, str(tmp_path / "by-age")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "by-age" / "archive.sqlite").stat().st_size > 0


def test_a_verify_with_the_partners_key_keeps_the_chunk_index(
    home: Path, folder: Place, partner: Path
) -> None:
    key = crypto.identity_from_file(partner)
    before = _indexed(home)
    assert before > 0
    state = open_state(home)
    try:
        unchecked = verify(Folder("usb", folder.url), key, state)
        skipped = verify(Folder("usb", folder.url), key, state, check_mac=False)
    finally:
        state.close()
    assert any("--skip-mac" in note for note in unchecked.notes)
    # with --skip-mac, only the packs of the snapshot made before the partner was added are
    # named: the partner cannot open them
    assert skipped.problems and {p.kind for p in skipped.problems} == {"foreign"}
    assert _indexed(home) == before
    assert run(home)[0].chunks_new == 0  # nothing is sent again
