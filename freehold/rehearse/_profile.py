"""``--profile NAME``: the system text of a profile, where this build has profiles.

Profiles (``freehold.profiles``, ``load_profile(name)``) arrive on their own; this glue looks
for them at run time so that rehearsal neither needs them nor pins their shape beyond one
attribute: the profile's system text, ``system``, one string.
"""

from __future__ import annotations

import importlib

from freehold.errors import FreeholdError

__all__ = ["system_text"]


def system_text(name: str) -> str:
    """The text a profile puts before the system prompt."""
    try:
        profiles = importlib.import_module("freehold.profiles")
    except ModuleNotFoundError:
        raise FreeholdError(
            f"--profile {name}: this build of freehold has no profiles yet — leave --profile out"
        ) from None
    return str(profiles.load_profile(name).system)
