"""Turns written here (freehold chat) in the archive: a branch under the message continued,
imported messages unchanged, kept through re-imports, in every export, round-tripped by the
freehold JSON export with their attempts and both models."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from freehold import migrations
from freehold.archive import LOCAL_KIND, Archive, open_archive
from freehold.errors import NotFoundError
from freehold.ingest import import_path
from freehold.models import Attempt, Generation, Message
from freehold.tree import branch_paths
from tests.builders import steps_before

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
WOOD = "9a161f4a-049a-4dc2-95e0-7f01853d64ca"  # "Woodworking advice" in the sample


def _turn(prompt: str = "And what about oak?", answer: str = "Oak is harder.") -> list[Message]:
    attempts = [
        Attempt(
            "claude",
            "claude-sonnet-4-5-20250929",
            "error",
            "claude: 529 overloaded: Overloaded",
            "overloaded",
            12,
        ),
        Attempt(
            "local",
            "qwen2.5:7b",
            "ok",
            ms=840,
            tokens_in=900,
            tokens_out=12,
            served_model="qwen2.5:7b-q4",
        ),
    ]
    generation = Generation(
        "local",
        "qwen2.5:7b",
        "qwen2.5:7b-q4",
        target="default",
        finish_reason="stop",
        tokens_in=900,
        tokens_out=12,
        attempts=attempts,
        warnings=["served qwen2.5:7b-q4, asked qwen2.5:7b"],
    )
    return [
        Message("", None, "user", "text", [{"type": "text", "text": prompt}], prompt),
        Message(
            "",
            None,
            "assistant",
            "text",
            [{"type": "text", "text": answer}],
            answer,
            model="qwen2.5:7b-q4",
            generation=generation,
        ),
    ]


def _rows(archive: Archive, cid: str) -> dict[str, tuple[Any, ...]]:
    """Every imported message's stored columns but the visible-path flag."""
    rows = archive.db.execute(
        "SELECT source_message_id, parent_id, role, author_name, model, created_at, "
        "content_type, parts, text, hidden, status, meta FROM messages "
        "WHERE conversation_id=? AND origin IS NULL",
        (cid,),
    )
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def sample(archive: Archive) -> Archive:
    import_path(archive, SAMPLE)
    return archive


def test_a_turn_is_a_new_branch_under_the_message_continued(sample: Archive) -> None:
    cid = sample.resolve(WOOD)
    before = sample.get_conversation(cid)
    rows = _rows(sample, cid)
    leaf = next(m for m in before.messages if m.source_id == before.current_leaf)
    stored = sample.add_turn(cid, leaf.id, _turn())
    after = sample.get_conversation(cid)
    assert _rows(sample, cid) == rows  # imported messages never change
    assert after.message_count == before.message_count + 2
    assert after.current_leaf == stored[1].source_id
    path = branch_paths(after.messages)[0]
    assert [m.text for m in path[-3:]] == [leaf.text, "And what about oak?", "Oak is harder."]
    user, answer = (m for m in after.messages if m.origin == "local")
    assert (user.parent_source_id, answer.parent_source_id) == (leaf.source_id, user.source_id)
    assert (
        answer.generation is not None
        and answer.generation.attempts == _turn()[1].generation.attempts
    )  # type: ignore[union-attr]
    assert (answer.generation.requested_model, answer.generation.served_model) == (
        "qwen2.5:7b",
        "qwen2.5:7b-q4",
    )
    assert sample.search("oak harder", conversation=cid)[0].message_id == answer.id


