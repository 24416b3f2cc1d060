"""``freehold reparse``: stored conversations converted again from their kept raw JSON.

What an older importer stored is simulated as in ``test_reread``: the old text, an older
version, and the digest it had. Every comparison is of the archive's own tables (ids left out
where two archives are compared), read with SQL.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from freehold import _sqlite, hookspecs, plugins, reparse
from freehold.archive import Archive, open_archive
from freehold.cli import cli
from freehold.exporters import json as json_export
from freehold.importers._skeleton import Format, Kept
from freehold.importers.openwebui import PARSER_VERSION as OPENWEBUI
from freehold.ingest import import_path
from freehold.models import Problem
from tests import sloppy_importer
from tests.builders import write_zip
from tests.importers.test_claude import chat, msg, tree_export
from tests.importers.test_gemini import BASE, block, html_export, record
from tests.importers.test_gemini import export as gemini_export
from tests.importers.test_llm import legacy_db, store_db
from tests.importers.test_mistral import folder as mistral_folder
from tests.importers.test_openwebui import item, node
from tests.test_local_turns import _turn
from tests.test_reread import (
    EXPORT,
    FIXED,
    _deleted_upstream,
    _gone,
    _stored_by_an_older_importer,
    _text,
)
from tests.test_storage import SAMPLE, freehold, one_line_error

_TABLES = {
    "conversations": (
        "SELECT id, account_id, title, created_at, updated_at, model, current_leaf, project, "
        "archived, starred, message_count, branch_count, digest, raw_sha256, problems, "
        "gone_upstream_at, parser_version FROM conversations ORDER BY id"
    ),
    "messages": "SELECT * FROM messages ORDER BY id",
    "links": "SELECT * FROM message_attachments ORDER BY message_id, pointer",
    "attachments": "SELECT * FROM attachments ORDER BY sha256",
    "context": (
        "SELECT conversation_id, source_message_id, kind, text, data, created_at "
        "FROM context_records ORDER BY 1, 2, 3"
    ),
    "raw": "SELECT sha256, conversation_id, source_id FROM conversation_raw ORDER BY rowid",
    "generations": "SELECT * FROM generations ORDER BY message_id",
}


def _tables(archive: Archive) -> dict[str, list[Any]]:
    return {name: archive.db.execute(sql).fetchall() for name, sql in _TABLES.items()}


def _shape(archive: Archive) -> list[Any]:
    """Every message as a fresh import of the same export would store it, without ids."""
    return archive.db.execute(
        "SELECT c.source_kind, c.source_conversation_id, c.title, c.parser_version, "
        "m.source_message_id, p.source_message_id, m.role, m.text, m.parts, m.hidden, "
        "m.on_visible_path, m.status, m.meta FROM messages m "
        "JOIN conversations c ON c.id = m.conversation_id "
        "LEFT JOIN messages p ON p.id = m.parent_id ORDER BY 1, 2, 5"
    ).fetchall()


def _versions(archive: Archive) -> list[str | None]:
    rows = archive.db.execute("SELECT parser_version FROM conversations ORDER BY rowid")
    return [row[0] for row in rows]


def _older(archive: Archive, version: str | None) -> None:
    """What an older importer left: its version, and a digest the conversion does not give."""
    archive.db.execute("UPDATE conversations SET parser_version = ?, digest = 'older'", (version,))


def _run(archive: Archive, **options: Any) -> reparse.ReparseReport:
    everything = options.pop("everything", False)
    todo = reparse.due(archive, everything=everything)
    return reparse.run(archive, todo, **options)


def test_an_older_importers_conversation_is_converted_as_a_fresh_import_makes_it(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    export = real / EXPORT
    import_path(archive, export, reader_process=False)
    _stored_by_an_older_importer(archive, "openwebui/1")
    report = _run(archive).to_json()
    assert report["ok"] and _text(archive, "ra2") == FIXED
    counts = {"read": 3, "converted": 3, "updated": 1, "unchanged": 2, "skipped": 0}
    assert report["conversations"] == counts
    assert [hit.conversation_id for hit in archive.search("break this down")]  # re-indexed
    with open_archive(tmp_path / "fresh") as fresh:
        import_path(fresh, export, reader_process=False)
        assert _shape(archive) == _shape(fresh)
    source = archive.sources()[-1]
    assert (source["file_name"], source["kind"], source["status"]) == (
        reparse.FILE_NAME,
        "openwebui",
        "complete",
    )
    assert source["report"]["conversations"]["updated"] == 1
    assert reparse.due(archive) == []  # converted: nothing is left to do


def test_every_importer_converts_its_kept_raw_json_to_the_same_rows(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Converted again with nothing but the archive, every importer gives back byte for byte
    what the import stored: the export-level state (accounts, Claude's projects, ChatGPT's
    attachment names, Mistral's id from its file name, Gemini's groups, JSON or HTML) is
    rebuilt from the archive. The stored rows were damaged first, so each is really written."""
    link = "https://gemini.google.com/app/chat9"
    items = [record("Prompted first", BASE, attachedFiles=["notes.txt"])]
    items += [record("Prompted linked", BASE + 7200, None, titleUrl=link)]
    html = [block("alone", "Jan 5, 2026, 10:00:00 AM UTC", "<p>one</p>")]
    for path in (
        SAMPLE,
        tree_export(tmp_path),
        real / "polylogue-aistudio-and-misc",
        real / "librechat-import-data" / "librechat-tree.json",
        mistral_folder(tmp_path),
        legacy_db(tmp_path),
        gemini_export(tmp_path, items),
        html_export(tmp_path, html),
    ):
        assert import_path(archive, path, reader_process=False).ok, path
    before = _tables(archive)
    assert {"claude", "gemini", "mistral", "aistudio", "grok", "librechat", "llm"} <= {
        row[0] for row in archive.db.execute("SELECT source_kind FROM conversations")
    }
    assert any(row[2] for row in before["links"]) and any(row[4] for row in before["links"])
    archive.db.execute("UPDATE messages SET text = 'old', parts = NULL")
    archive.db.execute(
        "DELETE FROM context_records WHERE kind = 'project_instructions' "
        "AND conversation_id IS NOT NULL"
    )
    _older(archive, None)
    report = _run(archive).to_json()
    assert report["ok"], report["problems"]
    assert report["conversations"]["skipped"] == 0 and report["conversations"]["unchanged"] == 0
    after = _tables(archive)
    for name, rows in before.items():
        assert after[name] == rows, name


