"""Uploads are streamed into the job folder: never spooled in the system's temporary folder,
written whole whatever the chunking, and nothing is left of one that does not arrive whole."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import resource
import secrets
import signal
import socket
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freehold.errors import StorageError
from freehold.web import imports
from freehold.web.imports import ImportRunningError, Jobs, UploadError
from tests.web.conftest import Server, start_server
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
def test_the_file_arrives_whole_however_it_is_chunked(
    tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three times what is held in memory before it goes to disk, as with the real 1 MiB, but
    # 64 KiB: one byte at a time, 3 MiB took 7 s, and the amount plays no part in the check.
    monkeypatch.setattr(imports, "_FLUSH_AT", 64 << 10)
    jobs = Jobs(tmp_path)
    data = os.urandom(3 * imports._FLUSH_AT) + f"\r\n--{BOUNDARY}".encode()[:-1] + b"tail"
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
        (TYPE, b"garbage", "not a valid upload"),
        (TYPE, body(("file", "a.zip", b"x" * 3000))[:-6], "closing boundary"),
        (TYPE, b"", "closing boundary"),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_nothing(
    tmp_path: Path, content_type: str, sent: bytes, says: str
) -> None:
    jobs = Jobs(tmp_path)
    with pytest.raises(UploadError, match=says):
        asyncio.run(jobs.receive(content_type, chunks(sent, 1000)))
    assert jobs.jobs == {} and leftovers(tmp_path) == []


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, 400),
    noise=st.binary(max_size=40),
    at=st.integers(0, 400),
    size=st.integers(1, 64),
)
def test_any_mangled_body_is_an_upload_error_or_a_whole_file(
    tmp_path: Path, cut: int, noise: bytes, at: int, size: int
) -> None:
    """Cut anywhere, with bytes spliced in anywhere: UploadError (400), never another error,
    and nothing left behind; or, when the body still holds a whole form, the file."""
    home = tmp_path / secrets.token_hex(6)  # one per example: tmp_path is the test's
    jobs = Jobs(home)
    jobs.launch = lambda job, folder: None  # type: ignore[method-assign]
    whole = body(("note", None, b"hello"), ("file", "a.zip", b"0123456789" * 20))
    sent = whole[: len(whole) - cut]
    sent = sent[:at] + noise + sent[at:]
    try:
        job = asyncio.run(jobs.receive(TYPE, chunks(sent, size)))
    except UploadError:
        assert jobs.jobs == {} and leftovers(home) == []
    else:
        assert (home / "uploads" / job.id / job.name).is_file()


def test_an_upload_cut_short_leaves_nothing(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path)

    async def cut() -> AsyncIterator[bytes]:
        yield body(("file", "a.zip", os.urandom(1 << 20)))[:500_000]
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(jobs.receive(TYPE, cut()))
    assert jobs.jobs == {} and leftovers(tmp_path) == []


def test_a_full_disk_mid_upload_is_the_storage_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe K, item 1: the upload's own writes (its folder, its file) raised a bare OSError,
    a 500 "Internal error" in the web app. A full disk is a file-size limit, SIGXFSZ ignored."""
    monkeypatch.setattr(imports, "_FLUSH_AT", 64 << 10)
    jobs = Jobs(tmp_path)
    sent = body(("file", "a.zip", os.urandom(1 << 20)))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    before = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, hard))
    try:
        with pytest.raises(StorageError, match=r"no space left for .*a\.zip \(File too large"):
            asyncio.run(jobs.receive(TYPE, chunks(sent, 1 << 16)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, before)
    assert jobs.jobs == {} and leftovers(tmp_path) == []


def test_only_a_running_import_is_busy(tmp_path: Path) -> None:
    """The one error that means "another import is running" (409): not any FreeholdError."""
    jobs = Jobs(tmp_path)
    jobs.jobs["running"] = imports.Job("running", "other.zip")
    with pytest.raises(ImportRunningError, match="Another import is running"):
        jobs.reserve()
    assert not issubclass(StorageError, ImportRunningError)


def test_a_name_in_any_script_is_kept(tmp_path: Path) -> None:
    """Probe K, item 7: "会話.json" was saved (and recorded, and reported) as "json"."""
    jobs = Jobs(tmp_path)
    jobs.launch = lambda job, folder: None  # type: ignore[method-assign]
    sent = body(("file", "会話 (1).json", b"[]"))
    job = asyncio.run(jobs.receive(TYPE, chunks(sent, 1000)))
    assert job.name == "会話 (1).json"
    assert (tmp_path / "uploads" / job.id / "会話 (1).json").read_bytes() == b"[]"


def test_a_name_as_browsers_escape_it_is_kept_as_chosen(tmp_path: Path) -> None:
    """Probe V, item 5: browsers send a file name's ``"``, CR and LF as %22, %0D, %0A (the
    WHATWG's multipart/form-data encoding); 'my "chat".json' was recorded as
    'my %22chat%22.json'. Other percent signs are the name's own."""
    jobs = Jobs(tmp_path)
    jobs.launch = lambda job, folder: None  # type: ignore[method-assign]
    sent = body(("file", "my %22chat%22 100%25%0D%0A.json", b"[]"))
    job = asyncio.run(jobs.receive(TYPE, chunks(sent, 1000)))
    assert job.name == 'my "chat" 100%25_.json'  # CR LF: controls, made one "_"
    assert (tmp_path / "uploads" / job.id / job.name).read_bytes() == b"[]"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\chats.zip", "chats.zip"),
        ("..", "upload"),
        (".hidden.json", "hidden.json"),
        ("a\x00b\x1bc\u202e.zip", "a_b_c_.zip"),
        ("é" * 200 + ".zip", "é" * 123 + ".zip"),
    ],
)
def test_a_name_is_one_safe_component(sent: str, kept: str) -> None:
    assert imports.clean_name(sent) == kept
    assert len(kept.encode()) <= 255


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


