"""Each provider family through its official SDK against real loopback servers: answers,
streamed and not, what is sent, and every fault classified (not only by HTTP status)."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from freehold.errors import ProviderError
from freehold.providers.base import ChatRequest, Event, Finish, Image, Meta, Text, Turn, classify
from tests.providers.fixtures import KINDS, provider_for
from tests.providers.servers import Script, WireServer

LLMOCK_PATH = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini"}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def _request(*, stream: bool = True, system: str | None = None, turns: Any = None) -> ChatRequest:
    turns = turns or (Turn("user", ("Say hello.",)),)
    return ChatRequest("model-a", tuple(turns), system=system, stream=stream)


def _events(kind: str, base_url: str, request: ChatRequest, **settings: Any) -> list[Event]:
    return list(provider_for(kind, base_url, **settings).stream(request))


def _text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Text))


def _meta(events: list[Event]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for event in events:
        if isinstance(event, Meta):
            merged.update(
                {k: v for k, v in vars(event).items() if v is not None}
                if hasattr(event, "__dict__")
                else {
                    name: getattr(event, name)
                    for name in ("served_model", "tokens_in", "tokens_out")
                    if getattr(event, name) is not None
                }
            )
    return merged


def _fault(
    kind: str, base_url: str, request: ChatRequest | None = None, **settings: Any
) -> tuple[ProviderError, list[Event]]:
    seen: list[Event] = []
    with pytest.raises(ProviderError) as caught:
        for event in provider_for(kind, base_url, **settings).stream(request or _request()):
            seen.append(event)
    return caught.value, seen


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_an_answer_with_its_model_and_tokens(wire: WireServer, kind: str, stream: bool) -> None:
    wire.queue(Script(text="One two three.", usage=(21, 3)))
    events = _events(kind, wire.base_url(kind), _request(stream=stream))
    assert _text(events) == "One two three."
    assert events[-1] == Finish({"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}[kind])
    assert _meta(events) == {"served_model": "model-a", "tokens_in": 21, "tokens_out": 3}
    assert len(wire.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_what_is_sent_system_roles_and_images(wire: WireServer, kind: str) -> None:
    turns = (
        Turn("user", ("Look at this:", Image(PNG, "image/png"))),
        Turn("assistant", ("A pixel.",)),
        Turn("user", ("Thanks.",)),
    )
    _events(kind, wire.base_url(kind), _request(system="Be brief.", turns=turns))
    body = wire.requests[0].body
    if kind == "openai":
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
        image = body["messages"][1]["content"][1]
        assert image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
        assert body["max_tokens"] == 4096  # a compatible server gets max_tokens
    elif kind == "anthropic":
        assert body["system"] == "Be brief."
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        assert body["messages"][0]["content"][1]["source"]["media_type"] == "image/png"
    else:
        assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
        inline = body["contents"][0]["parts"][1]["inlineData"]
        assert inline.get("mimeType", inline.get("mime_type")) == "image/png", inline.keys()


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_event_mid_stream_is_classified_by_its_type(wire: WireServer, kind: str) -> None:
    # Anthropic's arrives as an APIStatusError with status 200, OpenAI's without a status:
    # only the body says it was an overload.
    wire.queue(Script(text="one two three four", error_after=2))
    error, seen = _fault(kind, wire.base_url(kind))
    assert _text(seen) == "one two "
    assert (error.kind, error.retryable) == ("overloaded", True)
    # the HTTP status was 200; Gemini's error object carries a code of its own
    assert error.status == (503 if kind == "gemini" else None)


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_cut_without_its_finish_marker_is_noticed(wire: WireServer, kind: str) -> None:
    wire.queue(Script(text="one two three four", cut_after=3))
    error, seen = _fault(kind, wire.base_url(kind))
    assert _text(seen) == "one two three "
    assert error.kind == "truncated" and "without its finish marker" in str(error)
    assert not any(isinstance(e, Finish) for e in seen)


@pytest.mark.parametrize("kind", KINDS)
def test_an_image_in_an_assistant_turn_goes_only_where_the_api_takes_it(
    wire: WireServer, kind: str
) -> None:
    turns = (
        Turn("user", ("Draw a pixel.",)),
        Turn("assistant", ("Here:", Image(PNG, "image/png"))),
        Turn("user", ("Thanks.",)),
    )
    _events(kind, wire.base_url(kind), _request(turns=turns))
    body = wire.requests[0].body
    if kind == "gemini":  # a model turn's parts may hold inline_data
        assert body["contents"][1]["role"] == "model"
        assert "inlineData" in body["contents"][1]["parts"][1]
        return
    answer = body["messages"][1]
    assert answer["role"] == "assistant"
    assert (
        answer["content"] == "Here:\n\n[Image not sent: this API takes images in user turns only]"
    )


# What a broken server sends in the middle of a stream, per protocol: a line that is not JSON,
# and JSON whose fields have the wrong types (the SDKs pass both on as they find them).
NOT_JSON = {
    "openai": b"data: {not json!!\n\n",
    "anthropic": b"event: content_block_delta\ndata: {broken\n\n",
    "gemini": b"data: {broken\n\n",
}
WRONG_TYPES = {
    "openai": b'data: {"id": "c1", "object": "chat.completion.chunk", "created": 0, '
    b'"model": "m", "choices": null}\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type": "content_block_delta", '
    b'"index": 0, "delta": {"type": "text_delta", "text": 5}}\n\n',
    "gemini": b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": 5}]}}]}\n\n',
}
OPENAI_NUMBER = (
    b'data: {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m", '
    b'"choices": [{"index": 0, "delta": {"content": 5}, "finish_reason": null}]}\n\n'
)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("broken", ["not_json", "wrong_types"])
@pytest.mark.parametrize("at", [0, 2], ids=["before-text", "after-text"])
def test_a_reply_that_cannot_be_read_is_a_fault_of_its_own(
    wire: WireServer, kind: str, broken: str, at: int
) -> None:
    bad = (NOT_JSON if broken == "not_json" else WRONG_TYPES)[kind]
    wire.queue(Script(text="one two three four", raw={at: bad}))
    error, seen = _fault(kind, wire.base_url(kind))
    assert _text(seen) == ("one two " if at else "")
    assert (error.kind, error.retryable) == ("malformed", True)
    assert str(error).startswith("p: malformed: the reply could not be read (")


def test_a_number_where_text_belongs_is_noticed_where_it_arrives(wire: WireServer) -> None:
    wire.queue(Script(text="one two three", raw={1: OPENAI_NUMBER}))
    error, seen = _fault("openai", wire.base_url("openai"))
    assert _text(seen) == "one " and error.kind == "malformed"
    assert "a piece of text is int" in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_the_model_that_answered_is_reported(wire: WireServer, kind: str) -> None:
    wire.queue(Script(served="model-z-2026"), Script(served="model-z-2026"))
    for stream in (True, False):
        events = _events(kind, wire.base_url(kind), _request(stream=stream))
        assert _meta(events)["served_model"] == "model-z-2026"


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_echoed_in_an_error_never_reaches_the_message(
    wire: WireServer, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "sk-freehold-canary-0123456789abcdef"
    monkeypatch.setenv("WIRE_KEY", canary)
    body = {
        "error": {"type": "authentication_error", "message": "Incorrect API key provided: {key}"}
    }
    wire.queue(Script(status=401, body=body))
    error, _ = _fault(kind, wire.base_url(kind), api_key_env="WIRE_KEY")
    assert (
        wire.requests[0]
        .headers.get(
            "authorization",
            wire.requests[0].headers.get(
                "x-api-key", wire.requests[0].headers.get("x-goog-api-key", "")
            ),
        )
        .endswith(canary)
    )
    assert (error.kind, error.retryable, error.status) == ("auth", False, 401)
    assert canary not in str(error) and "[key]" in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_llmock_faults(llmock: Any, kind: str) -> None:
    base = llmock.base_url(LLMOCK_PATH[kind])
    llmock.rate_limit(retry_after=7)
    error, _ = _fault(kind, base)
    assert (error.kind, error.retry_after, error.status) == ("rate_limit", 7.0, 429)
    for status, expected in (
        (500, "server"),
        (529, "overloaded"),
        (503, "overloaded"),
        (404, "not_found"),
    ):
        llmock.fail(status)
        assert _fault(kind, base)[0].kind == expected, status
    llmock.truncate(after_chunks=5)
    error, seen = _fault(kind, base)
    assert error.kind == "truncated" and _text(seen)
    llmock.disconnect(after_chunks=3)
    assert _fault(kind, base)[0].kind == "connection"
    llmock.slow_first_token(2.0)
    error, seen = _fault(kind, base, timeout=0.4)
    assert error.kind == "timeout" and seen == []


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused(kind: str) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error, _ = _fault(kind, f"http://127.0.0.1:{port}/v1")
    assert (error.kind, error.retryable) == ("connection", True)


@pytest.mark.parametrize("kind", KINDS)
def test_list_models(wire: WireServer, llmock: Any, kind: str) -> None:
    assert provider_for(kind, wire.base_url(kind)).list_models() == ["model-a", "model-b-20250101"]
    assert provider_for(kind, llmock.base_url(LLMOCK_PATH[kind])).list_models()


@pytest.mark.parametrize("kind", KINDS)
def test_a_reply_that_is_not_a_model_list_says_check_base_url(wire: WireServer, kind: str) -> None:
    wire.models_page = "<html><body>Sign in to the proxy</body></html>"
    with pytest.raises(ProviderError) as caught:
        provider_for(kind, wire.base_url(kind)).list_models()
    assert str(caught.value) == (
        f"p: bad request: the reply from {wire.base_url(kind)} is not a model list — check base_url"
    )


def test_the_http_client_is_injectable(wire: WireServer) -> None:
    import httpx2
    import openai

    seen: list[str] = []
    client = openai.DefaultHttpxClient(event_hooks={"request": [lambda r: seen.append(str(r.url))]})
    provider = provider_for("openai", wire.base_url("openai"))
    provider.http_client = client
    assert _text(list(provider.stream(_request()))) == "Hello from the wire server."
    assert seen == [wire.base_url("openai") + "/chat/completions"]
    assert isinstance(client, httpx2.Client)


class _Client:
    def close(self) -> None:
        return None


def test_one_sdk_client_however_many_threads_ask_for_it_at_once() -> None:
    """Rehearsal asks one provider from several threads: two clients made at once left one
    unclosed, its socket found later as a ResourceWarning (a flaky rehearsal test)."""
    provider = provider_for("openai", "http://127.0.0.1:9")
    threads, made, everyone = 8, [], threading.Event()
    start = threading.Barrier(threads)

    def make() -> _Client:
        made.append(1)
        if len(made) == threads:
            everyone.set()
        everyone.wait(0.5)  # long enough for every thread to be in here, were that allowed
        return _Client()

    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(provider.sdk(make))

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(made) == 1 and len(got) == threads and len({id(g) for g in got}) == 1


def test_no_key_for_a_vendor_endpoint_says_where_to_put_one() -> None:
    from freehold.config import ProviderConfig
    from freehold.providers.base import connect

    provider = connect(ProviderConfig("claude", "anthropic", api_key_env="NO_SUCH_VARIABLE_SET"))
    with pytest.raises(
        ProviderError, match=r"\$NO_SUCH_VARIABLE_SET or run `freehold providers add claude"
    ):
        list(provider.stream(_request()))


@pytest.mark.parametrize(
    ("status", "error_type", "message", "kind"),
    [
        (200, "overloaded_error", "", "overloaded"),
        (None, "rate_limit_exceeded", "", "rate_limit"),
        (529, "server_error", "", "overloaded"),  # a generic type yields to the status
        (400, "invalid_request_error", "prompt is too long: 210000 tokens", "context"),
        (400, "context_length_exceeded", "", "context"),
        (None, "RESOURCE_EXHAUSTED", "", "rate_limit"),
        (418, None, "", "error"),
        (599, None, "", "server"),
        # llama-server's context overflow (probe R 7)
        (
            400,
            "exceed_context_size_error",
            "the request exceeds the available context size, try increasing it",
            "context",
        ),
        (400, None, "the request exceeds the available context size", "context"),
    ],
)
def test_classify(status: int | None, error_type: str | None, message: str, kind: str) -> None:
    assert classify(status, error_type, message) == kind


# Where each provider builds a turn of the request: freehold's own code, run before anything is
# sent. A bug there is freehold's, so it stays a traceback (docs/decisions.md, 2026-12-07).
_BUILDS_A_TURN = {"openai": "_content", "anthropic": "_content", "gemini": "_part"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_a_bug_building_the_request_is_a_traceback_not_a_fault_of_the_reply(
    wire: WireServer, kind: str, stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise KeyError("freehold's own bug")

    module = __import__(f"freehold.providers.{kind}", fromlist=["_"])
    monkeypatch.setattr(module, _BUILDS_A_TURN[kind], broken)
    with pytest.raises(KeyError, match="freehold's own bug"):
        _events(kind, wire.base_url(kind), _request(stream=stream))
    assert wire.requests == []  # nothing was sent, nothing to retry


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_the_http_library_refuses_is_not_quoted_in_the_fault(
    wire: WireServer, kind: str
) -> None:
    # keys.api_key refuses such a key; a provider handed one anyway (a plugin, a test) must
    # not let the HTTP library's own message quote it (h11 writes it as a bytes repr)
    from freehold.config import ProviderConfig
    from freehold.plugins import providers

    config = ProviderConfig("p", kind, base_url=wire.base_url(kind), timeout=5.0)
    with (
        providers()[kind](config, "canary\nSECRET-42") as provider,
        pytest.raises(ProviderError) as caught,
    ):
        list(provider.stream(_request()))
    assert "SECRET" not in str(caught.value) and "canary" not in str(caught.value)


@pytest.mark.parametrize(
    "quoted",
    [
        "canary\nSECRET-42\u00e9",
        "canary\\nSECRET-42\u00e9",  # repr of the text
        "canary\\nSECRET-42\\xc3\\xa9",  # repr of its UTF-8 bytes (h11, httpx)
        "canary\\nSECRET-42\\u00e9",  # JSON
        "canary%0ASECRET-42%C3%A9",  # a URL
    ],
)
def test_redact_covers_every_way_an_error_quotes_the_key(quoted: str) -> None:
    from freehold.providers.base import redact

    said = redact(f"Illegal header value b'{quoted}' sent", "canary\nSECRET-42\u00e9")
    assert said == "Illegal header value b'[key]' sent"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # a generic type beside a specific code: the code decides (OpenAI writes both)
        (
            {
                "message": "This model's maximum is 8192 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            },
            "context",
        ),
        (
            {
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
                "code": 400,
            },
            "context",
        ),
    ],
)
def test_an_openai_error_is_classified_by_its_code_and_its_type(
    wire: WireServer, error: dict[str, Any], kind: str
) -> None:
    wire.queue(Script(status=400, body={"error": error}))
    fault, _ = _fault("openai", wire.base_url("openai"))
    assert (fault.kind, fault.retryable) == (kind, False)
