"""Small readers every importer shares: loose JSON values, times, and an export's file problems.

Exports are untrusted and drift, so a field is read defensively: a string only when it is a
non-empty string, a time only when it parses. Times come as ISO 8601 (with ``Z``, an offset, or
no zone, which means UTC) or as epoch numbers in seconds or a finer unit.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from freehold.errors import FreeholdError
from freehold.importers._safezip import ExportFiles
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import AttachmentRef, Conversation, Part, Problem, Record

__all__ = [
    "PartsBuilder",
    "any_time",
    "export_problems",
    "iso_time",
    "read_conversations",
    "text_or_none",
]

_DIGITS = re.compile(r"\d+(\.\d+)?")


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def iso_time(value: Any) -> float | None:
    """ISO 8601 (``Z``, an offset, or zone-less read as UTC) → epoch seconds; None if not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def any_time(value: Any) -> float | None:
    """Epoch seconds or a finer unit (ms, µs), a string of digits, a ``{"$date"}`` or
    ``{"$numberLong"}`` wrapper (MongoDB dumps), or ISO 8601 → epoch seconds."""
    while isinstance(value, dict):
        value = value.get("$date", value.get("$numberLong"))
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, int | float):
        number = float(value)
        while abs(number) > 1e11:  # past the year 5138 in seconds: a finer unit
            number /= 1000
        return number
    return iso_time(value)


def export_problems(files: ExportFiles) -> Iterator[Problem]:
    """What opening the export already lost: a cut zip, refused members."""
    if files.truncated:
        yield Problem(files.label, files.truncated)
    for name, reason in files.rejected:
        yield Problem(f"{files.label}/{name}", f"member not read: {reason}")


class PartsBuilder:
    """A message's parts, its searchable text pieces, attachments and the kinds it held.

    Importers subclass it with their own content readers; ``content_type`` is ``text`` for a
    plain message, else the kinds in order (``thinking+text``), so the report names unknowns.
    """

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.pieces: list[str] = []
        self.attachments: list[AttachmentRef] = []
        self.types: list[str] = []

    def add(self, kind: str, text: str, *, searchable: bool, **extra: Any) -> None:
        self.parts.append({"type": kind, "text": text, **extra})
        if searchable and text:
            self.pieces.append(text)

    @property
    def text(self) -> str:
        return "\n\n".join(self.pieces)

    @property
    def content_type(self) -> str:
        kinds = list(dict.fromkeys(self.types))
        return "text" if kinds in ([], ["text"]) else "+".join(kinds)

    @property
    def only_thoughts(self) -> bool:
        return bool(self.parts) and all(p["type"] == "thought" for p in self.parts)


def read_conversations(
    files: ExportFiles,
    name: str,
    convert: Callable[[dict[str, Any], bytes], Conversation],
    *,
    noun: str = "conversation",
    again: str = "download the export again",
) -> Iterator[Record]:
    """Stream the JSON array ``name`` element by element through ``convert``.

    A bad element is one skipped problem; a file that breaks (truncated, malformed, cut zip)
    ends with a problem saying where, how many were read, and what to do (``again``).
    """
    count = 0

    def lost() -> str:
        return f"{count} {noun}(s) read before it; the rest of this file was not imported — {again}"

    try:
        with files.open(name) as handle:
            for element in iter_elements(handle):
                count += 1
                where = f"{name}[{element.index}]"
                yield _convert(where, element.value, element.raw, element.problems, convert, noun)
    except JsonStreamError as error:
        yield Problem(name, f"{error} at character {error.offset}: {lost()}")
    except FreeholdError as error:
        yield Problem(name, f"{error}: {lost()}")
    except (EOFError, zlib.error, zipfile.BadZipFile) as error:
        yield Problem(name, f"the data stops ({error}): {lost()}")


def _convert(
    where: str,
    value: Any,
    raw: bytes,
    problems: list[str],
    convert: Callable[[dict[str, Any], bytes], Conversation],
    noun: str,
) -> Record:
    check = "check this element of the export"
    if not isinstance(value, dict):
        what = "; ".join(problems) or "not a JSON object"
        return Problem(where, f"{what}; this {noun} was skipped — {check}", skipped=1)
    try:
        conversation = convert(value, raw)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        what = f"not a readable {noun} ({type(error).__name__}: {error}); it was skipped"
        return Problem(where, f"{what} — {check}", skipped=1)
    conversation.problems[:0] = problems
    return conversation
