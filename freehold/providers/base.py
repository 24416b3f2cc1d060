"""What every provider family shares: the request, the events it streams, its faults.

A provider module holds one ``Provider`` subclass: metadata as class attributes (``KIND``,
the key's usual variable, the defaults for context size and images) and one method to
implement, ``stream(request)``, which calls the vendor's official SDK — streaming or not, as
``request.stream`` says — and yields ``Text`` pieces, ``Meta`` (the model that answered,
token counts) whenever the wire says, and one ``Finish`` at the end. ``list_models`` says what
the endpoint serves. SDK retries are off (``max_retries=0``): the router (``router.py``) is the
only retry layer. The HTTP client is injectable (``http_client``), handed to the SDK as is.

Faults are the provider's to notice and name, because the SDKs do not (FIELD-NOTES.md):
a stream that ends without its finish marker raises nothing there, so ``stream`` raises
``ProviderError(kind="truncated")`` itself; an error event in the middle of a stream arrives
with HTTP status 200. So every failure becomes a ``ProviderError`` whose ``kind`` comes from
``classify``: the error's code or type in the body first (both, where the body has both), the
HTTP status after, then what the exception is (timeout, connection). ``kind`` decides what the
router does:

==============  =========  ================================================================
kind            retryable  cause
==============  =========  ================================================================
rate_limit      yes        429, ``rate_limit_error``, ``RESOURCE_EXHAUSTED``
overloaded      yes        529, 503, ``overloaded_error``, ``UNAVAILABLE``
server          yes        500, 502, ``api_error``, ``server_error``, ``INTERNAL``
timeout         yes        no byte within ``timeout`` (first byte included), 408, 504
connection      yes        refused, reset, DNS
truncated       yes        the stream ended without its finish marker
malformed       yes        the reply could not be read (not JSON, wrong types): any other
                           exception while the answer is read
auth            no         401, 403, no key
not_found       no         404, an unknown model
context         no         the prompt is longer than the model reads
bad_request     no         400, 422: the request itself is wrong
error           no         anything else
==============  =========  ================================================================

Every message passes through ``redact``: the provider's own key, in every form an error can
quote it (as is, Python's repr of the text or of its bytes, JSON, a URL), and anything shaped
like a key are replaced, so a server that echoes the key back (some do, in 401 bodies) or an
HTTP library that quotes a header it refuses cannot put it in the archive, the terminal or a
log. ``keys.api_key`` refuses such a key before it is sent; this is the second wall.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import quote

from freehold.config import ProviderConfig
from freehold.errors import ProviderError

__all__ = [
    "ERROR_KINDS",
    "RETRYABLE",
    "ChatRequest",
    "Event",
    "Finish",
    "Image",
    "Meta",
    "Provider",
    "Text",
    "Turn",
    "classify",
    "connect",
    "redact",
    "retry_after",
    "user_images_only",
]

_Client = TypeVar("_Client")
RETRYABLE = frozenset(
    {"rate_limit", "overloaded", "server", "timeout", "connection", "truncated", "malformed"}
)
ERROR_KINDS = RETRYABLE | {"auth", "not_found", "context", "bad_request", "error"}


@dataclass(frozen=True, slots=True)
class Image:
    """An image sent to a model that takes images."""

    data: bytes
    mime: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One message sent: ``role`` is ``user`` or ``assistant``; content pieces in order."""

    role: str
    content: tuple[str | Image, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(piece for piece in self.content if isinstance(piece, str))


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What one provider call sends. ``system`` goes where the wire protocol puts it."""

    model: str
    turns: tuple[Turn, ...]
    system: str | None = None
    max_tokens: int = 4096
    stream: bool = True


@dataclass(frozen=True, slots=True)
class Text:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class Meta:
    """What the wire said about the answer; a later value replaces an earlier one."""

    served_model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """The finish marker: the answer is whole. ``reason`` as the provider names it."""

    reason: str


Event = Text | Meta | Finish

# What a key looks like in the wild: sk-…, sk-ant-…, AIza…, long bearer tokens.
_KEYLIKE = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,})|(?i:bearer\s+)\S{12,}")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` without any of ``secrets`` (in any form ``_quoted`` knows) nor anything
    shaped like an API key."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in sorted(_quoted(secret), key=len, reverse=True):
                text = text.replace(form, "[key]")
    return _KEYLIKE.sub("[key]", text)


def _quoted(secret: str) -> set[str]:
    """Every way an error message quotes ``secret``: as is, as Python's repr of the text and
    of its UTF-8 bytes (h11's ``Illegal header value b'…'``), JSON-escaped, percent-encoded."""
    return {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
    }


# Error types and codes as vendors write them in bodies, lower-cased, by kind. A specific one
# decides; a generic one (``api_error``, ``invalid_request_error``) only when the status does
# not say more (a 529 whose body says ``server_error`` is an overload).
_TYPES = {
    "rate_limit": {"rate_limit_error", "rate_limit_exceeded", "resource_exhausted"},
    "overloaded": {"overloaded_error", "overloaded", "unavailable", "service_unavailable"},
    "timeout": {"timeout", "timeout_error", "deadline_exceeded"},
    "auth": {
        "authentication_error",
        "invalid_api_key",
        "permission_error",
        "permission_denied",
        "unauthenticated",
        "insufficient_quota",
    },
    "not_found": {"not_found_error", "model_not_found", "not_found"},
    "context": {
        "context_length_exceeded",
        "request_too_large",
        "string_above_max_length",
        "exceed_context_size_error",  # llama-server
    },
}
_GENERIC = {
    "server": {"api_error", "server_error", "internal", "internal_error", "internal_server_error"},
    "bad_request": {"invalid_request_error", "invalid_argument", "failed_precondition"},
}
_STATUS = {
    429: "rate_limit",
    529: "overloaded",
    503: "overloaded",
    500: "server",
    502: "server",
    408: "timeout",
    504: "timeout",
    401: "auth",
    403: "auth",
    404: "not_found",
    413: "context",
    400: "bad_request",
    422: "bad_request",
}
_CONTEXT_WORDS = re.compile(
    r"context (length|window|size)|too many tokens|prompt is too long", re.I
)


def classify(
    status: int | None, error_type: str | None, message: str = "", *, error_code: Any = None
) -> str:
    """The fault's kind: by the body's error code or type when either is specific (a body may
    carry both, a generic type beside a specific code: OpenAI's ``invalid_request_error`` with
    ``context_length_exceeded``), then by the HTTP status (a mid-stream error event arrives
    with status 200), then by a generic one, then by the words of the message. A code that is
    not text (a number) names nothing."""
    wanted = [n.lower() for n in (error_code, error_type) if isinstance(n, str) and n]
    kind = _named(wanted, _TYPES)
    if kind is None and status is not None:
        kind = _STATUS.get(status, "server" if status >= 500 else None)
    if kind is None:
        kind = _named(wanted, _GENERIC) or "error"
    if kind in ("bad_request", "error") and _CONTEXT_WORDS.search(message):
        return "context"
    return kind


def _named(wanted: list[str], table: dict[str, set[str]]) -> str | None:
    """The kind the first of ``wanted`` that ``table`` knows names, or None."""
    return next((k for name in wanted for k, names in table.items() if name in names), None)


def retry_after(headers: Any, body: Any = None) -> float | None:
    """Seconds the provider asked to wait: ``retry-after-ms``, ``Retry-After`` (seconds or an
    HTTP date), or Gemini's ``RetryInfo.retryDelay`` ("12s") in the body."""
    if headers is not None:
        millis = _header(headers, "retry-after-ms")
        if millis is not None:
            try:
                return max(0.0, float(millis) / 1000)
            except ValueError:
                pass
        value = _header(headers, "retry-after")
        if value is not None:
            return _seconds(value)
    return _retry_delay(body)


def _header(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return value if isinstance(value, str) else None


def _seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import time

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _retry_delay(body: Any) -> float | None:
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return _seconds(delay[:-1])
    return None


class Provider:
    """One configured provider. Subclasses set the class attributes and write ``stream``."""

    KIND: ClassVar[str]
    KEY_ENV: ClassVar[str | None] = None  # the vendor's usual key variable (official endpoint)
    CONTEXT_WINDOW: ClassVar[int] = 128_000  # tokens, when the config does not say
    LOCAL_CONTEXT_WINDOW: ClassVar[int] = 8_192  # the same, for a base_url server
    IMAGES: ClassVar[bool] = True  # whether its models take images, when the config does not say
    # whether its API takes an image inside the model's own turn (an image a tool or the model
    # made); where not, ``carry.py`` moves it to the next user turn (docs/decisions.md)
    ANSWER_IMAGES: ClassVar[bool] = False
    ALTERNATING: ClassVar[bool] = True  # turns must alternate and start with the user
    NEEDS_KEY: ClassVar[bool] = True  # the vendor's own endpoint refuses a call without a key

    def __init__(
        self, config: ProviderConfig, api_key: str | None = None, *, http_client: Any = None
    ) -> None:
        self.config = config
        self.name = config.name
        self._key = api_key
        self.http_client = http_client
        self._sdk: Any = None  # the SDK's client, made on first use and kept (its connections)
        self._making = threading.Lock()  # threads share a provider (rehearsal's concurrency)

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the SDK client and its connections (an injected HTTP client is the caller's)."""
        sdk, self._sdk = self._sdk, None
        if sdk is not None and self.http_client is None:
            sdk.close()

    @property
    def context_window(self) -> int:
        if self.config.context_window is not None:
            return self.config.context_window
        return self.CONTEXT_WINDOW if self.config.base_url is None else self.LOCAL_CONTEXT_WINDOW

    @property
    def takes_images(self) -> bool:
        if self.config.images is not None:
            return self.config.images
        return self.IMAGES and self.config.base_url is None

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Send ``request``; yield ``Text``/``Meta`` events and one ``Finish``, or raise a
        ``ProviderError``."""
        raise NotImplementedError

    def list_models(self) -> list[str]:
        """The model ids the endpoint serves now."""
        raise NotImplementedError

    # -- for subclasses ---------------------------------------------------------------

    def guarded(
        self,
        request: ChatRequest,
        sdk_errors: tuple[type[BaseException], ...],
        transport_errors: tuple[type[BaseException], ...],
    ) -> Iterator[Event]:
        """The reply to ``request``, in three steps with a rule each. What freehold builds —
        the SDK client (the key), the arguments (``_arguments``) — is built before any
        handler: a bug there is freehold's own and stays a traceback, never a fault of a reply
        nobody sent. ``_send`` sends the request: there every SDK error is ``_fault``'s and
        every transport error ``_transport``'s ``ProviderError``, nothing else. ``_streamed``
        or ``_whole`` (as ``request.stream`` asks) reads the reply: SDK and transport errors
        alike, and any other exception (a line that is not JSON, a field of the wrong type,
        which the SDKs pass on as they find them) is the provider's fault too, of kind
        ``malformed``: the router retries or fails over before the first piece of text and
        keeps what came after it. Each event is checked on its way out (``_checked``), so a
        wrong type is noticed here, not later where it is printed. Faults are raised outside
        the handlers, so nothing keeps a reference to the SDK's error or its socket."""
        self._client()
        arguments = self._arguments(request)
        fault: ProviderError | None = None
        try:
            reply = self._send(arguments, stream=request.stream)
        except (*sdk_errors, *transport_errors) as error:
            fault = self._known(error, sdk_errors)
        if fault is not None:
            raise fault
        events = self._streamed(reply, request) if request.stream else self._whole(reply, request)
        try:
            for event in events:
                yield _checked(event)
        except ProviderError:
            raise
        except (*sdk_errors, *transport_errors) as error:
            fault = self._known(error, sdk_errors)
        except Exception as error:
            fault = self.malformed(error)
        finally:  # a stop, or a bad event, closes the SDK's stream (its response) at once
            close = getattr(events, "close", None)
            if close is not None:
                close()
        if fault is not None:
            raise fault

    def listed(
        self,
        read: Callable[[], list[Any]],
        sdk_errors: tuple[type[BaseException], ...],
        transport_errors: tuple[type[BaseException], ...],
    ) -> list[str]:
        """``read()``'s model ids, with ``guarded``'s rule for faults. A reply that is not a
        model list (a proxy's or a login page's HTML, a ``base_url`` without its ``/v1``),
        which the SDKs meet with an ``AttributeError`` or a ``TypeError`` of their own, is
        one line naming the server: ``check base_url`` where it has one; the vendor's own
        endpoint (no ``base_url``) is asked to check the provider's kind and key."""
        fault: ProviderError | None = None
        try:
            names = read()
            if all(isinstance(name, str) for name in names):
                return names
            raise TypeError("a model id that is not text")
        except ProviderError:
            raise
        except (*sdk_errors, *transport_errors) as error:
            fault = self._known(error, sdk_errors)
        except Exception:
            fault = self.fault(self._not_a_list(), kind="bad_request")
        raise fault

    def _known(
        self, error: BaseException, sdk_errors: tuple[type[BaseException], ...]
    ) -> ProviderError:
        """An error the SDK or the transport names: the one rule ``guarded`` and ``listed``
        share (an SDK error is ``_fault``'s, any other ``_transport``'s)."""
        return self._fault(error) if isinstance(error, sdk_errors) else self._transport(error)

    def _not_a_list(self) -> str:
        if self.config.base_url:
            return f"the reply from {self.config.base_url} is not a model list — check base_url"
        return (
            f"the reply from the vendor's endpoint ({self.KIND}) is not a model list — check the "
            f"provider's kind and key (`freehold providers add {self.name} --kind …`)"
        )

    def malformed(self, error: Exception) -> ProviderError:
        """The fault for a reply that could not be read."""
        return self.fault(
            f"the reply could not be read ({type(error).__name__}: {error})", kind="malformed"
        )

    def _client(self) -> Any:
        """The SDK's client (``sdk``), made before the request is sent."""
        raise NotImplementedError

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        """The SDK call's arguments for ``request``: freehold's own code, run before sending."""
        raise NotImplementedError

    def _send(self, arguments: dict[str, Any], *, stream: bool) -> Any:
        """Send the request; the SDK's stream, or its not yet parsed response."""
        raise NotImplementedError

    def _streamed(self, reply: Any, request: ChatRequest) -> Iterator[Event]:
        raise NotImplementedError

    def _whole(self, reply: Any, request: ChatRequest) -> Iterator[Event]:
        raise NotImplementedError

    def _fault(self, error: Any) -> ProviderError:
        raise NotImplementedError

    def _transport(self, error: Any) -> ProviderError:
        raise NotImplementedError

    def key(self) -> str:
        """The key to send; a placeholder for a keyless local server (the SDKs want one)."""
        if self._key:
            return self._key
        if self.NEEDS_KEY and self.config.base_url is None:
            where = f"${self.config.api_key_env or self.KEY_ENV}"
            raise ProviderError(
                f"{self.name}: no API key — set {where} or run "
                f"`freehold providers add {self.name} --kind {self.KIND} --key`",
                kind="auth",
            )
        return "no-key"

    def sdk(self, make: Callable[[], _Client]) -> _Client:
        """The SDK client, made by ``make`` on first use, then kept: made once however many
        threads ask at once (two made together left one unclosed, with its sockets)."""
        if self._sdk is None:
            with self._making:
                if self._sdk is None:
                    self._sdk = make()
        return cast(_Client, self._sdk)

    def fault(
        self,
        what: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        error_code: Any = None,
        headers: Any = None,
        body: Any = None,
        kind: str | None = None,
    ) -> ProviderError:
        """A ``ProviderError`` for this provider: classified (``classify``), redacted, one
        line."""
        kind = kind or classify(status, error_type, what, error_code=error_code)
        line = " ".join(redact(what, self._key).split())[:500]
        prefix = f"{status} " if status else ""
        return ProviderError(
            f"{self.name}: {prefix}{kind.replace('_', ' ')}: {line}",
            kind=kind,
            retryable=kind in RETRYABLE,
            status=status,
            retry_after=retry_after(headers, body),
        )

    def truncated(self, model: str) -> ProviderError:
        return self.fault(
            f"the stream from {model} ended without its finish marker", kind="truncated"
        )


def user_images_only(turn: Turn) -> tuple[str | Image, ...]:
    """``turn``'s pieces, an image outside a user turn named instead (for an API whose
    model turns take no images; ``carry.py`` has already moved them, this guards any other
    caller)."""
    if turn.role == "user":
        return turn.content
    return tuple(
        "[Image not sent: this API takes images in user turns only]"
        if isinstance(piece, Image)
        else piece
        for piece in turn.content
    )


def _checked(event: Event) -> Event:
    """``event`` when its fields have the types they promise; else ``TypeError``."""
    if isinstance(event, Text) and not isinstance(event.text, str):
        raise TypeError(f"a piece of text is {type(event.text).__name__}, not text")
    if isinstance(event, Meta):
        for name in ("tokens_in", "tokens_out"):
            value = getattr(event, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise TypeError(f"{name} is {value!r}, not a whole number")
        if event.served_model is not None and not isinstance(event.served_model, str):
            raise TypeError(f"the model is {event.served_model!r}, not text")
    if isinstance(event, Finish) and not isinstance(event.reason, str):
        raise TypeError(f"the finish reason is {event.reason!r}, not text")
    return event


def connect(config: ProviderConfig, *, http_client: Any = None) -> Provider:
    """The provider ``config`` describes, with its key (``keys.api_key``) and the HTTP client
    to use (None: the SDK's own)."""
    from freehold import keys, plugins

    cls = plugins.providers()[config.kind]
    provider: Provider = cls(config, keys.api_key(config, cls.KEY_ENV), http_client=http_client)
    return provider
