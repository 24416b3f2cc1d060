"""An archive over years: opened by an older freehold than the one that last updated it, read
on a read-only disk before its update, reported on by an import or a reparse that was
interrupted, and un-flagged by a newer export (probe S).

Real archives through real imports and the real CLI; an older archive is made by today's code
with the later migration steps left out (``builders.steps_before``), a newer one by naming a
step this freehold does not know in ``_freehold_migrations``, as a newer freehold would have.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold import migrations
from freehold.archive import open_archive
from freehold.cli import cli
from freehold.errors import NewerArchiveError
from freehold.migrations import MIGRATIONS
from tests.builders import ingest, steps_before
from tests.test_storage import freehold, one_line_error

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
NEWER_STEP = "m099_from_a_newer_freehold"


def _invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"FREEHOLD_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


# -- 1. an archive a newer freehold updated ------------------------------------------------


@pytest.fixture
def newer(tmp_path: Path) -> Path:
    """A data folder whose archive a newer freehold updated: a step this one does not know."""
    home = tmp_path / "newer"
    code, _, err = _invoke(home, "import", str(SAMPLE))
    assert code == 0, err
    with sqlite3.connect(home / "archive.sqlite") as db:
        db.execute(
            "INSERT INTO _freehold_migrations VALUES (?, '2027-06-01T00:00:00+00:00')",
            (NEWER_STEP,),
        )
    return home


def test_an_archive_a_newer_freehold_updated_is_not_written(newer: Path, real: Path) -> None:
    path = newer / "archive.sqlite"
    before = _rows(path, "SELECT count(*) FROM sources")
    export = real / "polylogue-aistudio-and-misc" / "claude-design-session.json"
    code, _, err = _invoke(newer, "import", str(export))
    assert code != 0
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    assert str(path) in errors[0] and NEWER_STEP in errors[0]
    assert "newer freehold" in errors[0] and "upgrade freehold" in errors[0]
    assert _rows(path, "SELECT count(*) FROM sources") == before  # nothing written


def test_commands_that_only_read_refuse_it_too(newer: Path) -> None:
    """Decision 2026-12-07: a newer format may keep what this freehold does not look for (an
    index of words, a table), so its answers would be silently short; refused, with the same
    line, rather than read."""
    code, out, err = _invoke(newer, "stats", "--json")
    assert code != 0 and out == ""
    assert NEWER_STEP in err and "upgrade freehold" in err


def test_the_library_refuses_it_with_its_own_error(newer: Path) -> None:
    with pytest.raises(NewerArchiveError, match=NEWER_STEP):
        open_archive(newer, create=False)


def test_an_unknown_step_numbered_below_the_newest_is_from_a_development_build(
    newer: Path,
) -> None:
    """Review R5-1: a step no release has (a branch build's, renamed before it landed, as
    m010_glued_words became m012_glued_words) is not from a newer freehold: no upgrade opens
    it, so the line says where it came from and to restore a backup made before."""
    path = newer / "archive.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM _freehold_migrations WHERE name = ?", (NEWER_STEP,))
        db.execute("INSERT INTO _freehold_migrations VALUES ('m013_x', '2026-12-01')")
    code, out, err = _invoke(newer, "stats")
    assert code != 0 and out == ""
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    assert str(path) in errors[0] and "m013_x" in errors[0]
    assert "development build" in errors[0] and "backup" in errors[0]
    assert "upgrade freehold" not in errors[0]


def test_user_version_counts_the_steps_for_other_tools(tmp_path: Path) -> None:
    with open_archive(tmp_path / "home"):
        pass
    version = _rows(tmp_path / "home" / "archive.sqlite", "PRAGMA user_version")
    assert version == [(len(MIGRATIONS),)]


# -- 3. an older archive on a read-only disk -----------------------------------------------


@pytest.fixture
def unprivileged() -> None:
    """Permissions hold for this process's children: not root, or root without its powers."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be tested")


def _older(home: Path, monkeypatch: pytest.MonkeyPatch, steps: int) -> Path:
    """A data folder written by the freehold of the first ``steps`` migration steps."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", steps_before(steps))
        with open_archive(home) as old:
            ingest(old, SAMPLE)
    return home


def test_an_older_archive_on_a_read_only_disk_says_to_copy_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unprivileged: None
) -> None:
    home = _older(tmp_path / "old", monkeypatch, 14)  # m015 recounts what readers show
    listing = sorted(os.listdir(home))
    home.chmod(0o500)
    try:
        result = freehold("stats", "--json", home=home, unprivileged=True)
    finally:
        home.chmod(0o700)
    error = one_line_error(result, str(home / "archive.sqlite"), "older freehold")
    assert "copy the folder" in error and "FREEHOLD_HOME" in error, error
    assert "attempt to write" not in error
    assert sorted(os.listdir(home)) == listing  # nothing written
    assert ("m015_revisions_counted_apart",) not in _rows(
        home / "archive.sqlite", "SELECT name FROM _freehold_migrations"
    )


def test_steps_that_readers_do_not_need_wait_for_a_writable_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unprivileged: None
) -> None:
    """m016 changes nothing a reader reads: an archive lacking only it is read as it is, and
    updated by the first command that can write it."""
    home = _older(tmp_path / "m015", monkeypatch, 15)
    before = _rows(home / "archive.sqlite", "PRAGMA user_version")
    home.chmod(0o500)
    try:
        result = freehold("stats", "--json", home=home, unprivileged=True)
    finally:
        home.chmod(0o700)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["conversations"] > 0
    assert _rows(home / "archive.sqlite", "PRAGMA user_version") == before  # not written
    code, _, err = _invoke(home, "stats", "--json")
    assert code == 0, err
    assert _rows(home / "archive.sqlite", "PRAGMA user_version") == [(len(MIGRATIONS),)]
