"""Counted nouns in messages: ``1 conversation``, ``2 conversations``, never ``conversation(s)``."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 conversation``, ``12,000 conversations``; ``nouns`` when it is not ``noun`` + s."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
