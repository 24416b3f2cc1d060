"""The SQLite archive: migrations, search, resolve, stats, round trips — on real SQLite files."""

from __future__ import annotations

import hashlib
import io
import os
import re
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freehold.archive import Archive, BlobsPlaced, conversation_id, open_archive, write_blob
from freehold.errors import ArchiveError, FreeholdError, NotFoundError, StorageError
from freehold.migrations import MIGRATIONS, migrate
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message
from freehold.tree import branch_paths, build_tree
from tests.builders import chatgpt_chats, ingest, steps_before
from tests.providers.servers import WireServer

FTS_WORDS = [
    '"',
    "*",
    "(",
    ")",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(",
    ":",
    "^",
    "-",
    "+",
    "\x00",
    "text:",
    "invoice",
    "in*",
    '"in',
    "{text}",
    ",",
    "'",
    "rank",
    "\\",
    "\u00e9",
    "1",
]
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


def test_an_archive_from_before_m009_writes_bigger_search_segments(archive: Archive) -> None:
    def setting() -> object:
        row = archive.db.execute("SELECT v FROM messages_fts_config WHERE k = 'hashsize'")
        return (row.fetchone() or (None,))[0]

    assert setting() == 8 << 20
    archive.db.execute("DELETE FROM messages_fts_config WHERE k = 'hashsize'")
    archive.db.execute("DELETE FROM _freehold_migrations WHERE name LIKE 'm009%'")
    assert migrate(archive.db) == ["m009_fts_writes_bigger_segments"]
    assert setting() == 8 << 20
    archive.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


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
        ({"model": "gpt-3*"}, {"c-travel"}),  # a prefix, with its "*"
        ({"model": "gpt-3"}, set()),  # else the exact name
        ({"model": "gpt-3.5"}, {"c-travel"}),
        ({"model": "claude*"}, {"k-1"}),
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


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ('"unclosed', set()),
        ("invoice AND", {"c-travel"}),  # AND is a word: "the café and an invoice-free…"
        ("NEAR(", set()),
        ("(", None),
        ("invoice NOT claude", set()),
        ('"unknown special query"', set()),
        ("messages_fts:invoice", set()),
        ("invoice*", {"c-invoice", "c-travel", "k-1"}),
        ("invoi*", {"c-invoice", "c-travel", "k-1"}),
        ('"invoice number"', {"c-invoice"}),
        ('"number date"', set()),  # both words are there, not in a row
        ("lisbon OR pragmas", {"c-travel", "c-old"}),
        ("lisbon OR pragmas trip", {"c-travel"}),
        ('"invoice date" OR wal', {"c-invoice", "c-old"}),
        ("invoice claude", {"k-1"}),
    ],
)
def test_a_search_is_words_phrases_or_and_prefixes_never_fts5_syntax(
    filled: Archive, query: str, found: set[str] | None
) -> None:
    if found is None:
        with pytest.raises(FreeholdError, match="nothing to search for in '\\(' — give one"):
            filled.search(query)
        return
    hits = filled.search(query)
    assert {filled.get_conversation(hit.conversation_id).source_id for hit in hits} == found


def test_the_same_words_select_conversations_for_an_export(filled: Archive) -> None:
    chosen = {c.source_id for c in filled.iter_conversations(query="lisbon OR pragmas")}
    assert chosen == {"c-travel", "c-old"}
    assert [c.source_id for c in filled.iter_conversations(query="invoice AND")] == ["c-travel"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=60) | st.lists(st.sampled_from(FTS_WORDS), max_size=8).map(" ".join))
def test_no_search_ever_raises_an_sqlite_error(filled: Archive, query: str) -> None:
    for run in (
        lambda: filled.search(query),
        lambda: filled.search_page(query),
        lambda: list(filled.iter_conversations(query=query)),
    ):
        try:
            run()
        except FreeholdError as error:
            assert "search" in str(error) and "fts5" not in str(error)


def test_empty_search_is_refused(filled: Archive) -> None:
    with pytest.raises(FreeholdError, match="empty search"):
        filled.search("   ")


def test_bad_date_filter_is_clear(filled: Archive) -> None:
    with pytest.raises(FreeholdError, match="not a date"):
        filled.search("invoice", since="last tuesday")


def test_plain_words_with_punctuation_are_quoted(archive: Archive) -> None:
    add(archive, chat("p", "2024-01-01", "how do I use c++ templates", "like this"))
    assert len(archive.search("c++ templates")) == 1


# -- search inside text written without spaces (Chinese, Japanese, Korean, Thai) ------------------

FAR = (
    "スカイツリーの近くで"
    + "とても静かな喫茶店を見つけました。" * 12
    + "最後に京都の話をしましょう。"
)
UNSPACED = {  # id: (title, [user, assistant, …])
    "ja": (
        "ラーメン",
        [
            "東京で美味しいラーメン屋を教えてください",
            "東京駅の近くに三軒あります。Python で地図も作れます。",
        ],
    ),
    "zh": ("学习", ["我想学习中文和日本文化", "学习中文需要时间。"]),
    "ko": ("식당", ["서울에서 맛있는 식당을 추천해 주세요", "명동에 좋은 곳이 있어요"]),
    "th": ("ภาษา", ["ฉันอยากเรียนภาษาไทยที่กรุงเทพ", "เริ่มจากตัวอักษรก่อน"]),
    "en": ("Ramen", ["Where to eat ramen in Tokyo?", "Try the noodle shops near the station."]),
    "far": ("長文", ["長い文章", FAR]),
}


