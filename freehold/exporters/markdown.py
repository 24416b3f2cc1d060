"""Markdown export: one readable, Obsidian-friendly note per conversation.

Layout of the output folder::

    index.md                               every conversation, linked (written as it goes)
    2024-05-01-assist-user-c1a2b3c4.md     one note: YAML front matter, then the conversation
    attachments/<sha256>.png               each attachment once, linked relatively

A note is for reading, not for round trips (that is the JSON export's job), so it shows what the
person saw: the visible path, one heading per message (``### User``, ``### Assistant (gpt-4o)``)
with its time. What the interface hid (system prompts, tool calls and results, custom
instructions, reasoning) stays one click away in ``<details>`` blocks rather than being dropped;
a conversation's own system prompt (``Conversation.own_context``: Open WebUI's, LibreChat's, a
Claude project's instructions) is one such block under the title.
Code is fenced with a fence longer than any backtick run inside it, so no content can close it.
A message's Markdown stays Markdown, but nothing in it acts as HTML or fetches anything
(``inert``): outside code, a ``<`` that would open a tag, comment or declaration is written
``&lt;`` (so a system prompt holding ``</details>`` cannot close its block, an ``<img>`` cannot
load), and an image written in the text (``![](https://tracker…)``) becomes a link; code is
found by a CommonMark block parse (markdown-it-py: code blocks, and the leaf block each line of
text belongs to) and CommonMark's backtick rule inside one leaf block (spans), so a backtick
cannot pair with one past a blank line or a heading and carry raw HTML out of the neutraliser.
Control characters are shown as their escapes (``\x1b``), as ``show`` and the PDF show them
(``render.visible``), so a note never turns binary to grep nor drives a terminal.
Headings a message writes are moved below its role heading (``demote_headings``: a ``#`` in an
answer under ``### Assistant`` becomes ``####``), found by cmark-gfm's own parse so that a
``#`` in a code block, an HTML block or mid-paragraph is never touched.
File names are ``_folder.conversation_name``'s: the date, the title's words in any script
(``2024-05-01-日本語の質問-c1a2b3c4.md``), and the first 8 characters of freehold's stable id,
so a hostile title cannot escape the folder or collide, and links from other notes keep
working after a re-export.

Branches: every other branch (``tree.branch_paths``) is listed under ``## Other branches``,
saying which message it forks from. By default (``all_branches=True``) each branch is rendered
in full like the main path; with ``all_branches=False`` it is summarised (message count and its
first message) so the note stays short while still showing that the branch exists.
A message's earlier versions (``Message.revision_of``: words the platform changed, kept on
import) are no branch (``tree.reading_paths``): each follows its message in a ``<details>``
block under ``REVISION_LABEL``.

Exporting again into the same folder brings the notes of the selected conversations up to date
and keeps anything else there (``_folder.Run``: a note a person edited is never overwritten,
a renamed conversation leaves no stale note behind, notes of conversations outside a narrower
selection stay and the index links them under ``## Also in this folder``); any other non-empty
folder is refused. Conversations are rendered one at a time.
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import cmarkgfm  # type: ignore[import-untyped,unused-ignore]
import orjson
from cmarkgfm.cmark import Options  # type: ignore[import-untyped,unused-ignore]
from markdown_it import MarkdownIt

from freehold import storage
from freehold.archive import Archive, conversation_id
from freehold.exporters import _folder
from freehold.models import (
    CONTEXT_FIELDS,
    REVISION_LABEL,
    AttachmentRef,
    Conversation,
    Message,
    Part,
    context_label,
    not_understood,
    part_label,
    without_citation_marks,
)
from freehold.render import visible
from freehold.tree import reading_paths

__all__ = ["FORMAT", "demote_headings", "file_name", "inert", "write", "write_summary"]

FORMAT = "markdown"
INDEX = "index.md"
_MARKER = "freehold_export: markdown"
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+.#-]{1,40}$")
# A line that may hold a heading: an ATX ``#`` after container marks, or a setext underline.
_MAYBE_HEADING = re.compile(r"^[ \t>]*(?:(?:[-+*]|\d{1,9}[.)])[ \t]+)*(?:#|(?:=+|-+)[ \t]*$)", re.M)
_HEADING_AT = re.compile(r'<h([1-6]) data-sourcepos="(\d+):(\d+)-(\d+):')
_SOURCEPOS = Options.CMARK_OPT_SOURCEPOS  # tables and strikethrough change no heading: not needed
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNDERLINE = re.compile(r"^[ \t>]*(?:=+|-+)[ \t]*$")
# CommonMark's block structure only (no inline pass): which lines are code, which leaf block
# holds each line of text. Its tokens carry their lines (``map``).
_BLOCKS = MarkdownIt("commonmark").disable(["inline", "text_join"])
_LEAVES = frozenset({"fence", "code_block", "inline"})
_CODE, _OTHER = -1, -2
# A code span opens at a run of backticks after an even number of backslashes (an odd number
# escapes its first backtick), and closes at the next run of the same length (no escapes inside).
_CODE_SPAN = re.compile(r"(?<![`\\])(?:\\\\)*(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
# A "<" that opens raw HTML (a tag, closing tag, comment, declaration or processing
# instruction), unless it is an autolink: ``<scheme:…>``.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])(?![A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*>)")
# Outside YAML's printable set (tab and newline never reach here raw: JSON escapes them), and
# the characters YAML 1.1 readers fold as line breaks.
_NOT_YAML = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_IMAGE_OPEN = "!["


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one note per conversation and ``index.md``; returns how many were written."""
    return write_summary(
        archive, conversations, out, all_branches=all_branches, progress=progress
    ).written


