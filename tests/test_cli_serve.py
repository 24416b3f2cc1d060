"""``freehold serve`` as a person runs it: a real process, the printed address, a taken port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
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


def _serve(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``freehold serve`` expected to stop at once (it would otherwise serve until killed)."""
    environment = {**os.environ, "FREEHOLD_HOME": str(home), "FREEHOLD_TOKEN": "", **(env or {})}
    command = [sys.executable, "-m", "freehold", "serve", "--port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--token", "a"], {}, "--token"),
        (["--token", "fifteen-chars-x"], {}, "--token"),
        (["--token", "has spaces in it, 30 chars long"], {}, "--token"),
        ([], {"FREEHOLD_TOKEN": "short"}, "FREEHOLD_TOKEN"),
    ],
)
def test_serve_refuses_a_weak_token_with_one_line(
    _isolated_home: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    result = _serve(_isolated_home, *args, env=env)
    assert result.returncode == 1
    assert result.stdout == ""  # no address: nothing was served
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"Error: {named}: the access token")
    assert "at least 16" in line


def test_serve_open_hands_the_browser_a_one_time_code_not_the_token(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """The browser's command line is visible to every user (`ps`): it gets a code that opens
    the app once. $BROWSER, which Python's webbrowser honours, stands in for the browser."""
    if os.name != "posix":
        pytest.skip("the stand-in browser is a shell script")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}.part && mv {opened}.part {opened}\n')
    browser.chmod(0o755)
    with serve_process(_isolated_home, "--open", env={"BROWSER": str(browser)}) as served:
        token = served.url.split("?token=")[1]
        deadline = time.monotonic() + 30
        while not opened.exists():
            assert time.monotonic() < deadline, "the browser was never opened"
            time.sleep(0.02)
        url = opened.read_text()
        assert token not in url
        assert re.fullmatch(re.escape(served.base) + r"/\?code=[\w-]{32}", url), url
        with httpx.Client(timeout=30) as browser_client:
            page = browser_client.get(url, follow_redirects=True)
            assert page.status_code == 200 and str(page.url) == served.base + "/"
        with httpx.Client(timeout=30) as someone_else:
            assert someone_else.get(url).status_code == 403  # spent


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_serve_warns_when_it_listens_beyond_this_machine(
    _isolated_home: Path, host: str, warned: bool
) -> None:
    with serve_process(_isolated_home, "--host", host) as served:
        with httpx.Client(timeout=30) as client:  # it answers on this machine either way
            assert client.get(served.url, follow_redirects=True).status_code == 200
        notices = served.log.read_text()
    assert ("reachable from the network" in notices) is warned
    assert ("add --allow-host <name>" in notices) is warned


def network_address() -> str:
    """This machine's address on its network, as a browser elsewhere would reach it (routing a
    UDP socket sends nothing); without a network, 127.0.0.2: another address all the same."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: only the route is looked up
        except OSError:
            return "127.0.0.2"
        address: str = probe.getsockname()[0]
    return "127.0.0.2" if address.startswith("127.") else address


def test_serve_on_every_address_answers_at_this_machines_address(_isolated_home: Path) -> None:
    """What the warning promises: the printed address, with this machine's own address in
    place of 127.0.0.1, opens the app; a host name it was not given is refused, saying how."""
    address = network_address()
    with (
        serve_process(_isolated_home, "--host", "0.0.0.0") as served,
        httpx.Client(timeout=30, trust_env=False) as client,
    ):
        url = served.url.replace("127.0.0.1", address)
        opened = client.get(url, follow_redirects=True)
        named = client.get(url, headers={"host": f"archive.lan:{served.port}"})
    assert opened.status_code == 200, (address, opened.text)
    assert str(opened.url) == f"http://{address}:{served.port}/"
    assert named.status_code == 400
    assert "start `freehold serve` with --allow-host archive.lan." in named.text


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("999.1.1.1", "999.1.1.1: no such address or host name ("),
        ("203.0.113.254", "203.0.113.254: not an address of this machine ("),
    ],
)
def test_serve_refuses_a_host_it_cannot_listen_on_naming_the_host(host: str, said: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", host, "--port", "0"])
    assert result.exit_code == 1
    assert said in result.output
    assert "give --host one of this machine's addresses" in result.output
    assert "--port" not in result.output


def test_serve_on_a_missing_archive_says_so_and_leaves_nothing_if_nothing_came_in(
    tmp_path: Path,
) -> None:
    home = tmp_path / "new-home"
    with serve_process(home) as served:
        with httpx.Client(timeout=30) as client:
            assert client.get(served.url, follow_redirects=True).status_code == 200
        assert (home / "archive.sqlite").exists()  # made for the import page meanwhile
        notices = served.log.read_text()
    assert f"no archive at {home} yet" in notices
    assert not home.exists()  # nothing was imported: what serve made is gone


def test_serve_keeps_an_archive_that_was_there(_isolated_home: Path) -> None:
    from freehold.archive import open_archive

    open_archive(_isolated_home).close()
    with serve_process(_isolated_home) as served:
        assert served.url.startswith("http://127.0.0.1:")
    assert "no archive at" not in served.log.read_text()
    assert (_isolated_home / "archive.sqlite").exists()


def test_the_printed_address_is_listening_before_the_app_starts() -> None:
    """What `serve` prints may be opened at once (by --open's browser, or a script): the
    socket already listens, so a connection waits in the queue instead of being refused."""
    from freehold.cli.serve import listen

    sock = listen("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname(), timeout=5):
            pass  # accepted by the kernel's queue: nobody has called accept() yet
    finally:
        sock.close()