@pytest.fixture(scope="module")
def unspaced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with the crafted export above, imported by the real importer."""
    folder = tmp_path_factory.mktemp("unspaced")
    path = chatgpt_chats(folder / "export.zip", UNSPACED, epoch("2025-03-01"))
    with open_archive(folder / "home") as archive:
        assert ingest(archive, path).ok
    return folder / "home"


def _found(archive: Archive, query: str, **filters: str) -> set[str]:
    """``chat-turn`` of each hit (``ja-0``: the Japanese chat's user message)."""
    found = set()
    for hit in archive.search(query, **filters):
        source_id = archive.get_conversation(hit.conversation_id).source_id
        turn = next(
            m
            for m in archive.get_conversation(hit.conversation_id).messages
            if m.id == hit.message_id
        )
        assert turn.source_id and turn.source_id.startswith(source_id)
        found.add(turn.source_id)
    return found


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("東京", {"ja-0", "ja-1"}),
        ("ラーメン", {"ja-0"}),
        ("中文", {"zh-0", "zh-1"}),
        ("서울", {"ko-0"}),  # a Korean word with its particle (서울에서) is one token
        ("ภาษาไทย", {"th-0"}),
        ("京都", {"far-1"}),
        ("大阪", set()),
        ("「東京」", {"ja-0", "ja-1"}),  # punctuation at the ends is dropped, as the index does
        ("東京*", {"ja-0", "ja-1"}),
        ('"美味しいラーメン"', {"ja-0"}),
        ('"ラーメン 美味しい"', set()),  # a phrase is found as written
        ("python 東京", {"ja-1"}),  # one Latin word, one Japanese: both in the same message
        ("東京 PYTHON", {"ja-1"}),
        ("ramen 東京", set()),  # each in a different chat
        ("東京 OR 서울", {"ja-0", "ja-1", "ko-0"}),
        ("noodle OR 学习", {"en-1", "zh-0", "zh-1"}),
        ("tokyo", {"en-0"}),  # Latin words go through the index as before
        ("ramen", {"en-0"}),
        ("100%_東京", set()),  # LIKE's wildcards are literal characters
    ],
)
def test_a_word_inside_text_without_spaces_is_found(
    unspaced: Path, query: str, found: set[str]
) -> None:
    with open_archive(unspaced) as archive:
        assert _found(archive, query) == found


def test_words_without_spaces_take_the_filters(unspaced: Path) -> None:
    with open_archive(unspaced) as archive:
        assert _found(archive, "東京", role="assistant") == {"ja-1"}
        assert _found(archive, "東京", source="claude") == set()
        assert _found(archive, "東京 OR 서울", since="2025-03-01T00:00:30") == {"ja-1", "ko-0"}
        chosen = {c.source_id for c in archive.iter_conversations(query="中文 OR 서울")}
        assert chosen == {"zh", "ko"}
        assert [c.source_id for c in archive.iter_conversations(query="python 東京")] == ["ja"]
        page = archive.search_page("東京")
        assert page.total == 2 and dict(page.facets["role"]) == {"user": 1, "assistant": 1}


def test_words_without_spaces_are_marked_in_their_snippets(unspaced: Path) -> None:
    with open_archive(unspaced) as archive:
        for query, words in [("東京", {"東京"}), ("python 東京", {"Python", "東京"})]:
            for hit in archive.search(query):
                assert {hit.snippet[a:b] for a, b in hit.highlights} == words
        (far,) = archive.search("京都")  # near the end of a long message: the window moves there
        assert far.snippet.startswith("…") and far.snippet.endswith("話をしましょう。")
        assert [far.snippet[a:b] for a, b in far.highlights] == ["京都"]
        assert len(far.snippet) <= 101
        (near,) = archive.search("スカイツリー")
        assert near.snippet.startswith("スカイツリーの近くで") and near.snippet.endswith("…")
        assert near.highlights == [(0, 6)]


def test_latin_searches_keep_fts5_snippets(unspaced: Path) -> None:
    with open_archive(unspaced) as archive:
        (hit,) = archive.search("noodle")
        expected = archive.db.execute(
            "SELECT snippet(messages_fts, 0, '[', ']', '…', 16) FROM messages_fts "
            "WHERE messages_fts MATCH 'noodle'"
        ).fetchone()[0]
        assert expected == "Try the [noodle] shops near the station."
        assert (hit.snippet, hit.highlights) == (
            "Try the noodle shops near the station.",
            [(8, 14)],
        )


def test_the_cli_finds_a_word_inside_japanese_text(unspaced: Path) -> None:
    found = _cli(unspaced, "search", "ラーメン")
    assert [(h["snippet"], h["highlights"]) for h in found] == [  # type: ignore[attr-defined]
        ("東京で美味しいラーメン屋を教えてください", [[7, 11]])
    ]


