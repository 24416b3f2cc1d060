"""Untrusted archive content to safe HTML: shared by the HTML export and the web app.

Everything in an archive is hostile (DESIGN §7), so there is one way to turn it into HTML:

- a person's text (a ``user`` message) is shown as typed, escaped, spaces and line ends kept
  (``verbatim``), as the chat showed it;
- any other message text is Markdown rendered by cmark-gfm (CommonMark plus tables and
  strikethrough, in safe mode; raw HTML shown as text, as markdown-it does with html off; no
  linkify) and then cleaned by nh3 with the small allow-list ``_TAGS`` / ``_ATTRIBUTES``: no
  ``img``, no ``style``, classes only on ``pre``/``code``/``span``; ``href`` only for http,
  https and mailto, and every link gets ``rel="noopener noreferrer"``;
- Markdown images are never loaded: they become plain links (``[image: alt]``) that nh3 then
  checks like any other link, so ``data:`` and remote images are neither fetched nor shown;
- code is highlighted by pygments with CSS classes (no inline styles) and escaped by it;
- elements nested deeper than ``MAX_DEPTH`` (64) are unwrapped before nh3 sees them, their text
  kept in place (``cap_depth``): nh3's time grows with the square of the depth;
- every other title, text, file name and URL goes through ``html.escape``;
- an attachment is an ``<img>`` only when its *sniffed* type is a raster image (png, jpeg, gif,
  webp); anything else is a download link. Where the file lives is the caller's business: it
  passes a ``link`` function (``None`` when the bytes are missing).

``Body`` renders one message's parts; labels go through a ``translate`` function so the web app
can show them in the reader's language.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
from collections.abc import Callable
from itertools import accumulate
from typing import Any

import cmarkgfm  # type: ignore[import-untyped,unused-ignore]
import nh3
import orjson
from pygments import highlight  # type: ignore[import-untyped,unused-ignore]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped,unused-ignore]
from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped,unused-ignore]
from pygments.lexers.special import TextLexer  # type: ignore[import-untyped,unused-ignore]
from pygments.util import ClassNotFound  # type: ignore[import-untyped,unused-ignore]

from freehold.models import (
    CONTEXT_FIELDS,
    AttachmentRef,
    Message,
    Part,
    not_understood,
    part_label,
    without_citation_marks,
)

__all__ = [
    "MAX_DEPTH",
    "RASTER",
    "RUNNABLE",
    "Body",
    "cap_depth",
    "escape",
    "highlight_code",
    "highlight_css",
    "lexer",
    "link",
    "one_line",
    "render_markdown",
]

RASTER = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
# File extensions a browser opens and runs (or renders with scripts) when the file is opened
# from the downloads folder: a downloaded attachment never keeps one.
RUNNABLE = {".htm", ".html", ".xhtml", ".xht", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".xslt"}
RUNNABLE |= {".js", ".mjs", ".hta", ".mht", ".mhtml", ".swf", ".pdf"}
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)

# The sanitiser's allow-list: what CommonMark (plus tables and strikethrough) can produce,
# minus images (made links) and raw HTML (off). Classes only carry pygments' token names.
_TAGS = {"a", "p", "br", "hr", "strong", "em", "s", "del", "code", "pre", "span", "blockquote"}
_TAGS |= {"ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
_TAGS |= {"table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "pre": {"class"}, "code": {"class"}}
_ATTRIBUTES["span"] = {"class"}
_SCHEMES = {"http", "https", "mailto"}

_MEMO_CODE = 16_384  # Body remembers highlighted blocks up to this many characters,
_MEMO_BLOCKS = 2_048  # and this many of them

Translate = Callable[[str], str]
Linker = Callable[[AttachmentRef], "str | None"]


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def link(url: Any, label: str) -> str:
    """An escaped link for http(s) URLs; anything else is shown as escaped text."""
    if not isinstance(url, str) or not re.match(r"^https?://", url, re.IGNORECASE):
        return escape(label)
    return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(label)}</a>'


def _details(summary: str, body: str, css: str = "hidden") -> str:
    return f'<details class="{css}">\n<summary>{escape(summary)}</summary>\n{body}\n</details>'


# --- markdown and code ---------------------------------------------------------------------


_FORMATTER = HtmlFormatter(nowrap=True)


@functools.lru_cache(maxsize=64)
def lexer(language: str) -> Any:
    """pygments' lexer for a code block's language name; plain text when it knows none."""
    try:
        return get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        return TextLexer()


def highlight_code(code: str, language: str = "") -> str:
    """Code as ``<pre class="highlight"><code>`` with pygments' token classes, escaped."""
    spans = highlight(code, lexer(language.strip()), _FORMATTER)
    return f'<pre class="highlight"><code>{spans}</code></pre>\n'


