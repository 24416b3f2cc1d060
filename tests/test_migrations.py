"""Archives made by every m001 there was migrate to the schema a new archive has.

m001 was edited in place while archives made by it existed (``m010_early_schemas_caught_up``).
The first m001's DDL, copied from git history (commit 0c38f98), makes an early archive here:
migrated, its schema must equal a new archive's, table by table, index by index, trigger by
trigger, search settings included. A step edited in place again fails this test.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import open_archive
from freehold.ingest import import_path
from freehold.migrations import migrate

# m001_initial as commit 0c38f98 shipped it (git show 0c38f98:freehold/migrations.py).
FIRST_M001 = """        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            file_name TEXT NOT NULL,
            sha256 TEXT,
            size INTEGER,
            account_id TEXT,
            parser_version TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            report TEXT
        );
        CREATE TABLE source_files (
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            raw BLOB NOT NULL,
            PRIMARY KEY (source_id, name)
        );
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            source_kind TEXT NOT NULL,
            source_conversation_id TEXT NOT NULL,
            account_id TEXT,
            title TEXT,
            created_at REAL,
            updated_at REAL,
            model TEXT,
            current_leaf INTEGER,
            project TEXT,
            archived INTEGER NOT NULL DEFAULT 0,
            starred INTEGER NOT NULL DEFAULT 0,
            message_count INTEGER NOT NULL DEFAULT 0,
            branch_count INTEGER NOT NULL DEFAULT 0,
            digest TEXT NOT NULL,
            raw_sha256 TEXT NOT NULL,
            problems TEXT,
            first_seen_source INTEGER REFERENCES sources(id),
            last_seen_source INTEGER REFERENCES sources(id),
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            gone_upstream_at TEXT,
            UNIQUE (source_kind, source_conversation_id)
        );
        CREATE INDEX conversations_updated ON conversations(updated_at);
        CREATE TABLE conversation_raw (
            sha256 TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            source_id INTEGER REFERENCES sources(id),
            encoding TEXT NOT NULL DEFAULT 'zlib',
            data BLOB NOT NULL
        );
        CREATE INDEX conversation_raw_conversation ON conversation_raw(conversation_id);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            parent_id INTEGER REFERENCES messages(id),
            source_message_id TEXT NOT NULL,
            role TEXT NOT NULL,
            author_name TEXT,
            model TEXT,
            created_at REAL,
            content_type TEXT NOT NULL,
            parts TEXT NOT NULL,
            text TEXT NOT NULL,
            hidden INTEGER NOT NULL DEFAULT 0,
            on_visible_path INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'complete',
            meta TEXT,
            UNIQUE (conversation_id, source_message_id)
        );
        CREATE INDEX messages_created ON messages(created_at);
        CREATE TABLE attachments (
            sha256 TEXT PRIMARY KEY,
            mime TEXT,
            size INTEGER NOT NULL,
            first_name TEXT
        );
        CREATE TABLE message_attachments (
            message_id INTEGER NOT NULL REFERENCES messages(id),
            pointer TEXT NOT NULL,
            name TEXT,
            declared_mime TEXT,
            sha256 TEXT REFERENCES attachments(sha256),
            PRIMARY KEY (message_id, pointer)
        );
        CREATE INDEX message_attachments_sha ON message_attachments(sha256);
        CREATE TABLE context_records (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT REFERENCES conversations(id),
            source_message_id TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            data TEXT,
            created_at REAL,
            UNIQUE (conversation_id, source_message_id, kind)
        );
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE VIRTUAL TABLE conversations_fts USING fts5(
            title, content='conversations', content_rowid='rowid',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER conversations_ai AFTER INSERT ON conversations BEGIN
            INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, coalesce(new.title, ''));
        END;
        CREATE TRIGGER conversations_au AFTER UPDATE OF title ON conversations BEGIN
            INSERT INTO conversations_fts(conversations_fts, rowid, title)
                VALUES ('delete', old.rowid, coalesce(old.title, ''));
            INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, coalesce(new.title, ''));
        END;
        """

NOW = "2024-05-01T00:00:00+00:00"
OLDER_RAW = b'{"id": "c1", "title": "Otters"}'
RAW = b'{"id": "c1", "title": "Otters", "v": 2}'
MEMORY = "memories.json#0"


def _early_archive(home: Path) -> Path:
    """An archive as the first freehold left it: the first m001, a conversation with two raw
    versions and two messages (indexed by the early trigger), context records, and account
    memories under one key three times (the early schema did not stop it)."""
    home.mkdir(parents=True)
    path = home / "archive.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(FIRST_M001)
    db.execute("CREATE TABLE _freehold_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    db.execute("INSERT INTO _freehold_migrations VALUES ('m001_initial', ?)", (NOW,))
    db.execute(
        "INSERT INTO sources (id, kind, file_name, parser_version, started_at, status) "
        "VALUES (1, 'chatgpt', 'conversations.json', 'chatgpt/1', ?, 'complete')",
        (NOW,),
    )
    db.execute(
        "INSERT INTO conversations (id, source_kind, source_conversation_id, title, digest, "
        "raw_sha256, first_seen_at, last_seen_at, message_count, current_leaf) "
        "VALUES ('cv-1', 'chatgpt', 'c1', 'Otters', 'd', 'sha-2', ?, ?, 2, 2)",
        (NOW, NOW),
    )
    for sha, raw in (("sha-1", OLDER_RAW), ("sha-2", RAW)):
        db.execute(
            "INSERT INTO conversation_raw VALUES (?, 'cv-1', 1, 'zlib', ?)",
            (sha, zlib.compress(raw)),
        )
    for number, (role, text) in enumerate((("user", "otters?"), ("assistant", "otters swim"))):
        parts = json.dumps([{"type": "text", "text": text}])
        db.execute(
            "INSERT INTO messages (id, conversation_id, parent_id, source_message_id, role, "
            "content_type, parts, text) VALUES (?, 'cv-1', ?, ?, ?, 'text', ?, ?)",
            (number + 1, number or None, f"m{number + 1}", role, parts, text),
        )
    # The archive's own insert, as freehold did from 39a797f on: beside the early trigger's.
    db.execute("INSERT INTO messages_fts(rowid, text) VALUES (2, 'otters swim')")
    records = [("cv-1", "sys", "system_instructions", "be brief")]
    records += [
        (None, MEMORY, "memory", text) for text in ("likes tea", "likes cake", "likes cake")
    ]
    db.executemany(
        "INSERT INTO context_records (conversation_id, source_message_id, kind, text) "
        "VALUES (?, ?, ?, ?)",
        records,
    )
    db.close()
    return path


def _schema(path: Path) -> dict[str, Any]:
    """What a schema is, entry by entry: a table by its columns, indexes (their columns,
    uniqueness and conditions) and foreign keys; anything else by its SQL, spaces collapsed;
    and the search indexes' settings (their ``_config`` tables' rows)."""
    db = sqlite3.connect(path)
    entries = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    )
    schema: dict[str, Any] = {}
    for kind, name, table, sql in entries.fetchall():
        if kind == "table" and not sql.startswith("CREATE VIRTUAL"):
            schema[name] = (table, _table(db, name))
        else:
            schema[name] = (kind, table, " ".join(sql.split()))
        if name.endswith("_fts_config"):
            schema[f"{name} rows"] = sorted(db.execute(f"SELECT k, v FROM {name}"))
    db.close()
    return schema


def _table(db: sqlite3.Connection, name: str) -> tuple[Any, ...]:
    indexes = sorted(
        (row[1], row[2], row[3], row[4], list(db.execute(f"PRAGMA index_xinfo('{row[1]}')")))
        for row in db.execute(f"PRAGMA index_list('{name}')")
    )
    foreign = sorted(db.execute(f"PRAGMA foreign_key_list('{name}')"))
    return list(db.execute(f"PRAGMA table_xinfo('{name}')")), indexes, foreign


def test_an_archive_from_the_first_m001_gets_the_schema_a_new_one_has(tmp_path: Path) -> None:
    early = _early_archive(tmp_path / "early")
    with open_archive(tmp_path / "early"), open_archive(tmp_path / "new") as new:
        fresh = _schema(new.path)
    assert _schema(early) == fresh


def test_the_early_archive_keeps_every_row_and_is_searchable_once(tmp_path: Path) -> None:
    _early_archive(tmp_path / "early")
    with open_archive(tmp_path / "early") as archive:
        assert archive.raw_versions("cv-1") == [OLDER_RAW, RAW]
        # Stemmed now ("otter" finds "otters"), each message once (the early trigger and the
        # archive's own insert had indexed messages imported later twice).
        assert sorted(hit.message_id for hit in archive.search("otter")) == [1, 2]
        archive.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        memories = sorted(
            (r["source_message_id"], r["text"])
            for r in archive.context_records()
            if r["conversation_id"] is None
        )
        assert sorted(text for _, text in memories) == ["likes cake", "likes cake", "likes tea"]
        assert len({key for key, _ in memories}) == 3 and (MEMORY, "likes tea") in memories
        assert len(archive.context_records()) == 4


def test_the_early_archive_finds_a_file_by_its_name(tmp_path: Path) -> None:
    """Migration m013 lists the names of the files stored before it, in any early archive."""
    path = _early_archive(tmp_path / "early")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO message_attachments (message_id, pointer, name) "
            "VALUES (1, 'file-service://file-C', 'otter-census_2019.csv')"
        )
    with open_archive(tmp_path / "early") as archive:
        (hit,) = archive.search("otter-census_2019")
        assert (hit.message_id, hit.found_in, hit.snippet) == (
            1,
            "file_name",
            "otter-census_2019.csv",
        )
        assert sorted(hit.message_id for hit in archive.search("otter")) == [1, 2]  # the text


def test_a_claude_import_with_memories_works_in_an_early_archive(tmp_path: Path) -> None:
    """Probe J1: the account memory's upsert named an index the early archive lacked."""
    _early_archive(tmp_path / "early")
    export = tmp_path / "claude"
    export.mkdir()
    chat = {
        "uuid": "cl-1",
        "name": "Tea",
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:01:00Z",
        "account": {"uuid": "acc-1"},
        "chat_messages": [
            {"uuid": "u1", "sender": "human", "text": "tea?", "created_at": "2024-05-01T10:00:00Z"}
        ],
    }
    files = {
        "conversations.json": [chat],
        "memories.json": [{"conversations_memory": "Likes green tea.", "account_uuid": "acc-1"}],
        "users.json": [{"uuid": "acc-1", "full_name": "A", "email_address": "a@example.com"}],
    }
    for name, value in files.items():
        (export / name).write_text(json.dumps(value))
    with open_archive(tmp_path / "early") as archive:
        report = import_path(archive, export, reader_process=False)
        assert report.ok, report.problems
        texts = {r["text"] for r in archive.context_records() if r["conversation_id"] is None}
        assert "Likes green tea." in texts
        again = import_path(archive, export, reader_process=False)
        assert again.conversations["unchanged"] == 1


