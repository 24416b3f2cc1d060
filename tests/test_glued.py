"""Words written against letters of scripts without spaces (iPhoneを, 2024年, 我用Python编程):
found by an ordinary search, through the archive's second index (``messages_glued_fts``), on
real archives made by real imports of small exports built here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from tests.builders import chatgpt_chats, found_messages, ingest

START = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
CHATS = {  # id: (title, [user, assistant, …])
    "ja": ("買い物", ["新しいiPhoneを買った", "GPT-4oを使って比べました。"]),
    "date": ("日付", ["2024年3月に東京へ行く", "いいですね。invoicesを送ります"]),
    "zh": ("编程", ["我用Python编程", "Python编程很有趣"]),
    "th": ("ภาษา", ["ฉันใช้Linuxทุกวัน", "ดีมาก"]),
    "apart": ("離れた", ["iPhoneを買った。2024年です", "「Android」も好き"]),
    "en": ("Phones", ["Which phone should I buy in 2023?", "The iPhone or a Pixel phone."]),
}


def _import(folder: Path, chats: dict[str, tuple[str, list[str]]], home: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open_archive(home) as archive:
        assert ingest(archive, chatgpt_chats(folder / "export.zip", chats, START)).ok


@pytest.fixture(scope="module")
def glued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("glued")
    _import(folder, CHATS, folder / "home")
    return folder / "home"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("iPhone", {"ja-0", "apart-0", "en-1"}),
        ("iphone", {"ja-0", "apart-0", "en-1"}),
        ("2024", {"date-0", "apart-0"}),
        ("3", {"date-0"}),
        ("Python", {"zh-0", "zh-1"}),
        ("Linux", {"th-0"}),
        ("invoice", {"date-1"}),  # its other forms, as in the index of the text
        ("GPT-4o", {"ja-1"}),  # punctuation inside the glued word: a phrase, found
        ("4o", {"ja-1"}),
        ("iPh*", {"ja-0", "apart-0", "en-1"}),
        ("phone", {"en-0", "en-1"}),  # never a part of a word: iPhoneを is not phone
        ("pho*", {"en-0", "en-1"}),
        ("Pyth", set()),
        ("Android", {"apart-1"}),  # written apart (「」): the first index finds it
        ('"iPhone 2024"', set()),  # two glued words of one message are no phrase
        ('"Python"', {"zh-0", "zh-1"}),
        ("iPhone 2024", {"apart-0"}),  # both, each glued
        ("iPhone buy", set()),
        ("phone buy", {"en-0"}),
        ("Python OR Linux", {"zh-0", "zh-1", "th-0"}),
        ("Python OR Linux 编程", {"zh-0", "zh-1"}),  # (Python or Linux) and 编程
        ("iPhone 東京", set()),
        ("2024 東京", {"date-0"}),  # a glued word and a word looked for as written
        ("iPhone OR 東京", {"ja-0", "apart-0", "en-1", "date-0"}),
        ("NOT", set()),  # a literal word, as ever
    ],
)
def test_a_word_written_against_such_letters_is_found(
    glued: Path, query: str, found: set[str]
) -> None:
    with open_archive(glued) as archive:
        assert found_messages(archive, query) == found


def test_the_filters_and_export_selection_take_glued_words(glued: Path) -> None:
    with open_archive(glued) as archive:
        assert found_messages(archive, "Python", role="assistant") == {"zh-1"}
        assert found_messages(archive, "iPhone", role="user") == {"ja-0", "apart-0"}
        assert found_messages(archive, "iPhone", source="claude") == set()
        chosen = [c.source_id for c in archive.iter_conversations(query="iPhone 2024")]
        assert chosen == ["apart"]
        assert {c.source_id for c in archive.iter_conversations(query="Python")} == {"zh"}
        page = archive.search_page("iPhone")
        assert page.total == 3 and dict(page.facets["role"]) == {"user": 2, "assistant": 1}


def test_a_glued_word_is_marked_in_its_snippet(glued: Path) -> None:
    with open_archive(glued) as archive:
        by_text = {h.snippet: h for h in archive.search("iPhone")}
        hit = by_text["新しいiPhoneを買った"]
        assert [hit.snippet[a:b] for a, b in hit.highlights] == ["iPhone"]
        english = by_text["The iPhone or a Pixel phone."]  # FTS5's own snippet, as before
        assert english.highlights == [(4, 10)]
        for hit in archive.search("iPhone OR 東京"):  # a test that looks in both indexes
            assert {hit.snippet[a:b] for a, b in hit.highlights} & {"iPhone", "東京"}, hit.snippet
        for both in archive.search("python 编程"):  # a glued word and one as written
            assert [both.snippet[a:b] for a, b in both.highlights] == ["Python编程"]  # touching


def test_the_cli_finds_a_word_written_against_japanese(glued: Path) -> None:
    result = CliRunner().invoke(
        cli, ["search", "iPhone", "--json"], env={"FREEHOLD_HOME": str(glued)}
    )
    assert result.exit_code == 0, result.output
    found = {
        (h["snippet"], tuple(map(tuple, h["highlights"]))) for h in orjson.loads(result.stdout)
    }
    assert ("新しいiPhoneを買った", ((3, 9),)) in found
    assert len(found) == 3


def _glued_rows(home: Path) -> dict[str, str]:
    with closing(sqlite3.connect(home / "archive.sqlite")) as db:
        rows = db.execute(
            "SELECT m.source_message_id, g.text FROM messages_glued_fts g "
            "JOIN messages m ON m.id = g.rowid"
        )
        return dict(rows.fetchall())


def _checked(home: Path) -> None:
    with closing(sqlite3.connect(home / "archive.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for table in ("messages_fts", "messages_glued_fts"):
            db.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
        stale = (
            "SELECT count(*) FROM messages_glued_fts WHERE rowid NOT IN (SELECT id FROM messages)"
        )
        assert db.execute(stale).fetchone() == (0,)


def test_only_messages_with_glued_words_have_a_row(glued: Path) -> None:
    rows = _glued_rows(glued)
    assert rows["ja-0"] == "iPhone" and rows["zh-1"] == "Python"
    assert rows["date-0"] == "2024 \U0010fffd 3"
    assert not {"en-0", "en-1", "apart-1"} & set(rows)
    _checked(glued)


def test_a_reimport_with_changed_text_leaves_no_stale_words(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _import(tmp_path / "one", CHATS, home)
    _import(tmp_path / "one", CHATS, home)  # the same export again: nothing changes
    changed = {**CHATS, "ja": ("買い物", ["新しいPixelを買った", "GPT-4oを使って比べました。"])}
    _import(tmp_path / "two", changed, home)
    with open_archive(home) as archive:
        # the earlier text is kept as a revision beside the message, found there alone
        assert found_messages(archive, "iPhone") == {"apart-0", "en-1", "ja-0#rev-1"}
        assert found_messages(archive, "Pixel") == {"ja-0", "en-1"}
    assert _glued_rows(home)["ja-0"] == "Pixel"
    assert _glued_rows(home)["ja-0#rev-1"] == "iPhone"
    _checked(home)


def test_deleted_messages_take_their_glued_words_with_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _import(tmp_path, CHATS, home)
    with closing(sqlite3.connect(home / "archive.sqlite", isolation_level=None)) as db:
        db.execute("DELETE FROM messages WHERE source_message_id LIKE 'zh-%'")  # by hand
        db.execute("UPDATE messages SET text = 'no longer' WHERE source_message_id = 'ja-0'")
    assert not {"zh-0", "zh-1", "ja-0"} & set(_glued_rows(home))
    with open_archive(home) as archive:
        assert found_messages(archive, "Python") == set()
        assert found_messages(archive, "iPhone") == {"apart-0", "en-1"}
    _checked(home)


def test_an_archive_from_before_the_glued_index_gets_it_filled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from freehold import migrations

    home = tmp_path / "home"
    _import(tmp_path, CHATS, home)
    with closing(sqlite3.connect(home / "archive.sqlite", isolation_level=None)) as db:
        # as it was before migration m012: no index of glued words, no triggers for it
        db.execute("DROP TABLE messages_glued_fts")
        db.execute("DROP TRIGGER messages_glued_ad")
        db.execute("DROP TRIGGER messages_glued_au")
        db.execute("DELETE FROM _freehold_migrations WHERE name = 'm012_glued_words'")
    monkeypatch.setattr(migrations, "_BACKFILL", 3)  # several batches
    said: list[str] = []
    with open_archive(home, notice=said.append) as archive:
        assert found_messages(archive, "Python") == {"zh-0", "zh-1"}
        assert found_messages(archive, "2024") == {"date-0", "apart-0"}
    assert said == []  # quick: not announced
    assert len(_glued_rows(home)) == 8
    _checked(home)


def test_a_turn_written_here_is_found_by_its_glued_words(tmp_path: Path) -> None:
    from freehold.models import Message

    home = tmp_path / "home"
    _import(tmp_path, CHATS, home)
    with open_archive(home) as archive:
        cid = archive.new_conversation("ローカル")
        text = "Rustで書き直した"
        (turn,) = archive.add_turn(cid, None, [Message("", None, "user", "text", [], text)])
        assert found_messages(archive, "Rust") == {turn.source_id}
    _checked(home)
