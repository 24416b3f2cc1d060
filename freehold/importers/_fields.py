"""Loose field readers: any field of an export may hold any JSON type, and none costs more
than itself.

Every importer reads its JSON through these: ``field.text(obj, "title")``,
``field.when(obj, "create_time")``, ``field.array(obj, "chat_messages")``… A reader returns the
value when it has the type wanted; otherwise it returns nothing (None, ``""``, ``{}``, ``[]``,
False) and *notes* the odd value, e.g. ``title: a number (42) where text was expected``. A
missing key or a JSON null is not odd, and ``obj`` itself may be anything (a reader of a field
of a non-object finds nothing; whoever read that non-object noted it).

Notes are collected per conversation: the skeleton opens ``noting()`` around each conversion
and adds what was noted to the conversation's problems, so the import report names every value
freehold could not use, and where. The value itself is never lost: it stays in the raw JSON.
A ``ContextVar`` carries the collector, so the readers need no extra argument; outside
``noting()`` a note goes nowhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Notes",
    "any_time",
    "array",
    "describe",
    "flag",
    "integer",
    "iso_time",
    "known",
    "mapping",
    "note",
    "noting",
    "number",
    "odd",
    "string",
    "text",
    "text_or_none",
    "when",
]

_SHOWN = 40
_DIGITS = re.compile(r"\d+(\.\d+)?")


class Notes:
    """What one conversion noted, in order, each distinct note once with how often it came."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def lines(self) -> list[str]:
        suffix = " — kept in the raw JSON, not used"
        return [
            what + (f" ({n} times)" if n > 1 else "") + suffix for what, n in self.counts.items()
        ]


_CURRENT: ContextVar[Notes | None] = ContextVar("freehold_notes", default=None)


@contextmanager
def noting() -> Iterator[Notes]:
    """Collect the notes of what runs inside (one conversation, one side file)."""
    notes = Notes()
    token = _CURRENT.set(notes)
    try:
        yield notes
    finally:
        _CURRENT.reset(token)


def note(what: str) -> None:
    """Record an odd value; a no-op outside ``noting()``."""
    notes = _CURRENT.get()
    if notes is not None:
        notes.add(what)


def describe(value: Any) -> str:
    """A JSON value as a person names it: ``an object``, ``a number (42)``, ``text ("ab…")``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "…"
        return f"text ({shown!r})"
    if isinstance(value, bytes):
        return f"binary data ({len(value)} bytes)"
    return f"a {type(value).__name__}"


def odd(key: str, value: Any, wanted: str) -> None:
    """Note that ``key`` held ``value`` where ``wanted`` was expected."""
    note(f"{key}: {describe(value)} where {wanted} was expected")


def _get(obj: Any, key: str) -> Any:
    # Only a JSON object has ``get``; asking forgiveness is the fast path (readers run
    # hundreds of thousands of times per 100 MB of export).
    try:
        return obj.get(key)
    except AttributeError:
        return None


def text(obj: Any, key: str) -> str | None:
    """A non-empty string, else None (an empty string is not odd)."""
    try:
        value = obj.get(key)
    except AttributeError:
        return None
    if value is None or value.__class__ is str:
        return value or None
    if isinstance(value, str):
        return value or None
    odd(key, value, "text")
    return None


def string(obj: Any, key: str) -> str:
    """A string, ``""`` when absent or odd."""
    return text(obj, key) or ""


def number(obj: Any, key: str) -> float | None:
    """A finite number (not a boolean)."""
    value = _get(obj, key)
    if value is None:
        return None
    found = _finite(value)
    if found is None:
        odd(key, value, "a number")
    return found


def integer(obj: Any, key: str) -> int | None:
    """A whole number (``12`` or ``12.0``), or a string of digits as some exports write sizes."""
    value = _get(obj, key)
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    found = _finite(value)
    if found is not None and found.is_integer():
        return int(found)
    odd(key, value, "a whole number")
    return None


def flag(obj: Any, key: str) -> bool:
    """True only for JSON ``true``; anything but a boolean or null is odd."""
    try:
        value = obj.get(key)
    except AttributeError:
        return False
    if value is None or isinstance(value, bool):
        return value is True
    odd(key, value, "true or false")
    return False


def mapping(obj: Any, key: str) -> dict[str, Any]:
    """An object, ``{}`` when absent or odd."""
    try:
        value = obj.get(key)
    except AttributeError:
        return {}
    if isinstance(value, dict):
        return value
    if value is not None:
        odd(key, value, "an object")
    return {}


def array(obj: Any, key: str) -> list[Any]:
    """An array, ``[]`` when absent or odd."""
    value = _get(obj, key)
    if isinstance(value, list):
        return value
    if value is not None:
        odd(key, value, "an array")
    return []


def when(obj: Any, key: str) -> float | None:
    """A time: ISO 8601, epoch seconds or a finer unit, digits, or a ``{"$date"}`` wrapper."""
    try:
        value = obj.get(key)
    except AttributeError:
        return None
    if value is None:
        return None
    if value.__class__ is float and -1e11 <= value <= 1e11:
        return value  # epoch seconds, as most exports write them: the common case, fast
    found = any_time(value)
    if found is None:
        odd(key, value, "a time")
    return found


def known(*values: float | None) -> float | None:
    """The first value that is not None: a time of 0 (1970) is a time, not a missing one."""
    return next((value for value in values if value is not None), None)


def _finite(value: Any) -> float | None:
    """``value`` as a finite float when it is a JSON number (an int too large for a float, or
    NaN and infinities that some writers emit, are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        found = float(value)
    except OverflowError:
        return None
    return found if math.isfinite(found) else None


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def iso_time(value: Any) -> float | None:
    """ISO 8601 (``Z``, an offset, or zone-less read as UTC) → epoch seconds; None if not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        return None


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
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            return None
        if not math.isfinite(number):
            return None
        while abs(number) > 1e11:  # past the year 5138 in seconds: a finer unit
            number /= 1000
        return number
    return iso_time(value)
