"""import_path end to end: idempotency, newer exports, gone-upstream flags, and kill -9."""

from __future__ import annotations

import gc
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
import zlib
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from freehold import ingest as ingest_module
from freehold.archive import Archive, open_archive
from freehold.errors import FreeholdError
from freehold.importers import _safezip
from freehold.importers._plan import plan
from freehold.ingest import ImportReport, import_path
from freehold.render import import_report

ACCOUNT = b'{"id": "user-same", "email": "me@example.org"}'


# -- building exports ------------------------------------------------------------------------------


def node(mid: str, parent: str | None, role: str, text: str, t: float) -> dict[str, Any]:
    message = {
        "id": mid,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": t,
        "content": {"content_type": "text", "parts": [text]},
        "status": "finished_successfully",
        "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
        "recipient": "all",
    }
    return {"id": mid, "message": message, "parent": parent}


def conversation(
    cid: str, turns: list[tuple[str, str | None, str, str]], current: str
) -> dict[str, Any]:
    """turns: (message id, parent id, role, text); a null-message root is added."""
    mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None}}
    for number, (mid, parent, role, text) in enumerate(turns):
        mapping[mid] = node(mid, parent or "root", role, text, 1_700_000_000.0 + number)
    return {
        "id": cid,
        "conversation_id": cid,
        "title": f"About {cid}",
        "create_time": 1_700_000_000.0,
        "update_time": 1_700_000_000.0 + len(turns),
        "mapping": mapping,
        "current_node": current,
    }


def basic(cid: str) -> dict[str, Any]:
    return conversation(
        cid, [("u", None, "user", f"question {cid}"), ("a", "u", "assistant", f"answer {cid}")], "a"
    )


def grown(cid: str) -> dict[str, Any]:
    """``basic`` plus a regenerated answer (a new branch) and a follow-up turn."""
    turns: list[tuple[str, str | None, str, str]] = [
        ("u", None, "user", f"question {cid}"),
        ("a", "u", "assistant", f"answer {cid}"),
        ("a2", "u", "assistant", f"regenerated answer {cid}"),
        ("u3", "a2", "user", "tell me more"),
        ("a3", "u3", "assistant", "more details here"),
    ]
    return conversation(cid, turns, "a3")


def export_zip(path: Path, convs: list[dict[str, Any]], *, account: bytes | None = ACCOUNT) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("conversations.json", json.dumps(convs))
        if account is not None:
            zf.writestr("user.json", account)
    return path


def ingest(archive: Archive, path: Path) -> ImportReport:
    return import_path(archive, path, reader_process=False)


def without_imports(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stats.items() if key != "imports"}


