"""The SQLite archive: migrations, search, resolve, stats, round trips — on real SQLite files."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import zlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from freehold.archive import Archive, conversation_id, open_archive
from freehold.errors import ArchiveError, FreeholdError, NotFoundError
from freehold.migrations import MIGRATIONS, migrate
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message
from freehold.tree import build_tree

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64


def epoch(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def msg(sid: str, parent: str | None, role: str, text: str, **extra: object) -> Message:
    return Message(sid, parent, role, "text", [{"type": "text", "text": text}], text, **extra)  # type: ignore[arg-type]


def conversation(
    sid: str,
    messages: list[Message],
    *,
    kind: str = "chatgpt",
    leaf: str | None = None,
    **extra: object,
) -> Conversation:
    tree = build_tree(messages, leaf)
    raw = orjson.dumps({"id": sid, "n": [m.text for m in messages], "leaf": leaf})
    return Conversation(
        kind,
        sid,
        extra.pop("title", f"title {sid}"),
        tree.messages,
        raw,
        current_leaf=tree.leaf,
        **extra,
    )  # type: ignore[arg-type]


def add(archive: Archive, *conversations: Conversation, kind: str = "chatgpt") -> list[str]:
    source = archive.begin_source(kind, "test.json", None, None, "test/1")
    with archive.transaction():
        statuses = [archive.add_conversation(c, source).status for c in conversations]
    return statuses


def chat(
    sid: str, day: str, user: str, answer: str, model: str = "gpt-4o", **extra: object
) -> Conversation:
    t = epoch(day)
    messages = [
        msg("s", None, "system", "", hidden=True, created_at=t),
        msg("u", "s", "user", user, created_at=t + 1),
        msg("a", "u", "assistant", answer, model=model, created_at=t + 2),
    ]
    return conversation(sid, messages, created_at=t, **extra)


@pytest.fixture
def filled(archive: Archive) -> Archive:
    add(
        archive,
        chat(
            "c-invoice",
            "2024-01-10",
            "Write an invoice template",
            "Here is an invoice: invoice number, invoice date.",
        ),
        chat(
            "c-travel",
            "2024-03-05",
            "Plan a trip to Lisbon",
            "Day one: the café and an invoice-free holiday.",
            model="gpt-3.5",
        ),
        chat("c-old", "2023-06-01", "Explain SQLite pragmas", "WAL means write-ahead log."),
    )
    claude = chat(
        "k-1",
        "2024-02-01",
        "invoice for Claude?",
        "An invoice from Claude.",
        model="claude-3",
        kind="claude",
    )
    add(archive, claude, kind="claude")
    return archive


# -- migrations ------------------------------------------------------------------------------------


def test_opening_migrates_once(archive: Archive, tmp_path: Path) -> None:
    names = [row[0] for row in archive.db.execute("SELECT name FROM _freehold_migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert migrate(archive.db) == []
    with open_archive(archive.home) as again:
        assert migrate(again.db) == []
        assert again.db.execute("SELECT count(*) FROM _freehold_migrations").fetchone()[0] == len(
            names
        )


def test_an_archive_from_before_m003_gets_the_per_source_index(archive: Archive) -> None:
    archive.db.execute("DROP INDEX conversations_by_kind")
    archive.db.execute("DELETE FROM _freehold_migrations WHERE name = 'm003_conversations_by_kind'")
    assert migrate(archive.db) == ["m003_conversations_by_kind"]
    plan = archive.db.execute(
        "EXPLAIN QUERY PLAN SELECT source_kind, count(*), sum(message_count) FROM conversations "
        "GROUP BY source_kind ORDER BY source_kind"
    ).fetchall()
    assert "COVERING INDEX conversations_by_kind" in str(plan)


def test_blank_database_gets_every_step() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    assert migrate(db) == [name for name, _ in MIGRATIONS]
    assert migrate(db) == []


def test_new_archives_get_16k_pages_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    with open_archive(tmp_path / "new") as new:
        assert new.db.execute("PRAGMA page_size").fetchone()[0] == 16384
        assert new.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 4096  # 64 MB
        assert new.db.execute("PRAGMA temp_store").fetchone()[0] == 0  # default: files
        new.begin()
        assert new.db.execute("PRAGMA temp_store").fetchone()[0] == 2  # memory, for writing
        new.commit()
        assert new.db.execute("PRAGMA temp_store").fetchone()[0] == 0
    old_home = tmp_path / "old"
    old_home.mkdir()
    db = sqlite3.connect(old_home / "archive.sqlite", isolation_level=None)
    db.execute("PRAGMA page_size=4096")
    db.execute("PRAGMA journal_mode=WAL")
    migrate(db)
    db.close()
    with open_archive(old_home) as old:
        assert old.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert old.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 16384  # 64 MB
        add(old, chat("p", "2024-01-01", "question", "answer"))
        assert "question" in [m.text for m in old.get_conversation("p").messages]


def test_a_file_that_is_not_sqlite_is_an_archive_error(tmp_path: Path) -> None:
    home = tmp_path / "broken"
    home.mkdir()
    (home / "archive.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match=r"archive\.sqlite"):
        open_archive(home)


# -- search ----------------------------------------------------------------------------------------


def test_search_is_ranked(filled: Archive) -> None:
    hits = filled.search("invoice")
    assert len(hits) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0].conversation_id == conversation_id("chatgpt", "c-invoice")
    assert hits[0].role == "assistant"


def test_search_snippet_highlights_point_at_the_words(filled: Archive) -> None:
    for hit in filled.search("invoice template"):
        assert hit.highlights
        for start, end in hit.highlights:
            assert hit.snippet[start:end].lower() in ("invoice", "template")
    (cafe,) = filled.search("cafe")  # diacritics removed in the index
    assert [cafe.snippet[a:b] for a, b in cafe.highlights] == ["café"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"source": "claude"}, {"k-1"}),
        ({"source": "chatgpt"}, {"c-invoice", "c-travel"}),
        ({"role": "user"}, {"c-invoice", "k-1"}),
        ({"model": "gpt-3"}, {"c-travel"}),
        ({"model": "claude"}, {"k-1"}),
        ({"since": "2024-02"}, {"c-travel", "k-1"}),
        ({"until": "2024-01"}, {"c-invoice"}),
        ({"since": "2024-01-11", "until": "2024-02-01"}, {"k-1"}),
    ],
)
def test_search_filters(filled: Archive, filters: dict[str, str], expected: set[str]) -> None:
    found = {
        filled.get_conversation(h.conversation_id).source_id
        for h in filled.search("invoice", **filters)
    }
    assert found == expected


def test_search_limit_and_offset(filled: Archive) -> None:
    everything = [h.message_id for h in filled.search("invoice")]
    assert [h.message_id for h in filled.search("invoice", limit=2)] == everything[:2]
    assert [h.message_id for h in filled.search("invoice", limit=2, offset=2)] == everything[2:4]


def test_search_finds_hidden_and_branch_messages_and_titles_do_not_leak(archive: Archive) -> None:
    messages = [
        msg("u", None, "user", "question about zebras"),
        msg("a1", "u", "assistant", "first answer mentions okapi"),
        msg("a2", "u", "assistant", "second answer mentions giraffe"),
    ]
    add(archive, conversation("b", messages, leaf="a2"))
    assert len(archive.search("okapi")) == 1  # the non-visible branch is searchable too
    assert archive.search("nomatchword") == []


@pytest.mark.parametrize("query", ['"unclosed', "invoice AND", "NEAR(", "("])
def test_fts_syntax_errors_are_clear(filled: Archive, query: str) -> None:
    with pytest.raises(FreeholdError, match="quote words"):
        filled.search(query)


def test_empty_search_is_refused(filled: Archive) -> None:
    with pytest.raises(FreeholdError, match="empty search"):
        filled.search("   ")


def test_bad_date_filter_is_clear(filled: Archive) -> None:
    with pytest.raises(FreeholdError, match="not a date"):
        filled.search("invoice", since="last tuesday")


def test_plain_words_with_punctuation_are_quoted(archive: Archive) -> None:
    add(archive, chat("p", "2024-01-01", "how do I use c++ templates", "like this"))
    assert len(archive.search("c++ templates")) == 1


# -- resolve ---------------------------------------------------------------------------------------


def test_resolve_by_id_source_id_and_prefix(filled: Archive) -> None:
    cid = conversation_id("chatgpt", "c-travel")
    assert filled.resolve(cid) == cid
    assert filled.resolve("c-travel") == cid
    assert filled.resolve(cid[:8]) == cid
    assert filled.resolve("c-tr") == cid
    assert filled.resolve("  c-travel ") == cid


def test_resolve_ambiguous_and_unknown(filled: Archive) -> None:
    with pytest.raises(NotFoundError, match="several"):
        filled.resolve("c-")
    with pytest.raises(NotFoundError, match="no conversation"):
        filled.resolve("zzz-nothing")
    with pytest.raises(NotFoundError):
        filled.resolve("")


def test_resolve_treats_wildcards_literally(filled: Archive) -> None:
    with pytest.raises(NotFoundError):
        filled.resolve("%ravel")


# -- stats and round trips -------------------------------------------------------------------------


def test_stats_count_hidden_messages_and_every_branch(archive: Archive) -> None:
    messages = [
        msg("s", None, "system", "", hidden=True),
        msg("u", "s", "user", "hi"),
        msg("a1", "u", "assistant", "one"),
        msg("a2", "u", "assistant", "two"),
        msg("t", "a2", "tool", "tool output", hidden=True),
    ]
    branched = conversation("br", messages, leaf="a1")
    branched.context = [
        ContextRecord("custom_instructions", "be brief", {"about_model": "be brief"}, None, "s")
    ]
    add(archive, branched, chat("plain", "2024-01-01", "q", "a"))
    stats = archive.stats()
    assert stats["conversations"] == 2
    assert stats["messages"] == 8
    assert stats["visible_messages"] == 3 + 3
    assert stats["branched_conversations"] == 1
    assert stats["context_records"] == 1
    assert stats["imports"] == 1
    assert stats["per_source"] == {"chatgpt": {"conversations": 2, "messages": 8}}
    assert stats["gone_upstream"] == 0
    light = archive.stats(visible=False)
    assert light["visible_messages"] is None
    assert {**light, "visible_messages": 6} == stats


def test_round_trip_keeps_tree_flags_and_leaf(archive: Archive) -> None:
    messages = [
        msg("u", None, "user", "hi", created_at=1.0),
        msg("a1", "u", "assistant", "one", created_at=2.0, status="interrupted"),
        msg(
            "a2",
            "u",
            "assistant",
            "two",
            created_at=3.0,
            model="gpt-4o",
            meta={"recipient": "python"},
        ),
    ]
    add(archive, conversation("rt", messages, leaf="a1", title="Round trip", archived=True))
    got = archive.get_conversation("rt")
    assert got.title == "Round trip" and got.archived and got.current_leaf == "a1"
    by_id = {m.source_id: m for m in got.messages}
    assert by_id["a1"].parent_source_id == "u" and by_id["a1"].status == "interrupted"
    assert [m.source_id for m in got.messages if m.on_visible_path] == ["u", "a1"]
    assert by_id["a2"].meta == {"recipient": "python"} and by_id["a2"].model == "gpt-4o"
    assert by_id["a2"].parts == [{"type": "text", "text": "two"}]


def test_same_raw_twice_is_unchanged_and_growth_is_an_update(archive: Archive) -> None:
    first = chat("g", "2024-01-01", "q", "a")
    assert add(archive, first) == ["new"]
    assert add(archive, chat("g", "2024-01-01", "q", "a")) == ["unchanged"]
    grown = chat("g", "2024-01-01", "q", "a")
    grown.messages.append(msg("u2", "a", "user", "follow-up"))
    grown.raw += b" "
    assert add(archive, grown) == ["updated"]
    got = archive.get_conversation("g")
    assert len(got.messages) == 4
    assert len(archive.raw_versions(got.id or "")) == 2


def test_raw_json_reads_back_with_plain_sqlite3_and_zlib(archive: Archive) -> None:
    # Written by ISA-L for speed, but a standard zlib stream: no freehold needed to read it.
    first = chat("z", "2024-01-01", "q " * 5000, "a")
    add(archive, first)
    with sqlite3.connect(archive.path) as db:
        encoding, data = db.execute("SELECT encoding, data FROM conversation_raw").fetchone()
    assert encoding == "zlib"
    assert zlib.decompress(data) == first.raw
    assert len(data) < len(first.raw) // 10


def test_blobs_are_content_addressed_and_sniffed(archive: Archive) -> None:
    sha, mime, size = archive.write_blob(io.BytesIO(PNG))
    assert archive.write_blob(io.BytesIO(PNG)) == (sha, mime, size)
    assert mime == "image/png" and size == len(PNG)
    assert archive.blob_path(sha).read_bytes() == PNG
    assert [p.name for p in archive.blob_path(sha).parent.iterdir()] == [sha]
    assert list((archive.blobs / "tmp").iterdir()) == []


def test_attachment_links_round_trip(archive: Archive) -> None:
    sha, mime, size = archive.write_blob(io.BytesIO(PNG))
    message = msg("u", None, "user", "see picture")
    message.attachments = [
        AttachmentRef(
            "file-service://file-A", name="pic.png", sha256=sha, size=size, sniffed_mime=mime
        ),
        AttachmentRef("file-service://file-B", name="doc.pdf", mime="application/pdf"),
    ]
    add(archive, conversation("att", [message]))
    (got,) = archive.get_conversation("att").messages
    refs = {a.pointer: a for a in got.attachments}
    assert refs["file-service://file-A"].sniffed_mime == "image/png"
    assert refs["file-service://file-A"].sha256 == sha
    assert refs["file-service://file-A"].size == len(PNG)
    assert refs["file-service://file-B"].sha256 is None
    assert refs["file-service://file-B"].mime == "application/pdf"
    stats = archive.stats()
    assert (stats["attachments"], stats["attachment_bytes"], stats["attachments_missing"]) == (
        1,
        len(PNG),
        1,
    )


def test_large_blob_streams_through_a_temp_file_once(archive: Archive) -> None:
    data = bytes(range(256)) * 9000  # 2.3 MB: past the in-memory path
    sha, _, size = archive.write_blob(io.BytesIO(data))
    assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
    assert archive.write_blob(io.BytesIO(data))[0] == sha
    assert archive.blob_path(sha).read_bytes() == data
    assert list((archive.blobs / "tmp").iterdir()) == []


def test_unusable_data_folders_say_what_to_do(tmp_path: Path) -> None:
    not_a_db = tmp_path / "garbage"
    not_a_db.mkdir()
    (not_a_db / "archive.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError, match="not a usable freehold archive"):
        open_archive(not_a_db)
    blocked = tmp_path / "file-in-the-way"
    blocked.write_text("x")
    with pytest.raises(ArchiveError, match="cannot create the data folder"):
        open_archive(blocked / "home")


def test_export_selection_by_model_and_query(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from freehold.cli import cli

    with open_archive() as archive:
        first = msg("u1", None, "user", "how do I bake sourdough bread")
        second = msg("u2", None, "user", "compare kubernetes ingress controllers")
        answer = msg("a2", "u2", "assistant", "use whichever your cloud ships")
        answer.model = "o3-mini"
        add(archive, conversation("bread", [first]))
        add(archive, conversation("k8s", [second, answer]))
        by_query = [c.source_id for c in archive.iter_conversations(query="sourdough")]
        by_model = [c.source_id for c in archive.iter_conversations(model="o3")]
        both = [c.source_id for c in archive.iter_conversations(model="o3", query="bread")]
        assert (by_query, by_model, both) == (["bread"], ["k8s"], [])
        with pytest.raises(FreeholdError, match="quote words"):
            archive.iter_conversations(query='"unclosed')
    out = tmp_path / "never-made"
    result = CliRunner().invoke(
        cli, ["export", "--format", "csv", "--out", str(out), "--query", '"unclosed']
    )
    assert result.exit_code == 1 and "quote words" in result.output
    assert not out.exists()


def _fts_consistent(archive: Archive) -> None:
    """FTS5's own check of the index against the messages' text (raises if they differ)."""
    archive.db.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def test_a_conversation_updated_in_the_transaction_that_added_it_is_indexed_right(
    archive: Archive,
) -> None:
    first = chat("twice", "2024-02-01", "tell me about otters", "otters hold hands")
    second = chat("twice", "2024-02-01", "tell me about otters", "beavers build dams")
    assert add(archive, first, second) == ["new", "updated"]
    _fts_consistent(archive)
    assert [h.conversation_id for h in archive.search("beavers")] == [
        first.id or archive.resolve("twice")
    ]
    assert archive.search("hands") == []


def test_a_rolled_back_import_leaves_nothing_to_index(archive: Archive) -> None:
    source = archive.begin_source("chatgpt", "test.json", None, None, "test/1")
    archive.begin()
    archive.add_conversation(chat("gone", "2024-03-01", "walruses", "tusks"), source)
    archive.rollback()
    add(archive, chat("kept", "2024-03-02", "penguins", "waddle"))
    _fts_consistent(archive)
    assert archive.search("walruses") == [] and len(archive.search("penguins")) == 1


# -- plain text parts stored once (m004) ---------------------------------------------------------


def _parts_column(archive: Archive, source_message_id: str) -> str | None:
    row = archive.db.execute(
        "SELECT parts FROM messages WHERE source_message_id = ?", (source_message_id,)
    ).fetchone()
    return row[0]


def test_a_plain_text_message_stores_its_text_once_and_reads_back_whole(archive: Archive) -> None:
    cited = [{"type": "text", "text": "see [1]"}, {"type": "citation", "marker": "[1]", "url": "u"}]
    extra = [{"type": "text", "text": "hi", "lang": "en"}]
    differs = [{"type": "text", "text": "raw 【1†source】"}]
    messages = [
        msg("plain", None, "user", "just words"),
        Message("cited", "plain", "assistant", "text", cited, "see"),
        Message("extra", "cited", "user", "text", extra, "hi"),
        Message("differs", "extra", "assistant", "text", differs, "raw"),
        Message("empty", "differs", "user", "text", [], ""),
    ]
    add(archive, conversation("p1", messages))
    assert _parts_column(archive, "plain") is None
    for kept in ("cited", "extra", "differs", "empty"):
        assert _parts_column(archive, kept) is not None
    got = {m.source_id: m.parts for m in archive.get_conversation("p1").messages}
    assert got == {
        "plain": [{"type": "text", "text": "just words"}],
        "cited": cited,
        "extra": extra,
        "differs": differs,
        "empty": [],
    }
    assert add(archive, conversation("p1", messages)) == ["unchanged"]


def _archive_before_m004(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive written by the code before m004: NOT NULL parts, plain parts as JSON."""
    from freehold import archive as archive_module
    from freehold import migrations

    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:3])
        patch.setattr(archive_module, "_plain", lambda parts, text: False)
        with open_archive(home) as old:
            assert (
                "parts TEXT NOT NULL"
                in old.db.execute(
                    "SELECT sql FROM sqlite_master WHERE name = 'messages'"
                ).fetchone()[0]
            )
            add(old, chat("m-1", "2024-05-01", "otters and rivers", "otters hold hands"))
            branchy = chat("m-2", "2024-05-02", "first question", "first answer")
            branchy.messages.append(
                Message("cite", "u", "assistant", "text", [{"type": "text", "text": "x [1]"}], "x")
            )
            add(old, branchy)
            source = old.begin_source("chatgpt", "a.zip", None, None, "test/1")
            with old.transaction():
                ref = AttachmentRef("file-service://file-1", "a.png", "image/png")
                ref.opener = lambda: io.BytesIO(PNG)
                photo = chat("m-3", "2024-05-03", "a photo", "nice")
                photo.messages[1].attachments.append(ref)
                old.add_conversation(photo, source)


