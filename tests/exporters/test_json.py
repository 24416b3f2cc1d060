"""The JSON export: manifest, one parseable line per conversation, attachments once each.

``fill_archive`` (real ChatGPT exports plus a small zip with an image and hostile titles) is
shared with the Markdown and freehold-importer tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from freehold._words import plural
from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import json as json_export
from freehold.ingest import import_path
from tests.builders import png

TREE = "librechat-import-data/chatgpt-tree.json"
PK = "pkuppens-chatgpt-2023-06/conversations.json"
HOSTILE_TITLES = ["../../etc/passwd", "con", "long " * 80, "🦦 Otters 🦦 日本語"]
T0 = 1714585031.0


PNG = png()


def node(mid: str, parent: str | None, role: str, content: dict[str, Any], **meta: Any) -> Any:
    message = {
        "id": mid,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": T0 + len(mid),
        "content": content,
        "status": "finished_successfully",
        "metadata": meta,
        "recipient": "all",
    }
    return {"id": mid, "message": message, "parent": parent}


def text(*parts: Any) -> dict[str, Any]:
    return {"content_type": "text", "parts": list(parts)}


def otter_conversation() -> dict[str, Any]:
    image = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Otter1"}
    gone = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Gone9"}
    declared = [{"id": "file-Otter1", "name": "otter.png", "mime_type": "image/png"}]
    thoughts = {"content_type": "thoughts", "thoughts": [{"summary": "Pondering", "content": "hm"}]}
    code = {"content_type": "code", "language": "python", "text": "s = '````'\nprint(s)"}
    nodes = [
        node("sys", None, "system", text("")),
        node(
            "u1",
            "sys",
            "user",
            {"content_type": "multimodal_text", "parts": [image, "look"]},
            attachments=declared,
        ),
        node("a1", "u1", "assistant", thoughts),
        node("a2", "a1", "assistant", code),
        node("u2", "a2", "user", {"content_type": "multimodal_text", "parts": [gone]}),
        node("a3", "u2", "assistant", text("An otter. **Lovely**.")),
    ]
    return {
        "id": "otter-conv",
        "title": "Pictures of otters",
        "create_time": T0,
        "update_time": T0 + 60,
        "current_node": "a3",
        "mapping": {n["id"]: n for n in nodes},
    }


def small_conversation(cid: str, title: str) -> dict[str, Any]:
    nodes = [node("q", None, "user", text(f"hello from {cid}"))]
    return {
        "id": cid,
        "title": title,
        "create_time": T0,
        "current_node": "q",
        "mapping": {"q": nodes[0]},
    }


def small_zip(folder: Path) -> Path:
    conversations = [otter_conversation()]
    conversations += [small_conversation(f"hostile-{i}", t) for i, t in enumerate(HOSTILE_TITLES)]
    path = folder / "small-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps(conversations))
        archive.writestr("user.json", '{"id": "user-otter"}')
        archive.writestr("file-Otter1-otter.png", PNG)
    return path


def odd_raw_file(folder: Path) -> Path:
    """One conversation whose raw is not valid UTF-8 and one with an integer past 64 bits."""
    bad = (
        json.dumps(small_conversation("bad-utf8", "caf\u00e9"), ensure_ascii=False)
        .encode()
        .replace(b"\xc3\xa9", b"\xff")
    )
    big = json.dumps({**small_conversation("big-int", "big"), "n": 123456789012345678901234567})
    path = folder / "odd.json"
    path.write_bytes(b"[" + bad + b"," + big.encode() + b"]")
    return path


def fill_archive(archive: Archive, real: Path, folder: Path) -> None:
    """Real exports (one with branches) plus the small zip and the odd raw file."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (real / TREE, real / PK, small_zip(folder), odd_raw_file(folder)):
        report = import_path(archive, path)
        assert report.conversations["new"] > 0, report.to_json()


def lines(out: Path) -> list[dict[str, Any]]:
    raw = (out / json_export.CONVERSATIONS).read_bytes().splitlines()
    return [json.loads(line) for line in raw]


@pytest.fixture
def filled(archive: Archive, real: Path, tmp_path: Path) -> Archive:
    fill_archive(archive, real, tmp_path / "inputs")
    return archive


def export(archive: Archive, out: Path, **options: Any) -> int:
    return json_export.write(archive, archive.iter_conversations(), out, **options)


# -- tests -----------------------------------------------------------------------------------------


