"""The router against real loopback servers through the real providers: retries, back-off,
failover only before the first token, incomplete streams, circuits, every attempt recorded.
Time, sleep and chance are injected: no test waits for a back-off."""

from __future__ import annotations

from typing import Any

import pytest

from freehold.config import ModelRef, Policy
from freehold.providers.base import ChatRequest, Provider, Text, Turn
from freehold.router import Answer, Notice, Router, Run
from tests.providers.fixtures import provider_for
from tests.providers.servers import Script, WireServer


class Clock:
    """A clock that only moves when the router sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def _build(provider: Provider, ref: ModelRef) -> tuple[ChatRequest, list[str]]:
    return ChatRequest(ref.model, (Turn("user", ("Say hello.",)),)), []


def _router(providers: dict[str, Provider], clock: Clock, **policy: Any) -> Router:
    return Router(providers, Policy(**policy), clock=clock, sleep=clock.sleep, chance=lambda: 0.5)


def _refs(*names: str) -> list[ModelRef]:
    return [ModelRef(*name.split(":", 1)) for name in names]


def _drain(run: Run) -> tuple[Answer, list[str], list[str]]:
    pieces, notices = [], []
    for event in run:
        if isinstance(event, Text):
            pieces.append(event.text)
        else:
            assert isinstance(event, Notice)
            notices.append(event.text)
    return run.answer, pieces, notices


def _outcomes(answer: Answer) -> list[tuple[str, str, str | None]]:
    return [(f"{a.provider}:{a.model}", a.outcome, a.fault) for a in answer.attempts]


@pytest.fixture
def two(wire: WireServer, llmock: Any) -> dict[str, Provider]:
    """``primary`` on the wire server, ``fallback`` on llmock: both speak OpenAI's protocol."""
    return {
        "primary": provider_for("openai", wire.base_url("openai"), name="primary"),
        "fallback": provider_for("openai", llmock.base_url("openai"), name="fallback"),
    }


def test_retry_after_is_honoured(wire: WireServer, two: dict[str, Provider]) -> None:
    wire.queue(
        Script(
            status=429,
            headers={"retry-after": "3"},
            body={"error": {"type": "rate_limit_error", "message": "slow down"}},
        )
    )
    clock = Clock()
    answer, pieces, notices = _drain(_router(two, clock).run(_refs("primary:model-a"), _build))
    assert clock.slept == [3.0]
    assert answer.status == "complete" and "".join(pieces) == answer.text
    assert _outcomes(answer) == [
        ("primary:model-a", "error", "rate_limit"),
        ("primary:model-a", "ok", None),
    ]
    assert answer.attempts[1].waited_ms == 3000
    assert notices == ["primary:model-a: rate limit; trying again in 3.0 s"]


def test_back_off_doubles_with_full_jitter_up_to_the_cap(
    wire: WireServer, two: dict[str, Provider]
) -> None:
    error = {"error": {"type": "server_error", "message": "boom"}}
    wire.queue(*[Script(status=500, body=error)] * 4)
    clock = Clock()
    router = _router(
        two, clock, attempts_per_model=5, backoff_base=0.5, backoff_max=1.5, circuit_failures=9
    )
    answer, _, _ = _drain(router.run(_refs("primary:model-a"), _build))
    # chance() = 0.5 of a cap of 0.5, 1, 2 → 1.5 (capped), 4 → 1.5
    assert clock.slept == [0.25, 0.5, 0.75, 0.75]
    assert answer.status == "complete" and len(answer.attempts) == 5


