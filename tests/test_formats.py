"""What a file is and whether it is open: real files of every kind the exit plan meets."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from freehold.formats import OPEN_FORMATS, sniff, sniff_bytes
from tests.builders import png, write_zip

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600  # a legacy Office file's header


@pytest.mark.parametrize(
    ("name", "data", "expected", "mime"),
    [
        ("conversations.json", b'[{"id": "a"}]', "json", "application/json"),
        ("x.bin", b'  {"id": "a"}', "json", "application/json"),
        ("events", b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', "jsonl", "application/jsonl"),
        ("payments.csv", b"id,amount\nch_1,12.00\n", "csv", "text/csv"),
        ("payments", b"id,amount,currency\nch_1,12.00,eur\nch_2,3.50,eur\n", "csv", "text/csv"),
        ("people.tsv", b"name\tmail\nAda\tada@example.org\n", "tsv", "text/tab-separated-values"),
        ("chat.html", b"<!DOCTYPE html><html><body>hi</body></html>", "html", "text/html"),
        ("site.xml", b'<?xml version="1.0"?><rss/>', "xml", "application/xml"),
        ("drawing.svg", b'<?xml version="1.0"?><svg xmlns="x"/>', "svg", None),
        ("All mail.mbox", b"From a@b Mon Jan 1 00:00:00 2024\nSubject: hi\n", "mbox", None),
        ("contacts.vcf", b"BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n", "vcf", "text/vcard"),
        ("cal.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "ics", "text/calendar"),
        ("notes.txt", "Plain words, and é.".encode(), "txt", "text/plain"),
        ("notes.md", b"# Title\n\nText.\n", "md", None),
        ("utf16.csv", "a,b\n1,2\n".encode("utf-16"), "csv", "text/csv"),
        ("photo.png", png(), "png", "image/png"),
        ("invoice.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "pdf", "application/pdf"),
        ("old.doc", OLE, "doc", None),
        ("mailbox.pst", b"!BDN" + b"\x00\x01" * 300, "pst", None),
        ("blob.dat", bytes(range(256)) * 4, "unknown", None),
        (
            "repo.car",
            b"\x3a\xa2\x65roots\x81\xd8\x2a\x58\x25\x00\x01\x71\x12\x20gversion\x01",
            "car",
            None,
        ),
    ],
)
def test_single_files(
    tmp_path: Path, name: str, data: bytes, expected: str, mime: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    found = sniff(path)
    assert found.format == expected
    assert found.open == (expected in OPEN_FORMATS)
    if mime is not None:
        assert found.mime == mime
    assert found.contents() is None  # not a container


def test_closed_and_unknown_formats_are_never_called_open(tmp_path: Path) -> None:
    for name, data in (("a.doc", OLE), ("b.pst", b"!BDN\x00\x01"), ("c.bin", b"\x00\x01\x02")):
        (tmp_path / name).write_bytes(data)
        assert not sniff(tmp_path / name).open, name


def test_text_cut_inside_a_character_at_the_window_edge_is_still_text() -> None:
    head = ("x" * 65535 + "é").encode()[:65536]  # the window ends inside "é"
    assert sniff_bytes(head, "notes.txt")[0] == "txt"


def test_a_zip_of_open_files_is_open_and_its_members_counted(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "export.zip",
        {
            "conversations.json": b"[]",
            "chat.html": b"<html></html>",
            "user-1/file-abc.dat": png(),  # no telling extension: sniffed from its bytes
            "images/a.png": png(),
        },
    )
    found = sniff(path)
    assert (found.format, found.mime, found.open) == ("zip", "application/zip", True)
    assert found.members == {"png": 2, "json": 1, "html": 1}
    assert found.not_open == []
    assert found.contents() == {"members": found.members, "not_open": [], "problem": None}


def test_a_zip_with_closed_or_unknown_members_names_them(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "export.zip",
        {"data.csv": b"a,b\n1,2\n", "backup.pst": b"!BDN\x00", "blob.bin": b"\x00\x01\x02\x03"},
    )
    found = sniff(path)
    assert not found.open
    assert sorted(found.not_open) == ["backup.pst", "blob.bin"]
    assert found.members == {"csv": 1, "pst": 1, "unknown": 1}


def test_a_hostile_member_name_is_not_open_and_named(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "export.zip", {"../escape.json": b"[]", "ok.json": b"[]"})
    found = sniff(path)
    assert not found.open
    assert found.not_open and "../escape.json" in found.not_open[0]


def test_a_cut_zip_is_a_problem_and_not_open(tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "whole.zip", {"a.json": b"[1]" * 1000, "b.json": b"[2]" * 1000})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole.read_bytes()[:-200])  # the central directory is gone
    found = sniff(cut)
    assert found.format == "zip" and not found.open
    assert found.problem and "truncated" in found.problem
    assert found.contents() is not None and found.contents()["problem"] == found.problem


def test_a_tgz_is_looked_into(tmp_path: Path) -> None:
    path = tmp_path / "takeout.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("Takeout/Mail/All mail.mbox", b"From x\n"), ("Takeout/a.bin", b"\0\1")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    found = sniff(path)
    assert found.format == "gz"
    assert found.members == {"mbox": 1, "unknown": 1}
    assert found.not_open == ["Takeout/a.bin"] and not found.open


def test_a_cut_tgz_is_a_problem(tmp_path: Path) -> None:
    whole = tmp_path / "whole.tgz"
    with tarfile.open(whole, "w:gz") as archive:
        data = bytes(range(256)) * 400
        info = tarfile.TarInfo("a.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    found = sniff(cut)
    assert found.problem and not found.open


def test_a_plain_gzip_is_an_open_container(tmp_path: Path) -> None:
    path = tmp_path / "data.json.gz"
    path.write_bytes(gzip.compress(b"[1, 2]"))
    found = sniff(path)
    assert (found.format, found.open) == ("gz", True)


def test_office_open_xml_is_open(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    path = tmp_path / "report.docx"
    path.write_bytes(buffer.getvalue())
    assert (sniff(path).format, sniff(path).open) == ("docx", True)
