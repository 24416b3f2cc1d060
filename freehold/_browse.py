"""Read-side SQL for browsing: conversation lists with filters and pages, search with facets,
attachments by hash, and the reader's own marks.

Only ``archive.py`` calls into this module (like ``_queries.py``). Lists are ordered newest
first by ``updated_at`` so the ``conversations_updated`` index serves them; facets are counted
over the same newest-``CANDIDATES`` matches that search ranks, so a facet never claims more
than the result list can show.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from freehold import _queries
from freehold.errors import FreeholdError

__all__ = [
    "AttachmentInfo",
    "ConversationRow",
    "Listing",
    "SearchPage",
    "attachment",
    "conversation_rows",
    "kinds",
    "models",
    "models_starting",
    "page_of",
    "search_page",
    "set_starred",
]


@dataclass(slots=True)
class ConversationRow:
    """One line of a conversation list."""

    id: str
    title: str | None
    source_kind: str
    model: str | None
    created_at: float | None
    updated_at: float | None
    message_count: int
    branch_count: int
    starred: bool
    gone_upstream_at: str | None

    def to_json(self) -> dict[str, Any]:
        """``freehold conversations --json``: times as ISO strings, as ``search --json``."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source_kind,
            "model": self.model,
            "created_at": _queries.iso(self.created_at),
            "updated_at": _queries.iso(self.updated_at),
            "messages": self.message_count,
            "branches": self.branch_count,
            "starred": self.starred,
            "gone_upstream_at": self.gone_upstream_at,
        }


@dataclass(slots=True)
class Listing:
    rows: list[ConversationRow]
    total: int


@dataclass(slots=True)
class SearchPage:
    hits: list[_queries.Hit]
    total: int
    capped: bool
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # What the page must say of the search (``web/meaning.py``): codes with a count or a
    # detail, phrased by the page in its language (``templates/search.html``).
    notes: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass(slots=True)
class AttachmentInfo:
    sha256: str
    mime: str | None
    size: int
    name: str | None


_ROW = """c.id, c.title, c.source_kind, c.model, c.created_at, c.updated_at, c.message_count,
    c.branch_count, coalesce(mk.starred, c.starred), c.gone_upstream_at"""


def _list_filters(
    source: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    branched: bool,
    starred: bool,
    gone: bool,
) -> tuple[str, list[Any]]:
    clauses = ["1"]
    params: list[Any] = []
    if model:
        clause, params = _queries.conversation_model(model)
        clauses.append(clause)
    for clause, value in (
        ("c.source_kind = ?", source),
        ("c.created_at >= ?", _when(since) if since else None),
        ("c.created_at < ?", _when(until, end=True) if until else None),
    ):
        if value is not None and value != "":  # 1970 is 0.0, and still a date
            clauses.append(clause)
            params += [value] * clause.count("?")
    flags = (
        ("c.branch_count > 1", branched),
        ("coalesce(mk.starred, c.starred) = 1", starred),
        ("c.gone_upstream_at IS NOT NULL", gone),
    )
    clauses += [clause for clause, wanted in flags if wanted]
    return " AND ".join(clauses), params


def _when(text: str, *, end: bool = False) -> float:
    """``_queries.parse_when``, with a year too large for a date also a FreeholdError."""
    try:
        return _queries.parse_when(text, end=end)
    except OverflowError as error:
        message = f"{text[:40]!r}: not a date — use YYYY, YYYY-MM or YYYY-MM-DD"
        raise FreeholdError(message) from error


