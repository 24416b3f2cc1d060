"""_safezip: the only door into an export — names, symlinks, duplicates, bombs, caps, cuts."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from freehold.errors import BadExportError, UnsafeArchiveError
from freehold.importers import _safezip
from freehold.importers._safezip import DirFiles, OneFile, ZipFiles, open_export

HOSTILE = {
    "../up.json": "'..'",
    "a/../../b.json": "'..'",
    "/etc/abs.json": "absolute",
    "C:/drive.json": "absolute",
    "..\\back.json": "backslash",
    "dir\\file.json": "backslash",
    "a//b.json": "empty component",
}

# Every test here runs with each of the two readers of a deflated member.
pytestmark = pytest.mark.usefixtures("zip_reader")


def build(path: Path, members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def read(files: _safezip.ExportFiles, name: str) -> bytes:
    with files.open(name) as handle:
        return handle.read()


def test_hostile_names_are_set_aside_and_never_opened(tmp_path: Path) -> None:
    members = {name: b'{"evil": true}' for name in HOSTILE} | {"good.json": b"[]"}
    files = ZipFiles(build(tmp_path / "x.zip", members))
    assert files.names() == ["good.json"]
    reasons = dict(files.rejected)
    assert set(reasons) == set(HOSTILE)
    for name, words in HOSTILE.items():
        assert words in reasons[name]
        with pytest.raises(KeyError):
            files.open(name)
    files.close()


def test_folder_entries_are_not_files(tmp_path: Path) -> None:
    """``zip -r`` writes an entry per folder: not a file of the export (it was named as an
    empty file: probe C 2026-12-07, C9); one that holds data is set aside, never dropped."""
    path = tmp_path / "dirs.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sub/", b"")
        zf.writestr("sub/deeper/", b"")
        zf.writestr("sub/deeper/a.json", b"[]")
        zf.writestr(zipfile.ZipInfo("hidden/"), b"data in a folder entry")
    files = ZipFiles(path)
    assert files.names() == ["sub/deeper/a.json"]
    assert files.rejected == [("hidden/", "a folder entry that holds data")]
    files.close()


def test_symlink_member_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(symlink_info("user.json"), "/etc/passwd")
        zf.writestr("conversations.json", "[]")
    files = ZipFiles(path)
    assert files.names() == ["conversations.json"]
    assert files.rejected == [("user.json", "symlink member")]
    files.close()


def test_duplicate_member_names_keep_the_first(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns "Duplicate name"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("conversations.json", b"[1]")
            zf.writestr("conversations.json", b"[2]")
    files = ZipFiles(path)
    assert files.names() == ["conversations.json"]
    assert read(files, "conversations.json") == b"[1]"
    assert [(n, "duplicate" in r) for n, r in files.rejected] == [("conversations.json", True)]
    files.close()


def test_zip_bomb_member_is_refused_by_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    info = zipfile.ZipInfo("zeros.json")
    info.compress_type = zipfile.ZIP_DEFLATED
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("conversations.json", b"[]")
        with zf.open(info, "w", force_zip64=True) as out:
            for _ in range(300):
                out.write(zeros)
    assert path.stat().st_size < 2 << 20
    files = ZipFiles(path)
    assert files.names() == ["conversations.json"]
    ((name, reason),) = files.rejected
    assert name == "zeros.json" and "compression ratio" in reason
    files.close()


def test_compressible_but_sane_member_is_accepted(tmp_path: Path) -> None:
    text = b"".join(b'{"n": %d, "text": "hello world"},' % i for i in range(100_000))
    files = ZipFiles(build(tmp_path / "ok.zip", {"big.json": text}))
    assert files.names() == ["big.json"] and files.rejected == []
    assert read(files, "big.json") == text
    files.close()


def test_total_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build(tmp_path / "large.zip", {"a.json": b"x" * 600, "b.json": b"y" * 600})
    monkeypatch.setattr(_safezip, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(UnsafeArchiveError, match=r"large\.zip: would inflate"):
        ZipFiles(path)
    monkeypatch.setattr(_safezip, "MAX_TOTAL_BYTES", 1200)
    ZipFiles(path).close()


def shrink_declared_size(path: Path, name: bytes, new_size: int) -> None:
    """Lower a member's uncompressed size in the central directory (its data is unchanged)."""
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    struct.pack_into("<I", data, entry + 24, new_size)
    path.write_bytes(bytes(data))


