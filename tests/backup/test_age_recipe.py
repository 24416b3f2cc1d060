"""Readable without freehold: the recipe in docs/backups.md (the same script freehold ships and
prints in the recovery kit) restores a snapshot with Debian's ``age`` and a shell alone, to the
very bytes freehold's own restore gives."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from freehold.backup import crypto, destinations, settings
from freehold.backup.destinations import Folder
from freehold.backup.restore import restore
from freehold.backup.run import run

from .conftest import REPO, Place, Templates

DOCS = REPO / "docs" / "backups.md"


def _recipe() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1, "docs/backups.md has one ```sh block: the recipe"
    return str(blocks[0])


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_the_docs_recipe_is_the_script_freehold_ships_and_the_kit_carries(
    templates: Templates,
) -> None:
    assert _recipe() == crypto.recipe()
    kit = templates.kit.read_text(encoding="utf-8")
    assert all(f"#     {line}".rstrip() in kit for line in crypto.recipe().splitlines())


def test_the_recipe_restores_with_age_and_a_shell_alone(
    home: Path, folder: Place, templates: Templates, identity: crypto.Identity, tmp_path: Path
) -> None:
    age = shutil.which("age")
    assert age, "the age tool is missing: run scripts/install-system-packages"
    settings.set_value(home, "pack_kib", 64)  # type: ignore[arg-type]
    destinations.add(home, "usb", folder.url, None)
    run(home)
    run(home)  # the latest snapshot points into packs of both runs
    script = tmp_path / "restore.sh"
    script.write_text(_recipe(), encoding="utf-8")
    snapshot = sorted((folder.backing / "snapshots").iterdir())[-1].name.removesuffix(".age")
    done = subprocess.run(
        ["sh", str(script), str(templates.kit), folder.url, snapshot, str(tmp_path / "by-age")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},  # Debian's tools only: no freehold, no Python venv
    )
    assert done.returncode == 0, done.stderr
    assert f"restored {snapshot}" in done.stdout
    restore(Folder("usb", folder.url), identity, snapshot, tmp_path / "by-freehold")
    by_age = _files(tmp_path / "by-age")
    assert by_age == _files(tmp_path / "by-freehold")
    assert "archive.sqlite" in by_age and any(p.startswith("blobs/") for p in by_age)


def _forged(folder: Path, recipient: str, lines: list[str]) -> str:
    """A snapshot anyone may write who knows the public recipient: its MAC is junk (the
    shell cannot check it), every other line as the attacker likes."""
    snapshot = "20991231T000000.000000Z-0000"
    pack = "ab" * 16
    member = gzip.compress(b"pwned\n")
    (folder / "packs").mkdir(exist_ok=True)
    (folder / "packs" / f"{pack}.age").write_bytes(
        crypto.encrypt(member, [crypto.recipient(recipient)])
    )
    body = "\n".join(
        [
            "freehold-backup 1",
            f"snapshot {snapshot}",
            "created x",
            "previous -",
            "conversations 0",
            *(line.format(pack=pack, size=len(member)) for line in lines),
            "mac 00",
            "",
        ]
    )
    (folder / "snapshots").mkdir(exist_ok=True)
    (folder / "snapshots" / f"{snapshot}.age").write_bytes(
        crypto.encrypt(gzip.compress(body.encode()), [crypto.recipient(recipient)])
    )
    return snapshot


SHA = hashlib.sha256(b"pwned\n").hexdigest()


@pytest.mark.parametrize(
    "lines",
    [
        ["pack {pack} 1", f"file ../outside/pwned 6 {SHA}", f"chunk {{pack}} 0 {{size}} {SHA}"],
        ["pack {pack} 1", f"file /tmp/pwned 6 {SHA}", f"chunk {{pack}} 0 {{size}} {SHA}"],
        ["pack {pack} 1", f"file blobs/../../outside/pwned 6 {SHA}"],
        ["pack ../../outside/pwned 1"],
        ["pack {pack} 1", f"file archive.sqlite 6 {SHA}", "chunk {pack} $(touch) {size} x"],
    ],
    ids=["dotdot", "absolute", "inner-dotdot", "pack-path", "offset"],
)
def test_the_recipe_refuses_a_forged_manifest_and_leaves_no_plaintext(
    folder: Place, templates: Templates, tmp_path: Path, lines: list[str]
) -> None:
    backup = tmp_path / "usb"
    backup.mkdir()
    snapshot = _forged(backup, templates.recipient, lines)
    script = tmp_path / "restore.sh"
    script.write_text(_recipe(), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["sh", str(script), str(templates.kit), str(backup), snapshot, str(work / "out")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=work,
    )
    assert done.returncode != 0
    assert "refused" in done.stderr
    assert not (tmp_path / "outside").exists() and not (work / "outside").exists()
    assert not Path("/tmp/pwned").exists()
    assert list(work.iterdir()) == []  # OUT removed: no decrypted pack, manifest or file


def test_the_recipe_writes_private_files_and_refuses_an_existing_out(
    home: Path, folder: Place, templates: Templates, tmp_path: Path
) -> None:
    settings.set_value(home, "pack_kib", 64)  # type: ignore[arg-type]
    destinations.add(home, "usb", folder.url, None)
    run(home)
    script = tmp_path / "restore.sh"
    script.write_text(_recipe(), encoding="utf-8")
    snapshot = sorted((folder.backing / "snapshots").iterdir())[-1].name.removesuffix(".age")
    out = tmp_path / "by-age"

    def recipe() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(script), str(templates.kit), folder.url, snapshot, str(out)],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin"},
        )

    assert recipe().returncode == 0
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in out.rglob("*")}
    assert modes["archive.sqlite"] == 0o600
    assert {m for p, m in modes.items() if (out / p).is_dir()} == {0o700}
    assert {m for p, m in modes.items() if (out / p).is_file()} == {0o600}
    before = sorted(out.rglob("*"))
    assert recipe().returncode != 0  # OUT exists: refused, and left as it was
    assert sorted(out.rglob("*")) == before
