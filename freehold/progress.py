"""Progress of long CLI work: a rich bar on a terminal, a periodic line anywhere else.

Two kinds of work are measured. An export counts conversations against a total known before it
starts (the selection is counted first), so it shows ``done/total conversations``, a rate in
conversations a second and the time left. An import counts the bytes of the export's
conversation files read against their size (the rate in MB/s), with the conversations read
beside them.

On a terminal the bar is transient: it disappears when the work ends, leaving the report.
When stderr is not a terminal (a log file, CI, a pipe) a bar would be invisible, so a line is
written instead whenever ``interval`` seconds have passed since the last one, e.g.
``export markdown: 12,000/44,615 conversations, 850/s, ~41 s left``; work shorter than the
interval writes nothing. The interval is ``FREEHOLD_PROGRESS_INTERVAL`` seconds (default 10),
which is also how the tests get a line on every step without waiting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from freehold._words import plural

__all__ = [
    "INTERVAL_VARIABLE",
    "copying",
    "counting",
    "duration",
    "interval",
    "plural",
    "reading",
]

INTERVAL_VARIABLE = "FREEHOLD_PROGRESS_INTERVAL"
_DEFAULT_INTERVAL = 10.0

CountTick = Callable[[int], None]
ReadTick = Callable[[int, int, int], None]


def interval() -> float:
    """Seconds between two progress lines off a terminal (``FREEHOLD_PROGRESS_INTERVAL``)."""
    try:
        return max(0.0, float(os.environ.get(INTERVAL_VARIABLE) or _DEFAULT_INTERVAL))
    except ValueError:
        return _DEFAULT_INTERVAL


def duration(seconds: float) -> str:
    """``38 s``, ``4 min``, ``1 h 05 min``: a time left, as precise as it is worth."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _Clock:
    """Tells when the next periodic line is due, and how long the work has run."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.start = self.last = time.monotonic()

    def due(self) -> float | None:
        """The seconds since the start when a line is due now, else None."""
        now = time.monotonic()
        if now - self.last < self.every:
            return None
        self.last = now
        return now - self.start


def _pace(done: float, left: float, elapsed: float) -> tuple[float, str] | None:
    """The rate per second and the time left as text, once anything is done."""
    if done <= 0 or elapsed <= 0:
        return None
    rate = done / elapsed
    return rate, f"~{duration(left / rate)} left"


def _count_line(label: str, done: int, total: int, elapsed: float) -> str:
    line = f"{label}: {done:,}/{plural(total, 'conversation')}"
    pace = _pace(done, total - done, elapsed)
    if pace is not None:
        rate, left = pace
        line += f", {rate:,.0f}/s, {left}" if rate >= 10 else f", {rate:.1f}/s, {left}"
    return line


def _read_line(
    label: str,
    done: int,
    total: int,
    conversations: int,
    elapsed: float,
    noun: str = "conversation",
) -> str:
    megabytes = f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB" if total else f"{done / 1e6:,.1f} MB"
    line = f"{label}: {megabytes}, {plural(conversations, noun)}"
    pace = _pace(done, max(0, total - done), elapsed)
    if pace is not None:
        rate, left = pace
        line += f", {rate / 1e6:,.1f} MB/s" + (f", {left}" if total else "")
    return line


def _copy_line(label: str, done: int, total: int, elapsed: float) -> str:
    line = f"{label}: {done / 1e6:,.1f}/{total / 1e6:,.1f} MB"
    pace = _pace(done, max(0, total - done), elapsed)
    if pace is not None:
        line += f", {pace[0] / 1e6:,.1f} MB/s, {pace[1]}"
    return line


class _Rate(ProgressColumn):
    """Conversations a second, from rich's own moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("", style="progress.data.speed")
        shown = f"{speed:,.0f}" if speed >= 10 else f"{speed:.1f}"
        return Text(f"{shown} conversations/s", style="progress.data.speed")


def _bar(console: Console, *middle: ProgressColumn) -> Progress:
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        *middle,
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@contextmanager
def counting(console: Console, label: str, total: int) -> Iterator[CountTick]:
    """Conversations done of ``total``: ``tick(done)`` after each."""
    if not console.is_terminal:
        clock = _Clock(interval())

        def line(done: int) -> None:
            elapsed = clock.due()
            if elapsed is not None:
                console.print(_count_line(label, done, total, elapsed), soft_wrap=True)

        yield line
        return
    done_column = TextColumn("{task.completed:,.0f}/{task.total:,.0f} conversations")
    bar = _bar(console, done_column, _Rate())
    task = bar.add_task(label, total=total)
    with bar:
        yield lambda done: bar.update(task, completed=done)


@contextmanager
def reading(console: Console, label: str, noun: str = "conversation") -> Iterator[ReadTick]:
    """Bytes read of the total, a count of ``noun`` (conversations) beside:
    ``tick(done, total, count)``."""
    if not console.is_terminal:
        clock = _Clock(interval())

        def line(done: int, total: int, conversations: int) -> None:
            elapsed = clock.due()
            if elapsed is not None:
                shown = _read_line(label, done, total, conversations, elapsed, noun)
                console.print(shown, soft_wrap=True)

        yield line
        return
    read = TextColumn("{task.fields[conversations]:,} " + noun + "s")
    bar = _bar(console, read, TransferSpeedColumn())
    task = bar.add_task(label, total=None, conversations=0)

    # The bar (and the thread that redraws it) starts at the first tick: an import's reader
    # process is started before that, by a fork where no other thread runs (``ingest``).
    def tick(done: int, total: int, conversations: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total or None, conversations=conversations)

    try:
        yield tick
    finally:
        if bar.live.is_started:
            bar.stop()


@contextmanager
def copying(console: Console, label: str, total: int) -> Iterator[CountTick]:
    """Bytes copied of ``total`` (a file kept in the vault): ``tick(done)``."""
    if not console.is_terminal:
        clock = _Clock(interval())

        def line(done: int) -> None:
            elapsed = clock.due()
            if elapsed is not None:
                console.print(_copy_line(label, done, total, elapsed), soft_wrap=True)

        yield line
        return
    bar = _bar(console, TransferSpeedColumn())
    task = bar.add_task(label, total=total)
    with bar:
        yield lambda done: bar.update(task, completed=done)
