"""SQL for converting stored conversations again from what the archive kept (``reparse.py``).

Only ``archive.py`` calls into this module. Converting again needs, per conversation, the raw
JSON its row shows (``conversations.raw_sha256`` in ``conversation_raw``) and the import that
brought it (that row's ``source_id``), the kept files of that import an importer rebuilds its
state from (``source_files``), and the files its messages already link to
(``message_attachments``): the export they came from may be gone, and its bytes are here.
"""

from __future__ import annotations

import re
import sqlite3
import zlib
from dataclasses import dataclass

__all__ = ["Link", "Stored", "attachment_links", "files", "raw", "stored"]

# Conversations started here (``freehold chat``) have no raw JSON and nothing to convert.
_STORED = (
    "SELECT id, source_kind, source_conversation_id, parser_version, raw_sha256, account_id, "
    "gone_upstream_at, title, last_seen_source FROM conversations "
    "WHERE NOT (source_kind = ? AND raw_sha256 = '')"
)


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored conversation, as converting it again needs it."""

    cid: str
    kind: str
    source_id: str
    parser_version: str | None
    raw_sha256: str
    account_id: str | None
    gone_upstream_at: str | None
    title: str | None
    last_seen_source: int | None


def stored(db: sqlite3.Connection, local_kind: str, kind: str | None) -> list[Stored]:
    """Every conversation that came from elsewhere (of ``kind`` only, when given), in the
    order they were stored."""
    sql, params = _STORED, [local_kind]
    if kind is not None:
        sql, params = sql + " AND source_kind = ?", [*params, kind]
    return [Stored(*row) for row in db.execute(sql + " ORDER BY rowid", params)]


def raw(db: sqlite3.Connection, cid: str, sha256: str) -> tuple[bytes, int | None] | None:
    """The raw JSON ``sha256`` of conversation ``cid``, decompressed, and the import that
    brought it; None when the archive does not hold it."""
    row = db.execute(
        "SELECT data, source_id FROM conversation_raw WHERE conversation_id=? AND sha256=?",
        (cid, sha256),
    ).fetchone()
    return None if row is None else (zlib.decompress(row[0]), row[1])


# A second file under a name an import kept already (another account's ``projects.json``
# in one freehold export) is kept as ``<name>#<sha256[:12]>`` (``importers/freehold.py``).
_AGAIN = re.compile(r"#[0-9a-f]{12}$")


def files(db: sqlite3.Connection, source_id: int, wanted: re.Pattern[str]) -> dict[str, bytes]:
    """The kept files of import ``source_id`` whose names ``wanted`` matches, decompressed:
    the name without the ``#<sha256[:12]>`` a second file of that name was kept under."""
    rows = db.execute("SELECT name, raw FROM source_files WHERE source_id=?", (source_id,))
    return {
        name: zlib.decompress(data) for name, data in rows if wanted.search(_AGAIN.sub("", name))
    }


Link = tuple[str, str]  # (message source id, pointer)


def attachment_links(db: sqlite3.Connection, cid: str) -> dict[Link, tuple[str | None, str | None]]:
    """(Message source id, pointer) → (SHA-256, name) of the files conversation ``cid``'s
    messages link to; a link that has the file's bytes wins over one that lacks them. Keyed
    by message: a pointer is a message's own (Open WebUI's ``files[0]`` is every message's
    first file), so one message's file or name is never lent to another."""
    rows = db.execute(
        "SELECT m.source_message_id, a.pointer, a.sha256, a.name FROM message_attachments a "
        "JOIN messages m ON m.id = a.message_id WHERE m.conversation_id=? "
        "ORDER BY a.sha256 IS NOT NULL",
        (cid,),
    )
    return {(source, pointer): (sha, name) for source, pointer, sha, name in rows}
