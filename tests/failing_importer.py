"""An importer that breaks halfway, to test error handling across the reader process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from freehold.models import ExportInfo, Record

KIND = "failing"
PARSER_VERSION = "failing/1"


def detect(path: Path) -> bool:
    return True


def iter_conversations(path: Path) -> Iterator[Record]:
    yield ExportInfo(kind=KIND)
    raise RuntimeError("the export fell apart")
