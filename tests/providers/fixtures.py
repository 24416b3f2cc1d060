"""Fixtures for provider tests (loaded by tests/conftest.py): the wire server (ours) and
llmock's server, both real, and providers pointed at them, closed after each test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from freehold.config import ProviderConfig
from freehold.providers.base import Provider, connect
from tests.providers.servers import WireServer

KINDS = ("openai", "anthropic", "gemini")


@pytest.fixture(scope="session")
def wire_server() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


@pytest.fixture
def wire(wire_server: WireServer) -> WireServer:
    """The wire server with an empty script queue and request log."""
    wire_server.scripts.clear()
    wire_server.requests.clear()
    wire_server.models_page = None
    wire_server.embedding_dim = 8
    return wire_server


_OPEN: list[Provider] = []


_SERVERS = {"wire_server", "llmock"}  # fixtures of servers that SDK clients talk to


@pytest.fixture(autouse=True)
def _close_providers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every provider a test made is closed after it (its SDK client's sockets), and what it
    left in reference cycles is collected, so that a socket left open warns in the test that
    left it, not in a later one.

    A full collection walks every object the session holds: ~0.17 s once the SDKs are loaded,
    which after each of ~1,900 tests was most of the suite's time. The young generations hold
    what a test made unless it allocated a great deal, so they are collected after every test,
    and everything only after a test that made providers through ``provider_for`` or talked to
    a provider server. A leak in an old generation is still found, by a later collection, and
    still fails the run (warnings are errors)."""
    yield
    full = bool(_OPEN) or not _SERVERS.isdisjoint(request.fixturenames)
    while _OPEN:
        _OPEN.pop().close()
    gc.collect(2 if full else 1)


def provider_for(
    kind: str, base_url: str, *, name: str = "p", timeout: float = 5.0, **settings: object
) -> Provider:
    """A provider of ``kind`` pointed at a loopback server (no key needed there)."""
    config = ProviderConfig(name, kind, base_url=base_url, timeout=timeout, **settings)  # type: ignore[arg-type]
    _OPEN.append(connect(config))
    return _OPEN[-1]
