"""``freehold conversations``: the archive's conversations listed, newest first, with the
filters and checks of ``search`` and ``export``; and an id prefix of several conversations
named with them (probe U #8: the CLI could not list conversations, and ``show c1`` named
none of the ids it matched)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freehold.archive import Archive
from freehold.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def rows(_isolated_home: Path) -> list[sqlite3.Row]:
    """The sample imported; its conversations read with sqlite3, newest update first."""
    assert run("import", str(SAMPLE)).exit_code == 0
    db = sqlite3.connect(_isolated_home / "archive.sqlite")
    db.row_factory = sqlite3.Row
    sql = "SELECT * FROM conversations ORDER BY updated_at DESC, id"
    return list(db.execute(sql))


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def test_each_conversation_is_one_line_newest_first(rows: list[sqlite3.Row]) -> None:
    result = run("conversations")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(rows) == 23 and result.stderr == ""
    for line, row in zip(lines, rows, strict=True):
        count = row["message_count"]
        noun = "message" if count == 1 else "messages"
        fields = [row["id"], _day(row["updated_at"]), "chatgpt", str(count), noun]
        assert line.split(maxsplit=5) == [*fields, row["title"] or "(untitled)"]


def test_json_gives_every_field_with_iso_times(rows: list[sqlite3.Row]) -> None:
    result = run("conversations", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [item["id"] for item in listed] == [row["id"] for row in rows]
    first, row = listed[0], rows[0]
    assert first["title"] == row["title"] and first["source"] == "chatgpt"
    assert first["messages"] == row["message_count"] and first["branches"] == row["branch_count"]
    for time in ("created_at", "updated_at"):  # as search --json gives them
        assert first[time] == datetime.fromtimestamp(row[time], UTC).isoformat("T", "seconds")


def test_a_limit_says_how_many_it_leaves_out(rows: list[sqlite3.Row]) -> None:
    result = run("conversations", "--limit", "5", "--json")
    assert [item["id"] for item in json.loads(result.stdout)] == [r["id"] for r in rows[:5]]
    assert result.stderr == "showing 5 of 23 conversations — --limit 23 lists them all\n"


def test_the_period_is_of_the_conversations_created(rows: list[sqlite3.Row]) -> None:
    result = run("conversations", "--since", "2024", "--until", "2024-06", "--json")
    assert result.exit_code == 0, result.output
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    end = datetime(2024, 7, 1, tzinfo=UTC).timestamp()
    wanted = [row["id"] for row in rows if start <= row["created_at"] < end]
    assert 0 < len(wanted) < len(rows)
    assert [item["id"] for item in json.loads(result.stdout)] == wanted


def test_nothing_matching_names_the_filters(rows: list[sqlite3.Row]) -> None:
    result = run("conversations", "--source", "claude")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "no conversations with --source claude\n"
    assert json.loads(run("conversations", "--source", "claude", "--json").stdout) == []


def test_an_empty_archive_says_to_import(archive: Archive) -> None:
    result = run("conversations")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "the archive holds no conversations — import an export first\n"


def test_a_prefix_of_several_conversations_names_them(rows: list[sqlite3.Row]) -> None:
    ids = sorted(row["id"] for row in rows)
    prefix = next(i[:2] for i in ids if 1 < sum(j.startswith(i[:2]) for j in ids) <= 10)
    matching = [row for row in sorted(rows, key=lambda r: r["id"]) if row["id"].startswith(prefix)]
    result = run("show", prefix)
    assert result.exit_code == 1
    named = ", ".join(f"{row['id']} ({row['title'] or 'untitled'})" for row in matching)
    assert result.stderr == (
        f"Error: {prefix!r} matches {len(matching)} conversations: {named} — give more "
        "characters (freehold conversations lists them)\n"
    )


def test_a_prefix_of_more_than_ten_names_ten(rows: list[sqlite3.Row]) -> None:
    result = run("show", "c")
    assert result.exit_code == 1
    first = sorted(row["id"] for row in rows)[:11]
    assert result.stderr.startswith("Error: 'c' matches more than 10 conversations, among them: ")
    assert all(cid in result.stderr for cid in first[:10]) and first[10] not in result.stderr
