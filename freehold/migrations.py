"""Append-only schema migrations, applied once, in order, each in its own transaction.

Each step is a named function; ``_freehold_migrations`` records which ran. Never edit a step
that has shipped: add a new one. docs/archive-format.md documents the resulting schema, and a
test checks that every table is documented there.

An archive that names a step this freehold does not know was updated by a newer freehold: it is
refused (``NewerArchiveError``), for reading too, before anything is written — this one would
leave what the newer one keeps (an index, a column) out of date, and read less than it holds.
An unknown step numbered at or below this freehold's newest is a development build's (a branch's
step renamed before it landed, as ``m010_glued_words`` became ``m012_glued_words``): no release
knows it, so the same refusal says to restore a backup made before that build opened it.
Each step also writes the number of steps the archive has seen into ``PRAGMA user_version``,
in its own transaction, so that other tools can tell the format without reading freehold's
table (``m016_format_in_user_version`` brings the archives made before to it).

An archive that cannot be written here (a read-only folder or disk: ``writable`` False) is
never half-updated: a pending step that readers need (any but ``_READERS_SKIP``, which change
nothing a reader reads) stops the open with one line saying the update must write it and to
copy the folder somewhere writable; those readers skip wait for the first open that can write.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freehold import _unspaced
from freehold.errors import NewerArchiveError, StorageError
from freehold.importers._skeleton import platform_time
from freehold.models import revision_of, thread_counts

__all__ = [
    "MIGRATIONS",
    "file_names",
    "m001_initial",
    "m002_conversation_marks",
    "m003_conversations_by_kind",
    "m004_plain_parts_once",
    "m005_branch_count_is_branches",
    "m006_fts_found_by_datasette",
    "m007_local_turns",
    "m008_exit_plan",
    "m009_fts_writes_bigger_segments",
    "m010_early_schemas_caught_up",
    "m011_conversations_parser_version",
    "m012_glued_words",
    "m013_file_names",
    "m014_source_updated_at",
    "m015_revisions_counted_apart",
    "m016_format_in_user_version",
    "message_content",
    "migrate",
]

Step = Callable[[sqlite3.Connection], str]
MIGRATIONS: list[tuple[str, Step]] = []
# Steps that rebuild a table (SQLite's procedure for what ALTER TABLE cannot do): they run with
# foreign keys off, must not add a broken reference, and an existing archive is told first.
_REBUILDS = {"m004_plain_parts_once"}
# Steps that change nothing a reader reads (an FTS5 write setting; the format number): a
# read-only open leaves them pending instead of refusing the archive.
_READERS_SKIP = {"m009_fts_writes_bigger_segments", "m016_format_in_user_version"}


def _step(function: Step) -> Step:
    MIGRATIONS.append((function.__name__, function))
    return function


def migrate(
    db: sqlite3.Connection, notice: Callable[[str], None] | None = None, *, writable: bool = True
) -> list[str]:
    """Apply the steps this database has not seen; returns their names. ``notice`` is told
    before a step that rebuilds a table runs on an archive that already holds data. Not
    ``writable`` (a read-only folder), it applies none, and refuses the archive when a pending
    step is one readers need (module docstring).

    ``db`` must be in autocommit mode (``isolation_level=None``): each step runs in its own
    ``BEGIN IMMEDIATE`` transaction, so a failed step leaves nothing behind and a second
    process opening the archive at the same time waits, then finds the step done.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS _freehold_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _freehold_migrations")}
    _refuse_newer(db, done)
    pending = [(name, function) for name, function in MIGRATIONS if name not in done]
    if not writable:
        _refuse_older(db, [name for name, _ in pending if name not in _READERS_SKIP])
        return []
    if notice is not None and done and any(_slow(db, name) for name, _ in pending):
        notice(
            "Updating the archive to a new format (once; about 20 s per GB of messages, "
            "do not interrupt it — an interrupted update is simply redone)…"
        )
    return [name for name, function in pending if _apply(db, name, function)]


