"""A profile as a document: YAML front matter (python-frontmatter) over a Markdown body.

The body is exactly what a model is told (``Profile.system``): what you read in the file is
what leaves, nothing added. It is split at its level-2 headings (outside code fences) into
``Section`` objects so that the platform exports can put each part in the right field:

===============================  =================  ================================
heading                          ``Section.kind``   where a platform export puts it
===============================  =================  ================================
``About the user``               ``about``          ChatGPT's "know about you" field
``How to respond``               ``respond``        ChatGPT's "how to respond" field
``Memory``, ``Memory (…)``       ``memory``         one note per item, dated
``Instructions``, ``…: NAME``    ``instructions``   with "how to respond"
text before any heading          ``preamble``       first, with "know about you"
===============================  =================  ================================

Only these are the profile's own headings; any other ``## `` line is text of the section it is
in, so instructions pasted with headings of their own stay whole in their place (``inside``
makes a line of pasted text that looks like one of the profile's headings level 3) — except in
a memory section, which holds notes: there a ``## `` line at the start of a line starts an
instructions section (a person's own ``## Style guide`` written after the memory).

A memory note is a list item ``- YYYY-MM-DD: text`` (``- undated: text`` when the export had
no date; ``*``, ``+`` and ``1.`` items too); lines indented under it, or written right under it,
belong to it. Any other paragraph of a memory section is an undated note of its own: nothing a
person wrote there is dropped on the way to a platform field.

The front matter is freehold's record of where the text came from (``from``), what was left out
and why (``not_included``), and the version's ``name``, ``version``, ``saved`` and ``how``; a
person may add keys of their own, which are kept. Only YAML between a first line ``---`` and the
next ``---`` line is front matter; a file that starts any other way is all body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from freehold.errors import FreeholdError

__all__ = [
    "HEADINGS",
    "MemoryNote",
    "Profile",
    "Section",
    "inside",
    "parse",
    "render",
    "split",
]

HEADINGS = {
    "about": "About the user",
    "respond": "How to respond",
    "memory": "Memory (notes the user's assistant kept, dated)",
}
_HEADING = re.compile(r"^## +(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_NOTE = re.compile(r"^(?:[-*+]|\d{1,9}[.)]) +(?:(\d{4}-\d{2}-\d{2}|undated):\s*)?(.*)$")
_MEMORY = re.compile(r"memory(?: \(.*\))?", re.IGNORECASE)
_INSTRUCTIONS = re.compile(r"instructions(?:[:(].*)?", re.IGNORECASE)
_YAML = YAMLHandler()


@dataclass(frozen=True, slots=True)
class MemoryNote:
    date: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Section:
    """A level-2 section of the body; ``text`` is its Markdown without the heading."""

    title: str
    kind: str
    text: str

    @property
    def notes(self) -> list[MemoryNote]:
        """The memory notes of a ``memory`` section (its list items), in the order written."""
        notes: list[tuple[str | None, list[str]]] = []
        after_blank = True
        for line in self.text.splitlines():
            found = _NOTE.match(line)
            if found:
                notes.append((found.group(1), [found.group(2)]))
            elif line.strip() and notes and (line[:1].isspace() or not after_blank):
                notes[-1][1].append(line.strip())  # indented under it, or right under it
            elif line.strip():
                notes.append((None, [line.strip()]))  # a paragraph of its own: kept, undated
            after_blank = not line.strip()
        return [
            MemoryNote(None if d == "undated" else d, "\n".join(t).strip())
            for d, t in notes
            if "".join(t).strip()
        ]


@dataclass(slots=True)
class Profile:
    """One version of a profile. ``system`` is the text a model wears."""

    name: str
    version: int
    body: str
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def system(self) -> str:
        return self.body.strip()

    @property
    def sections(self) -> list[Section]:
        return split(self.body)

    @property
    def saved(self) -> str | None:
        value = self.meta.get("saved")
        return str(value) if value is not None else None


def split(body: str) -> list[Section]:
    """The body's sections, in order (a heading inside a code fence is text)."""
    sections: list[Section] = []
    title, fenced = "", False
    lines: list[str] = []
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        title_of = None if fenced else _heading(line, memory=_kind(title) == "memory")
        if title_of is not None:
            _close(sections, title, lines)
            title, lines = title_of, []
        else:
            lines.append(line)
    _close(sections, title, lines)
    return sections


