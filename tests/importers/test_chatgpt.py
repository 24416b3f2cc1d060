"""The ChatGPT importer on real exports of every era, and on synthetic 2025/2026 exports."""

from __future__ import annotations

import hashlib
import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive, conversation_id
from freehold.importers import chatgpt
from freehold.models import Conversation, ExportInfo, Message, Problem, SourceFile
from freehold.tree import branch_paths
from tests.builders import damaged_zip, ingest, png, write_zip

PK = "pkuppens-chatgpt-2023-06"
TREE = "librechat-import-data/chatgpt-tree.json"
GOLDEN = "echomine-aucontraire/chatgpt-golden-001/raw.json"
AUX = "moralesresearch-chatgpt-2023-aux"


# -- helpers ---------------------------------------------------------------------------------------


def records(path: Path) -> list[Any]:
    return list(chatgpt.iter_conversations(path))


def conversations(path: Path) -> dict[str, Conversation]:
    return {r.source_id: r for r in records(path) if isinstance(r, Conversation)}


def by_id(conv: Conversation) -> dict[str, Message]:
    return {m.source_id: m for m in conv.messages}


def visible(conv: Conversation) -> list[str]:
    return [m.source_id for m in conv.messages if m.on_visible_path]


def json_visible_path(obj: dict[str, Any]) -> list[str]:
    """Root → current_node from the JSON's own parent links, nodes without a message left out."""
    mapping = obj["mapping"]
    path: list[str] = []
    node: str | None = obj["current_node"]
    while node is not None:
        if mapping[node].get("message"):
            path.append(node)
        node = mapping[node]["parent"]
    return path[::-1]


def forks(conv: Conversation) -> dict[str, set[str]]:
    """Parent source id → the roles of its children, for parents with several children."""
    children: dict[str, list[Message]] = {}
    for m in conv.messages:
        if m.parent_source_id is not None:
            children.setdefault(m.parent_source_id, []).append(m)
    return {p: {k.role for k in kids} for p, kids in children.items() if len(kids) > 1}


def message(
    mid: str,
    role: str,
    content: dict[str, Any],
    t: float,
    *,
    name: str | None = None,
    recipient: str = "all",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": mid,
        "author": {"role": role, "name": name, "metadata": {}},
        "create_time": t,
        "content": content,
        "status": "finished_successfully",
        "weight": 1.0,
        "metadata": metadata or {},
        "recipient": recipient,
    }


def chain(cid: str, messages: list[dict[str, Any]], *, children: bool = True) -> dict[str, Any]:
    """A conversation whose messages follow each other under a null-message root."""
    mapping: dict[str, Any] = {
        "root-" + cid: {"id": "root-" + cid, "message": None, "parent": None}
    }
    parent = "root-" + cid
    for msg in messages:
        mapping[msg["id"]] = {"id": msg["id"], "message": msg, "parent": parent}
        parent = msg["id"]
    if children:
        for key, node in mapping.items():
            node["children"] = [k for k, n in mapping.items() if n["parent"] == key]
    return {
        "id": cid,
        "conversation_id": cid,
        "title": f"Conversation {cid}",
        "create_time": 1_700_000_000.0,
        "update_time": 1_700_000_100.0,
        "mapping": mapping,
        "current_node": parent,
    }


# -- 2023: pkuppens --------------------------------------------------------------------------------


@pytest.fixture
def pk(real: Path) -> tuple[list[dict[str, Any]], dict[str, Conversation]]:
    path = real / PK / "conversations.json"
    return json.loads(path.read_bytes()), conversations(path)


def test_pkuppens_all_conversations_read(real: Path) -> None:
    found = records(real / PK / "conversations.json")
    assert isinstance(found[0], ExportInfo)
    assert found[0].kind == "chatgpt" and not found[0].full_export
    assert not [r for r in found if isinstance(r, Problem)]
    assert sum(isinstance(r, Conversation) for r in found) == 8


def test_pkuppens_ids_raw_and_visible_paths(pk: Any) -> None:
    objects, convs = pk
    for obj in objects:
        assert "conversation_id" not in obj  # the 2023 field set
        conv = convs[obj["id"]]
        assert conv.raw == json.dumps(obj).encode()  # the exact source text of the element
        assert conv.title == obj["title"]
        assert conv.current_leaf == obj["current_node"]
        assert visible(conv) == json_visible_path(obj)
        assert len(conv.messages) == sum(1 for n in obj["mapping"].values() if n.get("message"))