def _refuse_newer(db: sqlite3.Connection, done: set[str]) -> None:
    """A step this freehold does not know: a newer one updated the archive, or a development
    build whose step no release has (module docstring)."""
    unknown = sorted(done - {name for name, _ in MIGRATIONS})
    if not unknown:
        return
    newest = max(_number(name) for name, _ in MIGRATIONS)
    built = [name for name in unknown if _number(name) <= newest]
    if built:
        raise NewerArchiveError(
            f"{_path(db)}: updated by a development build of freehold (format step "
            f"{built[-1]}, which no release has) — only that build opens it; restore a backup "
            "made before it opened the archive (`freehold backup restore`, see docs/backups.md)"
        )
    raise NewerArchiveError(
        f"{_path(db)}: updated by a newer freehold (format step {unknown[-1]}, unknown to this "
        "one) — upgrade freehold to open it; this version could misread it or leave it "
        "half-updated"
    )


def _number(name: str) -> int:
    """A step's number: ``m013_file_names`` is 13; a name without one comes after every step."""
    digits = name[1:].partition("_")[0]
    return int(digits) if name.startswith("m") and digits.isdigit() else sys.maxsize


def _refuse_older(db: sqlite3.Connection, needed: list[str]) -> None:
    """Steps readers need, on an archive that cannot be written here (module docstring)."""
    if needed:
        path = Path(_path(db))
        raise StorageError(
            f"{path}: made by an older freehold; its one-time update to this version's format "
            f"({needed[-1]}) must write it, and it cannot be written here — copy the folder "
            f"somewhere writable (cp -a {path.parent} <a writable place>) and point "
            "FREEHOLD_HOME there, or make this folder writable",
            "read-only",
        )


def _path(db: sqlite3.Connection) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()[2] or "the archive")


def _slow(db: sqlite3.Connection, name: str) -> bool:
    """Whether a pending step rewrites data in proportion to the archive's size."""
    if name == "m006_fts_found_by_datasette":
        return not _schema_writable(db)  # then it rebuilds the search indexes
    if name == "m010_early_schemas_caught_up":
        return _raw_keyed_alone(db) or bool(_fts_behind(db))
    return _rebuilds(db, name)


def _rebuilds(db: sqlite3.Connection, name: str) -> bool:
    """Whether step ``name`` rebuilds a table on this database (m010 only on an early one)."""
    if name == "m010_early_schemas_caught_up":
        return _raw_keyed_alone(db)
    return name in _REBUILDS


def _apply(db: sqlite3.Connection, name: str, function: Step) -> bool:
    """Run one step in one transaction; False when another process ran it meanwhile.

    A rebuild runs with foreign keys off (the table others point at is dropped and made
    again); instead, a reference it breaks stops it (one broken by hand before is left be).
    """
    rebuild = _rebuilds(db, name)
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
            steps = db.execute("SELECT count(*) FROM _freehold_migrations").fetchone()[0]
            db.execute(f"PRAGMA user_version = {int(steps)}")  # no parameters in a PRAGMA
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


def _own_sql(db: sqlite3.Connection, table: str, leave_out: str = "") -> list[str]:
    """The SQL of ``table``'s indexes and triggers (freehold's and any a person added), to be
    made again after a table rebuild; ``leave_out`` names one not to keep."""
    return [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
            "AND type IN ('index', 'trigger') AND name != ?",
            (table, leave_out),
        )
    ]


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
    kept = _own_sql(db, "messages")
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