def test_member_inflating_past_its_declared_size_is_cut_off(tmp_path: Path) -> None:
    payload = b"[" + b", ".join(b'{"k": "%d"}' % i for i in range(5000)) + b"]"
    path = build(tmp_path / "liar.zip", {"conversations.json": payload})
    shrink_declared_size(path, b"conversations.json", 1000)
    files = ZipFiles(path)
    assert files.size("conversations.json") == 1000
    got = b""
    with (
        pytest.raises((zipfile.BadZipFile, UnsafeArchiveError)),
        files.open("conversations.json") as handle,
    ):
        while chunk := handle.read(100):
            got += chunk
    assert len(got) <= 1000 and payload.startswith(got)
    files.close()


def test_capped_reader_refuses_bytes_beyond_the_declared_size() -> None:
    capped = _safezip._Capped(io.BytesIO(b"x" * 50), 10, "e.zip/m.json")  # type: ignore[arg-type]
    assert capped.read(10) == b"x" * 10
    with pytest.raises(UnsafeArchiveError, match=r"e\.zip/m\.json: inflates past"):
        capped.read(10)


@pytest.mark.parametrize("keep", [0, 3, 10, 29])
def test_unrecoverable_zip_is_a_one_line_bad_export_error(tmp_path: Path, keep: int) -> None:
    whole = build(tmp_path / "whole.zip", {"conversations.json": b"[]" * 1000}).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(b"PK\x03\x04" + whole[4:keep] if keep else b"PK")
    with pytest.raises(BadExportError) as caught:
        open_export(cut)
    message = str(caught.value)
    assert message.startswith("cut.zip: ") and "\n" not in message
    assert "download the export again" in message


def test_zip_cut_in_half_recovers_members_before_the_cut(tmp_path: Path) -> None:
    first = os.urandom(20_000)  # incompressible: the cut lands inside the second member
    whole = build(
        tmp_path / "whole.zip", {"user.json": first, "conversations.json": os.urandom(20_000)}
    )
    cut = tmp_path / "half.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    files = open_export(cut)
    assert isinstance(files, ZipFiles)
    assert files.truncated is not None and "conversations.json" in files.truncated
    assert read(files, "user.json") == first
    files.close()


def test_folder_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read")
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "conversations.json").write_text("[]")
    (folder / "sub" / "a.png").write_bytes(b"png")
    (folder / "user.json").symlink_to(outside)
    (folder / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    files = DirFiles(folder)
    assert sorted(files.names()) == ["conversations.json", "sub/a.png"]
    assert dict(files.rejected).keys() == {"user.json", "linked-dir"}
    for name in ("user.json", "../secret.txt", "linked-dir/secret.txt"):
        with pytest.raises(KeyError):
            files.open(name)
    assert read(files, "sub/a.png") == b"png"


def test_open_export_picks_by_what_is_on_disk(tmp_path: Path) -> None:
    assert isinstance(open_export(tmp_path), DirFiles)
    json_file = tmp_path / "c.json"
    json_file.write_text("[]")
    assert isinstance(open_export(json_file), OneFile)
    zipped = open_export(build(tmp_path / "renamed.json", {"conversations.json": b"[]"}))
    assert isinstance(zipped, ZipFiles)
    zipped.close()
    with pytest.raises(BadExportError, match="no such file"):
        open_export(tmp_path / "missing.zip")


# -- overlapping members and the expansion budget (issue 10, item 4) -------------------------------


def _local_header(name: bytes, crc: int, compressed: int, size: int) -> bytes:
    fields = (b"PK\x03\x04", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, compressed, size)
    return struct.pack("<4sHHHHHIIIHH", *fields, len(name), 0) + name


def _finish(path: Path, body: bytes, entries: list[tuple[bytes, bytes, int]]) -> Path:
    """Write ``body`` then a central directory of (name, local header, offset) entries."""
    directory = b""
    for name, header, offset in entries:
        crc, compressed, size = struct.unpack_from("<III", header, 14)
        directory += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            *(b"PK\x01\x02", 20, 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, compressed, size),
            *(len(name), 0, 0, 0, 0, 0, offset),
        )
        directory += name
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0
    )
    path.write_bytes(body + directory + end)
    return path


