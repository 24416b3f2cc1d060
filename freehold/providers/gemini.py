"""Kind ``gemini``: generateContent through the official ``google-genai`` SDK (API key, v1beta).

google-genai's own retries are off by default (no ``retry_options``) and stay off. Its
timeout is one number in milliseconds, used for every read, so ``timeout`` also bounds the
wait for the first byte. The finish marker is a candidate's ``finishReason``; a stream that
ends without one raises ``truncated``. An error object in the stream (``{"error": …}``)
becomes ``genai.errors.APIError``, whose ``status`` (``UNAVAILABLE``, ``RESOURCE_EXHAUSTED``)
names the fault. Text is read part by part, leaving thought parts out, rather than through
``chunk.text`` (which warns when a part is not text). The SDK speaks ``httpx`` (or ``httpx2``
when given one): transport errors of both are caught.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from freehold.errors import ProviderError
from freehold.providers.base import ChatRequest, Event, Finish, Image, Meta, Provider, Text

if TYPE_CHECKING:
    from google import genai
    from google.genai import errors, types

__all__ = ["KIND", "GeminiProvider"]

KIND = "gemini"
_OFFICIAL = "https://generativelanguage.googleapis.com/"


def _transport_errors() -> tuple[type[Exception], ...]:
    import httpx
    import httpx2

    return (httpx.HTTPError, httpx2.HTTPError)


class GeminiProvider(Provider):
    """Google's Gemini models through the Gemini API."""

    KIND: ClassVar[str] = KIND
    KEY_ENV: ClassVar[str | None] = "GEMINI_API_KEY"
    CONTEXT_WINDOW: ClassVar[int] = 1_000_000
    ANSWER_IMAGES: ClassVar[bool] = True  # a model turn's parts may hold inline_data

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        from google.genai import errors

        return self.guarded(request, (errors.APIError,), _transport_errors())

    def list_models(self) -> list[str]:
        from google.genai import errors

        def read() -> list[str]:
            client = self._client()
            return [(m.name or "").removeprefix("models/") for m in client.models.list()]

        return self.listed(read, (errors.APIError,), _transport_errors())

    def _client(self) -> genai.Client:
        return self.sdk(self._make_client)

    def _make_client(self) -> genai.Client:
        from google import genai
        from google.genai import types

        config = self.config
        options = types.HttpOptions(
            base_url=config.base_url or _OFFICIAL,
            api_version="v1beta",
            timeout=int(config.timeout * 1000),
            httpx_client=self.http_client,
        )
        return genai.Client(api_key=self.key(), http_options=options)

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        from google.genai import types

        contents = [
            types.Content(
                role="model" if turn.role == "assistant" else "user",
                parts=[_part(piece) for piece in turn.content],
            )
            for turn in request.turns
        ]
        settings = types.GenerateContentConfig(
            system_instruction=request.system or None, max_output_tokens=request.max_tokens
        )
        return {"model": request.model, "contents": contents, "config": settings}

    def _send(self, arguments: dict[str, Any], *, stream: bool) -> Any:
        """google-genai sends when it is read: its stream is a generator, and its whole
        answer comes from one call that sends and parses (given here, called by ``_whole``) —
        so for Gemini the request goes under the reader's rule."""
        models = self._client().models
        if stream:
            return models.generate_content_stream(**arguments)
        return functools.partial(models.generate_content, **arguments)

    def _streamed(
        self, reply: Iterator[types.GenerateContentResponse], request: ChatRequest
    ) -> Iterator[Event]:
        reason: str | None = None
        chunks = reply
        try:
            for chunk in chunks:
                found = yield from _events(chunk)
                reason = found or reason
        finally:  # a fault or a stop mid-stream closes the response too
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if reason is None:
            raise self.truncated(request.model)
        yield Finish(reason)

    def _whole(
        self, reply: Callable[[], types.GenerateContentResponse], request: ChatRequest
    ) -> Iterator[Event]:
        response = reply()
        reason = yield from _events(response)
        if reason is None:
            raise self.truncated(request.model)
        yield Finish(reason)

    def _fault(self, error: errors.APIError) -> ProviderError:
        headers = getattr(error.response, "headers", None)
        close = getattr(error.response, "close", None)
        if callable(close):
            close()  # a streamed request's error response keeps its socket
        return self.fault(
            error.message or str(error),
            status=error.code if isinstance(error.code, int) and error.code != 200 else None,
            error_type=error.status,
            headers=headers,
            body=error.details,
        )

    def _transport(self, error: Exception) -> ProviderError:
        import httpx
        import httpx2

        if isinstance(error, httpx.TimeoutException | httpx2.TimeoutException):
            return self.fault(f"no byte within {self.config.timeout:g} s", kind="timeout")
        if isinstance(error, httpx.ConnectError | httpx2.ConnectError):
            return self.fault(
                f"cannot connect ({type(error).__name__}: {error})", kind="connection"
            )
        return self.fault(
            f"the connection broke ({type(error).__name__}: {error})", kind="connection"
        )


def _events(chunk: types.GenerateContentResponse) -> Generator[Event, None, str | None]:
    """One chunk's events; returns its finish reason (None when it has none)."""
    usage = chunk.usage_metadata
    yield Meta(
        served_model=chunk.model_version,
        tokens_in=usage.prompt_token_count if usage else None,
        tokens_out=usage.candidates_token_count if usage else None,
    )
    candidate = chunk.candidates[0] if chunk.candidates else None
    if candidate is None:
        return None
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    for part in parts:
        if part.text and not part.thought:
            yield Text(part.text)
    reason = candidate.finish_reason
    if reason is None:
        return None
    return str(reason.value if hasattr(reason, "value") else reason)


def _part(piece: str | Image) -> types.Part:
    from google.genai import types

    if isinstance(piece, Image):
        return types.Part.from_bytes(data=piece.data, mime_type=piece.mime)
    return types.Part(text=piece)
