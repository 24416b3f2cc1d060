"""Print the figures of rehearsal and search by meaning (docs/performance.md).

1. Rehearsal overhead: ``--prompts`` past prompts (100) × 2 candidates (OpenAI and Anthropic
   protocols) asked once each on the loopback wire server (tests/providers/servers.py), which
   answers at once: what is left is freehold's own cost per case — picking, converting each
   path, the router, storing each answer, embedding and scoring, the HTML report.
2. Embeddings: the build of the whole index (wordllama, every searchable message), the
   incremental build with nothing new, the store's size; then search by meaning: the first
   search of a process (the vectors read from ``embeddings.sqlite``) and p50/p95 of a warm
   one over a fixed mix of queries.

The archive comes from a generated export (``genexport.py``, seed 1) of ``--size`` bytes, or
from ``--export PATH`` (any export), imported by the real command into a fresh data folder.

    python benchmarks/rehearse.py --size 100MB
    python benchmarks/rehearse.py --export /path/to/default-single-1000000000.zip
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from run import generate_export, import_export, parse_size  # noqa: E402

QUERIES = [
    "how do I speed up a slow database query",
    "plan a cheap weekend trip",
    "fix a bug in my javascript",
    "what should I eat before a long run",
    "explain this error message",
    "write a polite email to my landlord",
    "summarise the meeting",
    "budget for next year",
    "python packaging problems",
    "help with my tax return",
]


def rehearsal(home: Path, prompts: int) -> dict[str, Any]:
    from freehold import embeddings
    from freehold.archive import open_archive
    from freehold.config import ProviderConfig, add_provider, load_config
    from freehold.rehearse import engine, report
    from freehold.rehearse.store import STORE_NAME, RunStore
    from tests.providers.servers import WireServer

    figures: dict[str, Any] = {}
    with WireServer() as wire:
        add_provider(ProviderConfig("a", "openai", base_url=wire.base_url("openai")))
        add_provider(ProviderConfig("b", "anthropic", base_url=wire.base_url("anthropic")))
        options = engine.Options(["a:model-a", "b:model-b"], sample=prompts, repeats=1)
        embedder = embeddings.choose("local")
        with open_archive() as archive, RunStore(archive.home / STORE_NAME) as store:
            start = time.perf_counter()
            plan = engine.plan(archive, load_config(), options, embedder, store)
            figures["plan_s"] = time.perf_counter() - start
            start = time.perf_counter()
            replies = engine.ask(plan, store)
            figures["ask_s"] = time.perf_counter() - start
            start = time.perf_counter()
            scored = engine.scored(plan, replies)
            page = report.html(report.document({"id": 0, "options": options.to_json()}, scored))
            figures["score_and_report_s"] = time.perf_counter() - start
            plan.close()
        figures["cases"] = len(plan.cases)
        figures["answers"] = len(replies)
        figures["report_kb"] = len(page) / 1000
        figures["requests_on_the_wire"] = len(wire.requests)
    total = figures["plan_s"] + figures["ask_s"] + figures["score_and_report_s"]
    figures["total_s"] = total
    figures["ms_per_case"] = total / max(1, figures["cases"]) * 1000
    figures["ms_per_answer_asked"] = figures["ask_s"] / max(1, figures["answers"]) * 1000
    return figures


def embedding(home: Path) -> dict[str, Any]:
    from freehold import embeddings
    from freehold.archive import open_archive

    figures: dict[str, Any] = {}
    embedder = embeddings.choose("local")
    with open_archive() as archive, embeddings.open_store(archive) as store:
        start = time.perf_counter()
        built = embeddings.build(archive, store, embedder)
        figures["build_s"] = time.perf_counter() - start
        figures["embedded"] = built.added
        figures["embedded_per_s"] = built.added / figures["build_s"]
        start = time.perf_counter()
        embeddings.build(archive, store, embedder)
        figures["rebuild_nothing_new_s"] = time.perf_counter() - start
    figures["store_mb"] = (home / embeddings.STORE_NAME).stat().st_size / 1e6
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open_archive() as archive, embeddings.open_store(archive) as store:
        start = time.perf_counter()
        embeddings.search(archive, store, embedder, QUERIES[0])
        figures["first_search_ms"] = (time.perf_counter() - start) * 1000
        timings = []
        for _round in range(5):
            for query in QUERIES:
                start = time.perf_counter()
                embeddings.search(archive, store, embedder, query, limit=20)
                timings.append((time.perf_counter() - start) * 1000)
    figures["search_p50_ms"] = statistics.median(timings)
    figures["search_p95_ms"] = statistics.quantiles(timings, n=20)[18]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", type=parse_size, default=parse_size("100MB"))
    parser.add_argument("--export", type=Path, help="import this export instead of generating")
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--skip", choices=("rehearsal", "embeddings"), action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="freehold-bench-") as scratch:
        work, home = Path(scratch), Path(scratch) / "home"
        export = args.export or generate_export(work, args.size, "single")[0]
        wall, _rss, imported = import_export(export, home)
        os.environ["FREEHOLD_HOME"] = str(home)
        messages = imported["messages"]["read"]
        print(f"archive: {export.name}, {messages:,} messages, import {wall:.1f} s")
        if "rehearsal" not in args.skip:
            _show("rehearsal", rehearsal(home, args.prompts))
        if "embeddings" not in args.skip:
            _show("embeddings", embedding(home))


def _show(title: str, figures: dict[str, Any]) -> None:
    print(f"{title}:")
    for name, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        print(f"  {name:24} {shown}")


if __name__ == "__main__":
    main()
