"""Read-side SQL of the archive: statistics, search, lookup and loading whole conversations.

Only ``archive.py`` calls into this module; it exists to keep that file readable. Search uses
the FTS5 index over message text (external content, kept in step by triggers) and ranks by BM25,
lifting messages whose conversation title matches too.

A search is what a person types, never FTS5's own language (``parse`` is the one place the
CLI, the web app, ``export --query`` and ``rehearse --query`` turn one into SQL): every word
must match; ``"a phrase"`` matches those words in a row; ``OR`` between two words (or phrases)
matches either; ``word*`` matches words starting with it. Everything else is a literal word:
``AND``, ``NOT``, ``NEAR``, ``-flag``, ``column:value``, brackets. Each word is handed to FTS5
as a quoted string, so no input can be an FTS5 syntax error; punctuation on its own is not
indexed and is dropped (a search of nothing but punctuation says so). A word holding letters of
a script written without spaces (Chinese, Japanese, Korean, Thai…) is one the index cannot find
inside a longer run of text: it is matched as a substring instead (``_unspaced``), a scan of
the messages' text when no other word lets FTS5 choose the candidates. An ordinary word is
found in ``messages_fts`` or, written against such letters (iPhoneを), in the small index of
those words, ``messages_glued_fts`` (``_unspaced.glued``): the search runs as before, then once
more driven by that index for the messages only it finds, merged newest first; their snippets
are cut as those of a word found as a substring. The names of the files a message points at
are a third index of the same kind, ``messages_files_fts`` (migration m013), searched the same
way once more, each word there as the start of a word (``quart`` finds quarterly-report.pdf,
as a file search does; a word found as a substring is looked for there as a substring
too); such a hit says so (``Hit.found_in``) and its snippet is the names.
A word whose NFKC form differs (full-width
``ｉＰｈｏｎｅ``) is looked for in both forms (``_terms``); the syntax (``＂``, ``＊``, ``ＯＲ``) is
folded before the query is parsed, so it acts as its ASCII form does.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from freehold import _local, _unspaced
from freehold.errors import FreeholdError, NotFoundError
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message, revision_of

__all__ = [
    "CANDIDATES",
    "FILE_NAME",
    "Hit",
    "Query",
    "account_names",
    "candidates",
    "context_records",
    "conversation_model",
    "filters",
    "find_message",
    "hit",
    "iso",
    "load_conversation",
    "model_match",
    "parse",
    "parse_when",
    "personal_context",
    "projects",
    "resolve",
    "search",
    "select_ids",
    "snippets",
    "sources",
    "spans",
    "stats",
]

_OPEN, _CLOSE = "\x02", "\x03"
# A phrase in double quotes (its closing quote optional), or a run of anything but space and
# quotes; either may end in ``*`` (a prefix).
_TERM = re.compile(r'"(?P<phrase>[^"]*)"?(?P<pstar>\*?)|(?P<word>[^\s"]+)')
# The query's syntax characters in their full-width forms (NFKC folds them to ASCII), made
# syntax before the query is parsed: a Japanese keyboard types ＂…＂, ＊ and ＯＲ so. Words keep
# their two forms (``_terms``); only the syntax is folded here.
_SYNTAX = str.maketrans({"＂": '"', "＊": "*"})


@dataclass(slots=True)
class Hit:
    """One search result: a message, its conversation, and a snippet with highlight spans."""

    conversation_id: str
    title: str | None
    message_id: int
    role: str
    model: str | None
    created_at: float | None
    source_kind: str
    snippet: str
    highlights: list[tuple[int, int]]
    score: float
    found_in: str = "text"  # or "file_name": the snippet is then the names of its files
    revision: bool = False  # an earlier version of a message (``Message.revision_of``)
    # A hit found by its files' names: its text's snippet, where the text holds words of the
    # search too (``snippets``), and their spans; else "" and none.
    text_snippet: str = ""
    text_highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "title": self.title,
            "message_id": self.message_id,
            "role": self.role,
            "model": self.model,
            "created_at": iso(self.created_at),
            "source": self.source_kind,
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
            "score": round(self.score, 4),
            "found_in": self.found_in,
            "revision": self.revision,
            "text_snippet": self.text_snippet,
            "text_highlights": [list(span) for span in self.text_highlights],
        }


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


_CLOCK = re.compile(
    r"[T ](?P<hour>\d{2}):?(?P<minute>\d{2})?:?(?P<second>\d{2})?(?:[.,](?P<fraction>\d+))?"
)


def parse_when(text: str, *, end: bool = False) -> float:
    """``2024``, ``2024-01``, ``2024-01-15`` or a full ISO time → epoch seconds (UTC).

    With ``end``, the first instant after the period ``text`` names, every form alike: the
    end of a year, month or day, and an ISO time plus its precision (``10:13`` a minute,
    ``10:13:20`` a second): so ``--until`` is inclusive, compared with ``<``. A period ending
    past the last date there is (``--until 9999``) ends at ``datetime.max``.
    """
    parts = text.strip().split("-")
    try:
        if len(parts) <= 3 and all(p.isdigit() for p in parts):
            year, month, day = (int(p) for p in [*parts, "1", "1"][:3])
            start = datetime(year, month, day, tzinfo=UTC)
            step: str | float = {1: "year", 2: "month"}.get(len(parts), "day")
        else:
            start = datetime.fromisoformat(text)
            step = _precision(text)
    except (ValueError, OverflowError) as error:
        raise FreeholdError(
            f"{text!r}: not a date — use YYYY, YYYY-MM, YYYY-MM-DD or an ISO time"
        ) from error
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return _after(start, step).timestamp() if end else start.timestamp()


def _precision(text: str) -> str | float:
    """How long the ISO time ``text`` names: a ``day``, an ``hour``, a ``minute``, or seconds
    (1, or the last digit of its fraction)."""
    clock = _CLOCK.search(text)
    if clock is None:
        return "day"
    if clock["fraction"]:
        return 10.0 ** -len(clock["fraction"])
    return 1.0 if clock["second"] else "minute" if clock["minute"] else "hour"


def _after(start: datetime, step: str | float) -> datetime:
    """The first instant after the ``step`` that begins at ``start`` (capped at the last)."""
    try:
        if step == "year":
            return start.replace(year=start.year + 1)
        if step == "month":
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        seconds = {"day": 86400.0, "hour": 3600.0, "minute": 60.0}.get(str(step))
        return start + timedelta(seconds=seconds if seconds is not None else float(step))
    except (ValueError, OverflowError):
        return datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Query:
    """A search as SQL over ``m`` (messages), made by ``parse``.

    ``match`` is the FTS5 expression of the groups the index answers (None when every group
    holds a word in a script written without spaces, ``_unspaced``); ``tests`` the SQL
    condition of the other groups, with ``params``; ``needles`` the words they look for as
    substrings and ``marks`` every word FTS5 finds, joined by OR, to mark them in a snippet.
    ``groups`` holds the FTS5 strings of the groups in ``match``, for the messages found
    through ``messages_glued_fts`` (``glued``), and ``side`` the ids of those messages among
    the candidates (``candidates`` sets it); ``words`` every word FTS5 finds, as typed, to
    mark where no FTS5 ``highlight()`` can (a glued word). ``named`` is ``glued`` for the
    names of the messages' files, where ``named_tests`` (with ``named_params``) stand for
    ``tests``: a substring there is looked for in the text or in the names.
    """

    match: str | None
    tests: str = ""
    params: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()
    marks: str | None = None
    groups: tuple[tuple[str, ...], ...] = ()
    words: tuple[str, ...] = ()
    side: frozenset[int] = frozenset()
    named_tests: str = ""
    named_params: tuple[str, ...] = ()

    def rows(self) -> tuple[str, str, list[Any]]:
        """(FROM …, WHERE …, parameters) of the matching messages, newest first by ``f.rowid``
        when FTS5 drives, else by ``m.id`` (a scan of the text; ``f.rank`` is then 0)."""
        if self.match is None:
            return "messages m", f"1{self.tests}", [*self.params]
        source = "messages_fts f JOIN messages m ON m.id = f.rowid"
        return source, f"messages_fts MATCH ?{self.tests}", [self.match, *self.params]

    def glued(self) -> tuple[str, str, list[Any]] | None:
        """``rows`` for the messages where a word of ``match`` is one of their glued words,
        each group matched in any index; ``f`` is then ``messages_glued_fts``. None when
        ``rows`` does not use the index (its tests look in every one)."""
        return self._beside("messages_glued_fts", self.groups)

    def named(self) -> tuple[str, str, list[Any]] | None:
        """``glued`` for the names of the files the messages point at: ``f`` is
        ``messages_files_fts``, each word a prefix (``_start``). A search with substrings
        (``needles``) looks for them in the names as in the text: the rows are those where
        one of its words is in the names, every group in the text or the names; FTS5 does
        not drive them (``ranked`` false)."""
        starts = tuple(tuple(_start(word) for word in group) for group in self.groups)
        if not self.needles:
            return self._beside("messages_files_fts", starts)
        found = [_IN_NAMES] * len(self.needles)
        params = [_unspaced.like(needle) for needle in self.needles]
        if self.match is not None:
            found.append(_MATCH_IN_NAMES)
            params.append(" OR ".join(word for group in starts for word in group))
        tests = "".join(" AND (" + " OR ".join([_ANY] * len(g)) + ")" for g in self.groups)
        params += [fts for group in self.groups for word in group for fts in _any(word)]
        condition = "(" + " OR ".join(found) + ")" + tests + self.named_tests
        return _NAMES, condition, [*params, *self.named_params]

    @property
    def ranked(self) -> bool:
        """Whether FTS5 drives ``named``'s rows (``f.rank``)."""
        return not self.needles

    def marks_in_names(self) -> str:
        """The FTS5 expression that marks every word of ``match`` in a message's file names."""
        return " OR ".join(_start(word) for group in self.groups for word in group)

    def _beside(
        self, index: str, groups: tuple[tuple[str, ...], ...]
    ) -> tuple[str, str, list[Any]] | None:
        if self.match is None:
            return None
        source = f"{index} f JOIN messages m ON m.id = f.rowid"
        tests, params = "", []
        if len(self.groups) > 1:  # one group: the MATCH of its words is the whole test
            for group in self.groups:
                tests += " AND (" + " OR ".join([_ANY] * len(group)) + ")"
                params += [fts for word in group for fts in _any(word)]
        condition = f"{index} MATCH ?{tests}{self.tests}"
        words = " OR ".join(word for group in groups for word in group)
        return source, condition, [words, *params, *self.params]


