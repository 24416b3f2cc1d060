"""``freehold search`` says when it shows part of what it found: the total goes to stderr (as
the web page shows ``result.total``), stdout and ``--json`` keep their shape, and ``--offset``
pages as the web pager does (hits skipped from the same ranked list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from freehold.archive import open_archive
from freehold.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def hits(result: Result) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = orjson.loads(result.stdout)
    return found


@pytest.fixture
def total(_isolated_home: Path) -> int:
    """How many messages hold "the" in the sample: what the web page counts."""
    run("import", str(SAMPLE))
    with open_archive() as archive:
        found = archive.search_page("the", limit=1).total
    assert 40 < found < 1000  # more than two pages of 20, fewer than the cap
    return found


def test_a_cut_list_says_how_many_there_are_on_stderr(total: int) -> None:
    shown = run("search", "the")
    assert f"showing 1–20 of {total} matches — --offset 20 for the next" in shown.stderr
    as_json = run("search", "the", "--json")
    assert len(hits(as_json)) == 20  # stdout is the list it always was
    assert f"of {total} matches" in as_json.stderr


def test_a_whole_list_says_nothing_more(total: int) -> None:
    result = run("search", "the", "--limit", "1000", "--json")
    assert len(hits(result)) == total
    assert "showing" not in result.stderr


def test_offset_pages_through_the_same_ranked_list(total: int) -> None:
    first_two = hits(run("search", "the", "--limit", "40", "--json"))
    second = run("search", "the", "--offset", "20", "--json")
    assert hits(second) == first_two[20:40]
    assert f"showing 21–40 of {total} matches — --offset 40 for the next" in second.stderr
    last = run("search", "the", "--offset", str(total - 3), "--json")
    assert len(hits(last)) == 3
    assert f"showing {total - 2}–{total} of {total} matches" in last.stderr
    assert "for the next" not in last.stderr


def test_an_offset_past_the_last_match_says_so(total: int) -> None:
    result = run("search", "the", "--offset", str(total), "--json")
    assert hits(result) == []  # a script paging until an empty page ends cleanly
    assert f"no matches past --offset {total}: {total} in all" in result.stderr