# -- resolve ---------------------------------------------------------------------------------------


def test_resolve_by_id_source_id_and_prefix(filled: Archive) -> None:
    cid = conversation_id("chatgpt", "c-travel")
    assert filled.resolve(cid) == cid
    assert filled.resolve("c-travel") == cid
    assert filled.resolve(cid[:8]) == cid
    assert filled.resolve("c-tr") == cid
    assert filled.resolve("  c-travel ") == cid


def test_resolve_ambiguous_and_unknown(filled: Archive) -> None:
    with pytest.raises(FreeholdError, match="matches 3 conversations: c") as ambiguous:  # named
        filled.resolve("c-")
    assert not isinstance(ambiguous.value, NotFoundError)  # a 400 in the web app, not a 404
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


def test_a_salvaged_copy_never_replaces_a_stored_conversation(archive: Archive) -> None:
    """A copy whose messages could not be read (``salvaged``) keeps its raw JSON as a version
    and changes nothing else: probe 2026-12-07, defect 1 (the archive's side)."""
    add(archive, chat("g", "2024-01-01", "q", "a", title="Kept title"))
    cid = archive.resolve("g")
    before = archive.db.execute("SELECT * FROM conversations").fetchall()
    rows = archive.db.execute("SELECT * FROM messages ORDER BY id").fetchall()
    broken = Conversation("chatgpt", "g", None, [], b'{"id": "g", "mapping": 5}', salvaged=True)
    source = archive.begin_source("chatgpt", "test.json", None, None, "test/1")
    with archive.transaction():
        result = archive.add_conversation(broken, source)
    assert result.status == "unchanged" and result.messages_new == 0
    assert result.notes[0].startswith("its messages could not be read: the archive's copy")
    (after,) = archive.db.execute("SELECT * FROM conversations").fetchall()
    columns = [d[1] for d in archive.db.execute("PRAGMA table_info(conversations)")]
    changed = {c for c, old, new in zip(columns, before[0], after, strict=True) if old != new}
    assert changed - {"last_seen_at"} == {"last_seen_source"}  # seen in this import
    assert archive.db.execute("SELECT * FROM messages ORDER BY id").fetchall() == rows
    assert archive.raw_versions(cid)[-1] == b'{"id": "g", "mapping": 5}'


def test_a_readable_copy_replaces_a_salvaged_one(archive: Archive) -> None:
    salvaged = Conversation("chatgpt", "g", "Title", [], b"{}", updated_at=9e9, salvaged=True)
    assert add(archive, salvaged) == ["new"]
    assert add(archive, chat("g", "2024-01-01", "q", "a", title="Read")) == ["updated"]
    got = archive.get_conversation("g")
    assert got.title == "Read" and got.current_leaf == "a" and len(got.messages) == 3


def test_new_conversations_sharing_a_file_in_one_batch_store_it_once(archive: Archive) -> None:
    """New conversations wait and are written together at the commit: each still counts
    the files it brought first and its links found or missing, as if written one by one."""
    sha = hashlib.sha256(b"png").hexdigest()

    def with_files(sid: str, *refs: AttachmentRef) -> Conversation:
        conv = chat(sid, "2024-01-01", "a photo", "nice")
        conv.messages[0].attachments.extend(refs)
        return conv

    def ref(pointer: str, known: bool = True) -> AttachmentRef:
        return AttachmentRef(pointer, "a.png", sha256=sha if known else None, size=3)

    source = archive.begin_source("chatgpt", "test.json", None, None, "test/1")
    with archive.transaction():
        first = archive.add_conversation(with_files("f1", ref("p1"), ref("gone", False)), source)
        second = archive.add_conversation(with_files("f2", ref("p2")), source)
    with archive.transaction():
        third = archive.add_conversation(with_files("f3", ref("p3")), source)
    got = [
        (r.files_new, r.attachments_found, r.attachments_missing) for r in (first, second, third)
    ]
    assert got == [(1, 1, 1), (0, 1, 0), (0, 1, 0)]
    assert archive.db.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1
    assert archive.db.execute("SELECT count(*) FROM message_attachments").fetchone()[0] == 4


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