def count(archive: Archive, table: str) -> int:
    return int(archive.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- idempotency -----------------------------------------------------------------------------------


def test_same_file_twice_changes_nothing(archive: Archive, tmp_path: Path) -> None:
    path = export_zip(tmp_path / "export.zip", [basic("c1"), grown("c2"), basic("c3")])
    first = ingest(archive, path)
    stats, raws = archive.stats(), count(archive, "conversation_raw")
    second = ingest(archive, path)
    assert first.conversations["new"] == 3
    assert second.conversations["unchanged"] == second.conversations["read"] == 3
    assert second.conversations["new"] == second.conversations["updated"] == 0
    assert second.messages["unchanged"] == second.messages["read"] == 9
    assert second.messages["new"] == second.messages["updated"] == 0
    assert second.ok and second.gone_upstream == 0
    assert without_imports(archive.stats()) == without_imports(stats)
    assert archive.stats()["imports"] == 2
    assert count(archive, "conversation_raw") == raws == 3


def test_reserialised_export_is_unchanged_but_keeps_the_new_raw(
    archive: Archive, tmp_path: Path
) -> None:
    convs = [basic("c1")]
    ingest(archive, export_zip(tmp_path / "one-line.zip", convs))
    pretty = tmp_path / "pretty.zip"
    with zipfile.ZipFile(pretty, "w") as zf:
        zf.writestr("conversations.json", json.dumps(convs, indent=2, sort_keys=True))
        zf.writestr("user.json", ACCOUNT)
    report = ingest(archive, pretty)
    assert report.conversations["unchanged"] == 1 and report.messages["unchanged"] == 2
    raws = archive.raw_versions(archive.resolve("c1"))
    assert [json.loads(raw) for raw in raws] == convs * 2 and raws[0] != raws[1]


# -- a newer export --------------------------------------------------------------------------------


@pytest.fixture
def two_exports(archive: Archive, tmp_path: Path) -> tuple[ImportReport, ImportReport]:
    old = export_zip(tmp_path / "2024.zip", [basic("grows"), basic("removed"), basic("same")])
    new = export_zip(tmp_path / "2025.zip", [grown("grows"), basic("same"), basic("fresh")])
    return ingest(archive, old), ingest(archive, new)


def test_newer_export_counts(two_exports: tuple[ImportReport, ImportReport]) -> None:
    _, report = two_exports
    assert report.ok
    assert (report.conversations["new"], report.conversations["updated"]) == (1, 1)
    assert report.conversations["unchanged"] == 1
    assert report.messages["new"] == 3 + 2
    assert report.messages["updated"] == 1  # the first answer left the visible path
    assert report.messages["unchanged"] == 2 + 1
    assert report.gone_upstream == 1


def test_newer_export_keeps_old_messages_and_adds_the_branch(
    archive: Archive, two_exports: Any
) -> None:
    conv = archive.get_conversation("grows")
    assert sorted(m.source_id for m in conv.messages) == ["a", "a2", "a3", "u", "u3"]
    assert [m.source_id for m in conv.messages if m.on_visible_path] == ["u", "a2", "u3", "a3"]
    assert conv.current_leaf == "a3"
    row = archive.db.execute(
        "SELECT message_count, branch_count FROM conversations WHERE source_conversation_id='grows'"
    ).fetchone()
    assert row == (5, 2)  # two branches: u → a, and u → a2 → u3 → a3
    assert len(archive.raw_versions(archive.resolve("grows"))) == 2


def test_removed_conversation_is_flagged_not_deleted(archive: Archive, two_exports: Any) -> None:
    gone = archive.get_conversation("removed")
    assert gone.gone_upstream_at is not None
    assert [m.text for m in gone.messages] == ["question removed", "answer removed"]
    assert archive.get_conversation("same").gone_upstream_at is None
    stats = archive.stats()
    assert stats["gone_upstream"] == 1 and stats["conversations"] == 4
    assert archive.search("removed")


def test_conversation_back_upstream_clears_the_flag(
    archive: Archive, tmp_path: Path, two_exports: Any
) -> None:
    back = export_zip(
        tmp_path / "2026.zip", [grown("grows"), basic("same"), basic("fresh"), basic("removed")]
    )
    report = ingest(archive, back)
    assert report.conversations["unchanged"] == 4 and report.gone_upstream == 0
    assert archive.get_conversation("removed").gone_upstream_at is None
    assert archive.stats()["gone_upstream"] == 0


def test_the_report_counts_the_flags_it_clears(
    archive: Archive, tmp_path: Path, two_exports: Any
) -> None:
    """Probe S #4: the flag was cleared after the report was built, and no field counted it:
    the report said "unchanged 4, gone upstream 0" and `stats` then one flag fewer."""
    back = export_zip(
        tmp_path / "2026.zip", [grown("grows"), basic("same"), basic("fresh"), basic("removed")]
    )
    report = ingest(archive, back).to_json()
    saved = json.loads(
        archive.db.execute("SELECT report FROM sources ORDER BY id DESC").fetchone()[0]
    )
    assert report.get("back_upstream") == saved.get("back_upstream") == 1
    assert archive.stats()["gone_upstream"] == 0
    caption = str(import_report(report).caption)
    assert "back upstream (flag cleared): 1" in caption, caption
    again = ingest(archive, back).to_json()  # nothing flagged any more: nothing cleared
    assert again["back_upstream"] == 0
    assert "back upstream" not in str(import_report(again).caption)


def test_partial_export_flags_nothing(archive: Archive, tmp_path: Path) -> None:
    ingest(archive, export_zip(tmp_path / "full.zip", [basic("one"), basic("two")]))
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(cut, "w") as zf:
        zf.writestr("conversations.json", json.dumps([basic("one"), basic("two")])[:300])
        zf.writestr("user.json", ACCOUNT)
    report = ingest(archive, cut)
    assert not report.ok and report.gone_upstream == 0
    assert archive.stats()["gone_upstream"] == 0


def test_other_account_is_never_flagged(archive: Archive, tmp_path: Path) -> None:
    ingest(archive, export_zip(tmp_path / "mine.zip", [basic("mine")]))
    other = export_zip(tmp_path / "theirs.zip", [basic("theirs")], account=b'{"id": "user-other"}')
    assert ingest(archive, other).gone_upstream == 0
    assert archive.get_conversation("mine").gone_upstream_at is None


def test_account_learnt_later_still_flags_gone(archive: Archive, tmp_path: Path) -> None:
    bare = tmp_path / "conversations.json"
    bare.write_text(json.dumps([basic("one"), basic("two")]))
    ingest(archive, bare)
    ingest(archive, export_zip(tmp_path / "full.zip", [basic("one"), basic("two")]))
    assert archive.get_conversation("one").account_id == "user-same"
    report = ingest(archive, export_zip(tmp_path / "newer.zip", [basic("one")]))
    assert report.gone_upstream == 1


# -- an older export after a newer one -------------------------------------------------------------


def older_and_newer(tmp_path: Path) -> tuple[Path, Path]:
    """The probe's case (2026-12-07, defect 4): the newer export renamed ``grows`` and went
    on with it, and holds ``fresh``, begun after the older one was made."""
    renamed = grown("grows")
    renamed["title"] = "New title"
    fresh = conversation(
        "fresh", [("u", None, "user", "hi"), ("a", "u", "assistant", "there")], "a"
    )
    fresh["create_time"] = fresh["update_time"] = 1_700_000_900.0
    old = export_zip(tmp_path / "old.zip", [basic("grows")])
    return old, export_zip(tmp_path / "new.zip", [renamed, fresh])


def archive_state(archive: Archive) -> list[Any]:
    """What the archive says of its conversations and messages, less where and when each
    row was first written (import ids and clock times)."""
    conversations = archive.db.execute(
        "SELECT c.source_conversation_id, c.title, c.created_at, c.updated_at, m.source_message_id,"
        " c.message_count, c.branch_count, c.digest, c.raw_sha256, c.problems, "
        "c.gone_upstream_at IS NOT NULL FROM conversations c "
        "LEFT JOIN messages m ON m.id = c.current_leaf ORDER BY 1"
    ).fetchall()
    raws = archive.db.execute(
        "SELECT c.source_conversation_id, r.sha256 FROM conversation_raw r "
        "JOIN conversations c ON c.id = r.conversation_id ORDER BY 1, 2"
    ).fetchall()
    return [conversations, message_rows(archive), raws]


def test_an_older_export_after_a_newer_one_rolls_nothing_back(
    archive: Archive, tmp_path: Path
) -> None:
    old, new = older_and_newer(tmp_path)
    ingest(archive, new)
    report = ingest(archive, old)
    assert report.ok and report.gone_upstream == 0
    assert report.conversations["unchanged"] == 1 and report.messages["new"] == 0
    conv = archive.get_conversation("grows")
    assert conv.title == "New title" and conv.updated_at == 1_700_000_005.0
    assert conv.current_leaf == "a3"
    assert [m.source_id for m in conv.messages if m.on_visible_path] == ["u", "a2", "u3", "a3"]
    assert archive.get_conversation("fresh").gone_upstream_at is None
    assert len(archive.raw_versions(archive.resolve("grows"))) == 2  # the older one is kept
    (note,) = [p.what for p in report.problems]
    assert note.startswith("an older copy (updated 2023-11-14T22:13:22Z) than the archive's")
    again = ingest(archive, old)  # said once: by the import that brought that copy
    assert again.problems == [] and again.conversations["unchanged"] == 1


def test_two_exports_give_one_archive_whatever_the_order(tmp_path: Path) -> None:
    old, new = older_and_newer(tmp_path)
    states = []
    for name, order in (("forwards", [old, new]), ("backwards", [new, old])):
        with open_archive(tmp_path / name) as archive:
            for path in order:
                ingest(archive, path)
            states.append(archive_state(archive))
    assert states[0] == states[1]


def test_an_older_copy_adds_the_messages_only_it_has_off_the_visible_path(
    archive: Archive, tmp_path: Path
) -> None:
    """A branch the newer export no longer holds is kept, as it would be the other way round."""
    older = conversation(
        "c",
        [
            ("u", None, "user", "q"),
            ("a", "u", "assistant", "first"),
            ("x", "u", "user", "walruses?"),
        ],
        "a",
    )
    newer = conversation(
        "c",
        [
            ("u", None, "user", "q"),
            ("a", "u", "assistant", "first"),
            ("b", "a", "user", "more"),
            ("c", "b", "assistant", "done"),
        ],
        "c",
    )
    ingest(archive, export_zip(tmp_path / "new.zip", [newer]))
    report = ingest(archive, export_zip(tmp_path / "old.zip", [older]))
    assert report.conversations["updated"] == 1 and report.messages["new"] == 1
    assert "with 1 message only it had" in report.problems[0].what
    conv = archive.get_conversation("c")
    assert sorted(m.source_id for m in conv.messages) == ["a", "b", "c", "u", "x"]
    assert [m.source_id for m in conv.messages if m.on_visible_path] == ["u", "a", "b", "c"]
    assert by_source(conv)["x"].parent_source_id == "u" and conv.current_leaf == "c"
    row = archive.db.execute(
        "SELECT message_count, branch_count FROM conversations WHERE source_conversation_id='c'"
    ).fetchone()
    assert row == (5, 2)
    assert [h.message_id for h in archive.search("walruses")] == [by_source(conv)["x"].id]


def by_source(conv: Any) -> dict[str, Any]:
    return {m.source_id: m for m in conv.messages}


def test_a_full_export_flags_what_it_lacks_unless_it_is_older(
    archive: Archive, tmp_path: Path
) -> None:
    """Gone upstream: what a full export lacks, the newest conversation too (deleted upstream);
    but nothing from an export that brought an older copy than the archive's."""
    late = basic("late")
    late["update_time"] = 1_700_000_900.0
    ingest(archive, export_zip(tmp_path / "all.zip", [basic("kept"), basic("deleted"), late]))
    report = ingest(archive, export_zip(tmp_path / "later.zip", [basic("kept")]))
    assert report.gone_upstream == 2
    assert archive.get_conversation("deleted").gone_upstream_at is not None
    assert archive.get_conversation("late").gone_upstream_at is not None
    newer = basic("renamed")
    newer["update_time"], newer["title"] = 1_700_000_900.0, "Renamed later"
    second = b'{"id": "user-two"}'
    ingest(archive, export_zip(tmp_path / "new.zip", [newer, basic("fresh")], account=second))
    older = ingest(archive, export_zip(tmp_path / "old.zip", [basic("renamed")], account=second))
    assert older.gone_upstream == 0
    assert archive.get_conversation("fresh").gone_upstream_at is None


def test_an_older_export_brought_again_keeps_the_flags_a_newer_one_set(
    archive: Archive, tmp_path: Path
) -> None:
    """Probe C3: Jan's export again after March's leaves what March flagged flagged — even a
    conversation Jan brings unchanged, met before the older copy that shows Jan is older."""
    newer = basic("a")
    newer["update_time"] = 1_700_000_900.0
    jan = export_zip(tmp_path / "jan.zip", [basic("b"), basic("a")])
    ingest(archive, jan)
    ingest(archive, export_zip(tmp_path / "mar.zip", [newer, basic("c")]))
    assert archive.get_conversation("b").gone_upstream_at is not None
    again = ingest(archive, jan)
    assert again.conversations["unchanged"] == 2 and again.gone_upstream == 0
    assert archive.get_conversation("b").gone_upstream_at is not None
    assert archive.get_conversation("c").gone_upstream_at is None
    back = ingest(archive, export_zip(tmp_path / "may.zip", [newer, basic("b"), basic("c")]))
    assert back.gone_upstream == 0 and archive.stats()["gone_upstream"] == 0


def test_a_copy_without_messages_never_replaces_one_with_them(
    archive: Archive, tmp_path: Path
) -> None:
    """Probe C2: the same update time and `"mapping": null` used to empty the visible path."""
    empty = basic("p")
    empty["mapping"] = None
    ingest(archive, export_zip(tmp_path / "good.zip", [basic("p")]))
    report = ingest(archive, export_zip(tmp_path / "empty.zip", [empty]))
    assert any("it holds no messages" in p.what for p in report.problems), report.problems
    conv = archive.get_conversation("p")
    assert [m.text for m in conv.messages if m.on_visible_path] == ["question p", "answer p"]
    assert conv.current_leaf == "a" and conv.title == "About p"


def test_a_signal_in_the_last_commit_leaves_the_source_failed(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe C4: the last batch's commit sat outside the writer's try, so its transaction stayed
    open and marking the source failed failed in turn: the row stayed `running`."""
    convs = [basic(f"c{n}") for n in range(ingest_module._BATCH_CONVERSATIONS + 1)]
    real = Archive._index_pending

    def stopped_in_the_last(self: Archive) -> None:
        if 0 < len(self._fts_pending) < 100:  # the last batch: a conversation or two
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(Archive, "_index_pending", stopped_in_the_last)
    with pytest.raises(KeyboardInterrupt):
        ingest(archive, export_zip(tmp_path / "two.zip", convs))
    assert source_rows(archive) == [("chatgpt", "failed")]
    assert not archive.db.in_transaction
    assert 0 < archive.stats()["conversations"] < len(convs)  # the first batch stays


def test_an_interrupted_import_reports_what_it_committed(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe S #2: stopped in its second batch, the import saved a report that counted the
    batch it rolled back (the archive held 996 conversations, the report said 1,496 new)."""
    monkeypatch.setattr(ingest_module, "_BATCH_CONVERSATIONS", 2)
    real = Archive.add_conversation
    calls = []

    def stopped_in_the_second_batch(self: Archive, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:  # the fourth is written and counted, uncommitted
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Archive, "add_conversation", stopped_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest(archive, export_zip(tmp_path / "five.zip", [basic(f"c{n}") for n in range(5)]))
    assert source_rows(archive) == [("chatgpt", "failed")]
    report = json.loads(archive.db.execute("SELECT report FROM sources").fetchone()[0])
    held = archive.db.execute(
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)"
    ).fetchone()
    assert held == (3, 6)  # batches of two items: user.json and c0, c1 and c2; c3 rolled back
    assert (report["conversations"]["new"], report["messages"]["new"]) == held
    assert (report["conversations"]["read"], report["messages"]["read"]) == held
    assert "the import stopped: SIGINT received" in report["problems"][-1]["what"]


def _report_and_held(archive: Archive) -> tuple[dict[str, Any], int]:
    report = json.loads(archive.db.execute("SELECT report FROM sources").fetchone()[0])
    return report, archive.db.execute("SELECT count(*) FROM conversations").fetchone()[0]


def test_a_stop_just_after_a_commit_keeps_the_batch_counted(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R5-2: a signal that lands after a batch's COMMIT, before its counts were added,
    found no transaction to undo, and the report lost what the archive held (3 held, 1 new)."""
    monkeypatch.setattr(ingest_module, "_BATCH_CONVERSATIONS", 2)
    real = Archive.commit
    calls = []

    def stopped_after_the_second_batch(self: Archive) -> None:
        real(self)
        calls.append(1)
        if len(calls) == 3:  # the source row's, the first batch's, the second batch's
            raise KeyboardInterrupt

    monkeypatch.setattr(Archive, "commit", stopped_after_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest(archive, export_zip(tmp_path / "five.zip", [basic(f"c{n}") for n in range(5)]))
    report, held = _report_and_held(archive)
    assert held == 3  # user.json and c0, c1 and c2 committed; c3 and c4 never begun
    assert report["conversations"]["new"] == report["conversations"]["read"] == held


def test_a_batch_sqlite_rolled_back_itself_is_not_counted(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No transaction open is not proof of a COMMIT: an error SQLite answers by rolling the
    transaction back itself (a full disk; here ON CONFLICT ROLLBACK) leaves none either."""
    monkeypatch.setattr(ingest_module, "_BATCH_CONVERSATIONS", 2)
    real = Archive.add_conversation
    calls = []

    def rolled_back_in_the_third_batch(self: Archive, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:  # c4; c3 is written and counted in the same batch
            self.db.execute(
                "INSERT OR ROLLBACK INTO _freehold_migrations SELECT * FROM "
                "_freehold_migrations LIMIT 1"
            )
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Archive, "add_conversation", rolled_back_in_the_third_batch)
    with pytest.raises(sqlite3.IntegrityError):
        ingest(archive, export_zip(tmp_path / "five.zip", [basic(f"c{n}") for n in range(5)]))
    report, held = _report_and_held(archive)
    assert held == 3
    assert report["conversations"]["new"] == report["conversations"]["read"] == held


def test_a_rolled_back_batch_brings_nothing_back_upstream(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R5-3: the archive remembered that a batch it rolled back brought a flagged
    conversation back: the failed import's report counted it in back_upstream and its end
    cleared the flag, though nothing of that batch was kept."""
    ingest(archive, export_zip(tmp_path / "a.zip", [basic(f"c{n}") for n in range(4)]))
    ingest(archive, export_zip(tmp_path / "b.zip", [basic(f"c{n}") for n in range(3)]))
    assert archive.stats()["gone_upstream"] == 1  # c3
    monkeypatch.setattr(ingest_module, "_BATCH_CONVERSATIONS", 2)
    real = Archive.add_conversation
    calls = []

    def stopped_in_the_third_batch(self: Archive, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:  # c4; c3, flagged, is written in the same batch
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Archive, "add_conversation", stopped_in_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest(archive, export_zip(tmp_path / "c.zip", [basic(f"c{n}") for n in range(5)]))
    report = json.loads(
        archive.db.execute("SELECT report FROM sources ORDER BY id DESC").fetchone()[0]
    )
    assert report["conversations"]["unchanged"] == 3  # c0, c1, c2 committed
    assert report["back_upstream"] == 0
    assert archive.stats()["gone_upstream"] == 1  # c3 still flagged


# -- kill -9 in the middle of an import ------------------------------------------------------------

_IMPORT = """
import sys
from pathlib import Path
from freehold.archive import open_archive
from freehold.ingest import import_path
with open_archive() as archive:
    import_path(archive, Path(sys.argv[1]))
"""


def big_export(path: Path, conversations: int = 1700) -> Path:
    """About 20 MB of conversations JSON, ten long turns each, streamed into the zip."""
    filler = "lorem ipsum dolor sit amet " * 36
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("user.json", ACCOUNT)
        with zf.open("conversations.json", "w") as out:
            out.write(b"[")
            for number in range(conversations):
                turns = [
                    (
                        f"m{j}",
                        f"m{j - 1}" if j else None,
                        "user" if j % 2 == 0 else "assistant",
                        f"w{number} turn {j} {filler}",
                    )
                    for j in range(10)
                ]
                out.write(
                    (b", " if number else b"")
                    + json.dumps(conversation(f"big-{number:05d}", turns, "m9")).encode()
                )
            out.write(b"]")
    return path


def committed_conversations(db_path: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)) as db:
            return int(db.execute("SELECT count(*) FROM conversations").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created or not migrated yet


def kill_when_rows_land(process: subprocess.Popen[bytes], db_path: Path) -> int:
    """Poll (bounded) until a batch is committed, then SIGKILL the import's process group."""
    for _ in range(6000):
        if process.poll() is not None:
            break
        if db_path.exists() and (found := committed_conversations(db_path)):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return found
        time.sleep(0.005)
    process.kill()
    process.wait()
    pytest.fail(f"no committed rows seen before the import ended (rc={process.returncode})")
    return 0


def message_rows(archive: Archive) -> list[tuple[Any, ...]]:
    return archive.db.execute(
        "SELECT m.conversation_id, m.source_message_id, p.source_message_id, m.role, m.text, "
        "m.on_visible_path, m.hidden FROM messages m LEFT JOIN messages p ON p.id = m.parent_id "
        "ORDER BY 1, 2"
    ).fetchall()


def assert_consistent(archive: Archive) -> None:
    assert archive.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    mismatched = archive.db.execute(
        "SELECT c.id FROM conversations c WHERE c.message_count != "
        "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) OR c.message_count = 0"
    ).fetchall()
    assert mismatched == []
    archive.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    assert count(archive, "messages_fts_docsize") == count(archive, "messages")


def test_kill_9_mid_import_leaves_a_consistent_archive(
    tmp_path: Path, _isolated_home: Path
) -> None:
    path = big_export(tmp_path / "big.zip")
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("conversations.json").file_size > 18 << 20
    with (tmp_path / "stderr.txt").open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", _IMPORT, str(path)],
            env=dict(os.environ),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        seen = kill_when_rows_land(process, _isolated_home / "archive.sqlite")
    assert process.returncode == -signal.SIGKILL and seen > 0
    with open_archive(_isolated_home) as archive:
        assert_consistent(archive)
        assert 0 < archive.stats()["conversations"] < 1700
        report = import_path(archive, path)
        assert report.ok and report.conversations["read"] == 1700
        assert_consistent(archive)
        resumed, rows = archive.stats(), message_rows(archive)
    with open_archive(tmp_path / "clean") as clean:
        import_path(clean, path)
        assert without_imports(clean.stats()) == without_imports(resumed)
        assert message_rows(clean) == rows


# -- any value of any type -------------------------------------------------------------------------


def source_rows(archive: Archive) -> list[tuple[str, str]]:
    return archive.db.execute("SELECT kind, status FROM sources ORDER BY id").fetchall()


def test_odd_types_cost_the_value_not_the_conversation(archive: Archive, tmp_path: Path) -> None:
    """The issue's case: attachment name and mime type of the wrong type, a numeric model."""
    odd = basic("odd")
    user = odd["mapping"]["u"]["message"]
    user["metadata"]["attachments"] = [{"id": "file-x1", "name": {"a": 1}, "mime_type": ["x"]}]
    odd["mapping"]["a"]["message"]["metadata"]["model_slug"] = 5
    odd["default_model_slug"] = {"slug": "gpt-4o"}
    report = ingest(archive, export_zip(tmp_path / "odd.zip", [odd, basic("fine")]))
    assert report.conversations["new"] == 2 and report.conversations["skipped"] == 0
    assert source_rows(archive) == [("chatgpt", "complete")]
    notes = [p.what for p in report.problems if p.where == "conversation odd" and not p.lost]
    assert any(n.startswith("name: an object where text was expected") for n in notes)
    assert any(n.startswith("mime_type: an array where text was expected") for n in notes)
    assert any(n.startswith("model_slug: a number (5)") for n in notes)
    raw = archive.db.execute(
        "SELECT r.data FROM conversation_raw r JOIN conversations c ON c.id = r.conversation_id "
        "WHERE c.source_conversation_id = 'odd'"
    ).fetchone()[0]
    assert b'"name": {"a": 1}' in zlib.decompress(raw)


@pytest.fixture
def plugin() -> Any:
    """Register a test importer as a plugin would, for one test."""
    from freehold import hookspecs, plugins

    registered: list[Any] = []

    def use(module: Any) -> None:
        class Plugin:
            @hookspecs.hookimpl
            def register_importers(self, register: Any) -> None:
                register(module)

        registered.append(plugins.pm.register(Plugin()))

    yield use
    for name in registered:
        plugins.pm.unregister(name=name)


def test_a_plugins_odd_values_are_dropped_and_noted(
    archive: Archive, tmp_path: Path, plugin: Any
) -> None:
    from tests import sloppy_importer

    plugin(sloppy_importer)
    path = tmp_path / "data.sloppy"
    path.write_text("{}")
    report = ingest(archive, path)
    assert report.conversations["new"] == 1 and report.conversations["skipped"] == 1
    assert source_rows(archive) == [("sloppy", "partial")]
    (conv,) = archive.iter_conversations()
    assert conv.title is None and conv.model is None
    (message,) = conv.messages
    assert message.model is None and message.created_at is None and message.parts[0]["text"] == ""
    assert message.attachments[0].name is None and message.attachments[0].mime is None
    noted = " | ".join(p.what for p in report.problems)
    assert "title: an object where text was expected" in noted
    assert "attachment name: an object" in noted and "no usable source_id" in noted


def test_an_import_that_breaks_leaves_its_source_failed(
    archive: Archive, tmp_path: Path, plugin: Any
) -> None:
    from tests import failing_importer

    plugin(failing_importer)
    path = tmp_path / "anything.json"
    path.write_text("[]")
    with pytest.raises(RuntimeError, match="fell apart"):
        ingest(archive, path)
    assert source_rows(archive) == [("failing", "failed")]
    (report,) = [s["report"] for s in archive.sources()]
    assert "the import stopped: the export fell apart" in report["problems"][-1]["what"]


def test_the_import_collects_young_objects_less_often_and_restores_the_setting(
    archive: Archive, tmp_path: Path
) -> None:
    path = export_zip(tmp_path / "export.zip", [basic("c1"), grown("c2")])
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    import_path(archive, path, lambda *_: during.append(gc.get_threshold()), reader_process=False)
    assert during and {t[0] for t in during} == {ingest_module._YOUNG_COLLECTION}
    assert gc.get_threshold() == before
    with pytest.raises(FreeholdError):  # stopped: the setting is back all the same
        import_path(archive, tmp_path / "missing.zip", reader_process=False)
    assert gc.get_threshold() == before


def test_an_import_reads_the_zip_its_plan_opened_and_closes_it(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opening a zip export reads and checks its whole directory: once per import, not once
    # to plan and again to read. What was opened is closed at the end.
    opened: list[_safezip.ZipFiles] = []
    real_init = _safezip.ZipFiles.__init__

    def counting_init(self: _safezip.ZipFiles, path: Path) -> None:
        real_init(self, path)
        opened.append(self)

    monkeypatch.setattr(_safezip.ZipFiles, "__init__", counting_init)
    path = export_zip(tmp_path / "export.zip", [basic("c1"), grown("c2")])
    report = import_path(archive, path, reader_process=False)
    assert report.conversations["new"] == 2 and report.kept_files == ["user.json"]
    assert len(opened) == 1
    assert opened[0]._zip is not None and opened[0]._zip.fp is None  # closed
    assert not _safezip._LENT.zips
    found = plan(path, keep=True)
    assert pickle.loads(pickle.dumps(found)).files is None  # a spawned reader opens its own
    found.close()


def test_overlapping_imports_put_the_collection_setting_back_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first, second = ingest_module._fewer_collections(), ingest_module._fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start ends first: the other still runs
    assert gc.get_threshold()[0] == ingest_module._YOUNG_COLLECTION
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
