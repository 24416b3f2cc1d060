"""PDF export: one PDF per conversation, plus one PDF of the whole selection.

Layout of the output folder::

    all-conversations.pdf                  every conversation of the selection, each on new pages
    2024-05-01-assist-user-c1a2b3c4.pdf    one conversation (the Markdown export's file name)

A PDF reads like the HTML export, because it is made from the same HTML: each message goes
through ``safehtml.Body`` (Markdown, code highlighted by pygments, sources, labels) and
``_pdfnodes`` turns that HTML into data for one fixed Typst template (``pdf.typ``), which
``_typst`` compiles. So a PDF has the title, then date, source and model; the visible path
with one heading per message (role, author, model, time); headings, lists, tables, quotes and
links as the Markdown meant them; code in a monospaced font with the HTML export's colours;
raster images embedded. What the interface hid (system prompts, tool calls, reasoning) is one
grey line each, not dropped; a conversation's own system prompt (``Conversation.own_context``:
Open WebUI's, LibreChat's, a Claude project's instructions) is a labelled panel above the thread.
Other branches follow under "Other branches", each saying which
message it forks from: in full by default (``all_branches=True``), else one summary line.
The PDF has a bookmark per conversation and page numbers ("3 / 12") in the footer.

Every script is drawn with a real font (see ``_typst``: Noto from PyPI packages, fallback per
glyph, shaping for Arabic, Hebrew, Devanagari…). A character no font has is counted, and the
conversation ends with a grey line saying how many were shown as boxes: loud, not silent.

Images: an attachment whose *sniffed* type is PNG, JPEG, GIF or WebP, whose bytes are in the
blob store and which Pillow can read (at most ``MAX_PIXELS``), is embedded from the blob
store, scaled to the text width; any other attachment is the line ``(attachment: name)`` or
``(missing attachment: name)``. Nothing remote is ever fetched; links stay links.

Should Typst refuse a conversation's layout anyway, the conversation is typeset again as plain
text (no images, no tables) with a grey line saying so; only if that fails too does the export
stop, naming the conversation.

Folder rules are those of the other exporters: a non-empty folder is refused unless it holds a
freehold PDF export (its hidden listing file starts with a marker line), which is then replaced
(the listing names the files written, so stale PDFs go and anything else stays); every file is
unlinked before it is written, so a link planted in the folder is never written through.
Conversations are read and laid out one at a time, in order, and typeset by a few threads at
once (Typst releases the GIL), at most a few ahead. Only each conversation's layout data (its
JSON) is kept, for the combined PDF, which is typeset at the end.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typst
from PIL import Image, UnidentifiedImageError

from freehold import storage
from freehold.archive import Archive, conversation_id
from freehold.errors import FreeholdError
from freehold.exporters import _folder
from freehold.exporters._pdfnodes import LONG_RUN, Node, PdfBody, clean, nodes
from freehold.exporters._pdfnodes import Image as Picture
from freehold.exporters._typst import FONT_ENV, Engine, FontBook, find_fonts
from freehold.models import (
    REVISION_LABEL,
    AttachmentRef,
    ContextRecord,
    Conversation,
    Message,
    context_label,
)
from freehold.safehtml import one_line
from freehold.tree import reading_paths

__all__ = [
    "COMBINED",
    "FONT_ENV",
    "FORMAT",
    "MAX_PIXELS",
    "find_fonts",
    "write",
    "write_summary",
]

FORMAT = "pdf"
COMBINED = "all-conversations.pdf"
MAX_PIXELS = 40_000_000
_SHA = re.compile(r"^[0-9a-f]{64}$")
_FORMATS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_TEXT_WIDTH = 493.0  # pt: A4 less 18 mm margins
_IMAGE_HEIGHT = 520.0  # pt: a tall image is scaled to fit about two thirds of a page
_KANA = re.compile("[\u3040-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff]")


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one PDF per conversation and ``all-conversations.pdf``; returns the count.

    ``progress`` is called after each conversation with the number written so far.
    """
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
    """Write one PDF per conversation and ``all-conversations.pdf``; returns what was written,
    removed and left alone (``_folder.Summary``, the rule Markdown follows)."""
    book = find_fonts()
    folder = _folder.Run(out, label="PDF", suffix=".pdf", ours=_ours, attachments=False)
    root = archive.blobs if archive.blobs.is_dir() else out
    run = _Run(folder, _Typesetter(book, root), _Pictures(archive), all_branches, progress)
    run.export(conversations)
    return folder.finish(len(run.written))


