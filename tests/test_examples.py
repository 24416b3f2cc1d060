"""The shipped sample exports are exactly what the generator makes, and import cleanly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from freehold.archive import Archive
from freehold.ingest import import_path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = [
    ("sample-chatgpt-export.zip", 400_000, "single", 7),
    ("sample-chatgpt-export-2026.zip", 300_000, "sharded", 8),
]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("genexport", REPO / "benchmarks/genexport.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["genexport"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "size", "layout", "seed"), SAMPLES)
def test_sample_is_reproducible(
    tmp_path: Path, name: str, size: int, layout: str, seed: int
) -> None:
    rebuilt = tmp_path / name
    _generator().generate(rebuilt, target_bytes=size, layout=layout, seed=seed)  # type: ignore[attr-defined]
    assert rebuilt.read_bytes() == (REPO / "examples" / name).read_bytes()


@pytest.mark.parametrize("name", [sample[0] for sample in SAMPLES])
def test_sample_imports_with_every_kind_of_content(archive: Archive, name: str) -> None:
    report = import_path(archive, REPO / "examples" / name)
    assert report.conversations["new"] == report.conversations["read"] > 10
    assert report.attachments["found"] > 5
    assert report.attachments["missing"] >= 1
    for kind in ("text", "multimodal_text", "code", "execution_output", "thoughts"):
        assert report.content_types[kind] > 0, kind
    assert report.not_understood
    stats = archive.stats()
    assert stats["branched_conversations"] > 0
    assert stats["context_records"] > 0
