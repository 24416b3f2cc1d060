"""The importer skeleton: a new format is only its mapping, and gets everything else.

``_Notes`` below is a made-up format written the way a new importer is: how its files look,
and how one element becomes a conversation. Detection, zips and folders, streaming, truncation,
bad elements, odd values and the guard around ``convert`` all come from ``_skeleton``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freehold.errors import BadExportError, UnknownExportError
from freehold.importers import _diagnose, _plan
from freehold.importers import _fields as field
from freehold.importers._skeleton import READ_ERRORS, Export, Format, Heading, Look, linear
from freehold.models import Conversation, ExportInfo, Message, Problem, SourceFile
from freehold.tree import build_tree
from tests.builders import damaged_zip, write_zip


class _Notes(Format):
    kind = "notes"
    version = "notes/1"
    look = Look(opens="[{", keys=("turns",), not_before=("mapping",))
    missing = "no notes found — give a notes export"
    heading = Heading(created=("at",))

    def convert(self, value: dict[str, Any], raw: bytes) -> Conversation:
        source_id = field.text(value, "id")
        if source_id is None:
            raise ValueError("no id")
        if value.get("explode"):
            raise TypeError("a bug in the mapping")
        problems: list[str] = []
        messages = linear(field.array(value, "turns"), _turn, problems)
        tree = build_tree(messages, messages[-1].source_id if messages else None)
        return Conversation(
            self.kind,
            source_id,
            field.text(value, "title"),
            tree.messages,
            raw,
            created_at=field.when(value, "at"),
            current_leaf=tree.leaf,
            problems=problems + tree.problems,
        )

    def identify(self, value: Any, raw: bytes) -> str | None:
        return field.text(value, "id")


def _turn(item: dict[str, Any], index: int) -> Message:
    text = field.string(item, "said")
    return Message(f"t{index}", None, field.text(item, "who") or "user", "text", [], text)


def note(cid: str, *turns: str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "title": f"About {cid}", "turns": [{"said": t} for t in turns], **extra}


def write(path: Path, items: list[Any]) -> Path:
    path.write_text(json.dumps(items, indent=1))
    return path


def records(path: Path) -> list[Any]:
    return list(_Notes.iter_conversations(path))


def test_recognised_by_its_look_alone(tmp_path: Path) -> None:
    path = write(tmp_path / "whatever.json", [note("a", "hi")])
    assert _Notes.detect(path)
    assert _Notes.detect(write_zip(tmp_path / "n.zip", {"deep/x.json": path.read_bytes()}))
    other = write(tmp_path / "other.json", [{"mapping": {}, "turns": []}])
    assert not _Notes.detect(other) and not _Notes.detect(tmp_path / "missing.json")
    with pytest.raises(BadExportError, match=r"^other\.json: no notes found"):
        records(other)


def test_streams_elements_into_linear_conversations(tmp_path: Path) -> None:
    found = records(write(tmp_path / "n.json", [note("a", "hi", "ho"), note("b")]))
    assert isinstance(found[0], ExportInfo) and found[0].kind == "notes"
    first, second = found[1:]
    assert [m.parent_source_id for m in first.messages] == [None, "t0"]
    assert first.current_leaf == "t1" and second.messages == []
    assert json.loads(first.raw)["id"] == "a"


def test_bad_elements_and_a_cut_file(tmp_path: Path) -> None:
    text = json.dumps([note("a"), "nope", {"turns": []}, note("b"), note("c")])
    path = tmp_path / "n.json"
    path.write_text(text[: text.index('"c"')])
    found = records(path)
    assert [r.source_id for r in found if isinstance(r, Conversation)] == ["a", "b"]
    problems = [r for r in found if isinstance(r, Problem)]
    assert [p.skipped for p in problems] == [1, 1, 0]
    assert "not a JSON object" in problems[0].what and "no id" in problems[1].what
    assert "4 conversations read before it" in problems[2].what
    # What was skipped is kept, byte for byte, and the problem says where.
    kept = {r.name: r.raw for r in found if isinstance(r, SourceFile)}
    assert kept == {"skipped/n.json[1]": b'"nope"', "skipped/n.json[2]": b'{"turns": []}'}
    assert "its raw text is kept in the archive as skipped/n.json[1]" in problems[0].what


def test_an_element_too_deep_to_read_is_kept_raw(tmp_path: Path) -> None:
    deep = "[" * 200 + "]" * 200
    path = tmp_path / "n.json"
    path.write_text(f'[{json.dumps(note("a"))}, {{"id": "d", "turns": {deep}}}, ' + '"x"]')
    found = records(path)
    (problem, _) = [r for r in found if isinstance(r, Problem)]
    assert problem.where == "n.json[1]" and problem.skipped == 1
    assert problem.what.startswith("nests deeper than 128 levels; this conversation was skipped")
    kept = {r.name: r.raw for r in found if isinstance(r, SourceFile)}
    assert kept["skipped/n.json[1]"] == f'{{"id": "d", "turns": {deep}}}'.encode()


def test_odd_values_are_noted_and_the_conversation_kept(tmp_path: Path) -> None:
    odd = note("a", "hi", title={"x": 1}, at=[2024])
    odd["turns"] += [5, {"said": ["not", "text"]}]
    (conv,) = [r for r in records(write(tmp_path / "n.json", [odd])) if isinstance(r, Conversation)]
    assert conv.title is None and conv.created_at is None and len(conv.messages) == 2
    notes = " | ".join(conv.problems)
    assert "title: an object where text was expected" in notes
    assert "at: an array where a time was expected" in notes
    assert "said: an array where text was expected" in notes
    assert "message 1 is not an object" in notes


def test_an_error_in_the_mapping_costs_the_messages_not_the_conversation(tmp_path: Path) -> None:
    exploding = note("a", "hi", explode=True, at=1_700_000_000, title=["odd"], name="Named")
    found = records(write(tmp_path / "n.json", [exploding, note("b")]))
    kept = [r for r in found if isinstance(r, Conversation)]
    assert [c.source_id for c in kept] == ["a", "b"] and kept[0].messages == []
    assert json.loads(kept[0].raw)["explode"] is True
    # What can be kept of its head is (its ``heading``), read loosely; it never replaces a
    # stored copy (``salvaged``, tests/test_archive.py).
    assert kept[0].salvaged and not kept[1].salvaged
    assert (kept[0].title, kept[0].created_at) == ("Named", 1_700_000_000.0)
    assert any(p.startswith("title: an array where text was expected") for p in kept[0].problems)
    (problem,) = [r for r in found if isinstance(r, Problem)]
    assert problem.lost and not problem.skipped and "TypeError: a bug" in problem.what


def test_only_the_members_it_is_given(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write(folder / "one.json", [note("a")])
    write(folder / "two.json", [note("b")])
    found = list(_Notes.iter_conversations(folder, only=["two.json"]))
    assert found[0].files == [("two.json", (folder / "two.json").stat().st_size)]
    assert [r.source_id for r in found if isinstance(r, Conversation)] == ["b"]


@pytest.mark.parametrize("damage", ["data", "crc"])
def test_a_damaged_member_is_said_to_be_damaged(
    tmp_path: Path, zip_reader: str, damage: str
) -> None:
    """The head of a member that cannot be inflated keeps why (``Export.damage``), so that a
    damaged member is diagnosed as such, not as what its few readable bytes look like."""
    members = {"conversations.json": json.dumps([note("a", "hi")]).encode(), "user.json": b"{}"}
    path = damaged_zip(tmp_path / "damaged.zip", members, damage)
    with Export.of(path) as export:
        assert export.head("conversations.json") == b""
        assert isinstance(export.damage("conversations.json"), READ_ERRORS)
        assert export.head("user.json") == b"{}" and export.damage("user.json") is None
        found = _diagnose.member(export, "conversations.json")
    assert found.damaged and found.lost and found.todo == "download the export again"
    assert found.what.startswith("damaged: its data cannot be read (")
    with pytest.raises(UnknownExportError) as raised:
        _plan.plan(path)
    assert str(raised.value).startswith(f"{path}: conversations.json is damaged: ")
    assert str(raised.value).endswith(" — download the export again")
