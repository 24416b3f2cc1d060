"""A real freehold web server on 127.0.0.1 (uvicorn in a thread) over a real archive."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from freehold.web import create_app
from freehold.web.security import csrf_token

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

    @property
    def cookie(self) -> str:
        return f"freehold_token_{self.port}"

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client already holding the access cookie."""
        return httpx.Client(
            base_url=self.url, cookies={self.cookie: self.token}, timeout=30, **kwargs
        )


def start_server(
    home: Path, max_upload: int = 8 << 30, hosts: set[str] | None = None
) -> Iterator[Server]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    guard = create_app(home, TOKEN, port=port, max_upload=max_upload, hosts=hosts)
    config = uvicorn.Config(guard, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test web server did not start")
        time.sleep(0.02)
    try:
        url = f"http://127.0.0.1:{port}"
        yield Server(url, port, TOKEN, csrf_token(TOKEN), home, guard.app.state)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture
def server(_isolated_home: Path) -> Iterator[Server]:
    """A server over this test's (empty until a test imports something) archive."""
    yield from start_server(_isolated_home)