def test_a_fixed_time_is_not_taken_for_an_older_copy(archive: Archive, real: Path) -> None:
    """An older importer read the times wrong (milliseconds as seconds): converted again from
    the same raw JSON, the right, earlier time is not an older copy of the conversation."""
    import_path(archive, real / EXPORT, reader_process=False)
    right = archive.db.execute("SELECT id, updated_at FROM conversations").fetchall()
    archive.db.execute(
        "UPDATE conversations SET updated_at = updated_at * 1000, "
        "source_updated_at = source_updated_at * 1000"
    )
    _older(archive, "openwebui/1")
    report = _run(archive).to_json()
    assert report["ok"] and report["conversations"]["updated"] == 3, report["problems"]
    assert archive.db.execute("SELECT id, updated_at FROM conversations").fetchall() == right


def test_each_message_keeps_its_own_files_name(archive: Archive, tmp_path: Path) -> None:
    """Two messages each hold an inline image at ``files[0]``, only the second named: converted
    again, the first is not lent the second's name (links are looked up per message)."""
    nodes = [
        node("u1", None, "user", "one", 1700000001),
        node("a1", "u1", "assistant", "ok", 1700000002),
        node("u2", "a1", "user", "two", 1700000003),
    ]
    for at, name in ((0, None), (2, "otter.png")):
        url = "data:image/png;base64," + base64.b64encode(b"png" * (at + 3)).decode()
        nodes[at]["files"] = [{"type": "image", "url": url, **({"name": name} if name else {})}]
    path = tmp_path / "chat-export-1.json"
    path.write_text(json.dumps([item("pics", nodes, "u2")]))
    links = (
        "SELECT m.source_message_id, a.name FROM message_attachments a "
        "JOIN messages m ON m.id = a.message_id ORDER BY 1"
    )
    import_path(archive, path, reader_process=False)
    before = archive.db.execute(links).fetchall()
    assert _run(archive, everything=True).ok
    assert archive.db.execute(links).fetchall() == before
    assert [hit.message_id for hit in archive.search("otter")] == [3]


