"""Gemini chat history from Google Takeout, "My Activity → Gemini Apps", JSON and HTML (§C).

The export is one JSON array, **newest first**, one record per activity: ``{header:"Gemini
Apps", title:"Prompted <prompt>", titleUrl?, time:<ISO>, products:["Gemini Apps"],
safeHtmlItem?:[{html:<answer>}], attachedFiles?:[names], imageFile?:<name>, …}``. It is given
as the file itself, or a Takeout folder or zip holding it (folder and file names are localised,
so any ``*.json`` member whose first records look like My Activity records and name "Gemini
Apps" in ``header`` or ``products`` is taken). The HTML variant (``MyActivity.html``, any
localised ``*.html`` name) is read by ``_gemini_html`` into the same records, then grouped and
converted by the same code, so both variants give the same conversations (``raw`` excepted: for
HTML it is the blocks' own HTML as JSON strings). An HTML date that is not understood leaves the
record without a time and is reported (nothing lost).

Records of other Google products (``header:"Search"`` …) that a whole Takeout mixes in are
counted and reported as one problem that loses nothing (they are not Gemini chats).

Each record is one prompt and one answer. The prompt is the title without its localised prefix
(``Prompted ``, ``Live Prompt ``, ``Asked ``, French ``Prompt : ``; the whole title when none
matches). The answer is ``safeHtmlItem[].html``: its plain text (``html.parser``; ``<script>``
and ``<style>`` content dropped, block tags become line breaks) is the searchable text, and the
HTML is kept in the part as ``html`` — never rendered here. A record without an answer keeps its
prompt and flags the conversation ("no answer in the export"). ``attachedFiles``/``imageFile``
names become ``takeout://<name>`` attachments, read when the file sits beside the JSON in the
same folder or zip, otherwise reported missing.

Grouping (JSON records carry no conversation): records sharing a chat link
(``gemini.google.com/app/<id>`` in ``titleUrl`` or a subtitle URL) form one conversation whose
source id is that chat id. Otherwise, oldest first, consecutive records less than 30 minutes
apart form one conversation whose source id is ``gemini-`` + the ``time`` of its first record.
This is a heuristic: a later export with different neighbours (records deleted, or a new prompt
within 30 minutes of the last one) can regroup them, so re-import is keyed on the first
record's time only. Messages are linear; the title is the first prompt cut to 80 characters;
``raw`` is the group's original records (their exact bytes) joined as a JSON array.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers import _gemini_html
from freehold.importers._common import export_problems
from freehold.importers._safezip import ExportFiles, open_export
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import AttachmentRef, Conversation, ExportInfo, Message, Part, Problem, Record
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "html_text", "iter_conversations"]

KIND = "gemini"
PARSER_VERSION = "gemini/1"

PRODUCT = "Gemini Apps"
GAP_SECONDS = 30 * 60
_PEEK_RECORDS = 3
_TITLE_CHARS = 80
_PREFIX = re.compile(r"^(?:Prompted|Live Prompt|Asked|Prompt[ \u00a0\u202f]?:)[ \u00a0\u202f]+")
_CHAT = re.compile(r"gemini\.google\.com/app/([0-9A-Za-z_-]+)")
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"}
    | {"figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main"}
    | {"nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul"}
)
_HIDDEN = frozenset({"script", "style", "template", "noscript"})
_HTML = (".html", ".htm")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".heic", ".bmp")
_READ_ERRORS = (FreeholdError, OSError, EOFError, zlib.error, zipfile.BadZipFile)


# -- detection -------------------------------------------------------------------------------------


def detect(path: Path) -> bool:
    """True for a My Activity → Gemini Apps JSON file, or a Takeout folder or zip holding one."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        return any(_is_gemini(files, name) for name in _candidates(files))
    finally:
        files.close()


def _candidates(files: ExportFiles) -> list[str]:
    names = files.names()
    wanted = (".json", *_HTML)
    return names if len(names) == 1 else [n for n in names if n.lower().endswith(wanted)]


def _is_html(files: ExportFiles, name: str) -> bool:
    if name.lower().endswith(_HTML):
        return True
    try:
        with files.open(name) as handle:
            return handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"
    except _READ_ERRORS:
        return False


def _is_gemini(files: ExportFiles, name: str) -> bool:
    if _is_html(files, name):
        try:
            with files.open(name) as handle:
                return _gemini_html.looks_like(handle)
        except _READ_ERRORS:
            return False
    head = _head(files, name)
    return bool(head) and all(_looks_like_activity(r) for r in head) and any(map(_is_ours, head))


def _head(files: ExportFiles, name: str) -> list[Any]:
    """The first few records of an array file; [] when it is not one."""
    found: list[Any] = []
    try:
        with files.open(name) as handle:
            if handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"[":
                return []
        with files.open(name) as handle:
            for element in iter_elements(handle):
                found.append(element.value)
                if len(found) >= _PEEK_RECORDS:
                    break
    except (JsonStreamError, *_READ_ERRORS):
        pass
    return found


