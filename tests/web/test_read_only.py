"""The web app over a data folder on a read-only disk: pages that read work; what would write
says so in one line (``storage.py``), never a bare "Internal error".

A real read-only mount (``unshare -rm`` then a read-only bind mount, a real EROFS) around a
real ``freehold serve``; skipped where the machine allows no such mount."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from freehold.models import Message
from freehold.web.security import csrf_token
from tests.web.conftest import serve_process

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
TOKEN = "read-only-token-0123456789"


@pytest.fixture
def read_only(_isolated_home: Path) -> Iterator[httpx.Client]:
    """``freehold serve`` over the sample's archive, its data folder mounted read-only."""
    assert CliRunner().invoke(cli, ["import", str(SAMPLE)]).exit_code == 0
    yield from _serve_read_only(_isolated_home)


def _serve_read_only(_isolated_home: Path) -> Iterator[httpx.Client]:
    mount = f"mount --bind {_isolated_home} {_isolated_home} && mount -o remount,ro,bind "
    mount += str(_isolated_home)
    probe = ["unshare", "-rm", "sh", "-c", f"{mount} && ! touch {_isolated_home}/probe 2>/dev/null"]
    if shutil.which("unshare") is None or subprocess.run(probe, check=False).returncode:
        pytest.skip("no read-only bind mount possible here (unshare -rm refused)")
    prefix = ("unshare", "-rm", "sh", "-c", f'{mount} && exec "$0" "$@"')
    env = {"FREEHOLD_TOKEN": TOKEN}
    with serve_process(_isolated_home, env=env, prefix=prefix) as served:
        cookies = {f"freehold_token_{served.port}": TOKEN}
        headers = {"X-CSRF-Token": csrf_token(TOKEN)}
        with httpx.Client(base_url=served.base, cookies=cookies, headers=headers) as client:
            yield client


def _upload(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/import", files={"file": (name, data)})


def test_pages_that_write_say_the_folder_is_not_writable(
    read_only: httpx.Client, _isolated_home: Path
) -> None:
    assert read_only.get("/conversations").status_code == 200  # reading works
    form = read_only.get("/import")
    assert "read-only" in form.text  # said before anything is sent
    refused = _upload(read_only, "sample.zip", SAMPLE.read_bytes())
    assert refused.status_code == 409, refused.text  # read-only: web/failures.py
    assert f"{_isolated_home / 'uploads'} is not writable" in refused.text
    assert "Another import is running" not in refused.text
    meaning = read_only.get("/search", params={"q": "python", "meaning": "1"})
    assert meaning.status_code != 500, meaning.text
    assert "search by meaning needs a writable data folder once" in meaning.text
    assert read_only.get("/backups").status_code != 500


def test_search_by_meaning_says_what_a_read_only_index_leaves_out(_isolated_home: Path) -> None:
    """R2 #2: the index cannot be brought up to date on a read-only disk; the page searched
    what it held and said nothing of the newer messages it left out."""
    assert CliRunner().invoke(cli, ["import", str(SAMPLE)]).exit_code == 0
    built = CliRunner().invoke(cli, ["search", "--semantic", "--json", "museum ticket"])
    assert built.exit_code == 0, built.output
    with open_archive() as archive:
        cid = archive.select()[0]
        leaf = archive.get_conversation(cid).messages[-1].id
        archive.add_turn(cid, leaf, [Message("", None, "user", "text", [], "museum tents")])
    for client in _serve_read_only(_isolated_home):
        page = client.get("/search", params={"q": "museum ticket", "meaning": "1"})
        assert page.status_code == 200, page.text
        assert "rail pass depends on the museum ticket" in page.text
        said = " ".join(page.text.split())
        assert "1 message newer than the meaning index is not searched" in said
        assert "make it writable" in said