def test_manifest_counts_and_digests(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ticks: list[int] = []
    count = export(filled, out, progress=ticks.append)
    manifest = json.loads((out / json_export.MANIFEST).read_text())
    assert count == filled.stats()["conversations"] == manifest["conversations"]
    assert ticks == list(range(1, count + 1))
    assert manifest["format"] == "freehold-export" and manifest["version"] == json_export.VERSION
    assert manifest["complete"] is True and manifest["exported_at"]
    jsonl = (out / json_export.CONVERSATIONS).read_bytes()
    entry = manifest["files"][json_export.CONVERSATIONS]
    assert entry == {"bytes": len(jsonl), "sha256": hashlib.sha256(jsonl).hexdigest()}
    assert manifest["attachments"] == 1 and manifest["attachments_missing"] == 1


def test_every_line_is_a_whole_conversation(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    records = lines(tmp_path / "out")
    assert len(records) == filled.stats()["conversations"]
    for record in records:
        stored = filled.get_conversation(record["id"])
        assert record == {**json_export.conversation_to_json(stored), "raw": record["raw"]}
        versions = filled.raw_versions(record["id"])
        assert [v["sha256"] for v in record["raw"]] == [
            hashlib.sha256(b).hexdigest() for b in versions
        ]
    message = next(r for r in records if r["source_id"] == "otter-conv")["messages"][1]
    assert set(message) >= {
        "source_id",
        "parent_source_id",
        "role",
        "parts",
        "meta",
        "hidden",
        "on_visible_path",
        "status",
        "attachments",
        "text",
        "content_type",
    }
    assert message["attachments"][0]["name"] == "otter.png"


def test_raw_versions_are_their_exact_text_base64_when_not_utf8(
    filled: Archive, tmp_path: Path
) -> None:
    export(filled, tmp_path / "out")
    by_source = {r["source_id"]: r for r in lines(tmp_path / "out")}
    otter = by_source["otter-conv"]["raw"][0]
    assert otter["encoding"] == "utf-8"
    assert otter["value"].encode() == filled.raw_versions(by_source["otter-conv"]["id"])[0]
    bad = by_source["bad-utf8"]
    assert bad["raw"][0]["encoding"] == "base64"
    assert base64.b64decode(bad["raw"][0]["value"]) == filled.raw_versions(bad["id"])[0]
    assert '"n": 123456789012345678901234567' in by_source["big-int"]["raw"][0]["value"]


def test_hostile_values_never_stop_the_export() -> None:
    """Anything a value parsed from an export can hold (a huge integer beside an infinite
    float) is written: the stdlib fallback writes infinity as null, as orjson does."""
    value = {"big": 12345678901234567890123, "huge": float("inf"), "nan": [float("nan")]}
    assert json.loads(json_export.dumps(value)) == {
        "big": 12345678901234567890123,
        "huge": None,
        "nan": [None],
    }


def test_attachments_copied_once_by_hash(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "out")
    files = list((tmp_path / "out" / "attachments").iterdir())
    assert [f.name for f in files] == [hashlib.sha256(PNG).hexdigest()]
    assert files[0].read_bytes() == PNG


def test_all_branches_is_ignored(filled: Archive, tmp_path: Path) -> None:
    export(filled, tmp_path / "a", all_branches=True)
    export(filled, tmp_path / "b", all_branches=False)
    a = (tmp_path / "a" / json_export.CONVERSATIONS).read_bytes()
    assert a == (tmp_path / "b" / json_export.CONVERSATIONS).read_bytes()


def test_conversation_to_json_has_no_raw(filled: Archive) -> None:
    conv = next(filled.iter_conversations())
    record = json_export.conversation_to_json(conv)
    assert "raw" not in record and record["id"] == conv.id
    json.dumps(record)


def test_refuses_a_non_empty_folder_that_is_not_an_export(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FreeholdError, match=r"not empty.*choose a new or empty folder"):
        export(archive, out)
    assert (out / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FreeholdError, match="is a file"):
        export(archive, tmp_path / "file")


def test_export_again_into_the_same_folder(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(filled, out)
    only = [r["id"] for r in lines(out) if r["source_id"] == "hostile-1"]
    assert json_export.write(filled, filled.iter_conversations(ids=only), out) == 1
    assert [r["source_id"] for r in lines(out)] == ["hostile-1"]
    assert not any((out / "attachments").iterdir()), "stale attachment left behind"


def test_empty_archive_gives_an_empty_valid_export(archive: Archive, tmp_path: Path) -> None:
    assert export(archive, tmp_path / "out") == 0
    manifest = json.loads((tmp_path / "out" / json_export.MANIFEST).read_text())
    assert manifest["conversations"] == 0 and manifest["complete"] is True
    assert (tmp_path / "out" / json_export.CONVERSATIONS).read_bytes() == b""


# -- what belongs to the account goes with the selection's sources ---------------------------------


def _claude_account_zip(folder: Path) -> Path:
    """A Claude export: one conversation of account "a" in project "p1", that project's
    instructions and a document, and the account's memory."""
    conv = {"uuid": "c1", "name": "t", "created_at": "2025-01-01T00:00:00Z", "chat_messages": []}
    conv |= {"account": {"uuid": "a"}, "project_uuid": "p1"}
    doc = {"uuid": "d1", "filename": "o.md", "content": "# Outline"}
    projects = [{"uuid": "p1", "name": "Thesis", "prompt_template": "British.", "docs": [doc]}]
    memories = [{"conversations_memory": "User writes a thesis.", "account_uuid": "a"}]
    path = folder / "claude.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("conversations.json", json.dumps([conv]))
        zipped.writestr("projects.json", json.dumps(projects))
        zipped.writestr("memories.json", json.dumps(memories))
    return path


def test_account_records_and_kept_files_go_with_the_selections_sources(
    _isolated_home: Path, tmp_path: Path
) -> None:
    """R2 #8: ``--source grok`` wrote ChatGPT's user.json (an email address) and every other
    platform's account files, and said "wrote 1 conversation". Now what belongs to an account
    goes with the conversations of that account's platform; a whole export carries all."""
    from click.testing import CliRunner

    from freehold.cli import cli

    sample = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
    for path in (sample, _claude_account_zip(tmp_path)):
        assert CliRunner().invoke(cli, ["import", str(path)]).exit_code == 0

    def exported(name: str, *selection: str) -> tuple[dict[str, Any], list[str], str]:
        out = tmp_path / name
        args = ["export", "--format", "json", "--out", str(out), *selection]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / json_export.MANIFEST).read_text())
        kept = [n for entry in manifest["files"].values() for n in entry.get("names", [])]
        return manifest, kept, " ".join(result.stderr.split())

    claude, claude_files, said = exported("claude", "--source", "claude")
    assert "user.json" not in claude_files and claude["account_records"] == 3
    assert f"+ 3 account records, {plural(claude['source_files'], 'kept file')}" in said
    chatgpt, chatgpt_files, said = exported("chatgpt", "--source", "chatgpt")
    assert "user.json" in chatgpt_files and chatgpt["account_records"] == 0
    assert not (tmp_path / "chatgpt" / json_export.ACCOUNT).read_bytes()
    whole, whole_files, _ = exported("whole")
    assert whole["account_records"] == 3
    assert sorted(whole_files) == sorted(claude_files + chatgpt_files)


def _export(home: Path, out: Path, *selection: str) -> tuple[dict[str, Any], list[str], str]:
    """``freehold export --format json`` from ``home``: its manifest, the names of its kept
    files and its summary line."""
    from click.testing import CliRunner

    from freehold.cli import cli

    args = ["export", "--format", "json", "--out", str(out), *selection]
    result = CliRunner().invoke(cli, args, env={"FREEHOLD_HOME": str(home)})
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / json_export.MANIFEST).read_text())
    kept = [n for entry in manifest["files"].values() for n in entry.get("names", [])]
    return manifest, kept, " ".join(result.stderr.split())


