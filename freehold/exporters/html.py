"""HTML export: a static site that works offline, straight from its folder.

Layout of the output folder::

    index.html                               every conversation linked, with date, source, model
    2024-05-01-assist-user-c1a2b3c4.html     one page per conversation
    attachments/<sha256>.png                 each attachment once, linked relatively
    style.css                                light and dark (prefers-color-scheme), phone-friendly,
                                             followed by pygments' CSS for code highlighting

A page shows what the person saw, like the Markdown export (named the same way): the
visible path, each message with its role, time and model; what the interface hid (system
prompts, tool calls and results, reasoning, custom instructions) sits in ``<details>``, a
conversation's own system prompt (``Conversation.own_context``) in one under the title. Other
branches follow under "Other branches", each saying which message it forks from: in full by
default (``all_branches=True``), else summarised (message count and first message). A
message's earlier versions (``Message.revision_of``) are no branch: each follows its message in
a ``<details class="revision">`` under ``REVISION_LABEL`` (``tree.reading_paths``). A
message's own headings are moved three levels down (``<h1>`` → ``<h4>``), below the page's title
and branch headings.

Everything in the archive is hostile (DESIGN §7):

- the pages hold no JavaScript at all, and every page carries the Content-Security-Policy
  ``default-src 'none'; img-src 'self'; style-src 'self'`` and ``referrer: no-referrer``;
- message text is Markdown rendered by cmark-gfm (CommonMark in safe mode, raw HTML shown as
  text, no linkify) and then cleaned by nh3 with the small allow-list ``_TAGS`` /
  ``_ATTRIBUTES``: no ``img``, no ``style``, classes only on ``pre``/``code``/``span``;
  ``href`` only for http, https and mailto, and every link gets ``rel="noopener noreferrer"``;
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

import mimetypes
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from freehold import storage
from freehold.archive import Archive, conversation_id
from freehold.exporters import _folder
from freehold.models import REVISION_LABEL, AttachmentRef, Conversation, Message, context_label
from freehold.safehtml import RASTER as _RASTER
from freehold.safehtml import Body, escape, highlight_css, one_line
from freehold.tree import reading_paths

__all__ = [
    "CSP",
    "FORMAT",
    "INDEX",
    "STYLE",
    "page_name",
    "stylesheet",
    "write",
    "write_summary",
]

FORMAT = "html"
INDEX = "index.html"
STYLE = "style.css"
CSP = "default-src 'none'; img-src 'self'; style-src 'self'"
_MARKER = '<meta name="generator" content="freehold html export">'
_RUNNABLE = {".htm", ".html", ".xhtml", ".xht", ".shtml", ".svg", ".svgz", ".xml", ".xsl"}
_RUNNABLE |= {".js", ".mjs", ".hta", ".mht", ".mhtml", ".swf", ".pdf"}


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one page per conversation, ``index.html`` and ``style.css``; returns the count."""
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
    """Write one page per conversation, ``index.html`` and ``style.css``; returns what was
    written, removed and left alone (``_folder.Summary``, the rule Markdown follows).

    ``progress`` is called after each conversation with the number written so far.
    """
    run = _folder.Run(
        out,
        label="HTML",
        suffix=".html",
        ours=lambda folder: _folder.starts_with(folder / INDEX, _MARKER, 1024),
    )
    writer = _Writer(archive, run, all_branches)
    _write_text(out / STYLE, stylesheet())
    with _open_new(out / INDEX) as index:
        index.write(_index_head())
        for conv in conversations:
            name = writer.conversation(conv)
            index.write(_index_row(conv, name))
            if progress is not None:
                progress(len(writer.pages))
        index.write(_index_foot(len(writer.pages), run.others()))
    return run.finish(len(writer.pages))


def page_name(conv: Conversation, taken: set[str]) -> str:
    """``<date>-<slug>-<id8>.html``, not in ``taken`` (see ``_folder.conversation_name``)."""
    return _folder.conversation_name(conv, taken, ".html")


# --- the folder ---------------------------------------------------------------------------