def parse(query: str) -> Query:
    """The SQL for what a person typed (the module docstring says what it means).

    Words (and phrases) are joined by an explicit AND, and an OR-group is bracketed: FTS5
    binds OR looser than AND, where a person means ``(a OR b) c``. A group holding a word that
    FTS5 cannot find becomes an SQL test: that word a substring, its other words FTS5 lookups.
    """
    groups = _groups(query)
    indexed = [group for group in groups if all(word.fts for word in group)]
    tests = named = ""
    params: list[str] = []
    named_params: list[str] = []
    for group in (group for group in groups if group not in indexed):
        tests += " AND (" + " OR ".join(_test(word) for word in group) + ")"
        named += " AND (" + " OR ".join(_test(word, _LIKE_ANYWHERE) for word in group) + ")"
        for word in group:
            params += _any(word.fts) if word.fts else [_unspaced.like(word.needle)]
            named_params += _any(word.fts) if word.fts else [_unspaced.like(word.needle)] * 2
    words = [word.fts for group in groups for word in group if word.fts]
    return Query(
        " AND ".join(_group(group) for group in indexed) or None,
        tests,
        tuple(params),
        tuple(word.needle for group in groups for word in group if word.needle),
        " OR ".join(words) or None,
        tuple(tuple(word.fts or "" for word in group) for group in indexed),
        tuple(word.typed for group in groups for word in group if word.fts),
        named_tests=named,
        named_params=tuple(named_params),
    )


