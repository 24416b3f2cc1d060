"""The guard over a real server: token, Host, Origin, CSRF, body limits and security headers.

Requests go over real sockets to uvicorn on 127.0.0.1: httpx where it can say what is meant,
raw bytes where a header must be sent exactly as written (Host values httpx would tidy, bodies
that stream without a length).
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from freehold.archive import ARCHIVE_NAME, open_archive
from freehold.errors import FreeholdError
from freehold.web import create_app
from freehold.web.security import CSP, Codes, Guard, GuardConfig, check_token, csrf_token
from tests.builders import ingest
from tests.web.conftest import TOKEN, Server, run, serve_process, start_server

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
TITLE = "Data analysis troubleshooting"  # the newest conversation of the sample
CID = "c19ee96c229f96f6"  # its id
PNG_SHA = "8c7ef7340a6767bf3a21c8495561188268f5876a9a365fa3e3743003b614d8ff"


# -- helpers ---------------------------------------------------------------------------------------


def sample_home(home: Path) -> Path:
    with open_archive(home) as archive:
        ingest(archive, SAMPLE)
    return home


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over the imported sample, shared by the tests that change nothing."""
    yield from start_server(sample_home(tmp_path_factory.mktemp("sample") / "home"))


@pytest.fixture
def fresh(_isolated_home: Path) -> Iterator[Server]:
    """A server over the imported sample, this test's own (for tests that change marks)."""
    yield from start_server(sample_home(_isolated_home))


def anonymous(server: Server, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, **kwargs)  # type: ignore[arg-type]


def marks(server: Server) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(server.home / ARCHIVE_NAME)) as db:
        return db.execute("SELECT conversation_id, starred FROM conversation_marks").fetchall()


