"""Append-only schema migrations, applied once, in order, each in its own transaction.

Each step is a named function; ``_freehold_migrations`` records which ran. Never edit a step
that has shipped: add a new one. docs/archive-format.md documents the resulting schema, and a
test checks that every table is documented there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from freehold import _unspaced

__all__ = [
    "MIGRATIONS",
    "m001_initial",
    "m002_conversation_marks",
    "m003_conversations_by_kind",
    "m004_plain_parts_once",
    "m005_branch_count_is_branches",
    "m006_fts_found_by_datasette",
    "m007_local_turns",
    "m008_exit_plan",
    "m009_fts_writes_bigger_segments",
    "m010_glued_words",
    "migrate",
]

Step = Callable[[sqlite3.Connection], str]
MIGRATIONS: list[tuple[str, Step]] = []
# Steps that rebuild a table (SQLite's procedure for what ALTER TABLE cannot do): they run with
# foreign keys off, must not add a broken reference, and an existing archive is told first.
_REBUILDS = {"m004_plain_parts_once"}


def _step(function: Step) -> Step:
    MIGRATIONS.append((function.__name__, function))
    return function


def migrate(db: sqlite3.Connection, notice: Callable[[str], None] | None = None) -> list[str]:
    """Apply the steps this database has not seen; returns their names. ``notice`` is told
    before a step that rebuilds a table runs on an archive that already holds data.

    ``db`` must be in autocommit mode (``isolation_level=None``): each step runs in its own
    ``BEGIN IMMEDIATE`` transaction, so a failed step leaves nothing behind and a second
    process opening the archive at the same time waits, then finds the step done.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS _freehold_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _freehold_migrations")}
    pending = [(name, function) for name, function in MIGRATIONS if name not in done]
    if notice is not None and done and any(_slow(db, name) for name, _ in pending):
        notice(
            "Updating the archive to a new format (once; about 20 s per GB of messages, "
            "do not interrupt it — an interrupted update is simply redone)…"
        )
    return [name for name, function in pending if _apply(db, name, function)]


def _slow(db: sqlite3.Connection, name: str) -> bool:
    """Whether a pending step rewrites data in proportion to the archive's size."""
    if name == "m006_fts_found_by_datasette":
        return not _schema_writable(db)  # then it rebuilds the search indexes
    return name in _REBUILDS


def _apply(db: sqlite3.Connection, name: str, function: Step) -> bool:
    """Run one step in one transaction; False when another process ran it meanwhile.

    A rebuild runs with foreign keys off (the table others point at is dropped and made
    again); instead, a reference it breaks stops it (one broken by hand before is left be).
    """
    rebuild = name in _REBUILDS
    with _foreign_keys_off(db, rebuild):
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _freehold_migrations WHERE name = ?", (name,)).fetchone():
                db.execute("ROLLBACK")
                return False
            before = _broken_references(db) if rebuild else set()
            for statement in _statements(function(db)):
                db.execute(statement)
            added = _broken_references(db) - before if rebuild else set()
            if added:
                table = sorted(added)[0][0]
                raise sqlite3.IntegrityError(
                    f"migration {name} would leave a broken reference in table {table}"
                )
            now = datetime.now(UTC).isoformat(timespec="seconds")
            db.execute("INSERT INTO _freehold_migrations VALUES (?, ?)", (name, now))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return True


@contextmanager
def _foreign_keys_off(db: sqlite3.Connection, off: bool) -> Iterator[None]:
    enforced = db.execute("PRAGMA foreign_keys").fetchone()[0]
    if off:
        db.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        db.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")


def _broken_references(db: sqlite3.Connection) -> set[tuple[object, ...]]:
    return {tuple(row) for row in db.execute("PRAGMA foreign_key_check")}


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one by one (``executescript`` would commit first)."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip().strip(";").strip():
                yield statement
            statement = ""


