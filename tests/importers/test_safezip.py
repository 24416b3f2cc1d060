"""_safezip: the only door into an export — names, symlinks, duplicates, bombs, caps, cuts."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
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