def _save(target: Path, pdf: bytes) -> None:
    with storage.written(target) as handle:  # whole, or not there
        handle.write(pdf)


def _ours(out: Path) -> bool:
    return False  # a PDF export is known by its listing's first line alone (``_folder.Run``)


# --- the run -------------------------------------------------------------------------------

# Typst releases the GIL while it typesets: conversations are laid out here, in order, and
# typeset by a few threads at once (each with its own compiler; one cannot be shared).
_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class _Job:
    conv: Conversation
    name: str
    layout: _Layout
    data: bytes
    pdf: Future[bytes | str]


class _Run:
    """One export: conversations in, files out in order, at most a few typeset ahead."""

    def __init__(
        self,
        folder: _folder.Run,
        typesetter: _Typesetter,
        pictures: _Pictures,
        all_branches: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.folder = folder
        self.out = folder.out
        self.typesetter = typesetter
        self.pictures = pictures
        self.all_branches = all_branches
        self.progress = progress
        self.names: set[str] = set()
        self.written: list[str] = []
        self.kept: list[bytes] = []

    def export(self, conversations: Iterable[Conversation]) -> None:
        pending: deque[_Job] = deque()
        with ThreadPoolExecutor(_WORKERS, thread_name_prefix="freehold-pdf") as pool:
            for conv in conversations:
                pending.append(self._start(pool, conv))
                while len(pending) > 2 * _WORKERS:  # bounded: data waits, not the whole export
                    self._finish(pending.popleft())
            while pending:
                self._finish(pending.popleft())
            whole = pool.submit(self.typesetter.document, "freehold archive", self.kept)
            _save(self.out / COMBINED, whole.result())

    def _start(self, pool: ThreadPoolExecutor, conv: Conversation) -> _Job:
        name = _folder.conversation_name(conv, self.names, ".pdf")  # as the .md file is
        self.names.add(name)
        layout = _Layout(self.pictures, self.typesetter.book, self.all_branches)
        data = layout.conversation(conv)
        job = pool.submit(self.typesetter.attempt, conv.title or "Untitled", data)
        return _Job(conv, name, layout, data, job)

    def _finish(self, job: _Job) -> None:
        pdf, data = job.pdf.result(), job.data
        if isinstance(pdf, str):  # Typst refused the layout: once more as plain text, here
            data, pdf = self.typesetter.plainly(job.conv, job.layout, pdf)
        cid = job.conv.id or conversation_id(job.conv.source_kind, job.conv.source_id)
        self.folder.write(job.name, pdf, cid)
        self.kept.append(data)
        self.written.append(job.name)
        if self.progress is not None:
            self.progress(len(self.written))


# --- typesetting ----------------------------------------------------------------------------


class _Typesetter:
    """Layout data to PDF bytes, one Typst compiler per thread; the plain-text retry."""

    def __init__(self, book: FontBook, root: Path) -> None:
        self.book = book
        self.root = root
        self.local = threading.local()

    def document(self, title: str, conversations: list[bytes]) -> bytes:
        fonts = {
            "title": clean(title),
            "fonts": self.book.sans(),
            "mono": self.book.mono(),
            "long": LONG_RUN,
        }
        # the conversations are already JSON: spliced in, not parsed and dumped again
        data = orjson.dumps(fonts)[:-1] + b',"convs":[' + b",".join(conversations) + b"]}"
        engine = getattr(self.local, "engine", None)
        if engine is None:
            engine = self.local.engine = Engine(self.book, self.root)
        try:
            return engine.pdf(data.decode())
        except typst.TypstError as error:
            raise FreeholdError(
                f"{title}: the PDF could not be typeset ({_reason(error)}) — "
                "export fewer conversations (--since, --query, --id)"
            ) from error

    def attempt(self, title: str, data: bytes) -> bytes | str:
        """The PDF, or why Typst refused the layout (then the caller retries plainly)."""
        try:
            return self.document(title, [data])
        except FreeholdError as error:
            return _reason(error.__cause__ or error)

    def plainly(self, conv: Conversation, layout: _Layout, reason: str) -> tuple[bytes, bytes]:
        """The conversation as plain text, saying why: its layout data and its PDF."""
        title = conv.title or "Untitled"
        plain = layout.conversation(conv, plain=reason)
        try:
            return plain, self.document(title, [plain])
        except FreeholdError as again:
            raise FreeholdError(
                f"conversation {conv.id or conv.source_id} could not be typeset as PDF, "
                f"even as plain text ({_reason(again.__cause__ or again)}) — "
                "leave it out with --query or --id and report it"
            ) from again


def _reason(error: BaseException) -> str:
    return one_line(str(getattr(error, "message", None) or error), 160)


# --- images ---------------------------------------------------------------------------------


class _Pictures:
    """Which attachments can be embedded, and how big; each blob is checked once."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.seen: dict[str, Picture | None] = {}

    def __call__(self, ref: AttachmentRef) -> Picture | None:
        kind = _FORMATS.get(ref.sniffed_mime or "")
        sha = ref.sha256 or ""
        if kind is None or not _SHA.match(sha):
            return None
        if sha not in self.seen:
            self.seen[sha] = self._check(sha, kind)
        return self.seen[sha]

    def _check(self, sha: str, kind: str) -> Picture | None:
        path = self.archive.blob_path(sha)
        try:
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS or min(width, height) <= 0:
                    return None
                image.verify()
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
            return None  # missing, unreadable or hostile: named instead of shown
        size = min(width * 0.75, _TEXT_WIDTH)  # 96 dpi, as a browser shows it
        if size * height / width > _IMAGE_HEIGHT:
            size = _IMAGE_HEIGHT * width / height
        return f"/{sha[:2]}/{sha}", kind, round(max(size, 1.0), 2)


# --- one conversation -----------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _note(text: str) -> dict[str, Any]:
    return {"k": "note", "c": clean(one_line(text, 400))}


def _lead(conv: Conversation) -> str:
    """Which Noto Sans CJK face should lead: Japanese with kana, Korean with hangul."""
    sample = (conv.title or "") + "".join(m.text[:2000] for m in conv.messages[:50])
    kana, hangul = len(_KANA.findall(sample)), len(_HANGUL.findall(sample))
    return "ja" if kana > hangul else "ko" if hangul else "zh"


class _Layout:
    """The layout data (JSON bytes) of one conversation."""

    def __init__(self, pictures: _Pictures, book: FontBook, all_branches: bool) -> None:
        self.pictures = pictures
        self.book = book
        self.all_branches = all_branches
        self.plain = False
        self.body = PdfBody(pictures)
        self.revisions: dict[str, list[Message]] = {}

    def conversation(self, conv: Conversation, plain: str | None = None) -> bytes:
        self.plain = plain is not None
        self.body = PdfBody(self.pictures)
        paths, self.revisions = reading_paths(conv.messages)
        main = paths[0] if paths and paths[0][0].on_visible_path else []
        others = paths[1:] if main else paths
        blocks: list[Node] = []
        if plain is not None:
            blocks.append(_note(f"Shown as plain text: the full layout failed ({plain})."))
        blocks += [self._context(record) for record in conv.own_context()]
        for message in main:
            blocks += self._with_revisions(message)
        if others:
            blocks.append({"k": "sec", "c": "Other branches"})
            by_id = {m.source_id: m for m in conv.messages}
            for number, segment in enumerate(others, start=2):
                blocks += self._branch(number, segment, by_id)
        data = {
            "title": clean(one_line(conv.title or "Untitled", 300)),
            "meta": clean(self._meta(conv, len(paths))),
            "fonts": self.book.sans(_lead(conv)),
            "c": blocks,
        }
        return self._with_losses(data)

    def _with_losses(self, data: dict[str, Any]) -> bytes:
        """The JSON, ending with a grey line when some characters have no font at all."""
        dumped = orjson.dumps(data)
        missing = _undrawable(dumped.decode(), self.book)
        if not missing:
            return dumped
        total = sum(missing.values())
        sample = " ".join(f"U+{ord(char):04X}" for char in list(missing)[:8])
        line = f"{_count(total, 'character')} no font here can draw are shown as boxes ({sample})."
        data["c"].append(_note(line))
        return orjson.dumps(data)

    def _meta(self, conv: Conversation, branches: int) -> str:
        items = [_time(conv.created_at) or "undated", conv.source_kind]
        items += [value for value in (conv.model, conv.project) if value]
        if branches > 1:
            items.append(f"{branches} branches")
        return " · ".join(items)

    def _branch(self, number: int, segment: list[Message], by_id: dict[str, Message]) -> list[Node]:
        parent = by_id.get(segment[0].parent_source_id or "")
        if parent is None:
            fork = "A separate root"
        else:
            fork = f"Forks after {parent.label(with_model=True)}: “{one_line(parent.text, 80)}”"
        blocks: list[Node] = [{"k": "branch", "c": f"Branch {number}"}, _note(fork)]
        if self.all_branches:
            for message in segment:
                blocks += self._with_revisions(message)
            return blocks
        first = next((m for m in segment if not m.hidden), segment[0])
        summary = f"{_count(len(segment), 'message')}, starting with {first.label()}: "
        return [*blocks, _note(summary + f"“{one_line(first.text, 200)}”")]

    def _with_revisions(self, message: Message) -> list[Node]:
        """The message, then its earlier versions (``reading_paths``) under ``REVISION_LABEL``."""
        earlier = self.revisions.get(message.source_id, [])
        return [node for m in (message, *earlier) for node in self._message(m)]

    def _message(self, message: Message) -> list[Node]:
        status = f" · {message.status}" if message.status != "complete" else ""
        when = _time(message.created_at)
        label = message.label(with_model=True)
        if message.revision_of is not None:
            label = f"{REVISION_LABEL} · {label}"
        if message.hidden:
            if not _shows_anything(message):
                return []
            head = f"{label} · {message.kind()} (hidden){' · ' + when if when else ''}{status}"
            return [_note(f"{head}: {one_line(_gist(message), 160)}")]
        body = self._body(message)
        if not body:
            return []
        return [{"k": "msg", "head": clean(label), "when": when + status, "c": body}]

    def _body(self, message: Message) -> list[Node]:
        if self.plain:
            text = clean(message.text.strip())
            return [{"k": "p", "c": text}] if text else []
        return nodes("\n".join(self.body.blocks(message)), self.body.parked)

    def _context(self, record: ContextRecord) -> Node:
        """The conversation's own system prompt: a labelled panel above the thread."""
        if self.plain:
            body: list[Node] = [{"k": "p", "c": clean(record.text.strip())}]
        else:
            body = nodes(self.body.markdown(record.text), self.body.parked)
        return {"k": "ctx", "head": clean(context_label(record.kind)), "c": body}


def _gist(message: Message) -> str:
    """What a hidden message is about: its parts' summaries (reasoning has them), else text."""
    summaries = [p["summary"] for p in message.parts if isinstance(p.get("summary"), str)]
    return "; ".join(summaries) or message.text


def _shows_anything(message: Message) -> bool:
    """Whether a hidden message has something to summarise (empty system stubs have not)."""
    return bool(message.attachments or message.text.strip())


_INVISIBLE = {"Zs", "Zl", "Zp", "Cf", "Cc"}


def _undrawable(text: str, book: FontBook) -> dict[str, int]:
    """Characters of ``text`` no font covers (spacing and format characters need none)."""
    seen = {ord(char) for char in set(text) if unicodedata.category(char) not in _INVISIBLE}
    missing = {chr(code): text.count(chr(code)) for code in book.undrawable(seen)}
    return dict(sorted(missing.items(), key=lambda item: (-item[1], item[0])))