def quoted_overlap_bomb(path: Path, members: int, kernel_size: int) -> Path:
    """David Fifield's "quoted overlap" (A better zip bomb, 2019): every member's DEFLATE
    stream opens with a stored block that quotes the next member's local header, then runs on
    into the next member's data, down to one shared kernel. Every member is a valid deflate
    stream with a correct CRC and a modest declared size; all of them share one kernel."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel = packer.compress(bytes(kernel_size)) + packer.flush()
    names = [f"file-{i:03d}.png".encode() for i in range(members)]
    data, headers = [b""] * members, [b""] * members
    data[-1] = kernel
    for i in reversed(range(members)):
        if i + 1 < members:
            quote = headers[i + 1]
            stored = b"\x00" + struct.pack("<HH", len(quote), len(quote) ^ 0xFFFF)
            data[i] = stored + quote + data[i + 1]
        plain = zlib.decompress(data[i], -15)
        headers[i] = _local_header(names[i], zlib.crc32(plain), len(data[i]), len(plain))
    offsets = [0]
    for header in headers[:-1]:
        offsets.append(offsets[-1] + len(header) + 5)
    return _finish(path, headers[0] + data[0], list(zip(names, headers, offsets, strict=True)))


def test_a_quoted_overlap_bomb_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    path = quoted_overlap_bomb(tmp_path / "overlap.zip", members=60, kernel_size=1_000_000)
    assert path.stat().st_size < 10_000  # 60 MB from 7 KB
    with zipfile.ZipFile(path) as plain:  # Python 3.11.7's zipfile reads it happily
        assert len(plain.read("file-000.png")) > 1_000_000
    with pytest.raises(UnsafeArchiveError) as caught:
        ZipFiles(path)
    message = str(caught.value)
    assert message.startswith("overlap.zip: ") and "\n" not in message
    assert "'file-000.png' and 'file-001.png' overlap" in message


def test_members_sharing_one_local_header_are_refused(tmp_path: Path) -> None:
    whole = build(tmp_path / "one.zip", {"conversations.json": b"[]" * 1000}).read_bytes()
    header_end = whole.index(b"PK\x01\x02")
    header = whole[: 30 + len(b"conversations.json")]
    entries = [(b"conversations.json", header, 0), (b"user.json", header, 0)]
    path = _finish(tmp_path / "shared.zip", whole[:header_end], entries)
    with pytest.raises(UnsafeArchiveError, match=r"^shared\.zip: zip members .* overlap"):
        ZipFiles(path)


def test_a_member_running_into_the_central_directory_is_refused(tmp_path: Path) -> None:
    whole = build(tmp_path / "one.zip", {"conversations.json": b"[]" * 1000}).read_bytes()
    body = whole[: whole.index(b"PK\x01\x02")]
    header = bytearray(body[: 30 + len(b"conversations.json")])
    struct.pack_into("<I", header, 18, len(body) + 40)  # compressed size past the data
    path = _finish(tmp_path / "long.zip", body, [(b"conversations.json", bytes(header), 0)])
    with pytest.raises(UnsafeArchiveError, match="the central directory"):
        ZipFiles(path)


def test_many_small_members_over_the_expansion_budget_are_refused(tmp_path: Path) -> None:
    # Each member is exactly 1 MiB: under the per-member ratio check, 1,000:1 all the same.
    path = build(tmp_path / "many.zip", {f"file-{i}.png": bytes(1 << 20) for i in range(80)})
    assert path.stat().st_size * _safezip.MAX_RATIO < _safezip.BUDGET_FLOOR < 80 << 20
    with pytest.raises(UnsafeArchiveError) as caught:
        ZipFiles(path)
    message = str(caught.value)
    assert message.startswith("many.zip: would inflate to 83.9 MB") and "\n" not in message
    assert "expansion budget" in message


def test_the_budget_grows_with_the_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build(tmp_path / "ok.zip", {f"file-{i}.json": bytes(1 << 14) for i in range(8)})
    monkeypatch.setattr(_safezip, "BUDGET_FLOOR", 1000)
    size = path.stat().st_size
    assert size * _safezip.MAX_RATIO > 8 << 14
    files = ZipFiles(path)
    assert len(files.names()) == 8
    files.close()
    monkeypatch.setattr(_safezip, "MAX_RATIO", (8 << 14) // size - 1)
    with pytest.raises(UnsafeArchiveError, match="expansion budget"):
        ZipFiles(path)


def test_reading_a_member_again_and_again_spends_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(300_000)
    path = build(tmp_path / "again.zip", {"conversations.json": data})
    monkeypatch.setattr(_safezip, "BUDGET_FLOOR", 700_000)
    monkeypatch.setattr(_safezip, "MAX_RATIO", 1)
    files = ZipFiles(path)
    assert read(files, "conversations.json") == data
    assert read(files, "conversations.json") == data
    with pytest.raises(UnsafeArchiveError, match=r"^again\.zip: reading it inflated more"):
        read(files, "conversations.json")
    files.close()


def test_the_cli_refuses_an_overlap_bomb_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from freehold.cli import cli

    path = quoted_overlap_bomb(tmp_path / "upload.zip", members=30, kernel_size=1_000_000)
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["import", str(path)], env={"FREEHOLD_HOME": str(home)})
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())  # rich wraps at the test console's 80 columns
    assert said.startswith("Error: upload.zip: zip members 'file-000.png' and 'file-001.png'")
    assert said.endswith(
        "overlap (a crafted zip bomb, CVE-2024-0450; no export is written that way) — refused"
    )
    assert not (home / "blobs").exists()


def test_real_exports_fit_their_budget(real: Path, tmp_path: Path) -> None:
    # Zipped as a service would (deflate, level 6): every real export opens and reads whole.
    for folder in sorted(p for p in real.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        path = tmp_path / f"{folder.name}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in files:
                zf.write(file, file.relative_to(folder).as_posix())
        opened = ZipFiles(path)
        assert len(opened.names()) == len(files), folder.name
        for name in opened.names():
            read(opened, name)
        opened.close()


# -- a big member inflated by ISA-L --------------------------------------------------------------


def _text(size: int) -> bytes:
    """Compressible but not trivial: numbers and words, like an export's JSON."""
    words = [b'{"id": "%d", "text": "word %d and %d"}' % (i, i * 7, i % 13) for i in range(size)]
    return b"[" + b", ".join(words) + b"]"


