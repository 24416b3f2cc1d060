"""A message's earlier version (``<id>#rev-<n>``, kept on import when the platform changed its
words) is neither a message of its conversation nor a branch: one rule,
``models.thread_counts``, gives the counts the import stores (``conversations.message_count``,
``branch_count``), so ``stats``, the CSV, the web list and the Markdown/HTML index say them;
migration m015 recounts an archive written before, and drops the exact duplicates of kept
words that an older import made (A→B→A), so no revision holds the words its message has."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freehold import archive as archive_module
from freehold import migrations
from freehold.archive import ARCHIVE_NAME, Archive, open_archive
from freehold.cli import cli
from freehold.exporters import json as json_export
from freehold.models import Message, count_branches
from tests.builders import chatgpt_chats, ingest, steps_before


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), terminal_width=200)


def _version(folder: Path, answer: str, n: int) -> Path:
    """Conversation c1 of ChatGPT's export ``n`` (each newer than the one before): a question
    and ``answer``."""
    return chatgpt_chats(
        folder / f"v{n}-{answer}.zip", {"c1": ("Plan", ["question", answer])}, 1.7e9 + n * 100
    )


def _stored(archive: Archive) -> tuple[int, int]:
    row = archive.db.execute("SELECT message_count, branch_count FROM conversations").fetchone()
    return row[0], row[1]


def _texts(archive: Archive) -> dict[str, str]:
    rows = archive.db.execute("SELECT source_message_id, text FROM messages ORDER BY id")
    return dict(rows.fetchall())


@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["newer-last", "older-last"])
def test_a_revision_is_neither_a_message_nor_a_branch_in_the_stored_counts(
    archive: Archive, tmp_path: Path, order: tuple[int, int]
) -> None:
    # The older copy imported last is kept aside (``_add_aside``): the same rows, counted alike.
    for n in order:
        ingest(archive, _version(tmp_path, ("forty-two", "forty-three")[n], n))
    assert _texts(archive) == {"c1-0": "question", "c1-1": "forty-three", "c1-1#rev-1": "forty-two"}
    assert _stored(archive) == (2, 1)
    conv = next(archive.iter_conversations())
    assert (conv.message_count, conv.branch_count) == (2, 1)
    row = archive.conversation_rows().rows[0]  # the web app's list
    assert (row.message_count, row.branch_count) == (2, 1)
    stats = archive.stats()
    assert stats["messages"] == 2 and stats["branched_conversations"] == 0
    assert stats["per_source"]["chatgpt"]["messages"] == 2


def test_a_turn_written_here_recounts_without_the_revision(
    archive: Archive, tmp_path: Path
) -> None:
    for n, answer in enumerate(("forty-two", "forty-three")):
        ingest(archive, _version(tmp_path, answer, n))
    cid = archive.resolve("c1")
    leaf = archive.find_message(cid, archive.get_conversation(cid).current_leaf or "")
    turn = [
        Message("", None, "user", "text", [{"type": "text", "text": "why?"}], "why?"),
        Message("", None, "assistant", "text", [{"type": "text", "text": "Sure."}], "Sure."),
    ]
    archive.add_turn(cid, leaf.id, turn)
    assert _stored(archive) == (4, 1)  # _local.show_path


def test_stats_csv_and_indexes_say_the_counts_without_the_revision(tmp_path: Path) -> None:
    for n, answer in enumerate(("forty-two", "forty-three")):
        assert run("import", str(_version(tmp_path, answer, n))).exit_code == 0
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["messages"] == 2 and stats["branched_conversations"] == 0
    assert run("export", "--format", "csv", "--out", str(tmp_path / "csv")).exit_code == 0
    with (tmp_path / "csv" / "conversations.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["messages"], row["branches"]) == ("2", "1")
    assert run("export", "--format", "markdown", "--out", str(tmp_path / "md")).exit_code == 0
    assert "· 2 messages" in (tmp_path / "md" / "index.md").read_text()
    assert run("export", "--format", "html", "--out", str(tmp_path / "html")).exit_code == 0
    assert "<td>2</td></tr>" in (tmp_path / "html" / "index.html").read_text()


def _old_counts(
    ids: dict[str, int], parents: dict[int, int | None], leaf: int | None
) -> tuple[int, int]:
    """What the import stored before m015: every row a message and a branch."""
    return len(parents), count_branches(parents, leaf)


def _archive_before_m015(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Archive written by the code before m015 (through real imports): c1's answer went
    forty-two → forty-three → forty-two, which kept forty-two twice (``c1-1`` and
    ``c1-1#rev-1``, the import before probe P #6 never compared the incoming words) and
    counted the revisions as messages and branches. Its JSON export, written then, is in
    ``old-export``."""
    real = archive_module.Archive._revision

    def before_p6(self: Archive, *args: Any) -> None:  # the words shown: never any stored
        real(self, *args[:4], (None,) * 13)

    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", steps_before(14))
        patch.setattr(archive_module, "thread_counts", _old_counts)
        patch.setattr(archive_module.Archive, "_revision", before_p6)
        with open_archive(home) as old:
            for n, answer in enumerate(("forty-two", "forty-three", "forty-two")):
                ingest(old, _version(tmp_path, answer, n))
            assert _stored(old) == (4, 3)
            json_export.write(old, old.iter_conversations(), tmp_path / "old-export")


