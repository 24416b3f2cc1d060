"""Kind ``anthropic``: the Messages API through the official ``anthropic`` SDK.

The finish marker is the ``message_stop`` event; a stream that ends before it raises
``truncated`` (the SDK returns quietly). An ``event: error`` inside the stream (an
``overloaded_error`` after some text) reaches us as ``anthropic.APIStatusError`` with status
200: the body's ``error.type`` says what it was. ``base_url`` points the same protocol at any
server that speaks it (llama.cpp's llama-server does); without it the vendor's own endpoint is
named explicitly, so ``ANTHROPIC_BASE_URL`` in the environment never redirects a call.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from freehold.errors import ProviderError
from freehold.providers.base import (
    ChatRequest,
    Event,
    Finish,
    Image,
    Meta,
    Provider,
    Text,
    Turn,
    user_images_only,
)

if TYPE_CHECKING:
    import anthropic
    import httpx2
    from anthropic.types import Message, RawMessageStreamEvent

__all__ = ["KIND", "AnthropicProvider"]

KIND = "anthropic"
_OFFICIAL = "https://api.anthropic.com"


class AnthropicProvider(Provider):
    """Anthropic's Claude models, or a server speaking the Messages API."""

    KIND: ClassVar[str] = KIND
    KEY_ENV: ClassVar[str | None] = "ANTHROPIC_API_KEY"
    CONTEXT_WINDOW: ClassVar[int] = 200_000

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        import anthropic
        import httpx2

        return self.guarded(request, (anthropic.AnthropicError,), (httpx2.HTTPError,))

    def list_models(self) -> list[str]:
        import anthropic
        import httpx2

        def read() -> list[str]:
            return [model.id for model in self._client().models.list()]

        return self.listed(read, (anthropic.AnthropicError,), (httpx2.HTTPError,))

    def _client(self) -> anthropic.Anthropic:
        return self.sdk(self._make_client)

    def _make_client(self) -> anthropic.Anthropic:
        import anthropic

        config = self.config
        return anthropic.Anthropic(
            api_key=self.key(),
            base_url=config.base_url or _OFFICIAL,
            max_retries=0,
            timeout=anthropic.Timeout(config.timeout, connect=config.connect_timeout),
            http_client=self.http_client,
        )

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": t.role, "content": _content(t)} for t in request.turns],
        }
        if request.system:
            arguments["system"] = request.system
        return arguments

    def _send(self, arguments: dict[str, Any], *, stream: bool) -> Any:
        messages = self._client().messages
        if stream:
            return messages.create(**arguments, stream=True)
        return messages.with_raw_response.create(**arguments)  # parsed when read

    def _streamed(
        self, reply: anthropic.Stream[RawMessageStreamEvent], request: ChatRequest
    ) -> Iterator[Event]:
        reason: str | None = None
        stopped = False
        with reply:
            for event in reply:
                if event.type == "message_start":
                    usage = event.message.usage
                    yield Meta(served_model=event.message.model, tokens_in=usage.input_tokens)
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    yield Text(event.delta.text)
                elif event.type == "message_delta":
                    reason = event.delta.stop_reason or reason
                    yield Meta(tokens_out=event.usage.output_tokens)
                elif event.type == "message_stop":
                    stopped = True
        if not stopped:
            raise self.truncated(request.model)
        yield Finish(reason or "end_turn")

    def _whole(self, reply: Any, request: ChatRequest) -> Iterator[Event]:
        message: Message = reply.parse()
        yield Meta(
            served_model=message.model,
            tokens_in=message.usage.input_tokens,
            tokens_out=message.usage.output_tokens,
        )
        if message.stop_reason is None:
            raise self.truncated(request.model)
        for block in message.content:
            if block.type == "text" and block.text:
                yield Text(block.text)
        yield Finish(message.stop_reason)

    def _fault(self, error: anthropic.AnthropicError) -> ProviderError:
        import anthropic

        if isinstance(error, anthropic.APITimeoutError):
            return self.fault(f"no answer within {self.config.timeout:g} s", kind="timeout")
        if isinstance(error, anthropic.APIConnectionError):
            cause = error.__cause__ or error
            return self.fault(
                f"connection failed ({type(cause).__name__}: {cause})", kind="connection"
            )
        if isinstance(error, anthropic.APIStatusError):
            error.response.close()  # a streamed request's error response keeps its socket
            # A mid-stream error event has status 200: only its body's type tells.
            status = error.status_code if error.status_code != 200 else None
            return self.fault(
                error.api_message or error.message,
                status=status,
                error_type=error.type,
                headers=error.response.headers,
                body=error.body,
            )
        return self.fault(f"{type(error).__name__}: {error}")

    def _transport(self, error: httpx2.HTTPError) -> ProviderError:
        import httpx2

        if isinstance(error, httpx2.TimeoutException):
            return self.fault(f"no byte within {self.config.timeout:g} s", kind="timeout")
        return self.fault(
            f"the connection broke ({type(error).__name__}: {error})", kind="connection"
        )


def _content(turn: Turn) -> str | list[dict[str, Any]]:
    """Text, or blocks with images in base64. Images go in user turns only (the Messages
    API's vision rule; ``carry.py`` moves an answer's images there): one in an assistant
    turn is named instead."""
    pieces = user_images_only(turn)
    if all(isinstance(piece, str) for piece in pieces):
        return "\n\n".join(piece for piece in pieces if isinstance(piece, str))
    blocks: list[dict[str, Any]] = []
    for piece in pieces:
        if isinstance(piece, Image):
            data = base64.b64encode(piece.data).decode()
            source = {"type": "base64", "media_type": piece.mime, "data": data}
            blocks.append({"type": "image", "source": source})
        else:
            blocks.append({"type": "text", "text": piece})
    return blocks
