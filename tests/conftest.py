"""Shared fixtures: every test gets its own FREEHOLD_HOME and never loads installed plugins."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from freehold.archive import Archive, open_archive

os.environ["FREEHOLD_LOAD_PLUGINS"] = ""
pytest_plugins = ["tests.providers.fixtures"]  # loopback provider servers, for any test

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "fixtures" / "real"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FREEHOLD_HOME", str(home))
    monkeypatch.setenv("FREEHOLD_LOAD_PLUGINS", "")
    return home


@pytest.fixture
def archive(_isolated_home: Path) -> Iterator[Archive]:
    with open_archive() as opened:
        yield opened


@pytest.fixture
def real() -> Path:
    """The real exports in ../shared/fixtures/real; skips when ../shared is absent."""
    if not REAL.is_dir():
        pytest.skip(f"real fixtures not found at {REAL} (../shared is absent beside the repo)")
    return REAL