@_step
def m010_early_schemas_caught_up(db: sqlite3.Connection) -> str:
    # m001 was edited in place while archives made by it existed, and migrate() compares step
    # names only, so those archives kept m001's older shapes: conversation_raw keyed by sha256
    # alone (before 95facbb: the same raw JSON could not be kept for two conversations), no
    # unique index for account-level context (before 32dc3c8: a Claude import with memories
    # failed on its upsert), an index on messages(created_at) imports paid for (before
    # 7a578b9), eager FTS merging (before 7df2b23), search indexes without stemming (before
    # ff970bf) and a trigger feeding messages_fts besides the archive's own inserts (the first
    # m001: each message imported since was indexed twice). Each shape is read from the
    # schema and made as m001 and later steps make it now; nothing else changes. A test
    # migrates an archive made by the first m001 and compares its schema with a new one's.
    return (
        _raw_keyed_by_conversation(db)
        + _account_context_unique(db)
        + _messages_extras_dropped(db)
        + _fts_caught_up(db)
    )


def _raw_keyed_alone(db: sqlite3.Connection) -> bool:
    """Whether conversation_raw has the early key, sha256 alone."""
    columns = sorted((row[5], row[1]) for row in db.execute("PRAGMA table_info(conversation_raw)"))
    return [name for position, name in columns if position] == ["sha256"]


def _raw_keyed_by_conversation(db: sqlite3.Connection) -> str:
    """Rebuild an early conversation_raw with its key (conversation_id, sha256), rowids kept
    (they order a conversation's raw versions). Every early row is unique by the new key,
    since it was by sha256 alone. The early index by conversation is left out (the key leads
    with it); an index or trigger a person added is made again from its own SQL."""
    if not _raw_keyed_alone(db):
        return ""
    kept = _own_sql(db, "conversation_raw", leave_out="conversation_raw_conversation")
    return """
        CREATE TABLE conversation_raw_m010 (
            sha256 TEXT NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            source_id INTEGER REFERENCES sources(id),
            encoding TEXT NOT NULL DEFAULT 'zlib',
            data BLOB NOT NULL,
            PRIMARY KEY (conversation_id, sha256)
        );
        INSERT INTO conversation_raw_m010 (rowid, sha256, conversation_id, source_id, encoding,
            data)
        SELECT rowid, sha256, conversation_id, source_id, encoding, data
        FROM conversation_raw ORDER BY rowid;
        DROP TABLE conversation_raw;
        PRAGMA legacy_alter_table=ON;
        ALTER TABLE conversation_raw_m010 RENAME TO conversation_raw;
        PRAGMA legacy_alter_table=OFF;
        """ + "".join(f"{sql};\n" for sql in kept)


def _account_context_unique(db: sqlite3.Connection) -> str:
    """The unique index account-level context is upserted by. A record that would break it
    (a second one under a key: none was written before the index existed, but a person may
    have added one) is kept beside the first under the key and the start of its text's
    SHA-256, as ``Archive.add_account_context`` keeps another text, or its row id after that
    when even that is taken: never dropped."""
    indexes = {row[1] for row in db.execute("PRAGMA index_list(context_records)")}
    if "context_records_account" in indexes:
        return ""
    held = set(
        db.execute(
            "SELECT kind, source_message_id FROM context_records WHERE conversation_id IS NULL"
        )
    )
    moves = []
    for row_id, kind, key, text in db.execute(
        "SELECT c.id, c.kind, c.source_message_id, c.text FROM context_records c "
        "WHERE c.conversation_id IS NULL AND c.id > (SELECT min(f.id) FROM context_records f "
        "WHERE f.conversation_id IS NULL AND f.kind = c.kind "
        "AND f.source_message_id = c.source_message_id) ORDER BY c.id"
    ):
        aside = f"{key}#{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        if (kind, aside) in held:
            aside = f"{key}#{row_id}"
        held.add((kind, aside))
        moves.append(
            f"UPDATE context_records SET source_message_id = {_quote(aside)} WHERE id = {row_id};\n"
        )
    return "".join(moves) + (
        "CREATE UNIQUE INDEX context_records_account ON context_records(kind, source_message_id)\n"
        "            WHERE conversation_id IS NULL;\n"
    )


