"""The Grok importer on the real polylogue fixture and on small synthetic exports."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freehold.archive import Archive
from freehold.importers import aistudio, chatgpt, claude, freehold, grok
from freehold.importers._skeleton import Export
from freehold.models import ContextRecord, Conversation, ExportInfo, Problem, SourceFile
from tests.builders import ingest, write_zip

GROK = "polylogue-aistudio-and-misc/grok-export.json"


def records(path: Path) -> list[Any]:
    return list(grok.iter_conversations(path))


def conversations(path: Path) -> list[Conversation]:
    return [r for r in records(path) if isinstance(r, Conversation)]


def wrapped(sender: str, text: str, when: Any, **extra: Any) -> dict[str, Any]:
    return {"response": {"sender": sender, "message": text, "create_time": when, **extra}}


def export(tmp_path: Path, items: list[Any], name: str = "prod-grok-backend.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"conversations": items}, indent=2))
    return path


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


# -- detection -------------------------------------------------------------------------------------


def test_detect_matrix(real: Path, tmp_path: Path) -> None:
    assert grok.detect(real / GROK)
    assert grok.detect(
        write_zip(tmp_path / "g.zip", {"data/prod-grok-backend.json": (real / GROK).read_bytes()})
    )
    assert not grok.detect(real / "librechat-import-data" / "chatgpt-tree.json")
    assert not grok.detect(real / "echomine-aucontraire" / "claude" / "sample_export.json")
    for name in (
        "multimodal_session",
        "branching_session",
        "code_execution_session",
        "text_only_prompt",
    ):
        assert not grok.detect(real / f"polylogue-aistudio-and-misc/aistudio-{name}.json")
    assert not any(m.detect(real / GROK) for m in (freehold, chatgpt, claude, aistudio))


# -- real file -------------------------------------------------------------------------------------


def test_real_file_counts_roles_and_times(real: Path) -> None:
    path = real / GROK
    source = json.loads(path.read_bytes())["conversations"]
    found = records(path)
    assert isinstance(found[0], ExportInfo) and found[0].kind == "grok"
    assert not [r for r in found if isinstance(r, Problem)]
    convs = conversations(path)
    assert [len(c.messages) for c in convs] == [len(item["responses"]) for item in source]
    (conv,) = convs
    assert conv.title == "Origin capability matrix"
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    assert [m.text for m in conv.messages] == [r["message"] for r in source[0]["responses"]]
    assert conv.created_at == datetime(2026, 8, 1, 10, tzinfo=UTC).timestamp()
    assert conv.messages[1].created_at == conv.created_at + 2
    assert conv.messages[1].parent_source_id == conv.messages[0].source_id
    assert all(m.on_visible_path for m in conv.messages)
    assert json.loads(conv.raw) == source[0] and conv.raw in path.read_bytes()
    assert conversations(path)[0].source_id == conv.source_id  # derived id is stable


# -- synthetic exports -----------------------------------------------------------------------------


def test_wrapped_responses_model_thinking_and_time_forms(tmp_path: Path) -> None:
    base = 1_733_000_000
    responses = [
        wrapped("human", "hello", {"$date": {"$numberLong": str(base * 1000)}}, _id="r1"),
        wrapped(
            "ASSISTANT",
            "hi there",
            {"$date": iso(base + 1)},
            _id="r2",
            model="grok-3",
            thinking_trace="musing quietly",
        ),
        wrapped("human", "again", base + 2, _id="r3"),
        wrapped("assistant", "sure", str((base + 3) * 1000), _id="r4", model="grok-3"),
    ]
    item = {
        "conversation": {"id": "c1", "title": "T", "create_time": iso(base)},
        "responses": responses,
    }
    (conv,) = conversations(export(tmp_path, [item]))
    assert conv.source_id == "c1" and conv.model == "grok-3"
    assert [m.created_at for m in conv.messages] == [base, base + 1, base + 2, base + 3]
    assert [m.role for m in conv.messages] == ["user", "assistant", "user", "assistant"]
    answer = conv.messages[1]
    assert [p["type"] for p in answer.parts] == ["thought", "text"] and answer.text == "hi there"
    assert conv.current_leaf == "r4" and not conv.problems


def test_conversations_not_first_are_still_read(tmp_path: Path) -> None:
    item = {"conversation": {"title": "late"}, "responses": [{"sender": "human", "message": "x"}]}
    path = tmp_path / "late.json"
    path.write_text(json.dumps({"projects": [], "conversations": [item]}))
    assert grok.detect(path)
    (conv,) = conversations(path)
    assert conv.title == "late" and json.loads(conv.raw) == item


def test_bad_input_becomes_problems(tmp_path: Path) -> None:
    good = {"conversation": {"title": "ok"}, "responses": [{"sender": "human", "message": "hi"}]}
    path = tmp_path / "grok.json"
    text = json.dumps({"conversations": [{"responses": []}, good, "junk"]})
    path.write_text(text[:-2] + ', {"conversation": {"ti')
    found = records(path)
    assert [c.title for c in found if isinstance(c, Conversation)] == ["ok"]
    problems = [r for r in found if isinstance(r, Problem)]
    assert [p.skipped for p in problems] == [1, 1, 0]
    assert "3 conversations read" in problems[-1].what
    assert all("—" in p.what and "\n" not in p.what for p in problems)


# -- archive level ---------------------------------------------------------------------------------


def test_import_and_reimport_unchanged(archive: Archive, real: Path) -> None:
    report = ingest(archive, real / GROK)
    assert report.kind == "grok" and report.ok
    assert report.conversations["new"] == 1 and report.messages["read"] == 2
    assert archive.search("witness")
    again = ingest(archive, real / GROK)
    assert again.conversations["unchanged"] == 1 and again.messages["new"] == 0


def test_download_shape_branches_projects_starred_and_files(
    archive: Archive, tmp_path: Path
) -> None:
    """The x.ai download links responses by ``parent_response_id``: a regenerated answer was
    chained as the parent of the kept one, both on the visible path; ``projects``,
    ``media_posts`` and ``tasks`` were dropped without trace, ``starred`` lost, and the files a
    response names gave no reference. Each is kept now."""

    def at(ms: int) -> dict[str, Any]:
        return {"$date": {"$numberLong": str(ms)}}

    base = 1_735_689_600_000
    responses = [
        wrapped("human", "Q", at(base), _id="u1", parent_response_id=None, file_attachments=["f1"]),
        wrapped(
            "ASSISTANT", "regenerated away", at(base + 10_000), _id="a1", parent_response_id="u1"
        ),
        wrapped("ASSISTANT", "kept", at(base + 20_000), _id="a1b", parent_response_id="u1"),
    ]
    item = {
        "conversation": {
            "id": "c1",
            "title": "B",
            "create_time": iso(base / 1000),
            "starred": True,
        },
        "responses": responses,
    }
    path = tmp_path / "prod-grok-backend.json"
    rest = {
        "projects": [{"workspace_id": "p", "name": "P", "custom_personality": "Be concise"}],
        "media_posts": [{"id": "m"}],
        "tasks": [],
    }
    path.write_text(json.dumps({"conversations": [item], **rest}))
    found = records(path)
    (conv,) = [r for r in found if isinstance(r, Conversation)]
    links = {m.source_id: (m.parent_source_id, m.on_visible_path) for m in conv.messages}
    assert links == {"u1": (None, True), "a1": ("u1", False), "a1b": ("u1", True)}
    assert conv.current_leaf == "a1b" and conv.starred and not conv.problems
    (ref,) = conv.messages[0].attachments
    assert ref.pointer == "grok-file://f1" and ref.opener is None
    (kept,) = [r for r in found if isinstance(r, SourceFile)]
    assert kept.name == "prod-grok-backend.json" and json.loads(kept.raw) == rest
    (record,) = [r for r in found if isinstance(r, ContextRecord)]
    assert (record.kind, record.text) == ("project_instructions", "Be concise")
    (problem,) = [r for r in found if isinstance(r, Problem)]
    assert problem.what.startswith("media_posts: kept as a file") and not problem.lost
    report = ingest(archive, path)
    assert report.attachments["missing"] == 1 and report.kept_files == [kept.name]


def test_flat_responses_with_a_repeated_id_stay_one_chain(tmp_path: Path) -> None:
    """The older shape (no ``parent_response_id``) is linked in array order; an id given twice
    is kept as ``response-<index>``, the name it had before the one rule (``tree.unique_ids``)
    was shared, the chain unbroken."""
    responses = [wrapped("human", "a", 1, _id="r"), wrapped("assistant", "b", 2, _id="r")]
    (conv,) = conversations(
        export(tmp_path, [{"conversation": {"id": "c"}, "responses": responses}])
    )
    links = [(m.source_id, m.parent_source_id) for m in conv.messages]
    assert links == [("r", None), ("response-1", "r")]
    assert conv.problems == ["response r appears twice; kept as response-1"]


def test_a_generated_images_name_is_the_last_segment_of_its_url(
    archive: Archive, tmp_path: Path
) -> None:
    """The URL stays the pointer; its name, the one searched, is the file's (a search for
    "https" or "assets" matched every message with a generated image)."""
    url = "https://assets.grok.com/users/u/generated/otter-42.png?cache=1"
    responses = [wrapped("assistant", "here", 1, _id="a", generated_image_urls=[url])]
    path = export(tmp_path, [{"conversation": {"id": "c"}, "responses": responses}])
    (conv,) = conversations(path)
    (ref,) = conv.messages[0].attachments
    assert (ref.pointer, ref.name) == (f"grok-file://{url}", "otter-42.png")
    ingest(archive, path)
    assert archive.search("otter") and not archive.search("assets")


def test_the_keys_beside_conversations_are_read_in_flat_memory(tmp_path: Path) -> None:
    """``prologue`` streams past the conversations (their words in any script) to read the
    keys after them: its memory does not grow with the file (it parsed the whole file)."""
    item = {
        "conversation": {"id": "c", "title": "日本語 ✓"},
        "responses": [wrapped("human", "é" * 400, 1)],
    }
    rest = {"projects": [{"workspace_id": "p", "custom_personality": "Sois concis ✓"}], "tasks": []}
    path = tmp_path / "prod-grok-backend.json"
    path.write_text(json.dumps({"conversations": [item] * 12000, **rest}, ensure_ascii=False))
    with Export.of(path) as opened:
        tracemalloc.start()
        try:
            found = list(grok.FORMAT(opened).prologue(opened.names()))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    (kept,) = [r for r in found if isinstance(r, SourceFile)]
    assert json.loads(kept.raw) == rest
    (record,) = [r for r in found if isinstance(r, ContextRecord)]
    assert record.text == "Sois concis ✓"
    assert path.stat().st_size > 10_000_000 and peak < 6_000_000, peak
