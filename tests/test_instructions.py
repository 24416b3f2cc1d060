"""One system prompt per path: what ``freehold chat`` sends when it carries a conversation on,
the Open WebUI export's ``params.system`` and the JSONL export's system message agree, for
every source that brings instructions, on real exports and on small crafted ones."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from freehold import carry
from freehold.archive import Archive
from freehold.config import ModelRef, ProviderConfig
from freehold.exporters import jsonl, openwebui
from freehold.models import ContextRecord, Conversation, Message
from freehold.providers.base import connect
from freehold.tree import build_tree
from tests.builders import (
    LIBRECHAT_PREFIX,
    SYSTEM_PROMPT,
    chatgpt_chats,
    ingest,
    own_system_prompts,
    write_zip,
)
from tests.importers.test_aistudio import prompt
from tests.importers.test_claude import tree_export

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REAL_FILES = (
    "echomine-aucontraire/chatgpt-golden-001/raw.json",
    "echomine-aucontraire/claude/sample_export.json",
    "librechat-import-data/librechat-tree.json",
    "librechat-import-data/openwebui-export.json",
    "pkuppens-chatgpt-2023-06/conversations.json",
    "polylogue-aistudio-and-misc/aistudio-branching_session.json",
)
ABOUT = "What the user wants you to know about them:\n"
RESPOND = "How the user wants you to respond:\n"


def outputs(conv: Conversation) -> tuple[str | None, str | None, list[str | None]]:
    """Carry's system text for the visible path, Open WebUI's ``params.system``, and the
    leading system message of each JSONL line (None where a line has none)."""
    provider = connect(ProviderConfig("p", "openai", base_url="http://127.0.0.1:9/v1"))
    request, _ = carry.carry(carry.path(conv), conv, provider, ModelRef("p", "m"), {}.get)
    item = openwebui.chat_item(conv)
    params = item["chat"].get("params", {}).get("system") if item else None
    lines = jsonl.chat_lines(conv)
    leading = [line[0]["content"] if line[0]["role"] == "system" else None for line in lines]
    return request.system, params, leading


def agreed(conv: Conversation) -> str | None:
    """The one system prompt the three outputs share (asserting they do)."""
    sent, params, leading = outputs(conv)
    assert leading, f"{conv.title}: no JSONL line to compare"
    assert (params, leading) == (sent, [sent] * len(leading)), conv.title
    return sent


def titled(archive: Archive, title: str) -> Conversation:
    return next(c for c in archive.iter_conversations() if c.title == title)


def test_chatgpt_custom_instructions_from_the_sample_export(archive: Archive) -> None:
    ingest(archive, EXAMPLES / "sample-chatgpt-export.zip")
    conv = titled(archive, "Travel planning basics")
    (part,) = [p for m in conv.messages for p in m.parts if p["type"] == "context"]
    expected = f"{ABOUT}{part['about_user']}\n\n{RESPOND}{part['about_model']}"
    assert agreed(conv) == expected


def test_chatgpt_custom_instructions_from_a_real_export(archive: Archive, real: Path) -> None:
    ingest(archive, real / "echomine-aucontraire/chatgpt-golden-001/raw.json")
    (conv,) = archive.iter_conversations()
    sent = agreed(conv)
    assert sent is not None and sent.startswith(ABOUT + "Preferred name: Tecolote")
    assert f"\n\n{RESPOND}" in sent


def test_claude_project_instructions(archive: Archive, tmp_path: Path) -> None:
    ingest(archive, tree_export(tmp_path))
    assert agreed(archive.get_conversation(archive.resolve("tree"))) == "Answer in French."


def test_open_webui_params_system_and_librechat_prompt_prefix(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    own_system_prompts(archive, tmp_path / "in", real)
    by_kind = {c.source_kind: c for c in archive.iter_conversations()}
    assert agreed(by_kind["openwebui"]) == SYSTEM_PROMPT
    assert agreed(by_kind["librechat"]) == LIBRECHAT_PREFIX
    assert agreed(by_kind["chatgpt"]) is not None


def test_ai_studio_system_instruction(archive: Archive, tmp_path: Path) -> None:
    chunks = [{"role": "user", "text": "Hello"}, {"role": "model", "text": "Hi."}]
    path = tmp_path / "prompt.json"
    path.write_text(
        json.dumps(prompt(chunks, systemInstruction={"parts": [{"text": "Be brief."}]}))
    )
    ingest(archive, path)
    (conv,) = archive.iter_conversations()
    assert agreed(conv) == "Be brief."


def test_chatgpt_late_2023_instructions_in_a_system_messages_metadata(
    archive: Archive, tmp_path: Path
) -> None:
    """Late-2023 exports keep the pair on a hidden system message's metadata, no part."""
    zipped = chatgpt_chats(tmp_path / "plain.zip", {"c1": ("Legacy", ["Hi", "Hello"])}, 1.7e9)
    data = json.loads(_member(zipped, "conversations.json"))
    mapping = data[0]["mapping"]
    metadata = {
        "user_context_message_data": {
            "about_user_message": "I fly kites.",
            "about_model_message": "Be short.",
        },
        "is_visually_hidden_from_conversation": True,
    }
    author = {"role": "system", "name": None, "metadata": {}}
    content = {"content_type": "text", "parts": [""]}
    system = {"id": "sys", "author": author, "content": content, "metadata": metadata}
    mapping["sys"] = {"id": "sys", "message": system, "parent": "root", "children": ["c1-0"]}
    mapping["root"]["children"] = ["sys"]
    mapping["c1-0"]["parent"] = "sys"
    legacy = write_zip(tmp_path / "legacy.zip", {"conversations.json": json.dumps(data).encode()})
    ingest(archive, legacy)
    conv = titled(archive, "Legacy")
    assert agreed(conv) == f"{ABOUT}I fly kites.\n\n{RESPOND}Be short."