class _Word(NamedTuple):
    """A word (or phrase) of a search: the quoted FTS5 string that finds it, or else the
    substring looked for (``needle``); ``typed``: the indexed word as a substring to mark."""

    fts: str | None
    needle: str = ""
    typed: str = ""


# An ordinary word, in a message: in the index of its text, among its glued words or in the
# names of its files (parameters: ``_any``). Each set of ids is read once, when a row first
# needs it (a look-up of each row's id in FTS5 instead took 670 ms for `python docker` over
# 2,323 rows, 3.4 ms this way).
_ANY = (
    "(m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) "
    "OR m.id IN (SELECT rowid FROM messages_glued_fts WHERE messages_glued_fts MATCH ?) "
    "OR m.id IN (SELECT rowid FROM messages_files_fts WHERE messages_files_fts MATCH ?))"
)


def _any(fts: str) -> tuple[str, str, str]:
    """The parameters of ``_ANY`` for one word's FTS5 string."""
    return fts, fts, _start(fts)


def _start(fts: str) -> str:
    """A word's FTS5 string as it is looked for in file names: as the start of a word (its
    last word, in a phrase), as a file search matches what is typed."""
    return fts if fts.endswith("*") else fts + "*"


_LIKE = "m.text LIKE ? ESCAPE '\\'"
# The names of a message's files (``Query.named``): ``f`` is its row of ``messages_files_fts``.
_NAMES = "messages_files_fts f JOIN messages m ON m.id = f.rowid"
_IN_NAMES = "f.text LIKE ? ESCAPE '\\'"
_MATCH_IN_NAMES = (
    "f.rowid IN (SELECT rowid FROM messages_files_fts WHERE messages_files_fts MATCH ?)"
)
# A substring, in a message found by its files' names: in its text or in those names, as an
# ordinary word is in any index (``_ANY``).
_LIKE_ANYWHERE = f"({_LIKE} OR {_IN_NAMES})"


def _test(word: _Word, like: str = _LIKE) -> str:
    return like if word.fts is None else _ANY


def _group(words: list[_Word]) -> str:
    terms = [word.fts or "" for word in words]
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def _groups(query: str) -> list[list[_Word]]:
    """The query's AND-ed groups of OR-ed words."""
    groups: list[list[_Word]] = []
    joining = False
    for match in _TERM.finditer(query.replace("\x00", " ").translate(_SYNTAX)):
        word = match["word"]
        if (
            word is not None
            and unicodedata.normalize("NFKC", word) == "OR"
            and groups
            and not joining
        ):
            joining = True
            continue
        terms = _terms(match["phrase"] if word is None else word, bool(match["pstar"]))
        if not terms:
            continue
        if joining:
            groups[-1] += terms
        else:
            groups.append(terms)
        joining = False
    if joining:  # a last OR joins nothing: it was a word
        groups.append([_Word('"OR"', typed="OR")])
    if not groups:
        raise FreeholdError(
            f"nothing to search for in {query[:60]!r} — give one or more words "
            "(punctuation on its own is not indexed)"
        )
    return groups


