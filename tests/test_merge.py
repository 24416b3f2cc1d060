"""How a re-import merges with what the archive holds (probe O, items 1, 2 and 5): turns a
freehold export carries arrive even when the platform's copy is the same; which copy is older
is judged by the platform's own update time (``conversations.source_updated_at``), never by one
a local turn moved; a message whose text changed upstream keeps its earlier text as a revision;
the same conversation id from another account is kept as raw JSON only, not merged."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive, open_archive
from freehold.exporters import json as json_export
from freehold.ingest import import_path
from freehold.models import Message
from freehold.tree import branch_paths


def _node(mid: str, parent: str | None, role: str | None, text: str, at: float | None) -> Any:
    message = None
    if role is not None:
        content = {"content_type": "text", "parts": [text]}
        message = {"id": mid, "author": {"role": role}, "create_time": at, "content": content}
        message["metadata"] = {}
    return {"id": mid, "parent": parent, "children": [], "message": message}


def _conv(cid: str, title: str, nodes: list[Any], updated: float) -> dict[str, Any]:
    mapping = {node["id"]: node for node in nodes}
    for node in nodes:
        if node["parent"]:
            mapping[node["parent"]]["children"].append(node["id"])
    head = {"id": cid, "title": title, "create_time": 1700000000.0, "update_time": updated}
    return {**head, "mapping": mapping, "current_node": nodes[-1]["id"]}


def _oak(answer: str = "Use a sharp plane.", **head: Any) -> dict[str, Any]:
    nodes = [
        _node("root", None, None, "", None),
        _node("u1", "root", "user", "How do I plane oak?", 1700000001.0),
        _node("a1", "u1", "assistant", answer, 1700000002.0),
    ]
    return {**_conv("conv-oak", "Planing oak", nodes, 1700000002.0), **head}


def _alpha(**head: Any) -> dict[str, Any]:
    """ChatGPT's update time is whole seconds; its message times are not, and are later."""
    nodes = [
        _node("root", None, None, "", None),
        _node("u1", "root", "user", "alpha?", 1700000001.25),
        _node("a1", "u1", "assistant", "alpha.", 1700000004.5),
    ]
    return {**_conv("conv-A", "Alpha", nodes, 1700000004.0), **head}


def _beta() -> dict[str, Any]:
    nodes = [_node("root", None, None, "", None), _node("u1b", "root", "user", "beta?", 1.6e9)]
    return _conv("conv-B", "Beta", nodes, 1.6e9)


def _file(path: Path, conversations: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conversations), encoding="utf-8")
    return path


def _zip(path: Path, conversations: list[dict[str, Any]], account: str = "user-1") -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conversations.json", json.dumps(conversations))
        z.writestr("user.json", json.dumps({"id": account}))
    return path


def _turn(archive: Archive, text: str) -> list[Message]:
    """A local turn (what ``freehold chat --continue`` stores) under the shown leaf."""
    cid = archive.resolve("conv-oak")
    conv = archive.get_conversation(cid)
    leaf = archive.find_message(cid, conv.current_leaf or "")
    messages = [
        Message("", None, "user", "text", [{"type": "text", "text": text}], text),
        Message("", None, "assistant", "text", [{"type": "text", "text": "Sure."}], "Sure."),
    ]
    return archive.add_turn(cid, leaf.id, messages)


def _texts(archive: Archive, cid: str) -> dict[str, str]:
    rows = archive.db.execute(
        "SELECT source_message_id, text FROM messages WHERE conversation_id = ?", (cid,)
    )
    return dict(rows.fetchall())


def _notes(report: dict[str, Any]) -> list[str]:
    return [p["what"] for p in report["problems"] if not p["lost"]]


# -- item 1: turns a freehold export carries ---------------------------------------------------


def test_turns_a_freehold_export_carries_arrive_when_the_platform_copy_is_the_same(
    tmp_path: Path,
) -> None:
    v1 = _file(tmp_path / "v1.json", [_oak()])
    with open_archive(tmp_path / "a") as a:
        import_path(a, v1)
        _turn(a, "machineA follow-up")
        json_export.write(a, a.iter_conversations(), tmp_path / "exA")
    with open_archive(tmp_path / "b") as b:
        import_path(b, v1)
        ours = _turn(b, "machineB question")
        version = "SELECT parser_version FROM conversations"
        made_by = b.db.execute(version).fetchone()
        report = import_path(b, tmp_path / "exA").to_json()
        assert b.db.execute(version).fetchone() == made_by  # its own conversion stays
        assert report["messages"]["new"] == 2  # A's two turns, counted new
        assert report["conversations"]["updated"] == 1 and report["conversations"]["reread"] == 0
        assert b.stats()["messages"] == 6
        assert b.search("machineA") and b.search("machineB")
        cid = b.resolve("conv-oak")
        local = [m for m in b.get_conversation(cid).messages if m.origin == "local"]
        assert len(local) == 4 and ours[1].id in {m.id for m in local}
        # imported again: nothing more to add
        again = import_path(b, tmp_path / "exA").to_json()
        assert again["messages"]["new"] == 0 and again["conversations"]["unchanged"] == 1


