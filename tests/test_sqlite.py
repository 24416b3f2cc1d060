"""The SQLite files beside the archive (``freehold/_sqlite.py``): backup state, embeddings,
rehearsals, and the profiles folder beside them — a damaged file, a busy one and a read-only
data folder are each one line naming the file, as for the archive (probe M, item 1)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold import _sqlite
from freehold.cli import cli
from freehold.embeddings import EmbeddingStore
from freehold.rehearse.store import STORE_NAME, RunStore
from tests.test_storage import _NO_CAPS, SAMPLE, freehold, one_line_error, unprivileged

__all__ = ["unprivileged"]  # the fixture, shared

SEMANTIC = ("search", "the", "--semantic", "--embedder", "lexical")


@pytest.fixture
def imported(_isolated_home: Path) -> Path:
    result = CliRunner().invoke(cli, ["import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    return _isolated_home


@pytest.mark.parametrize(
    ("name", "args", "todo"),
    [
        ("backup/state.sqlite", ("backup", "status"), "the next run sends every chunk again"),
        ("embeddings.sqlite", SEMANTIC, "delete it: it is built again"),
    ],
)
def test_a_damaged_file_beside_the_archive_is_named_with_what_to_do(
    imported: Path, name: str, args: tuple[str, ...], todo: str
) -> None:
    damaged = imported / name
    damaged.parent.mkdir(exist_ok=True)
    damaged.write_text("garbage\n")
    result = CliRunner().invoke(cli, list(args))
    one_line_error(result, str(damaged), "damaged", "file is not a database", todo)
    assert damaged.read_text() == "garbage\n"  # told, never replaced


def test_a_damaged_file_read_read_only_says_what_to_do_with_that_file(tmp_path: Path) -> None:
    """Review R3, item 2: read read-only, a damaged page is first a change under the reader
    (run again), then the file's own remedy, never the archive's ("restore it")."""
    damaged = tmp_path / "embeddings.sqlite"
    damaged.write_text("garbage\n")
    reader = _sqlite.connect(damaged, read_only=True, damaged="delete it: it is built again")
    with pytest.raises(Exception) as raised:
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    told = str(raised.value)
    assert told.startswith(f"{damaged}: changed while it was read read-only"), told
    assert told.endswith("it is damaged: delete it: it is built again)"), told
    assert "archive" not in told and "restore" not in told
    reader.close()


def test_a_busy_embeddings_store_is_the_busy_line(
    imported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = imported / "embeddings.sqlite"
    EmbeddingStore(path).close()  # made, empty: the search has every vector to write
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        result = CliRunner().invoke(cli, list(SEMANTIC))
    finally:
        other.execute("ROLLBACK")
        other.close()
    one_line_error(result, "the archive is busy", str(path), "database is locked", "try again")


def test_a_read_only_data_folder_is_one_line_for_the_files_beside_the_archive(
    imported: Path, unprivileged: None
) -> None:
    """Nothing beside the archive exists yet: each command has a file or a folder to make."""
    before = sorted(os.listdir(imported))
    imported.chmod(0o500)
    try:
        for args in (["profile", "create", "p"], list(SEMANTIC)):
            result = freehold(*args, home=imported, unprivileged=True)
            one_line_error(result, "is not writable", str(imported))
        rehearse = freehold(
            "rehearse", "--candidates", "a:b", "--yes", home=imported, unprivileged=True
        )
        one_line_error(rehearse, "is not writable", str(imported / "rehearsals.sqlite"))
    finally:
        imported.chmod(0o700)
    assert sorted(os.listdir(imported)) == before


def test_an_existing_file_in_a_read_only_folder_is_one_line(
    imported: Path, unprivileged: None
) -> None:
    """SQLite opens it, then cannot make its WAL beside it: "unable to open", told as the
    folder's (``storage.sqlite_failure``)."""
    path = imported / "rehearsals.sqlite"
    made = sqlite3.connect(path)
    made.execute("PRAGMA journal_mode=WAL")
    made.close()  # its -wal and -shm go with the last connection
    imported.chmod(0o500)
    try:
        result = freehold(
            "rehearse", "--candidates", "a:b", "--yes", home=imported, unprivileged=True
        )
    finally:
        imported.chmod(0o700)
    one_line_error(result, "is not writable", str(path))


# The web app's rehearsal pages, read in a child process (permissions hold for children only).
_READ_PAGES = """
import sys
from pathlib import Path
from starlette.testclient import TestClient
from freehold.web import create_app
app = create_app(Path(sys.argv[1]), "tok-0123456789abcdefgh", port=8765)
with TestClient(app, base_url="http://127.0.0.1:8765") as client:
    client.cookies.set("freehold_token_8765", "tok-0123456789abcdefgh")
    for url in sys.argv[2:]:
        print(url, client.get(url).status_code)
"""


def test_rehearsal_pages_read_a_read_only_data_folder(imported: Path, unprivileged: None) -> None:
    """Review R3 #5: the pages only read ``rehearsals.sqlite``, so a folder they cannot write
    shows them (opening the store for writing switched it to WAL: a write, refused)."""
    with RunStore(imported / STORE_NAME) as store:
        run = store.start("plan", {}, "lexical", [])
        candidate = {"ref": "a:b", "score": 91.5, "similarity": 0.9, "noise": 0.1}
        store.finish(run, [], [{**candidate, "refused": 0, "failed": 0}])
    before = sorted(os.listdir(imported))
    prefix = ["setpriv", "--bounding-set", _NO_CAPS, "--inh-caps", _NO_CAPS]
    imported.chmod(0o500)
    try:
        shown = subprocess.run(
            [
                *(prefix if os.geteuid() == 0 else []),
                *(sys.executable, "-c", _READ_PAGES, str(imported)),
                *("/rehearsals", f"/rehearsals/{run}"),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        imported.chmod(0o700)
    assert shown.stdout.split() == ["/rehearsals", "200", f"/rehearsals/{run}", "200"]
    assert sorted(os.listdir(imported)) == before
