"""How the web app is served: uvicorn's h11 protocol, plus the two timeouts uvicorn lacks.

uvicorn closes a connection that is idle *between* requests (``timeout_keep_alive``), but not
one that is slow to *send* a request (uvicorn issue #157): a client that connects and sends
nothing, sends its headers a byte at a time, or stops in the middle of a body keeps its
connection open forever — and in the middle of an upload, the single import slot with it.
``Protocol`` adds one timer per connection, checked against the request's state in h11:

- **header timeout**: from the moment the server is ready for a request (the connection is
  made, or the previous response is complete) to the end of that request's headers; a trickle
  of bytes does not extend it;
- **idle timeout**: while a request body is being received, the longest time without a byte
  from the client. Time when the server itself is not reading (uvicorn pauses reading while
  the app has not taken the last chunk, e.g. during a disk write, or before it asks for a
  ``100 Continue`` body) does not count: that silence is ours, not the client's.

Either closes the connection. An endpoint reading the body then sees the client gone
(Starlette's ``ClientDisconnect``): an upload is abandoned, its job and file removed, exactly as
when the browser hangs up. Once a request is whole, nothing is timed: a response may take as
long as it takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "IDLE_TIMEOUT", "Config", "Protocol"]

HEADER_TIMEOUT = 10.0  # seconds to send a request's headers (a browser needs milliseconds)
IDLE_TIMEOUT = 60.0  # seconds without a byte in the middle of a request body


class Config(uvicorn.Config):
    """``uvicorn.Config`` for freehold: ``Protocol``, no websockets, the two timeouts."""

    def __init__(
        self,
        app: Any,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        **options: Any,
    ) -> None:
        super().__init__(app, http=Protocol, ws="none", **options)
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout


class Protocol(H11Protocol):
    """uvicorn's h11 protocol with the header and idle timeouts of the module docstring."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout: float = getattr(config, "header_timeout", HEADER_TIMEOUT)
        self.idle_timeout: float = getattr(config, "idle_timeout", IDLE_TIMEOUT)
        self.ready = self.heard = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.ready = self.heard = self.loop.time()
        self._watch()

    def data_received(self, data: bytes) -> None:
        self.heard = self.loop.time()
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        self.ready = self.loop.time()
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        super().connection_lost(exc)

    def _deadline(self) -> float | None:
        """When the client must have sent more, or None while nothing is owed."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return self.ready + self.header_timeout
        if state is h11.SEND_BODY:
            if self.flow.read_paused or (self.cycle and self.cycle.waiting_for_100_continue):
                self.heard = self.loop.time()  # we are not reading: the client is not late
            return self.heard + self.idle_timeout
        return None

    def _watch(self) -> None:
        """One timer at most, never later than the current deadline (a later deadline is
        found when it fires, so a byte received costs no new timer)."""
        deadline = self._deadline()
        if deadline is None or self.transport.is_closing():
            return
        if self.timer is not None:
            if self.timer.when() <= deadline:
                return
            self.timer.cancel()
        self.timer = self.loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        deadline = self._deadline()
        if deadline is not None and deadline <= self.loop.time():
            self.transport.close()
        else:
            self._watch()
