"""A third-party importer that hands over values of the wrong types (no skeleton, no readers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from freehold.models import AttachmentRef, Conversation, ExportInfo, Message, Record

KIND = "sloppy"
PARSER_VERSION = "sloppy/1"


def detect(path: Path) -> bool:
    return path.name.endswith(".sloppy")


def iter_conversations(path: Path) -> Iterator[Record]:
    yield ExportInfo(kind=KIND, files=[(path.name, path.stat().st_size)])
    odd: Any = {"not": "text"}
    ref = AttachmentRef("sloppy://1", name=odd, mime=["image/png"], size="12")
    message = Message("m1", None, "user", "text", [{"type": "text", "text": odd}], "hello")
    message.model, message.created_at, message.attachments = 5, float("nan"), [ref]
    yield Conversation(KIND, "kept", odd, [message], path.read_bytes(), model=7)
    yield Conversation(KIND, odd, "no usable id", [], b"{}")