def write_summary(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> _folder.Summary:
    """Write one note per conversation and ``index.md``; returns what was written, removed and
    left alone (``_folder.Summary``).

    ``progress`` is called after each conversation with the number written so far.
    """
    run = _folder.Run(out, label="Markdown", suffix=".md", ours=_ours)
    writer = _Writer(archive, run, all_branches)
    with storage.written(out / INDEX, text=True) as index:
        index.write(_index_head())
        for conv in conversations:
            name = writer.conversation(conv)
            index.write(_index_line(conv, name))
            if progress is not None:
                progress(len(writer.notes))
        index.write(_index_others(run.others()))
    return run.finish(len(writer.notes))


def _index_others(names: list[str]) -> str:
    """The notes an earlier export left here, of conversations this one did not select."""
    if not names:
        return ""
    links = "".join(f"- [{_inline(name, 200)}](<{name}>)\n" for name in names)
    return f"\n## Also in this folder\n\nFrom earlier exports:\n\n{links}"


def _index_head() -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return f"---\n{_MARKER}\nexported_at: '{now}'\n---\n\n# freehold archive\n\n"


def _index_line(conv: Conversation, name: str) -> str:
    title = _inline(conv.title or "Untitled", 200)
    day = _day(conv.created_at) or "undated"
    count = conv.message_count
    return f"- {day} · [{title}]({name}) · {conv.source_kind} · {_count(count, 'message')}\n"


def file_name(conv: Conversation, taken: set[str]) -> str:
    """``<date>-<slug>-<id8>.md``, not in ``taken`` (see ``_folder.conversation_name``)."""
    return _folder.conversation_name(conv, taken, ".md")


def demote_headings(text: str, by: int) -> str:
    """``text`` with each Markdown heading ``by`` levels lower (at most 6), setext made ATX."""
    if not _MAYBE_HEADING.search(text):
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        rendered: str = cmarkgfm.markdown_to_html(text, options=_SOURCEPOS)
    except UnicodeEncodeError:  # a lone surrogate: cmark takes UTF-8 only; lines stay the same
        rendered = cmarkgfm.markdown_to_html(_SURROGATE.sub("\ufffd", text), options=_SOURCEPOS)
    found = _HEADING_AT.findall(rendered)
    if not found:
        return text
    lines = text.split("\n")
    # Bottom-up, so that a setext heading folded into one line leaves the lines above in place.
    # A heading starts after container marks only (spaces, ">", list markers): ASCII, so cmark's
    # byte column is the character column.
    for level, row, column, last in reversed(found):
        _lower(lines, (int(row) - 1, int(column) - 1, int(last)), min(6, int(level) + by))
    return "\n".join(lines)


def _lower(lines: list[str], where: tuple[int, int, int], level: int) -> None:
    """Rewrite the heading cmark found (first line, column, last line) as ATX of ``level``."""
    row, at, last = where
    line = lines[row]
    if line.startswith("#", at):
        lines[row] = line[:at] + "#" * level + line[at:].lstrip("#")
        return
    # A setext heading: its text lines, then the underline, all by the last line cmark names.
    under = range(row + 1, min(last, len(lines)))
    end = next((n for n in under if _UNDERLINE.match(lines[n])), None)
    if end is None:
        return  # not where cmark said: leave the text as it was
    words = " ".join(
        [line[at:].strip(), *(re.sub(r"^[ \t>]*", "", x) for x in lines[row + 1 : end])]
    )
    closing = " " + "#" * level if words.endswith("#") else ""  # keep a final "#" as text
    lines[row : end + 1] = [f"{line[:at]}{'#' * level} {words.strip()}{closing}"]


def inert(text: str) -> str:
    """Markdown ``text`` with nothing that acts as HTML or loads a file, code left as written:
    outside code, ``&lt;`` for a ``<`` that opens a tag, a comment or a declaration (an
    autolink ``<https://…>`` stays), ``!\\[`` for an image's ``![`` (whatever precedes it).
    ``text`` is parsed alone, so it must start a block of its own where it is written."""
    if "<" not in text and "![" not in text:
        return text
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kinds = _line_kinds("\n".join(lines), len(lines))
    runs = groupby(zip(kinds, lines, strict=True), key=lambda item: item[0])
    return "\n".join(_made_inert(kind, [line for _, line in run]) for kind, run in runs)


def _line_kinds(text: str, count: int) -> list[int]:
    """For each line of ``text``: ``_CODE`` in a code block (fenced or indented), the number
    of the leaf block holding inline text (a paragraph, a heading) it belongs to, or
    ``_OTHER`` (blank lines, HTML blocks, thematic breaks), from a CommonMark parse of blocks
    only. A code span lives inside one such leaf block, never across two."""
    kinds = [_OTHER] * count
    for number, token in enumerate(_BLOCKS.parse(text)):
        if token.map is None or token.type not in _LEAVES:
            continue
        first, end = token.map
        kind = _CODE if token.type in ("fence", "code_block") else number
        kinds[first:end] = [kind] * (min(end, count) - first)
    return kinds


def _made_inert(kind: int, lines: list[str]) -> str:
    if kind == _CODE:
        return "\n".join(lines)
    if kind == _OTHER:
        return "\n".join(_neutral(line) for line in lines)
    return _outside_spans("\n".join(lines))


def _outside_spans(text: str) -> str:
    """``_neutral`` applied to the text of one leaf block outside its code spans (CommonMark:
    a run of backticks up to the next run of the same length in the same block)."""
    pieces, at = [], 0
    for match in _CODE_SPAN.finditer(text):
        pieces += [_neutral(text[at : match.start()]), match.group()]
        at = match.end()
    return "".join([*pieces, _neutral(text[at:])])


def _neutral(text: str) -> str:
    return _TAG_OPEN.sub("&lt;", text).replace(_IMAGE_OPEN, "!\\[")


def _yaml(value: Any) -> str:
    """``value`` as YAML: its JSON, every character YAML may not hold raw (C0 and C1 controls,
    DEL, U+FFFE/FFFF) or reads as a line break (NEL, U+2028, U+2029) written ``\\uXXXX``. JSON
    is YAML only then; so it parses back exactly (a test checks with yaml.safe_load), at a
    fraction of PyYAML's emitter's cost."""
    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", orjson.dumps(value).decode())


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _day(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d") if epoch is not None else None


def _time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _inline(text: str, limit: int) -> str:
    """One line of untrusted text made inert inside Markdown (links, emphasis, HTML)."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return re.sub(r"([\\`*_\[\]<>#|!])", r"\\\1", line)


def _fence(text: str, info: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _details(summary: str, body: str) -> str:
    return f"<details>\n<summary>{html.escape(summary)}</summary>\n\n{body}\n\n</details>"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines() or [""])


def _link(url: Any, label: str) -> str:
    """A Markdown link for http(s) URLs only; anything else is shown as inert text."""
    if not isinstance(url, str) or not re.match(r"^https?://", url, re.IGNORECASE):
        return label
    safe = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return f"[{label}](<{safe}>)"


def _extension(ref: AttachmentRef) -> str:
    mime = ref.sniffed_mime or ref.mime
    guessed = mimetypes.guess_extension(mime) if mime else None
    if guessed:
        return guessed
    suffix = PurePosixPath(ref.name or "").suffix.lower()
    return suffix if re.match(r"^\.[a-z0-9]{1,10}$", suffix) else ""


def _label(message: Message) -> str:
    return message.label(with_model=True)


class _Writer:
    """One export run: the notes and attachment files written so far."""

    def __init__(self, archive: Archive, run: _folder.Run, all_branches: bool) -> None:
        self.archive = archive
        self.run = run
        self.all_branches = all_branches
        self.notes: set[str] = set()
        self.files = _folder.Attachments(archive, run, _extension)

    def conversation(self, conv: Conversation) -> str:
        name = file_name(conv, self.notes)
        self.notes.add(name)
        self.files.current = conv.id or conversation_id(conv.source_kind, conv.source_id)
        self.run.write_text(name, _Note(self, conv).render(), self.files.current)
        return name

    def attachment(self, ref: AttachmentRef) -> str | None:
        """The relative link to the attachment's copy, made on first use; None if missing."""
        return self.files.link(ref)


class _Note:
    """The Markdown of one conversation."""

    def __init__(self, writer: _Writer, conv: Conversation) -> None:
        self.writer = writer
        self.conv = conv
        self.by_id = {m.source_id: m for m in conv.messages}
        self.in_details = False
        self.revisions: dict[str, list[Message]] = {}

    def render(self) -> str:
        paths, self.revisions = reading_paths(self.conv.messages)
        main = paths[0] if paths and paths[0][0].on_visible_path else []
        others = paths[1:] if main else paths
        blocks = [
            self._front_matter(len(paths)),
            f"# {_inline(self.conv.title or 'Untitled', 300)}",
        ]
        # the conversation's own system prompt (Open WebUI, LibreChat, a Claude project)
        blocks += [
            _details(context_label(r.kind), demote_headings(inert(r.text), 3))
            for r in self.conv.own_context()
        ]
        blocks += [block for m in main for block in self._with_revisions(m, 3)]
        if others:
            blocks.append("## Other branches")
            for number, segment in enumerate(others, start=2):
                blocks += self._branch(number, segment)
        return visible("\n\n".join(blocks) + "\n")

    def _front_matter(self, branches: int) -> str:
        conv = self.conv
        data = {
            "title": conv.title or "Untitled",
            "id": conv.id or conversation_id(conv.source_kind, conv.source_id),
            "source": conv.source_kind,
            "source_id": conv.source_id,
            "created": _iso(conv.created_at),
            "updated": _iso(conv.updated_at),
            "model": conv.model,
            "project": conv.project,
            "archived": conv.archived,
            "starred": conv.starred,
            "gone_upstream": conv.gone_upstream_at,
            "branches": branches,
            "tags": ["freehold", conv.source_kind],
        }
        lines = "".join(f"{key}: {_yaml(value)}\n" for key, value in data.items())
        return f"---\n{lines}---"

    def _branch(self, number: int, segment: list[Message]) -> list[str]:
        parent = self.by_id.get(segment[0].parent_source_id or "")
        if parent is None:
            fork = "a separate root"
        else:
            excerpt = _inline(parent.text, 80)
            fork = f"forks after {_label(parent)} (`{parent.source_id}`): “{excerpt}”"
        head = f"### Branch {number}\n\n*{fork}*"
        if self.writer.all_branches:
            return [head] + [block for m in segment for block in self._with_revisions(m, 4)]
        first = next((m for m in segment if not m.hidden), segment[0])
        summary = f"{_count(len(segment), 'message')}, starting with {_label(first)}: "
        return [head, summary + f"“{_inline(first.text, 200)}”"]

    def _with_revisions(self, message: Message, level: int) -> list[str]:
        """The message, then its earlier versions (``reading_paths``), each folded under
        ``REVISION_LABEL`` (``_message``)."""
        earlier = self.revisions.get(message.source_id, [])
        return [block for m in (message, *earlier) for block in self._message(m, level)]

    def _message(self, message: Message, level: int) -> list[str]:
        self.in_details = message.hidden or message.revision_of is not None
        blocks = self._content(message)
        self.in_details = False
        if not blocks:
            return []
        when = _time(message.created_at)
        status = f" · {message.status}" if message.status != "complete" else ""
        body = demote_headings("\n\n".join(blocks), level)
        if message.hidden:
            summary = f"{_label(message)} · {message.kind()} (hidden){' · ' + when if when else ''}"
            summary += status
            return [_details(summary, body)]
        if message.revision_of is not None:
            summary = f"{REVISION_LABEL} · {_label(message)}{' · ' + when if when else ''}"
            return [_details(summary + status, body)]
        head = f"{'#' * level} {_label(message)}"
        stamp = f"*{when}{status}*" if when or status else ""
        return [f"{head}\n\n{stamp}".rstrip(), body]

    def _content(self, message: Message) -> list[str]:
        shown, unused = message.layout()
        blocks = [
            self._file(ref, image=part.get("type") == "image") if ref else self._part(part)
            for part, ref in shown
        ]
        blocks = [block for block in blocks if block.strip()]
        sources = _sources(message.sources())
        if sources:
            blocks.append(sources)
        for ref in unused:
            blocks.append(
                self._file(ref, image=(ref.sniffed_mime or ref.mime or "").startswith("image/"))
            )
        return blocks

    def _part(self, part: Part) -> str:
        kind = part.get("type")
        render = _PARTS.get(str(kind), _unknown)
        return render(self, part)

    def _file(self, ref: AttachmentRef, *, image: bool) -> str:
        name = _inline(ref.name or ref.pointer.rsplit("/", 1)[-1] or "attachment", 120)
        link = self.writer.attachment(ref)
        if link is None:
            return f"*(missing attachment: {name})*"
        return f"![{name}]({link})" if image else f"[{name}]({link})"


def _text_part(note: _Note, part: Part) -> str:
    return inert(without_citation_marks(str(part.get("text") or "")))


def _code_part(note: _Note, part: Part) -> str:
    language = part.get("language")
    info = language if isinstance(language, str) and _LANGUAGE.match(language) else ""
    return _fence(str(part.get("text") or ""), "" if info == "unknown" else info)


def _output_part(note: _Note, part: Part) -> str:
    text = str(part.get("text") or "")
    return f"*{part_label(part)}:*\n\n{_fence(text)}" if text else ""


def _web_part(note: _Note, part: Part) -> str:
    title = _inline(str(part.get("title") or part.get("url") or part_label(part)), 200)
    head = f"**{_link(part.get('url'), title)}**"
    if part.get("domain"):
        head += f" · {_inline(str(part['domain']), 80)}"
    text = inert(str(part.get("text") or ""))
    return _quote(f"{head}\n\n{text}" if text else head)


def _thought_part(note: _Note, part: Part) -> str:
    text = inert(str(part.get("text") or ""))
    label = part_label(part)
    if note.in_details:
        return f"*{_inline(label, 200)}*\n\n{text}" if text else ""
    return _details(label, text) if text else ""


def _context_part(note: _Note, part: Part) -> str:
    blocks = [
        f"**{label}:**\n\n{inert(str(part[key]))}" for key, label in CONTEXT_FIELDS if part.get(key)
    ]
    return "\n\n".join(blocks)


def _error_part(note: _Note, part: Part) -> str:
    name = f" ({_inline(str(part['name']), 80)})" if part.get("name") else ""
    text = inert(str(part.get("text") or ""))
    head = f"**{part_label(part)}**{name}"
    return _quote(f"{head}:\n\n{text}" if text else head)


def _transcript_part(note: _Note, part: Part) -> str:
    text = inert(str(part.get("text") or ""))
    return f"*({part_label(part)})*\n\n{text}" if text else ""


def _unknown(note: _Note, part: Part) -> str:
    dumped = orjson.dumps(part, option=orjson.OPT_INDENT_2, default=str).decode()
    return _details(part_label(not_understood(part)), _fence(dumped, "json"))


def _sources(sources: dict[str, str]) -> str:
    """A message's citations (``Message.sources``) as a short list of links."""
    if not sources:
        return ""
    links = (_link(url, _inline(title, 200)) for url, title in sources.items())
    return "**Sources:**\n\n" + "\n".join(f"- {link}" for link in links)


_PARTS: dict[str, Callable[[_Note, Part], str]] = {
    "text": _text_part,
    "code": _code_part,
    "execution_output": _output_part,
    "web": _web_part,
    "thought": _thought_part,
    "context": _context_part,
    "error": _error_part,
    "transcript": _transcript_part,
}


def _ours(out: Path) -> bool:
    return _folder.starts_with(out / INDEX, _MARKER, 512)
