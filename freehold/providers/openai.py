"""Kind ``openai``: chat completions through the official ``openai`` SDK.

Chat completions is the protocol every OpenAI-compatible server implements (OpenAI, Mistral,
OpenRouter, Ollama, llama.cpp's llama-server, vLLM, LM Studio), so one of those is a
``base_url`` in config.toml, never code. Without ``base_url`` the call goes to OpenAI itself
(given explicitly, so an ``OPENAI_BASE_URL`` in the environment never redirects it), asking for
``max_completion_tokens`` (its newer models refuse ``max_tokens``); a compatible server gets
``max_tokens``, which they all read. Streams ask for usage (``stream_options``). The finish
marker is a choice's ``finish_reason``: a stream that ends without one raises ``truncated``.
A ``data: {"error": …}`` event mid-stream reaches us as ``openai.APIError`` without a status:
its body's type or code says what it was.
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
    import httpx2
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

__all__ = ["KIND", "OpenAIProvider"]

KIND = "openai"
_OFFICIAL = "https://api.openai.com/v1"


class OpenAIProvider(Provider):
    """OpenAI, or any server speaking OpenAI's chat completions."""

    KIND: ClassVar[str] = KIND
    KEY_ENV: ClassVar[str | None] = "OPENAI_API_KEY"
    CONTEXT_WINDOW: ClassVar[int] = 128_000
    ALTERNATING: ClassVar[bool] = False

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        import httpx2
        import openai

        # httpx2's errors: the body's bytes stopped coming mid-stream
        return self.guarded(request, (openai.OpenAIError,), (httpx2.HTTPError,))

    def list_models(self) -> list[str]:
        import httpx2
        import openai

        def read() -> list[str]:
            return [model.id for model in self._client().models.list()]

        return self.listed(read, (openai.OpenAIError,), (httpx2.HTTPError,))

    def embeddings(self, model: str, texts: list[str]) -> list[list[float]]:
        """The ``/embeddings`` endpoint's vector for each of ``texts`` (not empty: servers
        refuse an empty input). Its faults are ``ProviderError``s by the rule every call here
        shares (``_known``: classified, redacted — a 401 that echoes the key included — one
        line). The SDK retries twice: no router stands between an embedder and its endpoint."""
        import httpx2
        import openai

        client = self._client().with_options(max_retries=2)
        fault: ProviderError | None = None
        try:
            reply = client.embeddings.create(model=model, input=texts)
        except (openai.OpenAIError, httpx2.HTTPError) as error:
            fault = self._known(error, (openai.OpenAIError,))
        if fault is not None:
            raise fault
        return [item.embedding for item in reply.data]

    def _client(self) -> openai.OpenAI:
        return self.sdk(self._make_client)

    def _make_client(self) -> openai.OpenAI:
        import openai

        config = self.config
        return openai.OpenAI(
            api_key=self.key(),
            base_url=config.base_url or _OFFICIAL,
            max_retries=0,
            timeout=openai.Timeout(config.timeout, connect=config.connect_timeout),
            http_client=self.http_client,
        )

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend({"role": t.role, "content": _content(t)} for t in request.turns)
        limit = "max_tokens" if self.config.base_url else "max_completion_tokens"
        return {"model": request.model, "messages": messages, limit: request.max_tokens}

    def _send(self, arguments: dict[str, Any], *, stream: bool) -> Any:
        completions = self._client().chat.completions
        if stream:
            return completions.create(
                **arguments, stream=True, stream_options={"include_usage": True}
            )
        return completions.with_raw_response.create(**arguments)  # parsed when read

    def _streamed(
        self, reply: openai.Stream[ChatCompletionChunk], request: ChatRequest
    ) -> Iterator[Event]:
        finish: str | None = None
        served: str | None = None
        with reply:
            for chunk in reply:
                if chunk.model and chunk.model != served:
                    served = chunk.model
                    yield Meta(served_model=served)
                if chunk.usage is not None:
                    yield Meta(
                        tokens_in=chunk.usage.prompt_tokens,
                        tokens_out=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices:
                    if choice.index == 0 and choice.delta.content:
                        yield Text(choice.delta.content)
                    if choice.index == 0 and choice.finish_reason:
                        finish = choice.finish_reason
        if finish is None:
            raise self.truncated(request.model)
        yield Finish(finish)

    def _whole(self, reply: Any, request: ChatRequest) -> Iterator[Event]:
        response: ChatCompletion = reply.parse()
        usage = response.usage
        yield Meta(
            served_model=response.model or None,
            tokens_in=usage.prompt_tokens if usage else None,
            tokens_out=usage.completion_tokens if usage else None,
        )
        choice = response.choices[0] if response.choices else None
        if choice is None or not choice.finish_reason:
            raise self.truncated(request.model)
        if choice.message.content:
            yield Text(choice.message.content)
        yield Finish(choice.finish_reason)

    def _fault(self, error: openai.OpenAIError) -> ProviderError:
        import openai

        if isinstance(error, openai.APITimeoutError):
            return self.fault(f"no answer within {self.config.timeout:g} s", kind="timeout")
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error
            return self.fault(
                f"connection failed ({type(cause).__name__}: {cause})", kind="connection"
            )
        if isinstance(error, openai.APIStatusError):
            error.response.close()  # a streamed request's error response keeps its socket
            return self.fault(
                error.message,
                status=error.status_code,
                error_type=error.type,
                error_code=error.code,
                headers=error.response.headers,
                body=error.body,
            )
        if isinstance(error, openai.APIError):  # an error event inside the stream
            return self.fault(
                error.message, error_type=error.type, error_code=error.code, body=error.body
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
    """Plain text when the turn is text only (what every compatible server reads), else
    OpenAI's content parts with images as data URLs. An assistant message takes text parts
    only (``ChatCompletionAssistantMessageParam``): an image there, which ``carry.py`` never
    sends, is named instead of a 400."""
    pieces = user_images_only(turn)
    if all(isinstance(piece, str) for piece in pieces):
        return "\n\n".join(piece for piece in pieces if isinstance(piece, str))
    parts: list[dict[str, Any]] = []
    for piece in pieces:
        if isinstance(piece, Image):
            url = f"data:{piece.mime};base64,{base64.b64encode(piece.data).decode()}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            parts.append({"type": "text", "text": piece})
    return parts
