"""HTML export: a static site that works offline, straight from its folder.

Layout of the output folder::

    index.html                               every conversation linked, with date, source, model
    2024-05-01-assist-user-c1a2b3c4.html     one page per conversation
    attachments/<sha256>.png                 each attachment once, linked relatively
    style.css                                light and dark (prefers-color-scheme), phone-friendly,
                                             followed by pygments' CSS for code highlighting

A page shows what the person saw, like the Markdown export (whose file naming it reuses): the
visible path, each message with its role, time and model; what the interface hid (system
prompts, tool calls and results, reasoning, custom instructions) sits in ``<details>``. Other
branches follow under "Other branches", each saying which message it forks from: in full by
default (``all_branches=True``), else summarised (message count and first message).

Everything in the archive is hostile (DESIGN §7):

- the pages hold no JavaScript at all, and every page carries the Content-Security-Policy
  ``default-src 'none'; img-src 'self'; style-src 'self'`` and ``referrer: no-referrer``;
- message text is Markdown rendered by markdown-it-py (CommonMark, raw HTML off, linkify off)
  and then cleaned by nh3 with the small allow-list ``_TAGS`` / ``_ATTRIBUTES``: no ``img``,
  no ``style``, classes only on ``pre``/``code``/``span``; ``href`` only for http, https and
  mailto, and every link gets ``rel="noopener noreferrer"``;
- Markdown images are never loaded: they become plain links (``[image: alt]``) that nh3 then
  checks like any other link, so ``data:`` and remote images are neither fetched nor shown;
- code is highlighted by pygments with CSS classes (no inline styles) and escaped by it;
- every other title, text, file name and URL goes through ``html.escape``;
- an attachment is shown inline (``<img>``) only when its *sniffed* type is a raster image
  (png, jpeg, gif, webp); anything else is a download link whose extension can never make a
  browser run it (``.html``, ``.svg``, ``.js`` … are stored as ``.bin``).

Folder rules are those of the Markdown export: a non-empty folder is refused unless it holds a
freehold HTML export, which is then replaced (a hidden file lists what it wrote, so stale pages
go and anything else stays); conversations are rendered and written one at a time.
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import nh3
import orjson
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight  # type: ignore[import-untyped,unused-ignore]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped,unused-ignore]
from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped,unused-ignore]
from pygments.lexers.special import TextLexer  # type: ignore[import-untyped,unused-ignore]
from pygments.util import ClassNotFound  # type: ignore[import-untyped,unused-ignore]

from freehold.archive import Archive
from freehold.exporters import _folder
from freehold.exporters.markdown import file_name
from freehold.models import AttachmentRef, Conversation, Message, Part
from freehold.tree import branch_paths

__all__ = [
    "CSP",
    "FORMAT",
    "INDEX",
    "STYLE",
    "highlight_code",
    "page_name",
    "render_markdown",
    "stylesheet",
    "write",
]

FORMAT = "html"
INDEX = "index.html"
STYLE = "style.css"
CSP = "default-src 'none'; img-src 'self'; style-src 'self'"
_MARKER = '<meta name="generator" content="freehold html export">'
_LISTED = re.compile(r"^(?:[a-z0-9-]+\.html|attachments/[0-9a-f]{64}(?:\.[a-z0-9]+)?)$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_CITE_MARK = re.compile("\ue200[^\ue201]{0,2000}\ue201")
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
_RASTER = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
_RUNNABLE = {".htm", ".html", ".xhtml", ".xht", ".shtml", ".svg", ".svgz", ".xml", ".xsl"}
_RUNNABLE |= {".js", ".mjs", ".hta", ".mht", ".mhtml", ".swf", ".pdf"}
_ROLES = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}
_CONTEXT_LABELS = (
    ("about_user", "About the user"),
    ("about_model", "How to respond"),
    ("memory", "Memory"),
    ("instructions", "Instructions"),
)

# The sanitiser's allow-list: what CommonMark (plus tables and strikethrough) can produce,
# minus images (made links) and raw HTML (off). Classes only carry pygments' token names.
_TAGS = {"a", "p", "br", "hr", "strong", "em", "s", "del", "code", "pre", "span", "blockquote"}
_TAGS |= {"ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
_TAGS |= {"table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "pre": {"class"}, "code": {"class"}}
_ATTRIBUTES["span"] = {"class"}
_SCHEMES = {"http", "https", "mailto"}


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one page per conversation, ``index.html`` and ``style.css``; returns the count.

    ``progress`` is called after each conversation with the number written so far.
    """
    previous = _folder.prepare(
        out,
        label="HTML",
        ours=lambda folder: _folder.starts_with(folder / INDEX, _MARKER, 1024),
        listed=_LISTED,
    )
    writer = _Writer(archive, out, all_branches)
    _write_text(out / STYLE, stylesheet())
    with _open_new(out / INDEX) as index:
        index.write(_index_head())
        for conv in conversations:
            name = writer.conversation(conv)
            index.write(_index_row(conv, name))
            if progress is not None:
                progress(len(writer.pages))
        index.write(_index_foot(len(writer.pages)))
    writer.finish(previous)
    return len(writer.pages)