def test_a_duplicate_id_keeps_the_name_its_format_gave_it(archive: Archive, tmp_path: Path) -> None:
    """Mistral named a message whose id an earlier one holds ``message-<index>`` (so did Grok,
    ``response-<index>``, and AI Studio, ``chunk-<index>``): converted again, or imported again,
    it keeps that name, never stored a second time as ``<id>#2``."""
    chat = [
        {"id": "m1", "role": "user", "content": "hello", "createdAt": "2025-01-01T00:00:00Z"},
        {"id": "m2", "role": "assistant", "content": "one", "createdAt": "2025-01-01T00:00:01Z"},
        {"id": "m2", "role": "assistant", "content": "two", "createdAt": "2025-01-01T00:00:02Z"},
    ]
    path = tmp_path / "chat-12345678-1234-1234-1234-123456789abc.json"
    path.write_text(json.dumps(chat))
    import_path(archive, path, reader_process=False)
    ids = "SELECT source_message_id, text FROM messages ORDER BY id"
    assert archive.db.execute(ids).fetchall() == [
        ("m1", "hello"),
        ("m2", "one"),
        ("message-2", "two"),
    ]
    _older(archive, "mistral/2")
    assert _run(archive).ok
    assert import_path(archive, path, reader_process=False).ok
    assert len(archive.db.execute(ids).fetchall()) == 3 and len(archive.search("two")) == 1


def _claude_account(tmp_path: Path, account: str, instructions: str) -> Path:
    """A Claude export of ``account``: one chat in a project with its own instructions."""
    users = [{"uuid": account, "full_name": account}]
    project = {"uuid": f"p-{account}", "name": "N", "prompt_template": instructions, "docs": []}
    message = msg(f"u-{account}", "human", f"hello {account}", 1)
    talk = chat(f"c-{account}", [message], project_uuid=project["uuid"], account={"uuid": account})
    members = {"conversations.json": [talk], "users.json": users, "projects.json": [project]}
    encoded = {name: json.dumps(value).encode() for name, value in members.items()}
    return write_zip(tmp_path / f"{account}.zip", encoded)


_PROJECTS = (
    "SELECT c.source_conversation_id, r.text FROM context_records r "
    "JOIN conversations c ON c.id = r.conversation_id ORDER BY 1"
)


def test_a_second_accounts_kept_file_is_read_when_converting_again(tmp_path: Path) -> None:
    """Two accounts' ``projects.json`` in one freehold export: the second is kept as
    ``projects.json#<sha12>``, and converting its conversations again still reads it."""
    with open_archive(tmp_path / "a") as a:
        import_path(a, _claude_account(tmp_path, "acc-1", "Answer in French."))
        import_path(a, _claude_account(tmp_path, "acc-2", "Answer in German."))
        made = a.db.execute(_PROJECTS).fetchall()
        json_export.write(a, a.iter_conversations(), tmp_path / "out")
    with open_archive(tmp_path / "b") as b:
        import_path(b, tmp_path / "out")
        b.db.execute("DELETE FROM context_records WHERE conversation_id IS NOT NULL")
        assert _run(b).ok
        assert b.db.execute(_PROJECTS).fetchall() == made


def test_a_file_kept_already_is_not_kept_again_by_an_import_that_adds_nothing(
    tmp_path: Path,
) -> None:
    """The same export imported again keeps none of its files a second time (they convert no
    raw JSON of its own); the files stay one copy each."""
    kept = "SELECT name, sha256 FROM source_files ORDER BY 1"
    with open_archive(tmp_path / "a") as a:
        export = _claude_account(tmp_path, "acc-1", "Answer in French.")
        import_path(a, export)
        once = a.db.execute(kept).fetchall()
        json_export.write(a, a.iter_conversations(), tmp_path / "out")
        assert import_path(a, export).to_json()["conversations"]["unchanged"] == 1
        assert a.db.execute(kept).fetchall() == once
    with open_archive(tmp_path / "b") as b:
        for _ in range(2):
            import_path(b, tmp_path / "out")
        assert b.db.execute(kept).fetchall() == once


