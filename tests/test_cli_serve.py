"""``freehold serve`` as a person runs it: a real process, the printed address, a taken port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from freehold.cli import cli


def test_serve_prints_an_address_whose_token_opens_the_app(_isolated_home: Path) -> None:
    env = {**os.environ, "FREEHOLD_HOME": str(_isolated_home), "FREEHOLD_TOKEN": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "freehold", "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline(), process.stderr.readline()]
        found = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{32})", "".join(lines))
        assert found, lines
        url = found.group(0)
        with httpx.Client(timeout=30) as client:
            assert client.get(url.split("?")[0]).status_code == 403
            opened = client.get(url, follow_redirects=True)
        assert opened.status_code == 200
        assert str(opened.url) == url.split("?")[0]
        assert "freehold" in opened.text
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def test_serve_refuses_a_taken_port_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}: cannot listen" in result.output
    assert "--port" in result.output