def page_name(conv: Conversation, taken: set[str]) -> str:
    """``<date>-<slug>-<id8>.html``: the Markdown export's safe ASCII name, not in ``taken``."""
    stems = {name.removesuffix(".html") + ".md" for name in taken}
    return file_name(conv, stems).removesuffix(".md") + ".html"


# --- the folder ---------------------------------------------------------------------------


def _open_new(path: Path) -> Any:
    path.unlink(missing_ok=True)  # never write through a link planted in the folder
    return path.open("w", encoding="utf-8", errors="replace")


def _write_text(path: Path, text: str) -> None:
    with _open_new(path) as handle:
        handle.write(text)


# --- small formatting helpers --------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _day(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d") if epoch is not None else ""


def _time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else ""


def _stamp(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return f'<time datetime="{_e(_iso(epoch))}">{_e(_time(epoch))}</time>'


def _link(url: Any, label: str) -> str:
    """An escaped link for http(s) URLs; anything else is shown as escaped text."""
    if not isinstance(url, str) or not re.match(r"^https?://", url, re.IGNORECASE):
        return _e(label)
    return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(label)}</a>'


def _details(summary: str, body: str, css: str = "hidden") -> str:
    return f'<details class="{css}">\n<summary>{_e(summary)}</summary>\n{body}\n</details>'


def _label(message: Message) -> str:
    label = _ROLES.get(message.role, message.role.title() or "Unknown")
    if message.author_name:
        label += f": {message.author_name}"
    return " ".join(label.split())