def test_pkuppens_two_branch_points(pk: Any) -> None:
    objects, convs = pk
    expected = {
        obj["id"]: sum(len(n.get("children", [])) > 1 for n in obj["mapping"].values())
        for obj in objects
    }
    assert sorted(expected.values()) == [0] * 6 + [1, 1]
    assert {cid: len(forks(conv)) for cid, conv in convs.items()} == expected


def test_pkuppens_dutch_text_is_decoded(pk: Any) -> None:
    _, convs = pk
    texts = " ".join(m.text for m in convs["ffa388cf-145d-451e-a442-b0b1d78f7802"].messages)
    assert "initiële" in texts and "één" in texts and "Één" in texts
    assert not any("\\u00" in m.text for conv in convs.values() for m in conv.messages)


def test_pkuppens_browsing_tool_calls(pk: Any) -> None:
    _, convs = pk
    messages = convs["902d8aca-bcd3-477a-a348-d46448b6cd06"].messages
    kinds: dict[str, list[Message]] = {}
    for m in messages:
        kinds.setdefault(m.content_type, []).append(m)
    assert len(kinds["code"]) == 3 and len(kinds["system_error"]) == 2
    for m in kinds["code"]:
        assert m.role == "assistant" and m.hidden and m.meta["recipient"] == "browser"
        assert m.parts[0]["type"] == "code"
        assert "open_url(" in m.text or "quote(" in m.text
    for m in kinds["system_error"]:
        assert (m.role, m.author_name, m.hidden) == ("tool", "browser", True)
        assert m.parts == [{"type": "error", "text": m.text, "name": "tool_error"}]
        assert "Error when executing command" in m.text
    (display,) = kinds["tether_browsing_display"]
    assert display.parts[0]["type"] == "web" and display.hidden
    assert "freelance software en data science" in display.text
    for quote in kinds["tether_quote"]:
        assert quote.parts[0]["type"] == "web"
        assert quote.parts[0]["url"] == "https://www.pieterkuppens.nl/"
        assert quote.parts[0]["domain"] == "www.pieterkuppens.nl"
    answers = [m for m in messages if m.role == "assistant" and not m.hidden]
    assert answers and all(m.model == "gpt-4-browsing" for m in answers)


def test_pkuppens_plugin_call(pk: Any) -> None:
    objects, convs = pk
    obj = next(o for o in objects if o["id"].startswith("c21a4db5"))
    messages = by_id(convs[obj["id"]])
    (call,) = [
        m for m in messages.values() if m.meta.get("recipient") == "show_me.get_MermaidRoute"
    ]
    assert call.role == "assistant" and call.hidden
    (reply,) = [m for m in messages.values() if m.author_name == "show_me.get_MermaidRoute"]
    assert reply.role == "tool" and reply.hidden and reply.parent_source_id == call.source_id
    invoked = {
        key: node["message"]["metadata"]["invoked_plugin"]
        for key, node in obj["mapping"].items()
        if node.get("message") and "invoked_plugin" in node["message"]["metadata"]
    }
    assert invoked
    for key, plugin in invoked.items():
        assert messages[key].meta["invoked_plugin"] == plugin
        assert plugin["namespace"] == "show_me"


def test_pkuppens_system_node_hidden_and_finish_details_kept(pk: Any) -> None:
    objects, convs = pk
    for obj in objects:
        messages = by_id(convs[obj["id"]])
        for key, node in obj["mapping"].items():
            msg = node.get("message")
            if not msg:
                continue
            if msg["author"]["role"] == "system":
                assert messages[key].hidden
            finish = msg["metadata"].get("finish_details")
            assert messages[key].meta.get("finish_details") == finish


def test_pkuppens_2023_citation_resolved_by_offsets(pk: Any) -> None:
    _, convs = pk
    answer = by_id(convs["902d8aca-bcd3-477a-a348-d46448b6cd06"])[
        "917cd757-96f6-46f2-8d6c-7d88d3b09472"
    ]
    assert "【11†source】" in answer.parts[0]["text"] and "【" not in answer.text
    cites = [p for p in answer.parts if p["type"] == "citation"]
    assert [(c["marker"], c["url"]) for c in cites] == [
        ("【11†source】", "https://www.pieterkuppens.nl/")
    ]


def test_pkuppens_imports_with_branches_counted(archive: Archive, real: Path) -> None:
    report = ingest(archive, real / PK / "conversations.json")
    assert report.ok and report.conversations["new"] == 8
    assert report.content_types["tether_quote"] == 2 and report.content_types["system_error"] == 2
    assert archive.stats()["branched_conversations"] == 2
    hits = archive.search("initiële")
    assert hits and all(
        h.conversation_id == conversation_id("chatgpt", "ffa388cf-145d-451e-a442-b0b1d78f7802")
        for h in hits
    )