def _import(home: Path, path: Path) -> None:
    from click.testing import CliRunner

    from freehold.cli import cli

    result = CliRunner().invoke(cli, ["import", str(path)], env={"FREEHOLD_HOME": str(home)})
    assert result.exit_code == 0, result.output


def test_kept_files_that_came_through_a_freehold_export_go_with_any_export(
    tmp_path: Path,
) -> None:
    """R3 #3 A: a second machine imports the first one's export, then the platform's own zip
    (whose identical files are not stored twice): a narrower export carried no kept file,
    since the freehold-kind import names no platform. Its files now go with any export."""
    sample = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
    first, second = tmp_path / "h1", tmp_path / "h2"
    _import(first, sample)
    _, whole_files, _ = _export(first, tmp_path / "ex1")
    assert "user.json" in whole_files
    _import(second, tmp_path / "ex1")
    _import(second, sample)
    some = json.loads((tmp_path / "ex1" / json_export.CONVERSATIONS).read_text().split("\n")[0])
    manifest, kept, said = _export(second, tmp_path / "ex3", "--id", some["id"])
    assert manifest["conversations"] == 1
    assert sorted(set(kept)) == sorted(set(whole_files))
    assert f"+ 0 account records, {plural(manifest['source_files'], 'kept file')}" in said


def test_a_record_naming_no_conversations_project_goes_with_its_platform(
    tmp_path: Path,
) -> None:
    """R3 #3 B: Grok's project instructions name a workspace no Grok conversation carries:
    ``--source grok`` wrote an empty account.jsonl while the summary counted the kept file
    as if it were the record. A record naming no conversation's account or project now goes
    with its platform's export, and the summary counts records and files apart."""
    home = tmp_path / "h"
    grok = tmp_path / "g" / "prod-grok-backend.json"
    grok.parent.mkdir()
    turn = {"sender": "human", "message": "Q", "_id": "u1"}
    turn["create_time"] = {"$date": {"$numberLong": "1735689600000"}}
    conversation = {"id": "c1", "title": "B", "create_time": "2025-01-01T00:00:00+00:00"}
    project = {"workspace_id": "p", "name": "P", "custom_personality": "Be concise"}
    body = {"conversations": [{"conversation": conversation, "responses": [{"response": turn}]}]}
    grok.write_text(json.dumps(body | {"projects": [project]}))
    _import(home, grok)
    _import(home, Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip")
    manifest, kept, said = _export(home, tmp_path / "ex5", "--source", "grok")
    records = (tmp_path / "ex5" / json_export.ACCOUNT).read_text().splitlines()
    assert [json.loads(line)["text"] for line in records] == ["Be concise"]
    assert manifest["account_records"] == 1 and "user.json" not in kept
    assert f"+ 1 account record, {plural(manifest['source_files'], 'kept file')}" in said
