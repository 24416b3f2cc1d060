"""How the web app answers a failure (``freehold/web/failures.py``): a busy archive is 503 with
Retry-After and a plain line, one that cannot be written 409, a full disk 507, a damaged archive
500 with its one line; never a traceback. Real archives, a real server, a real second writer."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from freehold import _sqlite as sqlite_module
from freehold import storage
from freehold.archive import ARCHIVE_NAME
from freehold.errors import StorageError
from tests.web.conftest import Server, start_server
from tests.web.test_security import CID, sample_home

BUSY = "the archive is busy — another freehold command is writing; try again in a moment"


@pytest.fixture
def busy(_isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A server over the sample while another program holds a write transaction on it;
    the server's connections wait 0.2 s for it (opened after this patch)."""
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT", 0.2)
    home = sample_home(_isolated_home)
    with closing(sqlite3.connect(home / ARCHIVE_NAME, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        yield from start_server(home)
        other.execute("ROLLBACK")


def star(client: httpx.Client, server: Server, **headers: str) -> httpx.Response:
    own = {"X-CSRF-Token": server.csrf, "Origin": f"http://127.0.0.1:{server.port}"}
    return client.post(f"/conversations/{CID}/star?starred=1", headers={**own, **headers})


def test_a_busy_archive_is_503_with_retry_after_and_a_plain_line(busy: Server) -> None:
    with busy.client() as client:
        answered = star(client, busy)
        asked_json = star(client, busy, Accept="application/json")
        reading = client.get(f"/conversations/{CID}")  # reading works meanwhile (WAL)
    assert answered.status_code == 503, answered.text[:300]
    assert answered.headers["retry-after"] == "5"
    assert f'<p class="notice error">{BUSY}</p>' in answered.text
    assert "Traceback" not in answered.text and "database is locked" not in answered.text
    assert asked_json.status_code == 503 and asked_json.headers["retry-after"] == "5"
    assert asked_json.json() == {"status": 503, "error": BUSY}
    assert reading.status_code == 200


def test_a_damaged_archive_is_500_with_its_one_line(_isolated_home: Path) -> None:
    """The messages table's first page overwritten (a failing disk): a conversation's page
    reads it and SQLite says "malformed"; the page says so in one line, naming the archive
    and what to do."""
    home = sample_home(_isolated_home)
    path = home / ARCHIVE_NAME
    with closing(sqlite3.connect(path)) as db:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        sql = "SELECT rootpage FROM sqlite_master WHERE name = 'messages'"
        (root,) = db.execute(sql).fetchone()
    with path.open("r+b") as damaged:
        damaged.seek((root - 1) * size)
        damaged.write(b"\xff" * size)
    for server in start_server(home):
        with server.client() as client:
            answered = client.get(f"/conversations/{CID}")
    assert answered.status_code == 500, answered.text[:300]
    assert "Traceback" not in answered.text
    (line,) = [row for row in answered.text.splitlines() if 'class="notice error"' in row]
    assert str(path) in line and "damaged" in line and "restore" in line, line


def _sqlite(code: int, text: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(text)
    error.sqlite_errorcode = code
    return error


FAILURES = {  # each kind of storage failure, as storage.py words it, and its status
    "busy": (storage.sqlite_failure(_sqlite(5, "database is locked"), Path("a")), 503),
    "read-only": (storage.failure(OSError(errno.EROFS, "Read-only file system", "a")), 409),
    "full": (storage.failure(OSError(errno.ENOSPC, "No space left on device", "a")), 507),
    "io": (storage.sqlite_failure(_sqlite(10, "disk I/O error"), Path("a")), 500),
    "path": (storage.failure(OSError(errno.ENOTDIR, "Not a directory", "a")), 500),
    "write": (storage.failure(OSError(errno.EIO, "Input/output error", "a")), 500),
}


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_each_kind_of_storage_failure_has_its_status(kind: str) -> None:
    from freehold.web.failures import answer

    error, status = FAILURES[kind]
    assert isinstance(error, StorageError) and error.kind == kind
    assert answer(error).status == status
    assert set(FAILURES) == set(storage.STORAGE_KINDS)  # a new kind needs its status here


def test_a_bug_is_said_to_be_one_with_its_traceback_kept(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R3 #6: freehold's own bug (here a constraint SQLite refuses) is the same rule
    as the command line's (``faults``): the page says it is a bug to report and names the
    file in the data folder's logs that holds its traceback; the page itself holds none."""
    from freehold.archive import Archive

    def broken(*args: object, **kwargs: object) -> None:
        db = sqlite3.connect(":memory:")
        db.executescript("CREATE TABLE t (a UNIQUE); INSERT INTO t VALUES (1), (1);")

    home = sample_home(_isolated_home)
    monkeypatch.setattr(Archive, "stats", broken)
    for server in start_server(home):
        with server.client() as client:
            answered = client.get("/")
    assert answered.status_code == 500 and "Traceback" not in answered.text
    (line,) = [row for row in answered.text.splitlines() if 'class="notice error"' in row]
    kept = sorted((home / "logs").glob("bug-*.txt"))
    assert len(kept) == 1 and str(kept[0]) in line and "please report it" in line, line
    assert "IntegrityError: UNIQUE constraint failed: t.a" in kept[0].read_text()