def test_a_big_member_reads_the_same_by_either_reader(tmp_path: Path, zip_reader: str) -> None:
    payload = _text(300_000)  # ~13 MB: over _ISAL_FROM whatever the fixture says
    path = build(tmp_path / "big.zip", {"conversations.json": payload})
    files = ZipFiles(path)
    sizes = (1, 7, 4096, 1 << 20)
    with files.open("conversations.json") as handle:
        inner = handle._raw  # type: ignore[attr-defined]  # inside the size cap
        assert isinstance(inner, io.BufferedReader) == (zip_reader == "isal")
        assert isinstance(inner, io.BytesIO) == (zip_reader == "whole")
        got = [handle.read(size) for size in sizes]
        assert [len(chunk) for chunk in got] == list(sizes)
        rest = handle.read()
    assert b"".join(got) + rest == payload
    files.close()


def test_a_lying_member_never_gives_more_than_asked(tmp_path: Path) -> None:
    payload = _text(100_000)
    path = build(tmp_path / "liar.zip", {"conversations.json": payload})
    shrink_declared_size(path, b"conversations.json", 50_000)
    handle = _safezip._inflating(path, ZipFiles(path)._members["conversations.json"])
    got = b""
    with pytest.raises(zipfile.BadZipFile, match="inflates past its declared size"):
        while chunk := handle.read(4096):
            assert len(chunk) <= 4096
            got += chunk
    assert len(got) <= 50_000 and payload.startswith(got)


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        ("crc", zipfile.BadZipFile),
        ("data", zlib.error),
        ("cut", (EOFError, zipfile.BadZipFile)),  # zipfile: a bad CRC; ours: data that stops
    ],
)
def test_a_damaged_member_fails_as_zipfile_fails(
    tmp_path: Path, damage: str, error: type[Exception] | tuple[type[Exception], ...]
) -> None:
    path = build(tmp_path / "bad.zip", {"conversations.json": _text(20_000)})
    info = ZipFiles(path)._members["conversations.json"]
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")
    start = info.header_offset + 30 + len(b"conversations.json")
    if damage == "crc":
        struct.pack_into("<I", data, entry + 16, info.CRC ^ 1)
    elif damage == "data":
        data[start : start + 64] = b"\xff" * 64
    else:  # the directory says the compressed data is shorter than it is
        struct.pack_into("<I", data, entry + 20, info.compress_size // 2)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        damaged = zf.getinfo("conversations.json")
        for opened in (_safezip._inflating(path, damaged), zf.open(damaged)):
            with pytest.raises(error), opened as handle:
                while handle.read(1 << 16):
                    pass
        assert _safezip._whole(zf, damaged) is None  # read at once: left to zipfile


def test_small_members_read_at_once_are_the_bytes_zipfile_reads(tmp_path: Path) -> None:
    """Stored and deflated, empty, UTF-8 and cp437 names, and a local extra field longer than
    the directory's (the second ``pread``): ``_whole`` gives what ``zipfile`` gives."""
    path = tmp_path / "small.zip"
    members = {
        "empty.txt": (b"", zipfile.ZIP_DEFLATED),
        "stored.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3, zipfile.ZIP_STORED),
        "deflated.json": (_text(2_000), zipfile.ZIP_DEFLATED),
        "dossier/été 📷.jpg": (b"\xff\xd8\xff" + b"x" * 5000, zipfile.ZIP_DEFLATED),
        "cp437-name.bin": (b"plain", zipfile.ZIP_STORED),
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, method) in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if name == "deflated.json":
                info.extra = struct.pack("<HH", 0xCAFE, 300) + b"e" * 300  # local only
            zf.writestr(info, data)
    with zipfile.ZipFile(path) as zf:
        for name, (data, _) in members.items():
            info = zf.getinfo(name)
            if name == "deflated.json":
                info.extra = b""  # as a writer that puts the field in the local header alone
                assert info.compress_size < len(data)
            assert _safezip._whole(zf, info).read() == data == zf.read(name)


def test_a_small_member_that_does_not_check_out_is_left_to_zipfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declared smaller than it inflates (stored or deflated): ``_whole`` gives nothing, and
    ``zipfile`` reads it as it always did: no byte past the declared size, then its error."""
    monkeypatch.setattr(_safezip, "_WHOLE_UP_TO", 256 << 10)  # what ZipFiles uses, unpatched
    payload = _text(2_000)
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        path = build(
            tmp_path / f"liar-{method}.zip", {"conversations.json": payload}, method=method
        )
        shrink_declared_size(path, b"conversations.json", 1_000)
        with zipfile.ZipFile(path) as zf:
            assert _safezip._whole(zf, zf.getinfo("conversations.json")) is None
        with ZipFiles(path).open("conversations.json") as handle:
            assert not isinstance(handle._raw, io.BytesIO)  # type: ignore[attr-defined]
            with pytest.raises(zipfile.BadZipFile):
                got = handle.read(1_000)
                assert got == payload[:1_000]
                handle.read()


def test_a_local_name_read_by_its_own_flag_as_zipfile_reads_it(tmp_path: Path) -> None:
    """The local header's name decoded by the local header's UTF-8 flag, strictly: bytes that
    are no UTF-8 there, or a flag set in one header only, are left to ``zipfile`` (which
    refuses them), never accepted by a lenient decoding."""
    path = tmp_path / "names.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a\ufffd", b"data")  # the name's bytes: a EF BF BD, UTF-8 flag set
    data = bytearray(path.read_bytes())
    data[30:32] = b"a\xff"  # the local name: a 0xFF (no UTF-8), 2 bytes; the rest extra
    struct.pack_into("<HH", data, 26, 2, 2)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert _safezip._whole(zf, zf.getinfo("a\ufffd")) is None
        with pytest.raises(UnicodeDecodeError):
            zf.read("a\ufffd")
    with pytest.raises(BadExportError, match="cannot be read"):
        ZipFiles(path).open("a\ufffd")


def test_without_pread_every_member_is_read_by_zipfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_safezip, "_WHOLE_UP_TO", 256 << 10)
    monkeypatch.setattr(_safezip, "_PREAD", None)  # as on Windows
    path = build(tmp_path / "small.zip", {"conversations.json": b"[]", "a.png": b"png"})
    files = ZipFiles(path)
    for name, data in (("conversations.json", b"[]"), ("a.png", b"png")):
        assert not _safezip._at_once(files._members[name])
        with files.open(name) as handle:
            assert not isinstance(handle._raw, io.BytesIO)  # type: ignore[attr-defined]
            assert handle.read() == data


def test_an_encrypted_or_damaged_lzma_member_is_a_bad_member(tmp_path: Path) -> None:
    """What ``zipfile`` raises for these (``RuntimeError`` at open, ``LZMAError`` while
    reading) is one of the errors every reader of a member expects."""
    path = tmp_path / "odd.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("locked.png", b"\x89PNG" + b"\0" * 100)
        info = zipfile.ZipInfo("packed.json")
        info.compress_type = zipfile.ZIP_LZMA
        zf.writestr(info, _text(3_000))
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, entry + 8, 1)  # the first member marked encrypted
    packed = ZipFiles(path)._members["packed.json"]
    start = packed.header_offset + 30 + len("packed.json") + 40
    data[start : start + 64] = b"\xee" * 64
    path.write_bytes(bytes(data))
    files = ZipFiles(path)
    with pytest.raises(BadExportError, match=r"odd\.zip/locked\.png: cannot be read"):
        files.open("locked.png")
    with (
        pytest.raises(zipfile.BadZipFile, match=r"odd\.zip/packed\.json"),
        files.open("packed.json") as handle,
    ):
        handle.read()
