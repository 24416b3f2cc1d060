"""CSV export: one row per message and one per conversation, for spreadsheets and pandas.

Layout of the output folder::

    messages.csv        one row per message, every branch, in reading order
    conversations.csv   one row per conversation

Both files are written with the standard ``csv`` module (``QUOTE_MINIMAL``, ``\\r\\n`` row ends,
fields with commas, quotes or newlines quoted), UTF-8 **without** a byte-order mark: pandas,
DuckDB, SQLite's ``.import`` and LibreOffice read that as is, and a BOM would end up glued to the
first column name in most of them (Excel users pick UTF-8 in the import dialog). Text is written
exactly as stored — no spreadsheet-formula escaping, since this is a data export and a leading
``=`` is part of what was said; open it through an import dialog, not by double-click, when in
doubt. Times are ISO 8601 in UTC (``2024-05-01T17:37:11.000Z``), booleans ``true``/``false``,
missing values empty.

A message row names its conversation, its own ids (freehold's ``message_id`` and the export's
``source_message_id``) and its parent's source id, so the tree can be rebuilt from the file alone.
``branch`` numbers the segments ``tree.branch_paths`` gives: 0 is the visible path, ``n`` the nth
other branch (a segment starts at its fork, so every message is on exactly one row). With
``all_branches=False`` only branch 0 is written. ``attachments`` is the attachment names joined
with ``"; "``.

``text`` is the message's own words (``Message.shown_text``, the text parts as the Markdown
export shows them, the JSONL export's ``content``), not the search text. What the message holds
besides comes in columns added after the first ones, so scripts reading the older columns by
name or position keep working: ``reasoning`` (its thought parts' text, blank-line joined),
``tool`` (a JSON array of its tool calls, outputs and web results, each ``{"type", "name"?,
"text", "url"?, "title"?}``: a call's input is its JSON text as stored), ``sources`` (a JSON array
of ``{"url", "title"}``: the citations and web results it points at) and ``error``. A
conversation row adds ``system_prompt``: what the visible path ran under
(``instructions.system_prompt``, the JSONL export's leading system message). The last column,
``search_text``, is the message's search text (``messages.text``: what ``freehold search``
matches, custom instructions and parts not understood included), so no text a message holds
is in no column.

Rows are streamed one conversation at a time into temporary files that replace the previous ones
at the end. A folder may be exported into again when it holds nothing but this export's files;
any other non-empty folder is refused.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from freehold import storage
from freehold.archive import Archive, conversation_id
from freehold.exporters import _folder
from freehold.instructions import system_prompt
from freehold.models import Conversation, Message, Part
from freehold.tree import branch_paths

__all__ = [
    "CONVERSATIONS",
    "CONVERSATION_COLUMNS",
    "FORMAT",
    "MESSAGES",
    "MESSAGE_COLUMNS",
    "write",
]

FORMAT = "csv"
MESSAGES = "messages.csv"
CONVERSATIONS = "conversations.csv"
MESSAGE_COLUMNS = (
    "conversation_id",
    "conversation_title",
    "source",
    "source_conversation_id",
    "message_id",
    "source_message_id",
    "parent_source_message_id",
    "branch",
    "on_visible_path",
    "hidden",
    "role",
    "author_name",
    "model",
    "created_at",
    "status",
    "content_type",
    "text",
    "attachments",
    "reasoning",
    "tool",
    "sources",
    "error",
    "search_text",
)
CONVERSATION_COLUMNS = (
    "conversation_id",
    "title",
    "source",
    "source_conversation_id",
    "created_at",
    "updated_at",
    "model",
    "project",
    "archived",
    "starred",
    "gone_upstream_at",
    "messages",
    "branches",
    "system_prompt",
)
_FILES = (MESSAGES, CONVERSATIONS)
_OWN = {*_FILES, *(name + ".tmp" for name in _FILES)}
# A file of any of these headers is this export's: today's and the two before it (up to
# ``attachments``; up to ``error``).
_EARLIER = ("attachments", "error")
_HEADERS = tuple(
    ",".join(columns).encode()
    for columns in (
        MESSAGE_COLUMNS,
        *(MESSAGE_COLUMNS[: MESSAGE_COLUMNS.index(last) + 1] for last in _EARLIER),
    )
)
_TOOL_PARTS = ("code", "execution_output", "web")


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``messages.csv`` and ``conversations.csv``; returns how many conversations.

    ``progress`` is called after each conversation with the number written so far.
    """
    _folder.prepare_fixed(out, label="CSV", own=_OWN, ours=lambda: _is_ours(out / MESSAGES))
    count = 0
    # Both renamed only when both are complete: each is whole or not there, and a failure
    # leaves the files of the run before as they were.
    with (
        storage.written(out / MESSAGES, text=True, newline="") as messages,
        storage.written(out / CONVERSATIONS, text=True, newline="") as convs,
    ):
        message_rows = csv.writer(messages, quoting=csv.QUOTE_MINIMAL)
        conversation_rows = csv.writer(convs, quoting=csv.QUOTE_MINIMAL)
        message_rows.writerow(MESSAGE_COLUMNS)
        conversation_rows.writerow(CONVERSATION_COLUMNS)
        for conv in conversations:
            paths = _numbered_paths(conv, all_branches)
            message_rows.writerows(_message_row(conv, n, m) for n, path in paths for m in path)
            conversation_rows.writerow(_conversation_row(conv, conv.branch_count))
            count += 1
            if progress is not None:
                progress(count)
    return count