@pytest.mark.parametrize("name", ["sample-chatgpt-export.zip", "sample-chatgpt-export-2026.zip"])
def test_every_sample_conversation_agrees(archive: Archive, name: str) -> None:
    ingest(archive, EXAMPLES / name)
    said = [agreed(c) for c in archive.iter_conversations() if jsonl.chat_lines(c)]
    assert any(said), "the sample has custom instructions"


@pytest.mark.parametrize("name", REAL_FILES)
def test_every_real_conversation_agrees(archive: Archive, real: Path, name: str) -> None:
    ingest(archive, real / name)
    for conv in archive.iter_conversations():
        if jsonl.chat_lines(conv):
            agreed(conv)


# -- crafted paths ---------------------------------------------------------------------------------


def _m(sid: str, parent: str | None, role: str, *parts: dict[str, Any], **extra: Any) -> Message:
    text = " ".join(str(p.get("text", "")) for p in parts)
    return Message(sid, parent, role, "text", list(parts), text, **extra)


def _t(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _pair(about_user: str, about_model: str) -> dict[str, Any]:
    return {"type": "context", "about_user": about_user, "about_model": about_model}


def _conv(messages: list[Message], leaf: str, *context: ContextRecord) -> Conversation:
    tree = build_tree(messages, leaf)
    return Conversation("chatgpt", "c", "t", tree.messages, b"{}", context=list(context))


def test_a_jsonl_line_cut_before_a_broken_answer_keeps_its_system_prompt() -> None:
    messages = [
        _m("ci", None, "user", _pair("I am a carpenter.", "Answer in metric."), hidden=True),
        _m("u1", "ci", "user", _t("Which glue?")),
        _m("a1", "u1", "assistant", _t("PVA.")),
        _m("u2", "a1", "user", _t("And for oak?")),
        _m("a2", "u2", "assistant", _t("Polyure"), status="incomplete"),
    ]
    conv = _conv(messages, "a2")
    expected = f"{ABOUT}I am a carpenter.\n\n{RESPOND}Answer in metric."
    assert jsonl.chat_lines(conv) == [
        [
            {"role": "system", "content": expected},
            {"role": "user", "content": "Which glue?"},
            {"role": "assistant", "content": "PVA."},
        ]
    ]
    assert outputs(conv)[:2] == (expected, expected)


def test_each_jsonl_line_has_its_own_branchs_instructions() -> None:
    """A record carried by a message of another branch is that branch's; the system messages
    of the path join the prompt once, before the instructions."""
    messages = [
        _m("s", None, "system", _t("You are terse."), hidden=True),
        _m("u", "s", "user", _t("Hi")),
        _m("a", "u", "assistant", _t("Hello")),
        _m("ci", "s", "user", _pair("", "Speak Welsh."), hidden=True),
        _m("u2", "ci", "user", _t("Hi again")),
        _m("a2", "u2", "assistant", _t("Helo")),
    ]
    welsh = ContextRecord("custom_instructions", "Speak Welsh.", message_source_id="ci")
    own = ContextRecord("project_instructions", "Cite sources.")
    conv = _conv(messages, "a", welsh, own)
    first, second = jsonl.chat_lines(conv)
    assert first[0] == {"role": "system", "content": "You are terse.\n\nCite sources."}
    assert second[0] == {
        "role": "system",
        "content": f"You are terse.\n\n{RESPOND}Speak Welsh.\n\nCite sources.",
    }
    assert [e["role"] for e in first] == ["system", "user", "assistant"]
    assert outputs(conv)[:2] == ("You are terse.\n\nCite sources.",) * 2


def _member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zipped:
        return zipped.read(name)


def test_the_jsonl_summary_counts_no_instructions_as_left_out(
    archive: Archive, tmp_path: Path
) -> None:
    """The message of custom instructions (and a hidden system prompt) is in the system message,
    so the summary does not call it a hidden message not included; reasoning still is."""
    messages = [
        _m("s", None, "system", _t("You are terse."), hidden=True),
        _m("ci", "s", "user", _pair("I am a carpenter.", ""), hidden=True),
        _m("u", "ci", "user", _t("Which glue?")),
        _m("r", "u", "assistant", {"type": "thought", "text": "hmm"}, hidden=True),
        _m("a", "r", "assistant", _t("PVA.")),
    ]
    summary = jsonl.write_summary(archive, [_conv(messages, "a")], tmp_path / "out")
    assert summary.not_included == {"reasoning": 1}


def test_a_local_system_prompt_reaches_open_webui_as_carry_sends_it() -> None:
    # `chat --continue --system` (or --profile) stores a local system message: carry sends it
    # after the conversation's own, JSONL keeps it where it was said; the Open WebUI export
    # dropped it (review R2)
    messages = [
        _m("ci", None, "user", _pair("I am a carpenter.", ""), hidden=True),
        _m("u1", "ci", "user", _t("Which glue?")),
        _m("a1", "u1", "assistant", _t("PVA.")),
        _m("s", "a1", "system", _t("Answer in French."), origin="local"),
        _m("u2", "s", "user", _t("And for oak?"), origin="local"),
        _m("a2", "u2", "assistant", _t("Polyuréthane."), origin="local"),
    ]
    conv = _conv(messages, "a2")
    sent, params, _ = outputs(conv)
    assert sent == f"{ABOUT}I am a carpenter.\n\nAnswer in French."
    assert params == sent
    assert {"role": "system", "content": "Answer in French."} in jsonl.chat_lines(conv)[-1]
