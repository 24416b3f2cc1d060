"""An archive over years: opened by an older freehold than the one that last updated it, read
on a read-only disk before its update, reported on by an import or a reparse that was
interrupted, and un-flagged by a newer export (probe S).

Real archives through real imports and the real CLI; an older archive is made by today's code
with the later migration steps left out (``builders.steps_before``), a newer one by naming a
step this freehold does not know in ``_freehold_migrations``, as a newer freehold would have.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from freehold.errors import NewerArchiveError
from freehold.migrations import MIGRATIONS

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


def test_user_version_counts_the_steps_for_other_tools(tmp_path: Path) -> None:
    with open_archive(tmp_path / "home"):
        pass
    version = _rows(tmp_path / "home" / "archive.sqlite", "PRAGMA user_version")
    assert version == [(len(MIGRATIONS),)]