def _messages_extras_dropped(db: sqlite3.Connection) -> str:
    """The early index on messages(created_at) (m001 dropped it for import speed) and the
    early trigger feeding messages_fts (the archive writes those rows itself)."""
    found = {
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'messages' "
            "AND name IN ('messages_created', 'messages_ai')"
        )
    }
    drops = {"messages_created": "DROP INDEX messages_created;\n"}
    drops["messages_ai"] = "DROP TRIGGER messages_ai;\n"
    return "".join(drops[name] for name in sorted(found))


# The search indexes' settings as m001 and m009 make them.
_FTS_NOW = {
    "messages_fts": {"automerge": 16, "crisismerge": 32, "hashsize": 8388608},
    "conversations_fts": {},
}
_UNSTEMMED = "tokenize='unicode61"


def _fts_behind(db: sqlite3.Connection) -> set[str]:
    """The search indexes to declare again and rebuild: those without stemming, and
    messages_fts when the early trigger fed it twice."""
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE name IN ('messages_fts', 'conversations_fts')"
    )
    behind = {name for name, sql in rows if _UNSTEMMED in sql}
    doubled = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'messages_ai'"
    if db.execute(doubled).fetchone():
        behind.add("messages_fts")
    return behind


def _fts_caught_up(db: sqlite3.Connection) -> str:
    """Stemming where the early indexes lacked it (a rebuild from their tables: ~2.5 s per
    100 MB of export, announced), and m001's merge settings where they are missing."""
    behind = _fts_behind(db)
    script = ""
    for name, wanted in _FTS_NOW.items():
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        held = {} if name in behind else dict(db.execute(f"SELECT k, v FROM {name}_config"))
        if name in behind:
            stemmed = sql.replace(_UNSTEMMED, "tokenize='porter unicode61")
            script += f"DROP TABLE {name};\n{stemmed};\n"
        script += "".join(
            f"INSERT INTO {name}({name}, rank) VALUES ('{key}', {value});\n"
            for key, value in wanted.items()
            if key not in held
        )
        if name in behind:
            script += f"INSERT INTO {name}({name}) VALUES ('rebuild');\n"
    return script


@_step
def m011_conversations_parser_version(_db: sqlite3.Connection) -> str:
    # Which importer version made each conversation (``chatgpt/2``), so that a newer one
    # re-reads a conversation an older one stored when the same raw JSON comes again
    # (``Archive.add_conversation``). Rows stored before it stay NULL: made by an unknown,
    # older importer, they are re-read once by the next import that brings them. Instant.
    return "ALTER TABLE conversations ADD COLUMN parser_version TEXT;"


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
def m012_glued_words(db: sqlite3.Connection) -> str:
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


def file_names(ids: str | None = None) -> str:
    """The SQL of (message id, names) for the messages ``ids`` (an SQL list; every message
    when None) that point at files: what the index of file names holds for each (m013), one
    rule for the import, its triggers and its backfill. A link's own name, else the name its
    file was first stored under; each once, ``_unspaced.SEPARATOR`` between two, so no phrase
    spans two names."""
    return f"""
        SELECT message_id, group_concat(name, ' {_unspaced.SEPARATOR} ') FROM (
            SELECT DISTINCT ma.message_id, coalesce(nullif(ma.name, ''),
                (SELECT first_name FROM attachments at WHERE at.sha256 = ma.sha256)) AS name
            FROM message_attachments ma WHERE {"1" if ids is None else f"ma.message_id IN ({ids})"}
            ORDER BY ma.message_id, name
        ) WHERE name != '' GROUP BY message_id"""


def _file_names_again(ids: str) -> str:
    """A trigger's statements that write the names row of the messages ``ids`` anew."""
    return (
        f"DELETE FROM messages_files_fts WHERE rowid IN ({ids});\n"
        f"INSERT INTO messages_files_fts(rowid, text) {file_names(ids)};\n"
    )


