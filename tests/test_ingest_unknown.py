"""A path no importer reads: ``freehold import`` says which case it is and what to do, in one
line naming the file, exits non-zero, and leaves nothing in the archive."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from tests.builders import damaged_zip, png, write_zip

EXPECTED = "expected a ChatGPT, Claude, Gemini (Takeout), Open WebUI, LibreChat"


# A line as `freehold export --format jsonl` writes it (compact: exporters/jsonl.py).
TRAINING = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n'


def _file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        (root / name).write_bytes(data)
        return root / name

    return make


def _zip(name: str, members: dict[str, bytes]) -> Callable[[Path], Path]:
    return lambda root: write_zip(root / name, members)


def _folder(name: str, files: dict[str, bytes]) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        folder = root / name
        folder.mkdir()
        for member, data in files.items():
            (folder / member).parent.mkdir(parents=True, exist_ok=True)
            (folder / member).write_bytes(data)
        return folder

    return make


def _sqlite(root: Path) -> Path:
    path = root / "notes.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER, body TEXT)")
    return path


def _docx(root: Path) -> Path:
    path = root / "report.docx"
    with zipfile.ZipFile(path, "w") as docx:
        docx.writestr("[Content_Types].xml", "<Types/>")
        docx.writestr("word/document.xml", "<w:document/>")
    return path


CHAT_HTML = b"<!DOCTYPE html><html><head><title>ChatGPT Data Export</title></head></html>"
CLAUDE_SIDE = {
    "users.json": b'[{"uuid": "u1", "full_name": "A"}]',
    "projects.json": b'[{"uuid": "p1", "name": "P"}]',
    "memories.json": b'[{"conversations_memory": "likes otters"}]',
}

# One ChatGPT conversation, as its export's conversations.json holds it.
CHATGPT = json.dumps(
    [{"id": "c1", "title": "Hi", "current_node": "m1", "mapping": {"m1": {"message": None}}}]
)


def _damaged(damage: str) -> Callable[[Path], Path]:
    members = {"conversations.json": CHATGPT.encode(), "user.json": b'{"id": "user-1"}'}
    return lambda root: damaged_zip(root / "damaged.zip", members, damage)


CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    (
        "empty file",
        _file("conversations.json", b""),
        "conversations.json: an empty file (0 bytes) — the download or copy did not finish",
    ),
    (
        "random bytes",
        _file("export.bin", bytes(range(256)) * 4),
        f"export.bin: binary data, not a zip, a JSON file or a SQLite database — {EXPECTED}",
    ),
    (
        "a non-zip named .zip",
        _file("export.zip", b"<html><body>Download failed, try again</body></html>"),
        "export.zip: named .zip but not a zip archive: it is a web page (HTML) — download the "
        "export again",
    ),
    (
        "an empty zip",
        _zip("export.zip", {}),
        "export.zip: the zip is empty (no files) — download the export again",
    ),
    (
        "an unrelated JSON object",
        _file("data.json", b'{"hello": "world", "items": [1, 2, 3]}'),
        'data.json: a JSON object with keys "hello", "items", not an export freehold knows — '
        + EXPECTED,
    ),
    (
        "an empty JSON array",
        _file("data.json", b"[]"),
        "data.json: an empty JSON array: no conversations in it — there is nothing to import",
    ),
    (
        "a JSON array of numbers",
        _file("numbers.json", b"[1, 2, 3]"),
        f"numbers.json: a JSON array of numbers, not conversations — {EXPECTED}",
    ),
    (
        "JSON cut short",
        _file("data.json", b'{"hello": [1, 2'),
        "data.json: not valid JSON (Expecting ',' delimiter at character 15; cut short?) — "
        "download or export it again",
    ),
    (
        "an empty folder",
        _folder("exports", {}),
        "exports: the folder holds no files — give the export's zip, or the folder it unpacked to",
    ),
    (
        "ChatGPT's chat.html",
        _file("chat.html", CHAT_HTML),
        "chat.html: ChatGPT's chat.html page (the same conversations, as a web page) — import "
        "conversations.json or the whole zip",
    ),
    (
        "a zip holding only chat.html",
        _zip("chatgpt.zip", {"chat.html": CHAT_HTML}),
        "chatgpt.zip: this zip holds one ChatGPT file (chat.html) but not its conversations — "
        "import conversations.json or the whole zip",
    ),
    (
        "a folder of three Claude files",
        _folder("claude-export", CLAUDE_SIDE),
        "claude-export: this folder holds three Claude files (memories.json, projects.json, "
        "users.json) but not its conversations — import the export's zip, or the folder it "
        "unpacked to (with conversations.json)",
    ),
    (
        "Claude's account file alone",
        _file("users.json", CLAUDE_SIDE["users.json"]),
        "users.json: the account file of a Claude export — import the export's zip",
    ),
    (
        "ChatGPT's account file alone",
        _file("user.json", b'{"id": "user-1", "email": "a@example.org"}'),
        "user.json: the account file of a ChatGPT export — import conversations.json or the "
        "whole zip",
    ),
    (
        "a picture",
        _file("picture.png", png()),
        f"picture.png: an image (PNG), not an export — {EXPECTED}",
    ),
    (
        "a PDF",
        _file("history.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
        f"history.pdf: a PDF document, not an export — {EXPECTED}",
    ),
    (
        "a gzip archive",
        _file("export.tar.gz", gzip.compress(b"conversations")),
        "export.tar.gz: a gzip archive — unpack it, then import the export it holds",
    ),
    (
        "a Word document",
        _docx,
        f"report.docx: a Word document, not an export — {EXPECTED}",
    ),
    (
        "a SQLite database that is not llm's",
        _sqlite,
        "notes.db: a SQLite database, but not an llm logs database — give the database `llm "
        "logs path` prints",
    ),
    (
        "a text file",
        _file("notes.txt", b"my chats with the assistant, copied by hand\n"),
        f"notes.txt: a text file, not an export — {EXPECTED}",
    ),
    (
        "an INI or TOML settings file",
        _file("config.toml", b'[ui]\ntheme = "dark"\n'),
        f"config.toml: a settings file (INI or TOML), not an export — {EXPECTED}",
    ),
    (
        "a zip inside a zip",
        _zip("outer.zip", {"inner.zip": b"PK\x03\x04rest"}),
        "outer.zip: its only file, inner.zip, is a zip inside the export — unzip it and import "
        "what it holds",
    ),
    (
        "a zip of unrelated files",
        _zip("notes.zip", {"readme.txt": b"hello", "photos/a.png": png()}),
        "notes.zip: a zip of 2 files, none of them an export freehold reads (readme.txt: a text "
        "file, not an export; photos/a.png: an image (PNG), not an export) — " + EXPECTED,
    ),
    (
        "a zip whose conversations.json is damaged",
        _damaged("data"),
        "damaged.zip: conversations.json is damaged: its data cannot be read (Error -3 while "
        "decompressing data",
    ),
    (
        "a zip member with a bad CRC-32",
        _damaged("crc"),
        "damaged.zip: conversations.json is damaged: its data cannot be read (Bad CRC-32 for "
        "file 'conversations.json') — download the export again",
    ),
    (
        "a JSON export saved as UTF-16 (Windows PowerShell)",
        _file("conversations.json", codecs.BOM_UTF16_LE + CHATGPT.encode("utf-16-le")),
        "conversations.json: JSON in UTF-16, not UTF-8 — save it as UTF-8 and import that",
    ),
    (
        "text saved as UTF-16",
        _file("notes.txt", "my notes".encode("utf-16")),
        "notes.txt: text in UTF-16, not UTF-8 — save it as UTF-8 and import that",
    ),
    (
        "a folder `freehold export --format jsonl` wrote",
        _folder("exj", {"conversations.jsonl": TRAINING}),
        "exj: its only file, conversations.jsonl, is a JSONL export, for training: it cannot be "
        "imported — import a `freehold export --format json` export",
    ),
    (
        "a training JSONL file alone",
        _file("conversations.jsonl", TRAINING),
        "conversations.jsonl: a JSONL export, for training: it cannot be imported — import a "
        "`freehold export --format json` export",
    ),
    (
        "a freehold export's lines alone",
        _file("conversations.jsonl", json.dumps({"source_kind": "chatgpt"}).encode()),
        "conversations.jsonl: the conversations of a freehold JSON export — import the whole "
        "folder `freehold export --format json` wrote",
    ),
]


@pytest.mark.parametrize(("case", "make", "message"), CASES, ids=[c[0] for c in CASES])
def test_says_which_case_and_what_to_do(
    case: str, make: Callable[[Path], Path], message: str, tmp_path: Path, _isolated_home: Path
) -> None:
    path = make(tmp_path)
    result = CliRunner().invoke(cli, ["import", str(path)])
    assert result.exit_code != 0
    errors = " ".join(result.output.split()).split("Error: ")[1:]
    assert len(errors) == 1 and errors[0].startswith(str(tmp_path)), errors  # as given
    assert errors[0].removeprefix(f"{tmp_path}{os.sep}").startswith(message), errors
    assert "not a known export" not in result.output
    if (_isolated_home / "archive.sqlite").exists():
        with open_archive(_isolated_home) as archive:
            stats = archive.stats()
            assert (stats["imports"], stats["conversations"], stats["messages"]) == (0, 0, 0)
        blobs = _isolated_home / "blobs"
        assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