def test_m004_rebuilds_messages_keeping_ids_index_and_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _archive_before_m004(home, monkeypatch)
    with sqlite3.connect(home / "archive.sqlite") as db:
        before = db.execute(
            "SELECT id, conversation_id, parent_id, source_message_id, text FROM messages "
            "ORDER BY id"
        ).fetchall()
        assert db.execute("SELECT count(*) FROM messages WHERE parts IS NULL").fetchone()[0] == 0
    with open_archive(home) as archive:
        assert "m004_plain_parts_once" in {
            r[0] for r in archive.db.execute("SELECT name FROM _freehold_migrations")
        }
        after = archive.db.execute(
            "SELECT id, conversation_id, parent_id, source_message_id, text FROM messages "
            "ORDER BY id"
        ).fetchall()
        assert after == before
        assert _parts_column(archive, "cite") == '[{"type":"text","text":"x [1]"}]'
        nulls = archive.db.execute("SELECT count(*) FROM messages WHERE parts IS NULL").fetchone()
        assert nulls[0] == len(before) - 1
        assert archive.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert archive.db.execute("PRAGMA foreign_key_check").fetchall() == []
        _fts_consistent(archive)
        assert {h.conversation_id for h in archive.search("otters")} == {archive.resolve("m-1")}
        photo = archive.get_conversation("m-3")
        assert [a.pointer for a in photo.messages[1].attachments] == ["file-service://file-1"]
        # the triggers came back: an updated text is re-indexed
        changed = chat("m-1", "2024-05-01", "otters and rivers", "beavers build dams")
        changed.raw += b" "
        assert add(archive, changed) == ["updated"]
        _fts_consistent(archive)
        assert archive.search("hands") == [] and len(archive.search("beavers")) == 1


