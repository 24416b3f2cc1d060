"""Fixtures for the importer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freehold.importers import _safezip


@pytest.fixture(params=["zipfile", "isal", "whole"])
def zip_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test three times, each member read one way whatever its size: by ``zipfile``
    alone; inflated by ISA-L as it is read (``_safezip._Inflating``, used from 4 MiB up); read
    and inflated at once (``_safezip._whole``, used up to 256 KiB; a member that does not check
    out is left to ``zipfile``)."""
    never, always = 1 << 62, 0
    monkeypatch.setattr(_safezip, "_ISAL_FROM", always if request.param == "isal" else never)
    monkeypatch.setattr(_safezip, "_WHOLE_UP_TO", never if request.param == "whole" else -1)
    yield request.param
