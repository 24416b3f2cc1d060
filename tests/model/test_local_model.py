"""A real open model carries on: SmolLM2-135M answering through llama-server on 127.0.0.1.

The issue's "done when" with nothing faked: the sample ChatGPT export (and a real Claude
export) continued by an open model through ``freehold chat``, whole and streamed; the router
failing over to it from a primary that refuses the connection or answers 529; ``freehold
providers test`` and ``freehold models`` asking it. The assertions are on structure — what
is stored, its status, the model that served, the attempts — never on the model's words.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freehold import render
from freehold.archive import open_archive
from freehold.cli import cli
from tests.model.server import ALIAS, LlamaServer
from tests.providers.servers import Script, WireServer

pytestmark = pytest.mark.model

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-chatgpt-export.zip"
WOOD = "9a161f4a-049a-4dc2-95e0-7f01853d64ca"  # a ChatGPT conversation in the sample export
CLAUDE = Path("echomine-aucontraire") / "claude" / "sample_export.json"
CLAUDE_CONVERSATION = "7892bc45-def3-4a21-9c12-3d5e6f7a8b9c"  # multi-turn, with attachments
LOCAL = f"local:{ALIAS}"
MAX_TOKENS = 24  # short answers: the tier's time goes to a few dozen tokens each
OVERLOADED = {"error": {"type": "overloaded_error", "message": "Overloaded"}}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), terminal_width=200)


def chat_json(*args: str) -> dict[str, Any]:
    result = run("chat", "--json", *args)
    assert result.exit_code == 0, result.output
    reply: dict[str, Any] = json.loads(result.stdout)
    return reply


def shown(conversation: str) -> dict[str, Any]:
    result = run("show", conversation, "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@pytest.fixture
def home(_isolated_home: Path, llama: LlamaServer, wire: WireServer) -> Path:
    """config.toml as a newcomer writes it: the local model (its real context size), a
    primary that refuses connections and one that answers 529, a route for each."""
    _isolated_home.mkdir(parents=True, exist_ok=True)
    (_isolated_home / "config.toml").write_text(
        f"""
[providers.local]
kind = "openai"
base_url = "{llama.base_url}"
context_window = 4096
max_tokens = {MAX_TOKENS}

[providers.down]
kind = "openai"
base_url = "http://127.0.0.1:{_refusing_port()}/v1"

[providers.busy]
kind = "anthropic"
base_url = "{wire.base_url("anthropic")}"

[routes.default]
models = ["{LOCAL}"]

[routes.refused]
models = ["down:gpt-4o-2024-08-06", "{LOCAL}"]

[routes.overloaded]
models = ["busy:claude-sonnet-4-5-20250929", "{LOCAL}"]

