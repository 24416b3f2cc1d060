"""``freehold serve`` as a person runs it: a real process, the printed address, a taken port."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
from click.testing import CliRunner

from freehold.cli import cli
from tests.web.conftest import serve_process


def test_serve_prints_an_address_whose_token_opens_the_app(_isolated_home: Path) -> None:
    with serve_process(_isolated_home) as served:
        # the address is the command's output (stdout), alone on its line; notices go to stderr
        found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{32})", served.url)
        assert found, served.url
        with httpx.Client(timeout=30) as client:
            assert client.get(served.base).status_code == 403
            opened = client.get(served.url, follow_redirects=True)
        assert opened.status_code == 200
        assert str(opened.url) == served.base + "/"
        assert "freehold" in opened.text
        notices = served.log.read_text()
        assert f"freehold is serving {_isolated_home}" in notices
        assert found[2] not in notices  # the token is printed once, on stdout


def test_serve_refuses_a_taken_port_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}: cannot listen" in result.output
    assert "--port" in result.output
