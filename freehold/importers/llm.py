"""simonw ``llm`` logs databases (``logs.db``, FORMATS.md §D.3).

The database is opened read-only (``mode=ro`` URI, ``immutable`` when it has no ``-wal``, ``PRAGMA
query_only``) and never written to: no ``-wal`` or ``-shm`` is made beside it.
Two schemas are read, both when a database holds both:

Legacy (llm ≤ 0.31): each ``conversations`` row (``id``, ``name`` → title, ``model``) becomes a
conversation; its ``responses`` ordered by ``datetime_utc`` (then rowid) make a linear tree. Per
response, in the order the model saw them: a hidden ``system`` message (the ``system_fragments``,
then ``system``), a ``tool`` message of the ``tool_results`` the prompt sent back (each an
execution_output with its ``name`` and ``tool_call_id`` as ``call_id``, an ``exception`` kept on
it; the files of ``tool_results_attachments`` its attachments), a ``user`` message (each
``prompt_fragments`` fragment as a searchable ``file`` part named by its ``source``, with its
``hash`` and aliases; each ``prompt_attachments`` attachment as an image, audio or file part; then
``prompt``) and an ``assistant`` message (``response``, ``model``; ``resolved_model``, tokens,
duration, the tools offered (``tool_responses``) and the ``schemas`` row in ``meta``;
``reasoning``, where the column exists, a hidden ``thought`` part; each ``tool_calls`` row a
``code`` part with its ``name`` and ``call_id``). An attachment whose ``content`` the database
holds is stored with its bytes; one it names by ``path`` or ``url`` only is reported missing.
Source message ids are ``<response id>:system``, ``<response id>:tool_results``,
``<response id>:prompt`` and the response id. A response with no ``conversation_id`` is its own
conversation; one pointing at a missing row is titled None.

0.32+ message store: ``threads`` (ULID ``id``, ``name``, ``tip_message_hash``, ``forked_from``)
become conversations. ``messages`` form a tree by ``parent_hash``; a thread holds every message
reachable (parent-wards) from its tip and from the tip of each of its ``turns``, so branches
abandoned inside a thread are kept and the visible leaf is ``tip_message_hash``. Messages shared
by several threads (a fork's prefix) are copied into each conversation; source message id = the
hash. ``parts`` by ``position``: ``text`` → text, ``reasoning``/``thinking`` → thought (hidden),
``tool_call`` → code (``payload`` or ``text``), ``tool_result`` → execution_output, anything else
→ unknown. Turns give ``model``, tokens and ``datetime_utc`` to the messages between their
``parent_message_hash`` and ``tip_message_hash`` (the earliest turn wins for shared messages).
A thread whose id is also a legacy conversation id is read from the message store only
[unverified: whether 0.32's migration copies legacy conversations into threads].

``raw`` is a JSON object of the conversation's rows (``orjson`` of the row dicts, BLOBs as hex):
legacy ``{"conversation": row|null, "responses": [rows]}`` and, when its responses have any,
``"linked": {<response id>: {<table>: [rows]}}`` with the rows of the tables above that belong
to each (an attachment's ``content`` replaced by its size and SHA-256: the bytes are stored
once, as the attachment); 0.32+ ``{"thread": row, "turns": [rows], "messages": [rows], "parts":
[rows]}`` in tree order.

Every table of the database with rows that this reader does not read is named in the report as
not imported (its rows are not in the archive), except llm's own bookkeeping
(``_llm_migrations``) and full-text indexes, which hold nothing the read tables do not: the
pre-0.4 ``log``/``logs`` tables, for one, and the 0.32 store's ``part_fragments``,
``part_attachments``, ``turn_fragments``, ``turn_tools`` and ``tool_instantiations``.

Unverified: the 0.32 column names come from FORMATS.md §D.3, not a real database; the meaning of
a turn's ``parent_message_hash``/``tip_message_hash`` range and of part types other than those
listed is inferred. Missing core columns (older minor versions) give a problem, not a crash;
``datetime_utc`` is read as UTC.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from freehold import _sqlite
from freehold._words import plural
from freehold.importers import _fields as field
from freehold.importers._skeleton import Claim, Format, Kept
from freehold.models import AttachmentRef, Conversation, Message, Part, Problem, Record
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "llm"
PARSER_VERSION = "llm/3"

_MAGIC = b"SQLite format 3\x00"
_STORE = ("threads", "turns", "messages", "parts")
_LEGACY_CORE = ("id", "prompt", "response", "model", "datetime_utc", "conversation_id")
_STORE_CORE = {
    "threads": ("id", "name", "tip_message_hash"),
    "turns": ("thread_id", "parent_message_hash", "tip_message_hash", "model", "datetime_utc"),
    "messages": ("hash", "parent_hash", "role"),
    "parts": ("message_hash", "position", "type", "text"),
}
_PART_TYPES = {
    "text": "text",
    "reasoning": "thought",
    "thinking": "thought",
    "tool_call": "code",
    "tool_result": "execution_output",
}

_SEARCHED = ("text", "file", "execution_output")  # a fragment's text and a tool's result too

Row = dict[str, Any]
_STORE_AGAIN = (
    "an llm 0.32+ thread is read through logs.db's tables, not from the JSON kept of its rows "
    "— import logs.db again to convert it with this freehold"
)


class _Llm(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "llm"
    missing = (
        "not an llm logs database (a SQLite file with a responses table or "
        "threads/turns/messages/parts) — find it with `llm logs path`"
    )

    def read_again(self, raw: bytes, kept: Kept) -> Iterator[Record]:
        """A legacy conversation's raw JSON holds its rows whole (``conversation``,
        ``responses``, ``linked``): they convert again as read from the database. A 0.32+
        thread's holds its thread and turns, and messages that were read through the tables'
        links: not converted again here (``_STORE_AGAIN``)."""
        where = f"{self.kind} conversation {kept.source_id}"
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            yield Problem(
                where, f"its raw JSON cannot be parsed ({error}); left as it was", skipped=1
            )
            return
        rows = value.get("responses") if isinstance(value, dict) else None
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            yield Problem(where, _STORE_AGAIN, skipped=1)
            return
        head = value.get("conversation")
        linked = value.get("linked")
        linked = linked if isinstance(linked, dict) else {}
        related = {str(row.get("id")): _linked_rows(linked.get(str(row.get("id")))) for row in rows}
        legacy = (kept.source_id, head if isinstance(head, dict) else None, rows, related)
        convert = _legacy_conversation
        yield from self.guarded(where, legacy, raw, convert=convert, source_id=kept.source_id)

    def claim(self) -> Claim:
        """A SQLite file (given on its own) holding llm's ``responses`` table or its 0.32+
        message store."""
        path = self.export.path
        if not self.export.one_file or self.export.head(path.name, 16) != _MAGIC:
            return Claim()
        try:
            db = _connect(path)
        except (OSError, sqlite3.Error):
            return Claim()
        try:
            tables = _tables(db)
        except sqlite3.Error:
            return Claim()
        finally:
            db.close()
        found = "responses" in tables or all(name in tables for name in _STORE)
        return Claim([path.name], {path.name}) if found else Claim()

    def records(self, claim: Claim, *, planned: bool) -> Iterator[Record]:
        path = self.export.path
        db = _connect(path)
        try:
            yield self.info(claim.members)
            tables = _tables(db)
            threads: set[str] = set()
            read: set[str] = set()
            if all(name in tables for name in _STORE):
                read |= set(_STORE)
                yield from _guard(path.name, _store(self, db, threads))
            if "responses" in tables:
                read |= {"responses", "conversations", *_BY_RESPONSE}
                read |= {table for _, _, table, _ in _POINTED}
                yield from _guard(path.name, _legacy(self, db, threads, tables))
            yield from _guard(path.name, _unread(db, read))
        finally:
            db.close()


FORMAT = _Llm
detect = _Llm.detect
iter_conversations = _Llm.iter_conversations


def _connect(path: Path) -> sqlite3.Connection:
    """The person's ``logs.db`` for reading, never written: ``_sqlite``'s read-only rule
    (``mode=ro`` alone would make a WAL database's ``-wal`` and ``-shm`` beside it and leave
    them). Its own errors stay SQLite's here (a plain connection, not ``_sqlite.Connection``):
    ``_guard`` turns them into the import's problems, not the archive's lines."""
    db = sqlite3.connect(_sqlite.read_only_uri(path.resolve()), uri=True)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA query_only = ON")
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    return {str(row[0]) for row in rows}


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in db.execute(f'PRAGMA table_info("{table}")')}


# -- the database ----------------------------------------------------------------------------------


def _guard(label: str, records: Iterator[Record]) -> Iterator[Record]:
    """Pass records on; a database error ends this part of the read with one problem."""
    count = 0
    try:
        for record in records:
            count += isinstance(record, Conversation)
            yield record
    except sqlite3.Error as error:
        yield Problem(
            label,
            f"database error ({error}) after {plural(count, 'conversation')}; the rest was not "
            "read — run `sqlite3 logs.db 'PRAGMA integrity_check'`",
        )


def _missing(db: sqlite3.Connection, table: str, wanted: Iterable[str]) -> Iterator[Problem]:
    have = _columns(db, table)
    lost = [name for name in wanted if name not in have]
    if lost:
        yield Problem(
            f"{table}",
            f"no {'column' if len(lost) == 1 else 'columns'} {', '.join(lost)} "
            "(an older llm version?); read without them — upgrade llm and run `llm logs` to "
            "migrate",
            lost=False,
        )


# -- legacy tables ---------------------------------------------------------------------------------


def _legacy(
    fmt: Format, db: sqlite3.Connection, skip: set[str], tables: set[str]
) -> Iterator[Record]:
    yield from _missing(db, "responses", _LEGACY_CORE)
    heads: dict[str, Row] = {}
    if "conversations" in tables:
        heads = {str(r["id"]): r for r in map(_row, db.execute("SELECT * FROM conversations"))}
    linked = _Linked(db, tables)
    columns = _columns(db, "responses")
    grouped = "conversation_id" in columns
    order = ["conversation_id"] if grouped else []
    order += ["datetime_utc"] if "datetime_utc" in columns else []
    cursor = db.execute(f"SELECT * FROM responses ORDER BY {', '.join([*order, 'rowid'])}")
    seen: set[str] = set()
    # An empty or missing conversation id: the response is a conversation of its own.
    for key, rows in groupby(map(_row, cursor), key=lambda r: r.get("conversation_id") or None):
        if key is None:
            for row in rows:
                yield from _legacy_one(fmt, None, [row], skip, linked)
            continue
        seen.add(str(key))
        yield from _legacy_one(fmt, heads.get(str(key)) or {"id": key}, list(rows), skip, linked)
    for key, head in heads.items():
        if key not in seen:
            yield from _legacy_one(fmt, head, [], skip, linked)


def _legacy_one(
    fmt: Format, head: Row | None, rows: list[Row], skip: set[str], linked: _Linked
) -> Iterator[Record]:
    source_id = str(head["id"]) if head else str(rows[0]["id"])
    where = f"conversations/{source_id}" if head else f"responses/{source_id}"
    if source_id in skip:
        yield Problem(where, "also a 0.32 thread; read from the message store only", lost=False)
        return
    related = {str(row["id"]): linked.of(row) for row in rows}
    kept = {rid: _as_raw(tables) for rid, tables in related.items() if tables}
    raw = _dumps({"conversation": head, "responses": rows, **({"linked": kept} if kept else {})})
    todo = "check this row of the database"
    value = (source_id, head, rows, related)
    yield from fmt.guarded(
        where, value, raw, convert=_legacy_conversation, todo=todo, source_id=source_id
    )


def _legacy_conversation(
    value: tuple[str, Row | None, list[Row], dict[str, Tables]], raw: bytes
) -> Conversation:
    source_id, head, rows, related = value
    messages: list[Message] = []
    for row in rows:
        for message in _response_messages(row, related[str(row["id"])]):
            message.parent_source_id = messages[-1].source_id if messages else None
            messages.append(message)
    tree = build_tree(messages, messages[-1].source_id if messages else None)
    times = [m.created_at for m in messages if m.created_at is not None]
    models = [m.model for m in messages if m.model]
    return Conversation(
        source_kind=KIND,
        source_id=source_id,
        title=field.text(head, "name"),
        messages=tree.messages,
        raw=raw,
        created_at=min(times) if times else None,
        updated_at=max(times) if times else None,
        current_leaf=tree.leaf,
        model=field.text(head, "model") or (models[-1] if models else None),
        problems=tree.problems,
    )


def _response_messages(row: Row, linked: Tables) -> list[Message]:
    """The messages of one response, in the order the model saw them."""
    rid = str(row["id"])
    when = field.when(row, "datetime_utc")
    found: list[Message] = []
    system = _fragments(linked.get("system_fragments", []))
    if text := field.text(row, "system"):
        system.append({"type": "text", "text": text})
    if system:
        found.append(_message(f"{rid}:system", "system", system, when))
        found[-1].hidden = True
    results = linked.get("tool_results", [])
    if results:
        outputs, files = _tool_results(results)
        found.append(_message(f"{rid}:tool_results", "tool", outputs, when))
        found[-1].attachments = files
    parts = _fragments(linked.get("prompt_fragments", []))
    files = [_attachment(a) for a in linked.get("prompt_attachments", [])]
    parts += [_file_part(ref) for ref in files]
    if prompt := field.text(row, "prompt"):
        parts.append({"type": "text", "text": prompt})
    if parts:
        found.append(_message(f"{rid}:prompt", "user", parts, when))
        found[-1].attachments = files
    found.append(_answer(rid, row, when, linked))
    return found


def _answer(rid: str, row: Row, when: float | None, linked: Tables) -> Message:
    parts: list[Part] = []
    reasoning = field.text(row, "reasoning")
    if reasoning:
        parts.append({"type": "thought", "text": reasoning})
    text = field.text(row, "response") or ""
    if text:
        parts.append({"type": "text", "text": text})
    parts += [_tool_call(call) for call in linked.get("tool_calls", [])]
    duration = field.number(row, "duration_ms")
    if when is not None and duration is not None:
        when += duration / 1000
    message = _message(rid, "assistant", parts, when)
    message.model = field.text(row, "model")
    keys = ("resolved_model", "input_tokens", "output_tokens", "token_details", "duration_ms")
    message.meta = {key: row[key] for key in keys if row.get(key) is not None}
    tools = [field.text(t.get("tools"), "name") for t in linked.get("tool_responses", [])]
    if tools:
        message.meta["tools"] = tools
    for schema in linked.get("schemas", []):
        message.meta["schema"] = _loads(schema.get("content"))
    return message


# -- what llm keeps beside a response (fragments, attachments, tools) ------------------------------

Tables = dict[str, list[Row]]  # a response's rows of each linked table
# The tables of llm's links to a response, each read ordered by the column named.
_BY_RESPONSE = {
    "prompt_fragments": '"order"',
    "system_fragments": '"order"',
    "prompt_attachments": '"order"',
    "tool_calls": "id",
    "tool_results": "id",
    "tool_responses": "tool_id",
}
# What the link rows point at: (the linking table, its column, the table, its key).
_POINTED = (
    ("prompt_fragments", "fragment_id", "fragments", "id"),
    ("system_fragments", "fragment_id", "fragments", "id"),
    ("prompt_attachments", "attachment_id", "attachments", "id"),
    ("tool_responses", "tool_id", "tools", "id"),
    ("tool_results", "instance_id", "tool_instances", "id"),
)
# Read with the rows they belong to; bookkeeping and full-text indexes hold nothing else.
_ALSO_READ = {"fragment_aliases", "tool_results_attachments", "schemas", "_llm_migrations"}
_INDEXES = ("_fts", "turn_search", "sqlite_")


class _Linked:
    """The rows of the tables linked to responses, grouped by response id (the link tables,
    small, read once); the rows they point at are read by key when a response needs them."""

    def __init__(self, db: sqlite3.Connection, tables: set[str]) -> None:
        self.db = db
        self.tables = tables
        self.rows: dict[str, dict[str, list[Row]]] = {}
        for table, order in _BY_RESPONSE.items():
            if table in tables and "response_id" in _columns(db, table):
                grouped: dict[str, list[Row]] = {}
                query = f'SELECT * FROM "{table}" ORDER BY response_id, {order}, rowid'
                for row in map(_row, db.execute(query)):
                    grouped.setdefault(str(row["response_id"]), []).append(row)
                self.rows[table] = grouped

    def of(self, response: Row) -> Tables:
        """Each linked table's rows for ``response``, joined to the rows they name."""
        rid = str(response["id"])
        found = {t: rows[rid] for t, rows in self.rows.items() if rid in rows}
        for link, column, table, key in _POINTED:
            for row in found.get(link, []):
                row[table] = self.one(table, key, row.get(column))
        for row in found.get("prompt_fragments", []) + found.get("system_fragments", []):
            aliases = self.many("fragment_aliases", "fragment_id", row.get("fragment_id"))
            row["fragment_aliases"] = [a.get("alias") for a in aliases]
        for row in found.get("tool_results", []):
            links = self.many("tool_results_attachments", "tool_result_id", row.get("id"))
            row["attachments"] = [
                self.one("attachments", "id", a.get("attachment_id")) for a in links
            ]
        schema = self.one("schemas", "id", response.get("schema_id"))
        return found | ({"schemas": [schema]} if schema else {})

    def one(self, table: str, key: str, value: Any) -> Row | None:
        found = self.many(table, key, value)
        return found[0] if found else None

    def many(self, table: str, key: str, value: Any) -> list[Row]:
        if value is None or table not in self.tables:
            return []
        order = '"order", rowid' if table == "tool_results_attachments" else "rowid"
        query = f'SELECT * FROM "{table}" WHERE "{key}" = ? ORDER BY {order}'
        return [_row(r) for r in self.db.execute(query, (value,))]