def test_m015_recounts_and_drops_the_revision_that_holds_the_current_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _archive_before_m015(home, tmp_path, monkeypatch)
    with open_archive(home) as archive:
        assert _texts(archive) == {
            "c1-0": "question",
            "c1-1": "forty-two",
            "c1-1#rev-2": "forty-three",
        }
        assert _stored(archive) == (2, 1)
        assert len(archive.search("forty-two")) == 1  # its index row went with it
        # the words come back again: the revision that held them takes the replaced ones
        ingest(archive, _version(tmp_path, "forty-three", 3))
        assert _texts(archive) == {
            "c1-0": "question",
            "c1-1": "forty-three",
            "c1-1#rev-2": "forty-two",
        }
        assert _stored(archive) == (2, 1)


def test_an_export_written_before_m015_brings_no_duplicate_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _archive_before_m015(home, tmp_path, monkeypatch)
    once = {"c1-0": "question", "c1-1": "forty-two", "c1-1#rev-2": "forty-three"}
    with open_archive(tmp_path / "elsewhere") as fresh:
        report = ingest(fresh, tmp_path / "old-export").to_json()
        assert _texts(fresh) == once and _stored(fresh) == (2, 1)
        assert report["messages"]["new"] == len(once)  # its duplicate left out
        again = ingest(fresh, tmp_path / "old-export").to_json()
        assert again["conversations"]["unchanged"] == 1 and _texts(fresh) == once
    with open_archive(home) as archive:  # migrated: the duplicate it held is gone
        report = ingest(archive, tmp_path / "old-export").to_json()
        assert _texts(archive) == once and _stored(archive) == (2, 1)
        assert report["messages"]["new"] == 0