def test_a_freehold_export_with_turns_into_an_archive_without_any_shows_them(
    tmp_path: Path,
) -> None:
    v1 = _file(tmp_path / "v1.json", [_oak()])
    with open_archive(tmp_path / "a") as a:
        import_path(a, v1)
        turn = _turn(a, "machineA follow-up")
        json_export.write(a, a.iter_conversations(), tmp_path / "exA")
        digest = a.db.execute("SELECT digest FROM conversations").fetchone()
    with open_archive(tmp_path / "b") as b:
        import_path(b, v1)
        assert import_path(b, tmp_path / "exA").to_json()["messages"]["new"] == 2
        conv = b.get_conversation(b.resolve("conv-oak"))
        assert conv.current_leaf == turn[1].source_id  # as in A
        assert b.db.execute("SELECT digest FROM conversations").fetchone() == digest


# -- item 2: the platform's own update time ----------------------------------------------------


def test_a_newer_export_after_a_local_turn_is_not_taken_for_an_older_one(
    archive: Archive, tmp_path: Path
) -> None:
    import_path(archive, _zip(tmp_path / "e1.zip", [_alpha(), _beta()]))
    cid = archive.resolve("conv-A")
    leaf = archive.find_message(cid, "a1")
    archive.add_turn(cid, leaf.id, [Message("", None, "user", "text", [], "one more")])
    report = import_path(archive, _zip(tmp_path / "e2.zip", [_alpha(safe_urls=[])])).to_json()
    assert not any("older copy" in note for note in _notes(report))
    assert report["gone_upstream"] == 1  # conv-B, deleted upstream


def test_an_older_export_after_a_local_turn_rolls_no_rename_back(
    archive: Archive, tmp_path: Path
) -> None:
    v1 = _file(tmp_path / "v1.json", [_oak()])
    renamed = _oak(title="Renamed on the platform", update_time=1750000000.0)
    import_path(archive, v1)
    turn = _turn(archive, "more")
    import_path(archive, _file(tmp_path / "renamed.json", [renamed]))
    report = import_path(archive, v1).to_json()  # its raw version is held: no note again
    assert report["conversations"]["unchanged"] == 1
    conv = archive.get_conversation(archive.resolve("conv-oak"))
    assert conv.title == "Renamed on the platform"
    assert conv.current_leaf == turn[1].source_id


def test_only_imports_move_the_platforms_update_time(archive: Archive, tmp_path: Path) -> None:
    import_path(archive, _file(tmp_path / "v1.json", [_oak()]))
    _turn(archive, "more")
    row = archive.db.execute("SELECT updated_at, source_updated_at FROM conversations").fetchone()
    assert row[0] > 1700000002.0 and row[1] == 1700000002.0


def test_the_migration_backfills_the_platforms_time_from_the_newest_raw_version(
    _isolated_home: Path, tmp_path: Path
) -> None:
    with open_archive() as archive:
        import_path(archive, _file(tmp_path / "v1.json", [_alpha()]))
        import_path(archive, _file(tmp_path / "v2.json", [_beta()]))
        cid = archive.resolve("conv-A")
        leaf = archive.find_message(cid, "a1")
        archive.add_turn(cid, leaf.id, [Message("", None, "user", "text", [], "one more")])
    with sqlite3.connect(_isolated_home / "archive.sqlite") as db:  # as before the migration
        db.execute("ALTER TABLE conversations DROP COLUMN source_updated_at")
        db.execute("DELETE FROM _freehold_migrations WHERE name = 'm014_source_updated_at'")
    with open_archive() as archive:
        rows = archive.db.execute(
            "SELECT source_conversation_id, source_updated_at FROM conversations ORDER BY 1"
        ).fetchall()
    # conv-A's raw says 1700000004.0 (its newest message is later: 1700000004.5); conv-B
    # has no local turn: its updated_at is the platform's
    assert rows == [("conv-A", 1700000004.0), ("conv-B", 1.6e9)]


# -- item 5: a message changed upstream; another account -----------------------------------