def test_a_turn_at_an_earlier_message_forks(sample: Archive) -> None:
    cid = sample.resolve(WOOD)
    conv = sample.get_conversation(cid)
    first_user = next(m for m in conv.messages if m.role == "user" and m.on_visible_path)
    assert sample.find_message(cid, str(first_user.id)).source_id == first_user.source_id
    assert sample.find_message(cid, first_user.source_id[:12]).id == first_user.id
    with pytest.raises(NotFoundError, match=r"show .* --json"):
        sample.find_message(cid, "no-such-message")
    sample.add_turn(cid, first_user.id, _turn())
    after = sample.get_conversation(cid)
    assert after.branch_count == conv.branch_count + 1
    assert sum(m.on_visible_path for m in after.messages) <= sum(
        m.on_visible_path for m in conv.messages
    )
    old_tail = [
        m
        for m in conv.messages
        if m.on_visible_path
        and m.created_at
        and first_user.created_at
        and m.created_at > first_user.created_at
    ]
    assert old_tail and not any(
        m.on_visible_path for m in after.messages if m.source_id in {o.source_id for o in old_tail}
    )


def test_a_new_conversation_is_local(archive: Archive) -> None:
    cid = archive.new_conversation("Oak", model=None)
    archive.add_turn(cid, None, _turn())
    conv = archive.get_conversation(cid)
    assert conv.source_kind == LOCAL_KIND and conv.source_id.startswith("local-")
    assert [m.role for m in branch_paths(conv.messages)[0]] == ["user", "assistant"]
    assert conv.messages[0].parent_source_id is None
    assert archive.stats()["per_source"] == {"freehold": {"conversations": 1, "messages": 2}}


def _newer_export(tmp_path: Path, change: Any) -> Path:
    with zipfile.ZipFile(SAMPLE) as z:
        conversations = json.loads(z.read("conversations.json"))
    conv = next(c for c in conversations if c["id"] == WOOD)
    change(conv)
    out = tmp_path / "newer" / "conversations.json"
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps([conv]), encoding="utf-8")
    return out


def test_a_reimport_keeps_the_local_branch_shown(sample: Archive, tmp_path: Path) -> None:
    cid = sample.resolve(WOOD)
    leaf = sample.get_conversation(cid).current_leaf
    stored = sample.add_turn(cid, sample.find_message(cid, leaf or "").id, _turn())
    import_path(sample, SAMPLE)  # the same export: unchanged
    newer = _newer_export(tmp_path, lambda c: c.update(title="Woodworking advice (renamed)"))
    report = import_path(sample, newer)
    assert report.to_json()["messages"]["updated"] == 0
    conv = sample.get_conversation(cid)
    assert conv.title == "Woodworking advice (renamed)"
    assert conv.current_leaf == stored[1].source_id
    assert {m.source_id for m in stored} <= {m.source_id for m in branch_paths(conv.messages)[0]}


def test_a_reimport_counts_only_the_messages_the_file_holds(sample: Archive) -> None:
    cid = sample.resolve(WOOD)
    leaf = sample.get_conversation(cid).current_leaf
    sample.add_turn(cid, sample.find_message(cid, leaf or "").id, _turn())
    messages = import_path(sample, SAMPLE).to_json()["messages"]
    # one definition: each message read is new, updated or unchanged; local turns are none
    assert messages["unchanged"] == messages["read"]
    assert messages["new"] == messages["updated"] == 0


def test_the_archives_own_json_export_imported_back_is_unchanged(
    sample: Archive, tmp_path: Path
) -> None:
    from freehold.exporters import json as json_export

    cid = sample.resolve(WOOD)
    leaf = sample.get_conversation(cid).current_leaf
    first = sample.add_turn(cid, sample.find_message(cid, leaf or "").id, _turn())
    sample.add_turn(cid, first[1].id, _turn("And walnut?", "Walnut is darker."))
    local = sample.new_conversation("Made here")
    sample.add_turn(local, None, _turn("Kiln drying?", "Slowly."))
    json_export.write(sample, sample.iter_conversations(), tmp_path / "export")
    report = import_path(sample, tmp_path / "export").to_json()
    read = report["conversations"]["read"]
    assert report["conversations"]["unchanged"] == read and report["conversations"]["updated"] == 0
    assert report["messages"]["unchanged"] == report["messages"]["read"]
    with open_archive(tmp_path / "other") as other:  # the digest an import computes
        import_path(other, tmp_path / "export")
        digests = "SELECT id, digest FROM conversations ORDER BY id"
        assert other.db.execute(digests).fetchall() == sample.db.execute(digests).fetchall()