def _head_html(title: str) -> str:
    """Everything up to and including ``<body>``: charset, marker, CSP, viewport, stylesheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{_MARKER}\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{_e(title)}</title>\n<link rel="stylesheet" href="{STYLE}">\n'
        "</head>\n<body>\n"
    )


_FOOT = "</body>\n</html>\n"


# --- markdown and code ---------------------------------------------------------------------


def _lexer(language: str) -> Any:
    try:
        return get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        return TextLexer()


def highlight_code(code: str, language: str = "") -> str:
    """Code as ``<pre class="highlight"><code>`` with pygments' token classes, escaped."""
    spans = highlight(code, _lexer(language.strip()), HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code>{spans}</code></pre>\n'


def _fence_highlight(code: str, language: str, attrs: str) -> str:
    return highlight_code(code, language)


def _image_as_link(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """A Markdown image is never loaded: it becomes a link that nh3 then vets."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<a href="{_e(token.attrGet("src") or "")}">{_e(f"[image: {alt}]")}</a>'


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.options["highlight"] = _fence_highlight
    parser.add_render_rule("image", _image_as_link)
    return parser


_MD = _markdown()


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    if name == "href":
        return value if _SAFE_URL.match(value.strip()) else None
    return value


def render_markdown(text: str) -> str:
    """Untrusted Markdown to safe HTML: markdown-it-py (no raw HTML), then nh3."""
    return nh3.clean(
        _MD.render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
    )


def stylesheet() -> str:
    """The site's CSS: light and dark, phone-friendly, then pygments' classes for both."""
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="github-dark").get_style_defs(".highlight")
    return f"{_CSS}\n{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"


_CSS = """\
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #666; --line: #ddd;
  --panel: #f6f6f8; --link: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #16171a; --muted: #9a9a9a; --line: #333; --panel: #202226;
    --link: #8ab4f8; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 50rem; padding: 1rem; font: 1rem/1.55 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); overflow-wrap: anywhere; }
a { color: var(--link); }
h1 { font-size: 1.5rem; line-height: 1.3; }
.meta, .when, .model, .fork, .summary, nav { color: var(--muted); font-size: .9rem; }
.message { border-top: 1px solid var(--line); padding: .5rem 0; }
.message header { display: flex; flex-wrap: wrap; gap: .5rem; align-items: baseline; }
.role { font-weight: 600; }
details { background: var(--panel); border-radius: .4rem; padding: .4rem .7rem; margin: .5rem 0; }
summary { cursor: pointer; color: var(--muted); }
pre { overflow-x: auto; padding: .7rem; background: var(--panel); border-radius: .4rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
blockquote { margin: .5rem 0; padding-left: .8rem; border-left: 3px solid var(--line); }
table { border-collapse: collapse; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; }
img { max-width: 100%; height: auto; }
.branch { border-top: 2px solid var(--line); margin-top: 1.5rem; }
.index td:first-child { white-space: nowrap; }
"""


# --- the index -----------------------------------------------------------------------------


def _index_head() -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    body = (
        f'<main>\n<h1>freehold archive</h1>\n<p class="meta">Exported {_e(now)}</p>\n'
        '<table class="index">\n<thead><tr><th>Date</th><th>Conversation</th><th>Source</th>'
        "<th>Model</th><th>Messages</th></tr></thead>\n<tbody>\n"
    )
    return _head_html("freehold archive") + body


def _index_row(conv: Conversation, name: str) -> str:
    title = _one_line(conv.title or "Untitled", 200)
    count = sum(1 for m in conv.messages if m.on_visible_path and not m.hidden)
    return (
        f"<tr><td>{_e(_day(conv.created_at) or 'undated')}</td>"
        f'<td><a href="{_e(name)}">{_e(title)}</a></td><td>{_e(conv.source_kind)}</td>'
        f"<td>{_e(conv.model or '')}</td><td>{count}</td></tr>\n"
    )


def _index_foot(count: int) -> str:
    return (
        f'</tbody>\n</table>\n<p class="meta">{_count(count, "conversation")}</p>\n</main>\n'
        + _FOOT
    )


# --- attachments ---------------------------------------------------------------------------


def _is_raster(ref: AttachmentRef) -> bool:
    return ref.sniffed_mime in _RASTER


def _extension(ref: AttachmentRef) -> str:
    """A file extension no browser will run: raster types as sniffed, else a harmless one."""
    if ref.sniffed_mime in _RASTER:
        return _RASTER[ref.sniffed_mime]
    mime = ref.sniffed_mime or ref.mime
    suffix = (mimetypes.guess_extension(mime) if mime else None) or ""
    suffix = suffix or PurePosixPath(ref.name or "").suffix.lower()
    if not re.match(r"^\.[a-z0-9]{1,10}$", suffix) or suffix in _RUNNABLE:
        return ".bin"
    return suffix if suffix not in _RASTER.values() else ".bin"


class _Writer:
    """One export run: the pages and attachment files written so far."""

    def __init__(self, archive: Archive, out: Path, all_branches: bool) -> None:
        self.archive = archive
        self.out = out
        self.all_branches = all_branches
        self.pages: set[str] = set()
        self.files = _folder.Attachments(archive, out, _extension)

    def conversation(self, conv: Conversation) -> str:
        name = page_name(conv, self.pages)
        self.pages.add(name)
        _write_text(self.out / name, _Page(self, conv).render())
        return name

    def attachment(self, ref: AttachmentRef) -> str | None:
        """The relative link to the attachment's copy, made on first use; None if missing."""
        return self.files.link(ref)

    def finish(self, previous: set[str]) -> None:
        _folder.finish(self.out, previous, self.pages | self.files.written())


# --- one conversation page -----------------------------------------------------------------


class _Page:
    """The HTML of one conversation."""

    def __init__(self, writer: _Writer, conv: Conversation) -> None:
        self.writer = writer
        self.conv = conv
        self.by_id = {m.source_id: m for m in conv.messages}
        self.in_details = False

    def render(self) -> str:
        paths = branch_paths(self.conv.messages)
        main = paths[0] if paths and paths[0][0].on_visible_path else []
        others = paths[1:] if main else paths
        title = self.conv.title or "Untitled"
        blocks = [
            f'<nav><a href="{INDEX}">← All conversations</a></nav>\n<main>',
            f"<h1>{_e(title)}</h1>",
            self._meta(len(paths)),
        ]
        blocks += [self._message(m) for m in main]
        if others:
            blocks.append('<h2 id="other-branches">Other branches</h2>')
            blocks += [self._branch(n, seg) for n, seg in enumerate(others, start=2)]
        blocks.append("</main>\n")
        return _head_html(title) + "\n".join(b for b in blocks if b) + _FOOT

    def _meta(self, branches: int) -> str:
        conv = self.conv
        items = [_stamp(conv.created_at) or "undated", _e(conv.source_kind)]
        items += [_e(value) for value in (conv.model, conv.project) if value]
        if branches > 1:
            items.append(f"{branches} branches")
        return f'<p class="meta">{" · ".join(items)}</p>'

    def _branch(self, number: int, segment: list[Message]) -> str:
        parent = self.by_id.get(segment[0].parent_source_id or "")
        if parent is None:
            fork = "A separate root"
        else:
            excerpt = _one_line(parent.text, 80)
            fork = f"Forks after {_label(parent)} ({parent.source_id}): “{excerpt}”"
        head = f'<section class="branch">\n<h3>Branch {number}</h3>\n<p class="fork">{_e(fork)}</p>'
        if self.writer.all_branches:
            body = "\n".join(self._message(m) for m in segment)
        else:
            first = next((m for m in segment if not m.hidden), segment[0])
            summary = f"{_count(len(segment), 'message')}, starting with {_label(first)}: "
            body = f'<p class="summary">{_e(summary + "“" + _one_line(first.text, 200) + "”")}</p>'
        return f"{head}\n{body}\n</section>"

    def _message(self, message: Message) -> str:
        self.in_details = message.hidden
        blocks = self._content(message)
        self.in_details = False
        if not blocks:
            return ""
        body = "\n".join(blocks)
        status = f" · {message.status}" if message.status != "complete" else ""
        if message.hidden:
            when = _time(message.created_at)
            summary = f"{_label(message)} · {message.content_type}{' · ' + when if when else ''}"
            return _details(summary + status, f'<div class="body">\n{body}\n</div>')
        model = f'<span class="model">{_e(message.model)}</span>' if message.model else ""
        role = _e(message.role or "unknown")
        return (
            f'<article class="message role-{role}">\n<header><span class="role">'
            f'{_e(_label(message))}</span> <span class="when">{_stamp(message.created_at)}'
            f'{_e(status)}</span> {model}</header>\n<div class="body">\n{body}\n</div>\n</article>'
        )

    def _content(self, message: Message) -> list[str]:
        refs = {ref.pointer: ref for ref in message.attachments}
        used: set[str] = set()
        blocks = []
        for part in message.parts:
            if part.get("type") == "citation":
                continue
            block = self._part(part, refs, used)
            if block.strip():
                blocks.append(block)
        sources = _sources(message.parts)
        if sources:
            blocks.append(sources)
        blocks += [self._file(ref) for ref in message.attachments if ref.pointer not in used]
        return blocks

    def _part(self, part: Part, refs: dict[str, AttachmentRef], used: set[str]) -> str:
        kind = part.get("type")
        pointer = part.get("pointer")
        if kind in ("image", "audio", "file") and isinstance(pointer, str):
            used.add(pointer)
            ref = refs.get(pointer) or AttachmentRef(pointer=pointer, name=part.get("name"))
            return self._file(ref)
        render = _PARTS.get(str(kind), _unknown)
        return render(self, part)

    def _file(self, ref: AttachmentRef) -> str:
        name = _one_line(ref.name or ref.pointer.rsplit("/", 1)[-1] or "attachment", 120)
        link = self.writer.attachment(ref)
        if link is None:
            return f'<p class="missing"><em>(missing attachment: {_e(name)})</em></p>'
        if _is_raster(ref):
            return (
                f'<figure><a href="{_e(link)}"><img src="{_e(link)}" alt="{_e(name)}"></a>'
                f"<figcaption>{_e(name)}</figcaption></figure>"
            )
        return f'<p class="file"><a href="{_e(link)}" download>{_e(name)}</a></p>'


def _text_part(page: _Page, part: Part) -> str:
    return render_markdown(_CITE_MARK.sub("", str(part.get("text") or "")))


def _code_part(page: _Page, part: Part) -> str:
    language = part.get("language")
    name = language if isinstance(language, str) and language != "unknown" else ""
    return highlight_code(str(part.get("text") or ""), name)


def _output_part(page: _Page, part: Part) -> str:
    text = str(part.get("text") or "")
    return f"<p><em>Output:</em></p>\n{highlight_code(text)}" if text else ""


def _web_part(page: _Page, part: Part) -> str:
    title = _one_line(str(part.get("title") or part.get("url") or "Web result"), 200)
    head = f"<p><strong>{_link(part.get('url'), title)}</strong>"
    if part.get("domain"):
        head += f" · {_e(_one_line(str(part['domain']), 80))}"
    text = str(part.get("text") or "")
    return f"<blockquote>\n{head}</p>\n{render_markdown(text) if text else ''}\n</blockquote>"


def _thought_part(page: _Page, part: Part) -> str:
    text = str(part.get("text") or "")
    summary = part.get("summary")
    label = f"Thought: {_one_line(summary, 200)}" if isinstance(summary, str) else "Thought"
    if not text:
        return ""
    if page.in_details:
        return f"<p><em>{_e(label)}</em></p>\n{render_markdown(text)}"
    return _details(label, render_markdown(text))


def _context_part(page: _Page, part: Part) -> str:
    blocks = [
        f"<p><strong>{_e(label)}:</strong></p>\n{render_markdown(str(part[key]))}"
        for key, label in _CONTEXT_LABELS
        if part.get(key)
    ]
    return "\n".join(blocks)


def _error_part(page: _Page, part: Part) -> str:
    name = f" ({_e(_one_line(str(part['name']), 80))})" if part.get("name") else ""
    return f'<p class="error"><strong>Error</strong>{name}: {_e(part.get("text") or "")}</p>'


def _transcript_part(page: _Page, part: Part) -> str:
    text = str(part.get("text") or "")
    return f"<p><em>(voice)</em> {_e(text)}</p>" if text else ""


def _unknown(page: _Page, part: Part) -> str:
    kind = part.get("content_type") or part.get("type") or "unknown"
    dumped = orjson.dumps(part, option=orjson.OPT_INDENT_2, default=str).decode()
    return _details(f"Content not understood: {kind}", highlight_code(dumped, "json"))


def _sources(parts: list[Part]) -> str:
    """The citations of a message, once per URL, as a short list of links."""
    seen: dict[str, str] = {}
    for part in parts:
        url = part.get("url")
        if part.get("type") == "citation" and isinstance(url, str) and url not in seen:
            seen[url] = _link(url, _one_line(str(part.get("title") or url), 200))
    if not seen:
        return ""
    items = "".join(f"<li>{link}</li>" for link in seen.values())
    return f'<p><strong>Sources:</strong></p>\n<ul class="sources">{items}</ul>'


_PARTS: dict[str, Callable[[_Page, Part], str]] = {
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
    return _folder.starts_with(out / INDEX, _MARKER, 1024)