def conversation_rows(
    db: sqlite3.Connection,
    *,
    source: str | None = None,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    branched: bool = False,
    starred: bool = False,
    gone: bool = False,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
) -> Listing:
    """A page of conversations, most recently updated first, and how many match in all
    (``count=False`` skips that count, e.g. for the sidebar, and reports 0)."""
    where, params = _list_filters(source, model, since, until, branched, starred, gone)
    joined = "conversations c LEFT JOIN conversation_marks mk ON mk.conversation_id = c.id"
    total = 0
    if count:
        total = db.execute(f"SELECT count(*) FROM {joined} WHERE {where}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT {_ROW} FROM {joined} WHERE {where} "
        "ORDER BY c.updated_at DESC, c.id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return Listing([_row(row) for row in rows], total)


def _row(row: tuple[Any, ...]) -> ConversationRow:
    cid, title, kind, model, created, updated, messages, branches, starred, gone = row
    return ConversationRow(
        cid, title, kind, model, created, updated, messages, branches, bool(starred), gone
    )


def kinds(db: sqlite3.Connection) -> list[str]:
    """The source kinds present (served by the conversations' unique index: no table scan)."""
    return [row[0] for row in db.execute("SELECT DISTINCT source_kind FROM conversations")]


def models_starting(db: sqlite3.Connection, prefix: str) -> list[str]:
    """Every model name that starts with ``prefix``, a conversation's or a message's own: a
    ``--model`` filter matches either (``_queries.conversation_model``). A message's is read
    by a scan of the messages (no index holds it): for a note, not for every page."""
    own, params = _queries.model_match("model", prefix + "*")
    rows = db.execute(
        f"SELECT model FROM conversations WHERE {own} UNION "
        f"SELECT model FROM messages WHERE {own} ORDER BY model",
        params + params,
    )
    return [row[0] for row in rows]


def models(db: sqlite3.Connection) -> list[str]:
    """Every conversation-level model name, for a filter's choices."""
    rows = db.execute(
        "SELECT DISTINCT model FROM conversations WHERE model IS NOT NULL ORDER BY model"
    )
    return [row[0] for row in rows]


def search_page(
    db: sqlite3.Connection,
    query: str,
    *,
    source: str | None = None,
    model: str | None = None,
    role: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchPage:
    """One page of ranked hits plus facets (source, model, role) over every candidate."""
    for text in (since, until):
        if text:
            _when(text)  # a bad date is a FreeholdError here, whatever parse_when lets through
    where = _queries.filters(source, model, role, since, until, None)
    match, rows = _queries.candidates(db, query, where)
    page = rows[offset : offset + limit]
    marked = _queries.snippets(db, query, match, page)
    hits = [_queries.hit(row, text) for row, text in zip(page, marked, strict=True)]
    facets = {
        "source": Counter(row[7] for row in rows).most_common(),
        "model": Counter(row[5] for row in rows if row[5]).most_common(12),
        "role": Counter(row[4] for row in rows).most_common(),
    }
    return SearchPage(hits, len(rows), len(rows) >= _queries.CANDIDATES, facets)


def page_of(hits: list[_queries.Hit], *, limit: int, offset: int) -> SearchPage:
    """One page of ``hits``, best first, as ``search_page`` pages the full-text search: up to
    the best ``CANDIDATES``, the total counting every hit up to there, ``capped`` past it (give
    one hit more than the cap to know). For a search by meaning, which ranks every message."""
    most = _queries.CANDIDATES
    return SearchPage(
        hits[offset : min(offset + limit, most)], min(len(hits), most), len(hits) > most
    )


def attachment(db: sqlite3.Connection, sha256: str) -> AttachmentInfo | None:
    """A stored attachment by its hash, with the name it was first seen under."""
    row = db.execute(
        "SELECT sha256, mime, size, first_name FROM attachments WHERE sha256 = ?", (sha256,)
    ).fetchone()
    return AttachmentInfo(*row) if row else None


def set_starred(db: sqlite3.Connection, cid: str, starred: bool) -> None:
    """Record the reader's star (or its removal) for one conversation."""
    db.execute(
        "INSERT INTO conversation_marks VALUES (?, ?, ?) ON CONFLICT(conversation_id) "
        "DO UPDATE SET starred = excluded.starred, updated_at = excluded.updated_at",
        (cid, int(starred), datetime.now(UTC).isoformat(timespec="seconds")),
    )