@pytest.mark.parametrize(
    "stored",
    ['[{"type":"text","text":"question"}]', '[{"text":"question","type":"text"}]'],
    ids=["as-json", "other-key-order"],
)
def test_a_plain_part_left_as_json_still_compares_equal_on_reimport(
    archive: Archive, stored: str
) -> None:
    add(archive, chat("j", "2024-06-01", "question", "answer"))
    archive.db.execute("UPDATE messages SET parts = ? WHERE source_message_id = 'u'", (stored,))
    again = chat("j", "2024-06-01", "question", "answer")
    again.raw += b" "
    source = archive.begin_source("chatgpt", "again.json", None, None, "test/1")
    with archive.transaction():
        result = archive.add_conversation(again, source)
    assert (result.messages_unchanged, result.messages_updated) == (3, 0)


def test_a_step_that_breaks_a_reference_is_rolled_back(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    from freehold import migrations

    def m999_broken(_db: sqlite3.Connection) -> str:
        return (
            "INSERT INTO message_attachments VALUES (424242, 'file-service://x', NULL, NULL, NULL);"
        )

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("m999_broken", m999_broken)])
    monkeypatch.setattr(migrations, "_REBUILDS", {*migrations._REBUILDS, "m999_broken"})
    with pytest.raises(sqlite3.IntegrityError, match="message_attachments"):
        migrate(archive.db)
    assert archive.db.execute("SELECT count(*) FROM message_attachments").fetchone()[0] == 0
    assert archive.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert "m999_broken" not in {
        r[0] for r in archive.db.execute("SELECT name FROM _freehold_migrations")
    }