def test_a_locally_continued_conversation_keeps_its_turns(archive: Archive, real: Path) -> None:
    import_path(archive, real / EXPORT, reader_process=False)
    cid = _stored_by_an_older_importer(archive, "openwebui/1")
    leaf = archive.get_conversation(cid).current_leaf
    parent = archive.db.execute(
        "SELECT id FROM messages WHERE conversation_id=? AND source_message_id=?", (cid, leaf)
    ).fetchone()[0]
    ours = archive.add_turn(cid, parent, _turn())
    generations = _tables(archive)["generations"]
    assert _run(archive).ok and _text(archive, "ra2") == FIXED
    after = archive.get_conversation(cid)
    assert after.current_leaf == ours[1].source_id
    assert [m.text for m in after.messages if m.origin] == [m.text for m in ours]
    assert all(m.on_visible_path for m in after.messages if m.origin)
    assert _tables(archive)["generations"] == generations


def test_attachments_stay_linked_and_missing_ones_stay_missing(archive: Archive) -> None:
    """The sample's files were stored from its zip, which the reparse never sees."""
    import_path(archive, SAMPLE, reader_process=False)
    before = _tables(archive)
    missing = archive.stats()["attachments_missing"]
    assert missing and before["attachments"]
    linking = "SELECT message_id FROM message_attachments"
    archive.db.execute(f"UPDATE messages SET text = 'old' WHERE id IN ({linking})")
    _older(archive, "chatgpt/2")
    report = _run(archive).to_json()
    assert report["ok"] and report["conversations"]["updated"] > 0
    assert report["attachments"]["missing"] == missing
    assert _tables(archive)["links"] == before["links"]
    assert _tables(archive)["messages"] == before["messages"]