# -- malformed, unfinished and stalled uploads over a real server (issue 10, item 9) -----------


def post(server: Server, body: bytes, content_type: str = TYPE, length: int | None = None) -> bytes:
    """The head of an upload to /import, holding the cookie and CSRF token."""
    return (
        f"POST /import HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Cookie: {server.cookie}={server.token}\r\nX-CSRF-Token: {server.csrf}\r\n"
        f"Content-Type: {content_type}\r\nConnection: close\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode()


def answer(sock: socket.socket) -> tuple[int, bytes]:
    """Read a response to the end of the connection: its status and body."""
    received = b""
    while chunk := sock.recv(1 << 16):
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def send_whole(server: Server, body: bytes, content_type: str = TYPE) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server may answer before the whole body
            sock.sendall(post(server, body, content_type) + body)
        return answer(sock)


def hung_up(sock: socket.socket) -> bool:
    """Whether the server closed this connection (read to its end, or reset)."""
    try:
        return sock.recv(1 << 16) == b""
    except ConnectionResetError:
        return True


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


FILE_HEAD = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\n'


@pytest.mark.parametrize(
    ("content_type", "sent"),
    [
        (TYPE, b"this is not multipart at all"),
        (TYPE, b"--b0undary\r\nContent-Disposition form-data\r\n\r\nx\r\n--b0undary--\r\n"),
        (TYPE, b"--b0undaryXX\r\n" + FILE_HEAD[12:] + b"x\r\n--b0undary--\r\n"),
        ("multipart/form-data; boundary=" + "b" * 100, body(("file", "a.zip", b"x"))),
    ],
    ids=["not multipart", "header without colon", "bad boundary line", "boundary too long"],
)
def test_malformed_multipart_is_400_and_leaves_nothing(
    server: Server, content_type: str, sent: bytes
) -> None:
    status, page = send_whole(server, sent, content_type)
    assert status == 400 and b"not a valid upload" in page
    assert server.state.jobs.jobs == {} and leftovers(server.home) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "sent",
    [
        FILE_HEAD + b"x" * 5000,  # the file's bytes, then nothing
        FILE_HEAD + b"x" * 5000 + b"\r\n--b0undary\r\n",  # a part ends, the next never comes
        body(("file", "a.zip", b"x" * 5000))[:-6],  # "--b0undary" without its final "--"
    ],
    ids=["no boundary after the file", "no part after a boundary", "no final dashes"],
)
def test_a_body_without_its_closing_boundary_is_400_and_leaves_nothing(
    server: Server, sent: bytes
) -> None:
    status, page = send_whole(server, sent)
    assert status == 400 and b"closing boundary" in page
    assert server.state.jobs.jobs == {} and leftovers(server.home) == []  # type: ignore[attr-defined]