def _open_new(path: Path) -> Any:
    """``path`` written whole, or not at all (``storage.written``)."""
    return storage.written(path, text=True)


def _write_text(path: Path, text: str) -> None:
    with _open_new(path) as handle:
        handle.write(text)


# --- small formatting helpers --------------------------------------------------------------


_e = escape
_one_line = one_line


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


# Text wraps at spaces; ``break-word`` splits only a token longer than its line (a URL, a hash).
# ``anywhere`` would also shrink every table column to one letter's width, so the index broke
# "chatgpt" as "chatgp-t": only the title cell may break that way, and never below 10rem.
def stylesheet() -> str:
    """The site's CSS: light and dark, phone-friendly, then pygments' classes for both."""
    return f"{_CSS}\n{highlight_css()}"


_CSS = """\
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #666; --line: #ddd;
  --panel: #f6f6f8; --link: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #16171a; --muted: #9a9a9a; --line: #333; --panel: #202226;
    --link: #8ab4f8; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 50rem; padding: 1rem; font: 1rem/1.55 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); overflow-wrap: break-word; }
a { color: var(--link); }
h1 { font-size: 1.5rem; line-height: 1.3; }
.meta, .when, .model, .fork, .summary, nav { color: var(--muted); font-size: .9rem; }
.message { border-top: 1px solid var(--line); padding: .5rem 0; }
.message header { display: flex; flex-wrap: wrap; gap: .5rem; align-items: baseline; }
.role { font-weight: 600; }
details { background: var(--panel); border-radius: .4rem; padding: .4rem .7rem; margin: .5rem 0; }
summary { cursor: pointer; color: var(--muted); }
pre { overflow-x: auto; padding: .7rem; background: var(--panel); border-radius: .4rem; }
.verbatim { white-space: pre-wrap; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
blockquote { margin: .5rem 0; padding-left: .8rem; border-left: 3px solid var(--line); }
table { border-collapse: collapse; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; }
img { max-width: 100%; height: auto; }
.branch { border-top: 2px solid var(--line); margin-top: 1.5rem; }
.index td:first-child { white-space: nowrap; }
.index td:nth-child(2) { min-width: 10rem; overflow-wrap: anywhere; }
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
    count = conv.message_count
    return (
        f"<tr><td>{_e(_day(conv.created_at) or 'undated')}</td>"
        f'<td><a href="{_e(name)}">{_e(title)}</a></td><td>{_e(conv.source_kind)}</td>'
        f"<td>{_e(conv.model or '')}</td><td>{count}</td></tr>\n"
    )


def _index_foot(count: int, others: list[str]) -> str:
    """The table's end; then the pages an earlier export left here, of conversations this
    one did not select."""
    links = "".join(f'<li><a href="{_e(n)}">{_e(n)}</a></li>\n' for n in others)
    also = f"<h2>Also in this folder</h2>\n<ul>\n{links}</ul>\n" if others else ""
    return (
        f'</tbody>\n</table>\n<p class="meta">{_count(count, "conversation")}</p>\n'
        + also
        + "</main>\n"
        + _FOOT
    )


# --- attachments ---------------------------------------------------------------------------


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


# A message's own headings start below the page's (h1 title, h2 "Other branches", h3 branch).
_MESSAGE_HEADING = re.compile(r"<(/?)h([1-6])>")
_BELOW_PAGE = 3


class _Body(Body):
    """``Body`` with each heading of a message moved below the page's own headings.

    The sanitised HTML escapes every ``<`` of text and attributes, so a ``<h1>`` in it is a tag.
    """

    def markdown(self, text: str) -> str:
        return _MESSAGE_HEADING.sub(_lower_heading, super().markdown(text))


def _lower_heading(match: re.Match[str]) -> str:
    return f"<{match[1]}h{min(6, int(match[2]) + _BELOW_PAGE)}>"


class _Writer:
    """One export run: the pages and attachment files written so far."""

    def __init__(self, archive: Archive, run: _folder.Run, all_branches: bool) -> None:
        self.archive = archive
        self.run = run
        self.all_branches = all_branches
        self.pages: set[str] = set()
        self.files = _folder.Attachments(archive, run, _extension)

    def conversation(self, conv: Conversation) -> str:
        name = page_name(conv, self.pages)
        self.pages.add(name)
        self.files.current = conv.id or conversation_id(conv.source_kind, conv.source_id)
        self.run.write_text(name, _Page(self, conv).render(), self.files.current)
        return name

    def attachment(self, ref: AttachmentRef) -> str | None:
        """The relative link to the attachment's copy, made on first use; None if missing."""
        return self.files.link(ref)