def test_a_message_changed_upstream_keeps_its_earlier_text(
    archive: Archive, tmp_path: Path
) -> None:
    import_path(archive, _file(tmp_path / "v1.json", [_oak()]))
    newer = _oak("REWRITTEN by the platform", update_time=1750000000.0)
    report = import_path(archive, _file(tmp_path / "v1b.json", [newer])).to_json()
    assert report["messages"]["updated"] == 1
    assert any("1 message changed upstream" in note for note in _notes(report))
    cid = archive.resolve("conv-oak")
    assert archive.search("sharp plane")[0].conversation_id == cid
    assert _texts(archive, cid)["a1#rev-1"] == "Use a sharp plane."
    conv = archive.get_conversation(cid)
    shown = [m.text for m in branch_paths(conv.messages)[0]]
    assert shown[-1] == "REWRITTEN by the platform" and "Use a sharp plane." not in shown
    assert conv.branch_count == 1  # the earlier text is an earlier version, not a branch
    again = import_path(archive, tmp_path / "v1b.json").to_json()
    assert again["conversations"]["unchanged"] == 1 and not _notes(again)
    json_export.write(archive, archive.iter_conversations(), tmp_path / "out")
    with open_archive(tmp_path / "elsewhere") as other:  # the JSON export carries it
        import_path(other, tmp_path / "out")
        assert _texts(other, cid) == _texts(archive, cid)


def test_changed_messages_merge_the_same_whichever_copy_comes_first(tmp_path: Path) -> None:
    v1 = _file(tmp_path / "v1.json", [_oak()])
    v1b = _file(tmp_path / "v1b.json", [_oak("REWRITTEN", update_time=1750000000.0)])
    found = []
    for name, order in (("ab", (v1, v1b)), ("ba", (v1b, v1))):
        with open_archive(tmp_path / name) as archive:
            for path in (*order, *order):  # each twice: nothing kept twice
                import_path(archive, path)
            found.append(_texts(archive, archive.resolve("conv-oak")))
    assert found[0] == found[1]
    assert found[0]["a1"] == "REWRITTEN" and found[0]["a1#rev-1"] == "Use a sharp plane."
    assert len(found[0]) == 3


def test_words_that_come_back_are_not_kept_again_as_a_revision(tmp_path: Path) -> None:
    """Probe P item 6: a message changed A→B→A kept A as a revision beside A itself (two
    search hits, the same words); no revision holds a message's current words, and the
    archive is the same whichever order the copies come in."""
    copies = [
        _file(tmp_path / f"{name}.json", [_oak(text, update_time=at)])
        for name, text, at in (
            ("a", "Use a sharp plane.", 1700000002.0),
            ("b", "REWRITTEN", 1750000000.0),
            ("c", "Use a sharp plane.", 1760000000.0),
        )
    ]
    found = []
    for name, order in (("abc", copies), ("cab", [copies[2], *copies[:2]])):
        with open_archive(tmp_path / name) as archive:
            for path in order:
                import_path(archive, path)
            cid = archive.resolve("conv-oak")
            found.append(_texts(archive, cid))
            assert len(archive.search("sharp plane")) == 1
            assert len(archive.search("REWRITTEN")) == 1  # the swapped row is indexed anew
    assert found[0] == found[1]
    assert found[0] == {
        "u1": "How do I plane oak?",
        "a1": "Use a sharp plane.",
        "a1#rev-1": "REWRITTEN",
    }


def test_the_same_conversation_from_another_account_is_kept_as_raw_json_only(
    archive: Archive, tmp_path: Path
) -> None:
    """Probe P item 1: another account's copy adds no message and no revision (it was
    merged as a branch); its raw version is kept and the report says so, once."""
    import_path(archive, _zip(tmp_path / "x.zip", [_oak()], account="user-X"))
    cid = archive.resolve("conv-oak")
    before = _texts(archive, cid)
    other = _oak("Account Y's answer", update_time=1750000000.0)
    other["mapping"]["a2"] = _node("a2", "a1", "user", "Only Y asked this", 1700000003.0)
    other["mapping"]["a1"]["children"].append("a2")
    y_zip = _zip(tmp_path / "y.zip", [other], account="user-Y")
    report = import_path(archive, y_zip).to_json()
    note = "a copy of another account (user-Y) is kept as raw JSON only"
    assert sum(note in n for n in _notes(report)) == 1, _notes(report)
    assert _texts(archive, cid) == before  # no message of Y's, no revision
    assert not archive.search("Account Y's answer") and not archive.search("Only Y asked")
    conv = archive.get_conversation(cid)
    assert (conv.message_count, conv.branch_count) == (2, 1)
    assert archive.db.execute("SELECT account_id FROM conversations").fetchone() == ("user-X",)
    assert len(archive.raw_versions(cid)) == 2  # Y's words are kept, as raw JSON
    again = import_path(archive, y_zip).to_json()
    assert not _notes(again) and _texts(archive, cid) == before


# -- review R1: a freehold export's revisions, raw versions and times -----------------------

_V1B = {"update_time": 1750000000.0}


