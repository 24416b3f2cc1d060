"""Ready-to-paste text for each platform's custom-instruction fields, within their limits.

Each ``Field`` names where it is in the platform's settings, its length limit and where that
limit comes from (docs/profiles.md has the table). Where a vendor documents no limit, the
field says so (``documented=False``) and uses a conservative one. Lengths count UTF-16 code
units, as a browser's text box does (an emoji counts 2).

``fit(field, pieces)`` fills a field in priority order: prose sections first, whole; a section
that does not fit is cut at a word boundary (ending in "…"); memory notes go newest first and
are dropped whole. Every cut is returned as a ``Cut`` — a platform export never shortens text
silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from freehold.profiles.document import HEADINGS, MemoryNote, Profile, Section

__all__ = [
    "FIELDS",
    "PLATFORMS",
    "Cut",
    "Field",
    "Filled",
    "fill",
    "size",
]

_OPENAI = "OpenAI Help Center, 'Custom instructions for ChatGPT' (help.openai.com, article 8096356)"
_ANTHROPIC = (
    "none documented: Anthropic's 'Understanding Claude's personalization features' "
    "(support.claude.com, article 10185728) states no limit; third-party guides report 1,500"
)
_GOOGLE = (
    "none documented: Google's Gemini Apps Help on saved info and instructions states no "
    "limit; freehold keeps to 1,500 so that the text fits"
)


@dataclass(frozen=True, slots=True)
class Field:
    platform: str
    key: str
    label: str
    where: str
    limit: int
    source: str
    documented: bool
    takes: tuple[str, ...]  # section kinds, in priority order


FIELDS = (
    Field(
        "chatgpt",
        "about_user",
        "What would you like ChatGPT to know about you?",
        "Settings → Personalization → Custom instructions",
        1500,
        _OPENAI,
        True,
        ("preamble", "about", "memory"),
    ),
    Field(
        "chatgpt",
        "about_model",
        "How would you like ChatGPT to respond?",
        "Settings → Personalization → Custom instructions",
        1500,
        _OPENAI,
        True,
        ("respond", "instructions"),
    ),
    Field(
        "claude",
        "preferences",
        "What personal preferences should Claude consider in responses?",
        "Settings → Profile",
        1500,
        _ANTHROPIC,
        False,
        ("preamble", "about", "respond", "instructions", "memory"),
    ),
    Field(
        "gemini",
        "instructions",
        "Instructions for Gemini (saved info)",
        "Settings → Personal context → Instructions for Gemini",
        1500,
        _GOOGLE,
        False,
        ("preamble", "about", "respond", "instructions", "memory"),
    ),
)
PLATFORMS = tuple(dict.fromkeys(f.platform for f in FIELDS))


@dataclass(frozen=True, slots=True)
class Cut:
    """What a field could not hold: a whole note or section, or the end of a section."""

    field: str
    what: str
    chars: int


@dataclass(slots=True)
class Filled:
    spec: Field
    text: str
    cuts: list[Cut] = field(default_factory=list)

    @property
    def length(self) -> int:
        return size(self.text)


def size(text: str) -> int:
    """Length as a browser's text box counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def fill(profile: Profile, platform: str) -> list[Filled]:
    """The platform's fields, each filled from the profile's sections within its limit."""
    return [_fit(f, profile.sections) for f in FIELDS if f.platform == platform]


def _fit(target: Field, sections: list[Section]) -> Filled:
    filled = Filled(target, "")
    parts: list[str] = []
    many = len(target.takes) > 2  # one field for everything: each part says what it is
    for kind in target.takes:
        for section in (s for s in sections if s.kind == kind):
            _add(section, parts, filled, many=many)
    filled.text = "\n\n".join(parts)
    return filled


def _room(parts: list[str], limit: int) -> int:
    """What is left of ``limit`` for one more part (the blank line before it counted)."""
    return limit - size("\n\n".join(parts)) - (2 if parts else 0)


def _add(section: Section, parts: list[str], filled: Filled, *, many: bool) -> None:
    room = _room(parts, filled.spec.limit)
    if section.kind == "memory":
        _notes(section.notes, parts, room, filled)
        return
    text = f"{_label(section)}:\n{section.text}" if many and section.title else section.text
    if size(text) <= room:
        parts.append(text)
        return
    keep = _cut(text, room - 1)
    if keep:
        parts.append(keep + "…")
    title = section.title or "the text before the first heading"
    filled.cuts.append(Cut(filled.spec.key, f"the end of {title!r}", size(text) - size(keep)))


def _notes(notes: list[MemoryNote], parts: list[str], room: int, filled: Filled) -> None:
    """Newest first while they fit; a note that does not fit is left out whole."""
    lines = ["What to remember:"]
    for note in sorted(notes, key=lambda n: n.date or "", reverse=True):
        line = f"- {note.text}" if note.date is None else f"- ({note.date}) {note.text}"
        if size("\n".join([*lines, line])) <= room:
            lines.append(line)
        else:
            what = f"memory note of {note.date or 'no date'} ({note.text[:40]!r})"
            filled.cuts.append(Cut(filled.spec.key, what, size(line)))
    if len(lines) > 1:
        parts.append("\n".join(lines))


def _label(section: Section) -> str:
    if section.kind in HEADINGS:
        return HEADINGS[section.kind].split(" (")[0]
    return section.title


def _cut(text: str, room: int) -> str:
    """The longest start of ``text`` within ``room`` that ends at a word boundary."""
    if room <= 0:
        return ""
    kept = text.encode("utf-16-le")[: room * 2].decode("utf-16-le", errors="ignore")
    if len(kept) < len(text) and " " in kept:
        kept = kept[: kept.rfind(" ")]
    return kept.rstrip()
