"""Real HTTP servers on 127.0.0.1 speaking the providers' wire protocols, for the tests.

``llmock`` (a pytest plugin: the ``llmock`` fixture) covers most faults. ``WireServer`` is a
small Starlette app of our own for what llmock lacks, byte for byte as the vendors send it:
an error event in the middle of a stream (OpenAI ``data: {"error": …}``, Anthropic
``event: error``, Gemini ``data: {"error": …}``), a stream cut without its finish marker at
a chosen point, a response naming another model than the one asked for, an error body that
echoes the key it was sent (some providers' 401s do), and every request kept for inspection.

One server speaks all three protocols under ``/openai/v1``, ``/anthropic`` and
``/gemini``; each request takes the next ``Script`` from a queue (an answer by default).
``/openai/v1/embeddings`` answers each text with its words counted into ``embedding_dim``
buckets (a model whose width a test can change), after the HTTP errors queued in
``embedding_faults``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

BASES = {"openai": "/openai/v1", "anthropic": "/anthropic", "gemini": "/gemini"}


@dataclass
class Script:
    """What the next request gets.

    ``status``/``body``/``headers``: an HTTP error instead of an answer (``body`` may hold
    ``{key}``, replaced by the key the request carried). Otherwise ``text`` in ``chunks``
    pieces, naming ``served`` as the model (default: the one asked for); ``error_after``
    sends a provider error event after that many pieces; ``cut_after`` ends the stream
    there without its finish marker; ``delay`` waits before the first byte. ``gap`` waits
    between the stream's events; ``raw`` sends bytes as they are before the numbered piece
    (a line that is not JSON, a field of the wrong type), then goes on; ``hold`` (with
    ``hold_after``) stops the stream after that many events until the test sets it: an
    answer provably still on its way.
    """

    text: str = "Hello from the wire server."
    served: str | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error_after: int | None = None
    error_type: str = "overloaded_error"
    cut_after: int | None = None
    delay: float = 0.0
    usage: tuple[int, int] = (12, 7)
    gap: float = 0.0
    hold: threading.Event | None = None
    hold_after: int = 0
    raw: dict[int, bytes] = field(default_factory=dict)

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


@dataclass
class Seen:
    """One request as it arrived."""

    protocol: str
    path: str
    headers: dict[str, str]
    body: Any


class WireServer:
    """A real server in a daemon thread on an OS-chosen port (bound before uvicorn starts)."""

    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.requests: list[Seen] = []
        self.models_page: str | None = None  # HTML served at /models instead of the list
        self.embedding_dim = 8  # how many numbers /openai/v1/embeddings answers per text
        self.embedding_faults: list[Script] = []  # HTTP errors /openai/v1/embeddings sends first
        self.app = Starlette(routes=_routes(self))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> WireServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "wire server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def base_url(self, protocol: str) -> str:
        return f"http://127.0.0.1:{self.port}{BASES[protocol]}"

    def queue(self, *scripts: Script) -> WireServer:
        self.scripts.extend(scripts)
        return self

    def next_script(self) -> Script:
        return self.scripts.pop(0) if self.scripts else Script()


def _routes(server: WireServer) -> list[Route]:
    async def openai_chat(request: Request) -> Response:
        return await _answer(server, request, "openai", _openai)

    async def anthropic_messages(request: Request) -> Response:
        return await _answer(server, request, "anthropic", _anthropic)

    async def gemini_generate(request: Request) -> Response:
        return await _answer(server, request, "gemini", _gemini)

    async def models(request: Request) -> Response:
        if server.models_page is not None:  # a proxy's or a login page, with status 200
            return Response(server.models_page, 200, media_type="text/html")
        protocol = request.url.path.split("/")[1]
        names = ["model-a", "model-b-20250101"]
        if protocol == "gemini":
            return JSONResponse({"models": [{"name": f"models/{n}"} for n in names]})
        return JSONResponse(
            {
                "data": [
                    {
                        "id": n,
                        "object": "model",
                        "type": "model",
                        "created": 0,
                        "owned_by": "wire",
                        "display_name": n,
                        "created_at": "2025-01-01T00:00:00Z",
                    }
                    for n in names
                ],
                "object": "list",
                "has_more": False,
                "first_id": names[0],
                "last_id": names[-1],
            }
        )

    async def openai_embeddings(request: Request) -> Response:
        body = await request.json()
        server.requests.append(Seen("openai", request.url.path, dict(request.headers), body))
        if server.embedding_faults:
            return _refused(server.embedding_faults.pop(0), request)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": _words(text, server.embedding_dim)}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    return [
        Route("/openai/v1/chat/completions", openai_chat, methods=["POST"]),
        Route("/openai/v1/embeddings", openai_embeddings, methods=["POST"]),
        Route("/openai/v1/models", models),
        Route("/anthropic/v1/messages", anthropic_messages, methods=["POST"]),
        Route("/anthropic/v1/models", models),
        Route("/gemini/v1beta/models/{call:path}", gemini_generate, methods=["POST"]),
        Route("/gemini/v1beta/models", models),
    ]


def _words(text: str, dim: int) -> list[float]:
    """A text's words counted into ``dim`` buckets by a stable hash: texts that share words
    are near, as an embedding model's are."""
    found = [0.0] * dim
    for word in text.lower().split():
        found[zlib.crc32(word.encode()) % dim] += 1.0
    return found


