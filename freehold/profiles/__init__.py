"""Portable profiles: your custom instructions and memory, as a file any model can wear.

A profile is a Markdown file with YAML front matter (``document.py``) kept in the data
folder, every version a file of its own (``store.py``). ``create`` drafts the first version
from the archive's context records (``draft.py``); the person reviews and edits it (each
edit a new version); ``chat --profile`` and ``apply`` send its body as the system text
(``apply.py``); ``export`` writes it as Markdown, JSON or ready-to-paste text for ChatGPT,
Claude and Gemini within each field's limit (``platforms.py``, ``exports.py``). Before any of
these leaves the machine, likely secrets and personal data are flagged for the person to keep
or strike (``review.py``, ``freehold.secrets``).

The stable API for other commands (``freehold rehearse``, the break test)::

    profile = load_profile("work")            # the newest version
    profile.system                            # the text a model wears, one string
    review(profile).outgoing().system         # the same, after the person's decisions
                                              # (PendingError while any is undecided)
"""

from __future__ import annotations

from freehold.errors import FreeholdError
from freehold.profiles import draft, exports, store
from freehold.profiles.apply import CHECK_PROMPT, ask
from freehold.profiles.document import HEADINGS, MemoryNote, Profile, Section, parse, render
from freehold.profiles.draft import Found, gather
from freehold.profiles.exports import FORMATS, Exported, export
from freehold.profiles.platforms import FIELDS, PLATFORMS, Cut, Field
from freehold.profiles.review import PendingError, Review, review
from freehold.profiles.store import decisions, names, versions

__all__ = [
    "CHECK_PROMPT",
    "FIELDS",
    "FORMATS",
    "HEADINGS",
    "PLATFORMS",
    "Cut",
    "Exported",
    "Field",
    "Found",
    "MemoryNote",
    "PendingError",
    "Profile",
    "Review",
    "Section",
    "ask",
    "create",
    "decisions",
    "export",
    "gather",
    "load_profile",
    "names",
    "parse",
    "render",
    "review",
    "save_text",
    "versions",
]


def load_profile(name: str, version: int | None = None) -> Profile:
    """A profile by name: the newest version, or ``version``. ``NotFoundError`` when none."""
    return store.read(name, version)


def create(found: Found, name: str, include: list[str], *, again: bool = False) -> Profile:
    """Draft a profile from ``found`` (``gather(archive)``) and keep it as a version.

    A name already taken is refused unless ``again`` (the fresh draft becomes its next
    version; the earlier ones stay)."""
    known = store.versions(name)
    if known and not again:
        raise FreeholdError(
            f"profile {name!r} exists (version {known[-1]}) — edit it with `freehold profile "
            f"edit {name}`, draft it again from the archive with --again, or pick another name"
        )
    return store.save(draft.draft(found, name, include), "drafted from the archive")


def save_text(name: str, text: str, *, where: str, how: str = "edited") -> Profile | None:
    """Keep ``text`` (a whole profile file) as the next version of ``name``; None when it is
    the same as the newest version (nothing to keep). ``where`` names it in errors; a text with
    nothing under its headings is refused (FreeholdError), as is a broken front matter."""
    edited = exports.imported(text, name=name, where=where) or parse(text, name=name, where=where)
    if not any(section.text for section in edited.sections):
        # what a model would wear is empty (or headings only): never the current version
        raise FreeholdError(
            f"{where}: no profile text — write what a model should know about you and how to "
            "answer below the front matter (docs/profiles.md)"
        )
    known = store.versions(name)
    if known:
        newest = store.read(name)
        if edited.body.strip() == newest.body.strip() and _same_meta(edited, newest):
            return None
    meta = {k: v for k, v in edited.meta.items() if k not in ("name", "version", "saved", "how")}
    return store.save(Profile(name, 0, edited.body, meta), how)


def _same_meta(a: Profile, b: Profile) -> bool:
    ignored = ("name", "version", "saved", "how")
    return {k: v for k, v in a.meta.items() if k not in ignored} == {
        k: v for k, v in b.meta.items() if k not in ignored
    }