def _terms(text: str, prefix: bool) -> list[_Word]:
    """The word as typed and, when its NFKC form differs (full-width ``ｉＰｈｏｎｅ``, a
    ligature), that form too, either found: a Japanese keyboard types Latin letters full
    width, and the text looked for seldom is. The index keeps text as typed (a folded index
    needs a tokenizer of our own that every SQLite reader would lack: docs/decisions.md)."""
    found = [_term(text, prefix)]
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        found.append(_term(folded, prefix))
    return list(dict.fromkeys(word for word in found if word is not None))


def _term(text: str, prefix: bool) -> _Word | None:
    """One quoted FTS5 string (a prefix query when asked), or the substring to look for when
    the text holds a letter of a script written without spaces (a prefix adds nothing there);
    None when it holds nothing the tokenizer indexes (unicode61 keeps letters, numbers and
    private-use characters)."""
    if text.endswith("*"):
        text, prefix = text.rstrip("*"), True
    if not any(_unspaced.indexed(c) for c in text):
        return None
    if _unspaced.unspaced(text):
        return _Word(None, _unspaced.needle(text))
    fts = '"' + text.replace('"', '""') + '"' + ("*" if prefix else "")
    return _Word(fts, typed=_unspaced.needle(text))


def search(
    db: sqlite3.Connection,
    query: str,
    *,
    source: str | None = None,
    model: str | None = None,
    role: str | None = None,
    since: str | None = None,
    until: str | None = None,
    conversation: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[Hit]:
    """Ranked message hits for ``query`` with the given filters.

    BM25 ranks the newest ``CANDIDATES`` matching messages (all of them unless a word is very
    common): FTS5 walks its index newest first and stops there, so a search for "the" in a
    million messages costs what a search for a rare word does.
    """
    match, rows = candidates(db, query, filters(source, model, role, since, until, conversation))
    page = rows[offset : offset + limit]
    marked = snippets(db, query, match, page)
    return [hit(row, text) for row, text in zip(page, marked, strict=True)]


def candidates(
    db: sqlite3.Connection, query: str, filters: tuple[str, list[Any]]
) -> tuple[Query, list[tuple[Any, ...]]]:
    """The parsed query and the newest ``CANDIDATES`` matching rows, best first.

    A row is (message id, rank, conversation id, title, role, model, created_at, source_kind,
    found_in, the message's source id). A message found in its text is not looked for among
    its file names again.
    """
    if not query.strip():
        raise FreeholdError("empty search — give one or more words to look for")
    parsed = parse(query)
    glued, named = parsed.glued(), parsed.named()
    try:
        rows = _candidates(db, parsed.rows(), filters, bool(parsed.match))
        side = _candidates(db, glued, filters, True) if glued else []
        files = _candidates(db, named, filters, parsed.ranked, FILE_NAME) if named else []
    except sqlite3.OperationalError as error:
        raise _bad_query(query, error) from error
    if side:  # the newest of both, each message once; bm25 of the index that found it
        rows, extra = _merged(rows, side)
        parsed = replace(parsed, side=frozenset(row[0] for row in extra))
    if files:
        rows, _ = _merged(rows, files)
    rows.sort(key=lambda row: (row[1], -row[0]))
    return parsed, rows


FILE_NAME = "file_name"  # ``Hit.found_in`` of a message found by the names of its files


def _merged(
    rows: list[tuple[Any, ...]], more: list[tuple[Any, ...]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The newest ``CANDIDATES`` of ``rows`` and of the rows of ``more`` not among them, and
    those rows of ``more``."""
    found = {row[0] for row in rows}
    extra = [row for row in more if row[0] not in found]
    return sorted([*rows, *extra], key=lambda row: -row[0])[:CANDIDATES], extra


def _candidates(
    db: sqlite3.Connection,
    rows: tuple[str, str, list[Any]],
    filters: tuple[str, list[Any]],
    indexed: bool,
    found_in: str = "text",
) -> list[tuple[Any, ...]]:
    """The newest ``CANDIDATES`` rows of one ``Query.rows`` (``indexed``: FTS5 drives)."""
    source, condition, params = rows
    key, rank = ("f.rowid", "f.rank") if indexed else ("m.id", "0")
    where, more = filters
    sql = f"""
        SELECT {key}, {rank}, m.conversation_id, c.title, m.role,
               coalesce(m.model, c.model), m.created_at, c.source_kind, '{found_in}',
               m.source_message_id
        FROM {source}
        JOIN conversations c ON c.id = m.conversation_id
        WHERE {condition} {where}
        ORDER BY {key} DESC LIMIT {CANDIDATES}"""
    return db.execute(sql, [*params, *more]).fetchall()


def snippets(
    db: sqlite3.Connection, query: str, parsed: Query, rows: list[tuple[Any, ...]]
) -> list[tuple[str, str]]:
    """The marked snippet of each candidate row, in order, and for a row found by the names
    of its files, the marked snippet of its text where that holds a word of the search too
    (a search's words may be split between the text and the names), else ""."""
    named = [row[0] for row in rows if row[8] == FILE_NAME]
    ids = [row[0] for row in rows if row[8] != FILE_NAME]
    side = [mid for mid in ids if mid in parsed.side]
    try:
        if parsed.needles:
            found = _windows(db, parsed, ids)
        else:
            found = _snippets(db, parsed.match or "", [mid for mid in ids if mid not in side])
            found.update(_windows(db, parsed, side))
        found.update(_names(db, parsed, named))
        beside = _snippets(db, parsed.marks, named) if parsed.marks and named else {}
    except sqlite3.OperationalError as error:
        raise _bad_query(query, error) from error
    return [(found.get(row[0], ""), beside.get(row[0], "")) for row in rows]


def _bad_query(query: str, error: sqlite3.OperationalError) -> FreeholdError:
    """Not expected (``parse`` quotes every word), but a person never sees SQLite's words."""
    return FreeholdError(
        f"search {query[:60]!r} could not be run ({type(error).__name__}) — try fewer or plainer "
        "words, and report it if it persists"
    )


CANDIDATES = 1000


def model_match(column: str, model: str) -> tuple[str, list[Any]]:
    """The one rule for a model filter, everywhere (search, the list, exports, the web app's
    facets and their links): ``column`` is the model's exact name; ``gpt-4*``, with a ``*`` at
    the end, any name that starts with ``gpt-4`` (gpt-4, gpt-4o, gpt-4-turbo)."""
    if model.endswith("*"):
        prefix = model.rstrip("*")
        return f"substr({column}, 1, ?) = ?", [len(prefix), prefix]
    return f"{column} = ?", [model]


def conversation_model(model: str, conversations: str = "c") -> tuple[str, list[Any]]:
    """A conversation matches ``model`` (``model_match``) by its own model or any of its
    messages' (a conversation changes model when the person picks another)."""
    own, params = model_match(f"{conversations}.model", model)
    any_message, more = model_match("model", model)
    found = f"SELECT conversation_id FROM messages WHERE {any_message}"
    return f"({own} OR {conversations}.id IN ({found}))", params + more


def filters(
    source: str | None,
    model: str | None,
    role: str | None,
    since: str | None,
    until: str | None,
    conversation: str | None,
) -> tuple[str, list[Any]]:
    """Where a message hit (``m``, its conversation ``c``) must be; a message's model is its
    own, else its conversation's."""
    clauses: list[str] = []
    params: list[Any] = []
    if model is not None:
        clause, params = model_match("coalesce(m.model, c.model)", model)
        clauses.append(clause)
    for clause, value in (
        ("c.source_kind = ?", source),
        ("m.role = ?", role),
        ("m.created_at >= ?", parse_when(since) if since else None),
        ("m.created_at < ?", parse_when(until, end=True) if until else None),
        ("m.conversation_id = ?", conversation),
    ):
        if value is not None:
            clauses.append(clause)
            params += [value] * clause.count("?")
    return "".join(f" AND {clause}" for clause in clauses), params


def _snippets(db: sqlite3.Connection, match: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.execute(
        f"SELECT rowid, snippet(messages_fts, 0, '{_OPEN}', '{_CLOSE}', '…', 16) "
        "FROM messages_fts WHERE messages_fts MATCH ? "
        "AND rowid IN (SELECT value FROM json_each(?))",
        (match, orjson.dumps(ids).decode()),
    )
    return {row[0]: row[1] or "" for row in rows}


def _names(db: sqlite3.Connection, parsed: Query, ids: list[int]) -> dict[int, str]:
    """The snippets of messages found by the names of their files: those names, the words
    marked, ", " between two."""
    if not ids:
        return {}
    if parsed.needles:
        return _names_with_substrings(db, parsed, ids)
    rows = db.execute(
        f"SELECT rowid, snippet(messages_files_fts, 0, '{_OPEN}', '{_CLOSE}', '…', 16) "
        "FROM messages_files_fts WHERE messages_files_fts MATCH ? "
        "AND rowid IN (SELECT value FROM json_each(?))",
        (parsed.marks_in_names(), orjson.dumps(ids).decode()),
    )
    return {row[0]: row[1].replace(f" {_unspaced.SEPARATOR} ", ", ") for row in rows}


def _names_with_substrings(db: sqlite3.Connection, parsed: Query, ids: list[int]) -> dict[int, str]:
    """``_names`` for a search with substrings, which FTS5's snippet() cannot mark: the
    names, marked by highlight() where they hold an indexed word and where they hold a
    substring, cut as a text is (``_unspaced.window``)."""
    listed = orjson.dumps(ids).decode()
    names = dict(
        db.execute(
            "SELECT rowid, text FROM messages_files_fts "
            "WHERE rowid IN (SELECT value FROM json_each(?))",
            (listed,),
        )
    )
    if parsed.groups:
        names.update(
            db.execute(
                f"SELECT rowid, highlight(messages_files_fts, 0, '{_OPEN}', '{_CLOSE}') "
                "FROM messages_files_fts WHERE messages_files_fts MATCH ? "
                "AND rowid IN (SELECT value FROM json_each(?))",
                (parsed.marks_in_names(), listed),
            )
        )
    out = {}
    for rowid, marked in names.items():
        text, found = spans(marked.replace(f" {_unspaced.SEPARATOR} ", ", "))
        shown, marks = _unspaced.window(text, [*found, *_unspaced.find(text, parsed.needles)])
        out[rowid] = _marked(shown, marks)
    return out


def _windows(db: sqlite3.Connection, parsed: Query, ids: list[int]) -> dict[int, str]:
    """Snippets for a search with words found as substrings, which FTS5's snippet() cannot
    mark: each whole text, marked by FTS5's highlight() where it holds an indexed word, then
    marked where it holds a substring, and cut (``_unspaced.window``). In a message found
    through its glued words, the search's ordinary words are marked as substrings too."""
    if not ids:
        return {}
    listed = orjson.dumps(ids).decode()
    texts = dict(
        db.execute(
            "SELECT id, text FROM messages WHERE id IN (SELECT value FROM json_each(?))", (listed,)
        )
    )
    if parsed.marks:
        texts.update(
            db.execute(
                f"SELECT rowid, highlight(messages_fts, 0, '{_OPEN}', '{_CLOSE}') "
                "FROM messages_fts WHERE messages_fts MATCH ? "
                "AND rowid IN (SELECT value FROM json_each(?))",
                (parsed.marks, listed),
            )
        )
    out = {}
    glued = (*parsed.needles, *parsed.words)
    for rowid, marked in texts.items():
        text, found = spans(marked or "")
        # found through a glued word: by the side index, or by a test that looks in both
        needles = glued if rowid in parsed.side or parsed.match is None else parsed.needles
        shown, marks = _unspaced.window(text, [*found, *_unspaced.find(text, needles)])
        out[rowid] = _marked(shown, marks)
    return out


def _marked(text: str, marks: list[tuple[int, int]]) -> str:
    """``text`` with the marks ``spans`` reads back."""
    out, done = [], 0
    for start, end in marks:
        out += [text[done:start], _OPEN, text[start:end], _CLOSE]
        done = end
    return "".join([*out, text[done:]])


def hit(row: tuple[Any, ...], marked: tuple[str, str]) -> Hit:
    snippet, marks = spans(marked[0])
    text, text_marks = spans(marked[1])
    return Hit(
        row[2],
        row[3],
        row[0],
        row[4],
        row[5],
        row[6],
        row[7],
        snippet,
        marks,
        -row[1],
        row[8],
        revision_of(row[9]) is not None,
        text,
        text_marks,
    )


def spans(marked: str) -> tuple[str, list[tuple[int, int]]]:
    out: list[str] = []
    found: list[tuple[int, int]] = []
    length = 0
    start = 0
    for piece in re.split(f"([{_OPEN}{_CLOSE}])", marked):
        if piece == _OPEN:
            start = length
        elif piece == _CLOSE:
            found.append((start, length))
        else:
            out.append(piece)
            length += len(piece)
    return "".join(out), found


def resolve(db: sqlite3.Connection, ref: str) -> str:
    """A conversation id from freehold's id, the source's id, or a unique prefix of either."""
    ref = ref.strip()
    for sql in (
        "SELECT id, title FROM conversations WHERE id = ?1 OR source_conversation_id = ?1",
        "SELECT id, title FROM conversations WHERE substr(id, 1, length(?1)) = ?1 "
        f"OR substr(source_conversation_id, 1, length(?1)) = ?1 ORDER BY id LIMIT {_NAMED + 1}",
    ):
        rows = db.execute(sql, (ref,)).fetchall() if ref else []
        if len(rows) == 1:
            return str(rows[0][0])
        if len(rows) > 1:
            # Not "not found" (404): the request names too little (FreeholdError, 400).
            raise FreeholdError(_several(ref, rows))
    raise NotFoundError(f"no conversation {ref!r} — `freehold conversations` lists ids")


_NAMED = 10  # the conversations an ambiguous prefix names, with their titles


def _several(ref: str, rows: list[tuple[str, str | None]]) -> str:
    """An id prefix that matches several conversations, with (up to ``_NAMED`` of) them."""
    how_many = (
        f"more than {_NAMED} conversations, among them"
        if len(rows) > _NAMED
        else (f"{len(rows)} conversations")
    )
    named = ", ".join(f"{cid} ({_short(title or 'untitled')})" for cid, title in rows[:_NAMED])
    return (
        f"{ref!r} matches {how_many}: {named} — give more characters "
        "(freehold conversations lists them)"
    )


def _short(title: str, most: int = 40) -> str:
    flat = " ".join(title.split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def select_ids(
    db: sqlite3.Connection,
    *,
    ids: list[str] | None = None,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    model: str | None = None,
    query: str | None = None,
) -> Iterator[str]:
    """Conversation ids in creation order, filtered.

    ``model`` keeps the conversations with that model (``conversation_model``);
    ``query`` keeps conversations with at least one message matching the full-text query.
    """
    where = ["1"]
    params: list[Any] = []
    if model:
        clause, params = conversation_model(model, "conversations")
        where.append(clause)
    if query:
        parsed = parse(query)
        found = []  # in any index
        for each in (parsed.rows(), parsed.glued(), parsed.named()):
            if each is not None:
                matching, condition, more = each
                found.append(f"id IN (SELECT m.conversation_id FROM {matching} WHERE {condition})")
                params += more
        where.append("(" + " OR ".join(found) + ")")
    for clause, value in (
        ("source_kind = ?", source),
        ("created_at >= ?", parse_when(since) if since else None),
        ("created_at < ?", parse_when(until, end=True) if until else None),
    ):
        if value is not None:
            params.append(value)
            where.append(clause)
    sql = f"SELECT id FROM conversations WHERE {' AND '.join(where)} ORDER BY created_at, id"
    wanted = set(ids) if ids is not None else None
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as error:
        raise _bad_query(query or "", error) from error
    for (cid,) in rows:
        if wanted is None or cid in wanted:
            yield cid


def load_conversation(db: sqlite3.Connection, cid: str) -> Conversation:
    """A whole conversation with every message (parents first) and its attachments."""
    row = db.execute(
        "SELECT source_kind, source_conversation_id, title, created_at, updated_at, model, "
        "(SELECT source_message_id FROM messages WHERE id = current_leaf), account_id, project, "
        "archived, coalesce((SELECT starred FROM conversation_marks mk "
        "WHERE mk.conversation_id = conversations.id), starred), problems, gone_upstream_at, "
        "source_updated_at FROM conversations WHERE id = ?",
        (cid,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no conversation {cid!r}")
    messages = _messages(db, cid)
    context = [
        ContextRecord(r[0], r[1], orjson.loads(r[2] or "{}"), r[3], r[4] or None)
        for r in db.execute(
            "SELECT kind, text, data, created_at, source_message_id FROM context_records "
            "WHERE conversation_id = ? ORDER BY id",
            (cid,),
        )
    ]
    return Conversation(
        source_kind=row[0],
        source_id=row[1],
        title=row[2],
        messages=messages,
        raw=b"",
        created_at=row[3],
        updated_at=row[4],
        model=row[5],
        current_leaf=row[6],
        account_id=row[7],
        project=row[8],
        archived=bool(row[9]),
        starred=bool(row[10]),
        context=context,
        problems=orjson.loads(row[11]) if row[11] else [],
        id=cid,
        gone_upstream_at=row[12],
        source_updated_at=row[13],
    )


def _messages(db: sqlite3.Connection, cid: str) -> list[Message]:
    attachments: dict[int, list[AttachmentRef]] = {}
    for a in db.execute(
        "SELECT ma.message_id, ma.pointer, ma.name, ma.declared_mime, at.size, "
        "ma.sha256, at.mime FROM message_attachments ma JOIN messages m ON m.id = ma.message_id "
        "LEFT JOIN attachments at ON at.sha256 = ma.sha256 WHERE m.conversation_id = ?",
        (cid,),
    ):
        attachments.setdefault(a[0], []).append(
            AttachmentRef(a[1], a[2], a[3], a[4], sha256=a[5], sniffed_mime=a[6])
        )
    by_id: dict[int, str] = {}
    messages = []
    generations = _local.generations(db, cid)
    for r in db.execute(
        "SELECT id, parent_id, source_message_id, role, author_name, model, created_at, "
        "content_type, parts, text, hidden, on_visible_path, status, meta, origin FROM messages "
        "WHERE conversation_id = ? ORDER BY id",
        (cid,),
    ):
        by_id[r[0]] = r[2]
        messages.append(
            Message(
                source_id=r[2],
                parent_source_id=by_id.get(r[1]) if r[1] is not None else None,
                role=r[3],
                content_type=r[7],
                parts=orjson.loads(r[8]) if r[8] is not None else [{"type": "text", "text": r[9]}],
                text=r[9],
                author_name=r[4],
                model=r[5],
                created_at=r[6],
                hidden=bool(r[10]),
                status=r[12],
                on_visible_path=bool(r[11]),
                meta=orjson.loads(r[13]) if r[13] else {},
                attachments=attachments.get(r[0], []),
                id=r[0],
                parent_id=r[1],
                origin=r[14],
                generation=generations.get(r[0]),
            )
        )
    return messages


def find_message(db: sqlite3.Connection, cid: str, ref: str) -> Message:
    """One message of conversation ``cid``: by its id in the archive, its source id, or a
    unique prefix of the source id."""
    ref = ref.strip()
    rows = db.execute(
        "SELECT id FROM messages WHERE conversation_id = ?1 AND (source_message_id = ?2 "
        "OR CAST(id AS TEXT) = ?2)",
        (cid, ref),
    ).fetchall()
    if not rows and ref:
        rows = db.execute(
            "SELECT id FROM messages WHERE conversation_id = ?1 "
            "AND substr(source_message_id, 1, length(?2)) = ?2 LIMIT 2",
            (cid, ref),
        ).fetchall()
    if len(rows) > 1:
        raise FreeholdError(f"{ref!r} matches several messages — give more characters")
    if not rows:
        raise NotFoundError(
            f"no message {ref!r} in conversation {cid} — `freehold show {cid} --json` lists "
            "each message's id"
        )
    wanted = rows[0][0]
    return next(m for m in _messages(db, cid) if m.id == wanted)


def stats(db: sqlite3.Connection, *, visible: bool = True) -> dict[str, Any]:
    """What the archive holds, as plain numbers.

    ``visible=False`` leaves out ``visible_messages``: counting them reads every message row
    (210 ms at 1 GB), which a page that does not show the figure need not pay for.
    """

    def one(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0] or 0)

    per_source = {
        kind: {"conversations": convs, "messages": msgs}
        for kind, convs, msgs in db.execute(
            "SELECT source_kind, count(*), sum(message_count) FROM conversations "
            "GROUP BY source_kind ORDER BY source_kind"
        )
    }
    visible_count = "SELECT count(*) FROM messages WHERE on_visible_path"
    return {
        "conversations": one("SELECT count(*) FROM conversations"),
        # each conversation's stored count (``models.thread_counts``): no earlier version
        "messages": one("SELECT sum(message_count) FROM conversations"),
        "visible_messages": one(visible_count) if visible else None,
        "branched_conversations": one("SELECT count(*) FROM conversations WHERE branch_count > 1"),
        "attachments": one("SELECT count(*) FROM attachments"),
        "attachment_bytes": one("SELECT sum(size) FROM attachments"),
        "attachments_missing": one("SELECT count(*) FROM message_attachments WHERE sha256 IS NULL"),
        "context_records": one("SELECT count(*) FROM context_records"),
        "gone_upstream": one(
            "SELECT count(*) FROM conversations WHERE gone_upstream_at IS NOT NULL"
        ),
        "imports": one("SELECT count(*) FROM sources"),
        "per_source": per_source,
    }


def sources(db: sqlite3.Connection) -> list[dict[str, Any]]:
    columns = ["id", "kind", "file_name", "sha256", "size", "account_id", "parser_version"]
    columns += ["started_at", "finished_at", "status", "report"]
    out = []
    for row in db.execute(f"SELECT {', '.join(columns)} FROM sources ORDER BY id"):
        item = dict(zip(columns, row, strict=True))
        item["report"] = orjson.loads(item["report"]) if item["report"] else None
        out.append(item)
    return out


def context_records(db: sqlite3.Connection) -> list[dict[str, Any]]:
    columns = ["conversation_id", "source_message_id", "kind", "text", "data", "created_at"]
    out = []
    for row in db.execute(f"SELECT {', '.join(columns)} FROM context_records ORDER BY created_at"):
        item = dict(zip(columns, row, strict=True))
        item["data"] = orjson.loads(item["data"]) if item["data"] else {}
        out.append(item)
    return out


def personal_context(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Context records with the conversation each came from (NULLs for account records)."""
    columns = ["conversation_id", "source_message_id", "kind", "text", "data", "created_at"]
    more = ["source_kind", "title", "conversation_created_at", "project"]
    rows = db.execute(
        f"SELECT {', '.join('r.' + c for c in columns)}, c.source_kind, c.title, c.created_at, "
        "c.project FROM context_records r LEFT JOIN conversations c ON c.id = r.conversation_id "
        "ORDER BY coalesce(r.created_at, c.created_at), r.id"
    )
    out = []
    for row in rows:
        item = dict(zip([*columns, *more], row, strict=True))
        item["data"] = orjson.loads(item["data"]) if item["data"] else {}
        out.append(item)
    return out


def account_names(db: sqlite3.Connection) -> set[str]:
    """The accounts and projects conversations name (an account-level record naming none of
    them belongs to no conversation known here)."""
    rows = db.execute(
        "SELECT account_id FROM conversations WHERE account_id != '' "
        "UNION SELECT project FROM conversations WHERE project != ''"
    )
    return {row[0] for row in rows}


def projects(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """The projects and custom GPTs conversations name: how many, first and last date."""
    rows = db.execute(
        "SELECT source_kind, project, count(*), min(created_at), max(created_at) "
        "FROM conversations WHERE project IS NOT NULL AND project != '' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    keys = ["source_kind", "project", "conversations", "first", "last"]
    return [dict(zip(keys, row, strict=True)) for row in rows]
