"""Uploads are streamed into the job folder: never spooled in the system's temporary folder,
written whole whatever the chunking, and nothing is left of one that does not arrive whole."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from freehold.web.imports import Jobs, UploadError
from tests.web.conftest import Server
from tests.web.test_views import SAMPLE, finished, upload

BOUNDARY = "b0undary"
TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def leftovers(home: Path) -> list[Path]:
    uploads = home / "uploads"
    return list(uploads.rglob("*")) if uploads.exists() else []


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 22])
def test_the_file_arrives_whole_however_it_is_chunked(tmp_path: Path, size: int) -> None:
    jobs = Jobs(tmp_path)
    data = os.urandom(3 << 20) + f"\r\n--{BOUNDARY}".encode()[:-1] + b"tail"
    sent = body(("note", None, b"x" * 100), ("file", None, b"not a file"), ("file", "a.zip", data))
    saved: list[bytes] = []
    jobs.launch = lambda job, folder: saved.append((folder / job.name).read_bytes())  # type: ignore[method-assign]
    job = asyncio.run(jobs.receive(TYPE, chunks(sent, size)))
    assert job.name == "a.zip" and saved == [data]


@pytest.mark.parametrize(
    ("content_type", "sent", "says"),
    [
        ("application/x-www-form-urlencoded", b"file=x", "Nothing was uploaded"),
        ("multipart/form-data", body(("file", "a.zip", b"x")), "Nothing was uploaded"),
        (TYPE, body(("other", None, b"1")), "Nothing was uploaded"),
        (TYPE, body(*[("f", None, b"1")] * 5), "too many parts"),
        (TYPE, body(("note", None, b"x" * 5000), ("file", "a.zip", b"x")), "too large"),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_nothing(
    tmp_path: Path, content_type: str, sent: bytes, says: str
) -> None:
    jobs = Jobs(tmp_path)
    with pytest.raises(UploadError, match=says):
        asyncio.run(jobs.receive(content_type, chunks(sent, 1000)))
    assert jobs.jobs == {} and leftovers(tmp_path) == []


def test_an_upload_cut_short_leaves_nothing(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path)

    async def cut() -> AsyncIterator[bytes]:
        yield body(("file", "a.zip", os.urandom(1 << 20)))[:500_000]
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(jobs.receive(TYPE, cut()))
    assert jobs.jobs == {} and leftovers(tmp_path) == []


def test_a_big_upload_never_touches_the_system_temp_folder(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))  # any temporary file now fails
    padded = io.BytesIO()  # the sample with a 3 MB member more: the upload spans many chunks
    with zipfile.ZipFile(SAMPLE) as sample, zipfile.ZipFile(padded, "w") as out:
        for item in sample.infolist():
            out.writestr(item, sample.read(item))
        out.writestr("padding.bin", os.urandom(3 << 20))
    with server.client() as client:
        response = upload(client, server, "sample-chatgpt-export.zip", padded.getvalue())
        assert response.status_code == 303
        final = finished(client, response.headers["location"])
    assert "Import finished" in final and "padding.bin" in final  # the stray member, reported
    assert leftovers(server.home) == []


def test_a_client_that_hangs_up_mid_upload_leaves_nothing(server: Server) -> None:
    head = (
        f"POST /import HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Cookie: {server.cookie}={server.token}\r\nX-CSRF-Token: {server.csrf}\r\n"
        f"Content-Type: {TYPE}\r\nContent-Length: 5000000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + body(("file", "a.zip", b"x" * 2_000_000))[:1_000_000])
        deadline = time.monotonic() + 20
        while not leftovers(server.home):  # the upload has begun arriving
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.01)
    jobs = server.state.jobs  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while jobs.jobs or leftovers(server.home):
        assert time.monotonic() < deadline, f"left behind: {leftovers(server.home)}"
        time.sleep(0.01)