def _unread(db: sqlite3.Connection, read: set[str]) -> Iterator[Problem]:
    """Each table with rows that nothing read: named, its rows not in the archive. Views are
    not asked (they show rows of tables)."""
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    for table in sorted({str(row[0]) for row in rows} - read - _ALSO_READ):
        if any(mark in table for mark in _INDEXES):
            continue
        try:
            count = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        except sqlite3.Error:
            continue  # a view that cannot be read, a virtual table of a missing module
        if count:
            yield Problem(
                f"{table}",
                f"table not read ({plural(count, 'row')}); its rows are not in the archive "
                "— open logs.db with sqlite3 to see them, and please report this",
            )


def _fragments(rows: list[Row]) -> list[Part]:
    """Each fragment a prompt (or system prompt) was given, as the searchable text it is."""
    parts: list[Part] = []
    for row in rows:
        fragment = row.get("fragments") or {}
        part: Part = {"type": "file", "text": field.string(fragment, "content")}
        part |= _texts(fragment, name="source", source="source", hash="hash")
        aliases = [a for a in row.get("fragment_aliases", []) if _alias(a)]
        parts.append(part | ({"aliases": aliases} if aliases else {}))
    return parts


def _alias(value: Any) -> bool:
    """A fragment's alias is text; one of another type is noted and left out (the raw copy
    keeps it)."""
    if isinstance(value, str):
        return True
    if value is not None:
        field.odd("alias", value, "text")
    return False