# -- 2024: chatgpt-tree.json -----------------------------------------------------------------------


@pytest.fixture
def tree(real: Path) -> tuple[dict[str, Any], Conversation]:
    path = real / TREE
    (obj,) = json.loads(path.read_bytes())
    (conv,) = conversations(path).values()
    return obj, conv


def test_tree_visible_path_is_root_to_current_node(tree: Any) -> None:
    obj, conv = tree
    first_key = next(iter(obj["mapping"]))
    assert obj["mapping"][first_key]["parent"] is not None  # the root is listed after its child
    path = json_visible_path(obj)
    assert visible(conv) == path
    assert path[-1] == obj["current_node"] == conv.current_leaf
    assert conv.source_id == obj["conversation_id"]


def test_tree_current_node_is_a_later_sibling(tree: Any) -> None:
    obj, conv = tree
    current = obj["current_node"]
    parent = obj["mapping"][current]["parent"]
    siblings = obj["mapping"][parent]["children"]
    assert len(siblings) == 2 and siblings.index(current) == 1
    messages = by_id(conv)
    assert messages[current].on_visible_path and not messages[siblings[0]].on_visible_path


def test_tree_edit_fork_and_regenerate_fork(tree: Any) -> None:
    obj, conv = tree
    expected = {
        key: {obj["mapping"][k]["message"]["author"]["role"] for k in node["children"]}
        for key, node in obj["mapping"].items()
        if len(node.get("children", [])) > 1
    }
    assert sorted(map(sorted, expected.values())) == [["assistant"], ["user"]]
    assert forks(conv) == expected


def test_tree_interrupted_answer(tree: Any) -> None:
    obj, conv = tree
    interrupted = [
        key
        for key, node in obj["mapping"].items()
        if node.get("message") and node["message"]["status"] == "in_progress"
    ]
    assert len(interrupted) == 1
    statuses = {m.source_id: m.status for m in conv.messages}
    assert statuses.pop(interrupted[0]) == "interrupted"
    assert set(statuses.values()) == {"complete"}


def test_tree_branch_paths_and_archive_counts(archive: Archive, real: Path, tree: Any) -> None:
    obj, conv = tree
    paths = branch_paths(conv.messages)
    assert [m.source_id for m in paths[0]] == json_visible_path(obj)
    assert sorted(m.source_id for p in paths for m in p) == sorted(by_id(conv))
    assert len(paths) == 3
    ingest(archive, real / TREE)
    stored = archive.get_conversation(obj["conversation_id"])
    assert visible(stored) == json_visible_path(obj)
    assert stored.current_leaf == obj["current_node"]
    branch_count = archive.db.execute("SELECT branch_count FROM conversations").fetchone()[0]
    assert branch_count == len(paths) == 3


# -- 2025: one conversation object -----------------------------------------------------------------


def test_golden_single_object_hidden_nodes_and_instructions(real: Path) -> None:
    path = real / GOLDEN
    obj = json.loads(path.read_bytes())
    (conv,) = conversations(path).values()
    assert conv.source_id == obj["conversation_id"] and conv.model == "gpt-4o"
    assert conv.raw == path.read_bytes().strip()
    should_hide = {
        key
        for key, node in obj["mapping"].items()
        if node.get("message")
        and (
            node["message"]["author"]["role"] == "system"
            or node["message"]["metadata"].get("is_visually_hidden_from_conversation")
        )
    }
    assert len(should_hide) == 4  # three system nodes and the custom-instructions node
    assert {m.source_id for m in conv.messages if m.hidden} == should_hide
    (uec,) = [m for m in conv.messages if m.content_type == "user_editable_context"]
    data = obj["mapping"][uec.source_id]["message"]["metadata"]["user_context_message_data"]
    (record,) = conv.context
    assert record.kind == "custom_instructions" and record.message_source_id == uec.source_id
    assert record.data == {
        "about_user": data["about_user_message"],
        "about_model": data["about_model_message"],
    }
    assert record.data["about_user"].startswith("Preferred name: Tecolote")
    assert uec.parts[0]["type"] == "context"
    assert visible(conv) == json_visible_path(obj)


def test_golden_context_record_stored(archive: Archive, real: Path) -> None:
    report = ingest(archive, real / GOLDEN)
    assert report.ok and report.context_records == 1
    (stored,) = archive.context_records()
    assert stored["kind"] == "custom_instructions"
    assert stored["data"]["about_model"].startswith("read instructions")


