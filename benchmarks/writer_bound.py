"""How fast freehold's import could go if reading cost nothing: its writer alone, timed beside
the whole import and the plain importer, on the same export, in the same rounds.

An import is two processes: a reader (inflate, parse, convert, prepare, hash and compress the
raw JSON) and the writer (SQLite). Its wall time is bounded below by the slower of the two. This
script measures the writer's side of that bound: in a fresh process, the export is first read
and prepared completely (sealed, as the reader seals when the writer is the slower side), its
batches pickled to a spool file on disk (flat memory), and only then is the clock started for
what the writer does during an import: read each batch back and unpickle it, write it, commit,
close the archive. ``freehold import`` (through the CLI, start-up included, as
``versus_plain.py`` runs it) and ``plain_importer.py`` take turns with it, the order swapped each
round. The ratio plain / writer alone is what an import whose reading kept up with its writer
(more reader processes on more cores) would reach, start-up aside; plain / freehold is what it
reaches now. Nothing is asserted: see docs/performance.md for why only ratios within a round
are compared.

    python benchmarks/writer_bound.py --profiles default,varied --sizes 200MB --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from versus_plain import (  # noqa: E402
    export_options,
    exports,
    load,
    run_freehold,
    run_plain,
    spread,
)

_BATCH = 32  # items per pickled batch, as the reader process sends them


def spool(export: Path, blobs: Path, out: Path) -> None:
    """Read and prepare all of ``export`` (attachments into ``blobs``), batches into ``out``."""
    from freehold.importers._plan import plan
    from freehold.ingest import _items
    from freehold.models import ExportInfo

    with out.open("wb") as handle:
        batch: list[Any] = []
        for item in _items(plan(export), export, blobs, seal=lambda: True):
            batch.append(item)
            if len(batch) >= _BATCH or isinstance(item, ExportInfo):
                pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
        pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)


def unspooled(path: Path) -> Iterator[Any]:
    with path.open("rb") as handle:
        while True:
            try:
                batch = pickle.load(handle)
            except EOFError:
                return
            yield from batch


def writer_alone(export: Path, home: Path) -> dict[str, float]:
    """The writer's part of an import of ``export`` into a fresh archive at ``home``, timed."""
    from freehold.archive import open_archive
    from freehold.ingest import ImportReport, _Writer

    spooled = home.parent / "spool.pickle"
    with open_archive(home) as archive:
        spool(export, archive.blobs, spooled)
        started, cpu = time.perf_counter(), time.process_time()
        items = unspooled(spooled)
        first = next(items)
        report = ImportReport(path=str(export), kind="chatgpt", files=first.files)
        report.source_id = archive.begin_source("chatgpt", export.name, None, None, "bench")
        _Writer(archive, report, first, None).consume(items)
        archive.finish_source(report.source_id, "complete", report.to_json(), first.account_id)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "conversations": report.conversations["read"],
        "rss_mb": usage.ru_maxrss / 1024,
    }


def run_writer_alone(export: Path, out: Path) -> dict[str, float]:
    """``writer_alone`` in a fresh process (the benchmark's own imports are not in it)."""
    out.mkdir(parents=True)
    command = [sys.executable, __file__, "--writer-alone", str(export), str(out / "home")]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        sys.exit(f"the writer alone failed:\n{done.stderr}")
    return dict(json.loads(done.stdout))


def compare(export: Path, json_bytes: int, repeats: int, scratch: Path) -> None:
    names = ("freehold", "writer alone", "plain")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            before = load()
            out = scratch / f"{export.stem}-{round_}-{name.replace(' ', '-')}"
            if name == "writer alone":
                wall = run_writer_alone(export, out)["seconds"]
            else:
                run = run_freehold if name == "freehold" else run_plain
                wall = run(export, out).wall
            seconds[name].append(wall)
            rate = json_bytes / 1e6 / wall
            print(f"  round {round_ + 1} {name:>12}: {wall:6.2f} s {rate:6.1f} MB/s  load {before}")
        plain = seconds["plain"][-1]
        print(
            f"  round {round_ + 1} plain/freehold {plain / seconds['freehold'][-1]:.2f}, "
            f"plain/writer alone {plain / seconds['writer alone'][-1]:.2f}",
            flush=True,
        )
    for name in names:
        print(f"  {name:>12} seconds: {spread(seconds[name])}")
    for name in ("freehold", "writer alone"):
        ratios = [p / s for p, s in zip(seconds["plain"], seconds[name], strict=True)]
        print(f"  plain/{name}: {spread(ratios)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = export_options(__doc__, sizes="200MB")
    parser.add_argument("--writer-alone", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer_alone:
        print(json.dumps(writer_alone(*args.writer_alone)))
        return 0
    for export, json_bytes, scratch in exports(args):
        compare(export, json_bytes, args.repeats, scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
