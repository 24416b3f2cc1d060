"""A path that holds more than one kind of export: each file is read by its own importer, and
every file no importer reads is named in the report."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from freehold.archive import Archive, open_archive
from freehold.cli import cli
from freehold.importers import aistudio, claude, grok
from freehold.ingest import ImportReport, import_path
from tests.builders import write_zip

MISC = "polylogue-aistudio-and-misc"
STUDIO = ["branching_session", "code_execution_session", "multimodal_session", "text_only_prompt"]


def mixed_folder(real: Path, root: Path) -> Path:
    """The issue's case: AI Studio files beside a Grok and a Claude file, and two strays."""
    root.mkdir()
    for name in STUDIO:
        (root / f"aistudio-{name}.json").write_bytes(
            (real / MISC / f"aistudio-{name}.json").read_bytes()
        )
    (root / "grok-export.json").write_bytes((real / MISC / "grok-export.json").read_bytes())
    (root / "claude-design-session.json").write_bytes(
        (real / MISC / "claude-design-session.json").read_bytes()
    )
    (root / "README.txt").write_text("my exports, 2026\n")
    (root / "settings.json").write_text(json.dumps({"theme": "dark", "font": 14}))
    return root


def kinds(archive: Archive) -> dict[str, int]:
    rows = archive.db.execute("SELECT source_kind, count(*) FROM conversations GROUP BY 1")
    return dict(rows.fetchall())


def check_mixed(archive: Archive, report: ImportReport) -> None:
    assert report.kind == "claude+aistudio+grok"
    assert report.conversations["new"] == 6 and report.conversations["skipped"] == 0
    assert kinds(archive) == {"aistudio": 4, "claude": 1, "grok": 1}
    read = sorted(name.rpartition("/")[2] for name, _ in report.files)
    assert read == sorted(
        [f"aistudio-{n}.json" for n in STUDIO] + ["claude-design-session.json", "grok-export.json"]
    )
    left = {p.where.rpartition("/")[2]: p for p in report.problems}
    assert set(left) == {"README.txt", "settings.json"}
    # A README is a note; a JSON file no importer knows may be conversations: lost (exit 1).
    assert not left["README.txt"].lost and left["settings.json"].lost and not report.ok
    assert "text file" in left["README.txt"].what and "left out" in left["README.txt"].what
    assert '"font", "theme"' in left["settings.json"].what
    (source,) = archive.sources()
    assert (source["kind"], source["status"]) == ("claude+aistudio+grok", "partial")
    versions = (claude.PARSER_VERSION, aistudio.PARSER_VERSION, grok.PARSER_VERSION)
    assert source["parser_version"] == "+".join(versions)