def test_a_step_that_rebuilds_nothing_keeps_sqlite_enforcing_references(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    from freehold import migrations

    def m999_plain(_db: sqlite3.Connection) -> str:
        return (
            "INSERT INTO message_attachments VALUES (424242, 'file-service://x', NULL, NULL, NULL);"
        )

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("m999_plain", m999_plain)])
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        migrate(archive.db)
    assert archive.db.execute("SELECT count(*) FROM message_attachments").fetchone()[0] == 0
    assert archive.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_m004_keeps_what_a_person_added_to_messages_with_sqlite3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _archive_before_m004(home, monkeypatch)
    with sqlite3.connect(home / "archive.sqlite") as db:
        db.execute("CREATE VIEW my_words AS SELECT id, text FROM messages WHERE role = 'user'")
        db.execute("CREATE INDEX my_by_time ON messages(created_at)")
        db.execute(
            "CREATE TRIGGER my_log AFTER UPDATE OF role ON messages BEGIN "
            "UPDATE conversations SET title = 'touched' WHERE id = new.conversation_id; END"
        )
        expected = db.execute("SELECT * FROM my_words ORDER BY id").fetchall()
    with open_archive(home) as archive:
        names = {r[0] for r in archive.db.execute("SELECT name FROM sqlite_master")}
        assert {"my_words", "my_by_time", "my_log", "messages_ad", "messages_au"} <= names
        assert archive.db.execute("SELECT * FROM my_words ORDER BY id").fetchall() == expected
        plan = archive.db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE created_at > 0"
        ).fetchall()
        assert "my_by_time" in str(plan)