@functools.cache
def highlight_css() -> str:
    """pygments' classes for ``.highlight``: light, then dark under prefers-color-scheme."""
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="github-dark").get_style_defs(".highlight")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"


# cmark-gfm's safe mode drops raw HTML ("<!-- raw HTML omitted -->"); a chat archive must show
# it as text instead, the way markdown-it does with html off. So every "<" that does not open an
# autolink is swapped for a noncharacter the text does not hold, which starts neither a tag nor
# anything else in Markdown, and the swap is undone as "&lt;" in the HTML.
_NOT_AUTOLINK = re.compile(
    r"(?<!\]\()<(?![A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*>"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*>)"
)
_STAND_INS = [chr(code) for code in range(0xFDD0, 0xFDF0)]  # Unicode's noncharacters
_EXTENSIONS = ["table", "strikethrough"]


def _cmark(text: str) -> str:
    """CommonMark (cmark-gfm, safe mode) plus tables and strikethrough; raw HTML as text."""
    stand_in = next((c for c in _STAND_INS if c not in text), None)
    if stand_in is None:  # all 32 noncharacters in one message: U+FDD0 is shown as U+FFFD
        stand_in, text = "\ufdd0", text.replace("\ufdd0", "\ufffd")
    swapped = _NOT_AUTOLINK.sub(stand_in, text)
    out: str = cmarkgfm.markdown_to_html_with_extensions(swapped, extensions=_EXTENSIONS)
    return out.replace(stand_in, "&lt;")


_render = _cmark

# What the renderer makes of images and code blocks: its own output, attributes and text
# escaped by it, so these patterns are exact. Anything they miss is still vetted by nh3.
_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")? />')
_CODE_BLOCK = re.compile(r'<pre><code(?: class="language-([^"]*)")?>(.*?)</code></pre>\n?', re.S)
# Code blocks wait outside nh3 behind a slot nobody can forge: a random word per process.
_SLOT = f"fh{secrets.token_hex(12)}n"
_SLOT_BACK = re.compile(f"<pre>{_SLOT}(\\d+)</pre>")


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    if name == "href":
        return value if _SAFE_URL.match(value.strip()) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    attribute_filter=_keep_attribute,
    url_schemes=_SCHEMES,
    link_rel="noopener noreferrer",
)


def _image_as_link(match: re.Match[str]) -> str:
    """A Markdown image is never loaded: it becomes a link that nh3 then vets."""
    return f'<a href="{match[1]}">[image: {match[2] or "image"}]</a>'


