"""Search by meaning for ``freehold search --semantic``, and a bar for counted work.

The index is brought up to date before each search (``embeddings.build``: only what is new,
seconds after an import, nothing otherwise), with a bar while it works; then the query is
embedded and compared with every message (``embeddings.search``). Where the data folder is
read-only the index cannot catch up: one line on stderr says how many messages it leaves out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from freehold import embeddings, progress
from freehold._queries import Hit
from freehold.archive import Archive

__all__ = ["counting", "semantic_search"]


class _Rate(ProgressColumn):
    """Items a second, from rich's own moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")


@contextmanager
def counting(console: Console, label: str, noun: str) -> Iterator[Callable[[int, int], None]]:
    """``tick(done, total)`` for work counted in ``noun``: a rich bar on a terminal, else a
    line every ``FREEHOLD_PROGRESS_INTERVAL`` seconds (as ``freehold.progress`` does)."""
    if not console.is_terminal:
        every, start = progress.interval(), time.monotonic()
        last = [start]

        def line(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= every:
                last[0] = now
                rate = done / max(now - start, 1e-9)
                console.print(f"{label}: {done:,}/{total:,} {noun}, {rate:,.1f}/s", soft_wrap=True)

        yield line
        return
    bar = Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(noun),
        _Rate(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(label, total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


def semantic_search(
    archive: Archive, console: Console, query: str, embedder_name: str | None, **filters: Any
) -> list[Hit]:
    """Update the index (a bar while it works), then the messages nearest ``query``."""
    embedder = embeddings.choose(
        embedder_name, notice=lambda text: console.print(f"note: {text}", soft_wrap=True)
    )
    with embeddings.open_store(archive) as store:
        with counting(console, f"embedding ({embedder.name})", "messages") as tick:
            report = embeddings.build(archive, store, embedder, progress=tick)
        notice = report.notice()
        if notice is not None:
            console.print(f"note: {notice}", soft_wrap=True)
        return embeddings.search(archive, store, embedder, query, **filters)