def test_m004_leaves_a_reference_broken_by_hand_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _archive_before_m004(home, monkeypatch)
    with sqlite3.connect(home / "archive.sqlite") as db:  # foreign keys off, as in the shell
        db.execute("DELETE FROM messages WHERE source_message_id = 'u'")
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
    assert broken
    with open_archive(home) as archive:
        assert archive.db.execute("SELECT parts FROM messages WHERE parts IS NULL").fetchone()
        assert archive.db.execute("PRAGMA foreign_key_check").fetchall() == broken


def test_a_step_another_process_applied_meanwhile_is_not_run_twice(archive: Archive) -> None:
    from freehold import migrations

    runs: list[str] = []

    def m999_counted(_db: sqlite3.Connection) -> str:
        runs.append("ran")
        return "CREATE TABLE m999_table (x);"

    other = sqlite3.connect(archive.path, isolation_level=None)
    assert migrations._apply(other, "m999_counted", m999_counted) is True
    other.close()
    assert migrations._apply(archive.db, "m999_counted", m999_counted) is False
    assert runs == ["ran"]
    assert not archive.db.in_transaction


def test_statements_are_split_where_sqlite_says_they_end() -> None:
    from freehold.migrations import _statements

    script = """
        CREATE TABLE t (a TEXT); -- a comment; with a semicolon
        INSERT INTO t VALUES ('x;y');
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN
            INSERT INTO t VALUES ('z'); INSERT INTO t VALUES ('w');
        END;
    """
    parts = [s.strip() for s in _statements(script)]
    assert len(parts) == 3
    assert parts[1].endswith("VALUES ('x;y');")
    assert parts[2].startswith("CREATE TRIGGER")
    assert parts[2].rstrip().endswith("END;")


