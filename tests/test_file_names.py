"""The names of the files a message points at (quarterly-report.pdf, IMG_2024….jpg) are found
by an ordinary search, through the archive's index of file names (``messages_files_fts``), on
real archives made by real imports of small ChatGPT exports built here."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from freehold.models import AttachmentRef
from tests.builders import found_messages, ingest, png, write_zip
from tests.test_archive import add, conversation, msg

START = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
IMAGE = "file-IMG1-IMG_20240312_0930.jpg"  # the zip member: the image's name in the export
UPLOADS = [("file-Q1", "quarterly-report.pdf"), ("file-Q2", "appendix.xlsx")]


def _node(
    mid: str, parent: str, role: str, content: dict[str, Any], t: float, uploads: list[Any]
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if mid == "q-0":
        meta["attachments"] = [{"id": i, "name": n, "mime_type": "x/y"} for i, n in uploads]
    author = {"role": role, "name": None, "metadata": {}}
    message = {"id": mid, "author": author, "create_time": t, "content": content, "metadata": meta}
    return {"id": mid, "message": message, "parent": parent, "children": []}


def _text(text: str) -> dict[str, Any]:
    return {"content_type": "text", "parts": [text]}


def _image(text: str) -> dict[str, Any]:
    pointer = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-IMG1"}
    return {"content_type": "multimodal_text", "parts": [pointer, text]}


# id: (title, [user, assistant] contents)
CHATS = {
    "q": ("Numbers", [_text("Here are the numbers"), _text("Revenue grew by a tenth.")]),
    "img": ("Photo", [_image("What is in this photo?"), _text("A cat on a sofa.")]),
    "txt": ("Otters", [_text("Write a report on otters"), _text("Otters: a short report.")]),
}


def export(path: Path, *, image: bool = True, uploads: list[tuple[str, str]] | None = None) -> Path:
    """A ChatGPT export zip of ``CHATS``, each an hour after the one before; ``image``: with
    the photo's bytes (else conversations.json alone names it, without a name); ``uploads``:
    the files the first message names (``UPLOADS``), updated an hour later when given."""
    conversations = []
    for n, (cid, (title, contents)) in enumerate(CHATS.items()):
        t = START + n * 3600
        mapping = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        parent = "root"
        for i, content in enumerate(contents):
            mid = f"{cid}-{i}"
            role = ("user", "assistant")[i % 2]
            mapping[mid] = _node(mid, parent, role, content, t + 60 * i, uploads or UPLOADS)
            mapping[parent]["children"].append(mid)
            parent = mid
        updated = t + 3000 + (3600 if uploads else 0)
        head = {"id": cid, "title": title, "create_time": t, "update_time": updated}
        conversations.append({**head, "mapping": mapping, "current_node": parent})
    members = {"conversations.json": json.dumps(conversations).encode()}
    if image:
        members[IMAGE] = png()
    return write_zip(path, {**members, "user.json": b'{"id": "user-files"}'})


def _import(path: Path, home: Path) -> None:
    with open_archive(home) as archive:
        assert ingest(archive, path).ok


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("named")
    _import(export(folder / "export.zip"), folder / "home")
    return folder / "home"


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        ("quarterly-report.pdf", {"q-0"}),
        ("quarterly-report", {"q-0"}),
        ("report", {"q-0", "txt-0", "txt-1"}),  # the name, and the text of the other chat
        ("quarterly", {"q-0"}),
        ("quart", {"q-0"}),  # the start of a word of a name, as a file search finds it
        ("QUARTERLY-REPORT.PDF", {"q-0"}),
        ("IMG_2024", {"img-0"}),  # the start of IMG_20240312_0930.jpg
        ("IMG_20240312_0930.jpg", {"img-0"}),
        ("appendix", {"q-0"}),
        ("report numbers", {"q-0"}),  # one word in a name, the other in the text
        ("report OR sofa", {"q-0", "txt-0", "txt-1", "img-1"}),
        ('"pdf appendix"', set()),  # no phrase runs from one name into the next
        ("annual-summary.pdf", set()),
        ("report photo", set()),  # each word in the same message
    ],
)
def test_a_file_name_is_found(named: Path, query: str, messages: set[str]) -> None:
    with open_archive(named) as archive:
        assert found_messages(archive, query) == messages


def test_a_hit_in_a_file_name_says_so_in_its_snippet(named: Path) -> None:
    with open_archive(named) as archive:
        hits = {found_in: hit for hit in archive.search("report") for found_in in [hit.found_in]}
        by_name = hits["file_name"]
        assert by_name.snippet == "appendix.xlsx, quarterly-report.pdf"
        assert [by_name.snippet[a:b] for a, b in by_name.highlights] == ["report"]
        assert by_name.title == "Numbers" and by_name.role == "user"
        assert hits["text"].snippet in ("Write a report on otters", "Otters: a short report.")
        (image,) = archive.search("IMG_2024")
        assert [image.snippet[a:b] for a, b in image.highlights] == ["IMG_20240312"]  # whole words
        assert image.to_json()["found_in"] == "file_name"


def test_the_filters_and_export_selection_apply_to_file_names(named: Path) -> None:
    with open_archive(named) as archive:
        assert found_messages(archive, "quarterly-report.pdf", role="user") == {"q-0"}
        assert found_messages(archive, "quarterly-report.pdf", role="assistant") == set()
        assert found_messages(archive, "quarterly-report.pdf", source="claude") == set()
        assert found_messages(archive, "quarterly-report.pdf", since="2025-03-01") == {"q-0"}
        assert found_messages(archive, "quarterly-report.pdf", until="2025-02-28") == set()
        chosen = {c.source_id for c in archive.iter_conversations(query="IMG_2024")}
        assert chosen == {"img"}
        page = archive.search_page("report", role="user")
        assert page.total == 2 and dict(page.facets["role"]) == {"user": 2}
        assert {hit.found_in for hit in page.hits} == {"text", "file_name"}


def test_the_cli_finds_a_file_by_its_name(named: Path) -> None:
    env = {"FREEHOLD_HOME": str(named)}
    result = CliRunner().invoke(cli, ["search", "quarterly-report.pdf", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (hit,) = orjson.loads(result.stdout)
    assert hit["found_in"] == "file_name" and hit["title"] == "Numbers"
    assert hit["snippet"] == "appendix.xlsx, quarterly-report.pdf"
    shown = CliRunner().invoke(cli, ["search", "quarterly-report.pdf"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "attached file: appendix.xlsx, quarterly-report.pdf" in shown.output
    missing = CliRunner().invoke(cli, ["search", "appendix", "--role", "assistant"], env=env)
    assert "no matches" in missing.output


def test_a_hit_split_between_text_and_names_shows_both(named: Path) -> None:
    """Probe P, item 8: "report numbers" finds q-0 by "report" in a file's name and "numbers"
    in its text, but the snippet was the names alone, the text's word nowhere."""
    env = {"FREEHOLD_HOME": str(named)}
    result = CliRunner().invoke(cli, ["search", "report numbers", "--json"], env=env)
    (hit,) = orjson.loads(result.stdout)
    assert (
        hit["found_in"] == "file_name" and hit["snippet"] == "appendix.xlsx, quarterly-report.pdf"
    )
    assert hit["text_snippet"] == "Here are the numbers"
    assert [hit["text_snippet"][a:b] for a, b in hit["text_highlights"]] == ["numbers"]
    shown = CliRunner().invoke(cli, ["search", "report numbers"], env=env).output
    assert "Here are the numbers\nattached file: appendix.xlsx, quarterly-report.pdf" in shown
    alone = orjson.loads(CliRunner().invoke(cli, ["search", "appendix", "--json"], env=env).stdout)
    assert [(h["text_snippet"], h["text_highlights"]) for h in alone] == [("", [])]


