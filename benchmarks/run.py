"""Print freehold's performance figures: import MB/s and peak RSS, search latency, export time.

Every figure comes from running the real ``freehold`` command on a generated export
(``genexport.py``) in a fresh data folder; nothing is asserted, the numbers are printed for
docs/performance.md. Peak RSS is read from the kernel (``ru_maxrss`` of the finished child
processes): the importer's writer and its reader process are each measured, the larger reported.

    python benchmarks/run.py --sizes 100MB,1GB --layout single
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from genexport import GenStats, generate  # noqa: E402

QUERIES = [
    "invoice",
    "python",
    "database index",
    "recipe",
    "travel",
    "error",
    "meeting notes",
    "function",
    "the",
    "summary",
    "budget plan",
    '"unit test"',
]

# Words in a script written without spaces are found by a scan of the text (docs/searching.md):
# one in the generated Japanese chats, one in none (every text read), one with a Latin word
# (FTS5 chooses the candidates). Timed apart: the 12 above are the "ordinary" figure.
UNSPACED = {"ja_found": "京都", "ja_absent": "東京", "ja_with_latin": "python 京都"}


def parse_size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


_WRAPPER = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(done.returncode)"
)


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the largest process it ran, and its stdout.

    A fresh wrapper process runs the command, so ``RUSAGE_CHILDREN`` covers that run alone.
    """
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024, done.stdout


def generate_export(work: Path, size: int, layout: str) -> tuple[Path, GenStats]:
    """The benchmark export of ``size`` bytes of JSON (seed 1), written to ``work/export.zip``."""
    work.mkdir(parents=True, exist_ok=True)
    export = work / "export.zip"
    return export, generate(export, target_bytes=size, layout=layout, seed=1)


def import_export(export: Path, home: Path) -> tuple[float, float, dict[str, Any]]:
    """``freehold import --json`` into ``home``: wall seconds, peak RSS in MB, its report."""
    env = {**os.environ, "FREEHOLD_HOME": str(home)}
    command = [sys.executable, "-m", "freehold", "import", str(export), "--json"]
    wall, rss, out = run_measured(command, env)
    return wall, rss, json.loads(out)


def bench_import(export: Path, home: Path, json_bytes: int) -> dict[str, float]:
    wall, rss, report = import_export(export, home)
    rewall, _, _ = import_export(export, home)
    return {
        "import_s": wall,
        "import_mb_s": json_bytes / 1e6 / wall,
        "peak_rss_mb": rss,
        "reimport_s": rewall,
        "conversations": report["conversations"]["read"],
        "messages": report["messages"]["read"],
    }


def bench_search(home: Path, rounds: int = 5) -> dict[str, float]:
    os.environ["FREEHOLD_HOME"] = str(home)
    from freehold.archive import open_archive

    with open_archive() as archive:
        ordinary = timed(archive, dict(enumerate(QUERIES)), rounds)
        unspaced = timed(archive, UNSPACED, rounds)
    timings = [ms for times in ordinary.values() for ms in times]
    cuts = statistics.quantiles(timings, n=20)
    figures = {"search_p50_ms": statistics.median(timings), "search_p95_ms": cuts[18]}
    for name, times in unspaced.items():
        figures[f"search_{name}_ms"] = statistics.median(times)
    return figures


def timed(archive: Any, queries: dict[Any, str], rounds: int) -> dict[Any, list[float]]:
    """Milliseconds of each search (20 hits), ``rounds`` times round the queries."""
    times: dict[Any, list[float]] = {name: [] for name in queries}
    for _ in range(rounds):
        for name, query in queries.items():
            start = time.perf_counter()
            archive.search(query, limit=20)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def bench_export(home: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "FREEHOLD_HOME": str(home)}
    cmd = [sys.executable, "-m", "freehold", "export", "--format", "markdown", "--out", str(out)]
    wall, rss, _ = run_measured(cmd, env)
    return {"markdown_export_s": wall, "export_peak_rss_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100MB,1GB")
    parser.add_argument("--layout", default="single", choices=["single", "sharded"])
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    random.seed(0)
    for label in args.sizes.split(","):
        size = parse_size(label)
        work = args.workdir / f"{args.layout}-{label}"
        export, stats = generate_export(work, size, args.layout)
        home = work / "home"
        subprocess.run(["rm", "-rf", str(home), str(work / "markdown")], check=True)
        figures = {
            "json_mb": stats.bytes_json / 1e6,
            **bench_import(export, home, stats.bytes_json),
        }
        figures.update(bench_search(home))
        if not args.skip_export:
            figures.update(bench_export(home, work / "markdown"))
        print(f"== {args.layout} {label}")
        for key, value in figures.items():
            print(
                f"{key:>20}: {value:,.1f}" if isinstance(value, float) else f"{key:>20}: {value:,}"
            )


if __name__ == "__main__":
    main()
