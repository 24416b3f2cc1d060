"""Print the PDF export's speed: conversations per second, on the samples and a generated export.

Two archives are built in a temporary folder (or under ``--keep``): one from both sample exports
in ``examples/``, one from an export written by ``genexport.py`` (``--size``, seed 3, the
one-file layout, images included). Each is exported with ``freehold.exporters.pdf.write``, as
``freehold export --format pdf`` does, ``--repeat`` times; the run with the least CPU time is
printed with its wall and CPU time (all threads: Typst uses several), conversations per second
of each, pages and bytes written. On a shared machine the CPU figures are the steadier.
Nothing is asserted.

The script measures whatever ``freehold`` it imports, so the same file times an older checkout:

    python benchmarks/pdf.py                      # ~5 MB generated export
    python benchmarks/pdf.py --size 20MB --repeat 3
    PYTHONPATH=../old-checkout python benchmarks/pdf.py --keep /tmp/pdf-bench
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import genexport  # noqa: E402

from freehold.archive import Archive, open_archive  # noqa: E402
from freehold.exporters import pdf  # noqa: E402
from freehold.ingest import import_path  # noqa: E402

SAMPLES = sorted((HERE.parent / "examples").glob("*.zip"))


@dataclass
class Run:
    conversations: int
    wall: float
    cpu: float
    pages: int
    size: int


def _size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(KB|MB|GB)?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"{text}: a size such as 5MB")
    unit = {"KB": 10**3, "MB": 10**6, "GB": 10**9}.get((match[2] or "").upper(), 1)
    return int(float(match[1]) * unit)


def _archive(home: Path, sources: list[Path]) -> Archive:
    archive = open_archive(home)
    if archive.stats()["conversations"] == 0:
        for source in sources:
            import_path(archive, source)
    return archive


def _pages(out: Path) -> int:
    """Pages written, counted from each file's page tree (``/Type /Page`` objects)."""
    return sum(len(re.findall(rb"/Type\s*/Page\b", p.read_bytes())) for p in out.glob("*.pdf"))


def _export(archive: Archive, out: Path) -> Run:
    for old in out.glob("*") if out.exists() else []:
        old.unlink()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    count = pdf.write(archive, archive.iter_conversations(), out)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    size = sum(p.stat().st_size for p in out.glob("*.pdf"))
    return Run(count, wall, cpu, _pages(out), size)


def _report(label: str, runs: list[Run]) -> None:
    best = min(runs, key=lambda run: run.cpu)
    count = max(1, best.conversations)
    print(
        f"{label:<26} {best.conversations:>5,} conv  {best.wall:7.2f} s wall "
        f"{count / best.wall:7.1f} conv/s  {best.cpu:7.2f} s cpu {count / best.cpu:7.1f} conv/cpu-s"
        f"  {best.pages:>6,} pages {best.size / 1e6:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=_size, default=_size("5MB"), help="generated export")
    parser.add_argument("--repeat", type=int, default=1, help="runs per archive (best shown)")
    parser.add_argument("--keep", type=Path, help="folder for the archives, kept for next time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        generated = base / f"generated-{args.size}.zip"
        if not generated.exists():
            genexport.generate(generated, target_bytes=args.size, layout="single", seed=3)
        print(f"freehold from {Path(pdf.__file__).parent.parent}; Python {sys.version.split()[0]}")
        sets = [
            ("examples/ (both samples)", base / "home-samples", SAMPLES),
            (f"genexport {args.size / 1e6:g} MB", base / f"home-gen-{args.size}", [generated]),
        ]
        for label, home, sources in sets:
            archive = _archive(home, sources)
            runs = [_export(archive, base / f"out-{home.name}") for _ in range(args.repeat)]
            _report(label, runs)
            archive.close()


if __name__ == "__main__":
    main()