def test_a_source_copy_after_local_turns_is_updated_only_when_it_changed(
    sample: Archive, tmp_path: Path
) -> None:
    cid = sample.resolve(WOOD)
    leaf = sample.get_conversation(cid).current_leaf
    sample.add_turn(cid, sample.find_message(cid, leaf or "").id, _turn())
    other_bytes = _newer_export(tmp_path / "a", lambda c: c.update(safe_urls=["https://x.org"]))
    assert import_path(sample, other_bytes).to_json()["conversations"]["unchanged"] == 1
    renamed = _newer_export(tmp_path / "b", lambda c: c.update(title="Woodworking (renamed)"))
    assert import_path(sample, renamed).to_json()["conversations"]["updated"] == 1
    assert import_path(sample, renamed).to_json()["conversations"]["unchanged"] == 1


def test_a_newer_upstream_answer_is_shown_and_the_local_branch_kept(
    sample: Archive, tmp_path: Path
) -> None:
    cid = sample.resolve(WOOD)
    conv = sample.get_conversation(cid)
    stored = sample.add_turn(cid, sample.find_message(cid, conv.current_leaf or "").id, _turn())

    def continue_upstream(c: dict[str, Any]) -> None:
        leaf = c["current_node"]
        node = {
            "id": "upstream-1",
            "parent": leaf,
            "children": [],
            "message": {
                "id": "upstream-1",
                "author": {"role": "user"},
                "create_time": stored[1].created_at + 60,
                "content": {"content_type": "text", "parts": ["Back on ChatGPT."]},
                "status": "finished_successfully",
                "metadata": {},
            },
        }
        c["mapping"][leaf]["children"].append("upstream-1")
        c["mapping"]["upstream-1"] = node
        c["current_node"] = "upstream-1"

    import_path(sample, _newer_export(tmp_path, continue_upstream))
    after = sample.get_conversation(cid)
    assert after.current_leaf == "upstream-1"
    local = [m for m in after.messages if m.origin == "local"]
    assert [m.text for m in local] == ["And what about oak?", "Oak is harder."]
    assert not any(m.on_visible_path for m in local)  # a branch now, kept
    assert after.branch_count == 2


def test_an_older_export_after_local_turns_rolls_nothing_back(
    sample: Archive, tmp_path: Path
) -> None:
    """A turn written here moves ``updated_at`` on, so the stored copy's own time is its newest
    imported message's: a newer export is still newer, the older sample still older."""
    cid = sample.resolve(WOOD)

    def renamed_and_continued(c: dict[str, Any]) -> None:
        leaf = c["current_node"]
        later = c["update_time"] + 3600
        message = {
            "id": "upstream-1",
            "author": {"role": "user"},
            "create_time": later,
            "content": {"content_type": "text", "parts": ["Back on ChatGPT."]},
            "status": "finished_successfully",
            "metadata": {},
        }
        c["mapping"]["upstream-1"] = {"id": "upstream-1", "parent": leaf, "message": message}
        c.update(current_node="upstream-1", update_time=later, title="Woodworking (renamed)")

    import_path(sample, _newer_export(tmp_path, renamed_and_continued))
    stored = sample.add_turn(cid, sample.find_message(cid, "upstream-1").id, _turn())
    report = import_path(sample, SAMPLE)  # the older export, once more
    assert report.ok and report.conversations["new"] == 0
    conv = sample.get_conversation(cid)
    assert conv.title == "Woodworking (renamed)" and conv.current_leaf == stored[1].source_id
    assert [m.source_id for m in branch_paths(conv.messages)[0]][-3:] == [
        "upstream-1",
        *(m.source_id for m in stored),
    ]