@_step
def m013_file_names(_db: sqlite3.Connection) -> str:
    # The names of the files a message points at (quarterly-report.pdf, IMG_2024.jpg) are in
    # no message's text: an FTS5 table of their own lists them, rowid = message id, with the
    # search indexes' tokenizer, a row only for the messages that point at a named file. The
    # import writes the rows of the links it writes (at the commit, like messages_fts); the
    # triggers keep the rows in step with what else changes: a link renamed, given its bytes
    # (and so the name its file was stored under), or deleted, a message deleted. The links
    # already stored are listed in one statement (a few thousand rows per 100 MB of export).
    return (
        """
        CREATE VIRTUAL TABLE messages_files_fts USING fts5(
            text, tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_files_ad AFTER DELETE ON messages BEGIN
            DELETE FROM messages_files_fts WHERE rowid = old.id;
        END;
        CREATE TRIGGER message_attachments_files_ad AFTER DELETE ON message_attachments BEGIN
        """
        + _file_names_again("old.message_id")
        + """END;
        CREATE TRIGGER message_attachments_files_au
            AFTER UPDATE OF message_id, name, sha256 ON message_attachments
            WHEN old.name IS NOT new.name OR old.sha256 IS NOT new.sha256
                OR old.message_id IS NOT new.message_id BEGIN
        """
        + _file_names_again("old.message_id, new.message_id")
        + "END;\n"
        + f"INSERT INTO messages_files_fts(rowid, text) {file_names()};\n"
    )


@_step
def m014_source_updated_at(db: sqlite3.Connection) -> str:
    # The platform's own update time, apart from ``updated_at``, which a turn written here
    # (``freehold chat``) moves on: which of two copies is older (``archive._aside``) is judged
    # by it, and only an import writes it. Backfilled: a conversation without such turns has
    # the platform's time in ``updated_at``; one with them has it at the top of its newest raw
    # version (``raw_sha256``), read by the keys every built-in format uses (``Heading``), else
    # the newest imported message's time (the estimate used before). Those are few: the step
    # is instant on any archive. A conversation started here has no platform: NULL.
    db.execute("ALTER TABLE conversations ADD COLUMN source_updated_at REAL")
    db.execute(
        "UPDATE conversations SET source_updated_at = updated_at WHERE raw_sha256 != '' "
        "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id "
        "AND m.origin IS NOT NULL)"
    )
    continued = db.execute(
        "SELECT c.id, r.data, (SELECT max(created_at) FROM messages m "
        "WHERE m.conversation_id = c.id AND m.origin IS NULL) FROM conversations c "
        "JOIN conversation_raw r ON r.conversation_id = c.id AND r.sha256 = c.raw_sha256 "
        "WHERE c.raw_sha256 != '' AND c.source_updated_at IS NULL"
    ).fetchall()
    db.executemany(
        "UPDATE conversations SET source_updated_at = ? WHERE id = ?",
        [(_raw_updated(data, estimate), cid) for cid, data, estimate in continued],
    )
    return ""


def _raw_updated(data: bytes, estimate: float | None) -> float | None:
    """The update time at the top of a raw version (zlib-compressed JSON), else ``estimate``."""
    try:
        raw = zlib.decompress(data)
    except zlib.error:
        return estimate
    return platform_time(raw, estimate)