@_step
def m001_initial(_db: sqlite3.Connection) -> str:
    return """
        CREATE TABLE sources (
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
            sha256 TEXT NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            source_id INTEGER REFERENCES sources(id),
            encoding TEXT NOT NULL DEFAULT 'zlib',
            data BLOB NOT NULL,
            PRIMARY KEY (conversation_id, sha256)
        );
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
        CREATE UNIQUE INDEX context_records_account ON context_records(kind, source_message_id)
            WHERE conversation_id IS NULL;
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            text, content='messages', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        -- Merge index segments less eagerly: 14 % less import time, search stays ~20 ms.
        INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 16);
        INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 32);
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE VIRTUAL TABLE conversations_fts USING fts5(
            title, content='conversations', content_rowid='rowid',
            tokenize='porter unicode61 remove_diacritics 2'
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


@_step
def m002_conversation_marks(_db: sqlite3.Connection) -> str:
    # The reader's own marks (a star set or cleared in the web app) live apart from what the
    # source said, so a re-import never overwrites them; a mark, when present, wins.
    return """
        CREATE TABLE conversation_marks (
            conversation_id TEXT PRIMARY KEY REFERENCES conversations(id),
            starred INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        """


@_step
def m003_conversations_by_kind(_db: sqlite3.Connection) -> str:
    # Counts per source (the web app's home page, `freehold stats`) read this index instead of
    # every conversation row: 90 ms (504 ms from a cold cache) → 5 ms at 1 GB; built in 40 ms.
    return """
        CREATE INDEX conversations_by_kind ON conversations(source_kind, message_count);
        """


@_step
def m004_plain_parts_once(db: sqlite3.Connection) -> str:
    # Most messages are one plain text part: ``parts`` is now NULL for them and the text is
    # stored once, in ``text`` (archive-format.md). That needs ``parts`` nullable, which
    # ALTER TABLE cannot do: the table is rebuilt (SQLite's documented procedure, foreign keys
    # off, every reference checked before commit), ids kept, so the FTS index stays valid.
    # Rows already stored as one plain text part become NULL on the way. The table's indexes
    # and triggers (freehold's FTS triggers, and any a person added with sqlite3) are made
    # again from their own SQL; views on it are left as they are (legacy_alter_table: the
    # rename does not re-check them while the table is away).
    kept = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'messages' AND sql IS NOT NULL "
            "AND type IN ('index', 'trigger')"
        )
    ]
    return """
        CREATE TABLE messages_m004 (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            parent_id INTEGER REFERENCES messages(id),
            source_message_id TEXT NOT NULL,
            role TEXT NOT NULL,
            author_name TEXT,
            model TEXT,
            created_at REAL,
            content_type TEXT NOT NULL,
            parts TEXT,
            text TEXT NOT NULL,
            hidden INTEGER NOT NULL DEFAULT 0,
            on_visible_path INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'complete',
            meta TEXT,
            UNIQUE (conversation_id, source_message_id)
        );
        INSERT INTO messages_m004 (id, conversation_id, parent_id, source_message_id, role,
            author_name, model, created_at, content_type, parts, text, hidden, on_visible_path,
            status, meta)
        SELECT id, conversation_id, parent_id, source_message_id, role, author_name, model,
            created_at, content_type,
            CASE WHEN parts = json_array(json_object('type', 'text', 'text', text)) THEN NULL
                ELSE parts END,
            text, hidden, on_visible_path, status, meta
        FROM messages ORDER BY id;
        DROP TABLE messages;
        PRAGMA legacy_alter_table=ON;
        ALTER TABLE messages_m004 RENAME TO messages;
        PRAGMA legacy_alter_table=OFF;
        """ + "".join(f"{sql};\n" for sql in kept)


@_step
def m005_branch_count_is_branches(_db: sqlite3.Connection) -> str:
    # ``branch_count`` counted fork points (a fork into three made one); it is now the number
    # of branches, the one definition in ``models.count_branches``: one per leaf, plus one
    # when the current leaf has followers. Leaves are the messages no other one names as its
    # parent. One pass over messages through the conversation index: 0.26 s per 100 MB.
    return """
        UPDATE conversations SET branch_count = (
            SELECT count(*) - count(DISTINCT m.parent_id) FROM messages m
            WHERE m.conversation_id = conversations.id
        ) + EXISTS (
            SELECT 1 FROM messages m
            WHERE m.conversation_id = conversations.id AND m.parent_id = conversations.current_leaf
        );
        """


# The search indexes as m001 declared them, and as Datasette and sqlite-utils recognise them.
_FTS_CONTENT = {"messages_fts": "messages", "conversations_fts": "conversations"}
_FTS_SETTINGS = {"messages_fts": ("automerge", 16), "conversations_fts": None}


@_step
def m006_fts_found_by_datasette(db: sqlite3.Connection) -> str:
    # Datasette and sqlite-utils offer search on a table when an FTS table names it as
    # content="table" or content=[table] (their detect_fts: a LIKE on sqlite_master.sql);
    # m001 wrote content='messages'. The quotes mean nothing to FTS5, so the declarations are
    # re-written in place by SQLite's documented procedure for a schema change that leaves
    # the file's content alone (writable_schema, schema_version + 1): instant, the index
    # untouched. Where SQLite refuses that (defensive mode), each index is dropped, declared
    # again and rebuilt from its table instead: ~2.5 s per 100 MB of export, announced.
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE name IN ('messages_fts', 'conversations_fts')"
    )
    declared = {name: sql for name, sql in rows}
    wanted = {name: _fts_declaration(name, sql) for name, sql in declared.items()}
    changed = {name: sql for name, sql in wanted.items() if sql != declared[name]}
    if not changed:
        return ""
    if _schema_writable(db):
        version = db.execute("PRAGMA schema_version").fetchone()[0]
        edits = "".join(
            f"UPDATE sqlite_master SET sql = {_quote(sql)} WHERE type = 'table' AND name = "
            f"{_quote(name)};\n"
            for name, sql in changed.items()
        )
        return (
            f"PRAGMA writable_schema=ON;\n{edits}PRAGMA schema_version={version + 1};\n"
            "PRAGMA writable_schema=OFF;\n"
        )
    return "".join(_fts_rebuild(name, sql) for name, sql in changed.items())


def _fts_declaration(name: str, sql: str) -> str:
    table = _FTS_CONTENT[name]
    return sql.replace(f"content='{table}'", f'content="{table}"')


def _fts_rebuild(name: str, sql: str) -> str:
    """Drop an FTS index, declare it again and fill it from its content table (its triggers
    name it and keep working). The merge settings m001 chose are set again."""
    setting = _FTS_SETTINGS[name]
    tune = (
        f"INSERT INTO {name}({name}, rank) VALUES ('{setting[0]}', {setting[1]});\n"
        f"INSERT INTO {name}({name}, rank) VALUES ('crisismerge', 32);\n"
        if setting
        else ""
    )
    return f"DROP TABLE {name};\n{sql};\n{tune}INSERT INTO {name}({name}) VALUES ('rebuild');\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _schema_writable(db: sqlite3.Connection) -> bool:
    """Whether this connection may edit sqlite_master (not in SQLite's defensive mode). The
    probe's UPDATE matches no row; SQLite refuses it when it is compiled, before any write."""
    db.execute("PRAGMA writable_schema=ON")
    try:
        db.execute("UPDATE sqlite_master SET sql = sql WHERE 0")
    except sqlite3.DatabaseError:
        return False
    finally:
        db.execute("PRAGMA writable_schema=OFF")
    return True


@_step
def m007_local_turns(_db: sqlite3.Connection) -> str:
    # Turns written here (``freehold chat``) live in ``messages`` like imported ones, as a
    # branch under the message they continue; ``origin`` tells them apart (NULL: an export
    # brought it; 'local': written here), so a re-import never takes them off the visible
    # path. An answer's request is kept beside it: what was asked of which provider, what
    # answered (``generations``), and every try the router made (``attempts``). Adding a
    # nullable column and two tables is instant on any archive.
    return """
        ALTER TABLE messages ADD COLUMN origin TEXT;
        CREATE TABLE generations (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id),
            provider TEXT,
            requested_model TEXT,
            served_model TEXT,
            target TEXT,
            finish_reason TEXT,
            tokens_in INTEGER,
            tokens_out INTEGER,
            warnings TEXT
        );
        CREATE TABLE attempts (
            message_id INTEGER NOT NULL REFERENCES messages(id),
            seq INTEGER NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            outcome TEXT NOT NULL,
            fault TEXT,
            error TEXT,
            ms INTEGER NOT NULL DEFAULT 0,
            waited_ms INTEGER NOT NULL DEFAULT 0,
            tokens_in INTEGER,
            tokens_out INTEGER,
            served_model TEXT,
            started_at REAL,
            PRIMARY KEY (message_id, seq)
        );
        """


@_step
def m008_exit_plan(_db: sqlite3.Connection) -> str:
    # The exit plan (freehold/exits.py): the rented platforms a person keeps exports of, and
    # each export file recorded, its bytes in vault/ by SHA-256 like blobs. A platform taken
    # out of the plan keeps its row (``removed_at``) so its recorded exports keep theirs.
    return """
        CREATE TABLE exit_platforms (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            catalogue_id TEXT,
            cadence_days INTEGER NOT NULL,
            export_where TEXT,
            note TEXT,
            added_at TEXT NOT NULL,
            removed_at TEXT
        );
        CREATE TABLE exit_exports (
            id INTEGER PRIMARY KEY,
            platform_id TEXT NOT NULL REFERENCES exit_platforms(id),
            sha256 TEXT NOT NULL,
            file_name TEXT NOT NULL,
            size INTEGER NOT NULL,
            format TEXT NOT NULL,
            mime TEXT,
            open INTEGER NOT NULL,
            contents TEXT,
            exported_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            source_id INTEGER REFERENCES sources(id),
            UNIQUE (platform_id, sha256)
        );
        CREATE INDEX exit_exports_latest ON exit_exports(platform_id, exported_at);
        """


@_step
def m009_fts_writes_bigger_segments(_db: sqlite3.Connection) -> str:
    # FTS5 writes its pending terms out as a new segment whenever they pass its hash size
    # (1 MB by default), so a 16 MB batch of an import became ~16 small segments, each merged
    # again later. At 8 MB, indexing a 200 MB export's messages took 5-19 % less CPU (three
    # alternating pairs, docs/performance.md); the pending terms of one batch stay bounded
    # (8 MB). A setting in the index's own config table: a SQLite that does not know it
    # ignores it when it reads the index.
    return "INSERT INTO messages_fts(messages_fts, rank) VALUES ('hashsize', 8388608);"


# The index of words glued to letters of scripts written without spaces (``_unspaced.glued``).
_GLUED = """
    CREATE VIRTUAL TABLE messages_glued_fts USING fts5(
        text, tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_glued_ad AFTER DELETE ON messages BEGIN
        DELETE FROM messages_glued_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER messages_glued_au AFTER UPDATE OF text ON messages BEGIN
        DELETE FROM messages_glued_fts WHERE rowid = old.id;
    END;
    """
_BACKFILL = 20000  # messages read at a time


@_step
def m010_glued_words(db: sqlite3.Connection) -> str:
    # A word written against Chinese, Japanese or Thai letters (iPhoneを) is inside one token
    # of messages_fts; the archive lists such words apart, in an FTS5 table of its own that
    # stores them (a few bytes a message, for the few messages that hold such letters), with
    # the same tokenizer so a search word stems the same. Its rowid is the message's id, so
    # the triggers drop a message's row with plain SQL when the message goes or its text
    # changes (the archive writes the new row; SQL alone cannot find the words). The messages
    # already stored are read once, in batches of ids: 0.4-0.5 s for a 150 MB export (67 MB of
    # text), too short to announce.
    for statement in _statements(_GLUED):
        db.execute(statement)
    last = 0
    while batch := db.execute(
        "SELECT id, text FROM messages WHERE id > ? ORDER BY id LIMIT ?", (last, _BACKFILL)
    ).fetchall():
        last = batch[-1][0]
        db.executemany(
            "INSERT INTO messages_glued_fts(rowid, text) VALUES (?, ?)",
            [(mid, words) for mid, text in batch if (words := _unspaced.glued(text))],
        )
    return ""