def test_opening_an_early_archive_says_it_is_updating_it(tmp_path: Path) -> None:
    path = _early_archive(tmp_path / "early")
    told: list[str] = []
    db = sqlite3.connect(path, isolation_level=None)
    assert "m010_early_schemas_caught_up" in migrate(db, told.append)
    assert told and "Updating the archive" in told[0]
    db.close()


@pytest.mark.parametrize("step", ["m010_early_schemas_caught_up"])
def test_a_new_archive_is_left_as_it_is(tmp_path: Path, step: str) -> None:
    from freehold.migrations import MIGRATIONS

    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db)
    assert dict(MIGRATIONS)[step](db) == ""


def test_an_archive_lacking_only_the_account_index_gets_it_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    """The shape of an archive made between 95facbb and 32dc3c8: only the index differs."""
    with open_archive(tmp_path / "home") as archive:
        db = archive.db
        db.execute("DROP INDEX context_records_account")
        db.execute("DELETE FROM _freehold_migrations WHERE name = 'm010_early_schemas_caught_up'")
        db.executemany(
            "INSERT INTO context_records (conversation_id, source_message_id, kind, text) "
            "VALUES (NULL, ?, 'memory', ?)",
            [(MEMORY, "likes tea"), (MEMORY, "likes cake")],
        )
        assert migrate(db) == ["m010_early_schemas_caught_up"]
        kept = sorted(db.execute("SELECT source_message_id, text FROM context_records"))
        assert [text for _, text in kept] == ["likes tea", "likes cake"]
        assert kept[1][0].startswith(f"{MEMORY}#") and kept[0][0] == MEMORY
        fresh = tmp_path / "new"
        with open_archive(fresh):
            pass
    assert _schema(tmp_path / "home" / "archive.sqlite") == _schema(fresh / "archive.sqlite")
