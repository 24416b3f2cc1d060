"""``freehold chat`` end to end: a newcomer carries on a sample ChatGPT conversation against
an OpenAI-compatible server on loopback, watches it fail over when the primary is down, and
reads the whole story afterwards. Real servers, a real archive, the real command."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freehold.archive import open_archive
from freehold.cli import cli
from tests.providers.servers import Script, WireServer

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"
WOOD = "9a161f4a-049a-4dc2-95e0-7f01853d64ca"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, terminal_width=200)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def home(_isolated_home: Path, wire: WireServer) -> Path:
    """The sample export imported; ``down`` (nothing listens) then ``local`` (the wire
    server, OpenAI-compatible) as the default route."""
    assert run("import", str(SAMPLE)).exit_code == 0
    assert (
        run(
            "providers", "add", "local", "--kind", "openai", "--base-url", wire.base_url("openai")
        ).exit_code
        == 0
    )
    down = f"http://127.0.0.1:{_free_port()}/v1"
    assert run("providers", "add", "down", "--kind", "openai", "--base-url", down).exit_code == 0
    with (_isolated_home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(
            '\n[routes.default]\nmodels = ["down:gpt-4o-2024-08-06", "local:qwen2.5-7b-20250101"]\n'
        )
    return _isolated_home


def test_a_newcomer_continues_a_chatgpt_conversation_with_failover(
    home: Path, wire: WireServer
) -> None:
    wire.queue(Script(text="Use **beech** or maple.", usage=(1500, 6)))
    result = run("chat", "--continue", WOOD[:8], "What wood for a workbench?", "--json")
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert reply["text"] == "Use **beech** or maple." and reply["status"] == "complete"
    assert (reply["provider"], reply["requested_model"], reply["served_model"]) == (
        "local",
        "qwen2.5-7b-20250101",
        "qwen2.5-7b-20250101",
    )
    assert [(a["provider"], a["outcome"], a["fault"]) for a in reply["attempts"]] == [
        ("down", "error", "connection"),
        ("down", "error", "connection"),
        ("local", "ok", None),
    ]
    for attempt in reply["attempts"]:
        assert {
            "provider",
            "model",
            "outcome",
            "error",
            "ms",
            "tokens_in",
            "tokens_out",
        } <= attempt.keys()
    assert reply["attempts"][2]["tokens_in"] == 1500 and reply["attempts"][2]["tokens_out"] == 6
    assert any(w.startswith("answered by local:qwen2.5-7b-20250101") for w in reply["warnings"])
    assert {"conversation_id", "message_id", "cost_usd"} <= reply.keys()
    # what was sent: the archived path, converted, then the new prompt
    sent = wire.requests[0].body["messages"]
    assert sent[-1] == {"role": "user", "content": "What wood for a workbench?"}
    assert len(sent) > 2 and sent[-2]["role"] == "assistant"
    # the whole story afterwards
    shown = json.loads(run("show", reply["conversation_id"], "--json").stdout)
    answer = next(m for m in shown["messages"] if m["id"] == reply["message_id"])
    assert answer["origin"] == "local" and answer["text"] == reply["text"]
    assert answer["generation"]["attempts"] == reply["attempts"]
    assert answer["on_visible_path"] is True
    text = run("show", reply["conversation_id"]).stdout
    assert "What wood for a workbench?" in text and "via local:qwen2.5-7b-20250101" in text
    assert "1. down:gpt-4o-2024-08-06 error (connection)" in text
    assert "3. local:qwen2.5-7b-20250101 ok" in text


def test_an_image_a_tool_made_reaches_openai_in_a_user_message(
    home: Path, wire: WireServer
) -> None:
    # the sample's conversation in which DALL·E made an image (a tool turn holding it)
    wire.queue(Script(text="A blue one."))
    base = wire.base_url("openai")
    assert (
        run("providers", "add", "oa", "--kind", "openai", "--base-url", base, "--images").exit_code
        == 0
    )
    result = run("chat", "--continue", "c19c9cfe78a7260a", "-m", "oa:gpt-4o-2024-08-06", "describe")
    assert result.exit_code == 0, result.output
    sent = wire.requests[0].body["messages"]
    images = [
        (message["role"], part["type"])
        for message in sent
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]
    assert images and all(role == "user" for role, _ in images), images
    assert "sent with the next user turn" in result.stderr


def test_the_answer_streams_to_stdout_the_rest_to_stderr(home: Path, wire: WireServer) -> None:
    wire.queue(Script(text="Plain words here."))
    result = run("chat", "-m", "local:qwen2.5-7b-20250101", "--continue", WOOD, "More?")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Plain words here.\n"
    assert "— local:qwen2.5-7b-20250101 · 12 → 7 tokens · message" in result.stderr


def test_the_prompt_from_stdin_starts_a_new_local_conversation(
    home: Path, wire: WireServer
) -> None:
    result = run("chat", "-m", "local:model-x-20250101", "--json", input="A question from a pipe\n")
    reply = json.loads(result.stdout)
    assert wire.requests[0].body["messages"] == [
        {"role": "user", "content": "A question from a pipe\n"}
    ]
    with open_archive() as archive:
        conv = archive.get_conversation(reply["conversation_id"])
    assert conv.source_kind == "freehold" and conv.title == "A question from a pipe"
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["per_source"]["freehold"] == {"conversations": 1, "messages": 2}


def test_at_an_earlier_message_forks_and_the_system_prompt_is_kept(
    home: Path, wire: WireServer
) -> None:
    shown = json.loads(run("show", WOOD, "--json").stdout)
    first_user = next(m for m in shown["messages"] if m["role"] == "user" and m["on_visible_path"])
    result = run(
        "chat",
        "-m",
        "local:m-20250101",
        "--continue",
        WOOD,
        "--at",
        str(first_user["id"]),
        "--system",
        "Answer in French.",
        "Et alors ?",
        "--json",
    )
    assert result.exit_code == 0, result.output
    body = wire.requests[0].body
    assert (
        body["messages"][0]["role"] == "system"
        and "Answer in French." in body["messages"][0]["content"]
    )
    assert body["messages"][-1]["content"] == "Et alors ?"
    after = json.loads(run("show", WOOD, "--json").stdout)
    local = [m for m in after["messages"] if m["origin"] == "local"]
    assert next((m["role"], m["parent_source_id"] == first_user["source_id"]) for m in local) == (
        "system",
        True,
    )
    assert [m["role"] for m in local] == ["system", "user", "assistant"]
    assert len(after["messages"]) == len(shown["messages"]) + 3


def test_the_system_prompt_is_the_paths_then_the_instructions_then_the_persons_choice(
    home: Path, wire: WireServer, tmp_path: Path
) -> None:
    def said(*, text: str, parent: str | None, child: str | None) -> dict[str, Any]:
        return {"parentId": parent, "childrenIds": [child] if child else [], "content": text}

    history = {
        "s0": {"id": "s0", "role": "system", **said(text="PATH-SYSTEM", parent=None, child="u1")},
        "u1": {"id": "u1", "role": "user", **said(text="Hello", parent="s0", child="a1")},
        "a1": {"id": "a1", "role": "assistant", **said(text="Bonjour", parent="u1", child=None)},
    }
    chat = {"title": "S", "params": {"system": "CUSTOM-INSTRUCTIONS"}, "history": {}}
    chat["history"] = {"currentId": "a1", "messages": history}
    export = tmp_path / "openwebui.json"
    export.write_text(json.dumps([{"id": "sys-chat", "title": "S", "chat": chat}]))
    assert run("import", str(export)).exit_code == 0
    first = run(
        "chat", "-m", "local:m-20250101", "--continue", "sys-chat", "--system", "FLAG", "Go"
    )
    assert first.exit_code == 0, first.output
    again = run("chat", "-m", "local:m-20250101", "--continue", "sys-chat", "And then?")
    assert again.exit_code == 0, again.output
    for seen in wire.requests:  # the stored --system is sent again, still last: it wins
        system = seen.body["messages"][0]
        assert system == {"role": "system", "content": "PATH-SYSTEM\n\nCUSTOM-INSTRUCTIONS\n\nFLAG"}
    assert len(wire.requests) == 2


def test_a_different_model_served_warns_and_both_are_stored(home: Path, wire: WireServer) -> None:
    wire.queue(Script(served="another-model-2026"))
    reply = json.loads(run("chat", "-m", "local:qwen2.5-7b-20250101", "hi", "--json").stdout)
    assert (reply["requested_model"], reply["served_model"]) == (
        "qwen2.5-7b-20250101",
        "another-model-2026",
    )
    assert any("answered as 'another-model-2026'" in w for w in reply["warnings"])
    wire.queue(Script(served="qwen2.5-7b-20250101"))  # the dated form: recorded, no warning
    dated = json.loads(run("chat", "-m", "local:qwen2.5-7b", "hi", "--json").stdout)
    assert (dated["requested_model"], dated["served_model"]) == (
        "qwen2.5-7b",
        "qwen2.5-7b-20250101",
    )
    assert not any("answered as" in w for w in dated["warnings"])


def test_a_broken_stream_keeps_the_partial_answer_and_exits_non_zero(
    home: Path, wire: WireServer
) -> None:
    wire.queue(Script(text="one two three four", error_after=2))
    result = run("chat", "hi", "--json")
    assert result.exit_code == 1
    reply = json.loads(result.stdout)
    assert (reply["status"], reply["text"]) == ("incomplete", "one two ")
    assert [a["outcome"] for a in reply["attempts"]][-1] == "incomplete"
    assert len(wire.requests) == 1  # not sent twice


def test_a_reply_that_cannot_be_read_keeps_what_came_without_a_traceback(
    home: Path, wire: WireServer
) -> None:
    wire.queue(Script(text="hello big world", raw={1: b"data: {not json!!\n\n"}))
    result = run("chat", "-m", "local:m-20250101", "hi")
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.output
    assert result.stdout == "hello \n" and "Traceback" not in result.output
    assert "incomplete: local: malformed: the reply could not be read" in result.stderr
    with open_archive() as archive:
        conv = archive.get_conversation(archive.select(source="freehold")[0])
    answer = conv.messages[-1]
    assert (answer.status, answer.text) == ("incomplete", "hello ")
    assert answer.generation and [(a.outcome, a.fault) for a in answer.generation.attempts] == [
        ("incomplete", "malformed")
    ]


def test_every_model_failing_is_stored_and_said(home: Path, wire: WireServer) -> None:
    wire.queue(
        *[Script(status=503, body={"error": {"type": "overloaded_error", "message": "busy"}})] * 2
    )
    result = run("chat", "hi")
    assert result.exit_code == 1
    assert result.stdout == "\n"
    assert "failed: local: 503 overloaded: " in result.stderr and "busy" in result.stderr
    with open_archive() as archive:
        conv = archive.get_conversation(archive.select(source="freehold")[0])
    answer = conv.messages[-1]
    assert answer.status == "failed" and answer.generation and len(answer.generation.attempts) == 4


def test_no_stream_asks_for_the_whole_answer(home: Path, wire: WireServer) -> None:
    wire.queue(Script(text="All at once."))
    result = run("chat", "-m", "local:m-20250101", "--no-stream", "hi")
    assert result.exit_code == 0 and result.stdout == "All at once.\n"
    assert wire.requests[0].body.get("stream") in (None, False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "local:x", "-r", "default", "hi"], "give -m or -r, not both"),
        (["--at", "3", "hi"], "--at needs --continue"),
        (["-r", "fast", "hi"], "no route 'fast' (routes: default)"),
        (["-m", "gpt-5", "hi"], "'gpt-5' is not a model reference, an alias or a route"),
        (["-m", "nobody:x", "hi"], "names provider 'nobody', which is not configured"),
        (["--continue", "no-such-conversation", "hi"], "no conversation 'no-such-conversation'"),
        (["--continue", WOOD, "--at", "nope", "hi"], "no message 'nope'"),
        (["--json"], "the prompt is empty"),  # stdin (not a terminal here) held nothing
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(
    home: Path, args: list[str], message: str
) -> None:
    before = json.loads(run("stats", "--json").stdout)["messages"]
    result = run("chat", *args)
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert json.loads(run("stats", "--json").stdout)["messages"] == before


def test_no_route_and_no_model_says_what_to_do(_isolated_home: Path) -> None:
    result = run("chat", "hi")
    assert result.exit_code == 2 and "add [routes.default]" in result.output


# -- a real terminal and a real Ctrl-C --------------------------------------------------------


def _as_on_a_terminal() -> None:
    # Ctrl-C reaches a command typed at a terminal; a shell running the suite in the background
    # (`pytest &`) ignores SIGINT, and a child inherits that: it would then run to its end.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(home: Path, *args: str, tty: bool) -> tuple[subprocess.Popen[bytes], int | None]:
    env = {**os.environ, "FREEHOLD_HOME": str(home), "COLUMNS": "100", "TERM": "xterm"}
    if not tty:
        process = subprocess.Popen(
            [sys.executable, "-m", "freehold", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_as_on_a_terminal,
        )
        return process, None
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "freehold", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        preexec_fn=_as_on_a_terminal,
    )
    os.close(child)
    return process, main


def _read_until(fd: int, wanted: bytes, seconds: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def test_ctrl_c_keeps_what_arrived_as_interrupted(home: Path, llmock: Any) -> None:
    assert (
        run(
            "providers", "add", "slow", "--kind", "openai", "--base-url", llmock.base_url("openai")
        ).exit_code
        == 0
    )
    llmock.reply("one two three four five six seven eight nine ten eleven twelve").pace(400)
    process, _ = _spawn(home, "chat", "-m", "slow:gpt-4o", "count", tty=False)
    assert process.stdout is not None
    first = process.stdout.read1(100)  # type: ignore[attr-defined]
    assert first
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)  # reads the rest and closes the pipes
    assert process.returncode == 130, stderr
    assert b"interrupted" in stderr
    with open_archive(home) as archive:
        conv = archive.get_conversation(archive.select(source="freehold")[0])
    answer = conv.messages[-1]
    assert answer.status == "interrupted" and answer.text and "twelve" not in answer.text
    assert first.decode() in answer.text
    assert answer.generation and answer.generation.attempts[-1].outcome == "interrupted"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_or_sighup_mid_answer_keeps_what_arrived_and_ends(
    home: Path, wire: WireServer, stop: signal.Signals
) -> None:
    wire.queue(
        Script(text="one two three four five six seven eight nine ten eleven twelve", gap=0.5)
    )
    process, _ = _spawn(
        home, "chat", "-m", "local:m-20250101", "--continue", WOOD, "count", tty=False
    )
    assert process.stdout is not None
    first = process.stdout.read1(100)  # type: ignore[attr-defined]
    assert first  # the first words came: the answer is on its way
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + stop, stderr
    assert f"stopped: {stop.name} received".encode() in stderr and b"interrupted" in stderr
    with open_archive(home) as archive:
        answer = archive.get_conversation(WOOD).messages[-1]
    assert answer.origin == "local" and answer.status == "interrupted"
    assert answer.text.startswith(first.decode()) and "twelve" not in answer.text
    assert answer.generation and [a.outcome for a in answer.generation.attempts] == ["interrupted"]


def _read_pipe_until(pipe: Any, wanted: bytes, seconds: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([pipe], [], [], 0.2)
        if ready:
            seen += os.read(pipe.fileno(), 4096)
    return seen


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_before_any_text_is_interrupted_not_failed(
    home: Path, wire: WireServer, stop: signal.Signals
) -> None:
    slow = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    wire.queue(Script(status=429, headers={"retry-after": "8"}, body=slow))
    process, _ = _spawn(home, "chat", "-m", "local:m-20250101", "hi", tty=False)
    assert process.stderr is not None
    _read_pipe_until(process.stderr, b"trying again in 8.0 s")  # in the back-off now
    process.send_signal(stop)
    _, rest = process.communicate(timeout=20)
    assert process.returncode == (130 if stop == signal.SIGINT else 143), rest
    assert b"interrupted" in rest and b"Traceback" not in rest
    with open_archive(home) as archive:
        conv = archive.get_conversation(archive.select(source="freehold")[0])
    answer = conv.messages[-1]
    assert (answer.status, answer.text) == ("interrupted", "")
    assert answer.generation and [(a.outcome, a.fault) for a in answer.generation.attempts] == [
        ("error", "rate_limit")
    ]


def test_sigterm_ends_an_interactive_session_after_storing_the_answer(
    home: Path, wire: WireServer
) -> None:
    wire.queue(Script(text="alpha beta gamma delta epsilon zeta eta theta", gap=0.5))
    process, fd = _spawn(home, "chat", "-m", "local:m-20250101", "--continue", WOOD, tty=True)
    assert fd is not None
    try:
        _read_until(fd, b"> ")
        os.write(fd, b"a question\r")
        _read_until(fd, b"alpha")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 128 + signal.SIGTERM  # not back at the prompt
    finally:
        os.close(fd)
        if process.poll() is None:
            process.kill()
            process.wait()
    with open_archive(home) as archive:
        answer = archive.get_conversation(WOOD).messages[-1]
    assert answer.status == "interrupted" and answer.text.startswith("alpha")
    assert "theta" not in answer.text


def test_an_interactive_session_on_a_terminal(home: Path, wire: WireServer) -> None:
    wire.queue(Script(text="First **answer**."), Script(text="Second answer."))
    process, fd = _spawn(home, "chat", "-m", "local:m-20250101", "--continue", WOOD, tty=True)
    assert fd is not None
    try:
        _read_until(fd, b"> ")
        os.write(fd, b"first question\r")
        seen = _read_until(fd, b"> ")
        assert b"First" in seen and b"**" not in seen  # Markdown rendered: bold, no asterisks
        assert b"\x1b[1manswer" in seen and b"message " in seen
        os.write(fd, b"second question\r")
        assert b"Second answer." in _read_until(fd, b"> ")
        os.write(fd, b"exit\r")
        assert process.wait(timeout=20) == 0
    finally:
        os.close(fd)
        if process.poll() is None:
            process.kill()
            process.wait()
    sent = wire.requests[1].body["messages"]
    assert [m["content"] for m in sent[-3:]] == [
        "first question",
        "First **answer**.",
        "second question",
    ]
    after = json.loads(run("show", WOOD, "--json").stdout)
    assert [m["text"] for m in after["messages"] if m["origin"] == "local"] == [
        "first question",
        "First **answer**.",
        "second question",
        "Second answer.",
    ]


def test_a_key_no_http_header_can_carry_is_refused_before_anything_is_stored(
    home: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[providers.ge]\nkind = "gemini"\nbase_url = "{wire.base_url("gemini")}"\n'
            'api_key_env = "GKEY"\n'
        )
    monkeypatch.setenv("GKEY", "canary\nSECRET-42")
    before = json.loads(run("stats", "--json").stdout)["messages"]
    result = run("chat", "-m", "ge:gemini-2.0-flash-001", "hi")
    assert result.exit_code == 1 and "$GKEY" in result.stderr, result.output
    assert "SECRET" not in result.output and wire.requests == []
    assert json.loads(run("stats", "--json").stdout)["messages"] == before
