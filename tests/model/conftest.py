"""The model tier's fixture: one llama-server with SmolLM2-135M for the whole session.

Every test module here is marked ``model`` (its ``pytestmark``): a slow tier that `.ci/run`
runs, after ``scripts/install-local-model`` in the README's test command built the server.
Where llama-server or the model is not installed the tier skips, saying how to install them;
with ``FREEHOLD_REQUIRE_MODEL=1`` (as `.ci/run` sets it) it fails instead, so CI never passes
without the real model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.model.server import LlamaServer, missing


@pytest.fixture(scope="session")
def llama() -> Iterator[LlamaServer]:
    """A real llama-server on 127.0.0.1, ready, stopped after the session."""
    why = missing()
    if why is not None:
        if os.environ.get("FREEHOLD_REQUIRE_MODEL") == "1":
            pytest.fail(f"FREEHOLD_REQUIRE_MODEL=1 but {why}", pytrace=False)
        pytest.skip(why)
    with LlamaServer() as server:
        yield server