def _attachment(row: Row | None) -> AttachmentRef:
    """An attachment row: its bytes when the database holds them (``content``), else named by
    its ``path`` or ``url`` and reported missing."""
    found = (row.get("attachments") if row and "attachment_id" in row else row) or {}
    ident = str(found.get("id") or (row or {}).get("attachment_id"))
    where = field.text(found, "path") or field.text(found, "url")
    name = PurePosixPath(where).name if where else None
    content = found.get("content")
    data = bytes(content) if isinstance(content, bytes | bytearray | memoryview) else None
    if isinstance(content, str):
        data = content.encode()
    elif data is None and content is not None:
        field.odd("content", content, "the attachment's bytes")
    opener = partial(io.BytesIO, data) if data is not None else None
    size = len(data) if data is not None else None
    mime = field.text(found, "type")
    return AttachmentRef(f"llm-attachment://{ident}", name or where, mime, size, opener)


def _file_part(ref: AttachmentRef) -> Part:
    kind = (ref.mime or "").partition("/")[0]
    part: Part = {"type": kind if kind in ("image", "audio") else "file", "pointer": ref.pointer}
    return part | ({"name": ref.name} if ref.name else {})


def _tool_call(row: Row) -> Part:
    part: Part = {"type": "code", "language": "json", "text": _plain(row.get("arguments"))}
    return part | _texts(row, name="name", call_id="tool_call_id")


