"""Readable without freehold: the recipe in docs/backups.md (the same script freehold ships and
prints in the recovery kit) restores a snapshot with Debian's ``age`` and a shell alone, to the
very bytes freehold's own restore gives."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

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