def _exported_with_a_revision(tmp: Path, *turns: str) -> Path:
    """Archive A holds v1 then v1b (``a1#rev-1``, two raw versions), with ``turns`` written
    there; its JSON export."""
    with open_archive(tmp / "a") as a:
        import_path(a, _file(tmp / "v1.json", [_oak()]))
        import_path(a, _file(tmp / "v1b.json", [_oak("REWRITTEN", **_V1B)]))
        for text in turns:
            _turn(a, text)
        json_export.write(a, a.iter_conversations(), tmp / "out")
    return tmp / "out"


def test_an_export_carrying_a_revision_merges_into_the_older_copy(tmp_path: Path) -> None:
    """The revision the copy carries is the stored words: kept once, not made again."""
    out = _exported_with_a_revision(tmp_path)
    with open_archive(tmp_path / "b") as b:
        import_path(b, tmp_path / "v1.json")
        report = import_path(b, out)
        assert report.ok, report.to_json()["problems"]
        texts = _texts(b, b.resolve("conv-oak"))
        assert texts["a1#rev-1"] == "Use a sharp plane." and texts["a1"] == "REWRITTEN"
        assert len(texts) == 3
        assert import_path(b, out).to_json()["conversations"]["unchanged"] == 1


@pytest.mark.parametrize("turns", [(), ("local follow-up",)])
def test_an_export_of_the_same_newest_raw_brings_what_only_it_holds(
    tmp_path: Path, turns: tuple[str, ...]
) -> None:
    out = _exported_with_a_revision(tmp_path, *turns)
    with open_archive(tmp_path / "b") as b:
        import_path(b, tmp_path / "v1b.json")
        report = import_path(b, out).to_json()
        cid = b.resolve("conv-oak")
        assert _texts(b, cid)["a1#rev-1"] == "Use a sharp plane."
        assert len(b.raw_versions(cid)) == 2
        assert report["conversations"]["updated"] == 1
        assert import_path(b, out).to_json()["conversations"]["unchanged"] == 1


def test_the_same_words_written_as_other_parts_are_no_revision(tmp_path: Path) -> None:
    """Another conversion (a newer importer's parts, in the archive that exported) of the
    same words updates the message in place: nothing changed upstream."""
    with open_archive(tmp_path / "a") as a:
        import_path(a, _file(tmp_path / "r.json", [_oak(title="Renamed", **_V1B)]))
        a.db.execute(
            "UPDATE messages SET parts = json_array(json_object('type', 'text', 'text', text, "
            "'size', 1)) WHERE source_message_id = 'a1'"
        )
        json_export.write(a, a.iter_conversations(), tmp_path / "out")
    with open_archive(tmp_path / "b") as b:
        import_path(b, _file(tmp_path / "v1.json", [_oak()]))
        report = import_path(b, tmp_path / "out").to_json()
        assert not any("changed upstream" in note for note in _notes(report))
        assert "a1#rev-1" not in _texts(b, b.resolve("conv-oak"))
        assert len(b.search("sharp plane")) == 1


def test_no_revision_when_a_newer_importer_wrote_the_other_words(
    archive: Archive, tmp_path: Path
) -> None:
    """Words that differ because the importer changed are its conversion, not the platform's."""
    import_path(archive, _file(tmp_path / "v1.json", [_oak()]))
    archive.db.execute("UPDATE conversations SET parser_version = 'chatgpt/0'")
    newer = _oak("Use a sharp plane, well set.", **_V1B)
    report = import_path(archive, _file(tmp_path / "v1b.json", [newer])).to_json()
    assert report["messages"]["updated"] == 1
    assert "a1#rev-1" not in _texts(archive, archive.resolve("conv-oak"))


def test_an_export_without_the_platforms_time_judges_by_its_newest_raw(tmp_path: Path) -> None:
    """An export written before ``source_updated_at`` was (2026-12-07), of a conversation with
    a local turn: the platform's time is read as m014 reads it, not the turn's."""
    out = _exported_with_a_revision(tmp_path, "local follow-up")
    lines = [json.loads(line) for line in (out / "conversations.jsonl").read_text().splitlines()]
    for line in lines:
        del line["source_updated_at"]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    (out / "conversations.jsonl").write_bytes(data)
    manifest = json.loads((out / "freehold-export.json").read_text())
    entry = manifest["files"]["conversations.jsonl"]
    entry.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (out / "freehold-export.json").write_text(json.dumps(manifest))
    newer = _oak("REWRITTEN", title="Renamed", update_time=1760000000.0)
    with open_archive(tmp_path / "b") as b:
        import_path(b, out)
        row = b.db.execute("SELECT source_updated_at FROM conversations").fetchone()
        assert row == (1750000000.0,)
        report = import_path(b, _file(tmp_path / "v2.json", [newer])).to_json()
        assert not any("older copy" in note for note in _notes(report)), _notes(report)
        assert b.get_conversation(b.resolve("conv-oak")).title == "Renamed"