def test_dry_run_lists_what_would_change_and_changes_nothing(
    archive: Archive, real: Path, _isolated_home: Path
) -> None:
    import_path(archive, real / EXPORT, reader_process=False)
    cid = _stored_by_an_older_importer(archive, "openwebui/1")
    before, sources = _tables(archive), archive.sources()
    result = CliRunner().invoke(cli, ["reparse", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] and report["source_id"] is None
    assert report["conversations"]["updated"] == 1
    changed = [item for item in report["items"] if item["status"] == "updated"]
    assert [(i["id"], i["parser_version"], i["converted_by"]) for i in changed] == [
        (cid, "openwebui/1", OPENWEBUI)
    ]
    # what would change in it, per conversation (probe P item 7): ra2's text
    assert changed[0]["messages"] == {"new": 0, "updated": 1, "unchanged": 1}
    assert _tables(archive) == before and archive.sources() == sources
    assert _text(archive, "ra2") == "255"
    other = CliRunner().invoke(cli, ["reparse", "--dry-run", "--json", "--source", "claude"])
    assert json.loads(other.stdout)["conversations"]["read"] == 0
    every_step = {"FREEHOLD_PROGRESS_INTERVAL": "0"}
    shown = CliRunner().invoke(cli, ["reparse", "--dry-run"], env=every_step)
    assert "would change: " + cid in shown.stdout and "dry run" in shown.stdout
    assert "reparse: 3/3 conversations" in shown.stderr  # the progress line off a terminal


def _cells(shown: str, label: str) -> list[int]:
    """The numbers of the table row that ``label`` starts."""
    rows = [line for line in shown.splitlines() if line.strip("│ ").startswith(label)]
    assert len(rows) == 1, shown
    return [int(n) for n in re.findall(r"(?<![\w-])\d+(?![\w-])", rows[0])]


def test_the_report_counts_each_source_kind_as_the_import_table_does(
    archive: Archive, real: Path, _isolated_home: Path
) -> None:
    """Its table had one row of conversations, whose "re-converted" counted only those that
    changed, and a row of messages with one number (changed + new): nothing said how many
    were converted, nor of which source. Now: read, converted again, updated, unchanged,
    skipped, per source kind (--json: ``sources``), and the messages' own counts."""
    import_path(archive, real / EXPORT, reader_process=False)
    import_path(archive, SAMPLE, reader_process=False)
    _stored_by_an_older_importer(archive, None)  # every conversation: none recorded
    (chats,) = archive.db.execute(
        "SELECT count(*) FROM conversations WHERE source_kind = 'chatgpt'"
    ).fetchone()
    report = json.loads(CliRunner().invoke(cli, ["reparse", "--dry-run", "--json"]).stdout)
    keys = ("read", "converted", "updated", "unchanged", "skipped")
    assert report["sources"] == {
        "chatgpt": dict(zip(keys, (chats, chats, 0, chats, 0), strict=True)),
        "openwebui": dict(zip(keys, (3, 3, 1, 2, 0), strict=True)),
    }
    total = (chats + 3, chats + 3, 1, chats + 2, 0)
    assert report["conversations"] == dict(zip(keys, total, strict=True))
    messages = report["messages"]
    assert messages["updated"] == 1 and messages["read"] == messages["unchanged"] + 1 > 1
    shown = CliRunner().invoke(cli, ["reparse", "--dry-run"]).stdout
    assert "reparse (chatgpt, openwebui; dry run: nothing was changed)" in shown
    assert _cells(shown, "conversations") == list(total)
    assert _cells(shown, "chatgpt") == [chats, chats, 0, chats, 0]
    assert _cells(shown, "openwebui") == [3, 3, 1, 2, 0]
    assert _cells(shown, "messages") == [messages["read"], 0, 1, messages["unchanged"]]


def test_nothing_to_convert_is_one_line_and_no_run(
    archive: Archive, real: Path, _isolated_home: Path
) -> None:
    """Probe P item 7: a table of zeros, and ``"source_id": 0`` (no such run) in --json."""
    import_path(archive, real / EXPORT, reader_process=False)
    sources = archive.sources()
    for options in ([], ["--dry-run"]):
        shown = CliRunner().invoke(cli, ["reparse", *options])
        assert shown.exit_code == 0, shown.output
        assert shown.stdout == (
            "nothing to convert: every conversation was stored by its importer's current "
            "version (use --all)\n"
        )
        report = json.loads(CliRunner().invoke(cli, ["reparse", "--json", *options]).stdout)
        assert report["source_id"] is None and report["conversations"]["read"] == 0
    none = CliRunner().invoke(cli, ["reparse", "--all", "--source", "claude"])
    assert none.stdout == "nothing to convert: the archive holds no claude conversation\n"
    assert archive.sources() == sources


def test_interrupted_midway_leaves_it_consistent_and_a_second_run_finishes(
    archive: Archive, real: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped (Ctrl-C) in its second batch: the first batch is converted, the rest is as it
    was, the run's source row says it failed; the next run converts what is left."""
    export = real / EXPORT
    import_path(archive, export, reader_process=False)
    _older(archive, "openwebui/1")
    _stored_by_an_older_importer(archive, "openwebui/1")
    monkeypatch.setattr(reparse, "_BATCH", 2)

    def stop(done: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reparse.run(archive, reparse.due(archive), progress=stop)
    assert not archive.db.in_transaction
    assert archive.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert archive.db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert _versions(archive) == [OPENWEBUI, OPENWEBUI, "openwebui/1"]
    assert archive.sources()[-1]["status"] == "failed"
    # Probe S #2: the report saved counts what was committed, not the batch rolled back.
    saved = json.loads(
        archive.db.execute("SELECT report FROM sources ORDER BY id DESC").fetchone()[0]
    )
    assert saved["conversations"]["read"] == 2
    assert saved["conversations"]["updated"] + saved["conversations"]["unchanged"] == 2
    assert len(reparse.due(archive)) == 1
    assert _run(archive).ok and _versions(archive) == [OPENWEBUI] * 3
    with open_archive(tmp_path / "fresh") as fresh:
        import_path(fresh, export, reader_process=False)
        assert _shape(archive) == _shape(fresh)


def test_what_cannot_be_converted_is_named_and_the_rest_go_on(
    archive: Archive, real: Path, tmp_path: Path, _isolated_home: Path
) -> None:
    import_path(archive, real / EXPORT, reader_process=False)
    import_path(archive, store_db(tmp_path)[0], reader_process=False)
    first, second = [
        row[0]
        for row in archive.db.execute(
            "SELECT id FROM conversations WHERE source_kind = 'openwebui' ORDER BY rowid LIMIT 2"
        )
    ]
    archive.db.execute("DELETE FROM conversation_raw WHERE conversation_id = ?", (second,))
    archive.db.execute("UPDATE conversations SET source_kind = 'gone' WHERE id = ?", (first,))
    _older(archive, None)
    result = CliRunner().invoke(cli, ["reparse", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    why = {i["id"]: i["why"] for i in report["items"] if i["status"] == "skipped"}
    assert "no importer of 'gone'" in why.pop(first)
    assert "raw JSON is not in the archive" in why.pop(second)
    assert why and all("import logs.db again" in text for text in why.values())  # 0.32 threads
    assert report["conversations"]["skipped"] == 2 + len(why)
    assert report["conversations"]["unchanged"] + report["conversations"]["updated"] == 1
    assert {p["where"].rpartition("(")[2].rstrip(")") for p in report["problems"]} >= {first}


def test_a_gone_upstream_flag_stays(archive: Archive, tmp_path: Path) -> None:
    """Converting again proves nothing about the platform: a flag stays, and so does the
    conversation of a later export that the run saw too."""
    _deleted_upstream(archive, tmp_path)
    _older(archive, "chatgpt/2")
    assert _run(archive).ok
    assert _gone(archive) == {"X": True, "Y": False}


class _Sloppy:
    """Registers ``tests.sloppy_importer`` as a third-party plugin would."""

    @hookspecs.hookimpl
    def register_importers(self, register: Any) -> None:
        register(sloppy_importer)


def test_a_plugin_importer_without_format_is_named(archive: Archive, tmp_path: Path) -> None:
    """A third-party importer with only ``detect`` and ``iter_conversations`` cannot convert
    one raw JSON: its conversations are named, and left as they are."""
    name = plugins.pm.register(_Sloppy())
    try:
        path = tmp_path / "data.sloppy"
        path.write_text("{}")
        import_path(archive, path, reader_process=False)
        before = _tables(archive)
        report = _run(archive, everything=True).to_json()
    finally:
        plugins.pm.unregister(name=name)
    assert report["conversations"]["skipped"] == 1 and not report["ok"]
    assert "no FORMAT" in report["items"][0]["why"]
    assert _tables(archive) == before


class _ReadsItsOwnWay(Format):
    """A skeleton format that reads its export without ``convert`` (as llm's 0.32 store)."""

    kind = "own-way"
    version = "own-way/1"


def test_a_format_without_convert_says_so() -> None:
    (problem,) = _ReadsItsOwnWay.reconvert(b"{}", Kept("x1"))
    assert isinstance(problem, Problem) and problem.skipped == 1
    assert "converts no raw JSON on its own" in problem.what and "x1" in problem.where


def test_a_newer_importers_conversation_is_left_as_it_is(archive: Archive, real: Path) -> None:
    import_path(archive, real / EXPORT, reader_process=False)
    _stored_by_an_older_importer(archive, "openwebui/9")
    assert reparse.due(archive) == []
    report = _run(archive, everything=True).to_json()
    assert report["conversations"]["skipped"] == 3 and _text(archive, "ra2") == "255"
    assert f"newer than this freehold's {OPENWEBUI}" in report["problems"][0]["what"]


def test_a_busy_archive_is_one_line(
    archive: Archive, real: Path, monkeypatch: pytest.MonkeyPatch, _isolated_home: Path
) -> None:
    import_path(archive, real / EXPORT, reader_process=False)
    _older(archive, None)
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(_isolated_home / "archive.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        result = CliRunner().invoke(cli, ["reparse"])
    finally:
        other.execute("ROLLBACK")
        other.close()
    one_line_error(result, "the archive is busy", "try again")
    assert set(_versions(archive)) == {None}


def test_a_read_only_archive_is_one_line(
    archive: Archive, real: Path, _isolated_home: Path
) -> None:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be tested")
    import_path(archive, real / EXPORT, reader_process=False)
    _older(archive, None)
    archive.close()
    _isolated_home.chmod(0o500)
    try:
        result = freehold("reparse", home=_isolated_home, unprivileged=True)
        one_line_error(result, "is not writable", str(_isolated_home))
    finally:
        _isolated_home.chmod(0o700)
    with open_archive() as again:
        assert set(_versions(again)) == {None}
