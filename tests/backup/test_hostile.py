"""What anyone who knows the public recipient can write, or a file that changes under a run:
a backup that lies must be refused before it costs memory, and what run and verify call OK
must restore."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from freehold.backup import crypto, destinations
from freehold.backup.destinations import Folder
from freehold.backup.format import Chunk, new_pack_name, pack_path, snapshot_path
from freehold.backup.run import run
from freehold.backup.verify import check_pack
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
