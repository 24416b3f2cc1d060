"""Fixtures for the importer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freehold.importers import _safezip


@pytest.fixture(params=["zipfile", "isal"])
def zip_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test twice: deflated members read by ``zipfile`` alone, then every one of them,
    however small, inflated by ISA-L (``_safezip._Inflating``, used from 4 MiB up)."""
    monkeypatch.setattr(_safezip, "_ISAL_FROM", 0 if request.param == "isal" else 1 << 62)
    yield request.param