@_step
def m015_revisions_counted_apart(db: sqlite3.Connection) -> str:
    # A message's earlier version (``<id>#rev-<n>``, ``archive._revision``) is neither a
    # message of its conversation nor a branch (``models.thread_counts``); the import counted
    # it as both. The conversations that hold one are recounted, after their revisions that
    # an older import kept twice are dropped: a revision whose words and parts are its
    # message's own or an earlier-numbered revision's (A→B→A kept A beside A), which nothing
    # points at (``_duplicates``). Every raw version stays, so nothing is lost. The
    # conversations are found by one read of the (conversation, source id) index, and each is
    # read once through it (the other tables by their keys; whether a message has a follower
    # from the rows read, as messages.parent_id has no index). 0.33 s on a 69 MB archive
    # whose 2,140 conversations each hold a revision (review R4; 3 min 52 s with a correlated
    # subquery): seconds per GB at worst, so the step gives no notice (``_slow``).
    found = db.execute(
        "SELECT DISTINCT conversation_id FROM messages WHERE source_message_id LIKE '%#rev-%'"
    ).fetchall()
    for (cid,) in found:
        rows = db.execute(_REVISION_ROWS, (cid,)).fetchall()
        gone = _duplicates(rows)
        db.executemany("DELETE FROM messages WHERE id = ?", [(mid,) for mid in gone])
        ids = {row[1]: row[0] for row in rows if row[0] not in gone}
        parents = {row[0]: row[2] for row in rows if row[0] not in gone}
        leaf = db.execute("SELECT current_leaf FROM conversations WHERE id = ?", (cid,))
        counts = thread_counts(ids, parents, leaf.fetchone()[0])
        db.execute(
            "UPDATE conversations SET message_count = ?, branch_count = ? WHERE id = ?",
            (*counts, cid),
        )
    return ""


# Each message of a conversation: id, source id, its stored row (parent to meta, as
# ``archive._existing`` reads it: ``message_content``), and whether anything but a follower
# points at it (a file link, a turn's request, the current leaf): each by its table's key.
# A follower is found among the rows (``_duplicates``).
_REVISION_ROWS = """
    SELECT m.id, m.source_message_id,
        m.parent_id, m.role, m.author_name, m.model, m.created_at, m.content_type, m.parts,
        m.text, m.hidden, m.on_visible_path, m.status, m.meta,
        m.origin IS NOT NULL OR m.id = c.current_leaf
        OR EXISTS (SELECT 1 FROM message_attachments a WHERE a.message_id = m.id)
        OR EXISTS (SELECT 1 FROM generations g WHERE g.message_id = m.id)
        OR EXISTS (SELECT 1 FROM attempts t WHERE t.message_id = m.id)
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.conversation_id = ?"""


def message_content(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """What a stored message row says (parent first, as ``archive._existing`` reads it:
    parent, role, author, model, created_at, content type, parts, text, hidden, on visible
    path, status, meta): its parent, role, author, model, content type, parts, text, hidden
    flag and status. Not its time, its visible-path flag nor ``meta``: each raw version keeps
    them. The one rule of a duplicate revision, which m015 drops and the import of a freehold
    export leaves out (``archive._drop_kept_words``): one with its message's content or a
    lower-numbered kept revision's, that nothing points at."""
    return (*row[:4], *row[5:9], row[10])


def _duplicates(rows: list[tuple[Any, ...]]) -> set[int]:
    """The ids of the revisions among ``rows`` (``_REVISION_ROWS``) that are exact duplicates
    of kept content (``message_content``) and pointed at by nothing (a follower is a row
    whose parent it is: a child is in its parent's conversation)."""
    ids = {str(row[1]) for row in rows}
    followed = {row[2] for row in rows}
    said = {str(row[1]): message_content(row[2:14]) for row in rows}
    revisions = sorted(
        (row for row in rows if revision_of(str(row[1])) in ids),
        key=lambda row: int(str(row[1]).rpartition("#rev-")[2]),
    )
    kept: dict[str, set[tuple[Any, ...]]] = {}
    gone = set()
    for row in revisions:
        of = str(revision_of(str(row[1])))
        content = kept.setdefault(of, {said[of]})
        if said[str(row[1])] in content and not row[14] and row[0] not in followed:
            gone.add(row[0])
        else:
            content.add(said[str(row[1])])
    return gone


@_step
def m016_format_in_user_version(_db: sqlite3.Connection) -> str:
    # Nothing of its own: ``_apply`` writes the number of steps seen into ``user_version`` in
    # every step's transaction, this one included, so an archive whose last step ran before
    # that gets the number too. Instant.
    return ""
