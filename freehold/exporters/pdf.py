"""PDF export: one PDF per conversation, plus one PDF of the whole selection.

Layout of the output folder::

    all-conversations.pdf                  every conversation of the selection, each on new pages
    2024-05-01-assist-user-c1a2b3c4.pdf    one conversation (the Markdown export's file name)

Written with fpdf2. A PDF is for reading and printing, so it shows what the person saw, like the
Markdown and HTML exports: the title, then date, source and model; then the visible path, one
heading per message (role, author, model, time) followed by its text. Code and program output are
set in the monospace font; Markdown is shown as the plain text it is. What the interface hid
(system prompts, tool calls, reasoning, custom instructions) is summarised in one grey line each
(kind and the start of its text), not dropped. Other branches follow under "Other branches",
each saying which message it forks from: in full by default (``all_branches=True``), else one
summary line (message count and first message).

Attachments: a raster image whose *sniffed* type is PNG or JPEG is embedded from the archive's
blob store (``archive.blob_path(sha)``), scaled to the page width (and to the page height when
tall); any other attachment, or one whose bytes are missing or unreadable, is the line
``(attachment: name)``. Nothing remote is ever fetched: links are printed as text.

Fonts: PDF's built-in fonts only cover Latin-1, so the text is set in DejaVu Sans (and DejaVu
Sans Mono for code), looked up in the first folder that holds both ``DejaVuSans.ttf`` and
``DejaVuSansMono.ttf`` among ``$FREEHOLD_PDF_FONT_DIR`` and ``FONT_DIRS`` (Debian's
``fonts-dejavu-core``, Arch, macOS, Windows). Without them the export stops with a
``FreeholdError`` before touching the folder. A character the font has no glyph for (emoji, CJK,
control characters) is printed as ``?``; each PDF ends with a grey line saying how many were
replaced, so the loss is visible rather than silent. No fallback font is needed, nothing crashes.

Folder rules are those of the other exporters: a non-empty folder is refused unless it holds a
freehold PDF export (its hidden listing file starts with a marker line), which is then replaced
(the listing names the files written, so stale PDFs go and anything else stays); every file is
unlinked before it is written, so a link planted in the folder is never written through.
Conversations are read one at a time and each one's PDF is written and freed at once; only the
combined PDF grows with the selection (fpdf2 keeps a document in memory until it is written).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont
from PIL import Image, UnidentifiedImageError

from freehold.archive import Archive
from freehold.errors import FreeholdError
from freehold.exporters import _folder
from freehold.exporters.markdown import file_name
from freehold.models import AttachmentRef, Conversation, Message, Part
from freehold.tree import branch_paths

__all__ = [
    "COMBINED",
    "FONT_DIRS",
    "FONT_ENV",
    "FORMAT",
    "Fonts",
    "find_fonts",
    "pdf_name",
    "write",
]

FORMAT = "pdf"
COMBINED = "all-conversations.pdf"
FONT_ENV = "FREEHOLD_PDF_FONT_DIR"
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/Library/Fonts",
    "C:\\Windows\\Fonts",
)
_SANS = "DejaVuSans.ttf"
_SANS_BOLD = "DejaVuSans-Bold.ttf"
_MONO = "DejaVuSansMono.ttf"
_MARKER = "# freehold_export: pdf"
_LISTED = _folder.listed(".pdf", attachments=False)
_SHA = re.compile(r"^[0-9a-f]{64}$")
_CITE_MARK = re.compile("\ue200[^\ue201]{0,2000}\ue201")
_EMBEDDED = {"image/png", "image/jpeg"}
_CONTEXT_LABELS = (
    ("about_user", "About the user"),
    ("about_model", "How to respond"),
    ("memory", "Memory"),
    ("instructions", "Instructions"),
)
_TEXTUAL = {"text", "transcript", "code", "execution_output", "thought"}
_GREY = (110, 110, 110)
_BLACK = (0, 0, 0)
_LINE = 5.0  # mm per line of body text


@dataclass(frozen=True, slots=True)
class Fonts:
    """The TTF files used, and the code points the text font has glyphs for."""

    sans: Path
    sans_bold: Path
    mono: Path
    covered: frozenset[int]


def find_fonts() -> Fonts:
    """DejaVu Sans and Sans Mono from ``$FREEHOLD_PDF_FONT_DIR`` or ``FONT_DIRS``."""
    env = os.environ.get(FONT_ENV)
    for folder in [Path(d) for d in ([env] if env else []) + list(FONT_DIRS)]:
        sans, mono = folder / _SANS, folder / _MONO
        if sans.is_file() and mono.is_file():
            bold = folder / _SANS_BOLD
            return Fonts(sans, bold if bold.is_file() else sans, mono, _coverage(sans, mono))
    raise FreeholdError(
        f"PDF export needs the DejaVu fonts ({_SANS}, {_MONO}): install fonts-dejavu-core "
        f"or set {FONT_ENV} to the folder that holds them"
    )


def _coverage(sans: Path, mono: Path) -> frozenset[int]:
    """Code points both fonts can draw (so text may move between them safely)."""
    probe = FPDF()
    probe.add_font("sans", "", str(sans))
    probe.add_font("mono", "", str(mono))
    maps = [getattr(probe.fonts[key], "cmap", {}) for key in ("sans", "mono")]
    _close_fonts(probe)
    return frozenset(maps[0]) & frozenset(maps[1])


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
    fonts = find_fonts()
    previous = _folder.prepare(out, label="PDF", ours=_ours, listed=_LISTED)
    # an interrupted run still leaves a folder this export may reuse
    _folder.finish(out, set(), previous, header=_MARKER)
    combined = _new_document(fonts, "freehold archive")
    written: list[str] = []
    for conv in conversations:
        name = pdf_name(conv, set(written))
        single = _new_document(fonts, conv.title or "Untitled")
        _Renderer(archive, fonts, single, all_branches).conversation(conv)
        _save(single, out / name)
        _Renderer(archive, fonts, combined, all_branches).conversation(conv)
        written.append(name)
        if progress is not None:
            progress(len(written))
    if not written:
        _empty_page(combined)
    _save(combined, out / COMBINED)
    _folder.finish(out, previous, {*written, COMBINED}, header=_MARKER)
    return len(written)


def pdf_name(conv: Conversation, taken: set[str]) -> str:
    """``<date>-<slug>-<id8>.pdf``: the Markdown export's safe name, not in ``taken``."""
    stems = {name.removesuffix(".pdf") + ".md" for name in taken}
    return file_name(conv, stems).removesuffix(".md") + ".pdf"