def test_m015_reads_each_conversation_through_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review R4 #1: "has a follower" was a correlated subquery on messages.parent_id, which has
    # no index: a SCAN of messages per message (3 min 52 s on a 69 MB archive). The only scan
    # left is the one that finds the conversations holding a revision (over an index).
    home = tmp_path / "home"
    _archive_before_m015(home, tmp_path, monkeypatch)
    db = sqlite3.connect(home / ARCHIVE_NAME, isolation_level=None)
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    assert migrations.migrate(db)[0] == "m015_revisions_counted_apart"
    db.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().startswith("SELECT") and "FROM messages" in s]
    plans = [[row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {s}")] for s in reads]
    scans = [step for plan in plans for step in plan if step.startswith("SCAN")]
    assert scans == ["SCAN messages USING COVERING INDEX sqlite_autoindex_messages_1"], plans
    assert len(plans) == 2  # the finder, then one read per conversation holding a revision
    db.close()


def _kept_revision(archive: Archive, parts: str | None) -> int:
    """Keep a revision ``c1-1#rev-1`` beside c1's answer with its words and ``parts``, as an
    older import could (before review R1 compared words alone); its id."""
    archive.db.execute(
        "INSERT INTO messages (conversation_id, parent_id, source_message_id, role, author_name, "
        "model, created_at, content_type, parts, text, hidden, on_visible_path, status, meta) "
        "SELECT conversation_id, parent_id, source_message_id || '#rev-1', role, author_name, "
        "model, created_at, content_type, ?, text, hidden, 0, status, meta FROM messages "
        "WHERE source_message_id = 'c1-1'",
        (parts,),
    )
    return int(archive.db.execute("SELECT max(id) FROM messages").fetchone()[0])


def _exported_and_imported(archive: Archive, tmp_path: Path) -> Archive:
    json_export.write(archive, archive.iter_conversations(), tmp_path / "export")
    fresh = open_archive(tmp_path / "elsewhere")
    ingest(fresh, tmp_path / "export")
    return fresh


def test_a_revision_of_the_same_words_in_other_parts_survives_a_json_round_trip(
    archive: Archive, tmp_path: Path
) -> None:
    # Review R4 #2: m015 keeps such a revision (not an exact duplicate); the import of the JSON
    # export that carries it compared words alone and dropped it. One rule now: message_content.
    ingest(archive, _version(tmp_path, "forty-two", 0))
    code = '[{"type": "code", "language": "unknown", "text": "forty-two"}]'
    _kept_revision(archive, code)
    with _exported_and_imported(archive, tmp_path) as fresh:
        assert _texts(fresh) == {"c1-0": "question", "c1-1": "forty-two", "c1-1#rev-1": "forty-two"}
        (parts,) = fresh.db.execute(
            "SELECT parts FROM messages WHERE source_message_id = 'c1-1#rev-1'"
        ).fetchone()
        assert json.loads(parts) == json.loads(code)
        assert _stored(fresh) == (2, 1)


def test_a_carried_duplicate_that_is_the_current_leaf_stays(
    archive: Archive, tmp_path: Path
) -> None:
    # m015 keeps a duplicate the conversation shows (its current leaf); the import of the JSON
    # export left it out, and the copy's current leaf with it.
    ingest(archive, _version(tmp_path, "forty-two", 0))
    leaf = _kept_revision(archive, None)
    archive.db.execute("UPDATE conversations SET current_leaf = ?", (leaf,))
    with _exported_and_imported(archive, tmp_path) as fresh:
        assert "c1-1#rev-1" in _texts(fresh)
        assert fresh.get_conversation(fresh.resolve("c1")).current_leaf == "c1-1#rev-1"


def test_a_new_revision_takes_the_number_after_the_highest_after_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _archive_before_m015(home, tmp_path, monkeypatch)  # m015 leaves c1-1#rev-2 alone
    with open_archive(home) as archive:
        ingest(archive, _version(tmp_path, "forty-four", 3))
        assert _texts(archive) == {
            "c1-0": "question",
            "c1-1": "forty-four",
            "c1-1#rev-2": "forty-three",
            "c1-1#rev-3": "forty-two",
        }


def test_revisions_of_a_long_conversation_are_numbered_in_linear_time(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review R4 #3: each revision made looked through every message of the conversation and
    # of the copy, twice (4.69 s for 3,000 messages all changed). Counted, not timed: how
    # often a source id is asked whether it names a revision.
    n = 200
    for v, tag in enumerate(("", " (edited)")):
        texts = [f"turn {i}{tag}" for i in range(n)]
        ingest(archive, chatgpt_chats(tmp_path / f"{v}.zip", {"c1": ("Long", texts)}, 1.7e9 + v))
    asked = 0
    real = archive_module.revision_of

    def counted(source_id: str) -> str | None:
        nonlocal asked
        asked += 1
        return real(source_id)

    monkeypatch.setattr(archive_module, "revision_of", counted)
    texts = [f"turn {i} (again)" for i in range(n)]
    ingest(archive, chatgpt_chats(tmp_path / "2.zip", {"c1": ("Long", texts)}, 1.7e9 + 2))
    assert _texts(archive)["c1-0#rev-2"] == "turn 0 (edited)"
    assert asked < 10 * n, asked  # 7 n now; quadratic before (280,600 for n = 200)


def test_reparse_recounts_without_the_revision(tmp_path: Path) -> None:
    # reparse writes through the import (Archive.add_conversation, again): its counts are
    # models.thread_counts's, the revision left out.
    for n, answer in enumerate(("forty-two", "forty-three")):
        assert run("import", str(_version(tmp_path, answer, n))).exit_code == 0
    result = run("reparse", "--all")
    assert result.exit_code == 0, result.output
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["messages"] == 2 and stats["branched_conversations"] == 0