def _looks_like_activity(record: Any) -> bool:
    return isinstance(record, dict) and all(k in record for k in ("header", "title", "time"))


def _is_ours(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    products = record.get("products")
    return record.get("header") == PRODUCT or (isinstance(products, list) and PRODUCT in products)


# -- the export ------------------------------------------------------------------------------------


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then conversations and problems."""
    files = open_export(path)
    try:
        yield from _records(files)
    finally:
        files.close()


def _records(files: ExportFiles) -> Iterator[Record]:
    names = [name for name in _candidates(files) if _is_gemini(files, name)]
    if not names:
        raise BadExportError(
            f"{files.label}: no Gemini activity (a JSON array of My Activity records for "
            '"Gemini Apps", or its MyActivity.html) found — check the Takeout'
        )
    yield ExportInfo(kind=KIND, files=[(name, files.size(name)) for name in names])
    yield from export_problems(files)
    for name in names:
        yield from _read_html(files, name) if _is_html(files, name) else _read(files, name)


@dataclass(slots=True)
class _Item:
    """One Gemini record with its exact bytes, its time and its chat id."""

    value: dict[str, Any]
    raw: bytes
    when: float | None
    chat: str | None
    problems: list[str] = field(default_factory=list)


def _read(files: ExportFiles, name: str) -> Iterator[Record]:
    items: list[_Item] = []
    others = 0
    broken: list[Problem] = []
    try:
        with files.open(name) as handle:
            for element in iter_elements(handle):
                where = f"{name}[{element.index}]"
                if not isinstance(element.value, dict):
                    why = "; ".join(element.problems) or "not a JSON object"
                    broken.append(Problem(where, f"record skipped ({why}) — check the export"))
                elif not _is_ours(element.value):
                    others += 1
                else:
                    items.append(_item(element.value, element.raw, element.problems))
    except JsonStreamError as error:
        broken.append(Problem(name, f"{error} at character {error.offset}: {_lost(len(items))}"))
    except _READ_ERRORS as error:
        broken.append(Problem(name, f"cannot be read ({error}): {_lost(len(items))}"))
    yield from _finish(files, name, items, others, broken)


def _read_html(files: ExportFiles, name: str) -> Iterator[Record]:
    """Whole-file read (Takeout writes ~5 MB; over 256 MB is refused), then block by block."""
    items: list[_Item] = []
    others = 0
    broken: list[Problem] = []
    undated: list[str] = []
    try:
        with files.open(name) as handle:
            data = handle.read(_gemini_html.MAX_BYTES + 1)
    except _READ_ERRORS as error:
        yield Problem(name, f"cannot be read ({error}) — download the export again")
        return
    if len(data) > _gemini_html.MAX_BYTES:
        yield Problem(name, "over 256 MB: not read — split the Takeout export by date range")
        return
    for found in _gemini_html.iter_records(data.decode("utf-8", "replace")):
        if not found.ours:
            others += 1
            continue
        items.append(_item(found.value, found.raw, []))
        if found.bad_date is not None:
            undated.append(found.bad_date)
    if undated:
        shown = ", ".join(repr(text) for text in list(dict.fromkeys(undated))[:3])
        what = f"{len(undated)} record(s) kept without a time: date not understood ({shown})"
        broken.append(Problem(name, what, lost=False))
    yield from _finish(files, name, items, others, broken)


def _finish(
    files: ExportFiles, name: str, items: list[_Item], others: int, broken: list[Problem]
) -> Iterator[Record]:
    beside = _beside(files, name)
    for group in _groups(items):
        yield _conversation(group, beside)
    if others:
        yield Problem(name, f"{others} records of other Google products ignored", lost=False)
    yield from broken


def _lost(count: int) -> str:
    return (
        f"{count} Gemini record(s) read before it; the rest of this file was not imported "
        "— download the export again"
    )


def _item(value: dict[str, Any], raw: bytes, problems: list[str]) -> _Item:
    return _Item(value, raw, _iso(value.get("time")), _chat_id(value), list(problems))


def _chat_id(record: dict[str, Any]) -> str | None:
    urls = [record.get("titleUrl")]
    subtitles = record.get("subtitles")
    if isinstance(subtitles, list):
        urls += [s.get("url") for s in subtitles if isinstance(s, dict)]
    for url in urls:
        found = _CHAT.search(url) if isinstance(url, str) else None
        if found:
            return found.group(1)
    return None


# -- grouping --------------------------------------------------------------------------------------


def _groups(items: list[_Item]) -> list[list[_Item]]:
    """Chat-link groups, and runs of unlinked records under 30 minutes apart (oldest first)."""
    timed = sorted((i for i in reversed(items) if i.when is not None), key=_when)
    groups: list[list[_Item]] = []
    by_chat: dict[str, list[_Item]] = {}
    previous: _Item | None = None
    for item in timed:
        if item.chat is not None:
            if item.chat not in by_chat:
                by_chat[item.chat] = []
                groups.append(by_chat[item.chat])
            by_chat[item.chat].append(item)
        elif _continues(previous, item):
            groups[-1].append(item)
        else:
            groups.append([item])
        previous = item
    return groups + [[item] for item in reversed(items) if item.when is None]


def _when(item: _Item) -> float:
    return item.when if item.when is not None else 0.0


def _continues(previous: _Item | None, item: _Item) -> bool:
    return (
        previous is not None
        and previous.chat is None
        and _when(item) - _when(previous) < GAP_SECONDS
    )


def _source_id(group: list[_Item]) -> str:
    first = group[0]
    if first.chat is not None:
        return first.chat
    when = first.value.get("time")
    if first.when is not None and isinstance(when, str):
        return "gemini-" + when
    return "gemini-" + hashlib.sha256(first.raw).hexdigest()[:32]


# -- conversations ---------------------------------------------------------------------------------


Opener = Callable[[str], Callable[[], IO[bytes]] | None]


def _beside(files: ExportFiles, name: str) -> Opener:
    """Openers for files in the JSON's own folder, read through the same ``ExportFiles``."""
    folder = name.rpartition("/")[0]
    present = set(files.names()) - {name}

    def opener(file_name: str) -> Callable[[], IO[bytes]] | None:
        member = f"{folder}/{file_name}" if folder else file_name
        if "/" in file_name or member not in present:
            return None
        return partial(files.open, member)

    return opener


def _conversation(group: list[_Item], beside: Opener) -> Conversation:
    messages: list[Message] = []
    problems: list[str] = []
    seen: set[str] = set()
    for item in group:
        problems += item.problems
        messages += _exchange(item, _key(item, seen), beside, problems)
    for before, after in itertools.pairwise(messages):
        after.parent_source_id = before.source_id
    tree = build_tree(messages, messages[-1].source_id if messages else None)
    first_prompt = messages[0].text if messages else ""
    return Conversation(
        source_kind=KIND,
        source_id=_source_id(group),
        title=first_prompt[:_TITLE_CHARS] or None,
        messages=tree.messages,
        raw=b"[" + b",".join(item.raw for item in group) + b"]",
        created_at=group[0].when,
        updated_at=group[-1].when,
        current_leaf=tree.leaf,
        problems=problems + tree.problems,
    )


def _key(item: _Item, seen: set[str]) -> str:
    when = item.value.get("time")
    base = when if isinstance(when, str) and when else hashlib.sha256(item.raw).hexdigest()[:16]
    key, count = base, 1
    while key in seen:
        count += 1
        key = f"{base}#{count}"
    seen.add(key)
    return key


def _exchange(item: _Item, key: str, beside: Opener, problems: list[str]) -> list[Message]:
    text = item.value.get("prompt")
    text = text if isinstance(text, str) else _prompt(item.value.get("title"))
    prompt = _message(key + "/prompt", "user", text, item.when)
    prompt.attachments, files = _attachments(item.value, beside)
    prompt.parts += files
    html = _answer_html(item.value)
    if html is None:
        problems.append(f"record at {key}: no answer in the export; the prompt is kept")
        return [prompt]
    answer = _message(key + "/answer", "assistant", html_text(html), item.when)
    answer.parts[0]["html"] = html
    return [prompt, answer]


def _message(source_id: str, role: str, text: str, when: float | None) -> Message:
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=role,
        content_type="text",
        parts=[{"type": "text", "text": text}],
        text=text,
        created_at=when,
    )