def test_every_export_format_includes_the_new_turns(sample: Archive, tmp_path: Path) -> None:
    from freehold import plugins

    cid = sample.resolve(WOOD)
    leaf = sample.find_message(cid, sample.get_conversation(cid).current_leaf or "")
    sample.add_turn(cid, leaf.id, _turn("Quercus robur?", "Yes, English oak."))
    local = sample.new_conversation("Made here")
    sample.add_turn(local, None, _turn("Kiln drying?", "Slowly, over weeks."))
    for name, exporter in plugins.exporters().items():
        out = tmp_path / name
        exporter.write(sample, sample.iter_conversations(ids=[cid, local]), out)
        text = _all_text(out)
        for words in ("Quercus robur?", "English oak.", "Kiln drying?", "Slowly, over weeks."):
            assert words in text, (name, words)


def _all_text(folder: Path) -> str:
    from pypdf import PdfReader

    parts = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".pdf":
            parts.append(
                " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages)
            )
        elif path.is_file() and path.suffix in (".md", ".html", ".csv", ".jsonl", ".json"):
            text = path.read_text(encoding="utf-8")
            parts.append(
                json.dumps(json.loads(text), ensure_ascii=False) if path.suffix == ".json" else text
            )
    return "\n".join(parts)


def test_the_json_export_round_trips_attempts_and_both_models(
    sample: Archive, tmp_path: Path
) -> None:
    from freehold.exporters import json as json_export

    cid = sample.resolve(WOOD)
    leaf = sample.find_message(cid, sample.get_conversation(cid).current_leaf or "")
    sample.add_turn(cid, leaf.id, _turn())
    local = sample.new_conversation("Made here")
    sample.add_turn(local, None, _turn("Kiln drying?", "Slowly."))
    json_export.write(sample, sample.iter_conversations(), tmp_path / "export")
    line = next(
        json.loads(x)
        for x in (tmp_path / "export" / "conversations.jsonl").read_text().splitlines()
        if WOOD in x
    )
    answer = next(
        m for m in line["messages"] if m["origin"] == "local" and m["role"] == "assistant"
    )
    assert answer["generation"]["requested_model"] == "qwen2.5:7b"
    assert answer["generation"]["served_model"] == "qwen2.5:7b-q4"
    assert [a["outcome"] for a in answer["generation"]["attempts"]] == ["error", "ok"]
    with open_archive(tmp_path / "other") as other:
        import_path(other, tmp_path / "export")
        for conv_id in (cid, local):
            mine, theirs = sample.get_conversation(conv_id), other.get_conversation(conv_id)
            assert [_same(m) for m in mine.messages] == [_same(m) for m in theirs.messages]
            assert theirs.current_leaf == mine.current_leaf
        report = import_path(other, tmp_path / "export")  # again: nothing changes
        assert (
            report.to_json()["conversations"]["unchanged"]
            == report.to_json()["conversations"]["read"]
        )
        new = import_path(sample, tmp_path / "export").to_json()  # into the archive it came from
        assert new["conversations"]["new"] == 0 and new["messages"]["new"] == 0


def _same(message: Message) -> tuple[Any, ...]:
    return (
        message.source_id,
        message.parent_source_id,
        message.role,
        message.text,
        message.origin,
        message.generation,
        message.on_visible_path,
        message.model,
    )


def test_m007_on_an_archive_made_before_it(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", steps_before(6))
        with open_archive() as old:
            import_path(old, SAMPLE)
    with sqlite3.connect(_isolated_home / "archive.sqlite") as db:
        assert "origin" not in {row[1] for row in db.execute("PRAGMA table_info(messages)")}
    with open_archive() as archive:
        cid = archive.resolve(WOOD)
        assert all(
            m.origin is None and m.generation is None
            for m in archive.get_conversation(cid).messages
        )
        leaf = archive.find_message(cid, archive.get_conversation(cid).current_leaf or "")
        archive.add_turn(cid, leaf.id, _turn())
        assert archive.get_conversation(cid).messages[-1].generation is not None