def test_an_import_looks_up_the_blobs_it_placed_in_new_folders_in_memory(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BlobsPlaced``: in a sub-folder made after it first looked, a blob is there exactly
    when this writer placed it (no ``stat``); where the sub-folder was there before, the file
    system is asked, and a file placed there by an earlier import is not written again."""
    old = archive.write_blob(io.BytesIO(PNG))[0]  # an earlier import's file
    old_inode = archive.blob_path(old).stat().st_ino
    placed = BlobsPlaced()
    asked: list[str] = []
    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: asked.append(os.fspath(p)) or exists(p))
    assert write_blob(archive.blobs, io.BytesIO(PNG), placed)[0] == old
    assert asked == [os.fspath(archive.blob_path(old))]  # an old sub-folder: asked
    assert archive.blob_path(old).stat().st_ino == old_inode  # and not written again
    fresh = [bytes([n]) * 50 for n in range(40)]
    fresh = [d for d in fresh if hashlib.sha256(d).hexdigest()[:2] != old[:2]]
    asked.clear()
    for data in fresh * 2:  # each twice: the second time found in memory
        sha = write_blob(archive.blobs, io.BytesIO(data), placed)[0]
        assert archive.blob_path(sha).read_bytes() == data
        assert placed.holds(os.fspath(archive.blob_path(sha).parent), sha) is True
    assert asked == []
    assert len([p for p in archive.blobs.rglob("*") if p.is_file()]) == len(fresh) + 1
    assert list((archive.blobs / "tmp").iterdir()) == []
    # The same writer in another folder (the vault) knows nothing placed there yet.
    sha = write_blob(archive.vault, io.BytesIO(fresh[0]), placed)[0]
    assert (archive.vault / sha[:2] / sha).read_bytes() == fresh[0]


def test_a_blob_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path) -> None:
    """A full disk (a file size limit stands in for it) while a small or a big blob is
    written: the error, and no partial file in ``blobs/tmp`` or under its hash."""
    script = (
        "import io, os, resource, signal, sys\n"
        "from pathlib import Path\n"
        "from freehold.archive import write_blob\n"
        "from freehold.errors import StorageError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
        "for size in (10_000, 3 << 20):\n"
        "    try:\n"
        "        write_blob(Path(sys.argv[1]), io.BytesIO(os.urandom(size)))\n"
        "    except StorageError as error:  # the archive's disk, told in one line\n"
        "        print(size, 'File too large' in str(error))\n"
    )
    blobs = tmp_path / "blobs"
    done = subprocess.run(
        [sys.executable, "-c", script, str(blobs)], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["10000 True", f"{3 << 20} True"]
    assert [p for p in blobs.rglob("*") if p.is_file()] == []


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
        by_model = [c.source_id for c in archive.iter_conversations(model="o3-mini")]
        by_prefix = [c.source_id for c in archive.iter_conversations(model="o3*")]
        not_exact = [c.source_id for c in archive.iter_conversations(model="o3")]
        both = [c.source_id for c in archive.iter_conversations(model="o3*", query="bread")]
        assert (by_query, by_model, by_prefix, not_exact, both) == (
            ["bread"],
            ["k8s"],
            ["k8s"],
            [],
            [],
        )
        with pytest.raises(FreeholdError, match="nothing to search for"):
            archive.iter_conversations(query='"(')
    out = tmp_path / "never-made"
    result = CliRunner().invoke(
        cli, ["export", "--format", "csv", "--out", str(out), "--query", '"(']
    )
    assert result.exit_code == 1 and "nothing to search for" in result.output
    assert not out.exists()


def _fts_consistent(archive: Archive) -> None:
    """FTS5's own check of the index against the messages' text (raises if they differ)."""
    archive.db.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def _found_in(archive: Archive, word: str) -> list[str]:
    """The source ids of the messages a search for ``word`` finds."""
    sources = "SELECT source_message_id FROM messages WHERE id = ?"
    hits = archive.search(word)
    return [archive.db.execute(sources, (h.message_id,)).fetchone()[0] for h in hits]


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
    assert _found_in(archive, "hands") == ["a#rev-1"]  # the earlier words, kept as a revision


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
        patch.setattr(migrations, "MIGRATIONS", steps_before(3))
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
        assert _found_in(archive, "hands") == ["a#rev-1"] and len(archive.search("beavers")) == 1


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
    with pytest.raises(StorageError, match="the archive is busy"):
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
    fresh = runner.invoke(cli, ["import", str(SAMPLE)], env={"FREEHOLD_HOME": str(tmp_path / "f")})
    assert fresh.exit_code == 0 and "Updating" not in fresh.stderr


# -- attachments that arrive with a later import (issue 10, item 1) --------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def _cli(home: Path, *args: str) -> dict[str, object]:
    from click.testing import CliRunner

    from freehold.cli import cli

    result = CliRunner().invoke(cli, [*args, "--json"], env={"FREEHOLD_HOME": str(home)})
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = orjson.loads(result.stdout)
    return loaded


def _links(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "archive.sqlite") as db:
        return db.execute(
            "SELECT m.source_message_id, ma.pointer, ma.sha256 FROM message_attachments ma "
            "JOIN messages m ON m.id = ma.message_id ORDER BY 1, 2"
        ).fetchall()


@pytest.fixture(scope="module")
def sample_parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import zipfile

    folder = tmp_path_factory.mktemp("sample") / "unpacked"
    with zipfile.ZipFile(SAMPLE) as opened:
        opened.extractall(folder)
    return {"zip": SAMPLE, "folder": folder, "json": folder / "conversations.json"}


@pytest.mark.parametrize(
    ("first", "then"), [("json", "zip"), ("json", "folder"), ("zip", "json"), ("zip", "zip")]
)
def test_attachments_brought_by_a_later_import_are_linked(
    tmp_path: Path, sample_parts: dict[str, Path], first: str, then: str
) -> None:
    whole = tmp_path / "whole"
    alone = _cli(whole, "import", str(SAMPLE))
    expected = _cli(whole, "stats")
    home = tmp_path / "home"
    _cli(home, "import", str(sample_parts[first]))
    report = _cli(home, "import", str(sample_parts[then]))
    stats = _cli(home, "stats")
    assert _links(home) == _links(whole)
    for key in ("attachments", "attachment_bytes", "attachments_missing"):
        assert stats[key] == expected[key], key
    found = alone["attachments"]  # type: ignore[index]
    # the report counts references the way stats does: found + missing = every link
    assert report["attachments"]["found"] == found["found"]  # type: ignore[index]
    assert report["attachments"]["missing"] == stats["attachments_missing"]  # type: ignore[index]
    new_files = 0 if first == "zip" else stats["attachments"]
    assert report["attachments"]["stored"] == new_files  # type: ignore[index]
    with sqlite3.connect(home / "archive.sqlite") as db:
        cid, pointer = db.execute(
            "SELECT m.conversation_id, ma.pointer FROM message_attachments ma "
            "JOIN messages m ON m.id = ma.message_id WHERE ma.sha256 IS NOT NULL LIMIT 1"
        ).fetchone()
    shown = _cli(home, "show", cid)
    refs = [a for m in shown["messages"] for a in m["attachments"]]  # type: ignore[attr-defined]
    assert any(a["pointer"] == pointer and a["sha256"] for a in refs)


# -- only an import creates an archive (issue 10, item 11) -----------------------------------------


def _run(home: Path, *args: str) -> object:
    from click.testing import CliRunner

    from freehold.cli import cli

    return CliRunner().invoke(cli, list(args), env={"FREEHOLD_HOME": str(home)})


@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["stats", "--json"],
        ["search", "invoice"],
        ["show", "c123"],
        ["export", "--format", "json", "--out", "{tmp}/out"],
    ],
    ids=lambda command: " ".join(command),
)
def test_reading_commands_on_a_missing_archive_say_so_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    home = tmp_path / "nowhere" / "home"
    result = _run(home, *(part.format(tmp=tmp_path) for part in command))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    said = " ".join(result.stderr.split())  # type: ignore[attr-defined]
    assert said == (
        f"Error: no archive at {home / 'archive.sqlite'} — run `freehold import <your export>` "
        "first, or set FREEHOLD_HOME to the folder that holds archive.sqlite"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["stats"], ["search", "invoice"]], ids=" ".join)
def test_reading_commands_on_an_empty_archive_file_say_so_and_write_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    database = tmp_path / "archive.sqlite"
    database.write_bytes(b"")
    result = _run(tmp_path, *command)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    said = " ".join(result.stderr.split())  # type: ignore[attr-defined]
    assert said == (
        f"Error: {database}: an empty file (0 bytes), not an archive — run `freehold import "
        "<your export>` to make one there, or set FREEHOLD_HOME to the folder that holds your "
        "archive.sqlite"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["archive.sqlite"]
    assert database.stat().st_size == 0


def test_open_archive_can_refuse_to_create(tmp_path: Path) -> None:
    from freehold.errors import NoArchiveError

    with pytest.raises(NoArchiveError, match="no archive at"):
        open_archive(tmp_path / "home", create=False)
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("bad", ["missing.zip", "random.bin", "empty.json"])
def test_a_failed_first_import_leaves_nothing_behind(tmp_path: Path, bad: str) -> None:
    (tmp_path / "random.bin").write_bytes(os.urandom(4000))
    (tmp_path / "empty.json").write_bytes(b"")
    home = tmp_path / "made" / "for" / "it"
    result = _run(home, "import", str(tmp_path / bad))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert not (tmp_path / "made").exists()
    user_made = tmp_path / "mine"
    user_made.mkdir()
    assert _run(user_made, "import", str(tmp_path / bad)).exit_code == 1  # type: ignore[attr-defined]
    assert list(user_made.iterdir()) == []


def test_a_failed_import_into_an_archive_leaves_it_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "home"
    both = _run(home, "import", str(SAMPLE), str(tmp_path / "missing.zip"))
    assert both.exit_code == 1  # type: ignore[attr-defined]
    before = _cli(home, "stats")
    assert before["conversations"] == 23
    assert _run(home, "import", str(tmp_path / "missing.zip")).exit_code == 1  # type: ignore[attr-defined]
    assert _cli(home, "stats") == before


def test_stats_says_where_the_archive_is(tmp_path: Path) -> None:
    home = tmp_path / "a-home-with-a-rather-long-name" / "freehold-data"
    _cli(home, "import", str(SAMPLE))
    assert _cli(home, "stats")["archive"] == str(home / "archive.sqlite")
    table = _run(home, "stats")
    assert table.exit_code == 0  # type: ignore[attr-defined]
    title = table.stdout.split("┌")[0]  # type: ignore[attr-defined]
    assert "".join(title.split()) == f"freeholdarchive{home / 'archive.sqlite'}"


# -- the data folder is private (issue 10, item 6) -------------------------------------------------


def _modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): path.stat().st_mode & 0o777
        for path in [root, *root.rglob("*")]
    }


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (022): without freehold's rule, files would be 0644, folders 0755."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_everything_freehold_makes_in_the_data_folder_is_private(
    tmp_path: Path, loose_umask: None
) -> None:
    from tests.builders import ingest

    home = tmp_path / "made" / "home"
    with open_archive(home) as archive:
        ingest(archive, SAMPLE)
        data = bytes(range(256)) * 9000  # a large blob: through blobs/tmp
        archive.write_blob(io.BytesIO(data))
        modes = _modes(home)  # while open: -wal and -shm are there too
    assert {"archive.sqlite", "archive.sqlite-wal", "archive.sqlite-shm", "blobs/tmp"} <= set(modes)
    assert len([name for name in modes if name.startswith("blobs/")]) > 10
    for name, mode in modes.items():
        expected = 0o700 if (home / name).is_dir() else 0o600
        assert mode == expected, f"{name}: {oct(mode)}"
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o700


def test_a_folder_the_user_made_keeps_its_mode_and_our_files_are_private(
    tmp_path: Path, loose_umask: None
) -> None:
    home = tmp_path / "shared-with-my-group"
    home.mkdir(mode=0o750)
    with open_archive(home) as archive:
        archive.write_blob(io.BytesIO(PNG))
        modes = _modes(home)
    assert modes.pop(".") == 0o750
    assert modes and all(
        mode == (0o700 if (home / name).is_dir() else 0o600) for name, mode in modes.items()
    ), modes


def test_the_web_apps_upload_folders_are_private(tmp_path: Path, loose_umask: None) -> None:
    import asyncio
    from collections.abc import AsyncIterator

    from freehold.web.imports import Jobs

    async def body() -> AsyncIterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="export.zip"\r\n\r\n'
            b"PK bytes\r\n--b--\r\n"
        )

    jobs = Jobs(tmp_path / "home")
    seen: list[dict[str, int]] = []
    jobs.launch = lambda job, folder: seen.append(_modes(folder.parent))  # type: ignore[method-assign]
    job = asyncio.run(jobs.receive("multipart/form-data; boundary=b", body()))
    ((_, folder_mode), (name, file_mode)) = sorted(seen[0].items())[1:]
    assert (folder_mode, file_mode) == (0o700, 0o600) and name == f"{job.id}/export.zip"
    assert seen[0]["."] == 0o700  # uploads/


def _private_all(root: Path) -> None:
    for name, mode in _modes(root).items():
        assert mode == (0o700 if (root / name).is_dir() else 0o600), f"{root / name}: {oct(mode)}"


def test_what_the_backup_commands_make_is_private(tmp_path: Path, loose_umask: None) -> None:
    from click.testing import CliRunner

    from freehold.backup import snapshot
    from freehold.cli import cli

    home, kit = tmp_path / "made" / "home", tmp_path / "kit.txt"
    env = {"FREEHOLD_HOME": str(home), "FREEHOLD_PASSPHRASE": "correct horse battery"}
    commands = [
        ["import", str(SAMPLE)],
        ["backup", "init", "--kit", str(kit), "--yes"],
        ["backup", "add", "usb", str(tmp_path / "usb")],
        ["backup", "run"],  # takes backup/lock, as prune does
        ["backup", "drill"],
        ["backup", "restore", "latest", "--to", str(tmp_path / "restored")],
    ]
    for command in commands:
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 0, (command, result.output)
    assert {"backup/lock", "backup/state.sqlite", "backup/identity.age", "config.toml"} <= set(
        _modes(home)
    )
    _private_all(home)
    _private_all(tmp_path / "restored")
    assert kit.stat().st_mode & 0o777 == 0o600
    scratch = tmp_path / "scratch"  # a snapshot's plaintext copy, while a run sends it
    scratch.mkdir(mode=0o700)
    snapshot.consistent_copy(home, scratch / "archive.sqlite")
    snapshot.write_digests(scratch / "archive.sqlite", scratch / "digests")
    _private_all(scratch)


def test_a_rehearsal_report_is_private_in_the_data_folder_and_out_of_it(
    tmp_path: Path, loose_umask: None, wire: WireServer
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "reports" / "run.html"
    _run(home, "import", str(SAMPLE))
    _run(home, "providers", "add", "w", "--kind", "openai", "--base-url", wire.base_url("openai"))
    for more in ([], ["--html", str(elsewhere)]):
        result = _run(home, "rehearse", "--candidates", "w:m", "--sample", "2", "--yes", *more)
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "rehearsals/run-1.html" in _modes(home)
    _private_all(home)
    assert elsewhere.stat().st_mode & 0o777 == 0o600  # past prompts: private wherever it goes


# -- one definition of each count (issue 10, item 15) ----------------------------------------------


def test_an_unchanged_reimport_reports_nothing_new_and_no_repeated_notes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _cli(home, "import", str(SAMPLE))
    notes = [p for p in first["problems"] if not p["lost"]]  # type: ignore[attr-defined]
    assert notes and first["attachments"]["stored"] > 0  # type: ignore[index]
    again = _cli(home, "import", str(SAMPLE))
    assert again["conversations"]["unchanged"] == again["conversations"]["read"]  # type: ignore[index]
    assert again["attachments"]["stored"] == 0 and again["problems"] == []  # type: ignore[index]
    assert again["attachments"]["found"] == first["attachments"]["found"]  # type: ignore[index]
    table = _run(home, "import", str(SAMPLE))
    row = next(line for line in table.stdout.splitlines() if "attachment files" in line)  # type: ignore[attr-defined]
    assert row.split("│")[3].strip() == "0"  # the table's "new" column
    assert "note:" not in table.stderr  # type: ignore[attr-defined]


def _index_counts(text: str, pattern: str) -> dict[str, int]:
    return {name: int(count) for name, count in re.findall(pattern, text)}


def test_every_view_counts_messages_and_branches_the_same_way(tmp_path: Path) -> None:
    import csv

    home = tmp_path / "home"
    _cli(home, "import", str(SAMPLE))
    for kind in ("csv", "markdown", "html"):
        assert _run(home, "export", "--format", kind, "--out", str(tmp_path / kind)).exit_code == 0  # type: ignore[attr-defined]
    with open_archive(home) as archive:
        stored = {
            row[0]: (row[1], row[2])
            for row in archive.db.execute(
                "SELECT id, message_count, branch_count FROM conversations"
            )
        }
        listed = {
            r.id: (r.message_count, r.branch_count)
            for r in archive.conversation_rows(limit=99).rows
        }
        loaded = {cid: archive.get_conversation(cid) for cid in stored}
    assert any(branches > 1 for _, branches in stored.values())
    assert listed == stored
    assert {cid: (c.message_count, c.branch_count) for cid, c in loaded.items()} == stored
    assert {cid: len(branch_paths(c.messages)) for cid, c in loaded.items()} == {
        cid: branches for cid, (_, branches) in stored.items()
    }
    with (tmp_path / "csv" / "conversations.csv").open(encoding="utf-8") as handle:
        rows = {
            r["conversation_id"]: (int(r["messages"]), int(r["branches"]))
            for r in csv.DictReader(handle)
        }
    assert rows == stored
    names = {}
    for page in (tmp_path / "markdown").glob("*-c*.md"):
        front = page.read_text(encoding="utf-8").split("---")[1]
        cid = re.search(r'^id: "(c\w+)"$', front, re.M)[1]  # type: ignore[index]
        names[page.name] = cid
        assert int(re.search(r"^branches: (\d+)$", front, re.M)[1]) == stored[cid][1]  # type: ignore[index]
    index = (tmp_path / "markdown" / "index.md").read_text(encoding="utf-8")
    counted = _index_counts(index, r"\]\((?:[^)]*/)?([^)/]+\.md)\) · \w+ · (\d+) messages?")
    assert {names[name]: count for name, count in counted.items()} == {
        cid: messages for cid, (messages, _) in stored.items()
    }
    html_index = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    rows_html = re.findall(r'<a href="([^"]+)">.*?<td>(\d+)</td></tr>', html_index)
    assert len(rows_html) == len(stored)
    for name, count in rows_html:
        page = (tmp_path / "html" / name).read_text(encoding="utf-8")
        prefix = name.rsplit("-", 1)[1].split(".")[0]  # a page is named after its id
        (cid,) = (c for c in stored if c.startswith(prefix))
        assert int(count) == stored[cid][0]
        shown = re.search(r"(\d+) branches", page)
        assert (int(shown[1]) if shown else 1) == stored[cid][1]
    for cid, (_, branches) in stored.items():
        header = _run(home, "show", cid).stdout  # type: ignore[attr-defined]
        said = re.search(r"(\d+) branches", header.split("\n\n")[0])
        assert (int(said[1]) if said else 1) == branches, cid


def test_m005_counts_branches_in_an_older_archive(archive: Archive) -> None:
    three = [
        msg("q", None, "user", "pick one"),
        *(msg(f"a{i}", "q", "assistant", "x") for i in range(3)),
    ]
    above = [msg("u", None, "user", "hi"), msg("a", "u", "assistant", "yo")]
    add(archive, conversation("three", three, leaf="a1"), conversation("above", above, leaf="u"))
    add(archive, chat("plain", "2024-01-01", "q", "a"), conversation("empty", []))
    archive.db.execute("UPDATE conversations SET branch_count = 0")  # as any older archive had it
    archive.db.execute(
        "DELETE FROM _freehold_migrations WHERE name = 'm005_branch_count_is_branches'"
    )
    assert migrate(archive.db) == ["m005_branch_count_is_branches"]
    counts = dict(
        archive.db.execute("SELECT source_conversation_id, branch_count FROM conversations")
    )
    assert counts == {"three": 3, "above": 2, "plain": 1, "empty": 0}
    assert archive.stats()["branched_conversations"] == 2
    assert {r.id for r in archive.conversation_rows(branched=True).rows} == {
        archive.resolve("three"),
        archive.resolve("above"),
    }


# -- searchable in Datasette and sqlite-utils (issue 10, from item 18) -----------------------------


def _detected(path: Path) -> dict[str, str | None]:
    """What sqlite-utils (and Datasette, by the same rule) finds as each table's search index."""
    import sqlite_utils

    db = sqlite_utils.Database(path)
    try:
        return {table: db[table].detect_fts() for table in ("messages", "conversations")}
    finally:
        db.close()


def _archive_before_m006(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freehold import migrations

    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", steps_before(5))
        with open_archive(home) as old:
            add(old, chat("d-1", "2024-05-01", "otters and rivers", "otters hold hands"))
            add(old, chat("d-2", "2024-05-02", "a walrus question", "walruses nap"))
    assert _detected(home / "archive.sqlite") == {"messages": None, "conversations": None}


def test_a_new_archive_is_searchable_in_datasette_and_sqlite_utils(archive: Archive) -> None:
    add(archive, chat("d-1", "2024-05-01", "otters and rivers", "otters hold hands"))
    assert _detected(archive.path) == {
        "messages": "messages_fts",
        "conversations": "conversations_fts",
    }
    blank = sqlite3.connect(":memory:", isolation_level=None)
    migrate(blank)
    sql = blank.execute("SELECT sql FROM sqlite_master WHERE name = 'messages_fts'").fetchone()[0]
    assert 'content="messages"' in sql


@pytest.mark.parametrize("defensive", [False, True], ids=["in-place", "rebuilt"])
def test_m006_makes_an_older_archive_searchable_in_datasette(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, defensive: bool
) -> None:
    import sqlite_utils

    from freehold import migrations

    home = tmp_path / "home"
    _archive_before_m006(home, monkeypatch)
    if defensive:  # SQLite refuses edits of sqlite_master in defensive mode, which Python
        # 3.11 cannot switch on: the probe's answer is simulated (decisions.md: checked for real)
        monkeypatch.setattr(migrations, "_schema_writable", lambda db: False)
    said: list[str] = []
    with open_archive(home, notice=said.append) as archive:
        assert bool(said) is defensive  # only a rebuild is announced
        _fts_consistent(archive)
        archive.db.execute(
            "INSERT INTO conversations_fts(conversations_fts) VALUES ('integrity-check')"
        )
        assert archive.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert {h.conversation_id for h in archive.search("otters")} == {archive.resolve("d-1")}
        add(archive, chat("d-3", "2024-05-03", "beavers build", "dams"))
        assert len(archive.search("beavers")) == 1
        automerge = archive.db.execute(
            "SELECT v FROM messages_fts_config WHERE k = 'automerge'"
        ).fetchone()
        assert automerge == (16,)
    assert _detected(home / "archive.sqlite") == {
        "messages": "messages_fts",
        "conversations": "conversations_fts",
    }
    db = sqlite_utils.Database(home / "archive.sqlite")
    found = [row["text"] for row in db["messages"].search("otters")]
    assert found and all("otters" in text for text in found)
    db.close()


DIGEST_PINNED = "9162797d1255bada4aa57b2432d2bf90325e4029b8dd424cfe91da258064cf4a"


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
    wrote the first archives (``dumps(...).encode()`` per row, before the bytes shortcut),
    since attachments are hashed by pointer alone (issue 10, item 1)."""
    from freehold.archive import prepare

    assert prepare(_digest_sample()).digest == DIGEST_PINNED


def test_full_width_letters_in_a_search_find_the_usual_ones(archive: Archive) -> None:
    """Probe K, minor: ｉＰｈｏｎｅ (full-width Latin, as a Japanese keyboard types it) found no
    iPhone. A word whose NFKC form differs is looked for in both forms: the full-width text
    typed so is found as before."""
    add(
        archive,
        conversation("plain", [msg("p", None, "user", "I bought an iPhone today")]),
        conversation("wide", [msg("w", None, "user", "ｉＰｈｏｎｅ 15 ケース")]),
    )

    def found(query: str) -> set[str]:
        return {hit.conversation_id for hit in archive.search(query)}

    plain, wide = (archive.resolve(sid) for sid in ("plain", "wide"))
    assert found("ｉＰｈｏｎｅ") == {plain, wide}
    assert found("iPhone") == {plain}  # the index keeps text as typed (docs/decisions.md)
    assert found("ｉＰｈｏｎｅ OR android") == {plain, wide}
    assert found("ｂｏｕｇｈｔ ｉＰｈｏｎｅ") == {plain}


def test_full_width_search_syntax_is_syntax(archive: Archive) -> None:
    """R2 #9: the query was folded word by word after it was parsed, so a full-width ＯＲ was
    looked for as a word, ＂…＂ quoted nothing and ＊ made no prefix."""
    add(
        archive,
        conversation("py", [msg("p", None, "user", "python scripts for data")]),
        conversation("rs", [msg("r", None, "user", "rust borrow checker help")]),
    )

    def found(query: str) -> set[str]:
        return {hit.conversation_id for hit in archive.search(query)}

    py, rs = (archive.resolve(sid) for sid in ("py", "rs"))
    assert found("ｐｙｔｈｏｎ ＯＲ ｒｕｓｔ") == found("python OR rust") == {py, rs}
    assert found("ｐｙｔｈ＊") == {py}
    assert found("＂borrow checker＂") == {rs} and not found("＂checker borrow＂")