def raw(
    server: Server, head: str, body: bytes = b"", address: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, CRLF-joined) and ``body`` to ``address``; read
    to the close."""
    with socket.create_connection((address, server.port), timeout=30) as sock:
        # the server may answer and close before the whole body is sent
        with contextlib.suppress(OSError):
            sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        received = b""
        while chunk := sock.recv(1 << 16):
            received += chunk
    top, _, rest = received.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return int(lines[0].split()[1]), headers, rest


def get(server: Server, path: str, host: str | None = None, extra: str = "") -> str:
    """A raw GET holding the access cookie."""
    host_line = f"Host: {host}\r\n" if host is not None else ""
    return (
        f"GET {path} HTTP/1.1\r\n{host_line}Cookie: {server.cookie}={server.token}\r\n"
        f"{extra}Connection: close"
    )


def chunked(data: bytes, size: int = 1 << 14) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def assert_secured(headers: httpx.Headers | dict[str, str]) -> None:
    csp = headers["content-security-policy"]
    assert csp == CSP
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    # base.html says the same in a <meta>: other sites get no referrer, and a plain form's POST
    # keeps its Origin (under "no-referrer" Chromium sends "Origin: null", refused below)
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


# -- the access token ------------------------------------------------------------------------------

GUARDED = [
    "/",
    "/conversations",
    f"/conversations/{CID}",
    f"/conversations/{CID}?at=112",
    f"/conversations/{CID}/download.md",
    f"/conversations/{CID}/download.json",
    "/search?q=data",
    f"/attachments/{PNG_SHA}",
    "/attachments/" + "0" * 64,
    "/sources/1",
    "/import",
    "/import/jobs/nope",
    "/exits",
    "/highlight.css",
    "/language/fr?next=/",
    "/no-such-page",
    "/csp-report",
    "/staticx",
]


@pytest.mark.parametrize("path", GUARDED)
def test_no_token_is_refused_everywhere(sample: Server, path: str) -> None:
    with anonymous(sample) as client:
        response = client.get(path)
    assert response.status_code == 403
    assert "access token" in response.text
    assert TITLE not in response.text and sample.csrf not in response.text
    assert "set-cookie" not in response.headers
    assert_secured(response.headers)


@pytest.mark.parametrize("path", ["/", f"/attachments/{PNG_SHA}", f"/conversations/{CID}"])
def test_wrong_tokens_are_refused(sample: Server, path: str) -> None:
    wrong = TOKEN + "x"
    attempts = [
        anonymous(sample, cookies={sample.cookie: wrong}),
        anonymous(sample, cookies={f"freehold_token_{sample.port + 1}": TOKEN}),
        anonymous(sample, headers={"Authorization": f"Bearer {wrong}"}),
        anonymous(sample, headers={"Authorization": f"Basic {TOKEN}"}),
        anonymous(sample, headers={"Authorization": TOKEN}),
    ]
    for client in attempts:
        with client:
            assert client.get(path).status_code == 403
    with anonymous(sample) as client:
        response = client.get(path, params={"token": wrong})
        assert response.status_code == 403 and "set-cookie" not in response.headers
        assert client.get(path, params={"token": ""}).status_code == 403
        # the query form is for a browser's first visit (a GET); it authorises nothing else
        assert client.head(path, params={"token": TOKEN}).status_code == 403


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_token_by_bearer_header(sample: Server, scheme: str) -> None:
    with anonymous(sample, headers={"Authorization": f"{scheme} {TOKEN}"}) as client:
        page = client.get("/")
        image = client.get(f"/attachments/{PNG_SHA}")
    assert page.status_code == 200 and TITLE in page.text
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_token_by_cookie(sample: Server) -> None:
    with sample.client() as client:
        response = client.get("/conversations")
    assert response.status_code == 200 and TITLE in response.text
    assert "set-cookie" not in response.headers


def test_token_in_query_becomes_a_cookie_and_leaves_the_address(sample: Server) -> None:
    with anonymous(sample) as client:
        response = client.get("/conversations?source=chatgpt&token=" + TOKEN + "&model=gpt-4o&x=")
        assert response.status_code == 303
        assert response.headers["location"] == "/conversations?source=chatgpt&model=gpt-4o&x="
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{sample.cookie}={TOKEN};")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert_secured(response.headers)
        assert TOKEN not in response.text
        followed = client.get(response.headers["location"])
    assert followed.status_code == 200 and "Postgresql indexing help" in followed.text
    assert TITLE not in followed.text.split("<main", 1)[1]  # the model filter was kept


def test_token_redirect_stays_on_this_server(sample: Server) -> None:
    for path in (
        f"//evil.example/?token={TOKEN}",
        f"///evil.example?token={TOKEN}&a=1",
        f"/\\evil.example?token={TOKEN}",
        f"/\\/evil.example?token={TOKEN}",
    ):
        status, headers, _ = raw(
            sample, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
        )
        assert status == 303
        location = headers["location"]
        assert location.startswith("/") and location[1:2] not in ("/", "\\"), location
        assert TOKEN not in location


def test_token_redirect_keeps_the_query_byte_for_byte(sample: Server) -> None:
    query = "q=caf%C3%A9+au+lait&token=" + TOKEN + "&q=%26%3D&empty"
    status, headers, _ = raw(
        sample, f"GET /search?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
    )
    assert status == 303
    assert headers["location"] == "/search?q=caf%C3%A9+au+lait&q=%26%3D&empty"


# -- one-time codes (serve --open) and what a token may be -----------------------------------------


def test_a_one_time_code_opens_the_app_once(sample: Server) -> None:
    assert sample.codes is not None
    code = sample.codes.issue()
    with anonymous(sample) as client:
        opened = client.get(f"/conversations?source=chatgpt&code={code}")
        assert opened.status_code == 303
        assert opened.headers["location"] == "/conversations?source=chatgpt"
        assert opened.headers["set-cookie"].startswith(f"{sample.cookie}={TOKEN};")
        assert client.get("/conversations?source=chatgpt").status_code == 200  # the cookie
    with anonymous(sample) as someone_else:  # e.g. who read it in `ps` a moment later
        again = someone_else.get("/", params={"code": code})
    assert again.status_code == 403 and "used already or has expired" in again.text
    assert "set-cookie" not in again.headers


def test_a_code_is_spent_only_by_a_get_to_this_server(sample: Server) -> None:
    assert sample.codes is not None
    code = sample.codes.issue()
    with anonymous(sample) as client:
        assert client.post(f"/import?code={code}").status_code == 403
        assert client.head(f"/?code={code}").status_code == 403
        assert raw(sample, get(sample, f"/?code={code}", host="evil.example"))[0] == 400
        assert client.get(f"/?code={code}").status_code == 303  # still good: none spent it


def test_an_expired_or_unknown_code_opens_nothing(sample: Server) -> None:
    expired = Codes(ttl=0)
    assert not expired.redeem(expired.issue())
    codes = Codes()
    code = codes.issue()
    assert not codes.redeem(code + "x") and not codes.redeem("")
    assert codes.redeem(code) and not codes.redeem(code)
    with anonymous(sample) as client:
        assert client.get("/", params={"code": "guess" * 8}).status_code == 403
        assert client.get("/", params={"code": "é" * 32}).status_code == 403


@pytest.mark.parametrize(
    "token", ["a", "x" * 15, "sixteen chars ok", "sixteen-chars-éé", "a;b=c0123456789x"]
)
def test_a_token_under_16_url_safe_characters_is_refused(token: str, tmp_path: Path) -> None:
    with pytest.raises(FreeholdError, match="at least 16"):
        check_token(token)
    with pytest.raises(FreeholdError, match="at least 16"):
        create_app(tmp_path, token)


def test_a_token_of_16_url_safe_characters_is_accepted() -> None:
    assert check_token("Ab0._~-" + "x" * 9) == "Ab0._~-xxxxxxxxx"


def test_open_paths_never_hand_out_the_token(sample: Server) -> None:
    with anonymous(sample) as client:
        css = client.get("/static/app.css", params={"token": "guess"})
        missing = client.get("/static/no-such-file.css")
    assert css.status_code == 200 and "set-cookie" not in css.headers
    assert TOKEN not in str(css.headers)
    # a 404 under /static/ is rendered by the app: nothing of the archive may show in it
    assert missing.status_code == 404
    assert TITLE not in missing.text and sample.csrf not in missing.text
    assert_secured(missing.headers)


def test_cookies_of_other_local_apps_do_not_hide_ours(sample: Server) -> None:
    # localhost cookies are shared by every port; some hold JSON or spaces
    others = 'prefs={"theme": "dark"}; _xsrf=2|ab|cd; a b=c'
    status, _, body = raw(
        sample, get(sample, "/", "127.0.0.1").replace("Cookie: ", f"Cookie: {others}; ")
    )
    assert status == 200 and TITLE.encode() in body


# -- Host: DNS rebinding ---------------------------------------------------------------------------

BAD_HOSTS = [
    "evil.example",
    "evil.example:{port}",
    "127.0.0.1.evil.example",
    "127.0.0.1.evil.example:{port}",
    "localhost.evil.example",
    "",
    "localhost:1@evil",
    "localhost:{port}@evil.example",
    "127.0.0.1:{port}:80",
    "127.0.0.1:x",
    "127.0.0.1 evil.example",
    "[::1]evil",
    "[::1]:{port}.evil",
    "0.0.0.0:{port}",
    "127.0.0.2:{port}",
]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_foreign_host_is_refused_even_with_the_token(sample: Server, host: str) -> None:
    status, headers, body = raw(sample, get(sample, "/", host.format(port=sample.port)))
    assert status == 400
    assert TITLE.encode() not in body
    assert_secured(headers)


def test_missing_host_is_refused(sample: Server) -> None:
    request = f"GET / HTTP/1.0\r\nCookie: {sample.cookie}={TOKEN}\r\nConnection: close"
    status, _, body = raw(sample, request)
    assert status == 400 and TITLE.encode() not in body


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}"]
)
def test_own_host_names_are_accepted(sample: Server, host: str) -> None:
    status, _, body = raw(sample, get(sample, "/", host.format(port=sample.port)))
    assert status == 200 and TITLE.encode() in body


@pytest.fixture
def lan(_isolated_home: Path) -> Iterator[Server]:
    """A server started with ``--allow-host archive.lan``."""
    yield from start_server(sample_home(_isolated_home), hosts={"archive.lan"})


def test_allow_host_admits_that_host_only(lan: Server) -> None:
    for host in ("archive.lan", f"archive.lan:{lan.port}", "ARCHIVE.LAN", "localhost"):
        assert raw(lan, get(lan, "/", host))[0] == 200, host
    for host in ("evil.example", "archive.lan.evil.example", "x.archive.lan", "archive.lan:1@x"):
        assert raw(lan, get(lan, "/", host))[0] == 400, host


@pytest.fixture
def everywhere(_isolated_home: Path) -> Iterator[Server]:
    """A server listening on 0.0.0.0, as ``serve --host 0.0.0.0`` does."""
    yield from start_server(sample_home(_isolated_home), address="0.0.0.0")


def test_an_address_of_the_machine_is_its_own_host(everywhere: Server) -> None:
    """A browser elsewhere on the network names the address it connected to: no name was
    looked up, so no rebinding; 127.0.0.2 stands for a LAN address (the same path here)."""
    for address, host in [("127.0.0.2", "127.0.0.2"), ("127.0.0.2", "127.0.0.2:{port}")]:
        request = get(everywhere, "/", host.format(port=everywhere.port))
        status, _, body = raw(everywhere, request, address=address)
        assert status == 200 and TITLE.encode() in body, host
    # the address must be the one connected to, and a name needs --allow-host
    for address, host in [("127.0.0.1", "127.0.0.2"), ("127.0.0.2", "127.0.0.3")]:
        assert raw(everywhere, get(everywhere, "/", host), address=address)[0] == 400
    status, _, body = raw(everywhere, get(everywhere, "/", "archive.lan"), address="127.0.0.2")
    assert status == 400 and b"with --allow-host archive.lan." in body


# -- state changes: Origin and CSRF ----------------------------------------------------------------


def star(client: httpx.Client, query: str = "starred=1", **headers: str) -> httpx.Response:
    return client.post(f"/conversations/{CID}/star?{query}", headers=headers)


def test_star_needs_origin_and_csrf(fresh: Server) -> None:
    own = f"http://127.0.0.1:{fresh.port}"
    refused = [
        {},
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": fresh.csrf[:-1] + "0"},
        {"X-CSRF-Token": TOKEN},
        {"X-CSRF-Token": fresh.csrf, "Origin": "http://evil.example"},
        {"X-CSRF-Token": fresh.csrf, "Origin": "null"},
        {"X-CSRF-Token": fresh.csrf, "Origin": f"http://127.0.0.1:{fresh.port + 1}"},
        {"X-CSRF-Token": fresh.csrf, "Origin": f"https://127.0.0.1:{fresh.port}"},
        {"X-CSRF-Token": fresh.csrf, "Origin": f"http://127.0.0.1.evil.example:{fresh.port}"},
    ]
    with fresh.client() as client:
        for headers in refused:
            response = star(client, **headers)
            assert response.status_code == 403, headers
            assert_secured(response.headers)
        wrong_query = star(client, f"starred=1&csrf={fresh.csrf[:-1]}0")
        cross_query = star(client, f"starred=1&csrf={fresh.csrf}", Origin="http://evil.example")
        body_only = client.post(f"/conversations/{CID}/star?starred=1", data={"csrf": fresh.csrf})
        as_get = client.get(f"/conversations/{CID}/star?starred=1&csrf={fresh.csrf}")
    with anonymous(fresh) as client:
        no_token = star(client, **{"X-CSRF-Token": fresh.csrf, "Origin": own})
    assert [wrong_query.status_code, cross_query.status_code, body_only.status_code] == [403] * 3
    assert as_get.status_code == 405 and no_token.status_code == 403
    assert marks(fresh) == []


def test_star_with_same_origin_and_header(fresh: Server) -> None:
    with fresh.client() as client:
        origin = f"http://127.0.0.1:{fresh.port}"
        response = star(client, **{"X-CSRF-Token": fresh.csrf, "Origin": origin})
        assert response.status_code == 303
        assert response.headers["location"] == f"/conversations/{CID}"
        assert_secured(response.headers)
        assert marks(fresh) == [(CID, 1)]
        fragment = star(client, "starred=0", **{"X-CSRF-Token": fresh.csrf, "HX-Request": "true"})
    assert fragment.status_code == 200 and "Star" in fragment.text and "<html" not in fragment.text
    assert marks(fresh) == [(CID, 0)]


def test_star_with_csrf_in_query(fresh: Server) -> None:
    # what a browser's plain form sends: the CSRF token in the action's query, its own Origin
    with fresh.client() as client:
        origin = f"http://127.0.0.1:{fresh.port}"
        response = star(client, f"starred=1&csrf={fresh.csrf}", Origin=origin)
        page = client.get(f"/conversations/{CID}")
        starred = client.get("/conversations?starred=1")
    assert response.status_code == 303 and marks(fresh) == [(CID, 1)]
    assert "Unstar" in page.text
    assert TITLE in starred.text


def test_star_of_unknown_conversation_is_404_and_changes_nothing(fresh: Server) -> None:
    with fresh.client(headers={"X-CSRF-Token": fresh.csrf}) as client:
        response = client.post("/conversations/nope/star?starred=1")
    assert response.status_code == 404 and marks(fresh) == []


# -- body limits -----------------------------------------------------------------------------------


def post_head(server: Server, path: str, *lines: str) -> str:
    return "\r\n".join(
        [
            f"POST {path} HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            f"Cookie: {server.cookie}={server.token}",
            f"X-CSRF-Token: {server.csrf}",
            *lines,
            "Connection: close",
        ]
    )


def test_declared_body_over_one_mib_is_refused_before_it_is_read(fresh: Server) -> None:
    # the star endpoint reads no body: the limit must hold all the same
    head = post_head(
        fresh,
        f"/conversations/{CID}/star?starred=1",
        f"Content-Length: {(1 << 20) + 1}",
        "Expect: 100-continue",
    )
    status, headers, _ = raw(fresh, head)
    assert status == 413
    assert_secured(headers)
    assert marks(fresh) == []


async def _read_body(scope: Scope, receive: Receive, send: Send) -> None:
    """An endpoint that reads its whole body and says how long it was (none of the app's
    routes but the upload reads a body, and the guard's count must hold for any that will)."""
    size, more = 0, True
    while more:
        message = await receive()
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    answer = str(size).encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def reader() -> Iterator[Server]:
    """The guard (uploads capped at 4 KB) over ``_read_body``."""

    def guard(port: int) -> Guard:
        return Guard(_read_body, GuardConfig(TOKEN, port, max_upload=4000))

    for port, _ in run(guard, lifespan="off"):
        yield Server(f"http://127.0.0.1:{port}", port, TOKEN, csrf_token(TOKEN), Path(), None)


def test_streamed_body_over_one_mib_is_caught_while_it_streams(reader: Server) -> None:
    head = post_head(reader, "/echo", "Transfer-Encoding: chunked")
    status, headers, body = raw(reader, head, chunked(b"x" * ((1 << 20) + 1000)))
    assert status == 413 and b"larger than this server accepts" in body
    assert_secured(headers)


def test_body_under_the_limit_is_read(reader: Server) -> None:
    head = post_head(reader, "/echo", "Transfer-Encoding: chunked")
    status, _, body = raw(reader, head, chunked(b"x" * (1 << 20)))
    assert (status, body) == (200, str(1 << 20).encode())


@pytest.fixture
def small(_isolated_home: Path) -> Iterator[Server]:
    """A server that accepts uploads of at most 4 KB."""
    yield from start_server(_isolated_home, max_upload=4000)


def multipart(name: str, data: bytes, boundary: str = "b0undary") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/zip\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_upload_over_max_upload_is_413_and_leaves_nothing(small: Server) -> None:
    with small.client(headers={"X-CSRF-Token": small.csrf}) as client:
        response = client.post("/import", files={"file": ("big.zip", b"z" * 5000)})
    assert response.status_code == 413
    assert_secured(response.headers)
    assert list((small.home / "uploads").glob("**/*")) == []
    assert small.state.jobs.jobs == {}  # type: ignore[attr-defined]


def test_upload_streamed_without_length_is_caught(small: Server) -> None:
    head = post_head(
        small,
        "/import",
        "Transfer-Encoding: chunked",
        "Content-Type: multipart/form-data; boundary=b0undary",
    )
    status, headers, body = raw(small, head, chunked(multipart("big.zip", b"z" * 8000), 1000))
    assert status == 413 and b"larger than this server accepts" in body
    # probe K, minor: the limit and what to do, and no empty uploads/ folder left behind
    assert b"(4,000 bytes)" in body and b"freehold serve --max-upload" in body
    assert_secured(headers)
    assert not (small.home / "uploads").exists()
    assert small.state.jobs.jobs == {}  # type: ignore[attr-defined]


def test_upload_path_limit_applies_to_uploads_only(reader: Server) -> None:
    # 4 KB is the upload limit, not every body's: 6 KB elsewhere still fits 1 MiB
    head = post_head(reader, "/echo", "Transfer-Encoding: chunked")
    assert raw(reader, head, chunked(b"x" * 6000))[:3:2] == (200, b"6000")
    head = post_head(reader, "/import", "Transfer-Encoding: chunked")
    assert raw(reader, head, chunked(b"x" * 6000))[0] == 413


# -- security headers on every kind of answer ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/conversations?page=1", 200),
        ("/conversations?page=2", 404),  # past the last of the sample's 23 (probe U-5)
        (f"/conversations/{CID}", 200),
        ("/conversations/nope", 404),
        ("/conversations?page=x", 400),
        ("/search?q=%22", 400),
        (f"/attachments/{PNG_SHA}", 200),
        ("/attachments/nope", 404),
        (f"/conversations/{CID}/download.json", 200),
        ("/language/fr?next=/", 303),
        ("/static/app.css", 200),
        ("/highlight.css", 200),
    ],
)
def test_security_headers_on_every_answer(sample: Server, path: str, status: int) -> None:
    with sample.client() as client:
        response = client.get(path)
    assert response.status_code == status
    assert_secured(response.headers)