async def _answer(server: WireServer, request: Request, protocol: str, speak: Any) -> Response:
    body = await request.json()
    server.requests.append(Seen(protocol, request.url.path, dict(request.headers), body))
    script = server.next_script()
    if script.status is not None:
        return _refused(script, request)
    model = _model(protocol, request, body)
    served = script.served or model
    streaming = body.get("stream") is True or request.url.path.endswith(":streamGenerateContent")
    if not streaming:
        if script.delay:
            await asyncio.sleep(script.delay)
        return JSONResponse(speak.whole(script, served))
    return StreamingResponse(
        _delayed(script, speak.stream(script, served)), media_type="text/event-stream"
    )


def _refused(script: Script, request: Request) -> Response:
    """``script``'s HTTP error, its body's ``{key}`` replaced by the key the request carried."""
    key = _key(request)
    text = json.dumps(script.body).replace("{key}", key) if script.body is not None else "{}"
    return Response(text, script.status or 500, script.headers, media_type="application/json")


async def _delayed(script: Script, events: Iterator[bytes]) -> AsyncIterator[bytes]:
    if script.delay:
        await asyncio.sleep(script.delay)
    for number, event in enumerate(events):
        if number and script.gap:
            await asyncio.sleep(script.gap)
        while number == script.hold_after and script.hold and not script.hold.is_set():
            await asyncio.sleep(0.01)  # polled: a client that hangs up cancels the wait
        yield event


def _key(request: Request) -> str:
    for name in ("authorization", "x-api-key", "x-goog-api-key"):
        value = request.headers.get(name)
        if value:
            return value.removeprefix("Bearer ")
    return request.query_params.get("key", "")


def _model(protocol: str, request: Request, body: Any) -> str:
    if protocol == "gemini":
        return request.url.path.rsplit("/", 1)[1].split(":")[0]
    return str(body.get("model"))


def _sse(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{prefix}data: {payload}\n\n".encode()


class _openai:
    @staticmethod
    def chunk(served: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _sse(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": served,
                "choices": [choice],
            }
        )

    @staticmethod
    def stream(script: Script, served: str) -> Iterator[bytes]:
        yield _openai.chunk(served, {"role": "assistant", "content": ""})
        for number, piece in enumerate(script.pieces()):
            if number in script.raw:
                yield script.raw[number]
            if number == script.error_after:
                yield _sse(
                    {"error": {"message": "The server is overloaded", "type": script.error_type}}
                )
                return
            if number == script.cut_after:
                return
            yield _openai.chunk(served, {"content": piece})
        yield _openai.chunk(served, {}, "stop")
        usage = {
            "prompt_tokens": script.usage[0],
            "completion_tokens": script.usage[1],
            "total_tokens": sum(script.usage),
        }
        yield _sse(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": served,
                "choices": [],
                "usage": usage,
            }
        )
        yield _sse("[DONE]")

    @staticmethod
    def whole(script: Script, served: str) -> dict[str, Any]:
        return {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": served,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": script.text},
                }
            ],
            "usage": {
                "prompt_tokens": script.usage[0],
                "completion_tokens": script.usage[1],
                "total_tokens": sum(script.usage),
            },
        }


class _anthropic:
    @staticmethod
    def stream(script: Script, served: str) -> Iterator[bytes]:
        usage = {"input_tokens": script.usage[0], "output_tokens": 1}
        message = {
            "id": "m1",
            "type": "message",
            "role": "assistant",
            "model": served,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        yield _sse({"type": "message_start", "message": message}, "message_start")
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        yield _sse(block, "content_block_start")
        for number, piece in enumerate(script.pieces()):
            if number in script.raw:
                yield script.raw[number]
            if number == script.error_after:
                error = {
                    "type": "error",
                    "error": {"type": script.error_type, "message": "Overloaded"},
                }
                yield _sse(error, "error")
                return
            if number == script.cut_after:
                return
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            }
            yield _sse(delta, "content_block_delta")
        yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        yield _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": script.usage[1]},
            },
            "message_delta",
        )
        yield _sse({"type": "message_stop"}, "message_stop")

    @staticmethod
    def whole(script: Script, served: str) -> dict[str, Any]:
        return {
            "id": "m1",
            "type": "message",
            "role": "assistant",
            "model": served,
            "content": [{"type": "text", "text": script.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": script.usage[0], "output_tokens": script.usage[1]},
        }


class _gemini:
    @staticmethod
    def chunk(
        served: str, text: str | None, finish: str | None, usage: Any = None
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": text or ""}]},
            "index": 0,
        }
        if finish:
            candidate["finishReason"] = finish
        chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": served}
        if usage:
            chunk["usageMetadata"] = {
                "promptTokenCount": usage[0],
                "candidatesTokenCount": usage[1],
                "totalTokenCount": sum(usage),
            }
        return chunk

    @staticmethod
    def stream(script: Script, served: str) -> Iterator[bytes]:
        pieces = script.pieces()
        for number, piece in enumerate(pieces):
            if number in script.raw:
                yield script.raw[number]
            if number == script.error_after:
                yield _sse(
                    {
                        "error": {
                            "code": 503,
                            "message": "The model is overloaded.",
                            "status": "UNAVAILABLE",
                        }
                    }
                )
                return
            if number == script.cut_after:
                return
            last = number == len(pieces) - 1
            yield _sse(
                _gemini.chunk(
                    served, piece, "STOP" if last else None, script.usage if last else None
                )
            )

    @staticmethod
    def whole(script: Script, served: str) -> dict[str, Any]:
        return _gemini.chunk(served, script.text, "STOP", script.usage)
