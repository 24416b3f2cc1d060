"""Tests for benchmarks/genexport.py, the synthetic ChatGPT export generator.

Every count the generator reports is checked against an independent count made by parsing
the written files with the stdlib ``json`` module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GENEXPORT_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "genexport.py"
TARGET = 300_000
SHARD_BYTES = 100_000

CONTENT_TYPES = {
    "text",
    "multimodal_text",
    "code",
    "execution_output",
    "tether_browsing_display",
    "tether_quote",
    "system_error",
    "sonic_webpage",
    "user_editable_context",
    "thoughts",
    "reasoning_recap",
    "computer_output",  # a type no importer knows
}
PART_TYPES = {"image_asset_pointer", "audio_transcription"}
TOOLS = {"python", "browser", "dalle.text2im", "bio"}
MODELS = {"text-davinci-002-render-sha", "gpt-4", "gpt-4o", "o3", "gpt-5-thinking"}
HEX32 = r"[0-9a-f]{32}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("genexport", GENEXPORT_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["genexport"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


genexport = _load()


@dataclass
class Export:
    layout: str  # "single" or "sharded", whatever the profile
    path: Path
    stats: Any
    members: dict[str, bytes]
    conversations: list[dict[str, Any]]
    conversation_files: list[str]


def _read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _conversation_files(members: dict[str, bytes]) -> list[str]:
    pattern = re.compile(r"conversations(-\d{3})?\.json")
    return sorted(name for name in members if pattern.fullmatch(name))


def _make(tmp: Path, layout: str, name: str, **kwargs: Any) -> Export:
    path = tmp / name
    stats = genexport.generate(
        path, target_bytes=TARGET, layout=layout, seed=7, shard_bytes=SHARD_BYTES, **kwargs
    )
    members = _read_zip(path)
    files = _conversation_files(members)
    conversations = [c for f in files for c in json.loads(members[f])]
    return Export(layout, path, stats, members, conversations, files)


VARIANTS = ["single", "sharded", "varied-single", "varied-sharded"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Export]:
    """Both layouts of both profiles: every content test below runs on each."""
    tmp = tmp_path_factory.mktemp("genexport")
    made = {layout: _make(tmp, layout, f"{layout}.zip") for layout in ("single", "sharded")}
    for layout in ("single", "sharded"):
        made[f"varied-{layout}"] = _make(tmp, layout, f"v-{layout}.zip", profile="varied")
    return made


@pytest.fixture(params=VARIANTS)
def export(request: pytest.FixtureRequest, exports: dict[str, Export]) -> Export:
    return exports[request.param]


def _messages(export: Export) -> list[dict[str, Any]]:
    return [
        node["message"]
        for conv in export.conversations
        for node in conv["mapping"].values()
        if node["message"] is not None
    ]


def _children(mapping: dict[str, Any]) -> dict[str, list[str]]:
    """Children rebuilt from ``parent`` (2026 exports have no ``children``), in mapping order."""
    kids: dict[str, list[str]] = {nid: [] for nid in mapping}
    for nid, node in mapping.items():
        if node["parent"] is not None:
            kids[node["parent"]].append(nid)
    return kids


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_seed_gives_identical_bytes(
    variant: str, exports: dict[str, Export], tmp_path: Path
) -> None:
    profile, _, layout = variant.rpartition("-")
    again = genexport.generate(
        tmp_path / "again.zip",
        target_bytes=TARGET,
        layout=layout,
        seed=7,
        shard_bytes=SHARD_BYTES,
        profile=profile or "default",
    )
    assert (tmp_path / "again.zip").read_bytes() == exports[variant].path.read_bytes()
    assert again == exports[variant].stats


# The members of the seed-7 exports as the generator wrote them before the varied profile
# existed: adding a profile must not move a single random draw of the default one.
DEFAULT_DIGESTS = {
    "single": "6b55dbe3a5ec690f4968e8ca7254835250226d7c1453f77a5767b9134b50cdc3",
    "sharded": "28ac73571832193f8a609fc0500cbc007f5a4040e4b4471164b6188d2105991c",
}


@pytest.mark.parametrize("layout", ["single", "sharded"])
def test_default_profile_is_unchanged(layout: str, exports: dict[str, Export]) -> None:
    digest = hashlib.sha256()
    for name, data in sorted(exports[layout].members.items()):
        digest.update(name.encode() + b"\0" + data)
    assert digest.hexdigest() == DEFAULT_DIGESTS[layout]


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="profile"):
        genexport.generate(tmp_path / "x.zip", target_bytes=TARGET, profile="huge")


def test_other_seed_differs(exports: dict[str, Export], tmp_path: Path) -> None:
    genexport.generate(tmp_path / "other.zip", target_bytes=TARGET, seed=8)
    other = _read_zip(tmp_path / "other.zip")["conversations.json"]
    assert other != exports["single"].members["conversations.json"]


def test_folder_output_matches_zip(exports: dict[str, Export], tmp_path: Path) -> None:
    out = tmp_path / "unpacked"
    genexport.generate(out, target_bytes=TARGET, layout="sharded", seed=7, shard_bytes=SHARD_BYTES)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert files == exports["sharded"].members


def test_images_flag_changes_no_json(exports: dict[str, Export], tmp_path: Path) -> None:
    stats = genexport.generate(tmp_path / "noimg.zip", target_bytes=TARGET, seed=7)
    members = _read_zip(tmp_path / "noimg.zip")
    assert members["conversations.json"] == exports["single"].members["conversations.json"]
    no_images = genexport.generate(tmp_path / "none.zip", target_bytes=TARGET, seed=7, images=False)
    assert no_images.images == 0
    assert no_images.images_missing == stats.images + stats.images_missing


# --------------------------------------------------------------------------- layout


def test_single_members(exports: dict[str, Export]) -> None:
    export = exports["single"]
    names = set(export.members)
    assert {
        "conversations.json",
        "user.json",
        "message_feedback.json",
        "shared_conversations.json",
        "chat.html",
    } <= names
    media = names - {n for n in names if n.endswith((".json", ".html"))}
    user_id = json.loads(export.members["user.json"])["id"]
    patterns = {
        "upload": re.compile(r"(file-[A-Za-z0-9]{22}|file_" + HEX32 + r")-[^/]+\.(png|jpeg)"),
        "dalle": re.compile(r"dalle-generations/file-[A-Za-z0-9]{22}-" + UUID + r"\.webp"),
        "image_gen": re.compile(re.escape(user_id) + "/file_" + HEX32 + "-" + UUID + r"\.png"),
    }
    kinds = Counter(
        next(kind for kind, rx in patterns.items() if rx.fullmatch(name)) for name in media
    )
    assert set(kinds) == set(patterns)


def test_sharded_members_and_asset_map(exports: dict[str, Export]) -> None:
    export = exports["sharded"]
    names = set(export.members)
    assert {
        "export_manifest.json",
        "user.json",
        "user_settings.json",
        "library_files.json",
        "conversation_asset_file_names.json",
    } <= names
    assert len(export.conversation_files) > 1
    assert export.conversation_files[0] == "conversations-000.json"
    blobs = {n for n in names if n.endswith(".dat")}
    assert blobs
    for name in blobs:
        assert re.fullmatch(r"(file_" + HEX32 + r"|file-[A-Za-z0-9]{22})\.dat", name)
    asset_map = json.loads(export.members["conversation_asset_file_names.json"])
    assert set(asset_map) == blobs
    assert names - blobs == {n for n in names if n.endswith((".json", ".html"))}


def test_manifest_matches_members(exports: dict[str, Export]) -> None:
    export = exports["sharded"]
    manifest = json.loads(export.members["export_manifest.json"])
    assert manifest["manifest_file"] == "export_manifest.json"
    assert manifest["version"] == 1
    listed = {f["path"]: f["size_bytes"] for f in manifest["export_files"]}
    actual = {n: len(b) for n, b in export.members.items() if n != "export_manifest.json"}
    assert listed == actual
    logical = manifest["logical_files"]
    assert logical["conversations.json"] == {
        "files": export.conversation_files,
        "shard_count": len(export.conversation_files),
        "sharded": True,
    }
    assert logical["user.json"] == {"files": ["user.json"], "sharded": False}


@pytest.mark.parametrize("variant", ["single", "varied-single"])
def test_single_is_one_line_json_dumps_defaults(variant: str, exports: dict[str, Export]) -> None:
    raw = exports[variant].members["conversations.json"]
    assert b"\n" not in raw
    assert raw.isascii()
    assert json.dumps(json.loads(raw)).encode() == raw


@pytest.mark.parametrize("variant", ["sharded", "varied-sharded"])
def test_shards_are_sorted_pretty_json(variant: str, exports: dict[str, Export]) -> None:
    export = exports[variant]
    for name in export.conversation_files:
        text = export.members[name].decode("utf-8")
        again = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
        assert again == text
    nodes = [n for c in export.conversations for n in c["mapping"].values()]
    assert all(set(n) == {"id", "message", "parent"} for n in nodes)


def test_sharded_has_slim_and_full_messages(exports: dict[str, Export]) -> None:
    slim_keys = {"author", "content", "create_time", "id", "metadata"}
    slim = full = 0
    for msg in _messages(exports["sharded"]):
        if "status" in msg:
            full += 1
            continue
        slim += 1
        assert set(msg) <= slim_keys
        assert set(msg["author"]) == {"name", "role"}
        if msg["author"]["role"] == "assistant":
            assert set(msg["metadata"]) == {"model_slug", "parent_id"}
        else:
            assert "metadata" not in msg
    assert slim and full


def test_user_json(export: Export) -> None:
    user = json.loads(export.members["user.json"])
    assert set(user) == {"id", "email", "chatgpt_plus_user", "phone_number"}
    assert user["id"].startswith("user-")
    assert user["email"].endswith("@example.com")


# --------------------------------------------------------------------------- content


def test_every_content_type(export: Export) -> None:
    messages = _messages(export)
    types = {m["content"]["content_type"] for m in messages}
    assert types >= CONTENT_TYPES
    parts = {
        p["content_type"]
        for m in messages
        for p in m["content"].get("parts") or []
        if isinstance(p, dict)
    }
    assert parts >= PART_TYPES
    pointers = {
        p["asset_pointer"].split("://")[0]
        for m in messages
        for p in m["content"].get("parts") or []
        if isinstance(p, dict) and p["content_type"] == "image_asset_pointer"
    }
    assert pointers == {"file-service", "sediment"}
    tools = {m["author"]["name"] for m in messages if m["author"]["role"] == "tool"}
    assert tools >= TOOLS
    slugs = {(m.get("metadata") or {}).get("model_slug") for m in messages}
    assert slugs >= MODELS


def test_tool_calls_and_memory(exports: dict[str, Export]) -> None:
    messages = _messages(exports["single"])  # slim 2026 messages drop `recipient`
    calls = {m["recipient"] for m in messages if m["author"]["role"] == "assistant"}
    assert calls >= TOOLS | {"all"}
    bio = [
        m for m in messages if m["recipient"] == "bio" and m["content"]["content_type"] == "code"
    ]
    assert bio and all(m["content"]["text"].startswith("User ") for m in bio)
    python = [m for m in messages if m["content"]["content_type"] == "execution_output"]
    assert all("aggregate_result" in m["metadata"] for m in python)


def test_citations_both_styles(export: Export) -> None:
    texts = [
        (m, p)
        for m in _messages(export)
        if m["content"]["content_type"] == "text"
        for p in m["content"]["parts"]
    ]
    old = [m for m, p in texts if re.search(r"【\d+†source】", p)]
    new = [m for m, p in texts if re.search("\ue200cite\ue202turn0search\\d+\ue201", p)]
    assert old and new
    if export.layout == "single":
        assert all("_cite_metadata" in m["metadata"] for m in old)
        for m in new:
            for ref in m["metadata"]["content_references"]:
                part = m["content"]["parts"][0]
                assert part[ref["start_idx"] : ref["end_idx"]] == ref["matched_text"]


def test_conversation_oddities(export: Export) -> None:
    convs = export.conversations
    assert any(c["title"] is None for c in convs)
    assert any(c.get("gizmo_id", "") and c["gizmo_id"].startswith("g-") for c in convs)
    assert any(c.get("is_archived") for c in convs)
    assert any(c.get("is_starred") for c in convs)
    assert any(c["current_node"] not in c["mapping"] for c in convs)  # dangling
    assert any("conversation_id" not in c for c in convs) == (export.layout == "single")
    for conv in convs:
        roots = [n for n in conv["mapping"].values() if n["parent"] is None]
        assert len(roots) == 1 and roots[0]["message"] is None


def test_hidden_nodes_and_custom_instructions(export: Export) -> None:
    messages = _messages(export)
    assert any(m["author"]["role"] == "system" and m["content"]["parts"] == [""] for m in messages)
    contexts = [m for m in messages if m["content"]["content_type"] == "user_editable_context"]
    assert contexts
    for m in contexts:
        assert m["metadata"]["is_user_system_message"] is True
        assert set(m["metadata"]["user_context_message_data"]) == {
            "about_user_message",
            "about_model_message",
        }


def test_interrupted_answer(export: Export) -> None:
    messages = [m for m in _messages(export) if "status" in m]
    assert any(
        m["status"] == "in_progress" and m["metadata"]["finish_details"] == {"type": "interrupted"}
        for m in messages
    )


def test_text_variety(export: Export) -> None:
    parts = [
        p for m in _messages(export) for p in m["content"].get("parts") or [] if isinstance(p, str)
    ]
    joined = "\n".join(parts)
    assert "```" in joined and "\r\n" in joined and "### " in joined
    assert re.search("[àéç]", joined)  # French
    assert "ü" in joined or "ö" in joined  # German
    assert re.search("[\u3040-\u30ff]", joined)  # Japanese kana
    assert re.search("[\U0001f300-\U0001faff]", joined)  # emoji


def test_branches(export: Export) -> None:
    user_edit = regenerate = on_later_branch = False
    for conv in export.conversations:
        mapping = conv["mapping"]
        kids = _children(mapping)
        if export.layout == "single":  # `children` order says which branch is first
            assert {n: set(k) for n, k in kids.items()} == {
                n: set(node["children"]) for n, node in mapping.items()
            }
            kids = {n: node["children"] for n, node in mapping.items()}
        for children in kids.values():
            if len(children) > 1:
                roles = {mapping[c]["message"]["author"]["role"] for c in children}
                user_edit |= roles == {"user"}
                regenerate |= roles == {"assistant"}
        node = mapping.get(conv["current_node"])
        while node is not None and node["parent"] is not None:
            on_later_branch |= kids[node["parent"]].index(node["id"]) > 0
            node = mapping[node["parent"]]
    assert user_edit and regenerate
    assert on_later_branch or export.layout == "sharded"  # 2026: no `children`, no order


# --------------------------------------------------------------------------- media and stats


def _resolve(export: Export, pointer: str) -> str | None:
    """Find the member a pointer refers to, as an importer would (FORMATS.md A.7)."""
    file_id = pointer.split("://", 1)[1]
    if export.layout == "sharded":
        name = f"{file_id}.dat"
        return name if name in export.members else None
    for name in export.members:
        base = name.rsplit("/", 1)[-1]
        if base.startswith(file_id + "-") and (
            "/" not in name or name.startswith(("dalle-generations/", "user-"))
        ):
            return name
    return None


def _kind(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        return "mp4"
    return "?"


def test_stats_match_independent_count(export: Export) -> None:
    stats = export.stats
    convs = export.conversations
    assert stats.conversations == len(convs)
    assert stats.messages == len(_messages(export))
    forks = sum(1 for c in convs for kids in _children(c["mapping"]).values() if len(kids) > 1)
    assert stats.branches == forks > 0
    assert stats.bytes_json == sum(len(export.members[f]) for f in export.conversation_files)
    assert stats.bytes_json >= TARGET
    assert stats.shards == len(export.conversation_files)
    assert stats.members == len(export.members)

    pointers = [
        p
        for m in _messages(export)
        for p in m["content"].get("parts") or []
        if isinstance(p, dict) and p["content_type"] == "image_asset_pointer"
    ]
    resolved = {p["asset_pointer"]: _resolve(export, p["asset_pointer"]) for p in pointers}
    assert len(resolved) == len(pointers)  # one file per pointer
    found = [name for name in resolved.values() if name is not None]
    assert stats.images == len(found) > 0
    assert stats.images_missing == len(pointers) - len(found) > 0
    for pointer in pointers:
        name = resolved[pointer["asset_pointer"]]
        if name is not None:
            data = export.members[name]
            assert len(data) == pointer["size_bytes"]
            assert _kind(data) in {"png", "jpeg", "webp"}
    blobs = [n for n in export.members if n.endswith(".dat")]
    videos = [n for n in blobs if _kind(export.members[n]) == "mp4"]
    assert stats.attachments == len(videos)
    assert (stats.attachments > 0) == (export.layout == "sharded")


def test_media_files_are_valid(export: Export) -> None:
    kinds = Counter(
        _kind(data)
        for name, data in export.members.items()
        if not name.endswith((".json", ".html"))
    )
    assert "?" not in kinds
    assert {"png", "jpeg", "webp"} <= set(kinds)
    png = genexport.make_png((10, 20, 30))
    ihdr_len = int.from_bytes(png[8:12], "big")
    idat_at = 8 + 12 + ihdr_len
    idat_len = int.from_bytes(png[idat_at : idat_at + 4], "big")
    raw = zlib.decompress(png[idat_at + 8 : idat_at + 8 + idat_len])
    assert raw == (b"\x00" + bytes((10, 20, 30)) * 8) * 8
    webp = genexport.make_webp((1, 2, 3))
    assert int.from_bytes(webp[4:8], "little") == len(webp) - 8
    assert webp[12:16] == b"VP8L" and webp[20] == 0x2F
    jpeg = genexport.make_jpeg((200, 100, 50))
    assert jpeg.endswith(b"\xff\xd9") and b"JFIF\x00" in jpeg[:20]


def test_side_files_parse(export: Export) -> None:
    for name, data in export.members.items():
        if name.endswith(".json"):
            json.loads(data)
    feedback = json.loads(export.members["message_feedback.json"])
    ids = {c["id"] for c in export.conversations}
    assert feedback and all(f["conversation_id"] in ids for f in feedback)


# --------------------------------------------------------------------------- the varied profile


@dataclass
class Shape:
    """What an export is made of, per MB of conversations JSON."""

    messages_per_mb: float
    images_per_mb: float
    forks_per_mb: float
    tool_share: float  # tool messages / messages
    text_lengths: list[int]  # of every message with text, sorted
    uploads_per_message: Counter[int]  # images per user message that has any
    images: int  # image files written
    distinct_images: int


def _shape(export: Export) -> Shape:
    messages = _messages(export)
    mb = export.stats.bytes_json / 1e6
    forks = sum(
        1 for c in export.conversations for k in _children(c["mapping"]).values() if len(k) > 1
    )
    lengths = sorted(
        n
        for m in messages
        if (n := sum(len(p) for p in m["content"].get("parts") or [] if isinstance(p, str)))
    )
    uploads = Counter(
        n
        for m in messages
        if m["author"]["role"] == "user"
        and (n := sum(isinstance(p, dict) for p in m["content"].get("parts") or []))
        and m["content"]["parts"][0]["content_type"] == "image_asset_pointer"
    )
    media = [d for n, d in export.members.items() if not n.endswith((".json", ".html"))]
    return Shape(
        messages_per_mb=len(messages) / mb,
        images_per_mb=export.stats.images / mb,
        forks_per_mb=forks / mb,
        tool_share=sum(m["author"]["role"] == "tool" for m in messages) / len(messages),
        text_lengths=lengths,
        uploads_per_message=uploads,
        images=export.stats.images,
        distinct_images=len(set(media)),
    )


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Shape]:
    """6 MB of each profile: enough conversations past the fixed coverage plans to compare."""
    tmp = tmp_path_factory.mktemp("shapes")
    made = {}
    for profile in ("default", "varied"):
        path = tmp / f"{profile}.zip"
        stats = genexport.generate(path, target_bytes=6_000_000, seed=3, profile=profile)
        members = _read_zip(path)
        convs = json.loads(members["conversations.json"])
        made[profile] = _shape(Export("single", path, stats, members, convs, []))
    return made


def _quantile(values: list[int], q: float) -> int:
    return values[int(len(values) * q)]


def test_varied_profile_is_shaped_differently(shapes: dict[str, Shape]) -> None:
    default, varied = shapes["default"], shapes["varied"]
    assert varied.images_per_mb > 2 * default.images_per_mb
    assert varied.forks_per_mb > 1.5 * default.forks_per_mb
    assert varied.tool_share > 1.5 * default.tool_share
    # shorter and longer messages: the short end is shorter, the long end is longer
    assert _quantile(varied.text_lengths, 0.25) < _quantile(default.text_lengths, 0.25) / 2
    assert _quantile(varied.text_lengths, 0.99) > 2 * _quantile(default.text_lengths, 0.99)
    assert max(varied.text_lengths) > 15_000 and min(varied.text_lengths) <= 3


def test_varied_profile_uploads_several_distinct_images(shapes: dict[str, Shape]) -> None:
    varied, default = shapes["varied"], shapes["default"]
    assert set(varied.uploads_per_message) >= {1, 2, 3, 4}
    assert set(default.uploads_per_message) == {1}
    # every image has its own bytes in the varied profile; the default one reuses a palette
    assert varied.distinct_images == varied.images
    assert default.distinct_images < default.images / 4


def test_varied_profile_has_multi_round_tool_turns(exports: dict[str, Export]) -> None:
    """Some answers follow two or more code-interpreter rounds in a row."""
    rounds = 0
    for conv in exports["varied-single"].conversations:
        mapping = conv["mapping"]
        for node in mapping.values():
            message = node["message"]
            parent = mapping.get(node["parent"] or "", {}).get("message")
            if message and parent and message["recipient"] == "python":
                rounds += parent["content"]["content_type"] == "execution_output"
                rounds += parent["recipient"] == "all" and parent["author"]["role"] == "assistant"
    assert rounds > 0


def test_era_mix_off_uses_newest_era(tmp_path: Path) -> None:
    export = _make(tmp_path, "sharded", "modern.zip", era_mix=False)
    assert all("status" in m for m in _messages(export))  # no slim re-exports
    assert all(c["create_time"] >= 1767225600 for c in export.conversations)


@pytest.mark.parametrize(
    ("text", "value"),
    [("300KB", 300_000), ("64MiB", 64 * 1024 * 1024), ("1.5GB", 1_500_000_000), ("42", 42)],
)
def test_parse_size(text: str, value: int) -> None:
    assert genexport.parse_size(text) == value


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    argv = [str(out), "--size", "50KB", "--layout", "sharded", "--seed", "1", "--profile", "varied"]
    assert genexport.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bytes_json"] >= 50_000
    assert (out / "export_manifest.json").is_file()