def _tool_results(rows: list[Row]) -> tuple[list[Part], list[AttachmentRef]]:
    parts: list[Part] = []
    files: list[AttachmentRef] = []
    for row in rows:
        part: Part = {"type": "execution_output", "text": _plain(row.get("output"))}
        parts.append(part | _texts(row, name="name", exception="exception", call_id="tool_call_id"))
        refs = [_attachment(a) for a in row.get("attachments", []) if a]
        parts += [_file_part(ref) for ref in refs]
        files += refs
    return parts, files


def _texts(row: Row, **columns: str) -> Part:
    """The text of each column named that holds text, under its key (an odd value noted)."""
    return {key: found for key, column in columns.items() if (found := field.text(row, column))}


def _linked_rows(kept: Any) -> Tables:
    """A response's linked rows as its raw JSON keeps them (an attachment's bytes are their
    size and SHA-256 there: a stored file stays linked by its pointer, ``reparse``)."""
    if not isinstance(kept, dict):
        return {}
    return {
        str(k): [r for r in v if isinstance(r, dict)]
        for k, v in kept.items()
        if isinstance(v, list)
    }


def _as_raw(tables: Tables) -> Tables:
    """A response's linked rows for ``raw``: an attachment's bytes as their size and SHA-256."""
    kept: Tables = orjson.loads(_dumps(tables, default=_digest))
    return kept


