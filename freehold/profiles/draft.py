"""A first draft of a profile, from what the archive already holds (its context records).

``gather(archive)`` reads every context record once (with its conversation's source, title
and date) and sorts it into:

- **custom instructions**: ChatGPT's "about you" / "how to respond" pair (records whose data
  has ``about_user`` / ``about_model``). Each conversation carries the pair in force when it
  ran, so distinct pairs are versions: the newest goes into the draft, earlier ones are named
  in ``not_included`` with their dates;
- **memory notes**: ChatGPT memory writes (``bio``), ChatGPT memory snapshots and Claude's
  ``memories.json``; the same note saved twice is one note, dated when first seen;
- **instruction sets**: Claude project instructions, AI Studio system instructions, and the
  per-chat system prompts of LibreChat and Open WebUI. They apply to one project or chat, not
  to every conversation, so a draft includes only those asked for (``include``);
- what the exports lack: custom GPTs and ChatGPT projects are named by conversations
  (``g-…``, ``g-p-…``) but their instructions are not in ChatGPT's export — the draft says so
  instead of pretending; Claude project documents are knowledge, not instructions (counted).

``draft(found, name, include)`` writes the body (document.py's headings) and the front matter:
``from`` (each source: what, platform, date, conversation) and ``not_included``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from freehold._words import plural
from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.profiles.document import HEADINGS, Profile, inside

__all__ = [
    "Found",
    "InstructionSet",
    "Instructions",
    "Note",
    "draft",
    "gather",
]

_PLATFORM_OF_ACCOUNT = {"memories.json": "claude", "projects.json": "claude"}


@dataclass(slots=True)
class Note:
    date: float | None
    text: str
    platform: str
    conversation: str | None = None


@dataclass(slots=True)
class Instructions:
    """One distinct custom-instructions pair and when it was in force."""

    about: str
    respond: str
    platform: str
    first: float | None
    last: float | None
    conversation: str | None
    seen: int = 1


@dataclass(slots=True)
class InstructionSet:
    name: str
    platform: str
    text: str
    date: float | None
    conversations: int = 0


@dataclass(slots=True)
class Found:
    instructions: list[Instructions] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    sets: list[InstructionSet] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    documents: int = 0

    @property
    def empty(self) -> bool:
        return not (self.instructions or self.notes or self.sets)


def gather(archive: Archive) -> Found:
    found = Found()
    pairs: dict[tuple[str, str], Instructions] = {}
    notes: dict[str, Note] = {}
    sets: dict[tuple[str, str], InstructionSet] = {}
    for row in archive.personal_context():
        _sort(row, found, pairs, notes, sets)
    found.instructions = sorted(pairs.values(), key=lambda i: i.last or 0)
    found.notes = sorted(notes.values(), key=lambda n: (n.date is None, n.date or 0))
    found.sets = sorted(sets.values(), key=lambda s: s.name.casefold())
    found.missing = _missing(archive.projects())
    return found


def _sort(
    row: dict[str, Any],
    found: Found,
    pairs: dict[tuple[str, str], Instructions],
    notes: dict[str, Note],
    sets: dict[tuple[str, str], InstructionSet],
) -> None:
    kind, data, text = row["kind"], row["data"], str(row["text"] or "").strip()
    date = row["created_at"] or row["conversation_created_at"]
    platform = row["source_kind"] or _account_platform(row["source_message_id"])
    if kind == "custom_instructions" and ("about_user" in data or "about_model" in data):
        _pair(row, pairs, date, platform)
    elif kind in ("memory", "memory_snapshot") and text:
        key = " ".join(text.split()).casefold()
        if key not in notes:  # rows come oldest first: the first date is kept
            notes[key] = Note(date, text, platform, row["conversation_id"])
    elif kind in ("project_instructions", "system_instructions", "custom_instructions") and text:
        name = _set_name(row, data)
        entry = sets.setdefault((name, text), InstructionSet(name, platform, text, date))
        entry.conversations += row["conversation_id"] is not None
        entry.date = max(entry.date or 0, date or 0) or None
    elif kind == "project_document":
        found.documents += 1


def _pair(
    row: dict[str, Any],
    pairs: dict[tuple[str, str], Instructions],
    date: float | None,
    platform: str,
) -> None:
    data = row["data"]
    about = str(data.get("about_user") or "").strip()
    respond = str(data.get("about_model") or "").strip()
    if not (about or respond):
        return
    known = pairs.get((about, respond))
    if known is None:
        pairs[(about, respond)] = Instructions(
            about, respond, platform, date, date, row["conversation_id"]
        )
        return
    known.seen += 1
    if date is not None and date >= (known.last or 0):
        known.last, known.conversation = date, row["conversation_id"]


def _account_platform(key: str | None) -> str:
    # The file's name, wherever the export sat in the import (``B/memories.json#0``).
    name = str(key or "").split("#", 1)[0].rsplit("/", 1)[-1]
    return _PLATFORM_OF_ACCOUNT.get(name, "account")


def _set_name(row: dict[str, Any], data: dict[str, Any]) -> str:
    for candidate in (
        data.get("name"),
        data.get("project_name"),
        data.get("chatGptLabel"),
        row["title"],
        data.get("project") or data.get("project_uuid"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return " ".join(candidate.split())
    return f"{row['source_kind'] or 'account'} instructions"


def _missing(projects: list[dict[str, Any]]) -> list[str]:
    """Custom GPTs and ChatGPT projects: named by conversations, instructions not exported."""
    lines = []
    for item in projects:
        project = str(item["project"])
        if item["source_kind"] != "chatgpt" or not project.startswith("g-"):
            continue
        what = "ChatGPT project" if project.startswith("g-p-") else "custom GPT"
        lines.append(
            f"{what} {project} ({plural(item['conversations'], 'conversation')}, "
            f"{_day(item['first'])} to {_day(item['last'])}): ChatGPT's export does not "
            "include its instructions — paste them into a section of your own"
        )
    return lines


def draft(found: Found, name: str, include: list[str]) -> Profile:
    """The first version's text: newest custom instructions, every memory note, the
    instruction sets named in ``include`` (``all`` for every one)."""
    chosen = _chosen(found.sets, include)
    body: list[str] = []
    sources: list[dict[str, Any]] = []
    if found.instructions:
        newest = found.instructions[-1]
        for kind, text in (("about", newest.about), ("respond", newest.respond)):
            if text:
                body.append(f"## {HEADINGS[kind]}\n\n{inside(text)}")
        sources.append(_source("custom instructions", newest.platform, newest.last, newest))
    if found.notes:
        body.append(f"## {HEADINGS['memory']}\n\n" + "\n".join(_note(n) for n in found.notes))
        sources += [_source("memory note", n.platform, n.date, n) for n in found.notes]
    for entry in chosen:
        body.append(f"## Instructions: {entry.name} ({entry.platform})\n\n{inside(entry.text)}")
        sources.append(_source("instructions", entry.platform, entry.date, entry))
    meta: dict[str, Any] = {"from": sources, "not_included": _left_out(found, chosen)}
    return Profile(name, 0, "\n\n".join(body) + "\n", meta)


def _chosen(sets: list[InstructionSet], include: list[str]) -> list[InstructionSet]:
    wanted = {name.casefold() for name in include}
    if "all" in wanted:
        return list(sets)
    unknown = wanted - {s.name.casefold() for s in sets}
    if unknown:
        names = ", ".join(sorted({s.name for s in sets})) or "none in this archive"
        raise FreeholdError(
            f"no instructions named {', '.join(sorted(unknown))!s} (instructions: {names}) — "
            "pick one of those, or --include all"
        )
    return [s for s in sets if s.name.casefold() in wanted]


def _left_out(found: Found, chosen: list[InstructionSet]) -> list[str]:
    lines = [
        f"earlier custom instructions ({i.platform}, in force {_day(i.first)} to "
        f"{_day(i.last)}, {plural(i.seen, 'conversation')}): a newer version is used"
        for i in found.instructions[:-1]
    ]
    lines += [
        f"instructions {s.name!r} ({s.platform}): add them with --include {s.name!r}"
        for s in found.sets
        if s not in chosen
    ]
    if found.documents:
        lines.append(
            f"{plural(found.documents, 'Claude project document')}: knowledge, not instructions"
        )
    return lines + found.missing


def _source(what: str, platform: str, date: float | None, item: Any) -> dict[str, Any]:
    source: dict[str, Any] = {"what": what, "platform": platform, "date": _day(date)}
    conversation = getattr(item, "conversation", None)
    if conversation:
        source["conversation"] = conversation
    name = getattr(item, "name", None)
    if name:
        source["name"] = name
    return source


def _note(note: Note) -> str:
    first, *rest = note.text.splitlines() or [""]
    lines = [f"- {_day(note.date) if note.date else 'undated'}: {first.strip()}"]
    lines += [f"  {line.strip()}" for line in rest if line.strip()]
    return "\n".join(lines)


def _day(when: float | None) -> str:
    if when is None:
        return "undated"
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d")