# -- no open endpoint that takes a body --------------------------------------------------------


def test_csp_reports_are_refused_and_never_grow_the_server(_isolated_home: Path) -> None:
    """There is no CSP report endpoint any more (docs/decisions.md): a report, however it is
    sent, is refused without being read, and a hundred 1 MB bodies of nested arrays (25 MB
    each once parsed) leave the server's memory where it was."""
    if not Path("/proc/self/status").exists():
        pytest.skip("measures the server's memory through Linux's /proc")
    assert "report-uri" not in CSP
    nested = b"[" + b"[]," * 340_000 + b"[]]"  # just under the 1 MiB body limit
    report = {"Content-Type": "application/csp-report"}
    with serve_process(_isolated_home, env={"FREEHOLD_TOKEN": TOKEN}) as served:
        own = {**report, "Origin": served.base, "X-CSRF-Token": csrf_token(TOKEN)}
        cookies = {f"freehold_token_{served.port}": TOKEN}
        with (
            httpx.Client(base_url=served.base, timeout=30) as stranger,
            httpx.Client(base_url=served.base, timeout=30, cookies=cookies) as holder,
        ):
            assert holder.get("/").status_code == 200  # the first page loads what pages need
            before = served.rss()
            other_site = {**report, "Origin": "https://evil.example"}
            for _ in range(25):
                refused = [
                    stranger.post("/csp-report", content=nested, headers=report),
                    stranger.post("/csp-report", content=nested, headers=other_site),
                    holder.post("/csp-report", content=nested, headers=other_site),
                    holder.post("/csp-report", content=nested, headers=own),
                ]
                assert [r.status_code for r in refused] == [403, 403, 403, 404]
            oversized = holder.post("/csp-report", content=b"[]" * (1 << 20), headers=own)
            assert oversized.status_code == 413
            grown = served.rss() - before
    assert grown < 64 << 20, f"the server grew by {grown >> 20} MB"
