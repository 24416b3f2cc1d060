"""Search by meaning in the web app (``/search?q=…&meaning=1``).

The same embeddings as ``freehold search --semantic`` (``embeddings.py``), with the default
embedder (wordllama, else the lexical fallback), loaded once per process. A page brings the
index up to date first when little is missing (``BUILD_IN_PAGE`` messages: a second or two); a
first build of a big archive belongs in the terminal, where it has a bar, and the page says so.
Where the data folder is read-only nothing can be built, here or in a terminal: the page
searches what the index holds and says how many newer messages it leaves out and that the
folder must be made writable (``BuildReport.notes``). What the page says of the search is
codes and counts (``SearchPage.notes``), phrased by ``search.html`` in the page's language.
Builds are one at a time (a lock); the vectors are shared by the server's threads
(``EmbeddingStore.matrix``). Hits come as a ``SearchPage`` like the full-text search's, without
facets; pages go up to the best 1,000, and the count is of every hit up to there (``capped``
past it), so the pager links every page."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from freehold import _queries, embeddings, progress
from freehold._browse import SearchPage, page_of
from freehold.archive import Archive
from freehold.errors import FreeholdError

__all__ = ["BUILD_IN_PAGE", "search_page"]

BUILD_IN_PAGE = 2000
_BUILDING = threading.Lock()


@cache
def _embedder() -> tuple[embeddings.Embedder, embeddings.Unloaded | None]:
    """The default embedder, and why it is the lexical fallback where it is (no model
    installed, or one that cannot be loaded: words are compared, not meaning)."""
    return embeddings.local_or_words()


def search_page(
    archive: Archive, query: str, *, limit: int, offset: int, **filters: Any
) -> SearchPage:
    with embeddings.open_store(archive) as store:  # first: it may say it cannot be made
        embedder, fallback = _embedder()
        missing = embeddings.pending(archive, store, embedder)
        if missing > BUILD_IN_PAGE and not store.read_only:
            raise FreeholdError(
                f"search by meaning needs {progress.plural(missing, 'message')} embedded first "
                f'— run `freehold search --semantic "{query[:40]}"` once in a terminal'
            )
        with _BUILDING:
            report = embeddings.build(archive, store, embedder)
        # Every hit up to the cap, one more to know it was reached: the count and the pager
        # need them all, and it costs reading 1,001 rows at most (the scores are all made).
        most = _queries.CANDIDATES + 1
        hits = embeddings.search(archive, store, embedder, query, limit=most, **filters)
    page = page_of(hits, limit=limit, offset=offset)
    if fallback is not None:
        code = "words_missing" if fallback.error is None else "words_broken"
        page.notes.append((code, 0, fallback.error or ""))
    page.notes += [(code, count, "") for code, count in report.notes()]
    return page