[router]
backoff_base = 0.01
backoff_max = 0.05
""",
        encoding="utf-8",
    )
    return _isolated_home


def _refusing_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answered_locally(reply: dict[str, Any]) -> None:
    """The reply came whole from the local model, and says so."""
    assert reply["status"] == "complete", reply
    assert (reply["provider"], reply["requested_model"], reply["served_model"]) == (
        "local",
        ALIAS,
        ALIAS,
    )
    last = reply["attempts"][-1]
    assert (last["provider"], last["model"], last["outcome"], last["error"]) == (
        "local",
        ALIAS,
        "ok",
        None,
    )
    assert last["served_model"] == ALIAS and last["ms"] > 0
    assert last["tokens_in"] > 0 and 0 < last["tokens_out"] <= MAX_TOKENS
    assert (reply["tokens_in"], reply["tokens_out"]) == (last["tokens_in"], last["tokens_out"])
    assert reply["text"].strip()


def _stored(reply: dict[str, Any]) -> dict[str, Any]:
    """The answer as the archive keeps it (``show --json``), checked against the reply."""
    conversation = shown(reply["conversation_id"])
    message = next(m for m in conversation["messages"] if m["id"] == reply["message_id"])
    assert (message["role"], message["origin"], message["status"]) == (
        "assistant",
        "local",
        reply["status"],
    )
    assert message["text"] == reply["text"] and message["on_visible_path"] is True
    generation = message["generation"]
    assert (generation["provider"], generation["requested_model"], generation["served_model"]) == (
        reply["provider"],
        reply["requested_model"],
        reply["served_model"],
    )
    assert generation["attempts"] == reply["attempts"]
    return message


def test_a_new_conversation_answered_whole(home: Path) -> None:
    reply = chat_json("-m", LOCAL, "--no-stream", "Say hello in one short sentence.")
    _answered_locally(reply)
    assert len(reply["attempts"]) == 1
    _stored(reply)
    with open_archive() as archive:
        conversation = archive.get_conversation(reply["conversation_id"])
    assert conversation.source_kind == "freehold"
    assert [m.role for m in conversation.messages] == ["user", "assistant"]


def test_a_streamed_answer_is_printed_as_it_is_stored(home: Path) -> None:
    result = run("chat", "-m", LOCAL, "Name three colours.")
    assert result.exit_code == 0, result.output
    footer = [line for line in result.stderr.splitlines() if line.startswith("— ")]
    assert len(footer) == 1 and footer[0].startswith(f"— {LOCAL} · ")
    conversation = footer[0].rsplit(" in ", 1)[1]
    answer = next(m for m in shown(conversation)["messages"] if m["role"] == "assistant")
    assert answer["status"] == "complete" and answer["model"] == ALIAS
    assert answer["text"].strip() and result.stdout == render.visible(answer["text"]) + "\n"
    (attempt,) = answer["generation"]["attempts"]
    assert attempt["outcome"] == "ok" and 0 < attempt["tokens_out"] <= MAX_TOKENS


@pytest.mark.parametrize("source", ["chatgpt", "claude"])
def test_an_archived_conversation_is_continued_on_a_new_branch(
    home: Path, source: str, request: pytest.FixtureRequest
) -> None:
    if source == "chatgpt":
        path, conversation = SAMPLE, WOOD
    else:  # a real export from ../shared (skips with a message when it is absent)
        path, conversation = request.getfixturevalue("real") / CLAUDE, CLAUDE_CONVERSATION
    assert run("import", str(path)).exit_code == 0
    before = shown(conversation)
    leaf = next(m for m in reversed(before["messages"]) if m["on_visible_path"])
    prompt = "In one sentence: what was this conversation about?"
    fresh = chat_json("-m", LOCAL, prompt)
    reply = chat_json("-m", LOCAL, "--continue", conversation, prompt)
    _answered_locally(reply)
    assert reply["conversation_id"] == before["id"]
    # the archived path was sent before the prompt: far more tokens read than the prompt alone
    assert reply["tokens_in"] > fresh["tokens_in"] + 20
    after = shown(conversation)
    imported = [m for m in after["messages"] if m["origin"] is None]
    assert imported == before["messages"]  # the imported messages never change
    local = [m for m in after["messages"] if m["origin"] == "local"]
    assert [m["role"] for m in local] == ["user", "assistant"]
    assert local[0]["parent_source_id"] == leaf["source_id"]
    assert local[0]["text"] == prompt and local[1]["parent_source_id"] == local[0]["source_id"]
    assert _stored(reply)["id"] == local[1]["id"]
    assert f"via {LOCAL}" in run("show", conversation).stdout


@pytest.mark.parametrize(
    ("route", "fault", "tries"),
    [("refused", "connection", 2), ("overloaded", "overloaded", 2)],
)
def test_a_dead_primary_fails_over_to_the_local_model(
    home: Path, wire: WireServer, route: str, fault: str, tries: int
) -> None:
    assert run("import", str(SAMPLE)).exit_code == 0
    if route == "overloaded":
        wire.queue(*[Script(status=529, body=OVERLOADED)] * tries)
    reply = chat_json("-r", route, "--continue", WOOD[:8], "Which wood, in one word?")
    _answered_locally(reply)
    primary = "down" if route == "refused" else "busy"
    assert [(a["provider"], a["outcome"], a["fault"]) for a in reply["attempts"]] == [
        *[(primary, "error", fault)] * tries,
        ("local", "ok", None),
    ]
    assert len(wire.requests) == (tries if route == "overloaded" else 0)
    assert any(w.startswith(f"answered by {LOCAL}: the first choice") for w in reply["warnings"])
    message = _stored(reply)
    assert message["model"] == ALIAS


def test_providers_test_asks_the_local_model(home: Path) -> None:
    result = run("providers", "test", "local", "down", "--json")
    assert result.exit_code == 1  # down refuses: said, and the exit status shows it
    found = {r["provider"]: r for r in json.loads(result.stdout)}
    local, down = found["local"], found["down"]
    assert (local["ok"], local["model"], local["served_model"]) == (True, ALIAS, ALIAS)
    assert local["ms"] > 0 and local["text"].strip()
    assert down["ok"] is False and "connection failed" in down["error"]
    alone = run("providers", "test", "local")
    assert alone.exit_code == 0, alone.output
    assert alone.stdout.startswith(f"local: ok — {ALIAS} answered in ")


def test_models_lists_what_the_local_server_serves(home: Path) -> None:
    result = run("models", "--json")
    assert result.exit_code == 0, result.output
    states = {s["name"]: s for s in json.loads(result.stdout)["providers"]}
    local = states["local"]
    assert (local["serves"], local["error"]) == ([ALIAS], None)
    pin = next(p for p in local["pins"] if p["ref"] == LOCAL)
    assert pin["served_now"] is True and pin["pinned"] is False  # an undated name: flagged
    assert set(pin["used_in"]) >= {"route default #1", "route refused #2"}
    assert states["down"]["serves"] is None and states["down"]["error"]
    text = run("models").stdout
    assert "local" in text and ALIAS in text