def test_a_folder_of_several_exports_imports_each(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    folder = mixed_folder(real, tmp_path / "downloads")
    check_mixed(archive, import_path(archive, folder, reader_process=False))
    again = import_path(archive, folder, reader_process=False)
    assert again.conversations["unchanged"] == 6 and again.conversations["new"] == 0


def test_a_zip_of_several_exports_through_the_reader_process(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    folder = mixed_folder(real, tmp_path / "downloads")
    members = {f"downloads/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}
    path = write_zip(tmp_path / "downloads.zip", members)
    check_mixed(archive, import_path(archive, path, reader_process=True))


def test_each_importer_alone_reads_only_its_own_files(real: Path, tmp_path: Path) -> None:
    folder = mixed_folder(real, tmp_path / "downloads")
    assert aistudio.detect(folder) and grok.detect(folder)
    found = list(grok.iter_conversations(folder))
    assert [name for name, _ in found[0].files] == ["grok-export.json"]


def test_an_export_beside_another_in_its_folder_is_read_as_itself(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """A Grok file dropped into a ChatGPT export's folder is Grok's, not a ChatGPT account file."""
    gpt = real / "pkuppens-chatgpt-2023-06"
    members = {f"export/{n}": (gpt / n).read_bytes() for n in ("conversations.json", "user.json")}
    members["export/grok-export.json"] = (real / MISC / "grok-export.json").read_bytes()
    report = import_path(archive, write_zip(tmp_path / "gpt.zip", members), reader_process=False)
    assert report.kind == "chatgpt+grok" and report.ok
    assert report.kept_files == ["export/user.json"]  # its path in the export
    assert kinds(archive) == {"chatgpt": 8, "grok": 1}


def test_a_folder_of_loose_claude_files(archive: Archive, real: Path, tmp_path: Path) -> None:
    chats = json.loads(
        (real / "echomine-aucontraire" / "claude" / "sample_export.json").read_text()
    )
    folder = tmp_path / "claude-files"
    folder.mkdir()
    for number, chat in enumerate(chats[:3]):
        (folder / f"chat-{number}.json").write_text(json.dumps(chat))
    report = import_path(archive, folder, reader_process=False)
    assert report.kind == "claude" and report.ok and report.conversations["new"] == 3


def test_an_uploaded_file_inside_a_chatgpt_export_stays_the_exports(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """A Claude file once uploaded to ChatGPT (``file-…``) is the ChatGPT export's, not Claude's."""
    conv = json.loads((real / "pkuppens-chatgpt-2023-06" / "conversations.json").read_text())[0]
    claude_file = (real / "echomine-aucontraire" / "claude" / "sample_export.json").read_bytes()
    members = {
        "conversations.json": json.dumps([conv]).encode(),
        "file-Up1-claude.json": claude_file,
    }
    report = import_path(archive, write_zip(tmp_path / "gpt.zip", members), reader_process=False)
    assert report.kind == "chatgpt" and kinds(archive) == {"chatgpt": 1}
    assert report.kept_files == ["file-Up1-claude.json"]


@pytest.mark.parametrize("noise", [".DS_Store", "__MACOSX/._grok-export.json"])
def test_system_clutter_is_not_named(
    archive: Archive, real: Path, tmp_path: Path, noise: str
) -> None:
    members = {
        "grok-export.json": (real / MISC / "grok-export.json").read_bytes(),
        noise: b"\x00\x05",
    }
    report = import_path(archive, write_zip(tmp_path / "g.zip", members), reader_process=False)
    assert report.kind == "grok" and report.problems == []


# -- ChatGPT conversations recognised by what they hold (issue 10, item 3) -------------------------

PK = "pkuppens-chatgpt-2023-06"
CLAUDE = "echomine-aucontraire/claude/sample_export.json"


def test_chatgpt_conversations_under_another_name_in_a_real_folder(
    archive: Archive, real: Path
) -> None:
    """LibreChat's import test data: a ChatGPT file (``chatgpt-tree.json``) beside an Open
    WebUI and a LibreChat file, each read by its own importer; only the notes file is left."""
    folder = real / "librechat-import-data"
    report = import_path(archive, folder, reader_process=False)
    assert report.kind == "chatgpt+openwebui+librechat"
    assert kinds(archive)["chatgpt"] == 1 and report.conversations["skipped"] == 0
    assert "chatgpt-tree.json" in [name for name, _ in report.files]
    (left,) = report.problems
    assert left.where == "PROVENANCE.md" and not left.lost and report.ok


@pytest.mark.parametrize("name", ["conversations (1).json", "my chatgpt history"])
@pytest.mark.parametrize("beside", [None, "grok-export.json"])
def test_a_renamed_conversations_file_is_read_as_it_is_alone(
    archive: Archive, real: Path, tmp_path: Path, beside: str | None, name: str
) -> None:
    """``conversations (1).json`` (a second download), or a name without ``.json``, alone in a
    folder or beside a Grok export: the same 8 conversations as the file imported alone."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    renamed = folder / name
    renamed.write_bytes((real / PK / "conversations.json").read_bytes())
    if beside:
        (folder / beside).write_bytes((real / MISC / beside).read_bytes())
    report = import_path(archive, folder, reader_process=False)
    assert report.ok and report.problems == []
    assert report.kind == ("chatgpt+grok" if beside else "chatgpt")
    assert kinds(archive) == ({"chatgpt": 8, "grok": 1} if beside else {"chatgpt": 8})
    alone = import_path(archive, renamed, reader_process=False)
    assert alone.conversations["unchanged"] == 8 and alone.ok


def test_a_claude_export_beside_a_chatgpt_export_is_read_as_claude(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Each ``conversations.json`` is looked into, not only the shallowest: Claude's is Claude's."""
    members = {
        f"chatgpt/{n}": (real / PK / n).read_bytes() for n in ("conversations.json", "user.json")
    }
    members["claude/conversations.json"] = (real / CLAUDE).read_bytes()
    report = import_path(archive, write_zip(tmp_path / "mix.zip", members), reader_process=False)
    assert report.kind == "chatgpt+claude" and report.ok, report.problems
    assert kinds(archive) == {"chatgpt": 8, "claude": 5}
    assert report.conversations["skipped"] == 0


def test_a_claude_export_inside_a_chatgpt_exports_folder_keeps_its_account_file(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """A folder that is not one of ChatGPT's own (uploads, media) is offered to the others: a
    Claude export unpacked into it is read by Claude, with its ``users.json``."""
    folder = tmp_path / "exports"
    (folder / "claude").mkdir(parents=True)
    for name in ("conversations.json", "user.json"):
        (folder / name).write_bytes((real / PK / name).read_bytes())
    (folder / "claude" / "conversations.json").write_bytes((real / CLAUDE).read_bytes())
    (folder / "claude" / "users.json").write_text('[{"uuid": "claude-user"}]')
    report = import_path(archive, folder, reader_process=False)
    assert report.kind == "chatgpt+claude" and report.ok, report.problems
    assert kinds(archive) == {"chatgpt": 8, "claude": 5}
    assert sorted(report.kept_files) == ["claude/users.json", "user.json"]  # paths in the export


def test_a_file_that_may_hold_conversations_left_out_fails_the_import(
    real: Path, tmp_path: Path
) -> None:
    """Beside conversations, an unknown JSON file is lost (exit 1), a README a note (exit 0)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "grok-export.json").write_bytes((real / MISC / "grok-export.json").read_bytes())
    (folder / "README.txt").write_text("my exports\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["import", str(folder)]).exit_code == 0
    (folder / "chats-from-elsewhere.json").write_text(json.dumps([{"who": "me", "said": "hi"}]))
    result = runner.invoke(cli, ["import", str(folder), "--json"])
    assert result.exit_code == 1
    (lost,) = [p for p in json.loads(result.stdout)["problems"] if p["lost"]]
    assert lost["where"] == "chats-from-elsewhere.json" and "left out" in lost["what"]


def test_a_claude_export_below_another_conversations_json_keeps_its_account_file(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """Claude's export folder is that of its own conversations.json, not of the shallowest."""
    folder = tmp_path / "exports"
    (folder / "claude").mkdir(parents=True)
    (folder / "conversations.json").write_text(json.dumps({"saved": "by another tool"}))
    (folder / "claude" / "conversations.json").write_bytes((real / CLAUDE).read_bytes())
    (folder / "claude" / "users.json").write_text('[{"uuid": "claude-user"}]')
    report = import_path(archive, folder, reader_process=False)
    assert report.kind == "claude" and kinds(archive) == {"claude": 5}
    assert report.kept_files == ["claude/users.json"]
    assert [p.where for p in report.problems if p.lost] == ["conversations.json"]


@pytest.mark.parametrize(
    "settings",
    [
        b'[ui]\ntheme = "dark"\n',
        b"\xef\xbb\xbf\n[tool:pytest]  ; setup.cfg\r\naddopts = -q\r\n",
        b"[[servers]]\nname = 'a'\n",
    ],
)
def test_a_settings_file_beside_an_export_is_a_note(
    archive: Archive, real: Path, tmp_path: Path, settings: bytes
) -> None:
    """An INI or TOML file opens with ``[`` but is not JSON: a note, not data lost (it was
    "not valid JSON … cut short?", exit 1: probe C 2026-12-07, C8)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "grok-export.json").write_bytes((real / MISC / "grok-export.json").read_bytes())
    (folder / "config.toml").write_bytes(settings)
    report = import_path(archive, folder, reader_process=False)
    assert report.kind == "grok" and report.ok, report.problems
    (left,) = report.problems
    assert left.where == "config.toml" and not left.lost
    assert left.what == "a settings file (INI or TOML), not an export; left out"


def test_folder_entries_of_a_zip_are_not_named(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    """``zip -r`` of a folder writes its subfolders as entries: not files, not in the report
    (each was "an empty file (0 bytes)…": probe C 2026-12-07, C9)."""
    members = {
        "sub/": b"",
        "sub/grok-export.json": (real / MISC / "grok-export.json").read_bytes(),
        "empty/": b"",
    }
    report = import_path(archive, write_zip(tmp_path / "m6.zip", members), reader_process=False)
    assert report.kind == "grok" and report.ok and report.problems == []


# -- two ChatGPT exports in one path (probe C 2026-12-07, C7) --------------------------------------

SAMPLES = Path(__file__).parent.parent / "examples"


def unpack(zip_path: Path, folder: Path) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)


@pytest.mark.parametrize("where", ["b", "a/older-export"])
@pytest.mark.parametrize("zipped", [False, True])
def test_two_chatgpt_exports_in_one_path_are_each_read_as_a_whole(
    archive: Archive, tmp_path: Path, where: str, zipped: bool
) -> None:
    """Side by side, or one unpacked inside the other: each export keeps its own attachments
    and account files (the second one's were left out as notes, exit 0)."""
    alone: dict[str, Counter[str]] = {}
    for name, sample in (
        ("a", "sample-chatgpt-export.zip"),
        ("b", "sample-chatgpt-export-2026.zip"),
    ):
        with open_archive(tmp_path / f"only-{name}") as apart:
            alone[name] = import_path(apart, SAMPLES / sample, reader_process=False).attachments
    folder = tmp_path / "two"
    unpack(SAMPLES / "sample-chatgpt-export.zip", folder / "a")
    unpack(SAMPLES / "sample-chatgpt-export-2026.zip", folder / where)
    path = folder
    if zipped:
        files = {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }
        path = write_zip(tmp_path / "two.zip", files)
    report = import_path(archive, path, reader_process=False)
    assert report.kind == "chatgpt" and report.ok, report.problems
    assert not [p for p in report.problems if "left out" in p.what or "not referenced" in p.what]
    assert report.attachments["found"] == alone["a"]["found"] + alone["b"]["found"]
    assert report.attachments["missing"] == alone["a"]["missing"] + alone["b"]["missing"]
    assert {"a/user.json", f"{where}/user.json", f"{where}/export_manifest.json"} <= set(
        report.kept_files
    )


# -- two Claude exports in one path (probe E 2026-12-07, E1) ---------------------------------------


def claude_export(real: Path, folder: Path, tag: str) -> None:
    """The real sample's conversations with ids and account of their own, and the account
    files: a user, a project (instructions, a knowledge doc) and a memory."""
    chats = json.loads((real / CLAUDE).read_text())
    for chat in chats:
        chat["uuid"] = f"{tag}-{chat['uuid']}"
        chat["account"] = {"uuid": f"acc-{tag}"}
        chat["project_uuid"] = f"proj-{tag}"
        for message in chat["chat_messages"]:
            message["uuid"] = f"{tag}-{message['uuid']}"
    doc = {"uuid": f"doc-{tag}", "filename": "k.md", "content": f"Knowledge doc {tag}"}
    project = {"uuid": f"proj-{tag}", "name": tag, "prompt_template": f"Instructions for {tag}"}
    files = {
        "conversations.json": chats,
        "users.json": [{"uuid": f"acc-{tag}"}],
        "projects.json": [{**project, "docs": [doc]}],
        "memories.json": [{"conversations_memory": f"Memory of {tag}", "account_uuid": tag}],
    }
    folder.mkdir(parents=True)
    for name, value in files.items():
        (folder / name).write_text(json.dumps(value))


@pytest.mark.parametrize("where", ["B", "A/older-export"])
def test_two_claude_exports_in_one_path_keep_both_account_files(
    archive: Archive, real: Path, tmp_path: Path, where: str
) -> None:
    """Side by side, or one inside the other: each export's users, projects and memories are
    read (the second one's were left out as notes, exit 0, its chats read as loose files)."""
    folder = tmp_path / "two"
    claude_export(real, folder / "A", "A")
    claude_export(real, folder / where, "B")
    report = import_path(archive, folder, reader_process=False)
    assert report.kind == "claude" and report.ok, report.problems
    assert not [p for p in report.problems if p.where.endswith(".json")], report.problems
    assert kinds(archive) == {"claude": 10}
    names = ("memories.json", "projects.json", "users.json")
    assert sorted(report.kept_files) == sorted(f"{d}/{n}" for d in ("A", where) for n in names)
    account = sorted(r["text"] for r in archive.context_records() if r["conversation_id"] is None)
    assert account == sorted(
        f"{what} {tag}"
        for tag in ("A", "B")
        for what in ("Instructions for", "Knowledge doc", "Memory of")
    )
    rows = archive.db.execute(
        "SELECT source_conversation_id, project, account_id FROM conversations"
    )
    for source_id, project, account_id in rows:
        tag = source_id[0]
        assert (project, account_id) == (f"proj-{tag}", f"acc-{tag}")