# --- the folder ---------------------------------------------------------------------------


def _save(pdf: FPDF, target: Path) -> None:
    target.unlink(missing_ok=True)  # never write through a link planted in the folder
    pdf.output(str(target))
    _close_fonts(pdf)


def _close_fonts(pdf: FPDF) -> None:
    """fpdf2 closes only the fonts a document used; close the others' files too."""
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.close()


# --- the document -------------------------------------------------------------------------


def _new_document(fonts: Fonts, title: str) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.add_font("sans", "", str(fonts.sans))
    pdf.add_font("sans", "B", str(fonts.sans_bold))
    pdf.add_font("mono", "", str(fonts.mono))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_creator("freehold")
    pdf.set_title(_one_line(title, 200))
    return pdf


def _empty_page(pdf: FPDF) -> None:
    pdf.add_page()
    pdf.set_font("sans", "", 11)
    pdf.multi_cell(0, _LINE, "No conversations selected.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


class _Clean:
    """Replaces what the font cannot draw with ``?``, counting the replacements."""

    def __init__(self, covered: frozenset[int]) -> None:
        self.covered = covered
        self.replaced = 0

    def __call__(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\t", "    ")
        out = []
        for char in text:
            if char == "\n" or (ord(char) in self.covered and char.isprintable()):
                out.append(char)
            else:
                out.append("?")
                self.replaced += 1
        return "".join(out)


# --- formatting helpers -------------------------------------------------------------------


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _label(message: Message) -> str:
    return message.label(with_model=True)


def _has_content(message: Message) -> bool:
    """Whether a message would draw anything (empty system stubs are left out)."""
    if message.attachments:
        return True
    for part in message.parts:
        kind = part.get("type")
        if kind == "citation":
            continue
        if kind not in _TEXTUAL or part.get("pointer") or str(part.get("text") or "").strip():
            return True
    return False


def _attachment_name(ref: AttachmentRef) -> str:
    return _one_line(ref.name or ref.pointer.rsplit("/", 1)[-1] or "attachment", 120)


# --- one conversation ---------------------------------------------------------------------


class _Renderer:
    """Draws one conversation onto a document, starting on a new page."""

    def __init__(self, archive: Archive, fonts: Fonts, pdf: FPDF, all_branches: bool) -> None:
        self.archive = archive
        self.pdf = pdf
        self.all_branches = all_branches
        self.clean = _Clean(fonts.covered)

    def conversation(self, conv: Conversation) -> None:
        self.pdf.add_page()
        paths = branch_paths(conv.messages)
        main = paths[0] if paths and paths[0][0].on_visible_path else []
        others = paths[1:] if main else paths
        self._heading(conv.title or "Untitled", 16)
        self._grey(self._meta(conv, len(paths)))
        for message in main:
            self._message(message)
        if others:
            self._heading("Other branches", 13)
            by_id = {m.source_id: m for m in conv.messages}
            for number, segment in enumerate(others, start=2):
                self._branch(number, segment, by_id)
        if self.clean.replaced:
            noun = _count(self.clean.replaced, "character")
            self._grey(f"{noun} the font cannot show were printed as “?”.")

    def _meta(self, conv: Conversation, branches: int) -> str:
        items = [_time(conv.created_at) or "undated", conv.source_kind]
        items += [value for value in (conv.model, conv.project) if value]
        if branches > 1:
            items.append(f"{branches} branches")
        return " · ".join(items)

    def _branch(self, number: int, segment: list[Message], by_id: dict[str, Message]) -> None:
        parent = by_id.get(segment[0].parent_source_id or "")
        if parent is None:
            fork = "A separate root"
        else:
            fork = f"Forks after {_label(parent)}: “{_one_line(parent.text, 80)}”"
        self._heading(f"Branch {number}", 12)
        self._grey(fork)
        if self.all_branches:
            for message in segment:
                self._message(message)
            return
        first = next((m for m in segment if not m.hidden), segment[0])
        summary = f"{_count(len(segment), 'message')}, starting with {_label(first)}: "
        self._text(summary + f"“{_one_line(first.text, 200)}”")

    def _message(self, message: Message) -> None:
        status = f" · {message.status}" if message.status != "complete" else ""
        when = _time(message.created_at)
        if message.hidden:
            if _has_content(message):
                head = f"{_label(message)} · {message.content_type}{' · ' + when if when else ''}"
                self._grey(f"(hidden) {head}{status}: {_one_line(message.text, 160)}")
            return
        if not _has_content(message):
            return
        self.pdf.ln(2)
        self._heading(f"{_label(message)}{'  ' + when if when else ''}{status}", 11)
        self._content(message)

    def _content(self, message: Message) -> None:
        shown, unused = message.layout()
        for part, ref in shown:
            if ref is not None:
                self._attachment(ref)
            else:
                self._part(part)
        for ref in unused:
            self._attachment(ref)

    def _part(self, part: Part) -> None:
        kind = part.get("type")
        text = str(part.get("text") or "")
        if kind in ("code", "execution_output"):
            if text:
                self._mono(text)
        elif kind == "thought":
            self._grey(f"(thought) {_one_line(str(part.get('summary') or text), 160)}")
        elif kind == "context":
            for key, label in _CONTEXT_LABELS:
                if part.get(key):
                    self._text(f"{label}: {part[key]}")
        elif kind == "web":
            head = str(part.get("title") or "Web result")
            url = part.get("url")
            self._text(f"{head}{' <' + url + '>' if isinstance(url, str) else ''}\n{text}")
        elif kind == "error":
            self._text(f"Error{' (' + str(part['name']) + ')' if part.get('name') else ''}: {text}")
        elif kind in ("text", "transcript"):
            if text.strip():
                self._text(_CITE_MARK.sub("", text))
        else:
            self._grey(f"(content not understood: {part.get('content_type') or kind})")

    def _attachment(self, ref: AttachmentRef) -> None:
        name = _attachment_name(ref)
        path = self._image_path(ref)
        if path is None or not self._image(path):
            self._grey(f"(attachment: {name})")

    def _image_path(self, ref: AttachmentRef) -> Path | None:
        if ref.sniffed_mime not in _EMBEDDED or ref.sha256 is None or not _SHA.match(ref.sha256):
            return None
        path = self.archive.blob_path(ref.sha256)
        return path if path.is_file() else None

    def _image(self, path: Path) -> bool:
        """Embed a raster image scaled to the page; False when it cannot be read."""
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            return False
        if width <= 0 or height <= 0:
            return False
        pdf = self.pdf
        w = pdf.epw
        h = w * height / width
        if h > pdf.eph * 0.8:
            h = pdf.eph * 0.8
            w = h * width / height
        pdf.image(str(path), w=w, h=h)
        pdf.ln(1)
        return True

    # --- drawing text ---

    def _heading(self, text: str, size: float) -> None:
        self._draw(text, "sans", "B", size, _BLACK, size * 0.5)

    def _text(self, text: str) -> None:
        self._draw(text, "sans", "", 10, _BLACK, _LINE)

    def _mono(self, text: str) -> None:
        self._draw(text, "mono", "", 9, _BLACK, _LINE * 0.9)

    def _grey(self, text: str) -> None:
        self._draw(_one_line(text, 400), "sans", "", 9, _GREY, _LINE * 0.9)

    def _draw(
        self,
        text: str,
        family: str,
        style: str,
        size: float,
        colour: tuple[int, int, int],
        height: float,
    ) -> None:
        pdf = self.pdf
        pdf.set_font(family, style, size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(0, height, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*_BLACK)


def _ours(out: Path) -> bool:
    lines = _folder.read_listing(out)
    return bool(lines) and lines[0] == _MARKER
