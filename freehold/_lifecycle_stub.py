"""STUB — stands in for ``freehold.lifecycle`` until the lifecycle branch is merged.

``chat.lifecycle()`` uses ``freehold.lifecycle`` when it can import it and this module
otherwise; both offer ``check(ref, *, today=None)``, ``is_pinned(model_id)``,
``same_model(requested, served)`` and ``price(ref)`` (issue 11's design notes). This stub knows
no lifecycle dates and no prices: ``check`` only flags a model id without a date or version
stamp as not pinned, ``same_model`` accepts the provider's dated form of the same name
(``claude-sonnet-4-5`` → ``claude-sonnet-4-5-20250929``), and ``price`` knows nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["Warning", "check", "is_pinned", "price", "same_model"]

# A dated or versioned id: -20250929, -2025-09-29, @20250929, -001, -0613.
_STAMP = re.compile(r"(?:[-@_]20\d{2}-?\d{2}-?\d{2}|-\d{3,4})(?:$|[-:])")


@dataclass(frozen=True, slots=True)
class Warning:
    """A pin's warning: ``message`` says what to do."""

    message: str


def is_pinned(model_id: str) -> bool:
    return bool(_STAMP.search(model_id))


def check(ref: str, *, today: date | None = None) -> list[Warning]:
    model = ref.partition(":")[2] or ref
    if is_pinned(model):
        return []
    return [
        Warning(
            f"{ref} is not pinned: an undated name or alias can be moved to another model by "
            "its provider — name an exact dated model id"
        )
    ]


def same_model(requested: str, served: str) -> bool:
    if served == requested:
        return True
    return served.startswith(requested + "-") and is_pinned(served)


def price(ref: str) -> None:
    return None
