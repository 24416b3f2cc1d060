"""A real freehold web server on 127.0.0.1 (uvicorn in a thread) over a real archive."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import uvicorn

from freehold.web import create_app
from freehold.web.security import Codes, Guard, csrf_token
from freehold.web.serving import Config

TOKEN = "test-token-0123456789"


@dataclass
class Server:
    """A running server: its base URL, token, CSRF token, data folder and the app's state."""

    url: str
    port: int
    token: str
    csrf: str
    home: Path
    state: object
    codes: Codes | None = None  # the guard's one-time codes (serve --open)

    @property
    def cookie(self) -> str:
        return f"freehold_token_{self.port}"

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client already holding the access cookie."""
        return httpx.Client(
            base_url=self.url, cookies={self.cookie: self.token}, timeout=30, **kwargs
        )


def start_server(
    home: Path, max_upload: int = 8 << 30, hosts: set[str] | None = None, **options: Any
) -> Iterator[Server]:
    """``options``: ``run``'s ``address`` and ``serving.Config``'s (``header_timeout``,
    ``idle_timeout``, ``loop``)."""

    def app(port: int) -> Guard:
        return create_app(home, TOKEN, port=port, max_upload=max_upload, hosts=hosts)

    for port, guard in run(app, **options):
        url = f"http://127.0.0.1:{port}"
        yield Server(url, port, TOKEN, csrf_token(TOKEN), home, guard.app.state, guard.codes)


def run(
    make: Callable[[int], Guard], lifespan: str = "on", address: str = "127.0.0.1", **options: Any
) -> Iterator[tuple[int, Guard]]:
    """Serve ``make(port)`` as ``freehold serve`` does (``serving.Config``), in a thread, on a
    free port of ``address`` (127.0.0.1; 0.0.0.0 for every address of the machine)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 0))
    port = sock.getsockname()[1]
    guard = make(port)
    config = Config(guard, log_level="warning", lifespan=lifespan, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test web server did not start")
            time.sleep(0.02)
        yield port, guard
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture
def server(_isolated_home: Path) -> Iterator[Server]:
    """A server over this test's (empty until a test imports something) archive."""
    yield from start_server(_isolated_home)


@dataclass
class Served:
    """``freehold serve`` run as a person runs it: its own process, its printed address."""

    process: subprocess.Popen[str]
    url: str  # the line printed on stdout
    log: Path  # everything printed on stderr

    @property
    def base(self) -> str:
        return self.url.split("?")[0].rstrip("/")

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def rss(self) -> int:
        """The server process's resident memory, in bytes (Linux's /proc)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        return int(kib) * 1024


def read_line(pipe: IO[str], timeout: float = 30) -> str:
    """One line from a child's pipe, or AssertionError if none comes within ``timeout``."""
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        assert selector.select(timeout), f"nothing printed within {timeout} s"
    return pipe.readline()


@contextmanager
def serve_process(
    home: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> Iterator[Served]:
    """Start ``python -m freehold serve --port 0 *args`` (after ``prefix``, a command that
    runs the rest: ``unshare ...``); stop it at the end."""
    log = home.parent / "serve-stderr.txt"
    environment = {**os.environ, "FREEHOLD_HOME": str(home), "FREEHOLD_TOKEN": "", **(env or {})}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "freehold", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=environment,
        )
    try:
        assert process.stdout is not None
        yield Served(process, read_line(process.stdout).strip(), log)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
