"""An importer that stops for good after its first record, like a reader stuck in a read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from freehold.models import ExportInfo, Record

KIND = "stuck"
PARSER_VERSION = "stuck/1"


def detect(path: Path) -> bool:
    return True


def iter_conversations(path: Path) -> Iterator[Record]:
    yield ExportInfo(kind=KIND)
    threading.Event().wait()  # never set