@pytest.fixture
def impatient(_isolated_home: Path) -> Iterator[Server]:
    """A server that waits half a second for headers and for the next byte of a body."""
    yield from start_server(_isolated_home, header_timeout=0.5, idle_timeout=0.5)


def test_a_stalled_upload_frees_the_import_slot(impatient: Server) -> None:
    jobs = impatient.state.jobs  # type: ignore[attr-defined]
    sent = FILE_HEAD + os.urandom(200_000)
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        sock.sendall(post(impatient, sent, length=len(sent) + 100_000) + sent)
        wait_until(lambda: leftovers(impatient.home), "the upload never started")
        # the client says no more and does not hang up: the server hangs up on it
        assert hung_up(sock)
    wait_until(lambda: not jobs.jobs and not leftovers(impatient.home), "the slot stayed taken")
    with impatient.client() as client:  # the slot is free for the next upload
        response = upload(client, impatient, "sample-chatgpt-export.zip", SAMPLE.read_bytes())
        assert response.status_code == 303
        assert "Import finished" in finished(client, response.headers["location"])


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"],
    ids=["nothing sent", "headers never finished"],
)
def test_a_client_slow_to_send_its_headers_is_disconnected(impatient: Server, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        sock.sendall(sent)
        assert hung_up(sock)


class JumpingLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock a test moves on at will, so that a server sees a slow client
    without anyone waiting; it keeps the protocol of each connection it accepts."""

    made: ClassVar[list[JumpingLoop]] = []

    def __init__(self) -> None:
        super().__init__()
        self.ahead = 0.0
        self.protocols: list[Any] = []
        JumpingLoop.made.append(self)

    def time(self) -> float:
        return super().time() + self.ahead

    async def create_server(
        self, protocol_factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
    ) -> asyncio.Server:
        def kept() -> asyncio.BaseProtocol:
            self.protocols.append(protocol_factory())
            return self.protocols[-1]  # type: ignore[no-any-return]

        return await super().create_server(kept, *args, **kwargs)


@pytest.fixture
def jumping(_isolated_home: Path) -> Iterator[tuple[Server, JumpingLoop]]:
    """A server with a 30 s idle timeout, on a loop whose clock the test moves on."""
    for server in start_server(_isolated_home, idle_timeout=30.0, loop=f"{__name__}:JumpingLoop"):
        yield server, JumpingLoop.made[-1]


def heard_after(protocol: Any, moment: float) -> None:
    """Wait until the server's connection has heard from its client at ``moment`` or later."""
    wait_until(lambda: protocol.heard >= moment, "the bytes never arrived")


def test_a_slow_but_steady_upload_is_not_cut(jumping: tuple[Server, JumpingLoop]) -> None:
    """Bytes that keep coming are not idle: eight pieces, each sent once the server's clock
    has moved on 0.6 of the idle timeout, take 4.8 times it in all, and the upload arrives
    whole. The clock jumps (``JumpingLoop``): nothing sleeps, and no pause of this machine
    comes near the 12 s left over at each piece."""
    server, clock = jumping
    sent = body(("file", "a.zip", os.urandom(8000)))
    step, jump = len(sent) // 8 + 1, 18.0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(post(server, sent))
        wait_until(lambda: clock.protocols, "the server never took the connection")
        (protocol,) = clock.protocols
        for start in range(0, len(sent), step):
            moment = protocol.heard + jump
            clock.ahead += jump
            sock.sendall(sent[start : start + step])
            heard_after(protocol, moment)
        status, _ = answer(sock)
    assert clock.ahead > 4 * 30.0
    assert status == 303


def test_an_upload_that_is_not_an_export_is_named_by_its_own_name(tmp_path: Path) -> None:
    """Probe M, item 6: the one-line message names the path it was given; an upload's path is
    its job folder's, which the page does not show: the upload's own name is."""
    jobs = Jobs(tmp_path)
    job = asyncio.run(jobs.receive(TYPE, chunks(body(("file", "notes.txt", b"hello\n")), 4096)))
    deadline = time.monotonic() + 60
    while jobs.busy() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.state == "failed" and job.error is not None
    assert job.error.startswith("notes.txt: "), job.error
