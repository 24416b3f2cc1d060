"""An archived path converted for a target provider: system prompt and custom instructions,
images where the model takes them, tool calls and results as text, hidden reasoning not sent,
oldest turns left out with a notice when it does not fit."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from freehold import carry
from freehold.archive import Archive
from freehold.config import ModelRef, ProviderConfig
from freehold.errors import ProviderError
from freehold.ingest import import_path
from freehold.models import AttachmentRef, ContextRecord, Conversation, Message
from freehold.providers.base import Image, Provider, Turn, connect

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def _provider(kind: str = "openai", **settings: Any) -> Provider:
    return connect(ProviderConfig("p", kind, base_url="http://127.0.0.1:9/v1", **settings))


def _m(sid: str, parent: str | None, role: str, *parts: dict[str, Any], **extra: Any) -> Message:
    text = " ".join(str(p.get("text", "")) for p in parts)
    return Message(sid, parent, role, "text", list(parts), text, on_visible_path=True, **extra)


def _t(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _conv(*messages: Message, context: list[ContextRecord] | None = None) -> Conversation:
    return Conversation(
        "chatgpt",
        "c1",
        "t",
        list(messages),
        b"",
        current_leaf=messages[-1].source_id,
        context=context or [],
    )


def _carry(
    conv: Conversation, provider: Provider | None = None, blobs: dict[str, bytes] | None = None
) -> tuple[Any, list[str]]:
    provider = provider or _provider()
    return carry.carry(carry.path(conv), conv, provider, ModelRef("p", "m"), (blobs or {}).get)


def _all_text(turns: tuple[Turn, ...]) -> str:
    return "\n".join(t.text for t in turns)


def test_system_prompt_and_custom_instructions() -> None:
    conv = _conv(
        _m("s", None, "system", _t("You are terse.")),
        _m(
            "ci",
            "s",
            "user",
            {
                "type": "context",
                "about_user": "I am a carpenter.",
                "about_model": "Answer in metric.",
            },
            hidden=True,
        ),
        _m("u", "ci", "user", _t("Which glue?")),
    )
    request, _ = _carry(conv)
    assert request.system == (
        "You are terse.\n\nWhat the user wants you to know about them:\nI am a carpenter.\n\n"
        "How the user wants you to respond:\nAnswer in metric."
    )
    assert [t.role for t in request.turns] == ["user"] and request.turns[0].text == "Which glue?"


def test_custom_instructions_from_the_conversation_when_no_message_holds_them() -> None:
    record = ContextRecord("custom_instructions", "Call me Sam.")
    request, _ = _carry(_conv(_m("u", None, "user", _t("Hi")), context=[record]))
    assert request.system == "Call me Sam."


def test_tool_calls_and_results_as_text_reasoning_not_sent() -> None:
    conv = _conv(
        _m("u", None, "user", _t("Plot it")),
        _m(
            "th",
            "u",
            "assistant",
            {"type": "thought", "text": "SECRET CHAIN OF THOUGHT"},
            hidden=True,
        ),
        _m(
            "c",
            "th",
            "assistant",
            {"type": "code", "language": "python", "text": "print(2+2)"},
            hidden=True,
            meta={"recipient": "python"},
        ),
        _m(
            "o",
            "c",
            "tool",
            {"type": "execution_output", "text": "4"},
            author_name="python",
            hidden=True,
        ),
        _m("a", "o", "assistant", _t("It is 4.")),
        _m("u2", "a", "user", _t("Thanks")),
    )
    request, _ = _carry(conv, _provider("anthropic"))
    assert [t.role for t in request.turns] == ["user", "assistant", "user"]
    said = request.turns[1].text
    assert "[Tool call: python]\n```python\nprint(2+2)\n```" in said
    assert "[Tool result: python]\n4" in said and said.endswith("It is 4.")
    assert "SECRET" not in _all_text(request.turns) and "SECRET" not in (request.system or "")


def test_images_sent_where_the_model_takes_them_else_named() -> None:
    ref = AttachmentRef("file-1", "photo.png", sha256="ab" * 32, sniffed_mime="image/png")
    conv = _conv(
        _m("u", None, "user", _t("Look"), {"type": "image", "pointer": "file-1"}, attachments=[ref])
    )
    request, notices = _carry(conv, _provider(images=True), {"ab" * 32: PNG})
    assert request.turns[0].content == ("Look", Image(PNG, "image/png"))
    assert notices == []
    request, notices = _carry(
        conv, _provider(), {"ab" * 32: PNG}
    )  # a base_url server: no images by default
    assert request.turns[0].content == (
        "Look",
        "[Image: photo.png — not sent: this model takes no images]",
    )
    assert notices == [
        "1 image named but not sent: p is set to take no images "
        "(images = true in [providers.p] if it does)"
    ]
    request, notices = _carry(conv, _provider(images=True), {})
    assert (
        "not in the archive" in request.turns[0].content[1]
        and "archive lacks the file" in notices[0]
    )


def _made_an_image() -> Conversation:
    """A tool made an image (an image part in a tool turn), the assistant showed it, the
    person asks about it."""
    ref = AttachmentRef("file-9", "chart.png", sha256="cd" * 32, sniffed_mime="image/png")
    return _conv(
        _m("u", None, "user", _t("Plot it")),
        _m("t", "u", "tool", {"type": "image", "pointer": "file-9"}, attachments=[ref]),
        _m("a", "t", "assistant", _t("Here is the chart.")),
        _m("u2", "a", "user", _t("Make it blue.")),
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_an_image_an_answer_made_goes_with_the_next_user_turn(kind: str) -> None:
    request, notices = _carry(_made_an_image(), _provider(kind, images=True), {"cd" * 32: PNG})
    for turn in request.turns:
        assert turn.role == "user" or not any(isinstance(p, Image) for p in turn.content)
    answer = next(t for t in request.turns if t.role == "assistant")
    assert "[Image: chart.png — attached to the next user turn]" in answer.content
    last = request.turns[-1]
    assert last.role == "user" and last.content[-1] == "Make it blue."
    assert last.content[:2] == (
        "[Image from the answer before: chart.png]",
        Image(PNG, "image/png"),
    )
    assert notices == [
        "1 image from answers sent with the next user turn: "
        f"p ({kind}) takes images in user turns only"
    ]


def test_gemini_keeps_an_image_in_the_model_turn_that_made_it() -> None:
    request, notices = _carry(_made_an_image(), _provider("gemini", images=True), {"cd" * 32: PNG})
    model = next(t for t in request.turns if t.role == "assistant")
    assert Image(PNG, "image/png") in model.content and notices == []
    assert not any(isinstance(p, Image) for p in request.turns[-1].content)


def test_an_image_in_the_last_answer_is_named_and_said_not_sent() -> None:
    conv = _made_an_image()
    conv.messages.pop()  # the answer is the end of the path
    conv.current_leaf = "a"
    request, notices = _carry(conv, _provider("openai", images=True), {"cd" * 32: PNG})
    assert not any(isinstance(p, Image) for t in request.turns for p in t.content)
    assert notices == [
        "1 image from the last answer named but not sent: p takes images in user turns only"
    ]
    # no user turn follows: the placeholder does not promise one (review R2)
    told = _all_text(request.turns)
    assert "[Image: chart.png — not sent: this API takes images in user turns only]" in told
    assert "attached to the next user turn" not in told


def test_an_image_moved_into_a_turn_left_out_is_not_counted_as_sent() -> None:
    conv = _made_an_image()
    conv.messages += [
        _m("a2", "u2", "assistant", _t("Done.")),
        _m("u3", "a2", "user", _t("word " * 1600)),  # ~2,000 tokens: u2 and the image go
    ]
    conv.current_leaf = "u3"
    provider = _provider("openai", images=True, context_window=4000)
    request, notices = _carry(conv, provider, {"cd" * 32: PNG})
    assert not any(isinstance(p, Image) for t in request.turns for p in t.content)
    assert not any("sent with the next user turn" in n for n in notices), notices
    assert any(n.startswith("left out the 4 oldest turns") for n in notices), notices


def _eight_charts() -> Conversation:
    """The last answer made eight images; the person asks about one in five words."""
    refs = [
        AttachmentRef(f"p{k}", f"chart{k}.png", sha256=f"{k:02d}" * 32, sniffed_mime="image/png")
        for k in range(8)
    ]
    return _conv(
        _m("u1", None, "user", _t("Make eight charts.")),
        _m("a1", "u1", "assistant", _t("Here they are."), attachments=refs),
        _m("u2", "a1", "user", _t("Make the third one bluer.")),
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_images_moved_from_the_last_answer_are_named_when_they_do_not_fit(kind: str) -> None:
    # 8 images (~8,000 tokens) joined the final user turn, which is never left out: a five-word
    # prompt was refused as "the prompt alone does not fit" an 8,192-token local model
    blobs = {f"{k:02d}" * 32: PNG for k in range(8)}
    provider = _provider(kind, images=True, context_window=8192)
    request, notices = _carry(_eight_charts(), provider, blobs)
    last = request.turns[-1]
    assert last.content[-1] == "Make the third one bluer."
    assert not any(isinstance(p, Image) for t in request.turns for p in t.content)
    assert "[Image from the answer before: chart2.png — not sent: no room]" in last.content
    assert "8 images from the last answer named but not sent: they do not fit" in "\n".join(notices)
    assert [t.role for t in request.turns][-2:] == ["assistant", "user"]  # nothing else lost


@pytest.mark.parametrize(
    ("kind", "alternating"), [("anthropic", True), ("gemini", True), ("openai", False)]
)
def test_roles_alternate_where_the_protocol_requires(kind: str, alternating: bool) -> None:
    conv = _conv(
        _m("a0", None, "assistant", _t("Hello, how can I help?")),
        _m("u1", "a0", "user", _t("First.")),
        _m("u2", "u1", "user", _t("Second.")),
    )
    request, _ = _carry(conv, _provider(kind))
    roles = [t.role for t in request.turns]
    assert roles == (
        ["user", "assistant", "user"] if alternating else ["assistant", "user", "user"]
    )
    assert request.turns[-1].content == (("First.", "Second.") if alternating else ("Second.",))


def test_a_failed_local_answer_is_not_sent() -> None:
    conv = _conv(
        _m("u", None, "user", _t("Q1")),
        _m(
            "f",
            "u",
            "assistant",
            {"type": "error", "text": "every model failed"},
            status="failed",
            origin="local",
        ),
        _m("u2", "f", "user", _t("Q2")),
    )
    request, _ = _carry(conv, _provider("anthropic"))
    assert [t.content for t in request.turns] == [("Q1", "Q2")]


def test_the_oldest_turns_are_left_out_to_fit_with_a_notice() -> None:
    messages = [_m("u0", None, "user", _t("word " * 400))]
    for n in range(1, 12):
        messages.append(
            _m(
                f"m{n}",
                messages[-1].source_id,
                "assistant" if n % 2 else "user",
                _t(f"turn {n} " + "word " * 400),
            )
        )
    conv = _conv(*messages)
    request, notices = _carry(conv, _provider("anthropic", context_window=2000))
    assert request.turns[-1].text.startswith("turn 11")
    assert request.turns[0].role == "user"
    assert sum(carry.estimate(t) for t in request.turns) <= 2000
    assert len(notices) == 1 and notices[0].startswith("left out the ")
    assert "oldest turn" in notices[0] and "p:m's 2,000-token context" in notices[0]
    assert request.max_tokens == 500  # the answer's room: a quarter of a small window


def test_a_prompt_that_can_never_fit_is_a_context_fault() -> None:
    conv = _conv(_m("u", None, "user", _t("x" * 40_000)))
    with pytest.raises(ProviderError) as caught:
        _carry(conv, _provider(context_window=1000))
    assert caught.value.kind == "context" and "context_window" in str(caught.value)


def test_cjk_text_counts_a_token_per_character() -> None:
    assert carry.estimate(Turn("user", ("会議の議題",))) == 4 + 5
    assert carry.estimate(Turn("user", ("abcdefgh",))) == 4 + 2


def test_the_sample_conversation_carries(archive: Archive) -> None:
    import_path(archive, SAMPLE)
    for cid in archive.select():
        conv = archive.get_conversation(cid)
        request, _ = _carry(conv, _provider("anthropic", images=True))
        assert request.turns and request.turns[0].role == "user"
        roles = [t.role for t in request.turns]
        assert all(a != b for a, b in itertools.pairwise(roles)), cid


def test_a_file_whose_text_the_export_carried_goes_with_its_name() -> None:
    # Claude's attachments: extracted text as a ``file`` part, and a reference with no bytes
    ref = AttachmentRef("claude-file://notes.txt", "notes.txt", mime="text/plain")
    notes = {"type": "file", "text": "ZANZIBAR budget is 40k", "name": "notes.txt"}
    conv = _conv(
        _m("u", None, "user", _t("Summarise my notes"), notes, attachments=[ref]),
        _m("a", "u", "assistant", _t("Your budget is 40k.")),
    )
    request, _ = _carry(conv)
    said = request.turns[0].text
    assert "[File attached: notes.txt]\n```\nZANZIBAR budget is 40k\n```" in said
    assert said.count("notes.txt") == 1  # the reference is not named a second time


def test_a_file_without_text_is_named() -> None:
    ref = AttachmentRef("claude-file://scan.pdf", "scan.pdf", mime="application/pdf")
    conv = _conv(_m("u", None, "user", _t("Read this"), attachments=[ref]))
    request, _ = _carry(conv)
    assert request.turns[0].text.endswith("[File attached: scan.pdf]")


def test_every_code_part_is_a_tool_call_named_by_the_part() -> None:
    call = {"type": "code", "language": "json", "text": '{"query": "oak"}', "name": "web_search"}
    result = {"type": "execution_output", "text": "found", "name": "web_search"}
    run = {"type": "code", "language": "python", "text": "print(sum(range(1, 11)))"}
    conv = _conv(
        _m("u", None, "user", _t("Search, then add")),
        _m("a", "u", "assistant", _t("Let me look."), call, result, run),
        _m("o", "a", "assistant", {"type": "execution_output", "text": "55"}, _t("It is 55.")),
    )
    request, _ = _carry(conv, _provider("anthropic"))
    said = request.turns[1].text
    assert '[Tool call: web_search]\n```json\n{"query": "oak"}\n```' in said  # Claude's tool_use
    assert "[Tool result: web_search]\nfound" in said
    assert "[Tool call: code]\n```python\nprint(sum(range(1, 11)))\n```" in said  # AI Studio's
    assert "[Tool result: code]\n55" in said


def test_a_fence_outlasts_the_backticks_inside() -> None:
    code = {"type": "code", "language": "md", "text": "```py\nx = 1\n```", "name": "canvas"}
    conv = _conv(_m("u", None, "user", _t("Write it")), _m("a", "u", "assistant", code))
    request, _ = _carry(conv)
    assert "[Tool call: canvas]\n````md\n```py\nx = 1\n```\n````" in request.turns[1].text