def _rows(home: Path) -> dict[str, str]:
    with closing(sqlite3.connect(home / "archive.sqlite")) as db:
        rows = db.execute(
            "SELECT m.source_message_id, f.text FROM messages_files_fts f "
            "JOIN messages m ON m.id = f.rowid"
        )
        return dict(rows.fetchall())


def _checked(home: Path) -> None:
    with closing(sqlite3.connect(home / "archive.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        db.execute(
            "INSERT INTO messages_files_fts(messages_files_fts, rank) VALUES ('integrity-check', 1)"
        )
        stale = (
            "SELECT count(*) FROM messages_files_fts WHERE rowid NOT IN (SELECT id FROM messages)"
        )
        assert db.execute(stale).fetchone() == (0,)


def test_only_messages_pointing_at_named_files_have_a_row(named: Path) -> None:
    assert _rows(named) == {
        "q-0": "appendix.xlsx \U0010fffd quarterly-report.pdf",
        "img-0": IMAGE,
    }
    _checked(named)


def test_a_file_brought_by_a_later_import_is_found_by_its_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _import(export(tmp_path / "alone.zip", image=False), home)  # no bytes: no name yet
    with open_archive(home) as archive:
        assert found_messages(archive, "IMG_2024") == set()
        assert found_messages(archive, "quarterly-report.pdf") == {"q-0"}
    _import(export(tmp_path / "whole.zip"), home)
    with open_archive(home) as archive:
        assert found_messages(archive, "IMG_2024") == {"img-0"}
    assert _rows(home)["img-0"] == IMAGE
    _checked(home)


def test_a_reimport_that_renames_a_file_leaves_no_stale_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _import(export(tmp_path / "one.zip"), home)
    _import(export(tmp_path / "one.zip"), home)  # the same export again: nothing changes
    renamed = [("file-Q1", "annual-summary.pdf"), ("file-Q2", "appendix.xlsx")]
    _import(export(tmp_path / "two.zip", uploads=renamed), home)
    with open_archive(home) as archive:
        assert found_messages(archive, "quarterly-report.pdf") == set()
        assert found_messages(archive, "annual-summary.pdf") == {"q-0"}
        assert found_messages(archive, "appendix") == {"q-0"}
    assert _rows(home)["q-0"] == "annual-summary.pdf \U0010fffd appendix.xlsx"
    _checked(home)


def test_deleted_links_and_messages_take_their_names_with_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _import(export(tmp_path / "export.zip"), home)
    with closing(sqlite3.connect(home / "archive.sqlite", isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(  # by hand: one file of the first message, then the photo's message
            "DELETE FROM message_attachments WHERE pointer = 'file-service://file-Q1'"
        )
        img = db.execute("SELECT id FROM messages WHERE source_message_id = 'img-0'").fetchone()
        db.execute("DELETE FROM message_attachments WHERE message_id = ?", img)
        db.execute("UPDATE messages SET parent_id = NULL WHERE parent_id = ?", img)
        db.execute("DELETE FROM messages WHERE id = ?", img)
    assert _rows(home) == {"q-0": "appendix.xlsx"}
    with open_archive(home) as archive:
        assert found_messages(archive, "quarterly-report.pdf") == set()
        assert found_messages(archive, "IMG_2024") == set()
        assert found_messages(archive, "appendix") == {"q-0"}
    _checked(home)


def test_an_archive_from_before_the_index_of_file_names_gets_it_filled(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _import(export(tmp_path / "export.zip"), home)
    with closing(sqlite3.connect(home / "archive.sqlite", isolation_level=None)) as db:
        # as it was before migration m013: no index of file names, no triggers for it
        db.execute("DROP TABLE messages_files_fts")
        for trigger in ("messages_files_ad", "message_attachments_files_ad"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP TRIGGER message_attachments_files_au")
        db.execute("DELETE FROM _freehold_migrations WHERE name = 'm013_file_names'")
    said: list[str] = []
    with open_archive(home, notice=said.append) as archive:
        assert found_messages(archive, "quarterly-report.pdf") == {"q-0"}
        assert found_messages(archive, "IMG_2024") == {"img-0"}
    assert said == []  # quick: not announced
    assert len(_rows(home)) == 2
    _checked(home)


def test_a_conversation_twice_in_one_export_keeps_the_later_names(tmp_path: Path) -> None:
    renamed = [("file-Q1", "annual-summary.pdf"), ("file-Q2", "appendix.xlsx")]
    copies = []
    for name, uploads in (("one.zip", None), ("two.zip", renamed)):
        with zipfile.ZipFile(export(tmp_path / name, uploads=uploads)) as opened:
            copies += json.loads(opened.read("conversations.json"))
    both = write_zip(tmp_path / "both.zip", {"conversations.json": json.dumps(copies).encode()})
    home = tmp_path / "home"
    _import(both, home)  # one transaction: the first copy queued, the second an update
    with open_archive(home) as archive:
        assert found_messages(archive, "quarterly-report.pdf") == set()
        assert found_messages(archive, "annual-summary.pdf") == {"q-0"}
    assert _rows(home)["q-0"] == "annual-summary.pdf \U0010fffd appendix.xlsx"
    _checked(home)


def test_a_file_named_again_in_the_same_transaction_keeps_one_row(tmp_path: Path) -> None:
    """The same raw JSON twice in one transaction, its file named only the second time: the
    link's trigger writes the new message's row before the commit does (replaced, not doubled)."""

    def copy(name: str | None) -> Any:
        message = msg("u", None, "user", "see the file")
        message.attachments = [AttachmentRef("file-service://file-R", name=name)]
        return conversation("twice", [message])

    with open_archive(tmp_path / "home") as archive:
        assert add(archive, copy(None), copy("roadmap-2025.key")) == ["new", "unchanged"]
        assert found_messages(archive, "roadmap") == {"u"}
    assert _rows(tmp_path / "home") == {"u": "roadmap-2025.key"}
    _checked(tmp_path / "home")


@pytest.fixture(scope="module")
def japanese(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("japanese")
    uploads = [("file-J1", "会議メモ.pdf"), ("file-J2", "report-2024年.xlsx")]
    _import(export(folder / "export.zip", uploads=uploads), folder / "home")
    return folder / "home"


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        ("会議", {"q-0"}),
        ("会議メモ", {"q-0"}),
        ("会議メモ.pdf", {"q-0"}),
        ("メモ", {"q-0"}),  # inside a run, as in a message's text
        ("2024年", {"q-0"}),
        ("会議 numbers", {"q-0"}),  # one word in a name, the other in the text
        ("会議 OR sofa", {"q-0", "img-1"}),
        ("会議 photo", set()),  # each word in the same message
        ("議事録", set()),
    ],
)
def test_a_cjk_file_name_is_found_as_text_in_that_script_is(
    japanese: Path, query: str, messages: set[str]
) -> None:
    """An attachment named 会議メモ.pdf was not found by 会議 or 会議メモ: a word of a script
    written without spaces is found as a substring of a message's text (``_unspaced``), and
    was looked for in the text only. It follows the same rule in the names."""
    with open_archive(japanese) as archive:
        assert found_messages(archive, query) == messages


def test_a_cjk_file_name_hit_marks_the_word_in_the_names(japanese: Path) -> None:
    with open_archive(japanese) as archive:
        (hit,) = archive.search("会議")
        assert hit.found_in == "file_name" and hit.title == "Numbers"
        assert hit.snippet == "report-2024年.xlsx, 会議メモ.pdf"
        assert [hit.snippet[a:b] for a, b in hit.highlights] == ["会議"]
        (both,) = archive.search("会議 numbers")
        assert [both.snippet[a:b] for a, b in both.highlights] == ["会議"]
        assert [both.text_snippet[a:b] for a, b in both.text_highlights] == ["numbers"]
        chosen = {c.source_id for c in archive.iter_conversations(query="会議メモ")}
        assert chosen == {"q"}  # export --query: the same rule