# -- 2023 account files kept raw -------------------------------------------------------------------


def aux_folder(real: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "export-2023"
    folder.mkdir()
    for name in ("conversations.json", "user.json"):
        shutil.copy(real / PK / name, folder / name)
    for name in ("message_feedback.json", "shared_conversations.json"):
        shutil.copy(real / AUX / name, folder / name)
    return folder


def test_account_files_kept_raw(real: Path, tmp_path: Path) -> None:
    folder = aux_folder(real, tmp_path)
    found = records(folder)
    info = found[0]
    assert isinstance(info, ExportInfo) and info.full_export and info.account_id == "user-***"
    kept = {r.name: r.raw for r in found if isinstance(r, SourceFile)}
    assert kept == {
        name: (folder / name).read_bytes()
        for name in ("user.json", "message_feedback.json", "shared_conversations.json")
    }
    assert sum(isinstance(r, Conversation) for r in found) == 8
    assert all(r.account_id == "user-***" for r in found if isinstance(r, Conversation))


def test_account_files_stored_in_the_archive(archive: Archive, real: Path, tmp_path: Path) -> None:
    folder = aux_folder(real, tmp_path)
    report = ingest(archive, folder)
    assert sorted(report.kept_files) == [
        "message_feedback.json",
        "shared_conversations.json",
        "user.json",
    ]
    rows = archive.db.execute("SELECT name, sha256, raw FROM source_files").fetchall()
    assert {name: zlib.decompress(raw) for name, _, raw in rows} == {
        name: (folder / name).read_bytes() for name in report.kept_files
    }
    assert all(sha == hashlib.sha256(zlib.decompress(raw)).hexdigest() for _, sha, raw in rows)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (PK + "/conversations.json", True),
        (PK, True),
        (TREE, True),
        (GOLDEN, True),
        # In a folder, recognised by content as alone, whatever the file's name.
        ("librechat-import-data", True),
        ("echomine-aucontraire/chatgpt-golden-001", True),
        ("librechat-import-data/librechat-tree.json", False),
        ("librechat-import-data/openwebui-export.json", False),
        ("echomine-aucontraire/claude/sample_export.json", False),
        (AUX, False),
    ],
)
def test_detect_on_real_files(real: Path, relative: str, expected: bool) -> None:
    assert chatgpt.detect(real / relative) is expected


# -- 2026: sharded zip -----------------------------------------------------------------------------

HEX_A = "0123456789abcdef0123456789abcdef"
HEX_B = "fedcba9876543210fedcba9876543210"


def slim(mid: str, role: str, text: str | dict[str, Any], t: float) -> dict[str, Any]:
    """A 2026 slim message: author, content, create_time, id (+ model_slug for assistants)."""
    content = text if isinstance(text, dict) else {"content_type": "text", "parts": [text]}
    msg: dict[str, Any] = {
        "author": {"name": None, "role": role},
        "content": content,
        "create_time": t,
        "id": mid,
    }
    if role == "assistant":
        msg["metadata"] = {"model_slug": "gpt-5", "parent_id": None}
    return msg