def test_a_retry_after_longer_than_the_policy_fails_over_at_once(
    wire: WireServer, two: dict[str, Provider]
) -> None:
    wire.queue(
        Script(
            status=429,
            headers={"retry-after": "120"},
            body={"error": {"type": "rate_limit_error", "message": "later"}},
        )
    )
    clock = Clock()
    answer, _, notices = _drain(
        _router(two, clock).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert clock.slept == []
    assert _outcomes(answer) == [
        ("primary:model-a", "error", "rate_limit"),
        ("fallback:gpt-4o", "ok", None),
    ]
    assert (answer.provider, answer.requested_model, answer.served_model) == (
        "fallback",
        "gpt-4o",
        "gpt-4o",
    )
    assert notices == ["primary:model-a failed (rate limit): trying the next model"]


def test_failover_before_the_first_token(
    wire: WireServer, two: dict[str, Provider], llmock: Any
) -> None:
    overloaded = {"error": {"type": "overloaded_error", "message": "Overloaded"}}
    wire.queue(Script(status=529, body=overloaded), Script(status=529, body=overloaded))
    clock = Clock()
    answer, pieces, _ = _drain(
        _router(two, clock).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert _outcomes(answer) == [
        ("primary:model-a", "error", "overloaded"),
        ("primary:model-a", "error", "overloaded"),
        ("fallback:gpt-4o", "ok", None),
    ]
    assert (
        answer.status == "complete" and answer.text == "".join(pieces) and "gpt-4o" in answer.text
    )
    assert answer.attempts[0].error is not None and "529" in answer.attempts[0].error
    assert answer.attempts[2].tokens_out and answer.tokens_out == answer.attempts[2].tokens_out
    assert len(llmock.requests) == 1


def test_no_failover_after_the_first_token_the_partial_answer_is_kept(
    wire: WireServer, two: dict[str, Provider], llmock: Any
) -> None:
    wire.queue(Script(text="one two three four", error_after=2))
    answer, pieces, _ = _drain(
        _router(two, Clock()).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert (answer.status, answer.text, pieces) == ("incomplete", "one two ", ["one ", "two "])
    assert _outcomes(answer) == [("primary:model-a", "incomplete", "overloaded")]
    assert answer.error and "overloaded" in answer.error
    assert llmock.requests == [] and len(wire.requests) == 1  # never retried, never duplicated


def test_a_stream_without_its_finish_marker_is_incomplete(
    wire: WireServer, two: dict[str, Provider]
) -> None:
    wire.queue(Script(text="one two three", cut_after=2))
    answer, _, _ = _drain(
        _router(two, Clock()).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert (answer.status, answer.text) == ("incomplete", "one two ")
    assert _outcomes(answer) == [("primary:model-a", "incomplete", "truncated")]


def test_a_stream_cut_before_any_text_is_retried(
    wire: WireServer, two: dict[str, Provider]
) -> None:
    wire.queue(Script(cut_after=0))
    answer, _, _ = _drain(_router(two, Clock()).run(_refs("primary:model-a"), _build))
    assert _outcomes(answer) == [
        ("primary:model-a", "error", "truncated"),
        ("primary:model-a", "ok", None),
    ]
    assert answer.status == "complete"


NOT_JSON = b"data: {not json!!\n\n"


def test_a_reply_that_cannot_be_read_before_any_text_is_retried_then_fails_over(
    wire: WireServer, two: dict[str, Provider], llmock: Any
) -> None:
    wire.queue(Script(raw={0: NOT_JSON}), Script(raw={0: NOT_JSON}))
    answer, pieces, notices = _drain(
        _router(two, Clock()).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert _outcomes(answer) == [
        ("primary:model-a", "error", "malformed"),
        ("primary:model-a", "error", "malformed"),
        ("fallback:gpt-4o", "ok", None),
    ]
    assert answer.status == "complete" and answer.text == "".join(pieces)
    assert "primary:model-a failed (malformed): trying the next model" in notices
    assert len(llmock.requests) == 1


def test_a_reply_that_cannot_be_read_after_text_keeps_what_came(
    wire: WireServer, two: dict[str, Provider], llmock: Any
) -> None:
    wire.queue(Script(text="hello big world", raw={1: NOT_JSON}))
    answer, pieces, _ = _drain(
        _router(two, Clock()).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert (answer.status, answer.text, pieces) == ("incomplete", "hello ", ["hello "])
    assert _outcomes(answer) == [("primary:model-a", "incomplete", "malformed")]
    assert answer.error and "could not be read" in answer.error
    assert answer.attempts[0].ms is not None and llmock.requests == []


def test_not_retryable_fails_over_without_waiting(
    wire: WireServer, two: dict[str, Provider]
) -> None:
    wire.queue(
        Script(status=401, body={"error": {"type": "authentication_error", "message": "bad key"}})
    )
    clock = Clock()
    answer, _, _ = _drain(
        _router(two, clock).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    )
    assert clock.slept == []
    assert _outcomes(answer) == [
        ("primary:model-a", "error", "auth"),
        ("fallback:gpt-4o", "ok", None),
    ]


def test_no_first_byte_before_the_timeout_fails_over(llmock: Any, wire: WireServer) -> None:
    slow = provider_for("openai", llmock.base_url("openai"), name="slow", timeout=0.3)
    fast = provider_for("openai", wire.base_url("openai"), name="fast")
    llmock.slow_first_token(3.0, times=None)
    answer, _, _ = _drain(
        _router({"slow": slow, "fast": fast}, Clock(), attempts_per_model=1).run(
            _refs("slow:gpt-4o", "fast:model-a"), _build
        )
    )
    assert _outcomes(answer) == [("slow:gpt-4o", "error", "timeout"), ("fast:model-a", "ok", None)]


def test_connection_refused_fails_over(wire: WireServer) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = provider_for("openai", f"http://127.0.0.1:{port}/v1", name="gone")
    here = provider_for("openai", wire.base_url("openai"), name="here")
    clock = Clock()
    answer, _, _ = _drain(
        _router({"gone": gone, "here": here}, clock).run(_refs("gone:m", "here:model-a"), _build)
    )
    assert _outcomes(answer) == [
        ("gone:m", "error", "connection"),
        ("gone:m", "error", "connection"),
        ("here:model-a", "ok", None),
    ]
    assert clock.slept == [0.25]


def test_a_circuit_opens_on_a_provider_that_keeps_failing(llmock: Any, wire: WireServer) -> None:
    down = provider_for("openai", llmock.base_url("openai"), name="down")
    up = provider_for("openai", wire.base_url("openai"), name="up")
    llmock.outage(status=503)
    clock = Clock()
    router = _router({"down": down, "up": up}, clock, circuit_failures=3, circuit_cooldown=30)
    route = _refs("down:gpt-4o", "down:gpt-4o-mini", "up:model-a")
    first, _, _ = _drain(router.run(route, _build))
    assert _outcomes(first) == [
        ("down:gpt-4o", "error", "overloaded"),
        ("down:gpt-4o", "error", "overloaded"),
        ("down:gpt-4o-mini", "error", "overloaded"),  # the third fault in a row opens it
        ("up:model-a", "ok", None),
    ]
    assert first.attempts[2].error and first.attempts[2].error.endswith("(circuit opened)")
    second, _, notices = _drain(router.run(route, _build))
    assert _outcomes(second) == [
        ("down:gpt-4o", "skipped", "circuit_open"),
        ("down:gpt-4o-mini", "skipped", "circuit_open"),
        ("up:model-a", "ok", None),
    ]
    assert notices[0].startswith("skipping down:gpt-4o: down: circuit open")
    served = len(llmock.requests)
    llmock.reset()  # the provider is back; after the cool-down it is tried once, then closed
    clock.now += 31
    third, _, _ = _drain(router.run(route, _build))
    assert _outcomes(third) == [("down:gpt-4o", "ok", None)]
    assert served == 3


def test_every_model_failing_is_a_failed_answer_with_the_story(
    wire: WireServer, llmock: Any
) -> None:
    llmock.outage(status=500)
    wire.queue(
        Script(status=404, body={"error": {"type": "not_found_error", "message": "no such model"}})
    )
    providers = {
        "a": provider_for("openai", wire.base_url("openai"), name="a"),
        "b": provider_for("openai", llmock.base_url("openai"), name="b"),
    }
    answer, pieces, _ = _drain(
        _router(providers, Clock(), attempts_per_model=1).run(_refs("a:x", "b:y"), _build)
    )
    assert (answer.status, answer.text, pieces) == ("failed", "", [])
    assert _outcomes(answer) == [("a:x", "error", "not_found"), ("b:y", "error", "server")]
    assert answer.error == answer.attempts[-1].error


def test_stop_keeps_what_arrived_as_interrupted(
    wire: WireServer, two: dict[str, Provider], llmock: Any
) -> None:
    wire.queue(Script(text="one two three four five"))
    run = _router(two, Clock()).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    first = next(event for event in run if isinstance(event, Text))
    answer = run.stop()
    assert (answer.status, answer.text) == ("interrupted", first.text)
    assert _outcomes(answer) == [("primary:model-a", "interrupted", None)]
    assert llmock.requests == []


def test_attempts_are_timed(wire: WireServer, two: dict[str, Provider]) -> None:
    import time

    wire.queue(Script(delay=0.2))
    router = Router(two, Policy())
    answer, _, _ = _drain(router.run(_refs("primary:model-a"), _build))
    assert answer.attempts[0].ms >= 200
    assert (
        answer.attempts[0].started_at is not None and answer.attempts[0].started_at <= time.time()
    )


def test_a_stop_before_any_text_is_interrupted(wire: WireServer, two: dict[str, Provider]) -> None:
    def stopped(seconds: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C during the back-off

    slow = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    wire.queue(Script(status=429, body=slow))
    router = Router(two, Policy(), clock=Clock(), sleep=stopped, chance=lambda: 0.5)
    run = router.run(_refs("primary:model-a"), _build)
    with pytest.raises(KeyboardInterrupt):
        _drain(run)
    answer = run.stop()
    assert (answer.status, answer.text, answer.error) == ("interrupted", "", None)
    assert _outcomes(answer) == [("primary:model-a", "error", "rate_limit")]


def test_a_stop_while_the_request_is_made_is_an_interrupted_attempt(
    two: dict[str, Provider],
) -> None:
    def build(provider: Provider, ref: ModelRef) -> tuple[ChatRequest, list[str]]:
        raise KeyboardInterrupt  # a signal while the path is converted

    run = _router(two, Clock()).run(_refs("primary:model-a"), build)
    with pytest.raises(KeyboardInterrupt):
        _drain(run)
    answer = run.stop()
    assert answer.status == "interrupted"
    assert _outcomes(answer) == [("primary:model-a", "interrupted", None)]


def test_a_bug_in_freeholds_own_handling_of_an_event_is_a_traceback(
    wire: WireServer, two: dict[str, Provider], llmock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> None:
        raise KeyError("freehold's own bug")

    monkeypatch.setattr("freehold.router._merge", broken)
    wire.queue(Script(text="hello"))
    run = _router(two, Clock()).run(_refs("primary:model-a", "fallback:gpt-4o"), _build)
    with pytest.raises(KeyError, match="freehold's own bug"):
        _drain(run)
    assert len(wire.requests) == 1 and llmock.requests == []  # not retried, no failover