def _digest(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def _text_message(
    source_id: str, role: str, text: str, when: float | None, *, hidden: bool = False
) -> Message:
    message = _message(source_id, role, [{"type": "text", "text": text}], when)
    message.hidden = hidden
    return message


# -- 0.32+ message store ---------------------------------------------------------------------------


def _store(fmt: Format, db: sqlite3.Connection, threads: set[str]) -> Iterator[Record]:
    for table, wanted in _STORE_CORE.items():
        yield from _missing(db, table, wanted)
    parents = {
        str(r["hash"]): field.text_or_none(r["parent_hash"])
        for r in db.execute("SELECT hash, parent_hash FROM messages")
    }
    turns = [_row(r) for r in db.execute("SELECT * FROM turns ORDER BY datetime_utc, rowid")]
    by_message = _turn_of(turns, parents)
    for thread in map(_row, db.execute("SELECT * FROM threads ORDER BY id")):
        threads.add(str(thread.get("id")))
        mine = [t for t in turns if t.get("thread_id") == thread.get("id")]
        source_id = str(thread.get("id"))
        raw = _dumps({"thread": thread, "turns": mine})  # kept as it is if the thread is unreadable

        def convert(value: Row, raw: bytes, turns: list[Row] = mine) -> Conversation:
            return _thread(db, value, turns, parents, by_message)

        todo = "check this row of the database"
        where = f"threads/{source_id}"
        yield from fmt.guarded(where, thread, raw, convert=convert, todo=todo, source_id=source_id)


def _chain(tip: str | None, parents: dict[str, str | None], stop: str | None = None) -> list[str]:
    """Hashes from ``tip`` up to (not including) ``stop`` or the root, tip first."""
    found: list[str] = []
    seen: set[str] = set()
    while tip is not None and tip != stop and tip in parents and tip not in seen:
        found.append(tip)
        seen.add(tip)
        tip = parents[tip]
    return found


def _turn_of(turns: list[Row], parents: dict[str, str | None]) -> dict[str, Row]:
    by_message: dict[str, Row] = {}
    for turn in turns:
        stop = field.text(turn, "parent_message_hash")
        for digest in _chain(field.text(turn, "tip_message_hash"), parents, stop):
            by_message.setdefault(digest, turn)
    return by_message


def _thread(
    db: sqlite3.Connection,
    thread: Row,
    turns: list[Row],
    parents: dict[str, str | None],
    by_message: dict[str, Row],
) -> Conversation:
    tip = field.text(thread, "tip_message_hash")
    problems = [] if tip is None or tip in parents else [f"tip message {tip} is not in messages"]
    hashes: dict[str, None] = {}
    for start in [tip] + [field.text(t, "tip_message_hash") for t in turns]:
        hashes.update(dict.fromkeys(reversed(_chain(start, parents))))
    rows = [_message_row(db, digest) for digest in hashes]
    parts = {digest: _part_rows(db, digest) for digest in hashes}
    messages = [_stored(row, parts[str(row["hash"])], by_message) for row in rows]
    tree = build_tree(messages, tip)
    times = [t for t in (field.when(t, "datetime_utc") for t in turns) if t is not None]
    models = [m.model for m in tree.messages if m.model and m.on_visible_path]
    order = [m.source_id for m in tree.messages]
    place = {digest: index for index, digest in enumerate(order)}
    return Conversation(
        source_kind=KIND,
        source_id=str(thread["id"]),
        title=field.text(thread, "name"),
        messages=tree.messages,
        raw=_dumps(
            {
                "thread": thread,
                "turns": turns,
                "messages": sorted(rows, key=lambda r: place[str(r["hash"])]),
                "parts": [p for digest in order for p in parts[digest]],
            }
        ),
        created_at=field.known(field.when(thread, "datetime_utc"), min(times, default=None)),
        updated_at=max(times) if times else None,
        current_leaf=tree.leaf,
        model=models[-1] if models else None,
        problems=problems + tree.problems,
    )


def _message_row(db: sqlite3.Connection, digest: str) -> Row:
    return _row(db.execute("SELECT * FROM messages WHERE hash = ?", (digest,)).fetchone())


def _part_rows(db: sqlite3.Connection, digest: str) -> list[Row]:
    query = "SELECT * FROM parts WHERE message_hash = ? ORDER BY position, rowid"
    return [_row(r) for r in db.execute(query, (digest,))]


def _stored(row: Row, part_rows: list[Row], by_message: dict[str, Row]) -> Message:
    digest = str(row["hash"])
    turn = by_message.get(digest, {})
    role = field.text(row, "role") or "unknown"
    message = _message(
        digest, role, [_part(p) for p in part_rows], field.when(turn, "datetime_utc")
    )
    message.parent_source_id = field.text(row, "parent_hash")
    message.hidden = message.hidden or role == "system"
    if role == "assistant":
        message.model = field.text(turn, "model")
        keys = ("resolved_model", "input_tokens", "output_tokens", "duration_ms")
        message.meta = {key: turn[key] for key in keys if turn.get(key) is not None}
    metadata = row.get("provider_metadata")
    if metadata is not None:
        message.meta["provider_metadata"] = _loads(metadata)
    return message


def _part(row: Row) -> Part:
    kind = field.text(row, "type") or "unknown"
    mapped = _PART_TYPES.get(kind)
    text = field.text(row, "text")
    payload = row.get("payload")
    if mapped == "code":
        part: Part = {"type": "code", "language": "json", "text": text or _plain(payload)}
        if row.get("tool_name"):
            part["tool_name"] = row["tool_name"]
        return part
    if mapped is not None:
        return {"type": mapped, "text": text or _plain(payload)}
    return {"type": "unknown", "content_type": kind, "raw": orjson.loads(_dumps(row))}


# -- small helpers ---------------------------------------------------------------------------------


def _message(source_id: str, role: str, parts: list[Part], when: float | None) -> Message:
    kinds = list(dict.fromkeys(p["type"] for p in parts))
    text = "\n\n".join(p["text"] for p in parts if p["type"] in _SEARCHED and p.get("text"))
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=role,
        content_type="text" if kinds in ([], ["text"]) else "+".join(kinds),
        parts=parts,
        text=text,
        created_at=when,
        hidden=kinds == ["thought"],
    )


def _row(row: sqlite3.Row) -> Row:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 (a Row iterates values)


def _blob(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dumps(value: Any, default: Any = _blob) -> bytes:
    return orjson.dumps(value, default=default)


def _loads(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value if isinstance(value, str) else value.hex()
    return value


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return _dumps(value).decode() if not isinstance(value, bytes) else value.hex()
