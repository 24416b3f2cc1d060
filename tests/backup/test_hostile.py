"""What anyone who knows the public recipient can write, or a file that changes under a run:
a backup that lies must be refused before it costs memory, and what run and verify call OK
must restore."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from freehold.backup import crypto, destinations
from freehold.backup.destinations import Folder
from freehold.backup.format import (
    Chunk,
    Manifest,
    new_pack_name,
    pack_path,
    render_manifest,
    snapshot_path,
)
from freehold.backup.restore import restore
from freehold.backup.run import run
from freehold.backup.state import open_state
from freehold.backup.verify import check_pack, open_manifest, verify
from freehold.errors import DamagedBackupError

from .conftest import Place, Templates


def _zeros_gzip(size: int) -> bytes:
    """A gzip member of ``size`` zero bytes, made a MiB at a time (a few hundred KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def test_a_chunk_that_inflates_past_the_chunk_size_is_refused_before_it_is_held(
    folder: Place, templates: Templates, identity: crypto.Identity
) -> None:
    bomb = _zeros_gzip(64 << 20)
    pack = new_pack_name()
    folder.backing.mkdir()
    (folder.backing / "packs").mkdir()
    (folder.backing / pack_path(pack)).write_bytes(
        crypto.encrypt(bomb, [crypto.recipient(templates.recipient)])
    )
    chunk = Chunk(pack, 0, len(bomb), hashlib.sha256(bytes(64 << 20)).hexdigest())
    with pytest.raises(DamagedBackupError, match="inflates past"):
        check_pack(Folder("usb", folder.url), pack, [chunk], identity)


def test_a_manifest_bomb_is_refused_in_bounded_memory(
    home: Path, folder: Place, templates: Templates
) -> None:
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok
    bomb = _zeros_gzip(1 << 30)  # 1 GiB inflated, about 1 MB here
    newest = sorted((folder.backing / "snapshots").iterdir())[-1]
    newest.write_bytes(crypto.encrypt(bomb, [crypto.recipient(templates.recipient)]))
    probe = (
        "import resource, sys\n"
        "from freehold.cli import cli\n"
        "try:\n    cli(sys.argv[1:], prog_name='freehold')\n"
        "except SystemExit as done:\n    code = done.code\n"
        "print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "backup", "verify", "--identity", str(templates.kit)],
        capture_output=True,
        text=True,
        env={"FREEHOLD_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert f"damaged: {snapshot_path(newest.name[:-4])}" in done.stdout, done.stderr
    assert "inflates past" in done.stdout
    peak_kib = int(done.stdout.rsplit("peak ", 1)[1])
    assert peak_kib < 400 << 10, f"{peak_kib >> 10} MiB"  # the 1 GiB never held whole


def test_a_file_replaced_during_a_run_is_recorded_as_read_and_restores(
    home: Path, folder: Place, identity: crypto.Identity, tmp_path: Path
) -> None:
    lifecycle = home / "model-lifecycle.toml"
    lifecycle.write_text("# mine\n", encoding="utf-8")
    longer = "# mine, edited while the backup ran: longer than it was when listed\n"
    destinations.add(home, "usb", folder.url, None)

    def replace_once(done: int, total: int, packs: int) -> None:
        if lifecycle.read_text(encoding="utf-8") != longer:
            swap = home / "model-lifecycle.toml.new"
            swap.write_text(longer, encoding="utf-8")
            swap.replace(lifecycle)  # written whole and renamed, as freehold writes it

    sent = run(home, tick=replace_once)[0]
    assert sent.ok
    state = open_state(home)
    try:
        assert verify(Folder("usb", folder.url), identity, state).ok
    finally:
        state.close()
    restore(Folder("usb", folder.url), identity, "latest", tmp_path / "back")
    assert (tmp_path / "back" / "model-lifecycle.toml").read_text(encoding="utf-8") == longer


def _rewritten(folder: Place, identity: crypto.Identity, change: Callable[[Manifest], None]) -> str:
    """The newest manifest changed by ``change`` and signed again (as its writer could)."""
    newest = sorted((folder.backing / "snapshots").iterdir())[-1]
    dest = Folder("usb", folder.url)
    snapshot = newest.name.removesuffix(".age")
    manifest = open_manifest(dest, snapshot, identity, crypto.mac_key(identity))
    change(manifest)
    text = gzip.compress(render_manifest(manifest, crypto.mac_key(identity)))
    newest.write_bytes(crypto.encrypt(text, [identity.to_public()]))
    return snapshot


@pytest.mark.parametrize("grow", [1, -1, 1 << 20])
def test_verify_checks_each_file_size_against_its_chunks(
    home: Path, folder: Place, identity: crypto.Identity, grow: int
) -> None:
    (home / "model-lifecycle.toml").write_text("# mine\n" * 100, encoding="utf-8")
    destinations.add(home, "usb", folder.url, None)
    assert run(home)[0].ok

    def wrong_size(manifest: Manifest) -> None:
        entry = next(e for e in manifest.files if e.path == "model-lifecycle.toml")
        entry.size += grow

    snapshot = _rewritten(folder, identity, wrong_size)
    state = open_state(home)
    try:
        report = verify(Folder("usb", folder.url), identity, state)
    finally:
        state.close()
    assert [(p.kind, p.path) for p in report.problems] == [("damaged", snapshot_path(snapshot))], (
        report.problems
    )