def pretty(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode()


def sharded_members(image: bytes) -> dict[str, bytes]:
    photo = {
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://file_{HEX_A}"},
            {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://file_{HEX_B}"},
            "what is in these pictures?",
        ],
    }
    first = chain(
        "shard-a",
        [slim("a1", "user", photo, 1.0), slim("a2", "assistant", "Two squares, résumé.", 2.0)],
        children=False,
    )
    second = chain(
        "shard-b",
        [
            slim("b1", "user", "second shard question", 3.0),
            slim("b2", "assistant", "second shard answer", 4.0),
        ],
        children=False,
    )
    members = {
        "conversations-000.json": pretty([first]),
        "conversations-001.json": pretty([second]),
        "user.json": b'{"id": "user-2026", "email": "x@example.org"}',
        f"file_{HEX_A}.dat": image,
        "4a7e19c2.dat": image[:-12] + b"\x00" * 12,
        "conversation_asset_file_names.json": json.dumps(
            {f"file_{HEX_A}.dat": "user-abc/0d9f.png", "4a7e19c2.dat": f"file_{HEX_B}-scan.png"}
        ).encode(),
    }
    manifest = {
        "export_files": [{"path": name, "size_bytes": len(data)} for name, data in members.items()],
        "logical_files": {
            "conversations.json": {
                "files": ["conversations-000.json", "conversations-001.json"],
                "shard_count": 2,
                "sharded": True,
            }
        },
        "manifest_file": "export_manifest.json",
        "version": 1,
    }
    members["export_manifest.json"] = pretty(manifest)
    return members


def test_sharded_2026_export(archive: Archive, tmp_path: Path) -> None:
    image = png()
    members = sharded_members(image)
    for shard in ("conversations-000.json", "conversations-001.json"):
        assert (
            b'"children"' not in members[shard]
            and b'\n  {\n    "conversation_id"' in members[shard]
        )
    report = ingest(archive, write_zip(tmp_path / "export-2026.zip", members))
    assert report.ok, report.problems
    assert report.conversations["new"] == 2
    assert [name for name, _ in report.files] == [
        "conversations-000.json",
        "conversations-001.json",
    ]
    first = archive.get_conversation("shard-a")
    assert [m.text for m in first.messages] == [
        "what is in these pictures?",
        "Two squares, résumé.",
    ]
    assert first.messages[1].model == "gpt-5" and first.model == "gpt-5"
    assert visible(first) == ["a1", "a2"]
    assert archive.get_conversation("shard-b").messages[0].text == "second shard question"
    refs = {a.pointer: a for a in first.messages[0].attachments}
    direct = refs[f"sediment://file_{HEX_A}"]
    assert direct.sha256 == hashlib.sha256(image).hexdigest() and direct.sniffed_mime == "image/png"
    assert archive.blob_path(direct.sha256).read_bytes() == image
    mapped = refs[f"sediment://file_{HEX_B}"]
    assert mapped.sha256 == hashlib.sha256(members["4a7e19c2.dat"]).hexdigest()
    assert report.attachments["found"] == 2 and report.attachments["missing"] == 0
    assert report.to_json()["ok"] is True


def test_manifest_mismatch_is_reported(archive: Archive, tmp_path: Path) -> None:
    members = sharded_members(png())
    manifest = json.loads(members["export_manifest.json"])
    manifest["export_files"].append({"path": "conversations-002.json", "size_bytes": 10})
    for entry in manifest["export_files"]:
        if entry["path"] == "conversations-001.json":
            entry["size_bytes"] += 100
    members["export_manifest.json"] = pretty(manifest)
    report = ingest(archive, write_zip(tmp_path / "export-2026.zip", members))
    assert not report.ok
    assert report.conversations["new"] == 2
    problems = {p.where: p.what for p in report.problems}
    assert "missing" in problems["conversations-002.json"]
    assert "export_manifest.json says" in problems["conversations-001.json"]


# -- every content type in one conversation --------------------------------------------------------

OLD_MARK = "【3†source】"
NEW_MARK = "\ue200cite\ue202turn0search3\ue201"


def every_type_messages() -> list[dict[str, Any]]:
    t = iter(range(1, 100))
    img = {
        "content_type": "image_asset_pointer",
        "asset_pointer": "file-service://file-Upload1",
        "size_bytes": 100,
        "width": 2,
        "height": 2,
    }
    return [
        message(
            "m-ctx",
            "user",
            {
                "content_type": "user_editable_context",
                "user_profile": "I like tea",
                "user_instructions": "Be terse",
            },
            next(t),
            metadata={"is_visually_hidden_from_conversation": True},
        ),
        message(
            "m-text",
            "user",
            {"content_type": "text", "parts": ["Plain question about penguins"]},
            next(t),
        ),
        message(
            "m-multi",
            "user",
            {
                "content_type": "multimodal_text",
                "parts": [
                    img,
                    {"content_type": "audio_transcription", "text": "spoken walrus words"},
                    "caption about otters",
                ],
            },
            next(t),
        ),
        message(
            "m-thoughts",
            "assistant",
            {
                "content_type": "thoughts",
                "thoughts": [{"summary": "Pondering", "content": "inner reasoning about lemurs"}],
            },
            next(t),
        ),
        message(
            "m-recap",
            "assistant",
            {"content_type": "reasoning_recap", "content": "Thought for 12 seconds"},
            next(t),
        ),
        message(
            "m-code",
            "assistant",
            {"content_type": "code", "language": "python", "text": "print(6 * 7)"},
            next(t),
            recipient="python",
        ),
        message(
            "m-exec",
            "tool",
            {"content_type": "execution_output", "text": "42"},
            next(t),
            name="python",
        ),
        message(
            "m-browse",
            "tool",
            {
                "content_type": "tether_browsing_display",
                "result": "【0†Ocelot facts†example.org】",
                "summary": None,
                "assets": [],
                "tether_id": None,
            },
            next(t),
            name="browser",
        ),
        message(
            "m-quote",
            "tool",
            {
                "content_type": "tether_quote",
                "url": "https://example.org/ocelot",
                "domain": "example.org",
                "title": "Ocelots",
                "text": "Ocelots are wild cats.",
            },
            next(t),
            name="browser",
        ),
        message(
            "m-sonic",
            "tool",
            {
                "content_type": "sonic_webpage",
                "url": "https://example.net/narwhal",
                "domain": "example.net",
                "title": "Narwhals",
                "text": "Narwhal tusks are teeth.",
                "snippet": "tusks",
                "pub_timestamp": None,
            },
            next(t),
            name="web.run",
        ),
        message(
            "m-error",
            "tool",
            {
                "content_type": "system_error",
                "name": "tool_error",
                "text": "Timeout fetching the page",
            },
            next(t),
            name="web.run",
        ),
        message(
            "m-unknown",
            "tool",
            {
                "content_type": "computer_output",
                "computer_id": "vm-1",
                "text": "screen shows a capybara",
            },
            next(t),
            name="computer",
        ),
        message(
            "m-bio",
            "assistant",
            {"content_type": "text", "parts": ["User owns a cat named Miso."]},
            next(t),
            recipient="bio",
        ),
        message(
            "m-dalle",
            "tool",
            {
                "content_type": "multimodal_text",
                "parts": [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "file-service://file-Dalle7",
                        "metadata": {"dalle": {"prompt": "a fox"}},
                    }
                ],
            },
            next(t),
            name="dalle.text2im",
        ),
        message(
            "m-gen",
            "tool",
            {
                "content_type": "multimodal_text",
                "parts": [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": f"sediment://file_{HEX_B}",
                    }
                ],
            },
            next(t),
            name="image_gen",
        ),
        message(
            "m-nofile",
            "user",
            {
                "content_type": "multimodal_text",
                "parts": [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "file-service://file-Gone404",
                    },
                    "lost picture",
                ],
            },
            next(t),
        ),
        message(
            "m-cite",
            "assistant",
            {
                "content_type": "text",
                "parts": [f"Paris has the Eiffel Tower{OLD_MARK} and the Louvre{NEW_MARK}."],
            },
            next(t),
            metadata={
                "model_slug": "gpt-4o",
                "finish_details": {"type": "max_tokens"},
                "_cite_metadata": {
                    "citation_format": {"name": "tether_og"},
                    "metadata_list": [
                        {"url": f"https://old.example/{i}", "title": f"Old {i}"} for i in range(4)
                    ],
                },
                "content_references": [
                    {
                        "matched_text": NEW_MARK,
                        "type": "grouped_webpages",
                        "items": [{"url": "https://new.example/louvre", "title": "Louvre"}],
                        "alt": "([Louvre](https://new.example/louvre))",
                    }
                ],
            },
        ),
    ]