# nh3 (html5ever) takes time quadratic in nesting depth: 100,000 nested ">" took 53 s. So the
# renderer's HTML is flattened past MAX_DEPTH before nh3 sees it. cmark writes every "<" of
# text, code and attributes as "&lt;", so each "<" in its output starts a tag and _TAG is exact.
MAX_DEPTH = 64
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*>")
_NESTING = re.compile(r"<(/?)[A-Za-z][^>]*(?<!/)>")  # every tag but cmark's "<br />" and such
_STEP = {"": 1, "/": -1}.__getitem__
_VOID = {"br", "hr", "img", "input"}
_LEAVES = {"pre", "code"}  # never unwrapped: a parked code block must stay whole
_BLOCKS = {"p", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre"}
_BLOCKS |= {"ul", "ol", "table"}
_BREAK = "<br />\n"


def cap_depth(out: str, limit: int = MAX_DEPTH) -> str:
    """The renderer's well-formed HTML with every element nested deeper than ``limit``
    unwrapped: its text stays, in place; a block that starts or ends down there breaks the
    line (once, between words)."""
    # Two cheap looks first (a normal page is 1,000 of these): fewer elements than the limit,
    # or a depth counted by C loops, cannot need the walk below.
    if out.count("<") - out.count("</") <= limit:
        return out
    if max(accumulate(map(_STEP, _NESTING.findall(out)))) <= limit:
        return out
    return _unwrap(out, limit)


def _unwrap(out: str, limit: int) -> str:
    pieces: list[str] = []
    kept: list[bool] = []  # for each open element, whether its tags were kept
    depth = position = 0
    text = blank = False  # words since the last line break; the last piece is white space
    for tag in _TAG.finditer(out):
        between, position = out[position : tag.start()], tag.end()
        if between and not (blank and between.isspace()):  # unwrapped tags leave no gaps
            pieces.append(between)
            blank = between.isspace()
            text = text or not blank
        closing, name = tag[1] == "/", tag[2].lower()
        if name in _VOID or tag[0].endswith("/>"):
            keep = True
        elif not closing:
            keep = depth < limit or name in _LEAVES
            kept.append(keep)
            depth += keep
        elif kept:
            keep = kept.pop()
            depth -= keep
        else:
            keep = True  # a stray end tag: nh3 deals with it
        if keep:
            pieces.append(tag[0])
            blank, text = False, text and name not in _BLOCKS
        elif text and name in _BLOCKS:
            pieces.append(_BREAK)
            text, blank = False, True
    pieces.append(out[position:])
    return "".join(pieces)


def render_markdown(text: str, highlight: Callable[[str, str], str] | None = None) -> str:
    """Untrusted Markdown to safe HTML: cmark-gfm (raw HTML shown as text), then nh3.

    Code blocks are taken out before nh3 and put back highlighted (by ``highlight``, default
    ``highlight_code``): pygments escapes them itself, and nh3 need not re-parse thousands of
    token ``<span>`` s. Elements nested deeper than ``MAX_DEPTH`` are unwrapped first
    (``cap_depth``): nh3's time grows with the square of the depth.
    """
    try:
        out = _render(text)
    except UnicodeEncodeError:  # a lone surrogate: cmark takes UTF-8 only
        out = _render(re.sub("[\ud800-\udfff]", "\ufffd", text))
    out = _IMAGE.sub(_image_as_link, out)
    codes: list[str] = []
    paint = highlight or highlight_code

    def park(match: re.Match[str]) -> str:
        codes.append(paint(html.unescape(match[2]), html.unescape(match[1] or "")))
        return f"<pre>{_SLOT}{len(codes) - 1}</pre>"

    out = _CLEANER.clean(cap_depth(_CODE_BLOCK.sub(park, out)))
    return _SLOT_BACK.sub(lambda match: codes[int(match[1])], out) if codes else out


# --- one message's body --------------------------------------------------------------------


def _same(text: str) -> str:
    return text


class Body:
    """Renders the parts of messages as safe HTML blocks.

    ``link`` gives the URL of an attachment's bytes (None when they are missing);
    ``translate`` turns the English labels into the reader's language.
    """

    def __init__(self, link: Linker, translate: Translate = _same) -> None:
        self.link = link
        self.t = translate
        self.in_details = False
        self.verbatim = False  # a person's own words: shown as typed, not read as Markdown
        self.painted: dict[tuple[str, str], str] = {}

    def highlight(self, code: str, language: str = "") -> str:
        """``highlight_code``, once per distinct small block: conversations repeat their code."""
        if len(code) > _MEMO_CODE:
            return highlight_code(code, language)
        key = (code, language)
        done = self.painted.get(key)
        if done is None:
            if len(self.painted) >= _MEMO_BLOCKS:
                self.painted.clear()
            done = self.painted[key] = highlight_code(code, language)
        return done

    def markdown(self, text: str) -> str:
        return render_markdown(text, self.highlight)

    def blocks(self, message: Message) -> list[str]:
        """The message's parts, citations gathered as a list of sources, then unused files."""
        self.in_details = message.hidden
        self.verbatim = message.role == "user"
        shown, unused = message.layout()
        blocks = [self.file(ref) if ref else self._part(part) for part, ref in shown]
        blocks = [block for block in blocks if block.strip()]
        sources = self._sources(message.sources())
        if sources:
            blocks.append(sources)
        blocks += [self.file(ref) for ref in unused]
        self.in_details = self.verbatim = False
        return blocks

    def _part(self, part: Part) -> str:
        render = _PARTS.get(str(part.get("type")), Body._unknown)
        return render(self, part)

    def file(self, ref: AttachmentRef) -> str:
        name = one_line(ref.name or ref.pointer.rsplit("/", 1)[-1] or "attachment", 120)
        url = self.link(ref)
        if url is None:
            missing = self.t("missing attachment")
            return f'<p class="missing"><em>({escape(missing)}: {escape(name)})</em></p>'
        if ref.sniffed_mime in RASTER:
            return (
                f'<figure><a href="{escape(url)}"><img src="{escape(url)}" alt="{escape(name)}">'
                f"</a><figcaption>{escape(name)}</figcaption></figure>"
            )
        return f'<p class="file"><a href="{escape(url)}" download>{escape(name)}</a></p>'

    def _text(self, part: Part) -> str:
        text = without_citation_marks(str(part.get("text") or ""))
        if self.verbatim and text.strip():
            # What a person typed, as the chat showed it (ChatGPT, Claude, ``show``): escaped,
            # its spaces kept by the ``verbatim`` class and its line ends as <br>.
            lines = escape(text).replace("\r\n", "\n").split("\n")
            return f'<p class="verbatim">{"<br>".join(lines)}</p>'
        return self.markdown(text)

    def _code(self, part: Part) -> str:
        language = part.get("language")
        name = language if isinstance(language, str) and language != "unknown" else ""
        return self.highlight(str(part.get("text") or ""), name)

    def _output(self, part: Part) -> str:
        text = str(part.get("text") or "")
        label = escape(part_label(part, self.t))
        return f"<p><em>{label}:</em></p>\n{self.highlight(text)}" if text else ""

    def _web(self, part: Part) -> str:
        title = one_line(str(part.get("title") or part.get("url") or part_label(part, self.t)), 200)
        head = f"<p><strong>{link(part.get('url'), title)}</strong>"
        if part.get("domain"):
            head += f" · {escape(one_line(str(part['domain']), 80))}"
        text = str(part.get("text") or "")
        return f"<blockquote>\n{head}</p>\n{self.markdown(text) if text else ''}\n</blockquote>"

    def _thought(self, part: Part) -> str:
        text = str(part.get("text") or "")
        label = one_line(part_label(part, self.t), 200)
        if not text:
            return ""
        if self.in_details:
            return f"<p><em>{escape(label)}</em></p>\n{self.markdown(text)}"
        return _details(label, self.markdown(text))

    def _context(self, part: Part) -> str:
        blocks = [
            f"<p><strong>{escape(self.t(label))}:</strong></p>\n{self.markdown(str(part[key]))}"
            for key, label in CONTEXT_FIELDS
            if part.get(key)
        ]
        return "\n".join(blocks)

    def _error(self, part: Part) -> str:
        name = f" ({escape(one_line(str(part['name']), 80))})" if part.get("name") else ""
        text = escape(part.get("text") or "")
        label = escape(part_label(part, self.t))
        return f'<p class="error"><strong>{label}</strong>{name}: {text}</p>'

    def _transcript(self, part: Part) -> str:
        text = str(part.get("text") or "")
        label = escape(part_label(part, self.t))
        return f"<p><em>({label})</em> {escape(text)}</p>" if text else ""

    def _unknown(self, part: Part) -> str:
        dumped = orjson.dumps(part, option=orjson.OPT_INDENT_2, default=str).decode()
        label = part_label(not_understood(part), self.t)
        return _details(label, self.highlight(dumped, "json"))

    def _sources(self, sources: dict[str, str]) -> str:
        """A message's citations (``Message.sources``) as a short list of links."""
        if not sources:
            return ""
        items = "".join(
            f"<li>{link(url, one_line(title, 200))}</li>" for url, title in sources.items()
        )
        label = escape(self.t("Sources"))
        return f'<p><strong>{label}:</strong></p>\n<ul class="sources">{items}</ul>'


_PARTS: dict[str, Callable[[Body, Part], str]] = {
    "text": Body._text,
    "code": Body._code,
    "execution_output": Body._output,
    "web": Body._web,
    "thought": Body._thought,
    "context": Body._context,
    "error": Body._error,
    "transcript": Body._transcript,
}
