"""Print freehold's backup figures: full backup and restore of a large archive (time, peak RSS)
and the size of a daily incremental after a 1 % import; with ``--chunks``, the study behind
the 16 KiB chunk size.

Every figure comes from the real ``freehold backup`` commands on an archive imported from a
generated export (``genexport.py``, seed 1), backed up to a folder (the disk is the same for
every figure, so the time is freehold's, not a network's). Peak RSS is the kernel's
``ru_maxrss`` of the largest process of the command (``run.run_measured``). The 1 % import is
a second export of a hundredth of the size (seed 2): new conversations, as a day brings.

    python benchmarks/backup.py --size 1GB [--chunks]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from genexport import generate  # noqa: E402
from run import import_export, parse_size, run_measured  # noqa: E402

PASSPHRASE = "benchmark passphrase"
SENT = re.compile(r"([\d,]+) new chunks in [\d,]+ packs?, ([\d,.]+) MB sent")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "FREEHOLD_HOME": str(home), "FREEHOLD_PASSPHRASE": PASSPHRASE}


def freehold(home: Path, *args: str) -> tuple[float, float, str]:
    command = [sys.executable, "-m", "freehold", *args]
    return run_measured(command, _env(home))


def prepared(work: Path, size: int) -> tuple[Path, Path]:
    """The archive of a ``size`` export (made once, then copied), and the 1 % export."""
    export, extra = work / "export.zip", work / "one-percent.zip"
    if not export.exists():
        generate(export, target_bytes=size, layout="single", seed=1)
        generate(extra, target_bytes=size // 100, layout="single", seed=2)
    base = work / "base-home"
    if not (base / "archive.sqlite").exists():
        import_export(export, base)
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base, home)
    return home, extra


def _mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def bench(work: Path, size: int) -> None:
    home, extra = prepared(work, size)
    dest, restored = work / "dest", work / "restored"
    for folder in (dest, restored):
        shutil.rmtree(folder, ignore_errors=True)
    kit = work / "kit.txt"
    kit.unlink(missing_ok=True)
    freehold(home, "backup", "init", "--kit", str(kit), "--yes")
    freehold(home, "backup", "add", "bench", str(dest))
    database = (home / "archive.sqlite").stat().st_size / 1e6
    print(f"archive: {database:,.0f} MB, attachments {_mb(home / 'blobs'):,.1f} MB")
    wall, rss, _ = freehold(home, "backup", "run")
    full = _mb(dest)
    print(f"full backup: {wall:.1f} s, peak RSS {rss:.0f} MB, {full:,.1f} MB at the destination")
    wall, rss, _ = freehold(
        home, "backup", "restore", "latest", "--to", str(restored), "--identity", str(kit)
    )
    print(f"full restore (checked): {wall:.1f} s, peak RSS {rss:.0f} MB")
    wall, rss, _ = freehold(home, "backup", "run")
    print(f"run with nothing new: {wall:.1f} s, peak RSS {rss:.0f} MB, +{_mb(dest) - full:.2f} MB")
    import_export(extra, home)
    before = _mb(dest)
    wall, rss, _ = freehold(home, "backup", "run")
    grown = _mb(dest) - before
    print(
        f"run after a 1 % import: {wall:.1f} s, peak RSS {rss:.0f} MB, {grown:,.2f} MB sent "
        f"= {100 * grown / full:.1f} % of the full backup"
    )
    wall, rss, _ = freehold(home, "backup", "verify", "--identity", str(kit))
    print(f"full verify (3 snapshots): {wall:.1f} s, peak RSS {rss:.0f} MB")


def _image(home: Path, out: Path) -> bytes:
    source, target = sqlite3.connect(home / "archive.sqlite"), sqlite3.connect(out)
    source.backup(target)
    source.close()
    target.close()
    return out.read_bytes()


def chunks(work: Path, size: int) -> None:
    """Fixed chunk sizes against the incremental of a 1 % import, on the backup API's copy."""
    from freehold.backup.format import compress

    home, extra = prepared(work, size)
    before = _image(home, work / "before.sqlite")
    import_export(extra, home)
    after = _image(home, work / "after.sqlite")
    whole = sum(len(compress(after[i : i + 16384])) for i in range(0, len(after), 16384))
    print(f"archive copy {len(after) / 1e6:,.0f} MB, {whole / 1e6:,.0f} MB compressed (16 KiB)")
    for kib in (16, 64, 256, 1024):
        step = kib << 10
        old = {hashlib.sha256(before[i : i + step]).digest() for i in range(0, len(before), step)}
        pieces = [after[i : i + step] for i in range(0, len(after), step)]
        new = [p for p in pieces if hashlib.sha256(p).digest() not in old]
        sent = sum(len(compress(p)) for p in new)
        manifest = len(pieces) * 60  # a chunk line, gzip-compressed: ~60 bytes
        print(
            f"{kib:5d} KiB chunks: {len(pieces):7,d} chunks, {len(new):6,d} new, "
            f"{sent / 1e6:7.2f} MB + manifest {manifest / 1e6:5.2f} MB "
            f"= {100 * (sent + manifest) / whole:5.1f} % of a full backup"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GB")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--chunks", action="store_true", help="the chunk size study instead")
    args = parser.parse_args()
    work = args.workdir / f"backup-{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    (chunks if args.chunks else bench)(work, parse_size(args.size))


if __name__ == "__main__":
    main()
