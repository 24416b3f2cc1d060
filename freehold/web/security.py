"""The web app's guard: one ASGI middleware every request passes before any endpoint.

In order, for every request (DESIGN §7):

1. **Host** must be a plain ``host[:port]`` naming this server (``127.0.0.1``, ``localhost``,
   ``[::1]``, the bound host, one given with ``--allow-host``, or the IP address the connection
   was made to): a DNS-rebinding page arrives with its own host name and stops here with 400.
   An address is never a rebinding (no name was looked up), so a server listening on
   ``0.0.0.0`` answers at each of the machine's addresses; a name must be allowed by hand.
2. **Token**: the random access token (Jupyter-style) from the ``freehold_token_<port>`` cookie,
   an ``Authorization: Bearer`` header, or ``?token=`` on a GET — which stores it in an
   HttpOnly, SameSite=Strict cookie and redirects to the same URL without it, so the token never
   stays in the address bar or the history (only a valid token is stored). Without it: 403.
   A ``?code=`` on a GET is a one-time code (``Codes``) that does the same once, within two
   minutes: ``serve --open`` hands the browser that instead of the token, because a browser's
   command line is visible to every user of the machine (``ps``). A token is at least 16
   characters that travel unescaped in a URL and a cookie (``check_token``).
   Static files are the only exception (they hold nothing of the archive; a page the app
   renders for them, a 404, shows no sidebar and no CSRF token). Nothing that reads a request
   body answers without the token: there is no CSP report endpoint (docs/decisions.md).
3. **State changes** (any method but GET/HEAD/OPTIONS) need an ``Origin`` equal to this server's
   own, when the browser sends one, and the CSRF token in an ``X-CSRF-Token`` header (htmx sends
   it on every request, from ``hx-headers`` on ``<body>``) or a ``csrf`` query parameter (plain
   forms). The CSRF token is an HMAC of the access token, so a page that cannot read ours cannot
   make one.
4. **Body size**: at most ``max_body`` bytes (uploads: ``max_upload``): a larger
   ``Content-Length`` is refused before the body is read, and the body is counted as it streams,
   so one sent without a length cannot get past it either: 413.

Every response gets the security headers: a strict Content-Security-Policy (no inline script,
no inline style, nothing from elsewhere), ``nosniff``, no referrer to other sites, no framing.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import cookie_parser

from freehold.errors import FreeholdError

__all__ = [
    "CSP",
    "MIN_TOKEN",
    "Codes",
    "Guard",
    "GuardConfig",
    "check_token",
    "csrf_token",
    "is_loopback",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Not "no-referrer": under it Chromium sends "Origin: null" with a plain form's POST, which
    # the origin check must refuse. "same-origin" still tells other sites nothing.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_TOO_LARGE = "The request body is larger than this server accepts."
_BAD_HOST = "Invalid Host header: this server answers only to its own addresses."
_ALLOW_HOST = (
    "Invalid Host header: this server answers only to its own addresses and the names it was "
    "given. To reach it as {name}, start `freehold serve` with --allow-host {name}."
)
_HOST = re.compile(r"(?:\[(?P<ip6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::[0-9]{1,5})?")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


MIN_TOKEN = 16
_TOKEN = re.compile(r"[A-Za-z0-9._~-]+")  # URL-unreserved: no escaping in a URL or a cookie


def check_token(token: str) -> str:
    """The token, if it is one the app accepts; else FreeholdError saying what would do."""
    if len(token) < MIN_TOKEN or not _TOKEN.fullmatch(token):
        problem = (
            f"is {len(token)} character{'s' if len(token) != 1 else ''}"
            if len(token) < MIN_TOKEN
            else "holds characters other than letters, digits and . _ ~ -"
        )
        raise FreeholdError(
            f"the access token {problem}; use at least {MIN_TOKEN} letters, digits or . _ ~ - "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))'), "
            "or set none for a new random one"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    if host.lower().strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class Codes:
    """One-time login codes: each stands for the token once, within ``ttl`` seconds."""

    def __init__(self, ttl: float = 120.0) -> None:
        self.ttl = ttl
        self.expiry: dict[str, float] = {}
        self.lock = threading.Lock()

    def issue(self) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.expiry[code] = time.monotonic() + self.ttl
        return code

    def redeem(self, code: str) -> bool:
        """True once for a code issued less than ``ttl`` seconds ago."""
        now, given = time.monotonic(), code.encode()
        with self.lock:
            for known in [c for c, expires in self.expiry.items() if expires <= now]:
                del self.expiry[known]  # expired codes go whenever one is tried
            found = next((c for c in self.expiry if hmac.compare_digest(c.encode(), given)), None)
            if found is None:
                return False
            del self.expiry[found]
            return True


def csrf_token(token: str) -> str:
    """The CSRF token that goes with an access token."""
    return hmac.new(token.encode(), b"freehold csrf", hashlib.sha256).hexdigest()


@dataclass
class GuardConfig:
    token: str
    port: int
    hosts: set[str] = field(default_factory=set)
    max_body: int = 1 << 20
    max_upload: int = 8 << 30
    upload_paths: tuple[str, ...] = ("/import",)

    def __post_init__(self) -> None:
        check_token(self.token)

    @property
    def cookie(self) -> str:
        return f"freehold_token_{self.port}"

    def allowed_hosts(self) -> set[str]:
        return _LOCAL_HOSTS | {host.lower().strip("[]") for host in self.hosts}


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware applying the checks in the module docstring."""

    def __init__(self, app: ASGIApp, config: GuardConfig) -> None:
        self.app = app
        self.config = config
        self.csrf = csrf_token(config.token)
        self.hosts = config.allowed_hosts()
        self.codes = Codes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = _host_name(headers.get("host", ""))
        if host not in self.hosts and not _connected_to(scope, host):  # before a code is spent
            await _plain(send, 400, _ALLOW_HOST.format(name=host) if host else _BAD_HOST)
            return
        code = self._in_query(scope, "code")
        redeemed = code is not None and self.codes.redeem(code)
        authorized = redeemed or self._has_token(scope, headers)
        refusal = self._refusal(scope, headers, authorized, code is not None)
        if refusal is not None:
            status, text = refusal
            await _plain(send, status, text)
            return
        if authorized and (code is not None or self._in_query(scope, "token") is not None):
            await self._store_token(scope, send)
            return
        # Static files answer without the token: what the app renders for them (a 404 page)
        # must then show nothing of the archive, nor the CSRF token.
        state = scope.setdefault("state", {})
        state["authorized"] = authorized
        state["csrf"] = self.csrf if authorized else ""
        await self._call(scope, receive, _secured(send), self._limit(scope))

    async def _call(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        started = overflow = False
        seen = 0

        async def counted() -> Message:
            nonlocal seen, overflow
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                overflow = True
                raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if overflow:  # the app's answer to a body it could not read: 413 replaces it
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except Exception:
            if not overflow:  # Starlette re-raises what reached its 500 handler
                raise
        if overflow and not started:
            await _plain(send, 413, self._too_large(scope))

    def _limit(self, scope: Scope) -> int:
        if scope["path"] in self.config.upload_paths:
            return self.config.max_upload
        return self.config.max_body

    def _too_large(self, scope: Scope) -> str:
        """The 413's line; for an upload, with the limit and the two ways past it."""
        if scope["path"] not in self.config.upload_paths:
            return _TOO_LARGE
        limit = self.config.max_upload
        size = f"{limit:,} bytes" if limit < 1 << 20 else f"{limit / (1 << 20):,.0f} MB"
        return (
            f"The upload is larger than this server accepts ({size}). Start it again with "
            "`freehold serve --max-upload <MB>` to accept more, or import the file in a "
            "terminal: `freehold import <file>`."
        )

    def _refusal(
        self, scope: Scope, headers: dict[str, str], authorized: bool, code: bool
    ) -> tuple[int, str] | None:
        guarded = not _is_open(scope["path"])
        if guarded and not authorized:
            spent = "This one-time address was used already or has expired. " if code else ""
            return 403, (
                f"{spent}This freehold server needs its access token: open the address "
                "that `freehold serve` printed (it ends with ?token=…)."
            )
        if guarded and scope["method"] not in _SAFE_METHODS:
            refusal = self._state_change_refusal(scope, headers)
            if refusal is not None:
                return refusal
        declared = headers.get("content-length", "")
        if declared.isdecimal() and int(declared) > self._limit(scope):
            return 413, self._too_large(scope)
        return None

    def _state_change_refusal(
        self, scope: Scope, headers: dict[str, str]
    ) -> tuple[int, str] | None:
        origin = headers.get("origin")
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        if origin is not None and origin.lower() != own.lower():
            return 403, "Cross-origin request refused."
        sent = headers.get("x-csrf-token") or _query(scope).get("csrf", "")
        if not hmac.compare_digest(sent.encode(), self.csrf.encode()):
            return 403, "Missing or wrong CSRF token: reload the page and try again."
        return None

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        token = self.config.token.encode()
        bearer = headers.get("authorization", "")
        candidates = [_cookies(headers).get(self.config.cookie, "")]
        if bearer.lower().startswith("bearer "):
            candidates.append(bearer[7:].strip())
        query_token = self._in_query(scope, "token")
        if query_token is not None:
            candidates.append(query_token)
        return any(hmac.compare_digest(c.encode(), token) for c in candidates if c)

    def _in_query(self, scope: Scope, name: str) -> str | None:
        """A GET's ``token`` or ``code`` parameter (no other method takes one)."""
        return _query(scope).get(name) if scope["method"] == "GET" else None

    async def _store_token(self, scope: Scope, send: Send) -> None:
        """Keep the token in a cookie; redirect to the same address without it (or the code)."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = b"/" + raw_path.lstrip(b"/\\")  # "//host", "/\\host": another site
        query = scope.get("query_string", b"")
        rest = b"&".join(
            part
            for part in query.split(b"&")
            if unquote_plus(part.split(b"=")[0].decode("latin-1")) not in ("token", "code")
        )
        location = path + (b"?" + rest if rest else b"")
        cookie = (
            f"{self.config.cookie}={self.config.token}; HttpOnly; SameSite=Strict; Path=/"
        ).encode()
        headers = [(b"location", location), (b"set-cookie", cookie)]
        await send({"type": "http.response.start", "status": 303, "headers": headers + _HEADERS})
        await send({"type": "http.response.body", "body": b""})


def _secured(send: Send) -> Send:
    async def with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name for name, _ in message.get("headers", [])}
            extra = [(name, value) for name, value in _HEADERS if name not in names]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return with_headers


async def _plain(send: Send, status: int, text: str) -> None:
    body = (
        '<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>freehold</title>'
        f"<p>{html.escape(text)}</p></html>"
    ).encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), *_HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    # Starlette's lenient parser, not SimpleCookie: cookies on localhost are shared by every
    # port, and SimpleCookie drops every cookie after one it cannot parse (a JSON value).
    return cookie_parser(headers.get("cookie", ""))


def _is_open(path: str) -> bool:
    """Paths that answer without the token: the app's own files."""
    return path.startswith("/static/")


def _connected_to(scope: Scope, host: str) -> bool:
    """Whether ``host`` is the IP address this connection was made to (uvicorn's ``server``;
    an IPv4 client of a dual-stack socket arrives at ``::ffff:a.b.c.d``)."""
    server = scope.get("server")
    try:
        named = ipaddress.ip_address(host)
        local = ipaddress.ip_address(server[0]) if server else None
    except ValueError:
        return False
    mapped = getattr(local, "ipv4_mapped", None)
    return local is not None and named in (local, mapped)


def _host_name(host: str) -> str:
    """The host part of a Host header, lower-case, without port or IPv6 brackets; "" if the
    header is not a plain ``host[:port]`` (``localhost:1@evil`` is not localhost)."""
    match = _HOST.fullmatch(host.strip().lower())
    if match is None:
        return ""
    return match["ip6"] or match["name"]