def test_a_failed_begin_leaves_temporary_storage_as_it_was(archive: Archive) -> None:
    other = sqlite3.connect(archive.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    archive.db.execute("PRAGMA busy_timeout=0")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        archive.begin()
    other.execute("ROLLBACK")
    other.close()
    assert archive.db.execute("PRAGMA temp_store").fetchone()[0] == 0


def test_the_cli_says_when_it_updates_an_existing_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from freehold.cli import cli

    home = tmp_path / "home"
    _archive_before_m004(home, monkeypatch)
    runner = CliRunner()
    first = runner.invoke(cli, ["stats", "--json"], env={"FREEHOLD_HOME": str(home)})
    assert first.exit_code == 0, first.output
    assert "Updating the archive" in first.stderr
    assert orjson.loads(first.stdout)["conversations"] == 3
    again = runner.invoke(cli, ["stats", "--json"], env={"FREEHOLD_HOME": str(home)})
    assert "Updating" not in again.stderr
    fresh = runner.invoke(cli, ["stats"], env={"FREEHOLD_HOME": str(tmp_path / "fresh")})
    assert fresh.exit_code == 0 and "Updating" not in fresh.stderr


DIGEST_PINNED = "7194cd0eefa5fe428626b3c6b4cc7035621a8ad7b21bd0b2d5cdbed85c60f4f0"


def _digest_sample() -> Conversation:
    answer = msg("a", "u", "assistant", "ünïcode ✓ 🙂", model="gpt-4o", created_at=2.5)
    answer.parts = [{"type": "text", "text": answer.text}, {"type": "code", "text": "x = 1"}]
    answer.meta = {"finish_details": {"type": "stop"}, "big": 10**30}  # past orjson's ints
    answer.attachments = [AttachmentRef("file-service://file-A", "a.png", sha256="ab" * 32)]
    conv = conversation(
        "d", [msg("u", None, "user", "hi", created_at=1.0), answer], project="g-1", starred=True
    )
    conv.context = [ContextRecord("memory", "likes tea", {"tool": "bio"}, 3.0, "a")]
    return conv


def test_digest_format_is_stable() -> None:
    """Stored digests decide `unchanged` at every re-import: computing them differently would
    report every conversation of every existing archive updated. Pinned from the code that
    wrote the first archives (``dumps(...).encode()`` per row, before the bytes shortcut)."""
    from freehold.archive import prepare

    assert prepare(_digest_sample()).digest == DIGEST_PINNED
