"""Message bodies rendered on every core: a long conversation is split between the server's
process and helper processes.

Turning Markdown into safe HTML and highlighting code is CPU work in Python, so threads would
take turns on the GIL; processes do not. A conversation with at least ``SPLIT_FROM`` characters
of message text is cut into consecutive slices of about equal text; the helpers render all
slices but the first, the server renders the first meanwhile, and the page joins them in
order. The helpers run the same ``safehtml.Body`` with the same links and labels, so the HTML
is the same as if one process had made it (a test compares them).

A helper that fails (killed, out of memory, a message it cannot take) never costs a page: its
slice is rendered by the server instead, and the pool is started again on the next long page.
Helpers are spawned (not forked: the server has threads and open SQLite connections) on the
first long page, so a server that never shows one never starts them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

from freehold.models import AttachmentRef, Message
from freehold.safehtml import Body
from freehold.web.i18n import translator

__all__ = ["SPLIT_FROM", "Renderers", "attachment_url", "render_bodies", "slices"]

SPLIT_FROM = 100_000  # characters of message text; below that, one process is faster
# The server's slice is this much bigger than a helper's: a helper's also pays for pickling
# both ways (measured on the 1,000-message page: 0.56 of it on the server was best, 92 ms
# against 99 ms for half and half).
_SERVER_SHARE = 1.25
_log = logging.getLogger(__name__)


def attachment_url(ref: AttachmentRef) -> str | None:
    return f"/attachments/{ref.sha256}" if ref.sha256 else None


def render_bodies(messages: Sequence[Message], language: str) -> list[str]:
    """Each message's body as HTML, in the reader's language: what the page shows."""
    body = Body(attachment_url, translator(language))
    return ["\n".join(body.blocks(message)) for message in messages]


def _warm() -> None:
    """Run in each helper as it starts: imports done and common lexers compiled up front."""
    body = Body(attachment_url)
    for language in ("python", "javascript", "bash", "json", "sql", "yaml", "rust", "text"):
        body.highlight("x = 1\n", language)


def _text_size(message: Message) -> int:
    return len(message.text) + 64


def slices(messages: Sequence[Message], count: int, first: float = 1.0) -> list[Sequence[Message]]:
    """``count`` consecutive slices of about equal text (some may be empty); the first is
    ``first`` times as big as each of the others."""
    total = sum(_text_size(m) for m in messages)
    cuts: list[Sequence[Message]] = []
    done = start = 0
    weights = first + count - 1
    for index, message in enumerate(messages):
        done += _text_size(message)
        if len(cuts) < count - 1 and done * weights >= total * (first + len(cuts)):
            cuts.append(messages[start : index + 1])
            start = index + 1
    cuts.append(messages[start:])
    cuts += [messages[len(messages) :]] * (count - len(cuts))
    return cuts


class Renderers:
    """A pool of ``workers`` helper processes (none: everything is rendered in process)."""

    def __init__(self, workers: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.workers = max(0, min(3, cores - 1)) if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=get_context("spawn"), initializer=_warm
                )
            return self._pool

    def bodies(self, messages: Sequence[Message], language: str) -> list[str]:
        """``render_bodies(messages, language)``, shared with the helpers when it is long."""
        if not self.workers or sum(_text_size(m) for m in messages) < SPLIT_FROM:
            return render_bodies(messages, language)
        pool = self._get()
        first, *rest = slices(messages, self.workers + 1, _SERVER_SHARE)
        futures: list[Future[list[str]] | None] = []
        for part in rest:
            try:
                futures.append(pool.submit(render_bodies, part, language) if part else None)
            except RuntimeError as error:  # the pool broke (a helper died) or was shut down
                self._failed(pool, error)
                futures.append(None)
        html = render_bodies(first, language)
        for part, future in zip(rest, futures, strict=True):
            html += self._result(pool, future, part, language)
        return html

    def _result(
        self,
        pool: ProcessPoolExecutor,
        future: Future[list[str]] | None,
        part: Sequence[Message],
        language: str,
    ) -> list[str]:
        if future is not None:
            try:
                return future.result()
            except Exception as error:  # a helper died or refused: the server renders it
                self._failed(pool, error)
        return render_bodies(part, language)

    def _failed(self, pool: ProcessPoolExecutor, error: BaseException) -> None:
        _log.warning("a render helper failed (%r); rendering here instead", error)
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