def _is_ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(len(_HEADERS[0]) + 2).split(b"\r\n", 1)[0]
    return head in _HEADERS


def _numbered_paths(conv: Conversation, all_branches: bool) -> list[tuple[int, list[Message]]]:
    """``branch_paths`` numbered: 0 for the visible path, then 1, 2, … for the others."""
    paths = branch_paths(conv.messages)
    start = 0 if paths and paths[0][0].on_visible_path else 1
    numbered = list(enumerate(paths, start=start))
    return numbered if all_branches else [(n, p) for n, p in numbered if n == 0]


def _message_row(conv: Conversation, branch: int, message: Message) -> list[Any]:
    return [
        _cid(conv),
        conv.title or "",
        conv.source_kind,
        conv.source_id,
        message.id if message.id is not None else "",
        message.source_id,
        message.parent_source_id or "",
        branch,
        _bool(message.on_visible_path),
        _bool(message.hidden),
        message.role,
        message.author_name or "",
        message.model or "",
        _iso(message.created_at),
        message.status,
        message.content_type,
        message.shown_text(),
        "; ".join(ref.name or ref.pointer for ref in message.attachments),
        *_beside_text(message),
        message.text,
    ]


def _beside_text(message: Message) -> list[str]:
    """The ``reasoning``, ``tool``, ``sources`` and ``error`` cells, from ``layout``."""
    shown, _ = message.layout()
    parts = [part for part, ref in shown if ref is None]
    reasoning = _texts(parts, "thought")
    tools = [_tool(part) for part in parts if part.get("type") in _TOOL_PARTS]
    sources = [{"url": url, "title": title} for url, title in message.sources().items()]
    seen = {source["url"] for source in sources}
    for part in parts:
        url = part.get("url")
        if part.get("type") == "web" and isinstance(url, str) and url not in seen:
            seen.add(url)
            sources.append({"url": url, "title": str(part.get("title") or url)})
    return [reasoning, _json(tools), _json(sources), _texts(parts, "error")]


def _texts(parts: list[Part], kind: str) -> str:
    texts = (str(part.get("text") or "") for part in parts if part.get("type") == kind)
    return "\n\n".join(text for text in texts if text.strip())


def _tool(part: Part) -> dict[str, Any]:
    kept = {key: part[key] for key in ("name", "url", "title") if part.get(key) is not None}
    return {"type": part.get("type"), **kept, "text": str(part.get("text") or "")}


def _json(items: list[dict[str, Any]]) -> str:
    return orjson.dumps(items, default=str).decode() if items else ""


def _conversation_row(conv: Conversation, branches: int) -> list[Any]:
    return [
        _cid(conv),
        conv.title or "",
        conv.source_kind,
        conv.source_id,
        _iso(conv.created_at),
        _iso(conv.updated_at),
        conv.model or "",
        conv.project or "",
        _bool(conv.archived),
        _bool(conv.starred),
        conv.gone_upstream_at or "",
        conv.message_count,
        branches,
        system_prompt(conv, [m for m in conv.messages if m.on_visible_path]),
    ]


def _cid(conv: Conversation) -> str:
    return conv.id or conversation_id(conv.source_kind, conv.source_id)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return ""  # a corrupt timestamp stays in the JSON export; here it is simply unknown
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