def every_type_zip(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    files = {
        "file-Upload1-holiday.png": png(3, 1),
        "dalle-generations/file-Dalle7-5c0e1a.webp": png(1, 3),
        f"user-abc123/file_{HEX_B}-9f8e.png": png(4, 4),
    }
    conv = chain("every-type", every_type_messages())
    members = {
        "conversations.json": json.dumps([conv]).encode(),
        "user.json": b'{"id": "user-t"}',
        **files,
    }
    return write_zip(tmp_path / "every-type.zip", members), files


def test_every_content_type_becomes_documented_parts(tmp_path: Path) -> None:
    path, _ = every_type_zip(tmp_path)
    messages = by_id(conversations(path)["every-type"])
    part_types = {key: [p["type"] for p in m.parts] for key, m in messages.items()}
    assert part_types == {
        "m-ctx": ["context"],
        "m-text": ["text"],
        "m-multi": ["image", "transcript", "text"],
        "m-thoughts": ["thought"],
        "m-recap": ["thought"],
        "m-code": ["code"],
        "m-exec": ["execution_output"],
        "m-browse": ["web"],
        "m-quote": ["web"],
        "m-sonic": ["web"],
        "m-error": ["error"],
        "m-unknown": ["unknown"],
        "m-bio": ["text"],
        "m-dalle": ["image"],
        "m-gen": ["image"],
        "m-nofile": ["image", "text"],
        "m-cite": ["text", "citation", "citation"],
    }
    assert messages["m-unknown"].parts[0]["raw"]["computer_id"] == "vm-1"
    assert messages["m-multi"].text == "spoken walrus words\n\ncaption about otters"
    assert messages["m-code"].parts[0]["language"] == "python"
    assert messages["m-sonic"].parts[0]["url"] == "https://example.net/narwhal"
    assert messages["m-dalle"].parts[0]["generated"] is True
    assert messages["m-cite"].meta["finish_details"] == {"type": "max_tokens"}


def test_every_content_type_hidden_flags(tmp_path: Path) -> None:
    path, _ = every_type_zip(tmp_path)
    messages = by_id(conversations(path)["every-type"])
    hidden = {key for key, m in messages.items() if m.hidden}
    assert hidden == {
        "m-ctx", "m-thoughts", "m-recap", "m-code", "m-exec", "m-browse", "m-quote",
        "m-sonic", "m-error", "m-unknown", "m-bio", "m-dalle", "m-gen",
    }  # fmt: skip


def test_citations_kept_in_parts_resolved_and_not_searchable(
    archive: Archive, tmp_path: Path
) -> None:
    path, _ = every_type_zip(tmp_path)
    ingest(archive, path)
    cite = by_id(archive.get_conversation("every-type"))["m-cite"]
    assert OLD_MARK in cite.parts[0]["text"] and NEW_MARK in cite.parts[0]["text"]
    assert "【" not in cite.text and "\ue200" not in cite.text and "turn0search3" not in cite.text
    assert "Eiffel Tower" in cite.text and "Louvre" in cite.text
    urls = {p["marker"]: p["url"] for p in cite.parts if p["type"] == "citation"}
    assert urls == {OLD_MARK: "https://old.example/3", NEW_MARK: "https://new.example/louvre"}
    assert archive.search("turn0search3") == []
    assert archive.search("Eiffel")


def test_every_content_type_report_attachments_and_context(
    archive: Archive, tmp_path: Path
) -> None:
    path, files = every_type_zip(tmp_path)
    report = ingest(archive, path)
    assert report.not_understood == {"computer_output": 1}
    assert report.to_json()["not_understood"] == {"computer_output": 1}
    assert report.content_types["sonic_webpage"] == 1 and report.content_types["thoughts"] == 1
    assert report.attachments["referenced"] == 4
    assert (report.attachments["found"], report.attachments["missing"]) == (3, 1)
    stats = archive.stats()
    assert stats["attachments"] == 3 and stats["attachments_missing"] == 1
    stored = {
        archive.blob_path(hashlib.sha256(data).hexdigest()).read_bytes() for data in files.values()
    }
    assert stored == set(files.values())
    kinds = {r["kind"]: r for r in archive.context_records()}
    assert kinds["memory"]["text"] == "User owns a cat named Miso."
    assert kinds["custom_instructions"]["data"] == {
        "about_user": "I like tea",
        "about_model": "Be terse",
    }
    assert archive.search("capybara")  # an unknown type's text is still searchable
    assert archive.search("walrus") and archive.search("lemurs")


# -- a link of another JSON type -------------------------------------------------------------------


def _three(cid: str) -> dict[str, Any]:
    said = [("m1", "user", "unicorn question"), ("m2", "assistant", "zebra answer")]
    said.append(("m3", "user", "third"))
    texts = [
        message(m, r, {"content_type": "text", "parts": [t]}, 1.0 + n)
        for n, (m, r, t) in enumerate(said)
    ]
    return chain(cid, texts)


@pytest.mark.parametrize("odd", [{"x": 1}, ["m1"], 7, True])
@pytest.mark.parametrize("through_an_empty_node", [False, True])
def test_a_parent_of_another_json_type_costs_that_link_only(
    archive: Archive, tmp_path: Path, odd: Any, through_an_empty_node: bool
) -> None:
    """An object or array where a node id belongs used to cost the conversation's messages
    (a set lookup of an unhashable value): probe 2026-12-07, defect 1."""
    good = _three("c-p")
    bad = json.loads(json.dumps(good))
    if through_an_empty_node:  # the walk up from m2 passes a node without a message
        bad["mapping"]["e"] = {"id": "e", "message": None, "parent": odd}
        bad["mapping"]["m2"]["parent"] = "e"
    else:
        bad["mapping"]["m2"]["parent"] = odd
    (tmp_path / "ok.json").write_text(json.dumps([good]))
    (tmp_path / "odd.json").write_text(json.dumps([bad]))
    assert ingest(archive, tmp_path / "ok.json").ok
    report = ingest(archive, tmp_path / "odd.json")
    assert report.ok, report.problems
    notes = [p.what for p in report.problems]
    assert any("parent: " in n and "where a node id was expected" in n for n in notes), notes
    conv = archive.get_conversation("c-p")
    assert conv.title == "Conversation c-p" and conv.created_at == 1_700_000_000.0
    assert sorted(m.text for m in conv.messages) == ["third", "unicorn question", "zebra answer"]
    assert by_id(conv)["m2"].parent_source_id is None  # the odd link only
    assert conv.current_leaf == "m3" and visible(conv) == ["m2", "m3"]


def test_a_renamed_conversations_file_in_a_folder_is_not_a_whole_export(
    real: Path, tmp_path: Path
) -> None:
    """``conversations (1).json`` is read as it would be alone: not the export's folder, so not
    a whole account's export (nothing flagged gone upstream by it), and no account file read."""
    folder = tmp_path / "saved"
    folder.mkdir()
    for name in ("conversations.json", "user.json"):
        (folder / name).write_bytes((real / PK / name).read_bytes())
    export = next(chatgpt.iter_conversations(folder))
    assert isinstance(export, ExportInfo) and export.full_export and export.account_id
    (folder / "conversations.json").rename(folder / "conversations (1).json")
    records = list(chatgpt.iter_conversations(folder))
    assert isinstance(records[0], ExportInfo)
    assert not records[0].full_export and records[0].account_id is None
    assert [name for name, _ in records[0].files] == ["conversations (1).json"]
    assert sum(isinstance(r, Conversation) for r in records) == 8
    assert not any(isinstance(r, SourceFile) for r in records)


@pytest.mark.parametrize("damage", ["data", "crc"])
@pytest.mark.parametrize("account_file", ["user.json", "export_manifest.json"])
def test_a_damaged_account_file_is_reported_and_the_conversations_imported(
    archive: Archive, tmp_path: Path, damage: str, account_file: str
) -> None:
    """A damaged file beside the conversations (bad deflate data, a bad CRC-32) is one lost
    problem; it used to stop the import with a traceback: probe C 2026-12-07, C5."""
    account = pretty({"id": "user-abc", "email": "someone@example.com", "padding": "x" * 200})
    members = {
        account_file: account,
        "conversations.json": json.dumps([_three("c-d")]).encode(),
        "message_feedback.json": b"[]",
    }
    report = ingest(archive, damaged_zip(tmp_path / "damaged.zip", members, damage))
    assert report.conversations["new"] == 1
    assert archive.get_conversation("c-d").title == "Conversation c-d"
    assert report.kept_files == ["message_feedback.json"]
    lost = [(p.where, p.what) for p in report.problems if p.lost]
    assert len(lost) == 1 and lost[0][0] == account_file, report.problems
    assert "damaged" in lost[0][1] and lost[0][1].endswith("— download the export again")
    assert not report.ok


def test_folder_entries_of_a_chatgpt_zip_are_not_unreferenced_files(
    archive: Archive, tmp_path: Path
) -> None:
    """The folders ``zip -r`` lists as entries are not files "not referenced by any
    conversation" (probe C 2026-12-07, C9)."""
    members = {
        "dalle-generations/": b"",
        "user-abc/": b"",
        "conversations.json": json.dumps([_three("c-z")]).encode(),
        "user.json": b'{"id": "user-abc"}',
    }
    report = ingest(archive, write_zip(tmp_path / "export.zip", members))
    assert report.conversations["new"] == 1
    assert report.ok and report.problems == [], report.problems


def test_a_file_no_conversation_reads_is_worded_as_every_file_left_out(
    archive: Archive, tmp_path: Path
) -> None:
    """Probe U (wording): PROVENANCE.md beside a ChatGPT export was "1 file not referenced by
    any conversation, left in the export", and in a folder of several exports "a text file,
    not an export; left out". A file that is not the export's own is now said what it is, as
    everywhere; the export's own upload no conversation points at is counted, left out too."""
    members = {
        "conversations.json": json.dumps([_three("c-p")]).encode(),
        "user.json": b'{"id": "user-abc"}',
        "PROVENANCE.md": b"# Where this export came from\n",
        "file-Orphan1-photo.png": png(),
    }
    report = ingest(archive, write_zip(tmp_path / "export.zip", members))
    assert report.ok and report.conversations["new"] == 1
    said = sorted((p.where, p.what, p.lost) for p in report.problems)
    assert said == [
        ("PROVENANCE.md", "a text file, not an export; left out", False),
        (
            "export.zip",
            "1 file not referenced by any conversation, left out: file-Orphan1-photo.png",
            False,
        ),
    ]