# --- one conversation page -----------------------------------------------------------------


class _Page:
    """The HTML of one conversation."""

    def __init__(self, writer: _Writer, conv: Conversation) -> None:
        self.writer = writer
        self.conv = conv
        self.by_id = {m.source_id: m for m in conv.messages}
        self.body = _Body(writer.attachment)
        self.revisions: dict[str, list[Message]] = {}

    def render(self) -> str:
        paths, self.revisions = reading_paths(self.conv.messages)
        main = paths[0] if paths and paths[0][0].on_visible_path else []
        others = paths[1:] if main else paths
        title = self.conv.title or "Untitled"
        blocks = [
            f'<nav><a href="{INDEX}">← All conversations</a></nav>\n<main>',
            f"<h1>{_e(title)}</h1>",
            self._meta(len(paths)),
        ]
        # the conversation's own system prompt (Open WebUI, LibreChat, a Claude project)
        blocks += [
            f'<details class="hidden context">\n<summary>{_e(context_label(r.kind))}</summary>\n'
            f'<div class="body">\n{self.body.markdown(r.text)}\n</div>\n</details>'
            for r in self.conv.own_context()
        ]
        blocks += [self._with_revisions(m) for m in main]
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
            fork = f"Forks after {parent.label()} ({parent.source_id}): “{excerpt}”"
        head = f'<section class="branch">\n<h3>Branch {number}</h3>\n<p class="fork">{_e(fork)}</p>'
        if self.writer.all_branches:
            body = "\n".join(self._with_revisions(m) for m in segment)
        else:
            first = next((m for m in segment if not m.hidden), segment[0])
            summary = f"{_count(len(segment), 'message')}, starting with {first.label()}: "
            body = f'<p class="summary">{_e(summary + "“" + _one_line(first.text, 200) + "”")}</p>'
        return f"{head}\n{body}\n</section>"

    def _with_revisions(self, message: Message) -> str:
        """The message, then its earlier versions (``reading_paths``), each folded under
        ``REVISION_LABEL``."""
        earlier = self.revisions.get(message.source_id, [])
        return "\n".join(block for m in (message, *earlier) if (block := self._message(m)))

    def _message(self, message: Message) -> str:
        blocks = self.body.blocks(message)
        if not blocks:
            return ""
        body = "\n".join(blocks)
        status = f" · {message.status}" if message.status != "complete" else ""
        if message.revision_of is not None:
            when = _time(message.created_at)
            summary = f"{REVISION_LABEL} · {message.label()}{' · ' + when if when else ''}"
            inner = f'<div class="body">\n{body}\n</div>'
            summary = _e(summary + status)
            return f'<details class="revision">\n<summary>{summary}</summary>\n{inner}\n</details>'
        if message.hidden:
            when = _time(message.created_at)
            summary = f"{message.label()} · {message.kind()} (hidden){' · ' + when if when else ''}"
            summary = _e(summary + status)
            inner = f'<div class="body">\n{body}\n</div>'
            return f'<details class="hidden">\n<summary>{summary}</summary>\n{inner}\n</details>'
        model = f'<span class="model">{_e(message.model)}</span>' if message.model else ""
        role = _e(message.role or "unknown")
        return (
            f'<article class="message role-{role}">\n<header><span class="role">'
            f'{_e(message.label())}</span> <span class="when">{_stamp(message.created_at)}'
            f'{_e(status)}</span> {model}</header>\n<div class="body">\n{body}\n</div>\n</article>'
        )
