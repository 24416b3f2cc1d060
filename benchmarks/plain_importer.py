"""A plain ChatGPT importer: the yardstick freehold's import speed is measured against.

This is what a competent engineer would write in an afternoon to make a ChatGPT export
searchable, and nothing more: the zip is read in place, ``conversations.json`` (or the 2026
``conversations-NNN.json`` shards) is parsed one conversation at a time, every node of every
mapping becomes a row, and the message text goes into an FTS5 index. It keeps no raw JSON, no
attachments, no tree repair, no report, and checks nothing: it is a baseline, not a product.
It is meant to be strong, so it uses what such an engineer would reach for: WAL with
``synchronous=NORMAL``, ids assigned in Python, ``executemany`` for each table and one
transaction per batch of 500 conversations, and the stdlib's C JSON decoder over a stream
(``JSONDecoder.raw_decode`` on 1 MiB of text at a time), which is faster here than ijson's
yajl2_c item builder (measured: docs/performance.md). ijson is used with ``--parser ijson``
when it is installed. The FTS5 tokenizer is FTS5's default (``unicode61``), the cheapest;
``--tokenize 'porter unicode61 remove_diacritics 2'`` indexes as freehold does (stemming,
accents folded), which costs more.

    python benchmarks/plain_importer.py EXPORT.zip OUT.sqlite [--parser stdlib|ijson]

It prints one JSON line: conversations, messages and seconds. Benchmark-only code: freehold
never imports it.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sqlite3
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_SHARD = re.compile(r"(?:^|/)conversations(?:-\d+)?\.json$")
_BATCH = 500
_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()
_SCHEMA = """
    PRAGMA journal_mode=WAL;
    PRAGMA synchronous=NORMAL;
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY, title TEXT, created REAL, updated REAL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, message_id TEXT NOT NULL,
        parent TEXT, role TEXT, created REAL, text TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content='messages', content_rowid='id'{tokenize}
    );
"""


def stdlib_items(stream: IO[bytes]) -> Iterator[Any]:
    """The elements of the top-level JSON array in ``stream``, one at a time."""
    text_stream = io.TextIOWrapper(stream, encoding="utf-8")
    buf = text_stream.read(_CHUNK)
    pos = buf.index("[") + 1
    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            pos += 1
        if buf.startswith("]", pos):
            return
        try:
            value, end = _DECODER.raw_decode(buf, pos)
        except json.JSONDecodeError:  # the element runs past the buffer: read more
            more = text_stream.read(_CHUNK)
            if not more:
                raise
            buf = buf[pos:] + more
            pos = 0
            continue
        yield value
        pos = end
        if pos > _CHUNK:
            buf, pos = buf[pos:], 0


def ijson_items(stream: IO[bytes]) -> Iterator[Any]:
    import ijson  # type: ignore[import-not-found]

    return ijson.items(stream, "item", use_float=True)  # type: ignore[no-any-return]


def _text(content: Any) -> str:
    """The searchable text of a message: its string parts, or the ``text`` of a tool message."""
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        return "\n".join(p for p in parts if isinstance(p, str))
    text = content.get("text")
    return text if isinstance(text, str) else ""


class PlainImporter:
    """Conversations in, rows out, one transaction per batch."""

    def __init__(self, db_path: Path, tokenize: str = "") -> None:
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.executescript(
            _SCHEMA.format(tokenize=f", tokenize='{tokenize}'" if tokenize else "")
        )
        self.next_id = 1
        self.conversations = 0
        self.messages = 0

    def add_batch(self, batch: list[Any]) -> None:
        convs = []
        rows = []
        for conv in batch:
            cid = conv.get("id") or conv.get("conversation_id")
            convs.append((cid, conv.get("title"), conv.get("create_time"), conv.get("update_time")))
            for node in (conv.get("mapping") or {}).values():
                message = node.get("message")
                if not message:
                    continue
                author = message.get("author") or {}
                rows.append(
                    (
                        self.next_id,
                        cid,
                        message.get("id"),
                        node.get("parent"),
                        author.get("role"),
                        message.get("create_time"),
                        _text(message.get("content")),
                    )
                )
                self.next_id += 1
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, ?)", convs)
        self.db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.db.executemany(
            "INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", [(r[0], r[6]) for r in rows]
        )
        self.db.execute("COMMIT")
        self.conversations += len(convs)
        self.messages += len(rows)

    def close(self) -> None:
        self.db.close()


def import_export(
    export: Path, db_path: Path, parser: str = "stdlib", tokenize: str = ""
) -> dict[str, Any]:
    items = ijson_items if parser == "ijson" else stdlib_items
    started = time.perf_counter()
    importer = PlainImporter(db_path, tokenize)
    with zipfile.ZipFile(export) as zf:
        shards = sorted(n for n in zf.namelist() if _SHARD.search(n))
        for name in shards:
            batch: list[Any] = []
            with zf.open(name) as stream:
                for conv in items(stream):
                    batch.append(conv)
                    if len(batch) >= _BATCH:
                        importer.add_batch(batch)
                        batch = []
            if batch:
                importer.add_batch(batch)
    importer.close()
    return {
        "conversations": importer.conversations,
        "messages": importer.messages,
        "seconds": round(time.perf_counter() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("export", type=Path, help="a ChatGPT export zip")
    parser.add_argument("db", type=Path, help="the SQLite file to create (must not exist)")
    parser.add_argument("--parser", choices=("stdlib", "ijson"), default="stdlib")
    parser.add_argument(
        "--tokenize", default="", help="an FTS5 tokenizer (default: FTS5's own, unicode61)"
    )
    args = parser.parse_args(argv)
    if args.db.exists():
        sys.exit(f"{args.db}: already exists — give a new file")
    print(json.dumps(import_export(args.export, args.db, args.parser, args.tokenize)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
