"""ChatGPT shown as ChatGPT shows it: the defects of probe I (2026-12-07), each on a small
synthetic export shaped like the real ones (FORMATS.md §A)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freehold.archive import Archive
from tests.builders import ingest, png, write_zip
from tests.importers.test_chatgpt import by_id, chain, conversations, message, pretty, slim


def tool(mid: str, name: str, content: dict[str, Any], t: float) -> dict[str, Any]:
    """A 2026 slim tool message: its author names the tool; no recipient, no metadata."""
    author = {"name": name, "role": "tool"}
    return {"author": author, "content": content, "create_time": t, "id": mid}


def code(text: str) -> dict[str, Any]:
    return {"content_type": "code", "language": "unknown", "text": text}


def said(text: str) -> dict[str, Any]:
    return {"content_type": "text", "parts": [text]}


# -- I1: 2026 slim tool calls ----------------------------------------------------------------------


def slim_tools() -> list[dict[str, Any]]:
    return [
        slim("u", "user", "Average of 3, 1 and 4?", 1.0),
        slim("c", "assistant", code("print((3 + 1 + 4) / 3)"), 2.0),
        tool("o", "python", {"content_type": "execution_output", "text": "2.67"}, 3.0),
        slim("b", "assistant", code("User prefers metric units."), 4.0),
        tool("bo", "bio", said("Model set context updated."), 5.0),
        slim("s", "assistant", code('search("metric units")'), 6.0),
        tool("so", "browser", said("【0†Metric†example.org】"), 7.0),
        slim("a", "assistant", "It is 2.67.", 8.0),
    ]


def test_slim_tool_calls_are_hidden_and_named_by_the_tool_that_answers(tmp_path: Path) -> None:
    """No ``recipient`` in 2026: the tool message after a call says which tool it was."""
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chain("slim", slim_tools(), children=False)]))
    messages = by_id(conversations(path)["slim"])
    assert {key for key, m in messages.items() if m.hidden} == {"c", "o", "b", "bo", "s", "so"}
    assert messages["c"].meta["recipient"] == "python"
    assert messages["b"].meta["recipient"] == "bio" and messages["s"].meta["recipient"] == "browser"
    assert messages["c"].meta["recipient_inferred"] is True
    assert "recipient" not in messages["a"].meta and not messages["a"].hidden
    assert not messages["u"].hidden


def test_slim_bio_write_is_a_memory_note(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chain("slim", slim_tools(), children=False)]))
    ingest(archive, path)
    memory = [r for r in archive.context_records() if r["kind"] == "memory"]
    assert [r["text"] for r in memory] == ["User prefers metric units."]


def test_a_recipient_said_is_kept_over_the_next_message(tmp_path: Path) -> None:
    """An explicit ``recipient: all`` stays an answer, and a user message a tool follows (a
    ``myfiles_browser`` note after an upload) stays shown: only assistant messages without a
    recipient are read from what follows."""
    messages = [
        message("u", "user", said("Read my file"), 1.0),
        message("f", "tool", said("All files loaded."), 2.0, name="myfiles_browser"),
        message("a", "assistant", said("Here is what I found."), 3.0),
        message("t", "tool", said("late note"), 4.0, name="python"),
    ]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chain("full", messages)]))
    got = by_id(conversations(path)["full"])
    assert not got["u"].hidden and not got["a"].hidden
    assert "recipient" not in got["a"].meta


# -- I2, I6: a 2026 zip with a voice call on camera and named .dat files ---------------------------

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 60 + b"frame"
MP4 = b"\0\0\0\x18ftypmp42" + b"\0" * 20


def camera_zip(tmp_path: Path, frames: list[Any]) -> Path:
    upload = {
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-HOLI1"},
            "Look at my holiday photo",
        ],
    }
    call = {
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "audio_transcription", "text": "And this?", "direction": "in"},
            {
                "content_type": "real_time_user_audio_video_asset_pointer",
                "frames_asset_pointers": frames,
                "video_container_asset_pointer": "sediment://file_video0001",
                "audio_asset_pointer": {
                    "content_type": "audio_asset_pointer",
                    "asset_pointer": "sediment://file_audio0001",
                    "format": "wav",
                },
            },
        ],
    }
    messages = [
        slim("u", "user", upload, 1.0),
        slim("v", "user", call, 2.0),
        slim("a", "assistant", "A cat.", 3.0),
    ]
    names = {
        "file-HOLI1.dat": "holiday photo_7955.png",
        "file_frame0001.dat": "frame.jpg",
        "file_video0001.dat": "call.mp4",
        "file_audio0001.dat": "voice.wav",
    }
    members = {
        "conversations-000.json": pretty([chain("cam", messages, children=False)]),
        "conversation_asset_file_names.json": json.dumps(names).encode(),
        "file-HOLI1.dat": png(),
        "file_frame0001.dat": JPEG,
        "file_video0001.dat": MP4,
        "file_audio0001.dat": b"RIFF\0\0\0\0WAVEfmt ",
    }
    return write_zip(tmp_path / "export-2026.zip", members)


@pytest.mark.parametrize(
    "frame",
    ["sediment://file_frame0001", {"content_type": "image_asset_pointer",
                                   "asset_pointer": "sediment://file_frame0001"}],
)  # fmt: skip
def test_a_camera_call_keeps_its_frames_and_video(
    archive: Archive, tmp_path: Path, frame: Any
) -> None:
    report = ingest(archive, camera_zip(tmp_path, [frame]))
    assert report.ok and report.problems == [], report.problems
    call = by_id(archive.get_conversation("cam"))["v"]
    refs = {ref.pointer: ref for ref in call.attachments}
    assert set(refs) == {
        "sediment://file_audio0001",
        "sediment://file_frame0001",
        "sediment://file_video0001",
    }
    assert all(ref.sha256 for ref in refs.values())
    assert refs["sediment://file_frame0001"].sniffed_mime == "image/jpeg"
    kinds = [(p["type"], p.get("frame"), p.get("video")) for p in call.parts]
    assert ("image", True, None) in kinds and ("file", None, True) in kinds
    assert report.attachments["found"] == 4 and report.attachments["missing"] == 0


def test_dat_files_keep_their_own_names(archive: Archive, tmp_path: Path) -> None:
    ingest(archive, camera_zip(tmp_path, ["sediment://file_frame0001"]))
    conv = archive.get_conversation("cam")
    names = {ref.pointer: ref.name for m in conv.messages for ref in m.attachments}
    assert names == {
        "file-service://file-HOLI1": "holiday photo_7955.png",
        "sediment://file_audio0001": "voice.wav",
        "sediment://file_frame0001": "frame.jpg",
        "sediment://file_video0001": "call.mp4",
    }