def _prompt(title: Any) -> str:
    return _PREFIX.sub("", title, count=1) if isinstance(title, str) else ""


def _answer_html(record: dict[str, Any]) -> str | None:
    items = record.get("safeHtmlItem")
    if not isinstance(items, list):
        return None
    found = [i["html"] for i in items if isinstance(i, dict) and isinstance(i.get("html"), str)]
    return "\n".join(found) if found else None


def _attachments(record: dict[str, Any], beside: Opener) -> tuple[list[AttachmentRef], list[Part]]:
    listed = record.get("attachedFiles")
    names = [n for n in listed if isinstance(n, str) and n] if isinstance(listed, list) else []
    image = record.get("imageFile")
    names += [image] if isinstance(image, str) and image else []
    refs: list[AttachmentRef] = []
    parts: list[Part] = []
    for name in dict.fromkeys(names):
        pointer = f"takeout://{name}"
        refs.append(AttachmentRef(pointer=pointer, name=name, opener=beside(name)))
        parts.append(_file_part(pointer, name, is_image=name == image))
    return refs, parts


def _file_part(pointer: str, name: str, *, is_image: bool) -> Part:
    if is_image or name.lower().endswith(_IMAGE_SUFFIXES):
        return {"type": "image", "pointer": pointer, "name": name}
    return {"type": "file", "pointer": pointer, "name": name, "text": ""}


# -- answer HTML → text ----------------------------------------------------------------------------


class _Text(HTMLParser):
    """Plain text of an HTML fragment: hidden elements dropped, block tags as line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = io.StringIO()
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.out.write("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.out.write("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.out.write("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.write(data)


def html_text(html: str) -> str:
    """The answer's plain text; the HTML itself is never rendered."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in parser.out.getvalue().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- small helpers ---------------------------------------------------------------------------------


def _iso(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