def inside(text: str) -> str:
    """``text`` made to stay inside one section: each line (outside code fences) that would
    start a section of its own is made a level-3 heading. The draft pastes instructions with
    it — text a person wrote elsewhere may have a ``## How to respond`` line of its own."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        lines.append("#" + line if not fenced and _heading(line) is not None else line)
    return "\n".join(lines)


def _heading(line: str, *, memory: bool = False) -> str | None:
    """The title when ``line`` is one of the profile's own headings, else None. In a memory
    section (``memory``) any ``## `` line starts a section: a memory section holds notes, and a
    person's own heading after it (``## Style guide``) starts instructions, not a note (the
    draft indents a note's lines, so a heading pasted inside a note stays in it)."""
    found = _HEADING.match(line)
    if found is None or (_kind(found.group(1)) is None and not memory):
        return None
    return found.group(1)


def _close(sections: list[Section], title: str, lines: list[str]) -> None:
    text = "\n".join(lines).strip()
    if title or text:
        sections.append(Section(title, _kind(title) or "instructions", text))


def _kind(title: str) -> str | None:
    """The section kind of a heading's title; None for a heading that is not the profile's."""
    if not title:
        return "preamble"
    for kind in ("about", "respond"):
        if title.casefold() == HEADINGS[kind].casefold():
            return kind
    if _MEMORY.fullmatch(title):
        return "memory"
    return "instructions" if _INSTRUCTIONS.fullmatch(title) else None


def parse(text: str, *, name: str, where: str) -> Profile:
    """A profile file's text; ``where`` names it in the error a broken front matter gives."""
    meta, body = _front_matter(text.removeprefix("\ufeff"), where)
    version = meta.get("version")
    return Profile(name, version if isinstance(version, int) else 0, body, meta)


class _AliasError(yaml.YAMLError):
    def __init__(self, alias: str, line: int) -> None:
        super().__init__(alias)
        self.alias, self.line = alias, line


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases (``*name``): each repeats a whole node, and nested
    ones multiply — a 694-byte front matter became a 146 MB JSON export. A profile's front
    matter is a record of a few keys and needs none."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _AliasError(f"*{event.anchor}", event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """The front matter and the body. Only YAML between two ``---`` lines is front matter:
    python-frontmatter on its own would also read JSON after a first line ``{`` and TOML after
    ``+++``, turning a body that starts so into fields (or a traceback) — here any other first
    line starts the body. Every way the front matter can be broken is one FreeholdError."""
    text = text.strip()
    if not _YAML.detect(text):
        return {}, text
    try:
        head, body = _YAML.split(text)
    except ValueError:  # no second '---' line
        raise FreeholdError(
            f"{where}: its front matter has no closing '---' line — end it with a line '---' "
            "(or remove the first '---' line if the file has no front matter)"
        ) from None
    try:
        meta = _YAML.load(head, Loader=_Loader)
    except _AliasError as error:
        raise FreeholdError(
            f"{where}: its front matter uses a YAML alias ({error.alias}, line {error.line}) — "
            "freehold refuses aliases (a few lines of them can expand to gigabytes); write "
            "the value out in full"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise FreeholdError(
            f"{where}: its front matter is not valid YAML{line} — fix the lines between the "
            "two '---' lines"
        ) from error
    if not isinstance(meta, dict | None):
        raise FreeholdError(
            f"{where}: its front matter is not 'key: value' lines — write the lines between "
            "the two '---' lines as 'key: value', or move the text below them"
        )
    return dict(meta or {}), body.strip()


class _Dumper(yaml.SafeDumper):
    """YAML as the safe dumper writes it, but a text with blanks at either end that YAML does
    not count as blanks (a no-break space) is quoted: the front matter is stripped when the
    file is written and read, and would lose them (a value became null)."""


# Line breaks other than "\n": YAML reads them back folded or as "\n" unless escaped, which
# only double quotes do (a value "0\x850" came back "0 0").
_OTHER_BREAKS = frozenset("\r\x85\u2028\u2029")


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    quoted = value != value.strip() or not _OTHER_BREAKS.isdisjoint(value)
    style = '"' if quoted else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render(profile: Profile) -> str:
    """The file's text: front matter (freehold's keys first, then the person's), then body."""
    first = {"name": profile.name, "version": profile.version}
    meta = {**first, **{k: v for k, v in profile.meta.items() if k not in first}}
    post = frontmatter.Post(profile.body.strip() + "\n", _YAML)
    post.metadata.update(meta)  # not as keywords: a key may be `content`, `handler` or a number
    text = frontmatter.dumps(post, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text + "\n"
